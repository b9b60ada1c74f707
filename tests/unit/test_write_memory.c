/* SPDX-License-Identifier: MIT */
/* test_write_memory.c - what the sending side keeps once a message is out,
 * through the public API: a client (wsc_dial) and a server (wsc_accept)
 * over 127.0.0.1, driven from one thread with timeout-0 calls, as an event
 * loop drives them.
 *
 * Each case writes one 4 MiB message of random bytes with timeout 0 into a
 * small socket buffer: the call takes the message and keeps what the socket
 * did not take pending; wsc_flush sends the rest as the peer reads. Once the
 * peer has the message whole and the writer has nothing left to send, the
 * heap must be back within 256 KiB of what it was before the message (the
 * pending bytes and, compressed, the compressor's output buffer, each about
 * as large as the message, are given back):
 *
 *   a  plain, the client writing (masked) and the server writing
 *   b  permessage-deflate with context takeover, both directions
 *   c  permessage-deflate without context takeover, both directions (the
 *      message does not shrink, so it goes uncompressed after compressing)
 *
 * Heap: mallinfo2 (blocks in use, small and mmapped); glibc only, and not
 * under ASan (its allocator keeps freed blocks in quarantine). */
#include <malloc.h>
#include <poll.h>
#include <stdlib.h>

#include "check.h"
#include "net.h"

#define MSG_LEN ((size_t)4 << 20)
#define SLACK ((size_t)256 << 10)

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
static size_t heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

/* Timeout-0 calls until `rd` has read the message and `wr` has nothing left
 * to send (20 s at most). The message read must equal msg. */
static bool pump(wsc_conn *wr, wsc_conn *rd, const uint8_t *msg, const char *what)
{
    bool got = false;
    int64_t end = now_ms() + 20000;
    while ((!got || wsc_want_write(wr)) && now_ms() < end) {
        int r = wsc_flush(wr, 0);
        CHECKF(r == 0 || r == WSC_EAGAIN, "%s: wsc_flush: %s", what, wsc_strerror(r));
        if (r != 0 && r != WSC_EAGAIN)
            return false;
        if (!got) {
            wsc_msg_type type;
            const void *data;
            size_t len;
            r = wsc_read(rd, 0, &type, &data, &len);
            if (r == 0) {
                CHECKF(len == MSG_LEN && memcmp(data, msg, len) == 0,
                       "%s: the message arrived whole (%zu bytes)", what, len);
                got = true;
            } else if (r != WSC_EAGAIN) {
                CHECKF(0, "%s: wsc_read: %s (%s)", what, wsc_strerror(r), wsc_last_error());
                return false;
            }
        }
        struct pollfd p[2] = {{.fd = wsc_fd(wr), .events = POLLOUT}, {.fd = wsc_fd(rd), .events = POLLIN}};
        poll(p, 2, 10);
    }
    CHECKF(got && !wsc_want_write(wr), "%s: the message went out within 20 s", what);
    return got;
}

/* One message each way, each checked as described at the top. */
static void run(const char *mode, wsc_compression z, const uint8_t *msg)
{
    wsc_dial_options dopts = {.compression = z};
    wsc_accept_options aopts = {.compression = z};
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, &dopts, &aopts))
        return;
    wsc_conn *ends[2][2] = {{cl, sv}, {sv, cl}};
    for (int i = 0; i < 2; i++) {
        wsc_conn *wr = ends[i][0], *rd = ends[i][1];
        char what[64];
        snprintf(what, sizeof what, "%s, the %s writing", mode, i == 0 ? "client" : "server");
        wsc_set_read_limit(rd, -1);
        int small = 65536;
        setsockopt(wsc_fd(wr), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        setsockopt(wsc_fd(rd), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        /* a first message: what is made once per connection (a compressor
         * kept for context takeover) is made now */
        wsc_msg_type type;
        const void *data;
        size_t len;
        CHECK_OK(wsc_write(wr, WSC_BINARY, msg, 4096, 2000));
        CHECK_OK(wsc_read(rd, 2000, &type, &data, &len));
        CHECK(wsc_read(rd, 0, &type, &data, &len) == WSC_EAGAIN, "the reader is idle");
        size_t before = heap_in_use();
        int r = wsc_write(wr, WSC_BINARY, msg, MSG_LEN, 0);
        CHECKF(r == 0, "%s: the timeout-0 write took the message (%s)", what, wsc_strerror(r));
        CHECKF(wsc_want_write(wr), "%s: the socket did not take it all (the rest is pending)", what);
        if (r != 0 || !pump(wr, rd, msg, what))
            continue;
        CHECK(wsc_read(rd, 0, &type, &data, &len) == WSC_EAGAIN, "the reader is idle again");
        size_t after = heap_in_use();
        printf("  %s: %zd KiB kept after the message\n", what, ((ptrdiff_t)after - (ptrdiff_t)before) / 1024);
        CHECKF(after <= before + SLACK, "%s: %zu KiB of heap kept after a %zu KiB message (want <= %zu)",
               what, (after - before) / 1024, MSG_LEN / 1024, SLACK / 1024);
    }
    wsc_conn_free(cl);
    wsc_conn_free(sv);
}
#endif

int main(void)
{
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
    uint8_t *msg = malloc(MSG_LEN);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < MSG_LEN; i++) { /* xorshift: bytes that do not compress */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        msg[i] = (uint8_t)x;
    }
    run("(a) plain", WSC_COMPRESSION_DISABLED, msg);
    run("(b) context takeover", WSC_COMPRESSION_CONTEXT_TAKEOVER, msg);
    run("(c) no context takeover", WSC_COMPRESSION_NO_CONTEXT_TAKEOVER, msg);
    free(msg);
#else
    printf("test_write_memory: needs glibc's mallinfo2 without ASan; skipped\n");
#endif
    return check_summary("test_write_memory");
}
