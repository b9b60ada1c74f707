/* SPDX-License-Identifier: MIT */
/* proxy.c - proxies for wsc_dial, HTTP CONNECT and SOCKS5: choosing the
 * proxy (option, environment, no_proxy), parsing its URL, and opening the
 * tunnel. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/error.h"
#include "proto/url.h"
#include "native/conn.h"
#include "proto/handshake.h"
#include "proto/socks5.h"
#include "net/proxy.h"

#define DEFAULT_PROXY_PORT 1080
#define MAX_USERINFO 4096

/* ---- Choosing the proxy ---------------------------------------------------- */

void wsc__proxy_env_read(wsc_proxy_env *env)
{
    env->http_proxy = getenv("http_proxy");
    env->https_proxy = getenv("https_proxy");
    env->HTTPS_PROXY = getenv("HTTPS_PROXY");
    env->all_proxy = getenv("all_proxy");
    env->ALL_PROXY = getenv("ALL_PROXY");
    env->no_proxy = getenv("no_proxy");
    env->NO_PROXY = getenv("NO_PROXY");
}

/* The first of a and b that is set and not empty, its name in *name. */
static const char *first_set(const char *a, const char *a_name, const char *b, const char *b_name,
                             const char **name)
{
    if (a && a[0]) {
        *name = a_name;
        return a;
    }
    if (b && b[0]) {
        *name = b_name;
        return b;
    }
    return NULL;
}

const char *wsc__proxy_choose(const char *option, const wsc_proxy_env *env, bool tls,
                             const char *host, const char **source)
{
    const char *url, *name = NULL, *none;
    if (option) {
        url = option[0] ? option : NULL;
        name = "the proxy option";
    } else {
        if (tls)
            url = first_set(env->https_proxy, "https_proxy", env->HTTPS_PROXY, "HTTPS_PROXY", &name);
        else
            url = first_set(env->http_proxy, "http_proxy", NULL, NULL, &name);
        if (!url)
            url = first_set(env->all_proxy, "all_proxy", env->ALL_PROXY, "ALL_PROXY", &name);
        const char *no = first_set(env->no_proxy, "no_proxy", env->NO_PROXY, "NO_PROXY", &none);
        if (url && no && wsc__no_proxy_match(no, host))
            url = NULL;
    }
    if (source)
        *source = url ? name : NULL;
    return url;
}

/* ---- no_proxy ---------------------------------------------------------------- */

enum { KIND_NAME, KIND_V4, KIND_V6 };

/* Whether host is an IPv4 or IPv6 literal (its bytes into addr) or a name.
 * Brackets around the host and an IPv6 zone ("%eth0") are ignored. */
static int host_kind(const char *host, unsigned char addr[16])
{
    char buf[64];
    if (host[0] == '[')
        host++;
    size_t n = strcspn(host, "%]");
    if (n >= sizeof buf)
        return KIND_NAME;
    memcpy(buf, host, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, addr) == 1)
        return KIND_V4;
    if (inet_pton(AF_INET6, buf, addr) == 1)
        return KIND_V6;
    return KIND_NAME;
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Copies the entry e[0..n) into buf without a ":port" suffix and without
 * IPv6 brackets: "[::1]:80" gives "::1", "[fd00::]/8" gives "fd00::/8",
 * "example.com:443" gives "example.com". False when it does not fit or is
 * malformed. */
