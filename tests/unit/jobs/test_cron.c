/* test_cron.c — cron expressions: the grammar (lists, ranges, steps,
 * names, macros, what is refused) and the fire-time search (day-of-month /
 * day-of-week rule, month ends, leap years, DST in Europe/Paris, the
 * previous slot, local dates). No database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "jobs/cron.h"

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return (int64_t)timegm(&tm);
}

static cron_expr parse_ok(const char *text)
{
    cron_expr e;
    sm_error err = {0};
    int rc = cron_parse(text, &e, &err);
    if (rc != 0)
        fail_msg("cron_parse('%s') -> %d: %s", text, rc, err.message);
    return e;
}

static int64_t next_of(const char *text, int64_t after)
{
    cron_expr e = parse_ok(text);
    int64_t t = 0;
    assert_int_equal(cron_next(&e, after, &t), 0);
    return t;
}

static int setup_utc(void **state)
{
    (void)state;
    return cron_tz_set("UTC", NULL);
}

static int setup_paris(void **state)
{
    (void)state;
    return cron_tz_set("Europe/Paris", NULL);
}

static void cron_parse_reads_every_form(void **state)
{
    (void)state;
    cron_expr e = parse_ok("*/15 0,12 1-5 jan-mar,DEC mon-fri");
    assert_true(e.minutes == ((1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45)));
    assert_int_equal(e.hours, (1u << 0) | (1u << 12));
    assert_int_equal(e.mdays, 0x3e); /* 1-5 */
    assert_int_equal(e.months, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 12));
    assert_int_equal(e.wdays, 0x3e); /* mon-fri */
    assert_false(e.mday_star);
    assert_false(e.wday_star);

    e = parse_ok("  10-50/20 * * * 7 ");
    assert_true(e.minutes == ((1ULL << 10) | (1ULL << 30) | (1ULL << 50)));
    assert_int_equal(e.wdays, 1); /* 7 is Sunday */
    assert_true(e.mday_star);
    e = parse_ok("0 0 * * 5-7");
    assert_int_equal(e.wdays, (1u << 0) | (1u << 5) | (1u << 6));

    cron_expr m = parse_ok("@hourly"), x = parse_ok("0 * * * *");
    assert_memory_equal(&m, &x, sizeof m);
    m = parse_ok("@midnight"), x = parse_ok("0 0 * * *");
    assert_memory_equal(&m, &x, sizeof m);
    m = parse_ok("@DAILY");
    assert_memory_equal(&m, &x, sizeof m);
    m = parse_ok("@weekly"), x = parse_ok("0 0 * * sun");
    assert_memory_equal(&m, &x, sizeof m);
    parse_ok("@monthly");
    parse_ok("@yearly");
    parse_ok("@annually");
}

static void cron_parse_rejects_bad_expressions(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * 32 * *",
        "* * * 13 *",
        "* * * * 8",
        "5-1 * * * *",
        "*/0 * * * *",
        "5/10 * * * *",
        "1,,2 * * * *",
        "a * * * *",
        "* * * foo *",
        "* * * * monday",
        "*/x * * * *",
        "-1 * * * *",
        "@reboot",
        "@every 5m",
        "0 0 30 2 *",
        "0 0 31 4,6 *",
        "1- * * * *",
        "* * * * mon-",
        "99999999999 * * * *",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cron_expr e;
        sm_error err = {0};
        int rc = cron_parse(bad[i], &e, &err);
        if (rc != SM_EINVAL)
            fail_msg("cron_parse('%s') -> %d, expected SM_EINVAL", bad[i], rc);
        assert_true(err.message[0] != '\0');
    }
    char longer[CRON_EXPR_MAX + 8];
    memset(longer, ' ', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    memcpy(longer + CRON_EXPR_MAX, "* * * *", 7);
    cron_expr e;
    assert_int_equal(cron_parse(longer, &e, NULL), SM_EINVAL);
    /* February 30th alone never fires, but "or on Mondays" does. */
    parse_ok("0 0 30 2 mon");
    parse_ok("0 0 29 2 *");
}

static void cron_next_walks_steps_lists_and_names(void **state)
{
    (void)state;
    assert_int_equal(next_of("*/15 * * * *", utc(2026, 3, 10, 10, 7)), utc(2026, 3, 10, 10, 15));
    assert_int_equal(next_of("*/30 * * * *", utc(2026, 3, 10, 10, 30)), utc(2026, 3, 10, 11, 0));
    /* strictly after: a slot is not its own successor, seconds are floored */
    assert_int_equal(next_of("0 * * * *", utc(2026, 3, 10, 10, 0)), utc(2026, 3, 10, 11, 0));
    assert_int_equal(next_of("0 * * * *", utc(2026, 3, 10, 10, 0) - 1), utc(2026, 3, 10, 10, 0));
    assert_int_equal(next_of("0 0 * * *", utc(2026, 12, 31, 23, 59) + 30), utc(2027, 1, 1, 0, 0));
    /* 2026-03-13 is a Friday: next weekday 09:00 is Monday the 16th */
    assert_int_equal(next_of("0 9 * * mon-fri", utc(2026, 3, 13, 10, 0)), utc(2026, 3, 16, 9, 0));
    assert_int_equal(next_of("30 3 * * *", utc(2026, 3, 13, 10, 0)), utc(2026, 3, 14, 3, 30));
    assert_int_equal(next_of("0 12 1 jan,jul *", utc(2026, 1, 1, 12, 0)), utc(2026, 7, 1, 12, 0));
    assert_int_equal(next_of("15,45 8-9 * * *", utc(2026, 3, 13, 8, 45)), utc(2026, 3, 13, 9, 15));
}

