/* SPDX-License-Identifier: MIT */
/* test_http.c - the HTTP/1.1 head parser: where a head ends, request and
 * response start lines, header lines, limits, lookups and token lists. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsc.h"
#include "proto/http.h"
#include "check.h"

static bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* Parses a NUL-terminated head. */
static int parse(const char *s, bool request, wsc_http_head *h, char *err, size_t err_size)
{
    return wsc__http_parse(s, strlen(s), request, h, err, err_size);
}

static bool head_is_empty(const wsc_http_head *h)
{
    return !h->raw && !h->headers && !h->method && !h->target && !h->reason &&
           h->n_headers == 0 && h->status == 0;
}

static void test_head_end(void)
{
    const char *crlf = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t n = strlen(crlf);
    CHECK(wsc__http_head_end(crlf, n) == n, "CRLF head ends after its blank line");
    for (size_t i = 0; i < n; i++)
        CHECKF(wsc__http_head_end(crlf, i) == 0, "CRLF prefix of %zu bytes is incomplete", i);

    char more[64];
    snprintf(more, sizeof more, "%s\x81\x85" "abcd", crlf);
    CHECK(wsc__http_head_end(more, strlen(more)) == n, "bytes after the head are not part of it");

    const char *lf = "GET / HTTP/1.1\nHost: x\n\nBODY";
    CHECK(wsc__http_head_end(lf, strlen(lf)) == strlen(lf) - 4, "LF-only head ends after \\n\\n");
    for (size_t i = 0; i < strlen(lf) - 4; i++)
        CHECKF(wsc__http_head_end(lf, i) == 0, "LF prefix of %zu bytes is incomplete", i);

    const char *mixed = "GET / HTTP/1.1\r\nHost: x\n\r\n";
    CHECK(wsc__http_head_end(mixed, strlen(mixed)) == strlen(mixed), "\\n\\r\\n also ends a head");

    CHECK(wsc__http_head_end("", 0) == 0, "empty buffer");
    CHECK(wsc__http_head_end("GET / HTTP/1.1\r\n", 16) == 0, "start line only");
    CHECK(wsc__http_head_end("GET / HTTP/1.1\r\nHost: x\r\n\r", 26) == 0, "missing the last LF");
    CHECK(wsc__http_head_end("GET / HTTP/1.1\r\r\r\r", 18) == 0, "CRs alone do not end a head");
    CHECK(wsc__http_head_end("a\r\nb\r\n c\r\n", 10) == 0, "no blank line");
}

