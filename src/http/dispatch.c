/* dispatch.c — from a parsed request to a handler and back: the request's
 * derived fields (path, query, request id, client address), static files,
 * routing, 404/405, running the handler inline or on the worker pool, and
 * the access log.
 *
 * Where a handler runs: routes marked HTTP_ROUTE_INLINE run right here on
 * the event loop (they promise never to block); every other handler goes
 * to the libuv pool with uv_queue_work and its response is written from
 * the after-work callback, back on the loop that owns the connection.
 * Either way the thread's log correlation id is the request id while the
 * handler runs, so its log lines carry it. Errors the loop answers itself
 * (404, 405, the parser's 400/408/413/431) never leave the loop. */
#include "http/http_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"

http_exchange *http_exchange_begin(http_conn *c)
{
    if (c->ex)
        return c->ex;
    http_exchange *ex = arena_calloc(c->arena, 1, sizeof *ex);
    if (!ex)
        return NULL;
    ex->conn = c;
    ex->start_ns = uv_hrtime();
    ex->req.arena = c->arena;
    ex->req.query = "";
    ex->req.body = "";
    ex->req.remote_addr = c->peer;
    http_response_init(&ex->res, c->arena);
    c->ex = ex;
    return ex;
}

static void set_request_id(http_exchange *ex)
{
    const char *given = http_request_header(&ex->req, "x-request-id");
    if (given && http_request_id_valid(given)) {
        ex->req.request_id = given;
        return;
    }
    char *id = arena_alloc(ex->req.arena, 33);
    if (id) {
        http_request_id_generate(id);
        ex->req.request_id = id;
    } else {
        ex->req.request_id = "-";
    }
}

void http_dispatch_fail(http_conn *c, int status, const char *code, const char *message)
{
    if (c->state != HTTP_CONN_IDLE && c->state != HTTP_CONN_READING)
        return;
    http_exchange *ex = http_exchange_begin(c);
    if (!ex) {
        http_conn_close(c);
        return;
    }
    http_conn_begin_handling(c);
    c->must_close = true;
    if (!ex->req.method)
        ex->req.method = "-";
    if (!ex->req.path)
        ex->req.path = ex->req.raw_path = "-";
    set_request_id(ex);
    http_response_error(&ex->res, status, code, NULL, "%s", message);
    http_conn_respond(ex);
}

