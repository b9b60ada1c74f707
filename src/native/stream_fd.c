/* stream_fd.c - wsc_stream_fd: a socketpair whose other end two threads pump
 * to and from messages, for code that insists on a file descriptor. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"
#include "native/conn.h"

#define PUMP_CHUNK 65536

/* Messages in -> bytes out to the caller's end. */
static void *pump_rx(void *arg)
{
    wsc_conn *c = arg;
    for (;;) {
        const void *data;
        size_t len;
        wsc_msg_type type;
        if (wsc_read(c, -1, &type, &data, &len) < 0)
            break;
        const char *p = data;
        while (len > 0) {
            ssize_t n = send(c->pump_fd, p, len, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                goto out;
            p += n;
            len -= (size_t)n;
        }
    }
out:
    shutdown(c->pump_fd, SHUT_WR); /* the caller reads end of stream */
    return NULL;
}

/* Bytes from the caller's end -> one message per read. */
static void *pump_tx(void *arg)
{
    wsc_conn *c = arg;
    char *buf = malloc(PUMP_CHUNK);
    for (;;) {
        if (!buf)
            break;
        ssize_t n = recv(c->pump_fd, buf, PUMP_CHUNK, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (wsc_write(c, c->pump_type, buf, (size_t)n, -1) < 0)
            break;
    }
    free(buf);
    wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
    return NULL;
}

int wsc_stream_fd(wsc_conn *c, wsc_msg_type type, int *fd)
{
    if (!c || !fd || (type != WSC_TEXT && type != WSC_BINARY))
        return wsc_fail(WSC_EINVAL, "wsc_stream_fd needs a connection, a message type and an out pointer");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return wsc_fail(WSC_EIO, "socketpair: %s", strerror(errno));
    pthread_mutex_lock(&c->mu);
    if (c->pump || c->bg_reader) {
        pthread_mutex_unlock(&c->mu);
        close(sv[0]);
        close(sv[1]);
        return wsc_fail(WSC_EBUSY, "the connection already has a stream fd or a background reader");
    }
    c->pump_fd = sv[0];
    c->pump_type = type;
    c->pump = pthread_create(&c->pump_rx, NULL, pump_rx, c) == 0;
    if (c->pump && pthread_create(&c->pump_tx, NULL, pump_tx, c) != 0) {
        shutdown(sv[0], SHUT_RDWR);
        pthread_mutex_unlock(&c->mu);
        wsc_conn_shutdown(c);
        pthread_join(c->pump_rx, NULL);
        pthread_mutex_lock(&c->mu);
        c->pump = false;
    }
    bool ok = c->pump;
    pthread_mutex_unlock(&c->mu);
    if (!ok) {
        close(sv[0]);
        close(sv[1]);
        return wsc_fail(WSC_ENOMEM, "could not start the stream pump threads");
    }
    *fd = sv[1];
    return 0;
}

void wsc_stream_fd_stop(wsc_conn *c)
{
    shutdown(c->pump_fd, SHUT_RDWR);
    pthread_join(c->pump_rx, NULL);
    pthread_join(c->pump_tx, NULL);
    close(c->pump_fd);
}
