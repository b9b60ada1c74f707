/* SPDX-License-Identifier: MIT */
/*
 * chat_client.c - the browser chat's connection logic, in C over wsc (wasm
 * backend, built without Asyncify). The page's JS owns only the UI; it calls
 *
 *   chat_connect(url)   start connecting (and keep reconnecting) to url
 *   chat_send(text)     0, or CHAT_ETOOLONG / CHAT_ENOTCONN / a wsc error
 *   chat_poll()         the next event or NULL
 *
 * The connection advances on its own: wsc calls on_conn_event when the
 * socket has something (wsc_set_event_handler: no timer, no Asyncify), and
 * a timeout (emscripten_set_timeout) redials. Whenever events were queued,
 * C calls Module.onChatEvents() (if the page set it), which calls
 * chat_poll until it returns NULL. An event is one string whose first
 * character says what it is:
 *   "Mtext"   a chat line from the server
 *   "Stext"   a new connection state: connecting / connected /
 *             reconnecting in N.N s
 *   "Etext"   an error to show until the next state "connected" (message
 *             too long; "disconnected: 1008 sending too fast; reconnecting
 *             in 2.0 s": the close code and the server's reason...)
 *   "Ntext"   a notice of the client's own for the chat log (the same
 *             "disconnected: CODE REASON", so that it stays in view)
 * The string is valid until the next chat_poll. When the connection goes,
 * it reconnects after 0.5 s, doubling up to 8 s, back to 0.5 s once open;
 * a server that closed it with 1008 (policy) or 1013 (try again later) is
 * given at least 2 s.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <emscripten.h>
#include <emscripten/eventloop.h>

#include "wsc.h"

#define CHAT_MAX_MESSAGE 4096   /* the server's read limit */
#define BACKOFF_MIN_MS 500.0
#define BACKOFF_MAX_MS 8000.0
#define BACKOFF_REFUSED_MS 2000.0   /* after a 1008 or 1013 */
#define EVENTS_MAX 256

enum { CHAT_ETOOLONG = -100, CHAT_ENOTCONN = -101 };

/* What the page calls (exported; see the comment at the top). */
int chat_connect(const char *url);
int chat_send(const char *text);
const char *chat_poll(void);

typedef enum { IDLE, DIALING, OPEN, WAITING } phase;

static struct {
    char *url;
    wsc_conn *conn;
    phase phase;
    double backoff_ms;
    char *events[EVENTS_MAX];   /* ring of pending events */
    int ev_head, ev_count;
    char *current;              /* the event last returned by chat_poll */
} g = {.backoff_ms = BACKOFF_MIN_MS};

