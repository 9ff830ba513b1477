/* vindex.h — nearest neighbours over unit vectors: exact and approximate.
 *
 * Exact: scores are dot products (cosine similarity for unit vectors) of
 * the query against every row, then the best k kept with a bounded
 * min-heap: O(n·dim) for the products, O(n log k) for the heap. At dim 64
 * this is ~25 MB of reads per query at 100k documents, about a millisecond
 * on one core, ten at 1M.
 *
 * Approximate: an IVF-Flat index of FAISS (ml/ann.h), built when the
 * catalogue has at least ML_ANN_MIN_DOCS documents and stored as ann.bin
 * in the version folder; vindex_search() uses it when the snapshot has one
 * and the exact scan otherwise. vindex_ann_write() builds it, checks that
 * it reads back, and measures its recall@10 against the exact scan for the
 * manifest (docs/ML.md "Approximate index"). */
#ifndef SM_ML_VINDEX_H
#define SM_ML_VINDEX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define VINDEX_K_MAX 1000
#define VINDEX_RECALL_QUERIES 200 /* sample of document vectors, for recall@10 */
#define VINDEX_ANN_MIN_DOCS_DEFAULT 20000

typedef struct vindex_hit {
    uint32_t row;
    float score;
} vindex_hit;

typedef struct ann_index ann_index;

/* A row filter: true keeps the row. */
typedef bool (*vindex_filter_fn)(uint32_t row, void *ctx);

/* The vectors a search runs over: the rows, and the approximate index over
 * them when there is one (NULL = exact). Borrowed views. */
typedef struct vindex {
    const float *m; /* n × dim, row-major, unit rows */
    uint32_t n, dim;
    const ann_index *ann;
    uint32_t nprobe; /* cells probed by the approximate index */
} vindex;

/* The k (≤ VINDEX_K_MAX) best rows of `m` (n × dim, row-major) for the unit
 * query `q`, best first, into `out`. `scratch` holds n floats. Rows with a
 * score ≤ min_score are left out. Returns the number written. Thread-safe
 * (reads only). */
size_t vindex_search_exact(const float *m, uint32_t n, uint32_t dim, const float *q, size_t k,
                           float min_score, float *scratch, vindex_hit *out);

/* As vindex_search_exact(), scoring only the rows `keep` accepts (all
 * when NULL); the others are left out. */
size_t vindex_search_exact_filtered(const float *m, uint32_t n, uint32_t dim, const float *q,
                                    size_t k, float min_score, vindex_filter_fn keep, void *ctx,
                                    float *scratch, vindex_hit *out);

/* The k best rows of `v` above min_score for `q`, best first: through the
 * approximate index when v->ann is set, else exactly. With a filter, the
 * approximate index scores only accepted rows of the probed cells; when
 * those hold fewer than k accepted rows (a selective filter) the search
 * falls back to the exact filtered scan, so a filter never starves the
 * result. `scratch` holds v->n floats. Returns the count. Thread-safe. */
size_t vindex_search(const vindex *v, const float *q, size_t k, float min_score,
                     vindex_filter_fn keep, void *ctx, float *scratch, vindex_hit *out);

/* Builds the approximate index over `m` (n × dim unit rows), writes it to
 * dir/ann.bin, reads it back as a server would, and measures recall@10
 * against the exact scan with `nprobe` on VINDEX_RECALL_QUERIES document
 * vectors taken as queries (a fixed pseudo-random sample; a hit counts
 * when its score reaches the exact tenth score, so ties between identical
 * documents are not misses). *info (owned by the caller) gets
 * {"kind", "file", "nlist", "nprobe", "recall@10", "recall_queries",
 *  "build_ms", "ann_query_us", "exact_query_us"} for the manifest. Returns
 * 0 or an SM_E* code (nothing useful left in dir on failure). */
int vindex_ann_write(const float *m, uint32_t n, uint32_t dim, const char *dir, uint32_t nprobe,
                     json_t **info, sm_error *err);

/* Keeps the top k of `n` scores (best first) into `out`; the heap used by
 * vindex_search_exact, shared with the lexical side. Returns the count. */
size_t vindex_top_k(const float *scores, uint32_t n, size_t k, float min_score, vindex_hit *out);

/* The same over a list of `n` (row, score) pairs. */
size_t vindex_top_hits(const vindex_hit *in, size_t n, size_t k, vindex_hit *out);

#endif
