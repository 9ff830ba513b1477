/* stats_api.c — /api/admin/stats/products/: best-sellers for staff and
 * admins, over shop/stats.c (the index rebuild_ml_indexes writes hourly).
 *
 *   GET ?sort=revenue|units|orders|recent&limit=1..100&with=0..10
 *   400 validation_error  unknown sort, limit or with out of range */
#include "api/api_util.h"
#include "api/routes.h"
#include "shop/stats.h"

static void stats_products(http_request *req, http_response *res, const api_principal *who)
{
    sm_error err = {0};
    json_t *out = NULL;
    int64_t limit, with;
    db *d;
    (void)who;
    const char *sort = http_request_query(req, "sort");
    if (!sort)
        sort = "revenue";
    if (!stats_sort_name(sort)) {
        http_response_error(res, 400, "validation_error",
                            json_pack("{ss}", "sort", "must be " STATS_SORTS),
                            "sort must be " STATS_SORTS);
        return;
    }
    if (api_query_int(req, res, "limit", 20, 1, STATS_LIMIT_MAX, &limit) ||
        api_query_int(req, res, "with", 3, 0, STATS_WITH_MAX, &with) || !(d = api_db(res)))
        return;
    int rc = stats_top_products(d, sort, (int)limit, (int)with, &out, &err);
    if (rc)
        api_error_from_code(res, rc, &err);
    else
        http_response_json(res, 200, out);
}

int api_stats_routes(http_router *r)
{
    static const api_route_def routes[] = {
        {"GET", "/api/admin/stats/products/", stats_products, API_STAFF_OR_ADMIN},
    };
    return api_routes_add(r, routes, sizeof routes / sizeof routes[0]);
}
