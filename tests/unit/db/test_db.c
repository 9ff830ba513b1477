/* test_db.c — the database interface on both engines (see db_fixture.h). */
#include "db_fixture.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "db/driver.h"
#include "db/sqlite_ckpt.h"

static const char *const create_t = "CREATE TABLE t (id BIGINT PRIMARY KEY, i BIGINT, "
                                    "r DOUBLE PRECISION, s TEXT)";

static int64_t count_rows(db *d, const char *sql)
{
    db_result *r = NULL;
    OK(db_query(d, sql, NULL, 0, &r, &g_err));
    int64_t n = db_result_int(r, 0, 0);
    db_result_free(r);
    return n;
}

static void db_open_close_and_ping(void **state)
{
    fixture *f = *state;
    assert_int_equal(db_get_kind(f->d), f->kind);
    OK(db_ping(f->d, &g_err));
    db *again = NULL;
    OK(db_open(f->url, 1000, &again, &g_err));
    OK(db_ping(again, &g_err));
    db_close(again);
    db_close(NULL);
}

static void db_open_rejects_bad_urls(void **state)
{
    (void)state;
    db *d = NULL;
    sm_error err = {0};
    assert_int_equal(db_open("mysql://x", 1000, &d, &err), SM_EINVAL);
    assert_null(d);
    assert_int_equal(db_open("sqlite:///", 1000, &d, &err), SM_EINVAL);
    assert_int_equal(db_open("postgres://postgres@127.0.0.1:1/none", 1000, &d, &err),
                     SM_EUNAVAILABLE);
    assert_null(d);
    assert_true(err.message[0] != '\0');
}

static void db_values_of_every_type_and_null_round_trip(void **state)
{
    fixture *f = *state;
    OK(db_exec(f->d, create_t, NULL, 0, NULL, &g_err));
    const char *sql = "INSERT INTO t (id, i, r, s) VALUES ($1, $2, $3, $4)";
    db_value a[] = {DB_I(1), DB_I(INT64_MAX), DB_R(0.1), DB_T("text")};
    db_value b[] = {DB_I(2), DB_I(INT64_MIN), DB_R(-1.5e300), DB_T("")};
    db_value c[] = {DB_I(3), DB_NULLV, DB_NULLV, DB_T(NULL)};
    int64_t affected = -1;
    OK(db_exec(f->d, sql, a, 4, &affected, &g_err));
    assert_int_equal(affected, 1);
    OK(db_exec(f->d, sql, b, 4, NULL, &g_err));
    OK(db_exec(f->d, sql, c, 4, NULL, &g_err));

    db_result *r = NULL;
    OK(db_query(f->d, "SELECT id, i, r, s FROM t ORDER BY id", NULL, 0, &r, &g_err));
    assert_int_equal(db_result_rows(r), 3);
    assert_int_equal(db_result_cols(r), 4);
    assert_string_equal(db_result_colname(r, 2), "r");
    assert_null(db_result_colname(r, 4));
    assert_int_equal(db_result_int(r, 0, 1), INT64_MAX);
    assert_true(db_result_real(r, 0, 2) == 0.1);
    assert_string_equal(db_result_text(r, 0, 2), "0.1");
    assert_string_equal(db_result_text(r, 0, 3), "text");
    assert_int_equal(db_result_int(r, 1, 1), INT64_MIN);
    assert_true(db_result_real(r, 1, 2) == -1.5e300);
    assert_false(db_result_isnull(r, 1, 3));
    assert_string_equal(db_result_text(r, 1, 3), "");
    for (int col = 1; col < 4; col++)
        assert_true(db_result_isnull(r, 2, col));
    assert_null(db_result_text(r, 2, 3));
    assert_int_equal(db_result_int(r, 2, 1), 0);
    /* Out of range reads as NULL. */
    assert_true(db_result_isnull(r, 3, 0));
    assert_true(db_result_isnull(r, -1, 0));
    assert_int_equal(db_result_int(r, 0, 9), 0);
    db_result_free(r);

    /* Expressions: 64-bit integer arithmetic on a bound integer, booleans. */
    db_value big = DB_I(INT64_C(5000000000));
    OK(db_query(f->d, "SELECT $1 + 1, $1 > 0", &big, 1, &r, &g_err));
    assert_int_equal(db_result_int(r, 0, 0), INT64_C(5000000001));
    assert_int_equal(db_result_int(r, 0, 1), 1);
    db_result_free(r);

    /* UPDATE reports affected rows; a no-op DDL reports none. */
    OK(db_exec(f->d, "UPDATE t SET i = 0 WHERE id >= $1", (db_value[]){DB_I(2)}, 1, &affected,
               &g_err));
    assert_int_equal(affected, 2);
    OK(db_exec(f->d, "CREATE TABLE u (x BIGINT)", NULL, 0, &affected, &g_err));
    assert_int_equal(affected, 0);
}

