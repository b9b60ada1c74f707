/* SPDX-License-Identifier: MIT */
/* test_dial_nonblocking.c - a nonblocking wsc_dial driven from a poll loop
 * and from other threads, at every stage of the handshake:
 *
 *   a  wsc_fd is a socket as soon as wsc_dial returns; wsc_poll_events
 *      gives the exact interest: a handshake answered after 300 ms costs
 *      fewer than 50 wake-ups (polling POLLIN|POLLOUT spun thousands)
 *   b  wsc_close_now from another thread wakes a thread blocked advancing
 *      the dial: in the TCP connect, in the proxy CONNECT, waiting for the
 *      101 response
 *   c  wsc_close_read while CONNECTING (before the TCP connect is done, and
 *      once the request is out) takes effect once the connection is open:
 *      no crash, the 101 is not read as a frame, pings get their pongs; a
 *      poll loop driving that dial still gets the exact interest
 *   d  wsc_fd and wsc_get_state on two threads at once (run under TSan)
 *   e  a thread blocked advancing the dial holds no other call past its own
 *      deadline, and a waiting call reports the dial's real failure
 *   f  the handshake timeout of a nonblocking dial closes the socket and is
 *      WSC_ECLOSED for later calls (WSC_ETIMEDOUT would promise usable)
 */
#include <stdlib.h>

#include "check.h"
#include "net.h"

/* A server thread that accepts one connection and answers its upgrade
 * after delay_ms, and a nonblocking dial to it (NULL if that failed). The
 * caller joins th, then frees a->c and closes a->lfd. */
static wsc_conn *dial_delayed_server(acceptor *a, pthread_t *th, int delay_ms)
{
    int port;
    *a = (acceptor){.lfd = listen_local(&port), .delay_ms = delay_ms};
    pthread_create(th, NULL, accept_thread, a);
    char url[64];
    url_for(url, sizeof url, port);
    wsc_dial_options o = {.nonblocking = true};
    wsc_conn *c = NULL;
    CHECK_OK(wsc_dial(url, &o, &c, NULL));
    return c;
}

/* A listener whose backlog (of one) is full: the kernel drops further SYNs,
 * so a TCP connect to it stays in progress until drain() makes room (the
 * client's SYN retransmission, about 1 s later, then gets through). */
typedef struct {
    int lfd, port, fill;
} full_listener;

