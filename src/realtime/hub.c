/* hub.c — local subscribers and fan-out; see hub.h for the protocol.
 *
 * The map from channel name to its subscribers is a fixed array of hash
 * buckets under one rwlock: deliveries take it for reading (several
 * channels fan out at once; one channel's deliveries are already ordered by
 * the bus), open and close take it for writing. Each subscription has its
 * own mutex, which orders the frames it sends: replay and attach run under
 * it while live deliveries wait, so nothing overtakes the history.
 *
 * Before attach, frames wait in a per-subscription FIFO of copies; after,
 * they go straight to the transport, which copies them into its own send
 * queue (http_ws_send_text, http_stream_write). */
#include "realtime/hub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "realtime/channel.h"

#define HUB_BUCKETS 1024
#define CONTROL_FRAME_MAX 256

typedef struct qitem {
    struct qitem *next;
    rt_frame_kind kind;
    uint64_t seq;
    char epoch[RT_EPOCH_LEN + 1];
    size_t len;
    char text[];
} qitem;

typedef struct chan {
    struct chan *next;
    char name[RT_CHANNEL_MAX];
    rt_sub *subs;
} chan;

typedef enum sub_state { SUB_QUEUEING, SUB_LIVE, SUB_DEAD } sub_state;

struct rt_sub {
    char channel[RT_CHANNEL_MAX];
    const rt_sub_callbacks *cb;
    void *ctx;
    pthread_mutex_t mu;
    sub_state state;
    qitem *head, *tail;
    size_t qbytes;
    uint64_t last;
    char epoch[RT_EPOCH_LEN + 1];
    rt_sub *prev, *next; /* in chan->subs, under the hub lock */
    chan *chan;
};

static pthread_rwlock_t hub_lock = PTHREAD_RWLOCK_INITIALIZER;
static chan *hub_buckets[HUB_BUCKETS];
static atomic_size_t hub_subs;

static size_t bucket_of(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % HUB_BUCKETS;
}

static chan *chan_find(const char *name)
{
    for (chan *c = hub_buckets[bucket_of(name)]; c; c = c->next)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}

/* ---- the queue before attach ---- */

static qitem *qitem_new(rt_frame_kind kind, uint64_t seq, const char *epoch, const char *text,
                        size_t len)
{
    qitem *q = malloc(sizeof *q + len + 1);
    if (!q)
        return NULL;
    q->next = NULL;
    q->kind = kind;
    q->seq = seq;
    snprintf(q->epoch, sizeof q->epoch, "%s", epoch);
    q->len = len;
    memcpy(q->text, text, len);
    q->text[len] = '\0';
    return q;
}

static void queue_clear(rt_sub *s)
{
    for (qitem *q = s->head, *n; q; q = n) {
        n = q->next;
        free(q);
    }
    s->head = s->tail = NULL;
    s->qbytes = 0;
}

/* Marks `s` dead; `slow` says whether to tell the transport. Under s->mu. */
static void sub_kill(rt_sub *s, bool slow)
{
    if (s->state == SUB_DEAD)
        return;
    s->state = SUB_DEAD;
    queue_clear(s);
    if (slow && s->cb->slow)
        s->cb->slow(s->ctx);
}

static void sub_enqueue(rt_sub *s, qitem *q)
{
    if (!q || s->qbytes + q->len > RT_SUB_QUEUE_MAX) {
        free(q);
        sub_kill(s, true);
        return;
    }
    if (s->tail)
        s->tail->next = q;
    else
        s->head = q;
    s->tail = q;
    s->qbytes += q->len;
}

/* Sends one frame in the live state, keeping the position. Under s->mu. */
static void sub_send(rt_sub *s, rt_frame_kind kind, uint64_t seq, const char *epoch,
                     const char *text, size_t len)
{
    if (s->state == SUB_DEAD)
        return;
    int rc = s->cb->send(s->ctx, kind, seq, epoch, text, len);
    if (rc == SM_EBUSY) {
        sub_kill(s, true);
        return;
    }
    if (rc < 0) {
        sub_kill(s, false);
        return;
    }
    s->last = seq;
    if (strcmp(s->epoch, epoch) != 0) /* per subscriber per event: no snprintf */
        snprintf(s->epoch, sizeof s->epoch, "%s", epoch);
}

static size_t control_frame(char *out, const char *type, const char *channel, const char *epoch,
                            uint64_t seq, const char *extra)
{
    int n = snprintf(out, CONTROL_FRAME_MAX,
                     "{\"type\":\"%s\",\"channel\":\"%s\",\"epoch\":\"%s\",\"seq\":%llu%s}", type,
                     channel, epoch, (unsigned long long)seq, extra);
    return n < 0 ? 0 : (size_t)n;
}

/* ---- lifecycle ---- */

rt_sub *rt_sub_open(const char *channel, const rt_sub_callbacks *cb, void *ctx)
{
    if (!rt_channel_valid(channel) || !cb || !cb->send)
        return NULL;
    rt_sub *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->channel, sizeof s->channel, "%s", channel);
    s->cb = cb;
    s->ctx = ctx;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return NULL;
    }
    pthread_rwlock_wrlock(&hub_lock);
    chan *c = chan_find(channel);
    if (!c && (c = calloc(1, sizeof *c)) != NULL) {
        snprintf(c->name, sizeof c->name, "%s", channel);
        size_t b = bucket_of(channel);
        c->next = hub_buckets[b];
        hub_buckets[b] = c;
    }
    if (c) {
        s->chan = c;
        s->next = c->subs;
        if (c->subs)
            c->subs->prev = s;
        c->subs = s;
        atomic_fetch_add(&hub_subs, 1);
    }
    pthread_rwlock_unlock(&hub_lock);
    if (!c) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    return s;
}

