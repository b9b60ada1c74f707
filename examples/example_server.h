/* SPDX-License-Identifier: MIT */
/*
 * example_server.h - what the example servers share, kept out of their way:
 * listening on 127.0.0.1, an accept loop that gives each connection a thread
 * and does not spin when accept fails, and printing what a client sent
 * without letting it drive the terminal, and the echo of the one-thread
 * servers. Included by one .c file each.
 */
#ifndef EXAMPLE_SERVER_H
#define EXAMPLE_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wsc.h"

/* Listens on 127.0.0.1:port (0: any free port). The socket, with the port
 * it got in *bound, or -1 with errno set. */
static int example_listen(int port, int *bound)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        return -1;
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 64) < 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
        int err = errno;
        close(lfd);
        errno = err;
        return -1;
    }
    *bound = ntohs(addr.sin_port);
    return lfd;
}

/* accept() that does not spin when it keeps failing (a full fd table, no
 * memory): it sleeps 5 ms, doubling up to 1 s, while the failures go on (as
 * Go's net/http does), and says so once per run of failures. */
static inline int example_accept(int lfd)
{
    int delay_ms = 0;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd >= 0)
            return fd;
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (delay_ms == 0)
            printf("accept: %s; retrying, less and less often\n", strerror(errno));
        delay_ms = delay_ms == 0 ? 5 : delay_ms * 2 > 1000 ? 1000 : delay_ms * 2;
        struct timespec ts = {.tv_sec = delay_ms / 1000, .tv_nsec = (long)(delay_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
}

/* Runs serve(fd) on a thread of its own for every connection, forever. A
 * connection that gets no thread is closed. */
static inline void example_serve_forever(int lfd, void *(*serve)(void *))
{
    for (;;) {
        int fd = example_accept(lfd);
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}

/* Copies s into out (cap bytes, at least 8) with every byte that is not
 * printable ASCII, and the backslash, written as \xNN; "..." ends it when
 * it does not fit. Returns out. For printing what a client sent. */
static const char *example_escaped(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 8 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            out[n++] = (char)ch;
        else
            n += (size_t)snprintf(out + n, cap - n, "\\x%02x", ch);
    }
    if (*s)
        n += (size_t)snprintf(out + n, cap - n, "...");
    out[n] = '\0';
    return out;
}

/* ---- for the one-thread servers (epoll_echo_server, libuv_echo_server) ---- */

/* A connection's echo state in an event loop: an echo the socket could not
 * take is held, and the connection is not read from until it goes. */
typedef struct {
    void *held;
    size_t held_len;
    wsc_msg_type held_type;
    unsigned long echoed;
    bool more;    /* its turn ended at 64 messages: more may wait in wsc's
                     buffer, where no socket event tells of them; serve it
                     again on the loop's next turn */
} example_echo;

/* Echoes what c sent until nothing is left or the socket is full, 64
 * messages at most (then the others have a turn: e->more). The echoes are gathered
 * (wsc_cork) and sent together by one wsc_flush: a client streaming small
 * messages gets many echoes per system call. 0 while the connection goes
 * on, else the error that ended it. Calls with timeout 0 only. */
static inline int example_echo_some(wsc_conn *c, example_echo *e)
{
    /* What earlier turns left goes first; until it has, nothing is read. */
    int r = wsc_want_write(c) ? wsc_flush(c, 0) : 0;
    if (r == WSC_EAGAIN)
        return 0;
    if (e->held) {
        r = wsc_write(c, e->held_type, e->held, e->held_len, 0);
        if (r == WSC_EAGAIN)
            return 0;
        free(e->held);
        e->held = NULL;
        if (r < 0)
            return r;
        e->echoed++;
    }
    if ((r = wsc_cork(c)) < 0)
        return r;
    int i = 0;
    for (; r == 0 && i < 64; i++) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        r = wsc_read(c, 0, &type, &data, &len);
        if (r == 0 && (r = wsc_write(c, type, data, len, 0)) == WSC_EAGAIN) {
            if (!(e->held = malloc(len ? len : 1)))
                return WSC_ENOMEM;
            memcpy(e->held, data, len);
            e->held_len = len;
            e->held_type = type;
        } else if (r == 0) {
            e->echoed++;
        }
    }
    if (r == WSC_ECLOSED && wsc_want_write(c))
        return 0; /* the peer closed; our echoes and reply wait for room (POLLOUT) */
    if (r < 0 && r != WSC_EAGAIN)
        return r;
    e->more = r == 0 && i == 64;
    r = wsc_flush(c, 0); /* what the socket does not take waits for POLLOUT */
    return r == WSC_EAGAIN ? 0 : r;
}

/* What to poll c for: what wsc says, and only writing while an echo is held. */
static inline int example_echo_events(wsc_conn *c, const example_echo *e)
{
    return e->held ? POLLOUT : wsc_poll_events(c);
}

#endif
