/* SPDX-License-Identifier: MIT */
/* test_accept_nonblocking.c - a nonblocking wsc_accept driven from one
 * poll loop:
 *
 *   a  one thread accepts many clients at once: wsc_dial clients, one that
 *      trickles its request a byte at a time, one that sends nothing (its
 *      408 comes after handshake_timeout_ms while the others are served),
 *      one with a bad request (400; the conn ends CLOSED with
 *      WSC_EHANDSHAKE and wsc_conn_free closes its socket)
 *   b  a request already complete when wsc_accept is called opens at once;
 *      frames sent right behind the request are read
 *   c  a bad request already there fails at once, fd left to the caller
 *   d  the options are copied: the caller's strings may change after the call;
 *      the socket gets TCP_NODELAY
 *   e  wsc_close_now while CONNECTING; a blocking read on a CONNECTING conn
 *      waits for the handshake, then reads
 */
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdlib.h>

#include "check.h"
#include "net.h"

static const char REQUEST[] = "GET /nb HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n";

/* A masked client text frame of len < 126 bytes into out; returns its size. */
static size_t client_frame(uint8_t *out, const char *text)
{
    size_t len = strlen(text);
    uint8_t key[4] = {1, 2, 3, 4};
    out[0] = 0x81;
    out[1] = (uint8_t)(0x80 | len);
    memcpy(out + 2, key, 4);
    for (size_t i = 0; i < len; i++)
        out[6 + i] = (uint8_t)(text[i] ^ key[i % 4]);
    return 6 + len;
}

/* ---- (a) one loop, many clients ------------------------------------------- */

#define N_DIAL 40

typedef struct {
    int port;
    int r;
    char echoed[64];
    int64_t done_at;
} dial_job;

/* Dials, sends "hello N", reads the echo. */
static void *dial_thread(void *arg)
{
    dial_job *j = arg;
    char url[64];
    url_for(url, sizeof url, j->port);
    wsc_conn *c = NULL;
    wsc_dial_options o = {.handshake_timeout_ms = 10000};
    j->r = wsc_dial(url, &o, &c, NULL);
    if (j->r == 0) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "hello %d", j->port);
        j->r = wsc_write(c, WSC_TEXT, msg, (size_t)n, 5000);
        wsc_msg_type type;
        const void *data;
        size_t len;
        if (j->r == 0 && (j->r = wsc_read(c, 5000, &type, &data, &len)) == 0)
            snprintf(j->echoed, sizeof j->echoed, "%.*s", (int)len, (const char *)data);
        wsc_close(c, 1000, "");
    }
    j->done_at = now_ms();
    wsc_conn_free(c);
    return NULL;
}

typedef struct {
    int port;
    char head[512];
    int64_t answered_at;
} raw_job;

/* Sends REQUEST a byte every 5 ms, then reads the answer's head. */
static void *trickle_thread(void *arg)
{
    raw_job *j = arg;
    int fd = connect_local(j->port);
    for (size_t i = 0; fd >= 0 && i < sizeof REQUEST - 1; i++) {
        send_bytes(fd, REQUEST + i, 1);
        sleep_ms(5);
    }
    if (fd >= 0)
        recv_head(fd, j->head, sizeof j->head, 5000);
    close(fd);
    return NULL;
}

/* Sends nothing; reads what the server says before it closes. */
static void *silent_thread(void *arg)
{
    raw_job *j = arg;
    int fd = connect_local(j->port);
    if (fd >= 0)
        recv_head(fd, j->head, sizeof j->head, 5000);
    j->answered_at = now_ms();
    close(fd);
    return NULL;
}

static void *bad_thread(void *arg)
{
    raw_job *j = arg;
    int fd = connect_local(j->port);
    sleep_ms(50);
    static const char bad[] = "GET /nb HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
    if (fd >= 0 && send_bytes(fd, bad, sizeof bad - 1) == 0)
        recv_head(fd, j->head, sizeof j->head, 5000);
    close(fd);
    return NULL;
}

