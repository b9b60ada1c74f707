/* SPDX-License-Identifier: MIT */
/*
 * wsc_echo_client_min - the smallest useful wsc client: dial, send "hello",
 * read the echo, close. For the wasm size comparison with Emscripten's own
 * <emscripten/websocket.h> (bench/emws_echo_client.c, bench/wasm_size.sh) and
 * the browser benchmark (bench/browser_bench.mjs).
 *
 *   wsc_echo_client_min URL
 *       prints "echo: hello", "closed <peer's close code>", "OK" (exit 0);
 *       any failure prints "FAIL <what> <error>" and exits 1
 *   wsc_echo_client_min URL SECONDS       (built with -DECHO_BENCH)
 *       first dials CONNECTS times, each connection closed once open, and
 *       prints "RESULT connect_ms <median ms from the dial call to OPEN>";
 *       then echoes 1 KiB binary messages, one in flight, for SECONDS,
 *       prints "RESULT rt1k <round trips per second>", and closes as above
 *
 * Styles from one source:
 *   wasm, default          the frame loop: a nonblocking dial and a callback
 *                          60 times a second (emscripten_set_timeout_loop, a
 *                          few hundred bytes of JS) that only makes timeout-0
 *                          calls. No Asyncify.
 *   -DUSE_MAIN_LOOP        the same loop driven by emscripten_set_main_loop
 *                          (animation frames), as in a game; that pulls in
 *                          Emscripten's Browser library (~15 KB of JS).
 *                          ECHO_BENCH implies it and runs it at setImmediate
 *                          pace instead of once per frame.
 *   -DUSE_EVENTS           the same loop run by wsc_set_event_handler: the
 *                          socket's events call it, no timer, no Asyncify.
 *   -DWSC_MIN_BLOCKING     blocking calls (link with -sASYNCIFY for wasm);
 *                          also what a native build (`make bench`) gets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wsc.h"

#if defined(__EMSCRIPTEN__) && !defined(WSC_MIN_BLOCKING)
#define FRAME_LOOP 1
#define WRITE_TIMEOUT 0
#include <emscripten.h>
#if defined(ECHO_BENCH) && !defined(USE_MAIN_LOOP) && !defined(USE_EVENTS)
#define USE_MAIN_LOOP 1
#endif
#if !defined(USE_MAIN_LOOP) && !defined(USE_EVENTS)
#include <emscripten/eventloop.h>
#endif
#else
#define WRITE_TIMEOUT 5000
#endif

static wsc_conn *g_c;

#ifdef ECHO_BENCH
#define CONNECTS 10 /* dials timed before the echo */
static unsigned char g_msg[1024];
static double g_seconds, g_start, g_dialled;
static long g_count;
static double g_connect[CONNECTS];
static int g_connects; /* timed so far */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* performance.now() in wasm */
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report_connects(void)
{
    qsort(g_connect, CONNECTS, sizeof g_connect[0], cmp_double);
    printf("RESULT connect_ms %.3f\n", (g_connect[CONNECTS / 2 - 1] + g_connect[CONNECTS / 2]) / 2);
}
#endif

static void fail(const char *what, int err)
{
    printf("FAIL %s %s %s\n", what, wsc_strerror(err), wsc_last_error());
    exit(1);
}

/* Checks one received message; true when the exchange is over. */
static int got(wsc_msg_type type, const void *data, size_t len)
{
#ifdef ECHO_BENCH
    if (type != WSC_BINARY || len != sizeof g_msg || memcmp(data, g_msg, len) != 0)
        fail("echo", 0);
    g_count++;
    double t = now_ms();
    if (t - g_start < g_seconds * 1000)
        return 0;
    printf("RESULT rt1k %.1f\n", g_count / ((t - g_start) / 1000));
#else
    if (type != WSC_TEXT || len != 5 || memcmp(data, "hello", 5) != 0)
        fail("echo", 0);
    printf("echo: %s\n", (const char *)data);
#endif
    return 1;
}

static void send_next(void)
{
#ifdef ECHO_BENCH
    int r = wsc_write(g_c, WSC_BINARY, g_msg, sizeof g_msg, WRITE_TIMEOUT);
#else
    int r = wsc_write(g_c, WSC_TEXT, "hello", 5, WRITE_TIMEOUT);
#endif
    if (r)
        fail("write", r);
}

static void done(void)
{
    printf("closed %d\nOK\n", wsc_close_status(g_c));
    wsc_conn_free(g_c);
#ifdef USE_EVENTS
    emscripten_force_exit(0); /* main kept the runtime alive */
#endif
    exit(0);
}

#ifdef FRAME_LOOP
static int g_sent, g_closing;
static const char *g_url;

#ifdef USE_EVENTS
static void on_event(wsc_conn *c, void *user);
#endif

