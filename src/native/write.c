/* SPDX-License-Identifier: MIT */
/* write.c - sending frames and messages: wsc_write, the message writer,
 * compressed messages, wsc_ping, and the pending bytes a non-blocking write
 * leaves behind or wsc_cork gathers. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/error.h"
#include "native/conn.h"

#define WBUF_SIZE (64 * 1024)
#define CORK_LIMIT (64 * 1024) /* bytes wsc_cork gathers at most */

/* The next random 4-byte masking key. [w] */
static int next_key(wsc_conn *c, uint8_t key[4])
{
    if (c->keys_pos + 4 > sizeof c->keys) {
        if (getrandom(c->keys, sizeof c->keys, 0) != (ssize_t)sizeof c->keys)
            return wsc__fail(WSC_EIO, "getrandom failed for a masking key");
        c->keys_pos = 0;
    }
    memcpy(key, c->keys + c->keys_pos, 4);
    c->keys_pos += 4;
    return 0;
}

static int frame_send(wsc_conn *c, const wsc_frame_out *f, wsc_deadline d, bool *fail_conn);

/* Sends pending bytes, then a close frame wsc_close_start queued (kept
 * pending itself if the socket does not take it). 0 when none are left. [w] */
static int flush_pending(wsc_conn *c, wsc_deadline d)
{
    int r = wsc__transport_send_rest(&c->tr, c->pend, c->pend_len, &c->pend_pos, d);
    if (c->pend_pos == c->pend_len) { /* all went: nothing stays allocated */
        free(c->pend);
        c->pend = NULL;
        c->pend_pos = c->pend_len = c->pend_cap = 0;
    }
    atomic_store(&c->pend_left, c->pend_len - c->pend_pos);
    if (r == 0 && atomic_load(&c->close_queued)) {
        uint8_t key[4];
        wsc_frame_out f;
        bool fail_conn;
        if ((!c->server && (r = next_key(c, key)) < 0) ||
            (r = wsc__encode_control(&c->enc, WSC_OP_CLOSE, c->close_frame, c->close_frame_len,
                                     key, &f)) < 0)
            return r;
        f.committed = true; /* the close is promised: what the socket does not take waits */
        if ((r = frame_send(c, &f, d, &fail_conn)) < 0)
            return r;
        atomic_store(&c->close_queued, false);
        if (c->pend_pos < c->pend_len)
            return wsc__deadline_error(d);
    }
    return r < 0 ? r : wsc__transport_flush(&c->tr, d); /* what TLS may still hold */
}

/* The calling thread's WBUF_SIZE masking buffer, made on its first large
 * client frame and freed when the thread ends; NULL without memory. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_key_make(void)
{
    pthread_key_create(&scratch_key, free);
}

static uint8_t *thread_scratch(void)
{
    pthread_once(&scratch_once, scratch_key_make);
    uint8_t *p = pthread_getspecific(scratch_key);
    if (!p && (p = malloc(WBUF_SIZE)) && pthread_setspecific(scratch_key, p) != 0) {
        free(p);
        p = NULL;
    }
    return p;
}

/* Appends what the socket did not take of f (all but its first `sent`
 * bytes), as they go on the wire, to the pending bytes, which are sent
 * before anything else; the encoder then counts f as sent. [w] */
static int append_pending(wsc_conn *c, const wsc_frame_out *f, size_t sent)
{
    size_t n = wsc__frame_out_size(f) - sent, held = c->pend_len - c->pend_pos;
    if (c->pend_pos > 0) {
        memmove(c->pend, c->pend + c->pend_pos, held);
        c->pend_pos = 0;
        c->pend_len = held;
    }
    if (held + n > c->pend_cap) {
        size_t cap = held + n;
        if (cap < 2 * c->pend_cap)
            cap = 2 * c->pend_cap;
        if (cap < 4096)
            cap = 4096;
        uint8_t *p = realloc(c->pend, cap);
        if (!p)
            return wsc__fail(WSC_ENOMEM, "out of memory for the rest of a frame");
        c->pend = p;
        c->pend_cap = cap;
    }
    wsc__frame_out_copy(f, sent, c->pend + c->pend_len, n);
    c->pend_len += n;
    atomic_store(&c->pend_left, c->pend_len);
    wsc__encode_sent(&c->enc, f);
    return 0;
}

