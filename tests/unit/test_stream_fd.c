/* SPDX-License-Identifier: MIT */
/* test_stream_fd.c - wsc_stream_fd through the public API: a server
 * connection (wsc_accept) pumped to a socketpair, and a client (wsc_dial)
 * as the peer, over 127.0.0.1 in one process.
 *
 *   a  half-close: after shutdown(fd, SHUT_WR) every byte written before it
 *      reaches the peer, and every byte the peer sends after our close
 *      frame still comes out of the fd, then end of stream (1000)
 *   b  a message of the other type is not forwarded: the peer gets 1003
 *   c  a large write to a peer with a small read limit: the peer's 1009
 *      is what the stream reports, and the caller's writes fail (no hang);
 *      also when the pump's writer fails first (the peer reset the TCP
 *      connection) while the peer's last data and close wait unread
 *   d  a peer's message over our read limit: 1009 to the peer
 *   e  the half-close's close frame waits as long as the data before it: a
 *      peer that reads only after 6 s (past the 5 s close timeout) still
 *      gets it, and what it sends after it still comes out of the fd
 *   f  shutdown(fd, SHUT_WR) while a nonblocking dial is CONNECTING: the
 *      close frame goes out once the handshake is done
 *   g  the caller's last bytes wait in the pump when the peer closes with
 *      1000: at end of stream wsc_stream_fd_error already says they were
 *      not sent (50 rounds)
 *   h  a text stream: a UTF-8 character cut by the pump's reads arrives
 *      whole; a stream ending inside one closes with 1007 (WSC_EPROTO)
 * After each, wsc_stream_fd_error says how the stream ended.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "wsc.h"
#include "check.h"
#include "net.h"

/* ---- The caller's side of the fd ----------------------------------------- */

/* Byte i of the test streams; `seed` tells the two directions apart. */
static uint8_t pattern(size_t i, unsigned seed)
{
    return (uint8_t)((i * 7 + (i >> 9) + seed) & 0xff);
}

/* Writes n pattern bytes into fd within timeout_ms. 0, or -1 with errno
 * (ETIMEDOUT when the fd stopped taking bytes). */
static int fd_write_pattern(int fd, size_t n, unsigned seed, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    uint8_t buf[8192];
    size_t done = 0;
    while (done < n) {
        size_t k = n - done < sizeof buf ? n - done : sizeof buf;
        for (size_t i = 0; i < k; i++)
            buf[i] = pattern(done + i, seed);
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int left = (int)(end - now_ms());
        if (left <= 0 || poll(&p, 1, left) != 1) {
            errno = ETIMEDOUT;
            return -1;
        }
        ssize_t w = send(fd, buf, k, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w < 0)
            return -1;
        done += (size_t)w;
    }
    return 0;
}

typedef struct {
    size_t got;      /* bytes read before the end */
    size_t bad_at;   /* first byte that differs from the pattern, or SIZE_MAX */
    int end;         /* 0 end of stream, else the errno (ETIMEDOUT: no end) */
} fd_result;

/* Reads fd until end of stream or timeout_ms, checking the pattern. */
static fd_result fd_read_pattern(int fd, unsigned seed, int timeout_ms)
{
    fd_result res = {0, SIZE_MAX, ETIMEDOUT};
    int64_t end = now_ms() + timeout_ms;
    uint8_t buf[8192];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(end - now_ms());
        if (left <= 0 || poll(&p, 1, left) != 1)
            return res;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            res.end = n == 0 ? 0 : errno;
            return res;
        }
        for (ssize_t i = 0; i < n; i++)
            if (res.bad_at == SIZE_MAX && buf[i] != pattern(res.got + (size_t)i, seed))
                res.bad_at = res.got + (size_t)i;
        res.got += (size_t)n;
    }
}

/* Waits up to timeout_ms for c to leave WSC_STATE_OPEN. */
static bool wait_not_open(wsc_conn *c, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (wsc_get_state(c) == WSC_STATE_OPEN) {
        if (now_ms() > end)
            return false;
        sleep_ms(1);
    }
    return true;
}

/* ---- (a) half-close ---------------------------------------------------------- */

#define HALF_IN 300000    /* caller -> peer, before shutdown(SHUT_WR) */
#define HALF_OUT 1000000  /* peer -> caller, after our close frame */

