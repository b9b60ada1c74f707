/* SPDX-License-Identifier: MIT */
/*
 * server.c - listen mode: one thread serves every client from an epoll loop
 * (handshakes, TLS included, advance with nonblocking wsc_accept). With
 * --echo every message of any number of clients is echoed until the tool is
 * killed; without it the first client to complete its handshake is piped to
 * stdin/stdout (then the tool exits like the client). A failure that
 * concerns clients (a handshake, no fd for one) never ends the server: the
 * client is dropped and, when fds run out, accepting pauses and backs off.
 */
#define _GNU_SOURCE

#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Every TICK_MS the loop looks at every client: handshakes that a silent
 * client lets time out, echoes that a client does not take. */
#define TICK_MS 200

/* With --echo, how long an echo may wait to be taken when --timeout does
 * not say: a client that reads nothing for that long is disconnected. */
#define ECHO_WRITE_MS 30000

/* Messages echoed for one client before the others get their turn. */
#define BURST 32

/* accept(2) out of fds or memory: said once when it starts and once when
 * it ends; accepting pauses from BACKOFF_FIRST_MS doubling to BACKOFF_MAX_MS,
 * so the loop never spins and keeps serving the clients it has. */
#define BACKOFF_FIRST_MS 5
#define BACKOFF_MAX_MS 1000

typedef struct client {
    wsc_conn *c;
    int fd;
    uint32_t events;            /* what epoll watches for it */
    bool open;                  /* its handshake is done */
    bool ready;                 /* on the ready list: BURST cut its turn short */
    void *held;                 /* an echo the socket could not take yet */
    size_t held_len;
    wsc_msg_type held_type;
    long long stalled_since;    /* since when the client takes none of what
                                   it is owed (see owing); 0: it owes nothing */
    size_t owed;                /* what it owed then */
    char peer[80];
    struct client *prev, *next; /* all clients */
    struct client *ready_next;
} client;

typedef struct {
    const cli_options *o;
    wsc_accept_options accept;
    wsc_tls_server *tls;
    int lfd, ep;
    bool listening;             /* lfd is in the epoll set */
    long long resume_at;        /* accepting paused until then */
    int pause_ms;               /* the current pause, 0: accepting works */
    unsigned long failures;     /* accept(2) failures in this burst */
    client *clients, *ready;
    int write_ms;
    wsc_conn *chosen;           /* without --echo: the client to pipe */
} server;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- clients ------------------------------------------------------------ */

static uint32_t epoll_events(const client *cl)
{
    /* While echoes wait for room, only room matters (see echo). */
    int want = cl->open && (cl->held || wsc_want_write(cl->c)) ? POLLOUT : wsc_poll_events(cl->c);
    return (want & POLLIN ? EPOLLIN : 0) | (want & POLLOUT ? EPOLLOUT : 0);
}

/* Tells epoll what cl waits for now. */
static void watch(server *s, client *cl)
{
    uint32_t ev = epoll_events(cl);
    if (ev == cl->events)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = cl};
    epoll_ctl(s->ep, EPOLL_CTL_MOD, cl->fd, &e);
    cl->events = ev;
}

static void unlink_ready(server *s, client *cl)
{
    for (client **p = &s->ready; *p; p = &(*p)->ready_next) {
        if (*p == cl) {
            *p = cl->ready_next;
            break;
        }
    }
    cl->ready = false;
}

/* Takes cl out of the loop; frees it, and its conn unless `keep`. */
static void drop(server *s, client *cl, bool keep)
{
    epoll_ctl(s->ep, EPOLL_CTL_DEL, cl->fd, NULL);
    if (cl->ready)
        unlink_ready(s, cl);
    if (cl->prev)
        cl->prev->next = cl->next;
    else
        s->clients = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    if (!keep)
        wsc_conn_free(cl->c);
    free(cl->held);
    free(cl);
}

/* The connection ended with r (or its handshake failed): says so and drops it. */
static void ended(server *s, client *cl, int r)
{
    char name[64];
    if (!cl->open)
        cli_err("handshake with %s failed: %s: %s", cl->peer, cli_err_name(r, name, sizeof name),
                wsc_last_error());
    else if (s->o->verbose)
        cli_err("%s: closed with %d: %s", cl->peer, wsc_close_status(cl->c), wsc_last_error());
    drop(s, cl, false);
}

/* cl's socket did not take all it owes its client (the rest of echoes, or
 * a held one): the --timeout clock runs, restarted whenever some went out. */
