/* SPDX-License-Identifier: MIT */
/* tls.h - TLS sessions with OpenSSL: the client and server handshakes that
 * dial.c and accept.c drive, and the TLS transport a finished session
 * becomes. */
#ifndef WSC_TLS_H
#define WSC_TLS_H

#include "wsc.h"
#include "net/transport.h"

/* One TLS session over one socket, from its handshake to its transport. */
typedef struct wsc_tls wsc_tls;

/* A client session for `host` (copied): verification as `o` says (its files
 * are read now, nothing of `o` is kept), SNI for host names. `desc` ("host:
 * port") names the server in messages. 0, or WSC_EINVAL / WSC_ETLS /
 * WSC_ENOMEM with the detail set. */
int wsc__tls_client_new(const wsc_tls_options *o, const char *host, const char *desc,
                       wsc_tls **out);

/* A server session for the accepted socket fd (named in messages by its
 * peer's address); head[0, head_len) are bytes of the client's handshake
 * already read from fd (copied), read before the socket. 0 or WSC_ENOMEM. */
int wsc__tls_server_session(const wsc_tls_server *srv, int fd, const void *head,
                            size_t head_len, wsc_tls **out);

/* Advances the handshake on fd without blocking: 0 when done, WSC_EAGAIN
 * with *want = POLLIN or POLLOUT, else WSC_ETLS with the detail set. */
int wsc__tls_handshake(wsc_tls *s, int fd, short *want);

/* Makes t (a TCP transport over the session's socket) a TLS transport that
 * owns s from now on. */
void wsc__tls_transport(wsc_transport *t, wsc_tls *s);

/* What a TLS transport t received and holds, decrypted or not, that no
 * read took yet (not what OpenSSL keeps of a session it was left); 0 for
 * TCP. The reading thread's. */
size_t wsc__tls_buffered(const wsc_transport *t);

/* Whether t is a TLS transport whose handshake resumed a session. */
bool wsc__tls_resumed(const wsc_transport *t);

/* The record state of a TLS 1.3 session taken over after its handshake
 * (tls13.c), or NULL when OpenSSL keeps the session. For tests. */
const struct wsc_tls13_state *wsc__tls_records(const wsc_tls *s);

/* Frees a session that never became a transport; its socket stays open. */
void wsc__tls_free(wsc_tls *s);

#endif
