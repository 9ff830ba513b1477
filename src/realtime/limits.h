/* limits.h — throttling of realtime clients: open connections per user and
 * per IP (process-wide counters), and a token bucket for the messages one
 * connection may send.
 *
 * Counters are a small hash table under one mutex: acquire on connect,
 * release exactly once on disconnect. Entries whose count falls to zero are
 * freed, so the table holds only the clients connected now. */
#ifndef SM_REALTIME_LIMITS_H
#define SM_REALTIME_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#define RT_IP_MAX 64 /* bytes of an IP address string, NUL included */

/* Counts one more connection of `user_id` from `ip` (may be NULL/empty for
 * none), unless either would pass its bound. Returns 0, SM_ERATELIMIT, or
 * SM_ENOMEM. Thread-safe. */
int rt_limits_acquire(int64_t user_id, const char *ip, int max_per_user, int max_per_ip);

/* Undoes one successful rt_limits_acquire() with the same arguments. */
void rt_limits_release(int64_t user_id, const char *ip);

/* A token bucket: `rate` tokens per second, bursts up to `rate`. */
typedef struct rt_bucket {
    double tokens;
    uint64_t last_ns;
    int rate;
} rt_bucket;

void rt_bucket_init(rt_bucket *b, int rate, uint64_t now_ns);

/* Takes one token; false when the bucket is empty (the message is over the
 * limit). Not thread-safe: one bucket per connection, on its loop. */
bool rt_bucket_take(rt_bucket *b, uint64_t now_ns);

#endif
