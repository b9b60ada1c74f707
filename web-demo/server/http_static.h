/* SPDX-License-Identifier: MIT */
/* http_static.h - answers a plain HTTP request with a file from the web roots. */
#ifndef CHAT_HTTP_STATIC_H
#define CHAT_HTTP_STATIC_H

#include <stddef.h>

#define HTTP_MAX_ROOTS 8

/* Adds a directory to search, in the order added. 0, or -1 if too many. */
int http_add_root(const char *dir);

#define HTTP_FILE_MAX (64 << 20) /* larger files are not served (404) */

/* The answer to a request for method and path (query stripped): GET or HEAD
 * of a file under a root ("/" is /index.html), else 404 or 405; always with
 * Connection: close. malloc'd (the caller frees it), its length in *len;
 * NULL without memory. */
char *http_static_answer(const char *method, const char *path, size_t *len);

/* An error answer (400, 408, 414, 431, 503, 505...) with a one-line text
 * body, Connection: close, as http_static_answer gives it. */
char *http_status_answer(int status, size_t *len);

/* Writes http_status_answer to fd at once (small enough for an empty socket
 * buffer; what does not fit is lost). Does not close fd. */
void http_send_status(int fd, int status);

/* Closes fd after an answer without losing it: closing a socket with unread
 * input sends a reset, which can destroy an answer the client has not read
 * yet (a client still sending a long request, say). So it shuts our side,
 * which tells the client the answer is complete, reads and drops what the
 * client still sends until it closes too, for at most linger_ms (0: only
 * what arrives within the current millisecond, for a caller that must not
 * wait), then closes. */
void http_close_after_answer(int fd, int linger_ms);

#endif
