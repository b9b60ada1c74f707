/* SPDX-License-Identifier: MIT */
/*
 * deflate_mem - heap bytes per connection for each permessage-deflate mode.
 *
 *   deflate_mem [N]        N connection pairs per mode (default 200)
 *
 * For each mode (disabled, takeover, no-takeover, on both sides), opens N
 * connections from our client to our server in this process over
 * 127.0.0.1, then has every pair exchange one ~1000-byte JSON text message
 * (compressed when negotiated) in four steps, measuring the heap after each:
 *
 *   handshake       N dials + N accepts done, nothing sent yet
 *   client deflate  every client wrote its message
 *   server inflate  every server read it
 *   server deflate  every server echoed it
 *   client inflate  every client read the echo
 *
 * and prints the growth per connection pair (client + server) at each step,
 * so the zlib state each side keeps between messages shows up where it is
 * made. "Heap" is mallinfo2().uordblks (bytes in use) with M_ARENA_MAX = 1 so
 * that the acceptor thread allocates from the same arena as the main thread.
 *
 * It also reports the transient peak of one wsc_write / wsc_read of a
 * message of 1 KiB and of 256 KiB on an open connection: what compressing or
 * inflating costs while it runs (in no-takeover mode the zlib state exists
 * only then). That needs malloc, free, calloc and realloc of this program to
 * count bytes (they forward to glibc's __libc_malloc and friends);
 * mallinfo2() has no peak. Not with sanitizers (their allocator replaces
 * malloc): the peaks are then "n/a".
 *
 * Then, with context takeover, the same total per pair for each window
 * size 9..15 (wsc_deflate_options.window_bits and peer_window_bits on both
 * sides, so each side compresses and inflates with it), at zlib's default
 * mem_level 8 and at mem_level window-7 (the hash table scaled down with
 * the window, as a memory-tight server would set it).
 *
 * Output: tables on stdout and machine-readable lines
 *   RESULT <mode>.<step> <bytes per pair>   RESULT <mode>.peak_<op>_<size> <bytes>
 *   RESULT takeover.bits<B>.mem<M> <bytes per pair>
 */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wsc.h"

/* ---- counting allocator ------------------------------------------------------ */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COUNTING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define COUNTING 0
#endif
#endif
#if !defined(COUNTING) && defined(__GLIBC__)
#define COUNTING 1
#endif
#ifndef COUNTING
#define COUNTING 0
#endif

static atomic_llong live_bytes, peak_bytes;
static atomic_bool counting_works;

#if COUNTING
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static void counted(void *p, long long sign)
{
    if (!p)
        return;
    long long n = sign * (long long)malloc_usable_size(p);
    long long now = atomic_fetch_add(&live_bytes, n) + n;
    long long peak = atomic_load(&peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now)) {
    }
    atomic_store(&counting_works, true);
}

#define EXPORT __attribute__((visibility("default")))
EXPORT void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    counted(p, 1);
    return p;
}
EXPORT void *calloc(size_t a, size_t b)
{
    void *p = __libc_calloc(a, b);
    counted(p, 1);
    return p;
}
EXPORT void *realloc(void *old, size_t n)
{
    counted(old, -1);
    void *p = __libc_realloc(old, n);
    if (p)
        counted(p, 1);
    else if (old && n)
        counted(old, 1); /* failed: old is still there */
    return p;
}
EXPORT void free(void *p)
{
    counted(p, -1);
    __libc_free(p);
}
EXPORT void *memalign(size_t align, size_t n)
{
    void *p = __libc_memalign(align, n);
    counted(p, 1);
    return p;
}
EXPORT void *aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}
EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    void *p = memalign(align, n);
    if (!p)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}
#endif

/* ---- helpers ------------------------------------------------------------------- */

static _Noreturn void die(const char *what, int err)
{
    fprintf(stderr, "deflate_mem: %s: %s (%s)\n", what, err < 0 ? wsc_last_error() : "",
            err < 0 ? wsc_strerror(err) : "system error");
    exit(1);
}

