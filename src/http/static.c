/* static.c — static files (the dashboard's assets) served from memory.
 *
 * Decision: every file under the static directory is read once, at server
 * start-up, into a sorted table together with its gzip variant (for the
 * compressible types, when it is smaller) and its ETag (a BLAKE2b hash of
 * the content). Serving is then a binary search and a pointer: no file I/O
 * on the event loop, so the route is safe inline, and no path the client
 * sends ever reaches the file system — traversal is impossible by
 * construction. The client's path is still rejected outright when it holds
 * "..", a backslash or an empty segment, and files whose real path leaves
 * the root (symbolic links) are never loaded. The cost: files changed after
 * start-up are served as they were until a restart (deploys restart), and
 * the table is bounded (STATIC_FILE_MAX per file, STATIC_TOTAL_MAX in all,
 * STATIC_FILES_MAX files); what does not fit is skipped with a warning. */
#include "http/http_internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/log.h"

#define STATIC_FILE_MAX (8u << 20)
#define STATIC_TOTAL_MAX (128u << 20)
#define STATIC_FILES_MAX 4096
#define STATIC_DEPTH_MAX 16
#define STATIC_GZIP_MIN 256

typedef struct static_file {
    char *rel; /* "css/app.css" */
    const char *type;
    const char *cache_control;
    unsigned char *data;
    size_t len;
    unsigned char *gz; /* NULL when not worth it */
    size_t gz_len;
    char etag[24];    /* "\"<16 hex>\"" */
    char etag_gz[28]; /* "\"<16 hex>-gz\"" */
} static_file;

struct http_static {
    static_file *files;
    size_t count, cap;
    size_t total;
    char root[PATH_MAX];
};

static const struct {
    const char *ext;
    const char *type;
    bool compress;
} TYPES[] = {
    {"html", "text/html; charset=utf-8", true},
    {"css", "text/css; charset=utf-8", true},
    {"js", "text/javascript; charset=utf-8", true},
    {"json", "application/json", true},
    {"svg", "image/svg+xml", true},
    {"png", "image/png", false},
    {"ico", "image/x-icon", false},
    {"txt", "text/plain; charset=utf-8", true},
    {"woff2", "font/woff2", false},
    {"map", "application/json", true},
};

static const char *type_of(const char *name, bool *compress)
{
    const char *dot = strrchr(name, '.');
    *compress = false;
    if (dot) {
        for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
            if (strcasecmp(dot + 1, TYPES[i].ext) == 0) {
                *compress = TYPES[i].compress;
                return TYPES[i].type;
            }
        }
    }
    return "application/octet-stream";
}

static int gzip_buf(const unsigned char *in, size_t len, unsigned char **out, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return SM_ENOMEM;
    size_t cap = deflateBound(&z, len);
    unsigned char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return SM_ENOMEM;
    }
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return SM_EIO;
    }
    *out = buf;
    return 0;
}

static int read_file(const char *path, size_t size, unsigned char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return SM_EIO;
    unsigned char *buf = malloc(size ? size : 1);
    size_t n = buf ? fread(buf, 1, size, f) : 0;
    fclose(f);
    if (!buf || n != size) {
        free(buf);
        return buf ? SM_EIO : SM_ENOMEM;
    }
    *out = buf;
    return 0;
}

static int add_file(http_static *st, const char *path, const char *rel, size_t size)
{
    if (st->count >= STATIC_FILES_MAX || size > STATIC_FILE_MAX ||
        st->total + size > STATIC_TOTAL_MAX) {
        log_warning("static: skipping %s (over the in-memory bounds)", path);
        return 0;
    }
    char real[PATH_MAX];
    size_t rootlen = strlen(st->root);
    if (!realpath(path, real) || strncmp(real, st->root, rootlen) != 0 || real[rootlen] != '/') {
        log_warning("static: skipping %s (outside the static root)", path);
        return 0;
    }
    if (st->count == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 64;
        static_file *grown = realloc(st->files, cap * sizeof *grown);
        if (!grown)
            return SM_ENOMEM;
        st->files = grown;
        st->cap = cap;
    }
    static_file *f = &st->files[st->count];
    memset(f, 0, sizeof *f);
    int rc = read_file(path, size, &f->data);
    if (rc < 0)
        return rc == SM_EIO ? 0 : rc; /* vanished or unreadable: skip */
    f->len = size;
    f->rel = strdup(rel);
    if (!f->rel) {
        free(f->data);
        return SM_ENOMEM;
    }
    bool compress;
    f->type = type_of(rel, &compress);
    f->cache_control = strncmp(f->type, "text/html", 9) == 0 ? "no-cache" : "public, max-age=3600";
    unsigned char hash[8];
    char hex[17];
    crypto_generichash(hash, sizeof hash, f->data, size, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    snprintf(f->etag, sizeof f->etag, "\"%s\"", hex);
    snprintf(f->etag_gz, sizeof f->etag_gz, "\"%s-gz\"", hex);
    if (compress && size >= STATIC_GZIP_MIN && gzip_buf(f->data, size, &f->gz, &f->gz_len) == 0 &&
        f->gz_len >= size) {
        free(f->gz); /* not worth it */
        f->gz = NULL;
    }
    st->total += size + f->gz_len;
    st->count++;
    return 0;
}

static int walk_dir(http_static *st, const char *dir, const char *rel, int depth)
{
    if (depth > STATIC_DEPTH_MAX)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue; /* ".", "..", and hidden files */
        char path[PATH_MAX], sub[PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path ||
            (size_t)snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
                sizeof sub)
            continue;
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode))
            rc = walk_dir(st, path, sub, depth + 1);
        else if (S_ISREG(sb.st_mode))
            rc = add_file(st, path, sub, (size_t)sb.st_size);
    }
    closedir(d);
    return rc;
}

