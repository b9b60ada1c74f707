/* SPDX-License-Identifier: MIT */
/* test_decode.c - the engine's decoder in memory: a stream of frames
 * (fragmented messages, control frames between fragments, compressed and
 * not, both roles) is decoded whole, split at every byte boundary, a byte at
 * a time and received straight into the destination; every run must give
 * the same events. Broken streams give the right close code at every split. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/decode.h"
#include "proto/mask.h"
#include "wsc.h"

static int failures, checks;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        checks++;                                                         \
        if (!(cond)) {                                                    \
            failures++;                                                   \
            fprintf(stderr, "%s:%d: FAIL ", __FILE__, __LINE__);          \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

/* ---- a growable byte string --------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void putf(bytes *b, const char *fmt, long a, long c)
{
    char s[64];
    int n = snprintf(s, sizeof s, fmt, a, c);
    put(b, s, (size_t)n);
}

/* ---- building streams --------------------------------------------------- */

/* Appends one frame; masked when the receiver is a server. */
static void frame(bytes *b, bool to_server, bool fin, int rsv, int op, const void *p, size_t n)
{
    wsc_frame_header h = {.fin = fin, .rsv = (uint8_t)rsv, .opcode = (uint8_t)op,
                          .masked = to_server, .key = {0x37, 0xfa, 0x21, 0x3d}, .len = n};
    uint8_t head[WSC_FRAME_HEADER_MAX];
    put(b, head, wsc__frame_encode(head, &h));
    size_t at = b->len;
    put(b, p, n);
    if (to_server)
        wsc__mask(b->p + at, b->p + at, n, h.key, 0);
}

static wsc_pmd_params pmd_params(void)
{
    return (wsc_pmd_params){.enabled = true, .server_bits = 15, .client_bits = 15};
}

/* Appends a compressed message split into `pieces` frames. z compresses
 * for the sender (the other role). */
static void compressed(bytes *b, bool to_server, wsc_deflate *z, int op, const void *p, size_t n,
                       int pieces)
{
    const uint8_t *out;
    size_t out_len;
    if (wsc__deflate_piece(z, p, n, true, n, &out, &out_len) < 0)
        abort();
    size_t step = out_len / (size_t)pieces + 1;
    for (size_t at = 0; at < out_len || at == 0; at += step) {
        size_t k = out_len - at < step ? out_len - at : step;
        frame(b, to_server, at + k >= out_len, at == 0 ? 0x4 : 0, at == 0 ? op : WSC_OP_CONT,
              out + at, k);
        if (k == 0)
            break;
    }
}

/* ---- decoding ----------------------------------------------------------- */

typedef struct {
    size_t cap;        /* room for message data per call */
    bool direct;       /* receive payload straight into the message buffer */
    int64_t limit;
} how;

/* What decode() keeps while it feeds a stream. */
typedef struct {
    wsc_decoder d;
    bytes msg;         /* the message so far */
    bytes *t;          /* the transcript */
    bool failed;
} run;

/* Decodes in[0..n) until the decoder wants more, writing events to the
 * transcript; data goes to out (which may be in). Returns the bytes used. */
static size_t events(run *r, uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t at = 0;
    while (!r->failed) {
        size_t used;
        wsc_dec_event ev;
        wsc_dec_kind e = wsc__decode(&r->d, in + at, n - at, &used, out, cap, &ev);
        at += used;
        switch (e) {
        case WSC_DEC_MORE:
            return at;
        case WSC_DEC_START:
            putf(r->t, "start %ld %ld\n", ev.opcode, ev.compressed);
            r->msg.len = 0;
            break;
        case WSC_DEC_DATA:
            put(&r->msg, out, ev.len);
            break;
        case WSC_DEC_END:
            putf(r->t, "message %ld %ld: ", ev.opcode, (long)r->msg.len);
            put(r->t, r->msg.p, r->msg.len);
            put(r->t, "\n", 1);
            break;
        case WSC_DEC_PING:
        case WSC_DEC_PONG:
            put(r->t, e == WSC_DEC_PING ? "ping " : "pong ", 5);
            put(r->t, ev.data, ev.len);
            put(r->t, "\n", 1);
            break;
        case WSC_DEC_CLOSE:
            putf(r->t, "close %ld %ld: ", ev.code, (long)ev.len);
            put(r->t, ev.data, ev.len);
            put(r->t, "\n", 1);
            break;
        case WSC_DEC_ERROR:
            putf(r->t, "error %ld %ld\n", ev.code, ev.err);
            r->failed = true;
            break;
        }
    }
    return at;
}

