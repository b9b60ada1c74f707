/* SPDX-License-Identifier: MIT */
/* accept.c - wsc_accept: the server's handshake as a stage machine (the TLS
 * handshake if asked, the upgrade request read within a deadline and a size
 * limit, then the answer: 101 or an HTTP error). A blocking accept runs it to
 * the end; a nonblocking one advances it on each later call, like a
 * nonblocking dial (conn.c: wsc__conn_ready). */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/error.h"
#include "common/owned.h"
#include "native/conn.h"
#include "proto/handshake.h"
#include "proto/reply.h"
#include "net/tls.h"

enum { STAGE_TLS, STAGE_RECEIVE, STAGE_ANSWER, STAGE_DONE };

/* How long an error answer may take to go out once the request is refused. */
#define REFUSAL_MS 1000

struct wsc_acceptor {
    int stage;
    wsc_deadline deadline;      /* the whole handshake */
    wsc_deadline answer_by;     /* STAGE_ANSWER: the answer's own deadline */
    wsc_accept_options o;       /* a copy: the strings and arrays are owned here */
    size_t max_head;
    wsc_tls *tls;               /* until the TLS handshake is done */
    short tls_want;
    bool over_tls;
    wsc_reply reply;            /* what the accept hook said */
    char *answer;               /* the response head (and body) to send */
    size_t answer_len, answer_pos;
    int refused;                /* the error a refusal ends with, 0: 101 */
    char why[300];              /* and its detail */
};

/* ---- the options, copied (the caller's may be gone before the handshake
 * ends) ---------------------------------------------------------------------- */

static void free_options(wsc_accept_options *o)
{
    wsc__strv_free(o->subprotocols, o->n_subprotocols);
    wsc__strv_free(o->origin_patterns, o->n_origin_patterns);
    wsc__strv_free(o->host_patterns, o->n_host_patterns);
    wsc__headers_free(o->headers, o->n_headers);
}

static bool copy_options(wsc_accept_options *dst, const wsc_accept_options *src)
{
    bool ok = true;
    *dst = *src;
    dst->tls = NULL; /* only wsc_accept itself uses it */
    dst->subprotocols = wsc__strv_copy(src->subprotocols, src->n_subprotocols, &ok);
    dst->origin_patterns = wsc__strv_copy(src->origin_patterns, src->n_origin_patterns, &ok);
    dst->host_patterns = wsc__strv_copy(src->host_patterns, src->n_host_patterns, &ok);
    dst->headers = wsc__headers_copy(src->headers, src->n_headers, &ok);
    if (!ok) {
        free_options(dst);
        memset(dst, 0, sizeof *dst);
    }
    return ok;
}

void wsc__acceptor_free(wsc_acceptor *ac)
{
    if (!ac)
        return;
    free_options(&ac->o);
    wsc__reply_free(&ac->reply);
    wsc__tls_free(ac->tls);
    free(ac->answer);
    free(ac);
}

/* ---- the stages ---------------------------------------------------------- */

/* Refuses the request with `status`: the error answer goes out next, then
 * the accept fails with the error this returns... later, in step_answer. */
static int refuse(wsc_acceptor *ac, int status, const wsc_http_head *req, const char *detail)
{
    ac->refused = status == 408 ? WSC_ETIMEDOUT : WSC_EHANDSHAKE;
    snprintf(ac->why, sizeof ac->why, "refused the upgrade with %d: %s", status, detail);
    free(ac->answer);
    ac->answer = wsc__hs_server_response(status, req, NULL, NULL, &ac->o, &ac->reply, detail,
                                        &ac->answer_len);
    ac->answer_pos = 0;
    ac->answer_by = wsc__deadline_in(REFUSAL_MS);
    ac->stage = STAGE_ANSWER;
    return 0;
}

/* The server's TLS handshake; when done c talks TLS. */
static int step_tls(wsc_conn *c, wsc_acceptor *ac, wsc_deadline d)
{
    for (;;) {
        int r = wsc__tls_handshake(ac->tls, c->tr.fd, &ac->tls_want);
        if (r == 0)
            break;
        if (r != WSC_EAGAIN || (r = wsc__wait_fd(c->tr.fd, ac->tls_want, d)) < 0)
            return r;
    }
    pthread_mutex_lock(&c->mu);
    wsc__tls_transport(&c->tr, ac->tls);
    pthread_mutex_unlock(&c->mu);
    ac->tls = NULL;
    ac->stage = STAGE_RECEIVE;
    return 0;
}

/* Runs the accept hook on the request: what it returned, or WSC_ENOMEM. */
static int ask_hook(wsc_conn *c, wsc_acceptor *ac)
{
    char peer[WSC_PEER_NAME_MAX];
    wsc_request_view v;
    wsc__peer_name(c->tr.fd, peer, sizeof peer);
    int r = wsc__request_view_init(&v, &c->peer_head, peer, c->tr.fd, ac->over_tls);
    if (r < 0)
        return r;
    ac->reply.req = &v.req;
    int status = ac->o.on_request(ac->o.user, &v.req, &ac->reply);
    ac->reply.req = NULL;
    wsc__request_view_free(&v);
    return status;
}

