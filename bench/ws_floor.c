/* ws_floor.c — what a fan-out over loopback TCP costs with no server at all:
 * the floor under bench/ws.sh's figures on the same machine.
 *
 *   cc -O2 -pthread -o ws_floor bench/ws_floor.c && ./ws_floor [CONNS] [ROUNDS] [WRITERS]
 *
 * Opens CONNS loopback TCP connections to itself (TCP_NODELAY on both ends).
 * Each round, WRITERS threads (as the server's event loops) write one
 * ready-made 360-byte WebSocket text frame to their share of the accepted
 * ends — one write() each, nothing else — while one epoll thread (as the
 * benchmark's reader) reads the other ends. Prints, as one JSON line, the
 * median over rounds of: the writers' time per write() (the kernel's send
 * path, which on loopback includes the receiver's TCP processing), the time
 * until the last write returned, and the time until the last frame was read.
 * Those are lower bounds for the same figures of bench/ws.sh. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FRAME_LEN 360
#define MAX_WRITERS 8

static int *srv_fd, *cli_fd;
static int n_conns, n_rounds, n_writers;
static char frame[FRAME_LEN];
static atomic_int round_go = -1;      /* the round writers may start */
static atomic_int writers_done;       /* writers finished with the round */
static atomic_long received;          /* frames read in the round */
static _Atomic int64_t last_write_ns; /* latest end of a writer's loop */
static atomic_bool stop;

/* Waits without spinning: the writers and the reader need both cores. */
static void nap(void)
{
    struct timespec ts = {0, 50 * 1000};
    nanosleep(&ts, NULL);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *writer(void *arg)
{
    int w = (int)(intptr_t)arg;
    for (int r = 0; r < n_rounds; r++) {
        while (atomic_load(&round_go) < r)
            nap();
        for (int i = w; i < n_conns; i += n_writers)
            if (write(srv_fd[i], frame, FRAME_LEN) != FRAME_LEN) {
                perror("write");
                exit(1);
            }
        int64_t t = now_ns(), prev = atomic_load(&last_write_ns);
        while (t > prev && !atomic_compare_exchange_weak(&last_write_ns, &prev, t))
            ;
        atomic_fetch_add(&writers_done, 1);
    }
    return NULL;
}

static void *reader(void *arg)
{
    int ep = (int)(intptr_t)arg;
    struct epoll_event ev[1024];
    char buf[4096];
    while (!atomic_load(&stop)) {
        int k = epoll_wait(ep, ev, 1024, 50);
        for (int j = 0; j < k; j++) {
            ssize_t n = read(cli_fd[ev[j].data.u32], buf, sizeof buf);
            if (n > 0)
                atomic_fetch_add(&received, n / FRAME_LEN);
        }
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* A decimal argument within [lo, hi], else -1. */
static int arg_int(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno || end == s || *end || v < lo || v > hi ? -1 : (int)v;
}

int main(int argc, char **argv)
{
    n_conns = argc > 1 ? arg_int(argv[1], 1, 200000) : 10000;
    n_rounds = argc > 2 ? arg_int(argv[2], 1, 10000) : 20;
    n_writers = argc > 3 ? arg_int(argv[3], 1, MAX_WRITERS) : 2;
    if (n_conns < 0 || n_rounds < 0 || n_writers < 0) {
        fprintf(stderr, "usage: ws_floor [CONNS] [ROUNDS] [WRITERS ≤ 8]\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max < (rlim_t)n_conns * 2 + 16) {
        fprintf(stderr, "ws_floor: %d connections need %d descriptors; the limit is %llu\n",
                n_conns, n_conns * 2 + 16, (unsigned long long)rl.rlim_max);
        return 1;
    }
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    frame[0] = (char)0x81;
    frame[1] = 126;
    frame[2] = (char)((FRAME_LEN - 4) >> 8);
    frame[3] = (char)((FRAME_LEN - 4) & 0xFF);
    memset(frame + 4, 'x', FRAME_LEN - 4);
    srv_fd = calloc((size_t)n_conns, sizeof *srv_fd);
    cli_fd = calloc((size_t)n_conns, sizeof *cli_fd);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (!srv_fd || !cli_fd || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(ls, 4096) < 0 || getsockname(ls, (struct sockaddr *)&a, &al) < 0) {
        perror("listen");
        return 1;
    }
    int ep = epoll_create1(0);
    for (int i = 0; i < n_conns; i++) {
        cli_fd[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(cli_fd[i], (struct sockaddr *)&a, sizeof a) < 0 ||
            (srv_fd[i] = accept(ls, NULL, NULL)) < 0) {
            perror("connect");
            return 1;
        }
        setsockopt(cli_fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(srv_fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cli_fd[i], &e);
    }
    pthread_t wt[MAX_WRITERS], rt;
    for (int w = 0; w < n_writers; w++)
        pthread_create(&wt[w], NULL, writer, (void *)(intptr_t)w);
    pthread_create(&rt, NULL, reader, (void *)(intptr_t)ep);
    int64_t *per_write = calloc((size_t)n_rounds, sizeof *per_write);
    int64_t *written = calloc((size_t)n_rounds, sizeof *written);
    int64_t *delivered = calloc((size_t)n_rounds, sizeof *delivered);
    for (int r = 0; r < n_rounds; r++) {
        atomic_store(&received, 0);
        atomic_store(&writers_done, 0);
        atomic_store(&last_write_ns, 0);
        int64_t t0 = now_ns();
        atomic_store(&round_go, r);
        while (atomic_load(&received) < n_conns)
            nap();
        int64_t t1 = now_ns();
        while (atomic_load(&writers_done) < n_writers)
            nap();
        written[r] = atomic_load(&last_write_ns) - t0;
        delivered[r] = t1 - t0;
        per_write[r] = written[r] * n_writers / n_conns;
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
    atomic_store(&stop, true);
    pthread_join(rt, NULL);
    for (int w = 0; w < n_writers; w++)
        pthread_join(wt[w], NULL);
    qsort(per_write, (size_t)n_rounds, sizeof *per_write, cmp);
    qsort(written, (size_t)n_rounds, sizeof *written, cmp);
    qsort(delivered, (size_t)n_rounds, sizeof *delivered, cmp);
    size_t mid = (size_t)n_rounds / 2;
    printf("{\"conns\":%d,\"rounds\":%d,\"writers\":%d,\"ns_per_write\":%lld,"
           "\"last_write_ms\":\"%.2f\",\"last_read_ms\":\"%.2f\"}\n",
           n_conns, n_rounds, n_writers, (long long)per_write[mid], (double)written[mid] / 1e6,
           (double)delivered[mid] / 1e6);
    return 0;
}
