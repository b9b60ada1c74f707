/* SPDX-License-Identifier: MIT */
/* test_utf8.c - wsc__utf8_feed against Markus Kuhn's decoder stress cases,
 * every two-piece split, the ASCII fast path at every alignment, and a
 * byte-at-a-time reference decoder on random input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#define CHECK_PRINT_LIMIT 50
#include "check.h"

/* What the validator must say about a whole input. */
enum { VALID, INVALID, PARTIAL };

static int category(uint32_t state)
{
    if (state == WSC_UTF8_ACCEPT)
        return VALID;
    if (state == WSC_UTF8_REJECT)
        return INVALID;
    return PARTIAL;
}

/* ---- Reference decoder --------------------------------------------------
 * Decodes whole code points the slow, obvious way. For a sequence cut short
 * by the end of input it asks whether any continuation could still make it
 * a valid code point: the code points reachable from the bytes so far form
 * the range [lo, hi], valid if it meets [min, D7FF] or [E000, 10FFFF]. */

static int range_meets(uint32_t lo, uint32_t hi, uint32_t min)
{
    if (lo < min)
        lo = min;
    if (lo > hi)
        return 0;
    if (lo <= 0xD7FF)
        return 1;
    return hi >= 0xE000 && lo <= 0x10FFFF;
}

static int ref_status(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t b = s[i];
        size_t len, have;
        uint32_t cp, min;

        if (b < 0x80) {
            i++;
            continue;
        }
        if ((b & 0xE0) == 0xC0) {
            len = 2; cp = b & 0x1F; min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            len = 3; cp = b & 0x0F; min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            len = 4; cp = b & 0x07; min = 0x10000;
        } else {
            return INVALID;
        }
        have = n - i < len ? n - i : len;
        for (size_t k = 1; k < have; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return INVALID;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (have < len) {
            unsigned missing_bits = 6 * (unsigned)(len - have);
            uint32_t lo = cp << missing_bits;
            uint32_t hi = lo | ((1u << missing_bits) - 1);
            return range_meets(lo, hi, min) ? PARTIAL : INVALID;
        }
        if (!range_meets(cp, cp, min))
            return INVALID;
        i += len;
    }
    return VALID;
}

/* ---- Kuhn's stress test, section by section ---------------------------- */

struct tcase {
    const char *name;
    const char *bytes;
    size_t len;
    int expect;
};

#define T(name, lit, expect) { name, lit, sizeof(lit) - 1, expect }

