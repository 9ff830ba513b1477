/* conn.c — one HTTP/1.1 connection: reading, parsing, limits, timeouts,
 * writing, keep-alive and pipelining.
 *
 * Bytes read from the socket are appended to the connection's `pending`
 * buffer and fed to http_parser by conn_drive(). The parser callbacks copy
 * the request line, headers and body into the connection's arena and count
 * them against the limits as they arrive (header bytes and count → 431,
 * body bytes, checked from Content-Length up front and as chunks arrive →
 * 413), so a client can never make us buffer more than the limits allow.
 * When a message completes, on_message_complete pauses the parser: the
 * bytes after it (a pipelined request) stay in `pending`, reading stops,
 * and the request is dispatched. Only when its response has been handed to
 * the kernel completely does the connection reset its arena, go back to
 * IDLE and resume parsing — which is what keeps pipelined responses in
 * order and the arena private to one request.
 *
 * One uv_timer per connection serves every deadline, by state: IDLE waits
 * idle_timeout_ms for the next request (then closes silently), READING
 * gives the whole request read_timeout_ms from its first byte (then 408:
 * a slowloris client dribbling headers is cut off), WRITING gives the
 * response write_timeout_ms to drain, LINGER drains a closing connection.
 *
 * An upgrade request answered 101 by a handler that accepted a WebSocket
 * (http_response_websocket) hands the connection to ws.c: state WEBSOCKET,
 * reads go to http_ws_on_read(), the bytes that followed the request are
 * fed to it, and the exchange's arena is freed (an idle WebSocket keeps no
 * buffer). Any other answer to an upgrade request closes after it.
 *
 * Closing after an error response uses a lingering close: shut the write
 * side down, keep reading and discarding for HTTP_LINGER_MS or until EOF,
 * then close. Closing at once would make the kernel answer the unread bytes
 * of, say, a too-large upload with a reset that can destroy the 413 before
 * the client reads it. */
#include "http/http_internal.h"

#include "core/log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PENDING_MAX (2 * HTTP_READ_BUF_SIZE)

static const char CONTINUE_100[] = "HTTP/1.1 100 Continue\r\n\r\n";
static const char BUSY_503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                               "Connection: close\r\nServer: smartmarket\r\n\r\n";

/* Connection-private state that does not belong in the shared header. */
typedef struct conn_extra {
    uv_write_t continue_req;
    uv_shutdown_t shutdown_req;
} conn_extra;

typedef struct conn_full {
    http_conn c; /* first: a http_conn * is a conn_full * */
    conn_extra x;
    bool reading;
    bool headers_done;
    size_t cur_len; /* length of the header name or value being appended */
} conn_full;

static conn_full *full(http_conn *c)
{
    return (conn_full *)c;
}

static void conn_drive(http_conn *c);

static void conn_free(http_conn *c)
{
    atomic_fetch_sub(&c->w->srv->connections, 1);
    http_ws_conn_free(c); /* after every write callback: libuv ran them before close */
    arena_free(c->arena);
    free(c->pending);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    http_conn *c = h->data;
    if (--c->open_handles == 0 && !c->work_pending)
        conn_free(c);
}

