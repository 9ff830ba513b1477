/* copurchase.c — counting baskets into top-k neighbour lists (see
 * copurchase.h for the score).
 *
 * The orders of rec_data are rows of an order × item matrix; the item ×
 * order transpose (which orders hold item i) is built once with a counting
 * sort. For item i the co-occurrence row c_i· is then the sum of the order
 * rows of its orders, accumulated into a dense float array while a touched
 * list remembers which entries to score and reset — so each item costs
 * what its baskets hold, never n_items.
 *
 * Threads take items in interleaved stripes (item t, t+T, …): popular items
 * have long rows and sit anywhere in the id order, so stripes balance
 * better than contiguous blocks. Each thread writes only its own rows of
 * the output. */
#include "ml/copurchase.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define THREADS_MAX 64

void copurchase_params_init(copurchase_params *p)
{
    p->k = 20;
    p->shrink = 2.0f;
    p->min_count = 1;
    p->threads = 2;
    p->max_basket = 50;
}

/* ---- top-k heap ---- */

/* True when (a, ia) ranks below (b, ib): lower score, or equal score and a
 * larger item index. */
static int ranks_below(float a, int32_t ia, float b, int32_t ib)
{
    return a < b || (a == b && ia > ib);
}

static void heap_swap(rec_topk *h, int a, int b)
{
    int32_t ti = h->item[a];
    float ts = h->score[a];
    h->item[a] = h->item[b];
    h->score[a] = h->score[b];
    h->item[b] = ti;
    h->score[b] = ts;
}

static void heap_down(rec_topk *h, int i, int len)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < len && ranks_below(h->score[l], h->item[l], h->score[m], h->item[m]))
            m = l;
        if (r < len && ranks_below(h->score[r], h->item[r], h->score[m], h->item[m]))
            m = r;
        if (m == i)
            return;
        heap_swap(h, i, m);
        i = m;
    }
}

void rec_topk_push(rec_topk *h, int32_t item, float score)
{
    if (h->cap <= 0)
        return;
    if (h->len < h->cap) {
        int i = h->len++;
        h->item[i] = item;
        h->score[i] = score;
        while (i > 0) {
            int parent = (i - 1) / 2;
            if (!ranks_below(h->score[i], h->item[i], h->score[parent], h->item[parent]))
                break;
            heap_swap(h, i, parent);
            i = parent;
        }
        return;
    }
    if (ranks_below(score, item, h->score[0], h->item[0]) ||
        (score == h->score[0] && item == h->item[0]))
        return;
    h->item[0] = item;
    h->score[0] = score;
    heap_down(h, 0, h->len);
}

int rec_topk_sort(rec_topk *h)
{
    /* Heap sort on the min-heap leaves the best entry first. */
    for (int end = h->len - 1; end > 0; end--) {
        heap_swap(h, 0, end);
        heap_down(h, 0, end);
    }
    return h->len;
}

/* ---- counting ---- */

typedef struct cp_shared {
    const rec_data *rd;
    const copurchase_params *p;
    const int64_t *item_orders; /* [n_items + 1] offsets into order_list */
    const int64_t *order_list;  /* orders holding each item */
    const float *norm;          /* sqrt(n_i) */
    int32_t *nbr;
    float *score;
    int nthreads;
} cp_shared;

typedef struct cp_worker {
    cp_shared *s;
    int index;
    int rc;
    pthread_t thread;
} cp_worker;

static void *cp_run(void *arg)
{
    cp_worker *w = arg;
    const cp_shared *s = w->s;
    const rec_data *rd = s->rd;
    int k = s->p->k;
    float *row = calloc((size_t)rd->n_items + 1, sizeof *row);
    int32_t *touched = malloc(((size_t)rd->n_items + 1) * sizeof *touched);
    int32_t *hi = malloc((size_t)k * sizeof *hi);
    float *hs = malloc((size_t)k * sizeof *hs);
    if (!row || !touched || !hi || !hs) {
        w->rc = SM_ENOMEM;
        goto done;
    }
    for (int32_t i = w->index; i < rd->n_items; i += s->nthreads) {
        int32_t nt = 0;
        for (int64_t q = s->item_orders[i]; q < s->item_orders[i + 1]; q++) {
            int64_t o = s->order_list[q];
            for (int64_t l = rd->order_lines[o]; l < rd->order_lines[o + 1]; l++) {
                int32_t j = rd->line_item[l];
                if (j == i)
                    continue;
                if (row[j] == 0.0f)
                    touched[nt++] = j;
                row[j] += 1.0f;
            }
        }
        rec_topk h = {.cap = k, .item = hi, .score = hs};
        for (int32_t t = 0; t < nt; t++) {
            int32_t j = touched[t];
            float c = row[j];
            row[j] = 0.0f;
            if (c < (float)s->p->min_count)
                continue;
            float sc = c / (s->norm[i] * s->norm[j]) * c / (c + s->p->shrink);
            rec_topk_push(&h, j, sc);
        }
        int n = rec_topk_sort(&h);
        int32_t *out_n = s->nbr + (size_t)i * (size_t)k;
        float *out_s = s->score + (size_t)i * (size_t)k;
        for (int t = 0; t < k; t++) {
            out_n[t] = t < n ? hi[t] : -1;
            out_s[t] = t < n ? hs[t] : 0.0f;
        }
    }
done:
    free(row);
    free(touched);
    free(hi);
    free(hs);
    return NULL;
}

