/* SPDX-License-Identifier: MIT */
/* conn.c - connection lifetime, state, locks and the simple getters. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/error.h"
#include "common/group.h"
#include "common/utf8.h"
#include "native/conn.h"
#include "net/tls.h"

wsc_conn *wsc__conn_new(bool server)
{
    wsc_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->target = strdup("/");
    c->subprotocol = strdup("");
    if (!c->target || !c->subprotocol) {
        free(c->target);
        free(c->subprotocol);
        free(c);
        return NULL;
    }
    c->server = server;
    c->tr.fd = -1;
    c->dial_fd = -1;
    atomic_store(&c->write_compression, true);
    c->peer_code = -1;
    wsc__decoder_init(&c->dec, server, NULL);
    wsc__encoder_init(&c->enc, server, NULL);
    c->dec.read_limit = 32768;
    c->keys_pos = sizeof c->keys;
    atomic_init(&c->state, WSC_STATE_CONNECTING);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->frame_mu, NULL);
    pthread_mutex_init(&c->hs_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    return c;
}

void wsc__conn_shutdown(wsc_conn *c)
{
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->state, WSC_STATE_CLOSED);
    if (c->tr.ops && !c->tr_shut) { /* once: later calls only cost a system call */
        c->tr.ops->shutdown(&c->tr);
        c->tr_shut = true;
    }
    else if (c->dial_fd >= 0)
        shutdown(c->dial_fd, SHUT_RDWR); /* wakes a thread waiting for the TCP connect */
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

/* wsc__conn_fail with the detail formatted; read_rest: see conn.h. */
static int conn_fail(wsc_conn *c, int code, int err, bool read_rest, wsc_deadline d,
                     const char *detail)
{
    pthread_mutex_lock(&c->mu);
    bool usable = atomic_load(&c->state) != WSC_STATE_CLOSED;
    wsc_close_event ev = code ? WSC_CLOSE_FAIL : read_rest ? WSC_CLOSE_BROKEN : WSC_CLOSE_END;
    bool send_close = wsc__closing_step(&c->closing, ev, usable);
    pthread_mutex_unlock(&c->mu);
    if (send_close) {
        /* The detail goes out as the close reason when it fits and is UTF-8. */
        uint8_t payload[125] = {(uint8_t)(code >> 8), (uint8_t)code};
        size_t rlen = strlen(detail);
        if (rlen > 123 || wsc__utf8_feed(WSC_UTF8_ACCEPT, detail, rlen) != WSC_UTF8_ACCEPT)
            rlen = 0;
        memcpy(payload + 2, detail, rlen);
        wsc__send_control(c, WSC_OP_CLOSE, payload, 2 + rlen, wsc__close_frame_deadline(d));
    }
    wsc__conn_shutdown(c);
    if (code)
        wsc__fail(err, "%s (closed with %d %s)", detail, code, wsc_status_string(code));
    else
        wsc__fail(err, "%s", detail);
    wsc__conn_ended(c, err);
    return err;
}

void wsc__conn_ended(wsc_conn *c, int err)
{
    pthread_mutex_lock(&c->mu);
    if (!c->end_err) {
        c->end_err = err;
        free(c->end_why); /* (none, unless an earlier call said err 0) */
        c->end_why = strdup(wsc_last_error()); /* idle connections keep no room for it */
    }
    pthread_mutex_unlock(&c->mu);
}

int wsc_conn_error(wsc_conn *c)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "NULL connection");
    pthread_mutex_lock(&c->mu);
    int err = c->end_err;
    if (err)
        wsc__fail(err, "%s", c->end_why ? c->end_why : "(its detail was lost: out of memory)");
    else
        wsc__clear_error();
    pthread_mutex_unlock(&c->mu);
    return err;
}

wsc_deadline wsc__close_frame_deadline(wsc_deadline d)
{
    return d == WSC_NOWAIT ? WSC_NOWAIT : wsc__deadline_in(WSC_CLOSE_TIMEOUT_MS);
}

int wsc__conn_fail(wsc_conn *c, int code, int err, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return conn_fail(c, code, err, false, WSC_FOREVER, detail);
}

int wsc__conn_fail_within(wsc_conn *c, wsc_deadline d, int code, int err, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return conn_fail(c, code, err, false, d, detail);
}

int wsc__conn_send_failed(wsc_conn *c, int err)
{
    char detail[400];
    snprintf(detail, sizeof detail, "writing a frame failed: %s", wsc_last_error());
    return conn_fail(c, 0, err, true, WSC_FOREVER, detail);
}

int wsc__reader_enter(wsc_conn *c, wsc_deadline d)
{
    pthread_mutex_lock(&c->mu);
    /* wsc_close reading the peer's close is not a second reader: wait for it,
     * then this read reports the closed connection. */
    while (c->reading && c->close_draining) {
        int r = wsc__conn_wait(c, d);
        if (r < 0) {
            pthread_mutex_unlock(&c->mu);
            return wsc__fail(r, "the connection is closing");
        }
    }
    bool busy = c->reading;
    c->reading = true;
    pthread_mutex_unlock(&c->mu);
    if (busy)
        return wsc__fail(WSC_EBUSY, "another thread is reading this connection");
    return 0;
}

