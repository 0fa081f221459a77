/*
 * The BYOK transfer-blob parser (key_hsm of a key import): attacker JSON of
 * any shape.  Parsing must never crash or leak; a parsed blob has a
 * NUL-terminated kid within its cap and a non-empty ciphertext within its.
 */
#include <stdint.h>
#include <string.h>

#include "byok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_byok_blob blob;
    memset(&blob, 0, sizeof blob);
    cf_buf_init(&blob.ciphertext, CF_BYOK_CIPHERTEXT_MAX);
    if (cf_byok_parse(cf_slice_of(data, size), &blob)) {
        if (strlen(blob.kid) > CF_BYOK_KID_MAX || blob.ciphertext.len == 0 ||
            blob.ciphertext.len > CF_BYOK_CIPHERTEXT_MAX)
            __builtin_trap();
    }
    cf_buf_free(&blob.ciphertext);
    return 0;
}
