/* SPDX-License-Identifier: MIT */
/*
 * api_client - wasm scenarios that tests/progs/client.c cannot express, for
 * tests/wasm/node.test.mjs. Built by `make wasm-progs` as api_client.js (with
 * Asyncify) and api_client.sync.js (without).
 *
 *   api_client URL SCENARIO [ARG...]
 *
 * Every scenario dials URL (unless it says otherwise), prints what it checks
 * and ends with "OK" (exit 0). The first failed check prints
 *   FAIL <what> [<wsc_strerror(err)>] <detail>
 * and exits 1. Bad usage exits 2. The echo servers it talks to (the native
 * tests/progs/echo_server and the tests' ws server) echo every data message
 * and obey text commands "cmd:close CODE REASON".
 *
 * Scenarios:
 *   api                 wsc_dial fills resp->status 101; wsc_request_target is
 *                       the URL's path and query; wsc_get_state OPEN; wsc_ping
 *                       returns 0 (a no-op); wsc_flush 0; wsc_want_write false;
 *                       wsc_fd -1; wsc_poll_events 0; wsc_handshake_header
 *                       NULL; wsc_accept, wsc_accept_with and wsc_stream_fd
 *                       WSC_ENOTSUP; wsc_cork 0 (WSC_EINVAL for NULL), two
 *                       messages written corked echo in order after
 *                       wsc_flush; a reason over 123 bytes WSC_EINVAL;
 *                       closes with 1000, then wsc_cork is WSC_ECLOSED.
 *   nul                 text and binary messages with NUL bytes inside (and
 *                       multi-byte UTF-8) echo unchanged; text is NUL-terminated
 *   bom                 a text message starting with a UTF-8 BOM echoes unchanged
 *   text-sizes SIZE...  valid UTF-8 text of exactly SIZE bytes (ASCII, 2-, 3-
 *                       and 4-byte sequences and NULs) echoes unchanged; the
 *                       read limit is lifted first. Prints "ECHO text SIZE".
 *   busy N MODE         N numbered messages (even i: text "n=<i>", odd i: 4-byte
 *                       little-endian binary i) must arrive complete and in
 *                       order although the program first busy-loops 300 ms
 *                       (the JS event loop is blocked: bytes pile up in the
 *                       socket) and then sleeps 300 ms (emscripten_sleep: the
 *                       messages pile up in the JS queue). MODE "flood": the
 *                       server sends them unasked (ws test server, path
 *                       /flood?n=N); MODE "echo": we send them first and read
 *                       the echoes. Prints "GOT N in order".
 *   stream              wsc_stream over binary messages: 5 writes of 1, 100,
 *                       1000, 7 and 20000 bytes (one running pattern, byte i =
 *                       i % 251), then "cmd:close 1000 done"; wsc_stream_read
 *                       with a 333-byte buffer returns all 21108 bytes in order
 *                       across message boundaries, then 0 (the 1000 close is
 *                       end of stream). Prints "STREAM 21108 eof".
 *   stream-mismatch     a text message on a binary stream: wsc_stream_read
 *                       fails with WSC_EPROTO and the library closes with 1003.
 *   close-read WHEN     wsc_close_read, then the server's echo of "hello"
 *                       (WHEN "before": it is already queued; "after": it
 *                       arrives later) must make the library close with 1008.
 *                       Also wsc_ping returns 0 and wsc_read WSC_EINVAL. Waits
 *                       for the close and prints "CLOSED status=<n> reason=<r>".
 *   timeout             wsc_read(c, 0) is WSC_EAGAIN and wsc_read(c, 200) is
 *                       WSC_ETIMEDOUT after about 200 ms; the connection still
 *                       works afterwards (an echo comes back).
 *   dial-timeout        URL must accept TCP but never answer: wsc_dial with
 *                       handshake_timeout_ms 500 fails with WSC_ETIMEDOUT;
 *                       then sleeps 500 ms so that late JS events run.
 *   buffered [pause]    wsc_buffered_amount is 0 after the dial; 32 binary
 *                       messages of 1 MiB sent at once make it > 0 (the
 *                       browser's bufferedAmount) and at most 32 MiB;
 *                       wsc_flush(c, 0) is WSC_EAGAIN while bytes remain;
 *                       wsc_flush(c, 20000) returns 0 with it back to 0;
 *                       the 32 echoes come back. Prints "BUFFERED <n>".
 *                       "pause" first sends "cmd:pause 3000" (the tests' ws
 *                       server stops reading for 3 s): in Node the queue may
 *                       otherwise drain into a fast reader as it is filled.
 *   sync                for the .sync.js build (no Asyncify): blocking wsc_dial
 *                       fails with WSC_ENOTSUP naming -sASYNCIFY; a nonblocking
 *                       dial returns 0 in CONNECTING; wsc_read(c, 0) is
 *                       WSC_EAGAIN; wsc_read(c, 1000) WSC_ENOTSUP; wsc_close 0.
 *
 * Portable C11 plus <emscripten.h> for emscripten_sleep (with Asyncify only;
 * emscripten_thread_sleep in the -pthread build).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#ifdef __EMSCRIPTEN_PTHREADS__
#include <emscripten/threading.h>
#endif
#endif

#include "wsc.h"

static wsc_conn *g_conn;

/* Every exit goes through exit(): with emcc 3.1.6 and Asyncify, a status
 * returned from main() after the program suspended is lost (exit 0). */
