/* search_eval.c — offline evaluation of search on a labelled query set.
 *
 * Each labelled query names what a relevant product is — a category slug
 * (the product's own or its parent's) and words of which its normalised
 * name must hold one — rather than listing product ids, so the set stays
 * valid for any seed and any catalogue size. Relevance is binary. For each
 * query and method (hybrid, BM25 alone) the top 10 is judged:
 *
 *   nDCG@10   = DCG / ideal DCG, DCG = Σ rel_i / log2(i + 2)
 *   recall@10 = relevant in the top 10 / min(10, relevant overall)
 *
 * and both are averaged over the queries that have at least one relevant
 * product. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ml/search.h"
#include "ml/text.h"

#define EVAL_K 10
#define EVAL_QUERIES_MAX 1000
#define EVAL_WORDS_MAX 16

typedef struct label {
    int64_t category;
    char words[EVAL_WORDS_MAX][TEXT_TERM_MAX];
    int nwords;
} label;

/* Lower-cased, accent-folded copy of a whole string (word by word). */
static void fold(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < cap;) {
        size_t n = 1;
        while (((unsigned char)p[n] & 0xC0) == 0x80)
            n++;
        char w[16];
        int m = text_normalize_word(p, n, w, sizeof w);
        if (m > 0 && o + (size_t)m < cap) {
            memcpy(out + o, w, (size_t)m);
            o += (size_t)m;
        } else if (m <= 0) {
            out[o++] = ' ';
        }
        p += n;
    }
    out[o] = '\0';
}

static bool relevant(const snapshot *s, const label *l, uint32_t row)
{
    const ml_doc *d = &s->docs.docs[row];
    if (l->category >= 0 && d->category_id != l->category && d->parent_category_id != l->category)
        return false;
    if (l->nwords == 0)
        return true;
    char name[1024];
    fold(docs_str(&s->docs, d->name), name, sizeof name);
    for (int i = 0; i < l->nwords; i++)
        if (strstr(name, l->words[i]))
            return true;
    return false;
}

static int parse_label(const snapshot *s, json_t *q, label *l, const char **text)
{
    *text = json_string_value(json_object_get(q, "q"));
    const char *cat = json_string_value(json_object_get(q, "category"));
    json_t *words = json_object_get(q, "name_any");
    if (!*text || (words && !json_is_array(words)))
        return SM_EINVAL;
    l->category = cat ? docs_category_find(&s->docs, cat) : -1;
    if (cat && l->category < 0)
        l->category = -2; /* unknown here: nothing is relevant */
    l->nwords = 0;
    size_t i;
    json_t *w;
    json_array_foreach(words, i, w)
    {
        if (!json_is_string(w) || l->nwords == EVAL_WORDS_MAX)
            return SM_EINVAL;
        fold(json_string_value(w), l->words[l->nwords++], TEXT_TERM_MAX);
    }
    return 0;
}

int ml_search_evaluate(const snapshot *s, const char *queries_path, json_t **out, sm_error *err)
{
    json_error_t je;
    json_t *qs = json_load_file(queries_path, 0, &je);
    if (!json_is_array(qs) || json_array_size(qs) > EVAL_QUERIES_MAX) {
        json_decref(qs);
        return sm_error_set(err, SM_EINVAL, "%s: not a JSON array of queries (%s)", queries_path,
                            je.text);
    }
    static const struct {
        const char *name;
        search_mode mode;
    } methods[] = {{"hybrid", SEARCH_HYBRID}, {"bm25", SEARCH_BM25}};
    double ndcg[2] = {0}, recall[2] = {0};
    int judged = 0, rc = 0;
    size_t i;
    json_t *q;
    json_array_foreach(qs, i, q)
    {
        label l;
        const char *text;
        if ((rc = parse_label(s, q, &l, &text)) != 0) {
            sm_error_fill(err, rc, "%s: query %zu: needs q, category, name_any", queries_path, i);
            break;
        }
        uint32_t nrel = 0;
        for (uint32_t d = 0; d < s->docs.ndocs; d++)
            nrel += relevant(s, &l, d);
        if (nrel == 0)
            continue;
        judged++;
        double ideal = 0;
        for (uint32_t k = 0; k < EVAL_K && k < nrel; k++)
            ideal += 1.0 / log2((double)k + 2.0);
        for (int m = 0; m < 2; m++) {
            uint32_t rows[EVAL_K];
            int n = search_rank(s, text, methods[m].mode, rows, EVAL_K);
            if (n < 0) {
                rc = sm_error_set(err, n, "search failed");
                break;
            }
            double dcg = 0;
            int hits = 0;
            for (int k = 0; k < n; k++)
                if (relevant(s, &l, rows[k])) {
                    dcg += 1.0 / log2((double)k + 2.0);
                    hits++;
                }
            ndcg[m] += dcg / ideal;
            recall[m] += (double)hits / (double)(nrel < EVAL_K ? nrel : EVAL_K);
        }
        if (rc)
            break;
    }
    json_decref(qs);
    if (rc)
        return rc;
    json_t *rows = json_array();
    for (int m = 0; rows && m < 2; m++)
        json_array_append_new(rows, json_pack("{sssfsf}", "method", methods[m].name, "ndcg@10",
                                              judged ? ndcg[m] / judged : 0.0, "recall@10",
                                              judged ? recall[m] / judged : 0.0));
    *out = json_pack("{sisO}", "queries", judged, "rows", rows);
    json_decref(rows);
    return *out ? 0 : sm_error_set(err, SM_ENOMEM, "out of memory");
}
