/* tasks.c — `smartmarket tasks`: the operator's view of the job table.
 *
 *   tasks inspect active|scheduled|failed [--queue Q] [--limit N]
 *   tasks retry ID | tasks cancel ID | tasks purge QUEUE
 *   tasks enqueue NAME [JSON]
 *
 * On a terminal, listings print as a table; otherwise as JSON lines (one
 * object per job, or one result object), so scripts can rely on them. The
 * work itself is jobs/admin.c, shared with the admin API. */
#include "cmd/cmd.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "jobs/queue.h"
#include "jobs/worker.h"

static void tasks_help(void)
{
    printf("Usage: smartmarket tasks COMMAND ...\n\n"
           "  inspect active|scheduled|failed [--queue Q] [--limit N]\n"
           "                       running jobs; waiting ones (scheduled, available);\n"
           "                       failed ones (retryable, discarded). Newest first.\n"
           "  retry ID             run a discarded/cancelled/retryable job again now\n"
           "  cancel ID            cancel a job that has not finished\n"
           "  purge QUEUE          delete the waiting jobs of QUEUE\n"
           "  enqueue NAME [JSON]  enqueue task NAME with JSON object arguments\n\n"
           "Output: a table on a terminal, JSON lines otherwise.\n");
}

static void print_json_line(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    if (s)
        printf("%s\n", s);
    free(s);
}

static const char *str_or(json_t *v, const char *def)
{
    return json_is_string(v) ? json_string_value(v) : def;
}

static int tasks_inspect(db *d, int argc, char **argv)
{
    static const struct option opts[] = {{"queue", required_argument, NULL, 'q'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {0, 0, 0, 0}};
    const char *queue = NULL, *states;
    long long limit = 50;
    json_t *page = NULL;
    sm_error err = {0};
    int c;
    cmd_getopt_reset();
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'q')
            queue = optarg;
        else if (c == 'l') {
            if (cmd_parse_int64(optarg, 1, 500, &limit) != 0)
                return cmd_usage_error("tasks", "--limit must be 1-500");
        } else
            return cmd_getopt_error("tasks", argv, c);
    }
    if (optind + 1 != argc)
        return cmd_usage_error("tasks", "inspect needs one of active, scheduled, failed");
    const char *what = argv[optind];
    if (strcmp(what, "active") == 0)
        states = "running";
    else if (strcmp(what, "scheduled") == 0)
        states = "scheduled,available";
    else if (strcmp(what, "failed") == 0)
        states = "retryable,discarded";
    else
        return cmd_usage_error("tasks", "inspect needs one of active, scheduled, failed");
    if (queue_list(d, states, queue, 1, (int)limit, &page, &err) != 0)
        return err.code == SM_EINVAL ? cmd_usage_error("tasks", "%s", err.message)
                                     : cmd_fail("tasks", "%s", err.message);
    json_t *items = json_object_get(page, "items"), *j;
    size_t i;
    bool tty = isatty(STDOUT_FILENO) == 1;
    if (tty)
        printf("%-8s %-12s %-22s %-10s %-7s %-24s %s\n", "ID", "QUEUE", "TASK", "STATE", "ATTEMPT",
               "RUN_AT", "LAST_ERROR");
    json_array_foreach(items, i, j)
    {
        if (!tty) {
            print_json_line(j);
            continue;
        }
        char attempt[24];
        snprintf(attempt, sizeof attempt, "%lld/%lld",
                 (long long)json_integer_value(json_object_get(j, "attempt")),
                 (long long)json_integer_value(json_object_get(j, "max_attempts")));
        printf("%-8lld %-12s %-22s %-10s %-7s %-24s %.60s\n",
               (long long)json_integer_value(json_object_get(j, "id")),
               str_or(json_object_get(j, "queue"), ""), str_or(json_object_get(j, "task"), ""),
               str_or(json_object_get(j, "state"), ""), attempt,
               str_or(json_object_get(j, "run_at"), "-"),
               str_or(json_object_get(j, "last_error"), ""));
    }
    if (tty && json_array_size(items) == 0)
        printf("(no %s jobs)\n", what);
    json_decref(page);
    return CMD_OK;
}

