/* test_ws.c — the WebSocket transport over raw TCP: the handshake (the RFC
 * example key, 400/426 refusals), echo of text including the largest
 * message, fragments with a ping in between, bytes pipelined behind the
 * handshake, the protocol violations (unmasked 1002, bad UTF-8 1007, too
 * large 1009, binary 1003), ping/pong, the close handshake started by
 * either side, sends from another thread, a slow consumer seeing SM_EBUSY,
 * the keep-alive dropping a silent peer, on_close owed when a handler
 * takes the upgrade back, and 1001 Going Away at shutdown.
 *
 * The server runs in a thread on an ephemeral port with a short ping
 * interval; the client below masks its frames as a browser does and reads
 * the server's unmasked ones. Every read has a timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/log.h"
#include "http/http.h"

#define PING_MS 300

/* ---- the server under test ---- */

static int g_port;
static pthread_t g_thread;
static int g_run_rc = -999;
static http_router *g_router;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static http_ws *g_last_ws; /* g_mu: the latest opened, with a reference for the test */
static int g_closes;       /* g_mu: on_close calls */
static int g_last_code;    /* g_mu: the code of the latest on_close */
static int g_open;         /* g_mu: accepted upgrades whose on_close has not run */

typedef struct conn_ctx {
    http_ws *ws;
} conn_ctx;

