/* SPDX-License-Identifier: MIT */
/* transport.h - the byte pipe under a connection: plain TCP (tcp.c) or TLS
 * (tls.c), two sets of ops behind which the WebSocket code does not care. */
#ifndef WSC_TRANSPORT_H
#define WSC_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "common/deadline.h"

typedef struct wsc_transport wsc_transport;

/* How an I/O call may wait. NOWAIT never blocks. BLOCK may sleep in the
 * kernel until some bytes move or shutdown() wakes it: one system call
 * instead of recv + poll + recv. ALL (recv only) sleeps until all n bytes
 * came, the stream ended or shutdown() woke it: one wake-up per payload. */
enum { WSC_IO_NOWAIT, WSC_IO_BLOCK, WSC_IO_ALL };

typedef struct {
    /* > 0 bytes moved, 0 end of stream (recv only), WSC_EAGAIN with *want set
     * to POLLIN or POLLOUT (what to wait for before retrying), or another
     * negative WSC_E code with wsc_last_error() set. mode is one of the
     * WSC_IO_ values above. */
    ptrdiff_t (*recv)(wsc_transport *t, void *buf, size_t n, int mode, short *want);
    ptrdiff_t (*send)(wsc_transport *t, const struct iovec *iov, int iovcnt, int mode,
                      short *want);
    /* A NOWAIT send may count bytes as sent that the transport still holds
     * (TLS: a record the socket did not take whole). flush pushes them out:
     * 0 when none are left, else as send. pending says how many bytes are
     * held (TLS: of records); any thread may ask. */
    int (*flush)(wsc_transport *t, int mode, short *want);
    size_t (*pending)(const wsc_transport *t);
    /* Stops all I/O and wakes threads waiting in poll (shutdown(2)); may be
     * called from any thread, more than once. The fd stays open. TLS sends
     * its close_notify first (best effort, never waiting). */
    void (*shutdown)(wsc_transport *t);
    /* Frees the transport's state but leaves the fd open (a failed accept
     * gives it back to the caller). */
    void (*release)(wsc_transport *t);
    /* Closes the fd and frees the transport's state. */
    void (*destroy)(wsc_transport *t);
} wsc_transport_ops;

struct wsc_transport {
    const wsc_transport_ops *ops;
    int fd;
    void *state; /* the TLS session (tls.c); NULL for TCP */
};

/* Makes t a plain TCP transport over fd. The fd's blocking mode is left as
 * it is: calls with a deadline use MSG_DONTWAIT and poll. */
void wsc__tcp_transport(wsc_transport *t, int fd);

/* Waits until fd is ready for `events` or the deadline passes. Returns 0,
 * wsc__deadline_error(d), or WSC_EIO. */
int wsc__wait_fd(int fd, short events, wsc_deadline d);

/* Receives at least one byte, waiting up to d. Same results as ops->recv
 * except that WSC_EAGAIN/WSC_ETIMEDOUT mean the deadline passed. With `all`
 * and no deadline it waits for all n bytes in one call (fewer wake-ups); it
 * may still return fewer. */
ptrdiff_t wsc__transport_recv(wsc_transport *t, void *buf, size_t n, wsc_deadline d, bool all);

/* Sends all of iov, waiting up to d. Returns 0, or the error; *sent says how
 * many bytes went out before it (so a caller can tell "nothing sent"). The
 * iov array is modified. With a deadline other than WSC_NOWAIT it also
 * flushes what the transport holds; with WSC_NOWAIT some may stay held (see
 * wsc__transport_pending). */
int wsc__transport_send_all(wsc_transport *t, struct iovec *iov, int iovcnt,
                           wsc_deadline d, size_t *sent);

/* Sends buf[*pos, len) within d, advancing *pos by what went out (so a
 * caller can call again after WSC_EAGAIN / WSC_ETIMEDOUT to go on). 0 once
 * all of it is sent, else the error. */
int wsc__transport_send_rest(wsc_transport *t, const void *buf, size_t len, size_t *pos,
                            wsc_deadline d);

/* Pushes out what earlier sends left held, waiting up to d: 0 when nothing
 * is left, else the error (WSC_EAGAIN / WSC_ETIMEDOUT when time ran out). */
int wsc__transport_flush(wsc_transport *t, wsc_deadline d);

/* The bytes the transport holds that a flush must still push out. */
size_t wsc__transport_pending(const wsc_transport *t);

/* Frees the transport's state, leaving the fd open and t empty (ops NULL,
 * fd -1): a failed accept hands the socket back. */
void wsc__transport_release(wsc_transport *t);

/* The address of fd's peer as "192.0.2.7:51234" or "[2001:db8::7]:443" in
 * buf; "" when it has none that is IP (a Unix socket) or cannot be had. */
void wsc__peer_name(int fd, char *buf, size_t size);

/* Room for any wsc__peer_name. */
#define WSC_PEER_NAME_MAX 72

#endif
