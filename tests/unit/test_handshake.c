/* SPDX-License-Identifier: MIT */
/* test_handshake.c - the opening handshake as pure functions: accept keys,
 * key validity, the client's request, checking the server's response and
 * the client's request, the server's answers, origins and globs. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsc.h"
#include "proto/url.h"
#include "proto/handshake.h"
#include "proto/http.h"
#include "check.h"

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_accept_key(void)
{
    char out[29];
    memset(out, 'x', sizeof out);
    wsc__hs_accept_key(RFC_KEY, out);
    CHECK(streq(out, RFC_ACCEPT), "RFC 6455 example key gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(strlen(out) == 28, "accept value is 28 characters");

    /* A second known value (from Python: base64(sha1(key + GUID))). */
    wsc__hs_accept_key("AAAAAAAAAAAAAAAAAAAAAA==", out);
    CHECK(strlen(out) == 28 && !streq(out, RFC_ACCEPT), "another key gives another value");

    char key[25];
    memset(key, 'x', sizeof key);
    unsigned char more[64] = {0}, more2[64] = {0}, zero[64] = {0};
    CHECK(wsc__hs_new_key(key, more, sizeof more) == 0, "wsc__hs_new_key succeeds");
    CHECK(strlen(key) == 24 && wsc__hs_key_valid(key), "a new key is 24 characters of valid base64");
    char key2[25];
    CHECK(wsc__hs_new_key(key2, more2, sizeof more2) == 0 && !streq(key, key2), "two new keys differ");
    CHECK(memcmp(more, zero, sizeof more) != 0 && memcmp(more, more2, sizeof more) != 0,
          "the extra random bytes (masking keys) are filled, and differ between calls");
    CHECK(wsc__hs_new_key(key, NULL, 0) == 0 && wsc__hs_key_valid(key), "no extra bytes asked for");
}

