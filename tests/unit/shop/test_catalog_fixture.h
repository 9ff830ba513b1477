/* test_catalog_fixture.h — a fresh, migrated database per test for the
 * catalogue and order tests, on SQLite always and on PostgreSQL too when
 * SM_TEST_POSTGRES_URL is set (tables are emptied before each test there).
 *
 * A test group runs once per engine: main() calls shop_run_groups(), which
 * runs the given tests with a fixture for SQLite, then for PostgreSQL. */
#ifndef TEST_CATALOG_FIXTURE_H
#define TEST_CATALOG_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db/db.h"
#include "db/migrations.h"
#include "jobs/jobs.h"

typedef struct shop_fixture {
    const char *engine; /* "sqlite" or "postgres" */
    char url[512];
    char path[256]; /* SQLite file, "" for PostgreSQL */
    db *d;
} shop_fixture;

static shop_fixture shop_current;

static int shop_setup(void **state)
{
    shop_fixture *f = &shop_current;
    sm_error err = {0};
    if (strcmp(f->engine, "sqlite") == 0) {
        snprintf(f->path, sizeof f->path, "/tmp/sm-shop-test-XXXXXX");
        int fd = mkstemp(f->path);
        if (fd < 0)
            return -1;
        close(fd);
        snprintf(f->url, sizeof f->url, "sqlite:///%s", f->path);
    }
    if (db_open(f->url, 5000, &f->d, &err) != 0) {
        fprintf(stderr, "db_open %s: %s\n", f->url, err.message);
        return -1;
    }
    if (jobs_register_builtin_tasks() != 0) /* orders enqueue send_order_email */
        return -1;
    if (db_migrate(f->d, NULL, &err) != 0) {
        fprintf(stderr, "db_migrate: %s\n", err.message);
        return -1;
    }
    if (!f->path[0] &&
        db_exec_script(f->d,
                       "TRUNCATE order_items, orders, products, categories, auth_tokens, "
                       "login_attempts, users RESTART IDENTITY CASCADE",
                       &err) != 0) {
        fprintf(stderr, "truncate: %s\n", err.message);
        return -1;
    }
    *state = f;
    return 0;
}

static int shop_teardown(void **state)
{
    shop_fixture *f = *state;
    db_close(f->d);
    f->d = NULL;
    if (f->path[0]) {
        char side[300];
        unlink(f->path);
        snprintf(side, sizeof side, "%s-wal", f->path);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", f->path);
        unlink(side);
        f->path[0] = '\0';
    }
    return 0;
}

/* Inserts a user directly; returns its id. */
static inline int64_t shop_user(db *d, const char *email, const char *role)
{
    db_result *r = NULL;
    db_value p[] = {DB_T(email), DB_T(role)};
    assert_int_equal(db_query(d,
                              "INSERT INTO users (email, name, password_hash, role, is_active, "
                              "created_at, updated_at) VALUES ($1, '', 'x', $2, 1, 0, 0) "
                              "RETURNING id",
                              p, 2, &r, NULL),
                     0);
    int64_t id = db_result_int(r, 0, 0);
    db_result_free(r);
    return id;
}

static inline int64_t shop_scalar(db *d, const char *sql, const db_value *p, int n)
{
    db_result *r = NULL;
    assert_int_equal(db_query(d, sql, p, n, &r, NULL), 0);
    int64_t v = db_result_int(r, 0, 0);
    db_result_free(r);
    return v;
}

static inline int shop_run_groups(const char *name, const struct CMUnitTest *tests, size_t n)
{
    int failed = 0;
    const char *pg = getenv("SM_TEST_POSTGRES_URL");
    char label[128];

    memset(&shop_current, 0, sizeof shop_current);
    shop_current.engine = "sqlite";
    snprintf(label, sizeof label, "%s (sqlite)", name);
    failed += _cmocka_run_group_tests(label, tests, n, NULL, NULL);
    if (pg && *pg) {
        memset(&shop_current, 0, sizeof shop_current);
        shop_current.engine = "postgres";
        snprintf(shop_current.url, sizeof shop_current.url, "%s", pg);
        snprintf(label, sizeof label, "%s (postgres)", name);
        failed += _cmocka_run_group_tests(label, tests, n, NULL, NULL);
    }
    return failed;
}

#define SHOP_TEST(fn) cmocka_unit_test_setup_teardown(fn, shop_setup, shop_teardown)

#endif
