/* SPDX-License-Identifier: MIT */
/*
 * libuv_echo_server - wsc inside an existing event loop: an echo server whose
 * clients are libuv handles (Debian's libuv1-dev; link with -luv).
 *
 * What it shows: wsc needs nothing from the loop but a way to watch a file
 * descriptor and a timer. Each client is a uv_poll_t on wsc_fd(c), started
 * for what wsc_poll_events(c) asks; when libuv says the socket is ready, the
 * wsc calls run with timeout 0 and never block. A uv_timer_t advances
 * handshakes whose clients send nothing (so their timeout is seen). The
 * listening socket is a uv_poll_t too. Clients offering the "echo"
 * subprotocol get it (as with echo_server.c), others are served as well.
 * An echo the socket cannot take is held and the client is not read from
 * until it drains. One line is printed per connection when it ends.
 *
 *   make examples
 *   build/native/examples/libuv_echo_server 8080 &
 *   build/native/examples/echo_client ws://127.0.0.1:8080/
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "example_server.h"
#include "wsc.h"

typedef struct client {
    uv_poll_t poll;         /* first: libuv hands it back */
    wsc_conn *c;
    char target[512];       /* escaped, for printing; "" until open */
    example_echo echo;      /* what it echoed, and an echo held back */
    struct client *next;    /* every client, for the timer */
} client;

static uv_loop_t *loop;
static client *clients;
static uv_idle_t more;        /* active while a client's turn ended with
                                 messages maybe left (example_echo.more) */
static bool accept_failing;   /* said once per run of accept failures */

static void on_ready(uv_poll_t *h, int status, int events);
static void on_more(uv_idle_t *h);

/* Tells libuv what cl waits for: what wsc says, only writing while an echo
 * is held. */
static void watch(client *cl)
{
    int want = example_echo_events(cl->c, &cl->echo);
    uv_poll_start(&cl->poll, (want & POLLIN ? UV_READABLE : 0) | (want & POLLOUT ? UV_WRITABLE : 0),
                  on_ready);
}

static void on_closed(uv_handle_t *h)
{
    client *cl = (client *)h;
    wsc_conn_free(cl->c); /* closes the socket, now that libuv is done with it */
    free(cl->echo.held);
    free(cl);
}

static void end(client *cl, int err)
{
    char why[512];
    if (err == WSC_ECLOSED && wsc_close_status(cl->c) == WSC_STATUS_NORMAL_CLOSURE)
        printf("%s: echoed %lu messages, client closed normally\n", cl->target, cl->echo.echoed);
    else
        printf("%s: echoed %lu messages, then: %s (%s)\n", cl->target[0] ? cl->target : "handshake",
               cl->echo.echoed, example_escaped(wsc_last_error(), why, sizeof why), wsc_strerror(err));
    for (client **p = &clients; *p; p = &(*p)->next) {
        if (*p == cl) {
            *p = cl->next;
            break;
        }
    }
    uv_close((uv_handle_t *)&cl->poll, on_closed);
}

static void serve(client *cl)
{
    wsc_state st = wsc_get_state(cl->c);
    if (st == WSC_STATE_OPEN && !cl->target[0])
        example_escaped(wsc_request_target(cl->c), cl->target, sizeof cl->target);
    int r = st == WSC_STATE_CONNECTING ? 0 : example_echo_some(cl->c, &cl->echo);
    if (r == 0 && wsc_get_state(cl->c) == WSC_STATE_CLOSED)
        r = WSC_EHANDSHAKE; /* its handshake failed: wsc_last_error() says why */
    if (r < 0) {
        end(cl, r);
        return;
    }
    if (cl->echo.more)
        uv_idle_start(&more, on_more);
    watch(cl);
}

/* The turns cut short go on. */
static void on_more(uv_idle_t *h)
{
    uv_idle_stop(h);
    client *next;
    for (client *cl = clients; cl; cl = next) {
        next = cl->next;
        if (cl->echo.more)
            serve(cl);
    }
}

static void on_ready(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    serve((client *)h);
}

static void on_accept(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    static const char *const protocols[] = {"echo"};
    wsc_accept_options opts = {.subprotocols = protocols, .n_subprotocols = 1, .nonblocking = true};
    uv_os_fd_t lfd;
    uv_fileno((uv_handle_t *)h, &lfd);
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
            /* no fd or memory: accepting stops, the timer resumes it */
            if (!accept_failing)
                printf("accept: %s; retrying every 200 ms\n", strerror(errno));
            accept_failing = true;
            uv_poll_stop(h);
        }
        return;
    }
    accept_failing = false;
    client *cl = calloc(1, sizeof *cl);
    char why[512];
    int err = cl ? wsc_accept(fd, &opts, &cl->c) : WSC_ENOMEM;
    if (err < 0) {
        printf("handshake failed: %s (%s)\n", example_escaped(wsc_last_error(), why, sizeof why),
               wsc_strerror(err));
        close(fd);
        free(cl);
        return;
    }
    uv_poll_init(loop, &cl->poll, fd);
    cl->next = clients;
    clients = cl;
    serve(cl);
}

/* Every 200 ms: handshakes of silent clients advance (and time out), and
 * accepting resumes if a lack of fds stopped it. */
static void on_tick(uv_timer_t *t)
{
    uv_poll_t *lis = t->data;
    if (!uv_is_active((uv_handle_t *)lis))
        uv_poll_start(lis, UV_READABLE, on_accept);
    client *next;
    for (client *cl = clients; cl; cl = next) {
        next = cl->next;
        if (!cl->target[0])
            serve(cl);
    }
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    setvbuf(stdout, NULL, _IOLBF, 0);
    int lfd = example_listen(port, &port);
    if (lfd < 0) {
        perror("listen");
        return 1;
    }
    loop = uv_default_loop();
    uv_poll_t lis;
    uv_timer_t tick;
    uv_poll_init(loop, &lis, lfd);
    uv_poll_start(&lis, UV_READABLE, on_accept);
    uv_idle_init(loop, &more);
    uv_timer_init(loop, &tick);
    tick.data = &lis;
    uv_timer_start(&tick, on_tick, 200, 200);
    printf("listening on ws://127.0.0.1:%d/\n", port);
    return uv_run(loop, UV_RUN_DEFAULT);
}
