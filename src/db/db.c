/* db.c — the engine-independent half of the database interface.
 *
 * db_open() picks a driver from the URL scheme; every other call checks its
 * arguments once here and dispatches through the driver's vtable (see
 * driver.h). Three behaviours live here so that both engines show them
 * identically:
 *
 *  - Transactions. db_begin() refuses nesting. A statement that fails inside
 *    a transaction marks it failed: further statements are refused and
 *    db_commit() rolls back and reports the failure. PostgreSQL behaves so
 *    natively (25P02 "current transaction is aborted"); SQLite would happily
 *    commit the statements that did succeed, so we enforce it for both.
 *    A failed COMMIT leaves no transaction open (we roll back).
 *
 *  - The thread's connection. db_thread() keeps one connection per thread in
 *    a pthread key whose destructor closes it at thread exit, opened lazily
 *    from config_get(). Before handing it out it asks the driver to repair
 *    a dropped connection in place (PostgreSQL after a server restart), so
 *    a `db *` a caller already holds stays valid.
 *
 *  - Bulk inserts. db_insert_rows() generates "($1,$2),($3,$4),…" batches
 *    as large as the engine's parameter limit allows, all inside one
 *    transaction (the caller's, or its own). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "db/driver.h"

int db_open(const char *url, int timeout_ms, db **out, sm_error *err)
{
    if (!url || !out || timeout_ms <= 0)
        return sm_error_set(err, SM_EINVAL, "db_open: bad arguments");
    *out = NULL;
    if (strncmp(url, "sqlite:///", 10) == 0) {
        if (!url[10])
            return sm_error_set(err, SM_EINVAL, "sqlite URL has no path");
        return db_sqlite_open(url + 10, timeout_ms, out, err);
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return db_postgres_open(url, timeout_ms, out, err);
    return sm_error_set(err, SM_EINVAL, "database URL is not sqlite:///PATH or postgres://...");
}

void db_close(db *d)
{
    if (d)
        d->drv->close(d);
}

db_kind db_get_kind(const db *d)
{
    return d->drv->kind;
}

bool db_in_transaction(const db *d)
{
    return d && d->drv->in_transaction(d);
}

static int check_params(const db *d, const char *sql, const db_value *params, int nparams,
                        sm_error *err)
{
    if (!d || !sql)
        return sm_error_set(err, SM_EINVAL, "db: NULL connection or SQL");
    if (nparams < 0 || (nparams > 0 && !params))
        return sm_error_set(err, SM_EINVAL, "db: bad parameter array");
    if (nparams > d->drv->max_params)
        return sm_error_set(err, SM_ETOOLARGE, "db: %d parameters, the engine allows %d", nparams,
                            d->drv->max_params);
    for (int i = 0; i < nparams; i++) {
        db_type t = params[i].type;
        if (t != DB_NULL && t != DB_INT && t != DB_TEXT && t != DB_REAL)
            return sm_error_set(err, SM_EINVAL, "db: parameter $%d has an unknown type", i + 1);
        if (t == DB_TEXT && !params[i].s)
            return sm_error_set(err, SM_EINVAL, "db: text parameter $%d is NULL", i + 1);
    }
    if (d->tx_failed && d->drv->in_transaction(d))
        return sm_error_set(err, SM_EDB,
                            "current transaction is aborted: roll it back after the error");
    return 0;
}

static int run(db *d, const char *sql, const db_value *params, int nparams, int64_t *affected,
               db_result **out, sm_error *err)
{
    int rc = check_params(d, sql, params, nparams, err);
    if (rc < 0)
        return rc;
    rc = d->drv->run(d, sql, params, nparams, affected, out, err);
    if (rc < 0 && d->drv->in_transaction(d))
        d->tx_failed = true;
    return rc;
}

int db_exec(db *d, const char *sql, const db_value *params, int nparams, int64_t *affected,
            sm_error *err)
{
    if (affected)
        *affected = 0;
    return run(d, sql, params, nparams, affected, NULL, err);
}

int db_query(db *d, const char *sql, const db_value *params, int nparams, db_result **out,
             sm_error *err)
{
    if (!out)
        return sm_error_set(err, SM_EINVAL, "db_query: NULL result pointer");
    *out = NULL;
    return run(d, sql, params, nparams, NULL, out, err);
}

int db_exec_script(db *d, const char *sql, sm_error *err)
{
    int rc = check_params(d, sql, NULL, 0, err);
    if (rc < 0)
        return rc;
    rc = d->drv->exec_script(d, sql, err);
    if (rc < 0 && d->drv->in_transaction(d))
        d->tx_failed = true;
    return rc;
}

/* Leaves the engine's writer queue when no transaction is open any more. */
static void leave_gate(db *d)
{
    if (d->drv->write_gate)
        d->drv->write_gate(d, false);
}

