/* test_queue.c — the job table's guarantees, on SQLite and PostgreSQL:
 * unique keys, claim exclusivity, leases and the reaper, stale completions,
 * retries and discarding, manual retry, rate limits, admin operations. */
#include "db/db_fixture.h"

#include <pthread.h>
#include <time.h>

#include "core/clock.h"
#include "db/migrations.h"
#include "jobs/queue.h"
#include "jobs/worker.h"

static int queue_setup(void **state)
{
    if (fixture_setup(state) != 0)
        return -1;
    fixture *f = *state;
    sm_error err = {0};
    if (db_migrate(f->d, NULL, &err) != 0) {
        print_error("migrate: %s\n", err.message);
        return -1;
    }
    return jobs_register_test_tasks();
}

#define QTEST(fn) cmocka_unit_test_setup_teardown(fn, queue_setup, fixture_teardown)

static int64_t enqueue(db *d, const char *task, const char *args, const char *key, bool *existed)
{
    int64_t id = 0;
    OK(jobs_enqueue(d, &(jobs_new){.task = task, .args_json = args, .unique_key = key}, &id,
                    existed, &g_err));
    return id;
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

static void text_of(db *d, const char *sql, int64_t id, char *out, size_t cap)
{
    db_result *r = NULL;
    db_value p[] = {DB_I(id)};
    OK(db_query(d, sql, p, 1, &r, &g_err));
    snprintf(out, cap, "%s", db_result_text(r, 0, 0) ? db_result_text(r, 0, 0) : "");
    db_result_free(r);
}

static void enqueue_unique_key_returns_existing(void **state)
{
    fixture *f = *state;
    bool existed = true;
    int64_t a = enqueue(f->d, "noop", NULL, "order:1:confirmation", &existed);
    assert_false(existed);
    int64_t b = enqueue(f->d, "noop", "{\"x\":1}", "order:1:confirmation", &existed);
    assert_true(existed);
    assert_int_equal(a, b);
    /* Once finished, the key is free again. */
    OK(queue_cancel(f->d, a, &g_err));
    int64_t c = enqueue(f->d, "noop", NULL, "order:1:confirmation", &existed);
    assert_false(existed);
    assert_true(c != a);
}

static void enqueue_rejects_bad_input(void **state)
{
    fixture *f = *state;
    int64_t id;
    assert_int_equal(jobs_enqueue(f->d, &(jobs_new){.task = "nope"}, &id, NULL, NULL), SM_EINVAL);
    assert_int_equal(
        jobs_enqueue(f->d, &(jobs_new){.task = "noop", .args_json = "[1]"}, &id, NULL, NULL),
        SM_EINVAL);
    assert_int_equal(
        jobs_enqueue(f->d, &(jobs_new){.task = "noop", .args_json = "{"}, &id, NULL, NULL),
        SM_EINVAL);
    assert_int_equal(
        jobs_enqueue(f->d, &(jobs_new){.task = "noop", .queue = "Bad Queue"}, &id, NULL, NULL),
        SM_EINVAL);
}

static void enqueue_in_rolled_back_transaction_leaves_no_job(void **state)
{
    fixture *f = *state;
    OK(db_begin(f->d, true, &g_err));
    int64_t id = enqueue(f->d, "noop", NULL, NULL, NULL);
    OK(db_rollback(f->d));
    assert_int_equal(scalar(f->d, "SELECT COUNT(*) FROM jobs WHERE id = $1 OR $1 = 0", id), 0);
}

typedef struct claimer {
    const char *url;
    int counts[512];
    int claimed;
} claimer;

static void *claim_loop(void *arg)
{
    claimer *c = arg;
    db *d = NULL;
    sm_error err = {0};
    if (db_open(c->url, 10000, &d, &err) != 0)
        return NULL;
    for (int empty = 0; empty < 3;) {
        queue_job *jobs = NULL;
        int n = 0;
        if (queue_claim(d, "test", "t", 7, 60000, &jobs, &n, &err) != 0)
            break;
        empty = n ? 0 : empty + 1;
        for (int i = 0; i < n; i++)
            if (jobs[i].id > 0 && jobs[i].id < 512)
                c->counts[jobs[i].id]++;
        c->claimed += n;
        queue_jobs_free(jobs, n);
    }
    db_close(d);
    return NULL;
}

static void claim_is_exclusive_under_four_threads(void **state)
{
    fixture *f = *state;
    claimer c[4] = {0};
    pthread_t t[4];
    for (int i = 0; i < 400; i++)
        enqueue(f->d, "noop", NULL, NULL, NULL);
    for (int i = 0; i < 4; i++) {
        c[i].url = f->url;
        assert_int_equal(pthread_create(&t[i], NULL, claim_loop, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    int total = 0;
    for (int id = 1; id <= 400; id++) {
        int seen = c[0].counts[id] + c[1].counts[id] + c[2].counts[id] + c[3].counts[id];
        assert_int_equal(seen, 1);
        total += seen;
    }
    assert_int_equal(total, 400);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void expired_lease_is_redelivered_and_stale_completion_rejected(void **state)
{
    fixture *f = *state;
    queue_job *a = NULL, *b = NULL;
    int n = 0;
    int64_t id = enqueue(f->d, "noop", NULL, NULL, NULL), affected = -1;
    OK(queue_claim(f->d, "test", "w1", 10, 1, &a, &n, &g_err));
    assert_int_equal(n, 1);
    sleep_ms(5);
    OK(queue_reap(f->d, &affected, &g_err));
    assert_int_equal(affected, 1);
    OK(queue_claim(f->d, "test", "w2", 10, 60000, &b, &n, &g_err));
    assert_int_equal(n, 1);
    assert_int_equal(b[0].id, id);
    assert_int_equal(b[0].attempt, 2);
    assert_string_not_equal(a[0].token, b[0].token);
    /* The first worker comes back late: its outcome is refused. */
    queue_done late = {id, a[0].token, NULL};
    OK(queue_complete(f->d, &late, 1, &affected, &g_err));
    assert_int_equal(affected, 0);
    char st[16];
    OK(queue_fail(f->d, id, a[0].token, 1, "late", false, st, &g_err));
    assert_string_equal(st, "");
    queue_done ok = {id, b[0].token, "{\"r\":1}"};
    OK(queue_complete(f->d, &ok, 1, &affected, &g_err));
    assert_int_equal(affected, 1);
    text_of(f->d, "SELECT state FROM jobs WHERE id = $1", id, st, sizeof st);
    assert_string_equal(st, "succeeded");
    char res[64];
    text_of(f->d, "SELECT result FROM jobs WHERE id = $1", id, res, sizeof res);
    json_t *rv = json_loads(res, 0, NULL); /* PostgreSQL's jsonb re-spaces it */
    assert_int_equal(json_integer_value(json_object_get(rv, "r")), 1);
    json_decref(rv);
    queue_jobs_free(a, 1);
    queue_jobs_free(b, 1);
}

static int cmp_job_id(const void *x, const void *y)
{
    const queue_job *a = x, *b = y;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* The batch writes check every job's token on its own: one stale entry in
 * a batch is refused while the others are written, and the completions
 * share their statement (PostgreSQL) or transaction (SQLite) with the next
 * claim. Results that need quoting survive the batch's array encoding. */
static void batch_completion_rejects_stale_tokens_and_completes_the_rest(void **state)
{
    fixture *f = *state;
    queue_job *a = NULL, *b = NULL;
    int n = 0;
    int64_t id[4], completed = -1, affected = -1;
    char st[16], res[128];
    for (int i = 0; i < 4; i++)
        id[i] = enqueue(f->d, "noop", NULL, NULL, NULL);
    OK(queue_claim(f->d, "test", "w1", 4, 60000, &a, &n, &g_err));
    assert_int_equal(n, 4);
    qsort(a, 4, sizeof *a, cmp_job_id); /* RETURNING has no order */
    for (int i = 0; i < 4; i++)
        assert_int_equal(a[i].id, id[i]);
    int64_t later = enqueue(f->d, "noop", NULL, NULL, NULL);
    OK(queue_cancel(f->d, id[1], &g_err)); /* clears its token */
    const char *quoted = "{\"s\":\"a\\\"b\\\\c {x,y} NULL\"}";
    queue_done done[4] = {
        {a[0].id, a[0].token, quoted},
        {a[1].id, a[1].token, NULL},
        {a[2].id, "00000000000000000000000000000000", NULL}, /* a stale lease */
        {a[3].id, a[3].token, "[1,2]"},
    };
    OK(queue_complete_and_claim(f->d, done, 4, &completed, "test", "w1", 4, 60000, &b, &n, &g_err));
    assert_int_equal(completed, 2);
    assert_int_equal(n, 1);
    assert_int_equal(b[0].id, later);
    text_of(f->d, "SELECT state FROM jobs WHERE id = $1", id[0], st, sizeof st);
    assert_string_equal(st, "succeeded");
    text_of(f->d, "SELECT result FROM jobs WHERE id = $1", id[0], res, sizeof res);
    json_t *rv = json_loads(res, 0, NULL);
    assert_non_null(rv);
    assert_string_equal(json_string_value(json_object_get(rv, "s")), "a\"b\\c {x,y} NULL");
    json_decref(rv);
    text_of(f->d, "SELECT state FROM jobs WHERE id = $1", id[1], st, sizeof st);
    assert_string_equal(st, "cancelled");
    text_of(f->d, "SELECT state FROM jobs WHERE id = $1", id[2], st, sizeof st);
    assert_string_equal(st, "running");
    text_of(f->d, "SELECT state FROM jobs WHERE id = $1", id[3], st, sizeof st);
    assert_string_equal(st, "succeeded");
    assert_int_equal(
        scalar(f->d, "SELECT COUNT(*) FROM jobs WHERE id = $1 AND result IS NULL", id[3]), 0);
    /* The stale entry's job is still the holder's to complete. */
    OK(queue_complete(f->d, &(queue_done){a[2].id, a[2].token, NULL}, 1, &affected, &g_err));
    assert_int_equal(affected, 1);
    /* Releases are checked the same way. */
    queue_done rel[2] = {{b[0].id, a[0].token, NULL}, {b[0].id, b[0].token, NULL}};
    OK(queue_release(f->d, rel, 1, &affected, &g_err));
    assert_int_equal(affected, 0);
    OK(queue_release(f->d, rel + 1, 1, &affected, &g_err));
    assert_int_equal(affected, 1);
    text_of(f->d, "SELECT state FROM jobs WHERE id = $1", later, st, sizeof st);
    assert_string_equal(st, "available");
    assert_int_equal(scalar(f->d, "SELECT attempt FROM jobs WHERE id = $1", later), 0);
    /* Nothing to complete, nothing to claim: one empty round. */
    queue_jobs_free(b, 1);
    b = NULL;
    OK(queue_complete_and_claim(f->d, NULL, 0, &completed, "empty", "w1", 4, 60000, &b, &n,
                                &g_err));
    assert_int_equal(completed, 0);
    assert_int_equal(n, 0);
    assert_null(b);
    queue_jobs_free(a, 4);
}

/* Claims the job (making it due first), returns its token in tok. */
static void claim_one(db *d, int64_t id, int attempt, char *tok)
{
    queue_job *j = NULL;
    int n = 0;
    db_value p[] = {DB_I(id)};
    OK(db_exec(d, "UPDATE jobs SET run_at = 0 WHERE id = $1", p, 1, NULL, &g_err));
    OK(queue_claim(d, "test", "w", 1, 60000, &j, &n, &g_err));
    assert_int_equal(n, 1);
    assert_int_equal(j[0].id, id);
    assert_int_equal(j[0].attempt, attempt);
    memcpy(tok, j[0].token, QUEUE_TOKEN_LEN + 1);
    queue_jobs_free(j, n);
}

static void fails_twice_then_succeeds_with_history(void **state)
{
    fixture *f = *state;
    char tok[QUEUE_TOKEN_LEN + 1], st[16];
    int64_t id = enqueue(f->d, "fail_n_times", "{\"n\":2}", NULL, NULL), n = 0;
    for (int attempt = 1; attempt <= 2; attempt++) {
        claim_one(f->d, id, attempt, tok);
        OK(queue_fail(f->d, id, tok, attempt, "boom", false, st, &g_err));
        assert_string_equal(st, "retryable");
        /* Backed off into the future: not claimable now. */
        assert_true(scalar(f->d, "SELECT run_at FROM jobs WHERE id = $1", id) > clock_now_ms());
    }
    claim_one(f->d, id, 3, tok);
    OK(queue_complete(f->d, &(queue_done){id, tok, NULL}, 1, &n, &g_err));
    assert_int_equal(n, 1);
    json_t *job = NULL;
    OK(queue_get(f->d, id, &job, &g_err));
    assert_string_equal(json_string_value(json_object_get(job, "state")), "succeeded");
    json_t *errors = json_object_get(job, "errors");
    assert_int_equal(json_array_size(errors), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(errors, 1), "attempt")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "error")),
                        "boom");
    json_decref(job);
}

static void always_failing_job_is_discarded_then_retried_by_hand(void **state)
{
    fixture *f = *state;
    char tok[QUEUE_TOKEN_LEN + 1], st[16];
    int64_t id = enqueue(f->d, "always_fail", NULL, NULL, NULL);
    for (int attempt = 1; attempt <= 3; attempt++) {
        claim_one(f->d, id, attempt, tok);
        OK(queue_fail(f->d, id, tok, attempt, "nope", false, st, &g_err));
        assert_string_equal(st, attempt < 3 ? "retryable" : "discarded");
    }
    assert_int_equal(queue_cancel(f->d, id, &g_err), SM_ECONFLICT);
    OK(queue_retry(f->d, id, &g_err));
    text_of(f->d, "SELECT state FROM jobs WHERE id = $1", id, st, sizeof st);
    assert_string_equal(st, "available");
    assert_int_equal(scalar(f->d, "SELECT max_attempts FROM jobs WHERE id = $1", id), 4);
    claim_one(f->d, id, 4, tok);
    assert_int_equal(queue_retry(f->d, id, &g_err), SM_ECONFLICT); /* running */
    OK(queue_fail(f->d, id, tok, 4, "still", false, st, &g_err));
    assert_string_equal(st, "discarded");
    assert_int_equal(scalar(f->d,
                            "SELECT COUNT(*) FROM jobs WHERE id = $1 AND errors LIKE "
                            "'%still%'",
                            id),
                     1);
    assert_int_equal(queue_retry(f->d, 999999, &g_err), SM_ENOTFOUND);
}

static void backoff_grows_with_jitter(void **state)
{
    (void)state;
    for (int a = 1; a <= 6; a++) {
        double base = (double)(1 << a) * 1000.0;
        for (int k = 0; k < 50; k++) {
            int64_t b = queue_backoff_ms(a);
            assert_true(b >= (int64_t)(base * 0.75) - 1 && b <= (int64_t)(base * 1.25) + 1);
        }
    }
    assert_true(queue_backoff_ms(40) <= 3600 * 1000 * 5 / 4);
}

static void rate_limit_holds_per_window(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 30; i++)
        enqueue(f->d, "limited_noop", NULL, NULL, NULL);
    enqueue(f->d, "noop", NULL, NULL, NULL);
    uint64_t end = clock_mono_ns() + 2200000000u;
    int total = 0;
    while (clock_mono_ns() < end) {
        queue_job *j = NULL;
        int n = 0;
        OK(queue_claim(f->d, "test", "w", 100, 60000, &j, &n, &g_err));
        total += n;
        queue_jobs_free(j, n);
        sleep_ms(20);
    }
    /* Per one-second window at most 5 limited starts (+1 noop). */
    db_result *r = NULL;
    OK(db_query(f->d,
                "SELECT attempted_at / 1000, COUNT(*) FROM jobs WHERE task = 'limited_noop' AND "
                "state = 'running' GROUP BY attempted_at / 1000",
                NULL, 0, &r, &g_err));
    for (int i = 0; i < db_result_rows(r); i++)
        assert_true(db_result_int(r, i, 1) <= 5);
    db_result_free(r);
    /* The guarantee is per window (above); a loaded machine may stretch the
     * loop over more windows, so only check that limited jobs did run. */
    if (total < 1 + 5)
        fail_msg("claimed %d", total);
}

static void admin_cancel_purge_stats_list(void **state)
{
    fixture *f = *state;
    int64_t a = enqueue(f->d, "noop", NULL, NULL, NULL), deleted = 0;
    enqueue(f->d, "noop", NULL, NULL, NULL);
    enqueue(f->d, "noop", NULL, NULL, NULL);
    OK(queue_cancel(f->d, a, &g_err));
    assert_int_equal(queue_cancel(f->d, a, &g_err), SM_ECONFLICT);
    json_t *stats = NULL, *list = NULL;
    OK(queue_stats(f->d, &stats, &g_err));
    assert_true(json_array_size(stats) >= 5);
    size_t i;
    json_t *q;
    bool seen = false;
    json_array_foreach(stats, i, q)
    {
        if (strcmp(json_string_value(json_object_get(q, "queue")), "test") == 0) {
            assert_int_equal(json_integer_value(json_object_get(q, "available")), 2);
            assert_int_equal(json_integer_value(json_object_get(q, "cancelled")), 1);
            seen = true;
        }
    }
    assert_true(seen);
    json_decref(stats);
    OK(queue_list(f->d, "pending", "test", 1, 1, &list, &g_err));
    assert_int_equal(json_array_size(json_object_get(list, "items")), 1);
    assert_true(json_is_true(json_object_get(list, "has_more")));
    json_decref(list);
    assert_int_equal(queue_list(f->d, "bogus", NULL, 1, 10, &list, &g_err), SM_EINVAL);
    OK(queue_purge(f->d, "test", &deleted, &g_err));
    assert_int_equal(deleted, 2);
    assert_int_equal(queue_get(f->d, 424242, &list, &g_err), SM_ENOTFOUND);
}

int main(void)
{
    setenv("LOG_LEVEL", "ERROR", 1);
    const struct CMUnitTest tests[] = {
        QTEST(enqueue_unique_key_returns_existing),
        QTEST(enqueue_rejects_bad_input),
        QTEST(enqueue_in_rolled_back_transaction_leaves_no_job),
        QTEST(claim_is_exclusive_under_four_threads),
        QTEST(expired_lease_is_redelivered_and_stale_completion_rejected),
        QTEST(batch_completion_rejects_stale_tokens_and_completes_the_rest),
        QTEST(fails_twice_then_succeeds_with_history),
        QTEST(always_failing_job_is_discarded_then_retried_by_hand),
        QTEST(backoff_grows_with_jitter),
        QTEST(rate_limit_holds_per_window),
        QTEST(admin_cancel_purge_stats_list),
    };
    return fixture_run_both("jobs/queue", tests, sizeof tests / sizeof tests[0]);
}
