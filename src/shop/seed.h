/* seed.h — realistic, reproducible demo data: categories, products,
 * customers and orders with a real co-purchase structure.
 *
 * The same options (random seed and counts) always produce the same
 * catalogue, customers and baskets; only timestamps follow the clock.
 * Everything is written in one transaction, so a failed run leaves the
 * database as it was. See seed.c for how baskets are drawn. */
#ifndef SM_SHOP_SEED_H
#define SM_SHOP_SEED_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

/* Bounds on what one run may create (memory grows with the catalogue). */
#define SEED_MAX_PRODUCTS 2000000
#define SEED_MAX_USERS 2000000
#define SEED_MAX_ORDERS 20000000
#define SEED_MAX_LINES_PER_ORDER 20.0
#define SEED_DEFAULT_LINES_PER_ORDER 3.0
#define SEED_DEFAULT_RANDOM_SEED 42

/* The password every seeded customer shares (documented in README.md):
 * argon2id is deliberately slow, so seed hashes it once and reuses the
 * hash. Demo data only; never seed a production database. */
#define SEED_DEMO_PASSWORD "demo-password"

/* Progress report: `phase` is "products", "users" or "orders"; called after
 * each batch, from the seeding thread. */
typedef void (*seed_progress_fn)(const char *phase, int64_t done, int64_t total, void *ctx);

typedef struct seed_options {
    int64_t products;       /* 0..SEED_MAX_PRODUCTS */
    int64_t users;          /* customers, 0..SEED_MAX_USERS */
    int64_t orders;         /* 0..SEED_MAX_ORDERS; needs products and customers */
    uint64_t random_seed;   /* any value; same value, same data */
    double lines_per_order; /* average lines per order, 1..SEED_MAX_LINES_PER_ORDER */
    bool append;            /* allow a database that already has data */
    const char *currency;   /* ISO 4217 code for prices, e.g. "EUR" */
    /* argon2id hash (crypto_pwhash_str) given to every seeded customer;
     * NULL: seed_run hashes SEED_DEMO_PASSWORD once itself. */
    const char *password_hash;
    seed_progress_fn progress; /* may be NULL */
    void *progress_ctx;
} seed_options;

/* Fills `o` with the defaults: no rows, seed 42, 3 lines per order, EUR. */
void seed_options_init(seed_options *o);

typedef struct seed_stats {
    int64_t categories; /* created now (existing ones are reused) */
    int64_t products;
    int64_t users;
    int64_t orders;
    int64_t order_items;
    double seconds;
} seed_stats;

/* Seeds the database `d` (migrated) according to `o`, in one write
 * transaction. Without o->append, refuses with SM_ECONFLICT when the
 * database already has categories, products, orders or customers (admins
 * and staff do not count). Returns 0 and fills *stats (may be NULL);
 * SM_EINVAL for options out of bounds or orders without products or
 * customers; SM_ENOMEM; SM_EDB. Blocking; not thread-safe with respect to
 * `d`. On PostgreSQL the identity sequences are moved past the ids used. */
int seed_run(db *d, const seed_options *o, seed_stats *stats, sm_error *err);

/* True when the database holds no catalogue, orders or customers (what
 * seed_run requires without append). Returns 0 and sets *empty, or SM_EDB. */
int seed_database_is_empty(db *d, bool *empty, sm_error *err);

#endif
