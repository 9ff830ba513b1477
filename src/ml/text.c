/* text.c — segmentation, normalisation, compounds, stop words, stemming.
 *
 * The input is first cut into words (spans of the source bytes), each word
 * normalised on its own: pure-ASCII words, the vast majority in a product
 * catalogue, are lower-cased in place; the others go through utf8proc_map()
 * (NFKC + case fold + mark stripping). Keeping the source spans is what lets
 * search highlight the original name without re-deriving offsets through
 * the normalisation.
 *
 * A second pass walks the words and emits terms: the word itself (stemmed
 * unless it holds a digit), the joined form of a hyphenated compound once
 * the compound ends, and the joined form of a number followed by a unit.
 * Stop words and one-letter words are skipped (but still take part in
 * compounds: "t-shirt" gives "tshirt" although "t" alone is dropped). */
#include "ml/text.h"

#include <libstemmer.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

struct text_analyzer {
    struct sb_stemmer *fr, *en;
};

typedef struct word {
    size_t start, end;        /* source bytes */
    bool hyphen_after;        /* joined to the next word by a hyphen */
    char norm[TEXT_TERM_MAX]; /* normalised form */
    size_t len;
} word;

/* French and English stop words, normalised (no accents). Sorted for bsearch. */
static const char *const stop_words[] = {
    "a",   "about", "an",   "and",  "au",   "aux", "avec", "by",  "ce",  "ces",  "dans", "de",
    "des", "du",    "en",   "est",  "et",   "for", "from", "il",  "in",  "is",   "it",   "la",
    "le",  "les",   "leur", "mais", "of",   "on",  "ou",   "par", "pas", "pour", "qui",  "sa",
    "se",  "ses",   "son",  "sur",  "that", "the", "this", "to",  "un",  "une",  "with", "your",
};

/* Units that join a preceding number ("128 Go" → "128go"). Sorted. */
static const char *const units[] = {
    "bar", "bars", "cl", "cm", "g",  "gb",  "go", "hz", "kg", "ko", "l",  "m", "mah",
    "mb",  "mi",   "ml", "mm", "mo", "pcs", "tb", "to", "v",  "w",  "wh", "x",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
    return bsearch(&s, list, n, sizeof *list, cmp_str) != NULL;
}

static bool has_digit(const char *s)
{
    for (; *s; s++)
        if (*s >= '0' && *s <= '9')
            return true;
    return false;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

int text_analyzer_new(text_analyzer **out, sm_error *err)
{
    text_analyzer *a = calloc(1, sizeof *a);
    if (!a)
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    a->fr = sb_stemmer_new("french", "UTF_8");
    a->en = sb_stemmer_new("english", "UTF_8");
    if (!a->fr || !a->en) {
        text_analyzer_free(a);
        return sm_error_set(err, SM_EINTERNAL, "libstemmer lacks french or english");
    }
    *out = a;
    return 0;
}

void text_analyzer_free(text_analyzer *a)
{
    if (!a)
        return;
    if (a->fr)
        sb_stemmer_delete(a->fr);
    if (a->en)
        sb_stemmer_delete(a->en);
    free(a);
}

static pthread_key_t thread_key;
static pthread_once_t thread_once = PTHREAD_ONCE_INIT;

static void thread_free(void *p)
{
    text_analyzer_free(p);
}

static void thread_key_init(void)
{
    (void)pthread_key_create(&thread_key, thread_free);
}

text_analyzer *text_analyzer_thread(void)
{
    (void)pthread_once(&thread_once, thread_key_init);
    text_analyzer *a = pthread_getspecific(thread_key);
    if (a)
        return a;
    if (text_analyzer_new(&a, NULL) != 0)
        return NULL;
    if (pthread_setspecific(thread_key, a) != 0) {
        text_analyzer_free(a);
        return NULL;
    }
    return a;
}

/* Copies at most cap-1 bytes of `s`, cutting at a UTF-8 character boundary. */
static size_t copy_cut(char *out, size_t cap, const char *s, size_t len)
{
    if (len >= cap) {
        len = cap - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return len;
}

int text_normalize_word(const char *in, size_t len, char *out, size_t cap)
{
    bool ascii = true;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)in[i] >= 0x80) {
            ascii = false;
            break;
        }
    if (ascii) {
        size_t n = len < cap - 1 ? len : cap - 1;
        for (size_t i = 0; i < n; i++)
            out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] + 32) : in[i];
        out[n] = '\0';
        return (int)n;
    }
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)in, (utf8proc_ssize_t)len, &dst,
                                      UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE |
                                          UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK | UTF8PROC_IGNORE);
    if (n < 0)
        return -1;
    size_t w = copy_cut(out, cap, (const char *)dst, (size_t)n);
    free(dst);
    return (int)w;
}

size_t text_utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool is_word_char(utf8proc_int32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: return true;
    default: return false;
    }
}

static bool is_hyphen(utf8proc_int32_t cp)
{
    return cp == '-' || cp == 0x2010 || cp == 0x2011;
}

