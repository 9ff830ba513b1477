/* realtime_api.c — the realtime endpoints: one set of channels over three
 * transports (docs/REALTIME.md is the protocol):
 *
 *   GET /ws/admin/orders/    /ws/admin/notifications/    /ws/user/{id}/notifications/
 *   GET /sse/admin/orders/   /sse/admin/notifications/   /sse/user/{id}/notifications/
 *   GET /poll/admin/orders/  /poll/admin/notifications/  /poll/user/{id}/notifications/
 *
 * Every request goes through the same steps, on the blocking pool, before
 * anything flows: identify the caller (401), check the channel's rule
 * (403, realtime/channel.h), count the connection against the per-user and
 * per-IP bounds (429), open the subscription and read what the client
 * missed (realtime/hub.h). Then the transport takes over:
 *
 *   WebSocket  upgrade; on_open attaches the subscription; every frame is a
 *              text message; client messages are throttled (4029).
 *   SSE        a streamed text/event-stream; each frame an `id: EPOCH:SEQ`
 *              event; a comment line every RT_HEARTBEAT_MS.
 *   long-poll  without a position, the current one at once; missed events
 *              at once; else a streamed JSON body finished by the first
 *              live event or after RT_POLL_WAIT_MS.
 *
 * Identity: a token from the "bearer.<token>" subprotocol (WebSocket), an
 * Authorization: Bearer header or ?token= (api tokens), or the sm_session
 * cookie (session tokens) with an Origin that must match the Host — always
 * present for browser WebSockets, checked when present for SSE/poll.
 *
 * A session is one client of one of these. It is reference-counted: the
 * handler, the transport (until its on_close) and the ticker each hold a
 * reference while they use it. The ticker thread visits every live session
 * once a second: heartbeats, long-poll deadlines, and re-validation of the
 * token every WS_AUTH_RECHECK_SECONDS (expired, revoked or inactive: close
 * 4001; no longer allowed on the channel: 4003). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api_util.h"
#include "api/routes.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "realtime/channel.h"
#include "realtime/hub.h"
#include "realtime/limits.h"
#include "realtime/realtime.h"
#include "shop/auth.h"

#define RT_SUBPROTOCOL "smartmarket.v1"
#define RT_HEARTBEAT_MS 15000
#define RT_POLL_WAIT_MS 25000
#define RT_TICK_MS 1000
#define RT_POLL_BODY_MAX (256 * 1024)

enum {
    WS_CLOSE_UNAUTHORIZED = 4001,
    WS_CLOSE_FORBIDDEN = 4003,
    WS_CLOSE_SLOW = 4008,
    WS_CLOSE_THROTTLED = 4029
};

typedef enum transport { T_WS, T_SSE, T_POLL } transport;

typedef struct session {
    atomic_int refs;
    transport kind;
    char channel[RT_CHANNEL_MAX];
    int64_t user_id;
    char token[AUTH_TOKEN_LEN + 1];
    auth_token_kind token_kind;
    char ip[RT_IP_MAX];
    rt_sub *sub;
    rt_bucket bucket; /* WS inbound messages, loop thread only */

    pthread_mutex_t mu; /* guards what follows */
    http_ws *ws;
    http_stream *stream;
    bool over;     /* the transport's on_close ran */
    bool finished; /* poll: body written; sse: ended */
    int64_t next_check_ms, next_beat_ms, deadline_ms;
    char *poll_body; /* poll: the "events" array's items, comma-separated */
    size_t poll_len;
    bool poll_gone, poll_has_events;
    uint64_t poll_seq;
    char poll_epoch[RT_EPOCH_LEN + 1];

    struct session *prev, *next; /* ticker list, under ticker_lock */
} session;

/* ---- sessions ---- */

static pthread_mutex_t ticker_lock = PTHREAD_MUTEX_INITIALIZER;
static session *ticker_list;
static pthread_once_t ticker_once = PTHREAD_ONCE_INIT;
static bool ticker_running;

/* Drops `n` references; the last one frees the session. */
static void session_unref_n(session *s, int n)
{
    if (atomic_fetch_sub(&s->refs, n) != n)
        return;
    rt_sub_close(s->sub); /* from here on, no hub callback runs */
    if (s->ws)
        http_ws_release(s->ws);
    rt_limits_release(s->user_id, s->ip);
    pthread_mutex_destroy(&s->mu);
    free(s->poll_body);
    memset(s->token, 0, sizeof s->token);
    free(s);
}

