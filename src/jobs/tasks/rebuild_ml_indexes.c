/* rebuild_ml_indexes.c — the popularity and co-purchase index, rebuilt.
 *
 * First the SQL index: per product, units sold, orders, revenue and last
 * sale (product_stats), and its TASKS_NEIGHBOURS most co-purchased products
 * (product_neighbours), counted over every order that was not cancelled.
 * The sales figures (GET /api/admin/stats/products/, shop/stats.c) read it;
 * the served recommendations come from the ML artefacts built after it.
 *
 * The build never exposes a half-built index. Rows are written under a new
 * version number (taken from ml_index_versions.next_version), product id
 * range by product id range, each range one short INSERT … SELECT
 * statement (pure SQL, so the work stays in the database engine and the
 * same text runs on SQLite and PostgreSQL; the top-N uses ROW_NUMBER()).
 * Between ranges the task reports progress and checks
 * jobs_ctx_should_stop. When every range is in, ONE statement switches
 * current_version (only forwards, so an older build finishing late cannot
 * switch back), then the rows of every other version are deleted in
 * batches. A build that stops or crashes midway leaves rows under a version
 * nobody reads; the next build's cleanup deletes them. Running twice gives
 * the same index under a higher version. Never a sleep.
 *
 * Then it builds the search index and the recommendation models
 * (ml_build_indexes(): a new versioned folder under DATA_DIR/ml/, verified,
 * switched atomically; every serving process picks it up without a
 * restart). A failure there fails the attempt and leaves the active
 * version untouched, so the retry starts over cleanly. */
#include <stdio.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/events.h"
#include "core/log.h"
#include "jobs/tasks/tasks.h"
#include "ml/build.h"

#define RANGE_PRODUCTS 500 /* product ids per build statement */

static const char *const STATS_SQL =
    "INSERT INTO product_stats (version, product_id, units_sold, order_count, revenue_cents, "
    "last_sold_at) "
    "SELECT $1, i.product_id, SUM(i.quantity), COUNT(DISTINCT i.order_id), "
    "SUM(i.line_total_cents), MAX(o.created_at) "
    "FROM order_items i JOIN orders o ON o.id = i.order_id "
    "WHERE o.status <> 'cancelled' AND i.product_id >= $2 AND i.product_id < $3 "
    "GROUP BY i.product_id";

static const char *const PAIRS_SQL =
    "INSERT INTO product_neighbours (version, product_id, rank, neighbour_id, together) "
    "SELECT $1, product_id, rnk, neighbour_id, together FROM ("
    " SELECT a.product_id AS product_id, b.product_id AS neighbour_id,"
    " COUNT(DISTINCT a.order_id) AS together,"
    " ROW_NUMBER() OVER (PARTITION BY a.product_id"
    "   ORDER BY COUNT(DISTINCT a.order_id) DESC, b.product_id) AS rnk"
    " FROM order_items a"
    " JOIN order_items b ON b.order_id = a.order_id AND b.product_id <> a.product_id"
    " JOIN orders o ON o.id = a.order_id"
    " WHERE o.status <> 'cancelled' AND a.product_id >= $2 AND a.product_id < $3"
    " GROUP BY a.product_id, b.product_id) ranked "
    "WHERE rnk <= $4";

static int scalar(db *d, const char *sql, const db_value *p, int n, int64_t *out, sm_error *err)
{
    db_result *r = NULL;
    int rc = db_query(d, sql, p, n, &r, err);
    if (rc == 0)
        *out = db_result_rows(r) > 0 ? db_result_int(r, 0, 0) : 0;
    db_result_free(r);
    return rc;
}

/* Deletes every version but `keep`, in batches. */
static int gc_versions(jobs_ctx *ctx, db *d, int64_t keep, sm_error *err)
{
    int64_t n = 0;
    db_value p[] = {DB_I(keep), DB_I(TASKS_BATCH_ROWS)};
    int rc = tasks_delete_batched(
        ctx, d,
        "DELETE FROM product_stats WHERE (version, product_id) IN (SELECT version, product_id "
        "FROM product_stats WHERE version <> $1 LIMIT $2)",
        p, 2, &n, err);
    if (rc == 0)
        rc = tasks_delete_batched(ctx, d,
                                  "DELETE FROM product_neighbours WHERE (version, product_id, "
                                  "rank) IN (SELECT version, product_id, rank FROM "
                                  "product_neighbours WHERE version <> $1 LIMIT $2)",
                                  p, 2, &n, err);
    return rc;
}

