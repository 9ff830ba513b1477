/* healthcheck.c — `smartmarket healthcheck`: is the server ready?
 *
 * For a container HEALTHCHECK, which must not depend on curl being in the
 * image: one GET of /health/ready/ over a plain TCP socket, with a single
 * 3-second deadline over name resolution's result, connect, send and
 * receive (non-blocking socket + poll). Exit 0 on HTTP 200, 1 on anything
 * else. The target defaults to SMARTMARKET_LISTEN, with a wildcard address
 * (0.0.0.0, ::) replaced by loopback. It reads no other configuration, so
 * it works even where the data directory is not writable. */
#include "cmd/cmd.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/config.h"

#define HEALTHCHECK_TIMEOUT_MS 3000
#define HEALTHCHECK_PATH "/health/ready/"

static void healthcheck_help(void)
{
    printf("Usage: smartmarket healthcheck [--url URL]\n\n"
           "GETs http://<SMARTMARKET_LISTEN>" HEALTHCHECK_PATH " (3 s timeout) and exits 0\n"
           "when the server answers 200. For container HEALTHCHECK; needs no curl.\n\n"
           "Options:\n"
           "  --url URL    check this http:// URL instead (e.g.\n"
           "               http://127.0.0.1:8000/health/live/)\n"
           "  -h, --help   this help\n\n"
           "Environment: SMARTMARKET_LISTEN (default 127.0.0.1:8000).\n\n"
           "Exit status: 0 ready (HTTP 200), 1 not ready or unreachable, 2 bad usage.\n");
}

int cmd_http_url_parse(const char *url, cmd_http_url *out)
{
    memset(out, 0, sizeof *out);
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7;
    const char *slash = strchr(h, '/');
    size_t authority = slash ? (size_t)(slash - h) : strlen(h);
    const char *path = slash ? slash : "/";
    if (authority == 0 || strlen(path) >= sizeof out->path)
        return -1;
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return -1;
    const char *port = NULL;
    size_t host_len;
    if (h[0] == '[') {
        const char *close = memchr(h, ']', authority);
        if (!close)
            return -1;
        host_len = (size_t)(close - h - 1);
        h++;
        if (close + 1 < h - 1 + authority) {
            if (close[1] != ':')
                return -1;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(h, ':', authority);
        host_len = colon ? (size_t)(colon - h) : authority;
        port = colon ? colon + 1 : NULL;
    }
    if (host_len == 0 || host_len >= sizeof out->host)
        return -1;
    memcpy(out->host, h, host_len);
    if (port) {
        size_t port_len = (size_t)(url + 7 + authority - port);
        long long n;
        char tmp[8];
        if (port_len == 0 || port_len >= sizeof tmp)
            return -1;
        memcpy(tmp, port, port_len);
        tmp[port_len] = '\0';
        if (cmd_parse_int64(tmp, 1, 65535, &n) < 0)
            return -1;
        snprintf(out->port, sizeof out->port, "%lld", n);
    } else {
        strcpy(out->port, "80");
    }
    snprintf(out->path, sizeof out->path, "%s", path);
    return 0;
}

static int remaining_ms(uint64_t deadline_ns)
{
    uint64_t now = clock_mono_ns();
    return now >= deadline_ns ? 0 : (int)((deadline_ns - now) / 1000000) + 1;
}

/* Waits for `events` on fd until the deadline. Returns 0 or -1 (timeout/error). */
static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
    for (;;) {
        int ms = remaining_ms(deadline_ns);
        if (ms <= 0)
            return -1;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 0;
        if (n == 0 || errno != EINTR)
            return -1;
    }
}

