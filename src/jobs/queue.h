/* queue.h — the job table's mechanics, below the worker and the operator
 * surfaces (commands, admin API): claiming with leases, completing and
 * failing attempts (checked against the lease token), heartbeats, the
 * reaper, retries, cancel, purge, the admin views, the global per-task rate
 * limit, and the in-process wake-up. jobs.h is the interface tasks and the
 * domain use; this header is for src/jobs/, src/cmd/ and src/api/.
 *
 * Every write here is one statement or one db_write_tx unit, so on SQLite
 * it is group-committed with the rest of the process's writes, and on
 * PostgreSQL it is one short transaction. Times are ms since the epoch. */
#ifndef SM_JOBS_QUEUE_H
#define SM_JOBS_QUEUE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"
#include "jobs/jobs.h"

#define QUEUE_NAME_MAX 63    /* queue and task names: [a-z0-9_.-], 1..63 */
#define QUEUE_ARGS_MAX 65536 /* bytes of a job's JSON arguments */
#define QUEUE_UNIQUE_MAX 255 /* bytes of a unique key */
#define QUEUE_CORRELATION_MAX 64
#define QUEUE_TOKEN_LEN 32   /* hex characters of a lease token */
#define QUEUE_ERROR_MAX 1000 /* bytes of one error message kept */
#define QUEUE_CLAIM_MAX 1000 /* jobs claimed by one statement */
#define QUEUE_MAX_ATTEMPTS_MAX 100
#define QUEUE_TASKS_MAX 64 /* registered tasks per process */
#define QUEUE_NOTIFY_CHANNEL "sm_jobs"

/* A claimed attempt. `args` is owned (queue_jobs_free). */
typedef struct queue_job {
    int64_t id;
    char queue[QUEUE_NAME_MAX + 1];
    char task[QUEUE_NAME_MAX + 1];
    char *args;
    int attempt; /* 1-based, this attempt */
    int max_attempts;
    char correlation_id[QUEUE_CORRELATION_MAX + 1];
    char token[QUEUE_TOKEN_LEN + 1];
    int64_t inserted_at;
    int64_t attempted_at;
} queue_job;

/* True for a valid queue or task name. */
bool queue_name_valid(const char *s);

/* The i-th registered task (0 ≤ i < jobs_task_count()), for the claim's
 * rate-limit pass and the listings. Thread-safe after registration. */
int jobs_task_count(void);
const jobs_task *jobs_task_at(int i);

/* Claims up to `limit` (≤ QUEUE_CLAIM_MAX) due jobs of `queue` for `owner`:
 * state running, attempt + 1, a fresh lease token, lease until now +
 * lease_ms. Honours every registered task's global rate limit in the same
 * transaction. *out (queue_jobs_free) gets *n jobs; none is not an error.
 * Two concurrent claims never return the same job. */
int queue_claim(db *d, const char *queue, const char *owner, int limit, int64_t lease_ms,
                queue_job **out, int *n, sm_error *err);

void queue_jobs_free(queue_job *jobs, int n);

/* One attempt's outcome for the batch writes. Strings are borrowed. */
typedef struct queue_done {
    int64_t id;
    const char *token;
    const char *result_json; /* success: a JSON value as text, or NULL */
} queue_done;

/* Marks attempts succeeded, in one statement, where the lease token still
 * matches and the job is running (a stale attempt changes nothing).
 * *affected (may be NULL) gets how many were accepted. */
int queue_complete(db *d, const queue_done *done, int n, int64_t *affected, sm_error *err);

/* queue_complete() then queue_claim() in one transaction, one commit: the
 * worker's steady-state cycle. PostgreSQL: one statement (one round trip)
 * unless a rate-limited task runs on `queue`; SQLite: a write transaction
 * on `d` itself (not the group-commit writer thread). `d` must not be in a
 * transaction. *completed (may be NULL) gets how many were accepted. */
int queue_complete_and_claim(db *d, const queue_done *done, int ndone, int64_t *completed,
                             const char *queue, const char *owner, int limit, int64_t lease_ms,
                             queue_job **out, int *n, sm_error *err);

/* Puts attempts back to available without counting them (shutdown), where
 * the token still matches. */
int queue_release(db *d, const queue_done *jobs, int n, int64_t *affected, sm_error *err);

/* Records a failed attempt where the token matches: retryable at its
 * backoff, or discarded once attempt ≥ max_attempts (or when `discard`).
 * The error is appended to the job's history. *state_out (≥ 16 bytes, may
 * be NULL) gets the new state, "" when the token was stale (then returns 0
 * and changes nothing). */
int queue_fail(db *d, int64_t id, const char *token, int attempt, const char *message, bool discard,
               char *state_out, sm_error *err);

/* The delay before retrying after failed attempt `attempt` (1-based):
 * 2^attempt × JOBS_BACKOFF_BASE_MS (default 1 s) ± 25 % jitter, capped at
 * 3600 bases (one hour by default). Thread-safe. */
int64_t queue_backoff_ms(int attempt);

/* Extends the leases of every running job of `owner` to now + lease_ms.
 * *n (may be NULL) gets how many. */
int queue_extend(db *d, const char *owner, int64_t lease_ms, int64_t *n, sm_error *err);

