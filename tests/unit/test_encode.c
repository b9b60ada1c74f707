/* SPDX-License-Identifier: MIT */
/* test_encode.c - the engine's encoder in memory: scripts of whole
 * messages, fragmented messages with control frames between the pieces,
 * and a close, in both roles, uncompressed and compressed (with and without
 * context takeover), are encoded, copied out in pieces of every size, and
 * decoded by the engine's decoder in the other role, whole and split at
 * every byte boundary; what comes out must be the script. Also: the
 * header bits (mask, RSV1, opcodes), that a frame not sent leaves the
 * encoder as it was, no data after our close frame, and the refusals. */
#include <stdlib.h>
#include <string.h>

#define CHECK_PRINT_LIMIT 20
#include "check.h"
#include "engine/decode.h"
#include "engine/encode.h"
#include "proto/mask.h"
#include "wsc.h"

/* ---- a growable byte string --------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        if (!(b->p = realloc(b->p, b->cap)))
            abort();
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void putf(bytes *b, const char *what, long a, long c)
{
    char s[80];
    int n = snprintf(s, sizeof s, "%s %ld %ld\n", what, a, c);
    put(b, s, (size_t)n);
}

/* ---- encoding a script --------------------------------------------------- */

enum { NONE, TAKEOVER, NO_TAKEOVER };

typedef struct {
    wsc_encoder e;
    wsc_deflate *z;
    bytes wire;        /* the frames as they go out */
    bytes expect;      /* what the decoder must report */
    unsigned key_seed;
    size_t copy_cap;   /* wsc__frame_out_copy's piece size for this run */
} sender;

static void next_key(sender *s, uint8_t key[4])
{
    for (int i = 0; i < 4; i++)
        key[i] = (uint8_t)rand_r(&s->key_seed);
}

/* Appends f to the wire, copied out copy_cap bytes at a time, and checks it
 * against a copy made in one go. */
static void emit(sender *s, const wsc_frame_out *f)
{
    size_t total = wsc__frame_out_size(f);
    uint8_t *whole = malloc(total + 1), *piece = malloc(s->copy_cap);
    CHECK(wsc__frame_out_copy(f, 0, whole, total + 1) == total, "a copy of a frame is its size");
    size_t at = 0;
    while (at < total) {
        size_t n = wsc__frame_out_copy(f, at, piece, s->copy_cap);
        CHECK(n > 0 && n <= s->copy_cap, "a copy gives what fits");
        CHECK(memcmp(piece, whole + at, n) == 0, "copies in pieces match the whole frame");
        put(&s->wire, piece, n);
        at += n;
    }
    CHECK(wsc__frame_out_copy(f, total, piece, s->copy_cap) == 0, "nothing after the frame");
    free(whole);
    free(piece);
    wsc__encode_sent(&s->e, f);
}

static void send_message(sender *s, uint8_t op, const void *p, size_t n)
{
    uint8_t key[4];
    wsc_frame_out f;
    next_key(s, key);
    CHECK(wsc__encode_message(&s->e, op, p, n, key, &f) == 0, "a whole message encodes");
    emit(s, &f);
    putf(&s->expect, "message", op, (long)n);
    put(&s->expect, p, n);
}

static void send_control(sender *s, uint8_t op, const char *p)
{
    uint8_t key[4];
    wsc_frame_out f;
    next_key(s, key);
    CHECK(wsc__encode_control(&s->e, op, p, strlen(p), key, &f) == 0, "a control frame encodes");
    emit(s, &f);
    if (op == WSC_OP_CLOSE) {
        putf(&s->expect, "close", 1000, (long)strlen(p) - 2);
        put(&s->expect, p + 2, strlen(p) - 2);
    } else {
        putf(&s->expect, op == WSC_OP_PING ? "ping" : "pong", 0, (long)strlen(p));
        put(&s->expect, p, strlen(p));
    }
}

/* A message in `pieces` pieces of p[0..n), the last one empty, with a ping
 * after every piece that made a frame. */
static void send_pieces(sender *s, uint8_t op, const uint8_t *p, size_t n, int pieces)
{
    wsc__encode_begin(&s->e, op);
    size_t step = n / (size_t)pieces + 1;
    for (size_t at = 0;; at += step) {
        bool fin = at >= n;
        size_t k = fin ? 0 : (n - at < step ? n - at : step);
        uint8_t key[4];
        wsc_frame_out f;
        bool framed;
        next_key(s, key);
        CHECK(wsc__encode_piece(&s->e, p + at, k, fin, key, &f, &framed) == 0, "a piece encodes");
        if (framed) {
            emit(s, &f);
            if (!fin)
                send_control(s, WSC_OP_PING, "between");
        }
        if (fin)
            break;
    }
    putf(&s->expect, "message", op, (long)n);
    put(&s->expect, p, n);
}

