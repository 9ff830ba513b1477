/* admin.c — what operators see and do with jobs: per-queue counts, job
 * listings, one job in full, retry, cancel, purge, and the workers table.
 * Shared by `smartmarket tasks` and the admin API, so both say the same
 * thing. Listings are bounded pages; every filter is a bound parameter or
 * a state name checked against the fixed list below. */
#include "jobs/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

static const char *const g_states[] = {"scheduled", "available", "running",  "succeeded",
                                       "retryable", "discarded", "cancelled"};
#define NSTATES ((int)(sizeof g_states / sizeof g_states[0]))

static const char *const g_queues[] = {JOBS_QUEUE_ML, JOBS_QUEUE_EMAILS, JOBS_QUEUE_MAINTENANCE,
                                       JOBS_QUEUE_REPORTS};

static json_t *time_or_null(const db_result *r, int row, int col)
{
    char iso[CLOCK_ISO_LEN];
    if (db_result_isnull(r, row, col))
        return json_null();
    clock_format_iso(db_result_int(r, row, col), iso);
    return json_string(iso);
}

static json_t *text_or_null(const db_result *r, int row, int col)
{
    return db_result_isnull(r, row, col) ? json_null() : json_string(db_result_text(r, row, col));
}

static json_t *json_or_null(const db_result *r, int row, int col)
{
    json_t *v = db_result_isnull(r, row, col)
                    ? NULL
                    : json_loads(db_result_text(r, row, col), JSON_DECODE_ANY, NULL);
    return v ? v : json_null();
}

int queue_stats(db *d, json_t **out, sm_error *err)
{
    db_result *r = NULL;
    json_t *by = json_object(), *arr = NULL;
    int rc;
    *out = NULL;
    if (!by)
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    for (size_t i = 0; i < sizeof g_queues / sizeof g_queues[0]; i++)
        json_object_set_new(by, g_queues[i], json_object());
    if ((rc = db_query(d, "SELECT queue, state, COUNT(*) FROM jobs GROUP BY queue, state", NULL, 0,
                       &r, err)))
        goto fail;
    for (int i = 0; i < db_result_rows(r); i++) {
        const char *q = db_result_text(r, i, 0);
        if (!json_object_get(by, q))
            json_object_set_new(by, q, json_object());
        json_object_set_new(json_object_get(by, q), db_result_text(r, i, 1),
                            json_integer(db_result_int(r, i, 2)));
    }
    db_result_free(r);
    r = NULL;
    db_value p[] = {DB_I(clock_now_ms() - 3600 * 1000)};
    if ((rc = db_query(d,
                       "SELECT queue, COUNT(*) FROM jobs WHERE state = 'succeeded' AND "
                       "finished_at >= $1 GROUP BY queue",
                       p, 1, &r, err)))
        goto fail;
    if (!(arr = json_array())) {
        rc = sm_error_set(err, SM_ENOMEM, "out of memory");
        goto fail;
    }
    const char *name;
    json_t *counts;
    json_object_foreach(by, name, counts)
    {
        json_int_t hour = 0;
        for (int i = 0; i < db_result_rows(r); i++)
            if (strcmp(db_result_text(r, i, 0), name) == 0)
                hour = db_result_int(r, i, 1);
        json_t *q = json_pack("{ss sI}", "queue", name, "succeeded_last_hour", hour);
        for (int s = 0; q && s < NSTATES; s++)
            json_object_set_new(
                q, g_states[s],
                json_integer(json_integer_value(json_object_get(counts, g_states[s]))));
        if (!q || json_array_append_new(arr, q)) {
            rc = sm_error_set(err, SM_ENOMEM, "out of memory");
            goto fail;
        }
    }
    *out = arr;
    arr = NULL;
fail:
    db_result_free(r);
    json_decref(by);
    json_decref(arr);
    return rc;
}

/* Turns "running,failed" into a SQL list "'running','retryable',…" of known
 * names only (never the caller's text). Returns 0 or SM_EINVAL. */
static int states_sql(const char *states, char *out, size_t cap, sm_error *err)
{
    char buf[256], *save = NULL;
    bool want[NSTATES] = {false};
    if (strlen(states) >= sizeof buf)
        return sm_error_set(err, SM_EINVAL, "state filter too long");
    snprintf(buf, sizeof buf, "%s", states);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        bool known = false;
        for (int s = 0; s < NSTATES; s++)
            if (strcmp(t, g_states[s]) == 0)
                want[s] = known = true;
        if (strcmp(t, "active") == 0)
            want[2] = known = true;
        else if (strcmp(t, "pending") == 0)
            want[0] = want[1] = known = true;
        else if (strcmp(t, "failed") == 0)
            want[4] = want[5] = known = true;
        if (!known)
            return sm_error_set(err, SM_EINVAL,
                                "unknown state '%.32s' (scheduled, available, running, succeeded, "
                                "retryable, discarded, cancelled, active, pending, failed)",
                                t);
    }
    out[0] = '\0';
    for (int s = 0; s < NSTATES; s++) {
        if (!want[s])
            continue;
        size_t len = strlen(out);
        if (snprintf(out + len, cap - len, "%s'%s'", len ? ", " : "", g_states[s]) < 0)
            return sm_error_set(err, SM_EINTERNAL, "state list");
    }
    return out[0] ? 0 : sm_error_set(err, SM_EINVAL, "empty state filter");
}

