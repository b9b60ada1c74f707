/* SPDX-License-Identifier: MIT */
/* url.c - wsc__url_parse: splits a ws/wss/http/https URL into what dialing
 * needs (host, port, request target, Host header, userinfo). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "wsc.h"
#include "common/error.h"
#include "proto/url.h"

/* Writes a detail into err (if there is room) and returns WSC_EINVAL. */
static int url_error(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int url_error(char *err, size_t err_size, const char *fmt, ...)
{
    if (err && err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        wsc__vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return WSC_EINVAL;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_value(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive comparison of s[0..n) with the lower-case word w. */
static int word_equals(const char *s, size_t n, const char *w)
{
    if (strlen(w) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (to_lower(s[i]) != w[i])
            return 0;
    return 1;
}

/* A NUL-terminated copy of s[0..n), or NULL when out of memory. */
static char *copy_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int wsc__percent_decode(const char *s, size_t n, char **out)
{
    char *d = malloc(n + 1);
    size_t j = 0;

    if (!d)
        return WSC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            d[j++] = s[i];
            continue;
        }
        int hi = n - i >= 3 ? hex_value(s[i + 1]) : -1;
        int lo = n - i >= 3 ? hex_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            for (volatile char *p = d; p < d + j; p++) /* it may be a password */
                *p = 0;
            free(d);
            return WSC_EINVAL;
        }
        d[j++] = (char)(hi * 16 + lo);
        i += 2;
    }
    d[j] = '\0';
    *out = d;
    return 0;
}

/* A dotted-quad IPv4 address: four decimal parts 0-255, no leading zeros. */
static int is_ipv4(const char *s, size_t n)
{
    size_t i = 0;

    for (int part = 0; part < 4; part++) {
        size_t start = i;
        int v = 0;
        if (part > 0) {
            if (i >= n || s[i] != '.')
                return 0;
            start = ++i;
        }
        while (i < n && is_digit(s[i]) && i - start < 3)
            v = v * 10 + (s[i++] - '0');
        if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
            return 0;
    }
    return i == n;
}

/* An IPv6 address as in RFC 4291 section 2.2: eight groups of 1-4 hex
 * digits, one "::" standing for one or more zero groups, and optionally a
 * dotted-quad IPv4 address as the last 32 bits. */
static int is_ipv6(const char *s, size_t n)
{
    int groups = 0, gap = 0;
    size_t i = 0;

    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 1;
        i = 2;
        if (i == n)
            return 1;
    }
    for (;;) {
        size_t start = i;
        while (i < n && hex_value(s[i]) >= 0)
            i++;
        if (i < n && s[i] == '.') {
            if (!is_ipv4(s + start, n - start))
                return 0;
            groups += 2;
            break;
        }
        if (i == start || i - start > 4)
            return 0;
        groups++;
        if (i == n)
            break;
        if (s[i] != ':' || ++i == n)
            return 0;
        if (s[i] == ':') {
            if (gap)
                return 0;
            gap = 1;
            if (++i == n)
                break;
        }
    }
    return gap ? groups <= 7 : groups == 8;
}

/* A character allowed in a host name (or IPv4 address) outside brackets. */
static int is_host_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

/* A character allowed in an IPv6 zone identifier (RFC 6874: unreserved). */
static int is_zone_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_'
        || c == '~';
}

/* Parses the port digits p[0..n) into *port. */
static int parse_port(const char *p, size_t n, int *port,
                      char *err, size_t err_size)
{
    int shown = n < 16 ? (int)n : 16;
    const char *more = n > 16 ? "..." : "";
    long v = 0;

    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return url_error(err, err_size, "bad port \"%.*s%s\"",
                             shown, p, more);
        if (v <= 65535)
            v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > 65535)
        return url_error(err, err_size, "port %.*s%s out of range (1-65535)",
                         shown, p, more);
    *port = (int)v;
    return 0;
}

/* Splits the user info ui[0..n) at its first ':' and decodes both halves. */
static int parse_userinfo(const char *ui, size_t n, wsc_url *u,
                          char *err, size_t err_size)
{
    const char *colon = memchr(ui, ':', n);
    size_t user_len = colon ? (size_t)(colon - ui) : n;
    int rc = wsc__percent_decode(ui, user_len, &u->user);

    if (rc == 0 && colon)
        rc = wsc__percent_decode(colon + 1, n - user_len - 1, &u->password);
    if (rc == WSC_EINVAL)
        return url_error(err, err_size, "bad %%-escape in user info");
    return rc;
}

