/* SPDX-License-Identifier: MIT */
/*
 * echo_server - a WebSocket echo server on the public wsc API, for the interop
 * tests (the node suites in tests/interop spawn it).
 *
 *   echo_server [--port N] [--subprotocol NAME]... [--origin PATTERN]...
 *               [--allow-host PATTERN]...
 *               [--read-limit N] [--max-conns N]
 *               [--compress disabled|takeover|no-takeover] [--threshold N]
 *               [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
 *               [--require-token TOKEN] [--pick-last-subprotocol] [--peek N]
 *               [--heartbeat MS] [--idle MS]
 *               [--level N] [--mem-level N] [--window-bits N] [--peer-window-bits N]
 *
 * Binds 127.0.0.1:N (N = 0, the default, picks a free port), prints
 * "LISTENING <port>" and serves each connection on its own thread:
 *
 *   stdout  "LISTENING <port>"                        once, when ready
 *           "ACCEPTED <target> subprotocol=<name> extensions=<value>"
 *                                                      per accepted connection
 *           "ON_CLOSE <code> <reason>"                on_close: the peer's close
 *                                                      frame arrived
 *           "CLOSED <err> status=<n> reason=<text>"   when a connection's read
 *                                                      fails (err: WSC_E... name,
 *                                                      status: wsc_close_status)
 *   stderr  "ACCEPT_FAIL <err> <detail>"              wsc_accept failed
 *
 * Every data message is echoed with the same type and bytes, except text
 * messages starting with "cmd:", which drive the server:
 *   cmd:close CODE REASON   wsc_close(c, CODE, REASON)  (REASON may be empty)
 *   cmd:headers NAME        replies the request header NAME, or "(null)"
 *   cmd:subprotocol         replies wsc_subprotocol(c)
 *   cmd:ping                a second thread runs wsc_ping(c, 5000) while this
 *                           one keeps reading (and so reads the pong), then
 *                           replies "pong-ok" or "pong-fail <err>"
 *   cmd:fragmented N SIZE   one text message of SIZE bytes of 'x' sent with the
 *                           writer API as N data frames (SIZE/N bytes each, the
 *                           last one takes the rest) plus wsc_writer_end's
 *                           final frame
 *   cmd:send SIZE           one binary message of SIZE bytes, byte i = i % 251
 *   cmd:broadcast SIZE      one text message of SIZE bytes ("bcast " and then
 *                           "lorem ipsum " repeated) prepared once
 *                           (wsc_prepared_new) and written to every open
 *                           connection with wsc_write_prepared; prints
 *                           "BROADCAST <connections> <failed writes>"
 *   cmd:shutdown MS         another thread runs wsc_group_close on every
 *                           connection (1001 "server shutting down", MS ms
 *                           to finish) and prints "SHUTDOWN <err> <members>"
 *                           (err OK when all finished in time)
 *
 * --read-limit N sets wsc_set_read_limit on each connection (-1: no limit).
 * --compress / --threshold set the permessage-deflate mode and threshold.
 * --tls-cert / --tls-key make it a wss server (wsc_tls_server_new once, then
 * every accept runs TLS); --tls-client-ca also requires client certificates.
 * --require-token / --pick-last-subprotocol install an accept hook
 * (on_request): it refuses requests without "Authorization: Bearer TOKEN"
 * (or "token=TOKEN" in the query, for browsers) with 401, a
 * WWW-Authenticate header and a JSON body; it chooses the last subprotocol
 * the client offered; it answers with "X-Peer: <address>", and prints
 * "HOOK <target> peer=<address> tls=<0|1> offered=<a,b>".
 * --peek N reads the first N bytes of each connection itself and hands
 * them to wsc_accept_with (over TLS: the ClientHello's first bytes).
 * --heartbeat / --idle set heartbeat_ms and idle_timeout_ms.
 * --level, --mem-level, --window-bits, --peer-window-bits fill opts.deflate.
 * --max-conns N exits (status 0) once N connections have finished, accepted
 * or not. SIGTERM ends the process (default action; every line is flushed).
 */
#include "wsc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LIST 16
#define MAX_PINGS 16