#define JOB_COLS                                                                                   \
    "id, queue, task, state, priority, attempt, max_attempts, run_at, inserted_at, "               \
    "attempted_at, finished_at, unique_key, correlation_id, last_error, lease_owner"

static json_t *job_summary(const db_result *r, int i)
{
    json_t *o =
        json_pack("{sI ss ss ss si si si}", "id", (json_int_t)db_result_int(r, i, 0), "queue",
                  db_result_text(r, i, 1), "task", db_result_text(r, i, 2), "state",
                  db_result_text(r, i, 3), "priority", (int)db_result_int(r, i, 4), "attempt",
                  (int)db_result_int(r, i, 5), "max_attempts", (int)db_result_int(r, i, 6));
    if (!o)
        return NULL;
    json_object_set_new(o, "run_at", time_or_null(r, i, 7));
    json_object_set_new(o, "inserted_at", time_or_null(r, i, 8));
    json_object_set_new(o, "attempted_at", time_or_null(r, i, 9));
    json_object_set_new(o, "finished_at", time_or_null(r, i, 10));
    json_object_set_new(o, "unique_key", text_or_null(r, i, 11));
    json_object_set_new(o, "correlation_id", text_or_null(r, i, 12));
    json_object_set_new(o, "last_error", text_or_null(r, i, 13));
    json_object_set_new(o, "worker", text_or_null(r, i, 14));
    return o;
}

