/* sqlite_batch.h — group commit of db_write_tx() units for one SQLite
 * file (see sqlite_batch.c). Private to src/db/. */
#ifndef SM_DB_SQLITE_BATCH_H
#define SM_DB_SQLITE_BATCH_H

#include "db/driver.h"
#include "db/sqlite_gate.h"

/* Runs `fn` through the group-committing writer of the file identified by
 * `gate` (opened at `path`), waiting until its batch is committed. With no
 * gate (":memory:") or no writer, runs it directly on `d`. Thread-safe. */
int sqlite_batch_write_tx(const sqlite_gate *gate, const char *path, int timeout_ms, db *d,
                          db_tx_fn fn, void *arg, sm_error *err);

#endif
