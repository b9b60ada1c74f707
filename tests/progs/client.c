/* SPDX-License-Identifier: MIT */
/*
 * client - a scripted WebSocket client on the public wsc API, for the interop
 * tests. Portable C11 only (no POSIX headers) so that it also builds for wasm.
 *
 *   client URL [--subprotocol X]... [--header 'Name: value']...
 *              [--read-limit N] [--timeout MS]
 *              [--compress disabled|takeover|no-takeover] [--threshold N]
 *              [--ca FILE] [--ca-dir DIR] [--cert FILE --key FILE] [--insecure]
 *              [--proxy URL] [--print-control] [--heartbeat MS] [--idle MS]
 *              [--max-redirects N] [--level N] [--mem-level N] [--window-bits N]
 *              [--peer-window-bits N] STEP...
 *
 * Dials URL, prints "CONNECTED subprotocol=<name> extensions=<value>" (the
 * negotiated Sec-WebSocket-Extensions, empty when none), runs the steps in order and
 * prints "OK" (exit 0). The first step that fails prints
 *   FAIL <step> <wsc_strerror(err)> <wsc_last_error()>
 * and exits 1 (a failed dial is step "dial" and adds "status=<http status>").
 *
 * Steps (one argv word each):
 *   send-text:STR       a text message STR
 *   send-bin:SIZE       a binary message of SIZE bytes, byte i = i % 251
 *   send-frag:N:SIZE    the same binary message sent with the writer API as N
 *                       data frames (SIZE/N bytes each, the last one takes the
 *                       rest) plus wsc_writer_end's final frame
 *   send-json:SIZE      a text message of SIZE bytes of repetitive JSON (a
 *                       compressible stream, as an API would send): records
 *                       {"id":..,"user":..,"items":[..],..} that vary a little
 *                       with the record and with a message counter (so two
 *                       messages in a row are similar, not equal), padded
 *                       with spaces to SIZE. ASCII only.
 *   send-random:SIZE[:SEED[:PERIOD]]
 *                       a binary message of SIZE incompressible bytes from a
 *                       PRNG (xorshift32, byte = state >> 11 after each step).
 *                       Without SEED the state starts at 0x2545f491 and
 *                       carries on from one such step to the next (messages
 *                       differ); with SEED (nonzero) it starts at SEED and is
 *                       not kept (the same SIZE and SEED repeat a message).
 *                       PERIOD > 0: the first PERIOD bytes repeated to SIZE
 *                       (compressible once the window holds PERIOD bytes)
 *   expect-echo         reads one message; it must equal the last one sent
 *                       (type and bytes), else "FAIL expect-echo MISMATCH ..."
 *   read                reads one message and prints
 *                         MSG <text|binary> <len> fnv=<8 hex digits> [<text>]
 *                       fnv is the 32-bit FNV-1a hash of the whole payload;
 *                       <text> is the first 64 bytes of a text message
 *                       (control bytes shown as '.'), absent for binary
 *   send-ping:TEXT      wsc_send_ping with TEXT as its payload (no waiting)
 *   send-pong:TEXT      wsc_send_pong: an unsolicited pong with TEXT
 *   ping                wsc_close_read, then wsc_ping(c, 5000). Portable code
 *                       has no threads, and a ping needs a reader to collect
 *                       its pong, so this step hands reading to the library's
 *                       background reader: no read step may follow it (they
 *                       would fail with WSC_EINVAL); close steps may.
 *                       Prints "PONG".
 *   close:CODE:REASON   wsc_close(c, CODE, REASON) (REASON may contain ':' or
 *                       be empty) and prints "CLOSE status=<n> reason=<r>", the
 *                       peer's answering close frame
 *   close-now           wsc_close_now(c)
 *   redial              blocking only: wsc_close(c, 1000, ""), then the same
 *                       dial again (same URL and options, no --header) and
 *                       prints "REDIALED resumed=<0|1>" (wsc_tls_did_resume)
 *   compress:off|on     wsc_set_write_compression for the messages after it
 *   read-until-close    reads (printing MSG lines as "read" does) until a read
 *                       fails, then prints
 *                         CLOSED <WSC_E... name> status=<n> reason=<r>
 *                       (status: wsc_close_status). Only a timeout fails it.
 *
 * --read-limit N calls wsc_set_read_limit (-1: none). --timeout MS bounds each
 * read and write (default 10000) so that a broken peer cannot hang a test.
 * --drive events|loop (wasm only, for builds without Asyncify or threads):
 * nothing blocks; the dial is nonblocking and the steps run as far as they
 * can with timeout-0 calls, resumed by wsc_set_event_handler's events
 * ("events") or by emscripten_set_main_loop every frame ("loop"). The output
 * is the same as when blocking; --timeout then bounds each step's wait.
 * --print-control sets on_pong and on_close, which print "ON_PONG <payload>"
 * and "ON_CLOSE <code> <reason>" when they are called.
 * --compress and --threshold set the permessage-deflate mode and threshold;
 * --ca, --ca-dir, --cert, --key and --insecure fill opts.tls; --proxy sets
 * opts.proxy ("" for none; absent: the environment decides).
 * --heartbeat and --idle set opts.heartbeat_ms and opts.idle_timeout_ms.
 * --level, --mem-level, --window-bits, --peer-window-bits fill opts.deflate.
 * --max-redirects N sets opts.max_redirects and prints "URL <resp.url>"
 * after a successful dial.
 */
