/* embed.c — the embeddings client, the build-time cache and the query
 * cache (see embed.h).
 *
 * One request is one libcurl easy handle: POST of a jansson-built body,
 * the answer collected into a buffer that refuses to grow past
 * EMBED_RESPONSE_MAX (the write callback returns 0, curl aborts), then
 * parsed and checked as a whole before any vector is used.
 *
 * The build streams: products are taken in pages in the document store's
 * order, texts already in the cache are written straight into the vectors
 * file, the others are queued and sent EMBEDDINGS_BATCH at a time, each
 * answer written at its rows (pwrite, the file's row offsets are fixed by
 * the header), so memory is one batch plus one key per product whatever
 * the catalogue's size. The cache file (sorted keys, then vectors) is
 * mapped read-only and searched by bisection; the new one is written from
 * the finished vectors file.
 *
 * Shared state: the query LRU and the pause deadline, under g_query_lock
 * (held for lookups and inserts, never during a request). */
#include "ml/embed.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "ml/artefact.h"
#include "ml/vectors.h"
#include "ops/curl_global.h"

#define KEY_BYTES 32
#define CACHE_MAGIC "SMEMBC1"
#define BUILD_PAGE 1000
#define RETRY_AFTER_MAX_MS 10000

/* ---- configuration ---- */

int embed_endpoint(const char *base, char *out, size_t cap)
{
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    static const char tail[] = "/embeddings";
    bool full = len >= sizeof tail - 1 &&
                memcmp(base + len - (sizeof tail - 1), tail, sizeof tail - 1) == 0;
    int n = snprintf(out, cap, "%.*s%s", (int)len, base, full ? "" : "/v1/embeddings");
    return n < 0 || (size_t)n >= cap ? SM_ETOOLARGE : 0;
}

int embed_config_load(embed_config *out)
{
    const sm_config *cfg = config_get();
    memset(out, 0, sizeof *out);
    if (!cfg || !cfg->embeddings_url[0] ||
        embed_endpoint(cfg->embeddings_url, out->url, sizeof out->url) != 0)
        return 0;
    snprintf(out->model, sizeof out->model, "%s", cfg->embeddings_model);
    snprintf(out->api_key, sizeof out->api_key, "%s", cfg->embeddings_api_key);
    out->timeout_ms = cfg->embeddings_timeout_ms;
    out->batch = cfg->embeddings_batch;
    return 1;
}

/* ---- one request ---- */

typedef struct body {
    char *data;
    size_t len, cap;
    bool too_large;
} body;

static size_t write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
    body *b = arg;
    size_t n = size * nmemb;
    if (n > EMBED_RESPONSE_MAX - b->len) {
        b->too_large = true;
        return 0; /* curl aborts the transfer */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* A JSON string of `s`, with invalid UTF-8 bytes replaced by spaces. */
static json_t *utf8_string(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *c = copy; *c; c++)
        if ((unsigned char)*c >= 0x80)
            *c = ' ';
    j = json_string(copy);
    free(copy);
    return j;
}

static char *request_body(const embed_config *c, const char *const *texts, size_t n)
{
    json_t *input = json_array();
    for (size_t i = 0; input && i < n; i++)
        if (json_array_append_new(input, utf8_string(texts[i])) != 0) {
            json_decref(input);
            input = NULL;
        }
    json_t *req = input ? json_pack("{ssso}", "model", c->model, "input", input) : NULL;
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    return text;
}

