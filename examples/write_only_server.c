/* SPDX-License-Identifier: MIT */
/*
 * write_only_server - a server that only writes (coder/websocket's
 * "writeonly" example).
 *
 * Each connection gets its own thread, which calls wsc_close_read() so that a
 * background thread answers pings and completes the close handshake, then
 * sends the current time as a text message every INTERVAL_MS (default 1000)
 * until a write fails, e.g. because the client closed. A client that sends a
 * data message is closed with 1008 (policy violation) by the background reader.
 * The request target is printed escaped (example_server.h).
 *
 *   make examples
 *   build/native/examples/write_only_server [PORT [INTERVAL_MS]] &   # 8080, 1000
 *   node -e 'const W=require("ws");const w=new W("ws://127.0.0.1:8080/");
 *            w.on("message",m=>{console.log(String(m));w.close(1000)})'
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "example_server.h"
#include "wsc.h"

static long interval_ms = 1000;

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    wsc_conn *c;
    char text[512], why[512];
    int err = wsc_accept(fd, NULL, &c);
    if (err < 0) {
        printf("handshake failed: %s (%s)\n", example_escaped(wsc_last_error(), why, sizeof why),
               wsc_strerror(err));
        close(fd);
        return NULL;
    }
    err = wsc_close_read(c); /* we never read: let the library handle control frames */
    if (err < 0) {
        printf("close_read: %s (%s)\n", example_escaped(wsc_last_error(), why, sizeof why),
               wsc_strerror(err));
        wsc_conn_free(c);
        return NULL;
    }

    unsigned long n = 0;
    for (;;) {
        char stamp[64];
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        size_t len = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        len += (size_t)snprintf(stamp + len, sizeof stamp - len, ".%03ldZ", now.tv_nsec / 1000000);

        err = wsc_write(c, WSC_TEXT, stamp, len, 5000);
        if (err < 0)
            break;
        n++;
        struct timespec pause = {interval_ms / 1000, (interval_ms % 1000) * 1000000};
        nanosleep(&pause, NULL);
    }
    const char *target = example_escaped(wsc_request_target(c), text, sizeof text);
    int status = wsc_close_status(c);
    if (err == WSC_ECLOSED && status > 0)
        printf("%s: sent %lu messages, client closed with %d %s\n", target, n, status,
               wsc_status_string(status));
    else
        printf("%s: sent %lu messages, then: %s (%s)\n", target, n,
               example_escaped(wsc_last_error(), why, sizeof why), wsc_strerror(err));
    wsc_conn_free(c);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    if (argc > 2 && atol(argv[2]) > 0)
        interval_ms = atol(argv[2]);
    setvbuf(stdout, NULL, _IOLBF, 0);

    int lfd = example_listen(port, &port);
    if (lfd < 0) {
        perror("listen");
        return 1;
    }
    printf("listening on ws://127.0.0.1:%d/, one message every %ld ms\n", port,
           interval_ms);
    example_serve_forever(lfd, serve);
}
