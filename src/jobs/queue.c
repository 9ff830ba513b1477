/* queue.c — claiming, completing and failing attempts; leases and the
 * reaper; the global per-task rate limit.
 *
 * The claim is one UPDATE … WHERE id IN (SELECT … ORDER BY priority, run_at,
 * id LIMIT n) RETURNING inside a write transaction. On PostgreSQL the inner
 * SELECT says FOR UPDATE SKIP LOCKED, so concurrent claimers take disjoint
 * rows without waiting on each other; on SQLite the write transaction
 * (BEGIN IMMEDIATE on the claimer's connection, behind the file's
 * in-process writer gate) holds the database's write lock, so claims are
 * serialised. Due scheduled and
 * retryable jobs are claimed directly (run_at ≤ now is in the WHERE), so no
 * separate promotion pass is needed.
 *
 * Every claim gets a fresh random lease token. Completion, failure and
 * release all say `AND lease_token = $t AND state = 'running'`: an attempt
 * that lost its lease (expired and re-claimed, timed out, cancelled, or
 * released) can no longer write its outcome. Completions and releases are
 * batched: on PostgreSQL one statement for many jobs, their ids, tokens and
 * results passed as three array parameters; a worker's completions and its
 * next claim are even one statement (pg_round), one round trip per round.
 *
 * Rate limits: a task with rate_limit_per_s > 0 may start at most
 * ceil(rate × window) times per fixed window (window = 1 s, or 1/rate s
 * when the rate is below one per second), counted in job_rate_limits in the
 * claim's transaction, so the limit holds across every worker process. The
 * claim first takes jobs of unlimited tasks, then, per limited task, at
 * most what its window has left. */
#include "jobs/queue.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/clock.h"
#include "core/config.h"

#define RETURNING_COLS                                                                             \
    " RETURNING id, queue, task, args, attempt, max_attempts, correlation_id, inserted_at, "       \
    "attempted_at"

/* The claim statement; `filter` is 0 (any task), 1 (task = $6) or 2 (task
 * not among the JSON array $6). */
static const char *claim_sql(db_kind kind, int filter)
{
    static const char *const sql[2][3] = {
        {
#define SQLITE_CLAIM(F)                                                                            \
    "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $1, "                 \
    "lease_token = $2, lease_expires_at = $3, attempted_at = $4 WHERE id IN (SELECT id FROM jobs " \
    "WHERE state IN ('available', 'scheduled', 'retryable') AND queue = $5 AND run_at <= $4 " F    \
    " ORDER BY priority, run_at, id LIMIT $7)" RETURNING_COLS
            SQLITE_CLAIM("AND $6 IS NULL"),
            SQLITE_CLAIM("AND task = $6"),
            SQLITE_CLAIM("AND task NOT IN (SELECT value FROM json_each($6))"),
        },
        {
#define PG_CLAIM(F)                                                                                \
    "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $1, "                 \
    "lease_token = $2, lease_expires_at = $3, attempted_at = $4 WHERE id IN (SELECT id FROM jobs " \
    "WHERE state IN ('available', 'scheduled', 'retryable') AND queue = $5 AND run_at <= $4 " F    \
    " ORDER BY priority, run_at, id LIMIT $7 FOR UPDATE SKIP LOCKED)" RETURNING_COLS
            PG_CLAIM("AND $6::text IS NULL"),
            PG_CLAIM("AND task = $6"),
            PG_CLAIM("AND task <> ALL (SELECT jsonb_array_elements_text($6::jsonb))"),
        },
    };
    return sql[kind == DB_POSTGRES][filter];
}

struct batch_unit_arg;
static int batch_unit_fn(db *d, void *arg, sm_error *err);

typedef struct claim_ctx {
    struct batch_unit_arg *complete; /* successes written first, same transaction */
    const char *queue, *owner;
    int limit;
    int64_t lease_ms;
    char token[QUEUE_TOKEN_LEN + 1];
    queue_job *jobs;
    int n;
} claim_ctx;