typedef struct {
    wsc_conn *c;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    size_t in_len;        /* bytes the peer reads before it sends */
    int stall_ms;         /* how long the peer waits before it reads */
    bool go;              /* the peer may send now */
    size_t got;           /* bytes the peer read */
    size_t bad_at;
    int read_r, write_r, close_r;
} half_peer;

static void *half_peer_thread(void *arg)
{
    half_peer *hp = arg;
    if (hp->stall_ms)
        sleep_ms(hp->stall_ms); /* a peer that reads late: the scenario, not a synchronisation */
    /* Read exactly what the caller wrote, and not our close frame after it. */
    while (hp->got < hp->in_len) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        hp->read_r = wsc_read(hp->c, 10000, &type, &data, &len);
        if (hp->read_r < 0)
            return NULL;
        const uint8_t *p = data;
        for (size_t i = 0; i < len; i++)
            if (hp->bad_at == SIZE_MAX && p[i] != pattern(hp->got + i, 1))
                hp->bad_at = hp->got + i;
        hp->got += len;
    }
    pthread_mutex_lock(&hp->mu);
    while (!hp->go)
        pthread_cond_wait(&hp->cond, &hp->mu);
    pthread_mutex_unlock(&hp->mu);
    uint8_t buf[16384];
    for (size_t done = 0; done < HALF_OUT && hp->write_r == 0; done += sizeof buf) {
        size_t k = HALF_OUT - done < sizeof buf ? HALF_OUT - done : sizeof buf;
        for (size_t i = 0; i < k; i++)
            buf[i] = pattern(done + i, 2);
        hp->write_r = wsc_write(hp->c, WSC_BINARY, buf, k, 10000);
    }
    hp->close_r = wsc_close(hp->c, WSC_STATUS_NORMAL_CLOSURE, "done");
    return NULL;
}

static void test_a_half_close(void)
{
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    wsc_set_read_limit(cl, -1);
    int fd = -1;
    CHECK_OK(wsc_stream_fd(sv, WSC_BINARY, &fd));
    half_peer hp = {.c = cl, .in_len = HALF_IN, .bad_at = SIZE_MAX};
    pthread_mutex_init(&hp.mu, NULL);
    pthread_cond_init(&hp.cond, NULL);
    pthread_t th;
    pthread_create(&th, NULL, half_peer_thread, &hp);

    CHECK(fd_write_pattern(fd, HALF_IN, 1, 10000) == 0, "(a) the caller's bytes go into the fd");
    CHECK(shutdown(fd, SHUT_WR) == 0, "(a) shutdown(fd, SHUT_WR)");
    /* Our close frame is out (or going) before the peer sends anything. */
    CHECK(wait_not_open(sv, 10000), "(a) the half-close starts the closing handshake");
    pthread_mutex_lock(&hp.mu);
    hp.go = true;
    pthread_cond_signal(&hp.cond);
    pthread_mutex_unlock(&hp.mu);
    fd_result res = fd_read_pattern(fd, 2, 20000);
    pthread_join(th, NULL);

    CHECKF(hp.got == HALF_IN && hp.bad_at == SIZE_MAX,
           "(a) the peer got %zu of %d bytes written before the half-close (first bad byte %zu)",
           hp.got, HALF_IN, hp.bad_at);
    CHECKF(hp.write_r == 0, "(a) the peer's writes after our close frame: %s", wsc_strerror(hp.write_r));
    CHECKF(hp.close_r == 0, "(a) the peer's close handshake: %s", wsc_strerror(hp.close_r));
    CHECKF(res.got == HALF_OUT && res.bad_at == SIZE_MAX && res.end == 0,
           "(a) after the half-close the caller read %zu of %d bytes the peer sent (first bad byte %zu), "
           "then %s", res.got, HALF_OUT, res.bad_at, res.end == 0 ? "end of stream" : strerror(res.end));
    CHECKF(wsc_close_status(sv) == WSC_STATUS_NORMAL_CLOSURE, "(a) the peer's close status is %d, expected 1000",
           wsc_close_status(sv));
    int e = wsc_stream_fd_error(sv);
    CHECKF(e == 0, "(a) wsc_stream_fd_error after a clean end: %s (%s)", wsc_strerror(e), wsc_last_error());
    close(fd);
    wsc_conn_free(sv);
    wsc_conn_free(cl);
    pthread_mutex_destroy(&hp.mu);
    pthread_cond_destroy(&hp.cond);
}