void wsc__reader_leave(wsc_conn *c)
{
    pthread_mutex_lock(&c->mu);
    c->reading = false;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

int wsc__conn_ready(wsc_conn *c, wsc_deadline d)
{
    int state = atomic_load(&c->state);
    if (state == WSC_STATE_OPEN || state == WSC_STATE_CLOSING)
        return 0;
    if (wsc__lock_within(&c->hs_mu, d) < 0)
        return wsc__fail(wsc__deadline_error(d), "another thread is advancing the handshake");
    bool connecting = atomic_load(&c->state) == WSC_STATE_CONNECTING;
    bool stepped = connecting && (c->dialer || c->acceptor);
    int r = 0;
    if (stepped)
        r = c->dialer ? wsc__dial_step(c, d) : wsc__accept_step(c, d);
    else if (c->hs_failed)
        r = wsc_conn_error(c);
    pthread_mutex_unlock(&c->hs_mu);
    if (atomic_load(&c->state) == WSC_STATE_CLOSED && r < 0) {
        if (stepped)
            wsc__conn_shutdown(c);
        if (r == WSC_EAGAIN || r == WSC_ETIMEDOUT) /* the handshake's own deadline */
            r = wsc__fail_append(WSC_ECLOSED, "(the connection is closed)");
    }
    return r;
}

int wsc__conn_rbuf_reserve(wsc_conn *c, size_t cap)
{
    if (c->rcap >= cap)
        return 0;
    uint8_t *p = realloc(c->rbuf, cap);
    if (!p)
        return wsc__fail(WSC_ENOMEM, "out of memory for a %zu-byte receive buffer", cap);
    c->rbuf = p;
    c->rcap = cap;
    return 0;
}

void wsc__conn_rbuf_release(wsc_conn *c)
{
    if (c->rpos != c->rend)
        return;
    free(c->rbuf);
    c->rbuf = NULL;
    c->rcap = c->rpos = c->rend = 0;
}

int wsc__conn_handshake_failed(wsc_conn *c, int r)
{
    wsc__conn_ended(c, r);
    c->hs_failed = true;
    atomic_store(&c->state, WSC_STATE_CLOSED);
    return r;
}

bool wsc__conn_handshake_done(wsc_conn *c)
{
    wsc__conn_rbuf_release(c); /* the head's buffer, unless frames follow it */
    pthread_mutex_lock(&c->mu);
    int connecting = WSC_STATE_CONNECTING;
    wsc__heartbeat_start(c);
    bool opened = atomic_compare_exchange_strong(&c->state, &connecting, WSC_STATE_OPEN);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    return opened;
}

wsc_state wsc_get_state(wsc_conn *c)
{
    if (!c)
        return WSC_STATE_CLOSED;
    if (atomic_load(&c->state) == WSC_STATE_CONNECTING)
        wsc__conn_ready(c, WSC_NOWAIT);
    return (wsc_state)atomic_load(&c->state);
}

int wsc_close_now(wsc_conn *c)
{
    if (!c)
        return WSC_EINVAL;
    pthread_mutex_lock(&c->mu);
    bool was_closed = c->closing.called || atomic_load(&c->state) == WSC_STATE_CLOSED;
    wsc__closing_step(&c->closing, WSC_CLOSE_NOW, false);
    pthread_mutex_unlock(&c->mu);
    wsc__conn_shutdown(c);
    if (was_closed)
        return wsc__fail(WSC_ECLOSED, "the connection was already closed");
    wsc__fail(WSC_ECLOSED, "closed by wsc_close_now, without a close handshake");
    wsc__conn_ended(c, WSC_ECLOSED);
    wsc__clear_error();
    return 0;
}

wsc_group **wsc__conn_group(wsc_conn *c)
{
    return &c->group;
}

int wsc__sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
    return 0;
}

void wsc_conn_free(wsc_conn *c)
{
    if (!c)
        return;
    wsc__group_leave(c);
    /* Let a reader's reply to the peer's close go out first (it is bounded
     * by the close timeout), so the peer sees a clean close handshake. */
    pthread_mutex_lock(&c->mu);
    while (wsc__closing_replying(&c->closing))
        pthread_cond_wait(&c->cond, &c->mu);
    wsc__closing_step(&c->closing, WSC_CLOSE_NOW, false); /* a reader (the pump) stops at once */
    pthread_mutex_unlock(&c->mu);
    wsc__conn_shutdown(c);
    pthread_mutex_lock(&c->mu);
    bool join = c->bg_reader, pump = c->pump != NULL;
    pthread_mutex_unlock(&c->mu);
    if (join)
        pthread_join(c->bg_thread, NULL);
    if (pump)
        wsc__stream_fd_stop(c);
    wsc__dialer_free(c->dialer);
    wsc__acceptor_free(c->acceptor);
    if (c->tr.ops)
        c->tr.ops->destroy(&c->tr);
    wsc__http_free(&c->peer_head);
    free(c->end_why);
    free(c->target);
    free(c->url);
    free(c->subprotocol);
    free(c->extensions);
    wsc__deflate_free(c->pmd);
    free(c->rbuf);
    wsc__msg_free(c);
    free(c->pend);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->frame_mu);
    pthread_mutex_destroy(&c->hs_mu);
    pthread_cond_destroy(&c->cond);
    free(c);
}

