/* SPDX-License-Identifier: MIT */
/* conn.c - wasm backend: dialing, state, closing and freeing, and the calls
 * the browser cannot support. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __EMSCRIPTEN_PTHREADS__
#include <math.h>
#include <emscripten/threading.h>
#endif

#include "common/closecode.h"
#include "common/error.h"
#include "common/group.h"
#include "wasm/conn.h"
#include "wasm/js.h"

#define CLOSE_WAIT_MS 10000

/* A Worker thread of a -pthread build sleeps on c->events; any other
 * thread (the browser's main thread) suspends through JS with Asyncify. */
int wsc__wasm_sleep(wsc_conn *c, int ms)
{
#ifdef __EMSCRIPTEN_PTHREADS__
    if (!emscripten_is_main_browser_thread()) {
        wsc_deadline d = wsc__deadline_in(ms);
        uint32_t seen = c->seen;
        while (atomic_load(&c->events) == seen) {
            int left = wsc__deadline_left(d);
            if (d != WSC_FOREVER && left == 0)
                return WSC_ETIMEDOUT;
            emscripten_futex_wait(&c->events, seen, left < 0 ? INFINITY : (double)left);
        }
        c->seen = atomic_load(&c->events);
        return 0;
    }
#endif
    return wsc_js_wait(c->id, ms);
}

int wsc__wasm_wait(wsc_conn *c, wsc_deadline d)
{
    if (d == WSC_NOWAIT)
        return WSC_EAGAIN;
    int left = wsc__deadline_left(d);
    if (d != WSC_FOREVER && left == 0)
        return WSC_ETIMEDOUT;
    int r = wsc__wasm_sleep(c, left);
    if (r == WSC_ENOTSUP)
        return wsc__fail(WSC_ENOTSUP, "blocking calls on the browser's main thread need -sASYNCIFY, or "
                                     "-pthread -sPROXY_TO_PTHREAD (see `make wasm-flags`); without "
                                     "them use timeout 0 from a frame loop or an event handler");
    return r;
}

int wsc_dial(const char *url, const wsc_dial_options *opts, wsc_conn **out, wsc_response *resp)
{
    static const wsc_dial_options defaults;
    const wsc_dial_options *o = opts ? opts : &defaults;
    if (resp)
        memset(resp, 0, sizeof *resp);
    if (!url || !out)
        return wsc__fail(WSC_EINVAL, "wsc_dial needs a URL and somewhere to put the connection");
    *out = NULL;
    for (size_t i = 0; i < o->n_subprotocols; i++)
        if (!o->subprotocols[i] || !*o->subprotocols[i] || strpbrk(o->subprotocols[i], " ,\t\r\n"))
            return wsc__fail(WSC_EINVAL, "subprotocol %zu is empty or has a space, comma or CR/LF", i);
    wsc_conn *c = calloc(1, sizeof *c);
    if (!c)
        return wsc__fail(WSC_ENOMEM, "out of memory");
#ifdef __EMSCRIPTEN_PTHREADS__
    _Atomic uint32_t *signal = &c->events; /* what a Worker thread sleeps on */
#else
    _Atomic uint32_t *signal = NULL; /* one thread: no Atomics on each event */
#endif
    /* The browser parses the URL (js/library_wsc.js applies the native
     * parser's rules on top): that costs 2 KB less wasm than src/proto/url.c. */
    char why[300];
    c->id = wsc_js_open(url, o->subprotocols, (int)o->n_subprotocols, signal, why, sizeof why);
    if (c->id < 0) {
        free(c);
        return wsc__fail(WSC_EINVAL, "%s", why);
    }
    wsc_set_read_limit(c, 32768);
    if (o->idle_timeout_ms > 0)
        wsc_js_set_idle(c->id, o->idle_timeout_ms);
    c->on_close = o->on_close;
    c->user = o->user;
    if (o->nonblocking) {
        *out = c;
        return 0;
    }
    int timeout = o->handshake_timeout_ms ? o->handshake_timeout_ms : 30000;
    wsc_deadline d = wsc__deadline_in(timeout);
    int r = 0;
    while (r == 0 && wsc_js_state(c->id) == WSC_STATE_CONNECTING)
        r = wsc__wasm_wait(c, d);
    /* A Worker thread may look after the server already closed again. */
    if (r == 0 && !wsc_js_opened(c->id))
        r = wsc__fail(WSC_ECONNECT, "the WebSocket connection to %s failed (the browser gives no "
                                   "detail: see its console or the server's log)", url);
    else if (r == WSC_ETIMEDOUT)
        r = wsc__fail(WSC_ETIMEDOUT, "opening the WebSocket to %s timed out", url);
    if (r < 0) {
        wsc_conn_free(c);
        return r;
    }
    if (resp)
        resp->status = 101;
    wsc__clear_error();
    *out = c;
    return 0;
}

