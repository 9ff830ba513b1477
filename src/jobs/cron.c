/* cron.c — parsing cron expressions and walking the calendar to their
 * next (or previous) slot.
 *
 * Parsing turns each of the five fields into a bit set, so matching a
 * candidate time is five bit tests. The search does not step minute by
 * minute over instants: it walks the LOCAL wall clock (year, month, day,
 * hour, minute as plain integers, with our own calendar arithmetic),
 * jumping a whole month, day or hour whenever that field does not match,
 * and only converts a matching wall-clock time to an instant at the end.
 * That conversion is where time zones live:
 *
 *   - the wall time is converted with mktime() twice (tm_isdst = 0 and 1)
 *     and each result is converted back with localtime_r(); a result whose
 *     fields differ from what was asked fell into a gap (spring forward):
 *     that wall time does not exist and the slot is skipped;
 *   - when both conversions round-trip to different instants, the wall time
 *     exists twice (fall back): the slot is the first occurrence, and a
 *     search starting inside the repeated hour does not fire it again.
 *
 * Why the process's TZ and not a zone object: glibc has no thread-safe
 * "convert in zone Z" call, and we do not hand-write a TZif reader. So
 * cron_tz_set() sets TZ once, at start-up, and calls tzset(); after that
 * localtime_r() and mktime() are thread-safe (glibc locks internally and
 * only re-reads an unchanged TZ). A read-write lock orders our own readers
 * against a later cron_tz_set() (the tests switch zones); the beat has one
 * zone per process, which is also the zone the daily report's "day" means.
 *
 * The previous slot is found by searching forward from a window before the
 * instant, widening the window (an hour, a day, a month, a year, nine
 * years) until a slot falls in it: correct across DST by construction,
 * since it only ever uses cron_next(). */
#include "jobs/cron.h"

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define CRON_SEARCH_YEARS 9 /* Feb 29 may be 8 years away (2096 → 2104) */

static pthread_rwlock_t tz_lock = PTHREAD_RWLOCK_INITIALIZER;
static char tz_name[CRON_TZ_MAX + 1] = "UTC";

/* ---- parsing ------------------------------------------------------------ */

typedef struct cron_field {
    const char *what; /* "minute", for messages */
    int min, max;
    const char *const *names; /* names[i] is value min + i, or NULL */
} cron_field;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const wday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const cron_field fields[5] = {
    {"minute", 0, 59, NULL},           {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL},     {"month", 1, 12, month_names},
    {"day of week", 0, 7, wday_names},
};

static const struct {
    const char *name, *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* Reads a number or a name at *p; advances *p. Returns 0 or SM_EINVAL. */
static int parse_value(const cron_field *f, const char **p, int *out, sm_error *err)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (isdigit((unsigned char)*s)) {
            v = v * 10 + (*s++ - '0');
            if (v > 1000)
                break;
        }
        if (v < f->min || v > f->max)
            return sm_error_set(err, SM_EINVAL, "%s: %ld is out of range %d-%d", f->what, v, f->min,
                                f->max);
        *out = (int)v;
        *p = s;
        return 0;
    }
    if (f->names && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) &&
        isalpha((unsigned char)s[2]) && !isalpha((unsigned char)s[3])) {
        for (int i = 0; f->names[i]; i++) {
            if (strncasecmp(s, f->names[i], 3) == 0) {
                *out = f->min + i;
                *p = s + 3;
                return 0;
            }
        }
    }
    return sm_error_set(err, SM_EINVAL, "%s: '%.16s' is not a %s", f->what, s,
                        f->names ? "number or a name" : "number");
}