static void t_open(http_ws *ws, void *ctx)
{
    ((conn_ctx *)ctx)->ws = ws;
    http_ws_retain(ws);
    pthread_mutex_lock(&g_mu);
    if (g_last_ws)
        http_ws_release(g_last_ws);
    g_last_ws = ws;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

static void *burst_main(void *arg)
{
    http_ws *ws = arg;
    for (int i = 0; i < 100; i++) {
        char num[16];
        int n = snprintf(num, sizeof num, "%d", i);
        while (http_ws_send_text(ws, num, (size_t)n) == SM_EBUSY)
            usleep(1000);
    }
    http_ws_release(ws);
    return NULL;
}

static void t_message(http_ws *ws, const char *text, size_t len, void *ctx)
{
    (void)ctx;
    if (len == 5 && memcmp(text, "burst", 5) == 0) {
        pthread_t t;
        http_ws_retain(ws);
        assert_int_equal(pthread_create(&t, NULL, burst_main, ws), 0);
        pthread_detach(t);
    } else if (len > 6 && memcmp(text, "close:", 6) == 0) {
        http_ws_close(ws, 4000, "bye");
    } else {
        http_ws_send_text(ws, text, len);
    }
}

static void t_close(void *ctx, int code)
{
    conn_ctx *cc = ctx;
    if (cc->ws)
        http_ws_release(cc->ws);
    free(cc);
    pthread_mutex_lock(&g_mu);
    g_closes++;
    g_open--;
    g_last_code = code;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

static const http_ws_callbacks CALLBACKS = {t_open, t_message, t_close};

static void h_ws(http_request *req, http_response *res, void *ctx)
{
    (void)ctx;
    conn_ctx *cc = calloc(1, sizeof *cc);
    const char *proto = http_request_header(req, "sec-websocket-protocol");
    if (http_response_websocket(res, proto ? "chat" : NULL, &CALLBACKS, cc) < 0) {
        free(cc);
        return;
    }
    pthread_mutex_lock(&g_mu);
    g_open++;
    pthread_mutex_unlock(&g_mu);
}

/* Accepts, then answers 403 after all: on_close is still owed, with 1006. */
static void h_taken_back(http_request *req, http_response *res, void *ctx)
{
    (void)req, (void)ctx;
    conn_ctx *cc = calloc(1, sizeof *cc);
    if (http_response_websocket(res, NULL, &CALLBACKS, cc) < 0) {
        free(cc);
        return;
    }
    pthread_mutex_lock(&g_mu);
    g_open++;
    pthread_mutex_unlock(&g_mu);
    http_response_error(res, 403, "forbidden", NULL, "changed my mind");
}

static void on_ready(const char *url, void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&g_mu);
    g_port = atoi(strrchr(url, ':') + 1);
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

static void *server_main(void *arg)
{
    (void)arg;
    http_server_options o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.workers = 2;
    o.blocking_threads = 2;
    o.max_body_bytes = 4096;
    o.max_header_bytes = 8192;
    o.max_headers = 64;
    o.max_connections = 100;
    o.idle_timeout_ms = 5000;
    o.read_timeout_ms = 2000;
    o.write_timeout_ms = 2000;
    o.shutdown_timeout_ms = 4000;
    o.ws_ping_ms = PING_MS;
    o.on_ready = on_ready;
    sm_error err = {0};
    int rc = http_server_run(&o, g_router, &err);
    pthread_mutex_lock(&g_mu);
    g_run_rc = rc;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

static int group_setup(void **state)
{
    (void)state;
    log_init(getenv("SM_TEST_VERBOSE") ? LOG_DEBUG : LOG_WARNING, NULL, NULL);
    g_router = http_router_new();
    http_router_add(g_router, "GET", "/ws", h_ws, NULL, HTTP_ROUTE_INLINE);
    http_router_add(g_router, "GET", "/ws-pool", h_ws, NULL, 0);
    http_router_add(g_router, "GET", "/ws-taken-back", h_taken_back, NULL, 0);
    pthread_mutex_lock(&g_mu);
    pthread_create(&g_thread, NULL, server_main, NULL);
    while (g_port == 0 && g_run_rc == -999)
        pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
    return g_port ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    http_router_free(g_router);
    return 0;
}

/* ---- a tiny client (tests/unit/http/raw_client.h) ---- */

typedef raw_client client;

typedef struct frame {
    int fin, opcode;
    size_t len;
    unsigned char data[70000];
} frame;

static client *client_connect(int rcvbuf)
{
    return raw_client_open(g_port, rcvbuf);
}

/* Reads the response head into `head` (NUL-terminated); returns the status. */
static int read_head(client *c, char *head, size_t cap)
{
    unsigned char *end;
    while (!(end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL)) {
        if (!raw_client_need(c, c->len + 1))
            return -1;
    }
    size_t n = (size_t)(end - c->buf) + 4;
    assert_true(n < cap);
    memcpy(head, c->buf, n);
    head[n] = '\0';
    raw_client_consume(c, n);
    return atoi(head + 9);
}

static const char *header(const char *head, const char *name, char *out, size_t cap)
{
    char key[128];
    snprintf(key, sizeof key, "\r\n%s:", name);
    const char *p = strcasestr(head, key);
    if (!p)
        return NULL;
    p += strlen(key);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r");
    n = n < cap ? n : cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

static const char RFC_KEY[] = "dGhlIHNhbXBsZSBub25jZQ==";

/* Connects and upgrades on `path`; `extra` is sent right after the head. */
static client *ws_open_with(const char *path, const void *extra, size_t extra_len)
{
    client *c = client_connect(0);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                     "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, RFC_KEY);
    char all[1024];
    assert_true((size_t)n + extra_len < sizeof all);
    memcpy(all, req, (size_t)n);
    if (extra_len)
        memcpy(all + n, extra, extra_len);
    raw_client_send(c, all, (size_t)n + extra_len);
    char head[4096];
    assert_int_equal(read_head(c, head, sizeof head), 101);
    return c;
}

static client *ws_open(void)
{
    return ws_open_with("/ws", NULL, 0);
}

/* Builds one client frame (masked unless `unmasked`) into `out`. */
static size_t frame_build(unsigned char *out, int fin, int opcode, const void *payload, size_t len,
                          bool unmasked)
{
    static const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    size_t n = 0;
    out[n++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    unsigned char m = unmasked ? 0 : 0x80;
    if (len < 126) {
        out[n++] = (unsigned char)(m | len);
    } else if (len < 65536) {
        out[n++] = m | 126;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    if (!unmasked) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    const unsigned char *p = payload;
    for (size_t i = 0; i < len; i++)
        out[n + i] = unmasked ? p[i] : p[i] ^ mask[i % 4];
    return n + len;
}

static void send_frame(client *c, int fin, int opcode, const void *payload, size_t len)
{
    unsigned char *buf = malloc(len + 14);
    assert_non_null(buf);
    size_t n = frame_build(buf, fin, opcode, payload, len, false);
    raw_client_send(c, buf, n);
    free(buf);
}

/* Reads one server frame; false on EOF or timeout. */
static bool read_frame(client *c, frame *f)
{
    if (!raw_client_need(c, 2))
        return false;
    assert_int_equal(c->buf[1] & 0x80, 0); /* servers never mask */
    f->fin = c->buf[0] >> 7;
    f->opcode = c->buf[0] & 0x0f;
    size_t len = c->buf[1] & 0x7f, h = 2;
    if (len == 126) {
        if (!raw_client_need(c, 4))
            return false;
        len = (size_t)c->buf[2] << 8 | c->buf[3];
        h = 4;
    } else if (len == 127) {
        if (!raw_client_need(c, 10))
            return false;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | c->buf[2 + i];
        h = 10;
    }
    assert_true(len <= sizeof f->data);
    if (!raw_client_need(c, h + len))
        return false;
    memcpy(f->data, c->buf + h, len);
    f->len = len;
    raw_client_consume(c, h + len);
    return true;
}

/* Reads frames until a close; returns its code (0 when none came). */
static int read_close(client *c, char *reason, size_t cap)
{
    static frame f;
    while (read_frame(c, &f)) {
        if (f.opcode != 0x8)
            continue;
        if (reason) {
            size_t n = f.len > 2 ? f.len - 2 : 0;
            n = n < cap ? n : cap - 1;
            memcpy(reason, f.data + 2, n);
            reason[n] = '\0';
        }
        return f.len >= 2 ? f.data[0] << 8 | f.data[1] : 1005;
    }
    return 0;
}

static bool at_eof(client *c)
{
    unsigned char b[256];
    for (;;) {
        ssize_t r = recv(c->fd, b, sizeof b, 0);
        if (r == 0)
            return true;
        if (r < 0)
            return false;
    }
}

/* The on_close count once every earlier connection has ended. */
static int closes_now(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&g_mu);
    while (g_open > 0 && pthread_cond_timedwait(&g_cv, &g_mu, &until) == 0) {
    }
    int n = g_closes;
    pthread_mutex_unlock(&g_mu);
    return n;
}

/* Waits until on_close ran `n` times in all; returns the latest code. */
static int wait_closes(int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&g_mu);
    while (g_closes < n && pthread_cond_timedwait(&g_cv, &g_mu, &until) == 0) {
    }
    int code = g_closes >= n ? g_last_code : -1;
    pthread_mutex_unlock(&g_mu);
    return code;
}

/* ---- tests ---- */

static void handshake_accept_matches_rfc_example(void **state)
{
    (void)state;
    client *c = client_connect(0);
    const char *req =
        "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";
    raw_client_send(c, req, strlen(req));
    char head[4096], v[128];
    assert_int_equal(read_head(c, head, sizeof head), 101);
    assert_string_equal(header(head, "Sec-WebSocket-Accept", v, sizeof v),
                        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_string_equal(header(head, "Upgrade", v, sizeof v), "websocket");
    assert_string_equal(header(head, "Connection", v, sizeof v), "Upgrade");
    assert_string_equal(header(head, "Sec-WebSocket-Protocol", v, sizeof v), "chat");
    assert_null(header(head, "Content-Length", v, sizeof v));
    raw_client_close(c);
}

static int refused(const char *request, char *head, size_t cap)
{
    client *c = client_connect(0);
    raw_client_send(c, request, strlen(request));
    int status = read_head(c, head, cap);
    raw_client_close(c);
    return status;
}

static void handshake_refusals_are_400_and_426(void **state)
{
    (void)state;
    char head[4096], v[64];
    int before = closes_now();
    assert_int_equal(
        refused("GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 8\r\n\r\n",
                head, sizeof head),
        426);
    assert_string_equal(header(head, "Sec-WebSocket-Version", v, sizeof v), "13");
    assert_int_equal(refused("GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n",
                             head, sizeof head),
                     400);
    assert_int_equal(refused("GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
                             head, sizeof head),
                     400);
    assert_int_equal(refused("GET /ws HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n",
                             head, sizeof head),
                     400);
    assert_int_equal(refused("GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n",
                             head, sizeof head),
                     400);
    pthread_mutex_lock(&g_mu);
    assert_int_equal(g_closes, before); /* a refused handshake owes no on_close */
    pthread_mutex_unlock(&g_mu);
}

static void echo_text_round_trips_including_the_largest_message(void **state)
{
    (void)state;
    client *c = ws_open_with("/ws-pool", NULL, 0);
    static frame f;
    send_frame(c, 1, 0x1, "hello", 5);
    assert_true(read_frame(c, &f));
    assert_int_equal(f.opcode, 0x1);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.data, "hello", 5);
    static char big[HTTP_WS_MESSAGE_MAX];
    memset(big, 'x', sizeof big);
    send_frame(c, 1, 0x1, big, sizeof big);
    assert_true(read_frame(c, &f));
    assert_int_equal(f.len, sizeof big);
    assert_memory_equal(f.data, big, sizeof big);
    raw_client_close(c);
}

static void fragments_are_reassembled_around_a_ping(void **state)
{
    (void)state;
    client *c = ws_open();
    static frame f;
    send_frame(c, 0, 0x1, "hel", 3);
    send_frame(c, 1, 0x9, "p1", 2);
    send_frame(c, 0, 0x0, "l", 1);
    send_frame(c, 1, 0x0, "o \xC3\xA9", 4);
    assert_true(read_frame(c, &f));
    assert_int_equal(f.opcode, 0xA); /* the pong first: the message was not complete */
    assert_memory_equal(f.data, "p1", 2);
    assert_true(read_frame(c, &f));
    assert_int_equal(f.opcode, 0x1);
    assert_int_equal(f.len, 8);
    assert_memory_equal(f.data, "hello \xC3\xA9", 8);
    raw_client_close(c);
}

static void frames_pipelined_behind_the_handshake_are_read(void **state)
{
    (void)state;
    unsigned char fr[64];
    size_t n = frame_build(fr, 1, 0x1, "early", 5, false);
    client *c = ws_open_with("/ws", fr, n);
    static frame f;
    assert_true(read_frame(c, &f));
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.data, "early", 5);
    raw_client_close(c);
}

static void expect_close(client *c, int code, int closes_before)
{
    assert_int_equal(read_close(c, NULL, 0), code);
    assert_true(at_eof(c));
    assert_int_equal(wait_closes(closes_before + 1), code);
}

static void unmasked_frame_closes_1002(void **state)
{
    (void)state;
    int before = closes_now();
    client *c = ws_open();
    unsigned char fr[64];
    size_t n = frame_build(fr, 1, 0x1, "hi", 2, true);
    raw_client_send(c, fr, n);
    expect_close(c, 1002, before);
    raw_client_close(c);
}

static void invalid_utf8_closes_1007(void **state)
{
    (void)state;
    int before = closes_now();
    client *c = ws_open();
    send_frame(c, 1, 0x1, "ok \xC3\x28", 5);
    expect_close(c, 1007, before);
    raw_client_close(c);
}

static void message_over_the_bound_closes_1009(void **state)
{
    (void)state;
    int before = closes_now();
    client *c = ws_open();
    /* fragments: each is small, the message is not */
    static char part[40000];
    memset(part, 'a', sizeof part);
    send_frame(c, 0, 0x1, part, sizeof part);
    send_frame(c, 1, 0x0, part, sizeof part);
    expect_close(c, 1009, before);
    raw_client_close(c);
}

static void binary_message_closes_1003(void **state)
{
    (void)state;
    int before = closes_now();
    client *c = ws_open();
    send_frame(c, 1, 0x2, "\x01\x02", 2);
    char reason[128];
    assert_int_equal(read_close(c, reason, sizeof reason), 1003);
    assert_non_null(strstr(reason, "binary"));
    send_frame(c, 1, 0x8, "\x03\xeb", 2); /* the client answers: the server closes */
    assert_true(at_eof(c));
    assert_int_equal(wait_closes(before + 1), 1003);
    raw_client_close(c);
}

static void ping_is_answered_with_its_payload(void **state)
{
    (void)state;
    client *c = ws_open();
    static frame f;
    send_frame(c, 1, 0x9, "are you there", 13);
    assert_true(read_frame(c, &f));
    assert_int_equal(f.opcode, 0xA);
    assert_int_equal(f.len, 13);
    assert_memory_equal(f.data, "are you there", 13);
    raw_client_close(c);
}

static void server_close_waits_for_the_peer(void **state)
{
    (void)state;
    int before = closes_now();
    client *c = ws_open();
    send_frame(c, 1, 0x1, "close:now", 9);
    char reason[128];
    assert_int_equal(read_close(c, reason, sizeof reason), 4000);
    assert_string_equal(reason, "bye");
    pthread_mutex_lock(&g_mu);
    assert_int_equal(g_closes, before); /* still waiting for our close */
    pthread_mutex_unlock(&g_mu);
    send_frame(c, 1, 0x8, "\x0f\xa0", 2);
    assert_true(at_eof(c));
    assert_int_equal(wait_closes(before + 1), 4000);
    raw_client_close(c);
}

static void peer_close_is_echoed_and_reported(void **state)
{
    (void)state;
    int before = closes_now();
    client *c = ws_open();
    send_frame(c, 1, 0x8,
               "\x03\xe8"
               "done",
               6);
    assert_int_equal(read_close(c, NULL, 0), 1000);
    assert_true(at_eof(c));
    assert_int_equal(wait_closes(before + 1), 1000);
    raw_client_close(c);
}

static void sends_from_another_thread_arrive_in_order(void **state)
{
    (void)state;
    client *c = ws_open();
    static frame f;
    send_frame(c, 1, 0x1, "burst", 5);
    for (int i = 0; i < 100; i++) {
        assert_true(read_frame(c, &f));
        if (f.opcode == 0x9) { /* a keep-alive ping may come in between */
            i--;
            continue;
        }
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        assert_int_equal(f.len, strlen(want));
        assert_memory_equal(f.data, want, f.len);
    }
    raw_client_close(c);
}

static void forget_latest_ws(void)
{
    pthread_mutex_lock(&g_mu);
    if (g_last_ws)
        http_ws_release(g_last_ws);
    g_last_ws = NULL;
    pthread_mutex_unlock(&g_mu);
}

/* The handle of the next connection opened after forget_latest_ws(); the
 * 101 may reach the client before on_open ran, hence the wait. */
static http_ws *latest_ws(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&g_mu);
    while (!g_last_ws && pthread_cond_timedwait(&g_cv, &g_mu, &until) == 0) {
    }
    http_ws *ws = g_last_ws;
    g_last_ws = NULL; /* the test owns that reference now */
    pthread_mutex_unlock(&g_mu);
    return ws;
}

static void slow_consumer_gets_ebusy_then_4008(void **state)
{
    (void)state;
    forget_latest_ws();
    int before = closes_now();
    client *c = client_connect(4096); /* a small window: the kernel absorbs little */
    const char *req = "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n";
    raw_client_send(c, req, strlen(req));
    char head[4096];
    assert_int_equal(read_head(c, head, sizeof head), 101);
    http_ws *ws = latest_ws();
    assert_non_null(ws);
    static char msg[4096];
    memset(msg, 'm', sizeof msg);
    int rc = 0;
    size_t sent = 0;
    for (int i = 0; i < 100000 && rc == 0; i++) {
        rc = http_ws_send_text(ws, msg, sizeof msg);
        if (rc == 0)
            sent += sizeof msg;
        if (i % 16 == 0)
            usleep(1000); /* let the loop push what it can */
    }
    if (rc != SM_EBUSY)
        fprintf(stderr, "rc %d after %zu bytes\n", rc, sent);
    assert_int_equal(rc, SM_EBUSY);
    assert_true(sent < 64u * 1024 * 1024);
    assert_int_equal(http_ws_send_text(ws, msg, HTTP_WS_SEND_QUEUE_MAX + 1), SM_ETOOLARGE);
    http_ws_close(ws, 4008, "slow consumer");
    assert_int_equal(http_ws_send_text(ws, "x", 1), SM_EIO);
    /* the client never reads: the close wait ends it */
    assert_int_equal(wait_closes(before + 1), 4008);
    assert_int_equal(http_ws_send_text(ws, "x", 1), SM_EIO);
    http_ws_release(ws);
    raw_client_close(c);
}

/* Sends on an idle connection take the direct path (ws.c: ws_write_direct):
 * each message must still be one minimal, unmasked, final text frame, for
 * every length encoding, in order, and a close requested after them must
 * come after them. */
static void direct_sends_frame_every_length_and_keep_the_close_last(void **state)
{
    (void)state;
    forget_latest_ws();
    int before = closes_now();
    client *c = ws_open();
    http_ws *ws = latest_ws();
    assert_non_null(ws);
    static const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 69999};
    static char msg[70000];
    static frame f;
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)('a' + i % 26);
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        assert_int_equal(http_ws_send_text(ws, msg, lens[k]), 0);
        assert_true(raw_client_need(c, 2));
        unsigned want = lens[k] < 126 ? (unsigned)lens[k] : lens[k] < 65536 ? 126u : 127u;
        assert_int_equal(c->buf[1] & 0x7f, want); /* the shortest length encoding */
        assert_true(read_frame(c, &f));
        assert_int_equal(f.fin, 1);
        assert_int_equal(f.opcode, 0x1);
        assert_int_equal(f.len, lens[k]);
        assert_memory_equal(f.data, msg, lens[k]);
    }
    /* A batch larger than one uv_try_write's, then the close behind it. */
    for (int i = 0; i < 100; i++) {
        char num[16];
        int n = snprintf(num, sizeof num, "%d", i);
        assert_int_equal(http_ws_send_text(ws, num, (size_t)n), 0);
    }
    http_ws_close(ws, 4008, "slow consumer");
    for (int i = 0; i < 100; i++) {
        assert_true(read_frame(c, &f));
        if (f.opcode == 0x9) { /* a keep-alive ping may come in between */
            i--;
            continue;
        }
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        assert_int_equal(f.opcode, 0x1);
        assert_int_equal(f.len, strlen(want));
        assert_memory_equal(f.data, want, f.len);
    }
    assert_int_equal(read_close(c, NULL, 0), 4008);
    http_ws_release(ws);
    raw_client_close(c);
    assert_int_equal(wait_closes(before + 1), 4008);
}

