/* SPDX-License-Identifier: MIT */
/* fuzz_common.h - what every fuzz target starts with: the libFuzzer entry
 * point's prototype (the targets define it) and ASSERT, which prints the
 * failed condition with file:line and aborts so libFuzzer keeps the input. */
#ifndef WSC_TESTS_FUZZ_COMMON_H
#define WSC_TESTS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(cond)                                                              \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                              \
        }                                                                         \
    } while (0)

#endif
