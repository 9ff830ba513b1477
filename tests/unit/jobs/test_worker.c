/* test_worker.c — the runtime's guarantees, on SQLite and PostgreSQL: a
 * worker runs jobs to completion, retries failures with backoff, enforces
 * time limits (failed attempt with a timeout error), drains on stop
 * (finishing short jobs, releasing long ones without counting the
 * attempt), takes a job enqueued outside a transaction at insert when
 * idle, and the order outbox (a job iff the order commits). */
#include "db/db_fixture.h"

#include <time.h>

#include "core/clock.h"
#include "db/migrations.h"
#include "jobs/queue.h"
#include "jobs/worker.h"
#include "shop/orders.h"

static int worker_setup(void **state)
{
    setenv("JOBS_BACKOFF_BASE_MS", "1", 1); /* retries at once */
    if (fixture_setup(state) != 0)
        return -1;
    fixture *f = *state;
    sm_error err = {0};
    if (db_migrate(f->d, NULL, &err) != 0) {
        print_error("migrate: %s\n", err.message);
        return -1;
    }
    if (jobs_register_builtin_tasks() != 0)
        return -1;
    return jobs_register_test_tasks();
}

#define WTEST(fn) cmocka_unit_test_setup_teardown(fn, worker_setup, fixture_teardown)

static int64_t enqueue(db *d, const char *task, const char *args)
{
    int64_t id = 0;
    OK(jobs_enqueue(d, &(jobs_new){.task = task, .args_json = args}, &id, NULL, &g_err));
    return id;
}

static void state_of(db *d, int64_t id, char *out, size_t cap)
{
    db_result *r = NULL;
    db_value p[] = {DB_I(id)};
    OK(db_query(d, "SELECT state FROM jobs WHERE id = $1", p, 1, &r, &g_err));
    snprintf(out, cap, "%s", db_result_rows(r) ? db_result_text(r, 0, 0) : "");
    db_result_free(r);
}

/* Waits up to `ms` for job `id` to reach `want`. */
static bool wait_state(db *d, int64_t id, const char *want, int ms)
{
    char st[16];
    for (int waited = 0; waited <= ms; waited += 10) {
        state_of(d, id, st, sizeof st);
        if (strcmp(st, want) == 0)
            return true;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "job %lld is %s, not %s\n", (long long)id, st, want);
    return false;
}

static int64_t scalar(db *d, const char *sql, int64_t id)
{
    db_result *r = NULL;
    db_value p[] = {DB_I(id)};
    OK(db_query(d, sql, p, 1, &r, &g_err));
    int64_t v = db_result_int(r, 0, 0);
    db_result_free(r);
    return v;
}

static worker *start(const char *queues, int time_limit_ms, int shutdown_ms)
{
    worker *w = NULL;
    worker_options o = {.queues = queues,
                        .time_limit_ms = time_limit_ms,
                        .shutdown_timeout_ms = shutdown_ms,
                        .poll_ms = 50};
    OK(worker_start(&o, &w, &g_err));
    return w;
}

static void worker_runs_jobs_and_retries_failures(void **state)
{
    fixture *f = *state;
    worker *w = start("test=4", 0, 2000);
    int64_t ok = enqueue(f->d, "noop", NULL);
    int64_t twice = enqueue(f->d, "fail_n_times", "{\"n\":2}");
    int64_t never = enqueue(f->d, "always_fail", NULL);
    assert_true(wait_state(f->d, ok, "succeeded", 5000));
    assert_true(wait_state(f->d, twice, "succeeded", 5000));
    assert_true(wait_state(f->d, never, "discarded", 5000));
    assert_int_equal(scalar(f->d, "SELECT attempt FROM jobs WHERE id = $1", twice), 3);
    assert_int_equal(scalar(f->d, "SELECT attempt FROM jobs WHERE id = $1", never), 3);
    /* Retried by hand: one more attempt, discarded again. */
    OK(queue_retry(f->d, never, &g_err));
    assert_true(wait_state(f->d, never, "discarded", 5000));
    assert_int_equal(scalar(f->d, "SELECT attempt FROM jobs WHERE id = $1", never), 4);
    worker_stop(w);
}

