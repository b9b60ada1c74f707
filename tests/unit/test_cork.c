/* SPDX-License-Identifier: MIT */
/* test_cork.c - wsc_cork: the messages written after it are gathered in
 * memory and go out together at wsc_flush, which ends the cork. Checked on
 * the socket itself: nothing reaches the peer's socket before the flush,
 * wsc_buffered_amount counts exactly the gathered frames, the peer then
 * reads every message in order; past the gather limit the gathered bytes go
 * out on their own; a ping, wsc_close and the streaming writer keep the
 * order; client (masked) and server (unmasked) sides, timeout-0 writes,
 * and compressed messages with context takeover. And the peer's close
 * read with timeout 0 while gathered echoes wait for room: the reply waits
 * behind them (state CLOSING, wsc_want_write) and goes out with wsc_flush,
 * which then shuts the connection; the peer's wsc_close gets it. And
 * wsc_read_buffered: what arrived and no read took yet. */
#include <stdlib.h>

#include "check.h"
#include "net.h"

#define MSG 64
#define CORK_LIMIT (64 * 1024) /* write.c's gather limit */

/* Whether bytes are waiting on fd's receive queue (none read yet). */
static bool bytes_waiting(int fd, int wait_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, wait_ms) == 1;
}

static void fill(uint8_t *m, int i)
{
    for (int k = 0; k < MSG; k++)
        m[k] = (uint8_t)(i * 7 + k);
}

/* Reads n messages on c and checks they are fill(0..n-1) in order. */
static bool read_in_order(wsc_conn *c, int first, int n, const char *what)
{
    for (int i = first; i < first + n; i++) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        uint8_t want[MSG];
        fill(want, i);
        int r = wsc_read(c, 5000, &type, &data, &len);
        if (r != 0 || type != WSC_BINARY || len != MSG || memcmp(data, want, MSG) != 0) {
            CHECKF(0, "%s: message %d: %s, %zu bytes", what, i, wsc_strerror(r), len);
            return false;
        }
    }
    return true;
}

typedef struct {
    wsc_conn *c;
    int n;
    bool ok;
    int end; /* the read after the n messages (cork_then_close) */
} reader;

static void *read_thread(void *arg)
{
    reader *rd = arg;
    rd->ok = read_in_order(rd->c, 0, rd->n, "reader thread");
    if (rd->end) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        rd->end = wsc_read(rd->c, 5000, &type, &data, &len);
    }
    return NULL;
}

/* `from` corks, writes n messages (timeout `tmo`), and nothing leaves until
 * the flush; `to` then reads them all. frame: the wire size of one. */
static void gathered(wsc_conn *from, wsc_conn *to, int n, int tmo, size_t frame, const char *what)
{
    CHECK_OK(wsc_cork(from));
    uint8_t m[MSG];
    for (int i = 0; i < n; i++) {
        fill(m, i);
        CHECK_OK(wsc_write(from, WSC_BINARY, m, MSG, tmo));
    }
    CHECKF(!bytes_waiting(wsc_fd(to), 50), "%s: nothing reaches the peer before the flush", what);
    CHECKF(wsc_buffered_amount(from) == (size_t)n * frame, "%s: buffered %zu, want %zu", what,
           wsc_buffered_amount(from), (size_t)n * frame);
    CHECKF(wsc_want_write(from), "%s: wsc_want_write while gathered bytes wait", what);
    CHECK_OK(wsc_flush(from, 5000));
    CHECKF(wsc_buffered_amount(from) == 0, "%s: nothing buffered after the flush", what);
    CHECKF(!wsc_want_write(from), "%s: no wsc_want_write after the flush", what);
    read_in_order(to, 0, n, what);
    /* the flush ended the cork: the next write goes out at once */
    fill(m, 0);
    CHECK_OK(wsc_write(from, WSC_BINARY, m, MSG, 5000));
    CHECKF(bytes_waiting(wsc_fd(to), 2000), "%s: a write after the flush is sent at once", what);
    read_in_order(to, 0, 1, what);
}

static void past_the_limit(wsc_conn *cl, wsc_conn *sv)
{
    int n = 3 * CORK_LIMIT / (MSG + 6);
    reader rd = {.c = sv, .n = n};
    pthread_t th;
    pthread_create(&th, NULL, read_thread, &rd);
    CHECK_OK(wsc_cork(cl));
    uint8_t m[MSG];
    size_t most = 0;
    for (int i = 0; i < n; i++) {
        fill(m, i);
        CHECK_OK(wsc_write(cl, WSC_BINARY, m, MSG, 5000));
        if (wsc_buffered_amount(cl) > most)
            most = wsc_buffered_amount(cl);
    }
    CHECKF(most <= CORK_LIMIT, "past the limit the gathered bytes go out: at most %zu held", most);
    CHECKF(most > CORK_LIMIT - (MSG + 6), "up to the limit they are gathered: %zu", most);
    CHECK_OK(wsc_flush(cl, 5000));
    pthread_join(th, NULL);
    CHECK(rd.ok, "past the limit: every message arrives in order");
}

