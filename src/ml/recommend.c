/* recommend.c — blending the models of rec_model into ranked lists, and
 * keeping the active model mapped (see recommend.h).
 *
 * A query gathers candidates into a small open-addressing table keyed by
 * item index (at most REC_CANDIDATES entries: the ALS list, k neighbours of
 * each recent purchase, the content neighbours), adds each model's scaled
 * contribution, then keeps the best `limit` with the top-k heap. Exclusions
 * (the product itself, the customer's purchases, inactive products) are
 * applied when selecting, so a candidate never needs removing. Short lists
 * are filled from category best sellers and the popularity ranking, in
 * that order, below every blended candidate.
 *
 * Serving state is one list of mapped versions behind one mutex: `current`
 * and any older version that a request still holds. The mutex is never
 * held while a file is opened or checked; one thread at a time looks for a
 * new version (the `loading` flag) while every other keeps serving the
 * current one. */
#include "ml/recommend.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "ml/artefact.h"
#include "ml/copurchase.h"

#define TABLE_SIZE 4096 /* power of two, twice REC_CANDIDATES */
#define REC_CANDIDATES 2048
#define CONTENT_MAX (2 * REC_LIMIT_MAX)

void rec_weights_init(rec_weights *w)
{
    w->copurchase = 1.0f;
    w->content = 0.6f;
    w->als = 0.4f;
    w->popular = 0.3f;
    w->recency_decay = 0.8f;
}

/* ---- candidate accumulation ---- */

typedef struct acc {
    int32_t key[TABLE_SIZE]; /* item index, -1 = empty */
    float val[TABLE_SIZE];
    int32_t list[REC_CANDIDATES]; /* slots in insertion order */
    int n;
} acc;

static void acc_init(acc *a)
{
    memset(a->key, 0xff, sizeof a->key);
    a->n = 0;
}

static void acc_add(acc *a, int32_t item, float v)
{
    uint32_t h = ((uint32_t)item * 2654435761u) & (TABLE_SIZE - 1);
    while (a->key[h] >= 0 && a->key[h] != item)
        h = (h + 1) & (TABLE_SIZE - 1);
    if (a->key[h] == item) {
        a->val[h] += v;
        return;
    }
    if (a->n == REC_CANDIDATES)
        return; /* full: later, weaker candidates are dropped */
    a->key[h] = item;
    a->val[h] = v;
    a->list[a->n++] = (int32_t)h;
}

/* Sorted item indices not to return. */
typedef struct excl {
    int32_t item[REC_HISTORY_MAX + 1];
    int n;
} excl;

