/* SPDX-License-Identifier: MIT */
/* relay.c - the chat room shared through Redis pub/sub (see relay.h): two
 * hiredis async connections attached to loop.c by the small adapter below
 * (hiredis calls it to say which events a connection waits for). A line
 * travels as one PUBLISH: a first byte 'n' (a notice, droppable) or 'm'
 * (a message), then the text. */
#define _POSIX_C_SOURCE 200809L
#include "relay.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CHAT_NO_REDIS
#include <sys/epoll.h>

#include <async.h>
#include <hiredis.h>

#include "hub.h"
#include "loop.h"

#define CHANNEL "wsc-chat"
#define RETRY_MS 1000
/* A Redis that leaves our PUBLISHes unanswered this long, or this many
 * bytes of them, is given up like a lost one (it may be stopped or stuck):
 * what it has not answered stays with it, and the memory is ours again. */
#define SILENCE_MS 2000
#define UNANSWERED_MAX (1024 * 1024)

/* One Redis connection and its place in the loop. */
typedef struct link {
    watcher w;                 /* first: the loop hands it back */
    redisAsyncContext *ac;     /* NULL while down */
    uint32_t want;             /* EPOLLIN / EPOLLOUT, as hiredis asks */
    bool up;                   /* connected (the subscriber: and subscribed) */
    bool subscriber;
    const char *name;
} link;

static link pub = {.name = "publish"}, sub = {.subscriber = true, .name = "subscribe"};
static char host[256];
static int port;                /* 0: host is a Unix socket's path */
static long long retry_at;
static bool was_active;
/* PUBLISHes sent and not answered yet: how many, their bytes, and when
 * Redis last answered one (or the first was sent). */
static long unanswered;
static size_t unanswered_bytes;
static long long answered_at;
static const char *giving_up;   /* why the links are dropped at the next tick */

/* ---- the adapter: hiredis says what to wait for, the loop tells it ------- */

static void set_want(link *l, uint32_t add, uint32_t remove)
{
    l->want = (l->want | add) & ~remove;
    loop_watch(&l->w, l->want);
}

static void add_read(void *p) { set_want(p, EPOLLIN, 0); }
static void del_read(void *p) { set_want(p, 0, EPOLLIN); }
static void add_write(void *p) { set_want(p, EPOLLOUT, 0); }
static void del_write(void *p) { set_want(p, 0, EPOLLOUT); }

/* The context is being freed: the link is down. */
static void cleanup(void *p)
{
    link *l = p;
    loop_forget(&l->w);
    l->ac = NULL;
    l->up = false;
    l->want = 0;
    if (!l->subscriber) { /* its PUBLISHes will never be answered */
        unanswered = 0;
        unanswered_bytes = 0;
    }
}

