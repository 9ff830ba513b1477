/* jobs_bench.c — the job queue's two numbers, in one process (built and
 * run by bench/jobs.sh against the build's objects):
 *
 *   throughput N C   enqueue N no-op jobs (transactions of 1000), start a
 *                    worker with C threads on queue "bench", time from the
 *                    first start to the last completion (from the job rows)
 *   latency N        with the worker idle, enqueue one job at a time and
 *                    measure enqueue-call → task-start in µs (monotonic
 *                    clock); prints p50/p90/p99/max. The task takes its
 *                    timestamp, then signals a condition variable the
 *                    enqueuer waits on (polling for it took CPU time from
 *                    the very path measured, on a 2-vCPU machine). Worker
 *                    and enqueuer share the process, as in `smartmarket
 *                    run`: an idle worker takes each job at insert.
 *   latency_remote N the same with the worker in a child process, as with
 *                    `smartmarket worker` beside the server: each job is
 *                    claimed after a wake-up (LISTEN/NOTIFY on PostgreSQL).
 *                    The task writes its timestamp to a pipe the enqueuer
 *                    reads (CLOCK_MONOTONIC is the same in both processes).
 *
 * DATABASE_URL selects the engine; the database must be migrated. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "jobs/queue.h"
#include "jobs/worker.h"

#define LAT_MAX 100000

static uint64_t g_started[LAT_MAX];
static long g_ran; /* bench_noop runs, atomically */

static int task_bench_noop(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err)
{
    (void)ctx, (void)d, (void)args, (void)result, (void)err;
    __atomic_add_fetch(&g_ran, 1, __ATOMIC_RELAXED);
    return 0;
}

/* latency_remote: the child worker's end of the marks pipe. */
typedef struct mark {
    int64_t i;
    uint64_t ns;
} mark;
static int g_marks_fd = -1;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;

static int task_bench_mark(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err)
{
    json_int_t i = json_integer_value(json_object_get(args, "i"));
    (void)ctx, (void)d, (void)result, (void)err;
    if (g_marks_fd >= 0) {
        mark m = {i, clock_mono_ns()};
        if (write(g_marks_fd, &m, sizeof m) != (ssize_t)sizeof m)
            return SM_EIO;
    } else if (i >= 0 && i < LAT_MAX) {
        __atomic_store_n(&g_started[i], clock_mono_ns(), __ATOMIC_RELEASE);
        pthread_mutex_lock(&g_mu);
        pthread_cond_signal(&g_cv);
        pthread_mutex_unlock(&g_mu);
    }
    return 0;
}

static const jobs_task g_noop = {.name = "bench_noop", .queue = "bench", .fn = task_bench_noop};
static const jobs_task g_mark = {.name = "bench_mark", .queue = "bench", .fn = task_bench_mark};

