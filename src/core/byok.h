/*
 * Key Vault's bring-your-own-key transfer blob (format: docs/formats.md).
 *
 *   {"schema_version": "1.0.0",
 *    "header": {"kid": KEK identifier, "alg": "dir", "enc": "CKM_RSA_AES_KEY_WRAP"},
 *    "ciphertext": base64url(RSA-OAEP-SHA1(kek, aes) || AES-KWP(aes, target)),
 *    "generator": ..., and Coffer's hints "key_type" and "crv"}
 *
 * The target is PKCS#8 DER for RSA and EC keys and the raw bytes of an AES
 * key; `aes` is a fresh AES-256 key used for this one blob.  Making a blob
 * is a client's job (coffer key byok-wrap); the vault only parses, and its
 * token unwraps.  No I/O here.
 */
#ifndef CF_BYOK_H
#define CF_BYOK_H

#include "buf.h"
#include "crypto.h"

#define CF_BYOK_KID_MAX 600
#define CF_BYOK_CIPHERTEXT_MAX 16384

/* Builds a transfer blob for `target` under the KEK's public key. */
CF_MUST_USE bool cf_byok_wrap(const cf_pkey *kek_public, const char *kek_kid, cf_slice target,
                              const char *key_type, const char *crv, cf_buf *out);

typedef struct {
    char kid[CF_BYOK_KID_MAX + 1];
    char key_type[16]; /* Coffer's hint, "" when absent */
    char crv[16];      /* likewise */
    cf_buf ciphertext; /* caller-initialised, up to CF_BYOK_CIPHERTEXT_MAX */
} cf_byok_blob;

/* Parses a transfer blob; CF_ERR_BAD_INPUT names what is wrong. */
CF_MUST_USE bool cf_byok_parse(cf_slice transfer, cf_byok_blob *out);

#endif
