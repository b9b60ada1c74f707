/* SPDX-License-Identifier: MIT */
/*
 * chat_server - the web demo's server: one port for the page and the chat.
 *
 *   chat_server [--port N] [--www DIR]... [--head-timeout MS]
 *               [--max-pending N] [--rate N] [--burst N] [--allow-host NAME]...
 *               [--redis HOST:PORT|/path/to/redis.sock]
 *
 * One thread serves everything from an epoll loop (loop.c). Each connection
 * first has its HTTP request head read (http_head.c: the whole head within
 * --head-timeout, default 10000 ms, else 408; malformed heads get
 * 400/414/431/505 at once) and is routed: /ws goes to the chat hub (hub.c,
 * a nonblocking wsc_accept_with on the bytes already read), anything else is
 * a static file from the --www directories, searched in order
 * (http_static.c; default: web-demo/www and build/demo/www), which the client
 * must take within 10 s. At most --max-pending connections (default 256)
 * may be in that stage (reading a head or being answered); the next ones
 * get 503 at once.
 * --rate and --burst set each chat client's send limit (hub.h). The chat
 * answers upgrades naming localhost, 127.0.0.1 or [::1] in their Host, and
 * each --allow-host NAME (a glob; a reverse proxy's name): others get 403,
 * so that a page of another site whose name was rebound to 127.0.0.1 cannot
 * join. With --redis, servers started with the same Redis share one room
 * (relay.c): each line goes out through its pub/sub channel, guests are
 * named "guest-TAG-N" (TAG: 4 random hex digits per server), and while
 * Redis is down a server chats alone and reconnects every second.
 * When accept
 * fails (a full fd table) accepting pauses, 5 ms doubling to 1 s, and the
 * server says so at most once a minute. Prints "chat: serving http://127.0.0.1:PORT".
 * The log (joins, leaves, ...) on stdout is written out every tick (100 ms),
 * not a system call per line. SIGTERM or SIGINT shut the server down: it
 * stops listening, closes every chat client with 1001 "server shutting
 * down" and exits (status 0) once they have answered, or after 2 s (a
 * second signal: at once).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_head.h"
#include "http_static.h"
#include "hub.h"
#include "loop.h"
#include "relay.h"

#define SEND_TIMEOUT_MS 10000  /* a page's reader must take its answer in this time */
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
    const char *redis;          /* --redis: the Redis server to share the room through */
} config;

static config cfg = {.port = 8080, .head_timeout_ms = 10000, .max_pending = 256,
                     .rate = HUB_RATE_DEFAULT, .burst = HUB_BURST_DEFAULT};

/* ---- HTTP connections: the head, then a page or the hub -------------------- */

enum { READING_HEAD, ANSWERING, LINGERING };

typedef struct http_conn {
    watcher w;                  /* first: the loop hands it back */
    int stage;
    long long deadline;         /* of the stage */
    http_head h;
    char *answer;               /* malloc'd: the whole answer */
    size_t answer_len, answer_pos;
    bool dead;
    struct http_conn *prev, *next, *dead_next;
} http_conn;

/* Connections reading their head or being answered (not chat clients). */
static http_conn *pending, *dead;
static int n_pending;

static void http_unlink(http_conn *hc)
{
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        pending = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    n_pending--;
    hc->dead = true;
    hc->dead_next = dead;
    dead = hc;
    loop_forget(&hc->w);
}

static void http_end(http_conn *hc)
{
    http_unlink(hc);
    close(hc->w.fd);
}

/* Answers with the answer made (NULL: out of memory, the client is closed). */
static void start_answer(http_conn *hc, char *answer, size_t len)
{
    if (!answer) {
        http_end(hc);
        return;
    }
    hc->answer = answer;
    hc->answer_len = len;
    hc->stage = ANSWERING;
    hc->deadline = loop_now_ms() + SEND_TIMEOUT_MS;
    loop_watch(&hc->w, EPOLLOUT);
}

