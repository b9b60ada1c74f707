/* SPDX-License-Identifier: MIT */
/* tls.c - TLS with OpenSSL: contexts (client trust and certificates, the
 * server's wsc_tls_server), sessions and their handshakes, and the TLS
 * transport.
 *
 * Threads: the connection lets one reader, one frame writer and any closer
 * use the transport at once, but an SSL object takes one call at a time. So
 * every SSL call runs under the session's mutex `mu`, and no system call
 * does: once the handshake is done, our BIO reads ciphertext from `rx`, which
 * the reader fills with recv(2) outside the lock (only the reader touches
 * it), and writes ciphertext into `tx`, which whoever holds `tx_mu` sends
 * with send(2) outside `mu`, in order. A writer encrypting and a reader
 * receiving or decrypting so never wait for each other's system calls.
 * (During the handshake the BIO uses the socket directly, with
 * MSG_DONTWAIT.) Lock order: tx_mu, then mu.
 *
 * Memory: a TLS 1.3 session with one of the three standard AEADs is taken
 * over from OpenSSL once its handshake is done (tls13.c seals and opens its
 * records with the traffic secrets OpenSSL's key log gives us) and its SSL
 * object freed, so an idle connection holds a few hundred bytes, not
 * OpenSSL's 14 KB. TLS 1.2 sessions stay with OpenSSL. A client that
 * resumes sessions takes over only after its first read, once the server's
 * session tickets (which follow the handshake) went to the cache
 * (tls_cache.c); the records OpenSSL protected until then are counted, as
 * tls13.c's sequence numbers must go on from them. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/error.h"
#include "proto/url.h"
#include "net/tls.h"
#include "net/tls13.h"
#include "net/tls_cache.h"

/* Plaintext given to one SSL_write: four full records. */
#define TLS_CHUNK (4 * 16384)
#define HOST_MAX 256
/* The receive buffer's size (rx). */
#define RX_CAP (64 * 1024)

struct wsc_tls_server {
    SSL_CTX *ctx;
};

struct wsc_tls {
    int fd;
    bool server;
    pthread_mutex_t mu;    /* once a transport, guards ssl and all below */
    SSL *ssl;
    bool eof;              /* our BIO saw the end of the stream */
    int sys_err;           /* errno of our BIO's last failed recv/send */
    int end;               /* once reading ended: 1 end of stream, or the error */
    char *end_msg;         /* the detail of that error (malloc'd then) */
    bool notified;         /* close_notify sent (or given up) */
    bool buffered;         /* a transport: the BIO uses rx and tx, not the socket */
    /* The records of a session taken over from OpenSSL (ssl is NULL then).
     * `logged` holds the traffic secrets the key log gives during the
     * handshake (malloc'd on the first); take_over() makes it `rec`. pt is
     * plaintext opened in place in rx, not yet read. */
    wsc_tls13 *rec, *logged;
    uint8_t secrets;       /* traffic secrets logged: 1 ours, 2 the peer's */
    bool finished[2];      /* [0] the peer's Finished was read, [1] ours sent */
    uint64_t records[2];   /* records read [0] and sent [1] since then: under
                              the application keys (count_records) */
    bool key_updated;      /* a KeyUpdate went through OpenSSL */
    bool resumed;          /* the handshake resumed a session */
    bool late;             /* a client caching sessions: take over after the
                              first read, when the tickets came */
    char *cache_key;       /* a client caching sessions: its key (malloc'd) */
    const uint8_t *pt;
    size_t pt_len;
    /* Ciphertext received, not yet decrypted: the reader's alone (it fills
     * it unlocked and consumes it in SSL_read under mu). Freed when empty. */
    uint8_t *rx;
    size_t rx_len, rx_pos;
    bool rx_eof;           /* recv saw the end of the stream */
    int rx_err;            /* errno of a failed recv */
    /* Ciphertext made, not yet sent: appended under mu, then taken whole by
     * the sender into `sending`, which is sent under tx_mu. */
    pthread_mutex_t tx_mu;
    uint8_t *tx;           /* [mu] */
    size_t tx_len, tx_cap; /* [mu] */
    uint8_t *sending;      /* [tx_mu] */
    size_t sending_len, sending_pos; /* [tx_mu] */
    int tx_err;            /* [tx_mu] errno of a failed send, 0: none */
    _Atomic size_t sending_left; /* what `sending` still holds, for tls_pending */
    /* Both in `names`, sized to fit: an idle server connection is mostly
     * OpenSSL's, so ours stays small (no fixed-size arrays here). */
    const char *host;      /* client: the name verified, for messages; "" on a server */
    const char *desc;      /* "host:port", or "client ADDR:PORT" on a server */
    char names[];
};

/* ---- errors ---------------------------------------------------------------- */

/* The reasons in this thread's OpenSSL error queue, "a: b", and empties it. */
static void queue_text(char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        const char *r = ERR_reason_error_string(e);
        char num[32];
        if (!r) {
            snprintf(num, sizeof num, "error %lx", e);
            r = num;
        }
        if (used < cap)
            used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? ": " : "", r);
    }
    if (!out[0])
        snprintf(out, cap, "unknown error");
}

/* Advice for the OpenSSL reasons people meet most. */
static const char *reason_hint(const char *reasons)
{
    if (strstr(reasons, "wrong version number") || strstr(reasons, "packet length too long"))
        return " (is the peer speaking TLS on this port?)";
    if (strstr(reasons, "http request"))
        return " (a plain HTTP client on the TLS port?)";
    if (strstr(reasons, "unsupported protocol"))
        return " (the peer offers no TLS version from 1.2 up)";
    if (strstr(reasons, "alert certificate required"))
        return " (the server wants a client certificate: cert_file and key_file)";
    if (strstr(reasons, "alert bad certificate") || strstr(reasons, "alert unsupported certificate") ||
        strstr(reasons, "alert unknown ca") || strstr(reasons, "alert certificate expired"))
        return " (the peer refused our certificate)";
    return "";
}

