/* SPDX-License-Identifier: MIT */
/* test_proxy.c - HTTP CONNECT proxies: choosing the proxy from the option and
 * the environment, no_proxy matching, proxy URLs, Basic credentials, the
 * CONNECT request, judging the answer, the tunnel step over a socketpair
 * (whole, in pieces, refused, garbage) and a nonblocking wsc_dial through a
 * scripted proxy that is also the WebSocket server. */
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wsc.h"
#include "native/conn.h"
#include "proto/handshake.h"
#include "proto/http.h"
#include "net/proxy.h"
#include "check.h"

/* Equal strings, or both NULL. */
static bool same(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* ---- choosing -------------------------------------------------------------- */

static void test_choose_option(void)
{
    wsc_proxy_env env = {.http_proxy = "http://env:1", .https_proxy = "http://envs:2",
                         .all_proxy = "http://all:3", .no_proxy = "*"};
    const char *src = "x";
    CHECK(same(wsc__proxy_choose("http://opt:8", &env, false, "h", &src), "http://opt:8"),
          "the option wins over http_proxy");
    CHECK(same(src, "the proxy option"), "source: the proxy option");
    CHECK(same(wsc__proxy_choose("http://opt:8", &env, true, "h", NULL), "http://opt:8"),
          "the option wins over https_proxy; no_proxy=* does not apply to it");
    CHECK(wsc__proxy_choose("", &env, false, "h", &src) == NULL && src == NULL,
          "\"\" means no proxy whatever the environment says");
    CHECK(wsc__proxy_choose("", &env, true, "h", NULL) == NULL, "\"\" for wss too");
}

static void test_choose_env(void)
{
    const char *src;
    wsc_proxy_env e = {0};
    CHECK(wsc__proxy_choose(NULL, &e, false, "h", &src) == NULL && src == NULL,
          "empty environment: direct");

    e = (wsc_proxy_env){.http_proxy = "http://a:1"};
    CHECK(same(wsc__proxy_choose(NULL, &e, false, "h", &src), "http://a:1") && same(src, "http_proxy"),
          "ws:// uses http_proxy");
    CHECK(wsc__proxy_choose(NULL, &e, true, "h", NULL) == NULL, "wss:// does not use http_proxy");

    e = (wsc_proxy_env){.https_proxy = "http://s:1", .HTTPS_PROXY = "http://S:2"};
    CHECK(same(wsc__proxy_choose(NULL, &e, true, "h", &src), "http://s:1") && same(src, "https_proxy"),
          "wss:// prefers https_proxy over HTTPS_PROXY");
    CHECK(wsc__proxy_choose(NULL, &e, false, "h", NULL) == NULL, "ws:// does not use https_proxy");
    e.https_proxy = "";
    CHECK(same(wsc__proxy_choose(NULL, &e, true, "h", &src), "http://S:2") && same(src, "HTTPS_PROXY"),
          "an empty https_proxy counts as unset: HTTPS_PROXY");

    e = (wsc_proxy_env){.all_proxy = "http://all:1", .ALL_PROXY = "http://ALL:2"};
    CHECK(same(wsc__proxy_choose(NULL, &e, false, "h", &src), "http://all:1") && same(src, "all_proxy"),
          "ws:// falls back to all_proxy");
    CHECK(same(wsc__proxy_choose(NULL, &e, true, "h", NULL), "http://all:1"),
          "wss:// falls back to all_proxy");
    e.all_proxy = NULL;
    CHECK(same(wsc__proxy_choose(NULL, &e, true, "h", &src), "http://ALL:2") && same(src, "ALL_PROXY"),
          "then ALL_PROXY");
    e.http_proxy = "";
    CHECK(same(wsc__proxy_choose(NULL, &e, false, "h", NULL), "http://ALL:2"),
          "an empty http_proxy counts as unset");
    e.http_proxy = "http://h:1";
    CHECK(same(wsc__proxy_choose(NULL, &e, false, "x", NULL), "http://h:1"),
          "http_proxy before ALL_PROXY");

    e = (wsc_proxy_env){.http_proxy = "http://p:1", .no_proxy = "example.com"};
    CHECK(wsc__proxy_choose(NULL, &e, false, "www.example.com", &src) == NULL && src == NULL,
          "no_proxy bypasses the proxy");
    CHECK(wsc__proxy_choose(NULL, &e, false, "example.org", NULL) != NULL, "no_proxy: other hosts still use it");
    e = (wsc_proxy_env){.http_proxy = "http://p:1", .NO_PROXY = "example.com"};
    CHECK(wsc__proxy_choose(NULL, &e, false, "example.com", NULL) == NULL, "NO_PROXY too");
    e.no_proxy = "other.org";
    CHECK(wsc__proxy_choose(NULL, &e, false, "example.com", NULL) != NULL,
          "no_proxy, when set, is used instead of NO_PROXY");
    e.no_proxy = "";
    CHECK(wsc__proxy_choose(NULL, &e, false, "example.com", NULL) == NULL,
          "an empty no_proxy counts as unset: NO_PROXY");
}

/* ---- no_proxy ------------------------------------------------------------- */

struct np {
    int line;
    const char *list;
    const char *host;
    bool match;
};

static const struct np nps[] = {
    {__LINE__, "*", "anything.example", true},
    {__LINE__, "*", "10.1.2.3", true},
    {__LINE__, "*", "::1", true},
    {__LINE__, " * ", "x", true},
    {__LINE__, "a.org, *", "x", true},
    {__LINE__, "*.", "x", false},
    {__LINE__, "", "x", false},
    {__LINE__, ",,, ,", "x", false},
    /* Names: itself and subdomains on a label boundary, any case. */
    {__LINE__, "example.com", "example.com", true},
    {__LINE__, "example.com", "www.example.com", true},
    {__LINE__, "example.com", "a.b.example.com", true},
    {__LINE__, "example.com", "badexample.com", false},
    {__LINE__, "example.com", "example.com.au", false},
    {__LINE__, "example.com", "com", false},
    {__LINE__, ".example.com", "example.com", true},
    {__LINE__, ".example.com", "www.example.com", true},
    {__LINE__, ".example.com", "badexample.com", false},
    {__LINE__, "*.example.com", "www.example.com", true},
    {__LINE__, "ExAmple.COM", "www.example.com", true},
    {__LINE__, "example.com.", "www.example.com", true},
    {__LINE__, "example.com", "www.example.com.", true},
    {__LINE__, "localhost", "localhost", true},
    {__LINE__, "localhost", "127.0.0.1", false},
    {__LINE__, "example.com:8080", "example.com", true},
    /* Lists: commas, blanks around entries. */
    {__LINE__, "a.org,b.org", "b.org", true},
    {__LINE__, " a.org , \tb.org\t", "x.b.org", true},
    {__LINE__, "a.org,,b.org", "b.org", true},
    {__LINE__, "a.org b.org", "b.org", false},
    {__LINE__, "a.org,b.org", "c.org", false},
    /* IPv4: exact, CIDR, a port ignored; names never match addresses. */
    {__LINE__, "127.0.0.1", "127.0.0.1", true},
    {__LINE__, "127.0.0.1", "127.0.0.2", false},
    {__LINE__, "0.0.1", "127.0.0.1", false},
    {__LINE__, "127.0.0.1:8080", "127.0.0.1", true},
    {__LINE__, "10.0.0.0/8", "10.200.3.4", true},
    {__LINE__, "10.0.0.0/8", "11.0.0.1", false},
    {__LINE__, "192.168.1.0/24", "192.168.1.255", true},
    {__LINE__, "192.168.1.0/24", "192.168.2.1", false},
    {__LINE__, "172.16.0.0/12", "172.31.255.1", true},
    {__LINE__, "172.16.0.0/12", "172.32.0.1", false},
    {__LINE__, "0.0.0.0/0", "8.8.8.8", true},
    {__LINE__, "10.0.0.0/33", "10.0.0.1", false},
    {__LINE__, "10.0.0.0/x", "10.0.0.1", false},
    {__LINE__, "10.0.0.0/", "10.0.0.1", false},
    {__LINE__, "example.com", "93.184.216.34", false},
    {__LINE__, "10.0.0.1", "10.0.0.1.example.com", false},
    /* IPv6: with or without brackets, CIDR, zone ignored. */
    {__LINE__, "::1", "::1", true},
    {__LINE__, "[::1]", "::1", true},
    {__LINE__, "[::1]:8080", "::1", true},
    {__LINE__, "::1", "[::1]", true},
    {__LINE__, "0:0:0:0:0:0:0:1", "::1", true},
    {__LINE__, "::1", "::2", false},
    {__LINE__, "fd00::/8", "fd12:3456::1", true},
    {__LINE__, "[fd00::]/8", "fd12:3456::1", true},
    {__LINE__, "fd00::/8", "fe80::1", false},
    {__LINE__, "fe80::/10", "fe80::1%eth0", true},
    {__LINE__, "::1", "127.0.0.1", false},
    {__LINE__, "127.0.0.1", "::ffff:127.0.0.1", false},
    {__LINE__, "[::1", "::1", false},
};

static void test_no_proxy(void)
{
    for (size_t i = 0; i < sizeof nps / sizeof nps[0]; i++) {
        const struct np *t = &nps[i];
        bool got = wsc__no_proxy_match(t->list, t->host);
        check_at(got == t->match, __FILE__, t->line, t->match ? "no_proxy should match" : "no_proxy should not match");
    }
}

/* ---- proxy URLs ------------------------------------------------------------ */

struct good_url {
    int line;
    const char *in;
    const char *host;
    int port;
    const char *desc;
    const char *auth;
};

static const struct good_url good_urls[] = {
    {__LINE__, "http://proxy:3128", "proxy", 3128, "proxy:3128", NULL},
    {__LINE__, "http://proxy:3128/", "proxy", 3128, "proxy:3128", NULL},
    {__LINE__, "http://proxy", "proxy", 1080, "proxy:1080", NULL},
    {__LINE__, "http://proxy/", "proxy", 1080, "proxy:1080", NULL},
    {__LINE__, "http://proxy:", "proxy", 1080, "proxy:1080", NULL},
    {__LINE__, "http://proxy:80", "proxy", 80, "proxy:80", NULL},
    {__LINE__, "HTTP://Proxy.Example:8080", "proxy.example", 8080, "proxy.example:8080", NULL},
    {__LINE__, "proxy:3128", "proxy", 3128, "proxy:3128", NULL},
    {__LINE__, "proxy", "proxy", 1080, "proxy:1080", NULL},
    {__LINE__, "127.0.0.1:9", "127.0.0.1", 9, "127.0.0.1:9", NULL},
    {__LINE__, "http://[::1]:8080", "::1", 8080, "[::1]:8080", NULL},
    {__LINE__, "http://[::1]", "::1", 1080, "[::1]:1080", NULL},
    {__LINE__, "[::1]:3", "::1", 3, "[::1]:3", NULL},
    /* User info: Basic credentials, percent-decoded, up to the last '@'. */
    {__LINE__, "http://u:p@proxy:1", "proxy", 1, "proxy:1", "Basic dTpw"},
    {__LINE__, "http://Aladdin:open%20sesame@proxy", "proxy", 1080, "proxy:1080",
     "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="},
    {__LINE__, "u:p@proxy:1", "proxy", 1, "proxy:1", "Basic dTpw"},
    {__LINE__, "http://user@proxy:1", "proxy", 1, "proxy:1", "Basic dXNlcjo="},    /* "user:" */
    {__LINE__, "http://:pw@proxy:1", "proxy", 1, "proxy:1", "Basic OnB3"},         /* ":pw" */
    {__LINE__, "http://@proxy:1", "proxy", 1, "proxy:1", NULL},
    {__LINE__, "http://user%40corp:p%3Ass%2Fw@proxy:1", "proxy", 1, "proxy:1",
     "Basic dXNlckBjb3JwOnA6c3Mvdw=="},                                           /* "user@corp:p:ss/w" */
    {__LINE__, "http://u:p/w@proxy:1", "proxy", 1, "proxy:1", "Basic dTpwL3c="},  /* "u:p/w" */
    {__LINE__, "http://u:a@b@proxy:1", "proxy", 1, "proxy:1", "Basic dTphQGI="},  /* "u:a@b" */
    {__LINE__, "http://t%C3%A9st:123%C2%A3@proxy:1", "proxy", 1, "proxy:1",
     "Basic dMOpc3Q6MTIzwqM="},                                                   /* UTF-8 as is */
};

struct bad_url {
    int line;
    const char *in;
    int err;
    const char *detail; /* a piece of the message */
};

static const struct bad_url bad_urls[] = {
    {__LINE__, "SOCKS4://proxy", WSC_ENOTSUP, "SOCKS4 proxies are not supported"},
    {__LINE__, "socks4a://u:secret@proxy", WSC_ENOTSUP, "use socks5:// or socks5h://"},
    {__LINE__, "socks://proxy", WSC_ENOTSUP, "SOCKS4"},
    {__LINE__, "socks5x://proxy", WSC_ENOTSUP, "SOCKS4"},
    {__LINE__, "https://proxy:443", WSC_ENOTSUP, "https://"},
    {__LINE__, "ftp://proxy", WSC_EINVAL, "unknown proxy scheme \"ftp\""},
    {__LINE__, "ws://proxy", WSC_EINVAL, "unknown proxy scheme"},
    {__LINE__, "http://", WSC_EINVAL, "empty host"},
    {__LINE__, "http://u:secret@", WSC_EINVAL, "empty host"},
    {__LINE__, "http://proxy:99999", WSC_EINVAL, "out of range"},
    {__LINE__, "http://u:secret@proxy:x", WSC_EINVAL, "bad port"},
    {__LINE__, "http://u:secret@pro xy", WSC_EINVAL, "space"},
    {__LINE__, "http://u:secret%zz@proxy", WSC_EINVAL, "%-escape"},
    {__LINE__, "http://u:secret%00@proxy", WSC_EINVAL, "%-escape"},
    {__LINE__, "http://u:secret%4@proxy", WSC_EINVAL, "%-escape"},
    {__LINE__, "http://[::1", WSC_EINVAL, "]"},
};

static void test_url_parse(void)
{
    for (size_t i = 0; i < sizeof good_urls / sizeof good_urls[0]; i++) {
        const struct good_url *t = &good_urls[i];
        wsc_proxy_url p;
        char err[300];
        int r = wsc__proxy_url_parse(t->in, &p, err, sizeof err);
        char what[400];
        snprintf(what, sizeof what, "%s: got r=%d host=%s port=%d desc=%s auth=%s err=%s", t->in, r,
                 p.host ? p.host : "NULL", p.port, p.desc ? p.desc : "NULL", p.auth ? p.auth : "NULL", err);
        check_at(r == 0 && same(p.host, t->host) && p.port == t->port && same(p.desc, t->desc) &&
                     same(p.auth, t->auth),
                 __FILE__, t->line, what);
        wsc__proxy_url_free(&p);
        CHECK(p.host == NULL && p.auth == NULL, "wsc__proxy_url_free zeroes");
    }
    {
        /* SOCKS5: the user info kept as it is (RFC 1929 sends it so), no Basic. */
        wsc_proxy_url sp;
        char serr[300];
        CHECK(wsc__proxy_url_parse("SOCKS5H://al%40ice:p%3Aw@Proxy", &sp, serr, sizeof serr) == 0 &&
                  sp.kind == WSC_PROXY_SOCKS5H && same(sp.host, "proxy") && sp.port == 1080 &&
                  same(sp.user, "al@ice") && same(sp.password, "p:w") && !sp.auth &&
                  same(sp.desc, "proxy:1080"),
              "socks5h:// with user info");
        wsc__proxy_url_free(&sp);
        CHECK(wsc__proxy_url_parse("socks5://[::1]:9050", &sp, serr, sizeof serr) == 0 &&
                  sp.kind == WSC_PROXY_SOCKS5 && same(sp.host, "::1") && sp.port == 9050 && !sp.user,
              "socks5:// without user info");
        wsc__proxy_url_free(&sp);
        CHECK(wsc__proxy_url_parse("http://proxy", &sp, serr, sizeof serr) == 0 && sp.kind == WSC_PROXY_HTTP,
              "http:// is HTTP CONNECT");
        wsc__proxy_url_free(&sp);
    }
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        const struct bad_url *t = &bad_urls[i];
        wsc_proxy_url p;
        char err[300];
        int r = wsc__proxy_url_parse(t->in, &p, err, sizeof err);
        char what[400];
        snprintf(what, sizeof what, "%s: got r=%d err=\"%s\", want %d and \"%s\" without the password",
                 t->in, r, err, t->err, t->detail);
        check_at(r == t->err && contains(err, t->detail) && !contains(err, "secret") && p.host == NULL &&
                     p.auth == NULL,
                 __FILE__, t->line, what);
    }
}

