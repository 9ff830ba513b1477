/* ws.c — an upgraded connection: RFC 6455 framing by wslay over the
 * connection's libuv stream, keep-alive, the close handshake, and messages
 * sent from any thread.
 *
 * Reading: conn.c hands every read of an upgraded connection to
 * http_ws_on_read(), which points the recv callback at those bytes and runs
 * wslay_event_recv(); wslay parses, unmasks, reassembles fragments, checks
 * masking, opcodes, UTF-8 of text (1007) and HTTP_WS_MESSAGE_MAX (1009),
 * answers pings and the peer's close, and calls on_msg for each complete
 * message. Bytes are consumed straight from the worker's shared read
 * buffer, so a connection owns no read buffer of its own.
 *
 * Writing: http_ws_send_text() copies the message into a bounded
 * per-connection queue under the handle's mutex, puts the handle on its
 * worker's ready list and wakes the loop (uv_async), as stream.c does. The
 * loop (ws_pump) moves queued messages into wslay, runs wslay_event_send(),
 * whose send callback appends frames to one output block, and writes that
 * block (uv_try_write first, uv_write for the rest). When libuv still holds
 * WS_WRITE_HIGH bytes the send callback answers "would block": messages wait
 * in wslay until a write completes, and everything waiting (our queue,
 * wslay's, libuv's) counts against HTTP_WS_SEND_QUEUE_MAX, so a client that
 * stops reading makes its senders see SM_EBUSY instead of growing memory.
 * The common case of a fan-out, text messages for an idle connection whose
 * socket has room, skips wslay (ws_write_direct): the loop frames them itself
 * and writes header and message with one uv_try_write (writev), so an event
 * costs each connection one syscall and no wslay context.
 *
 * Memory: a wslay context costs about 8.8 KiB (two 4 KiB frame buffers), more
 * than an idle connection should. So the context exists only while there is
 * something in flight: it is made when bytes arrive or something must be
 * sent, and freed again (ws_trim) when wslay is at a frame boundary with no
 * fragmented message open, nothing to send and no close under way. The
 * frame boundary is known by counting bytes fed to wslay against the sizes
 * of the frames it reported complete (header size follows from the payload
 * length, since wslay rejects non-minimal length encodings and unmasked
 * client frames). An idle WebSocket is then the connection, this handle,
 * and libuv's handles: see docs/WEBSOCKET.md for the measured figure.
 *
 * Ending: every ending funnels into ws_end(), which runs on_close exactly
 * once. A close we start (http_ws_close, 1003 for binary, 1001 at shutdown)
 * waits up to HTTP_WS_CLOSE_WAIT_MS for the peer's close; a close the peer
 * starts, or a protocol error wslay detected, ends once our close frame is
 * written. The socket then closes with a lingering close (conn.c) so the
 * close frame is not destroyed by a reset.
 *
 * Lifetime: the handle is reference-counted: the owner's reference (until
 * http_ws_release), the connection's (until its memory goes, after every
 * write callback ran) and the ready list's while it is on it. `over` (under
 * the mutex) turns sends into SM_EIO once the connection has ended. */
#include "http/http_internal.h"

#include <stdlib.h>
#include <string.h>

#include <wslay/wslay.h>

#define WS_WRITE_HIGH (64 * 1024) /* bytes in libuv's queue before wslay waits */
#define WS_OUT_MIN 1024           /* first size of an output block */
#define WS_CODE_ABNORMAL 1006     /* ended without a close frame */
#define WS_SILENT_TICKS 2         /* ping intervals without traffic before dropping */
#define WS_DIRECT_BATCH 32        /* messages per uv_try_write on the fast path */

/* A message (or, with close_code set, a close request) from another thread. */
typedef struct ws_msg {
    struct ws_msg *next;
    size_t len;
    int close_code;
    char data[];
} ws_msg;

/* Frames produced by wslay for one write; becomes the uv_write's buffer. */
typedef struct ws_block {
    uv_write_t req;
    http_ws *ws;
    size_t len, cap;
    char data[];
} ws_block;