/* ---- (b) a message of the other type --------------------------------------- */

static void test_b_other_type(void)
{
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    int fd = -1;
    CHECK_OK(wsc_stream_fd(sv, WSC_BINARY, &fd));
    CHECK_OK(wsc_write(cl, WSC_TEXT, "text is not this stream's type", 30, 5000));
    wsc_msg_type type;
    const void *data;
    size_t len;
    int r = wsc_read(cl, 10000, &type, &data, &len);
    CHECKF(r == WSC_ECLOSED && wsc_close_status(cl) == WSC_STATUS_UNSUPPORTED_DATA,
           "(b) a text message on a binary stream: the peer's read gave %s with close status %d, "
           "expected WSC_ECLOSED and 1003", wsc_strerror(r), wsc_close_status(cl));
    fd_result res = fd_read_pattern(fd, 0, 10000);
    CHECKF(res.got == 0 && res.end == 0, "(b) the fd gave %zu bytes then %s, expected end of stream at once",
           res.got, res.end == 0 ? "end of stream" : strerror(res.end));
    int e = wsc_stream_fd_error(sv);
    CHECKF(e == WSC_EPROTO && strstr(wsc_last_error(), "1003"),
           "(b) wsc_stream_fd_error: %s (%s), expected WSC_EPROTO saying 1003", wsc_strerror(e), wsc_last_error());
    close(fd);
    wsc_conn_free(sv);
    wsc_conn_free(cl);
}

/* ---- (c) a write larger than the peer's read limit -------------------------- */

#define LAST_WORDS 1000 /* what the peer sends before it reads */

/* Holds the pump's reader in the on_ping callback until released, so that
 * the peer's data and close frame wait in the socket while the pump's
 * writer fails. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool held, released;
} ping_gate;

static bool gate_on_ping(void *user, const void *payload, size_t len)
{
    (void)payload, (void)len;
    ping_gate *g = user;
    pthread_mutex_lock(&g->mu);
    g->held = true;
    pthread_cond_broadcast(&g->cond);
    while (!g->released)
        pthread_cond_wait(&g->cond, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return true;
}

typedef struct {
    wsc_conn *c;
    ping_gate *gate;   /* NULL: no ping, no data before the read */
    int r;
} limit_peer;

/* Optionally pings (holding the pump's reader) and sends LAST_WORDS bytes;
 * then reads once, which fails with the read limit, and goes away as a
 * server would: freeing the connection resets the TCP connection. */
static void *limit_peer_thread(void *arg)
{
    limit_peer *lp = arg;
    if (lp->gate) {
        wsc_ping(lp->c, 0); /* sent; the pong is not waited for */
        pthread_mutex_lock(&lp->gate->mu);
        while (!lp->gate->held)
            pthread_cond_wait(&lp->gate->cond, &lp->gate->mu);
        pthread_mutex_unlock(&lp->gate->mu);
        uint8_t buf[LAST_WORDS];
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = pattern(i, 4);
        wsc_write(lp->c, WSC_BINARY, buf, sizeof buf, 10000);
    }
    wsc_msg_type type;
    const void *data;
    size_t len;
    lp->r = wsc_read(lp->c, 10000, &type, &data, &len);
    wsc_conn_free(lp->c);
    return NULL;
}

/* With `held`, the pump's reader is held in a ping callback until the
 * caller's write failed: what the peer sent before its close (and the
 * close) must still come out. */
