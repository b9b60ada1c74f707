/* SPDX-License-Identifier: MIT */
/* read.c - receiving: frame headers, control frames, the message reader
 * (wsc_read, wsc_reader_next/read) and its message buffer, inflating
 * compressed messages, the close-frame drain and wsc_close_read.
 * Every step keeps its progress in the connection, so a read that runs out
 * of time can be called again and continues where it stopped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/closecode.h"
#include "common/error.h"
#include "native/conn.h"
#include "net/tls.h"

/* Direct-to-destination reads for payload at least this large. */
#define DIRECT_READ_MIN 1024

/* wsc_read's message buffer is kept between messages up to this size; a
 * larger one is given back once the connection has been idle for IDLE_MS
 * (see release_msg). */
#define MSG_KEEP (64 * 1024)
#define IDLE_MS 10

/* Whether the connection is closed to readers: it is CLOSED, or the
 * peer's close arrived and our queued reply waits (on_close). After a send
 * broke the socket, a reader may still take what had arrived (read_rest). */
static bool closed_for_reading(wsc_conn *c)
{
    int state = atomic_load(&c->state);
    if (state != WSC_STATE_CLOSED && state != WSC_STATE_CLOSING)
        return false;
    pthread_mutex_lock(&c->mu);
    bool rest = wsc__closing_read_rest(&c->closing);
    bool received = wsc__closing_received(&c->closing);
    pthread_mutex_unlock(&c->mu);
    return state == WSC_STATE_CLOSED ? !rest : received;
}

/* The transport ended or failed under a reader. */
static int read_ended(wsc_conn *c, ptrdiff_t r)
{
    if (r == WSC_EAGAIN || r == WSC_ETIMEDOUT || r == WSC_ECLOSED) /* ECLOSED: the */
        return (int)r; /* heartbeat closed it (transports never say it); detail set */
    pthread_mutex_lock(&c->mu);
    bool local = c->closing.called || wsc__closing_received(&c->closing);
    pthread_mutex_unlock(&c->mu);
    if (local || atomic_load(&c->state) == WSC_STATE_CLOSED)
        return wsc__conn_fail(c, 0, WSC_ECLOSED, "the connection is closed");
    if (r == 0)
        return wsc__conn_fail(c, 0, WSC_ECLOSED,
                             "the peer closed the TCP connection without a close frame (1006)");
    return wsc__conn_fail(c, 0, (int)r, "reading failed: %s", wsc_last_error());
}

/* Receives into buf within d (all: see wsc__transport_recv), keeping the
 * heartbeat: while nothing arrives it wakes when a ping or the idle
 * timeout is due (heartbeat.c). */
static ptrdiff_t receive(wsc_conn *c, void *buf, size_t n, wsc_deadline d, bool all)
{
    for (;;) {
        wsc_deadline due = wsc__heartbeat_due(c);
        ptrdiff_t r = wsc__transport_recv(&c->tr, buf, n, wsc__deadline_min(d, due),
                                          all && due == WSC_FOREVER);
        if (r > 0) {
            atomic_store(&c->last_rx_ms, wsc__now_ms());
            atomic_store(&c->beat_ms, 0);
            return r;
        }
        if ((r != WSC_EAGAIN && r != WSC_ETIMEDOUT) || due == WSC_FOREVER ||
            wsc__deadline_left(due) > 0)
            return r;
        int b = wsc__heartbeat(c);
        if (b < 0)
            return b;
        if (d == WSC_NOWAIT || (d != WSC_FOREVER && wsc__deadline_left(d) == 0))
            return wsc__deadline_error(d);
    }
}

/* Makes at least `need` bytes (<= rcap) available at rbuf + rpos. */
static int fill(wsc_conn *c, size_t need, wsc_deadline d)
{
    int r = wsc__conn_rbuf_reserve(c, WSC_RBUF_SIZE);
    if (r < 0)
        return wsc__conn_fail_within(c, d, WSC_STATUS_INTERNAL_ERROR, r, "%s", wsc_last_error());
    while (c->rend - c->rpos < need) {
        if (c->rpos == c->rend) {
            c->rpos = c->rend = 0;
        } else if (c->rcap - c->rpos < need) {
            memmove(c->rbuf, c->rbuf + c->rpos, c->rend - c->rpos);
            c->rend -= c->rpos;
            c->rpos = 0;
        }
        ptrdiff_t n = receive(c, c->rbuf + c->rend, c->rcap - c->rend, d, false);
        if (n == WSC_EAGAIN || n == WSC_ETIMEDOUT)
            wsc__conn_rbuf_release(c); /* idle: no buffer while nothing comes */
        if (n <= 0)
            return read_ended(c, n);
        c->rend += (size_t)n;
    }
    return 0;
}

