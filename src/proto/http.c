/* SPDX-License-Identifier: MIT */
/* http.c - a strict, allocation-bounded parser for HTTP/1.1 heads. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/http.h"

#define MAX_HEADERS 100

size_t wsc__http_head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i + 1] == '\n')
            return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Control characters: 0x00-0x1F and DEL. */
static bool is_ctl(unsigned char ch)
{
    return ch < 0x20 || ch == 0x7F;
}

static bool is_token_span(const char *s, const char *end)
{
    if (s == end)
        return false;
    for (; s < end; s++)
        if (!is_tchar((unsigned char)*s))
            return false;
    return true;
}

bool wsc__http_is_token(const char *s)
{
    return is_token_span(s, s + strlen(s));
}

bool wsc__http_is_value(const char *s)
{
    for (; *s; s++)
        if (is_ctl((unsigned char)*s) && *s != '\t')
            return false;
    return true;
}

static char *trim(char *s, char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
    return s;
}

/* Splits the next line off *cur (up to LF, CR before it dropped); NULL at the end. */
static char *next_line(char **cur, char *end)
{
    char *s = *cur;
    if (s >= end)
        return NULL;
    char *nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl)
        nl = end;
    *cur = nl + 1;
    if (nl > s && nl[-1] == '\r')
        nl--;
    *nl = '\0';
    return s;
}

static int fail(wsc_http_head *h, char *err, size_t err_size, const char *what)
{
    if (err_size)
        snprintf(err, err_size, "%s", what);
    free(h->raw);
    free(h->headers);
    memset(h, 0, sizeof *h);
    return -1;
}

/* "HTTP/" DIGIT "." DIGIT at s (RFC 9112) as 10 * major + minor, or -1. */
static int parse_version(const char *s)
{
    if (strncmp(s, "HTTP/", 5) != 0 || !isdigit((unsigned char)s[5]) || s[6] != '.' ||
        !isdigit((unsigned char)s[7]))
        return -1;
    return (s[5] - '0') * 10 + (s[7] - '0');
}

/* Parses the request or status line; NULL, or what is wrong with it. */
static const char *parse_start_line(wsc_http_head *h, char *line, bool request)
{
    if (request) {
        char *sp1 = strchr(line, ' ');
        char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 || strchr(sp2 + 1, ' '))
            return "malformed HTTP request line";
        *sp1 = *sp2 = '\0';
        h->version = parse_version(sp2 + 1);
        if (!wsc__http_is_token(line) || h->version < 0 || sp2[9])
            return "malformed HTTP request line";
        if (strchr(sp1 + 1, '\t') || !wsc__http_is_value(sp1 + 1))
            return "control character in the request target";
        h->method = line;
        h->target = sp1 + 1;
        return NULL;
    }
    h->version = parse_version(line);
    if (h->version < 0 || line[8] != ' ')
        return "malformed HTTP status line";
    char *s = line + 9;
    if (!(s[0] >= '1' && s[0] <= '5') || !(s[1] >= '0' && s[1] <= '9') ||
        !(s[2] >= '0' && s[2] <= '9') || (s[3] != ' ' && s[3] != '\0'))
        return "malformed HTTP status line";
    h->status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    h->reason = s[3] ? s + 4 : s + 3;
    if (!wsc__http_is_value(h->reason))
        return "control character in the HTTP reason phrase";
    return NULL;
}

int wsc__http_parse(const char *buf, size_t len, bool request, wsc_http_head *h,
                   char *err, size_t err_size)
{
    memset(h, 0, sizeof *h);
    if (memchr(buf, '\0', len))
        return fail(h, err, err_size, "NUL byte in HTTP head");
    h->raw = malloc(len + 1);
    h->headers = malloc(MAX_HEADERS * sizeof *h->headers);
    if (!h->raw || !h->headers)
        return fail(h, err, err_size, "out of memory");
    memcpy(h->raw, buf, len);
    h->raw[len] = '\0';
    char *cur = h->raw, *end = h->raw + len;
    char *line = next_line(&cur, end);
    if (!line)
        return fail(h, err, err_size, "empty HTTP head");
    const char *bad = parse_start_line(h, line, request);
    if (bad)
        return fail(h, err, err_size, bad);
    while ((line = next_line(&cur, end)) && *line) {
        if (*line == ' ' || *line == '\t')
            return fail(h, err, err_size, "obsolete header line folding");
        char *colon = strchr(line, ':');
        if (!colon || colon == line)
            return fail(h, err, err_size, "malformed HTTP header line");
        if (!is_token_span(line, colon))
            return fail(h, err, err_size, "invalid character in HTTP header name");
        if (h->n_headers == MAX_HEADERS)
            return fail(h, err, err_size, "too many HTTP headers");
        if (!wsc__http_is_value(colon + 1))
            return fail(h, err, err_size, "control character in an HTTP header value");
        *colon = '\0';
        h->headers[h->n_headers].name = line;
        h->headers[h->n_headers].value = trim(colon + 1, colon + 1 + strlen(colon + 1));
        h->n_headers++;
    }
    return 0;
}

size_t wsc__http_count(const wsc_http_head *h, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_headers; i++)
        n += strcasecmp(h->headers[i].name, name) == 0;
    return n;
}

const char *wsc__http_get(const wsc_http_head *h, const char *name)
{
    for (size_t i = 0; i < h->n_headers; i++)
        if (strcasecmp(h->headers[i].name, name) == 0)
            return h->headers[i].value;
    return NULL;
}

static bool list_has(const char *list, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == tlen && strncasecmp(p, token, tlen) == 0)
            return true;
        p = e;
    }
    return false;
}

bool wsc__http_has_token(const wsc_http_head *h, const char *name, const char *token)
{
    for (size_t i = 0; i < h->n_headers; i++)
        if (strcasecmp(h->headers[i].name, name) == 0 && list_has(h->headers[i].value, token))
            return true;
    return false;
}

void wsc__http_free(wsc_http_head *h)
{
    free(h->raw);
    free(h->headers);
    memset(h, 0, sizeof *h);
}
