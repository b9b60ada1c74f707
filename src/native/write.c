/* SPDX-License-Identifier: MIT */
/* write.c - sending frames and messages: wsc_write, the message writer,
 * compressed messages, wsc_ping, and the pending bytes a non-blocking write
 * leaves behind. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/error.h"
#include "native/conn.h"
#include "proto/mask.h"

#define WBUF_SIZE (64 * 1024)

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

static int frame_out(wsc_conn *c, uint8_t op, uint8_t rsv, bool fin, const uint8_t *p,
                     size_t len, wsc_deadline d, bool keep, bool *fail_conn);

/* Sends pending bytes, then a close frame wsc_close_start queued (kept
 * pending itself if the socket does not take it). 0 when none are left. [w] */
static int flush_pending(wsc_conn *c, wsc_deadline d)
{
    int r = wsc__transport_send_rest(&c->tr, c->pend, c->pend_len, &c->pend_pos, d);
    if (c->pend_pos == c->pend_len)
        c->pend_pos = c->pend_len = 0;
    if (r == 0 && atomic_load(&c->close_queued)) {
        bool fail_conn;
        r = frame_out(c, WSC_OP_CLOSE, 0, true, c->close_frame, c->close_frame_len, d, true,
                      &fail_conn);
        if (r < 0)
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

/* Keeps the unsent rest of a frame: `rest` already final bytes, then
 * `tail` bytes of payload still to be masked from mask offset `moff`. [w] */
static int keep_pending(wsc_conn *c, const struct iovec *rest, int n_rest,
                        const uint8_t *tail, size_t tail_len, const uint8_t *key,
                        size_t moff)
{
    size_t total = tail_len;
    for (int i = 0; i < n_rest; i++)
        total += rest[i].iov_len;
    uint8_t *p = malloc(total ? total : 1);
    if (!p)
        return WSC_ENOMEM;
    size_t at = 0;
    for (int i = 0; i < n_rest; i++) {
        memcpy(p + at, rest[i].iov_base, rest[i].iov_len);
        at += rest[i].iov_len;
    }
    if (tail_len) {
        if (key)
            wsc__mask(p + at, tail, tail_len, key, moff);
        else
            memcpy(p + at, tail, tail_len);
    }
    free(c->pend);
    c->pend = p;
    c->pend_pos = 0;
    c->pend_len = total;
    return 0;
}

/* After a send that stopped with error r having sent `sent` bytes of the
 * frame: decides what the caller sees. With `keep`, a frame that could not
 * go out (a compressed one the compressor cannot take back) is kept. [w] */
static int send_failed(wsc_conn *c, int r, size_t sent, struct iovec *iov, int n,
                       const uint8_t *tail, size_t tail_len, const uint8_t *key,
                       size_t moff, wsc_deadline d, bool keep, bool *fail_conn)
{
    *fail_conn = false;
    if (r != WSC_EAGAIN && r != WSC_ETIMEDOUT) {
        *fail_conn = true;
        return r;
    }
    if (sent == 0 && !keep)
        return r; /* nothing of the frame left: the connection is intact */
    if (d == WSC_NOWAIT || keep) {
        int k = keep_pending(c, iov, n, tail, tail_len, key, moff);
        if (k == 0)
            return 0;
        r = k;
    }
    *fail_conn = true;
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

/* Takes frame_mu and sends what a timeout-0 write left pending. On failure
 * frame_mu is released (and a broken socket fails the connection). */
static int frames_begin(wsc_conn *c, uint8_t op, wsc_deadline d)
{
    int r = lock_frames(c, d);
    if (r < 0)
        return r;
    /* Nothing but control frames may follow our close frame. (A close being
     * sent concurrently needs frame_mu, which we hold: it goes out after.) */
    bool refuse = atomic_load(&c->state) == WSC_STATE_CLOSED ||
                  (op < WSC_OP_CLOSE && atomic_load(&c->close_sent));
    if (refuse) {
        pthread_mutex_unlock(&c->frame_mu);
        return wsc__fail(WSC_ECLOSED, "the connection is closed (or closing)");
    }
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

/* Writes one frame, frame_mu held. `keep`: see send_failed. [w] */
static int frame_out(wsc_conn *c, uint8_t op, uint8_t rsv, bool fin, const uint8_t *p,
                     size_t len, wsc_deadline d, bool keep, bool *fail_conn)
{
    int r;
    *fail_conn = false;
    uint8_t hdr[WSC_FRAME_HEADER_MAX];
    wsc_frame_header h = {.fin = fin, .rsv = rsv, .opcode = op, .masked = !c->server, .len = len};
    if (h.masked && (r = next_key(c, h.key)) < 0)
        return r;
    size_t hlen = wsc__frame_encode(hdr, &h);
    size_t sent = 0;

    if (!h.masked) {
        struct iovec iov[2] = {{hdr, hlen}, {(void *)p, len}};
        r = wsc__transport_send_all(&c->tr, iov, 2, d, &sent);
        if (r < 0) {
            int n = iov[0].iov_len ? 2 : 1;
            r = send_failed(c, r, sent, iov + (2 - n), n, NULL, 0, NULL, 0, d, keep, fail_conn);
        }
        return r;
    }

    /* Client: mask into a scratch buffer a chunk at a time, the header in
     * front of the first chunk, so small frames take one send. Small frames
     * use the stack, larger ones the writing thread's scratch buffer: no
     * connection holds a send buffer of its own. */
    uint8_t small[2048];
    uint8_t *buf = small;
    size_t cap = sizeof small;
    if (hlen + len > cap) {
        cap = WBUF_SIZE;
        if (!(buf = thread_scratch()))
            return wsc__fail(WSC_ENOMEM, "out of memory for the write buffer");
    }
    size_t done = 0;
    bool first = true;
    do {
        size_t off = first ? hlen : 0;
        if (first)
            memcpy(buf, hdr, hlen);
        size_t n = len - done;
        if (n > cap - off)
            n = cap - off;
        wsc__mask(buf + off, p + done, n, h.key, done);
        struct iovec iov = {buf, off + n};
        size_t chunk_sent = 0;
        r = wsc__transport_send_all(&c->tr, &iov, 1, d, &chunk_sent);
        sent += chunk_sent;
        done += n;
        if (r < 0) { /* what is kept pending is copied */
            r = send_failed(c, r, sent, &iov, 1, p + done, len - done, h.key, done, d, keep,
                            fail_conn);
            break;
        }
        first = false;
    } while (done < len);
    return r;
}

int wsc__send_frame(wsc_conn *c, uint8_t op, bool fin, const void *data, size_t len,
                   wsc_deadline d)
{
    bool fail_conn;
    int r = frames_begin(c, op, d);
    if (r < 0)
        return r;
    r = frame_out(c, op, 0, fin, data, len, d, false, &fail_conn);
    return frames_end(c, r, fail_conn);
}

/* Sends a piece of a compressed message: the first piece as `op` with RSV1,
 * later ones as continuations. The compressor may hold a piece back (no
 * frame: *framed false). `whole`: the piece is the whole message; without
 * context takeover, if it does not shrink it goes out as it is (with
 * takeover it goes compressed all the same: a later message may refer back
 * to it). Once the compressor took a piece, what it made is sent or kept
 * pending: the peer's window must see it. Only a whole message without
 * context takeover can still be refused with nothing sent. */
static int send_deflated(wsc_conn *c, uint8_t op, bool fin, bool whole, const void *data,
                         size_t len, wsc_deadline d, bool *framed)
{
    bool fail_conn = false;
    *framed = false;
    int r = frames_begin(c, op, d);
    if (r < 0)
        return r;
    const uint8_t *out;
    size_t n;
    r = wsc__deflate_piece(c->pmd, data, len, fin, whole ? len : 0, &out, &n);
    if (r < 0) {
        pthread_mutex_unlock(&c->frame_mu);
        return wsc__conn_fail_within(c, d, WSC_STATUS_INTERNAL_ERROR, r, "%s", wsc_last_error());
    }
    if (whole && n >= len && !wsc__deflate_takeover(c->pmd)) { /* it did not shrink */
        r = frame_out(c, op, 0, fin, data, len, d, false, &fail_conn);
        *framed = r == 0;
    } else if (n > 0 || fin) {
        bool keep = !whole || wsc__deflate_takeover(c->pmd);
        r = frame_out(c, op, op == WSC_OP_CONT ? 0 : 0x4, fin, out, n, d, keep, &fail_conn);
        *framed = r == 0;
    }
    return frames_end(c, r, fail_conn);
}

/* Takes the message lock (msg_busy) within d. */
static int msg_acquire(wsc_conn *c, wsc_deadline d)
{
    pthread_mutex_lock(&c->mu);
    int r = 0;
    for (;;) {
        if (c->close_received) {
            r = wsc__fail(WSC_ECLOSED, "the peer closed the connection with %d %s", c->peer_code,
                         wsc_status_string(c->peer_code));
            break;
        }
        if (c->close_sent || atomic_load(&c->state) == WSC_STATE_CLOSED) {
            r = wsc__fail(WSC_ECLOSED, "the connection is closed (or closing)");
            break;
        }
        if (!c->msg_busy) {
            c->msg_busy = true;
            c->msg_owner = pthread_self();
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
    if (c->pmd && wsc__deflate_wanted(c->pmd, len))
        r = send_deflated(c, (uint8_t)type, true, true, data, len, d, &framed);
    else
        r = wsc__send_frame(c, (uint8_t)type, true, data, len, d);
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
    c->wr_first = true;
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
    bool framed = true;
    uint8_t op = c->wr_first ? c->wr_op : WSC_OP_CONT;
    wsc_deadline d = piece_deadline(c);
    int r = c->pmd ? send_deflated(c, op, false, false, data, len, d, &framed)
                   : wsc__send_frame(c, op, false, data, len, d);
    if (r < 0)
        return writer_failed(c, r);
    if (framed)
        c->wr_first = false;
    c->wr_begun = true;
    return 0;
}

int wsc_writer_end(wsc_conn *c)
{
    if (!c || !writer_owned(c))
        return wsc__fail(WSC_EINVAL, "wsc_writer_end without wsc_writer_begin");
    bool framed;
    uint8_t op = c->wr_first ? c->wr_op : WSC_OP_CONT;
    wsc_deadline d = piece_deadline(c);
    int r = c->pmd ? send_deflated(c, op, true, false, NULL, 0, d, &framed)
                   : wsc__send_frame(c, op, true, NULL, 0, d);
    if (r < 0)
        return writer_failed(c, r);
    c->wr_op = 0;
    msg_release(c);
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
    r = flush_pending(c, d);
    pthread_mutex_unlock(&c->frame_mu);
    if (r < 0 && r != WSC_EAGAIN && r != WSC_ETIMEDOUT)
        return wsc__conn_send_failed(c, r);
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
    if (c->close_sent) {
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
    r = wsc__send_frame(c, WSC_OP_PING, true, payload, sizeof payload, d);

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
