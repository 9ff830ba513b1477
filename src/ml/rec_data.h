/* rec_data.h — the purchase history as the recommendation models read it.
 *
 * Every model (co-purchase, ALS, popularity) and the offline evaluation
 * work on dense indices, not database ids: products become items
 * 0..n_items-1 (ids ascending), customers who ordered become users
 * 0..n_users-1 (ids ascending). Orders are stored in compressed sparse row
 * form, grouped by user and ordered by time inside each user, each order
 * holding its distinct items. One rec_data is built once per index build
 * (from the database, or from hand-made lines in tests) and then only read,
 * so any number of threads may read it at once.
 *
 * Cancelled orders are left out: they say what a customer did not want. */
#ifndef SM_ML_REC_DATA_H
#define SM_ML_REC_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

#define REC_ITEMS_MAX 10000000  /* products the models index */
#define REC_LINES_MAX 200000000 /* order lines read from the database */

/* A product as the models need it. */
typedef struct rec_product {
    int64_t id;
    int64_t category_id; /* 0 when none */
    bool active;
} rec_product;

/* One order line. */
typedef struct rec_line {
    int64_t order_id, user_id, time_ms, product_id;
} rec_line;

typedef struct rec_data {
    int32_t n_items;
    int64_t *item_ids;      /* [n_items], ascending */
    int64_t *item_category; /* [n_items], 0 = none */
    uint8_t *item_active;   /* [n_items], 1 = active */

    int32_t n_users;
    int64_t *user_ids;    /* [n_users], ascending */
    int64_t *user_orders; /* [n_users + 1]: user u's orders are [user_orders[u], [u+1]) */
    int64_t n_orders;     /* orders kept */
    int64_t *order_time;  /* [n_orders], ms since the epoch */
    int32_t *order_user;  /* [n_orders] */
    int64_t *order_lines; /* [n_orders + 1]: order o's items are [order_lines[o], [o+1]) */
    int64_t n_lines;      /* distinct (order, item) pairs */
    int32_t *line_item;   /* [n_lines] */
    int64_t newest_ms;    /* newest order time, 0 without orders */
} rec_data;

/* Builds a rec_data from `products` (any order, ids unique) and `lines`
 * (any order; sorted in place). Lines naming an unknown product are
 * skipped; repeated (order, product) pairs count once. Returns 0 and *out
 * (free with rec_data_free), SM_EINVAL (duplicate product ids, bounds),
 * SM_ENOMEM. Thread-safe (no shared state). */
int rec_data_build(const rec_product *products, size_t n_products, rec_line *lines, size_t n_lines,
                   rec_data **out, sm_error *err);

/* Reads every product and every line of a non-cancelled order from `d`,
 * in pages, and builds the rec_data. Blocking. Returns 0 and *out, or
 * SM_EDB, SM_ENOMEM, SM_ETOOLARGE (over REC_ITEMS_MAX / REC_LINES_MAX). */
int rec_data_load(db *d, rec_data **out, sm_error *err);

/* Item index of product `id`, or -1. O(log n). */
int32_t rec_data_item(const rec_data *rd, int64_t id);

/* User index of customer `id`, or -1. O(log n). */
int32_t rec_data_user(const rec_data *rd, int64_t id);

/* Frees `rd`; NULL is a no-op. */
void rec_data_free(rec_data *rd);

#endif