static void conn_unlink(http_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (c->w->conns == c)
        c->w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

void http_conn_close(http_conn *c)
{
    if (c->state == HTTP_CONN_CLOSED)
        return;
    if (c->stream)
        http_stream_detach(c);
    if (c->ws)
        http_ws_detach(c);
    c->state = HTTP_CONN_CLOSED;
    conn_unlink(c);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    http_worker_conn_gone(c->w);
}

static void on_timer(uv_timer_t *t)
{
    http_conn *c = t->data;
    switch (c->state) {
    case HTTP_CONN_READING:
        http_dispatch_fail(c, 408, "request_timeout", "the request did not arrive in time");
        break;
    case HTTP_CONN_IDLE:
    case HTTP_CONN_WRITING:
    case HTTP_CONN_LINGER: http_conn_close(c); break;
    default: break;
    }
}

static void timer_set(http_conn *c, int ms)
{
    if (ms > 0)
        uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
    else
        uv_timer_stop(&c->timer);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    http_conn *c = h->data;
    /* One buffer per loop: on_read consumes it before the next read. */
    *buf = uv_buf_init(c->w->read_buf, sizeof c->w->read_buf);
}

static int pending_append(http_conn *c, const char *data, size_t len)
{
    if (c->pending_off == c->pending_len) {
        c->pending_off = c->pending_len = 0;
    } else if (c->pending_off > 0) {
        memmove(c->pending, c->pending + c->pending_off, c->pending_len - c->pending_off);
        c->pending_len -= c->pending_off;
        c->pending_off = 0;
    }
    size_t need = c->pending_len + len;
    if (need > PENDING_MAX)
        return SM_ETOOLARGE;
    if (need > c->pending_cap) {
        size_t cap = need < 4096 ? 4096 : need;
        char *p = realloc(c->pending, cap);
        if (!p)
            return SM_ENOMEM;
        c->pending = p;
        c->pending_cap = cap;
    }
    memcpy(c->pending + c->pending_len, data, len);
    c->pending_len += len;
    return 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    http_conn *c = s->data;
    if (n == 0)
        return;
    if (n < 0) {
        http_conn_close(c); /* EOF or error: nothing more to answer */
        return;
    }
    switch (c->state) {
    case HTTP_CONN_IDLE:
    case HTTP_CONN_READING: break;
    case HTTP_CONN_STREAMING:
        /* A request pipelined behind a stream: answered by closing after. */
        c->must_close = true;
        return;
    case HTTP_CONN_WEBSOCKET: http_ws_on_read(c, buf->base, (size_t)n); return;
    default: return; /* LINGER: discard */
    }
    if (pending_append(c, buf->base, (size_t)n) < 0) {
        http_conn_close(c);
        return;
    }
    conn_drive(c);
}

static void reading_set(http_conn *c, bool on)
{
    conn_full *f = full(c);
    if (on == f->reading || c->state == HTTP_CONN_CLOSED)
        return;
    if (on) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            f->reading = true;
        else
            http_conn_close(c);
    } else {
        uv_read_stop((uv_stream_t *)&c->tcp);
        f->reading = false;
    }
}

/* ---- parser callbacks ---- */

static int fail_with(http_conn *c, int status)
{
    c->fail_status = status;
    return -1;
}

static int append(arena *a, char **buf, size_t *len, const char *at, size_t n)
{
    char *nb = arena_alloc(a, *len + n + 1);
    if (!nb)
        return SM_ENOMEM;
    if (*len)
        memcpy(nb, *buf, *len);
    memcpy(nb + *len, at, n);
    nb[*len + n] = '\0';
    *buf = nb;
    *len += n;
    return 0;
}

static int count_head(http_conn *c, size_t n)
{
    c->head_bytes += n;
    return c->head_bytes > c->w->srv->opt.max_header_bytes ? fail_with(c, 431) : 0;
}

static int on_message_begin(http_parser *p)
{
    http_conn *c = p->data;
    conn_full *f = full(c);
    if (!http_exchange_begin(c))
        return fail_with(c, 503);
    c->url = NULL;
    c->url_len = 0;
    c->headers = NULL;
    c->header_count = c->header_cap = 0;
    c->in_field = false;
    c->head_bytes = 16; /* method, version and line ends */
    c->body = NULL;
    c->body_len = c->body_cap = 0;
    f->headers_done = false;
    f->cur_len = 0;
    c->state = HTTP_CONN_READING;
    timer_set(c, c->w->srv->opt.read_timeout_ms);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    http_conn *c = p->data;
    if (count_head(c, n) < 0)
        return -1;
    return append(c->arena, &c->url, &c->url_len, at, n) < 0 ? fail_with(c, 503) : 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    http_conn *c = p->data;
    conn_full *f = full(c);
    if (f->headers_done)
        return 0; /* chunked trailers: ignored */
    if (count_head(c, n) < 0)
        return -1;
    if (!c->in_field) {
        if (c->header_count >= (size_t)c->w->srv->opt.max_headers)
            return fail_with(c, 431);
        if (c->header_count == c->header_cap) {
            size_t cap = c->header_cap ? 2 * c->header_cap : 16;
            http_header *h = arena_alloc(c->arena, cap * sizeof *h);
            if (!h)
                return fail_with(c, 503);
            if (c->header_count)
                memcpy(h, c->headers, c->header_count * sizeof *h);
            c->headers = h;
            c->header_cap = cap;
        }
        c->headers[c->header_count++] = (http_header){NULL, ""};
        c->in_field = true;
        f->cur_len = 0;
        if (count_head(c, 4) < 0) /* ": " and CRLF */
            return -1;
    }
    http_header *h = &c->headers[c->header_count - 1];
    char *name = (char *)h->name;
    if (append(c->arena, &name, &f->cur_len, at, n) < 0)
        return fail_with(c, 503);
    h->name = name;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    http_conn *c = p->data;
    conn_full *f = full(c);
    if (f->headers_done || c->header_count == 0)
        return 0;
    if (count_head(c, n) < 0)
        return -1;
    if (c->in_field) {
        c->in_field = false;
        f->cur_len = 0;
    }
    http_header *h = &c->headers[c->header_count - 1];
    char *value = f->cur_len ? (char *)h->value : NULL;
    if (append(c->arena, &value, &f->cur_len, at, n) < 0)
        return fail_with(c, 503);
    h->value = value;
    return 0;
}

