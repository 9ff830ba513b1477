/* test_api.h — test-only routes, registered only when the environment says
 * SMARTMARKET_TEST_ROUTES=1 (never in production; see test_api.c). */
#ifndef SM_API_TEST_API_H
#define SM_API_TEST_API_H

#include "http/http.h"

/* Adds the test routes to `r` when SMARTMARKET_TEST_ROUTES is "1"; does
 * nothing otherwise. Returns 0 or a negative SM_E* code. */
int api_test_routes(http_router *r);

#endif
