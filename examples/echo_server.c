/* SPDX-License-Identifier: MIT */
/*
 * echo_server - a WebSocket echo server (coder/websocket's "echo" example).
 *
 * Listens on 127.0.0.1:PORT (default 8080; 0 picks a free port) and serves
 * each connection on its own thread. Clients must offer the "echo"
 * subprotocol, else they are closed with 1008 (policy violation). Every
 * message a client sends comes back unchanged, with the same type. One line
 * is printed per connection when it ends, with what the client chose (the
 * request target, errors quoting it) escaped so that it cannot drive the
 * terminal. Sockets and threads: example_server.h.
 *
 *   make examples
 *   build/native/examples/echo_server 8080 &
 *   build/native/examples/echo_client ws://127.0.0.1:8080/
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_server.h"
#include "wsc.h"

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static const char *const protocols[] = {"echo"};
    wsc_accept_options opts = {.subprotocols = protocols, .n_subprotocols = 1};
    wsc_conn *c;
    char text[512], why[512];

    int err = wsc_accept(fd, &opts, &c);
    if (err < 0) {
        printf("handshake failed: %s (%s)\n", example_escaped(wsc_last_error(), why, sizeof why),
               wsc_strerror(err));
        close(fd); /* on failure the socket is still ours */
        return NULL;
    }
    const char *target = example_escaped(wsc_request_target(c), text, sizeof text);
    if (strcmp(wsc_subprotocol(c), "echo") != 0) {
        wsc_close(c, WSC_STATUS_POLICY_VIOLATION, "client must speak the echo subprotocol");
        printf("%s: refused, no \"echo\" subprotocol\n", target);
        wsc_conn_free(c);
        return NULL;
    }

    unsigned long n = 0;
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        err = wsc_read(c, -1, &type, &data, &len);
        if (err < 0)
            break;
        err = wsc_write(c, type, data, len, -1);
        if (err < 0)
            break;
        n++;
    }
    if (err == WSC_ECLOSED && wsc_close_status(c) == WSC_STATUS_NORMAL_CLOSURE)
        printf("%s: echoed %lu messages, client closed normally\n", target, n);
    else
        printf("%s: echoed %lu messages, then: %s (%s)\n", target, n,
               example_escaped(wsc_last_error(), why, sizeof why), wsc_strerror(err));
    wsc_conn_free(c);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    setvbuf(stdout, NULL, _IOLBF, 0);
    int lfd = example_listen(port, &port);
    if (lfd < 0) {
        perror("listen");
        return 1;
    }
    printf("listening on ws://127.0.0.1:%d/\n", port);
    example_serve_forever(lfd, serve);
}
