/* SPDX-License-Identifier: MIT */
/* test_deflate.c - permessage-deflate: negotiation (the client's offers, the
 * server's pick among offers, the client's check of answers) and the zlib
 * layer (round trips per mode, context takeover, the 8-bit window, pieces,
 * BFINAL streams, bad data). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "proto/deflate.h"
#include "proto/extension.h"
#include "check.h"

#define TAKEOVER WSC_COMPRESSION_CONTEXT_TAKEOVER
#define NO_TAKEOVER WSC_COMPRESSION_NO_CONTEXT_TAKEOVER
#define DISABLED WSC_COMPRESSION_DISABLED

/* A head with one header line per value (NULL-terminated list). */
static int make_head(bool request, const char *const *values, wsc_http_head *h)
{
    char text[2048];
    size_t n = (size_t)snprintf(text, sizeof text, "%s\r\n",
                                request ? "GET / HTTP/1.1" : "HTTP/1.1 101 Switching Protocols");
    for (; *values; values++)
        n += (size_t)snprintf(text + n, sizeof text - n, "Sec-WebSocket-Extensions: %s\r\n", *values);
    n += (size_t)snprintf(text + n, sizeof text - n, "\r\n");
    char err[200];
    return wsc__http_parse(text, n, request, h, err, sizeof err);
}

/* The server's answer to offers (one header line each); "" when declined. */
static const char *accept_offers_bits(wsc_compression mode, const char *const *offers,
                                     int client_bits, wsc_pmd_params *p)
{
    static char out[200];
    wsc_http_head h;
    if (make_head(true, offers, &h) != 0)
        return "(unparsable)";
    wsc__pmd_accept(&h, mode, client_bits, p);
    snprintf(out, sizeof out, "%s", p->enabled ? p->header : "");
    wsc__http_free(&h);
    return out;
}

static const char *accept_offers(wsc_compression mode, const char *const *offers, wsc_pmd_params *p)
{
    return accept_offers_bits(mode, offers, 0, p);
}

static int check_answer(wsc_compression mode, const char *value, wsc_pmd_params *p)
{
    const char *values[] = {value, NULL};
    wsc_http_head h;
    if (make_head(false, value ? values : values + 1, &h) != 0)
        return -100;
    char err[200] = "";
    int r = wsc__pmd_check_response(&h, mode, p, err, sizeof err);
    if (r < 0 && !err[0])
        r = -101; /* refusals must say why */
    wsc__http_free(&h);
    return r;
}

static void test_offers(void)
{
    char b[128];
    CHECK(wsc__pmd_offer(DISABLED, 0, b, sizeof b) == NULL, "no offer when disabled");
    CHECK(strcmp(wsc__pmd_offer(TAKEOVER, 0, b, sizeof b),
                 "permessage-deflate; client_max_window_bits") == 0,
          "takeover offer");
    CHECK(strstr(wsc__pmd_offer(NO_TAKEOVER, 0, b, sizeof b), "server_no_context_takeover") &&
              strstr(b, "client_no_context_takeover"),
          "no-takeover offer asks both sides to drop context");
    CHECK(strcmp(wsc__pmd_offer(TAKEOVER, 10, b, sizeof b),
                 "permessage-deflate; client_max_window_bits; server_max_window_bits=10") == 0,
          "peer_window_bits 10: the server is asked for a 10-bit window");
    CHECK(strcmp(wsc__pmd_offer(TAKEOVER, 15, b, sizeof b),
                 "permessage-deflate; client_max_window_bits") == 0,
          "peer_window_bits 15 asks nothing");

    /* A server's wish for the client's window, when the offer allows one. */
    wsc_pmd_params p;
    const char *with[] = {"permessage-deflate; client_max_window_bits", NULL};
    CHECK(strcmp(accept_offers_bits(TAKEOVER, with, 9, &p),
                 "permessage-deflate; client_max_window_bits=9") == 0 && p.client_bits == 9,
          "client_max_window_bits offered: answered with the server's 9");
    const char *valued[] = {"permessage-deflate; client_max_window_bits=8", NULL};
    CHECK(strcmp(accept_offers_bits(TAKEOVER, valued, 12, &p),
                 "permessage-deflate; client_max_window_bits=8") == 0 && p.client_bits == 8,
          "the client's own smaller limit wins");
    const char *without[] = {"permessage-deflate", NULL};
    CHECK(strcmp(accept_offers_bits(TAKEOVER, without, 9, &p), "permessage-deflate") == 0 &&
              p.client_bits == 15,
          "no client_max_window_bits in the offer: the client keeps 15");
}