static void link_ready(watcher *w, uint32_t events)
{
    link *l = (link *)w;
    if (l->ac && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        redisAsyncHandleRead(l->ac);
    if (l->ac && (events & EPOLLOUT))
        redisAsyncHandleWrite(l->ac);
}

/* ---- the links ------------------------------------------------------------ */

static void say_state(void)
{
    bool active = relay_active();
    if (active != was_active) {
        if (active && port)
            printf("chat: sharing the room through Redis at %s:%d\n", host, port);
        else if (active)
            printf("chat: sharing the room through Redis at %s\n", host);
        else if (giving_up)
            printf("chat: Redis at %s %s: chatting alone, retrying every second\n", host, giving_up);
        else
            printf("chat: lost Redis at %s: chatting alone, retrying every second\n", host);
        was_active = active;
    }
}

static void on_message(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac, (void)priv;
    redisReply *reply = r;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
        return;
    redisReply *kind = reply->element[0], *data = reply->element[2];
    if (kind->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(kind->str, "subscribe") == 0) {
        sub.up = true;
        say_state();
    } else if (strcmp(kind->str, "message") == 0 && data->type == REDIS_REPLY_STRING &&
               data->len >= 1) {
        hub_deliver(data->str + 1, data->len - 1, data->str[0] == 'n');
    }
}

static link *link_of(const redisAsyncContext *ac)
{
    return ac == pub.ac ? &pub : &sub;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    link *l = link_of(ac);
    if (status != REDIS_OK) { /* hiredis frees the context: cleanup marks it down */
        retry_at = loop_now_ms() + RETRY_MS;
        return;
    }
    if (l->subscriber)
        redisAsyncCommand(l->ac, on_message, NULL, "SUBSCRIBE %s", CHANNEL);
    else
        l->up = true;
    say_state();
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    link *l = link_of(ac);
    l->up = false;
    retry_at = loop_now_ms() + RETRY_MS;
    say_state();
}

static void link_open(link *l)
{
    redisAsyncContext *ac = port ? redisAsyncConnect(host, port) : redisAsyncConnectUnix(host);
    if (!ac)
        return;
    if (ac->err) {
        redisAsyncFree(ac);
        return;
    }
    l->ac = ac;
    l->w.ready = link_ready;
    l->w.fd = ac->c.fd;
    l->w.added = 0;
    l->w.events = 0;
    l->want = 0;
    ac->ev.data = l;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    add_write(l); /* the connect completes when the socket is writable */
}

int relay_start(const char *address)
{
    const char *colon = strrchr(address, ':');
    if (address[0] == '/') {
        snprintf(host, sizeof host, "%s", address);
        port = 0;
    } else if (colon && colon > address && (size_t)(colon - address) < sizeof host &&
               atoi(colon + 1) > 0 && atoi(colon + 1) < 65536) {
        snprintf(host, sizeof host, "%.*s", (int)(colon - address), address);
        port = atoi(colon + 1);
    } else {
        fprintf(stderr, "chat: --redis wants HOST:PORT or /path/to/redis.sock, not \"%s\"\n", address);
        return -1;
    }
    link_open(&pub);
    link_open(&sub);
    return 0;
}

bool relay_active(void)
{
    return pub.up && sub.up && !giving_up;
}

/* Redis answered a PUBLISH (reply NULL: the link went, nothing to count). */
static void on_published(redisAsyncContext *ac, void *reply, void *len)
{
    (void)ac;
    if (!reply)
        return;
    unanswered--;
    unanswered_bytes -= (size_t)(uintptr_t)len;
    answered_at = loop_now_ms();
}

/* Drops both links, from the loop's tick (not inside a hiredis callback),
 * counting nothing as sent: relay_tick connects again in RETRY_MS. */
static void give_up(void)
{
    for (link *l = &pub; l; l = l == &pub ? &sub : NULL)
        if (l->ac)
            redisAsyncFree(l->ac); /* callbacks get NULL, cleanup marks it down */
    giving_up = NULL;
    retry_at = loop_now_ms() + RETRY_MS;
}

bool relay_publish(const char *data, size_t len, bool droppable)
{
    if (unanswered_bytes + len + 1 > UNANSWERED_MAX) {
        giving_up = "has 1 MiB of lines waiting for its answer";
        say_state();
        return false;
    }
    char *line = malloc(len + 1);
    if (!line)
        return false;
    line[0] = droppable ? 'n' : 'm';
    memcpy(line + 1, data, len);
    int r = redisAsyncCommand(pub.ac, on_published, (void *)(uintptr_t)(len + 1), "PUBLISH %s %b",
                              CHANNEL, line, len + 1);
    free(line);
    if (r != REDIS_OK)
        return false;
    if (unanswered++ == 0)
        answered_at = loop_now_ms(); /* the silence is counted from here */
    unanswered_bytes += len + 1;
    return true;
}

void relay_tick(long long now_ms)
{
    if (!host[0])
        return;
    if (!giving_up && unanswered > 0 && now_ms - answered_at >= SILENCE_MS) {
        giving_up = "has not answered for 2 s";
        say_state();
    }
    if (giving_up)
        give_up();
    if (now_ms < retry_at)
        return;
    bool retried = false;
    for (link *l = &pub; l; l = l == &pub ? &sub : NULL)
        if (!l->ac) {
            link_open(l);
            retried = true;
        }
    if (retried)
        retry_at = now_ms + RETRY_MS;
}

#else /* built without hiredis */

int relay_start(const char *address)
{
    (void)address;
    fprintf(stderr, "chat: this chat_server was built without hiredis: --redis is not available "
                    "(install libhiredis-dev and rebuild)\n");
    return -1;
}

bool relay_active(void)
{
    return false;
}

bool relay_publish(const char *data, size_t len, bool droppable)
{
    (void)data, (void)len, (void)droppable;
    return false;
}

void relay_tick(long long now_ms)
{
    (void)now_ms;
}
#endif
