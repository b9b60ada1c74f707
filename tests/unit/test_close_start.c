/* SPDX-License-Identifier: MIT */
/* test_close_start.c - wsc_close_start, the close handshake that does not
 * wait, as an event loop uses it:
 *
 *   a  with the socket full (the client reads nothing), it returns at once,
 *      the close frame waits (wsc_want_write, POLLOUT), writes fail with
 *      WSC_ECLOSED; once the client reads, a poll loop flushing and reading
 *      with timeout 0 ends with WSC_ECLOSED and the client's echo of 1008;
 *      the client read every message before the close frame
 *   b  on an idle connection the frame goes out at once; a data message the
 *      peer sends before its close is discarded; a second call is WSC_ECLOSED
 *   c  while CONNECTING (a nonblocking accept) it closes without a frame
 *   d  wsc_conn_error keeps what ended a connection: nothing while open, our
 *      close, the peer's close, a background reader's failure (seen by no
 *      call of the application), wsc_close_now
 */
#include <stdlib.h>

#include "check.h"
#include "net.h"

#define MSG_SIZE 65536

/* The server side of a poll loop after wsc_close_start: flushes and reads
 * with timeout 0 until the read says the connection ended. */
static int finish_close(wsc_conn *s, int ms)
{
    int64_t end = now_ms() + ms;
    while (now_ms() < end) {
        struct pollfd p = {.fd = wsc_fd(s), .events = (short)wsc_poll_events(s)};
        poll(&p, 1, 50);
        if (wsc_want_write(s))
            wsc_flush(s, 0);
        wsc_msg_type type;
        const void *data;
        size_t len;
        int r = wsc_read(s, 0, &type, &data, &len);
        if (r != WSC_EAGAIN && r != 0)
            return r;
    }
    return WSC_ETIMEDOUT;
}

typedef struct {
    wsc_conn *c;
    int messages, close_code;
} reader;

/* Reads until the close; counts messages. */
static void *read_all(void *arg)
{
    reader *rd = arg;
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        if (wsc_read(rd->c, 10000, &type, &data, &len) < 0)
            break;
        rd->messages++;
    }
    rd->close_code = wsc_close_status(rd->c);
    return NULL;
}

static void check_full_socket(void)
{
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    wsc_set_read_limit(cl, -1);
    uint8_t *msg = calloc(1, MSG_SIZE);
    int sent = 0;
    while (wsc_write(sv, WSC_BINARY, msg, MSG_SIZE, 0) == 0 && sent < 10000)
        sent++; /* until the socket (and the pending rest) is full */
    int64_t t0 = now_ms();
    CHECK_OK(wsc_close_start(sv, 1008, "too slow"));
    CHECKF(now_ms() - t0 < 100, "(a) wsc_close_start returned at once (%lld ms)",
           (long long)(now_ms() - t0));
    CHECK(wsc_get_state(sv) == WSC_STATE_CLOSING, "(a) CLOSING");
    CHECK(wsc_want_write(sv) && (wsc_poll_events(sv) & POLLOUT), "(a) the close frame waits: POLLOUT");
    CHECK(wsc_write(sv, WSC_TEXT, "x", 1, 0) == WSC_ECLOSED, "(a) writes fail with WSC_ECLOSED");
    CHECK(wsc_close_start(sv, 1000, "") == WSC_ECLOSED, "(a) a second close: WSC_ECLOSED");
    CHECK(wsc_conn_error(sv) == WSC_ECLOSED && strstr(wsc_last_error(), "we closed the connection with 1008"),
          "(d) wsc_conn_error: our close with 1008");

    reader rd = {.c = cl};
    pthread_t th;
    pthread_create(&th, NULL, read_all, &rd);
    int r = finish_close(sv, 10000);
    pthread_join(th, NULL);
    CHECKF(r == WSC_ECLOSED, "(a) the loop ends with WSC_ECLOSED: %s", wsc_strerror(r));
    CHECKF(rd.messages == sent, "(a) the client read all %d messages before the close (%d)", sent,
           rd.messages);
    CHECKF(rd.close_code == 1008, "(a) the client got 1008: %d", rd.close_code);
    CHECKF(wsc_close_status(sv) == 1008, "(a) and echoed it: %d", wsc_close_status(sv));
    CHECK(wsc_get_state(sv) == WSC_STATE_CLOSED, "(a) CLOSED");
    free(msg);
    wsc_conn_free(cl);
    wsc_conn_free(sv);
}

