/*
 * The text decoders (src/core/encoding.c) and form lookup (src/http/form.c)
 * checked against references written here from the specifications, one
 * character at a time and with no shared code: every input gets the same
 * accept/reject decision and, when accepted, the same bytes, or the target
 * aborts.  Encoders must round-trip the input through their decoder.
 *
 * The rules the references implement (the header comments' contract):
 *   base64     RFC 4648 §4 alphabet; unpadded, or padded to a multiple of
 *              four with exactly the '=' the length needs; a length of 1
 *              mod 4 is never valid; the unused low bits of the last
 *              character must be zero (one encoding per byte string).
 *   base64url  RFC 4648 §5 alphabet, same rules (padding optional, but
 *              complete when present).
 *   hex        an even number of [0-9a-fA-F].
 *   percent    %XX with two hex digits, nothing else special ('+' is a
 *              space only in forms).
 *   form       '&'-separated pairs, the name up to the first '=', both
 *              percent-decoded; the field present exactly once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(void)
{
    abort();
}

static int ref_b64_digit(uint8_t c, int url)
{
    const char *alphabet = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                               : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int k = 0; k < 64; k++)
        if (alphabet[k] == c)
            return k;
    return -1;
}

/* Decodes into out (room for len bytes); -1 when the input is invalid. */
static long ref_b64_decode(const uint8_t *in, size_t len, int url, uint8_t *out)
{
    size_t pad = 0;
    while (pad < 2 && pad < len && in[len - 1 - pad] == '=')
        pad++;
    size_t body = len - pad;
    if (body % 4 == 1)
        return -1;
    if (pad) {
        /* Padding completes the last group of four, exactly. */
        if (len % 4 != 0 || (body % 4 == 2 && pad != 2) || (body % 4 == 3 && pad != 1) ||
            body % 4 == 0)
            return -1;
    }
    long n = 0;
    for (size_t g = 0; g < body; g += 4) {
        size_t chars = body - g < 4 ? body - g : 4;
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int d = 0;
            if (k < chars) {
                d = ref_b64_digit(in[g + k], url);
                if (d < 0)
                    return -1;
            }
            v = v << 6 | (uint32_t)d;
        }
        size_t bytes = chars - 1; /* 4 chars: 3 bytes, 3: 2, 2: 1 */
        /* The bits past the last whole byte must be zero. */
        if ((v & ((1u << (24 - 8 * bytes)) - 1)) != 0)
            return -1;
        for (size_t k = 0; k < bytes; k++)
            out[n++] = (uint8_t)(v >> (16 - 8 * k));
    }
    return n;
}

static int ref_hex_digit(uint8_t c)
{
    const char *lower = "0123456789abcdef", *upper = "0123456789ABCDEF";
    for (int k = 0; k < 16; k++)
        if (lower[k] == c || upper[k] == c)
            return k;
    return -1;
}

