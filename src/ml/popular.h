/* popular.h — popularity and trending, the cold-start fallback.
 *
 * Popularity of an item is the number of orders that hold it. Trending
 * weighs each order by its age with an exponential half-life measured back
 * from the newest order (not from the clock, so a rebuild of old data and
 * the offline evaluation give the same answer):
 *
 *     trend(i) = sum over orders o holding i of 2^(-(newest - t_o) / half_life)
 *
 * The ranking served to a new customer blends both after scaling each to
 * [0, 1] by its maximum: score = (1 - w) * pop + w * trend, w = trend_weight.
 * Inactive products are ranked like any other here; serving filters them. */
#ifndef SM_ML_POPULAR_H
#define SM_ML_POPULAR_H

#include <stdint.h>

#include "core/err.h"
#include "ml/rec_data.h"

typedef struct popular_params {
    double half_life_days; /* > 0 (default 14) */
    double trend_weight;   /* 0..1 (default 0.5) */
} popular_params;

void popular_params_init(popular_params *p);

/* Fills `score` (caller-owned, rd->n_items floats) with every item's
 * blended score in [0, 1] and `rank` (caller-owned, `n_rank` entries) with
 * the best min(n_rank, items that sold) items, best first, ties by item
 * index; the rest of `rank` is -1. *ranked gets how many are valid.
 * Returns 0, SM_EINVAL (parameters), SM_ENOMEM. Thread-safe. */
int popular_build(const rec_data *rd, const popular_params *p, float *score, int32_t *rank,
                  int32_t n_rank, int32_t *ranked, sm_error *err);

#endif
