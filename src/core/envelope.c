/* Envelope sealing; the format is in envelope.h and docs/formats.md. */
#include "envelope.h"

#include "crypto.h"
#include "secmem.h"

bool cf_envelope_seal(cf_slice key, cf_slice aad, cf_slice plaintext, cf_buf *out)
{
    CF_ENSURE(key.len == CF_DATA_KEY_LEN, CF_ERR_INTERNAL, "envelope key must be 256 bits");
    uint8_t *p;
    CF_GUARD(cf_buf_extend(out, CF_ENVELOPE_OVERHEAD + plaintext.len, &p));
    p[0] = CF_ENVELOPE_VERSION;
    CF_GUARD(cf_random_bytes(p + 1, CF_GCM_IV_LEN));
    return cf_aes_gcm_encrypt(key, cf_slice_of(p + 1, CF_GCM_IV_LEN), aad, plaintext,
                              p + 1 + CF_GCM_IV_LEN, p + 1 + CF_GCM_IV_LEN + plaintext.len);
}

bool cf_envelope_open(cf_slice key, cf_slice aad, cf_slice sealed, cf_buf *out)
{
    CF_ENSURE(key.len == CF_DATA_KEY_LEN, CF_ERR_INTERNAL, "envelope key must be 256 bits");
    CF_ENSURE(sealed.len >= CF_ENVELOPE_OVERHEAD && sealed.ptr[0] == CF_ENVELOPE_VERSION,
              CF_ERR_DECRYPT, "sealed value is malformed");
    size_t ct_len = sealed.len - CF_ENVELOPE_OVERHEAD;
    const uint8_t *iv = sealed.ptr + 1, *ct = iv + CF_GCM_IV_LEN;
    size_t start = out->len;
    uint8_t *p;
    CF_GUARD(cf_buf_extend(out, ct_len, &p));
    if (!cf_aes_gcm_decrypt(key, cf_slice_of(iv, CF_GCM_IV_LEN), aad, cf_slice_of(ct, ct_len),
                            cf_slice_of(ct + ct_len, CF_GCM_TAG_LEN), p)) {
        out->len = start;
        return false;
    }
    return true;
}