/* A plain HTTP request on the TLS port gets a plain answer saying so. */
static void answer_plain_http(int fd)
{
    static const char resp[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                               "Connection: close\r\nContent-Length: 48\r\n\r\n"
                               "Client sent an HTTP request to an HTTPS server.\n";
    ssize_t n = send(fd, resp, sizeof resp - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n; /* best effort */
}

/* "DNS:a, IP:b": the names in the peer's certificate, for mismatch messages. */
static void cert_names(SSL *ssl, char *out, size_t cap)
{
    out[0] = '\0';
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    X509 *leaf = chain && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : NULL;
    if (!leaf)
        return;
    GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    size_t used = 0;
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && used < cap; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type == GEN_DNS) {
            const ASN1_IA5STRING *dns = g->d.dNSName;
            used += (size_t)snprintf(out + used, cap - used, "%sDNS:%.*s", used ? ", " : "",
                                     ASN1_STRING_length(dns),
                                     (const char *)ASN1_STRING_get0_data(dns));
        } else if (g->type == GEN_IPADD) {
            const ASN1_OCTET_STRING *ip = g->d.iPAddress;
            int len = ASN1_STRING_length(ip);
            char text[INET6_ADDRSTRLEN];
            if ((len == 4 || len == 16) &&
                inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), text, sizeof text))
                used += (size_t)snprintf(out + used, cap - used, "%sIP:%s", used ? ", " : "", text);
        }
    }
    GENERAL_NAMES_free(names);
    if (!out[0])
        X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, out, (int)cap);
}

static int verify_failed(wsc_tls *s, long v)
{
    const char *why = X509_verify_cert_error_string(v);
    if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        char names[200];
        cert_names(s->ssl, names, sizeof names);
        return wsc__fail(WSC_ETLS,
                        "TLS: certificate verify failed for %s: host name mismatch: the "
                        "certificate is not valid for %s (it is for %s)",
                        s->desc, s->host, names[0] ? names : "no names");
    }
    const char *hint = "";
    switch (v) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        hint = s->server ? " (not signed by the CA in ca_file / ca_dir)" : " (pass the CA with ca_file)";
        break;
    }
    return wsc__fail(WSC_ETLS, "TLS: certificate verify failed for %s: %s%s", s->desc, why, hint);
}

/* Reads and drops what the client sent that the failed handshake did not
 * read (without read-ahead, its Finished after a refused certificate):
 * closing a socket with unread input sends a reset, which can destroy our
 * alert before the client reads it. */
static void drop_input(int fd)
{
    char buf[4096];
    for (int i = 0; i < 16 && recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0; i++)
        ;
}

/* The failure of a handshake step that returned SSL_get_error() == e. */
static int handshake_failed(wsc_tls *s, int e)
{
    char reasons[300];
    queue_text(reasons, sizeof reasons);
    if (s->server)
        drop_input(s->fd);
    long v = SSL_get_verify_result(s->ssl);
    if (SSL_get_verify_mode(s->ssl) != SSL_VERIFY_NONE && v != X509_V_OK)
        return verify_failed(s, v);
    if (e == SSL_ERROR_SSL && s->server && strstr(reasons, "http request"))
        answer_plain_http(s->fd);
    if (e == SSL_ERROR_SSL)
        return wsc__fail(WSC_ETLS, "TLS handshake with %s failed: %s%s", s->desc, reasons,
                        reason_hint(reasons));
    if (s->sys_err)
        return wsc__fail(WSC_ETLS, "TLS handshake with %s failed: %s", s->desc, strerror(s->sys_err));
    return wsc__fail(WSC_ETLS, "TLS handshake with %s failed: the connection was closed", s->desc);
}

/* The failure of an SSL_read / SSL_write on an established session. */
static int io_failed(wsc_tls *s, int e, const char *doing)
{
    char reasons[300];
    queue_text(reasons, sizeof reasons);
    if (e == SSL_ERROR_SSL)
        return wsc__fail(WSC_ETLS, "TLS: %s %s failed: %s%s", doing, s->desc, reasons,
                        reason_hint(reasons));
    if (s->sys_err)
        return wsc__fail(WSC_EIO, "%s: %s", doing[0] == 'r' ? "recv" : "send", strerror(s->sys_err));
    return wsc__fail(WSC_EIO, "TLS: %s %s failed: the connection was closed", doing, s->desc);
}

/* ---- our BIO: the socket with MSG_DONTWAIT and MSG_NOSIGNAL ------------------ */

/* Room for len more bytes at the end of tx (the caller then adds what it
 * wrote to tx_len); NULL: out of memory. [mu] */
static uint8_t *tx_reserve(wsc_tls *s, size_t len)
{
    if (s->tx_len + len > s->tx_cap) {
        /* Sized to what is asked (a small frame's record or an alert takes
         * a small block, not a heap-top one trimmed again at once),
         * doubling as records are appended. */
        size_t cap = s->tx_len + len;
        if (cap < 2 * s->tx_cap)
            cap = 2 * s->tx_cap;
        if (cap < 1024)
            cap = 1024;
        uint8_t *p = realloc(s->tx, cap);
        if (!p)
            return NULL;
        s->tx = p;
        s->tx_cap = cap;
    }
    return s->tx + s->tx_len;
}

/* Buffered: appends to tx. [mu] */
static int tx_append(wsc_tls *s, const char *data, int len)
{
    uint8_t *p = tx_reserve(s, (size_t)len);
    if (!p) {
        s->sys_err = ENOMEM;
        return -1;
    }
    memcpy(p, data, (size_t)len);
    s->tx_len += (size_t)len;
    return len;
}

