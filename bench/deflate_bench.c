/* SPDX-License-Identifier: MIT */
/*
 * deflate_bench - permessage-deflate on a stream of JSON messages: wsc client
 * -> wsc echo server over 127.0.0.1, in one process (threads), like
 * echo_bench.
 *
 *   deflate_bench takeover|no-takeover|off [WORKLOAD...]
 *
 * Both sides use the same mode (off: compression disabled, the baseline).
 * The messages are a pool of 256 JSON orders of about 1000 bytes
 * ({"id":..,"type":"order","user":{..},"items":[..14 items..],..}), each a
 * little different (ids, prices, dates), sent in turn as text; bench/
 * ws_deflate.mjs builds the same pool for npm ws.
 *
 * Workloads:
 *   stream   one thread writes the messages back to back while another reads
 *            the echoes, for BENCH_SECONDS: echoed messages/s and MB/s of
 *            payload (10^6 B/s), and the compression ratio of each direction:
 *            bytes on the wire / payload bytes, handshake and frame headers
 *            included (1.0 = no saving). Wire bytes are what the sending
 *            socket's TCP_INFO says the peer acknowledged (tcpi_bytes_acked;
 *            tcpi_bytes_received of the receiver proved less exact), the
 *            server's socket for the echoes.
 *   rt       round trips/s with one message in flight (compression latency).
 *
 * Each run lasts BENCH_SECONDS (default 1), BENCH_REPS runs (default 5), the
 * median is reported. Progress goes to stderr; stdout gets
 *   RESULT msgs <messages/s>   RESULT mbs <MB/s>   RESULT up <ratio>
 *   RESULT down <ratio>        RESULT rt <round trips/s>
 *   RESULT pool <32-bit FNV-1a of the pool, decimal>  (ws_deflate.mjs prints
 *                                                      the same: same messages)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
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

#define POOL 256

static wsc_compression mode;
static int port;
static bool external;  /* DEFLATE_BENCH_PORT: someone else's server */
static double seconds = 1.0;
static int reps = 5;
static char *pool[POOL];
static size_t pool_len[POOL];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static _Noreturn void die(const char *what, int err)
{
    if (err < 0)
        fprintf(stderr, "deflate_bench: %s: %s (%s)\n", what, wsc_last_error(), wsc_strerror(err));
    else
        fprintf(stderr, "deflate_bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ---- the messages ---------------------------------------------------------- */

static size_t make_json(char *buf, size_t cap, unsigned n)
{
    static const char *const names[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"};
    static const char *const status[] = {"pending", "paid", "shipped", "delivered"};
    static const char *const skus[] = {"BK-1042", "PN-2210", "MG-0007", "TS-3141", "CB-2718", "HD-9001"};
    size_t off = (size_t)snprintf(buf, cap,
        "{\"id\":%u,\"type\":\"order\",\"user\":{\"id\":%u,\"name\":\"%s\",\"email\":\"%s@example.com\"},"
        "\"created\":\"2024-05-%02uT%02u:%02u:%02uZ\",\"status\":\"%s\",\"items\":[",
        100000 + n, 5000 + n % 97, names[n % 8], names[n % 8], n % 28 + 1, n % 24, n * 7 % 60,
        n * 13 % 60, status[n % 4]);
    unsigned total = 0;
    for (unsigned k = 0; k < 14; k++) {
        unsigned price = 199 + (n * 31 + k * 17) % 5000, qty = 1 + (n + k) % 5;
        off += (size_t)snprintf(buf + off, cap - off,
                                "%s{\"sku\":\"%s\",\"qty\":%u,\"price\":%u.%02u,\"gift\":%s}", k ? "," : "",
                                skus[(n + k) % 6], qty, price / 100, price % 100,
                                (n + k) % 3 ? "false" : "true");
        total += qty * price;
    }
    off += (size_t)snprintf(buf + off, cap - off,
                            "],\"total\":%u.%02u,\"currency\":\"EUR\","
                            "\"notes\":\"deliver between 9 and 17, ring twice\",\"tags\":[\"web\",\"priority-%u\"]}",
                            total / 100, total % 100, n % 3);
    return off;
}

static uint32_t make_pool(void)
{
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < POOL; i++) {
        char buf[4096];
        pool_len[i] = make_json(buf, sizeof buf, i);
        pool[i] = malloc(pool_len[i]);
        memcpy(pool[i], buf, pool_len[i]);
        for (size_t k = 0; k < pool_len[i]; k++)
            h = (h ^ (uint8_t)buf[k]) * 16777619u;
    }
    return h;
}

/* Bytes the peer acknowledged on a socket. */
static uint64_t bytes_acked(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        die("getsockopt TCP_INFO", 0);
    return ti.tcpi_bytes_acked;
}

/* ---- server ------------------------------------------------------------------ */

/* What the last finished server connection sent: bytes acked by the client,
 * and payload bytes written (the client stops reading at its close, so it
 * cannot count the echoes itself). */
static pthread_mutex_t server_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t server_cv = PTHREAD_COND_INITIALIZER;
static unsigned server_done;
static uint64_t server_sent, server_payload;

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    wsc_conn *c;
    wsc_accept_options opts = {.compression = mode};
    int err = wsc_accept(fd, &opts, &c);
    if (err < 0) {
        fprintf(stderr, "deflate_bench: server accept: %s (%s)\n", wsc_last_error(), wsc_strerror(err));
        close(fd);
        return NULL;
    }
    uint64_t acked0 = bytes_acked(fd), payload = 0;
    wsc_set_read_limit(c, -1);
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
        payload += len;
    }
    if (err != WSC_ECLOSED)
        fprintf(stderr, "deflate_bench: server: %s (%s)\n", wsc_last_error(), wsc_strerror(err));
    usleep(2000); /* let the last ACK come back */
    uint64_t sent = bytes_acked(fd) - acked0;
    wsc_conn_free(c);
    pthread_mutex_lock(&server_mu);
    server_sent = sent;
    server_payload = payload;
    server_done++;
    pthread_cond_broadcast(&server_cv);
    pthread_mutex_unlock(&server_mu);
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

/* ---- client -------------------------------------------------------------------- */

static wsc_conn *client_connect(void)
{
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", port);
    wsc_dial_options opts = {.compression = mode, .proxy = ""};
    wsc_conn *c;
    int err = wsc_dial(url, &opts, &c, NULL);
    if (err < 0)
        die("dial", err);
    wsc_set_read_limit(c, -1);
    bool want = mode != WSC_COMPRESSION_DISABLED;
    if (want != (wsc_extensions(c)[0] != '\0')) {
        fprintf(stderr, "deflate_bench: negotiated \"%s\" in mode %d\n", wsc_extensions(c), (int)mode);
        exit(1);
    }
    return c;
}

typedef struct {
    wsc_conn *c;
    atomic_bool stop;
    uint64_t payload;  /* bytes of messages written */
} stream_job;

static void *stream_writer(void *arg)
{
    stream_job *j = arg;
    for (unsigned i = 0; !atomic_load(&j->stop); i++) {
        int err = wsc_write(j->c, WSC_TEXT, pool[i % POOL], pool_len[i % POOL], -1);
        if (err < 0)
            die("write", err);
        j->payload += pool_len[i % POOL];
    }
    int err = wsc_close(j->c, WSC_STATUS_NORMAL_CLOSURE, "");
    if (err < 0)
        die("close", err);
    return NULL;
}

typedef struct {
    double msgs, mbs, up, down;
} stream_result;

static stream_result run_stream(void)
{
    pthread_mutex_lock(&server_mu);
    unsigned done0 = server_done;
    pthread_mutex_unlock(&server_mu);
    wsc_conn *c = client_connect();
    uint64_t s0 = bytes_acked(wsc_fd(c));
    stream_job j = {.c = c};
    atomic_init(&j.stop, false);
    pthread_t w;
    stream_result res = {-1, -1, 0, 0};
    double t0 = now(), t;
    if (pthread_create(&w, NULL, stream_writer, &j) != 0)
        die("pthread_create", 0);
    uint64_t bytes = 0, msgs = 0;
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        int err = wsc_read(c, -1, &type, &data, &len);
        if (err == WSC_ECLOSED)
            break;
        if (err < 0)
            die("read", err);
        bytes += len;
        msgs++;
        if (res.msgs < 0 && (t = now()) - t0 >= seconds) {
            res.msgs = (double)msgs / (t - t0);
            res.mbs = (double)bytes / (t - t0) / 1e6;
            atomic_store(&j.stop, true);
        }
    }
    pthread_join(w, NULL);
    if (res.msgs < 0) {
        fprintf(stderr, "deflate_bench: the stream ended early\n");
        exit(1);
    }
    usleep(2000);
    res.up = (double)(bytes_acked(wsc_fd(c)) - s0) / (double)j.payload;
    wsc_conn_free(c);
    if (external) {
        res.down = 0; /* not our server: not measured */
        return res;
    }
    pthread_mutex_lock(&server_mu);
    while (server_done == done0)
        pthread_cond_wait(&server_cv, &server_mu);
    res.down = (double)server_sent / (double)server_payload;
    pthread_mutex_unlock(&server_mu);
    return res;
}

