/* catalog.h — the catalogue: categories and products. No HTTP here.
 *
 * Products are validated and rendered as JSON (jansson) because JSON is both
 * what arrives (a create or a partial update is a JSON object of fields) and
 * what leaves; one validator serves create and update alike. Every function
 * takes the caller's db connection and is as thread-safe as that connection
 * (one per thread). Returned json_t references are owned by the caller.
 *
 * Validation failures return SM_EINVAL and add "field": "message" members to
 * the caller's `details` object (the API answers 400 validation_error). */
#ifndef SM_SHOP_CATALOG_H
#define SM_SHOP_CATALOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

#define CATALOG_SLUG_MAX 100
#define CATALOG_CATEGORY_NAME_MAX 200
#define CATALOG_NAME_MAX 200
#define CATALOG_DESCRIPTION_MAX 10000
#define CATALOG_BRAND_MAX 100
#define CATALOG_IMAGE_URL_MAX 2048
#define CATALOG_ATTRIBUTES_MAX 8192 /* bytes, serialised compactly */
#define CATALOG_PRICE_MAX 10000000000LL
#define CATALOG_STOCK_MAX 1000000000LL
#define CATALOG_PAGE_SIZE_MAX 100
#define CATALOG_PAGE_MAX 1000000
#define CATALOG_QUERY_MAX 200 /* `q` and `brand` filters, code points */

/* Derives a slug from `name` into `out` (out_len ≥ CATALOG_SLUG_MAX + 1):
 * lower-case ASCII letters and digits, common Latin-1 accented letters
 * folded (é → e, ß → ss, æ → ae), every other run of characters becomes
 * one '-', no leading or trailing '-', cut to CATALOG_SLUG_MAX. Returns 0, or
 * SM_EINVAL when nothing usable remains (name of symbols only). */
int catalog_slugify(const char *name, char *out, size_t out_len);

/* True when `slug` matches [a-z0-9-]{1,100}. */
bool catalog_slug_valid(const char *slug);

/* {items:[{id, name, slug, parent_id}]} ordered by name, id. Bounded by the
 * number of categories (a catalogue has hundreds, not millions). */
int catalog_categories_list(db *d, json_t **out, sm_error *err);

/* Creates a category from {name, slug?, parent_id?} (validated here).
 * Returns 0 and *out = the category object; SM_EINVAL (details filled),
 * SM_ECONFLICT when the slug is taken, SM_EDB. */
int catalog_category_create(db *d, json_t *fields, json_t **out, json_t *details, sm_error *err);

/* The shop currency: SHOP_CURRENCY from the configuration, "EUR" before the
 * configuration is loaded (unit tests). Borrowed, static. */
const char *catalog_currency(void);

/* Creates a product from a JSON object of product fields (name and
 * price_cents required; currency defaults to the shop currency). Unknown
 * members are ignored. Returns 0 and *out = the product; SM_EINVAL with
 * details; SM_EDB. */
int catalog_product_create(db *d, json_t *fields, json_t **out, json_t *details, sm_error *err);

/* Applies any subset of product fields to product `id` (category_id may be
 * null to clear it). Returns 0 and *out = the updated product;
 * SM_ENOTFOUND, SM_EINVAL with details, SM_EDB. */
int catalog_product_update(db *d, int64_t id, json_t *fields, json_t **out, json_t *details,
                           sm_error *err);

/* Product `id` as JSON. Inactive products are SM_ENOTFOUND unless
 * `include_inactive`. */
int catalog_product_get(db *d, int64_t id, bool include_inactive, json_t **out, sm_error *err);

/* Deactivates product `id` (active = 0; never deleted: order lines refer to
 * it). Idempotent. Returns 0 or SM_ENOTFOUND, SM_EDB. */
int catalog_product_deactivate(db *d, int64_t id, sm_error *err);

typedef enum catalog_sort {
    CATALOG_SORT_CREATED_DESC = 0, /* the default */
    CATALOG_SORT_CREATED,
    CATALOG_SORT_PRICE,
    CATALOG_SORT_PRICE_DESC,
    CATALOG_SORT_NAME,
    CATALOG_SORT_NAME_DESC,
} catalog_sort;

/* Parses "price", "-price", "name", "-name", "created", "-created".
 * Returns 0 or SM_EINVAL. */
int catalog_sort_parse(const char *s, catalog_sort *out);

/* Product list filters. Strings are borrowed; NULL means "no filter". */
typedef struct catalog_list_params {
    int64_t page;         /* ≥ 1 */
    int64_t page_size;    /* 1..CATALOG_PAGE_SIZE_MAX */
    const char *category; /* id (digits) or slug; includes direct subcategories */
    bool has_min_price, has_max_price;
    int64_t min_price, max_price;
    int in_stock;      /* -1 any, 0 out of stock, 1 in stock */
    const char *brand; /* exact match */
    const char *q;     /* case-insensitive substring of the name (ASCII case folding) */
    catalog_sort sort;
    bool include_inactive; /* staff/admin `active=all` */
} catalog_list_params;

/* Default parameters: page 1, size 20, no filters, -created, active only. */
void catalog_list_params_init(catalog_list_params *p);

/* {items:[product…], page, page_size, total, pages}. Bad parameters (bounds,
 * a category that is neither digits nor a valid slug) are SM_EINVAL with
 * details. An unknown category gives an empty page. */
int catalog_products_list(db *d, const catalog_list_params *p, json_t **out, json_t *details,
                          sm_error *err);

#endif
