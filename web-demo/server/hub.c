/* SPDX-License-Identifier: MIT */
/* hub.c - the chat hub: the list of clients, broadcast into each client's
 * bounded queue, and the per-client writer thread that drains it. No client
 * can get another one closed:
 *  - a client whose queue fills with chat messages is too slow to keep up: it
 *    is closed with 1008 (coder/websocket's chat example does the same);
 *  - join and leave notices never fill a queue: past HUB_NOTICE_ROOM they are
 *    dropped and counted, and the client gets one "(N more joined or left)"
 *    line once its queue is empty;
 *  - a client may send `rate` messages a second in bursts of `burst` (a token
 *    bucket). A message over the limit is dropped and the sender alone is
 *    told (at most every TELL_EVERY_S seconds): a steady flood is held to
 *    the limit; after HUB_DROPS_MAX drops in a row (a burst far over it) the
 *    sender is closed with 1008 "sending too fast" once its queue is sent. */
#define _POSIX_C_SOURCE 200809L
#include "hub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wsc.h"

#define WRITE_TIMEOUT_MS 5000
#define TELL_EVERY_S 5.0        /* "you are sending too fast", at most this often */

/* One message, shared by every queue it is in. */
typedef struct msg {
    atomic_int refs;
    size_t len;
    char data[];
} msg;

typedef struct client {
    wsc_conn *conn;
    char name[32];
    pthread_mutex_t mu;      /* guards the queue and the fields up to `next` */
    pthread_cond_t cv;
    msg *queue[HUB_QUEUE_MAX];
    int head, count;
    int notices_skipped;     /* notices dropped while the queue was busy */
    bool leaving;            /* the reader is done: writer, stop */
    bool too_slow;           /* the queue overflowed: writer, close 1008 now */
    bool too_fast;           /* over the send limit: writer, send the queue, close 1008 */
    struct client *next;     /* guarded by hub_mu */
    double tokens;           /* the send limit's bucket (the reader's own) */
    double refilled_at;      /* seconds, monotonic */
    double told_at;          /* when it was last told it sends too fast */
    int drops_in_row;
} client;

static pthread_mutex_t hub_mu = PTHREAD_MUTEX_INITIALIZER;
static client *clients;
static atomic_int next_guest = 1;
static int rate_per_second = HUB_RATE_DEFAULT;
static int rate_burst = HUB_BURST_DEFAULT;

