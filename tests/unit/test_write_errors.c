/* SPDX-License-Identifier: MIT */
/* test_write_errors.c - what a failed or refused write leaves behind: the
 * error it returns and whether the connection goes on.
 *
 *   a  a timed-out write that sent part of its frame closes the connection
 *      and says WSC_EIO; WSC_ETIMEDOUT always means usable
 *   b  a compressed message abandoned after the compressor took a piece
 *      never leaks into the next message: the connection closes with 1011
 *   c  wsc_write and wsc_writer_begin on the thread holding an open writer
 *      fail at once with WSC_EBUSY instead of waiting for themselves
 *   d  wsc_close(c, 0, "reason") says that a reason needs a code
 *   e  wsc_close_reason read while the reader stores it (run under TSan)
 * The server side is a wsc_accept over a socketpair with small buffers and
 * a raw peer that reads only when told to.
 */
#include <linux/sockios.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <zlib.h>

#include "check.h"
#include "net.h"

static const char REQUEST[] =
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/* A server conn on one end of a socketpair and its raw peer on the other
 * (*peer), both with small buffers; deflate asks the peer to offer
 * permessage-deflate. (Unix sockets, not TCP: a full one stays full, where
 * loopback TCP frees room by merging queued small packets.) */
static wsc_conn *raw_server(int *peer, bool deflate)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return NULL;
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    char req[512];
    snprintf(req, sizeof req, "%s%s\r\n", REQUEST,
             deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n" : "");
    send_bytes(sv[1], req, strlen(req));
    wsc_accept_options o = {.compression = deflate ? WSC_COMPRESSION_NO_CONTEXT_TAKEOVER : 0,
                            .compression_threshold = -1};
    wsc_conn *c = NULL;
    int r = wsc_accept(sv[0], &o, &c);
    CHECKF(r == 0, "wsc_accept over a socketpair (%s)", wsc_last_error());
    char head[1024];
    recv_head(sv[1], head, sizeof head, 2000);
    CHECK(strncmp(head, "HTTP/1.1 101", 12) == 0, "101 response");
    if (r != 0) {
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    *peer = sv[1];
    return c;
}

/* Everything the peer can read until it has been quiet for quiet_ms. */
typedef struct {
    int fd, delay_ms;
    uint8_t *buf;
    size_t len, cap;
} drain;

static void *drain_thread(void *arg)
{
    drain *d = arg;
    sleep_ms(d->delay_ms);
    for (;;) {
        struct pollfd p = {.fd = d->fd, .events = POLLIN};
        if (poll(&p, 1, 500) != 1)
            break;
        if (d->len == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 65536;
            d->buf = realloc(d->buf, d->cap);
        }
        ssize_t n = recv(d->fd, d->buf + d->len, d->cap - d->len, 0);
        if (n <= 0)
            break;
        d->len += (size_t)n;
    }
    return NULL;
}

/* One unmasked frame parsed from the bytes at p (n of them); 0 if incomplete. */
typedef struct {
    uint8_t first;
    const uint8_t *payload;
    uint64_t len;
} frame;

static size_t parse_frame(const uint8_t *p, size_t n, frame *f)
{
    if (n < 2)
        return 0;
    size_t hl = 2;
    uint64_t len = p[1] & 0x7f;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        hl = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        hl = 10;
    }
    if (n - hl < len)
        return 0;
    f->first = p[0];
    f->payload = p + hl;
    f->len = len;
    return hl + (size_t)len;
}

/* ---- (a) a partial frame closes the connection ---------------------------- */

static void test_a_partial_timeout(void)
{
    int peer;
    wsc_conn *c = raw_server(&peer, false);
    if (!c)
        return;
    enum { LEN = 1 << 20 };
    uint8_t *msg = calloc(1, LEN);
    int r = wsc_write(c, WSC_BINARY, msg, LEN, 200);
    wsc_state st = wsc_get_state(c);
    printf("  (a) a 1 MiB write into a full socket with a 200 ms deadline: %s, state %d\n",
           wsc_strerror(r), st);
    CHECKF(r != WSC_ETIMEDOUT || st == WSC_STATE_OPEN,
           "(a) WSC_ETIMEDOUT promises a usable connection, but the state is %d", st);
    CHECKF(r == WSC_EIO && st == WSC_STATE_CLOSED,
           "(a) part of the frame went out: WSC_EIO and closed (got %s, state %d)", wsc_strerror(r), st);
    /* Nothing sent at all: WSC_ETIMEDOUT and usable. */
    int peer2;
    wsc_conn *c2 = raw_server(&peer2, false);
    if (c2) {
        while (wsc_write(c2, WSC_BINARY, msg, 1000, 0) == 0 && !wsc_want_write(c2)) {
        }
        r = wsc_write(c2, WSC_BINARY, "x", 1, 100);
        CHECKF(r == WSC_ETIMEDOUT && wsc_get_state(c2) == WSC_STATE_OPEN,
               "(a) nothing sent: WSC_ETIMEDOUT and still open (%s)", wsc_strerror(r));
        wsc_conn_free(c2);
        close(peer2);
    }
    free(msg);
    wsc_conn_free(c);
    close(peer);
}

