/* version.c — `smartmarket version`: the program's version and the
 * versions of the libraries it is linked with at run time (what a bug
 * report needs: a distribution may ship a different SQLite than the one
 * the program was built against). */
#include "cmd/cmd.h"

#include <stdio.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>
#include <uv.h>

#include "version.h"

static void version_help(void)
{
    printf("Usage: smartmarket version\n\n"
           "Prints 'smartmarket VERSION' and the versions of the linked libraries\n"
           "(SQLite, libpq, libuv, jansson, libsodium). Reads no environment.\n\n"
           "Exit status: 0, or 2 on bad usage.\n");
}

int cmd_version(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    cmd_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == 'h') {
            version_help();
            return CMD_OK;
        }
        return cmd_getopt_error("version", argv, c);
    }
    if (optind < argc)
        return cmd_usage_error("version", "unexpected argument '%s'", argv[optind]);

    int pq = PQlibVersion(); /* e.g. 150004 for 15.4 */
    printf("smartmarket %s\n", SM_VERSION);
    printf("  sqlite3    %s\n", sqlite3_libversion());
    printf("  libpq      %d.%d\n", pq / 10000, pq % 10000);
    printf("  libuv      %s\n", uv_version_string());
    printf("  jansson    %s\n", JANSSON_VERSION);
    printf("  libsodium  %s\n", sodium_version_string());
    return CMD_OK;
}
