/* test_recommend.c — the recommendation artefact and its blends: file
 * round trip and corruption, similar / also-bought, exclusion of bought and
 * inactive products, cold start (new customer → popular, product without
 * co-purchases → category, then popular), content similarity from a real
 * search version's vectors (near-duplicates without orders), serving the
 * active version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ml/artefact.h"
#include "ml/rec_build.h"
#include "ml/rec_model.h"
#include "ml/docs.h"
#include "ml/lexical.h"
#include "ml/rec_content.h"
#include "ml/recommend.h"
#include "ml/snapshot.h"
#include "ml/text.h"
#include "ml/vectors.h"

#define DAY 86400000LL

/* Products 1..8 (category 10: 1-4, category 20: 5-8; 8 inactive). Baskets:
 * {1,2} ×3, {1,3}, {5,6} ×2, {2,8}, {4}; product 7 never sold. Customer
 * 100 bought {1,2} twice; 101 bought {5,6}; others one order each. */
static char g_path[128];

static rec_model *build(void)
{
    rec_product p[8];
    for (int i = 0; i < 8; i++)
        p[i] = (rec_product){i + 1, i < 4 ? 10 : 20, i != 7};
    rec_line l[] = {
        {1, 100, 1 * DAY, 1}, {1, 100, 1 * DAY, 2}, {2, 100, 2 * DAY, 1}, {2, 100, 2 * DAY, 2},
        {3, 102, 3 * DAY, 1}, {3, 102, 3 * DAY, 2}, {4, 103, 4 * DAY, 1}, {4, 103, 4 * DAY, 3},
        {5, 101, 5 * DAY, 5}, {5, 101, 5 * DAY, 6}, {6, 104, 6 * DAY, 5}, {6, 104, 6 * DAY, 6},
        {7, 105, 7 * DAY, 2}, {7, 105, 7 * DAY, 8}, {8, 106, 8 * DAY, 4},
    };
    rec_data *rd = NULL;
    sm_error err = {0};
    assert_int_equal(rec_data_build(p, 8, l, sizeof l / sizeof l[0], &rd, &err), 0);
    rec_build_params bp;
    rec_build_params_init(&bp);
    bp.copurchase.k = 4;
    bp.als.factors = 2;
    bp.als.iterations = 3;
    bp.k_als = 3;
    bp.n_popular = 8;
    bp.k_cat = 4;
    snprintf(g_path, sizeof g_path, "/tmp/sm-rec-test-%ld.bin", (long)getpid());
    if (rec_build_models(rd, &bp, g_path, NULL, &err) != 0)
        fail_msg("build: %s", err.message);
    rec_data_free(rd);
    rec_model *m = NULL;
    if (rec_model_open(g_path, &m, &err) != 0)
        fail_msg("open: %s", err.message);
    return m;
}

static bool has(const rec_item *out, int n, int64_t id)
{
    for (int i = 0; i < n; i++)
        if (out[i].product_id == id)
            return true;
    return false;
}

static void model_file_round_trips_and_rejects_corruption(void **state)
{
    (void)state;
    rec_model *m = build();
    assert_int_equal(m->h.n_items, 8);
    assert_int_equal(m->h.n_users, 7);
    assert_int_equal(rec_model_item(m, 5), 4);
    assert_int_equal(rec_model_item(m, 9), -1);
    rec_model_close(m);
    /* Flip one payload byte: the CRC check refuses the file. */
    FILE *f = fopen(g_path, "r+b");
    assert_non_null(f);
    fseek(f, REC_HEADER_SIZE + 3, SEEK_SET);
    int c = fgetc(f);
    fseek(f, REC_HEADER_SIZE + 3, SEEK_SET);
    fputc(c ^ 0xff, f);
    fclose(f);
    sm_error err = {0};
    assert_int_equal(rec_model_open(g_path, &m, &err), SM_EINVAL);
    /* A truncated file too. */
    assert_int_equal(truncate(g_path, 100), 0);
    assert_int_equal(rec_model_open(g_path, &m, &err), SM_EINVAL);
    unlink(g_path);
}

static void also_bought_is_copurchase_without_inactive(void **state)
{
    (void)state;
    rec_model *m = build();
    rec_item out[10];
    unsigned src = 0;
    int n = rec_also_bought(m, 1, 10, out, &src);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].product_id, 2);
    assert_int_equal(out[1].product_id, 3);
    assert_int_equal(src, REC_FROM_COPURCHASE);
    /* 2 was bought with 8, which is inactive: never returned. */
    n = rec_also_bought(m, 2, 10, out, NULL);
    assert_false(has(out, n, 8));
    /* 7 never sold: nothing bought with it. */
    assert_int_equal(rec_also_bought(m, 7, 10, out, &src), 0);
    assert_int_equal(src, 0);
    assert_int_equal(rec_also_bought(m, 1, 0, out, NULL), SM_EINVAL);
    rec_model_close(m);
    unlink(g_path);
}