static const char *g_subprotocols[MAX_LIST];
static size_t g_n_subprotocols;
static const char *g_origins[MAX_LIST];
static size_t g_n_origins;
static const char *g_hosts[MAX_LIST];
static size_t g_n_hosts;
static int64_t g_read_limit;
static int g_have_read_limit;
static long g_max_conns;
static wsc_compression g_compression;
static int g_threshold;
static wsc_tls_server *g_tls;
static const char *g_token;
static int g_pick_last;
static long g_peek;
static int g_heartbeat, g_idle;
static wsc_deflate_options g_deflate;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_finished;

/* Prints one whole line to a stream and flushes it, under a lock so that
 * lines from different connection threads never mix. */
static void say(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(FILE *f, const char *fmt, ...) {
    va_list ap;
    pthread_mutex_lock(&g_lock);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fflush(f);
    pthread_mutex_unlock(&g_lock);
}

/* "WSC_ECLOSED" out of "WSC_ECLOSED: ...": the error's short name. */
static const char *err_name(int err, char *buf, size_t cap) {
    const char *s = wsc_strerror(err);
    size_t n = strcspn(s, ":");
    if (n >= cap) n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

/* Every connection being served, for cmd:broadcast (removed under the
 * lock before it is freed, so a broadcast never writes to a freed one). */
#define MAX_SERVED 1024
static wsc_conn *g_served[MAX_SERVED];
static pthread_mutex_t g_served_mu = PTHREAD_MUTEX_INITIALIZER;

static void served(wsc_conn *c, bool add) {
    pthread_mutex_lock(&g_served_mu);
    for (int i = 0; i < MAX_SERVED; i++)
        if (g_served[i] == (add ? NULL : c)) {
            g_served[i] = add ? c : NULL;
            break;
        }
    pthread_mutex_unlock(&g_served_mu);
}

static int reply_text(wsc_conn *c, const char *s);

static int broadcast(wsc_conn *from, long size) {
    char *text = malloc(size > 0 ? (size_t)size : 1);
    if (!text) return reply_text(from, "no-memory");
    static const char lorem[] = "lorem ipsum ";
    for (long i = 0; i < size; i++)
        text[i] = i < 6 ? "bcast "[i] : lorem[(i - 6) % 12];
    wsc_prepared *p;
    if (wsc_prepared_new(WSC_TEXT, text, (size_t)size, &p) != 0) {
        free(text);
        return reply_text(from, "no-memory");
    }
    free(text); /* the prepared message has its own copy */
    int n = 0, failed = 0;
    pthread_mutex_lock(&g_served_mu);
    for (int i = 0; i < MAX_SERVED; i++)
        if (g_served[i]) {
            n++;
            failed += wsc_write_prepared(g_served[i], p, 5000) != 0;
        }
    pthread_mutex_unlock(&g_served_mu);
    wsc_prepared_free(p);
    say(stdout, "BROADCAST %d %d\n", n, failed);
    return 0;
}

/* Every accepted connection, for cmd:shutdown. */
static wsc_group *g_group;

static void *shutdown_thread(void *arg) {
    int ms = (int)(intptr_t)arg;
    size_t members = wsc_group_count(g_group);
    int rc = wsc_group_close(g_group, 1001, "server shutting down", ms);
    char name[64];
    say(stdout, "SHUTDOWN %s %zu\n", rc ? err_name(rc, name, sizeof name) : "OK", members);
    return NULL;
}

static void print_close(void *user, int code, const char *reason, size_t len) {
    (void)user;
    say(stdout, "ON_CLOSE %d %.*s\n", code, (int)len, reason);
}

static void usage(void) {
    fprintf(stderr,
            "usage: echo_server [--port N] [--subprotocol NAME]... [--origin PATTERN]...\n"
            "                   [--allow-host PATTERN]...\n"
            "                   [--read-limit N] [--max-conns N]\n"
            "                   [--compress disabled|takeover|no-takeover] [--threshold N]\n"
            "                   [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]\n"
            "                   [--require-token TOKEN] [--pick-last-subprotocol] [--peek N]\n"
            "                   [--heartbeat MS] [--idle MS]\n"
            "                   [--level N] [--mem-level N] [--window-bits N] [--peer-window-bits N]\n");
    exit(2);
}

static void connection_finished(void) {
    pthread_mutex_lock(&g_lock);
    long n = ++g_finished;
    pthread_mutex_unlock(&g_lock);
    if (g_max_conns > 0 && n >= g_max_conns) {
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
}

typedef struct {
    wsc_conn *c;
    pthread_t pings[MAX_PINGS];
    int n_pings;
} conn_ctx;

static void *ping_thread(void *arg) {
    wsc_conn *c = arg;
    int rc = wsc_ping(c, 5000);
    char reply[128], name[64];
    if (rc == 0)
        snprintf(reply, sizeof reply, "pong-ok");
    else
        snprintf(reply, sizeof reply, "pong-fail %s", err_name(rc, name, sizeof name));
    int w = wsc_write(c, WSC_TEXT, reply, strlen(reply), 5000);
    if (w != 0)
        say(stderr, "WRITE_FAIL ping-reply %s %s\n", err_name(w, name, sizeof name),
            wsc_last_error());
    return NULL;
}

static int reply_text(wsc_conn *c, const char *s) {
    return wsc_write(c, WSC_TEXT, s, strlen(s), -1);
}

/* Handles one "cmd:..." text message. Returns the result of the write it did
 * (0 when nothing to report). */
static int do_command(conn_ctx *ctx, const char *cmd) {
    wsc_conn *c = ctx->c;
    if (strncmp(cmd, "close ", 6) == 0) {
        char *end;
        long code = strtol(cmd + 6, &end, 10);
        const char *reason = *end == ' ' ? end + 1 : "";
        int rc = wsc_close(c, (int)code, reason);
        if (rc != 0) {
            char name[64];
            say(stderr, "CLOSE_FAIL %s %s\n", err_name(rc, name, sizeof name),
                wsc_last_error());
        }
        return 0;
    }
    if (strncmp(cmd, "headers ", 8) == 0) {
        const char *v = wsc_handshake_header(c, cmd + 8);
        return reply_text(c, v ? v : "(null)");
    }
    if (strcmp(cmd, "subprotocol") == 0) {
        return reply_text(c, wsc_subprotocol(c));
    }
    if (strncmp(cmd, "broadcast ", 10) == 0)
        return broadcast(c, strtol(cmd + 10, NULL, 10));
    if (strncmp(cmd, "shutdown ", 9) == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, shutdown_thread, (void *)(intptr_t)atoi(cmd + 9)) != 0)
            return reply_text(c, "shutdown-fail pthread_create");
        pthread_detach(t);
        return 0;
    }
    if (strcmp(cmd, "ping") == 0) {
        if (ctx->n_pings >= MAX_PINGS) return reply_text(c, "pong-fail too-many");
        if (pthread_create(&ctx->pings[ctx->n_pings], NULL, ping_thread, c) != 0)
            return reply_text(c, "pong-fail pthread_create");
        ctx->n_pings++;
        return 0;
    }
    if (strncmp(cmd, "fragmented ", 11) == 0) {
        long n = 0, size = 0;
        if (sscanf(cmd + 11, "%ld %ld", &n, &size) != 2 || n < 1 || size < 0)
            return reply_text(c, "bad-command");
        char *buf = malloc(size ? (size_t)size : 1);
        if (!buf) return reply_text(c, "no-memory");
        memset(buf, 'x', (size_t)size);
        long piece = size / n, off = 0;
        int rc = wsc_writer_begin(c, WSC_TEXT, -1);
        for (long i = 0; rc == 0 && i < n; i++) {
            long len = i == n - 1 ? size - off : piece;
            rc = wsc_writer_write(c, buf + off, (size_t)len);
            off += len;
        }
        if (rc == 0) rc = wsc_writer_end(c);
        free(buf);
        return rc;
    }
    if (strncmp(cmd, "send ", 5) == 0) {
        long size = strtol(cmd + 5, NULL, 10);
        if (size < 0) return reply_text(c, "bad-command");
        unsigned char *buf = malloc(size ? (size_t)size : 1);
        if (!buf) return reply_text(c, "no-memory");
        for (long i = 0; i < size; i++) buf[i] = (unsigned char)(i % 251);
        int rc = wsc_write(c, WSC_BINARY, buf, (size_t)size, -1);
        free(buf);
        return rc;
    }
    return reply_text(c, "unknown-command");
}

/* The accept hook of --require-token and --pick-last-subprotocol. */
static int on_request(void *user, const wsc_request *req, wsc_reply *reply) {
    (void)user;
    char offered[256] = "";
    for (size_t i = 0; i < req->n_subprotocols; i++)
        snprintf(offered + strlen(offered), sizeof offered - strlen(offered), "%s%s",
                 i ? "," : "", req->subprotocols[i]);
    say(stdout, "HOOK %s peer=%s tls=%d offered=%s\n", req->target, req->peer, req->tls, offered);
    if (g_token) {
        char bearer[256], query[256];
        snprintf(bearer, sizeof bearer, "Bearer %s", g_token);
        snprintf(query, sizeof query, "token=%s", g_token);
        bool ok = strstr(req->target, query) != NULL;
        for (size_t i = 0; i < req->n_headers; i++)
            if (strcasecmp(req->headers[i].name, "Authorization") == 0 &&
                strcmp(req->headers[i].value, bearer) == 0)
                ok = true;
        if (!ok) {
            static const char body[] = "{\"error\":\"a bearer token is required\"}";
            wsc_reply_header(reply, "WWW-Authenticate", "Bearer realm=\"echo\"");
            wsc_reply_body(reply, "application/json", body, sizeof body - 1);
            return 401;
        }
    }
    if (g_pick_last && req->n_subprotocols &&
        wsc_reply_subprotocol(reply, req->subprotocols[req->n_subprotocols - 1]) != 0)
        return 500;
    return wsc_reply_header(reply, "X-Peer", req->peer) == 0 ? 0 : 500;
}

/* --peek: the first bytes of the connection, read here. */
static size_t peek_head(int fd, unsigned char *buf, size_t want) {
    size_t got = 0;
    while (got < want) {
        ssize_t n = recv(fd, buf + got, want - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    return got;
}

static void *conn_thread(void *arg) {
    int fd = (int)(intptr_t)arg;
    char name[64];
    wsc_accept_options opts = {0};
    opts.subprotocols = g_subprotocols;
    opts.n_subprotocols = g_n_subprotocols;
    opts.origin_patterns = g_origins;
    opts.n_origin_patterns = g_n_origins;
    opts.host_patterns = g_hosts;
    opts.n_host_patterns = g_n_hosts;
    opts.on_close = print_close;
    opts.compression = g_compression;
    opts.compression_threshold = g_threshold;
    opts.tls = g_tls;
    if (g_token || g_pick_last) opts.on_request = on_request;
    opts.heartbeat_ms = g_heartbeat;
    opts.deflate = g_deflate;
    opts.idle_timeout_ms = g_idle;
    conn_ctx ctx = {0};
    unsigned char head[64];
    size_t head_len = peek_head(fd, head, (size_t)g_peek);
    int rc = wsc_accept_with(fd, head, head_len, &opts, &ctx.c);
    if (rc != 0) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", wsc_last_error());
        say(stderr, "ACCEPT_FAIL %s %s\n", err_name(rc, name, sizeof name), detail);
        close(fd);
        connection_finished();
        return NULL;
    }
    wsc_conn *c = ctx.c;
    if (wsc_group_add(g_group, c) != 0)  /* shutting down: no new members */
        wsc_close(c, 1001, "server shutting down");
    if (g_have_read_limit) wsc_set_read_limit(c, g_read_limit);
    served(c, true);
    say(stdout, "ACCEPTED %s subprotocol=%s extensions=%s\n", wsc_request_target(c),
        wsc_subprotocol(c), wsc_extensions(c));

    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        rc = wsc_read(c, -1, &type, &data, &len);
        if (rc != 0) break;
        int w;
        if (type == WSC_TEXT && len >= 4 && memcmp(data, "cmd:", 4) == 0)
            w = do_command(&ctx, (const char *)data + 4);
        else
            w = wsc_write(c, type, data, len, -1);
        if (w != 0)  /* the next read reports how the connection ended */
            say(stderr, "WRITE_FAIL %s %s\n", err_name(w, name, sizeof name), wsc_last_error());
    }
    /* Copy the detail first: wsc_close_status and friends are wsc calls too. */
    char detail[512];
    snprintf(detail, sizeof detail, "%s", wsc_last_error());
    err_name(rc, name, sizeof name);
    int status = wsc_close_status(c);
    say(stdout, "CLOSED %s status=%d reason=%s\n", name, status, wsc_close_reason(c));
    if (rc != WSC_ECLOSED) say(stderr, "READ_END %s %s\n", name, detail);
    for (int i = 0; i < ctx.n_pings; i++) pthread_join(ctx.pings[i], NULL);
    served(c, false);
    wsc_conn_free(c);
    connection_finished();
    return NULL;
}

static long parse_long(const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s) usage();
    return v;
}