void wsc_response_free(wsc_response *resp)
{
    if (resp)
        memset(resp, 0, sizeof *resp);
}

wsc_state wsc_get_state(wsc_conn *c)
{
    return c ? (wsc_state)wsc_js_state(c->id) : WSC_STATE_CLOSED;
}

const char *wsc_subprotocol(const wsc_conn *c)
{
    if (!c)
        return "";
    if (!c->subprotocol[0] && wsc_js_state(c->id) != WSC_STATE_CONNECTING)
        wsc_js_string(c->id, WSC_JS_SUBPROTOCOL, (char *)c->subprotocol, sizeof c->subprotocol);
    return c->subprotocol;
}

bool wsc_tls_did_resume(const wsc_conn *c)
{
    (void)c;
    return false;
}

const char *wsc_extensions(const wsc_conn *c)
{
    if (!c)
        return "";
    if (!c->extensions[0] && wsc_js_state(c->id) != WSC_STATE_CONNECTING)
        wsc_js_string(c->id, WSC_JS_EXTENSIONS, (char *)c->extensions, sizeof c->extensions);
    return c->extensions;
}

int wsc_tls_server_new(const wsc_tls_options *opts, wsc_tls_server **out)
{
    (void)opts;
    if (out)
        *out = NULL;
    return wsc__fail(WSC_ENOTSUP, "wsc_tls_server_new: a browser cannot accept connections");
}

void wsc_tls_server_free(wsc_tls_server *s)
{
    (void)s;
}

const char *wsc_request_target(const wsc_conn *c)
{
    if (!c)
        return "";
    if (!c->target) { /* copied from JS on first use */
        size_t n = (size_t)wsc_js_string(c->id, WSC_JS_TARGET, NULL, 0) + 1;
        char *t = malloc(n);
        if (!t)
            return "";
        wsc_js_string(c->id, WSC_JS_TARGET, t, (int)n);
        ((wsc_conn *)c)->target = t;
    }
    return c->target;
}

/* Starts WebSocket.close(code, reason) without waiting. */
int wsc_close_start(wsc_conn *c, int code, const char *reason)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "NULL connection");
    int r = wsc__close_args_check(code, reason);
    if (r < 0)
        return r;
    if (c->close_called || wsc_js_state(c->id) == WSC_STATE_CLOSED)
        return wsc__fail(WSC_ECLOSED, "the connection was already closed");
    c->close_called = true;
    wsc_js_close(c->id, code, reason ? reason : "");
    return 0;
}

int wsc_close(wsc_conn *c, int code, const char *reason)
{
    int r = wsc_close_start(c, code, reason);
    if (r < 0)
        return r;
    /* Wait for the close event; without Asyncify the close goes on alone. */
    wsc_deadline d = wsc__deadline_in(CLOSE_WAIT_MS);
    while (r == 0 && wsc_js_state(c->id) != WSC_STATE_CLOSED)
        r = wsc__wasm_wait(c, d);
    if (r == WSC_ENOTSUP) {
        wsc__clear_error();
        return 0;
    }
    if (r < 0)
        return wsc__fail(WSC_ETIMEDOUT, "the close handshake did not finish within %d s", CLOSE_WAIT_MS / 1000);
    if (wsc_js_close_code(c->id) == WSC_STATUS_ABNORMAL_CLOSURE)
        return wsc__fail(WSC_ECLOSED, "the connection ended before the peer's close frame arrived");
    wsc__wasm_on_close(c);
    wsc__clear_error();
    return 0;
}

