/* purge_cache.c — evicts the expired entries of the in-process cache.
 *
 * Expired entries are already invisible (cache_get treats them as misses);
 * this returns their memory when nobody reads them again. The work is one
 * walk of the cache under its lock, bounded by CACHE_DEFAULT_MAX_ENTRIES.
 * It only reaches the cache of the process it runs in: with `smartmarket
 * run` (embedded) that is the web's cache. In the distributed mode the
 * cache is Redis, whose TTLs expire keys by themselves, so the Redis
 * backend's purge is a no-op and this task reports 0. */
#include "jobs/tasks/tasks.h"
#include "ops/cache.h"

int task_purge_cache(jobs_ctx *ctx, db *d, json_t *args, json_t **result, sm_error *err)
{
    (void)ctx, (void)d, (void)args;
    cache *c = cache_default();
    if (!c)
        return sm_error_set(err, SM_ENOMEM, "out of memory creating the cache");
    long evicted = cache_purge_expired(c, 0);
    cache_stats st;
    cache_get_stats(c, &st);
    if (result)
        *result = json_pack("{s:I, s:I, s:I}", "evicted", (json_int_t)evicted, "entries",
                            (json_int_t)st.entries, "bytes", (json_int_t)st.bytes);
    return 0;
}
