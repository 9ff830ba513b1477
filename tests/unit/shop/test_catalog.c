/* test_catalog.c — categories and products on a real database (SQLite, and
 * PostgreSQL when SM_TEST_POSTGRES_URL is set). */
#include "test_catalog_fixture.h"

#include <jansson.h>

#include "shop/catalog.h"

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (!j)
        fail_msg("bad test JSON: %s", je.text);
    return j;
}

/* Creates a product from JSON text; asserts success; returns its id. */
static int64_t product_new(db *d, const char *text)
{
    json_t *fields = parse(text), *details = json_object(), *out = NULL;
    sm_error err = {0};
    int rc = catalog_product_create(d, fields, &out, details, &err);
    if (rc) {
        char *s = json_dumps(details, 0);
        fail_msg("product_create(%s) = %d %s %s", text, rc, err.message, s);
    }
    int64_t id = json_integer_value(json_object_get(out, "id"));
    json_decref(fields);
    json_decref(details);
    json_decref(out);
    return id;
}

static int64_t category_new(db *d, const char *text)
{
    json_t *fields = parse(text), *details = json_object(), *out = NULL;
    assert_int_equal(catalog_category_create(d, fields, &out, details, NULL), 0);
    int64_t id = json_integer_value(json_object_get(out, "id"));
    json_decref(fields);
    json_decref(details);
    json_decref(out);
    return id;
}

/* Returns the error code of a create, and the details member for `key`. */
static int product_reject(db *d, const char *text, const char *key)
{
    json_t *fields = parse(text), *details = json_object(), *out = NULL;
    int rc = catalog_product_create(d, fields, &out, details, NULL);
    assert_null(out);
    if (key && !json_object_get(details, key))
        fail_msg("no details for %s in %s", key, text);
    json_decref(fields);
    json_decref(details);
    return rc;
}

static void slugify_folds_accents_and_collapses(void **state)
{
    (void)state;
    char s[CATALOG_SLUG_MAX + 1];
    assert_int_equal(catalog_slugify("Électroménager & Maison", s, sizeof s), 0);
    assert_string_equal(s, "electromenager-maison");
    assert_int_equal(catalog_slugify("  --Hello__World--  ", s, sizeof s), 0);
    assert_string_equal(s, "hello-world");
    assert_int_equal(catalog_slugify("Straße Œuvre Ça ÿ 42", s, sizeof s), 0);
    assert_string_equal(s, "strasse-oeuvre-ca-y-42");
    assert_int_equal(catalog_slugify("日本 TV", s, sizeof s), 0);
    assert_string_equal(s, "tv");
    assert_int_equal(catalog_slugify("!!! ???", s, sizeof s), SM_EINVAL);
    char long_name[400];
    memset(long_name, 'a', 99);
    strcpy(long_name + 99, " bbbbb");
    assert_int_equal(catalog_slugify(long_name, s, sizeof s), 0);
    assert_int_equal(strlen(s), 99); /* cut at 100 would end in '-': trimmed */
    assert_true(catalog_slug_valid(s));
}

static void slug_validation(void **state)
{
    (void)state;
    assert_true(catalog_slug_valid("a-b-0"));
    assert_false(catalog_slug_valid(""));
    assert_false(catalog_slug_valid("A"));
    assert_false(catalog_slug_valid("a b"));
    char s[102];
    memset(s, 'a', 101);
    s[101] = '\0';
    assert_false(catalog_slug_valid(s));
    s[100] = '\0';
    assert_true(catalog_slug_valid(s));
}

