/* SPDX-License-Identifier: MIT */
/* dial.c - wsc_dial and wsc_dial_fd: resolve, connect (every address, with
 * deadlines; or a Unix socket; or take the caller's socket), send the
 * upgrade request, check the response. A step function drives it so a
 * non-blocking dial can advance a little on each later call. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/error.h"
#include "common/owned.h"
#include "proto/url.h"
#include "native/conn.h"
#include "proto/handshake.h"
#include "net/proxy.h"
#include "net/tls.h"

/* CONNECT reaches the proxy when one is used, else the server. PROXY opens
 * the proxy's CONNECT tunnel; TLS runs the TLS handshake for wss/https. Both
 * pass straight through when not needed. */
enum { STAGE_CONNECT, STAGE_PROXY, STAGE_TLS, STAGE_SEND, STAGE_RECEIVE };

struct wsc_dialer {
    int stage;
    struct addrinfo *addrs, *cur; /* addrs from getaddrinfo, or NULL for ... */
    struct addrinfo unix_addr;    /* ... the one address of a ws+unix:// URL */
    struct sockaddr_un unix_sa;
    int fd;                    /* socket being connected, -1 between tries */
    wsc_deadline addr_deadline;
    wsc_deadline deadline;     /* the whole handshake */
    char target_desc[300];     /* "host:port" ("[v6]:port") for messages */
    char connect_desc[400];    /* what STAGE_CONNECT reaches: target_desc or the proxy */
    wsc_proxy_tunnel proxy;    /* proxy.url.host NULL: no proxy */
    char errors[300];          /* why earlier addresses failed */
    char *req;
    size_t req_len, req_pos;
    char key[25];
    char **protos;
    size_t n_protos;
    size_t max_head;
    wsc_compression compression; /* what we offered */
    int threshold;
    wsc_deflate_options deflate;
    wsc_tls *tls;              /* wss/https until the TLS handshake is done */
    short tls_want;            /* what the TLS handshake waits for */
    /* Redirects (opts.max_redirects > 0): what the next request is built
     * from, copied, and the URL this one went to. */
    int redirects_left;
    bool fixed_socket;         /* a Unix socket or the caller's: no redirects */
    wsc_dial_options o;        /* its strings and arrays owned here */
    char *url;
};

/* ---- the options a redirect needs, copied ------------------------------- */

static void free_options(wsc_dial_options *o)
{
    wsc__headers_free(o->headers, o->n_headers);
    wsc__strv_free(o->subprotocols, o->n_subprotocols);
    const char *strings[] = {o->host, o->proxy, o->tls.ca_file, o->tls.ca_dir, o->tls.cert_file,
                             o->tls.key_file};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        free((char *)strings[i]);
    memset(o, 0, sizeof *o);
}

static bool copy_options(wsc_dial_options *dst, const wsc_dial_options *src)
{
    bool ok = true;
    *dst = *src;
    dst->headers = wsc__headers_copy(src->headers, src->n_headers, &ok);
    dst->subprotocols = wsc__strv_copy(src->subprotocols, src->n_subprotocols, &ok);
    dst->host = wsc__str_copy(src->host, &ok);
    dst->proxy = wsc__str_copy(src->proxy, &ok);
    dst->tls.ca_file = wsc__str_copy(src->tls.ca_file, &ok);
    dst->tls.ca_dir = wsc__str_copy(src->tls.ca_dir, &ok);
    dst->tls.cert_file = wsc__str_copy(src->tls.cert_file, &ok);
    dst->tls.key_file = wsc__str_copy(src->tls.key_file, &ok);
    if (!ok)
        free_options(dst);
    return ok;
}

void wsc__dialer_free(wsc_dialer *dl)
{
    if (!dl)
        return;
    free_options(&dl->o);
    free(dl->url);
    if (dl->addrs)
        freeaddrinfo(dl->addrs);
    if (dl->fd >= 0)
        close(dl->fd);
    for (size_t i = 0; i < dl->n_protos; i++)
        free(dl->protos[i]);
    free(dl->protos);
    free(dl->req);
    wsc__proxy_tunnel_free(&dl->proxy);
    wsc__tls_free(dl->tls);
    free(dl);
}

