/* test_auth_api.c — the auth routes and the api_route wrapper, driven in
 * process: requests are built by hand, matched by the real router and
 * answered by the real handlers against a temporary SQLite database.
 * Covers authentication (bearer, cookie), CSRF, role checks, login rate
 * limiting and the admin's self-protection. Reaches into the HTTP layer's
 * internal header only to initialise a response. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "../shop/test_auth_db.h"
#include "api/routes.h"
#include "core/config.h"
#include "http/http_internal.h"
#include "shop/auth.h"
#include "shop/users.h"

static test_db *tdb;
static http_router *router;
static sm_config cfg;

typedef struct call {
    arena *a;
    http_request req;
    http_response res;
    json_t *json; /* parsed response body, or NULL */
} call;

/* Sends one request; `hdrs` is NULL or name/value pairs ending with NULL. */
static int request(call *c, const char *method, const char *path, const char *body,
                   const char *const *hdrs)
{
    memset(c, 0, sizeof *c);
    c->a = arena_new(0);
    http_header *h = arena_calloc(c->a, 8, sizeof *h);
    size_t n = 0;
    if (body)
        h[n++] = (http_header){"content-type", "application/json"};
    for (size_t i = 0; hdrs && hdrs[i] && n < 7; i += 2)
        h[n++] = (http_header){hdrs[i], hdrs[i + 1]};
    c->req = (http_request){.arena = c->a,
                            .method = method,
                            .path = path,
                            .raw_path = path,
                            .query = "",
                            .headers = h,
                            .header_count = n,
                            .body = body ? body : "",
                            .body_len = body ? strlen(body) : 0,
                            .request_id = "test",
                            .remote_addr = "127.0.0.9"};
    char *q = strchr(path, '?');
    if (q) {
        c->req.path = arena_strndup(c->a, path, (size_t)(q - path));
        c->req.query = q + 1;
    }
    http_response_init(&c->res, c->a);
    http_route_match m;
    assert_int_equal(http_router_match(router, &c->req, &m), 0);
    m.fn(&c->req, &c->res, m.ctx);
    c->json = c->res.body ? json_loadb(c->res.body, c->res.body_len, 0, NULL) : NULL;
    return c->res.status;
}

static void done(call *c)
{
    json_decref(c->json);
    arena_free(c->a);
}

static const char *header(const call *c, const char *name, int nth)
{
    for (int i = 0; i < c->res.header_count; i++)
        if (!strcasecmp(c->res.header_names[i], name) && nth-- == 0)
            return c->res.header_values[i];
    return NULL;
}

static const char *error_code(const call *c)
{
    return json_string_value(json_object_get(json_object_get(c->json, "error"), "code"));
}

/* Logs in; copies the bearer token, the session and the CSRF value. */
static void login(const char *email, const char *pw, char *token, char *session, char *csrf)
{
    call c;
    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, pw);
    assert_int_equal(request(&c, "POST", "/api/auth/login/", body, NULL), 200);
    strcpy(token, json_string_value(json_object_get(c.json, "token")));
    assert_non_null(json_object_get(c.json, "expires_at"));
    const char *s = header(&c, "Set-Cookie", 0), *x = header(&c, "Set-Cookie", 1);
    assert_non_null(strstr(s, "; HttpOnly; SameSite=Lax; Path=/; Max-Age=28800"));
    assert_null(strstr(x, "HttpOnly"));
    sscanf(s, "sm_session=%43[A-Za-z0-9_-]", session);
    sscanf(x, "sm_csrf=%64[0-9a-f]", csrf);
    done(&c);
}

static int setup_all(void **state)
{
    (void)state;
    tdb = test_db_open();
    setenv("DATABASE_URL", tdb->url, 1);
    setenv("SECRET_KEY", "test-secret-key-0123456789abcdef0123456789", 1);
    setenv("SMARTMARKET_DATA_DIR", tdb->dir, 1);
    setenv("LOGIN_MAX_FAILURES", "3", 1);
    setenv("LOG_LEVEL", "ERROR", 1);
    sm_error err = {0};
    if (config_load(&cfg, &err) < 0) {
        fprintf(stderr, "config: %s\n", err.message);
        return -1;
    }
    router = http_router_new();
    return router && api_auth_routes(router) == 0 ? 0 : -1;
}