typedef struct {
    wsc_conn *c;
    bool counted;
} slot;

/* Serves every connection on lfd from this thread until `want` of them
 * ended (echoing every message); returns how many opened and failed. */
static void serve_loop(int lfd, const wsc_accept_options *o, int want, int *opened, int *failed,
                       int64_t *first_408_check)
{
    slot s[64] = {{0}};
    int n = 0, ended = 0;
    int64_t start = now_ms();
    while (ended < want && now_ms() - start < 15000) {
        struct pollfd p[65];
        p[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (int i = 0; i < n; i++)
            p[i + 1] = (struct pollfd){.fd = s[i].c ? wsc_fd(s[i].c) : -1,
                                       .events = (short)(s[i].c ? wsc_poll_events(s[i].c) : 0)};
        poll(p, (nfds_t)n + 1, 100);
        if ((p[0].revents & POLLIN) && n < 64) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            wsc_conn *c = NULL;
            if (fd >= 0 && wsc_accept(fd, o, &c) == 0) {
                s[n++].c = c;
            } else if (fd >= 0) { /* a bad request already there fails at once */
                close(fd);
                (*failed)++;
                ended++;
            }
        }
        /* Every conn is looked at on every turn (ready or not): a silent
         * client's handshake timeout is noticed this way. */
        for (int i = 0; i < n; i++) {
            wsc_conn *c = s[i].c;
            if (!c)
                continue;
            wsc_state st = wsc_get_state(c);
            if (st == WSC_STATE_OPEN && !s[i].counted) {
                s[i].counted = true;
                (*opened)++;
            }
            int r = 0;
            while (st == WSC_STATE_OPEN && r == 0) {
                wsc_msg_type type;
                const void *data;
                size_t len;
                if ((r = wsc_read(c, 0, &type, &data, &len)) == 0)
                    r = wsc_write(c, type, data, len, 0);
            }
            if (st == WSC_STATE_CLOSED || (r != 0 && r != WSC_EAGAIN)) {
                if (st == WSC_STATE_CLOSED && !s[i].counted) {
                    (*failed)++;
                    if (strstr(wsc_last_error(), "408") && !*first_408_check)
                        *first_408_check = now_ms();
                }
                wsc_conn_free(c);
                s[i].c = NULL;
                ended++;
            }
        }
    }
    for (int i = 0; i < n; i++)
        wsc_conn_free(s[i].c);
}