static void test_redact(void)
{
    char out[100];
    wsc__proxy_url_redact("http://u:secret@proxy:1", out, sizeof out);
    CHECKF(same(out, "http://***@proxy:1"), "redact user info: %s", out);
    wsc__proxy_url_redact("u:secret@proxy:1", out, sizeof out);
    CHECKF(same(out, "***@proxy:1"), "redact scheme-less user info: %s", out);
    wsc__proxy_url_redact("http://u:se/cr@et@proxy:1", out, sizeof out);
    CHECKF(same(out, "http://***@proxy:1"), "redact up to the last '@': %s", out);
    wsc__proxy_url_redact("http://proxy:1", out, sizeof out);
    CHECKF(same(out, "http://proxy:1"), "nothing to redact: %s", out);
}

static void test_basic_auth(void)
{
    struct {
        const char *user, *password, *want;
    } t[] = {
        {"Aladdin", "open sesame", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}, /* RFC 7617 */
        {"test", "123\xc2\xa3", "Basic dGVzdDoxMjPCow=="},               /* RFC 7617, UTF-8 */
        {"", "", "Basic Og=="},
        {"a", "", "Basic YTo="},
        {"ab", "", "Basic YWI6"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *got = wsc__hs_basic_auth(t[i].user, t[i].password);
        CHECKF(same(got, t[i].want), "Basic for %s:%s is %s, got %s", t[i].user, t[i].password, t[i].want,
               got ? got : "NULL");
        free(got);
    }
}

/* ---- CONNECT ---------------------------------------------------------------- */

static void test_request(void)
{
    size_t len = 0;
    char *r = wsc__proxy_request("example.com", 443, NULL, &len);
    const char *want = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    CHECKF(same(r, want) && len == strlen(want), "CONNECT for a name: %s", r);
    free(r);

    r = wsc__proxy_request("2001:db8::1", 8080, NULL, &len);
    want = "CONNECT [2001:db8::1]:8080 HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n";
    CHECKF(same(r, want) && len == strlen(want), "CONNECT for an IPv6 literal in brackets: %s", r);
    free(r);

    r = wsc__proxy_request("127.0.0.1", 80, "Basic dTpw", &len);
    want = "CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n"
           "Proxy-Authorization: Basic dTpw\r\n\r\n";
    CHECKF(same(r, want) && len == strlen(want), "CONNECT with credentials: %s", r);
    free(r);
}

/* Judges the response head `raw` (sent_auth as given); the message in err. */
static int judge(const char *raw, bool sent_auth, char *err, size_t size)
{
    wsc_http_head h;
    char perr[200];
    err[0] = '\0';
    if (wsc__http_parse(raw, strlen(raw), false, &h, perr, sizeof perr) < 0) {
        snprintf(err, size, "unparsable test head: %s", perr);
        return 1;
    }
    int r = wsc__proxy_check_response(&h, "127.0.0.1:3128", "example.com:443", sent_auth, err, size);
    wsc__http_free(&h);
    return r;
}

static void test_check_response(void)
{
    char err[400];
    CHECK(judge("HTTP/1.1 200 Connection established\r\n\r\n", false, err, sizeof err) == 0, "200 opens the tunnel");
    CHECK(judge("HTTP/1.0 200 OK\r\n\r\n", false, err, sizeof err) == 0, "HTTP/1.0 200 too");
    CHECK(judge("HTTP/1.1 204 No Content\r\nX: y\r\n\r\n", false, err, sizeof err) == 0, "any 2xx");

    int r = judge("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\n\r\n",
                  false, err, sizeof err);
    CHECKF(r == WSC_ECONNECT && same(err, "the proxy 127.0.0.1:3128 refused CONNECT to example.com:443: 407 Proxy "
                                          "Authentication Required (the proxy wants credentials: put "
                                          "user:password in the proxy URL)"),
           "407 without credentials: %.300s", err);
    r = judge("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", true, err, sizeof err);
    CHECKF(r == WSC_ECONNECT && contains(err, ": 407 Proxy Authentication Required (the proxy did not accept"),
           "407 with credentials: %.300s", err);
    r = judge("HTTP/1.1 407 Nope\r\nProxy-Authenticate: Negotiate\r\n\r\n", false, err, sizeof err);
    CHECKF(r == WSC_ECONNECT && contains(err, "407 Nope (the proxy wants Negotiate authentication"),
           "407 asking for another scheme: %.300s", err);
    r = judge("HTTP/1.1 407 Nope\r\nProxy-Authenticate: Negotiate\r\nProxy-Authenticate: Basic realm=x\r\n\r\n",
              false, err, sizeof err);
    CHECKF(r == WSC_ECONNECT && contains(err, "put user:password"), "407 offering Basic among others: %.300s", err);
    r = judge("HTTP/1.1 407 Nope\r\nProxy-Authenticate: NTLM, Basic realm=\"x\"\r\n\r\n", false, err, sizeof err);
    CHECKF(r == WSC_ECONNECT && contains(err, "put user:password"), "407 offering Basic in a list: %.300s", err);

    r = judge("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", false, err, sizeof err);
    CHECKF(r == WSC_ECONNECT && same(err, "the proxy 127.0.0.1:3128 refused CONNECT to example.com:443: 403 Forbidden"),
           "403: %.300s", err);
    r = judge("HTTP/1.1 502 Bad Gateway\r\n\r\n", false, err, sizeof err);
    CHECKF(r == WSC_ECONNECT && contains(err, "502 Bad Gateway (the proxy could not reach the server)"), "502: %.300s", err);
    r = judge("HTTP/1.1 405 Method Not Allowed\r\n\r\n", false, err, sizeof err);
    CHECKF(r == WSC_ECONNECT && contains(err, "does not do CONNECT"), "405: %.300s", err);
    r = judge("HTTP/1.1 101 Switching Protocols\r\n\r\n", false, err, sizeof err);
    CHECKF(r == WSC_ECONNECT && contains(err, ": 101 Switching Protocols"), "101 is no tunnel: %.300s", err);
    r = judge("HTTP/1.1 300 \r\n\r\n", false, err, sizeof err);
    CHECKF(r == WSC_ECONNECT && contains(err, "example.com:443: 300"), "300 without a reason: %.300s", err);
}

/* ---- the tunnel over a socketpair ----------------------------------------- */

/* A connection whose transport is one end of a socketpair; *peer the other. */
static wsc_conn *pair_conn(int *peer)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return NULL;
    wsc_conn *c = wsc__conn_new(false);
    if (!c) {
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    wsc__tcp_transport(&c->tr, sv[0]);
    *peer = sv[1];
    return c;
}

static void put(int fd, const char *s)
{
    size_t n = strlen(s);
    CHECK(write(fd, s, n) == (ssize_t)n, "the test proxy writes");
}

/* Reads what is waiting on fd (no wait) into buf as a string. */
static void take(int fd, char *buf, size_t size)
{
    ssize_t n = recv(fd, buf, size - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = '\0';
}

/* A tunnel to example.com:443 through proxy:3128 (credentials if auth). */
static void tunnel_to_example(wsc_proxy_tunnel *t, const char *proxy)
{
    int r = wsc__proxy_tunnel_init(t, proxy, true, "example.com", 443);
    CHECKF(r == 0 && t->url.host, "tunnel init with %s: %s", proxy, wsc_last_error());
}

static void test_tunnel_step(void)
{
    int peer;
    char buf[1000];
    wsc_proxy_tunnel t;

    /* The whole answer at once; the request bytes are those of CONNECT. */
    wsc_conn *c = pair_conn(&peer);
    tunnel_to_example(&t, "http://u:p@proxy:3128");
    put(peer, "HTTP/1.1 200 Connection established\r\nVia: test\r\n\r\n");
    int r = wsc__proxy_tunnel_step(&t, c, wsc__deadline_in(2000));
    CHECKF(r == 0 && c->rpos == 0 && c->rend == 0, "200: tunnel open, buffer clean (r=%d rend=%zu: %s)", r, c->rend,
           wsc_last_error());
    take(peer, buf, sizeof buf);
    CHECKF(same(buf, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
                     "Proxy-Authorization: Basic dTpw\r\n\r\n"),
           "the proxy got CONNECT with credentials: %.300s", buf);
    wsc__proxy_tunnel_free(&t);
    wsc_conn_free(c);
    close(peer);

    /* In pieces, never blocking: EAGAIN until the blank line, then open. */
    c = pair_conn(&peer);
    tunnel_to_example(&t, "proxy:3128");
    r = wsc__proxy_tunnel_step(&t, c, WSC_NOWAIT);
    CHECKF(r == WSC_EAGAIN, "nothing answered yet: EAGAIN (r=%d)", r);
    take(peer, buf, sizeof buf);
    CHECKF(same(buf, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
           "the request went out whole on the first call: %.300s", buf);
    const char *pieces[] = {"HTTP/1.1 2", "00 OK\r\n", "Proxy-Agent: x\r\n\r"};
    for (size_t i = 0; i < 3; i++) {
        put(peer, pieces[i]);
        r = wsc__proxy_tunnel_step(&t, c, WSC_NOWAIT);
        CHECKF(r == WSC_EAGAIN, "piece %zu: still EAGAIN (r=%d)", i, r);
    }
    take(peer, buf, sizeof buf);
    CHECKF(buf[0] == '\0', "the request is not sent twice: %.300s", buf);
    r = wsc__proxy_tunnel_step(&t, c, wsc__deadline_in(50));
    CHECKF(r == WSC_ETIMEDOUT, "a deadline with the head incomplete: ETIMEDOUT (r=%d)", r);
    put(peer, "\n");
    r = wsc__proxy_tunnel_step(&t, c, WSC_NOWAIT);
    CHECKF(r == 0 && c->rend == 0, "the last byte opens the tunnel (r=%d: %s)", r, wsc_last_error());
    wsc__proxy_tunnel_free(&t);
    wsc_conn_free(c);
    close(peer);

    /* Bytes after the 2xx head: the server cannot have spoken yet. */
    c = pair_conn(&peer);
    tunnel_to_example(&t, "proxy:3128");
    put(peer, "HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n");
    r = wsc__proxy_tunnel_step(&t, c, wsc__deadline_in(2000));
    CHECKF(r == WSC_ECONNECT && contains(wsc_last_error(), "sent 36 bytes after its answer to CONNECT"),
           "bytes after 200: %s", wsc_last_error());
    wsc__proxy_tunnel_free(&t);
    wsc_conn_free(c);
    close(peer);

    /* Refused with a body. */
    c = pair_conn(&peer);
    tunnel_to_example(&t, "proxy:3128");
    put(peer, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n"
              "Content-Length: 5\r\n\r\nnope!");
    r = wsc__proxy_tunnel_step(&t, c, wsc__deadline_in(2000));
    CHECKF(r == WSC_ECONNECT && contains(wsc_last_error(), "the proxy proxy:3128 refused CONNECT to "
                                                           "example.com:443: 407 Proxy Authentication Required"),
           "407: %s", wsc_last_error());
    wsc__proxy_tunnel_free(&t);
    wsc_conn_free(c);
    close(peer);

    /* Not HTTP; then a proxy that hangs up. */
    c = pair_conn(&peer);
    tunnel_to_example(&t, "proxy:3128");
    put(peer, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
    r = wsc__proxy_tunnel_step(&t, c, wsc__deadline_in(2000));
    CHECKF(r == WSC_ECONNECT && contains(wsc_last_error(), "malformed answer to CONNECT"), "not HTTP: %s",
           wsc_last_error());
    wsc__proxy_tunnel_free(&t);
    wsc_conn_free(c);
    close(peer);

    c = pair_conn(&peer);
    tunnel_to_example(&t, "proxy:3128");
    put(peer, "HTTP/1.1 200");
    shutdown(peer, SHUT_WR);
    r = wsc__proxy_tunnel_step(&t, c, wsc__deadline_in(2000));
    CHECKF(r == WSC_ECONNECT && contains(wsc_last_error(), "closed the connection without answering CONNECT to "
                                                           "example.com:443"),
           "hang-up: %s", wsc_last_error());
    wsc__proxy_tunnel_free(&t);
    wsc_conn_free(c);
    close(peer);

    /* No proxy: the step does nothing. */
    r = wsc__proxy_tunnel_init(&t, "", false, "example.com", 80);
    CHECK(r == 0 && t.url.host == NULL && t.req == NULL, "no proxy: nothing prepared");
    CHECK(wsc__proxy_tunnel_step(&t, NULL, WSC_NOWAIT) == 0, "no proxy: the step passes");
    wsc__proxy_tunnel_free(&t);
}

/* ---- the environment, for real ------------------------------------------- */

static void clear_env(void)
{
    const char *names[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                           "ALL_PROXY", "no_proxy", "NO_PROXY"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unsetenv(names[i]);
}

static void test_env_init(void)
{
    wsc_proxy_tunnel t;
    clear_env();
    setenv("HTTP_PROXY", "http://upper:1", 1);
    CHECK(wsc__proxy_tunnel_init(&t, NULL, false, "example.com", 80) == 0 && !t.url.host,
          "HTTP_PROXY is ignored (as curl does)");
    wsc__proxy_tunnel_free(&t);

    setenv("http_proxy", "http://lower:3128", 1);
    int r = wsc__proxy_tunnel_init(&t, NULL, false, "example.com", 80);
    CHECKF(r == 0 && same(t.url.host, "lower") && t.url.port == 3128 && same(t.source, "http_proxy") &&
               same(t.target, "example.com:80"),
           "http_proxy from the environment (%s)", wsc_last_error());
    CHECKF(same(t.req, "CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n"), "its request: %s",
           t.req ? t.req : "NULL");
    wsc__proxy_tunnel_free(&t);

    CHECK(wsc__proxy_tunnel_init(&t, "", false, "example.com", 80) == 0 && !t.url.host,
          "option \"\" ignores the environment");
    wsc__proxy_tunnel_free(&t);
    CHECK(wsc__proxy_tunnel_init(&t, "http://opt:2", false, "example.com", 80) == 0 && same(t.url.host, "opt"),
          "the option overrides the environment");
    wsc__proxy_tunnel_free(&t);

    setenv("NO_PROXY", "example.com, 10.0.0.0/8", 1);
    CHECK(wsc__proxy_tunnel_init(&t, NULL, false, "www.example.com", 80) == 0 && !t.url.host,
          "NO_PROXY bypasses the proxy");
    wsc__proxy_tunnel_free(&t);
    CHECK(wsc__proxy_tunnel_init(&t, NULL, false, "10.1.1.1", 80) == 0 && !t.url.host, "NO_PROXY CIDR");
    wsc__proxy_tunnel_free(&t);
    CHECK(wsc__proxy_tunnel_init(&t, NULL, false, "example.org", 80) == 0 && t.url.host,
          "NO_PROXY leaves other hosts proxied");
    wsc__proxy_tunnel_free(&t);

    clear_env();
    setenv("https_proxy", "socks5h://u:hunter2@sock:1080", 1);
    r = wsc__proxy_tunnel_init(&t, NULL, true, "example.com", 443);
    CHECKF(r == 0 && t.url.kind == WSC_PROXY_SOCKS5H && same(t.url.host, "sock") &&
               same(t.source, "https_proxy") && same(t.host, "example.com") && t.port == 443,
           "a SOCKS5 https_proxy: %s", wsc_last_error());
    wsc__proxy_tunnel_free(&t);
    setenv("https_proxy", "socks4://u:hunter2@sock:1080", 1);
    r = wsc__proxy_tunnel_init(&t, NULL, true, "example.com", 443);
    CHECKF(r == WSC_ENOTSUP && contains(wsc_last_error(), "https_proxy") &&
               contains(wsc_last_error(), "socks4://***@sock:1080") && !contains(wsc_last_error(), "hunter2"),
           "a SOCKS4 https_proxy: %s", wsc_last_error());
    wsc__proxy_tunnel_free(&t);

    setenv("https_proxy", "http://u:hunter2@sock:99999", 1);
    r = wsc__proxy_tunnel_init(&t, NULL, true, "example.com", 443);
    CHECKF(r == WSC_EINVAL && !contains(wsc_last_error(), "hunter2") && contains(wsc_last_error(), "99999"),
           "a bad https_proxy: %s", wsc_last_error());
    wsc__proxy_tunnel_free(&t);

    r = wsc__proxy_tunnel_init(&t, "http://u:pw@[::1]:8", false, "::1", 9);
    CHECKF(r == 0 && same(t.target, "[::1]:9") && same(t.url.desc, "[::1]:8") &&
               contains(t.req, "CONNECT [::1]:9 HTTP/1.1\r\nHost: [::1]:9\r\nProxy-Authorization: Basic dTpwdw=="),
           "IPv6 target and proxy: %s", t.req ? t.req : "NULL");
    wsc__proxy_tunnel_free(&t);
    clear_env();
}

/* ---- wsc_dial through a scripted proxy, nonblocking ---------------------- */

/* Advances c with wsc_get_state while reading fd until a whole HTTP head has
 * arrived in buf (or 3 s pass). */
static void pump_until_head(wsc_conn *c, int fd, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < 300 && !strstr(buf, "\r\n\r\n"); i++) {
        wsc_get_state(c);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10) == 1) {
            ssize_t n = recv(fd, buf + len, size - 1 - len, 0);
            if (n <= 0)
                break;
            len += (size_t)n;
            buf[len] = '\0';
        }
    }
}

static void test_dial_nonblocking(void)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 4) != 0 ||
        getsockname(l, (struct sockaddr *)&a, &alen) != 0) {
        CHECK(0, "listening socket for the test proxy");
        return;
    }
    char proxy[64];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", ntohs(a.sin_port));

    /* example.invalid never resolves: only the proxy may look it up. */
    wsc_dial_options o = {.proxy = proxy, .nonblocking = true};
    wsc_conn *c = NULL;
    int r = wsc_dial("ws://example.invalid:8080/chat?x=1", &o, &c, NULL);
    CHECKF(r == 0 && c && wsc_get_state(c) == WSC_STATE_CONNECTING, "nonblocking dial via a proxy starts (%s)",
           wsc_last_error());
    if (r != 0) {
        close(l);
        return;
    }
    struct pollfd p = {.fd = l, .events = POLLIN};
    CHECK(poll(&p, 1, 3000) == 1, "the dial connects to the proxy");
    int s = accept(l, NULL, NULL);
    char buf[2000];
    pump_until_head(c, s, buf, sizeof buf);
    CHECKF(same(buf, "CONNECT example.invalid:8080 HTTP/1.1\r\nHost: example.invalid:8080\r\n\r\n"),
           "the proxy got CONNECT: %.300s", buf);

    put(s, "HTTP/1.1 200 Connection estab");
    CHECK(wsc_get_state(c) == WSC_STATE_CONNECTING, "half an answer: still connecting");
    put(s, "lished\r\n\r\n");

    /* Now the proxy is the server: the upgrade request comes through. */
    pump_until_head(c, s, buf, sizeof buf);
    CHECKF(strncmp(buf, "GET /chat?x=1 HTTP/1.1\r\n", 24) == 0 && contains(buf, "\r\nHost: example.invalid:8080\r\n"),
           "the upgrade request keeps the server's target and Host: %.300s", buf);
    const char *k = strstr(buf, "Sec-WebSocket-Key: ");
    char key[25] = "", accept_key[29];
    if (k)
        snprintf(key, sizeof key, "%.24s", k + 19);
    wsc__hs_accept_key(key, accept_key);
    char resp[300];
    snprintf(resp, sizeof resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept_key);
    put(s, resp);
    wsc_state st = WSC_STATE_CONNECTING;
    for (int i = 0; i < 300 && st == WSC_STATE_CONNECTING; i++) {
        poll(NULL, 0, 10);
        st = wsc_get_state(c);
    }
    CHECKF(st == WSC_STATE_OPEN, "the dial opens through the tunnel (state %d: %s)", (int)st, wsc_last_error());
    CHECK(wsc_write(c, WSC_TEXT, "hi", 2, 2000) == 0, "a write goes through the tunnel");
    unsigned char frame[16];
    ssize_t n = recv(s, frame, sizeof frame, 0);
    CHECKF(n == 8 && frame[0] == 0x81 && frame[1] == 0x82, "the proxy side sees a masked text frame (%zd bytes)", n);
    wsc_conn_free(c);
    close(s);
    close(l);
}

