/* hub.c - the chat hub: the list of clients, broadcast into each client's
 * bounded queue, and the per-client writer thread that drains it. A client
 * whose queue is full is too slow: it is closed with 1008, the others go on
 * (coder/websocket's chat example does the same). */
#define _POSIX_C_SOURCE 200809L
#include "hub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsc.h"

#define WRITE_TIMEOUT_MS 5000

/* One broadcast message, shared by every queue it is in. */
typedef struct msg {
    atomic_int refs;
    size_t len;
    char data[];
} msg;

typedef struct client {
    wsc_conn *conn;
    char name[32];
    pthread_mutex_t mu;      /* guards the queue and the flags below */
    pthread_cond_t cv;
    msg *queue[HUB_QUEUE_MAX];
    int head, count;
    bool leaving;            /* the reader is done: writer, stop */
    bool too_slow;           /* the queue overflowed: writer, close 1008 */
    struct client *next;
} client;

static pthread_mutex_t hub_mu = PTHREAD_MUTEX_INITIALIZER;
static client *clients;
static atomic_int next_guest = 1;

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

/* Queues m for cl; on a full queue marks cl too slow instead. */
static void client_push(client *cl, msg *m)
{
    pthread_mutex_lock(&cl->mu);
    if (cl->count == HUB_QUEUE_MAX) {
        if (!cl->too_slow)
            printf("%s: queue full\n", cl->name);
        cl->too_slow = true;
    } else if (!cl->too_slow && !cl->leaving) {
        atomic_fetch_add(&m->refs, 1);
        cl->queue[(cl->head + cl->count) % HUB_QUEUE_MAX] = m;
        cl->count++;
    }
    pthread_cond_signal(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
}

static void broadcast(const char *data, size_t len)
{
    msg *m = msg_new(data, len);
    if (!m)
        return;
    pthread_mutex_lock(&hub_mu);
    for (client *cl = clients; cl; cl = cl->next)
        client_push(cl, m);
    pthread_mutex_unlock(&hub_mu);
    msg_unref(m);
}

static void broadcastf(const char *fmt, const char *name)
{
    char buf[128];
    int n = snprintf(buf, sizeof buf, fmt, name);
    broadcast(buf, (size_t)n);
}

/* Next message for the writer, or NULL when it must stop. */
static msg *client_pop(client *cl)
{
    msg *m = NULL;
    pthread_mutex_lock(&cl->mu);
    while (cl->count == 0 && !cl->leaving && !cl->too_slow)
        pthread_cond_wait(&cl->cv, &cl->mu);
    if (!cl->leaving && !cl->too_slow) {
        m = cl->queue[cl->head];
        cl->head = (cl->head + 1) % HUB_QUEUE_MAX;
        cl->count--;
    }
    pthread_mutex_unlock(&cl->mu);
    return m;
}

static void *writer_main(void *arg)
{
    client *cl = arg;
    msg *m;
    while ((m = client_pop(cl)) != NULL) {
        int err = wsc_write(cl->conn, WSC_TEXT, m->data, m->len, WRITE_TIMEOUT_MS);
        msg_unref(m);
        if (err < 0) {
            wsc_close_now(cl->conn); /* wakes the reader */
            return NULL;
        }
    }
    pthread_mutex_lock(&cl->mu);
    bool too_slow = cl->too_slow;
    pthread_mutex_unlock(&cl->mu);
    if (too_slow) {
        printf("%s: too slow, closing with 1008\n", cl->name);
        wsc_close(cl->conn, WSC_STATUS_POLICY_VIOLATION,
                  "connection too slow to keep up with messages");
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
        int n = snprintf(out, sizeof out, "%s: %.*s", cl->name, (int)len, (const char *)data);
        broadcast(out, (size_t)n < sizeof out ? (size_t)n : sizeof out - 1);
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
    return cl;
}

void hub_serve(int fd, const void *head, size_t head_len)
{
    wsc_conn *conn;
    wsc_accept_options opts = {0};
    if (wsc_accept_with(fd, head, head_len, &opts, &conn) < 0) {
        printf("ws handshake failed: %s\n", wsc_last_error());
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
    broadcastf("* %s joined", cl->name);
    int err = read_loop(cl);
    hub_remove(cl);
    printf("%s left (%s, close status %d)\n", cl->name, wsc_strerror(err), wsc_close_status(conn));
    broadcastf("* %s left", cl->name);
    client_stop_writer(cl, writer);
    client_free(cl);
}
