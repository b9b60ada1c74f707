/* SPDX-License-Identifier: MIT */
/* test_read_memory.c - what the receive buffer costs, through the public
 * API: a server connection (wsc_accept) and a client (wsc_dial) over
 * 127.0.0.1 in one process.
 *
 *   a  8 connections each receive one 8 MiB message, then go idle (their
 *      next read starts and finds nothing): the resident memory falls back
 *      to where it was, the big buffers are given back to the system
 *   b  the same with permessage-deflate: 16 MiB of one byte, about 16 KB on
 *      the wire
 *   d  a read that times out in the middle of a 1 MiB message keeps what
 *      it assembled: the next read returns the whole message intact
 *   c  out of memory while a message is assembled (read limit -1, the
 *      process's data size limited in a child): the read fails with
 *      WSC_ENOMEM and the peer receives 1011, not 1009
 *   e  a stream of 1 MiB messages keeps its buffer while they keep coming:
 *      the page faults of reading 64 of them stay far below one buffer's
 *      worth each (giving it back at every read cost 10x the throughput)
 *   f  idle connections hold no receive buffer: 64 pairs that exchanged a
 *      message and whose reads found nothing more cost under 8 KiB of heap
 *      each, both ends together (a 64 KiB buffer each before)
 *
 * Memory is VmRSS (/proc/self/status): the clients send in pieces of at
 * most 64 KiB, so that only the servers make big buffers.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wsc.h"
#include "check.h"
#include "net.h"

#if defined(__SANITIZE_ADDRESS__)
const char *__asan_default_options(void);
/* (c) needs malloc to fail, not to abort the test. (Visible: the build
 * hides symbols.) */
__attribute__((visibility("default"))) const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif

#define MIB ((size_t)1 << 20)

