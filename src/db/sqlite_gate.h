/* sqlite_gate.h — per-file writer queue for threads of one process (see
 * sqlite_gate.c for why). Private to src/db/. */
#ifndef SM_DB_SQLITE_GATE_H
#define SM_DB_SQLITE_GATE_H

#include "core/err.h"

typedef struct sqlite_gate sqlite_gate;

/* The gate of the database file at `path` (which must exist), or NULL when
 * it cannot be identified or the table is full (writers then rely on
 * SQLite's busy timeout alone). Never freed. Thread-safe. */
sqlite_gate *sqlite_gate_for(const char *path);

/* Waits up to timeout_ms to enter the gate: 0, or SM_EBUSY on timeout.
 * A NULL gate is entered at once. Must be left by the same thread. */
int sqlite_gate_enter(sqlite_gate *g, int timeout_ms);

/* Leaves the gate entered by this thread. NULL is a no-op. */
void sqlite_gate_leave(sqlite_gate *g);

#endif