static int cmp_i32(const void *x, const void *y)
{
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

static bool excl_has(const excl *e, int32_t item)
{
    int lo = 0, hi = e->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (e->item[mid] < item)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < e->n && e->item[lo] == item;
}

static void excl_from_ids(const rec_model *m, const int64_t *ids, int n, int32_t also, excl *e)
{
    e->n = 0;
    if (n > REC_HISTORY_MAX)
        n = REC_HISTORY_MAX;
    for (int t = 0; t < n; t++) {
        int32_t i = rec_model_item(m, ids[t]);
        if (i >= 0)
            e->item[e->n++] = i;
    }
    if (also >= 0)
        e->item[e->n++] = also;
    qsort(e->item, (size_t)e->n, sizeof *e->item, cmp_i32);
}

static bool usable(const rec_model *m, const excl *e, int32_t item)
{
    return item >= 0 && m->item_active[item] && !excl_has(e, item);
}

/* Adds item i's co-purchase row, scaled so its best neighbour gets `w`. */
static void add_copurchase(const rec_model *m, acc *a, int32_t i, float w)
{
    uint32_t k = m->h.k_cp;
    const int32_t *nb = m->cp_item + (size_t)i * k;
    const float *sc = m->cp_score + (size_t)i * k;
    if (!(w > 0) || k == 0 || nb[0] < 0 || !(sc[0] > 0))
        return;
    for (uint32_t t = 0; t < k && nb[t] >= 0; t++)
        acc_add(a, nb[t], w * sc[t] / sc[0]);
}

/* Selects the best `limit` usable candidates into `out`. */
static int select_best(const rec_model *m, const rec_weights *w, acc *a, const excl *e, int limit,
                       rec_item *out)
{
    int32_t hi[REC_LIMIT_MAX];
    float hs[REC_LIMIT_MAX];
    rec_topk h = {.cap = limit, .item = hi, .score = hs};
    for (int t = 0; t < a->n; t++) {
        int32_t slot = a->list[t], item = a->key[slot];
        if (usable(m, e, item))
            rec_topk_push(&h, item, a->val[slot] + w->popular * m->pop_score[item]);
    }
    int n = rec_topk_sort(&h);
    for (int t = 0; t < n; t++)
        out[t] = (rec_item){m->item_ids[hi[t]], hs[t]};
    return n;
}

/* Appends usable items of `list` (-1 ends it) not already in out[0..n). */
static int fill_from(const rec_model *m, const excl *e, const int32_t *list, uint32_t len, int n,
                     int limit, rec_item *out)
{
    for (uint32_t t = 0; t < len && n < limit && list[t] >= 0; t++) {
        int32_t item = list[t];
        if (!usable(m, e, item))
            continue;
        bool dup = false;
        for (int q = 0; q < n && !dup; q++)
            dup = out[q].product_id == m->item_ids[item];
        if (!dup)
            out[n++] = (rec_item){m->item_ids[item], 0.0f};
    }
    return n;
}

static int fill_category(const rec_model *m, const excl *e, int32_t i, int n, int limit,
                         rec_item *out, unsigned *src)
{
    if (i < 0 || m->item_category[i] == 0 || m->h.k_cat == 0)
        return n;
    uint32_t lo = 0, hi = m->h.n_categories;
    int64_t cat = m->item_category[i];
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (m->cat_ids[mid] < cat)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == m->h.n_categories || m->cat_ids[lo] != cat)
        return n;
    int before = n;
    n = fill_from(m, e, m->cat_top + (size_t)lo * m->h.k_cat, m->h.k_cat, n, limit, out);
    if (n > before)
        *src |= REC_FROM_CATEGORY;
    return n;
}

static int fill_popular(const rec_model *m, const excl *e, int n, int limit, rec_item *out,
                        unsigned *src)
{
    int before = n;
    n = fill_from(m, e, m->popular, m->h.n_popular, n, limit, out);
    if (n > before)
        *src |= REC_FROM_POPULAR;
    return n;
}

/* ---- queries ---- */

int rec_similar(const rec_model *m, const rec_weights *w, const rec_content *content, int64_t id,
                int limit, rec_item *out, unsigned *sources)
{
    rec_weights defaults;
    unsigned src = 0;
    if (limit < 1 || limit > REC_LIMIT_MAX)
        return SM_EINVAL;
    if (!w) {
        rec_weights_init(&defaults);
        w = &defaults;
    }
    acc *a = malloc(sizeof *a);
    if (!a)
        return SM_ENOMEM;
    acc_init(a);
    int32_t i = rec_model_item(m, id);
    excl e;
    excl_from_ids(m, NULL, 0, i, &e);
    if (i >= 0) {
        int before = a->n;
        add_copurchase(m, a, i, w->copurchase);
        if (a->n > before)
            src |= REC_FROM_COPURCHASE;
    }
    if (content && content->fn && w->content > 0) {
        int64_t ids[CONTENT_MAX];
        float sc[CONTENT_MAX];
        int cap = 2 * limit + 1 < CONTENT_MAX ? 2 * limit + 1 : CONTENT_MAX;
        int got = content->fn(id, cap, ids, sc, content->ctx);
        for (int t = 0; t < got && t < cap; t++) {
            int32_t j = rec_model_item(m, ids[t]);
            if (j >= 0 && j != i && sc[t] > 0) {
                acc_add(a, j, w->content * (sc[t] > 1 ? 1 : sc[t]));
                src |= REC_FROM_CONTENT;
            }
        }
    }
    int n = select_best(m, w, a, &e, limit, out);
    free(a);
    if (n < limit)
        n = fill_category(m, &e, i, n, limit, out, &src);
    if (n < limit)
        n = fill_popular(m, &e, n, limit, out, &src);
    if (sources)
        *sources = src;
    return n;
}