/* After a send of f that stopped with error r having sent `sent` bytes:
 * decides what the caller sees. A frame the call may not wait for (timeout
 * 0) or that must go out (committed) is kept pending; a broken socket or a
 * frame sent in part fails the connection (*fail_conn). [w] */
static int send_failed(wsc_conn *c, const wsc_frame_out *f, int r, size_t sent,
                       wsc_deadline d, bool *fail_conn)
{
    *fail_conn = true;
    if (r != WSC_EAGAIN && r != WSC_ETIMEDOUT)
        return r;
    if (sent == 0 && !f->committed) {
        *fail_conn = false;
        return r; /* nothing of the frame left: the connection is intact */
    }
    if (d == WSC_NOWAIT || f->committed) {
        int k = append_pending(c, f, sent);
        if (k == 0) {
            *fail_conn = false;
            return 0;
        }
        r = k;
    }
    return r;
}

/* Takes frame_mu within d, so a writer stuck on a full socket cannot hold a
 * close or a pong back past its deadline. */
static int lock_frames(wsc_conn *c, wsc_deadline d)
{
    int r = wsc__lock_within(&c->frame_mu, d);
    if (r < 0)
        return wsc__fail(r, "another thread's frame is still being written");
    return 0;
}

/* Takes frame_mu and sends the pending bytes, unless the frame will be
 * gathered: *gather says so when the connection is corked and the frame
 * may be (data, not control). On failure frame_mu is released (and a
 * broken socket fails the connection). */
static int frames_begin(wsc_conn *c, wsc_deadline d, bool may_gather, bool *gather)
{
    int r = lock_frames(c, d);
    if (r < 0)
        return r;
    if (atomic_load(&c->state) == WSC_STATE_CLOSED) {
        pthread_mutex_unlock(&c->frame_mu);
        return wsc__fail(WSC_ECLOSED, "the connection is closed");
    }
    *gather = may_gather && atomic_load(&c->cork); /* wsc_flush clears it under frame_mu */
    if (*gather)
        return 0;
    r = flush_pending(c, d);
    if (r < 0) {
        pthread_mutex_unlock(&c->frame_mu);
        if (r != WSC_EAGAIN && r != WSC_ETIMEDOUT)
            return wsc__conn_send_failed(c, r);
    }
    return r;
}

/* Releases frame_mu; fails the connection if a send broke it. */
static int frames_end(wsc_conn *c, int r, bool fail_conn)
{
    pthread_mutex_unlock(&c->frame_mu);
    if (!fail_conn)
        return r;
    /* The socket broke or a frame went out half: no close frame possible
     * (a reader may still take what arrived before). */
    if (r == WSC_EAGAIN || r == WSC_ETIMEDOUT)
        r = wsc__fail(WSC_EIO, "the deadline passed after part of a frame was sent; a frame "
                     "cannot be taken back, so the connection is closed");
    return wsc__conn_send_failed(c, r);
}

/* Sends the frame the encoder made, frame_mu held, within d (see
 * send_failed for what a frame the socket does not take becomes). A server
 * sends the header and the caller's payload as they are; a client masks
 * into a scratch buffer a chunk at a time, the header in front of the
 * first chunk so small frames take one send: small frames use the stack,
 * larger ones the writing thread's scratch buffer (no connection holds a
 * send buffer of its own). [w] */
