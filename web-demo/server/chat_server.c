/* SPDX-License-Identifier: MIT */
/*
 * chat_server - the web demo's server: one port for the page and the chat.
 *
 *   chat_server [--port N] [--www DIR]... [--head-timeout MS]
 *               [--max-pending N] [--rate N] [--burst N]
 *
 * Each connection gets a thread that reads the HTTP request head itself
 * (http_head.c: the whole head within --head-timeout, default 10000 ms, else
 * 408; malformed heads get 400/414/431/505 at once) and routes it: /ws goes to
 * the chat hub (hub.c, via wsc_accept_with and the bytes already read),
 * anything else is a static file from the --www directories, searched in
 * order (http_static.c; default: web-demo/www and build/demo/www).
 * At most --max-pending connections (default 256) may be in that stage
 * (reading a head or being served a file); the next ones get 503 at once.
 * --rate and --burst set each chat client's send limit (hub.h). When accept
 * fails (a full fd table) the server sleeps, 5 ms doubling to 1 s, and says
 * so at most once a minute. Prints "chat: serving http://127.0.0.1:PORT".
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "http_head.h"
#include "http_static.h"
#include "hub.h"

#define SEND_TIMEOUT_S 10       /* a static file's reader must keep reading */
#define LINGER_MS 2000          /* after an answer, for the client to close first */
#define ACCEPT_DELAY_MIN_MS 5
#define ACCEPT_DELAY_MAX_MS 1000
#define ACCEPT_LOG_EVERY_S 60

typedef struct config {
    int port;
    int head_timeout_ms;
    int max_pending;
    int rate;                   /* chat messages a second per client, 0: no limit */
    int burst;
} config;

static config cfg = {.port = 8080, .head_timeout_ms = 10000, .max_pending = 256,
                     .rate = HUB_RATE_DEFAULT, .burst = HUB_BURST_DEFAULT};

/* Connections reading their head or being served a file (not chat clients). */
static atomic_int n_pending;

/* Reads the request head and answers it; the fd goes to the hub or is closed.
 * The connection stops counting as pending once it is a chat client. */
static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    http_head h;
    int status = http_read_head(fd, cfg.head_timeout_ms, &h);
    int is_chat = status == 0 && strcmp(h.path, "/ws") == 0;
    if (status > 0) {
        http_send_status(fd, status);
    } else if (status == 0 && !is_chat) {
        struct timeval tv = {.tv_sec = SEND_TIMEOUT_S};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        http_serve_static(fd, h.method, h.path);
    }
    if (is_chat) {
        atomic_fetch_sub(&n_pending, 1);
        hub_serve(fd, h.buf, h.len); /* closes fd */
        return NULL;
    }
    http_close_after_answer(fd, LINGER_MS);
    atomic_fetch_sub(&n_pending, 1);
    return NULL;
}

/* Hands fd to a new thread, or answers 503 at once when too many are
 * pending or no thread can be made. */
static void dispatch(int fd)
{
    pthread_t t;
    if (atomic_fetch_add(&n_pending, 1) < cfg.max_pending &&
        pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd) == 0) {
        pthread_detach(t);
        return;
    }
    atomic_fetch_sub(&n_pending, 1);
    http_send_status(fd, 503);
    http_close_after_answer(fd, 0); /* the accept loop must not wait */
}

/* The state of accept's back-off while it keeps failing. */
typedef struct backoff {
    int delay_ms;               /* 0 while accept succeeds */
    time_t logged_at;           /* the last time we said it failed */
} backoff;

/* After a failed accept (a full fd table, no memory): sleeps, 5 ms doubling
 * to 1 s while the failures go on (as Go's net/http does) so that the loop
 * does not spin; logs at most once a minute. */
static void accept_failed(backoff *b, int err)
{
    time_t now = time(NULL);
    if (b->delay_ms == 0 && now - b->logged_at >= ACCEPT_LOG_EVERY_S) {
        printf("chat: accept: %s; backing off (said at most once a minute)\n", strerror(err));
        b->logged_at = now;
    }
    b->delay_ms = b->delay_ms == 0 ? ACCEPT_DELAY_MIN_MS : b->delay_ms * 2;
    if (b->delay_ms > ACCEPT_DELAY_MAX_MS)
        b->delay_ms = ACCEPT_DELAY_MAX_MS;
    struct timespec ts = {.tv_sec = b->delay_ms / 1000, .tv_nsec = (long)(b->delay_ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void serve_forever(int lfd)
{
    backoff b = {0, -ACCEPT_LOG_EVERY_S};
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd >= 0) {
            b.delay_ms = 0;
            dispatch(fd);
        } else if (errno != EINTR && errno != ECONNABORTED) {
            accept_failed(&b, errno);
        }
    }
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

/* The value of a numeric option: 0, or -1 when it is not an integer in
 * [min, max]. */
static int parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* One "--name VALUE" option into cfg; 0, or -1 when unknown or invalid. */
static int parse_option(const char *name, const char *value)
{
    if (strcmp(name, "--port") == 0)
        return parse_int(value, 0, 65535, &cfg.port);
    if (strcmp(name, "--www") == 0)
        return http_add_root(value);
    if (strcmp(name, "--head-timeout") == 0)
        return parse_int(value, 1, 3600 * 1000, &cfg.head_timeout_ms);
    if (strcmp(name, "--max-pending") == 0)
        return parse_int(value, 1, 100000, &cfg.max_pending);
    if (strcmp(name, "--rate") == 0)
        return parse_int(value, 0, 1000000, &cfg.rate);
    if (strcmp(name, "--burst") == 0)
        return parse_int(value, 1, 1000000, &cfg.burst);
    return -1;
}

static int parse_args(int argc, char **argv)
{
    int n_www = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-') {
            if (parse_int(argv[i], 0, 65535, &cfg.port) < 0)
                return -1;
        } else if (i + 1 < argc && parse_option(argv[i], argv[i + 1]) == 0) {
            n_www += strcmp(argv[i], "--www") == 0;
            i++;
        } else {
            return -1;
        }
    }
    if (n_www == 0) {
        http_add_root("web-demo/www");
        http_add_root("build/demo/www");
    }
    return 0;
}

int main(int argc, char **argv)
{
    int bound;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (parse_args(argc, argv) < 0) {
        fprintf(stderr, "usage: chat_server [--port N] [--www DIR]... [--head-timeout MS]\n"
                        "                   [--max-pending N] [--rate N] [--burst N]\n");
        return 2;
    }
    hub_set_rate(cfg.rate, cfg.burst);
    int lfd = listen_on(cfg.port, &bound);
    if (lfd < 0) {
        fprintf(stderr, "chat: cannot listen on 127.0.0.1:%d: %s\n", cfg.port, strerror(errno));
        return 1;
    }
    printf("chat: serving http://127.0.0.1:%d\n", bound);
    serve_forever(lfd);
}