#include "wsc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __EMSCRIPTEN__
#include <time.h>

#include <emscripten.h>
#include <emscripten/eventloop.h>
#endif

#define MAX_LIST 16

static wsc_conn *g_conn;
static int g_timeout = 10000;
static wsc_msg_type g_last_type;
static unsigned char *g_last;
static size_t g_last_len;
static int g_have_last;

/* --drive: 0 blocking calls, else DRIVE_EVENTS or DRIVE_LOOP (wasm). */
enum { DRIVE_BLOCKING, DRIVE_EVENTS, DRIVE_LOOP };
static int g_drive;
/* A step that cannot finish yet in a drive mode returns STEP_WAIT. */
enum { STEP_DONE, STEP_WAIT };

/* Ends the program. In a drive mode main returned long ago and left the
 * runtime alive: only emscripten_force_exit reports the status then. */
static void finish(int status) {
    fflush(stdout);
#ifdef __EMSCRIPTEN__
    if (g_drive) {
        if (g_drive == DRIVE_LOOP) emscripten_cancel_main_loop();
        emscripten_force_exit(status);
    }
#endif
    exit(status);
}

static void usage(void) {
    fprintf(stderr, "usage: client URL [--subprotocol X]... [--header 'Name: value']...\n"
                    "              [--read-limit N] [--timeout MS]\n"
                    "              [--compress disabled|takeover|no-takeover] [--threshold N]\n"
                    "              [--ca FILE] [--ca-dir DIR] [--cert FILE --key FILE] [--insecure]\n"
                    "              [--proxy URL] [--print-control] [--heartbeat MS] [--idle MS]\n"
                    "              [--max-redirects N] [--level N] [--mem-level N] [--window-bits N]\n"
                    "              [--peer-window-bits N] STEP...\n");
    fflush(stdout);
    exit(2);
}