/* Answers a ping (unless on_ping says no, or our close is out). */
static void on_ping(wsc_conn *c, const wsc_dec_event *ev, wsc_deadline d)
{
    bool answer = c->on_ping ? c->on_ping(c->user, ev->data, ev->len) : true;
    pthread_mutex_lock(&c->mu);
    answer = answer && !wsc__closing_past_ours(&c->closing);
    pthread_mutex_unlock(&c->mu);
    if (!answer)
        return;
    /* Within the caller's deadline: a pong that cannot go out now (the
     * socket or the frame lock is busy) is dropped, as a ping may be.
     * One that broke the socket closed the connection, which the next
     * step sees (what arrived before may still be read: read_rest). */
    wsc__send_control(c, WSC_OP_PONG, ev->data, ev->len,
                   wsc__deadline_min(d, wsc__deadline_in(WSC_CLOSE_TIMEOUT_MS)));
}

/* The peer's close frame: records it, sends our reply (unless our close
 * went out first) and shuts the connection. A read that must not block
 * (timeout 0) may find the socket full of what we wrote before: then the
 * reply is queued behind it, the state becomes CLOSING, and wsc_flush
 * sends both and shuts the connection (write.c). Returns WSC_ECLOSED. */
static int on_close(wsc_conn *c, const wsc_dec_event *ev, wsc_deadline d)
{
    int code = ev->code;
    pthread_mutex_lock(&c->mu);
    c->peer_code = code;
    memcpy(c->peer_reason, ev->data, ev->len);
    c->peer_reason[ev->len] = '\0';
    bool echo = wsc__closing_step(&c->closing, WSC_CLOSE_PEER, true);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    bool queued = false;
    if (echo) {
        uint8_t reply[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        size_t len = code == WSC_STATUS_NO_STATUS_RCVD ? 0 : 2;
        int r = wsc__send_control(c, WSC_OP_CLOSE, reply, len, wsc__close_frame_deadline(d));
        if (r == WSC_EAGAIN && d == WSC_NOWAIT) {
            memcpy(c->close_frame, reply, len); /* before close_queued: see conn.h */
            c->close_frame_len = len;
            atomic_store(&c->close_queued, true);
            queued = true;
        }
        pthread_mutex_lock(&c->mu);
        wsc__closing_step(&c->closing, WSC_CLOSE_REPLIED, true);
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->mu);
    }
    int open = WSC_STATE_OPEN;
    if (queued)
        atomic_compare_exchange_strong(&c->state, &open, WSC_STATE_CLOSING);
    else
        wsc__conn_shutdown(c);
    wsc__fail(WSC_ECLOSED, "the peer closed the connection: %d %s%s%s", code,
             wsc_status_string(code), ev->len ? ": " : "", c->peer_reason);
    wsc__conn_ended(c, WSC_ECLOSED);
    if (c->on_close) {
        c->on_close(c->user, code, c->peer_reason, ev->len);
        wsc_conn_error(c); /* the detail again, whatever the callback did */
    }
    return WSC_ECLOSED;
}

/* Decodes the next event from rbuf, receiving when the decoder needs more
 * bytes. Message data goes to out[0..cap); a large payload is received
 * straight into out (with `all`, its whole rest in one system call). */
