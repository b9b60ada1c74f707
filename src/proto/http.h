/* SPDX-License-Identifier: MIT */
/* http.h - parsing the HTTP/1.1 heads of the upgrade request and response. */
#ifndef WSC_HTTP_H
#define WSC_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "wsc.h"

/* A parsed request or response head. `raw` is the parser's own copy of the
 * bytes; every string below points into it. Freed by wsc__http_free. */
typedef struct {
    char *raw;
    const char *method;   /* requests: "GET" */
    const char *target;   /* requests: "/path?query" */
    int status;           /* responses: 101 */
    const char *reason;   /* responses: "Switching Protocols" */
    int version;          /* 10 * major + minor: 11 for HTTP/1.1 */
    wsc_header *headers;  /* names and values trimmed of spaces and tabs */
    size_t n_headers;
} wsc_http_head;

/* Where the head in buf ends: the offset just past its blank line (CRLFCRLF,
 * or LFLF from lenient peers), or 0 if buf does not hold a whole head yet. */
size_t wsc__http_head_end(const char *buf, size_t len);

/* Parses the whole head buf[0..len) (as found by wsc__http_head_end) as a
 * request (`request` true: "METHOD target HTTP/1.1") or a response
 * ("HTTP/1.1 status reason"). Returns 0, or -1 with a detail in err for a
 * malformed start line, a control character in the target (tab too) or in
 * the reason phrase (tab allowed), a header line without ':', an empty or
 * invalid header name, a control character (other than tab) in a value,
 * obsolete line folding, NUL bytes, more than 100 headers, or an HTTP
 * version not of the form HTTP/DIGIT.DIGIT (which versions to serve is the
 * caller's choice).
 * On failure *h holds nothing to free. */
int wsc__http_parse(const char *buf, size_t len, bool request, wsc_http_head *h,
                   char *err, size_t err_size);

/* Whether s is a token (RFC 9110: one or more of letters, digits and
 * !#$%&'*+-.^_`|~), as methods and header names must be. */
bool wsc__http_is_token(const char *s);

/* Whether s may be a header value: no control character but tab (so no CR
 * or LF that would end the line). */
bool wsc__http_is_value(const char *s);

/* How many times header `name` (case-insensitive) appears. */
size_t wsc__http_count(const wsc_http_head *h, const char *name);

/* The first value of header `name` (case-insensitive), or NULL. */
const char *wsc__http_get(const wsc_http_head *h, const char *name);

/* Whether `token` is one of the comma-separated elements of any `name`
 * header (case-insensitive, spaces around elements ignored). */
bool wsc__http_has_token(const wsc_http_head *h, const char *name, const char *token);

void wsc__http_free(wsc_http_head *h);

#endif
