/* test_tasks.c — the five task bodies against a real database (SQLite, and
 * PostgreSQL when SM_TEST_POSTGRES_URL is set), seeded with SQL: what each
 * one writes, and that running it twice changes nothing more. The bodies
 * are called directly with no job context (they accept NULL); the worker
 * runs the same functions through jobs_task_find(). The SMTP case talks to
 * a real aiosmtpd (tests/e2e/lib/smtp_sink.py). */
#include "db/db_fixture.h"

#include <dirent.h>
#include <jansson.h>
#include <sodium.h>

#include "core/clock.h"
#include "db/migrations.h"
#include "jobs/tasks/tasks.h"
#include "ops/cache.h"
#include "ops/mail.h"
#include "ops/smtp_sink.h"

#define DAY 86400000LL
/* 2024-03-10T00:00:00Z: the report day of the seed */
#define DAY0 1710028800000LL

static char g_tmp[64];
static char g_outbox[128], g_reports[128];

static int64_t scalar(db *d, const char *sql)
{
    db_result *r = NULL;
    if (db_query(d, sql, NULL, 0, &r, &g_err) != 0)
        fail_msg("%s: %s", sql, g_err.message);
    int64_t v = db_result_int(r, 0, 0);
    db_result_free(r);
    return v;
}

static void exec(db *d, const char *sql)
{
    if (db_exec_script(d, sql, &g_err) != 0)
        fail_msg("%s: %s", sql, g_err.message);
}

/* Reloads the configuration with the data, outbox and reports folders and
 * SMTP_URL, all under a fresh temporary folder. */
static void configure(const char *smtp_url)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sm-tasks-XXXXXX");
    assert_non_null(mkdtemp(g_tmp));
    snprintf(g_outbox, sizeof g_outbox, "%s/outbox", g_tmp);
    snprintf(g_reports, sizeof g_reports, "%s/reports", g_tmp);
    char data_dir[sizeof g_tmp + 8];
    snprintf(data_dir, sizeof data_dir, "%s/data", g_tmp);
    setenv("SMARTMARKET_DATA_DIR", data_dir, 1);
    setenv("MAIL_OUTBOX_DIR", g_outbox, 1);
    setenv("REPORTS_DIR", g_reports, 1);
    setenv("SMTP_URL", smtp_url ? smtp_url : "", 1);
    setenv("SMTP_FROM", "SmartMarket Shop <no-reply@shop.example>", 1);
    OK(config_load(&g_config, &g_err));
}

static void cleanup_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    assert_int_equal(system(cmd), 0);
}

/* Users 1 (Zoé), 2; products 1..4; on DAY0: order 1 (paid: 2×P1 + 1×P2),
 * order 2 (pending: 1×P1 + 3×P3), order 3 (cancelled: 5×P4); order 4 the
 * day after (1×P2 + 1×P3). */
