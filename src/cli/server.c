/*
 * server.c - listen mode: binds [HOST:]PORT, accepts WebSocket connections
 * (over TLS with --tls-cert and --tls-key), and either pipes the first one
 * to stdin/stdout (then exits like the client) or, with --echo, echoes every
 * message of any number of clients, one thread each, until killed.
 */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const cli_options *o;
    wsc_accept_options accept;
    wsc_tls_server *tls;
    int fd;
} server;

typedef struct {
    const server *srv;
    int fd;
    char peer[80];
} client_job;

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

/* Accepts the next TCP connection; fills peer. -1 on a fatal error. */
static int next_socket(server *srv, char *peer, size_t cap)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept(srv->fd, (struct sockaddr *)&ss, &len);
        if (fd >= 0) {
            format_addr((struct sockaddr *)&ss, peer, cap);
            return fd;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        cli_err("accept: %s", strerror(errno));
        if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM)
            return -1;
        nanosleep(&(struct timespec){.tv_nsec = 100000000L}, NULL);
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

static void echo_loop(wsc_conn *c, const char *peer, bool verbose)
{
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        int r = wsc_read(c, -1, &type, &data, &len);
        if (r == 0)
            r = wsc_write(c, type, data, len, -1);
        if (r < 0) {
            if (verbose)
                cli_err("%s: closed with %d: %s", peer, wsc_close_status(c), wsc_last_error());
            return;
        }
    }
}

static void *echo_main(void *arg)
{
    client_job *job = arg;
    wsc_conn *c = handshake(job->srv, job->fd, job->peer);
    if (c) {
        wsc_set_read_limit(c, job->srv->o->max_size);
        echo_loop(c, job->peer, job->srv->o->verbose);
        wsc_conn_free(c);
    }
    free(job);
    return NULL;
}

static int serve_echo(server *srv)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        client_job *job = calloc(1, sizeof *job);
        if (!job) {
            cli_err("out of memory");
            return CLI_EXIT_LOCAL;
        }
        job->srv = srv;
        job->fd = next_socket(srv, job->peer, sizeof job->peer);
        pthread_t t;
        if (job->fd < 0 || pthread_create(&t, &attr, echo_main, job) != 0) {
            if (job->fd >= 0)
                close(job->fd);
            free(job);
            return CLI_EXIT_LOCAL;
        }
    }
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
    server srv = {.o = o, .fd = -1};
    int r = load_tls(&srv);
    if (r == 0)
        r = open_listener(&srv);
    if (r == 0) {
        accept_options(&srv);
        r = o->echo ? serve_echo(&srv) : serve_one(&srv);
    }
    if (srv.fd >= 0)
        close(srv.fd);
    if (!o->echo) /* echo threads may still use it until the process exits */
        wsc_tls_server_free(srv.tls);
    return r;
}
