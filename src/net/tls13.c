/* SPDX-License-Identifier: MIT */
/* tls13.c - TLS 1.3 record protection (RFC 8446 section 5) and the
 * post-handshake messages (4.6) for a session OpenSSL has set up. The
 * crypto is OpenSSL's; this file only frames it.
 *
 * Cipher contexts: an AES-GCM context holds about 1 KB of key schedule, so
 * sessions do not keep one each. Every thread keeps one context per
 * direction (in thread-specific data, freed when the thread ends) and keys
 * it for the session it serves next; a thread serving the same session
 * again only sets the nonce. A context keeps its key schedule until its
 * thread keys it again or ends; wsc__tls13_clear wipes the calling
 * thread's. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "net/tls13.h"

/* Post-handshake messages larger than this end the session (a
 * NewSessionTicket is at most about 128 KiB; ours are not kept anyway). */
#define HS_MAX (132 * 1024)
/* Records sealed under one key before we move to the next (RFC 8446
 * 5.5: AES-GCM is safe for 2^24.5 full records). */
#define SEAL_LIMIT ((uint64_t)1 << 24)

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *g_cipher[3]; /* by suite - 0x1301 */
static EVP_KDF *g_hkdf;
static pthread_key_t g_cache_key;
static bool g_cache_ok;
static _Atomic uint64_t g_next_id = 1;

struct cipher_cache {
    EVP_CIPHER_CTX *ctx[2]; /* [0] opening, [1] sealing */
    uint64_t id[2];         /* the key each holds, 0: none */
};

static void cache_free(void *p)
{
    struct cipher_cache *c = p;
    EVP_CIPHER_CTX_free(c->ctx[0]);
    EVP_CIPHER_CTX_free(c->ctx[1]);
    free(c);
}

static void setup(void)
{
    g_cipher[0] = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    g_cipher[1] = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    g_cipher[2] = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    g_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    g_cache_ok = pthread_key_create(&g_cache_key, cache_free) == 0;
}

bool wsc__tls13_supported(int suite)
{
    pthread_once(&g_once, setup);
    return suite >= 0x1301 && suite <= 0x1303 && g_cipher[suite - 0x1301] && g_hkdf &&
           g_cache_ok;
}

/* HKDF-Expand-Label(secret, label, "", len) (RFC 8446 7.1). */
static int expand_label(const wsc_tls13 *t, const uint8_t *secret, const char *label,
                        uint8_t *out, size_t len)
{
    uint8_t info[2 + 1 + 6 + 32 + 1];
    size_t llen = strlen(label);
    info[0] = (uint8_t)(len >> 8);
    info[1] = (uint8_t)len;
    info[2] = (uint8_t)(6 + llen);
    memcpy(info + 3, "tls13 ", 6);
    memcpy(info + 9, label, llen);
    info[9 + llen] = 0; /* empty context */
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                         t->suite == 0x1302 ? "SHA384" : "SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, t->secret_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, 10 + llen),
        OSSL_PARAM_construct_end(),
    };
    EVP_KDF_CTX *k = EVP_KDF_CTX_new(g_hkdf);
    int ok = k && EVP_KDF_derive(k, out, len, params) == 1;
    EVP_KDF_CTX_free(k);
    return ok ? 0 : -1;
}

static size_t key_len(const wsc_tls13 *t)
{
    return t->suite == 0x1301 ? 16 : 32;
}

/* Installs the key and iv of d->secret, sequence 0. */
static int install(const wsc_tls13 *t, wsc_tls13_dir *d)
{
    if (expand_label(t, d->secret, "key", d->key, key_len(t)) < 0 ||
        expand_label(t, d->secret, "iv", d->iv, sizeof d->iv) < 0)
        return -1;
    d->seq = 0;
    d->id = atomic_fetch_add(&g_next_id, 1);
    return 0;
}

/* KeyUpdate: the next generation of d's secret, and its keys. */
static int next_generation(const wsc_tls13 *t, wsc_tls13_dir *d)
{
    uint8_t next[WSC_TLS13_SECRET_MAX];
    if (expand_label(t, d->secret, "traffic upd", next, t->secret_len) < 0)
        return -1;
    memcpy(d->secret, next, t->secret_len);
    OPENSSL_cleanse(next, sizeof next);
    return install(t, d);
}

