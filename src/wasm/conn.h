/* SPDX-License-Identifier: MIT */
/* conn.h - the wasm connection: a handle to a JS WebSocket plus the C-side
 * buffers the API hands out. Used by one thread at a time: the browser's
 * main thread, or in a -pthread build a Worker thread whose calls into JS
 * run on the main thread. */
#ifndef WSC_WASM_CONN_H
#define WSC_WASM_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "wsc.h"
#include "common/deadline.h"

struct wsc_conn {
    int id;                 /* handle into the JS socket table */
    wsc_group *group;       /* see common/group.h */
    char *target;           /* the URL's path and query, copied from JS
                             * by the first wsc_request_target */
    char subprotocol[128];  /* filled once open */
    char extensions[256];   /* filled once open */
    char reason[128];       /* the peer's close reason, filled once closed */
    bool close_called;
    bool close_read;
    wsc_close_fn on_close;  /* from the dial options, called once */
    void *user;
    bool on_close_called;
    /* The message being read: wsc_read returns it, the reader streams it. */
    uint8_t *msg;
    size_t msg_cap, msg_len;
    wsc_msg_type msg_type;
    bool reader_open;
    size_t reader_pos;
    /* The message being written with the writer API. */
    uint8_t *wbuf;
    size_t wcap, wlen;
    wsc_msg_type wtype;
    bool writing;
    /* -pthread builds: the main thread's JS adds 1 on each socket event; a
     * Worker thread waiting for one sleeps on it (futex) until it moves
     * past `seen`, the count its last wait returned at. */
    _Atomic uint32_t events;
    uint32_t seen;
};

/* Waits for an event on c until d passes. 0 after an event, else
 * wsc__deadline_error(d), or WSC_ENOTSUP (with a detail) when this thread
 * cannot block: the browser's main thread without Asyncify. */
int wsc__wasm_wait(wsc_conn *c, wsc_deadline d);

/* Calls c's on_close once, if the close event came with a close frame. */
void wsc__wasm_on_close(wsc_conn *c);

/* Sleeps until c's next event or ms (-1: no limit) passes: 0 on an event,
 * WSC_ETIMEDOUT, or WSC_ENOTSUP when this thread cannot block. */
int wsc__wasm_sleep(wsc_conn *c, int ms);

#endif