int db_begin(db *d, bool write, sm_error *err)
{
    if (!d)
        return sm_error_set(err, SM_EINVAL, "db_begin: NULL connection");
    if (d->drv->in_transaction(d))
        return sm_error_set(err, SM_EINVAL, "db_begin: a transaction is already open");
    d->tx_failed = false;
    int rc;
    if (write && d->drv->write_gate && (rc = d->drv->write_gate(d, true)) < 0)
        return sm_error_set(err, rc, "db_begin: timed out waiting for the write lock");
    const char *sql = write ? d->drv->begin_write_sql : d->drv->begin_read_sql;
    rc = d->drv->run(d, sql, NULL, 0, NULL, NULL, err);
    leave_gate(d);
    return rc;
}

int db_commit(db *d, sm_error *err)
{
    if (!d)
        return sm_error_set(err, SM_EINVAL, "db_commit: NULL connection");
    if (!d->drv->in_transaction(d)) {
        leave_gate(d);
        return sm_error_set(err, SM_EDB,
                            "db_commit: no transaction is open (an error may "
                            "have rolled it back)");
    }
    if (d->tx_failed) {
        db_rollback(d);
        return sm_error_set(err, SM_EDB, "transaction rolled back: a statement in it had failed");
    }
    int rc = d->drv->run(d, "COMMIT", NULL, 0, NULL, NULL, err);
    if (rc < 0 && d->drv->in_transaction(d))
        db_rollback(d);
    leave_gate(d);
    return rc;
}

int db_rollback(db *d)
{
    if (!d)
        return SM_EINVAL;
    d->tx_failed = false;
    int rc = 0;
    if (d->drv->in_transaction(d))
        rc = d->drv->run(d, "ROLLBACK", NULL, 0, NULL, NULL, NULL);
    leave_gate(d);
    return rc;
}

int db_write_tx_direct(db *d, db_tx_fn fn, void *arg, int retries, sm_error *err)
{
    int rc;
    for (int attempt = 0;; attempt++) {
        if ((rc = db_begin(d, true, err)) == 0) {
            rc = fn(d, arg, err);
            if (rc == 0)
                rc = db_commit(d, err);
            else
                db_rollback(d);
        }
        if (rc != SM_EBUSY || attempt >= retries)
            return rc;
    }
}

int db_write_tx(db *d, db_tx_fn fn, void *arg, sm_error *err)
{
    if (!d || !fn)
        return sm_error_set(err, SM_EINVAL, "db_write_tx: NULL connection or function");
    if (d->drv->in_transaction(d))
        return sm_error_set(err, SM_EINVAL, "db_write_tx: a transaction is already open");
    if (d->drv->write_tx)
        return d->drv->write_tx(d, fn, arg, err);
    return db_write_tx_direct(d, fn, arg, 3, err);
}

int db_ping(db *d, sm_error *err)
{
    db_result *r = NULL;
    int rc = db_query(d, "SELECT 1", NULL, 0, &r, err);
    if (rc == 0 && db_result_int(r, 0, 0) != 1)
        rc = sm_error_set(err, SM_EDB, "db_ping: unexpected answer");
    db_result_free(r);
    return rc;
}

/* ---- the calling thread's connection ----------------------------------- */

static pthread_key_t thread_key;
static pthread_once_t thread_once = PTHREAD_ONCE_INIT;
static int thread_key_rc;

