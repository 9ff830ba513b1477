/* stream.c — streamed responses (see http.h): a body written in pieces,
 * from any thread, after the handler has returned.
 *
 * A writer on any thread copies its data, already framed as one chunk
 * ("len\r\n…\r\n", or raw for HTTP/1.0), into the stream's queue under the
 * stream's mutex, puts the stream on its worker's ready list (once) and
 * wakes the loop with uv_async_send. The loop thread then moves queued
 * chunks to uv_write in order. Bytes queued but not yet taken by the kernel
 * are counted against HTTP_STREAM_QUEUE_MAX, so a client that stops
 * reading costs a bounded amount of memory and its writer sees SM_EBUSY.
 *
 * Lifetime: a stream is reference-counted. The owner (whoever got it from
 * on_open) holds one reference until http_stream_end(); the connection
 * holds one until it is finished with the stream and every write it
 * started has called back; the ready list holds one while the stream is on
 * it. `closed` (under the mutex) turns writes into SM_EIO once the
 * connection is gone, so a late writer never touches a dead connection or
 * worker. */
#include "http/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct stream_chunk {
    struct stream_chunk *next;
    uv_write_t req;
    http_stream *s;
    size_t len;
    char data[];
} stream_chunk;

struct http_stream {
    pthread_mutex_t mu;
    int refs;           /* mu */
    bool closed;        /* mu: no more writes accepted */
    bool ended;         /* mu: http_stream_end() called */
    bool scheduled;     /* mu: on the worker's ready list */
    http_worker *w;     /* mu: NULL once closed */
    stream_chunk *head; /* mu: queued, not yet given to libuv */
    stream_chunk *tail; /* mu */
    size_t unsent;      /* mu: bytes queued or in flight */
    http_stream *next;  /* w->mu: ready list link */
    /* loop thread only */
    http_conn *conn;
    http_exchange *ex;
    bool chunked;
    bool end_written;
    bool conn_ref; /* the connection's reference is still held */
    int inflight;  /* writes started, not called back */
    size_t sent;   /* payload bytes, for the access log */
    http_stream_close_fn on_close;
    void *ctx;
};

