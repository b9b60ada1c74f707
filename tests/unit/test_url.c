/* SPDX-License-Identifier: MIT */
/* test_url.c - wsc__url_parse on tables of good and bad URLs. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsc.h"
#include "proto/url.h"
#include "check.h"

/* Equal strings, or both NULL. */
static bool same(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

struct good {
    int line;
    const char *in;
    bool tls;
    const char *host;
    int port;
    const char *target;
    const char *host_header;
    const char *user;
    const char *password;
};

static const struct good goods[] = {
    /* Schemes, case-insensitive, and their default ports. */
    {__LINE__, "ws://example.com/", false, "example.com", 80, "/", "example.com", NULL, NULL},
    {__LINE__, "wss://example.com/", true, "example.com", 443, "/", "example.com", NULL, NULL},
    {__LINE__, "http://example.com/", false, "example.com", 80, "/", "example.com", NULL, NULL},
    {__LINE__, "https://example.com/", true, "example.com", 443, "/", "example.com", NULL, NULL},
    {__LINE__, "WS://example.com/", false, "example.com", 80, "/", "example.com", NULL, NULL},
    {__LINE__, "WsS://example.com", true, "example.com", 443, "/", "example.com", NULL, NULL},
    {__LINE__, "HTTPS://example.com", true, "example.com", 443, "/", "example.com", NULL, NULL},
    {__LINE__, "hTTp://example.com", false, "example.com", 80, "/", "example.com", NULL, NULL},
    /* Host lower-cased. */
    {__LINE__, "ws://ExAmPlE.COM/Path", false, "example.com", 80, "/Path", "example.com", NULL, NULL},
    {__LINE__, "ws://a", false, "a", 80, "/", "a", NULL, NULL},
    {__LINE__, "ws://my_host-1.local.", false, "my_host-1.local.", 80, "/", "my_host-1.local.", NULL, NULL},
    {__LINE__, "ws://127.0.0.1:9001/", false, "127.0.0.1", 9001, "/", "127.0.0.1:9001", NULL, NULL},
    /* Ports: explicit, defaults omitted from the Host header. */
    {__LINE__, "ws://h:8080/x", false, "h", 8080, "/x", "h:8080", NULL, NULL},
    {__LINE__, "ws://h:1", false, "h", 1, "/", "h:1", NULL, NULL},
    {__LINE__, "ws://h:65535", false, "h", 65535, "/", "h:65535", NULL, NULL},
    {__LINE__, "ws://h:80/", false, "h", 80, "/", "h", NULL, NULL},
    {__LINE__, "wss://h:443/", true, "h", 443, "/", "h", NULL, NULL},
    {__LINE__, "wss://h:80/", true, "h", 80, "/", "h:80", NULL, NULL},
    {__LINE__, "ws://h:443/", false, "h", 443, "/", "h:443", NULL, NULL},
    {__LINE__, "ws://h:0080/", false, "h", 80, "/", "h", NULL, NULL},
    {__LINE__, "ws://h:/", false, "h", 80, "/", "h", NULL, NULL},
    {__LINE__, "wss://h:", true, "h", 443, "/", "h", NULL, NULL},
    /* IPv6 literals: host without brackets, Host header with. */
    {__LINE__, "ws://[::1]/", false, "::1", 80, "/", "[::1]", NULL, NULL},
    {__LINE__, "ws://[::1]:9001/", false, "::1", 9001, "/", "[::1]:9001", NULL, NULL},
    {__LINE__, "wss://[::1]:443", true, "::1", 443, "/", "[::1]", NULL, NULL},
    {__LINE__, "ws://[::]", false, "::", 80, "/", "[::]", NULL, NULL},
    {__LINE__, "ws://[2001:DB8::A]:1/x", false, "2001:db8::a", 1, "/x", "[2001:db8::a]:1", NULL, NULL},
    {__LINE__, "ws://[1:2:3:4:5:6:7:8]", false, "1:2:3:4:5:6:7:8", 80, "/", "[1:2:3:4:5:6:7:8]", NULL, NULL},
    {__LINE__, "ws://[1:2:3:4:5:6:7::]", false, "1:2:3:4:5:6:7::", 80, "/", "[1:2:3:4:5:6:7::]", NULL, NULL},
    {__LINE__, "ws://[::2:3:4:5:6:7:8]", false, "::2:3:4:5:6:7:8", 80, "/", "[::2:3:4:5:6:7:8]", NULL, NULL},
    {__LINE__, "ws://[1::8]", false, "1::8", 80, "/", "[1::8]", NULL, NULL},
    {__LINE__, "ws://[::ffff:192.0.2.1]:81", false, "::ffff:192.0.2.1", 81, "/", "[::ffff:192.0.2.1]:81", NULL, NULL},
    {__LINE__, "ws://[1:2:3:4:5:6:1.2.3.4]", false, "1:2:3:4:5:6:1.2.3.4", 80, "/", "[1:2:3:4:5:6:1.2.3.4]", NULL, NULL},
    {__LINE__, "ws://[fe80::1%25eth0]:9/", false, "fe80::1%eth0", 9, "/", "[fe80::1%25eth0]:9", NULL, NULL},
    {__LINE__, "ws://[::1]:", false, "::1", 80, "/", "[::1]", NULL, NULL},
    /* Path and query verbatim; "/" added when missing; fragment dropped. */
    {__LINE__, "ws://h", false, "h", 80, "/", "h", NULL, NULL},
    {__LINE__, "ws://h?a=b", false, "h", 80, "/?a=b", "h", NULL, NULL},
    {__LINE__, "ws://h:81?a=b", false, "h", 81, "/?a=b", "h:81", NULL, NULL},
    {__LINE__, "ws://h/a/b?c=d&e=%20f", false, "h", 80, "/a/b?c=d&e=%20f", "h", NULL, NULL},
    {__LINE__, "ws://h/A%2Fb/../c?Q", false, "h", 80, "/A%2Fb/../c?Q", "h", NULL, NULL},
    {__LINE__, "ws://h/p?q#frag", false, "h", 80, "/p?q", "h", NULL, NULL},
    {__LINE__, "ws://h#frag", false, "h", 80, "/", "h", NULL, NULL},
    {__LINE__, "ws://h/#", false, "h", 80, "/", "h", NULL, NULL},
    {__LINE__, "ws://h?", false, "h", 80, "/?", "h", NULL, NULL},
    {__LINE__, "ws://h/p@q:r", false, "h", 80, "/p@q:r", "h", NULL, NULL},
    {__LINE__, "ws://h?x=[1]", false, "h", 80, "/?x=[1]", "h", NULL, NULL},
    {__LINE__, "ws://h/caf\xC3\xA9", false, "h", 80, "/caf\xC3\xA9", "h", NULL, NULL},
    /* User info, percent-decoded; the last '@' ends it. */
    {__LINE__, "ws://user:pass@h/", false, "h", 80, "/", "h", "user", "pass"},
    {__LINE__, "ws://user@h:81", false, "h", 81, "/", "h:81", "user", NULL},
    {__LINE__, "ws://user:@h", false, "h", 80, "/", "h", "user", ""},
    {__LINE__, "ws://:pw@h", false, "h", 80, "/", "h", "", "pw"},
    {__LINE__, "ws://@h", false, "h", 80, "/", "h", "", NULL},
    {__LINE__, "ws://a%40b:c%3Ad%25@h", false, "h", 80, "/", "h", "a@b", "c:d%"},
    {__LINE__, "ws://us%65r:p:w@h", false, "h", 80, "/", "h", "user", "p:w"},
    {__LINE__, "ws://a@b@h", false, "h", 80, "/", "h", "a@b", NULL},
    {__LINE__, "wss://u:p@[::1]:8443/x?y#z", true, "::1", 8443, "/x?y", "[::1]:8443", "u", "p"},
};

struct bad {
    int line;
    const char *in;
    const char *detail; /* a substring of the error detail */
};

static const struct bad bads[] = {
    /* Schemes */
    {__LINE__, "", "scheme"},
    {__LINE__, "example.com/x", "scheme"},
    {__LINE__, "//example.com/", "scheme"},
    {__LINE__, "ftp://example.com/", "unknown scheme \"ftp\""},
    {__LINE__, "wsx://example.com/", "unknown scheme"},
    {__LINE__, "w://example.com/", "unknown scheme"},
    {__LINE__, "localhost:8080", "unknown scheme"},
    {__LINE__, "ws:example.com", "//"},
    {__LINE__, "ws:/example.com", "//"},
    {__LINE__, "ws:", "//"},
    /* Hosts */
    {__LINE__, "ws://", "empty host"},
    {__LINE__, "ws:///path", "empty host"},
    {__LINE__, "ws://?q", "empty host"},
    {__LINE__, "ws://:80/", "empty host"},
    {__LINE__, "ws://user@/", "empty host"},
    {__LINE__, "ws://user:pw@:80", "empty host"},
    {__LINE__, "ws://ex!mple.com", "host"},
    {__LINE__, "ws://h%41st", "host"},
    {__LINE__, "ws://caf\xC3\xA9.com", "host"},
    {__LINE__, "ws://h\\x/", "host"},
    /* IPv6 */
    {__LINE__, "ws://::1/", "brackets"},
    {__LINE__, "ws://[::1/", "']'"},
    {__LINE__, "ws://[::1", "']'"},
    {__LINE__, "ws://[]/", "IPv6"},
    {__LINE__, "ws://[:]/", "IPv6"},
    {__LINE__, "ws://[:::]/", "IPv6"},
    {__LINE__, "ws://[1:2]/", "IPv6"},
    {__LINE__, "ws://[1::2::3]/", "IPv6"},
    {__LINE__, "ws://[1:2:3:4:5:6:7:8:9]/", "IPv6"},
    {__LINE__, "ws://[1:2:3:4:5:6:7:8::]/", "IPv6"},
    {__LINE__, "ws://[12345::]/", "IPv6"},
    {__LINE__, "ws://[g::1]/", "IPv6"},
    {__LINE__, "ws://[:1::]/", "IPv6"},
    {__LINE__, "ws://[1:]/", "IPv6"},
    {__LINE__, "ws://[::1.2.3]/", "IPv6"},
    {__LINE__, "ws://[::1.2.3.256]/", "IPv6"},
    {__LINE__, "ws://[::1.2.3.04]/", "IPv6"},
    {__LINE__, "ws://[1.2.3.4::]/", "IPv6"},
    {__LINE__, "ws://[1:2:3:4:5:6:7:1.2.3.4]/", "IPv6"},
    {__LINE__, "ws://[example.com]/", "IPv6"},
    {__LINE__, "ws://[fe80::1%eth0]/", "zone"},
    {__LINE__, "ws://[fe80::1%25]/", "zone"},
    {__LINE__, "ws://[fe80::1%2]/", "zone"},
    {__LINE__, "ws://[fe80::1%25a%b]/", "zone"},
    {__LINE__, "ws://[::1]x/", "after ']'"},
    {__LINE__, "ws://[::1]]/", "after ']'"},
    {__LINE__, "ws://[::1][::2]/", "after ']'"},
    {__LINE__, "ws://[::1]80/", "after ']'"},
    {__LINE__, "ws://[::1]:x/", "port"},
    /* Ports */
    {__LINE__, "ws://h:0/", "out of range"},
    {__LINE__, "ws://h:00/", "out of range"},
    {__LINE__, "ws://h:65536/", "out of range"},
    {__LINE__, "ws://h:99999999999999999999999/", "out of range"},
    {__LINE__, "ws://h:-1/", "bad port"},
    {__LINE__, "ws://h:+80/", "bad port"},
    {__LINE__, "ws://h:8o/", "bad port"},
    {__LINE__, "ws://h:80:80/", "brackets"},
    {__LINE__, "ws://[::1]:65536/", "out of range"},
    /* Spaces and control characters, anywhere */
    {__LINE__, "ws://ex ample.com/", "space"},
    {__LINE__, "ws://h/a b", "space"},
    {__LINE__, " ws://h/", "space"},
    {__LINE__, "ws://h/\t", "control"},
    {__LINE__, "ws://h/\r\nX: y", "control"},
    {__LINE__, "ws://h\x7f/", "control"},
    {__LINE__, "ws://h/?\x01", "control"},
    {__LINE__, "ws://h/#a b", "space"},
    /* User info escapes */
    {__LINE__, "ws://a%4@h", "escape"},
    {__LINE__, "ws://a%zz@h", "escape"},
    {__LINE__, "ws://a%@h", "escape"},
    {__LINE__, "ws://u:p%0@h", "escape"},
    {__LINE__, "ws://a%00b@h", "escape"},
    /* Unix sockets */
    {__LINE__, "ws+unix://", "absolute"},
    {__LINE__, "ws+unix://relative.sock:/x", "absolute"},
    {__LINE__, "ws+unix://:/x", "absolute"},
    {__LINE__, "ws+unix:///" "0123456789012345678901234567890123456789012345678901234567890123456789"
               "0123456789012345678901234567890123456789", "at most 107 fit"},
    {__LINE__, "unix:///tmp/s", "scheme"},
};

/* ws+unix:// and wss+unix://: the socket path and the target. */
static void test_unix(void)
{
    struct {
        const char *in, *path, *target;
        bool tls;
    } cases[] = {
        {"ws+unix:///tmp/a.sock", "/tmp/a.sock", "/", false},
        {"ws+unix:///tmp/a.sock:/chat?room=1", "/tmp/a.sock", "/chat?room=1", false},
        {"WS+UNIX:///tmp/a.sock:/x#frag", "/tmp/a.sock", "/x", false},
        {"wss+unix:///run/w.sock:x", "/run/w.sock", "/x", true},
        {"ws+unix:///a/b.sock:", "/a/b.sock", "/", false},
        {"ws+unix:///a%20b.sock:/t", "/a%20b.sock", "/t", false}, /* taken as written */
    };
    char err[200];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wsc_url u;
        int rc = wsc__url_parse(cases[i].in, &u, err, sizeof err);
        CHECKF(rc == 0, "\"%s\" failed: %s", cases[i].in, err);
        if (rc != 0)
            continue;
        CHECKF(same(u.unix_path, cases[i].path) && same(u.target, cases[i].target) && u.tls == cases[i].tls
               && same(u.host, "localhost") && same(u.host_header, "localhost") && u.port == 0,
               "\"%s\": got path=%s target=%s tls=%d host=%s host_header=%s port=%d", cases[i].in,
               u.unix_path, u.target, u.tls, u.host, u.host_header, u.port);
        wsc__url_free(&u);
        CHECK(u.unix_path == NULL, "wsc__url_free frees the socket path");
    }
    wsc_url u;
    CHECK(wsc__url_parse("ws://h/", &u, err, sizeof err) == 0 && u.unix_path == NULL, "ws:// has no socket path");
    wsc__url_free(&u);
}

