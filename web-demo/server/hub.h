/* hub.h - the chat hub: every connected client, broadcast to all of them. */
#ifndef CHAT_HUB_H
#define CHAT_HUB_H

#include <stddef.h>

#define HUB_QUEUE_MAX 64      /* messages waiting for one client's writer */
#define HUB_READ_LIMIT 4096   /* largest message a client may send, bytes */

/* Runs one WebSocket client on the calling thread until it leaves: accepts
 * the upgrade on fd (head: the request bytes already read), announces it,
 * broadcasts what it sends, announces its leaving. Closes fd in every case. */
void hub_serve(int fd, const void *head, size_t head_len);

#endif