static void full_listener_open(full_listener *f)
{
    f->lfd = listen_local_backlog(&f->port, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    f->fill = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(f->fill, (struct sockaddr *)&sa, sizeof sa);
    sleep_ms(100); /* the filler's handshake completes into the backlog */
}

/* Accepts and closes the filler. */
static void full_listener_drain(full_listener *f)
{
    struct pollfd p = {.fd = f->lfd, .events = POLLIN};
    while (poll(&p, 1, 0) == 1) {
        int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            break;
        close(fd);
    }
}

static void full_listener_close(full_listener *f)
{
    close(f->fill);
    close(f->lfd);
}

/* ---- (a) poll interest ---------------------------------------------------- */

/* Drives c with poll(wsc_fd, wsc_poll_events) until it leaves CONNECTING;
 * returns the number of wake-ups. */
static int drive_with_poll(wsc_conn *c, int limit_ms)
{
    int wakeups = 0;
    int64_t end = now_ms() + limit_ms;
    while (wsc_get_state(c) == WSC_STATE_CONNECTING && now_ms() < end) {
        struct pollfd p = {.fd = wsc_fd(c), .events = (short)wsc_poll_events(c)};
        poll(&p, 1, 1000);
        wakeups++;
    }
    return wakeups;
}

static void test_a_poll_interest(void)
{
    acceptor a;
    pthread_t th;
    wsc_conn *c = dial_delayed_server(&a, &th, 300);
    CHECKF(c && wsc_fd(c) >= 0, "(a) wsc_fd is a socket as soon as a nonblocking wsc_dial returns (%d)",
           c ? wsc_fd(c) : -2);
    int wakeups = c ? drive_with_poll(c, 5000) : 0;
    printf("  (a) handshake answered after 300 ms: %d wake-ups\n", wakeups);
    CHECKF(c && wsc_get_state(c) == WSC_STATE_OPEN, "(a) the dial opens (%s)", wsc_last_error());
    CHECKF(wakeups < 50, "(a) %d wake-ups for one handshake, expected fewer than 50", wakeups);
    pthread_join(th, NULL);
    if (c) {
        CHECKF(wsc_poll_events(c) == POLLIN, "(a) an idle open connection waits for POLLIN only (%d)",
               wsc_poll_events(c));
    }
    wsc_conn_free(c);
    wsc_conn_free(a.c);
    close(a.lfd);
    CHECK(wsc_poll_events(NULL) == 0, "(a) NULL: no interest");
}

/* ---- (b) wsc_close_now wakes a thread stuck in the dial ------------------- */

typedef struct {
    wsc_conn *c;
    int r;
    int64_t returned_at;
} blocked_call;

static void *blocked_read(void *arg)
{
    blocked_call *b = arg;
    wsc_msg_type type;
    const void *data;
    size_t len;
    b->r = wsc_read(b->c, -1, &type, &data, &len);
    b->returned_at = now_ms();
    return NULL;
}

/* Dials url without blocking, blocks a reader on it for 300 ms, then calls
 * wsc_close_now and checks the reader returns within a second. */
static void close_now_wakes(const char *stage, const char *url, const char *proxy)
{
    wsc_dial_options o = {.nonblocking = true, .handshake_timeout_ms = 10000, .proxy = proxy};
    wsc_conn *c = NULL;
    int r = wsc_dial(url, &o, &c, NULL);
    CHECKF(r == 0, "(b) %s: nonblocking dial (%s: %s)", stage, wsc_strerror(r), wsc_last_error());
    if (!c)
        return;
    if (!proxy[0] && strcmp(stage, "TCP connect") == 0)
        CHECKF(wsc_poll_events(c) == POLLOUT, "(b) the dial is in its TCP connect (%d)",
               wsc_poll_events(c));
    blocked_call b = {.c = c};
    pthread_t th;
    pthread_create(&th, NULL, blocked_read, &b);
    sleep_ms(300);
    int64_t t0 = now_ms();
    CHECK_OK(wsc_close_now(c));
    pthread_join(th, NULL);
    int64_t took = b.returned_at - t0;
    printf("  (b) %s: the blocked read returned %lld ms after wsc_close_now (%s)\n", stage,
           (long long)took, wsc_strerror(b.r));
    CHECKF(took < 1000, "(b) %s: wsc_close_now woke the read within 1 s (took %lld ms)", stage,
           (long long)took);
    CHECKF(b.r == WSC_ECLOSED, "(b) %s: the woken read reports WSC_ECLOSED (%s)", stage,
           wsc_strerror(b.r));
    CHECK(wsc_get_state(c) == WSC_STATE_CLOSED, "(b) closed");
    wsc_conn_free(c);
}

static void test_b_close_now_during_dial(void)
{
    /* A TCP connect that does not complete. */
    full_listener f;
    full_listener_open(&f);
    char url[64];
    url_for(url, sizeof url, f.port);
    close_now_wakes("TCP connect", url, "");
    full_listener_close(&f);

    /* A proxy that accepts and never answers CONNECT. */
    int port;
    int lfd = listen_local(&port);
    char proxy[64];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", port);
    close_now_wakes("proxy CONNECT", "ws://example.invalid/", proxy);
    close(lfd);

    /* A server that accepts and never answers the upgrade. */
    lfd = listen_local(&port);
    url_for(url, sizeof url, port);
    close_now_wakes("101 response", url, "");
    close(lfd);
}

/* ---- (c) wsc_close_read while connecting ---------------------------------- */

static void *echo_server(void *arg)
{
    wsc_conn *c = arg;
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        if (wsc_read(c, 5000, &type, &data, &len) < 0 || wsc_write(c, type, data, len, 5000) < 0)
            return NULL;
    }
}

/* What (c) checks once wsc_close_read was called on the CONNECTING c: a
 * poll loop still gets the exact interest and opens the dial; the
 * background reader then answers for c (pings get their pongs). */
