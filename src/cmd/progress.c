/* progress.c — the progress display shared by long commands (seed,
 * build_ml_indexes): a bar on a terminal, JSON lines otherwise, so that
 * scripts and containers read structured progress and people see a bar. */
#include "cmd/cmd.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

#define BAR_STEPS 20

void cmd_progress_init(cmd_progress *p, const char *msg, const char *key)
{
    memset(p, 0, sizeof *p);
    p->msg = msg;
    p->key = key;
    p->tty = isatty(STDERR_FILENO) == 1;
    p->last_step = -1;
}

void cmd_progress_update(cmd_progress *p, const char *stage, long long done, long long total)
{
    if (strcmp(p->stage, stage) != 0) {
        if (p->tty && p->stage[0])
            fputc('\n', stderr);
        snprintf(p->stage, sizeof p->stage, "%s", stage);
        p->last_step = -1;
    }
    int step = total > 0 ? (int)(done * BAR_STEPS / total) : BAR_STEPS;
    if (step > BAR_STEPS)
        step = BAR_STEPS;
    if (step == p->last_step)
        return;
    p->last_step = step;
    if (p->tty) {
        char bar[BAR_STEPS + 1];
        memset(bar, '#', (size_t)step);
        memset(bar + step, '.', (size_t)(BAR_STEPS - step));
        bar[BAR_STEPS] = '\0';
        fprintf(stderr, "\r  %-16s [%s] %3d%%  %lld/%lld", stage, bar, step * 100 / BAR_STEPS, done,
                total);
        fflush(stderr);
    } else {
        log_emit(LOG_INFO, p->msg,
                 json_pack("{s:s, s:I, s:I}", p->key, stage, "done", (json_int_t)done, "total",
                           (json_int_t)total));
    }
}

void cmd_progress_finish(cmd_progress *p)
{
    if (p->tty && p->stage[0])
        fputc('\n', stderr);
}