static int frame_send(wsc_conn *c, const wsc_frame_out *f, wsc_deadline d, bool *fail_conn)
{
    size_t total = wsc__frame_out_size(f), sent = 0;
    int r;
    *fail_conn = false;
    if (!f->masked) {
        struct iovec iov[2] = {{(void *)f->hdr, f->hlen}, {(void *)f->payload, f->len}};
        r = wsc__transport_send_all(&c->tr, iov, 2, d, &sent);
    } else {
        uint8_t small[2048];
        uint8_t *buf = small;
        size_t cap = sizeof small;
        if (total > cap) {
            cap = WBUF_SIZE;
            if (!(buf = thread_scratch()))
                return wsc__fail(WSC_ENOMEM, "out of memory for the write buffer");
        }
        do {
            struct iovec iov = {buf, wsc__frame_out_copy(f, sent, buf, cap)};
            size_t chunk_sent = 0;
            r = wsc__transport_send_all(&c->tr, &iov, 1, d, &chunk_sent);
            sent += chunk_sent;
        } while (r == 0 && sent < total);
    }
    if (r < 0)
        return send_failed(c, f, r, sent, d, fail_conn);
    wsc__encode_sent(&c->enc, f);
    return 0;
}

/* wsc_cork: adds f to the pending bytes. When they would pass CORK_LIMIT
 * they are sent first, within d, and f too if it alone is larger; a
 * committed frame the socket has no room for stays pending regardless.
 * Returns as frame_send. [w] */
static int gather_frame(wsc_conn *c, const wsc_frame_out *f, wsc_deadline d, bool *fail_conn)
{
    size_t n = wsc__frame_out_size(f);
    *fail_conn = false;
    if (c->pend_len - c->pend_pos + n > CORK_LIMIT) {
        int r = flush_pending(c, d);
        if (r < 0 && r != WSC_EAGAIN && r != WSC_ETIMEDOUT) {
            *fail_conn = true;
            return r;
        }
        if (r < 0 && !f->committed)
            return r; /* nothing of f went out: the connection is intact */
        if (r == 0 && n > CORK_LIMIT)
            return frame_send(c, f, d, fail_conn);
    }
    return append_pending(c, f, 0);
}

/* What send_encoded sends: a control frame, a whole message, or the next
 * piece of the message being written (fin: the last). */
typedef enum {
    SEND_CONTROL, SEND_MESSAGE, SEND_PIECE, SEND_LAST_PIECE,
    SEND_READY_PLAIN, SEND_READY_DEFLATED /* a whole message, payload ready */
} send_kind;

/* Encodes and sends one frame within d. A compressed piece may make no
 * frame (the compressor holds it): *framed says whether one went out. A
 * compressor failure fails the connection with 1011. Returns 0,
 * WSC_EAGAIN/WSC_ETIMEDOUT when nothing was sent, or an error that closed
 * the connection. */
static int send_encoded(wsc_conn *c, send_kind kind, uint8_t op, const void *data, size_t len,
                        wsc_deadline d, bool *framed)
{
    bool fail_conn = false, gather;
    *framed = true;
    int r = frames_begin(c, d, kind != SEND_CONTROL, &gather);
    if (r < 0)
        return r;
    uint8_t key[4];
    wsc_frame_out f;
    if (!c->server && (r = next_key(c, key)) < 0)
        return frames_end(c, r, false);
    if (kind == SEND_CONTROL)
        r = wsc__encode_control(&c->enc, op, data, len, key, &f);
    else if (kind == SEND_MESSAGE)
        r = wsc__encode_message(&c->enc, op, data, len, key, &f);
    else if (kind == SEND_READY_PLAIN || kind == SEND_READY_DEFLATED)
        r = wsc__encode_ready(&c->enc, op, data, len, kind == SEND_READY_DEFLATED, key, &f);
    else
        r = wsc__encode_piece(&c->enc, data, len, kind == SEND_LAST_PIECE, key, &f, framed);
    if (r < 0) {
        pthread_mutex_unlock(&c->frame_mu);
        /* The encoder refuses data after our close frame. (New messages are
         * refused as soon as a close is claimed, by msg_acquire; a message
         * being written may send pieces until the close frame is out.) */
        if (r == WSC_ECLOSED)
            return wsc__fail(r, "the connection is closing: our close frame went out");
        if (kind == SEND_CONTROL)
            return wsc__fail(r, "a control frame's payload is at most 125 bytes");
        return wsc__conn_fail_within(c, d, WSC_STATUS_INTERNAL_ERROR, r, "%s", wsc_last_error());
    }
    if (*framed)
        r = gather ? gather_frame(c, &f, d, &fail_conn) : frame_send(c, &f, d, &fail_conn);
    return frames_end(c, r, fail_conn);
}

