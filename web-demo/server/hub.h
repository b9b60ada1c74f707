/* SPDX-License-Identifier: MIT */
/* hub.h - the chat hub: every connected client, broadcast to all of them,
 * on the server's one event-loop thread. */
#ifndef CHAT_HUB_H
#define CHAT_HUB_H

#include <stdbool.h>
#include <stddef.h>

#define HUB_QUEUE_MAX 64      /* messages waiting for one client's writer */
#define HUB_NOTICE_ROOM 32    /* join/leave notices are queued only below this */
#define HUB_READ_LIMIT 4096   /* largest message a client may send, bytes */
#define HUB_RATE_DEFAULT 10   /* messages a client may send a second... */
#define HUB_BURST_DEFAULT 8   /* ...and at once (coder/websocket's chat example) */
#define HUB_DROPS_MAX 20      /* messages over the limit in a row: closed, 1008 */

/* Sets every client's send limit: `per_second` messages a second (0: no
 * limit) in bursts of up to `burst`. Call before the first hub_serve. */
void hub_set_rate(int per_second, int burst);

/* Names become "guest-TAG-N" instead of "guest-N" (servers sharing a room
 * through Redis each pick a tag, so their guests' names differ). */
void hub_set_name_tag(const char *tag);

/* Queues a line for every client of this server (droppable: a join or
 * leave notice, see hub.c). The relay delivers the room's lines with it. */
void hub_deliver(const char *data, size_t len, bool droppable);

/* Adds a Host the chat answers to (a glob, see wsc_accept_options
 * host_patterns), besides localhost, 127.0.0.1 and [::1]: a page whose
 * request names any other host (DNS rebinding) gets 403. 0, or -1 when the
 * list is full. Call before the first hub_serve; the pattern must last. */
int hub_allow_host(const char *pattern);

/* Takes a new chat client: accepts the upgrade on fd (head: the request
 * bytes already read) without blocking, then serves it from the event loop
 * (loop.h): it joins once its handshake is done, its messages are broadcast,
 * and its leaving is announced. Owns fd from then on. */
void hub_serve(int fd, const void *head, size_t head_len);

/* Starts closing every client with 1001 "server shutting down" (its group,
 * wsc_group_close without waiting: the loop goes on reading the answers)
 * and returns how many there were; clients that come later are closed too. */
size_t hub_shutdown(void);

/* Clients not yet gone. */
size_t hub_count(void);

/* The hub's part of each loop turn: after the batch of events (writes what
 * the queues gained, frees the clients that left) and on each tick
 * (handshake and close deadlines). */
void hub_after(void);
void hub_tick(long long now_ms);

#endif
