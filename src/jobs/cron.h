/* cron.h — standard 5-field cron expressions and their fire times in a
 * configurable IANA time zone (the beat's schedule; see docs/BEAT.md).
 *
 *   ┌ minute 0-59   ┌ hour 0-23   ┌ day of month 1-31   ┌ month 1-12 or jan-dec
 *   │               │             │                     │   ┌ day of week 0-7 or sun-sat
 *   0               *             *                     *   *
 *
 * Each field is '*', a value, a range a-b, or a list of those separated by
 * commas; '*' and ranges take a step (/n). Names are case-insensitive. The
 * macros @yearly/@annually, @monthly, @weekly, @daily/@midnight and @hourly
 * stand for their usual expansions. Day of month and day of week follow
 * the classic (Vixie cron) rule: when both are restricted, a day matches if
 * EITHER matches; when one of them starts with '*', both must match (so the
 * '*' one matches every day).
 *
 * Times are seconds since the Unix epoch. Slots are computed on the local
 * wall clock of the zone set with cron_tz_set() (process-wide, default UTC):
 * a wall-clock slot that does not exist (spring forward) is skipped, and
 * one that exists twice (fall back) fires once, at its first occurrence. */
#ifndef SM_JOBS_CRON_H
#define SM_JOBS_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

#define CRON_EXPR_MAX 256 /* longest expression text accepted */
#define CRON_TZ_MAX 64    /* longest time-zone name accepted */

/* A parsed expression: one bit per allowed value of each field. */
typedef struct cron_expr {
    uint64_t minutes; /* bits 0-59 */
    uint32_t hours;   /* bits 0-23 */
    uint32_t mdays;   /* bits 1-31 */
    uint16_t months;  /* bits 1-12 */
    uint8_t wdays;    /* bits 0-6, Sunday = 0 (7 is folded onto 0) */
    bool mday_star;   /* the day-of-month field started with '*' */
    bool wday_star;   /* the day-of-week field started with '*' */
} cron_expr;

/* Parses `text` (at most CRON_EXPR_MAX bytes) into *out. Rejects anything
 * else than the grammar above, including values out of range, reversed
 * ranges, steps of 0 and expressions that can never fire ("0 0 30 2 *",
 * February 30th). Returns 0, or SM_EINVAL with a message naming the bad field.
 * Thread-safe. */
int cron_parse(const char *text, cron_expr *out, sm_error *err);

/* The first slot of `e` strictly after `after` in the current zone, in
 * *out. Returns 0, or SM_ENOTFOUND when none falls within the next nine
 * years (cannot happen for an expression cron_parse accepted). Thread-safe
 * (takes the zone's read lock). */
int cron_next(const cron_expr *e, int64_t after, int64_t *out);

/* The latest slot of `e` at or before `at`, in *out. Returns 0, or
 * SM_ENOTFOUND when none within the previous nine years. Thread-safe. */
int cron_prev(const cron_expr *e, int64_t at, int64_t *out);

/* Makes `zone` ("UTC", "Europe/Paris": an IANA name, at most CRON_TZ_MAX
 * bytes, whose TZif file exists under $TZDIR or /usr/share/zoneinfo) the
 * zone of every cron computation. It sets the process's TZ and calls
 * tzset(), so localtime_r() everywhere agrees with the schedule. Returns 0,
 * or SM_EINVAL (malformed name) / SM_ENOTFOUND (no such zone) leaving the
 * zone unchanged. Call at start-up, before other threads use local time:
 * setenv() races with getenv() elsewhere; the lock only orders cron's own
 * readers. */
int cron_tz_set(const char *zone, sm_error *err);

/* The zone set by cron_tz_set() ("UTC" before). Borrowed, valid until the
 * next cron_tz_set(). */
const char *cron_tz_name(void);

/* Writes the local calendar date of `t` shifted by `day_offset` days as
 * "YYYY-MM-DD" into out (at least 11 bytes): cron_local_date(slot, -1, …)
 * is the day before the slot, in the schedule's zone. Returns 0, or
 * SM_EINVAL when the time cannot be converted. Thread-safe. */
int cron_local_date(int64_t t, int day_offset, char out[11]);

#endif