/* Queues an event: kind, then the formatted text. Drops it when full. */
static void emit(char kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(char kind, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = strlen(buf);
    char *e = malloc(n + 2);
    if (!e || g.ev_count == EVENTS_MAX) {
        free(e);
        return;
    }
    e[0] = kind;
    memcpy(e + 1, buf, n + 1);
    g.events[(g.ev_head + g.ev_count) % EVENTS_MAX] = e;
    g.ev_count++;
}

/* Queues a chat line as it came (no formatting, any length). */
static void emit_message(const char *data, size_t len)
{
    char *e = malloc(len + 2);
    if (!e || g.ev_count == EVENTS_MAX) {
        free(e);
        return;
    }
    e[0] = 'M';
    memcpy(e + 1, data, len);
    e[len + 1] = '\0';
    g.events[(g.ev_head + g.ev_count) % EVENTS_MAX] = e;
    g.ev_count++;
}

EM_JS(void, page_notify, (void), {
    if (Module.onChatEvents) Module.onChatEvents();
});

/* Tells the page that events are queued. */
static void notify(void)
{
    if (g.ev_count > 0)
        page_notify();
}

static void dial(void);

static void redial(void *user)
{
    (void)user;
    dial();
    notify();
}

/* Waits g.backoff_ms before the next dial (and doubles it for the one after). */
static void wait_then_redial(void)
{
    g.phase = WAITING;
    emscripten_set_timeout(redial, g.backoff_ms, NULL);
    emit('S', "reconnecting in %.1f s", g.backoff_ms / 1000);
    g.backoff_ms = g.backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : g.backoff_ms * 2;
}

static void on_conn_event(wsc_conn *c, void *user);

static void dial(void)
{
    wsc_dial_options o = {0};
    o.nonblocking = true;
    emit('S', "connecting");
    if (wsc_dial(g.url, &o, &g.conn, NULL) < 0) {
        g.conn = NULL;
        emit('E', "cannot connect: %s; retrying in %.1f s", wsc_last_error(), g.backoff_ms / 1000);
        wait_then_redial();
        return;
    }
    wsc_set_event_handler(g.conn, on_conn_event, NULL);
    g.phase = DIALING;
}

/* Why the server ended the connection: "CODE REASON", "CODE" without a
 * reason, or "connection lost" without a close frame (-1, or the browser's
 * 1006). */
static void describe_close(char *buf, size_t cap)
{
    int status = wsc_close_status(g.conn);
    const char *reason = wsc_close_reason(g.conn);
    if (status < 0 || status == WSC_STATUS_ABNORMAL_CLOSURE)
        snprintf(buf, cap, "connection lost");
    else if (reason[0] == '\0')
        snprintf(buf, cap, "%d", status);
    else
        snprintf(buf, cap, "%d %s", status, reason);
}

/* The connection ended (or never opened): say why, wait, then redial. */
static void lost(void)
{
    int status = wsc_close_status(g.conn);
    if ((status == WSC_STATUS_POLICY_VIOLATION || status == WSC_STATUS_TRY_AGAIN_LATER) &&
        g.backoff_ms < BACKOFF_REFUSED_MS)
        g.backoff_ms = BACKOFF_REFUSED_MS;
    if (g.phase == OPEN) {
        char why[160];
        describe_close(why, sizeof why);
        emit('N', "disconnected: %s", why);
        emit('E', "disconnected: %s; reconnecting in %.1f s", why, g.backoff_ms / 1000);
    } else {
        emit('E', "cannot connect; retrying in %.1f s", g.backoff_ms / 1000);
    }
    wsc_conn_free(g.conn);
    g.conn = NULL;
    wait_then_redial();
}

static void poll_dialing(void)
{
    wsc_state st = wsc_get_state(g.conn);
    if (st == WSC_STATE_OPEN) {
        g.phase = OPEN;
        g.backoff_ms = BACKOFF_MIN_MS;
        emit('S', "connected");
    } else if (st != WSC_STATE_CONNECTING) {
        lost();
    }
}

static void poll_open(void)
{
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        int err = wsc_read(g.conn, 0, &type, &data, &len);
        if (err == WSC_EAGAIN)
            return;
        if (err < 0) {
            lost();
            return;
        }
        if (type == WSC_TEXT)
            emit_message(data, len);
    }
}

/* The socket has something: open, closed, or messages. */
static void on_conn_event(wsc_conn *c, void *user)
{
    (void)c, (void)user;
    if (g.phase == DIALING)
        poll_dialing();
    if (g.phase == OPEN)
        poll_open();
    notify();
}

EMSCRIPTEN_KEEPALIVE
int chat_connect(const char *url)
{
    if (g.url)
        return WSC_EINVAL;
    size_t n = strlen(url) + 1;
    g.url = malloc(n);
    if (!g.url)
        return WSC_ENOMEM;
    memcpy(g.url, url, n);
    dial();
    notify();
    return 0;
}

EMSCRIPTEN_KEEPALIVE
int chat_send(const char *text)
{
    size_t len = strlen(text);
    if (len > CHAT_MAX_MESSAGE) {
        emit('E', "message too long (%zu bytes, max %d)", len, CHAT_MAX_MESSAGE);
        return CHAT_ETOOLONG;
    }
    if (g.phase != OPEN) {
        emit('E', "not connected");
        return CHAT_ENOTCONN;
    }
    int err = wsc_write(g.conn, WSC_TEXT, text, len, 0);
    if (err < 0)
        emit('E', "send failed: %s", wsc_strerror(err));
    return err;
}

EMSCRIPTEN_KEEPALIVE
const char *chat_poll(void)
{
    free(g.current);
    g.current = NULL;
    if (g.ev_count == 0)
        return NULL;
    g.current = g.events[g.ev_head];
    g.ev_head = (g.ev_head + 1) % EVENTS_MAX;
    g.ev_count--;
    return g.current;
}
