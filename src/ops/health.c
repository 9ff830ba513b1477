/* health.c — readiness checks (see health.h).
 *
 * Readiness answers one question for a load balancer or an orchestrator:
 * can this process serve requests now? That needs a working database
 * connection and a schema at the version the binary expects. Callers that
 * use the thread's connection reset it after a failed ping (db_thread_reset)
 * so the next request reconnects after a database restart instead of
 * failing forever on a dead socket.
 *
 * Reasons shown in the JSON are deliberately generic for the database (an
 * engine message may name hosts or paths; it goes to the log instead) and
 * specific for migrations (the missing version is what an operator needs). */
#include "ops/health.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>

#include "core/clock.h"
#include "core/log.h"
#include "db/migrations.h"

static int64_t started_at_ms;
static uint64_t started_mono_ns;

void health_mark_started(void)
{
    started_at_ms = clock_now_ms();
    started_mono_ns = clock_mono_ns();
}

int64_t health_started_at_ms(void)
{
    return started_at_ms;
}

int64_t health_uptime_s(void)
{
    if (!started_mono_ns)
        return 0;
    return (int64_t)((clock_mono_ns() - started_mono_ns) / 1000000000u);
}

static double elapsed_ms(uint64_t since_ns)
{
    return (double)(clock_mono_ns() - since_ns) / 1e6;
}

static void check_fail(health_check *c, const char *reason)
{
    c->ok = false;
    snprintf(c->error, sizeof c->error, "%s", reason);
}

void health_run_ready(db *d, const char *open_error, health_report *out)
{
    memset(out, 0, sizeof *out);
    sm_error err = {0};

    out->database.ran = true;
    if (!d) {
        log_warning("readiness: database unreachable: %s", open_error ? open_error : "");
        check_fail(&out->database, "cannot connect to the database");
    } else {
        uint64_t t0 = clock_mono_ns();
        int rc = db_ping(d, &err);
        out->database.latency_ms = elapsed_ms(t0);
        out->database.ok = rc == 0;
        if (rc < 0) {
            log_warning("readiness: database ping failed: %s", err.message);
            check_fail(&out->database, "database ping failed");
        }
    }

    if (!out->database.ok) {
        check_fail(&out->migrations, "skipped: database unavailable");
        return;
    }
    out->migrations.ran = true;
    sm_error_clear(&err);
    uint64_t t0 = clock_mono_ns();
    int rc = db_migrations_check(d, &err);
    out->migrations.latency_ms = elapsed_ms(t0);
    out->migrations.ok = rc == 0;
    if (rc == SM_ECONFLICT) {
        check_fail(&out->migrations, err.message);
    } else if (rc < 0) {
        log_warning("readiness: migrations check failed: %s", err.message);
        check_fail(&out->migrations, "cannot read the applied migrations");
    }
    out->ok = out->database.ok && out->migrations.ok;
}

void health_report_events(health_report *r, int rc, double latency_ms, const char *reason)
{
    r->events.ran = true;
    r->events.latency_ms = latency_ms;
    r->events.ok = rc == 0;
    if (rc != 0) {
        log_warning("readiness: event bus: %s", reason && *reason ? reason : sm_strerror(rc));
        check_fail(&r->events, "event bus unavailable");
        r->ok = false;
    }
}

static json_t *check_json(const health_check *c)
{
    json_t *o = json_pack("{s:s}", "status", c->ok ? "ok" : "fail");
    if (!o)
        return NULL;
    /* Latency rounded to µs: enough for an operator, stable to read. */
    if (c->ran &&
        json_object_set_new(o, "latency_ms",
                            json_real((double)(int64_t)(c->latency_ms * 1000) / 1000)) < 0)
        goto fail;
    if (!c->ok && json_object_set_new(o, "error", json_string(c->error)) < 0)
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

json_t *health_report_json(const health_report *r)
{
    json_t *dbc = check_json(&r->database);
    json_t *mig = check_json(&r->migrations);
    json_t *out = NULL;
    if (dbc && mig)
        out = json_pack("{s:s, s:{s:o, s:o}}", "status", r->ok ? "ok" : "fail", "checks",
                        "database", dbc, "migrations", mig);
    else {
        json_decref(dbc);
        json_decref(mig);
    }
    if (out && r->events.ran &&
        json_object_set_new(json_object_get(out, "checks"), "events", check_json(&r->events)) < 0) {
        json_decref(out);
        out = NULL;
    }
    return out;
}

static int count_rows(db *d, const char *sql, int64_t *out, sm_error *err)
{
    db_result *r = NULL;
    int rc = db_query(d, sql, NULL, 0, &r, err);
    if (rc < 0)
        return rc;
    *out = db_result_int(r, 0, 0);
    db_result_free(r);
    return 0;
}

int health_counts(db *d, int64_t *users, int64_t *products, int64_t *orders, sm_error *err)
{
    int rc;
    if ((rc = count_rows(d, "SELECT COUNT(*) FROM users", users, err)) < 0 ||
        (rc = count_rows(d, "SELECT COUNT(*) FROM products", products, err)) < 0 ||
        (rc = count_rows(d, "SELECT COUNT(*) FROM orders", orders, err)) < 0)
        return rc;
    return 0;
}

/* The value of `key` (e.g. "VmRSS:") in /proc/self/status, or -1. */
static int64_t proc_status_field(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int64_t v = -1;
    size_t n = strlen(key);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0) {
            char *end;
            long long x = strtoll(line + n, &end, 10);
            if (end != line + n)
                v = x;
            break;
        }
    fclose(f);
    return v;
}

static int64_t open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    int64_t n = 0;
    if (!dir)
        return -1;
    while (readdir(dir))
        n++;
    closedir(dir);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

void health_process_read(health_process *out)
{
    struct rusage ru;
    int64_t rss_kib = proc_status_field("VmRSS:");
    out->rss_bytes = rss_kib < 0 ? -1 : rss_kib * 1024;
    out->threads = proc_status_field("Threads:");
    out->open_fds = open_fds();
    out->cpu_user_s = out->cpu_system_s = -1;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        out->cpu_user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
        out->cpu_system_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    }
}

int health_disk(const char *path, int64_t *free_bytes, int64_t *total_bytes, sm_error *err)
{
    struct statvfs st;
    if (statvfs(path, &st) != 0)
        return sm_error_set(err, SM_EIO, "statvfs %s failed", path);
    *free_bytes = (int64_t)st.f_bavail * (int64_t)st.f_frsize;
    *total_bytes = (int64_t)st.f_blocks * (int64_t)st.f_frsize;
    return 0;
}

int health_db_size(db *d, int64_t *bytes, int64_t *connections, sm_error *err)
{
    bool pg = db_get_kind(d) == DB_POSTGRES;
    db_result *r = NULL;
    int rc = db_query(d,
                      pg ? "SELECT pg_database_size(current_database()), (SELECT COUNT(*) FROM "
                           "pg_stat_activity WHERE datname = current_database())"
                         : "SELECT p.page_count * s.page_size, -1 FROM pragma_page_count() p, "
                           "pragma_page_size() s",
                      NULL, 0, &r, err);
    if (rc < 0)
        return rc;
    *bytes = db_result_int(r, 0, 0);
    *connections = db_result_int(r, 0, 1);
    db_result_free(r);
    return 0;
}
