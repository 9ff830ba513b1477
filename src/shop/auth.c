/* auth.c — tokens, CSRF values and login rate limiting.
 *
 * Tokens. randombytes_buf gives 32 bytes (256 bits: unguessable, and
 * enumeration of the hash space is pointless), written base64url without
 * padding so they travel in headers, cookies and URLs unescaped. Only the
 * SHA-256 is stored; since the token has full entropy a plain hash is
 * enough (no salt or slow hash needed), and lookup stays one indexed
 * equality on token_hash.
 *
 * CSRF. The dashboard's double-submit value is HMAC-SHA256(SECRET_KEY,
 * session token) in hex. It is bound to the session, so an attacker who can
 * plant a cookie cannot forge a matching header, and it needs no storage.
 *
 * Login rate limiting, over the login_attempts table (one row per attempt
 * and scope, so the limits hold across processes):
 *   - per account (key: the lower-cased email, existing or not): the
 *     failures within LOGIN_WINDOW_SECONDS that came after the account's
 *     last success. When there are LOGIN_MAX_FAILURES of them, logins for
 *     the account are refused until the oldest of the newest
 *     LOGIN_MAX_FAILURES leaves the window. A success therefore "clears"
 *     the account's failures without deleting them: the rows stay for
 *     audit and for the per-IP count.
 *   - per IP: every attempt (success or failure) within the window; at
 *     LOGIN_MAX_PER_IP, refused until the oldest counted attempt leaves it.
 *     A success never resets an IP's count, nor any other IP's.
 * Refused attempts are not recorded: the password was not tried, the lock
 * ends exactly when Retry-After says, and a flood cannot grow the table.
 *
 * The check and the record are one write transaction, taken before the
 * password is tried: the attempt is recorded as a failure at once, and
 * turned into a success afterwards (auth_login_succeeded). So concurrent
 * attempts cannot race past a limit: of 50 parallel guesses at an account
 * with a limit of 5, exactly 5 reach argon2id. On SQLite write transactions
 * are serialised anyway; on PostgreSQL the transaction first takes
 * transaction-scoped advisory locks on the account and on the IP (account
 * first, so two attempts never wait on each other in a cycle). argon2id's
 * cost sits outside the transaction. An attempt whose process dies before
 * the password check finishes stays a failure (fail closed). */
#include "shop/auth.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/config.h"

/* A bound text parameter from a char array (DB_T tests its argument for
 * NULL, which -Waddress rejects for arrays). */
#define DB_BUF(a) ((db_value){.type = DB_TEXT, .s = (a)})

#define IP_KEY_MAX 64

const char *auth_token_kind_name(auth_token_kind kind)
{
    return kind == AUTH_TOKEN_SESSION ? "session" : "api";
}

bool auth_token_well_formed(const char *token)
{
    if (!token)
        return false;
    size_t n = 0;
    for (; token[n] && n <= AUTH_TOKEN_LEN; n++) {
        char c = token[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return n == AUTH_TOKEN_LEN;
}

void auth_token_hash(const char *token, char out[AUTH_HASH_HEX_LEN + 1])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, AUTH_HASH_HEX_LEN + 1, digest, sizeof digest);
}

int auth_token_issue(db *d, int64_t user_id, auth_token_kind kind, int64_t ttl_s, int64_t now_ms,
                     char token[AUTH_TOKEN_LEN + 1], int64_t *expires_at, sm_error *err)
{
    unsigned char raw[AUTH_TOKEN_BYTES];
    char hash[AUTH_HASH_HEX_LEN + 1];

    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, AUTH_TOKEN_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    auth_token_hash(token, hash);

    int64_t expires = now_ms + ttl_s * 1000;
    db_value p[] = {DB_I(user_id), DB_BUF(hash), DB_T(auth_token_kind_name(kind)), DB_I(now_ms),
                    DB_I(expires)};
    int rc = db_exec(d,
                     "INSERT INTO auth_tokens (user_id, token_hash, kind, created_at, expires_at) "
                     "VALUES ($1, $2, $3, $4, $5)",
                     p, 5, NULL, err);
    if (rc < 0) {
        sodium_memzero(token, AUTH_TOKEN_LEN + 1);
        return rc;
    }
    if (expires_at)
        *expires_at = expires;
    return 0;
}

