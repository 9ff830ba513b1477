/* users.c — accounts.
 *
 * Passwords are hashed with argon2id through libsodium's crypto_pwhash_str
 * at the INTERACTIVE limits (2 passes, 64 MiB): about 50–100 ms per hash on
 * a server core, which is what a login can afford and what makes an offline
 * attack on a stolen table expensive. The string form embeds its own
 * parameters, so raising the limits later only needs a rehash on the next
 * successful login (done here when crypto_pwhash_str_needs_rehash says so).
 *
 * Emails are normalised to lower-case ASCII before they touch the database;
 * the UNIQUE constraint then gives case-insensitive uniqueness on both
 * engines without a functional index. Non-ASCII addresses are refused: they
 * are rare, and accepting them would need Unicode case folding to keep the
 * uniqueness promise.
 *
 * Login verification never reveals whether an account exists: an unknown
 * email still pays for one argon2id verify against a dummy hash computed
 * once per process, and an inactive account is verified before it is
 * refused. */
#include "shop/users.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/clock.h"
#include "core/log.h"

/* A bound text parameter from a char array (DB_T tests its argument for
 * NULL, which -Waddress rejects for arrays). */
#define DB_BUF(a) ((db_value){.type = DB_TEXT, .s = (a)})

/* USERS_COLUMNS unqualified, for RETURNING (SQLite does not accept
 * qualified names there). */
#define RETURNING_COLUMNS "id, email, name, role, is_active, created_at, updated_at"

static const char *const roles[] = {"admin", "staff", "customer"};

bool users_role_valid(const char *role)
{
    if (!role)
        return false;
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (!strcmp(role, roles[i]))
            return true;
    return false;
}

