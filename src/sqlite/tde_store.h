/*
 * Coffer's own SQLite stores (vault.db, blob.db) on the coffer VFS
 * (docs/database-encryption.md, "Coffer's own stores").  Their protector
 * is a key derived from the service's sealed master key and given to the
 * VFS in memory (protector=key:ID), so it never reaches a file and the
 * store opens only where the seal does.
 */
#ifndef CF_TDE_STORE_H
#define CF_TDE_STORE_H

#include "buf.h"
#include "coffer_tde.h"

typedef struct {
    char key_id[COFFER_TDE_KEY_ID_LEN + 1];        /* "" = no key held */
    char protector[4 + COFFER_TDE_KEY_ID_LEN + 1]; /* key:ID */
    cf_buf uri; /* what to open: file:PATH?vfs=coffer&protector=key:ID */
} cf_tde_store;

/* Registers the VFS and the store key derived from `master_key` (32
 * bytes) and gives the URI to open `path` with.  With `upgrade` (the
 * service, holding its directory lock) a plain database there (a store an
 * older Coffer wrote) is converted in place first, and staging files a
 * crash left are removed; without it (an inspection) a plain file is
 * refused and nothing is changed.  Release `out` whether or not this
 * succeeds. */
CF_MUST_USE bool cf_tde_store_prepare(const char *path, cf_slice master_key, bool upgrade,
                                      cf_tde_store *out);
/* After a failure to open the store: adds the VFS's reason (a wrong key,
 * a damaged page) to the raised error, if the VFS gave one since prepare.
 * Returns false. */
bool cf_tde_store_explain(void);
/* Drops the key's reference and frees the URI. */
void cf_tde_store_release(cf_tde_store *t);

#endif
