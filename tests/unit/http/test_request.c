/* test_request.c — query and cookie decoding, percent-decoding, request
 * ids, through the public accessors and the internal helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_internal.h"

static void query_decodes_first_occurrence(void **state)
{
    (void)state;
    arena *a = arena_new(0);
    http_request req = {.arena = a,
                        .query = "q=caf%C3%A9+au+lait&page=2&page=3&empty=&flag&a%20b=x"};
    assert_string_equal(http_request_query(&req, "q"), "café au lait");
    assert_string_equal(http_request_query(&req, "page"), "2");
    assert_string_equal(http_request_query(&req, "empty"), "");
    assert_string_equal(http_request_query(&req, "flag"), "");
    assert_string_equal(http_request_query(&req, "a b"), "x");
    assert_null(http_request_query(&req, "missing"));
    assert_null(http_request_query(&req, "pag"));
    http_request bad = {.arena = a, .query = "x=%zz&y=%00&z=%4"};
    assert_null(http_request_query(&bad, "x"));
    assert_null(http_request_query(&bad, "y"));
    assert_null(http_request_query(&bad, "z"));
    http_request none = {.arena = a, .query = ""};
    assert_null(http_request_query(&none, "q"));
    arena_free(a);
}

static void cookie_parses_pairs(void **state)
{
    (void)state;
    arena *a = arena_new(0);
    http_header h[] = {{"cookie", "sm_session=abc123; sm_csrf=\"tok\" ;other=1"},
                       {"cookie", "late=yes"}};
    http_request req = {.arena = a, .headers = h, .header_count = 2};
    assert_string_equal(http_request_cookie(&req, "sm_session"), "abc123");
    assert_string_equal(http_request_cookie(&req, "sm_csrf"), "tok");
    assert_string_equal(http_request_cookie(&req, "other"), "1");
    assert_string_equal(http_request_cookie(&req, "late"), "yes");
    assert_null(http_request_cookie(&req, "sm"));
    assert_null(http_request_cookie(&req, "session"));
    assert_string_equal(http_request_header(&req, "cookie"), h[0].value);
    arena_free(a);
}

static void percent_decode_rejects_nul_and_bad_escapes(void **state)
{
    (void)state;
    arena *a = arena_new(0);
    assert_string_equal(http_percent_decode(a, "/a%2Fb+c", 8, false), "/a/b+c");
    assert_string_equal(http_percent_decode(a, "a+b", 3, true), "a b");
    assert_null(http_percent_decode(a, "/a%00", 5, false));
    assert_null(http_percent_decode(a, "/a%G1", 5, false));
    assert_null(http_percent_decode(a, "/a%", 3, false));
    arena_free(a);
}

static void request_id_validation_and_generation(void **state)
{
    (void)state;
    assert_true(http_request_id_valid("abc-DEF_1.2"));
    assert_false(http_request_id_valid(""));
    assert_false(http_request_id_valid("a b"));
    assert_false(http_request_id_valid("a\"b"));
    char long_id[80];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    assert_false(http_request_id_valid(long_id));
    long_id[64] = '\0';
    assert_true(http_request_id_valid(long_id));
    char x[33], y[33];
    http_request_id_generate(x);
    http_request_id_generate(y);
    assert_int_equal(strlen(x), 32);
    assert_true(http_request_id_valid(x));
    assert_string_not_equal(x, y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(query_decodes_first_occurrence),
        cmocka_unit_test(cookie_parses_pairs),
        cmocka_unit_test(percent_decode_rejects_nul_and_bad_escapes),
        cmocka_unit_test(request_id_validation_and_generation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