static long long heap(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (long long)mi.uordblks;
}

static size_t make_json(char *buf, size_t cap, unsigned n)
{
    size_t off = (size_t)snprintf(buf, cap, "{\"id\":%u,\"type\":\"order\",\"user\":{\"id\":%u,\"name\":\"user-%u\"},\"items\":[",
                                  100000 + n, 5000 + n % 97, n % 8);
    for (unsigned k = 0; k < 15; k++)
        off += (size_t)snprintf(buf + off, cap - off, "%s{\"sku\":\"SKU-%04u\",\"qty\":%u,\"price\":%u.%02u}",
                                k ? "," : "", (n * 7 + k) % 9999, 1 + (n + k) % 5, 1 + (n * 31 + k) % 90,
                                (n + k * 13) % 100);
    off += (size_t)snprintf(buf + off, cap - off, "],\"note\":\"deliver between 9 and 17\"}");
    return off;
}

/* ---- server side: accept N connections on a thread ------------------------------- */

typedef struct {
    int lfd, n;
    wsc_compression mode;
    const wsc_deflate_options *tune;
    wsc_conn **conns;
} acceptor;

static void *accept_main(void *arg)
{
    acceptor *a = arg;
    for (int i = 0; i < a->n; i++) {
        int fd = accept(a->lfd, NULL, NULL);
        if (fd < 0)
            die("accept", 0);
        wsc_accept_options o = {.compression = a->mode, .deflate = *a->tune};
        int err = wsc_accept(fd, &o, &a->conns[i]);
        if (err < 0)
            die("wsc_accept", err);
        wsc_set_read_limit(a->conns[i], -1);
    }
    return NULL;
}

static int listen_any(int *port)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
        die("listen", 0);
    *port = ntohs(sa.sin_port);
    return lfd;
}

/* Opens n pairs: clients[i] <-> servers[i]. */
static void open_pairs(int n, wsc_compression mode, const wsc_deflate_options *tune,
                       wsc_conn **clients, wsc_conn **servers)
{
    int port;
    int lfd = listen_any(&port);
    acceptor a = {.lfd = lfd, .n = n, .mode = mode, .tune = tune, .conns = servers};
    pthread_t t;
    if (pthread_create(&t, NULL, accept_main, &a) != 0)
        die("pthread_create", 0);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", port);
    wsc_dial_options o = {.compression = mode, .proxy = "", .deflate = *tune};
    for (int i = 0; i < n; i++) {
        int err = wsc_dial(url, &o, &clients[i], NULL);
        if (err < 0)
            die("wsc_dial", err);
        wsc_set_read_limit(clients[i], -1);
    }
    pthread_join(t, NULL);
    close(lfd);
}

static void read_one(wsc_conn *c, size_t want)
{
    wsc_msg_type type;
    const void *data;
    size_t len;
    int err = wsc_read(c, 10000, &type, &data, &len);
    if (err < 0)
        die("wsc_read", err);
    if (len != want) {
        fprintf(stderr, "deflate_mem: read %zu bytes, expected %zu\n", len, want);
        exit(1);
    }
}

/* ---- one mode --------------------------------------------------------------------- */

static const char *const STEPS[] = {"handshake", "client_deflate", "server_inflate", "server_deflate",
                                    "client_inflate"};
#define NSTEPS 5

typedef struct {
    double step[NSTEPS];
    long long peak_write_1k, peak_read_1k, peak_write_256k, peak_read_256k;
    double left_after_free;
} mode_result;

/* Transient heap of one write (client side) and one read (server side) of len bytes. */
static void peak_of(wsc_conn *client, wsc_conn *server, const char *msg, size_t len, long long *w, long long *r)
{
    long long base = atomic_load(&live_bytes);
    atomic_store(&peak_bytes, base);
    int err = wsc_write(client, WSC_TEXT, msg, len, 10000);
    if (err < 0)
        die("wsc_write", err);
    *w = atomic_load(&peak_bytes) - base;
    base = atomic_load(&live_bytes);
    atomic_store(&peak_bytes, base);
    read_one(server, len);
    *r = atomic_load(&peak_bytes) - base;
}