/* A value in KiB from /proc/self/status ("VmRSS", "VmData"), 0 if unknown. */
static size_t status_kib(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    size_t kib = 0, n = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            kib = strtoull(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

/* ---- A connected pair ---------------------------------------------------- */

/* make_pair (net.h) with permessage-deflate offered and accepted when
 * `deflate`. */
static bool make_pair_deflate(wsc_conn **client, wsc_conn **server, bool deflate)
{
    wsc_compression mode = deflate ? WSC_COMPRESSION_NO_CONTEXT_TAKEOVER : WSC_COMPRESSION_DISABLED;
    wsc_accept_options aopts = {.compression = mode};
    wsc_dial_options dopts = {.compression = mode};
    return make_pair(client, server, &dopts, &aopts);
}

/* ---- (a, b) big messages, then idle ------------------------------------------ */

typedef struct {
    wsc_conn *c;
    const uint8_t *data;
    size_t len;
    int r;
} sender;

/* Sends the message in pieces of 64 KiB (wsc_writer_*), so that the
 * client's compressor never needs a big buffer. */
static void *send_thread(void *arg)
{
    sender *s = arg;
    s->r = wsc_writer_begin(s->c, WSC_BINARY, 20000);
    for (size_t done = 0; s->r == 0 && done < s->len; done += 65536) {
        size_t k = s->len - done < 65536 ? s->len - done : 65536;
        s->r = wsc_writer_write(s->c, s->data + done, k);
    }
    if (s->r == 0)
        s->r = wsc_writer_end(s->c);
    return NULL;
}

/* Each of n pairs: the client sends `msg` (len bytes), the server reads it
 * and checks it, then reads again with timeout 0 (WSC_EAGAIN): the idle
 * connection. Then the resident memory must be back within `slack` of what
 * it was with the pairs open and nothing sent yet. */
static void big_then_idle(const char *what, int n, const uint8_t *msg, size_t len, bool deflate,
                          size_t slack)
{
    wsc_conn *cl[8], *sv[8];
    int open = 0;
    for (; open < n; open++) {
        if (!make_pair_deflate(&cl[open], &sv[open], deflate))
            break;
        wsc_set_read_limit(sv[open], -1);
    }
    size_t before = status_kib("VmRSS");
    for (int i = 0; i < open; i++) {
        sender s = {.c = cl[i], .data = msg, .len = len};
        pthread_t th;
        pthread_create(&th, NULL, send_thread, &s);
        wsc_msg_type type;
        const void *data = NULL;
        size_t got = 0;
        int r = wsc_read(sv[i], 20000, &type, &data, &got);
        pthread_join(th, NULL);
        CHECKF(r == 0 && s.r == 0 && got == len && memcmp(data, msg, len) == 0,
               "%s: connection %d: the %zu-byte message arrived whole (read %s, write %s, %zu bytes)", what,
               i, len, wsc_strerror(r), wsc_strerror(s.r), got);
        r = wsc_read(sv[i], 0, &type, &data, &got);
        CHECKF(r == WSC_EAGAIN, "%s: connection %d: the idle read gave %s, expected WSC_EAGAIN", what, i,
               wsc_strerror(r));
    }
    size_t after = status_kib("VmRSS");
    CHECKF(after <= before + slack,
           "%s: %d idle connections after one %zu-byte message each: %zu KiB resident, "
           "%zu KiB before (more than %zu KiB kept)",
           what, open, len, after, before, slack);
    for (int i = 0; i < open; i++) {
        wsc_conn_free(cl[i]);
        wsc_conn_free(sv[i]);
    }
}

static void test_a_plain(void)
{
    size_t len = 8 * MIB;
    uint8_t *msg = malloc(len);
    if (!msg)
        return;
    for (size_t i = 0; i < len; i++)
        msg[i] = (uint8_t)(i * 131 + (i >> 12));
    big_then_idle("(a)", 8, msg, len, false, 4096);
    free(msg);
}

static void test_b_deflate(void)
{
    size_t len = 16 * MIB;
    uint8_t *msg = malloc(len);
    if (!msg)
        return;
    memset(msg, 'w', len); /* compresses as well as zeros; resident before the measurement */
    big_then_idle("(b)", 2, msg, len, true, 4096);
    free(msg);
}

/* ---- (d) a timed-out read keeps the partial message -------------------------- */

static void test_d_partial_kept(void)
{
    wsc_conn *cl, *sv;
    if (!make_pair_deflate(&cl, &sv, false))
        return;
    wsc_set_read_limit(sv, -1);
    size_t half = 512 * 1024;
    uint8_t *msg = malloc(2 * half);
    if (!msg) {
        wsc_conn_free(cl);
        wsc_conn_free(sv);
        return;
    }
    for (size_t i = 0; i < 2 * half; i++)
        msg[i] = (uint8_t)(i * 7 + (i >> 10));
    CHECK_OK(wsc_writer_begin(cl, WSC_BINARY, 5000));
    CHECK_OK(wsc_writer_write(cl, msg, half));
    wsc_msg_type type;
    const void *data = NULL;
    size_t len = 0;
    int r = wsc_read(sv, 200, &type, &data, &len);
    CHECKF(r == WSC_ETIMEDOUT, "(d) half a message: %s, expected WSC_ETIMEDOUT", wsc_strerror(r));
    CHECK_OK(wsc_writer_write(cl, msg + half, half));
    CHECK_OK(wsc_writer_end(cl));
    r = wsc_read(sv, 10000, &type, &data, &len);
    CHECKF(r == 0 && len == 2 * half && memcmp(data, msg, len) == 0,
           "(d) the rest arrived: %s, %zu bytes, expected the whole %zu-byte message intact", wsc_strerror(r),
           len, 2 * half);
    free(msg);
    wsc_conn_free(cl);
    wsc_conn_free(sv);
}

/* ---- (c) out of memory while assembling a message ------------------------- */

/* Limits the process's data (heap and private mappings, RLIMIT_DATA) to
 * what it uses now plus `extra` bytes. */
static bool limit_data(size_t extra)
{
    size_t kib = status_kib("VmData");
    if (kib == 0)
        return false;
    rlim_t size = (rlim_t)kib * 1024 + extra;
    struct rlimit rl = {size, size};
    return setrlimit(RLIMIT_DATA, &rl) == 0;
}

typedef struct {
    wsc_conn *c;
    size_t total;  /* bytes to send as one message, in 1 MiB pieces */
    int r;
} piece_sender;

static void *piece_thread(void *arg)
{
    piece_sender *s = arg;
    static uint8_t piece[1 << 20];
    s->r = wsc_writer_begin(s->c, WSC_BINARY, 20000);
    for (size_t done = 0; s->r == 0 && done < s->total; done += sizeof piece)
        s->r = wsc_writer_write(s->c, piece, sizeof piece);
    if (s->r == 0)
        s->r = wsc_writer_end(s->c);
    return NULL;
}

/* The child's part of (c); its exit status is the number of failures. */
static int oom_child(void)
{
    wsc_conn *cl, *sv;
    if (!make_pair_deflate(&cl, &sv, false))
        return 1;
    wsc_set_read_limit(sv, -1);
    piece_sender s = {.c = cl, .total = (size_t)2048 * MIB};
    pthread_t th;
    pthread_create(&th, NULL, piece_thread, &s);
    /* The sender's thread exists: only the reader's buffer grows now. */
    CHECK(limit_data(192 * MIB), "(c) setrlimit(RLIMIT_DATA)");
    wsc_msg_type type;
    const void *data;
    size_t len;
    int r = wsc_read(sv, 60000, &type, &data, &len);
    CHECKF(r == WSC_ENOMEM, "(c) assembling a 2 GiB message without memory for it: %s (%s), expected WSC_ENOMEM",
           wsc_strerror(r), wsc_last_error());
    /* The client reads the server's close frame (its writer stops on the
     * closed connection). */
    r = wsc_read(cl, 20000, &type, &data, &len);
    pthread_join(th, NULL);
    CHECKF(r == WSC_ECLOSED && wsc_close_status(cl) == WSC_STATUS_INTERNAL_ERROR,
           "(c) the peer's read: %s with close status %d, expected WSC_ECLOSED and 1011", wsc_strerror(r),
           wsc_close_status(cl));
    wsc_conn_free(cl);
    wsc_conn_free(sv);
    return atomic_load(&check_failures);
}

static void test_c_out_of_memory(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        CHECK(0, "(c) fork");
        return;
    }
    if (pid == 0)
        _exit(oom_child());
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "(c) the out-of-memory child %s %d (its failures are printed above)",
           WIFEXITED(status) ? "failed checks:" : "died of signal", WIFEXITED(status) ? WEXITSTATUS(status)
                                                                                        : WTERMSIG(status));
}

