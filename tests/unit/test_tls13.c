/* SPDX-License-Identifier: MIT */
/* test_tls13.c - TLS 1.3 sessions taken over from OpenSSL (src/net/tls13.c)
 * against an OpenSSL peer on a socketpair, in both roles and with each of
 * the three suites: records of every size both ways (one byte to several
 * records, split over iovecs), KeyUpdate asked for and not, session tickets,
 * close_notify both ways; a TLS 1.2 session stays with OpenSSL and works;
 * damaged records from the peer end reading with a clear WSC_ETLS and the
 * alert they call for reaches the peer. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <poll.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "check.h"
#include "net/tls.h"
#include "net/tls13.h"
#include "cert.h"

static uint8_t byte_at(size_t i)
{
    return (uint8_t)(i * 7 + i / 251);
}

/* ---- the OpenSSL peer, on its own thread ------------------------------------- */

enum { PLAY_EXCHANGE, PLAY_GARBAGE, PLAY_OVERSIZE, PLAY_TRUNCATED, PLAY_PLAINTEXT };

static const size_t sizes[] = {1, 100, 16383, 16384, 16385, 70000, 0};

typedef struct {
    int fd;
    bool server;          /* the peer's role */
    const char *suites;
    int max_version;
    int play;
    size_t to_read;       /* PLAY_EXCHANGE: what we send it */
    /* results */
    bool handshake_ok, data_ok, got_close_notify;
    char read_error[200]; /* what its last SSL_read failed with */
} peer;

static bool peer_write(SSL *ssl, const uint8_t *p, size_t n)
{
    size_t k;
    return n == 0 || (SSL_write_ex(ssl, p, n, &k) && k == n);
}

static void peer_read_error(peer *p, SSL *ssl)
{
    unsigned long e = ERR_peek_last_error();
    snprintf(p->read_error, sizeof p->read_error, "%d %s", SSL_get_error(ssl, 0),
             e ? ERR_reason_error_string(e) : "");
}

static void *peer_main(void *arg)
{
    peer *p = arg;
    SSL_CTX *ctx = SSL_CTX_new(p->server ? TLS_server_method() : TLS_client_method());
    SSL_CTX_set_ciphersuites(ctx, p->suites);
    SSL_CTX_set_max_proto_version(ctx, p->max_version);
    if (p->server) {
        SSL_CTX_use_certificate_file(ctx, cert_path, SSL_FILETYPE_PEM);
        SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM);
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, p->fd);
    p->handshake_ok = (p->server ? SSL_accept(ssl) : SSL_connect(ssl)) == 1;
    if (!p->handshake_ok)
        goto out;
    static const uint8_t garbage[] = {23, 3, 3, 0, 40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                      14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
                                      29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40};
    static const uint8_t oversize[] = {23, 3, 3, 0xff, 0xff};
    static const uint8_t truncated[] = {23, 3, 3, 0, 100, 1, 2, 3, 4, 5};
    static const uint8_t plaintext[] = {22, 3, 3, 0, 4, 24, 0, 0, 0};
    switch (p->play) {
    case PLAY_GARBAGE:
        p->data_ok = write(p->fd, garbage, sizeof garbage) == (ssize_t)sizeof garbage;
        break;
    case PLAY_OVERSIZE:
        p->data_ok = write(p->fd, oversize, sizeof oversize) == (ssize_t)sizeof oversize;
        break;
    case PLAY_TRUNCATED:
        p->data_ok = write(p->fd, truncated, sizeof truncated) == (ssize_t)sizeof truncated;
        shutdown(p->fd, SHUT_WR);
        break;
    case PLAY_PLAINTEXT:
        p->data_ok = write(p->fd, plaintext, sizeof plaintext) == (ssize_t)sizeof plaintext;
        break;
    case PLAY_EXCHANGE: {
        /* records of every size, a KeyUpdate asking for ours, more data */
        bool ok = true;
        uint8_t *buf = malloc(1 << 20);
        for (int i = 0; sizes[i]; i++) {
            for (size_t j = 0; j < sizes[i]; j++)
                buf[j] = byte_at(j);
            ok = ok && peer_write(ssl, buf, sizes[i]);
        }
        bool tls13 = SSL_version(ssl) == TLS1_3_VERSION;
        ok = ok && (!tls13 || SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED)) && peer_write(ssl, (const uint8_t *)"after", 5);
        /* what we send it, after our KeyUpdate */
        size_t got = 0, k;
        while (ok && got < p->to_read) {
            if (!SSL_read_ex(ssl, buf, 1 << 20, &k)) {
                peer_read_error(p, ssl);
                ok = false;
                break;
            }
            for (size_t j = 0; j < k; j++)
                ok = ok && buf[j] == byte_at(got + j);
            got += k;
        }
        ok = ok && (!tls13 || SSL_key_update(ssl, SSL_KEY_UPDATE_NOT_REQUESTED)) && peer_write(ssl, (const uint8_t *)"again", 5);
        /* then our close_notify */
        if (ok && !SSL_read_ex(ssl, buf, 1 << 20, &k))
            p->got_close_notify = SSL_get_error(ssl, 0) == SSL_ERROR_ZERO_RETURN;
        SSL_shutdown(ssl);
        p->data_ok = ok;
        free(buf);
        break;
    }
    }
    if (p->play != PLAY_EXCHANGE) { /* the alert we answered with */
        uint8_t b[64];
        size_t k;
        if (!SSL_read_ex(ssl, b, sizeof b, &k))
            peer_read_error(p, ssl);
    }
out:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return NULL;
}

/* ---- our end --------------------------------------------------------------- */

static wsc_tls_server *g_srv;

/* Our session on fd, its handshake done; NULL on failure. A client that
 * resumes sessions (late) takes its records over only after its first
 * read; else at once. */
static wsc_tls *our_handshake(bool server, int fd, bool late)
{
    wsc_tls *s = NULL;
    wsc_tls_options o = {.insecure_skip_verify = true, .no_resumption = !late};
    int r = server ? wsc__tls_server_session(g_srv, fd, NULL, 0, &s)
                   : wsc__tls_client_new(&o, "localhost", "localhost:443", &s);
    if (r < 0)
        return NULL;
    short want;
    while ((r = wsc__tls_handshake(s, fd, &want)) == WSC_EAGAIN) {
        struct pollfd pfd = {fd, want, 0};
        poll(&pfd, 1, 10000);
    }
    if (r < 0) {
        CHECKF(0, "handshake: %s", wsc_last_error());
        wsc__tls_free(s);
        return NULL;
    }
    return s;
}

static void run_exchange(bool server, const char *suites, int max_version, bool expect_ours,
                         bool late)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    uint8_t *big = malloc(300000);
    size_t big_len = 300000;
    for (size_t j = 0; j < big_len; j++)
        big[j] = byte_at(j);
    peer p = {.fd = sv[1], .server = !server, .suites = suites, .max_version = max_version,
              .play = PLAY_EXCHANGE, .to_read = big_len};
    pthread_t th;
    pthread_create(&th, NULL, peer_main, &p);
    wsc_tls *s = our_handshake(server, sv[0], late);
    CHECKF(s != NULL, "%s %s: handshake", server ? "server" : "client", suites);
    if (s) {
        const wsc_tls13 *rec = wsc__tls_records(s);
        CHECKF(late || (rec != NULL) == expect_ours, "%s %s: records %s", server ? "server" : "client",
               suites, expect_ours ? "ours" : "OpenSSL's");
        uint64_t rd_id = rec ? rec->rd.id : 0, wr_id = rec ? rec->wr.id : 0;
        wsc_transport t;
        wsc__tcp_transport(&t, sv[0]);
        wsc__tls_transport(&t, s);
        size_t total = 5;
        for (int i = 0; sizes[i]; i++)
            total += sizes[i];
        uint8_t *in = malloc(total);
        size_t got = 0;
        while (got < total) { /* small and large reads, to split records */
            size_t want = got % 3 ? 7 : total - got;
            ptrdiff_t n = wsc__transport_recv(&t, in + got, want < total - got ? want : total - got,
                                             WSC_FOREVER, false);
            if (n <= 0) {
                CHECKF(0, "recv: %td %s", n, wsc_last_error());
                break;
            }
            got += (size_t)n;
        }
        bool same = got == total && memcmp(in + total - 5, "after", 5) == 0;
        size_t at = 0;
        for (int i = 0; same && sizes[i]; at += sizes[i], i++)
            for (size_t j = 0; j < sizes[i]; j++)
                same = same && in[at + j] == byte_at(j);
        CHECKF(same, "%s %s: %zu bytes in, in order", server ? "server" : "client", suites, total);
        /* out: a header and a payload in two iovecs, as frames go */
        struct iovec iov[3] = {{big, 3}, {big + 3, 100000}, {big + 100003, big_len - 100003}};
        size_t sent = 0;
        int r = wsc__transport_send_all(&t, iov, 3, WSC_FOREVER, &sent);
        CHECKF(r == 0 && sent == big_len, "send: %d %s", r, r ? wsc_last_error() : "");
        uint8_t again[5];
        got = 0;
        while (got < 5) {
            ptrdiff_t n = wsc__transport_recv(&t, again + got, 5 - got, WSC_FOREVER, false);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        CHECKF(got == 5 && memcmp(again, "again", 5) == 0, "%s %s: data after the peer's second KeyUpdate",
               server ? "server" : "client", suites);
        if (rec) { /* the peer's two KeyUpdates moved its key twice, ours once */
            CHECKF(rec->rd.id > rd_id + 1 && rec->rd.id != 0, "%s %s: the peer's key moved", server ? "server" : "client", suites);
            CHECKF(rec->wr.id > wr_id && !rec->update_due, "%s %s: our KeyUpdate went out", server ? "server" : "client", suites);
            CHECKF(rec->rd.seq == 1 && rec->wr.seq == (big_len + 16383) / 16384, "%s %s: sequence numbers %llu %llu",
                   server ? "server" : "client", suites, (unsigned long long)rec->rd.seq, (unsigned long long)rec->wr.seq);
        }
        t.ops->shutdown(&t); /* our close_notify */
        t.ops->destroy(&t);
        free(in);
    } else {
        close(sv[0]);
    }
    pthread_join(th, NULL);
    CHECKF(p.handshake_ok && p.data_ok, "%s %s: the peer read all of ours (%s)",
           server ? "server" : "client", suites, p.read_error);
    CHECKF(p.got_close_notify, "%s %s: the peer got our close_notify", server ? "server" : "client", suites);
    close(sv[1]);
    free(big);
}

