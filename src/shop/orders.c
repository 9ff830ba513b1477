/* orders.c — order placement, reading and status changes.
 *
 * order_place() is the hot path (POST /api/orders/), so it runs as few
 * statements as it can, each with a fixed SQL text the driver has prepared
 * already: BEGIN (IMMEDIATE on SQLite), one UPDATE … RETURNING per line that
 * both checks and decrements the stock and reads the name, price and
 * currency, one INSERT for the order, one per line, COMMIT. Only when a
 * line's UPDATE matches no row does a SELECT find out why (missing,
 * inactive, or short) — the failure path may be slower.
 *
 * Lines are decremented in product-id order, whatever the request's order:
 * on PostgreSQL each UPDATE takes a row lock held until commit, and a common
 * lock order means two orders sharing products can never deadlock. The
 * conditional `stock >= $1` is re-checked by PostgreSQL on the newest row
 * version after waiting for a concurrent writer (READ COMMITTED), so stock
 * never goes below zero; SQLite's BEGIN IMMEDIATE serialises writers.
 *
 * Orders are rendered from a join of orders and order_items ordered by
 * order then line, grouped here: one query for one order or a whole page. */
#include "shop/orders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "jobs/jobs.h"
#include "shop/catalog_json.h"

static const char *const statuses[] = {"pending", "paid", "shipped", "delivered", "cancelled"};

bool order_status_valid(const char *status)
{
    for (size_t i = 0; status && i < sizeof statuses / sizeof statuses[0]; i++)
        if (strcmp(status, statuses[i]) == 0)
            return true;
    return false;
}

static void failure_set(order_failure *f, int line, const char *field)
{
    if (f) {
        memset(f, 0, sizeof *f);
        f->line = line;
        f->field = field;
    }
}

/* Validates the request's lines and fills `order` with their indices sorted
 * by product id (the lock order). */
static int lines_check(const order_line *items, int n, int *order, order_failure *fail,
                       sm_error *err)
{
    if (n < 1 || n > ORDER_LINES_MAX) {
        failure_set(fail, -1, "items");
        return sm_error_set(err, SM_EINVAL, "an order has between 1 and %d lines", ORDER_LINES_MAX);
    }
    for (int i = 0; i < n; i++) {
        if (items[i].product_id < 1) {
            failure_set(fail, i, "product_id");
            return sm_error_set(err, SM_EINVAL, "must be a positive integer");
        }
        if (items[i].quantity < 1 || items[i].quantity > ORDER_QUANTITY_MAX) {
            failure_set(fail, i, "quantity");
            return sm_error_set(err, SM_EINVAL, "must be between 1 and %d", ORDER_QUANTITY_MAX);
        }
        /* insertion sort by product id; n ≤ 100 */
        int j = i;
        for (; j > 0 && items[order[j - 1]].product_id > items[i].product_id; j--)
            order[j] = order[j - 1];
        if (j > 0 && items[order[j - 1]].product_id == items[i].product_id) {
            failure_set(fail, i, "product_id");
            return sm_error_set(err, SM_EINVAL, "product %lld appears more than once",
                                (long long)items[i].product_id);
        }
        order[j] = i;
    }
    return 0;
}

/* After a line's UPDATE matched nothing: says why, as SM_EINVAL or SM_ESTOCK. */
static int line_diagnose(db *d, const order_line *line, int index, order_failure *fail,
                         sm_error *err)
{
    db_result *r = NULL;
    db_value p[] = {DB_I(line->product_id)};
    int rc = db_query(d, "SELECT name, stock, active FROM products WHERE id = $1", p, 1, &r, err);
    if (rc)
        return rc;
    if (db_result_rows(r) == 0 || db_result_int(r, 0, 2) == 0) {
        db_result_free(r);
        failure_set(fail, index, "product_id");
        return sm_error_set(err, SM_EINVAL, "product %lld does not exist or is not for sale",
                            (long long)line->product_id);
    }
    failure_set(fail, index, "quantity");
    if (fail) {
        fail->product_id = line->product_id;
        snprintf(fail->name, sizeof fail->name, "%s", db_result_text(r, 0, 0));
        fail->requested = line->quantity;
        fail->available = db_result_int(r, 0, 1);
    }
    rc = sm_error_set(err, SM_ESTOCK, "only %lld of product %lld in stock, %lld requested",
                      (long long)db_result_int(r, 0, 1), (long long)line->product_id,
                      (long long)line->quantity);
    db_result_free(r);
    return rc;
}