static int next_event(wsc_conn *c, uint8_t *out, size_t cap, wsc_deadline d, bool all,
                      wsc_dec_event *ev)
{
    for (;;) {
        uint64_t left = c->rpos == c->rend ? wsc__decode_payload_left(&c->dec) : 0;
        size_t want = left < cap ? (size_t)left : cap;
        if (want >= DIRECT_READ_MIN) {
            ptrdiff_t n = receive(c, out, want, d, all);
            if (n <= 0)
                return read_ended(c, n);
            size_t used;
            return wsc__decode(&c->dec, out, (size_t)n, &used, out, cap, ev);
        }
        size_t used;
        wsc_dec_kind k = wsc__decode(&c->dec, c->rbuf + c->rpos, c->rend - c->rpos, &used, out, cap, ev);
        c->rpos += used;
        if (k != WSC_DEC_MORE)
            return k;
        int r = fill(c, c->rend - c->rpos + 1, d);
        if (r < 0)
            return r;
    }
}

/* The next message event (WSC_DEC_START, DATA or END) into ev, with data
 * at out[0..cap) (cap > 0); control frames are handled on the way, and
 * messages dropped while our close is out. < 0 on an error. */
static int message_event(wsc_conn *c, uint8_t *out, size_t cap, wsc_deadline d, bool all,
                         wsc_dec_event *ev)
{
    for (;;) {
        if (closed_for_reading(c))
            return wsc__fail(WSC_ECLOSED, "the connection is closed");
        if (!c->dec.discard) {
            pthread_mutex_lock(&c->mu);
            c->dec.discard = wsc__closing_past_ours(&c->closing);
            pthread_mutex_unlock(&c->mu);
        }
        int k = next_event(c, out, cap, d, all, ev);
        switch (k) {
        case WSC_DEC_START:
        case WSC_DEC_DATA:
        case WSC_DEC_END:
            if (c->dec.discard)
                continue;
            return k;
        case WSC_DEC_PING:
            on_ping(c, ev, d);
            continue;
        case WSC_DEC_PONG:
            if (c->on_pong)
                c->on_pong(c->user, ev->data, ev->len);
            wsc__pong_arrived(c, ev->data, ev->len);
            continue;
        case WSC_DEC_CLOSE:
            return on_close(c, ev, d);
        case WSC_DEC_ERROR:
            return wsc__conn_fail_within(c, d, ev->code, ev->err, "%s", ev->why);
        default:
            return k; /* an I/O error or timeout */
        }
    }
}

/* wsc_read's message buffer (msg, msg_cap) is malloc'd up to MSG_KEEP
 * bytes and mapped with mmap beyond (msg_mapped), so that giving a large one
 * back returns its pages to the system at once, whatever the allocator
 * would keep. msg_resize keeps the msg_len bytes assembled so far. */
static int msg_resize(wsc_conn *c, size_t cap)
{
    uint8_t *p;
    if (cap <= MSG_KEEP) {
        p = realloc(c->msg, cap);
        if (!p)
            return WSC_ENOMEM;
    } else if (c->msg_mapped) {
#ifdef MREMAP_MAYMOVE
        p = mremap(c->msg, c->msg_cap, cap, MREMAP_MAYMOVE);
        if (p == MAP_FAILED)
            return WSC_ENOMEM;
#else /* no mremap outside Linux: map anew and copy */
        p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return WSC_ENOMEM;
        memcpy(p, c->msg, c->msg_len);
        munmap(c->msg, c->msg_cap);
#endif
    } else {
        p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return WSC_ENOMEM;
        if (c->msg_len)
            memcpy(p, c->msg, c->msg_len);
        free(c->msg);
        c->msg_mapped = true;
    }
    c->msg = p;
    c->msg_cap = cap;
    return 0;
}

void wsc__msg_free(wsc_conn *c)
{
    if (c->msg_mapped)
        munmap(c->msg, c->msg_cap);
    else
        free(c->msg);
    c->msg = NULL;
    c->msg_cap = 0;
    c->msg_len = 0;
    c->msg_mapped = false;
}

/* Gives a message buffer larger than MSG_KEEP back once the connection is
 * idle: no message being assembled in it (a read timed out in the middle)
 * and no bytes at hand, neither buffered nor arriving within IDLE_MS (a
 * read with timeout 0 does not wait: its event loop is about to sleep).
 * While messages keep coming it is kept, so a stream of large messages
 * does not map and fault in a new buffer each time; after IDLE_MS of
 * silence, making it again costs little beside the time waited. Called as
 * a read call starts, within its deadline d: what the last wsc_read
 * returned stayed valid until then. */
