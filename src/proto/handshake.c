/* SPDX-License-Identifier: MIT */
/* handshake.c - building and checking the HTTP upgrade request and response.
 * SHA-1 and base64 come from OpenSSL's libcrypto. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/error.h"
#include "proto/handshake.h"

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void wsc__hs_accept_key(const char *key, char out[29])
{
    /* Keys are 24 characters (validated by callers); longer ones are cut. */
    char in[64 + sizeof GUID];
    size_t n = strnlen(key, 64);
    memcpy(in, key, n);
    memcpy(in + n, GUID, sizeof GUID - 1);
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)in, n + sizeof GUID - 1, digest);
    EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
}

int wsc__hs_new_key(char out[25], unsigned char *more, size_t more_len)
{
    unsigned char raw[16 + 256];
    size_t want = 16 + (more_len < 256 ? more_len : 256);
    ssize_t n;
    do /* up to 256 bytes come whole once the pool is ready; a signal may come first */
        n = getrandom(raw, want, 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)want)
        return wsc__fail(WSC_EIO, "getrandom failed: %s", n < 0 ? strerror(errno) : "short read");
    EVP_EncodeBlock((unsigned char *)out, raw, 16);
    if (want > 16)
        memcpy(more, raw + 16, want - 16);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

bool wsc__hs_key_valid(const char *key)
{
    unsigned char raw[24];
    if (strlen(key) != 24 || key[22] != '=' || key[23] != '=')
        return false;
    for (int i = 0; i < 22; i++)
        if (!isalnum((unsigned char)key[i]) && key[i] != '+' && key[i] != '/')
            return false;
    return EVP_DecodeBlock(raw, (const unsigned char *)key, 24) == 18;
}

/* A growable string for building HTTP heads. */
typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 512;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(strbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_header(strbuf *b, const char *name, const char *value)
{
    sb_str(b, name);
    sb_add(b, ": ", 2);
    sb_str(b, value);
    sb_add(b, "\r\n", 2);
}

static char *sb_finish(strbuf *b, size_t *len)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    *len = b->len;
    return b->p;
}

char *wsc__hs_basic_auth(const char *user, const char *password)
{
    size_t ul = strlen(user), pl = strlen(password), n = ul + 1 + pl;
    unsigned char *plain = malloc(n);
    char *out = malloc(6 + 4 * ((n + 2) / 3) + 1);
    if (plain && out) {
        memcpy(plain, user, ul);
        plain[ul] = ':';
        memcpy(plain + ul + 1, password, pl);
        memcpy(out, "Basic ", 6);
        EVP_EncodeBlock((unsigned char *)out + 6, plain, (int)n);
        OPENSSL_cleanse(plain, n);
    } else {
        free(out);
        out = NULL;
    }
    free(plain);
    return out;
}

/* Headers a caller may not add: wsc writes them itself (the handshake and,
 * on error responses, the body's framing). */
