/* test_log.c — the log file: rotation by size keeping N files, following a
 * file moved away by someone else, and several processes sharing one file
 * through their rotations without losing or repeating a line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

static char g_dir[64], g_path[128];
static int g_saved_stdout = -1;

/* Each test gets a fresh directory; stdout goes to /dev/null meanwhile
 * (every line is written there too). */
static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/sm-log-test-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_path, sizeof g_path, "%s/app.log", g_dir);
    fflush(stdout);
    g_saved_stdout = dup(STDOUT_FILENO);
    int null = open("/dev/null", O_WRONLY);
    if (g_saved_stdout < 0 || null < 0 || dup2(null, STDOUT_FILENO) < 0)
        return -1;
    close(null);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    log_deinit();
    dup2(g_saved_stdout, STDOUT_FILENO);
    close(g_saved_stdout);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void emit(int p, int n)
{
    log_emit(LOG_INFO, "line", json_pack("{si si ss}", "p", p, "n", n, "pad", "0123456789abcdef"));
}

/* Calls fn(p, n, ctx) for each line of `path` (a missing file has none);
 * fails on a line that is not a whole JSON object. Returns the count. */
static int each_line(const char *path, void (*fn)(int, int, void *), void *ctx)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int count = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        if (!j || line[strlen(line) - 1] != '\n')
            fail_msg("%s: not a whole JSON line: %s", path, line);
        fn((int)json_integer_value(json_object_get(j, "p")),
           (int)json_integer_value(json_object_get(j, "n")), ctx);
        json_decref(j);
        count++;
    }
    fclose(f);
    return count;
}

static void rotated_name(int k, char *out, size_t n)
{
    if (k == 0)
        snprintf(out, n, "%s", g_path);
    else
        snprintf(out, n, "%s.%d", g_path, k);
}

typedef struct seq {
    int next; /* the n the next line must have */
} seq;

static void in_order(int p, int n, void *ctx)
{
    seq *s = ctx;
    (void)p;
    if (s->next >= 0 && n != s->next)
        fail_msg("line %d where %d was due", n, s->next);
    s->next = n + 1;
}

static void rotates_by_size_and_keeps_the_newest_files(void **state)
{
    (void)state;
    log_file_options o = {.path = g_path, .max_bytes = 4096, .keep = 3};
    sm_error err = {0};
    assert_int_equal(log_init(LOG_INFO, &o, &err), 0);
    for (int i = 0; i < 400; i++) /* ~40 KiB: about ten rotations */
        emit(0, i);

    char name[160];
    struct stat st;
    for (int k = 0; k <= 3; k++) {
        rotated_name(k, name, sizeof name);
        assert_int_equal(stat(name, &st), 0);
        /* checked every max/8 bytes: a file passes the limit by at most that
         * and one line */
        assert_true(st.st_size <= 4096 + 512 + 256);
        if (k > 0)
            assert_true(st.st_size >= 4096);
    }
    rotated_name(4, name, sizeof name);
    assert_int_not_equal(stat(name, &st), 0); /* only `keep` rotated files */

    /* Oldest to newest, the kept lines are one unbroken run ending at 399. */
    seq s = {.next = -1};
    int total = 0;
    for (int k = 3; k >= 0; k--) {
        rotated_name(k, name, sizeof name);
        total += each_line(name, in_order, &s);
    }
    assert_int_equal(s.next, 400);
    assert_true(total > 100 && total < 400);
}

static void follows_a_file_moved_away(void **state)
{
    (void)state;
    log_file_options o = {.path = g_path, .max_bytes = 0, .keep = 1};
    sm_error err = {0};
    assert_int_equal(log_init(LOG_INFO, &o, &err), 0);
    emit(0, 1);
    char moved[160];
    snprintf(moved, sizeof moved, "%s.moved", g_path);
    assert_int_equal(rename(g_path, moved), 0); /* what logrotate does */
    struct timespec ts = {1, 200 * 1000000L};
    nanosleep(&ts, NULL);
    emit(0, 2); /* the check before this write finds the path empty */
    emit(0, 3);
    seq a = {.next = 1}, b = {.next = 2};
    assert_int_equal(each_line(moved, in_order, &a), 1);
    assert_int_equal(each_line(g_path, in_order, &b), 2);
}

#define PROCS 3
#define LINES 1500

static void count_line(int p, int n, void *ctx)
{
    unsigned char *seen = ctx;
    assert_true(p >= 0 && p < PROCS && n >= 0 && n < LINES);
    seen[p * LINES + n]++;
}

static void processes_share_a_file_and_lose_no_line(void **state)
{
    (void)state;
    pid_t kids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        kids[p] = fork();
        assert_true(kids[p] >= 0);
        if (kids[p] == 0) {
            log_file_options o = {.path = g_path, .max_bytes = 8192, .keep = 1000};
            sm_error err = {0};
            if (log_init(LOG_INFO, &o, &err) != 0)
                _exit(2);
            for (int n = 0; n < LINES; n++)
                emit(p, n);
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int status = 0;
        assert_int_equal(waitpid(kids[p], &status, 0), kids[p]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    static unsigned char seen[PROCS * LINES];
    memset(seen, 0, sizeof seen);
    char name[160];
    int files = 0;
    for (int k = 0; k <= 1000; k++) {
        rotated_name(k, name, sizeof name);
        if (access(name, F_OK) != 0)
            break;
        each_line(name, count_line, seen);
        files++;
    }
    /* ~450 KiB through an 8 KiB limit. Writers go on while one process
     * rotates, so files overshoot by what they write meanwhile (more on a
     * loaded machine): only "it rotated, more than once" is certain. */
    assert_true(files >= 3);
    for (int i = 0; i < PROCS * LINES; i++)
        if (seen[i] != 1)
            fail_msg("process %d line %d seen %d times", i / LINES, i % LINES, seen[i]);
}

static void bad_options_are_refused(void **state)
{
    (void)state;
    sm_error err = {0};
    log_file_options o = {.path = g_path, .max_bytes = 4096, .keep = 0};
    assert_int_equal(log_init(LOG_INFO, &o, &err), SM_EINVAL);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such/dir/app.log", g_dir);
    log_file_options m = {.path = missing, .max_bytes = 0, .keep = 1};
    assert_int_equal(log_init(LOG_INFO, &m, &err), SM_EIO);
    assert_non_null(strstr(err.message, "cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rotates_by_size_and_keeps_the_newest_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(follows_a_file_moved_away, setup, teardown),
        cmocka_unit_test_setup_teardown(processes_share_a_file_and_lose_no_line, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_options_are_refused, setup, teardown),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
