/* SPDX-License-Identifier: MIT */
/*
 * listener.c - what listen mode sets up before it serves: the listening
 * socket, the TLS certificate, the wsc_accept options (checked at startup),
 * and taking the next connection off the listening socket.
 */
#define _GNU_SOURCE

#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Binds and listens; prints "wsc: listening on ADDR". 0 or an exit code. */
int cli_listen(const cli_options *o, bool tls, int *fd)
{
    char host[256], port[16];
    int r = split_listen(o->listen, host, sizeof host, port, sizeof port);
    if (r)
        return r;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *list;
    int g = getaddrinfo(host, port, &hints, &list);
    if (g != 0) {
        cli_err("cannot listen on %s: %s", o->listen, gai_strerror(g));
        return CLI_EXIT_LOCAL;
    }
    *fd = -1;
    int err = 0;
    for (struct addrinfo *ai = list; ai && *fd < 0; ai = ai->ai_next) {
        *fd = bind_one(ai);
        err = errno;
    }
    freeaddrinfo(list);
    if (*fd < 0) {
        cli_err("cannot listen on %s: %s", o->listen, strerror(err));
        return CLI_EXIT_LOCAL;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char addr[80] = "?";
    if (getsockname(*fd, (struct sockaddr *)&ss, &len) == 0)
        format_addr((struct sockaddr *)&ss, addr, sizeof addr);
    cli_err("listening on %s%s", addr, tls ? " (TLS)" : "");
    return 0;
}

int cli_load_tls(const cli_options *o, wsc_tls_server **tls)
{
    if (!o->cert_file)
        return 0;
    wsc_tls_options t = {.cert_file = o->cert_file, .key_file = o->key_file, .ca_file = o->ca_file};
    int r = wsc_tls_server_new(&t, tls);
    if (r < 0) {
        char name[64];
        cli_err("cannot load the TLS certificate: %s: %s", cli_err_name(r, name, sizeof name),
                wsc_last_error());
        return CLI_EXIT_TLS;
    }
    return 0;
}

void cli_accept_options(const cli_options *o, wsc_tls_server *tls, wsc_accept_options *a)
{
    memset(a, 0, sizeof *a);
    a->subprotocols = o->subprotocols;
    a->n_subprotocols = o->n_subprotocols;
    a->insecure_skip_verify = true; /* a debugging tool takes any Origin */
    a->compression = o->compression;
    a->tls = tls;
    a->handshake_timeout_ms = o->timeout_ms;
    a->headers = o->headers;
    a->n_headers = o->n_headers;
}

/* wsc_accept checks its options before it touches the socket, so a bad -H
 * or subprotocol is found here, at startup, instead of failing every
 * client: a handshake on a socketpair whose other end is already closed. */
int cli_check_accept_options(const wsc_accept_options *opts)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 0; /* cannot check: the first client will tell */
    close(sv[1]);
    wsc_accept_options a = *opts;
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

int cli_accept_socket(int lfd, char *peer, size_t cap, char *why, size_t why_cap)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            format_addr((struct sockaddr *)&ss, peer, cap);
            return fd;
        }
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK)
            return CLI_ACCEPT_NONE;
        if (connection_error(e))
            continue;
        const char *hint = resource_hint(e);
        if (!hint) {
            snprintf(why, why_cap, "cannot accept connections: %s", strerror(e));
            return CLI_ACCEPT_BROKEN;
        }
        snprintf(why, why_cap, "cannot accept a connection: %s; retrying as clients leave; %s",
                 strerror(e), hint);
        return CLI_ACCEPT_SHORT;
    }
}
