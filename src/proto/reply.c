/* SPDX-License-Identifier: MIT */
/* reply.c - the accept hook's data: what it sees of the request
 * (wsc_request_view) and the answer it shapes (wsc_reply_* functions). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/error.h"
#include "common/owned.h"
#include "proto/handshake.h"
#include "proto/reply.h"

#define MAX_BODY 65536

/* Appends every value of header `name` to *p, separated by ", ". */
static void join_values(const wsc_http_head *h, const char *name, char **p)
{
    bool first = true;
    for (size_t i = 0; i < h->n_headers; i++) {
        if (strcasecmp(h->headers[i].name, name) != 0)
            continue;
        if (!first)
            *p = stpcpy(*p, ", ");
        *p = stpcpy(*p, h->headers[i].value);
        first = false;
    }
}

/* The elements of a comma-separated list s, in place: commas become NULs,
 * elements are trimmed of spaces and tabs; empty ones are skipped. Returns
 * how many were stored in out (which has room for all). */
static size_t split_list(char *s, const char **out)
{
    size_t n = 0;
    while (*s) {
        char *end = s + strcspn(s, ",");
        char *next = *end ? end + 1 : end;
        *end = '\0';
        s += strspn(s, " \t");
        while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*s)
            out[n++] = s;
        s = next;
    }
    return n;
}

static size_t values_size(const wsc_http_head *h, const char *name, size_t *commas)
{
    size_t n = 1;
    for (size_t i = 0; i < h->n_headers; i++)
        if (strcasecmp(h->headers[i].name, name) == 0) {
            const char *v = h->headers[i].value;
            n += strlen(v) + 2;
            for (; *v; v++)
                *commas += *v == ',';
            (*commas)++;
        }
    return n;
}

int wsc__request_view_init(wsc_request_view *v, const wsc_http_head *h, const char *peer,
                          int fd, bool tls)
{
    memset(v, 0, sizeof *v);
    size_t max_protos = 0, ignored = 0;
    size_t protos_size = values_size(h, "Sec-WebSocket-Protocol", &max_protos);
    size_t ext_size = values_size(h, "Sec-WebSocket-Extensions", &ignored);
    v->text = malloc(protos_size + ext_size);
    v->protos = malloc((max_protos + 1) * sizeof *v->protos);
    if (!v->text || !v->protos) {
        wsc__request_view_free(v);
        return wsc__fail(WSC_ENOMEM, "out of memory");
    }
    char *p = v->text;
    *p = '\0';
    join_values(h, "Sec-WebSocket-Protocol", &p);
    char *ext = p + 1;
    p = ext;
    *p = '\0';
    join_values(h, "Sec-WebSocket-Extensions", &p);
    v->req.target = h->target;
    v->req.headers = h->headers;
    v->req.n_headers = h->n_headers;
    v->req.n_subprotocols = split_list(v->text, v->protos);
    v->req.subprotocols = v->protos;
    v->req.extensions = ext;
    v->req.peer = peer;
    v->req.fd = fd;
    v->req.tls = tls;
    return 0;
}

void wsc__request_view_free(wsc_request_view *v)
{
    free(v->protos);
    free(v->text);
    memset(v, 0, sizeof *v);
}

void wsc__reply_free(wsc_reply *r)
{
    wsc__headers_free(r->headers, r->n_headers);
    free(r->subprotocol);
    free(r->content_type);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* ---- the public functions, called by the hook --------------------------- */

static int outside_hook(void)
{
    return wsc__fail(WSC_EINVAL, "wsc_reply_* may only be called from the accept hook");
}

int wsc_reply_subprotocol(wsc_reply *r, const char *name)
{
    if (!r || !r->req)
        return outside_hook();
    if (!name)
        return wsc__fail(WSC_EINVAL, "wsc_reply_subprotocol needs a name (\"\" for none)");
    bool offered = !*name;
    for (size_t i = 0; !offered && i < r->req->n_subprotocols; i++)
        offered = strcmp(r->req->subprotocols[i], name) == 0;
    if (!offered)
        return wsc__fail(WSC_EINVAL, "subprotocol \"%s\" was not offered by the client", name);
    char *copy = strdup(name);
    if (!copy)
        return wsc__fail(WSC_ENOMEM, "out of memory");
    free(r->subprotocol);
    r->subprotocol = copy;
    return 0;
}

int wsc_reply_header(wsc_reply *r, const char *name, const char *value)
{
    if (!r || !r->req)
        return outside_hook();
    char err[200];
    wsc_header h = {name, value};
    if (!name || !value)
        return wsc__fail(WSC_EINVAL, "wsc_reply_header needs a name and a value");
    if (!wsc__hs_headers_ok(&h, 1, err, sizeof err))
        return wsc__fail(WSC_EINVAL, "%s", err);
    if (strcasecmp(name, "Content-Type") == 0)
        return wsc__fail(WSC_EINVAL, "give the Content-Type to wsc_reply_body");
    wsc_header *hs = realloc(r->headers, (r->n_headers + 1) * sizeof *hs);
    if (!hs)
        return wsc__fail(WSC_ENOMEM, "out of memory");
    r->headers = hs;
    hs[r->n_headers].name = strdup(name);
    hs[r->n_headers].value = strdup(value);
    if (!hs[r->n_headers].name || !hs[r->n_headers].value) {
        free((char *)hs[r->n_headers].name);
        free((char *)hs[r->n_headers].value);
        return wsc__fail(WSC_ENOMEM, "out of memory");
    }
    r->n_headers++;
    return 0;
}

int wsc_reply_body(wsc_reply *r, const char *content_type, const void *body, size_t len)
{
    if (!r || !r->req)
        return outside_hook();
    if ((len && !body) || len > MAX_BODY)
        return wsc__fail(WSC_EINVAL, "a reply body is at most %d bytes (and not NULL)", MAX_BODY);
    if (content_type && (!*content_type || !wsc__http_is_value(content_type)))
        return wsc__fail(WSC_EINVAL, "the content type is empty or has a control character");
    char *type = content_type ? strdup(content_type) : NULL;
    char *copy = malloc(len + 1);
    if (!copy || (content_type && !type)) {
        free(type);
        free(copy);
        return wsc__fail(WSC_ENOMEM, "out of memory");
    }
    if (len)
        memcpy(copy, body, len);
    copy[len] = '\0';
    free(r->content_type);
    free(r->body);
    r->content_type = type;
    r->body = copy;
    r->body_len = len;
    return 0;
}
