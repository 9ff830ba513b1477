/* api_util.h — what every API handler shares: routes declared with the
 * roles allowed, authentication (bearer token or session cookie + CSRF),
 * JSON body parsing and field validation, and the mapping of SM_E* codes to
 * HTTP errors. Internal to src/api/. */
#ifndef SM_API_API_UTIL_H
#define SM_API_API_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"
#include "http/http.h"

/* Who may call a route: a bit set. API_PUBLIC lets anonymous callers in (the
 * principal is then NULL unless they sent valid credentials anyway). */
enum {
    API_PUBLIC = 1 << 0,
    API_CUSTOMER = 1 << 1,
    API_STAFF = 1 << 2,
    API_ADMIN = 1 << 3,
    API_AUTHENTICATED = API_CUSTOMER | API_STAFF | API_ADMIN,
    API_STAFF_OR_ADMIN = API_STAFF | API_ADMIN,
};

typedef enum api_role { API_ROLE_CUSTOMER, API_ROLE_STAFF, API_ROLE_ADMIN } api_role;

/* The authenticated caller. Lives in the request arena. */
typedef struct api_principal {
    int64_t user_id;
    api_role role;
    const char *email;
    const char *name;
    bool via_cookie;        /* authenticated by the sm_session cookie */
    const char *token_hash; /* hex SHA-256 of the token used (for logout) */
} api_principal;

typedef void (*api_handler_fn)(http_request *req, http_response *res, const api_principal *who);

/* Registers `fn` on `method pattern` for callers in `allowed` (API_* bits).
 * The wrapper authenticates (401 `unauthorized` for bad or missing
 * credentials where the route is not public, 403 `forbidden` for a role not
 * allowed, 403 `csrf_failed` for a cookie-authenticated unsafe request
 * without the right X-CSRF-Token), then calls `fn` on the blocking pool.
 * `who` is NULL for anonymous callers of public routes. */
int api_route(http_router *r, const char *method, const char *pattern, api_handler_fn fn,
              unsigned allowed);

/* One row of a module's route table, for api_routes_add(). */
typedef struct api_route_def {
    const char *method, *pattern;
    api_handler_fn fn;
    unsigned allowed;
} api_route_def;

/* api_route() for each of `n` rows; stops at the first failure. */
int api_routes_add(http_router *r, const api_route_def *defs, size_t n);

/* Parses the path parameter `name` as an id: 1–18 decimal digits, > 0.
 * Returns false for anything else (the caller answers 404). */
bool api_path_id(const http_request *req, const char *name, int64_t *out);

/* True when `who` is staff or admin. */
bool api_is_staff(const api_principal *who);

/* The calling thread's database connection; on failure answers 503
 * `unavailable` and returns NULL. */
db *api_db(http_response *res);

/* Parses the body as a JSON object (requires Content-Type application/json;
 * charset allowed). On failure answers 415 `unsupported_media_type` or 400
 * `invalid_json` and returns NULL. The caller owns the returned reference. */
json_t *api_parse_body(http_request *req, http_response *res);

/* Field validation. Each reads `key` from `obj`; when absent and !required,
 * leaves *out untouched and returns 0 (1 when present and valid). On a
 * wrong type or bound, adds "key": "message" to `details` (an object the
 * caller created) and returns SM_EINVAL. Strings must be valid UTF-8 without
 * NUL; lengths are in code points. *out for strings is borrowed from `obj`. */
int api_field_string(json_t *obj, const char *key, bool required, size_t min_len, size_t max_len,
                     const char **out, json_t *details);
int api_field_int(json_t *obj, const char *key, bool required, int64_t min, int64_t max,
                  int64_t *out, json_t *details);
int api_field_bool(json_t *obj, const char *key, bool required, bool *out, json_t *details);

/* Answers 400 `validation_error` with `details` (stolen) when it has any
 * member and returns true; otherwise frees it and returns false. */
bool api_fail_validation(http_response *res, json_t *details);

/* Parses a query parameter as an integer in [min, max]. Absent: *out = def,
 * returns 0. Invalid: answers 400 `validation_error` naming it, returns
 * SM_EINVAL. */
int api_query_int(http_request *req, http_response *res, const char *name, int64_t def, int64_t min,
                  int64_t max, int64_t *out);

/* Answers the error for an SM_E* code: ENOTFOUND 404 not_found, ECONFLICT
 * 409 conflict, EINVAL 400 validation_error, EUNAUTHORIZED 401, EFORBIDDEN
 * 403, ERATELIMIT 429 rate_limited, EUNAVAILABLE/EDB-connection 503
 * unavailable, anything else 500 internal_error (logged with the request id,
 * message not leaked to the client). */
void api_error_from_code(http_response *res, int code, const sm_error *err);

/* Formats a time (ms since epoch) as an ISO 8601 JSON string. */
json_t *api_json_time(int64_t ms);

#endif
