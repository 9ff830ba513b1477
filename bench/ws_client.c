/* ws_client.c — the native client of bench/ws.sh: N WebSocket clients on
 * /ws/admin/orders/ read by epoll threads, and the POSTs whose events they
 * time. Standalone (libc, pthreads, libcrypto for the handshake's SHA-1).
 *
 *   ws_client HOST PORT TOKEN CLIENTS ROUNDS PRODUCT_ID SERVER_PID [THREADS]
 *
 * 1. Opens CLIENTS connections (non-blocking, a bounded number of handshakes
 *    in flight), performs the RFC 6455 client handshake with the
 *    subprotocols "smartmarket.v1, bearer.TOKEN" and checks the 101, the
 *    Sec-WebSocket-Accept and the chosen subprotocol.
 * 2. Hands the connections to THREADS epoll threads (default 1) and waits
 *    until every client got its welcome frame, which gives the channel's
 *    current seq: round r's event must carry seq welcome + r + 1.
 * 3. Reads the server's RSS before connecting and after, one second later.
 * 4. ROUNDS times: POST /api/orders/ on one keep-alive socket (TCP_NODELAY),
 *    noting CLOCK_MONOTONIC when the request was written (t_send) and when
 *    the whole response was read (t_ret); then waits until every client has
 *    that event. A reader timestamps a frame when the read() that completed
 *    it returned, after checking it is a complete unfragmented text frame
 *    (FIN, opcode 1, unmasked, length within bounds) with the expected seq
 *    and the order's id.
 * 5. Prints one JSON line: latency from t_ret to each delivery (p50, p99,
 *    max; deliveries before t_ret count as 0, and their number is given as
 *    "early"), the same from t_send, the POST's own duration, and RSS per
 *    connection. Exit status 1 when a delivery is missing or duplicated, a
 *    frame is malformed, or a connection closes.
 *
 * Pings from the server are answered with masked pongs, so long runs are
 * not dropped by the keep-alive. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 8
#define CONNECT_INFLIGHT 256 /* handshakes at once */
#define RBUF_MAX (256 * 1024)
#define ROUND_TIMEOUT_NS (30LL * 1000000000LL)
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef struct client {
    int fd;
    int state; /* 0 connecting, 1 handshake sent, 2 open, 3 dead */
    char key[25];
    char *rbuf;
    size_t rlen, rcap;
    uint64_t base; /* seq of the welcome frame */
    bool welcomed;
    int64_t *recv_ns; /* per round, 0 until received */
} client;