static void seed(db *d)
{
    OK(db_migrate(d, NULL, &g_err));
    char sql[4096];
    snprintf(sql, sizeof sql,
             "INSERT INTO users (id, email, name, password_hash, role, created_at, updated_at) "
             "VALUES (1, 'zoe@example.org', 'Zoé <Dupont>', 'x', 'customer', %lld, 0),"
             " (2, 'bob@example.org', 'Bob', 'x', 'customer', %lld, 0);"
             "INSERT INTO products (id, name, price_cents, currency, stock, created_at, "
             "updated_at) VALUES (1, 'Pen', 150, 'EUR', 100, 0, 0),"
             " (2, 'Book \"Déjà vu\"', 1234, 'EUR', 100, 0, 0), (3, '=Mug', 999, 'EUR', 100, 0, 0),"
             " (4, 'Lamp', 4000, 'EUR', 100, 0, 0);"
             "INSERT INTO orders (id, user_id, status, total_cents, currency, created_at, "
             "updated_at) VALUES (1, 1, 'paid', 1534, 'EUR', %lld, 0),"
             " (2, 2, 'pending', 3147, 'EUR', %lld, 0), (3, 2, 'cancelled', 20000, 'EUR', %lld, 0),"
             " (4, 1, 'paid', 2233, 'EUR', %lld, 0);"
             "INSERT INTO order_items (order_id, product_id, name, unit_price_cents, quantity, "
             "line_total_cents) VALUES (1, 1, 'Pen', 150, 2, 300),"
             " (1, 2, 'Book \"Déjà vu\"', 1234, 1, 1234), (2, 1, 'Pen', 150, 1, 150),"
             " (2, 3, '=Mug', 999, 3, 2997), (3, 4, 'Lamp', 4000, 5, 20000),"
             " (4, 2, 'Book \"Déjà vu\"', 1234, 1, 1234), (4, 3, '=Mug', 999, 1, 999)",
             DAY0 + 1000, DAY0 - 1000, DAY0 + 3600000, DAY0 + 7200000, DAY0 + 10800000,
             DAY0 + DAY + 5000);
    exec(d, sql);
    if (db_get_kind(d) == DB_POSTGRES) /* explicit ids: move the sequences on */
        exec(d, "SELECT setval(pg_get_serial_sequence('users', 'id'), 10);"
                "SELECT setval(pg_get_serial_sequence('orders', 'id'), 10)");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    return buf;
}

static int count_files(const char *dir)
{
    DIR *dp = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp)))
        n += e->d_name[0] != '.';
    if (dp)
        closedir(dp);
    return n;
}

/* The decoded text/plain part of a rendered message. */
static char *text_part(const char *msg)
{
    const char *p = strstr(msg, "text/plain");
    assert_non_null(p);
    p = strstr(p, "\r\n\r\n") + 4;
    const char *end = strstr(p, "\r\n--");
    unsigned char *out = calloc(1, (size_t)(end - p) + 1);
    size_t len = 0;
    assert_int_equal(sodium_base642bin(out, (size_t)(end - p), p, (size_t)(end - p), "\r\n", &len,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    return (char *)out;
}

static json_t *args(const char *text)
{
    json_t *a = json_loads(text, 0, NULL);
    assert_non_null(a);
    return a;
}

static void send_order_email_writes_the_outbox_once(void **state)
{
    fixture *f = *state;
    seed(f->d);
    configure(NULL);
    json_t *a = args("{\"order_id\": 1}"), *res = NULL;
    OK(task_send_order_email(NULL, f->d, a, &res, &g_err));
    assert_string_equal(json_string_value(json_object_get(res, "state")), "sent");
    char mid[MAIL_ID_MAX];
    snprintf(mid, sizeof mid, "%s", json_string_value(json_object_get(res, "message_id")));
    json_decref(res);
    assert_int_equal(count_files(g_outbox), 1);

    char path[512];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%.*s.eml", g_outbox, (int)strlen(mid) - 2, mid + 1);
    char *msg = read_file(path, &len);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "Subject: Your SmartMarket order #1\r\n"));
    assert_non_null(strstr(msg, "<zoe@example.org>\r\n"));
    assert_non_null(strstr(msg, "From: \"SmartMarket Shop\" <no-reply@shop.example>\r\n"));
    char *text = text_part(msg);
    assert_non_null(strstr(text, "2 x Pen @ EUR 1.50 = EUR 3.00\r\n"));
    assert_non_null(strstr(text, "1 x Book \"Déjà vu\" @ EUR 12.34 = EUR 12.34\r\n"));
    assert_non_null(strstr(text, "Total: EUR 15.34\r\n"));
    assert_non_null(strstr(text, "Hello Zoé <Dupont>,"));
    free(text);
    free(msg);

    /* the replay: nothing sent, one row, state sent */
    OK(task_send_order_email(NULL, f->d, a, &res, &g_err));
    assert_string_equal(json_string_value(json_object_get(res, "state")), "already_sent");
    assert_string_equal(json_string_value(json_object_get(res, "message_id")), mid);
    json_decref(res);
    assert_int_equal(count_files(g_outbox), 1);
    assert_int_equal(scalar(f->d, "SELECT COUNT(*) FROM email_deliveries"), 1);
    assert_int_equal(scalar(f->d, "SELECT COUNT(*) FROM email_deliveries WHERE state = 'sent' "
                                  "AND sent_at IS NOT NULL AND attempts = 1"),
                     1);
    json_decref(a);
    cleanup_tmp();
}

