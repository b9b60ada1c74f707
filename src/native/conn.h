/* SPDX-License-Identifier: MIT */
/* conn.h - the native connection object shared by dial, accept, read, write
 * and close. Locking:
 *   mu        guards the fields marked [mu] and signals `cond` whenever the
 *             reader leaves, a close or pong arrives, a message writer finishes,
 *             or the state changes.
 *   reading   [mu] is the reader's lock: whoever sets it owns every [r] field.
 *   frame_mu  serialises whole frames on the socket and owns every [w] field.
 *   msg_busy  [mu] is held by the writer of a message for its whole duration.
 *   hs_mu     whoever advances a nonblocking dial or accept holds it.
 * Lock order: hs_mu, then mu, then the TLS transport's own lock (tls.c; the
 * transport's shutdown runs under mu). frame_mu and mu are never held
 * together: a writer takes mu for msg_busy and lets go before its frames,
 * and frame_mu is released before a failed send fails the connection. The
 * reader role (`reading`) and msg_busy are held across blocking system
 * calls; of the mutexes only frame_mu (one frame's send) and hs_mu (one
 * handshake step, within the caller's deadline) are; mu only across memory
 * work and calls that never wait (shutdown). */
#ifndef WSC_CONN_H
#define WSC_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "wsc.h"
#include "common/deadline.h"
#include "engine/closing.h"
#include "engine/decode.h"
#include "engine/encode.h"
#include "proto/deflate.h"
#include "proto/frame.h"
#include "proto/http.h"
#include "net/transport.h"

#define WSC_CLOSE_TIMEOUT_MS 5000

typedef struct wsc_ping_waiter {
    uint64_t id;
    bool done;
    struct wsc_ping_waiter *next;
} wsc_ping_waiter;

typedef struct wsc_dialer wsc_dialer;     /* dial.c: a client handshake in progress */
typedef struct wsc_acceptor wsc_acceptor; /* accept.c: a server handshake in progress */

struct wsc_conn {
    wsc_transport tr;
    bool server;
    wsc_group *group;             /* [the group's lock] see common/group.h */
    _Atomic int state;            /* wsc_state */

    /* Handshake results, fixed once open. */
    char *target;                 /* request target */
    char *url;                    /* client: the URL that answered when a redirect
                                     was followed, else NULL */
    char *subprotocol;            /* "" when none */
    char *extensions;             /* negotiated Sec-WebSocket-Extensions, NULL: none */
    wsc_deflate *pmd;             /* permessage-deflate state, NULL: not negotiated;
                                     its receiving half is [r], its sending half [w] */
    wsc_http_head peer_head;      /* the other side's request or response */
    pthread_mutex_t hs_mu;        /* guards dialer, acceptor and hs_failed */
    wsc_dialer *dialer;           /* non-NULL while a nonblocking dial runs */
    wsc_acceptor *acceptor;       /* non-NULL while a nonblocking accept runs */
    bool hs_failed;               /* the handshake failed: end_err says why */
    int dial_fd;                  /* [mu] the socket the dial is connecting before
                                     tr has it, -1 otherwise */
    _Atomic int hs_want;          /* POLLIN / POLLOUT the handshake waits for */

    wsc_ping_fn on_ping;
    wsc_pong_fn on_pong;
    wsc_close_fn on_close;
    void *user;
    int heartbeat_ms, idle_ms;    /* the options' heartbeat_ms and idle_timeout_ms
                                     (0: off); see heartbeat.c */
    _Atomic int64_t last_rx_ms;   /* [r] when bytes last arrived (wsc__now_ms),
                                     from the open on; any thread may read it */
    _Atomic int64_t beat_ms;      /* [r] when our ping for the current silence
                                     went out, 0: not yet; any thread may read */
    int64_t acked_seen;           /* [r] the bytes the peer's TCP had acknowledged
                                     at the heartbeat's last look, -1: unknown */

    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool reading;                 /* [mu] */
    bool tr_shut;                 /* [mu] the transport was shut (wsc__conn_shutdown) */
    bool close_draining;          /* [mu] wsc_close holds the reader role */
    bool msg_busy;                /* [mu] */
    pthread_t msg_owner;          /* [mu] the thread holding msg_busy */
    wsc_closing closing;          /* [mu] the close handshake's state */
    int end_err;                  /* [mu] what ended the connection, 0: nothing yet */
    char *end_why;                /* [mu] and its wsc_last_error(), set once (a
                                     copy freed with c; NULL if that failed) */
    int peer_code;                /* [mu] -1 none, 1005 no code */
    char peer_reason[124];        /* [mu] */
    wsc_ping_waiter *pings;       /* [mu] */
    uint64_t ping_seq;            /* [mu] */
    bool bg_reader;               /* [mu] wsc_close_read started the thread */
    pthread_t bg_thread;
    struct wsc_pump *pump;        /* [mu] wsc_stream_fd's threads and what ended
                                     them (stream_fd.c), NULL: none */