int auth_token_authenticate(db *d, const char *token, auth_token_kind kind, int64_t now_ms,
                            users_record *user, char token_hash[AUTH_HASH_HEX_LEN + 1],
                            sm_error *err)
{
    char hash[AUTH_HASH_HEX_LEN + 1];
    if (!auth_token_well_formed(token))
        return sm_error_set(err, SM_EUNAUTHORIZED, "malformed token");
    auth_token_hash(token, hash);

    db_value p[] = {DB_BUF(hash), DB_T(auth_token_kind_name(kind)), DB_I(now_ms)};
    db_result *r = NULL;
    int rc = db_query(d,
                      "SELECT " USERS_COLUMNS " FROM auth_tokens "
                      "JOIN users ON users.id = auth_tokens.user_id "
                      "WHERE auth_tokens.token_hash = $1 AND auth_tokens.kind = $2 "
                      "AND auth_tokens.revoked_at IS NULL AND auth_tokens.expires_at > $3 "
                      "AND users.is_active = 1",
                      p, 3, &r, err);
    if (rc < 0)
        return rc;
    if (db_result_rows(r) < 1) {
        db_result_free(r);
        return sm_error_set(err, SM_EUNAUTHORIZED, "invalid, expired or revoked token");
    }
    users_from_row(r, 0, user);
    db_result_free(r);
    if (token_hash)
        memcpy(token_hash, hash, sizeof hash);
    return 0;
}

int auth_token_revoke(db *d, const char *token_hash, int64_t now_ms, sm_error *err)
{
    db_value p[] = {DB_I(now_ms), DB_T(token_hash)};
    return db_exec(d,
                   "UPDATE auth_tokens SET revoked_at = $1 "
                   "WHERE token_hash = $2 AND revoked_at IS NULL",
                   p, 2, NULL, err);
}

int auth_token_revoke_user(db *d, int64_t user_id, int64_t now_ms, sm_error *err)
{
    db_value p[] = {DB_I(now_ms), DB_I(user_id)};
    return db_exec(d,
                   "UPDATE auth_tokens SET revoked_at = $1 "
                   "WHERE user_id = $2 AND revoked_at IS NULL",
                   p, 2, NULL, err);
}

void auth_csrf_value(const char *secret, const char *session_token, char out[AUTH_HASH_HEX_LEN + 1])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    /* The _init form takes a key of any length (SECRET_KEY is ≥ 32 chars,
     * not exactly crypto_auth_hmacsha256_KEYBYTES bytes). */
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)session_token, strlen(session_token));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
    sodium_bin2hex(out, AUTH_HASH_HEX_LEN + 1, mac, sizeof mac);
}

bool auth_csrf_verify(const char *secret, const char *session_token, const char *provided)
{
    char expected[AUTH_HASH_HEX_LEN + 1];
    if (!provided || strnlen(provided, AUTH_HASH_HEX_LEN + 1) != AUTH_HASH_HEX_LEN)
        return false;
    auth_csrf_value(secret, session_token, expected);
    return sodium_memcmp(expected, provided, AUTH_HASH_HEX_LEN) == 0;
}

/* ---- login rate limiting ---- */

void auth_limits_from_config(auth_limits *out)
{
    const sm_config *cfg = config_get();
    out->max_failures = cfg ? cfg->login_max_failures : 5;
    out->max_per_ip = cfg ? cfg->login_max_per_ip : 30;
    out->window_s = cfg ? cfg->login_window_s : 900;
}

/* The account key: the email lower-cased (ASCII) and bounded, whether or
 * not it is a valid address, so that probing odd spellings gains nothing. */