static int teardown_all(void **state)
{
    (void)state;
    db_thread_reset();
    http_router_free(router);
    test_db_close(tdb);
    return 0;
}

static void register_validates_and_conflicts(void **state)
{
    (void)state;
    call c;
    assert_int_equal(request(&c, "POST", "/api/auth/register/",
                             "{\"email\":\"Cust@X.io\",\"password\":\"password1\",\"name\":\"C\"}",
                             NULL),
                     201);
    json_t *u = json_object_get(c.json, "user");
    assert_string_equal(json_string_value(json_object_get(u, "email")), "cust@x.io");
    assert_string_equal(json_string_value(json_object_get(u, "role")), "customer");
    assert_int_equal(json_object_size(u), 6);
    done(&c);

    assert_int_equal(request(&c, "POST", "/api/auth/register/",
                             "{\"email\":\"CUST@x.io\",\"password\":\"password2\"}", NULL),
                     409);
    assert_string_equal(error_code(&c), "conflict");
    done(&c);

    assert_int_equal(request(&c, "POST", "/api/auth/register/",
                             "{\"email\":\"nope\",\"password\":\"short\",\"role\":\"admin\"}",
                             NULL),
                     400);
    json_t *d = json_object_get(json_object_get(c.json, "error"), "details");
    assert_non_null(json_object_get(d, "email"));
    assert_non_null(json_object_get(d, "password"));
    done(&c);

    assert_int_equal(request(&c, "POST", "/api/auth/register/", "[1]", NULL), 400);
    assert_string_equal(error_code(&c), "invalid_json");
    done(&c);
}

static void bearer_and_cookie_authentication(void **state)
{
    (void)state;
    call c;
    char token[64], session[64], csrf[80], bearer[80], cookie[80];
    login("cust@x.io", "password1", token, session, csrf);
    snprintf(bearer, sizeof bearer, "Bearer %s", token);
    snprintf(cookie, sizeof cookie, "sm_session=%s", session);

    assert_int_equal(request(&c, "GET", "/api/auth/me/", NULL, NULL), 401);
    done(&c);
    assert_int_equal(
        request(&c, "GET", "/api/auth/me/", NULL, (const char *[]){"authorization", bearer, NULL}),
        200);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(c.json, "user"), "email")), "cust@x.io");
    done(&c);
    /* A bad bearer token is 401 even on a public route. */
    assert_int_equal(request(&c, "POST", "/api/auth/login/", "{}",
                             (const char *[]){"authorization", "Bearer nope", NULL}),
                     401);
    done(&c);
    /* Cookie: safe methods need no CSRF token, unsafe ones do. */
    assert_int_equal(
        request(&c, "GET", "/api/auth/me/", NULL, (const char *[]){"cookie", cookie, NULL}), 200);
    done(&c);
    assert_int_equal(
        request(&c, "POST", "/api/auth/logout/", NULL, (const char *[]){"cookie", cookie, NULL}),
        403);
    assert_string_equal(error_code(&c), "csrf_failed");
    done(&c);
    assert_int_equal(request(&c, "POST", "/api/auth/logout/", NULL,
                             (const char *[]){"cookie", cookie, "x-csrf-token", token, NULL}),
                     403);
    done(&c);
    assert_int_equal(request(&c, "POST", "/api/auth/logout/", NULL,
                             (const char *[]){"cookie", cookie, "x-csrf-token", csrf, NULL}),
                     204);
    assert_non_null(strstr(header(&c, "Set-Cookie", 0), "Max-Age=0"));
    done(&c);
    /* The session is revoked; the api token is not. */
    assert_int_equal(
        request(&c, "GET", "/api/auth/me/", NULL, (const char *[]){"cookie", cookie, NULL}), 401);
    done(&c);
    assert_int_equal(
        request(&c, "GET", "/api/auth/me/", NULL, (const char *[]){"authorization", bearer, NULL}),
        200);
    done(&c);
    assert_int_equal(request(&c, "POST", "/api/auth/logout/", NULL,
                             (const char *[]){"authorization", bearer, NULL}),
                     204);
    done(&c);
    assert_int_equal(
        request(&c, "GET", "/api/auth/me/", NULL, (const char *[]){"authorization", bearer, NULL}),
        401);
    done(&c);
}

