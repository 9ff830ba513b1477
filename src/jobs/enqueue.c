/* enqueue.c — the task registry and jobs_enqueue(), the outbox.
 *
 * The registry is a small static table filled at start-up (before workers
 * run) and read without a lock afterwards; registration itself is
 * serialised by a mutex, and the count is published with release/acquire
 * so a reader never sees a slot before it is filled.
 *
 * jobs_enqueue() is one INSERT on the caller's connection, so it joins
 * whatever transaction the caller has open: inside an order's
 * db_write_tx unit the job commits or rolls back with the order. A unique
 * key is enforced by a partial unique index over the active states; the
 * insert says ON CONFLICT DO NOTHING and, when nothing was inserted, the
 * existing job's id is read back. On PostgreSQL the INSERT statement itself
 * runs pg_notify('sm_jobs', queue), which the server delivers at commit (and
 * drops at rollback) to every LISTENing worker. In this process, waiting
 * fetchers are woken at once: on SQLite the enqueuer's transaction holds the
 * write lock, so a woken fetcher's claim runs after it commits; on
 * PostgreSQL a fetcher woken early finds nothing and the NOTIFY wakes it
 * again at commit.
 *
 * Outside a transaction, a job that is due now, has no unique key and no
 * rate limit goes to an idle worker group of this process when there is one
 * (queue_taker): it is inserted already running under that worker's lease
 * and starts without a claim. Nothing is lost if the process dies right
 * after: the lease expires and the job is retried like any other. */
#include "jobs/queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/clock.h"
#include "core/log.h"

static const jobs_task *g_tasks[QUEUE_TASKS_MAX];
static atomic_int g_ntasks;
static pthread_mutex_t g_register_mu = PTHREAD_MUTEX_INITIALIZER;

bool queue_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > QUEUE_NAME_MAX)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

int jobs_task_count(void)
{
    return atomic_load_explicit(&g_ntasks, memory_order_acquire);
}

const jobs_task *jobs_task_at(int i)
{
    return i >= 0 && i < jobs_task_count() ? g_tasks[i] : NULL;
}

const jobs_task *jobs_task_find(const char *name)
{
    int n = jobs_task_count();
    for (int i = 0; name && i < n; i++)
        if (strcmp(g_tasks[i]->name, name) == 0)
            return g_tasks[i];
    return NULL;
}

int jobs_task_register(const jobs_task *t)
{
    int rc = 0;
    if (!t || !t->fn || !queue_name_valid(t->name) || !queue_name_valid(t->queue) ||
        t->max_attempts < 0 || t->max_attempts > QUEUE_MAX_ATTEMPTS_MAX || t->time_limit_ms < 0 ||
        t->rate_limit_per_s < 0)
        return SM_EINVAL;
    pthread_mutex_lock(&g_register_mu);
    int n = jobs_task_count();
    if (jobs_task_find(t->name))
        rc = SM_ECONFLICT;
    else if (n >= QUEUE_TASKS_MAX)
        rc = SM_ETOOLARGE;
    else {
        g_tasks[n] = t;
        atomic_store_explicit(&g_ntasks, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&g_register_mu);
    return rc;
}

/* Validates `args_json` (NULL = {}) as an object within bounds; returns its
 * compact text (owned) or NULL with err filled. */
static char *args_normalise(const char *args_json, sm_error *err)
{
    json_error_t jerr;
    json_t *v;
    char *out;
    if (!args_json)
        args_json = "{}";
    if (strlen(args_json) > QUEUE_ARGS_MAX) {
        sm_error_fill(err, SM_ETOOLARGE, "job arguments exceed %d bytes", QUEUE_ARGS_MAX);
        return NULL;
    }
    v = json_loads(args_json, JSON_REJECT_DUPLICATES, &jerr);
    if (!v || !json_is_object(v)) {
        sm_error_fill(err, SM_EINVAL, "job arguments must be a JSON object%s%s", v ? "" : ": ",
                      v ? "" : jerr.text);
        json_decref(v);
        return NULL;
    }
    out = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!out)
        sm_error_fill(err, SM_ENOMEM, "out of memory");
    return out;
}

