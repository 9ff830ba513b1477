/* bus_redis.c — the distributed event bus: histories in Redis, fan-out by
 * Redis pub/sub.
 *
 * Keys per channel C (all expire together after REALTIME_HISTORY_SECONDS
 * without activity, so a new epoch starts with an empty history):
 *   sm:rt:C:epoch   the epoch, set on first use
 *   sm:rt:C:seq     the last sequence number (INCR)
 *   sm:rt:C:log     a stream of {s: seq, f: frame}, capped by MAXLEN (size)
 *                   and MINID (age)
 * and the pub/sub channel sm:rt:ev:C carrying "SEQ EPOCH FRAME".
 *
 * Publishing is one Lua script (numbering, XADD, trimming and PUBLISH run
 * atomically), so the pub/sub messages of a channel leave Redis in sequence
 * order whichever process published them. Replay is another script, so the
 * epoch, the last seq and the tail of the log are one consistent snapshot.
 *
 * Connections: one for commands, shared under a mutex by every publishing
 * and replaying thread (a command is ~0.1 ms; a pool would be the next step
 * under contention), re-opened after an error; and one on a dedicated
 * subscriber thread (PSUBSCRIBE sm:rt:ev:*) that hands every message to
 * rt_hub_deliver(). After a lost subscriber connection it reconnects with
 * backoff; events published meanwhile show up to subscribers as a jump in
 * sequence numbers, which the hub turns into history_gone. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "core/clock.h"
#include "core/log.h"
#include "realtime/bus.h"
#include "realtime/channel.h"
#include "realtime/hub.h"

#define REDIS_TIMEOUT_MS 2000
#define REDIS_BACKOFF_MAX_MS 2000
#define REDIS_PREFIX "sm:rt:"
#define REDIS_EVENTS REDIS_PREFIX "ev:"

static const char publish_lua[] =
    "local ep = redis.call('GET', KEYS[2])\n"
    "if not ep then\n"
    "  ep = ARGV[1]\n"
    "  redis.call('SET', KEYS[2], ep)\n"
    "  redis.call('DEL', KEYS[1], KEYS[3])\n"
    "end\n"
    "local seq = redis.call('INCR', KEYS[1])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local frame = ARGV[2] .. ep .. '\",\"seq\":' .. seq .. ',' .. ARGV[3]\n"
    "redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[4], '*', 's', seq, 'f', frame)\n"
    "redis.call('XTRIM', KEYS[3], 'MINID', tostring(math.max(0, now - tonumber(ARGV[5]))))\n"
    "for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[5]) end\n"
    "redis.call('PUBLISH', ARGV[6], seq .. ' ' .. ep .. ' ' .. frame)\n"
    "return seq\n";

static const char replay_lua[] =
    "local ep = redis.call('GET', KEYS[2])\n"
    "if not ep then\n"
    "  ep = ARGV[1]\n"
    "  redis.call('SET', KEYS[2], ep, 'PX', ARGV[4])\n"
    "  redis.call('DEL', KEYS[1], KEYS[3])\n"
    "end\n"
    "local cur = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "local since = tonumber(ARGV[2])\n"
    "if ARGV[3] ~= ep or since >= cur then return {ep, cur, {}} end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local min = tostring(math.max(0, now - tonumber(ARGV[4])))\n"
    "return {ep, cur, redis.call('XREVRANGE', KEYS[3], '+', min, 'COUNT', cur - since)}\n";

typedef struct rbus {
    rt_bus base;
    char host[256];
    int port;
    char password[256];
    int dbnum;
    size_t size;
    int64_t max_age_ms;
    pthread_mutex_t mu; /* guards cmd */
    redisContext *cmd;
    pthread_t sub_thread;
    bool sub_started;
    atomic_bool stopping;
    pthread_mutex_t sub_mu; /* guards sub (for shutdown from rt_bus_free) */
    redisContext *sub;
} rbus;

/* redis://[:password@]host[:port][/db] */
static int url_parse(rbus *b, const char *url, sm_error *err)
{
    const char *p = url + strlen("redis://");
    const char *at = strchr(p, '@');
    b->port = 6379;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        if ((size_t)(at - pw) >= sizeof b->password)
            return sm_error_set(err, SM_ECONFIG, "REDIS_URL: password too long");
        memcpy(b->password, pw, (size_t)(at - pw));
        p = at + 1;
    }
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof b->host)
        return sm_error_set(err, SM_ECONFIG, "REDIS_URL: no host in '%s'", url);
    memcpy(b->host, p, hl);
    p += hl;
    char *end;
    if (*p == ':') {
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535 || (*end && *end != '/'))
            return sm_error_set(err, SM_ECONFIG, "REDIS_URL: bad port in '%s'", url);
        b->port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1]) {
        long n = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end || n < 0 || n > 1000)
            return sm_error_set(err, SM_ECONFIG, "REDIS_URL: bad database in '%s'", url);
        b->dbnum = (int)n;
    }
    return 0;
}

