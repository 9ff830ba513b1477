/* health.h — readiness checks, shared by the /health/... endpoints and the
 * `healthcheck` command.
 *
 * A check has a name, an outcome, its latency and, on failure, a short
 * reason safe to show to anyone (engine details go to the log). The
 * readiness report runs the database ping and the migrations check, and
 * carries the event bus's check when the caller adds one (Redis); it is
 * "ok" only when every check is. No HTTP here. */
#ifndef SM_OPS_HEALTH_H
#define SM_OPS_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

typedef struct health_check {
    bool ok;
    bool ran; /* false when skipped because an earlier check failed */
    double latency_ms;
    char error[SM_ERROR_MESSAGE_MAX]; /* "" when ok */
} health_check;

typedef struct health_report {
    bool ok;
    health_check database;   /* db_ping */
    health_check migrations; /* db_migrations_check */
    health_check events;     /* the event bus; ran only when health_report_events() set it */
} health_report;

/* Runs the readiness checks on `d` (NULL: the database could not be
 * reached; `open_error` then explains why, may be NULL). Never fails; the
 * outcome is in *out. Blocking (database round trips). */
void health_run_ready(db *d, const char *open_error, health_report *out);

/* Adds the event bus's check to `r`: `rc` 0 or the bus's error code after
 * `latency_ms`; `reason` (may hold host names) goes to the log, the report
 * says only "event bus unavailable". A failure makes the report fail. */
void health_report_events(health_report *r, int rc, double latency_ms, const char *reason);

/* Renders `r` as {"status":"ok"|"fail","checks":{"database":{…},
 * "migrations":{…}[, "events":{…}]}} where each check is {"status",
 * "latency_ms"[, "error"]}. Returns a new reference, or NULL when out of
 * memory. */
json_t *health_report_json(const health_report *r);

/* Records the process start (call once at start-up, before threads);
 * health_started_at_ms() and health_uptime_s() report it. */
void health_mark_started(void);
int64_t health_started_at_ms(void);
int64_t health_uptime_s(void);

/* What this process uses, for /health/detailed/: resident memory, CPU
 * time, threads and open descriptors, from /proc/self and getrusage(). A
 * figure that cannot be read is -1. Never fails. Thread-safe. */
typedef struct health_process {
    int64_t rss_bytes;
    double cpu_user_s, cpu_system_s;
    int64_t threads;
    int64_t open_fds;
} health_process;
void health_process_read(health_process *out);

/* Free (for unprivileged users) and total bytes of the filesystem holding
 * `path` (statvfs). Returns 0 or SM_EIO with `err` filled. */
int health_disk(const char *path, int64_t *free_bytes, int64_t *total_bytes, sm_error *err);

/* The database's size in bytes (SQLite: pages × page size of the main
 * file; PostgreSQL: pg_database_size) and, on PostgreSQL, the connections
 * open to it (-1 on SQLite). Returns 0 or SM_EDB. */
int health_db_size(db *d, int64_t *bytes, int64_t *connections, sm_error *err);

/* Counts of users, products and orders (for /health/detailed/). Returns 0
 * or SM_EDB. */
int health_counts(db *d, int64_t *users, int64_t *products, int64_t *orders, sm_error *err);

#endif
