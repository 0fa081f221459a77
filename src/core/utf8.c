/*
 * Strict UTF-8 decoding (see utf8.h).  The second byte's range is what
 * rules out overlongs (E0, F0), surrogates (ED) and code points past
 * U+10FFFF (F4); lead bytes C0, C1 and F5-FF never start a sequence.
 */
#include "utf8.h"

size_t cf_utf8_decode(const uint8_t *p, size_t left, uint32_t *cp)
{
    if (left == 0)
        return 0;
    uint8_t c = p[0];
    if (c < 0x80) {
        if (cp)
            *cp = c;
        return 1;
    }
    uint8_t lo = 0x80, hi = 0xbf;
    size_t n;
    uint32_t v;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, v = c & 0x0f;
        if (c == 0xe0)
            lo = 0xa0; /* no overlong forms */
        else if (c == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, v = c & 0x07;
        if (c == 0xf0)
            lo = 0x90; /* no overlong forms */
        else if (c == 0xf4)
            hi = 0x8f; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (left < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (cp)
        *cp = v;
    return n;
}

size_t cf_utf8_encode(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

bool cf_utf8_valid(cf_slice text)
{
    const uint8_t *p = text.ptr;
    for (size_t i = 0; i < text.len;) {
        size_t n = cf_utf8_decode(p + i, text.len - i, NULL);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

static bool cf_put_utf16le(cf_buf *out, uint32_t unit)
{
    const uint8_t le[2] = {(uint8_t)unit, (uint8_t)(unit >> 8)};
    return cf_buf_append(out, le, sizeof le);
}

bool cf_utf16le_from_utf8(cf_slice utf8, cf_buf *out)
{
    for (size_t i = 0; i < utf8.len;) {
        uint32_t cp;
        size_t n = cf_utf8_decode(utf8.ptr + i, utf8.len - i, &cp);
        CF_ENSURE(n > 0, CF_ERR_BAD_INPUT, "not well-formed UTF-8");
        i += n;
        if (cp < 0x10000) {
            CF_GUARD(cf_put_utf16le(out, cp));
        } else {
            cp -= 0x10000;
            CF_GUARD(cf_put_utf16le(out, 0xd800 | cp >> 10));
            CF_GUARD(cf_put_utf16le(out, 0xdc00 | (cp & 0x3ff)));
        }
    }
    return true;
}

bool cf_utf8_from_utf16le(cf_slice utf16, cf_buf *out)
{
    CF_ENSURE(utf16.len % 2 == 0, CF_ERR_BAD_INPUT, "UTF-16 text of an odd length");
    const uint8_t *p = utf16.ptr;
    for (size_t i = 0; i < utf16.len; i += 2) {
        uint32_t cp = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8;
        if (cp >= 0xd800 && cp <= 0xdbff && i + 3 < utf16.len) {
            uint32_t low = (uint32_t)p[i + 2] | (uint32_t)p[i + 3] << 8;
            if (low >= 0xdc00 && low <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                i += 2;
            }
        }
        uint8_t enc[4];
        size_t n = cf_utf8_encode(cp, enc); /* 0 for an unpaired surrogate */
        CF_ENSURE(n > 0, CF_ERR_BAD_INPUT, "UTF-16 text with an unpaired surrogate");
        CF_GUARD(cf_buf_append(out, enc, n));
    }
    return true;
}