/* The order object for a freshly placed order, from what we already hold. */
static json_t *placed_json(int64_t id, int64_t user_id, int64_t total, const char *currency,
                           int64_t now, const order_line *items, int n, db_result *const *rows)
{
    json_t *lines = json_array();
    if (!lines)
        return NULL;
    for (int i = 0; i < n; i++) {
        int64_t price = db_result_int(rows[i], 0, 1);
        json_t *l = json_pack("{sI ss sI sI sI}", "product_id", (json_int_t)items[i].product_id,
                              "name", db_result_text(rows[i], 0, 0), "unit_price_cents",
                              (json_int_t)price, "quantity", (json_int_t)items[i].quantity,
                              "line_total_cents", (json_int_t)(price * items[i].quantity));
        if (!l || json_array_append_new(lines, l)) {
            json_decref(lines);
            return NULL;
        }
    }
    return json_pack("{sI sI ss sI ss so so so}", "id", (json_int_t)id, "user_id",
                     (json_int_t)user_id, "status", "pending", "total_cents", (json_int_t)total,
                     "currency", currency, "items", lines, "created_at", catjson_time(now),
                     "updated_at", catjson_time(now));
}

/* The write half of order_place(), run by db_write_tx(): possibly on the
 * group-commit writer's thread and connection, possibly more than once (a
 * batch lost to an I/O error is rerun), so it starts from a clean slate. */
typedef struct place_ctx {
    int64_t user_id, now;
    const order_line *items;
    int n;
    int order[ORDER_LINES_MAX];
    db_result *rows[ORDER_LINES_MAX]; /* per line: name, price_cents, currency */
    int64_t total, id;
    char currency[8];
    order_failure *fail;
} place_ctx;

static void place_ctx_clear_rows(place_ctx *c)
{
    for (int i = 0; i < c->n; i++) {
        db_result_free(c->rows[i]);
        c->rows[i] = NULL;
    }
}