static int64_t scalar(db *d, const char *sql)
{
    db_result *r = NULL;
    sm_error err = {0};
    if (db_query(d, sql, NULL, 0, &r, &err) != 0) {
        fprintf(stderr, "%s: %s\n", sql, err.message);
        exit(1);
    }
    int64_t v = db_result_int(r, 0, 0);
    db_result_free(r);
    return v;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int throughput(db *d, int n, int conc)
{
    sm_error err = {0};
    char queues[32];
    worker *w = NULL;
    uint64_t t0 = clock_mono_ns();
    for (int i = 0; i < n; i += 1000) {
        if (db_begin(d, true, &err) != 0)
            goto fail;
        for (int k = i; k < i + 1000 && k < n; k++)
            if (jobs_enqueue(d, &(jobs_new){.task = "bench_noop"}, NULL, NULL, &err) != 0)
                goto fail;
        if (db_commit(d, &err) != 0)
            goto fail;
    }
    double enq_s = (double)(clock_mono_ns() - t0) / 1e9;
    snprintf(queues, sizeof queues, "bench=%d", conc);
    uint64_t t1 = clock_mono_ns();
    if (worker_start(&(worker_options){.queues = queues}, &w, &err) != 0)
        goto fail;
    /* Wait for the tasks in memory, then for their outcomes in the table.
     * Polling the table all along (a COUNT over the job states every 20 ms)
     * took a third of a core from the worker and the server. The measure
     * itself comes from the rows' timestamps, not from this loop. */
    while (__atomic_load_n(&g_ran, __ATOMIC_RELAXED) < n)
        sleep_us(5000);
    while (scalar(d, "SELECT COUNT(*) FROM jobs WHERE state IN ('scheduled', 'available', "
                     "'running', 'retryable')") > 0)
        sleep_us(5000);
    double wall_s = (double)(clock_mono_ns() - t1) / 1e9;
    worker_stop(w);
    int64_t span = scalar(d, "SELECT MAX(finished_at) - MIN(attempted_at) FROM jobs");
    printf("{\"bench\":\"throughput\",\"engine\":\"%s\",\"jobs\":%d,\"concurrency\":%d,"
           "\"enqueue_per_s\":%.0f,\"first_start_to_last_finish_ms\":%lld,\"jobs_per_s\":%.0f,"
           "\"wall_jobs_per_s\":%.0f}\n",
           db_get_kind(d) == DB_POSTGRES ? "postgres" : "sqlite", n, conc, n / enq_s,
           (long long)span, span > 0 ? n * 1000.0 / (double)span : 0.0, n / wall_s);
    return 0;
fail:
    fprintf(stderr, "throughput: %s\n", err.message);
    return 1;
}

/* Waits for job i's start: in this process on the condition variable, else
 * on the marks pipe from the child worker. Returns its timestamp, or 0. */
static uint64_t wait_started(int i, int marks_fd)
{
    if (marks_fd >= 0) {
        mark m = {-1, 0};
        while (m.i != i)
            if (read(marks_fd, &m, sizeof m) != (ssize_t)sizeof m)
                return 0;
        return m.ns;
    }
    pthread_mutex_lock(&g_mu);
    while (!__atomic_load_n(&g_started[i], __ATOMIC_ACQUIRE))
        pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
    return g_started[i];
}

/* marks_fd < 0: the worker runs in this process; else in a child that
 * writes a mark per start to marks_fd. */
static int latency(db *d, int n, int marks_fd)
{
    static uint64_t sent[LAT_MAX], lat[LAT_MAX], enq_ns[LAT_MAX];
    sm_error err = {0};
    worker *w = NULL;
    char args[32];
    if (n > LAT_MAX)
        n = LAT_MAX;
    if (marks_fd < 0 && worker_start(&(worker_options){.queues = "bench=4"}, &w, &err) != 0)
        goto fail;
    sleep_us(marks_fd < 0 ? 300000 : 1000000); /* a child also connects and LISTENs */
    for (int i = 0; i < n; i++) {
        snprintf(args, sizeof args, "{\"i\":%d}", i);
        sent[i] = clock_mono_ns();
        if (jobs_enqueue(d, &(jobs_new){.task = "bench_mark", .args_json = args}, NULL, NULL,
                         &err) != 0)
            goto fail;
        enq_ns[i] = clock_mono_ns() - sent[i];
        uint64_t started = wait_started(i, marks_fd);
        if (!started) {
            (void)sm_error_set(&err, SM_EIO, "the worker process went away");
            goto fail;
        }
        lat[i] = started - sent[i];
        sleep_us(2000); /* idle between jobs */
    }
    worker_stop(w);
    qsort(lat, (size_t)n, sizeof lat[0], cmp_u64);
    qsort(enq_ns, (size_t)n, sizeof enq_ns[0], cmp_u64);
    printf("{\"bench\":\"%s\",\"engine\":\"%s\",\"jobs\":%d,\"p50_us\":%.0f,\"p90_us\":%.0f,"
           "\"p99_us\":%.0f,\"max_us\":%.0f,\"enqueue_call_p50_us\":%.0f,\"enqueue_call_p99_us\":%."
           "0f}\n",
           marks_fd < 0 ? "latency" : "latency_remote",
           db_get_kind(d) == DB_POSTGRES ? "postgres" : "sqlite", n, lat[n / 2] / 1e3,
           lat[n * 9 / 10] / 1e3, lat[n * 99 / 100] / 1e3, lat[n - 1] / 1e3, enq_ns[n / 2] / 1e3,
           enq_ns[n * 99 / 100] / 1e3);
    return 0;
fail:
    fprintf(stderr, "latency: %s\n", err.message);
    return 1;
}

/* Forks the worker process before this one opens any connection or thread;
 * the child runs until the parent closes the stop pipe. */
static int latency_remote(int n)
{
    int marks[2], stop[2];
    sm_error err = {0};
    db *d = NULL;
    if (pipe(marks) != 0 || pipe(stop) != 0) {
        perror("pipe");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        worker *w = NULL;
        char byte;
        close(marks[0]);
        close(stop[1]);
        g_marks_fd = marks[1];
        if (worker_start(&(worker_options){.queues = "bench=4"}, &w, &err) != 0) {
            fprintf(stderr, "worker: %s\n", err.message);
            _exit(1);
        }
        while (read(stop[0], &byte, 1) > 0)
            ;
        worker_stop(w);
        _exit(0);
    }
    close(marks[1]);
    close(stop[0]);
    int rc = 1;
    if (db_thread(&d, &err) != 0)
        fprintf(stderr, "setup: %s\n", err.message);
    else
        rc = latency(d, n, marks[0]);
    close(stop[1]);
    waitpid(pid, NULL, 0);
    close(marks[0]);
    return rc;
}

int main(int argc, char **argv)
{
    static sm_config cfg;
    sm_error err = {0};
    db *d = NULL;
    if (argc < 3) {
        fprintf(stderr,
                "usage: jobs_bench throughput N CONCURRENCY | latency N | latency_remote N\n");
        return 2;
    }
    if (config_load(&cfg, &err) != 0 || log_init(cfg.log_level, "", &err) != 0) {
        fprintf(stderr, "config: %s\n", err.message);
        return 1;
    }
    if (jobs_task_register(&g_noop) != 0 || jobs_task_register(&g_mark) != 0) {
        fprintf(stderr, "setup: cannot register the tasks\n");
        return 1;
    }
    if (strcmp(argv[1], "latency_remote") == 0)
        return latency_remote(atoi(argv[2]));
    if (db_thread(&d, &err) != 0) {
        fprintf(stderr, "setup: %s\n", err.message);
        return 1;
    }
    if (strcmp(argv[1], "throughput") == 0 && argc == 4)
        return throughput(d, atoi(argv[2]), atoi(argv[3]));
    if (strcmp(argv[1], "latency") == 0)
        return latency(d, atoi(argv[2]), -1);
    fprintf(stderr, "usage: jobs_bench throughput N CONCURRENCY | latency N | latency_remote N\n");
    return 2;
}