static const char *g_host, *g_token;
static int g_port, g_rounds;
static size_t g_n;
static client *g_clients;
static _Atomic int64_t *g_event_id; /* per round: the order id in its event */
static atomic_size_t *g_count;
static atomic_size_t g_welcomed;
static atomic_long g_errors;
static atomic_bool g_stop;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fail(const char *what, size_t i)
{
    long n = atomic_fetch_add(&g_errors, 1);
    if (n < 10)
        fprintf(stderr, "ws_client: client %zu: %s\n", i, what);
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

/* Sends a masked control frame (pong) of `len` ≤ 125 bytes. */
static void send_control(client *c, int opcode, const unsigned char *payload, size_t len)
{
    unsigned char f[2 + 4 + 125];
    unsigned char mask[4];
    if (len > 125 || getrandom(mask, sizeof mask, 0) != (ssize_t)sizeof mask)
        return;
    f[0] = (unsigned char)(0x80 | opcode);
    f[1] = (unsigned char)(0x80 | len);
    memcpy(f + 2, mask, 4);
    for (size_t i = 0; i < len; i++)
        f[6 + i] = payload[i] ^ mask[i % 4];
    (void)!write(c->fd, f, 6 + len); /* blocking socket semantics not needed: tiny */
}

/* Reads an unsigned decimal after `key` in [p, p+len). -1 when absent. */
static int64_t find_num(const char *p, size_t len, const char *key)
{
    size_t kl = strlen(key);
    const char *hit = memmem(p, len, key, kl);
    if (!hit)
        return -1;
    const char *q = hit + kl, *end = p + len;
    int64_t v = 0;
    if (q >= end || *q < '0' || *q > '9')
        return -1;
    while (q < end && *q >= '0' && *q <= '9')
        v = v * 10 + (*q++ - '0');
    return v;
}

/* One complete text message from client `i`. */
static void on_text(client *c, size_t i, const char *p, size_t len, int64_t t)
{
    if (!c->welcomed) {
        int64_t seq = find_num(p, len, "\"seq\":");
        if (!memmem(p, len, "\"type\":\"welcome\"", 16) || seq < 0) {
            fail("first frame is not a welcome", i);
            return;
        }
        c->base = (uint64_t)seq;
        c->welcomed = true;
        atomic_fetch_add(&g_welcomed, 1);
        return;
    }
    int64_t seq = find_num(p, len, "\"seq\":");
    if (seq < 0 || !memmem(p, len, "\"type\":\"order.created\"", 22)) {
        fail("unexpected frame", i);
        return;
    }
    int64_t r = seq - (int64_t)c->base - 1;
    if (r < 0 || r >= g_rounds) {
        fail("event outside the rounds", i);
        return;
    }
    /* The event may arrive before the POST's response (the server publishes
     * before it answers), so the id is compared once the round is over: the
     * first reader to see the event records its order id, the others must
     * agree. */
    const char *data = memmem(p, len, "\"data\":{", 8);
    int64_t id = data ? find_num(data, len - (size_t)(data - p), "\"id\":") : -1;
    int64_t none = 0;
    if (id <= 0 || (!atomic_compare_exchange_strong(&g_event_id[r], &none, id) && none != id)) {
        fail("event without the round's order id", i);
        return;
    }
    if (c->recv_ns[r]) {
        fail("duplicate event", i);
        return;
    }
    c->recv_ns[r] = t;
    atomic_fetch_add(&g_count[r], 1);
}

/* Parses every complete frame in c->rbuf. Returns -1 when the connection is
 * unusable. */
static int parse_frames(client *c, size_t i, int64_t t)
{
    size_t off = 0;
    for (;;) {
        const unsigned char *b = (const unsigned char *)c->rbuf + off;
        size_t avail = c->rlen - off;
        if (avail < 2)
            break;
        int fin = b[0] & 0x80, rsv = b[0] & 0x70, op = b[0] & 0x0F;
        if (rsv || (b[1] & 0x80)) {
            fail("reserved bits or masked server frame", i);
            return -1;
        }
        uint64_t plen = b[1] & 0x7F;
        size_t hl = 2;
        if (plen == 126) {
            if (avail < 4)
                break;
            plen = ((uint64_t)b[2] << 8) | b[3];
            hl = 4;
        } else if (plen == 127) {
            if (avail < 10)
                break;
            plen = 0;
            for (int k = 0; k < 8; k++)
                plen = (plen << 8) | b[2 + k];
            hl = 10;
        }
        if (plen > RBUF_MAX - 16) {
            fail("frame too large", i);
            return -1;
        }
        if (avail < hl + plen)
            break;
        const char *payload = (const char *)b + hl;
        if (op == 1 && fin) {
            on_text(c, i, payload, (size_t)plen, t);
        } else if (op == 9) {
            send_control(c, 0xA, (const unsigned char *)payload, (size_t)plen);
        } else if (op == 0xA) {
            /* unsolicited pong: ignore */
        } else if (op == 8) {
            fail("server closed the connection", i);
            return -1;
        } else {
            fail("fragmented or binary frame", i);
            return -1;
        }
        off += hl + (size_t)plen;
    }
    if (off > 0) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
    return 0;
}

/* Makes room for at least `want` more bytes. */
static int rbuf_room(client *c, size_t want)
{
    if (c->rcap - c->rlen >= want)
        return 0;
    size_t cap = c->rcap ? c->rcap : 2048;
    while (cap - c->rlen < want)
        cap *= 2;
    if (cap > RBUF_MAX)
        return -1;
    char *p = realloc(c->rbuf, cap);
    if (!p)
        return -1;
    c->rbuf = p;
    c->rcap = cap;
    return 0;
}

/* Reads what is there; parses frames. Returns -1 when the client died. */
static int client_read(client *c, size_t i)
{
    for (;;) {
        if (rbuf_room(c, 1024) < 0) {
            fail("read buffer over its bound", i);
            return -1;
        }
        ssize_t r = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (r <= 0) {
            fail(r == 0 ? "connection closed by the server" : "read error", i);
            return -1;
        }
        int64_t t = now_ns();
        c->rlen += (size_t)r;
        if (parse_frames(c, i, t) < 0)
            return -1;
        if ((size_t)r < 1024)
            return 0; /* drained: saves the EAGAIN read */
    }
}

/* ---- connecting ---- */

static int start_connect(client *c)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    if (inet_pton(AF_INET, g_host, &a.sin_addr) != 1)
        return -1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS)
        return -1;
    c->state = 0;
    return 0;
}

