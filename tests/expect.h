/* expect.h — the one assertion macro of the plain-C tests: EXPECT(cond, fmt, ...) prints the file, line,
 * condition and message of a failed check and counts it; the test's main returns expect_report(). Include it in
 * exactly one file per test binary. */
#ifndef LOCUS_TEST_EXPECT_H
#define LOCUS_TEST_EXPECT_H

#include <stdio.h>

static int expect_failures;

#define EXPECT(c, ...)                                  \
    do {                                                \
        if (!(c)) {                                     \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #c); \
            printf(__VA_ARGS__);                        \
            printf("\n");                               \
            expect_failures++;                          \
        }                                               \
    } while (0)

/* Prints PASSED/FAILED with the count; the exit code for main. */
static inline int expect_report(void) {
    printf("%s (%d failures)\n", expect_failures ? "FAILED" : "PASSED", expect_failures);
    return expect_failures ? 1 : 0;
}

#endif
