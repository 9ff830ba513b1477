/* test_auth_db.h — a fresh, migrated database for the users/auth unit
 * tests: SQLite in a temporary file, or, when SM_TEST_POSTGRES_URL is set,
 * that PostgreSQL database with its public schema dropped and recreated.
 * Header-only: each test program includes it once. */
#ifndef SM_TEST_AUTH_DB_H
#define SM_TEST_AUTH_DB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "db/db.h"
#include "db/migrations.h"

typedef struct test_db {
    db *d;
    char dir[64];
    char path[128];
    char url[256]; /* what DATABASE_URL should be for the same database */
} test_db;

/* Opens a migrated database in a new temporary directory; aborts on error. */
static test_db *test_db_open(void)
{
    test_db *t = calloc(1, sizeof *t);
    sm_error err = {0};
    if (!t || sodium_init() < 0)
        abort();
    snprintf(t->dir, sizeof t->dir, "/tmp/sm-auth-test-XXXXXX");
    if (!mkdtemp(t->dir))
        abort();
    snprintf(t->path, sizeof t->path, "%s/test.db", t->dir);
    snprintf(t->url, sizeof t->url, "sqlite:///%s", t->path); /* "sqlite:////tmp/…" */
    const char *pg = getenv("SM_TEST_POSTGRES_URL");
    if (pg && *pg)
        snprintf(t->url, sizeof t->url, "%s", pg);
    if (db_open(t->url, 5000, &t->d, &err) < 0 ||
        (pg && *pg &&
         db_exec_script(t->d, "DROP SCHEMA public CASCADE; CREATE SCHEMA public", &err) < 0) ||
        db_migrate(t->d, NULL, &err) < 0) {
        fprintf(stderr, "test database: %s\n", err.message);
        abort();
    }
    return t;
}

static void test_db_close(test_db *t)
{
    char p[200];
    db_close(t->d);
    unlink(t->path);
    snprintf(p, sizeof p, "%s-wal", t->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", t->path);
    unlink(p);
    rmdir(t->dir);
    free(t);
}

#endif
