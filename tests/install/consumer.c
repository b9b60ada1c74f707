/* SPDX-License-Identifier: MIT */
/*
 * consumer - a program outside the tree that uses an installed wsc, built by
 * tests/install/run.sh with only `pkg-config --cflags --libs wsc`.
 *
 *   consumer PORT    dials ws://127.0.0.1:PORT/, sends one text message,
 *                    expects it echoed, closes normally; exit 0 on success
 */
#include <wsc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, int err)
{
    fprintf(stderr, "consumer: %s: %s (%s)\n", what, wsc_strerror(err), wsc_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: consumer PORT\n");
        return 2;
    }
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", atoi(argv[1]));

    wsc_conn *c;
    int err = wsc_dial(url, NULL, &c, NULL);
    if (err < 0)
        return fail("dial", err);

    const char msg[] = "hello from an installed wsc " WSC_VERSION_STRING;
    err = wsc_write(c, WSC_TEXT, msg, strlen(msg), 5000);
    if (err < 0)
        return fail("write", err);

    wsc_msg_type type;
    const void *data;
    size_t len;
    err = wsc_read(c, 5000, &type, &data, &len);
    if (err < 0)
        return fail("read", err);
    if (type != WSC_TEXT || len != strlen(msg) || memcmp(data, msg, len) != 0) {
        fprintf(stderr, "consumer: echo differs: %s %.*s\n", wsc_msg_type_string(type),
                (int)len, (const char *)data);
        return 1;
    }
    printf("consumer: echoed \"%.*s\"\n", (int)len, (const char *)data);

    err = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "");
    wsc_conn_free(c);
    if (err < 0)
        return fail("close", err);
    return 0;
}
