/* stats.c — best-sellers from the product_stats / product_neighbours index.
 *
 * One statement: a CTE takes the current version, a second the top `limit`
 * rows of that version, and the outer query joins each to its product and
 * to its first `with` neighbours (rank ≤ with, so the neighbours come in
 * rank order, read off the (version, product_id, rank) primary key). The
 * sort column comes from a fixed table, never from the request. */
#include "shop/stats.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "shop/catalog_json.h"

static const struct {
    const char *name, *column;
} g_sorts[] = {
    {"revenue", "revenue_cents"},
    {"units", "units_sold"},
    {"orders", "order_count"},
    {"recent", "last_sold_at"},
};

static int sort_index(const char *name)
{
    for (size_t i = 0; name && i < sizeof g_sorts / sizeof g_sorts[0]; i++)
        if (strcmp(name, g_sorts[i].name) == 0)
            return (int)i;
    return -1;
}

const char *stats_sort_name(const char *name)
{
    int i = sort_index(name);
    return i < 0 ? NULL : g_sorts[i].name;
}

/* The index's current version and build time (NULL result row when the
 * ml_index_versions row is missing, which a migrated database never is). */
static int index_header(db *d, int64_t *version, json_t **built_at, sm_error *err)
{
    db_result *r = NULL;
    int rc = db_query(d,
                      "SELECT current_version, built_at FROM ml_index_versions "
                      "WHERE name = 'product_stats'",
                      NULL, 0, &r, err);
    if (rc)
        return rc;
    *version = 0;
    *built_at = json_null();
    if (db_result_rows(r) > 0) {
        *version = db_result_int(r, 0, 0);
        if (!db_result_isnull(r, 0, 1)) {
            json_decref(*built_at);
            *built_at = catjson_time(db_result_int(r, 0, 1));
        }
    }
    db_result_free(r);
    return *built_at ? 0 : sm_error_set(err, SM_ENOMEM, "out of memory");
}

enum {
    C_ID,
    C_NAME,
    C_CUR,
    C_ACTIVE,
    C_UNITS,
    C_ORDERS,
    C_REVENUE,
    C_LAST,
    C_NID,
    C_NNAME,
    C_TOGETHER,
    C_VERSION,
    C_BUILT
};

static json_t *item_from_row(const db_result *r, int i)
{
    return json_pack(
        "{sI ss ss sb sI sI sI so s[]}", "product_id", (json_int_t)db_result_int(r, i, C_ID),
        "name", db_result_text(r, i, C_NAME), "currency", db_result_text(r, i, C_CUR), "active",
        db_result_int(r, i, C_ACTIVE) != 0, "units_sold", (json_int_t)db_result_int(r, i, C_UNITS),
        "order_count", (json_int_t)db_result_int(r, i, C_ORDERS), "revenue_cents",
        (json_int_t)db_result_int(r, i, C_REVENUE), "last_sold_at",
        catjson_time(db_result_int(r, i, C_LAST)), "bought_with");
}

int stats_top_products(db *d, const char *sort, int limit, int with, json_t **out, sm_error *err)
{
    int si = sort_index(sort);
    *out = NULL;
    if (si < 0)
        return sm_error_set(err, SM_EINVAL, "sort must be " STATS_SORTS);
    if (limit < 1 || limit > STATS_LIMIT_MAX || with < 0 || with > STATS_WITH_MAX)
        return sm_error_set(err, SM_EINVAL, "limit or with out of range");

    int64_t version = 0;
    json_t *built_at = NULL;
    int rc = index_header(d, &version, &built_at, err);
    if (rc)
        return rc;

    char sql[1536];
    snprintf(sql, sizeof sql,
             "WITH cur AS (SELECT current_version AS v, built_at AS b FROM ml_index_versions "
             "WHERE name = 'product_stats'), "
             "top AS (SELECT s.product_id, s.units_sold, s.order_count, s.revenue_cents, "
             "s.last_sold_at FROM cur JOIN product_stats s ON s.version = cur.v "
             "ORDER BY s.%s DESC, s.product_id LIMIT $1) "
             "SELECT top.product_id, p.name, p.currency, p.active, top.units_sold, "
             "top.order_count, top.revenue_cents, top.last_sold_at, n.neighbour_id, q.name, "
             "n.together, cur.v, cur.b "
             "FROM top CROSS JOIN cur JOIN products p ON p.id = top.product_id "
             "LEFT JOIN product_neighbours n ON n.version = cur.v "
             "AND n.product_id = top.product_id AND n.rank <= $2 "
             "LEFT JOIN products q ON q.id = n.neighbour_id "
             "ORDER BY top.%s DESC, top.product_id, n.rank",
             g_sorts[si].column, g_sorts[si].column);
    db_value p[] = {DB_I(limit), DB_I(with)};
    db_result *r = NULL;
    json_t *items = json_array();
    if (!items) {
        json_decref(built_at);
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    }
    if ((rc = db_query(d, sql, p, 2, &r, err)))
        goto fail;
    if (db_result_rows(r) > 0) { /* the rows' own snapshot: the header may be a build older */
        version = db_result_int(r, 0, C_VERSION);
        json_decref(built_at);
        if (!(built_at = catjson_time(db_result_int(r, 0, C_BUILT))))
            goto oom;
    }
    json_t *item = NULL;
    int64_t last_id = -1;
    for (int i = 0; i < db_result_rows(r); i++) {
        if (db_result_int(r, i, C_ID) != last_id) {
            last_id = db_result_int(r, i, C_ID);
            if (!(item = item_from_row(r, i)) || json_array_append_new(items, item))
                goto oom;
        }
        if (db_result_isnull(r, i, C_NID))
            continue;
        json_t *nb = json_pack("{sI ss sI}", "product_id", (json_int_t)db_result_int(r, i, C_NID),
                               "name", db_result_text(r, i, C_NNAME), "together",
                               (json_int_t)db_result_int(r, i, C_TOGETHER));
        if (!nb || json_array_append_new(json_object_get(item, "bought_with"), nb))
            goto oom;
    }
    db_result_free(r);
    *out = json_pack("{sI so ss so}", "version", (json_int_t)version, "built_at", built_at, "sort",
                     g_sorts[si].name, "items", items);
    return *out ? 0 : sm_error_set(err, SM_ENOMEM, "out of memory");
oom:
    rc = sm_error_set(err, SM_ENOMEM, "out of memory");
fail:
    db_result_free(r);
    json_decref(items);
    json_decref(built_at);
    return rc;
}
