/* routes.h — one registration function per API module, called by
 * api_routes_register() in api.c. Internal to src/api/. Each returns 0 or
 * a negative SM_E* code. */
#ifndef SM_API_ROUTES_H
#define SM_API_ROUTES_H

#include "http/http.h"

int api_auth_routes(http_router *r);    /* auth_api.c: /api/auth/..., /api/users/... */
int api_catalog_routes(http_router *r); /* catalog_api.c: /api/categories/, /api/products/ */
int api_orders_routes(http_router *r);  /* orders_api.c: /api/orders/ */
int api_health_routes(http_router *r);  /* health_api.c: /health/... */
int api_docs_routes(http_router *r);    /* docs_api.c: /api/openapi.json, /api/docs/ */

#endif