static void test_request(void)
{
    wsc_http_head h;
    char err[128];
    const char *req =
        "GET /chat?x=1&y=%20 HTTP/1.1\r\n"
        "Host: server.example.com\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "X-Empty:\r\n"
        "X-Spaces: \t  a b  \t \r\n"
        "X-Colon: a:b: c\r\n"
        "\r\n";
    int r = parse(req, true, &h, err, sizeof err);
    CHECK(r == 0, "a normal upgrade request parses");
    if (r == 0) {
        CHECK(streq(h.method, "GET"), "method");
        CHECK(streq(h.target, "/chat?x=1&y=%20"), "target");
        CHECK(h.n_headers == 8, "eight headers");
        CHECK(streq(h.headers[0].name, "Host") && streq(h.headers[0].value, "server.example.com"),
              "first header name and value");
        CHECK(streq(wsc__http_get(&h, "X-Empty"), ""), "empty value");
        CHECK(streq(wsc__http_get(&h, "X-Spaces"), "a b"), "spaces and tabs trimmed at both ends only");
        CHECK(streq(wsc__http_get(&h, "X-Colon"), "a:b: c"), "value keeps later colons");
        CHECK(streq(wsc__http_get(&h, "sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ=="),
              "lookup is case-insensitive");
        CHECK(streq(wsc__http_get(&h, "SEC-WEBSOCKET-VERSION"), "13"), "upper-case lookup");
        CHECK(wsc__http_get(&h, "Origin") == NULL, "missing header is NULL");
        CHECK(wsc__http_get(&h, "Hos") == NULL && wsc__http_get(&h, "Hostx") == NULL,
              "lookup does not match prefixes or longer names");
        /* raw is a private copy: the input may go away. */
        CHECK(h.raw && h.raw != req, "raw is the parser's own copy");
        wsc__http_free(&h);
        CHECK(head_is_empty(&h), "wsc__http_free zeroes the head");
        wsc__http_free(&h); /* twice is harmless */
    }

    /* LF-only line ends. */
    r = parse("GET / HTTP/1.1\nHost: a\nUpgrade: websocket\n\n", true, &h, err, sizeof err);
    CHECK(r == 0 && h.n_headers == 2 && streq(wsc__http_get(&h, "upgrade"), "websocket"),
          "LF-only request parses");
    if (r == 0)
        wsc__http_free(&h);

    /* Other methods and HTTP/1.0 parse (the handshake refuses them later). */
    r = parse("POST /x HTTP/1.0\r\n\r\n", true, &h, err, sizeof err);
    CHECK(r == 0 && streq(h.method, "POST") && streq(h.target, "/x") && h.n_headers == 0,
          "POST HTTP/1.0 without headers parses");
    if (r == 0)
        wsc__http_free(&h);
    /* Any HTTP/DIGIT.DIGIT parses, its version recorded (the handshake
     * decides: 426 below 1.1, 505 above). */
    static const struct {
        const char *head;
        bool request;
        int version;
    } versions[] = {
        {"GET / HTTP/1.1\r\n\r\n", true, 11}, {"GET / HTTP/1.0\r\n\r\n", true, 10},
        {"GET / HTTP/0.9\r\n\r\n", true, 9},  {"GET / HTTP/1.9\r\n\r\n", true, 19},
        {"GET / HTTP/2.0\r\n\r\n", true, 20}, {"HTTP/1.1 101 x\r\n\r\n", false, 11},
        {"HTTP/1.0 101 x\r\n\r\n", false, 10}, {"HTTP/2.0 101 x\r\n\r\n", false, 20},
    };
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        r = parse(versions[i].head, versions[i].request, &h, err, sizeof err);
        CHECKF(r == 0 && h.version == versions[i].version, "%.14s: version %d", versions[i].head,
               versions[i].version);
        if (r == 0)
            wsc__http_free(&h);
    }

    r = parse("GET /caf\xc3\xa9?q=%1B HTTP/1.1\r\n\r\n", true, &h, err, sizeof err);
    CHECK(r == 0 && streq(h.target, "/caf\xc3\xa9?q=%1B"), "UTF-8 and escapes in the target pass");
    if (r == 0)
        wsc__http_free(&h);
    r = parse("HTTP/1.1 101 Switching\tProtocols\r\n\r\n", false, &h, err, sizeof err);
    CHECK(r == 0 && streq(h.reason, "Switching\tProtocols"), "a tab in the reason phrase passes");
    if (r == 0)
        wsc__http_free(&h);

    r = parse("M-SEARCH * HTTP/1.1\r\n\r\n", true, &h, err, sizeof err);
    CHECK(r == 0 && streq(h.method, "M-SEARCH") && streq(h.target, "*"), "token method, * target");
    if (r == 0)
        wsc__http_free(&h);

    /* The head passed without its blank line (whole buffer) parses too. */
    r = parse("GET / HTTP/1.1\r\nHost: a", true, &h, err, sizeof err);
    CHECK(r == 0 && streq(wsc__http_get(&h, "Host"), "a"), "head without a final CRLF");
    if (r == 0)
        wsc__http_free(&h);

    /* Exact length: bytes after len are not looked at. */
    const char *two = "GET / HTTP/1.1\r\nA: 1\r\n\r\nGET /2 HTTP/1.1\r\nB: 2\r\n\r\n";
    size_t end = wsc__http_head_end(two, strlen(two));
    r = wsc__http_parse(two, end, true, &h, err, sizeof err);
    CHECK(r == 0 && h.n_headers == 1 && streq(h.target, "/") && !wsc__http_get(&h, "B"),
          "only the first head is parsed");
    if (r == 0)
        wsc__http_free(&h);
}

