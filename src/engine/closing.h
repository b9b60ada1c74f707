/* SPDX-License-Identifier: MIT */
/* closing.h - the close handshake of one connection as one state: which
 * close frames crossed, what the application asked for, and what may still
 * be read. It changes only in wsc__closing_step; the other functions only
 * ask. No I/O and no locks: the caller serialises every call (the native
 * connection holds its mu) and sends the frames the steps ask for. Whether
 * the transport still works is the caller's to know: steps take it as
 * `usable`. */
#ifndef WSC_CLOSING_H
#define WSC_CLOSING_H

#include <stdbool.h>

typedef enum {
    WSC_CLOSING_OPEN,     /* no close frame either way */
    WSC_CLOSING_SENT,     /* ours is out (or claimed by whoever sends it) */
    WSC_CLOSING_REPLYING, /* the peer's came first: our reply is being sent */
    WSC_CLOSING_DONE      /* the peer's came, and ours went (or never will) */
} wsc_closing_wire;

typedef enum {
    WSC_CLOSE_APP,     /* the application closes: wsc_close, wsc_close_start */
    WSC_CLOSE_NOW,     /* it closes without a handshake: wsc_close_now, freeing */
    WSC_CLOSE_HALF,    /* it half-closes (wsc_stream_fd): our close goes out,
                          the peer's data is still read until its close */
    WSC_CLOSE_FAIL,    /* the connection fails with a close code */
    WSC_CLOSE_END,     /* the connection ends without a close frame (reading
                          failed, the peer went away) */
    WSC_CLOSE_BROKEN,  /* a send broke the socket: no close frame, but what
                          had arrived may still be read */
    WSC_CLOSE_PEER,    /* the peer's close frame arrived */
    WSC_CLOSE_REPLIED  /* our reply to it went out, or failed */
} wsc_close_event;

typedef struct {
    wsc_closing_wire wire;
    bool called;    /* the application closed, one way or another */
    bool half;      /* our close went out by a half-close */
    bool read_rest; /* after a broken send, reading what arrived is allowed */
} wsc_closing;

/* Applies ev. Returns true when the caller is now to send our close frame
 * (APP, HALF, FAIL: ours was not out and the transport is usable) or our
 * reply to the peer's (PEER: ours was not out). At most one step of a
 * connection returns true: one close frame of ours, ever. */
bool wsc__closing_step(wsc_closing *s, wsc_close_event ev, bool usable);

/* Our close frame is out or claimed: no data frame may be started. */
bool wsc__closing_sent(const wsc_closing *s);
/* The peer's close frame arrived. */
bool wsc__closing_received(const wsc_closing *s);
/* Our reply to the peer's close is being sent: wait for it before shutting. */
bool wsc__closing_replying(const wsc_closing *s);
/* The peer's data is no longer wanted, nor its pings answered: our close
 * went out, and not by a half-close the application has not followed. */
bool wsc__closing_past_ours(const wsc_closing *s);
/* After a broken send, a reader may still take what had arrived. */
bool wsc__closing_read_rest(const wsc_closing *s);

#endif
