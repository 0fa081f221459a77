/*
 * Cryptography: the only interface to OpenSSL 3 (EVP APIs only).  No other
 * Coffer file includes an OpenSSL header.  Algorithms are fetched once by
 * cf_crypto_init(); every function below is thread-safe after that.
 *
 * Keys given as cf_slice are borrowed.  Outputs that can hold secrets
 * (plaintext, unwrapped keys, private DER/PEM) must go to buffers made with
 * cf_buf_init_secret(); the functions never leave copies behind.
 * Tag and signature checks fail with CF_ERR_DECRYPT; they never return data
 * that did not authenticate.
 */
#ifndef CF_CRYPTO_H
#define CF_CRYPTO_H

#include <stdint.h>

#include "buf.h"

CF_MUST_USE bool cf_crypto_init(void);
CF_MUST_USE bool cf_random_bytes(void *out, size_t len);

/* ---- digests, MAC, KDF ---- */
/* MD5 only for Azure's Content-MD5 transfer checksums, never for security. */
typedef enum { CF_HASH_SHA1, CF_HASH_SHA256, CF_HASH_SHA384, CF_HASH_SHA512, CF_HASH_MD5 } cf_hash;
#define CF_HASH_MAX_LEN 64

size_t cf_hash_len(cf_hash h);
/* out must hold cf_hash_len(h) bytes. */
CF_MUST_USE bool cf_hash_compute(cf_hash h, cf_slice in, uint8_t *out);
/* Incremental hashing of a stream. */
typedef struct cf_hasher cf_hasher;
CF_MUST_USE bool cf_hasher_new(cf_hash h, cf_hasher **out);
CF_MUST_USE bool cf_hasher_update(cf_hasher *hs, cf_slice in) CF_NONNULL;
/* out must hold cf_hash_len(h) bytes; the hasher can be reused after. */
CF_MUST_USE bool cf_hasher_final(cf_hasher *hs, uint8_t *out) CF_NONNULL;
void cf_hasher_free(cf_hasher *hs);
CF_MUST_USE bool cf_hmac_sha256(cf_slice key, cf_slice msg, uint8_t out[32]);
/* The HMAC of the concatenation of `parts`, without concatenating them. */
CF_MUST_USE bool cf_hmac_sha256_parts(cf_slice key, const cf_slice *parts, size_t n_parts,
                                      uint8_t out[32]);
CF_MUST_USE bool cf_hkdf_sha256(cf_slice ikm, cf_slice salt, cf_slice info, uint8_t *out,
                                size_t out_len);

/* ---- symmetric ---- */
#define CF_GCM_IV_LEN 12
#define CF_GCM_TAG_LEN 16
#define CF_CBC_IV_LEN 16

/* AES-GCM with a 16/24/32-byte key, 12-byte IV, 16-byte tag; ct has pt.len bytes. */
CF_MUST_USE bool cf_aes_gcm_encrypt(cf_slice key, cf_slice iv, cf_slice aad, cf_slice pt,
                                    uint8_t *ct, uint8_t tag[CF_GCM_TAG_LEN]);
/* Fails with CF_ERR_DECRYPT (and wipes pt) when the tag does not verify. */
CF_MUST_USE bool cf_aes_gcm_decrypt(cf_slice key, cf_slice iv, cf_slice aad, cf_slice ct,
                                    cf_slice tag, uint8_t *pt);
/* A reusable AES-GCM context: the key schedule is computed once by
 * cf_gcm_new() and each seal/open only sets a fresh IV, so bulk callers
 * (the extent format) pay no allocation or key setup per message.  A context
 * holds key material: free it with cf_gcm_free(), which wipes it.  One
 * context is for one thread at a time. */
typedef struct cf_gcm cf_gcm;

/* key: 16, 24 or 32 bytes (borrowed; the context keeps its own schedule). */
CF_MUST_USE bool cf_gcm_new(cf_slice key, cf_gcm **out);
void cf_gcm_free(cf_gcm *g);
/* A new key of the same length for the next messages (the schedule is
 * recomputed; no allocation). */
CF_MUST_USE bool cf_gcm_rekey(cf_gcm *g, cf_slice key);
/* As cf_aes_gcm_encrypt with a fixed-size IV; ct has pt.len bytes. */
CF_MUST_USE bool cf_gcm_seal(cf_gcm *g, const uint8_t iv[CF_GCM_IV_LEN], cf_slice aad, cf_slice pt,
                             uint8_t *ct, uint8_t tag[CF_GCM_TAG_LEN]);
/* As cf_aes_gcm_decrypt: CF_ERR_DECRYPT (pt wiped) unless the tag verifies. */
CF_MUST_USE bool cf_gcm_open(cf_gcm *g, const uint8_t iv[CF_GCM_IV_LEN], cf_slice aad, cf_slice ct,
                             const uint8_t tag[CF_GCM_TAG_LEN], uint8_t *pt);