void wsc__wasm_on_close(wsc_conn *c)
{
    int code = wsc_close_status(c);
    if (!c->on_close || c->on_close_called || code < 0)
        return;
    c->on_close_called = true;
    const char *reason = wsc_close_reason(c);
    c->on_close(c->user, code, reason, strlen(reason));
}

int wsc_close_now(wsc_conn *c)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "NULL connection");
    if (c->close_called || wsc_js_state(c->id) == WSC_STATE_CLOSED)
        return wsc__fail(WSC_ECLOSED, "the connection was already closed");
    c->close_called = true;
    wsc_js_close(c->id, WSC_STATUS_GOING_AWAY, "");
    return 0;
}

int wsc_conn_error(wsc_conn *c)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "NULL connection");
    if (wsc_js_state(c->id) != WSC_STATE_CLOSED) {
        wsc__clear_error();
        return 0;
    }
    int code = wsc_js_close_code(c->id);
    if (code == WSC_STATUS_ABNORMAL_CLOSURE || code < 0)
        return wsc__fail(WSC_ECLOSED, "the connection ended without a close frame (1006), or never opened");
    return wsc__fail(WSC_ECLOSED, "closed with %d: %s", code, wsc_close_reason(c));
}

int wsc_close_status(const wsc_conn *c)
{
    if (!c)
        return -1;
    int code = wsc_js_close_code(c->id);
    return code == WSC_STATUS_ABNORMAL_CLOSURE ? -1 : code;
}

const char *wsc_close_reason(const wsc_conn *c)
{
    if (!c)
        return "";
    if (wsc_js_close_code(c->id) >= 0)
        wsc_js_string(c->id, WSC_JS_CLOSE_REASON, (char *)c->reason, sizeof c->reason);
    return c->reason;
}

wsc_group **wsc__conn_group(wsc_conn *c)
{
    return &c->group;
}

int wsc__sleep_ms(int ms)
{
#ifdef __EMSCRIPTEN_PTHREADS__
    if (!emscripten_is_main_browser_thread()) {
        emscripten_thread_sleep(ms);
        return 0;
    }
#endif
    (void)ms;
    return WSC_ENOTSUP;
}

void wsc_conn_free(wsc_conn *c)
{
    if (!c)
        return;
    wsc__group_leave(c);
    if (c->id > 0)
        wsc_js_free(c->id);
    free(c->target);
    free(c->msg);
    free(c->wbuf);
    free(c);
}

/* ---- What a browser cannot do ------------------------------------------- */

int wsc_dial_fd(int fd, const char *url, const wsc_dial_options *opts, wsc_conn **out,
                wsc_response *resp)
{
    (void)fd, (void)url, (void)opts;
    if (out)
        *out = NULL;
    if (resp)
        memset(resp, 0, sizeof *resp);
    return wsc__fail(WSC_ENOTSUP, "wsc_dial_fd needs sockets: not available in the browser");
}

int wsc_accept(int fd, const wsc_accept_options *opts, wsc_conn **out)
{
    return wsc_accept_with(fd, NULL, 0, opts, out);
}

int wsc_accept_with(int fd, const void *head, size_t head_len, const wsc_accept_options *opts,
                    wsc_conn **out)
{
    (void)fd, (void)head, (void)head_len, (void)opts;
    if (out)
        *out = NULL;
    return wsc__fail(WSC_ENOTSUP, "a browser cannot accept WebSocket connections");
}

int wsc_set_write_compression(wsc_conn *c, bool enabled)
{
    (void)enabled;
    return c ? 0 : wsc__fail(WSC_EINVAL, "NULL connection"); /* the browser decides */
}

int wsc_next_timeout(const wsc_conn *c)
{
    (void)c;
    return -1; /* the browser's timer closes an idle socket */
}

/* No accept hook ever runs in a browser, so there is never a reply. */
int wsc_reply_subprotocol(wsc_reply *r, const char *name)
{
    (void)r, (void)name;
    return wsc__fail(WSC_EINVAL, "wsc_reply_* may only be called from the accept hook");
}

int wsc_reply_header(wsc_reply *r, const char *name, const char *value)
{
    (void)name, (void)value;
    return wsc_reply_subprotocol(r, NULL);
}