static int job_from_row(claim_ctx *c, const db_result *r, int i, sm_error *err);
static int pg_round(db *d, struct batch_unit_arg *b, claim_ctx *c, sm_error *err);

static void job_clear(queue_job *j)
{
    free(j->args);
    j->args = NULL;
}

void queue_jobs_free(queue_job *jobs, int n)
{
    for (int i = 0; jobs && i < n; i++)
        job_clear(&jobs[i]);
    free(jobs);
}

/* Appends the rows of one claim statement to c->jobs. */
static int claim_rows(claim_ctx *c, db *d, int filter, const char *task_param, int limit,
                      int64_t now, int *got, sm_error *err)
{
    db_result *r = NULL;
    db_value p[] = {DB_T(c->owner), DB_T(c->token), DB_I(now + c->lease_ms),
                    DB_I(now),      DB_T(c->queue), DB_T(task_param),
                    DB_I(limit)};
    int rc = db_query(d, claim_sql(db_get_kind(d), filter), p, 7, &r, err);
    *got = 0;
    if (rc)
        return rc;
    for (int i = 0; i < db_result_rows(r) && c->n < c->limit; i++) {
        if ((rc = job_from_row(c, r, i, err))) {
            db_result_free(r);
            return rc;
        }
        (*got)++;
    }
    db_result_free(r);
    return 0;
}

/* Appends the claimed job in row `i` of `r` (the claim's RETURNING columns). */
static int job_from_row(claim_ctx *c, const db_result *r, int i, sm_error *err)
{
    queue_job *j = &c->jobs[c->n];
    memset(j, 0, sizeof *j);
    j->id = db_result_int(r, i, 0);
    snprintf(j->queue, sizeof j->queue, "%s", db_result_text(r, i, 1));
    snprintf(j->task, sizeof j->task, "%s", db_result_text(r, i, 2));
    if (!(j->args = strdup(db_result_text(r, i, 3) ? db_result_text(r, i, 3) : "{}")))
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    j->attempt = (int)db_result_int(r, i, 4);
    j->max_attempts = (int)db_result_int(r, i, 5);
    snprintf(j->correlation_id, sizeof j->correlation_id, "%s",
             db_result_isnull(r, i, 6) ? "" : db_result_text(r, i, 6));
    memcpy(j->token, c->token, sizeof j->token);
    j->inserted_at = db_result_int(r, i, 7);
    j->attempted_at = db_result_int(r, i, 8);
    c->n++;
    return 0;
}

/* How many starts `t` has left in its current window, after locking the
 * window's counter row (PostgreSQL: FOR UPDATE; SQLite: the write lock). */
static int rate_window(db *d, const jobs_task *t, int64_t now, int64_t *window_start, int64_t *left,
                       sm_error *err)
{
    int64_t window_ms =
        t->rate_limit_per_s >= 1.0 ? 1000 : (int64_t)ceil(1000.0 / t->rate_limit_per_s);
    int64_t allowed = (int64_t)ceil(t->rate_limit_per_s * (double)window_ms / 1000.0 - 1e-9);
    db_result *r = NULL;
    int rc;
    *window_start = now - now % window_ms;
    db_value p[] = {DB_T(t->name), DB_I(*window_start)};
    if ((rc = db_exec(d,
                      "INSERT INTO job_rate_limits (task, window_start, count) VALUES ($1, $2, 0) "
                      "ON CONFLICT DO NOTHING",
                      p, 2, NULL, err)))
        return rc;
    rc = db_query(d,
                  db_get_kind(d) == DB_POSTGRES
                      ? "SELECT count FROM job_rate_limits WHERE task = $1 AND window_start = $2 "
                        "FOR UPDATE"
                      : "SELECT count FROM job_rate_limits WHERE task = $1 AND window_start = $2",
                  p, 2, &r, err);
    if (rc)
        return rc;
    *left = (allowed < 1 ? 1 : allowed) - db_result_int(r, 0, 0);
    db_result_free(r);
    return 0;
}

