/* SPDX-License-Identifier: MIT */
/* stream_fd.c - wsc_stream_fd: a socketpair whose other end two threads pump
 * to and from messages, for code that insists on a file descriptor. The
 * pump (c->pump, allocated by wsc_stream_fd, freed with the connection)
 * owns its end of the socketpair and the record of what ended it. */
#include <errno.h>
#include <stdint.h>
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

struct wsc_pump {
    pthread_t rx, tx;
    int fd;                     /* our end of the socketpair */
    wsc_msg_type type;
    bool tx_done;               /* [c->mu] tx ended and recorded what it had to */
    int err;                    /* [c->mu] what ended the pump, 0: nothing (yet) */
    bool err_final;             /* [c->mu] err is the peer's close: keep it */
    char detail[256];           /* [c->mu] wsc_last_error() of that failure */
};

/* Records err and this thread's wsc_last_error() as what ended the pump,
 * unless something is recorded already. A final record (the peer's close
 * frame, or a failure of ours that caused the close) replaces a failure of
 * our own that it explains, and is kept. */
static void pump_record(wsc_conn *c, int err, bool final)
{
    pthread_mutex_lock(&c->mu);
    if (c->pump->err == 0 || (final && !c->pump->err_final)) {
        c->pump->err = err;
        c->pump->err_final = final;
        snprintf(c->pump->detail, sizeof c->pump->detail, "%s", wsc_last_error());
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

/* Ends pump_tx and waits until it has recorded what it could not send, so
 * that wsc_stream_fd_error is final when the caller reads end of stream.
 * SHUT_RD ends its recv (bytes queued before are still read, fail to be
 * sent and are recorded; the caller's later writes fail with EPIPE), and
 * shutting the connection ends a write or close frame it waits on. */
static void stop_tx(wsc_conn *c)
{
    shutdown(c->pump->fd, SHUT_RD);
    wsc__conn_shutdown(c);
    pthread_mutex_lock(&c->mu);
    while (!c->pump->tx_done)
        pthread_cond_wait(&c->cond, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

/* Messages in -> bytes out to the caller's end, until the connection
 * closes; then, once pump_tx has stopped, the caller reads end of stream
 * and its writes fail. */
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
        if (type != c->pump->type) {
            pump_record(c, wsc__fail(WSC_EPROTO, "expected %s messages, got %s (closed with 1003)",
                                    wsc_msg_type_string(c->pump->type), wsc_msg_type_string(type)),
                        false);
            wsc_close(c, WSC_STATUS_UNSUPPORTED_DATA, "unexpected message type");
            break;
        }
        if (!deliver(c->pump->fd, data, len)) {
            /* The caller stopped reading: what comes next has nowhere to go. */
            wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
            break;
        }
    }
    stop_tx(c);
    shutdown(c->pump->fd, SHUT_RDWR);
    return NULL;
}

/* The pump stops taking the caller's bytes: its writes fail with EPIPE.
 * Bytes already queued are dropped, or a caller waiting in poll for room
 * to write would never see any. */
static void refuse_input(wsc_conn *c, char *buf, size_t cap)
{
    shutdown(c->pump->fd, SHUT_RD);
    while (recv(c->pump->fd, buf, cap, MSG_DONTWAIT) > 0) {
    }
}

/* The length of p[0, n) without an incomplete UTF-8 sequence at its end
 * (at most 3 bytes). Bytes that are not UTF-8 are left for the peer to
 * refuse. */
static size_t utf8_whole(const char *p, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        uint8_t b = (uint8_t)p[n - back];
        if (b < 0x80)
            return n; /* ASCII ends no sequence */
        if (b >= 0xc0) {
            size_t need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
            return back < need ? n - back : n;
        }
        /* a continuation byte: its lead is further back */
    }
    return n;
}

/* End of the caller's input, with `held` bytes of an incomplete UTF-8
 * sequence left over. Without: a half-close once the dial is done (our
 * close frame follows everything written; pump_rx goes on reading). With:
 * they are not sent, and the stream closes with 1007. */
static void input_ended(wsc_conn *c, size_t held)
{
    if (held > 0) {
        pump_record(c, wsc__fail(WSC_EPROTO, "the stream ended inside a UTF-8 character: its last %zu "
                                "bytes were not sent (closed with 1007)", held),
                    true);
        wsc_close(c, WSC_STATUS_INVALID_FRAME_PAYLOAD_DATA, "the stream ended inside a UTF-8 character");
        return;
    }
    int r = wsc__conn_ready(c, WSC_FOREVER);
    if (r == 0)
        r = wsc__conn_half_close(c, WSC_STATUS_NORMAL_CLOSURE);
    if (r < 0) {
        char why[300];
        snprintf(why, sizeof why, "%s", wsc_last_error());
        pump_record(c, wsc__fail(r, "the close frame after the stream's bytes was not sent: %s", why), false);
    }
}

/* Bytes from the caller's end (buf: PUMP_CHUNK) -> one message per read,
 * until end of input or a failed write. A text stream holds back an
 * incomplete UTF-8 sequence at the end of a read for the next message. */
static void pump_input(wsc_conn *c, char *buf)
{
    size_t held = 0;
    for (;;) {
        ssize_t n = recv(c->pump->fd, buf + held, PUMP_CHUNK - held, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            input_ended(c, held);
            return;
        }
        size_t len = held + (size_t)n;
        size_t whole = c->pump->type == WSC_TEXT ? utf8_whole(buf, len) : len;
        int r = whole > 0 ? wsc_write(c, c->pump->type, buf, whole, -1) : 0;
        if (r < 0) {
            char why[300];
            snprintf(why, sizeof why, "%s", wsc_last_error());
            pump_record(c, wsc__fail(r, "%zu bytes written to the stream fd were not sent: %s", len, why),
                        false);
            refuse_input(c, buf, PUMP_CHUNK);
            return;
        }
        held = len - whole;
        memmove(buf, buf + whole, held);
    }
}

/* The caller's bytes -> messages (pump_input); then tells pump_rx that
 * everything is recorded. */
static void *pump_tx(void *arg)
{
    wsc_conn *c = arg;
    char *buf = malloc(PUMP_CHUNK);
    if (buf) {
        pump_input(c, buf);
        free(buf);
    } else {
        char byte;
        pump_record(c, wsc__fail(WSC_ENOMEM, "out of memory for the stream pump"), false);
        wsc_close(c, WSC_STATUS_INTERNAL_ERROR, "out of memory");
        refuse_input(c, &byte, 1);
    }
    pthread_mutex_lock(&c->mu);
    c->pump->tx_done = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int wsc_stream_fd(wsc_conn *c, wsc_msg_type type, int *fd)
{
    if (!c || !fd || (type != WSC_TEXT && type != WSC_BINARY))
        return wsc__fail(WSC_EINVAL, "wsc_stream_fd needs a connection, a message type and an out pointer");
    struct wsc_pump *p = calloc(1, sizeof *p);
    if (!p)
        return wsc__fail(WSC_ENOMEM, "out of memory for the stream pump");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        free(p);
        return wsc__fail(WSC_EIO, "socketpair: %s", strerror(errno));
    }
    pthread_mutex_lock(&c->mu);
    if (c->pump || c->bg_reader) {
        pthread_mutex_unlock(&c->mu);
        close(sv[0]);
        close(sv[1]);
        free(p);
        return wsc__fail(WSC_EBUSY, "the connection already has a stream fd or a background reader");
    }
    p->fd = sv[0];
    p->type = type;
    c->pump = p;
    bool ok = pthread_create(&p->rx, NULL, pump_rx, c) == 0;
    if (ok && pthread_create(&p->tx, NULL, pump_tx, c) != 0) {
        p->tx_done = true; /* pump_rx need not wait for it */
        shutdown(sv[0], SHUT_RDWR);
        pthread_mutex_unlock(&c->mu);
        wsc__conn_shutdown(c);
        pthread_join(p->rx, NULL);
        pthread_mutex_lock(&c->mu);
        ok = false;
    }
    if (!ok)
        c->pump = NULL;
    pthread_mutex_unlock(&c->mu);
    if (!ok) {
        close(sv[0]);
        close(sv[1]);
        free(p);
        return wsc__fail(WSC_ENOMEM, "could not start the stream pump threads");
    }
    *fd = sv[1];
    return 0;
}

int wsc_stream_fd_error(wsc_conn *c)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "NULL connection");
    pthread_mutex_lock(&c->mu);
    int err = c->pump ? c->pump->err : 0;
    if (err)
        wsc__fail(err, "%s", c->pump->detail);
    else
        wsc__clear_error();
    pthread_mutex_unlock(&c->mu);
    return err;
}

void wsc__stream_fd_stop(wsc_conn *c)
{
    struct wsc_pump *p = c->pump;
    shutdown(p->fd, SHUT_RDWR);
    pthread_join(p->rx, NULL);
    pthread_join(p->tx, NULL);
    close(p->fd);
    pthread_mutex_lock(&c->mu);
    c->pump = NULL;
    pthread_mutex_unlock(&c->mu);
    free(p);
}
