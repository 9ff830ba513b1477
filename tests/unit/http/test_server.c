/* test_server.c — the HTTP server end to end over raw TCP: keep-alive and
 * pipelining, chunked bodies, Expect: 100-continue, the limits (413, 431,
 * 400), 404/405 bodies, request ids, security headers, the slowloris
 * timeout (408), static files (ETag → 304, gzip, traversal), a streamed
 * response written from another thread, HEAD, HTTP/1.0, and the graceful
 * stop with a request in flight.
 *
 * The server runs in a thread on 127.0.0.1 with an ephemeral port that
 * on_ready reports. Every socket read has a timeout so a bug fails the
 * test instead of hanging it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/log.h"
#include "http/http.h"

/* ---- the server under test ---- */

static int g_port;
static pthread_t g_thread;
static int g_run_rc = -999;
static http_router *g_router;
static char g_static_dir[] = "/tmp/sm-http-test-XXXXXX";
static char g_js[4096];
static pthread_mutex_t g_ready_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_ready_cv = PTHREAD_COND_INITIALIZER;

static void h_hello(http_request *req, http_response *res, void *ctx)
{
    (void)req, (void)ctx;
    http_response_set_body(res, "hello", 5, "text/plain");
}

static void h_pool(http_request *req, http_response *res, void *ctx)
{
    (void)ctx;
    /* the correlation id is the request id while the handler runs */
    http_response_json(res, 200,
                       json_pack("{s:s, s:b}", "cid", log_correlation_id(), "same",
                                 strcmp(log_correlation_id(), req->request_id) == 0));
}

static void h_echo(http_request *req, http_response *res, void *ctx)
{
    (void)ctx;
    http_response_set_body(res, req->body, req->body_len, "application/octet-stream");
}

static void h_item(http_request *req, http_response *res, void *ctx)
{
    (void)ctx;
    http_response_add_header(res, "X-Item", http_request_param(req, "id"));
    http_response_set_status(res, 204);
}

static atomic_int g_slow_started; /* h_slow calls so far */

static void h_slow(http_request *req, http_response *res, void *ctx)
{
    (void)req, (void)ctx;
    atomic_fetch_add(&g_slow_started, 1);
    usleep(400 * 1000);
    http_response_set_body(res, "slow", 4, "text/plain");
}

static void *stream_writer(void *arg)
{
    http_stream *s = arg;
    for (int i = 0; i < 3; i++) {
        char line[32];
        int n = snprintf(line, sizeof line, "data: %d\n\n", i);
        http_stream_write(s, line, (size_t)n);
        usleep(20 * 1000);
    }
    http_stream_end(s);
    return NULL;
}

static void stream_open(http_stream *s, void *ctx)
{
    (void)ctx;
    pthread_t t;
    if (pthread_create(&t, NULL, stream_writer, s) == 0)
        pthread_detach(t);
    else
        http_stream_end(s);
}

static int g_stream_closed;
static void stream_closed(void *ctx)
{
    (void)ctx;
    __atomic_add_fetch(&g_stream_closed, 1, __ATOMIC_SEQ_CST);
}

static void h_stream(http_request *req, http_response *res, void *ctx)
{
    (void)req, (void)ctx;
    http_response_stream(res, "text/event-stream", stream_open, stream_closed, NULL);
}

static void on_ready(const char *url, void *ctx)
{
    (void)ctx;
    const char *colon = strrchr(url, ':');
    pthread_mutex_lock(&g_ready_mu);
    g_port = atoi(colon + 1);
    pthread_cond_signal(&g_ready_cv);
    pthread_mutex_unlock(&g_ready_mu);
}

static void *server_main(void *arg)
{
    (void)arg;
    http_server_options o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.workers = 2;
    o.blocking_threads = 4;
    o.max_body_bytes = 4096;
    o.max_header_bytes = 8192;
    o.max_headers = 64;
    o.max_connections = 100;
    o.idle_timeout_ms = 5000;
    o.read_timeout_ms = 300;
    o.write_timeout_ms = 2000;
    o.shutdown_timeout_ms = 3000;
    o.static_dir = g_static_dir;
    o.static_prefix = "/static/";
    o.on_ready = on_ready;
    sm_error err = {0};
    g_run_rc = http_server_run(&o, g_router, &err);
    if (g_run_rc != 0)
        fprintf(stderr, "server: %s\n", err.message);
    pthread_mutex_lock(&g_ready_mu);
    pthread_cond_signal(&g_ready_cv);
    pthread_mutex_unlock(&g_ready_mu);
    return NULL;
}

