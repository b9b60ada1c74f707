/* SPDX-License-Identifier: MIT */
/*
 * tls_check - checks of wsc over TLS that need more than the scripted client:
 * deadlines, timeout 0 and a poll loop, a nonblocking dial, concurrent
 * threads, wsc_close_now, and accept failures. Client and server run in this
 * process over 127.0.0.1. tests/interop/tls.test.mjs runs it with a
 * generated PKI in the environment:
 *
 *   WSC_TLS_CA=ca.pem WSC_TLS_CERT=server.pem WSC_TLS_KEY=server.key tls_check
 *
 * and optionally WSC_TLS_OTHER_KEY (a key of another certificate) and
 * WSC_TLS_OTHER_CA (an unrelated CA) for the checks that need them.
 *
 * Prints "file:line: FAIL what" per failed check, then "tls_check: N checks
 * passed" (exit 0) or "tls_check: K of N checks FAILED" (exit 1). Exit 2:
 * the environment is missing.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wsc.h"
#include "../unit/check.h"

static wsc_tls_server *g_tls;
static const char *g_ca;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- a one-connection server on its own thread ----------------------------- */

typedef struct server server;
typedef void (*serve_fn)(server *s, wsc_conn *c);

struct server {
    int lfd, port;
    serve_fn serve;
    int accept_timeout_ms;
    int accept_err;               /* what wsc_accept returned */
    char accept_detail[300];
    int fd_open_after_fail;       /* fcntl worked on fd after a failed accept */
    long count;                   /* serve functions' results */
    unsigned long hash;
    pthread_t thread;
};

static void *server_main(void *arg)
{
    server *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    wsc_accept_options o = {.tls = g_tls, .handshake_timeout_ms = s->accept_timeout_ms};
    wsc_conn *c;
    s->accept_err = wsc_accept(fd, &o, &c);
    if (s->accept_err < 0) {
        snprintf(s->accept_detail, sizeof s->accept_detail, "%s", wsc_last_error());
        s->fd_open_after_fail = fcntl(fd, F_GETFD) >= 0;
        close(fd);
        return NULL;
    }
    wsc_set_read_limit(c, -1);
    if (s->serve)
        s->serve(s, c);
    wsc_conn_free(c);
    return NULL;
}

static void server_start(server *s, serve_fn serve, int accept_timeout_ms)
{
    memset(s, 0, sizeof *s);
    s->serve = serve;
    s->accept_timeout_ms = accept_timeout_ms;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->lfd, 4) < 0 ||
        getsockname(s->lfd, (struct sockaddr *)&a, &alen) < 0) {
        perror("tls_check: listen");
        exit(1);
    }
    s->port = ntohs(a.sin_port);
    pthread_create(&s->thread, NULL, server_main, s);
}

static void server_join(server *s)
{
    pthread_join(s->thread, NULL);
    close(s->lfd);
}

static wsc_conn *dial(server *s, bool nonblocking)
{
    char url[64];
    snprintf(url, sizeof url, "wss://localhost:%d/", s->port);
    wsc_dial_options o = {.nonblocking = nonblocking};
    o.tls.ca_file = g_ca;
    wsc_conn *c = NULL;
    int r = wsc_dial(url, &o, &c, NULL);
    CHECKF(r == 0, "dial %s: %s %s", url, wsc_strerror(r), wsc_last_error());
    if (c)
        wsc_set_read_limit(c, -1);
    return c;
}

/* Reads until the connection ends (for servers whose peer closes). */
static void read_to_end(wsc_conn *c)
{
    wsc_msg_type type;
    const void *data;
    size_t len;
    while (wsc_read(c, 10000, &type, &data, &len) == 0) {
    }
}

static void serve_drain(server *s, wsc_conn *c)
{
    (void)s;
    read_to_end(c);
}

static void serve_echo(server *s, wsc_conn *c)
{
    (void)s;
    wsc_msg_type type;
    const void *data;
    size_t len;
    while (wsc_read(c, 10000, &type, &data, &len) == 0)
        if (wsc_write(c, type, data, len, 10000) != 0)
            break;
}

/* ---- deadlines: a read times out, then a later read gets the message -------- */

