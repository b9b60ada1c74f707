/* SPDX-License-Identifier: MIT */
/*
 * conns_bench - what connections cost a server: idle memory per connection
 * and new connections per second.
 *
 *   conns_bench N SERVER_COMMAND...
 *
 * Starts the server command (it must print a line with "listening" or
 * "serving" and 127.0.0.1:PORT, as `wsc --listen 127.0.0.1:0 --echo` and the
 * chat demo's server do) and:
 *
 *   idle   opens N WebSocket connections (raw sockets: the upgrade request,
 *          the 101 read) and keeps them open; the server's VmRSS after the
 *          first 100 and after all N gives the memory per idle connection
 *   conns  for BENCH_SECONDS (default 1), one connection after another: TCP
 *          connect, upgrade, a close frame and the server's close frame, TCP
 *          close; BENCH_REPS (default 3) runs, the median is kept. The
 *          server may send messages first (the chat server's "joined"):
 *          they are read until its close frame.
 *
 * N = 0 skips the idle test. BENCH_PATH (default /bench) is the request
 * target (the chat server's is /ws).
 * With BENCH_TLS=1 every connection is TLS first (OpenSSL, no certificate
 * check: the server is ours), for a server started with its certificate;
 * with BENCH_TLS_RESUME=1 too, each connection offers the TLS session of
 * the one before (the bench fails if the server resumes none).
 *
 * Output: progress on stderr; on stdout
 *   RESULT idle_kib_per_conn <KiB>    RESULT conns_per_s <n>
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "server_proc.h"

static char request[512];
static int request_len;

/* A masked close frame with code 1000 (the mask is zero: the payload as is). */
static const unsigned char CLOSE[] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}


static SSL_CTX *tls_ctx; /* BENCH_TLS=1 */
static bool tls_resume;  /* BENCH_TLS_RESUME=1 */
static SSL_SESSION *tls_session; /* the last connection's, for the next */
static long tls_resumed; /* connections the server resumed */

typedef struct {
    int fd;
    SSL *ssl;   /* NULL: plain */
    SSL_SESSION *offered; /* the copy of tls_session it offered (ssl's) */
} link_t;

/* Offers a copy of tls_session on ssl (the kept one is never used, so
 * never spoiled). */
static bool offer_session(link_t *l)
{
    l->offered = tls_session ? SSL_SESSION_dup(tls_session) : NULL;
    bool ok = !l->offered || SSL_set_session(l->ssl, l->offered);
    SSL_SESSION_free(l->offered); /* ssl holds it */
    return ok;
}

static ssize_t link_send(link_t *l, const void *p, size_t n)
{
    return l->ssl ? SSL_write(l->ssl, p, (int)n) : send(l->fd, p, n, MSG_NOSIGNAL);
}

static ssize_t link_recv(link_t *l, void *p, size_t n)
{
    return l->ssl ? SSL_read(l->ssl, p, (int)n) : recv(l->fd, p, n, 0);
}

static void link_close(link_t *l)
{
    /* A new session (the server's tickets) replaces the one kept; a copy,
     * as SSL_free below spoils the SSL's own. */
    SSL_SESSION *sess = tls_resume && l->ssl ? SSL_get1_session(l->ssl) : NULL;
    if (sess && sess != l->offered && SSL_SESSION_is_resumable(sess)) {
        SSL_SESSION_free(tls_session);
        tls_session = SSL_SESSION_dup(sess);
    }
    SSL_SESSION_free(sess);
    if (l->ssl)
        SSL_free(l->ssl);
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    l->ssl = NULL;
}

/* Connects (TLS too with BENCH_TLS=1) and upgrades; false on failure.
 * What came after the 101 is left in buf[0..*extra). */
static bool upgrade(int port, link_t *l, char *buf, size_t cap, size_t *extra)
{
    l->ssl = NULL;
    l->offered = NULL;
    l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (l->fd < 0 || connect(l->fd, (struct sockaddr *)&a, sizeof a) < 0)
        goto fail;
    if (tls_ctx && (!(l->ssl = SSL_new(tls_ctx)) || !SSL_set_fd(l->ssl, l->fd) ||
                    !offer_session(l) ||
                    SSL_connect(l->ssl) != 1))
        goto fail;
    if (l->ssl && SSL_session_reused(l->ssl))
        tls_resumed++;
    if (link_send(l, request, (size_t)request_len) != request_len)
        goto fail;
    /* Read whole, in as few receives as it comes in. */
    size_t n = 0;
    char *end;
    while (n < 4 || !(end = memmem(buf, n, "\r\n\r\n", 4))) {
        ssize_t r = link_recv(l, buf + n, cap - n);
        if (r <= 0 || (n += (size_t)r) == cap)
            goto fail;
    }
    if (strncmp(buf, "HTTP/1.1 101", 12) == 0) {
        *extra = n - (size_t)(end + 4 - buf);
        memmove(buf, end + 4, *extra);
        return true;
    }
fail:
    link_close(l);
    return false;
}

/* Reads the server's frames (unmasked, payloads under 64 KiB) until its
 * close frame: true when it came. */
