/* SPDX-License-Identifier: MIT */
/* reply.h - the accept hook's data: the wsc_request view of a parsed
 * upgrade request, and the wsc_reply the hook shapes (no I/O). */
#ifndef WSC_REPLY_H
#define WSC_REPLY_H

#include <stdbool.h>

#include "wsc.h"
#include "proto/http.h"

/* A wsc_request over a parsed head. The head's strings are pointed at; the
 * offered subprotocols and extensions live in `text` and `protos`
 * (malloc'd, freed by wsc__request_view_free). Valid while the head is. */
typedef struct {
    wsc_request req;
    const char **protos;
    char *text;
} wsc_request_view;

/* Fills v from h; peer and fd are the caller's (peer must outlive v). 0 or
 * WSC_ENOMEM (v then holds nothing to free). */
int wsc__request_view_init(wsc_request_view *v, const wsc_http_head *h, const char *peer,
                          int fd, bool tls);
void wsc__request_view_free(wsc_request_view *v);

/* What the hook said beyond its status; everything malloc'd and owned here
 * (freed by wsc__reply_free). Zeroed: nothing said. */
struct wsc_reply {
    const wsc_request *req;    /* during the hook only: what may be chosen */
    char *subprotocol;         /* NULL: the options' choice */
    wsc_header *headers;       /* names and values malloc'd */
    size_t n_headers;
    char *content_type;        /* NULL: text/plain */
    char *body;                /* NULL: the default body */
    size_t body_len;
};

void wsc__reply_free(wsc_reply *r);

#endif
