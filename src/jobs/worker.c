/* worker.c — the job runtime (see worker.h for the shape).
 *
 * Each queue group owns `concurrency` slots. A slot is FREE, RESERVED (an
 * enqueuer is inserting a job for it), READY (claimed, waiting for a job
 * thread), RUNNING, or DONE (outcome waiting to be written). The fetcher
 * is the only thread that claims jobs and writes outcomes for its group
 * (a hand-off, below, inserts a job straight into a reserved slot): it
 * claims exactly as many jobs as there are free slots, so nothing claimed
 * waits behind a busy thread, and a slot becomes free again only once its
 * outcome is written, which bounds everything in memory by the
 * concurrency. Between rounds it sleeps on the group's condition variable,
 * woken by a job thread finishing, by jobs_enqueue() in this process or a
 * PostgreSQL NOTIFY (wake.c), by the nearest deadline, or by the poll
 * interval.
 *
 * Hand-off: each group is a queue_taker (wake.c). While its last claim
 * found its queue drained and it has a free slot and no wake-up pending,
 * jobs_enqueue() outside a transaction reserves the slot, inserts the job
 * already running under this worker's lease and delivers it READY: no
 * fetcher wake-up and no claim round trip between the enqueue and the
 * start. Jobs that become due by time alone (scheduled, retries) are seen
 * at the next poll, so a hand-off may start ahead of them by up to one
 * poll interval.
 *
 * Deadlines: each attempt gets one at start (the task's time limit or the
 * worker's default). When it passes, the fetcher sets the attempt's stop
 * flag (jobs_ctx_should_stop() turns true) and records the attempt as
 * failed with a timeout at once, which clears its lease token; the thread
 * is not killed — C has no safe way to — so its slot stays occupied until
 * the task returns, and whatever it returns then is discarded. The same
 * happens, with "lease lost", if heartbeats have failed for most of a lease
 * (the database is unreachable): the attempt is stopped before its lease
 * can expire and another worker take it.
 *
 * Shutdown: fetching stops, READY jobs are released at once, RUNNING ones
 * get until the shutdown deadline, then are asked to stop and released
 * (available again, the attempt not counted). */
#include "jobs/worker.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>
#include <sodium.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/events.h"
#include "core/log.h"
#include "jobs/queue.h"

/* RESERVED: an enqueuer in this process is inserting a job for the slot
 * (the hand-off, see group_reserve). */
enum { SLOT_FREE, SLOT_RESERVED, SLOT_READY, SLOT_RUNNING, SLOT_DONE };

struct jobs_ctx {
    int64_t id;
    int attempt;
    atomic_bool stop;
};

typedef struct wgroup wgroup;

typedef struct wslot {
    int state;
    bool abandoned; /* stopped by a deadline or drain: outcome ignored */
    queue_job job;  /* args owned while not FREE */
    jobs_ctx ctx;
    uint64_t claimed_ns; /* when the lease was taken */
    uint64_t started_ns; /* when a job thread took it */
    uint64_t deadline_ns;
    int rc;                                  /* DONE: the task's return */
    char *result;                            /* DONE: result JSON text, owned */
    char message[SM_ERROR_MESSAGE_MAX + 32]; /* DONE: failure message */
} wslot;

/* A copy of what the fetcher writes, taken under the lock. */
typedef struct outcome {
    queue_job job; /* args not copied */
    int rc;
    bool stopped; /* the fetcher stopped it (time limit, lease): log its job.fail */
    uint64_t ran_ns;
    char *result;
    char message[SM_ERROR_MESSAGE_MAX + 32];
} outcome;

struct wgroup {
    worker *w;
    char queue[64];
    int concurrency;
    pthread_mutex_t mu;
    pthread_cond_t cv_fetch, cv_jobs;
    wslot *slots;
    int *ready, nready; /* FIFO of READY slot indices (ring) */
    int ready_head;
    int busy; /* slots not FREE */
    bool wake, exit;
    bool drained; /* the last claim got fewer jobs than it asked for */
    queue_taker taker;
    bool taker_added;
    pthread_t fetcher;
    pthread_t *threads;
    int nthreads;
    bool fetcher_started;
    outcome *out; /* fetcher scratch, concurrency entries */
};

struct worker {
    worker_options o;
    char id[128];
    char host[64];
    char queues_text[WORKER_QUEUES_MAX * 72];
    int64_t started_at;
    wgroup *groups[WORKER_QUEUES_MAX];
    int ngroups;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool stopping;
    uint64_t drain_deadline_ns;
    atomic_uint_fast64_t lease_ok_ns; /* start of the last successful lease extension */
    atomic_long handoffs;             /* jobs taken at insert (group_deliver) */
    bool hb_started;
    pthread_t hb;
    queue_listener *listener;
};