static void write_file(const char *name, const char *data)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", g_static_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static int group_setup(void **state)
{
    (void)state;
    log_init(getenv("SM_TEST_VERBOSE") ? LOG_DEBUG : LOG_WARNING, NULL, NULL);
    if (!mkdtemp(g_static_dir))
        return -1;
    size_t n = 0;
    while (n + 40 < sizeof g_js)
        n += (size_t)snprintf(g_js + n, sizeof g_js - n, "console.log('line %zu');\n", n);
    write_file("app.js", g_js);
    write_file("index.html", "<!doctype html><title>t</title>");
    g_router = http_router_new();
    http_router_add(g_router, "GET", "/hello", h_hello, NULL, HTTP_ROUTE_INLINE);
    http_router_add(g_router, "GET", "/pool", h_pool, NULL, 0);
    http_router_add(g_router, "POST", "/echo", h_echo, NULL, 0);
    http_router_add(g_router, "GET", "/items/{id}", h_item, NULL, HTTP_ROUTE_INLINE);
    http_router_add(g_router, "POST", "/items/{id}", h_item, NULL, HTTP_ROUTE_INLINE);
    http_router_add(g_router, "GET", "/slow", h_slow, NULL, 0);
    http_router_add(g_router, "GET", "/stream", h_stream, NULL, HTTP_ROUTE_INLINE);
    pthread_mutex_lock(&g_ready_mu);
    pthread_create(&g_thread, NULL, server_main, NULL);
    while (g_port == 0 && g_run_rc == -999)
        pthread_cond_wait(&g_ready_cv, &g_ready_mu);
    pthread_mutex_unlock(&g_ready_mu);
    return g_port ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    http_router_free(g_router);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_static_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- a tiny client (tests/unit/http/raw_client.h) ---- */

typedef raw_client client;

typedef struct response {
    int status;
    char head[8192];
    char body[1 << 15];
    size_t body_len;
} response;

static client *client_open(void)
{
    return raw_client_open(g_port, 0);
}

static void client_sends(client *c, const char *s)
{
    raw_client_send(c, s, strlen(s));
}

/* A header's value from a response head, or NULL. */
static const char *header(const response *r, const char *name, char *out, size_t cap)
{
    char key[128];
    snprintf(key, sizeof key, "\r\n%s:", name);
    const char *p = strcasestr(r->head, key);
    if (!p)
        return NULL;
    p += strlen(key);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

static bool client_response(client *c, response *r, bool head_request)
{
    memset(r, 0, sizeof *r);
    unsigned char *end;
    for (;;) {
        end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (end)
            break;
        if (raw_client_fill(c) <= 0)
            return false;
    }
    size_t hlen = (size_t)(end - c->buf) + 4;
    assert_true(hlen < sizeof r->head);
    memcpy(r->head, c->buf, hlen);
    r->head[hlen] = '\0';
    raw_client_consume(c, hlen);
    r->status = atoi(r->head + 9);
    char v[64];
    if (head_request || r->status == 204 || r->status == 304 || r->status == 100)
        return true;
    if (header(r, "Content-Length", v, sizeof v)) {
        size_t n = (size_t)atol(v);
        assert_true(n < sizeof r->body);
        if (!raw_client_need(c, n))
            return false;
        memcpy(r->body, c->buf, n);
        r->body_len = n;
        raw_client_consume(c, n);
        return true;
    }
    if (header(r, "Transfer-Encoding", v, sizeof v) && strcmp(v, "chunked") == 0) {
        for (;;) {
            unsigned char *crlf;
            while (!(crlf = c->len ? memmem(c->buf, c->len, "\r\n", 2) : NULL)) {
                if (raw_client_fill(c) <= 0)
                    return false;
            }
            size_t n = strtoul((const char *)c->buf, NULL, 16);
            raw_client_consume(c, (size_t)(crlf - c->buf) + 2);
            if (!raw_client_need(c, n + 2))
                return false;
            assert_true(r->body_len + n < sizeof r->body);
            memcpy(r->body + r->body_len, c->buf, n);
            r->body_len += n;
            raw_client_consume(c, n + 2);
            if (n == 0)
                return true;
        }
    }
    while (raw_client_fill(c) > 0) {
    }
    memcpy(r->body, c->buf, c->len);
    r->body_len = c->len;
    c->len = 0;
    return true;
}

/* True when the server closed the connection (EOF within the timeout). */
static bool client_eof(client *c)
{
    return c->len == 0 && raw_client_fill(c) == 0;
}

static response *get(const char *request, bool head_request)
{
    static response r;
    client *c = client_open();
    client_sends(c, request);
    assert_true(client_response(c, &r, head_request));
    raw_client_close(c);
    return &r;
}

/* ---- tests ---- */

static void keepalive_pipelined_requests_answered_in_order(void **state)
{
    (void)state;
    client *c = client_open();
    client_sends(c, "GET /pool HTTP/1.1\r\nHost: t\r\nX-Request-ID: first-1\r\n\r\n"
                    "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                    "GET /items/7 HTTP/1.1\r\nHost: t\r\n\r\n");
    response r;
    char v[128];
    assert_true(client_response(c, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "X-Request-ID", v, sizeof v), "first-1");
    assert_non_null(strstr(r.body, "\"cid\":\"first-1\""));
    assert_non_null(strstr(r.body, "\"same\":true"));
    assert_string_equal(header(&r, "Connection", v, sizeof v), "keep-alive");
    assert_true(client_response(c, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    assert_true(client_response(c, &r, false));
    assert_int_equal(r.status, 204);
    assert_string_equal(header(&r, "X-Item", v, sizeof v), "7");
    /* still open for another request */
    client_sends(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(client_response(c, &r, false));
    assert_string_equal(r.body, "hello");
    raw_client_close(c);
}

static void chunked_request_body_is_decoded(void **state)
{
    (void)state;
    response *r = get("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                      false);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 11);
    assert_memory_equal(r->body, "hello world", 11);
}

static void expect_continue_gets_100(void **state)
{
    (void)state;
    client *c = client_open();
    client_sends(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                    "Expect: 100-continue\r\n\r\n");
    response r;
    assert_true(client_response(c, &r, false));
    assert_int_equal(r.status, 100);
    client_sends(c, "abc");
    assert_true(client_response(c, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "abc");
    raw_client_close(c);
}

static void body_over_limit_is_413_then_closed(void **state)
{
    (void)state;
    client *c = client_open();
    client_sends(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\nxxxx");
    response r;
    char v[64];
    assert_true(client_response(c, &r, false));
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "\"code\":\"payload_too_large\""));
    assert_string_equal(header(&r, "Connection", v, sizeof v), "close");
    assert_true(client_eof(c));
    raw_client_close(c);

    /* chunked: the running total is checked */
    c = client_open();
    client_sends(c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[1100];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 5; i++) {
        client_sends(c, "400\r\n");
        raw_client_send(c, chunk, 1024);
        client_sends(c, "\r\n");
    }
    assert_true(client_response(c, &r, false));
    assert_int_equal(r.status, 413);
    raw_client_close(c);
}

static void too_many_headers_is_431(void **state)
{
    (void)state;
    char req[8192];
    size_t n = (size_t)snprintf(req, sizeof req, "GET /hello HTTP/1.1\r\nHost: t\r\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(req + n, sizeof req - n, "X-H%d: v\r\n", i);
    snprintf(req + n, sizeof req - n, "\r\n");
    response *r = get(req, false);
    assert_int_equal(r->status, 431);
    assert_non_null(strstr(r->body, "\"code\":\"headers_too_large\""));

    /* too many bytes in one header */
    char big[10000];
    n = (size_t)snprintf(big, sizeof big, "GET /hello HTTP/1.1\r\nX-Big: ");
    memset(big + n, 'a', 9000);
    snprintf(big + n + 9000, sizeof big - n - 9000, "\r\n\r\n");
    r = get(big, false);
    assert_int_equal(r->status, 431);
}

static void garbage_is_400(void **state)
{
    (void)state;
    response *r = get("\x01\x02 garbage here\r\n\r\n", false);
    assert_int_equal(r->status, 400);
    assert_non_null(strstr(r->body, "\"code\":\"bad_request\""));
    char v[128];
    assert_non_null(header(r, "X-Request-ID", v, sizeof v));
    r = get("GET /a%00b HTTP/1.1\r\nHost: t\r\n\r\n", false);
    assert_int_equal(r->status, 400);
}

static void unknown_route_is_404_json(void **state)
{
    (void)state;
    response *r = get("GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", false);
    char v[128];
    assert_int_equal(r->status, 404);
    assert_string_equal(header(r, "Content-Type", v, sizeof v), "application/json");
    assert_non_null(strstr(r->body, "{\"error\":{\"code\":\"not_found\",\"message\":"));
}

static void wrong_method_is_405_with_allow(void **state)
{
    (void)state;
    response *r = get("DELETE /items/3 HTTP/1.1\r\nHost: t\r\n\r\n", false);
    char v[128];
    assert_int_equal(r->status, 405);
    assert_string_equal(header(r, "Allow", v, sizeof v), "GET, POST, HEAD");
    assert_non_null(strstr(r->body, "\"code\":\"method_not_allowed\""));
}

static void request_id_echoed_or_generated_and_security_headers(void **state)
{
    (void)state;
    char v[512];
    response *r = get("GET /hello HTTP/1.1\r\nHost: t\r\nX-Request-ID: abc.DEF_1-2\r\n\r\n", false);
    assert_string_equal(header(r, "X-Request-ID", v, sizeof v), "abc.DEF_1-2");
    r = get("GET /hello HTTP/1.1\r\nHost: t\r\nX-Request-ID: bad id!\r\n\r\n", false);
    assert_non_null(header(r, "X-Request-ID", v, sizeof v));
    assert_int_equal(strlen(v), 32);
    assert_string_not_equal(v, "bad id!");
    assert_string_equal(header(r, "X-Content-Type-Options", v, sizeof v), "nosniff");
    assert_string_equal(header(r, "Referrer-Policy", v, sizeof v), "same-origin");
    assert_string_equal(header(r, "X-Frame-Options", v, sizeof v), "DENY");
    assert_non_null(header(r, "Content-Security-Policy", v, sizeof v));
    assert_non_null(strstr(v, "frame-ancestors 'none'"));
    assert_string_equal(header(r, "Server", v, sizeof v), "smartmarket");
    assert_non_null(header(r, "Date", v, sizeof v));
    assert_string_equal(header(r, "Content-Length", v, sizeof v), "5");
    /* no TRUST_PROXY: a forged X-Forwarded-Proto gives no HSTS */
    r = get("GET /hello HTTP/1.1\r\nHost: t\r\nX-Forwarded-Proto: https\r\n\r\n", false);
    assert_null(header(r, "Strict-Transport-Security", v, sizeof v));
}

static void head_has_length_but_no_body(void **state)
{
    (void)state;
    client *c = client_open();
    client_sends(c,
                 "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    response r;
    char v[64];
    assert_true(client_response(c, &r, true));
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Length", v, sizeof v), "5");
    assert_true(client_response(c, &r, false)); /* the next response follows directly */
    assert_string_equal(r.body, "hello");
    raw_client_close(c);
}

static void http10_closes(void **state)
{
    (void)state;
    client *c = client_open();
    client_sends(c, "GET /hello HTTP/1.0\r\n\r\n");
    response r;
    char v[64];
    assert_true(client_response(c, &r, false));
    assert_string_equal(header(&r, "Connection", v, sizeof v), "close");
    assert_true(client_eof(c));
    raw_client_close(c);
}

static void slowloris_is_cut_with_408(void **state)
{
    (void)state;
    client *c = client_open();
    client_sends(c, "GET /hello HTTP/1.1\r\n");
    for (int i = 0; i < 3; i++) {
        usleep(150 * 1000); /* dribbling, each byte within the limit */
        send(c->fd, "X", 1, MSG_NOSIGNAL);
    }
    response r;
    assert_true(client_response(c, &r, false));
    assert_int_equal(r.status, 408);
    assert_non_null(strstr(r.body, "\"code\":\"request_timeout\""));
    assert_true(client_eof(c));
    raw_client_close(c);
}

static void static_files_etag_gzip_and_traversal(void **state)
{
    (void)state;
    char etag[128], v[128], req[512];
    response *r = get("GET /static/app.js HTTP/1.1\r\nHost: t\r\n\r\n", false);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, strlen(g_js));
    assert_memory_equal(r->body, g_js, r->body_len);
    assert_string_equal(header(r, "Content-Type", v, sizeof v), "text/javascript; charset=utf-8");
    assert_non_null(header(r, "ETag", etag, sizeof etag));
    assert_null(header(r, "Content-Encoding", v, sizeof v));

    snprintf(req, sizeof req, "GET /static/app.js HTTP/1.1\r\nHost: t\r\nIf-None-Match: %s\r\n\r\n",
             etag);
    r = get(req, false);
    assert_int_equal(r->status, 304);
    assert_int_equal(r->body_len, 0);

    r = get("GET /static/app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br, gzip\r\n\r\n", false);
    assert_int_equal(r->status, 200);
    assert_string_equal(header(r, "Content-Encoding", v, sizeof v), "gzip");
    assert_string_equal(header(r, "Vary", v, sizeof v), "Accept-Encoding");
    assert_true(r->body_len < strlen(g_js));
    unsigned char plain[sizeof g_js];
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (unsigned char *)r->body;
    z.avail_in = (uInt)r->body_len;
    z.next_out = plain;
    z.avail_out = sizeof plain;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, strlen(g_js));
    assert_memory_equal(plain, g_js, z.total_out);
    inflateEnd(&z);

    r = get("GET /static/app.js HTTP/1.1\r\nAccept-Encoding: gzip;q=0\r\n\r\n", false);
    assert_null(header(r, "Content-Encoding", v, sizeof v));

    r = get("GET /static/ HTTP/1.1\r\nHost: t\r\n\r\n", false);
    assert_int_equal(r->status, 200);
    assert_string_equal(header(r, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
    r = get("GET /static/../test_server.c HTTP/1.1\r\nHost: t\r\n\r\n", false);
    assert_int_not_equal(r->status, 200);
    r = get("GET /static/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n", false);
    assert_int_equal(r->status, 404);
    r = get("POST /static/app.js HTTP/1.1\r\nContent-Length: 0\r\n\r\n", false);
    assert_int_equal(r->status, 405);
}

static void streamed_response_from_another_thread(void **state)
{
    (void)state;
    client *c = client_open();
    client_sends(c, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    response r;
    char v[64];
    assert_true(client_response(c, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Type", v, sizeof v), "text/event-stream");
    assert_string_equal(header(&r, "Transfer-Encoding", v, sizeof v), "chunked");
    assert_string_equal(r.body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
    /* the connection is reusable after the stream */
    client_sends(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(client_response(c, &r, false));
    assert_string_equal(r.body, "hello");
    raw_client_close(c);
    assert_true(__atomic_load_n(&g_stream_closed, __ATOMIC_SEQ_CST) >= 1);
}

static void graceful_stop_finishes_in_flight(void **state)
{
    (void)state;
    client *idle = client_open();
    client_sends(idle, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    response r;
    assert_true(client_response(idle, &r, false));
    client *busy = client_open();
    int started = atomic_load(&g_slow_started);
    client_sends(busy, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < 500 && atomic_load(&g_slow_started) == started; i++)
        usleep(10 * 1000); /* until the handler is running */
    assert_int_equal(atomic_load(&g_slow_started), started + 1);
    http_server_stop();
    assert_true(client_eof(idle)); /* idle keep-alive: closed at once */
    char v[64];
    assert_true(client_response(busy, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "slow");
    assert_string_equal(header(&r, "Connection", v, sizeof v), "close");
    pthread_join(g_thread, NULL);
    assert_int_equal(g_run_rc, 0);
    raw_client_close(idle);
    raw_client_close(busy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keepalive_pipelined_requests_answered_in_order),
        cmocka_unit_test(chunked_request_body_is_decoded),
        cmocka_unit_test(expect_continue_gets_100),
        cmocka_unit_test(body_over_limit_is_413_then_closed),
        cmocka_unit_test(too_many_headers_is_431),
        cmocka_unit_test(garbage_is_400),
        cmocka_unit_test(unknown_route_is_404_json),
        cmocka_unit_test(wrong_method_is_405_with_allow),
        cmocka_unit_test(request_id_echoed_or_generated_and_security_headers),
        cmocka_unit_test(head_has_length_but_no_body),
        cmocka_unit_test(http10_closes),
        cmocka_unit_test(slowloris_is_cut_with_408),
        cmocka_unit_test(static_files_etag_gzip_and_traversal),
        cmocka_unit_test(streamed_response_from_another_thread),
        cmocka_unit_test(graceful_stop_finishes_in_flight),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
