/* serve.c — `smartmarket serve`: the HTTP API, nothing else.
 *
 * The production shape runs N of these behind nginx, so serve never
 * changes the schema: it refuses to start while migrations are pending
 * (`smartmarket migrate` is a separate, deliberate step of a deploy) and
 * says so in one line. --listen and --workers override SMARTMARKET_LISTEN
 * and SMARTMARKET_WORKERS; every other setting comes from the environment.
 * The option parsing and the start-up are shared with `run`. */
#include "cmd/cmd.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api/api.h"
#include "core/config.h"
#include "core/log.h"
#include "db/migrations.h"
#include "http/http.h"
#include "jobs/worker.h"
#include "realtime/realtime.h"

void cmd_serve_help_options(void)
{
    printf("Options:\n"
           "  --listen HOST:PORT   address to listen on ([::1]:8000 for IPv6);\n"
           "                       overrides SMARTMARKET_LISTEN (default 127.0.0.1:8000)\n"
           "  --workers N|auto     event loops (1-256, auto = one per core);\n"
           "                       overrides SMARTMARKET_WORKERS (default auto)\n"
           "  -h, --help           this help\n\n"
           "Environment: DATABASE_URL, SMARTMARKET_LISTEN, SMARTMARKET_WORKERS,\n"
           "SMARTMARKET_BLOCKING_THREADS, SMARTMARKET_STATIC_DIR, HTTP_* limits and\n"
           "timeouts, SHUTDOWN_TIMEOUT_MS, TRUST_PROXY, LOG_LEVEL, LOG_FILE (rotated\n"
           "at LOG_FILE_MAX_MB, LOG_FILE_KEEP kept), SECRET_KEY; see env.example for\n"
           "all of them and their defaults.\n\n"
           "Stops gracefully on SIGTERM or SIGINT (in-flight requests finish within\n"
           "SHUTDOWN_TIMEOUT_MS).\n\n"
           "Exit status: 0 after a clean shutdown, 1 on failure (cannot bind, database\n"
           "unreachable, migrations not current), 2 on bad usage.\n");
}

static void serve_help(void)
{
    printf("Usage: smartmarket serve [--listen HOST:PORT] [--workers N|auto]\n\n"
           "Serves the HTTP API (/api/, /health/, /api/docs/). Refuses to start while\n"
           "database migrations are pending: run 'smartmarket migrate' first.\n\n");
    cmd_serve_help_options();
}

int cmd_serve_parse(const char *cmd, int argc, char **argv, cmd_serve_options *o)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"workers", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->port = -1;
    o->workers = -1;
    cmd_getopt_reset();
    int c;
    long long n;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': return -1;
        case 'l':
            if (config_parse_listen(optarg, o->host, sizeof o->host, &o->port) < 0 || o->port == 0)
                return cmd_usage_error(cmd, "--listen: '%s' is not HOST:PORT", optarg);
            break;
        case 'w':
            if (!strcmp(optarg, "auto"))
                o->workers = 0;
            else if (cmd_parse_int64(optarg, 1, 256, &n) == 0)
                o->workers = (int)n;
            else
                return cmd_usage_error(cmd, "--workers: '%s' is not 1-256 or auto", optarg);
            break;
        default: return cmd_getopt_error(cmd, argv, c);
        }
    }
    if (optind < argc)
        return cmd_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return CMD_OK;
}

static void on_ready(const char *url, void *ctx)
{
    (void)ctx;
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    log_emit(LOG_INFO, "listening", json_pack("{s:s}", "url", url));
    /* stdout carries only JSON log lines; the human greeting goes to stderr. */
    fprintf(stderr, "SmartMarket is ready: %.*s/\n  API docs: %.*s/api/docs/\n", (int)len, url,
            (int)len, url);
}

/* Migrations must be current: serve never changes the schema itself. */
static int check_migrations(const char *cmd)
{
    db *d = NULL;
    sm_error err = {0};
    int rc = cmd_open_db(cmd, &d);
    if (rc != CMD_OK)
        return rc;
    int check = db_migrations_check(d, &err);
    db_close(d);
    if (check == SM_ECONFLICT)
        return cmd_fail(cmd, "refusing to start, migrations are not current: %s", err.message);
    if (check < 0)
        return cmd_fail(cmd, "cannot check migrations: %s", err.message);
    return CMD_OK;
}

int cmd_serve_start(const char *cmd, const cmd_serve_options *o)
{
    sm_error err = {0};
    int rc = check_migrations(cmd);
    if (rc != CMD_OK)
        return rc;
    /* Jobs enqueued by requests (orders) name registered tasks. */
    if (worker_register_tasks() < 0)
        return cmd_fail(cmd, "cannot register the job tasks");

    http_router *router = http_router_new();
    if (!router)
        return cmd_fail(cmd, "out of memory");
    if (api_routes_register(router, &err) < 0) {
        http_router_free(router);
        return cmd_fail(cmd, "cannot register routes: %s", err.message);
    }
    http_server_options so;
    http_server_options_from_config(&so);
    if (o->host[0]) {
        so.host = o->host;
        so.port = o->port;
    }
    if (o->workers >= 0)
        so.workers = o->workers;
    so.on_ready = on_ready;
    so.on_ready_ctx = NULL;

    /* Realtime: the event bus and the events sink (docs/REALTIME.md). */
    if (realtime_start(&err) < 0) {
        http_router_free(router);
        return cmd_fail(cmd, "cannot start the event bus: %s", err.message);
    }

    rc = http_server_run(&so, router, &err);
    http_router_free(router);
    realtime_stop();
    if (rc < 0)
        return cmd_fail(cmd, "cannot serve on %s:%d: %s", so.host, so.port, err.message);
    log_info("stopped");
    return CMD_OK;
}

int cmd_serve(int argc, char **argv)
{
    cmd_serve_options o;
    int rc = cmd_serve_parse("serve", argc, argv, &o);
    if (rc < 0) {
        serve_help();
        return CMD_OK;
    }
    if (rc != CMD_OK)
        return rc;
    if ((rc = cmd_setup()) != CMD_OK)
        return rc;
    return cmd_serve_start("serve", &o);
}