/* Checks a 200 answer and fills out (n × *dim, unit rows). */
static int parse_answer(const body *b, size_t n, float **out, uint32_t *dim, sm_error *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(b->data ? b->data : "", b->len, 0, &jerr);
    json_t *data = json_object_get(root, "data");
    float *v = NULL;
    uint8_t *seen = calloc(n, 1);
    int rc = SM_EINVAL;
    uint32_t d = 0;
    if (!seen) {
        rc = sm_error_set(err, SM_ENOMEM, "out of memory");
        goto done;
    }
    if (!root) {
        sm_error_fill(err, rc, "embeddings: answer is not JSON (%s)", jerr.text);
        goto done;
    }
    if (!json_is_array(data) || json_array_size(data) != n) {
        sm_error_fill(err, rc, "embeddings: expected %zu vectors in \"data\", got %zu", n,
                      json_is_array(data) ? json_array_size(data) : 0);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(data, i), *emb = json_object_get(item, "embedding");
        json_t *index = json_object_get(item, "index");
        size_t at = i;
        if (index) { /* the answer may come in any order: "index" places it */
            if (!json_is_integer(index) || json_integer_value(index) < 0 ||
                (size_t)json_integer_value(index) >= n) {
                sm_error_fill(err, rc, "embeddings: item %zu has a bad \"index\"", i);
                goto done;
            }
            at = (size_t)json_integer_value(index);
        }
        if (seen[at]) {
            sm_error_fill(err, rc, "embeddings: index %zu answered twice", at);
            goto done;
        }
        seen[at] = 1;
        if (!json_is_array(emb) || json_array_size(emb) == 0) {
            sm_error_fill(err, rc, "embeddings: item %zu has no \"embedding\" array", i);
            goto done;
        }
        size_t len = json_array_size(emb);
        if (!v) {
            if (len > EMBED_DIM_MAX) {
                sm_error_fill(err, rc, "embeddings: dimension %zu is over %d", len, EMBED_DIM_MAX);
                goto done;
            }
            d = (uint32_t)len;
            if (!(v = malloc(sizeof *v * n * d))) {
                rc = sm_error_set(err, SM_ENOMEM, "out of memory");
                goto done;
            }
        }
        if (len != d) {
            sm_error_fill(err, rc, "embeddings: item %zu has dimension %zu, expected %u", i, len,
                          d);
            goto done;
        }
        float *row = v + at * d;
        double sq = 0;
        for (uint32_t k = 0; k < d; k++) {
            json_t *x = json_array_get(emb, k);
            double f = json_number_value(x);
            if (!json_is_number(x) || !isfinite(f) || fabs(f) > 1e30) {
                sm_error_fill(err, rc, "embeddings: item %zu has a non-finite number", i);
                goto done;
            }
            row[k] = (float)f;
            sq += f * f;
        }
        if (!(sq > 0)) {
            sm_error_fill(err, rc, "embeddings: item %zu is a zero vector", i);
            goto done;
        }
        float inv = (float)(1.0 / sqrt(sq));
        for (uint32_t k = 0; k < d; k++)
            row[k] *= inv;
    }
    *out = v;
    *dim = d;
    v = NULL;
    rc = 0;
done:
    free(v);
    free(seen);
    json_decref(root);
    return rc;
}

