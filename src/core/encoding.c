/*
 * Encoders append to `out` (which keeps its own cap); decoders validate the
 * whole input before anything is trusted.
 */
#include "encoding.h"

#include <string.h>

static const char cf_b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char cf_b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static bool cf_b64_encode_with(cf_slice in, cf_buf *out, const char *alphabet, bool pad)
{
    CF_ENSURE(in.len <= SIZE_MAX / 2, CF_ERR_TOO_LARGE, NULL);
    size_t full = in.len / 3, rest = in.len % 3;
    size_t outlen = full * 4 + (rest ? (pad ? 4 : rest + 1) : 0);
    uint8_t *o;
    CF_GUARD(cf_buf_extend(out, outlen, &o));
    const uint8_t *p = in.ptr;
    for (size_t i = 0; i < full; i++, p += 3) {
        uint32_t v = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
        *o++ = (uint8_t)alphabet[(v >> 18) & 63];
        *o++ = (uint8_t)alphabet[(v >> 12) & 63];
        *o++ = (uint8_t)alphabet[(v >> 6) & 63];
        *o++ = (uint8_t)alphabet[v & 63];
    }
    if (rest) {
        uint32_t v = (uint32_t)p[0] << 16;
        if (rest == 2)
            v |= (uint32_t)p[1] << 8;
        *o++ = (uint8_t)alphabet[(v >> 18) & 63];
        *o++ = (uint8_t)alphabet[(v >> 12) & 63];
        if (rest == 2)
            *o++ = (uint8_t)alphabet[(v >> 6) & 63];
        else if (pad)
            *o++ = '=';
        if (pad)
            *o++ = '=';
    }
    return true;
}

static int cf_b64_value(uint8_t c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

static bool cf_b64_decode_with(cf_slice in, cf_buf *out, bool url)
{
    size_t len = in.len;
    /* Strip at most two '=' of padding.  Both alphabets accept it, but only
     * complete (padded to a multiple of four), so that a byte string has
     * one padded and one unpadded encoding, never "QQ=" or "=". */
    if (len > 0 && in.ptr[len - 1] == '=')
        len--;
    if (len > 0 && in.ptr[len - 1] == '=')
        len--;
    CF_ENSURE(in.len % 4 == 0 || len == in.len, CF_ERR_BAD_INPUT, "invalid base64 padding");
    CF_ENSURE(len % 4 != 1, CF_ERR_BAD_INPUT, "invalid base64 length");
    size_t outlen = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    size_t start = out->len;
    uint8_t *o;
    CF_GUARD(cf_buf_extend(out, outlen, &o));
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = cf_b64_value(in.ptr[i], url);
        if (v < 0) {
            cf_buf_truncate(out, start);
            CF_BAIL(CF_ERR_BAD_INPUT,
                    url ? "invalid base64url character" : "invalid base64 character");
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (uint8_t)(acc >> bits);
        }
    }
    /* Leftover bits must be zero, so every byte string has one encoding. */
    if (bits && (acc & ((1u << bits) - 1))) {
        cf_buf_truncate(out, start);
        CF_BAIL(CF_ERR_BAD_INPUT, "non-canonical base64");
    }
    return true;
}

bool cf_base64_encode(cf_slice in, cf_buf *out)
{
    return cf_b64_encode_with(in, out, cf_b64_std, true);
}

bool cf_base64url_encode(cf_slice in, cf_buf *out)
{
    return cf_b64_encode_with(in, out, cf_b64_url, false);
}

bool cf_base64_decode(cf_slice in, cf_buf *out)
{
    return cf_b64_decode_with(in, out, false);
}

bool cf_base64url_decode(cf_slice in, cf_buf *out)
{
    return cf_b64_decode_with(in, out, true);
}

bool cf_hex_encode(cf_slice in, cf_buf *out)
{
    static const char digits[] = "0123456789abcdef";
    CF_ENSURE(in.len <= SIZE_MAX / 2, CF_ERR_TOO_LARGE, NULL);
    uint8_t *o;
    CF_GUARD(cf_buf_extend(out, in.len * 2, &o));
    for (size_t i = 0; i < in.len; i++) {
        *o++ = (uint8_t)digits[in.ptr[i] >> 4];
        *o++ = (uint8_t)digits[in.ptr[i] & 15];
    }
    return true;
}

static int cf_hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool cf_hex_decode_append(cf_slice in, cf_buf *out)
{
    CF_ENSURE(in.len % 2 == 0, CF_ERR_BAD_INPUT, "odd number of hex digits");
    for (size_t i = 0; i < in.len; i += 2) {
        int hi = cf_hex_value(in.ptr[i]), lo = cf_hex_value(in.ptr[i + 1]);
        CF_ENSURE(hi >= 0 && lo >= 0, CF_ERR_BAD_INPUT, "invalid hex digit");
        CF_GUARD(cf_buf_append_u8(out, (uint8_t)(hi << 4 | lo)));
    }
    return true;
}

/* A failed decode takes back what it appended: the caller's earlier bytes
 * stay as they were, and no partial output is left to be mistaken for data. */
bool cf_hex_decode(cf_slice in, cf_buf *out)
{
    size_t start = out->len;
    if (cf_hex_decode_append(in, out))
        return true;
    cf_buf_truncate(out, start);
    return false;
}

bool cf_percent_encode(cf_buf *out, const char *text, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~' || (keep_slash && ch == '/')) {
            CF_GUARD(cf_buf_append_u8(out, ch));
        } else {
            uint8_t esc[3] = {'%', (uint8_t)hex[ch >> 4], (uint8_t)hex[ch & 15]};
            CF_GUARD(cf_buf_append(out, esc, 3));
        }
    }
    return true;
}

static bool cf_percent_decode_append(cf_slice in, bool plus_is_space, cf_buf *out)
{
    for (size_t i = 0; i < in.len; i++) {
        uint8_t c = in.ptr[i];
        if (c == '%') {
            CF_ENSURE(in.len - i > 2, CF_ERR_BAD_INPUT, "truncated percent escape");
            int hi = cf_hex_value(in.ptr[i + 1]), lo = cf_hex_value(in.ptr[i + 2]);
            CF_ENSURE(hi >= 0 && lo >= 0, CF_ERR_BAD_INPUT, "invalid percent escape");
            c = (uint8_t)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        CF_GUARD(cf_buf_append_u8(out, c));
    }
    return true;
}

bool cf_percent_decode(cf_slice in, bool plus_is_space, cf_buf *out)
{
    size_t start = out->len;
    if (cf_percent_decode_append(in, plus_is_space, out))
        return true;
    cf_buf_truncate(out, start);
    return false;
}
