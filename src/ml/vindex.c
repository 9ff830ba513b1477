/* vindex.c — exact top-k by sgemv and a bounded min-heap (see vindex.h).
 *
 * The heap holds the k best so far with the worst at the root, so each new
 * score is compared with one number and most rows cost nothing more. Ties
 * are broken by row number (lower first) so results are deterministic. */
#include "ml/vindex.h"

#include <stdbool.h>

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

size_t vindex_search_exact(const float *m, uint32_t n, uint32_t dim, const float *q, size_t k,
                           float min_score, float *scratch, vindex_hit *out)
{
    if (n == 0 || dim == 0)
        return 0;
    /* A plain loop, not cblas_sgemv: OpenBLAS would spread one product over
     * its own threads, and queries already run in parallel on the pool; the
     * scan is memory-bound, so four accumulators are as fast. */
    for (uint32_t r = 0; r < n; r++) {
        const float *row = m + (size_t)r * dim;
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
        scratch[r] = (a0 + a1) + (a2 + a3);
    }
    return vindex_top_k(scratch, n, k, min_score, out);
}
