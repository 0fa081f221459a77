/*
 * Whole database files through the coffer VFS, as `coffer db` and Coffer's
 * own stores use them: opening with a protector, and converting a plain
 * database into an encrypted one (and back).
 *
 * Conversions are meant for a database no other process has open: the new
 * file is written beside the target by VACUUM INTO, checked (integrity
 * check through the VFS), synced and renamed over it, so a crash leaves
 * either the old file or the new one.
 */
#ifndef CF_TDE_FILES_H
#define CF_TDE_FILES_H

#include <sqlite3.h>

#include "buf.h"

/* How a file is opened: through the VFS with `protector` (and for a vault
 * key the identity file, else $COFFER_VAULT_IDENTITY), or plain when
 * `protector` is NULL. */
typedef struct {
    const char *protector;
    const char *vault_identity;
} cf_tde_keys;

/* The URI that opens `path` through the VFS with `keys`. */
CF_MUST_USE bool cf_tde_uri(const char *path, const cf_tde_keys *keys, cf_buf *uri);
/* Opens `path` (registering the VFS first) with a 5 s busy timeout. */
CF_MUST_USE bool cf_tde_open(const char *path, const cf_tde_keys *keys, int flags, sqlite3 **out);
/* Raises `what` with SQLite's and the VFS's messages; returns false. */
bool cf_tde_raise(sqlite3 *db, const char *what);
CF_MUST_USE bool cf_tde_exec(sqlite3 *db, const char *sql);

/* The plain database at `path` encrypted into `out` (may be `path`). */
CF_MUST_USE bool cf_tde_encrypt_file(const char *path, const cf_tde_keys *keys, const char *out);
/* The encrypted database at `path` decrypted into the plain file `out`. */
CF_MUST_USE bool cf_tde_decrypt_file(const char *path, const cf_tde_keys *keys, const char *out);
/* Whether `path` is a plain SQLite database (by its first 16 bytes); a
 * missing or empty file is not. */
CF_MUST_USE bool cf_tde_file_is_plain(const char *path, bool *plain);

#endif
