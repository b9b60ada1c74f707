/* SPDX-License-Identifier: MIT */
/* test_partial_write - writes with timeout 0 that only partly fit in the
 * socket: the rest is kept and sent later, and the peer receives every frame
 * exactly once, whole (server side: header and payload sent separately;
 * client side: masked). Also: no data frame may follow our close frame. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wsc.h"
#include "check.h"

static const char REQUEST[] =
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/* Reads from fd until `want` bytes came or nothing arrives for 2 s. */
static size_t read_all(int fd, unsigned char *buf, size_t want)
{
    size_t got = 0;
    while (got < want) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) != 1)
            break;
        ssize_t n = recv(fd, buf + got, want - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

int main(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 1;
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    send(sv[1], REQUEST, sizeof REQUEST - 1, 0);
    wsc_conn *c;
    CHECK(wsc_accept(sv[0], NULL, &c) == 0, "accept over a socketpair");
    unsigned char head[512];
    ssize_t hn = recv(sv[1], head, sizeof head, 0); /* the 101 response */
    CHECK(hn > 12 && memcmp(head, "HTTP/1.1 101", 12) == 0, "101 response");

    enum { LEN = 200000 };
    unsigned char *msg = malloc(LEN), *wire = malloc(2 * LEN);
    for (size_t i = 0; i < LEN; i++)
        msg[i] = (unsigned char)(i % 251);
    int r = wsc_write(c, WSC_BINARY, msg, LEN, 0);
    CHECKF(r == 0, "a timeout-0 write that only partly fits is accepted (got %s)", wsc_strerror(r));
    CHECK(wsc_want_write(c), "the rest is pending");

    /* The peer drains while we flush; then one more small message. */
    size_t got = 0;
    for (int i = 0; i < 2000 && (wsc_want_write(c) || got < LEN + 10); i++) {
        wsc_flush(c, 0);
        got += read_all(sv[1], wire + got, LEN + 10 - got);
    }
    CHECKF(got == LEN + 10, "the peer got exactly one frame of %d bytes (%zu)", LEN + 10, got);
    CHECK(wire[0] == 0x82 && wire[1] == 127, "header: FIN binary, 64-bit length");
    CHECK(memcmp(wire + 10, msg, LEN) == 0, "payload intact, no repeated header inside");
    CHECK(!wsc_want_write(c), "nothing pending afterwards");

    /* After our close frame no data frame may go out. */
    send(sv[1], "\x88\x82\0\0\0\0\x03\xe8", 8, 0); /* the peer closes 1000 */
    wsc_msg_type type;
    const void *data;
    size_t len;
    r = wsc_read(c, 1000, &type, &data, &len);
    CHECKF(r == WSC_ECLOSED && wsc_close_status(c) == 1000, "peer close read (%s, %d)",
           wsc_strerror(r), wsc_close_status(c));
    r = wsc_write(c, WSC_TEXT, "late", 4, 1000);
    CHECK(r == WSC_ECLOSED, "a write after the close handshake fails with WSC_ECLOSED");
    size_t n = read_all(sv[1], wire, 64);
    CHECKF(n == 4 && wire[0] == 0x88 && wire[2] == 0x03 && wire[3] == 0xe8,
           "the peer got our close echo and nothing after it (%zu bytes)", n);
    wsc_conn_free(c);
    close(sv[1]);
    free(msg);
    free(wire);
    return check_summary("test_partial_write");
}
