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
#include "common/utf8.h"
#include "native/conn.h"
#include "native/mask.h"

/* Direct-to-destination reads for payload at least this large. */
#define DIRECT_READ_MIN 1024

/* wsc_read's message buffer is kept between messages up to this size; a
 * larger one is given back once the connection has been idle for IDLE_MS
 * (see release_msg). */
#define MSG_KEEP (64 * 1024)
#define IDLE_MS 10

/* Whether the connection is closed to readers. After a send broke the
 * socket, a reader may still take what had arrived (read_rest). */
static bool closed_for_reading(wsc_conn *c)
{
    if (atomic_load(&c->state) != WSC_STATE_CLOSED)
        return false;
    pthread_mutex_lock(&c->mu);
    bool rest = c->read_rest && !c->close_called && !c->close_received;
    pthread_mutex_unlock(&c->mu);
    return !rest;
}

/* Whether our close frame went out and the peer's data is no longer
 * wanted (nor its pings answered): not after a half-close, until
 * wsc_close. Caller holds mu. */
static bool past_our_close(const wsc_conn *c)
{
    return c->close_sent && (!c->half_closed || c->close_called);
}

/* The transport ended or failed under a reader. */
static int read_ended(wsc_conn *c, ptrdiff_t r)
{
    if (r == WSC_EAGAIN || r == WSC_ETIMEDOUT)
        return (int)r;
    pthread_mutex_lock(&c->mu);
    bool local = c->close_called || c->close_received;
    pthread_mutex_unlock(&c->mu);
    if (local || atomic_load(&c->state) == WSC_STATE_CLOSED)
        return wsc_conn_fail(c, 0, WSC_ECLOSED, "the connection is closed");
    if (r == 0)
        return wsc_conn_fail(c, 0, WSC_ECLOSED,
                             "the peer closed the TCP connection without a close frame (1006)");
    return wsc_conn_fail(c, 0, (int)r, "reading failed: %s", wsc_last_error());
}

/* Makes at least `need` bytes (<= rcap) available at rbuf + rpos. */
static int fill(wsc_conn *c, size_t need, wsc_deadline d)
{
    while (c->rend - c->rpos < need) {
        if (c->rpos == c->rend) {
            c->rpos = c->rend = 0;
        } else if (c->rcap - c->rpos < need) {
            memmove(c->rbuf, c->rbuf + c->rpos, c->rend - c->rpos);
            c->rend -= c->rpos;
            c->rpos = 0;
        }
        ptrdiff_t n = wsc_transport_recv(&c->tr, c->rbuf + c->rend, c->rcap - c->rend, d, false);
        if (n <= 0)
            return read_ended(c, n);
        c->rend += (size_t)n;
    }
    return 0;
}

static int protocol_error(wsc_conn *c, int code, const char *why)
{
    return wsc_conn_fail(c, code, code == WSC_STATUS_MESSAGE_TOO_BIG ? WSC_EMSGSIZE : WSC_EPROTO,
                         "%s", why);
}

