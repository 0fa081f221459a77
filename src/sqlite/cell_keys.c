/*
 * Cell-level encryption by key in SQLite (docs/always-encrypted.md,
 * "Cell-level encryption"), as SQL Server's OPEN SYMMETRIC KEY /
 * ENCRYPTBYKEY / DECRYPTBYKEY:
 *
 *   coffer_open_key(name)                keeps column key `name` of this
 *                                        database (table coffer_ae_keys,
 *                                        `coffer ae key-create`), unwrapped
 *                                        by its master key in coffer-vault
 *                                        with the identity in the file
 *                                        $COFFER_VAULT_IDENTITY, in this
 *                                        connection's memory; returns its
 *                                        key id (hex)
 *   coffer_open_key(name, key)           the same with a key given (32
 *                                        bytes: a BLOB or 64 hex digits)
 *   coffer_close_key(name)               forgets it (wiped); 1 if it was open
 *   encrypt_by_key(value, name [, auth]) a cell (BLOB) under the open key
 *   decrypt_by_key(cell [, auth])        the value, with the key the cell
 *                                        names among the open ones
 *
 * The keys live with the connection (freed, wiped, when it closes) and
 * never reach the database file.  Direct-only, like the ae_* functions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae.h"
#include "ae_keys.h"
#include "cell_key.h"
#include "coffer_sqlite_internal.h"
#include "encoding.h"
#include "secmem.h"

#define CF_OPEN_KEYS_MAX 64
#define CF_KEY_NAME_MAX 128

typedef struct {
    int refs; /* one per registered function: freed with the last */
    size_t n;
    struct {
        char name[CF_KEY_NAME_MAX + 1];
        cf_cell_key *key;
    } open[CF_OPEN_KEYS_MAX];
} cf_key_ring;

static void cf_ring_release(void *p)
{
    cf_key_ring *ring = p;
    if (--ring->refs > 0)
        return;
    for (size_t i = 0; i < ring->n; i++)
        cf_cell_key_free(ring->open[i].key);
    free(ring);
}

