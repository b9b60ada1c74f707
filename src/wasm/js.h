/* SPDX-License-Identifier: MIT */
/* js.h - the JavaScript functions (js/library_wsc.js) the wasm backend calls.
 * A socket lives in JS as a handle `id` (> 0) into a table of WebSocket
 * objects, each with a queue of the messages that arrived. */
#ifndef WSC_WASM_JS_H
#define WSC_WASM_JS_H

#include <stddef.h>
#include <stdint.h>

#include "wsc.h"

/* new WebSocket(url, protocols): n_protocols subprotocols. The URL must
 * follow the native parser's rules (src/proto/url.h: ws, wss, http or
 * https, a host, port 1-65535, no spaces or control characters); user info
 * and the fragment are dropped. signal (NULL: none) is a word JS adds 1 to
 * and notifies (Atomics) on each event, until wsc_js_free (what a Worker
 * thread of a -pthread build sleeps on). In a -pthread build all of these
 * but wsc_js_wait run on the main thread, the caller waiting. Returns the
 * handle (> 0), or -1 with why it refused written to why (NUL-terminated,
 * cut to cap). */
int wsc_js_open(const char *url, const char *const *protocols, int n_protocols,
                _Atomic uint32_t *signal, char *why, int cap);

/* The WebSocket's readyState: 0 connecting, 1 open, 2 closing, 3 closed. */
int wsc_js_state(int id);

/* 1 once the socket's open event came (it may have closed since), else 0. */
int wsc_js_opened(int id);

/* Suspends (Asyncify) until an event arrives on the socket or timeout_ms
 * passes (-1: no limit). 0 on an event, WSC_ETIMEDOUT, or WSC_ENOTSUP when
 * the program was not linked with -sASYNCIFY. */
int wsc_js_wait(int id, int timeout_ms);

/* Takes the head of the message queue: 1 with *type (1 text, 2 binary, -1
 * "a message over the read limit arrived here") and *len, its bytes copied
 * to dst (text as UTF-8); 2 with *type and *len when len > cap (nothing
 * taken: call again with room); 0 when the queue is empty, -1 when it is
 * and the socket is closed. One call per message: in a -pthread build each
 * is a round trip to the main thread. */
int wsc_js_next(int id, void *dst, size_t cap, int *type, size_t *len);

/* Sends a message (text as UTF-8 bytes). 0, WSC_EAGAIN while connecting,
 * or WSC_ECLOSED when not open. */
int wsc_js_send(int id, int type, const void *data, size_t len);

/* WebSocket.close(code, reason), code 0 meaning close(). Codes a browser
 * refuses are mapped (1001-1014 -> 4001-4014). Returns the code sent. */
int wsc_js_close(int id, int code, const char *reason);

/* The close event's code (-1 before it). */
int wsc_js_close_code(int id);

/* The strings wsc_js_string copies. */
enum { WSC_JS_CLOSE_REASON, WSC_JS_SUBPROTOCOL, WSC_JS_EXTENSIONS, WSC_JS_TARGET };

/* Copies one of the socket's strings (the close reason once closed, the
 * negotiated subprotocol and extensions once open, the request target the
 * browser sends: path and query) to buf, NUL-terminated and cut to cap, and
 * returns its whole length in bytes (without the NUL). */
int wsc_js_string(int id, int which, char *buf, int cap);

/* Messages larger than limit (< 0: none) close the socket with 1009 and
 * leave a marker in the queue. */
void wsc_js_set_read_limit(int id, double limit);

/* The idle timeout (idle_timeout_ms): from the open on (or from now, if it
 * opened already), ms > 0 of silence close the socket with 1001 (4001). */
void wsc_js_set_idle(int id, int ms);

/* From now on a data message closes the socket with 1008. */
void wsc_js_close_read(int id);

/* WebSocket.bufferedAmount: bytes queued by send() not yet sent. */
double wsc_js_buffered_amount(int id);

/* Makes fn(conn, user) (a C function pointer, 0: none) the socket's event
 * handler: called on open, error, close, each message, and when the send
 * queue drained; never while C is suspended in a blocking call. */
void wsc_js_set_handler(int id, wsc_event_fn fn, wsc_conn *conn, void *user);

/* Closes if needed and forgets the handle. */
void wsc_js_free(int id);

#endif
