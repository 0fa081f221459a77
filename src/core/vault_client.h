/*
 * A client of coffer-vault with its own identity (vault_client.c has the
 * details): coffer-blob for customer-managed keys, the TDE protector of
 * SQLite databases.
 */
#ifndef CF_VAULT_CLIENT_H
#define CF_VAULT_CLIENT_H

#include "buf.h"
#include "crypto.h"

#define CF_VAULT_KEY_URI_MAX 400

typedef struct cf_vault_client cf_vault_client;

typedef struct {
    char kid[CF_VAULT_KEY_URI_MAX + 1]; /* the versioned key id */
    char kty[16];
    bool enabled; /* enabled and not expired */
} cf_vault_client_key;

/* Reads the identity file (--vault-bootstrap). */
CF_MUST_USE bool cf_vault_client_open(const char *path, cf_vault_client **out);
void cf_vault_client_close(cf_vault_client *v);
const char *cf_vault_client_url(const cf_vault_client *v);
/* GET a key (`uri` with or without a version; it must be this vault's). */
CF_MUST_USE bool cf_vault_client_get_key(cf_vault_client *v, const char *uri,
                                         cf_vault_client_key *out);
/* The same, and (RSA and EC keys) its public half into *pub. */
CF_MUST_USE bool cf_vault_client_get_key_public(cf_vault_client *v, const char *uri,
                                                cf_vault_client_key *out, cf_pkey **pub);
/* An RSA or AES key, enabled: else the error that says why. */
CF_MUST_USE bool cf_vault_client_key_usable(const cf_vault_client_key *k);
/* wrapKey / unwrapKey with key version k->kid (RSA-OAEP-256 or A256KW). */
CF_MUST_USE bool cf_vault_client_wrap(cf_vault_client *v, const cf_vault_client_key *k,
                                      cf_slice key, cf_buf *wrapped);
CF_MUST_USE bool cf_vault_client_unwrap(cf_vault_client *v, const cf_vault_client_key *k,
                                        cf_slice wrapped, cf_buf *key);
/* unwrapKey with another algorithm (e.g. "RSA-OAEP", as Always Encrypted
 * column keys are wrapped). */
CF_MUST_USE bool cf_vault_client_unwrap_alg(cf_vault_client *v, const cf_vault_client_key *k,
                                            const char *alg, cf_slice wrapped, cf_buf *key);

#endif
