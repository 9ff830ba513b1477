/* test_health.c — the readiness checks and their JSON: a migrated database
 * is ready, an unmigrated one fails the migrations check, an unreachable
 * one fails the database check and skips the rest; the event bus's check,
 * when added, joins the report without leaking host names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../shop/test_auth_db.h"
#include "ops/health.h"

static const char *status_of(json_t *j, const char *check)
{
    json_t *c = json_object_get(json_object_get(j, "checks"), check);
    return json_string_value(json_object_get(c, "status"));
}

static void migrated_database_is_ready(void **state)
{
    (void)state;
    test_db *t = test_db_open();
    health_report r;
    health_run_ready(t->d, NULL, &r);
    assert_true(r.ok);
    json_t *j = health_report_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_string_equal(status_of(j, "database"), "ok");
    assert_string_equal(status_of(j, "migrations"), "ok");
    assert_true(json_is_number(
        json_object_get(json_object_get(json_object_get(j, "checks"), "database"), "latency_ms")));
    json_decref(j);

    int64_t users = -1, products = -1, orders = -1;
    sm_error err = {0};
    assert_int_equal(health_counts(t->d, &users, &products, &orders, &err), 0);
    assert_true(users == 0 && products == 0 && orders == 0);
    test_db_close(t);
}

static void unmigrated_database_fails_migrations(void **state)
{
    (void)state;
    char dir[] = "/tmp/sm-health-XXXXXX", url[128];
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof url, "sqlite:///%s/empty.db", dir);
    db *d = NULL;
    sm_error err = {0};
    assert_int_equal(db_open(url, 1000, &d, &err), 0);
    health_report r;
    health_run_ready(d, NULL, &r);
    assert_false(r.ok);
    assert_true(r.database.ok);
    assert_false(r.migrations.ok);
    json_t *j = health_report_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "fail");
    assert_string_equal(status_of(j, "migrations"), "fail");
    json_decref(j);
    db_close(d);
    snprintf(url, sizeof url, "rm -rf %s", dir);
    assert_int_equal(system(url), 0);
}

static void unreachable_database_fails(void **state)
{
    (void)state;
    health_report r;
    health_run_ready(NULL, "connection refused", &r);
    assert_false(r.ok);
    json_t *j = health_report_json(&r);
    assert_string_equal(status_of(j, "database"), "fail");
    json_t *c = json_object_get(json_object_get(j, "checks"), "database");
    assert_string_equal(json_string_value(json_object_get(c, "error")),
                        "cannot connect to the database");
    json_decref(j);
}

static void event_bus_check_joins_the_report(void **state)
{
    (void)state;
    test_db *t = test_db_open();
    health_report r;
    health_run_ready(t->d, NULL, &r);
    json_t *j = health_report_json(&r);
    assert_null(json_object_get(json_object_get(j, "checks"), "events")); /* not added */
    json_decref(j);

    health_report_events(&r, 0, 0.25, NULL);
    assert_true(r.ok);
    j = health_report_json(&r);
    assert_string_equal(status_of(j, "events"), "ok");
    json_decref(j);

    health_report_events(&r, SM_EUNAVAILABLE, 2000, "redis 10.0.0.7:6379 does not answer PING");
    assert_false(r.ok);
    j = health_report_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "fail");
    assert_string_equal(status_of(j, "events"), "fail");
    assert_string_equal(status_of(j, "database"), "ok");
    json_t *e = json_object_get(json_object_get(j, "checks"), "events");
    assert_string_equal(json_string_value(json_object_get(e, "error")), "event bus unavailable");
    json_decref(j);
    test_db_close(t);
}

static void details_read_the_database_process_and_disk(void **state)
{
    (void)state;
    test_db *t = test_db_open();
    int64_t bytes = 0, conns = 0, free_bytes = 0, total = 0;
    sm_error err = {0};
    assert_int_equal(health_db_size(t->d, &bytes, &conns, &err), 0);
    assert_true(bytes > 0);
    if (db_get_kind(t->d) == DB_POSTGRES) {
        assert_true(conns >= 1); /* this one at least */
    } else {
        assert_int_equal(bytes % 512, 0); /* whole pages */
        assert_int_equal(conns, -1);
    }
    test_db_close(t);

    health_process p;
    health_process_read(&p);
    assert_true(p.rss_bytes > 1 << 20);
    assert_true(p.threads >= 1);
    assert_true(p.open_fds >= 3); /* stdin, stdout, stderr at least */
    assert_true(p.cpu_user_s >= 0 && p.cpu_system_s >= 0);

    assert_int_equal(health_disk("/tmp", &free_bytes, &total, &err), 0);
    assert_true(total > 0 && free_bytes <= total);
    assert_int_equal(health_disk("/nonexistent/sm", &free_bytes, &total, &err), SM_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migrated_database_is_ready),
        cmocka_unit_test(unmigrated_database_fails_migrations),
        cmocka_unit_test(unreachable_database_fails),
        cmocka_unit_test(event_bus_check_joins_the_report),
        cmocka_unit_test(details_read_the_database_process_and_disk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
