/* generate_daily_report.c — one day's orders, revenue, top products and
 * new users, as JSON and CSV files and a database row.
 *
 * The day is a calendar date in the schedule's time zone (the zone the
 * process set with cron_tz_set from BEAT_TIMEZONE; UTC when none), from its
 * local midnight to the next one (23 or 25 hours on DST days): the beat
 * passes the date of the day that just ended; without one the task takes
 * yesterday. Bounds come from cron's own midnight arithmetic, so the report
 * and the schedule agree on what "a day" is.
 *
 * Idempotent per date: the report holds only what the data says (no
 * generation time inside the files), every list has a total order, and
 * JSON keys are sorted, so running it twice over unchanged data writes
 * byte-identical files (each atomically: temp, fsync, rename) and the
 * daily_reports upsert leaves one row per date. Orders that change later
 * (cancelled next week) change a re-run: the latest run is the truth.
 *
 * Money is integer cents per currency; revenue counts every order not
 * cancelled. CSV fields are quoted when needed, and a product name starting
 * with = + - @ is prefixed with ' so spreadsheets never run it as a
 * formula. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/events.h"
#include "jobs/cron.h"
#include "jobs/tasks/tasks.h"
#include "ops/atomic_file.h"

#define DATE_LEN 10

/* Reads `n` decimal digits at s; -1 when one is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Strict YYYY-MM-DD naming a real calendar day (1970–9999). */
static bool date_parse(const char *s, int *y, int *m, int *d)
{
    if (!s || strlen(s) != DATE_LEN || s[4] != '-' || s[7] != '-')
        return false;
    *y = digits(s, 4);
    *m = digits(s + 5, 2);
    *d = digits(s + 8, 2);
    if (*y < 1970 || *m < 1 || *m > 12 || *d < 1 || *d > 31)
        return false;
    struct tm tm = {.tm_year = *y - 1900, .tm_mon = *m - 1, .tm_mday = *d, .tm_hour = 12};
    time_t t = timegm(&tm);
    struct tm back;
    gmtime_r(&t, &back);
    return back.tm_year == *y - 1900 && back.tm_mon == *m - 1 && back.tm_mday == *d;
}

/* [*from_ms, *to_ms) of local day `date` in the schedule's zone. */
static int day_bounds(const char *date, int64_t *from_ms, int64_t *to_ms, sm_error *err)
{
    int y, m, d;
    cron_expr midnight;
    if (!date_parse(date, &y, &m, &d) || cron_parse("0 0 * * *", &midnight, err) < 0)
        return sm_error_set(err, SM_EINVAL, "bad date");
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
    int64_t noon = (int64_t)timegm(&tm);
    /* Noon UTC is on the same local date in zones within ±12 h; step a
     * day at a time otherwise. */
    char local[DATE_LEN + 1];
    for (int i = 0; i < 3; i++) {
        if (cron_local_date(noon, 0, local) < 0)
            return sm_error_set(err, SM_EINVAL, "date out of range");
        int c = strcmp(local, date);
        if (c == 0)
            break;
        noon += c < 0 ? 86400 : -86400;
    }
    int64_t start, end;
    if (strcmp(local, date) != 0 || cron_prev(&midnight, noon, &start) < 0 ||
        cron_next(&midnight, start, &end) < 0)
        return sm_error_set(err, SM_EINVAL, "cannot place %s in zone %s", date, cron_tz_name());
    *from_ms = start * 1000;
    *to_ms = end * 1000;
    return 0;
}

static int query(db *d, const char *sql, int64_t from, int64_t to, int limit, db_result **r,
                 sm_error *err)
{
    db_value p[] = {DB_I(from), DB_I(to), DB_I(limit)};
    return db_query(d, sql, p, limit > 0 ? 3 : 2, r, err);
}

static const char *const TOP_SQL_UNITS =
    "SELECT i.product_id, MAX(i.name), o.currency, SUM(i.quantity) AS units, "
    "SUM(i.line_total_cents) AS revenue FROM order_items i JOIN orders o ON o.id = i.order_id "
    "WHERE o.created_at >= $1 AND o.created_at < $2 AND o.status <> 'cancelled' "
    "GROUP BY i.product_id, o.currency ORDER BY units DESC, revenue DESC, i.product_id, "
    "o.currency LIMIT $3";
static const char *const TOP_SQL_REVENUE =
    "SELECT i.product_id, MAX(i.name), o.currency, SUM(i.quantity) AS units, "
    "SUM(i.line_total_cents) AS revenue FROM order_items i JOIN orders o ON o.id = i.order_id "
    "WHERE o.created_at >= $1 AND o.created_at < $2 AND o.status <> 'cancelled' "
    "GROUP BY i.product_id, o.currency ORDER BY revenue DESC, units DESC, i.product_id, "
    "o.currency LIMIT $3";

