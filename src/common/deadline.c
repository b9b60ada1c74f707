/* SPDX-License-Identifier: MIT */
/* deadline.c - monotonic-clock deadlines for the timeout_ms arguments. */
#include <time.h>
#ifdef __EMSCRIPTEN__
#include <emscripten/emscripten.h>
#endif

#include "wsc.h"
#include "common/deadline.h"

int64_t wsc__now_ms(void)
{
#ifdef __EMSCRIPTEN__
    return (int64_t)emscripten_get_now() + 1; /* performance.now(): less JS than clock_gettime */
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
#endif
}

wsc_deadline wsc__deadline_in(int timeout_ms)
{
    if (timeout_ms < 0)
        return WSC_FOREVER;
    if (timeout_ms == 0)
        return WSC_NOWAIT;
    return wsc__now_ms() + timeout_ms;
}

int wsc__deadline_left(wsc_deadline d)
{
    if (d == WSC_FOREVER)
        return -1;
    if (d == WSC_NOWAIT)
        return 0;
    int64_t left = d - wsc__now_ms();
    if (left <= 0)
        return 0;
    return left > 0x7FFFFFFF ? 0x7FFFFFFF : (int)left;
}

struct timespec wsc__deadline_timespec(wsc_deadline d)
{
    int64_t ms = d - 1; /* undo the +1 of wsc__now_ms */
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    return ts;
}

int wsc__deadline_error(wsc_deadline d)
{
    return d == WSC_NOWAIT ? WSC_EAGAIN : WSC_ETIMEDOUT;
}

wsc_deadline wsc__deadline_min(wsc_deadline a, wsc_deadline b)
{
    if (a == WSC_FOREVER)
        return b;
    if (b == WSC_FOREVER)
        return a;
    return a < b ? a : b;
}
