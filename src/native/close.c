/* SPDX-License-Identifier: MIT */
/* close.c - the closing handshake (wsc_close, and wsc_close_start which does
 * not wait), and the half-close that wsc_stream_fd uses (wsc__conn_half_close). */
#include <string.h>

#include "common/error.h"
#include "common/closecode.h"
#include "native/conn.h"

/* Sends our close frame (code 0: without a code) within d, then moves OPEN
 * to CLOSING. On failure the connection is shut. */
static int close_frame_out(wsc_conn *c, int code, const char *reason, size_t rlen, wsc_deadline d)
{
    uint8_t payload[125];
    payload[0] = (uint8_t)(code >> 8);
    payload[1] = (uint8_t)code;
    memcpy(payload + 2, reason, rlen);
    int r = wsc__send_control(c, WSC_OP_CLOSE, payload, code ? rlen + 2 : 0, d);
    if (r < 0) {
        wsc__conn_shutdown(c);
        return r;
    }
    int open = WSC_STATE_OPEN;
    atomic_compare_exchange_strong(&c->state, &open, WSC_STATE_CLOSING);
    return 0;
}

int wsc__conn_half_close(wsc_conn *c, int code)
{
    pthread_mutex_lock(&c->mu);
    bool send = wsc__closing_step(&c->closing, WSC_CLOSE_HALF,
                                  atomic_load(&c->state) == WSC_STATE_OPEN);
    pthread_mutex_unlock(&c->mu);
    if (!send)
        return 0; /* closing or closed already: the reader says how it ends */
    /* No deadline, like the data before it: a slow peer takes it in its time,
     * and shutting the connection (wsc_conn_free) ends the wait. */
    return close_frame_out(c, code, "", 0, WSC_FOREVER);
}

/* What wsc_close and wsc_close_start do first: marks the close called,
 * under mu (a dial or accept opens the connection under mu too, so
 * CONNECTING here means it will not open any more). 1 when our close frame
 * is to be sent, 0 when it went out already, or the error (the connection
 * is then shut). */
static int close_begin(wsc_conn *c, int code, const char *reason)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "NULL connection");
    int r = wsc__close_args_check(code, reason);
    if (r < 0)
        return r;
    pthread_mutex_lock(&c->mu);
    bool again = c->closing.called;
    int state = atomic_load(&c->state);
    bool send = wsc__closing_step(&c->closing, WSC_CLOSE_APP, state == WSC_STATE_OPEN);
    if (state == WSC_STATE_CONNECTING)
        atomic_store(&c->state, WSC_STATE_CLOSED);
    pthread_cond_broadcast(&c->cond); /* writers waiting for a turn give up */
    pthread_mutex_unlock(&c->mu);
    if (again)
        return wsc__fail(WSC_ECLOSED, "wsc_close or wsc_close_now was already called");
    if (state == WSC_STATE_CONNECTING) {
        wsc__conn_shutdown(c); /* wakes a thread advancing the handshake */
        wsc__fail(WSC_ECLOSED, "the handshake had not finished: closed without a close frame");
        wsc__conn_ended(c, WSC_ECLOSED);
        return WSC_ECLOSED;
    }
    if (!send && state == WSC_STATE_CLOSED) {
        wsc__conn_shutdown(c);
        return wsc__fail(WSC_ECLOSED, "the connection was already closed");
    }
    if (send) {
        wsc__fail(WSC_ECLOSED, "we closed the connection with %d%s%s", code, reason && *reason ? ": " : "",
                 reason ? reason : "");
        wsc__conn_ended(c, WSC_ECLOSED);
        wsc__clear_error();
    }
    return send;
}

int wsc_close_start(wsc_conn *c, int code, const char *reason)
{
    int r = close_begin(c, code, reason);
    if (r <= 0)
        return r;
    size_t rlen = reason ? strlen(reason) : 0;
    c->close_frame[0] = (uint8_t)(code >> 8);
    c->close_frame[1] = (uint8_t)code;
    if (rlen)
        memcpy(c->close_frame + 2, reason, rlen);
    c->close_frame_len = code ? rlen + 2 : 0;
    atomic_store(&c->close_queued, true);
    int open = WSC_STATE_OPEN;
    atomic_compare_exchange_strong(&c->state, &open, WSC_STATE_CLOSING);
    r = wsc_flush(c, 0); /* as much as the socket takes now */
    if (r < 0 && r != WSC_EAGAIN)
        return r;
    wsc__clear_error();
    return 0;
}

int wsc_close(wsc_conn *c, int code, const char *reason)
{
    int r = close_begin(c, code, reason);
    if (r < 0)
        return r;
    size_t rlen = reason ? strlen(reason) : 0;
    if (r == 1 && (r = close_frame_out(c, code, reason ? reason : "", rlen,
                                       wsc__deadline_in(WSC_CLOSE_TIMEOUT_MS))) < 0)
        return r;

    /* Wait for the peer's close: read it ourselves unless a reader is running. */
    wsc_deadline d = wsc__deadline_in(WSC_CLOSE_TIMEOUT_MS);
    pthread_mutex_lock(&c->mu);
    while (!wsc__closing_received(&c->closing) && atomic_load(&c->state) != WSC_STATE_CLOSED) {
        if (!c->reading) {
            c->reading = c->close_draining = true;
            pthread_mutex_unlock(&c->mu);
            wsc__read_drain(c, d);
            pthread_mutex_lock(&c->mu);
            c->reading = c->close_draining = false;
            pthread_cond_broadcast(&c->cond);
            break;
        }
        if (wsc__conn_wait(c, d) < 0)
            break;
    }
    bool answered = wsc__closing_received(&c->closing);
    while (wsc__closing_replying(&c->closing)) /* the reader's reply goes out first */
        pthread_cond_wait(&c->cond, &c->mu);
    pthread_mutex_unlock(&c->mu);
    wsc__conn_shutdown(c);
    if (!answered && wsc__deadline_left(d) == 0)
        return wsc__fail(WSC_ETIMEDOUT, "the peer did not answer our close frame within 5 s");
    if (!answered)
        return wsc__fail(WSC_ECLOSED, "the connection ended before the peer's close frame arrived");
    wsc__clear_error();
    return 0;
}
