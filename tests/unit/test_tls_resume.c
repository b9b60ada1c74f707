/* SPDX-License-Identifier: MIT */
/* test_tls_resume.c - TLS session resumption between our client and our
 * server: the first wss dial makes a full handshake, the next ones resume
 * (wsc_tls_did_resume on both ends), and messages of every record size
 * cross both ways afterwards (the records then continue the sequence
 * numbers of the tickets and of the reads before wsc took the session
 * over). A client with no_resumption, or facing a server with it, never
 * resumes; a session verified under other options (insecure_skip_verify)
 * is not offered. Plain connections: false. Both ends' records are taken
 * over from OpenSSL (tls13.c) in every case, resumed or not. The client's
 * context for its trust file is kept between dials, but a file replaced on
 * disk is read again. */
#include <stdlib.h>

#include <openssl/ssl.h>

#include "check.h"
#include "net.h"
#include "cert.h"
#include "native/conn.h"
#include "net/tls.h"

static const size_t sizes[] = {1, 125, 1000, 16370, 16384, 70000, 300000};

typedef struct {
    wsc_conn *c;
    bool ok;
} echoer;

/* Echoes every message until the peer closes. */
static void *echo_thread(void *arg)
{
    echoer *e = arg;
    wsc_set_read_limit(e->c, -1);
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        int r = wsc_read(e->c, 10000, &type, &data, &len);
        if (r == WSC_ECLOSED) {
            e->ok = true;
            return NULL;
        }
        if (r < 0 || wsc_write(e->c, type, data, len, 10000) < 0)
            return NULL;
    }
}

/* One wss connection: dial, echo a message of every size, close. Returns
 * whether the client and the server both say the handshake resumed (-1:
 * they disagree or the connection failed). */
static int one_conn(int lfd, int port, wsc_tls_server *srv, const wsc_tls_options *tls,
                    const char *what)
{
    wsc_accept_options aopts = {.tls = srv};
    acceptor a = {.lfd = lfd, .opts = &aopts};
    pthread_t th;
    pthread_create(&th, NULL, accept_thread, &a);
    char url[64];
    snprintf(url, sizeof url, "wss://localhost:%d/resume", port);
    wsc_dial_options dopts = {.tls = *tls};
    wsc_conn *c = NULL;
    int r = wsc_dial(url, &dopts, &c, NULL);
    pthread_join(th, NULL);
    CHECKF(r == 0 && a.r == 0, "%s: dial %s (%s), accept %s", what, wsc_strerror(r),
           wsc_last_error(), wsc_strerror(a.r));
    if (r != 0 || a.r != 0) {
        wsc_conn_free(c);
        wsc_conn_free(a.c);
        return -1;
    }
    bool client = wsc_tls_did_resume(c), server = wsc_tls_did_resume(a.c);
    CHECKF(client == server, "%s: the client says %d, the server %d", what, client, server);
    echoer e = {.c = a.c};
    pthread_create(&th, NULL, echo_thread, &e);
    wsc_set_read_limit(c, -1);
    uint8_t *buf = malloc(300000);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (size_t k = 0; k < sizes[i]; k++)
            buf[k] = (uint8_t)(k * 13 + i);
        wsc_msg_type type;
        const void *data;
        size_t len;
        CHECK_OK(wsc_write(c, WSC_BINARY, buf, sizes[i], 10000));
        r = wsc_read(c, 10000, &type, &data, &len);
        CHECKF(r == 0 && len == sizes[i] && memcmp(data, buf, len) == 0,
               "%s: a %zu-byte echo: %s (%s)", what, sizes[i], wsc_strerror(r), wsc_last_error());
    }
    free(buf);
    CHECKF(wsc__tls_records(c->tr.state) && wsc__tls_records(a.c->tr.state),
           "%s: wsc took both sessions over from OpenSSL", what);
    CHECK_OK(wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, ""));
    pthread_join(th, NULL);
    CHECKF(e.ok, "%s: the server read every message and the close", what);
    wsc_conn_free(c);
    wsc_conn_free(a.c);
    return client == server ? client : -1;
}

