/* lexical.c — BM25 index building, the on-disk format, scoring and typos.
 *
 * The builder keeps a hash table from term to id, and per term a growing
 * postings list. Documents arrive in order, so a term's current document is
 * always the last entry of its list: adding an occurrence either bumps that
 * entry's weighted frequency or appends a new one — no per-document map.
 *
 * File format (native endianness, every section 8-byte aligned):
 *
 *   header      lexical_header below
 *   term_off    u32 × (nterms + 1)   terms sorted by bytes, into strings
 *   surf_off    u32 × nterms         display forms, into strings
 *   post_off    u64 × (nterms + 1)   into post_doc / post_tf
 *   post_doc    u32 × npostings
 *   post_tf     f32 × npostings
 *   doclen      f32 × ndocs
 *   strings     NUL-terminated terms and display forms
 *
 * lexical_index_open() checks every offset once, so lookups afterwards need
 * no bounds checks of their own. */
#include "ml/lexical.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const float lexical_field_weight[LEXICAL_FIELDS] = {3.0f, 2.0f, 1.5f, 1.0f};

#define LEXICAL_MAGIC "SMLEX01"
#define LEXICAL_MAX_DOCS (1u << 31)

typedef struct lexical_header {
    char magic[8];
    uint32_t nterms, ndocs;
    uint64_t npostings, strings_len;
    float avgdl, k1, b, reserved;
} lexical_header;

typedef struct postings {
    uint32_t *doc;
    float *tf;
    uint32_t n, cap;
    uint32_t term, surface; /* offsets into the builder's string pool */
} postings;

struct lexical_builder {
    postings *terms;
    uint32_t nterms, cap_terms;
    uint32_t *slots; /* open addressing: term id + 1, 0 = empty */
    uint32_t nslots;
    char *pool;
    size_t pool_len, pool_cap;
    float *doclen;
    uint32_t ndocs, cap_docs;
    uint64_t npostings;
};

lexical_builder *lexical_builder_new(void)
{
    lexical_builder *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->nslots = 1024;
    b->slots = calloc(b->nslots, sizeof *b->slots);
    if (!b->slots) {
        free(b);
        return NULL;
    }
    return b;
}

void lexical_builder_free(lexical_builder *b)
{
    if (!b)
        return;
    for (uint32_t i = 0; i < b->nterms; i++) {
        free(b->terms[i].doc);
        free(b->terms[i].tf);
    }
    free(b->terms);
    free(b->slots);
    free(b->pool);
    free(b->doclen);
    free(b);
}

