/* test_search.c — hybrid search behaviours on a small catalogue, the swap
 * of versions under concurrent queries, and the cold start. */
#include "ml_fixture.h"

#include <jansson.h>
#include <pthread.h>
#include <time.h>

#include "ml/search.h"

static char g_data[256];

static snapshot *open_current(void)
{
    char dir[ARTEFACT_PATH_MAX], version[ARTEFACT_VERSION_MAX];
    snapshot *s = NULL;
    assert_int_equal(artefact_current(g_data, dir, version, NULL), 0);
    assert_int_equal(snapshot_load(dir, version, 1, &s, NULL), 0);
    return s;
}

static json_t *run(snapshot *s, search_params *p)
{
    json_t *out = NULL;
    sm_error err = {0};
    int rc = search_run(s, p, &out, &err);
    if (rc)
        fail_msg("search_run: %s", err.message);
    return out;
}

static json_t *query(snapshot *s, const char *q)
{
    search_params p;
    search_params_init(&p);
    p.q = q;
    return run(s, &p);
}

static int64_t first_id(json_t *r)
{
    return json_integer_value(
        json_object_get(json_array_get(json_object_get(r, "items"), 0), "id"));
}

static int64_t total(json_t *r)
{
    return json_integer_value(json_object_get(r, "total"));
}

static void search_finds_words_across_languages_and_forms(void **state)
{
    (void)state;
    snapshot *s = open_current();
    json_t *r = query(s, "smartphone 128 go");
    assert_int_equal(first_id(r), 1);
    json_t *it = json_array_get(json_object_get(r, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(it, "highlight")),
                        "<em>Smartphone</em> <em>128 Go</em>");
    json_decref(r);
    r = query(s, "electromenager");
    assert_int_equal(first_id(r), 10);
    json_decref(r);
    r = query(s, "tshirt");
    assert_true(total(r) >= 2);
    it = json_array_get(json_object_get(r, "items"), 0);
    assert_non_null(
        strstr(json_string_value(json_object_get(it, "highlight")), "<em>T-shirt</em>"));
    json_decref(r);
    snapshot_release(s);
}

static void search_tolerates_typos_and_suggests(void **state)
{
    (void)state;
    snapshot *s = open_current();
    json_t *r = query(s, "smarphone"); /* one typo, 9 letters */
    assert_true(total(r) >= 2);
    json_decref(r);
    r = query(s, "casqe"); /* one typo, 5 letters */
    assert_int_equal(first_id(r), 4);
    json_decref(r);
    r = query(s, "cask"); /* 4 letters: no typo allowed */
    assert_int_equal(total(r), 0);
    assert_true(json_array_size(json_object_get(r, "suggestions")) >= 1);
    json_decref(r);
    snapshot_release(s);
}

static void search_filters_sorts_facets_and_pages(void **state)
{
    (void)state;
    snapshot *s = open_current();
    search_params p;
    search_params_init(&p);
    p.q = "smartphone";
    p.in_stock = 1;
    json_t *r = run(s, &p);
    json_t *items = json_object_get(r, "items");
    for (size_t i = 0; i < json_array_size(items); i++)
        assert_true(json_integer_value(json_object_get(json_array_get(items, i), "stock")) > 0);
    json_decref(r);

    search_params_init(&p);
    p.category = "audio";
    p.sort = SEARCH_SORT_PRICE;
    r = run(s, &p);
    assert_int_equal(total(r), 3);
    items = json_object_get(r, "items");
    for (size_t i = 1; i < json_array_size(items); i++)
        assert_true(
            json_integer_value(json_object_get(json_array_get(items, i - 1), "price_cents")) <=
            json_integer_value(json_object_get(json_array_get(items, i), "price_cents")));
    json_t *brands = json_object_get(json_object_get(r, "facets"), "brand");
    assert_string_equal(json_string_value(json_object_get(json_array_get(brands, 0), "name")),
                        "Audiora");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(brands, 0), "count")), 2);
    json_decref(r);

    search_params_init(&p);
    p.has_min_price = p.has_max_price = true;
    p.min_price = 2000;
    p.max_price = 8000;
    p.page_size = 2;
    p.page = 2;
    r = run(s, &p);
    assert_int_equal(total(r), 4); /* 2499, 4999, 4999, 7999 */
    assert_int_equal(json_array_size(json_object_get(r, "items")), 2);
    assert_int_equal(json_integer_value(json_object_get(r, "pages")), 2);
    json_decref(r);

    p.category = "nope";
    r = run(s, &p);
    assert_int_equal(total(r), 0);
    json_decref(r);
    search_params_init(&p);
    p.page = 11;
    p.page_size = 100;
    json_t *out = NULL;
    assert_int_equal(search_run(s, &p, &out, NULL), SM_EINVAL);
    snapshot_release(s);
}

