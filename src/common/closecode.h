/* SPDX-License-Identifier: MIT */
/* closecode.h - which close codes and reasons may be sent or received. */
#ifndef WSC_CLOSECODE_H
#define WSC_CLOSECODE_H

#include <stdbool.h>

/* Whether `code` may appear in a close frame on the wire. */
bool wsc__close_code_valid(int code);

/* Checks the arguments of wsc_close: 0, or WSC_EINVAL with a detail (code 0
 * only with an empty reason; reason at most 123 bytes of UTF-8). */
int wsc__close_args_check(int code, const char *reason);

#endif
