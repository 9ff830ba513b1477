/* test_seed.c — the demo data generator: reproducible, counted right,
 * consistent, refusing to mix into existing data, with baskets whose
 * co-purchases follow the bundles (far above chance) and customers whose
 * orders follow lasting tastes, on SQLite and, when SM_TEST_POSTGRES_URL
 * is set, PostgreSQL. */
#include "db/db_fixture.h"

#include "core/clock.h"
#include "db/migrations.h"
#include "shop/seed.h"
#include "shop/seed_catalog.h"

#define FIRST_PRODUCTS 20
#define ROW_TEXT 2048

typedef struct product_row {
    char text[ROW_TEXT]; /* name|description|price|brand|attributes|category slug */
} product_row;

static void seed_opts(seed_options *o, int64_t products, int64_t users, int64_t orders,
                      uint64_t seed)
{
    seed_options_init(o);
    o->products = products;
    o->users = users;
    o->orders = orders;
    o->random_seed = seed;
}

static int64_t count(db *d, const char *sql)
{
    db_result *r = NULL;
    OK(db_query(d, sql, NULL, 0, &r, &g_err));
    int64_t n = db_result_int(r, 0, 0);
    db_result_free(r);
    return n;
}

static void read_first_products(db *d, product_row *rows)
{
    db_result *r = NULL;
    OK(db_query(d,
                "SELECT p.name, p.description, p.price_cents, p.brand, p.attributes, c.slug, "
                "p.stock FROM products p JOIN categories c ON c.id = p.category_id "
                "ORDER BY p.id LIMIT 20",
                NULL, 0, &r, &g_err));
    assert_int_equal(db_result_rows(r), FIRST_PRODUCTS);
    for (int i = 0; i < FIRST_PRODUCTS; i++)
        snprintf(rows[i].text, ROW_TEXT, "%s|%s|%lld|%s|%s|%s|%lld", db_result_text(r, i, 0),
                 db_result_text(r, i, 1), (long long)db_result_int(r, i, 2),
                 db_result_text(r, i, 3), db_result_text(r, i, 4), db_result_text(r, i, 5),
                 (long long)db_result_int(r, i, 6));
    db_result_free(r);
}

static void wipe(db *d)
{
    OK(db_exec_script(d,
                      "DELETE FROM order_items; DELETE FROM orders; DELETE FROM products; "
                      "DELETE FROM users; DELETE FROM categories",
                      &g_err));
}

static void seed_same_seed_gives_same_products(void **state)
{
    fixture *f = *state;
    static product_row a[FIRST_PRODUCTS], b[FIRST_PRODUCTS], c[FIRST_PRODUCTS];
    seed_options o;
    OK(db_migrate(f->d, NULL, &g_err));

    seed_opts(&o, 100, 10, 50, 7);
    OK(seed_run(f->d, &o, NULL, &g_err));
    read_first_products(f->d, a);
    wipe(f->d);
    seed_opts(&o, 100, 0, 0, 7); /* fewer users and orders: same catalogue */
    OK(seed_run(f->d, &o, NULL, &g_err));
    read_first_products(f->d, b);
    wipe(f->d);
    seed_opts(&o, 100, 0, 0, 8);
    OK(seed_run(f->d, &o, NULL, &g_err));
    read_first_products(f->d, c);

    int differ = 0;
    for (int i = 0; i < FIRST_PRODUCTS; i++) {
        assert_string_equal(a[i].text, b[i].text);
        differ += strcmp(a[i].text, c[i].text) != 0;
    }
    assert_true(differ > FIRST_PRODUCTS / 2);
}