/* The head is complete: /ws goes to the hub, anything else is a file. */
static void route(http_conn *hc)
{
    if (strcmp(hc->h.path, "/ws") == 0) {
        int fd = hc->w.fd;
        http_unlink(hc); /* the hub watches fd from now on */
        hub_serve(fd, hc->h.buf, hc->h.len);
        return;
    }
    size_t len;
    char *a = http_static_answer(hc->h.method, hc->h.path, &len);
    start_answer(hc, a, len);
}

/* Closing a socket with unread input sends a reset, which can destroy an
 * answer the client has not read yet: so after the answer our side is shut
 * and what the client still sends is read and dropped until it closes, for
 * at most LINGER_MS. */
static void linger_read(http_conn *hc)
{
    char buf[16384];
    for (;;) {
        ssize_t n = recv(hc->w.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            http_end(hc);
            return;
        }
    }
}

static void send_answer(http_conn *hc)
{
    while (hc->answer_pos < hc->answer_len) {
        ssize_t n = send(hc->w.fd, hc->answer + hc->answer_pos, hc->answer_len - hc->answer_pos,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            http_end(hc);
            return;
        }
        hc->answer_pos += (size_t)n;
    }
    shutdown(hc->w.fd, SHUT_WR);
    hc->stage = LINGERING;
    hc->deadline = loop_now_ms() + LINGER_MS;
    loop_watch(&hc->w, EPOLLIN);
    linger_read(hc);
}

static void http_ready(watcher *w, uint32_t events)
{
    http_conn *hc = (http_conn *)w;
    (void)events;
    if (hc->dead)
        return;
    if (hc->stage == READING_HEAD) {
        int status = http_head_feed(w->fd, &hc->h);
        if (status == 0) {
            route(hc);
        } else if (status > 0) {
            size_t len;
            char *a = http_status_answer(status, &len);
            start_answer(hc, a, len);
        } else if (status == -1) {
            http_end(hc);
        }
    }
    if (hc->dead)
        return;
    if (hc->stage == ANSWERING)
        send_answer(hc);
    else if (hc->stage == LINGERING)
        linger_read(hc);
}

static void http_tick(long long now)
{
    http_conn *next;
    for (http_conn *hc = pending; hc; hc = next) {
        next = hc->next;
        if (now < hc->deadline)
            continue;
        if (hc->stage == READING_HEAD) {
            size_t len;
            char *a = http_status_answer(408, &len);
            start_answer(hc, a, len);
            if (!hc->dead)
                send_answer(hc);
        } else {
            http_end(hc); /* not taking its answer, or lingering long enough */
        }
    }
}

static void after_batch(void)
{
    hub_after();
    while (dead) {
        http_conn *hc = dead;
        dead = hc->dead_next;
        free(hc->answer);
        free(hc);
    }
}

static void tick(long long now)
{
    http_tick(now);
    hub_tick(now);
}

/* A new connection: it reads its head, or gets 503 at once when too many
 * are pending. */
static void take(int fd)
{
    http_conn *hc = n_pending < cfg.max_pending ? calloc(1, sizeof *hc) : NULL;
    if (!hc) {
        http_send_status(fd, 503);
        http_close_after_answer(fd, 0); /* the loop must not wait */
        return;
    }
    http_head_init(&hc->h);
    hc->w.ready = http_ready;
    hc->w.fd = fd;
    hc->stage = READING_HEAD;
    hc->deadline = loop_now_ms() + cfg.head_timeout_ms;
    hc->next = pending;
    if (pending)
        pending->prev = hc;
    pending = hc;
    n_pending++;
    loop_watch(&hc->w, EPOLLIN);
}

/* ---- the listening socket ------------------------------------------------ */

typedef struct listener {
    watcher w;
    int delay_ms;               /* accept's back-off, 0 while accept succeeds */
    long long resume_at;        /* accepting paused until then */
    time_t logged_at;           /* the last time we said it failed */
} listener;

static listener lis = {.logged_at = -ACCEPT_LOG_EVERY_S};

/* After a failed accept (a full fd table, no memory): accepting pauses, 5 ms
 * doubling to 1 s while the failures go on (as Go's net/http does) so that
 * the loop does not spin, while everyone connected is served; logs at most
 * once a minute. */
