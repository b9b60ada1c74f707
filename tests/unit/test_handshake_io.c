/* SPDX-License-Identifier: MIT */
/* test_handshake_io.c - wsc_accept and wsc_dial over real sockets, for what
 * the pure handshake functions cannot show: options are checked before the
 * socket is touched, and error details name the peer the way a user writes
 * it (IPv6 literals in brackets). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wsc.h"
#include "check.h"

static const char REQUEST[] =
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

static bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* Bytes waiting to be read on fd, without reading them (0 when none). */
static ssize_t waiting(int fd)
{
    char buf[1024];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 ? 0 : n;
}

/* wsc_accept on one end of a socketpair that holds a whole upgrade request,
 * with opts; the connection, if one was made, is freed. Returns its result;
 * *unread gets the request bytes wsc_accept left unread, *answered the
 * bytes it sent, *fd_open whether the fd was still open afterwards. */
static int accept_with(const wsc_accept_options *opts, ssize_t *unread, ssize_t *answered,
                       bool *fd_open)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 1;
    send(sv[1], REQUEST, sizeof REQUEST - 1, 0);
    wsc_conn *c = NULL;
    int r = wsc_accept(sv[0], opts, &c);
    *unread = waiting(sv[0]);
    *answered = waiting(sv[1]);
    *fd_open = fcntl(sv[0], F_GETFD) != -1;
    if (c)
        wsc_conn_free(c); /* closes sv[0] */
    else
        close(sv[0]);
    close(sv[1]);
    return r;
}

/* Issue 9 item 12: extra response headers with CR/LF, or with a name wsc
 * sets itself, are refused with WSC_EINVAL before anything is read or sent;
 * fd stays open for the caller. */
static void test_accept_refuses_bad_headers(void)
{
    static const wsc_header bad[] = {
        {"X-A", "v\r\nX-Evil: 1"}, {"X-A", "v\n"}, {"X-A", "v\r"}, {"X-A\r\nX-Evil", "1"},
        {"X-A\n", "1"}, {"", "1"}, {"X:A", "1"}, {"X A", "1"}, {NULL, "1"}, {"X-A", NULL},
        {"X-A", "bell\a"},
        {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}, {"upgrade", "h2c"},
        {"Connection", "close"}, {"Sec-WebSocket-Protocol", "chat"},
        {"sec-websocket-extensions", "permessage-deflate"}, {"Sec-WebSocket-Key", "x"},
        {"Sec-WebSocket-Version", "13"}, {"Content-Length", "5"},
        {"Transfer-Encoding", "chunked"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wsc_header hs[] = {{"X-Fine", "1"}, bad[i]};
        wsc_accept_options o = {.headers = hs, .n_headers = 2, .handshake_timeout_ms = 1000};
        ssize_t unread, answered;
        bool fd_open;
        int r = accept_with(&o, &unread, &answered, &fd_open);
        CHECKF(r == WSC_EINVAL && wsc_last_error()[0],
               "extra header #%zu (%s) refused with WSC_EINVAL (got %s: %s)", i,
               bad[i].name ? bad[i].name : "NULL", wsc_strerror(r), wsc_last_error());
        CHECKF(unread == (ssize_t)sizeof REQUEST - 1 && answered == 0,
               "extra header #%zu: nothing read (%zd of %zu left) and nothing sent (%zd)", i, unread,
               sizeof REQUEST - 1, answered);
        CHECKF(fd_open, "extra header #%zu: fd left open", i);
    }

    wsc_accept_options o = {.n_headers = 1, .handshake_timeout_ms = 1000};
    ssize_t unread, answered;
    bool fd_open;
    CHECK(accept_with(&o, &unread, &answered, &fd_open) == WSC_EINVAL && fd_open && !answered,
          "n_headers 1 with headers NULL is refused");

    const char *bad_protos[] = {"a b"};
    wsc_accept_options po = {.subprotocols = bad_protos, .n_subprotocols = 1};
    CHECK(accept_with(&po, &unread, &answered, &fd_open) == WSC_EINVAL && fd_open && !answered,
          "a subprotocol with a space is refused");

    /* Good headers go out with the 101. */
    wsc_header good[] = {{"X-Server", "wsc"}, {"Set-Cookie", "a=b; Path=/"}};
    wsc_accept_options go = {.headers = good, .n_headers = 2};
    CHECK(accept_with(&go, &unread, &answered, &fd_open) == 0 && answered > 0,
          "good extra headers: the upgrade succeeds");
}

/* Issue 9 item 13: an IPv6 literal is named "[::1]:port" in dial errors. */
static void test_dial_names_ipv6_in_brackets(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        printf("test_handshake_io: no IPv6 loopback, IPv6 message test skipped\n");
        if (fd >= 0)
            close(fd);
        return;
    }
    int port = ntohs(a.sin6_port);
    close(fd); /* nothing listens there now: the connection is refused */
    char url[64], want[32];
    snprintf(url, sizeof url, "ws://[::1]:%d/", port);
    snprintf(want, sizeof want, "[::1]:%d", port);
    wsc_dial_options o = {.proxy = "", .handshake_timeout_ms = 2000};
    wsc_conn *c = NULL;
    int r = wsc_dial(url, &o, &c, NULL);
    CHECKF(r == WSC_ECONNECT && contains(wsc_last_error(), want),
           "a refused dial to %s names \"%s\" (got %s: %s)", url, want, wsc_strerror(r),
           wsc_last_error());
    wsc_conn_free(c);
}

int main(void)
{
    test_accept_refuses_bad_headers();
    test_dial_names_ipv6_in_brackets();
    return check_summary("test_handshake_io");
}