static void check_background_reader(const char *stage, wsc_conn *c, acceptor *a, pthread_t th)
{
    int wakeups = drive_with_poll(c, 5000);
    printf("  (c) %s: the poll loop opened the dial in %d wake-ups\n", stage, wakeups);
    CHECKF(wakeups < 50, "(c) %s: %d wake-ups while the background reader waits, expected < 50",
           stage, wakeups);
    pthread_join(th, NULL);
    pthread_t echo;
    bool echoing = a->c && pthread_create(&echo, NULL, echo_server, a->c) == 0;
    int r = wsc_ping(c, 3000);
    CHECKF(r == 0, "(c) %s: a ping gets its pong through the background reader (%s: %s)", stage,
           wsc_strerror(r), wsc_last_error());
    CHECK(wsc_get_state(c) == WSC_STATE_OPEN, "(c) open");
    const void *data;
    size_t len;
    r = wsc_read(c, 0, NULL, &data, &len);
    CHECKF(r == WSC_EINVAL, "(c) %s: wsc_read after wsc_close_read: %s", stage, wsc_strerror(r));
    CHECK_OK(wsc_close(c, 1000, "bye"));
    if (echoing)
        pthread_join(echo, NULL);
}

/* Accepts the connection the full listener lets through once drained. */
static void *drain_then_accept(void *arg)
{
    acceptor *a = arg;
    full_listener *f = a->user;
    full_listener_drain(f);
    return accept_thread(a);
}

static void test_c_close_read_while_connecting(void)
{
    /* In the TCP connect: the transport does not exist yet. */
    full_listener f;
    full_listener_open(&f);
    char url[64];
    url_for(url, sizeof url, f.port);
    wsc_dial_options o = {.nonblocking = true};
    wsc_conn *c = NULL;
    CHECK_OK(wsc_dial(url, &o, &c, NULL));
    if (c) {
        CHECKF(wsc_poll_events(c) == POLLOUT, "(c) the dial is in its TCP connect (%d)",
               wsc_poll_events(c));
        CHECK_OK(wsc_close_read(c));
        acceptor a = {.lfd = f.lfd, .delay_ms = 300, .user = &f};
        pthread_t th;
        pthread_create(&th, NULL, drain_then_accept, &a);
        check_background_reader("in the TCP connect", c, &a, th);
        wsc_conn_free(a.c);
    }
    wsc_conn_free(c);
    full_listener_close(&f);

    /* Waiting for the 101: its bytes must not be read as a frame. */
    acceptor a;
    pthread_t th;
    c = dial_delayed_server(&a, &th, 300);
    if (c) {
        CHECKF(wsc_poll_events(c) == POLLIN, "(c) the request is out, the dial waits for the 101 (%d)",
               wsc_poll_events(c));
        CHECK_OK(wsc_close_read(c));
        check_background_reader("waiting for the response", c, &a, th);
    } else {
        pthread_join(th, NULL);
    }
    wsc_conn_free(c);
    wsc_conn_free(a.c);
    close(a.lfd);
}

/* ---- (d) wsc_fd on one thread, the dial on another ------------------------ */

typedef struct {
    wsc_conn *c;
    atomic_bool done;
} fd_watcher;

static void *watch_fd(void *arg)
{
    fd_watcher *w = arg;
    long calls = 0;
    while (!atomic_load(&w->done)) {
        int fd = wsc_fd(w->c);
        (void)fd;
        calls++;
    }
    return (void *)calls;
}

static void test_d_fd_race(void)
{
    for (int round = 0; round < 20; round++) {
        acceptor a;
        pthread_t th, wt;
        wsc_conn *c = dial_delayed_server(&a, &th, 0);
        if (!c) {
            pthread_join(th, NULL);
            close(a.lfd);
            return;
        }
        fd_watcher w = {.c = c};
        pthread_create(&wt, NULL, watch_fd, &w);
        drive_with_poll(c, 5000);
        atomic_store(&w.done, true);
        pthread_join(wt, NULL);
        pthread_join(th, NULL);
        CHECK(wsc_get_state(c) == WSC_STATE_OPEN, "(d) open");
        wsc_conn_free(c);
        wsc_conn_free(a.c);
        close(a.lfd);
    }
}

/* ---- (e) one thread advancing the dial, another with a deadline ----------- */

typedef struct {
    wsc_conn *c;
    int timeout_ms;
    int r;
} write_call;

static void *timed_write(void *arg)
{
    write_call *w = arg;
    w->r = wsc_write(w->c, WSC_TEXT, "x", 1, w->timeout_ms);
    return NULL;
}

/* A server that accepts one connection, reads the request and closes. */
static void *accept_and_hang_up(void *arg)
{
    acceptor *a = arg;
    int fd = accept_tcp(a->lfd);
    char head[2048];
    if (fd >= 0) {
        recv_head(fd, head, sizeof head, 2000);
        sleep_ms(a->delay_ms);
        close(fd);
    }
    return NULL;
}