/* ---- the context tasks see ---- */

int64_t jobs_ctx_job_id(const jobs_ctx *ctx)
{
    return ctx ? ctx->id : 0;
}

int jobs_ctx_attempt(const jobs_ctx *ctx)
{
    return ctx ? ctx->attempt : 0;
}

bool jobs_ctx_should_stop(const jobs_ctx *ctx)
{
    return ctx && atomic_load_explicit(&ctx->stop, memory_order_relaxed);
}

void jobs_ctx_progress(jobs_ctx *ctx, int percent, const char *note)
{
    if (!ctx)
        return;
    percent = percent < 0 ? 0 : percent > 100 ? 100 : percent;
    json_t *data = json_pack("{sI si ss}", "job_id", (json_int_t)ctx->id, "percent", percent,
                             "note", note ? note : "");
    if (!data)
        return;
    events_publish("admin.notifications", "job.progress", data);
    log_emit(LOG_INFO, "job.progress", data); /* steals the reference */
}

/* ---- options ---- */

int worker_parse_queues(const char *spec, int default_concurrency, worker_queue *out, int max,
                        int *n, sm_error *err)
{
    char buf[1024], *save = NULL;
    *n = 0;
    if (!spec || !*spec)
        spec = WORKER_DEFAULT_QUEUES;
    if (default_concurrency <= 0)
        default_concurrency = 4;
    if (strlen(spec) >= sizeof buf)
        return sm_error_set(err, SM_EINVAL, "queue list too long");
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        long c = default_concurrency;
        if (eq) {
            char *end;
            *eq = '\0';
            c = strtol(eq + 1, &end, 10);
            if (!eq[1] || *end || c < 1 || c > WORKER_CONCURRENCY_MAX)
                return sm_error_set(err, SM_EINVAL, "concurrency of queue '%.63s' must be 1..%d",
                                    tok, WORKER_CONCURRENCY_MAX);
        }
        if (c > WORKER_CONCURRENCY_MAX)
            return sm_error_set(err, SM_EINVAL, "concurrency must be 1..%d",
                                WORKER_CONCURRENCY_MAX);
        if (!queue_name_valid(tok))
            return sm_error_set(err, SM_EINVAL, "invalid queue name '%.63s'", tok);
        for (int i = 0; i < *n; i++)
            if (strcmp(out[i].name, tok) == 0)
                return sm_error_set(err, SM_EINVAL, "queue '%s' listed twice", tok);
        if (*n >= max)
            return sm_error_set(err, SM_EINVAL, "at most %d queues", max);
        snprintf(out[*n].name, sizeof out[*n].name, "%s", tok);
        out[*n].concurrency = (int)c;
        (*n)++;
    }
    if (*n == 0)
        return sm_error_set(err, SM_EINVAL, "no queue given");
    return 0;
}

/* ---- job threads ---- */

/* Runs one attempt on the calling job thread; fills s->rc/result/message. */
/* Makes the job's correlation id (the enqueuing request's, or job-<id>) this
 * thread's log correlation id. */
static void log_as_job(const queue_job *j)
{
    char corr[QUEUE_CORRELATION_MAX + 1];
    if (j->correlation_id[0])
        snprintf(corr, sizeof corr, "%s", j->correlation_id);
    else
        snprintf(corr, sizeof corr, "job-%lld", (long long)j->id);
    log_set_correlation_id(corr);
}

static void log_job_fail(const queue_job *j, const char *queue, double ms, const char *error)
{
    log_emit(LOG_WARNING, "job.fail",
             json_pack("{sI ss ss si sf ss}", "job_id", (json_int_t)j->id, "task", j->task, "queue",
                       queue, "attempt", j->attempt, "duration_ms", ms, "error", error));
}

