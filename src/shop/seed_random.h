/* seed_random.h — a small, fast, reproducible PRNG for demo data.
 *
 * xoshiro256** (state seeded through splitmix64) gives the same sequence
 * on every platform for the same seed and stream, which is what makes
 * `smartmarket seed --random-seed S` reproducible. Never use it for
 * secrets. Not thread-safe: one rng per thread. */
#ifndef SM_SHOP_SEED_RANDOM_H
#define SM_SHOP_SEED_RANDOM_H

#include <stdint.h>

#include "core/arena.h"

typedef struct seed_rng {
    uint64_t s[4];
} seed_rng;

/* Seeds `r` for (seed, stream): different streams are independent. */
void seed_rng_seed(seed_rng *r, uint64_t seed, uint64_t stream);

uint64_t seed_rng_next(seed_rng *r);
double seed_rng_unit(seed_rng *r);                /* uniform in [0, 1) */
int64_t seed_rng_below(seed_rng *r, int64_t n);   /* uniform in [0, n), n > 0 */
double seed_rng_normal(seed_rng *r);              /* standard normal */
int seed_rng_poisson(seed_rng *r, double lambda); /* Poisson, for small lambda (< 30) */
/* A uniformly chosen entry of a NULL-terminated table ("" when empty). */
const char *seed_rng_pick(seed_rng *r, const char *const *table);

/* Zipf over ranks 0..n-1 with exponent s, sampled by inverse CDF. */
typedef struct seed_zipf {
    double *cdf; /* in the arena given to seed_zipf_init */
    int64_t n;
} seed_zipf;

/* Builds the table (n doubles from `a`). Returns 0 or SM_ENOMEM. */
int seed_zipf_init(seed_zipf *z, arena *a, int64_t n, double s);

/* A rank in [0, n); n must be > 0. */
int64_t seed_zipf_draw(const seed_zipf *z, seed_rng *r);

/* A rank in [0, m), 0 < m <= z->n: the same law restricted to the first m
 * ranks (one table serves every list ordered best-seller first). */
int64_t seed_zipf_draw_first(const seed_zipf *z, seed_rng *r, int64_t m);

/* An index i in [0, n) with probability (cdf[i] - cdf[i-1]) / cdf[n-1], for
 * any non-decreasing cumulative weights with cdf[n-1] > 0; n > 0. */
int64_t seed_rng_cdf(seed_rng *r, const double *cdf, int64_t n);

#endif
