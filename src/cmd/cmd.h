/* cmd.h — one function per `smartmarket COMMAND`, one file per command in
 * src/cmd/. Each takes the arguments after the command name (argv[0] is the
 * command name), handles its own --help, and returns the process exit status:
 * 0 success, 1 failure (one-line reason on stderr), 2 bad usage. */
#ifndef SM_CMD_CMD_H
#define SM_CMD_CMD_H

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

/* The command table, terminated by {0}. */
extern const cmd_entry cmd_table[];

/* Loads the configuration and initialises logging (and libsodium); prints
 * the reason to stderr and returns non-zero on failure. Every command that
 * needs configuration calls this first. */
int cmd_setup(void);

#endif
