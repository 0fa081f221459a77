/*
 * ae_encrypt / ae_decrypt for SQLite (coffer_sqlite.h).
 *
 * Design:
 * - A cell's plaintext is a type byte and the value: 1 INTEGER (8 bytes,
 *   little-endian two's complement), 2 REAL (IEEE-754 binary64,
 *   little-endian), 3 TEXT (UTF-8), 4 BLOB; NULL is never encrypted.
 *   ae_decrypt(cell, cek, 'bytes') returns a cell's plaintext as it is,
 *   for cells a SQL Server driver wrote in its own serialisation.
 * - The derived key is cached per statement on the CEK argument
 *   (sqlite3_set_auxdata), so a constant key costs its three HMACs once.
 * - Plaintext passes through secret buffers, wiped when freed.
 */
#include "coffer_sqlite.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ae.h"
#include "coffer_sqlite_internal.h"
#include "crypto.h"
#include "encoding.h"
#include "secmem.h"

enum { AE_INTEGER = 1, AE_REAL = 2, AE_TEXT = 3, AE_BLOB = 4 };

void cf_sqlite_fail(sqlite3_context *ctx, int code, const char *fn, const char *why)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s", fn, why);
    sqlite3_result_error(ctx, msg, -1);
    sqlite3_result_error_code(ctx, code);
}

void cf_sqlite_fail_raised(sqlite3_context *ctx, const char *fn)
{
    cf_sqlite_fail(ctx, cf_error_code() == CF_ERR_TOO_LARGE ? SQLITE_TOOBIG : SQLITE_ERROR, fn,
                   cf_error_detail());
}

bool cf_sqlite_key_arg(sqlite3_value *arg, cf_buf *raw)
{
    int type = sqlite3_value_type(arg);
    if (type == SQLITE_BLOB && sqlite3_value_bytes(arg) == 32)
        return cf_buf_append(raw, sqlite3_value_blob(arg), 32);
    return type == SQLITE_TEXT && sqlite3_value_bytes(arg) == 64 &&
           cf_hex_decode(cf_slice_of(sqlite3_value_text(arg), 64), raw);
}

static void ae_key_destroy(void *key)
{
    cf_ae_key_free(key);
}

/* The key for argument i: cached, or derived now (*fresh: the caller
 * hands it to SQLite with ae_key_keep once done with it). */
static cf_ae_key *ae_key_arg(sqlite3_context *ctx, sqlite3_value *arg, int i, const char *fn,
                             bool *fresh)
{
    *fresh = false;
    cf_ae_key *key = sqlite3_get_auxdata(ctx, i);
    if (key)
        return key;
    cf_buf raw;
    cf_buf_init_secret(&raw, CF_AE_CEK_LEN);
    bool ok = cf_sqlite_key_arg(arg, &raw);
    if (!ok) {
        cf_buf_free(&raw);
        cf_sqlite_fail(ctx, SQLITE_MISUSE, fn, CF_SQLITE_KEY_ARG_HINT);
        return NULL;
    }
    ok = cf_ae_key_new(cf_buf_slice(&raw), &key);
    cf_buf_free(&raw);
    if (!ok) {
        cf_sqlite_fail(ctx, SQLITE_ERROR, fn, cf_error_detail());
        return NULL;
    }
    *fresh = true;
    return key;
}

static void ae_key_keep(sqlite3_context *ctx, int i, cf_ae_key *key, bool fresh)
{
    if (fresh)
        sqlite3_set_auxdata(ctx, i, key, ae_key_destroy);
}

static void ae_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t ae_get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

bool cf_sqlite_serialise(sqlite3_value *v, cf_buf *plain)
{
    uint8_t head[9];
    switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
        head[0] = AE_INTEGER;
        ae_put_le64(head + 1, (uint64_t)sqlite3_value_int64(v));
        return cf_buf_append(plain, head, 9);
    case SQLITE_FLOAT: {
        double d = sqlite3_value_double(v);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        head[0] = AE_REAL;
        ae_put_le64(head + 1, bits);
        return cf_buf_append(plain, head, 9);
    }
    case SQLITE_TEXT:
        head[0] = AE_TEXT;
        return cf_buf_append(plain, head, 1) &&
               cf_buf_append(plain, sqlite3_value_text(v), (size_t)sqlite3_value_bytes(v));
    default:
        head[0] = AE_BLOB;
        return cf_buf_append(plain, head, 1) &&
               cf_buf_append(plain, sqlite3_value_blob(v), (size_t)sqlite3_value_bytes(v));
    }
}

