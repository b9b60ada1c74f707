/* SPDX-License-Identifier: MIT */
/* hub.c - the chat hub, on the server's one event-loop thread: the list of
 * clients, broadcast into each client's bounded queue, and the queue written
 * out as the client's socket takes it. No client can get another one closed:
 *  - a client whose queue fills with chat messages is too slow to keep up: it
 *    is closed with 1008 (coder/websocket's chat example does the same);
 *  - join and leave notices never fill a queue: past HUB_NOTICE_ROOM they are
 *    dropped and counted, and the client gets one "(N more joined or left)"
 *    line once its queue is empty;
 *  - a client may send `rate` messages a second in bursts of `burst` (a token
 *    bucket). A message over the limit is dropped and the sender alone is
 *    told (at most every TELL_EVERY_S seconds): a steady flood is held to
 *    the limit; after HUB_DROPS_MAX drops in a row (a burst far over it) the
 *    sender is closed with 1008 "sending too fast" once its queue is sent.
 * Every call on a connection has timeout 0; a client closed by us gets
 * CLOSE_WAIT_MS for the close handshake. */
#define _POSIX_C_SOURCE 200809L
#include "hub.h"

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"
#include "relay.h"
#include "wsc.h"

#define TELL_EVERY_S 5.0        /* "you are sending too fast", at most this often */
#define CLOSE_WAIT_MS 5000      /* for the peer's close frame after ours */
#define READ_BURST 32           /* messages read from one client per turn */

/* One message, shared by every queue it is in: prepared once, so that
 * clients that compress (permessage-deflate without context takeover, as
 * the hub accepts it) share one compression of it. */
typedef struct msg {
    int refs;
    wsc_prepared *prep;
} msg;

typedef struct client {
    watcher w;               /* first: the loop hands it back */
    wsc_conn *conn;
    char name[32];
    bool joined;             /* the handshake is done and it was announced */
    bool dead;               /* left: freed after the loop's batch */
    bool flushing;           /* on the flush list */
    bool too_fast;           /* over the send limit: close 1008 once the queue is sent */
    long long close_by;      /* our close frame is out: wait for the peer's until then */
    msg *queue[HUB_QUEUE_MAX];
    int head, count;
    int notices_skipped;     /* notices dropped while the queue was busy */
    double tokens;           /* the send limit's bucket */
    double refilled_at;      /* seconds */
    double told_at;          /* when it was last told it sends too fast */
    int drops_in_row;
    struct client *prev, *next;  /* every client */
    struct client *flush_next;   /* clients with something new in their queue */
    struct client *dead_next;
} client;

static client *clients, *to_flush, *dead;
static wsc_group *group; /* every client's conn, for hub_shutdown */
static int next_guest = 1;
static char name_tag[16]; /* hub_set_name_tag: "TAG-", or "" */
static int rate_per_second = HUB_RATE_DEFAULT;
static int rate_burst = HUB_BURST_DEFAULT;

void hub_set_name_tag(const char *tag)
{
    snprintf(name_tag, sizeof name_tag, "%s-", tag);
}

void hub_set_rate(int per_second, int burst)
{
    rate_per_second = per_second;
    rate_burst = burst;
}

/* The server listens on 127.0.0.1 only: its own names, and what a reverse
 * proxy in front of it is reached by (--allow-host). */
#define HOSTS_MAX 16
static const char *hosts[HOSTS_MAX] = {"localhost", "127.0.0.1", "[::1]"};
static size_t n_hosts = 3;

int hub_allow_host(const char *pattern)
{
    if (n_hosts == HOSTS_MAX)
        return -1;
    hosts[n_hosts++] = pattern;
    return 0;
}

static double now_seconds(void)
{
    return loop_now_ms() / 1000.0;
}

static msg *msg_new(const char *data, size_t len)
{
    msg *m = malloc(sizeof *m);
    if (!m)
        return NULL;
    if (wsc_prepared_new(WSC_TEXT, data, len, &m->prep) != 0) {
        free(m);
        return NULL;
    }
    m->refs = 1;
    return m;
}

static void msg_unref(msg *m)
{
    if (--m->refs == 0) {
        wsc_prepared_free(m->prep);
        free(m);
    }
}