/* "WSC_ECLOSED" out of "WSC_ECLOSED: ...". */
static const char *err_name(int err, char *buf, size_t cap) {
    const char *s = wsc_strerror(err);
    size_t n = strcspn(s, ":");
    if (n >= cap) n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

static void fail(const char *step, int err) {
    char detail[512];
    snprintf(detail, sizeof detail, "%s", wsc_last_error());
    printf("FAIL %s %s %s\n", step, wsc_strerror(err), detail);
    wsc_conn_free(g_conn);
    g_conn = NULL;
    free(g_last);
    finish(1);
}

static unsigned long fnv1a(const unsigned char *p, size_t n) {
    unsigned long h = 2166136261UL;
    for (size_t i = 0; i < n; i++) h = ((h ^ p[i]) * 16777619UL) & 0xffffffffUL;
    return h;
}

static void print_msg(wsc_msg_type type, const unsigned char *p, size_t len) {
    printf("MSG %s %zu fnv=%08lx", wsc_msg_type_string(type), len, fnv1a(p, len));
    if (type == WSC_TEXT) {
        putchar(' ');
        for (size_t i = 0; i < len && i < 64; i++) putchar(p[i] < 0x20 || p[i] == 0x7f ? '.' : p[i]);
    }
    putchar('\n');
    fflush(stdout);
}

/* Remembers what was sent, for expect-echo. */
static void set_last(wsc_msg_type type, unsigned char *buf, size_t len) {
    free(g_last);
    g_last = buf;
    g_last_len = len;
    g_last_type = type;
    g_have_last = 1;
}

static void *xmalloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) {
        printf("FAIL alloc out of memory\n");
        fflush(stdout);
        exit(1);
    }
    return p;
}

/* send-json: SIZE bytes of JSON-like text, message number g_json_msgs. */
static unsigned long g_json_msgs;

static unsigned char *json_text(size_t size) {
    static const char *const names[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace"};
    static const char *const skus[] = {"BK-1042", "PN-2210", "MG-0007", "TS-3141", "CB-2718"};
    unsigned char *buf = xmalloc(size + 1);
    unsigned long msg = g_json_msgs++;
    size_t off = 0;
    char rec[320];
    if (size >= 2) {
        buf[off++] = '[';
        for (unsigned long k = 0;; k++) {
            unsigned long id = msg * 1000 + k;
            int n = snprintf(rec, sizeof rec,
                             "%s{\"id\":%lu,\"user\":\"%s\",\"active\":%s,\"score\":%lu,"
                             "\"items\":[{\"sku\":\"%s\",\"qty\":%lu},{\"sku\":\"%s\",\"qty\":%lu}],"
                             "\"tags\":[\"alpha\",\"beta\"],\"ts\":\"2024-05-%02luT12:%02lu:%02luZ\"}",
                             k ? "," : "", id, names[id % 7], id % 3 ? "true" : "false",
                             (id * 7919) % 1000, skus[id % 5], id % 4 + 1, skus[(id + 2) % 5],
                             id % 9 + 1, id % 28 + 1, id % 60, (id * 7) % 60);
            if (n < 0 || (size_t)n > size - 1 - off) break;  /* room for the ']' */
            memcpy(buf + off, rec, (size_t)n);
            off += (size_t)n;
        }
        buf[off++] = ']';
    }
    memset(buf + off, ' ', size - off);
    buf[size] = '\0';
    return buf;
}

/* send-random: xorshift32, its state kept from one message to the next. */
static unsigned long g_rand_state = 0x2545f491UL;

static unsigned char *random_bytes(size_t size, unsigned long seed, size_t period) {
    unsigned char *buf = xmalloc(size);
    unsigned long x = seed ? seed & 0xffffffffUL : g_rand_state;
    size_t n = period && period < size ? period : size;
    for (size_t i = 0; i < n; i++) {
        x ^= (x << 13) & 0xffffffffUL;
        x ^= x >> 17;
        x ^= (x << 5) & 0xffffffffUL;
        buf[i] = (unsigned char)(x >> 11);
    }
    for (size_t i = n; i < size; i++) buf[i] = buf[i - n];
    if (!seed) g_rand_state = x;
    return buf;
}

static unsigned char *pattern(size_t size) {
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) {
        printf("FAIL alloc out of memory\n");
        fflush(stdout);
        exit(1);
    }
    for (size_t i = 0; i < size; i++) buf[i] = (unsigned char)(i % 251);
    return buf;
}

static long parse_long(const char *s, const char *step) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || (*end && *end != ':')) {
        printf("FAIL %s bad number '%s'\n", step, s);
        fflush(stdout);
        exit(2);
    }
    return v;
}

