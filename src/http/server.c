/* server.c — the HTTP server: N event loops on one port, and the graceful
 * shutdown.
 *
 * Each worker is one thread running one libuv loop with its own listening
 * socket, all bound to the same address with SO_REUSEPORT, so the kernel
 * spreads new connections across loops and no lock or hand-off sits on the
 * accept path. libuv 1.44 has no UV_TCP_REUSEPORT, so the sockets are made
 * by hand and given to libuv with uv_tcp_open(). With port 0 the first
 * socket picks the port and the others bind to the same one.
 *
 * The thread that calls http_server_run() runs a small control loop: it
 * watches SIGINT/SIGTERM (uv_signal) and a self-pipe that
 * http_server_stop() writes to (write(2) is async-signal-safe), and drives
 * the shutdown. Stopping is two phases, sent to each worker through its
 * uv_async: phase 1 closes the listener and the idle keep-alive connections
 * and lets requests in flight finish (answered with Connection: close);
 * after shutdown_timeout_ms phase 2 closes every connection. A worker whose
 * connections are all gone lets its loop end (after any pool handler it
 * started has returned: libuv cannot cancel a running one), and run()
 * returns once every worker thread has been joined. */
#include "http/http_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "core/config.h"
#include "core/log.h"

#define HTTP_BACKLOG 1024
#define HTTP_WORKERS_MAX 256

static atomic_int g_stop_requested;
static atomic_int g_stop_fd = -1; /* write end of the self-pipe, once made */
static int g_stop_pipe[2] = {-1, -1};
static pthread_once_t g_pipe_once = PTHREAD_ONCE_INIT;

void http_server_stop(void)
{
    atomic_store(&g_stop_requested, 1);
    int fd = atomic_load(&g_stop_fd);
    if (fd >= 0) {
        char b = 1;
        ssize_t r = write(fd, &b, 1); /* full pipe: a wake-up is pending anyway */
        (void)r;
    }
}

static void pipe_make(void)
{
    /* Made once and never closed, so a late stop() never writes to a
     * recycled descriptor. */
    if (pipe2(g_stop_pipe, O_NONBLOCK | O_CLOEXEC) == 0)
        atomic_store(&g_stop_fd, g_stop_pipe[1]);
}

void http_server_options_from_config(http_server_options *o)
{
    memset(o, 0, sizeof *o);
    const sm_config *cfg = config_get();
    o->host = "127.0.0.1";
    o->port = 8000;
    o->blocking_threads = 8;
    o->max_body_bytes = 1048576;
    o->max_header_bytes = 16384;
    o->max_headers = 64;
    o->max_connections = 10000;
    o->idle_timeout_ms = 60000;
    o->read_timeout_ms = 10000;
    o->write_timeout_ms = 10000;
    o->shutdown_timeout_ms = 10000;
    o->static_prefix = "/static/";
    if (!cfg)
        return;
    o->host = cfg->listen_host;
    o->port = cfg->listen_port;
    o->workers = cfg->workers;
    o->blocking_threads = cfg->blocking_threads;
    o->max_body_bytes = cfg->max_body_bytes;
    o->max_header_bytes = cfg->max_header_bytes;
    o->max_headers = cfg->max_headers;
    o->max_connections = cfg->max_connections;
    o->idle_timeout_ms = cfg->idle_timeout_ms;
    o->read_timeout_ms = cfg->read_timeout_ms;
    o->write_timeout_ms = cfg->write_timeout_ms;
    o->shutdown_timeout_ms = cfg->shutdown_timeout_ms;
    o->trust_proxy = cfg->trust_proxy != 0;
    o->static_dir = cfg->static_dir[0] ? cfg->static_dir : NULL;
}

const char *http_worker_date(http_worker *w)
{
    time_t now = time(NULL);
    if (now != w->date_time) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->date, sizeof w->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        w->date_time = now;
    }
    return w->date;
}

/* ---- workers ---- */

static void on_connection(uv_stream_t *listener, int status)
{
    http_worker *w = listener->data;
    if (status == 0)
        http_conn_accept(w);
}

static void worker_maybe_exit(http_worker *w)
{
    if (w->applied_phase > 0 && !w->conns && !uv_is_closing((uv_handle_t *)&w->wake))
        uv_close((uv_handle_t *)&w->wake, NULL); /* nothing keeps the loop then */
}

void http_worker_conn_gone(http_worker *w)
{
    worker_maybe_exit(w);
}

static void on_wake(uv_async_t *a)
{
    http_worker *w = a->data;
    http_stream_flush_ready(w);
    http_ws_flush_ready(w);
    int phase = atomic_load(&w->stop_phase);
    if (phase <= w->applied_phase)
        return;
    w->applied_phase = phase;
    if (w->listening) {
        uv_close((uv_handle_t *)&w->listener, NULL);
        w->listening = false;
    }
    http_conn_stop_all(w, phase);
    worker_maybe_exit(w);
}

static void worker_main(void *arg)
{
    http_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    http_stream_flush_ready(w); /* drops references left on the ready lists */
    http_ws_flush_ready(w);
    w->on_exit(w);
}

