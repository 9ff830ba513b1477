/* artefact.c — build folders, manifests, the atomic switch, mappings.
 *
 * The switch is the classic symlink swap: create "current.<random>" →
 * version, then rename(2) it over "current". rename is atomic on POSIX, so
 * readlink("current") always answers a complete version. Every step that
 * must survive a crash (file contents, the manifest, the folder rename, the
 * symlink rename) is followed by an fsync of the file or of its directory.
 *
 * Checksums are streamed through libsodium's SHA-256 in 1 MiB reads, so a
 * file's size never decides the memory used. */
#include "ml/artefact.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

#define MANIFEST "manifest.json"
#define CURRENT "current"
#define MANIFEST_FILES_MAX 256

int artefact_path(const char *dir, const char *name, char *out, sm_error *err)
{
    int n = snprintf(out, ARTEFACT_PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= ARTEFACT_PATH_MAX)
        return sm_error_set(err, SM_ETOOLARGE, "path too long: %s/%s", dir, name);
    return 0;
}

static int mkdir_p(const char *path)
{
    char tmp[ARTEFACT_PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof tmp)
        return -1;
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int artefact_build_begin(const char *data_dir, artefact_build *b, sm_error *err)
{
    memset(b, 0, sizeof *b);
    int n = snprintf(b->root, sizeof b->root, "%s/ml", data_dir);
    if (n < 0 || (size_t)n >= sizeof b->root - 64)
        return sm_error_set(err, SM_ETOOLARGE, "SMARTMARKET_DATA_DIR too long");
    if (mkdir_p(b->root) != 0)
        return sm_error_set(err, SM_EIO, "%s: %s", b->root, strerror(errno));
    /* Names sort in build order (prune keeps the newest by name): UTC time
     * to the millisecond, and never at or before the active version's. */
    char cur_dir[ARTEFACT_PATH_MAX], cur[ARTEFACT_VERSION_MAX] = "";
    (void)artefact_current(data_dir, cur_dir, cur, NULL);
    for (int tries = 0;; tries++) {
        b->started_ms = clock_now_ms();
        time_t secs = (time_t)(b->started_ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
        snprintf(b->version, sizeof b->version, "%s%03dZ-%04x", stamp, (int)(b->started_ms % 1000),
                 (unsigned)(randombytes_random() & 0xffff));
        if (strcmp(b->version, cur) > 0 || tries == 2000)
            break;
        usleep(1000);
    }
    n = snprintf(b->dir, sizeof b->dir, "%s/.build-%s", b->root, b->version);
    if (n < 0 || (size_t)n >= sizeof b->dir)
        return sm_error_set(err, SM_ETOOLARGE, "SMARTMARKET_DATA_DIR too long");
    if (mkdir(b->dir, 0755) != 0)
        return sm_error_set(err, SM_EIO, "%s: %s", b->dir, strerror(errno));
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tree(const char *path)
{
    (void)nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void artefact_build_abort(artefact_build *b)
{
    if (b->dir[0])
        remove_tree(b->dir);
    b->dir[0] = '\0';
}

/* SHA-256 of a file as 64 hex digits; its size through *size. */
static int sha256_file(const char *path, char hex[65], size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    size_t total = 0;
    unsigned char *buf = malloc(1 << 20);
    ssize_t n = -1;
    while (buf && (n = read(fd, buf, 1 << 20)) > 0) {
        crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
        total += (size_t)n;
    }
    free(buf);
    close(fd);
    if (n != 0)
        return -1;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
    *size = total;
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keeps the ARTEFACT_KEEP newest versions and the active one. */
static void prune(const char *root, const char *active)
{
    DIR *d = opendir(root);
    if (!d)
        return;
    char *names[512];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, CURRENT) == 0 ||
            strncmp(e->d_name, CURRENT ".", sizeof CURRENT) == 0)
            continue;
        if (!(names[n] = strdup(e->d_name)))
            break;
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 0; i < n; i++) {
        char path[ARTEFACT_PATH_MAX];
        if (i + ARTEFACT_KEEP < n && strcmp(names[i], active) != 0 &&
            artefact_path(root, names[i], path, NULL) == 0)
            remove_tree(path);
        free(names[i]);
    }
}

static int write_manifest(artefact_build *b, json_t *counts, json_t *parameters, sm_error *err)
{
    json_t *files = json_object();
    /* "o" steals: pass our own references, new or increased */
    json_t *c = counts ? json_incref(counts) : json_object();
    json_t *p = parameters ? json_incref(parameters) : json_object();
    json_t *m =
        json_pack("{sssisIsIsoso}", "version", b->version, "format", 1, "built_at_ms",
                  (json_int_t)b->started_ms, "build_ms",
                  (json_int_t)(clock_now_ms() - b->started_ms), "counts", c, "parameters", p);
    int rc = SM_ENOMEM;
    DIR *d = NULL;
    if (!files || !m)
        goto fail;
    rc = SM_EIO;
    if (!(d = opendir(b->dir))) {
        sm_error_fill(err, rc, "%s: %s", b->dir, strerror(errno));
        goto fail;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[ARTEFACT_PATH_MAX], hex[65];
        size_t size;
        struct stat st;
        if (e->d_name[0] == '.' || strcmp(e->d_name, MANIFEST) == 0 ||
            artefact_path(b->dir, e->d_name, path, err) != 0 || stat(path, &st) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (sha256_file(path, hex, &size) != 0 || fsync_path(path) != 0) {
            sm_error_fill(err, rc, "%s: cannot read back", path);
            goto fail;
        }
        json_object_set_new(files, e->d_name,
                            json_pack("{sIss}", "bytes", (json_int_t)size, "sha256", hex));
    }
    json_object_set(m, "files", files);
    char path[ARTEFACT_PATH_MAX];
    if (artefact_path(b->dir, MANIFEST, path, err) != 0 ||
        json_dump_file(m, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0 || fsync_path(path) != 0) {
        sm_error_fill(err, rc, "%s: cannot write", path);
        goto fail;
    }
    rc = 0;
fail:
    if (rc == SM_ENOMEM)
        sm_error_fill(err, rc, "out of memory writing the manifest");
    if (d)
        closedir(d);
    json_decref(files);
    json_decref(m);
    return rc;
}

int artefact_build_commit(artefact_build *b, json_t *counts, json_t *parameters, sm_error *err)
{
    int rc = write_manifest(b, counts, parameters, err);
    if (rc)
        return rc;
    char final[ARTEFACT_PATH_MAX], link_tmp[ARTEFACT_PATH_MAX], link[ARTEFACT_PATH_MAX];
    if (artefact_path(b->root, b->version, final, err) ||
        artefact_path(b->root, CURRENT, link, err))
        return SM_ETOOLARGE;
    int n = snprintf(link_tmp, sizeof link_tmp, "%s/" CURRENT ".%s", b->root, b->version);
    if (n < 0 || (size_t)n >= sizeof link_tmp)
        return sm_error_set(err, SM_ETOOLARGE, "path too long");
    if (fsync_path(b->dir) != 0 || rename(b->dir, final) != 0)
        return sm_error_set(err, SM_EIO, "%s: %s", final, strerror(errno));
    b->dir[0] = '\0';
    (void)unlink(link_tmp);
    if (symlink(b->version, link_tmp) != 0 || rename(link_tmp, link) != 0) {
        (void)unlink(link_tmp);
        return sm_error_set(err, SM_EIO, "%s: %s", link, strerror(errno));
    }
    if (fsync_path(b->root) != 0)
        return sm_error_set(err, SM_EIO, "%s: %s", b->root, strerror(errno));
    prune(b->root, b->version);
    return 0;
}

int artefact_current(const char *data_dir, char *out, char *version, sm_error *err)
{
    char link[ARTEFACT_PATH_MAX], target[ARTEFACT_VERSION_MAX];
    int n = snprintf(link, sizeof link, "%s/ml/" CURRENT, data_dir);
    if (n < 0 || n >= (int)sizeof link)
        return sm_error_set(err, SM_ETOOLARGE, "SMARTMARKET_DATA_DIR too long");
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len <= 0)
        return sm_error_set(err, SM_ENOTFOUND, "no ML index built yet");
    target[len] = '\0';
    if (strchr(target, '/') || target[0] == '.')
        return sm_error_set(err, SM_EINVAL, "%s: unexpected target %s", link, target);
    n = snprintf(out, ARTEFACT_PATH_MAX, "%s/ml/%s", data_dir, target);
    if (n < 0 || n >= ARTEFACT_PATH_MAX)
        return sm_error_set(err, SM_ETOOLARGE, "SMARTMARKET_DATA_DIR too long");
    memcpy(version, target, (size_t)len + 1);
    return 0;
}

int artefact_verify(const char *dir, sm_error *err)
{
    char path[ARTEFACT_PATH_MAX];
    if (artefact_path(dir, MANIFEST, path, err))
        return SM_ETOOLARGE;
    json_error_t je;
    json_t *m = json_load_file(path, 0, &je);
    json_t *files = json_object_get(m, "files");
    int rc = 0;
    if (!json_is_object(files) || json_object_size(files) > MANIFEST_FILES_MAX) {
        rc = sm_error_set(err, SM_EINVAL, "%s: unreadable manifest", path);
        goto done;
    }
    const char *name;
    json_t *f;
    json_object_foreach(files, name, f)
    {
        char hex[65];
        size_t size = 0;
        const char *want = json_string_value(json_object_get(f, "sha256"));
        json_int_t bytes = json_integer_value(json_object_get(f, "bytes"));
        if (strchr(name, '/') || name[0] == '.' || artefact_path(dir, name, path, err) ||
            sha256_file(path, hex, &size) != 0 || !want || strcmp(want, hex) != 0 ||
            (json_int_t)size != bytes) {
            rc = sm_error_set(err, SM_EINVAL, "%s/%s: does not match the manifest", dir, name);
            goto done;
        }
    }
done:
    json_decref(m);
    return rc;
}

int artefact_map_file(const char *dir, const char *name, artefact_map *m, sm_error *err)
{
    char path[ARTEFACT_PATH_MAX];
    m->data = NULL;
    m->len = 0;
    if (artefact_path(dir, name, path, err))
        return SM_ETOOLARGE;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return sm_error_set(err, SM_EIO, "%s: %s", path, strerror(errno));
    }
    if ((size_t)st.st_size > ARTEFACT_FILE_MAX) {
        close(fd);
        return sm_error_set(err, SM_EIO, "%s: too large", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return sm_error_set(err, SM_EIO, "%s: mmap: %s", path, strerror(errno));
        }
        m->data = p;
        m->len = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void artefact_unmap(artefact_map *m)
{
    if (m->data)
        munmap(m->data, m->len);
    m->data = NULL;
    m->len = 0;
}
