/* SPDX-License-Identifier: MIT */
/*
 * server.c - listen mode: binds [HOST:]PORT, accepts WebSocket connections
 * (over TLS with --tls-cert and --tls-key), and either pipes the first one
 * to stdin/stdout (then exits like the client) or, with --echo, echoes every
 * message of any number of clients, one thread each, until killed. A
 * failure that concerns clients (a handshake, no fd or no thread for one)
 * never ends the server: the client is refused and the loop backs off.
 */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A failure that hits every new client for a while (no fd, no thread left):
 * said once when it starts and once when it ends, and waited out with pauses
 * that double from BACKOFF_FIRST_MS up to max_ms, so the loop never spins. */
typedef struct {
    int max_ms;
    int pause_ms;            /* 0: not failing */
    unsigned long failures;  /* in this burst */
} backoff;

#define BACKOFF_FIRST_MS 5

/* With --echo, how long an echo may take to be written when --timeout does
 * not say: a client that reads nothing for that long is disconnected, so
 * that it does not hold its thread for ever. */
#define ECHO_WRITE_MS 30000

typedef struct {
    const cli_options *o;
    wsc_accept_options accept;
    wsc_tls_server *tls;
    int fd;
    backoff accept_wait;     /* accept(2) out of fds or memory */
    backoff thread_wait;     /* no thread for a client */
} server;

typedef struct {
    const server *srv;
    int fd;
    char peer[80];
} client_job;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Counts one failure, logs `why` if it is the first of a burst, and pauses. */
static void backoff_fail(backoff *b, const char *why)
{
    if (b->failures++ == 0)
        cli_err("%s", why);
    b->pause_ms = b->pause_ms ? b->pause_ms * 2 : BACKOFF_FIRST_MS;
    if (b->pause_ms > b->max_ms)
        b->pause_ms = b->max_ms;
    sleep_ms(b->pause_ms);
}

/* Ends a burst, if any, saying that `what` works again. */
static void backoff_ok(backoff *b, const char *what)
{
    if (b->failures)
        cli_err("%s again after %lu failure%s", what, b->failures, b->failures == 1 ? "" : "s");
    b->failures = 0;
    b->pause_ms = 0;
}

/* "[v6]:port", "host:port" or "port" into host and port. 0 or an exit code. */
static int split_listen(const char *spec, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon = strrchr(spec, ':');
    const char *h = "127.0.0.1";
    size_t hlen = strlen(h);
    const char *p = spec;
    if (colon) {
        h = spec;
        hlen = (size_t)(colon - spec);
        p = colon + 1;
        if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
            h++;
            hlen -= 2;
        }
    }
    if (hlen == 0 || hlen >= hcap || strlen(p) == 0 || strlen(p) >= pcap ||
        strspn(p, "0123456789") != strlen(p)) {
        cli_err("--listen wants [HOST:]PORT, got \"%s\"", spec);
        return CLI_EXIT_USAGE;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, pcap, "%s", p);
    return 0;
}

/* "127.0.0.1:8080" or "[::1]:8080" for a socket address. */
static void format_addr(const struct sockaddr *sa, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        snprintf(buf, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const void *)sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(buf, cap, "%s:%u", ip, ntohs(a->sin_port));
    }
}

