/* SPDX-License-Identifier: MIT */
/* fuzz_decode.c - libFuzzer target for the engine's decoder, in memory (no
 * sockets, no threads).
 *
 * Input: one mode byte, then the bytes a peer sends after the handshake.
 * Mode bits: 0 our role (1: server, frames must come masked), 1-2
 * permessage-deflate (off, context takeover, no context takeover, 9-bit
 * windows), 3-5 the read limit (see LIMITS), 6-7 how the bytes arrive the
 * second time (a byte at a time, 7 at a time, 61 at a time, or straight
 * into the destination when the decoder says payload comes next).
 *
 * The bytes are decoded twice: whole, with room for any message, then in
 * pieces with 5 bytes of room per call (a little more in long messages). Checked: both runs give the same
 * events; messages are TEXT or BINARY, within the read limit, text is
 * valid UTF-8; a close code is one a peer may send; an error's close code is
 * 1002, 1007, 1009 or 1011 and every later call repeats it; each call makes
 * progress or asks for more; everything is freed. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/closecode.h"
#include "common/utf8.h"
#include "engine/decode.h"
#include "fuzz_common.h"
#include "wsc.h"

static const int64_t LIMITS[8] = {-1, 0, 1, 125, 300, 1000, 5000, 65536};
static const size_t PIECES[4] = {1, 7, 61, 1000};

/* A running digest of events: equal digests mean equal event sequences
 * (FNV-1a over every event's kind, numbers and bytes). */
typedef struct {
    uint64_t h;
    size_t events;
} digest;

static void mix(digest *g, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        g->h = (g->h ^ b[i]) * 0x100000001b3ull;
}

static void mix_num(digest *g, int64_t v)
{
    mix(g, &v, sizeof v);
}

/* One run's state. */
typedef struct {
    wsc_decoder d;
    wsc_deflate *z;
    digest g;
    uint8_t *msg; /* the message so far (its data is mixed in at its end) */
    size_t msg_len, msg_cap;
    int op;
    int64_t limit;
    bool failed, closed;
} run;

static void run_init(run *r, uint8_t mode)
{
    memset(r, 0, sizeof *r);
    r->g.h = 0xcbf29ce484222325ull;
    bool server = mode & 1;
    int deflate = (mode >> 1) & 3;
    if (deflate) {
        wsc_pmd_params p = {.enabled = true, .server_bits = 15, .client_bits = 15};
        p.server_no_takeover = p.client_no_takeover = deflate == 2;
        if (deflate == 3)
            p.server_bits = p.client_bits = 9;
        r->z = wsc__deflate_new(&p, server,
                               deflate == 2 ? WSC_COMPRESSION_NO_CONTEXT_TAKEOVER
                                            : WSC_COMPRESSION_CONTEXT_TAKEOVER,
                               0);
        ASSERT(r->z);
    }
    wsc__decoder_init(&r->d, server, r->z);
    r->limit = LIMITS[(mode >> 3) & 7];
    r->d.read_limit = r->limit;
}

static void run_free(run *r)
{
    free(r->msg);
    wsc__deflate_free(r->z);
}