static uint32_t hash_str(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int pool_add(lexical_builder *b, const char *s, size_t len, uint32_t *off)
{
    if (b->pool_len + len + 1 > b->pool_cap) {
        size_t cap = b->pool_cap ? b->pool_cap * 2 : 65536;
        while (cap < b->pool_len + len + 1)
            cap *= 2;
        if (cap > UINT32_MAX)
            return SM_ETOOLARGE;
        char *p = realloc(b->pool, cap);
        if (!p)
            return SM_ENOMEM;
        b->pool = p;
        b->pool_cap = cap;
    }
    memcpy(b->pool + b->pool_len, s, len);
    b->pool[b->pool_len + len] = '\0';
    *off = (uint32_t)b->pool_len;
    b->pool_len += len + 1;
    return 0;
}

static int rehash(lexical_builder *b)
{
    uint32_t n = b->nslots * 2;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return SM_ENOMEM;
    for (uint32_t i = 0; i < b->nterms; i++) {
        const char *s = b->pool + b->terms[i].term;
        uint32_t h = hash_str(s, strlen(s)) & (n - 1);
        while (slots[h])
            h = (h + 1) & (n - 1);
        slots[h] = i + 1;
    }
    free(b->slots);
    b->slots = slots;
    b->nslots = n;
    return 0;
}

/* Finds or creates the term; returns its id through *id. */
static int term_get(lexical_builder *b, const text_token *t, uint32_t *id)
{
    uint32_t h = hash_str(t->term, t->len) & (b->nslots - 1);
    for (; b->slots[h]; h = (h + 1) & (b->nslots - 1)) {
        const char *s = b->pool + b->terms[b->slots[h] - 1].term;
        if (strncmp(s, t->term, t->len) == 0 && s[t->len] == '\0') {
            *id = b->slots[h] - 1;
            return 0;
        }
    }
    if (b->nterms == b->cap_terms) {
        uint32_t cap = b->cap_terms ? b->cap_terms * 2 : 1024;
        postings *p = realloc(b->terms, cap * sizeof *p);
        if (!p)
            return SM_ENOMEM;
        b->terms = p;
        b->cap_terms = cap;
    }
    postings *p = &b->terms[b->nterms];
    memset(p, 0, sizeof *p);
    int rc = pool_add(b, t->term, t->len, &p->term);
    if (rc == 0)
        rc = pool_add(b, t->surface, strlen(t->surface), &p->surface);
    if (rc)
        return rc;
    b->slots[h] = b->nterms + 1;
    *id = b->nterms++;
    if (b->nterms * 2 > b->nslots)
        return rehash(b);
    return 0;
}

typedef struct add_ctx {
    lexical_builder *b;
    float weight;
    uint32_t doc;
} add_ctx;

static int add_token(const text_token *t, void *arg)
{
    add_ctx *c = arg;
    uint32_t id;
    int rc = term_get(c->b, t, &id);
    if (rc)
        return rc;
    postings *p = &c->b->terms[id];
    c->b->doclen[c->doc] += c->weight;
    if (p->n > 0 && p->doc[p->n - 1] == c->doc) {
        p->tf[p->n - 1] += c->weight;
        return 0;
    }
    if (p->n == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 4;
        uint32_t *d = realloc(p->doc, cap * sizeof *d);
        if (!d)
            return SM_ENOMEM;
        p->doc = d;
        float *f = realloc(p->tf, cap * sizeof *f);
        if (!f)
            return SM_ENOMEM;
        p->tf = f;
        p->cap = cap;
    }
    p->doc[p->n] = c->doc;
    p->tf[p->n++] = c->weight;
    c->b->npostings++;
    return 0;
}

int lexical_builder_add(lexical_builder *b, text_analyzer *a, const char *const *fields)
{
    if (b->ndocs >= LEXICAL_MAX_DOCS - 1)
        return SM_ETOOLARGE;
    if (b->ndocs == b->cap_docs) {
        uint32_t cap = b->cap_docs ? b->cap_docs * 2 : 1024;
        float *d = realloc(b->doclen, cap * sizeof *d);
        if (!d)
            return SM_ENOMEM;
        b->doclen = d;
        b->cap_docs = cap;
    }
    add_ctx c = {.b = b, .doc = b->ndocs};
    b->doclen[c.doc] = 0;
    for (int f = 0; f < LEXICAL_FIELDS; f++) {
        if (!fields[f])
            continue;
        c.weight = lexical_field_weight[f];
        int rc = text_analyze(a, fields[f], strlen(fields[f]), add_token, &c);
        if (rc)
            return rc;
    }
    b->ndocs++;
    return 0;
}

static const char *sort_pool;
static const postings *sort_terms;

static int cmp_term_id(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return strcmp(sort_pool + sort_terms[a].term, sort_pool + sort_terms[b].term);
}

/* Writes `len` bytes of `p` then pads to 8 bytes; a NULL `p` writes only
 * the padding of a section of that length (written in pieces before). */
static bool write_all(FILE *f, const void *p, size_t len)
{
    static const char zeros[8];
    if (p && len && fwrite(p, 1, len, f) != len)
        return false;
    size_t pad = (8 - len % 8) % 8;
    return pad == 0 || fwrite(zeros, 1, pad, f) == pad;
}

int lexical_builder_write(lexical_builder *b, const char *path, sm_error *err)
{
    static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;
    uint32_t n = b->nterms;
    uint32_t *order = malloc((n + 1) * sizeof *order);
    uint32_t *toff = malloc((n + 1) * sizeof *toff);
    uint32_t *soff = malloc((n + 1) * sizeof *soff);
    uint64_t *poff = malloc((n + 1) * sizeof *poff);
    char *strings = malloc(b->pool_len + 1);
    FILE *f = NULL;
    int rc = SM_ENOMEM;
    if (!order || !toff || !soff || !poff || !strings)
        goto fail;
    for (uint32_t i = 0; i < n; i++)
        order[i] = i;
    /* qsort has no context argument in C17: the comparison reads two
     * statics, so concurrent writers (tests) take turns. */
    pthread_mutex_lock(&sort_lock);
    sort_pool = b->pool;
    sort_terms = b->terms;
    qsort(order, n, sizeof *order, cmp_term_id);
    pthread_mutex_unlock(&sort_lock);

    size_t slen = 0;
    uint64_t pos = 0;
    for (uint32_t i = 0; i < n; i++) {
        const postings *p = &b->terms[order[i]];
        const char *t = b->pool + p->term, *s = b->pool + p->surface;
        size_t tl = strlen(t) + 1, sl = strlen(s) + 1;
        toff[i] = (uint32_t)slen;
        memcpy(strings + slen, t, tl);
        slen += tl;
        soff[i] = (uint32_t)slen;
        memcpy(strings + slen, s, sl);
        slen += sl;
        poff[i] = pos;
        pos += p->n;
    }
    toff[n] = (uint32_t)slen;
    poff[n] = pos;

    double total = 0;
    for (uint32_t d = 0; d < b->ndocs; d++)
        total += b->doclen[d];
    lexical_header h = {.magic = LEXICAL_MAGIC,
                        .nterms = n,
                        .ndocs = b->ndocs,
                        .npostings = pos,
                        .strings_len = slen,
                        .avgdl = b->ndocs ? (float)(total / b->ndocs) : 0.0f,
                        .k1 = LEXICAL_K1,
                        .b = LEXICAL_B};
    rc = SM_EIO;
    if (!(f = fopen(path, "wb"))) {
        sm_error_fill(err, SM_EIO, "%s: cannot create", path);
        goto fail;
    }
    bool ok = write_all(f, &h, sizeof h) && write_all(f, toff, (n + 1) * sizeof *toff) &&
              write_all(f, soff, n * sizeof *soff) && write_all(f, poff, (n + 1) * sizeof *poff);
    for (uint32_t i = 0; ok && i < n; i++) {
        const postings *p = &b->terms[order[i]];
        ok = p->n == 0 || fwrite(p->doc, sizeof *p->doc, p->n, f) == p->n;
    }
    ok = ok && write_all(f, NULL, pos * sizeof(uint32_t));
    for (uint32_t i = 0; ok && i < n; i++) {
        const postings *p = &b->terms[order[i]];
        ok = p->n == 0 || fwrite(p->tf, sizeof *p->tf, p->n, f) == p->n;
    }
    ok = ok && write_all(f, NULL, pos * sizeof(float)) &&
         write_all(f, b->doclen, b->ndocs * sizeof *b->doclen) && write_all(f, strings, slen);
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0)
        ok = false;
    f = NULL;
    if (!ok) {
        sm_error_fill(err, SM_EIO, "%s: write failed", path);
        goto fail;
    }
    rc = 0;
fail:
    if (rc == SM_ENOMEM)
        sm_error_fill(err, rc, "out of memory writing the lexical index");
    if (f)
        fclose(f);
    free(order);
    free(toff);
    free(soff);
    free(poff);
    free(strings);
    return rc;
}