static void silent_peer_is_pinged_then_dropped(void **state)
{
    (void)state;
    int before = closes_now();
    client *c = ws_open();
    static frame f;
    assert_true(read_frame(c, &f));
    assert_int_equal(f.opcode, 0x9);
    /* no pong, nothing: two intervals later the server drops us */
    assert_true(at_eof(c));
    assert_int_equal(wait_closes(before + 1), 1006);
    raw_client_close(c);
}

static void answering_pings_keeps_the_connection(void **state)
{
    (void)state;
    client *c = ws_open();
    static frame f;
    for (int i = 0; i < 4; i++) { /* four intervals: past the two-interval cut */
        assert_true(read_frame(c, &f));
        assert_int_equal(f.opcode, 0x9);
        send_frame(c, 1, 0xA, f.data, f.len);
    }
    send_frame(c, 1, 0x1, "still here", 10);
    do {
        assert_true(read_frame(c, &f));
    } while (f.opcode == 0x9);
    assert_memory_equal(f.data, "still here", 10);
    raw_client_close(c);
}

static void upgrade_taken_back_still_owes_on_close(void **state)
{
    (void)state;
    int before = closes_now();
    char head[4096];
    assert_int_equal(
        refused("GET /ws-taken-back HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n",
                head, sizeof head),
        403);
    assert_int_equal(wait_closes(before + 1), 1006);
}