static void db_placeholders_reused_and_out_of_order(void **state)
{
    fixture *f = *state;
    OK(db_exec(f->d, create_t, NULL, 0, NULL, &g_err));
    /* $2 before $1, and $1 twice. */
    db_value p[] = {DB_I(42), DB_I(7)};
    OK(db_exec(f->d, "INSERT INTO t (id, i, r) VALUES ($2, $1, $1)", p, 2, NULL, &g_err));
    db_result *r = NULL;
    OK(db_query(f->d, "SELECT id, i FROM t WHERE i = $1 OR id = $1", (db_value[]){DB_I(42)}, 1, &r,
                &g_err));
    assert_int_equal(db_result_rows(r), 1);
    assert_int_equal(db_result_int(r, 0, 0), 7);
    assert_int_equal(db_result_int(r, 0, 1), 42);
    db_result_free(r);
    /* "$1" and "?" inside literals and comments are text, not placeholders. */
    OK(db_query(f->d, "SELECT '$1 ?', 'it''s $2' /* $3 ? */ -- $4 ?\n", NULL, 0, &r, &g_err));
    assert_string_equal(db_result_text(r, 0, 0), "$1 ?");
    assert_string_equal(db_result_text(r, 0, 1), "it's $2");
    db_result_free(r);
    /* A placeholder beyond the parameters given is an error, not a NULL. */
    sm_error err = {0};
    assert_int_not_equal(db_exec(f->d, "UPDATE t SET i = $3 WHERE id = $1", p, 2, NULL, &err), 0);
    assert_int_not_equal(db_exec(f->d, "SELECT 1; SELECT 2", NULL, 0, NULL, &err), 0);
    assert_int_equal(db_exec(f->d, NULL, NULL, 0, NULL, &err), SM_EINVAL);
    assert_int_equal(db_exec(f->d, "SELECT 1", NULL, 1, NULL, &err), SM_EINVAL);
}

static void db_constraint_violations_are_conflicts(void **state)
{
    fixture *f = *state;
    OK(db_exec_script(f->d,
                      "CREATE TABLE p (id BIGINT PRIMARY KEY, email TEXT UNIQUE, "
                      "  stock BIGINT CHECK (stock >= 0));"
                      "CREATE TABLE c (id BIGINT PRIMARY KEY, p_id BIGINT REFERENCES p (id));",
                      &g_err));
    db_value row[] = {DB_I(1), DB_T("a@example.com"), DB_I(1)};
    OK(db_exec(f->d, "INSERT INTO p (id, email, stock) VALUES ($1, $2, $3)", row, 3, NULL, &g_err));
    sm_error err = {0};
    row[0] = DB_I(2);
    assert_int_equal(
        db_exec(f->d, "INSERT INTO p (id, email, stock) VALUES ($1, $2, $3)", row, 3, NULL, &err),
        SM_ECONFLICT);
    assert_non_null(strstr(err.message, "email") ? err.message : strstr(err.message, "key"));
    row[0] = DB_I(1), row[1] = DB_T("b@example.com");
    assert_int_equal(
        db_exec(f->d, "INSERT INTO p (id, email, stock) VALUES ($1, $2, $3)", row, 3, NULL, &err),
        SM_ECONFLICT);
    assert_int_equal(db_exec(f->d, "INSERT INTO c (id, p_id) VALUES ($1, $2)",
                             (db_value[]){DB_I(1), DB_I(99)}, 2, NULL, &err),
                     SM_ECONFLICT);
    assert_int_equal(db_exec(f->d, "UPDATE p SET stock = stock - $1 WHERE id = $2",
                             (db_value[]){DB_I(5), DB_I(1)}, 2, NULL, &err),
                     SM_ECONFLICT);
}