static void test_response(void)
{
    wsc_http_head h;
    char err[128];
    int r = parse("HTTP/1.1 101 Switching Protocols\r\n"
                  "Upgrade: websocket\r\n"
                  "Connection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                  false, &h, err, sizeof err);
    CHECK(r == 0, "101 response parses");
    if (r == 0) {
        CHECK(h.status == 101, "status 101");
        CHECK(streq(h.reason, "Switching Protocols"), "reason phrase with a space");
        CHECK(h.n_headers == 3, "three headers");
        CHECK(streq(wsc__http_get(&h, "sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
              "accept header");
        CHECK(h.method == NULL && h.target == NULL, "a response has no method or target");
        wsc__http_free(&h);
    }
    r = parse("HTTP/1.1 101\r\n\r\n", false, &h, err, sizeof err);
    CHECK(r == 0 && h.status == 101 && streq(h.reason, ""), "status without reason");
    if (r == 0)
        wsc__http_free(&h);
    r = parse("HTTP/1.1 404 \r\n\r\n", false, &h, err, sizeof err);
    CHECK(r == 0 && h.status == 404 && streq(h.reason, ""), "empty reason after the space");
    if (r == 0)
        wsc__http_free(&h);
    r = parse("HTTP/1.0 503 Service Unavailable\nRetry-After: 3\n\n", false, &h, err, sizeof err);
    CHECK(r == 0 && h.status == 503 && streq(wsc__http_get(&h, "retry-after"), "3"),
          "HTTP/1.0, LF-only response");
    if (r == 0)
        wsc__http_free(&h);
    r = parse("HTTP/1.1 599 x\r\n\r\n", false, &h, err, sizeof err);
    CHECK(r == 0 && h.status == 599, "status 599");
    if (r == 0)
        wsc__http_free(&h);
    r = parse("HTTP/1.1 100 Continue\r\n\r\n", false, &h, err, sizeof err);
    CHECK(r == 0 && h.status == 100, "status 100");
    if (r == 0)
        wsc__http_free(&h);
}

/* Must fail, with a detail in err and nothing left in h. */
static void expect_bad(int line, const char *s, size_t len, bool request)
{
    wsc_http_head h;
    char err[128];
    memset(&h, 0x5A, sizeof h);
    err[0] = '\0';
    int r = wsc__http_parse(s, len, request, &h, err, sizeof err);
    char shown[80];
    size_t k = 0;
    for (size_t i = 0; i < len && k + 5 < sizeof shown; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7F)
            shown[k++] = (char)ch;
        else
            k += (size_t)snprintf(shown + k, sizeof shown - k, "\\x%02X", ch);
    }
    shown[k] = '\0';
    char what[300];
    snprintf(what, sizeof what, "%s \"%s\" must be refused (got %d, err \"%s\")",
             request ? "request" : "response", shown, r, err);
    check_at(r == -1 && err[0] && head_is_empty(&h), __FILE__, line, what);
    if (r == 0)
        wsc__http_free(&h);
}

#define BAD_REQ(s) expect_bad(__LINE__, (s), strlen(s), true)
#define BAD_RESP(s) expect_bad(__LINE__, (s), strlen(s), false)

static void test_malformed(void)
{
    /* Request lines. */
    BAD_REQ("");
    BAD_REQ("\r\n\r\n");
    BAD_REQ("GET /\r\n\r\n");
    BAD_REQ("GET\r\n\r\n");
    BAD_REQ("GET / HTTP/1.1 extra\r\n\r\n");
    BAD_REQ("GET  / HTTP/1.1\r\n\r\n");
    BAD_REQ("GET /  HTTP/1.1\r\n\r\n");
    BAD_REQ(" GET / HTTP/1.1\r\n\r\n");
    BAD_REQ("GET / HTTP/1.1 \r\n\r\n");
    BAD_REQ("GET / HTTP/10.1\r\n\r\n");
    BAD_REQ("GET / HTTP/1.1.1\r\n\r\n");
    BAD_REQ("GET / HTTP/1\r\n\r\n");
    BAD_REQ("GET / HTTP/1.\r\n\r\n");
    BAD_REQ("GET / HTTP/1.11\r\n\r\n");
    BAD_REQ("GET / http/1.1\r\n\r\n");
    BAD_REQ("GET / HTTX/1.1\r\n\r\n");
    BAD_REQ("G(T / HTTP/1.1\r\n\r\n");
    BAD_REQ("G\tT / HTTP/1.1\r\n\r\n");
    BAD_REQ("HTTP/1.1 101 Switching Protocols\r\n\r\n");
    /* "HTTP/1.x" means a digit after the dot (RFC 9112 HTTP-version). */
    BAD_REQ("GET / HTTP/1.a\r\n\r\n");
    BAD_REQ("GET / HTTP/1. \r\n\r\n");
    /* Control characters in the request target, the reason phrase. */
    BAD_REQ("GET /a\x1b[31mb HTTP/1.1\r\n\r\n");
    BAD_REQ("GET /a\x07 HTTP/1.1\r\n\r\n");
    BAD_REQ("GET /a\rb HTTP/1.1\r\n\r\n");
    BAD_REQ("GET /a\tb HTTP/1.1\r\n\r\n");
    BAD_REQ("GET /a\x7f HTTP/1.1\r\n\r\n");
    BAD_REQ("GET \x01 HTTP/1.1\r\n\r\n");
    BAD_RESP("HTTP/1.1 101 Switching\rProtocols\r\n\r\n");
    BAD_RESP("HTTP/1.1 101 \x1b[2J\r\n\r\n");
    /* Status lines. */
    BAD_RESP("");
    BAD_RESP("HTTP/1.1\r\n\r\n");
    BAD_RESP("HTTP/1.1 \r\n\r\n");
    BAD_RESP("HTTP/1.1 10\r\n\r\n");
    BAD_RESP("HTTP/1.1 1011 x\r\n\r\n");
    BAD_RESP("HTTP/1.1 abc x\r\n\r\n");
    BAD_RESP("HTTP/1.1 099 x\r\n\r\n");
    BAD_RESP("HTTP/1.1 600 x\r\n\r\n");
    BAD_RESP("HTTP/1.1  101 x\r\n\r\n");
    BAD_RESP("HTTP/1.1 10a x\r\n\r\n");
    BAD_RESP("HTTP/2 101 x\r\n\r\n");
    BAD_RESP("HTTP/1.10 101 x\r\n\r\n");
    BAD_RESP("http/1.1 101 x\r\n\r\n");
    BAD_RESP(" HTTP/1.1 101 x\r\n\r\n");
    BAD_RESP("GET / HTTP/1.1\r\n\r\n");
    BAD_RESP("HTTP/1.a 101 x\r\n\r\n");
    /* Header lines. */
    BAD_REQ("GET / HTTP/1.1\r\nHost\r\n\r\n");
    BAD_REQ("GET / HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n");
    BAD_REQ("GET / HTTP/1.1\r\n: value\r\n\r\n");
    BAD_REQ("GET / HTTP/1.1\r\nHost : a\r\n\r\n");
    BAD_REQ("GET / HTTP/1.1\r\nBad Name: a\r\n\r\n");
    BAD_REQ("GET / HTTP/1.1\r\nBad(Name): a\r\n\r\n");
    BAD_REQ("GET / HTTP/1.1\r\nBad\"Name\": a\r\n\r\n");
    BAD_REQ("GET / HTTP/1.1\r\nN\x80me: a\r\n\r\n");
    BAD_RESP("HTTP/1.1 101 x\r\nUpgrade websocket\r\n\r\n");
    /* Obsolete line folding, with a space or a tab. */
    BAD_REQ("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n");
    BAD_REQ("GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n");
    BAD_RESP("HTTP/1.1 101 x\r\nUpgrade: a\r\n websocket\r\n\r\n");
    BAD_REQ("GET / HTTP/1.1\r\n Host: a\r\n\r\n");
    /* NUL bytes anywhere. */
    static const char nul1[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    expect_bad(__LINE__, nul1, sizeof nul1 - 1, true);
    static const char nul2[] = "GET /\0 HTTP/1.1\r\n\r\n";
    expect_bad(__LINE__, nul2, sizeof nul2 - 1, true);
    static const char nul3[] = "HTTP/1.1 101 x\r\n\r\n\0";
    expect_bad(__LINE__, nul3, sizeof nul3 - 1, false);
    static const char nul4[] = "\0";
    expect_bad(__LINE__, nul4, 1, true);
}

static void test_header_limit(void)
{
    char *buf = malloc(100 * 32 + 64);
    if (!buf) {
        CHECK(0, "malloc");
        return;
    }
    for (int count = 99; count <= 102; count++) {
        size_t n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\n");
        for (int i = 0; i < count; i++)
            n += (size_t)sprintf(buf + n, "X-H%d: %d\r\n", i, i);
        n += (size_t)sprintf(buf + n, "\r\n");
        wsc_http_head h;
        char err[128] = "";
        int r = wsc__http_parse(buf, n, true, &h, err, sizeof err);
        if (count <= 100) {
            CHECKF(r == 0 && h.n_headers == (size_t)count, "%d headers accepted", count);
            if (r == 0) {
                char name[16];
                snprintf(name, sizeof name, "x-h%d", count - 1);
                CHECKF(wsc__http_get(&h, name) != NULL, "%d headers: the last one is there", count);
                wsc__http_free(&h);
            }
        } else {
            CHECKF(r == -1 && err[0] && head_is_empty(&h), "%d headers refused", count);
        }
    }
    free(buf);

    /* err buffer: NULL with size 0, and truncation. */
    wsc_http_head h;
    CHECK(wsc__http_parse("x", 1, true, &h, NULL, 0) == -1, "err NULL with size 0");
    char tiny[4] = "zzz";
    CHECK(wsc__http_parse("x", 1, true, &h, tiny, sizeof tiny) == -1 && strlen(tiny) == 3,
          "err truncated and NUL-terminated");
}

static void test_tokens(void)
{
    wsc_http_head h;
    char err[128];
    int r = parse("GET / HTTP/1.1\r\n"
                  "Connection: keep-alive, Upgrade\r\n"
                  "Upgrade: upgrader\r\n"
                  "X-List: a ,b,,  c\t,\r\n"
                  "X-Repeat: first\r\n"
                  "x-repeat: second\r\n"
                  "X-Tok: x\r\n"
                  "X-Tok: y, z\r\n"
                  "X-Sub: websockets, web socket\r\n"
                  "\r\n",
                  true, &h, err, sizeof err);
    CHECK(r == 0, "token head parses");
    if (r != 0)
        return;
    CHECK(wsc__http_has_token(&h, "Connection", "Upgrade"), "Upgrade in \"keep-alive, Upgrade\"");
    CHECK(wsc__http_has_token(&h, "connection", "upgrade"), "token and name are case-insensitive");
    CHECK(wsc__http_has_token(&h, "Connection", "keep-alive"), "first element of the list");
    CHECK(wsc__http_has_token(&h, "Connection", "KEEP-ALIVE"), "upper-case token");
    CHECK(!wsc__http_has_token(&h, "Connection", "keep"), "no prefix match");
    CHECK(!wsc__http_has_token(&h, "Connection", "alive, Upgrade"), "no match across elements");
    CHECK(!wsc__http_has_token(&h, "Upgrade", "upgrade"), "\"upgrader\" does not contain \"upgrade\"");
    CHECK(!wsc__http_has_token(&h, "Upgrade", "grader"), "no suffix match");
    CHECK(wsc__http_has_token(&h, "Upgrade", "upgrader"), "whole token matches");
    CHECK(wsc__http_has_token(&h, "X-List", "a"), "a in \"a ,b,,  c\\t,\"");
    CHECK(wsc__http_has_token(&h, "X-List", "b"), "b in the list");
    CHECK(wsc__http_has_token(&h, "X-List", "c"), "c (before a tab and a trailing comma)");
    CHECK(!wsc__http_has_token(&h, "X-List", "d"), "d not in the list");
    CHECK(!wsc__http_has_token(&h, "X-Missing", "a"), "missing header has no tokens");
    CHECK(wsc__http_has_token(&h, "X-Tok", "x") && wsc__http_has_token(&h, "X-Tok", "y") &&
              wsc__http_has_token(&h, "X-Tok", "z"),
          "tokens across repeated headers");
    CHECK(!wsc__http_has_token(&h, "X-Sub", "websocket"), "\"websockets\" is not \"websocket\"");
    CHECK(!wsc__http_has_token(&h, "X-Sub", "web"), "\"web socket\" is not \"web\"");
    CHECK(streq(wsc__http_get(&h, "X-Repeat"), "first"), "wsc__http_get returns the first of repeated");
    CHECK(streq(wsc__http_get(&h, "X-REPEAT"), "first"), "first of repeated, any case");
    wsc__http_free(&h);

    r = parse("GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: UPGRADE\r\n\r\n", true, &h,
              err, sizeof err);
    CHECK(r == 0 && wsc__http_has_token(&h, "Connection", "Upgrade"),
          "\"UPGRADE\" in a second Connection header");
    if (r == 0)
        wsc__http_free(&h);

    r = parse("GET / HTTP/1.1\r\nConnection:\r\nConnection: ,\r\n\r\n", true, &h, err, sizeof err);
    CHECK(r == 0 && !wsc__http_has_token(&h, "Connection", "Upgrade") &&
              !wsc__http_has_token(&h, "Connection", "x"),
          "empty lists have no tokens");
    if (r == 0)
        wsc__http_free(&h);
}

int main(void)
{
    test_head_end();
    test_request();
    test_response();
    test_malformed();
    test_header_limit();
    test_tokens();
    return check_summary("test_http");
}