static void fail(const char *what, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(const char *what, int err, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (err)
        printf("FAIL %s %s %s (last error: %s)\n", what, wsc_strerror(err), detail, wsc_last_error());
    else
        printf("FAIL %s %s\n", what, detail);
    fflush(stdout);
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: api_client URL SCENARIO [ARG...] (see the source)\n");
    exit(2);
}

static double now_ms(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
#if defined(__EMSCRIPTEN_PTHREADS__)
    emscripten_thread_sleep(ms); /* a Worker thread may block */
#elif defined(__EMSCRIPTEN__)
    emscripten_sleep((unsigned)ms);
#else
    double end = now_ms() + ms;
    while (now_ms() < end) {
    }
#endif
}

static wsc_conn *dial(const char *url)
{
    wsc_conn *c = NULL;
    wsc_response resp = {0};
    int r = wsc_dial(url, NULL, &c, &resp);
    if (r)
        fail("dial", r, "%s", url);
    if (resp.status != 101)
        fail("dial", 0, "resp.status = %d, want 101", resp.status);
    wsc_response_free(&resp);
    g_conn = c;
    return c;
}

static void write_msg(wsc_conn *c, wsc_msg_type type, const void *p, size_t n)
{
    int r = wsc_write(c, type, p, n, 5000);
    if (r)
        fail("write", r, "%s message of %zu bytes", wsc_msg_type_string(type), n);
}

static void expect_echo(wsc_conn *c, wsc_msg_type type, const void *p, size_t n, const char *what)
{
    wsc_msg_type t;
    const void *data;
    size_t len;
    int r = wsc_read(c, 10000, &t, &data, &len);
    if (r)
        fail("read", r, "waiting for the echo of %s", what);
    if (t != type || len != n || (n && memcmp(data, p, n) != 0)) {
        size_t at = 0;
        while (at < len && at < n && ((const unsigned char *)data)[at] == ((const unsigned char *)p)[at])
            at++;
        fail("echo", 0, "%s: got %s len=%zu, want %s len=%zu, first difference at byte %zu", what,
             wsc_msg_type_string(t), len, wsc_msg_type_string(type), n, at);
    }
    if (t == WSC_TEXT && ((const char *)data)[len] != '\0')
        fail("echo", 0, "%s: text is not NUL-terminated", what);
}

static void close_normal(wsc_conn *c)
{
    int r = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
    if (r)
        fail("close", r, "wsc_close(1000)");
}

static void finish(void)
{
    wsc_conn_free(g_conn);
    g_conn = NULL;
    printf("OK\n");
    fflush(stdout);
    exit(0);
}

/* ---- scenarios ------------------------------------------------------------ */

static void scenario_api(const char *url)
{
    wsc_conn *c = dial(url);
    const char *target = wsc_request_target(c);
    const char *want = strstr(url, "://");
    want = want ? strchr(want + 3, '/') : NULL;
    if (!want)
        want = "/";
    if (strcmp(target, want) != 0)
        fail("request_target", 0, "\"%s\", want \"%s\"", target, want);
    if (wsc_get_state(c) != WSC_STATE_OPEN)
        fail("get_state", 0, "%d, want OPEN (1)", (int)wsc_get_state(c));
    int r = wsc_ping(c, 1000);
    if (r != 0)
        fail("ping", r, "wsc_ping should be a no-op returning 0");
    printf("PING 0\n");
    if ((r = wsc_flush(c, 1000)) != 0)
        fail("flush", r, "want 0");
    if (wsc_want_write(c))
        fail("want_write", 0, "true, want false");
    if (wsc_fd(c) != -1)
        fail("fd", 0, "%d, want -1", wsc_fd(c));
    if (wsc_poll_events(c) != 0)
        fail("poll_events", 0, "%d, want 0", wsc_poll_events(c));
    if (wsc_handshake_header(c, "Upgrade") != NULL)
        fail("handshake_header", 0, "not NULL");
    wsc_conn *other = (wsc_conn *)1;
    r = wsc_accept(3, NULL, &other);
    if (r != WSC_ENOTSUP || other != NULL)
        fail("accept", r, "want WSC_ENOTSUP and *out NULL (out=%p)", (void *)other);
    printf("ACCEPT %s\n", wsc_strerror(r));
    other = (wsc_conn *)1;
    r = wsc_accept_with(3, "GET / HTTP/1.1\r\n", 16, NULL, &other);
    if (r != WSC_ENOTSUP || other != NULL)
        fail("accept_with", r, "want WSC_ENOTSUP and *out NULL");
    int fd = 7;
    r = wsc_stream_fd(c, WSC_BINARY, &fd);
    if (r != WSC_ENOTSUP)
        fail("stream_fd", r, "want WSC_ENOTSUP");
    if ((r = wsc_cork(NULL)) != WSC_EINVAL)
        fail("cork-null", r, "want WSC_EINVAL");
    if ((r = wsc_cork(c)) != 0)
        fail("cork", r, "want 0");
    write_msg(c, WSC_TEXT, "corked 1", 8);
    write_msg(c, WSC_BINARY, "corked 2", 8);
    if ((r = wsc_flush(c, 5000)) != 0)
        fail("cork-flush", r, "want 0");
    expect_echo(c, WSC_TEXT, "corked 1", 8, "the first corked message");
    expect_echo(c, WSC_BINARY, "corked 2", 8, "the second corked message");
    printf("CORK 0\n");
    char reason[125];
    memset(reason, 'r', 124);
    reason[124] = '\0';
    r = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, reason);
    if (r != WSC_EINVAL)
        fail("close-long-reason", r, "a 124-byte reason: want WSC_EINVAL");
    if (wsc_get_state(c) != WSC_STATE_OPEN)
        fail("close-long-reason", 0, "the refused close changed the state to %d", (int)wsc_get_state(c));
    /* still usable */
    write_msg(c, WSC_TEXT, "still open", 10);
    expect_echo(c, WSC_TEXT, "still open", 10, "a message after the refused close");
    close_normal(c);
    printf("CLOSE status=%d reason=%s\n", wsc_close_status(c), wsc_close_reason(c));
    r = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
    if (r != WSC_ECLOSED)
        fail("close-again", r, "a second wsc_close: want WSC_ECLOSED");
    if ((r = wsc_cork(c)) != WSC_ECLOSED)
        fail("cork-closed", r, "after the close: want WSC_ECLOSED");
    finish();
}