static void peer_limit(bool held)
{
    ping_gate gate = {.released = false};
    pthread_mutex_init(&gate.mu, NULL);
    pthread_cond_init(&gate.cond, NULL);
    wsc_accept_options aopts = {.on_ping = gate_on_ping, .user = &gate};
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, held ? &aopts : NULL))
        return;
    wsc_set_read_limit(cl, 1000);
    int fd = -1;
    CHECK_OK(wsc_stream_fd(sv, WSC_BINARY, &fd));
    limit_peer lp = {.c = cl, .gate = held ? &gate : NULL};
    pthread_t th;
    pthread_create(&th, NULL, limit_peer_thread, &lp);
    /* 8 MB cannot all fit in the socket buffers: the caller's write must end
     * with an error, not block. */
    int w = fd_write_pattern(fd, 8 << 20, 3, 10000);
    int werr = errno;
    pthread_join(th, NULL);
    pthread_mutex_lock(&gate.mu);
    gate.released = true;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.mu);
    CHECKF(lp.r == WSC_EMSGSIZE, "(c) the peer's read: %s, expected WSC_EMSGSIZE", wsc_strerror(lp.r));
    CHECKF(w < 0 && werr == EPIPE, "(c) writing 8 MB after the peer failed: %s, expected EPIPE",
           w == 0 ? "all written" : strerror(werr));
    size_t want = held ? LAST_WORDS : 0;
    fd_result res = fd_read_pattern(fd, 4, 10000);
    CHECKF(res.got == want && res.bad_at == SIZE_MAX && res.end == 0,
           "(c) the fd gave %zu of the %zu bytes the peer sent (first bad byte %zu), then %s",
           res.got, want, res.bad_at, res.end == 0 ? "end of stream" : strerror(res.end));
    CHECKF(wsc_close_status(sv) == WSC_STATUS_MESSAGE_TOO_BIG,
           "(c) the stream's close status is %d, expected the peer's 1009", wsc_close_status(sv));
    int e = wsc_stream_fd_error(sv);
    CHECKF(e == WSC_ECLOSED && strstr(wsc_last_error(), "1009"),
           "(c) wsc_stream_fd_error: %s (%s), expected WSC_ECLOSED saying 1009", wsc_strerror(e),
           wsc_last_error());
    close(fd);
    wsc_conn_free(sv);
    pthread_mutex_destroy(&gate.mu);
    pthread_cond_destroy(&gate.cond);
}

static void test_c_peer_limit(void)
{
    peer_limit(false);
    peer_limit(true);
}

/* ---- (d) a peer's message over our read limit ------------------------------- */

static void test_d_our_limit(void)
{
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    wsc_set_read_limit(sv, 1000);
    int fd = -1;
    CHECK_OK(wsc_stream_fd(sv, WSC_BINARY, &fd));
    static uint8_t big[5000];
    CHECK_OK(wsc_write(cl, WSC_BINARY, big, sizeof big, 5000));
    wsc_msg_type type;
    const void *data;
    size_t len;
    int r = wsc_read(cl, 10000, &type, &data, &len);
    CHECKF(r == WSC_ECLOSED && wsc_close_status(cl) == WSC_STATUS_MESSAGE_TOO_BIG,
           "(d) 5000 bytes over our limit of 1000: the peer's read gave %s with close status %d, "
           "expected WSC_ECLOSED and 1009", wsc_strerror(r), wsc_close_status(cl));
    fd_result res = fd_read_pattern(fd, 0, 10000);
    CHECKF(res.got == 0 && res.end == 0, "(d) the fd gave %zu bytes then %s, expected end of stream",
           res.got, res.end == 0 ? "end of stream" : strerror(res.end));
    int e = wsc_stream_fd_error(sv);
    CHECKF(e == WSC_EMSGSIZE, "(d) wsc_stream_fd_error: %s (%s), expected WSC_EMSGSIZE", wsc_strerror(e),
           wsc_last_error());
    close(fd);
    wsc_conn_free(sv);
    wsc_conn_free(cl);
}

/* ---- (e) a half-close behind a slow peer ------------------------------------ */

#define SLOW_IN ((size_t)32 << 20) /* more than the socket buffers hold */
#define SLOW_STALL_MS 6000         /* longer than the 5 s close timeout */

typedef struct {
    wsc_conn *c;
    const uint8_t *data;
    size_t len;
    int r;
} big_writer;

static void *big_write_thread(void *arg)
{
    big_writer *bw = arg;
    bw->r = wsc_write(bw->c, WSC_BINARY, bw->data, bw->len, 60000);
    return NULL;
}

/* Waits up to timeout_ms for another thread to hold c's frame lock
 * (wsc_want_write). */
