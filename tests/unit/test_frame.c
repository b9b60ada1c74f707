/* SPDX-License-Identifier: MIT */
/* test_frame.c - frame headers: encode/parse round trips at every length
 * boundary, partial headers, the 64-bit length's top bit, wsc__frame_check
 * (RSV bits, opcodes, control frames, masking) and wsc__close_code_valid. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "wsc.h"
#include "common/closecode.h"
#include "proto/frame.h"
#include "check.h"

static bool same_header(const wsc_frame_header *a, const wsc_frame_header *b)
{
    if (a->fin != b->fin || a->rsv != b->rsv || a->opcode != b->opcode ||
        a->masked != b->masked || a->len != b->len)
        return false;
    return !a->masked || memcmp(a->key, b->key, 4) == 0;
}

/* The size the shortest length form needs for len. */
static size_t expected_size(uint64_t len, bool masked)
{
    size_t n = len < 126 ? 2 : len <= 0xFFFF ? 4 : 10;
    return n + (masked ? 4 : 0);
}

static void test_round_trip(void)
{
    static const uint64_t lens[] = {
        0, 1, 125, 126, 127, 65535, 65536,
        (uint64_t)1 << 32,                /* 4 GiB */
        ((uint64_t)1 << 32) + 1,          /* > 4 GiB */
        ((uint64_t)1 << 63) - 1,          /* the largest legal length */
    };
    static const uint8_t ops[] = {WSC_OP_CONT, WSC_OP_TEXT, WSC_OP_BINARY};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (int masked = 0; masked <= 1; masked++) {
            for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
                wsc_frame_header h = {.fin = (k & 1) == 0, .rsv = 0, .opcode = ops[k],
                                      .masked = masked != 0, .len = lens[i],
                                      .key = {0xA1, 0x00, 0xFF, 0x5C}};
                uint8_t buf[WSC_FRAME_HEADER_MAX + 4];
                memset(buf, 0xEE, sizeof buf);
                size_t n = wsc__frame_encode(buf, &h);
                size_t want = expected_size(lens[i], masked);
                CHECKF(n == want, "len %llu masked %d: header size %zu, expected %zu",
                       (unsigned long long)lens[i], masked, n, want);
                CHECKF(buf[n] == 0xEE, "len %llu masked %d: encode wrote past its size",
                       (unsigned long long)lens[i], masked);
                wsc_frame_header p;
                memset(&p, 0x55, sizeof p);
                int r = wsc__frame_parse(buf, n, &p);
                CHECKF(r == (int)want, "len %llu masked %d: parse returned %d, expected %zu",
                       (unsigned long long)lens[i], masked, r, want);
                CHECKF(same_header(&h, &p), "len %llu masked %d op %u: parse(encode(h)) != h",
                       (unsigned long long)lens[i], masked, ops[k]);
                /* Extra bytes after the header do not change the result. */
                r = wsc__frame_parse(buf, sizeof buf, &p);
                CHECKF(r == (int)want && same_header(&h, &p),
                       "len %llu masked %d: parse with trailing bytes",
                       (unsigned long long)lens[i], masked);
                /* Every shorter prefix asks for more. */
                for (size_t m = 0; m < n; m++) {
                    wsc_frame_header q;
                    CHECKF(wsc__frame_parse(buf, m, &q) == 0,
                           "len %llu masked %d: prefix of %zu bytes must return 0",
                           (unsigned long long)lens[i], masked, m);
                }
            }
        }
    }
}

/* The exact bytes of a few headers (RFC 6455 section 5.7 examples and the
 * length forms). */
