/* search.c — query analysis, scoring, fusion, filters, facets, pages.
 *
 * Per query, four dense arrays of one entry per document are used: BM25
 * scores, matched-word bit masks, the fused sort key, and the vector scores.
 * They live in per-thread scratch (grown to the largest index seen, freed at
 * thread exit), with the facet counters, so a query allocates only its
 * JSON answer. At 100k documents the arrays are 1.6 MB, restored per query
 * by undoing the entries it touched.
 *
 * The vector side asks vindex_search() for the SEARCH_VECTOR_K nearest
 * documents that pass the filters: through the snapshot's approximate
 * index when it has one (catalogues of ML_ANN_MIN_DOCS and more), by the
 * exact scan otherwise (vindex.h).
 *
 * A document is in the result when it passes the filters and either
 * matches the lexical requirement or is one of the close vector
 * neighbours. Its fused key is its RRF score (relevance), or the sort
 * field. Non-members get -INFINITY, and the page is the top
 * page × page_size by key, cut with the heap of vindex.c. */
#include "ml/search.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/text.h"
#include "ml/vindex.h"

#define TYPO_EXPANSIONS 8
#define LEX_RANKED 1000 /* BM25 ranks fused; beyond, a document keeps a tiny key */
#define PRICE_BUCKETS 5

static const int64_t price_edges[PRICE_BUCKETS - 1] = {1000, 5000, 10000, 50000};

/* Invariants between queries: scores and hits all zero, keys all
 * -INFINITY; a query restores the entries it touched. */
typedef struct scratch {
    uint32_t cap;
    float *scores, *keys, *vec;
    uint32_t *hits, *cand;
    vindex_hit *top, *list;
    size_t nlist;
    struct facets *fc; /* empty between queries */
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    scratch *s = p;
    if (!s)
        return;
    free(s->scores);
    free(s->keys);
    free(s->vec);
    free(s->hits);
    free(s->cand);
    free(s->top);
    free(s->list);
    free(s->fc);
    free(s);
}

static void scratch_key_init(void)
{
    (void)pthread_key_create(&scratch_key, scratch_free);
}

static scratch *scratch_get(uint32_t n)
{
    (void)pthread_once(&scratch_once, scratch_key_init);
    scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        if (!(s = calloc(1, sizeof *s)) || pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
        if (!(s->top = malloc(sizeof *s->top * VINDEX_K_MAX)))
            return NULL;
    }
    if (!s->top)
        return NULL;
    if (s->cap < n || !s->scores) {
        uint32_t cap = n < 1024 ? 1024 : n;
        free(s->scores), free(s->keys), free(s->vec), free(s->hits), free(s->cand), free(s->list);
        s->scores = calloc(cap, sizeof(float));
        s->keys = malloc(sizeof(float) * cap);
        s->vec = malloc(sizeof(float) * cap);
        s->hits = calloc(cap, sizeof(uint32_t));
        s->cand = malloc(sizeof(uint32_t) * cap);
        s->list = malloc(sizeof(vindex_hit) * cap);
        s->cap = s->scores && s->keys && s->vec && s->hits && s->cand && s->list ? cap : 0;
        if (!s->cap)
            return NULL;
        for (uint32_t i = 0; i < cap; i++)
            s->keys[i] = -INFINITY;
    }
    return s;
}

void search_params_init(search_params *p)
{
    memset(p, 0, sizeof *p);
    p->in_stock = -1;
    p->page = 1;
    p->page_size = 20;
}

int search_sort_parse(const char *s, search_sort *out)
{
    static const char *const names[] = {"relevance", "price", "-price", "newest"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (search_sort)i;
            return 0;
        }
    return SM_EINVAL;
}

/* ---- the query ---- */

typedef struct qterm {
    char word[TEXT_TERM_MAX]; /* stemmed */
    size_t chars;             /* of the surface word, for the typo budget */
} qterm;

