/* SPDX-License-Identifier: MIT */
/* test_accept_hook.c - wsc_accept_options.on_request: what the hook sees of
 * the request (target, headers, offered subprotocols and extensions, peer,
 * fd, TLS), its answers (accept with a chosen subprotocol and headers,
 * refuse with a status, headers and a body), its mistakes (bad headers, a
 * subprotocol not offered, a status that is not one), a nonblocking accept
 * running it, and wsc_accept_with over TLS with the ClientHello's first
 * bytes already read. Raw requests over loopback and wsc_dial as clients. */
#include <openssl/err.h>

#include "check.h"
#include "net.h"
#include "cert.h"

/* What the hook saw and what it is told to do. */
typedef struct {
    int calls;
    char target[128], peer[80], extensions[256], auth[128];
    char protos[8][32];
    size_t n_protos;
    int fd;
    bool tls;
    /* what to do */
    int status;                 /* returned */
    const char *choose;         /* wsc_reply_subprotocol, NULL: not called */
    const char *header_name, *header_value;
    const char *body, *body_type;
    int r_choose, r_header, r_body; /* what the calls returned */
    int r_bad_header, r_content_type, r_crlf;
} hook_log;

static int hook(void *user, const wsc_request *req, wsc_reply *reply)
{
    hook_log *h = user;
    h->calls++;
    snprintf(h->target, sizeof h->target, "%s", req->target);
    snprintf(h->peer, sizeof h->peer, "%s", req->peer);
    snprintf(h->extensions, sizeof h->extensions, "%s", req->extensions);
    h->auth[0] = '\0';
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, "Authorization") == 0)
            snprintf(h->auth, sizeof h->auth, "%s", req->headers[i].value);
    h->n_protos = req->n_subprotocols < 8 ? req->n_subprotocols : 8;
    for (size_t i = 0; i < h->n_protos; i++)
        snprintf(h->protos[i], sizeof h->protos[i], "%s", req->subprotocols[i]);
    h->fd = req->fd;
    h->tls = req->tls;
    if (h->choose)
        h->r_choose = wsc_reply_subprotocol(reply, h->choose);
    if (h->header_name)
        h->r_header = wsc_reply_header(reply, h->header_name, h->header_value);
    if (h->body)
        h->r_body = wsc_reply_body(reply, h->body_type, h->body, strlen(h->body));
    h->r_bad_header = wsc_reply_header(reply, "Upgrade", "h2c");
    h->r_content_type = wsc_reply_header(reply, "content-type", "text/html");
    h->r_crlf = wsc_reply_header(reply, "X-Evil", "a\r\nSet-Cookie: x=1");
    return h->status;
}

/* Serves one raw request `req` to wsc_accept with opts (on a thread) and
 * returns what came back (the head and the body, whatever arrived in
 * 2 s) in resp; *accept_r gets wsc_accept's result. */
static void raw_exchange(const wsc_accept_options *opts, const char *req, char *resp,
                         size_t cap, int *accept_r, int *server_fd)
{
    int port;
    int lfd = listen_local(&port);
    acceptor a = {.lfd = lfd, .opts = opts};
    pthread_t th;
    pthread_create(&th, NULL, accept_thread, &a);
    int fd = connect_local(port);
    send_bytes(fd, req, strlen(req));
    size_t n = 0;
    while (n + 1 < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) != 1)
            break;
        ssize_t got = recv(fd, resp + n, cap - 1 - n, 0);
        if (got <= 0)
            break;
        n += (size_t)got;
        if (strstr(resp, "101 Switching") && strstr(resp, "\r\n\r\n"))
            break;
    }
    resp[n] = '\0';
    pthread_join(th, NULL);
    *accept_r = a.r;
    if (server_fd)
        *server_fd = a.c ? wsc_fd(a.c) : -1;
    wsc_conn_free(a.c);
    close(fd);
    close(lfd);
}

static const char REQUEST[] =
    "GET /room/7?user=ann HTTP/1.1\r\n"
    "Host: 127.0.0.1\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n"
    "Sec-WebSocket-Protocol:  mqtt ,\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n"
    "Authorization: Bearer nope\r\n"
    "\r\n";