/* A ping sent while corked takes the gathered messages out before it. */
static void ping_flushes(wsc_conn *cl, wsc_conn *sv)
{
    CHECK_OK(wsc_cork(cl));
    uint8_t m[MSG];
    for (int i = 0; i < 3; i++) {
        fill(m, i);
        CHECK_OK(wsc_write(cl, WSC_BINARY, m, MSG, 5000));
    }
    CHECK_OK(wsc_send_ping(cl, "p", 1, 5000));
    CHECKF(wsc_buffered_amount(cl) == 0, "a ping sends the gathered messages: %zu left",
           wsc_buffered_amount(cl));
    read_in_order(sv, 0, 3, "before the ping");
    /* the cork goes on after the ping */
    fill(m, 3);
    CHECK_OK(wsc_write(cl, WSC_BINARY, m, MSG, 5000));
    CHECK(wsc_buffered_amount(cl) == MSG + 6, "still corked after the ping");
    CHECK_OK(wsc_flush(cl, 5000));
    read_in_order(sv, 3, 1, "after the ping");
}

/* The streaming writer's frames are gathered too. */
static void writer_pieces(wsc_conn *cl, wsc_conn *sv)
{
    CHECK_OK(wsc_cork(cl));
    uint8_t m[MSG];
    fill(m, 0);
    CHECK_OK(wsc_writer_begin(cl, WSC_BINARY, 5000));
    CHECK_OK(wsc_writer_write(cl, m, 20));
    CHECK_OK(wsc_writer_write(cl, m + 20, MSG - 20));
    CHECK_OK(wsc_writer_end(cl));
    CHECKF(!bytes_waiting(wsc_fd(sv), 50), "writer: nothing sent before the flush");
    CHECK_OK(wsc_flush(cl, 5000));
    read_in_order(sv, 0, 1, "writer pieces");
}

/* wsc_close while corked: the peer reads every gathered message, then the
 * close. */
static void cork_then_close(void)
{
    wsc_dial_options dopts = {0};
    wsc_accept_options aopts = {0};
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, &dopts, &aopts))
        return;
    reader rd = {.c = sv, .n = 5, .end = 1};
    CHECK_OK(wsc_cork(cl));
    uint8_t m[MSG];
    for (int i = 0; i < 5; i++) {
        fill(m, i);
        CHECK_OK(wsc_write(cl, WSC_BINARY, m, MSG, 5000));
    }
    pthread_t th;
    pthread_create(&th, NULL, read_thread, &rd);
    CHECK_OK(wsc_close(cl, WSC_STATUS_NORMAL_CLOSURE, "bye"));
    pthread_join(th, NULL);
    CHECK(rd.ok, "close: the gathered messages arrive first");
    CHECKF(rd.end == WSC_ECLOSED && wsc_close_status(sv) == 1000, "then the close: %s, %d",
           wsc_strerror(rd.end), wsc_close_status(sv));
    wsc_conn_free(cl);
    wsc_conn_free(sv);
}

/* Compressed messages with context takeover: gathered, then inflated in
 * order by the peer. */
static void compressed(void)
{
    wsc_dial_options dopts = {.compression = WSC_COMPRESSION_CONTEXT_TAKEOVER};
    wsc_accept_options aopts = {.compression = WSC_COMPRESSION_CONTEXT_TAKEOVER};
    dopts.compression_threshold = aopts.compression_threshold = 1;
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, &dopts, &aopts))
        return;
    CHECK(wsc_extensions(cl)[0] != '\0', "deflate negotiated");
    CHECK_OK(wsc_cork(cl));
    uint8_t m[MSG];
    for (int i = 0; i < 50; i++) {
        fill(m, i);
        CHECK_OK(wsc_write(cl, WSC_BINARY, m, MSG, 0));
    }
    CHECKF(!bytes_waiting(wsc_fd(sv), 50), "deflate: nothing sent before the flush");
    CHECK(wsc_buffered_amount(cl) > 0, "deflate: the frames are counted");
    CHECK_OK(wsc_flush(cl, 5000));
    read_in_order(sv, 0, 50, "deflate");
    wsc_conn_free(cl);
    wsc_conn_free(sv);
}

typedef struct {
    wsc_conn *c;
    int r;
} closer;