static wsc_pmd_params pmd_params(int mode)
{
    return (wsc_pmd_params){.enabled = true, .server_bits = 15, .client_bits = 15,
                            .server_no_takeover = mode == NO_TAKEOVER,
                            .client_no_takeover = mode == NO_TAKEOVER};
}

/* The script: whole messages of every kind and size, fragmented ones, and
 * the close. */
static void script(sender *s, bool server, int mode, size_t copy_cap, bool big)
{
    memset(s, 0, sizeof *s);
    s->key_seed = 11;
    s->copy_cap = copy_cap;
    wsc_pmd_params pp = pmd_params(mode);
    s->z = mode == NONE ? NULL
                        : wsc__deflate_new(&pp, server,
                                           mode == TAKEOVER ? WSC_COMPRESSION_CONTEXT_TAKEOVER
                                                            : WSC_COMPRESSION_NO_CONTEXT_TAKEOVER,
                                           -1);
    wsc__encoder_init(&s->e, server, s->z);

    size_t n = big ? 200000 : 3000;
    uint8_t *text = malloc(n), *noise = malloc(n);
    uint32_t x = 2463534242u; /* xorshift32: bytes deflate cannot shrink */
    for (size_t i = 0; i < n; i++) {
        text[i] = (uint8_t)("the quick brown fox "[i % 20]);
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise[i] = (uint8_t)(x >> 24);
    }
    send_message(s, WSC_OP_TEXT, "hello", 5);
    send_message(s, WSC_OP_BINARY, "", 0);
    send_control(s, WSC_OP_PONG, "unsolicited");
    send_message(s, WSC_OP_TEXT, text, n);
    send_message(s, WSC_OP_BINARY, noise, n); /* does not shrink */
    send_pieces(s, WSC_OP_TEXT, text, n, 5);
    send_pieces(s, WSC_OP_BINARY, noise, n, 3);
    send_pieces(s, WSC_OP_BINARY, (const uint8_t *)"", 0, 1);
    send_message(s, WSC_OP_TEXT, "after", 5);
    send_control(s, WSC_OP_CLOSE, "\x03\xe8" "bye");
    free(text);
    free(noise);
}

/* ---- decoding it back ---------------------------------------------------- */

/* Decodes wire as the other role, in pieces of `step` bytes (0: whole),
 * and writes what it reports to t. */
static void decode(const bytes *wire, bool server, int mode, size_t step, bytes *t)
{
    wsc_pmd_params pp = pmd_params(mode);
    wsc_deflate *z = mode == NONE ? NULL
                                  : wsc__deflate_new(&pp, server, WSC_COMPRESSION_CONTEXT_TAKEOVER, 0);
    wsc_decoder d;
    wsc__decoder_init(&d, server, z);
    d.read_limit = -1;
    uint8_t *buf = malloc(wire->len + 1), *out = malloc(65536);
    bytes msg = {0};
    size_t have = 0, fed = 0;
    bool failed = false;
    while (!failed && (fed < wire->len || have)) {
        size_t k = step && step < wire->len - fed ? step : wire->len - fed;
        memcpy(buf + have, wire->p + fed, k);
        have += k;
        fed += k;
        size_t at = 0;
        for (;;) {
            size_t used;
            wsc_dec_event ev;
            wsc_dec_kind e = wsc__decode(&d, buf + at, have - at, &used, out, 65536, &ev);
            at += used;
            if (e == WSC_DEC_MORE)
                break;
            if (e == WSC_DEC_START)
                msg.len = 0;
            else if (e == WSC_DEC_DATA)
                put(&msg, out, ev.len);
            else if (e == WSC_DEC_END) {
                putf(t, "message", ev.opcode, (long)msg.len);
                put(t, msg.p, msg.len);
            } else if (e == WSC_DEC_PING || e == WSC_DEC_PONG) {
                putf(t, e == WSC_DEC_PING ? "ping" : "pong", 0, (long)ev.len);
                put(t, ev.data, ev.len);
            } else if (e == WSC_DEC_CLOSE) {
                putf(t, "close", ev.code, (long)ev.len);
                put(t, ev.data, ev.len);
            } else {
                putf(t, "error", ev.code, ev.err);
                failed = true;
                break;
            }
        }
        memmove(buf, buf + at, have - at);
        have -= at;
        if (fed == wire->len && at == 0 && have) {
            putf(t, "left over", (long)have, 0);
            break;
        }
    }
    free(buf);
    free(out);
    free(msg.p);
    wsc__deflate_free(z);
}

