/*
 * The encrypted column-encryption-key value parser faces the key metadata
 * a database holds, i.e. bytes anyone with write access to that table
 * chose.  Any input must be refused with CF_ERR_BAD_INPUT or
 * CF_ERR_UNSUPPORTED, or parsed into slices that tile the input exactly
 * (signed part, then a signature as long as the ciphertext), with a
 * non-empty UTF-8 key path; and what is accepted must be rebuilt byte for
 * byte from its parts.  Seeds: SQL Server's value (the swisscom vector),
 * values made by tests/unit/vectors/make_ae_vectors.py, near misses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ae.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_ae_cek_value v;
    if (!cf_ae_cek_value_parse(cf_slice_of(data, size), &v)) {
        cf_err e = cf_error_code();
        if (e != CF_ERR_BAD_INPUT && e != CF_ERR_UNSUPPORTED)
            __builtin_trap();
        return 0;
    }
    if (v.signed_part.ptr != data || v.signed_part.len + v.signature.len != size ||
        v.signature.len != v.ciphertext.len ||
        v.ciphertext.ptr + v.ciphertext.len != v.signature.ptr ||
        v.signature.ptr + v.signature.len != data + size || v.key_path[0] == 0 ||
        strlen(v.key_path) >= sizeof v.key_path)
        __builtin_trap();
    cf_buf again;
    cf_buf_init(&again, CF_AE_CEK_VALUE_MAX);
    if (!cf_ae_cek_value_begin(v.key_path, v.ciphertext, &again) ||
        !cf_ae_cek_value_finish(&again, v.signature) ||
        !cf_slice_eq(cf_buf_slice(&again), cf_slice_of(data, size)))
        __builtin_trap();
    cf_buf_free(&again);
    return 0;
}
