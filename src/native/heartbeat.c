/* SPDX-License-Identifier: MIT */
/* heartbeat.c - the options' heartbeat_ms and idle_timeout_ms: when the
 * reader has received nothing for heartbeat_ms it sends a ping; when it
 * has received nothing for the idle timeout (idle_timeout_ms, or twice
 * heartbeat_ms) it fails the connection. Any byte received counts, so a
 * live peer's pong keeps a quiet connection open; so does a peer taking
 * our bytes (its TCP acknowledging them), which keeps one alive that reads
 * a long write of ours while that write holds our ping back. It runs
 * inside the reader's receive (read.c), whichever reader that is. */
#include <stddef.h>
#ifdef __linux__
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_acked (glibc's has not) */
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include "common/error.h"
#include "native/conn.h"

/* More acknowledged bytes than our pings and a close frame make (TLS
 * records included): the peer took data. */
#define LIFE_SIGN_BYTES 256

/* The bytes the peer's TCP has acknowledged on fd so far; -1 where that
 * cannot be known (not Linux, or not TCP: a Unix socket). */
static int64_t acked_bytes(int fd)
{
#ifdef __linux__
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
        len >= offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof ti.tcpi_bytes_acked)
        return (int64_t)ti.tcpi_bytes_acked;
#endif
    return -1;
}

/* Whether the peer took more of our bytes since the last look (which this
 * one becomes). */
static bool peer_took_bytes(wsc_conn *c)
{
    int64_t acked = acked_bytes(c->tr.fd), seen = c->acked_seen;
    c->acked_seen = acked;
    return seen >= 0 && acked > seen + LIFE_SIGN_BYTES;
}

void wsc__heartbeat_start(wsc_conn *c)
{
    atomic_store(&c->last_rx_ms, wsc__now_ms());
    c->acked_seen = c->heartbeat_ms || c->idle_ms ? acked_bytes(c->tr.fd) : -1;
}

/* Silence that ends the connection, 0: none. */
static int64_t idle_limit(const wsc_conn *c)
{
    return c->idle_ms ? c->idle_ms : 2 * (int64_t)c->heartbeat_ms;
}

int wsc_next_timeout(const wsc_conn *c)
{
    int state = c ? atomic_load(&c->state) : WSC_STATE_CLOSED;
    if (state != WSC_STATE_OPEN && state != WSC_STATE_CLOSING)
        return -1;
    wsc_deadline due = wsc__heartbeat_due(c);
    return due == WSC_FOREVER ? -1 : wsc__deadline_left(due);
}

/* The ping is due after heartbeat_ms of silence; the end after the idle
 * limit, but never sooner than heartbeat_ms after the ping went out (a
 * reader that starts after a long pause pings first). */
wsc_deadline wsc__heartbeat_due(const wsc_conn *c)
{
    int64_t limit = idle_limit(c);
    if (!limit)
        return WSC_FOREVER;
    int64_t last = atomic_load(&c->last_rx_ms), beat = atomic_load(&c->beat_ms);
    int64_t due = last + limit;
    if (c->heartbeat_ms && !beat)
        due = last + c->heartbeat_ms;
    else if (c->heartbeat_ms && beat + c->heartbeat_ms > due)
        due = beat + c->heartbeat_ms;
    return due > 0 ? due : 1;
}

int wsc__heartbeat(wsc_conn *c)
{
    int64_t now = wsc__now_ms(), beat = atomic_load(&c->beat_ms);
    if (peer_took_bytes(c)) { /* alive: the silence starts again */
        atomic_store(&c->last_rx_ms, now);
        atomic_store(&c->beat_ms, 0);
        return 0;
    }
    if (c->heartbeat_ms && !beat) {
        /* A ping the socket does not take now is not retried: the idle
         * limit decides. One that broke the socket failed the connection,
         * which the reader's next receive sees. */
        atomic_store(&c->beat_ms, now);
        wsc__send_control(c, WSC_OP_PING, NULL, 0, WSC_NOWAIT);
        return 0;
    }
    /* Due: the end. The close frame goes out only if the socket takes it
     * now: a peer that stopped answering may have stopped reading too. */
    int64_t silent = now - atomic_load(&c->last_rx_ms);
    if (beat)
        return wsc__conn_fail_within(c, WSC_NOWAIT, WSC_STATUS_GOING_AWAY, WSC_ECLOSED,
                                     "no pong within %lld ms of our heartbeat ping",
                                     (long long)(now - beat));
    return wsc__conn_fail_within(c, WSC_NOWAIT, WSC_STATUS_GOING_AWAY, WSC_ECLOSED,
                                 "nothing received for %lld ms (idle timeout)", (long long)silent);
}