static void job_execute(wgroup *g, wslot *s)
{
    const jobs_task *t = jobs_task_find(s->job.task);
    json_t *args = NULL, *result = NULL;
    sm_error err = {0};
    db *d = NULL;
    uint64_t t0 = clock_mono_ns();

    log_as_job(&s->job);
    log_emit(LOG_INFO, "job.start",
             json_pack("{sI ss ss si si sI}", "job_id", (json_int_t)s->job.id, "task", s->job.task,
                       "queue", g->queue, "attempt", s->job.attempt, "max_attempts",
                       s->job.max_attempts, "queued_ms",
                       (json_int_t)(s->job.attempted_at - s->job.inserted_at)));
    if (!t) {
        s->rc = sm_error_set(&err, SM_EINVAL, "task '%s' is not registered in this worker",
                             s->job.task);
    } else if (!(args = json_loads(s->job.args, 0, NULL))) {
        s->rc = sm_error_set(&err, SM_EINVAL, "stored arguments are not valid JSON");
    } else if ((s->rc = db_thread(&d, &err)) == 0) {
        s->rc = t->fn(&s->ctx, d, args, &result, &err);
        if (s->rc > 0)
            s->rc = SM_EINTERNAL; /* a task must return 0 or a negative code */
    }
    double ms = (double)(clock_mono_ns() - t0) / 1e6;
    pthread_mutex_lock(&g->mu);
    bool abandoned = s->abandoned;
    pthread_mutex_unlock(&g->mu);
    if (abandoned) {
        /* The fetcher already recorded this attempt (and logged its
         * job.fail, or released it at shutdown): what the task returns now
         * is discarded. */
        log_emit(LOG_WARNING, "job.late_return",
                 json_pack("{sI ss ss si sf ss}", "job_id", (json_int_t)s->job.id, "task",
                           s->job.task, "queue", g->queue, "attempt", s->job.attempt, "duration_ms",
                           ms, "returned", s->rc == 0 ? "success" : sm_strerror(s->rc)));
    } else if (s->rc == 0) {
        if (result)
            s->result = json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY);
        log_emit(LOG_INFO, "job.finish",
                 json_pack("{sI ss ss si sf}", "job_id", (json_int_t)s->job.id, "task", s->job.task,
                           "queue", g->queue, "attempt", s->job.attempt, "duration_ms", ms));
    } else {
        snprintf(s->message, sizeof s->message, "%s: %s", sm_strerror(s->rc),
                 err.message[0] ? err.message : "failed");
        log_job_fail(&s->job, g->queue, ms, s->message);
    }
    json_decref(result);
    json_decref(args);
    log_set_correlation_id(NULL);
}

static void slot_clear(wslot *s)
{
    free(s->job.args);
    free(s->result);
    s->job.args = NULL;
    s->result = NULL;
    s->state = SLOT_FREE;
    s->abandoned = false;
}

static int time_limit_ms(const worker *w, const char *task)
{
    const jobs_task *t = jobs_task_find(task);
    return t && t->time_limit_ms > 0 ? t->time_limit_ms : w->o.time_limit_ms;
}

