/* SPDX-License-Identifier: MIT */
/*
 * active_bench - many connections at work on one echo server.
 *
 *   active_bench steady N SERVER_COMMAND...     N connections, each sending
 *       one 32-byte message a second (spread over the second) for
 *       BENCH_SECONDS (default 1, at least 3 here); every echo is checked and
 *       its round trip timed: RESULT steady_p50_us, steady_p99_us,
 *       steady_lost (messages not echoed)
 *   active_bench pingpong N SERVER_COMMAND...   N connections each sending its
 *       next 32-byte message when the echo of the last one arrives, for
 *       BENCH_SECONDS, BENCH_REPS runs: RESULT pingpong_rt_per_s (median)
 *
 * The server command must print "listening on 127.0.0.1:PORT" (anywhere in
 * a line, stdout or stderr) and echo every message; the client offers the
 * "echo" subprotocol (for examples/echo_server). This process is one epoll
 * thread over raw sockets (the upgrade, then masked frames), so that the
 * client costs little beside the server.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server_proc.h"

#define MSG_LEN 32

static const char REQUEST[] = "GET /bench HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: echo\r\n\r\n";

typedef struct {
    int fd;
    uint64_t sent_at;   /* ns of the message in flight, 0: none */
    uint64_t next_at;   /* steady: when to send the next one */
    unsigned char in[256];
    size_t in_len;
} conn;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}


static int upgrade(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        send(fd, REQUEST, sizeof REQUEST - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof REQUEST - 1))
        goto fail;
    char buf[1024];
    size_t n = 0;
    while (n < 4 || !memmem(buf, n, "\r\n\r\n", 4)) {
        ssize_t r = recv(fd, buf + n, sizeof buf - n, 0);
        if (r <= 0 || (n += (size_t)r) == sizeof buf)
            goto fail;
    }
    if (strncmp(buf, "HTTP/1.1 101", 12) == 0)
        return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Sends one masked (zero key) binary message holding the conn's index. */
