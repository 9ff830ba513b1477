/* users.h — accounts: creation, lookup, listing, updates, password
 * verification (argon2id) and the JSON rendering of a user. No HTTP here.
 *
 * Every function takes the caller's db connection and is as thread-safe as
 * that connection (one per thread). Emails are stored lower-cased (ASCII),
 * so uniqueness and lookups are case-insensitive. A user is rendered as
 * {id, email, name, role, is_active, created_at}; the hash never leaves
 * this module. */
#ifndef SM_SHOP_USERS_H
#define SM_SHOP_USERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

#define USERS_EMAIL_MAX 254          /* bytes (RFC 5321 path limit) */
#define USERS_PASSWORD_MIN 8         /* bytes here; the API counts code points */
#define USERS_PASSWORD_MAX_BYTES 512 /* 128 code points of at most 4 bytes */
#define USERS_NAME_MAX 100           /* code points, enforced by the API */
#define USERS_NAME_MAX_BYTES 400     /* USERS_NAME_MAX × 4: the hard bound here */
#define USERS_ROLE_MAX 16

/* One account as stored, without its password hash. */
typedef struct users_record {
    int64_t id;
    char email[USERS_EMAIL_MAX + 1];
    char name[USERS_NAME_MAX_BYTES + 1];
    char role[USERS_ROLE_MAX]; /* "admin", "staff" or "customer" */
    bool is_active;
    int64_t created_at; /* ms since the epoch */
    int64_t updated_at;
} users_record;

/* The columns users_from_row() reads, qualified so that they also work in
 * a join (FROM users JOIN …). */
#define USERS_COLUMNS                                                                              \
    "users.id, users.email, users.name, users.role, users.is_active, users.created_at, "           \
    "users.updated_at"

/* Copies row `row` of a result whose first columns are USERS_COLUMNS. */
void users_from_row(const db_result *r, int row, users_record *out);

/* Creates a user with an argon2id hash of `password`. `role` is "admin",
 * "staff" or "customer". Email is stored lower-cased. Returns 0 and *id
 * (may be NULL), SM_ECONFLICT when the email is taken, SM_EINVAL for a bad
 * email/password/role, SM_EDB. Blocking (argon2id): never on an event loop. */
int users_create(db *d, const char *email, const char *password, const char *name, const char *role,
                 int64_t *id, sm_error *err);

/* Checks an email address: 3–254 printable ASCII bytes, no spaces, one '@'
 * with something on each side, a domain without '@'. Returns 0 or
 * SM_EINVAL with the reason in err. */
int users_validate_email(const char *email, sm_error *err);

/* True for "admin", "staff" and "customer". */
bool users_role_valid(const char *role);

/* Loads a user by id or by email (case-insensitive). Returns 0 and fills
 * *out, SM_ENOTFOUND, SM_EDB. */
int users_get(db *d, int64_t id, users_record *out, sm_error *err);
int users_get_by_email(db *d, const char *email, users_record *out, sm_error *err);

/* Lists users ordered by id, `limit` rows from `offset`, optionally only
 * those of `role` (NULL: all). *items gets a new JSON array of rendered
 * users (owned by the caller), *total the number of matching users.
 * Returns 0, SM_EINVAL for a bad role or bounds, SM_ENOMEM, SM_EDB. */
int users_list(db *d, const char *role, int64_t offset, int64_t limit, json_t **items,
               int64_t *total, sm_error *err);

/* A partial update: NULL / -1 leave a field as it is. */
typedef struct users_changes {
    const char *role;
    int is_active; /* -1 unchanged, 0 or 1 */
    const char *name;
} users_changes;

/* Applies `changes` to user `id` (updated_at is set) and fills *out (may be
 * NULL) with the result. Returns 0, SM_ENOTFOUND, SM_EINVAL for a bad role
 * or name, SM_EDB. */
int users_update(db *d, int64_t id, const users_changes *changes, users_record *out, sm_error *err);

/* Verifies a login. Returns 0 and fills *out when `email` names an active
 * user whose password is `password`; SM_EUNAUTHORIZED otherwise, taking the
 * same time whether or not the account exists (a dummy argon2id verify runs
 * for unknown emails); SM_EDB. Blocking (argon2id). */
int users_verify_password(db *d, const char *email, const char *password, users_record *out,
                          sm_error *err);

/* Renders `u` as {id, email, name, role, is_active, created_at}. Returns a
 * new reference, or NULL when out of memory. */
json_t *users_to_json(const users_record *u);

#endif
