/* SPDX-License-Identifier: MIT */
/* fuzz_proxy.c - libFuzzer target for the proxy parsers: the proxy URL
 * (wsc__proxy_url_parse, wsc__proxy_url_redact), the no_proxy matcher, the
 * choice between option and environment, and the judgement of a proxy's
 * answer to CONNECT (wsc__http_parse + wsc__proxy_check_response).
 *
 * Input: NUL-separated fields: proxy URL, no_proxy list, host, then the rest
 * as a response head. Checked: a parsed URL has a host, a port in 1-65535, a
 * description without '@', and neither it, the redacted URL nor any error
 * mentions the password; a Basic header only with user info; matching and
 * choosing never crash; only a 2xx answer opens the tunnel; the response
 * bytes as SOCKS5 answers (method choice, login status, CONNECT reply: a
 * reply is whole, incomplete with how much it needs, or refused with a
 * reason) and the host as a SOCKS5 CONNECT target. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"
#include "net/proxy.h"
#include "proto/socks5.h"
#include "fuzz_common.h"

/* The next NUL-terminated field of data (copied), advancing *pos. */
static char *field(const uint8_t *data, size_t size, size_t *pos)
{
    size_t start = *pos, end = start;
    while (end < size && data[end])
        end++;
    char *s = malloc(end - start + 1);
    ASSERT(s);
    memcpy(s, data + start, end - start);
    s[end - start] = '\0';
    *pos = end < size ? end + 1 : end;
    return s;
}

/* The password of URL s as the parser would see it, when there is one of at
 * least 4 characters and no '%' (so it is not rewritten by decoding), found
 * nowhere else in s. */
static const char *plain_password(const char *s, char *buf, size_t cap)
{
    const char *scheme = strstr(s, "://");
    const char *ui = scheme ? scheme + 3 : s;
    const char *at = strrchr(ui, '@'); /* as the parser: user info ends at the last '@' */
    if (!at)
        return NULL;
    const char *colon = memchr(ui, ':', (size_t)(at - ui));
    if (!colon || at - colon - 1 < 4 || (size_t)(at - colon) > cap || memchr(colon, '%', (size_t)(at - colon)))
        return NULL;
    memcpy(buf, colon + 1, (size_t)(at - colon - 1));
    buf[at - colon - 1] = '\0';
    /* Text that is also elsewhere in s may show up legitimately. */
    return strcasestr(at, buf) || strcasestr(s, buf) < colon ? NULL : buf; /* hosts get lower-cased */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    size_t pos = 0;
    char *url = field(data, size, &pos), *list = field(data, size, &pos), *host = field(data, size, &pos);
    char pw_buf[256];
    const char *password = plain_password(url, pw_buf, sizeof pw_buf);

    wsc_proxy_url p;
    char err[300] = "";
    int r = wsc__proxy_url_parse(url, &p, err, sizeof err);
    ASSERT(r == 0 || r == WSC_EINVAL || r == WSC_ENOTSUP || r == WSC_ENOMEM);
    if (r == 0) {
        ASSERT(p.host && p.port >= 1 && p.port <= 65535 && p.desc);
        ASSERT(!strchr(p.desc, '@'));
        ASSERT(!p.auth || strncmp(p.auth, "Basic ", 6) == 0);
        ASSERT(!password || !strstr(p.desc, password));
        wsc__proxy_url_free(&p);
    } else {
        ASSERT(err[0]);
        ASSERT(!password || !strstr(err, password));
    }
    char redacted[512];
    wsc__proxy_url_redact(url, redacted, sizeof redacted);
    ASSERT(!password || !strstr(redacted, password));

    (void)wsc__no_proxy_match(list, host);
    wsc_proxy_env env = {.http_proxy = url, .no_proxy = list};
    const char *source = NULL;
    const char *chosen = wsc__proxy_choose(NULL, &env, false, host, &source);
    ASSERT(!chosen || chosen == url);
    ASSERT(wsc__proxy_choose("", &env, false, host, &source) == NULL);

    const char *head = (const char *)data + pos;
    size_t head_len = size - pos;
    size_t end = wsc__http_head_end(head, head_len);
    wsc_http_head h;
    if (end && wsc__http_parse(head, end, false, &h, err, sizeof err) == 0) {
        r = wsc__proxy_check_response(&h, "proxy.test:3128", "example.com:443", data[0] & 1, err, sizeof err);
        ASSERT(r == 0 ? h.status >= 200 && h.status <= 299 : r == WSC_ECONNECT && err[0]);
        wsc__http_free(&h);
    }

    /* The same bytes as a SOCKS5 proxy's answers. */
    const uint8_t *in = data + pos;
    if (head_len >= 2) {
        int m = wsc__socks5_method(in, data[0] & 1, err, sizeof err);
        ASSERT(m == 0 || m == 2 || (m == -1 && err[0]));
        ASSERT(m != 2 || (data[0] & 1));
        ASSERT(wsc__socks5_password_ok(in, err, sizeof err) == (in[1] ? -1 : 0));
    }
    size_t used = 0;
    err[0] = '\0';
    r = wsc__socks5_reply(in, head_len, &used, err, sizeof err);
    ASSERT(r == -1 ? err[0] != '\0' : r == 0 ? used >= 7 && used <= head_len && in[1] == 0
                                              : (size_t)r > head_len && r <= 262);
    /* and the host as a CONNECT target: a name fits or is refused */
    uint8_t req[262];
    size_t n = wsc__socks5_connect_msg(host, 443, req);
    ASSERT(n == 0 ? strlen(host) == 0 || strlen(host) > 255 : n >= 8 && n <= 262);
    free(url);
    free(list);
    free(host);
    return 0;
}
