/*
 * A minimal test harness. A test program defines test functions and lists them in main with
 * RUN(fn); CHECK* record a failure with file:line and go on, REQUIRE* return from the test.
 * Each program ends with "N passed, N failed" and exits non-zero on any failure.
 */
#ifndef EFVITCP_HARNESS_H
#define EFVITCP_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int th_failures; /* failures of the running test */
extern int th_passed, th_failed;

/* The header-prediction switch for test configs: false when the environment says
   EFVITCP_TEST_FAST_PATH=0, so that ctest runs the seg and e2e suites once with the fast path and
   once through the general path alone (labels seg-nofp, e2e-nofp), with the same expectations. */
static inline int th_fast_path(void)
{
    const char *v = getenv("EFVITCP_TEST_FAST_PATH");
    return !(v && strcmp(v, "0") == 0);
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            th_failures++;                                                                         \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long th_a_ = (long long)(a), th_b_ = (long long)(b);                                  \
        if (th_a_ != th_b_) {                                                                      \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n", __FILE__,         \
                    __LINE__, #a, #b, th_a_, th_b_);                                               \
            th_failures++;                                                                         \
        }                                                                                          \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);             \
            th_failures++;                                                                         \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_NULL_ERR(expr)                                                                       \
    do {                                                                                           \
        const char *th_e_ = (expr);                                                                \
        if (th_e_) {                                                                               \
            fprintf(stderr, "%s:%d: %s returned error \"%s\"\n", __FILE__, __LINE__, #expr,        \
                    th_e_);                                                                        \
            th_failures++;                                                                         \
        }                                                                                          \
    } while (0)

#define RUN(fn) th_run(#fn, fn)

void th_run(const char *name, void (*fn)(void));
/** Prints "N passed, N failed" and returns the exit status. */
int th_summary(void);

#endif
