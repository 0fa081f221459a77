/*
 * `coffer ae key-*`: column encryption keys for ae_encrypt/ae_decrypt
 * (docs/always-encrypted.md, "Column keys"), kept in the database they
 * protect, in the table coffer_ae_keys, each only as an encrypted CEK value
 * under a column master key (CMK) in coffer-vault:
 *
 *   key-create NAME --db FILE --cmk KID   a random CEK, wrapped by the
 *                                         vault (wrapkey RSA-OAEP), the
 *                                         value signed by it (sign RS256)
 *   key-list --db FILE                    names, CMKs, times
 *   key-unwrap NAME --db FILE [--out F]   the CEK, for the application:
 *                                         hex on stdout, or raw into F
 *   key-rotate NAME --db FILE --cmk KID   the same CEK re-wrapped under
 *                                         another CMK: no cell changes
 *   key-delete NAME --db FILE
 *
 * Unwrapping checks the value's signature with the CMK's public key first,
 * so a value someone substituted in the table is refused before the vault
 * is asked.  The CEK exists in this process only in secret buffers; only
 * key-unwrap hands it out, on purpose.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ae.h"
#include "ae_keys.h"
#include "cli.h"
#include "crypto.h"
#include "encoding.h"
#include "fsutil.h"
#include "vault_key.h"

#define CF_AE_NAME_MAX 128

static bool cf_ae_db_open(const cf_cli *cli, sqlite3 **out)
{
    const char *path = cf_cli_opt(cli, "db");
    if (!path)
        return cf_cli_usage("--db FILE is required");
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
        sqlite3_exec(db, cf_ae_keys_schema, NULL, NULL, NULL) != SQLITE_OK) {
        bool ok = cf_ae_keys_fail(db, "cannot open the database");
        sqlite3_close(db);
        return ok;
    }
    *out = db;
    return true;
}

static bool cf_ae_name(const cf_cli *cli, const char **out)
{
    const char *name = cli->args->pos[0];
    size_t n = strlen(name);
    bool ok = n > 0 && n <= CF_AE_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
             (name[i] >= '0' && name[i] <= '9') || name[i] == '-' || name[i] == '_';
    if (!ok)
        return cf_cli_usage("a column key name is 1-128 letters, digits, '-' or '_'");
    *out = name;
    return true;
}

/* Runs one write statement with (name, cmk, value, now) bound as ?1..?4. */
static bool cf_ae_db_write(sqlite3 *db, const char *sql, const char *name, const char *cmk,
                           cf_slice value)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
              sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK &&
              sqlite3_bind_text(st, 2, cmk, -1, SQLITE_STATIC) == SQLITE_OK &&
              sqlite3_bind_blob(st, 3, value.ptr, (int)value.len, SQLITE_STATIC) == SQLITE_OK &&
              sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL)) == SQLITE_OK;
    int rc = ok ? sqlite3_step(st) : SQLITE_ERROR;
    sqlite3_finalize(st);
    if (rc == SQLITE_CONSTRAINT)
        CF_BAIL(CF_ERR_CONFLICT, "a column key of that name exists already");
    if (rc != SQLITE_DONE)
        return cf_ae_keys_fail(db, "cannot write the column key");
    return sqlite3_changes(db) == 1 || cf_ae_keys_not_found();
}

/* ---- wrapping with the vault ---- */

/* Opens the CMK `kid`: an RSA key of the configured vault, looked up. */
static bool cf_ae_cmk_open(cf_cli *cli, const char *kid, cf_vault_key **out)
{
    CF_GUARD(cf_vault_key_open(cli, kid, true, "another --cmk", out));
    if (strncmp(cf_vault_key_kty(*out), "RSA", 3) == 0)
        return true;
    cf_vault_key_close(*out);
    *out = NULL;
    CF_BAIL(CF_ERR_BAD_INPUT, "a column master key must be an RSA key");
}

/* The encrypted value of `cek` under `cmk`: wrapped and signed by the vault,
 * the signature checked here, the key path the lowercased versioned id (as
 * the Azure Key Vault provider of SQL Server's drivers writes it). */