static void check_one_loop(void)
{
    int port;
    int lfd = listen_local_backlog(&port, 128);
    static const char *const protos[] = {"chat"};
    wsc_accept_options o = {.nonblocking = true, .handshake_timeout_ms = 1500,
                            .subprotocols = protos, .n_subprotocols = 1};
    raw_job silent = {.port = port}, trickle = {.port = port}, bad = {.port = port};
    pthread_t ts, tt, tb, td[N_DIAL];
    pthread_create(&ts, NULL, silent_thread, &silent);
    sleep_ms(20); /* the silent client is accepted first */
    pthread_create(&tt, NULL, trickle_thread, &trickle);
    pthread_create(&tb, NULL, bad_thread, &bad);
    dial_job dj[N_DIAL];
    for (int i = 0; i < N_DIAL; i++) {
        dj[i] = (dial_job){.port = port};
        pthread_create(&td[i], NULL, dial_thread, &dj[i]);
    }
    int opened = 0, failed = 0;
    int64_t t408 = 0, start = now_ms();
    serve_loop(lfd, &o, N_DIAL + 3, &opened, &failed, &t408);
    int64_t dials_done = 0;
    for (int i = 0; i < N_DIAL; i++) {
        pthread_join(td[i], NULL);
        if (dj[i].done_at > dials_done)
            dials_done = dj[i].done_at;
    }
    pthread_join(ts, NULL);
    pthread_join(tt, NULL);
    pthread_join(tb, NULL);
    close(lfd);

    int echoed = 0;
    for (int i = 0; i < N_DIAL; i++) {
        char want[32];
        snprintf(want, sizeof want, "hello %d", port);
        echoed += dj[i].r == 0 && strcmp(dj[i].echoed, want) == 0;
    }
    CHECKF(echoed == N_DIAL, "(a) %d of %d dialled clients got their echo from the one loop", echoed,
           N_DIAL);
    CHECKF(strstr(trickle.head, "HTTP/1.1 101") != NULL, "(a) the trickling client got 101: %.40s",
           trickle.head);
    CHECKF(strstr(trickle.head, "Sec-WebSocket-Protocol: chat") != NULL,
           "(a) the trickling client got its subprotocol");
    CHECKF(strstr(bad.head, "HTTP/1.1 400") != NULL, "(a) the bad request got 400: %.40s", bad.head);
    CHECKF(strstr(silent.head, "HTTP/1.1 408") != NULL, "(a) the silent client got 408: %.40s",
           silent.head);
    CHECKF(opened == N_DIAL + 1 && failed == 2, "(a) %d opened (want %d), %d failed (want 2)", opened,
           N_DIAL + 1, failed);
    /* The silent client, accepted first, held nobody: the dialled clients
     * were all served before its handshake timeout ran out. */
    CHECKF(t408 > 0 && dials_done < t408, "(a) the dialled clients finished (%lld ms) before the "
           "silent client's 408 (%lld ms)", (long long)(dials_done - start),
           (long long)(t408 - start));
    CHECKF(silent.answered_at - start >= 1400, "(a) the 408 came after the handshake timeout "
           "(%lld ms)", (long long)(silent.answered_at - start));
}

/* ---- (b) (c) (d) requests already there ------------------------------------ */

/* A connected pair of plain sockets through a listener: *cfd the client's. */
static int accepted_pair(int *cfd)
{
    int port;
    int lfd = listen_local(&port);
    *cfd = connect_local(port);
    int sfd = accept_tcp(lfd);
    close(lfd);
    return sfd;
}

static void check_request_already_there(void)
{
    int cfd, sfd = accepted_pair(&cfd);
    uint8_t buf[sizeof REQUEST + 64];
    memcpy(buf, REQUEST, sizeof REQUEST - 1);
    size_t n = sizeof REQUEST - 1 + client_frame(buf + sizeof REQUEST - 1, "right behind");
    send_bytes(cfd, buf, n);
    sleep_ms(20);

    /* (d) the subprotocol list lives in a buffer changed after the call */
    char name[8] = "chat";
    const char *protos[] = {name};
    wsc_accept_options o = {.nonblocking = true, .subprotocols = protos, .n_subprotocols = 1};
    wsc_conn *c = NULL;
    CHECK_OK(wsc_accept(sfd, &o, &c));
    strcpy(name, "XXXX");
    protos[0] = NULL;
    CHECK(wsc_get_state(c) == WSC_STATE_OPEN, "(b) a complete request opens at once");
    int nodelay = 0;
    socklen_t optlen = sizeof nodelay;
    getsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &optlen);
    CHECK(nodelay == 1, "(b) the accepted socket has TCP_NODELAY, as a dialled one (small answers "
                        "after a TLS handshake are not held back by Nagle)");
    CHECK(strcmp(wsc_subprotocol(c), "chat") == 0, "(b) the subprotocol was chosen");
    wsc_msg_type type;
    const void *data;
    size_t len = 0;
    CHECK_OK(wsc_read(c, 1000, &type, &data, &len));
    CHECK(len == 12 && memcmp(data, "right behind", 12) == 0, "(b) the frame behind the request");
    wsc_conn_free(c);
    close(cfd);

    /* (c) a bad request already there: refused at once, fd is the caller's */
    protos[0] = "chat";
    sfd = accepted_pair(&cfd);
    static const char bad[] = "POST /nb HTTP/1.1\r\nHost: x\r\n\r\n";
    send_bytes(cfd, bad, sizeof bad - 1);
    sleep_ms(20);
    c = NULL;
    int r = wsc_accept(sfd, &o, &c);
    CHECKF(r == WSC_EHANDSHAKE && c == NULL, "(c) a bad request fails at once: %s", wsc_strerror(r));
    CHECKF(strstr(wsc_last_error(), "405") != NULL, "(c) and says 405: %s", wsc_last_error());
    CHECK(fcntl(sfd, F_GETFD) >= 0, "(c) fd is left open for the caller");
    char head[256];
    recv_head(cfd, head, sizeof head, 1000);
    CHECKF(strncmp(head, "HTTP/1.1 405", 12) == 0, "(c) the client got 405: %.20s", head);
    close(sfd);
    close(cfd);
}

