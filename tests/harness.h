/* harness.h - the minimal test harness shared by leancv's C tests: CHECK macros that report
 * file:line and keep going, and a summary line "N passed, M failed" at exit. */
#ifndef LCV_TEST_HARNESS_H
#define LCV_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>

static int lcv_test_pass_count = 0;
static int lcv_test_fail_count = 0;

#define CHECK(cond)                                                                               \
    do {                                                                                          \
        if (cond) {                                                                               \
            lcv_test_pass_count++;                                                                \
        } else {                                                                                  \
            lcv_test_fail_count++;                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);            \
        }                                                                                         \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                      \
    do {                                                                                          \
        if (cond) {                                                                               \
            lcv_test_pass_count++;                                                                \
        } else {                                                                                  \
            lcv_test_fail_count++;                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);            \
            fprintf(stderr, __VA_ARGS__);                                                         \
            fputc('\n', stderr);                                                                  \
        }                                                                                         \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                     \
    CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%.9g vs %.9g", (double)(a), (double)(b))

/* Prints the summary and returns the process exit status. */
static inline int lcv_test_finish(const char *name) {
    printf("%s: %d passed, %d failed\n", name, lcv_test_pass_count, lcv_test_fail_count);
    return lcv_test_fail_count ? 1 : 0;
}

#endif