static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

int lexical_index_open(const void *data, size_t len, lexical_index *out, sm_error *err)
{
    const lexical_header *h = data;
    if (len < sizeof *h || memcmp(h->magic, LEXICAL_MAGIC, 8) != 0)
        return sm_error_set(err, SM_EINVAL, "not a lexical index");
    uint64_t n = h->nterms, need = sizeof *h;
    const char *base = data;
    size_t o_toff = need;
    need += pad8((n + 1) * 4);
    size_t o_soff = need;
    need += pad8(n * 4);
    size_t o_poff = need;
    need += pad8((n + 1) * 8);
    size_t o_pdoc = need;
    need += pad8(h->npostings * 4);
    size_t o_ptf = need;
    need += pad8(h->npostings * 4);
    size_t o_dl = need;
    need += pad8((uint64_t)h->ndocs * 4);
    size_t o_str = need;
    need += h->strings_len;
    if (h->npostings > (1ull << 40) || h->strings_len > UINT32_MAX || need > len ||
        (h->strings_len && base[o_str + h->strings_len - 1] != '\0'))
        return sm_error_set(err, SM_EINVAL, "lexical index truncated");
    lexical_index ix = {.nterms = h->nterms,
                        .ndocs = h->ndocs,
                        .npostings = h->npostings,
                        .avgdl = h->avgdl,
                        .k1 = h->k1,
                        .b = h->b,
                        .term_off = (const uint32_t *)(base + o_toff),
                        .surf_off = (const uint32_t *)(base + o_soff),
                        .post_off = (const uint64_t *)(base + o_poff),
                        .post_doc = (const uint32_t *)(base + o_pdoc),
                        .post_tf = (const float *)(base + o_ptf),
                        .doclen = (const float *)(base + o_dl),
                        .strings = base + o_str,
                        .strings_len = h->strings_len};
    for (uint64_t i = 0; i < n; i++) {
        if (ix.term_off[i] >= ix.strings_len || ix.surf_off[i] >= ix.strings_len ||
            ix.post_off[i] > ix.post_off[i + 1] ||
            (i && strcmp(ix.strings + ix.term_off[i - 1], ix.strings + ix.term_off[i]) >= 0))
            return sm_error_set(err, SM_EINVAL, "lexical index: bad term %llu",
                                (unsigned long long)i);
    }
    if (ix.post_off[n] != ix.npostings || (n && ix.post_off[0] != 0))
        return sm_error_set(err, SM_EINVAL, "lexical index: bad postings");
    for (uint64_t i = 0; i < ix.npostings; i++)
        if (ix.post_doc[i] >= ix.ndocs)
            return sm_error_set(err, SM_EINVAL, "lexical index: bad document number");
    *out = ix;
    return 0;
}

