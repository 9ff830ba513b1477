/* cache.h — a key/value cache with per-entry time to live.
 *
 * The interface is what every backend can honour: values are byte strings
 * copied in and copied out (no borrowed pointers into shared memory), a TTL
 * per entry, delete, and an explicit purge of expired entries. The
 * in-process backend (cache_memory_new) bounds both the number of entries
 * and their total bytes and evicts the least recently used entry when a set
 * would exceed either; it is thread-safe behind one mutex. A Redis backend
 * (distributed mode) will implement the same calls with SET PX / GET / DEL
 * and make cache_purge_expired() a no-op, since Redis expires keys itself.
 *
 * The process has one shared cache, cache_default(), created on first use
 * with CACHE_DEFAULT_MAX_ENTRIES / CACHE_DEFAULT_MAX_BYTES; the purge_cache
 * task purges it. */
#ifndef SM_OPS_CACHE_H
#define SM_OPS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define CACHE_KEY_MAX 512                 /* bytes of a key, NUL excluded */
#define CACHE_VALUE_MAX (4 * 1024 * 1024) /* bytes of one value */
#define CACHE_DEFAULT_MAX_ENTRIES 65536
#define CACHE_DEFAULT_MAX_BYTES (64 * 1024 * 1024)

typedef struct cache cache;

/* A cache's counters since creation (a snapshot). */
typedef struct cache_stats {
    size_t entries, bytes;
    uint64_t hits, misses, evictions, expirations;
} cache_stats;

/* Creates an in-process cache holding at most `max_entries` entries and
 * `max_bytes` bytes of keys plus values (both ≥ 1). Returns NULL when out of
 * memory or on zero bounds. Free with cache_free(). */
cache *cache_memory_new(size_t max_entries, size_t max_bytes);

/* Frees the cache and every entry. NULL is a no-op. Not while other threads
 * still use it. */
void cache_free(cache *c);

/* The process-wide cache (created on first call; thread-safe), or NULL when
 * out of memory. Owned by the process: never free it. */
cache *cache_default(void);

/* Stores a copy of `len` bytes of `value` under `key` for `ttl_ms`
 * milliseconds (≤ 0: no expiry), replacing any previous value, evicting the
 * least recently used entries as needed. SM_EINVAL for an empty or
 * over-long key, SM_ETOOLARGE for a value over CACHE_VALUE_MAX or larger
 * than the whole cache, SM_ENOMEM. Thread-safe. */
int cache_set(cache *c, const char *key, const void *value, size_t len, int64_t ttl_ms,
              sm_error *err);

/* Looks `key` up. On a live hit returns 0 with *out = a malloc'ed copy of
 * the value followed by a NUL byte (the caller frees it) and *len its
 * length (may be NULL); marks it most recently used. SM_ENOTFOUND when
 * absent or expired (an expired entry is removed on the spot), SM_ENOMEM.
 * Thread-safe. */
int cache_get(cache *c, const char *key, char **out, size_t *len, sm_error *err);

/* Removes `key`. Returns 0 whether or not it existed. Thread-safe. */
int cache_delete(cache *c, const char *key);

/* Removes every entry whose TTL has passed at `now_ms` (0: the current
 * clock) and returns how many were removed (≥ 0). Holds the lock for the
 * whole walk, which is bounded by max_entries. Thread-safe. */
long cache_purge_expired(cache *c, int64_t now_ms);

/* Fills *out with the current counters. Thread-safe. */
void cache_get_stats(cache *c, cache_stats *out);

#endif