static int bind_one(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Binds and listens; prints "wsc: listening on ADDR". 0 or an exit code. */
static int open_listener(server *srv)
{
    char host[256], port[16];
    int r = split_listen(srv->o->listen, host, sizeof host, port, sizeof port);
    if (r)
        return r;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *list;
    int g = getaddrinfo(host, port, &hints, &list);
    if (g != 0) {
        cli_err("cannot listen on %s: %s", srv->o->listen, gai_strerror(g));
        return CLI_EXIT_LOCAL;
    }
    srv->fd = -1;
    int err = 0;
    for (struct addrinfo *ai = list; ai && srv->fd < 0; ai = ai->ai_next) {
        srv->fd = bind_one(ai);
        err = errno;
    }
    freeaddrinfo(list);
    if (srv->fd < 0) {
        cli_err("cannot listen on %s: %s", srv->o->listen, strerror(err));
        return CLI_EXIT_LOCAL;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char addr[80] = "?";
    if (getsockname(srv->fd, (struct sockaddr *)&ss, &len) == 0)
        format_addr((struct sockaddr *)&ss, addr, sizeof addr);
    cli_err("listening on %s%s", addr, srv->tls ? " (TLS)" : "");
    return 0;
}

static int load_tls(server *srv)
{
    const cli_options *o = srv->o;
    if (!o->cert_file)
        return 0;
    wsc_tls_options t = {.cert_file = o->cert_file, .key_file = o->key_file, .ca_file = o->ca_file};
    int r = wsc_tls_server_new(&t, &srv->tls);
    if (r < 0) {
        char name[64];
        cli_err("cannot load the TLS certificate: %s: %s", cli_err_name(r, name, sizeof name),
                wsc_last_error());
        return CLI_EXIT_TLS;
    }
    return 0;
}

static void accept_options(server *srv)
{
    const cli_options *o = srv->o;
    wsc_accept_options *a = &srv->accept;
    memset(a, 0, sizeof *a);
    a->subprotocols = o->subprotocols;
    a->n_subprotocols = o->n_subprotocols;
    a->insecure_skip_verify = true; /* a debugging tool takes any Origin */
    a->compression = o->compression;
    a->tls = srv->tls;
    a->handshake_timeout_ms = o->timeout_ms;
    a->headers = o->headers;
    a->n_headers = o->n_headers;
}

/* wsc_accept checks its options before it touches the socket, so a bad -H
 * or subprotocol is found here, at startup, instead of failing every
 * client: a handshake on a socketpair whose other end is already closed. */
static int check_accept_options(const server *srv)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 0; /* cannot check: the first client will tell */
    close(sv[1]);
    wsc_accept_options a = srv->accept;
    a.tls = NULL;
    wsc_conn *c = NULL;
    int r = wsc_accept(sv[0], &a, &c);
    if (c)
        wsc_conn_free(c); /* closes sv[0] */
    else
        close(sv[0]);
    if (r != WSC_EINVAL)
        return 0;
    cli_err("%s", wsc_last_error());
    return CLI_EXIT_USAGE;
}

/* accept(2) errors of one connection (it failed before we took it, or a
 * firewall refused it): the next one may be fine. */
static bool connection_error(int e)
{
    switch (e) {
    case EINTR: case ECONNABORTED: case EPROTO: case EPERM: case ENETDOWN:
    case ENETUNREACH: case EHOSTUNREACH: case ENOPROTOOPT: case EOPNOTSUPP:
        return true;
    default:
        return false;
    }
}

/* What to do about an accept(2) error that a client leaving will cure. */
static const char *resource_hint(int e)
{
    switch (e) {
    case EMFILE: return "for more clients raise the open-file limit (ulimit -n)";
    case ENFILE: return "the system's file table is full";
    case ENOBUFS:
    case ENOMEM: return "the system is short of memory";
    default: return NULL;
    }
}

/* Accepts the next TCP connection; fills peer. Waits out a lack of fds or
 * memory. -1 when the listening socket itself failed. */
static int next_socket(server *srv, char *peer, size_t cap)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept(srv->fd, (struct sockaddr *)&ss, &len);
        if (fd >= 0) {
            backoff_ok(&srv->accept_wait, "accepting connections");
            format_addr((struct sockaddr *)&ss, peer, cap);
            return fd;
        }
        int e = errno;
        if (connection_error(e))
            continue;
        const char *hint = resource_hint(e);
        if (!hint) {
            cli_err("cannot accept connections: %s", strerror(e));
            return -1;
        }
        char why[256];
        snprintf(why, sizeof why, "cannot accept a connection: %s; retrying as clients leave; %s",
                 strerror(e), hint);
        backoff_fail(&srv->accept_wait, why);
    }
}

/* The WebSocket handshake on fd; closes fd and explains when it fails. */
static wsc_conn *handshake(const server *srv, int fd, const char *peer)
{
    wsc_conn *c = NULL;
    int r = wsc_accept(fd, &srv->accept, &c);
    if (r < 0) {
        char name[64];
        cli_err("handshake with %s failed: %s: %s", peer, cli_err_name(r, name, sizeof name),
                wsc_last_error());
        close(fd);
        return NULL;
    }
    if (srv->o->verbose)
        cli_err("%s connected to %s (subprotocol \"%s\", extensions \"%s\")", peer,
                wsc_request_target(c), wsc_subprotocol(c), wsc_extensions(c));
    return c;
}

/* ---- --echo ------------------------------------------------------------- */

/* Writes one echo within ms. Returns what wsc_write returned; a client that
 * took longer is said to be one that does not read, and is disconnected. */
static int echo_write(wsc_conn *c, const char *peer, int ms, wsc_msg_type type,
                      const void *data, size_t len)
{
    long long start = now_ms();
    int r = wsc_write(c, type, data, len, ms);
    if (r < 0 && now_ms() - start >= ms) {
        cli_err("%s: an echo was not taken within %g s (the client does not read): disconnected",
                peer, ms / 1000.0);
        wsc_close_now(c); /* after WSC_ETIMEDOUT it is still open, its buffers full */
    }
    return r;
}

