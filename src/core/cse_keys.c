/*
 * Client-side encryption: content keys and local key-encryption keys
 * (docs/client-side-encryption.md, "The content key").
 *
 * - A content key is 32 bytes in a block of secret memory; nothing else
 *   holds a copy for longer than one call (wrap inputs and unwrap outputs
 *   go through secret cf_bufs that are freed, wiped, before returning).
 * - For 2.x the KEK wraps the protocol string NUL-padded to 8 bytes, then
 *   the key.  The unwrap side checks those 8 bytes exactly: a metadata
 *   `Protocol` edited after upload no longer matches what the KEK sealed.
 * - A wrong KEK is found by the unwrap's own integrity check (the AES-KW
 *   check value, the OAEP padding), never by comparing KeyId.
 */
#include "cse.h"

#include <string.h>

#include "crypto.h"
#include "cse_internal.h"
#include "secmem.h"

#define CF_CSE_PREFIX_LEN 8
#define CF_CSE_TO_WRAP_LEN (CF_CSE_PREFIX_LEN + CF_CSE_KEY_LEN)
#define CF_CSE_AES_KEK_LEN 32

typedef enum { CF_CSE_KEK_AES, CF_CSE_KEK_RSA } cf_cse_kek_kind;

struct cf_cse_kek {
    cf_cse_kek_kind kind;
    cf_cse_wrap_alg wrap_alg;        /* what cf_cse_kek_wrap uses */
    uint8_t aes[CF_CSE_AES_KEK_LEN]; /* AES only; the struct is secret memory */
    cf_pkey *rsa;                    /* RSA only; private parts in OpenSSL's secure heap */
    char key_id[CF_CSE_KEY_ID_MAX + 1];
};

/* ---- content keys ---- */

bool cf_cse_key_from_bytes(cf_slice bytes, cf_cse_key **out)
{
    CF_ENSURE(bytes.len == CF_CSE_KEY_LEN, CF_ERR_BAD_INPUT, "content key must be 32 bytes");
    cf_cse_key *key = cf_secret_alloc(sizeof *key);
    CF_ENSURE_ALLOC(key);
    memcpy(key->bytes, bytes.ptr, CF_CSE_KEY_LEN);
    *out = key;
    return true;
}

bool cf_cse_key_generate(cf_cse_key **out)
{
    cf_cse_key *key = cf_secret_alloc(sizeof *key);
    CF_ENSURE_ALLOC(key);
    if (!cf_random_bytes(key->bytes, CF_CSE_KEY_LEN)) {
        cf_cse_key_free(key);
        return false;
    }
    *out = key;
    return true;
}

void cf_cse_key_free(cf_cse_key *key)
{
    cf_secret_free(key, sizeof *key);
}

/* The 8 bytes that precede a 2.x content key: the protocol, NUL-padded. */
static void cf_cse_prefix(cf_cse_protocol protocol, uint8_t prefix[CF_CSE_PREFIX_LEN])
{
    const char *name = cf_cse_protocol_name(protocol);
    memset(prefix, 0, CF_CSE_PREFIX_LEN);
    memcpy(prefix, name, strlen(name));
}

bool cf_cse_key_to_wrap(const cf_cse_key *key, cf_cse_protocol protocol, cf_buf *out)
{
    CF_ENSURE(protocol != CF_CSE_V1_0, CF_ERR_UNSUPPORTED,
              "client-side encryption protocol 1.0 is never written");
    uint8_t prefix[CF_CSE_PREFIX_LEN];
    cf_cse_prefix(protocol, prefix);
    size_t start = out->len;
    if (cf_buf_append(out, prefix, sizeof prefix) &&
        cf_buf_append_slice(out, cf_cse_key_slice(key)))
        return true;
    cf_buf_truncate(out, start);
    return false;
}

bool cf_cse_key_from_unwrapped(cf_cse_protocol protocol, cf_slice unwrapped, cf_cse_key **out)
{
    if (protocol == CF_CSE_V1_0) {
        CF_ENSURE(unwrapped.len == CF_CSE_KEY_LEN, CF_ERR_DECRYPT,
                  "unwrapped content key has the wrong length");
        return cf_cse_key_from_bytes(unwrapped, out);
    }
    CF_ENSURE(unwrapped.len == CF_CSE_TO_WRAP_LEN, CF_ERR_DECRYPT,
              "unwrapped content key has the wrong length for protocol 2.x");
    uint8_t prefix[CF_CSE_PREFIX_LEN];
    cf_cse_prefix(protocol, prefix);
    CF_ENSURE(memcmp(unwrapped.ptr, prefix, sizeof prefix) == 0, CF_ERR_DECRYPT,
              "wrapped content key is for another protocol than the metadata names "
              "(encryptiondata was modified)");
    return cf_cse_key_from_bytes(cf_slice_of(unwrapped.ptr + CF_CSE_PREFIX_LEN, CF_CSE_KEY_LEN),
                                 out);
}