/* An attempt that died after the claim resends with the claimed id. */
static void send_order_email_resends_a_stuck_claim_with_the_same_id(void **state)
{
    fixture *f = *state;
    seed(f->d);
    configure(NULL);
    exec(f->d, "INSERT INTO email_deliveries (order_id, kind, state, recipient, message_id, "
               "created_at, updated_at) VALUES (4, 'confirmation', 'sending', "
               "'zoe@example.org', '<stuck.1@shop.example>', 0, 0)");
    json_t *a = args("{\"order_id\": 4}"), *res = NULL;
    OK(task_send_order_email(NULL, f->d, a, &res, &g_err));
    assert_string_equal(json_string_value(json_object_get(res, "message_id")),
                        "<stuck.1@shop.example>");
    json_decref(res);
    char path[256];
    snprintf(path, sizeof path, "%s/stuck.1@shop.example.eml", g_outbox);
    assert_int_equal(access(path, R_OK), 0);
    assert_int_equal(scalar(f->d, "SELECT attempts FROM email_deliveries WHERE order_id = 4"), 2);
    assert_int_equal(
        scalar(f->d, "SELECT COUNT(*) FROM email_deliveries WHERE order_id = 4 AND state = 'sent'"),
        1);
    json_decref(a);
    cleanup_tmp();
}

static void send_order_email_rejects_bad_args_and_unknown_orders(void **state)
{
    fixture *f = *state;
    seed(f->d);
    configure(NULL);
    json_t *a = args("{\"order_id\": 999}");
    assert_int_equal(task_send_order_email(NULL, f->d, a, NULL, &g_err), SM_ENOTFOUND);
    json_decref(a);
    a = args("{\"order_id\": \"1\"}");
    assert_int_equal(task_send_order_email(NULL, f->d, a, NULL, &g_err), SM_EINVAL);
    json_decref(a);
    assert_int_equal(scalar(f->d, "SELECT COUNT(*) FROM email_deliveries"), 0);
    assert_int_equal(count_files(g_outbox), 0);
    cleanup_tmp();
}

static void send_order_email_over_smtp_arrives_once(void **state)
{
    fixture *f = *state;
    smtp_sink s;
    if (smtp_sink_start(&s) != 0)
        skip();
    seed(f->d);
    configure(s.url);
    json_t *a = args("{\"order_id\": 2}");
    OK(task_send_order_email(NULL, f->d, a, NULL, &g_err));
    OK(task_send_order_email(NULL, f->d, a, NULL, &g_err)); /* replay */
    char *meta = smtp_sink_read(&s, 1, "json");
    char *msg = smtp_sink_read(&s, 1, "eml");
    assert_non_null(meta);
    assert_non_null(msg);
    assert_null(smtp_sink_read(&s, 2, "eml")); /* once */
    assert_non_null(strstr(meta, "\"rcpt_tos\": [\"bob@example.org\"]"));
    assert_non_null(strstr(msg, "Content-Type: multipart/alternative"));
    assert_non_null(strstr(msg, "Content-Type: text/html; charset=UTF-8"));
    char *text = text_part(msg);
    assert_non_null(strstr(text, "3 x =Mug @ EUR 9.99 = EUR 29.97"));
    assert_non_null(strstr(text, "Total: EUR 31.47"));
    free(text);
    free(meta);
    free(msg);
    assert_int_equal(count_files(g_outbox), 0);
    smtp_sink_stop(&s);
    json_decref(a);
    cleanup_tmp();
}