static void headers_normalise(http_conn *c)
{
    for (size_t i = 0; i < c->header_count; i++) {
        http_header *h = &c->headers[i];
        for (char *s = (char *)h->name; *s; s++) {
            if (*s >= 'A' && *s <= 'Z')
                *s = (char)(*s + ('a' - 'A'));
        }
        char *v = (char *)h->value;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t len = strlen(v);
        while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
            v[--len] = '\0';
        h->value = v;
    }
}

static const char *find_header(http_conn *c, const char *lname)
{
    for (size_t i = 0; i < c->header_count; i++) {
        if (strcmp(c->headers[i].name, lname) == 0)
            return c->headers[i].value;
    }
    return NULL;
}

static void on_continue_written(uv_write_t *req, int status)
{
    (void)req;
    (void)status; /* a failure surfaces on the next read or write */
}

static int on_headers_complete(http_parser *p)
{
    http_conn *c = p->data;
    conn_full *f = full(c);
    f->headers_done = true;
    headers_normalise(c);
    size_t max = c->w->srv->opt.max_body_bytes;
    bool has_length = p->content_length != ULLONG_MAX;
    if (has_length && p->content_length > max)
        return fail_with(c, 413);
    if (has_length && p->content_length > 0) {
        c->body_cap = (size_t)p->content_length + 1;
        c->body = arena_alloc(c->arena, c->body_cap);
        if (!c->body)
            return fail_with(c, 503);
    }
    const char *expect = find_header(c, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && p->http_minor >= 1 &&
        (p->content_length > 0 || (p->flags & F_CHUNKED))) {
        /* Queued before any response, so libuv keeps the order. */
        uv_buf_t b = uv_buf_init((char *)CONTINUE_100, sizeof CONTINUE_100 - 1);
        uv_write(&f->x.continue_req, (uv_stream_t *)&c->tcp, &b, 1, on_continue_written);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    http_conn *c = p->data;
    if (n > c->w->srv->opt.max_body_bytes - c->body_len)
        return fail_with(c, 413);
    if (c->body_len + n + 1 > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 4096;
        while (cap < c->body_len + n + 1)
            cap *= 2;
        char *nb = arena_alloc(c->arena, cap);
        if (!nb)
            return fail_with(c, 503);
        if (c->body_len)
            memcpy(nb, c->body, c->body_len);
        c->body = nb;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, at, n);
    c->body_len += n;
    c->body[c->body_len] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p)
{
    http_conn *c = p->data;
    c->complete = true;
    http_parser_pause(p, 1); /* stop here: the next request waits its turn */
    return 0;
}

static const http_parser_settings g_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void parse_failed(http_conn *c, enum http_errno e)
{
    int status = c->fail_status;
    if (!status)
        status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
    switch (status) {
    case 413:
        http_dispatch_fail(c, 413, "payload_too_large", "the request body is too large");
        break;
    case 431:
        http_dispatch_fail(c, 431, "headers_too_large", "too many or too large headers");
        break;
    case 503: http_dispatch_fail(c, 503, "unavailable", "out of memory"); break;
    default: http_dispatch_fail(c, 400, "bad_request", http_errno_description(e)); break;
    }
}

/* Parses what is pending while the connection may take a request. */
static void conn_drive(http_conn *c)
{
    if (c->in_drive)
        return; /* the caller up the stack continues the loop */
    c->in_drive = true;
    while ((c->state == HTTP_CONN_IDLE || c->state == HTTP_CONN_READING) &&
           c->pending_off < c->pending_len) {
        const char *data = c->pending + c->pending_off;
        size_t len = c->pending_len - c->pending_off;
        size_t n = http_parser_execute(&c->parser, &g_settings, data, len);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
        } else if (e != HPE_OK) {
            c->pending_off = c->pending_len;
            parse_failed(c, e);
            break;
        }
        c->pending_off += n;
        if (c->parser.upgrade) {
            /* Answer, then close — unless the handler accepts a WebSocket:
             * the bytes after the request are then its first frames, so
             * they stay in `pending` and parsing stops here. */
            c->must_close = true;
            if (!c->complete)
                c->pending_off = c->pending_len;
        }
        if (c->complete) {
            c->complete = false;
            http_dispatch_request(c);
        } else if (n < len && e == HPE_OK) {
            c->pending_off = c->pending_len; /* cannot happen with requests; be safe */
        }
    }
    if (c->pending_off == c->pending_len)
        c->pending_off = c->pending_len = 0;
    c->in_drive = false;
    if (c->state == HTTP_CONN_IDLE || c->state == HTTP_CONN_READING)
        reading_set(c, true);
}

