/*
 * Always Encrypted cells and encrypted CEK values (ae.h,
 * docs/always-encrypted.md).
 *
 * Design:
 * - The three derived keys live in one secret block, derived once per CEK.
 * - Decryption checks size, version and tag (constant time) before any
 *   byte is decrypted, and appends to the caller's buffer only through a
 *   buffer transaction, so a failure leaves nothing behind.
 * - A CEK value is parsed strictly: exact lengths, no leftovers, a key path
 *   that is valid UTF-16, signature as long as the ciphertext.
 */
#include "ae.h"

#include <string.h>

#include "crypto.h"
#include "scoped.h"
#include "secmem.h"
#include "utf8.h"

#define AE_ALG "AEAD_AES_256_CBC_HMAC_SHA256"
#define AE_LABEL(kind) \
    "Microsoft SQL Server cell " kind " with encryption algorithm:" AE_ALG " and key length:256"

struct cf_ae_key {
    uint8_t enc[32], mac[32], iv[32];
};

/* HMAC-SHA256(root, UTF-16LE(label)). */
static bool cf_ae_derive(cf_slice root, const char *label, uint8_t out[32])
{
    cf_buf wide;
    cf_buf_init(&wide, 512);
    bool ok = cf_utf16le_from_utf8(CF_SLICE_STR(label), &wide) &&
              cf_hmac_sha256(root, cf_buf_slice(&wide), out);
    cf_buf_free(&wide);
    return ok;
}

bool cf_ae_key_new(cf_slice cek, cf_ae_key **out)
{
    CF_ENSURE(cek.len == CF_AE_CEK_LEN, CF_ERR_BAD_INPUT,
              "a column encryption key must be 32 bytes");
    cf_ae_key *k = cf_secret_alloc(sizeof *k);
    CF_ENSURE_ALLOC(k);
    if (!cf_ae_derive(cek, AE_LABEL("encryption key"), k->enc) ||
        !cf_ae_derive(cek, AE_LABEL("MAC key"), k->mac) ||
        !cf_ae_derive(cek, AE_LABEL("IV key"), k->iv)) {
        cf_ae_key_free(k);
        return false;
    }
    *out = k;
    return true;
}

void cf_ae_key_free(cf_ae_key *key)
{
    cf_secret_free(key, sizeof *key);
}

/* The tag over version ‖ IV ‖ ciphertext ‖ version length. */
static bool cf_ae_tag(const cf_ae_key *k, cf_slice iv, cf_slice ct, uint8_t tag[CF_AE_TAG_LEN])
{
    static const uint8_t version = CF_AE_VERSION, version_len = 1;
    const cf_slice parts[] = {{&version, 1}, iv, ct, {&version_len, 1}};
    return cf_hmac_sha256_parts(cf_slice_of(k->mac, 32), parts, 4, tag);
}

bool cf_ae_encrypt(const cf_ae_key *key, cf_ae_mode mode, cf_slice plaintext, cf_buf *out)
{
    CF_ENSURE(plaintext.len <= CF_AE_VALUE_MAX, CF_ERR_TOO_LARGE,
              "a value to encrypt is larger than 64 MiB");
    uint8_t iv[CF_AE_IV_LEN];
    if (mode == CF_AE_DETERMINISTIC) {
        uint8_t full[32];
        CF_GUARD(cf_hmac_sha256(cf_slice_of(key->iv, 32), plaintext, full));
        memcpy(iv, full, sizeof iv);
    } else {
        CF_GUARD(cf_random_bytes(iv, sizeof iv));
    }
    CF_SCOPED(cf_buf_txn_end) cf_buf_txn txn = cf_buf_txn_begin(out);
    const uint8_t version = CF_AE_VERSION;
    uint8_t *tag;
    CF_GUARD(cf_buf_append(out, &version, 1));
    size_t tag_at = out->len;
    CF_GUARD(cf_buf_extend(out, CF_AE_TAG_LEN, &tag));
    CF_GUARD(cf_buf_append(out, iv, sizeof iv));
    size_t ct_at = out->len;
    CF_GUARD(cf_aes_cbc_encrypt(cf_slice_of(key->enc, 32), cf_slice_of(iv, sizeof iv), true,
                                plaintext, out));
    /* (the buffer may have moved since the tag's place was reserved) */
    CF_GUARD(cf_ae_tag(key, cf_slice_of(iv, sizeof iv),
                       cf_slice_of(out->data + ct_at, out->len - ct_at), out->data + tag_at));
    cf_buf_txn_commit(&txn, out->len - txn.mark);
    return true;
}