int users_validate_email(const char *email, sm_error *err)
{
    if (!email)
        return sm_error_set(err, SM_EINVAL, "email is required");
    size_t len = strlen(email);
    if (len < 3 || len > USERS_EMAIL_MAX)
        return sm_error_set(err, SM_EINVAL, "email must be 3 to %d characters", USERS_EMAIL_MAX);
    const char *at = strchr(email, '@');
    if (!at)
        return sm_error_set(err, SM_EINVAL, "email must contain '@'");
    if (at == email || at[1] == '\0' || strchr(at + 1, '@'))
        return sm_error_set(err, SM_EINVAL, "email must be local@domain");
    for (const unsigned char *p = (const unsigned char *)email; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return sm_error_set(err, SM_EINVAL, "email must be printable ASCII without spaces");
    return 0;
}

/* Validates and lower-cases `email` into `out` (USERS_EMAIL_MAX + 1 bytes). */
static int normalize_email(const char *email, char *out, sm_error *err)
{
    int rc = users_validate_email(email, err);
    if (rc < 0)
        return rc;
    size_t i = 0;
    for (; email[i]; i++) {
        char c = email[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[i] = '\0';
    return 0;
}

static int check_password(const char *password, sm_error *err)
{
    if (!password)
        return sm_error_set(err, SM_EINVAL, "password is required");
    size_t len = strlen(password);
    if (len < USERS_PASSWORD_MIN || len > USERS_PASSWORD_MAX_BYTES)
        return sm_error_set(err, SM_EINVAL, "password must be %d to %d bytes", USERS_PASSWORD_MIN,
                            USERS_PASSWORD_MAX_BYTES);
    return 0;
}

static int hash_password(const char *password, char out[crypto_pwhash_STRBYTES], sm_error *err)
{
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return sm_error_set(err, SM_ENOMEM, "password hashing ran out of memory");
    return 0;
}

int users_create(db *d, const char *email, const char *password, const char *name, const char *role,
                 int64_t *id, sm_error *err)
{
    char norm[USERS_EMAIL_MAX + 1];
    char hash[crypto_pwhash_STRBYTES];
    int rc;

    if ((rc = normalize_email(email, norm, err)) < 0 || (rc = check_password(password, err)) < 0)
        return rc;
    if (!users_role_valid(role))
        return sm_error_set(err, SM_EINVAL, "role must be admin, staff or customer");
    if (!name)
        name = "";
    if (strlen(name) > USERS_NAME_MAX_BYTES)
        return sm_error_set(err, SM_EINVAL, "name is too long");
    if ((rc = hash_password(password, hash, err)) < 0)
        return rc;

    int64_t now = clock_now_ms();
    db_value p[] = {DB_BUF(norm), DB_T(name), DB_BUF(hash), DB_T(role), DB_I(now)};
    db_result *r = NULL;
    rc = db_query(d,
                  "INSERT INTO users (email, name, password_hash, role, is_active, created_at, "
                  "updated_at) VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING id",
                  p, 5, &r, err);
    sodium_memzero(hash, sizeof hash);
    if (rc == SM_ECONFLICT)
        return sm_error_set(err, SM_ECONFLICT, "email already registered");
    if (rc < 0)
        return rc;
    if (db_result_rows(r) != 1) {
        db_result_free(r);
        return sm_error_set(err, SM_EDB, "insert returned no id");
    }
    if (id)
        *id = db_result_int(r, 0, 0);
    db_result_free(r);
    return 0;
}

void users_from_row(const db_result *r, int row, users_record *out)
{
    memset(out, 0, sizeof *out);
    out->id = db_result_int(r, row, 0);
    snprintf(out->email, sizeof out->email, "%s", db_result_text(r, row, 1) ?: "");
    snprintf(out->name, sizeof out->name, "%s", db_result_text(r, row, 2) ?: "");
    snprintf(out->role, sizeof out->role, "%s", db_result_text(r, row, 3) ?: "");
    out->is_active = db_result_int(r, row, 4) != 0;
    out->created_at = db_result_int(r, row, 5);
    out->updated_at = db_result_int(r, row, 6);
}

/* Runs a query expected to return at most one USERS_COLUMNS row. */
static int get_one(db *d, const char *sql, const db_value *p, int np, users_record *out,
                   sm_error *err)
{
    db_result *r = NULL;
    int rc = db_query(d, sql, p, np, &r, err);
    if (rc < 0)
        return rc;
    if (db_result_rows(r) < 1) {
        db_result_free(r);
        return sm_error_set(err, SM_ENOTFOUND, "no such user");
    }
    if (out)
        users_from_row(r, 0, out);
    db_result_free(r);
    return 0;
}

int users_get(db *d, int64_t id, users_record *out, sm_error *err)
{
    db_value p[] = {DB_I(id)};
    return get_one(d, "SELECT " USERS_COLUMNS " FROM users WHERE id = $1", p, 1, out, err);
}

int users_get_by_email(db *d, const char *email, users_record *out, sm_error *err)
{
    char norm[USERS_EMAIL_MAX + 1];
    if (normalize_email(email, norm, NULL) < 0)
        return sm_error_set(err, SM_ENOTFOUND, "no such user");
    db_value p[] = {DB_BUF(norm)};
    return get_one(d, "SELECT " USERS_COLUMNS " FROM users WHERE email = $1", p, 1, out, err);
}

int users_list(db *d, const char *role, int64_t offset, int64_t limit, json_t **items,
               int64_t *total, sm_error *err)
{
    if (role && !users_role_valid(role))
        return sm_error_set(err, SM_EINVAL, "role must be admin, staff or customer");
    if (offset < 0 || limit < 1 || limit > 1000)
        return sm_error_set(err, SM_EINVAL, "bad page bounds");

    /* "$1 IS NULL OR role = $1" keeps one statement for both the filtered
     * and the unfiltered list; the CAST tells PostgreSQL the type of a NULL
     * $1, which it cannot infer from IS NULL. */
    db_value pc[] = {DB_T(role)};
    db_result *r = NULL;
    int rc = db_query(d, "SELECT COUNT(*) FROM users WHERE (CAST($1 AS TEXT) IS NULL OR role = $1)",
                      pc, 1, &r, err);
    if (rc < 0)
        return rc;
    *total = db_result_int(r, 0, 0);
    db_result_free(r);
    r = NULL;

    db_value pl[] = {DB_T(role), DB_I(limit), DB_I(offset)};
    rc = db_query(d,
                  "SELECT " USERS_COLUMNS
                  " FROM users WHERE (CAST($1 AS TEXT) IS NULL OR role = $1) "
                  "ORDER BY id LIMIT $2 OFFSET $3",
                  pl, 3, &r, err);
    if (rc < 0)
        return rc;
    json_t *arr = json_array();
    if (!arr)
        goto nomem;
    for (int i = 0; i < db_result_rows(r); i++) {
        users_record u;
        users_from_row(r, i, &u);
        if (json_array_append_new(arr, users_to_json(&u)) < 0)
            goto nomem;
    }
    db_result_free(r);
    *items = arr;
    return 0;
nomem:
    json_decref(arr);
    db_result_free(r);
    return sm_error_set(err, SM_ENOMEM, "out of memory listing users");
}

int users_update(db *d, int64_t id, const users_changes *c, users_record *out, sm_error *err)
{
    if (c->role && !users_role_valid(c->role))
        return sm_error_set(err, SM_EINVAL, "role must be admin, staff or customer");
    if (c->name && strlen(c->name) > USERS_NAME_MAX_BYTES)
        return sm_error_set(err, SM_EINVAL, "name is too long");
    if (c->is_active < -1 || c->is_active > 1)
        return sm_error_set(err, SM_EINVAL, "is_active must be 0 or 1");

    /* COALESCE keeps unchanged fields: NULL parameters mean "leave it". */
    db_value p[] = {DB_T(c->role), c->is_active < 0 ? DB_NULLV : DB_I(c->is_active), DB_T(c->name),
                    DB_I(clock_now_ms()), DB_I(id)};
    return get_one(d,
                   "UPDATE users SET role = COALESCE($1, role), "
                   "is_active = COALESCE($2, is_active), name = COALESCE($3, name), "
                   "updated_at = $4 WHERE id = $5 RETURNING " RETURNING_COLUMNS,
                   p, 5, out, err);
}

/* ---- login ---- */

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[crypto_pwhash_STRBYTES];

static void make_dummy_hash(void)
{
    unsigned char raw[16];
    char pw[sizeof raw * 2 + 1];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(pw, sizeof pw, raw, sizeof raw);
    if (hash_password(pw, dummy_hash, NULL) < 0)
        dummy_hash[0] = '\0'; /* verify then fails fast; only under memory exhaustion */
}

/* Burns the time of one real verification. */
static void verify_dummy(const char *password)
{
    pthread_once(&dummy_once, make_dummy_hash);
    /* The outcome is meaningless (the dummy password is random); only the
     * time spent matters. */
    if (crypto_pwhash_str_verify(dummy_hash, password, strlen(password)) == 0)
        log_warning("dummy password hash matched");
}

/* Upgrades a hash made with older limits; a failure only costs a log line. */
static void maybe_rehash(db *d, int64_t id, const char *stored, const char *password)
{
    if (crypto_pwhash_str_needs_rehash(stored, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                       crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0)
        return;
    char hash[crypto_pwhash_STRBYTES];
    sm_error err = {0};
    if (hash_password(password, hash, &err) == 0) {
        db_value p[] = {DB_BUF(hash), DB_I(clock_now_ms()), DB_I(id)};
        if (db_exec(d, "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3", p, 3,
                    NULL, &err) == 0) {
            sodium_memzero(hash, sizeof hash);
            return;
        }
    }
    sodium_memzero(hash, sizeof hash);
    log_warning("password rehash for user %lld failed: %s", (long long)id, err.message);
}

int users_verify_password(db *d, const char *email, const char *password, users_record *out,
                          sm_error *err)
{
    char norm[USERS_EMAIL_MAX + 1];
    if (!password)
        password = "";
    if (strlen(password) > USERS_PASSWORD_MAX_BYTES || normalize_email(email, norm, NULL) < 0) {
        verify_dummy("");
        return sm_error_set(err, SM_EUNAUTHORIZED, "invalid email or password");
    }

    db_value p[] = {DB_BUF(norm)};
    db_result *r = NULL;
    int rc = db_query(d, "SELECT " USERS_COLUMNS ", password_hash FROM users WHERE email = $1", p,
                      1, &r, err);
    if (rc < 0)
        return rc;
    if (db_result_rows(r) < 1) {
        db_result_free(r);
        verify_dummy(password);
        return sm_error_set(err, SM_EUNAUTHORIZED, "invalid email or password");
    }
    users_record u;
    users_from_row(r, 0, &u);
    const char *stored = db_result_text(r, 0, 7) ?: "";
    bool ok = crypto_pwhash_str_verify(stored, password, strlen(password)) == 0;
    if (ok && u.is_active)
        maybe_rehash(d, u.id, stored, password);
    db_result_free(r);
    if (!ok || !u.is_active)
        return sm_error_set(err, SM_EUNAUTHORIZED, "invalid email or password");
    if (out)
        *out = u;
    return 0;
}

json_t *users_to_json(const users_record *u)
{
    char when[CLOCK_ISO_LEN];
    clock_format_iso(u->created_at, when);
    return json_pack("{s:I, s:s, s:s, s:s, s:b, s:s}", "id", (json_int_t)u->id, "email", u->email,
                     "name", u->name, "role", u->role, "is_active", u->is_active, "created_at",
                     when);
}
