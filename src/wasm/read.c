/* SPDX-License-Identifier: MIT */
/* read.c - wasm backend: taking queued messages out of JS (wsc_read, the
 * streaming reader), the read limit and wsc_close_read. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "wasm/conn.h"
#include "wasm/js.h"

/* The message buffer: allocated at MSG_MIN bytes, grown to fit a message,
 * and kept between messages up to MSG_KEEP bytes (a larger one is given
 * back by the next read). */
#define MSG_MIN 1024
#define MSG_KEEP (64 * 1024)

/* Why there is no message to read and will be none. */
static int closed_error(wsc_conn *c)
{
    wsc__wasm_on_close(c);
    int code = wsc_close_status(c);
    if (code < 0)
        return wsc__fail(WSC_ECLOSED, "the connection ended without a close frame (1006)");
    return wsc__fail(WSC_ECLOSED, "the connection is closed: %d %s%s%s", code, wsc_status_string(code),
                    *wsc_close_reason(c) ? ": " : "", wsc_close_reason(c));
}

/* Makes c->msg hold at least n bytes (its contents are not kept). Not
 * realloc, which costs 1.5 KB of wasm. */
static int msg_room(wsc_conn *c, size_t n)
{
    if (n <= c->msg_cap)
        return 0;
    uint8_t *p = malloc(n);
    if (!p)
        return wsc__fail(WSC_ENOMEM, "out of memory for a %zu-byte message", n - 1);
    free(c->msg);
    c->msg = p;
    c->msg_cap = n;
    return 0;
}

/* Moves the next message into c->msg, waiting up to d. */
static int next_message(wsc_conn *c, wsc_deadline d)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "NULL connection");
    if (c->close_read)
        return wsc__fail(WSC_EINVAL, "wsc_close_read was called: this connection is read in the background");
    c->reader_open = false;
    if (c->msg_cap > MSG_KEEP) { /* what the last read returned is done with */
        free(c->msg);
        c->msg = NULL;
        c->msg_cap = 0;
    }
    c->msg_len = 0;
    int r = msg_room(c, MSG_MIN);
    for (;;) {
        if (r < 0)
            return r;
        int type;
        size_t len;
        if (c->close_called) /* as natively, data still queued when we closed is discarded */
            r = wsc_js_state(c->id) == WSC_STATE_CLOSED ? -1 : 0;
        else
            r = wsc_js_next(c->id, c->msg, c->msg_cap - 1, &type, &len);
        if (r == 2) { /* too big for the buffer: make room, take it next time */
            r = msg_room(c, len + 1);
            continue;
        }
        if (r == 1 && type < 0)
            return wsc__fail(WSC_EMSGSIZE, "a message was longer than the read limit (closed with 1009)");
        if (r == 1) {
            c->msg[len] = '\0';
            c->msg_len = len;
            c->msg_type = (wsc_msg_type)type;
            return 0;
        }
        if (r < 0)
            return closed_error(c);
        r = wsc__wasm_wait(c, d);
    }
}

int wsc_read(wsc_conn *c, int timeout_ms, wsc_msg_type *type, const void **data, size_t *len)
{
    int r = next_message(c, wsc__deadline_in(timeout_ms));
    if (r < 0)
        return r;
    if (type)
        *type = c->msg_type;
    if (data)
        *data = c->msg;
    if (len)
        *len = c->msg_len;
    return 0;
}

int wsc_reader_next(wsc_conn *c, int timeout_ms, wsc_msg_type *type)
{
    int r = next_message(c, wsc__deadline_in(timeout_ms));
    if (r < 0)
        return r;
    c->reader_open = true;
    c->reader_pos = 0;
    if (type)
        *type = c->msg_type;
    return 0;
}

ptrdiff_t wsc_reader_read(wsc_conn *c, void *buf, size_t cap, int timeout_ms)
{
    (void)timeout_ms; /* the whole message is already here */
    if (!c || !buf || cap == 0)
        return wsc__fail(WSC_EINVAL, "wsc_reader_read needs a connection and a buffer of at least 1 byte");
    if (!c->reader_open)
        return wsc__fail(WSC_EINVAL, "no message to read: call wsc_reader_next first");
    size_t n = c->msg_len - c->reader_pos;
    if (n > cap)
        n = cap;
    memcpy(buf, c->msg + c->reader_pos, n);
    c->reader_pos += n;
    return (ptrdiff_t)n;
}

void wsc_set_read_limit(wsc_conn *c, int64_t limit)
{
    if (c)
        wsc_js_set_read_limit(c->id, limit < 0 ? -1.0 : (double)limit);
}

int wsc_close_read(wsc_conn *c)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "NULL connection");
    if (c->close_read)
        return wsc__fail(WSC_EINVAL, "wsc_close_read was already called");
    c->close_read = true;
    wsc_js_close_read(c->id);
    return 0;
}

size_t wsc_read_buffered(const wsc_conn *c)
{
    (void)c;
    return 0; /* the browser's queue is not counted: wsc_cork changes nothing here */
}
