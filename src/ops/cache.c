/* cache.c — the cache interface and its in-process backend; see cache.h.
 *
 * A `cache` is a table of operations plus the backend's state, so the Redis
 * backend of the distributed mode can sit behind the same calls later
 * (DESIGN.md: "cache: in-process, bounded | Redis").
 *
 * The in-process backend is a chained hash table for lookup and one doubly
 * linked list in recency order (head = most recently used) for eviction,
 * both under one mutex. Each entry is one allocation: header, key, NUL,
 * value, NUL. Buckets hash with SipHash (libsodium's crypto_shorthash) under
 * a random key per cache, so keys built from user input cannot be chosen to
 * collide into one chain. The bucket count is fixed at creation (the next
 * power of two ≥ max_entries), so the load factor never exceeds one and no
 * rehash ever stalls a caller.
 *
 * Expiry is lazy on read (an expired entry is a miss and is freed then) and
 * eager in cache_purge_expired(), which the purge_cache task runs every 30
 * minutes, so memory held by entries nobody reads again is returned. Times
 * are the wall clock in milliseconds (clock_now_ms), the same clock as the
 * database's timestamps. */
#include "ops/cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/clock.h"

typedef struct cache_ops {
    int (*set)(cache *c, const char *key, const void *value, size_t len, int64_t ttl_ms,
               sm_error *err);
    int (*get)(cache *c, const char *key, char **out, size_t *len, sm_error *err);
    int (*del)(cache *c, const char *key);
    long (*purge)(cache *c, int64_t now_ms);
    void (*stats)(cache *c, cache_stats *out);
    void (*destroy)(cache *c);
} cache_ops;

struct cache {
    const cache_ops *ops;
};

/* ---- in-process backend ---- */

typedef struct entry {
    struct entry *hnext;       /* bucket chain */
    struct entry *prev, *next; /* recency list */
    int64_t expires_ms;        /* 0: never */
    size_t klen, vlen;
    size_t bucket;
    char data[]; /* key, NUL, value, NUL */
} entry;

typedef struct mem_cache {
    cache base;
    pthread_mutex_t lock;
    entry **buckets;
    size_t nbuckets; /* a power of two */
    entry *head, *tail;
    size_t max_entries, max_bytes;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    cache_stats st;
} mem_cache;

static size_t entry_cost(size_t klen, size_t vlen)
{
    return sizeof(entry) + klen + vlen + 2;
}

static size_t bucket_of(const mem_cache *m, const char *key, size_t klen)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)key, klen, m->hash_key);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return (size_t)(v & (m->nbuckets - 1));
}

static entry *lookup(mem_cache *m, const char *key, size_t klen, size_t b, entry ***link)
{
    entry **pp = &m->buckets[b];
    for (entry *e = *pp; e; pp = &e->hnext, e = e->hnext) {
        if (e->klen == klen && memcmp(e->data, key, klen) == 0) {
            if (link)
                *link = pp;
            return e;
        }
    }
    return NULL;
}

