/*
 * Shared by the SQLite function files (coffer_sqlite.c, cell_keys.c).
 */
#ifndef COFFER_SQLITE_INTERNAL_H
#define COFFER_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stdint.h>

#include "buf.h"

/* An error for the function `fn`: "fn: why", with SQLite error `code`. */
void cf_sqlite_fail(sqlite3_context *ctx, int code, const char *fn, const char *why);
/* The failure just raised (result.h) for the function `fn`: SQLITE_TOOBIG
 * for an input over its cap, else SQLITE_ERROR, with the detail. */
void cf_sqlite_fail_raised(sqlite3_context *ctx, const char *fn);
/* A 32-byte key argument: a BLOB, or 64 hex digits; appended to `raw`
 * (secret, cap 32).  False when it is neither. */
CF_MUST_USE bool cf_sqlite_key_arg(sqlite3_value *arg, cf_buf *raw);
#define CF_SQLITE_KEY_ARG_HINT "a key must be 32 bytes (a BLOB, or 64 hex digits)"
/* A value's plaintext form: its type byte and its bytes (docs). */
CF_MUST_USE bool cf_sqlite_serialise(sqlite3_value *v, cf_buf *plain);
/* Hands such a plaintext back to SQLite with its type (SQLITE_MISMATCH if
 * it is not one). */
void cf_sqlite_result_value(sqlite3_context *ctx, const char *fn, const uint8_t *p, size_t len);
/* encrypt_by_key and friends (cell_keys.c). */
int cf_sqlite_register_cell_keys(sqlite3 *db);

#endif
