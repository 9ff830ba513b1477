/* api_util.c — the shared machinery of API handlers (see api_util.h).
 *
 * api_route() registers a small wrapper for every route. The wrapper runs
 * on the blocking pool (API routes are never INLINE: authentication is a
 * database lookup) and does, in order:
 *
 *   1. Authentication. An Authorization header must be "Bearer <token>" for
 *      a live api token, else 401 even on a public route: a client that
 *      sends bad credentials must learn it rather than silently act
 *      anonymously. Without that header, the sm_session cookie is tried
 *      for a live session token; a stale or unknown cookie simply leaves
 *      the caller anonymous (a browser keeps cookies after a logout).
 *   2. CSRF, for cookie-authenticated POST/PUT/PATCH/DELETE: X-CSRF-Token
 *      must equal HMAC-SHA256(SECRET_KEY, session token) in hex, compared
 *      in constant time. Without it a protected route answers 403
 *      csrf_failed; a public route drops the cookie identity and serves the
 *      caller as anonymous, which can never grant more than the identity
 *      would have, so a forged cross-site request gains nothing.
 *   3. Authorisation: `allowed` is an explicit set of roles (API_* bits),
 *      deny by default. Anonymous callers of a non-public route get 401,
 *      authenticated callers outside the set 403.
 *
 * The principal lives in the request arena and is also left in
 * req->user_data for layers that only see the request. Route contexts
 * (handler + allowed roles) live in a static table, one entry per distinct
 * pair, so they outlive every router without an allocation to leak or free
 * and building routers repeatedly (tests) reuses them. */
#include "api/api_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pthread.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "shop/auth.h"
#include "shop/users.h"

#define API_ROUTES_MAX 256 /* distinct (handler, roles) pairs in the program */

typedef struct route_ctx {
    api_handler_fn fn;
    unsigned allowed;
} route_ctx;

static route_ctx route_table[API_ROUTES_MAX];
static size_t route_count;
static pthread_mutex_t route_lock = PTHREAD_MUTEX_INITIALIZER;

static bool method_is_unsafe(const char *m)
{
    return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH") || !strcmp(m, "DELETE");
}

static unsigned role_bit(api_role role)
{
    switch (role) {
    case API_ROLE_ADMIN: return API_ADMIN;
    case API_ROLE_STAFF: return API_STAFF;
    default: return API_CUSTOMER;
    }
}

static api_role role_from_name(const char *name)
{
    if (!strcmp(name, "admin"))
        return API_ROLE_ADMIN;
    if (!strcmp(name, "staff"))
        return API_ROLE_STAFF;
    return API_ROLE_CUSTOMER;
}

/* Returns the token of "Bearer <token>" (scheme case-insensitive), or NULL. */
static const char *bearer_token(const char *authz)
{
    if (strncasecmp(authz, "Bearer ", 7) != 0)
        return NULL;
    authz += 7;
    while (*authz == ' ')
        authz++;
    return authz;
}

/* Builds the principal in the request arena. NULL when out of memory. */
static api_principal *principal_new(http_request *req, const users_record *u,
                                    const char *token_hash, bool via_cookie)
{
    api_principal *p = arena_calloc(req->arena, 1, sizeof *p);
    if (!p)
        return NULL;
    p->user_id = u->id;
    p->role = role_from_name(u->role);
    p->email = arena_strdup(req->arena, u->email);
    p->name = arena_strdup(req->arena, u->name);
    p->token_hash = arena_strdup(req->arena, token_hash);
    p->via_cookie = via_cookie;
    if (!p->email || !p->name || !p->token_hash)
        return NULL;
    return p;
}

/* Looks `token` of `kind` up. Returns 0 with *out set, SM_EUNAUTHORIZED, or
 * another code after answering the error. */
