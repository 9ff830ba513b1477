/* migrate.c — applies the embedded schema migrations.
 *
 * The build embeds src/db/migrations/NNNN_name.{sqlite,postgres}.sql as
 * db_migration_files[] ("0001_init.sqlite", …); we pick the files for the
 * connection's engine and apply, in version order, those whose version is
 * not yet in schema_migrations(version, name, applied_at).
 *
 * Each migration runs in its own transaction together with the row that
 * records it, so a failing migration leaves the schema as it was and a
 * crash never leaves a migration half-recorded. (Migration files therefore
 * must not contain BEGIN/COMMIT.) Two processes may migrate at once — every
 * `serve` runs migrations at start-up — so each transaction first takes the
 * migration lock and only then re-checks whether the version is applied:
 * on SQLite the write lock of BEGIN IMMEDIATE, on PostgreSQL a transaction
 * advisory lock (released at COMMIT/ROLLBACK, so never leaked). The loser
 * waits, sees the version recorded and skips it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "db/migrations.h"

/* pg_advisory_xact_lock key: "SMMIGRAT" as a 64-bit integer. */
#define MIGRATE_LOCK_KEY 0x534d4d4947524154LL
#define MIGRATE_MAX 1024     /* migrations per engine */
#define MIGRATE_NAME_MAX 128 /* "0001_init" */

typedef struct migration {
    int version;
    char name[MIGRATE_NAME_MAX]; /* file name without engine and .sql */
    const char *sql;
} migration;

static const char *engine_suffix(db_kind kind)
{
    return kind == DB_POSTGRES ? "postgres" : "sqlite";
}

/* Splits "0001_init.sqlite" into version 1, name "0001_init", engine
 * "sqlite". Returns 0, or SM_EINTERNAL for a malformed embedded name. */
static int parse_file_name(const char *file, int *version, char *name, const char **engine)
{
    const char *dot = strrchr(file, '.');
    char *end;
    long v = strtol(file, &end, 10);
    if (!dot || end == file || *end != '_' || v <= 0 || v > 999999 ||
        (size_t)(dot - file) >= MIGRATE_NAME_MAX)
        return SM_EINTERNAL;
    *version = (int)v;
    memcpy(name, file, (size_t)(dot - file));
    name[dot - file] = '\0';
    *engine = dot + 1;
    return 0;
}

