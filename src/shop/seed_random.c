/* seed_random.c — xoshiro256** seeded by splitmix64, and the
 * distributions the demo data generator draws from (uniform, normal,
 * Poisson, Zipf). Reference algorithms: Blackman & Vigna,
 * https://prng.di.unimi.it/. Not for secrets: tokens use libsodium. */
#include "shop/seed_random.h"

#include <math.h>
#include <stddef.h>

#include "core/err.h"

/* ---- random numbers: xoshiro256** (not for secrets) ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void seed_rng_seed(seed_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t seed_rng_next(seed_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
double seed_rng_unit(seed_rng *r)
{
    return (double)(seed_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n), n > 0 (bias below 2^-53 · n: irrelevant here). */
int64_t seed_rng_below(seed_rng *r, int64_t n)
{
    return (int64_t)(seed_rng_unit(r) * (double)n);
}

double seed_rng_normal(seed_rng *r)
{
    double u1 = 1.0 - seed_rng_unit(r); /* (0, 1]: log is finite */
    double u2 = seed_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Knuth's method; fine for the small means used here (< 20). */
int seed_rng_poisson(seed_rng *r, double lambda)
{
    double limit = exp(-lambda), p = 1.0;
    int k = 0;
    do {
        k++;
        p *= seed_rng_unit(r);
    } while (p > limit && k < 1000);
    return k - 1;
}

const char *seed_rng_pick(seed_rng *r, const char *const *table)
{
    int n = 0;
    while (table && table[n])
        n++;
    return n ? table[seed_rng_below(r, n)] : "";
}

/* ---- sampling by inverse CDF: Zipf over ranks 0..n-1, any weights ---- */

int seed_zipf_init(seed_zipf *z, arena *a, int64_t n, double s)
{
    z->n = n;
    z->cdf = n ? arena_alloc(a, (size_t)n * sizeof *z->cdf) : NULL;
    if (n && !z->cdf)
        return SM_ENOMEM;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        sum += 1.0 / pow((double)(i + 1), s);
        z->cdf[i] = sum;
    }
    return 0;
}

int64_t seed_rng_cdf(seed_rng *r, const double *cdf, int64_t n)
{
    double u = seed_rng_unit(r) * cdf[n - 1];
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int64_t seed_zipf_draw(const seed_zipf *z, seed_rng *r)
{
    return seed_rng_cdf(r, z->cdf, z->n);
}

int64_t seed_zipf_draw_first(const seed_zipf *z, seed_rng *r, int64_t m)
{
    return seed_rng_cdf(r, z->cdf, m < z->n ? m : z->n);
}