/* Parses one field's text (NUL-terminated) into a bit set. */
static int parse_field(const cron_field *f, const char *text, uint64_t *bits, sm_error *err)
{
    const char *p = text;
    *bits = 0;
    for (;;) {
        int lo, hi, step = 1, rc;
        bool star = false;
        if (*p == '*') {
            star = true;
            lo = f->min;
            hi = f->max;
            p++;
        } else {
            if ((rc = parse_value(f, &p, &lo, err)) < 0)
                return rc;
            hi = lo;
            if (*p == '-') {
                p++;
                if ((rc = parse_value(f, &p, &hi, err)) < 0)
                    return rc;
                if (hi < lo)
                    return sm_error_set(err, SM_EINVAL, "%s: range %d-%d is reversed", f->what, lo,
                                        hi);
            }
        }
        if (*p == '/') {
            if (!star && hi == lo)
                return sm_error_set(err, SM_EINVAL, "%s: a step needs '*' or a range (N-M/S)",
                                    f->what);
            p++;
            long s = 0;
            if (!isdigit((unsigned char)*p))
                return sm_error_set(err, SM_EINVAL, "%s: step is not a number", f->what);
            while (isdigit((unsigned char)*p) && s <= 1000)
                s = s * 10 + (*p++ - '0');
            if (s < 1 || s > f->max)
                return sm_error_set(err, SM_EINVAL, "%s: step must be 1-%d", f->what, f->max);
            step = (int)s;
        }
        if (lo < 0 || hi > 63 || lo < f->min || hi > f->max) /* for the shift below */
            return sm_error_set(err, SM_EINTERNAL, "%s: bounds", f->what);
        for (int v = lo; v <= hi; v += step)
            *bits |= 1ULL << v;
        if (*p == '\0')
            return 0;
        if (*p != ',')
            return sm_error_set(err, SM_EINVAL, "%s: unexpected '%c'", f->what, *p);
        p++;
    }
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* An expression restricted by day of month alone must name a day that
 * some allowed month has (February counts its 29th). */
static bool can_fire(const cron_expr *e)
{
    if (e->mday_star || !e->wday_star)
        return true;
    for (int m = 1; m <= 12; m++) {
        if (!(e->months & (1u << m)))
            continue;
        int longest = m == 2 ? 29 : days_in_month(2001, m);
        for (int d = 1; d <= longest; d++)
            if (e->mdays & (1u << d))
                return true;
    }
    return false;
}

int cron_parse(const char *text, cron_expr *out, sm_error *err)
{
    char buf[CRON_EXPR_MAX + 1];
    if (!text || !out)
        return sm_error_set(err, SM_EINVAL, "cron: no expression");
    size_t len = strnlen(text, CRON_EXPR_MAX + 1);
    if (len > CRON_EXPR_MAX)
        return sm_error_set(err, SM_EINVAL, "cron: expression longer than %d bytes", CRON_EXPR_MAX);
    while (len > 0 && isspace((unsigned char)*text))
        text++, len--;
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        len--;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (buf[0] == '@') {
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (strcasecmp(buf, macros[i].name) == 0)
                return cron_parse(macros[i].expansion, out, err);
        return sm_error_set(err, SM_EINVAL,
                            "cron: unknown macro '%s' (use @hourly, @daily, @midnight, "
                            "@weekly, @monthly or @yearly)",
                            buf);
    }

    char *parts[5];
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (n == 5)
            return sm_error_set(err, SM_EINVAL, "cron: more than 5 fields in '%s'", text);
        parts[n++] = tok;
    }
    if (n != 5)
        return sm_error_set(err, SM_EINVAL,
                            "cron: '%.*s' has %d field(s), expected 5 (minute hour day-of-month "
                            "month day-of-week)",
                            (int)len, text, n);
    cron_expr e = {0};
    uint64_t bits[5];
    for (int i = 0; i < 5; i++) {
        int rc = parse_field(&fields[i], parts[i], &bits[i], err);
        if (rc < 0)
            return rc;
    }
    e.minutes = bits[0];
    e.hours = (uint32_t)bits[1];
    e.mdays = (uint32_t)bits[2];
    e.months = (uint16_t)bits[3];
    e.wdays = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday too */
    e.mday_star = parts[2][0] == '*';
    e.wday_star = parts[4][0] == '*';
    if (!can_fire(&e))
        return sm_error_set(err, SM_EINVAL, "cron: '%.*s' can never fire (no such day)", (int)len,
                            text);
    *out = e;
    return 0;
}