static const struct tcase cases[] = {
    /* 1 Some correct UTF-8 text */
    T("1 kosme", "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5", VALID),
    T("empty", "", VALID),
    T("ascii", "Hello, world", VALID),
    /* 2.1 First possible sequence of a certain length */
    T("2.1.1 U+0000", "\x00", VALID),
    T("2.1.2 U+0080", "\xC2\x80", VALID),
    T("2.1.3 U+0800", "\xE0\xA0\x80", VALID),
    T("2.1.4 U+10000", "\xF0\x90\x80\x80", VALID),
    T("2.1.5 5 bytes U+200000", "\xF8\x88\x80\x80\x80", INVALID),
    T("2.1.6 6 bytes U+4000000", "\xFC\x84\x80\x80\x80\x80", INVALID),
    /* 2.2 Last possible sequence of a certain length */
    T("2.2.1 U+007F", "\x7F", VALID),
    T("2.2.2 U+07FF", "\xDF\xBF", VALID),
    T("2.2.3 U+FFFF", "\xEF\xBF\xBF", VALID),
    T("2.2.4 U+1FFFFF", "\xF7\xBF\xBF\xBF", INVALID),
    T("2.2.5 U+3FFFFFF", "\xFB\xBF\xBF\xBF\xBF", INVALID),
    T("2.2.6 U+7FFFFFFF", "\xFD\xBF\xBF\xBF\xBF\xBF", INVALID),
    /* 2.3 Other boundary conditions */
    T("2.3.1 U+D7FF", "\xED\x9F\xBF", VALID),
    T("2.3.2 U+E000", "\xEE\x80\x80", VALID),
    T("2.3.3 U+FFFD", "\xEF\xBF\xBD", VALID),
    T("2.3.4 U+10FFFF", "\xF4\x8F\xBF\xBF", VALID),
    T("2.3.5 U+110000", "\xF4\x90\x80\x80", INVALID),
    /* 3.1 Unexpected continuation bytes */
    T("3.1.1 80", "\x80", INVALID),
    T("3.1.2 BF", "\xBF", INVALID),
    T("3.1.3 80 BF", "\x80\xBF", INVALID),
    T("3.1.4 80 BF 80", "\x80\xBF\x80", INVALID),
    T("3.1.5 80 BF 80 BF", "\x80\xBF\x80\xBF", INVALID),
    T("3.1.6 ..80", "\x80\xBF\x80\xBF\x80", INVALID),
    T("3.1.7 ..BF", "\x80\xBF\x80\xBF\x80\xBF", INVALID),
    T("3.1.8 ..80", "\x80\xBF\x80\xBF\x80\xBF\x80", INVALID),
    T("3.1.9 all 64",
      "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8A\x8B\x8C\x8D\x8E\x8F"
      "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9A\x9B\x9C\x9D\x9E\x9F"
      "\xA0\xA1\xA2\xA3\xA4\xA5\xA6\xA7\xA8\xA9\xAA\xAB\xAC\xAD\xAE\xAF"
      "\xB0\xB1\xB2\xB3\xB4\xB5\xB6\xB7\xB8\xB9\xBA\xBB\xBC\xBD\xBE\xBF",
      INVALID),
    T("3.1 ascii then 80", "abc\x80", INVALID),
    T("3.1 after a whole char", "\xC3\xA9\x80", INVALID),
    T("3.1 extra continuation", "\xE2\x82\xAC\xAC", INVALID),
    /* 3.2 Lonely start characters */
    T("3.2.1 C0-DF", "\xC0 \xC1 \xC2 \xC8 \xD0 \xDF ", INVALID),
    T("3.2.1 C2 space", "\xC2 ", INVALID),
    T("3.2.1 DF space", "\xDF ", INVALID),
    T("3.2.2 E0 space", "\xE0 ", INVALID),
    T("3.2.2 E1 space", "\xE1 ", INVALID),
    T("3.2.2 EF space", "\xEF ", INVALID),
    T("3.2.3 F0 space", "\xF0 ", INVALID),
    T("3.2.3 F4 space", "\xF4 ", INVALID),
    T("3.2.3 F7 space", "\xF7 ", INVALID),
    T("3.2.4 F8 space", "\xF8 ", INVALID),
    T("3.2.5 FC space", "\xFC ", INVALID),
    T("3.2 lead then lead", "\xE2\xC3\xA9", INVALID),
    /* 3.3 Sequences with last continuation byte missing */
    T("3.3.1 C0", "\xC0", INVALID),
    T("3.3.2 E0 80", "\xE0\x80", INVALID),
    T("3.3.3 F0 80 80", "\xF0\x80\x80", INVALID),
    T("3.3.4 F8 80 80 80", "\xF8\x80\x80\x80", INVALID),
    T("3.3.5 FC 80 80 80 80", "\xFC\x80\x80\x80\x80", INVALID),
    T("3.3.6 DF", "\xDF", PARTIAL),
    T("3.3.7 EF BF", "\xEF\xBF", PARTIAL),
    T("3.3.8 F7 BF BF", "\xF7\xBF\xBF", INVALID),
    T("3.3 F4 8F BF", "\xF4\x8F\xBF", PARTIAL),
    T("3.3 F0 90 80", "\xF0\x90\x80", PARTIAL),
    T("3.3 ED 9F", "\xED\x9F", PARTIAL),
    T("3.3 E0 A0", "\xE0\xA0", PARTIAL),
    T("3.3 E0", "\xE0", PARTIAL),
    T("3.3 ED", "\xED", PARTIAL),
    T("3.3 F0", "\xF0", PARTIAL),
    T("3.3 F4", "\xF4", PARTIAL),
    T("3.3 text then E2 82", "abc\xE2\x82", PARTIAL),
    T("3.3 E2 82 then ascii", "\xE2\x82" "a", INVALID),
    /* 3.4 Concatenation of incomplete sequences */
    T("3.4 all ten",
      "\xC0\xE0\x80\xF0\x80\x80\xF8\x80\x80\x80\xFC\x80\x80\x80\x80"
      "\xDF\xEF\xBF\xF7\xBF\xBF\xFB\xBF\xBF\xBF\xFD\xBF\xBF\xBF\xBF",
      INVALID),
    T("3.4 DF EF BF", "\xDF\xEF\xBF", INVALID),
    /* 3.5 Impossible bytes */
    T("3.5.1 FE", "\xFE", INVALID),
    T("3.5.2 FF", "\xFF", INVALID),
    T("3.5.3 FE FE FF FF", "\xFE\xFE\xFF\xFF", INVALID),
    T("3.5 F5", "\xF5", INVALID),
    T("3.5 C1", "\xC1", INVALID),
    /* 4.1 Overlong ASCII '/' */
    T("4.1.1 C0 AF", "\xC0\xAF", INVALID),
    T("4.1.2 E0 80 AF", "\xE0\x80\xAF", INVALID),
    T("4.1.3 F0 80 80 AF", "\xF0\x80\x80\xAF", INVALID),
    T("4.1.4 F8 80 80 80 AF", "\xF8\x80\x80\x80\xAF", INVALID),
    T("4.1.5 FC 80 80 80 80 AF", "\xFC\x80\x80\x80\x80\xAF", INVALID),
    /* 4.2 Maximum overlong sequences */
    T("4.2.1 U+007F as C1 BF", "\xC1\xBF", INVALID),
    T("4.2.2 U+07FF as E0 9F BF", "\xE0\x9F\xBF", INVALID),
    T("4.2.3 U+FFFF as F0 8F BF BF", "\xF0\x8F\xBF\xBF", INVALID),
    T("4.2.4 F8 87 BF BF BF", "\xF8\x87\xBF\xBF\xBF", INVALID),
    T("4.2.5 FC 83 BF BF BF BF", "\xFC\x83\xBF\xBF\xBF\xBF", INVALID),
    /* 4.3 Overlong NUL */
    T("4.3.1 C0 80", "\xC0\x80", INVALID),
    T("4.3.2 E0 80 80", "\xE0\x80\x80", INVALID),
    T("4.3.3 F0 80 80 80", "\xF0\x80\x80\x80", INVALID),
    T("4.3.4 F8 80 80 80 80", "\xF8\x80\x80\x80\x80", INVALID),
    T("4.3.5 FC 80 80 80 80 80", "\xFC\x80\x80\x80\x80\x80", INVALID),
    /* 5.1 Single UTF-16 surrogates */
    T("5.1.1 U+D800", "\xED\xA0\x80", INVALID),
    T("5.1.2 U+DB7F", "\xED\xAD\xBF", INVALID),
    T("5.1.3 U+DB80", "\xED\xAE\x80", INVALID),
    T("5.1.4 U+DBFF", "\xED\xAF\xBF", INVALID),
    T("5.1.5 U+DC00", "\xED\xB0\x80", INVALID),
    T("5.1.6 U+DF80", "\xED\xBE\x80", INVALID),
    T("5.1.7 U+DFFF", "\xED\xBF\xBF", INVALID),
    T("5.1 ED A0 cut", "\xED\xA0", INVALID),
    /* 5.2 Paired UTF-16 surrogates */
    T("5.2.1 D800 DC00", "\xED\xA0\x80\xED\xB0\x80", INVALID),
    T("5.2.2 D800 DFFF", "\xED\xA0\x80\xED\xBF\xBF", INVALID),
    T("5.2.3 DB7F DC00", "\xED\xAD\xBF\xED\xB0\x80", INVALID),
    T("5.2.4 DB7F DFFF", "\xED\xAD\xBF\xED\xBF\xBF", INVALID),
    T("5.2.5 DB80 DC00", "\xED\xAE\x80\xED\xB0\x80", INVALID),
    T("5.2.6 DB80 DFFF", "\xED\xAE\x80\xED\xBF\xBF", INVALID),
    T("5.2.7 DBFF DC00", "\xED\xAF\xBF\xED\xB0\x80", INVALID),
    T("5.2.8 DBFF DFFF", "\xED\xAF\xBF\xED\xBF\xBF", INVALID),
    /* 5.3 Noncharacters are valid UTF-8 */
    T("5.3.1 U+FFFE", "\xEF\xBF\xBE", VALID),
    T("5.3.2 U+FFFF", "\xEF\xBF\xBF", VALID),
    T("5.3 U+FDD0", "\xEF\xB7\x90", VALID),
    T("5.3 U+10FFFE", "\xF4\x8F\xBF\xBE", VALID),
    /* Beyond U+10FFFF */
    T("> U+10FFFF F4 90", "\xF4\x90", INVALID),
    T("> U+10FFFF F4 BF BF BF", "\xF4\xBF\xBF\xBF", INVALID),
    T("> U+10FFFF F5 80 80 80", "\xF5\x80\x80\x80", INVALID),
    T("> U+10FFFF F7 BF BF BF", "\xF7\xBF\xBF\xBF", INVALID),
    /* Mixed valid text, long enough to reach the 16-byte path */
    T("mixed long",
      "The quick brown fox \xE2\x80\x94 jumps over the lazy dog. "
      "\xF0\x9F\x98\x80 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E "
      "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 0123456789abcdef!",
      VALID),
    T("long ascii then surrogate",
      "0123456789abcdef0123456789abcdef\xED\xA0\x80", INVALID),
    T("long ascii then 4-byte cut",
      "0123456789abcdef0123456789abcdef\xF0\x9F\x98", PARTIAL),
    T("4-byte across 16-byte edge",
      "0123456789abcd\xF0\x9F\x98\x80" "0123456789abcdef", VALID),
};