static void test_wire_bytes(void)
{
    uint8_t buf[WSC_FRAME_HEADER_MAX];
    wsc_frame_header h = {.fin = true, .opcode = WSC_OP_TEXT, .len = 5};
    size_t n = wsc__frame_encode(buf, &h);
    CHECK(n == 2 && buf[0] == 0x81 && buf[1] == 0x05, "unmasked \"Hello\" header is 81 05");

    h = (wsc_frame_header){.fin = true, .opcode = WSC_OP_TEXT, .masked = true, .len = 5,
                           .key = {0x37, 0xfa, 0x21, 0x3d}};
    n = wsc__frame_encode(buf, &h);
    static const uint8_t masked_hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d};
    CHECK(n == 6 && memcmp(buf, masked_hello, 6) == 0, "masked \"Hello\" header is 81 85 37 fa 21 3d");

    h = (wsc_frame_header){.fin = false, .opcode = WSC_OP_TEXT, .len = 3};
    n = wsc__frame_encode(buf, &h);
    CHECK(n == 2 && buf[0] == 0x01 && buf[1] == 0x03, "first fragment header is 01 03");

    h = (wsc_frame_header){.fin = true, .opcode = WSC_OP_PING, .len = 5};
    n = wsc__frame_encode(buf, &h);
    CHECK(n == 2 && buf[0] == 0x89 && buf[1] == 0x05, "ping header is 89 05");

    h = (wsc_frame_header){.fin = true, .opcode = WSC_OP_BINARY, .len = 256};
    n = wsc__frame_encode(buf, &h);
    static const uint8_t b256[] = {0x82, 0x7E, 0x01, 0x00};
    CHECK(n == 4 && memcmp(buf, b256, 4) == 0, "256-byte binary header is 82 7E 01 00");

    h = (wsc_frame_header){.fin = true, .opcode = WSC_OP_BINARY, .len = 65536};
    n = wsc__frame_encode(buf, &h);
    static const uint8_t b64k[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};
    CHECK(n == 10 && memcmp(buf, b64k, 10) == 0, "64 KiB binary header is 82 7F 00 00 00 00 00 01 00 00");

    h = (wsc_frame_header){.fin = true, .rsv = 0x7, .opcode = 0xF, .len = 0};
    n = wsc__frame_encode(buf, &h);
    CHECK(n == 2 && buf[0] == 0xFF && buf[1] == 0x00, "all RSV bits and opcode 0xF encode as FF");
    wsc_frame_header p;
    CHECK(wsc__frame_parse(buf, n, &p) == 2 && p.rsv == 7 && p.opcode == 0xF && p.fin,
          "all RSV bits and opcode 0xF parse back");

    /* Each RSV bit on its own goes to the right place. */
    static const uint8_t rsv_bits[] = {0x4, 0x2, 0x1};
    static const uint8_t rsv_wire[] = {0x40, 0x20, 0x10};
    for (int i = 0; i < 3; i++) {
        h = (wsc_frame_header){.fin = false, .rsv = rsv_bits[i], .opcode = WSC_OP_BINARY};
        n = wsc__frame_encode(buf, &h);
        CHECKF(n == 2 && buf[0] == (rsv_wire[i] | 0x02), "RSV bit 0x%x encodes as 0x%02x",
               rsv_bits[i], rsv_wire[i]);
        CHECKF(wsc__frame_parse(buf, n, &p) == 2 && p.rsv == rsv_bits[i],
               "RSV bit 0x%x parses back", rsv_bits[i]);
    }
}