static void test_goods(void)
{
    char err[200];

    for (size_t i = 0; i < sizeof goods / sizeof goods[0]; i++) {
        const struct good *g = &goods[i];
        wsc_url u;
        int rc = wsc__url_parse(g->in, &u, err, sizeof err);

        CHECKF(rc == 0, "\"%s\" (line %d) failed: %s", g->in, g->line, err);
        if (rc != 0)
            continue;
        CHECKF(u.tls == g->tls && same(u.host, g->host) && u.port == g->port
               && same(u.target, g->target)
               && same(u.host_header, g->host_header)
               && same(u.user, g->user) && same(u.password, g->password),
               "\"%s\" (line %d): got tls=%d host=%s port=%d target=%s "
               "host_header=%s user=%s password=%s",
               g->in, g->line, u.tls, u.host, u.port, u.target,
               u.host_header, u.user ? u.user : "(null)",
               u.password ? u.password : "(null)");
        CHECKF(err[0] == '\0', "\"%s\" (line %d): err not cleared",
               g->in, g->line);
        wsc__url_free(&u);
        CHECK(u.host == NULL && u.target == NULL && u.host_header == NULL,
              "wsc__url_free zeroes");
    }
}

static void test_bads(void)
{
    static const wsc_url zero;
    char err[200];

    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        const struct bad *b = &bads[i];
        wsc_url u;
        int rc;

        memset(&u, 0x5A, sizeof u);
        rc = wsc__url_parse(b->in, &u, err, sizeof err);
        CHECKF(rc == WSC_EINVAL, "\"%s\" (line %d): want WSC_EINVAL, got %d",
               b->in, b->line, rc);
        CHECKF(strstr(err, b->detail) != NULL,
               "\"%s\" (line %d): detail \"%s\" lacks \"%s\"", b->in, b->line,
               err, b->detail);
        CHECKF(memcmp(&u, &zero, sizeof u) == 0,
               "\"%s\" (line %d): *u not zeroed", b->in, b->line);
        if (rc == 0)
            wsc__url_free(&u);
    }
}