/* Builds the item → orders transpose, skipping over-large baskets. */
static int transpose(const rec_data *rd, int max_basket, int64_t **offsets, int64_t **list,
                     float **norm)
{
    int64_t *off = calloc((size_t)rd->n_items + 1, sizeof *off);
    int64_t *lst = malloc(((size_t)rd->n_lines + 1) * sizeof *lst);
    float *nrm = malloc(((size_t)rd->n_items + 1) * sizeof *nrm);
    if (!off || !lst || !nrm) {
        free(off);
        free(lst);
        free(nrm);
        return SM_ENOMEM;
    }
    for (int64_t o = 0; o < rd->n_orders; o++) {
        if (rd->order_lines[o + 1] - rd->order_lines[o] > max_basket)
            continue;
        for (int64_t l = rd->order_lines[o]; l < rd->order_lines[o + 1]; l++)
            off[rd->line_item[l] + 1]++;
    }
    for (int32_t i = 0; i < rd->n_items; i++) {
        nrm[i] = sqrtf((float)off[i + 1]);
        off[i + 1] += off[i];
    }
    int64_t *fill = malloc(((size_t)rd->n_items + 1) * sizeof *fill);
    if (!fill) {
        free(off);
        free(lst);
        free(nrm);
        return SM_ENOMEM;
    }
    memcpy(fill, off, ((size_t)rd->n_items + 1) * sizeof *fill);
    for (int64_t o = 0; o < rd->n_orders; o++) {
        if (rd->order_lines[o + 1] - rd->order_lines[o] > max_basket)
            continue;
        for (int64_t l = rd->order_lines[o]; l < rd->order_lines[o + 1]; l++)
            lst[fill[rd->line_item[l]]++] = o;
    }
    free(fill);
    *offsets = off;
    *list = lst;
    *norm = nrm;
    return 0;
}

int copurchase_build(const rec_data *rd, const copurchase_params *p, int32_t *nbr, float *score,
                     sm_error *err)
{
    if (p->k < 1 || p->k > COPURCHASE_K_MAX || p->shrink < 0 || !isfinite(p->shrink) ||
        p->min_count < 1 || p->threads < 1 || p->max_basket < 2)
        return sm_error_set(err, SM_EINVAL, "invalid co-purchase parameters");
    if (rd->n_items == 0)
        return 0;
    cp_shared s = {.rd = rd, .p = p, .nbr = nbr, .score = score};
    int64_t *off = NULL, *lst = NULL;
    float *norm = NULL;
    if (transpose(rd, p->max_basket, &off, &lst, &norm) < 0)
        return sm_error_set(err, SM_ENOMEM, "out of memory counting co-purchases");
    s.item_orders = off;
    s.order_list = lst;
    s.norm = norm;
    s.nthreads = p->threads > THREADS_MAX ? THREADS_MAX : p->threads;

    cp_worker w[THREADS_MAX];
    int started = 0, rc = 0;
    for (int t = 0; t < s.nthreads; t++) {
        w[t] = (cp_worker){.s = &s, .index = t};
        if (t > 0 && pthread_create(&w[t].thread, NULL, cp_run, &w[t]) != 0) {
            rc = SM_ENOMEM;
            break;
        }
        started = t + 1;
    }
    if (rc == 0)
        cp_run(&w[0]);
    for (int t = 1; t < started; t++)
        pthread_join(w[t].thread, NULL);
    for (int t = 0; t < started && rc == 0; t++)
        rc = w[t].rc;
    free(off);
    free(lst);
    free(norm);
    if (rc)
        return sm_error_set(err, rc, "co-purchase: %s", sm_strerror(rc));
    return 0;
}
