/* seed_model.h — who orders what, and when, in the demo data (seed.c).
 *
 * The model holds the shop's tastes — a popularity order of the products,
 * concrete bundles of complementary products made from the templates of
 * seed_catalog.c — and each customer's: 1-3 interests among the bundle
 * families, a favourite brand, a loyalty, an order rate. seed.c asks it for
 * the orders' customers and dates (seed_model_schedule), then for each
 * order's products in date order (seed_model_basket). Everything follows
 * from the random seed: same seed and inputs, same orders. Not thread-safe
 * (baskets update the customers' state); one model per run. */
#ifndef SM_SHOP_SEED_MODEL_H
#define SM_SHOP_SEED_MODEL_H

#include <stdint.h>

#include "core/arena.h"
#include "shop/seed_random.h"

/* What the model needs of a product: its subcategory (index in `sub_slugs`)
 * and its brand (index in its category's brand table), -1 when unknown. */
typedef struct seed_item {
    int32_t sub;
    int32_t brand;
} seed_item;

typedef struct seed_model_input {
    const seed_item *items;       /* the products orders draw from, borrowed */
    int64_t nitems;               /* > 0 */
    const char *const *sub_slugs; /* every subcategory's slug, borrowed */
    const int *sub_brands;        /* brands of each subcategory's category */
    int nsubs;
    const int64_t *customer_since; /* sign-up time (ms) of each customer, borrowed */
    int64_t ncustomers;            /* 1..SEED_MAX_USERS */
    int64_t now_ms;
    uint64_t random_seed;
} seed_model_input;

typedef struct seed_model seed_model;

/* Builds the model from `in` (which must outlive it) in arena `a`; the
 * model lives as long as the arena. Returns 0, SM_EINVAL without items or
 * customers (or more than SEED_MAX_USERS), or SM_ENOMEM. */
int seed_model_new(arena *a, const seed_model_input *in, seed_model **out);

/* Draws `n` orders' customers and dates into keys[0..n) (from `a`), sorted
 * by date: orders created in this order get ids that grow with time, and
 * each customer's last order is their latest. Dates lie in the last 365
 * days, after the customer's sign-up. Returns 0 or SM_ENOMEM. */
int seed_model_schedule(const seed_model *m, arena *a, int64_t n, uint64_t **keys);

/* The customer index and date (ms) of a key from seed_model_schedule. */
void seed_model_order(const seed_model *m, uint64_t key, int64_t *customer, int64_t *at_ms);

/* Fills lines[0..want) with distinct item indices for an order of
 * `customer` and returns how many (at least 1 when there are items; fewer
 * than `want` only when the draws keep repeating). Call for each customer's
 * orders in date order: an order may come back for what the previous one
 * left of a bundle. */
int seed_model_basket(seed_model *m, int64_t customer, seed_rng *r, int want, int64_t *lines);

#endif
