/* SPDX-License-Identifier: MIT */
/* decode.c - the receiving half of the protocol engine (see decode.h): frame
 * headers and their order, control frames, unmasking, UTF-8 and the read
 * limit, inflating compressed messages. */
#include <stdio.h>
#include <string.h>

#include "common/closecode.h"
#include "common/error.h"
#include "common/utf8.h"
#include "engine/decode.h"
#include "proto/mask.h"
#include "wsc.h"

void wsc__decoder_init(wsc_decoder *d, bool server, wsc_deflate *pmd)
{
    memset(d, 0, sizeof *d);
    d->server = server;
    d->pmd = pmd;
    d->read_limit = -1;
}

uint64_t wsc__decode_payload_left(const wsc_decoder *d)
{
    if (!d->in_frame || d->frame_ended || d->msg_z || d->discard || d->failed)
        return 0;
    return d->frame_left;
}

/* What a step returns when it made progress and the next step should
 * follow at once (a continuation frame's header, the end of a frame). */
enum { STEP_ON = -1 };

/* Fails the decoder for good: ERROR with code and err, the detail in why. */
static wsc_dec_kind fail(wsc_decoder *d, wsc_dec_event *ev, int code, int err, const char *why)
{
    if (why != d->why)
        snprintf(d->why, sizeof d->why, "%s", why);
    d->failed = true;
    d->failure = (wsc_dec_event){.code = code, .err = err, .why = d->why};
    *ev = d->failure;
    return WSC_DEC_ERROR;
}

static wsc_dec_kind protocol_error(wsc_decoder *d, wsc_dec_event *ev, const char *why)
{
    return fail(d, ev, WSC_STATUS_PROTOCOL_ERROR, WSC_EPROTO, why);
}

static wsc_dec_kind bad_data(wsc_decoder *d, wsc_dec_event *ev, const char *why)
{
    return fail(d, ev, WSC_STATUS_INVALID_FRAME_PAYLOAD_DATA, WSC_EPROTO, why);
}

static wsc_dec_kind too_big(wsc_decoder *d, wsc_dec_event *ev)
{
    snprintf(d->why, sizeof d->why, "message longer than the read limit of %lld bytes",
             (long long)d->read_limit);
    return fail(d, ev, WSC_STATUS_MESSAGE_TOO_BIG, WSC_EMSGSIZE, d->why);
}

/* n bytes of message data were just put at p: counts and checks them. */
static bool take_data(wsc_decoder *d, const uint8_t *p, size_t n)
{
    d->msg_size += n;
    if (d->msg_op == WSC_OP_TEXT)
        d->utf8 = wsc__utf8_feed(d->utf8, p, n);
    return d->utf8 != WSC_UTF8_REJECT;
}

/* A control frame, whole and unmasked at p. */
static wsc_dec_kind control(wsc_decoder *d, const wsc_frame_header *h, const uint8_t *p,
                            wsc_dec_event *ev)
{
    size_t len = (size_t)h->len;
    *ev = (wsc_dec_event){.data = p, .len = len};
    if (h->opcode == WSC_OP_PING)
        return WSC_DEC_PING;
    if (h->opcode == WSC_OP_PONG)
        return WSC_DEC_PONG;
    ev->code = WSC_STATUS_NO_STATUS_RCVD;
    if (len == 1)
        return protocol_error(d, ev, "close frame with a 1-byte payload");
    if (len >= 2) {
        ev->code = (p[0] << 8) | p[1];
        if (!wsc__close_code_valid(ev->code))
            return protocol_error(d, ev, "invalid close code in close frame");
        if (wsc__utf8_feed(WSC_UTF8_ACCEPT, p + 2, len - 2) != WSC_UTF8_ACCEPT)
            return bad_data(d, ev, "close reason is not valid UTF-8");
        ev->data = p + 2;
        ev->len = len - 2;
    }
    return WSC_DEC_CLOSE;
}

/* A data frame's header h was parsed: starts the frame, and a message with
 * it. Returns START, STEP_ON for a continuation, or an error. */
