/* SPDX-License-Identifier: MIT */
/* fuzz_encode.c - libFuzzer target for the engine's encoder, in memory: the
 * input is a script of messages, message pieces, control frames and frames
 * made but not sent; the encoder makes the frames, they are copied out in
 * pieces, and the engine's decoder (the other role) must report exactly the
 * script.
 *
 * Input: one mode byte, then operations. Mode bits: 0 our role (1: server),
 * 1-2 permessage-deflate (off, context takeover, no context takeover, 9-bit
 * windows with takeover), 3 compress every message (else the default
 * threshold), 4-5 the copy piece size (see CAPS), 6-7 the decoder's feed
 * size (see FEEDS). Each operation is one byte (its kind) and a length byte,
 * followed by that many data bytes:
 *   0 a whole message (text when the data is valid UTF-8, else binary)
 *   1 the next piece of a piece-by-piece binary message (begun if none is)
 *   2 the last piece of it
 *   3 a ping or pong (by the length's low bit), at most 125 bytes
 *   4 a whole message made and not sent: dropped unless committed
 * A message left open is ended, then a close frame ends the script. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "engine/decode.h"
#include "engine/encode.h"
#include "fuzz_common.h"
#include "wsc.h"

static const size_t CAPS[4] = {1, 5, 2048, 1 << 20};
static const size_t FEEDS[4] = {1, 7, 300, 1 << 20};

typedef struct {
    uint8_t *p;
    size_t len, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        ASSERT(b->p);
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* One transcript entry: kind, a number, the length, the bytes. */
static void note(bytes *t, uint8_t kind, int num, const void *p, size_t n)
{
    uint8_t head[9] = {kind, (uint8_t)(num >> 8), (uint8_t)num};
    for (int i = 0; i < 6; i++)
        head[3 + i] = (uint8_t)(n >> (8 * i));
    put(t, head, sizeof head);
    put(t, p, n);
}

typedef struct {
    wsc_encoder e;
    bytes wire, expect, msg;
    size_t cap;
    uint8_t key[4];
} sender;

static void emit(sender *s, const wsc_frame_out *f)
{
    uint8_t *piece = malloc(s->cap);
    ASSERT(piece);
    size_t total = wsc__frame_out_size(f);
    for (size_t at = 0; at < total;) {
        size_t n = wsc__frame_out_copy(f, at, piece, s->cap);
        ASSERT(n > 0 && n <= s->cap);
        put(&s->wire, piece, n);
        at += n;
    }
    free(piece);
    wsc__encode_sent(&s->e, f);
    s->key[0] += 77; /* a different key for each frame */
    s->key[3] ^= s->key[0];
}

static void piece(sender *s, const uint8_t *p, size_t n, bool fin)
{
    wsc_frame_out f;
    bool framed;
    if (s->e.msg_op == 0) {
        wsc__encode_begin(&s->e, WSC_OP_BINARY);
        s->msg.len = 0;
    }
    ASSERT(wsc__encode_piece(&s->e, p, n, fin, s->key, &f, &framed) == 0);
    put(&s->msg, p, n);
    if (framed)
        emit(s, &f);
    ASSERT(framed || !fin);
    if (fin)
        note(&s->expect, 'M', WSC_OP_BINARY, s->msg.p, s->msg.len);
}

