/* sqlite.c — the SQLite driver (embedded mode).
 *
 * One connection per thread, so the connection is opened with
 * SQLITE_OPEN_NOMUTEX: SQLite's own per-connection mutex would only cost.
 * The database is tuned for a web backend: WAL (readers never block the
 * writer), synchronous=NORMAL (durable at checkpoints, safe against
 * corruption), foreign keys enforced, and a busy timeout so a writer waits
 * for another instead of failing at once.
 *
 * SQL is written with $1..$n for both engines. SQLite would treat "$1" as
 * a named parameter found by a linear name lookup, so at prepare time we
 * rewrite "$N" to "?N" (outside literals and comments), whose index is N:
 * "$2" may come before "$1", "$1" may appear twice, and binding is direct.
 * The highest placeholder must equal the number of parameters given.
 *
 * Prepared statements are cached per connection, keyed by SQL text, and
 * reset with their bindings cleared after each use (text is bound
 * SQLITE_STATIC: borrowed only for the call).
 *
 * Errors: UNIQUE, PRIMARY KEY, FOREIGN KEY and CHECK violations map to
 * SM_ECONFLICT (as PostgreSQL's 23505/23503/23514 do: a CHECK such as
 * `stock >= 0` failing is a conflict with the current state, not bad
 * syntax); BUSY/LOCKED after the busy timeout to SM_EBUSY; the rest to
 * SM_EDB with sqlite3_errmsg(). */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "db/driver.h"
#include "db/sqlite_batch.h"
#include "db/sqlite_ckpt.h"
#include "db/sqlite_gate.h"

typedef struct sqlite_db {
    db base; /* first: a db * is a sqlite_db * */
    sqlite3 *conn;
    sqlite_gate *gate; /* this file's in-process writer queue (NULL: none) */
    bool in_gate;      /* this connection holds the gate */
    int timeout_ms;
    char *path; /* as opened, for the group-commit writer */
} sqlite_db;

static const db_driver sqlite_driver;

static int map_code(int rc)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_ROWID:
    case SQLITE_CONSTRAINT_FOREIGNKEY:
    case SQLITE_CONSTRAINT_CHECK: return SM_ECONFLICT;
    default: break;
    }
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return SM_EBUSY;
    case SQLITE_NOMEM: return SM_ENOMEM;
    case SQLITE_TOOBIG: return SM_ETOOLARGE;
    case SQLITE_CANTOPEN: return SM_EUNAVAILABLE;
    default: return SM_EDB;
    }
}

static int fail_with(sqlite_db *s, int rc, sm_error *err)
{
    return sm_error_set(err, map_code(rc), "sqlite: %s", sqlite3_errmsg(s->conn));
}

static void stmt_release(db *d, void *stmt)
{
    (void)d;
    sqlite3_finalize(stmt);
}

/* mkdir -p of the directory part of `path`. */
static int make_parent_dirs(const char *path, sm_error *err)
{
    char dir[4096];
    size_t n = strlen(path);
    if (n >= sizeof dir)
        return sm_error_set(err, SM_EINVAL, "sqlite: path too long");
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
            goto fail;
        *p = '/';
    }
    if (mkdir(dir, 0750) < 0 && errno != EEXIST)
        goto fail;
    return 0;
fail:
    return sm_error_set(err, SM_EUNAVAILABLE, "sqlite: cannot create %s: %s", dir, strerror(errno));
}

/* No bulk page-cache allocation. By default SQLite gives every page cache
 * (each connection's, and each temporary b-tree's that a statement builds
 * and drops) a first allocation of 20 pages, which it threads through page
 * by page. Connections of the job queue have their whole cache discarded at
 * almost every transaction, because another connection wrote since; with
 * the bulk, the glibc heap then shrank (madvise and a TLB shootdown across
 * CPUs) and grew back (page faults) several times per job. Without it,
 * pages are allocated one by one as a transaction touches them: the idle
 * enqueue-to-start median went from 570 to 250-320 µs on a 2-vCPU VM
 * (bench/jobs.sh, docs/PERFORMANCE.md). */
static void sqlite_configure(void)
{
    /* Before the library initialises, which sqlite3_open_v2() does. */
    if (sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0) != SQLITE_OK)
        log_warning("sqlite: cannot turn the page cache's bulk allocation off");
}

