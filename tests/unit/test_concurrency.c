/* SPDX-License-Identifier: MIT */
/* test_concurrency.c - the public API over real sockets, in one process: an
 * in-process server (127.0.0.1, ephemeral port, wsc_accept on a thread) and
 * clients made with wsc_dial, or with a raw socket where exact bytes matter.
 *
 *   a  8 writer threads x 1000 messages (1..3000 bytes, some via the writer
 *      API in 3 pieces) arrive whole, intact and in order per writer
 *   b  wsc_close_now on another thread unblocks a wsc_read(-1) within 1 s
 *   c  read timeouts keep the connection usable, also in mid-message and
 *      mid-header
 *   d  wsc_ping while another thread is blocked reading gets its pong
 *   e  close handshakes both ways, codes and reasons on both sides
 *   f  1000 dial/echo/close cycles (run under ASan: LeakSanitizer checks them)
 *   g  non-blocking dial driven by wsc_get_state; timeout-0 reads
 *   h  wsc_stream_open and wsc_stream_fd
 *   i  a read after a failed one fails too (read limit exceeded)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wsc.h"
#include "check.h"
#include "net.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define HAVE_LSAN 1
#endif

/* Reads one message and compares it. */
static bool read_is(wsc_conn *c, int timeout_ms, wsc_msg_type want_type, const void *want, size_t want_len)
{
    wsc_msg_type type;
    const void *data;
    size_t len;
    int r = wsc_read(c, timeout_ms, &type, &data, &len);
    if (r != 0) {
        fprintf(stderr, "  read failed: %s (%s)\n", wsc_strerror(r), wsc_last_error());
        return false;
    }
    if (type != want_type || len != want_len || memcmp(data, want, len) != 0) {
        fprintf(stderr, "  read %s of %zu bytes, wanted %s of %zu\n", wsc_msg_type_string(type), len,
                wsc_msg_type_string(want_type), want_len);
        return false;
    }
    return true;
}

/* Echoes every message until a read fails; returns that error. */
static int echo_loop(wsc_conn *c)
{
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        int r = wsc_read(c, 10000, &type, &data, &len);
        if (r < 0)
            return r;
        r = wsc_write(c, type, data, len, 10000);
        if (r < 0)
            return r;
    }
}

/* ---- A raw client: exact bytes on the wire ------------------------------- */

/* Connects, sends an upgrade request, reads the 101 head. -1 on failure. */
static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static const char req[] = "GET /raw HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";
    if (send_bytes(fd, req, sizeof req - 1) < 0) {
        close(fd);
        return -1;
    }
    char head[1024];
    recv_head(fd, head, sizeof head, 5000);
    if (strncmp(head, "HTTP/1.1 101 ", 13) != 0 ||
        !strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n")) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A masked client frame with a 7- or 16-bit length into out; returns its size. */
static size_t raw_frame(uint8_t *out, uint8_t first, const void *payload, size_t len)
{
    static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
    size_t n = 0;
    out[n++] = first;
    if (len < 126) {
        out[n++] = (uint8_t)(0x80 | len);
    } else {
        out[n++] = 0x80 | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    }
    memcpy(out + n, key, 4);
    n += 4;
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++)
        out[n + i] = p[i] ^ key[i & 3];
    return n + len;
}

typedef struct {
    int lfd, port;
    pthread_t th;
    acceptor a;
    int fd;
} raw_pair;

/* A server connection (wsc_accept) and a raw client socket. */
static bool raw_pair_open(raw_pair *rp)
{
    memset(rp, 0, sizeof *rp);
    rp->fd = -1;
    rp->lfd = listen_local(&rp->port);
    if (rp->lfd < 0)
        return false;
    rp->a.lfd = rp->lfd;
    pthread_create(&rp->th, NULL, accept_thread, &rp->a);
    rp->fd = raw_connect(rp->port);
    pthread_join(rp->th, NULL);
    close(rp->lfd);
    if (rp->fd < 0 || rp->a.r != 0) {
        CHECK(0, "raw client connected and upgraded");
        if (rp->fd >= 0)
            close(rp->fd);
        wsc_conn_free(rp->a.c);
        return false;
    }
    return true;
}

/* ---- (a) 8 writers x 1000 messages ---------------------------------------- */

#define WRITERS 8
#define PER_WRITER 1000

static size_t msg_size(int id, int seq)
{
    return 1 + ((uint32_t)seq * 2654435761u + (uint32_t)id * 40503u) % 3000;
}

static bool msg_text(int id, int seq)
{
    return (seq + id) % 7 == 0;
}

static bool msg_pieces(int id, int seq)
{
    return (seq + 2 * id) % 5 == 0;
}

/* Byte i: the writer id, then the sequence number, then a pattern of both. */
static uint8_t msg_byte(int id, int seq, size_t i)
{
    uint8_t b;
    if (i == 0)
        b = (uint8_t)id;
    else if (i <= 4)
        b = (uint8_t)((uint32_t)seq >> (8 * (i - 1)));
    else
        b = (uint8_t)(seq * 31 + (int)i * 7 + id * 13);
    return msg_text(id, seq) ? (uint8_t)(b & 0x7F) : b; /* ASCII is valid UTF-8 */
}

typedef struct {
    wsc_conn *c;
    int id;
    int errors;
    char first_error[200];
} writer_arg;

static void *writer_thread(void *arg)
{
    writer_arg *w = arg;
    uint8_t buf[3000];
    for (int seq = 0; seq < PER_WRITER; seq++) {
        size_t n = msg_size(w->id, seq);
        for (size_t i = 0; i < n; i++)
            buf[i] = msg_byte(w->id, seq, i);
        wsc_msg_type type = msg_text(w->id, seq) ? WSC_TEXT : WSC_BINARY;
        int r;
        if (msg_pieces(w->id, seq) && n >= 3) {
            size_t a = n / 3, b = n / 3;
            r = wsc_writer_begin(w->c, type, 10000);
            if (r == 0)
                r = wsc_writer_write(w->c, buf, a);
            if (r == 0)
                r = wsc_writer_write(w->c, buf + a, b);
            if (r == 0)
                r = wsc_writer_write(w->c, buf + a + b, n - a - b);
            if (r == 0)
                r = wsc_writer_end(w->c);
        } else {
            r = wsc_write(w->c, type, buf, n, 10000);
        }
        if (r != 0 && w->errors++ == 0)
            snprintf(w->first_error, sizeof w->first_error, "writer %d message %d: %s (%s)", w->id, seq,
                     wsc_strerror(r), wsc_last_error());
    }
    return NULL;
}

