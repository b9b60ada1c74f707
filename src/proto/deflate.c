/* SPDX-License-Identifier: MIT */
/* deflate.c - permessage-deflate with zlib (RFC 7692 section 7.2): raw
 * deflate streams, one per direction, kept between messages with context
 * takeover and made per message without it; compression windows and hash
 * tables sized to what was negotiated (and, per message, to the message). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/error.h"
#include "proto/deflate.h"

#define OUT_KEEP (256 * 1024) /* larger output buffers are not kept between messages */

struct wsc_deflate {
    int tx_bits, rx_bits;      /* windows: ours, and the peer's */
    int level, mem_level;      /* zlib's, for our compressor */
    bool tx_reset, rx_reset;   /* no context takeover on our side / the peer's */
    size_t threshold;
    z_stream tx, rx;
    bool tx_live, rx_live;     /* deflateInit2 / inflateInit2 done */
    bool rx_ended;             /* the message's deflate stream ended (BFINAL) */
    uint8_t *out;              /* compressed output [the message writer's] */
    size_t out_cap;
};

wsc_deflate *wsc__deflate_new(const wsc_pmd_params *p, bool server, wsc_compression mode,
                             int threshold)
{
    wsc_deflate *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    bool takeover = mode == WSC_COMPRESSION_CONTEXT_TAKEOVER;
    z->tx_bits = server ? p->server_bits : p->client_bits;
    /* Inflate with the largest window whatever the peer's limit: zlib does
     * not enforce a smaller one consistently (a distance past it still works
     * when it lands in the same output buffer), so a strict window would
     * make the outcome depend on how the reader sizes its reads. */
    z->rx_bits = 15;
    z->tx_reset = !takeover || (server ? p->server_no_takeover : p->client_no_takeover);
    z->rx_reset = server ? p->client_no_takeover : p->server_no_takeover;
    /* zlib refuses 8-bit raw deflate windows. A 9-bit one is still fine for
     * a peer that inflates with 8 bits: zlib never emits a distance beyond
     * the window minus 262 bytes, here 250. */
    if (z->tx_bits < 9)
        z->tx_bits = 9;
    z->level = Z_DEFAULT_COMPRESSION;
    z->mem_level = 8;
    if (threshold < 0)
        z->threshold = 0;
    else if (threshold > 0)
        z->threshold = (size_t)threshold;
    else
        z->threshold = takeover ? 128 : 512;
    return z;
}

bool wsc__deflate_options_ok(const wsc_deflate_options *t, char *err, size_t err_size)
{
    const char *what = NULL;
    if (t->level < 0 || t->level > 9)
        what = "level (1-9)";
    else if (t->mem_level < 0 || t->mem_level > 9)
        what = "mem_level (1-9)";
    else if (t->window_bits && (t->window_bits < 9 || t->window_bits > 15))
        what = "window_bits (9-15)";
    else if (t->peer_window_bits && (t->peer_window_bits < 8 || t->peer_window_bits > 15))
        what = "peer_window_bits (8-15)";
    if (what)
        snprintf(err, err_size, "deflate option %s out of range", what);
    return what == NULL;
}

void wsc__deflate_tune(wsc_deflate *z, const wsc_deflate_options *t, int rx_bits)
{
    if (t->level)
        z->level = t->level;
    if (t->mem_level)
        z->mem_level = t->mem_level;
    if (t->window_bits && t->window_bits < z->tx_bits)
        z->tx_bits = t->window_bits;
    if (rx_bits)
        z->rx_bits = rx_bits;
}

void wsc__deflate_free(wsc_deflate *z)
{
    if (!z)
        return;
    if (z->tx_live)
        deflateEnd(&z->tx);
    if (z->rx_live)
        inflateEnd(&z->rx);
    free(z->out);
    free(z);
}

bool wsc__deflate_wanted(const wsc_deflate *z, size_t len)
{
    return len >= z->threshold;
}

bool wsc__deflate_takeover(const wsc_deflate *z)
{
    return !z->tx_reset;
}

/* Starts a compressor. Without takeover and with the message's size known,
 * the window only needs to cover the message, and the hash table follows:
 * a 1 KiB message takes about 10 KiB of zlib memory instead of 256 KiB. */
static int tx_start(wsc_deflate *z, size_t whole_len)
{
    int bits = z->tx_bits, mem_level = z->mem_level;
    if (z->tx_reset && whole_len) {
        int b = 9;
        while (b < bits && ((size_t)1 << b) < whole_len + 262)
            b++;
        bits = b;
        if (b - 7 < mem_level)
            mem_level = b - 7 < 1 ? 1 : b - 7;
    }
    memset(&z->tx, 0, sizeof z->tx);
    int r = deflateInit2(&z->tx, z->level, Z_DEFLATED, -bits, mem_level, Z_DEFAULT_STRATEGY);
    if (r != Z_OK)
        return wsc__fail(r == Z_MEM_ERROR ? WSC_ENOMEM : WSC_EIO, "zlib deflateInit2 failed (%d)", r);
    z->tx_live = true;
    return 0;
}

void wsc__deflate_done(wsc_deflate *z)
{
    if (z->out_cap > OUT_KEEP) {
        free(z->out);
        z->out = NULL;
        z->out_cap = 0;
    }
}

