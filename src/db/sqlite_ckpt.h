/* sqlite_ckpt.h — the checkpointer thread of each SQLite file (see
 * sqlite_ckpt.c). Private to src/db/. */
#ifndef SM_DB_SQLITE_CKPT_H
#define SM_DB_SQLITE_CKPT_H

#include <sqlite3.h>
#include <stdbool.h>

#include "db/sqlite_gate.h"

/* Hands `conn`'s checkpoints (it is open on `path`, whose gate is `gate`)
 * to the file's checkpointer, starting it on first use: auto-checkpoint off,
 * a WAL hook that wakes the checkpointer instead. Without a gate, or when
 * no checkpointer can be started, `conn` keeps SQLite's auto-checkpoint.
 * Thread-safe. */
void sqlite_ckpt_attach(sqlite3 *conn, sqlite_gate *gate, const char *path);

/* The checkpoints run and log restarts done so far by the checkpointer of
 * the file at `path`; false when it has none. For tests. */
bool sqlite_ckpt_stats(const char *path, long *rounds, long *restarts);

#endif