static void *close_thread(void *arg)
{
    closer *k = arg;
    k->r = wsc_close(k->c, WSC_STATUS_NORMAL_CLOSURE, "bye");
    return NULL;
}

static void peer_close_while_pending(void)
{
    wsc_dial_options dopts = {0};
    wsc_accept_options aopts = {0};
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, &dopts, &aopts))
        return;
    int small = 16384;
    setsockopt(wsc_fd(sv), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(wsc_fd(cl), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    CHECK_OK(wsc_cork(sv));
    uint8_t m[1000] = {0};
    int n = 0;
    while (n < 10000 && wsc_write(sv, WSC_BINARY, m, sizeof m, 0) == 0)
        n++;
    CHECKF(n < 10000 && wsc_want_write(sv), "echoes fill the socket and the gather limit (%d)", n);
    closer k = {.c = cl};
    pthread_t th;
    pthread_create(&th, NULL, close_thread, &k);
    int r;
    int64_t until = now_ms() + 5000;
    do {
        wsc_msg_type type;
        const void *data;
        size_t len;
        r = wsc_read(sv, 0, &type, &data, &len);
        if (r == WSC_EAGAIN)
            sleep_ms(5);
    } while (r == WSC_EAGAIN && now_ms() < until);
    CHECKF(r == WSC_ECLOSED, "the peer's close arrives: %s", wsc_strerror(r));
    CHECKF(wsc_get_state(sv) == WSC_STATE_CLOSING && wsc_want_write(sv),
           "the reply waits behind the echoes (state %d)", (int)wsc_get_state(sv));
    CHECKF(wsc_poll_events(sv) == POLLOUT, "only POLLOUT is left to wait for: %d", wsc_poll_events(sv));
    {
        wsc_msg_type type;
        const void *data;
        size_t len;
        r = wsc_read(sv, 0, &type, &data, &len);
        CHECKF(r == WSC_ECLOSED, "a later read says so again: %s", wsc_strerror(r));
        CHECK(wsc_write(sv, WSC_BINARY, m, 1, 0) == WSC_ECLOSED, "writes are refused");
    }
    while (wsc_want_write(sv) && now_ms() < until)
        wsc_flush(sv, 100);
    CHECKF(wsc_get_state(sv) == WSC_STATE_CLOSED, "flushed, the connection shuts (state %d)",
           (int)wsc_get_state(sv));
    pthread_join(th, NULL);
    CHECKF(k.r == 0 && wsc_close_status(cl) == 1000, "the peer's wsc_close got our reply: %s (%s)",
           wsc_strerror(k.r), wsc_last_error());
    wsc_conn_free(cl);
    wsc_conn_free(sv);
}

/* Three messages sent at once: after the first read the other two are
 * buffered (no system call needed), after the third nothing is. */
static void read_buffered(wsc_conn *cl, wsc_conn *sv)
{
    CHECK(wsc_read_buffered(NULL) == 0, "wsc_read_buffered(NULL): 0");
    CHECK(wsc_read_buffered(sv) == 0, "nothing buffered at first");
    CHECK_OK(wsc_cork(cl));
    uint8_t m[MSG];
    for (int i = 0; i < 3; i++) {
        fill(m, i);
        CHECK_OK(wsc_write(cl, WSC_BINARY, m, MSG, 5000));
    }
    CHECK_OK(wsc_flush(cl, 5000));
    read_in_order(sv, 0, 1, "buffered");
    CHECKF(wsc_read_buffered(sv) == 2 * (MSG + 6), "two frames buffered: %zu", wsc_read_buffered(sv));
    read_in_order(sv, 1, 2, "buffered");
    CHECKF(wsc_read_buffered(sv) == 0, "none left: %zu", wsc_read_buffered(sv));
}

int main(void)
{
    CHECK(wsc_cork(NULL) == WSC_EINVAL, "NULL: WSC_EINVAL");
    wsc_dial_options dopts = {0};
    wsc_accept_options aopts = {0};
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, &dopts, &aopts))
        return check_summary("test_cork");
    gathered(cl, sv, 100, -1, MSG + 6, "client, blocking writes");
    gathered(cl, sv, 100, 0, MSG + 6, "client, timeout-0 writes");
    gathered(sv, cl, 100, 5000, MSG + 2, "server");
    past_the_limit(cl, sv);
    ping_flushes(cl, sv);
    writer_pieces(cl, sv);
    read_buffered(cl, sv);
    wsc_close_now(cl);
    CHECK(wsc_cork(cl) == WSC_ECLOSED, "after the close: WSC_ECLOSED");
    wsc_conn_free(cl);
    wsc_conn_free(sv);
    cork_then_close();
    compressed();
    peer_close_while_pending();
    return check_summary("test_cork");
}
