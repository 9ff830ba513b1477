/* test_text.c — normalisation, compounds, quantities, stop words and
 * stemming, in French and English. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ml/text.h"

/* The terms of `in`, space-separated, into `out`. */
typedef struct acc {
    char buf[1024];
} acc;

static int add(const text_token *t, void *arg)
{
    acc *a = arg;
    size_t n = strlen(a->buf);
    snprintf(a->buf + n, sizeof a->buf - n, "%s%s", n ? " " : "", t->term);
    return 0;
}

static const char *terms(const char *in)
{
    static acc a;
    static text_analyzer *an;
    if (!an)
        assert_int_equal(text_analyzer_new(&an, NULL), 0);
    a.buf[0] = '\0';
    assert_int_equal(text_analyze(an, in, strlen(in), add, &a), 0);
    return a.buf;
}

static void text_folds_accents_and_stems_french(void **state)
{
    (void)state;
    assert_string_equal(terms("Électroménager"), "electromenag");
    assert_string_equal(terms("électroménager"), terms("ELECTROMENAGER"));
    assert_string_equal(terms("Cafetières"), terms("cafetiere"));
    assert_string_equal(terms("Écouteurs"), "ecouteur");
}

static void text_stems_english(void **state)
{
    (void)state;
    assert_string_equal(terms("headphones"), "headphon");
    assert_string_equal(terms("chargers"), terms("charger"));
}

static void text_handles_hyphenated_compounds(void **state)
{
    (void)state;
    assert_string_equal(terms("t-shirt"), "shirt tshirt");
    assert_string_equal(terms("T-Shirt"), terms("t-shirt"));
    assert_string_equal(terms("USB-C"), "usb usbc");
}

static void text_joins_numbers_and_units(void **state)
{
    (void)state;
    assert_string_equal(terms("128 Go"), "128 128go go");
    assert_string_equal(terms("Smartphone 128Go"), "smartphon 128go");
    assert_string_equal(terms("500 g"), "500 500g");
}

static void text_drops_stop_words_and_single_letters(void **state)
{
    (void)state;
    assert_string_equal(terms("le café et the tea"), terms("cafe tea"));
    assert_string_equal(terms("le et the of"), "");
    assert_string_equal(terms("Protection d'écran"), "protect ecran");
}

static void text_normalises_compatibility_forms(void **state)
{
    (void)state;
    char out[TEXT_TERM_MAX];
    assert_int_equal(text_normalize_word("ＦＵＬＬ", strlen("ＦＵＬＬ"), out, sizeof out), 4);
    assert_string_equal(out, "full");
    assert_int_equal(text_normalize_word("Straße", strlen("Straße"), out, sizeof out), 7);
    assert_string_equal(out, "strasse");
}

static void text_survives_invalid_utf8_and_long_input(void **state)
{
    (void)state;
    assert_string_equal(terms("ab\xff\xfe"
                              "cd smart\xc3"),
                        "ab cd smart");
    static char big[TEXT_INPUT_MAX * 2];
    memset(big, 'a', sizeof big - 1);
    for (size_t i = 10; i < sizeof big - 1; i += 11)
        big[i] = ' ';
    (void)terms(big); /* bounded: must simply return */
    assert_int_equal(text_utf8_length("héllo"), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_folds_accents_and_stems_french),
        cmocka_unit_test(text_stems_english),
        cmocka_unit_test(text_handles_hyphenated_compounds),
        cmocka_unit_test(text_joins_numbers_and_units),
        cmocka_unit_test(text_drops_stop_words_and_single_letters),
        cmocka_unit_test(text_normalises_compatibility_forms),
        cmocka_unit_test(text_survives_invalid_utf8_and_long_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
