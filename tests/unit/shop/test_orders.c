/* test_orders.c — placing orders, stock, concurrency and the status machine
 * on a real database (SQLite, and PostgreSQL when SM_TEST_POSTGRES_URL is
 * set). */
#include "test_catalog_fixture.h"

#include <jansson.h>
#include <pthread.h>

#include "shop/catalog.h"
#include "shop/orders.h"

/* Inserts an active product directly; returns its id. */
static int64_t product(db *d, const char *name, int64_t price, int64_t stock)
{
    db_result *r = NULL;
    db_value p[] = {DB_T(name), DB_I(price), DB_I(stock)};
    assert_int_equal(db_query(d,
                              "INSERT INTO products (name, price_cents, currency, stock, "
                              "created_at, updated_at) VALUES ($1, $2, 'EUR', $3, 0, 0) "
                              "RETURNING id",
                              p, 3, &r, NULL),
                     0);
    int64_t id = db_result_int(r, 0, 0);
    db_result_free(r);
    return id;
}

static int64_t stock_of(db *d, int64_t id)
{
    db_value p[] = {DB_I(id)};
    return shop_scalar(d, "SELECT stock FROM products WHERE id = $1", p, 1);
}

static int64_t count_rows(db *d, const char *table_sql)
{
    return shop_scalar(d, table_sql, NULL, 0);
}

static void order_place_decrements_stock_and_copies_prices(void **state)
{
    shop_fixture *f = *state;
    int64_t u = shop_user(f->d, "a@x.io", "customer");
    int64_t p1 = product(f->d, "Pen", 199, 10), p2 = product(f->d, "Book", 2550, 3);
    order_line lines[] = {{p2, 3}, {p1, 4}};
    int64_t id = 0;
    json_t *o = NULL;
    sm_error err = {0};
    if (order_place(f->d, u, lines, 2, &id, &o, NULL, &err))
        fail_msg("order_place: %s", err.message);
    assert_true(id > 0);
    assert_int_equal(stock_of(f->d, p1), 6);
    assert_int_equal(stock_of(f->d, p2), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "total_cents")), 3 * 2550 + 4 * 199);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "pending");
    assert_string_equal(json_string_value(json_object_get(o, "currency")), "EUR");
    json_t *items = json_object_get(o, "items");
    assert_int_equal(json_array_size(items), 2);
    json_t *l0 = json_array_get(items, 0);
    assert_int_equal(json_integer_value(json_object_get(l0, "product_id")), p2);
    assert_string_equal(json_string_value(json_object_get(l0, "name")), "Book");
    assert_int_equal(json_integer_value(json_object_get(l0, "line_total_cents")), 7650);
    json_decref(o);

    /* a later price change does not touch the order */
    db_value pp[] = {DB_I(p1)};
    assert_int_equal(
        db_exec(f->d, "UPDATE products SET price_cents = 1 WHERE id = $1", pp, 1, NULL, NULL), 0);
    assert_int_equal(order_get(f->d, id, u, &o, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "total_cents")), 8446);
    json_t *l1 = json_array_get(json_object_get(o, "items"), 1);
    assert_int_equal(json_integer_value(json_object_get(l1, "unit_price_cents")), 199);
    assert_int_equal(json_integer_value(json_object_get(l1, "quantity")), 4);
    json_decref(o);
}

static void order_place_short_line_rolls_back_everything(void **state)
{
    shop_fixture *f = *state;
    int64_t u = shop_user(f->d, "a@x.io", "customer");
    int64_t p1 = product(f->d, "Pen", 100, 10), p2 = product(f->d, "Rare", 100, 2);
    order_line lines[] = {{p1, 5}, {p2, 3}};
    order_failure fail;
    int64_t id = 0;
    json_t *o = NULL;
    assert_int_equal(order_place(f->d, u, lines, 2, &id, &o, &fail, NULL), SM_ESTOCK);
    assert_null(o);
    assert_int_equal(fail.line, 1);
    assert_int_equal(fail.product_id, p2);
    assert_string_equal(fail.name, "Rare");
    assert_int_equal(fail.requested, 3);
    assert_int_equal(fail.available, 2);
    assert_int_equal(stock_of(f->d, p1), 10);
    assert_int_equal(stock_of(f->d, p2), 2);
    assert_int_equal(count_rows(f->d, "SELECT count(*) FROM orders"), 0);
    assert_int_equal(count_rows(f->d, "SELECT count(*) FROM order_items"), 0);
    assert_false(db_in_transaction(f->d));
}

