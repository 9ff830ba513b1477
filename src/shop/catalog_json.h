/* catalog_json.h — reading and writing catalogue JSON: field validators,
 * the product validator, and a product row rendered as an object. Internal
 * to src/shop/ (catalog.c, catalog_list.c, orders.c). Thread-safe (no state).
 *
 * Validators follow one convention: read `key` from `obj`; absent (and not
 * required) returns 0 and leaves the output untouched; present and valid
 * returns 1; otherwise adds "key": "message" to `details` and returns
 * SM_EINVAL. Strings are borrowed from `obj`, must not contain NUL, and their
 * lengths are counted in code points (jansson has already checked UTF-8). */
#ifndef SM_SHOP_CATALOG_JSON_H
#define SM_SHOP_CATALOG_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/* Adds "key": "message" to details (when not already there); returns SM_EINVAL. */
int catjson_fail(json_t *details, const char *key, const char *message);

int catjson_string(json_t *obj, const char *key, bool required, size_t min_len, size_t max_len,
                   const char **out, json_t *details);
int catjson_int(json_t *obj, const char *key, bool required, int64_t min, int64_t max, int64_t *out,
                json_t *details);

/* A positive id or JSON null (*out = 0). */
int catjson_nullable_id(json_t *obj, const char *key, int64_t *out, json_t *details);

/* UTF-8 code points in `s` (bytes that are not continuation bytes). */
size_t catjson_utf8_len(const char *s);

enum {
    PRODUCT_HAS_NAME = 1 << 0,
    PRODUCT_HAS_DESCRIPTION = 1 << 1,
    PRODUCT_HAS_PRICE = 1 << 2,
    PRODUCT_HAS_CURRENCY = 1 << 3,
    PRODUCT_HAS_STOCK = 1 << 4,
    PRODUCT_HAS_CATEGORY = 1 << 5,
    PRODUCT_HAS_BRAND = 1 << 6,
    PRODUCT_HAS_ATTRIBUTES = 1 << 7,
    PRODUCT_HAS_IMAGE_URL = 1 << 8,
    PRODUCT_HAS_ACTIVE = 1 << 9,
};

/* The product fields present in a request. Strings are borrowed from the
 * JSON object except `attributes`, which is the compact serialisation
 * (malloc'd; freed by catjson_product_input_free). Absent strings are NULL. */
typedef struct product_input {
    unsigned has; /* PRODUCT_HAS_* */
    const char *name, *description, *currency, *brand, *image_url;
    char *attributes;
    int64_t price_cents, stock, category_id;
    bool category_null; /* category_id: null was given */
    bool active;
} product_input;

/* Validates every product field present in `fields` (unknown members are
 * ignored; a non-object is one error under "body"). Returns 0 or SM_EINVAL
 * with details; `in` must be freed with catjson_product_input_free either way. */
int catjson_product_read(json_t *fields, product_input *in, json_t *details);
void catjson_product_input_free(product_input *in);

/* The columns catjson_product_row() expects, and the join they come from. */
#define CATALOG_PRODUCT_COLUMNS                                                                    \
    "p.id, p.name, p.description, p.price_cents, p.currency, p.stock, p.category_id, c.slug, "     \
    "p.brand, p.attributes, p.image_url, p.active, p.created_at, p.updated_at"
#define CATALOG_PRODUCT_FROM " FROM products p LEFT JOIN categories c ON c.id = p.category_id"

/* Renders row `row` of a result whose columns are, in order: id, name,
 * description, price_cents, currency, stock, category_id, category slug,
 * brand, attributes, image_url, active, created_at, updated_at.
 * Returns a new object or NULL when out of memory. */
json_t *catjson_product_row(const db_result *r, int row);

/* An ISO 8601 UTC JSON string for `ms` since the epoch (NULL on OOM). */
json_t *catjson_time(int64_t ms);

#endif
