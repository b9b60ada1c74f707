/* SPDX-License-Identifier: MIT */
/* closecode.c - validity of close codes and reasons, for both backends. */
#include <string.h>

#include "wsc.h"
#include "common/closecode.h"
#include "common/error.h"
#include "common/utf8.h"

bool wsc__close_code_valid(int code)
{
    if (code >= 1000 && code <= 1003)
        return true;
    if (code >= 1007 && code <= 1014)
        return true;
    return code >= 3000 && code <= 4999;
}

int wsc__close_args_check(int code, const char *reason)
{
    size_t rlen = reason ? strlen(reason) : 0;
    if (code == 0 && rlen != 0)
        return wsc__fail(WSC_EINVAL, "a close reason needs a close code: code 0 sends no code and so "
                        "no reason (use 1000 for a normal closure)");
    if (code != 0 && !wsc__close_code_valid(code))
        return wsc__fail(WSC_EINVAL, "close code %d cannot be sent (use 1000-1003, 1007-1014 or 3000-4999)", code);
    if (rlen > 123)
        return wsc__fail(WSC_EINVAL, "close reason is %zu bytes, at most 123 fit", rlen);
    if (wsc__utf8_feed(WSC_UTF8_ACCEPT, reason, rlen) != WSC_UTF8_ACCEPT)
        return wsc__fail(WSC_EINVAL, "close reason is not valid UTF-8");
    return 0;
}