static void db_transactions_commit_and_roll_back(void **state)
{
    fixture *f = *state;
    const char *ins = "INSERT INTO t (id) VALUES ($1)";
    OK(db_exec(f->d, create_t, NULL, 0, NULL, &g_err));
    assert_false(db_in_transaction(f->d));
    OK(db_rollback(f->d)); /* no transaction: a no-op */

    OK(db_begin(f->d, true, &g_err));
    assert_true(db_in_transaction(f->d));
    sm_error err = {0};
    assert_int_equal(db_begin(f->d, false, &err), SM_EINVAL);
    OK(db_exec(f->d, ins, (db_value[]){DB_I(1)}, 1, NULL, &g_err));
    OK(db_rollback(f->d));
    assert_false(db_in_transaction(f->d));
    assert_int_equal(count_rows(f->d, "SELECT count(*) FROM t"), 0);

    OK(db_begin(f->d, true, &g_err));
    OK(db_exec(f->d, ins, (db_value[]){DB_I(1)}, 1, NULL, &g_err));
    OK(db_commit(f->d, &g_err));
    assert_int_equal(count_rows(f->d, "SELECT count(*) FROM t"), 1);

    OK(db_begin(f->d, false, &g_err));
    assert_int_equal(count_rows(f->d, "SELECT count(*) FROM t"), 1);
    OK(db_commit(f->d, &g_err));
    assert_int_equal(db_commit(f->d, &err), SM_EDB); /* nothing open */

    /* A failed statement poisons the transaction on both engines: later
     * statements are refused and COMMIT rolls everything back. */
    OK(db_begin(f->d, true, &g_err));
    OK(db_exec(f->d, ins, (db_value[]){DB_I(2)}, 1, NULL, &g_err));
    assert_int_equal(db_exec(f->d, ins, (db_value[]){DB_I(1)}, 1, NULL, &err), SM_ECONFLICT);
    assert_int_equal(db_exec(f->d, ins, (db_value[]){DB_I(3)}, 1, NULL, &err), SM_EDB);
    assert_int_equal(db_commit(f->d, &err), SM_EDB);
    assert_false(db_in_transaction(f->d));
    assert_int_equal(count_rows(f->d, "SELECT count(*) FROM t"), 1);
}

typedef struct worker_arg {
    int errors;
    int64_t sold;
    sm_error err;
} worker_arg;

static void *counter_worker(void *p)
{
    worker_arg *w = p;
    db *d = NULL;
    if (db_thread(&d, &w->err) != 0) {
        w->errors++;
        return NULL;
    }
    for (int i = 0; i < 200; i++) {
        db_result *r = NULL;
        /* Read then write inside one write transaction. On SQLite, BEGIN
         * IMMEDIATE serialises the whole read-modify-write; on PostgreSQL
         * the UPDATE itself is atomic (its documented dialect). */
        if (db_begin(d, true, &w->err) != 0 ||
            db_query(d, "SELECT n FROM counter WHERE id = 1", NULL, 0, &r, &w->err) != 0) {
            w->errors++;
            db_rollback(d);
            continue;
        }
        int64_t seen = db_result_int(r, 0, 0);
        db_result_free(r);
        const char *upd = db_get_kind(d) == DB_SQLITE
                              ? "UPDATE counter SET n = $1 WHERE id = 1"
                              : "UPDATE counter SET n = n + 1 WHERE id = 1 AND $1 > 0";
        db_value v = DB_I(seen + 1);
        if (db_exec(d, upd, &v, 1, NULL, &w->err) != 0 || db_commit(d, &w->err) != 0) {
            w->errors++;
            db_rollback(d);
        }
    }
    return NULL;
}

static void db_write_transactions_serialise_across_threads(void **state)
{
    fixture *f = *state;
    OK(db_exec_script(f->d,
                      "CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);"
                      "INSERT INTO counter VALUES (1, 0);",
                      &g_err));
    pthread_t th[2];
    worker_arg args[2] = {0};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, counter_worker, &args[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        if (args[i].errors)
            fail_msg("worker %d: %d errors, last: %s", i, args[i].errors, args[i].err.message);
    }
    assert_int_equal(count_rows(f->d, "SELECT n FROM counter WHERE id = 1"), 400);
}

