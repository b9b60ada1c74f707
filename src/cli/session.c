/* SPDX-License-Identifier: MIT */
/*
 * session.c - one connection piped to stdin and stdout: a reader thread
 * prints every message, an optional ping thread keeps the connection
 * checked, and the calling thread sends stdin lines until EOF, then closes.
 * Decides the exit code from how the connection ended.
 */
#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* At stdin EOF a ping goes out and its pong is awaited before the close:
 * replies the peer sent before the pong are printed, not discarded. The wait
 * ends after a round this long in which the reader printed nothing (see
 * ping_patiently). The ping is waited for on a thread of its own, so that
 * the main thread keeps watching the wake pipe and a signal closes at once. */
#define BARRIER_PING_MS 5000

typedef struct {
    wsc_conn *c;
    const cli_options *o;
    int wake[2];              /* reader or signal -> main thread */
    pthread_t reader;
    pthread_t pinger;
    bool have_pinger;
    pthread_t barrier;        /* waits for the end-of-input pong */
    bool have_barrier;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop;                /* the pinger should end */
    bool printing;            /* the reader is writing a message to stdout */
    unsigned long printed;    /* messages the reader wrote to stdout */
    bool ping_dead;           /* a ping timed out */
    int barrier_result;       /* what the end-of-input wsc_ping returned */
    bool barrier_late;        /* we closed without the end-of-input pong */
    bool interrupted;         /* we closed because of a signal */
    bool out_failed;          /* stdout failed */
    int read_err;             /* why the reader stopped */
    char read_detail[512];    /* wsc_last_error() of that failure */
} session;

/* Line buffer for stdin, read with read(2) so poll(2) sees what is left. */
typedef struct {
    char *buf;
    size_t len;
    size_t cap;
    bool eof;
} linebuf;

static int g_signal_fd = -1;
static atomic_int g_signal;   /* the first SIGINT or SIGTERM, 0 before */

static void on_signal(int sig)
{
    atomic_store(&g_signal, sig);
    char b = 's'; /* WAKE_SIGNAL */
    if (g_signal_fd >= 0 && write(g_signal_fd, &b, 1) < 0) {
        /* nothing to do: the main thread is woken by the other end anyway */
    }
}

static void catch_signals(int fd)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigemptyset(&sa.sa_mask);
    g_signal_fd = fd;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void restore_signals(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    g_signal_fd = -1;
}

/* ---- output --------------------------------------------------------------- */

static int print_hex(const unsigned char *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char chunk[512];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        chunk[n++] = digits[p[i] >> 4];
        chunk[n++] = digits[p[i] & 15];
        if (n == sizeof chunk) {
            if (fwrite(chunk, 1, n, stdout) != n)
                return -1;
            n = 0;
        }
    }
    if (n && fwrite(chunk, 1, n, stdout) != n)
        return -1;
    return 0;
}

int cli_print_message(const cli_options *o, wsc_msg_type type,
                      const void *data, size_t len)
{
    int r = 0;
    if (type == WSC_BINARY && !o->raw) {
        r = print_hex(data, len);
        if (r == 0 && fputc('\n', stdout) == EOF)
            r = -1;
    } else {
        if (len && fwrite(data, 1, len, stdout) != len)
            r = -1;
        if (r == 0 && type == WSC_TEXT && fputc('\n', stdout) == EOF)
            r = -1;
    }
    if (fflush(stdout) == EOF)
        r = -1;
    return r;
}

/* ---- threads -------------------------------------------------------------- */

/* Wake-pipe bytes: what woke the main thread. */
#define WAKE_READER_ENDED 'r'
#define WAKE_SIGNAL 's'
#define WAKE_BARRIER_DONE 'b'

static void wake_main(session *s, char why)
{
    if (write(s->wake[1], &why, 1) < 0) {
        /* the pipe cannot be full: a few bytes per session */
    }
}

/* The reader says when it prints, so that the ping waits know a slow
 * stdout from a silent peer. */
static void set_printing(session *s, bool on)
{
    pthread_mutex_lock(&s->mu);
    s->printing = on;
    if (!on)
        s->printed++;
    pthread_mutex_unlock(&s->mu);
}

