/* db_fixture.h — a fresh database per test, on SQLite and on PostgreSQL.
 *
 * Every db test runs once per backend (cases named sqlite/… and postgres/…). SQLite: a new file in
 * a new temporary directory (the file sits two levels below it, so db_open must create the
 * parents). PostgreSQL (only when SM_TEST_POSTGRES_URL is set): a new schema
 * in that database, selected for every connection through the URL's
 * `options=-csearch_path=…`, so tests never see each other's tables, even
 * when several test programs share the server. The fixture also loads the
 * configuration with DATABASE_URL pointing at the fresh database, so
 * db_thread() connects there. */
#ifndef SM_TESTS_DB_FIXTURE_H
#define SM_TESTS_DB_FIXTURE_H

#include <ftw.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "db/db.h"

typedef struct fixture {
    db_kind kind;
    char url[2048];
    char dir[256];   /* SQLite: temporary directory */
    char schema[64]; /* PostgreSQL: per-test schema */
    db *d;           /* an open connection to the fresh database */
} fixture;

static const char *g_pg_url; /* SM_TEST_POSTGRES_URL */
static sm_config g_config;   /* config_get() points here */
static int g_schema_seq;

static sm_error g_err; /* tests pass &g_err; OK() prints it on failure */

#define OK(call)                                                                                   \
    do {                                                                                           \
        g_err.message[0] = '\0';                                                                   \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s -> %d (%s): %s", #call, rc_, sm_strerror(rc_), g_err.message);            \
    } while (0)

static inline int fixture_unlink_cb(const char *path, const struct stat *sb, int flag,
                                    struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static inline int fixture_admin(const char *sql)
{
    db *admin = NULL;
    sm_error err = {0};
    int rc = db_open(g_pg_url, 5000, &admin, &err);
    if (rc == 0)
        rc = db_exec_script(admin, sql, &err);
    if (rc != 0)
        print_error("postgres admin: %s\n", err.message);
    db_close(admin);
    return rc;
}

static inline int fixture_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    sm_error err = {0};
    if (!f)
        return -1;
    f->kind = *(const db_kind *)*state;
    if (f->kind == DB_SQLITE) {
        snprintf(f->dir, sizeof f->dir, "/tmp/sm_dbtest_XXXXXX");
        if (!mkdtemp(f->dir))
            return -1;
        snprintf(f->url, sizeof f->url, "sqlite:///%s/nested/dir/test.db", f->dir);
    } else {
        char sql[256];
        snprintf(f->schema, sizeof f->schema, "sm_unit_%d_%d", (int)getpid(), ++g_schema_seq);
        snprintf(sql, sizeof sql,
                 "SET client_min_messages = warning; DROP SCHEMA IF EXISTS %s CASCADE; "
                 "CREATE SCHEMA %s",
                 f->schema, f->schema);
        if (fixture_admin(sql) != 0)
            return -1;
        snprintf(f->url, sizeof f->url, "%s%soptions=-csearch_path%%3D%s", g_pg_url,
                 strchr(g_pg_url, '?') ? "&" : "?", f->schema);
    }
    setenv("DATABASE_URL", f->url, 1);
    setenv("DB_TIMEOUT_MS", "10000", 1);
    setenv("SMARTMARKET_DATA_DIR", "/tmp", 1);
    setenv("SECRET_KEY", "unit-test-secret-key-0123456789abcdef", 1);
    if (config_load(&g_config, &err) != 0) {
        print_error("config_load: %s\n", err.message);
        return -1;
    }
    if (db_open(f->url, 10000, &f->d, &err) != 0) {
        print_error("db_open %s: %s\n", f->url, err.message);
        return -1;
    }
    *state = f;
    return 0;
}

static inline int fixture_teardown(void **state)
{
    fixture *f = *state;
    db_thread_reset();
    db_close(f->d);
    if (f->kind == DB_SQLITE) {
        nftw(f->dir, fixture_unlink_cb, 16, FTW_DEPTH | FTW_PHYS);
    } else {
        char sql[160];
        snprintf(sql, sizeof sql, "SET client_min_messages = warning; DROP SCHEMA %s CASCADE",
                 f->schema);
        fixture_admin(sql);
    }
    free(f);
    return 0;
}

/* Runs `tests` on SQLite, then on PostgreSQL when SM_TEST_POSTGRES_URL is
 * set (saying so plainly when it is not), as one cmocka group so the run
 * ends with one summary line. Returns the number of failures. */
static const db_kind fixture_sqlite = DB_SQLITE, fixture_postgres = DB_POSTGRES;

static inline int fixture_run_both(const char *group, const struct CMUnitTest *tests, size_t n)
{
    struct CMUnitTest all[128];
    char names[128][96];
    size_t len = 0;
    g_pg_url = getenv("SM_TEST_POSTGRES_URL");
    bool pg = g_pg_url && *g_pg_url;
    if (!pg)
        printf("[  SKIPPED ] %s: SM_TEST_POSTGRES_URL is not set, PostgreSQL cases not run "
               "(scripts/pg.sh start /tmp/smpg 54329 prints one)\n",
               group);
    for (int engine = 0; engine < (pg ? 2 : 1); engine++) {
        for (size_t i = 0; i < n && len < 128; i++, len++) {
            snprintf(names[len], sizeof names[len], "%s/%s", engine ? "postgres" : "sqlite",
                     tests[i].name);
            all[len] = tests[i];
            all[len].name = names[len];
            all[len].initial_state = (void *)(engine ? &fixture_postgres : &fixture_sqlite);
        }
    }
    return _cmocka_run_group_tests(group, all, len, NULL, NULL);
}

#define FIXTURE_TEST(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

#endif