static void test_e_dial_shared_by_threads(void)
{
    /* A write with 100 ms to spare while another thread blocks in the dial. */
    acceptor a;
    pthread_t th;
    wsc_conn *c = dial_delayed_server(&a, &th, 1500);
    if (c) {
        blocked_call b = {.c = c};
        pthread_t rt;
        pthread_create(&rt, NULL, blocked_read, &b);
        sleep_ms(100);
        int64_t t0 = now_ms();
        int r = wsc_write(c, WSC_TEXT, "x", 1, 100);
        int64_t took = now_ms() - t0;
        CHECKF(r == WSC_ETIMEDOUT && took < 1000, "(e) a 100 ms write while another thread advances the "
               "dial: %s after %lld ms", wsc_strerror(r), (long long)took);
        wsc_close_now(c);
        pthread_join(rt, NULL);
    }
    pthread_join(th, NULL);
    wsc_conn_free(c);
    wsc_conn_free(a.c);
    close(a.lfd);

    /* The server hangs up instead of answering: the waiting write hears why. */
    int port;
    a = (acceptor){.lfd = listen_local(&port), .delay_ms = 300};
    pthread_create(&th, NULL, accept_and_hang_up, &a);
    char url[64];
    url_for(url, sizeof url, port);
    wsc_dial_options o = {.nonblocking = true};
    c = NULL;
    CHECK_OK(wsc_dial(url, &o, &c, NULL));
    if (c) {
        blocked_call b = {.c = c};
        write_call w = {.c = c, .timeout_ms = 3000};
        pthread_t rt, wt;
        pthread_create(&rt, NULL, blocked_read, &b);
        sleep_ms(50);
        pthread_create(&wt, NULL, timed_write, &w);
        pthread_join(rt, NULL);
        pthread_join(wt, NULL);
        CHECKF(b.r == WSC_EHANDSHAKE, "(e) the thread advancing the dial: %s", wsc_strerror(b.r));
        CHECKF(w.r == WSC_EHANDSHAKE, "(e) the write waiting for the dial reports its failure too: %s",
               wsc_strerror(w.r));
        const void *data;
        size_t len;
        int r = wsc_read(c, 0, NULL, &data, &len);
        CHECKF(r == WSC_EHANDSHAKE && strstr(wsc_last_error(), "127.0.0.1"),
               "(e) so does a later call (%s: %s)", wsc_strerror(r), wsc_last_error());
    }
    pthread_join(th, NULL);
    wsc_conn_free(c);
    close(a.lfd);
}

/* ---- (f) the handshake timeout of a nonblocking dial ---------------------- */

static void test_f_handshake_timeout(void)
{
    int port;
    int lfd = listen_local(&port);
    char url[64];
    url_for(url, sizeof url, port);
    wsc_dial_options o = {.nonblocking = true, .handshake_timeout_ms = 300};
    wsc_conn *c = NULL;
    CHECK_OK(wsc_dial(url, &o, &c, NULL));
    int sfd = accept_tcp(lfd); /* and never answer */
    if (c) {
        drive_with_poll(c, 3000);
        CHECK(wsc_get_state(c) == WSC_STATE_CLOSED, "(f) the dial timed out: CLOSED");
        const void *data;
        size_t len;
        int r = wsc_read(c, 0, NULL, &data, &len);
        CHECKF(r == WSC_ECLOSED && strstr(wsc_last_error(), "timed out"),
               "(f) a read after the handshake timeout: %s (%s), expected WSC_ECLOSED saying it "
               "timed out", wsc_strerror(r), wsc_last_error());
        CHECK(wsc_poll_events(c) == 0, "(f) nothing to poll for");
        /* The server sees the connection end: the socket was shut. */
        char buf[4096];
        struct pollfd p = {.fd = sfd, .events = POLLIN};
        ssize_t n = 1;
        while (n > 0 && poll(&p, 1, 1000) == 1)
            n = recv(sfd, buf, sizeof buf, 0);
        CHECK(n == 0, "(f) the socket of the timed-out dial is shut, not left open");
    }
    wsc_conn_free(c);
    if (sfd >= 0)
        close(sfd);
    close(lfd);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_a_poll_interest();
    test_b_close_now_during_dial();
    test_c_close_read_while_connecting();
    test_d_fd_race();
    test_e_dial_shared_by_threads();
    test_f_handshake_timeout();
    return check_summary("test_dial_nonblocking");
}