/* ---- writing ---- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    http_conn *c = req->data;
    if (c->state != HTTP_CONN_LINGER)
        return;
    if (status < 0)
        http_conn_close(c);
}

void http_conn_linger(http_conn *c)
{
    conn_full *f = full(c);
    c->state = HTTP_CONN_LINGER;
    f->x.shutdown_req.data = c;
    if (uv_shutdown(&f->x.shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        http_conn_close(c);
        return;
    }
    timer_set(c, HTTP_LINGER_MS);
    reading_set(c, true);
}

void http_conn_response_done(http_conn *c)
{
    if (c->state == HTTP_CONN_CLOSED)
        return;
    http_exchange *ex = c->ex;
    bool keep = ex && ex->keep_alive && !c->must_close;
    if (ex)
        http_access_log(ex);
    c->ex = NULL;
    c->url = NULL;
    c->headers = NULL;
    c->header_count = 0;
    c->body = NULL;
    c->fail_status = 0;
    arena_reset(c->arena);
    if (!keep) {
        http_conn_linger(c);
        return;
    }
    c->state = HTTP_CONN_IDLE;
    timer_set(c, c->w->srv->opt.idle_timeout_ms);
    conn_drive(c);
}

static void on_written(uv_write_t *req, int status)
{
    http_conn *c = req->handle->data;
    if (c->state == HTTP_CONN_CLOSED)
        return;
    if (status < 0) {
        http_conn_close(c);
        return;
    }
    http_conn_response_done(c);
}

static bool status_has_body(int status)
{
    return !(status < 200 || status == 204 || status == 304);
}

/* The handler accepted a WebSocket: switch protocols, or settle the debt
 * of on_close when the upgrade does not happen after all. Returns true
 * when the connection was handed over. */
static bool respond_websocket(http_conn *c, http_exchange *ex)
{
    http_response *res = &ex->res;
    res->websocket = false;
    if (res->status != 101 || c->ex != ex) {
        if (res->ws_cb->on_close)
            res->ws_cb->on_close(res->ws_ctx, 1006);
        return false;
    }
    size_t hlen;
    char *head = http_response_head(ex, http_worker_date(c->w), false, &hlen);
    if (!head) {
        if (res->ws_cb->on_close)
            res->ws_cb->on_close(res->ws_ctx, 1006);
        http_conn_close(c);
        return true;
    }
    reading_set(c, true);
    if (c->state != HTTP_CONN_CLOSED)
        http_ws_start(c, ex, head, hlen);
    return true;
}

