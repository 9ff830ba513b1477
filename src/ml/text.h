/* text.h — turning product text and queries into index terms.
 *
 * One analyser serves both sides, so that a query term and an indexed term
 * meet when they should: the same words, the same normal form, the same
 * stem. Steps, per word of the input:
 *
 *   1. segmentation into words: runs of letters, digits and combining marks
 *      (Unicode categories L*, N*, M*); everything else separates;
 *   2. normalisation: NFKC, case folding and accent stripping (utf8proc), so
 *      "Électroménager" and "electromenager" are the same word;
 *   3. compounds: words joined by a hyphen ("t-shirt", "USB-C") give their
 *      parts and the joined form ("tshirt", "usbc");
 *   4. quantities: a number followed by a unit ("128 Go", "500 g", "30 W")
 *      gives the number and the joined form ("128go");
 *   5. stop words (French and English) are dropped, as are one-letter words;
 *   6. stemming with Snowball (libstemmer): French first, English when the
 *      French stemmer leaves the word unchanged ("électroménager" →
 *      "electromenag", "headphones" → "headphon"). Terms with digits are not
 *      stemmed. The catalogue mixes both languages, as a French shop does;
 *      one deterministic chain keeps indexing and querying consistent.
 *
 * An analyser holds two Snowball stemmers, which are not thread-safe: one
 * analyser per thread (text_analyzer_thread() gives the calling thread's). */
#ifndef SM_ML_TEXT_H
#define SM_ML_TEXT_H

#include <stddef.h>

#include "core/err.h"

#define TEXT_TERM_MAX 48     /* bytes of a term; longer words are cut */
#define TEXT_INPUT_MAX 65536 /* bytes analysed per call; the rest is ignored */
#define TEXT_WORDS_MAX 4096  /* words analysed per call */

typedef struct text_analyzer text_analyzer;

/* One term produced by text_analyze(). `term` is NUL-terminated and valid
 * only during the callback; [start, end) is the byte span of the source
 * word(s) in the input, for highlighting. `surface` is the normalised but
 * unstemmed word (what a suggestion shows). */
typedef struct text_token {
    const char *term;
    size_t len;
    const char *surface;
    size_t start, end;
} text_token;

/* Called once per term, in input order. A non-zero return stops the
 * analysis and is returned by text_analyze(). */
typedef int (*text_token_fn)(const text_token *t, void *ctx);

/* Creates an analyser (French and English stemmers). Returns 0 and *out
 * (free with text_analyzer_free), or SM_ENOMEM / SM_EINTERNAL. */
int text_analyzer_new(text_analyzer **out, sm_error *err);
void text_analyzer_free(text_analyzer *a);

/* The calling thread's analyser, created on first use and freed at thread
 * exit. Returns NULL when out of memory. Borrowed. */
text_analyzer *text_analyzer_thread(void);

/* Analyses `len` bytes of UTF-8 `in` (at most TEXT_INPUT_MAX are read) and
 * calls `fn` per term. Invalid UTF-8 bytes separate words. Returns 0, or
 * what `fn` returned. Not thread-safe for one analyser. */
int text_analyze(text_analyzer *a, const char *in, size_t len, text_token_fn fn, void *ctx);

/* Normalises one word (NFKC, case fold, accents stripped) into `out`
 * (capacity `cap`, NUL-terminated, cut at a character boundary). Returns the
 * length written, or -1 on invalid UTF-8. Thread-safe. */
int text_normalize_word(const char *in, size_t len, char *out, size_t cap);

/* Number of code points of the NUL-terminated UTF-8 `s`. */
size_t text_utf8_length(const char *s);

#endif
