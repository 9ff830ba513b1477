/* ann.h — approximate nearest neighbours over unit vectors (FAISS IVF-Flat).
 *
 * A C header over a thin C++ shim (ann.cc): Debian's libfaiss-dev ships
 * only the C++ API in its static library, so ann.cc is the one C++ file of
 * the project. Every entry point catches every exception and returns an
 * SM_E* code; nothing C++ crosses this header.
 *
 * The index is an inverted file of `nlist` k-means cells over the rows
 * (metric: inner product, so cosine for unit vectors), each cell holding
 * its rows uncompressed. A query ranks the cells by their centroid and
 * scores exactly every row of the best `nprobe` cells: recall depends on
 * nprobe only, and a result's score is its true dot product. Rows keep
 * their number (0..n-1) as id. Choice and measurements: docs/ML.md
 * "Approximate index".
 *
 * Thread-safety: building and saving are single-caller; a loaded index is
 * read-only and ann_search() may run from any number of threads at once.
 * A search never starts OpenMP threads (one query is one task of the
 * caller's pool); a build uses every core. */
#ifndef SM_ML_ANN_H
#define SM_ML_ANN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "ml/vindex.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ANN_FILE "ann.bin"
#define ANN_NLIST_MAX 65536
#define ANN_NPROBE_DEFAULT 16
#define ANN_ROWS_MAX 100000000u
#define ANN_FILE_MAX ((uint64_t)64 << 30) /* a larger ann.bin is refused */

typedef struct ann_index ann_index;

/* Keeps row `row` in a filtered search when it returns true. Called from
 * the searching thread, possibly for rows never returned. */
typedef bool (*ann_filter_fn)(uint32_t row, void *ctx);

/* The cell count used for `n` rows: about 2·√n, at most n/39 (k-means
 * needs rows per cell), clamped to [1, ANN_NLIST_MAX]. */
uint32_t ann_nlist_for(uint32_t n);

/* Builds an index over `m` (n × dim floats, row-major, unit rows; borrowed
 * for the call only) with `nlist` cells (0 = ann_nlist_for(n)). Training
 * uses a deterministic sample of the rows. Returns 0 and *out, or
 * SM_EINVAL (n or dim 0, nlist > n), SM_ENOMEM, SM_EINTERNAL (FAISS
 * failure, message in err). */
int ann_build(const float *m, uint32_t n, uint32_t dim, uint32_t nlist, ann_index **out,
              sm_error *err);

/* Writes the index to `path` (created or truncated) and fsyncs it: a
 * header (magic, payload length, CRC-32 of the payload) and the index in
 * FAISS's format. Returns 0, SM_ENOMEM or SM_EIO. */
int ann_save(const ann_index *a, const char *path, sm_error *err);

/* Reads an index written by ann_save() — header, length and CRC-32 checked
 * before FAISS parses anything — and checks it against the rows it must
 * cover: `n` rows of `dim` floats, IVF-Flat, inner product, every row id
 * in [0, n). Returns 0 and *out, SM_EIO (unreadable, truncated, damaged or
 * not an ann.bin), SM_EINVAL (another shape or kind), SM_ENOMEM. */
int ann_load(const char *path, uint32_t n, uint32_t dim, ann_index **out, sm_error *err);

/* The best k (≤ VINDEX_K_MAX) rows for the unit query `q` (dim floats)
 * among the `nprobe` best cells (clamped to [1, nlist]), best first, into
 * `out`; with `keep` non-NULL only rows it accepts are scored. Returns the
 * count (≤ k; fewer when the probed cells hold fewer rows) or a negative
 * SM_E* code. Thread-safe. */
int ann_search(const ann_index *a, const float *q, size_t k, uint32_t nprobe, ann_filter_fn keep,
               void *keep_ctx, vindex_hit *out);

uint32_t ann_rows(const ann_index *a);
uint32_t ann_dim(const ann_index *a);
uint32_t ann_nlist(const ann_index *a);

/* NULL is a no-op. */
void ann_free(ann_index *a);

#ifdef __cplusplus
}
#endif

#endif
