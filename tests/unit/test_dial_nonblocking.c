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
 *      no crash, the 101 is not read as a frame, pings get their pongs
 *   d  wsc_fd and wsc_get_state on two threads at once (run under TSan)
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
    /* TCP connect that never completes: a listener with a full backlog
     * drops further SYNs. */
    int port;
    int lfd = listen_local_backlog(&port, 0);
    int fill[4];
    for (int i = 0; i < 4; i++)
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < 4; i++)
        connect(fill[i], (struct sockaddr *)&sa, sizeof sa);
    sleep_ms(100);
    char url[64];
    url_for(url, sizeof url, port);
    close_now_wakes("TCP connect", url, "");
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);

    /* A proxy that accepts and never answers CONNECT. */
    lfd = listen_local(&port);
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

static void close_read_while_connecting(const char *stage, int drive_ms)
{
    acceptor a;
    pthread_t th;
    wsc_conn *c = dial_delayed_server(&a, &th, drive_ms + 200);
    /* Let the dial send its request (the server answers later). */
    for (int64_t end = now_ms() + drive_ms; c && now_ms() < end;) {
        wsc_get_state(c);
        sleep_ms(1);
    }
    int r = c ? wsc_close_read(c) : WSC_EINVAL;
    CHECKF(r == 0, "(c) %s: wsc_close_read while CONNECTING (%s: %s)", stage, wsc_strerror(r),
           wsc_last_error());
    pthread_join(th, NULL);
    pthread_t echo;
    bool echoing = a.c && pthread_create(&echo, NULL, echo_server, a.c) == 0;
    if (c && r == 0) {
        /* The background reader gets the pong once the dial is open. */
        r = wsc_ping(c, 3000);
        CHECKF(r == 0, "(c) %s: a ping gets its pong through the background reader (%s: %s)", stage,
               wsc_strerror(r), wsc_last_error());
        CHECK(wsc_get_state(c) == WSC_STATE_OPEN, "(c) open");
        const void *data;
        size_t len;
        r = wsc_read(c, 0, NULL, &data, &len);
        CHECKF(r == WSC_EINVAL, "(c) %s: wsc_read after wsc_close_read: %s", stage, wsc_strerror(r));
        CHECK_OK(wsc_close(c, 1000, "bye"));
    }
    if (echoing)
        pthread_join(echo, NULL);
    wsc_conn_free(c);
    wsc_conn_free(a.c);
    close(a.lfd);
}

static void test_c_close_read_while_connecting(void)
{
    close_read_while_connecting("before the response", 0);
    close_read_while_connecting("waiting for the response", 100);
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

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_a_poll_interest();
    test_b_close_now_during_dial();
    test_c_close_read_while_connecting();
    test_d_fd_race();
    return check_summary("test_dial_nonblocking");
}
