/* SPDX-License-Identifier: MIT */
/* fuzz_read.c - libFuzzer target for the whole server-side receive path.
 *
 * Input: one mode byte, then raw bytes a client sends after its (valid)
 * upgrade request. The body's length modulo 4 picks permessage-deflate: off,
 * context takeover, no context takeover, or 9-bit windows (see DEFLATE), so
 * compressed messages (RSV1) go through inflate. For each input, twice (once
 * per read API):
 *   a socketpair; a feeder thread writes the request and the bytes into one
 *   end, shuts down its writing side and reads (discards) whatever the server
 *   answers until end of stream, so replies never fill a socket buffer;
 *   wsc_accept / wsc_accept_with on the other end, then
 *   pass 1: wsc_read(timeout -1: the blocking recv / MSG_WAITALL path) until
 *           it fails;
 *   pass 2: wsc_reader_next + wsc_reader_read (timeout 1000: the poll path)
 *           with a small buffer until it fails (sometimes abandoning a
 *           message half-way).
 * Then pass 3 on one thread: the bytes go in a few at a time and every read
 * uses timeout 0 until WSC_EAGAIN before the next chunk, so reads stop and
 * resume at every possible point of a frame (wsc_read, or the streaming
 * reader when mode bit 3 is set; chunk size from bits 5-7).
 * The mode byte picks the read limit (bits 0-2), how the request arrives
 * (bits 3-4: all on the socket, as wsc_accept_with's head, head + some frame
 * bytes, or split between head and socket) and the streaming buffer size
 * (bits 5-7).
 *
 * Checked: messages are TEXT or BINARY, within the read limit, text is
 * NUL-terminated valid UTF-8; after end of input a read never times out; all
 * passes see the same messages, the same final error and the same close
 * status (unless pass 2 abandoned a message); a failed connection stays
 * failed; everything is freed. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wsc.h"
#include "common/utf8.h"
#include "fuzz_common.h"

/* permessage-deflate, picked by the body's length modulo 4 (the mode byte
 * is full): the client's offer and the server's mode. */
static const struct {
    const char *offer;
    wsc_compression mode;
} DEFLATE[4] = {
    {"", WSC_COMPRESSION_DISABLED},
    {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
     WSC_COMPRESSION_CONTEXT_TAKEOVER},
    {"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n",
     WSC_COMPRESSION_NO_CONTEXT_TAKEOVER},
    {"Sec-WebSocket-Extensions: x-other, permessage-deflate; client_max_window_bits=9; "
     "server_max_window_bits=9\r\n",
     WSC_COMPRESSION_CONTEXT_TAKEOVER},
};

/* The upgrade request for a body of body_len bytes, into buf; its length. */
static size_t build_request(size_t body_len, char *buf, size_t cap, wsc_accept_options *ao)
{
    int n = snprintf(buf, cap,
                     "GET /fuzz HTTP/1.1\r\n"
                     "Host: fuzz.test\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s"
                     "\r\n",
                     DEFLATE[body_len % 4].offer);
    ASSERT(n > 0 && (size_t)n < cap);
    memset(ao, 0, sizeof *ao);
    ao->handshake_timeout_ms = 5000;
    ao->compression = DEFLATE[body_len % 4].mode;
    ao->compression_threshold = -1;
    return (size_t)n;
}

static const int64_t LIMITS[8] = {-2 /* default */, 0, 1, 125, 126, 4096, 65535, -1};
static const size_t CAPS[8] = {1, 2, 3, 7, 64, 125, 4096, 65536};

/* What the client side of the socketpair sends. */
typedef struct {
    int fd;
    const uint8_t *a;
    size_t a_len;
    const uint8_t *b;
    size_t b_len;
} feeder;

static void send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the server shut its side: stop sending */
        p += w;
        n -= (size_t)w;
    }
}