/* Parses "[v6]" or "[v6]:port" (hp[0] is '['), filling u->host and the
 * bracketed part of the Host header into *hh. */
static int parse_ipv6_host(const char *hp, size_t n, wsc_url *u, char **hh,
                           const char **port, size_t *port_len,
                           char *err, size_t err_size)
{
    const char *rb = memchr(hp, ']', n);
    const char *addr = hp + 1, *zone = NULL, *pct;
    size_t addr_len, zone_len = 0;

    if (!rb)
        return url_error(err, err_size, "missing ']' after IPv6 address");
    addr_len = (size_t)(rb - addr);
    pct = memchr(addr, '%', addr_len);
    if (pct) {
        /* RFC 6874 zone: "%25" then the interface name. */
        if (rb - pct < 4 || pct[1] != '2' || pct[2] != '5')
            return url_error(err, err_size,
                             "bad IPv6 zone (want [addr%%25zone])");
        zone = pct + 3;
        zone_len = (size_t)(rb - zone);
        for (size_t i = 0; i < zone_len; i++)
            if (!is_zone_char(zone[i]))
                return url_error(err, err_size, "bad IPv6 zone \"%.*s\"",
                                 (int)zone_len, zone);
        addr_len = (size_t)(pct - addr);
    }
    if (!is_ipv6(addr, addr_len))
        return url_error(err, err_size, "bad IPv6 address \"%.*s\"",
                         (int)addr_len, addr);

    if (rb + 1 < hp + n) {
        if (rb[1] != ':')
            return url_error(err, err_size, "unexpected \"%.*s\" after ']'",
                             (int)(hp + n - rb - 1), rb + 1);
        *port = rb + 2;
        *port_len = (size_t)(hp + n - rb - 2);
    }

    /* host: addr%zone for getaddrinfo; Host header: [addr%25zone]. */
    u->host = malloc(addr_len + zone_len + 2);
    *hh = malloc(addr_len + zone_len + 6);
    if (!u->host || !*hh)
        return WSC_ENOMEM;
    for (size_t i = 0; i < addr_len; i++)
        u->host[i] = to_lower(addr[i]);
    u->host[addr_len] = '\0';
    if (zone) {
        u->host[addr_len] = '%';
        memcpy(u->host + addr_len + 1, zone, zone_len);
        u->host[addr_len + 1 + zone_len] = '\0';
        wsc__snprintf(*hh, addr_len + zone_len + 6, "[%.*s%%25%.*s]",
                 (int)addr_len, u->host, (int)zone_len, zone);
    } else {
        wsc__snprintf(*hh, addr_len + zone_len + 6, "[%s]", u->host);
    }
    return 0;
}

/* Parses "name" or "name:port" (no brackets) into u->host and *hh. */
static int parse_name_host(const char *hp, size_t n, wsc_url *u, char **hh,
                           const char **port, size_t *port_len,
                           char *err, size_t err_size)
{
    const char *colon = memchr(hp, ':', n);
    size_t name_len = colon ? (size_t)(colon - hp) : n;

    if (colon && memchr(colon + 1, ':', n - name_len - 1))
        return url_error(err, err_size, "more than one ':' in host "
                         "(IPv6 addresses go in brackets, e.g. [::1])");
    if (name_len == 0)
        return url_error(err, err_size, "empty host");
    for (size_t i = 0; i < name_len; i++)
        if (!is_host_char(hp[i]))
            return url_error(err, err_size, "bad character in host \"%.*s\"",
                             (int)name_len, hp);
    if (colon) {
        *port = colon + 1;
        *port_len = n - name_len - 1;
    }
    u->host = copy_n(hp, name_len);
    *hh = copy_n(hp, name_len);
    if (!u->host || !*hh)
        return WSC_ENOMEM;
    for (size_t i = 0; i < name_len; i++) {
        u->host[i] = to_lower(u->host[i]);
        (*hh)[i] = u->host[i];
    }
    return 0;
}

