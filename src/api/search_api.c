/* search_api.c — GET /api/search/: product search for everyone.
 *
 * The handler validates the query string (400 validation_error naming each
 * bad parameter), takes a reference to the active search snapshot and runs
 * the query on it (ml/search.h). Cold start — no index built yet, or the
 * active one failed to load — falls back to the catalogue's SQL listing
 * with the same filters and a case-insensitive name substring match, so
 * search keeps answering (without typo tolerance, facets or suggestions);
 * the answer's "engine" says which ran: "index" or "sql". */
#include <string.h>

#include "api/api_util.h"
#include "api/routes.h"
#include "core/config.h"
#include "ml/search.h"
#include "ml/snapshot.h"
#include "shop/catalog.h"

/* A query parameter that must be valid UTF-8 of at most `max` bytes. */
static int query_text(http_request *req, const char *name, size_t max, const char **out,
                      json_t *details)
{
    const char *v = http_request_query(req, name);
    if (!v)
        return 0;
    json_t *check = json_string(v);
    json_decref(check);
    if (!check) {
        json_object_set_new(details, name, json_string("must be valid UTF-8"));
        return SM_EINVAL;
    }
    if (strlen(v) > max) {
        json_object_set_new(details, name, json_sprintf("must be at most %zu bytes", max));
        return SM_EINVAL;
    }
    *out = v;
    return 0;
}

static bool parse_params(http_request *req, http_response *res, search_params *p)
{
    search_params_init(p);
    if (api_query_int(req, res, "page", 1, 1, SEARCH_DEPTH_MAX, &p->page) ||
        api_query_int(req, res, "page_size", 20, 1, SEARCH_PAGE_SIZE_MAX, &p->page_size) ||
        api_query_int(req, res, "min_price", -1, 0, CATALOG_PRICE_MAX, &p->min_price) ||
        api_query_int(req, res, "max_price", -1, 0, CATALOG_PRICE_MAX, &p->max_price))
        return false;
    p->has_min_price = p->min_price >= 0;
    p->has_max_price = p->max_price >= 0;
    json_t *details = json_object();
    if (!details) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        return false;
    }
    (void)query_text(req, "q", SEARCH_QUERY_MAX, &p->q, details);
    (void)query_text(req, "category", 200, &p->category, details);
    const char *v;
    if ((v = http_request_query(req, "in_stock"))) {
        if (strcmp(v, "true") == 0)
            p->in_stock = 1;
        else if (strcmp(v, "false") == 0)
            p->in_stock = 0;
        else
            json_object_set_new(details, "in_stock", json_string("must be true or false"));
    }
    if ((v = http_request_query(req, "sort")) && search_sort_parse(v, &p->sort) != 0)
        json_object_set_new(details, "sort",
                            json_string("must be one of relevance, price, -price, newest"));
    if ((v = http_request_query(req, "mode"))) {
        if (strcmp(v, "hybrid") == 0)
            p->mode = SEARCH_HYBRID;
        else if (strcmp(v, "bm25") == 0)
            p->mode = SEARCH_BM25;
        else
            json_object_set_new(details, "mode", json_string("must be hybrid or bm25"));
    }
    if (p->has_min_price && p->has_max_price && p->min_price > p->max_price)
        json_object_set_new(details, "min_price", json_string("must not exceed max_price"));
    if (p->page * p->page_size > SEARCH_DEPTH_MAX)
        json_object_set_new(details, "page",
                            json_sprintf("page × page_size must be at most %d", SEARCH_DEPTH_MAX));
    return !api_fail_validation(res, details);
}

/* Cold start: the catalogue listing with the same filters. */
static void search_sql(http_response *res, const search_params *p)
{
    db *d = api_db(res);
    if (!d)
        return;
    catalog_list_params c;
    catalog_list_params_init(&c);
    c.page = p->page;
    c.page_size = p->page_size;
    c.category = p->category;
    c.has_min_price = p->has_min_price;
    c.has_max_price = p->has_max_price;
    c.min_price = p->min_price;
    c.max_price = p->max_price;
    c.in_stock = p->in_stock;
    c.q = p->q && *p->q ? p->q : NULL;
    c.sort = p->sort == SEARCH_SORT_PRICE        ? CATALOG_SORT_PRICE
             : p->sort == SEARCH_SORT_PRICE_DESC ? CATALOG_SORT_PRICE_DESC
                                                 : CATALOG_SORT_CREATED_DESC;
    json_t *out = NULL, *details = json_object();
    sm_error err = {0};
    if (!details) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        return;
    }
    int rc = catalog_products_list(d, &c, &out, details, &err);
    if (rc == SM_EINVAL && json_object_size(details)) {
        api_fail_validation(res, details);
        return;
    }
    json_decref(details);
    if (rc) {
        api_error_from_code(res, rc, &err);
        return;
    }
    json_object_set_new(out, "facets", json_object());
    json_object_set_new(out, "suggestions", json_array());
    json_object_set_new(out, "engine", json_string("sql"));
    http_response_json(res, 200, out);
}

static void search_get(http_request *req, http_response *res, const api_principal *who)
{
    (void)who;
    search_params p;
    if (!parse_params(req, res, &p))
        return;
    snapshot *s = snapshot_acquire(config_get()->data_dir);
    if (!s) {
        search_sql(res, &p);
        return;
    }
    json_t *out = NULL;
    sm_error err = {0};
    int rc = search_run(s, &p, &out, &err);
    snapshot_release(s);
    if (rc)
        api_error_from_code(res, rc, &err);
    else
        http_response_json(res, 200, out);
}

int api_search_routes(http_router *r)
{
    return api_route(r, "GET", "/api/search/", search_get, API_PUBLIC);
}
