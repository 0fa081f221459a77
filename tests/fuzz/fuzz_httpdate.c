/*
 * The date parsers of src/core/httpdate.h (cf_httpdate_parse,
 * cf_iso8601_parse) and the SAS st/se parser of src/core/storage_auth.h
 * (cf_sas_parse_time), checked against a reference built from libc:
 * the text must first fit one of the documented shapes character by
 * character (letter, digit or the literal byte), then glibc's strptime()
 * reads the fields and timegm() turns them into seconds, and a date that
 * timegm() had to normalise (31 February) is refused.  The parsers must
 * reach the same accept/reject decision and the same seconds (and ticks),
 * or the target aborts.  Its inputs are arbitrary bytes, and the seed
 * corpus holds each form, its edges (leap days, year 0001 and 9999, :60)
 * and near misses.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strptime, timegm */
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "httpdate.h"
#include "storage_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(void)
{
    abort();
}

/* The text fits `shape` exactly: 'a' a letter, 'd' a digit, any other
 * character itself. */
static int fits(const char *t, size_t len, const char *shape)
{
    if (strlen(shape) != len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        int ok = shape[i] == 'a'   ? (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                 : shape[i] == 'd' ? c >= '0' && c <= '9'
                                   : c == (unsigned char)shape[i];
        if (!ok)
            return 0;
    }
    return 1;
}

/* Reads `t` (NUL-terminated) with strptime in full. */
static int read_fields(const char *t, const char *format, struct tm *tm)
{
    memset(tm, 0, sizeof *tm);
    const char *end = strptime(t, format, tm);
    return end && *end == 0;
}

/* Seconds of a broken-down UTC time, refusing what timegm had to move. */
static int ref_join(struct tm tm, int max_sec, int64_t *out)
{
    int year = tm.tm_year + 1900;
    if (year < 1 || year > 9999 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > max_sec)
        return 0;
    struct tm day = {0}, back;
    day.tm_year = tm.tm_year;
    day.tm_mon = tm.tm_mon;
    day.tm_mday = tm.tm_mday;
    time_t midnight = timegm(&day);
    if (!gmtime_r(&midnight, &back) || back.tm_year != tm.tm_year || back.tm_mon != tm.tm_mon ||
        back.tm_mday != tm.tm_mday)
        return 0;
    *out = (int64_t)midnight + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return 1;
}

static const char *const long_days[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};

/* RFC 9110 §5.6.7: the three forms, names in any case, a leap second. */
static int ref_httpdate(const char *t, size_t len, int64_t *out)
{
    struct tm tm;
    if (fits(t, len, "aaa, dd aaa dddd dd:dd:dd GMT") ||
        fits(t, len, "aaa, d aaa dddd dd:dd:dd GMT"))
        return read_fields(t, "%a, %d %b %Y %H:%M:%S GMT", &tm) && ref_join(tm, 60, out);
    if (fits(t, len, "aaa aaa dd dd:dd:dd dddd") || fits(t, len, "aaa aaa  d dd:dd:dd dddd"))
        return read_fields(t, "%a %b %e %H:%M:%S %Y", &tm) && ref_join(tm, 60, out);
    const char *comma = memchr(t, ',', len);
    if (!comma)
        return 0;
    size_t wlen = (size_t)(comma - t);
    int long_name = 0;
    for (size_t k = 0; k < 7; k++)
        long_name |= strlen(long_days[k]) == wlen && strncasecmp(t, long_days[k], wlen) == 0;
    if (!long_name || !fits(comma, len - wlen, ", dd-aaa-dd dd:dd:dd GMT") ||
        !read_fields(t, "%A, %d-%b-%y %H:%M:%S GMT", &tm))
        return 0;
    /* Two-digit years as the header documents: 70-99 are 19xx, 00-69 20xx. */
    int yy = (comma[9] - '0') * 10 + (comma[10] - '0');
    tm.tm_year = (yy < 70 ? 2000 + yy : 1900 + yy) - 1900;
    return ref_join(tm, 60, out);
}

/* Azure's ISO 8601 forms: a date, or date-time to minutes or seconds with
 * 1-7 fractional digits, always Z. */
static int ref_iso8601(const char *t, size_t len, int64_t *out, uint32_t *ticks)
{
    struct tm tm;
    char head[20];
    *ticks = 0;
    if (fits(t, len, "dddd-dd-dd"))
        return read_fields(t, "%Y-%m-%d", &tm) && ref_join(tm, 59, out);
    if (fits(t, len, "dddd-dd-ddTdd:ddZ"))
        return read_fields(t, "%Y-%m-%dT%H:%MZ", &tm) && ref_join(tm, 59, out);
    if (len < 20 || !fits(t, 19, "dddd-dd-ddTdd:dd:dd"))
        return 0;
    const char *rest = t + 19;
    size_t rlen = len - 19;
    if (rlen == 1 && rest[0] == 'Z') {
        /* whole seconds */
    } else if (rlen >= 3 && rlen <= 9 && rest[0] == '.' && rest[rlen - 1] == 'Z') {
        for (size_t i = 1; i + 1 < rlen; i++) {
            if (rest[i] < '0' || rest[i] > '9')
                return 0;
            *ticks = *ticks * 10 + (uint32_t)(rest[i] - '0');
        }
        for (size_t i = rlen - 2; i < 7; i++)
            *ticks *= 10;
    } else {
        return 0;
    }
    memcpy(head, t, 19);
    head[19] = 0;
    return read_fields(head, "%Y-%m-%dT%H:%M:%S", &tm) && ref_join(tm, 59, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 128)
        return 0;
    char *t = malloc(size + 1);
    if (!t)
        fail();
    memcpy(t, data, size);
    t[size] = 0;
    /* strptime stops at a NUL: the reference sees the text only when it
     * holds none, and otherwise refuses, as the shapes do. */
    int has_nul = strlen(t) != size;

    int64_t got = 0, want = 0;
    bool ok = cf_httpdate_parse(cf_slice_of(data, size), &got);
    int ref = !has_nul && ref_httpdate(t, size, &want);
    if (ok != (ref == 1) || (ok && got != want))
        fail();
    if (ok) {
        /* What parses formats back inside the range and parses again. */
        char text[CF_HTTPDATE_LEN + 1];
        int64_t again = 0;
        if (got < CF_TIME_MIN || got > CF_TIME_MAX + 1)
            fail();
        if (got <= CF_TIME_MAX && (!cf_httpdate_format(got, text) ||
                                   !cf_httpdate_parse(CF_SLICE_STR(text), &again) || again != got))
            fail();
    }

    uint32_t ticks = 0, want_ticks = 0;
    ok = cf_iso8601_parse(cf_slice_of(data, size), &got, &ticks);
    ref = !has_nul && ref_iso8601(t, size, &want, &want_ticks);
    if (ok != (ref == 1) || (ok && (got != want || ticks != want_ticks)))
        fail();

    /* The SAS parser reads a C string: the text up to the first NUL. */
    size_t slen = strlen(t);
    int64_t sas_time = 0;
    bool sas_ok = cf_sas_parse_time(t, &sas_time);
    ref = ref_iso8601(t, slen, &want, &want_ticks);
    if (sas_ok != (ref == 1) || (sas_ok && sas_time != want))
        fail();
    free(t);
    return 0;
}