static void account_key(const char *email, char out[USERS_EMAIL_MAX + 1])
{
    size_t i = 0;
    for (; email && email[i] && i < USERS_EMAIL_MAX; i++) {
        char c = email[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[i] = '\0';
}

static void ip_key(const char *ip, char out[IP_KEY_MAX + 1])
{
    snprintf(out, IP_KEY_MAX + 1, "%s", (ip && *ip) ? ip : "unknown");
}

/* Runs a query returning the created_at of the `max`-th newest counted
 * attempt (LIMIT 1 OFFSET max-1). When there is one, the limit is reached
 * and the lock lasts until that attempt leaves the window: sets *until_ms.
 * Otherwise *until_ms = 0. */
static int limit_reached(db *d, const char *sql, const char *scope_key, int64_t since, int max,
                         int64_t window_ms, int64_t *until_ms, sm_error *err)
{
    db_value p[] = {DB_T(scope_key), DB_I(since), DB_I(max - 1)};
    db_result *r = NULL;
    int rc = db_query(d, sql, p, 3, &r, err);
    if (rc < 0)
        return rc;
    *until_ms = db_result_rows(r) > 0 ? db_result_int(r, 0, 0) + window_ms : 0;
    db_result_free(r);
    return 0;
}

/* The end of the longer lock in force for the account and the IP at
 * `now_ms` (≤ now_ms when neither limit is reached). */
static int lock_until(db *d, const auth_limits *lim, const char *akey, const char *ikey,
                      int64_t now_ms, int64_t *until, sm_error *err)
{
    int64_t window_ms = (int64_t)lim->window_s * 1000;
    int64_t since = now_ms - window_ms;
    int64_t account_until = 0, ip_until = 0;
    int rc;

    /* Failures after the account's last success, newest first. */
    rc = limit_reached(d,
                       "SELECT a.created_at FROM login_attempts a "
                       "WHERE a.scope = 'account' AND a.key = $1 AND a.success = 0 "
                       "AND a.created_at > $2 AND NOT EXISTS (SELECT 1 FROM login_attempts s "
                       "WHERE s.scope = 'account' AND s.key = $1 AND s.success = 1 "
                       "AND s.created_at >= a.created_at) "
                       "ORDER BY a.created_at DESC LIMIT 1 OFFSET $3",
                       akey, since, lim->max_failures, window_ms, &account_until, err);
    if (rc < 0)
        return rc;
    rc = limit_reached(d,
                       "SELECT created_at FROM login_attempts "
                       "WHERE scope = 'ip' AND key = $1 AND created_at > $2 "
                       "ORDER BY created_at DESC LIMIT 1 OFFSET $3",
                       ikey, since, lim->max_per_ip, window_ms, &ip_until, err);
    if (rc < 0)
        return rc;
    *until = account_until > ip_until ? account_until : ip_until;
    return 0;
}

typedef struct begin_unit_arg {
    const auth_limits *lim;
    const char *akey, *ikey;
    int64_t now_ms;
    int64_t until; /* out: set when refused */
    auth_attempt *a;
} begin_unit_arg;

static int begin_unit(db *d, void *arg, sm_error *err)
{
    begin_unit_arg *b = arg;
    db_result *r = NULL;
    int rc;
    if (db_get_kind(d) == DB_POSTGRES) {
        db_value pa[] = {DB_T(b->akey)}, pi[] = {DB_T(b->ikey)};
        if ((rc = db_exec(d, "SELECT pg_advisory_xact_lock(1, hashtext($1))", pa, 1, NULL, err)) <
                0 ||
            (rc = db_exec(d, "SELECT pg_advisory_xact_lock(2, hashtext($1))", pi, 1, NULL, err)) <
                0)
            return rc;
    }
    if ((rc = lock_until(d, b->lim, b->akey, b->ikey, b->now_ms, &b->until, err)) < 0)
        return rc;
    if (b->until > b->now_ms)
        return SM_ERATELIMIT; /* nothing written */
    db_value p[] = {DB_T(b->akey), DB_I(b->now_ms), DB_T(b->ikey)};
    rc = db_query(d,
                  "INSERT INTO login_attempts (scope, key, success, created_at) "
                  "VALUES ('account', $1, 0, $2), ('ip', $3, 0, $2) RETURNING id, scope",
                  p, 3, &r, err);
    if (rc < 0)
        return rc;
    for (int i = 0; i < db_result_rows(r); i++) {
        const char *scope = db_result_text(r, i, 1);
        if (scope && strcmp(scope, "account") == 0)
            b->a->account_id = db_result_int(r, i, 0);
        else
            b->a->ip_id = db_result_int(r, i, 0);
    }
    db_result_free(r);
    if (!b->a->account_id || !b->a->ip_id)
        return sm_error_set(err, SM_EDB, "login attempt not recorded");
    return 0;
}

int auth_login_begin(db *d, const auth_limits *lim, const char *email, const char *ip,
                     int64_t now_ms, auth_attempt *a, int64_t *retry_after_s, sm_error *err)
{
    char akey[USERS_EMAIL_MAX + 1], ikey[IP_KEY_MAX + 1];
    account_key(email, akey);
    ip_key(ip, ikey);
    memset(a, 0, sizeof *a);
    begin_unit_arg b = {.lim = lim, .akey = akey, .ikey = ikey, .now_ms = now_ms, .a = a};
    int rc = db_write_tx(d, begin_unit, &b, err);
    if (rc != SM_ERATELIMIT)
        return rc;
    if (retry_after_s)
        *retry_after_s = (b.until - now_ms + 999) / 1000;
    return sm_error_set(err, SM_ERATELIMIT, "too many login attempts");
}

int auth_login_succeeded(db *d, const auth_attempt *a, sm_error *err)
{
    db_value p[] = {DB_I(a->account_id), DB_I(a->ip_id)};
    return db_exec(d, "UPDATE login_attempts SET success = 1 WHERE id IN ($1, $2)", p, 2, NULL,
                   err);
}