/* Judges the complete request head rbuf[0, end): the 101 or a refusal. */
static int judge_request(wsc_conn *c, wsc_acceptor *ac, size_t end)
{
    char err[300];
    if (wsc__http_parse((char *)c->rbuf, end, true, &c->peer_head, err, sizeof err) < 0)
        return refuse(ac, 400, NULL, err);
    const char *proto;
    int status = wsc__hs_check_request(&c->peer_head, &ac->o, &proto, err, sizeof err);
    if (status)
        return refuse(ac, status, &c->peer_head, err);
    if (ac->o.on_request) {
        int said = ask_hook(c, ac);
        if (said == WSC_ENOMEM)
            return said;
        status = said == 0 || (said >= 300 && said <= 599) ? said : 500;
        if (status) {
            refuse(ac, status, &c->peer_head, wsc__hs_status_text(status));
            snprintf(ac->why, sizeof ac->why, "the accept hook refused the upgrade with %d%s",
                     status, status == said ? "" : " (it returned neither 0 nor a status 300-599)");
            return 0;
        }
        if (ac->reply.subprotocol)
            proto = ac->reply.subprotocol;
    }
    wsc_pmd_params pmd;
    wsc__pmd_accept(&c->peer_head, ac->o.compression, ac->o.deflate.peer_window_bits, &pmd);
    int r = wsc__conn_set_pmd(c, &pmd, pmd.header, ac->o.compression, ac->o.compression_threshold,
                              &ac->o.deflate);
    if (r < 0)
        return r;
    free(c->subprotocol);
    free(c->target);
    c->subprotocol = strdup(proto);
    c->target = strdup(c->peer_head.target);
    ac->answer = wsc__hs_server_response(101, &c->peer_head, proto, pmd.header, &ac->o,
                                        &ac->reply, "", &ac->answer_len);
    if (!ac->answer || !c->subprotocol || !c->target)
        return wsc__fail(WSC_ENOMEM, "out of memory");
    c->rpos = end; /* frames the client sent right after its request stay */
    ac->answer_by = ac->deadline;
    ac->stage = STAGE_ANSWER;
    return 0;
}

/* Reads until the request head is complete, then judges it. */
static int step_receive(wsc_conn *c, wsc_acceptor *ac, wsc_deadline d)
{
    for (;;) {
        size_t end = wsc__http_head_end((char *)c->rbuf, c->rend);
        if (end)
            return judge_request(c, ac, end);
        if (c->rend >= ac->max_head)
            return refuse(ac, 431, NULL, "the request head is too large");
        ptrdiff_t n = wsc__transport_recv(&c->tr, c->rbuf + c->rend, ac->max_head - c->rend, d, false);
        if (n == 0)
            return wsc__fail(WSC_EHANDSHAKE, "the client closed the connection during the handshake");
        if (n == WSC_EIO)
            return wsc__fail_append(WSC_EHANDSHAKE, "while reading the upgrade request");
        if (n < 0)
            return (int)n;
        c->rend += (size_t)n;
    }
}

/* Sends the answer; a refusal then ends the accept with its error, whether
 * or not the client took the answer. */
static int step_answer(wsc_conn *c, wsc_acceptor *ac, wsc_deadline d)
{
    int r = ac->answer ? wsc__transport_send_rest(&c->tr, ac->answer, ac->answer_len,
                                                 &ac->answer_pos, d)
                       : 0;
    if (ac->refused && r != WSC_EAGAIN && r != WSC_ETIMEDOUT)
        return wsc__fail(ac->refused, "%s", ac->why);
    if (r == WSC_EIO)
        return wsc__fail_append(WSC_EHANDSHAKE, "while sending the 101 response");
    if (r == 0)
        ac->stage = STAGE_DONE;
    return r;
}

static int stage_events(const wsc_acceptor *ac)
{
    return ac->stage == STAGE_TLS ? ac->tls_want : ac->stage == STAGE_ANSWER ? POLLOUT : POLLIN;
}

/* The stage's own deadline passed: a late request gets its 408 (and the
 * answer its REFUSAL_MS); anything else fails. 0 when the accept goes on. */
static int stage_timed_out(wsc_acceptor *ac)
{
    if (ac->stage == STAGE_RECEIVE)
        return refuse(ac, 408, NULL, "the request head did not arrive in time");
    if (ac->stage == STAGE_TLS)
        return wsc__fail(WSC_ETIMEDOUT, "the client did not finish the TLS handshake in time");
    if (ac->refused)
        return wsc__fail(ac->refused, "%s", ac->why);
    return wsc__fail(WSC_ETIMEDOUT, "the client did not take the 101 response in time");
}

static bool passed(wsc_deadline d)
{
    return d != WSC_FOREVER && wsc__deadline_left(d) == 0;
}