int rt_sub_replay(rt_sub *s, rt_bus *bus, bool resume, uint64_t since, const char *epoch)
{
    rt_replay r;
    int rc = rt_bus_replay(bus, s->channel, resume, since, epoch, &r);
    if (rc < 0)
        return rc;
    bool resumed = resume && !r.gone;
    char buf[CONTROL_FRAME_MAX];
    qitem *head = NULL, **tail = &head;
    size_t n = control_frame(buf, "welcome", s->channel, r.epoch, r.seq,
                             resumed ? ",\"resumed\":true" : ",\"resumed\":false");
    /* A frame's seq is the client's position once it has it: a resumed
     * client is at `since` until the replayed events arrive. */
    *tail = qitem_new(RT_FRAME_WELCOME, resumed ? since : r.seq, r.epoch, buf, n);
    if (*tail)
        tail = &(*tail)->next;
    if (resume && r.gone) {
        n = control_frame(buf, "history_gone", s->channel, r.epoch, r.seq, "");
        if ((*tail = qitem_new(RT_FRAME_GONE, r.seq, r.epoch, buf, n)) != NULL)
            tail = &(*tail)->next;
    }
    for (size_t i = 0; i < r.count; i++) {
        *tail =
            qitem_new(RT_FRAME_EVENT, r.events[i].seq, r.epoch, r.events[i].frame, r.events[i].len);
        if (*tail)
            tail = &(*tail)->next;
    }
    rt_replay_free(&r);

    pthread_mutex_lock(&s->mu);
    /* Live events queued meanwhile: keep those the replay does not cover. */
    qitem *old = s->head;
    s->head = s->tail = NULL;
    s->qbytes = 0;
    for (qitem *q = head, *next; q; q = next) {
        next = q->next;
        q->next = NULL;
        sub_enqueue(s, q);
    }
    for (qitem *q = old, *next; q; q = next) {
        next = q->next;
        q->next = NULL;
        if (q->seq > r.seq || strcmp(q->epoch, r.epoch) != 0)
            sub_enqueue(s, q);
        else
            free(q);
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* Sends an event in the live state: skips what was sent, signals a jump. */
static void sub_deliver_live(rt_sub *s, const char *epoch, uint64_t seq, const char *frame,
                             size_t len)
{
    bool same_epoch = !strcmp(epoch, s->epoch);
    if (same_epoch && seq <= s->last)
        return; /* already sent (replay overlap) */
    if (!same_epoch || seq != s->last + 1) {
        char buf[CONTROL_FRAME_MAX];
        size_t n = control_frame(buf, "history_gone", s->channel, epoch, seq - 1, "");
        log_warning("realtime: %s jumped from %s:%llu to %s:%llu", s->channel, s->epoch,
                    (unsigned long long)s->last, epoch, (unsigned long long)seq);
        sub_send(s, RT_FRAME_GONE, seq - 1, epoch, buf, n);
    }
    sub_send(s, RT_FRAME_EVENT, seq, epoch, frame, len);
}

void rt_sub_attach(rt_sub *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->state == SUB_QUEUEING) {
        qitem *q = s->head;
        s->head = s->tail = NULL;
        s->qbytes = 0;
        s->state = SUB_LIVE;
        for (qitem *next; q; q = next) {
            next = q->next;
            if (q->kind == RT_FRAME_EVENT && s->epoch[0])
                sub_deliver_live(s, q->epoch, q->seq, q->text, q->len);
            else
                sub_send(s, q->kind, q->seq, q->epoch, q->text, q->len);
            free(q);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

uint64_t rt_sub_position(rt_sub *s, char *epoch)
{
    pthread_mutex_lock(&s->mu);
    uint64_t last = s->last;
    if (epoch)
        snprintf(epoch, RT_EPOCH_LEN + 1, "%s", s->epoch);
    pthread_mutex_unlock(&s->mu);
    return last;
}

void rt_sub_close(rt_sub *s)
{
    if (!s)
        return;
    pthread_rwlock_wrlock(&hub_lock);
    chan *c = s->chan;
    if (s->prev)
        s->prev->next = s->next;
    else
        c->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (!c->subs) {
        chan **pp = &hub_buckets[bucket_of(c->name)];
        while (*pp != c)
            pp = &(*pp)->next;
        *pp = c->next;
        free(c);
    }
    atomic_fetch_sub(&hub_subs, 1);
    pthread_rwlock_unlock(&hub_lock);
    /* No delivery can hold s now: they all run under the read lock. */
    queue_clear(s);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void rt_hub_deliver(const char *channel, const char *epoch, uint64_t seq, const char *frame,
                    size_t len)
{
    pthread_rwlock_rdlock(&hub_lock);
    chan *c = chan_find(channel);
    for (rt_sub *s = c ? c->subs : NULL; s; s = s->next) {
        pthread_mutex_lock(&s->mu);
        if (s->state == SUB_QUEUEING)
            sub_enqueue(s, qitem_new(RT_FRAME_EVENT, seq, epoch, frame, len));
        else if (s->state == SUB_LIVE)
            sub_deliver_live(s, epoch, seq, frame, len);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_rwlock_unlock(&hub_lock);
}

size_t rt_hub_count(void)
{
    return atomic_load(&hub_subs);
}
