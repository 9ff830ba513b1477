/* http_internal.h — the map of the HTTP layer, shared by the .c files of src/http/ only.
 *
 * Ownership in one paragraph: the server owns N workers (one event loop and
 * one thread each). A worker owns its connections (a doubly linked list).
 * A connection owns one arena, reset after every response, from which the
 * current exchange (request + response + the libuv requests that carry it)
 * is allocated. A connection handles exactly one exchange at a time:
 * pipelined bytes wait in its `pending` buffer until the previous response
 * has been handed to the kernel, so requests are answered strictly in order
 * and the arena is never shared between two requests.
 *
 * Threads: everything here belongs to the worker's loop thread, except the
 * exchange while its handler runs on the libuv pool (the loop does not touch
 * the connection's arena meanwhile: reading is stopped) and the fields
 * marked "mu" below. */
#ifndef SM_HTTP_HTTP_INTERNAL_H
#define SM_HTTP_HTTP_INTERNAL_H

#include <http_parser.h>
#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "http/http.h"

#define HTTP_READ_BUF_SIZE 65536     /* one read from a socket at most */
#define HTTP_RESPONSE_HEADERS_MAX 32 /* headers a handler may add */
#define HTTP_PATH_SEGMENTS_MAX 64    /* deeper paths are 404 */
#define HTTP_LINGER_MS 2000          /* drain time after an error response */
#define HTTP_DATE_LEN 29             /* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define HTTP_ADDR_MAX 64

typedef struct http_worker http_worker;
typedef struct http_conn http_conn;
typedef struct http_static http_static;

struct http_response {
    arena *arena;
    int status;
    int header_count;
    const char *header_names[HTTP_RESPONSE_HEADERS_MAX];
    const char *header_values[HTTP_RESPONSE_HEADERS_MAX];
    const char *body;
    size_t body_len;
    const char *content_type;
    bool close;     /* answer with Connection: close and close after */
    bool streaming; /* http_response_stream() was called */
    http_stream_open_fn stream_open;
    http_stream_close_fn stream_close;
    void *stream_ctx;
    bool websocket; /* http_response_websocket() accepted: on_close is owed */
    const http_ws_callbacks *ws_cb;
    void *ws_ctx;
};

/* One request and its response; lives in the connection's arena. */
typedef struct http_exchange {
    http_request req;
    http_response res;
    http_route_match match;
    http_conn *conn;
    uv_work_t work;
    uv_write_t write_req;
    uv_buf_t bufs[2];
    uint64_t start_ns;
    bool head;       /* HEAD: the body is counted but not written */
    bool http10;     /* the request was HTTP/1.0 */
    bool keep_alive; /* decided when the head is written */
    size_t body_sent;
} http_exchange;

typedef enum http_conn_state {
    HTTP_CONN_IDLE,      /* between requests: idle timer */
    HTTP_CONN_READING,   /* a request has begun: read timer */
    HTTP_CONN_HANDLING,  /* complete; its handler runs */
    HTTP_CONN_WRITING,   /* response partly written: write timer */
    HTTP_CONN_STREAMING, /* streamed response in progress */
    HTTP_CONN_WEBSOCKET, /* upgraded: ws.c owns reading, writing and the timer */
    HTTP_CONN_LINGER,    /* error sent, write side shut, discarding input */
    HTTP_CONN_CLOSED,    /* uv_close() called */
} http_conn_state;

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    http_parser parser;
    http_worker *w;
    http_conn *prev, *next;
    arena *arena;
    http_conn_state state;
    int open_handles;  /* tcp + timer until both close callbacks ran */
    bool work_pending; /* a handler runs on the pool: free only after it */
    bool in_drive;     /* conn_drive() is on the stack */
    bool must_close;   /* close after the current response */

    /* the request being parsed */
    http_exchange *ex;
    bool complete; /* on_message_complete ran (parser paused) */
    bool in_field; /* the last header callback was a field name */
    char *url;
    size_t url_len;
    http_header *headers;
    size_t header_count, header_cap;
    size_t head_bytes;
    char *body;
    size_t body_len, body_cap;
    int fail_status; /* set by a parser callback that aborts: 413, 431 */

    /* input received but not parsed yet (pipelining) */
    char *pending;
    size_t pending_len, pending_off, pending_cap;

    http_stream *stream; /* while HTTP_CONN_STREAMING */
    http_ws *ws;         /* once upgraded; its reference is dropped when the conn is freed */
    char peer[HTTP_ADDR_MAX];
};

typedef struct http_server {
    http_server_options opt;
    const http_router *router;
    http_static *statics;
    atomic_int connections; /* across workers, against max_connections */
} http_server;

struct http_worker {
    http_server *srv;
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t wake; /* stop requests and stream data from other threads */
    uv_thread_t thread;
    int listen_fd;
    http_conn *conns;
    atomic_int stop_phase; /* 0 run, 1 graceful, 2 force */
    int applied_phase;
    bool listening;
    char read_buf[HTTP_READ_BUF_SIZE];
    time_t date_time;
    char date[HTTP_DATE_LEN + 1];
    pthread_mutex_t mu;              /* protects ready */
    http_stream *ready;              /* mu: streams with data to flush */
    http_ws *ws_ready;               /* mu: WebSockets with messages or a close to process */
    void (*on_exit)(http_worker *w); /* loop thread: the worker finished */
};

/* ---- conn.c ---- */

