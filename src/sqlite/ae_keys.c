/*
 * Column keys in their database (ae_keys.h).
 */
#include "ae_keys.h"

#include "ae.h"
#include "vault_client.h"

const char cf_ae_keys_schema[] = "CREATE TABLE IF NOT EXISTS coffer_ae_keys("
                                 " name TEXT PRIMARY KEY,"
                                 " cmk TEXT NOT NULL,"
                                 " algorithm TEXT NOT NULL DEFAULT 'RSA_OAEP',"
                                 " value BLOB NOT NULL,"
                                 " created INTEGER NOT NULL,"
                                 " rotated INTEGER)";

bool cf_ae_keys_fail(sqlite3 *db, const char *what)
{
    cf_error_raisef(CF_ERR_IO, __FILE__, __LINE__, "%s: %s", what,
                    db ? sqlite3_errmsg(db) : "out of memory");
    return false;
}

bool cf_ae_keys_not_found(void)
{
    CF_BAIL(CF_ERR_NOT_FOUND, "no column key of that name in the database");
}

bool cf_ae_keys_value(sqlite3 *db, const char *name, cf_buf *value)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(db, "SELECT value FROM main.coffer_ae_keys WHERE name = ?1", -1,
                                 &st, NULL) == SQLITE_OK &&
              sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK;
    int rc = ok ? sqlite3_step(st) : SQLITE_ERROR;
    if (rc == SQLITE_ROW)
        ok = cf_buf_append(value, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    else if (rc == SQLITE_DONE)
        ok = cf_ae_keys_not_found();
    else
        ok = cf_ae_keys_fail(db, "cannot read the column keys");
    sqlite3_finalize(st);
    return ok;
}

bool cf_ae_keys_unwrap(sqlite3 *db, const char *name, const char *identity, cf_buf *cek)
{
    CF_ENSURE(identity && *identity, CF_ERR_UNAUTHORIZED,
              "opening a column key through coffer-vault needs an identity: set "
              "COFFER_VAULT_IDENTITY to a file shaped like the vault's bootstrap.json");
    cf_buf value;
    cf_buf_init(&value, CF_AE_CEK_VALUE_MAX);
    cf_ae_cek_value v;
    cf_vault_client *vault = NULL;
    cf_vault_client_key cmk;
    cf_pkey *pub = NULL;
    bool ok = cf_ae_keys_value(db, name, &value) &&
              cf_ae_cek_value_parse(cf_buf_slice(&value), &v) &&
              cf_vault_client_open(identity, &vault) &&
              cf_vault_client_get_key_public(vault, v.key_path, &cmk, &pub) &&
              cf_ae_cek_value_verify(pub, &v);
    if (ok && !cmk.enabled) {
        CF_RAISE_REASON(CF_ERR_FORBIDDEN, "KeyVaultEncryptionKeyNotFound",
                        "the column master key is disabled or expired in coffer-vault");
        ok = false;
    }
    ok = ok && cf_vault_client_unwrap_alg(vault, &cmk, "RSA-OAEP", v.ciphertext, cek);
    if (ok && cek->len != CF_AE_CEK_LEN) {
        CF_RAISE(CF_ERR_DECRYPT, "the unwrapped column key is not 32 bytes");
        ok = false;
    }
    cf_pkey_free(pub);
    cf_vault_client_close(vault);
    cf_buf_free(&value);
    return ok;
}
