/* orders_api.c — /api/orders/: placing, listing, reading and moving orders
 * through their status machine, on top of shop/orders.
 *
 * Every route needs an authenticated caller. Customers see only their own
 * orders (another customer's order is 404, so its existence does not leak);
 * staff and admins see all. Errors specific to orders:
 *   409 insufficient_stock  details {product_id, name, requested, available}
 *   409 invalid_transition  a status change the machine does not allow
 *   400 validation_error    details keyed "items[i].field" for a bad line */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "api/routes.h"
#include "core/events.h"
#include "shop/orders.h"

/* Tells the realtime channels about a committed order change (the shop
 * call has returned, so the transaction is durable): "admin.orders" and the
 * owner's "user.<id>". `owner` 0: read it from the order's user_id. */
static void publish_order(const char *type, json_t *order, int64_t owner)
{
    char channel[40];
    if (owner <= 0)
        owner = (int64_t)json_integer_value(json_object_get(order, "user_id"));
    events_publish("admin.orders", type, order);
    if (owner > 0) {
        snprintf(channel, sizeof channel, "user.%lld", (long long)owner);
        events_publish(channel, type, order);
    }
}

static void reply_not_found(http_response *res)
{
    http_response_error(res, 404, "not_found", NULL, "no such order");
}

static void line_fail(json_t *details, int i, const char *field, const char *msg)
{
    char key[48];
    if (i < 0)
        snprintf(key, sizeof key, "%s", field);
    else
        snprintf(key, sizeof key, "items[%d].%s", i, field);
    if (!json_object_get(details, key))
        json_object_set_new(details, key, json_string(msg));
}

/* Reads body.items into `lines` (ORDER_LINES_MAX entries); returns the count,
 * or -1 after adding details. Bounds are checked again by order_place. */
static int read_lines(json_t *body, order_line *lines, json_t *details)
{
    json_t *items = json_object_get(body, "items"), *it;
    size_t i;
    if (!json_is_array(items)) {
        line_fail(details, -1, "items", items ? "must be an array" : "required");
        return -1;
    }
    if (json_array_size(items) < 1 || json_array_size(items) > ORDER_LINES_MAX) {
        line_fail(details, -1, "items", "must have between 1 and 100 lines");
        return -1;
    }
    json_array_foreach(items, i, it)
    {
        json_t *pid = json_object_get(it, "product_id"), *qty = json_object_get(it, "quantity");
        if (!json_is_object(it)) {
            line_fail(details, (int)i, "product_id", "each line must be an object");
            continue;
        }
        if (!json_is_integer(pid) || json_integer_value(pid) < 1)
            line_fail(details, (int)i, "product_id", "must be a positive integer");
        if (!json_is_integer(qty) || json_integer_value(qty) < 1 ||
            json_integer_value(qty) > ORDER_QUANTITY_MAX)
            line_fail(details, (int)i, "quantity", "must be an integer between 1 and 1000");
        lines[i].product_id = json_integer_value(pid);
        lines[i].quantity = json_integer_value(qty);
    }
    return json_object_size(details) > 0 ? -1 : (int)json_array_size(items);
}

static void orders_create(http_request *req, http_response *res, const api_principal *who)
{
    order_line lines[ORDER_LINES_MAX];
    order_failure fail = {.line = -1, .field = "items"};
    sm_error err = {0};
    json_t *out = NULL, *details = json_object(), *body = NULL;
    int64_t id = 0;
    db *d;
    int n, rc;

    if (!details) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        return;
    }
    if (!(body = api_parse_body(req, res)))
        goto done;
    if ((n = read_lines(body, lines, details)) < 0) {
        api_fail_validation(res, details);
        details = NULL;
        goto done;
    }
    if (!(d = api_db(res)))
        goto done;
    rc = order_place(d, who->user_id, lines, n, &id, &out, &fail, &err);
    if (rc == SM_ESTOCK) {
        json_t *info = json_pack("{sI ss sI sI}", "product_id", (json_int_t)fail.product_id, "name",
                                 fail.name, "requested", (json_int_t)fail.requested, "available",
                                 (json_int_t)fail.available);
        http_response_error(res, 409, "insufficient_stock", info, "%s", err.message);
    } else if (rc == SM_EINVAL) {
        line_fail(details, fail.line, fail.field, err.message);
        api_fail_validation(res, details);
        details = NULL;
    } else if (rc) {
        api_error_from_code(res, rc, &err);
    } else {
        publish_order("order.created", out, who->user_id);
        recommend_api_invalidate_user(who->user_id); /* their recommendations change */
        http_response_json(res, 201, out);
    }
