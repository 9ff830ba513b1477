/* jobs.h — the background-job layer's public interface: tasks, enqueueing
 * (inside the caller's transaction: the outbox), and the context a task
 * runs with. The queue mechanics (claim, lease, retry) live in queue.c, the
 * runtime in worker.c, the schedule in beat.c; see docs/JOBS.md.
 *
 * Job states: scheduled (run_at in the future) → available → running →
 * succeeded | retryable (→ available at its backoff) | discarded (dead after
 * max_attempts; kept with its error history, retryable by hand) |
 * cancelled. */
#ifndef SM_JOBS_JOBS_H
#define SM_JOBS_JOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

/* The queues of the original specification. */
#define JOBS_QUEUE_ML "ml"
#define JOBS_QUEUE_EMAILS "emails"
#define JOBS_QUEUE_MAINTENANCE "maintenance"
#define JOBS_QUEUE_REPORTS "reports"

#define JOBS_DEFAULT_MAX_ATTEMPTS 3

typedef struct jobs_ctx jobs_ctx;

/* A task's body. Runs on a worker thread with its own db connection `d`
 * (not in a transaction: the task opens its own, or uses db_write_tx).
 * `args` is the job's JSON arguments (borrowed). On success returns 0 and
 * may set *result (an object, stolen) to be stored with the job. On failure
 * returns a negative SM_E* code with err filled: the attempt is recorded as
 * failed and retried with backoff until max_attempts. Tasks must be
 * idempotent (running twice changes nothing more) and should call
 * jobs_ctx_should_stop() between steps of long work. */
typedef int (*jobs_task_fn)(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err);

typedef struct jobs_task {
    const char *name;  /* "send_order_email" */
    const char *queue; /* JOBS_QUEUE_* */
    jobs_task_fn fn;
    int max_attempts;        /* 0: JOBS_DEFAULT_MAX_ATTEMPTS */
    int time_limit_ms;       /* 0: the worker's default; always < the lease */
    double rate_limit_per_s; /* 0: none; else at most this many starts per second,
                                across every worker process (global) */
    int priority;            /* default priority, lower runs first */
} jobs_task;

/* Registers a task (the table is static; call before workers start). The
 * struct must outlive the process. Returns SM_ECONFLICT for a duplicate. */
int jobs_task_register(const jobs_task *t);

/* Registers the five SmartMarket tasks (tasks/ folder). Idempotent. */
int jobs_register_builtin_tasks(void);

/* The registered task named `name`, or NULL. */
const jobs_task *jobs_task_find(const char *name);

/* What to enqueue. Unset fields take the task's defaults. */
typedef struct jobs_new {
    const char *task;      /* required, a registered task name */
    const char *args_json; /* a JSON object as text; NULL = "{}" */
    const char *queue;     /* NULL: the task's queue */
    int priority;          /* used when has_priority */
    bool has_priority;
    int max_attempts;           /* 0: the task's */
    int64_t run_at_ms;          /* 0: now */
    const char *unique_key;     /* NULL: none; else at most one job with this key
                                   in an active state (scheduled, available,
                                   running, retryable) */
    const char *correlation_id; /* NULL: the thread's log correlation id */
} jobs_new;

/* Inserts a job using the caller's connection `d`. When `d` is inside a
 * transaction (db_write_tx unit or db_begin), the job exists if and only if
 * that transaction commits: this is the outbox. With a unique key already
 * active, inserts nothing and returns the existing job's id with
 * *existed = true. After commit, waiting workers are woken (PostgreSQL:
 * NOTIFY, delivered at commit; SQLite: the in-process wake-up, or polling
 * for other processes). Returns 0, SM_EINVAL (unknown task, bad JSON),
 * SM_EDB. *id and existed may be NULL. */
int jobs_enqueue(db *d, const jobs_new *spec, int64_t *id, bool *existed, sm_error *err);

/* ---- the running job's context (for task bodies) ---- */

int64_t jobs_ctx_job_id(const jobs_ctx *ctx);
int jobs_ctx_attempt(const jobs_ctx *ctx); /* 1-based */

/* True once the job's time limit passed or the worker is shutting down: the
 * task should stop and return SM_ETIMEOUT. Thread-safe, cheap. */
bool jobs_ctx_should_stop(const jobs_ctx *ctx);

/* Reports progress (0–100 and a short note), logged and published to the
 * dashboard as a job event. Optional. */
void jobs_ctx_progress(jobs_ctx *ctx, int percent, const char *note);

#endif
