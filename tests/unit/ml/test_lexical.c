/* test_lexical.c — BM25 against hand-computed values, typo tolerance, and
 * the write → map → open round trip. */
#include "ml_fixture.h"

#include <math.h>

typedef struct corpus {
    char dir[256];
    artefact_map map;
    lexical_index ix;
} corpus;

/* Writes `n` documents (description field only, weight 1) and maps them. */
static void corpus_open(corpus *c, const char *const *desc, size_t n)
{
    fixture_tmpdir(c->dir, sizeof c->dir);
    text_analyzer *a = NULL;
    assert_int_equal(text_analyzer_new(&a, NULL), 0);
    lexical_builder *b = lexical_builder_new();
    for (size_t i = 0; i < n; i++) {
        const char *fields[LEXICAL_FIELDS] = {NULL, NULL, NULL, desc[i]};
        assert_int_equal(lexical_builder_add(b, a, fields), 0);
    }
    char path[ARTEFACT_PATH_MAX];
    assert_int_equal(artefact_path(c->dir, "lexical.bin", path, NULL), 0);
    assert_int_equal(lexical_builder_write(b, path, NULL), 0);
    lexical_builder_free(b);
    text_analyzer_free(a);
    assert_int_equal(artefact_map_file(c->dir, "lexical.bin", &c->map, NULL), 0);
    assert_int_equal(lexical_index_open(c->map.data, c->map.len, &c->ix, NULL), 0);
}

static void corpus_close(corpus *c)
{
    artefact_unmap(&c->map);
    fixture_rmdir(c->dir);
}

static void lexical_bm25_matches_hand_computed_scores(void **state)
{
    (void)state;
    /* d0 "apple banana" (dl 2), d1 "apple apple cherry" (dl 3), d2 "cherry
     * date" (dl 2); avgdl 7/3. For "apple": df 2, idf = ln(1 + 1.5/2.5) =
     * ln 1.6 = 0.470004.
     * d0: tf 1, K = 1.2 (0.25 + 0.75 · 2 / (7/3)) = 1.071429;
     *     0.470004 · 2.2 / 2.071429 = 0.499176
     * d1: tf 2, K = 1.2 (0.25 + 0.75 · 3 / (7/3)) = 1.457143;
     *     0.470004 · 2 · 2.2 / 3.457143 = 0.598187 */
    static const char *const docs[] = {"apple banana", "apple apple cherry", "cherry date"};
    corpus c;
    corpus_open(&c, docs, 3);
    assert_int_equal(c.ix.ndocs, 3);
    assert_true(fabsf(c.ix.avgdl - 7.0f / 3.0f) < 1e-5f);
    char term[TEXT_TERM_MAX];
    snprintf(term, sizeof term, "%s", "appl"); /* the stem, whatever the stemmer says */
    int64_t t = lexical_term_find(&c.ix, term);
    if (t < 0)
        t = lexical_term_find(&c.ix, "apple");
    assert_true(t >= 0);
    assert_true(fabsf(lexical_idf(&c.ix, (uint32_t)t) - 0.470004f) < 1e-5f);
    float scores[3] = {0};
    uint32_t hits[3] = {0};
    lexical_score_term(&c.ix, (uint32_t)t, 1.0f, scores, hits, 1, NULL, NULL);
    assert_true(fabsf(scores[0] - 0.499176f) < 1e-4f);
    assert_true(fabsf(scores[1] - 0.598187f) < 1e-4f);
    assert_true(scores[2] == 0.0f);
    assert_int_equal(hits[0] & hits[1], 1);
    assert_int_equal(hits[2], 0);
    corpus_close(&c);
}

typedef struct found {
    char terms[16][TEXT_TERM_MAX];
    int dist[16];
    int n;
} found;

static void on_match(uint32_t t, int distance, void *arg)
{
    found *f = arg;
    (void)t;
    if (f->n < 16)
        f->dist[f->n++] = distance;
}