/* The same context for a message streamed through in pieces: begin (with
 * its IV and AAD), update any number of times (out receives in.len bytes,
 * and may be in.ptr), then seal_end for the tag or open_end, CF_ERR_DECRYPT
 * unless the tag verifies.  Until open_end succeeds, whatever update wrote
 * is unauthenticated: the caller must not release it, and wipes it if the
 * tag fails. */
CF_MUST_USE bool cf_gcm_begin(cf_gcm *g, const uint8_t iv[CF_GCM_IV_LEN], cf_slice aad,
                              bool encrypt);
CF_MUST_USE bool cf_gcm_update(cf_gcm *g, cf_slice in, uint8_t *out);
CF_MUST_USE bool cf_gcm_seal_end(cf_gcm *g, uint8_t tag[CF_GCM_TAG_LEN]);
CF_MUST_USE bool cf_gcm_open_end(cf_gcm *g, const uint8_t tag[CF_GCM_TAG_LEN]);
/* AES-CBC with a 16/24/32-byte key and 16-byte IV; `pad` selects PKCS#7. */
CF_MUST_USE bool cf_aes_cbc_encrypt(cf_slice key, cf_slice iv, bool pad, cf_slice pt, cf_buf *out);
CF_MUST_USE bool cf_aes_cbc_decrypt(cf_slice key, cf_slice iv, bool pad, cf_slice ct, cf_buf *out);
/* AES key wrap, RFC 3394 (default IV); key to wrap: multiple of 8, >= 16 bytes. */
CF_MUST_USE bool cf_aes_kw_wrap(cf_slice kek, cf_slice key, cf_buf *out);
CF_MUST_USE bool cf_aes_kw_unwrap(cf_slice kek, cf_slice wrapped, cf_buf *out);
/* AES key wrap with padding, RFC 5649: any key length from 1 byte (the
 * format of Key Vault's BYOK transfer blobs). */
CF_MUST_USE bool cf_aes_kwp_wrap(cf_slice kek, cf_slice key, cf_buf *out);
CF_MUST_USE bool cf_aes_kwp_unwrap(cf_slice kek, cf_slice wrapped, cf_buf *out);

/* ---- asymmetric keys ---- */
typedef struct cf_pkey cf_pkey; /* an EVP_PKEY; RSA or EC */

typedef enum { CF_KTY_RSA, CF_KTY_EC, CF_KTY_OCT } cf_kty;
typedef enum { CF_CURVE_P256, CF_CURVE_P384, CF_CURVE_P521, CF_CURVE_P256K } cf_curve;

/* JWK names: "P-256", "P-384", "P-521", "P-256K". */
CF_MUST_USE bool cf_curve_from_name(cf_slice name, cf_curve *out);
const char *cf_curve_name(cf_curve c);
/* Coordinate size in bytes (32, 48, 66, 32): the size of each JWK x/y/d and of
 * each half of an ES signature. */
size_t cf_curve_field_len(cf_curve c);
/* OpenSSL's group name for a curve; for src/core/crypto*.c only. */
const char *cf_curve_group_name(cf_curve c);

/* The curve's base point G, uncompressed (04||x||y). */
CF_MUST_USE bool cf_curve_base_point(cf_curve curve, cf_buf *out);
/* The uncompressed point with this x and y parity; CF_ERR_BAD_INPUT when
 * no such point is on the curve. */
CF_MUST_USE bool cf_ec_point_decompress(cf_curve curve, cf_slice x, bool odd_y, cf_buf *out);
/* A public EC key from an uncompressed point (checked to be on the curve). */
CF_MUST_USE bool cf_pkey_from_ec_point(cf_curve curve, cf_slice point, cf_pkey **out);

/* bits: 2048, 3072 or 4096; e: odd, >= 3 (65537 is the default elsewhere). */
CF_MUST_USE bool cf_pkey_generate_rsa(unsigned bits, uint32_t e, cf_pkey **out);
CF_MUST_USE bool cf_pkey_generate_ec(cf_curve curve, cf_pkey **out);
void cf_pkey_free(cf_pkey *key);
/* Another reference to the same key (freed by one more cf_pkey_free);
 * NULL on failure. */
cf_pkey *cf_pkey_ref(cf_pkey *key);
/* An independent copy (private parts stay in the secure heap).  Threads
 * that each use their own copy avoid OpenSSL's shared blinding lock. */
CF_MUST_USE bool cf_pkey_dup(const cf_pkey *key, cf_pkey **out);
cf_kty cf_pkey_kty(const cf_pkey *key);
unsigned cf_pkey_bits(const cf_pkey *key);
/* Only for EC keys. */
cf_curve cf_pkey_curve(const cf_pkey *key);
CF_MUST_USE bool cf_pkey_has_private(const cf_pkey *key);