/* Copies s into out (cap bytes, at least 8) with every byte that is not
 * printable ASCII, and the backslash, written as \xNN ("..." ends it when it
 * does not fit): the library's errors quote what the client sent. */
static const char *escaped(const char *s, char *out, size_t cap)
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

/* ---- leaving ---------------------------------------------------------- */

static void broadcast(const char *data, size_t len, bool droppable);

/* cl is gone (err: why): announced if it had joined, then freed after the
 * loop's batch (hub_reap). */
static void leave(client *cl, int err)
{
    if (cl->dead)
        return;
    cl->dead = true;
    loop_forget(&cl->w);
    if (cl->prev)
        cl->prev->next = cl->next;
    else
        clients = cl->next;
    if (cl->next)
        cl->next->prev = cl->prev;
    cl->dead_next = dead;
    dead = cl;
    if (!cl->joined)
        return;
    printf("%s left (%s, close status %d)\n", cl->name, wsc_strerror(err), wsc_close_status(cl->conn));
    char buf[128];
    int n = snprintf(buf, sizeof buf, "* %s left", cl->name);
    broadcast(buf, (size_t)n, true);
}

/* Starts our close with 1008 and reason; the reads that follow wait for
 * the peer's close frame (until close_by). */
static void kick(client *cl, const char *reason)
{
    if (cl->close_by)
        return;
    printf("%s: closing with 1008: %s\n", cl->name, reason);
    cl->close_by = loop_now_ms() + CLOSE_WAIT_MS;
    int r = wsc_close_start(cl->conn, WSC_STATUS_POLICY_VIOLATION, reason);
    if (r < 0)
        leave(cl, r);
}

/* ---- queues ------------------------------------------------------------- */

static void want_flush(client *cl)
{
    if (!cl->flushing && !cl->dead) {
        cl->flushing = true;
        cl->flush_next = to_flush;
        to_flush = cl;
    }
}

static void flush(client *cl);

/* The peer's close came while our output waited for room: wsc queued its
 * reply behind that output. flush() writes both as the socket takes them
 * and then lets cl leave; a peer that never reads is cut at close_by. */
static void finish_close(client *cl)
{
    if (!cl->close_by)
        cl->close_by = loop_now_ms() + CLOSE_WAIT_MS;
    want_flush(cl);
}

/* Queues m for cl. A notice (droppable) past HUB_NOTICE_ROOM is counted
 * instead; any other message on a full queue is first written out as far
 * as the socket takes it, and if the queue is still full cl is too slow.
 * (Queues are otherwise written after each batch of events: hub_after.) */
static void client_push(client *cl, msg *m, bool droppable)
{
    if (!droppable && cl->count == HUB_QUEUE_MAX && cl->joined && !cl->close_by && !cl->dead)
        flush(cl);
    if (!cl->joined || cl->close_by || cl->too_fast || cl->dead) {
        /* not in the chat (yet, or any more) */
    } else if (droppable && cl->count >= HUB_NOTICE_ROOM) {
        cl->notices_skipped++;
    } else if (cl->count == HUB_QUEUE_MAX) {
        printf("%s: queue full\n", cl->name);
        kick(cl, "connection too slow to keep up with messages");
    } else {
        m->refs++;
        cl->queue[(cl->head + cl->count) % HUB_QUEUE_MAX] = m;
        cl->count++;
        want_flush(cl);
    }
}

void hub_deliver(const char *data, size_t len, bool droppable)
{
    msg *m = msg_new(data, len);
    if (!m)
        return;
    for (client *cl = clients; cl; cl = cl->next)
        client_push(cl, m, droppable);
    msg_unref(m);
}

/* To every client of the room: through Redis when the room is shared
 * (relay.c delivers it back here), else here at once. */
static void broadcast(const char *data, size_t len, bool droppable)
{
    if (!relay_active() || !relay_publish(data, len, droppable))
        hub_deliver(data, len, droppable);
}

/* Queues a line for cl alone (not droppable). */
static void tell(client *cl, const char *text)
{
    msg *m = msg_new(text, strlen(text));
    if (!m)
        return;
    client_push(cl, m, false);
    msg_unref(m);
}