static void seed_counts_and_totals_are_consistent(void **state)
{
    fixture *f = *state;
    seed_options o;
    seed_stats st;
    OK(db_migrate(f->d, NULL, &g_err));
    seed_opts(&o, 300, 40, 500, 1);
    OK(seed_run(f->d, &o, &st, &g_err));

    assert_int_equal(st.products, 300);
    assert_int_equal(st.users, 40);
    assert_int_equal(st.orders, 500);
    assert_true(st.categories > 30);
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM products"), 300);
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM users WHERE role = 'customer'"), 40);
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM orders"), 500);
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM order_items"), st.order_items);
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM categories"), st.categories);
    /* About 3 lines per order on average. */
    assert_true(st.order_items > 500 * 2.5 && st.order_items < 500 * 3.5);
    /* Totals are the sum of their lines; lines are price × quantity. */
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM orders o WHERE o.total_cents <> "
                                 "(SELECT SUM(line_total_cents) FROM order_items i "
                                 "WHERE i.order_id = o.id)"),
                     0);
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM order_items "
                                 "WHERE line_total_cents <> unit_price_cents * quantity"),
                     0);
    /* Every status appears; dates lie within the last 366 days. */
    assert_int_equal(count(f->d, "SELECT COUNT(DISTINCT status) FROM orders"), 5);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM orders WHERE created_at < %lld",
             (long long)(clock_now_ms() - 366LL * 86400000));
    assert_int_equal(count(f->d, sql), 0);
    /* Emails are prenom.nom.N@example.com; products have their image. */
    assert_int_equal(
        count(f->d, "SELECT COUNT(*) FROM users WHERE email NOT LIKE '%.%.%@example.com'"), 0);
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM products "
                                 "WHERE image_url <> '/static/img/placeholder.svg'"),
                     0);
}

static void seed_refuses_a_database_with_data_unless_append(void **state)
{
    fixture *f = *state;
    seed_options o;
    seed_stats st;
    bool empty = false;
    OK(db_migrate(f->d, NULL, &g_err));
    OK(seed_database_is_empty(f->d, &empty, &g_err));
    assert_true(empty);
    seed_opts(&o, 50, 10, 20, 3);
    OK(seed_run(f->d, &o, NULL, &g_err));
    OK(seed_database_is_empty(f->d, &empty, &g_err));
    assert_false(empty);

    assert_int_equal(seed_run(f->d, &o, NULL, &g_err), SM_ECONFLICT);
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM products"), 50);

    o.append = true;
    OK(seed_run(f->d, &o, &st, &g_err));
    assert_int_equal(st.categories, 0); /* reused by slug */
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM products"), 100);
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM orders"), 40);

    /* Orders only, drawing from what exists. */
    seed_opts(&o, 0, 0, 10, 4);
    o.append = true;
    OK(seed_run(f->d, &o, NULL, &g_err));
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM orders"), 50);

    /* After seeding, the identity sequences (PostgreSQL) are past the ids. */
    OK(db_exec(f->d,
               "INSERT INTO categories (name, slug, created_at) VALUES ('x', 'x-after-seed', 0)",
               NULL, 0, NULL, &g_err));
    OK(db_exec(f->d,
               "INSERT INTO products (name, price_cents, currency, stock, created_at, "
               "updated_at) VALUES ('after', 1, 'EUR', 1, 0, 0)",
               NULL, 0, NULL, &g_err));
}

static void seed_rejects_bad_options(void **state)
{
    fixture *f = *state;
    seed_options o;
    OK(db_migrate(f->d, NULL, &g_err));
    seed_opts(&o, 10, 0, 5, 1); /* orders without customers */
    assert_int_equal(seed_run(f->d, &o, NULL, &g_err), SM_EINVAL);
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM products"), 0); /* rolled back */
    seed_opts(&o, SEED_MAX_PRODUCTS + 1, 0, 0, 1);
    assert_int_equal(seed_run(f->d, &o, NULL, &g_err), SM_EINVAL);
    seed_opts(&o, 10, 0, 0, 1);
    o.lines_per_order = 0.5;
    assert_int_equal(seed_run(f->d, &o, NULL, &g_err), SM_EINVAL);
}

