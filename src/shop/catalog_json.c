/* catalog_json.c — JSON in and out for the catalogue; see catalog_json.h.
 *
 * The validators here are the shop layer's own (the API layer has similar
 * ones, but layers only call downwards): the domain must not trust that a
 * caller validated, because seeders and jobs call it too. */
#include "shop/catalog_json.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "shop/catalog.h"

int catjson_fail(json_t *details, const char *key, const char *message)
{
    if (details && !json_object_get(details, key))
        json_object_set_new(details, key, json_string(message));
    return SM_EINVAL;
}

size_t catjson_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

int catjson_string(json_t *obj, const char *key, bool required, size_t min_len, size_t max_len,
                   const char **out, json_t *details)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return required ? catjson_fail(details, key, "required") : 0;
    if (!json_is_string(v))
        return catjson_fail(details, key, "must be a string");
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return catjson_fail(details, key, "must not contain NUL characters");
    size_t n = catjson_utf8_len(s);
    if (n < min_len || n > max_len) {
        char msg[96];
        snprintf(msg, sizeof msg, "length must be between %zu and %zu characters", min_len,
                 max_len);
        return catjson_fail(details, key, msg);
    }
    *out = s;
    return 1;
}

int catjson_int(json_t *obj, const char *key, bool required, int64_t min, int64_t max, int64_t *out,
                json_t *details)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return required ? catjson_fail(details, key, "required") : 0;
    if (!json_is_integer(v))
        return catjson_fail(details, key, "must be an integer");
    int64_t i = (int64_t)json_integer_value(v);
    if (i < min || i > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "must be between %lld and %lld", (long long)min, (long long)max);
        return catjson_fail(details, key, msg);
    }
    *out = i;
    return 1;
}

int catjson_nullable_id(json_t *obj, const char *key, int64_t *out, json_t *details)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_null(v)) {
        *out = 0;
        return 1;
    }
    return catjson_int(obj, key, false, 1, INT64_MAX, out, details);
}

static bool image_url_valid(const char *s)
{
    return s[0] == '\0' || strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0 ||
           s[0] == '/';
}

int catjson_product_read(json_t *fields, product_input *in, json_t *details)
{
    memset(in, 0, sizeof *in);
    if (!json_is_object(fields))
        return catjson_fail(details, "body", "must be a JSON object");
    int64_t active = 0;
    json_t *v;

    if (catjson_string(fields, "name", false, 1, CATALOG_NAME_MAX, &in->name, details) > 0)
        in->has |= PRODUCT_HAS_NAME;
    if (catjson_string(fields, "description", false, 0, CATALOG_DESCRIPTION_MAX, &in->description,
                       details) > 0)
        in->has |= PRODUCT_HAS_DESCRIPTION;
    if (catjson_int(fields, "price_cents", false, 0, CATALOG_PRICE_MAX, &in->price_cents, details) >
        0)
        in->has |= PRODUCT_HAS_PRICE;
    if (catjson_string(fields, "currency", false, 3, 3, &in->currency, details) > 0) {
        if (strcmp(in->currency, catalog_currency()) != 0) {
            char msg[64];
            snprintf(msg, sizeof msg, "must be %s", catalog_currency());
            catjson_fail(details, "currency", msg);
        } else {
            in->has |= PRODUCT_HAS_CURRENCY;
        }
    }
    if (catjson_int(fields, "stock", false, 0, CATALOG_STOCK_MAX, &in->stock, details) > 0)
        in->has |= PRODUCT_HAS_STOCK;
    if (catjson_nullable_id(fields, "category_id", &in->category_id, details) > 0) {
        in->has |= PRODUCT_HAS_CATEGORY;
        in->category_null = in->category_id == 0;
    }
    if (catjson_string(fields, "brand", false, 0, CATALOG_BRAND_MAX, &in->brand, details) > 0)
        in->has |= PRODUCT_HAS_BRAND;
    if ((v = json_object_get(fields, "attributes"))) {
        if (!json_is_object(v)) {
            catjson_fail(details, "attributes", "must be a JSON object");
        } else {
            in->attributes = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!in->attributes || strlen(in->attributes) > CATALOG_ATTRIBUTES_MAX)
                catjson_fail(details, "attributes",
                             in->attributes ? "must be at most 8 KiB serialised"
                                            : "cannot be serialised");
            else
                in->has |= PRODUCT_HAS_ATTRIBUTES;
        }
    }
    if (catjson_string(fields, "image_url", false, 0, CATALOG_IMAGE_URL_MAX, &in->image_url,
                       details) > 0) {
        if (!image_url_valid(in->image_url))
            catjson_fail(details, "image_url", "must start with http://, https:// or /");
        else
            in->has |= PRODUCT_HAS_IMAGE_URL;
    }
    if ((v = json_object_get(fields, "active"))) {
        if (!json_is_boolean(v))
            catjson_fail(details, "active", "must be a boolean");
        else {
            active = json_is_true(v);
            in->active = active;
            in->has |= PRODUCT_HAS_ACTIVE;
        }
    }
    return json_object_size(details) > 0 ? SM_EINVAL : 0;
}

void catjson_product_input_free(product_input *in)
{
    free(in->attributes);
    in->attributes = NULL;
}

json_t *catjson_time(int64_t ms)
{
    char buf[CLOCK_ISO_LEN];
    clock_format_iso(ms, buf);
    return json_string(buf);
}

static json_t *nullable_int(const db_result *r, int row, int col)
{
    return db_result_isnull(r, row, col) ? json_null()
                                         : json_integer((json_int_t)db_result_int(r, row, col));
}

static json_t *nullable_text(const db_result *r, int row, int col)
{
    const char *s = db_result_text(r, row, col);
    return s ? json_string(s) : json_null();
}

json_t *catjson_product_row(const db_result *r, int row)
{
    const char *attr_text = db_result_text(r, row, 9);
    json_t *attrs = attr_text ? json_loads(attr_text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(attrs)) {
        /* Only this module writes the column, always an object; be lenient
         * with rows written by hand rather than failing the whole list. */
        json_decref(attrs);
        attrs = json_object();
    }
    return json_pack(
        "{sI ss ss sI ss sI so so ss so ss sb so so}", "id", (json_int_t)db_result_int(r, row, 0),
        "name", db_result_text(r, row, 1), "description", db_result_text(r, row, 2), "price_cents",
        (json_int_t)db_result_int(r, row, 3), "currency", db_result_text(r, row, 4), "stock",
        (json_int_t)db_result_int(r, row, 5), "category_id", nullable_int(r, row, 6), "category",
        nullable_text(r, row, 7), "brand", db_result_text(r, row, 8), "attributes", attrs,
        "image_url", db_result_text(r, row, 10), "active", db_result_int(r, row, 11) != 0,
        "created_at", catjson_time(db_result_int(r, row, 12)), "updated_at",
        catjson_time(db_result_int(r, row, 13)));
}
