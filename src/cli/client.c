/* SPDX-License-Identifier: MIT */
/*
 * client.c - client mode: dials the URL with the options given, explains a
 * failed dial in one line (and picks its exit code), then runs the session.
 */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <stdio.h>
#include <string.h>

/* The exit code for a failed wsc_dial. */
static int dial_exit_code(int err)
{
    switch (err) {
    case WSC_EINVAL:
    case WSC_ENOTSUP: return CLI_EXIT_USAGE;
    case WSC_EDNS:
    case WSC_ECONNECT:
    case WSC_ETIMEDOUT: return CLI_EXIT_CONNECT;
    case WSC_EHANDSHAKE: return CLI_EXIT_HANDSHAKE;
    case WSC_ETLS: return CLI_EXIT_TLS;
    default: return CLI_EXIT_LOCAL;
    }
}

static void dial_options(const cli_options *o, wsc_dial_options *d)
{
    memset(d, 0, sizeof *d);
    d->headers = o->headers;
    d->n_headers = o->n_headers;
    d->subprotocols = o->subprotocols;
    d->n_subprotocols = o->n_subprotocols;
    d->compression = o->compression;
    d->handshake_timeout_ms = o->timeout_ms;
    d->proxy = o->proxy;
    d->max_redirects = o->max_redirects;
    d->tls.ca_file = o->ca_file;
    d->tls.cert_file = o->cert_file;
    d->tls.key_file = o->key_file;
    d->tls.insecure_skip_verify = o->insecure;
}

/* With --verbose, the refused response's body says more than its status. */
static void print_refusal(const wsc_response *resp)
{
    if (resp->status == 0 || resp->status == 101 || resp->body_len == 0)
        return;
    size_t n = 0;
    while (n < resp->body_len && n < 200 && resp->body[n] != '\r' && resp->body[n] != '\n')
        n++;
    cli_err("the server answered %d: %.*s", resp->status, (int)n, resp->body);
}

int cli_client(const cli_options *o)
{
    wsc_dial_options d;
    dial_options(o, &d);
    wsc_conn *c = NULL;
    wsc_response resp = {0};
    int r = wsc_dial(o->url, &d, &c, &resp);
    if (r < 0) {
        char name[64];
        cli_err("cannot connect to %s: %s: %s", o->url, cli_err_name(r, name, sizeof name),
                wsc_last_error());
        if (o->verbose)
            print_refusal(&resp);
        wsc_response_free(&resp);
        return dial_exit_code(r);
    }
    wsc_response_free(&resp);
    if (o->verbose)
        cli_err("connected to %s (subprotocol \"%s\", extensions \"%s\")", o->url,
                wsc_subprotocol(c), wsc_extensions(c));
    int code = cli_session(c, o);
    wsc_conn_free(c);
    return code;
}
