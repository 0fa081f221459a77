/* Checked number arguments for the standalone load tools (bench/ and
 * tests/system/conn_flood.c), which do not link libcoffer: a bad or
 * out-of-range argument stops the tool with a message instead of becoming
 * 0, as an unchecked conversion would. */
#ifndef CF_BENCH_CLI_NUMBER_H
#define CF_BENCH_CLI_NUMBER_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static inline unsigned long cli_number(const char *text, unsigned long max, const char *what)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = text ? strtoul(text, &end, 10) : 0;
    if (!text || !*text || *end || errno || v > max || text[0] == '-') {
        fprintf(stderr, "%s: expected a number from 0 to %lu, got '%s'\n", what, max,
                text ? text : "");
        exit(2);
    }
    return v;
}

/* A share from 0 to 1, such as 0.95. */
static inline double cli_share(const char *text, const char *what)
{
    char *end = NULL;
    errno = 0;
    double v = text ? strtod(text, &end) : -1;
    if (!text || !*text || *end || errno || !(v >= 0 && v <= 1)) {
        fprintf(stderr, "%s: expected a share from 0 to 1, got '%s'\n", what, text ? text : "");
        exit(2);
    }
    return v;
}

#endif
