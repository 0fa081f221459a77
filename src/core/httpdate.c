/*
 * Date arithmetic is Howard Hinnant's days_from_civil / civil_from_days
 * (public-domain algorithms, written out here from their description),
 * exact for the whole 0001-9999 range with no tables beyond month lengths.
 * Parsers walk the text with a small bounded scanner and accept only what
 * the header comment lists: no whitespace folding, no trailing bytes.
 */
#include "httpdate.h"

#include <string.h>
#include <strings.h>

#include "units.h"

static const char *const wkday_short[7] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
static const char *const wkday_long[7] = {"Thursday", "Friday",  "Saturday", "Sunday",
                                          "Monday",   "Tuesday", "Wednesday"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return mdays[m - 1] + (m == 2 && is_leap(y));
}

int64_t cf_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

typedef struct {
    int64_t year;
    int mon, day, hour, min, sec;
} civil;

static void split(int64_t t, civil *c, int *wday)
{
    int64_t days = t / CF_SECONDS_PER_DAY, rem = t % CF_SECONDS_PER_DAY;
    if (rem < 0) {
        rem += CF_SECONDS_PER_DAY;
        days--;
    }
    civil_from_days(days, &c->year, &c->mon, &c->day);
    c->hour = (int)(rem / CF_SECONDS_PER_HOUR);
    c->min = (int)(rem / CF_SECONDS_PER_MINUTE % 60);
    c->sec = (int)(rem % CF_SECONDS_PER_MINUTE);
    /* 1970-01-01 was a Thursday, index 0 of the weekday tables. */
    int64_t w = days % 7;
    *wday = (int)(w < 0 ? w + 7 : w);
}

/* Validates the fields (a leap second allowed only where `leap_ok`) and
 * gives the epoch seconds. */
static bool join(const civil *c, bool leap_ok, int64_t *out)
{
    CF_ENSURE(c->year >= 1 && c->year <= 9999 && c->mon >= 1 && c->mon <= 12 && c->day >= 1 &&
                  c->day <= days_in_month(c->year, c->mon) && c->hour <= 23 && c->min <= 59 &&
                  c->sec <= (leap_ok ? 60 : 59),
              CF_ERR_BAD_INPUT, "date out of range");
    *out = cf_days_from_civil(c->year, c->mon, c->day) * CF_SECONDS_PER_DAY +
           c->hour * CF_SECONDS_PER_HOUR + c->min * CF_SECONDS_PER_MINUTE + c->sec;
    return true;
}

