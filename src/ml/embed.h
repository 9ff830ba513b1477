/* embed.h — dense vectors from an OpenAI-compatible embeddings service.
 *
 * When EMBEDDINGS_URL is set, the build asks the service for the vector of
 * every product instead of learning LSI vectors from the catalogue:
 *
 *   POST {EMBEDDINGS_URL}/v1/embeddings   (or EMBEDDINGS_URL itself when it
 *                                          already ends in "/embeddings")
 *   Authorization: Bearer {EMBEDDINGS_API_KEY}          (when set)
 *   {"model": EMBEDDINGS_MODEL, "input": ["text", …]}   (EMBEDDINGS_BATCH texts)
 *   → {"data": [{"index": i, "embedding": [floats…]}, …]}
 *
 * A product's text is its name, brand, category and description, one per
 * line, cut to EMBED_TEXT_MAX bytes on a character boundary. Every answer
 * is checked before use: HTTP 200, at most EMBED_RESPONSE_MAX bytes, one
 * vector per input placed by its "index", the same dimension everywhere
 * (at most EMBED_DIM_MAX), finite numbers, not all zero; vectors are then
 * scaled to unit length so a dot product is a cosine. HTTP 429 and 5xx and
 * transport errors are retried EMBED_RETRIES times with doubling backoff.
 * Any other failure fails the build with a message: the active version
 * stays as it was, and no half-written artefact is ever switched to.
 *
 * Vectors are cached across builds in DATA_DIR/ml/.embeddings.cache, keyed by
 * SHA-256(model, NUL, text), so a rebuild sends only new or changed texts.
 * The cache is rewritten (temporary file + rename) after each successful
 * embedding pass and holds exactly the current catalogue's texts: it never
 * grows beyond it.
 *
 * At query time (embed_query) the words typed are embedded by the same
 * service and model with a short deadline, through a small LRU cache; a
 * failure is logged and the search ranks lexically for that query. */
#ifndef SM_ML_EMBED_H
#define SM_ML_EMBED_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"
#include "ml/docs.h"

#define EMBED_DIM_MAX 4096
#define EMBED_BATCH_MAX 256
#define EMBED_TEXT_MAX 2048                   /* bytes of one product's text */
#define EMBED_RESPONSE_MAX ((size_t)32 << 20) /* bytes of one answer */
#define EMBED_RETRIES 3                       /* after the first try, on 429/5xx/transport */
#define EMBED_BACKOFF_MS 250                  /* first retry delay, doubled each time */
#define EMBED_QUERY_TIMEOUT_MS 2000           /* a query's deadline (or the config's, if less) */
#define EMBED_QUERY_CACHE 256                 /* query vectors kept (LRU) */
#define EMBED_QUERY_PAUSE_MS 2000             /* after a failed query call, go lexical this long */
#define EMBED_MODEL_MAX 128
#define EMBED_CACHE_FILE ".embeddings.cache" /* a dot: not a version to prune */

/* Where and how to call the service. Plain data, strings copied in. */
typedef struct embed_config {
    char url[1024]; /* the full endpoint (…/embeddings) */
    char model[EMBED_MODEL_MAX];
    char api_key[512];
    int timeout_ms; /* per request, whole transfer */
    int batch;      /* texts per request, 1..EMBED_BATCH_MAX */
} embed_config;

/* Fills `out` from the loaded configuration (core/config.h). Returns 1 when
 * EMBEDDINGS_URL is set (embeddings are to be used), 0 otherwise. */
int embed_config_load(embed_config *out);

/* Builds the endpoint from a base URL: `base` + "/v1/embeddings", or
 * `base` unchanged when it already ends in "/embeddings" (a trailing '/'
 * is ignored). SM_ETOOLARGE when it does not fit `cap`. */
int embed_endpoint(const char *base, char *out, size_t cap);

/* Embeds texts[0..n) (1 ≤ n ≤ EMBED_BATCH_MAX) in one request, retried as
 * described above, within `timeout_ms` per try. On success *out (owned by
 * the caller, free()) holds n unit rows of *dim floats in input order.
 * Returns 0, SM_EUNAVAILABLE (service down, non-200 answer), SM_ETIMEOUT,
 * SM_EINVAL (a malformed answer), SM_ETOOLARGE or SM_ENOMEM, with a
 * message. Thread-safe. */
int embed_texts(const embed_config *c, const char *const *texts, size_t n, int timeout_ms,
                float **out, uint32_t *dim, sm_error *err);

/* Writes `path` (a vectors file, ml/vectors.h, source "embeddings") with
 * the vectors of the `docs` store's documents, in its order: texts from the
 * store (name, brand, category) and the database (descriptions), vectors
 * from the cache in `cache_dir` or else from the service. Fills `info` (may
 * be NULL) with {"embedded": texts sent, "cached": texts reused}.
 * Returns 0 or an SM_E* code with a message; on failure `path` may hold
 * a partial file that the caller discards with its build folder. */
int embed_build_vectors(db *d, const embed_config *c, const docs_store *docs, const char *cache_dir,
                        const char *path, json_t *info, sm_error *err);

/* The unit query vector of `text` (dim floats) by `model` (the artefact's)
 * through the service of `c` (NULL: the loaded configuration's), from the
 * LRU cache when asked recently; one try within min(timeout,
 * EMBED_QUERY_TIMEOUT_MS). Returns 1 on success, 0 when no vector is
 * available (no service configured, the service failed or answered another
 * dimension: logged as a warning, and calls pause for EMBED_QUERY_PAUSE_MS
 * so that queries do not all wait for a dead service). Thread-safe. */
int embed_query(const embed_config *c, const char *model, const char *text, uint32_t dim,
                float *out);

/* Empties the query cache and clears the pause (tests). Thread-safe. */
void embed_query_reset(void);

#endif
