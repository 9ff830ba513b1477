/* test_cmd_args.c — command-line parsing of the commands: accepted forms,
 * usage errors (exit status 2), --help, and the healthcheck URL parser.
 * Nothing here needs a database or the configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/cmd.h"
#include "shop/seed.h"

#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))

static void serve_parse_accepts_listen_and_workers(void **state)
{
    (void)state;
    cmd_serve_options o;
    char *plain[] = {"serve", NULL};
    assert_int_equal(cmd_serve_parse("serve", 1, plain, &o), CMD_OK);
    assert_string_equal(o.host, "");
    assert_int_equal(cmd_serve_parse("serve", ARGC("serve", "--listen", "0.0.0.0:9000"),
                                     ARGV("serve", "--listen", "0.0.0.0:9000"), &o),
                     CMD_OK);
    assert_string_equal(o.host, "0.0.0.0");
    assert_int_equal(o.port, 9000);
    assert_int_equal(o.workers, -1);
    assert_int_equal(cmd_serve_parse("run", ARGC("run", "--workers=auto", "--listen=[::1]:80"),
                                     ARGV("run", "--workers=auto", "--listen=[::1]:80"), &o),
                     CMD_OK);
    assert_int_equal(o.workers, 0);
    assert_string_equal(o.host, "::1");
    assert_int_equal(cmd_serve_parse("serve", ARGC("serve", "--workers", "4"),
                                     ARGV("serve", "--workers", "4"), &o),
                     CMD_OK);
    assert_int_equal(o.workers, 4);
    assert_int_equal(cmd_serve_parse("serve", ARGC("serve", "--help"), ARGV("serve", "--help"), &o),
                     -1);
}

static void serve_parse_rejects_bad_usage(void **state)
{
    (void)state;
    cmd_serve_options o;
    static const char *const bad[][3] = {
        {"serve", "--listen", "nope"}, {"serve", "--listen", "host:99999"},
        {"serve", "--workers", "0"},   {"serve", "--workers", "lots"},
        {"serve", "--workers", "-3"},  {"serve", "--bogus", "x"},
        {"serve", "extra", "args"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {(char *)bad[i][0], (char *)bad[i][1], (char *)bad[i][2], NULL};
        assert_int_equal(cmd_serve_parse("serve", 3, argv, &o), CMD_USAGE);
    }
    char *missing[] = {"serve", "--listen", NULL};
    assert_int_equal(cmd_serve_parse("serve", 2, missing, &o), CMD_USAGE);
}

static void seed_parse_reads_counts_and_flags(void **state)
{
    (void)state;
    seed_options o;
    bool if_empty;
    char *argv[] = {"seed", "--products",    "100", "--users",           "5",   "--orders",
                    "7",    "--random-seed", "99",  "--lines-per-order", "2.5", "--append",
                    NULL};
    assert_int_equal(cmd_seed_parse((int)(sizeof argv / sizeof argv[0]) - 1, argv, &o, &if_empty),
                     CMD_OK);
    assert_int_equal(o.products, 100);
    assert_int_equal(o.users, 5);
    assert_int_equal(o.orders, 7);
    assert_int_equal(o.random_seed, 99);
    assert_true(o.lines_per_order > 2.49 && o.lines_per_order < 2.51);
    assert_true(o.append);
    assert_false(if_empty);

    char *defaults[] = {"seed", "--products=3", "--if-empty", NULL};
    assert_int_equal(cmd_seed_parse(3, defaults, &o, &if_empty), CMD_OK);
    assert_int_equal(o.random_seed, SEED_DEFAULT_RANDOM_SEED);
    assert_true(if_empty);
    assert_false(o.append);
}

static void seed_parse_rejects_bad_usage(void **state)
{
    (void)state;
    seed_options o;
    bool if_empty;
    static const char *const bad[][3] = {
        {"seed", "--products", "-1"},
        {"seed", "--products", "ten"},
        {"seed", "--products", "99999999"},
        {"seed", "--lines-per-order", "0.5"},
        {"seed", "--lines-per-order", "nan"},
        {"seed", "--random-seed", "-4"},
        {"seed", "--users", "0"}, /* nothing to do */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {(char *)bad[i][0], (char *)bad[i][1], (char *)bad[i][2], NULL};
        assert_int_equal(cmd_seed_parse(3, argv, &o, &if_empty), CMD_USAGE);
    }
    char *both[] = {"seed", "--products=1", "--append", "--if-empty", NULL};
    assert_int_equal(cmd_seed_parse(4, both, &o, &if_empty), CMD_USAGE);
    char *help[] = {"seed", "--help", NULL};
    assert_int_equal(cmd_seed_parse(2, help, &o, &if_empty), -1);
}

static void http_url_parse_splits_host_port_path(void **state)
{
    (void)state;
    cmd_http_url u;
    assert_int_equal(cmd_http_url_parse("http://127.0.0.1:8000/health/ready/", &u), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_string_equal(u.port, "8000");
    assert_string_equal(u.path, "/health/ready/");
    assert_int_equal(cmd_http_url_parse("http://localhost", &u), 0);
    assert_string_equal(u.host, "localhost");
    assert_string_equal(u.port, "80");
    assert_string_equal(u.path, "/");
    assert_int_equal(cmd_http_url_parse("http://[::1]:81/x", &u), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.port, "81");
    assert_string_equal(u.path, "/x");

    static const char *const bad[] = {
        "https://a/",      "http://",        "http://:80/",  "http://a:0/",
        "http://a:70000/", "http://a:8x/",   "http://[::1/", "http://a/b c",
        "ftp://a/",        "http://[::1]x/", "http://a:/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cmd_http_url_parse(bad[i], &u), -1);
}

static void commands_answer_help_and_reject_unknown_options(void **state)
{
    (void)state;
    for (const cmd_entry *c = cmd_table; c->name; c++) {
        char *help[] = {(char *)c->name, "--help", NULL};
        char *bogus[] = {(char *)c->name, "--no-such-option", NULL};
        assert_int_equal(c->run(2, help), CMD_OK);
        assert_int_equal(c->run(2, bogus), CMD_USAGE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serve_parse_accepts_listen_and_workers),
        cmocka_unit_test(serve_parse_rejects_bad_usage),
        cmocka_unit_test(seed_parse_reads_counts_and_flags),
        cmocka_unit_test(seed_parse_rejects_bad_usage),
        cmocka_unit_test(http_url_parse_splits_host_port_path),
        cmocka_unit_test(commands_answer_help_and_reject_unknown_options),
    };
    return cmocka_run_group_tests_name("cmd_args", tests, NULL, NULL);
}