static void test_refusal(void)
{
    hook_log h = {.status = 401,
                  .header_name = "WWW-Authenticate",
                  .header_value = "Bearer realm=\"chat\"",
                  .body = "{\"error\":\"bad token\"}",
                  .body_type = "application/json"};
    wsc_accept_options o = {.on_request = hook, .user = &h,
                            .headers = (const wsc_header[]){{"X-Server", "wsc"}}, .n_headers = 1};
    char resp[2048];
    int r;
    raw_exchange(&o, REQUEST, resp, sizeof resp, &r, NULL);
    CHECKF(h.calls == 1, "the hook ran once (%d)", h.calls);
    CHECKF(strcmp(h.target, "/room/7?user=ann") == 0, "target seen: %s", h.target);
    CHECKF(strcmp(h.auth, "Bearer nope") == 0, "headers seen: Authorization %s", h.auth);
    CHECKF(h.n_protos == 3 && strcmp(h.protos[0], "chat.v1") == 0 &&
               strcmp(h.protos[1], "chat.v2") == 0 && strcmp(h.protos[2], "mqtt") == 0,
           "offered subprotocols from both headers, trimmed, in order (%zu)", h.n_protos);
    CHECKF(strcmp(h.extensions,
                  "permessage-deflate; client_max_window_bits, x-webkit-deflate-frame") == 0,
           "offered extensions joined: %s", h.extensions);
    CHECKF(strncmp(h.peer, "127.0.0.1:", 10) == 0 && atoi(h.peer + 10) > 0, "peer: %s", h.peer);
    CHECK(h.fd >= 0 && !h.tls, "fd given, not TLS");
    CHECK(h.r_header == 0 && h.r_body == 0, "header and body taken");
    CHECK(h.r_bad_header == WSC_EINVAL, "a header wsc sets itself is refused");
    CHECK(h.r_content_type == WSC_EINVAL, "Content-Type goes through wsc_reply_body");
    CHECK(h.r_crlf == WSC_EINVAL, "CR LF in a value is refused");
    CHECKF(r == WSC_EHANDSHAKE, "the accept failed with WSC_EHANDSHAKE (%s)", wsc_strerror(r));
    CHECKF(strncmp(resp, "HTTP/1.1 401 Unauthorized\r\n", 27) == 0, "401 sent: %.40s", resp);
    CHECK(strstr(resp, "\r\nWWW-Authenticate: Bearer realm=\"chat\"\r\n"), "with its header");
    CHECK(strstr(resp, "\r\nX-Server: wsc\r\n"), "and the options' header");
    CHECK(strstr(resp, "\r\nContent-Type: application/json\r\n"), "and the body's type");
    CHECK(strstr(resp, "\r\nContent-Length: 21\r\n"), "and its length");
    CHECK(!strstr(resp, "Upgrade: h2c") && !strstr(resp, "Set-Cookie") && !strstr(resp, "text/html"),
          "nothing refused got in");
    const char *body = strstr(resp, "\r\n\r\n");
    CHECKF(body && strcmp(body + 4, "{\"error\":\"bad token\"}") == 0, "the body as given: %s",
           body ? body + 4 : "(none)");
    CHECK(wsc_reply_body(NULL, NULL, "x", 1) == WSC_EINVAL, "a NULL reply is refused");
}