static int release_msg(wsc_conn *c, wsc_deadline d)
{
    if (c->msg_cap <= MSG_KEEP || (c->dec.in_msg && !c->reader_open))
        return 0;
    if (c->rpos == c->rend) {
        int r = fill(c, 1, d == WSC_NOWAIT ? d : wsc__deadline_min(d, wsc__deadline_in(IDLE_MS)));
        if (r < 0 && r != WSC_EAGAIN && r != WSC_ETIMEDOUT)
            return r;
    }
    if (c->rpos == c->rend)
        wsc__msg_free(c);
    return 0;
}

/* Entry checks shared by the read calls; takes the reader lock. */
static int read_begin(wsc_conn *c, wsc_deadline d)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "NULL connection");
    pthread_mutex_lock(&c->mu);
    bool bg = c->bg_reader;
    pthread_mutex_unlock(&c->mu);
    if (bg)
        return wsc__fail(WSC_EINVAL, "wsc_close_read was called: this connection is read in the background");
    int r = wsc__conn_ready(c, d);
    if (r < 0)
        return r;
    if (closed_for_reading(c))
        return wsc__fail(WSC_ECLOSED, "the connection is closed");
    r = wsc__reader_enter(c, d);
    if (r == 0 && (r = release_msg(c, d)) < 0)
        wsc__reader_leave(c);
    return r;
}

/* Skips the rest of a message a previous read left unfinished. A compressed
 * one is inflated all the same: the next message may refer back to it. */
static int skip_message(wsc_conn *c, wsc_deadline d)
{
    uint8_t sink[4096];
    c->reader_open = false;
    while (c->dec.in_msg) {
        wsc_dec_event ev;
        int r = message_event(c, sink, sizeof sink, d, false, &ev);
        if (r < 0)
            return r;
    }
    return 0;
}

static int grow_msg(wsc_conn *c, size_t need, wsc_deadline d)
{
    if (need <= c->msg_cap)
        return 0;
    size_t cap = c->msg_cap ? c->msg_cap * 2 : 4096;
    while (cap < need)
        cap *= 2;
    if (msg_resize(c, cap) < 0)
        return wsc__conn_fail_within(c, d, WSC_STATUS_INTERNAL_ERROR, WSC_ENOMEM,
                                     "out of memory for a %zu-byte message", need);
    return 0;
}

/* Reads a whole message into msg: WSC_DEC_END's opcode, or < 0. */
static int read_message(wsc_conn *c, wsc_deadline d)
{
    if (c->reader_open) {
        int r = skip_message(c, d);
        if (r < 0)
            return r;
    }
    for (;;) {
        /* Grow by what the frame announces, at most 1 MiB ahead of the
         * data; for a compressed frame by 4 times that, at least 4 KiB. */
        uint64_t left = c->dec.in_frame ? c->dec.frame_left : 0;
        uint64_t want = c->dec.msg_z ? left * 4 + 4096 : left + 1;
        size_t ahead = want < (1u << 20) ? (size_t)want : (1u << 20);
        int r = grow_msg(c, c->msg_len + ahead + 1, d);
        if (r < 0)
            return r;
        wsc_dec_event ev;
        r = message_event(c, c->msg + c->msg_len, c->msg_cap - c->msg_len - 1, d, true, &ev);
        if (r == WSC_DEC_START)
            c->msg_len = 0;
        else if (r == WSC_DEC_DATA)
            c->msg_len += ev.len;
        else
            return r == WSC_DEC_END ? ev.opcode : r;
    }
}

int wsc_read(wsc_conn *c, int timeout_ms, wsc_msg_type *type, const void **data, size_t *len)
{
    wsc_deadline d = wsc__deadline_in(timeout_ms);
    int r = read_begin(c, d);
    if (r < 0)
        return r;
    r = read_message(c, d);
    if (r > 0) {
        if (!c->msg && grow_msg(c, 1, d) < 0) {
            r = WSC_ENOMEM;
        } else {
            c->msg[c->msg_len] = '\0';
            if (type)
                *type = (wsc_msg_type)r;
            if (data)
                *data = c->msg;
            if (len)
                *len = c->msg_len;
            r = 0;
        }
    } else if ((r == WSC_EAGAIN || r == WSC_ETIMEDOUT) && !c->dec.in_msg) {
        wsc__msg_free(c); /* idle: no message buffer while nothing comes */
    }
    wsc__reader_leave(c);
    return r;
}