static const char *slug_of(db *d, int64_t product_id, char *buf, size_t len)
{
    db_result *r = NULL;
    db_value p[] = {DB_I(product_id)};
    OK(db_query(d,
                "SELECT c.slug FROM products p JOIN categories c ON c.id = p.category_id "
                "WHERE p.id = $1",
                p, 1, &r, &g_err));
    snprintf(buf, len, "%s", db_result_rows(r) ? db_result_text(r, 0, 0) : "");
    db_result_free(r);
    return buf;
}

static bool template_pairs(const char *a, const char *b)
{
    for (int t = 0; t < seed_bundle_template_count; t++) {
        bool has_a = false, has_b = false;
        for (int j = 0; seed_bundle_templates[t].slugs[j]; j++) {
            const char *s = seed_bundle_templates[t].slugs[j];
            if (!strcmp(s, a) && !has_a)
                has_a = true;
            else if (!strcmp(s, b))
                has_b = true;
        }
        if (has_a && has_b)
            return true;
    }
    return false;
}

/* The most frequent pairs of products bought together are bundle pairs
 * (complementary subcategories), with a lift far above 1 (chance); the
 * few others pair two best-sellers. */
static void seed_orders_follow_bundles(void **state)
{
    fixture *f = *state;
    seed_options o;
    OK(db_migrate(f->d, NULL, &g_err));
    seed_opts(&o, 400, 200, 4000, 11);
    OK(seed_run(f->d, &o, NULL, &g_err));
    int64_t norders = count(f->d, "SELECT COUNT(*) FROM orders");

    db_result *pairs = NULL;
    OK(db_query(f->d,
                "SELECT a.product_id, b.product_id, COUNT(*) AS n FROM order_items a "
                "JOIN order_items b ON a.order_id = b.order_id AND a.product_id < b.product_id "
                "GROUP BY a.product_id, b.product_id ORDER BY n DESC, 1, 2 LIMIT 30",
                NULL, 0, &pairs, &g_err));
    assert_int_equal(db_result_rows(pairs), 30);
    int complementary = 0, high_lift = 0;
    for (int i = 0; i < 30; i++) {
        int64_t a = db_result_int(pairs, i, 0), b = db_result_int(pairs, i, 1);
        int64_t nab = db_result_int(pairs, i, 2);
        char sql[128], sa[64], sb[64];
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM order_items WHERE product_id = %lld",
                 (long long)a);
        int64_t na = count(f->d, sql);
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM order_items WHERE product_id = %lld",
                 (long long)b);
        int64_t nb = count(f->d, sql);
        double lift = (double)nab * (double)norders / ((double)na * (double)nb);
        high_lift += lift > 5.0;
        slug_of(f->d, a, sa, sizeof sa);
        slug_of(f->d, b, sb, sizeof sb);
        complementary += template_pairs(sa, sb) || template_pairs(sb, sa);
    }
    db_result_free(pairs);
    assert_true(high_lift >= 24);
    assert_true(complementary >= 24);
}

/* Order history checksum that ignores the clock (dates follow `now`). */
static int64_t orders_checksum(db *d)
{
    return count(d, "SELECT COALESCE(SUM(i.order_id * 1000003 + i.product_id * 7919 + "
                    "o.user_id * 31 + i.quantity), 0) FROM order_items i "
                    "JOIN orders o ON o.id = i.order_id");
}

/* Customers have lasting tastes: those with 4 orders or more buy mostly in
 * one top-level category, far above that category's share of all lines.
 * Order counts are heavy-tailed, ids grow with dates (each customer's last
 * order is their latest), nobody orders before signing up, and the same
 * seed gives the same histories. */
