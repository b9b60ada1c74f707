/* SPDX-License-Identifier: MIT */
/* decode.h - the receiving half of the protocol engine: bytes received from
 * the peer in, events out (message start, message data, message end, ping,
 * pong, close, protocol error with its close code). No I/O, no locks, no
 * clock, no allocation: the caller owns every buffer (inflating uses the
 * caller's wsc_deflate).
 *
 * The caller keeps a buffer of received bytes and calls wsc__decode on what it
 * holds. Each call returns one event and says how many bytes it used; bytes
 * not used must be presented again, unchanged and first, on the next call
 * (the decoder may have unmasked some of them already). WSC_DEC_MORE means
 * nothing more can be done with what is there: bring more bytes. Whole
 * control frames are needed (at most 139 bytes), so the buffer must hold at
 * least that much.
 *
 * Message data goes to the caller's out buffer. For an uncompressed message
 * out may be the input itself: then the payload is unmasked and checked in
 * place, with no copy. So a caller can receive a large payload straight into
 * its destination: wsc__decode_payload_left says how many of the next bytes
 * are raw payload. */
#ifndef WSC_DECODE_H
#define WSC_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/deflate.h"
#include "proto/frame.h"

typedef enum {
    WSC_DEC_MORE,  /* all usable input is used: bring more bytes */
    WSC_DEC_START, /* a data message begins: ev->opcode, ev->compressed */
    WSC_DEC_DATA,  /* ev->len bytes of message data were put at out */
    WSC_DEC_END,   /* the message is complete and valid */
    WSC_DEC_PING,  /* ev->data, ev->len: the payload (in the input buffer) */
    WSC_DEC_PONG,  /* likewise */
    WSC_DEC_CLOSE, /* the peer's close frame: ev->code (1005 when it had none),
                      ev->data, ev->len: its reason, valid UTF-8 */
    WSC_DEC_ERROR  /* the peer broke the protocol, or inflating failed:
                      ev->code is the close code to fail with, ev->err the
                      wsc error (WSC_EPROTO, WSC_EMSGSIZE, WSC_ENOMEM), ev->why
                      the detail. Every later call returns it again. */
} wsc_dec_kind;

typedef struct {
    uint8_t opcode;      /* START: WSC_OP_TEXT or WSC_OP_BINARY */
    bool compressed;     /* START: the message is permessage-deflate'd */
    const uint8_t *data; /* PING, PONG, CLOSE: valid until the input bytes move */
    size_t len;          /* DATA: bytes at out; PING, PONG, CLOSE: payload */
    int code;            /* CLOSE, ERROR */
    int err;             /* ERROR */
    const char *why;     /* ERROR: valid while the decoder lives */
} wsc_dec_event;

typedef struct {
    /* Settings; the caller may change read_limit and discard between calls. */
    bool server;         /* frames must come masked (we are the server) */
    wsc_deflate *pmd;    /* permessage-deflate was negotiated (not owned), or NULL */
    int64_t read_limit;  /* largest message, after inflating; < 0: none */
    bool discard;        /* drop message data unread (our close is out) */

    /* State. */
    bool in_frame;       /* a data frame's payload is being read */
    bool frame_ended;    /* its payload is all used: end it next */
    wsc_frame_header fh;
    uint64_t frame_left; /* payload bytes of fh not yet used */
    size_t mask_pos;     /* payload bytes of fh unmasked so far */
    bool in_msg;         /* a data message is in progress */
    uint8_t msg_op;
    bool msg_z;          /* the message is compressed */
    size_t zready;       /* unmasked payload bytes at the input's start not yet inflated */
    uint8_t ztail;       /* bytes of the 00 00 ff ff tail fed to inflate */
    bool zmore;          /* inflate may still have output without input */
    int zerr;            /* inflating failed after making output: the error next */
    uint32_t utf8;
    uint64_t msg_size;   /* message data bytes so far (after inflating) */
    wsc_dec_event failure; /* the sticky ERROR, once failed */
    bool failed;
    char why[112];
} wsc_decoder;

/* Starts a decoder: server says whether we are the server; pmd is the
 * connection's permessage-deflate state or NULL. Read limit: none. */
void wsc__decoder_init(wsc_decoder *d, bool server, wsc_deflate *pmd);

/* Decodes from in[0..n) (payload is unmasked in place), putting message data
 * at out[0..cap) (cap > 0; out may equal in for an uncompressed message).
 * Returns the next event; *used says how many input bytes it took. */
wsc_dec_kind wsc__decode(wsc_decoder *d, uint8_t *in, size_t n, size_t *used, uint8_t *out,
                        size_t cap, wsc_dec_event *ev);

/* How many of the next input bytes are raw payload of an uncompressed data
 * message being read (0 when the next bytes are anything else). A caller may
 * receive up to that many straight into its destination and pass them with
 * in == out. */
uint64_t wsc__decode_payload_left(const wsc_decoder *d);

#endif
