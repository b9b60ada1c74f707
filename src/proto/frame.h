/* SPDX-License-Identifier: MIT */
/* frame.h - RFC 6455 frame headers: parse, check and encode (no I/O). */
#ifndef WSC_FRAME_H
#define WSC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


enum {
    WSC_OP_CONT = 0x0,
    WSC_OP_TEXT = 0x1,
    WSC_OP_BINARY = 0x2,
    WSC_OP_CLOSE = 0x8,
    WSC_OP_PING = 0x9,
    WSC_OP_PONG = 0xA
};

#define WSC_FRAME_HEADER_MAX 14 /* 2 + 8 (length) + 4 (mask key) */

typedef struct {
    bool fin;
    uint8_t rsv;        /* RSV1..3 as bits 0x4, 0x2, 0x1 */
    uint8_t opcode;
    bool masked;
    uint8_t key[4];     /* valid when masked */
    uint64_t len;       /* payload length */
} wsc_frame_header;

/* Parses a frame header from the n bytes at p. Returns the header's size
 * (2..14) and fills *h; 0 if more bytes are needed; -1 if the 64-bit length
 * has its most significant bit set (a protocol error). */
int wsc__frame_parse(const uint8_t *p, size_t n, wsc_frame_header *h);

/* Checks a parsed header against RFC 6455 for a receiver. `server` says
 * whether we are the server (then frames must be masked, else they must not
 * be); `rsv_allowed` holds the RSV bits an extension owns. Returns 0 or the
 * close code to fail with (1002), and a static reason in *why. */
int wsc__frame_check(const wsc_frame_header *h, bool server, uint8_t rsv_allowed,
                    const char **why);

/* Writes the header for h into out (at least WSC_FRAME_HEADER_MAX bytes),
 * using the shortest length form. Returns its size. */
size_t wsc__frame_encode(uint8_t *out, const wsc_frame_header *h);

#endif