static bool same(const bytes *a, const bytes *b)
{
    return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

static void round_trip(bool server, int mode)
{
    static const char *modes[] = {"uncompressed", "takeover", "no takeover"};
    char what[160];
    size_t caps[] = {1, 3, 2048, 1 << 20};
    for (size_t c = 0; c < sizeof caps / sizeof *caps; c++) {
        sender s;
        script(&s, server, mode, caps[c], true);
        bytes t = {0};
        decode(&s.wire, !server, mode, 0, &t);
        snprintf(what, sizeof what, "%s, %s, copied %zu at a time: decoded as sent",
                 server ? "server" : "client", modes[mode], caps[c]);
        CHECK(same(&t, &s.expect), what);
        /* The same wire in pieces of a few sizes. */
        size_t steps[] = {1, 13, 4096};
        for (size_t k = 0; c == 2 && k < sizeof steps / sizeof *steps; k++) {
            bytes u = {0};
            decode(&s.wire, !server, mode, steps[k], &u);
            snprintf(what, sizeof what, "%s, %s, fed %zu at a time", server ? "server" : "client",
                     modes[mode], steps[k]);
            CHECK(same(&u, &s.expect), what);
            free(u.p);
        }
        free(t.p);
        free(s.wire.p);
        free(s.expect.p);
        wsc__deflate_free(s.z);
    }

    /* A small script fed in pieces of every size. */
    sender s;
    script(&s, server, mode, 2048, false);
    int bad = 0;
    for (size_t step = 1; step < s.wire.len; step++) {
        bytes t = {0};
        decode(&s.wire, !server, mode, step, &t);
        bad += !same(&t, &s.expect);
        free(t.p);
    }
    snprintf(what, sizeof what, "%s, %s: fed in pieces of every size, decoded as sent", server ? "server" : "client",
             modes[mode]);
    CHECK(bad == 0, what);
    free(s.wire.p);
    free(s.expect.p);
    wsc__deflate_free(s.z);
}

/* ---- the frames' bits ----------------------------------------------------- */

static void test_header_bits(void)
{
    const uint8_t key[4] = {1, 2, 3, 4};
    wsc_encoder e;
    wsc_frame_out f;
    uint8_t wire[64];

    wsc__encoder_init(&e, true, NULL);
    CHECK(wsc__encode_message(&e, WSC_OP_TEXT, "abc", 3, NULL, &f) == 0, "server text");
    CHECK(!f.masked && f.hlen == 2 && f.hdr[0] == 0x81 && f.hdr[1] == 3,
          "a server's frame: FIN, text, unmasked, length 3");
    CHECK(wsc__frame_out_copy(&f, 0, wire, sizeof wire) == 5 && memcmp(wire + 2, "abc", 3) == 0,
          "a server's payload goes as it is");

    wsc__encoder_init(&e, false, NULL);
    CHECK(wsc__encode_message(&e, WSC_OP_BINARY, "abcd", 4, key, &f) == 0, "client binary");
    CHECK(f.masked && f.hlen == 6 && f.hdr[0] == 0x82 && f.hdr[1] == (0x80 | 4) &&
              memcmp(f.hdr + 2, key, 4) == 0,
          "a client's frame: masked with the key given");
    wsc__frame_out_copy(&f, 0, wire, sizeof wire);
    uint8_t plain[4];
    wsc__mask(plain, wire + 6, 4, key, 0);
    CHECK(memcmp(plain, "abcd", 4) == 0 && memcmp(wire + 6, "abcd", 4) != 0,
          "a client's payload goes masked");
    CHECK(wsc__frame_out_copy(&f, 7, wire, 2) == 2 && wire[0] == ('b' ^ key[1]) &&
              wire[1] == ('c' ^ key[2]),
          "a copy from inside the payload masks with the right key bytes");

    /* Fragmentation: first frame carries the opcode, the rest are
     * continuations; a frame that was not sent changes nothing. */
    wsc__encoder_init(&e, true, NULL);
    wsc__encode_begin(&e, WSC_OP_BINARY);
    bool framed;
    wsc__encode_piece(&e, "a", 1, false, NULL, &f, &framed);
    CHECK(framed && f.hdr[0] == 0x02, "the first piece: binary, no FIN");
    wsc__encode_piece(&e, "a", 1, false, NULL, &f, &framed); /* not sent */
    CHECK(f.hdr[0] == 0x02, "a piece not sent leaves the next one first");
    wsc__encode_sent(&e, &f);
    wsc__encode_control(&e, WSC_OP_PING, "", 0, NULL, &f);
    wsc__encode_sent(&e, &f);
    wsc__encode_piece(&e, "b", 1, true, NULL, &f, &framed);
    CHECK(f.hdr[0] == 0x80, "a later piece is a continuation, the last has FIN (a ping between "
                            "does not end the message)");
    wsc__encode_sent(&e, &f);
    CHECK(e.msg_op == 0, "the last piece ends the message");

    /* Compression: RSV1 on the first frame only; what does not shrink goes
     * plain without takeover and compressed (committed) with it. */
    for (int mode = TAKEOVER; mode <= NO_TAKEOVER; mode++) {
        wsc_pmd_params pp = pmd_params(mode);
        wsc_deflate *z = wsc__deflate_new(&pp, true,
                                          mode == TAKEOVER ? WSC_COMPRESSION_CONTEXT_TAKEOVER
                                                           : WSC_COMPRESSION_NO_CONTEXT_TAKEOVER,
                                          -1);
        wsc__encoder_init(&e, true, z);
        char text[600];
        memset(text, 'x', sizeof text);
        wsc__encode_message(&e, WSC_OP_TEXT, text, sizeof text, NULL, &f);
        CHECK(f.hdr[0] == 0xc1 && f.len < 50, "a compressible message: RSV1, shrunk");
        CHECK(f.committed == (mode == TAKEOVER), "committed only with takeover");
        uint8_t noise[16];
        for (int i = 0; i < 16; i++)
            noise[i] = (uint8_t)(i * 97 + 13);
        wsc__encode_message(&e, WSC_OP_BINARY, noise, sizeof noise, NULL, &f);
        if (mode == TAKEOVER)
            CHECK(f.hdr[0] == 0xc2 && f.committed, "with takeover, it goes compressed anyway");
        else
            CHECK(f.hdr[0] == 0x82 && f.len == 16 && f.payload == noise && !f.committed,
                  "without takeover, what does not shrink goes as it is, uncopied");
        wsc__encode_begin(&e, WSC_OP_TEXT);
        wsc__encode_piece(&e, text, sizeof text, false, NULL, &f, &framed);
        if (framed)
            wsc__encode_sent(&e, &f);
        wsc__encode_piece(&e, text, sizeof text, true, NULL, &f, &framed);
        CHECK(framed && f.committed && (f.hdr[0] & 0x40) == (e.msg_framed ? 0 : 0x40),
              "RSV1 only on a compressed message's first frame");
        wsc__deflate_free(z);
    }

    /* After our close frame: control frames still, data no more; a close
     * frame made but not sent closes nothing. */
    wsc__encoder_init(&e, true, NULL);
    wsc__encode_control(&e, WSC_OP_CLOSE, "\x03\xe8", 2, NULL, &f);
    CHECK(wsc__encode_message(&e, WSC_OP_TEXT, "x", 1, NULL, &f) == 0,
          "a close frame not sent yet does not close the encoder");
    wsc__encode_control(&e, WSC_OP_CLOSE, "\x03\xe8", 2, NULL, &f);
    wsc__encode_sent(&e, &f);
    CHECK(wsc__encode_message(&e, WSC_OP_TEXT, "x", 1, NULL, &f) == WSC_ECLOSED,
          "no message after our close frame");
    wsc__encode_begin(&e, WSC_OP_TEXT);
    CHECK(wsc__encode_piece(&e, "x", 1, true, NULL, &f, &framed) == WSC_ECLOSED && !framed,
          "no message piece after our close frame");
    CHECK(wsc__encode_control(&e, WSC_OP_PONG, "", 0, NULL, &f) == 0,
          "control frames may follow our close frame");

    /* Refusals. */
    char big[126] = {0};
    CHECK(wsc__encode_control(&e, WSC_OP_PING, big, 126, NULL, &f) == WSC_EINVAL,
          "a control frame over 125 bytes is refused");
    CHECK(wsc__encode_control(&e, WSC_OP_TEXT, "", 0, NULL, &f) == WSC_EINVAL,
          "a data opcode is not a control frame");
}

int main(void)
{
    test_header_bits();
    for (int server = 0; server <= 1; server++)
        for (int mode = NONE; mode <= NO_TAKEOVER; mode++)
            round_trip(server, mode);
    return check_summary("test_encode");
}
