/* catalog.c — categories and products: validation, storage, JSON.
 *
 * A product arrives as a JSON object of fields. One validator
 * (product_input_read) reads any subset of them into a product_input with a
 * bit per field present, adding "field": "message" to `details` for each bad
 * one; create requires name and price_cents, update takes whatever is there.
 * The update is one fixed statement in which every column is
 * COALESCE($n, column): a field absent from the request binds NULL and keeps
 * its value. category_id is the one nullable column, so it has an explicit
 * "set" flag. A single SQL text means the driver prepares it once per
 * connection.
 *
 * The list builds its WHERE clause from fixed fragments, numbering the
 * placeholders as it goes; user input only ever travels as bound values,
 * and sort keys map to fixed ORDER BY strings. The name filter `q` is a
 * LIKE on lower() of both sides with %, _ and \ escaped; SQLite's lower()
 * folds ASCII only, so on SQLite "É" does not match "é" (PostgreSQL folds per
 * its collation). Strings are stored verbatim: no escaping, no trimming. */
#include "shop/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "shop/catalog_json.h"

/* ---- slugs ---- */

/* ASCII folding of U+00C0..U+00FF (UTF-8 0xC3 0x80..0xBF); "" = separator. */
static const char *const latin1_fold[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "y",
};

int catalog_slugify(const char *name, char *out, size_t out_len)
{
    size_t cap = out_len - 1 < CATALOG_SLUG_MAX ? out_len - 1 : CATALOG_SLUG_MAX;
    size_t n = 0;
    bool pending_sep = false;

    if (!name || out_len == 0)
        return SM_EINVAL;
    for (const unsigned char *s = (const unsigned char *)name; *s && n < cap;) {
        char ascii[2] = {0, 0};
        const char *piece = ascii;
        if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')) {
            ascii[0] = (char)*s++;
        } else if (*s >= 'A' && *s <= 'Z') {
            ascii[0] = (char)(*s++ - 'A' + 'a');
        } else if (*s == 0xC3 && s[1] >= 0x80 && s[1] <= 0xBF) {
            piece = latin1_fold[s[1] - 0x80];
            s += 2;
        } else if (*s == 0xC5 && (s[1] == 0x92 || s[1] == 0x93)) { /* Œ œ */
            piece = "oe";
            s += 2;
        } else {
            piece = "";
            s++;
        }
        if (!*piece) {
            pending_sep = n > 0;
            continue;
        }
        if (pending_sep && n < cap) {
            out[n++] = '-';
            pending_sep = false;
        }
        for (; *piece && n < cap; piece++)
            out[n++] = *piece;
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    out[n] = '\0';
    return n > 0 ? 0 : SM_EINVAL;
}