/* ML build stages map onto the last tenth of the job's progress. */
static void on_ml_progress(const char *stage, long long done, long long total, void *ctx)
{
    int percent = 90 + (total > 0 ? (int)(9 * (done < total ? done : total) / total) : 0);
    tasks_progress(ctx, percent, stage);
}

int task_rebuild_ml_indexes(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err)
{
    (void)args;
    uint64_t t0 = clock_mono_ns();
    int64_t version = 0, lo = 0, hi = 0, products = 0, pairs = 0, current = 0;
    int rc;

    /* A new version number: one atomic increment, never reused. */
    if ((rc = scalar(d,
                     "UPDATE ml_index_versions SET next_version = next_version + 1 "
                     "WHERE name = 'product_stats' RETURNING next_version",
                     NULL, 0, &version, err)) < 0)
        return rc;
    if (version <= 0)
        return sm_error_set(err, SM_EINTERNAL, "ml_index_versions has no product_stats row");
    if ((rc = scalar(d, "SELECT COALESCE(MIN(product_id), 0) FROM order_items", NULL, 0, &lo,
                     err)) < 0 ||
        (rc = scalar(d, "SELECT COALESCE(MAX(product_id), -1) FROM order_items", NULL, 0, &hi,
                     err)) < 0)
        return rc;

    for (int64_t start = lo; start <= hi; start += RANGE_PRODUCTS) {
        if (tasks_should_stop(ctx))
            return sm_error_set(err, SM_ETIMEOUT, "stopped at product %lld", (long long)start);
        int64_t a = 0, b = 0;
        db_value p[] = {DB_I(version), DB_I(start), DB_I(start + RANGE_PRODUCTS),
                        DB_I(TASKS_NEIGHBOURS)};
        if ((rc = db_exec(d, STATS_SQL, p, 3, &a, err)) < 0 ||
            (rc = db_exec(d, PAIRS_SQL, p, 4, &b, err)) < 0)
            return rc;
        products += a;
        pairs += b;
        char note[64];
        snprintf(note, sizeof note, "%lld products indexed", (long long)products);
        int64_t done = start + RANGE_PRODUCTS - lo, span = hi - lo + 1;
        tasks_progress(ctx, (int)(done >= span ? 90 : 90 * done / span), note);
    }

    int64_t ms = (int64_t)((clock_mono_ns() - t0) / 1000000);
    db_value sw[] = {DB_I(version), DB_I(clock_now_ms()), DB_I(ms), DB_I(products), DB_I(pairs)};
    int64_t switched = 0;
    if ((rc = db_exec(d,
                      "UPDATE ml_index_versions SET current_version = $1, built_at = $2, "
                      "duration_ms = $3, products = $4, pairs = $5 "
                      "WHERE name = 'product_stats' AND current_version < $1",
                      sw, 5, &switched, err)) < 0)
        return rc;
    /* A newer build may have switched first: keep whichever is current. */
    if ((rc =
             scalar(d, "SELECT current_version FROM ml_index_versions WHERE name = 'product_stats'",
                    NULL, 0, &current, err)) < 0)
        return rc;
    tasks_progress(ctx, 95, "switched; removing old versions");
    if ((rc = gc_versions(ctx, d, current, err)) < 0)
        return rc;
    char ml_version[64] = "";
    const sm_config *cfg = config_get();
    if (!cfg)
        return sm_error_set(err, SM_ECONFIG, "rebuild_ml_indexes: no configuration loaded");
    if ((rc = ml_build_indexes(d, cfg->data_dir, on_ml_progress, ctx, ml_version, err)) < 0)
        return rc;
    ms = (int64_t)((clock_mono_ns() - t0) / 1000000);

    json_t *info = json_pack("{s:s, s:I, s:I, s:I, s:I, s:b, s:s}", "index", "product_stats",
                             "version", (json_int_t)version, "products", (json_int_t)products,
                             "pairs", (json_int_t)pairs, "duration_ms", (json_int_t)ms, "switched",
                             switched > 0, "ml_version", ml_version);
    if (!info)
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    tasks_progress(ctx, 100, "done");
    events_publish("admin.notifications", "ml.rebuilt", info);
    log_emit(LOG_INFO, "ml index rebuilt", json_incref(info));
    if (result)
        *result = info;
    else
        json_decref(info);
    return 0;
}