static bool wait_frame_busy(wsc_conn *c, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (!wsc_want_write(c)) {
        if (now_ms() > end)
            return false;
        sleep_ms(1);
    }
    return true;
}

/* The half-close's close frame waits, like the data before it, for as long
 * as the peer takes. The data here is one 32 MiB message the test writes on
 * the stream's connection: it fills the socket and holds the frame lock
 * while the peer does not read for 6 s, so the close frame cannot get in
 * for 6 s (bytes from the fd cannot fill the socket to the last byte at a
 * known moment). The peer then reads it all and sends after our close. */
static void test_e_slow_peer(void)
{
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    wsc_set_read_limit(cl, -1);
    uint8_t *big = malloc(SLOW_IN);
    CHECK(big != NULL, "(e) 32 MiB for the message");
    if (!big) {
        wsc_conn_free(sv);
        wsc_conn_free(cl);
        return;
    }
    for (size_t i = 0; i < SLOW_IN; i++)
        big[i] = pattern(i, 1);
    int fd = -1;
    CHECK_OK(wsc_stream_fd(sv, WSC_BINARY, &fd));
    big_writer bw = {.c = sv, .data = big, .len = SLOW_IN};
    pthread_t wth, pth;
    pthread_create(&wth, NULL, big_write_thread, &bw);
    CHECK(wait_frame_busy(sv, 10000), "(e) the 32 MiB message holds the frame lock");
    half_peer hp = {.c = cl, .in_len = SLOW_IN, .stall_ms = SLOW_STALL_MS, .go = true, .bad_at = SIZE_MAX};
    pthread_mutex_init(&hp.mu, NULL);
    pthread_cond_init(&hp.cond, NULL);
    pthread_create(&pth, NULL, half_peer_thread, &hp);
    CHECK(shutdown(fd, SHUT_WR) == 0, "(e) shutdown(fd, SHUT_WR)");
    fd_result res = fd_read_pattern(fd, 2, 30000);
    pthread_join(pth, NULL);
    pthread_join(wth, NULL);

    CHECKF(bw.r == 0, "(e) the 32 MiB message to a peer that reads after 6 s: %s", wsc_strerror(bw.r));
    CHECKF(hp.got == SLOW_IN && hp.bad_at == SIZE_MAX, "(e) the peer got %zu of %zu bytes (first bad byte %zu)",
           hp.got, SLOW_IN, hp.bad_at);
    CHECKF(hp.write_r == 0 && hp.close_r == 0, "(e) the peer's writes after our close: %s, its close: %s",
           wsc_strerror(hp.write_r), wsc_strerror(hp.close_r));
    CHECKF(res.got == HALF_OUT && res.bad_at == SIZE_MAX && res.end == 0,
           "(e) after the half-close the caller read %zu of %d bytes the peer sent (first bad byte %zu), then %s",
           res.got, HALF_OUT, res.bad_at, res.end == 0 ? "end of stream" : strerror(res.end));
    int e = wsc_stream_fd_error(sv);
    CHECKF(e == 0, "(e) wsc_stream_fd_error after a slow but clean end: %s (%s)", wsc_strerror(e),
           wsc_last_error());
    close(fd);
    wsc_conn_free(sv);
    wsc_conn_free(cl);
    free(big);
    pthread_mutex_destroy(&hp.mu);
    pthread_cond_destroy(&hp.cond);
}

/* ---- (f) a half-close before the dial finished ------------------------------- */

typedef struct {
    int lfd;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool go;              /* the server may run its handshake now */
    int read_r, close_code;
} late_server;

/* Accepts the TCP connection at once but runs the WebSocket handshake only
 * when told: until then the client stays CONNECTING. Then reads once. */