static unsigned long printed_count(session *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned long n = s->printed;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* True when the reader printed since printed_count() was `before`, or is
 * printing now. */
static bool reader_busy_since(session *s, unsigned long before)
{
    pthread_mutex_lock(&s->mu);
    bool busy = s->printing || s->printed != before;
    pthread_mutex_unlock(&s->mu);
    return busy;
}

/* wsc_ping whose patience stretches while the reader is busy: the pong is
 * read after every message the peer sent before it, so a slow stdout makes
 * it late, not lost. A round of ms in which the reader printed is followed
 * by a new ping. WSC_ETIMEDOUT when a round passed with the reader idle and
 * no pong. Our close (on a signal) ends the wait with WSC_ECLOSED. */
static int ping_patiently(session *s, int ms)
{
    for (;;) {
        unsigned long before = printed_count(s);
        int r = wsc_ping(s->c, ms);
        if (r != WSC_ETIMEDOUT || !reader_busy_since(s, before))
            return r;
    }
}

static void *reader_main(void *arg)
{
    session *s = arg;
    for (;;) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        int r = wsc_read(s->c, -1, &type, &data, &len);
        if (r < 0) {
            s->read_err = r;
            snprintf(s->read_detail, sizeof s->read_detail, "%s", wsc_last_error());
            break;
        }
        set_printing(s, true);
        r = cli_print_message(s->o, type, data, len);
        set_printing(s, false);
        if (r < 0) {
            s->out_failed = true;
            cli_err("cannot write to stdout: %s", strerror(errno));
            wsc_close(s->c, WSC_STATUS_GOING_AWAY, "");
            s->read_err = WSC_ECLOSED;
            break;
        }
    }
    wake_main(s, WAKE_READER_ENDED);
    return NULL;
}

/* Waits up to ms for stop; returns true when told to stop. */
static bool pinger_sleep(session *s, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        if (pthread_cond_timedwait(&s->cond, &s->mu, &until) == ETIMEDOUT)
            break;
    }
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void *pinger_main(void *arg)
{
    session *s = arg;
    int every = s->o->ping_interval_ms;
    while (!pinger_sleep(s, every)) {
        int r = ping_patiently(s, every);
        if (r == WSC_ETIMEDOUT) {
            cli_err("no pong within %d ms: closing the connection", every);
            s->ping_dead = true;
            wsc_close_now(s->c);
            break;
        }
        if (r < 0)
            break; /* the connection ended; the reader reports it */
    }
    return NULL;
}

static void stop_pinger(session *s)
{
    if (!s->have_pinger)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->pinger, NULL);
}

/* ---- stdin ---------------------------------------------------------------- */

/* Sends every complete line in lb (all of it at EOF). Returns 0 or the error
 * of wsc_write. */
static int send_lines(session *s, linebuf *lb)
{
    wsc_msg_type type = s->o->binary ? WSC_BINARY : WSC_TEXT;
    size_t start = 0;
    if (lb->len == 0)
        return 0; /* nothing read yet (buf may be NULL), or all sent */
    for (;;) {
        char *nl = memchr(lb->buf + start, '\n', lb->len - start);
        size_t end = nl ? (size_t)(nl - lb->buf) : lb->len;
        if (!nl && (!lb->eof || end == start))
            break;
        int r = wsc_write(s->c, type, lb->buf + start, end - start, -1);
        if (r < 0)
            return r;
        start = nl ? end + 1 : end;
    }
    memmove(lb->buf, lb->buf + start, lb->len - start);
    lb->len -= start;
    return 0;
}

/* Reads what stdin has into lb. Returns 0, or -1 on a read error. */
static int read_stdin(linebuf *lb)
{
    if (lb->cap - lb->len < 4096) {
        size_t cap = lb->cap ? lb->cap * 2 : 16384;
        char *p = realloc(lb->buf, cap);
        if (!p) {
            cli_err("out of memory reading stdin");
            return -1;
        }
        lb->buf = p;
        lb->cap = cap;
    }
    ssize_t n = read(0, lb->buf + lb->len, lb->cap - lb->len);
    if (n < 0 && errno == EINTR)
        return 0;
    if (n < 0) {
        cli_err("cannot read stdin: %s", strerror(errno));
        return -1;
    }
    if (n == 0)
        lb->eof = true;
    lb->len += (size_t)n;
    return 0;
}