int wsc_reader_next(wsc_conn *c, int timeout_ms, wsc_msg_type *type)
{
    wsc_deadline d = wsc__deadline_in(timeout_ms);
    int r = read_begin(c, d);
    if (r < 0)
        return r;
    uint8_t none; /* no data comes before a message's start */
    wsc_dec_event ev;
    if ((r = skip_message(c, d)) == 0 && (r = message_event(c, &none, 1, d, false, &ev)) > 0) {
        r = 0;
        c->reader_open = true;
        if (type)
            *type = (wsc_msg_type)ev.opcode;
    }
    wsc__reader_leave(c);
    return r;
}

ptrdiff_t wsc_reader_read(wsc_conn *c, void *buf, size_t cap, int timeout_ms)
{
    if (!buf || cap == 0)
        return wsc__fail(WSC_EINVAL, "wsc_reader_read needs a buffer of at least 1 byte");
    wsc_deadline d = wsc__deadline_in(timeout_ms);
    int r = read_begin(c, d);
    if (r < 0)
        return r;
    ptrdiff_t n = 0;
    if (!c->reader_open) {
        n = wsc__fail(WSC_EINVAL, "no message to read: call wsc_reader_next first");
    } else {
        while (c->dec.in_msg) { /* after END: 0 */
            wsc_dec_event ev;
            r = message_event(c, buf, cap, d, false, &ev);
            if (r < 0 || r == WSC_DEC_DATA) {
                n = r < 0 ? r : (ptrdiff_t)ev.len;
                break;
            }
        }
    }
    wsc__reader_leave(c);
    return n;
}

void wsc__read_drain(wsc_conn *c, wsc_deadline d)
{
    uint8_t sink[4096];
    wsc_dec_event ev;
    while (message_event(c, sink, sizeof sink, d, false, &ev) >= 0) {
    }
}

/* Waits until a nonblocking dial has ended. The caller's own calls advance
 * it (so a poll loop keeps the exact interest); its end wakes c->cond. */
static void wait_dialed(wsc_conn *c)
{
    pthread_mutex_lock(&c->mu);
    while (atomic_load(&c->state) == WSC_STATE_CONNECTING)
        pthread_cond_wait(&c->cond, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

static void *background_reader(void *arg)
{
    wsc_conn *c = arg;
    wait_dialed(c);
    /* message_event answers pings and closes; it returns a message's start
     * only for data, which is not welcome here (and dropped silently once we
     * are closing). */
    uint8_t none;
    wsc_dec_event ev;
    if (message_event(c, &none, 1, WSC_FOREVER, false, &ev) >= 0)
        wsc__conn_fail(c, WSC_STATUS_POLICY_VIOLATION, WSC_EPROTO,
                      "a data message arrived after wsc_close_read");
    wsc__reader_leave(c);
    return NULL;
}

int wsc_close_read(wsc_conn *c)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "NULL connection");
    pthread_mutex_lock(&c->mu);
    bool twice = c->bg_reader;
    pthread_mutex_unlock(&c->mu);
    if (twice)
        return wsc__fail(WSC_EINVAL, "wsc_close_read was already called");
    int r = wsc__reader_enter(c, WSC_NOWAIT);
    if (r < 0)
        return r;
    pthread_mutex_lock(&c->mu);
    c->bg_reader = pthread_create(&c->bg_thread, NULL, background_reader, c) == 0;
    bool ok = c->bg_reader;
    pthread_mutex_unlock(&c->mu);
    if (!ok) {
        wsc__reader_leave(c);
        return wsc__fail(WSC_ENOMEM, "could not start the background reader thread");
    }
    return 0;
}

size_t wsc_read_buffered(const wsc_conn *c)
{
    if (!c || atomic_load(&c->state) == WSC_STATE_CONNECTING)
        return 0;
    return c->rend - c->rpos + wsc__tls_buffered(&c->tr);
}