static const char *cat_name(int c)
{
    return c == VALID ? "valid" : c == INVALID ? "rejected" : "partial";
}

static void test_cases(void)
{
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const struct tcase *t = &cases[c];
        const uint8_t *p = (const uint8_t *)t->bytes;
        uint32_t st;

        /* The table agrees with the reference decoder. */
        CHECKF(ref_status(p, t->len) == t->expect,
               "reference on \"%s\" says %s", t->name,
               cat_name(ref_status(p, t->len)));

        /* In one piece. */
        st = wsc__utf8_feed(WSC_UTF8_ACCEPT, p, t->len);
        CHECKF(category(st) == t->expect,
               "\"%s\" whole: want %s, got state %u", t->name,
               cat_name(t->expect), (unsigned)st);

        /* Byte by byte: after every byte the state agrees with the
         * reference on that prefix (rejected at the first bad byte). */
        st = WSC_UTF8_ACCEPT;
        for (size_t i = 0; i < t->len; i++) {
            st = wsc__utf8_feed(st, p + i, 1);
            int want = ref_status(p, i + 1);
            CHECKF(category(st) == want,
                   "\"%s\" byte by byte, after %zu bytes: want %s, got %u",
                   t->name, i + 1, cat_name(want), (unsigned)st);
        }

        /* Every split into two pieces. */
        for (size_t k = 0; k <= t->len; k++) {
            uint32_t s1 = wsc__utf8_feed(WSC_UTF8_ACCEPT, p, k);
            uint32_t s2 = wsc__utf8_feed(s1, p + k, t->len - k);
            if (t->expect == VALID) {
                CHECKF(s1 != WSC_UTF8_REJECT,
                       "\"%s\" split at %zu: rejected midway", t->name, k);
            }
            CHECKF(category(s2) == t->expect,
                   "\"%s\" split at %zu: want %s, got %u", t->name, k,
                   cat_name(t->expect), (unsigned)s2);
        }
    }
}

