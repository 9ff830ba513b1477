/* beat.h — the scheduler: enqueues each task of a cron schedule once per
 * slot, with exactly one active beat among many (see docs/BEAT.md).
 *
 * Leadership is a lease row (beat_leases, name 'beat') that one beat holds
 * until an expiry it renews every third of the lease; standbys poll and take
 * it once it expires (or at once after a clean stop releases it). The lease
 * only avoids wasted work: correctness comes from beat_slots, which records
 * the latest slot handled per task. Claiming slot S of task T is one
 * transaction {the lease is still ours; beat_slots[T] moves forward to S;
 * jobs_enqueue(T, unique key "beat:T:S")}, so a slot is enqueued at most
 * once even with two beats, a restart mid-slot, or a paused leader. After
 * downtime, a task whose latest due slot is newer than its recorded one
 * runs once (not once per missed slot); a task never seen before starts
 * from now.
 *
 * A beat is driven by beat_tick() — one step at the beat's clock, which
 * tests inject — either from its own thread (beat_start/beat_stop) or by
 * hand. One beat is used by one thread at a time. */
#ifndef SM_JOBS_BEAT_H
#define SM_JOBS_BEAT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "jobs/cron.h"

#define BEAT_ENTRIES_MAX 32   /* tasks in one schedule */
#define BEAT_TASK_MAX 63      /* bytes of a task name */
#define BEAT_HOLDER_MAX 127   /* bytes of a holder identity */
#define BEAT_RETRY_MS 2000    /* after a database error, the next try */
#define BEAT_POLL_MAX_MS 1000 /* a standby looks at the lease at least this often */

typedef struct beat_entry {
    char task[BEAT_TASK_MAX + 1];
    char cron[CRON_EXPR_MAX + 1]; /* as written, for logs and --list */
    cron_expr expr;
} beat_entry;

typedef struct beat_schedule {
    int n;
    beat_entry entries[BEAT_ENTRIES_MAX];
} beat_schedule;

/* The schedule of the original specification: rebuild_ml_indexes hourly,
 * purge_cache every 30 minutes, generate_daily_report at midnight (with the
 * previous day as its "date"), cleanup_old_data daily at 03:30. */
void beat_schedule_defaults(beat_schedule *s);

/* Parses "task=cron;task=cron" (whitespace around names and expressions
 * ignored, a trailing ';' allowed) into *s. Task names are [a-z0-9_.-],
 * at most BEAT_TASK_MAX bytes, each at most once. Returns 0 or SM_EINVAL
 * with a message naming the entry; *s is unchanged on failure. */
int beat_schedule_parse(const char *text, beat_schedule *s, sm_error *err);

/* Fails with SM_EINVAL naming the first task of `s` that is not
 * registered (jobs_task_find), so a typo stops the beat at start. */
int beat_schedule_check(const beat_schedule *s, sm_error *err);

/* The beat's clock: ms since the epoch. */
typedef int64_t (*beat_clock_fn)(void *ctx);

typedef struct beat_options {
    const beat_schedule *schedule; /* copied */
    int64_t lease_ms;              /* ≥ 1000 (BEAT_LEASE_SECONDS: ≥ 3 s) */
    const char *holder;            /* NULL: "HOST:PID:RANDOM" */
    beat_clock_fn clock;           /* NULL: clock_now_ms() */
    void *clock_ctx;
} beat_options;

typedef struct beat beat;

/* Creates a beat with its own connection to the configured database
 * (config_get(); migrations must be current). Nothing is claimed until the
 * first tick. Returns 0 and *out (beat_free), SM_EINVAL, SM_ENOMEM, or the
 * connection's error. */
int beat_new(const beat_options *o, beat **out, sm_error *err);

/* Releases the lease if held (beat_resign) and frees the beat; NULL is a
 * no-op. The beat's thread, if started, must be stopped first. */
void beat_free(beat *b);

/* One step at the clock's "now": acquires, renews or polls the lease when
 * due, then, as leader, claims every due slot. *wake_ms (may be NULL) gets
 * the clock time at which the next step is due. Returns 0, or the error of
 * a failed database step (logged; the next tick retries, reconnecting). */
int beat_tick(beat *b, int64_t *wake_ms, sm_error *err);

/* True while this beat holds the lease (as of its last tick). */
bool beat_is_leader(const beat *b);

/* This beat's holder identity (borrowed). */
const char *beat_holder(const beat *b);

/* Gives the lease up now, when held, so a standby takes over at its next
 * poll. Returns 0 or SM_EDB. */
int beat_resign(beat *b, sm_error *err);

/* Runs beat_tick() on a thread of its own (signals blocked there) until
 * beat_stop(). Returns 0 or SM_EINTERNAL. */
int beat_start(beat *b, sm_error *err);

/* Stops the thread started by beat_start (returns after it exits; at most
 * one database round trip), then resigns. Safe if never started. */
void beat_stop(beat *b);

#endif
