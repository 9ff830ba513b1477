/* postgres.c — the PostgreSQL driver (distributed mode), over libpq.
 *
 * Connecting: PQconnectdbParams() expands the URL and adds our
 * connect_timeout (timeout_ms rounded up to seconds; libpq's minimum is 2),
 * client_encoding UTF8 and a fallback application_name. Then
 * statement_timeout = timeout_ms, and lock_timeout at 90% of it so that a
 * statement stuck behind a row lock fails as SM_EBUSY (55P03, "retry"), as
 * SQLite's busy timeout does, before the statement timeout (SM_ETIMEOUT)
 * would. Server notices go to the log at DEBUG, never to stderr.
 *
 * Statements: every call is a prepared statement (PQprepare once, then
 * PQexecPrepared), cached per connection and named sm_1, sm_2, … The cache
 * key is the SQL text plus one letter per parameter type, because we
 * declare the types of integer (int8) and real (float8) parameters — so
 * `$1 + 1` is 64-bit arithmetic and `SELECT $1` returns what was bound —
 * while text and NULL parameters are left untyped for the server to infer
 * from context, as a literal would be. Values travel in text format.
 * A cached plan whose result type changed under DDL (0A000) or a statement
 * that vanished (26000, e.g. DISCARD ALL by a pooler) is dropped from the
 * cache and retried once when no transaction is open.
 *
 * Errors by SQLSTATE: 23505/23503/23514 → SM_ECONFLICT; 40001/40P01/55P03 →
 * SM_EBUSY; 57014 → SM_ETIMEOUT; a broken connection → SM_EUNAVAILABLE.
 * db_thread() calls ensure_connected(), which PQreset()s a connection
 * libpq has marked bad, in place, so the `db *` stays valid.
 *
 * Transactions: db_begin() sends plain BEGIN (READ COMMITTED) for both
 * kinds. Our writes are conditional single statements (UPDATE … WHERE
 * stock >= $1) that READ COMMITTED re-evaluates on the newest row version,
 * which is what they need; read-then-write in application code is not
 * serialised on PostgreSQL (use a conditional UPDATE instead). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "db/driver.h"

#define PG_INT8OID 20
#define PG_FLOAT8OID 701
#define PG_SMALL_PARAMS 16 /* parameters handled without heap allocation */

typedef struct pg_db {
    db base; /* first: a db * is a pg_db * */
    PGconn *conn;
    int timeout_ms;
    uint64_t next_stmt;
    bool forget_only; /* releasing cache entries must not talk to the server */
} pg_db;

typedef struct pg_stmt {
    char name[32];
} pg_stmt;

static const db_driver pg_driver;

static void trim_message(char *msg)
{
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
}

static int conn_error(pg_db *p, int code, sm_error *err)
{
    char msg[SM_ERROR_MESSAGE_MAX];
    snprintf(msg, sizeof msg, "%s", PQerrorMessage(p->conn));
    trim_message(msg);
    return sm_error_set(err, code, "postgres: %s", msg[0] ? msg : "connection error");
}

static int map_sqlstate(const char *state)
{
    if (!state)
        return SM_EDB;
    if (!strcmp(state, "23505") || !strcmp(state, "23503") || !strcmp(state, "23514"))
        return SM_ECONFLICT;
    if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03"))
        return SM_EBUSY;
    if (!strcmp(state, "57014"))
        return SM_ETIMEOUT;
    if (!strncmp(state, "08", 2) || !strcmp(state, "57P01") || !strcmp(state, "57P02") ||
        !strcmp(state, "57P03"))
        return SM_EUNAVAILABLE;
    return SM_EDB;
}

/* Maps a failed result (or NULL: out of memory or connection lost). */
static int result_error(pg_db *p, const PGresult *res, sm_error *err)
{
    if (PQstatus(p->conn) != CONNECTION_OK)
        return conn_error(p, SM_EUNAVAILABLE, err);
    if (!res)
        return conn_error(p, SM_EDB, err);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (!msg)
        return conn_error(p, map_sqlstate(state), err);
    return sm_error_set(err, map_sqlstate(state), "postgres: %s (%s)", msg, state ? state : "?");
}

static void notice_to_log(void *arg, const char *message)
{
    (void)arg;
    log_debug("postgres notice: %.*s", (int)strcspn(message, "\n"), message);
}

static void stmt_release(db *d, void *stmt)
{
    pg_db *p = (pg_db *)d;
    pg_stmt *st = stmt;
    /* Server-side statements die with the session; otherwise free them,
     * unless an aborted transaction would refuse (they then live until the
     * session ends — names are never reused, so that is only memory). */
    if (!p->forget_only && PQstatus(p->conn) == CONNECTION_OK &&
        PQtransactionStatus(p->conn) != PQTRANS_INERROR) {
        char sql[48];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", st->name);
        PQclear(PQexec(p->conn, sql));
    }
    free(st);
}

