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

static void send_error(int fd, int status, bool head_only)
{
    char buf[256];
    const char *text = status_text(status);
    int body_len = (int)strlen(text) + 1;
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n%s%s",
                     status, text, body_len, head_only ? "" : text, head_only ? "" : "\n");
    write_all(fd, buf, (size_t)n);
}

void http_send_status(int fd, int status)
{
    send_error(fd, status, false);
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

static void send_file(int fd, int f, const struct stat *st, const char *path, bool head_only)
{
    char buf[16384];
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %lld\r\n"
                     "Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
                     content_type(path), (long long)st->st_size);
    if (write_all(fd, buf, (size_t)n) < 0 || head_only)
        return;
    for (;;) {
        ssize_t r = read(f, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || write_all(fd, buf, (size_t)r) < 0)
            return;
    }
}

void http_serve_static(int fd, const char *method, const char *path)
{
    bool head_only = strcmp(method, "HEAD") == 0;
    if (!head_only && strcmp(method, "GET") != 0) {
        send_error(fd, 405, false);
        return;
    }
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    if (!path_is_safe(path)) {
        send_error(fd, 404, head_only);
        return;
    }
    struct stat st;
    int f = open_file(path, &st);
    if (f < 0) {
        send_error(fd, 404, head_only);
        return;
    }
    send_file(fd, f, &st, path, head_only);
    close(f);
}
