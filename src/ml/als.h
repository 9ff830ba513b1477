/* als.h — implicit-feedback matrix factorisation (Hu, Koren, Volinsky 2008).
 *
 * Each customer u and product i get a vector of `factors` numbers, x_u and
 * y_i, such that x_u · y_i approximates the preference p_ui (1 when u
 * bought i, else 0), weighted by a confidence c_ui = 1 + alpha * r_ui,
 * r_ui = the number of u's orders holding i. The loss
 *
 *     sum over all (u, i) of c_ui (p_ui - x_u·y_i)^2 + reg (|X|^2 + |Y|^2)
 *
 * is minimised by alternating least squares: with Y fixed, each x_u has a
 * closed form, (YᵀY + Yᵀ(C_u − I)Y + reg I) x_u = Yᵀ C_u p_u, where YᵀY is
 * shared by every user (cblas_ssyrk once per sweep) and the correction only
 * involves u's own items (one ssyrk over their scaled rows); the system is
 * symmetric positive definite and solved exactly with LAPACKE_sposv. Then
 * the same for items with X fixed. A sweep costs O(nnz·f² + (n_u+n_i)·f³).
 *
 * Deterministic: the same data and parameters give the same factors
 * (seeded initialisation; each row is solved independently, so threads do
 * not change the result). */
#ifndef SM_ML_ALS_H
#define SM_ML_ALS_H

#include <stdint.h>

#include "core/err.h"
#include "ml/rec_data.h"

#define ALS_FACTORS_MAX 256
#define ALS_ITERATIONS_MAX 100

typedef struct als_params {
    int factors;    /* 1..ALS_FACTORS_MAX (default 32) */
    float reg;      /* > 0 (default 0.1) */
    float alpha;    /* ≥ 0 (default 10) */
    int iterations; /* 1..ALS_ITERATIONS_MAX (default 8) */
    int threads;    /* ≥ 1 (default 2) */
    uint64_t seed;  /* initialisation (default 42) */
} als_params;

typedef struct als_model {
    int32_t n_users, n_items;
    int factors;
    float *user; /* [n_users * factors], row-major */
    float *item; /* [n_items * factors] */
} als_model;

void als_params_init(als_params *p);

/* Trains on every order of `rd`. When `loss` is not NULL it receives the
 * loss after each iteration (p->iterations doubles, caller-owned).
 * Returns 0 and *out (free with als_model_free), SM_EINVAL (parameters),
 * SM_ENOMEM, SM_EINTERNAL (a system LAPACK could not solve, which positive
 * reg rules out). Blocking; thread-safe (no shared state). */
int als_train(const rec_data *rd, const als_params *p, als_model **out, double *loss,
              sm_error *err);

/* The loss above for `m` on `rd`, computed in O(nnz·f + (n_u+n_i)·f²) by
 * expanding the sum over all pairs as trace(XᵀX · YᵀY). */
double als_loss(const als_model *m, const rec_data *rd, float reg, float alpha);

/* For every user, the `n` items with the highest x_u · y_i that the user
 * has not bought, best first. `items` and `scores` are caller-owned arrays
 * of n_users * n (unused slots -1 / 0). Scores are computed block by block
 * with cblas_sgemm. Returns 0, SM_EINVAL, SM_ENOMEM. */
int als_top_items(const als_model *m, const rec_data *rd, int n, int32_t *items, float *scores,
                  sm_error *err);

void als_model_free(als_model *m);

#endif