/* Answers a ping, reports a pong, or completes the close handshake. */
static int handle_control(wsc_conn *c, const wsc_frame_header *h, uint8_t *p, wsc_deadline d)
{
    size_t len = (size_t)h->len;
    if (h->opcode == WSC_OP_PING) {
        bool answer = c->on_ping ? c->on_ping(c->user, p, len) : true;
        pthread_mutex_lock(&c->mu);
        answer = answer && !past_our_close(c);
        pthread_mutex_unlock(&c->mu);
        if (!answer)
            return 0;
        /* Within the caller's deadline: a pong that cannot go out now (the
         * socket or the frame lock is busy) is dropped, as a ping may be.
         * One that broke the socket closed the connection, which the next
         * step sees (what arrived before may still be read: read_rest). */
        wsc_send_frame(c, WSC_OP_PONG, true, p, len,
                       wsc_deadline_min(d, wsc_deadline_in(WSC_CLOSE_TIMEOUT_MS)));
        return 0;
    }
    if (h->opcode == WSC_OP_PONG) {
        if (c->on_pong)
            c->on_pong(c->user, p, len);
        wsc_pong_arrived(c, p, len);
        return 0;
    }
    /* Close. */
    int code = WSC_STATUS_NO_STATUS_RCVD;
    if (len == 1)
        return protocol_error(c, WSC_STATUS_PROTOCOL_ERROR, "close frame with a 1-byte payload");
    if (len >= 2) {
        code = (p[0] << 8) | p[1];
        if (!wsc_close_code_valid(code))
            return protocol_error(c, WSC_STATUS_PROTOCOL_ERROR, "invalid close code in close frame");
        if (wsc_utf8_feed(WSC_UTF8_ACCEPT, p + 2, len - 2) != WSC_UTF8_ACCEPT)
            return protocol_error(c, WSC_STATUS_INVALID_FRAME_PAYLOAD_DATA,
                                  "close reason is not valid UTF-8");
    }
    pthread_mutex_lock(&c->mu);
    c->close_received = true;
    c->peer_code = code;
    size_t rlen = len >= 2 ? len - 2 : 0;
    memcpy(c->peer_reason, p + 2 * (len >= 2), rlen);
    c->peer_reason[rlen] = '\0';
    bool echo = !c->close_sent;
    c->close_sent = true;
    c->echo_pending = echo;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    if (echo) {
        uint8_t reply[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        wsc_send_frame(c, WSC_OP_CLOSE, true, reply, code == WSC_STATUS_NO_STATUS_RCVD ? 0 : 2,
                       wsc_deadline_in(WSC_CLOSE_TIMEOUT_MS));
        pthread_mutex_lock(&c->mu);
        c->echo_pending = false;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->mu);
    }
    wsc_conn_shutdown(c);
    return wsc_fail(WSC_ECLOSED, "the peer closed the connection: %d %s%s%s", code,
                    wsc_status_string(code), rlen ? ": " : "", c->peer_reason);
}

/* Makes *n > 0 bytes of the current frame's payload (frame_left > 0)
 * available at rbuf + rpos, reading if there are none. */
static int payload_in_rbuf(wsc_conn *c, wsc_deadline d, size_t *n)
{
    if (c->rpos == c->rend) {
        int r = fill(c, 1, d);
        if (r < 0)
            return r;
    }
    *n = c->rend - c->rpos;
    if (*n > c->frame_left)
        *n = (size_t)c->frame_left;
    return 0;
}

/* Discards the rest of the current data frame's payload. */
static int skip_payload(wsc_conn *c, wsc_deadline d)
{
    c->rpos += c->zready;
    c->zready = 0;
    while (c->frame_left > 0) {
        size_t n;
        int r = payload_in_rbuf(c, d, &n);
        if (r < 0)
            return r;
        c->rpos += n;
        c->frame_left -= n;
    }
    c->in_frame = false;
    if (c->fh.fin)
        c->in_msg = false;
    return 0;
}

static int too_big(wsc_conn *c)
{
    char why[96];
    snprintf(why, sizeof why, "message longer than the read limit of %lld bytes",
             (long long)c->read_limit);
    return protocol_error(c, WSC_STATUS_MESSAGE_TOO_BIG, why);
}

/* Counts n bytes of message data just put in dst and checks text. */
static int take_data(wsc_conn *c, const uint8_t *dst, size_t n)
{
    c->msg_size += n;
    if (c->msg_op == WSC_OP_TEXT) {
        c->utf8 = wsc_utf8_feed(c->utf8, dst, n);
        if (c->utf8 == WSC_UTF8_REJECT)
            return protocol_error(c, WSC_STATUS_INVALID_FRAME_PAYLOAD_DATA, "text message is not valid UTF-8");
    }
    return 0;
}

/* Reads frames until a data frame's header has been taken (in_frame), handling
 * control frames on the way, and discarding data while our close is out. */
