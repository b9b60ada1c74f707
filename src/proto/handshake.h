/* SPDX-License-Identifier: MIT */
/* handshake.h - the RFC 6455 opening handshake as pure functions (no I/O). */
#ifndef WSC_HANDSHAKE_H
#define WSC_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "wsc.h"
#include "proto/url.h"
#include "proto/extension.h"
#include "proto/http.h"
#include "proto/reply.h"

/* base64(SHA-1(key + RFC 6455 GUID)) into out (29 bytes with the NUL). */
void wsc__hs_accept_key(const char *key, char out[29]);

/* A new random Sec-WebSocket-Key into out (25 bytes with the NUL), and
 * from the same system call more_len (at most 256) further random bytes
 * into more (a client's first masking keys: one call per dial). */
int wsc__hs_new_key(char out[25], unsigned char *more, size_t more_len);

/* Whether key is base64 of exactly 16 bytes. */
bool wsc__hs_key_valid(const char *key);

/* "Basic " + base64(user ":" password) in a new string (RFC 7617); NULL
 * when out of memory. */
char *wsc__hs_basic_auth(const char *user, const char *password);

/* Whether extra headers given in options may be sent: each name a token
 * and not one wsc sets itself (Upgrade, Connection, Sec-WebSocket-*,
 * Content-Length, Transfer-Encoding), each value without control
 * characters but tab. False with a detail in err. Dial and accept both
 * check their options with it. */
bool wsc__hs_headers_ok(const wsc_header *hs, size_t n, char *err, size_t err_size);

/* Whether every subprotocol name is a token (no space, comma, CR or LF).
 * False with a detail in err. */
bool wsc__hs_subprotocols_ok(const char *const *protos, size_t n, char *err, size_t err_size);

/* The client's upgrade request for u (user info in u becomes a Basic
 * Authorization header unless o has one), NUL-terminated, malloc'd (caller
 * frees), or NULL with a detail in err (header with CR/LF, a header the
 * library sets itself, out of memory). */
char *wsc__hs_client_request(const wsc_url *u, const wsc_dial_options *o,
                            const char *key, size_t *len, char *err, size_t err_size);

/* Checks the server's response to a request made with key, the offered
 * subprotocols and the compression mode's offer. Returns 0 with the chosen
 * subprotocol in *proto (pointing into h, "" when none) and the negotiated
 * permessage-deflate in *pmd, or WSC_EHANDSHAKE with a detail in err. */
int wsc__hs_check_response(const wsc_http_head *h, const char *key,
                          const char *const *offered, size_t n_offered,
                          wsc_compression compression, wsc_pmd_params *pmd,
                          const char **proto, char *err, size_t err_size);

/* Checks a client's upgrade request against the accept options. Returns 0
 * with the chosen subprotocol in *proto ("" when none; pointing into o or a
 * constant), or the HTTP status to refuse with (400, 403, 405, 426, 505)
 * and a detail in err. */
int wsc__hs_check_request(const wsc_http_head *h, const wsc_accept_options *o,
                         const char **proto, char *err, size_t err_size);

/* The server's answer: a 101 (status 101, for the request's key, the
 * chosen subprotocol and extensions, each NULL or "" for none) or an error
 * response with `detail` as a text/plain body, both with o's extra headers
 * (which must have passed wsc__hs_headers_ok), then the accept hook's
 * reply r's (NULL: none; its body, if set, replaces the detail).
 * NUL-terminated, malloc'd, caller frees; NULL when out of memory. */
char *wsc__hs_server_response(int status, const wsc_http_head *req, const char *proto,
                             const char *extensions, const wsc_accept_options *o,
                             const wsc_reply *r, const char *detail, size_t *len);

/* The reason phrase of an HTTP status ("Unauthorized"). */
const char *wsc__hs_status_text(int status);

/* Whether an Origin is acceptable (see wsc_accept_options). */
bool wsc__hs_origin_allowed(const char *origin, const char *host,
                           const char *const *patterns, size_t n_patterns);

/* Whether a Host header value matches one of the patterns, with or
 * without its port (see wsc_accept_options.host_patterns). */
bool wsc__hs_host_allowed(const char *host, const char *const *patterns, size_t n_patterns);

/* Case-insensitive glob with '*' and '?'. */
bool wsc__hs_glob(const char *pattern, const char *s);

#endif