static int lookup(http_request *req, http_response *res, const char *token, auth_token_kind kind,
                  api_principal **out)
{
    users_record u;
    char hash[AUTH_HASH_HEX_LEN + 1];
    sm_error err = {0};

    if (!auth_token_well_formed(token))
        return SM_EUNAUTHORIZED;
    db *d = api_db(res);
    if (!d)
        return SM_EUNAVAILABLE;
    int rc = auth_token_authenticate(d, token, kind, clock_now_ms(), &u, hash, &err);
    if (rc == SM_EUNAUTHORIZED)
        return rc;
    if (rc < 0) {
        api_error_from_code(res, rc, &err);
        return rc;
    }
    *out = principal_new(req, &u, hash, kind == AUTH_TOKEN_SESSION);
    if (!*out) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        return SM_ENOMEM;
    }
    return 0;
}

static bool csrf_ok(http_request *req, const char *session_token)
{
    const sm_config *cfg = config_get();
    if (!cfg || !cfg->secret_key[0])
        return false;
    return auth_csrf_verify(cfg->secret_key, session_token,
                            http_request_header(req, "x-csrf-token"));
}

/* Steps 1 and 2 of the file comment. Returns 0 with *who (NULL for
 * anonymous), or non-zero once an error has been answered. */
static int authenticate(http_request *req, http_response *res, unsigned allowed,
                        api_principal **who)
{
    *who = NULL;
    const char *authz = http_request_header(req, "authorization");
    if (authz) {
        const char *token = bearer_token(authz);
        int rc = token ? lookup(req, res, token, AUTH_TOKEN_API, who) : SM_EUNAUTHORIZED;
        if (rc == SM_EUNAUTHORIZED)
            http_response_error(res, 401, "unauthorized", NULL,
                                "invalid, expired or revoked token");
        return rc;
    }

    const char *cookie = http_request_cookie(req, "sm_session");
    if (!cookie)
        return 0;
    int rc = lookup(req, res, cookie, AUTH_TOKEN_SESSION, who);
    if (rc == SM_EUNAUTHORIZED)
        return 0; /* stale cookie: anonymous */
    if (rc < 0)
        return rc;
    if (method_is_unsafe(req->method) && !csrf_ok(req, cookie)) {
        *who = NULL;
        if (allowed & API_PUBLIC)
            return 0;
        http_response_error(res, 403, "csrf_failed", NULL,
                            "missing or wrong X-CSRF-Token for a cookie session");
        return SM_EFORBIDDEN;
    }
    return 0;
}

static void route_dispatch(http_request *req, http_response *res, void *ctx)
{
    const route_ctx *rc = ctx;
    api_principal *who = NULL;

    if (authenticate(req, res, rc->allowed, &who) != 0)
        return;
    if (!(rc->allowed & API_PUBLIC)) {
        if (!who) {
            http_response_error(res, 401, "unauthorized", NULL, "authentication required");
            return;
        }
        if (!(rc->allowed & role_bit(who->role))) {
            http_response_error(res, 403, "forbidden", NULL, "your role may not do this");
            return;
        }
    }
    req->user_data = who;
    rc->fn(req, res, who);
}

int api_route(http_router *r, const char *method, const char *pattern, api_handler_fn fn,
              unsigned allowed)
{
    if (!fn || allowed == 0) {
        log_error("route %s %s declares no allowed callers", method, pattern);
        return SM_EINVAL;
    }
    route_ctx *ctx = NULL;
    pthread_mutex_lock(&route_lock);
    for (size_t i = 0; i < route_count && !ctx; i++)
        if (route_table[i].fn == fn && route_table[i].allowed == allowed)
            ctx = &route_table[i];
    if (!ctx && route_count < API_ROUTES_MAX) {
        ctx = &route_table[route_count++];
        *ctx = (route_ctx){.fn = fn, .allowed = allowed};
    }
    pthread_mutex_unlock(&route_lock);
    if (!ctx) {
        log_error("more than %d API routes: raise API_ROUTES_MAX", API_ROUTES_MAX);
        return SM_ENOMEM;
    }
    return http_router_add(r, method, pattern, route_dispatch, ctx, 0);
}

bool api_is_staff(const api_principal *who)
{
    return who && (who->role == API_ROLE_STAFF || who->role == API_ROLE_ADMIN);
}

