/* seed.c — `smartmarket seed`: demo data for trying, testing and
 * benchmarking (the generator itself is src/shop/seed.c).
 *
 * It refuses a database that already holds a catalogue, orders or
 * customers unless --append is given, so a slip of DATABASE_URL cannot mix
 * demo rows into real data; --if-empty turns that refusal into a quiet
 * success for scripts that seed only a fresh database (scripts/start.sh).
 * Progress goes to stderr: a bar on a terminal, JSON lines (via the log)
 * otherwise, at most one per 5 % per phase. */
#include "cmd/cmd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "shop/seed.h"

static void seed_help(void)
{
    printf("Usage: smartmarket seed --products N --users N --orders N\n"
           "                        [--random-seed S] [--lines-per-order AVG]\n"
           "                        [--append | --if-empty]\n\n"
           "Fills the database with realistic demo data in one transaction: ~12\n"
           "categories with subcategories (French and English names), products with\n"
           "descriptions, prices, stock and attributes, customers, and orders over the\n"
           "last 365 days whose baskets follow bundles of complementary products (so\n"
           "recommendations have something to learn). The same --random-seed gives\n"
           "the same data.\n\n"
           "Options:\n"
           "  --products N            products to create (0-%d)\n"
           "  --users N               customers to create (0-%d); they all share the\n"
           "                          password '%s' (hashed once)\n"
           "  --orders N              orders to create (0-%d); need products and\n"
           "                          customers (created now or, with --append, existing)\n"
           "  --random-seed S         seed of the generator (default %d)\n"
           "  --lines-per-order AVG   average lines per order, 1-%g (default %g)\n"
           "  --append                add to a database that already has data\n"
           "  --if-empty              do nothing (exit 0) if the database has data\n"
           "  -h, --help              this help\n\n"
           "Environment: DATABASE_URL, DB_TIMEOUT_MS, SHOP_CURRENCY, LOG_LEVEL; see\n"
           "env.example.\n\n"
           "Exit status: 0 success, 1 failure (database not empty without --append,\n"
           "database error), 2 bad usage.\n",
           SEED_MAX_PRODUCTS, SEED_MAX_USERS, SEED_DEMO_PASSWORD, SEED_MAX_ORDERS,
           SEED_DEFAULT_RANDOM_SEED, SEED_MAX_LINES_PER_ORDER, SEED_DEFAULT_LINES_PER_ORDER);
}

static void on_progress(const char *phase, int64_t done, int64_t total, void *ctx)
{
    cmd_progress_update(ctx, phase, (long long)done, (long long)total);
}

/* A count option in [0, max]. */
static int parse_count(const char *cmd, const char *opt, const char *arg, long long max,
                       int64_t *out)
{
    long long n;
    if (cmd_parse_int64(arg, 0, max, &n) < 0)
        return cmd_usage_error(cmd, "%s: '%s' is not an integer from 0 to %lld", opt, arg, max);
    *out = n;
    return CMD_OK;
}

int cmd_seed_parse(int argc, char **argv, seed_options *o, bool *if_empty)
{
    static const struct option longopts[] = {
        {"products", required_argument, NULL, 'p'},
        {"users", required_argument, NULL, 'u'},
        {"orders", required_argument, NULL, 'o'},
        {"random-seed", required_argument, NULL, 's'},
        {"lines-per-order", required_argument, NULL, 'l'},
        {"append", no_argument, NULL, 'a'},
        {"if-empty", no_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "seed";
    int c, rc;
    long long n;
    char *end;
    seed_options_init(o);
    *if_empty = false;
    cmd_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': return -1;
        case 'p':
            if ((rc = parse_count(cmd, "--products", optarg, SEED_MAX_PRODUCTS, &o->products)))
                return rc;
            break;
        case 'u':
            if ((rc = parse_count(cmd, "--users", optarg, SEED_MAX_USERS, &o->users)))
                return rc;
            break;
        case 'o':
            if ((rc = parse_count(cmd, "--orders", optarg, SEED_MAX_ORDERS, &o->orders)))
                return rc;
            break;
        case 's':
            if (cmd_parse_int64(optarg, 0, (long long)(~0ULL >> 1), &n) < 0)
                return cmd_usage_error(cmd, "--random-seed: '%s' is not a non-negative integer",
                                       optarg);
            o->random_seed = (uint64_t)n;
            break;
        case 'l':
            errno = 0;
            o->lines_per_order = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(o->lines_per_order >= 1.0) ||
                o->lines_per_order > SEED_MAX_LINES_PER_ORDER)
                return cmd_usage_error(cmd, "--lines-per-order: '%s' is not a number from 1 to %g",
                                       optarg, SEED_MAX_LINES_PER_ORDER);
            break;
        case 'a': o->append = true; break;
        case 'e': *if_empty = true; break;
        default: return cmd_getopt_error(cmd, argv, c);
        }
    }
    if (optind < argc)
        return cmd_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (o->append && *if_empty)
        return cmd_usage_error(cmd, "--append and --if-empty exclude each other");
    if (o->products == 0 && o->users == 0 && o->orders == 0)
        return cmd_usage_error(cmd, "nothing to do: give --products, --users or --orders");
    return CMD_OK;
}

int cmd_seed(int argc, char **argv)
{
    const char *cmd = "seed";
    seed_options o;
    bool if_empty;
    int rc = cmd_seed_parse(argc, argv, &o, &if_empty);
    if (rc < 0) {
        seed_help();
        return CMD_OK;
    }
    if (rc != CMD_OK)
        return rc;
    if ((rc = cmd_setup()) != CMD_OK)
        return rc;
    db *d = NULL;
    if ((rc = cmd_open_db(cmd, &d)) != CMD_OK)
        return rc;

    sm_error err = {0};
    if (if_empty) {
        bool empty = false;
        if (seed_database_is_empty(d, &empty, &err) < 0) {
            db_close(d);
            return cmd_fail(cmd, "%s (is the database migrated?)", err.message);
        }
        if (!empty) {
            db_close(d);
            log_info("the database already has data; nothing seeded");
            return CMD_OK;
        }
    }
    cmd_progress ps;
    cmd_progress_init(&ps, "seed progress", "phase");
    o.currency = config_get()->currency;
    o.progress = on_progress;
    o.progress_ctx = &ps;
    seed_stats st;
    rc = seed_run(d, &o, &st, &err);
    cmd_progress_finish(&ps);
    db_close(d);
    if (rc < 0)
        return cmd_fail(cmd, "%s", err.message);
    /* stdout carries only JSON lines (the log_emit below); humans read stderr. */
    fprintf(stderr,
            "seeded %lld categories, %lld products, %lld customers, %lld orders "
            "(%lld lines) in %.2f s\n",
            (long long)st.categories, (long long)st.products, (long long)st.users,
            (long long)st.orders, (long long)st.order_items, st.seconds);
    if (st.users > 0)
        fprintf(stderr, "seeded customers log in with their email and the password '%s'\n",
                SEED_DEMO_PASSWORD);
    log_emit(LOG_INFO, "seeded",
             json_pack("{s:I, s:I, s:I, s:I, s:I, s:f}", "categories", (json_int_t)st.categories,
                       "products", (json_int_t)st.products, "users", (json_int_t)st.users, "orders",
                       (json_int_t)st.orders, "order_items", (json_int_t)st.order_items, "seconds",
                       st.seconds));
    return CMD_OK;
}
