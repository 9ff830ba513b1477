/* log.c — JSON-lines logger.
 *
 * Each line is built in a stack buffer (jansson dumps into it) and written
 * with a single write(2) to stdout and to the optional file, so concurrent
 * writers never interleave partial lines (POSIX makes appends of one write
 * atomic for regular files opened O_APPEND; pipes up to PIPE_BUF, and longer
 * lines are rare and still whole in practice). The level and file are set
 * once at start-up and only read afterwards.
 *
 * The file rotates by size, like logrotate without its daemon, and follows
 * a rotation made by anyone else. Its descriptor number never changes: a
 * new file is put in place with dup3(2), atomic for every thread writing
 * (a write already under way finishes in the old file, which is renamed,
 * never lost). Every LOG_CHECK_BYTES written (or an eighth of the limit,
 * whichever is less) or LOG_CHECK_NS, one writer compares the file it
 * writes with the one at the path: another file there (a sibling process
 * or logrotate moved ours) means reopen; the same one past the limit means
 * rotate: under flock(2) on the file, so of several processes sharing it
 * exactly one renames path.N-1 → path.N … path → path.1; the others find a
 * new file at the path and reopen. */
#include "core/log.h"

#include "core/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192
#define LOG_ID_MAX 64
#define LOG_CHECK_BYTES (64 * 1024)
#define LOG_CHECK_NS 1000000000ull

static log_level g_level = LOG_INFO;
static int g_file_fd = -1; /* the number stays; dup3 swaps the file under it */
static char g_file_path[PATH_MAX];
static int64_t g_rotate_bytes; /* 0: never rotate */
static int g_keep;
static int64_t g_check_bytes;
static pthread_mutex_t g_rotate_mu = PTHREAD_MUTEX_INITIALIZER; /* one checker at a time */
static atomic_llong g_unchecked;                                /* bytes since the last check */
static atomic_ullong g_next_check_ns;
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

int log_init(log_level level, const log_file_options *file, sm_error *err)
{
    g_level = level;
    if (!file || !file->path || !*file->path)
        return 0;
    if (strlen(file->path) + 16 > sizeof g_file_path)
        return sm_error_set(err, SM_ECONFIG, "LOG_FILE: path too long");
    if (file->max_bytes < 0 || (file->max_bytes > 0 && file->keep < 1))
        return sm_error_set(err, SM_EINVAL, "LOG_FILE: bad rotation limits");
    int fd = open(file->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return sm_error_set(err, SM_EIO, "LOG_FILE: cannot open %s: %s", file->path,
                            strerror(errno));
    snprintf(g_file_path, sizeof g_file_path, "%s", file->path);
    g_rotate_bytes = file->max_bytes;
    g_keep = file->keep;
    g_check_bytes = g_rotate_bytes > 0 && g_rotate_bytes / 8 < LOG_CHECK_BYTES ? g_rotate_bytes / 8
                                                                               : LOG_CHECK_BYTES;
    if (g_check_bytes < 1)
        g_check_bytes = 1;
    atomic_store(&g_unchecked, 0);
    atomic_store(&g_next_check_ns, clock_mono_ns() + LOG_CHECK_NS);
    g_file_fd = fd;
    return 0;
}

void log_deinit(void)
{
    if (g_file_fd >= 0)
        close(g_file_fd);
    g_file_fd = -1;
    g_file_path[0] = '\0';
}

/* Puts the file now at the path under g_file_fd. On failure the old file
 * stays in use: a line is never dropped for want of a new file. */
static void file_reopen(void)
{
    int fd = open(g_file_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return;
    (void)dup3(fd, g_file_fd, O_CLOEXEC);
    close(fd);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* path.N-1 → path.N … path.1 → path.2, path → path.1 (the oldest beyond
 * g_keep is overwritten). Only the files that exist are renamed: the
 * others write on while the lock is held. Under the flock of the file at
 * the path. */
static void file_shift(void)
{
    char from[PATH_MAX + 16], to[PATH_MAX + 16];
    int top = 1; /* the first missing path.N, or g_keep */
    for (; top < g_keep; top++) {
        snprintf(from, sizeof from, "%s.%d", g_file_path, top);
        if (access(from, F_OK) != 0)
            break;
    }
    for (int k = top - 1; k >= 1; k--) {
        snprintf(from, sizeof from, "%s.%d", g_file_path, k);
        snprintf(to, sizeof to, "%s.%d", g_file_path, k + 1);
        (void)rename(from, to);
    }
    snprintf(to, sizeof to, "%s.1", g_file_path);
    (void)rename(g_file_path, to);
}

/* Under g_rotate_mu: follow a rotation done elsewhere, or rotate. */
static void file_check(void)
{
    struct stat mine, there;
    if (fstat(g_file_fd, &mine) != 0)
        return;
    if (stat(g_file_path, &there) != 0 || !same_file(&mine, &there)) {
        file_reopen();
        return;
    }
    if (g_rotate_bytes <= 0 || mine.st_size < g_rotate_bytes)
        return;
    /* The lock is the file's, so it excludes the other processes writing
     * it; whoever loses the race finds a new file at the path next time. */
    int lock_fd = dup(g_file_fd);
    if (lock_fd < 0)
        return;
    if (flock(lock_fd, LOCK_EX | LOCK_NB) == 0) {
        if (stat(g_file_path, &there) == 0 && same_file(&mine, &there))
            file_shift();
        file_reopen();
    }
    close(lock_fd); /* the last reference to the old file: the lock goes */
}

/* Before each write to the file: check now and then (see the top). */
static void file_maybe_check(size_t n)
{
    uint64_t now = clock_mono_ns();
    long long unchecked = atomic_fetch_add(&g_unchecked, (long long)n);
    if (unchecked < g_check_bytes && now < atomic_load(&g_next_check_ns))
        return;
    if (pthread_mutex_trylock(&g_rotate_mu) != 0)
        return; /* another thread is checking */
    atomic_store(&g_unchecked, 0);
    atomic_store(&g_next_check_ns, now + LOG_CHECK_NS);
    file_check();
    pthread_mutex_unlock(&g_rotate_mu);
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
    if (g_file_fd >= 0) {
        file_maybe_check(n);
        write_all(g_file_fd, out, n);
    }
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