static double run_rt(void)
{
    wsc_conn *c = client_connect();
    long n = 0;
    double t0 = now(), t;
    do {
        unsigned i = (unsigned)n % POOL;
        int err = wsc_write(c, WSC_TEXT, pool[i], pool_len[i], -1);
        if (err < 0)
            die("write", err);
        wsc_msg_type type;
        const void *data;
        size_t len;
        err = wsc_read(c, -1, &type, &data, &len);
        if (err < 0)
            die("read", err);
        if (len != pool_len[i] || memcmp(data, pool[i], len) != 0) {
            fprintf(stderr, "deflate_bench: bad echo of message %u\n", i);
            exit(1);
        }
        n++;
    } while ((t = now()) - t0 < seconds);
    int err = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
    if (err < 0)
        die("close", err);
    wsc_conn_free(c);
    return (double)n / (t - t0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
    usage:
        fprintf(stderr, "usage: deflate_bench takeover|no-takeover|off [stream] [rt]\n");
        return 2;
    }
    if (strcmp(argv[1], "takeover") == 0)
        mode = WSC_COMPRESSION_CONTEXT_TAKEOVER;
    else if (strcmp(argv[1], "no-takeover") == 0)
        mode = WSC_COMPRESSION_NO_CONTEXT_TAKEOVER;
    else if (strcmp(argv[1], "off") == 0)
        mode = WSC_COMPRESSION_DISABLED;
    else
        goto usage;
    bool do_stream = argc == 2, do_rt = argc == 2;
    for (int a = 2; a < argc; a++) {
        if (strcmp(argv[a], "stream") == 0)
            do_stream = true;
        else if (strcmp(argv[a], "rt") == 0)
            do_rt = true;
        else
            goto usage;
    }
    const char *s = getenv("BENCH_SECONDS"), *r = getenv("BENCH_REPS");
    if (s && atof(s) > 0)
        seconds = atof(s);
    if (r && atoi(r) > 0)
        reps = atoi(r) > 15 ? 15 : atoi(r);
    uint32_t h = make_pool();
    size_t total = 0;
    for (int i = 0; i < POOL; i++)
        total += pool_len[i];
    fprintf(stderr, "  pool: %d JSON messages, %zu bytes on average, fnv %08x\n", POOL, total / POOL, h);
    printf("RESULT pool %u\n", h);
    /* DEFLATE_BENCH_PORT: dial an echo server already listening there (for
     * looking at the traffic through a relay) instead of our own. */
    const char *ext_port = getenv("DEFLATE_BENCH_PORT");
    if (ext_port && atoi(ext_port) > 0)
        port = atoi(ext_port), external = true;
    else
        start_server();

    if (do_stream) {
        double msgs[15], mbs[15], up[15], down[15];
        for (int n = 0; n < reps; n++) {
            stream_result x = run_stream();
            msgs[n] = x.msgs, mbs[n] = x.mbs, up[n] = x.up, down[n] = x.down;
            fprintf(stderr, "  wsc %-11s stream run %d/%d: %.0f msgs/s, %.1f MB/s, wire/payload %.3f up %.3f down\n",
                    argv[1], n + 1, reps, x.msgs, x.mbs, x.up, x.down);
        }
        printf("RESULT msgs %.0f\nRESULT mbs %.1f\nRESULT up %.4f\nRESULT down %.4f\n", median(msgs, reps),
               median(mbs, reps), median(up, reps), median(down, reps));
        fflush(stdout);
    }
    if (do_rt) {
        double v[15];
        for (int n = 0; n < reps; n++) {
            v[n] = run_rt();
            fprintf(stderr, "  wsc %-11s rt run %d/%d: %.0f round trips/s\n", argv[1], n + 1, reps, v[n]);
        }
        printf("RESULT rt %.0f\n", median(v, reps));
        fflush(stdout);
    }
    return 0;
}