/* The request target: path and query t[0..n) ('#' excluded), "/" in
 * front if missing. */
static int set_target(wsc_url *u, const char *t, size_t n)
{
    size_t at = n > 0 && t[0] == '/' ? 0 : 1;
    u->target = malloc(n + 2);
    if (!u->target)
        return WSC_ENOMEM;
    u->target[0] = '/';
    memcpy(u->target + at, t, n);
    u->target[at + n] = '\0';
    return 0;
}

/* Everything after the scheme's "//". */
static int parse_rest(const char *s, bool tls, wsc_url *u,
                      char *err, size_t err_size)
{
    size_t auth_len = strcspn(s, "/?#");
    const char *hp = s, *at, *port = NULL, *t;
    size_t hp_len = auth_len, port_len = 0, t_len;
    int default_port = tls ? 443 : 80;
    char *hh = NULL;
    int rc;

    /* user:password@ - the last '@' ends it, as browsers do. */
    at = NULL;
    for (size_t i = 0; i < auth_len; i++)
        if (s[i] == '@')
            at = s + i;
    if (at) {
        rc = parse_userinfo(s, (size_t)(at - s), u, err, err_size);
        if (rc)
            return rc;
        hp = at + 1;
        hp_len = (size_t)(s + auth_len - hp);
    }

    if (hp_len == 0)
        return url_error(err, err_size, "empty host");
    if (hp[0] == '[')
        rc = parse_ipv6_host(hp, hp_len, u, &hh, &port, &port_len,
                             err, err_size);
    else
        rc = parse_name_host(hp, hp_len, u, &hh, &port, &port_len,
                             err, err_size);
    /* An empty port ("host:") means the default, as RFC 3986 allows. */
    u->port = default_port;
    if (rc == 0 && port_len > 0)
        rc = parse_port(port, port_len, &u->port, err, err_size);
    if (rc) {
        free(hh);
        return rc;
    }

    /* Host header: ":port" only when it is not the scheme's default. */
    if (u->port == default_port) {
        u->host_header = hh;
    } else {
        size_t size = strlen(hh) + 7;
        u->host_header = malloc(size);
        if (u->host_header)
            wsc__snprintf(u->host_header, size, "%s:%d", hh, u->port);
        free(hh);
        if (!u->host_header)
            return WSC_ENOMEM;
    }

    t = s + auth_len;
    t_len = strcspn(t, "#");
    return set_target(u, t, t_len);
}

/* After "ws+unix://": "/path/to/socket" and ":/target" (optional) up to
 * '#'. The path is taken as written (no %-escapes), as npm ws does. */
static int parse_unix(const char *s, wsc_url *u, char *err, size_t err_size)
{
    size_t path_len = strcspn(s, ":#");
    const char *t = s + path_len;
    if (path_len == 0 || s[0] != '/')
        return url_error(err, err_size, "the socket path after \"+unix://\" must be absolute");
    if (path_len >= sizeof ((struct sockaddr_un *)0)->sun_path)
        return url_error(err, err_size, "socket path of %zu bytes, at most %zu fit", path_len,
                         sizeof ((struct sockaddr_un *)0)->sun_path - 1);
    if (*t == ':')
        t++;
    u->unix_path = copy_n(s, path_len);
    u->host = copy_n("localhost", 9);
    u->host_header = copy_n("localhost", 9);
    if (!u->unix_path || !u->host || !u->host_header)
        return WSC_ENOMEM;
    return set_target(u, t, strcspn(t, "#"));
}