static void test_key_valid(void)
{
    static const struct {
        const char *key;
        bool ok;
    } cases[] = {
        {RFC_KEY, true},
        {"AAAAAAAAAAAAAAAAAAAAAA==", true},
        {"/+/+/+/+/+/+/+/+/+/+/w==", true},
        {"0123456789abcdefABCDEg==", true},
        {"", false},
        {"dGhlIHNhbXBsZSBub25jZQ=", false},     /* 23 */
        {"dGhlIHNhbXBsZSBub25jZQ===", false},   /* 25 */
        {"dGhlIHNhbXBsZSBub25jZQ", false},      /* no padding */
        {"dGhlIHNhbXBsZSBub25jZQAA", false},    /* 18 bytes, no padding */
        {"dGhlIHNhbXBsZSBub25jZQ==\r", false},
        {" dGhlIHNhbXBsZSBub25jZQ==", false},
        {"dGhlIHNhbXBsZSBub25jZ===", false},    /* '=' at 21 */
        {"dGhlIHNhbXBsZSBub25jZQ=A", false},
        {"dGhlIHNhbXBsZSBub25j!Q==", false},
        {"dGhlIHNhbXBsZSBub25j-Q==", false},    /* base64url */
        {"dGhlIHNhbXBsZSBub25j_Q==", false},
        {"dGhlIHNhbXBsZSBub25j Q==", false},
        {"dGhlIHNhbXBsZSBub25j\xc3\xa9==", false},
        {"dGhlIHNhbXBsZSBub25jZSE=", false},    /* 17 bytes */
        {"dGhlIHNhbXBsZSBub25jZSEhIQ==", false},/* 20 bytes */
        {"dGhlIHNhbXBsZQ==", false},            /* 10 bytes */
        {"========================", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECKF(wsc__hs_key_valid(cases[i].key) == cases[i].ok, "key \"%s\" is %s", cases[i].key,
               cases[i].ok ? "valid" : "invalid");
}

/* Builds the client request for url with o; NULL when it is refused. */
static char *client_request(const char *url, const wsc_dial_options *o, char *err, size_t err_size)
{
    wsc_url u;
    char uerr[128];
    if (wsc__url_parse(url, &u, uerr, sizeof uerr) != 0) {
        snprintf(err, err_size, "url: %s", uerr);
        return NULL;
    }
    size_t len = 0;
    err[0] = '\0';
    char *req = wsc__hs_client_request(&u, o, RFC_KEY, &len, err, err_size);
    if (req && len != strlen(req)) {
        CHECK(0, "request length matches strlen");
    }
    wsc__url_free(&u);
    return req;
}

static void test_client_request(void)
{
    char err[300];
    wsc_dial_options o = {0};

    char *req = client_request("ws://example.com:8080/chat?x=1#frag", &o, err, sizeof err);
    CHECK(req != NULL, "plain request builds");
    if (req) {
        CHECK(strncmp(req, "GET /chat?x=1 HTTP/1.1\r\n", 24) == 0, "request line with path and query, no fragment");
        CHECK(contains(req, "\r\nHost: example.com:8080\r\n"), "Host with the non-default port");
        wsc_http_head h;
        size_t end = wsc__http_head_end(req, strlen(req));
        CHECK(end == strlen(req), "request is exactly one head ending in a blank line");
        int r = wsc__http_parse(req, end, true, &h, err, sizeof err);
        CHECK(r == 0, "request parses");
        if (r == 0) {
            CHECK(streq(h.method, "GET") && streq(h.target, "/chat?x=1"), "method and target");
            CHECK(wsc__http_has_token(&h, "Upgrade", "websocket"), "Upgrade: websocket");
            CHECK(wsc__http_has_token(&h, "Connection", "Upgrade"), "Connection: Upgrade");
            CHECK(streq(wsc__http_get(&h, "Sec-WebSocket-Key"), RFC_KEY), "the key");
            CHECK(streq(wsc__http_get(&h, "Sec-WebSocket-Version"), "13"), "version 13");
            CHECK(!wsc__http_get(&h, "Sec-WebSocket-Protocol"), "no subprotocol header when none offered");
            CHECK(!wsc__http_get(&h, "Sec-WebSocket-Extensions"), "no extensions offered");
            /* And a server accepts it. */
            wsc_accept_options ao = {0};
            const char *proto = NULL;
            CHECK(wsc__hs_check_request(&h, &ao, &proto, err, sizeof err) == 0 && streq(proto, ""),
                  "our own request passes wsc__hs_check_request");
            wsc__http_free(&h);
        }
        free(req);
    }

    req = client_request("ws://example.com/", &o, err, sizeof err);
    CHECK(req && contains(req, "\r\nHost: example.com\r\n"), "default port not in Host");
    free(req);
    req = client_request("http://example.com:80", &o, err, sizeof err);
    CHECK(req && strncmp(req, "GET / HTTP/1.1\r\n", 16) == 0 && contains(req, "\r\nHost: example.com\r\n"),
          "http:// with :80, empty path -> GET /");
    free(req);
    req = client_request("ws://[::1]:9001/x", &o, err, sizeof err);
    CHECK(req && contains(req, "\r\nHost: [::1]:9001\r\n"), "IPv6 Host header in brackets with port");
    free(req);
    req = client_request("ws://[2001:db8::1]/", &o, err, sizeof err);
    CHECK(req && contains(req, "\r\nHost: [2001:db8::1]\r\n"), "IPv6 Host header without port");
    free(req);

    /* Subprotocols, in order. */
    const char *protos[] = {"chat.v2", "chat", "superchat"};
    o.subprotocols = protos;
    o.n_subprotocols = 3;
    req = client_request("ws://h/", &o, err, sizeof err);
    CHECK(req && contains(req, "\r\nSec-WebSocket-Protocol: chat.v2, chat, superchat\r\n"),
          "subprotocol list in order");
    free(req);
    const char *bad_protos[][1] = {{""}, {"a b"}, {"a,b"}, {"a\r\nX: y"}, {"a\tb"}};
    for (size_t i = 0; i < sizeof bad_protos / sizeof bad_protos[0]; i++) {
        o.subprotocols = bad_protos[i];
        o.n_subprotocols = 1;
        req = client_request("ws://h/", &o, err, sizeof err);
        CHECKF(!req && err[0], "subprotocol \"%s\" refused", bad_protos[i][0]);
        free(req);
    }
    const char *null_proto[] = {NULL};
    o.subprotocols = null_proto;
    req = client_request("ws://h/", &o, err, sizeof err);
    CHECK(!req && err[0], "NULL subprotocol refused");
    free(req);
    o.subprotocols = NULL;
    o.n_subprotocols = 0;

    /* Extra headers. */
    wsc_header extra[] = {{"Origin", "http://example.com"}, {"X-Custom", "a, b"},
                          {"Authorization", "Bearer t0k3n"}};
    o.headers = extra;
    o.n_headers = 3;
    req = client_request("ws://h:81/", &o, err, sizeof err);
    CHECK(req && contains(req, "\r\nOrigin: http://example.com\r\n") && contains(req, "\r\nX-Custom: a, b\r\n") &&
              contains(req, "\r\nAuthorization: Bearer t0k3n\r\n"),
          "extra headers are sent");
    CHECK(req && count_of(req, "\r\n\r\n") == 1 && strlen(req) > 4 &&
              strcmp(req + strlen(req) - 4, "\r\n\r\n") == 0,
          "extra headers come before the single blank line");
    free(req);

    /* User info: Basic Authorization (RFC 7617's example), unless a header has one. */
    req = client_request("ws://Aladdin:open%20sesame@h/", &o, err, sizeof err);
    CHECK(req && contains(req, "\r\nAuthorization: Bearer t0k3n\r\n") && count_of(req, "Authorization") == 1,
          "an Authorization header wins over the URL's user info");
    free(req);
    o.n_headers = 2;
    req = client_request("ws://Aladdin:open%20sesame@h/", &o, err, sizeof err);
    CHECK(req && contains(req, "\r\nAuthorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n") &&
              !contains(req, "Aladdin"),
          "the URL's user info becomes Basic Authorization");
    free(req);
    req = client_request("ws://user@h/", &o, err, sizeof err);
    CHECK(req && contains(req, "\r\nAuthorization: Basic dXNlcjo=\r\n"), "user without password");
    free(req);

    /* Host: the override and a Host among the extra headers replace the URL's. */
    o.headers = NULL;
    o.n_headers = 0;
    o.host = "virtual.example:1234";
    req = client_request("ws://127.0.0.1:81/", &o, err, sizeof err);
    CHECK(req && contains(req, "\r\nHost: virtual.example:1234\r\n") && count_of(req, "Host:") == 1,
          "Host override");
    free(req);
    o.host = "a\r\nX-Evil: 1";
    req = client_request("ws://h/", &o, err, sizeof err);
    CHECK(!req && err[0], "Host override with CRLF refused");
    free(req);
    o.host = "";
    req = client_request("ws://h/", &o, err, sizeof err);
    CHECK(!req && err[0], "empty Host override refused");
    free(req);
    o.host = NULL;
    wsc_header host_hdr[] = {{"host", "other.example"}};
    o.headers = host_hdr;
    o.n_headers = 1;
    req = client_request("ws://h/", &o, err, sizeof err);
    CHECK(req && contains(req, "\r\nhost: other.example\r\n") && count_of(req, "ost:") == 1,
          "a Host among the extra headers replaces the URL's");
    free(req);

    /* Reserved headers, any case. */
    static const char *const reserved[] = {
        "Upgrade", "connection", "Sec-WebSocket-Key", "SEC-WEBSOCKET-VERSION",
        "Sec-WebSocket-Extensions", "sec-websocket-protocol", "Sec-WebSocket-Accept",
    };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        wsc_header hs[] = {{"X-Fine", "1"}, {reserved[i], "x"}};
        o.headers = hs;
        o.n_headers = 2;
        req = client_request("ws://h/", &o, err, sizeof err);
        CHECKF(!req && err[0], "reserved header %s refused", reserved[i]);
        free(req);
    }

    /* Injection and malformed headers. */
    static const wsc_header bad[] = {
        {"X-A", "v\r\nX-Evil: 1"}, {"X-A", "v\n"}, {"X-A", "v\r"}, {"X-A\r\nX-Evil", "1"},
        {"X-A\n", "1"}, {"", "1"}, {"X:A", "1"}, {NULL, "1"}, {"X-A", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.headers = &bad[i];
        o.n_headers = 1;
        req = client_request("ws://h/", &o, err, sizeof err);
        CHECKF(!req && err[0], "bad extra header #%zu refused", i);
        free(req);
    }
    o.headers = NULL;
    o.n_headers = 0;
}

#define GOOD_RESPONSE_HEAD                                                 \
    "HTTP/1.1 101 Switching Protocols\r\n"                                 \
    "Upgrade: websocket\r\n"                                               \
    "Connection: Upgrade\r\n"

/* wsc__hs_check_response on a response text; *proto gets a copy. */
static int check_response(const char *text, const char *const *offered, size_t n_offered,
                          char *proto_out, size_t proto_size)
{
    wsc_http_head h;
    char err[300] = "";
    if (wsc__http_parse(text, strlen(text), false, &h, err, sizeof err) != 0) {
        fprintf(stderr, "  (response did not parse: %s)\n", err);
        return 1;
    }
    const char *proto = NULL;
    wsc_pmd_params pmd;
    int r = wsc__hs_check_response(&h, RFC_KEY, offered, n_offered, WSC_COMPRESSION_DISABLED, &pmd,
                                  &proto, err, sizeof err);
    if (r == 0 && proto_out)
        snprintf(proto_out, proto_size, "%s", proto ? proto : "(null)");
    if (r != 0 && !err[0])
        r = 2; /* refusals must say why */
    wsc__http_free(&h);
    return r;
}

static void test_check_response(void)
{
    char proto[64];
    const char *offered[] = {"chat", "superchat"};
    CHECK(check_response(GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n", NULL, 0,
                         proto, sizeof proto) == 0 && streq(proto, ""),
          "a good response passes with no subprotocol");
    CHECK(check_response("HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
                         "sec-websocket-accept: " RFC_ACCEPT "\r\n\r\n",
                         NULL, 0, proto, sizeof proto) == 0,
          "header names and token values are case-insensitive");
    CHECK(check_response(GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                         "Sec-WebSocket-Protocol: superchat\r\n\r\n",
                         offered, 2, proto, sizeof proto) == 0 && streq(proto, "superchat"),
          "an offered subprotocol is chosen");
    CHECK(check_response(GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n", offered, 2,
                         proto, sizeof proto) == 0 && streq(proto, ""),
          "the server may choose no subprotocol");
    CHECK(check_response(GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                         "Sec-WebSocket-Extensions:\r\n\r\n",
                         NULL, 0, proto, sizeof proto) == 0,
          "an empty extensions header enables nothing");

    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
        "HTTP/1.1 400 Bad Request\r\n\r\n",
        "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "HTTP/1.1 102 Processing\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
        "HTTP/1.1 101 x\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
        "HTTP/1.1 101 x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
        "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
        "HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
        GOOD_RESPONSE_HEAD "\r\n",
        GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: \r\n\r\n",
        GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n\r\n",
        GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n\r\n",
        GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: " RFC_KEY "\r\n\r\n",
        GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\nSec-WebSocket-Extensions: x-anything\r\n\r\n",
        GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
    };
    static const char *const old_versions[] = {
        "HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
        "HTTP/1.2 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof old_versions / sizeof old_versions[0]; i++)
        CHECKF(check_response(old_versions[i], NULL, 0, NULL, 0) == WSC_EHANDSHAKE,
               "a 101 in %.8s is refused", old_versions[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(check_response(bad[i], NULL, 0, NULL, 0) == WSC_EHANDSHAKE,
               "bad response #%zu refused with WSC_EHANDSHAKE and a reason", i);
    CHECK(check_response(GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                         "Sec-WebSocket-Protocol: megachat\r\n\r\n",
                         offered, 2, NULL, 0) == WSC_EHANDSHAKE,
          "an unoffered subprotocol is refused");
    CHECK(check_response(GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                         "Sec-WebSocket-Protocol: chat, superchat\r\n\r\n",
                         offered, 2, NULL, 0) == WSC_EHANDSHAKE,
          "a list of subprotocols in the response is refused");
    CHECK(check_response(GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                         "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
                         NULL, 0, NULL, 0) == WSC_EHANDSHAKE,
          "two Sec-WebSocket-Accept headers (both right) are refused");
    CHECK(check_response(GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                         "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
                         offered, 2, NULL, 0) == WSC_EHANDSHAKE,
          "two Sec-WebSocket-Protocol headers are refused");
    CHECK(check_response(GOOD_RESPONSE_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                         "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                         offered, 2, NULL, 0) == WSC_EHANDSHAKE,
          "any extension is refused (none offered)");
}

/* A request text with the usual headers and `extra` lines before the blank line. */
static void build_request(char *buf, size_t size, const char *method, const char *extra)
{
    snprintf(buf, size,
             "%s /ws HTTP/1.1\r\n"
             "Host: example.com\r\n"
             "%s"
             "\r\n",
             method, extra);
}

#define STD_HEADERS                                                        \
    "Upgrade: websocket\r\n"                                               \
    "Connection: Upgrade\r\n"                                              \
    "Sec-WebSocket-Key: " RFC_KEY "\r\n"                                   \
    "Sec-WebSocket-Version: 13\r\n"

/* wsc__hs_check_request on the head text; the chosen protocol copied out. */
static int check_request(const char *text, const wsc_accept_options *o, char *proto_out,
                         size_t proto_size)
{
    wsc_http_head h;
    char err[300] = "";
    if (wsc__http_parse(text, strlen(text), true, &h, err, sizeof err) != 0) {
        fprintf(stderr, "  (request did not parse: %s)\n", err);
        return 1;
    }
    const char *proto = NULL;
    int r = wsc__hs_check_request(&h, o, &proto, err, sizeof err);
    if (r == 0 && proto_out)
        snprintf(proto_out, proto_size, "%s", proto ? proto : "(null)");
    if (r != 0 && !err[0])
        r = 2;
    wsc__http_free(&h);
    return r;
}

static int req_status(const char *method, const char *extra, const wsc_accept_options *o)
{
    char buf[2048];
    build_request(buf, sizeof buf, method, extra);
    return check_request(buf, o, NULL, 0);
}

static void test_check_request(void)
{
    wsc_accept_options o = {0};
    char proto[64];
    char buf[2048];

    build_request(buf, sizeof buf, "GET", STD_HEADERS);
    CHECK(check_request(buf, &o, proto, sizeof proto) == 0 && streq(proto, ""), "a good request passes");
    CHECK(req_status("GET", "upgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
                            "sec-websocket-key: " RFC_KEY "\r\nsec-websocket-version: 13\r\n", &o) == 0,
          "names and tokens are case-insensitive");
    CHECK(req_status("GET", "Upgrade: websocket\r\nConnection: keep-alive\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n", &o) == 0,
          "Upgrade in a second Connection header");

    /* HTTP versions: 426 below 1.1 (as coder/websocket), 505 above. */
    static const struct {
        const char *version;
        int status;
    } versions[] = {{"HTTP/1.0", 426}, {"HTTP/0.9", 426}, {"HTTP/1.2", 505}, {"HTTP/1.9", 505},
                    {"HTTP/2.0", 505}, {"HTTP/9.9", 505}};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        snprintf(buf, sizeof buf, "GET /ws %s\r\nHost: example.com\r\n" STD_HEADERS "\r\n",
                 versions[i].version);
        CHECKF(check_request(buf, &o, NULL, 0) == versions[i].status, "%s gets %d",
               versions[i].version, versions[i].status);
    }

    /* 405 */
    CHECK(req_status("POST", STD_HEADERS, &o) == 405, "POST gets 405");
    CHECK(req_status("HEAD", STD_HEADERS, &o) == 405, "HEAD gets 405");
    CHECK(req_status("get", STD_HEADERS, &o) == 405, "lower-case get gets 405 (methods are case-sensitive)");

    /* 426 */
    CHECK(req_status("GET", "Upgrade: websocket\r\nSec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n",
                     &o) == 426, "missing Connection gets 426");
    CHECK(req_status("GET", "Upgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Key: " RFC_KEY
                            "\r\nSec-WebSocket-Version: 13\r\n", &o) == 426,
          "Connection without Upgrade gets 426");
    CHECK(req_status("GET", "Upgrade: websocket\r\nConnection: Upgraded\r\nSec-WebSocket-Key: " RFC_KEY
                            "\r\nSec-WebSocket-Version: 13\r\n", &o) == 426,
          "Connection: Upgraded (substring) gets 426");
    CHECK(req_status("GET", "Connection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n",
                     &o) == 426, "missing Upgrade gets 426");
    CHECK(req_status("GET", "Upgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY
                            "\r\nSec-WebSocket-Version: 13\r\n", &o) == 426,
          "Upgrade: h2c gets 426");
    CHECK(req_status("GET", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY
                            "\r\nSec-WebSocket-Version: 8\r\n", &o) == 426,
          "version 8 gets 426");
    CHECK(req_status("GET", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY "\r\n", &o) == 426,
          "missing version gets 426");
    CHECK(req_status("GET", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " RFC_KEY
                            "\r\nSec-WebSocket-Version: 13, 8\r\n", &o) == 426,
          "version list \"13, 8\" gets 426");

    /* 400 */
    CHECK(req_status("GET", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n", &o) == 400,
          "missing key gets 400");
    CHECK(req_status("GET", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: abc\r\n"
                            "Sec-WebSocket-Version: 13\r\n", &o) == 400,
          "short key gets 400");
    CHECK(req_status("GET", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZSEhIQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n", &o) == 400,
          "20-byte key gets 400");

    /* No body, no repeated key or version (RFC 6455 11.3.1, 11.3.5). */
    CHECK(req_status("GET", STD_HEADERS "Content-Length: 0\r\n", &o) == 0, "Content-Length: 0 passes");
    CHECK(req_status("GET", STD_HEADERS "Content-Length: 6\r\n", &o) == 400, "Content-Length: 6 gets 400");
    CHECK(req_status("GET", STD_HEADERS "Content-Length: -1\r\n", &o) == 400, "Content-Length: -1 gets 400");
    CHECK(req_status("GET", STD_HEADERS "Content-Length: \r\n", &o) == 400, "empty Content-Length gets 400");
    CHECK(req_status("GET", STD_HEADERS "Content-Length: 0\r\nContent-Length: 7\r\n", &o) == 400,
          "a second Content-Length of 7 gets 400");
    CHECK(req_status("GET", STD_HEADERS "Transfer-Encoding: chunked\r\n", &o) == 400,
          "Transfer-Encoding: chunked gets 400");
    CHECK(req_status("GET", STD_HEADERS "transfer-encoding: identity\r\n", &o) == 400,
          "any Transfer-Encoding gets 400");
    CHECK(req_status("GET", STD_HEADERS "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n", &o) == 400,
          "two Sec-WebSocket-Key headers get 400");
    CHECK(req_status("GET", STD_HEADERS "sec-websocket-key: " RFC_KEY "\r\n", &o) == 400,
          "the same Sec-WebSocket-Key twice gets 400");
    CHECK(req_status("GET", STD_HEADERS "Sec-WebSocket-Version: 13\r\n", &o) == 400,
          "two Sec-WebSocket-Version headers get 400");
    CHECK(req_status("GET", STD_HEADERS "Upgrade: websocket\r\n", &o) == 0,
          "Upgrade twice is still an upgrade");

    /* Origins. */
    CHECK(req_status("GET", STD_HEADERS "Origin: http://example.com\r\n", &o) == 0, "Origin equal to Host is allowed");
    CHECK(req_status("GET", STD_HEADERS "Origin: https://EXAMPLE.com\r\n", &o) == 0, "Origin host compare ignores case");
    CHECK(req_status("GET", STD_HEADERS "Origin: http://evil.com\r\n", &o) == 403, "a foreign Origin gets 403");
    CHECK(req_status("GET", STD_HEADERS "Origin: http://example.com.evil.com\r\n", &o) == 403,
          "Origin with Host as a prefix gets 403");
    CHECK(req_status("GET", STD_HEADERS "Origin: http://example.com:8080\r\n", &o) == 403,
          "Origin with another port than Host gets 403");
    CHECK(req_status("GET", STD_HEADERS "Origin: null\r\n", &o) == 403, "Origin: null gets 403");
    CHECK(req_status("GET", STD_HEADERS "Origin: \r\n", &o) == 403, "empty Origin gets 403");
    o.insecure_skip_verify = true;
    CHECK(req_status("GET", STD_HEADERS "Origin: http://evil.com\r\n", &o) == 0, "insecure_skip_verify allows any Origin");
    CHECK(req_status("GET", STD_HEADERS "Origin: null\r\n", &o) == 0, "insecure_skip_verify allows Origin: null");
    o.insecure_skip_verify = false;

    const char *pats[] = {"*.example.com"};
    o.origin_patterns = pats;
    o.n_origin_patterns = 1;
    CHECK(req_status("GET", STD_HEADERS "Origin: https://a.example.com\r\n", &o) == 0, "*.example.com allows a.example.com");
    CHECK(req_status("GET", STD_HEADERS "Origin: http://a.b.example.com\r\n", &o) == 0, "*.example.com allows a.b.example.com");
    CHECK(req_status("GET", STD_HEADERS "Origin: http://A.EXAMPLE.COM\r\n", &o) == 0, "pattern match ignores case");
    CHECK(req_status("GET", STD_HEADERS "Origin: https://evil.com\r\n", &o) == 403, "*.example.com refuses evil.com");
    CHECK(req_status("GET", STD_HEADERS "Origin: https://example.com.evil.com\r\n", &o) == 403,
          "*.example.com refuses example.com.evil.com");
    CHECK(req_status("GET", STD_HEADERS "Origin: https://a.example.com:8443\r\n", &o) == 403,
          "*.example.com refuses a port (the pattern matches host:port)");

    const char *scheme_pats[] = {"https://a.example.com", "http://*.test"};
    o.origin_patterns = scheme_pats;
    o.n_origin_patterns = 2;
    CHECK(req_status("GET", STD_HEADERS "Origin: https://a.example.com\r\n", &o) == 0,
          "pattern with :// matches scheme://host");
    CHECK(req_status("GET", STD_HEADERS "Origin: http://a.example.com\r\n", &o) == 403,
          "pattern with :// refuses another scheme");
    CHECK(req_status("GET", STD_HEADERS "Origin: http://x.test\r\n", &o) == 0, "second pattern http://*.test");
    CHECK(req_status("GET", STD_HEADERS "Origin: https://x.test\r\n", &o) == 403, "http://*.test refuses https");
    o.origin_patterns = NULL;
    o.n_origin_patterns = 0;

    /* Subprotocol selection: the first of the server's list the client offered. */
    const char *server_protos[] = {"b", "a", "c"};
    o.subprotocols = server_protos;
    o.n_subprotocols = 3;
    build_request(buf, sizeof buf, "GET", STD_HEADERS "Sec-WebSocket-Protocol: a, b\r\n");
    CHECK(check_request(buf, &o, proto, sizeof proto) == 0 && streq(proto, "b"),
          "server preference wins: client offers a, b; server prefers b");
    build_request(buf, sizeof buf, "GET", STD_HEADERS "Sec-WebSocket-Protocol: c\r\nSec-WebSocket-Protocol: a\r\n");
    CHECK(check_request(buf, &o, proto, sizeof proto) == 0 && streq(proto, "a"),
          "offers across repeated headers");
    build_request(buf, sizeof buf, "GET", STD_HEADERS "Sec-WebSocket-Protocol: x, y\r\n");
    CHECK(check_request(buf, &o, proto, sizeof proto) == 0 && streq(proto, ""),
          "no common subprotocol: none chosen, still accepted");
    build_request(buf, sizeof buf, "GET", STD_HEADERS "Sec-WebSocket-Protocol: bb, ab\r\n");
    CHECK(check_request(buf, &o, proto, sizeof proto) == 0 && streq(proto, ""),
          "subprotocols are not matched by substring");
    build_request(buf, sizeof buf, "GET", STD_HEADERS);
    CHECK(check_request(buf, &o, proto, sizeof proto) == 0 && streq(proto, ""),
          "client offers none: none chosen");
    o.subprotocols = NULL;
    o.n_subprotocols = 0;
    build_request(buf, sizeof buf, "GET", STD_HEADERS "Sec-WebSocket-Protocol: a\r\n");
    CHECK(check_request(buf, &o, proto, sizeof proto) == 0 && streq(proto, ""),
          "server supports none: none chosen");
}

/* Splits a server response into head (parsed) and body. */
static int parse_server_response(const char *resp, size_t len, wsc_http_head *h, const char **body)
{
    char err[300];
    size_t end = wsc__http_head_end(resp, len);
    if (!end)
        return -1;
    if (wsc__http_parse(resp, end, false, h, err, sizeof err) != 0)
        return -1;
    *body = resp + end;
    return 0;
}

static void test_server_response(void)
{
    char buf[2048];
    char err[300];
    wsc_http_head req, h;
    const char *body;
    build_request(buf, sizeof buf, "GET", STD_HEADERS);
    if (wsc__http_parse(buf, strlen(buf), true, &req, err, sizeof err) != 0) {
        CHECK(0, "request for server_response parses");
        return;
    }

    wsc_header extra[] = {{"X-Server", "wsc"}, {"Set-Cookie", "a=b"}};
    wsc_accept_options o = {.headers = extra, .n_headers = 2};
    CHECK(wsc__hs_headers_ok(extra, 2, err, sizeof err), "the extra headers pass wsc__hs_headers_ok");
    wsc_header injected[] = {{"X-Bad", "a\r\nX-Evil: 1"}};
    wsc_header reserved[] = {{"Sec-WebSocket-Accept", RFC_ACCEPT}};
    err[0] = '\0';
    CHECK(!wsc__hs_headers_ok(injected, 1, err, sizeof err) && err[0],
          "a header with CRLF fails wsc__hs_headers_ok (accept refuses it)");
    err[0] = '\0';
    CHECK(!wsc__hs_headers_ok(reserved, 1, err, sizeof err) && err[0],
          "Sec-WebSocket-Accept fails wsc__hs_headers_ok (accept refuses it)");
    size_t len = 0;
    char *resp = wsc__hs_server_response(101, &req, "chat", NULL, &o, NULL, "", &len);
    CHECK(resp && len == strlen(resp), "101 response built, length right");
    if (resp) {
        CHECK(strncmp(resp, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0, "101 status line");
        CHECK(contains(resp, "\r\nUpgrade: websocket\r\n"), "101 has Upgrade");
        CHECK(contains(resp, "\r\nConnection: Upgrade\r\n"), "101 has Connection");
        CHECK(contains(resp, "\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n"), "101 has the accept value");
        CHECK(contains(resp, "\r\nSec-WebSocket-Protocol: chat\r\n"), "101 names the subprotocol");
        CHECK(contains(resp, "\r\nX-Server: wsc\r\n") && contains(resp, "\r\nSet-Cookie: a=b\r\n"),
              "101 has the extra headers");
        CHECK(wsc__http_head_end(resp, len) == len, "101 is one head, nothing after it");
        if (parse_server_response(resp, len, &h, &body) == 0) {
            const char *offered[] = {"chat"};
            const char *proto = NULL;
            wsc_pmd_params pmd;
            CHECK(wsc__hs_check_response(&h, RFC_KEY, offered, 1, WSC_COMPRESSION_DISABLED, &pmd,
                                        &proto, err, sizeof err) == 0 &&
                      streq(proto, "chat"),
                  "our 101 passes our own client check");
            wsc__http_free(&h);
        } else {
            CHECK(0, "101 parses");
        }
        free(resp);
    }
    resp = wsc__hs_server_response(101, &req, "", NULL, NULL, NULL, "", &len);
    CHECK(resp && !contains(resp, "Sec-WebSocket-Protocol") && contains(resp, RFC_ACCEPT),
          "101 without a subprotocol has no Sec-WebSocket-Protocol");
    free(resp);

    static const struct {
        int status;
        const char *line;
    } errs[] = {
        {400, "HTTP/1.1 400 Bad Request\r\n"},
        {403, "HTTP/1.1 403 Forbidden\r\n"},
        {405, "HTTP/1.1 405 Method Not Allowed\r\n"},
        {408, "HTTP/1.1 408 Request Timeout\r\n"},
        {426, "HTTP/1.1 426 Upgrade Required\r\n"},
        {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
        {505, "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
    };
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        const char *detail = "the reason, in words";
        /* 408 and 431 happen before a request was parsed. */
        const wsc_http_head *r = errs[i].status == 408 || errs[i].status == 431 ? NULL : &req;
        resp = wsc__hs_server_response(errs[i].status, r, NULL, NULL, NULL, NULL, detail, &len);
        CHECKF(resp && len == strlen(resp), "%d built", errs[i].status);
        if (!resp)
            continue;
        CHECKF(strncmp(resp, errs[i].line, strlen(errs[i].line)) == 0, "%d status line", errs[i].status);
        CHECKF(!contains(resp, "Sec-WebSocket-Accept"), "%d has no accept value", errs[i].status);
        if (parse_server_response(resp, len, &h, &body) == 0) {
            CHECKF(h.status == errs[i].status, "%d parses back", errs[i].status);
            const char *cl = wsc__http_get(&h, "Content-Length");
            CHECKF(cl && strtoul(cl, NULL, 10) == strlen(body), "%d Content-Length %s matches the body (%zu)",
                   errs[i].status, cl ? cl : "(none)", strlen(body));
            CHECKF(contains(body, detail), "%d body has the detail", errs[i].status);
            CHECKF(contains(wsc__http_get(&h, "Content-Type"), "text/plain"), "%d body is text/plain", errs[i].status);
            CHECKF(wsc__http_has_token(&h, "Connection", "close"), "%d says Connection: close", errs[i].status);
            if (errs[i].status == 426) {
                CHECK(streq(wsc__http_get(&h, "Sec-WebSocket-Version"), "13"), "426 has Sec-WebSocket-Version: 13");
                CHECK(wsc__http_has_token(&h, "Upgrade", "websocket"), "426 has Upgrade: websocket");
            } else {
                CHECKF(!wsc__http_get(&h, "Sec-WebSocket-Version"), "%d has no Sec-WebSocket-Version", errs[i].status);
            }
            if (errs[i].status == 405)
                CHECK(wsc__http_has_token(&h, "Allow", "GET"), "405 has Allow: GET");
            wsc__http_free(&h);
        } else {
            CHECKF(0, "%d parses", errs[i].status);
        }
        free(resp);
    }
    /* Extra headers go on error responses too. */
    wsc_header one[] = {{"X-Server", "wsc"}};
    wsc_accept_options o1 = {.headers = one, .n_headers = 1};
    resp = wsc__hs_server_response(403, &req, NULL, NULL, &o1, NULL, "no", &len);
    CHECK(resp && contains(resp, "\r\nX-Server: wsc\r\n"), "403 carries the extra headers");
    free(resp);
    wsc__http_free(&req);
}

static void test_glob(void)
{
    static const struct {
        const char *pat, *s;
        bool match;
    } cases[] = {
        {"", "", true},
        {"", "a", false},
        {"a", "", false},
        {"*", "", true},
        {"**", "", true},
        {"*", "anything.at.all", true},
        {"?", "", false},
        {"?", "a", true},
        {"?", "ab", false},
        {"??", "ab", true},
        {"a?c", "abc", true},
        {"a?c", "ac", false},
        {"abc", "ABC", true},
        {"ABC", "abc", true},
        {"abc", "ab", false},
        {"ab", "abc", false},
        {"a*", "a", true},
        {"a*", "abc", true},
        {"a*", "ba", false},
        {"*a", "a", true},
        {"*a", "ba", true},
        {"*a", "ab", false},
        {"*ab", "aab", true},
        {"*aab", "aaab", true},
        {"a*b*c", "aXbYc", true},
        {"a*b*c", "abc", true},
        {"a*b*c", "aXbY", false},
        {"a*b*c", "acb", false},
        {"*.example.com", "a.example.com", true},
        {"*.example.com", "a.b.example.com", true},
        {"*.example.com", "example.com", false},
        {"*.example.com", ".example.com", true},
        {"*.example.com", "a.example.com.evil", false},
        {"*.EXAMPLE.com", "x.example.COM", true},
        {"*x", "xx", true},
        {"*?", "", false},
        {"*?", "a", true},
        {"?*", "a", true},
        {"*a*", "bab", true},
        {"*a*", "bbb", false},
        {"a**b", "ab", true},
        {"localhost:*", "localhost:8080", true},
        {"localhost:*", "localhost", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECKF(wsc__hs_glob(cases[i].pat, cases[i].s) == cases[i].match, "glob \"%s\" %s \"%s\"",
               cases[i].pat, cases[i].match ? "matches" : "does not match", cases[i].s);

    /* wsc__hs_origin_allowed directly. */
    const char *pats[] = {"*.example.com", "http://localhost:*"};
    CHECK(wsc__hs_origin_allowed("https://h.test", "h.test", NULL, 0), "origin host equals Host");
    CHECK(wsc__hs_origin_allowed("https://H.TEST", "h.test", NULL, 0), "origin host equals Host, any case");
    CHECK(!wsc__hs_origin_allowed("https://h.test", NULL, NULL, 0), "no Host and no patterns: refused");
    CHECK(wsc__hs_origin_allowed("https://a.example.com", "h.test", pats, 2), "first pattern");
    CHECK(wsc__hs_origin_allowed("http://localhost:3000", "h.test", pats, 2), "scheme pattern with port glob");
    CHECK(!wsc__hs_origin_allowed("https://localhost:3000", "h.test", pats, 2), "scheme pattern refuses https");
    CHECK(!wsc__hs_origin_allowed("localhost", "localhost", pats, 2), "an Origin without :// is refused");
}

/* host_patterns: the DNS-rebinding defence. */
static void test_host_allowed(void)
{
    const char *pats[] = {"localhost", "127.0.0.1", "[::1]", "*.example.com", "chat.test:8443"};
    struct {
        const char *host;
        bool ok;
    } cases[] = {
        {"localhost", true},         {"localhost:8080", true},   {"LOCALHOST:1", true},
        {"127.0.0.1:80", true},      {"[::1]", true},            {"[::1]:9001", true},
        {"a.example.com", true},     {"a.example.com:443", true}, {"chat.test:8443", true},
        {"chat.test", false},        {"chat.test:80", false},    {"evil.example", false},
        {"evil.example:8080", false}, {"localhost.evil", false}, {"127.0.0.2", false},
        {"[::2]:80", false},         {"example.com", false},     {"", false},
        {"[::1", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECKF(wsc__hs_host_allowed(cases[i].host, pats, 5) == cases[i].ok, "Host \"%s\" %s",
               cases[i].host, cases[i].ok ? "allowed" : "refused");
    char longhost[400];
    memset(longhost, 'a', sizeof longhost - 1);
    longhost[sizeof longhost - 1] = '\0';
    const char *star[] = {"*"};
    CHECK(!wsc__hs_host_allowed(longhost, star, 1), "a Host longer than any DNS name is refused");

    /* In the request check: 403 before the Origin, none set: any Host. */
    wsc_accept_options o = {0};
    CHECK(req_status("GET", STD_HEADERS, &o) == 0, "no host_patterns: any Host passes");
    const char *mine[] = {"example.com"}, *other[] = {"localhost"};
    o.host_patterns = mine;
    o.n_host_patterns = 1;
    CHECK(req_status("GET", STD_HEADERS, &o) == 0, "Host example.com allowed by \"example.com\"");
    CHECK(req_status("GET", STD_HEADERS "Origin: https://example.com\r\n", &o) == 0,
          "allowed Host, same-origin Origin");
    o.host_patterns = other;
    CHECK(req_status("GET", STD_HEADERS, &o) == 403, "Host example.com refused by \"localhost\": 403");
    o.insecure_skip_verify = true;
    CHECK(req_status("GET", STD_HEADERS "Origin: https://example.com\r\n", &o) == 403,
          "a matching Origin (or insecure_skip_verify) does not let a refused Host in");
}

int main(void)
{
    test_accept_key();
    test_key_valid();
    test_client_request();
    test_check_response();
    test_check_request();
    test_server_response();
    test_glob();
    test_host_allowed();
    return check_summary("test_handshake");
}
