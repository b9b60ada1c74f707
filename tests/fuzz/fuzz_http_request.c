/* SPDX-License-Identifier: MIT */
/* fuzz_http_request.c - libFuzzer target for the server side of the opening
 * handshake: wsc__http_head_end + wsc__http_parse(request) on arbitrary bytes,
 * then wsc__hs_check_request with several option sets and
 * wsc__hs_server_response for its verdict. Invariants checked:
 *   - a parsed head has <= 100 headers, token names, trimmed values;
 *   - the verdict is 0, 400, 403, 405, 426 or 505 with a detail, and a
 *     request accepted is HTTP/1.1 with one key, one version, no body and
 *     no control character in its target;
 *   - a 101 we produce parses and passes the client's own check
 *     (wsc__hs_check_response) for the request's key, and the client reads
 *     the same permessage-deflate parameters the server picked (each mode);
 *   - error responses parse, carry the status and a matching Content-Length;
 *   - a Host the allow-list lets in is one of its names, with or without a
 *     port;
 *   - the accept hook's view of the offered subprotocols and extensions. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/handshake.h"
#include "proto/http.h"
#include "proto/reply.h"
#include "fuzz_common.h"

static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static void check_head(const wsc_http_head *h)
{
    ASSERT(h->raw && h->headers);
    ASSERT(h->n_headers <= 100);
    for (size_t i = 0; i < h->n_headers; i++) {
        const char *name = h->headers[i].name, *value = h->headers[i].value;
        ASSERT(name && *name && value);
        for (const char *p = name; *p; p++)
            ASSERT(is_tchar((unsigned char)*p));
        size_t vl = strlen(value);
        if (vl) {
            ASSERT(value[0] != ' ' && value[0] != '\t');
            ASSERT(value[vl - 1] != ' ' && value[vl - 1] != '\t');
        }
        ASSERT(!strchr(value, '\n'));
        /* The first header of each name is what wsc__http_get finds. */
        const char *first = wsc__http_get(h, name);
        ASSERT(first);
        size_t j = 0;
        while (strcasecmp(h->headers[j].name, name) != 0)
            j++;
        ASSERT(j <= i && first == h->headers[j].value);
    }
}

static void check_error_response(int status, const char *resp, size_t len)
{
    size_t end = wsc__http_head_end(resp, len);
    ASSERT(end > 0);
    wsc_http_head h;
    char err[300];
    ASSERT(wsc__http_parse(resp, end, false, &h, err, sizeof err) == 0);
    ASSERT(h.status == status);
    const char *cl = wsc__http_get(&h, "Content-Length");
    ASSERT(cl && strtoul(cl, NULL, 10) == len - end);
    if (status == 426)
        ASSERT(wsc__http_get(&h, "Sec-WebSocket-Version") &&
               strcmp(wsc__http_get(&h, "Sec-WebSocket-Version"), "13") == 0);
    ASSERT(!wsc__http_get(&h, "Sec-WebSocket-Accept"));
    wsc__http_free(&h);
}

static void check_with(const wsc_http_head *req, const wsc_accept_options *o)
{
    const char *proto = NULL;
    char err[300];
    err[0] = '\0';
    int status = wsc__hs_check_request(req, o, &proto, err, sizeof err);
    ASSERT(status == 0 || status == 400 || status == 403 || status == 405 || status == 426 ||
           status == 505);
    size_t len = 0;
    if (status != 0) {
        ASSERT(err[0]);
        char *resp = wsc__hs_server_response(status, req, NULL, NULL, o, NULL, err, &len);
        ASSERT(resp && len == strlen(resp));
        check_error_response(status, resp, len);
        free(resp);
        return;
    }
    ASSERT(proto);
    ASSERT(req->version == 11);
    ASSERT(wsc__http_count(req, "Sec-WebSocket-Key") == 1);
    ASSERT(wsc__http_count(req, "Sec-WebSocket-Version") == 1);
    ASSERT(!wsc__http_get(req, "Transfer-Encoding"));
    for (const char *p = req->target; *p; p++)
        ASSERT((unsigned char)*p > ' ' && *p != 0x7F);
    /* The chosen subprotocol is one of ours, offered by the client, or "". */
    if (*proto) {
        bool ours = false;
        for (size_t i = 0; i < o->n_subprotocols; i++)
            ours = ours || proto == o->subprotocols[i];
        ASSERT(ours);
        ASSERT(wsc__http_has_token(req, "Sec-WebSocket-Protocol", proto));
    }
    const char *key = wsc__http_get(req, "Sec-WebSocket-Key");
    ASSERT(key && wsc__hs_key_valid(key));
    wsc_pmd_params pmd, seen;
    wsc__pmd_accept(req, o->compression, o->deflate.peer_window_bits, &pmd);
    ASSERT(!pmd.enabled || o->compression != WSC_COMPRESSION_DISABLED);
    ASSERT(!pmd.enabled || (pmd.server_bits >= 8 && pmd.server_bits <= 15 &&
                            pmd.client_bits >= 8 && pmd.client_bits <= 15));
    ASSERT(pmd.enabled || !pmd.header[0]);
    char *resp = wsc__hs_server_response(101, req, proto, pmd.header, o, NULL, "", &len);
    ASSERT(resp && len == strlen(resp));
    /* Our 101 must satisfy our own client. */
    size_t end = wsc__http_head_end(resp, len);
    ASSERT(end == len);
    wsc_http_head h;
    ASSERT(wsc__http_parse(resp, end, false, &h, err, sizeof err) == 0);
    ASSERT(h.status == 101);
    const char *chosen = NULL;
    int r = wsc__hs_check_response(&h, key, o->subprotocols, o->n_subprotocols, o->compression,
                                  &seen, &chosen, err, sizeof err);
    if (r != 0)
        fprintf(stderr, "our 101 fails our client check: %s\n", err);
    ASSERT(r == 0);
    ASSERT(strcmp(chosen, proto) == 0);
    ASSERT(seen.enabled == pmd.enabled);
    if (pmd.enabled)
        ASSERT(seen.server_no_takeover == pmd.server_no_takeover &&
               seen.client_no_takeover == pmd.client_no_takeover &&
               seen.server_bits == pmd.server_bits && seen.client_bits == pmd.client_bits);
    wsc__http_free(&h);
    free(resp);
}

