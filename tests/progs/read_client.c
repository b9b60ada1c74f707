/* SPDX-License-Identifier: MIT */
/*
 * read_client.c - an echo client for the interop tests.
 *
 *   read_client URL [--read-limit N]
 *
 * Dials URL, then reads messages and writes each one back unchanged. When a
 * read fails it prints
 *   CLOSED <wsc_strerror(err)> status=<wsc_close_status> reason=<wsc_close_reason>
 * and exits 0. A failed dial prints "DIAL_FAIL <wsc_strerror> <wsc_last_error>"
 * and exits 1. Bad usage exits 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsc.h"

static void usage(void)
{
    fprintf(stderr, "usage: read_client URL [--read-limit N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    long long read_limit = 0;
    int have_limit = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--read-limit") == 0) {
            char *end;
            if (i + 1 >= argc)
                usage();
            read_limit = strtoll(argv[++i], &end, 10);
            if (*end != '\0')
                usage();
            have_limit = 1;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            usage();
        } else if (url == NULL) {
            url = argv[i];
        } else {
            usage();
        }
    }
    if (url == NULL)
        usage();

    wsc_conn *c = NULL;
    int err = wsc_dial(url, NULL, &c, NULL);
    if (err != 0) {
        printf("DIAL_FAIL %s %s\n", wsc_strerror(err), wsc_last_error());
        fflush(stdout);
        /* exit(), not return: with emcc 3.1.6 and Asyncify a status returned
         * from main() after the program suspended is lost (exit status 0). */
        exit(1);
    }
    if (have_limit)
        wsc_set_read_limit(c, (int64_t)read_limit);

    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        err = wsc_read(c, -1, &type, &data, &len);
        if (err != 0)
            break;
        /* A failed write closes the connection; the next read reports why. */
        (void)wsc_write(c, type, data, len, 10000);
    }

    printf("CLOSED %s status=%d reason=%s\n", wsc_strerror(err),
           wsc_close_status(c), wsc_close_reason(c));
    fflush(stdout);
    wsc_conn_free(c);
    exit(0); /* see above */
}