/* Buffered: takes from rx, which the reader fills. [mu] */
static int rx_take(BIO *b, wsc_tls *s, char *buf, int len)
{
    size_t have = s->rx_len - s->rx_pos;
    if (have == 0) {
        if (s->rx_eof) {
            s->eof = true;
            return 0;
        }
        if (s->rx_err) {
            s->sys_err = s->rx_err;
            return -1;
        }
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = have < (size_t)len ? have : (size_t)len;
    memcpy(buf, s->rx + s->rx_pos, n);
    s->rx_pos += n;
    return (int)n;
}

static int bio_write(BIO *b, const char *data, int len)
{
    wsc_tls *s = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (s->buffered)
        return tx_append(s, data, len);
    for (;;) {
        ssize_t n = send(s->fd, data, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(b);
        else
            s->sys_err = errno;
        return -1;
    }
}

static int bio_read(BIO *b, char *buf, int len)
{
    wsc_tls *s = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (s->buffered || s->rx_pos < s->rx_len) /* or bytes wsc_accept_with got */
        return rx_take(b, s, buf, len);
    for (;;) {
        ssize_t n = recv(s->fd, buf, (size_t)len, MSG_DONTWAIT);
        if (n > 0)
            return (int)n;
        if (n == 0) {
            s->eof = true;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_read(b);
        else
            s->sys_err = errno;
        return -1;
    }
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *g_bio_method;

static void make_bio_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wsc socket");
    if (m && BIO_meth_set_write(m, bio_write) && BIO_meth_set_read(m, bio_read) &&
        BIO_meth_set_ctrl(m, bio_ctrl) && BIO_meth_set_create(m, bio_create)) {
        g_bio_method = m;
        return;
    }
    BIO_meth_free(m);
}

/* ---- taking a TLS 1.3 session over ------------------------------------------ */

/* OpenSSL's key log, "LABEL <client random> <secret>" in hex: we keep the
 * two application traffic secrets, for tls13.c. */
static void keylog(const SSL *ssl, const char *line)
{
    wsc_tls *s = SSL_get_app_data(ssl);
    bool client = strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0;
    if (!s || (!client && strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) != 0))
        return;
    if (!s->logged && !(s->logged = calloc(1, sizeof *s->logged)))
        return;
    bool ours = client != s->server;
    uint8_t *out = ours ? s->logged->wr.secret : s->logged->rd.secret;
    size_t len;
    if (OPENSSL_hexstr2buf_ex(out, WSC_TLS13_SECRET_MAX, &len, strrchr(line, ' ') + 1, '\0'))
        s->secrets |= ours ? 1 : 2;
}

static void rec_free(wsc_tls13 *t)
{
    if (t) {
        wsc__tls13_clear(t);
        free(t);
    }
}

/* After the handshake: a TLS 1.3 session with both secrets logged and
 * nothing read ahead goes to tls13.c and its SSL object is freed; any
 * other stays with OpenSSL, which may then read ahead. */
static void take_over(wsc_tls *s)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(s->ssl);
    int suite = c ? (int)SSL_CIPHER_get_protocol_id(c) : 0;
    wsc_tls13 *t = s->logged;
    s->logged = NULL;
    if (t && s->secrets == 3 && SSL_version(s->ssl) == TLS1_3_VERSION && !s->key_updated &&
        !SSL_has_pending(s->ssl) && wsc__tls13_init(t, suite, s->server) == 0) {
        t->rd.seq = s->records[0];
        t->wr.seq = s->records[1];
        s->rec = t;
        SSL_free(s->ssl);
        s->ssl = NULL;
        return;
    }
    rec_free(t);
    SSL_set_msg_callback(s->ssl, NULL);
    SSL_set_read_ahead(s->ssl, 1); /* one recv for several records */
}

/* OpenSSL's message callback: counts the records each direction protects
 * after its Finished, i.e. under the application keys, from which tls13.c
 * numbers its own. A record's header is reported before the messages in
 * it, on both sides, so the Finished's own record is not counted. A
 * KeyUpdate either way (a peer's, before a late take-over) moves the keys
 * past the logged secrets: OpenSSL then keeps the session. */
static void count_records(int write_p, int version, int type, const void *buf, size_t len,
                          SSL *ssl, void *arg)
{
    (void)version, (void)arg;
    wsc_tls *s = SSL_get_app_data(ssl);
    uint8_t msg = type == SSL3_RT_HANDSHAKE && len > 0 ? *(const uint8_t *)buf : 0;
    if (!s)
        return;
    if (msg == SSL3_MT_FINISHED)
        s->finished[write_p != 0] = true;
    else if (msg == SSL3_MT_KEY_UPDATE)
        s->key_updated = true;
    else if (type == SSL3_RT_HEADER && s->finished[write_p != 0])
        s->records[write_p != 0]++;
}

/* A client's session handed over by OpenSSL: a copy is cached for the next
 * dial to the same server with the same options. (A copy, as OpenSSL marks
 * the session of an SSL freed without close_notify not resumable: take_over
 * frees it so.) 0: OpenSSL keeps its reference. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    wsc_tls *s = SSL_get_app_data(ssl);
    SSL_SESSION *copy;
    if (s && s->cache_key && SSL_SESSION_is_resumable(sess) && (copy = SSL_SESSION_dup(sess)))
        wsc__tls_cache_put(s->cache_key, copy);
    return 0;
}

const wsc_tls13 *wsc__tls_records(const wsc_tls *s)
{
    return s->rec;
}

/* ---- contexts ---------------------------------------------------------------- */

/* Checks that a file the caller named can be read, for a clear message. */
static int check_readable(const char *what, const char *path, bool dir)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return wsc__fail(WSC_ETLS, "TLS: cannot read the %s %s: %s", what, path, strerror(errno));
    if (dir != S_ISDIR(st.st_mode))
        return wsc__fail(WSC_ETLS, "TLS: the %s %s is %sa directory", what, path, dir ? "not " : "");
    if (access(path, dir ? R_OK | X_OK : R_OK) != 0)
        return wsc__fail(WSC_ETLS, "TLS: cannot read the %s %s: %s", what, path, strerror(errno));
    return 0;
}

static int ctx_fail(SSL_CTX *ctx, const char *what, const char *path)
{
    char reasons[300];
    queue_text(reasons, sizeof reasons);
    SSL_CTX_free(ctx);
    return wsc__fail(WSC_ETLS, "TLS: cannot load the %s %s: %s", what, path, reasons);
}

/* Settings every context of ours shares. */
static SSL_CTX *ctx_new(const SSL_METHOD *method)
{
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* TLS 1.3: AES-128-GCM first (as Go does): as safe, faster than 256. */
    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                                  "TLS_CHACHA20_POLY1305_SHA256");
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    /* RELEASE_BUFFERS: an idle connection gives its 16 KiB record buffers
     * back, as wsc gives back its own receive buffer. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    /* No read-ahead during the handshake: what follows it must stay in the
     * socket for take_over(). The key log gives us the traffic secrets. */
    SSL_CTX_set_read_ahead(ctx, 0);
    SSL_CTX_set_keylog_callback(ctx, keylog);
    return ctx;
}

/* Loads trust anchors (ca_file / ca_dir); 0 or WSC_ETLS, ctx freed. */
static int load_ca(SSL_CTX *ctx, const wsc_tls_options *o)
{
    int r;
    if (o->ca_file && (r = check_readable("CA file", o->ca_file, false)) < 0)
        goto fail;
    if (o->ca_dir && (r = check_readable("CA directory", o->ca_dir, true)) < 0)
        goto fail;
    ERR_clear_error();
    if (!SSL_CTX_load_verify_locations(ctx, o->ca_file, o->ca_dir))
        return ctx_fail(ctx, o->ca_file ? "CA file" : "CA directory",
                        o->ca_file ? o->ca_file : o->ca_dir);
    return 0;
fail:
    SSL_CTX_free(ctx);
    return r;
}