done:
    json_decref(details);
    json_decref(body);
}

static void orders_list(http_request *req, http_response *res, const api_principal *who)
{
    order_list_params p;
    sm_error err = {0};
    json_t *out = NULL, *details;
    db *d;

    order_list_params_init(&p);
    if (api_query_int(req, res, "page", 1, 1, ORDER_PAGE_MAX, &p.page) ||
        api_query_int(req, res, "page_size", 20, 1, ORDER_PAGE_SIZE_MAX, &p.page_size) ||
        api_query_int(req, res, "user_id", 0, 1, INT64_MAX, &p.user_id))
        return;
    p.status = http_request_query(req, "status");
    if (p.status && !order_status_valid(p.status)) {
        http_response_error(
            res, 400, "validation_error",
            json_pack("{ss}", "status", "must be pending, paid, shipped, delivered or cancelled"),
            "invalid query parameter status");
        return;
    }
    if (!api_is_staff(who))
        p.user_id = who->user_id; /* customers: their own, whatever they asked */
    if (!(d = api_db(res)))
        return;
    if (!(details = json_object())) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        return;
    }
    int rc = order_list(d, &p, &out, details, &err);
    if (rc == SM_EINVAL && json_object_size(details) > 0) {
        api_fail_validation(res, details);
        return;
    }
    json_decref(details);
    if (rc)
        api_error_from_code(res, rc, &err);
    else
        http_response_json(res, 200, out);
}

static void orders_get(http_request *req, http_response *res, const api_principal *who)
{
    int64_t id;
    sm_error err = {0};
    json_t *out = NULL;
    db *d;
    if (!api_path_id(req, "id", &id)) {
        reply_not_found(res);
        return;
    }
    if (!(d = api_db(res)))
        return;
    int rc = order_get(d, id, api_is_staff(who) ? 0 : who->user_id, &out, &err);
    if (rc)
        api_error_from_code(res, rc, &err);
    else
        http_response_json(res, 200, out);
}

static void orders_set_status(http_request *req, http_response *res, const api_principal *who)
{
    int64_t id;
    sm_error err = {0};
    json_t *out = NULL, *body = NULL, *status;
    db *d;
    if (!api_path_id(req, "id", &id)) {
        reply_not_found(res);
        return;
    }
    if (!(body = api_parse_body(req, res)))
        return;
    status = json_object_get(body, "status");
    if (!json_is_string(status) || !order_status_valid(json_string_value(status))) {
        http_response_error(res, 400, "validation_error",
                            json_pack("{ss}", "status",
                                      status ? "must be pending, paid, shipped, delivered or "
                                               "cancelled"
                                             : "required"),
                            "invalid status");
        goto done;
    }
    if (!(d = api_db(res)))
        goto done;
    int rc = order_set_status(d, id, json_string_value(status), who->user_id, api_is_staff(who),
                              &out, &err);
    if (rc == SM_ECONFLICT)
        http_response_error(res, 409, "invalid_transition", NULL, "%s", err.message);
    else if (rc)
        api_error_from_code(res, rc, &err);
    else {
        publish_order("order.status_changed", out, 0);
        http_response_json(res, 200, out);
    }
done:
    json_decref(body);
}

int api_orders_routes(http_router *r)
{
    static const api_route_def routes[] = {
        {"POST", "/api/orders/", orders_create, API_AUTHENTICATED},
        {"GET", "/api/orders/", orders_list, API_AUTHENTICATED},
        {"GET", "/api/orders/{id}/", orders_get, API_AUTHENTICATED},
        {"POST", "/api/orders/{id}/status/", orders_set_status, API_AUTHENTICATED},
    };
    return api_routes_add(r, routes, sizeof routes / sizeof routes[0]);
}