struct http_ws {
    pthread_mutex_t mu;
    int refs;             /* mu: owner, connection, ready list */
    bool over;            /* mu: ended: sends fail with SM_EIO */
    bool close_requested; /* mu: http_ws_close() was called */
    bool scheduled;       /* mu: on the worker's ready list */
    http_worker *w;       /* mu: NULL once over */
    ws_msg *head, *tail;  /* mu: waiting for the loop */
    size_t queued;        /* mu: bytes in head..tail, and those being moved */
    size_t backlog;       /* mu: the loop's count of bytes in wslay and libuv */
    http_ws *next;        /* w->mu: ready list link */

    /* loop thread only */
    http_conn *conn; /* NULL once detached */
    const http_ws_callbacks *cb;
    void *ctx;
    wslay_event_context_ptr ev; /* NULL while idle */
    const char *in;             /* the read being fed to wslay */
    size_t in_len;
    uint64_t fed, framed, frame_len; /* frame-boundary accounting */
    ws_block *out;                   /* frames not handed to libuv yet */
    ws_msg *close_msg;               /* our close, queued once the messages before it are */
    int inflight;                    /* uv_writes not called back */
    int code;                        /* the close code of the handshake, 0 until known */
    int silent;                      /* ping intervals without traffic */
    bool heard;                      /* traffic since the last ping tick */
    bool in_message;                 /* a fragmented message is open */
    bool closing;                    /* close handshake under way */
    bool ended;                      /* on_close ran */
};

static void ws_pump(http_ws *ws);

static void ws_unref(http_ws *ws)
{
    pthread_mutex_lock(&ws->mu);
    int refs = --ws->refs;
    pthread_mutex_unlock(&ws->mu);
    if (refs > 0)
        return;
    for (ws_msg *m = ws->head, *n; m; m = n) {
        n = m->next;
        free(m);
    }
    pthread_mutex_destroy(&ws->mu);
    free(ws);
}

/* Runs on_close once and frees what an ended connection no longer needs. */
static void ws_end(http_ws *ws, int code)
{
    if (ws->ended)
        return;
    ws->ended = true;
    pthread_mutex_lock(&ws->mu);
    ws->over = true;
    ws->w = NULL;
    ws_msg *list = ws->head;
    ws->head = ws->tail = NULL;
    pthread_mutex_unlock(&ws->mu);
    for (ws_msg *n; list; list = n) {
        n = list->next;
        free(list);
    }
    wslay_event_context_free(ws->ev);
    ws->ev = NULL;
    free(ws->out);
    ws->out = NULL;
    free(ws->close_msg);
    ws->close_msg = NULL;
    if (ws->cb->on_close)
        ws->cb->on_close(ws->ctx, code);
}

/* Ends the WebSocket and drops the socket at once (no handshake possible). */
static void ws_abort(http_ws *ws)
{
    http_conn *c = ws->conn;
    ws_end(ws, ws->code ? ws->code : WS_CODE_ABNORMAL);
    if (c)
        http_conn_close(c);
}

/* ---- wslay callbacks ---- */

