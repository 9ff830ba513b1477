/* realtime.h — starting and stopping the realtime layer of a process.
 *
 * realtime_start() picks the bus from the configuration (REDIS_URL set:
 * Redis, else in-process), and installs it as the events sink
 * (core/events.h), so that events_publish() from request and job threads
 * becomes numbered channel messages. Every process that publishes or
 * serves subscribers calls it once: serve and run (src/cmd/serve.c), and
 * the job worker (with REDIS_URL, its events reach every web process; in
 * embedded mode `run` holds web and worker in one process). */
#ifndef SM_REALTIME_REALTIME_H
#define SM_REALTIME_REALTIME_H

#include "core/err.h"
#include "realtime/bus.h"

/* Starts the bus and installs the sink, after config_load() and before
 * threads publish. Calls nest: only the first opens the bus. Returns 0, or
 * SM_EUNAVAILABLE/SM_ECONFIG/SM_ENOMEM with `err` filled (Redis unreachable
 * at start-up is an error: a web node that silently drops events is worse
 * than one that does not start). Thread-safe. */
int realtime_start(sm_error *err);

/* Matches one successful realtime_start(); the last one removes the sink
 * and frees the bus, so no thread may still publish by then (a process
 * with job workers stops them first). Thread-safe. */
void realtime_stop(void);

/* The running bus (borrowed), or NULL before realtime_start(). */
rt_bus *realtime_bus(void);

#endif
