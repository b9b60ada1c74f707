/* SPDX-License-Identifier: MIT */
/*
 * epoll_echo_server - echo_server on one thread: every client served from an
 * epoll loop, with nothing that blocks.
 *
 * The same contract as echo_server.c (clients must offer the "echo"
 * subprotocol, else they are closed with 1008; one line per connection when
 * it ends, escaped), but no thread per client: the handshake is a
 * nonblocking wsc_accept, reads and writes use timeout 0, and wsc_fd +
 * wsc_poll_events say what to wait for. A client whose echo the socket
 * cannot take has it held, and is not read from until it drains (the
 * client's own sends then wait in its socket: backpressure). A tick every
 * 200 ms advances handshakes whose clients send nothing (their timeout).
 *
 *   make examples
 *   build/native/examples/epoll_echo_server 8080 &
 *   build/native/examples/echo_client ws://127.0.0.1:8080/
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "example_server.h"
#include "wsc.h"

#define TICK_MS 200
#define CLOSE_WAIT_MS 5000  /* for the client's close frame after ours */

typedef struct client {
    wsc_conn *c;
    int fd;
    char target[512];       /* escaped, for printing */
    example_echo echo;      /* what it echoed, and an echo held back */
    long long close_by;     /* we closed: wait for the client's close until then */
    struct client *next;    /* every client, for the tick */
} client;

static int ep;
static client *clients;
static bool any_more; /* a client's turn ended with messages maybe left */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Tells epoll what cl waits for: what wsc says, and only writing while an
 * echo is held. */
static void watch(client *cl, int op)
{
    int want = example_echo_events(cl->c, &cl->echo);
    struct epoll_event e = {.events = (want & POLLIN ? EPOLLIN : 0) | (want & POLLOUT ? EPOLLOUT : 0),
                            .data.ptr = cl};
    epoll_ctl(ep, op, cl->fd, &e);
}

static void end(client *cl, int err)
{
    char why[512];
    if (err == WSC_ECLOSED && wsc_close_status(cl->c) == WSC_STATUS_NORMAL_CLOSURE)
        printf("%s: echoed %lu messages, client closed normally\n", cl->target, cl->echo.echoed);
    else if (cl->target[0])
        printf("%s: echoed %lu messages, then: %s (%s)\n", cl->target, cl->echo.echoed,
               example_escaped(wsc_last_error(), why, sizeof why), wsc_strerror(err));
    else
        printf("handshake failed: %s (%s)\n", example_escaped(wsc_last_error(), why, sizeof why),
               wsc_strerror(err));
    epoll_ctl(ep, EPOLL_CTL_DEL, cl->fd, NULL);
    for (client **p = &clients; *p; p = &(*p)->next) {
        if (*p == cl) {
            *p = cl->next;
            break;
        }
    }
    wsc_conn_free(cl->c); /* closes fd */
    free(cl->echo.held);
    free(cl);
}

static void serve(client *cl)
{
    wsc_state st = wsc_get_state(cl->c);
    if (st == WSC_STATE_CONNECTING) {
        watch(cl, EPOLL_CTL_MOD);
        return;
    }
    if (!cl->target[0] && st == WSC_STATE_OPEN) { /* the handshake is done */
        example_escaped(wsc_request_target(cl->c), cl->target, sizeof cl->target);
        if (strcmp(wsc_subprotocol(cl->c), "echo") != 0) {
            printf("%s: refused, no \"echo\" subprotocol\n", cl->target);
            wsc_close_start(cl->c, WSC_STATUS_POLICY_VIOLATION,
                            "client must speak the echo subprotocol");
            cl->close_by = now_ms() + CLOSE_WAIT_MS;
        }
    }
    int r = example_echo_some(cl->c, &cl->echo);
    if (r < 0) {
        end(cl, r);
        return;
    }
    any_more = any_more || cl->echo.more;
    watch(cl, EPOLL_CTL_MOD);
}

static void take(int fd)
{
    static const char *const protocols[] = {"echo"};
    wsc_accept_options opts = {.subprotocols = protocols, .n_subprotocols = 1, .nonblocking = true};
    client *cl = calloc(1, sizeof *cl);
    char why[512];
    int err = cl ? wsc_accept(fd, &opts, &cl->c) : WSC_ENOMEM;
    if (err < 0) {
        printf("handshake failed: %s (%s)\n", example_escaped(wsc_last_error(), why, sizeof why),
               wsc_strerror(err));
        close(fd); /* on failure the socket is still ours */
        free(cl);
        return;
    }
    cl->fd = fd;
    cl->next = clients;
    clients = cl;
    watch(cl, EPOLL_CTL_ADD);
    serve(cl);
}

/* Every TICK_MS: handshakes that wait for a silent client, closes that wait
 * too long for the client's answer. */
static void tick(long long now)
{
    client *next;
    for (client *cl = clients; cl; cl = next) {
        next = cl->next;
        if (cl->close_by && now >= cl->close_by) {
            wsc_close_now(cl->c);
            end(cl, WSC_ETIMEDOUT);
        } else if (!cl->target[0]) {
            serve(cl);
        }
    }
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    setvbuf(stdout, NULL, _IOLBF, 0);
    int lfd = example_listen(port, &port);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (lfd < 0 || ep < 0) {
        perror("listen");
        return 1;
    }
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &le);
    printf("listening on ws://127.0.0.1:%d/\n", port);

    int pause_ms = 0;        /* accept failing (no fd left): paused this long */
    long long resume_at = 0, next_tick = now_ms() + TICK_MS;
    for (;;) {
        struct epoll_event evs[64];
        long long now = now_ms();
        long long wake = resume_at && resume_at < next_tick ? resume_at : next_tick;
        int n = epoll_wait(ep, evs, 64, wake > now && !any_more ? (int)(wake - now) : 0);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr) {
                serve(evs[i].data.ptr);
                continue;
            }
            int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd >= 0) {
                pause_ms = 0;
                take(fd);
            } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                /* no fd or memory: stop accepting for a while, 5 ms doubling to 1 s */
                if (pause_ms == 0)
                    printf("accept: %s; retrying, less and less often\n", strerror(errno));
                pause_ms = pause_ms == 0 ? 5 : pause_ms * 2 > 1000 ? 1000 : pause_ms * 2;
                resume_at = now_ms() + pause_ms;
                epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL);
            }
        }
        if (any_more) { /* the turns cut short go on */
            any_more = false;
            client *next;
            for (client *cl = clients; cl; cl = next) {
                next = cl->next;
                if (cl->echo.more)
                    serve(cl);
            }
        }
        now = now_ms();
        if (pause_ms && resume_at && now >= resume_at) {
            resume_at = 0;
            epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &le);
        }
        if (now >= next_tick) {
            tick(now);
            next_tick = now + TICK_MS;
        }
    }
}
