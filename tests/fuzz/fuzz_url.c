/* SPDX-License-Identifier: MIT */
/* fuzz_url.c - libFuzzer target for wsc__url_parse (src/proto/url.c) on
 * arbitrary bytes (cut at the first NUL). Invariants checked:
 *   - the result is 0 or WSC_EINVAL (with a detail and *u zeroed), or
 *     WSC_ENOMEM;
 *   - a parsed URL has a non-empty host and Host header without spaces or
 *     control characters, a target that starts with '/' and holds no '#',
 *     a port in 1-65535 (0 and an absolute socket path shorter than
 *     sun_path for ws+unix), and tls exactly for wss, https and wss+unix;
 *   - wsc__url_free leaves nothing behind. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "wsc.h"
#include "proto/url.h"
#include "fuzz_common.h"

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    wsc_url u;
    char err[300];
    int r = wsc__url_parse(s, &u, err, sizeof err);
    ASSERT(r == 0 || r == WSC_EINVAL || r == WSC_ENOMEM);
    if (r == WSC_EINVAL) {
        static const wsc_url zero;
        ASSERT(err[0]);
        ASSERT(memcmp(&u, &zero, sizeof u) == 0);
    }
    if (r == 0) {
        size_t scheme = strcspn(s, ":");
        bool tls = (scheme == 3 && strncasecmp(s, "wss", 3) == 0) ||
                   (scheme == 5 && strncasecmp(s, "https", 5) == 0) ||
                   (scheme == 8 && strncasecmp(s, "wss+unix", 8) == 0);
        ASSERT(u.tls == tls);
        ASSERT(u.host && u.host[0] && printable(u.host));
        ASSERT(u.host_header && u.host_header[0] && printable(u.host_header));
        ASSERT(u.target && u.target[0] == '/' && !strchr(u.target, '#') && printable(u.target));
        if (u.unix_path) {
            ASSERT(u.port == 0 && u.unix_path[0] == '/');
            ASSERT(strlen(u.unix_path) < sizeof ((struct sockaddr_un *)0)->sun_path);
        } else {
            ASSERT(u.port >= 1 && u.port <= 65535);
        }
        wsc__url_free(&u);
        ASSERT(!u.host && !u.target && !u.host_header && !u.unix_path && !u.user && !u.password);
    }
    /* The same bytes as a redirect's Location from a few bases: what comes
     * out keeps the Location whole and starts with a scheme. */
    static const char *const bases[] = {"ws://h:81/a/b?q=1", "wss://[::1]/", "ws://h"};
    for (size_t i = 0; i < 3; i++) {
        char *out = NULL;
        r = wsc__url_resolve(bases[i], s, &out, err, sizeof err);
        ASSERT(r == 0 || r == WSC_EINVAL || r == WSC_ENOMEM);
        ASSERT((r == 0) == (out != NULL));
        if (out) {
            size_t n = strlen(out), len = strlen(s);
            ASSERT(n >= len && strcmp(out + n - len, s) == 0);
            ASSERT(strstr(out, ":") != NULL);
        }
        free(out);
    }
    free(s);
    return 0;
}
