/* SPDX-License-Identifier: MIT */
/* error.h - error codes to names, and the thread-local detail of the last failure. */
#ifndef WSC_ERROR_H
#define WSC_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/* Records a detail sentence (printf format) for wsc_last_error() on this
 * thread and returns `code`, so callers can write
 *     return wsc__fail(WSC_EINVAL, "port %d out of range", port);          */
int wsc__fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Gives the last failure another code: returns `code` with the detail
 * extended by " " and the formatted text (which must not point into the
 * detail), e.g. "recv: Connection reset by peer" + "while reading the
 * upgrade request". */
int wsc__fail_append(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* vsnprintf and snprintf for code both backends share. On wasm they use
 * musl's integer-only printf (no %f here), which saves about 4 KB. */
int wsc__vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
int wsc__snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears the detail (called on success paths that should not leave stale text). */
void wsc__clear_error(void);

#endif
