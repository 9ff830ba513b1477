/* jobs_api.c — /api/admin/jobs/ and /api/admin/workers/: the operator's
 * view of the job queue (the dashboard builds on it), over jobs/admin.c.
 *
 * Staff and admins may read (queues, job lists, one job, workers); only
 * admins may act (enqueue, retry, cancel, purge). Errors:
 *   404 not_found        no such job
 *   409 conflict         a transition the job's state does not allow
 *   400 validation_error bad filter, unknown task, bad args */
#include <stdlib.h>
#include <string.h>

#include "api/api_util.h"
#include "api/routes.h"
#include "jobs/queue.h"

static void jobs_queues(http_request *req, http_response *res, const api_principal *who)
{
    sm_error err = {0};
    json_t *out = NULL;
    db *d = api_db(res);
    (void)req, (void)who;
    if (!d)
        return;
    int rc = queue_stats(d, &out, &err);
    if (rc)
        api_error_from_code(res, rc, &err);
    else
        http_response_json(res, 200, json_pack("{so}", "queues", out));
}

static void jobs_list(http_request *req, http_response *res, const api_principal *who)
{
    sm_error err = {0};
    json_t *out = NULL;
    int64_t page, size;
    db *d;
    (void)who;
    if (api_query_int(req, res, "page", 1, 1, 100000, &page) ||
        api_query_int(req, res, "page_size", 50, 1, 500, &size) || !(d = api_db(res)))
        return;
    int rc = queue_list(d, http_request_query(req, "state"), http_request_query(req, "queue"),
                        (int)page, (int)size, &out, &err);
    if (rc == SM_EINVAL)
        http_response_error(res, 400, "validation_error", json_pack("{ss}", "state", err.message),
                            "%s", err.message);
    else if (rc)
        api_error_from_code(res, rc, &err);
    else
        http_response_json(res, 200, out);
}

static void jobs_get(http_request *req, http_response *res, const api_principal *who)
{
    sm_error err = {0};
    json_t *out = NULL;
    int64_t id;
    db *d;
    (void)who;
    if (!api_path_id(req, "id", &id)) {
        http_response_error(res, 404, "not_found", NULL, "no such job");
        return;
    }
    if (!(d = api_db(res)))
        return;
    int rc = queue_get(d, id, &out, &err);
    if (rc)
        api_error_from_code(res, rc, &err);
    else
        http_response_json(res, 200, out);
}

static void jobs_transition(http_request *req, http_response *res, bool retry)
{
    sm_error err = {0};
    json_t *out = NULL;
    int64_t id;
    db *d;
    if (!api_path_id(req, "id", &id)) {
        http_response_error(res, 404, "not_found", NULL, "no such job");
        return;
    }
    if (!(d = api_db(res)))
        return;
    int rc = retry ? queue_retry(d, id, &err) : queue_cancel(d, id, &err);
    if (rc == 0)
        rc = queue_get(d, id, &out, &err);
    if (rc)
        api_error_from_code(res, rc, &err);
    else
        http_response_json(res, 200, out);
}

static void jobs_retry(http_request *req, http_response *res, const api_principal *who)
{
    (void)who;
    jobs_transition(req, res, true);
}

static void jobs_cancel(http_request *req, http_response *res, const api_principal *who)
{
    (void)who;
    jobs_transition(req, res, false);
}

static void jobs_create(http_request *req, http_response *res, const api_principal *who)
{
    sm_error err = {0};
    json_t *body, *details = json_object(), *out = NULL;
    const char *task = NULL;
    char *args = NULL;
    int64_t id = 0;
    bool existed = false;
    db *d;
    (void)who;
    if (!details) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        return;
    }
    if (!(body = api_parse_body(req, res))) {
        json_decref(details);
        return;
    }
    api_field_string(body, "task", true, 1, QUEUE_NAME_MAX, &task, details);
    json_t *a = json_object_get(body, "args");
    if (a && !json_is_object(a))
        json_object_set_new(details, "args", json_string("must be an object"));
    else if (task && !jobs_task_find(task))
        json_object_set_new(details, "task", json_string("no such task"));
    if (api_fail_validation(res, details))
        goto done;
    if (a && !(args = json_dumps(a, JSON_COMPACT))) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        goto done;
    }
    if (!(d = api_db(res)))
        goto done;
    int rc = jobs_enqueue(d, &(jobs_new){.task = task, .args_json = args}, &id, &existed, &err);
    if (rc == SM_EINVAL || rc == SM_ETOOLARGE)
        http_response_error(res, 400, "validation_error", json_pack("{ss}", "args", err.message),
                            "%s", err.message);
    else if (rc || (rc = queue_get(d, id, &out, &err)))
        api_error_from_code(res, rc, &err);
    else
        http_response_json(res, existed ? 200 : 201, out);
done:
    free(args);
    json_decref(body);
}

static void jobs_purge(http_request *req, http_response *res, const api_principal *who)
{
    sm_error err = {0};
    const char *queue = http_request_param(req, "queue");
    int64_t n = 0;
    db *d;
    (void)who;
    if (!queue_name_valid(queue)) {
        http_response_error(res, 404, "not_found", NULL, "no such queue");
        return;
    }
    if (!(d = api_db(res)))
        return;
    int rc = queue_purge(d, queue, &n, &err);
    if (rc)
        api_error_from_code(res, rc, &err);
    else
        http_response_json(res, 200,
                           json_pack("{ss sI}", "queue", queue, "deleted", (json_int_t)n));
}

static void workers_list(http_request *req, http_response *res, const api_principal *who)
{
    sm_error err = {0};
    json_t *out = NULL;
    db *d = api_db(res);
    (void)req, (void)who;
    if (!d)
        return;
    int rc = queue_workers(d, QUEUE_WORKER_ALIVE_MS, &out, &err);
    if (rc)
        api_error_from_code(res, rc, &err);
    else
        http_response_json(res, 200, json_pack("{so}", "workers", out));
}

int api_jobs_routes(http_router *r)
{
    static const api_route_def routes[] = {
        {"GET", "/api/admin/jobs/queues/", jobs_queues, API_STAFF_OR_ADMIN},
        {"DELETE", "/api/admin/jobs/queues/{queue}/", jobs_purge, API_ADMIN},
        {"GET", "/api/admin/jobs/", jobs_list, API_STAFF_OR_ADMIN},
        {"POST", "/api/admin/jobs/", jobs_create, API_ADMIN},
        {"GET", "/api/admin/jobs/{id}/", jobs_get, API_STAFF_OR_ADMIN},
        {"POST", "/api/admin/jobs/{id}/retry/", jobs_retry, API_ADMIN},
        {"POST", "/api/admin/jobs/{id}/cancel/", jobs_cancel, API_ADMIN},
        {"GET", "/api/admin/workers/", workers_list, API_STAFF_OR_ADMIN},
    };
    return api_routes_add(r, routes, sizeof routes / sizeof routes[0]);
}
