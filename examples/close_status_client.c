/* SPDX-License-Identifier: MIT */
/*
 * close_status_client - expects the server to close the connection with 1000
 * (coder/websocket's CloseStatus example).
 *
 * Dials URL, reads (printing any message) until a read fails, then checks
 * that the failure was the server's close handshake with status 1000
 * (normal closure). Exits 0 if so, 1 otherwise. An optional ORIGIN is sent as
 * the Origin header, as a browser on that origin would (see
 * cross_origin_server.c). Portable C: only wsc.h and the C standard library.
 *
 *   make examples
 *   build/native/examples/cross_origin_server 8080 &
 *   build/native/examples/close_status_client [URL [ORIGIN]]   # ws://127.0.0.1:8080/
 */
#include <stdio.h>
#include <stdlib.h>

#include "wsc.h"

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "ws://127.0.0.1:8080/";
    wsc_header origin = {"Origin", argc > 2 ? argv[2] : ""};
    wsc_dial_options opts = {.headers = &origin, .n_headers = argc > 2 ? 1 : 0};
    wsc_conn *c;

    int err = wsc_dial(url, &opts, &c, NULL);
    if (err < 0) {
        fprintf(stderr, "dial: %s (%s)\n", wsc_last_error(), wsc_strerror(err));
        exit(EXIT_FAILURE); /* not return: see the end of main */
    }
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        err = wsc_read(c, 60000, &type, &data, &len);
        if (err < 0)
            break;
        printf("received %s message of %zu bytes\n", wsc_msg_type_string(type), len);
    }

    int status = wsc_close_status(c);
    int ok = status == WSC_STATUS_NORMAL_CLOSURE;
    if (ok)
        printf("server closed with %d %s, reason \"%s\"\n", status, wsc_status_string(status),
               wsc_close_reason(c));
    else if (status > 0)
        fprintf(stderr, "expected NormalClosure, server closed with %d %s \"%s\"\n", status,
                wsc_status_string(status), wsc_close_reason(c));
    else
        fprintf(stderr, "expected NormalClosure, but: %s (%s)\n", wsc_last_error(),
                wsc_strerror(err));
    wsc_conn_free(c);
    /* exit(), not return: with emcc 3.1.6 and Asyncify a status returned from
     * main() after the program suspended (a blocking call) is lost. */
    exit(ok ? EXIT_SUCCESS : EXIT_FAILURE);
}
