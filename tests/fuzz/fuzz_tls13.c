/* SPDX-License-Identifier: MIT */
/* fuzz_tls13.c - libFuzzer target for the TLS 1.3 record layer we take over
 * from OpenSSL (src/net/tls13.c), in memory: a peer with the mirrored keys
 * seals what the input says, raw bytes go in between, and our end opens the
 * stream record by record as tls.c does. Records the peer sealed as
 * application data must come out exactly; anything else may fail, but only
 * with a reason and an alert, and nothing after a failure is read.
 *
 * Input: one mode byte (bits 0-1 the suite: 0x1301 + n % 3; bit 2 our role),
 * then operations: a kind byte and a length byte, then that many bytes:
 *   0 raw bytes into the stream
 *   1 a record the peer seals: content type = the first byte, content the rest
 *   2 application data the peer seals (checked on our side)
 *   3 the peer's KeyUpdate (no data; one asking for ours is a type 1 record)
 * Data is checked up to the first raw bytes or type 1 record (after which
 * the peer's content types and keys are no longer known). */
#include <stdbool.h>
#include <string.h>

#include "fuzz_common.h"
#include "net/tls13.h"

#define STREAM_MAX (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int suite = 0x1301 + data[0] % 3;
    bool server = data[0] & 4;
    wsc_tls13 ours = {0}, peer = {0};
    size_t slen = suite == 0x1302 ? 48 : 32;
    for (size_t i = 0; i < slen; i++) {
        ours.rd.secret[i] = peer.wr.secret[i] = (uint8_t)i;
        ours.wr.secret[i] = peer.rd.secret[i] = (uint8_t)(100 + i);
    }
    ASSERT(wsc__tls13_init(&ours, suite, server) == 0);
    ASSERT(wsc__tls13_init(&peer, suite, !server) == 0);

    static uint8_t stream[STREAM_MAX + 512], want[STREAM_MAX];
    size_t len = 0, want_len = 0;
    bool untracked = false; /* after raw bytes or a type 1 record */
    for (size_t i = 1; i + 2 <= size && len < STREAM_MAX;) {
        int kind = data[i] % 4;
        size_t n = data[i + 1];
        i += 2;
        n = n < size - i ? n : size - i;
        const uint8_t *p = data + i;
        i += n;
        struct iovec v = {(void *)p, n};
        if (kind == 0) {
            memcpy(stream + len, p, n);
            len += n;
            untracked = untracked || n > 0;
        } else if (kind == 1 && n > 0) {
            v.iov_base = (void *)(p + 1);
            untracked = true;
            len += wsc__tls13_seal(&peer, p[0], &v, 1, 0, n - 1, stream + len);
        } else if (kind == 2) {
            len += wsc__tls13_seal(&peer, WSC_TLS13_APP_DATA, &v, 1, 0, n, stream + len);
            if (!untracked) {
                memcpy(want + want_len, p, n);
                want_len += n;
            }
        } else if (kind == 3) {
            len += wsc__tls13_seal_key_update(&peer, stream + len);
        }
    }

    /* Our end: whole records in order, as tls.c's open_some. */
    static uint8_t out[WSC_TLS13_RECORD_MAX];
    size_t pos = 0, got = 0;
    bool failed = false;
    while (pos < len) {
        ptrdiff_t rl = wsc__tls13_record_len(&ours, stream + pos, len - pos);
        if (rl < 0) {
            failed = true;
            break;
        }
        if (rl == 0 || (size_t)rl > len - pos)
            break;
        size_t k;
        int kind = wsc__tls13_open(&ours, stream + pos, (size_t)rl, out, &k);
        pos += (size_t)rl;
        if (kind < 0) {
            failed = true;
            break;
        }
        if (kind == WSC_TLS13_GOT_DATA && !untracked) {
            ASSERT(got + k <= want_len && memcmp(out, want + got, k) == 0);
            got += k;
        }
        if (kind == WSC_TLS13_GOT_CLOSE)
            break;
        if (ours.update_due) {
            uint8_t ku[WSC_TLS13_KEY_UPDATE_LEN];
            ASSERT(wsc__tls13_seal_key_update(&ours, ku) == sizeof ku && !ours.update_due);
        }
    }
    if (!failed && !untracked && pos == len)
        ASSERT(got == want_len);
    if (failed)
        ASSERT(ours.why != NULL && ours.alert != 0);
    wsc__tls13_clear(&ours);
    wsc__tls13_clear(&peer);
    return 0;
}
