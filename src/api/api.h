/* api.h — the HTTP API: every route of the program is registered here.
 *
 * api_routes_register() adds all routes (REST under /api/, /health/...,
 * /api/openapi.json, /api/docs/, static files) to a router. Each route is
 * declared with the roles allowed to call it; a route without a declaration
 * does not exist (deny by default). Handlers parse and validate JSON, call
 * the domain layer (shop/), and map SM_E* codes to HTTP status and JSON
 * error codes (see docs/API.md). */
#ifndef SM_API_API_H
#define SM_API_API_H

#include "core/err.h"
#include "http/http.h"

int api_routes_register(http_router *r, sm_error *err);

#endif
