/* check.h: the unit tests' tiny assertion kit.
 *
 * CHECK(cond), CHECK_EQ_INT(a, b), CHECK_STREQ(a, b) count a pass or print file:line and the
 * failing expression and count a failure; the test goes on either way.  check_finish() prints
 * the closing line "N passed, M failed" (which CI reads) and gives the exit status. */
#ifndef CONTRAIL_TESTS_CHECK_H
#define CONTRAIL_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed __attribute__((unused));
static int check_failed __attribute__((unused));

#define CHECK(COND)                                                                    \
    do {                                                                               \
        if (COND) {                                                                    \
            check_passed++;                                                            \
        } else {                                                                       \
            check_failed++;                                                            \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #COND);    \
        }                                                                              \
    } while (0)

#define CHECK_EQ_INT(A, B)                                                             \
    do {                                                                               \
        long long check_a_ = (long long) (A), check_b_ = (long long) (B);              \
        if (check_a_ == check_b_) {                                                    \
            check_passed++;                                                            \
        } else {                                                                       \
            check_failed++;                                                            \
            fprintf(stderr, "%s:%d: CHECK_EQ_INT(%s, %s) failed: %lld != %lld\n",       \
                    __FILE__, __LINE__, #A, #B, check_a_, check_b_);                   \
        }                                                                              \
    } while (0)

#define CHECK_STREQ(A, B)                                                              \
    do {                                                                               \
        const char *check_s_ = (A), *check_t_ = (B);                                   \
        if (check_s_ && check_t_ && !strcmp(check_s_, check_t_)) {                     \
            check_passed++;                                                            \
        } else {                                                                       \
            check_failed++;                                                            \
            fprintf(stderr, "%s:%d: CHECK_STREQ(%s, %s) failed: \"%s\" != \"%s\"\n",    \
                    __FILE__, __LINE__, #A, #B, check_s_ ? check_s_ : "(null)",        \
                    check_t_ ? check_t_ : "(null)");                                   \
        }                                                                              \
    } while (0)

/* Whether string HAY contains NEEDLE (NULL HAY: no). */
#define CHECK_CONTAINS(HAY, NEEDLE)                                                    \
    do {                                                                               \
        const char *check_h_ = (HAY), *check_n_ = (NEEDLE);                            \
        if (check_h_ && strstr(check_h_, check_n_)) {                                  \
            check_passed++;                                                            \
        } else {                                                                       \
            check_failed++;                                                            \
            fprintf(stderr, "%s:%d: CHECK_CONTAINS(%s, %s) failed: \"%s\" lacks \"%s\"\n", \
                    __FILE__, __LINE__, #HAY, #NEEDLE, check_h_ ? check_h_ : "(null)",  \
                    check_n_);                                                         \
        }                                                                              \
    } while (0)

static inline int
check_finish(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    fflush(stdout);
    return check_failed ? 1 : 0;
}

#endif