static bool entry_core(const char *e, size_t n, char *buf, size_t size)
{
    const char *rest = e + n; /* what follows the address: "" or "/bits" */
    const char *start = e;
    size_t len = n;
    if (n > 0 && e[0] == '[') {
        const char *close = memchr(e, ']', n);
        if (!close)
            return false;
        start = e + 1;
        len = (size_t)(close - start);
        rest = close + 1;
        if (rest < e + n && rest[0] == ':')
            rest = e + n; /* a port */
        else if (rest < e + n && rest[0] != '/')
            return false;
    } else {
        const char *colon = memchr(e, ':', n);
        size_t after = colon ? n - (size_t)(colon - e) - 1 : 0;
        if (colon && !memchr(colon + 1, ':', after) && all_digits(colon + 1, after))
            len = (size_t)(colon - e); /* "name:port" or "v4:port" */
    }
    size_t rest_len = (size_t)(e + n - rest);
    if (len + rest_len + 1 > size)
        return false;
    memcpy(buf, start, len);
    memcpy(buf + len, rest, rest_len);
    buf[len + rest_len] = '\0';
    return true;
}

/* Whether the first `bits` bits of a and b are equal. */
static bool prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)bytes) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return ((a[bytes] ^ b[bytes]) & mask) == 0;
}

/* An address entry ("10.1.2.3", "10.0.0.0/8", "::1", "fd00::/8") against an
 * IP host of the given kind. */
static bool ip_matches(char *pat, int kind, const unsigned char *addr)
{
    int max = kind == KIND_V4 ? 32 : 128;
    int bits = max;
    char *slash = strchr(pat, '/');
    if (slash) {
        size_t n = strlen(slash + 1);
        if (!all_digits(slash + 1, n) || n > 3 || atoi(slash + 1) > max)
            return false;
        bits = atoi(slash + 1);
        *slash = '\0';
    }
    unsigned char want[16];
    if (inet_pton(kind == KIND_V4 ? AF_INET : AF_INET6, pat, want) != 1)
        return false;
    return prefix_equal(addr, want, bits);
}

/* A name entry against a host name: itself or a subdomain, ignoring case,
 * a leading "." or "*." and trailing dots. */
static bool name_matches(const char *pat, const char *host)
{
    if (pat[0] == '*' && pat[1] == '.')
        pat += 2;
    else if (pat[0] == '.')
        pat++;
    size_t pn = strlen(pat), hn = strlen(host);
    if (pn > 0 && pat[pn - 1] == '.')
        pn--;
    if (hn > 0 && host[hn - 1] == '.')
        hn--;
    if (pn == 0 || pn > hn || strncasecmp(host + hn - pn, pat, pn) != 0)
        return false;
    return pn == hn || host[hn - pn - 1] == '.';
}

