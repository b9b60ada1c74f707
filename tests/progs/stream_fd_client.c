/* SPDX-License-Identifier: MIT */
/*
 * stream_fd_client.c - wsc_stream_fd as a program, for the interop tests.
 *
 *   stream_fd_client URL [--send N] [--keep-open] [--read-limit N]
 *
 * Dials URL and takes a binary stream fd on the connection. A thread writes
 * N bytes (byte i = i % 251, as lib.mjs's pattern) into the fd and then
 * half-closes it with shutdown(SHUT_WR), unless --keep-open; meanwhile the
 * main thread reads the fd to end of stream. Then it prints
 *   SENT <bytes written into the fd> <errno text or OK>
 *   RECEIVED <bytes> fnv=<32-bit FNV-1a of them>
 *   END <wsc_strerror(wsc_stream_fd_error)> status=<wsc_close_status> detail=<wsc_last_error>
 * and exits 0 when wsc_stream_fd_error gave 0, else 1. A failed dial prints
 * "DIAL_FAIL <wsc_strerror> <wsc_last_error>" and exits 1; bad usage exits 2.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wsc.h"

typedef struct {
    int fd;
    size_t n;           /* bytes to write */
    int keep_open;      /* no shutdown(SHUT_WR) after them */
    size_t sent;
    int err;            /* errno of the failed write, 0 if none */
} writer;

static void *write_thread(void *arg)
{
    writer *w = arg;
    uint8_t buf[65536];
    while (w->sent < w->n) {
        size_t k = w->n - w->sent < sizeof buf ? w->n - w->sent : sizeof buf;
        for (size_t i = 0; i < k; i++)
            buf[i] = (uint8_t)((w->sent + i) % 251);
        ssize_t r = send(w->fd, buf, k, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            w->err = errno;
            return NULL;
        }
        w->sent += (size_t)r;
    }
    if (!w->keep_open)
        shutdown(w->fd, SHUT_WR);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: stream_fd_client URL [--send N] [--keep-open] [--read-limit N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    writer w = {.fd = -1};
    long long read_limit = 0;
    int have_limit = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--send") == 0 && i + 1 < argc) {
            w.n = strtoull(argv[++i], &end, 10);
        } else if (strcmp(argv[i], "--read-limit") == 0 && i + 1 < argc) {
            read_limit = strtoll(argv[++i], &end, 10);
            have_limit = 1;
        } else if (strcmp(argv[i], "--keep-open") == 0) {
            w.keep_open = 1;
        } else if (!url && argv[i][0] != '-') {
            url = argv[i];
        } else {
            usage();
        }
        if (end && *end != '\0')
            usage();
    }
    if (!url)
        usage();

    wsc_conn *c;
    int r = wsc_dial(url, NULL, &c, NULL);
    if (r != 0) {
        printf("DIAL_FAIL %s %s\n", wsc_strerror(r), wsc_last_error());
        return 1;
    }
    if (have_limit)
        wsc_set_read_limit(c, read_limit);
    r = wsc_stream_fd(c, WSC_BINARY, &w.fd);
    if (r != 0) {
        printf("STREAM_FAIL %s %s\n", wsc_strerror(r), wsc_last_error());
        return 1;
    }
    pthread_t th;
    pthread_create(&th, NULL, write_thread, &w);

    size_t got = 0;
    uint32_t fnv = 0x811c9dc5;
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = recv(w.fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            fnv ^= buf[i];
            fnv *= 0x01000193;
        }
        got += (size_t)n;
    }
    pthread_join(th, NULL); /* its writes fail once the stream ended */
    printf("SENT %zu %s\n", w.sent, w.err ? strerror(w.err) : "OK");
    printf("RECEIVED %zu fnv=%08x\n", got, (unsigned)fnv);
    int err = wsc_stream_fd_error(c);
    printf("END %s status=%d detail=%s\n", wsc_strerror(err), wsc_close_status(c), wsc_last_error());
    close(w.fd);
    wsc_conn_free(c);
    return err == 0 ? 0 : 1;
}
