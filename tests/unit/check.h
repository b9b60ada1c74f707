/* SPDX-License-Identifier: MIT */
/* check.h - the checks every unit test uses. Each test is one program, so
 * the counters live here as statics; they are atomic so that threads may
 * check too (test_concurrency).
 *
 *   CHECK(cond, what)         counts a check; when cond is false, prints
 *                             "file:line: FAIL what" to stderr
 *   CHECKF(cond, fmt, ...)    the same with a formatted description
 *   check_at(ok, file, line, what)   what both call, for a caller's line
 *   return check_summary("test_x");  at the end of main: prints
 *                             "test_x: N checks passed" or
 *                             "test_x: K of N checks FAILED", gives 0 or 1
 *   atomic_load(&check_failures)     the failures so far
 *
 * A test that makes many checks in loops may define CHECK_PRINT_LIMIT
 * before including this to print only its first that many failures (all
 * are still counted). */
#ifndef WSC_TESTS_UNIT_CHECK_H
#define WSC_TESTS_UNIT_CHECK_H

#include <stdatomic.h>
#include <stdio.h>

#ifndef CHECK_PRINT_LIMIT
#define CHECK_PRINT_LIMIT 0 /* print every failure */
#endif

static atomic_int check_count, check_failures;

static inline void check_at(int ok, const char *file, int line, const char *what)
{
    atomic_fetch_add(&check_count, 1);
    if (!ok) {
        int failed = atomic_fetch_add(&check_failures, 1) + 1;
        if (CHECK_PRINT_LIMIT == 0 || failed <= CHECK_PRINT_LIMIT)
            fprintf(stderr, "%s:%d: FAIL %s\n", file, line, what);
    }
}

#define CHECK(cond, what) check_at((cond) != 0, __FILE__, __LINE__, (what))
#define CHECKF(cond, ...)                                                  \
    do {                                                                   \
        char what_[400];                                                   \
        snprintf(what_, sizeof what_, __VA_ARGS__);                        \
        check_at((cond) != 0, __FILE__, __LINE__, what_);                  \
    } while (0)

static inline int check_summary(const char *name)
{
    int n = atomic_load(&check_count), failed = atomic_load(&check_failures);
    if (failed) {
        printf("%s: %d of %d checks FAILED\n", name, failed, n);
        return 1;
    }
    printf("%s: %d checks passed\n", name, n);
    return 0;
}

#endif
