/* test_stats.c — the best-sellers reader (shop/stats.c) on SQLite and
 * PostgreSQL: index rows written by hand under a current and a stale
 * version, read back by each sort, with the neighbour bound, the empty
 * index and bad arguments. The builder (rebuild_ml_indexes) has its own
 * test in tests/unit/jobs/test_tasks.c; the endpoint, tests/e2e/stats.test.js. */
#include "db/db_fixture.h"

#include <jansson.h>

#include "db/migrations.h"
#include "shop/stats.h"

#define T0 1710028800000LL /* 2024-03-10T00:00:00Z */

static void exec(db *d, const char *sql)
{
    if (db_exec_script(d, sql, &g_err) != 0)
        fail_msg("%s: %s", sql, g_err.message);
}

/* Products 1 Pen, 2 Book, 3 Mug, 4 Lamp (inactive). Version 2 is current;
 * version 1 is a stale build whose rows must never show. */
static void seed(db *d)
{
    OK(db_migrate(d, NULL, &g_err));
    char sql[4096];
    snprintf(sql, sizeof sql,
             "INSERT INTO products (id, name, price_cents, currency, stock, active, created_at, "
             "updated_at) VALUES (1, 'Pen', 150, 'EUR', 100, 1, 0, 0),"
             " (2, 'Book', 1234, 'EUR', 100, 1, 0, 0), (3, 'Mug', 999, 'EUR', 100, 1, 0, 0),"
             " (4, 'Lamp', 100, 'EUR', 100, 0, 0, 0);"
             "UPDATE ml_index_versions SET current_version = 2, next_version = 2, built_at = %lld "
             "WHERE name = 'product_stats';"
             "INSERT INTO product_stats (version, product_id, units_sold, order_count, "
             "revenue_cents, last_sold_at) VALUES (1, 4, 999, 999, 999999, %lld),"
             " (2, 1, 3, 2, 450, %lld), (2, 2, 2, 2, 2468, %lld), (2, 3, 4, 2, 3996, %lld),"
             " (2, 4, 1, 1, 100, %lld);"
             "INSERT INTO product_neighbours (version, product_id, rank, neighbour_id, together) "
             "VALUES (1, 1, 1, 4, 9), (2, 1, 1, 2, 1), (2, 1, 2, 3, 1), (2, 2, 1, 1, 1),"
             " (2, 2, 2, 3, 1), (2, 3, 1, 1, 1), (2, 3, 2, 2, 1)",
             T0 + 86400000LL, T0 + 86400000LL, T0 + 3600000LL, T0 + 86405000LL, T0 + 86405000LL,
             T0);
    exec(d, sql);
}

/* The ids of `out`'s items as "1,2,3", and of each item's bought_with as
 * "2,3|1|…" (one field per item). */
static void item_ids(json_t *out, char *ids, size_t n, char *with, size_t wn)
{
    size_t a = 0, b = 0, i, j;
    json_t *it, *nb;
    ids[0] = with[0] = '\0';
    json_array_foreach(json_object_get(out, "items"), i, it)
    {
        a += (size_t)snprintf(ids + a, n - a, "%s%lld", i ? "," : "",
                              (long long)json_integer_value(json_object_get(it, "product_id")));
        b += (size_t)snprintf(with + b, wn - b, "%s", i ? "|" : "");
        json_array_foreach(json_object_get(it, "bought_with"), j, nb) b +=
            (size_t)snprintf(with + b, wn - b, "%s%lld", j ? "," : "",
                             (long long)json_integer_value(json_object_get(nb, "product_id")));
    }
}

static void stats_before_the_first_build_are_empty(void **state)
{
    fixture *f = *state;
    OK(db_migrate(f->d, NULL, &g_err));
    json_t *out = NULL;
    OK(stats_top_products(f->d, "revenue", 10, 3, &out, &g_err));
    assert_int_equal(json_integer_value(json_object_get(out, "version")), 0);
    assert_true(json_is_null(json_object_get(out, "built_at")));
    assert_string_equal(json_string_value(json_object_get(out, "sort")), "revenue");
    assert_int_equal(json_array_size(json_object_get(out, "items")), 0);
    json_decref(out);
}

