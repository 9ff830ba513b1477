/* test_api_util.c — field validation of api_util: types, bounds, UTF-8
 * strictness and code-point counting, required/optional semantics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/api_util.h"

static json_t *obj(const char *text)
{
    json_error_t e;
    json_t *o = json_loads(text, JSON_ALLOW_NUL, &e);
    assert_non_null(o);
    return o;
}

static void string_counts_code_points_not_bytes(void **state)
{
    (void)state;
    json_t *o = json_object(), *details = json_object();
    /* "é€😀" is 3 code points in 2 + 3 + 4 bytes. */
    json_object_set_new(o, "s", json_string("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
    const char *out = NULL;
    assert_int_equal(api_field_string(o, "s", true, 3, 3, &out, details), 1);
    assert_non_null(out);
    assert_int_equal(api_field_string(o, "s", true, 4, 10, &out, details), SM_EINVAL);
    assert_non_null(json_object_get(details, "s"));
    json_decref(o);
    json_decref(details);
}

static void string_rejects_invalid_utf8(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong, 3 bytes */
        "\xed\xa0\x80",     /* UTF-16 surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "\xc3",             /* truncated */
        "\x80",             /* lone continuation */
        "ab\xff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* json_string would refuse these; json_stringn_nocheck builds them as
         * a caller that did not come from the parser could. */
        json_t *o = json_object(), *details = json_object();
        json_object_set_new(o, "s", json_stringn_nocheck(bad[i], strlen(bad[i])));
        const char *out = NULL;
        assert_int_equal(api_field_string(o, "s", true, 0, 100, &out, details), SM_EINVAL);
        assert_null(out);
        assert_non_null(json_object_get(details, "s"));
        json_decref(o);
        json_decref(details);
    }
}

static void string_rejects_nul(void **state)
{
    (void)state;
    json_t *o = obj("{\"s\": \"a\\u0000b\"}"), *details = json_object();
    const char *out = NULL;
    assert_int_equal(api_field_string(o, "s", true, 0, 100, &out, details), SM_EINVAL);
    assert_null(out);
    json_decref(o);
    json_decref(details);
}

static void string_bounds_and_types(void **state)
{
    (void)state;
    json_t *o = obj("{\"empty\": \"\", \"n\": 5, \"nul\": null, \"ok\": \"abc\"}");
    json_t *details = json_object();
    const char *out = "unchanged";
    assert_int_equal(api_field_string(o, "empty", true, 1, 10, &out, details), SM_EINVAL);
    assert_string_equal(json_string_value(json_object_get(details, "empty")), "must not be empty");
    assert_int_equal(api_field_string(o, "n", true, 0, 10, &out, details), SM_EINVAL);
    assert_int_equal(api_field_string(o, "nul", false, 0, 10, &out, details), SM_EINVAL);
    assert_int_equal(api_field_string(o, "ok", true, 0, 2, &out, details), SM_EINVAL);
    assert_string_equal(out, "unchanged");
    assert_int_equal(api_field_string(o, "absent", false, 0, 10, &out, details), 0);
    assert_string_equal(out, "unchanged");
    assert_int_equal(api_field_string(o, "absent", true, 0, 10, &out, details), SM_EINVAL);
    assert_string_equal(json_string_value(json_object_get(details, "absent")), "is required");
    assert_int_equal(json_object_size(details), 5);
    assert_int_equal(api_field_string(o, "ok", true, 3, 3, &out, details), 1);
    assert_string_equal(out, "abc");
    json_decref(o);
    json_decref(details);
}

static void int_types_and_bounds(void **state)
{
    (void)state;
    json_t *o = obj("{\"i\": 42, \"r\": 4.0, \"s\": \"42\", \"b\": true, \"big\": "
                    "9223372036854775807, \"neg\": -1}");
    json_t *details = json_object();
    int64_t v = -7;
    assert_int_equal(api_field_int(o, "i", true, 0, 100, &v, details), 1);
    assert_int_equal(v, 42);
    assert_int_equal(api_field_int(o, "i", true, 43, 100, &v, details), SM_EINVAL);
    assert_int_equal(api_field_int(o, "r", true, 0, 100, &v, details), SM_EINVAL);
    assert_int_equal(api_field_int(o, "s", true, 0, 100, &v, details), SM_EINVAL);
    assert_int_equal(api_field_int(o, "b", true, 0, 100, &v, details), SM_EINVAL);
    assert_int_equal(api_field_int(o, "neg", true, 0, 100, &v, details), SM_EINVAL);
    assert_int_equal(api_field_int(o, "big", true, 0, INT64_MAX, &v, details), 1);
    assert_true(v == INT64_MAX);
    v = 5;
    assert_int_equal(api_field_int(o, "absent", false, 0, 10, &v, details), 0);
    assert_int_equal(v, 5);
    json_decref(o);
    json_decref(details);
}

static void bool_types(void **state)
{
    (void)state;
    json_t *o = obj("{\"t\": true, \"f\": false, \"one\": 1, \"str\": \"true\"}");
    json_t *details = json_object();
    bool b = false;
    assert_int_equal(api_field_bool(o, "t", true, &b, details), 1);
    assert_true(b);
    assert_int_equal(api_field_bool(o, "f", true, &b, details), 1);
    assert_false(b);
    assert_int_equal(api_field_bool(o, "one", true, &b, details), SM_EINVAL);
    assert_int_equal(api_field_bool(o, "str", true, &b, details), SM_EINVAL);
    assert_int_equal(json_object_size(details), 2);
    json_decref(o);
    json_decref(details);
}

static void first_message_per_field_wins(void **state)
{
    (void)state;
    json_t *o = obj("{\"x\": 1}"), *details = json_object();
    const char *s = NULL;
    bool b;
    assert_int_equal(api_field_string(o, "x", true, 0, 1, &s, details), SM_EINVAL);
    assert_int_equal(api_field_bool(o, "x", true, &b, details), SM_EINVAL);
    assert_string_equal(json_string_value(json_object_get(details, "x")), "must be a string");
    json_decref(o);
    json_decref(details);
}

static void json_time_is_iso8601_utc(void **state)
{
    (void)state;
    json_t *t = api_json_time(1795928400123LL);
    assert_string_equal(json_string_value(t), "2026-11-29T05:00:00.123Z");
    json_decref(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(string_counts_code_points_not_bytes),
        cmocka_unit_test(string_rejects_invalid_utf8),
        cmocka_unit_test(string_rejects_nul),
        cmocka_unit_test(string_bounds_and_types),
        cmocka_unit_test(int_types_and_bounds),
        cmocka_unit_test(bool_types),
        cmocka_unit_test(first_message_per_field_wins),
        cmocka_unit_test(json_time_is_iso8601_utc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
