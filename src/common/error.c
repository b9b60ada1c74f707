/* SPDX-License-Identifier: MIT */
/* error.c - wsc_strerror, wsc_last_error and the per-thread failure detail. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wsc.h"
#include "common/error.h"

static _Thread_local char last_error[512];

#ifdef __EMSCRIPTEN__
int vsniprintf(char *s, size_t n, const char *fmt, va_list ap); /* musl, integers only */
#endif

int wsc__vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
#ifdef __EMSCRIPTEN__
    return vsniprintf(buf, size, fmt, ap);
#else
    return vsnprintf(buf, size, fmt, ap);
#endif
}

int wsc__snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = wsc__vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int wsc__fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wsc__vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

int wsc__fail_append(int code, const char *fmt, ...)
{
    size_t used = strlen(last_error);
    if (used + 1 < sizeof last_error) {
        last_error[used++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        wsc__vsnprintf(last_error + used, sizeof last_error - used, fmt, ap);
        va_end(ap);
    }
    return code;
}

void wsc__clear_error(void)
{
    last_error[0] = '\0';
}

const char *wsc_last_error(void)
{
    return last_error;
}

const char *wsc_strerror(int err)
{
    switch (err) {
    case WSC_OK: return "WSC_OK: success";
    case WSC_EINVAL: return "WSC_EINVAL: invalid argument or state";
    case WSC_ENOMEM: return "WSC_ENOMEM: out of memory";
    case WSC_EAGAIN: return "WSC_EAGAIN: would block";
    case WSC_ETIMEDOUT: return "WSC_ETIMEDOUT: timed out";
    case WSC_ECLOSED: return "WSC_ECLOSED: connection closed";
    case WSC_EPROTO: return "WSC_EPROTO: protocol error";
    case WSC_EMSGSIZE: return "WSC_EMSGSIZE: message too big";
    case WSC_EIO: return "WSC_EIO: I/O error";
    case WSC_EDNS: return "WSC_EDNS: name resolution failed";
    case WSC_ECONNECT: return "WSC_ECONNECT: connection failed";
    case WSC_EHANDSHAKE: return "WSC_EHANDSHAKE: WebSocket handshake failed";
    case WSC_ETLS: return "WSC_ETLS: TLS error";
    case WSC_ENOTSUP: return "WSC_ENOTSUP: not supported";
    case WSC_EBUSY: return "WSC_EBUSY: busy";
    default: return "WSC_E?: unknown error";
    }
}
