/* als.c — alternating least squares on implicit feedback (see als.h).
 *
 * The purchase counts r_ui are laid out twice, by user and by item
 * (compressed sparse rows with a float count), so that both half-sweeps
 * read contiguous rows. A half-sweep solves rows independently: threads
 * take interleaved rows, each with its own f×f system, right-hand side and
 * gathered-rows buffer. The shared Gram matrix (YᵀY or XᵀX) is computed
 * once per half-sweep before the threads start and only read by them.
 *
 * Per row, the rows of the other side that the row touches are gathered
 * scaled by sqrt(alpha·r) so that one ssyrk adds Σ (c−1) y yᵀ; the
 * right-hand side Σ c y is accumulated at the same time. Rows without any
 * purchase (never happens for users, often for items) solve to zero. */
#include "ml/als.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "ml/copurchase.h"

#define THREADS_MAX 64
#define TOP_BLOCK 64   /* users per sgemm tile in als_top_items */
#define TOP_CHUNK 4096 /* items per sgemm tile */

void als_params_init(als_params *p)
{
    p->factors = 32;
    p->reg = 0.1f;
    p->alpha = 10.0f;
    p->iterations = 8;
    p->threads = 2;
    p->seed = 42;
}

void als_model_free(als_model *m)
{
    if (!m)
        return;
    free(m->user);
    free(m->item);
    free(m);
}

/* Sparse rows with counts. */
typedef struct csr {
    int32_t n;
    int64_t *off; /* [n + 1] */
    int32_t *col;
    float *val;
} csr;

