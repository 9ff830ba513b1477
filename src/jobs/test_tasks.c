/* test_tasks.c — tasks that exist only for tests and benchmarks, registered
 * when SMARTMARKET_TEST_TASKS=1 (never by default; see docs/JOBS.md). All
 * run on the queue "test":
 *   noop                 does nothing
 *   fail_n_times {n}     fails while its attempt number is ≤ n, then succeeds
 *   always_fail          always fails
 *   sleep_until_stopped  {ms}: waits ms (default: forever) or until asked
 *                        to stop, then returns SM_ETIMEOUT
 *   limited_noop         noop with a global rate limit of 5 starts/s */
#include <stdatomic.h>
#include <time.h>

#include "jobs/queue.h"
#include "jobs/worker.h"

static int task_noop(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err)
{
    (void)ctx, (void)d, (void)args, (void)result, (void)err;
    return 0;
}

static int task_fail_n_times(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err)
{
    json_int_t n = json_integer_value(json_object_get(args, "n"));
    (void)d;
    if (jobs_ctx_attempt(ctx) <= n)
        return sm_error_set(err, SM_EUNAVAILABLE, "planned failure %d of %lld",
                            jobs_ctx_attempt(ctx), (long long)n);
    *result = json_pack("{si}", "succeeded_on_attempt", jobs_ctx_attempt(ctx));
    return 0;
}

static int task_always_fail(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err)
{
    (void)d, (void)args, (void)result;
    return sm_error_set(err, SM_EIO, "always fails (attempt %d)", jobs_ctx_attempt(ctx));
}

static atomic_int g_sleep_started;

int jobs_test_sleep_started(void)
{
    return atomic_load(&g_sleep_started);
}

static int task_sleep(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err)
{
    atomic_fetch_add(&g_sleep_started, 1);
    json_t *ms = json_object_get(args, "ms");
    long long left = json_is_integer(ms) ? (long long)json_integer_value(ms) : -1;
    (void)d, (void)result;
    while (left != 0) {
        if (jobs_ctx_should_stop(ctx))
            return sm_error_set(err, SM_ETIMEOUT, "stopped");
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        if (left > 0)
            left = left > 10 ? left - 10 : 0;
    }
    return 0;
}

static const jobs_task g_test_tasks[] = {
    {.name = "noop", .queue = "test", .fn = task_noop},
    {.name = "fail_n_times", .queue = "test", .fn = task_fail_n_times},
    {.name = "always_fail", .queue = "test", .fn = task_always_fail},
    {.name = "sleep_until_stopped", .queue = "test", .fn = task_sleep},
    {.name = "limited_noop", .queue = "test", .fn = task_noop, .rate_limit_per_s = 5},
};

int jobs_register_test_tasks(void)
{
    for (size_t i = 0; i < sizeof g_test_tasks / sizeof g_test_tasks[0]; i++) {
        if (jobs_task_find(g_test_tasks[i].name))
            continue;
        int rc = jobs_task_register(&g_test_tasks[i]);
        if (rc)
            return rc;
    }
    return 0;
}