/* Makes running jobs whose lease expired retryable at once (the attempt
 * counts: discarded when it was the last), with "lease expired" in their
 * history; drops rate-limit windows older than a minute. *n may be NULL. */
int queue_reap(db *d, int64_t *n, sm_error *err);

/* Runs one statement as its own db_write_tx unit (SQLite: through the
 * process's group-committing writer). Errors as db_exec. */
int queue_exec_tx(db *d, const char *sql, const db_value *p, int n, int64_t *affected,
                  sm_error *err);

/* ---- operator surface (admin.c) ---- */

/* Per queue (the four of the specification always present): counts by
 * state and succeeded in the last hour. *out is an owned array. */
int queue_stats(db *d, json_t **out, sm_error *err);

/* Jobs filtered by `states` (comma-separated state names, or the aliases
 * "active" = running, "pending" = scheduled+available, "failed" =
 * retryable+discarded; NULL/"" = all) and `queue` (NULL/"" = all), newest
 * first. SM_EINVAL for an unknown state. *out: owned {items, page, ...}. */
int queue_list(db *d, const char *states, const char *queue, int page, int page_size, json_t **out,
               sm_error *err);

/* One job with its arguments, error history and result. SM_ENOTFOUND. */
int queue_get(db *d, int64_t id, json_t **out, sm_error *err);

/* Retries a discarded, cancelled, retryable or scheduled job now: state
 * available, attempt counter kept, max_attempts raised to attempt + 1 when
 * exhausted (one more try). SM_ENOTFOUND, SM_ECONFLICT (running, available,
 * succeeded, or the unique key is taken by another active job). */
int queue_retry(db *d, int64_t id, sm_error *err);

/* Cancels a job that has not finished (a running one's lease token is
 * cleared so its completion is rejected). SM_ENOTFOUND, SM_ECONFLICT. */
int queue_cancel(db *d, int64_t id, sm_error *err);

/* Deletes the available, scheduled and retryable jobs of `queue`. */
int queue_purge(db *d, const char *queue, int64_t *deleted, sm_error *err);

/* Records a worker's heartbeat (upsert). `running_json` a JSON array. */
int queue_worker_beat(db *d, const char *id, const char *host, int64_t pid, const char *queues,
                      int64_t started_at, const char *running_json, sm_error *err);
int queue_worker_remove(db *d, const char *id, sm_error *err);

/* A worker is alive when its heartbeat (every JOBS_LEASE_MS / 3, 10 s by
 * default) is this recent. */
#define QUEUE_WORKER_ALIVE_MS 30000

/* Workers seen within `alive_ms`, plus older ones flagged alive=false
 * (those older than a day are not listed). *out is an owned array. */
int queue_workers(db *d, int64_t alive_ms, json_t **out, sm_error *err);

/* ---- in-process wake-up and hand-off (wake.c) ----
 *
 * Each worker group in this process registers as a queue_taker. It is
 * woken when a job may have become claimable on its queue. And while it
 * has a free slot and found its queue empty at its last claim,
 * jobs_enqueue() outside a transaction reserves that slot, inserts the job
 * already running under the taker's lease (attempt 1, a fresh token) and
 * hands it over: the job starts without a claim round trip or a fetcher
 * wake-up. */
typedef struct queue_taker {
    /* A job may be claimable on `queue` (NULL: any). Must not block. */
    void (*wake)(void *ctx, const char *queue);
    /* Reserves a free slot for a job of `queue`, or returns NULL. On
     * success *owner (the worker id, valid while the taker is registered)
     * and *lease_ms are set. Must not block on I/O. */
    void *(*reserve)(void *ctx, const char *queue, const char **owner, int64_t *lease_ms);
    /* The reserved slot gets its job; job->args moves to the taker. */
    void (*deliver)(void *ctx, void *slot, queue_job *job);
    /* The reservation is given back (the insert failed). */
    void (*cancel)(void *ctx, void *slot);
    void *ctx;
} queue_taker;

/* Registers / removes a taker (at most 16). queue_taker_remove() returns
 * once no wake-up or hand-off to it is in flight. Thread-safe. */
int queue_taker_add(const queue_taker *t);
void queue_taker_remove(const queue_taker *t);

/* Wakes every taker for `queue`. Thread-safe, never blocks on I/O. */
void queue_wake_notify(const char *queue);

/* One hand-off, from reserve to deliver or cancel. */
typedef struct queue_handoff {
    const queue_taker *taker;
    void *slot;
    const char *owner;
    int64_t lease_ms;
} queue_handoff;

/* Reserves a slot on `queue` from some taker. On true the caller must end
 * the hand-off with queue_handoff_end() (takers cannot be removed until
 * then); on false there is nothing to end. */
bool queue_handoff_begin(const char *queue, queue_handoff *h);

/* Delivers `job` (non-NULL: args moves) or, with NULL, cancels. */
void queue_handoff_end(queue_handoff *h, queue_job *job);

/* PostgreSQL: a thread LISTENing on QUEUE_NOTIFY_CHANNEL with its own
 * connection to `url`, turning notifications into queue_wake_notify().
 * Reconnects every second while the server is down. */
typedef struct queue_listener queue_listener;
int queue_listener_start(const char *url, queue_listener **out, sm_error *err);
void queue_listener_stop(queue_listener *l);

#endif