/* What the accept hook would see: every offered subprotocol non-empty,
 * trimmed, without a comma, offered per wsc__http_has_token, and the
 * extensions text holding each Sec-WebSocket-Extensions value. */
static void check_view(const wsc_http_head *req)
{
    wsc_request_view v;
    ASSERT(wsc__request_view_init(&v, req, "peer", 3, false) == 0);
    ASSERT(v.req.target == req->target && v.req.n_headers == req->n_headers);
    for (size_t i = 0; i < v.req.n_subprotocols; i++) {
        const char *p = v.req.subprotocols[i];
        size_t n = strlen(p);
        ASSERT(n && !strchr(p, ',') && p[0] != ' ' && p[0] != '\t' && p[n - 1] != ' ' &&
               p[n - 1] != '\t');
        ASSERT(wsc__http_has_token(req, "Sec-WebSocket-Protocol", p));
    }
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, "Sec-WebSocket-Extensions") == 0)
            ASSERT(strstr(v.req.extensions, req->headers[i].value));
    wsc__request_view_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    const char *buf = (const char *)data;
    size_t end = wsc__http_head_end(buf, size);
    ASSERT(end <= size);
    if (end) {
        /* What head_end found is a head: it ends in LF LF or LF CR LF. */
        ASSERT(end >= 2 && buf[end - 1] == '\n');
        ASSERT(buf[end - 2] == '\n' || (end >= 3 && buf[end - 2] == '\r' && buf[end - 3] == '\n'));
        ASSERT(wsc__http_head_end(buf, end) == end);
    }
    size_t len = end ? end : size;

    wsc_http_head req;
    char err[300];
    memset(&req, 0x5A, sizeof req);
    if (wsc__http_parse(buf, len, true, &req, err, sizeof err) != 0) {
        ASSERT(!req.raw && !req.headers && req.n_headers == 0);
        return 0;
    }
    check_head(&req);
    ASSERT(req.method && *req.method && req.target && *req.target);

    static const char *const protos[] = {"chat", "superchat", "v2.bin"};
    static const char *const origins[] = {"*.example.com", "https://a.test", "localhost:*"};
    static const wsc_header extra[] = {{"X-Server", "fuzz"}};

    wsc_accept_options o0 = {0};
    check_with(&req, &o0);
    wsc_accept_options o1 = {.subprotocols = protos, .n_subprotocols = 3,
                             .origin_patterns = origins, .n_origin_patterns = 3,
                             .headers = extra, .n_headers = 1,
                             .compression = WSC_COMPRESSION_CONTEXT_TAKEOVER,
                             .deflate.peer_window_bits = 10};
    check_with(&req, &o1);
    static const char *const hosts[] = {"localhost", "[::1]", "*.example.com", "h.test:8080"};
    wsc_accept_options o2 = {.subprotocols = protos + 1, .n_subprotocols = 2,
                             .insecure_skip_verify = true, .host_patterns = hosts, .n_host_patterns = 4,
                             .compression = WSC_COMPRESSION_NO_CONTEXT_TAKEOVER};
    check_with(&req, &o2);
    /* A request let through by the Host allow-list names one of the hosts. */
    const char *host = wsc__http_get(&req, "Host");
    if (host && wsc__http_count(&req, "Host") == 1 && wsc__hs_host_allowed(host, hosts, 4)) {
        bool named = false;
        for (size_t i = 0; i < 4; i++)
            named = named || wsc__hs_glob(hosts[i], host) ||
                    (strncasecmp(host, hosts[i], strlen(hosts[i])) == 0 && host[strlen(hosts[i])] == ':') ||
                    (hosts[i][0] == '*' && strchr(host, ':'));
        ASSERT(named);
    }

    check_view(&req);

    /* Lookups the library does on requests. */
    (void)wsc__http_has_token(&req, "Connection", "Upgrade");
    (void)wsc__http_has_token(&req, "Sec-WebSocket-Extensions", "permessage-deflate");
    const char *origin = wsc__http_get(&req, "Origin");
    if (origin)
        (void)wsc__hs_origin_allowed(origin, wsc__http_get(&req, "Host"), origins, 3);
    wsc__http_free(&req);
    return 0;
}