/* The names of every rate-limited task as a JSON array (owned) into *out,
 * or NULL there when no task is rate limited. */
static int limited_tasks_json(char **out, sm_error *err)
{
    json_t *names = json_array();
    int rc = 0;
    *out = NULL;
    if (!names)
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    for (int i = 0; i < jobs_task_count() && rc == 0; i++) {
        const jobs_task *t = jobs_task_at(i);
        if (t->rate_limit_per_s > 0 && json_array_append_new(names, json_string(t->name)))
            rc = sm_error_set(err, SM_ENOMEM, "out of memory");
    }
    if (rc == 0 && json_array_size(names) > 0 && !(*out = json_dumps(names, JSON_COMPACT)))
        rc = sm_error_set(err, SM_ENOMEM, "out of memory");
    json_decref(names);
    return rc;
}

/* Whether a rate-limited task runs on `queue`. */
static bool queue_rate_limited(const char *queue)
{
    for (int i = 0; i < jobs_task_count(); i++) {
        const jobs_task *t = jobs_task_at(i);
        if (t->rate_limit_per_s > 0 && strcmp(t->queue, queue) == 0)
            return true;
    }
    return false;
}

static int claim_unit(db *d, void *arg, sm_error *err)
{
    claim_ctx *c = arg;
    int64_t now = clock_now_ms();
    int ntasks = jobs_task_count(), got, rc = 0;
    char *limited_text = NULL;

    /* The unit may run again after a retry: drop what a failed run claimed. */
    for (int i = 0; i < c->n; i++)
        job_clear(&c->jobs[i]);
    c->n = 0;
    if (c->complete && (rc = batch_unit_fn(d, c->complete, err)))
        return rc;
    /* A limited task only runs on its own queue (jobs_enqueue): other
     * queues need no filter. */
    if (!queue_rate_limited(c->queue))
        return claim_rows(c, d, 0, NULL, c->limit, now, &got, err);
    if ((rc = limited_tasks_json(&limited_text, err)))
        return rc;
    if ((rc = claim_rows(c, d, 2, limited_text, c->limit, now, &got, err)))
        goto done;
    for (int i = 0; i < ntasks && c->n < c->limit; i++) {
        const jobs_task *t = jobs_task_at(i);
        int64_t wstart, left;
        if (t->rate_limit_per_s <= 0 || strcmp(t->queue, c->queue) != 0)
            continue; /* a limited task only runs on its own queue (jobs_enqueue) */
        if ((rc = rate_window(d, t, now, &wstart, &left, err)))
            goto done;
        if (left <= 0)
            continue;
        int want = c->limit - c->n < left ? c->limit - c->n : (int)left;
        if ((rc = claim_rows(c, d, 1, t->name, want, now, &got, err)))
            goto done;
        if (got > 0) {
            db_value p[] = {DB_I(got), DB_T(t->name), DB_I(wstart)};
            if ((rc = db_exec(d,
                              "UPDATE job_rate_limits SET count = count + $1 "
                              "WHERE task = $2 AND window_start = $3",
                              p, 3, NULL, err)))
                goto done;
        }
    }
done:
    free(limited_text);
    return rc;
}

/* SQLite: the claim's transaction on the caller's own connection (BEGIN
 * IMMEDIATE behind the file's in-process writer gate, so it queues behind
 * the group-commit writer's batch instead of polling the busy handler)
 * rather than as a unit of that writer: the fetcher then wakes no other
 * thread and waits for none, two thread switches less per round, which is
 * most of an idle worker's enqueue-to-start latency. The commit is as
 * durable as the writer's (same connection settings). */
