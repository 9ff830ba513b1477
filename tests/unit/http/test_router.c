/* test_router.c — the router: parameters, literal precedence, trailing
 * "*", 405 with Allow (HEAD included), HEAD served by GET, 404. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"

static void h_a(http_request *req, http_response *res, void *ctx)
{
    (void)req, (void)res, (void)ctx;
}
static void h_b(http_request *req, http_response *res, void *ctx)
{
    (void)req, (void)res, (void)ctx;
}
static void h_c(http_request *req, http_response *res, void *ctx)
{
    (void)req, (void)res, (void)ctx;
}

typedef struct fixture {
    http_router *r;
    arena *a;
} fixture;

static int setup(void **state)
{
    static fixture f;
    f.r = http_router_new();
    f.a = arena_new(0);
    assert_non_null(f.r);
    assert_non_null(f.a);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    http_router_free(f->r);
    arena_free(f->a);
    return 0;
}

static int match(fixture *f, const char *method, const char *path, http_request *req,
                 http_route_match *m)
{
    memset(req, 0, sizeof *req);
    req->arena = f->a;
    req->method = method;
    req->path = path;
    return http_router_match(f->r, req, m);
}

static void router_matches_params(void **state)
{
    fixture *f = *state;
    assert_int_equal(http_router_add(f->r, "GET", "/api/products/{id}/", h_a, NULL, 0), 0);
    assert_int_equal(http_router_add(f->r, "GET", "/api/users/{uid}/orders/{oid}/", h_b, NULL, 0),
                     0);
    http_request req;
    http_route_match m;
    assert_int_equal(match(f, "GET", "/api/products/42/", &req, &m), 0);
    assert_ptr_equal(m.fn, h_a);
    assert_string_equal(http_request_param(&req, "id"), "42");
    assert_int_equal(match(f, "GET", "/api/users/7/orders/9/", &req, &m), 0);
    assert_ptr_equal(m.fn, h_b);
    assert_string_equal(http_request_param(&req, "uid"), "7");
    assert_string_equal(http_request_param(&req, "oid"), "9");
    assert_null(http_request_param(&req, "nope"));
    /* a parameter is one non-empty segment; the trailing slash matters */
    assert_int_equal(match(f, "GET", "/api/products//", &req, &m), SM_ENOTFOUND);
    assert_int_equal(match(f, "GET", "/api/products/42", &req, &m), SM_ENOTFOUND);
    assert_int_equal(match(f, "GET", "/api/products/4/2/", &req, &m), SM_ENOTFOUND);
}

static void router_literal_beats_param(void **state)
{
    fixture *f = *state;
    /* registered param first: the literal must still win */
    assert_int_equal(http_router_add(f->r, "GET", "/a/{x}/d", h_a, NULL, 0), 0);
    assert_int_equal(http_router_add(f->r, "GET", "/a/b/c", h_b, NULL, 0), 0);
    assert_int_equal(http_router_add(f->r, "GET", "/a/b/d", h_c, NULL, 0), 0);
    http_request req;
    http_route_match m;
    assert_int_equal(match(f, "GET", "/a/b/d", &req, &m), 0);
    assert_ptr_equal(m.fn, h_c);
    assert_int_equal(match(f, "GET", "/a/b/c", &req, &m), 0);
    assert_ptr_equal(m.fn, h_b);
    assert_int_equal(match(f, "GET", "/a/z/d", &req, &m), 0);
    assert_ptr_equal(m.fn, h_a);
    assert_string_equal(http_request_param(&req, "x"), "z");
}

static void router_backtracks_to_param(void **state)
{
    fixture *f = *state;
    assert_int_equal(http_router_add(f->r, "GET", "/a/b/c", h_b, NULL, 0), 0);
    assert_int_equal(http_router_add(f->r, "GET", "/a/{x}/e", h_a, NULL, 0), 0);
    http_request req;
    http_route_match m;
    assert_int_equal(match(f, "GET", "/a/b/e", &req, &m), 0);
    assert_ptr_equal(m.fn, h_a);
    assert_string_equal(http_request_param(&req, "x"), "b");
}

