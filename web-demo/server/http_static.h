/* http_static.h - answers a plain HTTP request with a file from the web roots. */
#ifndef CHAT_HTTP_STATIC_H
#define CHAT_HTTP_STATIC_H

#define HTTP_MAX_ROOTS 8

/* Adds a directory to search, in the order added. 0, or -1 if too many. */
int http_add_root(const char *dir);

/* Answers the request whose method and path (query stripped) are given on fd:
 * GET or HEAD of a file under a root ("/" is /index.html), else 404, 405 or
 * 400. Always with Connection: close. Does not close fd. */
void http_serve_static(int fd, const char *method, const char *path);

#endif