void hub_set_rate(int per_second, int burst)
{
    rate_per_second = per_second;
    rate_burst = burst;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static msg *msg_new(const char *data, size_t len)
{
    msg *m = malloc(sizeof *m + len);
    if (!m)
        return NULL;
    atomic_init(&m->refs, 1);
    m->len = len;
    memcpy(m->data, data, len);
    return m;
}

static void msg_unref(msg *m)
{
    if (atomic_fetch_sub(&m->refs, 1) == 1)
        free(m);
}

/* Queues m for cl. A notice (droppable) past HUB_NOTICE_ROOM is counted
 * instead; any other message on a full queue marks cl too slow. */
static void client_push(client *cl, msg *m, bool droppable)
{
    pthread_mutex_lock(&cl->mu);
    if (cl->leaving || cl->too_slow || cl->too_fast) {
        /* the writer is stopping: nothing more for it */
    } else if (droppable && cl->count >= HUB_NOTICE_ROOM) {
        cl->notices_skipped++;
    } else if (cl->count == HUB_QUEUE_MAX) {
        printf("%s: queue full\n", cl->name);
        cl->too_slow = true;
    } else {
        atomic_fetch_add(&m->refs, 1);
        cl->queue[(cl->head + cl->count) % HUB_QUEUE_MAX] = m;
        cl->count++;
    }
    pthread_cond_signal(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
}

static void broadcast(const char *data, size_t len, bool droppable)
{
    msg *m = msg_new(data, len);
    if (!m)
        return;
    pthread_mutex_lock(&hub_mu);
    for (client *cl = clients; cl; cl = cl->next)
        client_push(cl, m, droppable);
    pthread_mutex_unlock(&hub_mu);
    msg_unref(m);
}

/* A join or leave notice: "* NAME joined". */
static void broadcast_notice(const char *name, const char *what)
{
    char buf[128];
    int n = snprintf(buf, sizeof buf, "* %s %s", name, what);
    broadcast(buf, (size_t)n, true);
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

/* The line that stands for n skipped notices; NULL without memory. */
static msg *skipped_notices(int n)
{
    char buf[64];
    int len = snprintf(buf, sizeof buf, "* (%d more joined or left)", n);
    return msg_new(buf, (size_t)len);
}

/* Waits for the writer's next message: true with *out set (NULL when a
 * summary line could not be made), false when the writer must stop. */
static bool client_pop(client *cl, msg **out)
{
    pthread_mutex_lock(&cl->mu);
    while (cl->count == 0 && cl->notices_skipped == 0 && !cl->leaving && !cl->too_slow &&
           !cl->too_fast)
        pthread_cond_wait(&cl->cv, &cl->mu);
    bool go = !cl->leaving && !cl->too_slow;
    *out = NULL;
    if (go && cl->count > 0) {
        *out = cl->queue[cl->head];
        cl->head = (cl->head + 1) % HUB_QUEUE_MAX;
        cl->count--;
    } else if (go && cl->notices_skipped > 0) {
        *out = skipped_notices(cl->notices_skipped);
        cl->notices_skipped = 0;
    } else {
        go = false; /* too fast, and the queue is sent */
    }
    pthread_mutex_unlock(&cl->mu);
    return go;
}

/* Why the writer stopped: the reason to close with, or NULL. */
static const char *kick_reason(client *cl)
{
    pthread_mutex_lock(&cl->mu);
    const char *reason = cl->too_slow ? "connection too slow to keep up with messages"
                         : cl->too_fast ? "sending too fast"
                                        : NULL;
    pthread_mutex_unlock(&cl->mu);
    return reason;
}

static void *writer_main(void *arg)
{
    client *cl = arg;
    msg *m;
    while (client_pop(cl, &m)) {
        if (!m)
            continue;
        int err = wsc_write(cl->conn, WSC_TEXT, m->data, m->len, WRITE_TIMEOUT_MS);
        msg_unref(m);
        if (err < 0) {
            /* WSC_ECLOSED: the peer closed, and the reader, which saw it, is
             * sending our reply; shutting the socket now would cut that off
             * (the client would see 1006). Else wake the reader. */
            if (err != WSC_ECLOSED)
                wsc_close_now(cl->conn);
            return NULL;
        }
    }
    const char *reason = kick_reason(cl);
    if (reason) {
        printf("%s: closing with 1008: %s\n", cl->name, reason);
        wsc_close(cl->conn, WSC_STATUS_POLICY_VIOLATION, reason);
    }
    return NULL;
}

static void hub_add(client *cl)
{
    pthread_mutex_lock(&hub_mu);
    cl->next = clients;
    clients = cl;
    pthread_mutex_unlock(&hub_mu);
}

static void hub_remove(client *cl)
{
    pthread_mutex_lock(&hub_mu);
    for (client **p = &clients; *p; p = &(*p)->next) {
        if (*p == cl) {
            *p = cl->next;
            break;
        }
    }
    pthread_mutex_unlock(&hub_mu);
}

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
        pthread_mutex_lock(&cl->mu);
        cl->too_fast = true;
        pthread_cond_signal(&cl->cv);
        pthread_mutex_unlock(&cl->mu);
    }
}

/* Reads the client's messages and broadcasts them as "name: text" until it
 * goes; returns the error that ended it. */
static int read_loop(client *cl)
{
    char out[HUB_READ_LIMIT + 64];
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        int err = wsc_read(cl->conn, -1, &type, &data, &len);
        if (err < 0)
            return err;
        if (type != WSC_TEXT)
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

static void client_free(client *cl)
{
    while (cl->count > 0) {
        msg_unref(cl->queue[cl->head]);
        cl->head = (cl->head + 1) % HUB_QUEUE_MAX;
        cl->count--;
    }
    pthread_cond_destroy(&cl->cv);
    pthread_mutex_destroy(&cl->mu);
    wsc_conn_free(cl->conn);
    free(cl);
}

static void client_stop_writer(client *cl, pthread_t writer)
{
    pthread_mutex_lock(&cl->mu);
    cl->leaving = true;
    pthread_cond_signal(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
    pthread_join(writer, NULL);
}

static client *client_new(wsc_conn *conn)
{
    client *cl = calloc(1, sizeof *cl);
    if (!cl)
        return NULL;
    cl->conn = conn;
    snprintf(cl->name, sizeof cl->name, "guest-%d", atomic_fetch_add(&next_guest, 1));
    pthread_mutex_init(&cl->mu, NULL);
    pthread_cond_init(&cl->cv, NULL);
    cl->tokens = rate_burst;
    cl->refilled_at = now_seconds();
    cl->told_at = cl->refilled_at - TELL_EVERY_S;
    return cl;
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

void hub_serve(int fd, const void *head, size_t head_len)
{
    wsc_conn *conn;
    wsc_accept_options opts = {0};
    if (wsc_accept_with(fd, head, head_len, &opts, &conn) < 0) {
        char why[512];
        printf("ws handshake failed: %s\n", escaped(wsc_last_error(), why, sizeof why));
        close(fd);
        return;
    }
    wsc_set_read_limit(conn, HUB_READ_LIMIT);
    client *cl = client_new(conn);
    pthread_t writer;
    if (!cl || pthread_create(&writer, NULL, writer_main, cl) != 0) {
        wsc_close(conn, WSC_STATUS_TRY_AGAIN_LATER, "server busy");
        free(cl);
        wsc_conn_free(conn);
        return;
    }
    hub_add(cl);
    printf("%s joined\n", cl->name);
    broadcast_notice(cl->name, "joined");
    int err = read_loop(cl);
    hub_remove(cl);
    printf("%s left (%s, close status %d)\n", cl->name, wsc_strerror(err), wsc_close_status(conn));
    broadcast_notice(cl->name, "left");
    client_stop_writer(cl, writer);
    client_free(cl);
}
