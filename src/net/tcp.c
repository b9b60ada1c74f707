/* SPDX-License-Identifier: MIT */
/* tcp.c - the plain TCP transport and the transport helpers every transport
 * uses: waiting with poll, receiving and sending within a deadline. */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wsc.h"
#include "common/error.h"
#include "net/transport.h"
#include "proto/url.h"

static ptrdiff_t tcp_recv(wsc_transport *t, void *buf, size_t n, int mode, short *want)
{
    int flags = mode == WSC_IO_NOWAIT ? MSG_DONTWAIT : mode == WSC_IO_ALL ? MSG_WAITALL : 0;
    for (;;) {
        ssize_t r = recv(t->fd, buf, n, flags);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *want = POLLIN;
            return WSC_EAGAIN;
        }
        return wsc__fail(WSC_EIO, "recv: %s", strerror(errno));
    }
}

static ptrdiff_t tcp_send(wsc_transport *t, const struct iovec *iov, int iovcnt, int mode,
                          short *want)
{
    struct msghdr msg = {0};
    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = (size_t)iovcnt;
    for (;;) {
        ssize_t r = sendmsg(t->fd, &msg, MSG_NOSIGNAL | (mode == WSC_IO_NOWAIT ? MSG_DONTWAIT : 0));
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *want = POLLOUT;
            return WSC_EAGAIN;
        }
        return wsc__fail(WSC_EIO, "send: %s", strerror(errno));
    }
}

static int tcp_flush(wsc_transport *t, int mode, short *want)
{
    (void)t, (void)mode, (void)want;
    return 0; /* the kernel holds what send took */
}

static size_t tcp_pending(const wsc_transport *t)
{
    (void)t;
    return 0;
}

static void tcp_shutdown(wsc_transport *t)
{
    shutdown(t->fd, SHUT_RDWR);
}

static void tcp_release(wsc_transport *t)
{
    (void)t;
}

static void tcp_destroy(wsc_transport *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

static const wsc_transport_ops tcp_ops = {
    tcp_recv, tcp_send, tcp_flush, tcp_pending, tcp_shutdown, tcp_release, tcp_destroy,
};

void wsc__tcp_transport(wsc_transport *t, int fd)
{
    t->ops = &tcp_ops;
    t->fd = fd;
    t->state = NULL;
}

int wsc__wait_fd(int fd, short events, wsc_deadline d)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int left = wsc__deadline_left(d);
        int r = poll(&p, 1, left);
        if (r > 0)
            return 0; /* readiness or an error condition: the next I/O call tells */
        if (r == 0) {
            if (left != 0 && wsc__deadline_left(d) != 0)
                continue; /* woke early (rounding) */
            return wsc__deadline_error(d);
        }
        if (errno != EINTR)
            return wsc__fail(WSC_EIO, "poll: %s", strerror(errno));
    }
}

ptrdiff_t wsc__transport_recv(wsc_transport *t, void *buf, size_t n, wsc_deadline d, bool all)
{
    int mode = d != WSC_FOREVER ? WSC_IO_NOWAIT : all ? WSC_IO_ALL : WSC_IO_BLOCK;
    for (;;) {
        short want = 0;
        ptrdiff_t r = t->ops->recv(t, buf, n, mode, &want);
        if (r != WSC_EAGAIN)
            return r;
        int w = wsc__wait_fd(t->fd, want, d);
        if (w < 0)
            return w;
    }
}

int wsc__transport_send_rest(wsc_transport *t, const void *buf, size_t len, size_t *pos,
                            wsc_deadline d)
{
    if (*pos >= len)
        return 0;
    struct iovec iov = {(char *)buf + *pos, len - *pos};
    size_t sent = 0;
    int r = wsc__transport_send_all(t, &iov, 1, d, &sent);
    *pos += sent;
    return r;
}

int wsc__transport_send_all(wsc_transport *t, struct iovec *iov, int iovcnt,
                           wsc_deadline d, size_t *sent)
{
    *sent = 0;
    while (iovcnt > 0) {
        if (iov->iov_len == 0) {
            iov++;
            iovcnt--;
            continue;
        }
        short want = 0;
        ptrdiff_t r = t->ops->send(t, iov, iovcnt, d == WSC_FOREVER ? WSC_IO_BLOCK : WSC_IO_NOWAIT,
                                   &want);
        if (r == WSC_EAGAIN) {
            int w = wsc__wait_fd(t->fd, want, d);
            if (w < 0)
                return w;
            continue;
        }
        if (r < 0)
            return (int)r;
        *sent += (size_t)r;
        size_t n = (size_t)r;
        while (n > 0 && n >= iov->iov_len) {
            n -= iov->iov_len;
            iov->iov_len = 0; /* callers look at what is left */
            iov++;
            iovcnt--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= n;
        }
    }
    return d == WSC_NOWAIT ? 0 : wsc__transport_flush(t, d);
}

int wsc__transport_flush(wsc_transport *t, wsc_deadline d)
{
    while (t->ops) { /* no transport yet (a dial in progress): nothing held */
        short want = 0;
        int r = t->ops->flush(t, d == WSC_FOREVER ? WSC_IO_BLOCK : WSC_IO_NOWAIT, &want);
        if (r != WSC_EAGAIN)
            return r;
        if ((r = wsc__wait_fd(t->fd, want, d)) < 0)
            return r;
    }
    return 0;
}

size_t wsc__transport_pending(const wsc_transport *t)
{
    return t->ops ? t->ops->pending(t) : 0;
}

void wsc__transport_release(wsc_transport *t)
{
    if (t->ops)
        t->ops->release(t);
    t->ops = NULL;
    t->fd = -1;
    t->state = NULL;
}

void wsc__peer_name(int fd, char *buf, size_t size)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    char host[NI_MAXHOST], port[NI_MAXSERV];
    buf[0] = '\0';
    if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0 &&
        (sa.ss_family == AF_INET || sa.ss_family == AF_INET6) &&
        getnameinfo((struct sockaddr *)&sa, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        wsc__host_port(buf, size, host, atoi(port));
}