static void *job_thread_main(void *arg)
{
    wgroup *g = arg;
    db *d = NULL;
    sm_error err = {0};
    /* Connect before the first job rather than inside it (on PostgreSQL a
     * new session costs milliseconds); a failure here is retried, and
     * reported, by the first job. */
    (void)db_thread(&d, &err);
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (g->nready == 0 && !g->exit)
            pthread_cond_wait(&g->cv_jobs, &g->mu);
        if (g->nready == 0)
            break;
        int i = g->ready[g->ready_head];
        g->ready_head = (g->ready_head + 1) % g->concurrency;
        g->nready--;
        wslot *s = &g->slots[i];
        s->state = SLOT_RUNNING;
        s->started_ns = clock_mono_ns();
        s->deadline_ns = s->started_ns + (uint64_t)time_limit_ms(g->w, s->job.task) * 1000000u;
        pthread_mutex_unlock(&g->mu);

        job_execute(g, s);

        pthread_mutex_lock(&g->mu);
        if (s->abandoned) {
            slot_clear(s); /* the fetcher already recorded this attempt */
            g->busy--;
        } else {
            s->state = SLOT_DONE;
        }
        pthread_cond_signal(&g->cv_fetch);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* ---- the fetcher ---- */

static void publish_failure(const outcome *o, const char *state)
{
    json_t *data =
        json_pack("{sI ss ss si si ss ss}", "job_id", (json_int_t)o->job.id, "task", o->job.task,
                  "queue", o->job.queue, "attempt", o->job.attempt, "max_attempts",
                  o->job.max_attempts, "state", state, "error", o->message);
    if (!data)
        return;
    log_set_correlation_id(o->job.correlation_id);
    events_publish("admin.notifications",
                   strcmp(state, "discarded") == 0 ? "job.discarded" : "job.failed", data);
    log_set_correlation_id(NULL);
    json_decref(data);
}

/* Writes what the fetcher collected: successes in one batch, failures one
 * by one (each then published), releases in one batch. */
static void write_outcomes(wgroup *g, db *d, outcome *o, int n, int nrelease, bool successes)
{
    queue_done done[WORKER_CONCURRENCY_MAX];
    sm_error err = {0};
    int nd = 0;
    for (int i = 0; successes && i < n; i++) {
        if (o[i].rc == 0)
            done[nd++] = (queue_done){o[i].job.id, o[i].job.token, o[i].result};
    }
    if (nd && queue_complete(d, done, nd, NULL, &err) != 0)
        log_error("jobs: completing %d jobs of %s failed: %s", nd, g->queue, err.message);
    for (int i = 0; i < n; i++) {
        char state[16] = "";
        if (o[i].rc == 0)
            continue;
        if (o[i].stopped) { /* its thread is still in the task: the fail line is ours */
            log_as_job(&o[i].job);
            log_job_fail(&o[i].job, o[i].job.queue, (double)o[i].ran_ns / 1e6, o[i].message);
            log_set_correlation_id(NULL);
        }
        if (queue_fail(d, o[i].job.id, o[i].job.token, o[i].job.attempt, o[i].message, false, state,
                       &err) != 0) {
            log_error("jobs: recording the failure of job %lld failed: %s", (long long)o[i].job.id,
                      err.message);
        } else if (state[0]) {
            publish_failure(&o[i], state);
        }
    }
    nd = 0;
    for (int i = n; i < n + nrelease; i++)
        done[nd++] = (queue_done){o[i].job.id, o[i].job.token, NULL};
    if (nd && queue_release(d, done, nd, NULL, &err) != 0)
        log_error("jobs: releasing %d jobs of %s failed: %s", nd, g->queue, err.message);
    for (int i = 0; i < n + nrelease; i++) {
        free(o[i].result);
        o[i].result = NULL;
    }
}

static void outcome_take(outcome *o, const wslot *s, int rc, const char *message)
{
    o->job = s->job;
    o->job.args = NULL;
    o->rc = rc;
    o->stopped = false;
    o->result = NULL;
    snprintf(o->message, sizeof o->message, "%s", message);
}

/* Under the lock: moves DONE slots to g->out (freeing them) and stops
 * attempts past their deadline (recorded as timeouts); when draining,
 * appends releases for READY slots, and for RUNNING ones once the drain
 * deadline passed. Returns the number of outcomes before the releases;
 * *nrelease releases follow them. *next_ns is lowered to the nearest
 * deadline still ahead. Every slot adds at most one entry, so g->out
 * (concurrency entries) always has room. */
static int collect(wgroup *g, uint64_t now, bool stopping, int *nrelease, uint64_t *next_ns)
{
    worker *w = g->w;
    uint64_t lease_ns = (uint64_t)w->o.lease_ms * 1000000u;
    uint64_t hb = atomic_load(&w->lease_ok_ns);
    bool drain_over = stopping && now >= w->drain_deadline_ns;
    int n = 0, r = 0;

    for (int i = 0; i < g->concurrency; i++) {
        wslot *s = &g->slots[i];
        if (s->state == SLOT_DONE) {
            outcome_take(&g->out[n], s, s->rc, s->message);
            g->out[n++].result = s->result;
            s->result = NULL;
            slot_clear(s);
            g->busy--;
        } else if (s->state == SLOT_RUNNING && !s->abandoned) {
            /* Stop before the lease can expire, even if the time limit is longer. */
            uint64_t lease_from = s->claimed_ns > hb ? s->claimed_ns : hb;
            uint64_t guard = lease_from + lease_ns - lease_ns / 6;
            const char *why = now >= s->deadline_ns ? "time limit exceeded"
                              : now >= guard        ? "lease lost: heartbeats failed"
                                                    : NULL;
            if (why) {
                atomic_store(&s->ctx.stop, true);
                s->abandoned = true;
                outcome_take(&g->out[n], s, SM_ETIMEOUT, why);
                g->out[n].stopped = true;
                g->out[n++].ran_ns = now - s->started_ns;
            } else if (!drain_over) {
                if (s->deadline_ns < *next_ns)
                    *next_ns = s->deadline_ns;
                if (guard < *next_ns)
                    *next_ns = guard;
            }
        }
    }
    for (int i = 0; stopping && i < g->concurrency; i++) {
        wslot *s = &g->slots[i];
        if (s->state == SLOT_READY) {
            outcome_take(&g->out[n + r++], s, 0, "");
            slot_clear(s);
            g->busy--;
        } else if (s->state == SLOT_RUNNING && !s->abandoned && drain_over) {
            atomic_store(&s->ctx.stop, true);
            s->abandoned = true;
            outcome_take(&g->out[n + r++], s, 0, "");
        }
    }
    if (stopping)
        g->nready = 0;
    *nrelease = r;
    return n;
}

/* Gives slot `s` its leased job (args move) and queues it for a job
 * thread. Under g->mu. */
static void slot_ready(wgroup *g, wslot *s, queue_job *job, uint64_t now)
{
    s->job = *job;
    job->args = NULL; /* moved */
    atomic_store(&s->ctx.stop, false);
    s->ctx.id = s->job.id;
    s->ctx.attempt = s->job.attempt;
    s->claimed_ns = now;
    s->state = SLOT_READY;
    g->ready[(g->ready_head + g->nready) % g->concurrency] = (int)(s - g->slots);
    g->nready++;
}

/* Writes the successes among o[0..nout) and claims up to `free` jobs in
 * one transaction, and makes the claimed ones READY. Returns how many were
 * claimed, or -1 (then the successes were not written either). */
static int fetch(wgroup *g, db *d, int free_slots, const outcome *o, int nout)
{
    queue_done done[WORKER_CONCURRENCY_MAX];
    queue_job *jobs = NULL;
    sm_error err = {0};
    int n = 0, nd = 0;
    for (int i = 0; i < nout; i++)
        if (o[i].rc == 0)
            done[nd++] = (queue_done){o[i].job.id, o[i].job.token, o[i].result};
    if (queue_complete_and_claim(d, done, nd, NULL, g->queue, g->w->id, free_slots,
                                 g->w->o.lease_ms, &jobs, &n, &err) != 0) {
        log_error("jobs: claiming from %s failed: %s", g->queue, err.message);
        return -1;
    }
    uint64_t now = clock_mono_ns();
    pthread_mutex_lock(&g->mu);
    g->drained = n < free_slots;
    for (int k = 0, i = 0; k < n && i < g->concurrency; i++) {
        wslot *s = &g->slots[i];
        if (s->state != SLOT_FREE)
            continue;
        slot_ready(g, s, &jobs[k++], now);
        g->busy++;
    }
    if (n == 1)
        pthread_cond_signal(&g->cv_jobs);
    else if (n > 1)
        pthread_cond_broadcast(&g->cv_jobs);
    pthread_mutex_unlock(&g->mu);
    queue_jobs_free(jobs, n);
    return n;
}

static void group_wake(void *ctx, const char *queue)
{
    wgroup *g = ctx;
    if (queue && strcmp(queue, g->queue) != 0)
        return;
    pthread_mutex_lock(&g->mu);
    g->wake = true;
    pthread_cond_signal(&g->cv_fetch);
    pthread_mutex_unlock(&g->mu);
}

/* queue_taker: a free slot for a job enqueued in this process, when the
 * queue was empty at the last claim and nothing has woken the fetcher
 * since (else the claim goes first: it may have older or higher-priority
 * jobs to take). */
static void *group_reserve(void *ctx, const char *queue, const char **owner, int64_t *lease_ms)
{
    wgroup *g = ctx;
    wslot *found = NULL;
    if (strcmp(queue, g->queue) != 0)
        return NULL;
    pthread_mutex_lock(&g->mu);
    if (g->drained && !g->wake && g->nready == 0 && g->busy < g->concurrency &&
        !atomic_load(&g->w->stopping)) {
        for (int i = 0; i < g->concurrency && !found; i++)
            if (g->slots[i].state == SLOT_FREE)
                found = &g->slots[i];
        if (found) {
            found->state = SLOT_RESERVED;
            g->busy++;
        }
    }
    pthread_mutex_unlock(&g->mu);
    *owner = g->w->id;
    *lease_ms = g->w->o.lease_ms;
    return found;
}

static void group_deliver(void *ctx, void *slot, queue_job *job)
{
    wgroup *g = ctx;
    wslot *s = slot;
    pthread_mutex_lock(&g->mu);
    slot_ready(g, s, job, clock_mono_ns()); /* already counted busy by group_reserve */
    pthread_cond_signal(&g->cv_jobs);
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_add(&g->w->handoffs, 1);
}

static void group_cancel(void *ctx, void *slot)
{
    wgroup *g = ctx;
    wslot *s = slot;
    pthread_mutex_lock(&g->mu);
    s->state = SLOT_FREE;
    g->busy--;
    pthread_cond_signal(&g->cv_fetch);
    pthread_mutex_unlock(&g->mu);
}

/* Condition variables wait on the monotonic clock (timed_wait's deadlines). */
static void cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

static void timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t until_mono_ns)
{
    struct timespec ts;
    uint64_t now = clock_mono_ns();
    uint64_t delta = until_mono_ns > now ? until_mono_ns - now : 0;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(delta / 1000000000u);
    ts.tv_nsec += (long)(delta % 1000000000u);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &ts);
}