static bool cf_ae_wrap(cf_vault_key *cmk, cf_slice cek, cf_buf *value)
{
    char path[1025];
    snprintf(path, sizeof path, "%s", cf_vault_key_kid(cmk));
    for (char *p = path; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    cf_buf wrapped, sig;
    cf_buf_init(&wrapped, CF_AE_RSA_MAX);
    cf_buf_init(&sig, CF_AE_RSA_MAX);
    uint8_t digest[32];
    bool valid = false;
    bool ok = cf_vault_key_op(cmk, "wrapkey", "RSA-OAEP", cek, &wrapped) &&
              cf_ae_cek_value_begin(path, cf_buf_slice(&wrapped), value) &&
              cf_hash_compute(CF_HASH_SHA256, cf_buf_slice(value), digest) &&
              cf_vault_key_op(cmk, "sign", "RS256", cf_slice_of(digest, sizeof digest), &sig) &&
              cf_verify_digest(cf_vault_key_public(cmk), CF_SIG_RS256,
                               cf_slice_of(digest, sizeof digest), cf_buf_slice(&sig), &valid);
    if (ok && !valid) {
        CF_RAISE(CF_ERR_IO, "the vault's signature does not verify with its own public key");
        ok = false;
    }
    ok = ok && cf_ae_cek_value_finish(value, cf_buf_slice(&sig));
    cf_buf_free(&wrapped);
    cf_buf_free(&sig);
    return ok;
}

/* The CEK of column key `name` into `cek` (secret): the value's signature
 * checked with its CMK's public key, then unwrapped by the vault. */
static bool cf_ae_unwrap(cf_cli *cli, sqlite3 *db, const char *name, cf_buf *cek)
{
    cf_buf value;
    cf_buf_init(&value, CF_AE_CEK_VALUE_MAX);
    cf_ae_cek_value v;
    cf_vault_key *cmk = NULL;
    bool ok = cf_ae_keys_value(db, name, &value) &&
              cf_ae_cek_value_parse(cf_buf_slice(&value), &v) &&
              cf_ae_cmk_open(cli, v.key_path, &cmk) &&
              cf_ae_cek_value_verify(cf_vault_key_public(cmk), &v);
    ok = ok && cf_vault_key_op(cmk, "unwrapkey", "RSA-OAEP", v.ciphertext, cek);
    if (ok && cek->len != CF_AE_CEK_LEN) {
        CF_RAISE(CF_ERR_DECRYPT, "the unwrapped column key is not 32 bytes");
        ok = false;
    }
    cf_vault_key_close(cmk);
    cf_buf_free(&value);
    return ok;
}

/* ---- commands ---- */

bool cf_cmd_ae_key_create(cf_cli *cli)
{
    const char *name, *kid = cf_cli_opt(cli, "cmk");
    CF_GUARD(cf_ae_name(cli, &name));
    if (!kid)
        return cf_cli_usage("--cmk KEY_ID (an RSA key in the vault) is required");
    sqlite3 *db = NULL;
    cf_vault_key *cmk = NULL;
    cf_buf cek, value;
    cf_buf_init_secret(&cek, CF_AE_CEK_LEN);
    cf_buf_init(&value, CF_AE_CEK_VALUE_MAX);
    uint8_t *raw;
    bool ok = cf_ae_db_open(cli, &db) && cf_ae_cmk_open(cli, kid, &cmk) &&
              cf_buf_extend(&cek, CF_AE_CEK_LEN, &raw) && cf_random_bytes(raw, CF_AE_CEK_LEN) &&
              cf_ae_wrap(cmk, cf_buf_slice(&cek), &value) &&
              cf_ae_db_write(db,
                             "INSERT INTO coffer_ae_keys(name, cmk, value, created) "
                             "VALUES(?1, ?2, ?3, ?4)",
                             name, cf_vault_key_kid(cmk), cf_buf_slice(&value));
    if (ok)
        printf("created column key %s under %s\n", name, cf_vault_key_kid(cmk));
    cf_vault_key_close(cmk);
    cf_buf_free(&cek);
    cf_buf_free(&value);
    sqlite3_close(db);
    return ok;
}

bool cf_cmd_ae_key_rotate(cf_cli *cli)
{
    const char *name, *kid = cf_cli_opt(cli, "cmk");
    CF_GUARD(cf_ae_name(cli, &name));
    if (!kid)
        return cf_cli_usage("--cmk KEY_ID (the new column master key) is required");
    sqlite3 *db = NULL;
    cf_vault_key *cmk = NULL;
    cf_buf cek, value;
    cf_buf_init_secret(&cek, CF_AE_RSA_MAX);
    cf_buf_init(&value, CF_AE_CEK_VALUE_MAX);
    bool ok = cf_ae_db_open(cli, &db) && cf_ae_unwrap(cli, db, name, &cek) &&
              cf_ae_cmk_open(cli, kid, &cmk) && cf_ae_wrap(cmk, cf_buf_slice(&cek), &value) &&
              cf_ae_db_write(db,
                             "UPDATE coffer_ae_keys SET cmk = ?2, value = ?3, rotated = ?4 "
                             "WHERE name = ?1",
                             name, cf_vault_key_kid(cmk), cf_buf_slice(&value));
    if (ok)
        printf("column key %s now under %s\n", name, cf_vault_key_kid(cmk));
    cf_vault_key_close(cmk);
    cf_buf_free(&cek);
    cf_buf_free(&value);
    sqlite3_close(db);
    return ok;
}

bool cf_cmd_ae_key_unwrap(cf_cli *cli)
{
    const char *name, *out = cf_cli_opt(cli, "out");
    CF_GUARD(cf_ae_name(cli, &name));
    sqlite3 *db = NULL;
    cf_buf cek, hex;
    cf_buf_init_secret(&cek, CF_AE_RSA_MAX);
    cf_buf_init_secret(&hex, 2 * CF_AE_CEK_LEN + 1);
    bool ok = cf_ae_db_open(cli, &db) && cf_ae_unwrap(cli, db, name, &cek);
    if (ok && out)
        ok = cf_write_file_atomic(out, cf_buf_slice(&cek), 0600);
    else if (ok)
        ok = cf_hex_encode(cf_buf_slice(&cek), &hex) && cf_buf_terminate(&hex) &&
             printf("%s\n", (const char *)hex.data) > 0;
    cf_buf_free(&cek);
    cf_buf_free(&hex);
    sqlite3_close(db);
    return ok;
}

bool cf_cmd_ae_key_list(cf_cli *cli)
{
    sqlite3 *db = NULL;
    CF_GUARD(cf_ae_db_open(cli, &db));
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(db,
                                 "SELECT name, cmk, created, rotated FROM coffer_ae_keys "
                                 "ORDER BY name",
                                 -1, &st, NULL) == SQLITE_OK;
    json_t *items = json_array();
    int rc;
    while (ok && items && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *item = json_pack("{s:s, s:s, s:I, s:o}", "name", sqlite3_column_text(st, 0), "cmk",
                                 sqlite3_column_text(st, 1), "created",
                                 (json_int_t)sqlite3_column_int64(st, 2), "rotated",
                                 sqlite3_column_type(st, 3) == SQLITE_NULL
                                     ? json_null()
                                     : json_integer(sqlite3_column_int64(st, 3)));
        ok = item && json_array_append_new(items, item) == 0;
    }
    ok = ok && items && rc == SQLITE_DONE;
    if (!ok)
        (void)cf_ae_keys_fail(db, "cannot list the column keys");
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (ok && cli->json) {
        cf_out_json(items);
    } else if (ok) {
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item)
        {
            char when[64];
            cf_out_time(json_integer_value(json_object_get(item, "created")), when, sizeof when);
            printf("%-24s %s  created %s\n", json_string_value(json_object_get(item, "name")),
                   json_string_value(json_object_get(item, "cmk")), when);
        }
    }
    json_decref(items);
    return ok;
}

bool cf_cmd_ae_key_delete(cf_cli *cli)
{
    const char *name;
    CF_GUARD(cf_ae_name(cli, &name));
    sqlite3 *db = NULL;
    CF_GUARD(cf_ae_db_open(cli, &db));
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(db, "DELETE FROM coffer_ae_keys WHERE name = ?1", -1, &st, NULL) ==
                  SQLITE_OK &&
              sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK &&
              sqlite3_step(st) == SQLITE_DONE;
    if (!ok)
        (void)cf_ae_keys_fail(db, "cannot delete the column key");
    else if (sqlite3_changes(db) != 1)
        ok = cf_ae_keys_not_found();
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (ok)
        printf("deleted column key %s (cells under it can no longer be decrypted)\n", name);
    return ok;
}