static void category_create_derives_slug_and_rejects_duplicates(void **state)
{
    shop_fixture *f = *state;
    json_t *fields = parse("{\"name\":\"Téléphones Mobiles\"}"), *details = json_object();
    json_t *out = NULL;
    assert_int_equal(catalog_category_create(f->d, fields, &out, details, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(out, "slug")), "telephones-mobiles");
    assert_true(json_is_null(json_object_get(out, "parent_id")));
    json_decref(out);
    out = NULL;
    assert_int_equal(catalog_category_create(f->d, fields, &out, details, NULL), SM_ECONFLICT);
    json_decref(fields);

    fields = parse("{\"name\":\"X\",\"slug\":\"Bad Slug\"}");
    assert_int_equal(catalog_category_create(f->d, fields, &out, details, NULL), SM_EINVAL);
    assert_non_null(json_object_get(details, "slug"));
    json_decref(fields);
    json_object_clear(details);

    fields = parse("{\"name\":\"X\",\"parent_id\":999}");
    assert_int_equal(catalog_category_create(f->d, fields, &out, details, NULL), SM_EINVAL);
    assert_non_null(json_object_get(details, "parent_id"));
    json_decref(fields);
    json_decref(details);

    json_t *list = NULL;
    assert_int_equal(catalog_categories_list(f->d, &list, NULL), 0);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 1);
    json_decref(list);
}

static void product_validation_rejects_bad_fields(void **state)
{
    shop_fixture *f = *state;
    assert_int_equal(product_reject(f->d, "{\"price_cents\":1}", "name"), SM_EINVAL);
    assert_int_equal(product_reject(f->d, "{\"name\":\"a\"}", "price_cents"), SM_EINVAL);
    assert_int_equal(product_reject(f->d, "{\"name\":\"\",\"price_cents\":1}", "name"), SM_EINVAL);
    assert_int_equal(product_reject(f->d, "{\"name\":\"a\",\"price_cents\":-1}", "price_cents"),
                     SM_EINVAL);
    assert_int_equal(
        product_reject(f->d, "{\"name\":\"a\",\"price_cents\":10000000001}", "price_cents"),
        SM_EINVAL);
    assert_int_equal(product_reject(f->d, "{\"name\":\"a\",\"price_cents\":1.5}", "price_cents"),
                     SM_EINVAL);
    assert_int_equal(
        product_reject(f->d, "{\"name\":\"a\",\"price_cents\":1,\"currency\":\"USD\"}", "currency"),
        SM_EINVAL);
    assert_int_equal(
        product_reject(f->d, "{\"name\":\"a\",\"price_cents\":1,\"stock\":1000000001}", "stock"),
        SM_EINVAL);
    assert_int_equal(
        product_reject(f->d, "{\"name\":\"a\",\"price_cents\":1,\"attributes\":[1]}", "attributes"),
        SM_EINVAL);
    assert_int_equal(product_reject(f->d,
                                    "{\"name\":\"a\",\"price_cents\":1,\"image_url\":\"ftp://x\"}",
                                    "image_url"),
                     SM_EINVAL);
    assert_int_equal(
        product_reject(f->d, "{\"name\":\"a\",\"price_cents\":1,\"active\":1}", "active"),
        SM_EINVAL);
    assert_int_equal(product_reject(f->d, "{\"name\":\"a\",\"price_cents\":1,\"category_id\":42}",
                                    "category_id"),
                     SM_EINVAL);

    /* NUL inside a string (jansson accepts it only with JSON_ALLOW_NUL) */
    json_t *fields = json_loads("{\"name\":\"a\\u0000b\",\"price_cents\":1}", JSON_ALLOW_NUL, NULL);
    json_t *details = json_object(), *out = NULL;
    assert_int_equal(catalog_product_create(f->d, fields, &out, details, NULL), SM_EINVAL);
    assert_non_null(json_object_get(details, "name"));
    json_decref(fields);
    json_decref(details);

    /* 200 code points of two bytes each are fine, 201 are not */
    char name[1024], text[1200];
    size_t n = 0;
    for (int i = 0; i < 200; i++) {
        name[n++] = (char)0xC3;
        name[n++] = (char)0xA9;
    }
    name[n] = '\0';
    snprintf(text, sizeof text, "{\"name\":\"%s\",\"price_cents\":1}", name);
    assert_true(product_new(f->d, text) > 0);
    snprintf(text, sizeof text, "{\"name\":\"%s\xC3\xA9\",\"price_cents\":1}", name);
    assert_int_equal(product_reject(f->d, text, "name"), SM_EINVAL);

    /* attributes over 8 KiB */
    char big[9000];
    memset(big, 'x', 8300);
    big[8300] = '\0';
    char *t = malloc(9100);
    snprintf(t, 9100, "{\"name\":\"a\",\"price_cents\":1,\"attributes\":{\"k\":\"%s\"}}", big);
    assert_int_equal(product_reject(f->d, t, "attributes"), SM_EINVAL);
    free(t);
}