static long ref_hex_decode(const uint8_t *in, size_t len, uint8_t *out)
{
    if (len % 2)
        return -1;
    for (size_t i = 0; i < len; i += 2) {
        int hi = ref_hex_digit(in[i]), lo = ref_hex_digit(in[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (uint8_t)(hi * 16 + lo);
    }
    return (long)(len / 2);
}

static long ref_percent_decode(const uint8_t *in, size_t len, int plus_is_space, uint8_t *out)
{
    long n = 0;
    size_t i = 0;
    while (i < len) {
        if (in[i] == '%') {
            if (len - i < 3)
                return -1;
            int hi = ref_hex_digit(in[i + 1]), lo = ref_hex_digit(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            out[n++] = (uint8_t)(hi * 16 + lo);
            i += 3;
        } else {
            out[n++] = plus_is_space && in[i] == '+' ? ' ' : in[i];
            i++;
        }
    }
    return n;
}

/* The form rule: 1 with the value in out (n bytes), 0 absent, -1 invalid. */
static int ref_form_get(const uint8_t *in, size_t len, const char *name, uint8_t *out, long *n)
{
    int found = 0, bad = 0;
    uint8_t *key = malloc(len + 1);
    if (!key)
        fail();
    size_t start = 0;
    while (start < len) {
        size_t end = start;
        while (end < len && in[end] != '&')
            end++;
        size_t eq = start;
        while (eq < end && in[eq] != '=')
            eq++;
        long klen = ref_percent_decode(in + start, eq - start, 1, key);
        if (klen == (long)strlen(name) && memcmp(key, name, (size_t)klen) == 0) {
            if (found)
                bad = 1;
            found = 1;
            long vlen = 0;
            if (eq < end)
                vlen = ref_percent_decode(in + eq + 1, end - eq - 1, 1, out);
            if (vlen < 0)
                bad = 1;
            else if (!bad)
                *n = vlen;
        }
        start = end + 1;
    }
    free(key);
    return bad ? -1 : found;
}

/* The decoder's decision and bytes against the reference's. */
static void compare(bool ok, const cf_buf *got, long want, const uint8_t *ref)
{
    if (ok != (want >= 0))
        fail();
    if (ok && (got->len != (size_t)want || (want && memcmp(got->data, ref, (size_t)want) != 0)))
        fail();
}

static void check_b64(cf_slice in, int url, uint8_t *ref)
{
    cf_buf out;
    cf_buf_init(&out, in.len + 1);
    bool ok = url ? cf_base64url_decode(in, &out) : cf_base64_decode(in, &out);
    compare(ok, &out, ref_b64_decode(in.ptr, in.len, url, ref), ref);
    cf_buf_free(&out);
}

/* encode then decode gives the input back; the encoding is canonical. */
static void check_round_trips(cf_slice in)
{
    cf_buf enc, dec;
    cf_buf_init(&enc, 2 * in.len + 8);
    cf_buf_init(&dec, in.len + 1);
    for (int kind = 0; kind < 3; kind++) {
        cf_buf_clear(&enc);
        cf_buf_clear(&dec);
        bool ok =
            kind == 0 ? cf_base64_encode(in, &enc) && cf_base64_decode(cf_buf_slice(&enc), &dec)
            : kind == 1
                ? cf_base64url_encode(in, &enc) && cf_base64url_decode(cf_buf_slice(&enc), &dec)
                : cf_hex_encode(in, &enc) && cf_hex_decode(cf_buf_slice(&enc), &dec);
        if (!ok || !cf_slice_eq(cf_buf_slice(&dec), in))
            fail();
        size_t want = kind == 0   ? (in.len + 2) / 3 * 4
                      : kind == 1 ? (in.len * 4 + 2) / 3
                                  : 2 * in.len;
        if (enc.len != want)
            fail();
    }
    cf_buf_free(&enc);
    cf_buf_free(&dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    cf_slice in = cf_slice_of(data, size);
    uint8_t *ref = malloc(size + 1);
    if (!ref)
        fail();
    check_b64(in, 0, ref);
    check_b64(in, 1, ref);

    cf_buf out;
    cf_buf_init(&out, size + 1);
    compare(cf_hex_decode(in, &out), &out, ref_hex_decode(data, size, ref), ref);
    for (int plus = 0; plus < 2; plus++) {
        cf_buf_clear(&out);
        compare(cf_percent_decode(in, plus, &out), &out, ref_percent_decode(data, size, plus, ref),
                ref);
    }
    static const char *const names[] = {"a", "client_id", ""};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        cf_buf_clear(&out);
        cf_error_clear();
        long n = 0;
        int want = ref_form_get(data, size, names[k], ref, &n);
        bool ok = cf_form_get(in, names[k], &out);
        if (ok != (want == 1) ||
            (!ok && cf_error_code() != (want ? CF_ERR_BAD_INPUT : CF_ERR_NOT_FOUND)))
            fail();
        if (ok && (out.len != (size_t)n || (n && memcmp(out.data, ref, (size_t)n) != 0)))
            fail();
    }
    cf_buf_free(&out);
    free(ref);
    check_round_trips(in);
    return 0;
}