static void ae_encrypt_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    static const char fn[] = "ae_encrypt";
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const char *mode_text = (const char *)sqlite3_value_text(argv[2]);
    cf_ae_mode mode;
    if (mode_text && strcasecmp(mode_text, "deterministic") == 0) {
        mode = CF_AE_DETERMINISTIC;
    } else if (mode_text && strcasecmp(mode_text, "randomized") == 0) {
        mode = CF_AE_RANDOMIZED;
    } else {
        cf_sqlite_fail(ctx, SQLITE_MISUSE, fn, "the mode must be 'deterministic' or 'randomized'");
        return;
    }
    bool fresh;
    cf_ae_key *key = ae_key_arg(ctx, argv[1], 1, fn, &fresh);
    if (!key)
        return;
    cf_buf plain, cell;
    cf_buf_init_secret(&plain, CF_AE_VALUE_MAX);
    cf_buf_init(&cell, CF_AE_CELL_MAX);
    /* (plain's cap refuses a value of 64 MiB or more as CF_ERR_TOO_LARGE) */
    if (cf_sqlite_serialise(argv[0], &plain) &&
        cf_ae_encrypt(key, mode, cf_buf_slice(&plain), &cell))
        sqlite3_result_blob64(ctx, cell.data, cell.len, SQLITE_TRANSIENT);
    else
        cf_sqlite_fail_raised(ctx, fn);
    cf_buf_free(&plain);
    cf_buf_free(&cell);
    ae_key_keep(ctx, 1, key, fresh);
}

void cf_sqlite_result_value(sqlite3_context *ctx, const char *fn, const uint8_t *p, size_t len)
{
    int type = len ? p[0] : 0;
    if ((type == AE_INTEGER || type == AE_REAL) && len != 9)
        type = 0;
    switch (type) {
    case AE_INTEGER: sqlite3_result_int64(ctx, (sqlite3_int64)ae_get_le64(p + 1)); return;
    case AE_REAL: {
        uint64_t bits = ae_get_le64(p + 1);
        double d;
        memcpy(&d, &bits, sizeof d);
        sqlite3_result_double(ctx, d);
        return;
    }
    case AE_TEXT:
        sqlite3_result_text64(ctx, (const char *)p + 1, len - 1, SQLITE_TRANSIENT, SQLITE_UTF8);
        return;
    case AE_BLOB: sqlite3_result_blob64(ctx, p + 1, len - 1, SQLITE_TRANSIENT); return;
    default:
        cf_sqlite_fail(ctx, SQLITE_MISMATCH, fn,
                       "the cell decrypts, but not to a value Coffer's functions wrote (a SQL "
                       "Server driver's cell? read it with ae_decrypt(cell, cek, 'bytes'))");
    }
}

static void ae_decrypt_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    static const char fn[] = "ae_decrypt";
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const char *form = argc > 2 ? (const char *)sqlite3_value_text(argv[2]) : "value";
    if (!form || (strcasecmp(form, "value") != 0 && strcasecmp(form, "bytes") != 0)) {
        cf_sqlite_fail(ctx, SQLITE_MISUSE, fn, "the third argument must be 'value' or 'bytes'");
        return;
    }
    if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
        cf_sqlite_fail(ctx, SQLITE_MISMATCH, fn, "a cell is a BLOB");
        return;
    }
    bool fresh;
    cf_ae_key *key = ae_key_arg(ctx, argv[1], 1, fn, &fresh);
    if (!key)
        return;
    cf_buf plain;
    cf_buf_init_secret(&plain, CF_AE_VALUE_MAX + CF_AE_BLOCK);
    cf_slice cell = cf_slice_of(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]));
    if (!cf_ae_decrypt(key, cell, &plain))
        cf_sqlite_fail(ctx, cf_error_code() == CF_ERR_DECRYPT ? SQLITE_AUTH : SQLITE_ERROR, fn,
                       cf_error_detail());
    else if (strcasecmp(form, "bytes") == 0)
        sqlite3_result_blob64(ctx, plain.data ? plain.data : (const uint8_t *)"", plain.len,
                              SQLITE_TRANSIENT);
    else
        cf_sqlite_result_value(ctx, fn, plain.data, plain.len);
    cf_buf_free(&plain);
    ae_key_keep(ctx, 1, key, fresh);
}

int coffer_sqlite_register(sqlite3 *db)
{
    if (!cf_crypto_init())
        return SQLITE_ERROR;
    /* Direct-only: a trigger or view in a database file cannot call them. */
    const int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY;
    int rc = sqlite3_create_function_v2(db, "ae_encrypt", 3, flags, NULL, ae_encrypt_fn, NULL, NULL,
                                        NULL);
    for (int n = 2; rc == SQLITE_OK && n <= 3; n++)
        rc = sqlite3_create_function_v2(db, "ae_decrypt", n, flags | SQLITE_DETERMINISTIC, NULL,
                                        ae_decrypt_fn, NULL, NULL, NULL);
    return rc == SQLITE_OK ? cf_sqlite_register_cell_keys(db) : rc;
}