static json_t *top_json(const db_result *r)
{
    json_t *a = json_array();
    for (int i = 0; a && i < db_result_rows(r); i++)
        json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:I, s:I}", "product_id",
                                           (json_int_t)db_result_int(r, i, 0), "name",
                                           db_result_text(r, i, 1) ? db_result_text(r, i, 1) : "",
                                           "currency",
                                           db_result_text(r, i, 2) ? db_result_text(r, i, 2) : "",
                                           "units", (json_int_t)db_result_int(r, i, 3),
                                           "revenue_cents", (json_int_t)db_result_int(r, i, 4)));
    return a;
}

/* Gathers the day's figures into *out (a new object). */
static int report_build(db *d, const char *date, int64_t from, int64_t to, json_t **out,
                        sm_error *err)
{
    db_result *st = NULL, *rev = NULL, *tu = NULL, *tr = NULL, *nu = NULL;
    int rc;
    *out = NULL;
    if ((rc = query(d,
                    "SELECT status, COUNT(*) FROM orders WHERE created_at >= $1 AND "
                    "created_at < $2 GROUP BY status ORDER BY status",
                    from, to, 0, &st, err)) < 0 ||
        (rc = query(d,
                    "SELECT currency, COUNT(*), SUM(total_cents) FROM orders WHERE created_at "
                    ">= $1 AND created_at < $2 AND status <> 'cancelled' GROUP BY currency "
                    "ORDER BY currency",
                    from, to, 0, &rev, err)) < 0 ||
        (rc = query(d, TOP_SQL_UNITS, from, to, TASKS_TOP_PRODUCTS, &tu, err)) < 0 ||
        (rc = query(d, TOP_SQL_REVENUE, from, to, TASKS_TOP_PRODUCTS, &tr, err)) < 0 ||
        (rc = query(d, "SELECT COUNT(*) FROM users WHERE created_at >= $1 AND created_at < $2",
                    from, to, 0, &nu, err)) < 0)
        goto done;

    json_t *by_status = json_object(), *revenue = json_array();
    int64_t orders = 0, all = 0;
    for (int i = 0; by_status && i < db_result_rows(st); i++) {
        int64_t n = db_result_int(st, i, 1);
        json_object_set_new(by_status, db_result_text(st, i, 0), json_integer(n));
        all += n;
    }
    for (int i = 0; revenue && i < db_result_rows(rev); i++) {
        orders += db_result_int(rev, i, 1);
        json_array_append_new(revenue,
                              json_pack("{s:s, s:I, s:I}", "currency", db_result_text(rev, i, 0),
                                        "orders", (json_int_t)db_result_int(rev, i, 1),
                                        "total_cents", (json_int_t)db_result_int(rev, i, 2)));
    }
    *out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:I}", "date", date,
                     "timezone", cron_tz_name(), "from_ms", (json_int_t)from, "to_ms",
                     (json_int_t)to, "orders", (json_int_t)orders, "orders_all", (json_int_t)all,
                     "orders_by_status", by_status, "revenue", revenue, "top_products_by_units",
                     top_json(tu), "top_products_by_revenue", top_json(tr), "new_users",
                     (json_int_t)db_result_int(nu, 0, 0));
    if (!*out)
        rc = sm_error_set(err, SM_ENOMEM, "out of memory");
done:
    db_result_free(st);
    db_result_free(rev);
    db_result_free(tu);
    db_result_free(tr);
    db_result_free(nu);
    return rc;
}