/* ---- calendar ----------------------------------------------------------- */

/* A local wall-clock time; month 1-12, day 1-31. */
typedef struct wall {
    int y, mo, d, h, mi;
} wall;

/* Day of week (0 = Sunday) of a proleptic Gregorian date (Sakamoto). */
static int weekday(int y, int m, int d)
{
    static const int t[12] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (m < 3)
        y -= 1;
    return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
}

static bool day_matches(const cron_expr *e, const wall *w)
{
    bool md = (e->mdays >> w->d) & 1u;
    bool wd = (e->wdays >> weekday(w->y, w->mo, w->d)) & 1u;
    if (e->mday_star || e->wday_star)
        return md && wd;
    return md || wd;
}

/* Carries overflowing fields upwards (each is at most one past its max). */
static void wall_normalise(wall *w)
{
    if (w->mi > 59)
        w->mi = 0, w->h++;
    if (w->h > 23)
        w->h = 0, w->d++;
    if (w->d > days_in_month(w->y, w->mo))
        w->d = 1, w->mo++;
    if (w->mo > 12)
        w->mo = 1, w->y++;
}

/* The instant of wall time `w` in the current zone: its first occurrence.
 * Returns false when `w` does not exist there (a DST gap). Caller holds
 * tz_lock for reading. */
static bool wall_resolve(const wall *w, int64_t *out)
{
    bool found = false;
    for (int isdst = 0; isdst <= 1; isdst++) {
        struct tm tm = {.tm_year = w->y - 1900,
                        .tm_mon = w->mo - 1,
                        .tm_mday = w->d,
                        .tm_hour = w->h,
                        .tm_min = w->mi,
                        .tm_isdst = isdst};
        time_t t = mktime(&tm);
        struct tm back;
        if (t == (time_t)-1 || !localtime_r(&t, &back))
            continue;
        if (back.tm_year != w->y - 1900 || back.tm_mon != w->mo - 1 || back.tm_mday != w->d ||
            back.tm_hour != w->h || back.tm_min != w->mi)
            continue; /* normalised out of a gap */
        if (!found || (int64_t)t < *out)
            *out = (int64_t)t;
        found = true;
    }
    return found;
}

int cron_next(const cron_expr *e, int64_t after, int64_t *out)
{
    time_t a = (time_t)after;
    struct tm lt;
    int rc = SM_ENOTFOUND;
    pthread_rwlock_rdlock(&tz_lock);
    if (!localtime_r(&a, &lt)) {
        pthread_rwlock_unlock(&tz_lock);
        return SM_EINVAL;
    }
    wall w = {lt.tm_year + 1900, lt.tm_mon + 1, lt.tm_mday, lt.tm_hour, lt.tm_min + 1};
    wall_normalise(&w);
    int last_year = w.y + CRON_SEARCH_YEARS;
    while (w.y <= last_year) {
        if (!((e->months >> w.mo) & 1u)) {
            w.d = 1, w.h = 0, w.mi = 0;
            w.mo++;
            if (w.mo > 12)
                w.mo = 1, w.y++;
            continue;
        }
        if (!day_matches(e, &w)) {
            w.h = 0, w.mi = 0;
            w.d++;
            wall_normalise(&w);
            continue;
        }
        if (!((e->hours >> w.h) & 1u)) {
            w.mi = 0;
            w.h++;
            wall_normalise(&w);
            continue;
        }
        if (!((e->minutes >> w.mi) & 1u)) {
            w.mi++;
            wall_normalise(&w);
            continue;
        }
        int64_t t = 0;
        if (wall_resolve(&w, &t) && t > after) {
            *out = t;
            rc = 0;
            break;
        }
        /* A gap, or the second pass of a repeated hour: already fired. */
        w.mi++;
        wall_normalise(&w);
    }
    pthread_rwlock_unlock(&tz_lock);
    return rc;
}