static void owing(client *cl)
{
    size_t left = wsc_buffered_amount(cl->c) + (cl->held ? cl->held_len : 0);
    if (!cl->stalled_since || left < cl->owed)
        cl->stalled_since = now_ms();
    cl->owed = left;
}

/* Keeps a copy of an echo the socket had no room for. 0 or WSC_ENOMEM. */
static int hold(client *cl, wsc_msg_type type, const void *data, size_t len)
{
    if (!(cl->held = malloc(len ? len : 1)))
        return WSC_ENOMEM;
    memcpy(cl->held, data, len);
    cl->held_len = len;
    cl->held_type = type;
    return 0;
}

/* Echoes what cl sent, BURST messages at most, gathered (wsc_cork) and
 * sent together. Until the socket has taken what earlier echoes left,
 * nothing more is read: the client's own sends then wait in its socket.
 * False when cl was dropped. */
static bool echo(server *s, client *cl)
{
    int r = wsc_flush(cl->c, 0);
    if (r == 0 && cl->held && (r = wsc_write(cl->c, cl->held_type, cl->held, cl->held_len, 0)) == 0) {
        free(cl->held);
        cl->held = NULL;
    }
    int n = 0;
    if (r == 0 && (r = wsc_cork(cl->c)) == 0) {
        for (; r == 0 && n < BURST; n++) {
            wsc_msg_type type;
            const void *data;
            size_t len;
            if ((r = wsc_read(cl->c, 0, &type, &data, &len)) == 0 &&
                (r = wsc_write(cl->c, type, data, len, 0)) == WSC_EAGAIN &&
                (r = hold(cl, type, data, len)) == 0)
                break;
        }
        if (r == 0 || r == WSC_EAGAIN)
            r = wsc_flush(cl->c, 0);
    }
    /* The peer's close with echoes still owed: they and our reply wait
     * for room, then the read after the flush ends it. */
    if (r == WSC_EAGAIN || (r == 0 && cl->held) || (r == WSC_ECLOSED && wsc_want_write(cl->c))) {
        owing(cl);
        return true;
    }
    if (r < 0) {
        int end = wsc_conn_error(cl->c); /* what ended it, and its detail again */
        ended(s, cl, end < 0 ? end : r);
        return false;
    }
    cl->stalled_since = 0;
    if (n == BURST) { /* more may wait in wsc's buffer */
        cl->ready = true;
        cl->ready_next = s->ready;
        s->ready = cl;
    }
    return true;
}

/* Whatever cl is ready for: its handshake, its messages. */
static void serve(server *s, client *cl)
{
    wsc_state st = wsc_get_state(cl->c);
    if (st == WSC_STATE_CLOSED) { /* the handshake failed: a read says why */
        wsc_msg_type type;
        const void *data;
        size_t len;
        ended(s, cl, wsc_read(cl->c, 0, &type, &data, &len));
        return;
    }
    if (st == WSC_STATE_OPEN && !cl->open) {
        cl->open = true;
        wsc_set_read_limit(cl->c, s->o->max_size);
        if (s->o->verbose)
            cli_err("%s connected to %s (subprotocol \"%s\", extensions \"%s\")", cl->peer,
                    wsc_request_target(cl->c), wsc_subprotocol(cl->c), wsc_extensions(cl->c));
        if (!s->o->echo) {
            s->chosen = cl->c;
            drop(s, cl, true);
            return;
        }
    }
    if (st == WSC_STATE_CONNECTING || echo(s, cl))
        watch(s, cl);
}

/* A new TCP connection: its handshake starts (and may finish at once). */
static void add_client(server *s, int fd, const char *peer)
{
    client *cl = calloc(1, sizeof *cl);
    wsc_conn *c = NULL;
    int r = cl ? wsc_accept(fd, &s->accept, &c) : WSC_ENOMEM;
    if (r < 0) {
        char name[64];
        cli_err("handshake with %s failed: %s: %s", peer, cli_err_name(r, name, sizeof name),
                wsc_last_error());
        close(fd);
        free(cl);
        return;
    }
    cl->c = c;
    cl->fd = fd;
    snprintf(cl->peer, sizeof cl->peer, "%s", peer);
    cl->next = s->clients;
    if (s->clients)
        s->clients->prev = cl;
    s->clients = cl;
    cl->events = epoll_events(cl);
    struct epoll_event e = {.events = cl->events, .data.ptr = cl};
    epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e);
    serve(s, cl);
}

/* ---- the listening socket ----------------------------------------------- */

