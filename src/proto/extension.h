/* SPDX-License-Identifier: MIT */
/* extension.h - negotiating permessage-deflate (RFC 7692) in the
 * Sec-WebSocket-Extensions headers: the client's offer, the server's choice
 * among offers, the client's check of the answer. Pure functions, no I/O. */
#ifndef WSC_EXTENSION_H
#define WSC_EXTENSION_H

#include <stdbool.h>
#include <stddef.h>

#include "wsc.h"
#include "proto/http.h"

/* What both sides agreed on. Window bits are 8..15 (15 when not limited). */
typedef struct {
    bool enabled;
    bool server_no_takeover;   /* the server resets its compressor per message */
    bool client_no_takeover;   /* the client resets its compressor per message */
    int server_bits;           /* the server's compression window */
    int client_bits;           /* the client's compression window */
    char header[160];          /* server side: the value our 101 answers with */
} wsc_pmd_params;

/* The client's Sec-WebSocket-Extensions value for mode, in buf (96 bytes
 * are enough), asking for server_max_window_bits=server_bits when it is
 * 8..14; NULL for DISABLED. */
const char *wsc__pmd_offer(wsc_compression mode, int server_bits, char *buf, size_t size);

/* Client: checks the response's Sec-WebSocket-Extensions headers against
 * what `mode` offered. 0 with *p filled (p->enabled false when the server
 * declined), or WSC_EHANDSHAKE with a detail in err: an extension we did not
 * offer, two of them, an unknown, repeated or invalid parameter. */
int wsc__pmd_check_response(const wsc_http_head *h, wsc_compression mode, wsc_pmd_params *p,
                           char *err, size_t err_size);

/* Server: picks the first permessage-deflate offer of the request that has
 * valid parameters (offers with bad ones are declined, not fatal) and fills
 * *p with the answer, including p->header; client_bits 8..14 limits the
 * client's window when its offer allows a limit (0: no wish). p->enabled
 * is false when mode is DISABLED or no offer fits. */
void wsc__pmd_accept(const wsc_http_head *req, wsc_compression mode, int client_bits,
                     wsc_pmd_params *p);

#endif