int rec_also_bought(const rec_model *m, int64_t id, int limit, rec_item *out, unsigned *sources)
{
    if (limit < 1 || limit > REC_LIMIT_MAX)
        return SM_EINVAL;
    int32_t i = rec_model_item(m, id);
    int n = 0;
    if (i >= 0) {
        const int32_t *nb = m->cp_item + (size_t)i * m->h.k_cp;
        const float *sc = m->cp_score + (size_t)i * m->h.k_cp;
        for (uint32_t t = 0; t < m->h.k_cp && nb[t] >= 0 && n < limit; t++)
            if (m->item_active[nb[t]])
                out[n++] = (rec_item){m->item_ids[nb[t]], sc[t]};
    }
    if (sources)
        *sources = n > 0 ? REC_FROM_COPURCHASE : 0;
    return n;
}

int rec_for_user(const rec_model *m, const rec_weights *w, int64_t user_id, const int64_t *history,
                 int n_history, int limit, rec_item *out, unsigned *sources)
{
    rec_weights defaults;
    unsigned src = 0;
    if (limit < 1 || limit > REC_LIMIT_MAX || n_history < 0)
        return SM_EINVAL;
    if (!w) {
        rec_weights_init(&defaults);
        w = &defaults;
    }
    acc *a = malloc(sizeof *a);
    if (!a)
        return SM_ENOMEM;
    acc_init(a);
    excl e;
    excl_from_ids(m, history, n_history, -1, &e);
    int32_t u = rec_model_user(m, user_id);
    if (u >= 0 && m->h.k_als > 0 && w->als > 0) {
        const int32_t *it = m->als_item + (size_t)u * m->h.k_als;
        const float *sc = m->als_score + (size_t)u * m->h.k_als;
        float top = sc[0];
        for (uint32_t t = 0; t < m->h.k_als && it[t] >= 0 && top > 0; t++)
            if (sc[t] > 0)
                acc_add(a, it[t], w->als * sc[t] / top);
        if (a->n > 0)
            src |= REC_FROM_ALS;
    }
    /* Recent purchases, most recent first; repeats count once. */
    int32_t seen[REC_HISTORY_RECENT];
    int nseen = 0, before = a->n;
    float weight = 1.0f;
    for (int t = 0; t < n_history && t < REC_HISTORY_MAX && nseen < REC_HISTORY_RECENT; t++) {
        int32_t i = rec_model_item(m, history[t]);
        bool dup = i < 0;
        for (int q = 0; q < nseen && !dup; q++)
            dup = seen[q] == i;
        if (dup)
            continue;
        seen[nseen++] = i;
        add_copurchase(m, a, i, w->copurchase * weight);
        weight *= w->recency_decay;
    }
    if (a->n > before)
        src |= REC_FROM_COPURCHASE;
    int n = select_best(m, w, a, &e, limit, out);
    free(a);
    if (n < limit)
        n = fill_popular(m, &e, n, limit, out, &src);
    if (sources)
        *sources = src;
    return n;
}

int rec_popular(const rec_model *m, const int64_t *exclude, int n_exclude, int limit, rec_item *out,
                unsigned *sources)
{
    unsigned src = 0;
    if (limit < 1 || limit > REC_LIMIT_MAX || n_exclude < 0)
        return SM_EINVAL;
    excl e;
    excl_from_ids(m, exclude, n_exclude, -1, &e);
    int n = fill_popular(m, &e, 0, limit, out, &src);
    if (sources)
        *sources = src;
    return n;
}