static void serve_late(server *s, wsc_conn *c)
{
    (void)s;
    sleep_ms(400);
    wsc_write(c, WSC_TEXT, "late", 4, 5000);
    read_to_end(c);
}

static void check_read_timeout(void)
{
    server s;
    server_start(&s, serve_late, 0);
    wsc_conn *c = dial(&s, false);
    if (c) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        int r = wsc_read(c, 0, &type, &data, &len);
        CHECKF(r == WSC_EAGAIN, "a timeout-0 read with nothing sent: WSC_EAGAIN (%s)", wsc_strerror(r));
        int64_t t0 = now_ms();
        r = wsc_read(c, 100, &type, &data, &len);
        int64_t took = now_ms() - t0;
        CHECKF(r == WSC_ETIMEDOUT, "a 100 ms read times out (%s)", wsc_strerror(r));
        CHECKF(took >= 90 && took < 350, "it took about 100 ms (%lld)", (long long)took);
        r = wsc_read(c, 5000, &type, &data, &len);
        CHECKF(r == 0 && len == 4 && memcmp(data, "late", 4) == 0,
               "the next read gets the late message (%s %s)", wsc_strerror(r), wsc_last_error());
        r = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
        CHECKF(r == 0, "close (%s %s)", wsc_strerror(r), wsc_last_error());
        wsc_conn_free(c);
    }
    server_join(&s);
}

/* ---- a nonblocking dial and a poll loop with timeout 0 ---------------------- */

/* Polls c's fd the way the header says to, for up to ms. */
static void poll_conn(wsc_conn *c, int ms)
{
    struct pollfd p = {.fd = wsc_fd(c), .events = (short)wsc_poll_events(c)};
    poll(&p, 1, ms);
}

static void check_poll_loop(void)
{
    server s;
    server_start(&s, serve_echo, 0);
    wsc_conn *c = dial(&s, true);
    if (!c) {
        server_join(&s);
        return;
    }
    int steps = 0;
    int64_t slowest = 0, deadline = now_ms() + 5000;
    wsc_state st;
    for (;;) {
        int64_t t0 = now_ms();
        st = wsc_get_state(c);
        if (now_ms() - t0 > slowest)
            slowest = now_ms() - t0;
        if (st != WSC_STATE_CONNECTING || now_ms() > deadline)
            break;
        steps++;
        poll_conn(c, 100);
    }
    CHECKF(st == WSC_STATE_OPEN, "the nonblocking wss dial opens (%d: %s)", st, wsc_last_error());
    /* 0 when a fast handshake (EC keys, an idle machine) was done by the
     * first call: no wait at all is no spin either. */
    CHECKF(steps < 50, "it took wsc_get_state calls, each after a wake-up for "
           "what the handshake waits for, not a spin (%d)", steps);
    CHECKF(slowest < 50, "none of them blocked (slowest %lld ms)", (long long)slowest);

    /* Many messages out with timeout 0; the echoes read in the same loop. */
    enum { N = 200, SIZE = 3000 };
    static uint8_t msg[SIZE];
    int sent = 0, got = 0, bad = 0;
    deadline = now_ms() + 10000;
    while (got < N && now_ms() < deadline) {
        while (sent < N) {
            memset(msg, sent & 0xff, sizeof msg);
            if (wsc_write(c, WSC_BINARY, msg, sizeof msg, 0) != 0)
                break;
            sent++;
        }
        if (wsc_want_write(c))
            wsc_flush(c, 0);
        for (;;) { /* read until WSC_EAGAIN before polling again */
            wsc_msg_type type;
            const void *data;
            size_t len;
            int r = wsc_read(c, 0, &type, &data, &len);
            if (r == WSC_EAGAIN)
                break;
            if (r != 0) {
                CHECKF(0, "a timeout-0 read failed: %s %s", wsc_strerror(r), wsc_last_error());
                got = N;
                break;
            }
            bad += len != SIZE || ((const uint8_t *)data)[0] != (got & 0xff) ||
                   ((const uint8_t *)data)[SIZE - 1] != (got & 0xff);
            got++;
        }
        poll_conn(c, 100);
    }
    CHECKF(got == N && bad == 0, "%d echoes came back in a poll loop (%d, %d wrong)", N, got, bad);
    CHECK(!wsc_want_write(c), "nothing left to write");
    int r = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
    CHECKF(r == 0, "close (%s %s)", wsc_strerror(r), wsc_last_error());
    wsc_conn_free(c);
    server_join(&s);
}

