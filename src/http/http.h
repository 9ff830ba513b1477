/* http.h — the HTTP layer's whole public interface: requests, responses,
 * the router and the server.
 *
 * Model: N event loops (libuv, one per core, SO_REUSEPORT) own the sockets,
 * parse with http_parser, enforce every limit and timeout, and write
 * responses. A matched handler runs on the blocking worker pool
 * (uv_queue_work) unless its route is marked HTTP_ROUTE_INLINE (only for
 * handlers that never block: /health/live/, static files from memory).
 * Before a handler runs, the thread's log correlation id is set to the
 * request id, so every log line the request causes carries it.
 *
 * All request memory comes from the request's arena (req->arena) and is
 * freed after the response is written. Handlers fill the response through
 * the http_response_* calls; they never touch the socket. */
#ifndef SM_HTTP_HTTP_H
#define SM_HTTP_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"

#define HTTP_MAX_PARAMS 8
#define HTTP_REQUEST_ID_MAX 64

typedef struct http_header {
    const char *name;  /* lower-cased */
    const char *value; /* as received, surrounding whitespace trimmed */
} http_header;

typedef struct http_request {
    arena *arena;         /* freed after the response; allocate from it freely */
    const char *method;   /* "GET", "POST", … */
    const char *path;     /* percent-decoded path without the query, e.g. "/api/products/7/" */
    const char *raw_path; /* as received, without the query */
    const char *query;    /* raw query string without '?', "" when none */
    const http_header *headers;
    size_t header_count;
    const char *body; /* NUL-terminated for convenience; body_len excludes the NUL */
    size_t body_len;
    const char *request_id;  /* from X-Request-ID when well-formed, else generated */
    const char *remote_addr; /* peer IP (X-Forwarded-For's first hop when TRUST_PROXY) */
    bool secure;             /* TLS in front (X-Forwarded-Proto: https with TRUST_PROXY) */
    const char *param_names[HTTP_MAX_PARAMS]; /* path parameters from the route */
    const char *param_values[HTTP_MAX_PARAMS];
    int param_count;
    void *user_data; /* free for the layer above (the api layer puts the principal here) */
} http_request;

/* Header value by lower-case name, or NULL. */
const char *http_request_header(const http_request *req, const char *lname);

/* Path parameter by name ("id" for "/api/products/{id}/"), or NULL. */
const char *http_request_param(const http_request *req, const char *name);

/* Query parameter by name, percent-decoded ('+' as space) into the arena;
 * NULL when absent. The first occurrence wins. */
const char *http_request_query(http_request *req, const char *name);

/* Cookie value by name from the Cookie header, into the arena; NULL when absent. */
const char *http_request_cookie(http_request *req, const char *name);

typedef struct http_response http_response;

/* Sets the status code (default 200). */
void http_response_set_status(http_response *res, int status);

/* Adds a header (copied). Content-Length, Date, Connection and the security
 * headers are added by the server; do not set them here. */
int http_response_add_header(http_response *res, const char *name, const char *value);

/* Sets the body (copied) and its Content-Type. */
int http_response_set_body(http_response *res, const void *body, size_t len,
                           const char *content_type);

/* Sets status and a JSON body (the reference to `body` is stolen). */
int http_response_json(http_response *res, int status, json_t *body);

/* Sets status and the standard error body
 *   {"error":{"code":CODE,"message":MESSAGE[,"details":DETAILS]}}
 * `details` may be NULL; its reference is stolen. */
