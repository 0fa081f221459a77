/*
 * One key in the configured coffer-vault, used through its API with the
 * caller's own credential (the vault options of every key command): the
 * CLI's client-side key operations (blob_kek.c, ae_cmd.c) go through here.
 *
 * A key id is https://VAULT/keys/NAME[/VERSION].  Only ids on the
 * configured vault's origin are followed: ids can come from data someone
 * else wrote (a blob's metadata, a database's key table), and the
 * credential must never go to an origin they merely name.
 */
#ifndef CF_CLI_VAULT_KEY_H
#define CF_CLI_VAULT_KEY_H

#include "cli.h"
#include "crypto.h"

typedef struct cf_vault_key cf_vault_key;

/* Opens `kid` on the configured vault; with `lookup`, GETs the key once
 * (its versioned id, type and public half).  A kid on another origin is
 * refused with a message ending in `hint` (what to give instead). */
CF_MUST_USE bool cf_vault_key_open(cf_cli *cli, const char *kid, bool lookup, const char *hint,
                                   cf_vault_key **out);
void cf_vault_key_close(cf_vault_key *k);

/* After a lookup: the versioned key id, the key type ("RSA", "oct-HSM",
 * ...), and for RSA and EC keys the public key. */
const char *cf_vault_key_kid(const cf_vault_key *k);
const char *cf_vault_key_kty(const cf_vault_key *k);
const cf_pkey *cf_vault_key_public(const cf_vault_key *k);

/* The vault client the key was opened with (for other calls to the same
 * vault with the same credential, e.g. a secret beside the key). */
struct cf_cli_client *cf_vault_key_client(cf_vault_key *k);

/* POST /keys/NAME/VERSION/OP {"alg": alg, "value": base64url(in)}; the
 * reply's value, decoded, appended to `out` (secret for unwrapkey). */
CF_MUST_USE bool cf_vault_key_op(cf_vault_key *k, const char *op, const char *alg, cf_slice in,
                                 cf_buf *out);

#endif