static void router_405_lists_allow_with_head(void **state)
{
    fixture *f = *state;
    assert_int_equal(http_router_add(f->r, "GET", "/api/orders/", h_a, NULL, 0), 0);
    assert_int_equal(http_router_add(f->r, "POST", "/api/orders/", h_b, NULL, 0), 0);
    http_request req;
    http_route_match m;
    assert_int_equal(match(f, "DELETE", "/api/orders/", &req, &m), SM_EINVAL);
    assert_string_equal(m.allow, "GET, POST, HEAD");
    assert_int_equal(match(f, "HEAD", "/api/orders/", &req, &m), 0);
    assert_ptr_equal(m.fn, h_a);
    assert_int_equal(match(f, "POST", "/api/orders/", &req, &m), 0);
    assert_ptr_equal(m.fn, h_b);
    assert_int_equal(match(f, "GET", "/api/nothing/", &req, &m), SM_ENOTFOUND);
}

static void router_trailing_star_takes_rest(void **state)
{
    fixture *f = *state;
    assert_int_equal(http_router_add(f->r, "GET", "/files/*", h_a, NULL, 0), 0);
    assert_int_equal(http_router_add(f->r, "GET", "/files/special", h_b, NULL, 0), 0);
    assert_int_equal(http_router_add(f->r, "*", "/any/{id}", h_c, NULL, HTTP_ROUTE_INLINE), 0);
    http_request req;
    http_route_match m;
    assert_int_equal(match(f, "GET", "/files/a/b/c.txt", &req, &m), 0);
    assert_ptr_equal(m.fn, h_a);
    assert_string_equal(http_request_param(&req, "*"), "a/b/c.txt");
    assert_int_equal(match(f, "GET", "/files/", &req, &m), 0);
    assert_string_equal(http_request_param(&req, "*"), "");
    assert_int_equal(match(f, "GET", "/files/special", &req, &m), 0);
    assert_ptr_equal(m.fn, h_b);
    assert_int_equal(match(f, "GET", "/files", &req, &m), SM_ENOTFOUND);
    assert_int_equal(match(f, "PATCH", "/any/3", &req, &m), 0);
    assert_ptr_equal(m.fn, h_c);
    assert_int_equal(m.flags, HTTP_ROUTE_INLINE);
}

static void router_rejects_bad_patterns(void **state)
{
    fixture *f = *state;
    assert_int_equal(http_router_add(f->r, "GET", "nope", h_a, NULL, 0), SM_EINVAL);
    assert_int_equal(http_router_add(f->r, "GET", "/a/*/b", h_a, NULL, 0), SM_EINVAL);
    assert_int_equal(http_router_add(f->r, "GET", "/a/{}/", h_a, NULL, 0), SM_EINVAL);
    assert_int_equal(http_router_add(f->r, "get", "/a/", h_a, NULL, 0), SM_EINVAL);
    assert_int_equal(http_router_add(f->r, "GET", "/a/", h_a, NULL, 0), 0);
    assert_int_equal(http_router_add(f->r, "GET", "/a/", h_b, NULL, 0), SM_EINVAL);
    assert_int_equal(http_router_add(f->r, "GET", "/p/{x}/", h_a, NULL, 0), 0);
    assert_int_equal(http_router_add(f->r, "GET", "/p/{y}/z", h_a, NULL, 0), SM_EINVAL);
    assert_int_equal(
        http_router_add(f->r, "GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", h_a, NULL, 0),
        SM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(router_matches_params, setup, teardown),
        cmocka_unit_test_setup_teardown(router_literal_beats_param, setup, teardown),
        cmocka_unit_test_setup_teardown(router_backtracks_to_param, setup, teardown),
        cmocka_unit_test_setup_teardown(router_405_lists_allow_with_head, setup, teardown),
        cmocka_unit_test_setup_teardown(router_trailing_star_takes_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(router_rejects_bad_patterns, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
