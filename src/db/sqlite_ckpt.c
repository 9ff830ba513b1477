/* sqlite_ckpt.c — one checkpointer thread per SQLite file.
 *
 * WAL mode appends every commit to the log; a checkpoint copies the log back
 * into the database file (two fsyncs) so the log can restart from its
 * beginning. SQLite's default runs that copy inside whichever commit
 * crosses 1,000 log pages, on the committing thread: that one request, or
 * that one job's enqueue, pays milliseconds. And once a checkpoint falls
 * behind a busy writer (it copies only up to where the log was when it
 * began), every later commit on every connection checkpoints again, since
 * the log stays past the threshold until it restarts.
 *
 * So no connection of ours checkpoints on its own (auto-checkpoint off).
 * Each file has a checkpointer thread with a connection of its own; every
 * connection's WAL hook (run after its commit, with the log's size) wakes it
 * once per CKPT_PAGES new log pages, which costs the committing thread an
 * atomic load and, rarely, a condition signal. The thread runs PASSIVE
 * checkpoints, which never block readers or writers:
 *
 *   - a checkpoint that copied the whole log is followed by a one-page
 *     write transaction of the checkpointer's own, which restarts the log.
 *     The first commit after a restart rewrites the log header and fsyncs
 *     it; done here, that is off every caller's path.
 *   - one that could not (commits arrived while it copied, a reader still
 *     needed old pages or kept the log from restarting) is retried after 1,
 *     2, 4 … 256 ms, each retry copying only what was added, until one
 *     completes between commits.
 *   - past CKPT_HOLD_PAGES (~64 MB of log: writers that never pause), a
 *     commit's hook waits, before returning to its caller, until the
 *     checkpointer has finished a round that began after that commit: this
 *     process's writers stop appending while it copies, so the copy
 *     completes, the log restarts, and the log file stays bounded. Holding
 *     them at the file's gate instead does not work (a writer in a loop
 *     takes the mutex back before a waiting checkpointer wakes up); holding
 *     them from 2,000 pages on cost the order endpoint a fifth of its rate
 *     (readers pin old pages under that load, so rounds rarely complete).
 *
 * Checkpointers live as long as the process, like the file's gate; when one
 * cannot be started, connections keep SQLite's own auto-checkpoint. */
#include "db/sqlite_ckpt.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

#define CKPT_PAGES 1000
#define CKPT_HOLD_PAGES (16 * CKPT_PAGES)
#define CKPT_HOLD_MAX_MS 1000
#define CKPT_RETRY_MAX_MS 256
#define CKPT_MAX 64

typedef struct ckpt {
    sqlite_gate *gate; /* identifies the file; entered to restart the log */
    char *path;
    sqlite3 *conn; /* the thread's own connection */
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the thread waits for work */
    pthread_cond_t cv_done; /* held writers wait for a round */
    bool wanted;            /* under mu: a hook saw the log cross `trigger` */
    long round_seq;         /* under mu: rounds finished */
    bool running;           /* under mu: a round is under way */
    atomic_int trigger;     /* log pages at which a commit wakes the thread */
    int own_pages;          /* the log's size after the thread's own last commit */
    atomic_long rounds;     /* checkpoints run (tests, diagnostics) */
    atomic_long restarts;
} ckpt;

static ckpt *g_ckpts[CKPT_MAX];
static int g_ckpt_count;
static pthread_mutex_t g_ckpts_mu = PTHREAD_MUTEX_INITIALIZER;

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_nsec += (long)ms * 1000000L;
    ts->tv_sec += ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}

