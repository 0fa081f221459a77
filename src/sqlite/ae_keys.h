/*
 * Column keys kept in the database they protect (docs/always-encrypted.md,
 * "Column keys"): the table coffer_ae_keys, one row per key, each only an
 * encrypted CEK value under a column master key (CMK) in coffer-vault.
 * `coffer ae key-*` writes them (src/cli/ae_cmd.c); coffer_open_key(name)
 * opens one for the cell functions through the vault (cell_keys.c).
 */
#ifndef CF_AE_KEYS_H
#define CF_AE_KEYS_H

#include <sqlite3.h>

#include "buf.h"

/* The table, created if missing. */
extern const char cf_ae_keys_schema[];

/* Raises `what` with SQLite's message (CF_ERR_IO); returns false. */
bool cf_ae_keys_fail(sqlite3 *db, const char *what);
/* Raises CF_ERR_NOT_FOUND for a key name the table does not have. */
bool cf_ae_keys_not_found(void);
/* The stored value of key `name`; CF_ERR_NOT_FOUND when there is none. */
CF_MUST_USE bool cf_ae_keys_value(sqlite3 *db, const char *name, cf_buf *value);
/* The CEK of key `name` into `cek` (secret), by coffer-vault with the
 * identity in the file `identity` (shaped like the vault's bootstrap.json):
 * the value's signature is checked with the CMK's public key first, so a
 * value someone substituted in the table is refused before the vault is
 * asked to unwrap it (CF_ERR_DECRYPT); the vault's refusals (disabled or
 * deleted CMK, no role, unreachable) as CF_ERR_FORBIDDEN. */
CF_MUST_USE bool cf_ae_keys_unwrap(sqlite3 *db, const char *name, const char *identity,
                                   cf_buf *cek);

#endif
