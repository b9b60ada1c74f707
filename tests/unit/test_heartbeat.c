/* SPDX-License-Identifier: MIT */
/* test_heartbeat.c - heartbeat_ms and idle_timeout_ms driven from an event
 * loop: wsc_next_timeout says when a timeout-0 read must be made, that read
 * sends the ping, a pong resets the clock, and silence after the ping ends
 * the connection with WSC_ECLOSED and the detail. Then a peer that reads a
 * long message slowly while our ping cannot go out (the writer holds the
 * line): its reading keeps the connection alive. */
#include <stdlib.h>

#include "check.h"
#include "net.h"

static int g_pings;

static bool count_ping(void *user, const void *payload, size_t len)
{
    (void)user, (void)payload, (void)len;
    g_pings++;
    return true;
}

/* Reads with timeout 0 once wsc_next_timeout(c) says it is time. */
static int read_when_due(wsc_conn *c)
{
    int ms = wsc_next_timeout(c);
    if (ms > 0)
        sleep_ms(ms);
    wsc_msg_type t;
    const void *d;
    size_t n;
    return wsc_read(c, 0, &t, &d, &n);
}

/* A raw peer that drains `want` bytes slowly (16 KiB every 2 ms) and never
 * sends anything, a pong included. */
typedef struct {
    int fd;
    size_t want, got;
} drainer;

static void *drain(void *arg)
{
    drainer *d = arg;
    static char buf[16384];
    while (d->got < d->want) {
        struct pollfd p = {.fd = d->fd, .events = POLLIN};
        if (poll(&p, 1, 5000) != 1)
            break;
        size_t room = d->want - d->got < sizeof buf ? d->want - d->got : sizeof buf;
        ssize_t n = recv(d->fd, buf, room, 0); /* not into the ping that follows */
        if (n <= 0)
            break;
        d->got += (size_t)n;
        sleep_ms(2);
    }
    return NULL;
}

/* Reads the server's side until it ends: the result, and its detail (the
 * detail is per thread). */
typedef struct {
    wsc_conn *c;
    int r;
    char detail[256];
} reader_end;

static void *read_until_end(void *arg)
{
    reader_end *e = arg;
    wsc_msg_type t;
    const void *d;
    size_t n;
    e->r = wsc_read(e->c, -1, &t, &d, &n);
    snprintf(e->detail, sizeof e->detail, "%s", wsc_last_error());
    return NULL;
}

/* A blocking write of 4 MiB to a peer that reads it at 8 MB/s takes longer
 * than the idle timeout (250 ms), and our ping cannot go out meanwhile: the
 * writer holds the line. The peer taking our bytes is a sign of life, so
 * the write completes; the silence is counted once it is done. */