static int sqlite_claim(db *d, claim_ctx *c, sm_error *err)
{
    int rc;
    for (int attempt = 0;; attempt++) {
        if ((rc = db_begin(d, true, err)) == 0) {
            if ((rc = claim_unit(d, c, err)) == 0)
                rc = db_commit(d, err);
            else
                db_rollback(d);
        }
        if (rc != SM_EBUSY || attempt >= 2)
            return rc;
    }
}

static int claim_with(db *d, struct batch_unit_arg *complete, const char *queue, const char *owner,
                      int limit, int64_t lease_ms, queue_job **out, int *n, sm_error *err)
{
    claim_ctx c = {
        .complete = complete, .queue = queue, .owner = owner, .limit = limit, .lease_ms = lease_ms};
    unsigned char raw[QUEUE_TOKEN_LEN / 2];
    int rc;
    *out = NULL;
    *n = 0;
    if (!queue_name_valid(queue) || !owner || limit < 1 || limit > QUEUE_CLAIM_MAX || lease_ms < 1)
        return sm_error_set(err, SM_EINVAL, "queue_claim: invalid argument");
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(c.token, sizeof c.token, raw, sizeof raw);
    if (!(c.jobs = calloc((size_t)limit, sizeof *c.jobs)))
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    if (db_get_kind(d) == DB_POSTGRES && !queue_rate_limited(queue)) {
        rc = db_in_transaction(d)
                 ? sm_error_set(err, SM_EINVAL, "queue_claim: a transaction is open")
                 : pg_round(d, complete, &c, err);
    } else if (db_get_kind(d) == DB_SQLITE && !db_in_transaction(d)) {
        rc = sqlite_claim(d, &c, err);
    } else {
        rc = db_write_tx(d, claim_unit, &c, err);
    }
    if (rc || c.n == 0) {
        queue_jobs_free(c.jobs, c.n);
        return rc;
    }
    *out = c.jobs;
    *n = c.n;
    return 0;
}

int queue_claim(db *d, const char *queue, const char *owner, int limit, int64_t lease_ms,
                queue_job **out, int *n, sm_error *err)
{
    return claim_with(d, NULL, queue, owner, limit, lease_ms, out, n, err);
}

/* One statement as a db_write_tx unit, so that on SQLite it joins the
 * process's group-committing writer instead of contending for the write
 * lock (whose busy handler sleeps for milliseconds). */
typedef struct exec_unit {
    const char *sql;
    const db_value *p;
    int n;
    int64_t affected;
    db_result *rows; /* when want_rows */
    bool want_rows;
} exec_unit;

static int exec_unit_fn(db *d, void *arg, sm_error *err)
{
    exec_unit *u = arg;
    if (u->want_rows) {
        db_result_free(u->rows);
        u->rows = NULL;
        return db_query(d, u->sql, u->p, u->n, &u->rows, err);
    }
    return db_exec(d, u->sql, u->p, u->n, &u->affected, err);
}

int queue_exec_tx(db *d, const char *sql, const db_value *p, int n, int64_t *affected,
                  sm_error *err)
{
    exec_unit u = {.sql = sql, .p = p, .n = n};
    int rc = db_write_tx(d, exec_unit_fn, &u, err);
    if (affected)
        *affected = rc ? 0 : u.affected;
    return rc;
}

static int query_tx(db *d, const char *sql, const db_value *p, int n, db_result **out,
                    sm_error *err)
{
    exec_unit u = {.sql = sql, .p = p, .n = n, .want_rows = true};
    int rc = db_write_tx(d, exec_unit_fn, &u, err);
    if (rc) {
        db_result_free(u.rows);
        u.rows = NULL;
    }
    *out = u.rows;
    return rc;
}

/* PostgreSQL array literals of a batch (text format, owned): ids "{1,2}",
 * tokens and results as quoted elements ("…" with \\ and \" escaped; a
 * NULL result is an unquoted NULL). The batch statements pair them up by
 * position: array_position(ids, jobs.id) finds a job's token and result. */