int wsc__send_control(wsc_conn *c, uint8_t op, const void *data, size_t len, wsc_deadline d)
{
    bool framed;
    return send_encoded(c, SEND_CONTROL, op, data, len, d, &framed);
}

/* Takes the message lock (msg_busy) within d. */
static int msg_acquire(wsc_conn *c, wsc_deadline d)
{
    pthread_mutex_lock(&c->mu);
    int r = 0;
    for (;;) {
        if (wsc__closing_received(&c->closing)) {
            r = wsc__fail(WSC_ECLOSED, "the peer closed the connection with %d %s", c->peer_code,
                         wsc_status_string(c->peer_code));
            break;
        }
        if (wsc__closing_sent(&c->closing) || atomic_load(&c->state) == WSC_STATE_CLOSED) {
            r = wsc__fail(WSC_ECLOSED, "the connection is closed (or closing)");
            break;
        }
        if (!c->msg_busy) {
            c->msg_busy = true;
            c->msg_owner = pthread_self();
            c->enc.plain = !atomic_load(&c->write_compression); /* for this message */
            break;
        }
        if (pthread_equal(c->msg_owner, pthread_self())) {
            r = wsc__fail(WSC_EBUSY, "this thread is writing a message: call wsc_writer_end first");
            break;
        }
        if ((r = wsc__conn_wait(c, d)) < 0) {
            wsc__fail(r, "another thread is still writing a message");
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return r;
}

static void msg_release(wsc_conn *c)
{
    pthread_mutex_lock(&c->mu);
    c->msg_busy = false;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

static int check_type(wsc_msg_type type)
{
    if (type != WSC_TEXT && type != WSC_BINARY)
        return wsc__fail(WSC_EINVAL, "message type %d is neither WSC_TEXT nor WSC_BINARY", type);
    return 0;
}

int wsc_write(wsc_conn *c, wsc_msg_type type, const void *data, size_t len, int timeout_ms)
{
    if (!c || (len && !data))
        return wsc__fail(WSC_EINVAL, "wsc_write: NULL connection or data");
    int r = check_type(type);
    wsc_deadline d = wsc__deadline_in(timeout_ms);
    if (r < 0 || (r = wsc__conn_ready(c, d)) < 0 || (r = msg_acquire(c, d)) < 0)
        return r;
    bool framed;
    r = send_encoded(c, SEND_MESSAGE, (uint8_t)type, data, len, d, &framed);
    msg_release(c);
    return r;
}

int wsc__write_ready(wsc_conn *c, wsc_msg_type type, const void *data, size_t len, bool deflated,
                     int timeout_ms)
{
    wsc_deadline d = wsc__deadline_in(timeout_ms);
    int r = wsc__conn_ready(c, d);
    if (r < 0 || (r = msg_acquire(c, d)) < 0)
        return r;
    bool framed;
    r = send_encoded(c, deflated ? SEND_READY_DEFLATED : SEND_READY_PLAIN, (uint8_t)type, data,
                     len, d, &framed);
    msg_release(c);
    return r;
}

int wsc_writer_begin(wsc_conn *c, wsc_msg_type type, int timeout_ms)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "wsc_writer_begin: NULL connection");
    int r = check_type(type);
    wsc_deadline d = wsc__deadline_in(timeout_ms);
    if (r < 0 || (r = wsc__conn_ready(c, d)) < 0 || (r = msg_acquire(c, d)) < 0)
        return r;
    c->wr_op = (uint8_t)type;
    wsc__encode_begin(&c->enc, c->wr_op); /* msg_busy keeps other messages out */
    c->wr_begun = false;
    c->wr_timeout = timeout_ms;
    return 0;
}

static bool writer_owned(wsc_conn *c)
{
    pthread_mutex_lock(&c->mu);
    bool busy = c->msg_busy && c->wr_op != 0;
    pthread_mutex_unlock(&c->mu);
    return busy;
}

/* The deadline of a piece: the begin call's timeout for each (0: none may
 * wait; -1: none has a deadline). */
static wsc_deadline piece_deadline(const wsc_conn *c)
{
    return c->wr_timeout == 0 ? WSC_NOWAIT : wsc__deadline_in(c->wr_timeout);
}

/* A message piece failed: ends the message. Once part of it went out, or
 * into the compressor, it cannot be abandoned: the connection is closed
 * with 1011 before another message can follow. A timeout-0 message is the
 * exception: a piece that found the socket full took nothing, and the
 * message stays open for the caller to give it again. */
static int writer_failed(wsc_conn *c, int r)
{
    if (c->wr_timeout == 0 && r == WSC_EAGAIN)
        return r;
    if (c->wr_begun && (r == WSC_EAGAIN || r == WSC_ETIMEDOUT))
        r = wsc__conn_fail(c, WSC_STATUS_INTERNAL_ERROR, WSC_EIO,
                          "the deadline passed half-way through a message, which cannot be "
                          "completed");
    c->wr_op = 0;
    msg_release(c);
    return r;
}

int wsc_writer_write(wsc_conn *c, const void *data, size_t len)
{
    if (!c || (len && !data) || !writer_owned(c))
        return wsc__fail(WSC_EINVAL, "wsc_writer_write without wsc_writer_begin");
    if (len == 0)
        return 0;
    bool framed;
    int r = send_encoded(c, SEND_PIECE, c->wr_op, data, len, piece_deadline(c), &framed);
    if (r < 0)
        return writer_failed(c, r);
    c->wr_begun = true;
    return 0;
}

int wsc_writer_end(wsc_conn *c)
{
    if (!c || !writer_owned(c))
        return wsc__fail(WSC_EINVAL, "wsc_writer_end without wsc_writer_begin");
    bool framed;
    int r = send_encoded(c, SEND_LAST_PIECE, c->wr_op, NULL, 0, piece_deadline(c), &framed);
    if (r < 0)
        return writer_failed(c, r);
    c->wr_op = 0;
    msg_release(c);
    return 0;
}

int wsc_cork(wsc_conn *c)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "wsc_cork: NULL connection");
    if (atomic_load(&c->state) >= WSC_STATE_CLOSING)
        return wsc__fail(WSC_ECLOSED, "the connection is closed (or closing)");
    atomic_store(&c->cork, true);
    return 0;
}