static void cron_next_applies_the_day_of_month_or_day_of_week_rule(void **state)
{
    (void)state;
    /* Both restricted: the 13th OR a Friday. From Sat 2026-03-07: Fri the 13th
     * is both; from the 14th, Fri the 20th comes before the 13th of April. */
    assert_int_equal(next_of("0 0 13 * fri", utc(2026, 3, 7, 0, 0)), utc(2026, 3, 13, 0, 0));
    assert_int_equal(next_of("0 0 13 * fri", utc(2026, 3, 14, 0, 0)), utc(2026, 3, 20, 0, 0));
    assert_int_equal(next_of("0 0 1 * mon", utc(2026, 3, 24, 0, 0)), utc(2026, 3, 30, 0, 0));
    assert_int_equal(next_of("0 0 1 * mon", utc(2026, 3, 30, 0, 0)), utc(2026, 4, 1, 0, 0));
    /* One field starts with '*': both must match (odd days that are Mondays). */
    assert_int_equal(next_of("0 0 */2 * mon", utc(2026, 3, 1, 0, 0)), utc(2026, 3, 9, 0, 0));
    assert_int_equal(next_of("0 0 * * mon", utc(2026, 3, 10, 0, 0)), utc(2026, 3, 16, 0, 0));
}

static void cron_next_handles_month_ends_and_leap_years(void **state)
{
    (void)state;
    assert_int_equal(next_of("0 0 31 * *", utc(2026, 1, 31, 0, 0)), utc(2026, 3, 31, 0, 0));
    assert_int_equal(next_of("0 0 31 * *", utc(2026, 3, 31, 0, 0)), utc(2026, 5, 31, 0, 0));
    assert_int_equal(next_of("0 0 29 2 *", utc(2023, 3, 1, 0, 0)), utc(2024, 2, 29, 0, 0));
    assert_int_equal(next_of("0 0 29 2 *", utc(2024, 2, 29, 0, 0)), utc(2028, 2, 29, 0, 0));
    /* 2100 is not a leap year: 2096 → 2104 */
    assert_int_equal(next_of("0 0 29 2 *", utc(2096, 3, 1, 0, 0)), utc(2104, 2, 29, 0, 0));
    assert_int_equal(next_of("59 23 28-31 2 *", utc(2025, 2, 28, 23, 59)),
                     utc(2026, 2, 28, 23, 59));
    assert_int_equal(next_of("@yearly", utc(2026, 6, 1, 0, 0)), utc(2027, 1, 1, 0, 0));
}

static void cron_prev_finds_the_latest_slot(void **state)
{
    (void)state;
    cron_expr e = parse_ok("0 0 * * *");
    int64_t t = 0;
    assert_int_equal(cron_prev(&e, utc(2026, 5, 10, 12, 0), &t), 0);
    assert_int_equal(t, utc(2026, 5, 10, 0, 0));
    assert_int_equal(cron_prev(&e, utc(2026, 5, 10, 0, 0), &t), 0); /* inclusive */
    assert_int_equal(t, utc(2026, 5, 10, 0, 0));
    e = parse_ok("*/30 * * * *");
    assert_int_equal(cron_prev(&e, utc(2026, 5, 10, 12, 59) + 59, &t), 0);
    assert_int_equal(t, utc(2026, 5, 10, 12, 30));
    e = parse_ok("0 0 29 2 *");
    assert_int_equal(cron_prev(&e, utc(2027, 1, 1, 0, 0), &t), 0);
    assert_int_equal(t, utc(2024, 2, 29, 0, 0));
}

static void cron_tz_rejects_unknown_and_malformed_zones(void **state)
{
    (void)state;
    static const char *const malformed[] = {"",
                                            "/etc/passwd",
                                            "../etc/passwd",
                                            "Europe//Paris",
                                            "Europe/",
                                            "EST5EDT,M3.2.0,M11.1.0",
                                            "-foo",
                                            "Europe/../../etc/passwd"};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        assert_int_equal(cron_tz_set(malformed[i], NULL), SM_EINVAL);
    sm_error err = {0};
    assert_int_equal(cron_tz_set("Europe/Nowhere", &err), SM_ENOTFOUND);
    assert_non_null(strstr(err.message, "Europe/Nowhere"));
    assert_string_equal(cron_tz_name(), "UTC"); /* unchanged by failures */
    assert_int_equal(cron_tz_set("America/New_York", NULL), 0);
    assert_string_equal(cron_tz_name(), "America/New_York");
    assert_int_equal(cron_tz_set("UTC", NULL), 0);
}

