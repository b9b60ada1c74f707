/* SPDX-License-Identifier: MIT */
/* tls_cache.h - what TLS clients keep between dials (tls_cache.c): their
 * sessions and the contexts made for their files. */
#ifndef WSC_TLS_CACHE_H
#define WSC_TLS_CACHE_H

#include <openssl/ssl.h>

/* Stores sess under key (copied), replacing what the key held; the cache
 * takes the caller's reference (out of memory, it frees it). */
void wsc__tls_cache_put(const char *key, SSL_SESSION *sess);

/* A copy of the session stored under key (the caller frees it), or NULL:
 * none, or no memory. It may have expired. */
SSL_SESSION *wsc__tls_cache_get(const char *key);

/* The same for client contexts; wsc__tls_ctx_get returns a reference of
 * the caller's (SSL_CTX_free it). */
void wsc__tls_ctx_put(const char *key, SSL_CTX *ctx);
SSL_CTX *wsc__tls_ctx_get(const char *key);

#endif