/* The edges of the state argument: empty input, sticky REJECT, bad states. */
static void test_states(void)
{
    uint32_t mid = wsc__utf8_feed(WSC_UTF8_ACCEPT, "\xE2", 1);

    CHECK(wsc__utf8_feed(WSC_UTF8_ACCEPT, "", 0) == WSC_UTF8_ACCEPT,
          "empty input keeps ACCEPT");
    CHECK(wsc__utf8_feed(WSC_UTF8_REJECT, "", 0) == WSC_UTF8_REJECT,
          "empty input keeps REJECT");
    CHECK(wsc__utf8_feed(mid, "", 0) == mid, "empty input keeps a mid state");
    CHECK(wsc__utf8_feed(WSC_UTF8_ACCEPT, NULL, 0) == WSC_UTF8_ACCEPT,
          "NULL with length 0");
    CHECK(mid != WSC_UTF8_ACCEPT && mid != WSC_UTF8_REJECT,
          "E2 leaves a mid state");
    CHECK(wsc__utf8_feed(WSC_UTF8_REJECT, "abc", 3) == WSC_UTF8_REJECT,
          "REJECT is sticky over ASCII");
    CHECK(wsc__utf8_feed(WSC_UTF8_REJECT, "0123456789abcdef0123", 20)
          == WSC_UTF8_REJECT, "REJECT is sticky over 16-byte ASCII blocks");
    CHECK(wsc__utf8_feed(WSC_UTF8_REJECT, "\xC3\xA9", 2) == WSC_UTF8_REJECT,
          "REJECT is sticky over valid UTF-8");
    CHECK(wsc__utf8_feed(mid, "\x82\xAC", 2) == WSC_UTF8_ACCEPT,
          "E2 | 82 AC completes the euro sign");
    CHECK(wsc__utf8_feed(mid, "0123456789abcdef0123", 20) == WSC_UTF8_REJECT,
          "a mid state followed by a 16-byte ASCII block is rejected");
    /* States the validator never gives out are rejected. */
    static const uint32_t unknown[] = {2, 3, 7, 13, 47, 54, 0xDEAD, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECKF(wsc__utf8_feed(unknown[i], "a", 1) == WSC_UTF8_REJECT
               && wsc__utf8_feed(unknown[i], "\x80", 1) == WSC_UTF8_REJECT
               && wsc__utf8_feed(unknown[i], "", 0) == WSC_UTF8_REJECT,
               "unknown state %u is rejected", (unsigned)unknown[i]);
    }
}

