/* routes.h — one registration function per API module, called by
 * api_routes_register() in api.c. Internal to src/api/. Each returns 0 or
 * a negative SM_E* code. */
#ifndef SM_API_ROUTES_H
#define SM_API_ROUTES_H

#include <stdint.h>

#include "http/http.h"

int api_auth_routes(http_router *r);    /* auth_api.c: /api/auth/..., /api/users/... */
int api_catalog_routes(http_router *r); /* catalog_api.c: /api/categories/, /api/products/ */
int api_orders_routes(http_router *r);  /* orders_api.c: /api/orders/ */
int api_health_routes(http_router *r);  /* health_api.c: /health/... */
int api_docs_routes(http_router *r);    /* docs_api.c: /api/openapi.json, /api/docs/ */

/* realtime_api.c: /ws/, /sse/, /poll/ channels (docs/REALTIME.md) */
int api_realtime_routes(http_router *r);
int api_jobs_routes(http_router *r);  /* jobs_api.c: /api/admin/jobs/, /api/admin/workers/ */
int api_stats_routes(http_router *r); /* stats_api.c: /api/admin/stats/products/ */

int api_search_routes(http_router *r); /* search_api.c: /api/search/ */
int api_recommend_routes(
    http_router *r); /* recommend_api.c: similar, also-bought, recommendations */

/* Drops the cached recommendations of customer `user_id` (recommend_api.c);
 * called after they place an order. Thread-safe. */
void recommend_api_invalidate_user(int64_t user_id);

#endif