static int file_cmp(const void *a, const void *b)
{
    return strcmp(((const static_file *)a)->rel, ((const static_file *)b)->rel);
}

void http_static_free(http_static *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->count; i++) {
        free(st->files[i].rel);
        free(st->files[i].data);
        free(st->files[i].gz);
    }
    free(st->files);
    free(st);
}

int http_static_load(const char *dir, http_static **out, sm_error *err)
{
    *out = NULL;
    http_static *st = calloc(1, sizeof *st);
    if (!st)
        return sm_error_set(err, SM_ENOMEM, "static: out of memory");
    if (!realpath(dir, st->root)) {
        free(st);
        return sm_error_set(err, SM_EIO, "static: %s: %s", dir, strerror(errno));
    }
    int rc = walk_dir(st, st->root, "", 0);
    if (rc < 0) {
        http_static_free(st);
        return sm_error_set(err, rc, "static: out of memory loading %s", dir);
    }
    if (st->count)
        qsort(st->files, st->count, sizeof *st->files, file_cmp);
    *out = st;
    return 0;
}

/* True when the client's path could only be a trick. */
static bool path_suspicious(const char *rel)
{
    if (rel[0] == '/' || strchr(rel, '\\') || strstr(rel, "//"))
        return true;
    for (const char *p = rel; (p = strstr(p, "..")); p += 2) {
        bool starts = p == rel || p[-1] == '/';
        bool ends = p[2] == '\0' || p[2] == '/';
        if (starts && ends)
            return true;
    }
    return false;
}

/* Does an Accept-Encoding value allow gzip? ("gzip;q=0" does not.) */
static bool accepts_gzip(const char *ae)
{
    while (ae && *ae) {
        ae += strspn(ae, " \t,");
        size_t tok = strcspn(ae, " \t;,");
        bool match = (tok == 4 && strncasecmp(ae, "gzip", 4) == 0) || (tok == 1 && *ae == '*');
        const char *end = ae + strcspn(ae, ",");
        if (match) {
            const char *q = strstr(ae, "q=");
            if (q && q < end)
                return strtod(q + 2, NULL) > 0;
            return true;
        }
        ae = end;
    }
    return false;
}

/* Does If-None-Match name one of the file's representations? */
static bool etag_matches(const char *inm, const static_file *f)
{
    if (strcmp(inm, "*") == 0)
        return true;
    const char *p = inm;
    while (*p) {
        p += strspn(p, " \t,");
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        size_t len = strcspn(p, " \t,");
        if ((len == strlen(f->etag) && strncmp(p, f->etag, len) == 0) ||
            (len == strlen(f->etag_gz) && strncmp(p, f->etag_gz, len) == 0))
            return true;
        p += len;
    }
    return false;
}

void http_static_serve(const http_static *st, const char *rel, http_request *req,
                       http_response *res)
{
    if (path_suspicious(rel)) {
        http_response_error(res, 404, "not_found", NULL, "no such file");
        return;
    }
    char key[PATH_MAX];
    size_t len = strlen(rel);
    if (len == 0 || rel[len - 1] == '/') {
        if ((size_t)snprintf(key, sizeof key, "%sindex.html", rel) >= sizeof key) {
            http_response_error(res, 404, "not_found", NULL, "no such file");
            return;
        }
        rel = key;
    }
    static_file probe = {.rel = (char *)rel};
    const static_file *f =
        st->count ? bsearch(&probe, st->files, st->count, sizeof *st->files, file_cmp) : NULL;
    if (!f) {
        http_response_error(res, 404, "not_found", NULL, "no such file");
        return;
    }
    bool gz = f->gz && accepts_gzip(http_request_header(req, "accept-encoding"));
    http_response_add_header(res, "ETag", gz ? f->etag_gz : f->etag);
    http_response_add_header(res, "Cache-Control", f->cache_control);
    if (f->gz)
        http_response_add_header(res, "Vary", "Accept-Encoding");
    const char *inm = http_request_header(req, "if-none-match");
    if (inm && etag_matches(inm, f)) {
        http_response_set_status(res, 304);
        return;
    }
    if (gz)
        http_response_add_header(res, "Content-Encoding", "gzip");
    /* The table outlives every request: point at it, no copy. */
    res->body = (const char *)(gz ? f->gz : f->data);
    res->body_len = gz ? f->gz_len : f->len;
    res->content_type = f->type;
}