/* Sets `w` up to listen on `fd` (whose ownership it takes). On failure
 * everything, the descriptor included, is released. */
static int worker_init(http_worker *w, http_server *srv, int fd)
{
    w->srv = srv;
    w->listen_fd = fd;
    if (uv_loop_init(&w->loop) != 0) {
        close(fd);
        return SM_EIO;
    }
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        uv_loop_close(&w->loop);
        close(fd);
        return SM_ENOMEM;
    }
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    w->listening = true;
    int rc = uv_tcp_open(&w->listener, fd);
    if (rc != 0)
        close(fd); /* not libuv's yet */
    else
        rc = uv_listen((uv_stream_t *)&w->listener, HTTP_BACKLOG, on_connection);
    if (rc == 0)
        return 0;
    uv_close((uv_handle_t *)&w->listener, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    pthread_mutex_destroy(&w->mu);
    return SM_EIO;
}

/* ---- the control loop ---- */

typedef struct control {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    uv_poll_t pipe_poll;
    uv_timer_t deadline;
    uv_async_t exited;
    http_worker *workers;
    int nworkers;
    atomic_int done;
    bool stopping;
} control;

static void control_phase(control *ctl, int phase)
{
    for (int i = 0; i < ctl->nworkers; i++) {
        atomic_store(&ctl->workers[i].stop_phase, phase);
        uv_async_send(&ctl->workers[i].wake);
    }
}

static void on_deadline(uv_timer_t *t)
{
    control *ctl = t->data;
    log_warning("http: shutdown deadline passed, closing the remaining connections");
    control_phase(ctl, 2);
}

static void control_stop(control *ctl)
{
    if (ctl->stopping)
        return;
    ctl->stopping = true;
    log_info("http: shutting down");
    control_phase(ctl, 1);
    uv_timer_start(&ctl->deadline, on_deadline,
                   (uint64_t)ctl->workers[0].srv->opt.shutdown_timeout_ms, 0);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    control_stop(s->data);
}

static void on_pipe(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    char buf[64];
    while (read(g_stop_pipe[0], buf, sizeof buf) > 0) {
    }
    if (atomic_load(&g_stop_requested))
        control_stop(p->data);
}

static void on_exited(uv_async_t *a)
{
    control *ctl = a->data;
    if (atomic_load(&ctl->done) < ctl->nworkers)
        return;
    uv_close((uv_handle_t *)&ctl->sigint, NULL);
    uv_close((uv_handle_t *)&ctl->sigterm, NULL);
    uv_close((uv_handle_t *)&ctl->pipe_poll, NULL);
    uv_close((uv_handle_t *)&ctl->deadline, NULL);
    uv_close((uv_handle_t *)&ctl->exited, NULL);
}

static control *g_control; /* for worker_exited: one server per process */

static void worker_exited(http_worker *w)
{
    (void)w;
    atomic_fetch_add(&g_control->done, 1);
    uv_async_send(&g_control->exited);
}

/* ---- binding ---- */

static int listen_socket(const struct sockaddr *sa, socklen_t len, sm_error *err)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return sm_error_set(err, SM_EIO, "socket: %s", strerror(errno));
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 || bind(fd, sa, len) != 0) {
        int e = errno;
        close(fd);
        return sm_error_set(err, SM_EIO, "bind: %s", strerror(e));
    }
    return fd;
}

static void set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len,
                   sm_error *err)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host && *host ? host : NULL, "0", &hints, &res);
    if (rc != 0 || !res)
        return sm_error_set(err, SM_EIO, "cannot resolve %s: %s", host ? host : "",
                            gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    set_port(ss, port);
    return 0;
}

static int bound_port(int fd)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;
    memset(&addr, 0, sizeof addr);
    socklen_t len = sizeof addr;
    if (getsockname(fd, &addr.sa, &len) != 0)
        return -1;
    return ntohs(addr.sa.sa_family == AF_INET ? addr.in4.sin_port : addr.in6.sin6_port);
}

/* ---- run ---- */

static int worker_count(int requested)
{
    if (requested > 0)
        return requested > HTTP_WORKERS_MAX ? HTTP_WORKERS_MAX : requested;
    unsigned n = uv_available_parallelism();
    return n == 0 ? 1 : n > HTTP_WORKERS_MAX ? HTTP_WORKERS_MAX : (int)n;
}

static void options_check(http_server_options *o)
{
    if (o->max_header_bytes == 0)
        o->max_header_bytes = 16384;
    if (o->max_headers <= 0)
        o->max_headers = 64;
    if (o->max_connections <= 0)
        o->max_connections = 10000;
    if (o->idle_timeout_ms <= 0)
        o->idle_timeout_ms = 60000;
    if (o->read_timeout_ms <= 0)
        o->read_timeout_ms = 10000;
    if (o->write_timeout_ms <= 0)
        o->write_timeout_ms = 10000;
    if (o->shutdown_timeout_ms < 0)
        o->shutdown_timeout_ms = 0;
}