static void product_roundtrip_stores_text_verbatim(void **state)
{
    shop_fixture *f = *state;
    int64_t cat = category_new(f->d, "{\"name\":\"Phones\"}");
    char text[512];
    snprintf(text, sizeof text,
             "{\"name\":\"Robert'); DROP TABLE products;--\",\"price_cents\":1999,"
             "\"stock\":5,\"category_id\":%lld,\"brand\":\"<b>Acme</b>\","
             "\"attributes\":{\"color\":\"red\",\"size\":[1,2]},\"image_url\":\"/img/a.png\"}",
             (long long)cat);
    int64_t id = product_new(f->d, text);

    json_t *p = NULL;
    assert_int_equal(catalog_product_get(f->d, id, false, &p, NULL), 0);
    assert_string_equal(json_string_value(json_object_get(p, "name")),
                        "Robert'); DROP TABLE products;--");
    assert_string_equal(json_string_value(json_object_get(p, "brand")), "<b>Acme</b>");
    assert_string_equal(json_string_value(json_object_get(p, "category")), "phones");
    assert_string_equal(json_string_value(json_object_get(p, "currency")), "EUR");
    assert_int_equal(json_integer_value(json_object_get(p, "price_cents")), 1999);
    assert_true(json_is_true(json_object_get(p, "active")));
    json_t *attrs = json_object_get(p, "attributes");
    assert_true(json_is_object(attrs));
    assert_string_equal(json_string_value(json_object_get(attrs, "color")), "red");
    const char *created = json_string_value(json_object_get(p, "created_at"));
    assert_int_equal(strlen(created), 24);
    assert_int_equal(created[23], 'Z');
    json_decref(p);
    assert_int_equal(catalog_product_get(f->d, id + 100, true, &p, NULL), SM_ENOTFOUND);
}

static void product_update_is_partial(void **state)
{
    shop_fixture *f = *state;
    int64_t cat = category_new(f->d, "{\"name\":\"Books\"}");
    char text[256];
    snprintf(text, sizeof text,
             "{\"name\":\"Dune\",\"price_cents\":900,\"stock\":3,\"category_id\":%lld,"
             "\"brand\":\"Ace\"}",
             (long long)cat);
    int64_t id = product_new(f->d, text);

    json_t *fields = parse("{\"price_cents\":1200}"), *details = json_object(), *p = NULL;
    assert_int_equal(catalog_product_update(f->d, id, fields, &p, details, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(p, "price_cents")), 1200);
    assert_string_equal(json_string_value(json_object_get(p, "name")), "Dune");
    assert_string_equal(json_string_value(json_object_get(p, "brand")), "Ace");
    assert_int_equal(json_integer_value(json_object_get(p, "stock")), 3);
    assert_int_equal(json_integer_value(json_object_get(p, "category_id")), cat);
    json_decref(p);
    json_decref(fields);

    fields = parse("{\"category_id\":null,\"active\":false,\"attributes\":{\"a\":1}}");
    assert_int_equal(catalog_product_update(f->d, id, fields, &p, details, NULL), 0);
    assert_true(json_is_null(json_object_get(p, "category_id")));
    assert_true(json_is_null(json_object_get(p, "category")));
    assert_true(json_is_false(json_object_get(p, "active")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "attributes"), "a")), 1);
    json_decref(p);
    p = NULL;

    assert_int_equal(catalog_product_update(f->d, id + 7, fields, &p, details, NULL), SM_ENOTFOUND);
    json_decref(fields);
    fields = parse("{\"price_cents\":\"12\"}");
    assert_int_equal(catalog_product_update(f->d, id, fields, &p, details, NULL), SM_EINVAL);
    assert_non_null(json_object_get(details, "price_cents"));
    json_decref(fields);
    json_decref(details);
}

