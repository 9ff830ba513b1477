/* vectors.h — dense document vectors by latent semantic indexing.
 *
 * The document-term matrix X (n documents × m terms of the lexical index)
 * is weighted TF-IDF — w(d,t) = (1 + ln tf) · idf(t), rows L2-normalised —
 * and factored by a truncated SVD, X ≈ U_k S_k V_kᵀ, computed the randomised
 * way (Halko, Martinsson, Tropp 2011): Y = X·Ω for a Gaussian Ω with k + 10
 * columns, one power iteration, Q = qr(Y) (LAPACKE sgeqrf/sorgqr), then the
 * SVD of the small matrix Xᵀ·Q (LAPACKE sgesdd). Only sparse products touch
 * X, so the cost is linear in the postings.
 *
 * Stored: document vectors X·V_k (= U_k S_k) normalised to unit length, and
 * the term projection V_k, so a query folds in as q·V_k and cosine
 * similarity is a dot product (vindex.h). Synonyms and related words that
 * co-occur in the catalogue end up close ("casque" and "headphones").
 *
 * File "vectors.bin": header (magic, ndocs, nterms, dim), then float32
 * docs[ndocs × dim] and terms[nterms × dim], row-major. */
#ifndef SM_ML_VECTORS_H
#define SM_ML_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "ml/lexical.h"

#define VECTORS_DIM_DEFAULT 64
#define VECTORS_DIM_MAX 256

typedef struct vectors_index {
    uint32_t ndocs, nterms, dim;
    const float *docs;  /* ndocs × dim, unit rows (zero rows for empty docs) */
    const float *terms; /* nterms × dim */
} vectors_index;

/* Computes the LSI vectors of `ix` with `dim` dimensions (clamped to
 * [2, VECTORS_DIM_MAX] and to the matrix rank bound) and writes them to
 * `path`. Deterministic (fixed seed). Returns 0, SM_ENOMEM, SM_EIO or
 * SM_EINTERNAL (LAPACK failure). */
int vectors_build_lsi(const lexical_index *ix, uint32_t dim, const char *path, sm_error *err);

/* Views a mapped vectors file. Checks the sizes against `ix` (same
 * ndocs/nterms). Returns 0 or SM_EINVAL. */
int vectors_index_open(const void *data, size_t len, const lexical_index *ix, vectors_index *out,
                       sm_error *err);

/* Folds a query into `out` (dim floats, unit length): the sum of
 * weight[i] · idf · V_k row of terms[i]. Returns false when the result is
 * zero (no known term). */
int vectors_query(const vectors_index *v, const lexical_index *ix, const uint32_t *terms,
                  const float *weights, size_t n, float *out);

#endif