static void *fetcher_main(void *arg)
{
    wgroup *g = arg;
    worker *w = g->w;
    uint64_t poll_ns = (uint64_t)w->o.poll_ms * 1000000u, next_poll = 0;
    db *d = NULL;
    sm_error err = {0};

    pthread_mutex_lock(&g->mu);
    for (;;) {
        bool stopping = atomic_load(&w->stopping);
        uint64_t now = clock_mono_ns(), next = now + poll_ns;
        int nrel = 0, n = collect(g, now, stopping, &nrel, &next);
        int free_slots = g->concurrency - g->busy;
        bool idle = g->busy == 0;
        g->wake = false;
        pthread_mutex_unlock(&g->mu);

        if (!d && db_thread(&d, &err) != 0) {
            log_error("jobs: %s fetcher has no database: %s", g->queue, err.message);
            d = NULL;
        }
        int got = 0;
        bool claim = d && !stopping && free_slots > 0;
        if (claim) {
            /* The steady state: successes and the next claim in one commit. */
            got = fetch(g, d, free_slots, g->out, n);
            next_poll = clock_mono_ns() + poll_ns;
        }
        if (d && n + nrel > 0)
            write_outcomes(g, d, g->out, n, nrel, !claim || got < 0);
        if (stopping && (idle || now >= w->drain_deadline_ns) && n + nrel == 0)
            break;

        pthread_mutex_lock(&g->mu);
        /* A full claim may have left more due jobs: go round again at once
         * (as soon as a slot frees up). */
        if (got > 0 && got == free_slots && g->busy < g->concurrency)
            continue;
        if (got < 0 || !d) {
            g->drained = false;
            next = clock_mono_ns() + 1000000000u; /* database trouble: back off 1 s */
        } else if (next > next_poll && !stopping)
            next = next_poll;
        if (stopping && next > w->drain_deadline_ns)
            next = w->drain_deadline_ns;
        while (!g->wake && !g->exit && !(atomic_load(&w->stopping) && !stopping)) {
            bool any_done = false;
            for (int i = 0; i < g->concurrency && !any_done; i++)
                any_done = g->slots[i].state == SLOT_DONE;
            if (any_done || clock_mono_ns() >= next)
                break;
            timed_wait(&g->cv_fetch, &g->mu, next);
        }
    }
    return NULL;
}