static void order_place_validates_lines(void **state)
{
    shop_fixture *f = *state;
    int64_t u = shop_user(f->d, "a@x.io", "customer");
    int64_t p1 = product(f->d, "Pen", 100, 10000), p2 = product(f->d, "Gone", 100, 5);
    db_value pp[] = {DB_I(p2)};
    assert_int_equal(
        db_exec(f->d, "UPDATE products SET active = 0 WHERE id = $1", pp, 1, NULL, NULL), 0);
    order_failure fail;
    int64_t id = 0;

    order_line dup[] = {{p1, 1}, {p1, 2}};
    assert_int_equal(order_place(f->d, u, dup, 2, &id, NULL, &fail, NULL), SM_EINVAL);
    assert_int_equal(fail.line, 1);
    assert_string_equal(fail.field, "product_id");
    order_line zero[] = {{p1, 0}};
    assert_int_equal(order_place(f->d, u, zero, 1, &id, NULL, &fail, NULL), SM_EINVAL);
    assert_string_equal(fail.field, "quantity");
    order_line many[] = {{p1, 1001}};
    assert_int_equal(order_place(f->d, u, many, 1, &id, NULL, &fail, NULL), SM_EINVAL);
    assert_int_equal(order_place(f->d, u, many, 0, &id, NULL, &fail, NULL), SM_EINVAL);
    assert_string_equal(fail.field, "items");
    order_line lots[ORDER_LINES_MAX + 1];
    for (int i = 0; i <= ORDER_LINES_MAX; i++)
        lots[i] = (order_line){p1 + 100 + i, 1};
    assert_int_equal(order_place(f->d, u, lots, ORDER_LINES_MAX + 1, &id, NULL, &fail, NULL),
                     SM_EINVAL);
    order_line inactive[] = {{p1, 1}, {p2, 1}};
    assert_int_equal(order_place(f->d, u, inactive, 2, &id, NULL, &fail, NULL), SM_EINVAL);
    assert_int_equal(fail.line, 1);
    order_line missing[] = {{p1 + 999, 1}};
    assert_int_equal(order_place(f->d, u, missing, 1, &id, NULL, &fail, NULL), SM_EINVAL);
    assert_int_equal(stock_of(f->d, p1), 10000);
    assert_int_equal(count_rows(f->d, "SELECT count(*) FROM orders"), 0);

    /* the biggest order allowed: totals stay exact in int64 cents */
    db_value big[] = {DB_I(p1)};
    assert_int_equal(db_exec(f->d, "UPDATE products SET price_cents = 10000000000 WHERE id = $1",
                             big, 1, NULL, NULL),
                     0);
    order_line max[] = {{p1, 1000}};
    json_t *o = NULL;
    assert_int_equal(order_place(f->d, u, max, 1, &id, &o, &fail, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "total_cents")), 10000000000000LL);
    json_decref(o);
}

typedef struct race_arg {
    const char *url;
    int64_t user_id, product_id;
    int ok, short_count, other;
} race_arg;

static void *race_worker(void *p)
{
    race_arg *a = p;
    db *d = NULL;
    if (db_open(a->url, 10000, &d, NULL) != 0) {
        a->other = 30;
        return NULL;
    }
    for (int i = 0; i < 30; i++) {
        order_line line = {a->product_id, 1};
        int64_t id;
        int rc = order_place(d, a->user_id, &line, 1, &id, NULL, NULL, NULL);
        if (rc == 0)
            a->ok++;
        else if (rc == SM_ESTOCK)
            a->short_count++;
        else
            a->other++;
    }
    db_close(d);
    return NULL;
}

static void order_place_concurrent_never_oversells(void **state)
{
    shop_fixture *f = *state;
    int64_t u = shop_user(f->d, "a@x.io", "customer");
    int64_t p = product(f->d, "Hot", 100, 50);
    pthread_t t[4];
    race_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (race_arg){.url = f->url, .user_id = u, .product_id = p};
        assert_int_equal(pthread_create(&t[i], NULL, race_worker, &args[i]), 0);
    }
    int ok = 0, short_count = 0, other = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ok += args[i].ok;
        short_count += args[i].short_count;
        other += args[i].other;
    }
    assert_int_equal(other, 0);
    assert_int_equal(ok, 50);
    assert_int_equal(short_count, 70);
    assert_int_equal(stock_of(f->d, p), 0);
    assert_int_equal(count_rows(f->d, "SELECT count(*) FROM orders"), 50);
    assert_int_equal(count_rows(f->d, "SELECT COALESCE(sum(quantity), 0) FROM order_items"), 50);
}

static int64_t place(db *d, int64_t user, int64_t product_id, int64_t qty)
{
    order_line l = {product_id, qty};
    int64_t id = 0;
    assert_int_equal(order_place(d, user, &l, 1, &id, NULL, NULL, NULL), 0);
    return id;
}

