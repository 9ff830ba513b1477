/* beat.c — `smartmarket beat`: the scheduler process.
 *
 * Reads the schedule (BEAT_SCHEDULE or the built-in one) and its zone
 * (BEAT_TIMEZONE), then runs a beat (src/jobs/beat.c) until SIGTERM or
 * SIGINT. Several may run: one leads, the others stand by on the lease.
 * Signals are taken synchronously: the main thread blocks them and waits
 * in sigwait(), so no handler runs in an arbitrary thread, and the stop
 * (thread joined, lease released) happens in ordinary code.
 *
 * cmd_beat_new() is shared with `run`, which embeds a beat next to the
 * server and the worker. Like `serve`, beat never migrates. */
#include "cmd/cmd.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "db/migrations.h"
#include "jobs/beat.h"
#include "jobs/worker.h"

static void beat_help(void)
{
    printf("Usage: smartmarket beat [--list]\n\n"
           "Runs the scheduler: enqueues each task of the schedule once per slot, on\n"
           "the queue of the task. Any number may run; one leads (a lease in the\n"
           "database, renewed every third of BEAT_LEASE_SECONDS), the others stand by\n"
           "and take over when it stops or dies. After downtime, each task whose last\n"
           "slot was missed runs once.\n\n"
           "Options:\n"
           "  --list       print the schedule and each task's next slot, then exit\n"
           "  -h, --help   this help\n\n"
           "Environment: DATABASE_URL, BEAT_SCHEDULE (\"task=cron;task=cron\", 5-field cron\n"
           "or @hourly/@daily/@midnight/@weekly/@monthly/@yearly; empty = the built-in\n"
           "schedule below), BEAT_TIMEZONE (IANA zone, default UTC), BEAT_LEASE_SECONDS\n"
           "(default 30), LOG_LEVEL; see env.example.\n\n"
           "Built-in schedule:\n");
    beat_schedule s = {0};
    beat_schedule_defaults(&s);
    for (int i = 0; i < s.n; i++)
        printf("  %-24s %s\n", s.entries[i].task, s.entries[i].cron);
    printf("\nStops on SIGTERM or SIGINT, releasing the lease so a standby takes over\n"
           "at once. Exit status: 0 after a clean stop, 1 on failure (bad schedule or\n"
           "zone, database unreachable, migrations not current), 2 on bad usage.\n");
}

int cmd_beat_schedule(const char *cmd, beat_schedule *s)
{
    const sm_config *cfg = config_get();
    sm_error err = {0};
    if (cron_tz_set(cfg->beat_timezone, &err) < 0)
        return cmd_fail(cmd, "BEAT_TIMEZONE: %s", err.message);
    if (worker_register_tasks() < 0)
        return cmd_fail(cmd, "cannot register the tasks");
    if (!cfg->beat_schedule[0])
        beat_schedule_defaults(s);
    else if (beat_schedule_parse(cfg->beat_schedule, s, &err) < 0)
        return cmd_fail(cmd, "BEAT_SCHEDULE: %s", err.message);
    if (beat_schedule_check(s, &err) < 0)
        return cmd_fail(cmd, "BEAT_SCHEDULE: %s", err.message);
    return CMD_OK;
}

int cmd_beat_new(const char *cmd, beat **out)
{
    beat_schedule s = {0};
    sm_error err = {0};
    int rc = cmd_beat_schedule(cmd, &s);
    if (rc != CMD_OK)
        return rc;
    beat_options o = {.schedule = &s, .lease_ms = (int64_t)config_get()->beat_lease_s * 1000};
    if (beat_new(&o, out, &err) < 0)
        return cmd_fail(cmd, "cannot start the beat: %s", err.message);
    return CMD_OK;
}

/* --list: one line per task, its next slot in UTC and in the zone. */
static int beat_list(void)
{
    beat_schedule s = {0};
    int rc = cmd_beat_schedule("beat", &s);
    if (rc != CMD_OK)
        return rc;
    time_t now = time(NULL);
    printf("%-24s %-20s %-22s %s (%s)\n", "TASK", "CRON", "NEXT (UTC)", "NEXT", cron_tz_name());
    for (int i = 0; i < s.n; i++) {
        int64_t next = 0;
        char utc[32] = "never", local[32] = "never";
        if (cron_next(&s.entries[i].expr, (int64_t)now, &next) == 0) {
            time_t t = (time_t)next;
            struct tm g, l;
            if (gmtime_r(&t, &g))
                strftime(utc, sizeof utc, "%Y-%m-%dT%H:%M:%SZ", &g);
            if (localtime_r(&t, &l))
                strftime(local, sizeof local, "%Y-%m-%d %H:%M %Z", &l);
        }
        printf("%-24s %-20s %-22s %s\n", s.entries[i].task, s.entries[i].cron, utc, local);
    }
    return CMD_OK;
}

int cmd_beat(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"list", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool list = false;
    int c;
    cmd_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': beat_help(); return CMD_OK;
        case 'l': list = true; break;
        default: return cmd_getopt_error("beat", argv, c);
        }
    }
    if (optind < argc)
        return cmd_usage_error("beat", "unexpected argument '%s'", argv[optind]);
    int rc = cmd_setup();
    if (rc != CMD_OK)
        return rc;
    if (list)
        return beat_list();

    db *d = NULL;
    sm_error err = {0};
    if ((rc = cmd_open_db("beat", &d)) != CMD_OK)
        return rc;
    int check = db_migrations_check(d, &err);
    db_close(d);
    if (check < 0)
        return cmd_fail("beat", "refusing to start, migrations are not current: %s", err.message);

    /* Blocked before any thread exists, so every thread inherits the mask
     * and the signals wait for sigwait() below. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    beat *b = NULL;
    if ((rc = cmd_beat_new("beat", &b)) != CMD_OK)
        return rc;
    if (beat_start(b, &err) < 0) {
        beat_free(b);
        return cmd_fail("beat", "%s", err.message);
    }
    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    log_emit(LOG_INFO, "beat: stopping", json_pack("{s:s}", "signal", strsignal(sig)));
    beat_stop(b);
    beat_free(b);
    return CMD_OK;
}
