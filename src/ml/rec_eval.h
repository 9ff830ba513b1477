/* rec_eval.h — offline evaluation of the recommenders on held-out orders.
 *
 * For a sample of customers with at least two orders, the last order is
 * held out; every model is trained on all other orders (through the same
 * rec_build_models() and rec_model file as production), then asked for
 * `k` recommendations. Two protocols:
 *
 *  - "next-order": the recommender sees the customer's past purchases only
 *    and must name an item of the held-out order (the home-page question);
 *  - "basket": it also sees the first item of the held-out order — the
 *    product page or the cart — and must name one of the others (the
 *    "customers also bought" question).
 *
 * Items the customer already bought are not targets (every method excludes
 * them). HR@k: share of customers with at least one target in the top k;
 * NDCG@k: binary-relevance discounted gain over the ideal. Methods:
 * popularity, co-purchase alone, ALS alone, and the blend. */
#ifndef SM_ML_REC_EVAL_H
#define SM_ML_REC_EVAL_H

#include "core/err.h"
#include "ml/rec_build.h"
#include "ml/rec_data.h"

#define REC_EVAL_ROWS 8

typedef struct rec_eval_params {
    int sample_users;    /* customers evaluated, ≥ 1 (default 2000) */
    int k;               /* cut-off, 1..REC_LIMIT_MAX (default 10) */
    const char *tmp_dir; /* where the trained model file goes (default "/tmp") */
    rec_build_params build;
} rec_eval_params;

typedef struct rec_eval_row {
    const char *protocol; /* "next-order" or "basket", static */
    const char *method;   /* "popular", "co-purchase", "als", "blend", static */
    double hr, ndcg;
    int users;
} rec_eval_row;

void rec_eval_params_init(rec_eval_params *p);

/* Evaluates every method on `rd` and fills rows[0..REC_EVAL_ROWS).
 * *train_s gets the training time (may be NULL). Returns 0, SM_EINVAL
 * (no customer with two orders), SM_ENOMEM, SM_EIO. Blocking. */
int rec_evaluate(const rec_data *rd, const rec_eval_params *p, rec_eval_row rows[REC_EVAL_ROWS],
                 double *train_s, sm_error *err);

#endif