/* Decodes the wire as the other role, fed `feed` bytes at a time. */
static void decode(const bytes *wire, bool server, wsc_deflate *z, size_t feed, bytes *t)
{
    wsc_decoder d;
    wsc__decoder_init(&d, server, z);
    d.read_limit = -1;
    uint8_t *buf = malloc(wire->len + 1), *out = malloc(4096);
    ASSERT(buf && out);
    bytes msg = {0};
    size_t have = 0, fed = 0;
    for (;;) {
        size_t k = wire->len - fed < feed ? wire->len - fed : feed;
        memcpy(buf + have, wire->p + fed, k);
        have += k;
        fed += k;
        size_t at = 0, used;
        wsc_dec_event ev;
        wsc_dec_kind e;
        while ((e = wsc__decode(&d, buf + at, have - at, &used, out, 4096, &ev)) != WSC_DEC_MORE) {
            at += used;
            if (e == WSC_DEC_START)
                msg.len = 0;
            else if (e == WSC_DEC_DATA)
                put(&msg, out, ev.len);
            else if (e == WSC_DEC_END)
                note(t, 'M', ev.opcode, msg.p, msg.len);
            else if (e == WSC_DEC_PING || e == WSC_DEC_PONG)
                note(t, e == WSC_DEC_PING ? 'I' : 'O', 0, ev.data, ev.len);
            else if (e == WSC_DEC_CLOSE)
                note(t, 'C', ev.code, ev.data, ev.len);
            else {
                fprintf(stderr, "decode error %d: %s\n", ev.code, ev.why);
                ASSERT(e != WSC_DEC_ERROR);
            }
        }
        at += used;
        memmove(buf, buf + at, have - at);
        have -= at;
        if (fed == wire->len)
            break;
    }
    ASSERT(have == 0);
    free(buf);
    free(out);
    free(msg.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    bool server = mode & 1;
    int pmd = (mode >> 1) & 3;
    wsc_pmd_params pp = {.enabled = true, .server_bits = pmd == 3 ? 9 : 15,
                         .client_bits = pmd == 3 ? 9 : 15,
                         .server_no_takeover = pmd == 2, .client_no_takeover = pmd == 2};
    wsc_compression cm = pmd == 2 ? WSC_COMPRESSION_NO_CONTEXT_TAKEOVER
                                  : WSC_COMPRESSION_CONTEXT_TAKEOVER;
    wsc_deflate *tx = pmd ? wsc__deflate_new(&pp, server, cm, (mode & 8) ? -1 : 0) : NULL;
    wsc_deflate *rx = pmd ? wsc__deflate_new(&pp, !server, cm, 0) : NULL;
    ASSERT(!pmd || (tx && rx));

    sender s = {.cap = CAPS[(mode >> 4) & 3], .key = {0x12, 0x34, 0x56, 0x78}};
    wsc__encoder_init(&s.e, server, tx);
    size_t at = 1;
    while (at + 2 <= size) {
        uint8_t kind = data[at] % 5;
        size_t n = data[at + 1];
        at += 2;
        if (n > size - at)
            n = size - at;
        const uint8_t *p = data + at;
        at += n;
        wsc_frame_out f;
        if (kind == 1 || kind == 2 || (s.e.msg_op && (kind == 0 || kind == 4))) {
            piece(&s, p, n, kind == 2);
        } else if (kind == 3) {
            uint8_t op = (n & 1) ? WSC_OP_PONG : WSC_OP_PING;
            size_t len = n > 125 ? 125 : n;
            ASSERT(wsc__encode_control(&s.e, op, p, len, s.key, &f) == 0);
            emit(&s, &f);
            note(&s.expect, op == WSC_OP_PING ? 'I' : 'O', 0, p, len);
        } else {
            bool text = wsc__utf8_feed(WSC_UTF8_ACCEPT, p, n) == WSC_UTF8_ACCEPT;
            uint8_t op = text ? WSC_OP_TEXT : WSC_OP_BINARY;
            ASSERT(wsc__encode_message(&s.e, op, p, n, s.key, &f) == 0);
            if (kind == 4 && !f.committed)
                continue; /* not sent: as if never made */
            emit(&s, &f);
            note(&s.expect, 'M', op, p, n);
        }
    }
    if (s.e.msg_op)
        piece(&s, NULL, 0, true);
    wsc_frame_out f;
    ASSERT(wsc__encode_control(&s.e, WSC_OP_CLOSE, "\x03\xe8" "ok", 4, s.key, &f) == 0);
    emit(&s, &f);
    note(&s.expect, 'C', 1000, "ok", 2);
    ASSERT(wsc__encode_message(&s.e, WSC_OP_TEXT, "x", 1, s.key, &f) == WSC_ECLOSED);

    bytes t = {0};
    decode(&s.wire, !server, rx, FEEDS[mode >> 6], &t);
    ASSERT(t.len == s.expect.len && memcmp(t.p, s.expect.p, t.len) == 0);
    free(t.p);
    free(s.wire.p);
    free(s.expect.p);
    free(s.msg.p);
    wsc__deflate_free(tx);
    wsc__deflate_free(rx);
    return 0;
}
