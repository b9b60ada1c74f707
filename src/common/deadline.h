/* SPDX-License-Identifier: MIT */
/* deadline.h - turning timeout_ms arguments into absolute deadlines. */
#ifndef WSC_DEADLINE_H
#define WSC_DEADLINE_H

#include <stdint.h>
#include <time.h>

/* A deadline: WSC_FOREVER, WSC_NOWAIT, or a CLOCK_MONOTONIC time in ms (> 0). */
typedef int64_t wsc_deadline;
#define WSC_FOREVER ((wsc_deadline)-1)
#define WSC_NOWAIT ((wsc_deadline)0)

int64_t wsc__now_ms(void);

/* timeout_ms (-1, 0, > 0) to a deadline. */
wsc_deadline wsc__deadline_in(int timeout_ms);

/* Milliseconds left for poll(): -1 forever, 0 when passed or WSC_NOWAIT. */
int wsc__deadline_left(wsc_deadline d);

/* The error for a deadline that passed: WSC_EAGAIN for WSC_NOWAIT, else
 * WSC_ETIMEDOUT. */
int wsc__deadline_error(wsc_deadline d);

/* A timed deadline as an absolute CLOCK_MONOTONIC time, for
 * pthread_cond_timedwait on a condition variable using that clock. */
struct timespec wsc__deadline_timespec(wsc_deadline d);

/* The earlier of two deadlines. */
wsc_deadline wsc__deadline_min(wsc_deadline a, wsc_deadline b);

#endif