/* ---- Random input -------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* Encodes cp (no checks) into out; returns the length. */
static size_t encode(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* A code point near an interesting edge, or anywhere. */
static uint32_t random_code_point(void)
{
    static const uint32_t edges[] = {
        0x80, 0x7FF, 0x800, 0xD7FF, 0xD800, 0xDFFF, 0xE000, 0xFFFF,
        0x10000, 0x10FFFF, 0x110000, 0x1FFFFF
    };
    switch (rnd() % 3) {
    case 0:
        return edges[rnd() % 12] + (rnd() % 3) - 1;
    case 1:
        return 0x80 + rnd() % 0x800;
    default:
        return rnd() % 0x200000;
    }
}

/* Random bytes biased toward high bytes and near-valid sequences, with
 * ASCII runs long enough to take the 16-byte path. Half the inputs are
 * noisy; the other half are mostly well-formed, so that all three outcomes
 * come up often. */
static size_t random_input(uint8_t *buf, size_t cap)
{
    size_t len = rnd() % cap, n = 0;
    int noisy = rnd() % 2;

    while (n < len) {
        uint8_t tmp[4];
        size_t k;
        unsigned pick = rnd() % 6;
        if (!noisy && (pick == 1 || pick == 2 || pick == 3) && rnd() % 32)
            pick = 4;
        switch (pick) {
        case 0: /* an ASCII run */
            k = 1 + rnd() % 24;
            for (size_t i = 0; i < k && n < len; i++)
                buf[n++] = (uint8_t)(0x20 + rnd() % 0x5F);
            break;
        case 1: /* any high byte */
        case 2:
            buf[n++] = (uint8_t)(0x80 | rnd());
            break;
        case 3: /* a lead byte of a sequence */
            buf[n++] = (uint8_t)(0xC0 + rnd() % 0x40);
            break;
        default: /* an encoded code point, sometimes cut short */
            k = encode(random_code_point(), tmp);
            if (rnd() % (noisy ? 8 : 64) == 0)
                k = rnd() % k;
            for (size_t i = 0; i < k && n < len; i++)
                buf[n++] = tmp[i];
            break;
        }
    }
    return len;
}

static void test_random(void)
{
    uint8_t buf[80];
    int counts[3] = {0, 0, 0};

    for (int iter = 0; iter < 100000; iter++) {
        size_t len = random_input(buf, sizeof buf);
        int want = ref_status(buf, len);
        uint32_t st = wsc__utf8_feed(WSC_UTF8_ACCEPT, buf, len);
        size_t k = len ? rnd() % (len + 1) : 0;

        counts[want]++;
        CHECKF(category(st) == want, "random #%d (len %zu): want %s, got %u",
               iter, len, cat_name(want), (unsigned)st);

        /* Split at a random point. */
        st = wsc__utf8_feed(wsc__utf8_feed(WSC_UTF8_ACCEPT, buf, k),
                           buf + k, len - k);
        CHECKF(category(st) == want, "random #%d split at %zu: want %s, got %u",
               iter, k, cat_name(want), (unsigned)st);

        /* Byte by byte on a tenth of them: agree on every prefix. */
        if (iter % 10 == 0) {
            int agree = 1;
            st = WSC_UTF8_ACCEPT;
            for (size_t i = 0; i < len && agree; i++) {
                st = wsc__utf8_feed(st, buf + i, 1);
                agree = category(st) == ref_status(buf, i + 1);
            }
            CHECKF(agree,
                   "random #%d byte by byte disagrees with the reference",
                   iter);
        }
    }
    /* The generator must exercise all three outcomes. */
    CHECK(counts[VALID] > 10000, "random inputs: enough valid ones");
    CHECK(counts[INVALID] > 10000, "random inputs: enough invalid ones");
    CHECK(counts[PARTIAL] > 1000, "random inputs: enough partial ones");
}

/* Every valid random input split at every position. */
static void test_valid_splits(void)
{
    uint8_t buf[64];

    for (int iter = 0; iter < 2000; iter++) {
        size_t len = 0;
        while (len + 4 <= sizeof buf && rnd() % 16) {
            uint32_t cp;
            do
                cp = random_code_point();
            while (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF));
            len += encode(cp, buf + len);
        }
        for (size_t k = 0; k <= len; k++) {
            uint32_t s1 = wsc__utf8_feed(WSC_UTF8_ACCEPT, buf, k);
            uint32_t s2 = wsc__utf8_feed(s1, buf + k, len - k);
            CHECKF(s1 != WSC_UTF8_REJECT && s2 == WSC_UTF8_ACCEPT,
                   "valid #%d (len %zu) split at %zu: %u then %u", iter, len, k,
                   (unsigned)s1, (unsigned)s2);
        }
    }
}

