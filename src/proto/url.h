/* SPDX-License-Identifier: MIT */
/* url.h - parsing ws://, wss://, http://, https://, ws+unix:// and
 * wss+unix:// URLs. */
#ifndef WSC_URL_H
#define WSC_URL_H

#include <stdbool.h>

/* A parsed URL. All strings are owned by the struct (freed by wsc__url_free). */
typedef struct {
    bool tls;          /* wss, https or wss+unix */
    char *unix_path;   /* ws+unix:///path/to/socket:/target (as npm ws
                          writes it): the socket's path, else NULL; host is
                          then "localhost" and port 0 */
    char *host;        /* host name or IP, IPv6 without brackets, lower case */
    int port;          /* explicit port, else 80 / 443 */
    char *target;      /* request target: path and query, "/" when empty;
                          the #fragment is dropped */
    char *host_header; /* value for the Host header: host, [v6] in brackets,
                          ":port" only when not the scheme's default */
    char *user;        /* userinfo before '@' (percent-decoded), NULL if none */
    char *password;    /* after ':' in userinfo, NULL if none */
} wsc_url;

/* Parses `s` into *u (zeroed first). Returns 0, or WSC_EINVAL with a detail
 * in `err` (err_size bytes, may be 0) for: unknown scheme (case-insensitive
 * ws/wss/http/https/ws+unix/wss+unix), empty host, bad IPv6 literal, port
 * not in 1-65535, a socket path that is not absolute or too long for
 * sockaddr_un, spaces or control characters. On failure *u holds nothing to free. */
int wsc__url_parse(const char *s, wsc_url *u, char *err, size_t err_size);

/* Percent-decodes s[0..n) into a new string (*out, caller frees). Returns 0,
 * WSC_ENOMEM, or WSC_EINVAL for a bad escape or an escaped NUL (it would cut
 * the string); what was decoded before the error is wiped. */
int wsc__percent_decode(const char *s, size_t n, char **out);

/* "host:port" into buf for messages, an IPv6 literal (a host with ':') in
 * brackets: "[::1]:443". */
void wsc__host_port(char *buf, size_t size, const char *host, int port);

/* Where a redirect's Location leads from the URL base (RFC 3986 section 5,
 * what HTTP clients do): an absolute URL as it is; "//host/path" with
 * base's scheme; "/path" on base's scheme and authority; "path" (or
 * "?query") beside base's last path segment. The #fragment and dot
 * segments are left to the parser and the server. *out is malloc'd
 * (caller frees). 0, WSC_ENOMEM, or WSC_EINVAL for an empty Location or
 * one with spaces or control characters (with a detail in err). */
int wsc__url_resolve(const char *base, const char *location, char **out, char *err,
                     size_t err_size);

/* Frees the strings of u and zeroes it. */
void wsc__url_free(wsc_url *u);

#endif