static bool read_until_close(link_t *l, unsigned char *buf, size_t cap, size_t have)
{
    for (;;) {
        size_t hlen = 2, len = have >= 2 ? buf[1] & 0x7f : 0;
        if (len == 126) {
            hlen = 4;
            len = have >= 4 ? (size_t)buf[2] << 8 | buf[3] : 0;
        } else if (len == 127) {
            return false;
        }
        if (have >= hlen && have >= hlen + len) {
            if ((buf[0] & 0x0f) == 0x8)
                return true;
            memmove(buf, buf + hlen + len, have - hlen - len);
            have -= hlen + len;
            continue;
        }
        ssize_t r = link_recv(l, buf + have, cap - have);
        if (r <= 0)
            return false;
        have += (size_t)r;
    }
}

/* One whole connection: upgrade, close handshake, TCP close. */
static int one_connection(int port)
{
    link_t l;
    static char buf[65536];
    size_t have;
    if (!upgrade(port, &l, buf, sizeof buf, &have))
        return -1;
    bool ok = link_send(&l, CLOSE, sizeof CLOSE) == (ssize_t)sizeof CLOSE &&
              read_until_close(&l, (unsigned char *)buf, sizeof buf, have);
    link_close(&l);
    return ok ? 0 : -1;
}

/* The idle test: n connections opened and left open; the server's RSS
 * after the first 100 and after all. 0, or -1 if a connection failed. */
static int idle_test(int port, int n, pid_t pid)
{
    link_t *links = calloc((size_t)n, sizeof *links);
    long before = 0;
    int made = 0, r = 0;
    for (; made < n; made++) {
        char buf[1024];
        size_t extra;
        if (!upgrade(port, &links[made], buf, sizeof buf, &extra)) {
            fprintf(stderr, "conns_bench: connection %d failed: %s\n", made + 1, strerror(errno));
            r = -1;
            break;
        }
        if (made == 99) {
            usleep(200000);
            before = rss_kib(pid);
        }
        if ((made + 1) % 2000 == 0)
            fprintf(stderr, "  %d connections open\n", made + 1);
    }
    if (r == 0) {
        usleep(500000);
        long after = rss_kib(pid);
        double per = (double)(after - before) / (n - 100);
        fprintf(stderr, "  server RSS %ld KiB after 100, %ld KiB after %d: %.2f KiB per connection\n",
                before, after, n, per);
        printf("RESULT idle_kib_per_conn %.2f\n", per);
    }
    for (int i = 0; i < made; i++)
        link_close(&links[i]);
    free(links);
    usleep(500000);
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: conns_bench N SERVER_COMMAND...\n");
        return 2;
    }
    int n = atoi(argv[1]);
    double seconds = getenv("BENCH_SECONDS") ? atof(getenv("BENCH_SECONDS")) : 1;
    int reps = getenv("BENCH_REPS") ? atoi(getenv("BENCH_REPS")) : 3;
    if ((n != 0 && n <= 100) || reps < 1 || reps > 99) {
        fprintf(stderr, "conns_bench: N must be 0 or over 100, BENCH_REPS 1-99\n");
        return 2;
    }
    const char *path = getenv("BENCH_PATH") ? getenv("BENCH_PATH") : "/bench";
    request_len = snprintf(request, sizeof request,
                           "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n", path);
    if (request_len >= (int)sizeof request) {
        fprintf(stderr, "conns_bench: BENCH_PATH is too long\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)n + 64 > rl.rlim_cur) {
        fprintf(stderr, "conns_bench: %d connections need more open files than the limit (%lu)\n", n,
                (unsigned long)rl.rlim_cur);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (getenv("BENCH_TLS") && strcmp(getenv("BENCH_TLS"), "1") == 0) {
        tls_ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_mode(tls_ctx, SSL_MODE_RELEASE_BUFFERS);
        /* the session follows the server's tickets (tls_resume) */
        SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        tls_resume = getenv("BENCH_TLS_RESUME") && strcmp(getenv("BENCH_TLS_RESUME"), "1") == 0;
    }

    int port;
    pid_t pid = server_start(argv + 2, &port);
    if (pid < 0) {
        fprintf(stderr, "conns_bench: the server did not say where it listens: %s\n", argv[2]);
        return 1;
    }
    if (n > 0 && idle_test(port, n, pid) < 0) {
        server_stop(pid);
        return 1;
    }

    double rates[99];
    for (int r = 0; r < reps; r++) {
        long count = 0;
        double start = now_s(), t;
        while ((t = now_s()) - start < seconds) {
            if (one_connection(port) < 0) {
                fprintf(stderr, "conns_bench: a connection failed: %s\n", strerror(errno));
                server_stop(pid);
                return 1;
            }
            count++;
        }
        rates[r] = count / (t - start);
        fprintf(stderr, "  run %d: %.0f connections/s\n", r + 1, rates[r]);
    }
    qsort(rates, (size_t)reps, sizeof rates[0], cmp_double);
    server_stop(pid);
    if (tls_resume && tls_resumed == 0) {
        fprintf(stderr, "conns_bench: BENCH_TLS_RESUME=1, but the server resumed no TLS session\n");
        return 1;
    }
    if (tls_resume)
        fprintf(stderr, "  %ld connections resumed their TLS session\n", tls_resumed);
    printf("RESULT conns_per_s %.0f\n", rates[reps / 2]);
    return 0;
}
