/* SPDX-License-Identifier: MIT */
/*
 * frame_loop_client - the wasm way without Asyncify: a nonblocking dial and a
 * per-frame callback (emscripten_set_main_loop) that only makes calls with
 * timeout 0. Run its .sync.js build (no -sASYNCIFY needed).
 *
 *   frame_loop_client URL N
 *
 * Each frame: wsc_get_state; while OPEN, sends message i (even i text
 * "frame-loop message <i>", odd i the same bytes as binary) when the previous
 * echo came back, and polls wsc_read(c, 0, ...) (WSC_EAGAIN: try next frame).
 * After N echoes it calls wsc_close(c, 1000, "done") (without Asyncify it does
 * not wait) and waits for the CLOSED state over the next frames. Then it prints
 *   CLOSED status=<wsc_close_status> reason=<wsc_close_reason>
 *   FRAMES <frames run> idle=<frames whose read was WSC_EAGAIN>
 *   OK
 * cancels the main loop, frees the connection and exits 0. Any failure prints
 * "FAIL <what> ..." and exits 1; more than 10 s in total fails too.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <emscripten.h>

#include "wsc.h"

static wsc_conn *g_conn;
static long g_n, g_sent, g_echoed;
static bool g_waiting_echo, g_close_sent;
static long g_frames, g_idle;
static double g_start;
static char g_last[64];
static size_t g_last_len;

static double now_ms(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* exit() rather than returning from main: main returned long ago, and with
 * emcc 3.1.6 + Asyncify a status returned from main can be lost anyway. */
static void fail(const char *what, int err)
{
    printf("FAIL %s %s %s\n", what, err ? wsc_strerror(err) : "", wsc_last_error());
    fflush(stdout);
    emscripten_cancel_main_loop();
    exit(1);
}

static void frame(void)
{
    wsc_conn *c = g_conn;
    g_frames++;
    if (now_ms() - g_start > 10000)
        fail("deadline (10 s)", 0);
    wsc_state st = wsc_get_state(c);
    if (st == WSC_STATE_CONNECTING)
        return;
    if (st == WSC_STATE_CLOSED) {
        if (!g_close_sent)
            fail("closed before all echoes came back", 0);
        printf("CLOSED status=%d reason=%s\n", wsc_close_status(c), wsc_close_reason(c));
        printf("FRAMES %ld idle=%ld\n", g_frames, g_idle);
        printf("OK\n");
        fflush(stdout);
        emscripten_cancel_main_loop();
        wsc_conn_free(c);
        exit(0);
    }
    if (st != WSC_STATE_OPEN || g_close_sent)
        return; /* CLOSING: wait for CLOSED */
    if (!g_waiting_echo && g_sent < g_n) {
        g_last_len = (size_t)snprintf(g_last, sizeof g_last, "frame-loop message %ld", g_sent);
        int r = wsc_write(c, g_sent % 2 ? WSC_BINARY : WSC_TEXT, g_last, g_last_len, 0);
        if (r)
            fail("write", r);
        g_sent++;
        g_waiting_echo = true;
    }
    wsc_msg_type type;
    const void *data;
    size_t len;
    int r = wsc_read(c, 0, &type, &data, &len);
    if (r == WSC_EAGAIN) {
        g_idle++;
        return;
    }
    if (r)
        fail("read", r);
    wsc_msg_type want = (g_sent - 1) % 2 ? WSC_BINARY : WSC_TEXT;
    if (!g_waiting_echo || type != want || len != g_last_len || memcmp(data, g_last, len) != 0) {
        printf("FAIL echo %ld: got %s \"%.*s\", want %s \"%s\"\n", g_sent - 1, wsc_msg_type_string(type),
               (int)len, (const char *)data, wsc_msg_type_string(want), g_last);
        fflush(stdout);
        emscripten_cancel_main_loop();
        exit(1);
    }
    g_waiting_echo = false;
    g_echoed++;
    if (g_echoed == g_n) {
        printf("ECHOED %ld\n", g_echoed);
        r = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "done");
        if (r)
            fail("close", r);
        g_close_sent = true;
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 3) {
        fprintf(stderr, "usage: frame_loop_client URL N\n");
        exit(2);
    }
    g_n = strtol(argv[2], NULL, 10);
    wsc_dial_options o = {0};
    o.nonblocking = true;
    int r = wsc_dial(argv[1], &o, &g_conn, NULL);
    if (r)
        fail("dial", r);
    printf("DIALING state=%d\n", (int)wsc_get_state(g_conn));
    g_start = now_ms();
    /* fps 0: the browser's animation frames (in Node: a setTimeout at ~60 Hz);
     * simulate_infinite_loop 1: main does not return, frame() runs from now on */
    emscripten_set_main_loop(frame, 0, 1);
    return 0; /* not reached */
}