/* ---- heartbeats ---- */

/* The running jobs of every group, for the workers table. Owned text. */
static char *running_json(worker *w)
{
    json_t *arr = json_array();
    char *text = NULL;
    for (int k = 0; arr && k < w->ngroups; k++) {
        wgroup *g = w->groups[k];
        pthread_mutex_lock(&g->mu);
        for (int i = 0; i < g->concurrency; i++) {
            const wslot *s = &g->slots[i];
            if (s->state != SLOT_RUNNING || s->abandoned)
                continue;
            json_array_append_new(arr, json_pack("{sI ss ss si}", "id", (json_int_t)s->job.id,
                                                 "task", s->job.task, "queue", g->queue, "attempt",
                                                 s->job.attempt));
        }
        pthread_mutex_unlock(&g->mu);
    }
    if (arr)
        text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return text;
}

static void heartbeat_once(worker *w, db *d)
{
    sm_error err = {0};
    uint64_t t0 = clock_mono_ns();
    char *running = NULL;
    if (queue_extend(d, w->id, w->o.lease_ms, NULL, &err) != 0) {
        log_error("jobs: extending leases failed: %s", err.message);
        db_thread_reset(); /* reconnect next time */
        return;
    }
    atomic_store(&w->lease_ok_ns, t0);
    running = running_json(w);
    if (queue_worker_beat(d, w->id, w->host, (int64_t)getpid(), w->queues_text, w->started_at,
                          running ? running : "[]", &err) != 0)
        log_error("jobs: worker heartbeat failed: %s", err.message);
    free(running);
    if (queue_reap(d, NULL, &err) != 0)
        log_error("jobs: reaping expired leases failed: %s", err.message);
}

