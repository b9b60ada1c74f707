/* SPDX-License-Identifier: MIT */
/* mask_bench.c - throughput of wsc__mask against memcpy and a plain byte loop,
 * at 16 B, 1 KiB, 64 KiB and 1 MiB. Usage: mask_bench [seconds per run]. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/mask.h"

typedef void (*op_fn)(uint8_t *dst, const uint8_t *src, size_t n);

static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};

/* Each operation is a real call, so all three pay the same call cost. */
__attribute__((noinline))
static void op_mask(uint8_t *dst, const uint8_t *src, size_t n)
{
    wsc__mask(dst, src, n, key, 1);
}

__attribute__((noinline))
static void op_memcpy(uint8_t *dst, const uint8_t *src, size_t n)
{
    memcpy(dst, src, n);
}

/* The obvious loop, kept byte-at-a-time: the empty asm stops the compiler
 * from vectorizing it, so the row shows what the vector code buys. */
__attribute__((noinline))
static void op_bytes(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] = src[i] ^ key[(1 + i) % 4];
        __asm__ volatile("" : : : "memory");
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds taken by `iters` calls of fn. */
static double time_op(op_fn fn, uint8_t *dst, const uint8_t *src, size_t n,
                      long iters)
{
    double t0 = now();
    for (long i = 0; i < iters; i++) {
        fn(dst, src, n);
        /* dst is "used" here, so no call can be dropped. */
        __asm__ volatile("" : : "r"(dst) : "memory");
    }
    return now() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Enough iterations of fn on n bytes for about `seconds`. */
static long calibrate(op_fn fn, uint8_t *dst, const uint8_t *src, size_t n,
                      double seconds)
{
    long iters = 1;
    double t;

    while ((t = time_op(fn, dst, src, n, iters)) < 0.01)
        iters *= 2;
    iters = (long)((double)iters * seconds / t);
    return iters < 1 ? 1 : iters;
}

enum { N_OPS = 3, RUNS = 5 };

/* GB/s of each op on n bytes, the median of RUNS runs. The runs of the
 * three ops take turns, so a noisy neighbour slows them alike. */
static void measure(op_fn const ops[N_OPS], uint8_t *dst, const uint8_t *src,
                    size_t n, double seconds, double gbps[N_OPS])
{
    long iters[N_OPS];
    double runs[N_OPS][RUNS];

    for (int o = 0; o < N_OPS; o++)
        iters[o] = calibrate(ops[o], dst, src, n, seconds);
    for (int r = 0; r < RUNS; r++)
        for (int o = 0; o < N_OPS; o++)
            runs[o][r] = time_op(ops[o], dst, src, n, iters[o]);
    for (int o = 0; o < N_OPS; o++) {
        qsort(runs[o], RUNS, sizeof runs[o][0], cmp_double);
        gbps[o] = (double)n * (double)iters[o] / runs[o][RUNS / 2] / 1e9;
    }
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = {16, 1024, 65536, 1048576};
    static const char *const names[] = {"16 B", "1 KiB", "64 KiB", "1 MiB"};
    static op_fn const ops[N_OPS] = {op_mask, op_bytes, op_memcpy};
    double seconds = argc > 1 ? atof(argv[1]) : 0.2;
    size_t max = sizes[3];
    uint8_t *src = malloc(max), *dst = malloc(max);

    if (!src || !dst || seconds <= 0) {
        fprintf(stderr, "usage: mask_bench [seconds per run > 0]\n");
        return 1;
    }
    for (size_t i = 0; i < max; i++)
        src[i] = (uint8_t)(i * 131 + 7);
    memset(dst, 0, max);

    printf("wsc__mask throughput (median of %d runs of ~%.2f s each)\n", RUNS,
           seconds);
    printf("%-8s %12s %12s %12s %12s %12s\n", "size", "mask GB/s",
           "bytes GB/s", "memcpy GB/s", "mask/memcpy", "mask/bytes");
    for (int s = 0; s < 4; s++) {
        double g[N_OPS];
        measure(ops, dst, src, sizes[s], seconds, g);
        printf("%-8s %12.2f %12.2f %12.2f %11.0f%% %11.1fx\n", names[s], g[0],
               g[1], g[2], 100.0 * g[0] / g[2], g[0] / g[1]);
    }

    /* Check the result so the work is observably used. */
    wsc__mask(dst, src, 64, key, 0);
    wsc__mask(dst, dst, 64, key, 0);
    if (memcmp(dst, src, 64) != 0) {
        fprintf(stderr, "mask_bench: wsc__mask is wrong\n");
        return 1;
    }
    free(src);
    free(dst);
    return 0;
}