static void order_status_machine(void **state)
{
    shop_fixture *f = *state;
    int64_t u = shop_user(f->d, "a@x.io", "customer");
    int64_t other = shop_user(f->d, "b@x.io", "customer");
    int64_t staff = shop_user(f->d, "s@x.io", "staff");
    int64_t p = product(f->d, "Pen", 100, 10);
    int64_t o1 = place(f->d, u, p, 2), o2 = place(f->d, u, p, 3);
    json_t *o = NULL;
    assert_int_equal(stock_of(f->d, p), 5);

    /* customers: only their own pending order, only to cancelled */
    assert_int_equal(order_set_status(f->d, o1, "paid", u, false, &o, NULL), SM_EFORBIDDEN);
    assert_int_equal(order_set_status(f->d, o1, "cancelled", other, false, &o, NULL), SM_ENOTFOUND);
    assert_int_equal(order_set_status(f->d, o1, "cancelled", u, false, &o, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "cancelled");
    json_decref(o);
    assert_int_equal(stock_of(f->d, p), 7);
    assert_int_equal(order_set_status(f->d, o1, "cancelled", u, false, &o, NULL), SM_ECONFLICT);
    assert_int_equal(order_set_status(f->d, o1, "paid", staff, true, &o, NULL), SM_ECONFLICT);
    assert_int_equal(stock_of(f->d, p), 7);

    /* staff: forward through the machine; no skipping, no going back */
    assert_int_equal(order_set_status(f->d, o2, "shipped", staff, true, &o, NULL), SM_ECONFLICT);
    assert_int_equal(order_set_status(f->d, o2, "paid", staff, true, NULL, NULL), 0);
    assert_int_equal(order_set_status(f->d, o2, "pending", staff, true, NULL, NULL), SM_ECONFLICT);
    assert_int_equal(order_set_status(f->d, o2, "cancelled", u, false, NULL, NULL), SM_ECONFLICT);
    assert_int_equal(order_set_status(f->d, o2, "shipped", staff, true, NULL, NULL), 0);
    assert_int_equal(order_set_status(f->d, o2, "cancelled", staff, true, NULL, NULL),
                     SM_ECONFLICT);
    assert_int_equal(order_set_status(f->d, o2, "delivered", staff, true, NULL, NULL), 0);
    assert_int_equal(order_set_status(f->d, o2, "bogus", staff, true, NULL, NULL), SM_EINVAL);
    assert_int_equal(order_set_status(f->d, o2 + 50, "paid", staff, true, NULL, NULL),
                     SM_ENOTFOUND);
    assert_int_equal(stock_of(f->d, p), 7);

    /* paid → cancelled restores stock too */
    int64_t o3 = place(f->d, u, p, 4);
    assert_int_equal(order_set_status(f->d, o3, "paid", staff, true, NULL, NULL), 0);
    assert_int_equal(stock_of(f->d, p), 3);
    assert_int_equal(order_set_status(f->d, o3, "cancelled", staff, true, NULL, NULL), 0);
    assert_int_equal(stock_of(f->d, p), 7);
}

static void order_list_scopes_and_pages(void **state)
{
    shop_fixture *f = *state;
    int64_t u = shop_user(f->d, "a@x.io", "customer");
    int64_t other = shop_user(f->d, "b@x.io", "customer");
    int64_t p = product(f->d, "Pen", 100, 100), q = product(f->d, "Ink", 5, 100);
    for (int i = 0; i < 5; i++) {
        order_line l[] = {{p, 1}, {q, i + 1}};
        int64_t id;
        assert_int_equal(order_place(f->d, i < 3 ? u : other, l, 2, &id, NULL, NULL, NULL), 0);
    }
    order_list_params lp;
    json_t *details = json_object(), *list = NULL;
    order_list_params_init(&lp);
    lp.user_id = u;
    lp.page_size = 2;
    assert_int_equal(order_list(f->d, &lp, &list, details, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(list, "total")), 3);
    assert_int_equal(json_integer_value(json_object_get(list, "pages")), 2);
    json_t *items = json_object_get(list, "items");
    assert_int_equal(json_array_size(items), 2);
    json_t *first = json_array_get(items, 0); /* newest first: the third order */
    assert_int_equal(json_integer_value(json_object_get(first, "user_id")), u);
    assert_int_equal(json_array_size(json_object_get(first, "items")), 2);
    assert_int_equal(json_integer_value(json_object_get(first, "total_cents")), 100 + 3 * 5);
    json_decref(list);

    order_list_params_init(&lp);
    assert_int_equal(order_list(f->d, &lp, &list, details, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(list, "total")), 5);
    json_decref(list);

    lp.status = "paid";
    assert_int_equal(order_list(f->d, &lp, &list, details, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(list, "total")), 0);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
    json_decref(list);
    list = NULL;

    lp.status = "lost";
    lp.page = 0;
    assert_int_equal(order_list(f->d, &lp, &list, details, NULL), SM_EINVAL);
    assert_non_null(json_object_get(details, "status"));
    assert_non_null(json_object_get(details, "page"));
    json_decref(details);

    json_t *o = NULL;
    assert_int_equal(order_get(f->d, 1, other, &o, NULL), SM_ENOTFOUND);
    assert_int_equal(order_get(f->d, 1, 0, &o, NULL), 0);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SHOP_TEST(order_place_decrements_stock_and_copies_prices),
        SHOP_TEST(order_place_short_line_rolls_back_everything),
        SHOP_TEST(order_place_validates_lines),
        SHOP_TEST(order_place_concurrent_never_oversells),
        SHOP_TEST(order_status_machine),
        SHOP_TEST(order_list_scopes_and_pages),
    };
    return shop_run_groups("orders", tests, sizeof tests / sizeof tests[0]) ? 1 : 0;
}