static void test_a_writers(void)
{
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    writer_arg w[WRITERS];
    pthread_t th[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer_arg){.c = cl, .id = i};
        pthread_create(&th[i], NULL, writer_thread, &w[i]);
    }
    int next[WRITERS] = {0};
    int got = 0, bad = 0;
    char first_bad[300] = "";
    for (; got < WRITERS * PER_WRITER; got++) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        int r = wsc_read(sv, 10000, &type, &data, &len);
        if (r != 0) {
            snprintf(first_bad + strlen(first_bad), sizeof first_bad - strlen(first_bad),
                     " read %d failed: %s (%s)", got, wsc_strerror(r), wsc_last_error());
            break;
        }
        const uint8_t *p = data;
        int id = len ? p[0] : -1;
        if (id < 0 || id >= WRITERS || next[id] >= PER_WRITER) {
            if (bad++ == 0)
                snprintf(first_bad, sizeof first_bad, "message %d: unknown writer %d (len %zu)", got, id, len);
            continue;
        }
        int seq = next[id]++;
        size_t want = msg_size(id, seq);
        bool ok = len == want && type == (msg_text(id, seq) ? WSC_TEXT : WSC_BINARY);
        for (size_t i = 0; ok && i < len; i++)
            ok = p[i] == msg_byte(id, seq, i);
        if (!ok && bad++ == 0)
            snprintf(first_bad, sizeof first_bad,
                     "message %d from writer %d: expected #%d (%zu bytes %s), got %zu bytes %s", got, id, seq,
                     want, msg_text(id, seq) ? "text" : "binary", len, wsc_msg_type_string(type));
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        CHECKF(w[i].errors == 0, "(a) writer %d: %d failed writes, first: %s", i, w[i].errors, w[i].first_error);
    }
    CHECKF(got == WRITERS * PER_WRITER, "(a) read %d of %d messages:%s", got, WRITERS * PER_WRITER, first_bad);
    CHECKF(bad == 0, "(a) %d messages broken, out of order or unknown; first: %s", bad, first_bad);
    for (int i = 0; i < WRITERS; i++)
        CHECKF(next[i] == PER_WRITER, "(a) writer %d: %d of %d messages arrived", i, next[i], PER_WRITER);
    CHECK_OK(wsc_close_now(cl));
    wsc_conn_free(cl);
    wsc_conn_free(sv);
}

/* ---- (b) wsc_close_now unblocks a reader --------------------------------- */

typedef struct {
    wsc_conn *c;
    int timeout;
    int r;
    wsc_msg_type type;
    size_t len;
    char data[256];
    int64_t done_at;
    atomic_int done;
} reader_arg;

static void *reader_thread(void *arg)
{
    reader_arg *ra = arg;
    const void *data;
    ra->r = wsc_read(ra->c, ra->timeout, &ra->type, &data, &ra->len);
    if (ra->r == 0)
        snprintf(ra->data, sizeof ra->data, "%.*s", (int)(ra->len < 255 ? ra->len : 255), (const char *)data);
    ra->done_at = now_ms();
    atomic_store(&ra->done, 1);
    return NULL;
}

/* Waits up to ms for the reader to finish; true if it did. */
static bool reader_wait(reader_arg *ra, int ms)
{
    int64_t end = now_ms() + ms;
    while (!atomic_load(&ra->done) && now_ms() < end)
        sleep_ms(1);
    return atomic_load(&ra->done) != 0;
}

static void test_b_close_now(void)
{
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    reader_arg ra = {.c = sv, .timeout = -1};
    pthread_t th;
    pthread_create(&th, NULL, reader_thread, &ra);
    sleep_ms(150);
    CHECK(!atomic_load(&ra.done), "(b) the reader is blocked in wsc_read(-1)");
    int64_t t0 = now_ms();
    CHECK_OK(wsc_close_now(sv));
    bool done = reader_wait(&ra, 3000);
    CHECK(done, "(b) wsc_close_now unblocked the reader");
    if (!done) {
        fprintf(stderr, "test_concurrency: reader stuck after wsc_close_now, giving up\n");
        exit(1);
    }
    pthread_join(th, NULL);
    CHECKF(ra.done_at - t0 < 1000, "(b) the reader returned %lld ms after wsc_close_now (< 1000)",
           (long long)(ra.done_at - t0));
    CHECKF(ra.r == WSC_ECLOSED, "(b) the blocked read returned %s, expected WSC_ECLOSED", wsc_strerror(ra.r));
    CHECK(wsc_close_now(sv) == WSC_ECLOSED, "(b) a second wsc_close_now returns WSC_ECLOSED");
    CHECK(wsc_get_state(sv) == WSC_STATE_CLOSED, "(b) state CLOSED after wsc_close_now");
    CHECK(wsc_write(sv, WSC_TEXT, "x", 1, 100) == WSC_ECLOSED, "(b) write after wsc_close_now: WSC_ECLOSED");
    wsc_msg_type t;
    const void *d;
    size_t l;
    CHECK(wsc_read(sv, 100, &t, &d, &l) == WSC_ECLOSED, "(b) read after wsc_close_now: WSC_ECLOSED");
    CHECK(wsc_close_status(sv) == -1, "(b) no close frame: status -1");
    /* The client sees the TCP connection end without a close frame. */
    int r = wsc_read(cl, 2000, &t, &d, &l);
    CHECKF(r == WSC_ECLOSED, "(b) client read after the abrupt end: %s, expected WSC_ECLOSED", wsc_strerror(r));
    CHECK(wsc_close_status(cl) == -1, "(b) client: no close frame, status -1");
    wsc_conn_free(cl);
    wsc_conn_free(sv);

    /* The same with the client reading and closing itself. */
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    reader_arg rb = {.c = cl, .timeout = -1};
    pthread_create(&th, NULL, reader_thread, &rb);
    sleep_ms(50);
    t0 = now_ms();
    CHECK_OK(wsc_close_now(cl));
    done = reader_wait(&rb, 3000);
    CHECK(done, "(b) client: wsc_close_now unblocked the reader");
    if (!done)
        exit(1);
    pthread_join(th, NULL);
    CHECKF(rb.done_at - t0 < 1000 && rb.r == WSC_ECLOSED, "(b) client reader: %s after %lld ms",
           wsc_strerror(rb.r), (long long)(rb.done_at - t0));
    wsc_conn_free(cl);
    wsc_conn_free(sv);
}

