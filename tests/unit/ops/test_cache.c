/* test_cache.c — the in-process cache: values copied in and out, TTL
 * expiry (lazy and by purge), the LRU bound on entries and on bytes, and a
 * thread-safety smoke test (run under TSan/ASan in CI). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "ops/cache.h"

static void check_value(cache *c, const char *key, const char *want)
{
    char *v = NULL;
    size_t len = 0;
    int rc = cache_get(c, key, &v, &len, NULL);
    if (!want) {
        assert_int_equal(rc, SM_ENOTFOUND);
        assert_null(v);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(len, strlen(want));
    assert_string_equal(v, want);
    free(v);
}

static void cache_set_get_delete_copy_values(void **state)
{
    (void)state;
    cache *c = cache_memory_new(16, 1 << 20);
    assert_non_null(c);
    char buf[8] = "value";
    assert_int_equal(cache_set(c, "k", buf, 5, 0, NULL), 0);
    buf[0] = 'X'; /* the cache kept its own copy */
    check_value(c, "k", "value");
    assert_int_equal(cache_set(c, "k", "other", 5, 0, NULL), 0);
    check_value(c, "k", "other");
    assert_int_equal(cache_set(c, "empty", "", 0, 0, NULL), 0);
    check_value(c, "empty", "");
    cache_delete(c, "k");
    check_value(c, "k", NULL);
    cache_stats st;
    cache_get_stats(c, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.hits, 3);
    assert_int_equal(st.misses, 1);
    cache_free(c);
}

static void cache_rejects_bad_keys_and_oversized_values(void **state)
{
    (void)state;
    cache *c = cache_memory_new(4, 4096);
    char key[CACHE_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    assert_int_equal(cache_set(c, key, "v", 1, 0, NULL), SM_EINVAL);
    assert_int_equal(cache_set(c, "", "v", 1, 0, NULL), SM_EINVAL);
    static char big[8192];
    assert_int_equal(cache_set(c, "big", big, sizeof big, 0, NULL), SM_ETOOLARGE);
    assert_int_equal(cache_set(NULL, "k", "v", 1, 0, NULL), SM_EINVAL);
    cache_free(c);
}

static void cache_ttl_expires_lazily_and_by_purge(void **state)
{
    (void)state;
    cache *c = cache_memory_new(16, 1 << 20);
    assert_int_equal(cache_set(c, "short", "1", 1, 60000, NULL), 0);
    assert_int_equal(cache_set(c, "long", "2", 1, 3600000, NULL), 0);
    assert_int_equal(cache_set(c, "forever", "3", 1, 0, NULL), 0);
    check_value(c, "short", "1");
    int64_t now = clock_now_ms();
    assert_int_equal(cache_purge_expired(c, now), 0);
    assert_int_equal(cache_purge_expired(c, now + 120000), 1); /* "short" */
    assert_int_equal(cache_purge_expired(c, now + 120000), 0); /* idempotent */
    check_value(c, "short", NULL);
    check_value(c, "long", "2");
    assert_int_equal(cache_purge_expired(c, now + 7200000), 1);
    check_value(c, "forever", "3");

    /* lazy: an expired entry is a miss on read, and is freed then */
    assert_int_equal(cache_set(c, "blink", "x", 1, 1, NULL), 0);
    int64_t until = clock_now_ms() + 5;
    while (clock_now_ms() < until)
        ;
    check_value(c, "blink", NULL);
    cache_stats st;
    cache_get_stats(c, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.expirations, 3);
    cache_free(c);
}

static void cache_evicts_least_recently_used_at_the_entry_bound(void **state)
{
    (void)state;
    cache *c = cache_memory_new(3, 1 << 20);
    cache_set(c, "a", "1", 1, 0, NULL);
    cache_set(c, "b", "2", 1, 0, NULL);
    cache_set(c, "c", "3", 1, 0, NULL);
    check_value(c, "a", "1"); /* a is now the most recent; b the coldest */
    cache_set(c, "d", "4", 1, 0, NULL);
    check_value(c, "b", NULL);
    check_value(c, "a", "1");
    check_value(c, "c", "3");
    check_value(c, "d", "4");
    cache_stats st;
    cache_get_stats(c, &st);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.evictions, 1);
    cache_free(c);
}

static void cache_evicts_to_stay_within_the_byte_bound(void **state)
{
    (void)state;
    cache *c = cache_memory_new(1000, 4096);
    char v[1000];
    memset(v, 'v', sizeof v);
    char key[16];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(cache_set(c, key, v, sizeof v, 0, NULL), 0);
        cache_stats st;
        cache_get_stats(c, &st);
        assert_true(st.bytes <= 4096);
    }
    check_value(c, "k0", NULL);
    char *got = NULL;
    assert_int_equal(cache_get(c, "k19", &got, NULL, NULL), 0);
    free(got);
    cache_free(c);
}

#define THREADS 8
#define OPS 20000

static void *hammer(void *arg)
{
    cache *c = arg;
    char key[32], val[32];
    unsigned seed = (unsigned)(uintptr_t)pthread_self();
    for (int i = 0; i < OPS; i++) {
        int k = rand_r(&seed) % 512;
        snprintf(key, sizeof key, "key-%d", k);
        switch (i % 4) {
        case 0:
        case 1: {
            snprintf(val, sizeof val, "val-%d", k);
            if (cache_set(c, key, val, strlen(val), (i % 8) ? 0 : 1, NULL) != 0)
                return (void *)1;
            break;
        }
        case 2: {
            char *v = NULL;
            if (cache_get(c, key, &v, NULL, NULL) == 0) {
                snprintf(val, sizeof val, "val-%d", k);
                int bad = strcmp(v, val) != 0;
                free(v);
                if (bad)
                    return (void *)1;
            }
            break;
        }
        default:
            if (i % 100 == 3)
                cache_purge_expired(c, 0);
            else
                cache_delete(c, key);
        }
    }
    return NULL;
}

static void cache_survives_concurrent_use(void **state)
{
    (void)state;
    cache *c = cache_memory_new(256, 1 << 20);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, c), 0);
    for (int i = 0; i < THREADS; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    cache_stats st;
    cache_get_stats(c, &st);
    assert_true(st.entries <= 256);
    cache_free(c);
}

static void cache_default_is_one_shared_cache(void **state)
{
    (void)state;
    cache *c = cache_default();
    assert_non_null(c);
    assert_ptr_equal(c, cache_default());
    assert_int_equal(cache_set(c, "shared", "yes", 3, 0, NULL), 0);
    check_value(cache_default(), "shared", "yes");
    cache_delete(c, "shared");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cache_set_get_delete_copy_values),
        cmocka_unit_test(cache_rejects_bad_keys_and_oversized_values),
        cmocka_unit_test(cache_ttl_expires_lazily_and_by_purge),
        cmocka_unit_test(cache_evicts_least_recently_used_at_the_entry_bound),
        cmocka_unit_test(cache_evicts_to_stay_within_the_byte_bound),
        cmocka_unit_test(cache_survives_concurrent_use),
        cmocka_unit_test(cache_default_is_one_shared_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
