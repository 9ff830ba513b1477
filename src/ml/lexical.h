/* lexical.h — the BM25 inverted index: build, write, map, score, typos.
 *
 * Building: documents are added in order (doc numbers 0, 1, 2, …), each as
 * four fields — name, brand, category, description — analysed by text.h.
 * A term's frequency in a document is the field-weighted sum of its
 * occurrences (BM25F's simplification: name ×3, brand ×2, category ×1.5,
 * description ×1), and the document length is the same weighted sum over
 * all its terms. The builder writes one file (format in lexical.c) that the
 * serving side maps read-only and uses in place: no parsing, no copying.
 *
 * Scoring: the classic Okapi BM25 with k1 = 1.2, b = 0.75 and
 * idf(t) = ln(1 + (N − df + 0.5) / (df + 0.5)), accumulated into a dense
 * array of per-document scores supplied by the caller.
 *
 * Typo tolerance: a query word of 5 letters or more may match vocabulary
 * terms at Damerau–Levenshtein (optimal string alignment) distance 1, one of
 * 9 or more at distance 2 (Meilisearch's rule). The vocabulary is a sorted
 * array, walked as an implicit trie: consecutive terms share the dynamic
 * programming rows of their common prefix, and a whole run of terms sharing
 * a prefix is skipped (binary search) once that prefix is already too far. */
#ifndef SM_ML_LEXICAL_H
#define SM_ML_LEXICAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "ml/text.h"

#define LEXICAL_K1 1.2f
#define LEXICAL_B 0.75f

enum {
    LEXICAL_FIELD_NAME,
    LEXICAL_FIELD_BRAND,
    LEXICAL_FIELD_CATEGORY,
    LEXICAL_FIELD_DESC,
    LEXICAL_FIELDS
};

/* Field weights, in LEXICAL_FIELD_* order. */
extern const float lexical_field_weight[LEXICAL_FIELDS];

typedef struct lexical_builder lexical_builder;

/* A mapped index. The arrays point into the mapped file; the struct is
 * plain data, valid as long as the mapping is. */
typedef struct lexical_index {
    uint32_t nterms, ndocs;
    uint64_t npostings;
    float avgdl, k1, b;
    const uint32_t *term_off; /* nterms + 1 offsets into strings */
    const uint32_t *surf_off; /* nterms offsets: the display form of the term */
    const uint64_t *post_off; /* nterms + 1 offsets into post_doc / post_tf */
    const uint32_t *post_doc; /* ascending within a term */
    const float *post_tf;     /* weighted term frequency */
    const float *doclen;      /* weighted document length */
    const char *strings;
    uint64_t strings_len;
} lexical_index;

/* Creates an empty builder. NULL when out of memory. */
lexical_builder *lexical_builder_new(void);
void lexical_builder_free(lexical_builder *b);

/* Adds the next document (numbered from 0 in call order). `fields` holds
 * LEXICAL_FIELDS UTF-8 strings (NULL = empty), analysed with `a`. Returns 0
 * or SM_ENOMEM / SM_ETOOLARGE (over 2^31 documents or postings). */
int lexical_builder_add(lexical_builder *b, text_analyzer *a, const char *const *fields);

/* Writes the index to `path` (created or truncated, fsync'd). Returns 0,
 * SM_ENOMEM or SM_EIO. The builder may be freed afterwards. */
int lexical_builder_write(lexical_builder *b, const char *path, sm_error *err);

/* Checks and views `len` bytes at `data` (a mapped lexical file) as an
 * index. Returns 0 or SM_EINVAL for a file that is not a consistent index
 * (every offset is checked, so a corrupt file cannot make lookups read
 * outside the mapping). Thread-safe; `out` borrows `data`. */
int lexical_index_open(const void *data, size_t len, lexical_index *out, sm_error *err);

/* Term id of the exact term, or -1. O(log nterms). */
int64_t lexical_term_find(const lexical_index *ix, const char *term);

/* The term's text and its display form (normalised, unstemmed word). */
const char *lexical_term_text(const lexical_index *ix, uint32_t t);
const char *lexical_term_surface(const lexical_index *ix, uint32_t t);
uint32_t lexical_term_df(const lexical_index *ix, uint32_t t);
float lexical_idf(const lexical_index *ix, uint32_t t);

/* Typo budget for a query word of `chars` code points: 0, 1 or 2. */
int lexical_typo_budget(size_t chars);

/* Calls `fn(t, distance, ctx)` for every vocabulary term within `maxd`
 * (≤ 2) edits of `term`, at most `limit` times. Returns the number of
 * calls. Thread-safe. */
typedef void (*lexical_match_fn)(uint32_t t, int distance, void *ctx);
int lexical_fuzzy(const lexical_index *ix, const char *term, int maxd, int limit,
                  lexical_match_fn fn, void *ctx);

/* Adds weight × BM25(term t, d) to scores[d] for every document d holding
 * t, and sets hits[d] |= bit. `scores` and `hits` have ndocs entries. When
 * `touched` is not NULL, each d whose hits[d] was 0 is appended to it (so
 * the caller can visit, then clear, only those; capacity ndocs). */
void lexical_score_term(const lexical_index *ix, uint32_t t, float weight, float *scores,
                        uint32_t *hits, uint32_t bit, uint32_t *touched, size_t *ntouched);

#endif