static void set_listening(server *s, bool on)
{
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
    if (on != s->listening)
        epoll_ctl(s->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->lfd, &e);
    s->listening = on;
}

/* Accepts what is waiting (64 at most per turn). False if the listening
 * socket failed. */
static bool accept_clients(server *s)
{
    for (int i = 0; i < 64 && !s->chosen; i++) {
        char peer[80], why[256];
        int fd = cli_accept_socket(s->lfd, peer, sizeof peer, why, sizeof why);
        if (fd == CLI_ACCEPT_NONE)
            break;
        if (fd == CLI_ACCEPT_BROKEN) {
            cli_err("%s", why);
            return false;
        }
        if (fd == CLI_ACCEPT_SHORT) {
            if (s->failures++ == 0)
                cli_err("%s", why);
            s->pause_ms = s->pause_ms ? 2 * s->pause_ms : BACKOFF_FIRST_MS;
            if (s->pause_ms > BACKOFF_MAX_MS)
                s->pause_ms = BACKOFF_MAX_MS;
            s->resume_at = now_ms() + s->pause_ms;
            set_listening(s, false);
            break;
        }
        if (s->failures)
            cli_err("accepting connections again after %lu failure%s", s->failures,
                    s->failures == 1 ? "" : "s");
        s->failures = 0;
        s->pause_ms = 0;
        add_client(s, fd, peer);
    }
    return true;
}

/* ---- the loop ----------------------------------------------------------- */

/* Every TICK_MS: handshake deadlines, echoes not taken, accepting again. */
static void tick(server *s, long long now)
{
    client *next;
    for (client *cl = s->clients; cl && !s->chosen; cl = next) {
        next = cl->next;
        if (!cl->open) {
            serve(s, cl);
        } else if (cl->stalled_since && now - cl->stalled_since >= s->write_ms) {
            cli_err("%s: an echo was not taken within %g s (the client does not read): "
                    "disconnected", cl->peer, s->write_ms / 1000.0);
            drop(s, cl, false);
        }
    }
    if (!s->listening && now >= s->resume_at)
        set_listening(s, true);
}

/* Runs until the listening socket fails or, without --echo, a client is
 * chosen. */
static void run(server *s)
{
    struct epoll_event evs[256];
    long long next_tick = now_ms() + TICK_MS;
    while (!s->chosen) {
        long long now = now_ms();
        int timeout = s->ready ? 0 : next_tick > now ? (int)(next_tick - now) : 0;
        int n = epoll_wait(s->ep, evs, 256, timeout);
        if (n < 0 && errno != EINTR) {
            cli_err("epoll_wait: %s", strerror(errno));
            return;
        }
        for (int i = 0; i < n && !s->chosen; i++) {
            if (!evs[i].data.ptr) {
                if (!accept_clients(s))
                    return;
            } else {
                serve(s, evs[i].data.ptr);
            }
        }
        /* Turns cut short; a client dropped above left this list. */
        client *batch = s->ready;
        s->ready = NULL;
        for (client *cl = batch, *next; cl && !s->chosen; cl = next) {
            next = cl->ready_next;
            cl->ready = false;
            serve(s, cl);
        }
        now = now_ms();
        if (now >= next_tick) {
            tick(s, now);
            next_tick = now + TICK_MS;
        }
    }
}

/* A server holds a socket per client: take every fd the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int cli_server(const cli_options *o)
{
    server s = {.o = o, .lfd = -1, .ep = -1};
    s.write_ms = o->timeout_ms > 0 ? o->timeout_ms : ECHO_WRITE_MS;
    raise_fd_limit();
    int r = cli_load_tls(o, &s.tls);
    if (r == 0) {
        cli_accept_options(o, s.tls, &s.accept);
        s.accept.nonblocking = true;
        r = cli_check_accept_options(&s.accept);
    }
    if (r == 0)
        r = cli_listen(o, s.tls != NULL, &s.lfd);
    if (r == 0 && (s.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        cli_err("epoll_create1: %s", strerror(errno));
        r = CLI_EXIT_LOCAL;
    }
    if (r == 0) {
        set_listening(&s, true);
        run(&s);
        r = CLI_EXIT_LOCAL;
    }
    while (s.clients)
        drop(&s, s.clients, false);
    if (s.ep >= 0)
        close(s.ep);
    if (s.lfd >= 0)
        close(s.lfd);
    if (s.chosen) {
        r = cli_session(s.chosen, o);
        wsc_conn_free(s.chosen);
    }
    wsc_tls_server_free(s.tls);
    return r;
}
