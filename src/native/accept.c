/* SPDX-License-Identifier: MIT */
/* accept.c - wsc_accept: run the TLS handshake if asked, read the client's
 * upgrade request within a deadline and a size limit, check it, and answer
 * with 101 or an HTTP error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "native/conn.h"
#include "native/handshake.h"
#include "native/tls.h"

/* Sends an HTTP response head (and body) within d; errors are ignored since
 * the connection is being refused or is about to be used. */
static int send_response(wsc_conn *c, const char *resp, size_t len, wsc_deadline d)
{
    struct iovec iov = {(void *)resp, len};
    size_t sent = 0;
    return wsc_transport_send_all(&c->tr, &iov, 1, d, &sent);
}

static int refuse(wsc_conn *c, int status, const wsc_http_head *req,
                  const wsc_accept_options *o, wsc_deadline d, const char *detail)
{
    size_t len;
    char *resp = wsc_hs_server_response(status, req, NULL, NULL, o, detail, &len);
    if (resp) {
        send_response(c, resp, len, wsc_deadline_min(d, wsc_deadline_in(1000)));
        free(resp);
    }
    return wsc_fail(status == 408 ? WSC_ETIMEDOUT : WSC_EHANDSHAKE, "refused the upgrade with %d: %s",
                    status, detail);
}

/* Reads until the request head is complete; returns its length or an error
 * after answering with 408/431 where that makes sense. */
static int read_head(wsc_conn *c, size_t max, const wsc_accept_options *o, wsc_deadline d,
                     size_t *end)
{
    for (;;) {
        *end = wsc_http_head_end((char *)c->rbuf, c->rend);
        if (*end)
            return 0;
        if (c->rend >= max)
            return refuse(c, 431, NULL, o, d, "the request head is too large");
        ptrdiff_t n = wsc_transport_recv(&c->tr, c->rbuf + c->rend, max - c->rend, d, false);
        if (n == WSC_ETIMEDOUT || n == WSC_EAGAIN)
            return refuse(c, 408, NULL, o, d, "the request head did not arrive in time");
        if (n == 0)
            return wsc_fail(WSC_EHANDSHAKE, "the client closed the connection during the handshake");
        if (n == WSC_EIO)
            return wsc_fail_append(WSC_EHANDSHAKE, "while reading the upgrade request");
        if (n < 0)
            return (int)n;
        c->rend += (size_t)n;
    }
}

/* The server's TLS handshake on c's socket within d; then c talks TLS. */
static int tls_accept(wsc_conn *c, const wsc_tls_server *srv, wsc_deadline d)
{
    wsc_tls *s;
    int r = wsc_tls_server_session(srv, c->tr.fd, &s);
    while (r == 0) {
        short want = 0;
        r = wsc_tls_handshake(s, c->tr.fd, &want);
        if (r == 0) {
            wsc_tls_transport(&c->tr, s);
            return 0;
        }
        if (r == WSC_EAGAIN && (r = wsc_wait_fd(c->tr.fd, want, d)) == WSC_ETIMEDOUT)
            r = wsc_fail(WSC_ETIMEDOUT, "the client did not finish the TLS handshake in time");
    }
    wsc_tls_free(s);
    return r;
}

static int accept_on(wsc_conn *c, const void *head, size_t head_len, const wsc_accept_options *o)
{
    size_t max = o->max_request_head ? o->max_request_head : 8192;
    if (max > c->rcap) {
        uint8_t *p = realloc(c->rbuf, max);
        if (!p)
            return wsc_fail(WSC_ENOMEM, "out of memory");
        c->rbuf = p;
        c->rcap = max;
    }
    int timeout = o->handshake_timeout_ms ? o->handshake_timeout_ms : 10000;
    wsc_deadline d = wsc_deadline_in(timeout);
    if (o->tls) {
        int t = tls_accept(c, o->tls, d);
        if (t < 0)
            return t;
    }
    if (head_len > max)
        return refuse(c, 431, NULL, o, d, "the request head is too large");
    if (head_len)
        memcpy(c->rbuf, head, head_len);
    c->rend = head_len;

    size_t end;
    int r = read_head(c, max, o, d, &end);
    if (r < 0)
        return r;
    char err[300];
    if (wsc_http_parse((char *)c->rbuf, end, true, &c->peer_head, err, sizeof err) < 0)
        return refuse(c, 400, NULL, o, d, err);
    const char *proto;
    int status = wsc_hs_check_request(&c->peer_head, o, &proto, err, sizeof err);
    if (status)
        return refuse(c, status, &c->peer_head, o, d, err);
    wsc_pmd_params pmd;
    wsc_pmd_accept(&c->peer_head, o->compression, &pmd);
    if ((r = wsc_conn_set_pmd(c, &pmd, pmd.header, o->compression, o->compression_threshold)) < 0)
        return r;
    free(c->subprotocol);
    free(c->target);
    c->subprotocol = strdup(proto);
    c->target = strdup(c->peer_head.target);
    size_t len;
    char *resp = wsc_hs_server_response(101, &c->peer_head, proto, pmd.header, o, "", &len);
    if (!resp || !c->subprotocol || !c->target) {
        free(resp);
        return wsc_fail(WSC_ENOMEM, "out of memory");
    }
    r = send_response(c, resp, len, d);
    free(resp);
    if (r == WSC_ETIMEDOUT || r == WSC_EAGAIN)
        return wsc_fail(WSC_ETIMEDOUT, "the client did not take the 101 response in time");
    if (r < 0)
        return wsc_fail_append(r == WSC_EIO ? WSC_EHANDSHAKE : r, "while sending the 101 response");
    c->rpos = end; /* frames the client sent right after its request stay */
    return 0;
}

int wsc_accept_with(int fd, const void *head, size_t head_len, const wsc_accept_options *opts,
                    wsc_conn **out)
{
    static const wsc_accept_options defaults;
    const wsc_accept_options *o = opts ? opts : &defaults;
    if (fd < 0 || !out || (head_len && !head))
        return wsc_fail(WSC_EINVAL, "wsc_accept needs a socket and somewhere to put the connection");
    if (head_len && o->tls)
        return wsc_fail(WSC_EINVAL, "wsc_accept_with cannot take bytes already read from a TLS socket");
    char err[300];
    if (!wsc_hs_headers_ok(o->headers, o->n_headers, err, sizeof err) ||
        !wsc_hs_subprotocols_ok(o->subprotocols, o->n_subprotocols, err, sizeof err))
        return wsc_fail(WSC_EINVAL, "bad wsc_accept_options, nothing was read or sent: %s", err);
    *out = NULL;
    wsc_conn *c = wsc_conn_new(true);
    if (!c)
        return wsc_fail(WSC_ENOMEM, "out of memory");
    wsc_tcp_transport(&c->tr, fd);
    c->on_ping = o->on_ping;
    c->on_pong = o->on_pong;
    c->user = o->user;
    int r = accept_on(c, head, head_len, o);
    if (r < 0) {
        wsc_transport_release(&c->tr); /* on failure the caller keeps fd */
        wsc_conn_free(c);
        return r;
    }
    atomic_store(&c->state, WSC_STATE_OPEN);
    wsc_clear_error();
    *out = c;
    return 0;
}

int wsc_accept(int fd, const wsc_accept_options *opts, wsc_conn **out)
{
    return wsc_accept_with(fd, NULL, 0, opts, out);
}