static int next_data_frame(wsc_conn *c, wsc_deadline d)
{
    while (!c->in_frame) {
        if (closed_for_reading(c))
            return wsc_fail(WSC_ECLOSED, "the connection is closed");
        wsc_frame_header h;
        int hl;
        while ((hl = wsc_frame_parse(c->rbuf + c->rpos, c->rend - c->rpos, &h)) == 0) {
            int r = fill(c, c->rend - c->rpos + 1, d);
            if (r < 0)
                return r;
        }
        if (hl < 0)
            return protocol_error(c, WSC_STATUS_PROTOCOL_ERROR, "64-bit frame length with the top bit set");
        const char *why;
        bool data = h.opcode == WSC_OP_TEXT || h.opcode == WSC_OP_BINARY;
        int code = wsc_frame_check(&h, c->server, c->pmd && data ? 0x4 : 0, &why);
        if (code)
            return protocol_error(c, code, why);

        if (h.opcode & 0x8) {
            int r = fill(c, (size_t)hl + (size_t)h.len, d);
            if (r < 0)
                return r;
            uint8_t *p = c->rbuf + c->rpos + hl;
            c->rpos += (size_t)hl + (size_t)h.len;
            if (h.masked)
                wsc_mask(p, p, (size_t)h.len, h.key, 0);
            r = handle_control(c, &h, p, d);
            if (r < 0)
                return r;
            continue;
        }

        if (h.opcode == WSC_OP_CONT && !c->in_msg)
            return protocol_error(c, WSC_STATUS_PROTOCOL_ERROR, "continuation frame without a message to continue");
        if (h.opcode != WSC_OP_CONT && c->in_msg)
            return protocol_error(c, WSC_STATUS_PROTOCOL_ERROR, "new message started inside a fragmented message");
        c->rpos += (size_t)hl;
        c->fh = h;
        c->in_frame = true;
        c->frame_left = h.len;
        c->mask_pos = 0;
        if (h.opcode != WSC_OP_CONT) {
            c->in_msg = true;
            c->msg_op = h.opcode;
            c->utf8 = WSC_UTF8_ACCEPT;
            c->msg_size = 0;
            c->msg_len = 0;
            c->msg_z = (h.rsv & 0x4) != 0;
            c->zready = 0;
            c->ztail = 0;
            c->zmore = false;
            int r = c->msg_z ? wsc_inflate_begin(c->pmd) : 0;
            if (r < 0)
                return wsc_conn_fail(c, WSC_STATUS_INTERNAL_ERROR, r, "%s", wsc_last_error());
        }
        pthread_mutex_lock(&c->mu);
        bool closing = past_our_close(c);
        pthread_mutex_unlock(&c->mu);
        if (closing) {
            int r = skip_payload(c, d);
            if (r < 0)
                return r;
            continue;
        }
        /* A compressed message's limit is checked as it inflates. */
        if (!c->msg_z && c->read_limit >= 0 &&
            (c->msg_size > (uint64_t)c->read_limit || h.len > (uint64_t)c->read_limit - c->msg_size))
            return too_big(c);
    }
    return 0;
}

/* Reads up to cap bytes (> 0) of the current frame's payload into dst,
 * unmasked and UTF-8 checked. Needs in_frame and frame_left > 0. With
 * `all`, a large rest is waited for in one system call. */
static ptrdiff_t read_payload(wsc_conn *c, uint8_t *dst, size_t cap, wsc_deadline d, bool all)
{
    size_t want = cap < c->frame_left ? cap : (size_t)c->frame_left;
    size_t n;
    if (c->rpos < c->rend) {
        n = c->rend - c->rpos;
        if (n > want)
            n = want;
        memcpy(dst, c->rbuf + c->rpos, n);
        c->rpos += n;
    } else if (want >= DIRECT_READ_MIN) {
        ptrdiff_t r = wsc_transport_recv(&c->tr, dst, want, d, all);
        if (r <= 0)
            return read_ended(c, r);
        n = (size_t)r;
    } else {
        int r = fill(c, 1, d);
        if (r < 0)
            return r;
        return read_payload(c, dst, cap, d, all);
    }
    if (c->fh.masked)
        wsc_mask(dst, dst, n, c->fh.key, c->mask_pos & 3);
    c->mask_pos += n;
    c->frame_left -= n;
    int r = take_data(c, dst, n);
    return r < 0 ? r : (ptrdiff_t)n;
}

