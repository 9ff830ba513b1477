/* curl_global.h — libcurl's process-wide initialisation, once for every
 * user of libcurl (the SMTP transport, the embeddings client).
 *
 * curl_global_init must run before any other libcurl call and only once;
 * each user calling it behind its own pthread_once would run it once per
 * user, possibly from two threads at the same time. */
#ifndef SM_OPS_CURL_GLOBAL_H
#define SM_OPS_CURL_GLOBAL_H

#include "core/err.h"

/* Initialises libcurl on the first call (thread-safe). Returns 0, or
 * SM_EINTERNAL ("curl_global_init failed") on this and every later call
 * when it failed. */
int curl_global_once(sm_error *err);

#endif