typedef struct pg_batch {
    char *ids, *tokens, *results;
} pg_batch;

static void pg_batch_free(pg_batch *b)
{
    free(b->ids);
    free(b->tokens);
    free(b->results);
    memset(b, 0, sizeof *b);
}

/* Appends `s` quoted (or NULL) to the growing buffer; false when out of memory. */
static bool buf_put(char **buf, size_t *len, size_t *cap, const char *s, bool quote)
{
    size_t need = *len + (s ? 2 * strlen(s) + 3 : 4) + 2;
    if (need > *cap) {
        size_t ncap = *cap ? *cap : 64;
        while (ncap < need)
            ncap *= 2;
        char *nb = realloc(*buf, ncap);
        if (!nb)
            return false;
        *buf = nb;
        *cap = ncap;
    }
    char *o = *buf + *len;
    if (!s) {
        memcpy(o, "NULL", 4);
        o += 4;
    } else {
        if (quote)
            *o++ = '"';
        for (; *s; s++) {
            if (quote && (*s == '"' || *s == '\\'))
                *o++ = '\\';
            *o++ = *s;
        }
        if (quote)
            *o++ = '"';
    }
    *o = '\0';
    *len = (size_t)(o - *buf);
    return true;
}

static int pg_batch_make(const queue_done *done, int n, pg_batch *b, sm_error *err)
{
    size_t len[3] = {0}, cap[3] = {0};
    char **out[3] = {&b->ids, &b->tokens, &b->results};
    char num[24];
    memset(b, 0, sizeof *b);
    for (int k = 0; k < 3; k++)
        if (!buf_put(out[k], &len[k], &cap[k], "{", false))
            goto oom;
    for (int i = 0; i < n; i++) {
        snprintf(num, sizeof num, "%s%lld", i ? "," : "", (long long)done[i].id);
        if (!buf_put(&b->ids, &len[0], &cap[0], num, false) ||
            (i && (!buf_put(&b->tokens, &len[1], &cap[1], ",", false) ||
                   !buf_put(&b->results, &len[2], &cap[2], ",", false))) ||
            !buf_put(&b->tokens, &len[1], &cap[1], done[i].token ? done[i].token : "", true) ||
            !buf_put(&b->results, &len[2], &cap[2], done[i].result_json, true))
            goto oom;
    }
    for (int k = 0; k < 3; k++)
        if (!buf_put(out[k], &len[k], &cap[k], "}", false))
            goto oom;
    return 0;
oom:
    pg_batch_free(b);
    return sm_error_set(err, SM_ENOMEM, "out of memory");
}

/* A batch of per-job writes in one transaction. SQLite: one cached
 * statement per job (a rowid look-up each, no parsing); PostgreSQL: one
 * statement over the arrays (one round trip). */
typedef struct batch_unit_arg {
    const char *sqlite_sql, *pg_sql;
    const queue_done *done;
    int n;
    pg_batch pg;
    int64_t now, affected;
} batch_unit_arg;

static int batch_unit_fn(db *d, void *arg, sm_error *err)
{
    batch_unit_arg *b = arg;
    int rc;
    b->affected = 0;
    if (b->n <= 0)
        return 0;
    if (db_get_kind(d) == DB_POSTGRES) {
        db_value p[] = {DB_T(b->pg.ids), DB_I(b->now), DB_T(b->pg.results), DB_T(b->pg.tokens)};
        return db_exec(d, b->pg_sql, p, 4, &b->affected, err);
    }
    for (int i = 0; i < b->n; i++) {
        int64_t one = 0;
        db_value p[] = {DB_I(b->done[i].id), DB_I(b->now), DB_T(b->done[i].result_json),
                        DB_T(b->done[i].token)};
        if ((rc = db_exec(d, b->sqlite_sql, p, 4, &one, err)))
            return rc;
        b->affected += one;
    }
    return 0;
}