bool wsc__no_proxy_match(const char *list, const char *host)
{
    unsigned char addr[16];
    int kind = host_kind(host, addr);
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *e = p;
        size_t len = n;
        while (len > 0 && (e[0] == ' ' || e[0] == '\t'))
            e++, len--;
        while (len > 0 && (e[len - 1] == ' ' || e[len - 1] == '\t'))
            len--;
        if (len == 1 && e[0] == '*')
            return true;
        char core[256];
        if (len > 0 && entry_core(e, len, core, sizeof core)) {
            bool match = kind == KIND_NAME ? name_matches(core, host) : ip_matches(core, kind, addr);
            if (match)
                return true;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

/* ---- The proxy URL ----------------------------------------------------------- */

/* Writes a sentence into err and returns code. */
static int parse_error(char *err, size_t err_size, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int parse_error(char *err, size_t err_size, int code, const char *fmt, ...)
{
    if (err && err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return code;
}

static bool is_scheme_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+'
        || c == '-' || c == '.';
}

/* Where s goes on after "scheme://", or s itself when it has no scheme. */
static const char *after_scheme(const char *s)
{
    size_t n = 0;
    while (is_scheme_char(s[n]))
        n++;
    if (n > 0 && strncmp(s + n, "://", 3) == 0)
        return s + n + 3;
    return s;
}

/* Frees a string that may hold a secret, overwriting it first. */
static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* Whether the authority at the start of hostport has a non-empty ":port". */
static bool has_explicit_port(const char *hostport)
{
    const char *h = hostport, *end = hostport + strcspn(hostport, "/?#");
    if (h < end && h[0] == '[') {
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close)
            return false;
        h = close + 1;
    }
    const char *colon = memchr(h, ':', (size_t)(end - h));
    return colon && colon + 1 < end;
}

/* Sets p->auth from the user info ui[0..n) ("user[:password]", escaped). */
static int parse_auth(const char *ui, size_t n, wsc_proxy_url *p, char *err, size_t err_size)
{
    if (n > MAX_USERINFO)
        return parse_error(err, err_size, WSC_EINVAL, "the user info is longer than %d bytes",
                           MAX_USERINFO);
    const char *colon = memchr(ui, ':', n);
    size_t user_len = colon ? (size_t)(colon - ui) : n;
    char *user = NULL, *password = NULL;
    int r = wsc__percent_decode(ui, user_len, &user);
    if (r == 0)
        r = wsc__percent_decode(colon ? colon + 1 : "", colon ? n - user_len - 1 : 0, &password);
    if (r == 0 && p->kind != WSC_PROXY_HTTP) { /* SOCKS sends them as they are */
        p->user = user;
        p->password = password;
        return 0;
    }
    if (r == 0) {
        p->auth = wsc__hs_basic_auth(user, password);
        if (!p->auth)
            r = WSC_ENOMEM;
    }
    free_secret(user);
    free_secret(password);
    if (r == WSC_EINVAL)
        return parse_error(err, err_size, r, "bad %%-escape in the user info");
    if (r == WSC_ENOMEM)
        return parse_error(err, err_size, r, "out of memory");
    return 0;
}

/* Checks the scheme of s, if it has one, and says what it speaks. */
static int check_scheme(const char *s, const char *rest, wsc_proxy_kind *kind, char *err,
                        size_t err_size)
{
    *kind = WSC_PROXY_HTTP;
    if (rest == s)
        return 0; /* "host:port", as curl takes it */
    int n = (int)(rest - s - 3);
    if (n == 4 && strncasecmp(s, "http", 4) == 0)
        return 0;
    if (n == 6 && strncasecmp(s, "socks5", 6) == 0) {
        *kind = WSC_PROXY_SOCKS5;
        return 0;
    }
    if (n == 7 && strncasecmp(s, "socks5h", 7) == 0) {
        *kind = WSC_PROXY_SOCKS5H;
        return 0;
    }
    if (n == 5 && strncasecmp(s, "https", 5) == 0)
        return parse_error(err, err_size, WSC_ENOTSUP,
                           "https:// proxies (TLS to the proxy) are not supported: use http://");
    if (n >= 5 && strncasecmp(s, "socks", 5) == 0)
        return parse_error(err, err_size, WSC_ENOTSUP,
                           "SOCKS4 proxies are not supported: use socks5:// or socks5h://");
    return parse_error(err, err_size, WSC_EINVAL,
                       "unknown proxy scheme \"%.*s\" (want http://, socks5:// or socks5h://)",
                       n < 16 ? n : 16, s);
}

int wsc__proxy_url_parse(const char *s, wsc_proxy_url *p, char *err, size_t err_size)
{
    memset(p, 0, sizeof *p);
    if (err && err_size > 0)
        err[0] = '\0';
    const char *rest = after_scheme(s);
    wsc_proxy_kind kind;
    int r = check_scheme(s, rest, &kind, err, err_size);
    if (r < 0)
        return r;
    p->kind = kind;

    /* The user info ends at the last '@' (a password may hold '/' or '@'),
     * and wsc__url_parse never sees it, so its messages cannot show it. */
    const char *at = strrchr(rest, '@');
    const char *hostport = at ? at + 1 : rest;
    size_t size = strlen(hostport) + 8;
    char *url = malloc(size);
    if (!url)
        return parse_error(err, err_size, WSC_ENOMEM, "out of memory");
    snprintf(url, size, "http://%s", hostport);
    wsc_url u;
    r = wsc__url_parse(url, &u, err, err_size);
    free(url);
    if (r < 0)
        return r;

    p->host = u.host;
    u.host = NULL;
    p->port = has_explicit_port(hostport) ? u.port : DEFAULT_PROXY_PORT;
    wsc__url_free(&u);
    size = strlen(p->host) + 10;
    p->desc = malloc(size);
    if (!p->desc)
        r = parse_error(err, err_size, WSC_ENOMEM, "out of memory");
    else
        wsc__host_port(p->desc, size, p->host, p->port);
    if (r == 0 && at && at > rest)
        r = parse_auth(rest, (size_t)(at - rest), p, err, err_size);
    if (r < 0)
        wsc__proxy_url_free(p);
    return r;
}

void wsc__proxy_url_free(wsc_proxy_url *p)
{
    free(p->host);
    free(p->desc);
    free_secret(p->auth);
    free_secret(p->user);
    free_secret(p->password);
    memset(p, 0, sizeof *p);
}

void wsc__proxy_url_redact(const char *s, char *out, size_t out_size)
{
    const char *rest = after_scheme(s);
    const char *at = strrchr(rest, '@');
    if (at)
        snprintf(out, out_size, "%.*s***%s", (int)(rest - s), s, at);
    else
        snprintf(out, out_size, "%s", s);
}

/* ---- CONNECT ------------------------------------------------------------------ */

char *wsc__proxy_request(const char *host, int port, const char *auth, size_t *len)
{
    const char *fmt = strchr(host, ':') ? "[%s]:%d" : "%s:%d";
    size_t target_size = strlen(host) + 10;
    char *target = malloc(target_size);
    size_t size = 2 * target_size + (auth ? strlen(auth) : 0) + 64;
    char *req = malloc(size);
    if (!target || !req) {
        free(target);
        free(req);
        return NULL;
    }
    snprintf(target, target_size, fmt, host, port);
    int n = snprintf(req, size, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n", target, target,
                     auth ? "Proxy-Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "");
    free(target);
    *len = (size_t)n;
    return req;
}

/* Whether some Proxy-Authenticate challenge of h is Basic; *other gets the
 * first other scheme's name (and *other_len its length). */
static bool offers_basic(const wsc_http_head *h, const char **other, int *other_len)
{
    *other = NULL;
    *other_len = 0;
    for (size_t i = 0; i < h->n_headers; i++) {
        if (strcasecmp(h->headers[i].name, "Proxy-Authenticate") != 0)
            continue;
        const char *v = h->headers[i].value;
        for (const char *p = v; p; p = strchr(p, ',')) {
            p += strspn(p, ", \t");
            size_t n = strcspn(p, " \t,=");
            if (n == 5 && strncasecmp(p, "Basic", 5) == 0)
                return true;
            if (!*other && p == v + strspn(v, " \t")) {
                *other = p;
                *other_len = n < 40 ? (int)n : 40;
            }
        }
    }
    return false;
}

/* What to do about a refusal with this status, as " (...)" or "". */
static void refusal_hint(const wsc_http_head *h, bool sent_auth, char *hint, size_t size)
{
    const char *other;
    int other_len;
    hint[0] = '\0';
    switch (h->status) {
    case 407:
        if (!offers_basic(h, &other, &other_len) && other)
            snprintf(hint, size, " (the proxy wants %.*s authentication; wsc can only send Basic)",
                     other_len, other);
        else if (sent_auth)
            snprintf(hint, size, " (the proxy did not accept the user name and password in the "
                                 "proxy URL)");
        else
            snprintf(hint, size, " (the proxy wants credentials: put user:password in the "
                                 "proxy URL)");
        break;
    case 405:
    case 501:
        snprintf(hint, size, " (is it an HTTP proxy? it does not do CONNECT)");
        break;
    case 502:
    case 504:
        snprintf(hint, size, " (the proxy could not reach the server)");
        break;
    }
}

int wsc__proxy_check_response(const wsc_http_head *h, const char *proxy_desc, const char *target,
                             bool sent_auth, char *err, size_t err_size)
{
    if (h->status >= 200 && h->status <= 299)
        return 0;
    char hint[200];
    refusal_hint(h, sent_auth, hint, sizeof hint);
    const char *reason = h->reason ? h->reason : "";
    return parse_error(err, err_size, WSC_ECONNECT, "the proxy %s refused CONNECT to %s: %d%s%.100s%s",
                       proxy_desc, target, h->status, reason[0] ? " " : "", reason, hint);
}

/* ---- The tunnel stage ------------------------------------------------------ */

/* SOCKS5: the conversation's stages, each a message sent or an answer read. */
enum { SOCKS_GREET, SOCKS_METHOD, SOCKS_LOGIN, SOCKS_LOGIN_REPLY, SOCKS_CONNECT, SOCKS_REPLY,
       SOCKS_OPEN };

/* Room for the largest message we send (the user name and password). */
#define SOCKS_MSG_MAX 513

/* SOCKS5: the target (resolved here for socks5://) and the greeting. */
static int socks_init(wsc_proxy_tunnel *t, const char *host, int port)
{
    t->port = port;
    snprintf(t->host, sizeof t->host, "%s", host);
    if (t->url.kind == WSC_PROXY_SOCKS5) {
        /* socks5:// sends an address: the name is resolved here (as curl does). */
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
        int g = getaddrinfo(host, NULL, &hints, &ai);
        if (g != 0)
            return wsc__fail(WSC_EDNS, "cannot resolve %s for the SOCKS5 proxy %s: %s (socks5h:// "
                             "lets the proxy resolve it)", host, t->url.desc, gai_strerror(g));
        const void *addr = ai->ai_family == AF_INET6
                               ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                               : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
        inet_ntop(ai->ai_family, addr, t->host, sizeof t->host);
        freeaddrinfo(ai);
    } else if (strlen(host) > 255) {
        return wsc__fail(WSC_EINVAL, "the host name %.40s... is too long for SOCKS5", host);
    }
    if (t->url.user && (strlen(t->url.user) > 255 || strlen(t->url.password) > 255))
        return wsc__fail(WSC_EINVAL, "SOCKS5 user names and passwords are at most 255 bytes");
    t->req = malloc(SOCKS_MSG_MAX);
    if (!t->req)
        return wsc__fail(WSC_ENOMEM, "out of memory");
    t->req_len = wsc__socks5_greeting(t->url.user != NULL, (uint8_t *)t->req);
    t->socks_stage = SOCKS_GREET;
    return 0;
}

/* Reads until c->rbuf holds `need` bytes of the proxy's answer (never
 * more: what follows is the server's). */
static int socks_read(wsc_proxy_tunnel *t, wsc_conn *c, size_t need, wsc_deadline d)
{
    while (c->rend < need) {
        ptrdiff_t n = wsc__transport_recv(&c->tr, c->rbuf + c->rend, need - c->rend, d, false);
        if (n == WSC_EAGAIN || n == WSC_ETIMEDOUT)
            return (int)n;
        if (n == 0)
            return wsc__fail(WSC_ECONNECT, "the SOCKS5 proxy %s closed the connection while "
                             "opening a tunnel to %s", t->url.desc, t->target);
        if (n < 0) {
            char why[256];
            snprintf(why, sizeof why, "%s", wsc_last_error());
            return wsc__fail(WSC_ECONNECT, "lost the connection to the SOCKS5 proxy %s: %s",
                             t->url.desc, why);
        }
        c->rend += (size_t)n;
    }
    return 0;
}

/* Sends t->req, then moves to `next` with the answer buffer empty. */
static int socks_send(wsc_proxy_tunnel *t, wsc_conn *c, int next, wsc_deadline d)
{
    int r = wsc__transport_send_rest(&c->tr, t->req, t->req_len, &t->req_pos, d);
    if (r < 0 && r != WSC_EAGAIN && r != WSC_ETIMEDOUT) {
        char why[256];
        snprintf(why, sizeof why, "%s", wsc_last_error());
        return wsc__fail(WSC_ECONNECT, "sending to the SOCKS5 proxy %s failed: %s", t->url.desc, why);
    }
    if (r == 0) {
        OPENSSL_cleanse(t->req, t->req_len); /* it may have held the password */
        t->req_len = t->req_pos = 0;
        c->rpos = c->rend = 0;
        t->socks_stage = next;
    }
    return r;
}

static int socks_refused(const wsc_proxy_tunnel *t, const char *why)
{
    return wsc__fail(WSC_ECONNECT, "the SOCKS5 proxy %s (from %s) did not open a tunnel to %s: %s",
                     t->url.desc, t->source, t->target, why);
}

/* The SOCKS5 conversation, resumable stage by stage. */
static int socks_step(wsc_proxy_tunnel *t, wsc_conn *c, wsc_deadline d)
{
    char err[300];
    int r = wsc__conn_rbuf_reserve(c, 16384);
    while (r == 0 && t->socks_stage != SOCKS_OPEN) {
        uint8_t *in = c->rbuf, *out = (uint8_t *)t->req;
        switch (t->socks_stage) {
        case SOCKS_GREET:
            r = socks_send(t, c, SOCKS_METHOD, d);
            break;
        case SOCKS_METHOD:
            if ((r = socks_read(t, c, 2, d)) < 0)
                break;
            int method = wsc__socks5_method(in, t->url.user != NULL, err, sizeof err);
            if (method < 0)
                return socks_refused(t, err);
            if (method == 2) {
                t->req_len = wsc__socks5_password_msg(t->url.user, t->url.password, out);
                t->socks_stage = SOCKS_LOGIN;
            } else {
                t->req_len = wsc__socks5_connect_msg(t->host, t->port, out);
                t->socks_stage = SOCKS_CONNECT;
            }
            break;
        case SOCKS_LOGIN:
            r = socks_send(t, c, SOCKS_LOGIN_REPLY, d);
            break;
        case SOCKS_LOGIN_REPLY:
            if ((r = socks_read(t, c, 2, d)) < 0)
                break;
            if (wsc__socks5_password_ok(in, err, sizeof err) < 0)
                return socks_refused(t, err);
            t->req_len = wsc__socks5_connect_msg(t->host, t->port, out);
            t->socks_stage = SOCKS_CONNECT;
            break;
        case SOCKS_CONNECT:
            r = socks_send(t, c, SOCKS_REPLY, d);
            break;
        default: { /* SOCKS_REPLY */
            size_t used = 0;
            int need = wsc__socks5_reply(in, c->rend, &used, err, sizeof err);
            if (need < 0)
                return socks_refused(t, err);
            if (need > 0)
                r = socks_read(t, c, (size_t)need, d);
            else {
                c->rpos = c->rend = 0; /* the server's bytes start in a clean buffer */
                t->socks_stage = SOCKS_OPEN;
            }
            break;
        }
        }
    }
    return r;
}

int wsc__proxy_tunnel_init(wsc_proxy_tunnel *t, const char *option, bool tls, const char *host,
                          int port)
{
    memset(t, 0, sizeof *t);
    wsc_proxy_env env = {0};
    if (!option)
        wsc__proxy_env_read(&env);
    const char *url = wsc__proxy_choose(option, &env, tls, host, &t->source);
    if (!url)
        return 0;
    char err[300], shown[200];
    int r = wsc__proxy_url_parse(url, &t->url, err, sizeof err);
    if (r < 0) {
        wsc__proxy_url_redact(url, shown, sizeof shown);
        return wsc__fail(r, "cannot use the proxy \"%s\" from %s: %s", shown, t->source, err);
    }
    wsc__host_port(t->target, sizeof t->target, host, port);
    if (t->url.kind != WSC_PROXY_HTTP)
        return socks_init(t, host, port);
    t->req = wsc__proxy_request(host, port, t->url.auth, &t->req_len);
    if (!t->req)
        return wsc__fail(WSC_ENOMEM, "out of memory");
    return 0;
}

/* Sends what is left of the CONNECT request. */
static int send_request(wsc_proxy_tunnel *t, wsc_conn *c, wsc_deadline d)
{
    int r = wsc__transport_send_rest(&c->tr, t->req, t->req_len, &t->req_pos, d);
    if (r < 0 && r != WSC_EAGAIN && r != WSC_ETIMEDOUT) {
        char why[256];
        snprintf(why, sizeof why, "%s", wsc_last_error());
        return wsc__fail(WSC_ECONNECT, "sending CONNECT to the proxy %s failed: %s", t->url.desc, why);
    }
    return r;
}

/* Judges the whole answer head c->rbuf[0..end). */
static int finish(wsc_proxy_tunnel *t, wsc_conn *c, size_t end)
{
    char err[400];
    wsc_http_head h;
    if (wsc__http_parse((char *)c->rbuf, end, false, &h, err, sizeof err) < 0)
        return wsc__fail(WSC_ECONNECT, "the proxy %s sent a malformed answer to CONNECT: %s",
                        t->url.desc, err);
    int r = wsc__proxy_check_response(&h, t->url.desc, t->target, t->url.auth != NULL, err, sizeof err);
    wsc__http_free(&h);
    if (r < 0)
        return wsc__fail(r, "%s", err);
    if (c->rend > end)
        return wsc__fail(WSC_ECONNECT, "the proxy %s sent %zu bytes after its answer to CONNECT "
                        "before the server could speak", t->url.desc, c->rend - end);
    c->rpos = c->rend = 0; /* the server's bytes start in a clean buffer */
    return 0;
}

int wsc__proxy_tunnel_step(wsc_proxy_tunnel *t, wsc_conn *c, wsc_deadline d)
{
    if (!t->url.host)
        return 0;
    if (t->url.kind != WSC_PROXY_HTTP)
        return socks_step(t, c, d);
    int r = send_request(t, c, d);
    if (r == 0) /* the dial's buffer for its response head, at least 16 KiB */
        r = wsc__conn_rbuf_reserve(c, 16384);
    if (r < 0)
        return r;
    for (;;) {
        size_t end = wsc__http_head_end((char *)c->rbuf, c->rend);
        if (end)
            return finish(t, c, end);
        if (c->rend >= c->rcap)
            return wsc__fail(WSC_ECONNECT, "the answer of the proxy %s to CONNECT is longer than %zu "
                            "bytes", t->url.desc, c->rcap);
        ptrdiff_t n = wsc__transport_recv(&c->tr, c->rbuf + c->rend, c->rcap - c->rend, d, false);
        if (n == WSC_EAGAIN || n == WSC_ETIMEDOUT)
            return (int)n;
        if (n == 0)
            return wsc__fail(WSC_ECONNECT, "the proxy %s closed the connection without answering "
                            "CONNECT to %s", t->url.desc, t->target);
        if (n < 0) {
            char why[256];
            snprintf(why, sizeof why, "%s", wsc_last_error());
            return wsc__fail(WSC_ECONNECT, "lost the connection to the proxy %s while waiting for "
                            "its answer to CONNECT to %s: %s", t->url.desc, t->target, why);
        }
        c->rend += (size_t)n;
    }
}

void wsc__proxy_tunnel_free(wsc_proxy_tunnel *t)
{
    wsc__proxy_url_free(&t->url);
    if (t->req) {
        OPENSSL_cleanse(t->req, t->url.kind == WSC_PROXY_HTTP ? t->req_len : SOCKS_MSG_MAX);
        free(t->req);
    }
    memset(t, 0, sizeof *t);
}
