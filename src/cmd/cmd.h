/* cmd.h — one function per `smartmarket COMMAND`, one file per command in
 * src/cmd/. Each takes the arguments after the command name (argv[0] is the
 * command name), handles its own --help, and returns the process exit status:
 * 0 success, 1 failure (one-line reason on stderr), 2 bad usage. */
#ifndef SM_CMD_CMD_H
#define SM_CMD_CMD_H

#include <getopt.h>
#include <stdbool.h>

#include "db/db.h"

typedef struct cmd_entry {
    const char *name;
    const char *summary; /* one line for `smartmarket --help` */
    int (*run)(int argc, char **argv);
} cmd_entry;

int cmd_run(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_createsuperuser(int argc, char **argv);
int cmd_seed(int argc, char **argv);
int cmd_healthcheck(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_build_ml_indexes(int argc, char **argv);
int cmd_ml(int argc, char **argv); /* ml.c: ml evaluate */
int cmd_beat(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_tasks(int argc, char **argv);

/* The command table, terminated by {0}. */
extern const cmd_entry cmd_table[];

/* Loads the configuration and initialises logging (and libsodium); prints
 * the reason to stderr and returns non-zero on failure. Every command that
 * needs configuration calls this first. */
int cmd_setup(void);

/* ---- shared by the command files (util.c) ---- */

/* Exit statuses of every command. */
enum { CMD_OK = 0, CMD_FAIL = 1, CMD_USAGE = 2 };

/* Prints "smartmarket CMD: MESSAGE (see 'smartmarket CMD --help')" to
 * stderr and returns CMD_USAGE. */
int cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "smartmarket CMD: MESSAGE" to stderr and returns CMD_FAIL. */
int cmd_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets getopt for a fresh parse of argv (so parsers can run twice in one
 * process, e.g. in tests) and silences its own messages. */
void cmd_getopt_reset(void);

/* Reports getopt_long's '?' or ':' result as a usage error: unknown
 * option or missing argument. Returns CMD_USAGE. */
int cmd_getopt_error(const char *cmd, char **argv, int c);

/* Parses a non-negative decimal integer within [min, max]. Returns 0 or -1. */
int cmd_parse_int64(const char *s, long long min, long long max, long long *out);

/* Opens a connection to the configured database (cmd_setup first).
 * Prints the reason and returns CMD_FAIL on failure. */
int cmd_open_db(const char *cmd, db **out);

/* ---- serve and run share their options (serve.c) ---- */

typedef struct cmd_serve_options {
    char host[256]; /* "" = from SMARTMARKET_LISTEN */
    int port;       /* -1 = from SMARTMARKET_LISTEN */
    int workers;    /* -1 = from SMARTMARKET_WORKERS, 0 = auto */
} cmd_serve_options;

/* Parses [--listen HOST:PORT] [--workers N|auto] [--help] into `o`.
 * Returns CMD_OK, CMD_USAGE after printing a usage message, or -1 when
 * --help was given (the caller prints its help and exits 0). */
int cmd_serve_parse(const char *cmd, int argc, char **argv, cmd_serve_options *o);

/* Prints the options and environment part of serve's and run's --help. */
void cmd_serve_help_options(void);

/* Refuses (CMD_FAIL) unless the database's migrations are current, then
 * builds the router and serves until SIGTERM/SIGINT. cmd_setup() first.
 * Returns an exit status. */
int cmd_serve_start(const char *cmd, const cmd_serve_options *o);

/* ---- beat and run share the scheduler's set-up (beat.c) ---- */

struct beat;
struct beat_schedule;

/* Sets the zone (BEAT_TIMEZONE), registers the tasks and reads the schedule
 * (BEAT_SCHEDULE or the built-in one) into *s, checking every task exists.
 * cmd_setup() first. Prints the reason naming the variable and returns
 * CMD_FAIL on failure. */
int cmd_beat_schedule(const char *cmd, struct beat_schedule *s);

/* cmd_beat_schedule, then a beat with BEAT_LEASE_SECONDS and its own
 * connection, not started: *out is the caller's (beat_stop, beat_free). */
int cmd_beat_new(const char *cmd, struct beat **out);

/* ---- seed (seed.c) ---- */

struct seed_options;

/* Parses seed's options into `o` (seed_options_init first) and *if_empty.
 * Returns CMD_OK, CMD_USAGE after a message, or -1 for --help. */
int cmd_seed_parse(int argc, char **argv, struct seed_options *o, bool *if_empty);

/* ---- healthcheck (healthcheck.c) ---- */

typedef struct cmd_http_url {
    char host[256];
    char port[8];
    char path[1024];
} cmd_http_url;

/* Splits "http://HOST[:PORT][/PATH]" (HOST may be "[v6]"). Returns 0 or -1. */
int cmd_http_url_parse(const char *url, cmd_http_url *out);

/* Progress of long work: a bar on stderr when it is a terminal, else one
 * JSON log line per 5 % step, {"msg": MSG, KEY: stage, "done", "total"}. */
typedef struct cmd_progress {
    const char *msg; /* log message, e.g. "seed progress" (static) */
    const char *key; /* field naming the stage, e.g. "phase" (static) */
    int tty;
    char stage[32];
    int last_step; /* last reported 5 % step of this stage, -1 none */
} cmd_progress;

void cmd_progress_init(cmd_progress *p, const char *msg, const char *key);
void cmd_progress_update(cmd_progress *p, const char *stage, long long done, long long total);
/* Ends the bar's line, if one was drawn. */
void cmd_progress_finish(cmd_progress *p);

#endif