/* Loads cert_file + key_file and checks that they belong together; 0 or
 * WSC_EINVAL / WSC_ETLS, ctx freed. */
static int load_cert(SSL_CTX *ctx, const wsc_tls_options *o)
{
    int r;
    if (!o->cert_file || !o->key_file) {
        SSL_CTX_free(ctx);
        return wsc__fail(WSC_EINVAL, "TLS: cert_file and key_file go together (%s is missing)",
                        o->cert_file ? "key_file" : "cert_file");
    }
    if ((r = check_readable("certificate file", o->cert_file, false)) < 0 ||
        (r = check_readable("key file", o->key_file, false)) < 0) {
        SSL_CTX_free(ctx);
        return r;
    }
    ERR_clear_error();
    if (!SSL_CTX_use_certificate_chain_file(ctx, o->cert_file))
        return ctx_fail(ctx, "certificate chain", o->cert_file);
    if (!SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM)) {
        char reasons[300];
        queue_text(reasons, sizeof reasons);
        SSL_CTX_free(ctx);
        if (strstr(reasons, "values mismatch"))
            return wsc__fail(WSC_ETLS, "TLS: the private key %s does not match the certificate %s",
                            o->key_file, o->cert_file);
        return wsc__fail(WSC_ETLS, "TLS: cannot load the private key %s: %s", o->key_file, reasons);
    }
    if (!SSL_CTX_check_private_key(ctx)) {
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return wsc__fail(WSC_ETLS, "TLS: the private key %s does not match the certificate %s",
                        o->key_file, o->cert_file);
    }
    return 0;
}

/* The client context for the system store without a client certificate,
 * shared by every dial that needs no other (made on first use). */
static pthread_mutex_t g_ctx_mu = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *g_default_ctx;

/* A client context: ctx_new's settings, and sessions handed to new_session
 * (OpenSSL keeps none itself). */
static SSL_CTX *client_ctx_new(void)
{
    SSL_CTX *ctx = ctx_new(TLS_client_method());
    if (ctx) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, new_session);
    }
    return ctx;
}

/* o's trust and certificate files as a cache key (malloc'd): each name
 * with its size and modification time, so a file changed on disk makes a
 * new context and offers no session verified under the old one. NULL when
 * a file cannot be looked at (loading it will say why) or without memory:
 * no caching then. */
static char *files_key(const wsc_tls_options *o)
{
    const char *files[] = {o->ca_file, o->ca_dir, o->cert_file, o->key_file};
    struct stat st[4] = {{0}};
    size_t cap = 1;
    for (size_t i = 0; i < 4; i++) {
        if (files[i] && stat(files[i], &st[i]) < 0)
            return NULL;
        cap += (files[i] ? strlen(files[i]) : 0) + 64;
    }
    char *key = malloc(cap);
    size_t len = 0;
    for (size_t i = 0; key && i < 4; i++)
        len += (size_t)snprintf(key + len, cap - len, "%s\t%lld.%09ld\t%lld\n",
                                files[i] ? files[i] : "", (long long)st[i].st_mtim.tv_sec,
                                st[i].st_mtim.tv_nsec, (long long)st[i].st_size);
    return key;
}

/* The client context for o; files: files_key(o), its cache key. */
static int client_ctx(const wsc_tls_options *o, const char *files, SSL_CTX **out)
{
    bool custom = o->ca_file || o->ca_dir || o->cert_file || o->key_file;
    if (!custom) {
        pthread_mutex_lock(&g_ctx_mu);
        if (!g_default_ctx && (g_default_ctx = client_ctx_new()) != NULL)
            SSL_CTX_set_default_verify_paths(g_default_ctx);
        if (g_default_ctx)
            SSL_CTX_up_ref(g_default_ctx);
        *out = g_default_ctx;
        pthread_mutex_unlock(&g_ctx_mu);
        ERR_clear_error();
        return *out ? 0 : wsc__fail(WSC_ENOMEM, "TLS: out of memory");
    }
    if (files && (*out = wsc__tls_ctx_get(files)) != NULL)
        return 0;
    SSL_CTX *ctx = client_ctx_new();
    int r = ctx ? 0 : wsc__fail(WSC_ENOMEM, "TLS: out of memory");
    if (r == 0 && (o->ca_file || o->ca_dir))
        r = load_ca(ctx, o);
    else if (r == 0)
        SSL_CTX_set_default_verify_paths(ctx);
    if (r == 0 && (o->cert_file || o->key_file))
        r = load_cert(ctx, o);
    if (r == 0 && files && SSL_CTX_up_ref(ctx))
        wsc__tls_ctx_put(files, ctx);
    *out = r == 0 ? ctx : NULL;
    return r;
}

/* Servers answer an ALPN offer with http/1.1 when it is in it. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl, (void)arg;
    static const unsigned char http11[] = "\x08http/1.1";
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, http11, sizeof http11 - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

int wsc_tls_server_new(const wsc_tls_options *opts, wsc_tls_server **out)
{
    if (out)
        *out = NULL;
    if (!opts || !out || !opts->cert_file || !opts->key_file)
        return wsc__fail(WSC_EINVAL, "wsc_tls_server_new needs cert_file and key_file");
    wsc_tls_server *srv = calloc(1, sizeof *srv);
    SSL_CTX *ctx = ctx_new(TLS_server_method());
    if (!srv || !ctx) {
        free(srv);
        SSL_CTX_free(ctx);
        return wsc__fail(WSC_ENOMEM, "TLS: out of memory");
    }
    int r = load_cert(ctx, opts);
    if (r == 0 && (opts->ca_file || opts->ca_dir) && (r = load_ca(ctx, opts)) == 0) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        if (opts->ca_file) /* the CA names sent with the certificate request */
            SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(opts->ca_file));
        ERR_clear_error();
    }
    if (r < 0) {
        free(srv);
        return r;
    }
    /* Our order (ctx_new's), not the client's: without this the AES-128
     * preference above is ignored, and a client preferring AES-256 also
     * costs its connection SHA-384 transcript contexts (192 bytes more). */
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    static const unsigned char sid[] = "wsc";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    /* Resumption by stateless tickets only (OpenSSL's default two after a
     * full handshake, one after a resumption; take_over() numbers its
     * records after them): no per-client state in a server cache. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (opts->no_resumption) {
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
    srv->ctx = ctx;
    *out = srv;
    return 0;
}

void wsc_tls_server_free(wsc_tls_server *srv)
{
    if (!srv)
        return;
    SSL_CTX_free(srv->ctx);
    free(srv);
}

/* ---- sessions ------------------------------------------------------------------ */