static void echo_loop(wsc_conn *c, const char *peer, const cli_options *o)
{
    int write_ms = o->timeout_ms > 0 ? o->timeout_ms : ECHO_WRITE_MS;
    int r;
    do {
        wsc_msg_type type;
        const void *data;
        size_t len;
        r = wsc_read(c, -1, &type, &data, &len);
        if (r == 0)
            r = echo_write(c, peer, write_ms, type, data, len);
    } while (r == 0);
    if (o->verbose)
        cli_err("%s: closed with %d: %s", peer, wsc_close_status(c), wsc_last_error());
}

static void *echo_main(void *arg)
{
    client_job *job = arg;
    wsc_conn *c = handshake(job->srv, job->fd, job->peer);
    if (c) {
        wsc_set_read_limit(c, job->srv->o->max_size);
        echo_loop(c, job->peer, job->srv->o);
        wsc_conn_free(c);
    }
    free(job);
    return NULL;
}

/* Starts the thread that serves fd. Returns 0, or an errno value (fd is
 * left to the caller). */
static int start_echo(server *srv, const pthread_attr_t *attr, int fd, const char *peer)
{
    client_job *job = calloc(1, sizeof *job);
    if (!job)
        return ENOMEM;
    job->srv = srv;
    job->fd = fd;
    snprintf(job->peer, sizeof job->peer, "%s", peer);
    pthread_t t;
    int err = pthread_create(&t, attr, echo_main, job);
    if (err)
        free(job);
    return err;
}

/* Reads (and drops) what the client already sent, without waiting: closing
 * a socket with unread bytes sends a reset, which can destroy our answer. */
static void drop_input(int fd)
{
    char buf[4096];
    for (int i = 0; i < 16 && recv(fd, buf, sizeof buf, 0) > 0; i++)
        ;
}

/* Turns away a client that has no thread, without blocking the accept loop:
 * an HTTP 503 on a plain socket, only the close over TLS. */
static void refuse(const server *srv, int fd)
{
    static const char body[] = "no thread free for this client; try again later\n";
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
                     "Retry-After: 1\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n\r\n%s", sizeof body - 1, body);
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    drop_input(fd);
    if (!srv->tls && send(fd, head, (size_t)n, 0) == n)
        shutdown(fd, SHUT_WR);
    drop_input(fd);
    close(fd);
}

static int serve_echo(server *srv)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        char peer[80];
        int fd = next_socket(srv, peer, sizeof peer);
        if (fd < 0)
            break;
        int err = start_echo(srv, &attr, fd, peer);
        if (err == 0) {
            backoff_ok(&srv->thread_wait, "serving new clients");
            continue;
        }
        refuse(srv, fd);
        char why[256];
        snprintf(why, sizeof why, "cannot start a thread for %s: %s; refusing new clients until "
                 "threads end (for more clients raise the task limit, ulimit -u)",
                 peer, strerror(err));
        backoff_fail(&srv->thread_wait, why);
    }
    pthread_attr_destroy(&attr);
    return CLI_EXIT_LOCAL;
}

/* ---- stdin/stdout ------------------------------------------------------- */

/* Pipes the first client that completes the handshake to stdin/stdout. */
static int serve_one(server *srv)
{
    for (;;) {
        char peer[80];
        int fd = next_socket(srv, peer, sizeof peer);
        if (fd < 0)
            return CLI_EXIT_LOCAL;
        wsc_conn *c = handshake(srv, fd, peer);
        if (!c)
            continue;
        close(srv->fd); /* later clients are refused */
        srv->fd = -1;
        int code = cli_session(c, srv->o);
        wsc_conn_free(c);
        return code;
    }
}

int cli_server(const cli_options *o)
{
    server srv = {.o = o, .fd = -1, .accept_wait = {.max_ms = 1000}, .thread_wait = {.max_ms = 100}};
    int r = load_tls(&srv);
    if (r == 0) {
        accept_options(&srv);
        r = check_accept_options(&srv);
    }
    if (r == 0)
        r = open_listener(&srv);
    if (r == 0)
        r = o->echo ? serve_echo(&srv) : serve_one(&srv);
    if (srv.fd >= 0)
        close(srv.fd);
    if (!o->echo) /* echo threads may still use it until the process exits */
        wsc_tls_server_free(srv.tls);
    return r;
}