static int tasks_id_op(db *d, const char *op, int argc, char **argv)
{
    long long id;
    sm_error err = {0};
    if (argc != 2 || cmd_parse_int64(argv[1], 1, INT64_MAX, &id) != 0)
        return cmd_usage_error("tasks", "%s needs one job id", op);
    int rc = strcmp(op, "retry") == 0 ? queue_retry(d, id, &err) : queue_cancel(d, id, &err);
    if (rc)
        return cmd_fail("tasks", "%s", err.message);
    json_t *job = NULL;
    if (queue_get(d, id, &job, &err) == 0) {
        if (isatty(STDOUT_FILENO) == 1)
            printf("job %lld is now %s\n", id, str_or(json_object_get(job, "state"), "?"));
        else
            print_json_line(job);
    }
    json_decref(job);
    return CMD_OK;
}

static int tasks_purge(db *d, int argc, char **argv)
{
    int64_t n = 0;
    sm_error err = {0};
    if (argc != 2)
        return cmd_usage_error("tasks", "purge needs one queue name");
    if (!queue_name_valid(argv[1]))
        return cmd_usage_error("tasks", "invalid queue name '%.64s'", argv[1]);
    if (queue_purge(d, argv[1], &n, &err) != 0)
        return cmd_fail("tasks", "%s", err.message);
    if (isatty(STDOUT_FILENO) == 1)
        printf("deleted %lld waiting jobs from %s\n", (long long)n, argv[1]);
    else
        printf("{\"queue\":\"%s\",\"deleted\":%lld}\n", argv[1], (long long)n);
    return CMD_OK;
}

static int tasks_enqueue(db *d, int argc, char **argv)
{
    int64_t id = 0;
    bool existed = false;
    sm_error err = {0};
    if (argc < 2 || argc > 3)
        return cmd_usage_error("tasks", "enqueue needs NAME [JSON]");
    if (!jobs_task_find(argv[1]))
        return cmd_usage_error("tasks", "unknown task '%.64s'", argv[1]);
    int rc = jobs_enqueue(d, &(jobs_new){.task = argv[1], .args_json = argc == 3 ? argv[2] : NULL},
                          &id, &existed, &err);
    if (rc == SM_EINVAL || rc == SM_ETOOLARGE)
        return cmd_usage_error("tasks", "%s", err.message);
    if (rc)
        return cmd_fail("tasks", "%s", err.message);
    if (isatty(STDOUT_FILENO) == 1)
        printf("enqueued job %lld (%s)\n", (long long)id, argv[1]);
    else
        printf("{\"id\":%lld,\"task\":\"%s\",\"existed\":%s}\n", (long long)id, argv[1],
               existed ? "true" : "false");
    return CMD_OK;
}

int cmd_tasks(int argc, char **argv)
{
    db *d = NULL;
    int rc;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2)
            return cmd_usage_error("tasks", "a subcommand is required");
        tasks_help();
        return CMD_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "inspect") && strcmp(sub, "retry") && strcmp(sub, "cancel") &&
        strcmp(sub, "purge") && strcmp(sub, "enqueue"))
        return cmd_usage_error("tasks", "unknown subcommand '%.32s'", sub);
    if ((rc = cmd_setup()) != CMD_OK)
        return rc;
    if (worker_register_tasks() < 0)
        return cmd_fail("tasks", "cannot register the job tasks");
    if ((rc = cmd_open_db("tasks", &d)) != CMD_OK)
        return rc;
    if (strcmp(sub, "inspect") == 0)
        rc = tasks_inspect(d, argc - 1, argv + 1);
    else if (strcmp(sub, "purge") == 0)
        rc = tasks_purge(d, argc - 1, argv + 1);
    else if (strcmp(sub, "enqueue") == 0)
        rc = tasks_enqueue(d, argc - 1, argv + 1);
    else
        rc = tasks_id_op(d, sub, argc - 1, argv + 1);
    db_close(d);
    return rc;
}
