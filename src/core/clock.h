/* clock.h — wall and monotonic time, ISO 8601 formatting. Thread-safe. */
#ifndef SM_CORE_CLOCK_H
#define SM_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the Unix epoch (wall clock): what the database stores. */
int64_t clock_now_ms(void);

/* Monotonic nanoseconds, for durations and deadlines. */
uint64_t clock_mono_ns(void);

/* Formats `ms` since the epoch as "2026-11-29T05:00:00.123Z" into `out`
 * (at least CLOCK_ISO_LEN bytes). */
#define CLOCK_ISO_LEN 32
void clock_format_iso(int64_t ms, char *out);

#endif