static int data_frame(wsc_decoder *d, const wsc_frame_header *h, wsc_dec_event *ev)
{
    if (h->opcode == WSC_OP_CONT && !d->in_msg)
        return protocol_error(d, ev, "continuation frame without a message to continue");
    if (h->opcode != WSC_OP_CONT && d->in_msg)
        return protocol_error(d, ev, "new message started inside a fragmented message");
    d->fh = *h;
    d->in_frame = true;
    d->frame_left = h->len;
    d->mask_pos = 0;
    if (h->opcode != WSC_OP_CONT) {
        d->in_msg = true;
        d->msg_op = h->opcode;
        d->msg_z = (h->rsv & 0x4) != 0;
        d->utf8 = WSC_UTF8_ACCEPT;
        d->msg_size = 0;
        d->zready = 0;
        d->ztail = 0;
        d->zmore = false;
        if (d->msg_z && wsc__inflate_begin(d->pmd) < 0)
            return fail(d, ev, WSC_STATUS_INTERNAL_ERROR, WSC_ENOMEM, wsc_last_error());
    }
    d->frame_ended = h->len == 0 && !d->msg_z; /* compressed: the tail may follow */
    /* A compressed message's limit is checked as it inflates. */
    if (!d->discard && !d->msg_z && d->read_limit >= 0 &&
        (d->msg_size > (uint64_t)d->read_limit || h->len > (uint64_t)d->read_limit - d->msg_size))
        return too_big(d, ev);
    if (h->opcode == WSC_OP_CONT)
        return STEP_ON;
    *ev = (wsc_dec_event){.opcode = d->msg_op, .compressed = d->msg_z};
    return WSC_DEC_START;
}

/* Parses the frame at in[0..n): a control frame's event, a data frame's
 * START (STEP_ON for a continuation), or MORE when the frame (a control
 * frame's payload included) is incomplete. */
static int next_frame(wsc_decoder *d, uint8_t *in, size_t n, size_t *used, wsc_dec_event *ev)
{
    wsc_frame_header h;
    int hl = wsc__frame_parse(in, n, &h);
    if (hl == 0)
        return WSC_DEC_MORE;
    if (hl < 0)
        return protocol_error(d, ev, "64-bit frame length with the top bit set");
    const char *why;
    bool data = h.opcode == WSC_OP_TEXT || h.opcode == WSC_OP_BINARY;
    int code = wsc__frame_check(&h, d->server, d->pmd && data ? 0x4 : 0, &why);
    if (code)
        return fail(d, ev, code, WSC_EPROTO, why);
    if (h.opcode & 0x8) {
        if (n - (size_t)hl < h.len)
            return WSC_DEC_MORE; /* a control frame is taken whole */
        uint8_t *p = in + hl;
        if (h.masked)
            wsc__mask(p, p, (size_t)h.len, h.key, 0);
        *used = (size_t)hl + (size_t)h.len;
        return control(d, &h, p, ev);
    }
    *used = (size_t)hl;
    return data_frame(d, &h, ev);
}

/* The current frame's payload is all used: ends it, and the message with
 * it when it was the final frame (END, after the text and inflate checks). */
static int end_frame(wsc_decoder *d, wsc_dec_event *ev)
{
    d->in_frame = false;
    d->frame_ended = false;
    if (!d->fh.fin)
        return STEP_ON;
    d->in_msg = false;
    if (d->msg_z)
        wsc__inflate_end(d->pmd);
    if (!d->discard && d->msg_op == WSC_OP_TEXT && d->utf8 != WSC_UTF8_ACCEPT)
        return bad_data(d, ev, "text message ends inside a UTF-8 sequence");
    *ev = (wsc_dec_event){.opcode = d->msg_op};
    return WSC_DEC_END;
}

/* Uncompressed payload: up to cap bytes of in[0..n) to out, unmasked and
 * checked. */
static wsc_dec_kind plain_data(wsc_decoder *d, uint8_t *in, size_t n, size_t *used, uint8_t *out,
                               size_t cap, wsc_dec_event *ev)
{
    size_t k = n < d->frame_left ? n : (size_t)d->frame_left;
    if (k > cap)
        k = cap;
    if (k == 0)
        return WSC_DEC_MORE;
    if (out != in)
        memmove(out, in, k);
    if (d->fh.masked)
        wsc__mask(out, out, k, d->fh.key, d->mask_pos & 3);
    d->mask_pos += k;
    d->frame_left -= k;
    d->frame_ended = d->frame_left == 0;
    *used = k;
    if (!take_data(d, out, k))
        return bad_data(d, ev, "text message is not valid UTF-8");
    *ev = (wsc_dec_event){.len = k};
    return WSC_DEC_DATA;
}

/* Inflating failed (zerr): the data is not deflate (1007), or no memory. */
static int inflate_failed(wsc_decoder *d, wsc_dec_event *ev)
{
    int code = d->zerr == WSC_EPROTO ? WSC_STATUS_INVALID_FRAME_PAYLOAD_DATA
                                     : WSC_STATUS_INTERNAL_ERROR;
    return fail(d, ev, code, d->zerr, d->why);
}

/* Compressed payload: inflates from in[0..n) into out[0..cap). Raw bytes
 * are unmasked in place; zready counts those at in's start not yet
 * inflated. Output stops one byte past the read limit, so a message
 * inflating beyond it costs no more. */
