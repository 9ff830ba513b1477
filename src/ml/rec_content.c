/* rec_content.c — content neighbours from the search version's vectors
 * (see rec_content.h).
 *
 * Documents are stored in product id order (the build reads the catalogue
 * by id), so a product's row is found by bisection. The search is the
 * snapshot's vindex_search: the exact scan (n × dim multiply-adds, about a
 * millisecond at 100k products and 64 dimensions) or the approximate index
 * when the version has one; the API caches each answer until the next
 * model version. */
#include "ml/rec_content.h"

#include <stdbool.h>
#include <stdlib.h>

#include "ml/vindex.h"

/* The row of product `id`, or -1. */
static int64_t row_of(const docs_store *docs, int64_t id)
{
    uint32_t lo = 0, hi = docs->ndocs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (docs->docs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < docs->ndocs && docs->docs[lo].id == id ? (int64_t)lo : -1;
}

/* The one place that asks the vector index for neighbours: the
 * snapshot's vindex, exact or approximate (ml/vindex.h). */
static size_t nearest(const snapshot *s, const float *q, size_t k, float *scratch, vindex_hit *out)
{
    return vindex_search(&s->vi, q, k, REC_CONTENT_MIN, NULL, NULL, scratch, out);
}

int rec_content_neighbours(const snapshot *s, int64_t id, int cap, int64_t *ids, float *scores)
{
    if (!s || cap <= 0)
        return 0;
    const vectors_index *v = &s->vec;
    int64_t row = v->dim > 0 ? row_of(&s->docs, id) : -1;
    if (row < 0 || row >= (int64_t)v->ndocs)
        return 0;
    const float *q = v->docs + (size_t)row * v->dim;
    bool nonzero = false;
    for (uint32_t k = 0; k < v->dim && !nonzero; k++)
        nonzero = q[k] != 0.0f;
    if (!nonzero) /* a document without text has no direction */
        return 0;
    size_t k = (size_t)cap + 1 < VINDEX_K_MAX ? (size_t)cap + 1 : VINDEX_K_MAX; /* + itself */
    float *scratch = malloc(sizeof *scratch * (v->ndocs ? v->ndocs : 1));
    vindex_hit *hits = malloc(sizeof *hits * k);
    if (!scratch || !hits) {
        free(scratch);
        free(hits);
        return SM_ENOMEM;
    }
    size_t got = nearest(s, q, k, scratch, hits);
    int n = 0;
    for (size_t i = 0; i < got && n < cap; i++) {
        if (hits[i].row == (uint32_t)row)
            continue;
        ids[n] = s->docs.docs[hits[i].row].id;
        scores[n++] = hits[i].score > 1.0f ? 1.0f : hits[i].score;
    }
    free(scratch);
    free(hits);
    return n;
}

static int from_active(int64_t id, int cap, int64_t *ids, float *scores, void *ctx)
{
    snapshot *s = snapshot_acquire(ctx);
    if (!s)
        return 0; /* no search version yet: no content signal */
    int n = rec_content_neighbours(s, id, cap, ids, scores);
    snapshot_release(s);
    return n;
}

rec_content rec_content_active(const char *data_dir)
{
    return (rec_content){.fn = from_active, .ctx = (void *)data_dir};
}