static int place_unit(db *d, void *arg, sm_error *err)
{
    place_ctx *c = arg;
    const order_line *items = c->items;
    db_result *r = NULL;
    int rc;
    place_ctx_clear_rows(c);
    c->total = 0;
    c->currency[0] = '\0';
    for (int k = 0; k < c->n; k++) {
        int i = c->order[k];
        db_value p[] = {DB_I(items[i].quantity), DB_I(items[i].product_id), DB_I(c->now)};
        rc = db_query(d,
                      "UPDATE products SET stock = stock - $1, updated_at = $3 "
                      "WHERE id = $2 AND active = 1 AND stock >= $1 "
                      "RETURNING name, price_cents, currency",
                      p, 3, &c->rows[i], err);
        if (rc)
            return rc;
        if (db_result_rows(c->rows[i]) == 0)
            return line_diagnose(d, &items[i], i, c->fail, err);
        int64_t line_total;
        if (__builtin_mul_overflow(db_result_int(c->rows[i], 0, 1), items[i].quantity,
                                   &line_total) ||
            __builtin_add_overflow(c->total, line_total, &c->total)) {
            failure_set(c->fail, i, "quantity");
            return sm_error_set(err, SM_EINVAL, "order total out of range");
        }
        const char *cur = db_result_text(c->rows[i], 0, 2);
        if (c->currency[0] && strcmp(c->currency, cur) != 0) {
            failure_set(c->fail, i, "product_id");
            return sm_error_set(err, SM_EINVAL, "every product of an order must be in %s",
                                c->currency);
        }
        snprintf(c->currency, sizeof c->currency, "%s", cur);
    }

    db_value po[] = {DB_I(c->user_id), DB_I(c->total), DB_T(c->currency), DB_I(c->now)};
    rc = db_query(d,
                  "INSERT INTO orders (user_id, status, total_cents, currency, created_at, "
                  "updated_at) VALUES ($1, 'pending', $2, $3, $4, $4) RETURNING id",
                  po, 4, &r, err);
    if (rc)
        return rc;
    c->id = db_result_int(r, 0, 0);
    db_result_free(r);
    for (int i = 0; i < c->n; i++) {
        int64_t price = db_result_int(c->rows[i], 0, 1);
        db_value pl[] = {
            DB_I(c->id), DB_I(items[i].product_id), DB_T(db_result_text(c->rows[i], 0, 0)),
            DB_I(price), DB_I(items[i].quantity),   DB_I(price * items[i].quantity)};
        rc = db_exec(d,
                     "INSERT INTO order_items (order_id, product_id, name, unit_price_cents, "
                     "quantity, line_total_cents) VALUES ($1, $2, $3, $4, $5, $6)",
                     pl, 6, NULL, err);
        if (rc)
            return rc;
    }
    /* Outbox: the confirmation email job commits (or rolls back) with the
     * order; the unique key makes a replayed unit enqueue it once. */
    char args[48], key[64];
    snprintf(args, sizeof args, "{\"order_id\":%lld}", (long long)c->id);
    snprintf(key, sizeof key, "order:%lld:confirmation", (long long)c->id);
    return jobs_enqueue(
        d, &(jobs_new){.task = "send_order_email", .args_json = args, .unique_key = key}, NULL,
        NULL, err);
}

int order_place(db *d, int64_t user_id, const order_line *items, int n, int64_t *order_id,
                json_t **out, order_failure *fail, sm_error *err)
{
    place_ctx c = {.user_id = user_id, .now = clock_now_ms(), .items = items, .n = n, .fail = fail};
    int rc;
    if ((rc = lines_check(items, n, c.order, fail, err)))
        return rc;
    if ((rc = db_write_tx(d, place_unit, &c, err)) == 0) {
        *order_id = c.id;
        if (out) {
            *out = placed_json(c.id, user_id, c.total, c.currency, c.now, items, n, c.rows);
            if (!*out)
                rc = sm_error_set(err, SM_ENOMEM, "out of memory"); /* placed all the same */
        }
    }
    place_ctx_clear_rows(&c);
    return rc;
}

/* ---- reading ---- */

#define ORDER_COLUMNS                                                                              \
    "o.id, o.user_id, o.status, o.total_cents, o.currency, o.created_at, o.updated_at, "           \
    "i.product_id, i.name, i.unit_price_cents, i.quantity, i.line_total_cents"