static int batch_write(db *d, const char *sqlite_sql, const char *pg_sql, const queue_done *done,
                       int n, int64_t *affected, sm_error *err)
{
    batch_unit_arg b = {
        .sqlite_sql = sqlite_sql, .pg_sql = pg_sql, .done = done, .n = n, .now = clock_now_ms()};
    int rc;
    if (affected)
        *affected = 0;
    if (n <= 0)
        return 0;
    if (db_get_kind(d) == DB_POSTGRES && (rc = pg_batch_make(done, n, &b.pg, err)))
        return rc;
    rc = db_write_tx(d, batch_unit_fn, &b, err);
    pg_batch_free(&b.pg);
    if (affected && rc == 0)
        *affected = b.affected;
    return rc;
}

#define LEASE_CLEAR "lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL"

#define COMPLETE_SQLITE                                                                            \
    "UPDATE jobs SET state = 'succeeded', finished_at = $2, result = $3, " LEASE_CLEAR             \
    " WHERE id = $1 AND lease_token = $4 AND state = 'running'"
/* PostgreSQL: ids, tokens and results as arrays ($1, $4, $3); each row is
 * checked against the token at its own position. The rows must be found
 * through the primary key (id = ANY): given `state = 'running'` the planner
 * liked to scan the state index instead, whose `running` range is full of
 * dead entries on a busy queue (thousands of heap visits per batch, most of
 * the server's time). The COLLATE "C" makes that comparison unusable as an
 * index condition without changing its meaning (equality is bytewise in
 * any deterministic collation). */
#define PG_RUNNING "jobs.state = 'running' COLLATE \"C\""
#define PG_AT(ARR, IDS) "(" ARR ")[array_position(" IDS ", jobs.id)]"
#define COMPLETE_PG_WHERE(IDS, TOKENS)                                                             \
    " WHERE jobs.id = ANY(" IDS ") AND jobs.lease_token = " PG_AT(TOKENS, IDS) " AND " PG_RUNNING
#define COMPLETE_PG_SET(NOW, IDS, RESULTS, TOKENS)                                                 \
    "UPDATE jobs SET state = 'succeeded', finished_at = " NOW                                      \
    ", result = " PG_AT(RESULTS, IDS) ", " LEASE_CLEAR                                             \
    COMPLETE_PG_WHERE(IDS, TOKENS)
#define COMPLETE_PG COMPLETE_PG_SET("$2", "$1::bigint[]", "$3::text[]", "$4::text[]")

int queue_complete(db *d, const queue_done *done, int n, int64_t *affected, sm_error *err)
{
    return batch_write(d, COMPLETE_SQLITE, COMPLETE_PG, done, n, affected, err);
}

/* PostgreSQL, when no rate-limited task runs on the queue: the completions
 * and the claim as one statement (two data-modifying CTEs, one implicit
 * transaction): one round trip and one commit per round instead of four
 * round trips (BEGIN, complete, claim, COMMIT). The completion touches
 * running rows and the claim available ones, so the two never meet. The
 * result is one row per claimed job, or one row of NULLs when none was,
 * each carrying the number of completions in its last column. */
#define PG_ROUND_DONE COMPLETE_PG_SET("$4", "$8::bigint[]", "$10::text[]", "$9::text[]")
#define PG_ROUND(F)                                                                                \
    "WITH done AS (" PG_ROUND_DONE " RETURNING 1), claimed AS (" PG_CLAIM(                         \
        F) ") "                                                                                    \
           "SELECT claimed.*, (SELECT count(*) FROM done) FROM (SELECT 1) AS one "                 \
           "LEFT JOIN claimed ON true"

