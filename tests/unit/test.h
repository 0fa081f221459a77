/*
 * A minimal unit-test harness: CHECK records a failure and carries on, so a
 * run reports every broken assertion; main() returns non-zero on any.
 */
#ifndef CF_TEST_H
#define CF_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cf_test_failures;
static int cf_test_checks;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        cf_test_checks++;                                                            \
        if (!(cond)) {                                                               \
            cf_test_failures++;                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)
#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0)

#define RUN(fn)                          \
    do {                                 \
        fprintf(stderr, "-- %s\n", #fn); \
        fn();                            \
    } while (0)

#define RUN_WITH(fn, arg)                \
    do {                                 \
        fprintf(stderr, "-- %s\n", #fn); \
        fn(arg);                         \
    } while (0)

/* Removes a SQLite database and its WAL side files. */
static inline void test_remove_db(const char *path)
{
    char side[512];
    remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
}

/* rm -r of a test's scratch directory (a path of the test's own making). */
static inline bool test_remove_dir(const char *dir)
{
    char cmd[1200];
    int n = snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return n > 0 && (size_t)n < sizeof cmd && !strchr(dir, '\'') && system(cmd) == 0;
}

#define TEST_DONE()                                                                  \
    do {                                                                             \
        fprintf(stderr, "%d checks, %d failed\n", cf_test_checks, cf_test_failures); \
        return cf_test_failures ? 1 : 0;                                             \
    } while (0)

#endif