/* Splits the request target into raw path and query. */
static int split_target(http_exchange *ex, const char *url, size_t len)
{
    arena *a = ex->req.arena;
    if (len > 0 && url[0] == '/') {
        const char *q = memchr(url, '?', len);
        const char *hash = memchr(url, '#', len);
        size_t plen = q ? (size_t)(q - url) : hash ? (size_t)(hash - url) : len;
        ex->req.raw_path = arena_strndup(a, url, plen);
        if (q) {
            size_t qlen = (hash && hash > q ? (size_t)(hash - q) : len - plen) - 1;
            ex->req.query = arena_strndup(a, q + 1, qlen);
        }
    } else if (len == 1 && url[0] == '*') {
        ex->req.raw_path = "*";
    } else {
        /* absolute-form ("http://host/path?q"), as sent to proxies */
        struct http_parser_url u;
        http_parser_url_init(&u);
        if (http_parser_parse_url(url, len, 0, &u) != 0)
            return SM_EINVAL;
        if (u.field_set & (1 << UF_PATH))
            ex->req.raw_path =
                arena_strndup(a, url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
        else
            ex->req.raw_path = "/";
        if (u.field_set & (1 << UF_QUERY))
            ex->req.query =
                arena_strndup(a, url + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
    }
    if (!ex->req.raw_path || !ex->req.query)
        return SM_ENOMEM;
    if (ex->req.raw_path[0] == '*') {
        ex->req.path = "*";
        return 0;
    }
    ex->req.path = http_percent_decode(a, ex->req.raw_path, strlen(ex->req.raw_path), false);
    return ex->req.path ? 0 : SM_EINVAL;
}

/* Client address and scheme, from the proxy's headers when trusted. */
static void set_origin(http_exchange *ex, bool trust_proxy)
{
    if (!trust_proxy)
        return;
    const char *proto = http_request_header(&ex->req, "x-forwarded-proto");
    ex->req.secure = proto && strncasecmp(proto, "https", 5) == 0 &&
                     (proto[5] == '\0' || proto[5] == ',' || proto[5] == ' ');
    const char *xff = http_request_header(&ex->req, "x-forwarded-for");
    if (!xff)
        return;
    size_t len = strcspn(xff, ", ");
    if (len == 0 || len >= HTTP_ADDR_MAX)
        return;
    char *addr = arena_strndup(ex->req.arena, xff, len);
    if (addr)
        ex->req.remote_addr = addr;
}

static void run_handler(http_exchange *ex)
{
    log_set_correlation_id(ex->req.request_id);
    ex->match.fn(&ex->req, &ex->res, ex->match.ctx);
    log_set_correlation_id(NULL);
}

static void on_work(uv_work_t *work)
{
    run_handler(work->data);
}

static void on_work_done(uv_work_t *work, int status)
{
    http_exchange *ex = work->data;
    /* Read before work_finished, which may free the exchange with its conn. */
    bool ws = ex->res.websocket;
    const http_ws_callbacks *cb = ex->res.ws_cb;
    void *ctx = ex->res.ws_ctx;
    if (!http_conn_work_finished(ex->conn)) {
        if (ws && cb->on_close)
            cb->on_close(ctx, 1006); /* the client left while the handler ran */
        return;
    }
    if (status == UV_ECANCELED)
        http_response_error(&ex->res, 503, "unavailable", NULL, "the server is shutting down");
    http_conn_respond(ex);
}

static void route(http_conn *c, http_exchange *ex)
{
    const http_server *srv = c->w->srv;
    http_request *req = &ex->req;
    bool get = ex->head || strcmp(req->method, "GET") == 0;
    const char *prefix = srv->opt.static_prefix;
    if (srv->statics && prefix && *prefix && strncmp(req->path, prefix, strlen(prefix)) == 0) {
        if (get) {
            http_static_serve(srv->statics, req->path + strlen(prefix), req, &ex->res);
        } else {
            http_response_add_header(&ex->res, "Allow", "GET, HEAD");
            http_response_error(&ex->res, 405, "method_not_allowed", NULL, "%s is not allowed here",
                                req->method);
        }
        http_conn_respond(ex);
        return;
    }
    int rc = srv->router ? http_router_match(srv->router, req, &ex->match) : SM_ENOTFOUND;
    if (rc == SM_ENOTFOUND) {
        http_response_error(&ex->res, 404, "not_found", NULL, "no such resource");
    } else if (rc == SM_EINVAL) {
        http_response_add_header(&ex->res, "Allow", ex->match.allow);
        http_response_error(&ex->res, 405, "method_not_allowed", NULL, "%s is not allowed here",
                            req->method);
    } else if (rc < 0) {
        http_response_error(&ex->res, 503, "unavailable", NULL, "out of memory");
    } else if (ex->match.flags & HTTP_ROUTE_INLINE) {
        run_handler(ex);
    } else {
        ex->work.data = ex;
        c->work_pending = true;
        if (uv_queue_work(&c->w->loop, &ex->work, on_work, on_work_done) == 0)
            return;
        c->work_pending = false;
        http_response_error(&ex->res, 503, "unavailable", NULL, "cannot schedule the request");
    }
    http_conn_respond(ex);
}

void http_dispatch_request(http_conn *c)
{
    http_exchange *ex = c->ex;
    http_conn_begin_handling(c);
    http_request *req = &ex->req;
    req->method = http_method_str((enum http_method)c->parser.method);
    ex->head = c->parser.method == HTTP_HEAD;
    ex->http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
    req->headers = c->headers;
    req->header_count = c->header_count;
    if (c->body) {
        req->body = c->body;
        req->body_len = c->body_len;
    }
    set_request_id(ex);
    set_origin(ex, c->w->srv->opt.trust_proxy);
    int rc = split_target(ex, c->url ? c->url : "", c->url_len);
    if (rc < 0) {
        c->must_close = true;
        if (!req->path)
            req->path = req->raw_path ? req->raw_path : "-";
        if (!req->raw_path)
            req->raw_path = "-";
        if (rc == SM_ENOMEM)
            http_response_error(&ex->res, 503, "unavailable", NULL, "out of memory");
        else
            http_response_error(&ex->res, 400, "bad_request", NULL, "malformed request target");
        http_conn_respond(ex);
        return;
    }
    route(c, ex);
}

static json_t *str_or_dash(const char *s)
{
    json_t *j = s ? json_string(s) : NULL; /* NULL for invalid UTF-8 too */
    return j ? j : json_string("-");
}

void http_access_log(const http_exchange *ex)
{
    if (!log_enabled(LOG_INFO))
        return;
    const http_request *req = &ex->req;
    json_t *f = json_object();
    if (!f)
        return;
    double ms = (double)(uv_hrtime() - ex->start_ns) / 1e6;
    json_object_set_new(f, "method", str_or_dash(req->method));
    json_object_set_new(f, "path", str_or_dash(req->raw_path));
    json_object_set_new(f, "status", json_integer(ex->res.status));
    json_object_set_new(f, "bytes", json_integer((json_int_t)ex->body_sent));
    json_object_set_new(f, "duration_ms", json_real((double)(int64_t)(ms * 1000) / 1000));
    json_object_set_new(f, "remote_addr", str_or_dash(req->remote_addr));
    json_object_set_new(f, "user_agent", str_or_dash(http_request_header(req, "user-agent")));
    log_set_correlation_id(req->request_id);
    log_emit(LOG_INFO, "request", f);
    log_set_correlation_id(NULL);
}