/* The service's own error message, when the body carries one. */
static void service_message(const body *b, char *out, size_t cap)
{
    json_t *root = b->data ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    json_t *e = json_object_get(root, "error");
    const char *m =
        json_is_string(e) ? json_string_value(e) : json_string_value(json_object_get(e, "message"));
    snprintf(out, cap, "%.120s", m ? m : "");
    json_decref(root);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int request_batch(const embed_config *c, const char *const *texts, size_t n, int timeout_ms,
                         int retries, float **out, uint32_t *dim, sm_error *err)
{
    if (n == 0 || n > EMBED_BATCH_MAX)
        return sm_error_set(err, SM_EINVAL, "embeddings: %zu texts in one request", n);
    int rc = curl_global_once(err);
    if (rc)
        return rc;
    char *payload = request_body(c, texts, n), auth[600];
    struct curl_slist *headers = NULL;
    if (!payload || !(headers = curl_slist_append(NULL, "Content-Type: application/json")) ||
        !(headers = curl_slist_append(headers, "Accept: application/json"))) {
        free(payload);
        curl_slist_free_all(headers);
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    }
    if (c->api_key[0]) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->api_key);
        struct curl_slist *h = curl_slist_append(headers, auth);
        if (!h) {
            free(payload);
            curl_slist_free_all(headers);
            return sm_error_set(err, SM_ENOMEM, "out of memory");
        }
        headers = h;
    }
    long backoff = EMBED_BACKOFF_MS;
    for (int attempt = 0;; attempt++) {
        char errbuf[CURL_ERROR_SIZE] = "";
        body b = {0};
        long status = 0;
        curl_off_t retry_after = 0;
        CURL *h = curl_easy_init();
        if (!h) {
            rc = sm_error_set(err, SM_ENOMEM, "out of memory");
            break;
        }
        bool ok = curl_easy_setopt(h, CURLOPT_URL, c->url) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)EMBED_RESPONSE_MAX) ==
                      CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b) == CURLE_OK;
        CURLcode cc = ok ? curl_easy_perform(h) : CURLE_FAILED_INIT;
        if (cc == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &retry_after);
        }
        curl_easy_cleanup(h);
        bool retry = false;
        if (b.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
            rc = sm_error_set(err, SM_ETOOLARGE, "embeddings: answer over %zu bytes",
                              EMBED_RESPONSE_MAX);
        } else if (cc == CURLE_OPERATION_TIMEDOUT) {
            rc = sm_error_set(err, SM_ETIMEOUT, "embeddings: no answer within %d ms", timeout_ms);
            retry = true;
        } else if (cc != CURLE_OK) {
            rc = sm_error_set(err, SM_EUNAVAILABLE, "embeddings: %s",
                              errbuf[0] ? errbuf : curl_easy_strerror(cc));
            retry = true;
        } else if (status != 200) {
            char msg[128];
            service_message(&b, msg, sizeof msg);
            rc = sm_error_set(err, SM_EUNAVAILABLE, "embeddings: HTTP %ld%s%s", status,
                              msg[0] ? ": " : "", msg);
            retry = status == 429 || status >= 500;
        } else {
            rc = parse_answer(&b, n, out, dim, err);
        }
        free(b.data);
        if (!retry || attempt >= retries)
            break;
        long wait = backoff;
        if (retry_after > 0)
            wait = retry_after * 1000 > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS
                                                           : (long)retry_after * 1000;
        log_warning("embeddings: attempt %d failed (%s), retrying in %ld ms", attempt + 1,
                    err ? err->message : "", wait);
        sleep_ms(wait);
        backoff *= 2;
    }
    sodium_memzero(auth, sizeof auth);
    curl_slist_free_all(headers);
    free(payload);
    return rc;
}

int embed_texts(const embed_config *c, const char *const *texts, size_t n, int timeout_ms,
                float **out, uint32_t *dim, sm_error *err)
{
    return request_batch(c, texts, n, timeout_ms, EMBED_RETRIES, out, dim, err);
}

/* ---- the build cache: header, sorted keys, vectors ---- */

typedef struct cache_header {
    char magic[8];
    uint32_t dim, count;
    char model[EMBED_MODEL_MAX];
} cache_header;

typedef struct cache_view {
    void *map;
    size_t len;
    uint32_t dim, count;
    const uint8_t *keys;
    const float *vecs;
} cache_view;

static void cache_close(cache_view *v)
{
    if (v->map)
        munmap(v->map, v->len);
    memset(v, 0, sizeof *v);
}

/* Maps the cache when present and well-formed; anything else is an empty
 * cache (a damaged file costs one full re-embedding, never a failure). */
static void cache_open(const char *path, cache_view *v)
{
    memset(v, 0, sizeof *v);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(cache_header)) {
        v->len = (size_t)st.st_size;
        v->map = mmap(NULL, v->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (v->map == MAP_FAILED)
            v->map = NULL;
    }
    close(fd);
    const cache_header *h = v->map;
    if (!h || memcmp(h->magic, CACHE_MAGIC, 8) != 0 || h->dim == 0 || h->dim > EMBED_DIM_MAX ||
        v->len != sizeof *h + (uint64_t)h->count * (KEY_BYTES + sizeof(float) * h->dim)) {
        if (h)
            log_warning("embeddings: %s is not a cache file, ignored", path);
        cache_close(v);
        return;
    }
    v->dim = h->dim;
    v->count = h->count;
    v->keys = (const uint8_t *)(h + 1);
    v->vecs = (const float *)(v->keys + (size_t)h->count * KEY_BYTES);
}

