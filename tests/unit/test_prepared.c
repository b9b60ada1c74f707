/* SPDX-License-Identifier: MIT */
/* test_prepared.c - wsc_prepared_new / wsc_write_prepared: one message
 * written from many threads at once to connections that compress it alone
 * (no context takeover, sharing one compression), with context takeover,
 * and without compression; every client reads it intact; bad arguments. */
#include <stdlib.h>

#include "check.h"
#include "net.h"

#define PAIRS 6
#define ROUNDS 40

static char g_msg[5000];
static wsc_prepared *g_prep;

typedef struct {
    wsc_conn *server;
    int failures;
} writer;

static void *write_main(void *arg)
{
    writer *w = arg;
    for (int i = 0; i < ROUNDS; i++)
        w->failures += wsc_write_prepared(w->server, g_prep, 5000) != 0;
    return NULL;
}

int main(void)
{
    for (size_t i = 0; i < sizeof g_msg; i++)
        g_msg[i] = "prepared message "[i % 17];
    CHECK_OK(wsc_prepared_new(WSC_TEXT, g_msg, sizeof g_msg, &g_prep));
    CHECK(wsc_prepared_new(3, g_msg, 1, &(wsc_prepared *){0}) == WSC_EINVAL, "a bad type");
    CHECK(wsc_prepared_new(WSC_TEXT, NULL, 5, &(wsc_prepared *){0}) == WSC_EINVAL, "NULL data");
    CHECK(wsc_write_prepared(NULL, g_prep, 0) == WSC_EINVAL, "NULL connection");

    static const wsc_compression modes[PAIRS] = {
        WSC_COMPRESSION_NO_CONTEXT_TAKEOVER, WSC_COMPRESSION_NO_CONTEXT_TAKEOVER,
        WSC_COMPRESSION_NO_CONTEXT_TAKEOVER, WSC_COMPRESSION_CONTEXT_TAKEOVER,
        WSC_COMPRESSION_CONTEXT_TAKEOVER, WSC_COMPRESSION_DISABLED};
    wsc_conn *clients[PAIRS], *servers[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        wsc_dial_options d = {.compression = modes[i]};
        wsc_accept_options a = {.compression = modes[i]};
        if (i == 2) /* a smaller window: a compression of its own shape */
            a.deflate.window_bits = 10;
        if (!make_pair(&clients[i], &servers[i], &d, &a))
            return check_summary("test_prepared");
    }
    writer w[PAIRS] = {0};
    pthread_t th[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        w[i].server = servers[i];
        pthread_create(&th[i], NULL, write_main, &w[i]);
    }
    for (int i = 0; i < PAIRS; i++) {
        int good = 0;
        for (int k = 0; k < ROUNDS; k++) {
            wsc_msg_type t;
            const void *data;
            size_t len;
            if (wsc_read(clients[i], 5000, &t, &data, &len) == 0 && t == WSC_TEXT &&
                len == sizeof g_msg && memcmp(data, g_msg, len) == 0)
                good++;
        }
        CHECKF(good == ROUNDS, "pair %d (mode %d): %d of %d messages intact", i, (int)modes[i], good,
               ROUNDS);
    }
    for (int i = 0; i < PAIRS; i++) {
        pthread_join(th[i], NULL);
        CHECKF(w[i].failures == 0, "pair %d: %d failed writes", i, w[i].failures);
        wsc_conn_free(clients[i]);
        wsc_conn_free(servers[i]);
    }
    wsc_prepared_free(g_prep);
    wsc_prepared_free(NULL);
    return check_summary("test_prepared");
}