static int send_msg(conn *c, int index)
{
    unsigned char f[6 + MSG_LEN] = {0x82, 0x80 | MSG_LEN};
    memcpy(f + 6, &index, sizeof index);
    c->sent_at = now_ns();
    return send(c->fd, f, sizeof f, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof f ? 0 : -1;
}

/* Takes whole echoes out of c->in: how many were the right message. -1 on
 * a wrong frame. */
static int take_echoes(conn *c, int index)
{
    int n = 0;
    while (c->in_len >= 2 + MSG_LEN) {
        if (c->in[0] != 0x82 || c->in[1] != MSG_LEN)
            return -1;
        int got;
        memcpy(&got, c->in + 2, sizeof got);
        if (got != index)
            return -1;
        memmove(c->in, c->in + 2 + MSG_LEN, c->in_len - 2 - MSG_LEN);
        c->in_len -= 2 + MSG_LEN;
        n++;
    }
    return n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Runs the conns for `seconds`; steady or ping-pong. Returns round trips
 * (lat gets each one's ns when steady), or -1 on a protocol error. */
static long run(conn *cs, int n, bool steady, double seconds, uint64_t *lat, long lat_cap,
                long *sent_total)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < n; i++) {
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e);
    }
    uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < n; i++) {
        cs[i].sent_at = 0;
        cs[i].next_at = steady ? start + (uint64_t)i * 1000000000u / (uint64_t)n : start;
    }
    long done = 0, sent = 0;
    int next_due = 0; /* steady: conns become due in index order, one a second each */
    struct epoll_event evs[256];
    for (;;) {
        uint64_t now = now_ns();
        if (now >= end)
            break;
        if (!steady) {
            for (; next_due < n; next_due++) /* the first message of each */
                if (send_msg(&cs[next_due], next_due) == 0)
                    sent++;
        } else {
            int first = next_due;
            for (int k = 0; k < n; k++) { /* the due ones, in order */
                int i = (first + k) % n;
                if (cs[i].next_at > now)
                    break;
                if (cs[i].sent_at == 0 && send_msg(&cs[i], i) == 0)
                    sent++;
                cs[i].next_at += 1000000000u;
                next_due = (i + 1) % n;
            }
        }
        int m = epoll_wait(ep, evs, 256, 1);
        for (int k = 0; k < m; k++) {
            int i = (int)evs[k].data.u32;
            conn *c = &cs[i];
            ssize_t r = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, MSG_DONTWAIT);
            if (r <= 0)
                continue;
            c->in_len += (size_t)r;
            int got = take_echoes(c, i);
            if (got < 0)
                return -1;
            if (got == 0)
                continue;
            uint64_t t = now_ns();
            if (lat && done < lat_cap)
                lat[done] = t - c->sent_at;
            done += got;
            c->sent_at = 0;
            if (!steady && send_msg(c, i) == 0)
                sent++;
        }
    }
    close(ep);
    *sent_total = sent;
    return done;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "steady") != 0 && strcmp(argv[1], "pingpong") != 0)) {
        fprintf(stderr, "usage: active_bench steady|pingpong N SERVER_COMMAND...\n");
        return 2;
    }
    bool steady = strcmp(argv[1], "steady") == 0;
    int n = atoi(argv[2]);
    double seconds = getenv("BENCH_SECONDS") ? atof(getenv("BENCH_SECONDS")) : 1;
    int reps = getenv("BENCH_REPS") ? atoi(getenv("BENCH_REPS")) : 3;
    if (steady && seconds < 3)
        seconds = 3;
    if (n < 1 || reps < 1 || reps > 99)
        return 2;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    signal(SIGPIPE, SIG_IGN);

    int port;
    pid_t pid = server_start(argv + 3, &port);
    if (pid < 0) {
        fprintf(stderr, "active_bench: the server did not say where it listens: %s\n", argv[3]);
        return 1;
    }
    conn *cs = calloc((size_t)n, sizeof *cs);
    for (int i = 0; i < n; i++) {
        if ((cs[i].fd = upgrade(port)) < 0) {
            fprintf(stderr, "active_bench: connection %d failed: %s\n", i + 1, strerror(errno));
            server_stop(pid);
            return 1;
        }
    }
    fprintf(stderr, "  %d connections open\n", n);
    int rc = 0;
    if (steady) {
        long cap = (long)(n * (seconds + 1));
        uint64_t *lat = calloc((size_t)cap, sizeof *lat);
        long sent, done = run(cs, n, true, seconds, lat, cap, &sent);
        if (done < 0) {
            fprintf(stderr, "active_bench: a wrong echo\n");
            rc = 1;
        } else {
            long kept = done < cap ? done : cap;
            qsort(lat, (size_t)kept, sizeof *lat, cmp_u64);
            long in_flight = 0;
            for (int i = 0; i < n; i++)
                in_flight += cs[i].sent_at != 0;
            fprintf(stderr, "  %ld sent, %ld echoed, %ld in flight at the end\n", sent, done, in_flight);
            printf("RESULT steady_p50_us %.0f\n", kept ? lat[kept / 2] / 1e3 : 0.0);
            printf("RESULT steady_p99_us %.0f\n", kept ? lat[kept * 99 / 100] / 1e3 : 0.0);
            printf("RESULT steady_lost %ld\n", sent - done - in_flight);
        }
        free(lat);
    } else {
        double rates[99];
        for (int r = 0; r < reps && rc == 0; r++) {
            long sent, done = run(cs, n, false, seconds, NULL, 0, &sent);
            /* drain what is still in flight before the next run */
            for (int i = 0; i < n && done >= 0; i++) {
                while (cs[i].sent_at && take_echoes(&cs[i], i) == 0) {
                    ssize_t k = recv(cs[i].fd, cs[i].in + cs[i].in_len, sizeof cs[i].in - cs[i].in_len, 0);
                    if (k <= 0)
                        break;
                    cs[i].in_len += (size_t)k;
                }
                cs[i].sent_at = 0;
            }
            if (done < 0) {
                fprintf(stderr, "active_bench: a wrong echo\n");
                rc = 1;
                break;
            }
            rates[r] = done / seconds;
            fprintf(stderr, "  run %d: %.0f round trips/s\n", r + 1, rates[r]);
        }
        if (rc == 0) {
            qsort(rates, (size_t)reps, sizeof rates[0], cmp_double);
            printf("RESULT pingpong_rt_per_s %.0f\n", rates[reps / 2]);
        }
    }
    for (int i = 0; i < n; i++)
        close(cs[i].fd);
    free(cs);
    server_stop(pid);
    return rc;
}
