/* SPDX-License-Identifier: MIT */
/* test_heartbeat.c - heartbeat_ms and idle_timeout_ms driven from an event
 * loop: wsc_next_timeout says when a timeout-0 read must be made, that read
 * sends the ping, a pong resets the clock, and silence after the ping ends
 * the connection with WSC_ECLOSED and the detail. */
#include "check.h"
#include "net.h"

static int g_pings;

static bool count_ping(void *user, const void *payload, size_t len)
{
    (void)user, (void)payload, (void)len;
    g_pings++;
    return true;
}

/* Reads with timeout 0 once wsc_next_timeout(c) says it is time. */
static int read_when_due(wsc_conn *c)
{
    int ms = wsc_next_timeout(c);
    if (ms > 0)
        sleep_ms(ms);
    wsc_msg_type t;
    const void *d;
    size_t n;
    return wsc_read(c, 0, &t, &d, &n);
}

int main(void)
{
    wsc_dial_options dopts = {.on_ping = count_ping};
    wsc_accept_options aopts = {.heartbeat_ms = 100};
    wsc_conn *client, *server;
    if (!make_pair(&client, &server, &dopts, &aopts))
        return check_summary("test_heartbeat");
    CHECK(wsc_next_timeout(client) == -1, "no heartbeat on the client: -1");
    int ms = wsc_next_timeout(server);
    CHECKF(ms > 0 && ms <= 100, "the server's ping is due within 100 ms (%d)", ms);
    CHECK(wsc_next_timeout(NULL) == -1, "NULL: -1");

    /* Due: the read sends the ping; the client's reader answers it. */
    int64_t t0 = now_ms();
    CHECK(read_when_due(server) == WSC_EAGAIN, "the due read finds nothing (and pings)");
    CHECKF(now_ms() - t0 >= 90, "not before it was due (%lld ms)", (long long)(now_ms() - t0));
    wsc_msg_type t;
    const void *d;
    size_t n;
    CHECK(wsc_read(client, 200, &t, &d, &n) == WSC_ETIMEDOUT && g_pings == 1,
          "the client got one ping and answered it");
    ms = wsc_next_timeout(server);
    CHECKF(ms >= 0 && ms <= 100, "after the ping the end is due within 100 ms (%d)", ms);
    CHECK(wsc_read(server, 0, &t, &d, &n) == WSC_EAGAIN, "the server reads the pong");
    ms = wsc_next_timeout(server);
    CHECKF(ms > 50 && ms <= 100, "the pong reset the clock: next ping in %d ms", ms);

    /* The client stops reading: one more ping, then the end. */
    t0 = now_ms();
    int r = 0;
    for (int i = 0; i < 10 && (r = read_when_due(server)) == WSC_EAGAIN; i++) {
    }
    int64_t took = now_ms() - t0;
    CHECKF(r == WSC_ECLOSED, "the silent client is cut: %s", wsc_strerror(r));
    CHECKF(strstr(wsc_last_error(), "no pong within") != NULL, "detail: %s", wsc_last_error());
    CHECKF(took >= 180 && took < 1000, "after the ping's 100 ms and the end's 100 ms (%lld)",
           (long long)took);
    CHECK(wsc_next_timeout(server) == -1, "closed: -1");
    CHECK(wsc_conn_error(server) == WSC_ECLOSED, "wsc_conn_error says so too");
    /* The client finds our 1001 and the reason. */
    r = wsc_read(client, 1000, &t, &d, &n);
    CHECKF(r == WSC_ECLOSED && wsc_close_status(client) == 1001 &&
               strstr(wsc_close_reason(client), "no pong within"),
           "the client saw 1001 (%d %s)", wsc_close_status(client), wsc_close_reason(client));
    CHECK(g_pings == 2, "two pings in all");
    wsc_conn_free(client);
    wsc_conn_free(server);
    return check_summary("test_heartbeat");
}
