/* SPDX-License-Identifier: MIT */
/* proxy.h - HTTP CONNECT proxies for wsc_dial: which proxy a dial uses (the
 * option, or the environment as curl reads it, with no_proxy), the proxy
 * URL, the CONNECT request, and the proxy's answer. The choosing and parsing
 * functions take every input as an argument, so tests need not touch the
 * process environment. */
#ifndef WSC_PROXY_H
#define WSC_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "wsc.h"
#include "common/deadline.h"
#include "proto/http.h"

/* The proxy variables of the environment; NULL (or "") when unset. */
typedef struct {
    const char *http_proxy;   /* no HTTP_PROXY: curl ignores it (CGI's httpoxy) */
    const char *https_proxy;
    const char *HTTPS_PROXY;
    const char *all_proxy;
    const char *ALL_PROXY;
    const char *no_proxy;
    const char *NO_PROXY;
} wsc_proxy_env;

/* Fills *env with getenv(). */
void wsc__proxy_env_read(wsc_proxy_env *env);

/* The proxy URL for a dial to `host` (a wsc_url host: lower case, IPv6
 * without brackets), or NULL to connect directly.
 *   option non-NULL: option itself, or NULL when it is "". The environment
 *                    is not looked at, no_proxy included.
 *   option NULL:     tls ? https_proxy, else HTTPS_PROXY : http_proxy; then
 *                    all_proxy, else ALL_PROXY. Empty values count as unset
 *                    (as in curl). NULL when no_proxy (else NO_PROXY)
 *                    matches host.
 * *source (may be NULL) names where the URL came from, for messages: "the
 * proxy option", "http_proxy", "HTTPS_PROXY"... */
const char *wsc__proxy_choose(const char *option, const wsc_proxy_env *env, bool tls,
                             const char *host, const char **source);

/* Whether host (as for wsc__proxy_choose) is in the no_proxy list `list`:
 * comma-separated entries, spaces and tabs around them ignored; "*" matches
 * every host; other entries match a host name case-insensitively, itself or
 * a subdomain on a label boundary ("example.com" and ".example.com" both
 * match "example.com" and "a.example.com", not "badexample.com"; trailing
 * dots ignored); IP literals match an IP host exactly (IPv6 with or without
 * brackets), or a range in CIDR form ("10.0.0.0/8", "fd00::/8"). A ":port"
 * suffix on an entry is ignored. Names are never resolved. */
bool wsc__no_proxy_match(const char *list, const char *host);

/* What a proxy speaks. SOCKS5 resolves the server's name here and sends
 * the address; SOCKS5H sends the name (as curl's socks5:// and socks5h://). */
typedef enum { WSC_PROXY_HTTP, WSC_PROXY_SOCKS5, WSC_PROXY_SOCKS5H } wsc_proxy_kind;

/* A parsed proxy URL. Strings owned by it (wsc__proxy_url_free). */
typedef struct {
    wsc_proxy_kind kind;
    char *host;   /* name or address, lower case, IPv6 without brackets */
    int port;     /* 1080 unless given */
    char *auth;   /* HTTP: "Basic <base64(user:password)>", NULL without user info */
    char *user, *password; /* SOCKS: the user info, decoded; NULL without */
    char *desc;   /* "host:port" ("[v6]:port") for messages; never credentials */
} wsc_proxy_url;

/* Parses "http://[user:password@]host[:port][/]", or socks5:// or
 * socks5h:// (scheme case-insensitive; a scheme-less "host:port" counts as
 * http://). The user info runs up to the last '@' and is percent-decoded.
 * Returns 0, WSC_ENOMEM, WSC_ENOTSUP (https:// proxies, SOCKS4) or
 * WSC_EINVAL (anything else wrong), with a sentence in err that never
 * contains the user info. On failure *p holds nothing. */
int wsc__proxy_url_parse(const char *s, wsc_proxy_url *p, char *err, size_t err_size);
void wsc__proxy_url_free(wsc_proxy_url *p);

/* The proxy URL s for messages: its user info, if any, replaced by "***". */
void wsc__proxy_url_redact(const char *s, char *out, size_t out_size);


/* The CONNECT request for host:port (an IPv6 host goes in brackets) with
 * "Proxy-Authorization: auth" when auth is non-NULL. A new NUL-terminated
 * string, its length in *len; NULL when out of memory. */
char *wsc__proxy_request(const char *host, int port, const char *auth, size_t *len);

/* Judges the proxy's response head to CONNECT: 0 for a 2xx status (the tunnel
 * is open), else WSC_ECONNECT with a sentence in err naming the proxy
 * (proxy_desc), the target, the status and reason, and a hint what to do
 * (sent_auth: whether the request carried credentials). */
int wsc__proxy_check_response(const wsc_http_head *h, const char *proxy_desc, const char *target,
                             bool sent_auth, char *err, size_t err_size);

/* The proxy stage of one dial. All zero: no proxy (tunnel steps do nothing). */
typedef struct {
    wsc_proxy_url url;    /* url.host NULL: connect directly */
    const char *source;   /* where the URL came from (a static string) */
    char target[300];     /* "host:port" of the server, for CONNECT and messages */
    char *req;            /* the message being sent (HTTP: CONNECT; SOCKS: the
                             greeting, credentials or request); req_pos of
                             req_len bytes sent */
    size_t req_len, req_pos;
    int socks_stage;      /* SOCKS: where the conversation is (proxy.c) */
    char host[256];       /* SOCKS: what to connect to: the server's name, or
                             its address when resolved here (socks5://) */
    int port;
} wsc_proxy_tunnel;

/* Decides whether a dial to host:port (tls: wss/https) goes through a proxy
 * (option as in wsc_dial_options.proxy) and prepares the request. 0 with
 * t->url.host NULL when it does not; WSC_EINVAL / WSC_ENOTSUP / WSC_ENOMEM
 * with wsc_last_error() set. t is zeroed first; free it with
 * wsc__proxy_tunnel_free in every case. */
int wsc__proxy_tunnel_init(wsc_proxy_tunnel *t, const char *option, bool tls, const char *host,
                          int port);

/* Opens the tunnel over c's connected transport: sends CONNECT (HTTP, or
 * the SOCKS5 greeting, credentials and request), reads the proxy's
 * answers into c->rbuf (up to c->rcap bytes) and checks them. Resumable:
 * WSC_EAGAIN / WSC_ETIMEDOUT when d passed (call again to go on). 0 when the
 * tunnel is open, with c->rbuf emptied for the server's bytes; else
 * WSC_ECONNECT (refused, malformed answer, connection lost) with the detail
 * set. Does nothing when t has no proxy. */
int wsc__proxy_tunnel_step(wsc_proxy_tunnel *t, wsc_conn *c, wsc_deadline d);

void wsc__proxy_tunnel_free(wsc_proxy_tunnel *t);

#endif
