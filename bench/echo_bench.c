/* SPDX-License-Identifier: MIT */
/*
 * echo_bench - loopback echo benchmarks for wsc, and the same workloads over
 * plain TCP as the upper bound.
 *
 *   echo_bench wsc   wsc client -> wsc server, binary messages
 *   echo_bench wss   the same over TLS: the server's certificate and key and
 *                    the CA that signed it come from BENCH_TLS_CERT,
 *                    BENCH_TLS_KEY and BENCH_TLS_CA (bench/run.sh makes them)
 *   echo_bench tcp   plain TCP client -> plain TCP echo server, raw bytes
 *
 * Client and server run in this one process, on separate threads, talking
 * over a real 127.0.0.1 TCP connection: the kernel path is the same as with
 * two processes, and one binary measures both variants in the same way.
 * The server runs one thread per connection (with TCP_NODELAY, like the
 * client), and each run uses a fresh connection.
 *
 * Workloads:
 *   rt16, rt1k       round trips per second, one message (16 B, 1 KiB) in
 *                    flight: write it, read the echo, repeat.
 *   st64, st16k, st1m
 *                    streaming: one thread writes messages (64 B, 16 KiB,
 *                    1 MiB) back to back while another reads the echoes; the
 *                    result is echoed bytes per second in MB/s (10^6 B/s).
 *                    In tcp mode the reader just counts bytes.
 *   st64c            st64 with the writer sending BATCH messages at a time:
 *                    wsc_cork, BATCH writes, wsc_flush (tcp mode: one send
 *                    of BATCH messages).
 * The wsc server echoes as wsc.h recommends: while more input is already
 * buffered (wsc_read_buffered) it gathers its echoes (wsc_cork), and it
 * flushes them when the input runs dry.
 *
 * Each run lasts BENCH_SECONDS (default 1) and is repeated BENCH_REPS times
 * (default 3); the median is reported. Progress goes to stderr; stdout gets
 * one machine-readable line per workload:  RESULT <workload> <value>
 * Optional arguments after the mode select workloads, e.g. `echo_bench wsc rt16`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wsc.h"

static bool use_wsc;
static bool use_tls;              /* wss mode */
static wsc_tls_server *tls_server;
static const char *tls_ca;
static int port;
static double seconds = 1.0;
static int reps = 3;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static _Noreturn void die(const char *what, int err)
{
    if (use_wsc && err < 0)
        fprintf(stderr, "echo_bench: %s: %s (%s)\n", what, wsc_last_error(), wsc_strerror(err));
    else
        fprintf(stderr, "echo_bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* ---- servers -------------------------------------------------------------- */

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!use_wsc) {
        static _Thread_local char buf[256 * 1024];
        ssize_t k;
        while ((k = recv(fd, buf, sizeof buf, 0)) > 0 || (k < 0 && errno == EINTR))
            if (k > 0 && !write_all(fd, buf, (size_t)k))
                break;
        shutdown(fd, SHUT_WR);
        close(fd);
        return NULL;
    }
    wsc_conn *c;
    wsc_accept_options opts = {.tls = tls_server};
    int err = wsc_accept(fd, &opts, &c);
    if (err < 0) {
        fprintf(stderr, "echo_bench: server accept: %s (%s)\n", wsc_last_error(), wsc_strerror(err));
        close(fd);
        return NULL;
    }
    wsc_set_read_limit(c, -1);
    /* The echo wsc.h recommends (wsc_read_buffered): echoes are gathered
     * (wsc_cork) while more input is already here, and sent together once
     * it runs dry; a lone message goes at once. */
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        if (wsc_read_buffered(c) == 0 && (err = wsc_flush(c, -1)) < 0)
            break;
        err = wsc_read(c, -1, &type, &data, &len);
        if (err < 0 || (wsc_read_buffered(c) > 0 && (err = wsc_cork(c)) < 0))
            break;
        err = wsc_write(c, type, data, len, -1);
        if (err < 0)
            break;
    }
    if (err != WSC_ECLOSED)
        fprintf(stderr, "echo_bench: server: %s (%s)\n", wsc_last_error(), wsc_strerror(err));
    else if (wsc_want_write(c)) /* the last echoes and our reply to the close */
        wsc_flush(c, 5000);
    wsc_conn_free(c);
    return NULL;
}

