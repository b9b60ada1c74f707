/* SPDX-License-Identifier: MIT */
/* http_head.h - reads one HTTP/1.x request head from a nonblocking socket
 * and checks its request line as soon as it arrives. */
#ifndef CHAT_HTTP_HEAD_H
#define CHAT_HTTP_HEAD_H

#include <stddef.h>

#define HTTP_HEAD_MAX 8192    /* request head, bytes; more: 431 */
#define HTTP_TARGET_MAX 1023  /* request target, bytes; more: 414 */
#define HTTP_METHOD_MAX 15

typedef struct http_head {
    char buf[HTTP_HEAD_MAX];   /* the bytes read (the head, maybe more) */
    size_t len;
    char method[HTTP_METHOD_MAX + 1];
    char path[HTTP_TARGET_MAX + 1];  /* the target without query or fragment */
    /* the reader's progress */
    size_t scanned;            /* bytes of buf checked so far */
    size_t line_len;           /* length of the request line, once seen */
    int line_done;
} http_head;

#define HTTP_HEAD_MORE (-2)

void http_head_init(http_head *h);

/* Reads what fd has (without waiting) into h and checks it. Returns 0 when
 * the head is complete and well formed, HTTP_HEAD_MORE when more must come
 * (the caller keeps the deadline: 408 when it passes), -1 when the peer
 * went away (nothing to answer), or the status to answer with, at once when
 * the bytes show it: 400 (a NUL, a bare CR or LF, a malformed request line:
 * HTTP/0.9, control bytes or spaces in the target), 414 (target over
 * HTTP_TARGET_MAX), 505 (not HTTP/1.0 or 1.1), 431 (head over
 * HTTP_HEAD_MAX). */
int http_head_feed(int fd, http_head *h);

#endif