static void rebuild_ml_indexes_builds_stats_and_neighbours(void **state)
{
    fixture *f = *state;
    seed(f->d);
    configure(NULL);
    json_t *res = NULL;
    OK(task_rebuild_ml_indexes(NULL, f->d, NULL, &res, &g_err));
    assert_int_equal(json_integer_value(json_object_get(res, "version")), 1);
    assert_int_equal(json_integer_value(json_object_get(res, "products")), 3); /* not Lamp */
    /* …and the search and recommendation artefacts, switched in as `current` */
    const char *ml_version = json_string_value(json_object_get(res, "ml_version"));
    assert_non_null(ml_version);
    assert_true(strlen(ml_version) > 0);
    char link[sizeof g_tmp + 32], target[256];
    snprintf(link, sizeof link, "%s/data/ml/current", g_tmp);
    ssize_t n = readlink(link, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_non_null(strstr(target, ml_version));
    json_decref(res);
    const char *cur = " AND version = (SELECT current_version FROM ml_index_versions WHERE "
                      "name = 'product_stats')";
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT units_sold * 1000 + order_count FROM product_stats WHERE product_id = 1%s",
             cur);
    assert_int_equal(scalar(f->d, sql), 3002);
    snprintf(sql, sizeof sql, "SELECT revenue_cents FROM product_stats WHERE product_id = 3%s",
             cur);
    assert_int_equal(scalar(f->d, sql), 2997 + 999);
    /* P2 was bought with P1 (order 1) and with P3 (order 4): ranked by count, then id */
    snprintf(sql, sizeof sql,
             "SELECT neighbour_id * 10 + together FROM product_neighbours WHERE product_id = 2 "
             "AND rank = 1%s",
             cur);
    assert_int_equal(scalar(f->d, sql), 11);
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM product_neighbours WHERE product_id = 3%s",
             cur);
    assert_int_equal(scalar(f->d, sql), 2);

    /* again: same index under version 2, the old version gone */
    OK(task_rebuild_ml_indexes(NULL, f->d, NULL, &res, &g_err));
    assert_int_equal(json_integer_value(json_object_get(res, "version")), 2);
    json_decref(res);
    assert_int_equal(scalar(f->d, "SELECT COUNT(DISTINCT version) FROM product_stats"), 1);
    assert_int_equal(scalar(f->d, "SELECT MIN(version) FROM product_neighbours"), 2);
    assert_int_equal(scalar(f->d, "SELECT COUNT(*) FROM product_stats"), 3);
    cleanup_tmp();
}

