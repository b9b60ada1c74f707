/* SPDX-License-Identifier: MIT */
/* tls13.h - TLS 1.3 records once OpenSSL has done the handshake, as kernel
 * TLS takes a session over: tls.c hands in the two traffic secrets and frees
 * the SSL object, and this seals and opens the records with OpenSSL's AEADs
 * (AES-GCM, ChaCha20-Poly1305) and its HKDF, answering KeyUpdate and
 * skipping NewSessionTicket. An established session so costs about 250
 * bytes instead of OpenSSL's 14 KB. No I/O and no locks: the caller owns
 * every buffer and serialises calls on one session. */
#ifndef WSC_TLS13_H
#define WSC_TLS13_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define WSC_TLS13_SECRET_MAX 48
#define WSC_TLS13_HEADER 5
#define WSC_TLS13_TAG 16
#define WSC_TLS13_PLAIN_MAX 16384
/* The largest record a peer may send: header, 2^14 + 256 protected bytes. */
#define WSC_TLS13_RECORD_MAX (WSC_TLS13_HEADER + WSC_TLS13_PLAIN_MAX + 256)
/* A sealed KeyUpdate and a sealed alert. */
#define WSC_TLS13_KEY_UPDATE_LEN (WSC_TLS13_HEADER + 5 + 1 + WSC_TLS13_TAG)
#define WSC_TLS13_ALERT_LEN (WSC_TLS13_HEADER + 2 + 1 + WSC_TLS13_TAG)

/* Record content types and the alerts we send. */
enum { WSC_TLS13_ALERT = 21, WSC_TLS13_HANDSHAKE = 22, WSC_TLS13_APP_DATA = 23 };
enum {
    WSC_TLS13_CLOSE_NOTIFY = 0,
    WSC_TLS13_UNEXPECTED_MESSAGE = 10,
    WSC_TLS13_BAD_RECORD_MAC = 20,
    WSC_TLS13_RECORD_OVERFLOW = 22,
    WSC_TLS13_DECODE_ERROR = 50,
    WSC_TLS13_INTERNAL_ERROR = 80,
};

/* One direction's keys. `id` names the key for the per-thread cipher
 * contexts (tls13.c): unique per key ever installed, never reused. */
typedef struct {
    uint8_t secret[WSC_TLS13_SECRET_MAX];
    uint8_t key[32];
    uint8_t iv[12];
    uint64_t seq;
    uint64_t id;
} wsc_tls13_dir;

typedef struct wsc_tls13_state {
    int suite;             /* the IANA id: 0x1301, 0x1302 or 0x1303 */
    size_t secret_len;     /* the suite hash's size */
    bool server;
    bool update_due;       /* the peer asked for a KeyUpdate: ours is owed */
    wsc_tls13_dir rd, wr;  /* the peer's keys and ours */
    uint8_t *hs;           /* a post-handshake message that spans records:
                              malloc'd, freed once it is whole */
    size_t hs_len;
    int alert;             /* after a failure: the alert it calls for, -1 none */
    int peer_alert;        /* the alert the peer ended the session with */
    const char *why;       /* after a failure: what went wrong (static) */
} wsc_tls13;

/* Whether suite (IANA id) is one we can take over. */
bool wsc__tls13_supported(int suite);

/* Derives the keys from t->rd.secret and t->wr.secret (the caller copies the
 * traffic secrets there first, secret_len bytes each; the rest of *t zero).
 * 0, or -1 when the suite is not supported or OpenSSL fails. */
int wsc__tls13_init(wsc_tls13 *t, int suite, bool server);

/* Wipes the keys and frees t->hs; t itself stays the caller's. */
void wsc__tls13_clear(wsc_tls13 *t);

/* The size of the record that starts buf (len bytes): 0 when the header is
 * not all there yet, -1 (t->why set) when the header announces more than a
 * peer may send. The record may be longer than len: wait for the rest. */
ptrdiff_t wsc__tls13_record_len(wsc_tls13 *t, const uint8_t *buf, size_t len);

enum { WSC_TLS13_GOT_DATA = 1, WSC_TLS13_GOT_NOTHING, WSC_TLS13_GOT_CLOSE };

/* Opens the whole record rec[0, len) into out, which has room for len - 21
 * bytes and may be rec + 5 (in place). Returns GOT_DATA with *n bytes of
 * application data at out (0 is possible), GOT_NOTHING (a post-handshake
 * message, handled; t->update_due may now be set), GOT_CLOSE (close_notify),
 * or -1 with t->why and t->alert set: the session is unusable then. */
int wsc__tls13_open(wsc_tls13 *t, const uint8_t *rec, size_t len, uint8_t *out, size_t *n);

/* The most bytes sealing `len` bytes of data can produce. */
size_t wsc__tls13_sealed_max(size_t len);

/* Seals `len` bytes of iov, after its first `skip` bytes, as application
 * data records into out (room for wsc__tls13_sealed_max(len)); a KeyUpdate
 * goes first when one is owed or the key has sealed 2^24 records. Returns
 * the bytes written, 0 when OpenSSL fails. */
size_t wsc__tls13_seal_data(wsc_tls13 *t, const struct iovec *iov, int iovcnt, size_t skip,
                           size_t len, uint8_t *out);

/* Seals len (<= 16384) bytes of iov, after its first `skip`, as one record
 * of content type `type` into out (room for len + 22). Returns the record's
 * size, 0 when OpenSSL fails. */
size_t wsc__tls13_seal(wsc_tls13 *t, int type, const struct iovec *iov, int iovcnt, size_t skip,
                      size_t len, uint8_t *out);

/* Seals our KeyUpdate (request_update 0) into out (KEY_UPDATE_LEN bytes)
 * and moves our keys on. Returns the bytes written, 0 when OpenSSL fails. */
size_t wsc__tls13_seal_key_update(wsc_tls13 *t, uint8_t *out);

/* Seals an alert (close_notify is level 1, the rest fatal) into out
 * (ALERT_LEN bytes). Returns the bytes written, 0 when OpenSSL fails. */
size_t wsc__tls13_seal_alert(wsc_tls13 *t, int desc, uint8_t *out);

#endif
