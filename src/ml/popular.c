/* popular.c — counting sales, decayed and not, into one ranking (see
 * popular.h). One pass over the orders; the ranking reuses the top-k heap
 * of copurchase.c. Items that never sold get score 0 and are not ranked:
 * serving falls back to nothing rather than to arbitrary products. */
#include "ml/popular.h"

#include <math.h>
#include <stdlib.h>

#include "ml/copurchase.h"

#define DAY_MS 86400000.0

void popular_params_init(popular_params *p)
{
    p->half_life_days = 14.0;
    p->trend_weight = 0.5;
}

int popular_build(const rec_data *rd, const popular_params *p, float *score, int32_t *rank,
                  int32_t n_rank, int32_t *ranked, sm_error *err)
{
    *ranked = 0;
    if (!(p->half_life_days > 0) || !(p->trend_weight >= 0 && p->trend_weight <= 1) || n_rank < 0)
        return sm_error_set(err, SM_EINVAL, "invalid popularity parameters");
    double *pop = calloc((size_t)rd->n_items + 1, sizeof *pop);
    double *trend = calloc((size_t)rd->n_items + 1, sizeof *trend);
    int32_t *hi = malloc(((size_t)n_rank + 1) * sizeof *hi);
    float *hs = malloc(((size_t)n_rank + 1) * sizeof *hs);
    if (!pop || !trend || !hi || !hs) {
        free(pop);
        free(trend);
        free(hi);
        free(hs);
        return sm_error_set(err, SM_ENOMEM, "out of memory ranking popularity");
    }
    double half_life_ms = p->half_life_days * DAY_MS, max_pop = 0, max_trend = 0;
    for (int64_t o = 0; o < rd->n_orders; o++) {
        double age = (double)(rd->newest_ms - rd->order_time[o]);
        double w = exp2(-(age > 0 ? age : 0) / half_life_ms);
        for (int64_t l = rd->order_lines[o]; l < rd->order_lines[o + 1]; l++) {
            int32_t i = rd->line_item[l];
            pop[i] += 1.0;
            trend[i] += w;
        }
    }
    for (int32_t i = 0; i < rd->n_items; i++) {
        max_pop = pop[i] > max_pop ? pop[i] : max_pop;
        max_trend = trend[i] > max_trend ? trend[i] : max_trend;
    }
    rec_topk h = {.cap = n_rank, .item = hi, .score = hs};
    for (int32_t i = 0; i < rd->n_items; i++) {
        double s = 0;
        if (max_pop > 0)
            s += (1.0 - p->trend_weight) * pop[i] / max_pop;
        if (max_trend > 0)
            s += p->trend_weight * trend[i] / max_trend;
        score[i] = (float)s;
        if (pop[i] > 0)
            rec_topk_push(&h, i, score[i]);
    }
    int n = rec_topk_sort(&h);
    for (int32_t t = 0; t < n_rank; t++)
        rank[t] = t < n ? hi[t] : -1;
    *ranked = n;
    free(pop);
    free(trend);
    free(hi);
    free(hs);
    return 0;
}