/* The dial's URL and options, and --read-limit, for the redial step. */
static const char *g_url;
static wsc_dial_options g_opts;
static int g_have_limit;
static long long g_limit;

/* Runs one step: STEP_DONE, or STEP_WAIT when a drive mode must come back
 * later (only read and close steps wait). The timeout of each call is
 * g_timeout when blocking, else 0. */
static int run_step(const char *step) {
    wsc_conn *c = g_conn;
    int wait = g_drive ? 0 : g_timeout;
    int rc;
    if (strncmp(step, "send-text:", 10) == 0) {
        const char *s = step + 10;
        size_t n = strlen(s);
        unsigned char *copy = malloc(n + 1);
        if (!copy) fail(step, WSC_ENOMEM);
        memcpy(copy, s, n + 1);
        rc = wsc_write(c, WSC_TEXT, copy, n, wait);
        if (rc) fail(step, rc);
        set_last(WSC_TEXT, copy, n);
    } else if (strncmp(step, "send-bin:", 9) == 0) {
        size_t size = (size_t)parse_long(step + 9, step);
        unsigned char *buf = pattern(size);
        rc = wsc_write(c, WSC_BINARY, buf, size, wait);
        if (rc) fail(step, rc);
        set_last(WSC_BINARY, buf, size);
    } else if (strncmp(step, "send-json:", 10) == 0 || strncmp(step, "send-random:", 12) == 0) {
        int json = step[5] == 'j';
        const char *arg = step + (json ? 10 : 12);
        size_t size = (size_t)parse_long(arg, step);
        const char *seed = json ? NULL : strchr(arg, ':');
        const char *period = seed ? strchr(seed + 1, ':') : NULL;
        unsigned char *buf = json ? json_text(size)
                                  : random_bytes(size, seed ? (unsigned long)parse_long(seed + 1, step) : 0,
                                                 period ? (size_t)parse_long(period + 1, step) : 0);
        wsc_msg_type type = json ? WSC_TEXT : WSC_BINARY;
        rc = wsc_write(c, type, buf, size, wait);
        if (rc) fail(step, rc);
        set_last(type, buf, size);
    } else if (strncmp(step, "send-frag:", 10) == 0) {
        long n = parse_long(step + 10, step);
        const char *p = strchr(step + 10, ':');
        if (!p || n < 1) usage();
        size_t size = (size_t)parse_long(p + 1, step);
        unsigned char *buf = pattern(size);
        size_t piece = size / (size_t)n, off = 0;
        rc = wsc_writer_begin(c, WSC_BINARY, wait);
        for (long i = 0; rc == 0 && i < n; i++) {
            size_t len = i == n - 1 ? size - off : piece;
            rc = wsc_writer_write(c, buf + off, len);
            off += len;
        }
        if (rc == 0) rc = wsc_writer_end(c);
        if (rc) fail(step, rc);
        set_last(WSC_BINARY, buf, size);
    } else if (strcmp(step, "expect-echo") == 0 || strcmp(step, "read") == 0) {
        wsc_msg_type type;
        const void *data;
        size_t len;
        rc = wsc_read(c, wait, &type, &data, &len);
        if (rc == WSC_EAGAIN && g_drive) return STEP_WAIT;
        if (rc) fail(step, rc);
        if (step[0] == 'r') {
            print_msg(type, data, len);
        } else if (!g_have_last) {
            printf("FAIL expect-echo nothing was sent before\n");
            finish(1);
        } else if (type != g_last_type || len != g_last_len ||
                   (len && memcmp(data, g_last, len) != 0)) {
            size_t at = 0;
            while (at < len && at < g_last_len && ((const unsigned char *)data)[at] == g_last[at]) at++;
            printf("FAIL expect-echo MISMATCH got %s len=%zu, want %s len=%zu, first difference at byte %zu\n",
                   wsc_msg_type_string(type), len, wsc_msg_type_string(g_last_type), g_last_len, at);
            finish(1);
        }
    } else if (strncmp(step, "send-ping:", 10) == 0 || strncmp(step, "send-pong:", 10) == 0) {
        const char *text = step + 10;
        rc = step[6] == 'i' ? wsc_send_ping(c, text, strlen(text), wait)
                            : wsc_send_pong(c, text, strlen(text), wait);
        if (rc) fail(step, rc);
    } else if (strcmp(step, "ping") == 0) {
        rc = wsc_close_read(c);
        if (rc) fail(step, rc);
        rc = wsc_ping(c, 5000);
        if (rc) fail(step, rc);
        printf("PONG\n");
    } else if (strncmp(step, "close:", 6) == 0) {
        long code = parse_long(step + 6, step);
        const char *p = strchr(step + 6, ':');
        if (!g_drive) {
            rc = wsc_close(c, (int)code, p ? p + 1 : "");
        } else {
            /* As wsc_close: start the close, wait for the peer's answer. */
            static int started;
            if (!started) {
                rc = wsc_close_start(c, (int)code, p ? p + 1 : "");
                if (rc) fail(step, rc);
                started = 1;
            }
            if (wsc_get_state(c) != WSC_STATE_CLOSED) return STEP_WAIT;
            rc = wsc_close_status(c) < 0 ? WSC_ECLOSED : 0;
        }
        if (rc) fail(step, rc);
        int status = wsc_close_status(c);
        printf("CLOSE status=%d reason=%s\n", status, wsc_close_reason(c));
    } else if (strcmp(step, "redial") == 0) {
        if (g_drive) fail(step, WSC_ENOTSUP);
        if ((rc = wsc_close(c, WSC_STATUS_NORMAL_CLOSURE, "")) != 0) fail(step, rc);
        wsc_conn_free(c);
        g_conn = NULL;
        g_opts.headers = NULL; /* main freed them */
        g_opts.n_headers = 0;
        if ((rc = wsc_dial(g_url, &g_opts, &g_conn, NULL)) != 0) fail(step, rc);
        if (g_have_limit) wsc_set_read_limit(g_conn, (int64_t)g_limit);
        printf("REDIALED resumed=%d\n", wsc_tls_did_resume(g_conn));
    } else if (strcmp(step, "close-now") == 0) {
        rc = wsc_close_now(c);
        if (rc) fail(step, rc);
    } else if (strcmp(step, "compress:off") == 0 || strcmp(step, "compress:on") == 0) {
        rc = wsc_set_write_compression(c, step[9] == 'o' && step[10] == 'n');
        if (rc) fail(step, rc);
    } else if (strcmp(step, "read-until-close") == 0) {
        for (;;) {
            wsc_msg_type type;
            const void *data;
            size_t len;
            rc = wsc_read(c, wait, &type, &data, &len);
            if (rc) break;
            print_msg(type, data, len);
        }
        if (rc == WSC_EAGAIN && g_drive) {
            fflush(stdout);
            return STEP_WAIT;
        }
        if (rc == WSC_ETIMEDOUT || rc == WSC_EAGAIN) fail(step, rc);
        char name[64];
        err_name(rc, name, sizeof name);
        int status = wsc_close_status(c);
        printf("CLOSED %s status=%d reason=%s\n", name, status, wsc_close_reason(c));
    } else {
        fprintf(stderr, "client: unknown step '%s'\n", step);
        usage();
    }
    fflush(stdout);
    return STEP_DONE;
}

