/* SPDX-License-Identifier: MIT */
/*
 * echo_client - dials an echo server with the "echo" subprotocol, sends a few
 * text messages, prints each echo, and closes with 1000 (normal closure).
 * Portable C: only wsc.h and the C standard library, so the same file builds
 * natively and for the browser with emcc.
 *
 *   make examples
 *   build/native/examples/echo_server 8080 &
 *   build/native/examples/echo_client ws://127.0.0.1:8080/
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsc.h"

static int fail(const char *what, int err)
{
    fprintf(stderr, "%s: %s (%s)\n", what, wsc_last_error(), wsc_strerror(err));
    return EXIT_FAILURE;
}

int main(int argc, char **argv)
{
    /* Every exit is exit(), not return: with emcc 3.1.6 and Asyncify a status
     * returned from main() after a blocking call suspended it is lost. */
    const char *url = argc > 1 ? argv[1] : "ws://127.0.0.1:8080/";
    static const char *const protocols[] = {"echo"};
    wsc_dial_options opts = {.subprotocols = protocols, .n_subprotocols = 1};
    wsc_conn *c;

    int err = wsc_dial(url, &opts, &c, NULL);
    if (err < 0)
        exit(fail("dial", err));
    printf("connected to %s, subprotocol \"%s\"\n", url, wsc_subprotocol(c));

    const char *messages[] = {"hello", "wsc speaks WebSocket", "goodbye"};
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        err = wsc_write(c, WSC_TEXT, messages[i], strlen(messages[i]), 5000);
        if (err < 0) {
            fail("write", err);
            wsc_conn_free(c);
            exit(EXIT_FAILURE);
        }
        wsc_msg_type type;
        const void *data;
        size_t len;
        err = wsc_read(c, 5000, &type, &data, &len);
        if (err < 0) {
            fail("read", err);
            wsc_conn_free(c);
            exit(EXIT_FAILURE);
        }
        printf("sent \"%s\", received %s \"%.*s\"\n", messages[i], wsc_msg_type_string(type),
               (int)len, (const char *)data);
    }

    err = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
    if (err < 0) {
        fail("close", err);
        wsc_conn_free(c);
        exit(EXIT_FAILURE);
    }
    printf("closed\n");
    wsc_conn_free(c);
    exit(EXIT_SUCCESS);
}
