/* SPDX-License-Identifier: MIT */
/*
 * echo_client - the consumer program of tests/npm/run.sh: built with emcc from
 * the installed npm package only (its wsc.h, libwsc.a and library_wsc.js).
 * Dials argv[1], sends "hello from npm", checks that the echo is the same
 * text message, closes with 1000 and exits 0; any failure exits 1.
 *
 * Portable C (only wsc.h and the C standard library). Every exit is exit(),
 * not return: with emcc 3.1.6 and Asyncify a status returned from main()
 * after a blocking call suspended it is lost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsc.h"

static void fail(const char *what, int err, wsc_conn *c)
{
    fprintf(stderr, "echo_client: %s: %s (%s)\n", what, wsc_last_error(), wsc_strerror(err));
    if (c)
        wsc_conn_free(c);
    exit(EXIT_FAILURE);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: echo_client ws://HOST:PORT/\n");
        exit(EXIT_FAILURE);
    }
    const char *url = argv[1];
    static const char msg[] = "hello from npm";
    wsc_conn *c = NULL;

    int err = wsc_dial(url, NULL, &c, NULL);
    if (err < 0)
        fail("dial", err, NULL);
    printf("connected to %s\n", url);

    err = wsc_write(c, WSC_TEXT, msg, strlen(msg), 5000);
    if (err < 0)
        fail("write", err, c);

    wsc_msg_type type;
    const void *data;
    size_t len;
    err = wsc_read(c, 5000, &type, &data, &len);
    if (err < 0)
        fail("read", err, c);
    printf("received %s \"%.*s\"\n", wsc_msg_type_string(type), (int)len, (const char *)data);
    if (type != WSC_TEXT || len != strlen(msg) || memcmp(data, msg, len) != 0) {
        fprintf(stderr, "echo_client: the echo differs from \"%s\"\n", msg);
        wsc_conn_free(c);
        exit(EXIT_FAILURE);
    }

    err = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
    if (err < 0)
        fail("close", err, c);
    printf("closed with %d\n", WSC_STATUS_NORMAL_CLOSURE);
    wsc_conn_free(c);
    exit(EXIT_SUCCESS);
}