enum { PUMP_EOF, PUMP_ENDED, PUMP_SIGNAL, PUMP_FAILED, PUMP_BARRIER_DONE };

/* Waits on the wake pipe for up to ms (-1: no limit); returns PUMP_ENDED,
 * PUMP_SIGNAL, PUMP_BARRIER_DONE, or PUMP_EOF when the time ran out. */
static int wait_wake(session *s, int ms)
{
    struct pollfd p = {.fd = s->wake[0], .events = POLLIN};
    int n;
    while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
        ;
    if (n <= 0)
        return PUMP_EOF;
    char b;
    if (read(s->wake[0], &b, 1) != 1)
        return PUMP_ENDED;
    if (b == WAKE_SIGNAL)
        return PUMP_SIGNAL;
    return b == WAKE_BARRIER_DONE ? PUMP_BARRIER_DONE : PUMP_ENDED;
}

/* Sends stdin lines until EOF, the connection's end, or a signal. */
static int pump_stdin(session *s)
{
    linebuf lb = {0};
    int result = PUMP_EOF;
    for (;;) {
        if (send_lines(s, &lb) < 0) {
            result = PUMP_ENDED; /* the reader reports why */
            break;
        }
        if (lb.eof)
            break;
        struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = s->wake[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            result = PUMP_FAILED;
            break;
        }
        if (p[1].revents) {
            result = wait_wake(s, 0);
            break;
        }
        if (p[0].revents && read_stdin(&lb) < 0) {
            result = PUMP_FAILED;
            break;
        }
    }
    free(lb.buf);
    return result;
}

/* ---- the end -------------------------------------------------------------- */

static bool normal_status(int status)
{
    return status == WSC_STATUS_NORMAL_CLOSURE || status == WSC_STATUS_GOING_AWAY ||
           status == WSC_STATUS_NO_STATUS_RCVD;
}

/* The exit code once the reader stopped; close_err is what our wsc_close
 * returned (1 when we did not call it). */
static int session_result(session *s, int close_err)
{
    char name[64];
    if (s->out_failed)
        return CLI_EXIT_LOCAL;
    if (s->interrupted)
        return 128 + atomic_load(&g_signal);
    if (s->ping_dead || s->barrier_late)
        return CLI_EXIT_LOST;
    if (close_err == 0)
        return CLI_EXIT_OK;
    if (close_err == WSC_ETIMEDOUT) {
        cli_err("the peer did not answer our close frame");
        return CLI_EXIT_LOST;
    }
    int status = wsc_close_status(s->c);
    if (s->read_err == WSC_EPROTO || s->read_err == WSC_EMSGSIZE) {
        cli_err("%s: %s", cli_err_name(s->read_err, name, sizeof name), s->read_detail);
        return CLI_EXIT_PROTO;
    }
    if (status < 0) {
        cli_err("connection lost: %s", s->read_detail[0] ? s->read_detail : "no close frame");
        return CLI_EXIT_LOST;
    }
    if (normal_status(status))
        return CLI_EXIT_OK;
    cli_err("the peer closed the connection with %d %s \"%s\"", status,
            wsc_status_string(status), wsc_close_reason(s->c));
    return CLI_EXIT_PEER_ERROR;
}

static void *barrier_main(void *arg)
{
    session *s = arg;
    int r = ping_patiently(s, BARRIER_PING_MS);
    pthread_mutex_lock(&s->mu);
    s->barrier_result = r;
    pthread_mutex_unlock(&s->mu);
    wake_main(s, WAKE_BARRIER_DONE);
    return NULL;
}

/* The end-of-input ping on its thread (here when no thread can be had: then
 * a signal waits for the ping). */
