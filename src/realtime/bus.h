/* bus.h — the event bus: publishing events onto channels, numbering them,
 * keeping their history, and fanning them out to the local subscribers.
 *
 * One interface, two implementations (variants behind one header, not
 * #ifdefs): bus_inproc.c keeps everything in this process (embedded mode);
 * bus_redis.c keeps sequence numbers and history in Redis and fans out
 * through Redis pub/sub, so that an event published by any web or worker
 * process reaches every subscriber of every web process, and any process
 * can resume any client (distributed mode).
 *
 * Numbering. Each channel has an epoch (RT_EPOCH_LEN hex characters, random,
 * chosen when the channel's history starts: at process start in-process,
 * on first use in Redis) and a sequence number: every event gets the
 * previous number + 1. A (epoch, seq) pair names one event for ever; a
 * different epoch means "history restarted, what you hold is stale".
 *
 * Frames. An event travels as one JSON text, built once by the publisher
 * and sent unchanged to every subscriber:
 *   {"channel":C,"epoch":E,"seq":N,"type":T,"data":D,"ts":ISO}
 * Delivery to local subscribers goes through hub.h (rt_hub_deliver), in
 * sequence order per channel, after rt_bus_publish() has returned. */
#ifndef SM_REALTIME_BUS_H
#define SM_REALTIME_BUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define RT_EPOCH_LEN 16                  /* hex characters */
#define RT_TYPE_MAX 64                   /* bytes of an event type ("order.created") */
#define RT_FRAME_MAX (64 * 1024)         /* largest event frame; larger events are refused */
#define RT_REPLAY_MAX_BYTES (192 * 1024) /* a replay larger than this is "history gone" */

typedef struct rt_event {
    uint64_t seq;
    char *frame; /* NUL-terminated JSON text */
    size_t len;
} rt_event;

/* What a (re)connecting subscriber is owed. */
typedef struct rt_replay {
    char epoch[RT_EPOCH_LEN + 1]; /* the channel's current epoch */
    uint64_t seq;                 /* its last sequence number when read (0: none yet) */
    bool gone;                    /* history no longer covers what was asked */
    rt_event *events;             /* seq since+1 … seq in order (malloc'd, owned) */
    size_t count;
} rt_replay;

/* Frees the events of `r` (not `r` itself); safe on a zeroed replay. */
void rt_replay_free(rt_replay *r);

typedef struct rt_bus rt_bus;

typedef struct rt_bus_ops {
    int (*publish)(rt_bus *b, const char *channel, const char *type, json_t *data);
    int (*replay)(rt_bus *b, const char *channel, bool resume, uint64_t since, const char *epoch,
                  rt_replay *out);
    void (*flush)(rt_bus *b);               /* NULL: nothing to wait for */
    int (*check)(rt_bus *b, sm_error *err); /* NULL: nothing outside the process */
    void (*free)(rt_bus *b);
} rt_bus_ops;

struct rt_bus {
    const rt_bus_ops *ops;
};

/* The embedded bus: histories of at most `size` events and `max_age_ms`
 * per channel in this process. Returns NULL when out of memory. */
rt_bus *rt_bus_inproc_new(size_t size, int64_t max_age_ms);

/* The distributed bus on Redis at `url` (redis://host:port[/db]): connects,
 * loads its scripts and starts the subscriber thread. Returns NULL with
 * `err` filled (SM_EUNAVAILABLE, SM_ECONFIG, SM_ENOMEM). */
rt_bus *rt_bus_redis_new(const char *url, size_t size, int64_t max_age_ms, sm_error *err);

/* Publishes one event: validates the channel (channel.h) and type, numbers
 * it, stores it in the history, fans it out. `data` is borrowed. Returns 0,
 * SM_EINVAL (bad channel/type, frame over RT_FRAME_MAX), SM_ENOMEM,
 * SM_EUNAVAILABLE (Redis down). Thread-safe. */
int rt_bus_publish(rt_bus *b, const char *channel, const char *type, json_t *data);

/* Reads what a subscriber of `channel` is owed. Without `resume`: only the
 * current epoch and seq. With it: every event after `since` when `epoch`
 * is current and the history still holds them all (and they fit in
 * RT_REPLAY_MAX_BYTES), else out->gone. Blocking (Redis): never call it
 * on an event loop. Returns 0 (fill `out`; free with rt_replay_free),
 * SM_ENOMEM, SM_EUNAVAILABLE. Thread-safe. */
int rt_bus_replay(rt_bus *b, const char *channel, bool resume, uint64_t since, const char *epoch,
                  rt_replay *out);

/* Waits until every event this process published before the call has been
 * handed to the local subscribers (the in-process bus fans out on its own
 * thread). A no-op on the Redis bus, whose delivery comes back through the
 * Redis subscription. Thread-safe. */
void rt_bus_flush(rt_bus *b);

/* Readiness: whether the bus can publish and deliver right now. The
 * in-process bus has nothing to check (*checked = false, returns 0). On
 * Redis: a PING on the command connection (re-opened when broken) and a
 * connected subscriber; returns 0, or SM_EUNAVAILABLE with `err` saying
 * which (host details included: log them, do not show them). Blocking, at
 * most the Redis timeout (2 s). Thread-safe. */
int rt_bus_check(rt_bus *b, bool *checked, sm_error *err);

/* Stops and frees the bus (NULL is a no-op). No publisher may still run. */
void rt_bus_free(rt_bus *b);

/* ---- shared by the implementations ---- */

/* A fresh random epoch (RT_EPOCH_LEN hex characters + NUL). */
void rt_epoch_new(char out[RT_EPOCH_LEN + 1]);

/* True when `s` has the shape of an epoch. */
bool rt_epoch_valid(const char *s);

/* Builds the part of a frame after the sequence number:
 *   "type":T,"data":D,"ts":ISO}
 * (malloc'd, *len set). NULL for a bad type, data that cannot be encoded,
 * or a result over RT_FRAME_MAX. */
char *rt_frame_tail(const char *type, json_t *data, int64_t ts_ms, size_t *len);

/* The head of a frame up to the epoch's value: {"channel":C,"epoch":"
 * into `out` (bufsize bytes). Returns its length. */
size_t rt_frame_head(const char *channel, char *out, size_t bufsize);

/* A complete frame: head + epoch + "\",\"seq\":N," + tail (malloc'd). */
char *rt_frame_build(const char *channel, const char *epoch, uint64_t seq, const char *tail,
                     size_t tail_len, size_t *len);

#endif