static int by_version(const void *a, const void *b)
{
    const migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* Fills `list` (MIGRATE_MAX entries) with the engine's migrations, sorted. */
static int collect(db_kind kind, migration *list, int *count, sm_error *err)
{
    int n = 0;
    for (const db_migration_file *f = db_migration_files; f->name; f++) {
        migration m;
        const char *engine;
        if (parse_file_name(f->name, &m.version, m.name, &engine) < 0)
            return sm_error_set(err, SM_EINTERNAL,
                                "migration file name '%s' is not "
                                "NNNN_name.ENGINE",
                                f->name);
        if (strcmp(engine, engine_suffix(kind)) != 0)
            continue;
        if (n == MIGRATE_MAX)
            return sm_error_set(err, SM_EINTERNAL, "more than %d migrations", MIGRATE_MAX);
        m.sql = f->sql;
        list[n++] = m;
    }
    qsort(list, (size_t)n, sizeof *list, by_version);
    for (int i = 1; i < n; i++)
        if (list[i].version == list[i - 1].version)
            return sm_error_set(err, SM_EINTERNAL, "migration version %d is embedded twice",
                                list[i].version);
    *count = n;
    return 0;
}

int db_migrations_latest(void)
{
    int latest = 0;
    for (const db_migration_file *f = db_migration_files; f->name; f++) {
        char name[MIGRATE_NAME_MAX];
        const char *engine;
        int v;
        if (parse_file_name(f->name, &v, name, &engine) == 0 && v > latest)
            latest = v;
    }
    return latest;
}

/* Begins a write transaction holding the migration lock. */
static int begin_locked(db *d, sm_error *err)
{
    int rc = db_begin(d, true, err);
    if (rc < 0 || db_get_kind(d) != DB_POSTGRES)
        return rc;
    db_value key = DB_I(MIGRATE_LOCK_KEY);
    db_result *r = NULL;
    rc = db_query(d, "SELECT pg_advisory_xact_lock($1)", &key, 1, &r, err);
    db_result_free(r);
    if (rc < 0)
        db_rollback(d);
    return rc;
}

static int table_exists(db *d, bool *exists, sm_error *err)
{
    const char *sql = db_get_kind(d) == DB_POSTGRES
                          ? "SELECT to_regclass('schema_migrations') IS NOT NULL"
                          : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                            "name = 'schema_migrations'";
    db_result *r = NULL;
    int rc = db_query(d, sql, NULL, 0, &r, err);
    if (rc == 0)
        *exists = db_result_int(r, 0, 0) != 0;
    db_result_free(r);
    return rc;
}

static int is_applied(db *d, int version, bool *applied, sm_error *err)
{
    db_value v = DB_I(version);
    db_result *r = NULL;
    int rc = db_query(d, "SELECT 1 FROM schema_migrations WHERE version = $1", &v, 1, &r, err);
    if (rc == 0)
        *applied = db_result_rows(r) > 0;
    db_result_free(r);
    return rc;
}

static int apply_one(db *d, const migration *m, bool *applied_now, sm_error *err)
{
    bool done = false;
    int64_t started = clock_now_ms();
    int rc = begin_locked(d, err);
    if (rc < 0)
        return rc;
    if ((rc = is_applied(d, m->version, &done, err)) < 0)
        goto fail;
    if (done) {
        *applied_now = false;
        return db_commit(d, err);
    }
    if ((rc = db_exec_script(d, m->sql, err)) < 0) {
        char why[SM_ERROR_MESSAGE_MAX];
        snprintf(why, sizeof why, "%s", err ? err->message : "");
        rc = sm_error_set(err, rc, "migration %s failed: %s", m->name, why);
        goto fail;
    }
    db_value row[] = {DB_I(m->version), DB_T(m->name), DB_I(clock_now_ms())};
    rc = db_exec(d, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                 row, 3, NULL, err);
    if (rc < 0 || (rc = db_commit(d, err)) < 0)
        goto fail;
    *applied_now = true;
    log_emit(LOG_INFO, "migration applied",
             json_pack("{s:i, s:s, s:s, s:I}", "version", m->version, "name", m->name, "engine",
                       engine_suffix(db_get_kind(d)), "duration_ms",
                       (json_int_t)(clock_now_ms() - started)));
    return 0;
fail:
    db_rollback(d);
    return rc;
}

int db_migrate(db *d, int *applied, sm_error *err)
{
    static const char create_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                     "version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
                                     "applied_at BIGINT NOT NULL)";
    migration *list = NULL;
    int count = 0, n = 0, rc;
    if (applied)
        *applied = 0;
    if (!d)
        return sm_error_set(err, SM_EINVAL, "db_migrate: NULL connection");
    if (db_in_transaction(d))
        return sm_error_set(err, SM_EINVAL, "db_migrate: a transaction is open");
    list = malloc(MIGRATE_MAX * sizeof *list);
    if (!list)
        return sm_error_set(err, SM_ENOMEM, "db_migrate: out of memory");
    if ((rc = collect(db_get_kind(d), list, &count, err)) < 0)
        goto done;
    /* Under the lock too: concurrent CREATE TABLE IF NOT EXISTS can still
     * collide on PostgreSQL's catalog. */
    if ((rc = begin_locked(d, err)) < 0)
        goto done;
    if ((rc = db_exec(d, create_sql, NULL, 0, NULL, err)) < 0 || (rc = db_commit(d, err)) < 0) {
        db_rollback(d);
        goto done;
    }
    for (int i = 0; i < count; i++) {
        bool now = false;
        if ((rc = apply_one(d, &list[i], &now, err)) < 0)
            goto done;
        n += now;
    }
    if (applied)
        *applied = n;
done:
    free(list);
    return rc;
}

int db_migrations_current(db *d, int *version, sm_error *err)
{
    bool exists = false;
    if (!d || !version)
        return sm_error_set(err, SM_EINVAL, "db_migrations_current: bad arguments");
    *version = 0;
    int rc = table_exists(d, &exists, err);
    if (rc < 0 || !exists)
        return rc;
    db_result *r = NULL;
    rc = db_query(d, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0, &r, err);
    if (rc == 0)
        *version = (int)db_result_int(r, 0, 0);
    db_result_free(r);
    return rc;
}

int db_migrations_check(db *d, sm_error *err)
{
    migration *list = NULL;
    bool exists = false;
    int count = 0, rc;
    if (!d)
        return sm_error_set(err, SM_EINVAL, "db_migrations_check: NULL connection");
    if ((rc = table_exists(d, &exists, err)) < 0)
        return rc;
    if (!exists)
        return sm_error_set(err, SM_ECONFLICT, "database not migrated: run `smartmarket migrate`");
    list = malloc(MIGRATE_MAX * sizeof *list);
    if (!list)
        return sm_error_set(err, SM_ENOMEM, "db_migrations_check: out of memory");
    if ((rc = collect(db_get_kind(d), list, &count, err)) < 0)
        goto done;
    for (int i = 0; i < count; i++) {
        bool applied = false;
        if ((rc = is_applied(d, list[i].version, &applied, err)) < 0)
            goto done;
        if (!applied) {
            rc = sm_error_set(err, SM_ECONFLICT,
                              "migration %s is not applied: run `smartmarket migrate`",
                              list[i].name);
            goto done;
        }
    }
done:
    free(list);
    return rc;
}
