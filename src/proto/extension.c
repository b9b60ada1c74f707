/* SPDX-License-Identifier: MIT */
/* extension.c - permessage-deflate negotiation (RFC 7692 section 7.1): parsing
 * Sec-WebSocket-Extensions elements and their parameters, the client's offer,
 * the server's pick, the client's check of the answer. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto/extension.h"

#define MAX_PARAMS 8

/* One extension element: "name; param; param=value". Values longer than the
 * buffer, or more than MAX_PARAMS parameters, make the element invalid. */
typedef struct {
    char name[32];
    struct {
        char name[32];
        char value[8];
        bool has_value;
    } params[MAX_PARAMS];
    int n_params;
    bool too_long;
} element;

static bool is_tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static void skip_ows(const char **s)
{
    while (**s == ' ' || **s == '\t')
        (*s)++;
}

/* Copies a token (or, with `quoted_ok`, a quoted-string's content) into out.
 * Returns false when there is none; sets *too_long when it does not fit. */
static bool take_word(const char **s, bool quoted_ok, char *out, size_t cap, bool *too_long)
{
    size_t n = 0;
    bool quoted = quoted_ok && **s == '"';
    if (quoted)
        (*s)++;
    const char *start = *s;
    while (quoted ? (**s && **s != '"') : is_tchar(**s)) {
        if (quoted && **s == '\\' && (*s)[1])
            (*s)++;
        if (n + 1 < cap)
            out[n++] = **s;
        else
            *too_long = true;
        (*s)++;
    }
    out[n] = '\0';
    if (quoted) {
        if (**s != '"')
            return false;
        (*s)++;
        return true;
    }
    return *s > start;
}

/* Parses one element at *s and the ',' after it. 1 when one was read, 0 at
 * the end of the value, -1 on a syntax error (the rest cannot be trusted). */
static int next_element(const char **s, element *e)
{
    memset(e, 0, sizeof *e);
    skip_ows(s);
    while (**s == ',') { /* empty list elements are allowed */
        (*s)++;
        skip_ows(s);
    }
    if (!**s)
        return 0;
    if (!take_word(s, false, e->name, sizeof e->name, &e->too_long))
        return -1;
    skip_ows(s);
    while (**s == ';') {
        (*s)++;
        skip_ows(s);
        char name[32], value[8];
        bool has_value = false;
        if (!take_word(s, false, name, sizeof name, &e->too_long))
            return -1;
        skip_ows(s);
        if (**s == '=') {
            (*s)++;
            skip_ows(s);
            if (!take_word(s, true, value, sizeof value, &e->too_long))
                return -1;
            has_value = true;
            skip_ows(s);
        }
        if (e->n_params == MAX_PARAMS) {
            e->too_long = true;
            continue;
        }
        strcpy(e->params[e->n_params].name, name);
        strcpy(e->params[e->n_params].value, has_value ? value : "");
        e->params[e->n_params].has_value = has_value;
        e->n_params++;
    }
    if (**s == ',')
        (*s)++;
    else if (**s)
        return -1;
    return 1;
}