static void accept_failed(int err)
{
    time_t now = time(NULL);
    if (lis.delay_ms == 0 && now - lis.logged_at >= ACCEPT_LOG_EVERY_S) {
        printf("chat: accept: %s; backing off (said at most once a minute)\n", strerror(err));
        lis.logged_at = now;
    }
    lis.delay_ms = lis.delay_ms == 0 ? ACCEPT_DELAY_MIN_MS : lis.delay_ms * 2;
    if (lis.delay_ms > ACCEPT_DELAY_MAX_MS)
        lis.delay_ms = ACCEPT_DELAY_MAX_MS;
    lis.resume_at = loop_now_ms() + lis.delay_ms;
    loop_watch(&lis.w, 0);
}

static void accept_ready(watcher *w, uint32_t events)
{
    (void)events;
    for (int i = 0; i < 64; i++) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            lis.delay_ms = 0;
            take(fd);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno != EINTR && errno != ECONNABORTED) {
            accept_failed(errno);
            return;
        }
    }
}

static void tick_all(long long now)
{
    if (lis.delay_ms && now >= lis.resume_at)
        loop_watch(&lis.w, EPOLLIN);
    tick(now);
    relay_tick(now);
    fflush(stdout);
}

static int listen_on(int port, int *bound_port)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        return -1;
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, SOMAXCONN) < 0 ||
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
    if (strcmp(name, "--allow-host") == 0)
        return hub_allow_host(value);
    if (strcmp(name, "--redis") == 0) {
        cfg.redis = value;
        return 0;
    }
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

#define SHUTDOWN_MS 2000
static long long shutdown_by;

/* While shutting down: stops the loop once every client is gone, or at
 * the deadline. */
static void tick_shutdown(long long now)
{
    tick_all(now);
    if (hub_count() == 0 || now >= shutdown_by)
        loop_stop();
}

static void on_stop_signal(int sig)
{
    (void)sig;
    loop_stop();
}

int main(int argc, char **argv)
{
    int bound;
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_stop_signal}; /* no SA_RESTART: epoll_wait returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (parse_args(argc, argv) < 0) {
        fprintf(stderr, "usage: chat_server [--port N] [--www DIR]... [--head-timeout MS]\n"
                        "                   [--max-pending N] [--rate N] [--burst N] [--allow-host NAME]...\n"
                        "                   [--redis HOST:PORT|/path/to/redis.sock]\n");
        return 2;
    }
    hub_set_rate(cfg.rate, cfg.burst);
    int lfd = listen_on(cfg.port, &bound);
    if (lfd < 0) {
        fprintf(stderr, "chat: cannot listen on 127.0.0.1:%d: %s\n", cfg.port, strerror(errno));
        return 1;
    }
    if (loop_init() < 0) {
        fprintf(stderr, "chat: epoll: %s\n", strerror(errno));
        return 1;
    }
    if (cfg.redis) {
        unsigned char r[2];
        char tag[8];
        if (getentropy(r, sizeof r) != 0)
            r[0] = (unsigned char)getpid(), r[1] = (unsigned char)(getpid() >> 8);
        snprintf(tag, sizeof tag, "%02x%02x", r[0], r[1]);
        hub_set_name_tag(tag);
        if (relay_start(cfg.redis) < 0)
            return 2;
    }
    lis.w.ready = accept_ready;
    lis.w.fd = lfd;
    loop_watch(&lis.w, EPOLLIN);
    printf("chat: serving http://127.0.0.1:%d\n", bound);
    fflush(stdout);
    int r = loop_run(after_batch, tick_all);
    if (r == 0 && hub_shutdown() > 0) {
        lis.delay_ms = 0; /* no accept pause to resume: the listener goes */
        loop_forget(&lis.w);
        close(lfd);
        shutdown_by = loop_now_ms() + SHUTDOWN_MS;
        r = loop_run(after_batch, tick_shutdown);
    }
    fflush(stdout);
    return r < 0 ? 1 : 0;
}
