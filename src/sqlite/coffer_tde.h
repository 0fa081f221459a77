/*
 * Transparent encryption for SQLite (docs/database-encryption.md): a VFS
 * named "coffer" that seals every page of a database, its rollback journal
 * and its WAL, and SQLite's temporary files, before they reach the disk.
 *
 * From C: call coffer_tde_register() once, then open with a URI
 *
 *   file:app.db?vfs=coffer&protector=local:/path/to/key
 *
 * (SQLITE_OPEN_URI, or sqlite3_open_v2's zVfs "coffer").  From the sqlite3
 * shell: `.load libcoffer_sqlite`, then `.open` such a URI.  URI parameters:
 *
 *   protector=local:PATH     the key that wraps the database key: a file
 *                            of 32 bytes (raw, or 64 hex digits), mode 0600
 *   protector=key:ID         the same, a key this process gave with
 *                            coffer_tde_key_add() (never in a file)
 *   protector=https://VAULT/keys/NAME, vault_identity=FILE
 *                            a key in coffer-vault (wrapKey/unwrapKey)
 *   tde_cache_seconds=N      how long an unwrapped database key is used
 *                            before the protector is asked again (300)
 *
 * A new database gets a random key, salt and Coffer header; SQLite is told
 * (by an auto-extension the registration installs) to keep 48 bytes per
 * page free for each page's nonce and tag.  An existing plain database is
 * converted with `coffer db encrypt`.  Failures are errors, never data: a
 * page that fails its check reads as SQLITE_CORRUPT, a protector that
 * refuses as SQLITE_AUTH; coffer_tde_last_error() says why.
 */
#ifndef COFFER_TDE_H
#define COFFER_TDE_H

#include <sqlite3.h>
#include <stdint.h>

#define COFFER_TDE_VFS "coffer"

/* Registers the VFS (not as the default) on top of the default VFS, and
 * the auto-extension; SQLITE_OK or an SQLite error code.  Idempotent. */
int coffer_tde_register(void);

/* Keeps a copy of a 32-byte key in this process's locked memory for
 * protector=key:ID, and writes its ID (32 hex digits: a fingerprint, not
 * the key) into `id`.  Adding the same key again adds a reference.  A
 * database opened with it is the same as with local:PATH of a file
 * holding that key.  SQLITE_OK, SQLITE_FULL (too many keys) or
 * SQLITE_NOMEM. */
#define COFFER_TDE_KEY_ID_LEN 32
int coffer_tde_key_add(const unsigned char key[32], char id[COFFER_TDE_KEY_ID_LEN + 1]);
/* Drops a reference; the last one wipes the key.  Connections already
 * open keep working (they hold their own copy). */
void coffer_tde_key_remove(const char *id);

/* The message of this thread's last TDE failure ("" if none). */
const char *coffer_tde_last_error(void);

/* File controls on a database opened through the VFS,
 * sqlite3_file_control(db, "main", op, arg): */
#define COFFER_TDE_FCNTL_STATUS 0x43460001 /* arg: coffer_tde_status * */
/* arg: const char *, the new protector's specification; re-wraps the
 * database keys, touches no page.  Hold a write lock (BEGIN IMMEDIATE). */
#define COFFER_TDE_FCNTL_ROTATE_PROTECTOR 0x43460002
/* A new database key generation becomes the one new pages are sealed
 * under (the old one kept); then VACUUM rewrites every page. */
#define COFFER_TDE_FCNTL_REKEY_BEGIN 0x43460003
/* Drops the old generation once no page of the file uses it
 * (SQLITE_BUSY otherwise: checkpoint the WAL first). */
#define COFFER_TDE_FCNTL_REKEY_END 0x43460004

typedef struct {
    char protector[1025];
    uint32_t page_size;
    uint64_t header_sequence;
    uint8_t current_generation;
    uint8_t generations[2]; /* 0 = none */
} coffer_tde_status;

#endif