/* Inflates the current frame of a compressed message into dst (cap > 0):
 * > 0 bytes made, 0 when the frame gives no more (for the final frame, once
 * the 00 00 ff ff tail went in too), or an error. Raw bytes are unmasked in
 * place in rbuf; zready counts those not yet inflated. Output stops one byte
 * past the read limit, so a message inflating beyond it costs no more. */
static ptrdiff_t read_inflated(wsc_conn *c, uint8_t *dst, size_t cap, wsc_deadline d)
{
    static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
    if (c->read_limit >= 0) {
        if (c->msg_size > (uint64_t)c->read_limit)
            return too_big(c);
        if (cap > (uint64_t)c->read_limit - c->msg_size + 1)
            cap = (size_t)((uint64_t)c->read_limit - c->msg_size + 1);
    }
    for (;;) {
        /* Output inflate still holds comes first: the input so far may
         * already decide the message (an error, the limit). */
        if (c->zready == 0 && c->frame_left > 0 && !c->zmore) {
            size_t n;
            int r = payload_in_rbuf(c, d, &n);
            if (r < 0)
                return r;
            if (c->fh.masked)
                wsc_mask(c->rbuf + c->rpos, c->rbuf + c->rpos, n, c->fh.key, c->mask_pos & 3);
            c->mask_pos += n;
            c->frame_left -= n;
            c->zready = n;
        }
        const uint8_t *in = tail;
        size_t in_len = 0;
        if (c->zready) {
            in = c->rbuf + c->rpos;
            in_len = c->zready;
        } else if (c->frame_left == 0 && c->fh.fin && c->ztail < 4 && !c->zmore) {
            in = tail + c->ztail;
            in_len = 4 - c->ztail;
        } else if (!c->zmore) {
            if (c->fh.fin && !wsc_inflate_complete(c->pmd))
                return protocol_error(c, WSC_STATUS_INVALID_FRAME_PAYLOAD_DATA,
                                      "a compressed message ends inside a deflate block");
            return 0;
        }
        size_t used, made;
        int r = wsc_inflate_some(c->pmd, in, in_len, &used, dst, cap, &made, &c->zmore);
        if (r < 0)
            return wsc_conn_fail(c, r == WSC_EPROTO ? WSC_STATUS_INVALID_FRAME_PAYLOAD_DATA
                                                    : WSC_STATUS_INTERNAL_ERROR,
                                 r, "%s", wsc_last_error());
        if (c->zready) {
            c->rpos += used;
            c->zready -= used;
        } else {
            c->ztail += (uint8_t)used;
        }
        if (made) {
            /* Text is checked up to the limit first, whatever the piece
             * sizes, so every reader reports the same error. */
            bool over = c->read_limit >= 0 && c->msg_size + made > (uint64_t)c->read_limit;
            r = take_data(c, dst, over ? (size_t)((uint64_t)c->read_limit - c->msg_size) : made);
            if (r < 0)
                return r;
            return over ? too_big(c) : (ptrdiff_t)made;
        }
        if (in_len && !used && !c->zmore)
            return protocol_error(c, WSC_STATUS_INVALID_FRAME_PAYLOAD_DATA,
                                  "a compressed message does not inflate");
    }
}

/* Reads up to cap bytes (> 0) of the current frame's message data into dst:
 * its payload, or what the payload inflates to. 0 when the frame has no
 * more. */
static ptrdiff_t read_data(wsc_conn *c, uint8_t *dst, size_t cap, wsc_deadline d, bool all)
{
    if (c->msg_z)
        return read_inflated(c, dst, cap, d);
    return c->frame_left ? read_payload(c, dst, cap, d, all) : 0;
}

