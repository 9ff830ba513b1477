/* test_users.c — accounts: argon2id hashing and verification, email rules,
 * case-insensitive uniqueness, listing, updates and JSON rendering.
 * argon2id is slow by design, so few users are created. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "shop/users.h"
#include "test_auth_db.h"

static int setup(void **state)
{
    *state = test_db_open();
    return 0;
}

static int teardown(void **state)
{
    test_db_close(*state);
    return 0;
}

static void email_rules(void **state)
{
    (void)state;
    assert_int_equal(users_validate_email("a@b", NULL), 0);
    assert_int_equal(users_validate_email("Some.One+tag@example.co.uk", NULL), 0);
    assert_int_equal(users_validate_email("no-at-sign", NULL), SM_EINVAL);
    assert_int_equal(users_validate_email("@example.com", NULL), SM_EINVAL);
    assert_int_equal(users_validate_email("a@", NULL), SM_EINVAL);
    assert_int_equal(users_validate_email("a@b@c", NULL), SM_EINVAL);
    assert_int_equal(users_validate_email("a b@c.d", NULL), SM_EINVAL);
    assert_int_equal(users_validate_email("\xc3\xa9@c.d", NULL), SM_EINVAL);
    char longest[USERS_EMAIL_MAX + 2];
    memset(longest, 'a', sizeof longest);
    longest[1] = '@';
    longest[USERS_EMAIL_MAX] = '\0';
    assert_int_equal(users_validate_email(longest, NULL), 0);
    longest[USERS_EMAIL_MAX] = 'a';
    longest[USERS_EMAIL_MAX + 1] = '\0';
    assert_int_equal(users_validate_email(longest, NULL), SM_EINVAL);
}

static void create_rejects_bad_input_before_hashing(void **state)
{
    test_db *t = *state;
    sm_error err = {0};
    assert_int_equal(users_create(t->d, "x@y.z", "short", "", "customer", NULL, &err), SM_EINVAL);
    assert_int_equal(users_create(t->d, "xy.z", "long enough", "", "customer", NULL, &err),
                     SM_EINVAL);
    assert_int_equal(users_create(t->d, "x@y.z", "long enough", "", "root", NULL, &err), SM_EINVAL);
    char big[USERS_PASSWORD_MAX_BYTES + 2];
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(users_create(t->d, "x@y.z", big, "", "customer", NULL, &err), SM_EINVAL);
}

static void create_hashes_and_verify_checks(void **state)
{
    test_db *t = *state;
    sm_error err = {0};
    int64_t id = 0;
    users_record u;

    assert_int_equal(
        users_create(t->d, "Alice@Example.COM", "correct horse", "Alice", "customer", &id, &err),
        0);
    assert_true(id > 0);

    /* Stored as an argon2id string, never the password. */
    db_result *r = NULL;
    db_value p[] = {DB_I(id)};
    assert_int_equal(
        db_query(t->d, "SELECT password_hash, email FROM users WHERE id = $1", p, 1, &r, &err), 0);
    assert_memory_equal(db_result_text(r, 0, 0), "$argon2id$", 10);
    assert_null(strstr(db_result_text(r, 0, 0), "correct horse"));
    assert_string_equal(db_result_text(r, 0, 1), "alice@example.com");
    db_result_free(r);

    /* Case-insensitive uniqueness. */
    assert_int_equal(
        users_create(t->d, "ALICE@example.com", "another one", "", "customer", NULL, &err),
        SM_ECONFLICT);

    assert_int_equal(users_verify_password(t->d, "aLiCe@example.com", "correct horse", &u, &err),
                     0);
    assert_true(u.id == id);
    assert_string_equal(u.name, "Alice");
    assert_int_equal(users_verify_password(t->d, "alice@example.com", "wrong horse", &u, &err),
                     SM_EUNAUTHORIZED);
    assert_int_equal(users_verify_password(t->d, "nobody@example.com", "correct horse", &u, &err),
                     SM_EUNAUTHORIZED);
    assert_string_equal(err.message, "invalid email or password");

    /* An inactive account cannot log in, even with the right password. */
    users_changes off = {.role = NULL, .is_active = 0, .name = NULL};
    assert_int_equal(users_update(t->d, id, &off, &u, &err), 0);
    assert_false(u.is_active);
    assert_int_equal(users_verify_password(t->d, "alice@example.com", "correct horse", &u, &err),
                     SM_EUNAUTHORIZED);
}

static void list_update_and_render(void **state)
{
    test_db *t = *state;
    sm_error err = {0};
    int64_t a, b, c, total = 0;
    assert_int_equal(users_create(t->d, "a@x.io", "password-a", "A", "admin", &a, &err), 0);
    assert_int_equal(users_create(t->d, "b@x.io", "password-b", "B", "customer", &b, &err), 0);
    assert_int_equal(users_create(t->d, "c@x.io", "password-c", "C", "customer", &c, &err), 0);

    json_t *items = NULL;
    assert_int_equal(users_list(t->d, NULL, 0, 2, &items, &total, &err), 0);
    assert_int_equal(total, 3);
    assert_int_equal(json_array_size(items), 2);
    json_decref(items);
    assert_int_equal(users_list(t->d, "customer", 1, 10, &items, &total, &err), 0);
    assert_int_equal(total, 2);
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "email")),
                        "c@x.io");
    json_decref(items);
    assert_int_equal(users_list(t->d, "root", 0, 10, &items, &total, &err), SM_EINVAL);

    users_record u;
    users_changes ch = {.role = "staff", .is_active = -1, .name = "Bea"};
    assert_int_equal(users_update(t->d, b, &ch, &u, &err), 0);
    assert_string_equal(u.role, "staff");
    assert_string_equal(u.name, "Bea");
    assert_true(u.is_active);
    ch = (users_changes){.role = "root", .is_active = -1, .name = NULL};
    assert_int_equal(users_update(t->d, b, &ch, &u, &err), SM_EINVAL);
    ch = (users_changes){.role = NULL, .is_active = -1, .name = NULL};
    assert_int_equal(users_update(t->d, 9999, &ch, &u, &err), SM_ENOTFOUND);
    assert_int_equal(users_get(t->d, 9999, &u, &err), SM_ENOTFOUND);
    assert_int_equal(users_get_by_email(t->d, "B@X.IO", &u, &err), 0);
    assert_true(u.id == b);

    json_t *j = users_to_json(&u);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 6);
    assert_null(json_object_get(j, "password_hash"));
    assert_true(json_is_true(json_object_get(j, "is_active")));
    assert_int_equal(json_integer_value(json_object_get(j, "id")), b);
    assert_non_null(strchr(json_string_value(json_object_get(j, "created_at")), 'T'));
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(email_rules),
        cmocka_unit_test_setup_teardown(create_rejects_bad_input_before_hashing, setup, teardown),
        cmocka_unit_test_setup_teardown(create_hashes_and_verify_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(list_update_and_render, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
