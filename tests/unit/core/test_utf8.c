/*
 * Strict UTF-8: every sequence length, the exact edges of each range, and
 * the forms that must be refused (overlongs, surrogates, past U+10FFFF,
 * stray and missing continuation bytes, truncation).
 */
#include <stdint.h>

#include "test.h"
#include "utf8.h"

static size_t decode(const char *s, size_t n, uint32_t *cp)
{
    return cf_utf8_decode((const uint8_t *)s, n, cp);
}

static bool valid(const char *s, size_t n)
{
    return cf_utf8_valid(cf_slice_of(s, n));
}

static void test_decode_good(void)
{
    uint32_t cp = 0;
    CHECK(decode("A", 1, &cp) == 1 && cp == 'A');
    CHECK(decode("\x7f", 1, &cp) == 1 && cp == 0x7f);
    CHECK(decode("\xc2\x80", 2, &cp) == 2 && cp == 0x80);
    CHECK(decode("\xdf\xbf", 2, &cp) == 2 && cp == 0x7ff);
    CHECK(decode("\xe0\xa0\x80", 3, &cp) == 3 && cp == 0x800);
    CHECK(decode("\xed\x9f\xbf", 3, &cp) == 3 && cp == 0xd7ff); /* just below the surrogates */
    CHECK(decode("\xee\x80\x80", 3, &cp) == 3 && cp == 0xe000); /* just above them */
    CHECK(decode("\xef\xbf\xbd", 3, &cp) == 3 && cp == 0xfffd);
    CHECK(decode("\xf0\x90\x80\x80", 4, &cp) == 4 && cp == 0x10000);
    CHECK(decode("\xf4\x8f\xbf\xbf", 4, &cp) == 4 && cp == 0x10ffff);
    CHECK(decode("\xe2\x82\xac", 3, NULL) == 3); /* cp may be NULL */
    /* Only the first sequence is decoded. */
    CHECK(decode("\xc3\xa9xyz", 5, &cp) == 2 && cp == 0xe9);
}

static void test_decode_bad(void)
{
    uint32_t cp;
    const struct {
        const char *s;
        size_t n;
    } bad[] = {
        {"", 0},     /* nothing */
        {"\x80", 1}, /* lone continuation */
        {"\xbf", 1},
        {"\xc0\x80", 2},         /* overlong NUL */
        {"\xc1\xbf", 2},         /* overlong 0x7f */
        {"\xe0\x80\x80", 3},     /* overlong 3-byte */
        {"\xe0\x9f\xbf", 3},     /* overlong 0x7ff */
        {"\xf0\x80\x80\x80", 4}, /* overlong 4-byte */
        {"\xf0\x8f\xbf\xbf", 4}, /* overlong 0xffff */
        {"\xed\xa0\x80", 3},     /* U+D800, high surrogate */
        {"\xed\xbf\xbf", 3},     /* U+DFFF, low surrogate */
        {"\xf4\x90\x80\x80", 4}, /* U+110000 */
        {"\xf5\x80\x80\x80", 4}, /* lead byte past F4 */
        {"\xff", 1},
        {"\xc3", 1}, /* truncated */
        {"\xe2\x82", 2},
        {"\xf0\x9f\x98", 3},
        {"\xc3\x28", 2}, /* continuation missing */
        {"\xe2\x28\xa1", 3},
        {"\xe2\x82\x28", 3},
        {"\xf0\x9f\x98\x28", 4},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        size_t n = decode(bad[k].s, bad[k].n, &cp);
        if (n != 0)
            fprintf(stderr, "accepted bad sequence %zu\n", k);
        CHECK(n == 0);
    }
    /* A sequence cut by `left` is refused even when the bytes follow. */
    CHECK(decode("\xe2\x82\xac", 2, &cp) == 0);
}

static void test_valid(void)
{
    CHECK(valid("", 0));
    CHECK(valid("plain ascii", 11));
    CHECK(valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
    CHECK(valid("a\0b", 3)); /* NUL is a character; callers that refuse it check */
    CHECK(!valid("caf\xc3", 4));
    CHECK(!valid("\xed\xa0\x80\xed\xb0\x80", 6)); /* a surrogate pair, CESU-8 style */
    CHECK(!valid("ok\xc0\xafok", 6));             /* overlong '/' */
    CHECK(!valid("\xf4\x90\x80\x80", 4));
}

/* Every code point round-trips through the encoder and the decoder, in
 * as many bytes as the decoder reads; the ones UTF-8 cannot carry are
 * refused.  Byte order is code point order (what listings rely on). */
static void test_encode(void)
{
    uint8_t b[4], prev[4];
    size_t prev_n = 0;
    unsigned bad = 0;
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        size_t n = cf_utf8_encode(cp, b);
        if (cp >= 0xd800 && cp <= 0xdfff) {
            bad += n != 0;
            continue;
        }
        uint32_t back = 0;
        bad += n == 0 || cf_utf8_decode(b, n, &back) != n || back != cp;
        if (prev_n) {
            size_t m = n < prev_n ? n : prev_n;
            int c = memcmp(prev, b, m);
            bad += c > 0 || (c == 0 && prev_n >= n);
        }
        memcpy(prev, b, n);
        prev_n = n;
    }
    CHECK(bad == 0);
    CHECK(cf_utf8_encode(0x110000, b) == 0);
    CHECK(cf_utf8_encode(UINT32_MAX, b) == 0);
}

int main(void)
{
    RUN(test_decode_good);
    RUN(test_encode);
    RUN(test_decode_bad);
    RUN(test_valid);
    TEST_DONE();
}