int wsc__tls13_init(wsc_tls13 *t, int suite, bool server)
{
    if (!wsc__tls13_supported(suite))
        return -1;
    t->suite = suite;
    t->secret_len = suite == 0x1302 ? 48 : 32;
    t->server = server;
    if (install(t, &t->rd) < 0 || install(t, &t->wr) < 0)
        return -1;
    return 0;
}

/* This thread's context for d (enc: sealing), keyed; NULL: out of memory. */
static EVP_CIPHER_CTX *cipher_for(const wsc_tls13 *t, const wsc_tls13_dir *d, int enc)
{
    struct cipher_cache *c = pthread_getspecific(g_cache_key);
    if (!c) {
        if (!(c = calloc(1, sizeof *c)))
            return NULL;
        if (pthread_setspecific(g_cache_key, c) != 0) {
            free(c);
            return NULL;
        }
    }
    if (!c->ctx[enc] && !(c->ctx[enc] = EVP_CIPHER_CTX_new()))
        return NULL;
    if (c->id[enc] != d->id) {
        c->id[enc] = 0;
        if (!EVP_CipherInit_ex2(c->ctx[enc], g_cipher[t->suite - 0x1301], d->key, NULL, enc,
                                NULL))
            return NULL;
        c->id[enc] = d->id;
    }
    return c->ctx[enc];
}

/* Forgets this thread's contexts keyed with d (the key is going away). */
static void uncache(const wsc_tls13_dir *d)
{
    struct cipher_cache *c = g_cache_ok ? pthread_getspecific(g_cache_key) : NULL;
    for (int i = 0; c && i < 2; i++)
        if (c->id[i] == d->id && d->id) {
            EVP_CIPHER_CTX_reset(c->ctx[i]);
            c->id[i] = 0;
        }
}

void wsc__tls13_clear(wsc_tls13 *t)
{
    uncache(&t->rd);
    uncache(&t->wr);
    free(t->hs);
    t->hs = NULL;
    t->hs_len = 0;
    OPENSSL_cleanse(&t->rd, sizeof t->rd);
    OPENSSL_cleanse(&t->wr, sizeof t->wr);
}