int wsc__accept_step(wsc_conn *c, wsc_deadline d)
{
    wsc_acceptor *ac = c->acceptor;
    int r = 0;
    while (r == 0 && ac->stage != STAGE_DONE) {
        wsc_deadline own = ac->stage == STAGE_ANSWER ? ac->answer_by : ac->deadline;
        wsc_deadline wait = wsc__deadline_min(d, own);
        if (ac->stage == STAGE_TLS)
            r = step_tls(c, ac, wait);
        else if (ac->stage == STAGE_RECEIVE)
            r = step_receive(c, ac, wait);
        else
            r = step_answer(c, ac, wait);
        atomic_store(&c->hs_want, stage_events(ac));
        if (atomic_load(&c->state) == WSC_STATE_CLOSED) /* wsc_close_now meanwhile */
            r = wsc__fail(WSC_ECLOSED, "the connection was closed during its handshake");
        else if ((r == WSC_EAGAIN || r == WSC_ETIMEDOUT) && passed(own))
            r = stage_timed_out(ac);
        else if (r == WSC_EAGAIN || r == WSC_ETIMEDOUT)
            return wsc__deadline_error(d);
    }
    if (r < 0)
        return wsc__conn_handshake_failed(c, r);
    if (!wsc__conn_handshake_done(c))
        return wsc__conn_handshake_failed(c, wsc__fail(WSC_ECLOSED, "the connection was closed during its handshake"));
    wsc__acceptor_free(ac);
    c->acceptor = NULL;
    return 0;
}

/* ---- wsc_accept ---------------------------------------------------------- */

/* Makes c's acceptor for fd (TLS session included) and takes the bytes the
 * caller already read. */
static int start(wsc_conn *c, int fd, const void *head, size_t head_len, const wsc_accept_options *o)
{
    wsc_acceptor *ac = calloc(1, sizeof *ac);
    if (!ac)
        return wsc__fail(WSC_ENOMEM, "out of memory");
    c->acceptor = ac;
    if (!copy_options(&ac->o, o))
        return wsc__fail(WSC_ENOMEM, "out of memory");
    ac->max_head = o->max_request_head ? o->max_request_head : 8192;
    ac->deadline = wsc__deadline_in(o->handshake_timeout_ms ? o->handshake_timeout_ms : 10000);
    ac->stage = o->tls ? STAGE_TLS : STAGE_RECEIVE;
    ac->over_tls = o->tls != NULL;
    ac->tls_want = POLLIN;
    atomic_store(&c->hs_want, stage_events(ac));
    int r = wsc__conn_rbuf_reserve(c, ac->max_head);
    if (r < 0)
        return r;
    wsc__tcp_transport(&c->tr, fd);
    /* As a dial does: small answers (the 101 after TLS session tickets, a
     * pong) go out at once instead of waiting for an ACK (Nagle). Not TCP
     * (a Unix socket): it fails, harmlessly. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (o->tls)
        return wsc__tls_server_session(o->tls, fd, head, head_len, &ac->tls);
    if (head_len > ac->max_head)
        return refuse(ac, 431, NULL, "the request head is too large");
    if (head_len)
        memcpy(c->rbuf, head, head_len);
    c->rend = head_len;
    return 0;
}

int wsc_accept_with(int fd, const void *head, size_t head_len, const wsc_accept_options *opts,
                    wsc_conn **out)
{
    static const wsc_accept_options defaults;
    const wsc_accept_options *o = opts ? opts : &defaults;
    if (fd < 0 || !out || (head_len && !head))
        return wsc__fail(WSC_EINVAL, "wsc_accept needs a socket and somewhere to put the connection");
    char err[300];
    if (!wsc__hs_headers_ok(o->headers, o->n_headers, err, sizeof err) ||
        !wsc__deflate_options_ok(&o->deflate, err, sizeof err) ||
        !wsc__hs_subprotocols_ok(o->subprotocols, o->n_subprotocols, err, sizeof err))
        return wsc__fail(WSC_EINVAL, "bad wsc_accept_options, nothing was read or sent: %s", err);
    *out = NULL;
    wsc_conn *c = wsc__conn_new(true);
    if (!c)
        return wsc__fail(WSC_ENOMEM, "out of memory");
    c->on_ping = o->on_ping;
    c->on_pong = o->on_pong;
    c->on_close = o->on_close;
    c->user = o->user;
    c->heartbeat_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : 0;
    c->idle_ms = o->idle_timeout_ms > 0 ? o->idle_timeout_ms : 0;
    int r = start(c, fd, head, head_len, o);
    /* A nonblocking accept goes as far as it can without waiting, so that
     * wsc_fd and wsc_poll_events have something to say. */
    if (r == 0)
        r = wsc__accept_step(c, o->nonblocking ? WSC_NOWAIT : WSC_FOREVER);
    if (r == WSC_EAGAIN && o->nonblocking)
        r = 0;
    if (r < 0) {
        if (c->tr.ops)
            wsc__transport_release(&c->tr); /* on failure the caller keeps fd */
        wsc_conn_free(c);
        return r;
    }
    wsc__clear_error();
    *out = c;
    return 0;
}

int wsc_accept(int fd, const wsc_accept_options *opts, wsc_conn **out)
{
    return wsc_accept_with(fd, NULL, 0, opts, out);
}