static int pg_round(db *d, batch_unit_arg *b, claim_ctx *c, sm_error *err)
{
    static const pg_batch none = {.ids = "{}", .tokens = "{}", .results = "{}"};
    const pg_batch *arrays = b && b->n > 0 ? &b->pg : &none;
    /* Only queues that run no rate-limited task come here (claim_with), and
     * a limited task is only ever on its own queue: no task filter. */
    static const char *const sql = PG_ROUND("AND $6::text IS NULL");
    db_result *r = NULL;
    int rc;
    int64_t now = clock_now_ms();
    db_value p[] = {
        DB_T(c->owner),       DB_T(c->token),       DB_I(now + c->lease_ms), DB_I(now),
        DB_T(c->queue),       DB_T(NULL),           DB_I(c->limit),          DB_T(arrays->ids),
        DB_T(arrays->tokens), DB_T(arrays->results)};
    /* A deadlock with an operator's cancel or retry is retried, like db_write_tx. */
    for (int attempt = 0;; attempt++) {
        rc = db_query(d, sql, p, 10, &r, err);
        if (rc != SM_EBUSY || attempt >= 2)
            break;
    }
    if (rc)
        return rc;
    c->n = 0;
    for (int i = 0; i < db_result_rows(r); i++) {
        if (b)
            b->affected = db_result_int(r, i, 9);
        if (db_result_isnull(r, i, 0) || c->n >= c->limit)
            continue;
        if ((rc = job_from_row(c, r, i, err)))
            break;
    }
    db_result_free(r);
    return rc;
}

int queue_complete_and_claim(db *d, const queue_done *done, int ndone, int64_t *completed,
                             const char *queue, const char *owner, int limit, int64_t lease_ms,
                             queue_job **out, int *n, sm_error *err)
{
    batch_unit_arg b = {.sqlite_sql = COMPLETE_SQLITE,
                        .pg_sql = COMPLETE_PG,
                        .done = done,
                        .n = ndone,
                        .now = clock_now_ms()};
    int rc;
    if (completed)
        *completed = 0;
    if (ndone < 0 || (ndone > 0 && !done))
        return sm_error_set(err, SM_EINVAL, "queue_complete_and_claim: invalid argument");
    if (db_get_kind(d) == DB_POSTGRES && (rc = pg_batch_make(done, ndone, &b.pg, err)))
        return rc;
    rc = claim_with(d, &b, queue, owner, limit, lease_ms, out, n, err);
    pg_batch_free(&b.pg);
    if (completed && rc == 0)
        *completed = b.affected;
    return rc;
}

int queue_release(db *d, const queue_done *jobs, int n, int64_t *affected, sm_error *err)
{
    return batch_write(
        d,
        "UPDATE jobs SET state = 'available', attempt = attempt - 1, run_at = $2, " LEASE_CLEAR
        " WHERE id = $1 AND lease_token = $4 AND state = 'running' AND $3 IS NULL",
        "UPDATE jobs SET state = 'available', attempt = attempt - 1, run_at = $2, " LEASE_CLEAR
        " WHERE jobs.id = ANY($1::bigint[]) AND jobs.lease_token = " PG_AT(
            "$4::text[]", "$1::bigint[]") " AND " PG_RUNNING " AND $3::text[] IS NOT NULL",
        jobs, n, affected, err);
}

/* JOBS_BACKOFF_BASE_MS scales the backoff (default 1000: 2 s, 4 s, 8 s…);
 * tests set it to 1 to retry at once. Without a loaded configuration (unit
 * tests that never call config_load) the default applies. */
int64_t queue_backoff_ms(int attempt)
{
    const sm_config *cfg = config_get();
    int64_t base_ms = cfg ? cfg->jobs_backoff_base_ms : 1000;
    if (attempt < 1)
        attempt = 1;
    double cap = 3600e3 * (double)base_ms / 1000.0;
    double base = attempt >= 20 ? cap : (double)(1 << attempt) * (double)base_ms;
    if (base > cap)
        base = cap;
    /* ±25 %, uniformly. */
    double jitter = ((double)randombytes_uniform(50001) / 100000.0) - 0.25;
    return (int64_t)(base * (1.0 + jitter));
}