/* Accepts a new connection on `w`'s listener (loop thread). */
void http_conn_accept(http_worker *w);

/* Closes `c` now (idempotent); its memory goes when libuv and the pool
 * are done with it. */
void http_conn_close(http_conn *c);

/* Applies a stop phase to every connection of `w`: 1 closes idle ones and
 * marks busy ones to close after their response, 2 closes all. */
void http_conn_stop_all(http_worker *w, int phase);

/* The request on `c` is complete: stop reading and timers while it runs. */
void http_conn_begin_handling(http_conn *c);

/* A pool handler of `c` returned. Returns true when the connection is still
 * open (answer it); false when it closed meanwhile (it is freed if it was the
 * last thing holding it). Loop thread. */
bool http_conn_work_finished(http_conn *c);

/* Closes after what was written: shuts the write side down, discards input
 * for HTTP_LINGER_MS or until EOF, then closes. Loop thread. */
void http_conn_linger(http_conn *c);

/* Writes the exchange's response; then continues with the next request or
 * closes. Loop thread. */
void http_conn_respond(http_exchange *ex);

/* The exchange's response is complete on the wire (or the connection is
 * gone): log it, then read the next request or close. Loop thread. */
void http_conn_response_done(http_conn *c);

/* ---- dispatch.c ---- */

/* Runs the complete request parsed on `c`: builds c->ex->req, routes it and
 * answers (inline, or via the pool). Loop thread. */
void http_dispatch_request(http_conn *c);

/* Answers `c` with an error (400, 408, 413, 431, 503) and closes after it.
 * Works before a request is complete. Loop thread. */
void http_dispatch_fail(http_conn *c, int status, const char *code, const char *message);

/* Creates c->ex (arena) if it does not exist yet; NULL when out of memory. */
http_exchange *http_exchange_begin(http_conn *c);

/* Emits the access-log line for `ex`. */
void http_access_log(const http_exchange *ex);

/* ---- request.c ---- */

/* Percent-decodes `len` bytes of `s` into the arena (`plus_space`: '+' is a
 * space). Returns NULL on a bad escape, an encoded NUL, or out of memory. */
char *http_percent_decode(arena *a, const char *s, size_t len, bool plus_space);

/* True when `id` matches [A-Za-z0-9._-]{1,64}. */
bool http_request_id_valid(const char *id);

/* Writes 32 hex chars + NUL of fresh randomness into `out`. Thread-safe. */
void http_request_id_generate(char out[33]);

/* ---- response.c ---- */

/* Initialises `res` for a new exchange. */
void http_response_init(http_response *res, arena *a);

/* Serialises the response head into the arena. `chunked` announces
 * Transfer-Encoding: chunked instead of Content-Length. Returns NULL when
 * out of memory. */
char *http_response_head(http_exchange *ex, const char *date, bool chunked, size_t *len);

/* ---- static.c ---- */

/* Loads every file under `dir` into memory (compressed variants and ETags
 * precomputed). Returns 0, SM_EIO or SM_ENOMEM with `err` filled. */
int http_static_load(const char *dir, http_static **out, sm_error *err);
void http_static_free(http_static *st);

/* Answers a GET/HEAD for `rel` (the path after the prefix). Loop thread. */
void http_static_serve(const http_static *st, const char *rel, http_request *req,
                       http_response *res);

/* ---- stream.c ---- */

/* Starts streaming on `c` after the head was written (loop thread). */
void http_stream_start(http_conn *c, http_exchange *ex);

/* The connection of a stream is going away: mark it over, run on_close. */
void http_stream_detach(http_conn *c);

/* Flushes data queued by other threads for `w`'s streams (loop thread). */
void http_stream_flush_ready(http_worker *w);

/* ---- ws_handshake.c ---- */

/* Writes Sec-WebSocket-Accept for `key` (base64 of SHA-1(key + GUID), 28
 * chars + NUL) into `out`. Returns 0 or SM_EINTERNAL (libcrypto failed). */
int http_ws_accept_key(const char *key, char out[29]);

/* ---- ws.c ---- */

/* Switches `c` to WebSocket after its handler accepted the upgrade: writes
 * the 101 head (`head`, `hlen`, in the exchange's arena), logs the exchange,
 * frees the arena, calls on_open, then feeds the bytes that followed the
 * request in `pending` to the WebSocket. On failure the connection is
 * closed and on_close has run. Loop thread. */
void http_ws_start(http_conn *c, http_exchange *ex, const char *head, size_t hlen);

/* Bytes read on an upgraded connection (loop thread). */
void http_ws_on_read(http_conn *c, const char *data, size_t len);

/* The connection is closing: mark the WebSocket over and run on_close. */
void http_ws_detach(http_conn *c);

/* The connection's memory goes: drop its reference on c->ws. */
void http_ws_conn_free(http_conn *c);

/* Graceful stop: sends 1001 Going Away and closes after the peer answers. */
void http_ws_going_away(http_conn *c);

/* Processes what other threads queued for `w`'s WebSockets (loop thread). */
void http_ws_flush_ready(http_worker *w);

/* ---- server.c ---- */

/* A connection of `w` closed: when stopping and none is left, the worker
 * lets its loop end. Loop thread. */
void http_worker_conn_gone(http_worker *w);

/* The worker's cached "Date" value, refreshed at most once a second. */
const char *http_worker_date(http_worker *w);

#endif