/* ---- local KEKs ---- */

static bool cf_cse_kek_alloc(const char *key_id, cf_cse_kek_kind kind, cf_cse_kek **out)
{
    size_t id_len = strlen(key_id);
    CF_ENSURE(id_len > 0 && id_len <= CF_CSE_KEY_ID_MAX, CF_ERR_BAD_INPUT,
              "key id must be 1..1024 bytes");
    cf_cse_kek *kek = cf_secret_alloc(sizeof *kek);
    CF_ENSURE_ALLOC(kek);
    kek->kind = kind;
    kek->wrap_alg = kind == CF_CSE_KEK_AES ? CF_CSE_WRAP_A256KW : CF_CSE_WRAP_RSA_OAEP;
    memcpy(kek->key_id, key_id, id_len + 1);
    *out = kek;
    return true;
}

/* An RSA key in PEM: private if it parses as one, else public. */
static bool cf_cse_rsa_from_pem(cf_slice pem, cf_pkey **out)
{
    if (!cf_pkey_from_private_pem(pem, out) && !cf_pkey_from_public_pem(pem, out))
        CF_BAIL(CF_ERR_BAD_INPUT,
                "key file is neither a raw 32-byte AES key nor an RSA key in PEM");
    if (cf_pkey_kty(*out) != CF_KTY_RSA || cf_pkey_bits(*out) < 2048) {
        cf_pkey_free(*out);
        *out = NULL;
        CF_BAIL(CF_ERR_UNSUPPORTED, "key-encryption key must be AES-256 or RSA of 2048+ bits");
    }
    return true;
}

bool cf_cse_kek_from_key_file(cf_slice bytes, const char *key_id, cf_cse_kek **out)
{
    if (bytes.len == CF_CSE_AES_KEK_LEN) {
        CF_GUARD(cf_cse_kek_alloc(key_id, CF_CSE_KEK_AES, out));
        memcpy((*out)->aes, bytes.ptr, CF_CSE_AES_KEK_LEN);
        return true;
    }
    cf_pkey *rsa = NULL;
    CF_GUARD(cf_cse_rsa_from_pem(bytes, &rsa));
    if (!cf_cse_kek_alloc(key_id, CF_CSE_KEK_RSA, out)) {
        cf_pkey_free(rsa);
        return false;
    }
    (*out)->rsa = rsa;
    return true;
}

bool cf_cse_kek_use_oaep_256(cf_cse_kek *kek)
{
    CF_ENSURE(kek->kind == CF_CSE_KEK_RSA, CF_ERR_BAD_INPUT, "RSA-OAEP-256 needs an RSA KEK");
    kek->wrap_alg = CF_CSE_WRAP_RSA_OAEP_256;
    return true;
}

void cf_cse_kek_free(cf_cse_kek *kek)
{
    if (!kek)
        return;
    cf_pkey_free(kek->rsa);
    cf_secret_free(kek, sizeof *kek);
}

static bool cf_cse_kek_wrap_bytes(const cf_cse_kek *kek, cf_slice to_wrap, cf_buf *out)
{
    switch (kek->wrap_alg) {
    case CF_CSE_WRAP_A256KW:
        return cf_aes_kw_wrap(cf_slice_of(kek->aes, CF_CSE_AES_KEK_LEN), to_wrap, out);
    case CF_CSE_WRAP_RSA_OAEP: return cf_rsa_encrypt(kek->rsa, CF_RSA_OAEP_SHA1, to_wrap, out);
    case CF_CSE_WRAP_RSA_OAEP_256:
        return cf_rsa_encrypt(kek->rsa, CF_RSA_OAEP_SHA256, to_wrap, out);
    default: CF_BAIL(CF_ERR_INTERNAL, "unexpected wrap algorithm");
    }
}

