/* SPDX-License-Identifier: MIT */
/* test_buffered_amount.c - wsc_buffered_amount, natively: 0 for NULL and
 * after writes that waited; with the peer reading nothing, a 4 MiB
 * timeout-0 write is accepted and what the socket did not take is counted
 * (never more than the frame); wsc_flush with timeout 0 leaves it counted
 * (WSC_EAGAIN); once the peer reads, wsc_flush empties it to 0; another
 * thread may ask at any time (it is read while a flush runs). Also the
 * browser-only wsc_set_event_handler: WSC_ENOTSUP natively. */
#include <stdlib.h>

#include "check.h"
#include "net.h"

#define BIG (4 * 1024 * 1024)

typedef struct {
    wsc_conn *c;
    int r;
    size_t len;
} reader;

static void *read_one(void *arg)
{
    reader *rd = arg;
    wsc_msg_type type;
    const void *data;
    rd->r = wsc_read(rd->c, 20000, &type, &data, &rd->len);
    return NULL;
}

static atomic_bool watching;
static atomic_size_t most_seen;

static void *watch(void *arg)
{
    wsc_conn *c = arg;
    while (atomic_load(&watching)) {
        size_t n = wsc_buffered_amount(c);
        if (n > atomic_load(&most_seen))
            atomic_store(&most_seen, n);
    }
    return NULL;
}

int main(void)
{
    CHECK(wsc_buffered_amount(NULL) == 0, "NULL: 0");
    wsc_dial_options dopts = {0};
    wsc_accept_options aopts = {0};
    wsc_conn *cl, *sv;
    if (!make_pair(&cl, &sv, &dopts, &aopts))
        return check_summary("test_buffered_amount");
    wsc_set_read_limit(sv, -1);
    int small = 65536; /* so that 4 MiB always fills the socket buffers */
    setsockopt(wsc_fd(cl), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(wsc_fd(sv), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);

    CHECK_OK(wsc_write(cl, WSC_TEXT, "hello", 5, 5000));
    CHECK(wsc_buffered_amount(cl) == 0, "after a write that waited: 0");

    uint8_t *big = malloc(BIG);
    memset(big, 'b', BIG);
    CHECK_OK(wsc_write(cl, WSC_BINARY, big, BIG, 0));
    size_t held = wsc_buffered_amount(cl);
    CHECKF(held > 0 && held <= BIG + 14, "the rest of a 4 MiB timeout-0 write is counted: %zu", held);
    int r = wsc_flush(cl, 0);
    CHECKF(r == WSC_EAGAIN, "flush with timeout 0 while the peer reads nothing: %s", wsc_strerror(r));
    CHECKF(wsc_buffered_amount(cl) > 0 && wsc_buffered_amount(cl) <= held,
           "still counted after it: %zu", wsc_buffered_amount(cl));

    /* the peer reads "hello" and the big message; we flush until empty */
    wsc_msg_type type;
    const void *data;
    size_t len;
    CHECK_OK(wsc_read(sv, 5000, &type, &data, &len));
    reader rd = {.c = sv};
    pthread_t reader_th, watcher_th;
    pthread_create(&reader_th, NULL, read_one, &rd);
    atomic_store(&watching, true);
    pthread_create(&watcher_th, NULL, watch, cl);
    r = wsc_flush(cl, 20000);
    CHECKF(r == 0, "flush while the peer reads: %s", wsc_strerror(r));
    CHECK(wsc_buffered_amount(cl) == 0, "0 once flushed");
    atomic_store(&watching, false);
    pthread_join(watcher_th, NULL);
    pthread_join(reader_th, NULL);
    CHECKF(rd.r == 0 && rd.len == BIG, "the peer got the whole message (%s, %zu bytes)",
           wsc_strerror(rd.r), rd.len);
    CHECKF(atomic_load(&most_seen) <= held, "another thread saw at most what was held (%zu)",
           atomic_load(&most_seen));

    r = wsc_set_event_handler(cl, NULL, NULL);
    CHECKF(r == WSC_ENOTSUP && strstr(wsc_last_error(), "wsc_poll_events"),
           "wsc_set_event_handler natively: %s (%s)", wsc_strerror(r), wsc_last_error());

    free(big);
    wsc_conn_free(cl);
    wsc_conn_free(sv);
    return check_summary("test_buffered_amount");
}