int http_response_error(http_response *res, int status, const char *code, json_t *details,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The request this response answers (for handlers that need both). */
int http_response_status(const http_response *res);

/* ---- streaming responses (Server-Sent Events, large downloads) ----
 *
 * A handler that calls http_response_stream() answers with a body produced
 * later, in pieces, instead of a complete one. After the handler returns the
 * server writes the head (status, the handler's headers, `Transfer-Encoding:
 * chunked` for HTTP/1.1; no framing and `Connection: close` for HTTP/1.0),
 * then calls on_open(stream, ctx) on the connection's event-loop thread.
 * From then on, any thread may call http_stream_write() and finally must
 * call http_stream_end() exactly once. on_close(ctx) runs once, on the loop
 * thread, when the stream is over for any reason (end flushed, client gone,
 * server shutdown); after it, writes fail with SM_EIO but the owner must
 * still call http_stream_end() to release the stream. For HEAD requests the
 * head is written and on_close runs at once (on_open never runs). No read,
 * idle or write timeout applies while streaming: SSE connections are long. */
typedef struct http_stream http_stream;
typedef void (*http_stream_open_fn)(http_stream *s, void *ctx);
typedef void (*http_stream_close_fn)(void *ctx);

#define HTTP_STREAM_QUEUE_MAX (1024 * 1024) /* bytes queued per stream before SM_EBUSY */

/* Turns `res` into a streamed response of `content_type` (copied). Call from
 * the handler; the status and headers set on `res` are kept, any body is
 * dropped. `on_open` may be NULL only together with nothing to write.
 * Returns 0 or SM_ENOMEM. */
int http_response_stream(http_response *res, const char *content_type, http_stream_open_fn on_open,
                         http_stream_close_fn on_close, void *ctx);

/* Queues `len` bytes (copied) to be sent as one chunk; len 0 is a no-op.
 * Thread-safe. Returns 0, SM_EIO when the stream is over (client gone,
 * shutdown), SM_EBUSY when more than HTTP_STREAM_QUEUE_MAX bytes are still
 * waiting for the client (a slow reader: drop or coalesce), SM_ENOMEM. */
int http_stream_write(http_stream *s, const void *data, size_t len);

/* Finishes the body after what was queued and releases the caller's
 * reference: `s` must not be used afterwards. Thread-safe. */
void http_stream_end(http_stream *s);

/* ---- WebSocket (RFC 6455, framing by wslay) ----
 *
 * A handler that validated an upgrade request (authentication and
 * permission checks happen in the handler, before any data flows) calls
 * http_response_websocket(). It checks the handshake (GET, HTTP/1.1,
 * `Upgrade: websocket`, `Connection` with the `upgrade` token,
 * `Sec-WebSocket-Version: 13`, a `Sec-WebSocket-Key` that is base64 of 16
 * bytes) and, when it is valid, turns `res` into a 101 Switching Protocols
 * with Sec-WebSocket-Accept and the chosen subprotocol. After the handler
 * returns the server writes the 101, hands the socket to a wslay context
 * and calls on_open(ws, ctx) on the connection's loop thread.
 *
 * The server then answers pings, sends its own ping every HTTP_WS_PING_MS
 * (http_server_options.ws_ping_ms) and drops a peer that sent nothing for
 * two intervals, reassembles fragments, and closes with 1002 (protocol
 * error: unmasked client frame, bad opcode, reserved bits…), 1007 (text
 * that is not UTF-8), 1009 (message over HTTP_WS_MESSAGE_MAX) or 1003
 * (binary message). on_message runs on the loop thread for each complete
 * text message; `text` is valid UTF-8, borrowed for the call and not
 * NUL-terminated. No read, idle or write timeout of HTTP applies.
 *
 * on_close(ctx, code) runs exactly once, on the loop thread, for every
 * ending — peer close, protocol error, keep-alive timeout, http_ws_close(),
 * server shutdown (which sends 1001 Going Away to every WebSocket), out of
 * memory — and also when the upgrade never happens after
 * http_response_websocket() returned 0 (the handler set another status
 * afterwards, the client left before the 101, the server is stopping): then
 * on_open never ran and `code` is 1006. `code` is the close code of the
 * handshake: the peer's when it closed first (1005 when its close frame had
 * none), ours when we did, 1006 when the TCP connection ended without a
 * close frame. Callbacks keep running until on_close even after
 * http_ws_release(): `ctx` must stay valid until on_close has run. After
 * on_close sends fail with SM_EIO, and the owner (whoever got `ws` from
 * on_open) must still call http_ws_release() once. */
typedef struct http_ws http_ws;

typedef struct http_ws_callbacks {
    void (*on_open)(http_ws *ws, void *ctx);                                  /* may be NULL */
    void (*on_message)(http_ws *ws, const char *text, size_t len, void *ctx); /* may be NULL */
    void (*on_close)(void *ctx, int code);                                    /* may be NULL */
} http_ws_callbacks;

#define HTTP_WS_MESSAGE_MAX (64 * 1024)     /* inbound message bound (close 1009 beyond) */
#define HTTP_WS_SEND_QUEUE_MAX (256 * 1024) /* outbound bytes waiting per connection */
#define HTTP_WS_PING_MS 25000               /* default keep-alive ping interval */
#define HTTP_WS_CLOSE_WAIT_MS 2000          /* wait for the peer's close frame */
#define HTTP_WS_REASON_MAX 123              /* bytes of a close reason (RFC 6455 5.5) */

/* Accepts the upgrade for this request; call from the handler. `subprotocol`
 * (may be NULL; copied) is echoed in Sec-WebSocket-Protocol and must be an
 * HTTP token. `cb` must outlive the connection (a static table). Returns 0
 * (then on_close will run exactly once, see above), SM_EINVAL when the
 * request is not a valid handshake — `res` then holds the JSON error (400
 * bad_request, or 426 upgrade_required with `Sec-WebSocket-Version: 13`)
 * and no callback ever runs — or SM_ENOMEM (no callback runs either). */
int http_response_websocket(http_response *res, const char *subprotocol,
                            const http_ws_callbacks *cb, void *ctx);

/* Queues one text message (copied; `text` must be UTF-8: not checked).
 * Thread-safe, never blocks on the network. Returns 0, SM_EIO when the
 * connection is over or closing, SM_EBUSY when more than
 * HTTP_WS_SEND_QUEUE_MAX bytes would wait for a slow client (the caller
 * then closes it, e.g. 4008), SM_ETOOLARGE when `len` alone exceeds that
 * bound, SM_ENOMEM. */
int http_ws_send_text(http_ws *ws, const char *text, size_t len);

/* Starts a close handshake with `code` (1000, 1001, 1008, 1011, or
 * 3000–4999; others become 1000) and a reason (may be NULL; truncated to
 * HTTP_WS_REASON_MAX bytes, on a UTF-8 boundary). Messages queued before
 * are sent first; later sends fail with SM_EIO. The socket is closed when
 * the peer answers or after HTTP_WS_CLOSE_WAIT_MS. Thread-safe; only the
 * first call counts. */
void http_ws_close(http_ws *ws, int code, const char *reason);

/* Takes one more reference (for another thread that sends to `ws`), to be
 * dropped with http_ws_release(). Thread-safe. */
void http_ws_retain(http_ws *ws);

/* Drops the owner's reference; `ws` must not be used afterwards. Normally
 * called from or after on_close; called earlier it abandons the handle, and
 * the connection goes on until it ends (close it first to end it).
 * Thread-safe. */
void http_ws_release(http_ws *ws);

/* ---- router ---- */

typedef void (*http_handler_fn)(http_request *req, http_response *res, void *ctx);

enum {
    HTTP_ROUTE_INLINE = 1 << 0, /* run on the event loop: handler must never block */
};

typedef struct http_router http_router;

http_router *http_router_new(void);
void http_router_free(http_router *r);

/* Registers `fn` for `method` ("GET", …; "*" for any) and `pattern`, where
 * "{name}" matches one non-empty path segment, and a trailing "*" matches the
 * rest of the path (captured as parameter "*"). More specific patterns win
 * over parameters regardless of order. HEAD is served by GET routes.
 * Returns 0, SM_EINVAL for a bad pattern, SM_ENOMEM. Not thread-safe: build the
 * router before the server starts; it is read-only afterwards. */
int http_router_add(http_router *r, const char *method, const char *pattern, http_handler_fn fn,
                    void *ctx, unsigned flags);

typedef struct http_route_match {
    http_handler_fn fn;
    void *ctx;
    unsigned flags;
    char allow[128]; /* when the path matched but not the method: "GET, POST" */
} http_route_match;

/* Matches `req->method` and `req->path`, filling req->param_* (into the
 * request arena). Returns 0 on a match, SM_ENOTFOUND when no route has the
 * path, SM_EINVAL (405) when the path exists for other methods (m->allow set).
 * Thread-safe after construction. */
int http_router_match(const http_router *r, http_request *req, http_route_match *m);

/* ---- server ---- */

typedef struct http_server_options {
    const char *host;
    int port;
    int workers;          /* event loops; 0 = one per core */
    int blocking_threads; /* size of the worker pool (UV_THREADPOOL_SIZE) */
    size_t max_body_bytes;
    size_t max_header_bytes;
    int max_headers;
    int max_connections;
    int idle_timeout_ms;
    int read_timeout_ms;
    int write_timeout_ms;
    int shutdown_timeout_ms;
    int ws_ping_ms; /* WebSocket keep-alive interval; 0 = HTTP_WS_PING_MS */
    bool trust_proxy;
    const char *static_dir;                       /* served under static_prefix, may be NULL */
    const char *static_prefix;                    /* e.g. "/static/" */
    void (*on_ready)(const char *url, void *ctx); /* called once listening */
    void *on_ready_ctx;
} http_server_options;

/* Fills `o` from the loaded configuration (config_get()). */
void http_server_options_from_config(http_server_options *o);

/* Binds, serves until SIGTERM or SIGINT (or http_server_stop()), then stops
 * accepting and lets in-flight requests finish within shutdown_timeout_ms.
 * Returns 0 after a clean shutdown, SM_EIO when it cannot bind. */
int http_server_run(const http_server_options *o, const http_router *r, sm_error *err);

/* Asks a running server to shut down gracefully. Async-signal-safe. */
void http_server_stop(void);

#endif
