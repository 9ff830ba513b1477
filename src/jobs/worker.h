/* worker.h — the job runtime: fetchers, job threads, heartbeats, drain.
 *
 * A worker serves a set of queues, each with its own concurrency. Per queue
 * one fetcher thread claims up to its free slots in one statement, hands the
 * jobs to that queue's job threads, and writes their outcomes back in
 * batches; one heartbeat thread per worker extends the leases of its
 * running jobs, records the worker in job_workers and reaps the expired
 * leases of dead workers. See docs/JOBS.md.
 *
 * `smartmarket worker` calls worker_run(); `smartmarket run` embeds one
 * with worker_start()/worker_stop(). */
#ifndef SM_JOBS_WORKER_H
#define SM_JOBS_WORKER_H

#include <stdint.h>

#include "core/err.h"

#define WORKER_QUEUES_MAX 16
#define WORKER_CONCURRENCY_MAX 256
#define WORKER_DEFAULT_QUEUES "ml=1,emails=4,maintenance=1,reports=1"

typedef struct worker_options {
    /* "ml=1,emails=4" or "ml,emails" (those take `concurrency`);
     * NULL or "": WORKER_DEFAULT_QUEUES. */
    const char *queues;
    int concurrency;         /* for queues without "=N"; 0: 4 */
    int shutdown_timeout_ms; /* drain deadline; 0: SHUTDOWN_TIMEOUT_MS */
    int lease_ms;            /* 0: JOBS_LEASE_MS or 30000; heartbeats every third */
    int time_limit_ms;       /* default per attempt; 0: JOBS_TIME_LIMIT_MS or 300000 */
    int poll_ms;             /* safety-net polling; 0: JOBS_POLL_MS or 1000 */
} worker_options;

typedef struct worker_queue {
    char name[64];
    int concurrency;
} worker_queue;

/* Parses a queue list as described for worker_options.queues into
 * out[0..*n). Returns 0 or SM_EINVAL with the reason in err. */
int worker_parse_queues(const char *spec, int default_concurrency, worker_queue *out, int max,
                        int *n, sm_error *err);

typedef struct worker worker;

/* Starts a worker in this process (config_load() first; tasks registered).
 * Returns 0 and *out, or an error (bad options: SM_EINVAL). */
int worker_start(const worker_options *o, worker **out, sm_error *err);

/* Stops fetching, lets running jobs finish until the shutdown deadline,
 * then asks the rest to stop and releases them (available again, attempt
 * not counted), writes the outcomes, removes the heartbeat row and frees
 * the worker. A task thread that ignores jobs_ctx_should_stop() past the
 * deadline is left running detached (C cannot kill a thread); its late
 * outcome is rejected by the lease token. NULL is a no-op. */
void worker_stop(worker *w);

/* How many jobs this worker took at insert time (the in-process hand-off,
 * see queue_taker in jobs/queue.h) rather than by a claim. */
long worker_handoffs(const worker *w);

/* worker_start, then waits for SIGTERM or SIGINT, then worker_stop.
 * Returns 0 or the start error's code (message logged and in err). */
int worker_run(const worker_options *o, sm_error *err);

/* Registers the tasks every process that enqueues or runs jobs needs:
 * jobs_register_builtin_tasks(), plus the test-only tasks (noop,
 * fail_n_times, sleep_until_stopped, limited_noop) when the environment
 * has SMARTMARKET_TEST_TASKS=1. Idempotent. */
int worker_register_tasks(void);

/* The test-only task set (test_tasks.c); idempotent. */
int jobs_register_test_tasks(void);

/* How many times the test task sleep_until_stopped has started in this
 * process (tests wait on it: a claimed job is not yet a started one). */
int jobs_test_sleep_started(void);

#endif