static const float *cache_find(const cache_view *v, const uint8_t *key)
{
    uint32_t lo = 0, hi = v->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = memcmp(v->keys + (size_t)mid * KEY_BYTES, key, KEY_BYTES);
        if (c == 0)
            return v->vecs + (size_t)mid * v->dim;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void text_key(const char *model, const char *text, uint8_t *key)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)model, strlen(model) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)text, strlen(text));
    crypto_hash_sha256_final(&st, key);
}

static int cmp_key_index(const void *a, const void *b, void *keys)
{
    const uint8_t *k = keys;
    return memcmp(k + (size_t) * (const uint32_t *)a * KEY_BYTES,
                  k + (size_t) * (const uint32_t *)b * KEY_BYTES, KEY_BYTES);
}

/* Writes the cache of the `n` rows of the finished vectors file `vfd`
 * (rows at `data_off`, `dim` floats) keyed by keys[]: temporary file, then
 * rename over the old one. */
static int cache_write(const char *path, const char *model, const uint8_t *keys, uint32_t n,
                       int vfd, off_t data_off, uint32_t dim, sm_error *err)
{
    char tmp[ARTEFACT_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    uint32_t *order = malloc(sizeof *order * (n ? n : 1));
    float *row = malloc(sizeof *row * (dim ? dim : 1));
    FILE *f = NULL;
    int rc = SM_ENOMEM;
    if (!order || !row)
        goto done;
    for (uint32_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, cmp_key_index, (void *)keys);
    uint32_t u = 0; /* distinct keys, in place */
    for (uint32_t i = 0; i < n; i++)
        if (u == 0 || memcmp(keys + (size_t)order[i] * KEY_BYTES,
                             keys + (size_t)order[u - 1] * KEY_BYTES, KEY_BYTES) != 0)
            order[u++] = order[i];
    cache_header h = {.magic = CACHE_MAGIC, .dim = dim, .count = u};
    snprintf(h.model, sizeof h.model, "%s", model);
    rc = SM_EIO;
    if (!(f = fopen(tmp, "wb")) || fwrite(&h, sizeof h, 1, f) != 1)
        goto done;
    for (uint32_t i = 0; i < u; i++)
        if (fwrite(keys + (size_t)order[i] * KEY_BYTES, KEY_BYTES, 1, f) != 1)
            goto done;
    for (uint32_t i = 0; i < u; i++) {
        size_t bytes = sizeof *row * dim;
        if (pread(vfd, row, bytes, data_off + (off_t)((size_t)order[i] * bytes)) !=
                (ssize_t)bytes ||
            fwrite(row, bytes, 1, f) != 1)
            goto done;
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        goto done;
    int closed = fclose(f);
    f = NULL;
    if (closed != 0 || rename(tmp, path) != 0)
        goto done;
    rc = 0;
done:
    if (f)
        fclose(f);
    if (rc) {
        (void)unlink(tmp);
        sm_error_fill(err, rc, "%s: cannot write the embeddings cache", path);
    }
    free(order);
    free(row);
    return rc;
}

/* ---- the build ---- */

/* Appends `s` and a newline to out[*len], within EMBED_TEXT_MAX - 1 bytes,
 * cutting on a UTF-8 character boundary. */
static void text_append(char *out, size_t *len, const char *s)
{
    if (!s || !*s)
        return;
    if (*len > 0 && *len < EMBED_TEXT_MAX - 1)
        out[(*len)++] = '\n';
    size_t room = EMBED_TEXT_MAX - 1 - *len, n = strlen(s);
    if (n > room) {
        n = room;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) /* s[n] continues a character */
            n--;
    }
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

/* Build state: one batch of texts waiting for the service. */
typedef struct pending {
    char *text[EMBED_BATCH_MAX];
    uint32_t row[EMBED_BATCH_MAX];
    size_t n;
} pending;

typedef struct build_ctx {
    const embed_config *c;
    const docs_store *docs;
    cache_view cache;
    uint8_t *keys; /* ndocs × KEY_BYTES */
    vectors_writer *w;
    const char *path;
    uint32_t dim;
    bool dim_changed; /* the service and the cache disagree on the dimension */
    pending p;
    long long embedded, cached;
} build_ctx;

static int writer_ready(build_ctx *b, uint32_t dim, sm_error *err)
{
    if (b->w) {
        if (dim == b->dim)
            return 0;
        b->dim_changed = true;
        return sm_error_set(err, SM_EINVAL, "embeddings: dimension changed from %u to %u", b->dim,
                            dim);
    }
    b->dim = dim;
    return vectors_writer_open(b->path, b->docs->ndocs, dim, b->c->model, &b->w, err);
}

static int flush_pending(build_ctx *b, sm_error *err)
{
    if (b->p.n == 0)
        return 0;
    float *v = NULL;
    uint32_t dim = 0;
    int rc =
        embed_texts(b->c, (const char *const *)b->p.text, b->p.n, b->c->timeout_ms, &v, &dim, err);
    if (rc == 0)
        rc = writer_ready(b, dim, err);
    for (size_t i = 0; rc == 0 && i < b->p.n; i++)
        rc = vectors_writer_put(b->w, b->p.row[i], v + i * dim, err);
    b->embedded += (long long)b->p.n;
    for (size_t i = 0; i < b->p.n; i++)
        free(b->p.text[i]);
    b->p.n = 0;
    free(v);
    return rc;
}

/* Handles document `row` with text `text`: from the cache, or queued. */
static int take_row(build_ctx *b, uint32_t row, const char *text, sm_error *err)
{
    uint8_t *key = b->keys + (size_t)row * KEY_BYTES;
    text_key(b->c->model, text, key);
    const float *hit = b->cache.map ? cache_find(&b->cache, key) : NULL;
    if (hit) {
        int rc = writer_ready(b, b->cache.dim, err);
        if (rc == 0)
            rc = vectors_writer_put(b->w, row, hit, err);
        b->cached++;
        return rc;
    }
    if (!(b->p.text[b->p.n] = strdup(text)))
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    b->p.row[b->p.n++] = row;
    return b->p.n == (size_t)b->c->batch ? flush_pending(b, err) : 0;
}

static int take_doc(build_ctx *b, uint32_t row, const char *description, sm_error *err)
{
    const ml_doc *d = &b->docs->docs[row];
    char text[EMBED_TEXT_MAX];
    size_t len = 0;
    text[0] = '\0';
    text_append(text, &len, docs_str(b->docs, d->name));
    text_append(text, &len, docs_str(b->docs, d->brand));
    text_append(text, &len, docs_str(b->docs, d->category));
    text_append(text, &len, description);
    return take_row(b, row, text, err);
}

static const char DESCRIPTIONS_SQL[] = "SELECT id, COALESCE(description, '') FROM products "
                                       "WHERE active = 1 AND id > $1 ORDER BY id LIMIT $2";

/* Every document in order, merged with the descriptions read by keyset
 * pages (a product changed or gone since the store was written keeps the
 * store's fields, without a description). */
static int embed_all(db *d, build_ctx *b, sm_error *err)
{
    uint32_t row = 0, n = b->docs->ndocs;
    int64_t after = 0;
    int rc = 0;
    for (;;) {
        db_result *r = NULL;
        db_value params[2] = {DB_I(after), DB_I(BUILD_PAGE)};
        if ((rc = db_query(d, DESCRIPTIONS_SQL, params, 2, &r, err)) != 0)
            return rc;
        int rows = db_result_rows(r);
        for (int i = 0; rc == 0 && i < rows; i++) {
            int64_t id = db_result_int(r, i, 0);
            while (rc == 0 && row < n && b->docs->docs[row].id < id)
                rc = take_doc(b, row++, "", err);
            if (rc == 0 && row < n && b->docs->docs[row].id == id)
                rc = take_doc(b, row++, db_result_text(r, i, 1), err);
            after = id;
        }
        db_result_free(r);
        if (rc || rows < BUILD_PAGE)
            break;
    }
    while (rc == 0 && row < n)
        rc = take_doc(b, row++, "", err);
    if (rc == 0)
        rc = flush_pending(b, err);
    return rc;
}

int embed_build_vectors(db *d, const embed_config *c, const docs_store *docs, const char *cache_dir,
                        const char *path, json_t *info, sm_error *err)
{
    char cache_path[ARTEFACT_PATH_MAX];
    if (snprintf(cache_path, sizeof cache_path, "%s/%s", cache_dir, EMBED_CACHE_FILE) >=
        (int)sizeof cache_path)
        return sm_error_set(err, SM_ETOOLARGE, "%s: path too long", cache_dir);
    if (c->batch < 1 || c->batch > EMBED_BATCH_MAX)
        return sm_error_set(err, SM_EINVAL, "embeddings: batch %d out of [1, %d]", c->batch,
                            EMBED_BATCH_MAX);
    build_ctx b = {.c = c, .docs = docs, .path = path};
    int rc = 0;
    /* Twice at most: when the service answers another dimension than the
     * cache holds (the model behind the name changed), the cache is dropped
     * and everything is embedded again. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            cache_open(cache_path, &b.cache);
        if (!(b.keys = malloc((size_t)KEY_BYTES * (docs->ndocs ? docs->ndocs : 1))))
            rc = sm_error_set(err, SM_ENOMEM, "out of memory");
        else
            rc = embed_all(d, &b, err);
        if (rc == 0 && !b.w) /* an empty catalogue: an empty file */
            rc = vectors_writer_open(path, 0, 0, c->model, &b.w, err);
        bool redo = rc == SM_EINVAL && pass == 0 && b.cache.map && b.dim_changed;
        if (rc == 0) {
            rc = vectors_writer_finish(b.w, err);
            if (rc == 0 && docs->ndocs > 0) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                    rc = sm_error_set(err, SM_EIO, "%s: %s", path, strerror(errno));
                else {
                    sm_error cerr = {0}; /* the cache is an optimisation: warn, go on */
                    if (cache_write(cache_path, c->model, b.keys, docs->ndocs, fd,
                                    (off_t)vectors_data_offset(), b.dim, &cerr) != 0)
                        log_warning("%s", cerr.message);
                    close(fd);
                }
            }
        }
        vectors_writer_free(b.w);
        b.w = NULL;
        for (size_t i = 0; i < b.p.n; i++)
            free(b.p.text[i]);
        b.p.n = 0;
        free(b.keys);
        b.keys = NULL;
        cache_close(&b.cache);
        if (!redo)
            break;
        log_warning("%s; the cache is dropped and every text embedded again",
                    err ? err->message : "embeddings: dimension changed");
        sm_error_clear(err);
        b.embedded = b.cached = 0;
        b.dim = 0;
        b.dim_changed = false;
    }
    if (rc == 0 && info) {
        json_object_set_new(info, "embedded", json_integer(b.embedded));
        json_object_set_new(info, "cached", json_integer(b.cached));
    }
    return rc;
}