static void dial(void)
{
#ifdef ECHO_BENCH
    g_dialled = now_ms();
#endif
    wsc_dial_options o = {.nonblocking = true};
    int r = wsc_dial(g_url, &o, &g_c, NULL);
    if (r)
        fail("dial", r);
#ifdef USE_EVENTS
    if ((r = wsc_set_event_handler(g_c, on_event, NULL)) != 0)
        fail("set_event_handler", r);
#endif
}

static void frame(void)
{
    wsc_state st = wsc_get_state(g_c);
    if (st == WSC_STATE_CONNECTING)
        return;
#ifdef ECHO_BENCH
    if (g_connects < CONNECTS) { /* timing dials: close each once open */
        if (st == WSC_STATE_OPEN && !g_closing) {
            g_connect[g_connects] = now_ms() - g_dialled;
            wsc_close(g_c, WSC_STATUS_NORMAL_CLOSURE, ""); /* goes on alone */
            g_closing = 1;
        } else if (st == WSC_STATE_CLOSED) {
            if (!g_closing)
                fail("connect", WSC_ECONNECT);
            wsc_conn_free(g_c);
            g_closing = 0;
            if (++g_connects == CONNECTS)
                report_connects();
            dial(); /* the next one, or the echo's */
        }
        return;
    }
#endif
    if (st == WSC_STATE_CLOSED) {
        if (!g_closing)
            fail("connect", WSC_ECONNECT);
#ifdef USE_MAIN_LOOP
        emscripten_cancel_main_loop();
#endif
        done(); /* exit(): the timer loop is not armed again */
    }
    if (g_closing)
        return;
    if (!g_sent) {
#ifdef ECHO_BENCH
        g_start = now_ms();
#endif
        send_next();
        g_sent = 1;
    }
    wsc_msg_type type;
    const void *data;
    size_t len;
    for (;;) {
        int r = wsc_read(g_c, 0, &type, &data, &len);
        if (r == WSC_EAGAIN)
            return; /* next frame */
        if (r)
            fail("read", r);
        if (got(type, data, len))
            break;
        send_next();
    }
    wsc_close(g_c, WSC_STATUS_NORMAL_CLOSURE, ""); /* goes on alone: wait for CLOSED */
    g_closing = 1;
}

#ifdef USE_EVENTS
static void on_event(wsc_conn *c, void *user)
{
    (void)c, (void)user;
    frame();
}
#elif !defined(USE_MAIN_LOOP)
static EM_BOOL tick(double time, void *user)
{
    (void)time, (void)user;
    frame();
    return EM_TRUE; /* again in 1/60 s */
}
#endif
#endif

int main(int argc, char **argv)
{
    if (argc < 2) {
        printf("usage: wsc_echo_client_min URL [SECONDS]\n");
        return 2;
    }
#ifdef ECHO_BENCH
    g_seconds = argc > 2 ? atof(argv[2]) : 1;
    for (size_t i = 0; i < sizeof g_msg; i++)
        g_msg[i] = (unsigned char)(i % 251);
#endif
#ifdef FRAME_LOOP
    g_url = argv[1];
    dial(); /* with USE_EVENTS, its events run frame() */
#if defined(USE_MAIN_LOOP)
    emscripten_set_main_loop(frame, 0, 0);
#ifdef ECHO_BENCH
    emscripten_set_main_loop_timing(EM_TIMING_SETIMMEDIATE, 0);
#endif
#elif !defined(USE_EVENTS)
    emscripten_set_timeout_loop(tick, 1000.0 / 60, NULL);
#endif
    emscripten_exit_with_live_runtime(); /* frame() runs from now on */
#else
    int r;
#ifdef ECHO_BENCH
    for (; g_connects < CONNECTS; g_connects++) {
        g_dialled = now_ms();
        if ((r = wsc_dial(argv[1], NULL, &g_c, NULL)) != 0)
            fail("dial", r);
        g_connect[g_connects] = now_ms() - g_dialled;
        if ((r = wsc_close(g_c, WSC_STATUS_NORMAL_CLOSURE, "")) != 0)
            fail("close", r);
        wsc_conn_free(g_c);
    }
    report_connects();
#endif
    if ((r = wsc_dial(argv[1], NULL, &g_c, NULL)) != 0)
        fail("dial", r);
#ifdef ECHO_BENCH
    g_start = now_ms();
#endif
    wsc_msg_type type;
    const void *data;
    size_t len;
    do {
        send_next();
        if ((r = wsc_read(g_c, 5000, &type, &data, &len)) != 0)
            fail("read", r);
    } while (!got(type, data, len));
    if ((r = wsc_close(g_c, WSC_STATUS_NORMAL_CLOSURE, "")) != 0)
        fail("close", r);
    done();
#endif
}
