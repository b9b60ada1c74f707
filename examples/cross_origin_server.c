/* SPDX-License-Identifier: MIT */
/*
 * cross_origin_server - accepting cross-origin WebSocket requests
 * (coder/websocket's AcceptOptions.OriginPatterns example).
 *
 * Browsers send an Origin header with every WebSocket request, and any web
 * page can open a WebSocket to any server, so by default wsc_accept refuses
 * (HTTP 403) a request whose Origin host differs from its Host header. Here
 * the patterns {"example.com", "*.example.com"} also allow pages served from
 * example.com and from any of its subdomains, over http or https:
 *
 *   Origin: https://example.com        allowed ("example.com")
 *   Origin: http://app.example.com     allowed ("*.example.com")
 *   Origin: https://evil.com           refused with 403
 *   Origin: https://notexample.com     refused ("*.example.com" needs the dot)
 *   no Origin (not a browser)          allowed
 *   Origin host == Host header         allowed (same origin)
 *
 * Matching is case-insensitive against the Origin's host only; a pattern
 * containing "://" is matched against "scheme://host" instead, to also
 * constrain the scheme (e.g. "https://example.com").
 * Each accepted connection is closed at once with 1000 "cross origin
 * WebSocket accepted"; one line is printed per request, the Origin escaped
 * (example_server.h).
 *
 *   make examples
 *   build/native/examples/cross_origin_server 8080 &
 *   build/native/examples/close_status_client ws://127.0.0.1:8080/ https://app.example.com
 *   build/native/examples/close_status_client ws://127.0.0.1:8080/ https://evil.com   # 403
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>

#include "example_server.h"
#include "wsc.h"

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static const char *const patterns[] = {"example.com", "*.example.com"};
    wsc_accept_options opts = {.origin_patterns = patterns, .n_origin_patterns = 2};
    wsc_conn *c;
    char text[512], why[512];

    int err = wsc_accept(fd, &opts, &c);
    if (err < 0) { /* wsc_accept already answered, e.g. 403 for a foreign origin */
        printf("refused: %s (%s)\n", example_escaped(wsc_last_error(), why, sizeof why),
               wsc_strerror(err));
        close(fd);
        return NULL;
    }
    const char *origin = wsc_handshake_header(c, "Origin");
    printf("accepted, Origin: %s\n", origin ? example_escaped(origin, text, sizeof text) : "(none)");
    err = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "cross origin WebSocket accepted");
    if (err < 0)
        printf("close: %s (%s)\n", example_escaped(wsc_last_error(), why, sizeof why),
               wsc_strerror(err));
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