static void product_deactivate_hides_it(void **state)
{
    shop_fixture *f = *state;
    int64_t id = product_new(f->d, "{\"name\":\"Lamp\",\"price_cents\":100}");
    assert_int_equal(catalog_product_deactivate(f->d, id, NULL), 0);
    json_t *p = NULL;
    assert_int_equal(catalog_product_get(f->d, id, false, &p, NULL), SM_ENOTFOUND);
    assert_int_equal(catalog_product_get(f->d, id, true, &p, NULL), 0);
    assert_true(json_is_false(json_object_get(p, "active")));
    json_decref(p);
    assert_int_equal(catalog_product_deactivate(f->d, id + 1, NULL), SM_ENOTFOUND);

    catalog_list_params lp;
    catalog_list_params_init(&lp);
    json_t *details = json_object(), *list = NULL;
    assert_int_equal(catalog_products_list(f->d, &lp, &list, details, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(list, "total")), 0);
    json_decref(list);
    lp.include_inactive = true;
    assert_int_equal(catalog_products_list(f->d, &lp, &list, details, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(list, "total")), 1);
    json_decref(list);
    json_decref(details);
}

/* Lists with `p` and returns the names in order, joined by ','. */
static void list_names(db *d, const catalog_list_params *p, char *out, size_t len, int64_t *total)
{
    json_t *details = json_object(), *list = NULL;
    sm_error err = {0};
    if (catalog_products_list(d, p, &list, details, &err) != 0)
        fail_msg("list: %s", err.message);
    size_t n = 0;
    out[0] = '\0';
    json_t *it;
    size_t i;
    json_array_foreach(json_object_get(list, "items"), i, it)
    {
        n += (size_t)snprintf(out + n, len - n, "%s%s", i ? "," : "",
                              json_string_value(json_object_get(it, "name")));
    }
    if (total)
        *total = json_integer_value(json_object_get(list, "total"));
    json_decref(list);
    json_decref(details);
}

