/*
 * Column encryption in SQL Server's Always Encrypted formats
 * (docs/always-encrypted.md): cells sealed with AEAD_AES_256_CBC_HMAC_SHA256
 * under a 32-byte column encryption key (CEK), randomized or
 * deterministic, and the encrypted CEK value (the CEK wrapped with
 * RSA-OAEP by a column master key, signed by it) that SQL Server stores
 * and its drivers read.
 *
 * The wrapping and signing themselves happen wherever the column master
 * key lives (coffer-vault's wrapkey/sign, or a local key with
 * cf_ae_cek_unwrap_local); this module builds, parses and checks the
 * bytes.  Thread-safe; a cf_ae_key may be shared by threads.
 */
#ifndef CF_AE_H
#define CF_AE_H

#include <stdint.h>

#include "buf.h"
#include "crypto.h"

#define CF_AE_CEK_LEN 32
#define CF_AE_VERSION 0x01
#define CF_AE_TAG_LEN 32
#define CF_AE_IV_LEN 16
#define CF_AE_BLOCK 16
#define CF_AE_CELL_MIN (1 + CF_AE_TAG_LEN + CF_AE_IV_LEN + CF_AE_BLOCK) /* 65 */
#define CF_AE_VALUE_MAX (64u * 1024 * 1024) /* plaintext bytes per cell */
#define CF_AE_CELL_MAX (1 + CF_AE_TAG_LEN + CF_AE_IV_LEN + CF_AE_VALUE_MAX + CF_AE_BLOCK)

typedef enum { CF_AE_RANDOMIZED, CF_AE_DETERMINISTIC } cf_ae_mode;

/* ---- cells ---- */

/* The three keys derived from a CEK, in secret memory. */
typedef struct cf_ae_key cf_ae_key;

/* CF_ERR_BAD_INPUT unless the CEK is CF_AE_CEK_LEN bytes. */
CF_MUST_USE bool cf_ae_key_new(cf_slice cek, cf_ae_key **out) CF_NONNULL;
void cf_ae_key_free(cf_ae_key *key);

/* Appends the cell for `plaintext` (at most CF_AE_VALUE_MAX bytes). */
CF_MUST_USE bool cf_ae_encrypt(const cf_ae_key *key, cf_ae_mode mode, cf_slice plaintext,
                               cf_buf *out) CF_NONNULL;
/* Appends the plaintext of `cell`; CF_ERR_DECRYPT, naming the problem
 * (size, version, tag), with nothing appended when any check fails. */
CF_MUST_USE bool cf_ae_decrypt(const cf_ae_key *key, cf_slice cell, cf_buf *out) CF_NONNULL;

/* ---- encrypted CEK values ---- */

#define CF_AE_KEY_PATH_MAX 2048 /* bytes of UTF-16LE */
#define CF_AE_RSA_MIN 256       /* ciphertext and signature: RSA-2048.. */
#define CF_AE_RSA_MAX 512       /* ..RSA-4096 */
#define CF_AE_CEK_VALUE_MAX (5 + CF_AE_KEY_PATH_MAX + 2 * CF_AE_RSA_MAX)

/* A parsed value; the slices point into the parsed bytes. */
typedef struct {
    char key_path[CF_AE_KEY_PATH_MAX * 3 / 2 + 1]; /* UTF-8, NUL-terminated */
    cf_slice ciphertext;                           /* RSA-OAEP (SHA-1) of the CEK */
    cf_slice signature;                            /* RS256 over `signed_part` */
    cf_slice signed_part;                          /* version .. ciphertext */
} cf_ae_cek_value;

/* CF_ERR_BAD_INPUT (CF_ERR_UNSUPPORTED for another version) unless `value`
 * is exactly one well-formed value within the caps. */
CF_MUST_USE bool cf_ae_cek_value_parse(cf_slice value, cf_ae_cek_value *out) CF_NONNULL;

/* The signed part of a new value for `key_path` (UTF-8; written as
 * UTF-16LE) and `ciphertext`, into `out` (cleared first); the caller signs
 * its SHA-256 with the column master key and appends the signature with
 * cf_ae_cek_value_finish. */
CF_MUST_USE bool cf_ae_cek_value_begin(const char *key_path, cf_slice ciphertext,
                                       cf_buf *out) CF_NONNULL;
/* Appends the signature; CF_ERR_BAD_INPUT unless it is as long as the
 * ciphertext. */
CF_MUST_USE bool cf_ae_cek_value_finish(cf_buf *value, cf_slice signature) CF_NONNULL;

/* Checks the value's signature with the column master key's public half:
 * CF_ERR_DECRYPT when it does not verify.  Before any unwrap, so a value
 * someone substituted is refused before a key is used on it. */
CF_MUST_USE bool cf_ae_cek_value_verify(const cf_pkey *cmk_public,
                                        const cf_ae_cek_value *value) CF_NONNULL;
/* With a column master key held here (a PEM private key, as in the
 * certificate store): checks the value's signature, then unwraps the CEK
 * into `cek` (secret, CF_AE_CEK_LEN bytes, appended).  CF_ERR_DECRYPT when
 * the signature does not verify or the CEK does not unwrap. */
CF_MUST_USE bool cf_ae_cek_unwrap_local(const cf_pkey *cmk, const cf_ae_cek_value *value,
                                        cf_buf *cek) CF_NONNULL;
/* The reverse: wraps `cek` and signs, a whole value for `key_path`. */
CF_MUST_USE bool cf_ae_cek_wrap_local(const cf_pkey *cmk, const char *key_path, cf_slice cek,
                                      cf_buf *value) CF_NONNULL;

#endif
