/* main.c — `smartmarket COMMAND [ARGS]`: finds the command and runs it.
 * Nothing else lives here; each command is a file in src/cmd/. */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "version.h"

static void usage(FILE *out)
{
    fprintf(out,
            "SmartMarket %s — marketplace backend\n\n"
            "Usage: smartmarket COMMAND [OPTIONS]\n\nCommands:\n",
            SM_VERSION);
    for (const cmd_entry *c = cmd_table; c->name; c++)
        fprintf(out, "  %-18s %s\n", c->name, c->summary);
    fprintf(out, "\nRun 'smartmarket COMMAND --help' for a command's options.\n"
                 "Configuration comes from the environment; see env.example.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version"))
        return cmd_version(1, argv + 1);
    for (const cmd_entry *c = cmd_table; c->name; c++)
        if (!strcmp(argv[1], c->name))
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "smartmarket: unknown command '%s' (see 'smartmarket --help')\n", argv[1]);
    return 2;
}