static int connect_any(const cmd_http_url *u, uint64_t deadline_ns, const char **why)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(u->host, u->port, &hints, &res) != 0) {
        *why = "cannot resolve the host";
        return -1;
    }
    int fd = -1;
    *why = "connection refused";
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int err = 0;
        socklen_t len = sizeof err;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
            (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline_ns) < 0 ||
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)) {
            if (remaining_ms(deadline_ns) <= 0)
                *why = "timed out";
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* GETs the URL; returns the HTTP status, or -1 with *why set. */
static int http_get_status(const cmd_http_url *u, const char **why)
{
    uint64_t deadline = clock_mono_ns() + (uint64_t)HEALTHCHECK_TIMEOUT_MS * 1000000;
    int fd = connect_any(u, deadline, why);
    if (fd < 0)
        return -1;
    char req[1400];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: smartmarket-healthcheck\r\n"
                     "Connection: close\r\n\r\n",
                     u->path, strchr(u->host, ':') ? "[" : "", u->host,
                     strchr(u->host, ':') ? "]" : "", u->port);
    int status = -1;
    size_t sent = 0, got = 0;
    char buf[256];
    *why = "timed out";
    while (sent < (size_t)n) {
        if (wait_fd(fd, POLLOUT, deadline) < 0)
            goto done;
        ssize_t w = send(fd, req + sent, (size_t)n - sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            *why = "connection reset";
            goto done;
        }
        sent += w > 0 ? (size_t)w : 0;
    }
    /* The status line is all we need: "HTTP/1.1 200 OK\r\n". */
    while (got < sizeof buf - 1 && !memchr(buf, '\n', got)) {
        if (wait_fd(fd, POLLIN, deadline) < 0)
            goto done;
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r == 0)
            break;
        if (r < 0 && errno != EAGAIN && errno != EINTR) {
            *why = "connection reset";
            goto done;
        }
        got += r > 0 ? (size_t)r : 0;
    }
    buf[got] = '\0';
    /* "HTTP/1.0 " or "HTTP/1.1 ", then exactly three digits. */
    long code = 0;
    if (got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0 && (buf[7] == '0' || buf[7] == '1') &&
        buf[8] == ' ' && isdigit((unsigned char)buf[9]) && isdigit((unsigned char)buf[10]) &&
        isdigit((unsigned char)buf[11]))
        code = strtol(buf + 9, NULL, 10);
    if (code >= 100 && code <= 599)
        status = (int)code;
    else
        *why = "not an HTTP response";
done:
    close(fd);
    return status;
}

int cmd_healthcheck(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "healthcheck", *url = NULL;
    int c;
    cmd_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': healthcheck_help(); return CMD_OK;
        case 'u': url = optarg; break;
        default: return cmd_getopt_error(cmd, argv, c);
        }
    }
    if (optind < argc)
        return cmd_usage_error(cmd, "unexpected argument '%s'", argv[optind]);

    cmd_http_url u;
    if (url) {
        if (cmd_http_url_parse(url, &u) < 0)
            return cmd_usage_error(cmd, "--url: '%s' is not http://HOST[:PORT]/PATH", url);
    } else {
        const char *listen = getenv("SMARTMARKET_LISTEN");
        int port;
        memset(&u, 0, sizeof u);
        if (!listen || !*listen)
            listen = "127.0.0.1:8000";
        if (config_parse_listen(listen, u.host, sizeof u.host, &port) < 0 || port == 0)
            return cmd_fail(cmd, "SMARTMARKET_LISTEN: '%s' is not HOST:PORT", listen);
        if (!strcmp(u.host, "0.0.0.0") || !strcmp(u.host, "*"))
            strcpy(u.host, "127.0.0.1");
        else if (!strcmp(u.host, "::"))
            strcpy(u.host, "::1");
        snprintf(u.port, sizeof u.port, "%d", port);
        strcpy(u.path, HEALTHCHECK_PATH);
    }
    const char *why = "";
    int status = http_get_status(&u, &why);
    if (status == 200) {
        printf("ready\n");
        return CMD_OK;
    }
    if (status < 0)
        return cmd_fail(cmd, "not ready: %s:%s%s: %s", u.host, u.port, u.path, why);
    return cmd_fail(cmd, "not ready: %s:%s%s answered HTTP %d", u.host, u.port, u.path, status);
}