int wsc_flush(wsc_conn *c, int timeout_ms)
{
    if (!c)
        return WSC_EINVAL;
    wsc_deadline d = wsc__deadline_in(timeout_ms);
    int r = lock_frames(c, d);
    if (r < 0)
        return r;
    atomic_store(&c->cork, false);
    r = flush_pending(c, d);
    pthread_mutex_unlock(&c->frame_mu);
    if (r < 0 && r != WSC_EAGAIN && r != WSC_ETIMEDOUT)
        return wsc__conn_send_failed(c, r);
    if (r == 0 && atomic_load(&c->state) == WSC_STATE_CLOSING) {
        /* A reply to the peer's close that a read queued (read.c) is out:
         * the handshake is over. */
        pthread_mutex_lock(&c->mu);
        bool done = wsc__closing_received(&c->closing);
        pthread_mutex_unlock(&c->mu);
        if (done)
            wsc__conn_shutdown(c);
    }
    return r;
}

bool wsc_want_write(const wsc_conn *c)
{
    if (!c)
        return false;
    if (atomic_load(&c->state) == WSC_STATE_CONNECTING)
        return (atomic_load(&c->hs_want) & POLLOUT) != 0;
    /* A frame being written by another thread counts as wanting to write. */
    if (pthread_mutex_trylock((pthread_mutex_t *)&c->frame_mu) != 0)
        return true;
    bool want = c->pend_pos < c->pend_len || wsc__transport_pending(&c->tr) ||
                atomic_load(&c->close_queued);
    pthread_mutex_unlock((pthread_mutex_t *)&c->frame_mu);
    return want;
}

