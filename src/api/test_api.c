/* test_api.c — routes that exist only for black-box tests of the transport.
 *
 * With SMARTMARKET_TEST_ROUTES=1 in the environment (and only then: the
 * default is off and nothing in the configuration turns it on) the server
 * adds:
 *
 *   GET /test/ws/echo — a WebSocket that answers each text message with the
 *   same text, except two commands: "close:CODE:REASON" starts a close
 *   handshake with CODE and REASON, and "burst:N" sends N numbered messages
 *   ("0".."N-1", N ≤ 10000) from a separate thread, to exercise sends from
 *   outside the loop. The first subprotocol the client offers is accepted.
 *
 * They let tests/e2e/ws-protocol.test.js and the memory measurement in
 * docs/WEBSOCKET.md run against the real binary before any product route
 * uses WebSockets. A warning is logged at start-up when they are on. */
#include "api/test_api.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define BURST_MAX 10000

/* One per connection: the handle to release when it ends. */
typedef struct echo_conn {
    http_ws *ws;
} echo_conn;

typedef struct burst_job {
    http_ws *ws; /* a reference of its own (http_ws_retain) */
    long n;
} burst_job;

static void echo_open(http_ws *ws, void *ctx)
{
    ((echo_conn *)ctx)->ws = ws;
}

static void *burst_main(void *arg)
{
    burst_job *job = arg;
    for (long i = 0; i < job->n; i++) {
        char num[24];
        int len = snprintf(num, sizeof num, "%ld", i);
        if (http_ws_send_text(job->ws, num, (size_t)len) < 0)
            break;
    }
    http_ws_release(job->ws);
    free(job);
    return NULL;
}

static void echo_message(http_ws *ws, const char *text, size_t len, void *ctx)
{
    (void)ctx;
    if (len > 6 && memcmp(text, "close:", 6) == 0) {
        char buf[160];
        size_t n = len - 6 < sizeof buf - 1 ? len - 6 : sizeof buf - 1;
        memcpy(buf, text + 6, n);
        buf[n] = '\0';
        char *colon = strchr(buf, ':');
        http_ws_close(ws, (int)strtol(buf, NULL, 10), colon ? colon + 1 : NULL);
        return;
    }
    if (len > 6 && memcmp(text, "burst:", 6) == 0) {
        char num[16];
        size_t n = len - 6 < sizeof num - 1 ? len - 6 : sizeof num - 1;
        memcpy(num, text + 6, n);
        num[n] = '\0';
        long count = strtol(num, NULL, 10);
        burst_job *job = malloc(sizeof *job);
        pthread_t t;
        if (!job || count <= 0 || count > BURST_MAX) {
            free(job);
            http_ws_send_text(ws, "burst: bad count", 16);
            return;
        }
        job->ws = ws;
        job->n = count;
        http_ws_retain(ws); /* sends after the end fail with SM_EIO: the loop stops */
        if (pthread_create(&t, NULL, burst_main, job) != 0) {
            http_ws_release(ws);
            free(job);
            return;
        }
        pthread_detach(t);
        return;
    }
    if (http_ws_send_text(ws, text, len) == SM_EBUSY)
        http_ws_close(ws, 4008, "slow consumer");
}

static void echo_close(void *ctx, int code)
{
    (void)code;
    echo_conn *ec = ctx;
    if (ec->ws)
        http_ws_release(ec->ws);
    free(ec);
}

static const http_ws_callbacks ECHO_CALLBACKS = {
    .on_open = echo_open,
    .on_message = echo_message,
    .on_close = echo_close,
};

static void handle_echo(http_request *req, http_response *res, void *ctx)
{
    (void)ctx;
    char proto[64] = "";
    const char *offered = http_request_header(req, "sec-websocket-protocol");
    if (offered) {
        size_t n = strcspn(offered, ", ");
        if (n < sizeof proto) {
            memcpy(proto, offered, n);
            proto[n] = '\0';
        }
    }
    echo_conn *ec = calloc(1, sizeof *ec);
    if (!ec) {
        http_response_error(res, 503, "unavailable", NULL, "out of memory");
        return;
    }
    if (http_response_websocket(res, proto[0] ? proto : NULL, &ECHO_CALLBACKS, ec) < 0)
        free(ec); /* `res` holds the 400/426; no callback will run */
}

int api_test_routes(http_router *r)
{
    const char *on = getenv("SMARTMARKET_TEST_ROUTES");
    if (!on || strcmp(on, "1") != 0)
        return 0;
    log_warning("api: SMARTMARKET_TEST_ROUTES=1: test-only routes under /test/ are enabled");
    return http_router_add(r, "GET", "/test/ws/echo", handle_echo, NULL, HTTP_ROUTE_INLINE);
}