bool cf_ae_decrypt(const cf_ae_key *key, cf_slice cell, cf_buf *out)
{
    CF_ENSURE(cell.len >= CF_AE_CELL_MIN && cell.len <= CF_AE_CELL_MAX &&
                  (cell.len - (CF_AE_CELL_MIN - CF_AE_BLOCK)) % CF_AE_BLOCK == 0,
              CF_ERR_DECRYPT,
              "an Always Encrypted cell has an invalid size (truncated, or not a cell)");
    CF_ENSURE(cell.ptr[0] == CF_AE_VERSION, CF_ERR_DECRYPT,
              "an Always Encrypted cell has an unknown version");
    const uint8_t *tag = cell.ptr + 1;
    cf_slice iv = cf_slice_of(tag + CF_AE_TAG_LEN, CF_AE_IV_LEN);
    cf_slice ct = cf_slice_of(iv.ptr + CF_AE_IV_LEN, cell.len - (CF_AE_CELL_MIN - CF_AE_BLOCK));
    uint8_t want[CF_AE_TAG_LEN];
    CF_GUARD(cf_ae_tag(key, iv, ct, want));
    CF_ENSURE(cf_memeq_ct(want, tag, CF_AE_TAG_LEN), CF_ERR_DECRYPT,
              "an Always Encrypted cell failed its integrity check (tampered, or another column "
              "encryption key)");
    CF_ENSURE(cf_aes_cbc_decrypt(cf_slice_of(key->enc, 32), iv, true, ct, out), CF_ERR_DECRYPT,
              "an Always Encrypted cell has bad padding");
    return true;
}

/* ---- encrypted CEK values ---- */

static uint16_t cf_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

bool cf_ae_cek_value_parse(cf_slice value, cf_ae_cek_value *out)
{
    memset(out, 0, sizeof *out);
    CF_ENSURE(value.len >= 5 && value.len <= CF_AE_CEK_VALUE_MAX, CF_ERR_BAD_INPUT,
              "an encrypted column encryption key value has an invalid size");
    CF_ENSURE(value.ptr[0] == CF_AE_VERSION, CF_ERR_UNSUPPORTED,
              "an encrypted column encryption key value has an unknown version");
    size_t path_len = cf_le16(value.ptr + 1), ct_len = cf_le16(value.ptr + 3);
    CF_ENSURE(path_len > 0 && path_len <= CF_AE_KEY_PATH_MAX && ct_len >= CF_AE_RSA_MIN &&
                  ct_len <= CF_AE_RSA_MAX && value.len == 5 + path_len + 2 * ct_len,
              CF_ERR_BAD_INPUT,
              "an encrypted column encryption key value has inconsistent lengths (the "
              "signature must be as long as the ciphertext, with nothing after it)");
    cf_buf path;
    cf_buf_init(&path, sizeof out->key_path - 1);
    bool ok = cf_utf8_from_utf16le(cf_slice_of(value.ptr + 5, path_len), &path);
    /* a NUL would cut the path short of what the signature covers */
    ok = ok && memchr(path.data, 0, path.len) == NULL && cf_buf_terminate(&path);
    if (ok)
        memcpy(out->key_path, path.data, path.len + 1);
    cf_buf_free(&path);
    CF_ENSURE(ok, CF_ERR_BAD_INPUT,
              "an encrypted column encryption key value has a key path that is not UTF-16 text "
              "(an unpaired surrogate or a NUL)");
    out->ciphertext = cf_slice_of(value.ptr + 5 + path_len, ct_len);
    out->signature = cf_slice_of(out->ciphertext.ptr + ct_len, ct_len);
    out->signed_part = cf_slice_of(value.ptr, 5 + path_len + ct_len);
    return true;
}