/* The per-record nonce: the iv with the sequence number xored in. */
static void nonce(const wsc_tls13_dir *d, uint8_t out[12])
{
    memcpy(out, d->iv, 12);
    for (int i = 0; i < 8; i++)
        out[11 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

static int fail(wsc_tls13 *t, int alert, const char *why)
{
    t->alert = alert;
    t->why = why;
    return -1;
}

ptrdiff_t wsc__tls13_record_len(wsc_tls13 *t, const uint8_t *buf, size_t len)
{
    if (len < WSC_TLS13_HEADER)
        return 0;
    size_t n = WSC_TLS13_HEADER + ((size_t)buf[3] << 8 | buf[4]);
    if (n > WSC_TLS13_RECORD_MAX)
        return fail(t, WSC_TLS13_RECORD_OVERFLOW, "the peer sent a record longer than TLS allows");
    return (ptrdiff_t)n;
}

/* The post-handshake messages in p[0, n), whole or continuing an earlier
 * record's (t->hs). */
static int handshake(wsc_tls13 *t, const uint8_t *p, size_t n)
{
    if (n == 0)
        return fail(t, WSC_TLS13_UNEXPECTED_MESSAGE, "the peer sent an empty handshake record");
    if (t->hs_len) {
        if (t->hs_len + n > HS_MAX)
            return fail(t, WSC_TLS13_DECODE_ERROR, "the peer sent an oversized handshake message");
        uint8_t *hs = realloc(t->hs, t->hs_len + n);
        if (!hs)
            return fail(t, WSC_TLS13_INTERNAL_ERROR, "out of memory");
        memcpy(hs + t->hs_len, p, n);
        t->hs = hs;
        p = hs;
        n = t->hs_len += n;
    }
    while (n >= 4) {
        size_t len = (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (len > HS_MAX)
            return fail(t, WSC_TLS13_DECODE_ERROR, "the peer sent an oversized handshake message");
        if (n < 4 + len)
            break;
        if (p[0] == 4 && !t->server) {
            /* NewSessionTicket after the take-over (a server may send more
             * at any time): skipped; the session cache keeps the ones
             * OpenSSL took before it (tls.c). */
        } else if (p[0] == 24) { /* KeyUpdate */
            if (len != 1 || p[4] > 1)
                return fail(t, WSC_TLS13_DECODE_ERROR, "the peer sent a malformed KeyUpdate");
            if (n != 5) /* RFC 8446 5.1: no message may span a key change */
                return fail(t, WSC_TLS13_UNEXPECTED_MESSAGE,
                            "the peer sent data after a KeyUpdate in the same record");
            if (next_generation(t, &t->rd) < 0)
                return fail(t, WSC_TLS13_INTERNAL_ERROR, "deriving the next key failed");
            t->update_due = t->update_due || p[4] == 1;
        } else {
            return fail(t, WSC_TLS13_UNEXPECTED_MESSAGE,
                        "the peer sent an unexpected post-handshake message");
        }
        p += 4 + len;
        n -= 4 + len;
    }
    if (n == 0) {
        free(t->hs);
        t->hs = NULL;
        t->hs_len = 0;
    } else if (t->hs_len) {
        memmove(t->hs, p, n);
        t->hs_len = n;
    } else {
        if (!(t->hs = malloc(n)))
            return fail(t, WSC_TLS13_INTERNAL_ERROR, "out of memory");
        memcpy(t->hs, p, n);
        t->hs_len = n;
    }
    return WSC_TLS13_GOT_NOTHING;
}

int wsc__tls13_open(wsc_tls13 *t, const uint8_t *rec, size_t len, uint8_t *out, size_t *n)
{
    *n = 0;
    if (rec[0] != WSC_TLS13_APP_DATA)
        return fail(t, WSC_TLS13_UNEXPECTED_MESSAGE,
                    "the peer sent an unprotected record after the handshake");
    if (len < WSC_TLS13_HEADER + 1 + WSC_TLS13_TAG)
        return fail(t, WSC_TLS13_DECODE_ERROR, "the peer sent a record too short to hold its tag");
    size_t m = len - WSC_TLS13_HEADER - WSC_TLS13_TAG;
    if (m > WSC_TLS13_PLAIN_MAX + 1)
        return fail(t, WSC_TLS13_RECORD_OVERFLOW, "the peer sent a record longer than TLS allows");
    if (t->rd.seq == UINT64_MAX)
        return fail(t, WSC_TLS13_INTERNAL_ERROR, "the record sequence number ran out");
    EVP_CIPHER_CTX *c = cipher_for(t, &t->rd, 0);
    uint8_t iv[12];
    nonce(&t->rd, iv);
    int k, k2;
    if (!c || !EVP_CipherInit_ex2(c, NULL, NULL, iv, 0, NULL) ||
        !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, WSC_TLS13_TAG,
                             (void *)(rec + len - WSC_TLS13_TAG)) ||
        !EVP_DecryptUpdate(c, NULL, &k, rec, WSC_TLS13_HEADER))
        return fail(t, WSC_TLS13_INTERNAL_ERROR, "the cipher failed (out of memory?)");
    if (!EVP_DecryptUpdate(c, out, &k, rec + WSC_TLS13_HEADER, (int)m) ||
        EVP_DecryptFinal_ex(c, out + k, &k2) <= 0)
        return fail(t, WSC_TLS13_BAD_RECORD_MAC,
                    "a record failed authentication (altered on the way, or not TLS)");
    t->rd.seq++;
    while (m > 0 && out[m - 1] == 0) /* padding */
        m--;
    if (m == 0)
        return fail(t, WSC_TLS13_UNEXPECTED_MESSAGE, "the peer sent a record without a content type");
    int type = out[--m];
    if (t->hs_len && type != WSC_TLS13_HANDSHAKE) /* RFC 8446 5.1 */
        return fail(t, WSC_TLS13_UNEXPECTED_MESSAGE,
                    "the peer interleaved a record inside a handshake message");
    switch (type) {
    case WSC_TLS13_APP_DATA:
        *n = m;
        return WSC_TLS13_GOT_DATA;
    case WSC_TLS13_HANDSHAKE:
        return handshake(t, out, m);
    case WSC_TLS13_ALERT:
        if (m != 2)
            return fail(t, WSC_TLS13_DECODE_ERROR, "the peer sent a malformed alert");
        if (out[1] == WSC_TLS13_CLOSE_NOTIFY)
            return WSC_TLS13_GOT_CLOSE;
        if (out[1] == 90) /* user_canceled: a close_notify follows */
            return WSC_TLS13_GOT_NOTHING;
        t->peer_alert = out[1];
        return fail(t, -1, "the peer ended the session with an alert"); /* -1: no answer */
    default:
        return fail(t, WSC_TLS13_UNEXPECTED_MESSAGE, "the peer sent a record of an unknown type");
    }
}

size_t wsc__tls13_seal(wsc_tls13 *t, int type, const struct iovec *iov, int iovcnt, size_t skip,
                   size_t len, uint8_t *out)
{
    EVP_CIPHER_CTX *c = cipher_for(t, &t->wr, 1);
    uint8_t iv[12], inner = (uint8_t)type;
    size_t n = len + 1 + WSC_TLS13_TAG;
    out[0] = WSC_TLS13_APP_DATA;
    out[1] = 3;
    out[2] = 3;
    out[3] = (uint8_t)(n >> 8);
    out[4] = (uint8_t)n;
    nonce(&t->wr, iv);
    int k;
    if (!c || !EVP_CipherInit_ex2(c, NULL, NULL, iv, 1, NULL) ||
        !EVP_EncryptUpdate(c, NULL, &k, out, WSC_TLS13_HEADER))
        return 0;
    uint8_t *p = out + WSC_TLS13_HEADER;
    for (int i = 0; i < iovcnt && len > 0; i++) {
        size_t have = iov[i].iov_len;
        if (skip >= have) {
            skip -= have;
            continue;
        }
        size_t take = have - skip < len ? have - skip : len;
        if (!EVP_EncryptUpdate(c, p, &k, (const uint8_t *)iov[i].iov_base + skip, (int)take))
            return 0;
        p += k;
        len -= take;
        skip = 0;
    }
    if (!EVP_EncryptUpdate(c, p, &k, &inner, 1))
        return 0;
    p += k;
    if (!EVP_EncryptFinal_ex(c, p, &k))
        return 0;
    p += k;
    if (!EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, WSC_TLS13_TAG, p))
        return 0;
    t->wr.seq++;
    return WSC_TLS13_HEADER + n;
}

size_t wsc__tls13_sealed_max(size_t len)
{
    size_t records = len / WSC_TLS13_PLAIN_MAX + 1;
    return len + records * (WSC_TLS13_HEADER + 1 + WSC_TLS13_TAG) + WSC_TLS13_KEY_UPDATE_LEN;
}

size_t wsc__tls13_seal_key_update(wsc_tls13 *t, uint8_t *out)
{
    uint8_t msg[5] = {24, 0, 0, 1, 0};
    struct iovec v = {msg, sizeof msg};
    size_t n = wsc__tls13_seal(t, WSC_TLS13_HANDSHAKE, &v, 1, 0, sizeof msg, out);
    if (n == 0 || next_generation(t, &t->wr) < 0)
        return 0;
    t->update_due = false;
    return n;
}

size_t wsc__tls13_seal_alert(wsc_tls13 *t, int desc, uint8_t *out)
{
    uint8_t msg[2] = {desc == WSC_TLS13_CLOSE_NOTIFY ? 1 : 2, (uint8_t)desc};
    struct iovec v = {msg, sizeof msg};
    return wsc__tls13_seal(t, WSC_TLS13_ALERT, &v, 1, 0, sizeof msg, out);
}

size_t wsc__tls13_seal_data(wsc_tls13 *t, const struct iovec *iov, int iovcnt, size_t skip,
                           size_t len, uint8_t *out)
{
    size_t used = 0;
    if (t->update_due || t->wr.seq >= SEAL_LIMIT) {
        if ((used = wsc__tls13_seal_key_update(t, out)) == 0)
            return 0;
    }
    do {
        size_t part = len < WSC_TLS13_PLAIN_MAX ? len : WSC_TLS13_PLAIN_MAX;
        size_t n = wsc__tls13_seal(t, WSC_TLS13_APP_DATA, iov, iovcnt, skip, part, out + used);
        if (n == 0)
            return 0;
        used += n;
        skip += part;
        len -= part;
    } while (len > 0);
    return used;
}