int queue_list(db *d, const char *states, const char *queue, int page, int page_size, json_t **out,
               sm_error *err)
{
    char sql[1024], list[160] = "";
    db_result *r = NULL;
    json_t *items = NULL;
    int rc;
    *out = NULL;
    if (page < 1 || page > 100000 || page_size < 1 || page_size > 500)
        return sm_error_set(err, SM_EINVAL, "page must be ≥ 1 and page_size 1..500");
    if (queue && *queue && !queue_name_valid(queue))
        return sm_error_set(err, SM_EINVAL, "invalid queue name");
    if (states && *states && (rc = states_sql(states, list, sizeof list, err)))
        return rc;
    if (snprintf(sql, sizeof sql,
                 "SELECT " JOB_COLS " FROM jobs WHERE %s%s%s ($1 = '' OR queue = $1) "
                 "ORDER BY id DESC LIMIT $2 OFFSET $3",
                 list[0] ? "state IN (" : "", list, list[0] ? ") AND" : "") >= (int)sizeof sql)
        return sm_error_set(err, SM_EINTERNAL, "query too long");
    db_value p[] = {DB_T(queue ? queue : ""), DB_I(page_size + 1),
                    DB_I((int64_t)(page - 1) * page_size)};
    if ((rc = db_query(d, sql, p, 3, &r, err)))
        return rc;
    if (!(items = json_array())) {
        rc = sm_error_set(err, SM_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < db_result_rows(r) && i < page_size; i++)
        if (json_array_append_new(items, job_summary(r, i))) {
            rc = sm_error_set(err, SM_ENOMEM, "out of memory");
            goto done;
        }
    *out = json_pack("{so si si sb}", "items", items, "page", page, "page_size", page_size,
                     "has_more", db_result_rows(r) > page_size);
    items = NULL;
    if (!*out)
        rc = sm_error_set(err, SM_ENOMEM, "out of memory");
done:
    json_decref(items);
    db_result_free(r);
    return rc;
}

int queue_get(db *d, int64_t id, json_t **out, sm_error *err)
{
    db_result *r = NULL;
    db_value p[] = {DB_I(id)};
    int rc = db_query(d,
                      "SELECT " JOB_COLS ", args, errors, result, lease_expires_at FROM jobs "
                      "WHERE id = $1",
                      p, 1, &r, err);
    *out = NULL;
    if (rc)
        return rc;
    if (db_result_rows(r) == 0) {
        db_result_free(r);
        return sm_error_set(err, SM_ENOTFOUND, "no job %lld", (long long)id);
    }
    json_t *o = job_summary(r, 0);
    if (o) {
        json_object_set_new(o, "args", json_or_null(r, 0, 15));
        json_object_set_new(o, "errors", json_or_null(r, 0, 16));
        json_object_set_new(o, "result", json_or_null(r, 0, 17));
        json_object_set_new(o, "lease_expires_at", time_or_null(r, 0, 18));
    }
    db_result_free(r);
    *out = o;
    return o ? 0 : sm_error_set(err, SM_ENOMEM, "out of memory");
}

/* Reads a job's state for the error message of a refused transition. */
static int refuse(db *d, int64_t id, const char *what, sm_error *err)
{
    db_result *r = NULL;
    db_value p[] = {DB_I(id)};
    int rc = db_query(d, "SELECT state FROM jobs WHERE id = $1", p, 1, &r, err);
    if (rc == 0) {
        rc = db_result_rows(r) == 0 ? sm_error_set(err, SM_ENOTFOUND, "no job %lld", (long long)id)
                                    : sm_error_set(err, SM_ECONFLICT, "cannot %s a %s job", what,
                                                   db_result_text(r, 0, 0));
    }
    db_result_free(r);
    return rc;
}

int queue_retry(db *d, int64_t id, sm_error *err)
{
    int64_t n = 0;
    db_value p[] = {DB_I(id), DB_I(clock_now_ms())};
    int rc = queue_exec_tx(d,
                           "UPDATE jobs SET state = 'available', run_at = $2, finished_at = NULL, "
                           "max_attempts = CASE WHEN attempt >= max_attempts THEN attempt + 1 "
                           "ELSE max_attempts END WHERE id = $1 AND state IN "
                           "('discarded', 'cancelled', 'retryable', 'scheduled')",
                           p, 2, &n, err);
    if (rc == SM_ECONFLICT)
        return sm_error_set(err, SM_ECONFLICT, "another active job holds this job's unique key");
    if (rc)
        return rc;
    if (n == 0)
        return refuse(d, id, "retry", err);
    queue_wake_notify(NULL);
    if (db_get_kind(d) == DB_POSTGRES)
        return db_exec(d, "SELECT pg_notify('" QUEUE_NOTIFY_CHANNEL "', '')", NULL, 0, NULL, err);
    return 0;
}

int queue_cancel(db *d, int64_t id, sm_error *err)
{
    int64_t n = 0;
    db_value p[] = {DB_I(id), DB_I(clock_now_ms())};
    int rc =
        queue_exec_tx(d,
                      "UPDATE jobs SET state = 'cancelled', finished_at = $2, lease_owner = NULL, "
                      "lease_token = NULL, lease_expires_at = NULL WHERE id = $1 AND state IN "
                      "('scheduled', 'available', 'running', 'retryable')",
                      p, 2, &n, err);
    if (rc)
        return rc;
    return n ? 0 : refuse(d, id, "cancel", err);
}

int queue_purge(db *d, const char *queue, int64_t *deleted, sm_error *err)
{
    if (!queue_name_valid(queue))
        return sm_error_set(err, SM_EINVAL, "invalid queue name");
    db_value p[] = {DB_T(queue)};
    return queue_exec_tx(d,
                         "DELETE FROM jobs WHERE queue = $1 AND state IN "
                         "('available', 'scheduled', 'retryable')",
                         p, 1, deleted, err);
}

int queue_worker_beat(db *d, const char *id, const char *host, int64_t pid, const char *queues,
                      int64_t started_at, const char *running_json, sm_error *err)
{
    db_value p[] = {DB_T(id),         DB_T(host),           DB_I(pid),         DB_T(queues),
                    DB_I(started_at), DB_I(clock_now_ms()), DB_T(running_json)};
    return queue_exec_tx(d,
                         "INSERT INTO job_workers (id, host, pid, queues, started_at, last_seen, "
                         "running) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE "
                         "SET last_seen = excluded.last_seen, running = excluded.running",
                         p, 7, NULL, err);
}

int queue_worker_remove(db *d, const char *id, sm_error *err)
{
    db_value p[] = {DB_T(id)};
    return queue_exec_tx(d, "DELETE FROM job_workers WHERE id = $1", p, 1, NULL, err);
}

int queue_workers(db *d, int64_t alive_ms, json_t **out, sm_error *err)
{
    db_result *r = NULL;
    int64_t now = clock_now_ms();
    db_value p[] = {DB_I(now - 86400 * 1000)};
    int rc = db_query(d,
                      "SELECT id, host, pid, queues, started_at, last_seen, running FROM "
                      "job_workers WHERE last_seen >= $1 ORDER BY started_at, id LIMIT 500",
                      p, 1, &r, err);
    *out = NULL;
    if (rc)
        return rc;
    json_t *arr = json_array();
    for (int i = 0; arr && i < db_result_rows(r); i++) {
        json_t *o =
            json_pack("{ss ss sI ss sb}", "id", db_result_text(r, i, 0), "host",
                      db_result_text(r, i, 1), "pid", (json_int_t)db_result_int(r, i, 2), "queues",
                      db_result_text(r, i, 3), "alive", now - db_result_int(r, i, 5) <= alive_ms);
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            arr = NULL;
            break;
        }
        json_object_set_new(o, "started_at", time_or_null(r, i, 4));
        json_object_set_new(o, "last_seen", time_or_null(r, i, 5));
        json_object_set_new(o, "running", json_or_null(r, i, 6));
    }
    db_result_free(r);
    *out = arr;
    return arr ? 0 : sm_error_set(err, SM_ENOMEM, "out of memory");
}
