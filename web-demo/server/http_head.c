/* SPDX-License-Identifier: MIT */
/* http_head.c - reads and checks one HTTP/1.x request head as its bytes
 * arrive, with an answer as soon as they are wrong. */
#define _POSIX_C_SOURCE 200809L
#include "http_head.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

/* "METHOD SP target SP HTTP/1.x" is at most this long; a longer line
 * without its end has a target that is too long. */
#define REQUEST_LINE_MAX (HTTP_METHOD_MAX + HTTP_TARGET_MAX + sizeof " HTTP/1.1" + 1)

static bool is_upper(char ch)
{
    return ch >= 'A' && ch <= 'Z';
}

/* Visible ASCII only: no space, no control byte, no raw 8-bit byte. */
static bool is_target_char(char ch)
{
    return ch > 0x20 && ch < 0x7f;
}

/* 0 for HTTP/1.0 and HTTP/1.1, 505 for another HTTP/D.D, else 400. */
static int check_version(const char *v, size_t n)
{
    if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.')
        return 400;
    if (v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
        return 400;
    if (v[5] == '1' && (v[7] == '0' || v[7] == '1'))
        return 0;
    return 505;
}

/* Checks the request line buf[0..line_len) and copies out the method and
 * the path. 0, or the status to answer with. */
static int parse_request_line(http_head *h)
{
    const char *line = h->buf, *end = h->buf + h->line_len;
    const char *sp1 = memchr(line, ' ', h->line_len);
    if (!sp1 || sp1 == line || sp1 - line > HTTP_METHOD_MAX)
        return 400;
    for (const char *p = line; p < sp1; p++)
        if (!is_upper(*p))
            return 400;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', (size_t)(end - target));
    if (!sp2 || sp2 == target)
        return 400; /* HTTP/0.9 has no version */
    size_t target_len = (size_t)(sp2 - target);
    if (target_len > HTTP_TARGET_MAX)
        return 414;
    for (const char *p = target; p < sp2; p++)
        if (!is_target_char(*p))
            return 400;
    int status = check_version(sp2 + 1, (size_t)(end - sp2 - 1));
    if (status != 0)
        return status;
    memcpy(h->method, line, (size_t)(sp1 - line));
    h->method[sp1 - line] = '\0';
    size_t path_len = strcspn(target, "?# ");
    memcpy(h->path, target, path_len);
    h->path[path_len] = '\0';
    return 0;
}

/* Checks the bytes read since the last call. 1 when the head is complete,
 * 0 to read on, or the status to answer with. */
static int scan(http_head *h)
{
    for (; h->scanned < h->len; h->scanned++) {
        size_t i = h->scanned;
        char ch = h->buf[i];
        if (ch == '\0')
            return 400;
        if (ch == '\r') {
            if (i + 1 == h->len)
                return 0; /* is an LF next? */
            if (h->buf[i + 1] != '\n')
                return 400;
            continue;
        }
        if (ch != '\n')
            continue;
        if (i == 0 || h->buf[i - 1] != '\r')
            return 400; /* bare LF: we want CRLF (RFC 9112 allows either) */
        if (!h->line_done) {
            h->line_done = 1;
            h->line_len = i - 1;
            int status = parse_request_line(h);
            if (status != 0)
                return status;
        } else if (i >= 3 && memcmp(h->buf + i - 3, "\r\n\r\n", 4) == 0) {
            return 1;
        }
    }
    if (!h->line_done && h->len > REQUEST_LINE_MAX)
        return 414;
    return 0;
}

void http_head_init(http_head *h)
{
    h->len = h->scanned = h->line_len = 0;
    h->line_done = 0;
}

int http_head_feed(int fd, http_head *h)
{
    for (;;) {
        int status = scan(h);
        if (status == 1)
            return 0;
        if (status != 0)
            return status;
        if (h->len == sizeof h->buf)
            return h->line_done ? 431 : 414;
        ssize_t n = recv(fd, h->buf + h->len, sizeof h->buf - h->len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return HTTP_HEAD_MORE;
        if (n <= 0)
            return -1;
        h->len += (size_t)n;
    }
}
