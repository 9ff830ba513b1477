/* sqlite_gate.c — an in-process queue for SQLite writers.
 *
 * SQLite admits one writer per database file. When several threads of one
 * process contend for that lock, SQLite's busy handler polls with sleeps of
 * 1, 2, 5, 10 … 100 ms, so a burst of orders turns into millisecond-scale
 * tail latency and wasted wake-ups. Threads of the same process therefore
 * first queue on a mutex per database file (the "gate"), and only the gate
 * holder asks SQLite for the write lock; the busy timeout is left to arbitrate
 * between processes, as it was designed to.
 *
 * Gates are keyed by the file's device and inode, so two paths to one file
 * share a gate. There are few databases per process: a fixed table of
 * SQLITE_GATE_MAX entries, created on first use and never freed. */
#include "db/sqlite_gate.h"

#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#define SQLITE_GATE_MAX 64

typedef struct gate {
    dev_t dev;
    ino_t ino;
    pthread_mutex_t mu;
} gate;

static gate g_gates[SQLITE_GATE_MAX];
static int g_gate_count;
static pthread_mutex_t g_table_mu = PTHREAD_MUTEX_INITIALIZER;

sqlite_gate *sqlite_gate_for(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return NULL;
    gate *found = NULL;
    pthread_mutex_lock(&g_table_mu);
    for (int i = 0; i < g_gate_count && !found; i++)
        if (g_gates[i].dev == st.st_dev && g_gates[i].ino == st.st_ino)
            found = &g_gates[i];
    if (!found && g_gate_count < SQLITE_GATE_MAX) {
        found = &g_gates[g_gate_count++];
        found->dev = st.st_dev;
        found->ino = st.st_ino;
        pthread_mutex_init(&found->mu, NULL);
    }
    pthread_mutex_unlock(&g_table_mu);
    return (sqlite_gate *)found;
}

int sqlite_gate_enter(sqlite_gate *g, int timeout_ms)
{
    if (!g)
        return 0;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    int rc = pthread_mutex_timedlock(&((gate *)g)->mu, &deadline);
    return rc == 0 ? 0 : rc == ETIMEDOUT ? SM_EBUSY : SM_EINTERNAL;
}

void sqlite_gate_leave(sqlite_gate *g)
{
    if (g)
        pthread_mutex_unlock(&((gate *)g)->mu);
}
