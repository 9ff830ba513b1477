/* smtp_sink.h — starts the real SMTP server of tests/e2e/lib/smtp_sink.py
 * (Debian's aiosmtpd, under /usr/bin/python3) on a free 127.0.0.1 port for
 * a unit test, and reads back what arrived. Header-only test helper. */
#ifndef SM_TESTS_SMTP_SINK_H
#define SM_TESTS_SMTP_SINK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct smtp_sink {
    pid_t pid;
    int port;
    int out_fd; /* the server's stdout, kept open so it never writes to a closed pipe */
    char dir[128];
    char url[64]; /* smtp://127.0.0.1:PORT */
} smtp_sink;

static int smtp_sink_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &l) < 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

/* Starts the server; returns 0, or -1 when it cannot run here (no
 * /usr/bin/python3 with aiosmtpd): the caller skips. */
static int smtp_sink_start(smtp_sink *s)
{
    int fds[2];
    const char *root = getenv("SM_ROOT");
    char script[512];
    snprintf(script, sizeof script, "%s/tests/e2e/lib/smtp_sink.py", root ? root : ".");
    snprintf(s->dir, sizeof s->dir, "/tmp/sm-smtp-XXXXXX");
    if (access("/usr/bin/python3", X_OK) != 0 || access(script, R_OK) != 0 || !mkdtemp(s->dir) ||
        (s->port = smtp_sink_free_port()) < 0 || pipe(fds) < 0)
        return -1;
    snprintf(s->url, sizeof s->url, "smtp://127.0.0.1:%d", s->port);
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    s->pid = fork();
    if (s->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/usr/bin/python3", "python3", script, s->dir, port, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[64] = "";
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    ssize_t n = 0;
    if (s->pid > 0 && poll(&p, 1, 15000) == 1)
        n = read(fds[0], line, sizeof line - 1);
    s->out_fd = fds[0];
    if (n <= 0 || strncmp(line, "READY", 5) != 0) {
        fprintf(stderr, "smtp_sink: no READY line (got %zd bytes: %.*s)\n", n, (int)(n > 0 ? n : 0),
                line);
        close(fds[0]);
        if (s->pid > 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
        return -1;
    }
    return 0;
}

static void smtp_sink_stop(smtp_sink *s)
{
    char cmd[256];
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
    }
    close(s->out_fd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s->dir);
}

/* Reads DIR/NNNN.<ext> (n ≥ 1) into a malloc'ed string, or NULL. */
static char *smtp_sink_read(const smtp_sink *s, int n, const char *ext)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%04d.%s", s->dir, n, ext);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 21);
    size_t len = buf ? fread(buf, 1, (1 << 21) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

#endif