int wsc_reply_body(wsc_reply *r, const char *content_type, const void *body, size_t len)
{
    (void)content_type, (void)body, (void)len;
    return wsc_reply_subprotocol(r, NULL);
}

const char *wsc_handshake_header(const wsc_conn *c, const char *name)
{
    (void)c, (void)name;
    return NULL;
}

int wsc_ping(wsc_conn *c, int timeout_ms)
{
    (void)timeout_ms;
    return c ? 0 : wsc__fail(WSC_EINVAL, "NULL connection");
}

int wsc_send_ping(wsc_conn *c, const void *payload, size_t len, int timeout_ms)
{
    (void)c, (void)payload, (void)len, (void)timeout_ms;
    return wsc__fail(WSC_ENOTSUP, "browsers cannot send pings");
}

int wsc_send_pong(wsc_conn *c, const void *payload, size_t len, int timeout_ms)
{
    (void)c, (void)payload, (void)len, (void)timeout_ms;
    return wsc__fail(WSC_ENOTSUP, "browsers cannot send pongs");
}

int wsc_fd(const wsc_conn *c)
{
    (void)c;
    return -1;
}

int wsc_poll_events(const wsc_conn *c)
{
    (void)c;
    return 0;
}

int wsc_set_event_handler(wsc_conn *c, wsc_event_fn fn, void *user)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "wsc_set_event_handler: NULL connection");
#ifdef __EMSCRIPTEN_PTHREADS__
    /* The handler would run on the main thread, beside this one. */
    if (!emscripten_is_main_browser_thread())
        return wsc__fail(WSC_ENOTSUP, "wsc_set_event_handler works on the browser's main thread only; "
                                     "a Worker thread blocks in wsc_read instead");
#endif
    wsc_js_set_handler(c->id, fn, c, user);
    return 0;
}

size_t wsc_buffered_amount(const wsc_conn *c)
{
    return c ? (size_t)wsc_js_buffered_amount(c->id) : 0;
}

/* Each write is a WebSocket.send already; the browser gathers its queue. */
int wsc_cork(wsc_conn *c)
{
    if (!c)
        return wsc__fail(WSC_EINVAL, "wsc_cork: NULL connection");
    if (wsc_js_state(c->id) >= WSC_STATE_CLOSING)
        return wsc__fail(WSC_ECLOSED, "the connection is closed (or closing)");
    return 0;
}

/* The browser has no event for its queue draining: look every few ms. */
#define DRAIN_POLL_MS 4

int wsc_flush(wsc_conn *c, int timeout_ms)
{
    if (!c)
        return WSC_EINVAL;
    wsc_deadline d = wsc__deadline_in(timeout_ms);
    while (wsc_js_buffered_amount(c->id) > 0 && wsc_js_state(c->id) == WSC_STATE_OPEN) {
        if (d == WSC_NOWAIT)
            return wsc__fail(WSC_EAGAIN, "the browser still holds %zu bytes to send",
                            wsc_buffered_amount(c));
        int left = wsc__deadline_left(d);
        if (d != WSC_FOREVER && left == 0)
            return wsc__fail(WSC_ETIMEDOUT, "the browser still holds %zu bytes to send",
                            wsc_buffered_amount(c));
        int r = wsc__wasm_sleep(c, left < 0 || left > DRAIN_POLL_MS ? DRAIN_POLL_MS : left);
        if (r == WSC_ENOTSUP)
            return wsc__fail(WSC_ENOTSUP, "waiting for the send queue on the browser's main thread "
                                         "needs -sASYNCIFY (see `make wasm-flags`); without it "
                                         "call with timeout 0");
    }
    return 0;
}

bool wsc_want_write(const wsc_conn *c)
{
    (void)c;
    return false;
}

int wsc_stream_fd(wsc_conn *c, wsc_msg_type type, int *fd)
{
    (void)c, (void)type, (void)fd;
    return wsc__fail(WSC_ENOTSUP, "wsc_stream_fd needs sockets: not available in the browser");
}

int wsc_stream_fd_error(wsc_conn *c)
{
    (void)c;
    return wsc__fail(WSC_ENOTSUP, "wsc_stream_fd needs sockets: not available in the browser");
}
