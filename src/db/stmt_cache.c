/* stmt_cache.c — per-connection cache of prepared statements.
 *
 * Callers pass SQL text, not statement handles, so each driver looks the
 * text up here before preparing it. The cache is a fixed array of
 * DB_STMT_CACHE_MAX entries scanned linearly: with a 64-bit FNV-1a hash
 * compared first, a scan of 128 entries costs far less than one prepare
 * (and far less than the round trip a PostgreSQL prepare needs). When full,
 * the least recently used entry is released through the driver's `release`
 * callback (sqlite3_finalize, or DEALLOCATE on PostgreSQL). The key is
 * opaque bytes: PostgreSQL appends the parameter types to the SQL text.
 * A cache belongs to one connection and so to one thread: no locking. */
#include <stdlib.h>
#include <string.h>

#include "db/driver.h"

static uint64_t key_hash(const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int find(const db_stmt_cache *c, uint64_t h, const char *key, size_t len)
{
    for (int i = 0; i < c->len; i++) {
        const db_stmt_entry *e = &c->entries[i];
        if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
            return i;
    }
    return -1;
}

static void drop_at(db_stmt_cache *c, db *d, int i)
{
    db_stmt_entry *e = &c->entries[i];
    if (c->release)
        c->release(d, e->stmt);
    free(e->key);
    c->entries[i] = c->entries[c->len - 1];
    c->len--;
}

void *db_stmt_cache_get(db_stmt_cache *c, const char *key, size_t key_len)
{
    int i = find(c, key_hash(key, key_len), key, key_len);
    if (i < 0) {
        c->misses++;
        return NULL;
    }
    c->hits++;
    c->entries[i].last_use = ++c->clock;
    return c->entries[i].stmt;
}

int db_stmt_cache_put(db_stmt_cache *c, db *d, const char *key, size_t key_len, void *stmt)
{
    char *copy = malloc(key_len ? key_len : 1);
    if (!copy)
        return SM_ENOMEM;
    memcpy(copy, key, key_len);
    if (c->len == DB_STMT_CACHE_MAX) {
        int lru = 0;
        for (int i = 1; i < c->len; i++)
            if (c->entries[i].last_use < c->entries[lru].last_use)
                lru = i;
        drop_at(c, d, lru);
    }
    c->entries[c->len++] = (db_stmt_entry){
        .hash = key_hash(key, key_len),
        .key = copy,
        .key_len = key_len,
        .stmt = stmt,
        .last_use = ++c->clock,
    };
    return 0;
}

void db_stmt_cache_remove(db_stmt_cache *c, db *d, const char *key, size_t key_len)
{
    int i = find(c, key_hash(key, key_len), key, key_len);
    if (i >= 0)
        drop_at(c, d, i);
}

void db_stmt_cache_clear(db_stmt_cache *c, db *d)
{
    while (c->len > 0)
        drop_at(c, d, c->len - 1);
}

void db_stmt_stats(const db *d, uint64_t *hits, uint64_t *misses, int *cached)
{
    if (hits)
        *hits = d ? d->cache.hits : 0;
    if (misses)
        *misses = d ? d->cache.misses : 0;
    if (cached)
        *cached = d ? d->cache.len : 0;
}
