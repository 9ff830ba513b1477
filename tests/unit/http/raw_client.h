/* raw_client.h — a tiny blocking TCP client for the HTTP and WebSocket
 * integration tests: connect to 127.0.0.1, send bytes, buffer what comes
 * back. Everything fails the test through cmocka asserts; reads time out
 * after 3 s so a silent server cannot hang the suite. Header-only (static
 * inline): each test program includes it once. */
#ifndef SM_TESTS_RAW_CLIENT_H
#define SM_TESTS_RAW_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define RAW_CLIENT_BUF (1 << 18)

typedef struct raw_client {
    int fd;
    unsigned char buf[RAW_CLIENT_BUF];
    size_t len; /* bytes received and not yet consumed */
} raw_client;

/* Connects to 127.0.0.1:port; rcvbuf > 0 shrinks the socket's receive
 * buffer (slow-consumer tests). */
static inline raw_client *raw_client_open(int port, int rcvbuf)
{
    raw_client *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (rcvbuf > 0)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return c;
}

static inline void raw_client_close(raw_client *c)
{
    close(c->fd);
    free(c);
}

static inline void raw_client_send(raw_client *c, const void *data, size_t len)
{
    assert_int_equal(send(c->fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads more bytes: their count, 0 on EOF, -1 on timeout, error or a full
 * buffer. */
static inline ssize_t raw_client_fill(raw_client *c)
{
    if (c->len == sizeof c->buf)
        return -1;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n > 0)
        c->len += (size_t)n;
    return n;
}

/* Reads until at least n bytes are buffered; false on EOF or timeout. */
static inline bool raw_client_need(raw_client *c, size_t n)
{
    while (c->len < n)
        if (raw_client_fill(c) <= 0)
            return false;
    return true;
}

/* Drops the first n buffered bytes. */
static inline void raw_client_consume(raw_client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

#endif