static void csr_free(csr *c)
{
    free(c->off);
    free(c->col);
    free(c->val);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* User × item counts: r_ui = orders of u holding i. */
static int build_user_rows(const rec_data *rd, csr *u)
{
    u->n = rd->n_users;
    u->off = calloc((size_t)rd->n_users + 1, sizeof *u->off);
    u->col = malloc(((size_t)rd->n_lines + 1) * sizeof *u->col);
    u->val = malloc(((size_t)rd->n_lines + 1) * sizeof *u->val);
    if (!u->off || !u->col || !u->val)
        return SM_ENOMEM;
    int64_t nnz = 0;
    for (int32_t x = 0; x < rd->n_users; x++) {
        int64_t start = nnz, first = rd->order_lines[rd->user_orders[x]],
                last = rd->order_lines[rd->user_orders[x + 1]];
        memcpy(u->col + start, rd->line_item + first, (size_t)(last - first) * sizeof *u->col);
        qsort(u->col + start, (size_t)(last - first), sizeof *u->col, cmp_i32);
        for (int64_t q = start; q < start + (last - first); q++) {
            if (nnz > start && u->col[nnz - 1] == u->col[q]) {
                u->val[nnz - 1] += 1.0f;
            } else {
                u->col[nnz] = u->col[q];
                u->val[nnz++] = 1.0f;
            }
        }
        u->off[x + 1] = nnz;
    }
    return 0;
}

static int transpose_rows(const csr *u, int32_t n_cols, csr *t)
{
    int64_t nnz = u->off[u->n];
    t->n = n_cols;
    t->off = calloc((size_t)n_cols + 1, sizeof *t->off);
    t->col = malloc(((size_t)nnz + 1) * sizeof *t->col);
    t->val = malloc(((size_t)nnz + 1) * sizeof *t->val);
    int64_t *fill = malloc(((size_t)n_cols + 1) * sizeof *fill);
    if (!t->off || !t->col || !t->val || !fill) {
        free(fill);
        return SM_ENOMEM;
    }
    for (int64_t q = 0; q < nnz; q++)
        t->off[u->col[q] + 1]++;
    for (int32_t i = 0; i < n_cols; i++)
        t->off[i + 1] += t->off[i];
    memcpy(fill, t->off, ((size_t)n_cols + 1) * sizeof *fill);
    for (int32_t r = 0; r < u->n; r++)
        for (int64_t q = u->off[r]; q < u->off[r + 1]; q++) {
            int64_t at = fill[u->col[q]]++;
            t->col[at] = r;
            t->val[at] = u->val[q];
        }
    free(fill);
    return 0;
}

/* ---- one half-sweep: solve every row of `out` with `fixed` held ---- */

typedef struct half_sweep {
    const csr *rows;
    const float *fixed; /* [rows' column count × f] */
    const float *gram;  /* f × f, fixedᵀ fixed */
    float *out;         /* [rows->n × f] */
    int f, nthreads, max_row;
    float reg, alpha;
} half_sweep;

typedef struct sweep_worker {
    const half_sweep *s;
    int index, rc;
    pthread_t thread;
} sweep_worker;

static void *sweep_run(void *arg)
{
    sweep_worker *w = arg;
    const half_sweep *s = w->s;
    int f = s->f;
    float *a = malloc((size_t)f * (size_t)f * sizeof *a);
    float *b = malloc((size_t)f * sizeof *b);
    float *g = malloc(((size_t)s->max_row + 1) * (size_t)f * sizeof *g);
    if (!a || !b || !g) {
        w->rc = SM_ENOMEM;
        goto done;
    }
    for (int32_t r = w->index; r < s->rows->n; r += s->nthreads) {
        int64_t lo = s->rows->off[r], hi = s->rows->off[r + 1];
        float *x = s->out + (size_t)r * (size_t)f;
        if (lo == hi) {
            memset(x, 0, (size_t)f * sizeof *x);
            continue;
        }
        memcpy(a, s->gram, (size_t)f * (size_t)f * sizeof *a);
        for (int d = 0; d < f; d++)
            a[d * f + d] += s->reg;
        memset(b, 0, (size_t)f * sizeof *b);
        int n = (int)(hi - lo);
        for (int q = 0; q < n; q++) {
            const float *y = s->fixed + (size_t)s->rows->col[lo + q] * (size_t)f;
            float conf = s->alpha * s->rows->val[lo + q], scale = sqrtf(conf);
            float *gr = g + (size_t)q * (size_t)f;
            for (int d = 0; d < f; d++) {
                gr[d] = scale * y[d];
                b[d] += (1.0f + conf) * y[d];
            }
        }
        /* a += gᵀ g over the upper triangle (row-major), which is the lower
         * triangle of the same memory read column-major: sposv_work then
         * solves in place, without LAPACKE's row-major copies. */
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, f, n, 1.0f, g, f, 1.0f, a, f);
        if (LAPACKE_sposv_work(LAPACK_COL_MAJOR, 'L', f, 1, a, f, b, f) != 0) {
            w->rc = SM_EINTERNAL;
            goto done;
        }
        memcpy(x, b, (size_t)f * sizeof *x);
    }
done:
    free(a);
    free(b);
    free(g);
    return NULL;
}

/* fixedᵀ fixed, full (both triangles), into `gram`. */
static void gram_of(const float *m, int32_t rows, int f, float *gram)
{
    memset(gram, 0, (size_t)f * (size_t)f * sizeof *gram);
    if (rows > 0)
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, f, rows, 1.0f, m, f, 0.0f, gram, f);
    for (int r = 0; r < f; r++)
        for (int c = 0; c < r; c++)
            gram[r * f + c] = gram[c * f + r];
}

static int run_sweep(half_sweep *s, int threads)
{
    sweep_worker w[THREADS_MAX];
    int started = 0, rc = 0;
    s->nthreads = threads;
    for (int t = 0; t < threads; t++) {
        w[t] = (sweep_worker){.s = s, .index = t};
        if (t > 0 && pthread_create(&w[t].thread, NULL, sweep_run, &w[t]) != 0) {
            rc = SM_ENOMEM;
            break;
        }
        started = t + 1;
    }
    if (rc == 0)
        sweep_run(&w[0]);
    for (int t = 1; t < started; t++)
        pthread_join(w[t].thread, NULL);
    for (int t = 0; t < started && rc == 0; t++)
        rc = w[t].rc;
    return rc;
}