static void time_limit_fails_the_attempt_with_a_timeout(void **state)
{
    fixture *f = *state;
    worker *w = start("test=2", 150, 2000);
    int64_t id = 0;
    OK(jobs_enqueue(f->d, &(jobs_new){.task = "sleep_until_stopped", .max_attempts = 1}, &id, NULL,
                    &g_err));
    assert_true(wait_state(f->d, id, "discarded", 5000));
    json_t *job = NULL;
    OK(queue_get(f->d, id, &job, &g_err));
    assert_non_null(strstr(json_string_value(json_object_get(job, "last_error")), "time limit"));
    json_decref(job);
    worker_stop(w);
}

static void stop_drains_short_jobs_and_releases_long_ones(void **state)
{
    fixture *f = *state;
    worker *w = start("test=2", 0, 600);
    int started = jobs_test_sleep_started();
    int64_t shortj = enqueue(f->d, "sleep_until_stopped", "{\"ms\":200}");
    int64_t longj = enqueue(f->d, "sleep_until_stopped", NULL);
    assert_true(wait_state(f->d, shortj, "running", 5000));
    assert_true(wait_state(f->d, longj, "running", 5000));
    /* Claimed is not started: a claimed job still waiting for its thread
     * is released by the drain, so wait until both bodies run. */
    for (int i = 0; i < 500 && jobs_test_sleep_started() < started + 2; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(jobs_test_sleep_started(), started + 2);
    worker_stop(w);
    char st[16];
    state_of(f->d, shortj, st, sizeof st);
    assert_string_equal(st, "succeeded");
    state_of(f->d, longj, st, sizeof st);
    assert_string_equal(st, "available");
    assert_int_equal(scalar(f->d, "SELECT attempt FROM jobs WHERE id = $1", longj), 0);
    assert_int_equal(scalar(f->d, "SELECT COUNT(*) FROM job_workers WHERE $1 = $1", 0), 0);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits until the worker's first claim found the queue empty. */
static void wait_drained(db *d, worker *w)
{
    /* The first claim runs at start; a probe job enqueued once it has run
     * is taken at insert. Until then probes go through the claim. */
    for (int i = 0; i < 100 && worker_handoffs(w) == 0; i++) {
        int64_t probe = enqueue(d, "noop", NULL);
        assert_true(wait_state(d, probe, "succeeded", 5000));
        sleep_ms(10);
    }
    assert_true(worker_handoffs(w) > 0);
}

static void idle_worker_takes_an_autocommit_job_at_insert(void **state)
{
    fixture *f = *state;
    worker *w = start("test=1", 0, 300);
    wait_drained(f->d, w);
    long before = worker_handoffs(w);

    /* Taken at insert: running with a lease the moment enqueue returns. */
    int64_t first = enqueue(f->d, "sleep_until_stopped", "{\"ms\":300}");
    assert_int_equal(worker_handoffs(w), before + 1);
    char st[16];
    state_of(f->d, first, st, sizeof st);
    assert_string_equal(st, "running");
    assert_int_equal(scalar(f->d,
                            "SELECT COUNT(*) FROM jobs WHERE id = $1 AND attempt = 1 AND "
                            "lease_owner IS NOT NULL AND lease_token IS NOT NULL AND "
                            "lease_expires_at > attempted_at AND attempted_at = inserted_at",
                            first),
                     1);

    /* The only slot is busy: the next job waits for a claim. */
    int64_t queued = enqueue(f->d, "noop", NULL);
    assert_int_equal(worker_handoffs(w), before + 1);
    state_of(f->d, queued, st, sizeof st);
    assert_string_equal(st, "available");
    assert_true(wait_state(f->d, first, "succeeded", 5000));
    assert_true(wait_state(f->d, queued, "succeeded", 5000));
    assert_int_equal(scalar(f->d, "SELECT attempt FROM jobs WHERE id = $1", first), 1);
    wait_drained(f->d, w);
    before = worker_handoffs(w);

    /* Inside a transaction the job must not start before the commit, and
     * never when it rolls back. */
    int started = jobs_test_sleep_started();
    OK(db_begin(f->d, true, &g_err));
    int64_t rolled = enqueue(f->d, "sleep_until_stopped", "{\"ms\":1}");
    sleep_ms(100);
    OK(db_rollback(f->d));
    assert_int_equal(jobs_test_sleep_started(), started);
    assert_int_equal(scalar(f->d, "SELECT COUNT(*) FROM jobs WHERE id = $1", rolled), 0);
    OK(db_begin(f->d, true, &g_err));
    int64_t in_tx = enqueue(f->d, "noop", NULL);
    OK(db_commit(f->d, &g_err));
    assert_true(wait_state(f->d, in_tx, "succeeded", 5000));
    /* A unique key and a rate limit need the claim's checks. */
    int64_t unique = 0;
    OK(jobs_enqueue(f->d, &(jobs_new){.task = "noop", .unique_key = "handoff-test"}, &unique, NULL,
                    &g_err));
    assert_true(wait_state(f->d, unique, "succeeded", 5000));
    int64_t limited = enqueue(f->d, "limited_noop", NULL);
    assert_true(wait_state(f->d, limited, "succeeded", 5000));
    assert_int_equal(worker_handoffs(w), before);

    /* A job taken at insert and still running at stop is released like a
     * claimed one: available again, the attempt not counted. */
    wait_drained(f->d, w);
    started = jobs_test_sleep_started();
    int64_t held = enqueue(f->d, "sleep_until_stopped", NULL);
    for (int i = 0; i < 500 && jobs_test_sleep_started() == started; i++)
        sleep_ms(10);
    assert_int_equal(jobs_test_sleep_started(), started + 1);
    worker_stop(w);
    state_of(f->d, held, st, sizeof st);
    assert_string_equal(st, "available");
    assert_int_equal(scalar(f->d, "SELECT attempt FROM jobs WHERE id = $1", held), 0);
}

static void order_outbox_job_exists_iff_the_order_commits(void **state)
{
    fixture *f = *state;
    int64_t now = clock_now_ms(), order_id = 0;
    db_value p[] = {DB_I(now)};
    OK(db_exec(f->d,
               "INSERT INTO users (email, name, password_hash, role, created_at, updated_at) "
               "VALUES ('a@example.com', 'A', 'x', 'customer', $1, $1)",
               p, 1, NULL, &g_err));
    OK(db_exec(f->d,
               "INSERT INTO products (name, price_cents, currency, stock, created_at, updated_at) "
               "VALUES ('P', 500, 'EUR', 3, $1, $1)",
               p, 1, NULL, &g_err));
    order_line ok[] = {{1, 2}}, too_many[] = {{1, 5}};
    order_failure fail = {0};
    assert_int_equal(order_place(f->d, 1, too_many, 1, &order_id, NULL, &fail, NULL), SM_ESTOCK);
    assert_int_equal(scalar(f->d, "SELECT COUNT(*) FROM jobs WHERE $1 = $1", 0), 0);
    OK(order_place(f->d, 1, ok, 1, &order_id, NULL, &fail, &g_err));
    assert_int_equal(scalar(f->d,
                            "SELECT COUNT(*) FROM jobs WHERE task = 'send_order_email' AND "
                            "unique_key = 'order:' || CAST($1 AS TEXT) || ':confirmation'",
                            order_id),
                     1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        WTEST(worker_runs_jobs_and_retries_failures),
        WTEST(time_limit_fails_the_attempt_with_a_timeout),
        WTEST(stop_drains_short_jobs_and_releases_long_ones),
        WTEST(idle_worker_takes_an_autocommit_job_at_insert),
        WTEST(order_outbox_job_exists_iff_the_order_commits),
    };
    return fixture_run_both("jobs/worker", tests, sizeof tests / sizeof tests[0]);
}