static int inflated_data(wsc_decoder *d, uint8_t *in, size_t n, size_t *used, uint8_t *out,
                         size_t cap, wsc_dec_event *ev)
{
    static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
    if (d->read_limit >= 0) {
        if (d->msg_size > (uint64_t)d->read_limit)
            return too_big(d, ev);
        if (cap > (uint64_t)d->read_limit - d->msg_size + 1)
            cap = (size_t)((uint64_t)d->read_limit - d->msg_size + 1);
    }
    if (d->zerr)
        return inflate_failed(d, ev);
    size_t at = 0; /* input used by this call */
    for (;;) {
        /* Output inflate still holds comes first: the input so far may
         * already decide the message (an error, the limit). */
        if (d->zready == at && d->frame_left > 0 && !d->zmore) {
            size_t k = n - at < d->frame_left ? n - at : (size_t)d->frame_left;
            if (k == 0) {
                *used = at;
                d->zready -= at;
                return WSC_DEC_MORE;
            }
            if (d->fh.masked)
                wsc__mask(in + at, in + at, k, d->fh.key, d->mask_pos & 3);
            d->mask_pos += k;
            d->frame_left -= k;
            d->zready += k;
        }
        const uint8_t *src = tail;
        size_t src_len = 0;
        bool from_tail = false;
        if (d->zready > at) {
            src = in + at;
            src_len = d->zready - at;
        } else if (d->frame_left == 0 && d->fh.fin && d->ztail < 4 && !d->zmore) {
            src = tail + d->ztail;
            src_len = 4 - d->ztail;
            from_tail = true;
        } else if (!d->zmore) {
            *used = at;
            d->zready -= at;
            if (d->fh.fin && !wsc__inflate_complete(d->pmd))
                return bad_data(d, ev, "a compressed message ends inside a deflate block");
            d->frame_ended = true;
            return STEP_ON;
        }
        size_t took, made;
        int r = wsc__inflate_some(d->pmd, src, src_len, &took, out, cap, &made, &d->zmore);
        if (r < 0) {
            /* Output made before the error counts first (the limit, the
             * text), as it would had the input come in smaller pieces. */
            d->zerr = r;
            snprintf(d->why, sizeof d->why, "%s", wsc_last_error());
            if (!made)
                return inflate_failed(d, ev);
        }
        if (from_tail)
            d->ztail += (uint8_t)took;
        else
            at += took;
        if (made) {
            *used = at;
            d->zready -= at;
            /* Text is checked up to the limit first, whatever the piece
             * sizes, so every reader reports the same error. */
            bool over = d->read_limit >= 0 && d->msg_size + made > (uint64_t)d->read_limit;
            if (!take_data(d, out, over ? (size_t)((uint64_t)d->read_limit - d->msg_size) : made))
                return bad_data(d, ev, "text message is not valid UTF-8");
            if (over)
                return too_big(d, ev);
            *ev = (wsc_dec_event){.len = made};
            return WSC_DEC_DATA;
        }
        if (src_len && !took && !d->zmore)
            return bad_data(d, ev, "a compressed message does not inflate");
    }
}

/* Drops payload while discarding: the whole frame, compressed or not. */
static int drop_data(wsc_decoder *d, size_t n, size_t *used)
{
    size_t k = d->zready + (n - d->zready < d->frame_left ? n - d->zready : (size_t)d->frame_left);
    d->frame_left -= k - d->zready;
    d->zready = 0;
    d->zmore = false;
    d->ztail = 4;
    d->frame_ended = d->frame_left == 0;
    *used = k;
    return d->frame_ended ? STEP_ON : WSC_DEC_MORE;
}

wsc_dec_kind wsc__decode(wsc_decoder *d, uint8_t *in, size_t n, size_t *used, uint8_t *out,
                        size_t cap, wsc_dec_event *ev)
{
    *used = 0;
    if (d->failed) {
        *ev = d->failure;
        return WSC_DEC_ERROR;
    }
    for (;;) {
        size_t took = 0;
        int k;
        if (!d->in_frame)
            k = next_frame(d, in, n, &took, ev);
        else if (d->frame_ended)
            k = end_frame(d, ev);
        else if (d->discard)
            k = drop_data(d, n, &took);
        else if (d->msg_z)
            k = inflated_data(d, in, n, &took, out, cap, ev);
        else
            k = plain_data(d, in, n, &took, out, cap, ev);
        *used += took;
        in += took;
        n -= took;
        if (k != STEP_ON)
            return (wsc_dec_kind)k;
    }
}
