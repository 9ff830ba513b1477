/* ml_fixture.h — builds search versions from an in-memory catalogue, so
 * the search tests need no database: the same builders as ml/build.c, the
 * same artefact commit, the same snapshot loading. */
#ifndef TEST_ML_FIXTURE_H
#define TEST_ML_FIXTURE_H

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
#include "ml/docs.h"
#include "ml/lexical.h"
#include "ml/snapshot.h"
#include "ml/text.h"
#include "ml/vectors.h"

typedef struct fixture_product {
    const char *name, *brand, *category, *description;
    int64_t price_cents, stock, category_id;
} fixture_product;

/* Writes lexical.bin, docs.bin and vectors.bin for `n` products into
 * `dir`. Categories: id 1 "phones", 2 "audio", 3 "clothes". */
static inline void fixture_write(const char *dir, const fixture_product *p, size_t n)
{
    text_analyzer *a = NULL;
    assert_int_equal(text_analyzer_new(&a, NULL), 0);
    lexical_builder *lb = lexical_builder_new();
    docs_builder *dbld = docs_builder_new();
    assert_non_null(lb);
    assert_non_null(dbld);
    static const char *const slugs[] = {"", "phones", "audio", "clothes"};
    for (int c = 1; c <= 3; c++)
        assert_int_equal(docs_builder_add_category(dbld, c, 0, slugs[c], slugs[c]), 0);
    for (size_t i = 0; i < n; i++) {
        const char *fields[LEXICAL_FIELDS] = {p[i].name, p[i].brand, p[i].category,
                                              p[i].description};
        ml_doc d = {.id = (int64_t)i + 1,
                    .price_cents = p[i].price_cents,
                    .stock = p[i].stock,
                    .category_id = p[i].category_id,
                    .created_at = 1000 * (int64_t)i};
        assert_int_equal(lexical_builder_add(lb, a, fields), 0);
        assert_int_equal(docs_builder_add(dbld, &d, p[i].name, p[i].brand, "EUR", p[i].category),
                         0);
    }
    char path[ARTEFACT_PATH_MAX];
    assert_int_equal(artefact_path(dir, "lexical.bin", path, NULL), 0);
    assert_int_equal(lexical_builder_write(lb, path, NULL), 0);
    assert_int_equal(artefact_path(dir, "docs.bin", path, NULL), 0);
    assert_int_equal(docs_builder_write(dbld, path, NULL), 0);
    artefact_map m;
    lexical_index ix;
    assert_int_equal(artefact_map_file(dir, "lexical.bin", &m, NULL), 0);
    assert_int_equal(lexical_index_open(m.data, m.len, &ix, NULL), 0);
    assert_int_equal(artefact_path(dir, "vectors.bin", path, NULL), 0);
    sm_error err = {0};
    int rc = vectors_build_lsi(&ix, 8, path, &err);
    if (rc)
        fail_msg("vectors: %s", err.message);
    artefact_unmap(&m);
    lexical_builder_free(lb);
    docs_builder_free(dbld);
    text_analyzer_free(a);
}

/* A whole version: begin, write, commit. */
static inline void fixture_publish(const char *data_dir, const fixture_product *p, size_t n)
{
    artefact_build b;
    sm_error err = {0};
    assert_int_equal(artefact_build_begin(data_dir, &b, &err), 0);
    fixture_write(b.dir, p, n);
    if (artefact_build_commit(&b, NULL, NULL, &err) != 0)
        fail_msg("commit: %s", err.message);
}

static const fixture_product fixture_catalogue[] = {
    {"Smartphone 128 Go", "Nexa", "phones", "Un smartphone rapide, double SIM.", 39900, 5, 1},
    {"Smartphone 256 Go", "Voltix", "phones", "Grand écran, batterie longue durée.", 59900, 0, 1},
    {"Coque silicone pour smartphone", "Nexa", "phones", "Protection souple.", 1999, 10, 1},
    {"Casque audio Bluetooth", "Audiora", "audio", "Casque sans fil, réduction de bruit.", 7999, 3,
     2},
    {"Noise-cancelling headphones", "Audiora", "audio", "Wireless bluetooth headphones.", 12999, 2,
     2},
    {"Écouteurs de sport", "Sonora", "audio", "Écouteurs sans fil bluetooth.", 4999, 8, 2},
    {"T-shirt en coton bio", "Brume", "clothes", "T-shirt doux, coton biologique.", 1999, 20, 3},
    {"Crew-neck T-shirt", "Urbano", "clothes", "Organic cotton tee.", 2499, 0, 3},
    {"Pantalon chino", "Urbano", "clothes", "Coton stretch.", 4999, 4, 3},
    {"Électroménager: robot pâtissier", "Kaffa", "phones", "Électroménager de cuisine.", 19900, 1,
     1},
};
#define FIXTURE_N (sizeof fixture_catalogue / sizeof *fixture_catalogue)

/* A fresh temporary data directory. */
static inline void fixture_tmpdir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/sm-ml-test-XXXXXX");
    assert_non_null(mkdtemp(out));
}

static inline void fixture_rmdir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

#endif