db *api_db(http_response *res)
{
    db *d = NULL;
    sm_error err = {0};
    if (db_thread(&d, &err) < 0) {
        log_warning("database unavailable: %s", err.message);
        http_response_error(res, 503, "unavailable", NULL, "the database is unavailable");
        return NULL;
    }
    return d;
}

/* ---- bodies ---- */

/* True when `ct` is application/json, with optional parameters; a charset
 * parameter must name UTF-8. */
static bool content_type_json(const char *ct)
{
    static const char mt[] = "application/json";
    if (!ct || strncasecmp(ct, mt, sizeof mt - 1) != 0)
        return false;
    const char *p = ct + sizeof mt - 1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return true;
    if (*p != ';')
        return false;
    const char *cs = strcasestr(p, "charset=");
    if (!cs)
        return true;
    cs += 8;
    if (*cs == '"')
        cs++;
    return strncasecmp(cs, "utf-8", 5) == 0 && strchr("\"; \t", cs[5]);
}

json_t *api_parse_body(http_request *req, http_response *res)
{
    if (!content_type_json(http_request_header(req, "content-type"))) {
        http_response_error(res, 415, "unsupported_media_type", NULL,
                            "the body must be application/json");
        return NULL;
    }
    json_error_t jerr;
    json_t *v =
        json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        http_response_error(res, 400, "invalid_json", NULL, "invalid JSON at line %d column %d: %s",
                            jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        http_response_error(res, 400, "invalid_json", NULL, "the body must be a JSON object");
        return NULL;
    }
    return v;
}

/* ---- fields ---- */

/* Counts the code points of `s` (len bytes) into *cp. False when `s` is
 * not strict UTF-8: no overlong forms, no surrogates, nothing past
 * U+10FFFF, no NUL. */
static bool utf8_count(const char *s, size_t len, size_t *cp)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    size_t n = 0;
    while (p < end) {
        unsigned c = *p;
        size_t need;
        uint32_t v, min;
        if (c == 0)
            return false;
        if (c < 0x80) {
            p++;
            n++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            need = 1, v = c & 0x1f, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef)
            need = 2, v = c & 0x0f, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4)
            need = 3, v = c & 0x07, min = 0x10000;
        else
            return false;
        if ((size_t)(end - p) <= need)
            return false;
        for (size_t i = 1; i <= need; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            v = (v << 6) | (p[i] & 0x3f);
        }
        if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
            return false;
        p += need + 1;
        n++;
    }
    *cp = n;
    return true;
}

/* Adds "key": message to details (the first message for a key wins) and
 * returns SM_EINVAL. */