/* A content source that says 4 is like 1. */
static int content_fn(int64_t id, int cap, int64_t *ids, float *scores, void *ctx)
{
    (void)ctx;
    if (id != 1 || cap < 1)
        return 0;
    ids[0] = 4;
    scores[0] = 0.9f;
    return 1;
}

static void similar_blends_and_falls_back(void **state)
{
    (void)state;
    rec_model *m = build();
    rec_item out[10];
    unsigned src = 0;
    int n = rec_similar(m, NULL, NULL, 1, 3, out, &src);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].product_id, 2);
    assert_false(has(out, n, 1));
    assert_true(src & REC_FROM_COPURCHASE);
    /* With content, 4 joins the blended candidates. */
    rec_content content = {content_fn, NULL};
    n = rec_similar(m, NULL, &content, 1, 2, out, &src);
    assert_true(src & REC_FROM_CONTENT);
    assert_true(has(out, n, 4));
    /* 7 has no co-purchase: category 20's best sellers (not 8: inactive). */
    n = rec_similar(m, NULL, NULL, 7, 2, out, &src);
    assert_int_equal(n, 2);
    assert_true(has(out, n, 5) && has(out, n, 6));
    assert_int_equal(src, REC_FROM_CATEGORY);
    /* Unknown product: popularity. */
    n = rec_similar(m, NULL, NULL, 999, 2, out, &src);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].product_id, 2); /* 2 sold in 4 orders */
    assert_int_equal(src, REC_FROM_POPULAR);
    rec_model_close(m);
    unlink(g_path);
}

/* A search version of products 1..8 (names below) in `dir`, as the build
 * writes it: lexical index, documents, LSI vectors. 7 (never sold), 4 and
 * 8 (inactive in the model) are near-duplicates. */
static void write_search_version(const char *dir)
{
    static const char *const names[8][2] = {
        {"Smartphone Nexa 128 Go", "Un smartphone rapide, double SIM"},
        {"Coque silicone", "Protection souple pour smartphone"},
        {"Chargeur rapide USB-C", "Charge en 30 minutes"},
        {"Bouilloire électrique inox 1,7 litre", "Bouilloire sans fil, arrêt automatique"},
        {"Tapis de yoga", "Antidérapant, 6 mm"},
        {"Gourde isotherme", "Garde au frais 24 heures"},
        {"Bouilloire électrique inox 1,7 L", "Bouilloire sans fil, arrêt automatique"},
        {"Bouilloire électrique inox 1,7 L noire", "Bouilloire sans fil, arrêt automatique"},
    };
    text_analyzer *a = NULL;
    lexical_builder *lb = lexical_builder_new();
    docs_builder *dbld = docs_builder_new();
    char path[ARTEFACT_PATH_MAX];
    sm_error err = {0};
    assert_int_equal(text_analyzer_new(&a, &err), 0);
    for (int i = 0; i < 8; i++) {
        const char *fields[LEXICAL_FIELDS] = {names[i][0], "", "", names[i][1]};
        ml_doc d = {.id = i + 1, .price_cents = 100, .stock = 1, .category_id = i < 4 ? 10 : 20};
        assert_int_equal(lexical_builder_add(lb, a, fields), 0);
        assert_int_equal(docs_builder_add(dbld, &d, names[i][0], "", "EUR", ""), 0);
    }
    assert_int_equal(artefact_path(dir, "lexical.bin", path, &err), 0);
    assert_int_equal(lexical_builder_write(lb, path, &err), 0);
    assert_int_equal(artefact_path(dir, "docs.bin", path, &err), 0);
    assert_int_equal(docs_builder_write(dbld, path, &err), 0);
    artefact_map lm;
    lexical_index ix;
    assert_int_equal(artefact_map_file(dir, "lexical.bin", &lm, &err), 0);
    assert_int_equal(lexical_index_open(lm.data, lm.len, &ix, &err), 0);
    assert_int_equal(artefact_path(dir, "vectors.bin", path, &err), 0);
    assert_int_equal(vectors_build_lsi(&ix, 8, path, &err), 0);
    artefact_unmap(&lm);
    lexical_builder_free(lb);
    docs_builder_free(dbld);
    text_analyzer_free(a);
}

static int snapshot_content(int64_t id, int cap, int64_t *ids, float *scores, void *ctx)
{
    return rec_content_neighbours(ctx, id, cap, ids, scores);
}