/* Paris, 2024-03-31: 02:00 CET jumps to 03:00 CEST (01:00 UTC). */
static void cron_next_skips_a_slot_that_spring_forward_removes(void **state)
{
    (void)state;
    assert_int_equal(next_of("30 2 * * *", utc(2024, 3, 30, 1, 30)), utc(2024, 4, 1, 0, 30));
    assert_int_equal(next_of("0 * * * *", utc(2024, 3, 31, 0, 0)), utc(2024, 3, 31, 1, 0));
    /* midnight in Paris is 23:00 UTC the day before in winter, 22:00 in summer */
    assert_int_equal(next_of("0 0 * * *", utc(2024, 3, 30, 12, 0)), utc(2024, 3, 30, 23, 0));
    assert_int_equal(next_of("0 0 * * *", utc(2024, 3, 30, 23, 0)), utc(2024, 3, 31, 22, 0));
}

/* Paris, 2024-10-27: 03:00 CEST falls back to 02:00 CET (01:00 UTC); the
 * wall times 02:00-02:59 happen twice and fire once, the first time. */
static void cron_next_fires_a_repeated_slot_once_on_fall_back(void **state)
{
    (void)state;
    assert_int_equal(next_of("30 2 * * *", utc(2024, 10, 26, 12, 0)), utc(2024, 10, 27, 0, 30));
    assert_int_equal(next_of("30 2 * * *", utc(2024, 10, 27, 0, 30)), utc(2024, 10, 28, 1, 30));
    /* from inside the second pass, 02:30 is not due again */
    assert_int_equal(next_of("30 2 * * *", utc(2024, 10, 27, 1, 10)), utc(2024, 10, 28, 1, 30));
    assert_int_equal(next_of("0 * * * *", utc(2024, 10, 27, 0, 0)), utc(2024, 10, 27, 2, 0));

    /* Every minute across the whole 25-hour local day: 1440 slots, in order. */
    cron_expr e = parse_ok("* * * * *");
    int64_t t = utc(2024, 10, 26, 22, 0) - 60; /* 23:59 local on the 26th */
    int n = 0;
    for (int64_t nx; cron_next(&e, t, &nx) == 0 && nx < utc(2024, 10, 27, 23, 0); t = nx, n++)
        assert_true(nx > t);
    assert_int_equal(n, 1440);

    int64_t p = 0;
    assert_int_equal(cron_prev(&e, utc(2024, 10, 27, 1, 10), &p), 0);
    assert_int_equal(p, utc(2024, 10, 27, 0, 59)); /* the last slot that fired: 02:59 CEST */
}

static void cron_local_date_is_the_zone_calendar_day(void **state)
{
    (void)state;
    char day[11];
    /* 22:00 UTC on May 10 is midnight May 11 in Paris: the day before is May 10. */
    assert_int_equal(cron_local_date(utc(2024, 5, 10, 22, 0), -1, day), 0);
    assert_string_equal(day, "2024-05-10");
    assert_int_equal(cron_local_date(utc(2024, 3, 1, 0, 0), -1, day), 0);
    assert_string_equal(day, "2024-02-29");
    assert_int_equal(cron_local_date(utc(2024, 1, 1, 0, 0), 0, day), 0);
    assert_string_equal(day, "2024-01-01");
    assert_int_equal(cron_local_date(utc(2023, 12, 31, 23, 0), -1, day), 0);
    assert_string_equal(day, "2023-12-31");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(cron_parse_reads_every_form, setup_utc),
        cmocka_unit_test_setup(cron_parse_rejects_bad_expressions, setup_utc),
        cmocka_unit_test_setup(cron_next_walks_steps_lists_and_names, setup_utc),
        cmocka_unit_test_setup(cron_next_applies_the_day_of_month_or_day_of_week_rule, setup_utc),
        cmocka_unit_test_setup(cron_next_handles_month_ends_and_leap_years, setup_utc),
        cmocka_unit_test_setup(cron_prev_finds_the_latest_slot, setup_utc),
        cmocka_unit_test_setup(cron_tz_rejects_unknown_and_malformed_zones, setup_utc),
        cmocka_unit_test_setup(cron_next_skips_a_slot_that_spring_forward_removes, setup_paris),
        cmocka_unit_test_setup(cron_next_fires_a_repeated_slot_once_on_fall_back, setup_paris),
        cmocka_unit_test_setup(cron_local_date_is_the_zone_calendar_day, setup_paris),
    };
    return cmocka_run_group_tests_name("cron", tests, NULL, NULL);
}