static void list_unlink(mem_cache *m, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        m->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        m->tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_push_front(mem_cache *m, entry *e)
{
    e->prev = NULL;
    e->next = m->head;
    if (m->head)
        m->head->prev = e;
    m->head = e;
    if (!m->tail)
        m->tail = e;
}

/* Unlinks `e` from its chain and the list and frees it. */
static void entry_remove(mem_cache *m, entry *e)
{
    entry **pp = &m->buckets[e->bucket];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    list_unlink(m, e);
    m->st.entries--;
    m->st.bytes -= entry_cost(e->klen, e->vlen);
    free(e);
}

static bool expired(const entry *e, int64_t now_ms)
{
    return e->expires_ms != 0 && e->expires_ms <= now_ms;
}

static int key_check(const char *key, size_t *klen, sm_error *err)
{
    *klen = key ? strnlen(key, CACHE_KEY_MAX + 1) : 0;
    if (*klen == 0 || *klen > CACHE_KEY_MAX)
        return sm_error_set(err, SM_EINVAL, "cache key empty or over %d bytes", CACHE_KEY_MAX);
    return 0;
}

static int mem_set(cache *c, const char *key, const void *value, size_t len, int64_t ttl_ms,
                   sm_error *err)
{
    mem_cache *m = (mem_cache *)c;
    size_t klen;
    int rc = key_check(key, &klen, err);
    if (rc < 0)
        return rc;
    if (len > CACHE_VALUE_MAX || entry_cost(klen, len) > m->max_bytes)
        return sm_error_set(err, SM_ETOOLARGE, "cache value of %zu bytes is too large", len);
    entry *e = malloc(entry_cost(klen, len));
    if (!e)
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    e->klen = klen;
    e->vlen = len;
    e->expires_ms = ttl_ms > 0 ? clock_now_ms() + ttl_ms : 0;
    memcpy(e->data, key, klen);
    e->data[klen] = '\0';
    if (len)
        memcpy(e->data + klen + 1, value, len);
    e->data[klen + 1 + len] = '\0';

    pthread_mutex_lock(&m->lock);
    e->bucket = bucket_of(m, key, klen);
    entry *old = lookup(m, key, klen, e->bucket, NULL);
    if (old)
        entry_remove(m, old);
    /* Evict from the cold end until the new entry fits both bounds. */
    size_t cost = entry_cost(klen, len);
    while (m->tail && (m->st.entries + 1 > m->max_entries || m->st.bytes + cost > m->max_bytes)) {
        entry_remove(m, m->tail);
        m->st.evictions++;
    }
    e->hnext = m->buckets[e->bucket];
    m->buckets[e->bucket] = e;
    list_push_front(m, e);
    m->st.entries++;
    m->st.bytes += cost;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static int mem_get(cache *c, const char *key, char **out, size_t *len, sm_error *err)
{
    mem_cache *m = (mem_cache *)c;
    size_t klen;
    int rc = key_check(key, &klen, err);
    if (rc < 0)
        return rc;
    int64_t now = clock_now_ms();
    pthread_mutex_lock(&m->lock);
    entry *e = lookup(m, key, klen, bucket_of(m, key, klen), NULL);
    if (e && expired(e, now)) {
        entry_remove(m, e);
        m->st.expirations++;
        e = NULL;
    }
    if (!e) {
        m->st.misses++;
        pthread_mutex_unlock(&m->lock);
        return sm_error_set(err, SM_ENOTFOUND, "not cached");
    }
    char *copy = malloc(e->vlen + 1);
    if (!copy) {
        pthread_mutex_unlock(&m->lock);
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    }
    memcpy(copy, e->data + e->klen + 1, e->vlen + 1);
    if (len)
        *len = e->vlen;
    list_unlink(m, e);
    list_push_front(m, e);
    m->st.hits++;
    pthread_mutex_unlock(&m->lock);
    *out = copy;
    return 0;
}

static int mem_del(cache *c, const char *key)
{
    mem_cache *m = (mem_cache *)c;
    size_t klen;
    if (key_check(key, &klen, NULL) < 0)
        return 0;
    pthread_mutex_lock(&m->lock);
    entry *e = lookup(m, key, klen, bucket_of(m, key, klen), NULL);
    if (e)
        entry_remove(m, e);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static long mem_purge(cache *c, int64_t now_ms)
{
    mem_cache *m = (mem_cache *)c;
    long n = 0;
    if (now_ms <= 0)
        now_ms = clock_now_ms();
    pthread_mutex_lock(&m->lock);
    for (entry *e = m->head, *next; e; e = next) {
        next = e->next;
        if (expired(e, now_ms)) {
            entry_remove(m, e);
            n++;
        }
    }
    m->st.expirations += (uint64_t)n;
    pthread_mutex_unlock(&m->lock);
    return n;
}

static void mem_stats(cache *c, cache_stats *out)
{
    mem_cache *m = (mem_cache *)c;
    pthread_mutex_lock(&m->lock);
    *out = m->st;
    pthread_mutex_unlock(&m->lock);
}

static void mem_destroy(cache *c)
{
    mem_cache *m = (mem_cache *)c;
    for (entry *e = m->head, *next; e; e = next) {
        next = e->next;
        free(e);
    }
    pthread_mutex_destroy(&m->lock);
    free(m->buckets);
    free(m);
}

static const cache_ops mem_ops = {
    .set = mem_set,
    .get = mem_get,
    .del = mem_del,
    .purge = mem_purge,
    .stats = mem_stats,
    .destroy = mem_destroy,
};

cache *cache_memory_new(size_t max_entries, size_t max_bytes)
{
    if (max_entries == 0 || max_bytes == 0 || max_entries > ((size_t)1 << 30) || sodium_init() < 0)
        return NULL;
    mem_cache *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->nbuckets = 1;
    while (m->nbuckets < max_entries)
        m->nbuckets <<= 1;
    m->buckets = calloc(m->nbuckets, sizeof(entry *));
    if (!m->buckets || pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m->buckets);
        free(m);
        return NULL;
    }
    crypto_shorthash_keygen(m->hash_key);
    m->max_entries = max_entries;
    m->max_bytes = max_bytes;
    m->base.ops = &mem_ops;
    return &m->base;
}

/* ---- the interface ---- */

void cache_free(cache *c)
{
    if (c)
        c->ops->destroy(c);
}

static cache *g_default;
static pthread_once_t g_default_once = PTHREAD_ONCE_INIT;

static void default_create(void)
{
    g_default = cache_memory_new(CACHE_DEFAULT_MAX_ENTRIES, CACHE_DEFAULT_MAX_BYTES);
}

cache *cache_default(void)
{
    pthread_once(&g_default_once, default_create);
    return g_default;
}

int cache_set(cache *c, const char *key, const void *value, size_t len, int64_t ttl_ms,
              sm_error *err)
{
    if (!c || (!value && len))
        return sm_error_set(err, SM_EINVAL, "no cache or value");
    return c->ops->set(c, key, value, len, ttl_ms, err);
}

int cache_get(cache *c, const char *key, char **out, size_t *len, sm_error *err)
{
    if (!c || !out)
        return sm_error_set(err, SM_EINVAL, "no cache or output");
    *out = NULL;
    return c->ops->get(c, key, out, len, err);
}

int cache_delete(cache *c, const char *key)
{
    return c ? c->ops->del(c, key) : 0;
}

long cache_purge_expired(cache *c, int64_t now_ms)
{
    return c ? c->ops->purge(c, now_ms) : 0;
}

void cache_get_stats(cache *c, cache_stats *out)
{
    memset(out, 0, sizeof *out);
    if (c)
        c->ops->stats(c, out);
}