/* Decodes stream s, fed in pieces whose sizes come from `split` (0: the
 * whole rest), and writes what happened to t: messages whole, control
 * frames, the close or the error. */
static void decode(const bytes *s, bool server, bool deflate, const size_t *split, how hw,
                   bytes *t)
{
    wsc_pmd_params pp = pmd_params();
    wsc_deflate *z = deflate ? wsc__deflate_new(&pp, server, WSC_COMPRESSION_CONTEXT_TAKEOVER, 0)
                             : NULL;
    run r = {.t = t};
    wsc__decoder_init(&r.d, server, z);
    r.d.read_limit = hw.limit;
    uint8_t *buf = malloc(s->len + 1); /* bytes received, not used yet: [0, have) */
    uint8_t *out = malloc(hw.cap);
    size_t have = 0, fed = 0;
    for (size_t piece = 0; fed < s->len && !r.failed;) {
        size_t k = split[piece] ? split[piece++] : s->len - fed; /* 0 ends the list */
        if (k > s->len - fed)
            k = s->len - fed;
        /* Received straight into the destination when the decoder says the
         * next bytes are payload. */
        uint64_t direct = hw.direct && have == 0 ? wsc__decode_payload_left(&r.d) : 0;
        if (direct) {
            if (k > direct)
                k = (size_t)direct;
            if (k > hw.cap)
                k = hw.cap;
            memcpy(out, s->p + fed, k);
            fed += k;
            size_t used = events(&r, out, k, out, hw.cap);
            CHECK(used == k || r.failed, "a direct piece is used whole (%zu of %zu)", used, k);
            continue;
        }
        memcpy(buf + have, s->p + fed, k);
        have += k;
        fed += k;
        size_t used = events(&r, buf, have, out, hw.cap);
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    if (have && !r.failed) /* after an error the rest is never read */
        putf(t, "left over %ld %ld\n", (long)have, 0);
    free(buf);
    free(out);
    free(r.msg.p);
    wsc__deflate_free(z);
}

/* Runs stream s every way and checks each transcript against the whole
 * run's, which must equal `expect`. */
static void every_split(const char *name, const bytes *s, bool server, bool deflate, int64_t limit,
                        const char *expect)
{
    size_t whole[] = {0};
    bytes ref = {0};
    decode(s, server, deflate, whole, (how){.cap = 1 << 20, .limit = limit}, &ref);
    put(&ref, "", 1);
    CHECK(strcmp((char *)ref.p, expect) == 0, "%s: whole stream:\n%s\nexpected:\n%s", name,
          (char *)ref.p, expect);
    ref.len--;

    size_t *split = calloc(s->len + 2, sizeof *split);
    int bad = 0;
    how ways[] = {{.cap = 1 << 20}, {.cap = 1}, {.cap = 7}, {.cap = 4096, .direct = true}};
    for (size_t w = 0; w < sizeof ways / sizeof *ways; w++) {
        ways[w].limit = limit;
        for (size_t cut = 1; cut < s->len && bad < 3; cut++) {
            split[0] = cut; /* two pieces */
            split[1] = 0;
            bytes t = {0};
            decode(s, server, deflate, split, ways[w], &t);
            if (t.len != ref.len || memcmp(t.p, ref.p, t.len) != 0) {
                bad++;
                put(&t, "", 1);
                fprintf(stderr, "%s: cut at %zu, cap %zu%s:\n%s\n", name, cut, ways[w].cap,
                        ways[w].direct ? " direct" : "", (char *)t.p);
            }
            free(t.p);
        }
        for (size_t i = 0; i <= s->len; i++) /* a byte at a time */
            split[i] = 1;
        bytes t = {0};
        decode(s, server, deflate, split, ways[w], &t);
        if (t.len != ref.len || memcmp(t.p, ref.p, t.len) != 0)
            bad++;
        free(t.p);
        srand(7);
        for (int trial = 0; trial < 20; trial++) { /* random pieces */
            for (size_t i = 0; i <= s->len; i++)
                split[i] = 1 + (size_t)rand() % 40;
            bytes r = {0};
            decode(s, server, deflate, split, ways[w], &r);
            if (r.len != ref.len || memcmp(r.p, ref.p, r.len) != 0)
                bad++;
            free(r.p);
        }
    }
    CHECK(bad == 0, "%s: %d splits gave other events than the whole stream", name, bad);
    free(split);
    free(ref.p);
}

/* ---- the streams -------------------------------------------------------- */

static void test_mixed_stream(bool server)
{
    bytes s = {0};
    frame(&s, server, true, 0, WSC_OP_TEXT, "Hello", 5);
    frame(&s, server, false, 0, WSC_OP_BINARY, "ab", 2);
    frame(&s, server, true, 0, WSC_OP_PING, "p1", 2);
    frame(&s, server, false, 0, WSC_OP_CONT, "", 0);
    frame(&s, server, true, 0, WSC_OP_PONG, "", 0);
    frame(&s, server, true, 0, WSC_OP_CONT, "cd", 2);
    frame(&s, server, true, 0, WSC_OP_TEXT, "", 0);
    /* "h\u00e9\u20ac" split inside both characters */
    frame(&s, server, false, 0, WSC_OP_TEXT, "h\xc3", 2);
    frame(&s, server, false, 0, WSC_OP_CONT, "\xa9\xe2\x82", 3);
    frame(&s, server, true, 0, WSC_OP_CONT, "\xac", 1);
    uint8_t big[300];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    frame(&s, server, true, 0, WSC_OP_BINARY, big, sizeof big); /* 16-bit length */
    uint8_t ping[125];
    memset(ping, 'x', sizeof ping);
    frame(&s, server, true, 0, WSC_OP_PING, ping, sizeof ping);
    frame(&s, server, true, 0, WSC_OP_CLOSE, "\x03\xe8" "bye", 5);

    bytes e = {0};
    const char *head = "start 1 0\nmessage 1 5: Hello\nstart 2 0\nping p1\npong \nmessage 2 4: abcd\n"
                       "start 1 0\nmessage 1 0: \nstart 1 0\nmessage 1 6: h\xc3\xa9\xe2\x82\xac\n"
                       "start 2 0\nmessage 2 300: ";
    put(&e, head, strlen(head));
    put(&e, big, sizeof big);
    put(&e, "\nping ", 6);
    put(&e, ping, sizeof ping);
    const char *tail = "\nclose 1000 3: bye\n";
    put(&e, tail, strlen(tail) + 1);
    every_split(server ? "mixed stream to a server" : "mixed stream to a client", &s, server, false,
                -1, (char *)e.p);
    free(s.p);
    free(e.p);
}

static void test_long_lengths(void)
{
    /* A 64-bit length frame, and the read limit at its exact size. */
    size_t n = 70000;
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i % 251);
    bytes s = {0};
    frame(&s, true, true, 0, WSC_OP_BINARY, p, n);
    bytes t = {0};
    size_t whole[] = {0};
    decode(&s, true, false, whole, (how){.cap = 1 << 20, .limit = (int64_t)n}, &t);
    bytes e = {0};
    putf(&e, "start 2 0\nmessage 2 %ld: ", (long)n, 0);
    put(&e, p, n);
    put(&e, "\n", 1);
    CHECK(t.len == e.len && memcmp(t.p, e.p, t.len) == 0, "a 70000-byte frame at the limit");
    for (int direct = 0; direct < 2; direct++) { /* in pieces, straight into the destination */
        size_t pieces[] = {5, 1000, 30000, 1, 0};
        bytes u = {0};
        decode(&s, true, false, pieces, (how){.cap = 4096, .direct = direct, .limit = -1}, &u);
        CHECK(u.len == e.len && memcmp(u.p, e.p, u.len) == 0, "in pieces (direct %d)", direct);
        free(u.p);
    }
    t.len = 0;
    decode(&s, true, false, whole, (how){.cap = 1 << 20, .limit = (int64_t)n - 1}, &t);
    put(&t, "", 1);
    char want[64];
    snprintf(want, sizeof want, "error 1009 %d\n", WSC_EMSGSIZE);
    CHECK(strcmp((char *)t.p, want) == 0, "one byte over the limit: 1009 (%s)", (char *)t.p);
    free(p);
    free(s.p);
    free(t.p);
    free(e.p);
}

