/* SPDX-License-Identifier: MIT */
/* http_static.c - static file serving for the chat demo: safe path mapping,
 * Content-Type by extension, Content-Length, GET and HEAD only. */
#define _POSIX_C_SOURCE 200809L
#include "http_static.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *roots[HTTP_MAX_ROOTS];
static int n_roots;

int http_add_root(const char *dir)
{
    if (n_roots == HTTP_MAX_ROOTS)
        return -1;
    roots[n_roots++] = dir;
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static const char *content_type(const char *path)
{
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".wasm", "application/wasm"},
        {".png", "image/png"},
        {".svg", "image/svg+xml"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* A path we are willing to map to a file: absolute, only [A-Za-z0-9._/-],
 * no empty, "." or ".." segment, no dot file. */
static bool path_is_safe(const char *path)
{
    if (path[0] != '/' || strlen(path) > 200)
        return false;
    for (const char *p = path; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' || ch == '/';
        if (!ok)
            return false;
        if (ch == '/' && (p[1] == '/' || p[1] == '.'))
            return false;
    }
    return true;
}

static const char *status_text(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

/* An error answer with a one-line body (none for HEAD): malloc'd, *len set. */
static char *error_answer(int status, bool head_only, size_t *len)
{
    const char *text = status_text(status);
    size_t body_len = strlen(text) + 1;
    char *buf = malloc(256);
    if (!buf)
        return NULL;
    int n = snprintf(buf, 256,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s%s",
                     status, text, body_len, head_only ? "" : text, head_only ? "" : "\n");
    *len = (size_t)n;
    return buf;
}

char *http_status_answer(int status, size_t *len)
{
    return error_answer(status, false, len);
}

void http_send_status(int fd, int status)
{
    size_t len;
    char *a = http_status_answer(status, &len);
    if (a)
        write_all(fd, a, len);
    free(a);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void http_close_after_answer(int fd, int linger_ms)
{
    char buf[16384];
    long long deadline = now_ms() + linger_ms;
    shutdown(fd, SHUT_WR);
    for (long long left = linger_ms; left >= 0; left = deadline - now_ms()) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0 || recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0)
            break; /* quiet until the deadline, closed, or failed */
    }
    close(fd);
}

/* Opens the first regular file for path under a root; -1 when none. */
static int open_file(const char *path, struct stat *st)
{
    char full[512];
    for (int i = 0; i < n_roots; i++) {
        snprintf(full, sizeof full, "%s%s", roots[i], path);
        int f = open(full, O_RDONLY | O_CLOEXEC);
        if (f < 0)
            continue;
        if (fstat(f, st) == 0 && S_ISREG(st->st_mode))
            return f;
        close(f);
    }
    return -1;
}

/* The 200 answer with the file (its head only for HEAD). */
static char *file_answer(int f, const struct stat *st, const char *path, bool head_only,
                         size_t *len)
{
    if (st->st_size > HTTP_FILE_MAX)
        return error_answer(404, head_only, len);
    size_t body = head_only ? 0 : (size_t)st->st_size;
    char *buf = malloc(512 + body);
    if (!buf)
        return NULL;
    int n = snprintf(buf, 512,
                     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %lld\r\n"
                     "Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
                     content_type(path), (long long)st->st_size);
    size_t at = (size_t)n;
    while (at < (size_t)n + body) {
        ssize_t r = read(f, buf + at, (size_t)n + body - at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* the file shrank: the client sees a short body */
        at += (size_t)r;
    }
    *len = at;
    return buf;
}

char *http_static_answer(const char *method, const char *path, size_t *len)
{
    bool head_only = strcmp(method, "HEAD") == 0;
    if (!head_only && strcmp(method, "GET") != 0)
        return error_answer(405, false, len);
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    if (!path_is_safe(path))
        return error_answer(404, head_only, len);
    struct stat st;
    int f = open_file(path, &st);
    if (f < 0)
        return error_answer(404, head_only, len);
    char *a = file_answer(f, &st, path, head_only, len);
    close(f);
    return a;
}