int db_sqlite_open(const char *path, int timeout_ms, db **out, sm_error *err)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    sqlite_db *s = NULL;
    int rc;
    pthread_once(&configured, sqlite_configure);
    bool memory = strcmp(path, ":memory:") == 0;
    if (!memory && (rc = make_parent_dirs(path, err)) < 0)
        return rc;
    s = calloc(1, sizeof *s);
    if (!s)
        return sm_error_set(err, SM_ENOMEM, "sqlite: out of memory");
    s->base.drv = &sqlite_driver;
    s->base.cache.release = stmt_release;
    rc = sqlite3_open_v2(path, &s->conn,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = sm_error_set(err, SM_EUNAVAILABLE, "sqlite: cannot open %s: %s", path,
                          s->conn ? sqlite3_errmsg(s->conn) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(s->conn, 1);
    /* The busy timeout first: switching to WAL needs a lock another
     * connection may hold while it does the same. */
    sqlite3_busy_timeout(s->conn, timeout_ms);
    rc = sqlite3_exec(s->conn,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                      "PRAGMA foreign_keys=ON; "
                      "PRAGMA cache_size=-16384;",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = fail_with(s, sqlite3_extended_errcode(s->conn), err);
        goto fail;
    }
    s->timeout_ms = timeout_ms;
    if (!memory) {
        s->gate = sqlite_gate_for(path);
        if (!(s->path = strdup(path))) {
            rc = sm_error_set(err, SM_ENOMEM, "sqlite: out of memory");
            goto fail;
        }
        sqlite_ckpt_attach(s->conn, s->gate, path);
    }
    *out = &s->base;
    return 0;
fail:
    sqlite3_close_v2(s->conn);
    free(s);
    return rc;
}

static void sqlite_close(db *d)
{
    sqlite_db *s = (sqlite_db *)d;
    if (s->in_gate)
        sqlite_gate_leave(s->gate);
    db_stmt_cache_clear(&d->cache, d);
    sqlite3_close_v2(s->conn);
    free(s->path);
    free(s);
}

/* True when `tail` holds nothing but whitespace, ';' and comments. */
static bool tail_is_empty(sqlite_db *s, const char *tail)
{
    sqlite3_stmt *extra = NULL;
    int rc = sqlite3_prepare_v2(s->conn, tail, -1, &extra, NULL);
    bool empty = rc == SQLITE_OK && extra == NULL;
    sqlite3_finalize(extra);
    return empty;
}

static bool is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || (unsigned char)c >= 0x80;
}

/* Rewrites the placeholders "$N" of `sql` into "?N" in `out` (same length),
 * leaving string literals, quoted identifiers and comments alone. SQLite
 * gives "?N" the index N, so binding is direct; as named parameters "$N"
 * would need a linear name lookup per parameter, quadratic for the 32,766
 * placeholders of a bulk insert. A '?' outside quotes is refused: the
 * common dialect has only $N. */
static int rewrite_placeholders(const char *sql, char *out, bool anonymous, bool *in_order,
                                sm_error *err);

/* Rewrites the placeholders of `sql` into `out` (at most as long). When they
 * appear exactly in the order $1, $2, … $N, each becomes a plain '?': SQLite
 * numbers those by position without any name bookkeeping, which matters for
 * the thousands of placeholders of a bulk insert (even "?N" costs a linear
 * search of the parameter list per placeholder at prepare time). */
static int rewrite_sql(const char *sql, char *out, sm_error *err)
{
    bool in_order = true;
    int rc = rewrite_placeholders(sql, out, false, &in_order, err);
    if (rc < 0 || !in_order)
        return rc;
    return rewrite_placeholders(sql, out, true, &in_order, err);
}