static int fuzzy(corpus *c, const char *q, int maxd, int *best)
{
    found f = {.n = 0};
    lexical_fuzzy(&c->ix, q, maxd, 16, on_match, &f);
    *best = 99;
    for (int i = 0; i < f.n; i++)
        if (f.dist[i] < *best)
            *best = f.dist[i];
    return f.n;
}

static void lexical_tolerates_typos_within_budget(void **state)
{
    (void)state;
    assert_int_equal(lexical_typo_budget(4), 0);
    assert_int_equal(lexical_typo_budget(5), 1);
    assert_int_equal(lexical_typo_budget(8), 1);
    assert_int_equal(lexical_typo_budget(9), 2);
    static const char *const docs[] = {"zzsmartzz bluetooth", "cafetiere", "zebra zebu"};
    corpus c;
    corpus_open(&c, docs, 3);
    int best;
    /* terms are stored unstemmed when the stemmers keep them: use
     * lexical_term_text to stay independent of stemming details */
    assert_true(lexical_term_find(&c.ix, "zzsmartzz") >= 0);
    assert_int_equal(fuzzy(&c, "zzsmartzz", 0, &best), 1);
    assert_int_equal(best, 0);
    assert_int_equal(fuzzy(&c, "zzsmarzz", 1, &best), 1); /* deletion */
    assert_int_equal(best, 1);
    assert_int_equal(fuzzy(&c, "zzsmatrzz", 1, &best), 1); /* transposition */
    assert_int_equal(best, 1);
    assert_int_equal(fuzzy(&c, "zzsmxtrzz", 1, &best), 0); /* two edits */
    assert_int_equal(fuzzy(&c, "zzsmxtrzz", 2, &best), 1);
    assert_int_equal(fuzzy(&c, "qqqqqqq", 2, &best), 0);
    corpus_close(&c);
}

static void lexical_round_trip_gives_same_scores(void **state)
{
    (void)state;
    static const char *const docs[] = {"red apple pie", "green apple", "apple apple apple tart",
                                       "banana split", "cherry pie"};
    corpus a, b;
    corpus_open(&a, docs, 5);
    corpus_open(&b, docs, 5);
    assert_int_equal(a.map.len, b.map.len);
    assert_memory_equal(a.map.data, b.map.data, a.map.len); /* deterministic file */
    for (uint32_t t = 0; t < a.ix.nterms; t++) {
        float sa[5] = {0}, sb[5] = {0};
        uint32_t ha[5] = {0}, hb[5] = {0};
        assert_string_equal(lexical_term_text(&a.ix, t), lexical_term_text(&b.ix, t));
        assert_int_equal(lexical_term_find(&a.ix, lexical_term_text(&a.ix, t)), t);
        lexical_score_term(&a.ix, t, 1, sa, ha, 1, NULL, NULL);
        lexical_score_term(&b.ix, t, 1, sb, hb, 1, NULL, NULL);
        assert_memory_equal(sa, sb, sizeof sa);
    }
    corpus_close(&b);
    /* a truncated or corrupt file is refused, never read past its end */
    lexical_index ix;
    /* (the last 8 bytes may be padding: cut before them) */
    for (size_t len = 0; len + 8 < a.map.len; len += 7)
        assert_int_equal(lexical_index_open(a.map.data, len, &ix, NULL), SM_EINVAL);
    char *copy = malloc(a.map.len);
    memcpy(copy, a.map.data, a.map.len);
    memset(copy + 16, 0xff, 8); /* npostings */
    assert_int_equal(lexical_index_open(copy, a.map.len, &ix, NULL), SM_EINVAL);
    free(copy);
    corpus_close(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lexical_bm25_matches_hand_computed_scores),
        cmocka_unit_test(lexical_tolerates_typos_within_budget),
        cmocka_unit_test(lexical_round_trip_gives_same_scores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
