/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the parts of the wsc command-line tool share: the parsed
 * options, the exit codes, and the entry points of the client, the server
 * and the stdin/stdout session that both of them run.
 *
 * The tool uses the public API (wsc.h) only.
 */
#ifndef WSC_CLI_H
#define WSC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wsc.h"

#define CLI_MAX_LIST 32

/* Exit codes; the man page (wsc.1) and --help document the same table. */
enum {
    CLI_EXIT_OK = 0,         /* normal close (1000/1001/1005), or ours acknowledged */
    CLI_EXIT_LOCAL = 1,      /* local failure: listen, stdin/stdout, memory */
    CLI_EXIT_USAGE = 2,      /* bad option, bad URL */
    CLI_EXIT_CONNECT = 3,    /* DNS, refused, timed out, proxy refused */
    CLI_EXIT_HANDSHAKE = 4,  /* the HTTP upgrade failed */
    CLI_EXIT_TLS = 5,        /* certificate, host name, TLS handshake */
    CLI_EXIT_PEER_ERROR = 6, /* the peer closed with another code */
    CLI_EXIT_LOST = 7,       /* no close frame: reset, EOF, dead ping, no answer */
    CLI_EXIT_PROTO = 8       /* the peer broke the protocol or sent too much */
};

typedef struct {
    const char *url;                 /* client mode: where to connect */
    const char *listen;              /* server mode: "[HOST:]PORT" */
    bool echo;                       /* server: echo every message back */
    bool binary;                     /* send stdin lines as binary messages */
    bool raw;                        /* print received binary messages as is */
    bool verbose;                    /* connection details on stderr */
    wsc_header headers[CLI_MAX_LIST];
    size_t n_headers;
    const char *subprotocols[CLI_MAX_LIST];
    size_t n_subprotocols;
    wsc_compression compression;
    int ping_interval_ms;            /* 0: no pings */
    int wait_ms;                     /* linger after stdin EOF */
    int timeout_ms;                  /* handshake timeout; 0: library default */
    int64_t max_size;                /* read limit */
    bool insecure;
    const char *ca_file;
    const char *cert_file;
    const char *key_file;
    const char *proxy;
    int max_redirects;
    int close_code;
    const char *close_reason;
} cli_options;

/* Prints "wsc: " and the message and a newline on stderr, in one write. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "WSC_ECONNECT" out of wsc_strerror's "WSC_ECONNECT: ...". */
const char *cli_err_name(int err, char *buf, size_t cap);

/* Client mode: dials o->url and runs a session. Returns an exit code. */
int cli_client(const cli_options *o);

/* Server mode: listens on o->listen. Returns an exit code. */
int cli_server(const cli_options *o);

/* listener.c: what listen mode sets up. Each returns 0 or an exit code
 * after saying what went wrong. cli_listen binds o->listen (a nonblocking
 * socket in *fd) and prints "wsc: listening on ADDR"; cli_load_tls loads
 * --tls-cert/--tls-key (*tls stays NULL without them); cli_accept_options
 * fills *a from o; cli_check_accept_options finds a bad -H or subprotocol
 * at startup instead of at every client. */
int cli_listen(const cli_options *o, bool tls, int *fd);
int cli_load_tls(const cli_options *o, wsc_tls_server **tls);
void cli_accept_options(const cli_options *o, wsc_tls_server *tls, wsc_accept_options *a);
int cli_check_accept_options(const wsc_accept_options *a);

/* Takes the next connection off the nonblocking listening socket lfd: a
 * nonblocking socket (its address in peer), or CLI_ACCEPT_NONE (none
 * waiting), CLI_ACCEPT_SHORT (out of fds or memory for now: why says so
 * and what to do) or CLI_ACCEPT_BROKEN (the listening socket failed). */
enum { CLI_ACCEPT_NONE = -1, CLI_ACCEPT_SHORT = -2, CLI_ACCEPT_BROKEN = -3 };
int cli_accept_socket(int lfd, char *peer, size_t cap, char *why, size_t why_cap);

/* Pipes stdin lines to c as messages and c's messages to stdout until the
 * connection ends; closes c at stdin EOF. Returns an exit code; does not
 * free c. */
int cli_session(wsc_conn *c, const cli_options *o);

/* Writes one received message to stdout as the options say (text: as is
 * plus a newline; binary: hex plus a newline, or raw bytes). Returns 0, or
 * -1 when stdout failed. */
int cli_print_message(const cli_options *o, wsc_msg_type type,
                      const void *data, size_t len);

#endif