/* The err buffer: NULL/0 is fine, a short one is truncated and terminated. */
static void test_err_buffer(void)
{
    wsc_url u;
    char small[8];

    CHECK(wsc__url_parse("ftp://x", &u, NULL, 0) == WSC_EINVAL,
          "NULL err buffer");
    memset(small, 'x', sizeof small);
    CHECK(wsc__url_parse("ftp://x", &u, small, sizeof small) == WSC_EINVAL,
          "small err buffer");
    CHECK(memchr(small, '\0', sizeof small) != NULL,
          "small err buffer is NUL-terminated");
    CHECK(strlen(small) == sizeof small - 1, "small err buffer is full");
    small[0] = 'x';
    CHECK(wsc__url_parse("ftp://x", &u, small, 0) == WSC_EINVAL
          && small[0] == 'x', "err_size 0 leaves err alone");
    CHECK(wsc__url_parse(NULL, &u, small, sizeof small) == WSC_EINVAL,
          "NULL URL");
    wsc__url_free(NULL);
    CHECK(1, "wsc__url_free(NULL)");
}

static void test_host_port(void)
{
    char buf[64];
    wsc__host_port(buf, sizeof buf, "example.com", 443);
    CHECK(strcmp(buf, "example.com:443") == 0, "name:port");
    wsc__host_port(buf, sizeof buf, "127.0.0.1", 80);
    CHECK(strcmp(buf, "127.0.0.1:80") == 0, "IPv4:port");
    wsc__host_port(buf, sizeof buf, "::1", 443);
    CHECK(strcmp(buf, "[::1]:443") == 0, "IPv6 in brackets: [::1]:443");
    wsc__host_port(buf, sizeof buf, "fe80::1%eth0", 9001);
    CHECK(strcmp(buf, "[fe80::1%eth0]:9001") == 0, "IPv6 with a zone in brackets");
}