static mode_result run_mode(int n, wsc_compression mode, const wsc_deflate_options *tune)
{
    mode_result res = {0};
    wsc_conn **clients = calloc((size_t)n, sizeof *clients);
    wsc_conn **servers = calloc((size_t)n, sizeof *servers);
    char *msgs[64];
    size_t lens[64];
    for (int i = 0; i < 64; i++) {
        char buf[4096];
        lens[i] = make_json(buf, sizeof buf, (unsigned)i);
        msgs[i] = malloc(lens[i]);
        memcpy(msgs[i], buf, lens[i]);
    }
    long long h0 = heap();
    open_pairs(n, mode, tune, clients, servers);
    long long h[NSTEPS];
    h[0] = heap();
    for (int i = 0; i < n; i++) {
        int err = wsc_write(clients[i], WSC_TEXT, msgs[i % 64], lens[i % 64], 10000);
        if (err < 0)
            die("wsc_write", err);
    }
    h[1] = heap();
    for (int i = 0; i < n; i++)
        read_one(servers[i], lens[i % 64]);
    h[2] = heap();
    for (int i = 0; i < n; i++) {
        int err = wsc_write(servers[i], WSC_TEXT, msgs[i % 64], lens[i % 64], 10000);
        if (err < 0)
            die("wsc_write", err);
    }
    h[3] = heap();
    for (int i = 0; i < n; i++)
        read_one(clients[i], lens[i % 64]);
    h[4] = heap();
    long long prev = h0;
    for (int s = 0; s < NSTEPS; s++) {
        res.step[s] = (double)(h[s] - prev) / n;
        prev = h[s];
    }

    /* transient peaks on the first pair, after the exchange (state warm) */
    size_t big = 256 * 1024;
    char *bigmsg = malloc(big);
    for (size_t off = 0; off < big;) {
        size_t k = lens[off % 64] < big - off ? lens[off % 64] : big - off;
        memcpy(bigmsg + off, msgs[off % 64], k);
        off += k;
    }
    peak_of(clients[0], servers[0], msgs[1], lens[1], &res.peak_write_1k, &res.peak_read_1k);
    peak_of(clients[0], servers[0], bigmsg, big, &res.peak_write_256k, &res.peak_read_256k);
    free(bigmsg);

    for (int i = 0; i < n; i++) {
        wsc_close_now(clients[i]);
        wsc_conn_free(clients[i]);
        wsc_close_now(servers[i]);
        wsc_conn_free(servers[i]);
    }
    res.left_after_free = (double)(heap() - h0) / n;
    free(clients);
    free(servers);
    for (int i = 0; i < 64; i++)
        free(msgs[i]);
    return res;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    if (n < 1 || n > 5000) {
        fprintf(stderr, "usage: deflate_mem [N (1..5000)]\n");
        return 2;
    }
    mallopt(M_ARENA_MAX, 1);
    static const wsc_deflate_options defaults;
    /* warm up: first-use allocations (OpenSSL, name resolution) are not per connection */
    {
        wsc_conn *c, *s;
        open_pairs(1, WSC_COMPRESSION_CONTEXT_TAKEOVER, &defaults, &c, &s);
        wsc_close_now(c);
        wsc_conn_free(c);
        wsc_close_now(s);
        wsc_conn_free(s);
    }
    static const struct {
        const char *name;
        wsc_compression mode;
    } modes[] = {
        {"disabled", WSC_COMPRESSION_DISABLED},
        {"takeover", WSC_COMPRESSION_CONTEXT_TAKEOVER},
        {"no-takeover", WSC_COMPRESSION_NO_CONTEXT_TAKEOVER},
    };
    mode_result r[3];
    for (int m = 0; m < 3; m++) {
        fprintf(stderr, "  deflate_mem: %s, %d connection pairs...\n", modes[m].name, n);
        r[m] = run_mode(n, modes[m].mode, &defaults);
    }
    bool counting = atomic_load(&counting_works);
    printf("heap growth per connection pair (client + server), bytes, %d pairs, mallinfo2:\n", n);
    printf("%-12s | %9s | %9s | %9s | %9s | %9s | %9s | %9s\n", "mode", "handshake", "cl deflate", "sv inflate",
           "sv deflate", "cl inflate", "total", "after free");
    printf("-------------|-----------|------------|------------|------------|------------|-----------|-----------\n");
    for (int m = 0; m < 3; m++) {
        double total = 0;
        for (int s = 0; s < NSTEPS; s++)
            total += r[m].step[s];
        printf("%-12s | %9.0f | %10.0f | %10.0f | %10.0f | %10.0f | %9.0f | %9.0f\n", modes[m].name, r[m].step[0],
               r[m].step[1], r[m].step[2], r[m].step[3], r[m].step[4], total, r[m].left_after_free);
        for (int s = 0; s < NSTEPS; s++)
            fprintf(stdout, "RESULT %s.%s %.0f\n", modes[m].name, STEPS[s], r[m].step[s]);
        fprintf(stdout, "RESULT %s.total %.0f\n", modes[m].name, total);
    }
    printf("\ntransient heap while one message is written (compressed) / read (inflated), bytes above the\n"
           "connection's steady state%s:\n", counting ? "" : " (n/a: no counting allocator in this build)");
    printf("%-12s | %12s | %12s | %12s | %12s\n", "mode", "write 1 KiB", "read 1 KiB", "write 256 KiB",
           "read 256 KiB");
    printf("-------------|--------------|--------------|---------------|--------------\n");
    for (int m = 0; m < 3; m++) {
        if (counting) {
            printf("%-12s | %12lld | %12lld | %13lld | %12lld\n", modes[m].name, r[m].peak_write_1k, r[m].peak_read_1k,
                   r[m].peak_write_256k, r[m].peak_read_256k);
            printf("RESULT %s.peak_write_1k %lld\nRESULT %s.peak_read_1k %lld\n", modes[m].name, r[m].peak_write_1k,
                   modes[m].name, r[m].peak_read_1k);
            printf("RESULT %s.peak_write_256k %lld\nRESULT %s.peak_read_256k %lld\n", modes[m].name,
                   r[m].peak_write_256k, modes[m].name, r[m].peak_read_256k);
        } else {
            printf("%-12s | %12s | %12s | %13s | %12s\n", modes[m].name, "n/a", "n/a", "n/a", "n/a");
        }
    }

    /* Context takeover at each window size: the steady state per pair. */
    printf("\ncontext takeover, heap per connection pair after the exchange, bytes, by window bits\n"
           "(window_bits = peer_window_bits = B on both sides):\n");
    printf("%-6s | %14s | %16s\n", "B", "mem_level 8", "mem_level B-7");
    printf("-------|----------------|-----------------\n");
    for (int bits = 9; bits <= 15; bits++) {
        double total[2];
        for (int k = 0; k < 2; k++) {
            int mem = k == 0 ? 8 : bits - 7 < 1 ? 1 : bits - 7;
            wsc_deflate_options t = {.window_bits = bits, .peer_window_bits = bits, .mem_level = mem};
            fprintf(stderr, "  deflate_mem: takeover, window bits %d, mem_level %d...\n", bits, mem);
            mode_result w = run_mode(n, WSC_COMPRESSION_CONTEXT_TAKEOVER, &t);
            total[k] = 0;
            for (int s = 0; s < NSTEPS; s++)
                total[k] += w.step[s];
            printf("RESULT takeover.bits%d.mem%d %.0f\n", bits, mem, total[k]);
        }
        printf("%-6d | %14.0f | %16.0f\n", bits, total[0], total[1]);
    }
    return 0;
}