/* A command on `c` that must answer +OK or an integer. */
static bool simple_ok(redisContext *c, const char *fmt, const char *arg)
{
    redisReply *r = redisCommand(c, fmt, arg);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r)
        freeReplyObject(r);
    return ok;
}

static redisContext *connect_to(rbus *b, sm_error *err)
{
    struct timeval tv = {REDIS_TIMEOUT_MS / 1000, (REDIS_TIMEOUT_MS % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(b->host, b->port, tv);
    if (!c || c->err) {
        sm_error_fill(err, SM_EUNAVAILABLE, "redis %s:%d: %s", b->host, b->port,
                      c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    char db[16];
    snprintf(db, sizeof db, "%d", b->dbnum);
    if ((b->password[0] && !simple_ok(c, "AUTH %s", b->password)) ||
        (b->dbnum && !simple_ok(c, "SELECT %s", db))) {
        sm_error_fill(err, SM_EUNAVAILABLE, "redis %s:%d: AUTH or SELECT refused", b->host,
                      b->port);
        redisFree(c);
        return NULL;
    }
    return c;
}

/* The command connection, (re)opened; call under b->mu. */
static redisContext *cmd_conn(rbus *b)
{
    if (b->cmd && b->cmd->err) {
        redisFree(b->cmd);
        b->cmd = NULL;
    }
    if (!b->cmd) {
        sm_error err = {0};
        if (!(b->cmd = connect_to(b, &err)))
            log_warning("realtime: %s", err.message);
    }
    return b->cmd;
}

static void keys_of(const char *channel, char k[3][RT_CHANNEL_MAX + 16])
{
    snprintf(k[0], sizeof k[0], REDIS_PREFIX "%s:seq", channel);
    snprintf(k[1], sizeof k[1], REDIS_PREFIX "%s:epoch", channel);
    snprintf(k[2], sizeof k[2], REDIS_PREFIX "%s:log", channel);
}

static int redis_publish(rt_bus *base, const char *channel, const char *type, json_t *data)
{
    rbus *b = (rbus *)base;
    size_t tail_len;
    char *tail = rt_frame_tail(type, data, clock_now_ms(), &tail_len);
    if (!tail)
        return SM_EINVAL;
    char k[3][RT_CHANNEL_MAX + 16], epoch[RT_EPOCH_LEN + 1], head[96], size[24], age[24],
        pubch[RT_CHANNEL_MAX + 16];
    keys_of(channel, k);
    rt_epoch_new(epoch);
    rt_frame_head(channel, head, sizeof head);
    snprintf(size, sizeof size, "%zu", b->size);
    snprintf(age, sizeof age, "%lld", (long long)b->max_age_ms);
    snprintf(pubch, sizeof pubch, REDIS_EVENTS "%s", channel);

    int rc = SM_EUNAVAILABLE;
    pthread_mutex_lock(&b->mu);
    for (int attempt = 0; attempt < 2 && rc == SM_EUNAVAILABLE; attempt++) {
        redisContext *c = cmd_conn(b);
        if (!c)
            break;
        redisReply *r = redisCommand(c, "EVAL %s 3 %s %s %s %s %s %s %s %s %s", publish_lua, k[0],
                                     k[1], k[2], epoch, head, tail, size, age, pubch);
        if (r && r->type == REDIS_REPLY_INTEGER)
            rc = 0;
        else if (r && r->type == REDIS_REPLY_ERROR)
            log_error("realtime: redis publish on %s: %s", channel, r->str);
        if (r)
            freeReplyObject(r);
        if (r && rc != 0)
            break; /* a script error: retrying will not help */
    }
    pthread_mutex_unlock(&b->mu);
    free(tail);
    return rc;
}

static bool reply_u64(const redisReply *r, uint64_t *out)
{
    if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
        *out = (uint64_t)r->integer;
        return true;
    }
    if (r->type == REDIS_REPLY_STRING) {
        char *end;
        *out = strtoull(r->str, &end, 10);
        return end != r->str && *end == '\0';
    }
    return false;
}

/* Copies the XREVRANGE entries (newest first) into out->events, oldest
 * first, when they cover since+1 … out->seq exactly; else out->gone. */
static int replay_fill(const redisReply *list, uint64_t since, rt_replay *out)
{
    size_t n = list->elements, bytes = 0;
    if (n != out->seq - since) {
        out->gone = true;
        return 0;
    }
    if (!(out->events = calloc(n, sizeof *out->events)))
        return SM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = list->element[n - 1 - i], *f;
        uint64_t seq = 0;
        const char *frame = NULL;
        size_t len = 0;
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            (f = e->element[1])->type != REDIS_REPLY_ARRAY)
            return SM_EINTERNAL;
        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            if (!strcmp(f->element[j]->str, "s"))
                reply_u64(f->element[j + 1], &seq);
            else if (!strcmp(f->element[j]->str, "f")) {
                frame = f->element[j + 1]->str;
                len = f->element[j + 1]->len;
            }
        }
        bytes += len;
        if (!frame || seq != since + 1 + i || bytes > RT_REPLAY_MAX_BYTES) {
            rt_replay_free(out);
            out->gone = true;
            return 0;
        }
        if (!(out->events[i].frame = strndup(frame, len)))
            return SM_ENOMEM;
        out->events[i].seq = seq;
        out->events[i].len = len;
        out->count = i + 1;
    }
    return 0;
}