static ssize_t on_wslay_recv(wslay_event_context_ptr ev, uint8_t *buf, size_t len, int flags,
                             void *user)
{
    (void)flags;
    http_ws *ws = user;
    if (ws->in_len == 0) {
        wslay_event_set_error(ev, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < ws->in_len ? len : ws->in_len;
    memcpy(buf, ws->in, n);
    ws->in += n;
    ws->in_len -= n;
    ws->fed += n;
    return (ssize_t)n;
}

static ssize_t on_wslay_send(wslay_event_context_ptr ev, const uint8_t *data, size_t len, int flags,
                             void *user)
{
    (void)flags;
    http_ws *ws = user;
    size_t held = ws->conn->tcp.write_queue_size + (ws->out ? ws->out->len : 0);
    if (held >= WS_WRITE_HIGH) {
        wslay_event_set_error(ev, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < WS_WRITE_HIGH - held ? len : WS_WRITE_HIGH - held;
    size_t have = ws->out ? ws->out->len : 0;
    if (!ws->out || have + n > ws->out->cap) {
        size_t cap = ws->out ? 2 * ws->out->cap : WS_OUT_MIN;
        while (cap < have + n)
            cap *= 2;
        ws_block *b = realloc(ws->out, sizeof *b + cap); /* not submitted yet: movable */
        if (!b) {
            wslay_event_set_error(ev, WSLAY_ERR_CALLBACK_FAILURE);
            return -1;
        }
        b->len = have;
        b->cap = cap;
        ws->out = b;
    }
    memcpy(ws->out->data + have, data, n);
    ws->out->len += n;
    return (ssize_t)n;
}

static void on_wslay_frame_start(wslay_event_context_ptr ev,
                                 const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
    (void)ev;
    http_ws *ws = user;
    uint64_t len = arg->payload_length;
    uint64_t header = 2 + 4 + (len >= 65536 ? 8 : len >= 126 ? 2 : 0); /* masked */
    ws->frame_len = header + len;
    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME ||
        arg->opcode == WSLAY_CONTINUATION_FRAME)
        ws->in_message = !arg->fin;
}

static void on_wslay_frame_end(wslay_event_context_ptr ev, void *user)
{
    (void)ev;
    http_ws *ws = user;
    ws->framed += ws->frame_len;
}

static void ws_begin_close(http_ws *ws, int code, const char *reason, size_t len);

static void on_wslay_msg(wslay_event_context_ptr ev, const struct wslay_event_on_msg_recv_arg *arg,
                         void *user)
{
    (void)ev;
    http_ws *ws = user;
    if (ws->closing || ws->ended)
        return;
    if (arg->opcode == WSLAY_TEXT_FRAME) {
        if (ws->cb->on_message)
            ws->cb->on_message(ws, arg->msg ? (const char *)arg->msg : "", arg->msg_length,
                               ws->ctx);
    } else if (arg->opcode == WSLAY_BINARY_FRAME) {
        static const char reason[] = "binary messages are not accepted";
        ws_begin_close(ws, 1003, reason, sizeof reason - 1);
    }
}

static const struct wslay_event_callbacks WSLAY_CALLBACKS = {
    .recv_callback = on_wslay_recv,
    .send_callback = on_wslay_send,
    .on_frame_recv_start_callback = on_wslay_frame_start,
    .on_frame_recv_end_callback = on_wslay_frame_end,
    .on_msg_recv_callback = on_wslay_msg,
};

/* ---- the wslay context, made on demand ---- */

static wslay_event_context_ptr ws_context(http_ws *ws)
{
    if (ws->ev)
        return ws->ev;
    if (wslay_event_context_server_init(&ws->ev, &WSLAY_CALLBACKS, ws) != 0) {
        ws->ev = NULL;
        return NULL;
    }
    wslay_event_config_set_max_recv_msg_length(ws->ev, HTTP_WS_MESSAGE_MAX);
    ws->fed = ws->framed = ws->frame_len = 0;
    ws->in_message = false;
    return ws->ev;
}

/* Frees the context when it holds nothing: see the memory note above. */
static void ws_trim(http_ws *ws)
{
    if (ws->ev && !ws->closing && ws->fed == ws->framed && !ws->in_message &&
        !wslay_event_want_write(ws->ev)) {
        wslay_event_context_free(ws->ev);
        ws->ev = NULL;
    }
}

/* ---- writing ---- */

static void on_block_written(uv_write_t *req, int status)
{
    ws_block *b = req->data;
    http_ws *ws = b->ws;
    free(b);
    ws->inflight--;
    if (!ws->conn || ws->ended)
        return; /* detached: the connection's reference keeps `ws` alive until here */
    if (status < 0) {
        ws_abort(ws);
        return;
    }
    ws_pump(ws); /* room again: wslay may continue */
}

/* Hands the output block to the socket. Returns 0 or a libuv error. */
static int ws_flush_out(http_ws *ws)
{
    ws_block *b = ws->out;
    if (!b || b->len == 0)
        return 0;
    uv_stream_t *s = (uv_stream_t *)&ws->conn->tcp;
    size_t done = 0;
    if (ws->conn->tcp.write_queue_size == 0) {
        uv_buf_t buf = uv_buf_init(b->data, (unsigned)b->len);
        int r = uv_try_write(s, &buf, 1);
        if (r < 0 && r != UV_EAGAIN)
            return r;
        done = r > 0 ? (size_t)r : 0;
    }
    ws->out = NULL;
    if (done == b->len) {
        free(b);
        return 0;
    }
    b->ws = ws;
    b->req.data = b;
    uv_buf_t rest = uv_buf_init(b->data + done, (unsigned)(b->len - done));
    int r = uv_write(&b->req, s, &rest, 1, on_block_written);
    if (r < 0) {
        free(b);
        return r;
    }
    ws->inflight++;
    return 0;
}

/* Queues `len` raw bytes (the 101 head) ahead of any frame. */
static int ws_write_raw(http_ws *ws, const char *data, size_t len)
{
    ws_block *b = malloc(sizeof *b + len);
    if (!b)
        return SM_ENOMEM;
    memcpy(b->data, data, len);
    b->len = b->cap = len;
    ws->out = b;
    return ws_flush_out(ws) < 0 ? SM_EIO : 0;
}

/* ---- the close handshake ---- */

static void on_close_wait(uv_timer_t *t)
{
    http_conn *c = t->data;
    if (c->ws && c->state == HTTP_CONN_WEBSOCKET)
        ws_abort(c->ws); /* the peer did not answer our close, or did not read it */
}

static void ws_closing(http_ws *ws)
{
    if (ws->closing)
        return;
    ws->closing = true;
    uv_timer_start(&ws->conn->timer, on_close_wait, HTTP_WS_CLOSE_WAIT_MS, 0);
}

/* Starts our side of the close. wslay sends control frames before queued
 * data, so the close frame is handed to it only once the messages queued
 * before it are out (ws_pump); until then it waits in close_msg. */
static void ws_begin_close(http_ws *ws, int code, const char *reason, size_t len)
{
    if (ws->closing || ws->ended)
        return;
    ws_msg *m = malloc(sizeof *m + len);
    if (!m) {
        ws_abort(ws);
        return;
    }
    m->next = NULL;
    m->len = len;
    m->close_code = code;
    if (len)
        memcpy(m->data, reason, len);
    ws->close_msg = m;
    if (!ws->code)
        ws->code = code;
    ws_closing(ws);
}

/* Hands our pending close to wslay once nothing is queued before it. */
static void ws_queue_close(http_ws *ws)
{
    ws_msg *m = ws->close_msg;
    if (!m || !ws->ev || wslay_event_want_write(ws->ev))
        return;
    ws->close_msg = NULL;
    /* NO_MORE_MSG: the peer's close came first and wslay answered it. */
    (void)wslay_event_queue_close(ws->ev, (uint16_t)m->close_code, (const uint8_t *)m->data,
                                  m->len);
    free(m);
}

/* Notes how far the close handshake got; ends the WebSocket when both
 * sides have closed and our close frame is on the wire. */
static void ws_check_close(http_ws *ws)
{
    wslay_event_context_ptr ev = ws->ev;
    if (!ev || ws->ended)
        return;
    bool received = wslay_event_get_close_received(ev);
    bool sent = wslay_event_get_close_sent(ev);
    if (!ws->code && received)
        ws->code = wslay_event_get_status_code_received(ev);
    if (!ws->code && sent)
        ws->code = wslay_event_get_status_code_sent(ev);
    bool read_over = !wslay_event_get_read_enabled(ev); /* peer closed, or a protocol error */
    if (read_over || sent)
        ws_closing(ws);
    if (read_over && sent && ws->inflight == 0 && !ws->out) {
        http_conn *c = ws->conn;
        ws_end(ws, ws->code ? ws->code : WS_CODE_ABNORMAL);
        http_conn_linger(c);
    }
}

/* ---- the loop's work ---- */

/* The fan-out's fast path. An idle connection (no wslay context, nothing
 * waiting in our block or in libuv, no close under way) gets its text
 * messages framed here and written with one uv_try_write per batch of
 * WS_DIRECT_BATCH: a frame header on the stack and the message itself, no
 * wslay context to make and free again (that is 8.8 KiB zeroed and two
 * copies per message per connection). What the socket does not take is
 * copied into one block and handed to uv_write, which keeps the order for
 * anything sent after it. Returns the messages it did not handle (from the
 * first close request or once the connection is busy), freeing the others;
 * sets *failed on a socket error. */
static ws_msg *ws_write_direct(http_ws *ws, ws_msg *list, bool *failed)
{
    uv_stream_t *s = (uv_stream_t *)&ws->conn->tcp;
    while (list && !list->close_code && !ws->ev && !ws->out && !ws->closing && !ws->close_msg &&
           ws->conn->tcp.write_queue_size == 0) {
        unsigned char heads[WS_DIRECT_BATCH][10];
        uv_buf_t bufs[2 * WS_DIRECT_BATCH];
        unsigned nbufs = 0;
        size_t total = 0;
        ws_msg *m = list;
        for (int k = 0; k < WS_DIRECT_BATCH && m && !m->close_code; k++, m = m->next) {
            unsigned char *h = heads[k];
            size_t hl = 2;
            h[0] = 0x80 | WSLAY_TEXT_FRAME; /* FIN, text; server frames are not masked */
            if (m->len < 126) {
                h[1] = (unsigned char)m->len;
            } else if (m->len < 65536) {
                h[1] = 126;
                h[2] = (unsigned char)(m->len >> 8);
                h[3] = (unsigned char)m->len;
                hl = 4;
            } else {
                h[1] = 127;
                for (int b = 0; b < 8; b++)
                    h[2 + b] = (unsigned char)((uint64_t)m->len >> (56 - 8 * b));
                hl = 10;
            }
            bufs[nbufs++] = uv_buf_init((char *)h, (unsigned)hl);
            if (m->len)
                bufs[nbufs++] = uv_buf_init(m->data, (unsigned)m->len);
            total += hl + m->len;
        }
        int r = uv_try_write(s, bufs, nbufs);
        if (r < 0 && r != UV_EAGAIN) {
            *failed = true;
            return list;
        }
        size_t done = r > 0 ? (size_t)r : 0;
        if (done < total) {
            ws_block *b = malloc(sizeof *b + (total - done));
            if (!b) {
                *failed = true;
                return list;
            }
            b->len = b->cap = 0;
            size_t skip = done;
            for (unsigned k = 0; k < nbufs; k++) {
                size_t bl = bufs[k].len;
                if (skip >= bl) {
                    skip -= bl;
                    continue;
                }
                memcpy(b->data + b->len, bufs[k].base + skip, bl - skip);
                b->len += bl - skip;
                skip = 0;
            }
            b->cap = b->len;
            ws->out = b;
            if (ws_flush_out(ws) < 0)
                *failed = true;
        }
        while (list != m) {
            ws_msg *n = list->next;
            free(list);
            list = n;
        }
        if (*failed)
            return list;
    }
    return list;
}

/* Moves queued messages into wslay, sends what wslay can, and updates the
 * backlog senders are measured against. Loop thread. */
static void ws_pump(http_ws *ws)
{
    http_conn *c = ws->conn;
    if (!c || ws->ended)
        return;
    pthread_mutex_lock(&ws->mu);
    ws_msg *list = ws->head;
    ws->head = ws->tail = NULL;
    size_t taken = ws->queued; /* still counted until the backlog includes it */
    pthread_mutex_unlock(&ws->mu);

    bool failed = false;
    list = ws_write_direct(ws, list, &failed);
    for (ws_msg *m = list, *n; m; m = n) {
        n = m->next;
        if (!failed && !ws->ended) {
            wslay_event_context_ptr ev = ws_context(ws);
            if (!ev) {
                failed = true;
            } else if (m->close_code) {
                ws_begin_close(ws, m->close_code, m->data, m->len);
            } else if (!ws->closing) {
                struct wslay_event_msg msg = {WSLAY_TEXT_FRAME, (const uint8_t *)m->data, m->len};
                int r = wslay_event_queue_msg(ev, &msg);
                failed = r == WSLAY_ERR_NOMEM;
            }
        }
        free(m);
    }
    if (!failed && !ws->ended && ws->close_msg && !ws_context(ws))
        failed = true;
    for (int round = 0; round < 2 && !failed && !ws->ended && ws->ev; round++) {
        ws_queue_close(ws); /* round 2: the data before it went out in round 1 */
        if (wslay_event_want_write(ws->ev))
            failed = wslay_event_send(ws->ev) < 0;
    }
    if (!failed && !ws->ended)
        failed = ws_flush_out(ws) < 0;
    if (failed && !ws->ended)
        ws_abort(ws);
    ws_check_close(ws);
    size_t backlog = 0;
    if (!ws->ended) {
        ws_trim(ws);
        backlog = c->tcp.write_queue_size + (ws->out ? ws->out->len : 0) +
                  (ws->ev ? wslay_event_get_queued_msg_length(ws->ev) : 0);
    }
    pthread_mutex_lock(&ws->mu);
    ws->queued -= taken;
    ws->backlog = backlog;
    pthread_mutex_unlock(&ws->mu);
}

void http_ws_on_read(http_conn *c, const char *data, size_t len)
{
    http_ws *ws = c->ws;
    if (!ws || ws->ended)
        return;
    ws->heard = true;
    wslay_event_context_ptr ev = ws_context(ws);
    if (!ev) {
        ws_abort(ws);
        return;
    }
    if (!wslay_event_get_read_enabled(ev))
        return; /* closing: what follows the close is discarded */
    ws->in = data;
    ws->in_len = len;
    int r = wslay_event_recv(ev);
    ws->in = NULL;
    ws->in_len = 0;
    if (ws->ended)
        return;
    if (r < 0) {
        ws_abort(ws);
        return;
    }
    ws_pump(ws);
}

static void on_ping_tick(uv_timer_t *t)
{
    http_conn *c = t->data;
    http_ws *ws = c->ws;
    if (!ws || ws->ended || ws->closing || c->state != HTTP_CONN_WEBSOCKET)
        return;
    ws->silent = ws->heard ? 0 : ws->silent + 1;
    ws->heard = false;
    if (ws->silent >= WS_SILENT_TICKS) {
        ws_abort(ws); /* nothing, not even a pong, for two intervals */
        return;
    }
    wslay_event_context_ptr ev = ws_context(ws);
    struct wslay_event_msg ping = {WSLAY_PING, NULL, 0};
    if (!ev || wslay_event_queue_msg(ev, &ping) == WSLAY_ERR_NOMEM) {
        ws_abort(ws);
        return;
    }
    ws_pump(ws);
}

void http_ws_start(http_conn *c, http_exchange *ex, const char *head, size_t hlen)
{
    const http_ws_callbacks *cb = ex->res.ws_cb;
    void *ctx = ex->res.ws_ctx;
    http_ws *ws = calloc(1, sizeof *ws);
    if (!ws || pthread_mutex_init(&ws->mu, NULL) != 0) {
        free(ws);
        if (cb->on_close)
            cb->on_close(ctx, WS_CODE_ABNORMAL);
        http_conn_close(c);
        return;
    }
    ws->refs = 2; /* the owner's and the connection's */
    ws->w = c->w;
    ws->conn = c;
    ws->cb = cb;
    ws->ctx = ctx;
    c->ws = ws;
    c->state = HTTP_CONN_WEBSOCKET;
    int rc = ws_write_raw(ws, head, hlen);
    ex->body_sent = 0;
    http_access_log(ex);
    /* The exchange is over: its arena goes, the connection keeps no buffer. */
    c->ex = NULL;
    c->url = NULL;
    c->headers = NULL;
    c->header_count = c->header_cap = 0;
    c->body = NULL;
    arena_free(c->arena);
    c->arena = NULL;
    if (rc < 0) {
        http_conn_close(c); /* on_close runs (1006), on_open never did */
        return;
    }
    const http_server_options *o = &c->w->srv->opt;
    uint64_t ping = (uint64_t)(o->ws_ping_ms > 0 ? o->ws_ping_ms : HTTP_WS_PING_MS);
    uv_timer_start(&c->timer, on_ping_tick, ping, ping);
    if (cb->on_open)
        cb->on_open(ws, ctx);
    if (atomic_load(&c->w->stop_phase) > 0)
        http_ws_going_away(c);
    if (c->pending_off < c->pending_len && !ws->ended)
        http_ws_on_read(c, c->pending + c->pending_off, c->pending_len - c->pending_off);
    free(c->pending);
    c->pending = NULL;
    c->pending_len = c->pending_off = c->pending_cap = 0;
    ws_pump(ws);
}

void http_ws_detach(http_conn *c)
{
    http_ws *ws = c->ws;
    if (!ws)
        return;
    ws_end(ws, ws->code ? ws->code : WS_CODE_ABNORMAL);
    ws->conn = NULL;
}

void http_ws_conn_free(http_conn *c)
{
    if (c->ws)
        ws_unref(c->ws);
    c->ws = NULL;
}

void http_ws_going_away(http_conn *c)
{
    http_ws *ws = c->ws;
    if (!ws || ws->ended || ws->closing)
        return;
    static const char reason[] = "server shutting down";
    ws_begin_close(ws, 1001, reason, sizeof reason - 1);
    ws_pump(ws);
}

void http_ws_flush_ready(http_worker *w)
{
    pthread_mutex_lock(&w->mu);
    http_ws *list = w->ws_ready;
    w->ws_ready = NULL;
    pthread_mutex_unlock(&w->mu);
    for (http_ws *ws = list, *n; ws; ws = n) {
        n = ws->next;
        pthread_mutex_lock(&ws->mu);
        ws->scheduled = false;
        pthread_mutex_unlock(&ws->mu);
        ws_pump(ws);
        ws_unref(ws); /* the ready list's reference */
    }
}

/* ---- any thread ---- */

/* Puts `ws` on its worker's ready list and wakes the loop; mu held. */
static void schedule_locked(http_ws *ws)
{
    if (ws->scheduled || !ws->w)
        return;
    ws->scheduled = true;
    ws->refs++;
    http_worker *w = ws->w;
    pthread_mutex_lock(&w->mu);
    ws->next = w->ws_ready;
    w->ws_ready = ws;
    pthread_mutex_unlock(&w->mu);
    uv_async_send(&w->wake);
}

int http_ws_send_text(http_ws *ws, const char *text, size_t len)
{
    if (len > HTTP_WS_SEND_QUEUE_MAX)
        return SM_ETOOLARGE;
    ws_msg *m = malloc(sizeof *m + len);
    if (!m)
        return SM_ENOMEM;
    m->next = NULL;
    m->len = len;
    m->close_code = 0;
    if (len)
        memcpy(m->data, text, len);
    int rc = 0;
    pthread_mutex_lock(&ws->mu);
    if (ws->over || ws->close_requested) {
        rc = SM_EIO;
    } else if (ws->queued + ws->backlog + len > HTTP_WS_SEND_QUEUE_MAX) {
        rc = SM_EBUSY;
    } else {
        if (ws->tail)
            ws->tail->next = m;
        else
            ws->head = m;
        ws->tail = m;
        ws->queued += len;
        schedule_locked(ws);
    }
    pthread_mutex_unlock(&ws->mu);
    if (rc < 0)
        free(m);
    return rc;
}

/* Codes an endpoint may send (RFC 6455 7.4); the rest are reserved. */
static int close_code_sendable(int code)
{
    bool ok = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1009) || code == 1011 ||
              (code >= 3000 && code <= 4999);
    return ok ? code : 1000;
}

void http_ws_close(http_ws *ws, int code, const char *reason)
{
    size_t len = reason ? strlen(reason) : 0;
    if (len > HTTP_WS_REASON_MAX) {
        len = HTTP_WS_REASON_MAX;
        while (len > 0 && ((unsigned char)reason[len] & 0xC0) == 0x80)
            len--; /* do not cut a UTF-8 sequence */
    }
    ws_msg *m = malloc(sizeof *m + len);
    if (!m)
        return; /* the keep-alive or the peer ends it eventually */
    m->next = NULL;
    m->len = len;
    m->close_code = close_code_sendable(code);
    if (len)
        memcpy(m->data, reason, len);
    pthread_mutex_lock(&ws->mu);
    bool take = !ws->over && !ws->close_requested;
    if (take) {
        ws->close_requested = true;
        if (ws->tail)
            ws->tail->next = m;
        else
            ws->head = m;
        ws->tail = m;
        schedule_locked(ws);
    }
    pthread_mutex_unlock(&ws->mu);
    if (!take)
        free(m);
}

void http_ws_retain(http_ws *ws)
{
    pthread_mutex_lock(&ws->mu);
    ws->refs++;
    pthread_mutex_unlock(&ws->mu);
}

void http_ws_release(http_ws *ws)
{
    if (ws)
        ws_unref(ws);
}