/* The peer damages the stream after the handshake: reading fails with
 * WSC_ETLS saying `why`; the peer reads our alert `alert` (or none). */
static void run_damage(bool server, int play, const char *why, const char *alert)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    peer p = {.fd = sv[1], .server = !server, .suites = "TLS_AES_128_GCM_SHA256",
              .max_version = TLS1_3_VERSION, .play = play};
    pthread_t th;
    pthread_create(&th, NULL, peer_main, &p);
    wsc_tls *s = our_handshake(server, sv[0], false);
    if (s) {
        wsc_transport t;
        wsc__tcp_transport(&t, sv[0]);
        wsc__tls_transport(&t, s);
        uint8_t buf[100];
        ptrdiff_t n = wsc__transport_recv(&t, buf, sizeof buf, WSC_FOREVER, false);
        CHECKF(n == WSC_ETLS && strstr(wsc_last_error(), why), "%s: %td %s", why, n, wsc_last_error());
        n = wsc__transport_recv(&t, buf, sizeof buf, WSC_FOREVER, false);
        CHECKF(n == WSC_ETLS, "%s: reading stays failed", why);
        t.ops->shutdown(&t);
        t.ops->destroy(&t);
    } else {
        CHECK(0, "handshake");
        close(sv[0]);
    }
    pthread_join(th, NULL);
    CHECKF(alert ? strstr(p.read_error, alert) != NULL : true, "%s: the peer got alert %s (%s)", why,
           alert ? alert : "none", p.read_error);
    close(sv[1]);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the peer may write to a socket we closed */
    if (make_cert() < 0) {
        fprintf(stderr, "test_tls13: cannot make a certificate\n");
        return 1;
    }
    wsc_tls_options so = {.cert_file = cert_path, .key_file = key_path};
    if (wsc_tls_server_new(&so, &g_srv) != 0) {
        fprintf(stderr, "test_tls13: %s\n", wsc_last_error());
        return 1;
    }
    static const char *suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256"};
    for (int server = 0; server < 2; server++) {
        for (int i = 0; i < 3; i++)
            run_exchange(server, suites[i], TLS1_3_VERSION, true, false);
        run_exchange(server, suites[0], TLS1_2_VERSION, false, false);
        /* a client taking over late, whatever the peer's tickets and
         * KeyUpdate before its first read: every byte in order */
        if (!server)
            for (int i = 0; i < 3; i++)
                run_exchange(server, suites[i], TLS1_3_VERSION, true, true);
        run_damage(server, PLAY_GARBAGE, "failed authentication", "bad record mac");
        run_damage(server, PLAY_OVERSIZE, "longer than TLS allows", "record overflow");
        run_damage(server, PLAY_TRUNCATED, "ended inside a record", NULL);
        run_damage(server, PLAY_PLAINTEXT, "unprotected record", "unexpected message");
    }
    wsc_tls_server_free(g_srv);
    unlink(cert_path);
    unlink(key_path);
    return check_summary("test_tls13");
}