bool cf_ae_cek_value_begin(const char *key_path, cf_slice ciphertext, cf_buf *out)
{
    CF_ENSURE(ciphertext.len >= CF_AE_RSA_MIN && ciphertext.len <= CF_AE_RSA_MAX, CF_ERR_BAD_INPUT,
              "a wrapped column encryption key must be 256 to 512 bytes");
    cf_buf_clear(out);
    uint8_t head[5] = {CF_AE_VERSION, 0, 0, (uint8_t)ciphertext.len,
                       (uint8_t)(ciphertext.len >> 8)};
    CF_GUARD(cf_buf_append(out, head, sizeof head));
    CF_GUARD(cf_utf16le_from_utf8(CF_SLICE_STR(key_path), out));
    size_t path_len = out->len - sizeof head;
    CF_ENSURE(path_len > 0 && path_len <= CF_AE_KEY_PATH_MAX, CF_ERR_BAD_INPUT,
              "a column master key path must be 1 to 1024 UTF-16 characters");
    out->data[1] = (uint8_t)path_len;
    out->data[2] = (uint8_t)(path_len >> 8);
    return cf_buf_append_slice(out, ciphertext);
}

bool cf_ae_cek_value_finish(cf_buf *value, cf_slice signature)
{
    CF_ENSURE(value->len >= 5 && signature.len == cf_le16(value->data + 3), CF_ERR_BAD_INPUT,
              "the signature must be as long as the wrapped column encryption key");
    return cf_buf_append_slice(value, signature);
}

bool cf_ae_cek_value_verify(const cf_pkey *cmk_public, const cf_ae_cek_value *value)
{
    uint8_t digest[32];
    bool valid = false;
    CF_GUARD(cf_hash_compute(CF_HASH_SHA256, value->signed_part, digest));
    CF_GUARD(cf_verify_digest(cmk_public, CF_SIG_RS256, cf_slice_of(digest, sizeof digest),
                              value->signature, &valid));
    CF_ENSURE(valid, CF_ERR_DECRYPT,
              "the encrypted column encryption key is not signed by its column master key "
              "(another key, or a tampered or substituted value)");
    return true;
}

bool cf_ae_cek_unwrap_local(const cf_pkey *cmk, const cf_ae_cek_value *value, cf_buf *cek)
{
    CF_GUARD(cf_ae_cek_value_verify(cmk, value));
    cf_buf raw;
    cf_buf_init_secret(&raw, CF_AE_RSA_MAX);
    bool ok = cf_rsa_decrypt(cmk, CF_RSA_OAEP_SHA1, value->ciphertext, &raw);
    if (!ok && !cf_err_environmental(cf_error_code()))
        CF_RAISE(CF_ERR_DECRYPT, "the column encryption key does not unwrap with this column "
                                 "master key");
    if (ok && raw.len != CF_AE_CEK_LEN) {
        CF_RAISE(CF_ERR_DECRYPT, "the unwrapped column encryption key is not 32 bytes");
        ok = false;
    }
    ok = ok && cf_buf_append(cek, raw.data, CF_AE_CEK_LEN);
    cf_buf_free(&raw);
    return ok;
}

bool cf_ae_cek_wrap_local(const cf_pkey *cmk, const char *key_path, cf_slice cek, cf_buf *value)
{
    CF_ENSURE(cek.len == CF_AE_CEK_LEN, CF_ERR_BAD_INPUT,
              "a column encryption key must be 32 bytes");
    cf_buf wrapped, sig;
    cf_buf_init(&wrapped, CF_AE_RSA_MAX);
    cf_buf_init(&sig, CF_AE_RSA_MAX);
    uint8_t digest[32];
    bool ok = cf_rsa_encrypt(cmk, CF_RSA_OAEP_SHA1, cek, &wrapped) &&
              cf_ae_cek_value_begin(key_path, cf_buf_slice(&wrapped), value) &&
              cf_hash_compute(CF_HASH_SHA256, cf_buf_slice(value), digest) &&
              cf_sign_digest(cmk, CF_SIG_RS256, cf_slice_of(digest, sizeof digest), &sig) &&
              cf_ae_cek_value_finish(value, cf_buf_slice(&sig));
    cf_buf_free(&wrapped);
    cf_buf_free(&sig);
    return ok;
}