/* Groups rows (ordered by order, then line) into an array of order objects. */
static json_t *orders_from_rows(const db_result *r)
{
    json_t *arr = json_array(), *lines = NULL;
    if (!arr)
        return NULL;
    for (int i = 0; i < db_result_rows(r);) {
        int64_t id = db_result_int(r, i, 0);
        json_t *o;
        if (!(lines = json_array()))
            goto fail;
        o = json_pack("{sI sI ss sI ss sO so so}", "id", (json_int_t)id, "user_id",
                      (json_int_t)db_result_int(r, i, 1), "status", db_result_text(r, i, 2),
                      "total_cents", (json_int_t)db_result_int(r, i, 3), "currency",
                      db_result_text(r, i, 4), "items", lines, "created_at",
                      catjson_time(db_result_int(r, i, 5)), "updated_at",
                      catjson_time(db_result_int(r, i, 6)));
        if (!o || json_array_append_new(arr, o))
            goto fail;
        for (; i < db_result_rows(r) && db_result_int(r, i, 0) == id; i++) {
            if (db_result_isnull(r, i, 7))
                continue; /* an order without lines (LEFT JOIN) */
            json_t *l = json_pack(
                "{sI ss sI sI sI}", "product_id", (json_int_t)db_result_int(r, i, 7), "name",
                db_result_text(r, i, 8), "unit_price_cents", (json_int_t)db_result_int(r, i, 9),
                "quantity", (json_int_t)db_result_int(r, i, 10), "line_total_cents",
                (json_int_t)db_result_int(r, i, 11));
            if (!l || json_array_append_new(lines, l))
                goto fail;
        }
        json_decref(lines);
        lines = NULL;
    }
    return arr;
fail:
    json_decref(lines);
    json_decref(arr);
    return NULL;
}

int order_get(db *d, int64_t id, int64_t owner_id, json_t **out, sm_error *err)
{
    db_result *r = NULL;
    db_value p[] = {DB_I(id)};
    int rc = db_query(d,
                      "SELECT " ORDER_COLUMNS " FROM orders o LEFT JOIN order_items i "
                      "ON i.order_id = o.id WHERE o.id = $1 ORDER BY i.id",
                      p, 1, &r, err);
    if (rc)
        return rc;
    if (db_result_rows(r) == 0 || (owner_id > 0 && db_result_int(r, 0, 1) != owner_id)) {
        db_result_free(r);
        return sm_error_set(err, SM_ENOTFOUND, "no order %lld", (long long)id);
    }
    json_t *arr = orders_from_rows(r);
    db_result_free(r);
    if (!arr)
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    *out = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    return 0;
}

void order_list_params_init(order_list_params *p)
{
    memset(p, 0, sizeof *p);
    p->page = 1;
    p->page_size = 20;
}

int order_list(db *d, const order_list_params *p, json_t **out, json_t *details, sm_error *err)
{
    char where[128], sql[1024];
    db_value params[4];
    int n = 0;
    size_t len;
    db_result *r = NULL;
    int rc;

    if (p->page < 1 || p->page > ORDER_PAGE_MAX)
        catjson_fail(details, "page", "must be between 1 and 1000000");
    if (p->page_size < 1 || p->page_size > ORDER_PAGE_SIZE_MAX)
        catjson_fail(details, "page_size", "must be between 1 and 100");
    if (p->user_id < 0)
        catjson_fail(details, "user_id", "must be a positive integer");
    if (p->status && !order_status_valid(p->status))
        catjson_fail(details, "status", "must be pending, paid, shipped, delivered or cancelled");
    if (json_object_size(details) > 0)
        return sm_error_set(err, SM_EINVAL, "invalid list parameters");

    len = (size_t)snprintf(where, sizeof where, " WHERE 1 = 1");
    if (p->user_id > 0) {
        params[n++] = DB_I(p->user_id);
        len += (size_t)snprintf(where + len, sizeof where - len, " AND o.user_id = $%d", n);
    }
    if (p->status) {
        params[n++] = DB_T(p->status);
        snprintf(where + len, sizeof where - len, " AND o.status = $%d", n);
    }
    snprintf(sql, sizeof sql, "SELECT count(*) FROM orders o%s", where);
    if ((rc = db_query(d, sql, params, n, &r, err)))
        return rc;
    int64_t total = db_result_int(r, 0, 0);
    db_result_free(r);

    params[n] = DB_I(p->page_size);
    params[n + 1] = DB_I((p->page - 1) * p->page_size);
    snprintf(sql, sizeof sql,
             "SELECT " ORDER_COLUMNS " FROM (SELECT * FROM orders o%s "
             "ORDER BY o.created_at DESC, o.id DESC LIMIT $%d OFFSET $%d) o "
             "LEFT JOIN order_items i ON i.order_id = o.id "
             "ORDER BY o.created_at DESC, o.id DESC, i.id",
             where, n + 1, n + 2);
    if ((rc = db_query(d, sql, params, n + 2, &r, err)))
        return rc;
    json_t *items = orders_from_rows(r);
    db_result_free(r);
    *out = items ? json_pack("{so sI sI sI sI}", "items", items, "page", (json_int_t)p->page,
                             "page_size", (json_int_t)p->page_size, "total", (json_int_t)total,
                             "pages", (json_int_t)((total + p->page_size - 1) / p->page_size))
                 : NULL;
    return *out ? 0 : sm_error_set(err, SM_ENOMEM, "out of memory");
}