static void *seller_worker(void *p)
{
    worker_arg *w = p;
    db *d = NULL;
    if (db_thread(&d, &w->err) != 0) {
        w->errors++;
        return NULL;
    }
    for (;;) {
        int64_t affected = 0;
        db_value v[] = {DB_I(7), DB_I(1)};
        if (db_exec(d, "UPDATE stock SET stock = stock - $1 WHERE id = $2 AND stock >= $1", v, 2,
                    &affected, &w->err) != 0) {
            w->errors++;
            return NULL;
        }
        if (affected == 0)
            return NULL;
        w->sold += 7;
    }
}

static void db_conditional_update_never_oversells(void **state)
{
    fixture *f = *state;
    OK(db_exec_script(f->d,
                      "CREATE TABLE stock (id BIGINT PRIMARY KEY, stock BIGINT NOT NULL);"
                      "INSERT INTO stock VALUES (1, 1000);",
                      &g_err));
    pthread_t th[4];
    worker_arg args[4] = {0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, seller_worker, &args[i]), 0);
    int64_t sold = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        if (args[i].errors)
            fail_msg("seller %d: %s", i, args[i].err.message);
        sold += args[i].sold;
    }
    int64_t left = count_rows(f->d, "SELECT stock FROM stock WHERE id = 1");
    assert_int_equal(sold + left, 1000);
    assert_true(left >= 0 && left < 7);
}

static void db_statement_cache_reuses_and_stays_bounded(void **state)
{
    fixture *f = *state;
    uint64_t hits0, hits1, misses0, misses1;
    int cached;
    OK(db_exec(f->d, create_t, NULL, 0, NULL, &g_err));
    db_stmt_stats(f->d, &hits0, &misses0, NULL);
    for (int i = 0; i < 10; i++)
        OK(db_exec(f->d, "INSERT INTO t (id, i) VALUES ($1, $1)", (db_value[]){DB_I(i)}, 1, NULL,
                   &g_err));
    db_stmt_stats(f->d, &hits1, &misses1, NULL);
    assert_int_equal(misses1 - misses0, 1);
    assert_int_equal(hits1 - hits0, 9);
    /* Many distinct statements: the cache evicts and everything still runs. */
    for (int i = 0; i < DB_STMT_CACHE_MAX + 40; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT i + %d FROM t WHERE id = $1", i);
        db_result *r = NULL;
        OK(db_query(f->d, sql, (db_value[]){DB_I(3)}, 1, &r, &g_err));
        assert_int_equal(db_result_int(r, 0, 0), 3 + i);
        db_result_free(r);
    }
    db_stmt_stats(f->d, NULL, NULL, &cached);
    assert_true(cached <= DB_STMT_CACHE_MAX);
    OK(db_exec(f->d, "INSERT INTO t (id, i) VALUES ($1, $1)", (db_value[]){DB_I(100)}, 1, NULL,
               &g_err));
    assert_int_equal(count_rows(f->d, "SELECT count(*) FROM t"), 11);
}

static void db_insert_rows_batches_past_engine_limits(void **state)
{
    fixture *f = *state;
    enum { ROWS = 25000, COLS = 3 }; /* 75,000 values: > 65,535 and > 32,766 */
    OK(db_exec(f->d, create_t, NULL, 0, NULL, &g_err));
    db_value *v = calloc((size_t)ROWS * COLS, sizeof *v);
    assert_non_null(v);
    for (int row = 0; row < ROWS; row++) {
        v[row * COLS] = DB_I(row + 1);
        v[row * COLS + 1] = DB_I(row);
        v[row * COLS + 2] = DB_T(row % 2 ? "odd" : "even");
    }
    OK(db_insert_rows(f->d, "INSERT INTO t (id, i, s) VALUES", COLS, v, ROWS, &g_err));
    assert_int_equal(count_rows(f->d, "SELECT count(*) FROM t"), ROWS);
    assert_int_equal(count_rows(f->d, "SELECT sum(i) FROM t"), (int64_t)ROWS * (ROWS - 1) / 2);
    assert_int_equal(count_rows(f->d, "SELECT count(*) FROM t WHERE s = 'odd'"), ROWS / 2);

    /* A duplicate in a later batch rolls back the whole load. */
    OK(db_exec(f->d, "DELETE FROM t", NULL, 0, NULL, &g_err));
    v[(ROWS - 1) * COLS] = DB_I(1);
    sm_error err = {0};
    assert_int_equal(db_insert_rows(f->d, "INSERT INTO t (id, i, s) VALUES", COLS, v, ROWS, &err),
                     SM_ECONFLICT);
    assert_false(db_in_transaction(f->d));
    assert_int_equal(count_rows(f->d, "SELECT count(*) FROM t"), 0);
    assert_int_equal(db_insert_rows(f->d, "INSERT INTO t (id) VALUES", 0, v, 1, &err), SM_EINVAL);
    OK(db_insert_rows(f->d, "INSERT INTO t (id) VALUES", 1, v, 0, &g_err));
    free(v);
}

