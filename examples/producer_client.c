/* SPDX-License-Identifier: MIT */
/*
 * producer_client - backpressure with wsc_buffered_amount: sends COUNT binary
 * messages of SIZE bytes to an echo server as fast as the network takes
 * them, but never queues more than LIMIT bytes in wsc (or, in the browser,
 * in the browser's WebSocket). Writes use timeout 0, so they never block;
 * while too much is queued the producer stops, calls wsc_flush (natively it
 * pushes queued bytes out; in the browser, with Asyncify, it waits for the
 * browser's queue) and takes the echoes that came, checking each. It
 * prints the most that was ever queued. Portable C: only wsc.h and the C
 * standard library (in the browser it needs -sASYNCIFY, as every blocking
 * call does).
 *
 *   make examples
 *   build/native/examples/echo_server 8080 &
 *   build/native/examples/producer_client ws://127.0.0.1:8080/ [COUNT [SIZE [LIMIT]]]
 *
 * Defaults: 500 messages of 16384 bytes (under the server's 32 KiB read
 * limit), LIMIT 262144.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsc.h"

static wsc_conn *g_conn;

static void fail(const char *what, int err)
{
    fprintf(stderr, "%s: %s (%s)\n", what, wsc_last_error(), wsc_strerror(err));
    wsc_conn_free(g_conn);
    exit(EXIT_FAILURE); /* exit(), not return: see echo_client.c */
}

/* Message i: its number in the first 4 bytes, then a pattern. */
static void fill(uint8_t *buf, size_t size, uint32_t i)
{
    for (size_t k = 0; k < size; k++)
        buf[k] = (uint8_t)(i + k * 7);
    if (size >= 4)
        memcpy(buf, &i, 4);
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "ws://127.0.0.1:8080/";
    long count = argc > 2 ? atol(argv[2]) : 500;
    long size = argc > 3 ? atol(argv[3]) : 16384;
    long limit = argc > 4 ? atol(argv[4]) : 262144;
    if (count < 1 || size < 4 || limit < 0) {
        fprintf(stderr, "usage: producer_client URL [COUNT [SIZE>=4 [LIMIT]]]\n");
        exit(2);
    }
    static const char *const protocols[] = {"echo"};
    wsc_dial_options opts = {.subprotocols = protocols, .n_subprotocols = 1};
    int err = wsc_dial(url, &opts, &g_conn, NULL);
    if (err < 0)
        fail("dial", err);
    uint8_t *msg = malloc((size_t)size), *want = malloc((size_t)size);
    if (!msg || !want)
        fail("malloc", WSC_ENOMEM);

    long sent = 0, echoed = 0;
    size_t peak = 0;
    while (echoed < count) {
        /* Produce while the queue is short. */
        while (sent < count && wsc_buffered_amount(g_conn) <= (size_t)limit) {
            fill(msg, (size_t)size, (uint32_t)sent);
            err = wsc_write(g_conn, WSC_BINARY, msg, (size_t)size, 0);
            if (err == WSC_EAGAIN)
                break; /* the socket took none of it: flush first */
            if (err < 0)
                fail("write", err);
            sent++;
            size_t queued = wsc_buffered_amount(g_conn);
            peak = queued > peak ? queued : peak;
        }
        /* Let the queue drain a little. */
        err = wsc_flush(g_conn, 10);
        if (err < 0 && err != WSC_EAGAIN && err != WSC_ETIMEDOUT)
            fail("flush", err);
        /* Take the echoes that came; wait a little for one when there is
         * nothing to produce. */
        int wait = sent == count || wsc_buffered_amount(g_conn) > (size_t)limit ? 10 : 0;
        while (echoed < sent) {
            wsc_msg_type type;
            const void *data;
            size_t len;
            err = wsc_read(g_conn, wait, &type, &data, &len);
            if (err == WSC_EAGAIN || err == WSC_ETIMEDOUT)
                break;
            if (err < 0)
                fail("read", err);
            fill(want, (size_t)size, (uint32_t)echoed);
            if (type != WSC_BINARY || len != (size_t)size || memcmp(data, want, len) != 0) {
                fprintf(stderr, "echo %ld differs from what was sent\n", echoed);
                wsc_conn_free(g_conn);
                exit(EXIT_FAILURE);
            }
            echoed++;
            wait = 0;
        }
    }
    printf("sent %ld messages of %ld bytes, %ld echoes checked, at most %zu bytes queued "
           "(limit %ld)\n", sent, size, echoed, peak, limit);
    free(msg);
    free(want);
    err = wsc_close(g_conn, WSC_STATUS_NORMAL_CLOSURE, "");
    if (err < 0)
        fail("close", err);
    wsc_conn_free(g_conn);
    exit(EXIT_SUCCESS);
}
