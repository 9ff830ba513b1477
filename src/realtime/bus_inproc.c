/* bus_inproc.c — the embedded event bus: histories in this process.
 *
 * Each channel that was published to or subscribed to has a history: its
 * own random epoch (chosen when the history starts, so a history that was
 * dropped and started again can never be mistaken for the old one), its
 * last sequence number, and a ring of the last `size` frames with their
 * times. Frames older than `max_age_ms` count as gone. The number of
 * histories is bounded (INPROC_CHANNELS_MAX); past it, the one used least
 * recently is dropped, and its clients learn it through the epoch.
 *
 * One mutex orders numbering and storing. Fan-out runs on the bus's own
 * thread, off the publisher's path (a POST answers without waiting for
 * 10,000 subscribers): the publisher appends a copy of the frame to the
 * fan-out FIFO under the same mutex, so the FIFO is in sequence order per
 * channel, and the thread hands each frame to the hub in that order. A
 * subscriber that replays history meanwhile may get an event both from the
 * replay and from the FIFO; the hub drops the second (its sequence number is
 * not above the last sent). The FIFO is bounded (FANOUT_MAX_BYTES): a
 * publisher that finds it full waits, before it takes the mutex (replays
 * never wait behind a full FIFO), so a burst slows publishers down instead
 * of growing memory; publishers that passed the wait together may overrun
 * the bound by one frame each. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "realtime/bus.h"
#include "realtime/channel.h"
#include "realtime/hub.h"

#define INPROC_BUCKETS 4096
#define INPROC_CHANNELS_MAX 65536
#define FANOUT_MAX_BYTES (8u * 1024 * 1024) /* frames waiting for the fan-out thread */

/* A frame waiting for the fan-out thread (its own copy: the history may
 * drop the original first). */
typedef struct fitem {
    struct fitem *next;
    char channel[RT_CHANNEL_MAX];
    char epoch[RT_EPOCH_LEN + 1];
    uint64_t seq;
    size_t len;
    char frame[];
} fitem;

typedef struct hist {
    struct hist *next;
    char name[RT_CHANNEL_MAX];
    char epoch[RT_EPOCH_LEN + 1];
    uint64_t seq;   /* last number given */
    rt_event *ring; /* ring[(start + i) % cap], i < count */
    int64_t *times; /* publication time of each ring slot */
    size_t cap, start, count;
    int64_t used_at; /* last publish or replay, for eviction */
} hist;

typedef struct inproc {
    rt_bus base;
    pthread_mutex_t mu;
    size_t size;
    int64_t max_age_ms;
    hist *buckets[INPROC_BUCKETS];
    size_t nchan;
    /* the fan-out FIFO and its thread */
    pthread_mutex_t fmu;
    pthread_cond_t fcv;   /* work, space, or progress */
    fitem *fhead, *ftail; /* under fmu */
    size_t fbytes;
    uint64_t fqueued, fdone; /* frames appended / delivered */
    bool fstop;
    pthread_t fthread;
} inproc;

static size_t bucket_of(const char *name)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % INPROC_BUCKETS;
}

static void hist_free(hist *h)
{
    for (size_t i = 0; i < h->count; i++)
        free(h->ring[(h->start + i) % h->cap].frame);
    free(h->ring);
    free(h->times);
    free(h);
}

/* Drops the oldest frame of `h`. */
static void hist_pop(hist *h)
{
    free(h->ring[h->start].frame);
    h->start = (h->start + 1) % h->cap;
    h->count--;
}

/* Drops frames older than the age bound. */
static void hist_expire(inproc *b, hist *h, int64_t now)
{
    while (h->count > 0 && h->times[h->start] < now - b->max_age_ms)
        hist_pop(h);
}

static void evict_one(inproc *b)
{
    hist **victim = NULL;
    for (size_t i = 0; i < INPROC_BUCKETS; i++)
        for (hist **pp = &b->buckets[i]; *pp; pp = &(*pp)->next)
            if (!victim || (*pp)->used_at < (*victim)->used_at)
                victim = pp;
    if (victim) {
        hist *h = *victim;
        *victim = h->next;
        hist_free(h);
        b->nchan--;
    }
}