/* What the client's poll interest is now: its reads, and its writes while
 * anything waits. */
static void rewatch(client *cl)
{
    int want = wsc_poll_events(cl->conn);
    uint32_t ev = (want & POLLIN ? EPOLLIN : 0) | (want & POLLOUT ? EPOLLOUT : 0);
    if (cl->count > 0 && !cl->close_by && wsc_get_state(cl->conn) == WSC_STATE_OPEN)
        ev |= EPOLLOUT;
    loop_watch(&cl->w, ev);
}

/* Writes cl's queue as far as the socket takes it. */
static void flush(client *cl)
{
    int r = wsc_flush(cl->conn, 0);
    /* Several waiting: gathered into one send (wsc_cork, up to 64 KiB). */
    bool corked = r == 0 && cl->count > 1 && !cl->close_by && wsc_cork(cl->conn) == 0;
    while (r == 0 && cl->count > 0 && !cl->close_by) {
        msg *m = cl->queue[cl->head];
        r = wsc_write_prepared(cl->conn, m->prep, 0);
        if (r == 0) {
            msg_unref(m);
            cl->head = (cl->head + 1) % HUB_QUEUE_MAX;
            cl->count--;
        }
        if (r == 0 && cl->count == 0 && cl->notices_skipped > 0) {
            char buf[64];
            snprintf(buf, sizeof buf, "* (%d more joined or left)", cl->notices_skipped);
            cl->notices_skipped = 0;
            tell(cl, buf);
        }
    }
    if (corked && (r == 0 || r == WSC_EAGAIN))
        r = wsc_flush(cl->conn, 0);
    if (r < 0 && r != WSC_EAGAIN) {
        leave(cl, r);
        return;
    }
    if (cl->close_by && wsc_get_state(cl->conn) == WSC_STATE_CLOSED) {
        leave(cl, WSC_ECLOSED); /* the close handshake is over */
        return;
    }
    if (cl->count == 0 && cl->too_fast)
        kick(cl, "sending too fast");
    if (!cl->dead)
        rewatch(cl);
}

/* ---- reading -------------------------------------------------------------- */

/* Takes a token from cl's bucket: true when cl may send a message now. */
static bool take_token(client *cl)
{
    if (rate_per_second == 0)
        return true;
    double now = now_seconds();
    cl->tokens += (now - cl->refilled_at) * rate_per_second;
    if (cl->tokens > rate_burst)
        cl->tokens = rate_burst;
    cl->refilled_at = now;
    if (cl->tokens < 1)
        return false;
    cl->tokens -= 1;
    return true;
}

/* A message over the limit is dropped: the sender is told (at most every
 * TELL_EVERY_S) and closed at the HUB_DROPS_MAX-th drop in a row (after that
 * all are dropped). */
static void drop_message(client *cl)
{
    if (cl->drops_in_row == HUB_DROPS_MAX)
        return;
    cl->drops_in_row++;
    double now = now_seconds();
    if (now - cl->told_at >= TELL_EVERY_S) {
        cl->told_at = now;
        char text[128];
        snprintf(text, sizeof text,
                 "* you are sending too fast: messages dropped (limit: %d a second, %d at once)",
                 rate_per_second, rate_burst);
        tell(cl, text);
    }
    if (cl->drops_in_row == HUB_DROPS_MAX) {
        cl->too_fast = true;
        want_flush(cl);
    }
}

/* Reads what cl sent (READ_BURST messages at most: the socket stays
 * readable, so the rest comes next turn) and broadcasts it as "name: text". */
static void read_some(client *cl)
{
    char out[HUB_READ_LIMIT + 64];
    for (int i = 0; i < READ_BURST; i++) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        int err = wsc_read(cl->conn, 0, &type, &data, &len);
        if (err == WSC_EAGAIN)
            return;
        if (err == WSC_ECLOSED && wsc_want_write(cl->conn)) {
            finish_close(cl);
            return;
        }
        if (err < 0) {
            leave(cl, err);
            return;
        }
        if (type != WSC_TEXT || cl->close_by)
            continue;
        if (cl->drops_in_row == HUB_DROPS_MAX || !take_token(cl)) {
            drop_message(cl);
            continue;
        }
        cl->drops_in_row = 0;
        int n = snprintf(out, sizeof out, "%s: %.*s", cl->name, (int)len, (const char *)data);
        broadcast(out, (size_t)n < sizeof out ? (size_t)n : sizeof out - 1, false);
    }
}