static void *late_server_thread(void *arg)
{
    late_server *ls = arg;
    int fd = accept_tcp(ls->lfd);
    pthread_mutex_lock(&ls->mu);
    while (!ls->go)
        pthread_cond_wait(&ls->cond, &ls->mu);
    pthread_mutex_unlock(&ls->mu);
    wsc_conn *c = NULL;
    ls->read_r = fd < 0 ? WSC_EIO : wsc_accept(fd, NULL, &c);
    if (ls->read_r != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    wsc_msg_type type;
    const void *data;
    size_t len;
    ls->read_r = wsc_read(c, 10000, &type, &data, &len);
    ls->close_code = wsc_close_status(c);
    wsc_conn_free(c);
    return NULL;
}

static void test_f_half_close_connecting(void)
{
    int port;
    late_server ls = {.lfd = listen_local(&port)};
    CHECK(ls.lfd >= 0, "(f) listen on 127.0.0.1");
    if (ls.lfd < 0)
        return;
    pthread_mutex_init(&ls.mu, NULL);
    pthread_cond_init(&ls.cond, NULL);
    pthread_t th;
    pthread_create(&th, NULL, late_server_thread, &ls);
    char url[64];
    url_for(url, sizeof url, port);
    wsc_dial_options dopts = {.nonblocking = true};
    wsc_conn *cl = NULL;
    CHECK_OK(wsc_dial(url, &dopts, &cl, NULL));
    int fd = -1;
    CHECK_OK(wsc_stream_fd(cl, WSC_BINARY, &fd));
    CHECK(shutdown(fd, SHUT_WR) == 0, "(f) shutdown(fd, SHUT_WR) while CONNECTING");
    /* Time for a pump that drops the half-close to do so; with the fix it
     * waits for the dial, and the result does not depend on this. */
    sleep_ms(100);
    pthread_mutex_lock(&ls.mu);
    ls.go = true;
    pthread_cond_signal(&ls.cond);
    pthread_mutex_unlock(&ls.mu);
    pthread_join(th, NULL);
    CHECKF(ls.read_r == WSC_ECLOSED && ls.close_code == WSC_STATUS_NORMAL_CLOSURE,
           "(f) a half-close while CONNECTING: the server's read gave %s with close status %d, "
           "expected WSC_ECLOSED and 1000", wsc_strerror(ls.read_r), ls.close_code);
    fd_result res = fd_read_pattern(fd, 0, 10000);
    CHECKF(res.got == 0 && res.end == 0, "(f) the fd gave %zu bytes then %s, expected end of stream", res.got,
           res.end == 0 ? "end of stream" : strerror(res.end));
    int e = wsc_stream_fd_error(cl);
    CHECKF(e == 0, "(f) wsc_stream_fd_error: %s (%s)", wsc_strerror(e), wsc_last_error());
    close(fd);
    close(ls.lfd);
    wsc_conn_free(cl);
    pthread_mutex_destroy(&ls.mu);
    pthread_cond_destroy(&ls.cond);
}

/* ---- (g) the error is final at end of stream --------------------------------- */

#define FINAL_ROUNDS 50

/* The caller's last bytes wait in the pump (the test holds the message
 * lock, as a long write would) when the peer closes with 1000: by the
 * time the caller reads end of stream, wsc_stream_fd_error says they were
 * not sent. Repeated, as without the fix it depends on which pump thread
 * runs first. */
static void final_error_round(int round)
{
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    int fd = -1;
    CHECK_OK(wsc_stream_fd(sv, WSC_BINARY, &fd));
    CHECK_OK(wsc_writer_begin(sv, WSC_BINARY, 10000));
    CHECK(fd_write_pattern(fd, 1000, 5, 10000) == 0, "(g) the caller's last bytes go into the fd");
    CHECK_OK(wsc_close(cl, WSC_STATUS_NORMAL_CLOSURE, "bye"));
    fd_result res = fd_read_pattern(fd, 0, 10000);
    int e = wsc_stream_fd_error(sv);
    CHECKF(res.end == 0, "(g) round %d: the fd gave %s, expected end of stream", round,
           res.end == 0 ? "end of stream" : strerror(res.end));
    CHECKF(e == WSC_ECLOSED && strstr(wsc_last_error(), "not sent"),
           "(g) round %d: wsc_stream_fd_error at end of stream: %s (%s), expected WSC_ECLOSED saying the "
           "bytes were not sent", round, wsc_strerror(e), wsc_last_error());
    wsc_writer_end(sv);
    close(fd);
    wsc_conn_free(sv);
    wsc_conn_free(cl);
}

static void test_g_final_error(void)
{
    for (int i = 0; i < FINAL_ROUNDS; i++)
        final_error_round(i);
}

/* ---- (h) UTF-8 split across reads -------------------------------------------- */

/* Waits up to timeout_ms for the pump to take every byte written into fd. */
static bool wait_taken(int fd, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    int queued;
    while (ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 0) {
        if (now_ms() > end)
            return false;
        sleep_ms(1);
    }
    return true;
}

/* Reads text messages until the peer's read fails; their bytes in buf. */
static int read_text(wsc_conn *c, char *buf, size_t cap, size_t *got)
{
    *got = 0;
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        int r = wsc_read(c, 10000, &type, &data, &len);
        if (r < 0)
            return r;
        if (len > cap - *got)
            len = cap - *got;
        memcpy(buf + *got, data, len);
        *got += len;
    }
}