static void db_text_round_trips_verbatim(void **state)
{
    fixture *f = *state;
    static const char *const texts[] = {
        "Robert'); DROP TABLE t;--",
        "' OR '1'='1",
        "$1 $2 ? :name @x",
        "back\\slash \"quoted\" %s%n",
        "Crème brûlée, façade, naïve, Ærøskøbing, 日本語, emoji \xF0\x9F\x8E\x89",
        "line\nbreak\ttab",
    };
    OK(db_exec(f->d, create_t, NULL, 0, NULL, &g_err));
    for (int i = 0; i < 6; i++)
        OK(db_exec(f->d, "INSERT INTO t (id, s) VALUES ($1, $2)",
                   (db_value[]){DB_I(i), DB_T(texts[i])}, 2, NULL, &g_err));
    for (int i = 0; i < 6; i++) {
        db_result *r = NULL;
        OK(db_query(f->d, "SELECT s, length(s) FROM t WHERE s = $1", (db_value[]){DB_T(texts[i])},
                    1, &r, &g_err));
        assert_int_equal(db_result_rows(r), 1);
        assert_string_equal(db_result_text(r, 0, 0), texts[i]);
        db_result_free(r);
    }
    /* length() counts characters on both engines. */
    db_result *r = NULL;
    OK(db_query(f->d, "SELECT length(s) FROM t WHERE id = 4", NULL, 0, &r, &g_err));
    assert_int_equal(db_result_int(r, 0, 0), 53);
    db_result_free(r);
    assert_int_equal(count_rows(f->d, "SELECT count(*) FROM t"), 6);
}

static void db_waiting_writer_gets_busy(void **state)
{
    fixture *f = *state;
    OK(db_exec_script(f->d,
                      "CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);"
                      "INSERT INTO counter VALUES (1, 0);",
                      &g_err));
    db *other = NULL;
    sm_error err = {0};
    OK(db_open(f->url, 300, &other, &g_err));
    OK(db_begin(f->d, true, &g_err));
    OK(db_exec(f->d, "UPDATE counter SET n = n + 1 WHERE id = 1", NULL, 0, NULL, &g_err));
    if (f->kind == DB_SQLITE) {
        assert_int_equal(db_begin(other, true, &err), SM_EBUSY);
    } else {
        OK(db_begin(other, true, &g_err));
        assert_int_equal(
            db_exec(other, "UPDATE counter SET n = n + 1 WHERE id = 1", NULL, 0, NULL, &err),
            SM_EBUSY);
    }
    OK(db_rollback(other));
    OK(db_commit(f->d, &g_err));
    assert_int_equal(count_rows(other, "SELECT n FROM counter"), 1);
    db_close(other);
}

static void db_thread_reconnects_after_connection_loss(void **state)
{
    fixture *f = *state;
    db *d = NULL, *again = NULL;
    OK(db_thread(&d, &g_err));
    OK(db_thread(&again, &g_err));
    assert_ptr_equal(d, again);
    if (f->kind != DB_POSTGRES) {
        db_thread_reset();
        OK(db_thread(&again, &g_err));
        OK(db_ping(again, &g_err));
        return;
    }
    int64_t pid = count_rows(d, "SELECT pg_backend_pid()");
    db_result *r = NULL;
    OK(db_query(f->d, "SELECT pg_terminate_backend(CAST($1 AS INTEGER), 5000)",
                (db_value[]){DB_I(pid)}, 1, &r, &g_err));
    db_result_free(r);
    sm_error err = {0};
    assert_int_equal(db_ping(d, &err), SM_EUNAVAILABLE);
    assert_int_equal(db_ping(d, &err), SM_EUNAVAILABLE);
    OK(db_thread(&again, &g_err));
    assert_ptr_equal(d, again);
    OK(db_ping(again, &g_err));
}

