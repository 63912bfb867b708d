/* check.h: the few assertion macros the unit tests share. A failed check
 * prints where and what, counts the failure, and the test goes on; main()
 * returns check_summary(). */
#ifndef CE_CHECK_H
#define CE_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        check_count++;                                                                             \
        if (!(cond)) {                                                                             \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        check_count++;                                                                             \
        if (!g_ || strcmp(g_, w_) != 0) {                                                          \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: got [%s]\n%*swant [%s]\n", __FILE__, __LINE__,                 \
                    g_ ? g_ : "(null)", (int)strlen(__FILE__) + 8, "", w_);                        \
        }                                                                                          \
    } while (0)

#define CHECK_MEM(got, glen, want, wlen)                                                           \
    do {                                                                                           \
        check_count++;                                                                             \
        if ((glen) != (wlen) || memcmp((got), (want), (glen)) != 0) {                              \
            check_failures++;                                                                      \
            fprintf(stderr, "%s:%d: got [%.*s]\n    want [%.*s]\n", __FILE__, __LINE__,            \
                    (int)(glen), (const char *)(got), (int)(wlen), (const char *)(want));          \
        }                                                                                          \
    } while (0)

static inline int check_summary(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