int wsc__url_parse(const char *s, wsc_url *u, char *err, size_t err_size)
{
    size_t scheme_len = 0;
    bool tls;
    int rc;

    memset(u, 0, sizeof *u);
    if (err && err_size > 0)
        err[0] = '\0';
    if (!s)
        return url_error(err, err_size, "no URL");

    for (size_t i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ')
            return url_error(err, err_size, "space in URL at offset %zu", i);
        if (c < 0x20 || c == 0x7f)
            return url_error(err, err_size,
                             "control character 0x%02x in URL at offset %zu",
                             c, i);
    }

    while (is_alpha(s[scheme_len]) || is_digit(s[scheme_len])
           || s[scheme_len] == '+' || s[scheme_len] == '-'
           || s[scheme_len] == '.')
        scheme_len++;
    if (scheme_len == 0 || s[scheme_len] != ':')
        return url_error(err, err_size,
                         "missing scheme (want ws://, wss://, http:// or https://)");
    bool unix_socket = word_equals(s, scheme_len, "ws+unix") || word_equals(s, scheme_len, "wss+unix");
    if (word_equals(s, scheme_len, "ws") || word_equals(s, scheme_len, "http")
        || word_equals(s, scheme_len, "ws+unix"))
        tls = false;
    else if (word_equals(s, scheme_len, "wss") || word_equals(s, scheme_len, "https")
             || word_equals(s, scheme_len, "wss+unix"))
        tls = true;
    else
        return url_error(err, err_size,
                         "unknown scheme \"%.*s\" (want ws, wss, http, https, ws+unix or wss+unix)",
                         (int)(scheme_len < 16 ? scheme_len : 16), s);
    if (s[scheme_len + 1] != '/' || s[scheme_len + 2] != '/')
        return url_error(err, err_size, "missing \"//\" after \"%.*s:\"",
                         (int)scheme_len, s);

    u->tls = tls;
    if (unix_socket)
        rc = parse_unix(s + scheme_len + 3, u, err, err_size);
    else
        rc = parse_rest(s + scheme_len + 3, tls, u, err, err_size);
    if (rc) {
        wsc__url_free(u);
        if (rc == WSC_ENOMEM)
            url_error(err, err_size, "out of memory");
    }
    return rc;
}

void wsc__host_port(char *buf, size_t size, const char *host, int port)
{
    wsc__snprintf(buf, size, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

void wsc__url_free(wsc_url *u)
{
    if (!u)
        return;
    free(u->unix_path);
    free(u->host);
    free(u->target);
    free(u->host_header);
    free(u->user);
    free(u->password);
    memset(u, 0, sizeof *u);
}

int wsc__url_resolve(const char *base, const char *location, char **out, char *err,
                     size_t err_size)
{
    *out = NULL;
    size_t loc_len = strlen(location);
    if (!loc_len)
        return url_error(err, err_size, "an empty Location");
    for (size_t i = 0; i < loc_len; i++)
        if ((unsigned char)location[i] <= ' ' || location[i] == 0x7f)
            return url_error(err, err_size, "a space or control character in the Location");
    /* Absolute: a scheme (letters, digits, + - .) and ':' before any '/', '?' or '#'. */
    size_t scheme = 0;
    while (is_alpha(location[scheme]) || (scheme && (is_digit(location[scheme]) ||
           location[scheme] == '+' || location[scheme] == '-' || location[scheme] == '.')))
        scheme++;
    size_t keep; /* how much of base comes first */
    const char *base_rest = strstr(base, "://");
    if (scheme && location[scheme] == ':') {
        keep = 0;
    } else if (!base_rest) {
        return url_error(err, err_size, "the base URL has no scheme");
    } else if (location[0] == '/' && location[1] == '/') {
        keep = (size_t)(base_rest - base) + 1;           /* "ws:" */
    } else {
        const char *auth = base_rest + 3;
        const char *path = auth + strcspn(auth, "/?#");  /* end of the authority */
        if (location[0] == '/') {
            keep = (size_t)(path - base);
        } else {
            /* Beside the last segment: up to its '/', before any query. */
            const char *end = path + strcspn(path, "?#");
            if (location[0] == '?') {
                keep = (size_t)(end - base);
            } else {
                const char *slash = end;
                while (slash > path && slash[-1] != '/')
                    slash--;
                keep = (size_t)(slash - base);
                if (slash == path) { /* no path: "/" before the segment */
                    char *s = malloc(keep + 1 + loc_len + 1);
                    if (!s)
                        return WSC_ENOMEM;
                    memcpy(s, base, keep);
                    s[keep] = '/';
                    memcpy(s + keep + 1, location, loc_len + 1);
                    *out = s;
                    return 0;
                }
            }
        }
    }
    char *s = malloc(keep + loc_len + 1);
    if (!s)
        return WSC_ENOMEM;
    memcpy(s, base, keep);
    memcpy(s + keep, location, loc_len + 1);
    *out = s;
    return 0;
}
