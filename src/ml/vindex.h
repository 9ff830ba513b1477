/* vindex.h — nearest neighbours over unit vectors: exact search.
 *
 * Scores are dot products (cosine similarity for unit vectors) of the query
 * against every row, computed by one BLAS sgemv, then the best k kept with
 * a bounded min-heap: O(n·dim) for the product, O(n log k) for the heap.
 * At dim 64 this is ~25 MB of reads per query at 100k documents, a couple
 * of milliseconds on one core, which is within the search budget up to
 * VINDEX_EXACT_MAX rows. An approximate index for larger catalogues is not
 * part of this version (see docs/ML.md): above the threshold, search still
 * runs exactly, only slower. */
#ifndef SM_ML_VINDEX_H
#define SM_ML_VINDEX_H

#include <stddef.h>
#include <stdint.h>

#define VINDEX_EXACT_MAX 500000
#define VINDEX_K_MAX 1000

typedef struct vindex_hit {
    uint32_t row;
    float score;
} vindex_hit;

/* The k (≤ VINDEX_K_MAX) best rows of `m` (n × dim, row-major) for the unit
 * query `q`, best first, into `out`. `scratch` holds n floats. Rows with a
 * score ≤ min_score are left out. Returns the number written. Thread-safe
 * (reads only). */
size_t vindex_search_exact(const float *m, uint32_t n, uint32_t dim, const float *q, size_t k,
                           float min_score, float *scratch, vindex_hit *out);

/* Keeps the top k of `n` scores (best first) into `out`; the heap used by
 * vindex_search_exact, shared with the lexical side. Returns the count. */
size_t vindex_top_k(const float *scores, uint32_t n, size_t k, float min_score, vindex_hit *out);

/* The same over a list of `n` (row, score) pairs. */
size_t vindex_top_hits(const vindex_hit *in, size_t n, size_t k, vindex_hit *out);

#endif