static void stats_top_products_reads_the_current_version_by_each_sort(void **state)
{
    fixture *f = *state;
    seed(f->d);
    json_t *out = NULL;
    char ids[128], with[128];

    /* Revenue: Mug, Book, Pen, Lamp; the stale build's 999999 never shows. */
    OK(stats_top_products(f->d, "revenue", 10, 3, &out, &g_err));
    assert_int_equal(json_integer_value(json_object_get(out, "version")), 2);
    assert_string_equal(json_string_value(json_object_get(out, "built_at")),
                        "2024-03-11T00:00:00.000Z");
    item_ids(out, ids, sizeof ids, with, sizeof with);
    assert_string_equal(ids, "3,2,1,4");
    assert_string_equal(with, "1,2|1,3|2,3|");
    json_t *items = json_object_get(out, "items");
    json_t *mug = json_array_get(items, 0);
    assert_string_equal(json_string_value(json_object_get(mug, "name")), "Mug");
    assert_string_equal(json_string_value(json_object_get(mug, "currency")), "EUR");
    assert_int_equal(json_integer_value(json_object_get(mug, "units_sold")), 4);
    assert_int_equal(json_integer_value(json_object_get(mug, "order_count")), 2);
    assert_int_equal(json_integer_value(json_object_get(mug, "revenue_cents")), 3996);
    assert_string_equal(json_string_value(json_object_get(mug, "last_sold_at")),
                        "2024-03-11T00:00:05.000Z");
    assert_true(json_is_true(json_object_get(mug, "active")));
    assert_true(json_is_false(json_object_get(json_array_get(items, 3), "active")));
    json_t *nb = json_array_get(json_object_get(mug, "bought_with"), 1);
    assert_string_equal(json_string_value(json_object_get(nb, "name")), "Book");
    assert_int_equal(json_integer_value(json_object_get(nb, "together")), 1);
    json_decref(out);

    /* Units, two products, one neighbour each: the bound is by rank. */
    OK(stats_top_products(f->d, "units", 2, 1, &out, &g_err));
    item_ids(out, ids, sizeof ids, with, sizeof with);
    assert_string_equal(ids, "3,1");
    assert_string_equal(with, "1|2");
    json_decref(out);
    /* Orders: three tie at 2, so by id; no neighbours asked. */
    OK(stats_top_products(f->d, "orders", 10, 0, &out, &g_err));
    item_ids(out, ids, sizeof ids, with, sizeof with);
    assert_string_equal(ids, "1,2,3,4");
    assert_string_equal(with, "|||");
    json_decref(out);
    /* Recent: Book and Mug tie at the latest sale, then Pen, then Lamp. */
    OK(stats_top_products(f->d, "recent", 10, 0, &out, &g_err));
    item_ids(out, ids, sizeof ids, with, sizeof with);
    assert_string_equal(ids, "2,3,1,4");
    json_decref(out);
}

static void stats_top_products_rejects_bad_arguments(void **state)
{
    fixture *f = *state;
    seed(f->d);
    json_t *out = NULL;
    assert_int_equal(stats_top_products(f->d, "price", 10, 3, &out, &g_err), SM_EINVAL);
    assert_null(out);
    assert_int_equal(stats_top_products(f->d, NULL, 10, 3, &out, &g_err), SM_EINVAL);
    assert_int_equal(stats_top_products(f->d, "units", 0, 3, &out, &g_err), SM_EINVAL);
    assert_int_equal(stats_top_products(f->d, "units", STATS_LIMIT_MAX + 1, 3, &out, &g_err),
                     SM_EINVAL);
    assert_int_equal(stats_top_products(f->d, "units", 10, -1, &out, &g_err), SM_EINVAL);
    assert_int_equal(stats_top_products(f->d, "units", 10, STATS_WITH_MAX + 1, &out, &g_err),
                     SM_EINVAL);
    assert_null(out);
    assert_string_equal(stats_sort_name("recent"), "recent");
    assert_null(stats_sort_name("Recent"));
    assert_null(stats_sort_name(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(stats_before_the_first_build_are_empty),
        FIXTURE_TEST(stats_top_products_reads_the_current_version_by_each_sort),
        FIXTURE_TEST(stats_top_products_rejects_bad_arguments),
    };
    return fixture_run_both("stats", tests, sizeof tests / sizeof tests[0]);
}
