/* ml.c — `smartmarket ml evaluate`: offline evaluation, printed as a table.
 *
 * Recommendations: the purchase history is read from the database, each
 * sampled customer's last order is held out, the models are trained on the
 * rest and scored (ml/rec_eval.h: HR@k and NDCG@k for popularity,
 * co-purchase, ALS and the blend, in the "next-order" and "basket"
 * protocols). Search: when a version is built, the labelled queries of
 * --queries are run through ml_search_evaluate() (hybrid against BM25).
 * The table goes to stdout; --json prints one JSON object instead. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd/cmd.h"
#include "core/config.h"
#include "ml/rec_eval.h"
#include "ml/search.h"
#include "ml/snapshot.h"

static void ml_help(void)
{
    printf("Usage: smartmarket ml evaluate [--sample N] [--k N] [--factors N]\n"
           "                              [--queries PATH] [--json]\n\n"
           "Offline evaluation. Recommendations: hold out the last order of N sampled\n"
           "customers (default 2000) with two orders or more, train on every other\n"
           "order, and report HR@k and NDCG@k (k default 10) of popularity,\n"
           "co-purchase, ALS (--factors, default 32) and the blend, for the next order\n"
           "from history alone and for completing the basket given its first item.\n"
           "Search (when an index is built): nDCG@10 and recall@10 of hybrid and BM25\n"
           "on the labelled queries of --queries (default tests/ml/queries.json).\n\n"
           "Environment: DATABASE_URL, SMARTMARKET_DATA_DIR; see env.example.\n"
           "Exit status: 0 success, 1 failure, 2 bad usage.\n");
}

/* Weak: the search evaluation lives in the search engineer's module and
 * may be absent from a build; the recommendation table does not need it. */
#pragma weak ml_search_evaluate

static json_t *search_rows(const char *queries)
{
    const sm_config *cfg = config_get();
    json_t *out = NULL;
    sm_error err = {0};
    if (!ml_search_evaluate || access(queries, R_OK) != 0)
        return NULL;
    snapshot *s = snapshot_acquire(cfg->data_dir);
    if (!s)
        return NULL;
    if (ml_search_evaluate(s, queries, &out, &err) < 0) {
        fprintf(stderr, "smartmarket ml: search evaluation: %s\n", err.message);
        out = NULL;
    }
    snapshot_release(s);
    return out;
}

static int evaluate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"sample", required_argument, 0, 's'},
        {"k", required_argument, 0, 'k'},
        {"factors", required_argument, 0, 'f'},
        {"queries", required_argument, 0, 'q'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    rec_eval_params p;
    rec_eval_params_init(&p);
    const char *queries = "tests/ml/queries.json";
    bool as_json = false;
    long long v;
    int c;
    cmd_getopt_reset();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (cmd_parse_int64(optarg, 1, 1000000, &v) < 0)
                return cmd_usage_error("ml", "--sample must be 1 to 1000000");
            p.sample_users = (int)v;
            break;
        case 'k':
            if (cmd_parse_int64(optarg, 1, 50, &v) < 0)
                return cmd_usage_error("ml", "--k must be 1 to 50");
            p.k = (int)v;
            break;
        case 'f':
            if (cmd_parse_int64(optarg, 1, ALS_FACTORS_MAX, &v) < 0)
                return cmd_usage_error("ml", "--factors must be 1 to %d", ALS_FACTORS_MAX);
            p.build.als.factors = (int)v;
            break;
        case 'q': queries = optarg; break;
        case 'j': as_json = true; break;
        case 'h': ml_help(); return CMD_OK;
        default: return cmd_getopt_error("ml", argv, c);
        }
    }
    if (optind != argc)
        return cmd_usage_error("ml", "unexpected argument '%s'", argv[optind]);
    if (cmd_setup() != CMD_OK)
        return CMD_FAIL;
    db *d = NULL;
    if (cmd_open_db("ml", &d) != CMD_OK)
        return CMD_FAIL;
    rec_data *rd = NULL;
    rec_eval_row rows[REC_EVAL_ROWS] = {0};
    double train_s = 0;
    sm_error err = {0};
    int rc = rec_data_load(d, &rd, &err);
    db_close(d);
    if (rc == 0)
        rc = rec_evaluate(rd, &p, rows, &train_s, &err);
    if (rc < 0) {
        rec_data_free(rd);
        return cmd_fail("ml", "%s", err.message);
    }
    json_t *search = search_rows(queries);
    if (as_json) {
        json_t *list = json_array();
        for (int i = 0; i < REC_EVAL_ROWS; i++)
            json_array_append_new(list, json_pack("{ss ss sf sf si}", "protocol", rows[i].protocol,
                                                  "method", rows[i].method, "hr", rows[i].hr,
                                                  "ndcg", rows[i].ndcg, "users", rows[i].users));
        json_t *o =
            json_pack("{si si sI sI sf so so*}", "k", p.k, "sample", p.sample_users, "customers",
                      (json_int_t)rd->n_users, "order_lines", (json_int_t)rd->n_lines,
                      "train_seconds", train_s, "recommendations", list, "search", search);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(o);
    } else {
        printf("Recommendations: %d customers sampled of %d, %lld order lines, trained in "
               "%.1f s\n\n",
               p.sample_users, rd->n_users, (long long)rd->n_lines, train_s);
        printf("%-11s %-12s %7s %8s %8s %9s\n", "protocol", "method", "users", "HR@k", "NDCG@k",
               "HR/pop");
        for (int i = 0; i < REC_EVAL_ROWS; i++) {
            double base = rows[i - i % 4].hr; /* the protocol's popularity row */
            printf("%-11s %-12s %7d %8.4f %8.4f %8.2fx\n", rows[i].protocol, rows[i].method,
                   rows[i].users, rows[i].hr, rows[i].ndcg, base > 0 ? rows[i].hr / base : 0);
        }
        printf("(k = %d)\n", p.k);
        if (search) {
            size_t i;
            json_t *row;
            printf("\nSearch: %lld labelled queries\n\n%-12s %9s %10s\n",
                   (long long)json_integer_value(json_object_get(search, "queries")), "method",
                   "nDCG@10", "recall@10");
            json_array_foreach(json_object_get(search, "rows"), i, row)
            {
                printf("%-12s %9.4f %10.4f\n", json_string_value(json_object_get(row, "method")),
                       json_number_value(json_object_get(row, "ndcg@10")),
                       json_number_value(json_object_get(row, "recall@10")));
            }
        } else {
            printf("\nSearch: no built index or no query file (%s); skipped\n", queries);
        }
        json_decref(search);
    }
    rec_data_free(rd);
    return CMD_OK;
}

int cmd_ml(int argc, char **argv)
{
    if (argc < 2)
        return cmd_usage_error("ml", "a subcommand is needed: evaluate");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        ml_help();
        return CMD_OK;
    }
    if (strcmp(argv[1], "evaluate") == 0)
        return evaluate(argc - 1, argv + 1);
    return cmd_usage_error("ml", "unknown subcommand '%s'", argv[1]);
}