/* ---- (e) a stream of big messages keeps its buffer ------------------------------ */

typedef struct {
    wsc_conn *c;
    const uint8_t *data;
    size_t len;
    int count, r;
} streamer;

static void *stream_thread(void *arg)
{
    streamer *s = arg;
    for (int i = 0; i < s->count && s->r == 0; i++)
        s->r = wsc_write(s->c, WSC_BINARY, s->data, s->len, 20000);
    return NULL;
}

static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static void test_e_stream_keeps_buffer(void)
{
    enum { COUNT = 64 };
    size_t len = MIB;
    uint8_t *msg = calloc(1, len);
    wsc_conn *cl, *sv;
    if (!msg || !make_pair_deflate(&cl, &sv, false)) {
        free(msg);
        return;
    }
    wsc_set_read_limit(sv, -1);
    streamer s = {.c = cl, .data = msg, .len = len, .count = COUNT};
    pthread_t th;
    pthread_create(&th, NULL, stream_thread, &s);
    long faults = minor_faults();
    int got = 0, r = 0;
    for (; got < COUNT && r == 0; got++) {
        const void *data;
        size_t n;
        r = wsc_read(sv, 20000, NULL, &data, &n);
        if (r == 0 && n != len)
            r = WSC_EPROTO;
    }
    faults = minor_faults() - faults;
    pthread_join(th, NULL);
    long per_buffer = (long)(len / 4096);
    printf("  (e) %d messages of 1 MiB: %ld page faults (%ld would be one buffer each)\n", got, faults,
           per_buffer * COUNT);
    CHECKF(r == 0 && s.r == 0, "(e) the stream arrived (read %s, write %s)", wsc_strerror(r),
           wsc_strerror(s.r));
    CHECKF(faults < per_buffer * COUNT / 4, "(e) %ld page faults for %d messages: the buffer was made "
           "anew for most of them", faults, COUNT);
    wsc_conn_free(cl);
    wsc_conn_free(sv);
    free(msg);
}

/* ---- (f) idle connections ----------------------------------------------------- */

#define IDLE_PAIRS 64

static void test_f_idle_holds_no_buffer(void)
{
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
    wsc_conn *cl[IDLE_PAIRS], *sv[IDLE_PAIRS];
    /* one pair first: whatever is made once per process is made now */
    wsc_conn *c0, *s0;
    make_pair_deflate(&c0, &s0, false);
    size_t before = mallinfo2().uordblks;
    int ok = 0, made = 0;
    for (int i = 0; i < IDLE_PAIRS; i++, made++) {
        if (!make_pair_deflate(&cl[i], &sv[i], false))
            break;
        wsc_msg_type type;
        const void *data;
        size_t len;
        ok += wsc_write(cl[i], WSC_TEXT, "hello", 5, 1000) == 0 &&
              wsc_read(sv[i], 1000, &type, &data, &len) == 0 &&
              wsc_write(sv[i], WSC_TEXT, "hello", 5, 1000) == 0 &&
              wsc_read(cl[i], 1000, &type, &data, &len) == 0 &&
              wsc_read(sv[i], 0, &type, &data, &len) == WSC_EAGAIN &&
              wsc_read(cl[i], 0, &type, &data, &len) == WSC_EAGAIN;
    }
    size_t after = mallinfo2().uordblks;
    CHECKF(ok == IDLE_PAIRS, "(f) %d of %d pairs exchanged a message and went idle", ok, IDLE_PAIRS);
    double per = (double)(after - before) / IDLE_PAIRS / 1024;
    printf("  (f) %.1f KiB of heap per idle pair (client + server)\n", per);
    CHECKF(per < 8, "(f) an idle pair holds %.1f KiB of heap (want < 8: no receive buffers)", per);
    for (int i = 0; i < made; i++) {
        wsc_conn_free(cl[i]);
        wsc_conn_free(sv[i]);
    }
    wsc_conn_free(c0);
    wsc_conn_free(s0);
#endif
}

int main(void)
{
    test_c_out_of_memory(); /* first: the child need not inherit big heaps */
    test_a_plain();
    test_b_deflate();
    test_d_partial_kept();
    test_e_stream_keeps_buffer();
    test_f_idle_holds_no_buffer();
    return check_summary("test_read_memory");
}
