/* users.h — accounts: creation, lookup, password verification (argon2id).
 * No HTTP here. Every function takes the caller's db connection. */
#ifndef SM_SHOP_USERS_H
#define SM_SHOP_USERS_H

#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

/* Creates a user with an argon2id hash of `password`. `role` is "admin",
 * "staff" or "customer". Email is stored lower-cased. Returns 0 and *id
 * (may be NULL), SM_ECONFLICT when the email is taken, SM_EINVAL for a bad
 * email/password/role, SM_EDB. Blocking (argon2id): never on an event loop. */
int users_create(db *d, const char *email, const char *password, const char *name,
                 const char *role, int64_t *id, sm_error *err);

#endif
