/* search.h — hybrid product search over a loaded snapshot.
 *
 * A query is analysed (text.h); each word is looked up exactly in the
 * vocabulary, or, when absent, within its typo budget (lexical.h). BM25
 * scores are accumulated per document; documents holding every query word
 * are the lexical result (all-words semantics), or, when none holds them
 * all, those holding any. The query also folds into the LSI space and the
 * SEARCH_VECTOR_K nearest documents above SEARCH_VECTOR_MIN cosine join the
 * result. Both rankings are fused by reciprocal rank fusion,
 * score = Σ 1 / (SEARCH_RRF_K + rank), the method of Cormack et al. (2009)
 * that needs no score calibration between the two sides.
 *
 * Filters (category and its direct subcategories, price bounds, stock)
 * apply to both sides; facets (category, brand, price buckets) count the
 * filtered result; sorting is by relevance, price or newness; pages are cut
 * by a bounded heap, so the deepest reachable item is SEARCH_DEPTH_MAX.
 * Highlights wrap the matched words of the name in <em>…</em> (the name is
 * HTML-escaped first). An empty result carries suggestions: the closest
 * vocabulary words to the query's words. */
#ifndef SM_ML_SEARCH_H
#define SM_ML_SEARCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "ml/snapshot.h"

#define SEARCH_QUERY_MAX 512 /* bytes of q */
#define SEARCH_TERMS_MAX 16  /* query words used */
#define SEARCH_PAGE_SIZE_MAX 100
#define SEARCH_DEPTH_MAX 1000 /* page × page_size */
#define SEARCH_RRF_K 60.0f
#define SEARCH_VECTOR_K 100
#define SEARCH_VECTOR_MIN 0.35f

typedef enum search_sort {
    SEARCH_SORT_RELEVANCE,
    SEARCH_SORT_PRICE,
    SEARCH_SORT_PRICE_DESC,
    SEARCH_SORT_NEWEST,
} search_sort;

typedef enum search_mode { SEARCH_HYBRID, SEARCH_BM25, SEARCH_VECTOR } search_mode;

/* Parameters; strings borrowed. */
typedef struct search_params {
    const char *q;        /* NULL or "" = browse with filters */
    const char *category; /* id or slug; NULL = any */
    bool has_min_price, has_max_price;
    int64_t min_price, max_price; /* cents */
    int in_stock;                 /* -1 any, 0 out of stock only, 1 in stock only */
    search_sort sort;
    int64_t page, page_size;
    search_mode mode;
} search_params;

/* Defaults: page 1, 20 per page, relevance, hybrid, no filters. */
void search_params_init(search_params *p);

/* Parses "relevance", "price", "-price", "newest". 0 or SM_EINVAL. */
int search_sort_parse(const char *s, search_sort *out);

/* Runs the query. *out (owned by the caller) is
 * {items:[…], page, page_size, total, pages, facets:{category, brand, price},
 *  suggestions:[…], engine:"index", version}. SM_EINVAL for parameters out
 * of bounds (page × page_size > SEARCH_DEPTH_MAX), SM_ENOMEM. An unknown
 * category gives an empty result. Thread-safe. */
int search_run(const snapshot *s, const search_params *p, json_t **out, sm_error *err);

/* The document rows of the best `k` (≤ SEARCH_DEPTH_MAX) results of `q`
 * (relevance order) into rows[], for evaluation and tests. Returns the
 * count or a negative SM_E* code. Thread-safe. */
int search_rank(const snapshot *s, const char *q, search_mode mode, uint32_t *rows, int k);

/* Evaluates the labelled queries of `queries_path` (tests/ml/queries.json:
 * [{"q": …, "category": slug, "name_any": [words…]}], a product being
 * relevant when its category or parent has that slug and its normalised
 * name holds one of the words) with nDCG@10 and recall@10, for hybrid and
 * BM25 alone. *out: {"queries": n, "rows": [{"method", "ndcg@10",
 * "recall@10"}…]}. Returns 0, SM_EINVAL (bad file) or SM_ENOMEM. */
int ml_search_evaluate(const snapshot *s, const char *queries_path, json_t **out, sm_error *err);

#endif