static int redis_replay(rt_bus *base, const char *channel, bool resume, uint64_t since,
                        const char *epoch, rt_replay *out)
{
    rbus *b = (rbus *)base;
    char k[3][RT_CHANNEL_MAX + 16], fresh[RT_EPOCH_LEN + 1], s[24], age[24];
    keys_of(channel, k);
    rt_epoch_new(fresh);
    snprintf(s, sizeof s, "%llu", (unsigned long long)since);
    snprintf(age, sizeof age, "%lld", (long long)b->max_age_ms);
    const char *want = resume && rt_epoch_valid(epoch) ? epoch : "-";

    int rc = SM_EUNAVAILABLE;
    pthread_mutex_lock(&b->mu);
    redisContext *c = cmd_conn(b);
    redisReply *r = c ? redisCommand(c, "EVAL %s 3 %s %s %s %s %s %s %s", replay_lua, k[0], k[1],
                                     k[2], fresh, s, want, age)
                      : NULL;
    if (!r && c) { /* the connection broke under us: one more try */
        if ((c = cmd_conn(b)) != NULL)
            r = redisCommand(c, "EVAL %s 3 %s %s %s %s %s %s %s", replay_lua, k[0], k[1], k[2],
                             fresh, s, want, age);
    }
    pthread_mutex_unlock(&b->mu);
    if (!r)
        return SM_EUNAVAILABLE;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || !reply_u64(r->element[1], &out->seq) ||
        r->element[2]->type != REDIS_REPLY_ARRAY) {
        log_error("realtime: unexpected redis replay reply for %s (%s)", channel,
                  r->type == REDIS_REPLY_ERROR ? r->str : "shape");
        goto done;
    }
    snprintf(out->epoch, sizeof out->epoch, "%s", r->element[0]->str);
    rc = 0;
    if (!resume)
        goto done;
    if (strcmp(want, out->epoch) != 0 || since > out->seq) {
        out->gone = true;
        goto done;
    }
    if (since == out->seq)
        goto done;
    rc = replay_fill(r->element[2], since, out);
done:
    freeReplyObject(r);
    if (rc < 0)
        rt_replay_free(out);
    return rc;
}

static int redis_check(rt_bus *base, sm_error *err)
{
    rbus *b = (rbus *)base;
    bool pong = false;
    pthread_mutex_lock(&b->mu);
    /* Twice, like publish: an idle connection that Redis closed (a restart)
     * fails its next command once, then cmd_conn() opens a new one. */
    for (int attempt = 0; attempt < 2 && !pong; attempt++) {
        redisContext *c = cmd_conn(b);
        if (!c)
            break;
        redisReply *r = redisCommand(c, "PING");
        pong = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        if (r)
            freeReplyObject(r);
    }
    pthread_mutex_unlock(&b->mu);
    if (!pong)
        return sm_error_set(err, SM_EUNAVAILABLE, "redis %s:%d does not answer PING", b->host,
                            b->port);
    pthread_mutex_lock(&b->sub_mu);
    bool subscribed = b->sub != NULL;
    pthread_mutex_unlock(&b->sub_mu);
    if (!subscribed)
        return sm_error_set(err, SM_EUNAVAILABLE, "redis %s:%d: the subscriber is reconnecting",
                            b->host, b->port);
    return 0;
}

