/* auth.h — tokens, sessions, CSRF values and login rate limiting. No HTTP.
 *
 * A token is 32 random bytes written in base64url without padding (43
 * characters). It is shown to the client once; the database keeps only its
 * SHA-256 in hex, so a copy of the database yields no usable credential.
 * Two kinds share the table: "api" tokens (Authorization: Bearer, lifetime
 * TOKEN_TTL_SECONDS) and "session" tokens (the sm_session cookie, lifetime
 * SESSION_TTL_SECONDS). A token authenticates while it is neither revoked
 * nor expired and its user is active.
 *
 * Login attempts are rows of login_attempts, so the limits hold across
 * every process sharing the database. See auth.c for the exact rules. */
#ifndef SM_SHOP_AUTH_H
#define SM_SHOP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"
#include "shop/users.h"

#define AUTH_TOKEN_BYTES 32
#define AUTH_TOKEN_LEN 43    /* base64url of 32 bytes, no padding */
#define AUTH_HASH_HEX_LEN 64 /* hex SHA-256 / HMAC-SHA256 */

typedef enum auth_token_kind { AUTH_TOKEN_API, AUTH_TOKEN_SESSION } auth_token_kind;

/* "api" or "session". */
const char *auth_token_kind_name(auth_token_kind kind);

/* True when `token` has the shape of a token (43 base64url characters):
 * anything else is refused without a database round trip. */
bool auth_token_well_formed(const char *token);

/* Writes the hex SHA-256 of `token` into `out` (AUTH_HASH_HEX_LEN + 1). */
void auth_token_hash(const char *token, char out[AUTH_HASH_HEX_LEN + 1]);

/* Creates a token of `kind` for `user_id`, valid `ttl_s` seconds from
 * `now_ms`. Writes the token (AUTH_TOKEN_LEN + 1 bytes) and *expires_at
 * (ms, may be NULL). Returns 0, SM_EDB. */
int auth_token_issue(db *d, int64_t user_id, auth_token_kind kind, int64_t ttl_s, int64_t now_ms,
                     char token[AUTH_TOKEN_LEN + 1], int64_t *expires_at, sm_error *err);

/* Finds the active user a live token of `kind` belongs to. Fills *user and,
 * when token_hash is not NULL, the token's hash. Returns 0,
 * SM_EUNAUTHORIZED (malformed, unknown, expired, revoked, wrong kind or
 * inactive user), SM_EDB. */
int auth_token_authenticate(db *d, const char *token, auth_token_kind kind, int64_t now_ms,
                            users_record *user, char token_hash[AUTH_HASH_HEX_LEN + 1],
                            sm_error *err);

/* Revokes the token whose hash is `token_hash` (idempotent). Returns 0 or
 * SM_EDB. */
int auth_token_revoke(db *d, const char *token_hash, int64_t now_ms, sm_error *err);

/* Revokes every live token of `user_id` (on deactivation, so that a later
 * reactivation does not revive old sessions). Returns 0 or SM_EDB. */
int auth_token_revoke_user(db *d, int64_t user_id, int64_t now_ms, sm_error *err);

/* The CSRF value bound to a session: hex(HMAC-SHA256(secret, session
 * token)) into `out` (AUTH_HASH_HEX_LEN + 1). */
void auth_csrf_value(const char *secret, const char *session_token,
                     char out[AUTH_HASH_HEX_LEN + 1]);

/* True when `provided` equals the CSRF value of `session_token`, compared
 * in constant time. NULL or a wrong length is false. */
bool auth_csrf_verify(const char *secret, const char *session_token, const char *provided);

/* ---- login rate limiting ---- */

typedef struct auth_limits {
    int max_failures; /* per account per window */
    int max_per_ip;   /* attempts per IP per window */
    int window_s;
} auth_limits;

/* The limits from the loaded configuration (defaults 5, 30, 900 s before
 * config_load()). */
void auth_limits_from_config(auth_limits *out);

/* One login attempt, recorded before its password is checked. */
typedef struct auth_attempt {
    int64_t account_id, ip_id; /* its login_attempts rows */
} auth_attempt;

/* Decides whether a login for `email` (normalised here) from `ip` may be
 * tried at `now_ms` and, when it may, records the attempt at once as a
 * failure for the account and the IP, in the same write transaction as
 * the check (concurrent attempts cannot race past a limit; see auth.c).
 * Returns 0 and fills *a; SM_ERATELIMIT with *retry_after_s (≥ 1) when
 * either limit is reached (nothing recorded); SM_EDB. */
int auth_login_begin(db *d, const auth_limits *lim, const char *email, const char *ip,
                     int64_t now_ms, auth_attempt *a, int64_t *retry_after_s, sm_error *err);

/* Turns attempt `a` into a success, which also ends the account's failure
 * streak. Returns 0 or SM_EDB. */
int auth_login_succeeded(db *d, const auth_attempt *a, sm_error *err);

#endif
