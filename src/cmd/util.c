/* util.c — small helpers every command uses: the wording of usage errors
 * and failures (one line on stderr, the operator contract of DESIGN.md),
 * getopt resets, integer parsing and opening the configured database. */
#include "cmd/cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/config.h"

int cmd_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "smartmarket %s: %s (see 'smartmarket %s --help')\n", cmd, msg, cmd);
    return CMD_USAGE;
}

int cmd_fail(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "smartmarket %s: %s\n", cmd, msg);
    return CMD_FAIL;
}

void cmd_getopt_reset(void)
{
    optind = 0; /* GNU: 0 also resets getopt's internal state */
    opterr = 0;
}

int cmd_getopt_error(const char *cmd, char **argv, int c)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (c == ':')
        return cmd_usage_error(cmd, "option '%s' needs a value", arg);
    if (optopt)
        return cmd_usage_error(cmd, "unknown option '-%c'", optopt);
    return cmd_usage_error(cmd, "unknown option '%s'", arg);
}

int cmd_parse_int64(const char *s, long long min, long long max, long long *out)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno || *end || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

int cmd_open_db(const char *cmd, db **out)
{
    const sm_config *cfg = config_get();
    sm_error err = {0};
    if (!cfg)
        return cmd_fail(cmd, "configuration not loaded");
    if (db_open(cfg->database_url, cfg->db_timeout_ms, out, &err) < 0)
        return cmd_fail(cmd, "cannot open the database: %s", err.message);
    return CMD_OK;
}
