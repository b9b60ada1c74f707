/* SPDX-License-Identifier: MIT */
/* test_mask.c - wsc__mask against a byte-at-a-time reference: every length to
 * 300 at every src/dst alignment and key offset, in place and not, piece by
 * piece, and a few large sizes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/mask.h"
#define CHECK_PRINT_LIMIT 50
#include "check.h"

static const uint8_t key[4] = {0x37, 0xFA, 0x21, 0x3D};

static void ref_mask(uint8_t *dst, const uint8_t *src, size_t n,
                     size_t offset)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] ^ key[(offset + i) % 4];
}

static uint64_t rng_state = 0x2545F4914F6CDD1Du;

static uint8_t rnd8(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint8_t)(rng_state >> 56);
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = rnd8();
}

enum { MAXLEN = 300, ALIGNS = 32, GUARD = 16, FILL = 0xA5 };

/* Buffers with room for every alignment and guard bytes on both sides. */
static uint8_t src_buf[GUARD + ALIGNS + MAXLEN + GUARD];
static uint8_t dst_buf[GUARD + ALIGNS + MAXLEN + GUARD];
static uint8_t want[MAXLEN];

/* True when dst_buf holds FILL everywhere outside [from, from + n). */
static int guards_intact(size_t from, size_t n)
{
    for (size_t i = 0; i < sizeof dst_buf; i++)
        if ((i < from || i >= from + n) && dst_buf[i] != FILL)
            return 0;
    return 1;
}

static void test_small(void)
{
    fill_random(src_buf, sizeof src_buf);
    for (size_t len = 0; len <= MAXLEN; len++) {
        for (size_t off = 0; off < 4; off++) {
            for (size_t sa = 0; sa < ALIGNS; sa++) {
                const uint8_t *src = src_buf + GUARD + sa;
                ref_mask(want, src, len, off);

                /* Out of place, every dst alignment. */
                for (size_t da = 0; da < ALIGNS; da++) {
                    uint8_t *dst = dst_buf + GUARD + da;
                    memset(dst_buf, FILL, sizeof dst_buf);
                    size_t next = wsc__mask(dst, src, len, key, off);
                    int ok = next == (off + len) % 4
                          && memcmp(dst, want, len) == 0
                          && guards_intact(GUARD + da, len);
                    CHECKF(ok, "len %zu offset %zu src align %zu dst align %zu",
                           len, off, sa, da);
                }

                /* In place at this alignment. */
                uint8_t *p = dst_buf + GUARD + sa;
                memset(dst_buf, FILL, sizeof dst_buf);
                memcpy(p, src, len);
                size_t next = wsc__mask(p, p, len, key, off);
                int ok = next == (off + len) % 4 && memcmp(p, want, len) == 0
                      && guards_intact(GUARD + sa, len);
                CHECKF(ok, "in place len %zu offset %zu align %zu", len,
                       off, sa);
            }
        }
    }
}

/* Offsets of 4 and more wrap like offset % 4. */
static void test_big_offsets(void)
{
    uint8_t a[100], b[100], src[100];

    fill_random(src, sizeof src);
    for (size_t off = 4; off < 4000; off += 37) {
        size_t na = wsc__mask(a, src, sizeof src, key, off);
        size_t nb = wsc__mask(b, src, sizeof src, key, off % 4);
        CHECKF(na == nb && memcmp(a, b, sizeof a) == 0,
               "offset %zu acts like %zu", off, off % 4);
    }
    CHECK(wsc__mask(NULL, NULL, 0, key, 3) == 3, "NULL with length 0");
    CHECKF(wsc__mask(a, src, 5, key, (size_t)-2) == ((size_t)-2 + 5) % 4,
           "offset SIZE_MAX - 1");
}

/* Large buffers, whole and piece by piece with the returned offset. */
static void test_large(void)
{
    static const size_t sizes[] = {
        1023, 1024, 4097, 65535, 65536, 65537, 1048575, 1048576
    };
    size_t max = 1048576 + 64;
    uint8_t *src = malloc(max), *dst = malloc(max), *ref = malloc(max);

    if (!src || !dst || !ref) {
        CHECK(0, "malloc");
        goto done;
    }
    fill_random(src, max);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        for (size_t shift = 0; shift < 3; shift++) {
            const uint8_t *in = src + shift * 3;
            uint8_t *out = dst + shift * 5;
            size_t off = shift, next;

            ref_mask(ref, in, n, off);
            next = wsc__mask(out, in, n, key, off);
            CHECKF(next == (off + n) % 4 && memcmp(out, ref, n) == 0,
                   "size %zu shift %zu whole", n, shift);

            /* In place. */
            memcpy(out, in, n);
            next = wsc__mask(out, out, n, key, off);
            CHECKF(next == (off + n) % 4 && memcmp(out, ref, n) == 0,
                   "size %zu shift %zu in place", n, shift);

            /* In pieces of random length, chaining the offset. */
            memset(out, 0, n);
            for (size_t i = 0; i < n;) {
                size_t piece = 1 + (size_t)rnd8() * (rnd8() % 8 + 1);
                if (piece > n - i)
                    piece = n - i;
                off = wsc__mask(out + i, in + i, piece, key, off);
                i += piece;
            }
            CHECKF(off == (shift + n) % 4 && memcmp(out, ref, n) == 0,
                   "size %zu shift %zu in pieces", n, shift);
        }
    }
done:
    free(src);
    free(dst);
    free(ref);
}

/* Masking twice gives back the input. */
static void test_involution(void)
{
    uint8_t a[1000], b[1000], c[1000];

    fill_random(a, sizeof a);
    wsc__mask(b, a, sizeof a, key, 3);
    CHECK(memcmp(a, b, sizeof a) != 0, "masking changes the data");
    wsc__mask(c, b, sizeof b, key, 3);
    CHECK(memcmp(a, c, sizeof a) == 0, "masking twice restores the data");
}

int main(void)
{
    test_small();
    test_big_offsets();
    test_large();
    test_involution();
    return check_summary("test_mask");
}
