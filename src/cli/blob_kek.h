/*
 * The key-encryption key (KEK) of `coffer blob upload --encrypt-with` and
 * `download --decrypt-with` (docs/client-side-encryption.md, "In the CLI"):
 *
 *   file:PATH   a local key file: 32 raw bytes (AES-256, A256KW) or an RSA
 *               key in PEM (RSA-OAEP; a public key can only wrap).  Its key
 *               id in the metadata is "local:" and the file's base name.
 *   https://VAULT/keys/NAME[/VERSION]
 *               a key in coffer-vault (or Azure Key Vault): the content key
 *               is wrapped and unwrapped by the vault's wrapKey/unwrapKey
 *               with the caller's own credential (the vault options of every
 *               key command), and comes back to this process only: the blob
 *               service never sees it.  AES keys wrap with A256KW, RSA keys
 *               with RSA-OAEP, as the Azure SDKs do.
 */
#ifndef CF_CLI_BLOB_KEK_H
#define CF_CLI_BLOB_KEK_H

#include "cli.h"
#include "cse.h"

typedef struct cf_blob_kek cf_blob_kek;

/* Opens the KEK `spec` names (a usage error for a malformed spec).  A vault
 * key is looked up once (its type picks the algorithm, its versioned id goes
 * into the metadata). */
CF_MUST_USE bool cf_blob_kek_open(cf_cli *cli, const char *spec, cf_blob_kek **out);
/* The KEK that wrapped `meta`'s content key, from its KeyId: only a vault
 * key id can be followed; anything else is refused with a message saying
 * to give --decrypt-with. */
CF_MUST_USE bool cf_blob_kek_for(cf_cli *cli, const cf_cse_meta *meta, cf_blob_kek **out);
void cf_blob_kek_close(cf_blob_kek *kek);

/* Wraps `key` for meta->protocol into meta (key id, algorithm, wrapped key). */
CF_MUST_USE bool cf_blob_kek_wrap(cf_blob_kek *kek, const cf_cse_key *key, cf_cse_meta *meta);
/* Unwraps meta's content key; a wrong KEK is CF_ERR_DECRYPT with a message
 * that says so. */
CF_MUST_USE bool cf_blob_kek_unwrap(cf_blob_kek *kek, const cf_cse_meta *meta, cf_cse_key **out);

#endif