void wsc_set_read_limit(wsc_conn *c, int64_t limit)
{
    if (c)
        c->dec.read_limit = limit < 0 ? -1 : limit;
}

const char *wsc_subprotocol(const wsc_conn *c)
{
    return c && c->subprotocol ? c->subprotocol : "";
}

int wsc__conn_set_pmd(wsc_conn *c, const wsc_pmd_params *p, const char *header,
                     wsc_compression mode, int threshold, const wsc_deflate_options *t)
{
    if (!p->enabled)
        return 0;
    c->pmd = wsc__deflate_new(p, c->server, mode, threshold);
    /* The peer's window, when it agreed to the smaller one we asked for. */
    int peer_bits = c->server ? p->client_bits : p->server_bits;
    if (c->pmd)
        wsc__deflate_tune(c->pmd, t, t->peer_window_bits && peer_bits < 15 ? peer_bits : 0);
    c->dec.pmd = c->pmd;
    c->enc.pmd = c->pmd;
    c->extensions = strdup(header);
    if (!c->pmd || !c->extensions)
        return wsc__fail(WSC_ENOMEM, "out of memory");
    return 0;
}

const char *wsc_extensions(const wsc_conn *c)
{
    return c && c->extensions ? c->extensions : "";
}

bool wsc_tls_did_resume(const wsc_conn *c)
{
    return c && atomic_load(&c->state) != WSC_STATE_CONNECTING && wsc__tls_resumed(&c->tr);
}

const char *wsc_request_target(const wsc_conn *c)
{
    return c && c->target ? c->target : "";
}

const char *wsc_handshake_header(const wsc_conn *c, const char *name)
{
    if (!c || !name || !c->peer_head.raw)
        return NULL;
    return wsc__http_get(&c->peer_head, name);
}

int wsc_fd(const wsc_conn *c)
{
    if (!c)
        return -1;
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    int fd = c->tr.ops ? c->tr.fd : c->dial_fd;
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
    return fd;
}

int wsc_poll_events(const wsc_conn *c)
{
    if (!c)
        return 0;
    switch (atomic_load(&c->state)) {
    case WSC_STATE_CONNECTING:
        return atomic_load(&c->hs_want);
    case WSC_STATE_CLOSED:
        return 0;
    case WSC_STATE_CLOSING: {
        /* After the peer's close only our queued reply is left (read.c). */
        pthread_mutex_lock((pthread_mutex_t *)&c->mu);
        bool received = wsc__closing_received(&c->closing);
        pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
        return (received ? 0 : POLLIN) | (wsc_want_write(c) ? POLLOUT : 0);
    }
    default:
        return POLLIN | (wsc_want_write(c) ? POLLOUT : 0);
    }
}

int wsc_set_event_handler(wsc_conn *c, wsc_event_fn fn, void *user)
{
    (void)c, (void)fn, (void)user;
    return wsc__fail(WSC_ENOTSUP, "wsc_set_event_handler is for the browser; natively poll "
                                 "wsc_fd() for wsc_poll_events()");
}

int wsc_close_status(const wsc_conn *c)
{
    if (!c)
        return -1;
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    int code = wsc__closing_received(&c->closing) ? c->peer_code : -1;
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
    return code;
}

const char *wsc_close_reason(const wsc_conn *c)
{
    if (!c)
        return "";
    /* The reader stores the reason once, before the close is received:
     * from then on it never changes. */
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    const char *reason = wsc__closing_received(&c->closing) ? c->peer_reason : "";
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
    return reason;
}

int wsc__lock_within(pthread_mutex_t *m, wsc_deadline d)
{
    int r;
    if (d == WSC_FOREVER) {
        r = pthread_mutex_lock(m);
    } else if (d == WSC_NOWAIT) {
        r = pthread_mutex_trylock(m);
    } else {
        /* pthread_mutex_timedlock counts in CLOCK_REALTIME (clocklock would
         * take our monotonic deadline, but sanitizers do not know it). */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int left = wsc__deadline_left(d);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (long)(left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        r = pthread_mutex_timedlock(m, &ts);
    }
    return r == 0 ? 0 : wsc__deadline_error(d);
}

int wsc__conn_wait(wsc_conn *c, wsc_deadline d)
{
    if (d == WSC_FOREVER) {
        pthread_cond_wait(&c->cond, &c->mu);
        return 0;
    }
    if (wsc__deadline_left(d) == 0)
        return wsc__deadline_error(d);
    struct timespec ts = wsc__deadline_timespec(d);
    pthread_cond_timedwait(&c->cond, &c->mu, &ts);
    return 0;
}
