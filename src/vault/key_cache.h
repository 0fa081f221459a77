/*
 * A bounded cache of opened asymmetric keys.
 *
 * Decoding a sealed PKCS#8 key with OpenSSL 3 costs more than an RSA-2048
 * signature's worth of provider lookups, so key operations keep the decoded
 * key.  The material of a (name, version) never changes, so an entry can
 * never be stale; only attributes change, and those are read from the store
 * on every operation.  Purging a key drops its entries.  The cache is
 * direct-mapped (a colliding entry replaces the older one), so its size
 * is fixed.  Decoded private keys live in OpenSSL's secure heap.
 */
#ifndef CF_VAULT_KEY_CACHE_H
#define CF_VAULT_KEY_CACHE_H

#include "crypto.h"

/* A new reference to the cached key, or NULL. */
cf_pkey *cf_key_cache_get(const char *kind, const char *name, const char *version);
/* Stores another reference to `pkey`. */
void cf_key_cache_put(const char *kind, const char *name, const char *version, cf_pkey *pkey);
/* Drops every version of `name`. */
void cf_key_cache_forget(const char *kind, const char *name);

#endif