static void print_pong(void *user, const void *payload, size_t len) {
    (void)user;
    printf("ON_PONG %.*s\n", (int)len, (const char *)payload);
}

static void print_close(void *user, int code, const char *reason, size_t len) {
    (void)user;
    printf("ON_CLOSE %d %.*s\n", code, (int)len, reason);
}

static void print_connected(void) {
    printf("CONNECTED subprotocol=%s extensions=%s\n", wsc_subprotocol(g_conn),
           wsc_extensions(g_conn));
    fflush(stdout);
}

static void done(void) {
    printf("OK\n");
    wsc_conn_free(g_conn);
    g_conn = NULL;
    free(g_last);
    finish(0); /* see main: a return from main can lose its status in wasm */
}

/* ---- drive modes (wasm): the steps resumed by events or every frame ---- */

#ifdef __EMSCRIPTEN__
static char **g_steps;
static int g_n_steps, g_next_step, g_connected;
static double g_deadline; /* of the dial or the waiting step, 0: none */

static double now_ms(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void advance(void);

static void on_timer(void *user) {
    (void)user;
    advance();
}

/* Starts the clock on a wait (dial or step) unless it runs already. */
static void start_wait(const char *what) {
    if (g_deadline > 0) {
        if (now_ms() < g_deadline) return;
        printf("FAIL %s %s no progress within %d ms\n", what, wsc_strerror(WSC_ETIMEDOUT), g_timeout);
        finish(1);
    }
    g_deadline = now_ms() + g_timeout;
    if (g_drive == DRIVE_EVENTS) emscripten_set_timeout(on_timer, g_timeout + 1, NULL);
}

/* Runs what can run now: the end of the dial, then steps until one waits. */
static void advance(void) {
    if (!g_conn) return;
    if (!g_connected) {
        /* A failed dial passes through CLOSING (npm ws) to CLOSED without a
         * close frame; one that opened is OPEN, or closed with a status. */
        wsc_state st = wsc_get_state(g_conn);
        if (st == WSC_STATE_CONNECTING || st == WSC_STATE_CLOSING) {
            start_wait("dial");
            return;
        }
        if (st == WSC_STATE_CLOSED && wsc_close_status(g_conn) < 0) {
            printf("FAIL dial %s the WebSocket connection failed status=0\n", wsc_strerror(WSC_ECONNECT));
            finish(1);
        }
        g_connected = 1;
        g_deadline = 0;
        print_connected();
    }
    while (g_next_step < g_n_steps) {
        if (run_step(g_steps[g_next_step]) == STEP_WAIT) {
            start_wait(g_steps[g_next_step]);
            return;
        }
        g_next_step++;
        g_deadline = 0;
    }
    done();
}

static void on_event(wsc_conn *c, void *user) {
    (void)c, (void)user;
    advance();
}
#endif

int main(int argc, char **argv) {
    if (argc < 2) usage();
    const char *url = argv[1];
    const char *subprotocols[MAX_LIST];
    wsc_header headers[MAX_LIST];
    char *header_buf[MAX_LIST];
    size_t n_sub = 0, n_hdr = 0;
    int have_limit = 0;
    long long limit = 0;
    wsc_dial_options opts = {0};
    int i = 2;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char *a = argv[i];
        if (strcmp(a, "--insecure") == 0 || strcmp(a, "--print-control") == 0) { /* no value */
            if (a[2] == 'i') {
                opts.tls.insecure_skip_verify = true;
            } else {
                opts.on_pong = print_pong;
                opts.on_close = print_close;
            }
            i--;
            continue;
        }
        if (i + 1 >= argc) usage();
        const char *v = argv[i + 1];
        if (strcmp(a, "--subprotocol") == 0 && n_sub < MAX_LIST) {
            subprotocols[n_sub++] = v;
        } else if (strcmp(a, "--header") == 0 && n_hdr < MAX_LIST) {
            size_t n = strlen(v);
            char *h = malloc(n + 1);
            if (!h) return 1;
            memcpy(h, v, n + 1);
            char *colon = strchr(h, ':');
            if (!colon) usage();
            *colon = '\0';
            char *value = colon + 1;
            while (*value == ' ' || *value == '\t') value++;
            header_buf[n_hdr] = h;
            headers[n_hdr].name = h;
            headers[n_hdr].value = value;
            n_hdr++;
        } else if (strcmp(a, "--read-limit") == 0) {
            limit = strtoll(v, NULL, 10);
            have_limit = 1;
        } else if (strcmp(a, "--timeout") == 0) {
            g_timeout = atoi(v);
        } else if (strcmp(a, "--compress") == 0) {
            if (strcmp(v, "takeover") == 0) opts.compression = WSC_COMPRESSION_CONTEXT_TAKEOVER;
            else if (strcmp(v, "no-takeover") == 0) opts.compression = WSC_COMPRESSION_NO_CONTEXT_TAKEOVER;
            else if (strcmp(v, "disabled") == 0) opts.compression = WSC_COMPRESSION_DISABLED;
            else usage();
        } else if (strcmp(a, "--threshold") == 0) {
            opts.compression_threshold = atoi(v);
        } else if (strcmp(a, "--heartbeat") == 0) {
            opts.heartbeat_ms = atoi(v);
        } else if (strcmp(a, "--idle") == 0) {
            opts.idle_timeout_ms = atoi(v);
        } else if (strcmp(a, "--level") == 0) {
            opts.deflate.level = atoi(v);
        } else if (strcmp(a, "--mem-level") == 0) {
            opts.deflate.mem_level = atoi(v);
        } else if (strcmp(a, "--window-bits") == 0) {
            opts.deflate.window_bits = atoi(v);
        } else if (strcmp(a, "--peer-window-bits") == 0) {
            opts.deflate.peer_window_bits = atoi(v);
        } else if (strcmp(a, "--max-redirects") == 0) {
            opts.max_redirects = atoi(v);
        } else if (strcmp(a, "--ca") == 0) {
            opts.tls.ca_file = v;
        } else if (strcmp(a, "--ca-dir") == 0) {
            opts.tls.ca_dir = v;
        } else if (strcmp(a, "--cert") == 0) {
            opts.tls.cert_file = v;
        } else if (strcmp(a, "--key") == 0) {
            opts.tls.key_file = v;
        } else if (strcmp(a, "--proxy") == 0) {
            opts.proxy = v;
#ifdef __EMSCRIPTEN__
        } else if (strcmp(a, "--drive") == 0 && strcmp(v, "events") == 0) {
            g_drive = DRIVE_EVENTS;
        } else if (strcmp(a, "--drive") == 0 && strcmp(v, "loop") == 0) {
            g_drive = DRIVE_LOOP;
#endif
        } else {
            usage();
        }
    }

    opts.subprotocols = subprotocols;
    opts.n_subprotocols = n_sub;
    opts.headers = headers;
    opts.n_headers = n_hdr;
    opts.nonblocking = g_drive != DRIVE_BLOCKING;
    wsc_response resp = {0};
    g_url = url;
    g_opts = opts;
    int rc = wsc_dial(url, &opts, &g_conn, &resp);
    for (size_t k = 0; k < n_hdr; k++) free(header_buf[k]);  /* wsc keeps no pointer */
    if (rc) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", wsc_last_error());
        printf("FAIL dial %s %s status=%d\n", wsc_strerror(rc), detail, resp.status);
        fflush(stdout);
        wsc_response_free(&resp);
        /* exit(), not return: with emcc 3.1.6 and Asyncify a status returned
         * from main() after the program suspended is lost (exit status 0). */
        exit(1);
    }
    if (opts.max_redirects && resp.url) printf("URL %s\n", resp.url);
    wsc_response_free(&resp);
    if (have_limit) wsc_set_read_limit(g_conn, (int64_t)limit);
    g_have_limit = have_limit;
    g_limit = limit;
#ifdef __EMSCRIPTEN__
    if (g_drive) {
        g_steps = argv + i;
        g_n_steps = argc - i;
        if (g_drive == DRIVE_EVENTS) {
            rc = wsc_set_event_handler(g_conn, on_event, NULL);
            if (rc) fail("set-event-handler", rc);
            advance(); /* starts the dial's clock */
        } else {
            emscripten_set_main_loop(advance, 0, 0);
        }
        emscripten_exit_with_live_runtime(); /* the driver runs from now on */
    }
#endif
    print_connected();
    for (; i < argc; i++) run_step(argv[i]);
    done();
}