static void similar_finds_near_duplicates_without_orders(void **state)
{
    (void)state;
    char dir[] = "/tmp/sm-rec-content-XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_search_version(dir);
    snapshot *s = NULL;
    sm_error err = {0};
    if (snapshot_load(dir, "test", 0, &s, &err) != 0)
        fail_msg("snapshot: %s", err.message);
    int64_t ids[10];
    float sc[10];
    /* the neighbours of 7 are its two look-alikes, never itself */
    int n = rec_content_neighbours(s, 7, 10, ids, sc);
    assert_true(n >= 2);
    assert_true((ids[0] == 4 && ids[1] == 8) || (ids[0] == 8 && ids[1] == 4));
    for (int i = 0; i < n; i++) {
        assert_true(ids[i] != 7);
        assert_true(sc[i] > REC_CONTENT_MIN && sc[i] <= 1.0f);
    }
    assert_true(sc[0] > 0.8f);
    assert_int_equal(rec_content_neighbours(s, 999, 10, ids, sc), 0); /* no vector */
    assert_int_equal(rec_content_neighbours(NULL, 7, 10, ids, sc), 0);

    rec_model *m = build();
    rec_item out[10];
    unsigned src = 0;
    rec_content content = {snapshot_content, s};
    /* 7 was never sold: its look-alike first, the inactive 8 left out */
    n = rec_similar(m, NULL, &content, 7, 3, out, &src);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].product_id, 4);
    assert_false(has(out, n, 7));
    assert_false(has(out, n, 8));
    assert_true(src & REC_FROM_CONTENT);
    /* 1 has co-purchases: they stay first, content adds nothing it lacks */
    n = rec_similar(m, NULL, &content, 1, 2, out, &src);
    assert_int_equal(out[0].product_id, 2);
    assert_true(src & REC_FROM_COPURCHASE);
    rec_model_close(m);
    unlink(g_path);
    snapshot_release(s);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void user_recommendations_exclude_bought(void **state)
{
    (void)state;
    rec_model *m = build();
    rec_item out[10];
    unsigned src = 0;
    int64_t hist[] = {2, 1, 2, 1};
    int n = rec_for_user(m, NULL, 100, hist, 4, 5, out, &src);
    assert_true(n > 0);
    assert_false(has(out, n, 1));
    assert_false(has(out, n, 2));
    assert_false(has(out, n, 8));
    assert_true(has(out, n, 3)); /* bought with 1 */
    assert_true(src & REC_FROM_COPURCHASE);
    /* A fresh order not yet in the model still steers the answer. */
    int64_t fresh[] = {5};
    n = rec_for_user(m, NULL, 100, fresh, 1, 1, out, NULL);
    assert_int_equal(out[0].product_id, 6);
    rec_model_close(m);
    unlink(g_path);
}

static void new_customer_gets_popular(void **state)
{
    (void)state;
    rec_model *m = build();
    rec_item out[10], pop[10];
    unsigned src = 0;
    int n = rec_for_user(m, NULL, 4242, NULL, 0, 3, out, &src);
    assert_int_equal(n, 3);
    assert_int_equal(src, REC_FROM_POPULAR);
    assert_int_equal(rec_popular(m, NULL, 0, 3, pop, NULL), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(out[i].product_id, pop[i].product_id);
    int64_t ex[] = {2};
    n = rec_popular(m, ex, 1, 7, pop, NULL);
    assert_false(has(pop, n, 2));
    assert_false(has(pop, n, 7)); /* never sold: not ranked */
    rec_model_close(m);
    unlink(g_path);
}

static void serving_follows_the_active_version(void **state)
{
    (void)state;
    char root[] = "/tmp/sm-rec-serve-XXXXXX";
    assert_non_null(mkdtemp(root));
    const rec_model *m = NULL;
    sm_error err = {0};
    assert_int_equal(rec_serving_acquire(root, &m, NULL, &err), SM_ENOTFOUND);

    artefact_build b;
    char path[ARTEFACT_PATH_MAX], version[ARTEFACT_VERSION_MAX];
    assert_int_equal(artefact_build_begin(root, &b, &err), 0);
    rec_model_close(build());
    assert_int_equal(artefact_path(b.dir, REC_MODEL_FILE, path, &err), 0);
    assert_int_equal(rename(g_path, path), 0);
    json_t *counts = json_object(), *params = json_object();
    if (artefact_build_commit(&b, counts, params, &err) != 0)
        fail_msg("commit: %s", err.message);
    json_decref(counts);
    json_decref(params);
    /* A new data_dir is checked at once, without waiting for the interval. */
    char other[] = "/tmp/sm-rec-none-XXXXXX";
    assert_non_null(mkdtemp(other));
    assert_int_equal(rec_serving_acquire(other, &m, NULL, &err), SM_ENOTFOUND);
    assert_int_equal(rec_serving_acquire(root, &m, version, &err), 0);
    assert_non_null(m);
    assert_string_equal(version, b.version);
    assert_int_equal(m->h.n_items, 8);
    rec_serving_release(m);
    rmdir(other);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_file_round_trips_and_rejects_corruption),
        cmocka_unit_test(also_bought_is_copurchase_without_inactive),
        cmocka_unit_test(similar_blends_and_falls_back),
        cmocka_unit_test(similar_finds_near_duplicates_without_orders),
        cmocka_unit_test(user_recommendations_exclude_bought),
        cmocka_unit_test(new_customer_gets_popular),
        cmocka_unit_test(serving_follows_the_active_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