/* ---- status machine ---- */

static bool transition_allowed(const char *from, const char *to)
{
    static const char *const allowed[][2] = {
        {"pending", "paid"},      {"paid", "shipped"},   {"shipped", "delivered"},
        {"pending", "cancelled"}, {"paid", "cancelled"},
    };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strcmp(from, allowed[i][0]) == 0 && strcmp(to, allowed[i][1]) == 0)
            return true;
    return false;
}

int order_set_status(db *d, int64_t id, const char *status, int64_t actor_id, bool actor_staff,
                     json_t **out, sm_error *err)
{
    db_result *r = NULL;
    int64_t now = clock_now_ms();
    char from[16];
    int rc;

    if (!order_status_valid(status))
        return sm_error_set(err, SM_EINVAL, "unknown status");
    if ((rc = db_begin(d, true, err)))
        return rc;
    db_value pid[] = {DB_I(id)};
    if ((rc = db_query(d, "SELECT user_id, status FROM orders WHERE id = $1", pid, 1, &r, err)))
        goto fail;
    if (db_result_rows(r) == 0 || (!actor_staff && db_result_int(r, 0, 0) != actor_id)) {
        rc = sm_error_set(err, SM_ENOTFOUND, "no order %lld", (long long)id);
        goto fail;
    }
    snprintf(from, sizeof from, "%s", db_result_text(r, 0, 1));
    if (!actor_staff && strcmp(status, "cancelled") != 0) {
        rc = sm_error_set(err, SM_EFORBIDDEN, "customers may only cancel their orders");
        goto fail;
    }
    if (!transition_allowed(from, status)) {
        rc = sm_error_set(err, SM_ECONFLICT, "cannot move an order from %s to %s", from, status);
        goto fail;
    }
    if (!actor_staff && strcmp(from, "pending") != 0) {
        rc = sm_error_set(err, SM_ECONFLICT, "customers may only cancel a pending order");
        goto fail;
    }
    db_value pu[] = {DB_I(id), DB_T(status), DB_I(now), {.type = DB_TEXT, .s = from}};
    int64_t affected = 0;
    rc = db_exec(d, "UPDATE orders SET status = $2, updated_at = $3 WHERE id = $1 AND status = $4",
                 pu, 4, &affected, err);
    if (rc)
        goto fail;
    if (affected != 1) {
        rc = sm_error_set(err, SM_ECONFLICT, "the order changed meanwhile");
        goto fail;
    }
    if (strcmp(status, "cancelled") == 0) {
        db_value ps[] = {DB_I(id), DB_I(now)};
        rc = db_exec(d,
                     "UPDATE products SET stock = stock + (SELECT i.quantity FROM order_items i "
                     "WHERE i.order_id = $1 AND i.product_id = products.id), updated_at = $2 "
                     "WHERE id IN (SELECT product_id FROM order_items WHERE order_id = $1)",
                     ps, 2, NULL, err);
        if (rc)
            goto fail;
    }
    if ((rc = db_commit(d, err)))
        goto fail;
    db_result_free(r);
    return out ? order_get(d, id, 0, out, err) : 0;
fail:
    db_rollback(d);
    db_result_free(r);
    return rc;
}
