/* SPDX-License-Identifier: MIT */
/* group.c - wsc_group: the connections a server closes together when it
 * shuts down. The group holds pointers to its members, not the members:
 * they leave it when freed. Shared by both backends (public API only, plus
 * the slot each wsc_conn keeps for its group). */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/closecode.h"
#include "common/deadline.h"
#include "common/error.h"
#include "common/group.h"

/* How often a closing group looks whether its members are done. */
#define POLL_MS 10

struct wsc_group {
    pthread_mutex_t mu;
    wsc_conn **members; /* [mu] */
    size_t n, cap;      /* [mu] */
    bool closing;       /* [mu] wsc_group_close started: no more members */
};

int wsc_group_new(wsc_group **out)
{
    if (!out)
        return wsc__fail(WSC_EINVAL, "wsc_group_new: NULL out");
    wsc_group *g = calloc(1, sizeof *g);
    if (!g)
        return wsc__fail(WSC_ENOMEM, "out of memory");
    pthread_mutex_init(&g->mu, NULL);
    *out = g;
    return 0;
}

int wsc_group_add(wsc_group *g, wsc_conn *c)
{
    if (!g || !c)
        return wsc__fail(WSC_EINVAL, "wsc_group_add: NULL group or connection");
    int r = 0;
    pthread_mutex_lock(&g->mu);
    wsc_group **slot = wsc__conn_group(c);
    if (*slot) {
        r = wsc__fail(WSC_EINVAL, "the connection is in a group already");
    } else if (g->closing) {
        r = wsc__fail(WSC_ECLOSED, "the group is closing: it takes no more connections");
    } else if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        wsc_conn **m = realloc(g->members, cap * sizeof *m);
        if (m) {
            g->members = m;
            g->cap = cap;
        } else {
            r = wsc__fail(WSC_ENOMEM, "out of memory");
        }
    }
    if (r == 0) {
        g->members[g->n++] = c;
        *slot = g;
    }
    pthread_mutex_unlock(&g->mu);
    return r;
}

void wsc__group_leave(wsc_conn *c)
{
    wsc_group *g = *wsc__conn_group(c);
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->n; i++)
        if (g->members[i] == c) {
            g->members[i] = g->members[--g->n];
            break;
        }
    *wsc__conn_group(c) = NULL;
    pthread_mutex_unlock(&g->mu);
}

size_t wsc_group_count(wsc_group *g)
{
    if (!g)
        return 0;
    pthread_mutex_lock(&g->mu);
    size_t n = g->n;
    pthread_mutex_unlock(&g->mu);
    return n;
}

/* Members not closed yet; sends what their close frames left pending. */
static size_t open_members(wsc_group *g)
{
    size_t open = 0;
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->n; i++)
        if (wsc_get_state(g->members[i]) != WSC_STATE_CLOSED) {
            wsc_flush(g->members[i], 0);
            open++;
        }
    pthread_mutex_unlock(&g->mu);
    return open;
}

int wsc_group_close(wsc_group *g, int code, const char *reason, int timeout_ms)
{
    if (!g)
        return wsc__fail(WSC_EINVAL, "wsc_group_close: NULL group");
    int r = wsc__close_args_check(code, reason);
    if (r < 0)
        return r;
    pthread_mutex_lock(&g->mu);
    g->closing = true;
    for (size_t i = 0; i < g->n; i++)
        wsc_close_start(g->members[i], code, reason); /* WSC_ECLOSED: closed already */
    pthread_mutex_unlock(&g->mu);

    if (timeout_ms == 0)
        return 0; /* an event loop reads the answers, and decides when to stop waiting */
    wsc_deadline d = wsc__deadline_in(timeout_ms);
    size_t open;
    while ((open = open_members(g)) > 0) {
        int left = wsc__deadline_left(d);
        if (d != WSC_FOREVER && left == 0)
            break;
        if (wsc__sleep_ms(left < 0 || left > POLL_MS ? POLL_MS : left) < 0)
            return 0; /* this thread cannot wait (the browser's main thread): as timeout 0 */
    }
    if (open == 0) {
        wsc__clear_error();
        return 0;
    }
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->n; i++)
        if (wsc_get_state(g->members[i]) != WSC_STATE_CLOSED)
            wsc_close_now(g->members[i]);
    pthread_mutex_unlock(&g->mu);
    return wsc__fail(WSC_ETIMEDOUT, "%zu of the group's connections did not finish their close "
                     "handshake in time and were closed without it", open);
}

void wsc_group_free(wsc_group *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < g->n; i++)
        *wsc__conn_group(g->members[i]) = NULL;
    pthread_mutex_unlock(&g->mu);
    pthread_mutex_destroy(&g->mu);
    free(g->members);
    free(g);
}
