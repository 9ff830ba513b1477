/* test_vectors.c — exact top-k, and LSI vectors that bring co-occurring
 * words together. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vindex_top_k_matches_a_full_sort),
        cmocka_unit_test(lsi_vectors_relate_cooccurring_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