static void test_resolve(void)
{
    static const struct { const char *base, *loc, *want; } cases[] = {
        {"ws://h:81/a/b?q=1", "wss://other/x", "wss://other/x"},
        {"ws://h:81/a/b?q=1", "HTTPS://Other", "HTTPS://Other"},
        {"wss://h/a/b", "//cdn.example/y", "wss://cdn.example/y"},
        {"ws://h:81/a/b?q=1", "/root?z", "ws://h:81/root?z"},
        {"ws://u:p@h:81/a/b?q=1", "c", "ws://u:p@h:81/a/c"},
        {"ws://h/a/b/", "c", "ws://h/a/b/c"},
        {"ws://h/a/b?q=1", "?r=2", "ws://h/a/b?r=2"},
        {"ws://h", "c", "ws://h/c"},
        {"ws://h?q", "c", "ws://h/c"},
        {"ws://[::1]:9/a", "b", "ws://[::1]:9/b"},
        {"ws://h/a", "../up", "ws://h/../up"}, /* dot segments: the server's */
        {"ws://h/a#frag", "b", "ws://h/b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL, err[200];
        int r = wsc__url_resolve(cases[i].base, cases[i].loc, &out, err, sizeof err);
        CHECKF(r == 0 && out && strcmp(out, cases[i].want) == 0, "%s + %s = %s (got %s)",
               cases[i].base, cases[i].loc, cases[i].want, out ? out : err);
        free(out);
    }
    static const char *const bad[] = {"", "/a b", "/a\r\nX: y", "\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = (char *)1, err[200] = "";
        CHECKF(wsc__url_resolve("ws://h/", bad[i], &out, err, sizeof err) == WSC_EINVAL && !out && err[0],
               "bad Location %zu refused", i);
    }
}

int main(void)
{
    test_resolve();
    test_unix();
    test_goods();
    test_bads();
    test_err_buffer();
    test_host_port();
    return check_summary("test_url");
}