/* SQLite: no committing connection checkpoints on its own; the file's
 * checkpointer thread copies the log back and restarts it, so the log file
 * stays bounded even under a writer that never pauses (past 16,000 pages a
 * commit waits for one checkpoint round before it returns). */
static void db_sqlite_checkpointer_bounds_the_log(void **state)
{
    fixture *f = *state;
    if (f->kind != DB_SQLITE)
        return; /* PostgreSQL checkpoints on its own */
    char path[2100], wal[2110];
    snprintf(path, sizeof path, "%s/nested/dir/test.db", f->dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    assert_int_equal(count_rows(f->d, "PRAGMA wal_autocheckpoint"), 0);
    OK(db_exec(f->d, "CREATE TABLE big (id BIGINT PRIMARY KEY, s TEXT NOT NULL)", NULL, 0, NULL,
               &g_err));
    /* 8,000 commits of five or six pages each (a row with three overflow
     * pages): ~170 MB of log if it never restarted. */
    static char text[12000];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    long rounds0 = 0, restarts0 = 0, rounds = 0, restarts = 0;
    (void)sqlite_ckpt_stats(path, &rounds0, &restarts0);
    off_t largest = 0;
    for (int i = 0; i < 8000; i++) {
        db_value p[] = {DB_I(i), DB_T(text)};
        OK(db_exec(f->d, "INSERT INTO big (id, s) VALUES ($1, $2)", p, 2, NULL, &g_err));
        struct stat st;
        if (i % 50 == 0 && stat(wal, &st) == 0 && st.st_size > largest)
            largest = st.st_size;
    }
    assert_true(sqlite_ckpt_stats(path, &rounds, &restarts));
    assert_true(rounds > rounds0);
    /* Writers are held past 16,000 pages (~66 MB) until a round completes. */
    assert_true(largest > 0);
    assert_true(largest < (off_t)96 << 20);
    /* Once the writer pauses, the checkpointer finishes the copy and
     * restarts the log with a commit of its own. */
    for (int i = 0; i < 300 && restarts == restarts0; i++) {
        nanosleep(&(struct timespec){0, 10000000}, NULL);
        assert_true(sqlite_ckpt_stats(path, &rounds, &restarts));
    }
    assert_true(restarts > restarts0);
    assert_int_equal(count_rows(f->d, "SELECT count(*) FROM big"), 8000);
    db_result *r = NULL;
    OK(db_query(f->d, "PRAGMA quick_check", NULL, 0, &r, &g_err));
    assert_string_equal(db_result_text(r, 0, 0), "ok");
    db_result_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FIXTURE_TEST(db_open_close_and_ping),
        FIXTURE_TEST(db_open_rejects_bad_urls),
        FIXTURE_TEST(db_values_of_every_type_and_null_round_trip),
        FIXTURE_TEST(db_placeholders_reused_and_out_of_order),
        FIXTURE_TEST(db_constraint_violations_are_conflicts),
        FIXTURE_TEST(db_transactions_commit_and_roll_back),
        FIXTURE_TEST(db_write_transactions_serialise_across_threads),
        FIXTURE_TEST(db_conditional_update_never_oversells),
        FIXTURE_TEST(db_statement_cache_reuses_and_stays_bounded),
        FIXTURE_TEST(db_insert_rows_batches_past_engine_limits),
        FIXTURE_TEST(db_text_round_trips_verbatim),
        FIXTURE_TEST(db_waiting_writer_gets_busy),
        FIXTURE_TEST(db_thread_reconnects_after_connection_loss),
        FIXTURE_TEST(db_sqlite_checkpointer_bounds_the_log),
    };
    return fixture_run_both("db", tests, sizeof tests / sizeof tests[0]);
}