/* ---- the subscriber thread ---- */

/* Handles one pmessage: "SEQ EPOCH FRAME" on sm:rt:ev:CHANNEL. */
static void on_message(const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "pmessage") != 0)
        return;
    const char *ch = r->element[2]->str, *msg = r->element[3]->str;
    if (!ch || !msg || strncmp(ch, REDIS_EVENTS, strlen(REDIS_EVENTS)) != 0)
        return;
    ch += strlen(REDIS_EVENTS);
    char *end;
    unsigned long long seq = strtoull(msg, &end, 10);
    if (end == msg || *end != ' ' || strlen(end + 1) < RT_EPOCH_LEN + 1 ||
        end[1 + RT_EPOCH_LEN] != ' ' || !rt_channel_valid(ch))
        return;
    char epoch[RT_EPOCH_LEN + 1];
    memcpy(epoch, end + 1, RT_EPOCH_LEN);
    epoch[RT_EPOCH_LEN] = '\0';
    const char *frame = end + 2 + RT_EPOCH_LEN;
    size_t len = r->element[3]->len - (size_t)(frame - msg);
    rt_hub_deliver(ch, epoch, seq, frame, len);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static void *sub_main(void *arg)
{
    rbus *b = arg;
    int backoff = 50;
    while (!atomic_load(&b->stopping)) {
        sm_error err = {0};
        redisContext *c = connect_to(b, &err);
        redisReply *r = NULL;
        if (c) {
            struct timeval none = {0, 0}; /* block: pub/sub waits for ever */
            redisSetTimeout(c, none);
            r = redisCommand(c, "PSUBSCRIBE %s", REDIS_EVENTS "*");
        }
        if (!r) {
            if (c)
                redisFree(c);
            log_warning("realtime: redis subscriber: %s", err.message[0] ? err.message : "failed");
            sleep_ms(backoff);
            backoff = backoff * 2 > REDIS_BACKOFF_MAX_MS ? REDIS_BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        freeReplyObject(r);
        backoff = 50;
        pthread_mutex_lock(&b->sub_mu);
        b->sub = c;
        pthread_mutex_unlock(&b->sub_mu);
        while (!atomic_load(&b->stopping) && redisGetReply(c, (void **)&r) == REDIS_OK) {
            on_message(r);
            freeReplyObject(r);
        }
        pthread_mutex_lock(&b->sub_mu);
        b->sub = NULL;
        pthread_mutex_unlock(&b->sub_mu);
        redisFree(c);
        if (!atomic_load(&b->stopping))
            log_warning("realtime: redis subscriber connection lost; reconnecting");
    }
    return NULL;
}

static void redis_free(rt_bus *base)
{
    rbus *b = (rbus *)base;
    atomic_store(&b->stopping, true);
    if (b->sub_started) {
        pthread_mutex_lock(&b->sub_mu);
        if (b->sub)
            shutdown(b->sub->fd, SHUT_RDWR); /* wakes redisGetReply */
        pthread_mutex_unlock(&b->sub_mu);
        pthread_join(b->sub_thread, NULL);
    }
    if (b->cmd)
        redisFree(b->cmd);
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->sub_mu);
    free(b);
}

static const rt_bus_ops redis_ops = {
    .publish = redis_publish,
    .replay = redis_replay,
    .check = redis_check,
    .free = redis_free,
};

rt_bus *rt_bus_redis_new(const char *url, size_t size, int64_t max_age_ms, sm_error *err)
{
    rbus *b = calloc(1, sizeof *b);
    if (!b) {
        sm_error_fill(err, SM_ENOMEM, "out of memory");
        return NULL;
    }
    b->base.ops = &redis_ops;
    b->size = size ? size : 1;
    b->max_age_ms = max_age_ms > 0 ? max_age_ms : 1;
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->sub_mu, NULL);
    if (url_parse(b, url, err) < 0 || !(b->cmd = connect_to(b, err)))
        goto fail;
    if (pthread_create(&b->sub_thread, NULL, sub_main, b) != 0) {
        sm_error_fill(err, SM_ENOMEM, "cannot start the redis subscriber thread");
        goto fail;
    }
    b->sub_started = true;
    /* Wait briefly for the subscription, so events published right after
     * start-up reach this process's subscribers. */
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&b->sub_mu);
        bool up = b->sub != NULL;
        pthread_mutex_unlock(&b->sub_mu);
        if (up)
            break;
        sleep_ms(20);
    }
    return &b->base;
fail:
    redis_free(&b->base);
    return NULL;
}