    /* Reading [r]. rbuf holds raw bytes from the transport in [rpos, rend).
     * It exists only while needed: allocated by the handshake or the first
     * read, freed when a read finds it empty and nothing arriving (so an
     * idle connection holds no receive buffer). */
    uint8_t *rbuf;
    size_t rcap, rpos, rend;
    wsc_decoder dec;              /* the protocol state of what is received */
    bool reader_open;             /* wsc_reader_next returned this message */
    uint8_t *msg;                 /* wsc_read's assembled message */
    size_t msg_cap, msg_len;
    bool msg_mapped;              /* msg is mapped with mmap (see read.c) */

    /* Writing [w]. */
    pthread_mutex_t frame_mu;
    wsc_encoder enc;              /* the protocol state of what is sent */
    uint8_t *pend;                /* bytes to send before any other frame: what a
                                     timeout-0 write left unsent and what wsc_cork
                                     gathered; [pend_pos, pend_len) of pend_cap,
                                     freed once all went out */
    size_t pend_len, pend_pos, pend_cap;
    _Atomic bool cork;            /* wsc_cork: data frames are gathered in pend */
    _Atomic size_t pend_left;     /* pend_len - pend_pos, for any thread */
    _Atomic bool close_queued;    /* wsc_close_start's frame waits in close_frame
                                     (written before this is set; sent under
                                     frame_mu by flush_pending) */
    uint8_t close_frame[125];
    size_t close_frame_len;
    uint8_t keys[64];             /* random mask keys (clients), 4 at a time */
    size_t keys_pos;
    /* The message writer (owner of msg_busy). */
    uint8_t wr_op;                /* the message writer's opcode, 0: none */
    bool wr_begun;                /* a frame went out, or the compressor took a piece */
    int wr_timeout;               /* the begin call's timeout_ms */
    _Atomic bool write_compression; /* wsc_set_write_compression, true at first */
};

/* Allocates a connection with no transport yet (dial or accept gives it). */
wsc_conn *wsc__conn_new(bool server);

/* Records the negotiated extensions: *p (when enabled), tuned by t, and
 * the header value. 0 or WSC_ENOMEM. */
int wsc__conn_set_pmd(wsc_conn *c, const wsc_pmd_params *p, const char *header,
                     wsc_compression mode, int threshold, const wsc_deflate_options *t);

/* Sends a control frame (close, ping, pong; at most 125 bytes), after
 * whatever a timeout-0 write left pending; serialised with other frames by
 * frame_mu. Returns 0, WSC_EAGAIN/WSC_ETIMEDOUT when nothing was sent, or an
 * error that closed the connection. */
int wsc__send_control(wsc_conn *c, uint8_t op, const void *data, size_t len, wsc_deadline d);

/* Fails the connection: sends a close frame with `code` (if none went out
 * yet and code != 0), shuts the transport and makes every later call fail
 * with `err`. Records the detail and returns err. */