static void put_digits(char *p, int64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

bool cf_httpdate_format(int64_t t, char out[CF_HTTPDATE_LEN + 1])
{
    CF_ENSURE(t >= CF_TIME_MIN && t <= CF_TIME_MAX, CF_ERR_BAD_INPUT, "time out of range");
    civil c;
    int wday;
    split(t, &c, &wday);
    memcpy(out, "Www, DD Mon YYYY HH:MM:SS GMT", CF_HTTPDATE_LEN + 1);
    memcpy(out, wkday_short[wday], 3);
    put_digits(out + 5, c.day, 2);
    memcpy(out + 8, month_names[c.mon - 1], 3);
    put_digits(out + 12, c.year, 4);
    put_digits(out + 17, c.hour, 2);
    put_digits(out + 20, c.min, 2);
    put_digits(out + 23, c.sec, 2);
    return true;
}

/* "YYYY-MM-DDThh:mm:ss", then "." and `digits` digits of `frac` (none
 * when 0), "Z" and a NUL; t within CF_TIME_MIN..CF_TIME_MAX. */
static void iso8601_put(int64_t t, uint32_t frac, int digits, char *out)
{
    civil c;
    int wday;
    split(t, &c, &wday);
    memcpy(out, "YYYY-MM-DDThh:mm:ss", 19);
    put_digits(out, c.year, 4);
    put_digits(out + 5, c.mon, 2);
    put_digits(out + 8, c.day, 2);
    put_digits(out + 11, c.hour, 2);
    put_digits(out + 14, c.min, 2);
    put_digits(out + 17, c.sec, 2);
    char *end = out + 19;
    if (digits > 0) {
        *end++ = '.';
        put_digits(end, frac, digits);
        end += digits;
    }
    memcpy(end, "Z", 2);
}

bool cf_iso8601_format_seconds(int64_t t, char out[CF_ISO8601_SECONDS_LEN + 1])
{
    CF_ENSURE(t >= CF_TIME_MIN && t <= CF_TIME_MAX, CF_ERR_BAD_INPUT, "time out of range");
    iso8601_put(t, 0, 0, out);
    return true;
}

bool cf_iso8601_format(int64_t t, uint32_t ticks, char out[CF_ISO8601_LEN + 1])
{
    CF_ENSURE(t >= CF_TIME_MIN && t <= CF_TIME_MAX && ticks <= 9999999, CF_ERR_BAD_INPUT,
              "time out of range");
    iso8601_put(t, ticks, 7, out);
    return true;
}

void cf_iso8601_format_ms(int64_t ms, char out[CF_ISO8601_MS_LEN + 1])
{
    int64_t t = ms / CF_MS_PER_SECOND, frac = ms % CF_MS_PER_SECOND;
    if (frac < 0) {
        frac += CF_MS_PER_SECOND;
        t--;
    }
    if (t < CF_TIME_MIN)
        t = CF_TIME_MIN, frac = 0;
    else if (t > CF_TIME_MAX)
        t = CF_TIME_MAX, frac = CF_MS_PER_SECOND - 1;
    iso8601_put(t, (uint32_t)frac, 3, out);
}

/* ---- scanning ---- */

typedef struct {
    cf_slice s;
    size_t i;
} scan;

static bool lit(scan *sc, const char *l)
{
    size_t n = strlen(l);
    if (sc->s.len - sc->i < n || memcmp(sc->s.ptr + sc->i, l, n) != 0)
        return false;
    sc->i += n;
    return true;
}

/* Exactly `n` digits. */
static bool num(scan *sc, size_t n, int64_t *out)
{
    if (sc->s.len - sc->i < n)
        return false;
    int64_t v = 0;
    for (size_t k = 0; k < n; k++) {
        uint8_t ch = sc->s.ptr[sc->i + k];
        if (ch < '0' || ch > '9')
            return false;
        v = v * 10 + (ch - '0');
    }
    sc->i += n;
    *out = v;
    return true;
}

static bool num_int(scan *sc, size_t n, int *out)
{
    int64_t v;
    if (!num(sc, n, &v))
        return false;
    *out = (int)v;
    return true;
}

/* One of `names` (case-insensitive, whole word up to the next non-letter). */
static bool word(scan *sc, const char *const *names, int count, int *out)
{
    size_t n = 0;
    while (sc->i + n < sc->s.len && n < 16) {
        uint8_t ch = sc->s.ptr[sc->i + n];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            break;
        n++;
    }
    for (int k = 0; k < count; k++) {
        if (strlen(names[k]) == n &&
            strncasecmp((const char *)sc->s.ptr + sc->i, names[k], n) == 0) {
            sc->i += n;
            *out = k;
            return true;
        }
    }
    return false;
}

static bool hms(scan *sc, civil *c)
{
    return num_int(sc, 2, &c->hour) && lit(sc, ":") && num_int(sc, 2, &c->min) && lit(sc, ":") &&
           num_int(sc, 2, &c->sec);
}

static bool at_end(const scan *sc)
{
    return sc->i == sc->s.len;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" (a one-digit day is tolerated). */
static bool parse_imf(scan *sc, civil *c)
{
    int w;
    if (!word(sc, wkday_short, 7, &w) || !lit(sc, ", "))
        return false;
    size_t start = sc->i;
    if (!num_int(sc, 2, &c->day)) {
        sc->i = start;
        if (!num_int(sc, 1, &c->day))
            return false;
    }
    if (!lit(sc, " ") || !word(sc, month_names, 12, &c->mon) || !lit(sc, " ") ||
        !num(sc, 4, &c->year) || !lit(sc, " ") || !hms(sc, c) || !lit(sc, " GMT"))
        return false;
    c->mon++;
    return at_end(sc);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static bool parse_rfc850(scan *sc, civil *c)
{
    int w;
    if (!word(sc, wkday_long, 7, &w) || !lit(sc, ", ") || !num_int(sc, 2, &c->day) ||
        !lit(sc, "-") || !word(sc, month_names, 12, &c->mon) || !lit(sc, "-") ||
        !num(sc, 2, &c->year) || !lit(sc, " ") || !hms(sc, c) || !lit(sc, " GMT"))
        return false;
    c->mon++;
    c->year += c->year < 70 ? 2000 : 1900;
    return at_end(sc);
}

/* "Sun Nov  6 08:49:37 1994" */
static bool parse_asctime(scan *sc, civil *c)
{
    int w;
    if (!word(sc, wkday_short, 7, &w) || !lit(sc, " ") || !word(sc, month_names, 12, &c->mon) ||
        !lit(sc, " "))
        return false;
    if (lit(sc, " ")) {
        if (!num_int(sc, 1, &c->day))
            return false;
    } else if (!num_int(sc, 2, &c->day)) {
        return false;
    }
    if (!lit(sc, " ") || !hms(sc, c) || !lit(sc, " ") || !num(sc, 4, &c->year))
        return false;
    c->mon++;
    return at_end(sc);
}

bool cf_httpdate_parse(cf_slice text, int64_t *out)
{
    CF_ENSURE(text.len <= CF_TIME_TEXT_MAX, CF_ERR_BAD_INPUT, "not an HTTP date");
    civil c = {0};
    scan sc = {text, 0};
    bool ok = parse_imf(&sc, &c);
    if (!ok) {
        sc.i = 0;
        memset(&c, 0, sizeof c);
        ok = parse_rfc850(&sc, &c);
    }
    if (!ok) {
        sc.i = 0;
        memset(&c, 0, sizeof c);
        ok = parse_asctime(&sc, &c);
    }
    CF_ENSURE(ok, CF_ERR_BAD_INPUT, "not an HTTP date");
    return join(&c, true, out);
}

bool cf_iso8601_parse(cf_slice text, int64_t *out, uint32_t *ticks)
{
    CF_ENSURE(text.len <= CF_TIME_TEXT_MAX, CF_ERR_BAD_INPUT, "not an ISO 8601 UTC time");
    civil c = {0};
    scan sc = {text, 0};
    uint32_t frac = 0;
    bool ok = num(&sc, 4, &c.year) && lit(&sc, "-") && num_int(&sc, 2, &c.mon) && lit(&sc, "-") &&
              num_int(&sc, 2, &c.day);
    if (ok && !at_end(&sc)) {
        ok = lit(&sc, "T") && num_int(&sc, 2, &c.hour) && lit(&sc, ":") && num_int(&sc, 2, &c.min);
        if (ok && lit(&sc, ":")) {
            ok = num_int(&sc, 2, &c.sec);
            if (ok && lit(&sc, ".")) {
                int digits = 0;
                int64_t d;
                while (digits < 7 && num(&sc, 1, &d)) {
                    frac = frac * 10 + (uint32_t)d;
                    digits++;
                }
                ok = digits >= 1;
                for (; digits < 7; digits++)
                    frac *= 10;
            }
        }
        ok = ok && lit(&sc, "Z") && at_end(&sc);
    }
    CF_ENSURE(ok, CF_ERR_BAD_INPUT, "not an ISO 8601 UTC time");
    CF_GUARD(join(&c, false, out));
    if (ticks)
        *ticks = frac;
    return true;
}
