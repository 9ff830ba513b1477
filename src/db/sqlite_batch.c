/* sqlite_batch.c — group commit for SQLite: db_write_tx() on a file.
 *
 * A commit costs SQLite a handful of page writes to the WAL plus lock
 * traffic on the shared-memory index, all system calls; on a small VM that
 * is most of the price of placing an order. Consecutive orders touch the
 * same pages (the tail of the orders table and of each index), so committing
 * them together writes each page once per batch instead of once per order.
 *
 * One writer thread per database file, started on first use, owns its own
 * connection and a FIFO of units. Callers (blocking-pool threads) enqueue a
 * unit and wait. The writer takes everything queued (at most
 * SQLITE_BATCH_MAX), opens one write transaction, runs each unit inside its
 * own SAVEPOINT — a unit that fails is rolled back to its savepoint alone —
 * commits once, and only then wakes the callers: nothing is acknowledged
 * before it is durable. While a batch runs the next one accumulates, so the
 * batch size follows the load and an idle system pays no added latency.
 *
 * If a statement makes SQLite abandon the whole transaction (out of disk,
 * I/O error), the units already run in it are failed with the error and the
 * rest run in a fresh batch.
 *
 * Checkpoints are not the writer's: its connection, like every other,
 * hands them to the file's checkpointer thread (sqlite_ckpt.c), so a batch
 * never waits behind a copy of the log. */
#include "db/sqlite_batch.h"

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define SQLITE_BATCH_MAX 64
#define SQLITE_WRITERS_MAX 64

typedef struct batch_unit {
    db_tx_fn fn;
    void *arg;
    int rc;
    bool done;
    sm_error err;
    char correlation_id[72];
    struct batch_unit *next;
} batch_unit;

typedef struct sqlite_writer {
    const sqlite_gate *gate; /* identifies the file */
    char *path;
    int timeout_ms;
    db *conn; /* the writer thread's own connection */
    pthread_mutex_t mu;
    pthread_cond_t work; /* the writer waits for units */
    pthread_cond_t done; /* callers wait for their unit */
    batch_unit *head, *tail;
} sqlite_writer;

static sqlite_writer *g_writers[SQLITE_WRITERS_MAX];
static int g_writer_count;
static pthread_mutex_t g_writers_mu = PTHREAD_MUTEX_INITIALIZER;

static void unit_fail(batch_unit *u, int rc, const sm_error *e, const char *why)
{
    u->rc = rc;
    if (e && e->message[0])
        u->err = *e;
    else
        sm_error_fill(&u->err, rc, "%s", why);
}

/* Runs `list` in one transaction; returns the first unit not yet run when
 * the transaction was lost midway (to be run in a new batch), else NULL. */
static batch_unit *run_batch(sqlite_writer *w, batch_unit *list)
{
    sm_error e = {0};
    int rc = db_begin(w->conn, true, &e);
    if (rc < 0) {
        for (batch_unit *u = list; u; u = u->next)
            unit_fail(u, rc, &e, "cannot begin the write transaction");
        return NULL;
    }
    batch_unit *u;
    for (u = list; u; u = u->next) {
        log_set_correlation_id(u->correlation_id);
        sm_error_clear(&u->err);
        if ((rc = db_exec(w->conn, "SAVEPOINT unit", NULL, 0, NULL, &e)) < 0)
            break;
        u->rc = u->fn(w->conn, u->arg, &u->err);
        if (!db_in_transaction(w->conn)) {
            rc = u->rc < 0 ? u->rc : SM_EDB;
            e = u->err;
            u = u->next;
            break;
        }
        if (u->rc != 0) {
            w->conn->tx_failed = false; /* the savepoint undoes the failure */
            if ((rc = db_exec(w->conn, "ROLLBACK TO unit", NULL, 0, NULL, &e)) < 0)
                break;
        }
        if ((rc = db_exec(w->conn, "RELEASE unit", NULL, 0, NULL, &e)) < 0)
            break;
    }
    log_set_correlation_id(NULL);
    if (rc < 0) {
        /* The transaction is lost: fail what ran in it, rerun the rest. */
        db_rollback(w->conn);
        for (batch_unit *v = list; v != u; v = v->next)
            if (v->rc == 0)
                unit_fail(v, rc, &e, "the write transaction was aborted");
        return u;
    }
    if ((rc = db_commit(w->conn, &e)) < 0)
        for (batch_unit *v = list; v; v = v->next)
            if (v->rc == 0)
                unit_fail(v, rc, &e, "commit failed");
    return NULL;
}

static void *writer_main(void *arg)
{
    sqlite_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head)
            pthread_cond_wait(&w->work, &w->mu);
        batch_unit *list = w->head, *last = list;
        for (int n = 1; n < SQLITE_BATCH_MAX && last->next; n++)
            last = last->next;
        w->head = last->next;
        if (!w->head)
            w->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&w->mu);

        batch_unit *rest = list;
        while (rest)
            rest = run_batch(w, rest);

        pthread_mutex_lock(&w->mu);
        for (batch_unit *u = list, *next; u; u = next) {
            next = u->next; /* the caller may free u once done is seen */
            u->done = true;
        }
        pthread_cond_broadcast(&w->done);
    }
    return NULL;
}

static sqlite_writer *writer_start(const sqlite_gate *gate, const char *path, int timeout_ms)
{
    sqlite_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->gate = gate;
    w->timeout_ms = timeout_ms;
    w->path = strdup(path);
    if (!w->path || db_sqlite_open(path, timeout_ms, &w->conn, NULL) < 0)
        goto fail;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);

    /* The threads take no signals: SIGTERM and friends go to the main thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t tid;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&tid, &attr, writer_main, w);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        db_close(w->conn);
        goto fail;
    }
    return w;
fail:
    free(w->path);
    free(w);
    return NULL;
}

/* The writer of `gate`'s file, started on first use; NULL when it cannot be
 * started (callers then commit on their own connection). */
static sqlite_writer *writer_for(const sqlite_gate *gate, const char *path, int timeout_ms)
{
    sqlite_writer *w = NULL;
    pthread_mutex_lock(&g_writers_mu);
    for (int i = 0; i < g_writer_count && !w; i++)
        if (g_writers[i]->gate == gate)
            w = g_writers[i];
    if (!w && g_writer_count < SQLITE_WRITERS_MAX && (w = writer_start(gate, path, timeout_ms)))
        g_writers[g_writer_count++] = w;
    pthread_mutex_unlock(&g_writers_mu);
    return w;
}

int sqlite_batch_write_tx(const sqlite_gate *gate, const char *path, int timeout_ms, db *d,
                          db_tx_fn fn, void *arg, sm_error *err)
{
    sqlite_writer *w = gate ? writer_for(gate, path, timeout_ms) : NULL;
    if (!w)
        return db_write_tx_direct(d, fn, arg, 0, err);

    batch_unit u = {.fn = fn, .arg = arg};
    snprintf(u.correlation_id, sizeof u.correlation_id, "%s", log_correlation_id());
    pthread_mutex_lock(&w->mu);
    if (w->tail)
        w->tail->next = &u;
    else
        w->head = &u;
    w->tail = &u;
    pthread_cond_signal(&w->work);
    while (!u.done)
        pthread_cond_wait(&w->done, &w->mu);
    pthread_mutex_unlock(&w->mu);
    if (u.rc != 0 && err)
        *err = u.err;
    return u.rc;
}