static void test_compressed_stream(bool server)
{
    wsc_pmd_params pp = pmd_params();
    /* the sender compresses: it has the other role */
    wsc_deflate *z = wsc__deflate_new(&pp, !server, WSC_COMPRESSION_CONTEXT_TAKEOVER, -1);
    char text[2000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "the quick brown fox jumps "[i % 26];
    bytes s = {0};
    compressed(&s, server, z, WSC_OP_TEXT, text, sizeof text, 1);
    frame(&s, server, true, 0, WSC_OP_PING, "mid", 3);
    compressed(&s, server, z, WSC_OP_TEXT, text, sizeof text, 3); /* refers back to the first */
    compressed(&s, server, z, WSC_OP_BINARY, "", 0, 1);
    frame(&s, server, true, 0, WSC_OP_BINARY, "plain", 5); /* uncompressed between */
    compressed(&s, server, z, WSC_OP_BINARY, "\x00\x01\x02", 3, 1);
    frame(&s, server, true, 0, WSC_OP_CLOSE, "", 0);
    wsc__deflate_free(z);

    bytes e = {0};
    for (int i = 0; i < 2; i++) {
        putf(&e, "start 1 1\nmessage 1 %ld: ", (long)sizeof text, 0);
        put(&e, text, sizeof text);
        put(&e, i == 0 ? "\nping mid\n" : "\n", i == 0 ? 10 : 1);
    }
    const char *rest = "start 2 1\nmessage 2 0: \nstart 2 0\nmessage 2 5: plain\n"
                       "start 2 1\nmessage 2 3: ";
    put(&e, rest, strlen(rest));
    put(&e, "\x00\x01\x02\nclose 1005 0: \n", 20);
    every_split(server ? "compressed stream to a server" : "compressed stream to a client", &s,
                server, true, -1, (char *)e.p);
    /* the limit counts inflated bytes: 1999 refuses the first message */
    char over[64];
    snprintf(over, sizeof over, "start 1 1\nerror 1009 %d\n", WSC_EMSGSIZE);
    every_split("compressed over the limit", &s, server, true, sizeof text - 1, over);
    free(s.p);
    free(e.p);
}

/* One broken stream: after `good` (decoded fine) comes `bad`; the error must
 * carry `code` at every split. */
static void broken(const char *name, bool server, bool deflate, const bytes *s, const char *expect)
{
    every_split(name, s, server, deflate, -1, expect);
}

static void test_broken_streams(void)
{
    struct {
        const char *name;
        bool fin;
        int rsv, op;
        const char *p;
        size_t n;
        bool unmasked;
        const char *expect;
    } cases[] = {
        {"continuation without a message", true, 0, WSC_OP_CONT, "x", 1, false, "error 1002 -9\n"},
        {"reserved opcode", true, 0, 0x3, "", 0, false, "error 1002 -9\n"},
        {"fragmented ping", false, 0, WSC_OP_PING, "", 0, false, "error 1002 -9\n"},
        {"RSV1 without deflate", true, 0x4, WSC_OP_TEXT, "x", 1, false, "error 1002 -9\n"},
        {"RSV2", true, 0x2, WSC_OP_BINARY, "x", 1, false, "error 1002 -9\n"},
        {"unmasked frame to a server", true, 0, WSC_OP_TEXT, "x", 1, true, "error 1002 -9\n"},
        {"invalid UTF-8", true, 0, WSC_OP_TEXT, "a\xff", 2, false, "start 1 0\nerror 1007 -9\n"},
        {"truncated UTF-8", true, 0, WSC_OP_TEXT, "a\xe2\x82", 3, false, "start 1 0\nerror 1007 -9\n"},
        {"surrogate", true, 0, WSC_OP_TEXT, "\xed\xa0\x80", 3, false, "start 1 0\nerror 1007 -9\n"},
        {"1-byte close", true, 0, WSC_OP_CLOSE, "\x03", 1, false, "error 1002 -9\n"},
        {"close code 1005", true, 0, WSC_OP_CLOSE, "\x03\xed", 2, false, "error 1002 -9\n"},
        {"close code 999", true, 0, WSC_OP_CLOSE, "\x03\xe7", 2, false, "error 1002 -9\n"},
        {"close reason not UTF-8", true, 0, WSC_OP_CLOSE, "\x03\xe8\xc0\xaf", 4, false, "error 1007 -9\n"},
    };
    char want[200];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bytes s = {0};
        frame(&s, true, true, 0, WSC_OP_PING, "ok", 2);
        frame(&s, !cases[i].unmasked, cases[i].fin, cases[i].rsv, cases[i].op, cases[i].p, cases[i].n);
        frame(&s, true, true, 0, WSC_OP_TEXT, "never", 5);
        snprintf(want, sizeof want, "ping ok\n%s", cases[i].expect);
        /* error codes are wsc's: compare their text, not the numbers */
        char fixed[200];
        snprintf(fixed, sizeof fixed, "%s", want);
        char *m = strstr(fixed, " -9\n");
        if (m)
            snprintf(m, sizeof fixed - (size_t)(m - fixed), " %d\n", WSC_EPROTO);
        broken(cases[i].name, true, false, &s, fixed);
        free(s.p);
    }
    /* A new message inside a fragmented one. */
    bytes s = {0};
    frame(&s, false, false, 0, WSC_OP_TEXT, "a", 1);
    frame(&s, false, true, 0, WSC_OP_TEXT, "b", 1);
    snprintf(want, sizeof want, "start 1 0\nerror 1002 %d\n", WSC_EPROTO);
    broken("message inside a message", false, false, &s, want);
    free(s.p);
    /* A control frame longer than 125 bytes. */
    s = (bytes){0};
    uint8_t long_ping[126] = {0};
    frame(&s, false, true, 0, WSC_OP_PING, long_ping, sizeof long_ping);
    snprintf(want, sizeof want, "error 1002 %d\n", WSC_EPROTO);
    broken("126-byte ping", false, false, &s, want);
    free(s.p);
    /* Compressed data that is not deflate, and one cut inside a block. */
    s = (bytes){0};
    frame(&s, false, true, 0x4, WSC_OP_BINARY, "\xff\xff\xff\xff", 4);
    snprintf(want, sizeof want, "start 2 1\nerror 1007 %d\n", WSC_EPROTO);
    broken("garbage deflate data", false, true, &s, want);
    free(s.p);
}

