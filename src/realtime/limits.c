/* limits.c — connection counters and token buckets; see limits.h. */
#include "realtime/limits.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define LIMITS_BUCKETS 4096
#define KEY_MAX (RT_IP_MAX + 8)

typedef struct counter {
    struct counter *next;
    int count;
    char key[KEY_MAX]; /* "u:<id>" or "i:<ip>" */
} counter;

static pthread_mutex_t limits_lock = PTHREAD_MUTEX_INITIALIZER;
static counter *limits_table[LIMITS_BUCKETS];

static counter **slot_of(const char *key)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    counter **pp = &limits_table[h % LIMITS_BUCKETS];
    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    return pp;
}

static int count_of(const char *key)
{
    counter *c = *slot_of(key);
    return c ? c->count : 0;
}

/* Adds `delta` to the counter of `key`, creating or freeing it. */
static int bump(const char *key, int delta)
{
    counter **pp = slot_of(key);
    if (!*pp) {
        if (delta <= 0)
            return 0;
        if (!(*pp = calloc(1, sizeof **pp)))
            return SM_ENOMEM;
        snprintf((*pp)->key, sizeof(*pp)->key, "%s", key);
    }
    (*pp)->count += delta;
    if ((*pp)->count <= 0) {
        counter *dead = *pp;
        *pp = dead->next;
        free(dead);
    }
    return 0;
}

static void keys(int64_t user_id, const char *ip, char u[KEY_MAX], char i[KEY_MAX])
{
    snprintf(u, KEY_MAX, "u:%lld", (long long)user_id);
    snprintf(i, KEY_MAX, "i:%.*s", RT_IP_MAX - 1, ip ? ip : "");
}

int rt_limits_acquire(int64_t user_id, const char *ip, int max_per_user, int max_per_ip)
{
    char u[KEY_MAX], i[KEY_MAX];
    keys(user_id, ip, u, i);
    int rc = 0;
    pthread_mutex_lock(&limits_lock);
    if (count_of(u) >= max_per_user || count_of(i) >= max_per_ip)
        rc = SM_ERATELIMIT;
    else if ((rc = bump(u, 1)) == 0 && (rc = bump(i, 1)) < 0)
        bump(u, -1);
    pthread_mutex_unlock(&limits_lock);
    return rc;
}

void rt_limits_release(int64_t user_id, const char *ip)
{
    char u[KEY_MAX], i[KEY_MAX];
    keys(user_id, ip, u, i);
    pthread_mutex_lock(&limits_lock);
    bump(u, -1);
    bump(i, -1);
    pthread_mutex_unlock(&limits_lock);
}

void rt_bucket_init(rt_bucket *b, int rate, uint64_t now_ns)
{
    b->rate = rate > 0 ? rate : 1;
    b->tokens = b->rate;
    b->last_ns = now_ns;
}

bool rt_bucket_take(rt_bucket *b, uint64_t now_ns)
{
    if (now_ns > b->last_ns) {
        b->tokens += (double)(now_ns - b->last_ns) * b->rate / 1e9;
        if (b->tokens > b->rate)
            b->tokens = b->rate;
        b->last_ns = now_ns;
    }
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}
