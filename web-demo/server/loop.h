/* SPDX-License-Identifier: MIT */
/* loop.h - the chat server's event loop: one thread, epoll, a watcher per
 * socket and a tick for deadlines. */
#ifndef CHAT_LOOP_H
#define CHAT_LOOP_H

#include <stdint.h>

#define LOOP_TICK_MS 100

/* A socket the loop watches; embed it first in the owner's struct. ready is
 * called with the epoll events that occurred. */
typedef struct watcher {
    void (*ready)(struct watcher *w, uint32_t events);
    int fd;
    uint32_t events;          /* what epoll watches for now */
    int added;                /* fd is in the epoll set */
} watcher;

/* Creates the loop. 0, or -1 with errno. */
int loop_init(void);

/* Watches w->fd for `events` (EPOLLIN / EPOLLOUT): adds, changes or, with 0,
 * leaves it added with no interest. Cheap when nothing changes. */
void loop_watch(watcher *w, uint32_t events);

/* Stops watching w (call before closing its fd). */
void loop_forget(watcher *w);

/* Runs until epoll fails (-1) or loop_stop was called (0): ready() for each
 * event, then after() once the batch is handled (where owners free what
 * their handlers marked dead: a later event of the same batch may still name
 * it), and tick(now_ms) every LOOP_TICK_MS. */
int loop_run(void (*after)(void), void (*tick)(long long now_ms));

/* Makes loop_run return within a tick; safe in a signal handler. */
void loop_stop(void);

/* CLOCK_MONOTONIC in ms. */
long long loop_now_ms(void);

#endif
