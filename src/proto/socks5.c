/* SPDX-License-Identifier: MIT */
/* socks5.c - SOCKS5 client messages (RFC 1928 sections 3-6, RFC 1929). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "proto/socks5.h"

enum { VERSION = 5, METHOD_NONE = 0, METHOD_PASSWORD = 2, METHOD_REFUSED = 0xff };
enum { ATYP_V4 = 1, ATYP_NAME = 3, ATYP_V6 = 4 };

size_t wsc__socks5_greeting(bool with_password, uint8_t out[4])
{
    out[0] = VERSION;
    out[1] = with_password ? 2 : 1;
    out[2] = METHOD_NONE;
    out[3] = METHOD_PASSWORD;
    return with_password ? 4 : 3;
}

int wsc__socks5_method(const uint8_t in[2], bool with_password, char *err, size_t err_size)
{
    if (in[0] != VERSION) {
        snprintf(err, err_size, "it answered as SOCKS version %d, not 5 (is it a SOCKS5 proxy?)",
                 in[0]);
        return -1;
    }
    if (in[1] == METHOD_NONE || (in[1] == METHOD_PASSWORD && with_password))
        return in[1];
    if (in[1] == METHOD_REFUSED)
        snprintf(err, err_size, "it accepts none of the authentication methods offered (%s)%s",
                 with_password ? "none, user name and password" : "none",
                 with_password ? "" : ": put user:password@ in the proxy URL");
    else
        snprintf(err, err_size, "it chose authentication method %d, which was not offered", in[1]);
    return -1;
}

size_t wsc__socks5_password_msg(const char *user, const char *password, uint8_t out[513])
{
    size_t u = strlen(user), p = strlen(password);
    if (u > 255 || p > 255)
        return 0;
    out[0] = 1; /* the sub-negotiation's version */
    out[1] = (uint8_t)u;
    memcpy(out + 2, user, u);
    out[2 + u] = (uint8_t)p;
    memcpy(out + 3 + u, password, p);
    return 3 + u + p;
}

int wsc__socks5_password_ok(const uint8_t in[2], char *err, size_t err_size)
{
    if (in[1] == 0)
        return 0;
    snprintf(err, err_size, "it rejected the user name and password (status %d)", in[1]);
    return -1;
}

size_t wsc__socks5_connect_msg(const char *host, int port, uint8_t out[262])
{
    size_t n = 4;
    out[0] = VERSION;
    out[1] = 1; /* CONNECT */
    out[2] = 0;
    if (inet_pton(AF_INET, host, out + 4) == 1) {
        out[3] = ATYP_V4;
        n += 4;
    } else if (inet_pton(AF_INET6, host, out + 4) == 1) {
        out[3] = ATYP_V6;
        n += 16;
    } else {
        size_t len = strlen(host);
        if (len == 0 || len > 255)
            return 0;
        out[3] = ATYP_NAME;
        out[4] = (uint8_t)len;
        memcpy(out + 5, host, len);
        n += 1 + len;
    }
    out[n++] = (uint8_t)(port >> 8);
    out[n++] = (uint8_t)port;
    return n;
}

static const char *reply_name(int rep)
{
    static const char *const names[] = {
        "succeeded", "general SOCKS server failure", "connection not allowed by ruleset",
        "network unreachable", "host unreachable", "connection refused", "TTL expired",
        "command not supported", "address type not supported"};
    return rep >= 0 && rep <= 8 ? names[rep] : "an unknown error";
}

int wsc__socks5_reply(const uint8_t *in, size_t len, size_t *used, char *err, size_t err_size)
{
    if (len < 5)
        return 5;
    if (in[0] != VERSION) {
        snprintf(err, err_size, "its reply to CONNECT is SOCKS version %d, not 5", in[0]);
        return -1;
    }
    if (in[1] != 0) {
        snprintf(err, err_size, "%s (%d)", reply_name(in[1]), in[1]);
        return -1;
    }
    size_t need;
    if (in[3] == ATYP_V4)
        need = 4 + 4 + 2;
    else if (in[3] == ATYP_V6)
        need = 4 + 16 + 2;
    else if (in[3] == ATYP_NAME)
        need = 4 + 1 + in[4] + 2;
    else {
        snprintf(err, err_size, "its reply to CONNECT has address type %d", in[3]);
        return -1;
    }
    if (len < need)
        return (int)need;
    *used = need;
    return 0;
}