const char *lexical_term_text(const lexical_index *ix, uint32_t t)
{
    return ix->strings + ix->term_off[t];
}

const char *lexical_term_surface(const lexical_index *ix, uint32_t t)
{
    return ix->strings + ix->surf_off[t];
}

uint32_t lexical_term_df(const lexical_index *ix, uint32_t t)
{
    return (uint32_t)(ix->post_off[t + 1] - ix->post_off[t]);
}

float lexical_idf(const lexical_index *ix, uint32_t t)
{
    double df = lexical_term_df(ix, t), n = ix->ndocs;
    return (float)log(1.0 + (n - df + 0.5) / (df + 0.5));
}

int64_t lexical_term_find(const lexical_index *ix, const char *term)
{
    int64_t lo = 0, hi = (int64_t)ix->nterms - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(lexical_term_text(ix, (uint32_t)mid), term);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

int lexical_typo_budget(size_t chars)
{
    return chars >= 9 ? 2 : chars >= 5 ? 1 : 0;
}

void lexical_score_term(const lexical_index *ix, uint32_t t, float weight, float *scores,
                        uint32_t *hits, uint32_t bit, uint32_t *touched, size_t *ntouched)
{
    float idf = lexical_idf(ix, t) * weight, k1 = ix->k1, b = ix->b;
    float norm = ix->avgdl > 0 ? 1.0f / ix->avgdl : 0.0f;
    for (uint64_t i = ix->post_off[t]; i < ix->post_off[t + 1]; i++) {
        uint32_t d = ix->post_doc[i];
        float tf = ix->post_tf[i];
        float denom = tf + k1 * (1.0f - b + b * ix->doclen[d] * norm);
        scores[d] += idf * tf * (k1 + 1.0f) / denom;
        if (touched && hits[d] == 0)
            touched[(*ntouched)++] = d;
        hits[d] |= bit;
    }
}

/* ---- typo tolerance: the sorted vocabulary as an implicit trie ---- */

#define ROWS (TEXT_TERM_MAX + 1)

static int min3(int a, int b, int c)
{
    int m = a < b ? a : b;
    return m < c ? m : c;
}

/* First term index ≥ from whose text does not start with prefix[0..plen). */
static uint32_t skip_prefix(const lexical_index *ix, uint32_t from, const char *prefix, size_t plen)
{
    uint32_t lo = from, hi = ix->nterms;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (strncmp(lexical_term_text(ix, mid), prefix, plen) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int lexical_fuzzy(const lexical_index *ix, const char *term, int maxd, int limit,
                  lexical_match_fn fn, void *ctx)
{
    int d[ROWS][ROWS];
    size_t q = strlen(term);
    if (q >= ROWS || maxd < 0 || maxd > 2)
        return 0;
    for (size_t k = 0; k <= q; k++)
        d[0][k] = (int)k;
    char prev[ROWS] = "";
    size_t depth = 0; /* rows 1..depth are valid for `prev` */
    int found = 0;
    uint32_t i = 0;
    while (i < ix->nterms && found < limit) {
        const char *w = lexical_term_text(ix, i);
        size_t wl = strlen(w);
        if (wl >= ROWS) {
            i++;
            continue;
        }
        size_t common = 0;
        while (common < depth && prev[common] && prev[common] == w[common])
            common++;
        bool skipped = false;
        for (size_t j = common + 1; j <= wl; j++) {
            int rowmin = d[j][0] = (int)j;
            for (size_t k = 1; k <= q; k++) {
                int cost = w[j - 1] != term[k - 1];
                int v = min3(d[j - 1][k] + 1, d[j][k - 1] + 1, d[j - 1][k - 1] + cost);
                if (j > 1 && k > 1 && w[j - 1] == term[k - 2] && w[j - 2] == term[k - 1] &&
                    d[j - 2][k - 2] + 1 < v)
                    v = d[j - 2][k - 2] + 1;
                d[j][k] = v;
                if (v < rowmin)
                    rowmin = v;
            }
            if (rowmin > maxd) {
                /* every term starting with w[0..j) is too far: jump past them */
                memcpy(prev, w, j);
                prev[j] = '\0';
                depth = j - 1;
                i = skip_prefix(ix, i, w, j);
                skipped = true;
                break;
            }
        }
        if (skipped)
            continue;
        memcpy(prev, w, wl + 1);
        depth = wl;
        if (d[wl][q] <= maxd) {
            fn(i, d[wl][q], ctx);
            found++;
        }
        i++;
    }
    return found;
}
