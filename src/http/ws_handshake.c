/* ws_handshake.c — the server side of the WebSocket opening handshake
 * (RFC 6455 section 4.2): checking the upgrade request and building the
 * 101 Switching Protocols answer.
 *
 * A handler calls http_response_websocket() after its own checks
 * (authentication, permissions). The request must be a GET over HTTP/1.1
 * with `Upgrade: websocket`, a `Connection` header listing the `upgrade`
 * token, `Sec-WebSocket-Version: 13` and a `Sec-WebSocket-Key` that is the
 * base64 of exactly 16 bytes. A bad version is 426 Upgrade Required with
 * the version we speak (section 4.4); anything else missing is 400. Token
 * comparisons are case-insensitive and tolerate lists ("keep-alive,
 * Upgrade"), as browsers and proxies send them.
 *
 * The accept value is base64(SHA-1(key + GUID)). SHA-1 comes from
 * OpenSSL's libcrypto (libsodium has none) and base64 from libsodium. The
 * response itself stays an ordinary http_response: conn.c sees
 * `res->websocket` with status 101 and hands the socket to ws.c after
 * writing the head, whose `Connection: Upgrade` response.c writes. */
#include "http/http_internal.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <sodium.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_B64_LEN 24 /* base64 of 16 bytes, padded */
#define WS_SUBPROTOCOL_MAX 128

int http_ws_accept_key(const char *key, char out[29])
{
    char input[WS_KEY_B64_LEN + sizeof WS_GUID];
    size_t klen = strlen(key);
    if (klen != WS_KEY_B64_LEN)
        return SM_EINVAL;
    memcpy(input, key, klen);
    memcpy(input + klen, WS_GUID, sizeof WS_GUID - 1);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_Digest(input, klen + sizeof WS_GUID - 1, digest, &dlen, EVP_sha1(), NULL) != 1 ||
        dlen != 20)
        return SM_EINTERNAL;
    sodium_bin2base64(out, 29, digest, dlen, sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

/* True when the comma-separated `list` holds `token` (case-insensitive). */
static bool list_has_token(const char *list, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t end = n;
        while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        if (end == tlen && strncasecmp(p, token, tlen) == 0)
            return true;
        p += n;
    }
    return false;
}

static bool key_valid(const char *key)
{
    unsigned char raw[18];
    size_t len = 0;
    if (!key || strlen(key) != WS_KEY_B64_LEN)
        return false;
    return sodium_base642bin(raw, sizeof raw, key, WS_KEY_B64_LEN, NULL, &len, NULL,
                             sodium_base64_VARIANT_ORIGINAL) == 0 &&
           len == 16;
}

/* RFC 7230 token characters: what a subprotocol name may contain. */
static bool token_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > WS_SUBPROTOCOL_MAX)
        return false;
    return strspn(s, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == n;
}

/* The reason a request is not a WebSocket handshake, or NULL. */
static const char *handshake_problem(const http_exchange *ex)
{
    const http_request *req = &ex->req;
    if (!req->method || strcmp(req->method, "GET") != 0)
        return "a WebSocket handshake must be a GET";
    if (ex->http10)
        return "a WebSocket handshake needs HTTP/1.1";
    const char *upgrade = http_request_header(req, "upgrade");
    if (!upgrade || !list_has_token(upgrade, "websocket"))
        return "missing Upgrade: websocket";
    const char *connection = http_request_header(req, "connection");
    if (!connection || !list_has_token(connection, "upgrade"))
        return "missing Connection: upgrade";
    if (!key_valid(http_request_header(req, "sec-websocket-key")))
        return "Sec-WebSocket-Key must be the base64 of 16 bytes";
    return NULL;
}

int http_response_websocket(http_response *res, const char *subprotocol,
                            const http_ws_callbacks *cb, void *ctx)
{
    /* Every response is the `res` of an exchange: the request is next to it. */
    const http_exchange *ex =
        (const http_exchange *)(const void *)((const char *)res - offsetof(http_exchange, res));
    const http_request *req = &ex->req;
    const char *problem = handshake_problem(ex);
    if (problem) {
        http_response_error(res, 400, "bad_request", NULL, "%s", problem);
        return SM_EINVAL;
    }
    const char *version = http_request_header(req, "sec-websocket-version");
    if (!version || strcmp(version, "13") != 0) {
        http_response_error(res, 426, "upgrade_required", NULL,
                            "this server speaks WebSocket version 13");
        http_response_add_header(res, "Sec-WebSocket-Version", "13");
        return SM_EINVAL;
    }
    if (!cb || (subprotocol && !token_valid(subprotocol))) {
        http_response_error(res, 500, "internal_error", NULL, "invalid WebSocket subprotocol");
        return SM_EINVAL;
    }
    char accept[29];
    int rc = http_ws_accept_key(http_request_header(req, "sec-websocket-key"), accept);
    if (rc < 0)
        return rc;
    if ((rc = http_response_add_header(res, "Upgrade", "websocket")) < 0 ||
        (rc = http_response_add_header(res, "Sec-WebSocket-Accept", accept)) < 0 ||
        (subprotocol &&
         (rc = http_response_add_header(res, "Sec-WebSocket-Protocol", subprotocol)) < 0))
        return rc;
    http_response_set_status(res, 101);
    res->body = NULL;
    res->body_len = 0;
    res->content_type = NULL;
    res->streaming = false;
    res->websocket = true;
    res->ws_cb = cb;
    res->ws_ctx = ctx;
    return 0;
}
