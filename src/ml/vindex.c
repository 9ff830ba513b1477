/* vindex.c — exact top-k by a dot-product scan and a bounded min-heap,
 * the choice between it and the approximate index, and the approximate
 * index's build-time check (see vindex.h).
 *
 * The heap holds the k best so far with the worst at the root, so each new
 * score is compared with one number and most rows cost nothing more. Ties
 * are broken by row number (lower first) so results are deterministic. */
#include "ml/vindex.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "ml/ann.h"
#include "ml/artefact.h"

static bool worse(const vindex_hit *a, const vindex_hit *b)
{
    return a->score < b->score || (a->score == b->score && a->row > b->row);
}

static void sift_down(vindex_hit *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(&h[l], &h[m]))
            m = l;
        if (r < n && worse(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        vindex_hit t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(vindex_hit *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!worse(&h[i], &h[p]))
            return;
        vindex_hit t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

size_t vindex_top_k(const float *scores, uint32_t n, size_t k, float min_score, vindex_hit *out)
{
    if (k > VINDEX_K_MAX)
        k = VINDEX_K_MAX;
    size_t len = 0;
    for (uint32_t i = 0; i < n && k > 0; i++) {
        if (scores[i] <= min_score)
            continue;
        vindex_hit x = {i, scores[i]};
        if (len < k) {
            out[len] = x;
            sift_up(out, len++);
        } else if (worse(&out[0], &x)) {
            out[0] = x;
            sift_down(out, len, 0);
        }
    }
    /* heap sort in place: repeatedly move the worst to the end */
    for (size_t end = len; end > 1; end--) {
        vindex_hit t = out[0];
        out[0] = out[end - 1];
        out[end - 1] = t;
        sift_down(out, end - 1, 0);
    }
    return len;
}

size_t vindex_top_hits(const vindex_hit *in, size_t n, size_t k, vindex_hit *out)
{
    if (k > VINDEX_K_MAX)
        k = VINDEX_K_MAX;
    size_t len = 0;
    for (size_t i = 0; i < n && k > 0; i++) {
        if (len < k) {
            out[len] = in[i];
            sift_up(out, len++);
        } else if (worse(&out[0], &in[i])) {
            out[0] = in[i];
            sift_down(out, len, 0);
        }
    }
    for (size_t end = len; end > 1; end--) {
        vindex_hit t = out[0];
        out[0] = out[end - 1];
        out[end - 1] = t;
        sift_down(out, end - 1, 0);
    }
    return len;
}

static float dot(const float *row, const float *q, uint32_t dim)
{
    float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    uint32_t j = 0;
    for (; j + 4 <= dim; j += 4) {
        a0 += row[j] * q[j];
        a1 += row[j + 1] * q[j + 1];
        a2 += row[j + 2] * q[j + 2];
        a3 += row[j + 3] * q[j + 3];
    }
    for (; j < dim; j++)
        a0 += row[j] * q[j];
    return (a0 + a1) + (a2 + a3);
}

size_t vindex_search_exact(const float *m, uint32_t n, uint32_t dim, const float *q, size_t k,
                           float min_score, float *scratch, vindex_hit *out)
{
    return vindex_search_exact_filtered(m, n, dim, q, k, min_score, NULL, NULL, scratch, out);
}

size_t vindex_search_exact_filtered(const float *m, uint32_t n, uint32_t dim, const float *q,
                                    size_t k, float min_score, vindex_filter_fn keep, void *ctx,
                                    float *scratch, vindex_hit *out)
{
    if (n == 0 || dim == 0)
        return 0;
    /* A plain loop, not cblas_sgemv: OpenBLAS would spread one product over
     * its own threads, and queries already run in parallel on the pool; the
     * scan is memory-bound, so four accumulators are as fast. */
    for (uint32_t r = 0; r < n; r++)
        scratch[r] = keep && !keep(r, ctx) ? -INFINITY : dot(m + (size_t)r * dim, q, dim);
    return vindex_top_k(scratch, n, k, min_score, out);
}

size_t vindex_search(const vindex *v, const float *q, size_t k, float min_score,
                     vindex_filter_fn keep, void *ctx, float *scratch, vindex_hit *out)
{
    if (k > VINDEX_K_MAX)
        k = VINDEX_K_MAX;
    if (v->ann && k > 0) {
        int got = ann_search(v->ann, q, k, v->nprobe, keep, ctx, out);
        if (got >= 0 && (!keep || (size_t)got >= k)) {
            size_t len = 0; /* best first: the kept ones are a prefix */
            while (len < (size_t)got && out[len].score > min_score)
                len++;
            return len;
        }
        /* an error, or a selective filter that left the probed cells short:
         * the exact answer, whose cost then mostly is the filter */
    }
    return vindex_search_exact_filtered(v->m, v->n, v->dim, q, k, min_score, keep, ctx, scratch,
                                        out);
}

static double now_ms(void)
{
    return (double)clock_mono_ns() / 1e6;
}

/* recall@10 of `ann` against the exact scan over a fixed sample of rows */
static int measure_recall(const float *m, uint32_t n, uint32_t dim, const ann_index *ann,
                          uint32_t nprobe, json_t *info)
{
    enum { K = 10 };
    float *scratch = malloc(sizeof(float) * n);
    if (!scratch)
        return SM_ENOMEM;
    vindex_hit exact[K], approx[K];
    double found = 0, t_ann = 0, t_exact = 0;
    int queries = 0;
    uint64_t x = 0x9E3779B97F4A7C15ull; /* xorshift64: the same sample every build */
    for (int tries = 0; queries < VINDEX_RECALL_QUERIES && tries < 4 * VINDEX_RECALL_QUERIES;
         tries++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const float *q = m + (size_t)(x % n) * dim;
        if (dot(q, q, dim) < 0.5f) /* an empty document's zero vector */
            continue;
        double t0 = now_ms();
        size_t ne = vindex_search_exact(m, n, dim, q, K, -INFINITY, scratch, exact);
        double t1 = now_ms();
        int na = ann_search(ann, q, K, nprobe, NULL, NULL, approx);
        t_ann += now_ms() - t1;
        t_exact += t1 - t0;
        if (na < 0) {
            free(scratch);
            return na;
        }
        if (ne == 0)
            continue;
        float bar = exact[ne - 1].score - 1e-5f;
        int hits = 0;
        for (int i = 0; i < na && hits < (int)ne; i++)
            hits += approx[i].score >= bar;
        found += (double)hits / (double)ne;
        queries++;
    }
    free(scratch);
    json_object_set_new(info, "recall@10", json_real(queries ? found / queries : 1.0));
    json_object_set_new(info, "recall_queries", json_integer(queries));
    json_object_set_new(info, "ann_query_us",
                        json_integer(queries ? (json_int_t)(t_ann * 1e3 / queries) : 0));
    json_object_set_new(info, "exact_query_us",
                        json_integer(queries ? (json_int_t)(t_exact * 1e3 / queries) : 0));
    return 0;
}

int vindex_ann_write(const float *m, uint32_t n, uint32_t dim, const char *dir, uint32_t nprobe,
                     json_t **info, sm_error *err)
{
    *info = NULL;
    char path[ARTEFACT_PATH_MAX];
    int rc = artefact_path(dir, ANN_FILE, path, err);
    if (rc)
        return rc;
    double t0 = now_ms();
    ann_index *built = NULL, *loaded = NULL;
    rc = ann_build(m, n, dim, 0, &built, err);
    if (rc == 0)
        rc = ann_save(built, path, err);
    ann_free(built);
    double t1 = now_ms();
    if (rc == 0) /* read back exactly as a server would */
        rc = ann_load(path, n, dim, &loaded, err);
    json_t *o = rc == 0 ? json_object() : NULL;
    if (rc == 0 && !o)
        rc = sm_error_set(err, SM_ENOMEM, "out of memory");
    if (rc == 0) {
        json_object_set_new(o, "kind", json_string("faiss-ivf-flat"));
        json_object_set_new(o, "file", json_string(ANN_FILE));
        json_object_set_new(o, "nlist", json_integer(ann_nlist(loaded)));
        json_object_set_new(o, "nprobe", json_integer(nprobe));
        json_object_set_new(o, "build_ms", json_integer((json_int_t)(t1 - t0)));
        if ((rc = measure_recall(m, n, dim, loaded, nprobe, o)) != 0)
            sm_error_fill(err, rc, "ann: measuring recall failed: %s", sm_strerror(rc));
    }
    ann_free(loaded);
    if (rc) {
        json_decref(o);
        remove(path);
        return rc;
    }
    *info = o;
    return 0;
}