/* The decoder drops data once told to (our close is out), and still sees
 * control frames and frame errors. */
static void test_discard(void)
{
    bytes s = {0};
    frame(&s, false, false, 0, WSC_OP_TEXT, "ab", 2);
    frame(&s, false, true, 0, WSC_OP_PONG, "x", 1);
    frame(&s, false, true, 0, WSC_OP_CONT, "\xff", 1); /* not checked: dropped */
    frame(&s, false, true, 0, WSC_OP_CLOSE, "\x03\xe8", 2);
    wsc_decoder d;
    wsc__decoder_init(&d, false, NULL);
    d.discard = true;
    bytes t = {0};
    uint8_t out[16];
    size_t at = 0, used;
    wsc_dec_event ev;
    wsc_dec_kind e;
    while ((e = wsc__decode(&d, s.p + at, s.len - at, &used, out, sizeof out, &ev)) != WSC_DEC_MORE) {
        at += used;
        putf(&t, "%ld %ld\n", e, e == WSC_DEC_CLOSE ? ev.code : 0);
    }
    at += used;
    put(&t, "", 1);
    char want[100];
    snprintf(want, sizeof want, "%d 0\n%d 0\n%d 0\n%d 1000\n", WSC_DEC_START, WSC_DEC_PONG,
             WSC_DEC_END, WSC_DEC_CLOSE);
    CHECK(strcmp((char *)t.p, want) == 0 && at == s.len, "discarding:\n%s", (char *)t.p);
    free(s.p);
    free(t.p);
}

int main(void)
{
    test_mixed_stream(true);
    test_mixed_stream(false);
    test_long_lengths();
    test_compressed_stream(true);
    test_compressed_stream(false);
    test_broken_streams();
    test_discard();
    if (failures) {
        printf("test_decode: %d of %d checks FAILED\n", failures, checks);
        return 1;
    }
    printf("test_decode: %d checks passed\n", checks);
    return 0;
}
