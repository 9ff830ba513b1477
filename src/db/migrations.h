/* migrations.h — versioned schema migrations, embedded in the binary.
 *
 * Files live in src/db/migrations/ as NNNN_name.sqlite.sql and
 * NNNN_name.postgres.sql (one per engine, same version number). The build
 * embeds them (scripts/embed-migrations.sh). Applied versions are recorded in
 * the table schema_migrations(version, name, applied_at); each migration runs
 * in its own transaction, so a failing one leaves the schema as it was. */
#ifndef SM_DB_MIGRATIONS_H
#define SM_DB_MIGRATIONS_H

#include <stddef.h>

#include "core/err.h"
#include "db/db.h"

typedef struct db_migration_file {
    const char *name; /* "0001_init.sqlite" (file name without .sql) */
    const char *sql;
    size_t len;
} db_migration_file;

/* Generated: every embedded file, terminated by {0}. */
extern const db_migration_file db_migration_files[];

/* Applies pending migrations in version order. Idempotent. *applied (may be
 * NULL) gets how many were applied now. */
int db_migrate(db *d, int *applied, sm_error *err);

/* Returns 0 when the database has every embedded migration applied,
 * SM_ECONFLICT (with the missing version named) when not. */
int db_migrations_check(db *d, sm_error *err);

/* Highest embedded version number, and highest applied (0 when none). */
int db_migrations_latest(void);
int db_migrations_current(db *d, int *version, sm_error *err);

#endif
