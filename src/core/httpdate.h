/*
 * Wall-clock times as text, over int64 seconds since 1970-01-01 UTC.
 *
 * HTTP dates (RFC 9110 §5.6.7): Date, Last-Modified, If-(Un)Modified-Since,
 * x-ms-date, and the <Last-Modified> elements of Azure's XML.  We always
 * write the IMF-fixdate form and read all three forms HTTP allows.
 *
 * ISO 8601 UTC as Azure uses it: written with seven fractional digits
 * (Azure's 100 ns ticks, as in error messages and ACL XML), read in the
 * forms Azure takes in SAS st/se and stored access policies.
 *
 * Pure arithmetic on the proleptic Gregorian calendar: no locale, no time
 * zone, no libc time state, so every function is thread-safe.  Dates are
 * read, written and counted here only, not with libc's time functions.  Years are
 * limited to 0001-9999 (four digits on the wire).
 */
#ifndef CF_HTTPDATE_H
#define CF_HTTPDATE_H

#include <stdint.h>

#include "buf.h"

/* "Sun, 29 Nov 2026 00:24:55 GMT" */
#define CF_HTTPDATE_LEN 29
/* "2026-11-29T00:24:55.0000000Z" */
#define CF_ISO8601_LEN 28
/* "2026-11-29T00:24:55.123Z" */
#define CF_ISO8601_MS_LEN 24
/* "2026-11-29T00:24:55Z" */
#define CF_ISO8601_SECONDS_LEN 20
/* Longest text the parsers look at; anything longer is not a date. */
#define CF_TIME_TEXT_MAX 64
/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z */
#define CF_TIME_MIN (-62135596800LL)
#define CF_TIME_MAX 253402300799LL

/* Writes the IMF-fixdate form and a NUL.  CF_ERR_BAD_INPUT outside
 * CF_TIME_MIN..CF_TIME_MAX. */
CF_MUST_USE CF_NONNULL bool cf_httpdate_format(int64_t t, char out[CF_HTTPDATE_LEN + 1]);

/* Reads an HTTP date: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), RFC 850
 * ("Sunday, 06-Nov-94 08:49:37 GMT"; two-digit years 70-99 are 19xx, 00-69
 * 20xx) or asctime ("Sun Nov  6 08:49:37 1994").  Names are matched without
 * regard to case; the weekday must be a real name but is not checked against
 * the date (RFC 9110 lets a recipient ignore it).  A leap second (:60) is
 * taken as the next second.  Anything else is CF_ERR_BAD_INPUT. */
CF_MUST_USE CF_NONNULL bool cf_httpdate_parse(cf_slice text, int64_t *out);

/* Writes "YYYY-MM-DDThh:mm:ss.fffffffZ" and a NUL; `ticks` is the fraction
 * of the second in 100 ns units (0..9999999). */
CF_MUST_USE CF_NONNULL bool cf_iso8601_format(int64_t t, uint32_t ticks,
                                              char out[CF_ISO8601_LEN + 1]);

/* Writes "YYYY-MM-DDThh:mm:ssZ" and a NUL (whole seconds, as the CLI
 * shows times).  CF_ERR_BAD_INPUT outside CF_TIME_MIN..CF_TIME_MAX. */
CF_MUST_USE CF_NONNULL bool cf_iso8601_format_seconds(int64_t t,
                                                      char out[CF_ISO8601_SECONDS_LEN + 1]);

/* Writes "YYYY-MM-DDThh:mm:ss.mmmZ" and a NUL for `ms` milliseconds since
 * the epoch (log and audit lines).  Never fails: a time outside
 * CF_TIME_MIN..CF_TIME_MAX is written as the nearest end of the range, so
 * a line always carries a well-formed time. */
CF_NONNULL void cf_iso8601_format_ms(int64_t ms, char out[CF_ISO8601_MS_LEN + 1]);

/* Reads ISO 8601 UTC in the forms Azure accepts: "YYYY-MM-DD",
 * "YYYY-MM-DDThh:mmZ", "YYYY-MM-DDThh:mm:ssZ", or the last with 1-7
 * fractional digits.  `ticks` (may be NULL) gets the fraction in 100 ns
 * units.  No offsets other than Z.  CF_ERR_BAD_INPUT otherwise. */
CF_MUST_USE bool cf_iso8601_parse(cf_slice text, int64_t *out, uint32_t *ticks);

/* Days from 1970-01-01 to a proleptic Gregorian date (negative before);
 * no range check: callers validate the date first. */
int64_t cf_days_from_civil(int64_t year, int month, int day);

#endif
