/* test_migrate.c — the embedded migrations on both engines. */
#include "db_fixture.h"

#include <pthread.h>

#include "db/migrations.h"

/* Embedded files for the fixture's engine. */
static int engine_files(db_kind kind)
{
    const char *suffix = kind == DB_POSTGRES ? ".postgres" : ".sqlite";
    int n = 0;
    for (const db_migration_file *m = db_migration_files; m->name; m++) {
        size_t len = strlen(m->name), slen = strlen(suffix);
        n += len > slen && strcmp(m->name + len - slen, suffix) == 0;
    }
    return n;
}

static void migrations_pair_up_across_engines(void **state)
{
    (void)state;
    int sqlite = 0;
    for (const db_migration_file *m = db_migration_files; m->name; m++) {
        const char *dot = strrchr(m->name, '.');
        assert_non_null(dot);
        assert_true(m->len == strlen(m->sql));
        if (strcmp(dot, ".sqlite") != 0) {
            assert_string_equal(dot, ".postgres");
            continue;
        }
        sqlite++;
        char twin[160];
        snprintf(twin, sizeof twin, "%.*s.postgres", (int)(dot - m->name), m->name);
        bool found = false;
        for (const db_migration_file *o = db_migration_files; o->name; o++)
            found |= strcmp(o->name, twin) == 0;
        if (!found)
            fail_msg("%s has no %s", m->name, twin);
    }
    assert_true(sqlite >= 1);
    assert_int_equal(engine_files(DB_POSTGRES), sqlite);
    assert_true(db_migrations_latest() >= 1);
}

static void migrate_applies_the_schema_idempotently(void **state)
{
    fixture *f = *state;
    int applied = -1, version = -1;
    sm_error err = {0};
    assert_int_equal(db_migrations_check(f->d, &err), SM_ECONFLICT);
    OK(db_migrations_current(f->d, &version, &g_err));
    assert_int_equal(version, 0);

    OK(db_migrate(f->d, &applied, &g_err));
    assert_int_equal(applied, engine_files(f->kind));
    OK(db_migrate(f->d, &applied, &g_err));
    assert_int_equal(applied, 0);
    OK(db_migrations_check(f->d, &g_err));
    OK(db_migrations_current(f->d, &version, &g_err));
    assert_int_equal(version, db_migrations_latest());

    /* The schema is usable, with its constraints, on this engine. */
    db_value user[] = {DB_T("a@example.com"), DB_T("x"), DB_T("customer"), DB_I(1), DB_I(1)};
    const char *ins_user = "INSERT INTO users (email, password_hash, role, created_at, updated_at)"
                           " VALUES ($1, $2, $3, $4, $5) RETURNING id";
    db_result *r = NULL;
    OK(db_query(f->d, ins_user, user, 5, &r, &g_err));
    assert_int_equal(db_result_rows(r), 1);
    assert_true(db_result_int(r, 0, 0) > 0);
    db_result_free(r);
    assert_int_equal(db_query(f->d, ins_user, user, 5, &r, &err), SM_ECONFLICT);
    user[0] = DB_T("b@example.com"), user[2] = DB_T("emperor");
    assert_int_equal(db_query(f->d, ins_user, user, 5, &r, &err), SM_ECONFLICT);

    /* A migration inside a caller's transaction is refused. */
    OK(db_begin(f->d, true, &g_err));
    assert_int_equal(db_migrate(f->d, &applied, &err), SM_EINVAL);
    OK(db_rollback(f->d));
}

typedef struct migrator {
    int rc, applied;
    sm_error err;
} migrator;

static void *migrate_worker(void *p)
{
    migrator *m = p;
    db *d = NULL;
    m->rc = db_thread(&d, &m->err);
    if (m->rc == 0)
        m->rc = db_migrate(d, &m->applied, &m->err);
    return NULL;
}

static void migrate_is_safe_when_two_run_at_once(void **state)
{
    fixture *f = *state;
    pthread_t th[2];
    migrator m[2] = {0};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, migrate_worker, &m[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        if (m[i].rc != 0)
            fail_msg("migrator %d: %s", i, m[i].err.message);
    }
    assert_int_equal(m[0].applied + m[1].applied, engine_files(f->kind));
    OK(db_migrations_check(f->d, &g_err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(migrations_pair_up_across_engines),
        FIXTURE_TEST(migrate_applies_the_schema_idempotently),
        FIXTURE_TEST(migrate_is_safe_when_two_run_at_once),
    };
    return fixture_run_both("migrate", tests, sizeof tests / sizeof tests[0]);
}
