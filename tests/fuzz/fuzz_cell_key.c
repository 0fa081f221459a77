/*
 * Cells encrypted by key (src/core/cell_key.c) face whatever a database
 * column holds.  Input: byte 0 bit 0 seals the rest first with the fixed
 * key (bit 1: bound to an authenticator), then flips bit 0 of the byte at
 * position byte 1 (0: none); otherwise the rest is taken as a cell.
 * Opening must succeed exactly for an untouched sealed cell (giving back
 * the plaintext), and otherwise fail with CF_ERR_DECRYPT appending nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cell_key.h"
#include "crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cf_cell_key *fuzz_key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_key) {
        uint8_t key[32] = {7, 7, 7};
        if (!cf_crypto_init() || !cf_cell_key_new(cf_slice_of(key, 32), &fuzz_key))
            abort();
    }
    if (size < 2 || size > 8192)
        return 0;
    bool seal = data[0] & 1;
    cf_slice auth_bytes = CF_SLICE_STR("row-7");
    const cf_slice *auth = (data[0] & 2) ? &auth_bytes : NULL;
    cf_slice rest = cf_slice_of(data + 2, size - 2);
    cf_buf cell, out;
    cf_buf_init(&cell, 2 * 8192);
    cf_buf_init(&out, 2 * 8192);
    bool touched = false;
    if (seal) {
        if (!cf_cell_key_seal(fuzz_key, auth, rest, &cell))
            __builtin_trap();
        if (data[1] && data[1] <= cell.len) {
            cell.data[data[1] - 1] ^= 0x01;
            touched = true;
        }
    } else if (!cf_buf_append_slice(&cell, rest)) {
        __builtin_trap();
    }
    bool opened = cf_cell_key_open(fuzz_key, auth, cf_buf_slice(&cell), &out);
    if (opened != (seal && !touched))
        __builtin_trap();
    if (opened && !cf_slice_eq(cf_buf_slice(&out), rest))
        __builtin_trap();
    if (!opened && (cf_error_code() != CF_ERR_DECRYPT || out.len != 0))
        __builtin_trap();
    cf_buf_free(&cell);
    cf_buf_free(&out);
    return 0;
}
