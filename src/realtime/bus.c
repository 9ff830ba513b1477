/* bus.c — what both bus implementations share: the dispatch through the
 * ops table, epochs, and the building of frames (see bus.h).
 *
 * A frame is assembled from three pieces so that the Redis variant can
 * number events inside one atomic script without parsing JSON there: the
 * head ({"channel":C,"epoch":"), the epoch and sequence number, and the
 * tail ("type":T,"data":D,"ts":ISO}), which the publisher encodes once. */
#include "realtime/bus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/clock.h"
#include "realtime/channel.h"

void rt_replay_free(rt_replay *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->count; i++)
        free(r->events[i].frame);
    free(r->events);
    r->events = NULL;
    r->count = 0;
}

int rt_bus_publish(rt_bus *b, const char *channel, const char *type, json_t *data)
{
    if (!b || !rt_channel_valid(channel))
        return SM_EINVAL;
    return b->ops->publish(b, channel, type, data);
}

int rt_bus_replay(rt_bus *b, const char *channel, bool resume, uint64_t since, const char *epoch,
                  rt_replay *out)
{
    memset(out, 0, sizeof *out);
    if (!b || !rt_channel_valid(channel))
        return SM_EINVAL;
    return b->ops->replay(b, channel, resume, since, epoch, out);
}

void rt_bus_flush(rt_bus *b)
{
    if (b && b->ops->flush)
        b->ops->flush(b);
}

int rt_bus_check(rt_bus *b, bool *checked, sm_error *err)
{
    *checked = b && b->ops->check;
    return *checked ? b->ops->check(b, err) : 0;
}

void rt_bus_free(rt_bus *b)
{
    if (b)
        b->ops->free(b);
}

void rt_epoch_new(char out[RT_EPOCH_LEN + 1])
{
    unsigned char raw[RT_EPOCH_LEN / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, RT_EPOCH_LEN + 1, raw, sizeof raw);
}

bool rt_epoch_valid(const char *s)
{
    return s && strlen(s) == RT_EPOCH_LEN && strspn(s, "0123456789abcdef") == RT_EPOCH_LEN;
}

/* Event types are short dotted lower-case names: they go into frames and
 * SSE fields verbatim. */
static bool type_valid(const char *type)
{
    size_t n = type ? strlen(type) : 0;
    return n >= 1 && n < RT_TYPE_MAX &&
           strspn(type, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

char *rt_frame_tail(const char *type, json_t *data, int64_t ts_ms, size_t *len)
{
    if (!type_valid(type))
        return NULL;
    char *enc = data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (data && !enc)
        return NULL;
    char ts[CLOCK_ISO_LEN];
    clock_format_iso(ts_ms, ts);
    size_t cap = strlen(type) + (enc ? strlen(enc) : 4) + strlen(ts) + 40;
    char *out = NULL;
    if (cap <= RT_FRAME_MAX && (out = malloc(cap)) != NULL) {
        int n = snprintf(out, cap, "\"type\":\"%s\",\"data\":%s,\"ts\":\"%s\"}", type,
                         enc ? enc : "null", ts);
        *len = (size_t)n;
    }
    free(enc);
    return out;
}

size_t rt_frame_head(const char *channel, char *out, size_t bufsize)
{
    int n = snprintf(out, bufsize, "{\"channel\":\"%s\",\"epoch\":\"", channel);
    return n < 0 ? 0 : (size_t)n;
}

char *rt_frame_build(const char *channel, const char *epoch, uint64_t seq, const char *tail,
                     size_t tail_len, size_t *len)
{
    char head[96];
    size_t hl = rt_frame_head(channel, head, sizeof head);
    size_t cap = hl + RT_EPOCH_LEN + 40 + tail_len;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    int n = snprintf(out, cap, "%s%s\",\"seq\":%llu,%.*s", head, epoch, (unsigned long long)seq,
                     (int)tail_len, tail);
    if (n < 0 || (size_t)n >= cap) {
        free(out);
        return NULL;
    }
    *len = (size_t)n;
    return out;
}
