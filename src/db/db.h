/* db.h — the one database interface, with two drivers (sqlite.c, postgres.c).
 *
 * SQL is written once for both engines in the common dialect: placeholders
 * are $1, $2, … (SQLite binds them by name, PostgreSQL natively), integers
 * are BIGINT, booleans are INTEGER 0/1, times are BIGINT milliseconds since
 * the epoch, `RETURNING` and `ON CONFLICT` are available on both. Where the
 * dialects must differ (DDL), migrations come in two files per version.
 *
 * A `db` is one connection. It is not thread-safe: each thread that needs
 * the database uses its own (db_thread() gives the calling thread's,
 * opened lazily from the configuration, so blocking-pool threads each keep
 * one). Drivers cache prepared statements per connection, keyed by the SQL
 * text, so callers simply pass the same SQL again.
 *
 * Results are fully materialised (db_result) and owned by the caller. */
#ifndef SM_DB_DB_H
#define SM_DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct db db;
typedef struct db_result db_result;

typedef enum db_kind { DB_SQLITE, DB_POSTGRES } db_kind;

typedef enum db_type { DB_NULL, DB_INT, DB_TEXT, DB_REAL } db_type;

/* One bound parameter. Text is borrowed for the duration of the call. */
typedef struct db_value {
    db_type type;
    int64_t i;
    double d;
    const char *s; /* DB_TEXT: NUL-terminated */
} db_value;

#define DB_NULLV ((db_value){.type = DB_NULL})
#define DB_I(x) ((db_value){.type = DB_INT, .i = (int64_t)(x)})
/* Text, or NULL when `s` is NULL (a function so char arrays pass too). */
static inline db_value db_text(const char *s)
{
    return (db_value){.type = s ? DB_TEXT : DB_NULL, .s = s};
}
#define DB_T(x) db_text(x)
#define DB_R(x) ((db_value){.type = DB_REAL, .d = (double)(x)})

/* Opens a connection for `url` ("sqlite:///path" or "postgres://…").
 * SQLite: WAL, busy timeout = timeout_ms, foreign keys on, synchronous=NORMAL.
 * PostgreSQL: connect timeout and statement_timeout from timeout_ms.
 * Returns 0 and *out (free with db_close), or SM_EDB/SM_EUNAVAILABLE. */
int db_open(const char *url, int timeout_ms, db **out, sm_error *err);

/* Closes the connection; NULL is a no-op. */
void db_close(db *d);

/* The calling thread's connection, opened on first use from config_get()
 * and closed at thread exit. Returns 0 and *out (borrowed), or an error. */
int db_thread(db **out, sm_error *err);

/* Closes the calling thread's connection, if open (so the next db_thread()
 * reconnects, e.g. after a PostgreSQL restart). */
void db_thread_reset(void);

db_kind db_get_kind(const db *d);

/* Runs a statement that returns no rows. *affected (may be NULL) gets the
 * number of rows changed. Unique/foreign-key violations return SM_ECONFLICT,
 * other failures SM_EDB, with the engine's message in err. */
int db_exec(db *d, const char *sql, const db_value *params, int nparams, int64_t *affected,
            sm_error *err);

/* Runs a statement returning rows (SELECT or … RETURNING). *out is owned by
 * the caller (db_result_free). Errors as db_exec. */
int db_query(db *d, const char *sql, const db_value *params, int nparams, db_result **out,
             sm_error *err);

/* Runs several ';'-separated statements without parameters (migrations). */
int db_exec_script(db *d, const char *sql, sm_error *err);

/* Transactions. db_begin(d, true) takes the write lock at once (SQLite
 * BEGIN IMMEDIATE, so two writers never deadlock on lock upgrade);
 * db_begin(d, false) is a read transaction. Nesting is an error. */
int db_begin(db *d, bool write, sm_error *err);
int db_commit(db *d, sm_error *err);
int db_rollback(db *d); /* safe to call when no transaction is open */
bool db_in_transaction(const db *d);

/* A unit of write work: runs its statements on `d`, which is already inside
 * a write transaction, and returns 0 or a negative SM_E* code. It must not
 * begin or commit, and must not block on anything but the database. */
typedef int (*db_tx_fn)(db *d, void *arg, sm_error *err);

/* Runs `fn` atomically: either all its statements commit, or none do (a
 * non-zero return rolls it back). Returns only once the outcome is durable.
 *
 * On PostgreSQL: BEGIN; fn; COMMIT on `d`, retried up to 3 times when the
 * engine reports a deadlock or serialisation failure (SM_EBUSY).
 * On SQLite (a file): units from every thread of the process are group-
 * committed by one writer thread per file: each runs inside a SAVEPOINT of
 * a shared transaction, so a failing unit rolls back alone, and one COMMIT
 * makes the whole batch durable. `fn` then runs on the writer thread with
 * the writer's connection and the caller's log correlation id; whatever it
 * returns through `arg` is the caller's. `d` must not be in a transaction. */
int db_write_tx(db *d, db_tx_fn fn, void *arg, sm_error *err);

/* Checks the connection with a trivial query within the timeout. */
int db_ping(db *d, sm_error *err);

/* Result access. Row and column indices are 0-based; out-of-range or NULL
 * cells read as NULL / 0 / "" as documented. Text is borrowed from the
 * result and valid until db_result_free. */
int db_result_rows(const db_result *r);
int db_result_cols(const db_result *r);
const char *db_result_colname(const db_result *r, int col);
bool db_result_isnull(const db_result *r, int row, int col);
const char *db_result_text(const db_result *r, int row, int col); /* NULL when NULL */
int64_t db_result_int(const db_result *r, int row, int col);      /* 0 when NULL */
double db_result_real(const db_result *r, int row, int col);      /* 0 when NULL */
void db_result_free(db_result *r);

/* Bulk-loading helper for seeding: a multi-row INSERT prefix such as
 * "INSERT INTO t (a,b) VALUES" with `ncols` per row is executed for `nrows`
 * rows whose values are `params[row*ncols + col]`, batching as the engine
 * allows (placeholders are generated). */
int db_insert_rows(db *d, const char *insert_prefix, int ncols, const db_value *params, int nrows,
                   sm_error *err);

#endif
