/* wake.c — waking fetchers the moment a job may be claimable.
 *
 * In-process: jobs_enqueue() calls queue_wake_notify(queue), which calls
 * every registered taker (a worker's queue groups) under a read lock; a
 * taker only signals its own condition variable, so this never blocks on
 * I/O and costs a few hundred nanoseconds when nobody listens.
 *
 * Across processes on PostgreSQL: jobs_enqueue() runs
 * pg_notify('sm_jobs', queue) in the enqueuing transaction; the server
 * delivers it at commit. A listener thread holds its own libpq connection
 * (LISTEN needs a session of its own, outside the db layer's pool), waits
 * in poll(2) on its socket and on a pipe that stop() writes to, and turns
 * each notification into queue_wake_notify(payload). If the connection
 * drops it reconnects every second; meanwhile the workers' 1-second polling
 * is the safety net, so a lost notification delays a job, never loses it.
 * SQLite across processes relies on that polling alone.
 *
 * Hand-off: a job enqueued outside a transaction while a local worker
 * group sits idle skips all of the above; see queue_taker in queue.h. */
#include "jobs/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "core/log.h"

#define WAKE_TAKERS_MAX 16

/* The takers. The read lock covers a wake-up, and a hand-off from reserve
 * to deliver/cancel, across the enqueuer's INSERT: queue_taker_remove()
 * takes the write lock, so a stopping worker waits for hand-offs in flight
 * and never frees a slot an enqueuer still holds. Readers never wait for
 * each other. */
static const queue_taker *g_takers[WAKE_TAKERS_MAX];
static int g_ntakers;
static pthread_rwlock_t g_takers_lock = PTHREAD_RWLOCK_INITIALIZER;

int queue_taker_add(const queue_taker *t)
{
    int rc = SM_ETOOLARGE;
    pthread_rwlock_wrlock(&g_takers_lock);
    if (g_ntakers < WAKE_TAKERS_MAX) {
        g_takers[g_ntakers++] = t;
        rc = 0;
    }
    pthread_rwlock_unlock(&g_takers_lock);
    return rc;
}

void queue_taker_remove(const queue_taker *t)
{
    pthread_rwlock_wrlock(&g_takers_lock);
    for (int i = 0; i < g_ntakers; i++) {
        if (g_takers[i] == t) {
            g_takers[i] = g_takers[--g_ntakers];
            break;
        }
    }
    pthread_rwlock_unlock(&g_takers_lock);
}

void queue_wake_notify(const char *queue)
{
    pthread_rwlock_rdlock(&g_takers_lock);
    for (int i = 0; i < g_ntakers; i++)
        g_takers[i]->wake(g_takers[i]->ctx, queue);
    pthread_rwlock_unlock(&g_takers_lock);
}

bool queue_handoff_begin(const char *queue, queue_handoff *h)
{
    memset(h, 0, sizeof *h);
    pthread_rwlock_rdlock(&g_takers_lock);
    for (int i = 0; i < g_ntakers; i++) {
        const queue_taker *t = g_takers[i];
        if ((h->slot = t->reserve(t->ctx, queue, &h->owner, &h->lease_ms))) {
            h->taker = t;
            return true; /* the lock is released by queue_handoff_end() */
        }
    }
    pthread_rwlock_unlock(&g_takers_lock);
    return false;
}

void queue_handoff_end(queue_handoff *h, queue_job *job)
{
    if (job)
        h->taker->deliver(h->taker->ctx, h->slot, job);
    else
        h->taker->cancel(h->taker->ctx, h->slot);
    h->taker = NULL;
    h->slot = NULL;
    pthread_rwlock_unlock(&g_takers_lock);
}

/* ---- the PostgreSQL listener ---- */

struct queue_listener {
    char *url;
    int stop_pipe[2]; /* stop() writes one byte to [1] */
    pthread_t thread;
};

/* Waits up to `ms` for the stop pipe; returns true when stopping. */
static bool listener_sleep(queue_listener *l, int ms)
{
    struct pollfd p = {.fd = l->stop_pipe[0], .events = POLLIN};
    return poll(&p, 1, ms) > 0;
}

static PGconn *listener_connect(queue_listener *l)
{
    PGconn *c = PQconnectdb(l->url);
    PGresult *res;
    if (PQstatus(c) != CONNECTION_OK) {
        log_warning("jobs: LISTEN connection failed: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    res = PQexec(c, "LISTEN " QUEUE_NOTIFY_CHANNEL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_warning("jobs: LISTEN failed: %s", PQerrorMessage(c));
        PQclear(res);
        PQfinish(c);
        return NULL;
    }
    PQclear(res);
    return c;
}

static void *listener_main(void *arg)
{
    queue_listener *l = arg;
    PGconn *c = NULL;
    for (;;) {
        if (!c && !(c = listener_connect(l))) {
            if (listener_sleep(l, 1000))
                break;
            continue;
        }
        struct pollfd p[2] = {{.fd = PQsocket(c), .events = POLLIN},
                              {.fd = l->stop_pipe[0], .events = POLLIN}};
        int n = poll(p, 2, 1000);
        if (n < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        if (n <= 0 || !p[0].revents)
            continue;
        if (!PQconsumeInput(c)) {
            log_warning("jobs: LISTEN connection lost: %s", PQerrorMessage(c));
            PQfinish(c);
            c = NULL;
            /* Whatever was notified meanwhile: let the fetchers look. */
            queue_wake_notify(NULL);
            continue;
        }
        PGnotify *note;
        while ((note = PQnotifies(c))) {
            queue_wake_notify(note->extra && *note->extra ? note->extra : NULL);
            PQfreemem(note);
        }
    }
    PQfinish(c);
    return NULL;
}

int queue_listener_start(const char *url, queue_listener **out, sm_error *err)
{
    queue_listener *l = calloc(1, sizeof *l);
    *out = NULL;
    if (!l || !(l->url = strdup(url))) {
        free(l);
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    }
    if (pipe2(l->stop_pipe, O_CLOEXEC) != 0) {
        free(l->url);
        free(l);
        return sm_error_set(err, SM_EIO, "pipe: %s", strerror(errno));
    }
    if (pthread_create(&l->thread, NULL, listener_main, l) != 0) {
        close(l->stop_pipe[0]);
        close(l->stop_pipe[1]);
        free(l->url);
        free(l);
        return sm_error_set(err, SM_ENOMEM, "cannot start the LISTEN thread");
    }
    *out = l;
    return 0;
}

void queue_listener_stop(queue_listener *l)
{
    if (!l)
        return;
    ssize_t w = write(l->stop_pipe[1], "x", 1);
    (void)w; /* a full pipe already says stop */
    pthread_join(l->thread, NULL);
    close(l->stop_pipe[0]);
    close(l->stop_pipe[1]);
    free(l->url);
    free(l);
}
