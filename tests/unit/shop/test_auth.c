/* test_auth.c — tokens (shape, hashing, issue/authenticate/revoke/expiry),
 * the CSRF HMAC, and login rate limiting (also under concurrent attempts)
 * against a real database (test_auth_db.h: SQLite, or PostgreSQL when
 * SM_TEST_POSTGRES_URL is set). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "shop/auth.h"
#include "shop/users.h"
#include "test_auth_db.h"

#define T0 1800000000000LL /* a fixed "now" in ms */

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

static void token_hash_is_sha256_hex(void **state)
{
    (void)state;
    char out[AUTH_HASH_HEX_LEN + 1];
    auth_token_hash("abc", out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void token_shape_is_checked(void **state)
{
    (void)state;
    assert_true(auth_token_well_formed("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO-_"));
    assert_false(auth_token_well_formed("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO-"));
    assert_false(auth_token_well_formed("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO-_x"));
    assert_false(auth_token_well_formed("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO+/"));
    assert_false(auth_token_well_formed("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN'--"));
    assert_false(auth_token_well_formed(""));
    assert_false(auth_token_well_formed(NULL));
}

static void csrf_is_hmac_sha256_of_session(void **state)
{
    (void)state;
    char out[AUTH_HASH_HEX_LEN + 1];
    /* RFC 4231 test case 2. */
    auth_csrf_value("Jefe", "what do ya want for nothing?", out);
    assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_true(auth_csrf_verify("Jefe", "what do ya want for nothing?", out));
    out[10] ^= 1;
    assert_false(auth_csrf_verify("Jefe", "what do ya want for nothing?", out));
    assert_false(auth_csrf_verify("Jefe", "what do ya want for nothing?", ""));
    assert_false(auth_csrf_verify("Jefe", "what do ya want for nothing?", NULL));
    assert_false(
        auth_csrf_verify("Jefe", "what do ya want for nothing?",
                         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec38431"));
    auth_csrf_value("Jefe", "another session", out);
    assert_false(auth_csrf_verify("Jefe", "what do ya want for nothing?", out));
}

static void token_lifecycle(void **state)
{
    test_db *t = *state;
    sm_error err = {0};
    int64_t uid, expires = 0;
    users_record u;
    char tok[AUTH_TOKEN_LEN + 1], hash[AUTH_HASH_HEX_LEN + 1];

    assert_int_equal(users_create(t->d, "Tok@Example.com", "password-1", "T", "staff", &uid, &err),
                     0);
    assert_int_equal(auth_token_issue(t->d, uid, AUTH_TOKEN_API, 60, T0, tok, &expires, &err), 0);
    assert_int_equal(strlen(tok), AUTH_TOKEN_LEN);
    assert_true(auth_token_well_formed(tok));
    assert_true(expires == T0 + 60000);

    /* The database holds the hash, never the token. */
    db_result *r = NULL;
    assert_int_equal(db_query(t->d, "SELECT token_hash FROM auth_tokens", NULL, 0, &r, &err), 0);
    auth_token_hash(tok, hash);
    assert_string_equal(db_result_text(r, 0, 0), hash);
    db_result_free(r);

    assert_int_equal(auth_token_authenticate(t->d, tok, AUTH_TOKEN_API, T0 + 1, &u, hash, &err), 0);
    assert_true(u.id == uid);
    assert_string_equal(u.role, "staff");
    assert_string_equal(u.email, "tok@example.com");
    /* Wrong kind, expiry, malformed. */
    assert_int_equal(auth_token_authenticate(t->d, tok, AUTH_TOKEN_SESSION, T0, &u, NULL, &err),
                     SM_EUNAUTHORIZED);
    assert_int_equal(auth_token_authenticate(t->d, tok, AUTH_TOKEN_API, T0 + 60000, &u, NULL, &err),
                     SM_EUNAUTHORIZED);
    assert_int_equal(auth_token_authenticate(t->d, "nope", AUTH_TOKEN_API, T0, &u, NULL, &err),
                     SM_EUNAUTHORIZED);

    /* Deactivation stops the token at once. */
    users_changes off = {.role = NULL, .is_active = 0, .name = NULL};
    users_changes on = {.role = NULL, .is_active = 1, .name = NULL};
    assert_int_equal(users_update(t->d, uid, &off, NULL, &err), 0);
    assert_int_equal(auth_token_authenticate(t->d, tok, AUTH_TOKEN_API, T0, &u, NULL, &err),
                     SM_EUNAUTHORIZED);
    assert_int_equal(users_update(t->d, uid, &on, NULL, &err), 0);
    assert_int_equal(auth_token_authenticate(t->d, tok, AUTH_TOKEN_API, T0, &u, NULL, &err), 0);

    /* Revocation, idempotent. */
    assert_int_equal(auth_token_revoke(t->d, hash, T0, &err), 0);
    assert_int_equal(auth_token_revoke(t->d, hash, T0, &err), 0);
    assert_int_equal(auth_token_authenticate(t->d, tok, AUTH_TOKEN_API, T0, &u, NULL, &err),
                     SM_EUNAUTHORIZED);

    /* Revoking a user's tokens ends every session. */
    assert_int_equal(auth_token_issue(t->d, uid, AUTH_TOKEN_SESSION, 60, T0, tok, NULL, &err), 0);
    assert_int_equal(auth_token_authenticate(t->d, tok, AUTH_TOKEN_SESSION, T0, &u, NULL, &err), 0);
    assert_int_equal(auth_token_revoke_user(t->d, uid, T0, &err), 0);
    assert_int_equal(auth_token_authenticate(t->d, tok, AUTH_TOKEN_SESSION, T0, &u, NULL, &err),
                     SM_EUNAUTHORIZED);
}

/* One attempt that fails its password check. */
static int failed_attempt(test_db *t, const auth_limits *lim, const char *email, const char *ip,
                          int64_t now, int64_t *retry)
{
    sm_error err = {0};
    auth_attempt a;
    return auth_login_begin(t->d, lim, email, ip, now, &a, retry, &err);
}

/* One attempt whose password is right. */
static void good_attempt(test_db *t, const auth_limits *lim, const char *email, const char *ip,
                         int64_t now)
{
    sm_error err = {0};
    auth_attempt a;
    int64_t retry = 0;
    assert_int_equal(auth_login_begin(t->d, lim, email, ip, now, &a, &retry, &err), 0);
    assert_int_equal(auth_login_succeeded(t->d, &a, &err), 0);
}

static void account_locks_after_max_failures(void **state)
{
    test_db *t = *state;
    auth_limits lim = {.max_failures = 3, .max_per_ip = 100, .window_s = 60};
    int64_t retry = 0;

    for (int i = 0; i < 3; i++)
        assert_int_equal(failed_attempt(t, &lim, i == 1 ? "A@X.io" : "a@x.io", "10.0.0.1",
                                        T0 + i * 1000, &retry),
                         0);
    /* Locked, whatever the IP and the case of the email; until the oldest
     * of the 3 failures (at T0) leaves the 60 s window. */
    assert_int_equal(failed_attempt(t, &lim, "A@x.IO", "10.9.9.9", T0 + 2500, &retry),
                     SM_ERATELIMIT);
    assert_true(retry == 58); /* ceil((T0 + 60000 - (T0 + 2500)) / 1000) */
    assert_int_equal(failed_attempt(t, &lim, "a@x.io", "10.9.9.9", T0 + 59999, &retry),
                     SM_ERATELIMIT);
    assert_true(retry == 1);
    /* Another account is not affected. */
    assert_int_equal(failed_attempt(t, &lim, "b@x.io", "10.0.0.1", T0 + 2500, &retry), 0);
    /* Refused attempts were not recorded: the lock ends at T0 + 60 s, and
     * the attempt then made is the third failure in the window again. */
    assert_int_equal(failed_attempt(t, &lim, "a@x.io", "10.9.9.9", T0 + 60000, &retry), 0);
    assert_int_equal(failed_attempt(t, &lim, "a@x.io", "10.9.9.9", T0 + 60001, &retry),
                     SM_ERATELIMIT);
    assert_true(retry == 1); /* until T0 + 1000 leaves the window */
}

static void success_clears_account_failures(void **state)
{
    test_db *t = *state;
    auth_limits lim = {.max_failures = 2, .max_per_ip = 100, .window_s = 60};
    int64_t retry = 0;

    assert_int_equal(failed_attempt(t, &lim, "c@x.io", "10.0.0.2", T0, &retry), 0);
    good_attempt(t, &lim, "c@x.io", "10.0.0.2", T0 + 1);
    assert_int_equal(failed_attempt(t, &lim, "c@x.io", "10.0.0.2", T0 + 2, &retry), 0);
    assert_int_equal(failed_attempt(t, &lim, "c@x.io", "10.0.0.2", T0 + 3, &retry), 0);
    assert_int_equal(failed_attempt(t, &lim, "c@x.io", "10.0.0.2", T0 + 5, &retry), SM_ERATELIMIT);
    /* The lock ends when the older of the two post-success failures (T0+2)
     * leaves the window. */
    assert_true(retry == 60);
}

static void ip_limit_counts_every_attempt(void **state)
{
    test_db *t = *state;
    auth_limits lim = {.max_failures = 100, .max_per_ip = 3, .window_s = 10};
    int64_t retry = 0;

    good_attempt(t, &lim, "d1@x.io", "192.0.2.7", T0);
    assert_int_equal(failed_attempt(t, &lim, "d2@x.io", "192.0.2.7", T0 + 1000, &retry), 0);
    good_attempt(t, &lim, "d3@x.io", "192.0.2.7", T0 + 2000);
    /* Successes count too, and do not reset the IP. */
    assert_int_equal(failed_attempt(t, &lim, "new@x.io", "192.0.2.7", T0 + 3000, &retry),
                     SM_ERATELIMIT);
    assert_true(retry == 7);
    assert_int_equal(failed_attempt(t, &lim, "new@x.io", "192.0.2.8", T0 + 3000, &retry), 0);
    assert_int_equal(failed_attempt(t, &lim, "new@x.io", "192.0.2.7", T0 + 10000, &retry), 0);
}

/* ---- concurrent attempts ---- */

enum { RACERS = 8 };

typedef struct racer {
    const char *url;
    pthread_barrier_t *go;
    int rc;
} racer;

static void *race_one(void *arg)
{
    racer *r = arg;
    auth_limits lim = {.max_failures = 3, .max_per_ip = 1000, .window_s = 60};
    sm_error err = {0};
    auth_attempt a;
    int64_t retry = 0;
    db *d = NULL;
    if (db_open(r->url, 5000, &d, &err) < 0) {
        r->rc = 1;
        return NULL;
    }
    pthread_barrier_wait(r->go);
    r->rc = auth_login_begin(d, &lim, "race@x.io", "10.1.1.1", T0, &a, &retry, &err);
    db_close(d);
    return NULL;
}

/* Parallel guesses at one account: exactly the limit get to try their
 * password, however they interleave (check and record are one step). */
static void concurrent_attempts_never_exceed_the_limit(void **state)
{
    test_db *t = *state;
    pthread_barrier_t go;
    pthread_t th[RACERS];
    racer r[RACERS];
    int allowed = 0, refused = 0;
    pthread_barrier_init(&go, NULL, RACERS);
    for (int i = 0; i < RACERS; i++) {
        r[i] = (racer){.url = t->url, .go = &go, .rc = -1};
        assert_int_equal(pthread_create(&th[i], NULL, race_one, &r[i]), 0);
    }
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        allowed += r[i].rc == 0;
        refused += r[i].rc == SM_ERATELIMIT;
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(allowed, 3);
    assert_int_equal(refused, RACERS - 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_hash_is_sha256_hex),
        cmocka_unit_test(token_shape_is_checked),
        cmocka_unit_test(csrf_is_hmac_sha256_of_session),
        cmocka_unit_test_setup_teardown(token_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(account_locks_after_max_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(success_clears_account_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(ip_limit_counts_every_attempt, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_attempts_never_exceed_the_limit, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