static void test_accept(void)
{
    wsc_pmd_params p;
    const char *one[] = {"permessage-deflate", NULL};
    CHECK(strcmp(accept_offers(TAKEOVER, one, &p), "permessage-deflate") == 0 && p.server_bits == 15 &&
              !p.server_no_takeover && !p.client_no_takeover,
          "plain offer accepted as is");
    CHECK(strcmp(accept_offers(DISABLED, one, &p), "") == 0 && !p.enabled, "disabled declines");
    CHECK(strcmp(accept_offers(NO_TAKEOVER, one, &p),
                 "permessage-deflate; server_no_context_takeover; client_no_context_takeover") == 0,
          "no-takeover server asks for no context both ways");
    const char *chrome[] = {"permessage-deflate; client_max_window_bits", NULL};
    CHECK(strcmp(accept_offers(TAKEOVER, chrome, &p), "permessage-deflate") == 0 && p.client_bits == 15,
          "Chromium's offer: client_max_window_bits without value is not answered");
    const char *bits[] = {"permessage-deflate; server_max_window_bits=10; client_max_window_bits=9", NULL};
    CHECK(strcmp(accept_offers(TAKEOVER, bits, &p),
                 "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9") == 0 &&
              p.server_bits == 10 && p.client_bits == 9,
          "window sizes answered");
    const char *quoted[] = {"permessage-deflate; server_max_window_bits=\"8\"", NULL};
    CHECK(strcmp(accept_offers(TAKEOVER, quoted, &p), "permessage-deflate; server_max_window_bits=8") == 0,
          "quoted value");
    const char *firstbad[] = {"permessage-deflate; server_max_window_bits=7, permessage-deflate; "
                              "client_no_context_takeover", NULL};
    CHECK(strcmp(accept_offers(TAKEOVER, firstbad, &p),
                 "permessage-deflate; client_no_context_takeover") == 0,
          "an invalid first offer is skipped for the second");
    const char *lines[] = {"x-webkit-deflate-frame", "permessage-deflate; unknown_param, permessage-deflate",
                           NULL};
    CHECK(strcmp(accept_offers(TAKEOVER, lines, &p), "permessage-deflate") == 0,
          "offers across header lines, unknown parameter declined");
    static const char *const bad[] = {
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=08",
        "permessage-deflate; client_no_context_takeover=1",
        "permessage-deflate; server_max_window_bits=1a",
        "permessage-deflate; a; b; c; d; e; f; g; h; i",
        "permessage-deflate;",
        "permessage-deflate; =5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *v[] = {bad[i], NULL};
        CHECKF(strcmp(accept_offers(TAKEOVER, v, &p), "") == 0 && !p.enabled, "declined: %s", bad[i]);
    }
}