size_t wsc_buffered_amount(const wsc_conn *c)
{
    if (!c || atomic_load(&c->state) == WSC_STATE_CONNECTING)
        return 0;
    return atomic_load(&c->pend_left) + wsc__transport_pending(&c->tr);
}

void wsc__pong_arrived(wsc_conn *c, const uint8_t *payload, size_t len)
{
    if (len != 8)
        return;
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = (id << 8) | payload[i];
    pthread_mutex_lock(&c->mu);
    for (wsc_ping_waiter *w = c->pings; w; w = w->next)
        if (w->id == id)
            w->done = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

/* wsc_send_ping and wsc_send_pong. */
static int send_app_control(wsc_conn *c, uint8_t op, const void *payload, size_t len, int timeout_ms)
{
    if (!c || (len && !payload))
        return wsc__fail(WSC_EINVAL, "NULL connection or payload");
    if (len > 125)
        return wsc__fail(WSC_EINVAL, "a control frame carries at most 125 bytes, not %zu", len);
    wsc_deadline d = wsc__deadline_in(timeout_ms);
    int r = wsc__conn_ready(c, d);
    if (r < 0)
        return r;
    pthread_mutex_lock(&c->mu);
    bool closing = wsc__closing_sent(&c->closing);
    pthread_mutex_unlock(&c->mu);
    if (closing)
        return wsc__fail(WSC_ECLOSED, "the connection is closing");
    return wsc__send_control(c, op, payload, len, d);
}

int wsc_send_ping(wsc_conn *c, const void *payload, size_t len, int timeout_ms)
{
    return send_app_control(c, WSC_OP_PING, payload, len, timeout_ms);
}

int wsc_send_pong(wsc_conn *c, const void *payload, size_t len, int timeout_ms)
{
    return send_app_control(c, WSC_OP_PONG, payload, len, timeout_ms);
}

int wsc_ping(wsc_conn *c, int timeout_ms)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "wsc_ping: NULL connection");
    wsc_deadline d = wsc__deadline_in(timeout_ms);
    int r = wsc__conn_ready(c, d);
    if (r < 0)
        return r;
    wsc_ping_waiter w = {0};
    pthread_mutex_lock(&c->mu);
    if (wsc__closing_sent(&c->closing)) {
        pthread_mutex_unlock(&c->mu);
        return wsc__fail(WSC_ECLOSED, "the connection is closing");
    }
    w.id = ++c->ping_seq;
    w.next = c->pings;
    c->pings = &w;
    pthread_mutex_unlock(&c->mu);

    uint8_t payload[8];
    for (int i = 0; i < 8; i++)
        payload[i] = (uint8_t)(w.id >> (56 - 8 * i));
    r = wsc__send_control(c, WSC_OP_PING, payload, sizeof payload, d);

    pthread_mutex_lock(&c->mu);
    while (r == 0 && !w.done) {
        if (atomic_load(&c->state) == WSC_STATE_CLOSED)
            r = wsc__fail(WSC_ECLOSED, "the connection closed before the pong arrived");
        else if ((r = wsc__conn_wait(c, d)) < 0)
            wsc__fail(r, "no pong within the timeout (is a reader running?)");
    }
    for (wsc_ping_waiter **pp = &c->pings; *pp; pp = &(*pp)->next)
        if (*pp == &w) {
            *pp = w.next;
            break;
        }
    pthread_mutex_unlock(&c->mu);
    return r;
}

int wsc_set_write_compression(wsc_conn *c, bool enabled)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "NULL connection");
    atomic_store(&c->write_compression, enabled);
    return 0;
}