static void *feed(void *arg)
{
    feeder *f = arg;
    send_all(f->fd, f->a, f->a_len);
    send_all(f->fd, f->b, f->b_len);
    shutdown(f->fd, SHUT_WR);
    char sink[4096];
    for (;;) {
        ssize_t r = recv(f->fd, sink, sizeof sink, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
    }
    return NULL;
}

/* A growable record of the messages a pass saw: type, length, bytes. */
typedef struct {
    uint8_t *p;
    size_t len, cap;
    size_t count;
} record;

static void rec_add(record *r, const void *data, size_t n)
{
    if (n == 0)
        return;
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        while (cap < r->len + n)
            cap *= 2;
        uint8_t *p = realloc(r->p, cap);
        ASSERT(p);
        r->p = p;
        r->cap = cap;
    }
    memcpy(r->p + r->len, data, n);
    r->len += n;
}

static void rec_message(record *r, wsc_msg_type type, const void *data, size_t n)
{
    uint8_t t = (uint8_t)type;
    uint64_t l = n;
    rec_add(r, &t, 1);
    rec_add(r, &l, sizeof l);
    rec_add(r, data, n);
    r->count++;
}

typedef struct {
    record msgs;
    int final_err;
    int close_status;
    bool abandoned; /* pass 2 left a message unread: later results may differ */
    bool closed;    /* a 'C' message made the reader call wsc_close */
    int close_r;    /* what wsc_close returned */
} outcome;

/* A complete message starting with 'C' makes every pass call wsc_close(1000)
 * there and stop reading: the close handshake, with whatever the input has
 * after that message (data to discard, the peer's close, or nothing). */
static bool wants_close(const void *data, size_t n)
{
    return n > 0 && ((const uint8_t *)data)[0] == 'C';
}

static void do_close(wsc_conn *c, outcome *out)
{
    out->closed = true;
    out->close_r = wsc_close(c, 1000, "fuzz");
    ASSERT(out->close_r <= 0);
    ASSERT(wsc_close(c, 1000, "") == WSC_ECLOSED);
}

static void check_message(wsc_msg_type type, const uint8_t *p, size_t n, int64_t limit)
{
    ASSERT(type == WSC_TEXT || type == WSC_BINARY);
    if (limit >= 0)
        ASSERT((int64_t)n <= limit);
    if (type == WSC_TEXT && n > 0)
        ASSERT(wsc__utf8_feed(WSC_UTF8_ACCEPT, p, n) == WSC_UTF8_ACCEPT);
}

static void check_final(int err)
{
    /* End of input is end of stream: nothing may wait for more. */
    ASSERT(err == WSC_ECLOSED || err == WSC_EPROTO || err == WSC_EMSGSIZE || err == WSC_EIO);
}

/* Once failed, the connection stays failed: a read must not hand out what
 * is left in the buffer (it once returned the rest of an oversized message
 * after WSC_EMSGSIZE). */
static void check_stays_failed(wsc_conn *c)
{
    wsc_msg_type t;
    const void *d;
    size_t l;
    ASSERT(wsc_read(c, 0, &t, &d, &l) < 0);
}