/* After each commit on one of our connections, with the log's size. */
static int wal_hook(void *arg, sqlite3 *conn, const char *name, int pages)
{
    ckpt *c = arg;
    (void)conn;
    (void)name;
    bool hold = pages >= CKPT_HOLD_PAGES;
    if (!hold && pages < atomic_load_explicit(&c->trigger, memory_order_relaxed))
        return SQLITE_OK;
    atomic_store_explicit(&c->trigger, INT_MAX, memory_order_relaxed); /* one wake-up */
    pthread_mutex_lock(&c->mu);
    c->wanted = true;
    pthread_cond_signal(&c->cv);
    if (hold) {
        /* A round already under way copies only what preceded it: wait for
         * the one after it, which sees this commit. */
        struct timespec until;
        long seq = c->round_seq + (c->running ? 2 : 1);
        deadline_in(&until, CKPT_HOLD_MAX_MS);
        while (c->round_seq < seq &&
               pthread_cond_timedwait(&c->cv_done, &c->mu, &until) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&c->mu);
    return SQLITE_OK;
}

/* The checkpointer connection's own WAL hook: no checkpoint, just the size. */
static int own_hook(void *arg, sqlite3 *conn, const char *name, int pages)
{
    (void)conn;
    (void)name;
    ((ckpt *)arg)->own_pages = pages;
    return SQLITE_OK;
}

/* Rewrites page 1 unchanged (its user_version field) in a transaction of
 * its own: after a complete checkpoint of a `log_pages` log, that commit
 * restarts the log, unless a reader still holds a place in it; true when
 * it did (the log is shorter after it). The caller holds the file's gate. */
static bool restart_log(ckpt *c, int log_pages)
{
    sqlite3_stmt *st = NULL;
    char sql[64];
    if (sqlite3_exec(c->conn, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return false; /* another process is writing */
    int version = 0, rc = sqlite3_prepare_v2(c->conn, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version);
    c->own_pages = log_pages;
    if (rc != SQLITE_ROW || sqlite3_exec(c->conn, sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(c->conn, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(c->conn, "ROLLBACK", NULL, NULL, NULL);
        return false;
    }
    if (c->own_pages >= log_pages)
        return false; /* appended, not restarted: a reader was in the log */
    atomic_fetch_add(&c->restarts, 1);
    return true;
}

/* One PASSIVE checkpoint; true when it copied the whole log. */
static bool checkpoint(ckpt *c, int *log_pages)
{
    int done = 0;
    int rc = sqlite3_wal_checkpoint_v2(c->conn, NULL, SQLITE_CHECKPOINT_PASSIVE, log_pages, &done);
    atomic_fetch_add(&c->rounds, 1);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        log_warning("sqlite: checkpoint of %s failed: %s", c->path, sqlite3_errmsg(c->conn));
    return rc == SQLITE_OK && *log_pages > 0 && done >= *log_pages;
}

/* A checkpoint and, when it copied everything, a log restart; true when
 * both were done. When a writer holds the file, its next commit restarts
 * the log if nothing was appended meanwhile; the round is retried anyway,
 * as it is when a reader kept the log from restarting. */
static bool checkpoint_round(ckpt *c, int *log_pages)
{
    if (!checkpoint(c, log_pages) || sqlite_gate_enter(c->gate, 0) != 0)
        return false;
    bool restarted = restart_log(c, *log_pages);
    sqlite_gate_leave(c->gate);
    return restarted;
}

static void *ckpt_main(void *arg)
{
    ckpt *c = arg;
    int retry_ms = 0;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        if (retry_ms > 0 && !c->wanted) {
            struct timespec until;
            deadline_in(&until, retry_ms);
            pthread_cond_timedwait(&c->cv, &c->mu, &until);
        }
        while (retry_ms == 0 && !c->wanted)
            pthread_cond_wait(&c->cv, &c->mu);
        c->wanted = false;
        c->running = true;
        pthread_mutex_unlock(&c->mu);

        int log_pages = 0;
        if (checkpoint_round(c, &log_pages)) {
            retry_ms = 0;
            atomic_store(&c->trigger, CKPT_PAGES);
        } else {
            retry_ms = retry_ms == 0 ? 1 : retry_ms < CKPT_RETRY_MAX_MS ? 2 * retry_ms : retry_ms;
            atomic_store(&c->trigger, log_pages + CKPT_PAGES);
        }
        if (log_pages == 0)
            retry_ms = 0; /* nothing in the log: wait for commits */
        pthread_mutex_lock(&c->mu);
        c->running = false;
        c->round_seq++;
        pthread_cond_broadcast(&c->cv_done);
    }
    return NULL;
}

static ckpt *ckpt_start(sqlite_gate *gate, const char *path)
{
    ckpt *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path)))
        goto fail;
    c->gate = gate;
    if (sqlite3_open_v2(path, &c->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(c->conn, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     NULL) != SQLITE_OK)
        goto fail;
    sqlite3_wal_hook(c->conn, own_hook, c); /* also turns auto-checkpoint off */
    atomic_init(&c->trigger, CKPT_PAGES);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    pthread_cond_init(&c->cv_done, NULL);

    /* The thread takes no signals: SIGTERM and friends go to the main thread. */
    sigset_t all, old;
    pthread_t tid;
    pthread_attr_t attr;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&tid, &attr, ckpt_main, c);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        return c;
    pthread_cond_destroy(&c->cv_done);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
fail:
    if (c) {
        sqlite3_close_v2(c->conn);
        free(c->path);
        free(c);
    }
    return NULL;
}

/* The checkpointer of `gate`'s file, started on first use, or NULL. */
static ckpt *ckpt_for(sqlite_gate *gate, const char *path)
{
    ckpt *c = NULL;
    pthread_mutex_lock(&g_ckpts_mu);
    for (int i = 0; i < g_ckpt_count && !c; i++)
        if (g_ckpts[i]->gate == gate)
            c = g_ckpts[i];
    if (!c && g_ckpt_count < CKPT_MAX && (c = ckpt_start(gate, path)))
        g_ckpts[g_ckpt_count++] = c;
    pthread_mutex_unlock(&g_ckpts_mu);
    return c;
}

void sqlite_ckpt_attach(sqlite3 *conn, sqlite_gate *gate, const char *path)
{
    ckpt *c = gate ? ckpt_for(gate, path) : NULL;
    if (!c)
        return; /* SQLite's auto-checkpoint stays on */
    sqlite3_wal_hook(conn, wal_hook, c);
}

bool sqlite_ckpt_stats(const char *path, long *rounds, long *restarts)
{
    sqlite_gate *gate = sqlite_gate_for(path);
    bool found = false;
    pthread_mutex_lock(&g_ckpts_mu);
    for (int i = 0; i < g_ckpt_count && !found; i++) {
        if (g_ckpts[i]->gate != gate)
            continue;
        *rounds = atomic_load(&g_ckpts[i]->rounds);
        *restarts = atomic_load(&g_ckpts[i]->restarts);
        found = true;
    }
    pthread_mutex_unlock(&g_ckpts_mu);
    return found;
}