int cron_prev(const cron_expr *e, int64_t at, int64_t *out)
{
    static const int64_t windows[] = {3660, 90000, 32 * 86400, 367 * 86400,
                                      CRON_SEARCH_YEARS * 366 * 86400LL};
    for (size_t i = 0; i < sizeof windows / sizeof windows[0]; i++) {
        int64_t t;
        if (cron_next(e, at - windows[i], &t) < 0 || t > at)
            continue;
        /* Walk forward to the last slot at or before `at`: at most the
         * slots of one window (1440 for "* * 1 * *" in a month). */
        for (int64_t nx; cron_next(e, t, &nx) == 0 && nx <= at;)
            t = nx;
        *out = t;
        return 0;
    }
    return SM_ENOTFOUND;
}

/* ---- time zone ---------------------------------------------------------- */

/* An IANA name: components of [A-Za-z0-9_+-] (not starting with '-' or
 * '.'), separated by single '/'. Rejects "..", absolute paths and
 * POSIX TZ strings, which glibc would silently misread. */
static bool tz_name_valid(const char *zone)
{
    size_t len = strnlen(zone, CRON_TZ_MAX + 1);
    if (len == 0 || len > CRON_TZ_MAX)
        return false;
    bool start = true;
    for (const char *p = zone; *p; p++) {
        if (*p == '/') {
            if (start)
                return false;
            start = true;
            continue;
        }
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '+' && *p != '-')
            return false;
        if (start && *p == '-')
            return false;
        start = false;
    }
    return !start;
}

/* True when the zone's TZif file exists (glibc falls back to UTC, silently,
 * for a zone it cannot find). */
static bool tz_file_exists(const char *zone)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", zone);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char magic[4];
    ssize_t n = read(fd, magic, sizeof magic);
    close(fd);
    return n == 4 && memcmp(magic, "TZif", 4) == 0;
}

int cron_tz_set(const char *zone, sm_error *err)
{
    if (!zone || !tz_name_valid(zone))
        return sm_error_set(err, SM_EINVAL, "'%.64s' is not a time-zone name (Area/City, UTC)",
                            zone ? zone : "");
    bool utc = strcmp(zone, "UTC") == 0;
    if (!utc && !tz_file_exists(zone))
        return sm_error_set(err, SM_ENOTFOUND, "unknown time zone '%s' (not in the tz database)",
                            zone);
    pthread_rwlock_wrlock(&tz_lock);
    int rc = setenv("TZ", utc ? "UTC0" : zone, 1);
    if (rc == 0) {
        tzset();
        snprintf(tz_name, sizeof tz_name, "%s", zone);
    }
    pthread_rwlock_unlock(&tz_lock);
    if (rc != 0)
        return sm_error_set(err, SM_ENOMEM, "cannot set TZ");
    return 0;
}

const char *cron_tz_name(void)
{
    return tz_name;
}

int cron_local_date(int64_t t, int day_offset, char out[11])
{
    time_t tt = (time_t)t;
    struct tm lt;
    pthread_rwlock_rdlock(&tz_lock);
    bool ok = localtime_r(&tt, &lt) != NULL;
    pthread_rwlock_unlock(&tz_lock);
    if (!ok)
        return SM_EINVAL;
    /* Calendar arithmetic in UTC: noon of that date, shifted by whole days,
     * never meets a DST edge. */
    struct tm noon = {
        .tm_year = lt.tm_year, .tm_mon = lt.tm_mon, .tm_mday = lt.tm_mday, .tm_hour = 12};
    time_t shifted = timegm(&noon) + (time_t)day_offset * 86400;
    struct tm d;
    if (!gmtime_r(&shifted, &d) || d.tm_year < -1900 || d.tm_year > 9999 - 1900 ||
        strftime(out, 11, "%Y-%m-%d", &d) != 10)
        return SM_EINVAL;
    return 0;
}