static bool reserved_header(const char *name)
{
    static const char *const names[] = {
        "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
        "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol", "Sec-WebSocket-Accept",
        "Content-Length", "Transfer-Encoding",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

bool wsc__hs_headers_ok(const wsc_header *hs, size_t n, char *err, size_t err_size)
{
    if (n && !hs) {
        snprintf(err, err_size, "n_headers is %zu but headers is NULL", n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = hs[i].name, *value = hs[i].value;
        if (!name || !wsc__http_is_token(name)) {
            snprintf(err, err_size, "header %zu: the name is missing or not a token (no space, "
                     "':', CR or LF)", i);
            return false;
        }
        if (!value || !wsc__http_is_value(value)) {
            snprintf(err, err_size, "header %s: the value is missing or has a CR, LF or other "
                     "control character", name);
            return false;
        }
        if (reserved_header(name)) {
            snprintf(err, err_size, "header %s is set by wsc itself; use the options instead", name);
            return false;
        }
    }
    return true;
}

bool wsc__hs_subprotocols_ok(const char *const *protos, size_t n, char *err, size_t err_size)
{
    if (n && !protos) {
        snprintf(err, err_size, "n_subprotocols is %zu but subprotocols is NULL", n);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (!protos[i] || !wsc__http_is_token(protos[i])) {
            snprintf(err, err_size, "subprotocol %zu is missing, empty or not a token (a space, "
                     "comma, CR or LF in it)", i);
            return false;
        }
    return true;
}

char *wsc__hs_client_request(const wsc_url *u, const wsc_dial_options *o,
                            const char *key, size_t *len, char *err, size_t err_size)
{
    const char *host = u->host_header;
    if (o->host) {
        if (!*o->host || !wsc__http_is_value(o->host)) {
            snprintf(err, err_size, "the Host override is empty or has a CR, LF or other control "
                     "character");
            return NULL;
        }
        host = o->host;
    }
    if (!wsc__hs_subprotocols_ok(o->subprotocols, o->n_subprotocols, err, err_size) ||
        !wsc__hs_headers_ok(o->headers, o->n_headers, err, err_size))
        return NULL;

    strbuf b = {0};
    sb_str(&b, "GET ");
    sb_str(&b, u->target);
    sb_str(&b, " HTTP/1.1\r\n");
    bool host_in_headers = false;
    for (size_t i = 0; i < o->n_headers; i++)
        if (strcasecmp(o->headers[i].name, "Host") == 0)
            host_in_headers = true;
    if (!host_in_headers)
        sb_header(&b, "Host", host);
    sb_header(&b, "Upgrade", "websocket");
    sb_header(&b, "Connection", "Upgrade");
    sb_header(&b, "Sec-WebSocket-Key", key);
    sb_header(&b, "Sec-WebSocket-Version", "13");
    char offer[128];
    if (wsc__pmd_offer(o->compression, o->deflate.peer_window_bits, offer, sizeof offer))
        sb_header(&b, "Sec-WebSocket-Extensions", offer);
    if (o->n_subprotocols) {
        sb_str(&b, "Sec-WebSocket-Protocol: ");
        for (size_t i = 0; i < o->n_subprotocols; i++) {
            if (i)
                sb_add(&b, ", ", 2);
            sb_str(&b, o->subprotocols[i]);
        }
        sb_add(&b, "\r\n", 2);
    }
    bool auth_in_headers = false;
    for (size_t i = 0; i < o->n_headers; i++) {
        sb_header(&b, o->headers[i].name, o->headers[i].value);
        auth_in_headers |= strcasecmp(o->headers[i].name, "Authorization") == 0;
    }
    if (u->user && !auth_in_headers) { /* ws://user:password@host/ */
        char *auth = wsc__hs_basic_auth(u->user, u->password ? u->password : "");
        if (auth) {
            sb_header(&b, "Authorization", auth);
            OPENSSL_cleanse(auth, strlen(auth));
        }
        b.oom |= !auth;
        free(auth);
    }
    sb_add(&b, "\r\n", 2);
    char *req = sb_finish(&b, len);
    if (!req)
        snprintf(err, err_size, "out of memory");
    return req;
}

/* Whether header `name`, which RFC 6455 (11.3) allows once, is repeated in
 * h; then a detail in err. */
static bool repeated(const wsc_http_head *h, const char *name, char *err, size_t err_size)
{
    size_t n = wsc__http_count(h, name);
    if (n > 1)
        snprintf(err, err_size, "the %s has %zu %s headers; only one is allowed",
                 h->method ? "request" : "response", n, name);
    return n > 1;
}

/* The header that gives a request a body (Transfer-Encoding, or a
 * Content-Length other than 0), or NULL. */
static const wsc_header *body_header(const wsc_http_head *h)
{
    for (size_t i = 0; i < h->n_headers; i++) {
        const wsc_header *x = &h->headers[i];
        if (strcasecmp(x->name, "Transfer-Encoding") == 0)
            return x;
        if (strcasecmp(x->name, "Content-Length") == 0 &&
            (!*x->value || x->value[strspn(x->value, "0")]))
            return x;
    }
    return NULL;
}

int wsc__hs_check_response(const wsc_http_head *h, const char *key,
                          const char *const *offered, size_t n_offered,
                          wsc_compression compression, wsc_pmd_params *pmd,
                          const char **proto, char *err, size_t err_size)
{
    if (h->status != 101) {
        snprintf(err, err_size, "the server answered %d %s instead of 101 Switching Protocols",
                 h->status, h->reason);
        return WSC_EHANDSHAKE;
    }
    if (h->version != 11) {
        snprintf(err, err_size, "the server answered 101 in HTTP/%d.%d; the upgrade needs HTTP/1.1",
                 h->version / 10, h->version % 10);
        return WSC_EHANDSHAKE;
    }
    if (!wsc__http_has_token(h, "Upgrade", "websocket")) {
        snprintf(err, err_size, "the response has no \"Upgrade: websocket\" header");
        return WSC_EHANDSHAKE;
    }
    if (!wsc__http_has_token(h, "Connection", "Upgrade")) {
        snprintf(err, err_size, "the response has no \"Connection: Upgrade\" header");
        return WSC_EHANDSHAKE;
    }
    if (repeated(h, "Sec-WebSocket-Accept", err, err_size) ||
        repeated(h, "Sec-WebSocket-Protocol", err, err_size))
        return WSC_EHANDSHAKE;
    char want[29];
    wsc__hs_accept_key(key, want);
    const char *accept = wsc__http_get(h, "Sec-WebSocket-Accept");
    if (!accept || strcmp(accept, want) != 0) {
        snprintf(err, err_size, "Sec-WebSocket-Accept is \"%s\", expected \"%s\"",
                 accept ? accept : "(missing)", want);
        return WSC_EHANDSHAKE;
    }
    if (wsc__pmd_check_response(h, compression, pmd, err, err_size) < 0)
        return WSC_EHANDSHAKE;
    *proto = "";
    const char *p = wsc__http_get(h, "Sec-WebSocket-Protocol");
    if (p && *p) {
        for (size_t i = 0; i < n_offered; i++)
            if (strcmp(p, offered[i]) == 0) {
                *proto = p;
                return 0;
            }
        snprintf(err, err_size, "the server chose subprotocol \"%s\" that was not offered", p);
        return WSC_EHANDSHAKE;
    }
    return 0;
}

bool wsc__hs_glob(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == '?' || tolower((unsigned char)*pat) == tolower((unsigned char)*s)) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

bool wsc__hs_origin_allowed(const char *origin, const char *host,
                           const char *const *patterns, size_t n_patterns)
{
    const char *sep = strstr(origin, "://");
    if (!sep)
        return false;
    const char *authority = sep + 3;
    if (host && strcasecmp(authority, host) == 0)
        return true;
    for (size_t i = 0; i < n_patterns; i++) {
        const char *subject = strstr(patterns[i], "://") ? origin : authority;
        if (wsc__hs_glob(patterns[i], subject))
            return true;
    }
    return false;
}

bool wsc__hs_host_allowed(const char *host, const char *const *patterns, size_t n_patterns)
{
    /* The host without its port: "[v6]" up to ']', else up to the last ':'
     * (a name longer than any DNS name is refused). */
    char name[256];
    size_t n = strlen(host);
    if (host[0] == '[') {
        const char *bracket = strchr(host, ']');
        if (bracket)
            n = (size_t)(bracket - host) + 1;
    } else {
        const char *colon = strrchr(host, ':');
        if (colon)
            n = (size_t)(colon - host);
    }
    if (n >= sizeof name)
        return false;
    memcpy(name, host, n);
    name[n] = '\0';
    for (size_t i = 0; i < n_patterns; i++)
        if (wsc__hs_glob(patterns[i], host) || wsc__hs_glob(patterns[i], name))
            return true;
    return false;
}

static bool protocol_offered(const wsc_http_head *h, const char *name)
{
    return wsc__http_has_token(h, "Sec-WebSocket-Protocol", name);
}

int wsc__hs_check_request(const wsc_http_head *h, const wsc_accept_options *o,
                         const char **proto, char *err, size_t err_size)
{
    if (h->version < 11) {
        snprintf(err, err_size, "WebSocket protocol violation: handshake request must be at least "
                 "HTTP/1.1, not HTTP/%d.%d", h->version / 10, h->version % 10);
        return 426;
    }
    if (h->version > 11) {
        snprintf(err, err_size, "HTTP/%d.%d is not supported: the WebSocket handshake is HTTP/1.1",
                 h->version / 10, h->version % 10);
        return 505;
    }
    if (strcmp(h->method, "GET") != 0) {
        snprintf(err, err_size, "WebSocket upgrade needs GET, not %s", h->method);
        return 405;
    }
    size_t hosts = wsc__http_count(h, "Host");
    if (hosts != 1) {
        snprintf(err, err_size, "the request has %zu Host headers, it needs exactly one", hosts);
        return 400;
    }
    const wsc_header *body = body_header(h);
    if (body) {
        snprintf(err, err_size, "an upgrade request has no body, but this one has %s: %s",
                 body->name, body->value);
        return 400;
    }
    if (repeated(h, "Sec-WebSocket-Key", err, err_size) ||
        repeated(h, "Sec-WebSocket-Version", err, err_size))
        return 400;
    if (!wsc__http_has_token(h, "Connection", "Upgrade")) {
        snprintf(err, err_size, "the Connection header does not contain Upgrade");
        return 426;
    }
    if (!wsc__http_has_token(h, "Upgrade", "websocket")) {
        snprintf(err, err_size, "the Upgrade header does not contain websocket");
        return 426;
    }
    const char *version = wsc__http_get(h, "Sec-WebSocket-Version");
    if (!version || strcmp(version, "13") != 0) {
        snprintf(err, err_size, "unsupported Sec-WebSocket-Version \"%s\", only 13",
                 version ? version : "(missing)");
        return 426;
    }
    const char *key = wsc__http_get(h, "Sec-WebSocket-Key");
    if (!key || !wsc__hs_key_valid(key)) {
        snprintf(err, err_size, "Sec-WebSocket-Key \"%s\" is not base64 of 16 bytes",
                 key ? key : "(missing)");
        return 400;
    }
    const char *host = wsc__http_get(h, "Host"); /* exactly one, checked above */
    if (o->n_host_patterns && !wsc__hs_host_allowed(host, o->host_patterns, o->n_host_patterns)) {
        snprintf(err, err_size, "Host \"%s\" is not a name this server answers to", host);
        return 403;
    }
    const char *origin = wsc__http_get(h, "Origin");
    if (origin && !o->insecure_skip_verify &&
        !wsc__hs_origin_allowed(origin, host, o->origin_patterns, o->n_origin_patterns)) {
        snprintf(err, err_size, "request Origin \"%s\" is not authorized for Host \"%s\"", origin, host);
        return 403;
    }
    *proto = "";
    for (size_t i = 0; i < o->n_subprotocols; i++)
        if (protocol_offered(h, o->subprotocols[i])) {
            *proto = o->subprotocols[i];
            break;
        }
    return 0;
}

const char *wsc__hs_status_text(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return status < 400 ? "Redirect" : "Error";
    }
}

char *wsc__hs_server_response(int status, const wsc_http_head *req, const char *proto,
                             const char *extensions, const wsc_accept_options *o,
                             const wsc_reply *r, const char *detail, size_t *len)
{
    strbuf b = {0};
    char line[64];
    snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, wsc__hs_status_text(status));
    sb_str(&b, line);
    bool own_body = r && r->body;
    if (status == 101) {
        char accept[29];
        wsc__hs_accept_key(wsc__http_get(req, "Sec-WebSocket-Key"), accept);
        sb_header(&b, "Upgrade", "websocket");
        sb_header(&b, "Connection", "Upgrade");
        sb_header(&b, "Sec-WebSocket-Accept", accept);
        if (proto && *proto)
            sb_header(&b, "Sec-WebSocket-Protocol", proto);
        if (extensions && *extensions)
            sb_header(&b, "Sec-WebSocket-Extensions", extensions);
    } else {
        if (status == 426) {
            sb_header(&b, "Sec-WebSocket-Version", "13");
            sb_header(&b, "Upgrade", "websocket");
        }
        if (status == 405)
            sb_header(&b, "Allow", "GET");
        snprintf(line, sizeof line, "%zu", own_body ? r->body_len : strlen(detail) + 1);
        sb_header(&b, "Content-Type", own_body && r->content_type ? r->content_type
                                                                  : "text/plain; charset=utf-8");
        sb_header(&b, "Content-Length", line);
        sb_header(&b, "Connection", "close");
    }
    for (size_t i = 0; o && i < o->n_headers; i++)
        sb_header(&b, o->headers[i].name, o->headers[i].value);
    for (size_t i = 0; r && i < r->n_headers; i++)
        sb_header(&b, r->headers[i].name, r->headers[i].value);
    sb_add(&b, "\r\n", 2);
    if (status != 101 && own_body) {
        sb_add(&b, r->body, r->body_len);
    } else if (status != 101) {
        sb_str(&b, detail);
        sb_add(&b, "\n", 1);
    }
    return sb_finish(&b, len);
}