/* ---- (c) timeouts --------------------------------------------------------- */

typedef struct {
    wsc_conn *c;
    int r;
} halves_arg;

static void *halves_writer(void *arg)
{
    halves_arg *h = arg;
    h->r = wsc_writer_begin(h->c, WSC_BINARY, 5000);
    if (!h->r)
        h->r = wsc_writer_write(h->c, "first half|", 11);
    sleep_ms(200);
    if (!h->r)
        h->r = wsc_writer_write(h->c, "second half", 11);
    if (!h->r)
        h->r = wsc_writer_end(h->c);
    return NULL;
}

/* Reads with 50 ms timeouts until a message arrives; counts the timeouts. */
static int read_patiently(wsc_conn *c, int *timeouts, wsc_msg_type *type, const void **data, size_t *len)
{
    *timeouts = 0;
    int64_t end = now_ms() + 5000;
    for (;;) {
        int r = wsc_read(c, 50, type, data, len);
        if (r != WSC_ETIMEDOUT || now_ms() > end)
            return r;
        (*timeouts)++;
    }
}

static void test_c_timeouts(void)
{
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    wsc_msg_type type;
    const void *data;
    size_t len;
    int64_t t0 = now_ms();
    int r = wsc_read(sv, 50, &type, &data, &len);
    int64_t took = now_ms() - t0;
    CHECKF(r == WSC_ETIMEDOUT, "(c) idle read with timeout 50: %s, expected WSC_ETIMEDOUT", wsc_strerror(r));
    CHECKF(took >= 45 && took < 1000, "(c) the 50 ms timeout took %lld ms", (long long)took);
    CHECK(wsc_get_state(sv) == WSC_STATE_OPEN, "(c) still open after a timeout");
    /* It still works: echo. */
    CHECK_OK(wsc_write(cl, WSC_TEXT, "after the timeout", 17, 1000));
    CHECK(read_is(sv, 1000, WSC_TEXT, "after the timeout", 17), "(c) server reads after its timeout");
    CHECK_OK(wsc_write(sv, WSC_TEXT, "echo", 4, 1000));
    CHECK(read_is(cl, 1000, WSC_TEXT, "echo", 4), "(c) client reads the echo");

    /* A message written in two halves 200 ms apart (two frames). */
    halves_arg h = {.c = cl};
    pthread_t th;
    pthread_create(&th, NULL, halves_writer, &h);
    int timeouts;
    r = read_patiently(sv, &timeouts, &type, &data, &len);
    pthread_join(th, NULL);
    CHECK_OK(h.r);
    CHECKF(r == 0 && type == WSC_BINARY && len == 22 && memcmp(data, "first half|second half", 22) == 0,
           "(c) two halves 200 ms apart arrive whole (r %s, len %zu)", wsc_strerror(r), r == 0 ? len : 0);
    CHECKF(timeouts >= 2, "(c) the 50 ms reads timed out %d times in between (>= 2)", timeouts);
    CHECK_OK(wsc_close_now(cl));
    wsc_conn_free(cl);
    wsc_conn_free(sv);

    /* Exact splits of one frame: mid-header, mid-length, mid-payload. */
    raw_pair rp;
    if (!raw_pair_open(&rp))
        return;
    static const struct {
        size_t len;
        size_t cut1, cut2;
        const char *where;
    } splits[] = {
        {20, 1, 10, "after the first header byte, then mid-payload"},
        {300, 3, 150, "between the two bytes of a 16-bit length, then mid-payload"},
        {300, 6, 8, "inside the masking key, then two bytes into the payload"},
    };
    for (size_t s = 0; s < sizeof splits / sizeof splits[0]; s++) {
        uint8_t payload[300], wire[320];
        for (size_t i = 0; i < splits[s].len; i++)
            payload[i] = (uint8_t)('a' + (i + s) % 26);
        size_t n = raw_frame(wire, 0x81, payload, splits[s].len);
        send_bytes(rp.fd, wire, splits[s].cut1);
        int total_timeouts = 0;
        /* First read: must time out with the partial frame in. */
        r = wsc_read(rp.a.c, 50, &type, &data, &len);
        CHECKF(r == WSC_ETIMEDOUT, "(c) partial frame (%s): first read %s", splits[s].where, wsc_strerror(r));
        sleep_ms(100);
        send_bytes(rp.fd, wire + splits[s].cut1, splits[s].cut2 - splits[s].cut1);
        r = wsc_read(rp.a.c, 50, &type, &data, &len);
        CHECKF(r == WSC_ETIMEDOUT, "(c) partial frame (%s): second read %s", splits[s].where, wsc_strerror(r));
        sleep_ms(100);
        send_bytes(rp.fd, wire + splits[s].cut2, n - splits[s].cut2);
        r = read_patiently(rp.a.c, &total_timeouts, &type, &data, &len);
        CHECKF(r == 0 && type == WSC_TEXT && len == splits[s].len && memcmp(data, payload, len) == 0,
               "(c) frame split %s arrives whole (r %s)", splits[s].where, wsc_strerror(r));
    }
    close(rp.fd);
    wsc_conn_free(rp.a.c);
}

/* ---- (d) ping while another thread reads ---------------------------------- */

typedef struct {
    wsc_conn *c;
    int n;
    int ok;
    int last_err;
} pinger_arg;

static void *pinger_thread(void *arg)
{
    pinger_arg *p = arg;
    for (int i = 0; i < p->n; i++) {
        int r = wsc_ping(p->c, 3000);
        if (r == 0)
            p->ok++;
        else
            p->last_err = r;
    }
    return NULL;
}