static void test_check_answer(void)
{
    wsc_pmd_params p;
    CHECK(check_answer(TAKEOVER, NULL, &p) == 0 && !p.enabled, "no answer: no compression");
    CHECK(check_answer(TAKEOVER, "permessage-deflate", &p) == 0 && p.enabled && p.client_bits == 15,
          "plain answer");
    CHECK(check_answer(TAKEOVER, "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
                       &p) == 0 &&
              p.server_bits == 12 && p.client_bits == 12,
          "python3-websockets' answer");
    CHECK(check_answer(NO_TAKEOVER, "permessage-deflate; server_no_context_takeover; "
                                    "client_no_context_takeover", &p) == 0 &&
              p.server_no_takeover && p.client_no_takeover,
          "no takeover answer");
    CHECK(check_answer(TAKEOVER, "permessage-deflate; client_max_window_bits=8", &p) == 0 &&
              p.client_bits == 8,
          "8-bit window accepted");
    static const char *const bad[] = {
        "x-custom",
        "permessage-deflate, permessage-deflate",
        "permessage-deflate; foo",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=x",
        "permessage-deflate; server_max_window_bits=\"12",
        "permessage-deflate;; x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(check_answer(TAKEOVER, bad[i], &p) == WSC_EHANDSHAKE && !p.enabled, "refused: %s", bad[i]);
    CHECK(check_answer(DISABLED, "permessage-deflate", &p) == WSC_EHANDSHAKE,
          "an extension we did not offer is refused");
    CHECK(check_answer(DISABLED, "", &p) == 0 && !p.enabled, "an empty header is no extension");
}

/* Inflates in[0..n) + the tail with z into out; its length or -1. */
static long inflate_all(wsc_deflate *z, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                        size_t piece)
{
    static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
    if (wsc__inflate_begin(z) < 0)
        return -1;
    size_t made_total = 0, pos = 0, tail_pos = 0;
    bool more = false;
    for (;;) {
        const uint8_t *src = pos < n ? in + pos : tail + tail_pos;
        size_t len = pos < n ? n - pos : 4 - tail_pos;
        if (len == 0 && !more)
            break;
        size_t room = cap - made_total < piece ? cap - made_total : piece;
        size_t used, made;
        if (wsc__inflate_some(z, src, len, &used, out + made_total, room, &made, &more) < 0)
            return -1;
        if (pos < n)
            pos += used;
        else
            tail_pos += used;
        made_total += made;
        if (!used && !made && !more)
            break;
    }
    wsc__inflate_end(z);
    return (long)made_total;
}

static void fill_json(uint8_t *buf, size_t n, int seed)
{
    size_t at = 0;
    for (int i = 0; at < n; i++) {
        char rec[96];
        int k = snprintf(rec, sizeof rec, "{\"id\":%d,\"user\":\"u%d\",\"ok\":true},", i + seed, (i * 7) % 13);
        for (int j = 0; j < k && at < n; j++)
            buf[at++] = (uint8_t)rec[j];
    }
}

/* Our compressor against our inflater, message after message. */
static void round_trips(wsc_compression mode, const wsc_pmd_params *p, const char *what)
{
    wsc_deflate *tx = wsc__deflate_new(p, true, mode, 0);
    wsc_deflate *rx = wsc__deflate_new(p, false, mode, 0);
    size_t n = 20000; /* within a 32 KiB window */
    uint8_t *msg = malloc(n), *back = malloc(n + 16);
    for (int k = 0; k < 4; k++) {
        fill_json(msg, n, k == 3 ? 0 : k); /* message 3 repeats message 0 */
        const uint8_t *out;
        size_t out_len;
        CHECKF(wsc__deflate_piece(tx, msg, n, true, n, &out, &out_len) == 0, "%s: compress %d", what, k);
        CHECKF(out_len < n / 4, "%s: compresses (%zu of %zu)", what, out_len, n);
        long got = inflate_all(rx, out, out_len, back, n + 16, k == 1 ? 7 : n + 16);
        CHECKF(got == (long)n && memcmp(back, msg, n) == 0, "%s: message %d round trip", what, k);
    }
    free(msg);
    free(back);
    wsc__deflate_free(tx);
    wsc__deflate_free(rx);
}

/* Sizes of a random (incompressible) message compressed twice in a row. */
static void twice(wsc_compression mode, size_t *first, size_t *second)
{
    wsc_pmd_params p = {.enabled = true, .server_bits = 15, .client_bits = 15};
    wsc_deflate *tx = wsc__deflate_new(&p, true, mode, 0);
    uint8_t msg[10000];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof msg; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        msg[i] = (uint8_t)x;
    }
    const uint8_t *out;
    wsc__deflate_piece(tx, msg, sizeof msg, true, sizeof msg, &out, first);
    wsc__deflate_piece(tx, msg, sizeof msg, true, sizeof msg, &out, second);
    wsc__deflate_free(tx);
}

static void test_takeover(void)
{
    size_t a, b;
    twice(TAKEOVER, &a, &b);
    CHECKF(a > 9000 && b < 200, "with takeover a repeated message refers back (%zu, then %zu)", a, b);
    twice(NO_TAKEOVER, &a, &b);
    CHECKF(a > 9000 && b == a, "without takeover it does not (%zu, then %zu)", a, b);
}

static void test_round_trips(void)
{
    wsc_pmd_params p = {.enabled = true, .server_bits = 15, .client_bits = 15};
    round_trips(TAKEOVER, &p, "takeover");
    round_trips(NO_TAKEOVER, &p, "no takeover");
    p.server_no_takeover = true;
    round_trips(TAKEOVER, &p, "takeover, peer said server_no_context_takeover");
    p.server_no_takeover = false;
    p.server_bits = 8;
    round_trips(TAKEOVER, &p, "8-bit window");
}

/* With an 8-bit window negotiated our 9-bit zlib stream must inflate with a
 * real 256-byte window. */
