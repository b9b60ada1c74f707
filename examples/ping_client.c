/* SPDX-License-Identifier: MIT */
/*
 * ping_client - measures round-trip times with pings (coder/websocket's
 * Conn.Ping example).
 *
 * wsc_ping waits for the pong, which must be read by someone: a client that
 * does not read messages itself calls wsc_close_read() first, so that a
 * background reader delivers the pongs (and closes with 1008 if the server
 * sends a data message). Then it pings 5 times, printing each round trip,
 * and closes with 1000. Portable C: only wsc.h and the C standard library.
 *
 *   make examples
 *   build/native/examples/echo_server 8080 &
 *   build/native/examples/ping_client ws://127.0.0.1:8080/
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "wsc.h"

static int fail(const char *what, int err)
{
    fprintf(stderr, "%s: %s (%s)\n", what, wsc_last_error(), wsc_strerror(err));
    return EXIT_FAILURE;
}

static double now_ms(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    /* Every exit is exit(), not return: with emcc 3.1.6 and Asyncify a status
     * returned from main() after a blocking call suspended it is lost. */
    const char *url = argc > 1 ? argv[1] : "ws://127.0.0.1:8080/";
    /* offer "echo" so that echo_server keeps the connection */
    static const char *const protocols[] = {"echo"};
    wsc_dial_options opts = {.subprotocols = protocols, .n_subprotocols = 1};
    wsc_conn *c;

    int err = wsc_dial(url, &opts, &c, NULL);
    if (err < 0)
        exit(fail("dial", err));
    err = wsc_close_read(c);
    for (int i = 1; err == 0 && i <= 5; i++) {
        double t0 = now_ms();
        err = wsc_ping(c, 5000);
        if (err == 0)
            printf("ping %d: %.3f ms\n", i, now_ms() - t0);
    }
    if (err < 0) {
        fail("ping", err);
        wsc_conn_free(c);
        exit(EXIT_FAILURE);
    }
    err = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
    wsc_conn_free(c);
    if (err < 0)
        exit(fail("close", err));
    exit(EXIT_SUCCESS);
}
