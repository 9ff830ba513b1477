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
 * The same file holds vectors computed elsewhere — an embeddings service
 * (ml/embed.h) — with source VECTORS_SOURCE_EMBEDDINGS, the model's name,
 * and no term projection (nterms 0): such a query is embedded by the same
 * service (vectors_query_text).
 *
 * File "vectors.bin": header (magic "SMVEC02", ndocs, nterms, dim, source,
 * model[128]), then float32 docs[ndocs × dim] and terms[nterms × dim],
 * row-major. Files of the first format ("SMVEC01", 24-byte header, LSI
 * only) still open. */
#ifndef SM_ML_VECTORS_H
#define SM_ML_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "ml/lexical.h"

#define VECTORS_DIM_DEFAULT 64
#define VECTORS_LSI_DIM_MAX 256
#define VECTORS_DIM_MAX 4096 /* any source: a query vector buffer holds this many */
#define VECTORS_MODEL_MAX 128

typedef enum vectors_source {
    VECTORS_SOURCE_LSI = 0,
    VECTORS_SOURCE_EMBEDDINGS = 1
} vectors_source;

typedef struct vectors_index {
    uint32_t ndocs, nterms, dim;
    vectors_source source;
    const char *model;  /* embeddings: the model's name; LSI: "" */
    const float *docs;  /* ndocs × dim, unit rows (zero rows for empty docs) */
    const float *terms; /* nterms × dim (embeddings: none) */
} vectors_index;

/* Computes the LSI vectors of `ix` with `dim` dimensions (clamped to
 * [2, VECTORS_LSI_DIM_MAX] and to the matrix rank bound) and writes them to
 * `path`. Deterministic (fixed seed). Returns 0, SM_ENOMEM, SM_EIO or
 * SM_EINTERNAL (LAPACK failure). */
int vectors_build_lsi(const lexical_index *ix, uint32_t dim, const char *path, sm_error *err);

/* The build's vector step (called by ml/build.c): writes
 * version_dir/vectors.bin from an embeddings service when EMBEDDINGS_URL is
 * configured (ml/embed.h; texts from version_dir/docs.bin and the
 * database, the cache under cache_dir), else LSI vectors of `ix` with
 * VECTORS_DIM_DEFAULT dimensions. Records what it did in counts["vectors"]
 * ({source, model, dim, embedded, cached}); vectors_manifest_params moves
 * that into the manifest's parameters. 0 or an SM_E* code with a message:
 * the caller then abandons the whole build. */
struct db; /* db/db.h; by tag, so that this header adds no `db` name to its includers */
int vectors_build(struct db *d, const lexical_index *ix, const char *version_dir,
                  const char *cache_dir, json_t *counts, sm_error *err);

/* Moves counts["vectors"] (from vectors_build) into `params` as
 * vector_source ("lsi" | "embeddings"), vector_model and vector_dim. */
void vectors_manifest_params(json_t *counts, json_t *params);

/* Writes the vectors file of an embeddings build at `path`: rows are put
 * in any order, each at its place. Owned by the caller: finish, then free
 * (free alone abandons the file). All return 0 or an SM_E* code. */
typedef struct vectors_writer vectors_writer;
int vectors_writer_open(const char *path, uint32_t ndocs, uint32_t dim, const char *model,
                        vectors_writer **out, sm_error *err);
/* Row `row` (< ndocs) of `dim` floats, copied. Every row must be put once. */
int vectors_writer_put(vectors_writer *w, uint32_t row, const float *v, sm_error *err);
/* Checks that every row was put, flushes and syncs. */
int vectors_writer_finish(vectors_writer *w, sm_error *err);
void vectors_writer_free(vectors_writer *w);

/* Byte offset of docs[0] in a file written by this version. */
size_t vectors_data_offset(void);

/* Views a mapped vectors file. Checks the sizes against `ix` (same ndocs;
 * same nterms for LSI, none for embeddings). Returns 0 or SM_EINVAL. */
int vectors_index_open(const void *data, size_t len, const lexical_index *ix, vectors_index *out,
                       sm_error *err);

/* Folds a query into `out` (dim floats, unit length): the sum of
 * weight[i] · idf · V_k row of terms[i]. Returns false when the result is
 * zero (no known term). */
int vectors_query(const vectors_index *v, const lexical_index *ix, const uint32_t *terms,
                  const float *weights, size_t n, float *out);

/* The query vector of a search, whatever the source: for LSI the fold-in
 * of the analysed terms (vectors_query), for embeddings the embedding of
 * the raw `text` by the artefact's model (ml/embed.h: cached, short
 * deadline). Returns 0 when there is none — no known term, or the service
 * failed (logged) — and the search then ranks lexically. Thread-safe. */
int vectors_query_text(const vectors_index *v, const lexical_index *ix, const char *text,
                       const uint32_t *terms, const float *weights, size_t n, float *out);

#endif