static void *heartbeat_main(void *arg)
{
    worker *w = arg;
    uint64_t every = (uint64_t)w->o.lease_ms / 3 * 1000000u, next_beat = 0;
    sm_error err = {0};
    pthread_mutex_lock(&w->mu);
    while (!atomic_load(&w->stopping)) {
        db *d = NULL;
        bool beat = clock_mono_ns() >= next_beat;
        pthread_mutex_unlock(&w->mu);
        if (db_thread(&d, &err) != 0)
            log_error("jobs: heartbeat has no database: %s", err.message);
        else if (beat)
            heartbeat_once(w, d);
        if (beat)
            next_beat = clock_mono_ns() + every;
        pthread_mutex_lock(&w->mu);
        if (!atomic_load(&w->stopping))
            timed_wait(&w->cv, &w->mu, next_beat);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- start and stop ---- */

static void group_free(wgroup *g)
{
    if (!g)
        return;
    for (int i = 0; g->slots && i < g->concurrency; i++)
        slot_clear(&g->slots[i]);
    free(g->slots);
    free(g->ready);
    free(g->out);
    free(g->threads);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv_fetch);
    pthread_cond_destroy(&g->cv_jobs);
    free(g);
}

static int group_start(worker *w, const worker_queue *q, sm_error *err)
{
    wgroup *g = calloc(1, sizeof *g);
    if (!g)
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    g->w = w;
    memcpy(g->queue, q->name, sizeof g->queue); /* both 64 bytes, NUL-terminated */
    g->concurrency = q->concurrency;
    pthread_mutex_init(&g->mu, NULL);
    cond_init(&g->cv_fetch);
    cond_init(&g->cv_jobs);
    w->groups[w->ngroups++] = g;
    g->slots = calloc((size_t)g->concurrency, sizeof *g->slots);
    g->ready = calloc((size_t)g->concurrency, sizeof *g->ready);
    g->out = calloc((size_t)g->concurrency, sizeof *g->out);
    g->threads = calloc((size_t)g->concurrency, sizeof *g->threads);
    if (!g->slots || !g->ready || !g->out || !g->threads)
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    for (int i = 0; i < g->concurrency; i++) {
        if (pthread_create(&g->threads[i], NULL, job_thread_main, g) != 0)
            return sm_error_set(err, SM_ENOMEM, "cannot start a job thread");
        g->nthreads++;
    }
    g->taker = (queue_taker){.wake = group_wake,
                             .reserve = group_reserve,
                             .deliver = group_deliver,
                             .cancel = group_cancel,
                             .ctx = g};
    if (queue_taker_add(&g->taker) != 0)
        return sm_error_set(err, SM_ETOOLARGE, "too many queue groups in this process");
    g->taker_added = true; /* removed by worker_stop */
    if (pthread_create(&g->fetcher, NULL, fetcher_main, g) != 0)
        return sm_error_set(err, SM_ENOMEM, "cannot start a fetcher thread");
    g->fetcher_started = true;
    return 0;
}

/* Joins the group's threads; a job thread still stuck in a task at
 * `deadline` is detached. Returns false when any was left running (then
 * the group must not be freed). */
static bool group_join(wgroup *g, uint64_t deadline_ns)
{
    bool all = true;
    if (g->fetcher_started)
        pthread_join(g->fetcher, NULL);
    pthread_mutex_lock(&g->mu);
    g->exit = true;
    pthread_cond_broadcast(&g->cv_jobs);
    pthread_mutex_unlock(&g->mu);
    for (int i = 0; i < g->nthreads; i++) {
        struct timespec ts;
        uint64_t now = clock_mono_ns(), left = deadline_ns > now ? deadline_ns - now : 0;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(left / 1000000000u);
        ts.tv_nsec += (long)(left % 1000000000u);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_timedjoin_np(g->threads[i], NULL, &ts) != 0) {
            pthread_detach(g->threads[i]);
            all = false;
        }
    }
    return all;
}

static void worker_signal_all(worker *w)
{
    pthread_mutex_lock(&w->mu);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int k = 0; k < w->ngroups; k++) {
        pthread_mutex_lock(&w->groups[k]->mu);
        pthread_cond_broadcast(&w->groups[k]->cv_fetch);
        pthread_mutex_unlock(&w->groups[k]->mu);
    }
}

