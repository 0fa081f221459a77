/*
 * A bounded cache of opened asymmetric keys, in two levels.
 *
 * Decoding a sealed PKCS#8 key with OpenSSL 3 costs more than an RSA-2048
 * signature's worth of provider lookups, so key operations keep the decoded
 * key in a shared, direct-mapped table (a colliding entry replaces the
 * older one, so its size is fixed).  Threads sharing one EVP_PKEY then
 * contend on its RSA blinding lock (measured: 2 threads sign ~15% slower
 * than 2 processes), so each thread also keeps a few private copies.
 *
 * The material of a (name, version) never changes, so no entry can be
 * stale; attributes are read from the store on every operation.  Purging a
 * key drops it from the shared table at once and from every thread's copies
 * at that thread's next lookup (a generation counter).  Decoded private
 * keys live in OpenSSL's secure heap.
 */
#ifndef CF_VAULT_KEY_CACHE_H
#define CF_VAULT_KEY_CACHE_H

#include "crypto.h"

/* A key reference for the calling thread's exclusive use, or NULL. */
cf_pkey *cf_key_cache_get(const char *kind, const char *name, const char *version);
/* Stores another reference to `pkey`. */
void cf_key_cache_put(const char *kind, const char *name, const char *version, cf_pkey *pkey);
/* Drops every version of `name`. */
void cf_key_cache_forget(const char *kind, const char *name);

#endif