/* ---- timeout-0 writes into a full socket: kept, flushed, intact ------------ */

enum { BIG_N = 160, BIG_SIZE = 65536 };

static unsigned long fnv(unsigned long h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = ((h ^ p[i]) * 16777619UL) & 0xffffffffUL;
    return h;
}

static void serve_slow(server *s, wsc_conn *c)
{
    sleep_ms(500); /* let the client fill the socket */
    s->hash = 2166136261UL;
    wsc_msg_type type;
    const void *data;
    size_t len;
    while (s->count < BIG_N && wsc_read(c, 10000, &type, &data, &len) == 0) {
        s->hash = fnv(s->hash, data, len);
        s->count++;
    }
    wsc_write(c, WSC_TEXT, "done", 4, 5000);
    read_to_end(c);
}

static void check_nowait_writes(void)
{
    server s;
    server_start(&s, serve_slow, 0);
    wsc_conn *c = dial(&s, false);
    if (!c) {
        server_join(&s);
        return;
    }
    uint8_t *msg = malloc(BIG_SIZE);
    unsigned long h = 2166136261UL;
    int eagain = 0, pending = 0, failed = 0;
    int64_t deadline = now_ms() + 15000;
    for (int i = 0; i < BIG_N && now_ms() < deadline;) {
        for (int k = 0; k < BIG_SIZE; k++)
            msg[k] = (uint8_t)(i * 7 + k);
        int r = wsc_write(c, WSC_BINARY, msg, BIG_SIZE, 0);
        if (r == 0) {
            h = fnv(h, msg, BIG_SIZE);
            i++;
            pending += wsc_want_write(c);
            continue;
        }
        if (r != WSC_EAGAIN) {
            failed = r;
            break;
        }
        eagain++;
        poll_conn(c, 100);
        wsc_flush(c, 0);
    }
    while (wsc_want_write(c) && now_ms() < deadline) {
        poll_conn(c, 100);
        wsc_flush(c, 0);
    }
    CHECKF(failed == 0, "timeout-0 writes never fail (%s %s)", wsc_strerror(failed), wsc_last_error());
    CHECKF(eagain > 0 && pending > 0, "the socket filled up (%d WSC_EAGAIN, %d writes left bytes pending)",
           eagain, pending);
    CHECK(!wsc_want_write(c), "all flushed");
    wsc_msg_type type;
    const void *data;
    size_t len;
    int r = wsc_read(c, 10000, &type, &data, &len);
    CHECKF(r == 0 && len == 4, "the server read everything (%s %s)", wsc_strerror(r), wsc_last_error());
    wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
    wsc_conn_free(c);
    server_join(&s);
    CHECKF(s.count == BIG_N && s.hash == h, "the server got %d intact messages (%ld, hash %s)", BIG_N,
           s.count, s.hash == h ? "equal" : "differs");
    free(msg);
}

/* ---- a writer thread and a reader thread on one connection ----------------- */

enum { THR_N = 3000 };

static size_t thr_size(int i)
{
    return (size_t)((i * 7919) % 40000) + 1;
}

static void *writer_thread(void *arg)
{
    wsc_conn *c = arg;
    uint8_t *buf = malloc(40001);
    for (int i = 0; i < THR_N; i++) {
        memset(buf, i & 0xff, thr_size(i));
        if (wsc_write(c, WSC_BINARY, buf, thr_size(i), 10000) != 0) {
            CHECKF(0, "threaded write %d: %s", i, wsc_last_error());
            break;
        }
    }
    free(buf);
    return NULL;
}