int main(int argc, char **argv) {
    if (wsc_group_new(&g_group) != 0) return 1;
    long port = 0;
    wsc_tls_options tls = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--pick-last-subprotocol") == 0) {
            g_pick_last = 1;
            continue;
        }
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0) {
            port = parse_long(v);
            if (port < 0 || port > 65535) usage();
        } else if (strcmp(a, "--subprotocol") == 0) {
            if (g_n_subprotocols >= MAX_LIST) usage();
            g_subprotocols[g_n_subprotocols++] = v;
        } else if (strcmp(a, "--origin") == 0) {
            if (g_n_origins >= MAX_LIST) usage();
            g_origins[g_n_origins++] = v;
        } else if (strcmp(a, "--allow-host") == 0) {
            if (g_n_hosts >= MAX_LIST) usage();
            g_hosts[g_n_hosts++] = v;
        } else if (strcmp(a, "--read-limit") == 0) {
            g_read_limit = parse_long(v);
            g_have_read_limit = 1;
        } else if (strcmp(a, "--max-conns") == 0) {
            g_max_conns = parse_long(v);
        } else if (strcmp(a, "--compress") == 0) {
            if (strcmp(v, "takeover") == 0) g_compression = WSC_COMPRESSION_CONTEXT_TAKEOVER;
            else if (strcmp(v, "no-takeover") == 0) g_compression = WSC_COMPRESSION_NO_CONTEXT_TAKEOVER;
            else if (strcmp(v, "disabled") == 0) g_compression = WSC_COMPRESSION_DISABLED;
            else usage();
        } else if (strcmp(a, "--threshold") == 0) {
            g_threshold = (int)parse_long(v);
        } else if (strcmp(a, "--tls-cert") == 0) {
            tls.cert_file = v;
        } else if (strcmp(a, "--tls-key") == 0) {
            tls.key_file = v;
        } else if (strcmp(a, "--tls-client-ca") == 0) {
            tls.ca_file = v;
        } else if (strcmp(a, "--require-token") == 0) {
            g_token = v;
        } else if (strcmp(a, "--level") == 0) {
            g_deflate.level = (int)parse_long(v);
        } else if (strcmp(a, "--mem-level") == 0) {
            g_deflate.mem_level = (int)parse_long(v);
        } else if (strcmp(a, "--window-bits") == 0) {
            g_deflate.window_bits = (int)parse_long(v);
        } else if (strcmp(a, "--peer-window-bits") == 0) {
            g_deflate.peer_window_bits = (int)parse_long(v);
        } else if (strcmp(a, "--heartbeat") == 0) {
            g_heartbeat = (int)parse_long(v);
        } else if (strcmp(a, "--idle") == 0) {
            g_idle = (int)parse_long(v);
        } else if (strcmp(a, "--peek") == 0) {
            g_peek = parse_long(v);
            if (g_peek < 0 || g_peek > 64) usage();
        } else {
            usage();
        }
    }
    if (tls.cert_file || tls.key_file) {
        int rc = wsc_tls_server_new(&tls, &g_tls);
        if (rc != 0) {
            fprintf(stderr, "TLS_FAIL %s %s\n", wsc_strerror(rc), wsc_last_error());
            return 1;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) { perror("socket"); return 1; }
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("bind"); return 1; }
    if (listen(ls, 64) != 0) { perror("listen"); return 1; }
    socklen_t sl = sizeof sa;
    if (getsockname(ls, (struct sockaddr *)&sa, &sl) != 0) { perror("getsockname"); return 1; }
    say(stdout, "LISTENING %d\n", ntohs(sa.sin_port));

    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("accept");
            return 1;
        }
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, conn_thread, (void *)(intptr_t)fd) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            close(fd);
        }
        pthread_attr_destroy(&attr);
    }
}