static int cf_ring_find(const cf_key_ring *ring, const char *name)
{
    for (size_t i = 0; i < ring->n; i++)
        if (strcmp(ring->open[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void cf_ring_drop(cf_key_ring *ring, size_t i)
{
    cf_cell_key_free(ring->open[i].key);
    ring->open[i] = ring->open[--ring->n];
}

/* A key name argument: 1-128 bytes of text. */
static const char *cf_key_name(sqlite3_context *ctx, sqlite3_value *v, const char *fn)
{
    const char *name = (const char *)sqlite3_value_text(v);
    size_t n = name ? strlen(name) : 0;
    if (sqlite3_value_type(v) != SQLITE_TEXT || n == 0 || n > CF_KEY_NAME_MAX) {
        cf_sqlite_fail(ctx, SQLITE_MISUSE, fn, "a key name is 1 to 128 characters of text");
        return NULL;
    }
    return name;
}

/* The optional authenticator: its bytes (an INTEGER as decimal text). */
static bool cf_auth_arg(sqlite3_context *ctx, int argc, sqlite3_value **argv, int i, const char *fn,
                        cf_slice *auth, const cf_slice **out)
{
    *out = NULL;
    if (argc <= i)
        return true;
    if (sqlite3_value_type(argv[i]) == SQLITE_NULL) {
        cf_sqlite_fail(ctx, SQLITE_MISUSE, fn, "the authenticator is NULL");
        return false;
    }
    const void *p = sqlite3_value_blob(argv[i]);
    *auth = cf_slice_of(p ? p : "", (size_t)sqlite3_value_bytes(argv[i]));
    *out = auth;
    return true;
}

/* The SQLite code for a failure to get a key from the vault: a name not
 * stored is an error in the query; anything else (no identity, a value
 * tampered with, substituted or malformed, the vault refusing or out of
 * reach) is a refusal. */
static int cf_vault_key_code(void)
{
    return cf_error_code() == CF_ERR_NOT_FOUND ? SQLITE_ERROR : SQLITE_AUTH;
}

static void cf_open_key_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    static const char fn[] = "coffer_open_key";
    cf_key_ring *ring = sqlite3_user_data(ctx);
    const char *name = cf_key_name(ctx, argv[0], fn);
    if (!name)
        return;
    cf_buf raw, hex;
    cf_buf_init_secret(&raw, CF_AE_CEK_LEN);
    cf_buf_init(&hex, 2 * CF_CELL_KEY_ID_LEN + 1);
    bool ok = argc == 1 ? cf_ae_keys_unwrap(sqlite3_context_db_handle(ctx), name,
                                            getenv("COFFER_VAULT_IDENTITY"), &raw)
                        : cf_sqlite_key_arg(argv[1], &raw);
    cf_cell_key *key = NULL;
    if (!ok && argc == 1)
        cf_sqlite_fail(ctx, cf_vault_key_code(), fn, cf_error_detail());
    else if (!ok)
        cf_sqlite_fail(ctx, SQLITE_MISUSE, fn, CF_SQLITE_KEY_ARG_HINT);
    else if (!cf_cell_key_new(cf_buf_slice(&raw), &key))
        cf_sqlite_fail(ctx, SQLITE_ERROR, fn, cf_error_detail());
    cf_buf_free(&raw);
    int at = key ? cf_ring_find(ring, name) : -1;
    if (key && at < 0 && ring->n == CF_OPEN_KEYS_MAX) {
        cf_sqlite_fail(ctx, SQLITE_FULL, fn, "64 keys are open already");
        cf_cell_key_free(key);
        key = NULL;
    }
    if (key) {
        if (at >= 0)
            cf_cell_key_free(ring->open[at].key);
        else
            at = (int)ring->n++;
        snprintf(ring->open[at].name, sizeof ring->open[at].name, "%s", name);
        ring->open[at].key = key;
        if (cf_hex_encode(cf_slice_of(cf_cell_key_id(key), CF_CELL_KEY_ID_LEN), &hex))
            sqlite3_result_text(ctx, (const char *)hex.data, (int)hex.len, SQLITE_TRANSIENT);
    }
    cf_buf_free(&hex);
}

static void cf_close_key_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    cf_key_ring *ring = sqlite3_user_data(ctx);
    const char *name = cf_key_name(ctx, argv[0], "coffer_close_key");
    if (!name)
        return;
    int at = cf_ring_find(ring, name);
    if (at >= 0)
        cf_ring_drop(ring, (size_t)at);
    sqlite3_result_int(ctx, at >= 0);
}

static void cf_encrypt_by_key_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    static const char fn[] = "encrypt_by_key";
    cf_key_ring *ring = sqlite3_user_data(ctx);
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const char *name = cf_key_name(ctx, argv[1], fn);
    cf_slice auth_bytes;
    const cf_slice *auth;
    if (!name || !cf_auth_arg(ctx, argc, argv, 2, fn, &auth_bytes, &auth))
        return;
    int at = cf_ring_find(ring, name);
    if (at < 0) {
        cf_sqlite_fail(ctx, SQLITE_ERROR, fn, "the key is not open (coffer_open_key first)");
        return;
    }
    cf_buf plain, cell;
    cf_buf_init_secret(&plain, CF_CELL_KEY_VALUE_MAX + 1);
    cf_buf_init(&cell, CF_CELL_KEY_VALUE_MAX + 1 + CF_CELL_KEY_OVERHEAD);
    if (cf_sqlite_serialise(argv[0], &plain) &&
        cf_cell_key_seal(ring->open[at].key, auth, cf_buf_slice(&plain), &cell))
        sqlite3_result_blob64(ctx, cell.data, cell.len, SQLITE_TRANSIENT);
    else
        cf_sqlite_fail_raised(ctx, fn);
    cf_buf_free(&plain);
    cf_buf_free(&cell);
}

static void cf_decrypt_by_key_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    static const char fn[] = "decrypt_by_key";
    cf_key_ring *ring = sqlite3_user_data(ctx);
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    cf_slice auth_bytes;
    const cf_slice *auth;
    if (!cf_auth_arg(ctx, argc, argv, 1, fn, &auth_bytes, &auth))
        return;
    if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
        cf_sqlite_fail(ctx, SQLITE_MISMATCH, fn, "a cell is a BLOB");
        return;
    }
    cf_slice cell = cf_slice_of(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]));
    uint8_t id[CF_CELL_KEY_ID_LEN];
    if (!cf_cell_key_id_of(cell, id)) {
        cf_sqlite_fail(ctx, SQLITE_AUTH, fn, cf_error_detail());
        return;
    }
    size_t at = 0;
    while (at < ring->n && memcmp(cf_cell_key_id(ring->open[at].key), id, sizeof id) != 0)
        at++;
    if (at == ring->n) {
        cf_sqlite_fail(ctx, SQLITE_AUTH, fn,
                       "no open key matches the cell (coffer_open_key with its key first)");
        return;
    }
    cf_buf plain;
    cf_buf_init_secret(&plain, CF_CELL_KEY_VALUE_MAX + 1);
    if (cf_cell_key_open(ring->open[at].key, auth, cell, &plain))
        cf_sqlite_result_value(ctx, fn, plain.data, plain.len);
    else
        cf_sqlite_fail(ctx, cf_error_code() == CF_ERR_DECRYPT ? SQLITE_AUTH : SQLITE_ERROR, fn,
                       cf_error_detail());
    cf_buf_free(&plain);
}

int cf_sqlite_register_cell_keys(sqlite3 *db)
{
    static const struct {
        const char *name;
        int n_args;
        void (*fn)(sqlite3_context *, int, sqlite3_value **);
    } fns[] = {
        {"coffer_open_key", 1, cf_open_key_fn},      {"coffer_open_key", 2, cf_open_key_fn},
        {"coffer_close_key", 1, cf_close_key_fn},    {"encrypt_by_key", 2, cf_encrypt_by_key_fn},
        {"encrypt_by_key", 3, cf_encrypt_by_key_fn}, {"decrypt_by_key", 1, cf_decrypt_by_key_fn},
        {"decrypt_by_key", 2, cf_decrypt_by_key_fn},
    };
    cf_key_ring *ring = calloc(1, sizeof *ring);
    if (!ring)
        return SQLITE_NOMEM;
    ring->refs = 1; /* held until every function is in */
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof fns / sizeof fns[0]; i++) {
        ring->refs++;
        /* on failure SQLite calls the destructor itself */
        rc = sqlite3_create_function_v2(db, fns[i].name, fns[i].n_args,
                                        SQLITE_UTF8 | SQLITE_DIRECTONLY, ring, fns[i].fn, NULL,
                                        NULL, cf_ring_release);
    }
    cf_ring_release(ring);
    return rc;
}
