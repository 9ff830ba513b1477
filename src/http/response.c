/* response.c — building a response: status, headers, body, JSON and the
 * standard error body, and serialising the head for the wire.
 *
 * Everything a handler passes is copied into the request arena, so the
 * handler's buffers may die as soon as it returns and nothing needs a free.
 * Header names and values are refused when they contain CR, LF or NUL:
 * a handler that echoes user input into a header cannot split the response.
 *
 * The head is built in one arena buffer sized up front: the fixed part (the
 * Server and security headers) is one constant string, and the per-request
 * part is a handful of memcpy calls — no printf on the hot path. */
#include "http/http_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Headers every response carries (the HSTS line is added when secure). */
static const char FIXED_HEADERS[] =
    "Server: smartmarket\r\n"
    "Content-Security-Policy: default-src 'self'; img-src 'self' data: https:; style-src 'self' "
    "'unsafe-inline'; script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: same-origin\r\n"
    "X-Frame-Options: DENY\r\n";
static const char HSTS_HEADER[] =
    "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n";

void http_response_init(http_response *res, arena *a)
{
    memset(res, 0, sizeof *res);
    res->arena = a;
    res->status = 200;
}

void http_response_set_status(http_response *res, int status)
{
    if (status >= 100 && status <= 599)
        res->status = status;
}

int http_response_status(const http_response *res)
{
    return res->status;
}

static bool header_text_ok(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

int http_response_add_header(http_response *res, const char *name, const char *value)
{
    if (!name || !value || !*name || !header_text_ok(name) || !header_text_ok(value) ||
        strchr(name, ':'))
        return SM_EINVAL;
    if (res->header_count >= HTTP_RESPONSE_HEADERS_MAX)
        return SM_ETOOLARGE;
    char *n = arena_strdup(res->arena, name);
    char *v = arena_strdup(res->arena, value);
    if (!n || !v)
        return SM_ENOMEM;
    res->header_names[res->header_count] = n;
    res->header_values[res->header_count] = v;
    res->header_count++;
    return 0;
}

int http_response_set_body(http_response *res, const void *body, size_t len,
                           const char *content_type)
{
    char *copy = arena_alloc(res->arena, len + 1);
    if (!copy)
        return SM_ENOMEM;
    if (len)
        memcpy(copy, body, len);
    copy[len] = '\0';
    const char *ct = NULL;
    if (content_type) {
        if (!header_text_ok(content_type))
            return SM_EINVAL;
        ct = arena_strdup(res->arena, content_type);
        if (!ct)
            return SM_ENOMEM;
    }
    res->body = copy;
    res->body_len = len;
    res->content_type = ct;
    return 0;
}

int http_response_json(http_response *res, int status, json_t *body)
{
    if (!body)
        return SM_EINVAL;
    size_t need = json_dumpb(body, NULL, 0, JSON_COMPACT | JSON_REAL_PRECISION(6));
    char *buf = need ? arena_alloc(res->arena, need + 1) : NULL;
    if (!buf) {
        json_decref(body);
        return need ? SM_ENOMEM : SM_EINVAL;
    }
    size_t n = json_dumpb(body, buf, need, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(body);
    buf[n] = '\0';
    http_response_set_status(res, status);
    res->body = buf;
    res->body_len = n;
    res->content_type = "application/json";
    return 0;
}

int http_response_error(http_response *res, int status, const char *code, json_t *details,
                        const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);

    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (err && details)
        json_object_set_new(err, "details", details);
    else
        json_decref(details);
    json_t *root = err ? json_pack("{s:o}", "error", err) : NULL;
    if (!root) {
        /* Out of memory: still answer with the right status. */
        http_response_set_status(res, status);
        res->body = "{\"error\":{\"code\":\"internal_error\",\"message\":\"out of memory\"}}";
        res->body_len = strlen(res->body);
        res->content_type = "application/json";
        return SM_ENOMEM;
    }
    return http_response_json(res, status, root);
}

static const char *status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

/* A bounded appender over a buffer whose size was computed beforehand. */
typedef struct head_buf {
    char *p;
    size_t len, cap;
} head_buf;

static void put(head_buf *b, const char *s, size_t n)
{
    if (b->len + n <= b->cap) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

static void puts_(head_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_header(head_buf *b, const char *name, const char *value)
{
    puts_(b, name);
    put(b, ": ", 2);
    puts_(b, value);
    put(b, "\r\n", 2);
}

/* Statuses that never carry a body nor a Content-Length of one. */
static bool status_has_body(int status)
{
    return !(status < 200 || status == 204 || status == 304);
}

char *http_response_head(http_exchange *ex, const char *date, bool chunked, size_t *len)
{
    const http_response *res = &ex->res;
    size_t cap = sizeof FIXED_HEADERS + sizeof HSTS_HEADER + 256;
    cap += strlen(ex->req.request_id ? ex->req.request_id : "");
    if (res->content_type)
        cap += strlen(res->content_type) + 16;
    for (int i = 0; i < res->header_count; i++)
        cap += strlen(res->header_names[i]) + strlen(res->header_values[i]) + 4;

    head_buf b = {arena_alloc(res->arena, cap), 0, cap};
    if (!b.p)
        return NULL;
    char status_line[64];
    int n = snprintf(status_line, sizeof status_line, "HTTP/1.1 %d %s\r\n", res->status,
                     status_reason(res->status));
    put(&b, status_line, (size_t)n);
    put_header(&b, "Date", date);
    if (chunked) {
        put(&b, "Transfer-Encoding: chunked\r\n", 28);
    } else if (status_has_body(res->status) || res->status == 304) {
        /* 304 repeats no length; 1xx/204 must not send one. */
        if (res->status != 304) {
            char num[32];
            int m = snprintf(num, sizeof num, "Content-Length: %zu\r\n", res->body_len);
            put(&b, num, (size_t)m);
        }
    }
    if (res->content_type && status_has_body(res->status))
        put_header(&b, "Content-Type", res->content_type);
    /* 101 is only ever the WebSocket upgrade (ws_handshake.c adds Upgrade). */
    put_header(&b, "Connection",
               res->status == 101 ? "Upgrade"
               : ex->keep_alive   ? "keep-alive"
                                  : "close");
    if (ex->req.request_id)
        put_header(&b, "X-Request-ID", ex->req.request_id);
    put(&b, FIXED_HEADERS, sizeof FIXED_HEADERS - 1);
    if (ex->req.secure)
        put(&b, HSTS_HEADER, sizeof HSTS_HEADER - 1);
    for (int i = 0; i < res->header_count; i++)
        put_header(&b, res->header_names[i], res->header_values[i]);
    put(&b, "\r\n", 2);
    *len = b.len;
    return b.p;
}