/* ---- queries: a small LRU of vectors, and a pause after a failure ---- */

typedef struct qentry {
    uint8_t key[KEY_BYTES];
    uint32_t dim;
    uint64_t used; /* LRU clock */
    float *vec;
} qentry;

static pthread_mutex_t g_query_lock = PTHREAD_MUTEX_INITIALIZER;
static qentry g_query[EMBED_QUERY_CACHE];
static uint64_t g_query_clock;
static int64_t g_query_paused_until_ms;

void embed_query_reset(void)
{
    pthread_mutex_lock(&g_query_lock);
    for (int i = 0; i < EMBED_QUERY_CACHE; i++) {
        free(g_query[i].vec);
        memset(&g_query[i], 0, sizeof g_query[i]);
    }
    g_query_paused_until_ms = 0;
    pthread_mutex_unlock(&g_query_lock);
}

static bool query_cached(const uint8_t *key, uint32_t dim, float *out)
{
    bool hit = false;
    pthread_mutex_lock(&g_query_lock);
    for (int i = 0; i < EMBED_QUERY_CACHE && !hit; i++)
        if (g_query[i].vec && g_query[i].dim == dim &&
            memcmp(g_query[i].key, key, KEY_BYTES) == 0) {
            memcpy(out, g_query[i].vec, sizeof *out * dim);
            g_query[i].used = ++g_query_clock;
            hit = true;
        }
    pthread_mutex_unlock(&g_query_lock);
    return hit;
}