/* One CSV field, RFC 4180 quoting, formula prefixes neutralised. */
static void csv_field(FILE *f, const char *s)
{
    if (!s)
        s = "";
    bool formula = s[0] && strchr("=+-@", s[0]);
    bool quote = formula || strpbrk(s, ",\"\r\n") != NULL;
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    if (formula)
        fputc('\'', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_row(FILE *f, const char *section, const char *key, const char *name,
                    const char *currency, json_int_t count, const json_t *cents)
{
    csv_field(f, section);
    fputc(',', f);
    csv_field(f, key);
    fputc(',', f);
    csv_field(f, name);
    fputc(',', f);
    csv_field(f, currency);
    fprintf(f, ",%lld,", (long long)count);
    if (cents)
        fprintf(f, "%lld", (long long)json_integer_value(cents));
    fputs("\r\n", f);
}

static void csv_top(FILE *f, const char *section, const json_t *list)
{
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        char id[24];
        snprintf(id, sizeof id, "%lld",
                 (long long)json_integer_value(json_object_get(p, "product_id")));
        csv_row(f, section, id, json_string_value(json_object_get(p, "name")),
                json_string_value(json_object_get(p, "currency")),
                json_integer_value(json_object_get(p, "units")),
                json_object_get(p, "revenue_cents"));
    }
}

static char *csv_render(const json_t *r, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    const char *k;
    json_t *v;
    size_t i;
    fputs("section,key,name,currency,count,amount_cents\r\n", f);
    csv_row(f, "orders", "not_cancelled", "", "", json_integer_value(json_object_get(r, "orders")),
            NULL);
    /* jansson keeps insertion order, which is the query's ORDER BY status */
    json_object_foreach((json_t *)json_object_get(r, "orders_by_status"), k, v)
        csv_row(f, "orders_by_status", k, "", "", json_integer_value(v), NULL);
    json_array_foreach(json_object_get(r, "revenue"), i, v)
    {
        const char *cur = json_string_value(json_object_get(v, "currency"));
        csv_row(f, "revenue", cur, "", cur, json_integer_value(json_object_get(v, "orders")),
                json_object_get(v, "total_cents"));
    }
    csv_top(f, "top_by_units", json_object_get(r, "top_products_by_units"));
    csv_top(f, "top_by_revenue", json_object_get(r, "top_products_by_revenue"));
    csv_row(f, "new_users", "total", "", "", json_integer_value(json_object_get(r, "new_users")),
            NULL);
    bool bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(buf);
        return NULL;
    }
    return buf;
}

int task_generate_daily_report(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err)
{
    const sm_config *cfg = config_get();
    char date[DATE_LEN + 1], name[64];
    json_t *report = NULL;
    char *json_text = NULL, *file_text = NULL, *csv = NULL;
    size_t csv_len = 0;
    int64_t from, to;
    int rc;

    if (!cfg)
        return sm_error_set(err, SM_ECONFIG, "configuration not loaded");
    json_t *a = json_is_object(args) ? json_object_get(args, "date") : NULL;
    if (a && !json_is_null(a)) {
        int y, m, dd;
        if (!date_parse(json_string_value(a), &y, &m, &dd))
            return sm_error_set(err, SM_EINVAL, "args.date must be YYYY-MM-DD");
        snprintf(date, sizeof date, "%s", json_string_value(a));
    } else if (cron_local_date(clock_now_ms() / 1000, -1, date) < 0) {
        return sm_error_set(err, SM_EINTERNAL, "cannot compute yesterday");
    }
    if ((rc = day_bounds(date, &from, &to, err)) < 0 ||
        (rc = report_build(d, date, from, to, &report, err)) < 0)
        goto done;
    tasks_progress(ctx, 50, "figures gathered");

    json_text = json_dumps(report, JSON_COMPACT | JSON_SORT_KEYS);
    file_text = json_dumps(report, JSON_INDENT(2) | JSON_SORT_KEYS);
    csv = csv_render(report, &csv_len);
    if (!json_text || !file_text || !csv) {
        rc = sm_error_set(err, SM_ENOMEM, "out of memory");
        goto done;
    }
    size_t fl = strlen(file_text);
    snprintf(name, sizeof name, "daily-%s.json", date);
    if ((rc = atomic_file_write(cfg->reports_dir, name, file_text, fl, err)) < 0)
        goto done;
    snprintf(name, sizeof name, "daily-%s.csv", date);
    if ((rc = atomic_file_write(cfg->reports_dir, name, csv, csv_len, err)) < 0)
        goto done;

    int64_t now = clock_now_ms();
    db_value p[] = {DB_T(date), DB_T(json_text), DB_I(now)};
    if ((rc = db_exec(d,
                      "INSERT INTO daily_reports (day, report, created_at, updated_at) "
                      "VALUES ($1, $2, $3, $3) ON CONFLICT (day) DO UPDATE SET "
                      "report = excluded.report, updated_at = excluded.updated_at",
                      p, 3, NULL, err)) < 0)
        goto done;

    char jpath[CONFIG_STR_MAX + 64], cpath[CONFIG_STR_MAX + 64];
    snprintf(jpath, sizeof jpath, "%s/daily-%s.json", cfg->reports_dir, date);
    snprintf(cpath, sizeof cpath, "%s/daily-%s.csv", cfg->reports_dir, date);
    json_t *info = json_pack("{s:s, s:O, s:O, s:s, s:s}", "date", date, "orders",
                             json_object_get(report, "orders"), "revenue",
                             json_object_get(report, "revenue"), "json", jpath, "csv", cpath);
    if (!info) {
        rc = sm_error_set(err, SM_ENOMEM, "out of memory");
        goto done;
    }
    events_publish("admin.notifications", "report.ready", info);
    if (result)
        *result = info;
    else
        json_decref(info);
done:
    json_decref(report);
    free(json_text);
    free(file_text);
    free(csv);
    return rc;
}
