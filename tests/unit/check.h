/* check.h — a minimal test harness for hpk's C unit tests: CHECK counts failures, check_done reports them. */
#ifndef HPK_TEST_CHECK_H
#define HPK_TEST_CHECK_H

#include <stdio.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                                                 \
    do {                                                                                                            \
        check_count++;                                                                                              \
        if (!(cond)) {                                                                                              \
            check_failures++;                                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                                \
        }                                                                                                           \
    } while (0)

#define CHECKF(cond, ...)                                                                                           \
    do {                                                                                                            \
        check_count++;                                                                                              \
        if (!(cond)) {                                                                                              \
            check_failures++;                                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);                                \
            fprintf(stderr, __VA_ARGS__);                                                                           \
            fputc('\n', stderr);                                                                                    \
        }                                                                                                           \
    } while (0)

static inline int check_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
