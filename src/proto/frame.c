/* SPDX-License-Identifier: MIT */
/* frame.c - RFC 6455 frame header parsing, validation and encoding. */
#include <string.h>

#include "proto/frame.h"

int wsc__frame_parse(const uint8_t *p, size_t n, wsc_frame_header *h)
{
    if (n < 2)
        return 0;
    h->fin = (p[0] & 0x80) != 0;
    h->rsv = (p[0] >> 4) & 0x7;
    h->opcode = p[0] & 0x0F;
    h->masked = (p[1] & 0x80) != 0;
    size_t need = 2;
    uint64_t len = p[1] & 0x7F;
    if (len == 126)
        need += 2;
    else if (len == 127)
        need += 8;
    if (h->masked)
        need += 4;
    if (n < need)
        return 0;
    const uint8_t *q = p + 2;
    if (len == 126) {
        len = ((uint64_t)q[0] << 8) | q[1];
        q += 2;
    } else if (len == 127) {
        if (q[0] & 0x80)
            return -1;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | q[i];
        q += 8;
    }
    h->len = len;
    if (h->masked)
        memcpy(h->key, q, 4);
    return (int)need;
}

int wsc__frame_check(const wsc_frame_header *h, bool server, uint8_t rsv_allowed,
                    const char **why)
{
    if (h->rsv & ~rsv_allowed) {
        *why = "reserved bit set without an extension that owns it";
        return 1002;
    }
    switch (h->opcode) {
    case 0x0: case 0x1: case 0x2:
        break;
    case 0x8: case 0x9: case 0xA:
        if (!h->fin) {
            *why = "fragmented control frame";
            return 1002;
        }
        if (h->len > 125) {
            *why = "control frame payload longer than 125 bytes";
            return 1002;
        }
        if (h->rsv) {
            *why = "reserved bit set on a control frame";
            return 1002;
        }
        break;
    default:
        *why = "reserved opcode";
        return 1002;
    }
    if (server && !h->masked) {
        *why = "unmasked frame from a client";
        return 1002;
    }
    if (!server && h->masked) {
        *why = "masked frame from a server";
        return 1002;
    }
    return 0;
}

size_t wsc__frame_encode(uint8_t *out, const wsc_frame_header *h)
{
    size_t n = 2;
    out[0] = (uint8_t)((h->fin ? 0x80 : 0) | ((h->rsv & 7) << 4) | (h->opcode & 0x0F));
    uint8_t mask_bit = h->masked ? 0x80 : 0;
    if (h->len < 126) {
        out[1] = (uint8_t)(mask_bit | h->len);
    } else if (h->len <= 0xFFFF) {
        out[1] = mask_bit | 126;
        out[2] = (uint8_t)(h->len >> 8);
        out[3] = (uint8_t)h->len;
        n = 4;
    } else {
        out[1] = mask_bit | 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(h->len >> (56 - 8 * i));
        n = 10;
    }
    if (h->masked) {
        memcpy(out + n, h->key, 4);
        n += 4;
    }
    return n;
}