/* A proxy that is not listening: a clear error naming it. */
static void test_dial_unreachable(void)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    bind(l, (struct sockaddr *)&a, sizeof a);
    getsockname(l, (struct sockaddr *)&a, &alen);
    close(l); /* the port is now (very likely) closed */
    char proxy[80], want[120];
    snprintf(proxy, sizeof proxy, "http://user:hunter2@127.0.0.1:%d", ntohs(a.sin_port));
    snprintf(want, sizeof want, "could not connect to the proxy 127.0.0.1:%d (from the proxy option)",
             ntohs(a.sin_port));
    wsc_dial_options o = {.proxy = proxy, .handshake_timeout_ms = 3000};
    wsc_conn *c = NULL;
    int r = wsc_dial("ws://example.invalid/", &o, &c, NULL);
    CHECKF(r == WSC_ECONNECT && contains(wsc_last_error(), want) && !contains(wsc_last_error(), "hunter2"),
           "unreachable proxy: %s", wsc_last_error());
    CHECK(c == NULL, "no connection");

    snprintf(proxy, sizeof proxy, "socks5h://user:hunter2@127.0.0.1:%d", ntohs(a.sin_port));
    r = wsc_dial("ws://example.invalid/", &o, &c, NULL);
    CHECKF(r == WSC_ECONNECT && contains(wsc_last_error(), want) && !contains(wsc_last_error(), "hunter2"),
           "unreachable SOCKS5 proxy: %s", wsc_last_error());
}

int main(void)
{
    test_choose_option();
    test_choose_env();
    test_no_proxy();
    test_url_parse();
    test_redact();
    test_basic_auth();
    test_request();
    test_check_response();
    test_tunnel_step();
    test_env_init();
    test_dial_nonblocking();
    test_dial_unreachable();
    return check_summary("test_proxy");
}
