/*
 * Coffer's SQLite functions (docs/always-encrypted.md, "In SQLite"), from C
 * or, as the loadable extension libcoffer_sqlite.so, from the sqlite3 shell
 * (`.load libcoffer_sqlite`):
 *
 *   ae_encrypt(value, cek, mode)   an Always Encrypted cell (BLOB) of value
 *                                  under the 32-byte column encryption key
 *                                  cek (a BLOB, or 64 hex digits); mode
 *                                  'deterministic' or 'randomized'; NULL
 *                                  stays NULL
 *   ae_decrypt(cell, cek)          the value back, with its SQLite type
 *
 * A cell's plaintext is one type byte and the value (docs): the cell
 * format is SQL Server's, the serialisation SQLite's own.  Errors (a
 * tampered cell or another key, SQLITE_AUTH; malformed arguments,
 * SQLITE_MISUSE) carry a message and never a partial value.  The functions
 * are direct-only: a trigger or view in a database file cannot call them.
 */
#ifndef COFFER_SQLITE_H
#define COFFER_SQLITE_H

#include <sqlite3.h>

/* Registers the functions on `db`; SQLITE_OK or an SQLite error code. */
int coffer_sqlite_register(sqlite3 *db);

#endif