static void search_escapes_highlights(void **state)
{
    (void)state;
    char data[256];
    fixture_tmpdir(data, sizeof data);
    static const fixture_product evil[] = {
        {"<script>alert(1)</script> smartphone & co", "X", "phones", "", 100, 1, 1},
    };
    fixture_publish(data, evil, 1);
    char dir[ARTEFACT_PATH_MAX], version[ARTEFACT_VERSION_MAX];
    snapshot *s = NULL;
    assert_int_equal(artefact_current(data, dir, version, NULL), 0);
    assert_int_equal(snapshot_load(dir, version, 1, &s, NULL), 0);
    json_t *r = query(s, "smartphone");
    const char *h = json_string_value(
        json_object_get(json_array_get(json_object_get(r, "items"), 0), "highlight"));
    assert_string_equal(h, "&lt;script&gt;alert(1)&lt;/script&gt; <em>smartphone</em> &amp; co");
    json_decref(r);
    snapshot_release(s);
    fixture_rmdir(data);
}

/* ---- the swap under load ---- */

typedef struct load {
    volatile int stop;
    long queries, errors;
    double worst_ms;
} load;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *querier(void *arg)
{
    load *l = arg;
    while (!l->stop) {
        double t0 = now_ms();
        snapshot *s = snapshot_acquire(g_data);
        json_t *out = NULL;
        search_params p;
        search_params_init(&p);
        p.q = "smartphone";
        if (!s || search_run(s, &p, &out, NULL) != 0 || total(out) < 2)
            __atomic_add_fetch(&l->errors, 1, __ATOMIC_RELAXED);
        json_decref(out);
        snapshot_release(s);
        double ms = now_ms() - t0;
        if (ms > l->worst_ms)
            l->worst_ms = ms; /* racy max: good enough for a bound */
        __atomic_add_fetch(&l->queries, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void search_switches_versions_under_concurrent_queries(void **state)
{
    (void)state;
    load l = {0};
    snapshot *s = snapshot_acquire(g_data); /* starts the watcher */
    assert_non_null(s);
    char first[ARTEFACT_VERSION_MAX];
    snprintf(first, sizeof first, "%s", s->version);
    snapshot_release(s);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, querier, &l), 0);
    for (int v = 0; v < 4; v++) {
        fixture_publish(g_data, fixture_catalogue, FIXTURE_N);
        assert_int_equal(snapshot_refresh(g_data, NULL), 0);
    }
    l.stop = 1;
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    s = snapshot_acquire(g_data);
    char dir[ARTEFACT_PATH_MAX], version[ARTEFACT_VERSION_MAX];
    assert_int_equal(artefact_current(g_data, dir, version, NULL), 0);
    assert_string_equal(s->version, version);
    assert_string_not_equal(s->version, first);
    snapshot_release(s);
    print_message("%ld queries during 4 switches, worst %.2f ms\n", l.queries, l.worst_ms);
    assert_int_equal(l.errors, 0);
    assert_true(l.queries > 100);
    assert_true(l.worst_ms < 250.0); /* no query waits for a load */
}

static void search_cold_start_has_no_snapshot(void **state)
{
    (void)state;
    char empty[256];
    fixture_tmpdir(empty, sizeof empty);
    char dir[ARTEFACT_PATH_MAX], version[ARTEFACT_VERSION_MAX];
    assert_int_equal(artefact_current(empty, dir, version, NULL), SM_ENOTFOUND);
    assert_int_equal(snapshot_refresh(empty, NULL), 0); /* nothing to load is not an error */
    fixture_rmdir(empty);
}

static int setup(void **state)
{
    (void)state;
    fixture_tmpdir(g_data, sizeof g_data);
    fixture_publish(g_data, fixture_catalogue, FIXTURE_N);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fixture_rmdir(g_data);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(search_finds_words_across_languages_and_forms),
        cmocka_unit_test(search_tolerates_typos_and_suggests),
        cmocka_unit_test(search_filters_sorts_facets_and_pages),
        cmocka_unit_test(search_escapes_highlights),
        cmocka_unit_test(search_switches_versions_under_concurrent_queries),
        cmocka_unit_test(search_cold_start_has_no_snapshot),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