/* ---- The ASCII fast path at every alignment ------------------------------ */

static void test_fast_path(void)
{
    static const uint8_t bad[] = {0x80, 0xBF, 0xC0, 0xF5, 0xFF};
    static const char *const good[] = {
        "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF"
    };
    enum { LEN = 200 };
    uint8_t *block = malloc(LEN + 32);

    if (!block) {
        CHECK(0, "malloc");
        return;
    }
    for (size_t start = 0; start < 16; start++) {
        uint8_t *p = block + start;

        for (size_t i = 0; i < LEN; i++)
            p[i] = (uint8_t)(0x20 + rnd() % 0x5F);
        CHECKF(wsc__utf8_feed(WSC_UTF8_ACCEPT, p, LEN) == WSC_UTF8_ACCEPT,
               "pure ASCII at start %zu", start);

        /* One bad byte at offsets 0..64 (and near the end). */
        for (size_t off = 0; off <= LEN - 1; off++) {
            if (off > 64 && off < LEN - 40)
                continue;
            for (size_t b = 0; b < sizeof bad; b++) {
                uint8_t saved = p[off];
                p[off] = bad[b];
                CHECKF(wsc__utf8_feed(WSC_UTF8_ACCEPT, p, LEN)
                       == WSC_UTF8_REJECT,
                       "byte %02X at offset %zu, start %zu not rejected",
                       bad[b], off, start);
                p[off] = saved;
            }
        }

        /* A valid multi-byte character at each offset is accepted, and a
         * cut one at the end is partial. */
        for (size_t g = 0; g < 4; g++) {
            size_t glen = strlen(good[g]);
            for (size_t off = 0; off + glen <= 64 + 4; off++) {
                uint8_t saved[4];
                memcpy(saved, p + off, glen);
                memcpy(p + off, good[g], glen);
                CHECKF(wsc__utf8_feed(WSC_UTF8_ACCEPT, p, LEN)
                       == WSC_UTF8_ACCEPT,
                       "%zu-byte char at offset %zu, start %zu", glen, off,
                       start);
                CHECKF(category(wsc__utf8_feed(WSC_UTF8_ACCEPT, p, off + 1))
                       == PARTIAL,
                       "%zu-byte char cut at offset %zu, start %zu", glen,
                       off, start);
                memcpy(p + off, saved, glen);
            }
        }
    }
    free(block);
}

int main(void)
{
    test_cases();
    test_states();
    test_random();
    test_valid_splits();
    test_fast_path();
    return check_summary("test_utf8");
}
