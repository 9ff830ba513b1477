/* build_ml_indexes.c — `smartmarket build_ml_indexes`: one build, now.
 *
 * Runs ml_build_indexes() against the configured database and data
 * directory. On a terminal, progress is a bar per stage on stderr;
 * otherwise each step is a JSON log line on stdout (what a job runner or a
 * container log collects). The final line names the new version. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "ml/build.h"

static void build_help(void)
{
    printf("Usage: smartmarket build_ml_indexes [--help]\n\n"
           "Builds the search indexes (BM25 lexical index, LSI vectors, document\n"
           "store) and every registered model (recommendations) from the catalogue\n"
           "and order history into a new version folder under\n"
           "$SMARTMARKET_DATA_DIR/ml/, verifies it, and switches the active version\n"
           "atomically; running servers pick it up within a second. The last 3\n"
           "versions are kept. A failed build leaves the active version untouched.\n\n"
           "Progress: a bar on a terminal, JSON lines otherwise.\n\n"
           "Environment: DATABASE_URL, SMARTMARKET_DATA_DIR, LOG_LEVEL; see env.example.\n\n"
           "Exit status: 0 success, 1 failure, 2 bad usage.\n");
}

typedef struct progress_state {
    int tty;
    char stage[32];
    int last_step;
} progress_state;

static void on_progress(const char *stage, long long done, long long total, void *ctx)
{
    progress_state *s = ctx;
    if (strcmp(s->stage, stage) != 0) {
        if (s->tty && s->stage[0])
            fputc('\n', stderr);
        snprintf(s->stage, sizeof s->stage, "%s", stage);
        s->last_step = -1;
    }
    int step = total > 0 ? (int)(done * 20 / total) : 20;
    if (step > 20)
        step = 20;
    if (step == s->last_step)
        return;
    s->last_step = step;
    if (s->tty) {
        char bar[21];
        memset(bar, '#', (size_t)step);
        memset(bar + step, '.', (size_t)(20 - step));
        bar[20] = '\0';
        fprintf(stderr, "\r  %-16s [%s] %3d%%  %lld/%lld", stage, bar, step * 5, done, total);
        fflush(stderr);
    } else {
        log_emit(LOG_INFO, "build_ml_indexes progress",
                 json_pack("{s:s, s:I, s:I}", "stage", stage, "done", (json_int_t)done, "total",
                           (json_int_t)total));
    }
}

int cmd_build_ml_indexes(int argc, char **argv)
{
    const char *cmd = "build_ml_indexes";
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    cmd_getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == 'h') {
            build_help();
            return CMD_OK;
        }
        return cmd_getopt_error(cmd, argv, c);
    }
    if (optind < argc)
        return cmd_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    int rc = cmd_setup();
    if (rc != CMD_OK)
        return rc;
    db *d = NULL;
    if ((rc = cmd_open_db(cmd, &d)) != CMD_OK)
        return rc;
    progress_state ps = {.tty = isatty(STDERR_FILENO) == 1, .last_step = -1};
    char version[64] = "";
    sm_error err = {0};
    int64_t t0 = clock_now_ms();
    rc = ml_build_indexes(d, config_get()->data_dir, on_progress, &ps, version, &err);
    if (ps.tty && ps.stage[0])
        fputc('\n', stderr);
    db_close(d);
    if (rc < 0)
        return cmd_fail(cmd, "%s", err.message);
    double secs = (double)(clock_now_ms() - t0) / 1000.0;
    fprintf(stderr, "built ML version %s in %.2f s\n", version, secs);
    log_emit(LOG_INFO, "ml indexes built",
             json_pack("{s:s, s:f}", "version", version, "seconds", secs));
    return CMD_OK;
}
