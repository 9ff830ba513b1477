/* log.h — structured JSON-lines logging.
 *
 * One JSON object per line on stdout (and optionally appended to a file):
 *   {"ts":"2026-11-29T05:00:00.123Z","level":"INFO","msg":"...",
 *    "correlation_id":"...", ...fields}
 * The correlation id is thread-local: the HTTP layer sets it to the request
 * id before running a handler, the job runner to the job's correlation id,
 * so every line a request or job causes carries it without passing it down.
 * Lines are written with one write(2) each, so lines from threads and
 * processes never interleave. */
#ifndef SM_CORE_LOG_H
#define SM_CORE_LOG_H

#include <jansson.h>
#include <stdint.h>

#include "core/err.h"

typedef enum log_level {
    LOG_DEBUG = 10,
    LOG_INFO = 20,
    LOG_WARNING = 30,
    LOG_ERROR = 40,
} log_level;

/* Parses "DEBUG"/"INFO"/"WARNING"/"ERROR" (any case; "WARN" too).
 * Returns 0 and sets *out, or SM_EINVAL. */
int log_level_parse(const char *name, log_level *out);

/* The optional log file: appended to besides stdout, rotated when it
 * reaches `max_bytes` (0: never) into path.1 … path.`keep`; a file moved
 * away by someone else (logrotate, another process's rotation) is
 * followed within a second. Processes may share one file. */
typedef struct log_file_options {
    const char *path; /* NULL or "": no file */
    int64_t max_bytes;
    int keep; /* ≥ 1 when max_bytes > 0 */
} log_file_options;

/* Sets the minimum level and the optional file (NULL: none). SM_EIO when
 * the file cannot be opened, SM_ECONFIG/SM_EINVAL for bad options. Call
 * once at start-up, before threads. */
int log_init(log_level level, const log_file_options *file, sm_error *err);

/* Closes the log file, if any. */
void log_deinit(void);

/* True when a line at `level` would be written. */
int log_enabled(log_level level);

/* Sets this thread's correlation id (copied; at most 64 bytes kept).
 * NULL or "" clears it. */
void log_set_correlation_id(const char *id);

/* This thread's correlation id, or "" when none. Valid until the next
 * log_set_correlation_id() on this thread. */
const char *log_correlation_id(void);

/* Writes one line. `fields` (may be NULL) is an object whose members are
 * added to the line; the reference is stolen. Thread-safe. */
void log_emit(log_level level, const char *msg, json_t *fields);

/* printf-style message with no extra fields. Thread-safe. */
void log_printf(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_printf(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_printf(LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_printf(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_printf(LOG_ERROR, __VA_ARGS__)

#endif