static void query_store(const uint8_t *key, uint32_t dim, const float *v)
{
    float *copy = malloc(sizeof *copy * dim);
    if (!copy)
        return;
    memcpy(copy, v, sizeof *copy * dim);
    pthread_mutex_lock(&g_query_lock);
    int victim = 0;
    for (int i = 1; i < EMBED_QUERY_CACHE; i++)
        if (g_query[i].used < g_query[victim].used)
            victim = i;
    free(g_query[victim].vec);
    memcpy(g_query[victim].key, key, KEY_BYTES);
    g_query[victim].dim = dim;
    g_query[victim].vec = copy;
    g_query[victim].used = ++g_query_clock;
    pthread_mutex_unlock(&g_query_lock);
}

static int64_t mono_ms(void)
{
    return (int64_t)(clock_mono_ns() / 1000000u);
}

static void query_pause(void)
{
    pthread_mutex_lock(&g_query_lock);
    g_query_paused_until_ms = mono_ms() + EMBED_QUERY_PAUSE_MS;
    pthread_mutex_unlock(&g_query_lock);
}

int embed_query(const embed_config *cfg, const char *model, const char *text, uint32_t dim,
                float *out)
{
    if (dim == 0 || dim > EMBED_DIM_MAX || !text || !*text)
        return 0;
    uint8_t key[KEY_BYTES];
    text_key(model, text, key);
    if (query_cached(key, dim, out))
        return 1;
    pthread_mutex_lock(&g_query_lock);
    bool paused = mono_ms() < g_query_paused_until_ms;
    pthread_mutex_unlock(&g_query_lock);
    if (paused)
        return 0;
    embed_config loaded;
    if (!cfg) {
        if (!embed_config_load(&loaded)) { /* warned once per pause, not per query */
            log_warning("embeddings: the search index was built with embeddings but "
                        "EMBEDDINGS_URL is not set; ranking this query lexically");
            query_pause();
            return 0;
        }
        cfg = &loaded;
    }
    embed_config c = *cfg;
    snprintf(c.model, sizeof c.model, "%s", model); /* the artefact's model, not today's */
    int timeout = c.timeout_ms < EMBED_QUERY_TIMEOUT_MS ? c.timeout_ms : EMBED_QUERY_TIMEOUT_MS;
    float *v = NULL;
    uint32_t got = 0;
    sm_error err = {0};
    int rc = request_batch(&c, &text, 1, timeout, 0, &v, &got, &err);
    if (rc == 0 && got != dim)
        rc = sm_error_set(&err, SM_EINVAL, "embeddings: query vector has dimension %u, index %u",
                          got, dim);
    if (rc) {
        log_warning("%s; ranking this query lexically", err.message);
        query_pause();
        free(v);
        return 0;
    }
    memcpy(out, v, sizeof *out * dim);
    query_store(key, dim, v);
    free(v);
    return 1;
}