/* The history of `name`, started when absent. NULL when out of memory. */
static hist *hist_get(inproc *b, const char *name, int64_t now)
{
    size_t i = bucket_of(name);
    for (hist *h = b->buckets[i]; h; h = h->next)
        if (!strcmp(h->name, name)) {
            h->used_at = now;
            return h;
        }
    if (b->nchan >= INPROC_CHANNELS_MAX)
        evict_one(b);
    hist *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    snprintf(h->name, sizeof h->name, "%s", name);
    rt_epoch_new(h->epoch);
    h->used_at = now;
    h->next = b->buckets[i];
    b->buckets[i] = h;
    b->nchan++;
    return h;
}

/* Makes room for one more frame: grows the ring up to `size`, else drops
 * the oldest. Returns 0 or SM_ENOMEM. */
static int hist_reserve(inproc *b, hist *h)
{
    if (h->count < h->cap)
        return 0;
    if (h->cap >= b->size) {
        hist_pop(h);
        return 0;
    }
    size_t cap = h->cap ? h->cap * 2 : 8;
    if (cap > b->size)
        cap = b->size;
    rt_event *ring = malloc(cap * sizeof *ring);
    int64_t *times = malloc(cap * sizeof *times);
    if (!ring || !times) {
        free(ring);
        free(times);
        return SM_ENOMEM;
    }
    for (size_t i = 0; h->cap > 0 && i < h->count; i++) {
        ring[i] = h->ring[(h->start + i) % h->cap];
        times[i] = h->times[(h->start + i) % h->cap];
    }
    free(h->ring);
    free(h->times);
    h->ring = ring;
    h->times = times;
    h->cap = cap;
    h->start = 0;
    return 0;
}

/* Waits while the fan-out FIFO is full. Called without b->mu. */
static void fanout_wait_space(inproc *b)
{
    pthread_mutex_lock(&b->fmu);
    while (b->fbytes >= FANOUT_MAX_BYTES && !b->fstop)
        pthread_cond_wait(&b->fcv, &b->fmu);
    pthread_mutex_unlock(&b->fmu);
}

/* Appends a copy of the frame to the fan-out FIFO. Called under b->mu,
 * which keeps the FIFO in sequence order; never waits. */
static int fanout_push(inproc *b, const char *channel, const char *epoch, uint64_t seq,
                       const char *frame, size_t len)
{
    fitem *f = malloc(sizeof *f + len + 1);
    if (!f)
        return SM_ENOMEM;
    f->next = NULL;
    snprintf(f->channel, sizeof f->channel, "%s", channel);
    memcpy(f->epoch, epoch, sizeof f->epoch);
    f->seq = seq;
    f->len = len;
    memcpy(f->frame, frame, len + 1);
    pthread_mutex_lock(&b->fmu);
    if (b->ftail)
        b->ftail->next = f;
    else
        b->fhead = f;
    b->ftail = f;
    b->fbytes += len;
    b->fqueued++;
    pthread_cond_broadcast(&b->fcv);
    pthread_mutex_unlock(&b->fmu);
    return 0;
}

static void *fanout_main(void *arg)
{
    inproc *b = arg;
    pthread_mutex_lock(&b->fmu);
    for (;;) {
        while (!b->fhead && !b->fstop)
            pthread_cond_wait(&b->fcv, &b->fmu);
        fitem *f = b->fhead;
        if (!f)
            break; /* stopping, nothing left */
        b->fhead = f->next;
        if (!b->fhead)
            b->ftail = NULL;
        pthread_mutex_unlock(&b->fmu);
        rt_hub_deliver(f->channel, f->epoch, f->seq, f->frame, f->len);
        pthread_mutex_lock(&b->fmu);
        b->fbytes -= f->len;
        b->fdone++;
        free(f);
        pthread_cond_broadcast(&b->fcv);
    }
    pthread_mutex_unlock(&b->fmu);
    return NULL;
}

static void inproc_flush(rt_bus *base)
{
    inproc *b = (inproc *)base;
    pthread_mutex_lock(&b->fmu);
    uint64_t target = b->fqueued;
    while (b->fdone < target)
        pthread_cond_wait(&b->fcv, &b->fmu);
    pthread_mutex_unlock(&b->fmu);
}