int wsc__deflate_piece(wsc_deflate *z, const void *data, size_t len, bool fin, size_t whole_len,
                      const uint8_t **out, size_t *out_len)
{
    int r;
    if (!z->tx_live && (r = tx_start(z, whole_len)) < 0)
        return r;
    z->tx.next_in = (Bytef *)data;
    size_t left = len, n = 0;
    for (;;) {
        if (z->out_cap - n < 64) {
            size_t cap = z->out_cap ? z->out_cap * 2 : (len / 2 < 4096 ? 4096 : len / 2);
            uint8_t *p = realloc(z->out, cap);
            if (!p)
                return wsc__fail(WSC_ENOMEM, "out of memory for a compressed message");
            z->out = p;
            z->out_cap = cap;
        }
        /* zlib counts in uInt: feed at most 1 GiB at a time. */
        uInt in = left > (1u << 30) ? 1u << 30 : (uInt)left;
        uInt room = z->out_cap - n > (1u << 30) ? 1u << 30 : (uInt)(z->out_cap - n);
        z->tx.avail_in = in;
        z->tx.next_out = z->out + n;
        z->tx.avail_out = room;
        int flush = fin && in == left ? Z_SYNC_FLUSH : Z_NO_FLUSH;
        r = deflate(&z->tx, flush);
        if (r == Z_STREAM_ERROR)
            return wsc__fail(WSC_EIO, "zlib deflate failed");
        left -= in - z->tx.avail_in;
        n += room - z->tx.avail_out;
        if (left == 0 && z->tx.avail_out != 0)
            break;
    }
    if (fin) {
        /* The sync flush ended with 00 00 ff ff, which the receiver adds back.
         * With nothing new since the last flush zlib writes nothing at all;
         * the message must still end on an empty stored block: 00 (7.2.3.6). */
        if (n >= 4 && memcmp(z->out + n - 4, "\x00\x00\xff\xff", 4) == 0)
            n -= 4;
        else if (n == 0)
            z->out[n++] = 0x00;
        if (z->tx_reset) {
            deflateEnd(&z->tx);
            z->tx_live = false;
        }
    }
    *out = z->out;
    *out_len = n;
    return 0;
}

bool wsc__deflate_alone_shape(const wsc_deflate *z, size_t len, wsc_deflate_shape *shape)
{
    if (!z->tx_reset || !wsc__deflate_wanted(z, len))
        return false;
    shape->bits = z->tx_bits;
    shape->level = z->level;
    shape->mem_level = z->mem_level;
    return true;
}

int wsc__deflate_alone(const wsc_deflate_shape *shape, const void *data, size_t len,
                      uint8_t **out, size_t *out_len)
{
    wsc_deflate z = {.tx_bits = shape->bits, .level = shape->level,
                     .mem_level = shape->mem_level, .tx_reset = true};
    const uint8_t *made;
    int r = wsc__deflate_piece(&z, data, len, true, len, &made, out_len);
    if (z.tx_live)
        deflateEnd(&z.tx);
    if (r < 0) {
        free(z.out);
        return r;
    }
    *out = z.out; /* made points into it */
    return 0;
}

int wsc__inflate_begin(wsc_deflate *z)
{
    z->rx_ended = false;
    if (z->rx_live)
        return 0;
    memset(&z->rx, 0, sizeof z->rx);
    int r = inflateInit2(&z->rx, -z->rx_bits);
    if (r != Z_OK)
        return wsc__fail(r == Z_MEM_ERROR ? WSC_ENOMEM : WSC_EIO, "zlib inflateInit2 failed (%d)", r);
    z->rx_live = true;
    return 0;
}

/* The peer ended its deflate stream (a block with BFINAL set). The next
 * message starts a new stream that, with context takeover, still sees the
 * old window. */
static int rx_restart(wsc_deflate *z)
{
    if (z->rx_reset) {
        inflateReset(&z->rx);
        return 0;
    }
    uInt n = 1u << z->rx_bits;
    uint8_t *dict = malloc(n);
    if (!dict)
        return wsc__fail(WSC_ENOMEM, "out of memory for the inflate window");
    inflateGetDictionary(&z->rx, dict, &n);
    inflateReset(&z->rx);
    inflateSetDictionary(&z->rx, dict, n);
    free(dict);
    return 0;
}

int wsc__inflate_some(wsc_deflate *z, const uint8_t *in, size_t in_len, size_t *used,
                     uint8_t *out, size_t cap, size_t *made, bool *more)
{
    if (z->rx_ended) { /* the rest of the message, and the tail, mean nothing */
        *used = in_len;
        *made = 0;
        *more = false;
        return 0;
    }
    uInt in_n = in_len > (1u << 30) ? 1u << 30 : (uInt)in_len;
    uInt out_n = cap > (1u << 30) ? 1u << 30 : (uInt)cap;
    z->rx.next_in = (Bytef *)in;
    z->rx.avail_in = in_n;
    z->rx.next_out = out;
    z->rx.avail_out = out_n;
    int r = inflate(&z->rx, Z_SYNC_FLUSH);
    *used = in_n - z->rx.avail_in;
    *made = out_n - z->rx.avail_out;
    *more = z->rx.avail_out == 0;
    if (r == Z_STREAM_END) {
        z->rx_ended = true;
        return rx_restart(z);
    }
    if (r == Z_OK || r == Z_BUF_ERROR)
        return 0;
    if (r == Z_MEM_ERROR)
        return wsc__fail(WSC_ENOMEM, "out of memory while inflating a message");
    return wsc__fail(WSC_EPROTO, "a compressed message is not valid deflate data: %s",
                    z->rx.msg ? z->rx.msg : "zlib error");
}

bool wsc__inflate_complete(const wsc_deflate *z)
{
    /* zlib's data_type has 128 when it stopped between blocks. */
    return z->rx_ended || (z->rx.data_type & 128);
}

void wsc__inflate_end(wsc_deflate *z)
{
    if (z->rx_reset && z->rx_live) {
        inflateEnd(&z->rx);
        z->rx_live = false;
    }
}
