/* SPDX-License-Identifier: MIT */
/* loop.c - the chat server's event loop (loop.h). */
#define _GNU_SOURCE
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static int ep = -1;

long long loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int loop_init(void)
{
    ep = epoll_create1(EPOLL_CLOEXEC);
    return ep < 0 ? -1 : 0;
}

void loop_watch(watcher *w, uint32_t events)
{
    struct epoll_event e = {.events = events, .data.ptr = w};
    if (!w->added) {
        w->added = epoll_ctl(ep, EPOLL_CTL_ADD, w->fd, &e) == 0;
        w->events = events;
    } else if (events != w->events) {
        epoll_ctl(ep, EPOLL_CTL_MOD, w->fd, &e);
        w->events = events;
    }
}

void loop_forget(watcher *w)
{
    if (w->added)
        epoll_ctl(ep, EPOLL_CTL_DEL, w->fd, NULL);
    w->added = 0;
    w->events = 0;
}

static volatile sig_atomic_t stopping;

void loop_stop(void)
{
    stopping = 1;
}

int loop_run(void (*after)(void), void (*tick)(long long now_ms))
{
    struct epoll_event evs[256];
    long long next_tick = loop_now_ms() + LOOP_TICK_MS;
    stopping = 0; /* a run after a stop (the server's shutdown) */
    while (!stopping) {
        long long now = loop_now_ms();
        int n = epoll_wait(ep, evs, 256, next_tick > now ? (int)(next_tick - now) : 0);
        if (n < 0 && errno != EINTR) {
            printf("chat: epoll_wait: %s\n", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            watcher *w = evs[i].data.ptr;
            w->ready(w, evs[i].events);
        }
        after();
        now = loop_now_ms();
        if (now >= next_tick) {
            tick(now);
            after();
            next_tick = now + LOOP_TICK_MS;
        }
    }
    return 0;
}
