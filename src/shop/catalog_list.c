/* catalog_list.c — the product list: filters, sorting, pagination.
 *
 * The WHERE clause is assembled from fixed fragments only; each fragment
 * names its placeholder by number ($1, $2, …) as the list of bound values
 * grows, so no byte of user input ever reaches the SQL text. The number of
 * distinct SQL texts is bounded (a subset of 7 filters × 6 sorts), which
 * keeps the drivers' prepared-statement caches small.
 *
 * A page costs two statements: a count(*) with the same WHERE clause, then
 * the page itself with LIMIT/OFFSET. The category filter includes direct
 * subcategories through a subquery, by id or by slug. */
#include <stdio.h>
#include <string.h>

#include "shop/catalog.h"
#include "shop/catalog_json.h"

#define LIST_MAX_PARAMS 12
#define LIST_SQL_MAX 2048

void catalog_list_params_init(catalog_list_params *p)
{
    memset(p, 0, sizeof *p);
    p->page = 1;
    p->page_size = 20;
    p->in_stock = -1;
    p->sort = CATALOG_SORT_CREATED_DESC;
}

static const struct {
    const char *key;
    catalog_sort sort;
    const char *order_by;
} sorts[] = {
    {"-created", CATALOG_SORT_CREATED_DESC, " ORDER BY p.created_at DESC, p.id DESC"},
    {"created", CATALOG_SORT_CREATED, " ORDER BY p.created_at ASC, p.id ASC"},
    {"price", CATALOG_SORT_PRICE, " ORDER BY p.price_cents ASC, p.id ASC"},
    {"-price", CATALOG_SORT_PRICE_DESC, " ORDER BY p.price_cents DESC, p.id DESC"},
    {"name", CATALOG_SORT_NAME, " ORDER BY p.name ASC, p.id ASC"},
    {"-name", CATALOG_SORT_NAME_DESC, " ORDER BY p.name DESC, p.id DESC"},
};

int catalog_sort_parse(const char *s, catalog_sort *out)
{
    for (size_t i = 0; s && i < sizeof sorts / sizeof sorts[0]; i++) {
        if (strcmp(s, sorts[i].key) == 0) {
            *out = sorts[i].sort;
            return 0;
        }
    }
    return SM_EINVAL;
}