/* Cuts `in` into words with their normalised forms. Returns the count. */
static size_t segment(const char *in, size_t len, word *words, size_t max)
{
    size_t n = 0, i = 0;
    bool in_word = false;
    size_t start = 0;
    while (i <= len && n < max) {
        utf8proc_int32_t cp = -1;
        utf8proc_ssize_t step = 1;
        if (i < len) {
            step = utf8proc_iterate((const utf8proc_uint8_t *)in + i, (utf8proc_ssize_t)(len - i),
                                    &cp);
            if (step <= 0) {
                step = 1;
                cp = -1;
            }
        }
        bool wc = i < len && cp >= 0 && is_word_char(cp);
        if (wc && !in_word) {
            in_word = true;
            start = i;
        } else if (!wc && in_word) {
            in_word = false;
            word *w = &words[n];
            int m = text_normalize_word(in + start, i - start, w->norm, sizeof w->norm);
            if (m > 0) {
                w->start = start;
                w->end = i;
                w->len = (size_t)m;
                w->hyphen_after = false;
                if (n > 0 && words[n - 1].end + 1 == start && in[start - 1] == '-')
                    words[n - 1].hyphen_after = true;
                else if (n > 0 && words[n - 1].end + 3 == start) {
                    utf8proc_int32_t h = 0;
                    (void)utf8proc_iterate((const utf8proc_uint8_t *)in + words[n - 1].end, 3, &h);
                    words[n - 1].hyphen_after = is_hyphen(h);
                }
                n++;
            }
        }
        i += (size_t)step;
    }
    return n;
}

/* Stems `s` (normalised) into `out`: French, then English when French left
 * it unchanged. Terms with digits are kept as they are. */
static void stem(text_analyzer *a, const char *s, size_t len, char *out, size_t cap)
{
    if (has_digit(s) || len < 3) {
        copy_cut(out, cap, s, len);
        return;
    }
    const sb_symbol *r = sb_stemmer_stem(a->fr, (const sb_symbol *)s, (int)len);
    int rl = r ? sb_stemmer_length(a->fr) : 0;
    if (r && ((size_t)rl != len || memcmp(r, s, len) != 0)) {
        copy_cut(out, cap, (const char *)r, (size_t)rl);
        return;
    }
    r = sb_stemmer_stem(a->en, (const sb_symbol *)s, (int)len);
    if (!r) {
        copy_cut(out, cap, s, len);
        return;
    }
    copy_cut(out, cap, (const char *)r, (size_t)sb_stemmer_length(a->en));
}

static int emit(text_analyzer *a, const char *surface, size_t len, size_t start, size_t end,
                bool do_stem, text_token_fn fn, void *ctx)
{
    char term[TEXT_TERM_MAX];
    if (do_stem)
        stem(a, surface, len, term, sizeof term);
    else
        copy_cut(term, sizeof term, surface, len);
    text_token t = {
        .term = term, .len = strlen(term), .surface = surface, .start = start, .end = end};
    return t.len ? fn(&t, ctx) : 0;
}

int text_analyze(text_analyzer *a, const char *in, size_t len, text_token_fn fn, void *ctx)
{
    if (len > TEXT_INPUT_MAX)
        len = TEXT_INPUT_MAX;
    word *words = malloc(sizeof *words * TEXT_WORDS_MAX);
    if (!words)
        return SM_ENOMEM;
    size_t n = segment(in, len, words, TEXT_WORDS_MAX);
    int rc = 0;
    size_t compound_from = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        word *w = &words[i];
        bool stop = w->len < 2 && !all_digits(w->norm);
        stop = stop || in_list(w->norm, stop_words, sizeof stop_words / sizeof *stop_words);
        if (!stop)
            rc = emit(a, w->norm, w->len, w->start, w->end, true, fn, ctx);
        /* a number then a unit: "128 Go", "500g" is already one word */
        if (rc == 0 && i + 1 < n && all_digits(w->norm) &&
            in_list(words[i + 1].norm, units, sizeof units / sizeof *units)) {
            char joined[TEXT_TERM_MAX];
            int m = snprintf(joined, sizeof joined, "%s%s", w->norm, words[i + 1].norm);
            if (m > 0 && (size_t)m < sizeof joined)
                rc = emit(a, joined, (size_t)m, w->start, words[i + 1].end, false, fn, ctx);
        }
        /* the end of a hyphenated compound: emit the joined form */
        if (rc == 0 && !w->hyphen_after) {
            if (i > compound_from) {
                char joined[TEXT_TERM_MAX];
                size_t m = 0;
                for (size_t k = compound_from; k <= i && m + words[k].len < sizeof joined; k++) {
                    memcpy(joined + m, words[k].norm, words[k].len);
                    m += words[k].len;
                }
                joined[m] = '\0';
                rc = emit(a, joined, m, words[compound_from].start, w->end, true, fn, ctx);
            }
            compound_from = i + 1;
        }
    }
    free(words);
    return rc;
}