bool cf_cse_kek_wrap(const cf_cse_kek *kek, const cf_cse_key *key, cf_cse_meta *meta)
{
    cf_buf to_wrap, wrapped;
    cf_buf_init_secret(&to_wrap, CF_CSE_TO_WRAP_LEN);
    cf_buf_init(&wrapped, CF_CSE_WRAPPED_KEY_MAX);
    bool ok = cf_cse_key_to_wrap(key, meta->protocol, &to_wrap) &&
              cf_cse_kek_wrap_bytes(kek, cf_buf_slice(&to_wrap), &wrapped);
    cf_buf_free(&to_wrap);
    if (ok) {
        meta->wrap_alg = kek->wrap_alg;
        memcpy(meta->key_id, kek->key_id, sizeof meta->key_id);
        memcpy(meta->wrapped_key, wrapped.data, wrapped.len);
        meta->wrapped_key_len = wrapped.len;
    }
    cf_buf_free(&wrapped);
    return ok;
}

/* The padding an RSA KEK unwraps `alg` with; refuses an algorithm the KEK
 * cannot have wrapped with, naming both. */
static bool cf_cse_kek_rsa_pad(const cf_cse_kek *kek, cf_cse_wrap_alg alg, cf_rsa_pad *pad)
{
    CF_ENSURE(kek->kind == CF_CSE_KEK_RSA, CF_ERR_DECRYPT,
              "wrong key-encryption key: the content key was wrapped with an RSA key, "
              "this KEK is an AES key");
    CF_ENSURE(alg != CF_CSE_WRAP_RSA1_5, CF_ERR_UNSUPPORTED,
              "RSA1_5 wrapped keys are not unwrapped locally");
    CF_ENSURE(cf_pkey_has_private(kek->rsa), CF_ERR_BAD_INPUT,
              "unwrapping needs the RSA private key; this KEK is a public key");
    *pad = alg == CF_CSE_WRAP_RSA_OAEP ? CF_RSA_OAEP_SHA1 : CF_RSA_OAEP_SHA256;
    return true;
}

/* Restates the crypto layer's failed check for the user: it means the KEK
 * is not the one that wrapped (or the wrapped bytes were damaged). */
static bool cf_cse_unwrap_checked(bool ok)
{
    if (!ok && cf_error_code() == CF_ERR_DECRYPT)
        CF_RAISE(CF_ERR_DECRYPT, "cannot unwrap the content key: wrong key-encryption key or a "
                                 "damaged wrapped key");
    return ok;
}

static bool cf_cse_kek_unwrap_bytes(const cf_cse_kek *kek, const cf_cse_meta *meta, cf_buf *out)
{
    cf_slice wrapped = cf_slice_of(meta->wrapped_key, meta->wrapped_key_len);
    cf_rsa_pad pad;
    switch (meta->wrap_alg) {
    case CF_CSE_WRAP_A256KW:
        CF_ENSURE(kek->kind == CF_CSE_KEK_AES, CF_ERR_DECRYPT,
                  "wrong key-encryption key: the content key was wrapped with A256KW, "
                  "this KEK is an RSA key");
        return cf_cse_unwrap_checked(
            cf_aes_kw_unwrap(cf_slice_of(kek->aes, CF_CSE_AES_KEK_LEN), wrapped, out));
    case CF_CSE_WRAP_A192KW:
    case CF_CSE_WRAP_A128KW:
        CF_BAIL(CF_ERR_UNSUPPORTED, "local AES KEKs are AES-256 (A256KW) only");
    case CF_CSE_WRAP_RSA_OAEP:
    case CF_CSE_WRAP_RSA_OAEP_256:
    case CF_CSE_WRAP_RSA1_5:
        CF_GUARD(cf_cse_kek_rsa_pad(kek, meta->wrap_alg, &pad));
        return cf_cse_unwrap_checked(cf_rsa_decrypt(kek->rsa, pad, wrapped, out));
    default: CF_BAIL(CF_ERR_INTERNAL, "unexpected wrap algorithm");
    }
}

bool cf_cse_kek_unwrap(const cf_cse_kek *kek, const cf_cse_meta *meta, cf_cse_key **out)
{
    cf_buf unwrapped;
    cf_buf_init_secret(&unwrapped, CF_CSE_WRAPPED_KEY_MAX);
    bool ok = cf_cse_kek_unwrap_bytes(kek, meta, &unwrapped) &&
              cf_cse_key_from_unwrapped(meta->protocol, cf_buf_slice(&unwrapped), out);
    cf_buf_free(&unwrapped);
    return ok;
}