static void *server_main(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_t t;
        if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd) != 0)
            die("pthread_create", 0);
        pthread_detach(t);
    }
    return NULL;
}

static void start_server(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 16) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
        die("listen", 0);
    port = ntohs(a.sin_port);
    pthread_t t;
    if (pthread_create(&t, NULL, server_main, (void *)(intptr_t)lfd) != 0)
        die("pthread_create", 0);
    pthread_detach(t);
}

/* ---- client connection: a wsc_conn or a socket ---------------------------- */

typedef struct {
    wsc_conn *c;
    int fd;
} conn;

static conn client_connect(void)
{
    conn k = {NULL, -1};
    if (use_wsc) {
        char url[64];
        snprintf(url, sizeof url, "%s://127.0.0.1:%d/", use_tls ? "wss" : "ws", port);
        wsc_dial_options opts = {0};
        opts.tls.ca_file = tls_ca;
        int err = wsc_dial(url, &opts, &k.c, NULL);
        if (err < 0)
            die("dial", err);
        wsc_set_read_limit(k.c, -1);
        return k;
    }
    k.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    if (k.fd < 0 || connect(k.fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect", 0);
    setsockopt(k.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return k;
}

static void send_msg(conn *k, const char *p, size_t n)
{
    if (use_wsc) {
        int err = wsc_write(k->c, WSC_BINARY, p, n, -1);
        if (err < 0)
            die("write", err);
    } else if (!write_all(k->fd, p, n)) {
        die("send", 0);
    }
}

/* ---- round trips ------------------------------------------------------------ */

static double run_rt(size_t size)
{
    char *msg = malloc(size), *back = malloc(size);
    memset(msg, 'x', size);
    conn k = client_connect();
    long n = 0;
    double t0 = now(), t;
    do {
        msg[0] = (char)n;
        send_msg(&k, msg, size);
        if (use_wsc) {
            wsc_msg_type type;
            const void *data;
            size_t len;
            int err = wsc_read(k.c, -1, &type, &data, &len);
            if (err < 0)
                die("read", err);
            if (len != size || ((const char *)data)[0] != msg[0]) {
                fprintf(stderr, "echo_bench: bad echo (%zu bytes, expected %zu)\n", len, size);
                exit(1);
            }
        } else {
            for (size_t got = 0; got < size;) {
                ssize_t r = recv(k.fd, back + got, size - got, 0);
                if (r <= 0)
                    die("recv", 0);
                got += (size_t)r;
            }
            if (back[0] != msg[0]) {
                fprintf(stderr, "echo_bench: bad echo\n");
                exit(1);
            }
        }
        n++;
    } while ((t = now()) - t0 < seconds);
    if (use_wsc) {
        int err = wsc_close(k.c, WSC_STATUS_NORMAL_CLOSURE, "");
        if (err < 0)
            die("close", err);
        wsc_conn_free(k.c);
    } else {
        close(k.fd);
    }
    free(msg);
    free(back);
    return (double)n / (t - t0);
}

/* ---- streaming ---------------------------------------------------------------- */

#define BATCH 64

typedef struct {
    conn *k;
    size_t size;
    bool batch; /* BATCH messages per flush (st64c) */
    atomic_bool stop;
} stream_job;

static void *stream_writer(void *arg)
{
    stream_job *j = arg;
    size_t n = j->batch ? BATCH : 1;
    char *msg = malloc(j->size * n);
    memset(msg, 'x', j->size * n);
    while (!atomic_load(&j->stop)) {
        if (!use_wsc) {
            send_msg(j->k, msg, j->size * n);
            continue;
        }
        int err = j->batch ? wsc_cork(j->k->c) : 0;
        for (size_t i = 0; err == 0 && i < n; i++)
            err = wsc_write(j->k->c, WSC_BINARY, msg, j->size, -1);
        if (err == 0 && j->batch)
            err = wsc_flush(j->k->c, -1);
        if (err < 0)
            die("write", err);
    }
    /* end the stream; the reader then drains the echoes still in flight */
    if (use_wsc) {
        int err = wsc_close(j->k->c, WSC_STATUS_NORMAL_CLOSURE, "");
        if (err < 0)
            die("close", err);
    } else {
        shutdown(j->k->fd, SHUT_WR);
    }
    free(msg);
    return NULL;
}

static double run_stream(size_t size, bool batch)
{
    conn k = client_connect();
    stream_job j = {.k = &k, .size = size, .batch = batch};
    atomic_init(&j.stop, false);
    pthread_t w;
    double t0 = now(), t = 0, rate = -1;
    if (pthread_create(&w, NULL, stream_writer, &j) != 0)
        die("pthread_create", 0);
    uint64_t bytes = 0;
    char *buf = use_wsc ? NULL : malloc(256 * 1024);
    for (;;) {
        size_t len;
        if (use_wsc) {
            wsc_msg_type type;
            const void *data;
            int err = wsc_read(k.c, -1, &type, &data, &len);
            if (err == WSC_ECLOSED)
                break;
            if (err < 0)
                die("read", err);
        } else {
            ssize_t r = recv(k.fd, buf, 256 * 1024, 0);
            if (r == 0)
                break;
            if (r < 0)
                die("recv", 0);
            len = (size_t)r;
        }
        bytes += len;
        if (rate < 0 && (t = now()) - t0 >= seconds) {
            rate = (double)bytes / (t - t0) / 1e6;
            atomic_store(&j.stop, true);
        }
    }
    pthread_join(w, NULL);
    if (rate < 0) {
        fprintf(stderr, "echo_bench: the stream ended early\n");
        exit(1);
    }
    if (use_wsc) {
        wsc_conn_free(k.c);
    } else {
        close(k.fd);
        free(buf);
    }
    return rate;
}

/* ---- main --------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const struct {
    const char *name;
    bool stream, batch;
    size_t size;
    const char *unit;
} workloads[] = {
    {"rt16", false, false, 16, "round trips/s"},
    {"rt1k", false, false, 1024, "round trips/s"},
    {"st64", true, false, 64, "MB/s"},
    {"st64c", true, true, 64, "MB/s"},
    {"st16k", true, false, 16 * 1024, "MB/s"},
    {"st1m", true, false, 1024 * 1024, "MB/s"},
};

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "wsc") != 0 && strcmp(argv[1], "wss") != 0 &&
                     strcmp(argv[1], "tcp") != 0)) {
        fprintf(stderr, "usage: echo_bench wsc|wss|tcp [WORKLOAD...]\n");
        return 2;
    }
    use_tls = strcmp(argv[1], "wss") == 0;
    use_wsc = use_tls || strcmp(argv[1], "wsc") == 0;
    if (use_tls) {
        wsc_tls_options o = {.cert_file = getenv("BENCH_TLS_CERT"), .key_file = getenv("BENCH_TLS_KEY")};
        tls_ca = getenv("BENCH_TLS_CA");
        if (!o.cert_file || !o.key_file || !tls_ca) {
            fprintf(stderr, "echo_bench wss: set BENCH_TLS_CERT, BENCH_TLS_KEY and BENCH_TLS_CA\n");
            return 2;
        }
        int err = wsc_tls_server_new(&o, &tls_server);
        if (err < 0)
            die("wsc_tls_server_new", err);
    }
    const char *s = getenv("BENCH_SECONDS"), *r = getenv("BENCH_REPS");
    if (s && atof(s) > 0)
        seconds = atof(s);
    if (r && atoi(r) > 0)
        reps = atoi(r) > 15 ? 15 : atoi(r);
    start_server();

    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
        bool wanted = argc == 2;
        for (int a = 2; a < argc; a++)
            wanted |= strcmp(argv[a], workloads[i].name) == 0;
        if (!wanted)
            continue;
        double v[15];
        for (int n = 0; n < reps; n++) {
            v[n] = workloads[i].stream ? run_stream(workloads[i].size, workloads[i].batch)
                                       : run_rt(workloads[i].size);
            fprintf(stderr, "  %s %-5s run %d/%d: %.1f %s\n", argv[1], workloads[i].name, n + 1,
                    reps, v[n], workloads[i].unit);
        }
        qsort(v, (size_t)reps, sizeof v[0], cmp_double);
        double median = reps % 2 ? v[reps / 2] : (v[reps / 2 - 1] + v[reps / 2]) / 2;
        printf("RESULT %s %.1f\n", workloads[i].name, median);
        fflush(stdout);
    }
    return 0;
}