void http_conn_respond(http_exchange *ex)
{
    http_conn *c = ex->conn;
    http_response *res = &ex->res;
    if (c->state == HTTP_CONN_CLOSED) {
        if (res->websocket && res->ws_cb->on_close)
            res->ws_cb->on_close(res->ws_ctx, 1006);
        return;
    }
    if (res->websocket && respond_websocket(c, ex))
        return;
    bool stopping = atomic_load(&c->w->stop_phase) > 0;
    ex->keep_alive = http_should_keep_alive(&c->parser) && !c->must_close && !res->close &&
                     !stopping && !c->parser.upgrade && c->ex == ex;
    if (!status_has_body(res->status))
        res->body_len = 0;
    bool chunked_head = false;
    if (res->streaming && ex->head) {
        /* HEAD: the head of the stream and nothing else. */
        res->streaming = false;
        chunked_head = !ex->http10;
        if (res->stream_close)
            res->stream_close(res->stream_ctx);
    }
    if (res->streaming) {
        /* HTTP/1.0 has no chunked encoding: the end of the body is the close. */
        if (ex->http10)
            ex->keep_alive = false;
        size_t hlen;
        char *head = http_response_head(ex, http_worker_date(c->w), !ex->http10, &hlen);
        if (!head) {
            if (res->stream_close)
                res->stream_close(res->stream_ctx);
            http_conn_close(c);
            return;
        }
        ex->bufs[0] = uv_buf_init(head, (unsigned)hlen);
        c->state = HTTP_CONN_STREAMING;
        timer_set(c, 0);
        reading_set(c, true); /* to notice the client leaving */
        http_stream_start(c, ex);
        return;
    }
    size_t hlen;
    char *head = http_response_head(ex, http_worker_date(c->w), chunked_head, &hlen);
    if (!head) {
        http_conn_close(c);
        return;
    }
    size_t blen = ex->head ? 0 : res->body_len;
    ex->body_sent = res->body_len;
    ex->bufs[0] = uv_buf_init(head, (unsigned)hlen);
    ex->bufs[1] = uv_buf_init((char *)res->body, (unsigned)blen);
    unsigned nbufs = blen ? 2 : 1;
    int r = uv_try_write((uv_stream_t *)&c->tcp, ex->bufs, nbufs);
    if (r >= 0 && (size_t)r == hlen + blen) {
        http_conn_response_done(c);
        return;
    }
    if (r < 0 && r != UV_EAGAIN) {
        http_conn_close(c);
        return;
    }
    /* Partly written: queue the rest and wait for it. */
    size_t done = r > 0 ? (size_t)r : 0;
    uv_buf_t *b = ex->bufs;
    while (nbufs > 0 && done >= b->len) {
        done -= b->len;
        b++;
        nbufs--;
    }
    b->base += done;
    b->len -= done;
    c->state = HTTP_CONN_WRITING;
    timer_set(c, c->w->srv->opt.write_timeout_ms);
    if (uv_write(&ex->write_req, (uv_stream_t *)&c->tcp, b, nbufs, on_written) < 0)
        http_conn_close(c);
}

/* ---- lifecycle ---- */

static void peer_name(http_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    strcpy(c->peer, "-");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof c->peer);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof c->peer);
}

void http_conn_accept(http_worker *w)
{
    conn_full *f = calloc(1, sizeof *f);
    if (!f) {
        log_error("http: out of memory accepting a connection");
        return;
    }
    http_conn *c = &f->c;
    c->w = w;
    atomic_fetch_add(&w->srv->connections, 1);
    uv_tcp_init(&w->loop, &c->tcp);
    uv_timer_init(&w->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    c->state = HTTP_CONN_IDLE;
    if (uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)&c->tcp) != 0) {
        http_conn_close(c);
        return;
    }
    int count = atomic_load(&w->srv->connections);
    if (count > w->srv->opt.max_connections || atomic_load(&w->stop_phase) > 0) {
        uv_buf_t b = uv_buf_init((char *)BUSY_503, sizeof BUSY_503 - 1);
        (void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        http_conn_close(c);
        return;
    }
    c->arena = arena_new(8192);
    if (!c->arena) {
        http_conn_close(c);
        return;
    }
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    peer_name(c);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    timer_set(c, w->srv->opt.idle_timeout_ms);
    reading_set(c, true);
}

void http_conn_begin_handling(http_conn *c)
{
    c->state = HTTP_CONN_HANDLING;
    timer_set(c, 0);
    reading_set(c, false);
}

bool http_conn_work_finished(http_conn *c)
{
    c->work_pending = false;
    if (c->state != HTTP_CONN_CLOSED)
        return true;
    if (c->open_handles == 0)
        conn_free(c);
    return false;
}

void http_conn_stop_all(http_worker *w, int phase)
{
    http_conn *next;
    for (http_conn *c = w->conns; c; c = next) {
        next = c->next;
        c->must_close = true;
        /* Streams never end by themselves, so they close with the idle;
         * WebSockets are told 1001 Going Away and close when the peer answers. */
        if (phase >= 2 || c->state == HTTP_CONN_IDLE || c->state == HTTP_CONN_LINGER ||
            c->state == HTTP_CONN_STREAMING)
            http_conn_close(c);
        else if (c->state == HTTP_CONN_WEBSOCKET)
            http_ws_going_away(c);
    }
}
