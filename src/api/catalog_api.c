/* catalog_api.c — /api/categories/ and /api/products/: JSON in, a call to
 * shop/catalog, JSON out.
 *
 * Reading is public; writing is for staff and admins (declared per route
 * with api_route). Validation of the fields themselves lives in the domain
 * (shop/catalog), which fills a details object that this layer returns as
 * 400 validation_error; this layer only turns query strings into typed
 * parameters. Path ids must be positive decimal integers, else 404 (an id
 * that cannot exist is simply not found). Inactive products are visible to
 * staff only; everyone else gets 404, as if they never existed. */
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "api/routes.h"
#include "shop/catalog.h"

/* Answers the error for `rc`: validation details when the domain gave
 * some, else the standard mapping. Consumes `details`. */
static void reply_error(http_response *res, int rc, const sm_error *err, json_t *details)
{
    if (rc == SM_EINVAL && details && json_object_size(details) > 0) {
        api_fail_validation(res, details);
        return;
    }
    json_decref(details);
    api_error_from_code(res, rc, err);
}

static void reply_not_found(http_response *res)
{
    http_response_error(res, 404, "not_found", NULL, "no such product");
}

/* ---- categories ---- */

static void categories_list(http_request *req, http_response *res, const api_principal *who)
{
    (void)req;
    (void)who;
    sm_error err = {0};
    json_t *out = NULL;
    db *d = api_db(res);
    if (!d)
        return;
    int rc = catalog_categories_list(d, &out, &err);
    if (rc)
        api_error_from_code(res, rc, &err);
    else
        http_response_json(res, 200, out);
}

static void categories_create(http_request *req, http_response *res, const api_principal *who)
{
    (void)who;
    sm_error err = {0};
    json_t *out = NULL, *details = NULL, *body = api_parse_body(req, res);
    db *d;
    if (!body || !(d = api_db(res)))
        goto done;
    if (!(details = json_object())) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        goto done;
    }
    int rc = catalog_category_create(d, body, &out, details, &err);
    if (rc) {
        reply_error(res, rc, &err, details);
        details = NULL;
        goto done;
    }
    http_response_json(res, 201, out);
done:
    json_decref(details);
    json_decref(body);
}

/* ---- products ---- */

/* A query parameter that must be valid UTF-8 text (jansson checks it), or
 * NULL when absent. On invalid bytes answers 400 and sets *bad. */
static const char *query_text(http_request *req, http_response *res, const char *name, bool *bad)
{
    const char *v = http_request_query(req, name);
    json_t *check = v ? json_string(v) : NULL;
    if (v && !check) {
        json_t *details = json_pack("{ss}", name, "must be valid UTF-8");
        http_response_error(res, 400, "validation_error", details, "invalid query parameter %s",
                            name);
        *bad = true;
        return NULL;
    }
    json_decref(check);
    return v;
}

/* Fills `p` from the query string; answers 400 and returns false on a bad one. */
static bool list_params(http_request *req, http_response *res, const api_principal *who,
                        catalog_list_params *p)
{
    bool bad = false;
    const char *v;
    catalog_list_params_init(p);
    if (api_query_int(req, res, "page", 1, 1, CATALOG_PAGE_MAX, &p->page) ||
        api_query_int(req, res, "page_size", 20, 1, CATALOG_PAGE_SIZE_MAX, &p->page_size) ||
        api_query_int(req, res, "min_price", -1, 0, CATALOG_PRICE_MAX, &p->min_price) ||
        api_query_int(req, res, "max_price", -1, 0, CATALOG_PRICE_MAX, &p->max_price))
        return false;
    p->has_min_price = p->min_price >= 0;
    p->has_max_price = p->max_price >= 0;
    p->category = query_text(req, res, "category", &bad);
    if (!bad)
        p->brand = query_text(req, res, "brand", &bad);
    if (!bad)
        p->q = query_text(req, res, "q", &bad);
    if (bad)
        return false;

    json_t *details = json_object();
    if (!details) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        return false;
    }
    if ((v = http_request_query(req, "in_stock"))) {
        if (strcmp(v, "true") == 0)
            p->in_stock = 1;
        else if (strcmp(v, "false") == 0)
            p->in_stock = 0;
        else
            json_object_set_new(details, "in_stock", json_string("must be true or false"));
    }
    if ((v = http_request_query(req, "sort")) && catalog_sort_parse(v, &p->sort) != 0)
        json_object_set_new(details, "sort",
                            json_string("must be one of price, -price, name, -name, created, "
                                        "-created"));
    if ((v = http_request_query(req, "active"))) {
        if (strcmp(v, "all") == 0)
            p->include_inactive = api_is_staff(who); /* ignored for everyone else */
        else if (strcmp(v, "true") != 0)
            json_object_set_new(details, "active", json_string("must be all or true"));
    }
    if (api_fail_validation(res, details))
        return false;
    return true;
}