/* Handles one event (not MORE); data is at out. */
static void on_event(run *r, wsc_dec_kind e, const wsc_dec_event *ev, const uint8_t *out)
{
    if (e != WSC_DEC_DATA) { /* how data comes in pieces depends on the room given */
        mix_num(&r->g, e);
        r->g.events++;
    }
    switch (e) {
    case WSC_DEC_START:
        ASSERT(ev->opcode == WSC_OP_TEXT || ev->opcode == WSC_OP_BINARY);
        ASSERT(ev->compressed ? r->z != NULL : true);
        r->op = ev->opcode;
        r->msg_len = 0;
        mix_num(&r->g, ev->opcode * 2 + ev->compressed);
        break;
    case WSC_DEC_DATA:
        ASSERT(r->op != 0);
        if (r->msg_len + ev->len > r->msg_cap) {
            r->msg_cap = (r->msg_len + ev->len) * 2;
            r->msg = realloc(r->msg, r->msg_cap);
            ASSERT(r->msg);
        }
        if (ev->len)
            memcpy(r->msg + r->msg_len, out, ev->len);
        r->msg_len += ev->len;
        ASSERT(r->limit < 0 || r->msg_len <= (uint64_t)r->limit);
        break;
    case WSC_DEC_END:
        ASSERT(ev->opcode == r->op);
        if (r->op == WSC_OP_TEXT)
            ASSERT(wsc__utf8_feed(WSC_UTF8_ACCEPT, r->msg, r->msg_len) == WSC_UTF8_ACCEPT);
        mix_num(&r->g, (int64_t)r->msg_len);
        mix(&r->g, r->msg, r->msg_len);
        r->op = 0;
        break;
    case WSC_DEC_PING:
    case WSC_DEC_PONG:
        ASSERT(ev->len <= 125);
        mix(&r->g, ev->data, ev->len);
        break;
    case WSC_DEC_CLOSE:
        ASSERT(ev->code == WSC_STATUS_NO_STATUS_RCVD || wsc__close_code_valid(ev->code));
        ASSERT(ev->len <= 123);
        ASSERT(wsc__utf8_feed(WSC_UTF8_ACCEPT, ev->data, ev->len) == WSC_UTF8_ACCEPT);
        mix_num(&r->g, ev->code);
        mix(&r->g, ev->data, ev->len);
        r->closed = true;
        break;
    case WSC_DEC_ERROR:
        ASSERT(ev->code == 1002 || ev->code == 1007 || ev->code == 1009 || ev->code == 1011);
        ASSERT(ev->err == WSC_EPROTO || ev->err == WSC_EMSGSIZE || ev->err == WSC_ENOMEM);
        ASSERT((ev->code == 1009) == (ev->err == WSC_EMSGSIZE));
        ASSERT(ev->why && ev->why[0]);
        mix_num(&r->g, ev->code);
        r->failed = true;
        break;
    default:
        ASSERT(0);
    }
}

/* Decodes in[0..n) into out until MORE or the end (a close or an error).
 * Returns the bytes used. */
static size_t decode_some(run *r, uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t at = 0;
    int idle = 0; /* events in a row that used no input */
    while (!r->failed && !r->closed) {
        size_t used;
        wsc_dec_event ev;
        wsc_dec_kind e = wsc__decode(&r->d, in + at, n - at, &used, out, cap, &ev);
        ASSERT(used <= n - at);
        at += used;
        if (e == WSC_DEC_MORE)
            break;
        idle = used || (e == WSC_DEC_DATA && ev.len) ? 0 : idle + 1;
        ASSERT(idle < 4); /* at most END, START and a control frame's event in a row */
        on_event(r, e, &ev, out);
        if (e == WSC_DEC_ERROR) { /* sticky */
            wsc_dec_event again;
            ASSERT(wsc__decode(&r->d, in + at, n - at, &used, out, cap, &again) == WSC_DEC_ERROR);
            ASSERT(used == 0 && again.code == ev.code);
        }
    }
    return at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const uint8_t *body = data + 1;
    size_t len = size - 1;

    /* Whole, with room for any message. */
    run whole;
    run_init(&whole, mode);
    uint8_t *in = malloc(len + 1);
    size_t cap = 70000;
    uint8_t *out = malloc(cap);
    ASSERT(in && out);
    memcpy(in, body, len);
    decode_some(&whole, in, len, out, cap);

    /* In pieces; the unused rest moves to the front as a real caller's
     * buffer would. */
    run split;
    run_init(&split, mode);
    size_t piece = PIECES[mode >> 6];
    bool direct = (mode >> 6) == 3;
    size_t have = 0, fed = 0;
    while (fed < len && !split.failed && !split.closed) {
        size_t k = len - fed < piece ? len - fed : piece;
        uint64_t left = direct && have == 0 ? wsc__decode_payload_left(&split.d) : 0;
        if (left) {
            if (k > left)
                k = (size_t)left;
            memcpy(out, body + fed, k);
            fed += k;
            ASSERT(decode_some(&split, out, k, out, k) == k || split.failed);
            continue;
        }
        memcpy(in + have, body + fed, k);
        have += k;
        fed += k;
        /* 5 bytes of room, more as the message grows: a deflate bomb
         * would otherwise take millions of calls */
        size_t room = 5 + split.msg_len / 16;
        size_t used = decode_some(&split, in, have, out, room < cap ? room : cap);
        memmove(in, in + used, have - used);
        have -= used;
    }
    ASSERT(split.g.h == whole.g.h && split.g.events == whole.g.events);
    ASSERT(split.failed == whole.failed && split.closed == whole.closed);
    run_free(&whole);
    run_free(&split);
    free(in);
    free(out);
    return 0;
}
