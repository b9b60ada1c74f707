/* SPDX-License-Identifier: MIT */
/* test_writer_nowait.c - the streaming writer with timeout 0, as an event
 * loop uses it: no piece ever blocks. With the socket full (the peer reads
 * nothing) a piece returns WSC_EAGAIN having taken nothing and the message
 * stays open; given again once the socket drains, it goes on; the peer
 * receives the message whole, then the next one. Plain and compressed. */
#include <stdlib.h>

#include "check.h"
#include "net.h"

#define PIECE 65536
#define PIECES 64 /* 4 MiB: more than the socket buffers hold */

typedef struct {
    wsc_conn *c;
    int r;
    size_t len;
    bool whole;
} reader;

static void *read_one(void *arg)
{
    reader *rd = arg;
    wsc_msg_type type;
    const void *data;
    size_t len;
    rd->r = wsc_read(rd->c, 20000, &type, &data, &len);
    rd->len = len;
    rd->whole = rd->r == 0;
    for (size_t i = 0; rd->whole && i < len; i++)
        if (((const uint8_t *)data)[i] != (uint8_t)(i / PIECE))
            rd->whole = false;
    return NULL;
}

/* Waits up to 5 s for the socket to take more (poll for POLLOUT), and
 * pushes what is pending. */
static void wait_writable(wsc_conn *c)
{
    struct pollfd p = {.fd = wsc_fd(c), .events = POLLOUT};
    poll(&p, 1, 5000);
    wsc_flush(c, 0);
}

static void run(bool deflate)
{
    const char *mode = deflate ? "compressed" : "plain";
    wsc_compression z = deflate ? WSC_COMPRESSION_CONTEXT_TAKEOVER : WSC_COMPRESSION_DISABLED;
    wsc_dial_options dopts = {.compression = z};
    wsc_accept_options aopts = {.compression = z};
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, &dopts, &aopts))
        return;
    wsc_set_read_limit(cl, -1);
    /* small socket buffers, so that 4 MiB always fills them (loopback
     * autotuning can otherwise take it all) */
    int small = 65536;
    setsockopt(wsc_fd(sv), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(wsc_fd(cl), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    uint8_t *piece = malloc(PIECE);
    CHECK_OK(wsc_writer_begin(sv, WSC_BINARY, 0));
    int eagain = 0, i = 0;
    reader rd = {.c = cl};
    pthread_t th;
    bool reading = false;
    while (i < PIECES) {
        memset(piece, i, PIECE); /* compressed, the socket need not fill */
        int64_t t0 = now_ms();
        int r = wsc_writer_write(sv, piece, PIECE);
        CHECKF(now_ms() - t0 < 500, "%s: a piece returned at once (%lld ms)", mode, (long long)(now_ms() - t0));
        if (r == WSC_EAGAIN) {
            eagain++;
            CHECK(wsc_get_state(sv) == WSC_STATE_OPEN, "after WSC_EAGAIN the connection is open");
            if (!reading) { /* the peer starts reading: the socket drains */
                pthread_create(&th, NULL, read_one, &rd);
                reading = true;
            }
            wait_writable(sv);
            continue; /* the same piece again */
        }
        CHECKF(r == 0, "%s: piece %d: %s (%s)", mode, i, wsc_strerror(r), wsc_last_error());
        if (r != 0)
            break;
        i++;
    }
    int r;
    while ((r = wsc_writer_end(sv)) == WSC_EAGAIN)
        wait_writable(sv);
    CHECKF(r == 0, "%s: the end: %s", mode, wsc_strerror(r));
    while (wsc_want_write(sv))
        wait_writable(sv);
    if (!reading)
        pthread_create(&th, NULL, read_one, &rd);
    pthread_join(th, NULL);
    CHECKF(deflate || eagain > 0, "%s: the socket filled (%d times WSC_EAGAIN)", mode, eagain);
    CHECKF(rd.r == 0 && rd.len == (size_t)PIECE * PIECES && rd.whole,
           "%s: the peer read the message whole (%s, %zu bytes)", mode, wsc_strerror(rd.r), rd.len);
    /* the connection goes on */
    CHECK_OK(wsc_write(sv, WSC_TEXT, "next", 4, 1000));
    wsc_msg_type type;
    const void *data;
    size_t len;
    CHECK(wsc_read(cl, 2000, &type, &data, &len) == 0 && len == 4, "the next message arrives");
    free(piece);
    wsc_conn_free(cl);
    wsc_conn_free(sv);
}

static void hung(int sig)
{
    (void)sig;
    static const char msg[] = "test_writer_nowait: FAILED: a call blocked for 60 s "
                              "(a timeout-0 piece must never wait)\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(1);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, hung); /* a piece that blocks would otherwise hang the suite */
    alarm(60);
    run(false);
    run(true);
    return check_summary("test_writer_nowait");
}
