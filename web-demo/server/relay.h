/* SPDX-License-Identifier: MIT */
/* relay.h - one chat room over several chat servers: every line a server
 * would broadcast is published to a Redis channel, and what the channel
 * carries is delivered to this server's clients (so a line reaches every
 * page once, in the channel's order, whichever server it came from). Two
 * hiredis connections (publish, subscribe) run on the server's event loop.
 * While Redis cannot be reached, or does not answer, the server chats alone
 * and retries every second. */
#ifndef CHAT_RELAY_H
#define CHAT_RELAY_H

#include <stdbool.h>
#include <stddef.h>

/* Starts relaying through the Redis server at "host:port" or a Unix
 * socket's path (starting with '/'). 0, or -1 (with a message on stderr)
 * when the address is malformed or this build has no hiredis. Call after
 * loop_init. */
int relay_start(const char *address);

/* Whether lines go through Redis now (both connections up, subscribed). */
bool relay_active(void);

/* Publishes a line (droppable: a join or leave notice). Call only while
 * relay_active. false when it was not published, for the caller to deliver
 * here: Redis has UNANSWERED_MAX bytes of lines unanswered (relay.c), and
 * the room is given up until it answers again. */
bool relay_publish(const char *data, size_t len, bool droppable);

/* Gives the room up when Redis left a line unanswered for 2 s (or holds
 * too many), and reconnects what was lost, once a second. From the loop's
 * tick. */
void relay_tick(long long now_ms);

#endif