/* PKCS#8 DER of the private key, into a secret buffer. */
CF_MUST_USE bool cf_pkey_private_der(const cf_pkey *key, cf_buf *out);
CF_MUST_USE bool cf_pkey_from_private_der(cf_slice der, cf_pkey **out);
/* An unencrypted private key in PEM: PKCS#8 or the traditional RSA/EC forms. */
CF_MUST_USE bool cf_pkey_from_private_pem(cf_slice pem, cf_pkey **out);
/* A public key in PEM (SubjectPublicKeyInfo or PKCS#1 RSAPublicKey). */
CF_MUST_USE bool cf_pkey_from_public_pem(cf_slice pem, cf_pkey **out);
/* SubjectPublicKeyInfo DER. */
CF_MUST_USE bool cf_pkey_public_der(const cf_pkey *key, cf_buf *out);
CF_MUST_USE bool cf_pkey_from_public_der(cf_slice der, cf_pkey **out);
/* PEM, for TLS: private (PKCS#8, secret buffer) and public. */
CF_MUST_USE bool cf_pkey_private_pem(const cf_pkey *key, cf_buf *out);

/* ---- JWK (RFC 7517/7518) <-> keys ----
 * `jwk` is a jansson object (json_t *, passed as void * to keep jansson out
 * of this header's users that do not need it).
 * to_jwk_public adds "kty" and n/e or crv/x/y (base64url, no padding).
 * from_jwk accepts kty RSA/RSA-HSM (n, e [, d, p, q, dp, dq, qi]) and EC/EC-HSM
 * (crv, x, y [, d]); with want_private the private members are required.
 * Checks: key consistency (the private key matches the public part, the
 * point is on the curve), RSA size 2048..4096. */
CF_MUST_USE bool cf_pkey_to_jwk_public(const cf_pkey *key, void *jwk);
CF_MUST_USE bool cf_pkey_from_jwk(const void *jwk, bool want_private, cf_pkey **out);

/* ---- RSA encryption ---- */
typedef enum { CF_RSA_PKCS1, CF_RSA_OAEP_SHA1, CF_RSA_OAEP_SHA256 } cf_rsa_pad;

CF_MUST_USE bool cf_rsa_encrypt(const cf_pkey *key, cf_rsa_pad pad, cf_slice pt, cf_buf *out);
/* Fails with CF_ERR_DECRYPT on any padding error. */
CF_MUST_USE bool cf_rsa_decrypt(const cf_pkey *key, cf_rsa_pad pad, cf_slice ct, cf_buf *out);

/* OAEP padding alone (MGF1 with the same hash; SHA-1 or SHA-256), around a
 * raw RSA operation done elsewhere (a token): encode to a k-byte block;
 * decode a k-byte block, failing with CF_ERR_DECRYPT in constant time. */
CF_MUST_USE bool cf_rsa_oaep_encode(cf_hash h, size_t k, cf_slice msg, cf_buf *em);
CF_MUST_USE bool cf_rsa_oaep_decode(cf_hash h, cf_slice em, cf_buf *msg);

/* ---- signatures over a digest (JWS algorithms) ---- */
typedef enum {
    CF_SIG_RS256,
    CF_SIG_RS384,
    CF_SIG_RS512,
    CF_SIG_PS256,
    CF_SIG_PS384,
    CF_SIG_PS512,
    CF_SIG_ES256,
    CF_SIG_ES384,
    CF_SIG_ES512,
    CF_SIG_ES256K,
} cf_sig_alg;

/* The hash a signature algorithm uses. */
cf_hash cf_sig_hash(cf_sig_alg alg);
/* Fails with CF_ERR_BAD_INPUT when the key does not fit the algorithm
 * (RSA for RS/PS; the matching curve for ES) or the digest length is wrong.
 * EC signatures are the JWS raw r||s form, each half padded to the curve size;
 * PS uses salt length = digest length. */
CF_MUST_USE bool cf_sign_digest(const cf_pkey *key, cf_sig_alg alg, cf_slice digest, cf_buf *sig);
/* Sets *valid; fails only when the inputs are malformed for the key. */
CF_MUST_USE bool cf_verify_digest(const cf_pkey *key, cf_sig_alg alg, cf_slice digest, cf_slice sig,
                                  bool *valid);

/* The first certificate of a PEM chain: when it expires (Unix time) and
 * its subject's common name (may be ""). */
CF_MUST_USE bool cf_x509_expiry(cf_slice pem, int64_t *not_after, char *cn, size_t cn_len);

/* ---- X.509 for the development CA ---- */
/* A self-signed CA certificate (PEM) for `key`, valid `days`. */
CF_MUST_USE bool cf_x509_self_signed_ca(const cf_pkey *key, const char *common_name, unsigned days,
                                        cf_buf *cert_pem);
/* A server certificate (PEM) for `key`, signed by the CA; `sans` are DNS
 * names or IP addresses (detected), serverAuth EKU. */
CF_MUST_USE bool cf_x509_issue_server(const cf_pkey *ca_key, cf_slice ca_cert_pem,
                                      const cf_pkey *key, const char *const *sans, size_t n_sans,
                                      unsigned days, cf_buf *cert_pem);

#endif