static void stream_unref(http_stream *s)
{
    pthread_mutex_lock(&s->mu);
    int refs = --s->refs;
    pthread_mutex_unlock(&s->mu);
    if (refs > 0)
        return;
    for (stream_chunk *c = s->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int http_response_stream(http_response *res, const char *content_type, http_stream_open_fn on_open,
                         http_stream_close_fn on_close, void *ctx)
{
    const char *ct = content_type ? arena_strdup(res->arena, content_type) : NULL;
    if (content_type && (!ct || strpbrk(ct, "\r\n")))
        return ct ? SM_EINVAL : SM_ENOMEM;
    res->streaming = true;
    res->content_type = ct;
    res->body = NULL;
    res->body_len = 0;
    res->stream_open = on_open;
    res->stream_close = on_close;
    res->stream_ctx = ctx;
    return 0;
}

/* The connection is done with `s`: no more writes, tell the owner. */
static void stream_close(http_stream *s)
{
    pthread_mutex_lock(&s->mu);
    bool was_closed = s->closed;
    s->closed = true;
    s->w = NULL;
    pthread_mutex_unlock(&s->mu);
    if (!was_closed && s->on_close)
        s->on_close(s->ctx);
}

static void conn_ref_drop(http_stream *s)
{
    if (s->conn_ref && s->inflight == 0 && !s->conn) {
        s->conn_ref = false;
        stream_unref(s);
    }
}

/* All written, the end included: the response is complete. */
static void stream_finish(http_stream *s)
{
    http_conn *c = s->conn;
    stream_close(s);
    s->ex->body_sent = s->sent;
    c->stream = NULL;
    s->conn = NULL;
    conn_ref_drop(s);
    http_conn_response_done(c);
}

static void on_chunk_written(uv_write_t *req, int status)
{
    stream_chunk *ch = req->data;
    http_stream *s = ch->s;
    pthread_mutex_lock(&s->mu);
    s->unsent -= ch->len;
    pthread_mutex_unlock(&s->mu);
    free(ch);
    s->inflight--;
    if (!s->conn) {
        conn_ref_drop(s);
        return;
    }
    if (status < 0) {
        http_conn_close(s->conn); /* detaches the stream */
        return;
    }
    if (s->end_written && s->inflight == 0)
        stream_finish(s);
}

static stream_chunk *chunk_new(http_stream *s, const char *framing, const void *data, size_t len,
                               const char *trailer)
{
    size_t flen = strlen(framing), tlen = strlen(trailer);
    stream_chunk *ch = malloc(sizeof *ch + flen + len + tlen);
    if (!ch)
        return NULL;
    ch->next = NULL;
    ch->s = s;
    ch->len = flen + len + tlen;
    memcpy(ch->data, framing, flen);
    if (len)
        memcpy(ch->data + flen, data, len);
    memcpy(ch->data + flen + len, trailer, tlen);
    ch->req.data = ch;
    return ch;
}

static void chunk_write(http_stream *s, stream_chunk *ch)
{
    uv_buf_t b = uv_buf_init(ch->data, (unsigned)ch->len);
    s->inflight++;
    if (uv_write(&ch->req, (uv_stream_t *)&s->conn->tcp, &b, 1, on_chunk_written) < 0) {
        s->inflight--;
        pthread_mutex_lock(&s->mu);
        s->unsent -= ch->len;
        pthread_mutex_unlock(&s->mu);
        free(ch);
        http_conn_close(s->conn);
    }
}

/* Schedules `s` on its worker; mu held, s->w valid. */
static void schedule_locked(http_stream *s)
{
    if (s->scheduled)
        return;
    s->scheduled = true;
    s->refs++;
    http_worker *w = s->w;
    pthread_mutex_lock(&w->mu);
    s->next = w->ready;
    w->ready = s;
    pthread_mutex_unlock(&w->mu);
    uv_async_send(&w->wake);
}

int http_stream_write(http_stream *s, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    char framing[24];
    snprintf(framing, sizeof framing, "%zx\r\n", len);
    bool chunked = s->chunked; /* set before on_open, never changed */
    stream_chunk *ch = chunk_new(s, chunked ? framing : "", data, len, chunked ? "\r\n" : "");
    if (!ch)
        return SM_ENOMEM;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (s->closed || s->ended) {
        rc = SM_EIO;
    } else if (s->unsent + ch->len > HTTP_STREAM_QUEUE_MAX) {
        rc = SM_EBUSY;
    } else {
        s->unsent += ch->len;
        if (s->tail)
            s->tail->next = ch;
        else
            s->head = ch;
        s->tail = ch;
        schedule_locked(s);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc < 0)
        free(ch);
    return rc;
}

void http_stream_end(http_stream *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    if (!s->ended) {
        s->ended = true;
        if (!s->closed)
            schedule_locked(s);
    }
    pthread_mutex_unlock(&s->mu);
    stream_unref(s);
}

/* Loop thread: moves what `s` has queued to the socket. */
static void stream_flush(http_stream *s)
{
    pthread_mutex_lock(&s->mu);
    s->scheduled = false;
    stream_chunk *list = s->head;
    s->head = s->tail = NULL;
    bool ended = s->ended, closed = s->closed;
    pthread_mutex_unlock(&s->mu);
    for (stream_chunk *ch = list, *n; ch; ch = n) {
        n = ch->next;
        if (closed || !s->conn) {
            pthread_mutex_lock(&s->mu);
            s->unsent -= ch->len;
            pthread_mutex_unlock(&s->mu);
            free(ch);
            continue;
        }
        s->sent += ch->len;
        chunk_write(s, ch);
    }
    if (ended && s->conn && !s->end_written && s->conn->state == HTTP_CONN_STREAMING) {
        s->end_written = true;
        if (s->chunked) {
            stream_chunk *end = chunk_new(s, "0\r\n\r\n", NULL, 0, "");
            if (!end) {
                http_conn_close(s->conn);
                return;
            }
            pthread_mutex_lock(&s->mu);
            s->unsent += end->len;
            pthread_mutex_unlock(&s->mu);
            chunk_write(s, end);
        }
        if (s->conn && s->inflight == 0)
            stream_finish(s);
    }
}

void http_stream_flush_ready(http_worker *w)
{
    pthread_mutex_lock(&w->mu);
    http_stream *list = w->ready;
    w->ready = NULL;
    pthread_mutex_unlock(&w->mu);
    for (http_stream *s = list, *n; s; s = n) {
        n = s->next;
        stream_flush(s);
        stream_unref(s); /* the ready list's reference */
    }
}

static void on_head_written(uv_write_t *req, int status)
{
    http_stream *s = req->data;
    s->inflight--;
    if (!s->conn) {
        conn_ref_drop(s);
        return;
    }
    if (status < 0) {
        http_conn_close(s->conn);
        return;
    }
    if (s->end_written && s->inflight == 0)
        stream_finish(s);
}

void http_stream_start(http_conn *c, http_exchange *ex)
{
    http_stream *s = calloc(1, sizeof *s);
    if (!s || pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        if (ex->res.stream_close)
            ex->res.stream_close(ex->res.stream_ctx);
        http_conn_close(c);
        return;
    }
    s->refs = 2; /* the connection's and the owner's */
    s->conn_ref = true;
    s->w = c->w;
    s->conn = c;
    s->ex = ex;
    s->chunked = !ex->http10;
    s->on_close = ex->res.stream_close;
    s->ctx = ex->res.stream_ctx;
    c->stream = s;
    ex->write_req.data = s;
    s->inflight = 1;
    if (uv_write(&ex->write_req, (uv_stream_t *)&c->tcp, ex->bufs, 1, on_head_written) < 0) {
        s->inflight = 0;
        http_stream_end(s); /* the owner never saw it */
        http_conn_close(c);
        return;
    }
    if (ex->res.stream_open)
        ex->res.stream_open(s, ex->res.stream_ctx);
    else
        http_stream_end(s);
}

void http_stream_detach(http_conn *c)
{
    http_stream *s = c->stream;
    c->stream = NULL;
    if (!s)
        return;
    stream_close(s);
    s->conn = NULL;
    conn_ref_drop(s);
}
