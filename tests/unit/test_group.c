/* SPDX-License-Identifier: MIT */
/* test_group.c - wsc_group natively, between our own client and server:
 * membership (one group per connection, none after wsc_group_close,
 * wsc_conn_free leaves, wsc_group_free lets members go), wsc_group_close
 * with readers on both ends (every client sees 1001 and the reason; 0
 * returned), with timeout 0 (closes started, nothing cut) and with a peer
 * that never reads (WSC_ETIMEDOUT at the deadline, the member cut). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "net.h"

#define N 8

typedef struct {
    wsc_conn *c;
    int r;
} reader;

/* Reads until the connection ends. */
static void *read_all(void *arg)
{
    reader *rd = arg;
    wsc_msg_type type;
    const void *data;
    size_t len;
    while ((rd->r = wsc_read(rd->c, 10000, &type, &data, &len)) == 0) {
    }
    return NULL;
}

static void test_membership(void)
{
    wsc_group *g, *h;
    CHECK(wsc_group_new(&g) == 0 && wsc_group_new(&h) == 0, "two groups");
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    CHECK(wsc_group_count(g) == 0 && wsc_group_count(NULL) == 0, "empty");
    CHECK(wsc_group_add(g, sv) == 0 && wsc_group_count(g) == 1, "added");
    CHECK(wsc_group_add(h, sv) == WSC_EINVAL, "a connection is in one group at most");
    CHECK(wsc_group_add(g, sv) == WSC_EINVAL, "and once");
    CHECK(wsc_group_add(g, cl) == 0 && wsc_group_count(g) == 2, "two members");
    wsc_conn_free(cl);
    CHECK(wsc_group_count(g) == 1, "wsc_conn_free takes a member out");
    wsc_group_free(g);
    CHECK(wsc_group_add(h, sv) == 0, "after wsc_group_free the member is free to join another");
    CHECK(wsc_group_close(h, 999, "x", 0) == WSC_EINVAL, "bad close code");
    CHECK(wsc_group_close(h, 1001, "", 0) == 0, "timeout 0: closes started, returns at once");
    CHECK(wsc_get_state(sv) == WSC_STATE_CLOSING, "the member is closing, not cut");
    wsc_conn *c2, *s2;
    if (make_pair(&c2, &s2, NULL, NULL)) {
        CHECK(wsc_group_add(h, s2) == WSC_ECLOSED, "a closing group takes no new members");
        wsc_conn_free(c2);
        wsc_conn_free(s2);
    }
    wsc_conn_free(sv);
    CHECK(wsc_group_count(h) == 0, "freed");
    wsc_group_free(h);
    wsc_group_free(NULL);
}

static void test_close_all(void)
{
    wsc_group *g;
    wsc_group_new(&g);
    wsc_conn *cl[N], *sv[N];
    reader rc[N], rs[N];
    pthread_t tc[N], ts[N];
    int n = 0;
    for (; n < N && make_pair(&cl[n], &sv[n], NULL, NULL); n++) {
        wsc_group_add(g, sv[n]);
        rc[n] = (reader){.c = cl[n]};
        rs[n] = (reader){.c = sv[n]};
        pthread_create(&tc[n], NULL, read_all, &rc[n]);
        pthread_create(&ts[n], NULL, read_all, &rs[n]);
    }
    CHECK(n == N, "8 pairs");
    int64_t t0 = now_ms();
    int r = wsc_group_close(g, 1001, "shutting down", 5000);
    CHECKF(r == 0, "every member finished its close handshake: %s (%s)", wsc_strerror(r), wsc_last_error());
    CHECKF(now_ms() - t0 < 2000, "quickly (%lld ms)", (long long)(now_ms() - t0));
    for (int i = 0; i < n; i++) {
        pthread_join(tc[i], NULL);
        pthread_join(ts[i], NULL);
        CHECK(rc[i].r == WSC_ECLOSED && wsc_close_status(cl[i]) == 1001 &&
                  strcmp(wsc_close_reason(cl[i]), "shutting down") == 0,
              "the client got 1001 \"shutting down\"");
        CHECK(wsc_get_state(sv[i]) == WSC_STATE_CLOSED, "the server side is closed");
        wsc_conn_free(cl[i]);
        wsc_conn_free(sv[i]);
    }
    CHECK(wsc_group_count(g) == 0, "all freed");
    wsc_group_free(g);
}

static void test_deadline(void)
{
    wsc_group *g;
    wsc_group_new(&g);
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    wsc_group_add(g, sv);
    reader rs = {.c = sv};
    pthread_t ts;
    pthread_create(&ts, NULL, read_all, &rs); /* the server reads; the client never does */
    int64_t t0 = now_ms();
    int r = wsc_group_close(g, 1001, "bye", 300);
    int64_t took = now_ms() - t0;
    CHECKF(r == WSC_ETIMEDOUT, "a peer that never answers: WSC_ETIMEDOUT (%s)", wsc_strerror(r));
    CHECK(strstr(wsc_last_error(), "1 of the group's connections") != NULL, "the detail counts it");
    CHECKF(took >= 290 && took < 2000, "at the deadline (%lld ms)", (long long)took);
    CHECK(wsc_get_state(sv) == WSC_STATE_CLOSED, "the member was cut");
    pthread_join(ts, NULL);
    CHECK(rs.r == WSC_ECLOSED, "its reader returned WSC_ECLOSED");
    wsc_conn_free(cl);
    wsc_conn_free(sv);
    wsc_group_free(g);
}

int main(void)
{
    test_membership();
    test_close_all();
    test_deadline();
    return check_summary("test_group");
}