/* The existing active job with `key`, or 0. */
static int find_unique(db *d, const char *key, int64_t *id, sm_error *err)
{
    db_result *r = NULL;
    db_value p[] = {DB_T(key)};
    int rc = db_query(d,
                      "SELECT id FROM jobs WHERE unique_key = $1 AND state IN "
                      "('scheduled', 'available', 'running', 'retryable')",
                      p, 1, &r, err);
    if (rc)
        return rc;
    *id = db_result_rows(r) ? db_result_int(r, 0, 0) : 0;
    db_result_free(r);
    return 0;
}

#define INSERT_JOB                                                                                 \
    "INSERT INTO jobs (queue, task, args, state, priority, max_attempts, run_at, unique_key, "     \
    "correlation_id, inserted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "               \
    "ON CONFLICT DO NOTHING RETURNING id"
#define INSERT_SQLITE INSERT_JOB
/* PostgreSQL: the NOTIFY in the same statement (one round trip, not two),
 * only when a row was inserted (a duplicate wakes nobody). */
#define INSERT_PG                                                                                  \
    "WITH ins AS (" INSERT_JOB ") SELECT id, pg_notify('" QUEUE_NOTIFY_CHANNEL "', $1) FROM ins"

/* The hand-off's insert: attempt 1, running, leased to the taker's worker. */
#define INSERT_RUNNING                                                                             \
    "INSERT INTO jobs (queue, task, args, state, priority, max_attempts, run_at, correlation_id, " \
    "inserted_at, attempted_at, attempt, lease_owner, lease_token, lease_expires_at) VALUES ($1, " \
    "$2, $3, 'running', $4, $5, $6, $7, $6, $6, 1, $8, $9, $10) RETURNING id"

/* Inserts the job running for a local worker and hands it over, when a
 * worker group of this process can take it now. *job_id stays 0 when none
 * could; *args moves to the worker once handed over. */
static int enqueue_handoff(db *d, const jobs_task *t, const char *queue, char **args, int priority,
                           int max_attempts, const char *corr, int64_t now, int64_t *job_id,
                           sm_error *err)
{
    queue_handoff h;
    queue_job j;
    db_result *r = NULL;
    unsigned char raw[QUEUE_TOKEN_LEN / 2];
    if (!queue_handoff_begin(queue, &h))
        return 0;
    memset(&j, 0, sizeof j);
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(j.token, sizeof j.token, raw, sizeof raw);
    db_value p[] = {DB_T(queue),
                    DB_T(t->name),
                    DB_T(*args),
                    DB_I(priority),
                    DB_I(max_attempts),
                    DB_I(now),
                    DB_T(*corr ? corr : NULL),
                    DB_T(h.owner),
                    DB_T(j.token),
                    DB_I(now + h.lease_ms)};
    int rc = db_query(d, INSERT_RUNNING, p, 10, &r, err);
    if (rc == 0 && db_result_rows(r) == 1) {
        j.id = db_result_int(r, 0, 0);
        snprintf(j.queue, sizeof j.queue, "%s", queue);
        snprintf(j.task, sizeof j.task, "%s", t->name);
        snprintf(j.correlation_id, sizeof j.correlation_id, "%s", corr);
        j.args = *args;
        *args = NULL;
        j.attempt = 1;
        j.max_attempts = max_attempts;
        j.inserted_at = now;
        j.attempted_at = now;
        *job_id = j.id;
        queue_handoff_end(&h, &j);
    } else {
        queue_handoff_end(&h, NULL);
        if (rc == 0)
            rc = sm_error_set(err, SM_EINTERNAL, "job insert returned no row");
    }
    db_result_free(r);
    return rc;
}

