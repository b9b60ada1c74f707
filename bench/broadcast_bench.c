/* SPDX-License-Identifier: MIT */
/*
 * broadcast_bench - one 1 KiB message to N connections: prepared
 * (wsc_write_prepared) against plain writes (wsc_write), with and without
 * permessage-deflate (no context takeover, so one compression can serve
 * every connection).
 *
 *   broadcast_bench [N]      N server connections (default 1000)
 *
 * The server side is wsc (wsc_accept, one connection per client); the
 * clients are raw sockets (the upgrade request, offering permessage-deflate
 * without context takeover when compressing) drained by a thread that reads
 * and discards, so what is measured is the server's writing. Each round
 * writes the message (a ~1 KiB JSON text that compresses well) once to every
 * connection from one thread; BENCH_REPS x 10 rounds (default 30) per
 * variant, the median round kept.
 *
 * Output: a table on stdout and machine-readable lines
 *   RESULT <off|deflate>.<plain|prepared> <messages per second>
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wsc.h"

static _Noreturn void die(const char *what, int err)
{
    fprintf(stderr, "broadcast_bench: %s: %s\n", what, err < 0 ? wsc_last_error() : "system error");
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- the clients: raw sockets, drained by one thread ------------------------ */

static atomic_bool draining = true;

static void *drain_main(void *arg)
{
    int ep = *(int *)arg;
    static char sink[1 << 16];
    struct epoll_event evs[64];
    while (atomic_load(&draining)) {
        int n = epoll_wait(ep, evs, 64, 50);
        for (int i = 0; i < n; i++)
            while (recv(evs[i].data.fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
            }
    }
    return NULL;
}

/* Connects a raw client and sends the upgrade request. */
static int raw_client(int port, bool deflate)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("connect", 0);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /bench HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     deflate ? "Sec-WebSocket-Extensions: permessage-deflate; "
                               "server_no_context_takeover; client_no_context_takeover\r\n"
                             : "");
    if (send(fd, req, (size_t)n, 0) != n)
        die("send", 0);
    return fd;
}

/* ---- one variant --------------------------------------------------------------- */

static double run(int n, bool deflate, bool prepared, const char *msg, size_t len)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
        die("listen", 0);
    int port = ntohs(sa.sin_port);
    int ep = epoll_create1(0);
    int *cfds = calloc((size_t)n, sizeof *cfds);
    wsc_conn **conns = calloc((size_t)n, sizeof *conns);
    wsc_accept_options o = {.compression = deflate ? WSC_COMPRESSION_NO_CONTEXT_TAKEOVER
                                                   : WSC_COMPRESSION_DISABLED};
    for (int i = 0; i < n; i++) {
        cfds[i] = raw_client(port, deflate);
        int sfd = accept(lfd, NULL, NULL);
        int err = sfd < 0 ? 0 : wsc_accept(sfd, &o, &conns[i]);
        if (sfd < 0 || err < 0)
            die("accept", err);
        if (deflate != (*wsc_extensions(conns[i]) != '\0'))
            die("permessage-deflate was not negotiated as asked", 0);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = cfds[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cfds[i], &ev);
    }
    close(lfd);
    atomic_store(&draining, true);
    pthread_t drainer;
    pthread_create(&drainer, NULL, drain_main, &ep);

    const char *reps_env = getenv("BENCH_REPS");
    int rounds = (reps_env && atoi(reps_env) > 0 ? atoi(reps_env) : 3) * 10;
    double *times = calloc((size_t)rounds, sizeof *times);
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        if (prepared) {
            wsc_prepared *p;
            if (wsc_prepared_new(WSC_TEXT, msg, len, &p) < 0)
                die("wsc_prepared_new", -1);
            for (int i = 0; i < n; i++)
                if (wsc_write_prepared(conns[i], p, 10000) < 0)
                    die("wsc_write_prepared", -1);
            wsc_prepared_free(p);
        } else {
            for (int i = 0; i < n; i++)
                if (wsc_write(conns[i], WSC_TEXT, msg, len, 10000) < 0)
                    die("wsc_write", -1);
        }
        times[r] = now_s() - t0;
    }
    qsort(times, (size_t)rounds, sizeof *times, cmp_double);
    double per_s = n / times[rounds / 2];

    atomic_store(&draining, false);
    pthread_join(drainer, NULL);
    for (int i = 0; i < n; i++) {
        wsc_close_now(conns[i]);
        wsc_conn_free(conns[i]);
        close(cfds[i]);
    }
    close(ep);
    free(times);
    free(conns);
    free(cfds);
    return per_s;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    if (n < 1 || n > 20000) {
        fprintf(stderr, "usage: broadcast_bench [N (1..20000)]\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(2 * n + 64)) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)(2 * n + 64) ? rl.rlim_max : (rlim_t)(2 * n + 64);
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* ~1 KiB of JSON, as a chat or market-data message would be */
    char msg[1100];
    size_t len = 0;
    len += (size_t)snprintf(msg, sizeof msg, "{\"type\":\"quotes\",\"items\":[");
    for (int k = 0; len < 1000; k++)
        len += (size_t)snprintf(msg + len, sizeof msg - len, "%s{\"sym\":\"S%03d\",\"bid\":%d.%02d}",
                                k ? "," : "", k, 100 + k, k % 100);
    len += (size_t)snprintf(msg + len, sizeof msg - len, "]}");

    printf("broadcasting one %zu-byte message to %d connections, messages per second (median round):\n",
           len, n);
    printf("%-22s | %14s | %14s | %8s\n", "", "wsc_write", "prepared", "ratio");
    printf("-----------------------|----------------|----------------|---------\n");
    for (int d = 0; d < 2; d++) {
        fprintf(stderr, "  broadcast_bench: %s, %d connections...\n", d ? "deflate" : "no compression", n);
        double plain = run(n, d, false, msg, len);
        double prep = run(n, d, true, msg, len);
        const char *name = d ? "deflate" : "off";
        printf("%-22s | %14.0f | %14.0f | %8.2f\n",
               d ? "deflate, no takeover" : "no compression", plain, prep, prep / plain);
        printf("RESULT %s.plain %.0f\nRESULT %s.prepared %.0f\n", name, plain, name, prep);
    }
    return 0;
}