/* The handshake is done: the client joins the chat. */
static void join(client *cl)
{
    cl->joined = true;
    wsc_set_read_limit(cl->conn, HUB_READ_LIMIT);
    snprintf(cl->name, sizeof cl->name, "guest-%s%d", name_tag, next_guest++);
    cl->tokens = rate_burst;
    cl->refilled_at = now_seconds();
    cl->told_at = cl->refilled_at - TELL_EVERY_S;
    printf("%s joined\n", cl->name);
    char buf[128];
    int n = snprintf(buf, sizeof buf, "* %s joined", cl->name);
    broadcast(buf, (size_t)n, true);
}

static void client_ready(watcher *w, uint32_t events)
{
    client *cl = (client *)w;
    if (cl->dead)
        return;
    wsc_state st = wsc_get_state(cl->conn);
    if (st == WSC_STATE_CONNECTING) {
        rewatch(cl);
        return;
    }
    if (!cl->joined && st == WSC_STATE_CLOSED) {
        char why[512];
        printf("ws handshake failed: %s\n", escaped(wsc_last_error(), why, sizeof why));
        leave(cl, WSC_EHANDSHAKE);
        return;
    }
    if (!cl->joined)
        join(cl);
    if (events & EPOLLOUT)
        want_flush(cl);
    read_some(cl);
    if (!cl->dead)
        rewatch(cl);
}

/* ---- the hub's part of the loop -------------------------------------------- */

void hub_serve(int fd, const void *head, size_t head_len)
{
    client *cl = calloc(1, sizeof *cl);
    wsc_accept_options opts = {.nonblocking = true, .host_patterns = hosts, .n_host_patterns = n_hosts,
                               .compression = WSC_COMPRESSION_NO_CONTEXT_TAKEOVER};
    int r = cl ? wsc_accept_with(fd, head, head_len, &opts, &cl->conn) : WSC_ENOMEM;
    if (r < 0) {
        char why[512];
        printf("ws handshake failed: %s\n", escaped(wsc_last_error(), why, sizeof why));
        close(fd);
        free(cl);
        return;
    }
    if ((group || wsc_group_new(&group) == 0) && wsc_group_add(group, cl->conn) == WSC_ECLOSED)
        wsc_close_start(cl->conn, WSC_STATUS_GOING_AWAY, "server shutting down");
    cl->w.ready = client_ready;
    cl->w.fd = fd;
    cl->next = clients;
    if (clients)
        clients->prev = cl;
    clients = cl;
    client_ready(&cl->w, 0);
}

size_t hub_shutdown(void)
{
    size_t n = wsc_group_count(group);
    if (n) {
        printf("chat: closing %zu clients (1001)\n", n);
        wsc_group_close(group, WSC_STATUS_GOING_AWAY, "server shutting down", 0);
    }
    return n;
}

size_t hub_count(void)
{
    return wsc_group_count(group);
}

void hub_after(void)
{
    while (to_flush) {
        client *cl = to_flush;
        to_flush = cl->flush_next;
        cl->flushing = false;
        if (!cl->dead)
            flush(cl);
    }
    while (dead) {
        client *cl = dead;
        dead = cl->dead_next;
        while (cl->count > 0) {
            msg_unref(cl->queue[cl->head]);
            cl->head = (cl->head + 1) % HUB_QUEUE_MAX;
            cl->count--;
        }
        wsc_conn_free(cl->conn);
        free(cl);
    }
}

void hub_tick(long long now)
{
    client *next;
    for (client *cl = clients; cl; cl = next) {
        next = cl->next;
        if (!cl->joined) {
            client_ready(&cl->w, 0); /* its handshake deadline */
        } else if (cl->close_by && now >= cl->close_by) {
            wsc_close_now(cl->conn);
            leave(cl, WSC_ETIMEDOUT);
        }
    }
}