static void test_parse_edge(void)
{
    wsc_frame_header h;
    /* 127 with the most significant bit of the 64-bit length set. */
    uint8_t top[10] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0};
    CHECK(wsc__frame_parse(top, sizeof top, &h) == -1, "64-bit length with the top bit set is -1");
    uint8_t top_all[10] = {0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    CHECK(wsc__frame_parse(top_all, sizeof top_all, &h) == -1, "64-bit length 2^64-1 is -1");
    uint8_t top_masked[14] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    CHECK(wsc__frame_parse(top_masked, sizeof top_masked, &h) == -1,
          "masked 64-bit length with the top bit set is -1");
    for (size_t m = 0; m < 10; m++)
        CHECKF(wsc__frame_parse(top, m, &h) == 0, "prefix %zu of a top-bit header returns 0", m);
    uint8_t max_ok[10] = {0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    CHECK(wsc__frame_parse(max_ok, sizeof max_ok, &h) == 10 && h.len == ((uint64_t)1 << 63) - 1,
          "64-bit length 2^63-1 parses");

    /* Parse of masked headers puts the key in place. */
    uint8_t mk[8] = {0x81, 0xFE, 0x01, 0x00, 9, 8, 7, 6};
    CHECK(wsc__frame_parse(mk, sizeof mk, &h) == 8 && h.masked && h.len == 256 &&
              memcmp(h.key, "\x09\x08\x07\x06", 4) == 0,
          "masked 16-bit length header: size 8, length 256, key");
    CHECK(wsc__frame_parse(mk, 0, &h) == 0, "empty input returns 0");
}

/* Result of wsc__frame_check: 0 ok, 1002 refused (with a reason). */
static int check(wsc_frame_header h, bool server, uint8_t rsv_allowed)
{
    const char *why = NULL;
    int r = wsc__frame_check(&h, server, rsv_allowed, &why);
    if (r != 0 && (!why || !*why))
        return -1; /* a refusal must say why */
    return r;
}

static void test_check(void)
{
    /* A well-formed frame from each side. */
    wsc_frame_header from_client = {.fin = true, .opcode = WSC_OP_TEXT, .masked = true, .len = 10};
    wsc_frame_header from_server = {.fin = true, .opcode = WSC_OP_TEXT, .masked = false, .len = 10};
    CHECK(check(from_client, true, 0) == 0, "masked text frame to a server is fine");
    CHECK(check(from_server, false, 0) == 0, "unmasked text frame to a client is fine");

    /* Masking rules, both directions. */
    CHECK(check(from_server, true, 0) == 1002, "server refuses an unmasked frame");
    CHECK(check(from_client, false, 0) == 1002, "client refuses a masked frame");
    wsc_frame_header ping_unmasked = {.fin = true, .opcode = WSC_OP_PING, .len = 0};
    wsc_frame_header ping_masked = {.fin = true, .opcode = WSC_OP_PING, .masked = true, .len = 0};
    CHECK(check(ping_unmasked, true, 0) == 1002, "server refuses an unmasked ping");
    CHECK(check(ping_masked, false, 0) == 1002, "client refuses a masked ping");
    CHECK(check(ping_masked, true, 0) == 0, "server takes a masked ping");
    CHECK(check(ping_unmasked, false, 0) == 0, "client takes an unmasked ping");

    /* RSV bits: each refused unless allowed. */
    static const uint8_t bits[] = {0x4, 0x2, 0x1};
    for (int i = 0; i < 3; i++) {
        for (int server = 0; server <= 1; server++) {
            wsc_frame_header h = {.fin = true, .rsv = bits[i], .opcode = WSC_OP_BINARY,
                                  .masked = server != 0, .len = 3};
            CHECKF(check(h, server, 0) == 1002, "RSV 0x%x refused without an extension (server %d)",
                   bits[i], server);
            CHECKF(check(h, server, bits[i]) == 0, "RSV 0x%x allowed when the extension owns it (server %d)",
                   bits[i], server);
            CHECKF(check(h, server, 0x7) == 0, "RSV 0x%x allowed with all bits owned (server %d)",
                   bits[i], server);
            for (int j = 0; j < 3; j++)
                if (j != i)
                    CHECKF(check(h, server, bits[j]) == 1002,
                           "RSV 0x%x refused when only 0x%x is owned (server %d)", bits[i], bits[j], server);
            /* Continuation frames follow the same rule. */
            h.opcode = WSC_OP_CONT;
            CHECKF(check(h, server, 0) == 1002, "RSV 0x%x on a continuation refused (server %d)",
                   bits[i], server);
            /* Control frames never carry RSV bits, owned or not (RFC 7692 6.1). */
            h.opcode = WSC_OP_PING;
            CHECKF(check(h, server, bits[i]) == 1002, "RSV 0x%x on a ping refused (server %d)",
                   bits[i], server);
        }
    }

    /* Opcodes. */
    for (int op = 0; op < 16; op++) {
        for (int server = 0; server <= 1; server++) {
            wsc_frame_header h = {.fin = true, .opcode = (uint8_t)op, .masked = server != 0, .len = 0};
            bool reserved = (op >= 3 && op <= 7) || op >= 0xB;
            CHECKF(check(h, server, 0) == (reserved ? 1002 : 0), "opcode 0x%X %s (server %d)", op,
                   reserved ? "refused as reserved" : "accepted", server);
            /* Reserved stays reserved whatever RSV bits are allowed. */
            if (reserved)
                CHECKF(check(h, server, 7) == 1002, "opcode 0x%X refused with rsv_allowed 7", op);
        }
    }

    /* Control frames: FIN, length. */
    static const uint8_t ctl[] = {WSC_OP_CLOSE, WSC_OP_PING, WSC_OP_PONG};
    for (int i = 0; i < 3; i++) {
        for (int server = 0; server <= 1; server++) {
            wsc_frame_header h = {.fin = true, .opcode = ctl[i], .masked = server != 0, .len = 125};
            CHECKF(check(h, server, 0) == 0, "control 0x%X with 125 bytes accepted (server %d)", ctl[i], server);
            h.len = 126;
            CHECKF(check(h, server, 0) == 1002, "control 0x%X with 126 bytes refused (server %d)", ctl[i], server);
            h.len = 65536;
            CHECKF(check(h, server, 0) == 1002, "control 0x%X with 65536 bytes refused (server %d)", ctl[i], server);
            h.len = 0;
            h.fin = false;
            CHECKF(check(h, server, 0) == 1002, "control 0x%X with FIN=0 refused (server %d)", ctl[i], server);
        }
    }

    /* Data frames: FIN=0 and big lengths are fine. */
    wsc_frame_header big = {.fin = false, .opcode = WSC_OP_BINARY, .masked = true,
                            .len = ((uint64_t)1 << 63) - 1};
    CHECK(check(big, true, 0) == 0, "non-final data frame with a huge length passes the check");
    big.opcode = WSC_OP_CONT;
    big.fin = true;
    CHECK(check(big, true, 0) == 0, "final continuation passes the check");

    const char *why = NULL;
    CHECK(wsc__frame_check(&from_server, true, 0, &why) == 1002 && why && *why, "refusal sets a reason");
}

static void test_close_codes(void)
{
    static const struct {
        int code;
        bool ok;
    } cases[] = {
        {-1, false}, {0, false}, {1, false}, {999, false},
        {1000, true}, {1001, true}, {1002, true}, {1003, true},
        {1004, false}, {1005, false}, {1006, false},
        {1007, true}, {1008, true}, {1009, true}, {1010, true}, {1011, true},
        {1012, true}, {1013, true}, {1014, true},
        {1015, false}, {1016, false}, {1100, false}, {2000, false}, {2999, false},
        {3000, true}, {3999, true}, {4000, true}, {4999, true},
        {5000, false}, {65535, false}, {65536, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECKF(wsc__close_code_valid(cases[i].code) == cases[i].ok, "close code %d is %s",
               cases[i].code, cases[i].ok ? "valid" : "invalid");
}

int main(void)
{
    test_round_trip();
    test_wire_bytes();
    test_parse_edge();
    test_check();
    test_close_codes();
    return check_summary("test_frame");
}