static const char *sort_order_by(catalog_sort s)
{
    for (size_t i = 0; i < sizeof sorts / sizeof sorts[0]; i++)
        if (sorts[i].sort == s)
            return sorts[i].order_by;
    return sorts[0].order_by;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* The WHERE clause under construction and its bound values. */
typedef struct where_builder {
    char sql[LIST_SQL_MAX];
    size_t len;
    db_value params[LIST_MAX_PARAMS];
    int n;
} where_builder;

/* Appends " AND <fragment>" where the fragment's "%d" (at most two) is the
 * number of the new placeholder bound to `v`. */
static void where_add(where_builder *w, const char *fragment, db_value v)
{
    char piece[512];
    int idx = w->n + 1;
    snprintf(piece, sizeof piece, fragment, idx, idx);
    w->len += (size_t)snprintf(w->sql + w->len, sizeof w->sql - w->len, " AND %s", piece);
    w->params[w->n++] = v;
}

/* Escapes LIKE metacharacters (\ % _) and wraps in %…%, into `out`. */
static void like_pattern(const char *q, char *out, size_t out_len)
{
    size_t n = 0;
    out[n++] = '%';
    for (; *q && n + 3 < out_len; q++) {
        if (*q == '\\' || *q == '%' || *q == '_')
            out[n++] = '\\';
        out[n++] = *q;
    }
    out[n++] = '%';
    out[n] = '\0';
}

static int validate_params(const catalog_list_params *p, json_t *details)
{
    if (p->page < 1 || p->page > CATALOG_PAGE_MAX)
        catjson_fail(details, "page", "must be between 1 and 1000000");
    if (p->page_size < 1 || p->page_size > CATALOG_PAGE_SIZE_MAX)
        catjson_fail(details, "page_size", "must be between 1 and 100");
    if (p->category && !all_digits(p->category) && !catalog_slug_valid(p->category))
        catjson_fail(details, "category", "must be a category id or slug");
    if (p->category && all_digits(p->category) && strlen(p->category) > 18)
        catjson_fail(details, "category", "id out of range");
    if (p->has_min_price && (p->min_price < 0 || p->min_price > CATALOG_PRICE_MAX))
        catjson_fail(details, "min_price", "must be between 0 and 10000000000");
    if (p->has_max_price && (p->max_price < 0 || p->max_price > CATALOG_PRICE_MAX))
        catjson_fail(details, "max_price", "must be between 0 and 10000000000");
    if (p->brand && catjson_utf8_len(p->brand) > CATALOG_BRAND_MAX)
        catjson_fail(details, "brand", "must be at most 100 characters");
    if (p->q && catjson_utf8_len(p->q) > CATALOG_QUERY_MAX)
        catjson_fail(details, "q", "must be at most 200 characters");
    return json_object_size(details) > 0 ? SM_EINVAL : 0;
}

int catalog_products_list(db *d, const catalog_list_params *p, json_t **out, json_t *details,
                          sm_error *err)
{
    where_builder w = {.len = 0, .n = 0};
    char pattern[CATALOG_QUERY_MAX * 4 * 2 + 4];
    char sql[LIST_SQL_MAX * 2];
    db_result *r = NULL;
    json_t *items = NULL, *res = NULL;
    int rc;

    if (validate_params(p, details))
        return sm_error_set(err, SM_EINVAL, "invalid list parameters");
    w.len = (size_t)snprintf(w.sql, sizeof w.sql, " WHERE %s",
                             p->include_inactive ? "1 = 1" : "p.active = 1");
    if (p->category && all_digits(p->category))
        where_add(&w,
                  "p.category_id IN (SELECT id FROM categories WHERE id = $%d OR parent_id = $%d)",
                  DB_I(strtoll(p->category, NULL, 10)));
    else if (p->category)
        where_add(&w,
                  "p.category_id IN (SELECT c2.id FROM categories c1 JOIN categories c2 "
                  "ON c2.id = c1.id OR c2.parent_id = c1.id WHERE c1.slug = $%d)",
                  DB_T(p->category));
    if (p->has_min_price)
        where_add(&w, "p.price_cents >= $%d", DB_I(p->min_price));
    if (p->has_max_price)
        where_add(&w, "p.price_cents <= $%d", DB_I(p->max_price));
    if (p->in_stock == 1)
        w.len += (size_t)snprintf(w.sql + w.len, sizeof w.sql - w.len, " AND p.stock > 0");
    else if (p->in_stock == 0)
        w.len += (size_t)snprintf(w.sql + w.len, sizeof w.sql - w.len, " AND p.stock = 0");
    if (p->brand)
        where_add(&w, "p.brand = $%d", DB_T(p->brand));
    if (p->q) {
        like_pattern(p->q, pattern, sizeof pattern);
        where_add(&w, "lower(p.name) LIKE lower($%d) ESCAPE '\\'",
                  (db_value){.type = DB_TEXT, .s = pattern});
    }

    snprintf(sql, sizeof sql, "SELECT count(*) FROM products p%s", w.sql);
    if ((rc = db_query(d, sql, w.params, w.n, &r, err)))
        return rc;
    int64_t total = db_result_int(r, 0, 0);
    db_result_free(r);
    r = NULL;

    db_value params[LIST_MAX_PARAMS + 2];
    memcpy(params, w.params, sizeof(db_value) * (size_t)w.n);
    params[w.n] = DB_I(p->page_size);
    params[w.n + 1] = DB_I((p->page - 1) * p->page_size);
    snprintf(sql, sizeof sql,
             "SELECT " CATALOG_PRODUCT_COLUMNS CATALOG_PRODUCT_FROM "%s%s LIMIT $%d OFFSET $%d",
             w.sql, sort_order_by(p->sort), w.n + 1, w.n + 2);
    if ((rc = db_query(d, sql, params, w.n + 2, &r, err)))
        return rc;
    rc = SM_ENOMEM;
    if (!(items = json_array()))
        goto fail;
    for (int i = 0; i < db_result_rows(r); i++) {
        json_t *prod = catjson_product_row(r, i);
        if (!prod || json_array_append_new(items, prod))
            goto fail;
    }
    res = json_pack("{so sI sI sI sI}", "items", items, "page", (json_int_t)p->page, "page_size",
                    (json_int_t)p->page_size, "total", (json_int_t)total, "pages",
                    (json_int_t)((total + p->page_size - 1) / p->page_size));
    items = NULL;
    if (!res)
        goto fail;
    db_result_free(r);
    *out = res;
    return 0;
fail:
    json_decref(items);
    db_result_free(r);
    return sm_error_set(err, rc, "out of memory");
}