/* ---- serving the active version ---- */

typedef struct served {
    rec_model *m;
    char dir[ARTEFACT_PATH_MAX];
    char version[ARTEFACT_VERSION_MAX];
    int refs; /* readers, plus one while current */
    struct served *next;
} served;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static served *g_list;    /* every live version; the head is current */
static served *g_current; /* NULL before the first model */
static bool g_loading;
static int64_t g_checked_ms;
static char g_data_dir[ARTEFACT_PATH_MAX];

/* Drops one reference of `s`, freeing it when unused and not current.
 * Called with g_lock held. */
static void served_unref(served *s)
{
    if (--s->refs > 0 || s == g_current)
        return;
    for (served **p = &g_list; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    rec_model_close(s->m);
    free(s);
}

/* Opens the active version when it differs from `have`. Returns the new
 * entry (refs 0) or NULL when nothing changed or on failure (*rc set). */
static served *load_if_changed(const char *data_dir, const served *have, int *rc, sm_error *err)
{
    char dir[ARTEFACT_PATH_MAX], version[ARTEFACT_VERSION_MAX], path[ARTEFACT_PATH_MAX];
    *rc = artefact_current(data_dir, dir, version, err);
    if (*rc < 0)
        return NULL;
    if (have && strcmp(have->dir, dir) == 0)
        return NULL;
    if ((*rc = artefact_path(dir, REC_MODEL_FILE, path, err)) < 0)
        return NULL;
    served *s = calloc(1, sizeof *s);
    if (!s) {
        *rc = sm_error_set(err, SM_ENOMEM, "out of memory");
        return NULL;
    }
    if ((*rc = rec_model_open(path, &s->m, err)) < 0) {
        free(s);
        return NULL;
    }
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->version, sizeof s->version, "%s", version);
    return s;
}

int rec_serving_acquire(const char *data_dir, const rec_model **out, char *version, sm_error *err)
{
    int64_t now = (int64_t)(clock_mono_ns() / 1000000u);
    bool check = false;
    *out = NULL;
    pthread_mutex_lock(&g_lock);
    if (strcmp(g_data_dir, data_dir) != 0) {
        snprintf(g_data_dir, sizeof g_data_dir, "%s", data_dir);
        served *old = g_current;
        g_checked_ms = 0;
        g_current = NULL; /* readers of the old one keep it until they release it */
        if (old)
            served_unref(old);
    }
    if (!g_loading && (g_checked_ms == 0 || now - g_checked_ms >= REC_RELOAD_CHECK_MS)) {
        g_loading = check = true;
        g_checked_ms = now;
    }
    served *s = g_current;
    if (s)
        s->refs++;
    pthread_mutex_unlock(&g_lock);

    if (check) {
        int rc = 0;
        sm_error load_err = {0};
        served *fresh = load_if_changed(data_dir, s, &rc, &load_err);
        pthread_mutex_lock(&g_lock);
        g_loading = false;
        if (fresh) {
            served *old = g_current;
            fresh->refs = 2; /* current + this reader */
            fresh->next = g_list;
            g_list = fresh;
            g_current = fresh;
            if (old)
                served_unref(old); /* no longer current */
            if (s)
                served_unref(s);
            s = fresh;
        } else if (rc < 0 && rc != SM_ENOTFOUND && !s) {
            pthread_mutex_unlock(&g_lock);
            if (err)
                *err = load_err;
            return rc;
        }
        pthread_mutex_unlock(&g_lock);
    }
    if (!s)
        return sm_error_set(err, SM_ENOTFOUND, "no recommendation model is built yet");
    if (version)
        snprintf(version, ARTEFACT_VERSION_MAX, "%s", s->version);
    *out = s->m;
    return 0;
}

void rec_serving_release(const rec_model *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&g_lock);
    for (served *s = g_list; s; s = s->next)
        if (s->m == m) {
            served_unref(s);
            break;
        }
    pthread_mutex_unlock(&g_lock);
}