static void generate_daily_report_is_idempotent_per_date(void **state)
{
    fixture *f = *state;
    seed(f->d);
    configure(NULL);
    json_t *a = args("{\"date\": \"2024-03-10\"}"), *res = NULL;
    OK(task_generate_daily_report(NULL, f->d, a, &res, &g_err));
    assert_int_equal(json_integer_value(json_object_get(res, "orders")), 2);
    json_decref(res);
    char jp[256], cp[256];
    snprintf(jp, sizeof jp, "%s/daily-2024-03-10.json", g_reports);
    snprintf(cp, sizeof cp, "%s/daily-2024-03-10.csv", g_reports);
    size_t jl = 0, cl = 0, jl2 = 0, cl2 = 0;
    char *j1 = read_file(jp, &jl), *c1 = read_file(cp, &cl);
    assert_non_null(j1);
    assert_non_null(c1);

    json_t *r = json_loads(j1, 0, NULL);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r, "orders_all")), 3);
    assert_int_equal(json_integer_value(json_object_get(r, "new_users")), 1);
    json_t *rev = json_array_get(json_object_get(r, "revenue"), 0);
    assert_string_equal(json_string_value(json_object_get(rev, "currency")), "EUR");
    assert_int_equal(json_integer_value(json_object_get(rev, "total_cents")), 1534 + 3147);
    json_t *st = json_object_get(r, "orders_by_status");
    assert_int_equal(json_integer_value(json_object_get(st, "cancelled")), 1);
    /* 3 mugs and 3 pens: the tie goes to revenue */
    json_t *top = json_array_get(json_object_get(r, "top_products_by_units"), 0);
    assert_int_equal(json_integer_value(json_object_get(top, "product_id")), 3);
    top = json_array_get(json_object_get(r, "top_products_by_units"), 1);
    assert_int_equal(json_integer_value(json_object_get(top, "product_id")), 1);
    assert_int_equal(json_integer_value(json_object_get(top, "units")), 3);
    top = json_array_get(json_object_get(r, "top_products_by_revenue"), 0);
    assert_int_equal(json_integer_value(json_object_get(top, "product_id")), 3); /* 29.97 */
    json_decref(r);
    assert_non_null(strstr(c1, "section,key,name,currency,count,amount_cents\r\n"));
    assert_non_null(strstr(c1, "revenue,EUR,,EUR,2,4681\r\n"));
    assert_non_null(strstr(c1, "top_by_units,3,\"'=Mug\",EUR,3,2997\r\n"));
    assert_non_null(strstr(c1, "\"Book \"\"Déjà vu\"\"\""));

    OK(task_generate_daily_report(NULL, f->d, a, NULL, &g_err));
    char *j2 = read_file(jp, &jl2), *c2 = read_file(cp, &cl2);
    assert_int_equal(jl, jl2);
    assert_int_equal(cl, cl2);
    assert_memory_equal(j1, j2, jl);
    assert_memory_equal(c1, c2, cl);
    assert_int_equal(count_files(g_reports), 2);
    assert_int_equal(scalar(f->d, "SELECT COUNT(*) FROM daily_reports"), 1);
    free(j1);
    free(j2);
    free(c1);
    free(c2);
    json_decref(a);

    /* no date: yesterday, an empty day here */
    OK(task_generate_daily_report(NULL, f->d, NULL, &res, &g_err));
    assert_int_equal(json_integer_value(json_object_get(res, "orders")), 0);
    json_decref(res);
    assert_int_equal(scalar(f->d, "SELECT COUNT(*) FROM daily_reports"), 2);

    a = args("{\"date\": \"2024-02-30\"}");
    assert_int_equal(task_generate_daily_report(NULL, f->d, a, NULL, &g_err), SM_EINVAL);
    json_decref(a);
    a = args("{\"date\": \"../../etc\"}");
    assert_int_equal(task_generate_daily_report(NULL, f->d, a, NULL, &g_err), SM_EINVAL);
    json_decref(a);
    cleanup_tmp();
}

static void cleanup_old_data_deletes_in_batches_and_only_the_old(void **state)
{
    fixture *f = *state;
    seed(f->d);
    configure(NULL);
    int64_t now = clock_now_ms();
    char sql[1024];
    /* 2500 expired tokens (three batches), one live, one revoked */
    exec(f->d, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) "
               "INSERT INTO auth_tokens (user_id, token_hash, kind, created_at, expires_at) "
               "SELECT 1, 'h' || i, 'api', 0, 1000 FROM n");
    snprintf(sql, sizeof sql,
             "INSERT INTO auth_tokens (user_id, token_hash, kind, created_at, expires_at, "
             "revoked_at) VALUES (1, 'live', 'api', 0, %lld, NULL), (1, 'rev', 'api', 0, %lld, "
             "%lld);"
             "INSERT INTO login_attempts (scope, key, success, created_at) VALUES "
             "('ip', '1.2.3.4', 0, %lld), ('ip', '1.2.3.4', 0, %lld);"
             "INSERT INTO jobs (queue, task, state, run_at, inserted_at, finished_at) VALUES "
             "('maintenance', 'purge_cache', 'succeeded', 0, 0, %lld),"
             "('maintenance', 'purge_cache', 'discarded', 0, 0, %lld),"
             "('maintenance', 'purge_cache', 'succeeded', 0, 0, %lld),"
             "('maintenance', 'purge_cache', 'available', 0, 0, NULL)",
             (long long)(now + DAY), (long long)(now + DAY), (long long)(now - 1),
             (long long)(now - 31 * DAY), (long long)(now - 60000), (long long)(now - 8 * DAY),
             (long long)(now - 9 * DAY), (long long)(now - DAY));
    exec(f->d, sql);
    json_t *res = NULL;
    OK(task_cleanup_old_data(NULL, f->d, NULL, &res, &g_err));
    assert_int_equal(json_integer_value(json_object_get(res, "auth_tokens")), 2501);
    assert_int_equal(json_integer_value(json_object_get(res, "login_attempts")), 1);
    assert_int_equal(json_integer_value(json_object_get(res, "jobs")), 2);
    json_decref(res);
    assert_int_equal(scalar(f->d, "SELECT COUNT(*) FROM auth_tokens"), 1);
    assert_int_equal(scalar(f->d, "SELECT COUNT(*) FROM login_attempts"), 1);
    assert_int_equal(scalar(f->d, "SELECT COUNT(*) FROM jobs"), 2);

    OK(task_cleanup_old_data(NULL, f->d, NULL, &res, &g_err)); /* again: nothing more */
    assert_int_equal(json_integer_value(json_object_get(res, "auth_tokens")), 0);
    assert_int_equal(json_integer_value(json_object_get(res, "jobs")), 0);
    json_decref(res);
    cleanup_tmp();
}