/* ---- (b) an abandoned compressed message ---------------------------------- */

/* Inflates a permessage-deflate payload (the 00 00 ff ff tail added back). */
static size_t inflate_message(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    z_stream z = {0};
    inflateInit2(&z, -15);
    uint8_t *all = malloc(len + 4);
    memcpy(all, in, len);
    memcpy(all + len, "\x00\x00\xff\xff", 4);
    z.next_in = all;
    z.avail_in = (uInt)len + 4;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    inflate(&z, Z_SYNC_FLUSH);
    size_t n = cap - z.avail_out;
    inflateEnd(&z);
    free(all);
    return n;
}

static void *ping_thread(void *arg)
{
    wsc_ping(arg, 3000);
    return NULL;
}

static void test_b_abandoned_compressed(void)
{
    int peer;
    wsc_conn *c = raw_server(&peer, true);
    if (!c)
        return;
    CHECKF(strstr(wsc_extensions(c), "permessage-deflate") != NULL, "(b) deflate negotiated (%s)",
           wsc_extensions(c));
    CHECK_OK(wsc_writer_begin(c, WSC_TEXT, 300));
    CHECK_OK(wsc_writer_write(c, "ABANDONED!", 10)); /* the compressor keeps it */
    /* Fill the socket with pings; one more ping on another thread then
     * holds the frame lock while it waits for room. */
    for (int i = 0, queued = -1, now = 0; i < 200000 && (now == 0 || now != queued); i++) {
        queued = now;
        wsc_ping(c, 0);
        ioctl(wsc_fd(c), SIOCOUTQ, &now);
    }
    pthread_t pinger;
    pthread_create(&pinger, NULL, ping_thread, c);
    sleep_ms(100);
    /* The peer starts reading in a second: the next piece times out first. */
    drain d = {.fd = peer, .delay_ms = 1000};
    pthread_t th;
    pthread_create(&th, NULL, drain_thread, &d);
    int r = wsc_writer_write(c, "more", 4);
    CHECKF(r < 0, "(b) the second piece times out (%s)", wsc_strerror(r));
    char x[200];
    memset(x, 'x', sizeof x);
    int w = wsc_write(c, WSC_TEXT, x, sizeof x, 3000);
    printf("  (b) second piece: %s; the next message: %s\n", wsc_strerror(r), wsc_strerror(w));
    pthread_join(th, NULL);
    pthread_join(pinger, NULL);

    /* What the peer got: pings, then either the 200 x's alone or a 1011 close. */
    size_t at = 0;
    frame f;
    bool leaked = false, got_x = false, got_1011 = false;
    while (at < d.len) {
        size_t n = parse_frame(d.buf + at, d.len - at, &f);
        if (n == 0)
            break;
        at += n;
        uint8_t op = f.first & 0x0f;
        if (op == 1 || op == 0) {
            uint8_t out[4096];
            size_t m = f.len < sizeof out ? (size_t)f.len : sizeof out;
            if (f.first & 0x40)
                m = inflate_message(f.payload, f.len, out, sizeof out);
            else
                memcpy(out, f.payload, m);
            if (m == sizeof x && memcmp(out, x, m) == 0)
                got_x = true;
            else
                leaked = true;
            printf("  (b) the peer got a %zu-byte message starting \"%.10s\"\n", m, m ? (const char *)out : "");
        } else if (op == 8 && f.len >= 2) {
            got_1011 = (f.payload[0] << 8 | f.payload[1]) == 1011;
        }
    }
    CHECK(!leaked, "(b) no bytes of the abandoned message inside another message");
    CHECKF(got_1011 || (w == 0 && got_x), "(b) either the next message arrives alone or the connection "
           "closed with 1011 (write %s, close 1011 %d)", wsc_strerror(w), got_1011);
    CHECKF(r != WSC_ETIMEDOUT || wsc_get_state(c) == WSC_STATE_OPEN,
           "(b) a piece failing with WSC_ETIMEDOUT leaves the connection usable (state %d)",
           wsc_get_state(c));
    free(d.buf);
    wsc_conn_free(c);
    close(peer);
}

