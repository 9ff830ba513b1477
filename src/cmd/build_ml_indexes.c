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

static void on_progress(const char *stage, long long done, long long total, void *ctx)
{
    cmd_progress_update(ctx, stage, done, total);
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
    cmd_progress ps;
    cmd_progress_init(&ps, "build_ml_indexes progress", "stage");
    char version[64] = "";
    sm_error err = {0};
    int64_t t0 = clock_now_ms();
    rc = ml_build_indexes(d, config_get()->data_dir, on_progress, &ps, version, &err);
    cmd_progress_finish(&ps);
    db_close(d);
    if (rc < 0)
        return cmd_fail(cmd, "%s", err.message);
    double secs = (double)(clock_now_ms() - t0) / 1000.0;
    fprintf(stderr, "built ML version %s in %.2f s\n", version, secs);
    log_emit(LOG_INFO, "ml indexes built",
             json_pack("{s:s, s:f}", "version", version, "seconds", secs));
    return CMD_OK;
}