static void check_idle(void)
{
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    CHECK_OK(wsc_close_start(sv, 1001, "going away"));
    CHECK(!wsc_want_write(sv), "(b) the frame went out at once");
    CHECK_OK(wsc_write(cl, WSC_TEXT, "late", 4, 1000));
    wsc_msg_type type;
    const void *data;
    size_t len;
    CHECK(wsc_read(cl, 2000, &type, &data, &len) == WSC_ECLOSED, "(b) the client reads the close");
    int r = finish_close(sv, 5000);
    CHECKF(r == WSC_ECLOSED, "(b) the data message was discarded, then WSC_ECLOSED: %s",
           wsc_strerror(r));
    CHECK(wsc_close_status(cl) == 1001, "(b) the client got 1001");
    wsc_conn_free(cl);
    wsc_conn_free(sv);
}

static void check_connecting(void)
{
    int port;
    int lfd = listen_local(&port);
    int cfd = connect_local(port);
    int sfd = accept_tcp(lfd);
    close(lfd);
    wsc_accept_options o = {.nonblocking = true};
    wsc_conn *c = NULL;
    CHECK_OK(wsc_accept(sfd, &o, &c));
    CHECK(wsc_close_start(c, 1000, "") == WSC_ECLOSED, "(c) while CONNECTING: WSC_ECLOSED");
    CHECK(wsc_get_state(c) == WSC_STATE_CLOSED, "(c) CLOSED");
    char buf[16];
    struct pollfd p = {.fd = cfd, .events = POLLIN};
    CHECK(poll(&p, 1, 1000) == 1 && recv(cfd, buf, sizeof buf, 0) == 0, "(c) no frame: EOF");
    wsc_conn_free(c);
    close(cfd);
}

/* ---- (d) wsc_conn_error ------------------------------------------------ */

static void check_conn_error(void)
{
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    CHECK(wsc_conn_error(cl) == 0 && wsc_conn_error(sv) == 0, "(d) nothing ended an open pair");
    /* the client only writes: its background reader closes with 1008 when
     * a data message comes, which no call of the application sees */
    CHECK_OK(wsc_close_read(cl));
    CHECK_OK(wsc_write(sv, WSC_TEXT, "unwanted", 8, 1000));
    int err = 0;
    for (int i = 0; i < 200 && !(err = wsc_conn_error(cl)); i++)
        sleep_ms(10);
    CHECKF(err == WSC_EPROTO && strstr(wsc_last_error(), "1008"),
           "(d) the background reader's failure is kept: %s (%s)", wsc_strerror(err), wsc_last_error());
    wsc_msg_type type;
    const void *data;
    size_t len;
    CHECK(wsc_read(sv, 2000, &type, &data, &len) == WSC_ECLOSED, "(d) the server reads the 1008");
    err = wsc_conn_error(sv);
    CHECKF(err == WSC_ECLOSED && strstr(wsc_last_error(), "the peer closed the connection: 1008"),
           "(d) the peer's close is kept: %s", wsc_last_error());
    wsc_conn_free(cl);
    wsc_conn_free(sv);

    if (!make_pair(&cl, &sv, NULL, NULL))
        return;
    CHECK_OK(wsc_close_now(cl));
    CHECK(wsc_conn_error(cl) == WSC_ECLOSED && strstr(wsc_last_error(), "wsc_close_now"),
          "(d) wsc_close_now is kept");
    wsc_conn_free(cl);
    wsc_conn_free(sv);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    check_full_socket();
    check_idle();
    check_connecting();
    check_conn_error();
    return check_summary("test_close_start");
}