/* "8".."15" without leading zeros, else 0. */
static int window_bits(const char *v)
{
    if (strlen(v) == 1 && (v[0] == '8' || v[0] == '9'))
        return v[0] - '0';
    if (strlen(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return 10 + v[1] - '0';
    return 0;
}

/* Which window parameters an element carried. */
typedef struct {
    bool server_bits;      /* server_max_window_bits=N */
    bool client_bits;      /* client_max_window_bits, with or without a value */
    bool client_value;     /* client_max_window_bits=N */
} given;

/* What one permessage-deflate element says. In an offer client_max_window_bits
 * may come without a value (the client accepts a limit); in a response it
 * needs one. Returns false with a detail in err. */
static bool read_params(const element *e, bool response, wsc_pmd_params *p, given *g,
                        char *err, size_t err_size)
{
    bool seen[4] = {false, false, false, false};
    static const char *const names[4] = {"server_no_context_takeover", "client_no_context_takeover",
                                         "server_max_window_bits", "client_max_window_bits"};
    memset(p, 0, sizeof *p);
    p->enabled = true;
    p->server_bits = p->client_bits = 15;
    memset(g, 0, sizeof *g);
    if (e->too_long) {
        snprintf(err, err_size, "a parameter is too long or there are too many");
        return false;
    }
    for (int i = 0; i < e->n_params; i++) {
        const char *name = e->params[i].name, *value = e->params[i].value;
        bool has_value = e->params[i].has_value;
        int k = 0;
        while (k < 4 && strcasecmp(name, names[k]) != 0)
            k++;
        if (k == 4) {
            snprintf(err, err_size, "unknown parameter \"%s\"", name);
            return false;
        }
        if (seen[k]) {
            snprintf(err, err_size, "parameter %s appears twice", names[k]);
            return false;
        }
        seen[k] = true;
        if (k < 2 && has_value) {
            snprintf(err, err_size, "%s takes no value", names[k]);
            return false;
        }
        int bits = has_value ? window_bits(value) : 0;
        if (k >= 2 && has_value && !bits) {
            snprintf(err, err_size, "%s=%s is not a window size from 8 to 15", names[k], value);
            return false;
        }
        if (k >= 2 && !has_value && (k == 2 || response)) {
            snprintf(err, err_size, "%s needs a value", names[k]);
            return false;
        }
        if (k == 0)
            p->server_no_takeover = true;
        else if (k == 1)
            p->client_no_takeover = true;
        else if (k == 2) {
            g->server_bits = true;
            p->server_bits = bits;
        } else {
            g->client_bits = true;
            g->client_value = has_value;
            if (bits)
                p->client_bits = bits;
        }
    }
    return true;
}

const char *wsc__pmd_offer(wsc_compression mode, int server_bits, char *buf, size_t size)
{
    const char *base;
    if (mode == WSC_COMPRESSION_CONTEXT_TAKEOVER)
        base = "permessage-deflate; client_max_window_bits";
    else if (mode == WSC_COMPRESSION_NO_CONTEXT_TAKEOVER)
        base = "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
               "client_max_window_bits";
    else
        return NULL;
    if (server_bits >= 8 && server_bits < 15)
        snprintf(buf, size, "%s; server_max_window_bits=%d", base, server_bits);
    else
        snprintf(buf, size, "%s", base);
    return buf;
}

int wsc__pmd_check_response(const wsc_http_head *h, wsc_compression mode, wsc_pmd_params *p,
                           char *err, size_t err_size)
{
    memset(p, 0, sizeof *p);
    char why[128];
    for (size_t i = 0; i < h->n_headers; i++) {
        if (strcasecmp(h->headers[i].name, "Sec-WebSocket-Extensions") != 0)
            continue;
        const char *s = h->headers[i].value;
        element e;
        int r;
        while ((r = next_element(&s, &e)) > 0) {
            if (strcasecmp(e.name, "permessage-deflate") != 0 ||
                mode == WSC_COMPRESSION_DISABLED) {
                snprintf(err, err_size, "the server enabled extension \"%s\" that was not offered",
                         e.name);
                return WSC_EHANDSHAKE;
            }
            if (p->enabled) {
                snprintf(err, err_size, "the server enabled permessage-deflate twice");
                memset(p, 0, sizeof *p);
                return WSC_EHANDSHAKE;
            }
            given g;
            if (!read_params(&e, true, p, &g, why, sizeof why)) {
                snprintf(err, err_size, "the server's permessage-deflate answer is invalid: %s", why);
                memset(p, 0, sizeof *p);
                return WSC_EHANDSHAKE;
            }
        }
        if (r < 0) {
            snprintf(err, err_size, "the Sec-WebSocket-Extensions header \"%s\" is malformed",
                     h->headers[i].value);
            memset(p, 0, sizeof *p);
            return WSC_EHANDSHAKE;
        }
    }
    return 0;
}

void wsc__pmd_accept(const wsc_http_head *req, wsc_compression mode, int client_bits,
                     wsc_pmd_params *p)
{
    memset(p, 0, sizeof *p);
    if (mode != WSC_COMPRESSION_CONTEXT_TAKEOVER && mode != WSC_COMPRESSION_NO_CONTEXT_TAKEOVER)
        return;
    char why[128];
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcasecmp(req->headers[i].name, "Sec-WebSocket-Extensions") != 0)
            continue;
        const char *s = req->headers[i].value;
        element e;
        while (next_element(&s, &e) > 0) {
            given g;
            if (strcasecmp(e.name, "permessage-deflate") != 0 ||
                !read_params(&e, false, p, &g, why, sizeof why))
                continue;
            /* Accepted. Our own side may always drop context; we ask the
             * client to drop its context too when we want no takeover. */
            bool no_takeover = mode == WSC_COMPRESSION_NO_CONTEXT_TAKEOVER;
            p->server_no_takeover |= no_takeover;
            p->client_no_takeover |= no_takeover;
            /* A smaller window for the client, if it said it takes a limit. */
            if (g.client_bits && client_bits >= 8 && client_bits < p->client_bits) {
                p->client_bits = client_bits;
                g.client_value = true;
            }
            char server_param[32] = "", client_param[32] = "";
            if (g.server_bits) /* must be answered (7.1.2.1) */
                snprintf(server_param, sizeof server_param, "; server_max_window_bits=%d",
                         p->server_bits);
            if (g.client_value)
                snprintf(client_param, sizeof client_param, "; client_max_window_bits=%d",
                         p->client_bits);
            snprintf(p->header, sizeof p->header, "permessage-deflate%s%s%s%s",
                     p->server_no_takeover ? "; server_no_context_takeover" : "",
                     p->client_no_takeover ? "; client_no_context_takeover" : "", server_param,
                     client_param);
            return;
        }
    }
    memset(p, 0, sizeof *p);
}