static int rewrite_placeholders(const char *sql, char *out, bool anonymous, bool *in_order,
                                sm_error *err)
{
    const char *p = sql;
    char *o = out;
    long next = 1; /* the number the next placeholder has when in order */
    while (*p) {
        char c = *p;
        if (c == '\'' || c == '"' || c == '`' || c == '[') {
            char close = c == '[' ? ']' : c;
            *o++ = *p++;
            while (*p && *p != close)
                *o++ = *p++;
            if (*p)
                *o++ = *p++; /* a doubled quote re-enters on the next turn */
        } else if (c == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                *o++ = *p++;
        } else if (c == '/' && p[1] == '*') {
            *o++ = *p++;
            *o++ = *p++;
            while (*p && !(p[0] == '*' && p[1] == '/'))
                *o++ = *p++;
            for (int i = 0; i < 2 && *p; i++)
                *o++ = *p++;
        } else if (c == '$' && p[1] >= '0' && p[1] <= '9' && (p == sql || !is_ident_char(p[-1]))) {
            *o++ = '?';
            p++;
            if (strtol(p, NULL, 10) != next++)
                *in_order = false;
            if (anonymous)
                while (*p >= '0' && *p <= '9')
                    p++;
        } else if (c == '?') {
            return sm_error_set(err, SM_EINVAL, "sqlite: use $1..$n placeholders, not '?'");
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return 0;
}

static int prepare(sqlite_db *s, const char *sql, sqlite3_stmt **out, sm_error *err)
{
    size_t len = strlen(sql);
    sqlite3_stmt *stmt = db_stmt_cache_get(&s->base.cache, sql, len);
    if (stmt) {
        *out = stmt;
        return 0;
    }
    const char *tail = NULL;
    char *text = malloc(len + 1);
    if (!text)
        return sm_error_set(err, SM_ENOMEM, "sqlite: out of memory");
    int rc = rewrite_sql(sql, text, err);
    if (rc < 0)
        goto done;
    rc = sqlite3_prepare_v3(s->conn, text, -1, SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) {
        rc = fail_with(s, rc, err);
        goto done;
    }
    if (!stmt) {
        rc = sm_error_set(err, SM_EINVAL, "sqlite: empty statement");
        goto done;
    }
    if (tail && *tail && !tail_is_empty(s, tail)) {
        rc = sm_error_set(err, SM_EINVAL,
                          "sqlite: several statements in one call (use db_exec_script)");
        goto done;
    }
    if (db_stmt_cache_put(&s->base.cache, &s->base, sql, len, stmt) < 0) {
        rc = sm_error_set(err, SM_ENOMEM, "sqlite: out of memory");
        goto done;
    }
    *out = stmt;
    stmt = NULL;
done:
    sqlite3_finalize(stmt);
    free(text);
    return rc;
}

static int bind_params(sqlite_db *s, sqlite3_stmt *stmt, const db_value *params, int nparams,
                       sm_error *err)
{
    /* After the rewrite "$N" is "?N", whose index is N: the count is the
     * highest placeholder used. */
    int count = sqlite3_bind_parameter_count(stmt);
    if (count != nparams)
        return sm_error_set(err, SM_EINVAL,
                            "sqlite: statement's highest placeholder is $%d, %d parameters given",
                            count, nparams);
    for (int i = 1; i <= nparams; i++) {
        const db_value *v = &params[i - 1];
        int rc;
        switch (v->type) {
        case DB_INT: rc = sqlite3_bind_int64(stmt, i, v->i); break;
        case DB_REAL: rc = sqlite3_bind_double(stmt, i, v->d); break;
        case DB_TEXT: rc = sqlite3_bind_text(stmt, i, v->s, -1, SQLITE_STATIC); break;
        default: rc = sqlite3_bind_null(stmt, i); break;
        }
        if (rc != SQLITE_OK)
            return fail_with(s, rc, err);
    }
    return 0;
}

static int read_row(sqlite3_stmt *stmt, db_result *r, sm_error *err)
{
    int rc = db_result_add_row(r, err);
    for (int c = 0; rc == 0 && c < db_result_cols(r); c++) {
        char num[32];
        switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_NULL: break;
        case SQLITE_INTEGER:
            snprintf(num, sizeof num, "%lld", (long long)sqlite3_column_int64(stmt, c));
            rc = db_result_set_cell(r, c, num, strlen(num), err);
            break;
        case SQLITE_FLOAT:
            db_format_real(sqlite3_column_double(stmt, c), num, sizeof num);
            rc = db_result_set_cell(r, c, num, strlen(num), err);
            break;
        default: {
            const unsigned char *t = sqlite3_column_text(stmt, c);
            if (!t)
                return sm_error_set(err, SM_ENOMEM, "sqlite: out of memory");
            rc = db_result_set_cell(r, c, (const char *)t, (size_t)sqlite3_column_bytes(stmt, c),
                                    err);
        }
        }
    }
    return rc;
}

static int sqlite_run(db *d, const char *sql, const db_value *params, int nparams,
                      int64_t *affected, db_result **out, sm_error *err)
{
    sqlite_db *s = (sqlite_db *)d;
    sqlite3_stmt *stmt = NULL;
    db_result *r = NULL;
    bool gated = false;
    int rc = prepare(s, sql, &stmt, err);
    if (rc < 0)
        return rc;
    if ((rc = bind_params(s, stmt, params, nparams, err)) < 0)
        goto done;
    if (out) {
        int ncols = sqlite3_column_count(stmt);
        r = db_result_new(ncols);
        if (!r) {
            rc = sm_error_set(err, SM_ENOMEM, "sqlite: out of memory");
            goto done;
        }
        for (int c = 0; c < ncols && rc == 0; c++)
            rc = db_result_set_colname(r, c, sqlite3_column_name(stmt, c));
        if (rc < 0) {
            rc = sm_error_set(err, rc, "sqlite: out of memory");
            goto done;
        }
    }
    /* sqlite3_changes() keeps its old value across DDL; the total moves only
     * when this statement changed rows. */
    int64_t total_before = sqlite3_total_changes64(s->conn);
    int64_t rows = 0;
    int step;
    /* A write outside a transaction is a transaction of its own: it queues
     * on the file's gate like BEGIN IMMEDIATE does (sqlite_write_gate)
     * rather than meeting a held write lock and SQLite's sleeping busy
     * handler. */
    if (!sqlite3_stmt_readonly(stmt) && sqlite3_get_autocommit(s->conn) && !s->in_gate) {
        if ((rc = sqlite_gate_enter(s->gate, s->timeout_ms)) < 0) {
            rc = sm_error_set(err, rc, "sqlite: database is busy (in-process writers)");
            goto done;
        }
        gated = true;
    }
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        rows++;
        if (r && (rc = read_row(stmt, r, err)) < 0)
            goto done;
    }
    if (step != SQLITE_DONE) {
        rc = fail_with(s, step, err);
        goto done;
    }
    if (affected) {
        if (sqlite3_stmt_readonly(stmt))
            *affected = rows;
        else
            *affected =
                sqlite3_total_changes64(s->conn) != total_before ? sqlite3_changes64(s->conn) : 0;
    }
done:
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (gated)
        sqlite_gate_leave(s->gate);
    if (rc < 0)
        db_result_free(r);
    else if (out)
        *out = r;
    return rc;
}

