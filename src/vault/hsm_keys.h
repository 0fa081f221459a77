/*
 * HSM-protected keys (kty RSA-HSM, EC-HSM, oct-HSM): the private or secret
 * part is generated in, or unwrapped into, the seal's PKCS#11 token as a
 * sensitive, non-extractable object, and every operation runs there.  The
 * store keeps the public JWK in the version's properties and, sealed like
 * any key material, a reference to the token objects plus the key wrapped
 * under the root key (for backups).  Format: docs/formats.md.
 */
#ifndef CF_VAULT_HSM_KEYS_H
#define CF_VAULT_HSM_KEYS_H

#include "keys.h"

/* True when the vault's seal is a token that can hold keys. */
bool cf_hsm_available(const cf_vault *vault);
/* The token usage (CF_P11_USE_*) that key_ops allow for a key type. */
unsigned cf_hsm_usage(cf_kty kty, unsigned ops);

/* Generates a key in the token; fills obj->props and the sealed material. */
CF_MUST_USE bool cf_hsm_generate(cf_vault *vault, cf_kty kty, const cf_key_spec *spec, unsigned ops,
                                 cf_object *obj);
/* Imports key material a client sent in plaintext ("hsm": true): PKCS#8
 * DER for RSA and EC (of `curve`), raw bytes for oct. */
CF_MUST_USE bool cf_hsm_import(cf_vault *vault, cf_kty kty, cf_curve curve, cf_slice material,
                               unsigned ops, cf_object *obj);
/* Key Vault's bring-your-own-key import: `transfer` is the decoded
 * key_hsm JSON (a key wrapped for one of this vault's RSA-HSM key-exchange
 * keys); the key is unwrapped inside the token and never seen here. */
CF_MUST_USE bool cf_hsm_import_byok(cf_vault *vault, cf_kty kty, const char *crv, cf_slice transfer,
                                    unsigned ops, cf_object *obj);

/* A version was stored: its token objects are no longer "being made"
 * (software keys: nothing to do). */
void cf_hsm_settled(const cf_object *obj);

/* Opens a loaded HSM key version: the token objects it names. */
CF_MUST_USE bool cf_hsm_load(cf_vault *vault, cf_key *key);
/* A restored version: its backed-up key is unwrapped under the root key
 * into new token objects; `out` receives the new material and props name
 * them. */
CF_MUST_USE bool cf_hsm_restore(cf_vault *vault, cf_object *obj, cf_slice material, cf_buf *out);
/* key_ops changed: the token objects follow. */
CF_MUST_USE bool cf_hsm_set_ops(cf_vault *vault, const cf_object *obj, unsigned ops);
/* Destroys the token objects no stored key version names any more (purged
 * keys, and keys a crash left half-made). */
CF_MUST_USE bool cf_hsm_collect(cf_vault *vault, unsigned *destroyed);
/* The same, logging what it did or why it could not (it runs again after
 * the next purge and at every start). */
void cf_hsm_collect_logged(cf_vault *vault);

/* Operations, as their software counterparts in crypto.h. */
CF_MUST_USE bool cf_hsm_rsa_encrypt(const cf_key *key, cf_rsa_pad pad, cf_slice in, cf_buf *out);
CF_MUST_USE bool cf_hsm_rsa_decrypt(const cf_key *key, cf_rsa_pad pad, cf_slice in, cf_buf *out);
/* AES-GCM: the IV is given; out gets ciphertext then the tag is split off. */
CF_MUST_USE bool cf_hsm_gcm_encrypt(const cf_key *key, cf_slice iv, cf_slice aad, cf_slice in,
                                    uint8_t *ct, uint8_t tag[CF_GCM_TAG_LEN]);
CF_MUST_USE bool cf_hsm_gcm_decrypt(const cf_key *key, cf_slice iv, cf_slice aad, cf_slice ct,
                                    cf_slice tag, uint8_t *pt);
CF_MUST_USE bool cf_hsm_cbc(const cf_key *key, bool encrypt, cf_slice iv, bool pad, cf_slice in,
                            cf_buf *out);
CF_MUST_USE bool cf_hsm_kw(const cf_key *key, bool wrap, cf_slice in, cf_buf *out);
CF_MUST_USE bool cf_hsm_sign(const cf_key *key, cf_sig_alg alg, cf_slice digest, cf_buf *sig);
CF_MUST_USE bool cf_hsm_verify(const cf_key *key, cf_sig_alg alg, cf_slice digest, cf_slice sig,
                               bool *valid);

#endif