static pthread_once_t g_bio_once = PTHREAD_ONCE_INIT;

/* A session on ctx (which it takes a reference of) with our BIO, for
 * messages naming desc (and host, a client's). */
static wsc_tls *session_new(SSL_CTX *ctx, bool server, const char *host, const char *desc)
{
    pthread_once(&g_bio_once, make_bio_method);
    size_t hlen = strlen(host), dlen = strlen(desc);
    wsc_tls *s = calloc(1, sizeof *s + hlen + dlen + 2);
    if (!s || !g_bio_method)
        goto fail;
    memcpy(s->names, host, hlen + 1);
    memcpy(s->names + hlen + 1, desc, dlen + 1);
    s->host = s->names;
    s->desc = s->names + hlen + 1;
    s->fd = -1;
    s->server = server;
    s->ssl = SSL_new(ctx);
    BIO *bio = s->ssl ? BIO_new(g_bio_method) : NULL;
    if (!bio)
        goto fail;
    BIO_set_data(bio, s);
    SSL_set_bio(s->ssl, bio, bio);
    SSL_set_app_data(s->ssl, s);
    SSL_set_msg_callback(s->ssl, count_records);
    if (server)
        SSL_set_accept_state(s->ssl);
    else
        SSL_set_connect_state(s->ssl);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->tx_mu, NULL);
    return s;
fail:
    if (s)
        SSL_free(s->ssl);
    free(s);
    ERR_clear_error();
    return NULL;
}

static bool is_ip_literal(const char *host)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* Verification of the server's certificate and name, SNI, ALPN. */
static int client_setup(wsc_tls *s, const wsc_tls_options *o)
{
    SSL *ssl = s->ssl;
    bool ip = is_ip_literal(s->host);
    static const unsigned char alpn[] = "\x08http/1.1";
    if (SSL_set_alpn_protos(ssl, alpn, sizeof alpn - 1) != 0)
        return 0;
    if (!ip) {
        char sni[HOST_MAX];
        snprintf(sni, sizeof sni, "%s", s->host);
        size_t n = strlen(sni);
        if (n > 1 && sni[n - 1] == '.')
            sni[n - 1] = '\0'; /* "example.com." is sent as "example.com" */
        if (!SSL_set_tlsext_host_name(ssl, sni))
            return 0;
    }
    if (o->insecure_skip_verify) {
        SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
        return 1;
    }
    SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (ip)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), s->host);
    return SSL_set1_host(ssl, s->host);
}

/* Session resumption for a client: its cache key names the server (desc)
 * and everything that decides whom we trust (files: files_key(o)); a
 * session cached under it is offered. 0 or WSC_ENOMEM. */
static int cache_setup(wsc_tls *s, const wsc_tls_options *o, const char *files)
{
    size_t len = strlen(s->desc) + strlen(files) + 16;
    if (!(s->cache_key = malloc(len)))
        return wsc__fail(WSC_ENOMEM, "TLS: out of memory");
    snprintf(s->cache_key, len, "%s\n%s\n%s", s->desc,
             o->insecure_skip_verify ? "insecure" : "verify", files);
    SSL_SESSION *sess = wsc__tls_cache_get(s->cache_key);
    if (sess && SSL_SESSION_get_time(sess) + SSL_SESSION_get_timeout(sess) > (long)time(NULL))
        SSL_set_session(s->ssl, sess); /* (an expired one would only cost the server a look) */
    SSL_SESSION_free(sess);
    s->late = true;
    return 0;
}

int wsc__tls_client_new(const wsc_tls_options *o, const char *host, const char *desc,
                       wsc_tls **out)
{
    *out = NULL;
    if (strlen(host) >= HOST_MAX)
        return wsc__fail(WSC_EINVAL, "TLS: the host name %.40s... is too long", host);
    char *files = files_key(o);
    SSL_CTX *ctx;
    int r = client_ctx(o, files, &ctx);
    wsc_tls *s = r < 0 ? NULL : session_new(ctx, false, host, desc);
    if (r == 0) {
        SSL_CTX_free(ctx); /* the session holds its own reference */
        if (!s)
            r = wsc__fail(WSC_ENOMEM, "TLS: out of memory");
    }
    if (r == 0 && !client_setup(s, o)) {
        char reasons[300];
        queue_text(reasons, sizeof reasons);
        r = wsc__fail(WSC_ETLS, "TLS: cannot set up verification for %s: %s", host, reasons);
    }
    if (r == 0 && files && !o->no_resumption)
        r = cache_setup(s, o, files);
    free(files);
    if (r < 0)
        wsc__tls_free(s);
    else
        *out = s;
    return r;
}

int wsc__tls_server_session(const wsc_tls_server *srv, int fd, const void *head,
                            size_t head_len, wsc_tls **out)
{
    char peer[WSC_PEER_NAME_MAX], desc[WSC_PEER_NAME_MAX + 32];
    *out = NULL;
    wsc__peer_name(fd, peer, sizeof peer);
    snprintf(desc, sizeof desc, "client %s", *peer ? peer : "of unknown address");
    if (head_len > RX_CAP)
        return wsc__fail(WSC_EINVAL, "%zu bytes already read is more than a TLS client's "
                         "first flight (at most %d)", head_len, RX_CAP);
    *out = session_new(srv->ctx, true, "", desc);
    if (*out && head_len) {
        /* The handshake's BIO reads these before the socket (bio_read);
         * rx is sized as rx_fill expects. */
        if (((*out)->rx = malloc(RX_CAP)) == NULL) {
            wsc__tls_free(*out);
            *out = NULL;
        } else {
            memcpy((*out)->rx, head, head_len);
            (*out)->rx_len = head_len;
        }
    }
    return *out ? 0 : wsc__fail(WSC_ENOMEM, "TLS: out of memory");
}

int wsc__tls_handshake(wsc_tls *s, int fd, short *want)
{
    s->fd = fd;
    s->eof = false;
    s->sys_err = 0;
    ERR_clear_error();
    int r = SSL_do_handshake(s->ssl);
    if (r == 1) {
        s->resumed = SSL_session_reused(s->ssl);
        if (!s->late)
            take_over(s);
        return 0;
    }
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        return WSC_EAGAIN;
    }
    return handshake_failed(s, e);
}

