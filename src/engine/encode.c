/* SPDX-License-Identifier: MIT */
/* encode.c - the sending half of the protocol engine: frames for control
 * frames, whole messages and message pieces (see encode.h). */
#include <string.h>

#include "wsc.h"
#include "engine/encode.h"
#include "proto/mask.h"

void wsc__encoder_init(wsc_encoder *e, bool server, wsc_deflate *pmd)
{
    memset(e, 0, sizeof *e);
    e->server = server;
    e->pmd = pmd;
}

static void frame_make(const wsc_encoder *e, uint8_t op, uint8_t rsv, bool fin, const void *p,
                       size_t len, const uint8_t key[4], bool committed, wsc_frame_out *f)
{
    wsc_frame_header h = {.fin = fin, .rsv = rsv, .opcode = op, .masked = !e->server, .len = len};
    if (h.masked)
        memcpy(h.key, key, 4);
    f->hlen = wsc__frame_encode(f->hdr, &h);
    f->payload = p;
    f->len = len;
    f->masked = h.masked;
    memcpy(f->key, h.key, 4);
    f->committed = committed;
}

int wsc__encode_control(wsc_encoder *e, uint8_t op, const void *p, size_t len,
                        const uint8_t key[4], wsc_frame_out *f)
{
    if (op < WSC_OP_CLOSE || len > 125)
        return WSC_EINVAL;
    frame_make(e, op, 0, true, p, len, key, false, f);
    return 0;
}

int wsc__encode_message(wsc_encoder *e, uint8_t op, const void *data, size_t len,
                        const uint8_t key[4], wsc_frame_out *f)
{
    if (e->closed)
        return WSC_ECLOSED;
    if (e->pmd && !e->plain && wsc__deflate_wanted(e->pmd, len)) {
        const uint8_t *out;
        size_t n;
        int r = wsc__deflate_piece(e->pmd, data, len, true, len, &out, &n);
        if (r < 0)
            return r;
        bool takeover = wsc__deflate_takeover(e->pmd);
        if (n < len || takeover) {
            frame_make(e, op, 0x4, true, out, n, key, takeover, f);
            return 0;
        }
        /* It did not shrink, and no later message refers back to it. */
    }
    frame_make(e, op, 0, true, data, len, key, false, f);
    return 0;
}

int wsc__encode_ready(wsc_encoder *e, uint8_t op, const void *data, size_t len, bool deflated,
                      const uint8_t key[4], wsc_frame_out *f)
{
    if (e->closed)
        return WSC_ECLOSED;
    frame_make(e, op, deflated ? 0x4 : 0, true, data, len, key, false, f);
    return 0;
}

void wsc__encode_begin(wsc_encoder *e, uint8_t op)
{
    e->msg_op = op;
    e->msg_framed = false;
}

int wsc__encode_piece(wsc_encoder *e, const void *data, size_t len, bool fin,
                      const uint8_t key[4], wsc_frame_out *f, bool *framed)
{
    uint8_t op = e->msg_framed ? WSC_OP_CONT : e->msg_op;
    *framed = false;
    if (e->closed)
        return WSC_ECLOSED;
    *framed = true;
    if (!e->pmd || e->plain) {
        frame_make(e, op, 0, fin, data, len, key, false, f);
        return 0;
    }
    const uint8_t *out;
    size_t n;
    int r = wsc__deflate_piece(e->pmd, data, len, fin, 0, &out, &n);
    if (r < 0)
        return r;
    if (n == 0 && !fin) {
        *framed = false; /* the compressor holds it */
        return 0;
    }
    frame_make(e, op, op == WSC_OP_CONT ? 0 : 0x4, fin, out, n, key, true, f);
    return 0;
}

void wsc__encode_sent(wsc_encoder *e, const wsc_frame_out *f)
{
    uint8_t op = f->hdr[0] & 0x0f;
    e->closed = e->closed || op == WSC_OP_CLOSE;
    if (op < WSC_OP_CLOSE && (f->hdr[0] & 0x80) && e->pmd)
        wsc__deflate_done(e->pmd); /* the message is out: no output is needed */
    if (op >= WSC_OP_CLOSE || e->msg_op == 0)
        return; /* a control frame, or a whole message */
    e->msg_framed = true;
    if (f->hdr[0] & 0x80)
        e->msg_op = 0;
}

size_t wsc__frame_out_size(const wsc_frame_out *f)
{
    return f->hlen + f->len;
}

size_t wsc__frame_out_copy(const wsc_frame_out *f, size_t off, uint8_t *dst, size_t cap)
{
    size_t n = 0;
    if (off < f->hlen) {
        n = f->hlen - off < cap ? f->hlen - off : cap;
        memcpy(dst, f->hdr + off, n);
        off += n;
    }
    size_t at = off - f->hlen; /* payload bytes before this piece */
    if (at >= f->len || n == cap)
        return n;
    size_t m = f->len - at < cap - n ? f->len - at : cap - n;
    if (f->masked)
        wsc__mask(dst + n, f->payload + at, m, f->key, at);
    else
        memcpy(dst + n, f->payload + at, m);
    return n + m;
}
