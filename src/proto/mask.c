/* SPDX-License-Identifier: MIT */
/* mask.c - wsc__mask: XOR a payload with the 4-byte WebSocket masking key,
 * 32 bytes at a time with AVX2 when the CPU has it, else 16, else 8 and 1. */
#include <string.h>

#include "proto/mask.h"

/* The key as a 32-bit word whose bytes in memory are key[offset % 4],
 * key[(offset + 1) % 4], ... so it masks 4 bytes that start at `offset`. */
static uint32_t rotated_key(const uint8_t key[4], size_t offset)
{
    unsigned shift = 8 * (unsigned)(offset % 4);
    uint32_t k;

    memcpy(&k, key, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (k << shift) | (k >> ((32 - shift) % 32));
#else
    return (k >> shift) | (k << ((32 - shift) % 32));
#endif
}

/*
 * The vector versions below work the same way, for n at least one vector:
 *   - load the first and the last vector of src and mask them,
 *   - mask the vectors between in place in dst's alignment (aligned stores
 *     are much faster than ones that straddle cache lines),
 *   - store the first and last vectors last.
 * The first and last vectors overlap the aligned ones, but they are loaded
 * before anything is stored, so dst == src works, and the overlapping bytes
 * get the same value twice.
 */

#if defined(__GNUC__) || defined(__clang__)
#define MASK_V16 1
typedef uint32_t mask_v16 __attribute__((vector_size(16)));

static void mask_16(uint8_t *dst, const uint8_t *src, size_t n,
                    const uint8_t key[4], size_t offset)
{
    size_t head = (size_t)(-(uintptr_t)dst % 16);
    size_t i = head, end = head + (n - head) / 16 * 16;
    uint32_t kf = rotated_key(key, offset);
    uint32_t kl = rotated_key(key, offset + n - 16);
    uint32_t k = rotated_key(key, offset + head);
    mask_v16 first, last, a, b, kv = {k, k, k, k};

    memcpy(&first, src, 16);
    memcpy(&last, src + n - 16, 16);
    first ^= (mask_v16){kf, kf, kf, kf};
    last ^= (mask_v16){kl, kl, kl, kl};
    for (; end - i >= 32; i += 32) {
        memcpy(&a, src + i, 16);
        memcpy(&b, src + i + 16, 16);
        a ^= kv;
        b ^= kv;
        memcpy(dst + i, &a, 16);
        memcpy(dst + i + 16, &b, 16);
    }
    if (i < end) {
        memcpy(&a, src + i, 16);
        a ^= kv;
        memcpy(dst + i, &a, 16);
    }
    memcpy(dst, &first, 16);
    memcpy(dst + n - 16, &last, 16);
}
#endif

#if defined(MASK_V16) && defined(__x86_64__)
#define MASK_AVX2 1
typedef uint32_t mask_v32 __attribute__((vector_size(32)));

/* Chosen at run time: the library is built for baseline x86-64. */
__attribute__((target("avx2")))
static void mask_32(uint8_t *dst, const uint8_t *src, size_t n,
                    const uint8_t key[4], size_t offset)
{
    size_t head = (size_t)(-(uintptr_t)dst % 32);
    size_t i = head, end = head + (n - head) / 32 * 32;
    uint32_t kf = rotated_key(key, offset);
    uint32_t kl = rotated_key(key, offset + n - 32);
    uint32_t k = rotated_key(key, offset + head);
    mask_v32 first, last, a, b, c, d, kv = {k, k, k, k, k, k, k, k};

    memcpy(&first, src, 32);
    memcpy(&last, src + n - 32, 32);
    first ^= (mask_v32){kf, kf, kf, kf, kf, kf, kf, kf};
    last ^= (mask_v32){kl, kl, kl, kl, kl, kl, kl, kl};
    for (; end - i >= 128; i += 128) {
        memcpy(&a, src + i, 32);
        memcpy(&b, src + i + 32, 32);
        memcpy(&c, src + i + 64, 32);
        memcpy(&d, src + i + 96, 32);
        a ^= kv;
        b ^= kv;
        c ^= kv;
        d ^= kv;
        memcpy(dst + i, &a, 32);
        memcpy(dst + i + 32, &b, 32);
        memcpy(dst + i + 64, &c, 32);
        memcpy(dst + i + 96, &d, 32);
    }
    for (; i < end; i += 32) {
        memcpy(&a, src + i, 32);
        a ^= kv;
        memcpy(dst + i, &a, 32);
    }
    memcpy(dst, &first, 32);
    memcpy(dst + n - 32, &last, 32);
}
#endif

size_t wsc__mask(uint8_t *dst, const uint8_t *src, size_t n,
                const uint8_t key[4], size_t offset)
{
    size_t next = (offset + n) % 4;
    uint32_t k4;
    uint64_t k8, w, w2;

#ifdef MASK_AVX2
    if (n >= 64 && __builtin_cpu_supports("avx2")) {
        mask_32(dst, src, n, key, offset);
        return next;
    }
#endif
#ifdef MASK_V16
    if (n >= 16) {
        mask_16(dst, src, n, key, offset);
        return next;
    }
#endif
    /* Short payloads (or no vectors): 8 bytes at a time, and for the
     * last 8 the same overlapping trick as above. */
    if (n >= 8) {
        size_t i = 0;
        k4 = rotated_key(key, offset);
        k8 = (uint64_t)k4 << 32 | k4;
        for (; n - i >= 16; i += 8) {
            memcpy(&w, src + i, 8);
            w ^= k8;
            memcpy(dst + i, &w, 8);
        }
        k4 = rotated_key(key, offset + n - 8);
        memcpy(&w, src + i, 8);
        memcpy(&w2, src + n - 8, 8);
        w ^= k8;
        w2 ^= (uint64_t)k4 << 32 | k4;
        memcpy(dst + i, &w, 8);
        memcpy(dst + n - 8, &w2, 8);
        return next;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] ^ key[(offset + i) % 4];
    return next;
}