void wsc__tls_free(wsc_tls *s)
{
    if (!s)
        return;
    SSL_free(s->ssl);
    rec_free(s->rec);
    rec_free(s->logged);
    free(s->cache_key);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->tx_mu);
    free(s->end_msg);
    free(s->rx);
    free(s->tx);
    free(s->sending);
    free(s);
}

/* ---- the transport ------------------------------------------------------------- */

/* One SSL call's setup: a fresh error queue and BIO status. [mu] */
static void call_begin(wsc_tls *s)
{
    ERR_clear_error();
    s->eof = false;
    s->sys_err = 0;
}

/* Reads until n bytes came or OpenSSL has nothing more without more
 * ciphertext, so that little plaintext stays inside it. Returns 0 (buffer
 * full), WSC_EAGAIN (rx is empty: more must be received), 1 (end of
 * stream), or the error; *got counts the bytes. [mu] */
static int read_some(wsc_tls *s, uint8_t *buf, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        size_t k = 0;
        call_begin(s);
        if (SSL_read_ex(s->ssl, buf + *got, n - *got, &k)) {
            *got += k;
            continue;
        }
        int e = SSL_get_error(s->ssl, 0);
        if (e == SSL_ERROR_WANT_READ)
            return WSC_EAGAIN;
        /* close_notify, or the socket's end without it: the end of the
         * stream either way (the WebSocket close handshake says the rest). */
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && s->eof && !s->sys_err)) {
            ERR_clear_error();
            s->end = 1;
        } else {
            s->end = io_failed(s, e, "reading from");
            s->end_msg = strdup(wsc_last_error()); /* NULL: a shorter message later */
        }
        return s->end;
    }
    return 0;
}

/* An alert's name; OpenSSL 3.0 does not know TLS 1.3's. */
static const char *alert_name(int desc)
{
    switch (desc) {
    case 109: return "missing extension";
    case 116: return "certificate required";
    case 120: return "no application protocol";
    default: return SSL_alert_desc_string_long(desc);
    }
}

/* A failure of a session we took over: ends reading with t->why, and
 * sends the alert it calls for (best effort, with the next send). [mu] */
static int rec_failed(wsc_tls *s)
{
    wsc_tls13 *t = s->rec;
    uint8_t *out;
    if (t->alert >= 0 && (out = tx_reserve(s, WSC_TLS13_ALERT_LEN)) != NULL)
        s->tx_len += wsc__tls13_seal_alert(t, t->alert, out);
    if (t->alert < 0) {
        char alert[64];
        snprintf(alert, sizeof alert, "alert %s", alert_name(t->peer_alert));
        s->end = wsc__fail(WSC_ETLS, "TLS: reading from %s failed: the peer sent %s%s", s->desc,
                          alert, reason_hint(alert));
    } else
        s->end = wsc__fail(WSC_ETLS, "TLS: reading from %s failed: %s", s->desc, t->why);
    s->end_msg = strdup(wsc_last_error());
    return s->end;
}

/* read_some for a session we took over: opens the whole records in rx,
 * straight into buf when the record fits, else in place (then s->pt). [mu] */
static int open_some(wsc_tls *s, uint8_t *buf, size_t n, size_t *got)
{
    wsc_tls13 *t = s->rec;
    *got = 0;
    while (*got < n) {
        if (s->pt_len > 0) {
            size_t k = s->pt_len < n - *got ? s->pt_len : n - *got;
            memcpy(buf + *got, s->pt, k);
            s->pt += k;
            s->pt_len -= k;
            *got += k;
            continue;
        }
        size_t have = s->rx_len - s->rx_pos;
        uint8_t *rec = s->rx ? s->rx + s->rx_pos : NULL;
        ptrdiff_t len = rec ? wsc__tls13_record_len(t, rec, have) : 0;
        if (len < 0)
            return rec_failed(s);
        if (len == 0 || (size_t)len > have) {
            if (s->rx_eof && have > 0) {
                s->end = wsc__fail(WSC_ETLS, "TLS: reading from %s failed: the connection "
                                             "ended inside a record", s->desc);
                s->end_msg = strdup(wsc_last_error());
            } else if (s->rx_eof) {
                s->end = 1; /* the end of the stream without close_notify */
            } else if (s->rx_err) {
                s->end = wsc__fail(WSC_EIO, "recv: %s", strerror(s->rx_err));
                s->end_msg = strdup(wsc_last_error());
            }
            return s->end ? s->end : WSC_EAGAIN;
        }
        size_t room = n - *got, k;
        bool direct = room >= (size_t)len - WSC_TLS13_HEADER - WSC_TLS13_TAG;
        uint8_t *out = direct ? buf + *got : rec + WSC_TLS13_HEADER;
        int kind = wsc__tls13_open(t, rec, (size_t)len, out, &k);
        s->rx_pos += (size_t)len;
        if (kind < 0)
            return rec_failed(s);
        if (t->update_due) { /* the peer asked for our KeyUpdate: it goes now */
            uint8_t *o = tx_reserve(s, WSC_TLS13_KEY_UPDATE_LEN);
            if (o)
                s->tx_len += wsc__tls13_seal_key_update(t, o);
        }
        if (kind == WSC_TLS13_GOT_CLOSE)
            return s->end = 1;
        if (kind == WSC_TLS13_GOT_DATA && direct) {
            *got += k;
        } else if (kind == WSC_TLS13_GOT_DATA) {
            s->pt = out;
            s->pt_len = k;
        }
    }
    return 0;
}

/* Receives ciphertext into rx, outside mu (the reader's own buffer; mu
 * only guards its bounds, which SSL_read moves). 0 when something came (or
 * the end, or an error, which SSL_read then reports); WSC_EAGAIN when
 * nothing is there and `wait` is false; else what waiting failed with. */
