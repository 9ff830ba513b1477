/* events.c — the event sink; see events.h. */
#include "core/events.h"

#include <stdatomic.h>
#include <stddef.h>

typedef struct sink {
    events_sink_fn fn;
    void *ctx;
} sink;

static sink g_sink_storage;
static _Atomic(sink *) g_sink;

void events_set_sink(events_sink_fn fn, void *ctx)
{
    if (!fn) {
        atomic_store(&g_sink, NULL);
        return;
    }
    g_sink_storage.fn = fn;
    g_sink_storage.ctx = ctx;
    atomic_store(&g_sink, &g_sink_storage);
}

void events_publish(const char *channel, const char *type, json_t *data)
{
    sink *s = atomic_load(&g_sink);
    if (s && channel && type)
        s->fn(channel, type, data, s->ctx);
}
