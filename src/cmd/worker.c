/* worker.c — `smartmarket worker`: runs background jobs until SIGTERM.
 *
 * Queues and their concurrency come from --queues ("ml=1,emails=4" or
 * "ml,emails" with --concurrency N each; default: every queue of the
 * specification). SIGTERM or SIGINT stops fetching, lets running jobs finish
 * within SHUTDOWN_TIMEOUT_MS and releases the rest (see docs/JOBS.md). */
#include "cmd/cmd.h"

#include <stdio.h>

#include "db/migrations.h"
#include "core/config.h"
#include "jobs/cron.h"
#include "jobs/worker.h"
#include "realtime/realtime.h"

static void worker_help(void)
{
    printf("Usage: smartmarket worker [--queues LIST] [--concurrency N]\n\n"
           "Runs background jobs from the database's job table until SIGTERM.\n\n"
           "  --queues LIST      queues to serve: \"ml=1,emails=4\" (concurrency each) or\n"
           "                     \"ml,emails\" (with --concurrency); default\n"
           "                     " WORKER_DEFAULT_QUEUES "\n"
           "  --concurrency N    jobs at once per queue listed without =N (1-%d, default 4)\n"
           "  --help             this text\n\n"
           "Environment: DATABASE_URL, SHUTDOWN_TIMEOUT_MS (drain deadline), JOBS_LEASE_MS\n"
           "(default 30000; heartbeats every third), JOBS_TIME_LIMIT_MS (default per-attempt\n"
           "limit, 300000), JOBS_POLL_MS (1000), JOBS_BACKOFF_BASE_MS (1000),\n"
           "SMARTMARKET_TEST_TASKS=1 (test-only tasks; never in production).\n",
           WORKER_CONCURRENCY_MAX);
}

int cmd_worker(int argc, char **argv)
{
    static const struct option opts[] = {
        {"queues", required_argument, NULL, 'q'},
        {"concurrency", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    worker_options o = {0};
    worker_queue qs[WORKER_QUEUES_MAX];
    sm_error err = {0};
    long long conc = 0;
    int c, nq = 0, rc;
    db *d = NULL;

    cmd_getopt_reset();
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'q': o.queues = optarg; break;
        case 'c':
            if (cmd_parse_int64(optarg, 1, WORKER_CONCURRENCY_MAX, &conc) != 0)
                return cmd_usage_error("worker", "--concurrency must be 1-%d",
                                       WORKER_CONCURRENCY_MAX);
            o.concurrency = (int)conc;
            break;
        case 'h': worker_help(); return CMD_OK;
        default: return cmd_getopt_error("worker", argv, c);
        }
    }
    if (optind < argc)
        return cmd_usage_error("worker", "unexpected argument '%s'", argv[optind]);
    if (worker_parse_queues(o.queues, o.concurrency, qs, WORKER_QUEUES_MAX, &nq, &err) != 0)
        return cmd_usage_error("worker", "--queues: %s", err.message);
    if ((rc = cmd_setup()) != CMD_OK)
        return rc;
    if ((rc = cmd_open_db("worker", &d)) != CMD_OK)
        return rc;
    rc = db_migrations_check(d, &err);
    db_close(d);
    if (rc != 0)
        return cmd_fail("worker", "%s (run 'smartmarket migrate')", err.message);
    if (worker_register_tasks() < 0)
        return cmd_fail("worker", "cannot register the job tasks");
    /* Reports compute their day in the beat's zone. */
    if (cron_tz_set(config_get()->beat_timezone, &err) < 0)
        return cmd_fail("worker", "BEAT_TIMEZONE: %s", err.message);
    /* Job events (job.failed, report.ready, ml.rebuilt) go out on the bus:
     * with REDIS_URL they reach every web process. */
    if (realtime_start(&err) < 0)
        return cmd_fail("worker", "cannot start the event bus: %s", err.message);
    rc = worker_run(&o, &err) != 0 ? cmd_fail("worker", "%s", err.message) : CMD_OK;
    realtime_stop();
    return rc;
}
