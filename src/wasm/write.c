/* SPDX-License-Identifier: MIT */
/* write.c - wasm backend: sending messages. Browsers send whole messages
 * only, so the writer API collects the pieces and sends at the end. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "wasm/conn.h"
#include "wasm/js.h"

/* Sends, waiting up to d while the socket is still connecting (a
 * nonblocking dial); once open the browser buffers: no blocking. */
static int send_message(wsc_conn *c, wsc_msg_type type, const void *data, size_t len, wsc_deadline d)
{
    for (;;) {
        int r = wsc_js_send(c->id, (int)type, data, len);
        if (r == 0)
            return 0;
        if (r != WSC_EAGAIN)
            return wsc__fail(r, "the WebSocket is not open (state %d)", wsc_js_state(c->id));
        r = wsc__wasm_wait(c, d);
        if (r < 0)
            return r;
    }
}

static int check(wsc_conn *c, wsc_msg_type type)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "NULL connection");
    if (type != WSC_TEXT && type != WSC_BINARY)
        return wsc__fail(WSC_EINVAL, "message type %d is neither WSC_TEXT nor WSC_BINARY", type);
    if (c->writing)
        return wsc__fail(WSC_EBUSY, "a message is being written with the writer API");
    return 0;
}

int wsc_write(wsc_conn *c, wsc_msg_type type, const void *data, size_t len, int timeout_ms)
{
    int r = check(c, type);
    if (r < 0)
        return r;
    if (len && !data)
        return wsc__fail(WSC_EINVAL, "wsc_write: NULL data");
    return send_message(c, type, data, len, wsc__deadline_in(timeout_ms));
}

int wsc_writer_begin(wsc_conn *c, wsc_msg_type type, int timeout_ms)
{
    int r = check(c, type);
    wsc_deadline d = wsc__deadline_in(timeout_ms);
    while (r == 0 && wsc_js_state(c->id) == WSC_STATE_CONNECTING)
        r = wsc__wasm_wait(c, d);
    if (r < 0)
        return r;
    if (wsc_js_state(c->id) != WSC_STATE_OPEN)
        return wsc__fail(WSC_ECLOSED, "the WebSocket is not open");
    c->writing = true;
    c->wtype = type;
    c->wlen = 0;
    return 0;
}

int wsc_writer_write(wsc_conn *c, const void *data, size_t len)
{
    if (!c || !c->writing || (len && !data))
        return wsc__fail(WSC_EINVAL, "wsc_writer_write without wsc_writer_begin");
    if (c->wlen + len > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 1024;
        while (cap < c->wlen + len)
            cap *= 2;
        uint8_t *p = malloc(cap); /* not realloc, which costs 1.5 KB of wasm */
        if (!p)
            return wsc__fail(WSC_ENOMEM, "out of memory for the message being written");
        if (c->wlen)
            memcpy(p, c->wbuf, c->wlen);
        free(c->wbuf);
        c->wbuf = p;
        c->wcap = cap;
    }
    if (len)
        memcpy(c->wbuf + c->wlen, data, len);
    c->wlen += len;
    return 0;
}

int wsc_writer_end(wsc_conn *c)
{
    if (!c || !c->writing)
        return wsc__fail(WSC_EINVAL, "wsc_writer_end without wsc_writer_begin");
    c->writing = false;
    return send_message(c, c->wtype, c->wbuf, c->wlen, WSC_NOWAIT);
}

/* ---- prepared messages: a copy, written as wsc_write does ---------------- */

struct wsc_prepared {
    wsc_msg_type type;
    size_t len;
    unsigned char data[];
};

int wsc_prepared_new(wsc_msg_type type, const void *data, size_t len, wsc_prepared **out)
{
    if (!out || (len && !data) || (type != WSC_TEXT && type != WSC_BINARY))
        return wsc__fail(WSC_EINVAL, "wsc_prepared_new needs a type, the data and somewhere to "
                         "put the message");
    wsc_prepared *p = malloc(sizeof *p + len);
    *out = p;
    if (!p)
        return wsc__fail(WSC_ENOMEM, "out of memory");
    p->type = type;
    p->len = len;
    if (len)
        memcpy(p->data, data, len);
    return 0;
}

int wsc_write_prepared(wsc_conn *c, wsc_prepared *p, int timeout_ms)
{
    if (!p)
        return wsc__fail(WSC_EINVAL, "wsc_write_prepared: NULL message");
    return wsc_write(c, p->type, p->data, p->len, timeout_ms);
}

void wsc_prepared_free(wsc_prepared *p)
{
    free(p);
}