bool catalog_slug_valid(const char *slug)
{
    size_t n = 0;
    if (!slug)
        return false;
    for (; slug[n]; n++) {
        char c = slug[n];
        if (n >= CATALOG_SLUG_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return n > 0;
}

const char *catalog_currency(void)
{
    const sm_config *cfg = config_get();
    return cfg && cfg->currency[0] ? cfg->currency : "EUR";
}

/* ---- categories ---- */

int catalog_categories_list(db *d, json_t **out, sm_error *err)
{
    db_result *r = NULL;
    json_t *items = json_array(), *obj = NULL;
    int rc = db_query(d, "SELECT id, name, slug, parent_id FROM categories ORDER BY name, id", NULL,
                      0, &r, err);
    if (rc)
        goto fail;
    rc = SM_ENOMEM;
    if (!items)
        goto fail;
    for (int i = 0; i < db_result_rows(r); i++) {
        json_t *c =
            json_pack("{sI ss ss so}", "id", (json_int_t)db_result_int(r, i, 0), "name",
                      db_result_text(r, i, 1), "slug", db_result_text(r, i, 2), "parent_id",
                      db_result_isnull(r, i, 3) ? json_null()
                                                : json_integer((json_int_t)db_result_int(r, i, 3)));
        if (!c || json_array_append_new(items, c))
            goto fail;
    }
    obj = json_pack("{so}", "items", items);
    items = NULL;
    if (!obj)
        goto fail;
    db_result_free(r);
    *out = obj;
    return 0;
fail:
    json_decref(items);
    db_result_free(r);
    return rc == SM_ENOMEM ? sm_error_set(err, SM_ENOMEM, "out of memory") : rc;
}

static int category_exists(db *d, int64_t id, bool *exists, sm_error *err)
{
    db_result *r = NULL;
    db_value p[] = {DB_I(id)};
    int rc = db_query(d, "SELECT 1 FROM categories WHERE id = $1", p, 1, &r, err);
    if (rc)
        return rc;
    *exists = db_result_rows(r) > 0;
    db_result_free(r);
    return 0;
}

int catalog_category_create(db *d, json_t *fields, json_t **out, json_t *details, sm_error *err)
{
    const char *name = NULL, *slug = NULL;
    char derived[CATALOG_SLUG_MAX + 1];
    int64_t parent = 0;
    bool parent_set = false, exists = false;
    db_result *r = NULL;
    int rc;

    if (catjson_string(fields, "name", true, 1, CATALOG_CATEGORY_NAME_MAX, &name, details) < 0)
        name = NULL;
    if (catjson_string(fields, "slug", false, 1, CATALOG_SLUG_MAX, &slug, details) > 0 &&
        !catalog_slug_valid(slug))
        catjson_fail(details, "slug", "must match [a-z0-9-]{1,100}");
    rc = catjson_nullable_id(fields, "parent_id", &parent, details);
    parent_set = rc > 0 && parent > 0;
    if (name && !slug && catalog_slugify(name, derived, sizeof derived) == 0)
        slug = derived;
    else if (name && !slug)
        catjson_fail(details, "slug", "cannot be derived from the name; give one");
    if (json_object_size(details) > 0)
        return sm_error_set(err, SM_EINVAL, "invalid category");
    if (parent_set) {
        if ((rc = category_exists(d, parent, &exists, err)))
            return rc;
        if (!exists) {
            catjson_fail(details, "parent_id", "no such category");
            return sm_error_set(err, SM_EINVAL, "invalid category");
        }
    }
    db_value p[] = {DB_T(name), DB_T(slug), parent_set ? DB_I(parent) : DB_NULLV,
                    DB_I(clock_now_ms())};
    rc = db_query(d,
                  "INSERT INTO categories (name, slug, parent_id, created_at) "
                  "VALUES ($1, $2, $3, $4) RETURNING id",
                  p, 4, &r, err);
    if (rc == SM_ECONFLICT)
        return sm_error_set(err, SM_ECONFLICT, "slug \"%s\" is taken", slug);
    if (rc)
        return rc;
    int64_t id = db_result_int(r, 0, 0);
    db_result_free(r);
    *out = json_pack("{sI ss ss so}", "id", (json_int_t)id, "name", name, "slug", slug, "parent_id",
                     parent_set ? json_integer((json_int_t)parent) : json_null());
    return *out ? 0 : sm_error_set(err, SM_ENOMEM, "out of memory");
}

/* ---- products ---- */

int catalog_product_get(db *d, int64_t id, bool include_inactive, json_t **out, sm_error *err)
{
    db_result *r = NULL;
    db_value p[] = {DB_I(id)};
    int rc = db_query(d, "SELECT " CATALOG_PRODUCT_COLUMNS CATALOG_PRODUCT_FROM " WHERE p.id = $1",
                      p, 1, &r, err);
    if (rc)
        return rc;
    if (db_result_rows(r) == 0 || (!include_inactive && db_result_int(r, 0, 11) == 0)) {
        db_result_free(r);
        return sm_error_set(err, SM_ENOTFOUND, "no product %lld", (long long)id);
    }
    *out = catjson_product_row(r, 0);
    db_result_free(r);
    return *out ? 0 : sm_error_set(err, SM_ENOMEM, "out of memory");
}

/* Checks that the product's category exists (when one is set). */
static int product_check_category(db *d, const product_input *in, json_t *details, sm_error *err)
{
    bool exists = false;
    int rc;
    if (!(in->has & PRODUCT_HAS_CATEGORY) || in->category_null)
        return 0;
    if ((rc = category_exists(d, in->category_id, &exists, err)))
        return rc;
    if (!exists) {
        catjson_fail(details, "category_id", "no such category");
        return sm_error_set(err, SM_EINVAL, "invalid product");
    }
    return 0;
}

int catalog_product_create(db *d, json_t *fields, json_t **out, json_t *details, sm_error *err)
{
    product_input in;
    db_result *r = NULL;
    int rc = catjson_product_read(fields, &in, details);
    if (rc == 0 && !(in.has & PRODUCT_HAS_NAME))
        rc = catjson_fail(details, "name", "required");
    if (rc == 0 && !(in.has & PRODUCT_HAS_PRICE))
        rc = catjson_fail(details, "price_cents", "required");
    if (rc)
        goto fail_invalid;
    if ((rc = product_check_category(d, &in, details, err)))
        goto done;
    int64_t now = clock_now_ms();
    bool has_cat = (in.has & PRODUCT_HAS_CATEGORY) && !in.category_null;
    db_value p[] = {
        DB_T(in.name),
        DB_T(in.description ? in.description : ""),
        DB_I(in.price_cents),
        DB_T(in.currency ? in.currency : catalog_currency()),
        DB_I((in.has & PRODUCT_HAS_STOCK) ? in.stock : 0),
        has_cat ? DB_I(in.category_id) : DB_NULLV,
        DB_T(in.brand ? in.brand : ""),
        DB_T(in.attributes ? in.attributes : "{}"),
        DB_T(in.image_url ? in.image_url : ""),
        DB_I((in.has & PRODUCT_HAS_ACTIVE) ? in.active : 1),
        DB_I(now),
    };
    rc = db_query(d,
                  "INSERT INTO products (name, description, price_cents, currency, stock, "
                  "category_id, brand, attributes, image_url, active, created_at, updated_at) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
                  p, 11, &r, err);
    if (rc)
        goto done;
    int64_t id = db_result_int(r, 0, 0);
    db_result_free(r);
    rc = catalog_product_get(d, id, true, out, err);
    goto done;
fail_invalid:
    rc = sm_error_set(err, SM_EINVAL, "invalid product");
done:
    catjson_product_input_free(&in);
    return rc;
}

int catalog_product_update(db *d, int64_t id, json_t *fields, json_t **out, json_t *details,
                           sm_error *err)
{
    product_input in;
    int64_t affected = 0;
    int rc = catjson_product_read(fields, &in, details);
    if (rc) {
        rc = sm_error_set(err, SM_EINVAL, "invalid product");
        goto done;
    }
    if ((rc = product_check_category(d, &in, details, err)))
        goto done;
    unsigned h = in.has;
    bool set_cat = h & PRODUCT_HAS_CATEGORY;
    db_value p[] = {
        DB_I(id),
        DB_T(in.name),
        DB_T(in.description),
        (h & PRODUCT_HAS_PRICE) ? DB_I(in.price_cents) : DB_NULLV,
        DB_T(in.currency),
        (h & PRODUCT_HAS_STOCK) ? DB_I(in.stock) : DB_NULLV,
        DB_I(set_cat ? 1 : 0),
        set_cat && !in.category_null ? DB_I(in.category_id) : DB_NULLV,
        DB_T(in.brand),
        DB_T(in.attributes),
        DB_T(in.image_url),
        (h & PRODUCT_HAS_ACTIVE) ? DB_I(in.active) : DB_NULLV,
        DB_I(clock_now_ms()),
    };
    rc = db_exec(d,
                 "UPDATE products SET name = COALESCE($2, name), "
                 "description = COALESCE($3, description), "
                 "price_cents = COALESCE($4, price_cents), currency = COALESCE($5, currency), "
                 "stock = COALESCE($6, stock), "
                 "category_id = CASE WHEN $7 = 1 THEN $8 ELSE category_id END, "
                 "brand = COALESCE($9, brand), attributes = COALESCE($10, attributes), "
                 "image_url = COALESCE($11, image_url), active = COALESCE($12, active), "
                 "updated_at = $13 WHERE id = $1",
                 p, 13, &affected, err);
    if (rc)
        goto done;
    if (affected == 0) {
        rc = sm_error_set(err, SM_ENOTFOUND, "no product %lld", (long long)id);
        goto done;
    }
    rc = catalog_product_get(d, id, true, out, err);
done:
    catjson_product_input_free(&in);
    return rc;
}

int catalog_product_deactivate(db *d, int64_t id, sm_error *err)
{
    int64_t affected = 0;
    db_value p[] = {DB_I(id), DB_I(clock_now_ms())};
    int rc = db_exec(d, "UPDATE products SET active = 0, updated_at = $2 WHERE id = $1", p, 2,
                     &affected, err);
    if (rc)
        return rc;
    if (affected == 0)
        return sm_error_set(err, SM_ENOTFOUND, "no product %lld", (long long)id);
    return 0;
}