static int rx_fill(wsc_tls *s, bool wait)
{
    pthread_mutex_lock(&s->mu);
    if (!s->rx && !(s->rx = malloc(RX_CAP))) {
        pthread_mutex_unlock(&s->mu);
        return wsc__fail(WSC_ENOMEM, "TLS: out of memory for the receive buffer");
    }
    if (s->rx_pos == s->rx_len) {
        s->rx_pos = s->rx_len = 0;
    } else if (s->rx_len == RX_CAP) {
        memmove(s->rx, s->rx + s->rx_pos, s->rx_len - s->rx_pos);
        s->rx_len -= s->rx_pos;
        s->rx_pos = 0;
    }
    uint8_t *tail = s->rx + s->rx_len;
    size_t room = RX_CAP - s->rx_len;
    pthread_mutex_unlock(&s->mu);
    for (;;) {
        ssize_t n = recv(s->fd, tail, room, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait)
                return WSC_EAGAIN;
            int r = wsc__wait_fd(s->fd, POLLIN, WSC_FOREVER);
            if (r < 0)
                return r;
            continue;
        }
        pthread_mutex_lock(&s->mu);
        if (n > 0)
            s->rx_len += (size_t)n;
        else if (n == 0)
            s->rx_eof = true;
        else
            s->rx_err = errno;
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
}

/* An idle reader holds no receive buffer. [mu] */
static void rx_release(wsc_tls *s)
{
    if (s->rx && s->rx_pos == s->rx_len) {
        free(s->rx);
        s->rx = NULL;
        s->rx_pos = s->rx_len = 0;
    }
}

/* Sends what is queued, in order: what `sending` still holds, then what tx
 * gained since (taken whole under mu). With NOWAIT, what the socket does
 * not take stays queued (WSC_EAGAIN, *want POLLOUT); else it waits. 0 once
 * all went (the buffers are then freed). [tx_mu] */
static int tx_send(wsc_tls *s, int mode, short *want)
{
    for (;;) {
        if (s->sending_pos == s->sending_len) {
            pthread_mutex_lock(&s->mu);
            free(s->sending);
            s->sending = s->tx; /* the queue changes hands */
            s->sending_len = s->tx_len;
            s->sending_pos = 0;
            s->tx = NULL;
            s->tx_len = s->tx_cap = 0;
            atomic_store(&s->sending_left, s->sending_len);
            pthread_mutex_unlock(&s->mu);
            if (s->sending_len == 0)
                return 0;
        }
        if (s->tx_err)
            return wsc__fail(WSC_EIO, "TLS: sending to %s failed: %s", s->desc, strerror(s->tx_err));
        ssize_t n = send(s->fd, s->sending + s->sending_pos, s->sending_len - s->sending_pos,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            s->sending_pos += (size_t)n;
            atomic_store(&s->sending_left, s->sending_len - s->sending_pos);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            *want = POLLOUT;
            if (mode == WSC_IO_NOWAIT)
                return WSC_EAGAIN;
            int r = wsc__wait_fd(s->fd, POLLOUT, WSC_FOREVER);
            if (r < 0)
                return r;
            continue;
        }
        s->tx_err = n < 0 ? errno : EPIPE;
    }
}

static int tx_drain(wsc_tls *s, int mode, short *want)
{
    pthread_mutex_lock(&s->tx_mu);
    int r = tx_send(s, mode, want);
    pthread_mutex_unlock(&s->tx_mu);
    return r;
}

/* Output made by a reader's SSL_read (a KeyUpdate answer, say) goes out now
 * if no writer is sending, else with the writer's next send. */
static void tx_drain_try(wsc_tls *s)
{
    short want;
    if (pthread_mutex_trylock(&s->tx_mu) == 0) {
        tx_send(s, WSC_IO_NOWAIT, &want);
        pthread_mutex_unlock(&s->tx_mu);
    }
}

static ptrdiff_t tls_recv(wsc_transport *t, void *buf, size_t n, int mode, short *want)
{
    wsc_tls *s = t->state;
    size_t got = 0;
    for (;;) {
        size_t k = 0;
        pthread_mutex_lock(&s->mu);
        int st = s->end;
        if (st < 0) /* the error that ended reading */
            wsc__fail(st, "%s", s->end_msg ? s->end_msg : "TLS: reading failed");
        else if (st == 0)
            st = (s->rec ? open_some : read_some)(s, (uint8_t *)buf + got, n - got, &k);
        if (s->late && k > 0 && !SSL_has_pending(s->ssl)) {
            s->late = false; /* the tickets come before the first data */
            take_over(s);
        }
        bool output = s->tx_len > 0;
        pthread_mutex_unlock(&s->mu);
        if (output) {
            tx_drain_try(s); /* its failure must not hide the reader's */
            if (st < 0 && s->end_msg)
                wsc__fail(st, "%s", s->end_msg);
        }
        got += k;
        if (st == WSC_EAGAIN && got < n) {
            bool wait = mode == WSC_IO_ALL || (mode == WSC_IO_BLOCK && got == 0);
            st = rx_fill(s, wait);
            if (st == 0)
                continue;
        }
        if (got > 0)
            return (ptrdiff_t)got; /* an end or error shows on the next call */
        if (st == WSC_EAGAIN) {
            *want = POLLIN;
            pthread_mutex_lock(&s->mu);
            rx_release(s);
            pthread_mutex_unlock(&s->mu);
        }
        return st == 1 ? 0 : st;
    }
}

#define SMALL_PIECE 2048 /* gathered on the stack up to this size */

/* The next piece of iov for one SSL_write, at most TLS_CHUNK bytes: in place
 * when the first iovec is big enough or alone, else gathered (so that a
 * frame header and its payload make one record) into `small` (SMALL_PIECE
 * bytes, the caller's) or, larger, into *gathered, which the caller frees.
 * NULL: out of memory. */
static const uint8_t *next_piece(const struct iovec *iov, int iovcnt, size_t *len,
                                 uint8_t *small, uint8_t **gathered)
{
    *gathered = NULL;
    while (iovcnt > 1 && iov->iov_len == 0) {
        iov++;
        iovcnt--;
    }
    if (iovcnt == 1 || iov->iov_len >= TLS_CHUNK) {
        *len = iov->iov_len < TLS_CHUNK ? iov->iov_len : TLS_CHUNK;
        return iov->iov_base;
    }
    size_t want = 0;
    for (int i = 0; i < iovcnt && want < TLS_CHUNK; i++)
        want += iov[i].iov_len;
    want = want < TLS_CHUNK ? want : TLS_CHUNK;
    if (want == 0) {
        *len = 0;
        return (const uint8_t *)""; /* nothing to write, and no malloc(0) */
    }
    /* Sized to the piece and freed after it: a buffer kept for the next
     * write would stay with every idle connection that ever wrote. */
    uint8_t *buf = want <= SMALL_PIECE ? small : (*gathered = malloc(want));
    if (!buf)
        return NULL;
    size_t used = 0;
    for (int i = 0; i < iovcnt && used < want; i++) {
        size_t n = iov[i].iov_len < want - used ? iov[i].iov_len : want - used;
        memcpy(buf + used, iov[i].iov_base, n);
        used += n;
    }
    *len = used;
    return buf;
}