static int max_row_len(const csr *c)
{
    int64_t m = 0;
    for (int32_t r = 0; r < c->n; r++)
        if (c->off[r + 1] - c->off[r] > m)
            m = c->off[r + 1] - c->off[r];
    return (int)m;
}

/* splitmix64: a small, well-mixed generator for the initial factors. */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double loss_of(const als_model *m, const csr *u, float reg, float alpha)
{
    int f = m->factors;
    float *gx = malloc((size_t)f * (size_t)f * sizeof *gx);
    float *gy = malloc((size_t)f * (size_t)f * sizeof *gy);
    if (!gx || !gy) {
        free(gx);
        free(gy);
        return NAN;
    }
    gram_of(m->user, m->n_users, f, gx);
    gram_of(m->item, m->n_items, f, gy);
    double all = 0, obs = 0, norm = 0;
    for (int k = 0; k < f * f; k++)
        all += (double)gx[k] * gy[k];
    for (int32_t x = 0; x < u->n; x++)
        for (int64_t q = u->off[x]; q < u->off[x + 1]; q++) {
            double p =
                cblas_sdot(f, m->user + (size_t)x * f, 1, m->item + (size_t)u->col[q] * f, 1);
            double c = 1.0 + alpha * u->val[q];
            obs += c * (1 - p) * (1 - p) - p * p;
        }
    for (int k = 0; k < f; k++) {
        norm += gx[k * f + k];
        norm += gy[k * f + k];
    }
    free(gx);
    free(gy);
    return all + obs + reg * norm;
}

double als_loss(const als_model *m, const rec_data *rd, float reg, float alpha)
{
    csr u = {0};
    double l = NAN;
    if (build_user_rows(rd, &u) == 0)
        l = loss_of(m, &u, reg, alpha);
    csr_free(&u);
    return l;
}

int als_train(const rec_data *rd, const als_params *p, als_model **out, double *loss, sm_error *err)
{
    *out = NULL;
    if (p->factors < 1 || p->factors > ALS_FACTORS_MAX || !(p->reg > 0) || !(p->alpha >= 0) ||
        !isfinite(p->alpha) || p->iterations < 1 || p->iterations > ALS_ITERATIONS_MAX ||
        p->threads < 1)
        return sm_error_set(err, SM_EINVAL, "invalid ALS parameters");
    int f = p->factors, threads = p->threads > THREADS_MAX ? THREADS_MAX : p->threads, rc;
    csr by_user = {0}, by_item = {0};
    als_model *m = calloc(1, sizeof *m);
    float *gram = malloc((size_t)f * (size_t)f * sizeof *gram);
    if (!m || !gram)
        goto nomem;
    m->n_users = rd->n_users;
    m->n_items = rd->n_items;
    m->factors = f;
    m->user = calloc(((size_t)rd->n_users + 1) * (size_t)f, sizeof *m->user);
    m->item = malloc(((size_t)rd->n_items + 1) * (size_t)f * sizeof *m->item);
    if (!m->user || !m->item || build_user_rows(rd, &by_user) < 0 ||
        transpose_rows(&by_user, rd->n_items, &by_item) < 0)
        goto nomem;
    uint64_t state = p->seed;
    float scale = 0.1f / sqrtf((float)f);
    for (size_t k = 0; k < (size_t)rd->n_items * (size_t)f; k++)
        m->item[k] = scale * ((float)(splitmix(&state) >> 40) / (float)(1 << 24) - 0.5f) * 2.0f;

    for (int it = 0; it < p->iterations; it++) {
        half_sweep users = {.rows = &by_user,
                            .fixed = m->item,
                            .gram = gram,
                            .out = m->user,
                            .f = f,
                            .max_row = max_row_len(&by_user),
                            .reg = p->reg,
                            .alpha = p->alpha};
        gram_of(m->item, m->n_items, f, gram);
        if ((rc = run_sweep(&users, threads)) < 0)
            goto fail;
        half_sweep items = {.rows = &by_item,
                            .fixed = m->user,
                            .gram = gram,
                            .out = m->item,
                            .f = f,
                            .max_row = max_row_len(&by_item),
                            .reg = p->reg,
                            .alpha = p->alpha};
        gram_of(m->user, m->n_users, f, gram);
        if ((rc = run_sweep(&items, threads)) < 0)
            goto fail;
        if (loss)
            loss[it] = loss_of(m, &by_user, p->reg, p->alpha);
    }
    csr_free(&by_user);
    csr_free(&by_item);
    free(gram);
    *out = m;
    return 0;
nomem:
    rc = SM_ENOMEM;
fail:
    csr_free(&by_user);
    csr_free(&by_item);
    free(gram);
    als_model_free(m);
    return sm_error_set(err, rc, "ALS: %s", sm_strerror(rc));
}