typedef struct query {
    qterm words[SEARCH_TERMS_MAX];
    int nwords;
    uint32_t terms[SEARCH_TERMS_MAX * (TYPO_EXPANSIONS + 1)]; /* matched term ids */
    float weights[SEARCH_TERMS_MAX * (TYPO_EXPANSIONS + 1)];
    uint8_t word_of[SEARCH_TERMS_MAX * (TYPO_EXPANSIONS + 1)];
    int nterms;
    uint32_t required; /* bit per word that matched anything */
} query;

static int collect_word(const text_token *t, void *arg)
{
    query *q = arg;
    for (int i = 0; i < q->nwords; i++)
        if (strcmp(q->words[i].word, t->term) == 0)
            return 0;
    if (q->nwords == SEARCH_TERMS_MAX)
        return 0;
    qterm *w = &q->words[q->nwords++];
    snprintf(w->word, sizeof w->word, "%s", t->term);
    w->chars = text_utf8_length(t->surface);
    return 0;
}

typedef struct fuzzy_ctx {
    query *q;
    int word;
} fuzzy_ctx;

static void add_fuzzy(uint32_t t, int distance, void *arg)
{
    fuzzy_ctx *c = arg;
    query *q = c->q;
    if (q->nterms >= (int)(sizeof q->terms / sizeof *q->terms))
        return;
    q->terms[q->nterms] = t;
    q->word_of[q->nterms] = (uint8_t)c->word;
    q->weights[q->nterms++] = distance == 1 ? 0.6f : 0.35f;
    q->required |= 1u << c->word;
}

static int query_parse(const snapshot *s, const char *text, query *q)
{
    memset(q, 0, sizeof *q);
    text_analyzer *a = text_analyzer_thread();
    if (!a)
        return SM_ENOMEM;
    size_t len = strnlen(text, SEARCH_QUERY_MAX);
    int rc = text_analyze(a, text, len, collect_word, q);
    if (rc)
        return rc;
    for (int i = 0; i < q->nwords; i++) {
        int64_t t = lexical_term_find(&s->lex, q->words[i].word);
        if (t >= 0) {
            q->terms[q->nterms] = (uint32_t)t;
            q->word_of[q->nterms] = (uint8_t)i;
            q->weights[q->nterms++] = 1.0f;
            q->required |= 1u << i;
            continue;
        }
        fuzzy_ctx c = {q, i};
        int budget = lexical_typo_budget(q->words[i].chars);
        if (budget > 0)
            lexical_fuzzy(&s->lex, q->words[i].word, budget, TYPO_EXPANSIONS, add_fuzzy, &c);
    }
    return 0;
}

/* ---- filters ---- */

typedef struct filter {
    int64_t category; /* -1 any, -2 unknown (nothing matches) */
    const search_params *p;
} filter;

static bool filter_pass(const filter *f, const ml_doc *d)
{
    const search_params *p = f->p;
    if (f->category == -2)
        return false;
    if (f->category >= 0 && d->category_id != f->category && d->parent_category_id != f->category)
        return false;
    if (p->has_min_price && d->price_cents < p->min_price)
        return false;
    if (p->has_max_price && d->price_cents > p->max_price)
        return false;
    if (p->in_stock == 1 && d->stock <= 0)
        return false;
    if (p->in_stock == 0 && d->stock > 0)
        return false;
    return true;
}

/* Whether `f` can reject a document at all (else the vector side runs
 * unfiltered, which the approximate index answers fastest). */
static bool filter_active(const filter *f)
{
    const search_params *p = f->p;
    return f->category != -1 || p->has_min_price || p->has_max_price || p->in_stock != -1;
}

typedef struct filter_ctx {
    const filter *f;
    const ml_doc *docs;
} filter_ctx;

static bool filter_keep(uint32_t row, void *arg)
{
    const filter_ctx *c = arg;
    return filter_pass(c->f, &c->docs[row]);
}

/* ---- facets: small bounded counters keyed by integers ---- */

#define COUNTER_SLOTS 4096

typedef struct counter {
    int64_t key[COUNTER_SLOTS];
    uint32_t count[COUNTER_SLOTS];
    uint32_t row[COUNTER_SLOTS]; /* one document carrying the key, for its label */
    bool used[COUNTER_SLOTS];
    uint16_t slots[COUNTER_SLOTS / 2]; /* the used slots, to clear only those */
    int n;
} counter;