/* "é" (C3 A9) written one byte at a time, each taken by a recv of its own:
 * the peer gets valid text. Then a stream ending inside "€" (E2 82 AC)
 * without its last byte: the peer gets what came before and 1007. */
static void test_h_utf8_split(void)
{
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    int fd = -1;
    CHECK_OK(wsc_stream_fd(sv, WSC_TEXT, &fd));
    CHECK(send_bytes(fd, "a\xc3", 2) == 0 && wait_taken(fd, 10000), "(h) 'a' and the first byte of e-acute taken");
    CHECK(send_bytes(fd, "\xa9z", 2) == 0, "(h) the second byte of e-acute");
    CHECK(shutdown(fd, SHUT_WR) == 0, "(h) shutdown(fd, SHUT_WR)");
    char text[16];
    size_t got;
    int r = read_text(cl, text, sizeof text, &got);
    CHECKF(r == WSC_ECLOSED && wsc_close_status(cl) == WSC_STATUS_NORMAL_CLOSURE && got == 4 &&
               memcmp(text, "a\xc3\xa9z", 4) == 0,
           "(h) a character split across reads: the peer read %zu bytes, then %s with close status %d, "
           "expected \"a\\xc3\\xa9z\" then WSC_ECLOSED and 1000", got, wsc_strerror(r), wsc_close_status(cl));
    fd_result res = fd_read_pattern(fd, 0, 10000);
    int e = wsc_stream_fd_error(sv);
    CHECKF(res.end == 0 && e == 0, "(h) then end of stream (%s) and wsc_stream_fd_error %s (%s)",
           res.end == 0 ? "yes" : strerror(res.end), wsc_strerror(e), wsc_last_error());
    close(fd);
    wsc_conn_free(sv);
    wsc_conn_free(cl);

    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    CHECK_OK(wsc_stream_fd(sv, WSC_TEXT, &fd));
    CHECK(send_bytes(fd, "ab\xe2\x82", 4) == 0, "(h) 'ab' and two of the three bytes of the euro sign");
    CHECK(shutdown(fd, SHUT_WR) == 0, "(h) shutdown(fd, SHUT_WR)");
    r = read_text(cl, text, sizeof text, &got);
    CHECKF(r == WSC_ECLOSED && wsc_close_status(cl) == WSC_STATUS_INVALID_FRAME_PAYLOAD_DATA && got == 2 &&
               memcmp(text, "ab", 2) == 0,
           "(h) a stream ending inside a character: the peer read %zu bytes, then %s with close status %d, "
           "expected \"ab\" then WSC_ECLOSED and 1007", got, wsc_strerror(r), wsc_close_status(cl));
    res = fd_read_pattern(fd, 0, 10000);
    e = wsc_stream_fd_error(sv);
    CHECKF(res.end == 0 && e == WSC_EPROTO && strstr(wsc_last_error(), "UTF-8"),
           "(h) then end of stream (%s) and wsc_stream_fd_error %s (%s), expected WSC_EPROTO about UTF-8",
           res.end == 0 ? "yes" : strerror(res.end), wsc_strerror(e), wsc_last_error());
    close(fd);
    wsc_conn_free(sv);
    wsc_conn_free(cl);
}

int main(void)
{
    test_a_half_close();
    test_b_other_type();
    test_c_peer_limit();
    test_d_our_limit();
    test_e_slow_peer();
    test_f_half_close_connecting();
    test_g_final_error();
    test_h_utf8_split();
    return check_summary("test_stream_fd");
}