/* The current frame's payload is all read: moves on. Returns 1 when that
 * ended the message, 0 when more frames follow, < 0 on a UTF-8 error. */
static int frame_done(wsc_conn *c)
{
    c->in_frame = false;
    if (!c->fh.fin)
        return 0;
    c->in_msg = false;
    if (c->msg_z)
        wsc_inflate_end(c->pmd);
    if (c->msg_op == WSC_OP_TEXT && c->utf8 != WSC_UTF8_ACCEPT)
        return protocol_error(c, WSC_STATUS_INVALID_FRAME_PAYLOAD_DATA,
                              "text message ends inside a UTF-8 sequence");
    return 1;
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

void wsc_msg_free(wsc_conn *c)
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
    if (c->msg_cap <= MSG_KEEP || (c->in_msg && !c->reader_open))
        return 0;
    if (c->rpos == c->rend) {
        int r = fill(c, 1, d == WSC_NOWAIT ? d : wsc_deadline_min(d, wsc_deadline_in(IDLE_MS)));
        if (r < 0 && r != WSC_EAGAIN && r != WSC_ETIMEDOUT)
            return r;
    }
    if (c->rpos == c->rend)
        wsc_msg_free(c);
    return 0;
}

/* Entry checks shared by the read calls; takes the reader lock. */
static int read_begin(wsc_conn *c, wsc_deadline d)
{
    if (!c)
        return wsc_fail(WSC_EINVAL, "NULL connection");
    pthread_mutex_lock(&c->mu);
    bool bg = c->bg_reader;
    pthread_mutex_unlock(&c->mu);
    if (bg)
        return wsc_fail(WSC_EINVAL, "wsc_close_read was called: this connection is read in the background");
    int r = wsc_conn_ready(c, d);
    if (r < 0)
        return r;
    if (closed_for_reading(c))
        return wsc_fail(WSC_ECLOSED, "the connection is closed");
    r = wsc_reader_enter(c, d);
    if (r == 0 && (r = release_msg(c, d)) < 0)
        wsc_reader_leave(c);
    return r;
}

/* Skips the rest of a message a previous read left unfinished. A compressed
 * one is inflated all the same: the next message may refer back to it. */
static int skip_message(wsc_conn *c, wsc_deadline d)
{
    uint8_t sink[4096];
    c->reader_open = false;
    while (c->in_msg) {
        ptrdiff_t r;
        if (!c->in_frame)
            r = next_data_frame(c, d);
        else if (!c->msg_z)
            r = skip_payload(c, d);
        else if ((r = read_inflated(c, sink, sizeof sink, d)) == 0)
            r = frame_done(c);
        if (r < 0)
            return (int)r;
    }
    return 0;
}

static int grow_msg(wsc_conn *c, size_t need)
{
    if (need <= c->msg_cap)
        return 0;
    size_t cap = c->msg_cap ? c->msg_cap * 2 : 4096;
    while (cap < need)
        cap *= 2;
    if (msg_resize(c, cap) < 0)
        return wsc_conn_fail(c, WSC_STATUS_INTERNAL_ERROR, WSC_ENOMEM,
                             "out of memory for a %zu-byte message", need);
    return 0;
}

static int read_message(wsc_conn *c, wsc_deadline d)
{
    if (c->reader_open) {
        int r = skip_message(c, d);
        if (r < 0)
            return r;
    }
    for (;;) {
        int r = next_data_frame(c, d);
        if (r < 0)
            return r;
        for (;;) {
            /* Grow by what the frame announces, at most 1 MiB ahead of the
             * data; for a compressed frame by 4 times that, at least 4 KiB. */
            uint64_t want = c->msg_z ? c->frame_left * 4 + 4096 : c->frame_left;
            size_t ahead = want < (1u << 20) ? (size_t)want : (1u << 20);
            if ((r = grow_msg(c, c->msg_len + ahead + 1)) < 0)
                return r;
            ptrdiff_t n = read_data(c, c->msg + c->msg_len, c->msg_cap - c->msg_len - 1, d, true);
            if (n < 0)
                return (int)n;
            if (n == 0)
                break;
            c->msg_len += (size_t)n;
        }
        if ((r = frame_done(c)) != 0)
            return r < 0 ? r : 0;
    }
}