/* ---- (c) no self-deadlock on an open writer -------------------------------- */

typedef struct {
    wsc_conn *c;
    int write_r, begin_r;
} self_writer;

static void *write_inside_writer(void *arg)
{
    self_writer *s = arg;
    wsc_writer_begin(s->c, WSC_TEXT, 1000);
    s->write_r = wsc_write(s->c, WSC_TEXT, "x", 1, -1);
    s->begin_r = wsc_writer_begin(s->c, WSC_TEXT, -1);
    wsc_writer_end(s->c);
    return NULL;
}

static void test_c_write_inside_writer(void)
{
    int peer;
    wsc_conn *c = raw_server(&peer, false);
    if (!c)
        return;
    self_writer s = {.c = c};
    pthread_t th;
    pthread_create(&th, NULL, write_inside_writer, &s);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 3;
    if (pthread_timedjoin_np(th, NULL, &ts) != 0) {
        CHECK(0, "(c) wsc_write on the thread holding an open writer returns (it waited for itself)");
        exit(check_summary("test_write_errors"));
    }
    CHECKF(s.write_r == WSC_EBUSY, "(c) wsc_write inside an open writer: WSC_EBUSY (%s)",
           wsc_strerror(s.write_r));
    CHECKF(s.begin_r == WSC_EBUSY, "(c) wsc_writer_begin inside an open writer: WSC_EBUSY (%s)",
           wsc_strerror(s.begin_r));
    CHECK_OK(wsc_write(c, WSC_TEXT, "after", 5, 1000)); /* the writer ended: usable */
    wsc_conn_free(c);
    close(peer);
}

/* ---- (d) a reason without a code ------------------------------------------ */

static void test_d_reason_needs_code(void)
{
    int peer;
    wsc_conn *c = raw_server(&peer, false);
    if (!c)
        return;
    int r = wsc_close(c, 0, "reason");
    CHECKF(r == WSC_EINVAL && strstr(wsc_last_error(), "reason") && strstr(wsc_last_error(), "code"),
           "(d) wsc_close(c, 0, \"reason\") says a reason needs a code (%s: %s)", wsc_strerror(r),
           wsc_last_error());
    CHECK(wsc_get_state(c) == WSC_STATE_OPEN, "(d) the refused close left the connection open");
    wsc_conn_free(c);
    close(peer);
}

/* ---- (e) wsc_close_reason while the reader stores it ---------------------- */

typedef struct {
    wsc_conn *c;
    atomic_bool done;
    size_t seen;
} reason_watcher;

static void *watch_reason(void *arg)
{
    reason_watcher *w = arg;
    while (!atomic_load(&w->done)) {
        size_t n = strlen(wsc_close_reason(w->c));
        if (n > w->seen)
            w->seen = n;
    }
    return NULL;
}

static void *read_until_closed(void *arg)
{
    wsc_conn *c = arg;
    const void *data;
    size_t len;
    while (wsc_read(c, 5000, NULL, &data, &len) == 0) {
    }
    return NULL;
}

static void test_e_close_reason_race(void)
{
    for (int round = 0; round < 20; round++) {
        wsc_conn *cl, *sv;
        if (!make_pair(&cl, &sv, NULL, NULL))
            return;
        reason_watcher w = {.c = cl};
        pthread_t rt, wt;
        pthread_create(&wt, NULL, watch_reason, &w);
        pthread_create(&rt, NULL, read_until_closed, cl);
        wsc_close(sv, 4000, "a reason of some length");
        pthread_join(rt, NULL);
        atomic_store(&w.done, true);
        pthread_join(wt, NULL);
        CHECKF(strcmp(wsc_close_reason(cl), "a reason of some length") == 0, "(e) reason \"%s\"",
               wsc_close_reason(cl));
        wsc_conn_free(cl);
        wsc_conn_free(sv);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_a_partial_timeout();
    test_b_abandoned_compressed();
    test_c_write_inside_writer();
    test_d_reason_needs_code();
    test_e_close_reason_race();
    return check_summary("test_write_errors");
}