static void test_odd_statuses(void)
{
    static const struct { int returned, sent; const char *line; } cases[] = {
        {429, 429, "HTTP/1.1 429 Too Many Requests\r\n"},
        {302, 302, "HTTP/1.1 302 Found\r\n"},
        {599, 599, "HTTP/1.1 599 Error\r\n"},
        {42, 500, "HTTP/1.1 500 Internal Server Error\r\n"},
        {101, 500, "HTTP/1.1 500 Internal Server Error\r\n"},
        {-1, 500, "HTTP/1.1 500 Internal Server Error\r\n"},
        {600, 500, "HTTP/1.1 500 Internal Server Error\r\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hook_log h = {.status = cases[i].returned};
        wsc_accept_options o = {.on_request = hook, .user = &h};
        char resp[2048];
        int r;
        raw_exchange(&o, REQUEST, resp, sizeof resp, &r, NULL);
        CHECKF(strncmp(resp, cases[i].line, strlen(cases[i].line)) == 0 && r == WSC_EHANDSHAKE,
               "hook returned %d: sent %.40s", cases[i].returned, resp);
        const char *body = strstr(resp, "\r\n\r\n");
        CHECKF(body && strstr(body, wsc_strerror(0)) == NULL && strlen(body + 4) > 1,
               "a default body for %d", cases[i].sent);
    }
}

/* Only requests that passed wsc's own checks reach the hook. */
static void test_not_called_for_bad_requests(void)
{
    hook_log h = {.status = 0};
    const char *origin_pattern[] = {"good.example"};
    wsc_accept_options o = {.on_request = hook, .user = &h,
                            .origin_patterns = origin_pattern, .n_origin_patterns = 1};
    char resp[2048];
    int r;
    raw_exchange(&o, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", resp, sizeof resp, &r, NULL);
    CHECKF(strncmp(resp, "HTTP/1.1 426", 12) == 0 && h.calls == 0,
           "a plain GET gets 426 without the hook (%d calls)", h.calls);
    const char *evil =
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Origin: http://evil.example\r\n\r\n";
    raw_exchange(&o, evil, resp, sizeof resp, &r, NULL);
    CHECKF(strncmp(resp, "HTTP/1.1 403", 12) == 0 && h.calls == 0,
           "a refused Origin gets 403 without the hook (%d calls)", h.calls);
}

/* Accepting: the hook's subprotocol and headers in the 101, seen by wsc_dial. */
static void test_accept_with_choice(void)
{
    const char *supported[] = {"chat.v1"};
    const char *offered[] = {"chat.v1", "chat.v2"};
    for (int round = 0; round < 3; round++) {
        hook_log h = {.status = 0, .header_name = "Set-Cookie", .header_value = "sid=42"};
        h.choose = round == 0 ? "chat.v2" : round == 1 ? "" : "ftp";
        wsc_accept_options ao = {.on_request = hook, .user = &h,
                                 .subprotocols = supported, .n_subprotocols = 1};
        wsc_dial_options dopts = {.subprotocols = offered, .n_subprotocols = 2};
        wsc_conn *client, *server;
        if (!make_pair(&client, &server, &dopts, &ao))
            return;
        const char *want = round == 0 ? "chat.v2" : round == 1 ? "" : "chat.v1";
        CHECKF(strcmp(wsc_subprotocol(client), want) == 0 &&
                   strcmp(wsc_subprotocol(server), want) == 0,
               "round %d: both sides use \"%s\" (client \"%s\", server \"%s\")", round, want,
               wsc_subprotocol(client), wsc_subprotocol(server));
        CHECKF(round < 2 ? h.r_choose == 0 : h.r_choose == WSC_EINVAL,
               "round %d: choosing \"%s\" returned %s", round, h.choose, wsc_strerror(h.r_choose));
        const char *cookie = wsc_handshake_header(client, "Set-Cookie");
        CHECKF(cookie && strcmp(cookie, "sid=42") == 0, "the hook's header reached the client");
        CHECK(wsc_write(client, WSC_TEXT, "hi", 2, 2000) == 0, "a message goes through");
        wsc_msg_type t;
        const void *d;
        size_t n;
        CHECK(wsc_read(server, 2000, &t, &d, &n) == 0 && n == 2, "and arrives");
        wsc_conn_free(client);
        wsc_conn_free(server);
    }
}

/* A nonblocking accept runs the hook from the call that finds the request. */
static void test_nonblocking(void)
{
    hook_log h = {.status = 403};
    wsc_accept_options o = {.on_request = hook, .user = &h, .nonblocking = true};
    int port;
    int lfd = listen_local(&port);
    int cfd = connect_local(port);
    int sfd = accept_tcp(lfd);
    wsc_conn *c = NULL;
    CHECK_OK(wsc_accept(sfd, &o, &c));
    CHECK(h.calls == 0 && wsc_get_state(c) == WSC_STATE_CONNECTING, "no request, no hook yet");
    send_bytes(cfd, REQUEST, strlen(REQUEST));
    int64_t until = now_ms() + 2000;
    while (wsc_get_state(c) == WSC_STATE_CONNECTING && now_ms() < until)
        sleep_ms(5);
    CHECKF(h.calls == 1 && wsc_get_state(c) == WSC_STATE_CLOSED &&
               wsc_conn_error(c) == WSC_EHANDSHAKE,
           "the hook refused it from wsc_get_state (%d calls, %s)", h.calls,
           wsc_strerror(wsc_conn_error(c)));
    CHECKF(strstr(wsc_last_error(), "the accept hook refused the upgrade with 403"),
           "the detail says who refused: %s", wsc_last_error());
    char resp[1024];
    recv_head(cfd, resp, sizeof resp, 2000);
    CHECKF(strncmp(resp, "HTTP/1.1 403 Forbidden", 22) == 0, "403 sent: %.30s", resp);
    wsc_conn_free(c);
    close(cfd);
    close(lfd);
}

/* ---- TLS, with the first bytes already read by the server ---------------- */

typedef struct {
    int lfd;
    wsc_tls_server *srv;
    hook_log *h;
    size_t peek;  /* bytes to read before wsc_accept_with */
    wsc_conn *c;
    int r;
} tls_acceptor;

static void *tls_accept_thread(void *arg)
{
    tls_acceptor *a = arg;
    int fd = accept_tcp(a->lfd);
    unsigned char head[8];
    size_t got = 0;
    while (got < a->peek) {
        ssize_t n = recv(fd, head + got, a->peek - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    wsc_accept_options o = {.tls = a->srv, .on_request = hook, .user = a->h};
    a->r = wsc_accept_with(fd, head, got, &o, &a->c);
    if (a->r != 0) {
        fprintf(stderr, "wsc_accept_with: %s (%s)\n", wsc_strerror(a->r), wsc_last_error());
        close(fd);
    }
    return NULL;
}

static void test_tls_with_head(wsc_tls_server *srv)
{
    for (size_t peek = 0; peek <= 6; peek += 3) {
        hook_log h = {.status = 0};
        int port;
        tls_acceptor a = {.lfd = listen_local(&port), .srv = srv, .h = &h, .peek = peek};
        pthread_t th;
        pthread_create(&th, NULL, tls_accept_thread, &a);
        char url[64];
        snprintf(url, sizeof url, "wss://localhost:%d/secure", port);
        wsc_dial_options d = {.tls.insecure_skip_verify = true};
        wsc_conn *client = NULL;
        int r = wsc_dial(url, &d, &client, NULL);
        pthread_join(th, NULL);
        CHECKF(r == 0 && a.r == 0, "peek %zu: wss dial %s, accept %s", peek, wsc_strerror(r),
               wsc_strerror(a.r));
        CHECKF(h.calls == 1 && h.tls && strcmp(h.target, "/secure") == 0,
               "peek %zu: the hook saw a TLS request for /secure", peek);
        if (r == 0 && a.r == 0) {
            CHECK(wsc_write(client, WSC_BINARY, "abc", 3, 2000) == 0, "write over TLS");
            wsc_msg_type t;
            const void *data;
            size_t n;
            CHECK(wsc_read(a.c, 2000, &t, &data, &n) == 0 && n == 3 && memcmp(data, "abc", 3) == 0,
                  "read over TLS");
        }
        wsc_conn_free(client);
        wsc_conn_free(a.c);
        close(a.lfd);
    }
    /* More than a first flight: refused before anything is read or sent. */
    static unsigned char big[70000];
    wsc_accept_options o = {.tls = srv};
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    wsc_conn *c = NULL;
    CHECK(wsc_accept_with(sv[0], big, sizeof big, &o, &c) == WSC_EINVAL && !c,
          "70000 bytes of TLS head are refused");
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_refusal();
    test_odd_statuses();
    test_not_called_for_bad_requests();
    test_accept_with_choice();
    test_nonblocking();
    if (make_cert() < 0) {
        CHECK(0, "make a certificate");
        return check_summary("test_accept_hook");
    }
    wsc_tls_options so = {.cert_file = cert_path, .key_file = key_path};
    wsc_tls_server *srv = NULL;
    CHECK_OK(wsc_tls_server_new(&so, &srv));
    if (srv)
        test_tls_with_head(srv);
    wsc_tls_server_free(srv);
    unlink(cert_path);
    unlink(key_path);
    return check_summary("test_accept_hook");
}