static void scenario_nul(const char *url)
{
    wsc_conn *c = dial(url);
    static const char text[] = "a\0b\0\0c h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e\0";
    size_t n = sizeof text - 1; /* the last explicit \0 is part of the message */
    write_msg(c, WSC_TEXT, text, n);
    expect_echo(c, WSC_TEXT, text, n, "text with NULs");
    printf("ECHO text %zu with NULs\n", n);
    static const unsigned char bin[] = {0, 0, 1, 0, 255, 0};
    write_msg(c, WSC_BINARY, bin, sizeof bin);
    expect_echo(c, WSC_BINARY, bin, sizeof bin, "binary with NULs");
    printf("ECHO binary %zu with NULs\n", sizeof bin);
    write_msg(c, WSC_TEXT, "\0", 1);
    expect_echo(c, WSC_TEXT, "\0", 1, "a text message that is one NUL");
    printf("ECHO text 1 NUL only\n");
    close_normal(c);
    finish();
}

static void scenario_bom(const char *url)
{
    wsc_conn *c = dial(url);
    static const char text[] = "\xef\xbb\xbf" "BOM first";
    write_msg(c, WSC_TEXT, text, sizeof text - 1);
    expect_echo(c, WSC_TEXT, text, sizeof text - 1, "text starting with a UTF-8 BOM");
    printf("ECHO text %zu with BOM\n", sizeof text - 1);
    close_normal(c);
    finish();
}

