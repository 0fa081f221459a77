/*
 * TDE protectors: the key that wraps a database's DEKs
 * (docs/database-encryption.md, "The header").
 *
 *   local:PATH   a 32-byte key in a file (raw, or 64 hex digits), readable
 *                by its owner only; DEKs wrapped with AES key wrap (A256KW)
 *   https://VAULT/keys/NAME[/VERSION]
 *                a key in coffer-vault (RSA: RSA-OAEP-256; AES: A256KW),
 *                used through its wrapKey/unwrapKey with the identity in
 *                a file shaped like the vault's bootstrap.json; the header
 *                records the key version, and any version of the key
 *                unwraps what it wrapped
 *   key:ID       a key given in memory (coffer_tde_key_add; Coffer's own
 *                stores: a key derived from their sealed master key),
 *                otherwise the same as local:PATH
 *
 * A protector names itself with an id stored in the header ("local:" and a
 * fingerprint of the key), so a database opened with the wrong key says so
 * rather than failing to unwrap.
 */
#ifndef CF_TDE_PROTECTOR_H
#define CF_TDE_PROTECTOR_H

#include "tde_header.h"

typedef struct cf_tde_protector cf_tde_protector;

/* From a protector specification ("local:PATH", "key:ID" or a vault key
 * URI, which needs `vault_identity`, the identity file). */
CF_MUST_USE bool cf_tde_protector_open(const char *spec, const char *vault_identity,
                                       cf_tde_protector **out);
/* The id part of a local key's protector id: 32 hex digits of
 * HMAC-SHA256(key, "coffer tde local key id"), which tell keys apart
 * without revealing one. */
CF_MUST_USE bool cf_tde_key_fingerprint(cf_slice key, char out[33]);
void cf_tde_protector_free(cf_tde_protector *p);

const char *cf_tde_protector_id(const cf_tde_protector *p);
uint8_t cf_tde_protector_kind(const cf_tde_protector *p);
uint8_t cf_tde_protector_alg(const cf_tde_protector *p);

/* Wraps a 32-byte DEK into `out` (its generation left to the caller). */
CF_MUST_USE bool cf_tde_protector_wrap(cf_tde_protector *p, cf_slice dek, cf_tde_wrapped_dek *out);
/* Unwraps an entry of header `h` into `dek` (a secret buffer):
 * CF_ERR_FORBIDDEN when the header names another protector, CF_ERR_DECRYPT
 * when the wrapped DEK does not unwrap; with a vault key, the vault's
 * refusal (disabled, deleted, no role, unreachable) as CF_ERR_FORBIDDEN. */
CF_MUST_USE bool cf_tde_protector_unwrap(cf_tde_protector *p, const cf_tde_header *h,
                                         const cf_tde_wrapped_dek *w, cf_buf *dek);

#endif
