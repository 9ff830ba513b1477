/* cleanup_old_data.c — deletes what is past its use, a batch at a time.
 *
 *   auth_tokens     expired (expires_at passed) or revoked: neither can
 *                   authenticate any more (auth looks them up by hash and
 *                   rejects both), so nothing reads them.
 *   login_attempts  older than max(LOGIN_ATTEMPTS_RETENTION_DAYS,
 *                   LOGIN_WINDOW_SECONDS): the rate limiter in shop/auth.c
 *                   only counts attempts inside the window (at most a
 *                   day, by config bounds); older rows are audit only.
 *   jobs            succeeded, cancelled or discarded and finished more
 *                   than JOBS_RETENTION_DAYS ago (dead jobs stay retryable
 *                   by hand until then).
 *   notifications   beyond the newest NOTIFICATIONS_HISTORY per user, when
 *                   the table exists (it comes with the notifications
 *                   issue; until then the step reports "skipped").
 *
 * Every step is tasks_delete_batched: DELETE … WHERE id IN (SELECT id …
 * LIMIT 1000), one autocommit statement per batch, so the write lock is
 * held for one batch at a time and other writers interleave. The worker's
 * stop signal is checked between batches; what is left is deleted on the
 * next run. Running it twice deletes nothing more. */
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "jobs/tasks/tasks.h"

#define DAY_MS 86400000LL

/* True when `table` exists in the connection's schema. */
static int table_exists(db *d, const char *table, bool *out, sm_error *err)
{
    db_result *r = NULL;
    db_value p[] = {DB_T(table)};
    int rc = db_query(d,
                      db_get_kind(d) == DB_SQLITE
                          ? "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
                            "name = $1"
                          : "SELECT COUNT(*) FROM information_schema.tables WHERE "
                            "table_name = $1 AND table_schema = current_schema()",
                      p, 1, &r, err);
    if (rc == 0)
        *out = db_result_int(r, 0, 0) > 0;
    db_result_free(r);
    return rc;
}

typedef struct step {
    const char *table; /* checked for existence first */
    const char *sql;   /* $1 = cutoff or bound, $2 = batch size */
} step;

static int run_step(jobs_ctx *ctx, db *d, const step *s, int64_t bound, json_t *out, sm_error *err)
{
    bool exists = false;
    int64_t n = 0;
    int rc = table_exists(d, s->table, &exists, err);
    if (rc < 0)
        return rc;
    if (!exists) {
        json_object_set_new(out, s->table, json_string("skipped: no such table"));
        return 0;
    }
    db_value p[] = {DB_I(bound), DB_I(TASKS_BATCH_ROWS)};
    rc = tasks_delete_batched(ctx, d, s->sql, p, 2, &n, err);
    json_object_set_new(out, s->table, json_integer(n));
    return rc;
}

int task_cleanup_old_data(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err)
{
    (void)args;
    const sm_config *cfg = config_get();
    if (!cfg)
        return sm_error_set(err, SM_ECONFIG, "configuration not loaded");
    int64_t now = clock_now_ms();
    int64_t login_keep = (int64_t)cfg->login_attempts_retention_days * DAY_MS;
    if (login_keep < (int64_t)cfg->login_window_s * 1000)
        login_keep = (int64_t)cfg->login_window_s * 1000;

    const step tokens = {"auth_tokens",
                         "DELETE FROM auth_tokens WHERE id IN (SELECT id FROM auth_tokens "
                         "WHERE expires_at < $1 OR revoked_at IS NOT NULL LIMIT $2)"};
    const step attempts = {"login_attempts",
                           "DELETE FROM login_attempts WHERE id IN (SELECT id FROM "
                           "login_attempts WHERE created_at < $1 LIMIT $2)"};
    const step jobs = {"jobs", "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state "
                               "IN ('succeeded', 'cancelled', 'discarded') AND finished_at < $1 "
                               "LIMIT $2)"};
    /* Per user, rows ranked newest first past the history bound. */
    const step notes = {"notifications",
                        "DELETE FROM notifications WHERE id IN (SELECT id FROM (SELECT id, "
                        "ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY id DESC) AS rn "
                        "FROM notifications) ranked WHERE rn > $1 LIMIT $2)"};

    json_t *out = json_object();
    if (!out)
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    int rc;
    if ((rc = run_step(ctx, d, &tokens, now, out, err)) < 0)
        goto fail;
    tasks_progress(ctx, 25, "tokens");
    if ((rc = run_step(ctx, d, &attempts, now - login_keep, out, err)) < 0)
        goto fail;
    tasks_progress(ctx, 50, "login attempts");
    if ((rc = run_step(ctx, d, &jobs, now - (int64_t)cfg->jobs_retention_days * DAY_MS, out, err)) <
        0)
        goto fail;
    tasks_progress(ctx, 75, "jobs");
    if ((rc = run_step(ctx, d, &notes, cfg->notifications_history, out, err)) < 0)
        goto fail;
    tasks_progress(ctx, 100, "done");
    log_emit(LOG_INFO, "old data cleaned up", json_incref(out));
    if (result)
        *result = out;
    else
        json_decref(out);
    return 0;
fail:
    json_decref(out);
    return rc;
}