static void test_window_8(void)
{
    wsc_pmd_params p = {.enabled = true, .server_bits = 8, .client_bits = 15};
    wsc_deflate *tx = wsc__deflate_new(&p, true, TAKEOVER, 0);
    size_t n = 50000;
    uint8_t *msg = malloc(n), *back = malloc(n);
    for (size_t i = 0; i < n; i++)
        msg[i] = (uint8_t)("abcdefghij"[(i * i) % 10] + (i / 300) % 3);
    z_stream in;
    memset(&in, 0, sizeof in);
    CHECK(inflateInit2(&in, -8) == Z_OK, "zlib inflates raw with 8 bits");
    bool all_ok = true;
    for (int k = 0; k < 3; k++) {
        const uint8_t *out;
        size_t out_len;
        CHECK(wsc__deflate_piece(tx, msg, n, true, n, &out, &out_len) == 0, "compress with 8 bits");
        uint8_t *buf = malloc(out_len + 4);
        memcpy(buf, out, out_len);
        memcpy(buf + out_len, "\x00\x00\xff\xff", 4);
        in.next_in = buf;
        in.avail_in = (uInt)(out_len + 4);
        in.next_out = back;
        in.avail_out = (uInt)n;
        int r = inflate(&in, Z_SYNC_FLUSH);
        all_ok = all_ok && (r == Z_OK || r == Z_BUF_ERROR) && in.avail_out == 0 && memcmp(back, msg, n) == 0;
        free(buf);
    }
    CHECK(all_ok, "three messages inflate with a 256-byte window");
    inflateEnd(&in);
    free(msg);
    free(back);
    wsc__deflate_free(tx);
}

static void test_pieces_and_streams(void)
{
    wsc_pmd_params p = {.enabled = true, .server_bits = 15, .client_bits = 15};
    wsc_deflate *tx = wsc__deflate_new(&p, true, TAKEOVER, 0);
    wsc_deflate *rx = wsc__deflate_new(&p, false, TAKEOVER, 0);
    uint8_t msg[30000], back[30100];
    fill_json(msg, sizeof msg, 5);
    /* Pieces: the concatenated output is one message. */
    uint8_t *wire = malloc(60000);
    size_t wire_len = 0;
    for (size_t at = 0; at < sizeof msg; at += 7000) {
        size_t len = sizeof msg - at < 7000 ? sizeof msg - at : 7000;
        const uint8_t *out;
        size_t out_len;
        wsc__deflate_piece(tx, msg + at, len, false, 0, &out, &out_len);
        memcpy(wire + wire_len, out, out_len);
        wire_len += out_len;
    }
    const uint8_t *out;
    size_t out_len;
    CHECK(wsc__deflate_piece(tx, NULL, 0, true, 0, &out, &out_len) == 0, "final empty piece");
    memcpy(wire + wire_len, out, out_len);
    wire_len += out_len;
    CHECK(inflate_all(rx, wire, wire_len, back, sizeof back, 333) == (long)sizeof msg &&
              memcmp(back, msg, sizeof msg) == 0,
          "a message compressed in pieces");
    free(wire);

    /* A peer that ends its stream with BFINAL: the next message keeps the window. */
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    uint8_t buf[40000];
    zs.next_in = msg;
    zs.avail_in = sizeof msg;
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    deflate(&zs, Z_FINISH);
    size_t len = sizeof buf - zs.avail_out;
    deflateEnd(&zs);
    wsc_deflate *rx2 = wsc__deflate_new(&p, false, TAKEOVER, 0);
    CHECK(inflate_all(rx2, buf, len, back, sizeof back, 1000) == (long)sizeof msg &&
              memcmp(back, msg, sizeof msg) == 0,
          "a BFINAL stream inflates");
    long r = inflate_all(rx2, (const uint8_t *)"\x03\x00", 2, back, sizeof back, 1000);
    CHECKF(r == 0, "an empty BFINAL message after it (%ld)", r);
    CHECK(inflate_all(rx2, (const uint8_t *)"\xff\xff\xff", 3, back, sizeof back, 1000) < 0,
          "bad data is an error");
    wsc__deflate_free(rx2);

    /* Thresholds. */
    CHECK(!wsc__deflate_wanted(tx, 127) && wsc__deflate_wanted(tx, 128), "takeover threshold 128");
    wsc_deflate *nt = wsc__deflate_new(&p, true, NO_TAKEOVER, 0);
    CHECK(!wsc__deflate_wanted(nt, 511) && wsc__deflate_wanted(nt, 512), "no takeover threshold 512");
    CHECK(!wsc__deflate_takeover(nt) && wsc__deflate_takeover(tx), "takeover flags");
    wsc_deflate *all = wsc__deflate_new(&p, true, NO_TAKEOVER, -1);
    CHECK(wsc__deflate_wanted(all, 0), "threshold -1 compresses everything");
    wsc__deflate_free(all);
    wsc__deflate_free(nt);
    wsc__deflate_free(tx);
    wsc__deflate_free(rx);
}

int main(void)
{
    test_offers();
    test_accept();
    test_check_answer();
    test_round_trips();
    test_takeover();
    test_window_8();
    test_pieces_and_streams();
    return check_summary("test_deflate");
}