static int sqlite_exec_script(db *d, const char *sql, sm_error *err)
{
    sqlite_db *s = (sqlite_db *)d;
    char *msg = NULL;
    int rc = sqlite3_exec(s->conn, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        return 0;
    rc = sm_error_set(err, map_code(sqlite3_extended_errcode(s->conn)), "sqlite: %s",
                      msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc;
}

static bool sqlite_in_transaction(const db *d)
{
    return !sqlite3_get_autocommit(((const sqlite_db *)d)->conn);
}

static int sqlite_ensure_connected(db *d, sm_error *err)
{
    (void)d;
    (void)err;
    return 0;
}

/* Write transactions queue on the file's gate before BEGIN IMMEDIATE and
 * leave it once SQLite reports the transaction over (commit or rollback). */
static int sqlite_write_gate(db *d, bool enter)
{
    sqlite_db *s = (sqlite_db *)d;
    if (enter) {
        int rc = sqlite_gate_enter(s->gate, s->timeout_ms);
        if (rc == 0)
            s->in_gate = true;
        return rc;
    }
    if (s->in_gate && sqlite3_get_autocommit(s->conn)) {
        s->in_gate = false;
        sqlite_gate_leave(s->gate);
    }
    return 0;
}

static int sqlite_write_tx(db *d, db_tx_fn fn, void *arg, sm_error *err)
{
    sqlite_db *s = (sqlite_db *)d;
    return sqlite_batch_write_tx(s->gate, s->path, s->timeout_ms, d, fn, arg, err);
}

static const db_driver sqlite_driver = {
    .kind = DB_SQLITE,
    .max_params = DB_SQLITE_MAX_PARAMS,
    /* IMMEDIATE takes the write lock at BEGIN, so two writers queue on the
     * busy timeout instead of deadlocking when a reader upgrades. */
    .begin_write_sql = "BEGIN IMMEDIATE",
    .begin_read_sql = "BEGIN DEFERRED",
    .run = sqlite_run,
    .exec_script = sqlite_exec_script,
    .in_transaction = sqlite_in_transaction,
    .ensure_connected = sqlite_ensure_connected,
    .close = sqlite_close,
    .write_gate = sqlite_write_gate,
    .write_tx = sqlite_write_tx,
};
