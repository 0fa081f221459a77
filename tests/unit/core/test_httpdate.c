/*
 * HTTP and ISO 8601 dates: known answers (checked against `date -u`),
 * round trips over the whole year range, leap years, and rejects.
 */
#include <stdint.h>

#include "httpdate.h"
#include "test.h"
#include "units.h"

static bool parse_http(const char *s, int64_t *t)
{
    return cf_httpdate_parse(CF_SLICE_STR(s), t);
}

static bool parse_iso(const char *s, int64_t *t, uint32_t *ticks)
{
    return cf_iso8601_parse(CF_SLICE_STR(s), t, ticks);
}

static void test_format_known(void)
{
    char b[CF_HTTPDATE_LEN + 1], i[CF_ISO8601_LEN + 1];
    CHECK(cf_httpdate_format(0, b));
    CHECK_STR(b, "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK(cf_httpdate_format(1795912495, b));
    CHECK_STR(b, "Sun, 29 Nov 2026 00:34:55 GMT");
    CHECK(cf_httpdate_format(784111777, b));
    CHECK_STR(b, "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(cf_httpdate_format(951782400, b)); /* 2000 is a leap year */
    CHECK_STR(b, "Tue, 29 Feb 2000 00:00:00 GMT");
    CHECK(cf_httpdate_format(-1, b));
    CHECK_STR(b, "Wed, 31 Dec 1969 23:59:59 GMT");
    CHECK(cf_httpdate_format(CF_TIME_MIN, b));
    CHECK_STR(b, "Mon, 01 Jan 0001 00:00:00 GMT");
    CHECK(cf_httpdate_format(CF_TIME_MAX, b));
    CHECK_STR(b, "Fri, 31 Dec 9999 23:59:59 GMT");
    CHECK(!cf_httpdate_format(CF_TIME_MAX + 1, b));
    CHECK(!cf_httpdate_format(CF_TIME_MIN - 1, b));
    CHECK(!cf_httpdate_format(INT64_MIN, b));

    CHECK(cf_iso8601_format(1795912495, 0, i));
    CHECK_STR(i, "2026-11-29T00:34:55.0000000Z");
    CHECK(cf_iso8601_format(1795912495, 7940000, i));
    CHECK_STR(i, "2026-11-29T00:34:55.7940000Z");
    CHECK(cf_iso8601_format(4107542400, 9999999, i)); /* 2100 is not a leap year */
    CHECK_STR(i, "2100-03-01T00:00:00.9999999Z");
    CHECK(!cf_iso8601_format(0, 10000000, i));
    CHECK(!cf_iso8601_format(CF_TIME_MAX + 1, 0, i));
}

static void test_parse_http(void)
{
    int64_t t = 0;
    CHECK(parse_http("Sun, 06 Nov 1994 08:49:37 GMT", &t) && t == 784111777);
    CHECK(parse_http("Sunday, 06-Nov-94 08:49:37 GMT", &t) && t == 784111777);
    CHECK(parse_http("Sun Nov  6 08:49:37 1994", &t) && t == 784111777);
    CHECK(parse_http("Sun Nov 16 08:49:37 1994", &t) && t == 784111777 + 10 * 86400);
    CHECK(parse_http("sun, 06 nov 1994 08:49:37 GMT", &t) && t == 784111777);
    CHECK(parse_http("Sun, 6 Nov 1994 08:49:37 GMT", &t) && t == 784111777);
    /* The weekday is not checked against the date. */
    CHECK(parse_http("Mon, 06 Nov 1994 08:49:37 GMT", &t) && t == 784111777);
    CHECK(parse_http("Thursday, 01-Jan-70 00:00:00 GMT", &t) && t == 0);
    CHECK(parse_http("Friday, 01-Jan-27 00:00:00 GMT", &t) && t == 1798761600);
    CHECK(parse_http("Tue, 29 Feb 2000 00:00:00 GMT", &t) && t == 951782400);
    CHECK(parse_http("Wed, 31 Dec 2026 23:59:60 GMT", &t) && t == 1798761600);
    CHECK(parse_http("Fri, 31 Dec 9999 23:59:59 GMT", &t) && t == CF_TIME_MAX);

    const char *bad[] = {
        "",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun,  06 Nov 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 32 Jan 1994 08:49:37 GMT",
        "Sun, 00 Jan 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 29 Feb 2023 08:49:37 GMT",
        "Sun, 31 Apr 2023 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 0000 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov +994 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 1994 GMT",
        "2026-11-29T00:24:55Z",
        "1795912495",
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        bool ok = parse_http(bad[k], &t);
        if (ok)
            fprintf(stderr, "accepted: '%s'\n", bad[k]);
        CHECK(!ok && cf_error_code() == CF_ERR_BAD_INPUT);
    }
    /* An embedded NUL is not the end of the text. */
    CHECK(!cf_httpdate_parse(cf_slice_of("Sun, 06 Nov 1994 08:49:37 GMT\0", 30), &t));
}

static void test_parse_iso(void)
{
    int64_t t = 0;
    uint32_t ticks = 99;
    CHECK(parse_iso("2026-11-29", &t, &ticks) && t == 1795910400 && ticks == 0);
    CHECK(parse_iso("2026-11-29T00:34Z", &t, NULL) && t == 1795912440);
    CHECK(parse_iso("2026-11-29T00:34:55Z", &t, &ticks) && t == 1795912495 && ticks == 0);
    CHECK(parse_iso("2026-11-29T00:34:55.7Z", &t, &ticks) && t == 1795912495 && ticks == 7000000);
    CHECK(parse_iso("2026-11-29T00:34:55.794Z", &t, &ticks) && ticks == 7940000);
    CHECK(parse_iso("2026-11-29T00:34:55.0000001Z", &t, &ticks) && ticks == 1);
    CHECK(parse_iso("2024-02-29T23:59:59Z", &t, NULL) && t == 1709251199);
    CHECK(parse_iso("2000-02-29", &t, NULL) && t == 951782400);
    CHECK(parse_iso("0001-01-01", &t, NULL) && t == CF_TIME_MIN);
    CHECK(parse_iso("9999-12-31T23:59:59.9999999Z", &t, &ticks) && t == CF_TIME_MAX &&
          ticks == 9999999);
    CHECK(parse_iso("1969-12-31T23:59:59Z", &t, NULL) && t == -1);

    const char *bad[] = {
        "",
        "2026",
        "2026-11",
        "2026-11-29T",
        "2026-11-29Z",
        "2026-11-29T00Z",
        "2026-11-29T00:34",
        "2026-11-29T00:34:55",
        "2026-11-29T00:34:55.Z",
        "2026-11-29T00:34:55.12345678Z",
        "2026-11-29T00:34:55+00:00",
        "2026-11-29T00:34:55z",
        "2026-11-29 00:34:55Z",
        "2026-11-29T00:34:55ZZ",
        "2026-13-01",
        "2026-00-01",
        "2026-01-00",
        "2023-02-29",
        "2100-02-29",
        "2026-11-29T24:00Z",
        "2026-11-29T00:60Z",
        "2026-11-29T00:34:60Z",
        "0000-01-01",
        "+2026-11-29",
        "26-11-29",
        "2026-1-29",
        "2026/11/29",
        "Sun, 06 Nov 1994 08:49:37 GMT",
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        bool ok = parse_iso(bad[k], &t, NULL);
        if (ok)
            fprintf(stderr, "accepted: '%s'\n", bad[k]);
        CHECK(!ok && cf_error_code() == CF_ERR_BAD_INPUT);
    }
}

/* Every day from 0001 to 9999 (at drifting times of day) survives both
 * formats and both parsers. */
static void test_round_trip(void)
{
    char b[CF_HTTPDATE_LEN + 1], i[CF_ISO8601_LEN + 1];
    int failures = 0;
    for (int64_t t = CF_TIME_MIN; t <= CF_TIME_MAX; t += 86400 - 7) {
        int64_t a = 0, c = 0;
        uint32_t ticks = 0;
        bool ok = cf_httpdate_format(t, b) && cf_httpdate_parse(CF_SLICE_STR(b), &a) && a == t &&
                  cf_iso8601_format(t, 1234567, i) &&
                  cf_iso8601_parse(CF_SLICE_STR(i), &c, &ticks) && c == t && ticks == 1234567;
        if (!ok && failures++ < 5)
            fprintf(stderr, "round trip failed at %lld (%s, %s)\n", (long long)t, b, i);
    }
    CHECK(failures == 0);
}

/* Day counts at the edges that matter: the epoch, leap days, century
 * years (1900 and 2100 are not leap years, 2000 is), year boundaries,
 * and before the epoch. */
static void test_days_from_civil(void)
{
    CHECK(cf_days_from_civil(1970, 1, 1) == 0);
    CHECK(cf_days_from_civil(1969, 12, 31) == -1);
    CHECK(cf_days_from_civil(1971, 1, 1) == 365);
    CHECK(cf_days_from_civil(1972, 12, 31) - cf_days_from_civil(1972, 1, 1) == 365); /* leap */
    CHECK(cf_days_from_civil(2000, 3, 1) - cf_days_from_civil(2000, 2, 28) == 2);
    CHECK(cf_days_from_civil(1900, 3, 1) - cf_days_from_civil(1900, 2, 28) == 1);
    CHECK(cf_days_from_civil(2100, 3, 1) - cf_days_from_civil(2100, 2, 28) == 1);
    CHECK(cf_days_from_civil(2024, 3, 1) - cf_days_from_civil(2024, 2, 28) == 2);
    CHECK(cf_days_from_civil(2026, 1, 1) - cf_days_from_civil(2025, 12, 31) == 1);
    CHECK(cf_days_from_civil(2000, 2, 29) * CF_SECONDS_PER_DAY == 951782400);
    CHECK(cf_days_from_civil(1, 1, 1) * CF_SECONDS_PER_DAY == CF_TIME_MIN);
    CHECK(cf_days_from_civil(9999, 12, 31) * CF_SECONDS_PER_DAY + CF_SECONDS_PER_DAY - 1 ==
          CF_TIME_MAX);
    /* 400 years are exactly 146097 days, on either side of the epoch. */
    CHECK(cf_days_from_civil(2400, 1, 1) - cf_days_from_civil(2000, 1, 1) == 146097);
    CHECK(cf_days_from_civil(1600, 1, 1) - cf_days_from_civil(1200, 1, 1) == 146097);
}

static void test_format_ms(void)
{
    char b[CF_ISO8601_MS_LEN + 1];
    cf_iso8601_format_ms(0, b);
    CHECK_STR(b, "1970-01-01T00:00:00.000Z");
    cf_iso8601_format_ms(1795910399123LL, b);
    CHECK_STR(b, "2026-11-28T23:59:59.123Z");
    cf_iso8601_format_ms(951868799999LL, b); /* the last millisecond of a leap day */
    CHECK_STR(b, "2000-02-29T23:59:59.999Z");
    cf_iso8601_format_ms(-1, b);
    CHECK_STR(b, "1969-12-31T23:59:59.999Z");
    /* Outside the range: the nearest end, still the fixed-width form. */
    cf_iso8601_format_ms(CF_TIME_MAX * 1000 + 1000, b);
    CHECK_STR(b, "9999-12-31T23:59:59.999Z");
    cf_iso8601_format_ms(INT64_MIN, b);
    CHECK_STR(b, "0001-01-01T00:00:00.000Z");
    CHECK(strlen(b) == CF_ISO8601_MS_LEN);
}

static void test_format_seconds(void)
{
    static const struct {
        int64_t t;
        const char *text;
    } known[] = {
        {1795912495, "2026-11-29T00:34:55Z"},
        {CF_TIME_MIN, "0001-01-01T00:00:00Z"},
        {CF_TIME_MAX, "9999-12-31T23:59:59Z"},
    };
    char b[CF_ISO8601_SECONDS_LEN + 1];
    for (size_t k = 0; k < sizeof known / sizeof *known; k++) {
        int64_t back = 0;
        CHECK(cf_iso8601_format_seconds(known[k].t, b));
        CHECK_STR(b, known[k].text);
        CHECK(parse_iso(b, &back, NULL) && back == known[k].t);
    }
    CHECK(!cf_iso8601_format_seconds(CF_TIME_MAX + 1, b));
    CHECK(!cf_iso8601_format_seconds(CF_TIME_MIN - 1, b));
}

/* Invalid calendar dates are refused by every parser. */
static void test_invalid_dates(void)
{
    int64_t t;
    const char *iso[] = {"2026-02-30", "2026-02-29", "2024-02-30",
                         "2026-04-31", "1900-02-29", "2026-06-31T00:00Z"};
    for (size_t k = 0; k < sizeof iso / sizeof *iso; k++)
        CHECK(!parse_iso(iso[k], &t, NULL));
    CHECK(!parse_http("Mon, 30 Feb 2026 00:00:00 GMT", &t));
    CHECK(!parse_http("Thu, 29 Feb 2100 00:00:00 GMT", &t));
    CHECK(!parse_http("Thu, 31 Apr 2026 00:00:00 GMT", &t));
    /* Year boundaries parse to consecutive seconds. */
    int64_t a, b;
    CHECK(parse_iso("2025-12-31T23:59:59Z", &a, NULL) && parse_iso("2026-01-01", &b, NULL) &&
          b == a + 1);
    CHECK(parse_http("Wed, 31 Dec 1969 23:59:59 GMT", &a) && a == -1);
}

int main(void)
{
    RUN(test_days_from_civil);
    RUN(test_format_ms);
    RUN(test_format_seconds);
    RUN(test_invalid_dates);
    RUN(test_format_known);
    RUN(test_parse_http);
    RUN(test_parse_iso);
    RUN(test_round_trip);
    TEST_DONE();
}
