/* SPDX-License-Identifier: MIT */
/* encode.h - the sending half of the protocol engine: messages and control
 * frames in, frames out (header, masking, permessage-deflate, the opcodes and
 * RSV1 bit of a fragmented message). No I/O, no locks, no clock, no
 * allocation: the caller supplies the masking keys (random bytes are a
 * system call), sends the bytes and says when a frame is on its way.
 *
 * A frame is described, not copied: wsc_frame_out holds the header and
 * points at the payload, unmasked. A server sends the header and the
 * payload as they are (no copy); a client copies the frame masked into its
 * own buffer, a piece at a time, with wsc__frame_out_copy. */
#ifndef WSC_ENCODE_H
#define WSC_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/deflate.h"
#include "proto/frame.h"

typedef struct {
    uint8_t hdr[WSC_FRAME_HEADER_MAX];
    size_t hlen;
    const uint8_t *payload; /* unmasked: the caller's data, or the compressor's
                               output (valid until the compressor's next call) */
    size_t len;
    bool masked;            /* the payload goes masked with key */
    uint8_t key[4];
    bool committed;         /* the compressor's window already holds this frame:
                               it must be sent (or kept) whatever happens */
} wsc_frame_out;

typedef struct {
    bool server;         /* we are the server: our frames go unmasked */
    wsc_deflate *pmd;    /* negotiated permessage-deflate (not owned), or NULL */
    uint8_t msg_op;      /* the message being written piece by piece, 0: none */
    bool msg_framed;     /* a frame of it is on its way: continuations follow */
    bool closed;         /* our close frame is on its way: no data frame may follow */
    bool plain;          /* the message being written goes uncompressed (set by
                            the writer before it starts a message) */
} wsc_encoder;

void wsc__encoder_init(wsc_encoder *e, bool server, wsc_deflate *pmd);

/* A control frame (close, ping, pong) with at most 125 payload bytes.
 * key: 4 random bytes (read only by a client). 0 or WSC_EINVAL. */
int wsc__encode_control(wsc_encoder *e, uint8_t op, const void *p, size_t len,
                        const uint8_t key[4], wsc_frame_out *f);

/* A whole data message (WSC_OP_TEXT or WSC_OP_BINARY) as one frame,
 * compressed when permessage-deflate is on and wants it. A compressed
 * message that does not shrink goes as it is, unless the compressor keeps
 * its window (then it is committed). 0, WSC_ECLOSED after our close frame,
 * or the compressor's error. */
int wsc__encode_message(wsc_encoder *e, uint8_t op, const void *data, size_t len,
                        const uint8_t key[4], wsc_frame_out *f);

/* A whole data message whose payload is ready: `deflated` bytes made by
 * wsc__deflate_alone (sent with RSV1), or bytes to send as they are (never
 * compressed here). 0 or WSC_ECLOSED after our close frame. */
int wsc__encode_ready(wsc_encoder *e, uint8_t op, const void *data, size_t len, bool deflated,
                      const uint8_t key[4], wsc_frame_out *f);

/* Piece by piece: wsc__encode_begin starts a message; each
 * wsc__encode_piece gives the next piece, fin the last (it may be empty).
 * With compression a piece may make no frame yet (*framed false): the
 * compressor holds it. 0, WSC_ECLOSED after our close frame, or the
 * compressor's error. */
void wsc__encode_begin(wsc_encoder *e, uint8_t op);
int wsc__encode_piece(wsc_encoder *e, const void *data, size_t len, bool fin,
                      const uint8_t key[4], wsc_frame_out *f, bool *framed);

/* The caller sent f (or kept it to send): a message's next frames are
 * continuations, its last frame ends it (and the compressor gives back a
 * large output buffer), and after a close frame no data frame is made. A frame not sent and not committed may simply be
 * dropped: the encoder is as before. */
void wsc__encode_sent(wsc_encoder *e, const wsc_frame_out *f);

/* The frame's size on the wire. */
size_t wsc__frame_out_size(const wsc_frame_out *f);

/* Copies up to cap bytes of the frame as they go on the wire (the header,
 * then the payload masked), starting `off` bytes in. Returns how many. */
size_t wsc__frame_out_copy(const wsc_frame_out *f, size_t off, uint8_t *dst, size_t cap);

#endif