static void run_pass(int pass, uint8_t mode, const uint8_t *body, size_t body_len, outcome *out)
{
    memset(out, 0, sizeof *out);
    int sv[2];
    ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);

    /* How the request arrives. */
    char request[512];
    wsc_accept_options ao;
    const size_t req_len = build_request(body_len, request, sizeof request, &ao);
    const uint8_t *head = NULL;
    size_t head_len = 0, frames_in_head = 0;
    uint8_t *head_buf = NULL;
    feeder f = {.fd = sv[1]};
    switch ((mode >> 3) & 3) {
    case 0: /* all on the socket, wsc_accept */
        f.a = (const uint8_t *)request;
        f.a_len = req_len;
        break;
    case 1: /* the request as wsc_accept_with's head */
        head = (const uint8_t *)request;
        head_len = req_len;
        break;
    case 2: /* the head has the request and the first frame bytes */
        frames_in_head = body_len < 200 ? body_len : 200;
        head_buf = malloc(req_len + frames_in_head + 1);
        ASSERT(head_buf);
        memcpy(head_buf, request, req_len);
        memcpy(head_buf + req_len, body, frames_in_head);
        head = head_buf;
        head_len = req_len + frames_in_head;
        break;
    case 3: /* half of the request in the head, the rest on the socket */
        head = (const uint8_t *)request;
        head_len = req_len / 2;
        f.a = (const uint8_t *)request + head_len;
        f.a_len = req_len - head_len;
        break;
    }
    f.b = body + frames_in_head;
    f.b_len = body_len - frames_in_head;

    pthread_t th;
    ASSERT(pthread_create(&th, NULL, feed, &f) == 0);

    wsc_conn *c = NULL;
    int r = head ? wsc_accept_with(sv[0], head, head_len, &ao, &c) : wsc_accept(sv[0], &ao, &c);
    if (r != 0)
        fprintf(stderr, "accept failed: %s: %s\n", wsc_strerror(r), wsc_last_error());
    ASSERT(r == 0 && c);

    int64_t limit = LIMITS[mode & 7];
    if (limit != -2)
        wsc_set_read_limit(c, limit);
    else
        limit = 32768;

    if (pass == 1) {
        for (;;) {
            wsc_msg_type type;
            const void *data;
            size_t len;
            r = wsc_read(c, -1, &type, &data, &len); /* blocking system calls */
            if (r < 0)
                break;
            ASSERT(r == 0);
            check_message(type, data, len, limit);
            ASSERT(((const char *)data)[len] == '\0');
            rec_message(&out->msgs, type, data, len);
            if (wants_close(data, len)) {
                do_close(c, out);
                break;
            }
        }
    } else {
        size_t cap = CAPS[(mode >> 5) & 7];
        uint8_t *buf = malloc(cap);
        ASSERT(buf);
        record cur = {0};
        for (size_t index = 0;; index++) {
            wsc_msg_type type;
            r = wsc_reader_next(c, 1000, &type);
            if (r < 0)
                break;
            ASSERT(type == WSC_TEXT || type == WSC_BINARY);
            cur.len = 0;
            bool abandon = cap <= 3 && index % 4 == 3;
            ptrdiff_t n;
            while ((n = wsc_reader_read(c, buf, cap, 1000)) > 0) {
                ASSERT((size_t)n <= cap);
                rec_add(&cur, buf, (size_t)n);
                if (abandon)
                    break;
            }
            if (n < 0) {
                r = (int)n;
                break;
            }
            if (abandon && n > 0) {
                out->abandoned = true;
                continue;
            }
            /* n == 0: the whole message. */
            check_message(type, cur.p, cur.len, limit);
            if (!out->abandoned)
                rec_message(&out->msgs, type, cur.p, cur.len);
            /* The end of a message stays the end. */
            ASSERT(wsc_reader_read(c, buf, cap, 1000) == 0);
            if (wants_close(cur.p, cur.len)) {
                do_close(c, out);
                break;
            }
        }
        free(cur.p);
        free(buf);
    }
    if (!out->closed) {
        check_final(r);
        out->final_err = r;
    }
    out->close_status = wsc_close_status(c);
    ASSERT(out->close_status == -1 || out->close_status == 1005 ||
           (out->close_status >= 1000 && out->close_status <= 4999));
    check_stays_failed(c);

    wsc_conn_free(c);
    pthread_join(th, NULL);
    close(sv[1]);
    free(head_buf);
}

/* Reads whatever the server wrote so far (the socket is non-blocking). */
static void drain(int fd)
{
    char sink[4096];
    while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
}

static const size_t CHUNKS[8] = {1, 2, 3, 5, 8, 13, 64, 500};

/* Pass 3: one thread, the bytes delivered a chunk at a time, every read with
 * timeout 0 until WSC_EAGAIN before the next chunk: each chunk boundary is a
 * point where a read stops and must resume (mid-header, mid-length, mid-key,
 * mid-payload, mid-UTF-8). With wsc_read (mode bit 3 clear) or the streaming
 * reader (set). Then end of stream and reads with a timeout. */
