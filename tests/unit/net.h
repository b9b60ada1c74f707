/* SPDX-License-Identifier: MIT */
/* net.h - what the unit tests that use real sockets share: a loopback
 * listener, a wsc_accept thread, a connected client/server pair, raw
 * socket helpers and a clock. Header-only (static functions); include it
 * after check.h. */
#ifndef WSC_TESTS_UNIT_NET_H
#define WSC_TESTS_UNIT_NET_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wsc.h"

/* A call that must return 0; prints the error and the detail otherwise. */
#define CHECK_OK(expr)                                                                   \
    do {                                                                                 \
        int r_ = (expr);                                                                 \
        CHECKF(r_ == 0, "%s returned %s (%s)", #expr, wsc_strerror(r_), wsc_last_error()); \
    } while (0)

static inline int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* A listening socket on 127.0.0.1 with an ephemeral port (in *port). */
static inline int listen_local_backlog(int *port, int backlog)
{
    *port = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, backlog) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static inline int listen_local(int *port)
{
    return listen_local_backlog(port, 64);
}

/* A plain TCP connection to 127.0.0.1:port, -1 on failure. */
static inline int connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* accept(2) with a 5 s limit. */
static inline int accept_tcp(int lfd)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (poll(&p, 1, 5000) != 1)
        return -1;
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

static inline void url_for(char *url, size_t size, int port)
{
    snprintf(url, size, "ws://127.0.0.1:%d/test", port);
}

/* wsc_accept on a thread: accepts one TCP connection on lfd, waits
 * delay_ms, then runs the WebSocket handshake. */
typedef struct {
    int lfd;
    const wsc_accept_options *opts;
    int delay_ms;
    void *user;     /* for a test's own thread function around accept_thread */
    wsc_conn *c;
    int r;
} acceptor;

static inline void *accept_thread(void *arg)
{
    acceptor *a = arg;
    a->c = NULL;
    int fd = accept_tcp(a->lfd);
    if (fd < 0) {
        a->r = WSC_EIO;
        return NULL;
    }
    if (a->delay_ms)
        sleep_ms(a->delay_ms);
    a->r = wsc_accept(fd, a->opts, &a->c);
    if (a->r != 0) {
        fprintf(stderr, "wsc_accept: %s (%s)\n", wsc_strerror(a->r), wsc_last_error());
        close(fd);
    }
    return NULL;
}

/* A client (wsc_dial) and server (wsc_accept) connected to each other. */
static inline bool make_pair(wsc_conn **client, wsc_conn **server, const wsc_dial_options *dopts,
                             const wsc_accept_options *aopts)
{
    *client = *server = NULL;
    int port;
    int lfd = listen_local(&port);
    if (lfd < 0) {
        CHECK(0, "listen on 127.0.0.1");
        return false;
    }
    acceptor a = {.lfd = lfd, .opts = aopts};
    pthread_t th;
    pthread_create(&th, NULL, accept_thread, &a);
    char url[64];
    url_for(url, sizeof url, port);
    int r = wsc_dial(url, dopts, client, NULL);
    CHECKF(r == 0, "wsc_dial %s: %s (%s)", url, wsc_strerror(r), wsc_last_error());
    pthread_join(th, NULL);
    close(lfd);
    CHECKF(a.r == 0, "wsc_accept: %s", wsc_strerror(a.r));
    *server = a.c;
    if (r != 0 || a.r != 0) {
        wsc_conn_free(*client);
        wsc_conn_free(*server);
        *client = *server = NULL;
        return false;
    }
    return true;
}

static inline int send_bytes(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Receives until the blank line ending an HTTP head (byte by byte, so no
 * byte after it is taken); the head, NUL-terminated, in buf. */
static inline size_t recv_head(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) != 1 || recv(fd, buf + n, 1, 0) != 1)
            break;
        n++;
        if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    buf[n] = '\0';
    return n;
}

#endif