/* Valid UTF-8 of exactly n bytes: ASCII, NUL, 2-, 3- and 4-byte sequences. */
static char *utf8_text(size_t n)
{
    static const char *const seqs[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9d\x84\x9e", "\0", "Z"};
    static const size_t lens[] = {1, 2, 3, 4, 1, 1};
    char *p = malloc(n ? n : 1);
    if (!p)
        fail("alloc", 0, "out of memory for %zu bytes", n);
    size_t off = 0;
    for (size_t k = 0; off < n; k = (k + 1) % 6) {
        size_t l = lens[k];
        if (off + l > n) {
            p[off++] = 'x';
            continue;
        }
        memcpy(p + off, seqs[k], l);
        off += l;
    }
    return p;
}

static void scenario_text_sizes(const char *url, int argc, char **argv)
{
    wsc_conn *c = dial(url);
    wsc_set_read_limit(c, -1);
    for (int i = 0; i < argc; i++) {
        size_t n = (size_t)strtoull(argv[i], NULL, 10);
        char *t = utf8_text(n);
        char what[64];
        snprintf(what, sizeof what, "text of %zu bytes", n);
        write_msg(c, WSC_TEXT, t, n);
        expect_echo(c, WSC_TEXT, t, n, what);
        free(t);
        printf("ECHO text %zu\n", n);
        fflush(stdout);
    }
    close_normal(c);
    finish();
}

static void numbered(long i, wsc_msg_type *type, unsigned char *buf, size_t *len)
{
    if (i % 2 == 0) {
        *type = WSC_TEXT;
        *len = (size_t)snprintf((char *)buf, 32, "n=%ld", i);
    } else {
        *type = WSC_BINARY;
        uint32_t v = (uint32_t)i;
        for (int k = 0; k < 4; k++)
            buf[k] = (unsigned char)(v >> (8 * k));
        *len = 4;
    }
}

static void scenario_busy(const char *url, long n, const char *mode)
{
    wsc_conn *c = dial(url);
    if (strcmp(mode, "echo") == 0) {
        for (long i = 0; i < n; i++) {
            wsc_msg_type type;
            unsigned char buf[32];
            size_t len;
            numbered(i, &type, buf, &len);
            write_msg(c, type, buf, len);
        }
    } else if (strcmp(mode, "flood") != 0) {
        usage();
    }
    /* Busy: the JS event loop cannot run, the bytes wait in the socket. */
    double end = now_ms() + 300;
    volatile unsigned long spins = 0;
    while (now_ms() < end)
        spins++;
    /* Asleep: the event loop runs, the messages wait in the JS queue. */
    sleep_ms(300);
    for (long i = 0; i < n; i++) {
        wsc_msg_type want_type, type;
        unsigned char want[32];
        size_t want_len, len;
        const void *data;
        numbered(i, &want_type, want, &want_len);
        int r = wsc_read(c, 10000, &type, &data, &len);
        if (r)
            fail("read", r, "message %ld of %ld", i, n);
        if (type != want_type || len != want_len || memcmp(data, want, len) != 0)
            fail("order", 0, "message %ld: got %s of %zu bytes, want %s of %zu bytes", i,
                 wsc_msg_type_string(type), len, wsc_msg_type_string(want_type), want_len);
    }
    /* nothing more may come */
    wsc_msg_type type;
    const void *data;
    size_t len;
    int r = wsc_read(c, 100, &type, &data, &len);
    if (r != WSC_ETIMEDOUT)
        fail("extra", r, "after %ld messages, want WSC_ETIMEDOUT (got a %zu-byte message?)", n, r ? 0 : len);
    printf("GOT %ld in order\n", n);
    close_normal(c);
    finish();
}

static void scenario_stream(const char *url)
{
    wsc_conn *c = dial(url);
    wsc_stream *s = NULL;
    int r = wsc_stream_open(c, WSC_BINARY, &s);
    if (r)
        fail("stream_open", r, "binary");
    static const size_t sizes[] = {1, 100, 1000, 7, 20000};
    size_t total = 0;
    for (size_t i = 0; i < 5; i++)
        total += sizes[i];
    unsigned char *all = malloc(total);
    for (size_t i = 0; i < total; i++)
        all[i] = (unsigned char)(i % 251);
    size_t off = 0;
    for (size_t i = 0; i < 5; i++) {
        ptrdiff_t w = wsc_stream_write(s, all + off, sizes[i], 5000);
        if (w != (ptrdiff_t)sizes[i])
            fail("stream_write", w < 0 ? (int)w : 0, "wrote %td of %zu", w, sizes[i]);
        off += sizes[i];
    }
    write_msg(c, WSC_TEXT, "cmd:close 1000 done", 19);
    unsigned char *got = malloc(total + 333);
    size_t have = 0;
    int reads = 0;
    for (;;) {
        ptrdiff_t n = wsc_stream_read(s, got + have, 333, 10000);
        if (n < 0)
            fail("stream_read", (int)n, "after %zu of %zu bytes", have, total);
        if (n == 0)
            break;
        reads++;
        have += (size_t)n;
        if (have > total)
            fail("stream_read", 0, "%zu bytes, more than the %zu sent", have, total);
    }
    if (have != total || memcmp(got, all, total) != 0)
        fail("stream_read", 0, "got %zu bytes, want %zu (or the bytes differ)", have, total);
    if (wsc_close_status(c) != WSC_STATUS_NORMAL_CLOSURE)
        fail("stream_read", 0, "end of stream but close status %d", wsc_close_status(c));
    ptrdiff_t again = wsc_stream_read(s, got, 333, 1000);
    if (again != 0)
        fail("stream_read", again < 0 ? (int)again : 0, "after end of stream: %td, want 0", again);
    printf("STREAM %zu eof (%d reads)\n", have, reads);
    r = wsc_stream_close(s);
    if (r)
        fail("stream_close", r, "after the peer's 1000");
    free(all);
    free(got);
    finish();
}

static void scenario_stream_mismatch(const char *url)
{
    wsc_conn *c = dial(url);
    wsc_stream *s = NULL;
    int r = wsc_stream_open(c, WSC_BINARY, &s);
    if (r)
        fail("stream_open", r, "binary");
    write_msg(c, WSC_TEXT, "not binary", 10);
    unsigned char buf[64];
    ptrdiff_t n = wsc_stream_read(s, buf, sizeof buf, 10000);
    if (n != WSC_EPROTO)
        fail("stream_read", n < 0 ? (int)n : 0, "a text message on a binary stream: got %td, want WSC_EPROTO", n);
    printf("STREAM_READ %s\n", wsc_strerror((int)n));
    printf("STATE %d status=%d\n", (int)wsc_get_state(c), wsc_close_status(c));
    wsc_stream_close(s);
    finish();
}

static void scenario_close_read(const char *url, const char *when)
{
    wsc_conn *c = dial(url);
    bool before = strcmp(when, "before") == 0;
    if (!before && strcmp(when, "after") != 0)
        usage();
    if (before) {
        write_msg(c, WSC_TEXT, "hello", 5);
        sleep_ms(300); /* the echo is now queued, unread */
    }
    int r = wsc_close_read(c);
    if (r)
        fail("close_read", r, "first call");
    if (!before)
        write_msg(c, WSC_TEXT, "hello", 5);
    r = wsc_ping(c, 1000);
    if (r != 0)
        fail("ping", r, "after wsc_close_read: want 0 (a no-op in wasm)");
    wsc_msg_type type;
    const void *data;
    size_t len;
    r = wsc_read(c, 100, &type, &data, &len);
    if (r != WSC_EINVAL)
        fail("read", r, "after wsc_close_read: want WSC_EINVAL");
    double end = now_ms() + 5000;
    while (wsc_get_state(c) != WSC_STATE_CLOSED && now_ms() < end)
        sleep_ms(20);
    if (wsc_get_state(c) != WSC_STATE_CLOSED)
        fail("closed", 0, "the connection did not close within 5 s of the data message (state %d)",
             (int)wsc_get_state(c));
    printf("CLOSED status=%d reason=%s\n", wsc_close_status(c), wsc_close_reason(c));
    int err = wsc_conn_error(c);
    printf("CONN_ERROR %d %s\n", err, wsc_last_error());
    finish();
}

static void scenario_timeout(const char *url)
{
    wsc_conn *c = dial(url);
    wsc_msg_type type;
    const void *data;
    size_t len;
    int r = wsc_read(c, 0, &type, &data, &len);
    if (r != WSC_EAGAIN)
        fail("read0", r, "want WSC_EAGAIN");
    double t0 = now_ms();
    r = wsc_read(c, 200, &type, &data, &len);
    double took = now_ms() - t0;
    if (r != WSC_ETIMEDOUT)
        fail("read200", r, "want WSC_ETIMEDOUT");
    if (took < 150 || took > 2000)
        fail("read200", 0, "timed out after %.0f ms, want about 200", took);
    printf("TIMEOUT after %.0f ms\n", took);
    write_msg(c, WSC_TEXT, "after timeout", 13);
    expect_echo(c, WSC_TEXT, "after timeout", 13, "a message after the timeout");
    close_normal(c);
    finish();
}

static void scenario_dial_timeout(const char *url)
{
    wsc_dial_options o = {0};
    o.handshake_timeout_ms = 500;
    wsc_conn *c = NULL;
    double t0 = now_ms();
    int r = wsc_dial(url, &o, &c, NULL);
    double took = now_ms() - t0;
    if (r != WSC_ETIMEDOUT)
        fail("dial", r, "a server that never answers: want WSC_ETIMEDOUT");
    if (c != NULL)
        fail("dial", 0, "*out is not NULL after a failed dial");
    if (took < 400 || took > 3000)
        fail("dial", 0, "took %.0f ms, want about 500", took);
    printf("DIAL %s after %.0f ms\n", wsc_strerror(r), took);
    fflush(stdout);
    sleep_ms(500); /* let whatever the aborted WebSocket still emits run */
    finish();
}

static void scenario_buffered(const char *url, bool pause)
{
    wsc_conn *c = dial(url);
    if (pause)
        write_msg(c, WSC_TEXT, "cmd:pause 3000", 14);
    if (wsc_buffered_amount(c) != 0)
        fail("buffered", 0, "%zu after the dial, want 0", wsc_buffered_amount(c));
    size_t size = 1 << 20;
    uint8_t *msg = malloc(size);
    if (!msg)
        fail("malloc", WSC_ENOMEM, "1 MiB");
    for (size_t i = 0; i < size; i++)
        msg[i] = (uint8_t)(i % 251);
    wsc_set_read_limit(c, -1);
    for (int i = 0; i < 32; i++)
        write_msg(c, WSC_BINARY, msg, size);
    size_t n = wsc_buffered_amount(c);
    if (n == 0 || n > 32 * size)
        fail("buffered", 0, "%zu after sending 32 MiB, want > 0 and <= 32 MiB", n);
    printf("BUFFERED %zu\n", n);
    int r = wsc_flush(c, 0);
    if (r != WSC_EAGAIN && wsc_buffered_amount(c) > 0)
        fail("flush0", r, "want WSC_EAGAIN while %zu bytes remain", wsc_buffered_amount(c));
    if ((r = wsc_flush(c, 20000)) != 0)
        fail("flush", r, "want 0 within 20 s");
    if (wsc_buffered_amount(c) != 0)
        fail("buffered", 0, "%zu after wsc_flush, want 0", wsc_buffered_amount(c));
    printf("FLUSHED\n");
    for (int i = 0; i < 32; i++)
        expect_echo(c, WSC_BINARY, msg, size, "an echo of 1 MiB");
    free(msg);
    close_normal(c);
    finish();
}

static void scenario_sync(const char *url)
{
    wsc_conn *c = NULL;
    int r = wsc_dial(url, NULL, &c, NULL);
    if (r != WSC_ENOTSUP)
        fail("blocking-dial", r, "without Asyncify: want WSC_ENOTSUP");
    if (!strstr(wsc_last_error(), "ASYNCIFY"))
        fail("blocking-dial", 0, "wsc_last_error() should name -sASYNCIFY: \"%s\"", wsc_last_error());
    printf("BLOCKING_DIAL %s\n", wsc_strerror(r));
    wsc_dial_options o = {0};
    o.nonblocking = true;
    r = wsc_dial(url, &o, &c, NULL);
    if (r)
        fail("nonblocking-dial", r, "want 0");
    g_conn = c;
    if (wsc_get_state(c) != WSC_STATE_CONNECTING)
        fail("nonblocking-dial", 0, "state %d, want CONNECTING (0)", (int)wsc_get_state(c));
    wsc_msg_type type;
    const void *data;
    size_t len;
    r = wsc_read(c, 0, &type, &data, &len);
    if (r != WSC_EAGAIN)
        fail("read0", r, "want WSC_EAGAIN");
    r = wsc_read(c, 1000, &type, &data, &len);
    if (r != WSC_ENOTSUP)
        fail("read1000", r, "without Asyncify: want WSC_ENOTSUP");
    printf("READ_BLOCKING %s\n", wsc_strerror(r));
    r = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
    if (r)
        fail("close", r, "without Asyncify the close should go on alone and return 0");
    finish();
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3)
        usage();
    const char *url = argv[1], *sc = argv[2];
    if (strcmp(sc, "api") == 0)
        scenario_api(url);
    else if (strcmp(sc, "nul") == 0)
        scenario_nul(url);
    else if (strcmp(sc, "bom") == 0)
        scenario_bom(url);
    else if (strcmp(sc, "text-sizes") == 0)
        scenario_text_sizes(url, argc - 3, argv + 3);
    else if (strcmp(sc, "busy") == 0 && argc == 5)
        scenario_busy(url, strtol(argv[3], NULL, 10), argv[4]);
    else if (strcmp(sc, "stream") == 0)
        scenario_stream(url);
    else if (strcmp(sc, "stream-mismatch") == 0)
        scenario_stream_mismatch(url);
    else if (strcmp(sc, "close-read") == 0 && argc == 4)
        scenario_close_read(url, argv[3]);
    else if (strcmp(sc, "timeout") == 0)
        scenario_timeout(url);
    else if (strcmp(sc, "dial-timeout") == 0)
        scenario_dial_timeout(url);
    else if (strcmp(sc, "buffered") == 0)
        scenario_buffered(url, argc > 3 && strcmp(argv[3], "pause") == 0);
    else if (strcmp(sc, "sync") == 0)
        scenario_sync(url);
    else
        usage();
    exit(2); /* not reached: every scenario exits */
}