static void product_list_filters_and_sorts(void **state)
{
    shop_fixture *f = *state;
    int64_t elec = category_new(f->d, "{\"name\":\"Electronics\"}");
    char text[256];
    snprintf(text, sizeof text, "{\"name\":\"Phones\",\"parent_id\":%lld}", (long long)elec);
    int64_t phones = category_new(f->d, text);
    category_new(f->d, "{\"name\":\"Garden\"}");

    snprintf(text, sizeof text,
             "{\"name\":\"Zeta TV\",\"price_cents\":50000,\"stock\":2,\"category_id\":%lld,"
             "\"brand\":\"Sony\"}",
             (long long)elec);
    product_new(f->d, text);
    snprintf(text, sizeof text,
             "{\"name\":\"Alpha Phone\",\"price_cents\":30000,\"stock\":0,\"category_id\":%lld,"
             "\"brand\":\"Acme\"}",
             (long long)phones);
    product_new(f->d, text);
    product_new(f->d, "{\"name\":\"Hose 100%_cotton\",\"price_cents\":1500,\"stock\":9}");
    product_new(f->d, "{\"name\":\"hose 100 cotton\",\"price_cents\":1600,\"stock\":9}");

    catalog_list_params p;
    char names[512];
    int64_t total = 0;

    catalog_list_params_init(&p);
    p.sort = CATALOG_SORT_PRICE;
    list_names(f->d, &p, names, sizeof names, &total);
    assert_string_equal(names, "Hose 100%_cotton,hose 100 cotton,Alpha Phone,Zeta TV");
    assert_int_equal(total, 4);
    /* name order of mixed case depends on the engine's collation (byte order on
     * SQLite, the database locale on PostgreSQL): compare unambiguous names */
    p.sort = CATALOG_SORT_NAME_DESC;
    p.has_min_price = true;
    p.min_price = 30000;
    list_names(f->d, &p, names, sizeof names, NULL);
    assert_string_equal(names, "Zeta TV,Alpha Phone");
    p.has_min_price = false;
    p.sort = CATALOG_SORT_CREATED_DESC;
    list_names(f->d, &p, names, sizeof names, NULL);
    assert_string_equal(names, "hose 100 cotton,Hose 100%_cotton,Alpha Phone,Zeta TV");

    catalog_list_params_init(&p);
    p.category = "electronics"; /* includes the Phones subcategory */
    p.sort = CATALOG_SORT_NAME;
    list_names(f->d, &p, names, sizeof names, NULL);
    assert_string_equal(names, "Alpha Phone,Zeta TV");
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "%lld", (long long)phones);
    p.category = idbuf;
    list_names(f->d, &p, names, sizeof names, NULL);
    assert_string_equal(names, "Alpha Phone");
    p.category = "garden";
    list_names(f->d, &p, names, sizeof names, &total);
    assert_int_equal(total, 0);
    p.category = "nope";
    list_names(f->d, &p, names, sizeof names, &total);
    assert_int_equal(total, 0);

    catalog_list_params_init(&p);
    p.sort = CATALOG_SORT_PRICE;
    p.has_min_price = p.has_max_price = true;
    p.min_price = 1600;
    p.max_price = 30000;
    list_names(f->d, &p, names, sizeof names, NULL);
    assert_string_equal(names, "hose 100 cotton,Alpha Phone");

    catalog_list_params_init(&p);
    p.sort = CATALOG_SORT_PRICE;
    p.in_stock = 0;
    list_names(f->d, &p, names, sizeof names, NULL);
    assert_string_equal(names, "Alpha Phone");
    p.in_stock = 1;
    p.brand = "Sony";
    list_names(f->d, &p, names, sizeof names, NULL);
    assert_string_equal(names, "Zeta TV");

    catalog_list_params_init(&p);
    p.sort = CATALOG_SORT_PRICE;
    p.q = "HOSE";
    list_names(f->d, &p, names, sizeof names, NULL);
    assert_string_equal(names, "Hose 100%_cotton,hose 100 cotton");
    p.q = "100%_";
    list_names(f->d, &p, names, sizeof names, NULL);
    assert_string_equal(names, "Hose 100%_cotton");
    p.q = "0 c"; /* '_' must not act as a wildcard: "0_c" matches nothing */
    list_names(f->d, &p, names, sizeof names, NULL);
    assert_string_equal(names, "hose 100 cotton");
    p.q = "0_c";
    list_names(f->d, &p, names, sizeof names, &total);
    assert_int_equal(total, 0);

    /* pagination */
    catalog_list_params_init(&p);
    p.sort = CATALOG_SORT_PRICE;
    p.page_size = 3;
    p.page = 2;
    json_t *details = json_object(), *list = NULL;
    assert_int_equal(catalog_products_list(f->d, &p, &list, details, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(list, "total")), 4);
    assert_int_equal(json_integer_value(json_object_get(list, "pages")), 2);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 1);
    json_decref(list);
    list = NULL;

    p.page_size = 101;
    p.category = "Bad Slug";
    assert_int_equal(catalog_products_list(f->d, &p, &list, details, NULL), SM_EINVAL);
    assert_non_null(json_object_get(details, "page_size"));
    assert_non_null(json_object_get(details, "category"));
    assert_null(list);
    json_decref(details);
}

static void sort_parse_whitelist(void **state)
{
    (void)state;
    catalog_sort s;
    assert_int_equal(catalog_sort_parse("-price", &s), 0);
    assert_int_equal(s, CATALOG_SORT_PRICE_DESC);
    assert_int_equal(catalog_sort_parse("created", &s), 0);
    assert_int_equal(s, CATALOG_SORT_CREATED);
    assert_int_equal(catalog_sort_parse("price; DROP TABLE products", &s), SM_EINVAL);
    assert_int_equal(catalog_sort_parse("", &s), SM_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slugify_folds_accents_and_collapses),
        cmocka_unit_test(slug_validation),
        cmocka_unit_test(sort_parse_whitelist),
        SHOP_TEST(category_create_derives_slug_and_rejects_duplicates),
        SHOP_TEST(product_validation_rejects_bad_fields),
        SHOP_TEST(product_roundtrip_stores_text_verbatim),
        SHOP_TEST(product_update_is_partial),
        SHOP_TEST(product_deactivate_hides_it),
        SHOP_TEST(product_list_filters_and_sorts),
    };
    return shop_run_groups("catalog", tests, sizeof tests / sizeof tests[0]) ? 1 : 0;
}