/* write_piece for a session we took over: seals up to TLS_CHUNK bytes of
 * iov straight into tx, no gathering. [mu] */
static ptrdiff_t seal_piece(wsc_tls *s, const struct iovec *iov, int iovcnt)
{
    size_t len = 0;
    for (int i = 0; i < iovcnt && len < TLS_CHUNK; i++)
        len += iov[i].iov_len;
    len = len < TLS_CHUNK ? len : TLS_CHUNK;
    if (len == 0)
        return 0;
    uint8_t *out = tx_reserve(s, wsc__tls13_sealed_max(len));
    if (!out)
        return wsc__fail(WSC_ENOMEM, "TLS: out of memory for the write buffer");
    size_t n = wsc__tls13_seal_data(s->rec, iov, iovcnt, 0, len, out);
    if (n == 0)
        return wsc__fail(WSC_ETLS, "TLS: writing to %s failed: the cipher failed", s->desc);
    s->tx_len += n;
    return (ptrdiff_t)len;
}

/* Encrypts the next piece of iov into tx: the bytes taken, or the error.
 * (Into memory, SSL_write takes all of it.) [mu] */
static ptrdiff_t write_piece(wsc_tls *s, const struct iovec *iov, int iovcnt)
{
    if (s->rec)
        return seal_piece(s, iov, iovcnt);
    size_t len = 0, k = 0;
    uint8_t small[SMALL_PIECE], *gathered;
    const uint8_t *p = next_piece(iov, iovcnt, &len, small, &gathered);
    if (!p)
        return wsc__fail(WSC_ENOMEM, "TLS: out of memory for the write buffer");
    if (len == 0)
        return 0;
    call_begin(s);
    int ok = SSL_write_ex(s->ssl, p, len, &k);
    free(gathered);
    if (ok)
        return (ptrdiff_t)k;
    return io_failed(s, SSL_get_error(s->ssl, 0), "writing to");
}

/* Encrypts under mu, sends outside it. With NOWAIT what the socket does not
 * take stays queued and counts as sent (tls_pending, tls_flush). */
static ptrdiff_t tls_send(wsc_transport *t, const struct iovec *iov, int iovcnt, int mode,
                          short *want)
{
    wsc_tls *s = t->state;
    pthread_mutex_lock(&s->tx_mu);
    int r = tx_send(s, mode, want); /* what earlier sends left, first */
    ptrdiff_t taken = 0;
    if (r == 0) {
        pthread_mutex_lock(&s->mu);
        taken = write_piece(s, iov, iovcnt);
        pthread_mutex_unlock(&s->mu);
        if (taken > 0 && (r = tx_send(s, mode, want)) == WSC_EAGAIN)
            r = 0; /* taken: the rest goes with the next send or flush */
    }
    pthread_mutex_unlock(&s->tx_mu);
    if (r < 0)
        return r;
    return taken;
}

static int tls_flush(wsc_transport *t, int mode, short *want)
{
    return tx_drain(t->state, mode, want);
}

static size_t tls_pending(const wsc_transport *t)
{
    wsc_tls *s = t->state;
    pthread_mutex_lock(&s->mu);
    size_t held = s->tx_len + atomic_load(&s->sending_left);
    pthread_mutex_unlock(&s->mu);
    return held;
}

/* Sends close_notify once, if the session is up, nothing else is queued or
 * being sent, and the socket takes it now: best effort, never waiting, and
 * never left queued (a writer on another thread would send it after the
 * socket is shut, and fail). */
static void close_notify(wsc_tls *s)
{
    if (pthread_mutex_trylock(&s->tx_mu) != 0)
        return; /* a writer is sending: no close_notify (it may come later) */
    pthread_mutex_lock(&s->mu);
    bool idle = !s->buffered || (s->tx_len == 0 && s->sending_pos == s->sending_len);
    /* (None after a session we took over failed: an alert ended it.) */
    bool go = !s->notified && idle && (s->rec ? s->end >= 0 : SSL_is_init_finished(s->ssl));
    s->notified = s->notified || go;
    if (go && s->rec) {
        uint8_t alert[WSC_TLS13_ALERT_LEN];
        size_t n = wsc__tls13_seal_alert(s->rec, WSC_TLS13_CLOSE_NOTIFY, alert);
        if (n && s->buffered)
            tx_append(s, (const char *)alert, (int)n);
        else if (n) {
            ssize_t sent = send(s->fd, alert, n, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)sent; /* best effort */
        }
    } else if (go) {
        call_begin(s);
        SSL_shutdown(s->ssl);
    }
    ERR_clear_error();
    pthread_mutex_unlock(&s->mu);
    if (go && s->buffered) {
        short want;
        if (tx_send(s, WSC_IO_NOWAIT, &want) != 0) { /* what did not go, goes nowhere */
            pthread_mutex_lock(&s->mu);
            s->tx_len = 0;
            pthread_mutex_unlock(&s->mu);
            s->sending_pos = s->sending_len;
            atomic_store(&s->sending_left, 0);
        }
    }
    pthread_mutex_unlock(&s->tx_mu);
}

static void tls_shutdown(wsc_transport *t)
{
    close_notify(t->state);
    shutdown(t->fd, SHUT_RDWR);
}

static void tls_release(wsc_transport *t)
{
    wsc_tls *s = t->state;
    close_notify(s);
    wsc__tls_free(s);
    t->state = NULL;
}

static void tls_destroy(wsc_transport *t)
{
    wsc__tls_free(t->state);
    t->state = NULL;
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

static const wsc_transport_ops tls_ops = {
    tls_recv, tls_send, tls_flush, tls_pending, tls_shutdown, tls_release, tls_destroy,
};

void wsc__tls_transport(wsc_transport *t, wsc_tls *s)
{
    s->buffered = true;
    t->ops = &tls_ops;
    t->fd = s->fd;
    t->state = s;
}

bool wsc__tls_resumed(const wsc_transport *t)
{
    return t->ops == &tls_ops && ((const wsc_tls *)t->state)->resumed;
}

size_t wsc__tls_buffered(const wsc_transport *t)
{
    if (t->ops != &tls_ops)
        return 0;
    const wsc_tls *s = t->state; /* rx and pt are the reader's: no lock */
    return s->rx_len - s->rx_pos + s->pt_len;
}
