/* SPDX-License-Identifier: MIT */
/* deflate.h - per-connection permessage-deflate state: compressing messages
 * we send and inflating messages we receive, with zlib. */
#ifndef WSC_DEFLATE_H
#define WSC_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wsc.h"
#include "proto/extension.h"

typedef struct wsc_deflate wsc_deflate;

/* State for a connection that negotiated *p; `server` says which side we
 * are. No zlib memory is taken until a message needs it. NULL when out of
 * memory. threshold < 0 compresses every message; 0 picks the default. */
wsc_deflate *wsc__deflate_new(const wsc_pmd_params *p, bool server, wsc_compression mode,
                             int threshold);
void wsc__deflate_free(wsc_deflate *z);

/* Whether t's values are in range; false with a detail in err. */
bool wsc__deflate_options_ok(const wsc_deflate_options *t, char *err, size_t err_size);

/* Applies t (checked) to a new z: our compressor's level, memLevel and
 * window; rx_bits 8..15 is the window to inflate with (0: 15), for a peer
 * that agreed to the smaller window we asked for. */
void wsc__deflate_tune(wsc_deflate *z, const wsc_deflate_options *t, int rx_bits);

/* Whether wsc_write should compress a message of len bytes. */
bool wsc__deflate_wanted(const wsc_deflate *z, size_t len);

/* Whether our compressor keeps its window between messages (a compressed
 * message, once made, must then be sent: the peer's window follows ours). */
bool wsc__deflate_takeover(const wsc_deflate *z);

/* Compresses the next piece of the message being sent; `fin` ends the
 * message (the 00 00 ff ff tail is removed, RFC 7692 7.2.1). whole_len is the
 * message's size when the whole message is this one piece, else 0 (it only
 * sizes the window). *out (owned by z, valid until the next call of either
 * function here) receives *out_len bytes, possibly none for a piece that is
 * not the last. 0, or WSC_ENOMEM / WSC_EIO with a detail. */
int wsc__deflate_piece(wsc_deflate *z, const void *data, size_t len, bool fin, size_t whole_len,
                      const uint8_t **out, size_t *out_len);
/* A message's last frame is out: an output buffer larger than a small
 * message needs is given back (an idle connection keeps at most 256 KiB). */
void wsc__deflate_done(wsc_deflate *z);

/* Prepared messages (compressed once, sent on many connections): a
 * compressed message made alone fits every connection that compresses
 * each message alone (no context takeover on our side) with the same
 * window, level and memLevel (the two last only shape the ratio). */
typedef struct {
    int bits, level, mem_level;
} wsc_deflate_shape;

/* Whether a message of len bytes sent on z would be compressed alone, and
 * how (*shape). False with context takeover or under the threshold. */
bool wsc__deflate_alone_shape(const wsc_deflate *z, size_t len, wsc_deflate_shape *shape);

/* Compresses data alone as *shape says: *out (malloc'd, the caller's)
 * holds *out_len bytes of a message payload (tail removed). 0, or
 * WSC_ENOMEM / WSC_EIO with a detail. */
int wsc__deflate_alone(const wsc_deflate_shape *shape, const void *data, size_t len,
                      uint8_t **out, size_t *out_len);

/* Inflating one received message: begin, feed (in pieces, then the 4-byte
 * tail), end. wsc__inflate_some inflates from in[0..in_len) into out[0..cap),
 * telling how much it used and made; 0, WSC_EPROTO (not valid deflate data,
 * with a detail) or WSC_ENOMEM. *more says whether output may be pending
 * (call again with no input before deciding the input is used up). */
int wsc__inflate_begin(wsc_deflate *z);
int wsc__inflate_some(wsc_deflate *z, const uint8_t *in, size_t in_len, size_t *used,
                     uint8_t *out, size_t cap, size_t *made, bool *more);
/* After the tail went in: whether the data ended between deflate blocks (a
 * message cut inside a block is not valid). */
bool wsc__inflate_complete(const wsc_deflate *z);
void wsc__inflate_end(wsc_deflate *z);

#endif
