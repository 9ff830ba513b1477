/* driver.h — what db.c needs from a database driver (private to src/db/).
 *
 * db.c owns everything both engines share: argument checks, transactions
 * and their "failed" state, the thread-local connection, batching of bulk
 * inserts. A driver (sqlite.c, postgres.c) supplies the few operations
 * below through a small vtable and embeds `struct db` as the first member
 * of its own connection struct, so a `db *` converts to the driver's type.
 *
 * Results are built by the driver through the db_result_* builder (result.c)
 * and prepared statements are cached per connection in a db_stmt_cache
 * (stmt_cache.c) that lives in `struct db`. */
#ifndef SM_DB_DRIVER_H
#define SM_DB_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

/* Engine limits on bound parameters per statement. */
#define DB_SQLITE_MAX_PARAMS 32766
#define DB_POSTGRES_MAX_PARAMS 65535

/* Prepared statements kept per connection; least recently used evicted. */
#define DB_STMT_CACHE_MAX 128

/* A materialised result may hold at most this many bytes of cell text;
 * larger ones fail with SM_ETOOLARGE (callers page with LIMIT). */
#define DB_RESULT_MAX_BYTES ((size_t)256 << 20)

/* ---- statement cache ---------------------------------------------------- */

typedef struct db_stmt_entry {
    uint64_t hash;
    char *key; /* owned copy of the key bytes */
    size_t key_len;
    void *stmt;        /* driver's handle */
    uint64_t last_use; /* cache clock at the last hit, for LRU */
} db_stmt_entry;

typedef struct db_stmt_cache {
    db_stmt_entry entries[DB_STMT_CACHE_MAX];
    int len;
    uint64_t clock;
    uint64_t hits, misses;
    /* Releases a driver handle that leaves the cache. */
    void (*release)(db *d, void *stmt);
} db_stmt_cache;

/* Looks up `key`; returns the handle (still owned by the cache) or NULL. */
void *db_stmt_cache_get(db_stmt_cache *c, const char *key, size_t key_len);

/* Adds `stmt` under `key`, evicting the least recently used entry when full.
 * On success the cache owns `stmt`; on SM_ENOMEM the caller still does. */
int db_stmt_cache_put(db_stmt_cache *c, db *d, const char *key, size_t key_len, void *stmt);

/* Releases and forgets the entry for `key`, if any. */
void db_stmt_cache_remove(db_stmt_cache *c, db *d, const char *key, size_t key_len);

/* Releases and forgets every entry. */
void db_stmt_cache_clear(db_stmt_cache *c, db *d);

/* ---- driver vtable -------------------------------------------------------- */

typedef struct db_driver {
    db_kind kind;
    int max_params;
    const char *begin_write_sql;
    const char *begin_read_sql;
    /* Runs one statement with parameters already checked by db.c. With
     * `out` NULL rows are discarded; `affected` may be NULL. */
    int (*run)(db *d, const char *sql, const db_value *params, int nparams, int64_t *affected,
               db_result **out, sm_error *err);
    int (*exec_script)(db *d, const char *sql, sm_error *err);
    /* The engine's own view: is a transaction open on this connection? */
    bool (*in_transaction)(const db *d);
    /* Re-establishes a dropped connection in place (db_thread()). */
    int (*ensure_connected)(db *d, sm_error *err);
    void (*close)(db *d);
    /* Optional: enter (before a write BEGIN; may fail with SM_EBUSY) or leave
     * (after COMMIT/ROLLBACK, once no transaction is open) an in-process
     * writer queue. NULL when the engine needs none. */
    int (*write_gate)(db *d, bool enter);
    /* Optional: the engine's own way to run db_write_tx() (SQLite's group
     * commit). NULL: db.c runs BEGIN; fn; COMMIT on the caller's connection. */
    int (*write_tx)(db *d, db_tx_fn fn, void *arg, sm_error *err);
} db_driver;

struct db {
    const db_driver *drv;
    bool tx_failed; /* a statement failed inside the open transaction */
    db_stmt_cache cache;
};

/* Driver constructors (db_open() dispatches on the URL scheme). */
int db_sqlite_open(const char *path, int timeout_ms, db **out, sm_error *err);
int db_postgres_open(const char *url, int timeout_ms, db **out, sm_error *err);

/* Runs `fn` in a plain write transaction on `d`: BEGIN; fn; COMMIT, with
 * up to `retries` more attempts on SM_EBUSY. Used by db_write_tx() and by
 * drivers as their fallback. */
int db_write_tx_direct(db *d, db_tx_fn fn, void *arg, int retries, sm_error *err);

/* Statement-cache counters of a connection, for tests and diagnostics. */
void db_stmt_stats(const db *d, uint64_t *hits, uint64_t *misses, int *cached);

/* ---- result builder (result.c) ------------------------------------------ */

/* A result with `ncols` columns and no rows, or NULL when out of memory. */
db_result *db_result_new(int ncols);

/* Sets the name of column `col` (copied). */
int db_result_set_colname(db_result *r, int col, const char *name);

/* Appends a row whose cells are all NULL. SM_ETOOLARGE past the bound. */
int db_result_add_row(db_result *r, sm_error *err);

/* Sets cell `col` of the last row to a copy of `len` bytes of `text`. */
int db_result_set_cell(db_result *r, int col, const char *text, size_t len, sm_error *err);

/* Formats a double as the shortest decimal text that reads back exactly
 * (as PostgreSQL prints float8), into `buf` of at least 32 bytes. */
void db_format_real(double v, char *buf, size_t len);

#endif