static void start_barrier(session *s)
{
    s->have_barrier = pthread_create(&s->barrier, NULL, barrier_main, s) == 0;
    if (!s->have_barrier)
        barrier_main(s);
}

static void join_barrier(session *s)
{
    if (s->have_barrier)
        pthread_join(s->barrier, NULL); /* our close or the end of c ends its ping */
}

/* What the end-of-input ping came to: PUMP_EOF when the pong came, or did
 * not (said, and counted against the exit code); PUMP_ENDED when the
 * connection ended. */
static int barrier_outcome(session *s)
{
    pthread_mutex_lock(&s->mu);
    int r = s->barrier_result;
    pthread_mutex_unlock(&s->mu);
    if (r == WSC_ETIMEDOUT) {
        cli_err("no pong to our end-of-input ping within %d s: closing anyway; "
                "replies the peer sends after our close frame are lost",
                BARRIER_PING_MS / 1000);
        s->barrier_late = true;
        return PUMP_EOF;
    }
    return r < 0 ? PUMP_ENDED : PUMP_EOF;
}

/* At EOF: waits for the pong of a ping sent after the last line, so that
 * every reply the peer sent before it is printed (data arriving after our
 * close frame is discarded). Returns PUMP_EOF, PUMP_ENDED, or PUMP_SIGNAL at
 * once when a signal comes meanwhile. */
static int barrier(session *s)
{
    start_barrier(s);
    int how = wait_wake(s, -1);
    return how == PUMP_BARRIER_DONE ? barrier_outcome(s) : how;
}

/* At EOF (or a signal): let earlier replies arrive, then close; a signal
 * meanwhile closes at once. Returns what wsc_close returned, or 1 when the
 * connection ended meanwhile. */
static int finish(session *s, int how)
{
    const cli_options *o = s->o;
    if (how == PUMP_EOF)
        how = barrier(s);
    if (how == PUMP_EOF)
        how = wait_wake(s, o->wait_ms);
    if (how == PUMP_ENDED)
        return 1;
    if (how == PUMP_SIGNAL) {
        s->interrupted = true;
        return wsc_close(s->c, WSC_STATUS_GOING_AWAY, "");
    }
    return wsc_close(s->c, o->close_code, o->close_reason);
}

/* Starts the pinger (with --ping-interval) and the reader. Returns 0, or -1
 * with neither running after saying which could not start. */
static int start_threads(session *s)
{
    const char *which = "the ping thread";
    int err = 0;
    if (s->o->ping_interval_ms > 0) {
        err = pthread_create(&s->pinger, NULL, pinger_main, s);
        s->have_pinger = err == 0;
    }
    if (err == 0) {
        which = "the reader thread";
        err = pthread_create(&s->reader, NULL, reader_main, s);
    }
    if (err == 0)
        return 0;
    cli_err("cannot start %s: %s (for more threads raise the task limit, ulimit -u)", which,
            strerror(err));
    stop_pinger(s);
    return -1;
}

static void session_free(session *s)
{
    restore_signals();
    close(s->wake[0]);
    close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
}

int cli_session(wsc_conn *c, const cli_options *o)
{
    session s = {.c = c, .o = o};
    if (pipe(s.wake) < 0) {
        cli_err("pipe: %s", strerror(errno));
        return CLI_EXIT_LOCAL;
    }
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cond, NULL);
    wsc_set_read_limit(c, o->max_size);
    catch_signals(s.wake[1]);
    if (start_threads(&s) < 0) {
        wsc_close(c, WSC_STATUS_GOING_AWAY, "");
        session_free(&s);
        return CLI_EXIT_LOCAL;
    }

    int close_err = 1;
    int how = pump_stdin(&s);
    if (how == PUMP_FAILED)
        wsc_close(c, WSC_STATUS_GOING_AWAY, "");
    else if (how != PUMP_ENDED)
        close_err = finish(&s, how);
    pthread_join(s.reader, NULL);
    stop_pinger(&s);
    join_barrier(&s);
    int code = how == PUMP_FAILED ? CLI_EXIT_LOCAL : session_result(&s, close_err);
    session_free(&s);
    return code;
}