static size_t count_addrs(const struct addrinfo *a)
{
    size_t n = 0;
    for (; a; a = a->ai_next)
        n++;
    return n;
}

/* Makes fd the socket wsc_fd reports and wsc_close_now shuts down while the
 * TCP connect runs (-1: none). False if the connection was closed meanwhile. */
static bool publish_dial_fd(wsc_conn *c, int fd)
{
    pthread_mutex_lock(&c->mu);
    bool open = atomic_load(&c->state) != WSC_STATE_CLOSED;
    c->dial_fd = open ? fd : -1;
    pthread_mutex_unlock(&c->mu);
    return open;
}

/* Gives up the socket being connected, to try the next address. */
static void drop_dial_fd(wsc_conn *c, wsc_dialer *dl, int err)
{
    size_t used = strlen(dl->errors);
    snprintf(dl->errors + used, sizeof dl->errors - used, "%s%s", used ? "; " : "", strerror(err));
    publish_dial_fd(c, -1);
    if (dl->fd >= 0)
        close(dl->fd);
    dl->fd = -1;
    dl->cur = dl->cur->ai_next;
}

/* Starts connecting to the next address left, if any (dl->fd then >= 0,
 * unless the connection was closed meanwhile). */
static void connect_next(wsc_conn *c, wsc_dialer *dl)
{
    while (dl->cur) {
        struct addrinfo *a = dl->cur;
        dl->fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (dl->fd >= 0 && (connect(dl->fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS)) {
            /* Share the time left evenly among the addresses left (as Go does). */
            int left = wsc__deadline_left(dl->deadline);
            size_t n = count_addrs(a);
            dl->addr_deadline = left < 0 ? WSC_FOREVER : wsc__now_ms() + (left / (int)n) + 1;
            if (!publish_dial_fd(c, dl->fd)) { /* closed meanwhile: nothing could wake us */
                close(dl->fd);
                dl->fd = -1;
            }
            return;
        }
        drop_dial_fd(c, dl, errno);
    }
}

/* The TCP connection is up: the transport takes the socket (ours: made by
 * connect_next, else the caller's). False if the connection was closed
 * meanwhile. */
static bool take_socket(wsc_conn *c, wsc_dialer *dl, bool ours)
{
    int one = 1;
    setsockopt(dl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Blocking from now on: calls with a deadline ask for MSG_DONTWAIT. (A
     * socket of ours has no other status flag: one call clears it.) */
    fcntl(dl->fd, F_SETFL, ours ? 0 : fcntl(dl->fd, F_GETFL) & ~O_NONBLOCK);
    pthread_mutex_lock(&c->mu);
    bool open = atomic_load(&c->state) != WSC_STATE_CLOSED;
    if (open) {
        wsc__tcp_transport(&c->tr, dl->fd);
        c->dial_fd = dl->fd = -1;
    }
    pthread_mutex_unlock(&c->mu);
    if (open && dl->addrs) { /* none for a Unix socket or the caller's fd */
        freeaddrinfo(dl->addrs);
        dl->addrs = NULL;
    }
    if (open)
        dl->cur = NULL;
    return open;
}

static int step_connect(wsc_conn *c, wsc_dialer *dl, wsc_deadline d)
{
    for (;;) {
        if (dl->fd < 0)
            connect_next(c, dl);
        if (atomic_load(&c->state) == WSC_STATE_CLOSED)
            return WSC_ECLOSED;
        if (dl->fd < 0)
            return wsc__fail(WSC_ECONNECT, "could not connect to %s: %s", dl->connect_desc,
                            dl->errors[0] ? dl->errors : "no address");
        wsc_deadline wait = wsc__deadline_min(d, wsc__deadline_min(dl->deadline, dl->addr_deadline));
        int r = wsc__wait_fd(dl->fd, POLLOUT, wait);
        if (atomic_load(&c->state) == WSC_STATE_CLOSED)
            return WSC_ECLOSED; /* wsc_close_now woke us */
        int err = 0;
        socklen_t len = sizeof err;
        if (r == 0 && getsockopt(dl->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
            return take_socket(c, dl, true) ? 0 : WSC_ECLOSED;
        if (r < 0) {
            if (dl->deadline != WSC_FOREVER && wsc__deadline_left(dl->deadline) == 0)
                return wsc__fail(WSC_ETIMEDOUT, "connecting to %s timed out", dl->connect_desc);
            if (dl->addr_deadline == WSC_FOREVER || wsc__deadline_left(dl->addr_deadline) != 0)
                return wsc__deadline_error(d); /* the caller's time is up, not this address's */
            err = ETIMEDOUT; /* this address's share of the time is up */
        }
        drop_dial_fd(c, dl, err);
    }
}

static int step_proxy(wsc_conn *c, wsc_dialer *dl, wsc_deadline d)
{
    return wsc__proxy_tunnel_step(&dl->proxy, c, d);
}

/* The TLS handshake over the TCP transport (direct or tunnelled); when it
 * is done the connection talks TLS. */
static int step_tls(wsc_conn *c, wsc_dialer *dl, wsc_deadline d)
{
    while (dl->tls) {
        int r = wsc__tls_handshake(dl->tls, c->tr.fd, &dl->tls_want);
        if (r == 0) {
            pthread_mutex_lock(&c->mu);
            wsc__tls_transport(&c->tr, dl->tls);
            pthread_mutex_unlock(&c->mu);
            dl->tls = NULL;
        } else if (r != WSC_EAGAIN || (r = wsc__wait_fd(c->tr.fd, dl->tls_want, d)) < 0) {
            return r;
        }
    }
    return 0;
}

static int step_send(wsc_conn *c, wsc_dialer *dl, wsc_deadline d)
{
    return wsc__transport_send_rest(&c->tr, dl->req, dl->req_len, &dl->req_pos, d);
}

/* step_receive's answer for a redirect to follow (follow_redirect). */
#define REDIRECTED 1

static bool is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static int step_receive(wsc_conn *c, wsc_dialer *dl, wsc_deadline d)
{
    char err[300];
    for (;;) {
        size_t end = wsc__http_head_end((char *)c->rbuf, c->rend);
        if (end) {
            if (wsc__http_parse((char *)c->rbuf, end, false, &c->peer_head, err, sizeof err) < 0)
                return wsc__fail(WSC_EHANDSHAKE, "bad handshake response from %s: %s", dl->target_desc, err);
            c->rpos = end;
            if (is_redirect(c->peer_head.status)) {
                const char *loc = wsc__http_get(&c->peer_head, "Location");
                if (dl->redirects_left >= 0)
                    return REDIRECTED;
                return wsc__fail(WSC_EHANDSHAKE, "%s answered %d %s, a redirect to %s (not "
                                 "followed: set max_redirects)", dl->target_desc,
                                 c->peer_head.status, c->peer_head.reason, loc ? loc : "nowhere");
            }
            const char *proto;
            wsc_pmd_params pmd;
            int r = wsc__hs_check_response(&c->peer_head, dl->key, (const char *const *)dl->protos,
                                          dl->n_protos, dl->compression, &pmd, &proto, err,
                                          sizeof err);
            if (r < 0)
                return wsc__fail(r, "handshake with %s failed: %s", dl->target_desc, err);
            const char *ext = wsc__http_get(&c->peer_head, "Sec-WebSocket-Extensions");
            if (pmd.enabled && dl->deflate.peer_window_bits &&
                pmd.server_bits > dl->deflate.peer_window_bits)
                return wsc__fail(WSC_EHANDSHAKE, "handshake with %s failed: the server chose "
                                 "server_max_window_bits=%d, more than the %d asked for",
                                 dl->target_desc, pmd.server_bits, dl->deflate.peer_window_bits);
            if ((r = wsc__conn_set_pmd(c, &pmd, ext ? ext : "", dl->compression, dl->threshold,
                                       &dl->deflate)) < 0)
                return r;
            char *p = strdup(proto);
            if (!p)
                return wsc__fail(WSC_ENOMEM, "out of memory");
            free(c->subprotocol);
            c->subprotocol = p;
            return 0;
        }
        if (c->rend >= dl->max_head)
            return wsc__fail(WSC_EHANDSHAKE, "the handshake response from %s is longer than %zu bytes",
                            dl->target_desc, dl->max_head);
        ptrdiff_t n = wsc__transport_recv(&c->tr, c->rbuf + c->rend, dl->max_head - c->rend, d, false);
        if (n == 0)
            return wsc__fail(WSC_EHANDSHAKE, "%s closed the connection before answering the upgrade",
                            dl->target_desc);
        if (n < 0)
            return (int)n;
        c->rend += (size_t)n;
    }
}

/* What the stage the dial stopped in waits for, for wsc_poll_events. */
static int stage_events(const wsc_dialer *dl)
{
    switch (dl->stage) {
    case STAGE_CONNECT:
    case STAGE_SEND:
        return POLLOUT;
    case STAGE_PROXY:
        return dl->proxy.req_pos < dl->proxy.req_len ? POLLOUT : POLLIN;
    case STAGE_TLS:
        return dl->tls_want;
    default:
        return POLLIN;
    }
}

/* A socket failure (WSC_EIO) as the error wsc_dial documents for the stage
 * it happened in: ECONNECT until the server (or the tunnel to it) is
 * reached, ETLS during the TLS handshake, EHANDSHAKE once the upgrade
 * request is under way. */
static int stage_io_error(const wsc_dialer *dl)
{
    switch (dl->stage) {
    case STAGE_CONNECT:
        return wsc__fail_append(WSC_ECONNECT, "while connecting to %s", dl->connect_desc);
    case STAGE_PROXY:
        return wsc__fail_append(WSC_ECONNECT, "while opening a tunnel to %s through the proxy %s",
                               dl->target_desc, dl->proxy.url.desc);
    case STAGE_TLS:
        return wsc__fail_append(WSC_ETLS, "during the TLS handshake with %s", dl->target_desc);
    case STAGE_SEND:
        return wsc__fail_append(WSC_EHANDSHAKE, "while sending the upgrade request to %s",
                               dl->target_desc);
    default:
        return wsc__fail_append(WSC_EHANDSHAKE, "while waiting for the upgrade response from %s",
                               dl->target_desc);
    }
}

/* Moves the dial to `stage`; a poll loop asks for what that stage needs. */
static void enter_stage(wsc_conn *c, wsc_dialer *dl, int stage)
{
    dl->stage = stage;
    atomic_store(&c->hs_want, stage_events(dl));
}

/* The handshake's own deadline passed in dl's stage. */
static int dial_timed_out(const wsc_dialer *dl)
{
    if (dl->stage == STAGE_CONNECT)
        return wsc__fail(WSC_ETIMEDOUT, "connecting to %s timed out", dl->connect_desc);
    if (dl->stage == STAGE_PROXY)
        return wsc__fail(WSC_ETIMEDOUT, "the proxy %s did not answer CONNECT to %s in time",
                        dl->proxy.url.desc, dl->target_desc);
    if (dl->stage == STAGE_TLS)
        return wsc__fail(WSC_ETIMEDOUT, "the TLS handshake with %s timed out", dl->target_desc);
    return wsc__fail(WSC_ETIMEDOUT, "the handshake with %s timed out", dl->target_desc);
}

static int setup_dialer(wsc_conn *c, wsc_dialer *dl, const char *url, const wsc_dial_options *o);

/* Drops the headers that carry credentials (a redirect to another host). */
static void drop_credentials(wsc_dial_options *o)
{
    wsc_header *h = (wsc_header *)o->headers;
    size_t kept = 0;
    for (size_t i = 0; i < o->n_headers; i++) {
        if (strcasecmp(h[i].name, "Authorization") == 0 || strcasecmp(h[i].name, "Cookie") == 0) {
            free((char *)h[i].name);
            free((char *)h[i].value);
        } else {
            h[kept++] = h[i];
        }
    }
    o->n_headers = kept;
    free((char *)o->host); /* a Host override was for the first host */
    o->host = NULL;
}

/* The response was a redirect and redirects are on: checks where it leads
 * and starts the dial over to there (same options, same deadline). */
static int follow_redirect(wsc_conn *c, wsc_dialer *dl)
{
    int status = c->peer_head.status;
    const char *loc = wsc__http_get(&c->peer_head, "Location");
    if (!loc)
        return wsc__fail(WSC_EHANDSHAKE, "%s answered %d, a redirect without a Location",
                         dl->target_desc, status);
    if (dl->fixed_socket)
        return wsc__fail(WSC_EHANDSHAKE, "%s answered %d, a redirect to %s: not followed from a "
                         "Unix socket or the caller's socket", dl->target_desc, status, loc);
    if (dl->redirects_left == 0)
        return wsc__fail(WSC_EHANDSHAKE, "too many redirects: %d followed, then %s answered %d "
                         "to %s", dl->o.max_redirects, dl->target_desc, status, loc);
    char err[300], *next;
    wsc_url from, to;
    int r = wsc__url_resolve(dl->url, loc, &next, err, sizeof err);
    if (r == WSC_ENOMEM)
        return wsc__fail(r, "out of memory");
    if (r < 0)
        return wsc__fail(WSC_EHANDSHAKE, "%s answered %d with a bad Location \"%.200s\": %s",
                         dl->target_desc, status, loc, err);
    if (wsc__url_parse(next, &to, err, sizeof err) < 0) {
        r = wsc__fail(WSC_EHANDSHAKE, "%s redirected to a bad URL \"%.200s\": %s", dl->target_desc,
                      next, err);
        free(next);
        return r;
    }
    wsc__url_parse(dl->url, &from, err, sizeof err); /* parsed before: cannot fail */
    if (from.tls && !to.tls)
        r = wsc__fail(WSC_EHANDSHAKE, "refused the redirect from %s to %s: it would drop TLS",
                      dl->url, next);
    else if (to.unix_path)
        r = wsc__fail(WSC_EHANDSHAKE, "refused the redirect from %s to the Unix socket %s",
                      dl->url, next);
    else if (strcasecmp(from.host_header, to.host_header) != 0)
        drop_credentials(&dl->o);
    wsc__url_free(&from);
    wsc__url_free(&to);
    if (r < 0) {
        free(next);
        return r;
    }
    /* Start over on the new URL: the old connection and its state go. */
    pthread_mutex_lock(&c->mu);
    if (c->tr.ops)
        c->tr.ops->destroy(&c->tr);
    memset(&c->tr, 0, sizeof c->tr);
    c->tr.fd = -1;
    pthread_mutex_unlock(&c->mu);
    c->rpos = c->rend = 0;
    wsc__http_free(&c->peer_head);
    if (dl->addrs)
        freeaddrinfo(dl->addrs);
    dl->addrs = dl->cur = NULL;
    for (size_t i = 0; i < dl->n_protos; i++)
        free(dl->protos[i]);
    free(dl->protos);
    dl->protos = NULL;
    dl->n_protos = 0;
    free(dl->req);
    dl->req = NULL;
    dl->req_len = dl->req_pos = 0;
    wsc__proxy_tunnel_free(&dl->proxy);
    memset(&dl->proxy, 0, sizeof dl->proxy);
    wsc__tls_free(dl->tls);
    dl->tls = NULL;
    dl->errors[0] = '\0';
    free(dl->url);
    dl->url = next;
    dl->redirects_left--;
    enter_stage(c, dl, STAGE_CONNECT);
    return setup_dialer(c, dl, next, &dl->o);
}

int wsc__dial_step(wsc_conn *c, wsc_deadline d)
{
    wsc_dialer *dl = c->dialer;
    wsc_deadline wait = wsc__deadline_min(d, dl->deadline);
    int r = REDIRECTED;
    while (r == REDIRECTED) {
        r = 0;
        if (dl->stage == STAGE_CONNECT && (r = step_connect(c, dl, d)) == 0)
            enter_stage(c, dl, STAGE_PROXY);
        if (r == 0 && dl->stage == STAGE_PROXY && (r = step_proxy(c, dl, wait)) == 0)
            enter_stage(c, dl, STAGE_TLS);
        if (r == 0 && dl->stage == STAGE_TLS && (r = step_tls(c, dl, wait)) == 0)
            enter_stage(c, dl, STAGE_SEND);
        if (r == 0 && dl->stage == STAGE_SEND && (r = step_send(c, dl, wait)) == 0)
            enter_stage(c, dl, STAGE_RECEIVE);
        if (r == 0 && dl->stage == STAGE_RECEIVE)
            r = step_receive(c, dl, wait);
        if (r == REDIRECTED && (r = follow_redirect(c, dl)) == 0)
            r = REDIRECTED;
    }
    if (atomic_load(&c->state) == WSC_STATE_CLOSED) /* wsc_close or wsc_close_now meanwhile */
        return wsc__conn_handshake_failed(c, wsc__fail(WSC_ECLOSED, "the connection was closed during its handshake"));
    if (r == WSC_EIO)
        r = stage_io_error(dl);
    if (r == WSC_EAGAIN || r == WSC_ETIMEDOUT) {
        atomic_store(&c->hs_want, stage_events(dl));
        if (dl->deadline == WSC_FOREVER || wsc__deadline_left(dl->deadline) > 0)
            return wsc__deadline_error(d);
        r = dial_timed_out(dl);
    }
    if (r < 0)
        return wsc__conn_handshake_failed(c, r);
    /* Open, unless a close won the race; waiters (a background reader) wake. */
    if (!wsc__conn_handshake_done(c))
        return wsc__conn_handshake_failed(c, wsc__fail(WSC_ECLOSED, "the connection was closed during its handshake"));
    if (dl->redirects_left < dl->o.max_redirects) { /* redirected: keep where to */
        c->url = dl->url;
        dl->url = NULL;
    }
    wsc__dialer_free(dl);
    c->dialer = NULL;
    return 0;
}

/* Copies the handshake response into *resp (which then owns its strings). */
static void fill_response(wsc_conn *c, wsc_response *resp, bool failed)
{
    const wsc_http_head *h = &c->peer_head;
    resp->status = h->status;
    if (h->n_headers) {
        resp->headers = calloc(h->n_headers, sizeof *resp->headers);
        for (size_t i = 0; resp->headers && i < h->n_headers; i++) {
            char *name = strdup(h->headers[i].name), *value = strdup(h->headers[i].value);
            if (!name || !value) {
                free(name);
                free(value);
                break;
            }
            resp->headers[resp->n_headers].name = name;
            resp->headers[resp->n_headers].value = value;
            resp->n_headers++;
        }
    }
    if (!failed || !h->raw || h->status == 101) /* a 101 has no body */
        return;
    /* Up to 1024 bytes of body: what Content-Length announces, or what comes
     * within a second. */
    size_t want = 1024;
    const char *cl = wsc__http_get(h, "Content-Length");
    if (cl && strtoul(cl, NULL, 10) < want)
        want = strtoul(cl, NULL, 10);
    wsc_deadline d = wsc__deadline_in(1000);
    while (c->rend - c->rpos < want && c->rend < c->rcap) {
        ptrdiff_t n = wsc__transport_recv(&c->tr, c->rbuf + c->rend, c->rcap - c->rend, d, false);
        if (n <= 0)
            break;
        c->rend += (size_t)n;
    }
    size_t n = c->rend - c->rpos < want ? c->rend - c->rpos : want;
    resp->body = malloc(n + 1);
    if (resp->body) {
        memcpy(resp->body, c->rbuf + c->rpos, n);
        resp->body[n] = '\0';
        resp->body_len = n;
    }
}

void wsc_response_free(wsc_response *resp)
{
    if (!resp)
        return;
    wsc__headers_free(resp->headers, resp->n_headers);
    free(resp->body);
    free(resp->url);
    memset(resp, 0, sizeof *resp);
}

/* Everything the dial needs from url and o; when dl->fd is already the
 * caller's connected socket (wsc_dial_fd) the dial starts on it. */
static int setup_dialer(wsc_conn *c, wsc_dialer *dl, const char *url, const wsc_dial_options *o)
{
    char err[300];
    wsc_url u;
    if (wsc__url_parse(url, &u, err, sizeof err) < 0)
        return wsc__fail(WSC_EINVAL, "bad URL \"%s\": %s", url, err);
    int r = 0;
    if (o->compression != WSC_COMPRESSION_DISABLED &&
        o->compression != WSC_COMPRESSION_CONTEXT_TAKEOVER &&
        o->compression != WSC_COMPRESSION_NO_CONTEXT_TAKEOVER) {
        r = wsc__fail(WSC_EINVAL, "unknown compression mode %d", (int)o->compression);
        goto out;
    }
    dl->compression = o->compression;
    dl->threshold = o->compression_threshold;
    dl->deflate = o->deflate;
    if (!wsc__deflate_options_ok(&o->deflate, err, sizeof err)) {
        r = wsc__fail(WSC_EINVAL, "%s", err);
        goto out;
    }
    if (u.unix_path)
        snprintf(dl->target_desc, sizeof dl->target_desc, "the Unix socket %s", u.unix_path);
    else
        wsc__host_port(dl->target_desc, sizeof dl->target_desc, u.host, u.port);
    if (u.tls && (r = wsc__tls_client_new(&o->tls, u.host, dl->target_desc, &dl->tls)) < 0)
        goto out;
    if ((r = wsc__hs_new_key(dl->key, c->keys, sizeof c->keys)) < 0)
        goto out;
    c->keys_pos = 0; /* the masking keys came with the key */
    dl->req = wsc__hs_client_request(&u, o, dl->key, &dl->req_len, err, sizeof err);
    if (!dl->req) {
        r = wsc__fail(WSC_EINVAL, "cannot build the upgrade request: %s", err);
        goto out;
    }
    dl->protos = calloc(o->n_subprotocols + 1, sizeof *dl->protos);
    for (size_t i = 0; dl->protos && i < o->n_subprotocols; i++)
        if ((dl->protos[dl->n_protos] = strdup(o->subprotocols[i])))
            dl->n_protos++;
    free(c->target);
    c->target = strdup(u.target);
    if (!dl->protos || dl->n_protos != o->n_subprotocols || !c->target) {
        r = wsc__fail(WSC_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(dl->connect_desc, sizeof dl->connect_desc, "%s", dl->target_desc);
    dl->fixed_socket = dl->fd >= 0 || u.unix_path;
    if (dl->fd >= 0) { /* the caller's socket: nothing to resolve, no proxy */
        r = take_socket(c, dl, false) ? 0 : WSC_ECLOSED;
        enter_stage(c, dl, STAGE_PROXY);
        goto out;
    }
    if (u.unix_path) {
        dl->unix_sa.sun_family = AF_UNIX;
        memcpy(dl->unix_sa.sun_path, u.unix_path, strlen(u.unix_path) + 1); /* fits: url.c checked */
        dl->unix_addr.ai_family = AF_UNIX;
        dl->unix_addr.ai_socktype = SOCK_STREAM;
        dl->unix_addr.ai_addr = (struct sockaddr *)&dl->unix_sa;
        dl->unix_addr.ai_addrlen = sizeof dl->unix_sa;
        dl->cur = &dl->unix_addr;
        goto out;
    }
    /* Through a proxy, connect to it; the proxy resolves the server's name. */
    if ((r = wsc__proxy_tunnel_init(&dl->proxy, o->proxy, u.tls, u.host, u.port)) < 0)
        goto out;
    const char *host = u.host;
    int port = u.port;
    if (dl->proxy.url.host) {
        host = dl->proxy.url.host;
        port = dl->proxy.url.port;
        snprintf(dl->connect_desc, sizeof dl->connect_desc, "the proxy %s (from %s)",
                 dl->proxy.url.desc, dl->proxy.source);
    }
    char port_str[8];
    snprintf(port_str, sizeof port_str, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int g = getaddrinfo(host, port_str, &hints, &dl->addrs);
    if (g != 0) {
        r = wsc__fail(WSC_EDNS, "cannot resolve %s%s: %s", dl->proxy.url.host ? "the proxy " : "",
                     host, gai_strerror(g));
        goto out;
    }
    dl->cur = dl->addrs;
out:
    wsc__url_free(&u);
    return r;
}

/* wsc_dial, or wsc_dial_fd with fd >= 0 (closed here on failure). */
static int dial(const char *url, const wsc_dial_options *opts, int fd, wsc_conn **out, wsc_response *resp)
{
    static const wsc_dial_options defaults;
    const wsc_dial_options *o = opts ? opts : &defaults;
    if (resp)
        memset(resp, 0, sizeof *resp);
    if (out)
        *out = NULL;
    if (!url || !out) {
        if (fd >= 0)
            close(fd);
        return wsc__fail(WSC_EINVAL, "wsc_dial needs a URL and somewhere to put the connection");
    }
    wsc_conn *c = wsc__conn_new(false);
    wsc_dialer *dl = calloc(1, sizeof *dl);
    if (!c || !dl) {
        free(dl);
        wsc_conn_free(c);
        if (fd >= 0)
            close(fd);
        return wsc__fail(WSC_ENOMEM, "out of memory");
    }
    dl->fd = fd; /* -1, or the caller's socket: the dialer closes it if the dial fails early */
    dl->max_head = o->max_response_head ? o->max_response_head : 16384;
    int timeout = o->handshake_timeout_ms ? o->handshake_timeout_ms : 30000;
    dl->deadline = wsc__deadline_in(timeout);
    c->dialer = dl;
    dl->redirects_left = -1;
    if (o->max_redirects > 0) {
        dl->redirects_left = o->max_redirects;
        if (!copy_options(&dl->o, o) || !(dl->url = strdup(url))) {
            wsc_conn_free(c); /* frees dl, closing fd */
            return wsc__fail(WSC_ENOMEM, "out of memory");
        }
    }
    c->on_ping = o->on_ping;
    c->on_pong = o->on_pong;
    c->on_close = o->on_close;
    c->user = o->user;
    c->heartbeat_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : 0;
    c->idle_ms = o->idle_timeout_ms > 0 ? o->idle_timeout_ms : 0;
    int r = setup_dialer(c, dl, url, o);
    if (r == 0)
        r = wsc__conn_rbuf_reserve(c, dl->max_head);
    /* A nonblocking dial goes as far as it can without waiting, so that
     * wsc_fd and wsc_poll_events have something to say. */
    if (r == 0)
        r = wsc__dial_step(c, o->nonblocking ? WSC_NOWAIT : dl->deadline);
    if (r == WSC_EAGAIN && o->nonblocking)
        r = 0;
    if (resp && c->peer_head.raw)
        fill_response(c, resp, r < 0);
    if (resp) /* the URL that answered: the last redirect's, or url */
        resp->url = strdup(c->url ? c->url : c->dialer && c->dialer->url ? c->dialer->url : url);
    if (r < 0) {
        wsc_conn_free(c);
        return r;
    }
    wsc__clear_error();
    *out = c;
    return 0;
}

int wsc_dial(const char *url, const wsc_dial_options *opts, wsc_conn **out, wsc_response *resp)
{
    return dial(url, opts, -1, out, resp);
}

int wsc_dial_fd(int fd, const char *url, const wsc_dial_options *opts, wsc_conn **out, wsc_response *resp)
{
    if (fd < 0) {
        if (out)
            *out = NULL;
        return wsc__fail(WSC_EINVAL, "wsc_dial_fd needs a connected socket, not fd %d", fd);
    }
    return dial(url, opts, fd, out, resp);
}