static void slow_reader_during_long_write(void)
{
    int port, lfd = listen_local(&port);
    int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 32768;
    setsockopt(cfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(lfd >= 0 && connect(cfd, (struct sockaddr *)&a, sizeof a) == 0, "raw peer connected");
    static const char req[] = "GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";
    CHECK(send_bytes(cfd, req, sizeof req - 1) == 0, "request sent");
    int sfd = accept_tcp(lfd);
    setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    wsc_accept_options o = {.heartbeat_ms = 100, .idle_timeout_ms = 250};
    wsc_conn *server = NULL;
    int r = wsc_accept(sfd, &o, &server);
    CHECKF(r == 0, "accepted: %s", wsc_strerror(r));
    char head[512];
    CHECK(recv_head(cfd, head, sizeof head, 2000) > 0 && strstr(head, " 101 "), "the peer got its 101");
    if (r != 0) {
        close(cfd);
        close(lfd);
        return;
    }
    pthread_t reader, drainer_th;
    reader_end end = {.c = server};
    pthread_create(&reader, NULL, read_until_end, &end);
    size_t len = 4u << 20;
    drainer d = {.fd = cfd, .want = len + 10}; /* 10: the frame's header */
    pthread_create(&drainer_th, NULL, drain, &d);
    uint8_t *msg = calloc(1, len);
    int64_t t0 = now_ms();
    r = wsc_write(server, WSC_BINARY, msg, len, -1);
    int64_t took = now_ms() - t0;
    CHECKF(r == 0, "the long write completes: %s (%s)", wsc_strerror(r), wsc_last_error());
    CHECKF(took > 300, "it took longer than the idle timeout (%lld ms)", (long long)took);
    pthread_join(drainer_th, NULL);
    CHECKF(d.got == d.want, "the peer got the whole frame (%zu of %zu bytes)", d.got, d.want);
    /* Now the ping goes out, the peer never answers, and it is cut. */
    pthread_join(reader, NULL);
    CHECKF(end.r == WSC_ECLOSED && strstr(end.detail, "no pong within"),
           "then the silent peer is cut: %s (%s)", wsc_strerror(end.r), end.detail);
    free(msg);
    wsc_conn_free(server);
    close(cfd);
    close(lfd);
}

int main(void)
{
    wsc_dial_options dopts = {.on_ping = count_ping};
    wsc_accept_options aopts = {.heartbeat_ms = 100};
    wsc_conn *client, *server;
    if (!make_pair(&client, &server, &dopts, &aopts))
        return check_summary("test_heartbeat");
    CHECK(wsc_next_timeout(client) == -1, "no heartbeat on the client: -1");
    int ms = wsc_next_timeout(server);
    CHECKF(ms > 0 && ms <= 100, "the server's ping is due within 100 ms (%d)", ms);
    CHECK(wsc_next_timeout(NULL) == -1, "NULL: -1");

    /* Due: the read sends the ping; the client's reader answers it. */
    int64_t t0 = now_ms();
    CHECK(read_when_due(server) == WSC_EAGAIN, "the due read finds nothing (and pings)");
    CHECKF(now_ms() - t0 >= 90, "not before it was due (%lld ms)", (long long)(now_ms() - t0));
    wsc_msg_type t;
    const void *d;
    size_t n;
    CHECK(wsc_read(client, 200, &t, &d, &n) == WSC_ETIMEDOUT && g_pings == 1,
          "the client got one ping and answered it");
    ms = wsc_next_timeout(server);
    CHECKF(ms >= 0 && ms <= 100, "after the ping the end is due within 100 ms (%d)", ms);
    CHECK(wsc_read(server, 0, &t, &d, &n) == WSC_EAGAIN, "the server reads the pong");
    ms = wsc_next_timeout(server);
    CHECKF(ms > 50 && ms <= 100, "the pong reset the clock: next ping in %d ms", ms);

    /* The client stops reading: one more ping, then the end. */
    t0 = now_ms();
    int r = 0;
    for (int i = 0; i < 10 && (r = read_when_due(server)) == WSC_EAGAIN; i++) {
    }
    int64_t took = now_ms() - t0;
    CHECKF(r == WSC_ECLOSED, "the silent client is cut: %s", wsc_strerror(r));
    CHECKF(strstr(wsc_last_error(), "no pong within") != NULL, "detail: %s", wsc_last_error());
    CHECKF(took >= 180 && took < 1000, "after the ping's 100 ms and the end's 100 ms (%lld)",
           (long long)took);
    CHECK(wsc_next_timeout(server) == -1, "closed: -1");
    CHECK(wsc_conn_error(server) == WSC_ECLOSED, "wsc_conn_error says so too");
    /* The client finds our 1001 and the reason. */
    r = wsc_read(client, 1000, &t, &d, &n);
    CHECKF(r == WSC_ECLOSED && wsc_close_status(client) == 1001 &&
               strstr(wsc_close_reason(client), "no pong within"),
           "the client saw 1001 (%d %s)", wsc_close_status(client), wsc_close_reason(client));
    CHECK(g_pings == 2, "two pings in all");
    wsc_conn_free(client);
    wsc_conn_free(server);
    slow_reader_during_long_write();
    return check_summary("test_heartbeat");
}
