/* SPDX-License-Identifier: MIT */
/*
 * emws_echo_client - the minimal echo client of bench/wsc_echo_client_min.c,
 * written with Emscripten's own <emscripten/websocket.h> instead of wsc, for
 * the size comparison (bench/wasm_size.sh) and the browser benchmark
 * (bench/browser_bench.mjs). Callbacks only: no Asyncify.
 *
 *   emws_echo_client URL
 *       dials URL, sends the text "hello", waits for the echo, prints
 *       "echo: hello", closes with 1000, prints "closed 1000" and "OK", exit 0
 *       (any failure prints "FAIL ..." and exits 1)
 *   emws_echo_client URL SECONDS          (built with -DECHO_BENCH)
 *       echoes 1 KiB binary messages, one in flight, for SECONDS, then prints
 *       "RESULT rt1k <round trips per second>" and closes as above
 *
 * Build (bench/wasm_size.sh does): emcc -Oz bench/emws_echo_client.c -lwebsocket.js
 * In Node 20 it needs `node --experimental-websocket` (a global WebSocket).
 * `make bench` builds every bench C file natively too; this one then only
 * says that it is for emcc.
 */
#ifdef __EMSCRIPTEN__
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <emscripten.h>
#include <emscripten/websocket.h>

static int g_ok;

static const char *g_url;

#ifdef ECHO_BENCH
#define CONNECTS 10 /* dials timed before the echo, as wsc_echo_client_min.c */
static unsigned char g_msg[1024];
static double g_seconds, g_start, g_dialled;
static long g_count;
static double g_connect[CONNECTS];
static int g_connects;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
#endif

static void open_socket(void);

static EM_BOOL on_open(int type, const EmscriptenWebSocketOpenEvent *e, void *user)
{
    (void)type, (void)user;
#ifdef ECHO_BENCH
    if (g_connects < CONNECTS) { /* timing dials: close each once open */
        g_connect[g_connects] = emscripten_get_now() - g_dialled;
        emscripten_websocket_close(e->socket, 1000, "");
        return EM_TRUE;
    }
    g_start = emscripten_get_now();
    emscripten_websocket_send_binary(e->socket, g_msg, sizeof g_msg);
#else
    emscripten_websocket_send_utf8_text(e->socket, "hello");
#endif
    return EM_TRUE;
}

static EM_BOOL on_message(int type, const EmscriptenWebSocketMessageEvent *e, void *user)
{
    (void)type, (void)user;
#ifdef ECHO_BENCH
    if (e->isText || e->numBytes != sizeof g_msg) {
        printf("FAIL echo of %u bytes\n", e->numBytes);
        exit(1);
    }
    g_count++;
    double t = emscripten_get_now();
    if (t - g_start < g_seconds * 1000) {
        emscripten_websocket_send_binary(e->socket, g_msg, sizeof g_msg);
        return EM_TRUE;
    }
    printf("RESULT rt1k %.1f\n", g_count / ((t - g_start) / 1000));
    g_ok = 1;
#else
    /* text arrives with a trailing NUL counted in numBytes */
    uint32_t n = e->numBytes;
    if (e->isText && n && e->data[n - 1] == '\0')
        n--;
    g_ok = e->isText && n == 5 && memcmp(e->data, "hello", 5) == 0;
    printf("echo: %.*s\n", (int)n, (const char *)e->data);
#endif
    emscripten_websocket_close(e->socket, 1000, "");
    return EM_TRUE;
}

static EM_BOOL on_error(int type, const EmscriptenWebSocketErrorEvent *e, void *user)
{
    (void)type, (void)e, (void)user;
    printf("FAIL WebSocket error\n");
    exit(1);
}

static EM_BOOL on_close(int type, const EmscriptenWebSocketCloseEvent *e, void *user)
{
    (void)type, (void)user;
    emscripten_websocket_delete(e->socket);
#ifdef ECHO_BENCH
    if (g_connects < CONNECTS) {
        if (++g_connects == CONNECTS) {
            qsort(g_connect, CONNECTS, sizeof g_connect[0], cmp_double);
            printf("RESULT connect_ms %.3f\n", (g_connect[CONNECTS / 2 - 1] + g_connect[CONNECTS / 2]) / 2);
        }
        open_socket();
        return EM_TRUE;
    }
#endif
    printf("closed %d\n", e->code);
    if (!g_ok) {
        printf("FAIL no echo\n");
        exit(1);
    }
    printf("OK\n");
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        printf("usage: emws_echo_client URL [SECONDS]\n");
        return 2;
    }
#ifdef ECHO_BENCH
    g_seconds = argc > 2 ? atof(argv[2]) : 1;
    for (size_t i = 0; i < sizeof g_msg; i++)
        g_msg[i] = (unsigned char)(i % 251);
#endif
    g_url = argv[1];
    open_socket();
    emscripten_exit_with_live_runtime(); /* the callbacks run from now on */
}

static void open_socket(void)
{
    EmscriptenWebSocketCreateAttributes attr;
    emscripten_websocket_init_create_attributes(&attr);
    attr.url = g_url;
#ifdef ECHO_BENCH
    g_dialled = emscripten_get_now();
#endif
    EMSCRIPTEN_WEBSOCKET_T ws = emscripten_websocket_new(&attr);
    if (ws <= 0) {
        printf("FAIL emscripten_websocket_new: %d\n", ws);
        exit(1);
    }
    emscripten_websocket_set_onopen_callback(ws, NULL, on_open);
    emscripten_websocket_set_onmessage_callback(ws, NULL, on_message);
    emscripten_websocket_set_onerror_callback(ws, NULL, on_error);
    emscripten_websocket_set_onclose_callback(ws, NULL, on_close);
}

#else /* native: nothing to measure here */
#include <stdio.h>

int main(void)
{
    puts("emws_echo_client uses <emscripten/websocket.h>: build it with emcc (bench/wasm_size.sh)");
    return 0;
}
#endif
