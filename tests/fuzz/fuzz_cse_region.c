/*
 * The region decoder faces a body the blob service returns, i.e. bytes
 * anyone with write access to the blob chose.  Input layout:
 *
 *   byte 0      region size - 16 (regions of 16..271 bytes)
 *   bytes 1-2   plaintext range offset (big-endian)
 *   bytes 3-4   plaintext range length (big-endian; 0xffff: to the end)
 *   byte 5      chunk size - 1 the body is fed in
 *   the rest    the body, decrypted under a fixed content key
 *
 * The decoder's verdict and output are compared with a small reference
 * written straight from the spec: every region opened with the one-shot
 * AES-GCM call, its nonce compared with the three SDK numberings for its
 * position (one numbering throughout), and the range cut from the
 * concatenated plaintext.  Both must agree on accept/reject and on every
 * byte; a refusal must be CF_ERR_DECRYPT or CF_ERR_BAD_INPUT.
 *
 * The seeds are valid bodies under the fixed key (bytes 0x00..0x1f) made
 * with pyca/cryptography in each SDK's numbering, and a few broken ones.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "cse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEADER 6
#define FUZZ_MAX_BODY 65536

static uint8_t fuzz_key[32];

static bool fuzz_sink(void *ctx, cf_slice bytes)
{
    return cf_buf_append_slice(ctx, bytes);
}

static void fuzz_nonce(int scheme, uint64_t i, uint8_t n[12])
{
    memset(n, 0, 12);
    for (int b = 0; b < 8; b++) {
        if (scheme == 0)
            n[11 - b] = (uint8_t)(i >> (8 * b)); /* Python */
        else if (scheme == 1)
            n[b] = (uint8_t)(i >> (56 - 8 * b)); /* Java */
        else
            n[4 + b] = (uint8_t)((i + 1) >> (8 * b)); /* .NET */
    }
}

/* The spec, literally: the whole body's plaintext, or false. */
static bool fuzz_reference(cf_slice body, size_t region, cf_buf *out)
{
    const size_t stored = region + CF_CSE_REGION_OVERHEAD;
    bool schemes[3] = {true, true, true};
    if (body.len == CF_CSE_REGION_OVERHEAD)
        return true; /* a lone empty region: read as empty, never opened (spec) */
    for (size_t off = 0, i = 0; off < body.len; off += stored, i++) {
        size_t n = body.len - off < stored ? body.len - off : stored;
        if (n <= CF_CSE_REGION_OVERHEAD)
            return false;
        const uint8_t *r = body.ptr + off;
        size_t ct = n - CF_CSE_REGION_OVERHEAD;
        uint8_t *pt;
        if (!cf_buf_extend(out, ct, &pt) ||
            !cf_aes_gcm_decrypt(cf_slice_of(fuzz_key, 32), cf_slice_of(r, 12), (cf_slice){0},
                                cf_slice_of(r + 12, ct), cf_slice_of(r + 12 + ct, 16), pt))
            return false;
        bool any = false;
        for (int s = 0; s < 3; s++) {
            uint8_t want[12];
            fuzz_nonce(s, i, want);
            schemes[s] = schemes[s] && memcmp(want, r, 12) == 0;
            any = any || schemes[s];
        }
        if (!any)
            return false;
    }
    return true;
}

static bool fuzz_decode(const cf_cse_key *key, const cf_cse_meta *meta, cf_slice body, uint64_t off,
                        uint64_t len, size_t chunk, cf_buf *out)
{
    cf_cse_range range;
    if (!cf_cse_range_map(meta, body.len, off, len, &range))
        return false;
    cf_cse_decryptor *dec = NULL;
    bool ok = cf_cse_decryptor_new(key, meta, &range, (cf_cse_sink){fuzz_sink, out}, &dec);
    for (uint64_t done = 0; ok && done < range.fetch_length; done += chunk) {
        uint64_t n = range.fetch_length - done < chunk ? range.fetch_length - done : chunk;
        ok = cf_cse_decrypt_update(dec, cf_slice_of(body.ptr + range.fetch_offset + done, n));
    }
    ok = ok && cf_cse_decrypt_finish(dec);
    cf_cse_decryptor_free(dec);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cf_cse_key *key;
    if (!key) {
        for (size_t i = 0; i < sizeof fuzz_key; i++)
            fuzz_key[i] = (uint8_t)i;
        if (!cf_crypto_init() || !cf_cse_key_from_bytes(cf_slice_of(fuzz_key, 32), &key))
            abort();
    }
    if (size < FUZZ_HEADER || size - FUZZ_HEADER > FUZZ_MAX_BODY)
        return 0;
    const size_t region = 16u + data[0];
    uint64_t off = (uint64_t)data[1] << 8 | data[2];
    uint64_t len = (uint64_t)data[3] << 8 | data[4];
    if (len == 0xffff)
        len = UINT64_MAX;
    const size_t chunk = 1u + data[5];
    cf_slice body = cf_slice_of(data + FUZZ_HEADER, size - FUZZ_HEADER);
    cf_cse_meta meta;
    if (!cf_cse_meta_init(&meta, (uint32_t)region))
        abort();

    cf_buf want, got;
    cf_buf_init(&want, FUZZ_MAX_BODY);
    cf_buf_init(&got, FUZZ_MAX_BODY);
    bool ref_ok = fuzz_reference(body, region, &want);
    bool ok = fuzz_decode(key, &meta, body, 0, UINT64_MAX, chunk, &got);
    if (ok != ref_ok ||
        (ok && (got.len != want.len || (got.len && memcmp(got.data, want.data, got.len)))))
        __builtin_trap();
    if (!ok && cf_error_code() != CF_ERR_DECRYPT && cf_error_code() != CF_ERR_BAD_INPUT)
        __builtin_trap();
    /* a range: when the whole body decodes, the range is its slice */
    cf_buf_clear(&got);
    ok = fuzz_decode(key, &meta, body, off, len, chunk, &got);
    if (ref_ok && off <= want.len) {
        uint64_t n = len < want.len - off ? len : want.len - off;
        if (!ok || got.len != n || (n && memcmp(got.data, want.data + off, n)))
            __builtin_trap();
    }
    if (!ok && cf_error_code() != CF_ERR_DECRYPT && cf_error_code() != CF_ERR_BAD_INPUT)
        __builtin_trap();
    cf_buf_free(&want);
    cf_buf_free(&got);
    return 0;
}
