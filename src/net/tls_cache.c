/* SPDX-License-Identifier: MIT */
/* tls_cache.c - what TLS clients keep between dials, process-wide:
 *
 * Sessions, so that a dial to a server we talked to before resumes (RFC
 * 8446 2.2) instead of making a full handshake. tls.c keys them by the
 * server and every option that decides whom we trust, so a session
 * verified under one set of options never serves another. One session per
 * key, the latest: each connection's new tickets replace it. It is offered
 * to every dial until then, as Node's and OpenSSL's own caches do, since
 * many servers (Node's among them) issue no new ticket after a resumption:
 * a session given out once would make every other connection a full
 * handshake. (RFC 8446 C.4 advises one connection per ticket against
 * linking connections; a program that needs that sets no_resumption.)
 *
 * Contexts made for the trust and certificate files of the options, keyed
 * by tls.c with the files' names, sizes and modification times: loading
 * them and making an SSL_CTX costs more than a resumed handshake.
 *
 * SLOTS keys per table at most: the least recently stored goes first.
 * Thread-safe. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "net/tls_cache.h"

#define SLOTS 64

typedef struct {
    char *key;            /* malloc'd; NULL: the slot is free */
    void *obj;            /* the table's (one reference) */
    unsigned long stored; /* when it was stored, in puts */
} slot;

typedef struct {
    pthread_mutex_t mu;
    slot slots[SLOTS];
    unsigned long puts;
    void (*drop)(void *obj);   /* gives up a reference */
    void *(*hand)(void *obj);  /* a reference for the caller, NULL: none */
} table;

static void session_drop(void *obj)
{
    SSL_SESSION_free(obj);
}

/* A copy: OpenSSL marks a session it used not resumable when its SSL is
 * freed without close_notify, which would spoil the one we keep. */
static void *session_hand(void *obj)
{
    return SSL_SESSION_dup(obj);
}

static void ctx_drop(void *obj)
{
    SSL_CTX_free(obj);
}

static void *ctx_hand(void *obj)
{
    return SSL_CTX_up_ref(obj) ? obj : NULL;
}

static table g_sessions = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0, session_drop, session_hand};
static table g_ctxs = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0, ctx_drop, ctx_hand};

static void slot_clear(table *t, slot *s)
{
    free(s->key);
    if (s->obj)
        t->drop(s->obj);
    s->key = NULL;
    s->obj = NULL;
}

/* Stores obj (the table takes the caller's reference) under key. */
static void put(table *t, const char *key, void *obj)
{
    char *copy = strdup(key);
    if (!copy) {
        t->drop(obj);
        return;
    }
    pthread_mutex_lock(&t->mu);
    slot *dst = &t->slots[0];
    for (int i = 0; i < SLOTS; i++) {
        slot *s = &t->slots[i];
        if (s->key && strcmp(s->key, key) == 0) {
            dst = s;
            break;
        }
        if (!s->key || (dst->key && s->stored < dst->stored))
            dst = s; /* a free slot, else the oldest */
    }
    slot_clear(t, dst);
    dst->key = copy;
    dst->obj = obj;
    dst->stored = ++t->puts;
    pthread_mutex_unlock(&t->mu);
}

static void *get(table *t, const char *key)
{
    void *obj = NULL;
    pthread_mutex_lock(&t->mu);
    for (int i = 0; i < SLOTS; i++) {
        slot *s = &t->slots[i];
        if (s->key && strcmp(s->key, key) == 0) {
            obj = t->hand(s->obj);
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return obj;
}

void wsc__tls_cache_put(const char *key, SSL_SESSION *sess)
{
    put(&g_sessions, key, sess);
}

SSL_SESSION *wsc__tls_cache_get(const char *key)
{
    return get(&g_sessions, key);
}

void wsc__tls_ctx_put(const char *key, SSL_CTX *ctx)
{
    put(&g_ctxs, key, ctx);
}

SSL_CTX *wsc__tls_ctx_get(const char *key)
{
    return get(&g_ctxs, key);
}