static void counter_add(counter *c, int64_t key, uint32_t row)
{
    uint32_t h = (uint32_t)((uint64_t)key * 0x9E3779B97F4A7C15ull >> 52) & (COUNTER_SLOTS - 1);
    for (int probes = 0; probes < COUNTER_SLOTS; probes++, h = (h + 1) & (COUNTER_SLOTS - 1)) {
        if (c->used[h] && c->key[h] == key) {
            c->count[h]++;
            return;
        }
        if (!c->used[h]) {
            if (c->n >= COUNTER_SLOTS / 2) /* bounded: rare keys past the bound are dropped */
                return;
            c->used[h] = true;
            c->slots[c->n] = (uint16_t)h;
            c->key[h] = key;
            c->count[h] = 1;
            c->row[h] = row;
            c->n++;
            return;
        }
    }
}

typedef struct facets {
    counter category, brand;
    uint32_t price[PRICE_BUCKETS];
} facets;

/* Back to empty, touching only the used slots: the counters are 70 kB
 * each, kept per thread rather than allocated and zeroed per query. */
static void counter_clear(counter *c)
{
    for (int i = 0; i < c->n; i++)
        c->used[c->slots[i]] = false;
    c->n = 0;
}

static void facets_clear(facets *f)
{
    counter_clear(&f->category);
    counter_clear(&f->brand);
    memset(f->price, 0, sizeof f->price);
}

static void facets_add(facets *f, const ml_doc *d, uint32_t row)
{
    counter_add(&f->category, d->category_id, row);
    counter_add(&f->brand, d->brand, row);
    int b = 0;
    while (b < PRICE_BUCKETS - 1 && d->price_cents >= price_edges[b])
        b++;
    f->price[b]++;
}

static int cmp_slot_count(const void *a, const void *b, void *arg)
{
    const counter *c = arg;
    uint32_t x = c->count[*(const int *)a], y = c->count[*(const int *)b];
    return x < y ? 1 : x > y ? -1 : *(const int *)a - *(const int *)b;
}