static void check_threads(void)
{
    server s;
    server_start(&s, serve_echo, 0);
    wsc_conn *c = dial(&s, false);
    if (!c) {
        server_join(&s);
        return;
    }
    pthread_t w;
    pthread_create(&w, NULL, writer_thread, c);
    int got = 0, bad = 0;
    for (; got < THR_N; got++) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        int r = wsc_read(c, 10000, &type, &data, &len);
        if (r != 0) {
            CHECKF(0, "threaded read %d: %s %s", got, wsc_strerror(r), wsc_last_error());
            break;
        }
        const uint8_t *p = data;
        bad += len != thr_size(got) || p[0] != (got & 0xff) || p[len - 1] != (got & 0xff);
    }
    pthread_join(w, NULL);
    CHECKF(got == THR_N && bad == 0, "a writer and a reader thread: %d echoes intact (%d, %d wrong)",
           THR_N, got, bad);
    int r = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
    CHECKF(r == 0, "close (%s %s)", wsc_strerror(r), wsc_last_error());
    wsc_conn_free(c);
    server_join(&s);
}

/* ---- wsc_close_now wakes a reader blocked without deadline ------------------ */

typedef struct {
    wsc_conn *c;
    int r;
    int64_t done;
} blocked_read;

static void *blocked_reader(void *arg)
{
    blocked_read *b = arg;
    wsc_msg_type type;
    const void *data;
    size_t len;
    b->r = wsc_read(b->c, -1, &type, &data, &len);
    b->done = now_ms();
    return NULL;
}

static void check_close_now(void)
{
    server s;
    server_start(&s, serve_drain, 0);
    wsc_conn *c = dial(&s, false);
    if (!c) {
        server_join(&s);
        return;
    }
    blocked_read b = {.c = c};
    pthread_t t;
    pthread_create(&t, NULL, blocked_reader, &b);
    sleep_ms(200);
    int64_t t0 = now_ms();
    wsc_close_now(c);
    pthread_join(t, NULL);
    CHECKF(b.r == WSC_ECLOSED, "the blocked reader gets WSC_ECLOSED (%s)", wsc_strerror(b.r));
    CHECKF(b.done - t0 < 1000, "within a second (%lld ms)", (long long)(b.done - t0));
    wsc_conn_free(c);
    server_join(&s);
}

/* ---- accept failures: fd left open, clear errors ---------------------------- */

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("tls_check: connect");
        exit(1);
    }
    return fd;
}

static void check_accept_failures(void)
{
    /* A client that connects and says nothing. */
    server s;
    server_start(&s, NULL, 300);
    int fd = raw_connect(s.port);
    int64_t t0 = now_ms();
    server_join(&s);
    int64_t took = now_ms() - t0;
    CHECKF(s.accept_err == WSC_ETIMEDOUT, "a silent client: WSC_ETIMEDOUT (%s %s)",
           wsc_strerror(s.accept_err), s.accept_detail);
    CHECKF(strstr(s.accept_detail, "TLS handshake") != NULL, "the detail names the TLS handshake (%s)",
           s.accept_detail);
    CHECKF(took >= 250 && took < 2000, "after the 300 ms handshake timeout (%lld ms)", (long long)took);
    CHECK(s.fd_open_after_fail, "the socket is left open for the caller");
    close(fd);

    /* Plain HTTP on the TLS port. */
    server_start(&s, NULL, 2000);
    fd = raw_connect(s.port);
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n";
    send(fd, req, sizeof req - 1, MSG_NOSIGNAL);
    server_join(&s);
    CHECKF(s.accept_err == WSC_ETLS && strstr(s.accept_detail, "http request"),
           "plain HTTP: WSC_ETLS naming it (%s %s)", wsc_strerror(s.accept_err), s.accept_detail);
    CHECK(s.fd_open_after_fail, "the socket is left open for the caller");
    close(fd);

    /* Bad server options. */
    wsc_tls_server *bad;
    wsc_tls_options o = {.cert_file = getenv("WSC_TLS_CERT")};
    int r = wsc_tls_server_new(&o, &bad);
    CHECKF(r == WSC_EINVAL, "no key_file: WSC_EINVAL (%s)", wsc_strerror(r));
    o.key_file = "/nonexistent/key.pem";
    r = wsc_tls_server_new(&o, &bad);
    CHECKF(r == WSC_ETLS && strstr(wsc_last_error(), "/nonexistent/key.pem"),
           "a missing key file: WSC_ETLS naming it (%s)", wsc_last_error());
    o.key_file = getenv("WSC_TLS_OTHER_KEY");
    if (o.key_file) {
        r = wsc_tls_server_new(&o, &bad);
        CHECKF(r == WSC_ETLS && strstr(wsc_last_error(), "does not match"),
               "a key of another certificate: WSC_ETLS (%s)", wsc_last_error());
    }
}