/* The error history entry appended by a failure or the reaper. */
#define SQLITE_ERRORS_APPEND                                                                       \
    "errors = json_insert(errors, '$[#]', json_object('attempt', attempt, 'at', $3, 'error', $4))"
#define PG_ERRORS_APPEND                                                                           \
    "errors = (errors::jsonb || jsonb_build_array(jsonb_build_object('attempt', attempt, "         \
    "'at', $3::bigint, 'error', $4::text)))::text"
#define FAIL_SET(APPEND)                                                                           \
    "UPDATE jobs SET state = CASE WHEN attempt >= max_attempts OR $5 = 1 THEN 'discarded' "        \
    "ELSE 'retryable' END, run_at = $6, last_error = $4, " APPEND ", finished_at = CASE WHEN "     \
    "attempt >= max_attempts OR $5 = 1 THEN $3 ELSE NULL END, " LEASE_CLEAR " "

int queue_fail(db *d, int64_t id, const char *token, int attempt, const char *message, bool discard,
               char *state_out, sm_error *err)
{
    char msg[QUEUE_ERROR_MAX + 1];
    db_result *r = NULL;
    int64_t now = clock_now_ms();
    int rc;
    snprintf(msg, sizeof msg, "%s", message && *message ? message : "failed");
    db_value p[] = {DB_I(id),  DB_T(token),           DB_I(now),
                    DB_T(msg), DB_I(discard ? 1 : 0), DB_I(now + queue_backoff_ms(attempt))};
    rc = query_tx(d,
                  db_get_kind(d) == DB_POSTGRES
                      ? FAIL_SET(PG_ERRORS_APPEND) "WHERE id = $1 AND lease_token = $2 AND "
                                                   "state = 'running' RETURNING state"
                      : FAIL_SET(SQLITE_ERRORS_APPEND) "WHERE id = $1 AND lease_token = $2 AND "
                                                       "state = 'running' RETURNING state",
                  p, 6, &r, err);
    if (rc)
        return rc;
    if (state_out)
        snprintf(state_out, 16, "%s", db_result_rows(r) ? db_result_text(r, 0, 0) : "");
    db_result_free(r);
    return 0;
}

int queue_extend(db *d, const char *owner, int64_t lease_ms, int64_t *n, sm_error *err)
{
    db_value p[] = {DB_I(clock_now_ms() + lease_ms), DB_T(owner)};
    return queue_exec_tx(d,
                         "UPDATE jobs SET lease_expires_at = $1 WHERE state = 'running' AND "
                         "lease_owner = $2",
                         p, 2, n, err);
}

#define REAP_SET(APPEND)                                                                           \
    "UPDATE jobs SET state = CASE WHEN attempt >= max_attempts THEN 'discarded' "                  \
    "ELSE 'retryable' END, run_at = $3, last_error = $4, " APPEND ", finished_at = CASE WHEN "     \
    "attempt >= max_attempts THEN $3 ELSE NULL END, " LEASE_CLEAR                                  \
    " WHERE state = 'running' AND lease_expires_at < $3 AND $1 = $2"

int queue_reap(db *d, int64_t *n, sm_error *err)
{
    int64_t now = clock_now_ms();
    /* $1 = $2 keeps the placeholders numbered as in the shared fragments. */
    db_value p[] = {DB_I(0), DB_I(0), DB_I(now), DB_T("lease expired: the worker was lost")};
    int rc = queue_exec_tx(d,
                           db_get_kind(d) == DB_POSTGRES ? REAP_SET(PG_ERRORS_APPEND)
                                                         : REAP_SET(SQLITE_ERRORS_APPEND),
                           p, 4, n, err);
    if (rc)
        return rc;
    db_value q[] = {DB_I(now - 60000)};
    return queue_exec_tx(d, "DELETE FROM job_rate_limits WHERE window_start < $1", q, 1, NULL, err);
}