/* Applies the per-session settings after (re)connecting. */
static int session_setup(pg_db *p, sm_error *err)
{
    char sql[128];
    int lock_ms = p->timeout_ms - p->timeout_ms / 10;
    snprintf(sql, sizeof sql, "SET statement_timeout = %d; SET lock_timeout = %d", p->timeout_ms,
             lock_ms > 0 ? lock_ms : 1);
    PGresult *res = PQexec(p->conn, sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : result_error(p, res, err);
    PQclear(res);
    return rc;
}

int db_postgres_open(const char *url, int timeout_ms, db **out, sm_error *err)
{
    pg_db *p = calloc(1, sizeof *p);
    int rc;
    if (!p)
        return sm_error_set(err, SM_ENOMEM, "postgres: out of memory");
    p->base.drv = &pg_driver;
    p->base.cache.release = stmt_release;
    p->timeout_ms = timeout_ms;
    char connect_s[16];
    int secs = (timeout_ms + 999) / 1000;
    snprintf(connect_s, sizeof connect_s, "%d", secs < 2 ? 2 : secs);
    /* Later keywords override what the expanded URL sets. */
    const char *const keys[] = {"fallback_application_name", "dbname", "connect_timeout",
                                "client_encoding", NULL};
    const char *const vals[] = {"smartmarket", url, connect_s, "UTF8", NULL};
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (!p->conn) {
        rc = sm_error_set(err, SM_ENOMEM, "postgres: out of memory");
        goto fail;
    }
    if (PQstatus(p->conn) != CONNECTION_OK) {
        rc = conn_error(p, SM_EUNAVAILABLE, err);
        goto fail;
    }
    PQsetNoticeProcessor(p->conn, notice_to_log, NULL);
    if ((rc = session_setup(p, err)) < 0)
        goto fail;
    *out = &p->base;
    return 0;
fail:
    PQfinish(p->conn);
    free(p);
    return rc;
}

static void pg_close(db *d)
{
    pg_db *p = (pg_db *)d;
    p->forget_only = true;
    db_stmt_cache_clear(&d->cache, d);
    PQfinish(p->conn);
    free(p);
}

/* Finds or prepares the statement for (sql, types). `key` is built by the
 * caller: SQL text, NUL, one type letter per parameter. */
static int prepare(pg_db *p, const char *sql, const char *key, size_t key_len, int nparams,
                   const Oid *types, pg_stmt **out, sm_error *err)
{
    pg_stmt *st = db_stmt_cache_get(&p->base.cache, key, key_len);
    if (st) {
        *out = st;
        return 0;
    }
    st = calloc(1, sizeof *st);
    if (!st)
        return sm_error_set(err, SM_ENOMEM, "postgres: out of memory");
    snprintf(st->name, sizeof st->name, "sm_%llu", (unsigned long long)++p->next_stmt);
    PGresult *res = PQprepare(p->conn, st->name, sql, nparams, types);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        int rc = result_error(p, res, err);
        PQclear(res);
        free(st);
        return rc;
    }
    PQclear(res);
    if (db_stmt_cache_put(&p->base.cache, &p->base, key, key_len, st) < 0) {
        stmt_release(&p->base, st);
        return sm_error_set(err, SM_ENOMEM, "postgres: out of memory");
    }
    *out = st;
    return 0;
}

static int copy_rows(const PGresult *res, db_result **out, sm_error *err)
{
    int ncols = PQnfields(res), nrows = PQntuples(res), rc = 0;
    db_result *r = db_result_new(ncols);
    if (!r)
        return sm_error_set(err, SM_ENOMEM, "postgres: out of memory");
    for (int c = 0; c < ncols && rc == 0; c++)
        rc = db_result_set_colname(r, c, PQfname(res, c));
    if (rc < 0) {
        rc = sm_error_set(err, rc, "postgres: out of memory");
        goto fail;
    }
    for (int row = 0; row < nrows; row++) {
        if ((rc = db_result_add_row(r, err)) < 0)
            goto fail;
        for (int c = 0; c < ncols; c++) {
            if (PQgetisnull(res, row, c))
                continue;
            rc = db_result_set_cell(r, c, PQgetvalue(res, row, c), (size_t)PQgetlength(res, row, c),
                                    err);
            if (rc < 0)
                goto fail;
        }
    }
    *out = r;
    return 0;
fail:
    db_result_free(r);
    return rc;
}

static bool retryable(const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    return state && (!strcmp(state, "0A000") || !strcmp(state, "26000"));
}