int wsc_read(wsc_conn *c, int timeout_ms, wsc_msg_type *type, const void **data, size_t *len)
{
    wsc_deadline d = wsc_deadline_in(timeout_ms);
    int r = read_begin(c, d);
    if (r < 0)
        return r;
    r = read_message(c, d);
    if (r == 0) {
        if (!c->msg && grow_msg(c, 1) < 0)
            r = WSC_ENOMEM;
        else {
            c->msg[c->msg_len] = '\0';
            if (type)
                *type = (wsc_msg_type)c->msg_op;
            if (data)
                *data = c->msg;
            if (len)
                *len = c->msg_len;
        }
    }
    wsc_reader_leave(c);
    return r;
}

int wsc_reader_next(wsc_conn *c, int timeout_ms, wsc_msg_type *type)
{
    wsc_deadline d = wsc_deadline_in(timeout_ms);
    int r = read_begin(c, d);
    if (r < 0)
        return r;
    if ((r = skip_message(c, d)) == 0 && (r = next_data_frame(c, d)) == 0) {
        c->reader_open = true;
        if (type)
            *type = (wsc_msg_type)c->msg_op;
    }
    wsc_reader_leave(c);
    return r;
}

ptrdiff_t wsc_reader_read(wsc_conn *c, void *buf, size_t cap, int timeout_ms)
{
    if (!buf || cap == 0)
        return wsc_fail(WSC_EINVAL, "wsc_reader_read needs a buffer of at least 1 byte");
    wsc_deadline d = wsc_deadline_in(timeout_ms);
    int r = read_begin(c, d);
    if (r < 0)
        return r;
    ptrdiff_t n = 0;
    if (!c->reader_open) {
        n = wsc_fail(WSC_EINVAL, "no message to read: call wsc_reader_next first");
    } else {
        while (c->in_msg) {
            if (c->in_frame && (n = read_data(c, buf, cap, d, false)) != 0)
                break;
            if (c->in_frame) {
                if ((r = frame_done(c)) < 0) {
                    n = r;
                    break;
                }
                continue;
            }
            if ((r = next_data_frame(c, d)) < 0) {
                n = r;
                break;
            }
        }
    }
    wsc_reader_leave(c);
    return n;
}

void wsc_read_drain(wsc_conn *c, wsc_deadline d)
{
    while ((c->in_frame ? skip_payload(c, d) : next_data_frame(c, d)) == 0) {
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
    /* next_data_frame answers pings and closes; it returns 0 only for data,
     * which is not welcome here (and skipped silently once we are closing). */
    if (next_data_frame(c, WSC_FOREVER) == 0)
        wsc_conn_fail(c, WSC_STATUS_POLICY_VIOLATION, WSC_EPROTO,
                      "a data message arrived after wsc_close_read");
    wsc_reader_leave(c);
    return NULL;
}

int wsc_close_read(wsc_conn *c)
{
    if (!c)
        return wsc_fail(WSC_EINVAL, "NULL connection");
    pthread_mutex_lock(&c->mu);
    bool twice = c->bg_reader;
    pthread_mutex_unlock(&c->mu);
    if (twice)
        return wsc_fail(WSC_EINVAL, "wsc_close_read was already called");
    int r = wsc_reader_enter(c, WSC_NOWAIT);
    if (r < 0)
        return r;
    pthread_mutex_lock(&c->mu);
    c->bg_reader = pthread_create(&c->bg_thread, NULL, background_reader, c) == 0;
    bool ok = c->bg_reader;
    pthread_mutex_unlock(&c->mu);
    if (!ok) {
        wsc_reader_leave(c);
        return wsc_fail(WSC_ENOMEM, "could not start the background reader thread");
    }
    return 0;
}