int wsc__conn_fail(wsc_conn *c, int code, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* wsc__conn_fail for a call with deadline d: the close frame waits only as
 * wsc__close_frame_deadline(d) allows. */
int wsc__conn_fail_within(wsc_conn *c, wsc_deadline d, int code, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* How long a close frame sent on the way (the reply to the peer's close,
 * the close of a failing connection) may wait in a call with deadline d:
 * WSC_CLOSE_TIMEOUT_MS, but a call that must not block (WSC_NOWAIT, a poll
 * loop) only sends it if the socket takes it at once. */
wsc_deadline wsc__close_frame_deadline(wsc_deadline d);

/* For a send that broke the socket: fails the connection as wsc__conn_fail
 * does without a close frame, but a reader may still read what arrived
 * before (messages, the peer's close frame). Returns err. */
int wsc__conn_send_failed(wsc_conn *c, int err);

/* Sends our close frame with `code` and returns without waiting for the
 * peer's: the reader goes on delivering data messages until the peer's
 * close frame arrives (RFC 6455 lets the peer send until then). The frame
 * has no deadline, like data written with timeout -1; shutting the
 * connection ends the wait. 0 also when there is nothing to half-close (a
 * close frame already went out, or the connection is closed); else the
 * error of the send, which shut the connection. Call it once c is past
 * CONNECTING (wsc__conn_ready). */
int wsc__conn_half_close(wsc_conn *c, int code);

/* Records err (with wsc_last_error() as its detail) as what ended c, unless
 * something did already (wsc_conn_error). Takes mu. */
void wsc__conn_ended(wsc_conn *c, int err);

/* Shuts the transport and marks the state CLOSED. */
void wsc__conn_shutdown(wsc_conn *c);

/* Reader lock: wsc__reader_enter fails with WSC_EBUSY if another thread reads;
 * while wsc_close reads the peer's close it waits for it, up to d. */
int wsc__reader_enter(wsc_conn *c, wsc_deadline d);
void wsc__reader_leave(wsc_conn *c);

/* Reads frames until the peer's close frame arrives, the connection ends or
 * d passes, discarding data; the caller holds the reader lock. */
void wsc__read_drain(wsc_conn *c, wsc_deadline d);

/* Advances a nonblocking dial (dial.c), caller holding hs_mu. 0 when
 * open, WSC_EAGAIN / WSC_ETIMEDOUT while not yet, other errors when it failed
 * (the connection is then closed). Frees c->dialer when it ends. */
int wsc__dial_step(wsc_conn *c, wsc_deadline d);
void wsc__dialer_free(wsc_dialer *dl);

/* Advances a nonblocking accept (accept.c), as wsc__dial_step does a dial. */
int wsc__accept_step(wsc_conn *c, wsc_deadline d);
void wsc__acceptor_free(wsc_acceptor *ac);

/* The receive buffer [r]: _reserve makes rcap at least cap, keeping what
 * it holds (0 or WSC_ENOMEM); _release frees it when it holds nothing. */
#define WSC_RBUF_SIZE 65536
int wsc__conn_rbuf_reserve(wsc_conn *c, size_t cap);
void wsc__conn_rbuf_release(wsc_conn *c);

/* The end of a handshake (dial or accept), caller holding hs_mu. _failed
 * records r for every later call (wsc__conn_ready), marks c CLOSED (the
 * caller shuts the transport) and returns r. _done opens c and wakes
 * waiters; false if a close won the race. */
int wsc__conn_handshake_failed(wsc_conn *c, int r);
bool wsc__conn_handshake_done(wsc_conn *c);

/* Makes sure the connection is past CONNECTING for a call with deadline d,
 * advancing a nonblocking dial or accept under hs_mu. 0, or its error (also
 * for every call after the dial failed; its own timeout is WSC_ECLOSED
 * then, since the connection is closed). */
int wsc__conn_ready(wsc_conn *c, wsc_deadline d);

/* Waits on c->cond (caller holds mu) until signalled or d passes. Returns 0
 * when signalled (or spuriously woken), else wsc__deadline_error(d). */
int wsc__conn_wait(wsc_conn *c, wsc_deadline d);

/* Locks m within d (WSC_NOWAIT: trylock). 0, or wsc__deadline_error(d). */
int wsc__lock_within(pthread_mutex_t *m, wsc_deadline d);

/* Stops and joins the wsc_stream_fd pump threads and frees the pump
 * (stream_fd.c). */
void wsc__stream_fd_stop(wsc_conn *c);

/* Frees wsc_read's message buffer (read.c). */
void wsc__msg_free(wsc_conn *c);

/* The heartbeat (heartbeat.c): its clock starts when the connection opens
 * (wsc__heartbeat_start, c->mu held); when the reader's next receive must
 * wake for it (WSC_FOREVER: never), and what it does then: sends the ping,
 * or fails the connection after the idle timeout (its error). */
void wsc__heartbeat_start(wsc_conn *c);
wsc_deadline wsc__heartbeat_due(const wsc_conn *c);
int wsc__heartbeat(wsc_conn *c);

/* wsc_write of a message whose payload is ready (write.c): deflated by
 * wsc__deflate_alone for c's shape, or plain and sent plain. */
int wsc__write_ready(wsc_conn *c, wsc_msg_type type, const void *data, size_t len, bool deflated,
                     int timeout_ms);

/* Marks the ping with this payload answered (reader side, any thread). */
void wsc__pong_arrived(wsc_conn *c, const uint8_t *payload, size_t len);
#endif
