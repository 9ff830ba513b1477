/* hub.h — this process's subscribers, by channel, and the fan-out to them.
 *
 * A subscription (rt_sub) is one client on one channel, whatever its
 * transport (WebSocket, SSE, long-poll): the transport gives callbacks and
 * the hub calls them with frames in sequence order, without gaps and
 * without duplicates. A subscription lives in three steps, which give
 * resume without a gap (subscribe first, then read history):
 *
 *   1. rt_sub_open():   registered on its channel; live events are queued.
 *   2. rt_sub_replay(): reads what the client missed from the bus (blocking)
 *                       and puts the welcome (or history_gone) frame and the
 *                       missed events ahead of the queue, dropping queued
 *                       events the replay already covers.
 *   3. rt_sub_attach(): sends the queue through `send` and goes live: each
 *                       later event is sent at once; one with seq ≤ the last
 *                       sent is skipped, a jump past last+1 (a lost pub/sub
 *                       message) sends a history_gone frame first.
 *
 * The queue is bounded (RT_SUB_QUEUE_MAX bytes); overflowing it, or `send`
 * answering SM_EBUSY, makes the subscriber a slow consumer: the hub stops
 * sending and calls `slow` once. Locks: the hub's rwlock (map of channels),
 * then each subscription's mutex; callbacks run under the latter, so they
 * must not call back into the hub. */
#ifndef SM_REALTIME_HUB_H
#define SM_REALTIME_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "realtime/bus.h"

#define RT_SUB_QUEUE_MAX (512 * 1024) /* bytes queued before attach */

typedef enum rt_frame_kind {
    RT_FRAME_WELCOME, /* {"type":"welcome",...}: first frame of every subscription */
    RT_FRAME_GONE,    /* {"type":"history_gone",...}: reload state from the REST API */
    RT_FRAME_EVENT,   /* an event frame (bus.h) */
} rt_frame_kind;

typedef struct rt_sub_callbacks {
    /* Sends one frame. Returns 0, SM_EBUSY (slow consumer), or another
     * error (connection over: the hub stops sending, quietly). */
    int (*send)(void *ctx, rt_frame_kind kind, uint64_t seq, const char *epoch, const char *text,
                size_t len);
    /* Called once when the subscriber turned out to be too slow. */
    void (*slow)(void *ctx);
} rt_sub_callbacks;

typedef struct rt_sub rt_sub;

/* Step 1. `cb` must outlive the subscription. NULL when out of memory or
 * for an invalid channel. Thread-safe. */
rt_sub *rt_sub_open(const char *channel, const rt_sub_callbacks *cb, void *ctx);

/* Step 2 (blocking). With `resume`, the client holds everything up to
 * (`epoch`, `since`). Returns 0 or the bus's error (the subscription is
 * then useless: close it). */
int rt_sub_replay(rt_sub *s, rt_bus *bus, bool resume, uint64_t since, const char *epoch);

/* Step 3. Non-blocking; any thread. */
void rt_sub_attach(rt_sub *s);

/* The last sequence number handed to `send` (0 before any) and its epoch
 * (copied into `epoch`, RT_EPOCH_LEN + 1 bytes). */
uint64_t rt_sub_position(rt_sub *s, char *epoch);

/* Unregisters and frees: when it returns, no callback runs any more.
 * NULL is a no-op. Thread-safe, but not concurrently with steps 2–3. */
void rt_sub_close(rt_sub *s);

/* Delivers an event frame to every subscriber of `channel` in this
 * process. Called by the bus implementations, in seq order per channel. */
void rt_hub_deliver(const char *channel, const char *epoch, uint64_t seq, const char *frame,
                    size_t len);

/* Subscribers in this process (all channels). */
size_t rt_hub_count(void);

#endif