/* The 20 largest buckets of `c`, as [{id?, name, count}]. */
static json_t *facet_json(const snapshot *s, const counter *c, bool category)
{
    int idx[COUNTER_SLOTS], n = 0;
    for (int i = 0; i < COUNTER_SLOTS; i++)
        if (c->used[i])
            idx[n++] = i;
    qsort_r(idx, (size_t)n, sizeof *idx, cmp_slot_count, (void *)c);
    json_t *arr = json_array();
    for (int i = 0; arr && i < n && i < 20; i++) {
        const ml_doc *d = &s->docs.docs[c->row[idx[i]]];
        json_t *o = category
                        ? json_pack("{sIsssi}", "id", (json_int_t)d->category_id, "name",
                                    docs_str(&s->docs, d->category), "count", (int)c->count[idx[i]])
                        : json_pack("{sssi}", "name", docs_str(&s->docs, d->brand), "count",
                                    (int)c->count[idx[i]]);
        if (!o || (category ? d->category_id == 0 : !*docs_str(&s->docs, d->brand))) {
            json_decref(o);
            continue;
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *price_facet_json(const facets *f)
{
    json_t *arr = json_array();
    for (int b = 0; arr && b < PRICE_BUCKETS; b++) {
        json_t *o = json_pack("{si}", "count", (int)f->price[b]);
        if (!o)
            continue;
        json_object_set_new(o, "min", b > 0 ? json_integer(price_edges[b - 1]) : json_integer(0));
        json_object_set_new(o, "max",
                            b < PRICE_BUCKETS - 1 ? json_integer(price_edges[b] - 1) : json_null());
        json_array_append_new(arr, o);
    }
    return arr;
}

/* ---- ranking ---- */

static float sort_key(const ml_doc *d, search_sort sort)
{
    switch (sort) {
    case SEARCH_SORT_PRICE: return -(float)d->price_cents;
    case SEARCH_SORT_PRICE_DESC: return (float)d->price_cents;
    case SEARCH_SORT_NEWEST:
        return (float)d->created_at / 1000.0f; /* seconds keep float ties rare */
    default: return 0.0f;
    }
}

/* Fills sc->list with the result — (row, key) pairs, key the fused RRF
 * score or the sort field — and the facets (may be NULL); returns its
 * length. Work is proportional to the postings of the query's terms plus
 * the vector search, except when browsing without words (every document). */
static size_t rank_all(const snapshot *s, const query *q, const search_params *p, const filter *f,
                       scratch *sc, facets *fc)
{
    uint32_t n = s->lex.ndocs;
    const ml_doc *docs = s->docs.docs;
    search_sort sort = p->sort;
    vindex_hit *list = sc->list;
    size_t nl = 0;
    if (q->nwords == 0) {
        if (sort == SEARCH_SORT_RELEVANCE)
            sort = SEARCH_SORT_NEWEST;
        for (uint32_t d = 0; d < n; d++)
            if (filter_pass(f, &docs[d]))
                list[nl++] = (vindex_hit){d, 0.0f};
    } else {
        size_t nc = 0;
        if (p->mode != SEARCH_VECTOR)
            for (int k = 0; k < q->nterms; k++)
                lexical_score_term(&s->lex, q->terms[k], q->weights[k], sc->scores, sc->hits,
                                   1u << q->word_of[k], sc->cand, &nc);
        /* all words required, unless no document holds them all */
        uint32_t req = q->required;
        bool all = false;
        for (size_t i = 0; i < nc && req && !all; i++)
            all = (sc->hits[sc->cand[i]] & req) == req && filter_pass(f, &docs[sc->cand[i]]);
        for (size_t i = 0; i < nc; i++) {
            uint32_t d = sc->cand[i];
            if ((!all || (sc->hits[d] & req) == req) && filter_pass(f, &docs[d]))
                list[nl++] = (vindex_hit){d, sc->scores[d]};
        }
        size_t nt = vindex_top_hits(list, nl, LEX_RANKED, sc->top);
        for (size_t i = 0; i < nl; i++) /* beyond the fused ranks: a tiny BM25-ordered key */
            sc->keys[list[i].row] = 1e-6f * list[i].score / (1.0f + list[i].score);
        for (size_t r = 0; r < nt; r++)
            sc->keys[sc->top[r].row] += 1.0f / (SEARCH_RRF_K + (float)r + 1.0f);
        float qv[VECTORS_DIM_MAX];
        if (p->mode != SEARCH_BM25 && s->vec.dim > 0 &&
            vectors_query_text(&s->vec, &s->lex, p->q, q->terms, q->weights, (size_t)q->nterms,
                               qv)) {
            filter_ctx fx = {f, docs};
            size_t nv = vindex_search(&s->vi, qv, SEARCH_VECTOR_K, SEARCH_VECTOR_MIN,
                                      filter_active(f) ? filter_keep : NULL, &fx, sc->vec, sc->top);
            for (size_t r = 0; r < nv; r++) {
                uint32_t d = sc->top[r].row;
                if (!filter_pass(f, &docs[d]))
                    continue;
                if (sc->keys[d] == -INFINITY) {
                    sc->keys[d] = 0.0f;
                    list[nl++] = (vindex_hit){d, 0.0f};
                }
                sc->keys[d] += 1.0f / (SEARCH_RRF_K + (float)r + 1.0f);
            }
        }
        for (size_t i = 0; i < nl; i++) { /* collect keys, restore the invariants */
            list[i].score = sc->keys[list[i].row];
            sc->keys[list[i].row] = -INFINITY;
        }
        for (size_t i = 0; i < nc; i++) {
            sc->scores[sc->cand[i]] = 0.0f;
            sc->hits[sc->cand[i]] = 0;
        }
    }
    for (size_t i = 0; i < nl; i++) {
        if (fc)
            facets_add(fc, &docs[list[i].row], list[i].row);
        if (sort != SEARCH_SORT_RELEVANCE)
            list[i].score = sort_key(&docs[list[i].row], sort);
    }
    sc->nlist = nl;
    return nl;
}

int search_rank(const snapshot *s, const char *q, search_mode mode, uint32_t *rows, int k)
{
    search_params p;
    search_params_init(&p);
    p.mode = mode;
    p.q = q; /* the raw text, for an embeddings query vector */
    filter f = {.category = -1, .p = &p};
    query qu;
    scratch *sc = scratch_get(s->lex.ndocs);
    if (!sc)
        return SM_ENOMEM;
    int rc = query_parse(s, q, &qu);
    if (rc)
        return rc;
    size_t nl = rank_all(s, &qu, &p, &f, sc, NULL);
    size_t nt =
        vindex_top_hits(sc->list, nl, k > SEARCH_DEPTH_MAX ? SEARCH_DEPTH_MAX : (size_t)k, sc->top);
    for (size_t i = 0; i < nt; i++)
        rows[i] = sc->top[i].row;
    return (int)nt;
}

/* ---- rendering ---- */

typedef struct mark_ctx {
    const snapshot *s;
    const query *q;
    size_t spans[64][2];
    int n;
} mark_ctx;

static int mark_token(const text_token *t, void *arg)
{
    mark_ctx *c = arg;
    int64_t id = lexical_term_find(&c->s->lex, t->term);
    if (id < 0 || c->n == 64)
        return 0;
    for (int k = 0; k < c->q->nterms; k++)
        if (c->q->terms[k] == (uint32_t)id) {
            /* a compound's joined form comes after its parts: it replaces
             * the spans it covers, so "T-shirt" is marked whole */
            while (c->n > 0 && c->spans[c->n - 1][0] >= t->start)
                c->n--;
            c->spans[c->n][0] = t->start;
            c->spans[c->n++][1] = t->end;
            break;
        }
    return 0;
}

static void put_escaped(char *out, size_t *o, size_t cap, const char *s, size_t len)
{
    for (size_t i = 0; i < len && *o + 7 < cap; i++) {
        const char *e = s[i] == '<'   ? "&lt;"
                        : s[i] == '>' ? "&gt;"
                        : s[i] == '&' ? "&amp;"
                        : s[i] == '"' ? "&quot;"
                                      : NULL;
        if (e) {
            size_t el = strlen(e);
            memcpy(out + *o, e, el);
            *o += el;
        } else {
            out[(*o)++] = s[i];
        }
    }
}

/* The name, HTML-escaped, with matched words wrapped in <em>. */
static json_t *highlight(const snapshot *s, const query *q, const char *name)
{
    mark_ctx c = {.s = s, .q = q};
    text_analyzer *a = text_analyzer_thread();
    size_t len = strlen(name);
    if (a && q->nterms)
        (void)text_analyze(a, name, len, mark_token, &c);
    char out[2048];
    size_t o = 0, pos = 0;
    for (int i = 0; i < c.n; i++) {
        size_t st = c.spans[i][0], en = c.spans[i][1];
        if (st < pos) /* overlapping: a compound's joined form covers its parts */
            continue;
        put_escaped(out, &o, sizeof out - 16, name + pos, st - pos);
        memcpy(out + o, "<em>", 4), o += 4;
        put_escaped(out, &o, sizeof out - 16, name + st, en - st);
        memcpy(out + o, "</em>", 5), o += 5;
        pos = en;
    }
    put_escaped(out, &o, sizeof out - 16, name + pos, len > pos ? len - pos : 0);
    out[o] = '\0';
    return json_string(out);
}

typedef struct suggest_ctx {
    const lexical_index *ix;
    int64_t best;
    int dist;
    uint32_t df;
} suggest_ctx;

static void suggest_match(uint32_t t, int distance, void *arg)
{
    suggest_ctx *c = arg;
    uint32_t df = lexical_term_df(c->ix, t);
    if (c->best < 0 || distance < c->dist || (distance == c->dist && df > c->df)) {
        c->best = t;
        c->dist = distance;
        c->df = df;
    }
}

static json_t *suggestions(const snapshot *s, const query *q)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < q->nwords; i++) {
        if (q->words[i].chars < 3)
            continue;
        suggest_ctx c = {.ix = &s->lex, .best = -1};
        lexical_fuzzy(&s->lex, q->words[i].word, 2, 64, suggest_match, &c);
        if (c.best >= 0)
            json_array_append_new(arr,
                                  json_string(lexical_term_surface(&s->lex, (uint32_t)c.best)));
    }
    return arr;
}

static json_t *item_json(const snapshot *s, const query *q, uint32_t row, float score)
{
    const ml_doc *d = &s->docs.docs[row];
    const char *name = docs_str(&s->docs, d->name);
    json_t *o = json_pack("{sIsssosssIsssIsbs{sIss}sf}", "id", (json_int_t)d->id, "name", name,
                          "highlight", highlight(s, q, name), "brand", docs_str(&s->docs, d->brand),
                          "price_cents", (json_int_t)d->price_cents, "currency",
                          docs_str(&s->docs, d->currency), "stock", (json_int_t)d->stock,
                          "in_stock", d->stock > 0, "category", "id", (json_int_t)d->category_id,
                          "name", docs_str(&s->docs, d->category), "score", (double)score);
    return o;
}

int search_run(const snapshot *s, const search_params *p, json_t **out, sm_error *err)
{
    if (p->page < 1 || p->page_size < 1 || p->page_size > SEARCH_PAGE_SIZE_MAX ||
        p->page * p->page_size > SEARCH_DEPTH_MAX)
        return sm_error_set(err, SM_EINVAL, "page × page_size must be at most %d",
                            SEARCH_DEPTH_MAX);
    query q;
    scratch *sc = scratch_get(s->lex.ndocs);
    facets *fc = NULL;
    json_t *res = NULL, *items = NULL;
    int rc = SM_ENOMEM;
    if (!sc || (!sc->fc && !(sc->fc = calloc(1, sizeof *sc->fc))))
        goto fail;
    fc = sc->fc;
    if ((rc = query_parse(s, p->q ? p->q : "", &q)) != 0)
        goto fail;
    filter f = {.category = -1, .p = p};
    if (p->category && *p->category) {
        int64_t id = docs_category_find(&s->docs, p->category);
        f.category = id >= 0 ? id : -2;
    }
    /* words that match nothing, not even with typos: an empty result */
    /* (with embeddings, unknown words may still mean something: ask the vectors) */
    size_t total = (q.nwords > 0 && q.nterms == 0 && s->vec.source != VECTORS_SOURCE_EMBEDDINGS)
                       ? 0
                       : rank_all(s, &q, p, &f, sc, fc);
    size_t depth = (size_t)(p->page * p->page_size);
    size_t nt = total ? vindex_top_hits(sc->list, total, depth, sc->top) : 0;
    rc = SM_ENOMEM;
    if (!(items = json_array()))
        goto fail;
    for (size_t i = (size_t)((p->page - 1) * p->page_size); i < nt; i++) {
        json_t *it = item_json(s, &q, sc->top[i].row, sc->top[i].score);
        if (!it || json_array_append_new(items, it) != 0)
            goto fail;
    }
    res = json_pack("{sOsIsIsIsIs{sososo}soss}", "items", items, "page", (json_int_t)p->page,
                    "page_size", (json_int_t)p->page_size, "total", (json_int_t)total, "pages",
                    (json_int_t)((total + (size_t)p->page_size - 1) / (size_t)p->page_size),
                    "facets", "category", facet_json(s, &fc->category, true), "brand",
                    facet_json(s, &fc->brand, false), "price", price_facet_json(fc), "suggestions",
                    total == 0 && q.nwords ? suggestions(s, &q) : json_array(), "version",
                    s->version);
    if (!res)
        goto fail;
    json_object_set_new(res, "engine", json_string("index"));
    rc = 0;
    *out = res;
fail:
    if (rc == SM_ENOMEM)
        sm_error_fill(err, rc, "out of memory");
    json_decref(items);
    if (fc)
        facets_clear(fc);
    return rc;
}
