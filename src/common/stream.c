/* SPDX-License-Identifier: MIT */
/* stream.c - byte streams over messages (Go's NetConn), built only on the
 * public API so both backends share it. */
#include <stdlib.h>

#include "wsc.h"
#include "common/error.h"

struct wsc_stream {
    wsc_conn *c;
    wsc_msg_type type;
    bool in_msg;   /* a message is being read */
    bool eof;
};

int wsc_stream_open(wsc_conn *c, wsc_msg_type type, wsc_stream **out)
{
    if (!c || !out || (type != WSC_TEXT && type != WSC_BINARY))
        return wsc__fail(WSC_EINVAL, "wsc_stream_open needs a connection, a message type and an out pointer");
    wsc_stream *s = calloc(1, sizeof *s);
    if (!s)
        return wsc__fail(WSC_ENOMEM, "out of memory");
    s->c = c;
    s->type = type;
    *out = s;
    return 0;
}

/* A read error, or end of stream when the peer closed normally. */
static ptrdiff_t stream_error(wsc_stream *s, ptrdiff_t r)
{
    int code = wsc_close_status(s->c);
    if (r == WSC_ECLOSED && (code == WSC_STATUS_NORMAL_CLOSURE || code == WSC_STATUS_GOING_AWAY)) {
        s->eof = true;
        return 0;
    }
    return r;
}

ptrdiff_t wsc_stream_read(wsc_stream *s, void *buf, size_t cap, int timeout_ms)
{
    if (!s)
        return wsc__fail(WSC_EINVAL, "NULL stream");
    for (;;) {
        if (s->eof)
            return 0;
        if (!s->in_msg) {
            wsc_msg_type type;
            int r = wsc_reader_next(s->c, timeout_ms, &type);
            if (r < 0)
                return stream_error(s, r);
            if (type != s->type) {
                wsc_close(s->c, WSC_STATUS_UNSUPPORTED_DATA, "unexpected message type");
                return wsc__fail(WSC_EPROTO, "expected %s messages, got %s (closed with 1003)",
                                wsc_msg_type_string(s->type), wsc_msg_type_string(type));
            }
            s->in_msg = true;
        }
        ptrdiff_t n = wsc_reader_read(s->c, buf, cap, timeout_ms);
        if (n > 0)
            return n;
        if (n < 0)
            return stream_error(s, n);
        s->in_msg = false;
    }
}

ptrdiff_t wsc_stream_write(wsc_stream *s, const void *buf, size_t len, int timeout_ms)
{
    if (!s)
        return wsc__fail(WSC_EINVAL, "NULL stream");
    int r = wsc_write(s->c, s->type, buf, len, timeout_ms);
    return r < 0 ? r : (ptrdiff_t)len;
}

int wsc_stream_close(wsc_stream *s)
{
    if (!s)
        return 0;
    int r = wsc_close(s->c, WSC_STATUS_NORMAL_CLOSURE, "");
    free(s);
    return r == WSC_ECLOSED ? 0 : r;
}
