/*
 * chat_server - the web demo's server: one port for the page and the chat.
 *
 *   chat_server [--port N] [--www DIR]...      (port default 8080, 0: any)
 *
 * Each connection gets a thread that reads the HTTP request head itself and
 * routes it: /ws goes to the chat hub (hub.c, via wsc_accept_with and the
 * bytes already read), anything else is a static file from the --www
 * directories, searched in order (http_static.c; default: web-demo/www and
 * build/demo/www). Prints "chat: serving http://127.0.0.1:PORT".
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "http_static.h"
#include "hub.h"

#define HEAD_MAX 8192

/* Reads until the end of the request head ("\r\n\r\n"); its length, or -1. */
static ssize_t read_head(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            return (ssize_t)n;
    }
    return -1;
}

/* Splits "METHOD /path?query HTTP/1.1" into method and path (query dropped),
 * in place. 0, or -1 when malformed. */
static int parse_request_line(char *line, char **method, char **path)
{
    char *sp1 = strchr(line, ' ');
    if (!sp1)
        return -1;
    *sp1 = '\0';
    char *target = sp1 + 1;
    char *sp2 = strchr(target, ' ');
    if (!sp2)
        return -1;
    *sp2 = '\0';
    target[strcspn(target, "?#")] = '\0';
    *method = line;
    *path = target;
    return 0;
}

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char head[HEAD_MAX];
    ssize_t n = read_head(fd, head, sizeof head);
    if (n < 0) {
        close(fd);
        return NULL;
    }
    char line[1024];
    size_t line_len = strcspn(head, "\r\n");
    if (line_len >= sizeof line)
        line_len = sizeof line - 1;
    memcpy(line, head, line_len);
    line[line_len] = '\0';
    char *method, *path;
    if (parse_request_line(line, &method, &path) < 0) {
        close(fd);
        return NULL;
    }
    if (strcmp(path, "/ws") == 0) {
        struct timeval none = {0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
        hub_serve(fd, head, (size_t)n); /* closes fd */
        return NULL;
    }
    http_serve_static(fd, method, path);
    close(fd);
    return NULL;
}

static int listen_on(int port, int *bound_port)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        return -1;
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 64) < 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
        close(lfd);
        return -1;
    }
    *bound_port = ntohs(addr.sin_port);
    return lfd;
}

static int parse_args(int argc, char **argv, int *port)
{
    int n_www = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            *port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--www") == 0 && i + 1 < argc) {
            if (http_add_root(argv[++i]) < 0)
                return -1;
            n_www++;
        } else if (argv[i][0] != '-') {
            *port = atoi(argv[i]);
        } else {
            return -1;
        }
    }
    if (n_www == 0) {
        http_add_root("web-demo/www");
        http_add_root("build/demo/www");
    }
    return *port >= 0 && *port <= 65535 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int port = 8080, bound;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (parse_args(argc, argv, &port) < 0) {
        fprintf(stderr, "usage: chat_server [--port N] [--www DIR]...\n");
        return 2;
    }
    int lfd = listen_on(port, &bound);
    if (lfd < 0) {
        fprintf(stderr, "chat: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    printf("chat: serving http://127.0.0.1:%d\n", bound);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_t t;
        if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}