/* ---- (e) closing and blocking calls while CONNECTING ------------------------ */

typedef struct {
    int cfd;
} late_job;

static void *late_request(void *arg)
{
    late_job *j = arg;
    sleep_ms(200);
    uint8_t buf[sizeof REQUEST + 64];
    memcpy(buf, REQUEST, sizeof REQUEST - 1);
    size_t n = sizeof REQUEST - 1 + client_frame(buf + sizeof REQUEST - 1, "late");
    send_bytes(j->cfd, buf, n);
    return NULL;
}

static void check_connecting_calls(void)
{
    wsc_accept_options o = {.nonblocking = true};
    int cfd, sfd = accepted_pair(&cfd);
    wsc_conn *c = NULL;
    CHECK_OK(wsc_accept(sfd, &o, &c));
    CHECK(wsc_get_state(c) == WSC_STATE_CONNECTING, "(e) no request yet: CONNECTING");
    CHECK(wsc_poll_events(c) == POLLIN, "(e) it waits to read");
    CHECK(wsc_fd(c) == sfd, "(e) wsc_fd is the socket");
    wsc_msg_type type;
    const void *data;
    size_t len = 0;
    CHECK(wsc_read(c, 0, &type, &data, &len) == WSC_EAGAIN, "(e) timeout-0 read: WSC_EAGAIN");
    late_job j = {cfd};
    pthread_t th;
    pthread_create(&th, NULL, late_request, &j);
    int r = wsc_read(c, 3000, &type, &data, &len);
    CHECKF(r == 0 && len == 4 && memcmp(data, "late", 4) == 0,
           "(e) a blocking read waits for the handshake, then reads: %s", wsc_strerror(r));
    pthread_join(th, NULL);
    wsc_conn_free(c);
    char buf[512];
    recv_head(cfd, buf, sizeof buf, 1000);
    CHECK(strncmp(buf, "HTTP/1.1 101", 12) == 0, "(e) the client got 101");
    close(cfd);

    sfd = accepted_pair(&cfd);
    CHECK_OK(wsc_accept(sfd, &o, &c));
    CHECK_OK(wsc_close_now(c));
    CHECK(wsc_get_state(c) == WSC_STATE_CLOSED, "(e) wsc_close_now while CONNECTING: CLOSED");
    r = wsc_read(c, 0, &type, &data, &len);
    CHECKF(r == WSC_ECLOSED, "(e) then reads fail with WSC_ECLOSED: %s", wsc_strerror(r));
    wsc_conn_free(c);
    struct pollfd p = {.fd = cfd, .events = POLLIN};
    CHECK(poll(&p, 1, 1000) == 1 && recv(cfd, buf, sizeof buf, 0) == 0,
          "(e) wsc_conn_free closed the socket (the client reads EOF)");
    close(cfd);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    check_one_loop();
    check_request_already_there();
    check_connecting_calls();
    return check_summary("test_accept_nonblocking");
}
