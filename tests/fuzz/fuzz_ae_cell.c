/*
 * The Always Encrypted cell decoder faces whatever a database column holds,
 * i.e. bytes anyone with write access to the table chose.  Two modes, by
 * the first input byte:
 *
 *   even   the rest is a cell, decrypted as it is under a fixed column
 *          encryption key (bytes 0x20..0x3f, as tests/unit/vectors/
 *          ae_cells.txt): almost always refused at the tag;
 *   odd    the rest is IV ‖ ciphertext, and the fuzzer computes the tag
 *          itself from the MAC key derived straight from the spec, so that
 *          the decoder's CBC and padding checks behind the tag are reached.
 *
 * Any refusal must be CF_ERR_DECRYPT with nothing appended; anything
 * accepted must be a plaintext of the cell's size class that encrypts and
 * decrypts back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ae.h"
#include "crypto.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX 8192

static cf_ae_key *fuzz_key;
static uint8_t fuzz_mac_key[32];

static void fuzz_setup(void)
{
    uint8_t cek[32];
    for (int i = 0; i < 32; i++)
        cek[i] = (uint8_t)(0x20 + i);
    static const char label[] = "Microsoft SQL Server cell MAC key with encryption "
                                "algorithm:AEAD_AES_256_CBC_HMAC_SHA256 and key length:256";
    cf_buf wide;
    cf_buf_init(&wide, 512);
    if (!cf_crypto_init() || !cf_ae_key_new(cf_slice_of(cek, 32), &fuzz_key) ||
        !cf_utf16le_from_utf8(CF_SLICE_STR(label), &wide) ||
        !cf_hmac_sha256(cf_slice_of(cek, 32), cf_buf_slice(&wide), fuzz_mac_key))
        abort();
    cf_buf_free(&wide);
}

/* A cell around `body` (IV ‖ ciphertext) with the tag the spec gives it. */
static size_t fuzz_tagged(const uint8_t *body, size_t len, uint8_t *cell)
{
    static const uint8_t one = 1;
    const cf_slice parts[] = {{&one, 1}, {body, len}, {&one, 1}};
    cell[0] = 1;
    if (!cf_hmac_sha256_parts(cf_slice_of(fuzz_mac_key, 32), parts, 3, cell + 1))
        abort();
    memcpy(cell + 1 + 32, body, len);
    return 1 + 32 + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_key)
        fuzz_setup();
    if (size < 1 || size > FUZZ_MAX)
        return 0;
    static uint8_t cell[FUZZ_MAX + 64];
    size_t cell_len = size - 1;
    if (data[0] & 1)
        cell_len = fuzz_tagged(data + 1, size - 1, cell);
    else
        memcpy(cell, data + 1, cell_len);
    cf_buf out;
    cf_buf_init(&out, 2 * FUZZ_MAX);
    if (!cf_ae_decrypt(fuzz_key, cf_slice_of(cell, cell_len), &out)) {
        if (cf_error_code() != CF_ERR_DECRYPT || out.len != 0)
            __builtin_trap();
        cf_buf_free(&out);
        return 0;
    }
    /* accepted: its length fits the cell, and it round-trips */
    size_t ct_len = cell_len - (CF_AE_CELL_MIN - CF_AE_BLOCK); /* padding: 1..16 bytes */
    if (out.len >= ct_len || out.len + CF_AE_BLOCK < ct_len)
        __builtin_trap();
    cf_buf again, back;
    cf_buf_init(&again, 2 * FUZZ_MAX);
    cf_buf_init(&back, 2 * FUZZ_MAX);
    if (!cf_ae_encrypt(fuzz_key, CF_AE_DETERMINISTIC, cf_buf_slice(&out), &again) ||
        again.len != cell_len || !cf_ae_decrypt(fuzz_key, cf_buf_slice(&again), &back) ||
        !cf_slice_eq(cf_buf_slice(&back), cf_buf_slice(&out)))
        __builtin_trap();
    cf_buf_free(&out);
    cf_buf_free(&again);
    cf_buf_free(&back);
    return 0;
}