static void thread_conn_free(void *p)
{
    db_close(p);
}

static void thread_key_make(void)
{
    thread_key_rc = pthread_key_create(&thread_key, thread_conn_free);
}

int db_thread(db **out, sm_error *err)
{
    if (!out)
        return sm_error_set(err, SM_EINVAL, "db_thread: NULL out");
    *out = NULL;
    if (pthread_once(&thread_once, thread_key_make) != 0 || thread_key_rc != 0)
        return sm_error_set(err, SM_EINTERNAL, "db_thread: pthread_key_create failed");
    db *d = pthread_getspecific(thread_key);
    if (d) {
        int rc = d->drv->ensure_connected(d, err);
        if (rc < 0)
            return rc;
        *out = d;
        return 0;
    }
    const sm_config *cfg = config_get();
    if (!cfg)
        return sm_error_set(err, SM_ECONFIG, "db_thread: configuration not loaded");
    int rc = db_open(cfg->database_url, cfg->db_timeout_ms, &d, err);
    if (rc < 0)
        return rc;
    if (pthread_setspecific(thread_key, d) != 0) {
        db_close(d);
        return sm_error_set(err, SM_ENOMEM, "db_thread: pthread_setspecific failed");
    }
    *out = d;
    return 0;
}

void db_thread_reset(void)
{
    if (pthread_once(&thread_once, thread_key_make) != 0 || thread_key_rc != 0)
        return;
    db *d = pthread_getspecific(thread_key);
    if (d) {
        pthread_setspecific(thread_key, NULL);
        db_close(d);
    }
}

/* ---- bulk inserts ---------------------------------------------------------- */

/* Writes "PREFIX ($1,…,$k),(…)" for `rows` rows of `ncols` into a new
 * malloc'd string, or returns NULL when out of memory. */
static char *batch_sql(const char *prefix, int ncols, int rows)
{
    size_t plen = strlen(prefix);
    /* "$65535," is at most 7 bytes; "()," 3 more per row. */
    size_t cap = plen + 2 + (size_t)rows * ((size_t)ncols * 7 + 3);
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    memcpy(sql, prefix, plen);
    char *p = sql + plen;
    *p++ = ' ';
    int n = 1;
    for (int r = 0; r < rows; r++) {
        *p++ = r ? ',' : '(';
        if (r)
            *p++ = '(';
        for (int c = 0; c < ncols; c++)
            p += sprintf(p, c ? ",$%d" : "$%d", n++);
        *p++ = ')';
    }
    *p = '\0';
    return sql;
}

int db_insert_rows(db *d, const char *insert_prefix, int ncols, const db_value *params, int nrows,
                   sm_error *err)
{
    if (!d || !insert_prefix || ncols <= 0 || nrows < 0 || (nrows > 0 && !params))
        return sm_error_set(err, SM_EINVAL, "db_insert_rows: bad arguments");
    if (ncols > d->drv->max_params)
        return sm_error_set(err, SM_ETOOLARGE, "db_insert_rows: %d columns is too many", ncols);
    if (nrows == 0)
        return 0;
    int per_batch = d->drv->max_params / ncols;
    bool own_tx = !d->drv->in_transaction(d);
    char *sql = NULL;
    int sql_rows = 0, rc;
    if (own_tx && (rc = db_begin(d, true, err)) < 0)
        return rc;
    for (int row = 0; row < nrows; row += per_batch) {
        int n = nrows - row < per_batch ? nrows - row : per_batch;
        if (n != sql_rows) {
            free(sql);
            sql = batch_sql(insert_prefix, ncols, n);
            if (!sql) {
                rc = sm_error_set(err, SM_ENOMEM, "db_insert_rows: out of memory");
                goto fail;
            }
            sql_rows = n;
        }
        rc = db_exec(d, sql, params + (size_t)row * (size_t)ncols, n * ncols, NULL, err);
        if (rc < 0)
            goto fail;
    }
    free(sql);
    return own_tx ? db_commit(d, err) : 0;
fail:
    free(sql);
    if (own_tx)
        db_rollback(d);
    return rc;
}