void worker_stop(worker *w)
{
    sm_error err = {0};
    bool all = true;
    db *d = NULL;
    if (!w)
        return;
    /* No more wake-ups or hand-offs; those in flight end before this
     * returns, and the drain below releases or finishes what they gave. */
    for (int k = 0; k < w->ngroups; k++)
        if (w->groups[k]->taker_added)
            queue_taker_remove(&w->groups[k]->taker);
    w->drain_deadline_ns = clock_mono_ns() + (uint64_t)w->o.shutdown_timeout_ms * 1000000u;
    atomic_store(&w->stopping, true);
    log_info("jobs: worker %s draining (up to %d ms)", w->id, w->o.shutdown_timeout_ms);
    worker_signal_all(w);
    if (w->hb_started)
        pthread_join(w->hb, NULL);
    queue_listener_stop(w->listener);
    /* Job threads stuck past the drain get one more second, then are left. */
    for (int k = 0; k < w->ngroups; k++)
        all = group_join(w->groups[k], w->drain_deadline_ns + 1000000000u) && all;
    if (db_thread(&d, &err) == 0 && queue_worker_remove(d, w->id, &err) != 0)
        log_warning("jobs: removing worker %s failed: %s", w->id, err.message);
    log_info("jobs: worker %s stopped", w->id);
    if (!all) {
        log_warning("jobs: some tasks ignored the stop request; their threads are left running");
        return; /* the detached threads still use the groups: leak them */
    }
    for (int k = 0; k < w->ngroups; k++)
        group_free(w->groups[k]);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

int worker_start(const worker_options *o, worker **out, sm_error *err)
{
    const sm_config *cfg = config_get();
    worker_queue qs[WORKER_QUEUES_MAX];
    unsigned char raw[4];
    char suffix[9];
    int nq = 0, rc;
    worker *w;

    *out = NULL;
    if (!cfg)
        return sm_error_set(err, SM_ECONFIG, "configuration not loaded");
    if ((rc = worker_parse_queues(o ? o->queues : NULL, o ? o->concurrency : 0, qs,
                                  WORKER_QUEUES_MAX, &nq, err)))
        return rc;
    if (!(w = calloc(1, sizeof *w)))
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    if (o)
        w->o = *o;
    w->o.queues = NULL; /* not kept: the caller's */
    if (w->o.shutdown_timeout_ms <= 0)
        w->o.shutdown_timeout_ms = cfg->shutdown_timeout_ms > 0 ? cfg->shutdown_timeout_ms : 10000;
    if (w->o.lease_ms <= 0)
        w->o.lease_ms = cfg->jobs_lease_ms;
    if (w->o.time_limit_ms <= 0)
        w->o.time_limit_ms = cfg->jobs_time_limit_ms;
    if (w->o.poll_ms <= 0)
        w->o.poll_ms = cfg->jobs_poll_ms;
    pthread_mutex_init(&w->mu, NULL);
    cond_init(&w->cv);
    if (gethostname(w->host, sizeof w->host - 1) != 0)
        snprintf(w->host, sizeof w->host, "unknown");
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(suffix, sizeof suffix, raw, sizeof raw);
    snprintf(w->id, sizeof w->id, "%.63s:%d:%s", w->host, (int)getpid(), suffix);
    w->started_at = clock_now_ms();
    atomic_store(&w->lease_ok_ns, clock_mono_ns());
    for (int i = 0; i < nq; i++) {
        size_t len = strlen(w->queues_text);
        if (snprintf(w->queues_text + len, sizeof w->queues_text - len, "%s%s=%d", i ? "," : "",
                     qs[i].name, qs[i].concurrency) < 0)
            break;
    }
    if (cfg->db_kind == CONFIG_DB_POSTGRES &&
        (rc = queue_listener_start(cfg->database_url, &w->listener, err)))
        goto fail;
    for (int i = 0; i < nq; i++)
        if ((rc = group_start(w, &qs[i], err)))
            goto fail;
    if (pthread_create(&w->hb, NULL, heartbeat_main, w) != 0) {
        rc = sm_error_set(err, SM_ENOMEM, "cannot start the heartbeat thread");
        goto fail;
    }
    w->hb_started = true;
    log_emit(LOG_INFO, "jobs: worker started",
             json_pack("{ss ss si si si}", "worker_id", w->id, "queues", w->queues_text, "lease_ms",
                       w->o.lease_ms, "time_limit_ms", w->o.time_limit_ms, "shutdown_timeout_ms",
                       w->o.shutdown_timeout_ms));
    *out = w;
    return 0;
fail:
    w->o.shutdown_timeout_ms = 0;
    worker_stop(w);
    return rc;
}

int worker_run(const worker_options *o, sm_error *err)
{
    sigset_t set, old;
    worker *w = NULL;
    int sig = 0, rc;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* Blocked before any thread starts, so every thread inherits the mask
     * and only sigwait() below receives them. */
    pthread_sigmask(SIG_BLOCK, &set, &old);
    if ((rc = worker_start(o, &w, err))) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
    }
    sigwait(&set, &sig);
    log_info("jobs: %s received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    worker_stop(w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return 0;
}

long worker_handoffs(const worker *w)
{
    return atomic_load(&w->handoffs);
}

int worker_register_tasks(void)
{
    int rc = jobs_register_builtin_tasks();
    const char *t = getenv("SMARTMARKET_TEST_TASKS");
    if (rc == 0 && t && strcmp(t, "1") == 0)
        rc = jobs_register_test_tasks();
    return rc;
}
