/* run.c — `smartmarket run`: the embedded all-in-one.
 *
 * One process does everything a small deployment needs: it applies pending
 * migrations, then serves the API (the job worker and the scheduler join
 * this process in later issues). Unlike `serve`, it is allowed to migrate:
 * with SQLite there is one process and nobody else to coordinate with. */
#include "cmd/cmd.h"

#include <stdio.h>

#include "core/log.h"
#include "db/migrations.h"

static void run_help(void)
{
    printf("Usage: smartmarket run [--listen HOST:PORT] [--workers N|auto]\n\n"
           "Embedded mode, everything in one process: applies pending database\n"
           "migrations, then serves the HTTP API. The default DATABASE_URL is the\n"
           "SQLite file var/smartmarket.db.\n\n");
    cmd_serve_help_options();
}

int cmd_run(int argc, char **argv)
{
    cmd_serve_options o;
    int rc = cmd_serve_parse("run", argc, argv, &o);
    if (rc < 0) {
        run_help();
        return CMD_OK;
    }
    if (rc != CMD_OK)
        return rc;
    if ((rc = cmd_setup()) != CMD_OK)
        return rc;

    db *d = NULL;
    if ((rc = cmd_open_db("run", &d)) != CMD_OK)
        return rc;
    sm_error err = {0};
    int applied = 0;
    int mrc = db_migrate(d, &applied, &err);
    db_close(d);
    if (mrc < 0)
        return cmd_fail("run", "migration failed: %s", err.message);
    if (applied > 0)
        log_info("applied %d migration(s)", applied);
    return cmd_serve_start("run", &o);
}