static int inproc_publish(rt_bus *base, const char *channel, const char *type, json_t *data)
{
    inproc *b = (inproc *)base;
    int64_t now = clock_now_ms();
    size_t tail_len, len;
    char *tail = rt_frame_tail(type, data, now, &tail_len);
    if (!tail)
        return SM_EINVAL;
    int rc = SM_ENOMEM;
    fanout_wait_space(b);
    pthread_mutex_lock(&b->mu);
    hist *h = hist_get(b, channel, now);
    char *frame = NULL;
    if (h && hist_reserve(b, h) == 0 &&
        (frame = rt_frame_build(channel, h->epoch, h->seq + 1, tail, tail_len, &len)) != NULL) {
        /* Queued for fan-out first: a frame that cannot be is not published. */
        if ((rc = fanout_push(b, channel, h->epoch, h->seq + 1, frame, len)) == 0) {
            size_t slot = (h->start + h->count) % h->cap;
            h->seq++;
            h->ring[slot] = (rt_event){.seq = h->seq, .frame = frame, .len = len};
            h->times[slot] = now;
            h->count++;
            hist_expire(b, h, now);
        } else {
            free(frame);
        }
    }
    pthread_mutex_unlock(&b->mu);
    free(tail);
    return rc;
}

static int inproc_replay(rt_bus *base, const char *channel, bool resume, uint64_t since,
                         const char *epoch, rt_replay *out)
{
    inproc *b = (inproc *)base;
    int64_t now = clock_now_ms();
    int rc = 0;
    pthread_mutex_lock(&b->mu);
    hist *h = hist_get(b, channel, now);
    if (!h) {
        rc = SM_ENOMEM;
        goto done;
    }
    hist_expire(b, h, now);
    snprintf(out->epoch, sizeof out->epoch, "%s", h->epoch);
    out->seq = h->seq;
    if (!resume)
        goto done;
    uint64_t oldest = h->seq - h->count + 1;
    if (!epoch || strcmp(epoch, h->epoch) != 0 || since > h->seq || since + 1 < oldest) {
        out->gone = true;
        goto done;
    }
    if (since == h->seq)
        goto done;
    size_t n = (size_t)(h->seq - since), first = h->count - n, bytes = 0;
    for (size_t i = first; i < h->count; i++)
        bytes += h->ring[(h->start + i) % h->cap].len;
    if (bytes > RT_REPLAY_MAX_BYTES) {
        out->gone = true;
        goto done;
    }
    if (!(out->events = calloc(n, sizeof *out->events))) {
        rc = SM_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const rt_event *e = &h->ring[(h->start + first + i) % h->cap];
        if (!(out->events[i].frame = strdup(e->frame))) {
            rc = SM_ENOMEM;
            goto done;
        }
        out->events[i].seq = e->seq;
        out->events[i].len = e->len;
        out->count = i + 1;
    }
done:
    pthread_mutex_unlock(&b->mu);
    if (rc < 0)
        rt_replay_free(out);
    return rc;
}

static void inproc_free(rt_bus *base)
{
    inproc *b = (inproc *)base;
    /* What is still queued is delivered first: no publisher runs now. */
    pthread_mutex_lock(&b->fmu);
    b->fstop = true;
    pthread_cond_broadcast(&b->fcv);
    pthread_mutex_unlock(&b->fmu);
    pthread_join(b->fthread, NULL);
    pthread_cond_destroy(&b->fcv);
    pthread_mutex_destroy(&b->fmu);
    for (size_t i = 0; i < INPROC_BUCKETS; i++)
        for (hist *h = b->buckets[i], *n; h; h = n) {
            n = h->next;
            hist_free(h);
        }
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static const rt_bus_ops inproc_ops = {
    .publish = inproc_publish,
    .replay = inproc_replay,
    .flush = inproc_flush,
    .free = inproc_free,
};

rt_bus *rt_bus_inproc_new(size_t size, int64_t max_age_ms)
{
    inproc *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->fmu, NULL);
    pthread_cond_init(&b->fcv, NULL);
    if (pthread_create(&b->fthread, NULL, fanout_main, b) != 0) {
        pthread_cond_destroy(&b->fcv);
        pthread_mutex_destroy(&b->fmu);
        pthread_mutex_destroy(&b->mu);
        free(b);
        return NULL;
    }
    b->base.ops = &inproc_ops;
    b->size = size ? size : 1;
    b->max_age_ms = max_age_ms > 0 ? max_age_ms : 1;
    return &b->base;
}
