/* realtime.c — the process's bus and the events sink; see realtime.h.
 *
 * Starts nest: the bus opens on the first realtime_start() and closes on
 * the matching last realtime_stop(), so `run` can bracket its worker and
 * its server while cmd_serve_start() brackets the server alone. */
#include "realtime/realtime.h"

#include <pthread.h>
#include <stdatomic.h>

#include "core/config.h"
#include "core/events.h"
#include "core/log.h"

static _Atomic(rt_bus *) g_bus;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_starts; /* realtime_start() calls not yet matched by a stop */

static void sink(const char *channel, const char *type, json_t *data, void *ctx)
{
    rt_bus *b = ctx;
    int rc = rt_bus_publish(b, channel, type, data);
    if (rc < 0)
        log_error("realtime: event %s on %s dropped: %s", type, channel, sm_strerror(rc));
}

static int bus_open(sm_error *err)
{
    const sm_config *cfg = config_get();
    size_t size = cfg ? (size_t)cfg->realtime_history_size : 1000;
    int64_t age_ms = (cfg ? cfg->realtime_history_s : 3600) * (int64_t)1000;
    rt_bus *b;
    if (cfg && cfg->redis_url[0]) {
        if (!(b = rt_bus_redis_new(cfg->redis_url, size, age_ms, err)))
            return err && err->code ? err->code : SM_EUNAVAILABLE;
    } else if (!(b = rt_bus_inproc_new(size, age_ms))) {
        return sm_error_set(err, SM_ENOMEM, "out of memory starting the event bus");
    }
    atomic_store(&g_bus, b);
    events_set_sink(sink, b);
    log_info("realtime: %s event bus, history %zu events / %lld s",
             cfg && cfg->redis_url[0] ? "redis" : "in-process", size, (long long)(age_ms / 1000));
    return 0;
}

int realtime_start(sm_error *err)
{
    int rc = 0;
    pthread_mutex_lock(&g_lock);
    if (g_starts++ == 0 && (rc = bus_open(err)) < 0)
        g_starts = 0;
    pthread_mutex_unlock(&g_lock);
    return rc;
}

void realtime_stop(void)
{
    pthread_mutex_lock(&g_lock);
    if (g_starts > 0 && --g_starts == 0) {
        events_set_sink(NULL, NULL);
        rt_bus_free(atomic_exchange(&g_bus, NULL));
    }
    pthread_mutex_unlock(&g_lock);
}

rt_bus *realtime_bus(void)
{
    return atomic_load(&g_bus);
}