static wsc_tls_server *server_new(bool no_resumption)
{
    wsc_tls_options o = {.cert_file = cert_path, .key_file = key_path, .no_resumption = no_resumption};
    wsc_tls_server *srv = NULL;
    CHECK_OK(wsc_tls_server_new(&o, &srv));
    return srv;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (make_cert() < 0) {
        CHECK(0, "make a certificate");
        return check_summary("test_tls_resume");
    }
    CHECK(!wsc_tls_did_resume(NULL), "NULL: false");
    int port;
    int lfd = listen_local(&port);

    /* Plain connections never resumed anything. */
    wsc_conn *pc, *ps;
    wsc_dial_options pd = {0};
    wsc_accept_options pa = {0};
    if (make_pair(&pc, &ps, &pd, &pa)) {
        CHECK(!wsc_tls_did_resume(pc) && !wsc_tls_did_resume(ps), "plain: false");
        wsc_conn_free(pc);
        wsc_conn_free(ps);
    }

    wsc_tls_server *srv = server_new(false);
    wsc_tls_options tls = {.ca_file = cert_path};
    CHECK(one_conn(lfd, port, srv, &tls, "first") == 0, "the first connection: a full handshake");
    for (int i = 0; i < 3; i++)
        CHECKF(one_conn(lfd, port, srv, &tls, "again") == 1, "connection %d resumes", i + 2);

    /* Other trust options: the session is not offered (full handshake),
     * and the one kept for ca_file stays for it. */
    wsc_tls_options other = {.insecure_skip_verify = true};
    CHECK(one_conn(lfd, port, srv, &other, "insecure") == 0,
          "a session verified with ca_file is not offered to insecure_skip_verify");
    CHECK(one_conn(lfd, port, srv, &tls, "ca_file again") == 1, "ca_file resumes still");

    /* The client opts out. */
    wsc_tls_options off = {.ca_file = cert_path, .no_resumption = true};
    for (int i = 0; i < 2; i++)
        CHECK(one_conn(lfd, port, srv, &off, "client no_resumption") == 0,
              "a client with no_resumption makes full handshakes");

    /* The server opts out: it issues no tickets. */
    wsc_tls_server *plain_srv = server_new(true);
    wsc_tls_options fresh = {.ca_file = cert_path};
    for (int i = 0; i < 3; i++)
        CHECK(one_conn(lfd, port, plain_srv, &fresh, "server no_resumption") == 0,
              "a server with no_resumption makes full handshakes");
    wsc_tls_server_free(plain_srv);

    /* The trust file changes on disk: the next dial reads it again (the
     * cached context for the old file is not used). */
    char ca_copy[] = "/tmp/wsc-test-ca-XXXXXX";
    int fd = mkstemp(ca_copy);
    FILE *in = fopen(cert_path, "r"), *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    char pem[8192];
    size_t n = in ? fread(pem, 1, sizeof pem, in) : 0;
    CHECK(out && n > 0 && fwrite(pem, 1, n, out) == n, "copy the certificate");
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    wsc_tls_options copy = {.ca_file = ca_copy};
    CHECK(one_conn(lfd, port, srv, &copy, "the copy") >= 0, "a dial trusting the copy");
    out = fopen(ca_copy, "w");
    if (out) {
        fputs("not a certificate\n", out);
        fclose(out);
    }
    wsc_dial_options dopts = {.tls = copy};
    char url[64];
    snprintf(url, sizeof url, "wss://localhost:%d/resume", port);
    wsc_conn *c = NULL;
    int r = wsc_dial(url, &dopts, &c, NULL);
    CHECKF(r == WSC_ETLS, "the trust file replaced by garbage: %s (%s)", wsc_strerror(r), wsc_last_error());
    wsc_conn_free(c);
    unlink(ca_copy);

    wsc_tls_server_free(srv);
    close(lfd);
    unlink(cert_path);
    unlink(key_path);
    return check_summary("test_tls_resume");
}