static int send_handshake(client *c)
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -1;
    EVP_EncodeBlock((unsigned char *)c->key, raw, sizeof raw);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET /ws/admin/orders/ HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: smartmarket.v1, bearer.%s\r\n\r\n",
                     g_host, g_port, c->key, g_token);
    if (n <= 0 || (size_t)n >= sizeof req)
        return -1;
    /* A fresh socket's send buffer takes 300 bytes at once. */
    if (write(c->fd, req, (size_t)n) != n)
        return -1;
    c->state = 1;
    return 0;
}

/* Checks the 101 once its head is complete. 1: open, 0: need more, -1: bad. */
static int check_handshake(client *c, size_t i)
{
    const char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (!end)
        return c->rlen > 8192 ? -1 : 0;
    size_t hlen = (size_t)(end - c->rbuf) + 4;
    char head[8192];
    memcpy(head, c->rbuf, hlen < sizeof head ? hlen : sizeof head - 1);
    head[hlen < sizeof head ? hlen : sizeof head - 1] = '\0';
    if (strncmp(head, "HTTP/1.1 101 ", 13) != 0) {
        fail("handshake not answered with 101", i);
        fprintf(stderr, "%.200s\n", head);
        return -1;
    }
    char cat[64], want[32];
    unsigned char sha[SHA_DIGEST_LENGTH];
    snprintf(cat, sizeof cat, "%s%s", c->key, WS_GUID);
    SHA1((const unsigned char *)cat, strlen(cat), sha);
    EVP_EncodeBlock((unsigned char *)want, sha, sizeof sha);
    char line[64];
    snprintf(line, sizeof line, "sec-websocket-accept: %s\r\n", want);
    for (char *p = head; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    for (char *p = line; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (!strstr(head, line)) {
        fail("bad Sec-WebSocket-Accept", i);
        return -1;
    }
    if (!strstr(head, "sec-websocket-protocol: smartmarket.v1\r\n")) {
        fail("subprotocol smartmarket.v1 not chosen", i);
        return -1;
    }
    memmove(c->rbuf, c->rbuf + hlen, c->rlen - hlen);
    c->rlen -= hlen;
    c->state = 2;
    return 1;
}

/* Opens every connection; returns the number open. */
static size_t connect_all(void)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    size_t next = 0, open = 0, pending = 0, dead = 0;
    struct epoll_event evs[512];
    int64_t deadline = now_ns() + 120LL * 1000000000LL;
    while (open + dead < g_n && now_ns() < deadline) {
        while (next < g_n && pending < CONNECT_INFLIGHT) {
            client *c = &g_clients[next];
            if (start_connect(c) < 0) {
                fail("connect failed", next);
                c->state = 3;
                dead++;
            } else {
                struct epoll_event e = {.events = EPOLLOUT | EPOLLIN, .data.u64 = next};
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
                pending++;
            }
            next++;
        }
        int k = epoll_wait(ep, evs, 512, 1000);
        for (int j = 0; j < k; j++) {
            size_t i = (size_t)evs[j].data.u64;
            client *c = &g_clients[i];
            int rc = 0;
            if (c->state == 0 && (evs[j].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                int err = 0;
                socklen_t l = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
                if (err || send_handshake(c) < 0) {
                    rc = -1;
                } else {
                    struct epoll_event e = {.events = EPOLLIN, .data.u64 = i};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                }
            } else if (c->state == 1 && (evs[j].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                if (rbuf_room(c, 4096) < 0) {
                    rc = -1;
                } else {
                    ssize_t r = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
                    if (r <= 0 && !(r < 0 && errno == EAGAIN))
                        rc = -1;
                    else if (r > 0 && (c->rlen += (size_t)r, (rc = check_handshake(c, i)) == 1)) {
                        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                        pending--;
                        open++;
                        rc = 0;
                    }
                }
            }
            if (rc < 0) {
                fail("handshake failed", i);
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->state = 3;
                pending--;
                dead++;
            }
        }
    }
    close(ep);
    return open;
}

/* ---- the reader threads ---- */

typedef struct reader {
    pthread_t th;
    int ep;
    size_t first, last; /* clients [first, last) */
} reader;

static void *reader_main(void *arg)
{
    reader *rd = arg;
    struct epoll_event evs[1024];
    while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
        int k = epoll_wait(rd->ep, evs, 1024, 100);
        for (int j = 0; j < k; j++) {
            size_t i = (size_t)evs[j].data.u64;
            client *c = &g_clients[i];
            if (c->state != 2)
                continue;
            if (client_read(c, i) < 0) {
                epoll_ctl(rd->ep, EPOLL_CTL_DEL, c->fd, NULL);
                c->state = 3;
            }
        }
    }
    return NULL;
}

/* ---- the POST side ---- */

static int post_fd = -1;

static int post_connect(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    inet_pton(AF_INET, g_host, &a.sin_addr);
    post_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(post_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return connect(post_fd, (struct sockaddr *)&a, sizeof a);
}

/* One POST /api/orders/; fills the times and returns the order id, or -1. */
static int64_t post_order(int64_t product, int64_t *t_send, int64_t *t_ret)
{
    char body[128], req[1024];
    int bl = snprintf(body, sizeof body,
                      "{\"items\":[{\"product_id\":%" PRId64 ",\"quantity\":1}]}", product);
    int n = snprintf(req, sizeof req,
                     "POST /api/orders/ HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                     g_host, g_port, g_token, bl, body);
    if (n <= 0 || (size_t)n >= sizeof req)
        return -1;
    *t_send = now_ns();
    if (write_all(post_fd, req, (size_t)n) < 0)
        return -1;
    static char resp[65536];
    size_t len = 0;
    const char *hend = NULL;
    long clen = -1;
    for (;;) {
        if (len >= sizeof resp - 1)
            return -1;
        ssize_t r = read(post_fd, resp + len, sizeof resp - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        len += (size_t)r;
        resp[len] = '\0';
        if (!hend && (hend = strstr(resp, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(resp, "\r\ncontent-length:");
            if (!cl || cl > hend)
                return -1;
            clen = strtol(cl + 17, NULL, 10);
        }
        if (hend && (size_t)(hend + 4 - resp) + (size_t)clen <= len)
            break;
    }
    *t_ret = now_ns();
    if (strncmp(resp, "HTTP/1.1 201", 12) != 0) {
        fprintf(stderr, "ws_client: POST /api/orders/ answered: %.300s\n", resp);
        return -1;
    }
    return find_num(hend, strlen(hend), "\"id\":");
}

/* A decimal argument within [lo, hi]; false for anything else. */
static bool arg_num(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static long rss_kib(const char *pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%s/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    while (fgets(buf, sizeof buf, f))
        if (!strncmp(buf, "VmRSS:", 6)) {
            v = strtol(buf + 6, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* CPU time (user + system) of process `pid` so far, in ms. */
static double cpu_ms(const char *pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields 14 and 15 (utime, stime); the name, field 2, may hold spaces. */
    const char *p = strrchr(buf, ')');
    for (int field = 2; p && field < 14; field++)
        p = strchr(p + 1, ' ');
    if (!p)
        return -1;
    char *end;
    unsigned long long ut = strtoull(p + 1, &end, 10);
    unsigned long long st = strtoull(end, NULL, 10);
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* calloc or exit: a benchmark without its memory has nothing to report. */
static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "ws_client: out of memory\n");
        exit(1);
    }
    return p;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(const int64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t k = (size_t)(p * (double)n);
    return (double)v[k < n ? k : n - 1] / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: ws_client HOST PORT TOKEN CLIENTS ROUNDS PRODUCT_ID SERVER_PID "
                        "[THREADS]\n");
        return 2;
    }
    long long port, nclients, rounds, product, threads_arg = 1, pid;
    g_host = argv[1];
    g_token = argv[3];
    const char *server_pid = argv[7];
    if (!arg_num(argv[2], 1, 65535, &port) || !arg_num(argv[4], 1, 1000000, &nclients) ||
        !arg_num(argv[5], 1, 100000, &rounds) || !arg_num(argv[6], 1, INT64_MAX, &product) ||
        !arg_num(server_pid, 1, INT32_MAX, &pid) ||
        (argc > 8 && !arg_num(argv[8], 1, MAX_THREADS, &threads_arg)) || strlen(g_token) > 512) {
        fprintf(stderr, "ws_client: bad arguments\n");
        return 2;
    }
    g_port = (int)port;
    g_rounds = (int)rounds;
    int threads = (int)threads_arg;
    g_n = (size_t)nclients;
    g_clients = xcalloc(g_n, sizeof *g_clients);
    g_event_id = xcalloc((size_t)g_rounds, sizeof *g_event_id);
    int64_t *order_id = xcalloc((size_t)g_rounds, sizeof *order_id);
    g_count = xcalloc((size_t)g_rounds, sizeof *g_count);
    int64_t *t_send = xcalloc((size_t)g_rounds, sizeof *t_send);
    int64_t *t_ret = xcalloc((size_t)g_rounds, sizeof *t_ret);
    int64_t *times = xcalloc(g_n * (size_t)g_rounds, sizeof *times);
    for (size_t i = 0; i < g_n; i++)
        g_clients[i].recv_ns = times + i * (size_t)g_rounds;
    if (post_connect() < 0) {
        perror("ws_client: connect for POST");
        exit(1); /* the OS takes the memory back */
    }
    /* Warm-up order: the first POST pays for lazy initialisation. */
    int64_t ts0, tr0;
    if (post_order(product, &ts0, &tr0) < 0) {
        fprintf(stderr, "ws_client: warm-up POST failed\n");
        exit(1); /* the OS takes the memory back */
    }
    long rss0 = rss_kib(server_pid);
    int64_t c0 = now_ns();
    size_t open = connect_all();
    double connect_s = (double)(now_ns() - c0) / 1e9;
    if (open < g_n) {
        fprintf(stderr, "ws_client: only %zu of %zu clients connected\n", open, g_n);
        exit(1); /* the OS takes the memory back */
    }

    reader rd[MAX_THREADS];
    for (int t = 0; t < threads; t++) {
        rd[t].ep = epoll_create1(EPOLL_CLOEXEC);
        rd[t].first = g_n * (size_t)t / (size_t)threads;
        rd[t].last = g_n * (size_t)(t + 1) / (size_t)threads;
        for (size_t i = rd[t].first; i < rd[t].last; i++) {
            client *c = &g_clients[i];
            struct epoll_event e = {.events = EPOLLIN, .data.u64 = i};
            epoll_ctl(rd[t].ep, EPOLL_CTL_ADD, c->fd, &e);
            if (c->rlen > 0 && parse_frames(c, i, now_ns()) < 0)
                c->state = 3;
        }
        pthread_create(&rd[t].th, NULL, reader_main, &rd[t]);
    }
    int64_t deadline = now_ns() + ROUND_TIMEOUT_NS;
    while (atomic_load(&g_welcomed) < g_n && now_ns() < deadline)
        sleep_ms(5);
    if (atomic_load(&g_welcomed) < g_n) {
        fprintf(stderr, "ws_client: %zu of %zu clients got a welcome\n", atomic_load(&g_welcomed),
                g_n);
        exit(1); /* the OS takes the memory back */
    }
    uint64_t base = g_clients[0].base;
    for (size_t i = 1; i < g_n; i++)
        if (g_clients[i].base != base)
            fail("welcome at a different seq", i);
    sleep_ms(1000);
    long rss1 = rss_kib(server_pid);

    size_t missing = 0;
    double server_cpu0 = cpu_ms(server_pid), client_cpu0 = cpu_ms("self");
    for (int r = 0; r < g_rounds; r++) {
        order_id[r] = post_order(product, &t_send[r], &t_ret[r]);
        if (order_id[r] < 0) {
            fprintf(stderr, "ws_client: POST %d failed\n", r);
            exit(1); /* the OS takes the memory back */
        }
        deadline = now_ns() + ROUND_TIMEOUT_NS;
        while (atomic_load(&g_count[r]) < g_n && now_ns() < deadline)
            sleep_ms(1);
        missing += g_n - atomic_load(&g_count[r]);
        if (atomic_load(&g_event_id[r]) != order_id[r])
            fail("the round's event names another order", 0);
        sleep_ms(10);
    }
    /* Includes the 10 ms pauses, when both sides are idle. */
    double server_cpu = (cpu_ms(server_pid) - server_cpu0) / g_rounds;
    double client_cpu = (cpu_ms("self") - client_cpu0) / g_rounds;
    atomic_store(&g_stop, true);
    for (int t = 0; t < threads; t++)
        pthread_join(rd[t].th, NULL);

    /* Latencies over every delivery. */
    size_t n = 0, early = 0;
    int64_t *lat = xcalloc(g_n * (size_t)g_rounds, sizeof *lat);
    int64_t *lat_send = xcalloc(g_n * (size_t)g_rounds, sizeof *lat_send);
    int64_t *post = xcalloc((size_t)g_rounds, sizeof *post);
    int64_t *last = xcalloc((size_t)g_rounds, sizeof *last);
    for (int r = 0; r < g_rounds; r++) {
        post[r] = t_ret[r] - t_send[r];
        last[r] = 0;
        for (size_t i = 0; i < g_n; i++) {
            int64_t t = g_clients[i].recv_ns[r];
            if (!t)
                continue;
            int64_t d = t - t_ret[r];
            if (d < 0)
                early++;
            lat[n] = d < 0 ? 0 : d;
            lat_send[n] = t - t_send[r];
            if (lat_send[n] > last[r])
                last[r] = lat_send[n];
            n++;
        }
    }
    qsort(lat, n, sizeof *lat, cmp_i64);
    qsort(lat_send, n, sizeof *lat_send, cmp_i64);
    qsort(post, (size_t)g_rounds, sizeof *post, cmp_i64);
    qsort(last, (size_t)g_rounds, sizeof *last, cmp_i64);
    long errors = atomic_load(&g_errors);
    printf("{\"client\":\"native\",\"clients\":%zu,\"rounds\":%d,\"reader_threads\":%d,"
           "\"deliveries\":%zu,\"missing\":%zu,\"errors\":%ld,"
           "\"p50_ms\":\"%.2f\",\"p99_ms\":\"%.2f\",\"max_ms\":\"%.2f\",\"early\":%zu,"
           "\"from_send_p50_ms\":\"%.2f\",\"from_send_p99_ms\":\"%.2f\","
           "\"post_p50_ms\":\"%.2f\",\"last_delivery_p50_ms\":\"%.2f\","
           "\"server_cpu_ms_per_round\":\"%.1f\",\"client_cpu_ms_per_round\":\"%.1f\","
           "\"connect_s\":\"%.2f\",\"rss_kib_before\":%ld,\"rss_kib_connected\":%ld,"
           "\"rss_per_conn_kib\":\"%.2f\"}\n",
           open, g_rounds, threads, n, missing, errors, pct_ms(lat, n, 0.5), pct_ms(lat, n, 0.99),
           n ? (double)lat[n - 1] / 1e6 : 0.0, early, pct_ms(lat_send, n, 0.5),
           pct_ms(lat_send, n, 0.99), pct_ms(post, (size_t)g_rounds, 0.5),
           pct_ms(last, (size_t)g_rounds, 0.5), server_cpu, client_cpu, connect_s, rss0, rss1,
           (double)(rss1 - rss0) / (double)open);
    free(lat);
    free(lat_send);
    free(post);
    free(last);
    free(order_id);
    free(t_send);
    free(t_ret);
    if (missing || errors) {
        fprintf(stderr, "ws_client: %zu deliveries missing, %ld errors\n", missing, errors);
        exit(1); /* the OS takes the memory back */
    }
    return 0;
}
