/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file ernn_test.h
 * @brief A minimal test harness for the runtime's C unit tests (one executable per test file).
 */
#ifndef ERNN_TEST_H
#define ERNN_TEST_H

#include <stdio.h>

static int ernn_test_checks;
static int ernn_test_failures;

/** Record one check; print the failing expression and its location. */
#define CHECK(cond)                                                                        \
    do {                                                                                   \
        ++ernn_test_checks;                                                                \
        if (!(cond)) {                                                                     \
            ++ernn_test_failures;                                                          \
            printf("%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                \
        }                                                                                  \
    } while (0)

/** Check two integers for equality, printing both on failure. */
#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        const long ernn_a_ = (long)(a);                                                    \
        const long ernn_b_ = (long)(b);                                                    \
        ++ernn_test_checks;                                                                \
        if (ernn_a_ != ernn_b_) {                                                          \
            ++ernn_test_failures;                                                          \
            printf("%s:%d: %s == %s failed: %ld != %ld\n", __FILE__, __LINE__, #a, #b, ernn_a_, ernn_b_); \
        }                                                                                  \
    } while (0)

/** Print the summary line and return the process exit status. */
static inline int ernn_test_report(const char *name)
{
    printf("%s: %d checks, %d failures\n", name, ernn_test_checks, ernn_test_failures);
    return ernn_test_failures == 0 ? 0 : 1;
}

#endif /* ERNN_TEST_H */
