/* run.c — `smartmarket run`: the embedded all-in-one.
 *
 * One process does everything a small deployment needs: it applies pending
 * migrations, starts a job worker on every queue and the beat (the
 * scheduler; with one process it simply leads), then serves the API until
 * SIGTERM or SIGINT. Unlike `serve`, it is allowed to migrate: with SQLite
 * there is one process and nobody else to coordinate with.
 *
 * Shutdown order, once the server has drained its requests: the beat first
 * (it stops enqueueing and releases its lease, so a `beat` elsewhere takes
 * over at once), then the worker (stops fetching, lets running jobs finish
 * within SHUTDOWN_TIMEOUT_MS, releases the rest). The worker's and the
 * beat's threads start with SIGTERM and SIGINT blocked, so the server's
 * event loop, on the main thread, is the one that receives them. */
#include "cmd/cmd.h"

#include <signal.h>
#include <stdio.h>

#include "core/log.h"
#include "db/migrations.h"
#include "jobs/beat.h"
#include "jobs/worker.h"
#include "realtime/realtime.h"

static void run_help(void)
{
    printf("Usage: smartmarket run [--listen HOST:PORT] [--workers N|auto]\n\n"
           "Embedded mode, everything in one process: applies pending database\n"
           "migrations, then runs a job worker on every queue (ml, emails,\n"
           "maintenance, reports), the beat (BEAT_SCHEDULE, BEAT_TIMEZONE; see\n"
           "'smartmarket beat --help') and the HTTP API. The default DATABASE_URL is\n"
           "the SQLite file var/smartmarket.db.\n\n");
    cmd_serve_help_options();
}

static int run_migrate(void)
{
    db *d = NULL;
    int rc = cmd_open_db("run", &d);
    if (rc != CMD_OK)
        return rc;
    sm_error err = {0};
    int applied = 0;
    int mrc = db_migrate(d, &applied, &err);
    db_close(d);
    if (mrc < 0)
        return cmd_fail("run", "migration failed: %s", err.message);
    if (applied > 0)
        log_info("applied %d migration(s)", applied);
    return CMD_OK;
}

/* Starts the worker and the beat with the stop signals blocked, so their
 * threads never take them. On failure nothing is left running. */
static int run_start_jobs(worker **w, beat **b)
{
    sm_error err = {0};
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    int rc = cmd_beat_new("run", b);
    if (rc == CMD_OK) {
        worker_options wo = {0}; /* every queue, default concurrency */
        if (worker_start(&wo, w, &err) < 0)
            rc = cmd_fail("run", "cannot start the worker: %s", err.message);
        else if (beat_start(*b, &err) < 0)
            rc = cmd_fail("run", "cannot start the beat: %s", err.message);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != CMD_OK) {
        worker_stop(*w);
        beat_free(*b);
        *w = NULL;
        *b = NULL;
    }
    return rc;
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
    if ((rc = run_migrate()) != CMD_OK)
        return rc;

    worker *w = NULL;
    beat *b = NULL;
    if (worker_register_tasks() < 0)
        return cmd_fail("run", "cannot register the job tasks");
    /* The bus outlives the server: the worker publishes until it stops. */
    sm_error err = {0};
    if (realtime_start(&err) < 0)
        return cmd_fail("run", "cannot start the event bus: %s", err.message);
    if ((rc = run_start_jobs(&w, &b)) != CMD_OK) {
        realtime_stop();
        return rc;
    }
    rc = cmd_serve_start("run", &o);
    beat_stop(b);
    beat_free(b);
    worker_stop(w);
    realtime_stop();
    log_info("run: stopped");
    return rc;
}