static void shutdown_sends_going_away(void **state)
{
    (void)state;
    int before = closes_now();
    client *c = ws_open();
    http_server_stop();
    assert_int_equal(read_close(c, NULL, 0), 1001);
    send_frame(c, 1, 0x8, "\x03\xe9", 2);
    assert_true(at_eof(c));
    assert_int_equal(wait_closes(before + 1), 1001);
    raw_client_close(c);
    pthread_join(g_thread, NULL);
    assert_int_equal(g_run_rc, 0);
    forget_latest_ws();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_accept_matches_rfc_example),
        cmocka_unit_test(handshake_refusals_are_400_and_426),
        cmocka_unit_test(echo_text_round_trips_including_the_largest_message),
        cmocka_unit_test(fragments_are_reassembled_around_a_ping),
        cmocka_unit_test(frames_pipelined_behind_the_handshake_are_read),
        cmocka_unit_test(unmasked_frame_closes_1002),
        cmocka_unit_test(invalid_utf8_closes_1007),
        cmocka_unit_test(message_over_the_bound_closes_1009),
        cmocka_unit_test(binary_message_closes_1003),
        cmocka_unit_test(ping_is_answered_with_its_payload),
        cmocka_unit_test(server_close_waits_for_the_peer),
        cmocka_unit_test(peer_close_is_echoed_and_reported),
        cmocka_unit_test(sends_from_another_thread_arrive_in_order),
        cmocka_unit_test(slow_consumer_gets_ebusy_then_4008),
        cmocka_unit_test(direct_sends_frame_every_length_and_keep_the_close_last),
        cmocka_unit_test(silent_peer_is_pinged_then_dropped),
        cmocka_unit_test(answering_pings_keeps_the_connection),
        cmocka_unit_test(upgrade_taken_back_still_owes_on_close),
        cmocka_unit_test(shutdown_sends_going_away),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
