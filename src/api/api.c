/* api.c — registers every route of the program (see api.h).
 *
 * Each API module registers its own routes (routes.h); this file only
 * calls them in turn and adds the root redirect to the API documentation.
 * A failure names the module, so a start-up error says what to fix. */
#include "api/api.h"

#include "api/routes.h"
#include "api/test_api.h"

static void handle_root(http_request *req, http_response *res, void *ctx)
{
    (void)req;
    (void)ctx;
    http_response_set_status(res, 302);
    http_response_add_header(res, "Location", "/api/docs/");
}

int api_routes_register(http_router *r, sm_error *err)
{
    static const struct {
        const char *name;
        int (*add)(http_router *r);
    } modules[] = {
        {"auth", api_auth_routes},         {"catalog", api_catalog_routes},
        {"orders", api_orders_routes},     {"health", api_health_routes},
        {"docs", api_docs_routes},         {"test", api_test_routes},
        {"realtime", api_realtime_routes}, {"jobs", api_jobs_routes},
        {"search", api_search_routes},     {"recommend", api_recommend_routes},
        {"stats", api_stats_routes},
    };
    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
        int rc = modules[i].add(r);
        if (rc < 0)
            return sm_error_set(err, rc, "registering the %s routes: %s", modules[i].name,
                                sm_strerror(rc));
    }
    int rc = http_router_add(r, "GET", "/", handle_root, NULL, HTTP_ROUTE_INLINE);
    if (rc < 0)
        return sm_error_set(err, rc, "registering /: %s", sm_strerror(rc));
    return 0;
}