static int field_fail(json_t *details, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int field_fail(json_t *details, const char *key, const char *fmt, ...)
{
    if (details && !json_object_get(details, key)) {
        char msg[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        json_object_set_new(details, key, json_string(msg));
    }
    return SM_EINVAL;
}

/* The member `key`, or NULL; *rc gets the answer for an absent member. */
static json_t *field_get(json_t *obj, const char *key, bool required, json_t *details, int *rc)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    *rc = v ? 1 : required ? field_fail(details, key, "is required") : 0;
    return v;
}

int api_field_string(json_t *obj, const char *key, bool required, size_t min_len, size_t max_len,
                     const char **out, json_t *details)
{
    int rc;
    json_t *v = field_get(obj, key, required, details, &rc);
    if (!v)
        return rc;
    if (!json_is_string(v))
        return field_fail(details, key, "must be a string");
    const char *s = json_string_value(v);
    size_t cp;
    if (!utf8_count(s, json_string_length(v), &cp))
        return field_fail(details, key, "must be valid UTF-8 without NUL characters");
    if (cp < min_len || cp > max_len) {
        if (min_len == 1 && cp == 0)
            return field_fail(details, key, "must not be empty");
        return field_fail(details, key, "must be %zu to %zu characters long", min_len, max_len);
    }
    *out = s;
    return 1;
}

int api_field_int(json_t *obj, const char *key, bool required, int64_t min, int64_t max,
                  int64_t *out, json_t *details)
{
    int rc;
    json_t *v = field_get(obj, key, required, details, &rc);
    if (!v)
        return rc;
    if (!json_is_integer(v))
        return field_fail(details, key, "must be an integer");
    int64_t n = (int64_t)json_integer_value(v);
    if (n < min || n > max)
        return field_fail(details, key, "must be between %lld and %lld", (long long)min,
                          (long long)max);
    *out = n;
    return 1;
}

int api_field_bool(json_t *obj, const char *key, bool required, bool *out, json_t *details)
{
    int rc;
    json_t *v = field_get(obj, key, required, details, &rc);
    if (!v)
        return rc;
    if (!json_is_boolean(v))
        return field_fail(details, key, "must be true or false");
    *out = json_is_true(v);
    return 1;
}

bool api_fail_validation(http_response *res, json_t *details)
{
    if (details && json_object_size(details) > 0) {
        http_response_error(res, 400, "validation_error", details, "invalid request fields");
        return true;
    }
    json_decref(details);
    return false;
}

int api_query_int(http_request *req, http_response *res, const char *name, int64_t def, int64_t min,
                  int64_t max, int64_t *out)
{
    const char *v = http_request_query(req, name);
    if (!v) {
        *out = def;
        return 0;
    }
    /* Strict: an optional '-' and 1–18 digits, nothing else (no spaces, no
     * '+', no hex), so no value can overflow. */
    const char *p = v + (*v == '-');
    size_t digits = strspn(p, "0123456789");
    if (digits > 0 && digits <= 18 && p[digits] == '\0') {
        long long n = strtoll(v, NULL, 10);
        if (n >= min && n <= max) {
            *out = n;
            return 0;
        }
    }
    json_t *details = json_object();
    field_fail(details, name, "must be an integer between %lld and %lld", (long long)min,
               (long long)max);
    http_response_error(res, 400, "validation_error", details, "invalid query parameter %s", name);
    return SM_EINVAL;
}

void api_error_from_code(http_response *res, int code, const sm_error *err)
{
    const char *msg = (err && err->message[0]) ? err->message : sm_strerror(code);
    switch (code) {
    case SM_ENOTFOUND: http_response_error(res, 404, "not_found", NULL, "%s", msg); return;
    case SM_ECONFLICT: http_response_error(res, 409, "conflict", NULL, "%s", msg); return;
    case SM_EINVAL: http_response_error(res, 400, "validation_error", NULL, "%s", msg); return;
    case SM_EUNAUTHORIZED: http_response_error(res, 401, "unauthorized", NULL, "%s", msg); return;
    case SM_EFORBIDDEN: http_response_error(res, 403, "forbidden", NULL, "%s", msg); return;
    case SM_ERATELIMIT: http_response_error(res, 429, "rate_limited", NULL, "%s", msg); return;
    case SM_ETOOLARGE: http_response_error(res, 413, "payload_too_large", NULL, "%s", msg); return;
    case SM_ESTOCK: http_response_error(res, 409, "insufficient_stock", NULL, "%s", msg); return;
    case SM_EUNAVAILABLE:
    case SM_EBUSY:
    case SM_ETIMEOUT:
        log_warning("dependency unavailable (%s): %s", sm_strerror(code), msg);
        http_response_error(res, 503, "unavailable", NULL, "a dependency is unavailable");
        return;
    default:
        log_error("internal error (%s): %s", sm_strerror(code), msg);
        http_response_error(res, 500, "internal_error", NULL, "internal error");
        return;
    }
}

json_t *api_json_time(int64_t ms)
{
    char buf[CLOCK_ISO_LEN];
    clock_format_iso(ms, buf);
    return json_string(buf);
}

int api_routes_add(http_router *r, const api_route_def *defs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = api_route(r, defs[i].method, defs[i].pattern, defs[i].fn, defs[i].allowed);
        if (rc < 0)
            return rc;
    }
    return 0;
}

bool api_path_id(const http_request *req, const char *name, int64_t *out)
{
    const char *s = http_request_param(req, name);
    size_t n = s ? strspn(s, "0123456789") : 0;
    if (n == 0 || n > 18 || s[n] != '\0')
        return false;
    *out = strtoll(s, NULL, 10);
    return *out > 0;
}
