/* task_util.c — small helpers shared by the task bodies; see tasks.h.
 *
 * Batched deletes exist so that cleanup never holds the write lock for
 * long: each DELETE removes at most TASKS_BATCH_ROWS rows chosen by a
 * "WHERE id IN (SELECT id … LIMIT n)" subquery and commits on its own (an
 * autocommit statement), so on SQLite other writers interleave between
 * batches and on PostgreSQL row locks are held for one batch only. */
#include "jobs/tasks/tasks.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int tasks_arg_id(const json_t *args, const char *name, int64_t *out, sm_error *err)
{
    json_t *v = json_is_object(args) ? json_object_get(args, name) : NULL;
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return sm_error_set(err, SM_EINVAL, "args.%s must be a positive integer", name);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

void tasks_money_format(int64_t cents, const char *currency, char *out)
{
    /* Magnitude in unsigned arithmetic, so INT64_MIN has one too. */
    uint64_t mag = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    char cur[4] = "???";
    if (currency && strlen(currency) == 3)
        memcpy(cur, currency, 3);
    snprintf(out, TASKS_MONEY_MAX, "%s %s%" PRIu64 ".%02" PRIu64, cur, cents < 0 ? "-" : "",
             mag / 100, mag % 100);
}

bool tasks_should_stop(const jobs_ctx *ctx)
{
    return ctx && jobs_ctx_should_stop(ctx);
}

void tasks_progress(jobs_ctx *ctx, int percent, const char *note)
{
    if (ctx)
        jobs_ctx_progress(ctx, percent, note);
}

int tasks_delete_batched(jobs_ctx *ctx, db *d, const char *sql, const db_value *params, int nparams,
                         int64_t *total, sm_error *err)
{
    for (;;) {
        if (tasks_should_stop(ctx))
            return sm_error_set(err, SM_ETIMEOUT, "stopped between batches");
        int64_t n = 0;
        int rc = db_exec(d, sql, params, nparams, &n, err);
        if (rc < 0)
            return rc;
        *total += n;
        if (n < TASKS_BATCH_ROWS)
            return 0;
    }
}
