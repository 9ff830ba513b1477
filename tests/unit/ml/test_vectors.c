/* test_vectors.c — exact top-k, LSI vectors that bring co-occurring words
 * together, the writer of computed (embeddings) vectors and the file
 * formats: the current one, the first one (LSI only) and damaged headers. */
#include "ml_fixture.h"

#include <math.h>

#include "ml/vindex.h"

static float row_norm(const float *x, uint32_t n)
{
    double s = 0;
    for (uint32_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return (float)sqrt(s);
}

static void vindex_top_k_matches_a_full_sort(void **state)
{
    (void)state;
    enum { N = 5000, DIM = 16, K = 25 };
    float *m = malloc(sizeof(float) * N * DIM), q[DIM], scratch[N];
    uint32_t s = 12345;
    for (int i = 0; i < N * DIM; i++) {
        s = s * 1103515245u + 12345u;
        m[i] = (float)((s >> 8) % 2001) / 1000.0f - 1.0f;
    }
    for (int k = 0; k < DIM; k++)
        q[k] = (float)(k % 3) - 1.0f;
    vindex_hit hits[K];
    size_t n = vindex_search_exact(m, N, DIM, q, K, -INFINITY, scratch, hits);
    assert_int_equal(n, K);
    /* brute force: count rows strictly better than the k-th */
    for (size_t i = 1; i < n; i++)
        assert_true(hits[i - 1].score >= hits[i].score);
    int better = 0;
    for (int r = 0; r < N; r++) {
        float dot = 0;
        for (int k = 0; k < DIM; k++)
            dot += m[r * DIM + k] * q[k];
        assert_true(fabsf(dot - scratch[r]) < 1e-4f);
        better += dot > hits[K - 1].score + 1e-6f;
    }
    assert_true(better <= K - 1);
    assert_int_equal(vindex_search_exact(m, N, DIM, q, K, 1e9f, scratch, hits), 0);
    free(m);
}

static void lsi_vectors_relate_cooccurring_words(void **state)
{
    (void)state;
    char dir[256];
    fixture_tmpdir(dir, sizeof dir);
    fixture_write(dir, fixture_catalogue, FIXTURE_N);
    artefact_map lm, vm;
    lexical_index ix;
    vectors_index v;
    assert_int_equal(artefact_map_file(dir, "lexical.bin", &lm, NULL), 0);
    assert_int_equal(lexical_index_open(lm.data, lm.len, &ix, NULL), 0);
    assert_int_equal(artefact_map_file(dir, "vectors.bin", &vm, NULL), 0);
    assert_int_equal(vectors_index_open(vm.data, vm.len, &ix, &v, NULL), 0);
    assert_int_equal(v.ndocs, FIXTURE_N);
    assert_true(v.dim >= 2 && v.dim <= 8);
    for (uint32_t d = 0; d < v.ndocs; d++) /* unit rows */
        assert_true(fabsf(row_norm(v.docs + (size_t)d * v.dim, v.dim) - 1.0f) < 1e-3f);
    /* "headphones" occurs only in product 5 (row 4), with "bluetooth", which
     * also occurs in rows 3 and 5: the query folds next to audio products */
    int64_t t = lexical_term_find(&ix, "headphon");
    assert_true(t >= 0);
    uint32_t term = (uint32_t)t;
    float w = 1.0f, q[VECTORS_DIM_MAX], scratch[FIXTURE_N];
    assert_true(vectors_query(&v, &ix, &term, &w, 1, q));
    vindex_hit hits[3];
    size_t n = vindex_search_exact(v.docs, v.ndocs, v.dim, q, 3, -INFINITY, scratch, hits);
    assert_int_equal(n, 3);
    assert_int_equal(hits[0].row, 4);
    /* the runner-up shares "bluetooth" with it: another audio product */
    assert_true(hits[1].row == 3 || hits[1].row == 5);
    /* a truncated vectors file is refused */
    assert_int_equal(vectors_index_open(vm.data, vm.len - 4, &ix, &v, NULL), SM_EINVAL);
    artefact_unmap(&lm);
    artefact_unmap(&vm);
    fixture_rmdir(dir);
}

static void computed_vectors_round_trip_with_their_model(void **state)
{
    (void)state;
    char dir[256], path[ARTEFACT_PATH_MAX];
    fixture_tmpdir(dir, sizeof dir);
    fixture_write(dir, fixture_catalogue, FIXTURE_N);
    assert_int_equal(artefact_path(dir, "vectors.bin", path, NULL), 0);
    enum { DIM = 300 }; /* over the LSI bound: an embeddings model's size */
    vectors_writer *w = NULL;
    assert_int_equal(vectors_writer_open(path, FIXTURE_N, DIM, "model-x", &w, NULL), 0);
    float row[DIM];
    for (uint32_t r = FIXTURE_N; r-- > 1;) { /* any order; row 0 left out for now */
        memset(row, 0, sizeof row);
        row[r] = 1.0f;
        assert_int_equal(vectors_writer_put(w, r, row, NULL), 0);
    }
    assert_int_equal(vectors_writer_put(w, FIXTURE_N, row, NULL), SM_EINTERNAL);
    assert_int_equal(vectors_writer_finish(w, NULL), SM_EINTERNAL); /* a row missing */
    memset(row, 0, sizeof row);
    row[0] = 1.0f;
    assert_int_equal(vectors_writer_put(w, 0, row, NULL), 0);
    assert_int_equal(vectors_writer_finish(w, NULL), 0);
    vectors_writer_free(w);
    assert_int_equal(vectors_writer_open(path, 1, VECTORS_DIM_MAX + 1, "m", &w, NULL), SM_EINVAL);

    artefact_map lm, vm;
    lexical_index ix;
    vectors_index v;
    assert_int_equal(artefact_map_file(dir, "lexical.bin", &lm, NULL), 0);
    assert_int_equal(lexical_index_open(lm.data, lm.len, &ix, NULL), 0);
    assert_int_equal(artefact_map_file(dir, "vectors.bin", &vm, NULL), 0);
    assert_int_equal(vectors_index_open(vm.data, vm.len, &ix, &v, NULL), 0);
    assert_int_equal(v.source, VECTORS_SOURCE_EMBEDDINGS);
    assert_string_equal(v.model, "model-x");
    assert_int_equal(v.dim, DIM);
    assert_int_equal(v.nterms, 0);
    for (uint32_t r = 0; r < FIXTURE_N; r++)
        assert_true(v.docs[(size_t)r * DIM + r] == 1.0f);
    float q[VECTORS_DIM_MAX], wt = 1.0f;
    uint32_t term = 0;
    assert_int_equal(vectors_query(&v, &ix, &term, &wt, 1, q), 0); /* no term projection */
    /* a damaged header: unknown source, model without its NUL */
    uint8_t *copy = malloc(vm.len);
    memcpy(copy, vm.data, vm.len);
    copy[20] = 7; /* source */
    assert_int_equal(vectors_index_open(copy, vm.len, &ix, &v, NULL), SM_EINVAL);
    memcpy(copy, vm.data, vm.len);
    memset(copy + 24, 'x', VECTORS_MODEL_MAX);
    assert_int_equal(vectors_index_open(copy, vm.len, &ix, &v, NULL), SM_EINVAL);
    free(copy);
    artefact_unmap(&vm);
    artefact_unmap(&lm);
    fixture_rmdir(dir);
}

/* A file of the first format (24-byte header, LSI) still opens. */
static void first_format_files_still_open(void **state)
{
    (void)state;
    char dir[256];
    fixture_tmpdir(dir, sizeof dir);
    fixture_write(dir, fixture_catalogue, FIXTURE_N);
    artefact_map lm, vm;
    lexical_index ix;
    vectors_index v, old;
    assert_int_equal(artefact_map_file(dir, "lexical.bin", &lm, NULL), 0);
    assert_int_equal(lexical_index_open(lm.data, lm.len, &ix, NULL), 0);
    assert_int_equal(artefact_map_file(dir, "vectors.bin", &vm, NULL), 0);
    assert_int_equal(vectors_index_open(vm.data, vm.len, &ix, &v, NULL), 0);
    size_t body = vm.len - vectors_data_offset();
    uint8_t *v1 = malloc(24 + body);
    memcpy(v1, "SMVEC01", 8);
    memcpy(v1 + 8, (const uint8_t *)vm.data + 8, 12); /* ndocs, nterms, dim */
    memset(v1 + 20, 0, 4);
    memcpy(v1 + 24, (const uint8_t *)vm.data + vectors_data_offset(), body);
    assert_int_equal(vectors_index_open(v1, 24 + body, &ix, &old, NULL), 0);
    assert_int_equal(old.source, VECTORS_SOURCE_LSI);
    assert_string_equal(old.model, "");
    assert_int_equal(old.dim, v.dim);
    assert_memory_equal(old.docs, v.docs, sizeof(float) * v.ndocs * v.dim);
    assert_memory_equal(old.terms, v.terms, sizeof(float) * v.nterms * v.dim);
    free(v1);
    artefact_unmap(&vm);
    artefact_unmap(&lm);
    fixture_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vindex_top_k_matches_a_full_sort),
        cmocka_unit_test(lsi_vectors_relate_cooccurring_words),
        cmocka_unit_test(computed_vectors_round_trip_with_their_model),
        cmocka_unit_test(first_format_files_still_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