static atomic_int pongs_seen;

static void count_pong(void *user, const void *payload, size_t len)
{
    (void)user;
    (void)payload;
    (void)len;
    atomic_fetch_add(&pongs_seen, 1);
}

typedef struct {
    wsc_conn *c;
    int r;
} echo_arg;

static void *echo_thread(void *arg)
{
    echo_arg *e = arg;
    e->r = echo_loop(e->c);
    return NULL;
}

static void test_d_ping(void)
{
    wsc_dial_options dopts = {.on_pong = count_pong};
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, &dopts, NULL))
        return;
    /* Nobody reads the client: its ping cannot get an answer. */
    int r = wsc_ping(cl, 100);
    CHECKF(r == WSC_ETIMEDOUT, "(d) ping without a reader times out (%s)", wsc_strerror(r));

    /* The server echoes (and so answers pings); a client thread blocks reading. */
    echo_arg e = {.c = sv};
    pthread_t eth, rth;
    pthread_create(&eth, NULL, echo_thread, &e);
    reader_arg ra = {.c = cl, .timeout = -1};
    pthread_create(&rth, NULL, reader_thread, &ra);
    sleep_ms(20);
    atomic_store(&pongs_seen, 0);
    CHECK_OK(wsc_ping(cl, 3000));
    CHECK(!atomic_load(&ra.done), "(d) the reader is still blocked after the pong");

    /* Several pinging threads at once. */
    pinger_arg p[4];
    pthread_t pth[4];
    for (int i = 0; i < 4; i++) {
        p[i] = (pinger_arg){.c = cl, .n = 10};
        pthread_create(&pth[i], NULL, pinger_thread, &p[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(pth[i], NULL);
        CHECKF(p[i].ok == 10, "(d) pinger %d: %d of 10 pongs (last error %s)", i, p[i].ok,
               wsc_strerror(p[i].last_err));
    }
    CHECKF(atomic_load(&pongs_seen) >= 41, "(d) on_pong saw %d pongs (>= 41)", atomic_load(&pongs_seen));

    /* A message still reaches the blocked reader. */
    CHECK_OK(wsc_write(cl, WSC_TEXT, "wake up", 7, 1000));
    CHECK(reader_wait(&ra, 3000), "(d) the reader gets the echo");
    pthread_join(rth, NULL);
    CHECK(ra.r == 0 && ra.len == 7 && memcmp(ra.data, "wake up", 7) == 0, "(d) the echo is right");

    /* And the server pings while its echo thread is blocked reading. */
    reader_arg rc = {.c = cl, .timeout = 5000};
    pthread_create(&rth, NULL, reader_thread, &rc); /* the client must read to answer */
    CHECK_OK(wsc_ping(sv, 3000));
    CHECK_OK(wsc_write(sv, WSC_BINARY, "bye", 3, 1000));
    CHECK(reader_wait(&rc, 5000), "(d) client reader finished");
    pthread_join(rth, NULL);
    CHECK(rc.r == 0 && rc.len == 3, "(d) client got the server's message after answering its ping");

    CHECK_OK(wsc_close(cl, 1000, ""));
    pthread_join(eth, NULL);
    CHECKF(e.r == WSC_ECLOSED, "(d) echo loop ended with %s", wsc_strerror(e.r));
    wsc_conn_free(cl);
    wsc_conn_free(sv);

    /* wsc_close_read: a background thread reads, so pings work without a
     * reader of ours; a data message then closes with 1008. */
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    e = (echo_arg){.c = sv};
    pthread_create(&eth, NULL, echo_thread, &e);
    CHECK_OK(wsc_close_read(cl));
    CHECK(wsc_close_read(cl) == WSC_EINVAL, "(d) wsc_close_read twice: WSC_EINVAL");
    CHECK_OK(wsc_ping(cl, 3000));
    wsc_msg_type t;
    const void *d;
    size_t l;
    CHECK(wsc_read(cl, 100, &t, &d, &l) == WSC_EINVAL, "(d) wsc_read after wsc_close_read: WSC_EINVAL");
    CHECK_OK(wsc_write(cl, WSC_TEXT, "echo me", 7, 1000)); /* the echo is a data message */
    pthread_join(eth, NULL);
    CHECKF(e.r == WSC_ECLOSED && wsc_close_status(sv) == 1008,
           "(d) a data message after wsc_close_read closes with 1008 (server: %s, status %d)", wsc_strerror(e.r),
           wsc_close_status(sv));
    wsc_conn_free(cl);
    wsc_conn_free(sv);
}

/* ---- (e) close handshakes ------------------------------------------------- */

typedef struct {
    wsc_conn *c;
    int code;
    const char *reason;
    int r;
} closer_arg;

static void *closer_thread(void *arg)
{
    closer_arg *a = arg;
    a->r = wsc_close(a->c, a->code, a->reason);
    return NULL;
}

static void test_e_close(void)
{
    wsc_conn *cl, *sv;
    /* Client closes; the server is blocked reading. */
    if (make_pair(&cl, &sv, NULL, NULL)) {
        reader_arg ra = {.c = sv, .timeout = -1};
        pthread_t th;
        pthread_create(&th, NULL, reader_thread, &ra);
        sleep_ms(20);
        int r = wsc_close(cl, 4001, "client says bye");
        CHECKF(r == 0, "(e) client wsc_close: %s (%s)", wsc_strerror(r), wsc_last_error());
        CHECK(reader_wait(&ra, 3000), "(e) the server reader returned");
        pthread_join(th, NULL);
        CHECKF(ra.r == WSC_ECLOSED, "(e) server read: %s, expected WSC_ECLOSED", wsc_strerror(ra.r));
        CHECKF(wsc_close_status(sv) == 4001, "(e) server sees code %d, expected 4001", wsc_close_status(sv));
        CHECKF(strcmp(wsc_close_reason(sv), "client says bye") == 0, "(e) server sees reason \"%s\"",
               wsc_close_reason(sv));
        CHECKF(wsc_close_status(cl) == 4001, "(e) client sees the echoed code %d, expected 4001",
               wsc_close_status(cl));
        CHECK(wsc_get_state(cl) == WSC_STATE_CLOSED && wsc_get_state(sv) == WSC_STATE_CLOSED,
              "(e) both CLOSED");
        CHECK(wsc_close(cl, 1000, "") == WSC_ECLOSED, "(e) closing twice: WSC_ECLOSED");
        CHECK(wsc_close(sv, 1000, "") == WSC_ECLOSED, "(e) closing the closed side: WSC_ECLOSED");
        CHECK(wsc_write(cl, WSC_TEXT, "x", 1, 100) == WSC_ECLOSED, "(e) write after close: WSC_ECLOSED");
        CHECK(wsc_ping(cl, 100) < 0, "(e) ping after close fails");
        wsc_conn_free(cl);
        wsc_conn_free(sv);
    }
    /* Server closes; the client is blocked reading. */
    if (make_pair(&cl, &sv, NULL, NULL)) {
        reader_arg ra = {.c = cl, .timeout = -1};
        pthread_t th;
        pthread_create(&th, NULL, reader_thread, &ra);
        sleep_ms(20);
        const char *reason = "server going away \xc3\xa9"; /* UTF-8 */
        int r = wsc_close(sv, WSC_STATUS_GOING_AWAY, reason);
        CHECKF(r == 0, "(e) server wsc_close: %s (%s)", wsc_strerror(r), wsc_last_error());
        CHECK(reader_wait(&ra, 3000), "(e) the client reader returned");
        pthread_join(th, NULL);
        CHECKF(ra.r == WSC_ECLOSED, "(e) client read: %s", wsc_strerror(ra.r));
        CHECKF(wsc_close_status(cl) == 1001, "(e) client sees %d, expected 1001", wsc_close_status(cl));
        CHECKF(strcmp(wsc_close_reason(cl), reason) == 0, "(e) client sees reason \"%s\"", wsc_close_reason(cl));
        CHECKF(wsc_close_status(sv) == 1001, "(e) server sees the echoed %d", wsc_close_status(sv));
        CHECK(strcmp(wsc_close_reason(sv), "") == 0, "(e) the echo has no reason");
        wsc_conn_free(cl);
        wsc_conn_free(sv);
    }
    /* A close without a code; the peer runs wsc_read (not blocked yet). */
    if (make_pair(&cl, &sv, NULL, NULL)) {
        echo_arg e = {.c = sv};
        pthread_t th;
        pthread_create(&th, NULL, echo_thread, &e);
        CHECK_OK(wsc_close(cl, 0, ""));
        pthread_join(th, NULL);
        CHECKF(e.r == WSC_ECLOSED && wsc_close_status(sv) == 1005,
               "(e) close without a code: server %s, status %d (expected 1005)", wsc_strerror(e.r),
               wsc_close_status(sv));
        CHECKF(wsc_close_status(cl) == 1005, "(e) client: echo without a code gives %d (1005)",
               wsc_close_status(cl));
        wsc_conn_free(cl);
        wsc_conn_free(sv);
    }
    /* Both sides close at the same time. */
    if (make_pair(&cl, &sv, NULL, NULL)) {
        closer_arg a = {.c = cl, .code = 1000, .reason = "from client"};
        closer_arg b = {.c = sv, .code = 1001, .reason = "from server"};
        pthread_t ta, tb;
        pthread_create(&ta, NULL, closer_thread, &a);
        pthread_create(&tb, NULL, closer_thread, &b);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        CHECKF(a.r == 0 && b.r == 0, "(e) simultaneous close: client %s, server %s", wsc_strerror(a.r),
               wsc_strerror(b.r));
        CHECKF(wsc_close_status(cl) == 1001 && strcmp(wsc_close_reason(cl), "from server") == 0,
               "(e) simultaneous close: client sees %d \"%s\"", wsc_close_status(cl), wsc_close_reason(cl));
        CHECKF(wsc_close_status(sv) == 1000 && strcmp(wsc_close_reason(sv), "from client") == 0,
               "(e) simultaneous close: server sees %d \"%s\"", wsc_close_status(sv), wsc_close_reason(sv));
        wsc_conn_free(cl);
        wsc_conn_free(sv);
    }
    /* wsc_close while our own reader thread is blocked: that reader gets the
     * peer's close and returns WSC_ECLOSED. */
    if (make_pair(&cl, &sv, NULL, NULL)) {
        echo_arg e = {.c = sv};
        pthread_t eth, rth;
        pthread_create(&eth, NULL, echo_thread, &e);
        reader_arg ra = {.c = cl, .timeout = -1};
        pthread_create(&rth, NULL, reader_thread, &ra);
        sleep_ms(20);
        int64_t t0 = now_ms();
        int r = wsc_close(cl, 3999, "with a reader");
        CHECKF(r == 0, "(e) wsc_close with our reader blocked: %s (%s)", wsc_strerror(r), wsc_last_error());
        CHECKF(now_ms() - t0 < 1000, "(e) ... took %lld ms", (long long)(now_ms() - t0));
        CHECK(reader_wait(&ra, 3000), "(e) our blocked reader returned");
        pthread_join(rth, NULL);
        CHECKF(ra.r == WSC_ECLOSED, "(e) our blocked reader got %s, expected WSC_ECLOSED", wsc_strerror(ra.r));
        pthread_join(eth, NULL);
        CHECK(wsc_close_status(sv) == 3999 && strcmp(wsc_close_reason(sv), "with a reader") == 0,
              "(e) the peer got 3999 \"with a reader\"");
        CHECK(wsc_close_status(cl) == 3999, "(e) we got the echoed 3999");
        wsc_conn_free(cl);
        wsc_conn_free(sv);
    }
    /* Arguments. */
    if (make_pair(&cl, &sv, NULL, NULL)) {
        static const int bad_codes[] = {999, 1004, 1005, 1006, 1015, 2999, 5000, -1};
        for (size_t i = 0; i < sizeof bad_codes / sizeof bad_codes[0]; i++)
            CHECKF(wsc_close(cl, bad_codes[i], "") == WSC_EINVAL, "(e) close code %d refused", bad_codes[i]);
        char long_reason[125];
        memset(long_reason, 'r', 124);
        long_reason[124] = '\0';
        CHECK(wsc_close(cl, 1000, long_reason) == WSC_EINVAL, "(e) 124-byte reason refused");
        CHECK(wsc_close(cl, 1000, "\xff") == WSC_EINVAL, "(e) invalid UTF-8 reason refused");
        CHECK(wsc_close(cl, 0, "reason without code") == WSC_EINVAL, "(e) reason without code refused");
        CHECK(wsc_get_state(cl) == WSC_STATE_OPEN, "(e) refused closes leave it open");
        /* A 123-byte reason is fine. */
        echo_arg e = {.c = sv};
        pthread_t th;
        pthread_create(&th, NULL, echo_thread, &e);
        long_reason[123] = '\0';
        CHECK_OK(wsc_close(cl, 3000, long_reason));
        pthread_join(th, NULL);
        CHECK(wsc_close_status(sv) == 3000 && strcmp(wsc_close_reason(sv), long_reason) == 0,
              "(e) 123-byte reason arrives");
        wsc_conn_free(cl);
        wsc_conn_free(sv);
    }
}

/* ---- (f) many dial/echo/close cycles -------------------------------------- */

#define CYCLES 1000

typedef struct {
    int lfd;
    int served;
    int accept_errors;
} cycle_server;

static void *cycle_server_thread(void *arg)
{
    cycle_server *s = arg;
    for (int i = 0; i < CYCLES; i++) {
        int fd = accept_tcp(s->lfd);
        if (fd < 0)
            break;
        wsc_conn *c;
        if (wsc_accept(fd, NULL, &c) != 0) {
            s->accept_errors++;
            close(fd);
            continue;
        }
        echo_loop(c);
        wsc_conn_free(c);
        s->served++;
    }
    return NULL;
}

static void test_f_cycles(void)
{
    int port;
    int lfd = listen_local(&port);
    if (lfd < 0) {
        CHECK(0, "(f) listen");
        return;
    }
    cycle_server s = {.lfd = lfd};
    pthread_t th;
    pthread_create(&th, NULL, cycle_server_thread, &s);
    char url[64];
    url_for(url, sizeof url, port);
    int ok = 0;
    char first_err[300] = "";
    for (int i = 0; i < CYCLES; i++) {
        wsc_conn *c = NULL;
        wsc_response resp;
        int r = wsc_dial(url, NULL, &c, &resp);
        if (r == 0 && resp.status != 101)
            r = WSC_EHANDSHAKE;
        wsc_response_free(&resp);
        char msg[32];
        int n = snprintf(msg, sizeof msg, "cycle %d", i);
        if (r == 0)
            r = wsc_write(c, WSC_TEXT, msg, (size_t)n, 5000);
        if (r == 0 && !read_is(c, 5000, WSC_TEXT, msg, (size_t)n))
            r = WSC_EPROTO;
        if (r == 0)
            r = wsc_close(c, 1000, "done");
        if (r == 0)
            ok++;
        else if (!first_err[0])
            snprintf(first_err, sizeof first_err, "cycle %d: %s (%s)", i, wsc_strerror(r), wsc_last_error());
        wsc_conn_free(c);
    }
    pthread_join(th, NULL);
    close(lfd);
    CHECKF(ok == CYCLES, "(f) %d of %d dial/echo/close cycles worked; first failure: %s", ok, CYCLES, first_err);
    CHECKF(s.served == CYCLES && s.accept_errors == 0, "(f) server served %d, %d accept errors", s.served,
           s.accept_errors);
#ifdef HAVE_LSAN
    CHECK(__lsan_do_recoverable_leak_check() == 0, "(f) LeakSanitizer finds no leak after the cycles");
#endif
}

/* ---- (g) non-blocking dial and timeout-0 reads ---------------------------- */

static void test_g_nonblocking(void)
{
    int port;
    int lfd = listen_local(&port);
    if (lfd < 0) {
        CHECK(0, "(g) listen");
        return;
    }
    acceptor a = {.lfd = lfd};
    pthread_t th;
    pthread_create(&th, NULL, accept_thread, &a);
    char url[64];
    url_for(url, sizeof url, port);
    wsc_dial_options o = {.nonblocking = true};
    wsc_conn *c = NULL;
    wsc_response resp;
    int r = wsc_dial(url, &o, &c, &resp);
    CHECKF(r == 0 && c, "(g) nonblocking wsc_dial returns at once: %s", wsc_strerror(r));
    if (!c) {
        pthread_join(th, NULL);
        close(lfd);
        wsc_conn_free(a.c);
        return;
    }
    CHECK(resp.status == 0 || (resp.status == 101 && wsc_get_state(c) == WSC_STATE_OPEN),
          "(g) nonblocking dial: resp says 0 unless the server answered already");
    wsc_response_free(&resp);
    int iterations = 0;
    wsc_state st;
    bool saw_connecting = false;
    while ((st = wsc_get_state(c)) == WSC_STATE_CONNECTING && iterations < 5000) {
        saw_connecting = true;
        CHECK(wsc_want_write(c) == ((wsc_poll_events(c) & POLLOUT) != 0),
              "(g) while connecting, want_write says whether the dial waits to send");
        iterations++;
        sleep_ms(1);
    }
    printf("  (g) nonblocking dial: OPEN after %d wsc_get_state iterations\n", iterations);
    CHECKF(st == WSC_STATE_OPEN, "(g) state %d after %d iterations, expected OPEN", st, iterations);
    CHECK(saw_connecting || iterations == 0, "(g) state went CONNECTING -> OPEN");
    pthread_join(th, NULL);
    close(lfd);
    if (a.r != 0 || st != WSC_STATE_OPEN) {
        wsc_conn_free(c);
        wsc_conn_free(a.c);
        return;
    }
    wsc_conn *sv = a.c;
    wsc_msg_type type;
    const void *data;
    size_t len;
    /* Idle: timeout 0 never blocks. */
    int64_t t0 = now_ms();
    r = wsc_read(c, 0, &type, &data, &len);
    CHECKF(r == WSC_EAGAIN, "(g) idle client read with timeout 0: %s, expected WSC_EAGAIN", wsc_strerror(r));
    r = wsc_read(sv, 0, &type, &data, &len);
    CHECKF(r == WSC_EAGAIN, "(g) idle server read with timeout 0: %s, expected WSC_EAGAIN", wsc_strerror(r));
    CHECK(now_ms() - t0 < 100, "(g) timeout-0 reads return at once");
    CHECK(!wsc_want_write(c), "(g) nothing pending once open");
    /* Echo. */
    CHECK_OK(wsc_write(c, WSC_BINARY, "\x01\x02\x03", 3, 0));
    CHECK(read_is(sv, 2000, WSC_BINARY, "\x01\x02\x03", 3), "(g) server gets the message");
    CHECK_OK(wsc_write(sv, WSC_BINARY, "\x03\x02\x01", 3, 1000));
    /* Poll with timeout 0 until it arrives. */
    int spins = 0;
    while ((r = wsc_read(c, 0, &type, &data, &len)) == WSC_EAGAIN && spins++ < 2000)
        sleep_ms(1);
    CHECKF(r == 0 && len == 3 && memcmp(data, "\x03\x02\x01", 3) == 0, "(g) timeout-0 read gets the echo (%s)",
           wsc_strerror(r));
    CHECK(wsc_get_state(c) == WSC_STATE_OPEN, "(g) still open after EAGAIN reads");
    CHECK_OK(wsc_close_now(c));
    wsc_conn_free(c);
    wsc_conn_free(sv);

    /* A nonblocking dial to a closed port ends in CLOSED. */
    lfd = listen_local(&port);
    close(lfd);
    url_for(url, sizeof url, port);
    r = wsc_dial(url, &o, &c, NULL);
    if (r == 0) {
        iterations = 0;
        while ((st = wsc_get_state(c)) == WSC_STATE_CONNECTING && iterations++ < 3000)
            sleep_ms(1);
        CHECKF(st == WSC_STATE_CLOSED, "(g) nonblocking dial to a closed port: state %d, expected CLOSED", st);
        r = wsc_write(c, WSC_TEXT, "x", 1, 0);
        CHECKF(r < 0, "(g) write on the failed dial fails (%s)", wsc_strerror(r));
        wsc_conn_free(c);
    } else {
        CHECKF(r == WSC_ECONNECT, "(g) nonblocking dial to a closed port: %s", wsc_strerror(r));
    }
}

/* ---- (h) streams ---------------------------------------------------------- */

static ptrdiff_t stream_read_all(wsc_stream *s, char *buf, size_t want, size_t cap, size_t *max_chunk)
{
    size_t got = 0;
    *max_chunk = 0;
    while (got < want) {
        size_t c = cap < want - got ? cap : want - got;
        ptrdiff_t n = wsc_stream_read(s, buf + got, c, 3000);
        if (n <= 0)
            return n < 0 ? n : (ptrdiff_t)got;
        if ((size_t)n > *max_chunk)
            *max_chunk = (size_t)n;
        got += (size_t)n;
    }
    return (ptrdiff_t)got;
}

/* Reads from a plain fd until n bytes or timeout. */
static size_t fd_read_n(int fd, char *buf, size_t n, int timeout_ms)
{
    size_t got = 0;
    int64_t end = now_ms() + timeout_ms;
    while (got < n && now_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

static void test_h_streams(void)
{
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    wsc_stream *ss = NULL, *cs = NULL;
    CHECK_OK(wsc_stream_open(sv, WSC_BINARY, &ss));
    CHECK_OK(wsc_stream_open(cl, WSC_BINARY, &cs));
    wsc_stream *bad_stream = NULL;
    CHECK(wsc_stream_open(sv, (wsc_msg_type)7, &bad_stream) == WSC_EINVAL && !bad_stream, "(h) bad type refused");
    if (!ss || !cs) {
        wsc_conn_free(cl);
        wsc_conn_free(sv);
        return;
    }
    /* Client messages "abc" "defgh" "" "ij": the server reads a byte stream. */
    CHECK(wsc_stream_write(cs, "abc", 3, 1000) == 3, "(h) stream write returns its length");
    CHECK(wsc_stream_write(cs, "defgh", 5, 1000) == 5, "(h) second stream write");
    CHECK_OK(wsc_write(cl, WSC_BINARY, "", 0, 1000));
    CHECK_OK(wsc_write(cl, WSC_BINARY, "ij", 2, 1000));
    char buf[64];
    size_t max_chunk;
    ptrdiff_t n = stream_read_all(ss, buf, 10, 4, &max_chunk);
    CHECKF(n == 10 && memcmp(buf, "abcdefghij", 10) == 0, "(h) the stream reads abcdefghij across 4 messages (%td)",
           n);
    CHECK(max_chunk <= 4, "(h) no read returns more than asked");
    /* A message bigger than the buffer, read in pieces. */
    char big[1000];
    for (int i = 0; i < 1000; i++)
        big[i] = (char)('0' + i % 10);
    CHECK(wsc_stream_write(cs, big, 1000, 1000) == 1000, "(h) 1000-byte stream write");
    char back[1000];
    n = stream_read_all(ss, back, 1000, 64, &max_chunk);
    CHECK(n == 1000 && memcmp(back, big, 1000) == 0, "(h) 1000 bytes read 64 at a time");
    /* Server -> client. */
    CHECK(wsc_stream_write(ss, "hello", 5, 1000) == 5, "(h) server stream write");
    CHECK(read_is(cl, 1000, WSC_BINARY, "hello", 5), "(h) each stream write is one message");
    /* A normal close is end of stream. */
    reader_arg ra = {.c = cl, .timeout = 3000};
    pthread_t th;
    pthread_create(&th, NULL, reader_thread, &ra);
    CHECK(wsc_stream_close(ss) == 0, "(h) wsc_stream_close closes with 1000");
    pthread_join(th, NULL);
    CHECKF(ra.r == WSC_ECLOSED && wsc_close_status(cl) == 1000, "(h) client sees close %d (%s)",
           wsc_close_status(cl), wsc_strerror(ra.r));
    n = wsc_stream_read(cs, buf, sizeof buf, 100);
    CHECKF(n == 0, "(h) after a 1000 close the client stream reads end of stream (%td)", n);
    CHECK(wsc_stream_close(cs) == 0, "(h) closing the closed stream is fine");
    wsc_conn_free(cl);
    wsc_conn_free(sv);

    /* A message of the other type closes with 1003. */
    if (make_pair(&cl, &sv, NULL, NULL)) {
        CHECK_OK(wsc_stream_open(sv, WSC_TEXT, &ss));
        reader_arg rb = {.c = cl, .timeout = 3000};
        pthread_create(&th, NULL, reader_thread, &rb);
        CHECK_OK(wsc_write(cl, WSC_BINARY, "bin", 3, 1000));
        n = wsc_stream_read(ss, buf, sizeof buf, 3000);
        CHECKF(n == WSC_EPROTO, "(h) wrong message type: stream read %td, expected WSC_EPROTO", n);
        pthread_join(th, NULL);
        CHECKF(wsc_close_status(cl) == 1003, "(h) the peer sees 1003 (got %d)", wsc_close_status(cl));
        wsc_stream_close(ss);
        wsc_conn_free(cl);
        wsc_conn_free(sv);
    }

    /* wsc_stream_fd on the server. */
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    int fd = -1;
    CHECK_OK(wsc_stream_fd(sv, WSC_BINARY, &fd));
    if (fd < 0) {
        wsc_conn_free(cl);
        wsc_conn_free(sv);
        return;
    }
    int fd2;
    CHECK(wsc_stream_fd(sv, WSC_BINARY, &fd2) == WSC_EBUSY, "(h) a second stream fd is refused");
    /* Bytes into the fd arrive as messages at the client. */
    CHECK(send_bytes(fd, "0123456789", 10) == 0, "(h) write into the fd");
    char got[64];
    size_t total = 0;
    while (total < 10) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        int r = wsc_read(cl, 3000, &type, &data, &len);
        if (r != 0 || type != WSC_BINARY || total + len > sizeof got) {
            CHECKF(0, "(h) reading the fd's bytes as messages: %s", wsc_strerror(r));
            break;
        }
        memcpy(got + total, data, len);
        total += len;
    }
    CHECK(total == 10 && memcmp(got, "0123456789", 10) == 0, "(h) the client gets the fd's bytes as binary messages");
    /* Client messages come out of the fd. */
    CHECK_OK(wsc_write(cl, WSC_BINARY, "xyz", 3, 1000));
    CHECK_OK(wsc_write(cl, WSC_BINARY, "123", 3, 1000));
    size_t k = fd_read_n(fd, got, 6, 3000);
    CHECK(k == 6 && memcmp(got, "xyz123", 6) == 0, "(h) client messages come out of the fd");
    /* Closing the fd closes the websocket with 1000. */
    reader_arg rc = {.c = cl, .timeout = 5000};
    pthread_create(&th, NULL, reader_thread, &rc);
    close(fd);
    CHECK(reader_wait(&rc, 6000), "(h) the client reader returned after the fd was closed");
    pthread_join(th, NULL);
    CHECKF(rc.r == WSC_ECLOSED && wsc_close_status(cl) == 1000,
           "(h) closing the fd closed the websocket with %d (%s), expected 1000", wsc_close_status(cl),
           wsc_strerror(rc.r));
    wsc_conn_free(sv); /* waits for the pump */
    wsc_conn_free(cl);
}

/* ---- (i) a failed read stays failed ---------------------------------------- */

static void test_i_sticky_failure(void)
{
    raw_pair rp;
    if (!raw_pair_open(&rp))
        return;
    wsc_set_read_limit(rp.a.c, 10);
    uint8_t payload[100], wire[128];
    memset(payload, 'A', sizeof payload);
    size_t n = raw_frame(wire, 0x82, payload, sizeof payload);
    send_bytes(rp.fd, wire, n);
    sleep_ms(50); /* the whole frame is in the socket before the read */
    wsc_msg_type type;
    const void *data;
    size_t len = 0;
    int r = wsc_read(rp.a.c, 1000, &type, &data, &len);
    CHECKF(r == WSC_EMSGSIZE, "(i) 100 bytes over a read limit of 10: %s, expected WSC_EMSGSIZE", wsc_strerror(r));
    CHECK(wsc_get_state(rp.a.c) == WSC_STATE_CLOSED, "(i) the connection is closed after WSC_EMSGSIZE");
    len = 0;
    r = wsc_read(rp.a.c, 1000, &type, &data, &len);
    CHECKF(r < 0, "(i) the next read fails too (got %s with %zu bytes: the oversized message)", wsc_strerror(r),
           r == 0 ? len : 0);
    /* The peer got a 1009 close frame (a reason may follow the code). */
    uint8_t got[128];
    struct pollfd p = {.fd = rp.fd, .events = POLLIN};
    ssize_t k = poll(&p, 1, 1000) == 1 ? recv(rp.fd, got, sizeof got, 0) : -1;
    CHECKF(k >= 4 && got[0] == 0x88 && (got[1] & 0x80) == 0 && got[1] >= 2 && k >= 2 + got[1] &&
               got[2] == 0x03 && got[3] == 0xF1,
           "(i) the peer got close 1009 (%zd bytes: %02x %02x %02x %02x)", k, k > 0 ? got[0] : 0,
           k > 1 ? got[1] : 0, k > 2 ? got[2] : 0, k > 3 ? got[3] : 0);
    close(rp.fd);
    wsc_conn_free(rp.a.c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(120); /* a hang fails the test instead of stalling the suite */
    struct {
        const char *name;
        void (*fn)(void);
    } parts[] = {
        {"a writers", test_a_writers},
        {"b close_now", test_b_close_now},
        {"c timeouts", test_c_timeouts},
        {"d ping", test_d_ping},
        {"e close", test_e_close},
        {"f cycles", test_f_cycles},
        {"g nonblocking", test_g_nonblocking},
        {"h streams", test_h_streams},
        {"i sticky failure", test_i_sticky_failure},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        int64_t t0 = now_ms();
        int before = atomic_load(&check_failures);
        parts[i].fn();
        printf("  (%s) %lld ms%s\n", parts[i].name, (long long)(now_ms() - t0),
               atomic_load(&check_failures) > before ? " FAILED" : "");
        fflush(stdout);
    }
    return check_summary("test_concurrency");
}
