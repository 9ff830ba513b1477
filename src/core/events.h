/* events.h — where business events leave the layer that caused them.
 *
 * Code that commits a change worth telling people about (an order placed, a
 * job failed, a report ready) calls events_publish() AFTER the commit. The
 * realtime layer installs the sink at start-up (in-process bus, or Redis
 * pub/sub in distributed mode) and turns events into channel messages with
 * sequence numbers and history. Without a sink (commands, unit tests)
 * events are dropped. This keeps the dependency pointing down: shop/ and
 * jobs/ know only this header, never realtime/.
 *
 * Channels: "admin.orders", "admin.notifications", "user.<id>". */
#ifndef SM_CORE_EVENTS_H
#define SM_CORE_EVENTS_H

#include <jansson.h>

/* The sink: receives the channel, the event type ("order.created") and
 * its data (borrowed: copy or incref to keep it). Must be thread-safe and
 * must not block for long: it is called from request and job threads. */
typedef void (*events_sink_fn)(const char *channel, const char *type, json_t *data, void *ctx);

/* Installs the sink (NULL removes it). Call once at start-up, before
 * threads publish. */
void events_set_sink(events_sink_fn fn, void *ctx);

/* Publishes one event; `data` is borrowed (the caller keeps its reference).
 * The thread's log correlation id travels with it. Thread-safe. */
void events_publish(const char *channel, const char *type, json_t *data);

#endif