static int pg_run(db *d, const char *sql, const db_value *params, int nparams, int64_t *affected,
                  db_result **out, sm_error *err)
{
    pg_db *p = (pg_db *)d;
    Oid small_types[PG_SMALL_PARAMS];
    const char *small_vals[PG_SMALL_PARAMS];
    char small_nums[PG_SMALL_PARAMS][32];
    char small_key[1024];
    Oid *types = small_types;
    const char **vals = small_vals;
    char(*nums)[32] = small_nums;
    char *key = small_key;
    size_t sql_len = strlen(sql), key_len = sql_len + 1 + (size_t)nparams;
    PGresult *res = NULL;
    int rc = 0;

    if (PQstatus(p->conn) != CONNECTION_OK)
        return sm_error_set(err, SM_EUNAVAILABLE, "postgres: connection lost");
    if (nparams > PG_SMALL_PARAMS) {
        types = malloc((size_t)nparams * sizeof *types);
        vals = malloc((size_t)nparams * sizeof *vals);
        nums = malloc((size_t)nparams * sizeof *nums);
    }
    if (key_len > sizeof small_key)
        key = malloc(key_len);
    if (!types || !vals || !nums || !key) {
        rc = sm_error_set(err, SM_ENOMEM, "postgres: out of memory");
        goto done;
    }
    memcpy(key, sql, sql_len + 1);
    for (int i = 0; i < nparams; i++) {
        const db_value *v = &params[i];
        types[i] = 0;
        vals[i] = NULL;
        key[sql_len + 1 + (size_t)i] = '-';
        if (v->type == DB_INT) {
            types[i] = PG_INT8OID;
            key[sql_len + 1 + (size_t)i] = 'i';
            snprintf(nums[i], sizeof nums[i], "%lld", (long long)v->i);
            vals[i] = nums[i];
        } else if (v->type == DB_REAL) {
            types[i] = PG_FLOAT8OID;
            key[sql_len + 1 + (size_t)i] = 'r';
            db_format_real(v->d, nums[i], sizeof nums[i]);
            vals[i] = nums[i];
        } else if (v->type == DB_TEXT) {
            vals[i] = v->s;
        }
    }
    for (int attempt = 0;; attempt++) {
        pg_stmt *st = NULL;
        if ((rc = prepare(p, sql, key, key_len, nparams, types, &st, err)) < 0)
            goto done;
        res = PQexecPrepared(p->conn, st->name, nparams, vals, NULL, NULL, 0);
        ExecStatusType status = PQresultStatus(res);
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
            break;
        if (attempt == 0 && retryable(res)) {
            db_stmt_cache_remove(&p->base.cache, d, key, key_len);
            if (PQtransactionStatus(p->conn) == PQTRANS_IDLE) {
                PQclear(res);
                res = NULL;
                continue;
            }
        }
        rc = result_error(p, res, err);
        goto done;
    }
    if (affected) {
        const char *n = PQcmdTuples(res);
        *affected = *n ? strtoll(n, NULL, 10) : PQntuples(res);
    }
    if (out)
        rc = copy_rows(res, out, err);
done:
    PQclear(res);
    if (types != small_types)
        free(types);
    if (vals != small_vals)
        free((void *)vals);
    if (nums != small_nums)
        free(nums);
    if (key != small_key)
        free(key);
    return rc;
}

static int pg_exec_script(db *d, const char *sql, sm_error *err)
{
    pg_db *p = (pg_db *)d;
    if (PQstatus(p->conn) != CONNECTION_OK)
        return sm_error_set(err, SM_EUNAVAILABLE, "postgres: connection lost");
    PGresult *res = PQexec(p->conn, sql);
    ExecStatusType status = PQresultStatus(res);
    int rc = 0;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY)
        rc = result_error(p, res, err);
    PQclear(res);
    /* A script changes the schema: plans cached before may no longer fit. */
    if (rc == 0)
        db_stmt_cache_clear(&d->cache, d);
    return rc;
}

static bool pg_in_transaction(const db *d)
{
    PGTransactionStatusType t = PQtransactionStatus(((const pg_db *)d)->conn);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static int pg_ensure_connected(db *d, sm_error *err)
{
    pg_db *p = (pg_db *)d;
    if (PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    p->forget_only = true;
    db_stmt_cache_clear(&d->cache, d);
    p->forget_only = false;
    d->tx_failed = false;
    PQreset(p->conn);
    if (PQstatus(p->conn) != CONNECTION_OK)
        return conn_error(p, SM_EUNAVAILABLE, err);
    log_info("postgres: reconnected");
    return session_setup(p, err);
}

static const db_driver pg_driver = {
    .kind = DB_POSTGRES,
    .max_params = DB_POSTGRES_MAX_PARAMS,
    .begin_write_sql = "BEGIN",
    .begin_read_sql = "BEGIN",
    .run = pg_run,
    .exec_script = pg_exec_script,
    .in_transaction = pg_in_transaction,
    .ensure_connected = pg_ensure_connected,
    .close = pg_close,
};