int jobs_enqueue(db *d, const jobs_new *spec, int64_t *id, bool *existed, sm_error *err)
{
    const jobs_task *t = spec ? jobs_task_find(spec->task) : NULL;
    char *args = NULL;
    db_result *r = NULL;
    int64_t now = clock_now_ms(), job_id = 0;
    bool dup = false;
    int rc;

    if (!d || !spec)
        return sm_error_set(err, SM_EINVAL, "jobs_enqueue: missing argument");
    if (!t)
        return sm_error_set(err, SM_EINVAL, "unknown task '%.64s'", spec->task ? spec->task : "");
    const char *queue = spec->queue ? spec->queue : t->queue;
    const char *corr = spec->correlation_id ? spec->correlation_id : log_correlation_id();
    int max_attempts = spec->max_attempts ? spec->max_attempts
                       : t->max_attempts  ? t->max_attempts
                                          : JOBS_DEFAULT_MAX_ATTEMPTS;
    int priority = spec->has_priority ? spec->priority : t->priority;
    int64_t run_at = spec->run_at_ms > 0 ? spec->run_at_ms : now;
    if (!queue_name_valid(queue))
        return sm_error_set(err, SM_EINVAL, "invalid queue name");
    /* The claim counts a rate-limited task's starts on its own queue. */
    if (t->rate_limit_per_s > 0 && strcmp(queue, t->queue) != 0)
        return sm_error_set(err, SM_EINVAL, "rate-limited task '%s' runs only on queue '%s'",
                            t->name, t->queue);
    if (max_attempts < 1 || max_attempts > QUEUE_MAX_ATTEMPTS_MAX)
        return sm_error_set(err, SM_EINVAL, "max_attempts must be between 1 and %d",
                            QUEUE_MAX_ATTEMPTS_MAX);
    if (priority < -1000 || priority > 1000)
        return sm_error_set(err, SM_EINVAL, "priority must be between -1000 and 1000");
    if (spec->unique_key && (!*spec->unique_key || strlen(spec->unique_key) > QUEUE_UNIQUE_MAX))
        return sm_error_set(err, SM_EINVAL, "unique key must have 1 to %d bytes", QUEUE_UNIQUE_MAX);
    if (strlen(corr) > QUEUE_CORRELATION_MAX)
        return sm_error_set(err, SM_EINVAL, "correlation id exceeds %d bytes",
                            QUEUE_CORRELATION_MAX);
    if (!(args = args_normalise(spec->args_json, err)))
        return err ? err->code : SM_EINVAL;

    if (!db_in_transaction(d) && run_at <= now && !spec->unique_key && t->rate_limit_per_s <= 0) {
        if ((rc = enqueue_handoff(d, t, queue, &args, priority, max_attempts, corr, now, &job_id,
                                  err)))
            goto fail;
        if (job_id)
            goto done;
    }

    db_value p[] = {DB_T(queue),
                    DB_T(t->name),
                    DB_T(args),
                    DB_T(run_at > now ? "scheduled" : "available"),
                    DB_I(priority),
                    DB_I(max_attempts),
                    DB_I(run_at),
                    DB_T(spec->unique_key),
                    DB_T(*corr ? corr : NULL),
                    DB_I(now)};
    /* Twice at most: the active job holding the key may finish between the
     * conflicting insert and the look-up, and then the insert succeeds. */
    for (int round = 0; round < 2 && !job_id; round++) {
        rc = db_query(d, db_get_kind(d) == DB_POSTGRES ? INSERT_PG : INSERT_SQLITE, p, 10, &r, err);
        if (rc)
            goto fail;
        if (db_result_rows(r) > 0) {
            job_id = db_result_int(r, 0, 0);
        } else if (spec->unique_key) {
            if ((rc = find_unique(d, spec->unique_key, &job_id, err)))
                goto fail;
            dup = job_id != 0;
        }
        db_result_free(r);
        r = NULL;
    }
    if (!job_id) {
        rc = sm_error_set(err, SM_ECONFLICT, "job insert conflicted twice");
        goto fail;
    }
    if (!dup)
        queue_wake_notify(queue);
done:
    if (id)
        *id = job_id;
    if (existed)
        *existed = dup;
    rc = 0;
fail:
    db_result_free(r);
    free(args);
    return rc;
}
