/* migrate.c — `smartmarket migrate [--check]`.
 *
 * Applies the pending migrations embedded in the binary, each in its own
 * transaction (db/migrations.c), and says how many it applied. With
 * --check it changes nothing and exits 1 when some are pending, which is
 * what a deploy script or a readiness gate asks before starting `serve`. */
#include "cmd/cmd.h"

#include <stdio.h>

#include "db/migrations.h"

static void migrate_help(void)
{
    printf("Usage: smartmarket migrate [--check]\n\n"
           "Applies the pending database migrations (embedded in the binary), each in\n"
           "its own transaction, and prints how many were applied.\n\n"
           "Options:\n"
           "  --check      apply nothing; exit 1 when migrations are pending\n"
           "  -h, --help   this help\n\n"
           "Environment: DATABASE_URL (default sqlite:///var/smartmarket.db),\n"
           "DB_TIMEOUT_MS, LOG_LEVEL; see env.example.\n\n"
           "Exit status: 0 success (or, with --check, up to date), 1 failure (or\n"
           "pending migrations with --check), 2 bad usage.\n");
}

int cmd_migrate(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"check", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool check = false;
    int c, rc;
    cmd_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': migrate_help(); return CMD_OK;
        case 'c': check = true; break;
        default: return cmd_getopt_error("migrate", argv, c);
        }
    }
    if (optind < argc)
        return cmd_usage_error("migrate", "unexpected argument '%s'", argv[optind]);
    if ((rc = cmd_setup()) != CMD_OK)
        return rc;

    db *d = NULL;
    if ((rc = cmd_open_db("migrate", &d)) != CMD_OK)
        return rc;
    sm_error err = {0};
    int version = 0;
    if (check) {
        int crc = db_migrations_check(d, &err);
        db_migrations_current(d, &version, NULL);
        db_close(d);
        if (crc == SM_ECONFLICT)
            return cmd_fail("migrate", "migrations pending: %s (schema at version %d of %d)",
                            err.message, version, db_migrations_latest());
        if (crc < 0)
            return cmd_fail("migrate", "cannot check migrations: %s", err.message);
        printf("migrations up to date (version %d)\n", version);
        return CMD_OK;
    }
    int applied = 0;
    rc = db_migrate(d, &applied, &err);
    if (rc == 0)
        rc = db_migrations_current(d, &version, &err);
    db_close(d);
    if (rc < 0)
        return cmd_fail("migrate", "migration failed: %s", err.message);
    printf("applied %d migration(s); schema at version %d\n", applied, version);
    return CMD_OK;
}