/* True when sorted `bought[0..n)` holds `item`. */
static int bought_has(const int32_t *bought, int64_t n, int32_t item)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (bought[mid] < item)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && bought[lo] == item;
}

int als_top_items(const als_model *m, const rec_data *rd, int n, int32_t *items, float *scores,
                  sm_error *err)
{
    if (n < 1 || m->n_users != rd->n_users || m->n_items != rd->n_items)
        return sm_error_set(err, SM_EINVAL, "invalid ALS top-n request");
    csr by_user = {0};
    int f = m->factors;
    /* A block of users × a chunk of items: the score tile stays in cache. */
    float *tile = malloc((size_t)TOP_BLOCK * TOP_CHUNK * sizeof *tile);
    int32_t *hi = malloc((size_t)TOP_BLOCK * (size_t)n * sizeof *hi);
    float *hs = malloc((size_t)TOP_BLOCK * (size_t)n * sizeof *hs);
    if (!tile || !hi || !hs || build_user_rows(rd, &by_user) < 0) {
        free(tile);
        free(hi);
        free(hs);
        csr_free(&by_user);
        return sm_error_set(err, SM_ENOMEM, "out of memory ranking ALS items");
    }
    rec_topk heap[TOP_BLOCK];
    for (int32_t u0 = 0; u0 < m->n_users; u0 += TOP_BLOCK) {
        int rows = m->n_users - u0 < TOP_BLOCK ? m->n_users - u0 : TOP_BLOCK;
        for (int r = 0; r < rows; r++)
            heap[r] = (rec_topk){.cap = n, .item = hi + (size_t)r * n, .score = hs + (size_t)r * n};
        for (int32_t i0 = 0; i0 < m->n_items; i0 += TOP_CHUNK) {
            int cols = m->n_items - i0 < TOP_CHUNK ? m->n_items - i0 : TOP_CHUNK;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, f, 1.0f,
                        m->user + (size_t)u0 * f, f, m->item + (size_t)i0 * f, f, 0.0f, tile, cols);
            for (int r = 0; r < rows; r++) {
                int32_t u = u0 + r;
                const float *s = tile + (size_t)r * (size_t)cols;
                const int32_t *bought = by_user.col + by_user.off[u];
                int64_t nb = by_user.off[u + 1] - by_user.off[u];
                rec_topk *h = &heap[r];
                for (int c = 0; c < cols; c++) {
                    /* Cheap reject before the exclusion search. */
                    if (h->len == n && s[c] <= h->score[0])
                        continue;
                    if (!bought_has(bought, nb, i0 + c))
                        rec_topk_push(h, i0 + c, s[c]);
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            int32_t u = u0 + r;
            int got = rec_topk_sort(&heap[r]);
            for (int t = 0; t < n; t++) {
                items[(size_t)u * n + t] = t < got ? heap[r].item[t] : -1;
                scores[(size_t)u * n + t] = t < got ? heap[r].score[t] : 0.0f;
            }
        }
    }
    free(tile);
    free(hi);
    free(hs);
    csr_free(&by_user);
    return 0;
}
