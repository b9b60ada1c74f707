/* SPDX-License-Identifier: MIT */
/* fuzz_read_client.c - libFuzzer target for the client-side receive path.
 *
 * Input: one mode byte, then raw bytes a server sends after its 101 response.
 * A listening socket on 127.0.0.1 lives for the whole run. For each input a
 * fake-server thread accepts one connection, reads the client's upgrade
 * request, answers 101 with the right Sec-WebSocket-Accept for the key the
 * client sent (and the subprotocol when one was offered), then writes the
 * input bytes, shuts down its writing side and discards whatever the client
 * sends until end of stream. The main thread dials with wsc_dial and reads:
 * wsc_read with timeout -1 until failure (first byte bit 7 clear) or the
 * streaming reader with timeout 1000 and a small buffer (bit 7 set).
 * Mode bits 0-2: read limit; 3-4: dial variant (blocking; nonblocking dial
 * driven by wsc_get_state; blocking with a subprotocol; 101 and frames in
 * separate writes); 5-6: streaming buffer size. The body's length modulo 3
 * picks permessage-deflate (see DEFLATE): off, context takeover, or no
 * context takeover with 9-bit windows, so compressed messages (RSV1) go
 * through the client's inflate.
 *
 * Checked: messages are TEXT or BINARY within the limit, text is valid
 * NUL-terminated UTF-8, the final error is never a timeout, the close status
 * is -1, 1005 or a code, a failed connection stays failed, and everything is
 * freed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wsc.h"
#include "common/utf8.h"
#include "proto/handshake.h"
#include "proto/http.h"
#include "fuzz_common.h"

static const int64_t LIMITS[8] = {-2 /* default */, 0, 1, 125, 126, 4096, 65535, -1};
static const size_t CAPS[4] = {1, 3, 64, 4096};

static int g_listener = -1;
static char g_url[64];

