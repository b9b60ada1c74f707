/* SPDX-License-Identifier: MIT */
/* fuzz_http_response.c - libFuzzer target for the client side of the opening
 * handshake: wsc__http_head_end + wsc__http_parse(response) on arbitrary bytes,
 * then wsc__hs_check_response for the RFC 6455 example key with a few offered
 * subprotocol lists and each compression mode. Checks that a parsed head is
 * well formed, that an accepted response really is an HTTP/1.1 101 with the
 * right Sec-WebSocket-Accept, permessage-deflate only when offered (with
 * window sizes of 8 to 15), and a subprotocol we offered (or none). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/handshake.h"
#include "proto/http.h"
#include "fuzz_common.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static void check_with(const wsc_http_head *h, const char *const *offered, size_t n,
                       wsc_compression mode)
{
    const char *proto = NULL;
    char err[300];
    err[0] = '\0';
    wsc_pmd_params pmd;
    int r = wsc__hs_check_response(h, KEY, offered, n, mode, &pmd, &proto, err, sizeof err);
    if (r != 0) {
        ASSERT(r == WSC_EHANDSHAKE);
        ASSERT(err[0]);
        return;
    }
    ASSERT(h->status == 101 && h->version == 11);
    const char *acc = wsc__http_get(h, "Sec-WebSocket-Accept");
    ASSERT(acc && strcmp(acc, ACCEPT) == 0 && wsc__http_count(h, "Sec-WebSocket-Accept") == 1);
    ASSERT(wsc__http_has_token(h, "Upgrade", "websocket"));
    ASSERT(wsc__http_has_token(h, "Connection", "upgrade"));
    ASSERT(!pmd.enabled || mode != WSC_COMPRESSION_DISABLED);
    ASSERT(!pmd.enabled || (pmd.server_bits >= 8 && pmd.server_bits <= 15 &&
                            pmd.client_bits >= 8 && pmd.client_bits <= 15));
    if (pmd.enabled)
        ASSERT(wsc__http_has_token(h, "Sec-WebSocket-Extensions", "permessage-deflate") ||
               wsc__http_get(h, "Sec-WebSocket-Extensions"));
    ASSERT(proto);
    if (*proto) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            found = found || strcmp(offered[i], proto) == 0;
        ASSERT(found);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 32768)
        return 0;
    const char *buf = (const char *)data;
    size_t end = wsc__http_head_end(buf, size);
    ASSERT(end <= size);
    size_t len = end ? end : size;

    wsc_http_head h;
    char err[300];
    memset(&h, 0x5A, sizeof h);
    if (wsc__http_parse(buf, len, false, &h, err, sizeof err) != 0) {
        ASSERT(!h.raw && !h.headers && h.n_headers == 0);
        ASSERT(err[0]);
        return 0;
    }
    ASSERT(h.status >= 100 && h.status <= 599);
    ASSERT(h.reason);
    ASSERT(h.n_headers <= 100);
    for (size_t i = 0; i < h.n_headers; i++) {
        ASSERT(h.headers[i].name[0]);
        ASSERT(!strpbrk(h.headers[i].name, " \t:\r\n"));
        ASSERT(!strchr(h.headers[i].value, '\n'));
    }

    static const char *const offered[] = {"chat", "superchat", "x"};
    check_with(&h, NULL, 0, WSC_COMPRESSION_DISABLED);
    check_with(&h, offered, 1, WSC_COMPRESSION_CONTEXT_TAKEOVER);
    check_with(&h, offered, 3, WSC_COMPRESSION_NO_CONTEXT_TAKEOVER);
    wsc__http_free(&h);
    return 0;
}
