/* copurchase.h — item-to-item similarity from baskets ("bought together").
 *
 * Two products are similar when they appear in the same orders more often
 * than their popularity alone explains. For items i and j with n_i and n_j
 * orders each and c_ij orders holding both, the score is a cosine with
 * shrinkage:
 *
 *     s(i, j) = c_ij / sqrt(n_i * n_j) * c_ij / (c_ij + shrink)
 *
 * The cosine removes the popularity bias (a best-seller co-occurs with
 * everything); the shrinkage factor discounts pairs seen only once or
 * twice, whose cosine is mostly noise. Pairs with c_ij < min_count are
 * dropped. Each item keeps its top `k` neighbours, best first.
 *
 * Cost: one pass per item over the orders that hold it, accumulating into
 * a dense row with a touched list (sum over orders of size², about 16 M
 * updates for a million lines in baskets of four), and a k-sized heap per
 * item. Items are split across threads, each with its own row. */
#ifndef SM_ML_COPURCHASE_H
#define SM_ML_COPURCHASE_H

#include <stdint.h>

#include "core/err.h"
#include "ml/rec_data.h"

#define COPURCHASE_K_MAX 200

typedef struct copurchase_params {
    int k;          /* neighbours kept per item, 1..COPURCHASE_K_MAX (default 20) */
    float shrink;   /* ≥ 0 (default 2) */
    int min_count;  /* ≥ 1 (default 1) */
    int threads;    /* ≥ 1 (default 2) */
    int max_basket; /* orders with more distinct items are skipped (default 50) */
} copurchase_params;

/* Fills `p` with the defaults above. */
void copurchase_params_init(copurchase_params *p);

/* Computes every item's top-k neighbours. `nbr` and `score` are caller-
 * owned arrays of rd->n_items * p->k entries: row i holds item i's
 * neighbours by decreasing score, unused slots -1 / 0. Returns 0, SM_EINVAL
 * (parameters), SM_ENOMEM. Reads `rd` only; thread-safe. */
int copurchase_build(const rec_data *rd, const copurchase_params *p, int32_t *nbr, float *score,
                     sm_error *err);

/* A top-k selection of (item, score) pairs: a min-heap of at most `cap`
 * entries. Shared by the models that keep "the best k". */
typedef struct rec_topk {
    int cap, len;
    int32_t *item;
    float *score;
} rec_topk;

/* Offers (item, score): kept when the heap is not full or the score beats
 * the smallest kept one (ties keep the smaller item index, so results do
 * not depend on the order of offers). */
void rec_topk_push(rec_topk *h, int32_t item, float score);

/* Sorts the kept entries by decreasing score (ties by increasing item) in
 * place and returns their count. The heap is unusable afterwards. */
int rec_topk_sort(rec_topk *h);

#endif