static void admin_manages_users_but_not_itself(void **state)
{
    (void)state;
    call c;
    sm_error err = {0};
    int64_t admin_id = 0;
    char at[64], ct[64], s[64], x[80], ab[80], cb[80], path[64];
    assert_int_equal(
        users_create(tdb->d, "boss@x.io", "bosspass1", "Boss", "admin", &admin_id, &err), 0);
    login("boss@x.io", "bosspass1", at, s, x);
    login("cust@x.io", "password1", ct, s, x);
    snprintf(ab, sizeof ab, "Bearer %s", at);
    snprintf(cb, sizeof cb, "Bearer %s", ct);

    assert_int_equal(
        request(&c, "GET", "/api/users/", NULL, (const char *[]){"authorization", cb, NULL}), 403);
    assert_string_equal(error_code(&c), "forbidden");
    done(&c);
    assert_int_equal(request(&c, "GET", "/api/users/?role=customer&page_size=1", NULL,
                             (const char *[]){"authorization", ab, NULL}),
                     200);
    assert_int_equal(json_integer_value(json_object_get(c.json, "total")), 1);
    assert_int_equal(json_array_size(json_object_get(c.json, "items")), 1);
    done(&c);
    assert_int_equal(request(&c, "GET", "/api/users/?page_size=101", NULL,
                             (const char *[]){"authorization", ab, NULL}),
                     400);
    done(&c);

    snprintf(path, sizeof path, "/api/users/%lld/", (long long)admin_id);
    assert_int_equal(request(&c, "PATCH", path, "{\"role\":\"staff\"}",
                             (const char *[]){"authorization", ab, NULL}),
                     409);
    done(&c);
    assert_int_equal(request(&c, "PATCH", path, "{\"is_active\":false}",
                             (const char *[]){"authorization", ab, NULL}),
                     409);
    done(&c);
    assert_int_equal(request(&c, "PATCH", "/api/users/99999/", "{\"name\":\"x\"}",
                             (const char *[]){"authorization", ab, NULL}),
                     404);
    done(&c);

    users_record cust;
    assert_int_equal(users_get_by_email(tdb->d, "cust@x.io", &cust, &err), 0);
    snprintf(path, sizeof path, "/api/users/%lld/", (long long)cust.id);
    assert_int_equal(request(&c, "PATCH", path, "{\"is_active\":false,\"name\":\"Gone\"}",
                             (const char *[]){"authorization", ab, NULL}),
                     200);
    json_t *u = json_object_get(c.json, "user");
    assert_true(json_is_false(json_object_get(u, "is_active")));
    assert_string_equal(json_string_value(json_object_get(u, "name")), "Gone");
    done(&c);
    /* The deactivated user's token stops working at once. */
    assert_int_equal(
        request(&c, "GET", "/api/auth/me/", NULL, (const char *[]){"authorization", cb, NULL}),
        401);
    done(&c);
}

static void login_is_rate_limited_per_account(void **state)
{
    (void)state;
    call c;
    sm_error err = {0};
    assert_int_equal(users_create(tdb->d, "rl@x.io", "rightpass", "", "customer", NULL, &err), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(request(&c, "POST", "/api/auth/login/",
                                 "{\"email\":\"rl@x.io\",\"password\":\"wrongpass\"}", NULL),
                         401);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(c.json, "error"), "message")),
            "invalid email or password");
        done(&c);
    }
    assert_int_equal(request(&c, "POST", "/api/auth/login/",
                             "{\"email\":\"RL@x.io\",\"password\":\"rightpass\"}", NULL),
                     429);
    assert_string_equal(error_code(&c), "rate_limited");
    int64_t retry = atoll(header(&c, "Retry-After", 0));
    assert_true(retry >= 899 && retry <= 900);
    done(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(register_validates_and_conflicts),
        cmocka_unit_test(bearer_and_cookie_authentication),
        cmocka_unit_test(admin_manages_users_but_not_itself),
        cmocka_unit_test(login_is_rate_limited_per_account),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
