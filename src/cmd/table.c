/* table.c — the list of commands and the start-up every command shares.
 *
 * main.c looks commands up in cmd_table; a command appears here only once
 * it exists (later issues add worker, beat, tasks, backup…). cmd_setup()
 * is the one place where configuration, logging and libsodium start, so
 * every command fails the same way on a bad environment: one line on
 * stderr naming the variable, exit 1. */
#include "cmd/cmd.h"

#include <stdio.h>

#include <sodium.h>

#include "core/config.h"
#include "core/log.h"

const cmd_entry cmd_table[] = {
    {"run", "migrate, then serve everything in one process (embedded mode)", cmd_run},
    {"serve", "serve the HTTP API (migrations must be current)", cmd_serve},
    {"migrate", "apply pending database migrations (--check: only report)", cmd_migrate},
    {"createsuperuser", "create an admin account (or reset its password)", cmd_createsuperuser},
    {"seed", "fill the database with realistic demo data", cmd_seed},
    {"healthcheck", "exit 0 when the running server is ready (container HEALTHCHECK)",
     cmd_healthcheck},
    {"beat", "run the scheduler: enqueue each scheduled task once per slot (one leads)", cmd_beat},
    {"worker", "run background jobs (--queues LIST, --concurrency N; SIGTERM drains)", cmd_worker},
    {"tasks", "inspect and manage jobs: inspect, retry, cancel, purge, enqueue", cmd_tasks},
    {"build_ml_indexes", "build the search indexes and ML models, then switch atomically",
     cmd_build_ml_indexes},
    {"ml", "offline evaluation of recommendations and search (ml evaluate)", cmd_ml},
    {"version", "print the version and the linked library versions", cmd_version},
    {0, 0, 0},
};

/* The configuration lives for the whole process: config_get() returns it. */
static sm_config g_cfg;

int cmd_setup(void)
{
    sm_error err = {0};
    if (config_load(&g_cfg, &err) < 0) {
        fprintf(stderr, "smartmarket: %s\n", err.message);
        return CMD_FAIL;
    }
    log_file_options file = {.path = g_cfg.log_file,
                             .max_bytes = (int64_t)g_cfg.log_file_max_mb << 20,
                             .keep = g_cfg.log_file_keep};
    if (log_init(g_cfg.log_level, &file, &err) < 0) {
        fprintf(stderr, "smartmarket: %s\n", err.message);
        return CMD_FAIL;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "smartmarket: libsodium failed to initialise\n");
        return CMD_FAIL;
    }
    return CMD_OK;
}
