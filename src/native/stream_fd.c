/* SPDX-License-Identifier: MIT */
/* stream_fd.c - wsc_stream_fd: a socketpair whose other end two threads pump
 * to and from messages, for code that insists on a file descriptor. The
 * pump owns its end (pump_fd) and the record of what ended it (pump_err). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"
#include "native/conn.h"

/* Bytes from the fd go out as messages of at most this size: the default
 * read limit of wsc and of coder/websocket, so such peers take them. */
#define PUMP_CHUNK 32768

/* Records err and this thread's wsc_last_error() as what ended the pump,
 * unless something is recorded already. The peer's close frame (final)
 * replaces a failure of our own that it explains. */
static void pump_record(wsc_conn *c, int err, bool final)
{
    pthread_mutex_lock(&c->mu);
    if (c->pump_err == 0 || (final && !c->pump_err_final)) {
        c->pump_err = err;
        c->pump_err_final = final;
        snprintf(c->pump_detail, sizeof c->pump_detail, "%s", wsc_last_error());
    }
    pthread_mutex_unlock(&c->mu);
}

/* wsc_read ended with r: a close of the peer's with 1000 or 1001 is the
 * clean end of the stream; anything else is recorded. */
static void rx_ended(wsc_conn *c, int r)
{
    int code = wsc_close_status(c);
    if (r == WSC_ECLOSED && (code == WSC_STATUS_NORMAL_CLOSURE || code == WSC_STATUS_GOING_AWAY))
        return;
    pump_record(c, r, code >= 0);
}

/* Sends len bytes to the caller's end. false when the caller closed it. */
static bool deliver(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Messages in -> bytes out to the caller's end, until the connection
 * closes; then the caller reads end of stream and its writes fail. */
static void *pump_rx(void *arg)
{
    wsc_conn *c = arg;
    for (;;) {
        const void *data;
        size_t len;
        wsc_msg_type type;
        int r = wsc_read(c, -1, &type, &data, &len);
        if (r < 0) {
            rx_ended(c, r);
            break;
        }
        if (type != c->pump_type) {
            pump_record(c, wsc_fail(WSC_EPROTO, "expected %s messages, got %s (closed with 1003)",
                                    wsc_msg_type_string(c->pump_type), wsc_msg_type_string(type)),
                        false);
            wsc_close(c, WSC_STATUS_UNSUPPORTED_DATA, "unexpected message type");
            break;
        }
        if (!deliver(c->pump_fd, data, len)) {
            /* The caller stopped reading: what comes next has nowhere to go. */
            wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
            break;
        }
    }
    shutdown(c->pump_fd, SHUT_RDWR);
    return NULL;
}

/* The pump stops taking the caller's bytes: its writes fail with EPIPE.
 * Bytes already queued are dropped, or a caller waiting in poll for room
 * to write would never see any. */
static void refuse_input(wsc_conn *c, char *buf, size_t cap)
{
    shutdown(c->pump_fd, SHUT_RD);
    while (recv(c->pump_fd, buf, cap, MSG_DONTWAIT) > 0) {
    }
}

/* Bytes from the caller's end -> one message per read of up to PUMP_CHUNK.
 * End of input (the caller's close or shutdown(SHUT_WR)) half-closes: our
 * close frame follows everything written, and pump_rx goes on reading. */
static void *pump_tx(void *arg)
{
    wsc_conn *c = arg;
    char *buf = malloc(PUMP_CHUNK);
    if (!buf) {
        char byte;
        pump_record(c, wsc_fail(WSC_ENOMEM, "out of memory for the stream pump"), false);
        wsc_close(c, WSC_STATUS_INTERNAL_ERROR, "out of memory");
        refuse_input(c, &byte, 1);
        return NULL;
    }
    for (;;) {
        ssize_t n = recv(c->pump_fd, buf, PUMP_CHUNK, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            wsc_conn_half_close(c, WSC_STATUS_NORMAL_CLOSURE);
            break;
        }
        int r = wsc_write(c, c->pump_type, buf, (size_t)n, -1);
        if (r < 0) {
            char why[300];
            snprintf(why, sizeof why, "%s", wsc_last_error());
            pump_record(c, wsc_fail(r, "%zd bytes written to the stream fd were not sent: %s", n, why),
                        false);
            refuse_input(c, buf, PUMP_CHUNK);
            break;
        }
    }
    free(buf);
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
    c->pump_err = 0;
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

int wsc_stream_fd_error(wsc_conn *c)
{
    if (!c)
        return wsc_fail(WSC_EINVAL, "NULL connection");
    pthread_mutex_lock(&c->mu);
    int err = c->pump_err;
    if (err)
        wsc_fail(err, "%s", c->pump_detail);
    else
        wsc_clear_error();
    pthread_mutex_unlock(&c->mu);
    return err;
}

void wsc_stream_fd_stop(wsc_conn *c)
{
    shutdown(c->pump_fd, SHUT_RDWR);
    pthread_join(c->pump_rx, NULL);
    pthread_join(c->pump_tx, NULL);
    close(c->pump_fd);
}
