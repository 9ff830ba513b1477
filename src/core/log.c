/* log.c — JSON-lines logger.
 *
 * Each line is built in a stack buffer (jansson dumps into it) and written
 * with a single write(2) to stdout and to the optional file, so concurrent
 * writers never interleave partial lines (POSIX makes appends of one write
 * atomic for regular files opened O_APPEND; pipes up to PIPE_BUF, and longer
 * lines are rare and still whole in practice). The level and file are set
 * once at start-up and only read afterwards. */
#include "core/log.h"

#include "core/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192
#define LOG_ID_MAX 64

static log_level g_level = LOG_INFO;
static int g_file_fd = -1;
static _Thread_local char t_correlation[LOG_ID_MAX + 1];

int log_level_parse(const char *name, log_level *out)
{
    static const struct {
        const char *name;
        log_level level;
    } names[] = {{"DEBUG", LOG_DEBUG},
                 {"INFO", LOG_INFO},
                 {"WARNING", LOG_WARNING},
                 {"WARN", LOG_WARNING},
                 {"ERROR", LOG_ERROR}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return SM_EINVAL;
}

int log_init(log_level level, const char *file_path, sm_error *err)
{
    g_level = level;
    if (file_path && *file_path) {
        int fd = open(file_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd < 0)
            return sm_error_set(err, SM_EIO, "LOG_FILE: cannot open %s: %s", file_path,
                                strerror(errno));
        g_file_fd = fd;
    }
    return 0;
}

void log_deinit(void)
{
    if (g_file_fd >= 0)
        close(g_file_fd);
    g_file_fd = -1;
}

int log_enabled(log_level level)
{
    return level >= g_level;
}

void log_set_correlation_id(const char *id)
{
    if (!id) {
        t_correlation[0] = '\0';
        return;
    }
    size_t n = strnlen(id, LOG_ID_MAX);
    memcpy(t_correlation, id, n);
    t_correlation[n] = '\0';
}

const char *log_correlation_id(void)
{
    return t_correlation;
}

static const char *level_name(log_level level)
{
    switch (level) {
    case LOG_DEBUG: return "DEBUG";
    case LOG_INFO: return "INFO";
    case LOG_WARNING: return "WARNING";
    default: return "ERROR";
    }
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report a logging failure */
        }
        buf += n;
        len -= (size_t)n;
    }
}

void log_emit(log_level level, const char *msg, json_t *fields)
{
    if (level < g_level) {
        json_decref(fields);
        return;
    }
    char ts[CLOCK_ISO_LEN];
    clock_format_iso(clock_now_ms(), ts);

    json_t *line = json_object();
    if (!line) {
        json_decref(fields);
        return;
    }
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_name(level)));
    json_object_set_new(line, "msg", json_string(msg ? msg : ""));
    if (t_correlation[0])
        json_object_set_new(line, "correlation_id", json_string(t_correlation));
    if (json_is_object(fields))
        json_object_update_missing(line, fields);
    json_decref(fields);

    char buf[LOG_LINE_MAX];
    size_t n = json_dumpb(line, buf, sizeof buf - 1,
                          JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    char *heap = NULL;
    const char *out = buf;
    if (n >= sizeof buf - 1) {
        heap = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        if (heap) {
            n = strlen(heap);
            char *grown = realloc(heap, n + 2);
            if (grown) {
                heap = grown;
                out = heap;
            } else {
                n = 0;
            }
        } else {
            n = 0;
        }
    }
    json_decref(line);
    if (n == 0) {
        free(heap);
        return;
    }
    ((char *)out)[n++] = '\n';
    write_all(STDOUT_FILENO, out, n);
    if (g_file_fd >= 0)
        write_all(g_file_fd, out, n);
    free(heap);
}

void log_printf(log_level level, const char *fmt, ...)
{
    if (level < g_level)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_emit(level, msg, NULL);
}