static void products_list(http_request *req, http_response *res, const api_principal *who)
{
    catalog_list_params p;
    sm_error err = {0};
    json_t *out = NULL, *details;
    db *d;
    if (!list_params(req, res, who, &p) || !(d = api_db(res)))
        return;
    if (!(details = json_object())) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        return;
    }
    int rc = catalog_products_list(d, &p, &out, details, &err);
    if (rc) {
        reply_error(res, rc, &err, details);
        return;
    }
    json_decref(details);
    http_response_json(res, 200, out);
}

static void products_get(http_request *req, http_response *res, const api_principal *who)
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
    int rc = catalog_product_get(d, id, api_is_staff(who), &out, &err);
    if (rc)
        api_error_from_code(res, rc, &err);
    else
        http_response_json(res, 200, out);
}

/* POST (create, id == 0) and PATCH (update) share everything but the call. */
static void products_write(http_request *req, http_response *res, int64_t id)
{
    sm_error err = {0};
    json_t *out = NULL, *details = NULL, *body = api_parse_body(req, res);
    db *d;
    int rc;
    if (!body || !(d = api_db(res)))
        goto done;
    if (!(details = json_object())) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        goto done;
    }
    rc = id ? catalog_product_update(d, id, body, &out, details, &err)
            : catalog_product_create(d, body, &out, details, &err);
    if (rc) {
        reply_error(res, rc, &err, details);
        details = NULL;
        goto done;
    }
    http_response_json(res, id ? 200 : 201, out);
done:
    json_decref(details);
    json_decref(body);
}

static void products_create(http_request *req, http_response *res, const api_principal *who)
{
    (void)who;
    products_write(req, res, 0);
}

static void products_update(http_request *req, http_response *res, const api_principal *who)
{
    (void)who;
    int64_t id;
    if (!api_path_id(req, "id", &id)) {
        reply_not_found(res);
        return;
    }
    products_write(req, res, id);
}

static void products_delete(http_request *req, http_response *res, const api_principal *who)
{
    (void)who;
    int64_t id;
    sm_error err = {0};
    db *d;
    if (!api_path_id(req, "id", &id)) {
        reply_not_found(res);
        return;
    }
    if (!(d = api_db(res)))
        return;
    int rc = catalog_product_deactivate(d, id, &err);
    if (rc)
        api_error_from_code(res, rc, &err);
    else
        http_response_set_status(res, 204);
}

int api_catalog_routes(http_router *r)
{
    static const api_route_def routes[] = {
        {"GET", "/api/categories/", categories_list, API_PUBLIC},
        {"POST", "/api/categories/", categories_create, API_STAFF_OR_ADMIN},
        {"GET", "/api/products/", products_list, API_PUBLIC},
        {"POST", "/api/products/", products_create, API_STAFF_OR_ADMIN},
        {"GET", "/api/products/{id}/", products_get, API_PUBLIC},
        {"PATCH", "/api/products/{id}/", products_update, API_STAFF_OR_ADMIN},
        {"DELETE", "/api/products/{id}/", products_delete, API_STAFF_OR_ADMIN},
    };
    return api_routes_add(r, routes, sizeof routes / sizeof routes[0]);
}
