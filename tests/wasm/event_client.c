/* SPDX-License-Identifier: MIT */
/*
 * event_client - the wasm event handler (wsc_set_event_handler), no frame
 * loop and no blocking call: a nonblocking dial, then everything happens in
 * the handler. For tests/wasm/node.test.mjs and browser.test.mjs; works in
 * both builds (event_client.js with Asyncify, event_client.sync.js without).
 *
 *   event_client URL N
 *
 * Once open ("OPEN"), sends text message 0 ("m0"), and on each echo the next,
 * N in all, each echo checked; then one 8 MiB binary message, whose echo is
 * checked too (wsc_close_start: the handler must not block). A handler call that reads nothing while the send queue just
 * went from full to empty prints "DRAINED" (the drain event). Then closes
 * with 1000; the close event prints "CLOSED status=<n> events=<calls>",
 * frees the connection inside the handler and prints "OK" (exit 0). A
 * failure prints "FAIL <what> <error> <detail>" and exits 1.
 */
#include <emscripten.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsc.h"

#define BIG (8 * 1024 * 1024)

static long g_n, g_echoed, g_events;
static bool g_open, g_big_sent, g_queued, g_drained, g_closing;
static unsigned char *g_big;

static void fail(const char *what, int err)
{
    printf("FAIL %s %s %s\n", what, err ? wsc_strerror(err) : "-", wsc_last_error());
    emscripten_force_exit(1);
}

static void send_text(wsc_conn *c, long i)
{
    char msg[32];
    int n = snprintf(msg, sizeof msg, "m%ld", i);
    int r = wsc_write(c, WSC_TEXT, msg, (size_t)n, 0);
    if (r)
        fail("write", r);
}

static void on_event(wsc_conn *c, void *user)
{
    if (user != &g_n)
        fail("user pointer", 0);
    g_events++;
    wsc_state st = wsc_get_state(c);
    if (st == WSC_STATE_CONNECTING)
        return;
    if (st == WSC_STATE_CLOSED) {
        if (!g_closing)
            fail("closed early", 0);
        printf("CLOSED status=%d events=%ld\n", wsc_close_status(c), g_events);
        wsc_conn_free(c); /* inside the handler: allowed */
        free(g_big);
        printf("OK\n");
        /* main kept the runtime alive: force_exit, so that the exit is
         * reported (a plain exit() would be ignored) */
        emscripten_force_exit(0);
    }
    if (!g_open) {
        g_open = true;
        printf("OPEN\n");
        send_text(c, 0);
    }
    bool got = false;
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        int r = wsc_read(c, 0, &type, &data, &len);
        if (r == WSC_EAGAIN)
            break;
        if (r == WSC_ECLOSED && g_closing)
            return; /* the close event follows */
        if (r)
            fail("read", r);
        got = true;
        if (g_echoed < g_n) {
            char want[32];
            int n = snprintf(want, sizeof want, "m%ld", g_echoed);
            if (type != WSC_TEXT || len != (size_t)n || memcmp(data, want, len) != 0)
                fail("echo", 0);
            if (++g_echoed < g_n) {
                send_text(c, g_echoed);
            } else {
                printf("ECHOED %ld\n", g_echoed);
                if ((r = wsc_write(c, WSC_BINARY, g_big, BIG, 0)) != 0)
                    fail("write big", r);
                g_big_sent = true;
                g_queued = wsc_buffered_amount(c) > 0;
            }
        } else {
            if (type != WSC_BINARY || len != BIG || memcmp(data, g_big, BIG) != 0)
                fail("big echo", 0);
            printf("BIG ECHOED\n");
            if ((r = wsc_close_start(c, WSC_STATUS_NORMAL_CLOSURE, "")) != 0)
                fail("close", r);
            g_closing = true;
            return;
        }
    }
    if (!got && g_queued && !g_drained && wsc_buffered_amount(c) == 0) {
        g_drained = true;
        printf("DRAINED\n");
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) {
        printf("usage: event_client URL N\n");
        return 2;
    }
    g_n = atol(argv[2]);
    g_big = malloc(BIG);
    if (!g_big || g_n < 1)
        fail("setup", WSC_ENOMEM);
    for (size_t i = 0; i < BIG; i++)
        g_big[i] = (unsigned char)(i % 251);
    wsc_dial_options o = {.nonblocking = true};
    wsc_conn *c;
    int r = wsc_dial(argv[1], &o, &c, NULL);
    if (r)
        fail("dial", r);
    wsc_set_read_limit(c, -1);
    if ((r = wsc_set_event_handler(c, on_event, &g_n)) != 0)
        fail("set_event_handler", r);
    emscripten_exit_with_live_runtime(); /* the handler runs from now on */
}