static void session_unref(session *s)
{
    session_unref_n(s, 1);
}

static int cfg_int(int v, int def)
{
    return config_get() ? v : def;
}

static int64_t recheck_ms(void)
{
    const sm_config *cfg = config_get();
    return (cfg ? cfg->ws_auth_recheck_s : 30) * (int64_t)1000;
}

static void ticker_add(session *s)
{
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_lock(&ticker_lock);
    s->prev = NULL;
    s->next = ticker_list;
    if (ticker_list)
        ticker_list->prev = s;
    ticker_list = s;
    pthread_mutex_unlock(&ticker_lock);
}

/* Takes `s` off the ticker's list; returns 1 when it was there (the caller
 * then owns the ticker's reference), else 0. */
static int ticker_take(session *s)
{
    bool was = false;
    pthread_mutex_lock(&ticker_lock);
    if (s->prev || s->next || ticker_list == s) {
        if (s->prev)
            s->prev->next = s->next;
        else
            ticker_list = s->next;
        if (s->next)
            s->next->prev = s->prev;
        s->prev = s->next = NULL;
        was = true;
    }
    pthread_mutex_unlock(&ticker_lock);
    return was ? 1 : 0;
}

/* Ends the SSE or poll stream once; under s->mu. */
static void stream_end_locked(session *s)
{
    if (s->stream && !s->finished) {
        s->finished = true;
        http_stream_end(s->stream);
    }
}

/* Closes the client's connection with a policy code (4001/4003). */
static void session_kick(session *s, int code, const char *reason)
{
    pthread_mutex_lock(&s->mu);
    if (s->kind == T_WS && s->ws && !s->over)
        http_ws_close(s->ws, code, reason);
    else if (s->kind == T_SSE)
        stream_end_locked(s);
    pthread_mutex_unlock(&s->mu);
}

/* ---- long-poll bodies ---- */

/* Writes the poll answer and ends the stream; under s->mu. */
static void poll_finish_locked(session *s)
{
    if (!s->stream || s->finished)
        return;
    size_t cap = s->poll_len + 256;
    char *body = malloc(cap);
    if (body) {
        int n = snprintf(body, cap,
                         "{\"channel\":\"%s\",\"epoch\":\"%s\",\"seq\":%llu,\"history_gone\":%s,"
                         "\"events\":[%.*s]}",
                         s->channel, s->poll_epoch, (unsigned long long)s->poll_seq,
                         s->poll_gone ? "true" : "false", (int)s->poll_len,
                         s->poll_body ? s->poll_body : "");
        if (n > 0)
            http_stream_write(s->stream, body, (size_t)n);
        free(body);
    }
    stream_end_locked(s);
}

/* Appends one frame to the poll answer; under s->mu. */
static int poll_append_locked(session *s, rt_frame_kind kind, uint64_t seq, const char *epoch,
                              const char *text, size_t len)
{
    if (kind == RT_FRAME_EVENT) {
        if (s->poll_len + len + 1 > RT_POLL_BODY_MAX)
            return SM_EBUSY; /* answer with what fits; the client asks again */
        char *grown = realloc(s->poll_body, s->poll_len + len + 2);
        if (!grown)
            return SM_ENOMEM;
        s->poll_body = grown;
        if (s->poll_len)
            s->poll_body[s->poll_len++] = ',';
        memcpy(s->poll_body + s->poll_len, text, len);
        s->poll_len += len;
        s->poll_body[s->poll_len] = '\0';
        s->poll_has_events = true;
    } else if (kind == RT_FRAME_GONE) {
        s->poll_gone = true;
    }
    s->poll_seq = seq;
    snprintf(s->poll_epoch, sizeof s->poll_epoch, "%s", epoch);
    return 0;
}

/* ---- the hub's callbacks ---- */

