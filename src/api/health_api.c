/* health_api.c — /health/live/, /health/ready/ and /health/detailed/.
 *
 * live answers on the event loop and touches nothing: it says the process
 * is up and its loop turns. ready runs the readiness checks (ops/health.h,
 * and the Redis event bus when there is one) on the blocking pool and
 * answers 503 naming the failing check, so a load balancer stops sending
 * traffic to a process that cannot serve it; it is public and takes no
 * credentials (a probe sends none). detailed is for
 * admins: version, uptime, the checks, the size of the shop and of the
 * database, the job queues and live workers, this process's memory, CPU,
 * threads and descriptors, and the data directory's disk. */
#include <unistd.h>

#include "api/api_util.h"
#include "api/routes.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "jobs/queue.h"
#include "ops/health.h"
#include "realtime/bus.h"
#include "realtime/realtime.h"
#include "version.h"

static void handle_live(http_request *req, http_response *res, void *ctx)
{
    (void)req;
    (void)ctx;
    http_response_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

/* Runs the readiness checks on this thread's connection; a failed ping
 * drops the connection so the next call reconnects. With the Redis event
 * bus, Redis is checked too: without it no live notification leaves this
 * process, so a balancer should prefer another. */
static void run_ready(health_report *rep, db **out)
{
    db *d = NULL;
    sm_error err = {0};
    if (db_thread(&d, &err) < 0)
        d = NULL;
    health_run_ready(d, err.message, rep);
    if (d && !rep->database.ok) {
        db_thread_reset();
        d = NULL;
    }
    *out = d;

    bool checked = false;
    sm_error bus_err = {0};
    uint64_t t0 = clock_mono_ns();
    int rc = rt_bus_check(realtime_bus(), &checked, &bus_err);
    if (checked)
        health_report_events(rep, rc, (double)(clock_mono_ns() - t0) / 1e6, bus_err.message);
}

static void handle_ready(http_request *req, http_response *res, void *ctx)
{
    (void)req;
    (void)ctx;
    health_report rep;
    db *d;
    run_ready(&rep, &d);
    json_t *body = health_report_json(&rep);
    if (!body) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        return;
    }
    http_response_json(res, rep.ok ? 200 : 503, body);
}

/* The database part of detailed: kind, size and (PostgreSQL) connections;
 * sizes are null when the database cannot be reached or read. */
static json_t *database_json(db *d)
{
    int64_t bytes = 0, conns = -1;
    sm_error err = {0};
    const char *kind = d ? (db_get_kind(d) == DB_POSTGRES ? "postgres" : "sqlite") : "unknown";
    json_t *o = json_pack("{ss}", "kind", kind);
    if (!o || !d)
        return o;
    if (health_db_size(d, &bytes, &conns, &err) < 0) {
        log_warning("health: reading the database size failed: %s", err.message);
        return o;
    }
    json_object_set_new(o, "size_bytes", json_integer(bytes));
    if (conns >= 0)
        json_object_set_new(o, "connections", json_integer(conns));
    return o;
}

/* Per-queue counts and the live workers, or null when unreadable. */
static json_t *jobs_json(db *d)
{
    json_t *queues = NULL, *workers = NULL, *o = NULL;
    sm_error err = {0};
    if (!d)
        return json_null();
    if (queue_stats(d, &queues, &err) < 0 ||
        queue_workers(d, QUEUE_WORKER_ALIVE_MS, &workers, &err) < 0) {
        log_warning("health: reading the job queues failed: %s", err.message);
        json_decref(queues);
        return json_null();
    }
    json_int_t alive = 0;
    size_t i;
    json_t *w;
    json_array_foreach(workers, i, w)
    {
        alive += json_is_true(json_object_get(w, "alive"));
    }
    json_decref(workers);
    o = json_pack("{so sI}", "queues", queues, "workers_alive", alive);
    return o ? o : json_null();
}

static json_t *process_json(void)
{
    health_process p;
    health_process_read(&p);
    return json_pack("{sI sI sf sf sI sI}", "pid", (json_int_t)getpid(), "rss_bytes",
                     (json_int_t)p.rss_bytes, "cpu_user_s", p.cpu_user_s, "cpu_system_s",
                     p.cpu_system_s, "threads", (json_int_t)p.threads, "open_fds",
                     (json_int_t)p.open_fds);
}

/* The filesystem of SMARTMARKET_DATA_DIR (database file, ML artefacts,
 * outbox, reports), or null. */
static json_t *disk_json(void)
{
    const sm_config *cfg = config_get();
    int64_t free_bytes, total;
    sm_error err = {0};
    if (!cfg || health_disk(cfg->data_dir, &free_bytes, &total, &err) < 0)
        return json_null();
    return json_pack("{ss sI sI}", "path", cfg->data_dir, "free_bytes", (json_int_t)free_bytes,
                     "total_bytes", (json_int_t)total);
}

static void handle_detailed(http_request *req, http_response *res, const api_principal *who)
{
    (void)req;
    (void)who;
    health_report rep;
    db *d;
    run_ready(&rep, &d);
    json_t *body = health_report_json(&rep);
    if (!body) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        return;
    }
    int64_t users = 0, products = 0, orders = 0;
    sm_error err = {0};
    json_t *counts = json_null();
    if (d && health_counts(d, &users, &products, &orders, &err) == 0)
        counts = json_pack("{s:I, s:I, s:I}", "users", (json_int_t)users, "products",
                           (json_int_t)products, "orders", (json_int_t)orders);
    else if (d)
        log_warning("health: counting rows failed: %s", err.message);

    if (json_object_set_new(body, "version", json_string(SM_VERSION)) < 0 ||
        json_object_set_new(body, "uptime_s", json_integer(health_uptime_s())) < 0 ||
        json_object_set_new(body, "started_at", api_json_time(health_started_at_ms())) < 0 ||
        json_object_set_new(body, "database", database_json(d)) < 0 ||
        json_object_set_new(body, "counts", counts) < 0 ||
        json_object_set_new(body, "jobs", jobs_json(d)) < 0 ||
        json_object_set_new(body, "process", process_json()) < 0 ||
        json_object_set_new(body, "disk", disk_json()) < 0) {
        json_decref(body);
        api_error_from_code(res, SM_ENOMEM, NULL);
        return;
    }
    http_response_json(res, 200, body);
}

int api_health_routes(http_router *r)
{
    int rc;
    health_mark_started();
    if ((rc = http_router_add(r, "GET", "/health/live/", handle_live, NULL, HTTP_ROUTE_INLINE)) <
            0 ||
        (rc = http_router_add(r, "GET", "/health/ready/", handle_ready, NULL, 0)) < 0 ||
        (rc = api_route(r, "GET", "/health/detailed/", handle_detailed, API_ADMIN)) < 0)
        return rc;
    return 0;
}
