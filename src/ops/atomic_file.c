/* atomic_file.c — whole-file replacement by write, fsync, rename; see
 * atomic_file.h. mkstemp() gives each writer its own temporary name, so two
 * workers writing the same report at once never mix their bytes: the last
 * rename wins, and both wrote the same content anyway (tasks are
 * idempotent). */
#include "ops/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int atomic_file_mkdirs(const char *dir, sm_error *err)
{
    char path[PATH_MAX];
    size_t n = dir ? strlen(dir) : 0;
    if (n == 0 || n >= sizeof path)
        return sm_error_set(err, SM_EINVAL, "bad folder path");
    memcpy(path, dir, n + 1);
    /* Each prefix ending before a '/', then the whole path. */
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0750) < 0 && errno != EEXIST) {
            int e = errno;
            path[i] = saved;
            return sm_error_set(err, SM_EIO, "mkdir %s: %s", dir, strerror(e));
        }
        path[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return sm_error_set(err, SM_EIO, "%s is not a folder", dir);
    return 0;
}

static bool name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n > 0 && n <= ATOMIC_FILE_NAME_MAX && name[0] != '.' && !strchr(name, '/');
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int atomic_file_write(const char *dir, const char *name, const void *data, size_t len,
                      sm_error *err)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    int rc, fd = -1;
    if (!name_valid(name))
        return sm_error_set(err, SM_EINVAL, "bad file name");
    if ((rc = atomic_file_mkdirs(dir, err)) < 0)
        return rc;
    if (snprintf(final, sizeof final, "%s/%s", dir, name) >= (int)sizeof final ||
        snprintf(tmp, sizeof tmp, "%s/" ATOMIC_FILE_TMP_PREFIX "%s.XXXXXX", dir, name) >=
            (int)sizeof tmp)
        return sm_error_set(err, SM_EINVAL, "path too long");

    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return sm_error_set(err, SM_EIO, "create %s: %s", tmp, strerror(errno));
    if (fchmod(fd, 0640) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        rc = sm_error_set(err, SM_EIO, "write %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = sm_error_set(err, SM_EIO, "close %s: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, final) < 0) {
        rc = sm_error_set(err, SM_EIO, "rename to %s: %s", final, strerror(errno));
        goto fail;
    }
    /* Make the rename durable: fsync the folder that holds the entry. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return sm_error_set(err, SM_EIO, "open %s: %s", dir, strerror(errno));
    rc = fsync(dfd) < 0 ? sm_error_set(err, SM_EIO, "fsync %s: %s", dir, strerror(errno)) : 0;
    close(dfd);
    return rc;

fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}