static int sub_send(void *ctx, rt_frame_kind kind, uint64_t seq, const char *epoch,
                    const char *text, size_t len)
{
    session *s = ctx;
    int rc = SM_EIO;
    pthread_mutex_lock(&s->mu);
    switch (s->kind) {
    case T_WS:
        if (s->ws && !s->over)
            rc = http_ws_send_text(s->ws, text, len);
        break;
    case T_SSE:
        if (s->stream && !s->finished) {
            char *ev = malloc(len + 64);
            if (!ev) {
                rc = SM_ENOMEM;
                break;
            }
            int n = snprintf(ev, len + 64, "id: %s:%llu\ndata: %.*s\n\n", epoch,
                             (unsigned long long)seq, (int)len, text);
            rc = n > 0 ? http_stream_write(s->stream, ev, (size_t)n) : SM_EINTERNAL;
            free(ev);
        }
        break;
    case T_POLL:
        if (!s->finished) {
            rc = poll_append_locked(s, kind, seq, epoch, text, len);
            if (rc == 0 && kind == RT_FRAME_EVENT && s->stream)
                poll_finish_locked(s);
        }
        break;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void sub_slow(void *ctx)
{
    session *s = ctx;
    log_warning("realtime: slow consumer on %s (user %lld) cut with %d", s->channel,
                (long long)s->user_id, WS_CLOSE_SLOW);
    pthread_mutex_lock(&s->mu);
    if (s->kind == T_WS && s->ws && !s->over)
        http_ws_close(s->ws, WS_CLOSE_SLOW, "slow consumer");
    else if (s->kind == T_SSE)
        stream_end_locked(s);
    pthread_mutex_unlock(&s->mu);
}

static const rt_sub_callbacks sub_callbacks = {.send = sub_send, .slow = sub_slow};

/* ---- WebSocket ---- */

static void ws_open(http_ws *ws, void *ctx)
{
    session *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->ws = ws;
    pthread_mutex_unlock(&s->mu);
    rt_sub_attach(s->sub);
}

static void ws_send_control(http_ws *ws, const char *text)
{
    if (http_ws_send_text(ws, text, strlen(text)) == SM_EBUSY)
        http_ws_close(ws, WS_CLOSE_SLOW, "slow consumer");
}

/* Client messages: {"type":"ping"} → {"type":"pong"}; anything else is
 * answered with an error frame. All of them count against the bucket. */
static void ws_message(http_ws *ws, const char *text, size_t len, void *ctx)
{
    session *s = ctx;
    if (!rt_bucket_take(&s->bucket, clock_mono_ns())) {
        http_ws_close(ws, WS_CLOSE_THROTTLED, "too many messages");
        return;
    }
    json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (type && !strcmp(type, "ping"))
        ws_send_control(ws, "{\"type\":\"pong\"}");
    else
        ws_send_control(ws, "{\"type\":\"error\",\"code\":\"unknown_message\","
                            "\"message\":\"clients may only send {\\\"type\\\":\\\"ping\\\"}\"}");
    json_decref(msg);
}

static void ws_close(void *ctx, int code)
{
    session *s = ctx;
    (void)code;
    pthread_mutex_lock(&s->mu);
    s->over = true;
    pthread_mutex_unlock(&s->mu);
    session_unref_n(s, 1 + ticker_take(s)); /* the transport's and the ticker's */
}

static const http_ws_callbacks ws_callbacks = {
    .on_open = ws_open,
    .on_message = ws_message,
    .on_close = ws_close,
};

/* ---- SSE and long-poll streams ---- */

static void sse_open(http_stream *st, void *ctx)
{
    session *s = ctx;
    static const char hello[] = "retry: 2000\n\n";
    pthread_mutex_lock(&s->mu);
    s->stream = st;
    s->next_beat_ms = clock_now_ms() + RT_HEARTBEAT_MS;
    http_stream_write(st, hello, sizeof hello - 1);
    pthread_mutex_unlock(&s->mu);
    rt_sub_attach(s->sub);
}

static void poll_open(http_stream *st, void *ctx)
{
    session *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->stream = st;
    if (s->poll_has_events || s->poll_gone)
        poll_finish_locked(s);
    pthread_mutex_unlock(&s->mu);
}

static void stream_close(void *ctx)
{
    session *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->over = true;
    stream_end_locked(s);
    pthread_mutex_unlock(&s->mu);
    session_unref_n(s, 1 + ticker_take(s));
}

/* ---- the ticker ---- */

/* Re-validates the token of `s` (blocking: a database query). */
static void session_recheck(session *s, int64_t now)
{
    db *d = NULL;
    sm_error err = {0};
    users_record u;
    if (db_thread(&d, &err) < 0)
        return; /* database down: keep the client, try again later */
    int rc = auth_token_authenticate(d, s->token, s->token_kind, now, &u, NULL, &err);
    if (rc == SM_EUNAUTHORIZED)
        session_kick(s, WS_CLOSE_UNAUTHORIZED, "token expired or revoked");
    else if (rc == 0 && rt_channel_authorize(s->channel, u.id, rt_role_from_name(u.role)) != 0)
        session_kick(s, WS_CLOSE_FORBIDDEN, "no longer allowed on this channel");
}

static void session_tick(session *s, int64_t now)
{
    static const char beat[] = ": heartbeat\n\n";
    bool check = false;
    pthread_mutex_lock(&s->mu);
    if (!s->over) {
        if (s->kind == T_SSE && s->stream && !s->finished && now >= s->next_beat_ms) {
            http_stream_write(s->stream, beat, sizeof beat - 1);
            s->next_beat_ms = now + RT_HEARTBEAT_MS;
        }
        if (s->kind == T_POLL && s->stream && now >= s->deadline_ms)
            poll_finish_locked(s);
        if (s->kind != T_POLL && now >= s->next_check_ms) {
            s->next_check_ms = now + recheck_ms();
            check = true;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (check)
        session_recheck(s, now);
}

static void *ticker_main(void *arg)
{
    (void)arg;
    log_set_correlation_id("realtime-ticker");
    for (;;) {
        struct timespec ts = {RT_TICK_MS / 1000, (RT_TICK_MS % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        /* Snapshot the list with a reference each, then work without the lock. */
        pthread_mutex_lock(&ticker_lock);
        size_t n = 0;
        for (session *s = ticker_list; s; s = s->next)
            n++;
        session **all = n ? malloc(n * sizeof(session *)) : NULL;
        size_t k = 0;
        for (session *s = ticker_list; s && all; s = s->next) {
            atomic_fetch_add(&s->refs, 1);
            all[k++] = s;
        }
        pthread_mutex_unlock(&ticker_lock);
        int64_t now = clock_now_ms();
        for (size_t i = 0; i < k; i++) {
            session_tick(all[i], now);
            session_unref(all[i]);
        }
        free(all);
    }
    return NULL;
}

static void ticker_start(void)
{
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    ticker_running = pthread_create(&t, &attr, ticker_main, NULL) == 0;
    pthread_attr_destroy(&attr);
    if (!ticker_running)
        log_error("realtime: cannot start the ticker thread");
}

/* ---- identity ---- */

typedef struct ident {
    int64_t user_id;
    rt_role role;
    char token[AUTH_TOKEN_LEN + 1];
    auth_token_kind kind;
    bool offered_v1; /* the client offered the smartmarket.v1 subprotocol */
} ident;

/* Finds "bearer.<token>" and "smartmarket.v1" in Sec-WebSocket-Protocol. */
static const char *subprotocol_token(http_request *req, ident *id)
{
    const char *h = http_request_header(req, "sec-websocket-protocol");
    const char *token = NULL;
    while (h && *h) {
        h += strspn(h, " \t,");
        size_t n = strcspn(h, ", \t");
        if (n == strlen(RT_SUBPROTOCOL) && !strncmp(h, RT_SUBPROTOCOL, n))
            id->offered_v1 = true;
        else if (n > 7 && !strncmp(h, "bearer.", 7))
            token = arena_strndup(req->arena, h + 7, n - 7);
        h += n;
    }
    return token;
}

/* True when the Origin header names this server (scheme per req->secure,
 * host as the client addressed it). */
static bool origin_matches(http_request *req, const char *origin)
{
    const char *host = http_request_header(req, "host");
    const char *scheme = req->secure ? "https://" : "http://";
    size_t sl = strlen(scheme);
    return host && origin && !strncasecmp(origin, scheme, sl) && !strcasecmp(origin + sl, host);
}

/* Fills `id` or answers 401/403/503 and returns non-zero. */
static int identify(http_request *req, http_response *res, transport t, ident *id)
{
    const char *token = t == T_WS ? subprotocol_token(req, id) : NULL;
    const char *authz = http_request_header(req, "authorization");
    if (!token && authz && !strncasecmp(authz, "Bearer ", 7))
        token = authz + 7 + strspn(authz + 7, " ");
    if (!token)
        token = http_request_query(req, "token");
    auth_token_kind kind = AUTH_TOKEN_API;
    if (!token && (token = http_request_cookie(req, "sm_session")) != NULL) {
        kind = AUTH_TOKEN_SESSION;
        const char *origin = http_request_header(req, "origin");
        if ((t == T_WS || origin) && !origin_matches(req, origin)) {
            http_response_error(res, 403, "forbidden_origin", NULL,
                                "a cookie session needs an Origin matching this server");
            return SM_EFORBIDDEN;
        }
    }
    if (!token) {
        http_response_error(res, 401, "unauthorized", NULL, "authentication required");
        return SM_EUNAUTHORIZED;
    }
    users_record u;
    sm_error err = {0};
    db *d;
    int rc = SM_EUNAUTHORIZED;
    if (auth_token_well_formed(token)) {
        if (!(d = api_db(res)))
            return SM_EUNAVAILABLE;
        rc = auth_token_authenticate(d, token, kind, clock_now_ms(), &u, NULL, &err);
    }
    if (rc == SM_EUNAUTHORIZED) {
        http_response_error(res, 401, "unauthorized", NULL, "invalid, expired or revoked token");
        return rc;
    }
    if (rc < 0) {
        api_error_from_code(res, rc, &err);
        return rc;
    }
    id->user_id = u.id;
    id->role = rt_role_from_name(u.role);
    id->kind = kind;
    snprintf(id->token, sizeof id->token, "%s", token);
    return 0;
}

/* ---- the handler ---- */

typedef struct route {
    transport kind;
    const char *channel; /* NULL: "user.{id}" */
} route;

/* Reads the resume position: Last-Event-ID "EPOCH:SEQ" (SSE), else
 * ?since=SEQ&epoch=EPOCH. Returns 0 (resume or not) or answers 400. */
static int resume_position(http_request *req, http_response *res, transport t, bool *resume,
                           uint64_t *since, const char **epoch)
{
    const char *last = t == T_SSE ? http_request_header(req, "last-event-id") : NULL;
    const char *seq_text = NULL;
    *resume = false;
    if (last && *last) {
        const char *colon = strchr(last, ':');
        *epoch = colon ? arena_strndup(req->arena, last, (size_t)(colon - last)) : "";
        seq_text = colon ? colon + 1 : "";
    } else if ((seq_text = http_request_query(req, "since")) != NULL) {
        *epoch = http_request_query(req, "epoch");
    }
    if (!seq_text)
        return 0;
    size_t n = strspn(seq_text, "0123456789");
    if (n == 0 || n > 18 || seq_text[n]) {
        http_response_error(res, 400, "validation_error",
                            json_pack("{ss}", "since", "must be a sequence number"),
                            "invalid resume position");
        return SM_EINVAL;
    }
    *since = strtoull(seq_text, NULL, 10);
    *resume = true;
    return 0;
}

static session *session_new(const ident *id, const char *channel, transport t, const char *ip)
{
    session *s = calloc(1, sizeof *s);
    if (!s || pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->kind = t;
    snprintf(s->channel, sizeof s->channel, "%s", channel);
    s->user_id = id->user_id;
    snprintf(s->token, sizeof s->token, "%s", id->token);
    s->token_kind = id->kind;
    snprintf(s->ip, sizeof s->ip, "%s", ip ? ip : "");
    const sm_config *cfg = config_get();
    rt_bucket_init(&s->bucket, cfg_int(cfg ? cfg->ws_max_inbound_per_second : 0, 20),
                   clock_mono_ns());
    int64_t now = clock_now_ms();
    s->next_check_ms = now + recheck_ms();
    s->deadline_ms = now + RT_POLL_WAIT_MS;
    return s;
}

static void handle_realtime(http_request *req, http_response *res, void *ctx)
{
    const route *rt = ctx;
    const sm_config *cfg = config_get();
    char channel[RT_CHANNEL_MAX];
    ident id = {0};
    bool resume;
    uint64_t since = 0;
    const char *epoch = NULL;

    if (rt->channel)
        snprintf(channel, sizeof channel, "%s", rt->channel);
    else if (rt_channel_from_path("user", http_request_param(req, "id"), channel) < 0) {
        http_response_error(res, 404, "not_found", NULL, "no such channel");
        return;
    }
    if (identify(req, res, rt->kind, &id) != 0)
        return;
    if (rt_channel_authorize(channel, id.user_id, id.role) != 0) {
        http_response_error(res, 403, "forbidden", NULL, "you may not subscribe to %s", channel);
        return;
    }
    if (resume_position(req, res, rt->kind, &resume, &since, &epoch) != 0)
        return;
    rt_bus *bus = realtime_bus();
    if (!bus) {
        http_response_error(res, 503, "unavailable", NULL, "realtime is not running");
        return;
    }
    int rc =
        rt_limits_acquire(id.user_id, req->remote_addr, cfg_int(cfg ? cfg->ws_max_per_user : 0, 20),
                          cfg_int(cfg ? cfg->ws_max_per_ip : 0, 1000));
    if (rc == SM_ERATELIMIT) {
        http_response_add_header(res, "Retry-After", "5");
        http_response_error(res, 429, "rate_limited", NULL, "too many realtime connections");
        return;
    }
    if (rc < 0) {
        api_error_from_code(res, rc, NULL);
        return;
    }
    session *s = session_new(&id, channel, rt->kind, req->remote_addr);
    if (!s) {
        rt_limits_release(id.user_id, req->remote_addr);
        api_error_from_code(res, SM_ENOMEM, NULL);
        return;
    }
    if (!(s->sub = rt_sub_open(channel, &sub_callbacks, s))) {
        api_error_from_code(res, SM_ENOMEM, NULL);
        goto done;
    }
    if ((rc = rt_sub_replay(s->sub, bus, resume, since, epoch)) < 0) {
        api_error_from_code(res, rc, NULL);
        goto done;
    }
    pthread_once(&ticker_once, ticker_start);

    if (rt->kind == T_POLL) {
        rt_sub_attach(s->sub); /* collects the welcome and what was missed */
        pthread_mutex_lock(&s->mu);
        bool now = s->poll_has_events || s->poll_gone || !resume; /* no position: tell it */
        pthread_mutex_unlock(&s->mu);
        if (now) {
            http_response_set_status(res, 200);
            if (http_response_stream(res, "application/json", poll_open, stream_close, s) == 0)
                atomic_fetch_add(&s->refs, 1); /* the transport's */
            else
                api_error_from_code(res, SM_ENOMEM, NULL);
            goto done;
        }
    }
    atomic_fetch_add(&s->refs, 1); /* the transport's, dropped by its on_close */
    if (rt->kind == T_WS) {
        rc = http_response_websocket(res, id.offered_v1 ? RT_SUBPROTOCOL : NULL, &ws_callbacks, s);
    } else {
        http_response_add_header(res, "Cache-Control", "no-cache, no-store");
        http_response_add_header(res, "X-Accel-Buffering", "no");
        rc = http_response_stream(res, rt->kind == T_SSE ? "text/event-stream" : "application/json",
                                  rt->kind == T_SSE ? sse_open : poll_open, stream_close, s);
        if (rc < 0)
            api_error_from_code(res, rc, NULL);
    }
    if (rc < 0) {
        atomic_fetch_sub(&s->refs, 1); /* the callbacks will never run */
        goto done;
    }
    ticker_add(s);
done:
    session_unref(s);
}

int api_realtime_routes(http_router *r)
{
    static const route routes[] = {
        {T_WS, "admin.orders"},   {T_WS, "admin.notifications"},   {T_WS, NULL},
        {T_SSE, "admin.orders"},  {T_SSE, "admin.notifications"},  {T_SSE, NULL},
        {T_POLL, "admin.orders"}, {T_POLL, "admin.notifications"}, {T_POLL, NULL},
    };
    static const char *const prefixes[] = {"/ws", "/sse", "/poll"};
    static const char *const paths[] = {"/admin/orders/", "/admin/notifications/",
                                        "/user/{id}/notifications/"};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        char pattern[64];
        snprintf(pattern, sizeof pattern, "%s%s", prefixes[i / 3], paths[i % 3]);
        int rc = http_router_add(r, "GET", pattern, handle_realtime, (void *)&routes[i], 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}