static void seed_customers_have_lasting_tastes(void **state)
{
    fixture *f = *state;
    seed_options o;
    OK(db_migrate(f->d, NULL, &g_err));
    seed_opts(&o, 1000, 300, 6000, 5);
    OK(seed_run(f->d, &o, NULL, &g_err));

    enum { TOPS_MAX = 64 };
    int64_t global[TOPS_MAX] = {0}, all = 0;
    db_result *r = NULL;
    OK(db_query(f->d,
                "SELECT COALESCE(c.parent_id, c.id), COUNT(*) FROM order_items i "
                "JOIN products p ON p.id = i.product_id JOIN categories c ON c.id = p.category_id "
                "GROUP BY 1",
                NULL, 0, &r, &g_err));
    for (int i = 0; i < db_result_rows(r); i++) {
        int64_t top = db_result_int(r, i, 0);
        assert_true(top > 0 && top < TOPS_MAX);
        global[top] = db_result_int(r, i, 1);
        all += global[top];
    }
    db_result_free(r);

    /* Per customer with >= 4 orders: lines per top category, largest first. */
    OK(db_query(f->d,
                "SELECT o.user_id, COALESCE(c.parent_id, c.id), COUNT(*), "
                "(SELECT COUNT(*) FROM order_items i2 JOIN orders o2 ON o2.id = i2.order_id "
                "WHERE o2.user_id = o.user_id) FROM order_items i "
                "JOIN orders o ON o.id = i.order_id JOIN products p ON p.id = i.product_id "
                "JOIN categories c ON c.id = p.category_id "
                "WHERE o.user_id IN (SELECT user_id FROM orders GROUP BY user_id "
                "HAVING COUNT(*) >= 4) GROUP BY o.user_id, 2 ORDER BY o.user_id, 3 DESC, 2",
                NULL, 0, &r, &g_err));
    double own = 0, base = 0;
    int customers = 0;
    for (int i = 0; i < db_result_rows(r); i++) {
        if (i > 0 && db_result_int(r, i, 0) == db_result_int(r, i - 1, 0))
            continue; /* the first row of each customer is their top category */
        own += (double)db_result_int(r, i, 2) / (double)db_result_int(r, i, 3);
        base += (double)global[db_result_int(r, i, 1)] / (double)all;
        customers++;
    }
    db_result_free(r);
    assert_true(customers > 100);
    own /= customers;
    base /= customers;
    assert_true(own > 0.45);
    assert_true(own > 3.0 * base);

    /* Heavy tail: many customers with one or two orders, some with 20+. */
    int64_t buyers = count(f->d, "SELECT COUNT(DISTINCT user_id) FROM orders");
    int64_t few = count(f->d, "SELECT COUNT(*) FROM (SELECT user_id FROM orders "
                              "GROUP BY user_id HAVING COUNT(*) <= 2) t");
    int64_t many = count(f->d, "SELECT COUNT(*) FROM (SELECT user_id FROM orders "
                               "GROUP BY user_id HAVING COUNT(*) >= 20) t");
    assert_true(few * 10 > buyers);
    assert_true(many * 10 > buyers);
    /* Dates grow with ids; no order before its customer's account. */
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM (SELECT created_at, LAG(created_at) "
                                 "OVER (ORDER BY id) AS prev FROM orders) t "
                                 "WHERE prev > created_at"),
                     0);
    assert_int_equal(count(f->d, "SELECT COUNT(*) FROM orders o JOIN users u "
                                 "ON u.id = o.user_id WHERE o.created_at < u.created_at"),
                     0);

    int64_t sum = orders_checksum(f->d);
    wipe(f->d);
    OK(seed_run(f->d, &o, NULL, &g_err));
    assert_true(orders_checksum(f->d) == sum);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(seed_same_seed_gives_same_products),
        FIXTURE_TEST(seed_counts_and_totals_are_consistent),
        FIXTURE_TEST(seed_refuses_a_database_with_data_unless_append),
        FIXTURE_TEST(seed_rejects_bad_options),
        FIXTURE_TEST(seed_orders_follow_bundles),
        FIXTURE_TEST(seed_customers_have_lasting_tastes),
    };
    return fixture_run_both("seed", tests, sizeof tests / sizeof tests[0]);
}
