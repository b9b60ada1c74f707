/* SPDX-License-Identifier: MIT */
/* tls_cache.h - the process's cache of TLS client sessions (tls_cache.c). */
#ifndef WSC_TLS_CACHE_H
#define WSC_TLS_CACHE_H

#include <openssl/ssl.h>

/* Stores sess (the cache takes its reference) under key (copied),
 * replacing what the key held. Out of memory it is freed instead. */
void wsc__tls_cache_put(const char *key, SSL_SESSION *sess);

/* A copy of the session stored under key (the caller frees it), or NULL:
 * none, it expired (then dropped), or no memory. */
SSL_SESSION *wsc__tls_cache_get(const char *key);

#endif