/* ---- dial failures: a silent server times out; a nonblocking dial reports
 * a verify failure through wsc_get_state ------------------------------------ */

static void check_dial_failures(void)
{
    /* A listener that never accepts: TCP connects, TLS gets no answer. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) {
        perror("tls_check: listen");
        exit(1);
    }
    char url[64];
    snprintf(url, sizeof url, "wss://localhost:%d/", ntohs(a.sin_port));
    wsc_dial_options o = {.handshake_timeout_ms = 300};
    o.tls.ca_file = g_ca;
    wsc_conn *c = NULL;
    int64_t t0 = now_ms();
    int r = wsc_dial(url, &o, &c, NULL);
    int64_t took = now_ms() - t0;
    CHECKF(r == WSC_ETIMEDOUT && strstr(wsc_last_error(), "TLS handshake with localhost"),
           "a server that never answers the TLS handshake: WSC_ETIMEDOUT (%s %s)", wsc_strerror(r),
           wsc_last_error());
    CHECKF(took >= 250 && took < 2000, "after the 300 ms handshake timeout (%lld ms)", (long long)took);
    wsc_conn_free(c);
    close(lfd);

    /* A nonblocking dial trusting the wrong CA. */
    const char *other = getenv("WSC_TLS_OTHER_CA");
    if (!other)
        return;
    server s;
    server_start(&s, NULL, 2000);
    snprintf(url, sizeof url, "wss://localhost:%d/", s.port);
    wsc_dial_options nb = {.nonblocking = true};
    nb.tls.ca_file = other;
    r = wsc_dial(url, &nb, &c, NULL);
    if (r != 0) {
        /* The server answered before the dial would have waited: the failure
           comes back at once, as the header documents. */
        CHECKF(r == WSC_ETLS && !c && strstr(wsc_last_error(), "unable to get local issuer certificate"),
               "a nonblocking dial that fails at once: WSC_ETLS with the verify failure (%s %s)",
               wsc_strerror(r), wsc_last_error());
    } else {
        wsc_state st = WSC_STATE_CONNECTING;
        int64_t deadline = now_ms() + 5000;
        while ((st = wsc_get_state(c)) == WSC_STATE_CONNECTING && now_ms() < deadline)
            poll_conn(c, 100);
        CHECKF(st == WSC_STATE_CLOSED && strstr(wsc_last_error(), "unable to get local issuer certificate"),
               "it ends CLOSED with the verify failure (%d: %s)", st, wsc_last_error());
        wsc_msg_type type;
        const void *data;
        size_t len;
        r = wsc_read(c, 0, &type, &data, &len);
        CHECKF(r < 0 && r != WSC_EAGAIN, "a read then fails (%s)", wsc_strerror(r));
        wsc_conn_free(c);
    }
    server_join(&s);
    CHECKF(s.accept_err == WSC_ETLS, "the server saw the handshake fail (%s %s)",
           wsc_strerror(s.accept_err), s.accept_detail);
}

int main(void)
{
    const char *cert = getenv("WSC_TLS_CERT"), *key = getenv("WSC_TLS_KEY");
    g_ca = getenv("WSC_TLS_CA");
    if (!cert || !key || !g_ca) {
        fprintf(stderr, "tls_check: set WSC_TLS_CA, WSC_TLS_CERT and WSC_TLS_KEY "
                        "(tests/interop/tls.test.mjs does)\n");
        return 2;
    }
    /* SIGPIPE keeps its default action: the library must never raise it. */
    wsc_tls_options o = {.cert_file = cert, .key_file = key};
    int r = wsc_tls_server_new(&o, &g_tls);
    if (r < 0) {
        fprintf(stderr, "tls_check: wsc_tls_server_new: %s\n", wsc_last_error());
        return 1;
    }
    check_read_timeout();
    check_poll_loop();
    check_nowait_writes();
    check_threads();
    check_close_now();
    check_accept_failures();
    check_dial_failures();
    wsc_tls_server_free(g_tls);
    return check_summary("tls_check");
}