static void purge_cache_evicts_expired_entries(void **state)
{
    (void)state;
    cache *c = cache_default();
    assert_int_equal(cache_set(c, "tasks:old", "x", 1, 1, NULL), 0);
    assert_int_equal(cache_set(c, "tasks:keep", "y", 1, 0, NULL), 0);
    int64_t until = clock_now_ms() + 5;
    while (clock_now_ms() < until)
        ;
    json_t *res = NULL;
    OK(task_purge_cache(NULL, NULL, NULL, &res, &g_err));
    assert_true(json_integer_value(json_object_get(res, "evicted")) >= 1);
    json_decref(res);
    OK(task_purge_cache(NULL, NULL, NULL, &res, &g_err));
    assert_int_equal(json_integer_value(json_object_get(res, "evicted")), 0);
    json_decref(res);
    char *v = NULL;
    OK(cache_get(c, "tasks:keep", &v, NULL, &g_err));
    free(v);
}

static void builtin_tasks_register_on_their_queues(void **state)
{
    (void)state;
    OK(jobs_register_builtin_tasks());
    OK(jobs_register_builtin_tasks()); /* idempotent */
    static const char *const pairs[][2] = {{"rebuild_ml_indexes", JOBS_QUEUE_ML},
                                           {"send_order_email", JOBS_QUEUE_EMAILS},
                                           {"purge_cache", JOBS_QUEUE_MAINTENANCE},
                                           {"generate_daily_report", JOBS_QUEUE_REPORTS},
                                           {"cleanup_old_data", JOBS_QUEUE_MAINTENANCE}};
    for (size_t i = 0; i < 5; i++) {
        const jobs_task *t = jobs_task_find(pairs[i][0]);
        assert_non_null(t);
        assert_string_equal(t->queue, pairs[i][1]);
        assert_int_equal(t->max_attempts, 3);
        assert_true(t->time_limit_ms > 0);
    }
    assert_true(jobs_task_find("send_order_email")->rate_limit_per_s > 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(send_order_email_writes_the_outbox_once),
        FIXTURE_TEST(send_order_email_resends_a_stuck_claim_with_the_same_id),
        FIXTURE_TEST(send_order_email_rejects_bad_args_and_unknown_orders),
        FIXTURE_TEST(send_order_email_over_smtp_arrives_once),
        FIXTURE_TEST(rebuild_ml_indexes_builds_stats_and_neighbours),
        FIXTURE_TEST(generate_daily_report_is_idempotent_per_date),
        FIXTURE_TEST(cleanup_old_data_deletes_in_batches_and_only_the_old),
        FIXTURE_TEST(purge_cache_evicts_expired_entries),
        FIXTURE_TEST(builtin_tasks_register_on_their_queues),
    };
    return fixture_run_both("tasks", tests, sizeof tests / sizeof tests[0]);
}
