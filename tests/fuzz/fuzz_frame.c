/* SPDX-License-Identifier: MIT */
/* fuzz_frame.c - libFuzzer target for the frame header code (frame.h):
 * wsc__frame_parse on arbitrary bytes, checked against an independent
 * reading of RFC 6455 section 5.2; wsc__frame_check against a reference;
 * parse(encode(h)) == h; encode of a minimally encoded header gives back the
 * input bytes; every prefix of a header asks for more; wsc__close_code_valid
 * against section 7.4. Any disagreement aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/closecode.h"
#include "proto/frame.h"
#include "fuzz_common.h"

static bool same_header(const wsc_frame_header *a, const wsc_frame_header *b)
{
    if (a->fin != b->fin || a->rsv != b->rsv || a->opcode != b->opcode ||
        a->masked != b->masked || a->len != b->len)
        return false;
    return !a->masked || memcmp(a->key, b->key, 4) == 0;
}

/* RFC 6455 5.2, written out independently: the header size needed, or 0 when
 * n bytes are not enough, -1 for a 64-bit length with the top bit set. */
static int ref_parse(const uint8_t *p, size_t n, wsc_frame_header *h)
{
    if (n < 2)
        return 0;
    unsigned len7 = p[1] & 0x7F;
    size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((p[1] & 0x80) ? 4 : 0);
    if (n < need)
        return 0;
    memset(h, 0, sizeof *h);
    h->fin = p[0] >> 7;
    h->rsv = (p[0] >> 4) & 7;
    h->opcode = p[0] & 15;
    h->masked = p[1] >> 7;
    uint64_t len = len7;
    size_t at = 2;
    if (len7 == 126) {
        len = (uint64_t)p[2] * 256 + p[3];
        at = 4;
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len * 256 + p[2 + i];
        if (len >> 63)
            return -1;
        at = 10;
    }
    h->len = len;
    if (h->masked)
        for (int i = 0; i < 4; i++)
            h->key[i] = p[at + i];
    return (int)need;
}

static int ref_check(const wsc_frame_header *h, bool server, uint8_t rsv_allowed)
{
    bool control = h->opcode >= 8;
    bool known = h->opcode <= 2 || (h->opcode >= 8 && h->opcode <= 10);
    if (!known)
        return 1002;
    if (h->rsv & ~rsv_allowed & 7)
        return 1002;
    if (control && (h->rsv || !h->fin || h->len > 125))
        return 1002;
    if (h->masked != server)
        return 1002;
    return 0;
}

static bool ref_close_code(int code)
{
    if (code < 1000 || code >= 5000)
        return false;
    if (code >= 3000)
        return true;
    return code <= 1003 || (code >= 1007 && code <= 1014);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wsc_frame_header h, ref;
    memset(&h, 0xA5, sizeof h);
    int r = wsc__frame_parse(data, size, &h);
    int rr = ref_parse(data, size, &ref);
    ASSERT(r == rr);
    ASSERT(r == -1 || r == 0 || (r >= 2 && r <= WSC_FRAME_HEADER_MAX));

    if (r > 0) {
        ASSERT(same_header(&h, &ref));
        ASSERT(h.len < ((uint64_t)1 << 63));

        /* Every shorter prefix needs more bytes. */
        for (size_t m = 0; m < (size_t)r; m++) {
            wsc_frame_header q;
            ASSERT(wsc__frame_parse(data, m, &q) == 0);
        }

        /* Re-encode: shortest form, parses back to the same header. */
        uint8_t out[WSC_FRAME_HEADER_MAX + 1];
        out[WSC_FRAME_HEADER_MAX] = 0xCC;
        size_t n = wsc__frame_encode(out, &h);
        ASSERT(out[WSC_FRAME_HEADER_MAX] == 0xCC);
        size_t shortest = (h.len < 126 ? 2 : h.len <= 0xFFFF ? 4 : 10) + (h.masked ? 4 : 0);
        ASSERT(n == shortest);
        wsc_frame_header back;
        ASSERT(wsc__frame_parse(out, n, &back) == (int)n);
        ASSERT(same_header(&h, &back));
        /* A minimally encoded input comes back byte for byte. */
        if ((size_t)r == shortest)
            ASSERT(memcmp(out, data, n) == 0);
        else
            ASSERT((size_t)r > shortest); /* non-minimal input forms are longer */

        /* The check, both sides, with the RSV mask taken from the input. */
        uint8_t rsv_allowed = size > (size_t)r ? (data[r] & 7) : 0;
        for (int server = 0; server <= 1; server++) {
            const char *why = NULL;
            int c = wsc__frame_check(&h, server, rsv_allowed, &why);
            ASSERT(c == 0 || c == 1002);
            ASSERT(c == ref_check(&h, server, rsv_allowed));
            if (c)
                ASSERT(why && *why);
            c = wsc__frame_check(&h, server, 0, &why);
            ASSERT(c == ref_check(&h, server, 0));
        }

        /* A close frame's code, if the input carries one after the header. */
        if (size >= (size_t)r + 2) {
            int code = (data[r] << 8) | data[r + 1];
            ASSERT(wsc__close_code_valid(code) == ref_close_code(code));
        }
    }

    /* Encode arbitrary header fields taken from the input. */
    if (size >= 14) {
        wsc_frame_header e = {0};
        e.fin = data[0] & 1;
        e.rsv = (data[0] >> 1) & 7;
        e.opcode = (data[0] >> 4) & 15;
        e.masked = data[1] & 1;
        memcpy(e.key, data + 2, 4);
        uint64_t len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | data[6 + i];
        e.len = len >> 1; /* < 2^63 */
        if (data[1] & 2)
            e.len &= 0x1FFFF; /* often near the 16-bit boundary */
        uint8_t out[WSC_FRAME_HEADER_MAX];
        size_t n = wsc__frame_encode(out, &e);
        wsc_frame_header back;
        ASSERT(wsc__frame_parse(out, n, &back) == (int)n);
        ASSERT(same_header(&e, &back));
    }
    return 0;
}
