/* SPDX-License-Identifier: MIT */
/* tls_cache.c - the process's cache of TLS client sessions, so that a dial
 * to a server it has talked to before resumes (RFC 8446 2.2) instead of
 * making a full handshake. Keyed by tls.c: the server and every option
 * that decides whom we trust, so a session verified under one set of
 * options never serves another. One session per key, the latest: each
 * connection's new tickets replace it. It is offered to every dial until
 * then, as Node's and OpenSSL's own caches do, since many servers (Node's
 * among them) issue no new ticket after a resumption: a session given out
 * once would make every other connection a full handshake. (RFC 8446 C.4
 * advises one connection per ticket against linking connections; a
 * program that needs that sets no_resumption.) CACHE_SLOTS keys at most:
 * the least recently stored goes first. Thread-safe. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

#include "net/tls_cache.h"

#define CACHE_SLOTS 64

typedef struct {
    char *key;            /* malloc'd; NULL: the slot is free */
    SSL_SESSION *sess;    /* ours (one reference) */
    unsigned long stored; /* when it was stored, in puts */
} slot;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static slot g_slots[CACHE_SLOTS];
static unsigned long g_puts;

static void slot_clear(slot *s)
{
    free(s->key);
    SSL_SESSION_free(s->sess);
    s->key = NULL;
    s->sess = NULL;
}

void wsc__tls_cache_put(const char *key, SSL_SESSION *sess)
{
    char *copy = strdup(key);
    if (!copy) {
        SSL_SESSION_free(sess);
        return;
    }
    pthread_mutex_lock(&g_mu);
    slot *dst = &g_slots[0];
    for (int i = 0; i < CACHE_SLOTS; i++) {
        slot *s = &g_slots[i];
        if (s->key && strcmp(s->key, key) == 0) {
            dst = s;
            break;
        }
        if (!s->key || (dst->key && s->stored < dst->stored))
            dst = s; /* a free slot, else the oldest */
    }
    slot_clear(dst);
    dst->key = copy;
    dst->sess = sess;
    dst->stored = ++g_puts;
    pthread_mutex_unlock(&g_mu);
}

SSL_SESSION *wsc__tls_cache_get(const char *key)
{
    SSL_SESSION *sess = NULL;
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        slot *s = &g_slots[i];
        if (s->key && strcmp(s->key, key) == 0) {
            /* An expired session would only cost the server a look. */
            if (SSL_SESSION_get_time(s->sess) + SSL_SESSION_get_timeout(s->sess) <= (long)time(NULL))
                slot_clear(s);
            else /* a copy: OpenSSL marks a session it used not resumable
                    when its SSL is freed without close_notify */
                sess = SSL_SESSION_dup(s->sess);
            break;
        }
    }
    pthread_mutex_unlock(&g_mu);
    return sess;
}