static void run_chunked(uint8_t mode, const uint8_t *body, size_t body_len, outcome *out)
{
    memset(out, 0, sizeof *out);
    int sv[2];
    ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    wsc_conn *c = NULL;
    char request[512];
    wsc_accept_options ao;
    size_t req_len = build_request(body_len, request, sizeof request, &ao);
    int r = wsc_accept_with(sv[0], request, req_len, &ao, &c);
    ASSERT(r == 0 && c);
    drain(sv[1]);
    int64_t limit = LIMITS[mode & 7];
    if (limit != -2)
        wsc_set_read_limit(c, limit);
    else
        limit = 32768;
    bool streaming = (mode & 8) != 0;
    size_t chunk = CHUNKS[(mode >> 5) & 7];
    size_t cap = CAPS[(mode >> 5) & 7];
    uint8_t *buf = malloc(cap);
    ASSERT(buf);
    record cur = {0};
    bool in_msg = false;
    wsc_msg_type type = WSC_BINARY;
    size_t pos = 0;
    bool eof = false;
    r = 0;
    for (;;) {
        int timeout = eof ? 1000 : 0;
        if (!streaming) {
            const void *data;
            size_t len;
            r = wsc_read(c, timeout, &type, &data, &len);
            if (r == 0) {
                check_message(type, data, len, limit);
                rec_message(&out->msgs, type, data, len);
                if (wants_close(data, len))
                    break;
                continue;
            }
        } else if (!in_msg) {
            r = wsc_reader_next(c, timeout, &type);
            if (r == 0) {
                in_msg = true;
                cur.len = 0;
                continue;
            }
        } else {
            ptrdiff_t n = wsc_reader_read(c, buf, cap, timeout);
            if (n > 0) {
                rec_add(&cur, buf, (size_t)n);
                continue;
            }
            if (n == 0) {
                check_message(type, cur.p, cur.len, limit);
                rec_message(&out->msgs, type, cur.p, cur.len);
                in_msg = false;
                if (wants_close(cur.p, cur.len)) {
                    r = 0;
                    break;
                }
                continue;
            }
            r = (int)n;
        }
        if (r != WSC_EAGAIN)
            break; /* a timeout after end of stream fails check_final */
        ASSERT(!eof);
        drain(sv[1]);
        if (pos < body_len) {
            size_t n = body_len - pos < chunk ? body_len - pos : chunk;
            send_all(sv[1], body + pos, n);
            pos += n;
        } else {
            shutdown(sv[1], SHUT_WR);
            eof = true;
        }
    }
    if (r == 0) {
        /* wsc_close reads the rest itself: give it all of it now. */
        drain(sv[1]);
        send_all(sv[1], body + pos, body_len - pos);
        shutdown(sv[1], SHUT_WR);
        do_close(c, out);
    } else {
        check_final(r);
        out->final_err = r;
    }
    out->close_status = wsc_close_status(c);
    check_stays_failed(c);
    free(cur.p);
    free(buf);
    wsc_conn_free(c);
    close(sv[1]);
}

static void compare(const char *what, const outcome *a, const outcome *b)
{
    if (a->msgs.count != b->msgs.count || a->msgs.len != b->msgs.len ||
        (a->msgs.len && memcmp(a->msgs.p, b->msgs.p, a->msgs.len) != 0))
        fprintf(stderr, "wsc_read saw %zu messages, %s %zu\n", a->msgs.count, what, b->msgs.count);
    ASSERT(a->msgs.count == b->msgs.count);
    ASSERT(a->msgs.len == b->msgs.len);
    ASSERT(a->msgs.len == 0 || memcmp(a->msgs.p, b->msgs.p, a->msgs.len) == 0);
    if (a->final_err != b->final_err)
        fprintf(stderr, "final errors differ: wsc_read %s, %s %s\n", wsc_strerror(a->final_err), what,
                wsc_strerror(b->final_err));
    ASSERT(a->final_err == b->final_err);
    ASSERT(a->closed == b->closed);
    if (a->close_r != b->close_r)
        fprintf(stderr, "wsc_close returned %s after wsc_read, %s after %s\n", wsc_strerror(a->close_r),
                wsc_strerror(b->close_r), what);
    ASSERT(a->close_r == b->close_r);
    ASSERT(a->close_status == b->close_status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    uint8_t mode = data[0];
    outcome a, b, c;
    run_pass(1, mode, data + 1, size - 1, &a);
    run_pass(2, mode, data + 1, size - 1, &b);
    if (!b.abandoned)
        compare("the streaming reader", &a, &b);
    run_chunked(mode, data + 1, size - 1, &c);
    compare("the chunked timeout-0 reader", &a, &c);
    free(a.msgs.p);
    free(b.msgs.p);
    free(c.msgs.p);
    return 0;
}
