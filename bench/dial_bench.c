/* SPDX-License-Identifier: MIT */
/*
 * dial_bench - new connections per second made by a client, one after
 * another, against a fast server: what a dial and a close cost the client.
 *
 *   dial_bench wsc|wss|wss-full|tcp SERVER_COMMAND...
 *
 * Starts the server command (as conns_bench does: it must print
 * "listening ... 127.0.0.1:PORT"), then for BENCH_SECONDS (default 1) makes
 * connections one after another; BENCH_REPS (default 3) runs, the median
 * kept.
 *   wsc  wsc_dial("ws://127.0.0.1:PORT/bench") with default options (no
 *        proxy from the environment), wsc_close(c, 1000, "") (our close
 *        frame, the server's answer), wsc_conn_free.
 *   wss  the same over TLS to wss://127.0.0.1:PORT (a server started with
 *        its certificate; the CA from BENCH_TLS_CA): every dial after the
 *        first resumes the TLS session (wsc's session cache).
 *   wss-full  wss with no_resumption: a full TLS handshake every time.
 *   tcp  the floor: a TCP connect, then close (the server accepts and
 *        closes too); no WebSocket at all.
 * bench/ws_dial.mjs does the same as `wsc` with npm ws's client.
 *
 * Output: progress on stderr; on stdout  RESULT dials_per_s <n>
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wsc.h"
#include "server_proc.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial_wsc(const char *url, bool resume)
{
    wsc_dial_options o = {.proxy = ""};
    o.tls.ca_file = getenv("BENCH_TLS_CA");
    o.tls.no_resumption = !resume;
    wsc_conn *c;
    int r = wsc_dial(url, &o, &c, NULL);
    if (r < 0) {
        fprintf(stderr, "dial_bench: wsc_dial: %s (%s)\n", wsc_strerror(r), wsc_last_error());
        return -1;
    }
    r = wsc_close(c, 1000, "");
    wsc_conn_free(c);
    if (r < 0) {
        fprintf(stderr, "dial_bench: wsc_close: %s (%s)\n", wsc_strerror(r), wsc_last_error());
        return -1;
    }
    return 0;
}

static int dial_tcp(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("dial_bench: connect");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc >= 3 ? argv[1] : "";
    bool tcp = strcmp(mode, "tcp") == 0, tls = strncmp(mode, "wss", 3) == 0;
    if (!tcp && !tls && strcmp(mode, "wsc") != 0) {
        fprintf(stderr, "usage: dial_bench wsc|wss|wss-full|tcp SERVER_COMMAND...\n");
        return 2;
    }
    if (tls && !getenv("BENCH_TLS_CA")) {
        fprintf(stderr, "dial_bench %s: set BENCH_TLS_CA to the CA of the server's certificate\n", mode);
        return 2;
    }
    double seconds = getenv("BENCH_SECONDS") ? atof(getenv("BENCH_SECONDS")) : 1;
    int reps = getenv("BENCH_REPS") ? atoi(getenv("BENCH_REPS")) : 3;
    if (reps < 1 || reps > 99) {
        fprintf(stderr, "dial_bench: BENCH_REPS must be 1-99\n");
        return 2;
    }
    int port;
    pid_t pid = server_start(argv + 2, &port);
    if (pid < 0) {
        fprintf(stderr, "dial_bench: the server did not say where it listens: %s\n", argv[2]);
        return 1;
    }
    char url[64];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d/bench", tls ? "wss" : "ws", port);
    double rates[99];
    int r = 0;
    for (int k = 0; k < reps && r == 0; k++) {
        long n = 0;
        double t0 = now_s(), t;
        do {
            r = tcp ? dial_tcp(port) : dial_wsc(url, strcmp(mode, "wss-full") != 0);
            n++;
            t = now_s();
        } while (r == 0 && t - t0 < seconds);
        rates[k] = n / (t - t0);
        fprintf(stderr, "  dial_bench %s: run %d: %.0f connections/s\n", argv[1], k + 1, rates[k]);
    }
    server_stop(pid);
    if (r < 0)
        return 1;
    qsort(rates, (size_t)reps, sizeof rates[0], cmp_double);
    printf("RESULT dials_per_s %.0f\n", rates[reps / 2]);
    return 0;
}
