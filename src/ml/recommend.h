/* recommend.h — blended recommendations served from the mapped model.
 *
 * Three questions, each answered from one rec_model (rec_model.h) in a few
 * microseconds, without the database:
 *
 *  - similar to a product: co-purchase neighbours, plus content neighbours
 *    when a content source is given (the search engineer's vectors), each
 *    scaled to [0, 1] by its best score and weighted; when they give fewer
 *    than asked, best sellers of the product's category, then overall.
 *  - also bought with a product: co-purchase neighbours only.
 *  - for a customer: the ALS list computed at build time for that customer,
 *    plus co-purchase neighbours of their most recent purchases (decaying
 *    with recency), minus everything they bought; a customer unknown to
 *    the model and without history gets the popularity ranking.
 *
 * A small popularity term breaks ties in every blend. Products inactive at
 * build time are never returned; the API re-checks activity against the
 * database, so ask for a few more than you show.
 *
 * Serving: rec_serving_acquire() returns the model of the active artefact
 * version (ml/artefact.h), opening a new version when `current` changed —
 * checked at most once per REC_RELOAD_CHECK_MS — and keeping the old one
 * alive until its last reader releases it, so a switch never pauses or
 * breaks a request in flight. */
#ifndef SM_ML_RECOMMEND_H
#define SM_ML_RECOMMEND_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "ml/rec_model.h"

#define REC_LIMIT_MAX 100        /* results of one query */
#define REC_HISTORY_MAX 256      /* purchases considered for exclusion */
#define REC_HISTORY_RECENT 10    /* most recent purchases expanded by co-purchase */
#define REC_RELOAD_CHECK_MS 1000 /* how often serving looks for a new version */

/* Which models contributed to a result (bit set). */
enum {
    REC_FROM_COPURCHASE = 1 << 0,
    REC_FROM_CONTENT = 1 << 1,
    REC_FROM_ALS = 1 << 2,
    REC_FROM_POPULAR = 1 << 3,
    REC_FROM_CATEGORY = 1 << 4,
};

typedef struct rec_item {
    int64_t product_id;
    float score;
} rec_item;

/* Blend weights (rec_weights_init gives the tuned defaults, docs/ML.md). */
typedef struct rec_weights {
    float copurchase, content, als, popular, recency_decay;
} rec_weights;

void rec_weights_init(rec_weights *w);

/* Content neighbours of product `id`: fills up to `cap` ids and scores in
 * [0, 1] (best first) and returns how many, or a negative SM_E* code.
 * Must be thread-safe. */
typedef int (*rec_content_fn)(int64_t id, int cap, int64_t *ids, float *scores, void *ctx);

typedef struct rec_content {
    rec_content_fn fn; /* NULL: no content similarity */
    void *ctx;
} rec_content;

/* The query functions below share one contract: `out` has room for
 * `limit` (1..REC_LIMIT_MAX) entries; the return value is how many were
 * filled (≥ 0) or SM_EINVAL; *sources (may be NULL) gets REC_FROM_* bits.
 * `w` may be NULL for the defaults. They only read `m`: thread-safe. */

/* Products similar to product `id` (never `id` itself). An id unknown to
 * the model gets the popularity ranking. */
int rec_similar(const rec_model *m, const rec_weights *w, const rec_content *content, int64_t id,
                int limit, rec_item *out, unsigned *sources);

/* Products bought together with product `id`; empty when none. */
int rec_also_bought(const rec_model *m, int64_t id, int limit, rec_item *out, unsigned *sources);

/* Recommendations for customer `user_id` whose purchases are `history`
 * (product ids, most recent first, n_history ≤ REC_HISTORY_MAX; more are
 * ignored), none of which is returned. */
int rec_for_user(const rec_model *m, const rec_weights *w, int64_t user_id, const int64_t *history,
                 int n_history, int limit, rec_item *out, unsigned *sources);

/* The popularity ranking minus `exclude` (n_exclude ≤ REC_HISTORY_MAX). */
int rec_popular(const rec_model *m, const int64_t *exclude, int n_exclude, int limit, rec_item *out,
                unsigned *sources);

/* The model of the active version under `data_dir` (borrowed until
 * rec_serving_release; *version gets its name, capacity 64, may be NULL).
 * SM_ENOTFOUND when no version is built or it holds no recommendation
 * model, SM_EINVAL when the file is corrupt. Thread-safe. */
int rec_serving_acquire(const char *data_dir, const rec_model **out, char *version, sm_error *err);

/* Releases a model from rec_serving_acquire(). Thread-safe. */
void rec_serving_release(const rec_model *m);

#endif