int http_server_run(const http_server_options *o, const http_router *r, sm_error *err)
{
    if (sodium_init() < 0)
        return sm_error_set(err, SM_EINTERNAL, "libsodium failed to initialise");
    pthread_once(&g_pipe_once, pipe_make);
    if (atomic_load(&g_stop_fd) < 0)
        return sm_error_set(err, SM_EIO, "cannot create the stop pipe");
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN); /* a peer gone mid-write is an error code, not a death */
    if (o->blocking_threads > 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", o->blocking_threads);
        setenv("UV_THREADPOOL_SIZE", n, 1); /* read by libuv at its first pool use */
    }

    int rc = 0;
    http_server srv = {.opt = *o, .router = r};
    options_check(&srv.opt);
    atomic_init(&srv.connections, 0);
    control ctl;
    memset(&ctl, 0, sizeof ctl);
    int nworkers = worker_count(o->workers);
    int *fds = malloc((size_t)nworkers * sizeof *fds);
    http_worker *workers = calloc((size_t)nworkers, sizeof *workers);
    int opened = 0, inited = 0, started = 0;
    if (!fds || !workers) {
        rc = sm_error_set(err, SM_ENOMEM, "out of memory");
        goto fail;
    }
    if (o->static_dir && o->static_prefix && *o->static_prefix) {
        sm_error serr;
        if (http_static_load(o->static_dir, &srv.statics, &serr) < 0)
            log_warning("http: no static files: %s", serr.message);
    }

    struct sockaddr_storage ss = {0};
    socklen_t sslen = 0;
    if ((rc = resolve(o->host, o->port, &ss, &sslen, err)) < 0)
        goto fail;
    int port = o->port;
    for (; opened < nworkers; opened++) {
        int fd = listen_socket((struct sockaddr *)&ss, sslen, err);
        if (fd < 0) {
            rc = fd;
            goto fail;
        }
        fds[opened] = fd;
        if (opened == 0 && port == 0) {
            port = bound_port(fd);
            set_port(&ss, port);
        }
    }
    for (; inited < nworkers; inited++) {
        workers[inited].on_exit = worker_exited;
        if (worker_init(&workers[inited], &srv, fds[inited]) < 0) {
            rc = sm_error_set(err, SM_EIO, "cannot listen on %s:%d", o->host, port);
            for (int i = inited + 1; i < opened; i++)
                close(fds[i]);
            opened = inited;
            goto fail;
        }
    }

    uv_loop_init(&ctl.loop);
    ctl.workers = workers;
    ctl.nworkers = nworkers;
    g_control = &ctl;
    uv_signal_init(&ctl.loop, &ctl.sigint);
    uv_signal_init(&ctl.loop, &ctl.sigterm);
    uv_poll_init(&ctl.loop, &ctl.pipe_poll, g_stop_pipe[0]);
    uv_timer_init(&ctl.loop, &ctl.deadline);
    uv_async_init(&ctl.loop, &ctl.exited, on_exited);
    ctl.sigint.data = ctl.sigterm.data = ctl.pipe_poll.data = ctl.deadline.data = ctl.exited.data =
        &ctl;
    uv_signal_start(&ctl.sigint, on_signal, SIGINT);
    uv_signal_start(&ctl.sigterm, on_signal, SIGTERM);
    uv_poll_start(&ctl.pipe_poll, UV_READABLE, on_pipe);

    for (; started < nworkers; started++) {
        if (uv_thread_create(&workers[started].thread, worker_main, &workers[started]) != 0)
            break;
    }
    if (started < nworkers) {
        rc = sm_error_set(err, SM_EIO, "cannot start the event-loop threads");
        ctl.nworkers = started; /* stop those that run */
        control_stop(&ctl);
    } else {
        char url[300];
        bool v6 = ss.ss_family == AF_INET6;
        snprintf(url, sizeof url, "http://%s%s%s:%d/", v6 ? "[" : "", o->host, v6 ? "]" : "", port);
        log_info("http: listening on %s with %d event loops", url, nworkers);
        if (o->on_ready)
            o->on_ready(url, o->on_ready_ctx);
        if (atomic_load(&g_stop_requested))
            control_stop(&ctl);
    }
    uv_run(&ctl.loop, UV_RUN_DEFAULT);
    for (int i = 0; i < started; i++)
        uv_thread_join(&workers[i].thread);
    uv_loop_close(&ctl.loop);
    g_control = NULL;
    atomic_store(&g_stop_requested, 0);
    for (int i = 0; i < nworkers; i++) {
        uv_loop_close(&workers[i].loop);
        pthread_mutex_destroy(&workers[i].mu);
    }
    http_static_free(srv.statics);
    free(workers);
    free(fds);
    return rc;

fail:
    for (int i = 0; i < inited; i++) {
        uv_close((uv_handle_t *)&workers[i].listener, NULL);
        uv_close((uv_handle_t *)&workers[i].wake, NULL);
        uv_run(&workers[i].loop, UV_RUN_DEFAULT);
        uv_loop_close(&workers[i].loop);
        pthread_mutex_destroy(&workers[i].mu);
    }
    for (int i = inited; i < opened; i++)
        close(fds[i]); /* not handed to a worker */
    http_static_free(srv.statics);
    free(workers);
    free(fds);
    return rc;
}
