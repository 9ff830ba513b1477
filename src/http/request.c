/* request.c — reading a parsed request: headers, path parameters, query
 * string and cookies, plus the request id.
 *
 * The parser leaves the request as raw slices in the connection's arena;
 * these accessors decode lazily and only what a handler asks for, into the
 * same arena, so a request that never looks at its query pays nothing.
 * Header lookup is a linear scan: requests carry a few dozen headers at
 * most (HTTP_MAX_HEADERS bounds them), far below where a hash would pay.
 *
 * Request ids are 16 random bytes in hex. Randomness comes from libsodium
 * in batches of HTTP_RANDOM_BATCH bytes per thread, so the hot path makes
 * no system call for most requests. */
#include "http/http_internal.h"

#include <sodium.h>
#include <string.h>

#define HTTP_RANDOM_BATCH 512

const char *http_request_header(const http_request *req, const char *lname)
{
    for (size_t i = 0; i < req->header_count; i++) {
        if (strcmp(req->headers[i].name, lname) == 0)
            return req->headers[i].value;
    }
    return NULL;
}

const char *http_request_param(const http_request *req, const char *name)
{
    for (int i = 0; i < req->param_count; i++) {
        if (strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    }
    return NULL;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one character of `s` at *i (advancing it); -1 on a bad escape. */
static int decode_char(const char *s, size_t len, size_t *i, bool plus_space)
{
    char c = s[*i];
    if (c == '+' && plus_space) {
        (*i)++;
        return ' ';
    }
    if (c != '%') {
        (*i)++;
        return (unsigned char)c;
    }
    if (*i + 2 >= len)
        return -1; /* truncated escape */
    int hi = hex_value(s[*i + 1]), lo = hex_value(s[*i + 2]);
    if (hi < 0 || lo < 0)
        return -1;
    *i += 3;
    return hi * 16 + lo;
}

char *http_percent_decode(arena *a, const char *s, size_t len, bool plus_space)
{
    char *out = arena_alloc(a, len + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        int c = decode_char(s, len, &i, plus_space);
        if (c <= 0)
            return NULL; /* bad escape or an encoded NUL */
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return out;
}

/* True when the encoded `s[0..len)` decodes to exactly `name`. */
static bool decoded_equals(const char *s, size_t len, const char *name)
{
    size_t i = 0;
    while (i < len) {
        int c = decode_char(s, len, &i, true);
        if (c <= 0 || *name == '\0' || (unsigned char)*name != c)
            return false;
        name++;
    }
    return *name == '\0';
}

const char *http_request_query(http_request *req, const char *name)
{
    const char *p = req->query ? req->query : "";
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        if (decoded_equals(p, klen, name)) {
            if (!eq)
                return "";
            return http_percent_decode(req->arena, eq + 1, len - klen - 1, true);
        }
        if (!end)
            break;
        p = end + 1;
    }
    return NULL;
}

static bool is_cookie_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Looks for `name` in one Cookie header value "a=1; b=2". */
static const char *cookie_find(arena *a, const char *v, const char *name, size_t nlen)
{
    while (*v) {
        while (is_cookie_space(*v) || *v == ';')
            v++;
        const char *end = strchr(v, ';');
        size_t len = end ? (size_t)(end - v) : strlen(v);
        const char *eq = memchr(v, '=', len);
        if (eq) {
            size_t klen = (size_t)(eq - v);
            while (klen > 0 && is_cookie_space(v[klen - 1]))
                klen--;
            if (klen == nlen && memcmp(v, name, nlen) == 0) {
                const char *val = eq + 1;
                size_t vlen = len - (size_t)(val - v);
                while (vlen > 0 && is_cookie_space(*val)) {
                    val++;
                    vlen--;
                }
                while (vlen > 0 && is_cookie_space(val[vlen - 1]))
                    vlen--;
                if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
                    val++;
                    vlen -= 2;
                }
                return arena_strndup(a, val, vlen);
            }
        }
        if (!end)
            break;
        v = end + 1;
    }
    return NULL;
}

const char *http_request_cookie(http_request *req, const char *name)
{
    size_t nlen = strlen(name);
    /* Proxies may split cookies over several headers: look in each. */
    for (size_t i = 0; i < req->header_count; i++) {
        if (strcmp(req->headers[i].name, "cookie") != 0)
            continue;
        const char *v = cookie_find(req->arena, req->headers[i].value, name, nlen);
        if (v)
            return v;
    }
    return NULL;
}

bool http_request_id_valid(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++) {
        char c = id[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n >= HTTP_REQUEST_ID_MAX)
            return false;
    }
    return n > 0;
}

void http_request_id_generate(char out[33])
{
    static _Thread_local unsigned char pool[HTTP_RANDOM_BATCH];
    static _Thread_local size_t used = HTTP_RANDOM_BATCH;
    if (used + 16 > HTTP_RANDOM_BATCH) {
        randombytes_buf(pool, sizeof pool);
        used = 0;
    }
    sodium_bin2hex(out, 33, pool + used, 16);
    sodium_memzero(pool + used, 16);
    used += 16;
}