static void setup_listener(void)
{
    if (g_listener >= 0)
        return;
    g_listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT(g_listener >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT(bind(g_listener, (struct sockaddr *)&a, sizeof a) == 0);
    ASSERT(listen(g_listener, 16) == 0);
    socklen_t len = sizeof a;
    ASSERT(getsockname(g_listener, (struct sockaddr *)&a, &len) == 0);
    snprintf(g_url, sizeof g_url, "ws://127.0.0.1:%d/fuzz", ntohs(a.sin_port));
}

typedef struct {
    const uint8_t *body;
    size_t body_len;
    const char *extensions;  /* the Sec-WebSocket-Extensions line, or "" */
    bool split;       /* 101 and frames in separate writes */
} fake_server;

static void send_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void *serve(void *arg)
{
    fake_server *s = arg;
    int fd;
    do
        fd = accept(g_listener, NULL, NULL);
    while (fd < 0 && errno == EINTR);
    ASSERT(fd >= 0);
    /* Close with a reset at the end: no TIME_WAIT pile-up over millions of runs. */
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);

    char req[4096];
    size_t n = 0, end = 0;
    while (!(end = wsc__http_head_end(req, n))) {
        ASSERT(n < sizeof req);
        ssize_t r = recv(fd, req + n, sizeof req - n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        ASSERT(r > 0);
        n += (size_t)r;
    }
    wsc_http_head h;
    char err[200];
    ASSERT(wsc__http_parse(req, end, true, &h, err, sizeof err) == 0);
    const char *key = wsc__http_get(&h, "Sec-WebSocket-Key");
    ASSERT(key && wsc__hs_key_valid(key));
    char accept_value[29];
    wsc__hs_accept_key(key, accept_value);
    bool proto = wsc__http_has_token(&h, "Sec-WebSocket-Protocol", "chat");
    ASSERT(!s->extensions[0] || wsc__http_get(&h, "Sec-WebSocket-Extensions"));
    wsc__http_free(&h);

    char head[512];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 101 Switching Protocols\r\n"
                      "Upgrade: websocket\r\n"
                      "Connection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: %s\r\n"
                      "%s%s"
                      "\r\n",
                      accept_value, proto ? "Sec-WebSocket-Protocol: chat\r\n" : "", s->extensions);
    if (s->split) {
        send_all(fd, head, (size_t)hl);
        send_all(fd, s->body, s->body_len);
    } else {
        uint8_t *all = malloc((size_t)hl + s->body_len + 1);
        ASSERT(all);
        memcpy(all, head, (size_t)hl);
        memcpy(all + hl, s->body, s->body_len);
        send_all(fd, all, (size_t)hl + s->body_len);
        free(all);
    }
    shutdown(fd, SHUT_WR);
    char sink[4096];
    for (;;) {
        ssize_t r = recv(fd, sink, sizeof sink, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
    }
    close(fd);
    return NULL;
}

static void check_message(wsc_msg_type type, const uint8_t *p, size_t n, int64_t limit)
{
    ASSERT(type == WSC_TEXT || type == WSC_BINARY);
    if (limit >= 0)
        ASSERT((int64_t)n <= limit);
    if (type == WSC_TEXT && n > 0)
        ASSERT(wsc__utf8_feed(WSC_UTF8_ACCEPT, p, n) == WSC_UTF8_ACCEPT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    setup_listener();
    uint8_t mode = data[0];
    int variant = (mode >> 3) & 3;
    /* permessage-deflate: our offer and the fake server's answer. */
    static const struct {
        wsc_compression mode;
        const char *answer;
    } DEFLATE[3] = {
        {WSC_COMPRESSION_DISABLED, ""},
        {WSC_COMPRESSION_CONTEXT_TAKEOVER, "Sec-WebSocket-Extensions: permessage-deflate\r\n"},
        {WSC_COMPRESSION_NO_CONTEXT_TAKEOVER,
         "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
         "client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9\r\n"},
    };
    size_t pick = (size - 1) % 3;
    fake_server s = {.body = data + 1, .body_len = size - 1, .split = variant == 3,
                     .extensions = DEFLATE[pick].answer};
    pthread_t th;
    ASSERT(pthread_create(&th, NULL, serve, &s) == 0);

    static const char *const protos[] = {"chat"};
    wsc_dial_options o = {.handshake_timeout_ms = 5000, .compression = DEFLATE[pick].mode,
                          .compression_threshold = -1};
    if (variant == 2) {
        o.subprotocols = protos;
        o.n_subprotocols = 1;
    }
    o.nonblocking = variant == 1;
    wsc_conn *c = NULL;
    int r = wsc_dial(g_url, &o, &c, NULL);
    if (r != 0)
        fprintf(stderr, "dial failed: %s: %s\n", wsc_strerror(r), wsc_last_error());
    ASSERT(r == 0 && c);
    if (variant == 1) {
        int spins = 0;
        while (wsc_get_state(c) == WSC_STATE_CONNECTING) {
            ASSERT(++spins < 5000);
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
        ASSERT(wsc_get_state(c) == WSC_STATE_OPEN);
    }
    ASSERT(strcmp(wsc_subprotocol(c), variant == 2 ? "chat" : "") == 0);

    int64_t limit = LIMITS[mode & 7];
    if (limit != -2)
        wsc_set_read_limit(c, limit);
    else
        limit = 32768;

    if (!(mode & 0x80)) {
        for (;;) {
            wsc_msg_type type;
            const void *msg;
            size_t len;
            r = wsc_read(c, -1, &type, &msg, &len); /* blocking system calls */
            if (r < 0)
                break;
            check_message(type, msg, len, limit);
            ASSERT(((const char *)msg)[len] == '\0');
        }
    } else {
        size_t cap = CAPS[(mode >> 5) & 3];
        uint8_t *buf = malloc(cap);
        uint8_t *whole = NULL;
        size_t whole_len = 0;
        ASSERT(buf);
        for (;;) {
            wsc_msg_type type;
            r = wsc_reader_next(c, 1000, &type);
            if (r < 0)
                break;
            whole_len = 0;
            ptrdiff_t n;
            while ((n = wsc_reader_read(c, buf, cap, 1000)) > 0) {
                uint8_t *p = realloc(whole, whole_len + (size_t)n);
                ASSERT(p);
                whole = p;
                memcpy(whole + whole_len, buf, (size_t)n);
                whole_len += (size_t)n;
            }
            if (n < 0) {
                r = (int)n;
                break;
            }
            check_message(type, whole, whole_len, limit);
        }
        free(whole);
        free(buf);
    }
    ASSERT(r == WSC_ECLOSED || r == WSC_EPROTO || r == WSC_EMSGSIZE || r == WSC_EIO);
    int st = wsc_close_status(c);
    ASSERT(st == -1 || st == 1005 || (st >= 1000 && st <= 4999));
    /* Once failed, the connection stays failed. */
    {
        wsc_msg_type t;
        const void *d;
        size_t l;
        ASSERT(wsc_read(c, 0, &t, &d, &l) < 0);
    }
    wsc_conn_free(c);
    pthread_join(th, NULL);
    return 0;
}
