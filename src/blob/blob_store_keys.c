/*
 * Account data keys and who keeps them (docs/blob-keys.md).
 *
 * Every account has one data key for its whole life: extents and sealed
 * metadata derive their keys from it, so changing who keeps it never
 * re-encrypts anything.  accounts.data_key holds it
 *   - sealed by the service master key (key_source 0, the default), or
 *   - wrapped by a coffer-vault key version, key_kid (key_source 1); the
 *     service cannot open that without the vault.  key_uri is the key as
 *     configured: without a version, rotations in the vault are followed.
 * A customer-managed data key is usable only while its unwrapped copy is
 * in the key ring, in secret memory; the service layer (cmk.c) fills and
 * empties the ring as the vault answers.  The data directory never holds
 * it in the clear.
 *
 * Also here: listing and deleting accounts.
 */
#include "blob_store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "envelope.h"
#include "secmem.h"

struct bs_ring_key {
    uint8_t ref[CF_EXTENT_KEY_REF_LEN];
    uint8_t *key; /* CF_DATA_KEY_LEN bytes of secret memory */
};

/* ---- the key ring ---- */

void cf_bs_keyring_free(cf_blob_store *s)
{
    for (size_t i = 0; i < s->n_ring; i++)
        cf_secret_free(s->ring[i].key, CF_DATA_KEY_LEN);
    free(s->ring);
    s->ring = NULL;
    s->n_ring = 0;
}

static struct bs_ring_key *bs_ring_find(cf_blob_store *s, const uint8_t *ref)
{
    for (size_t i = 0; i < s->n_ring; i++)
        if (memcmp(s->ring[i].ref, ref, CF_EXTENT_KEY_REF_LEN) == 0)
            return &s->ring[i];
    return NULL;
}

bool cf_bs_keyring_get_locked(cf_blob_store *s, const uint8_t ref[CF_EXTENT_KEY_REF_LEN],
                              uint8_t *out)
{
    const struct bs_ring_key *k = bs_ring_find(s, ref);
    CF_ENSURE_REASON(k, CF_ERR_FORBIDDEN, "KeyVaultEncryptionKeyNotFound",
                     "The customer-managed key of this account is not available.");
    memcpy(out, k->key, CF_DATA_KEY_LEN);
    return true;
}

static bool bs_keyring_put_locked(cf_blob_store *s, const uint8_t *ref, cf_slice key)
{
    struct bs_ring_key *k = bs_ring_find(s, ref);
    if (!k) {
        struct bs_ring_key *grown = realloc(s->ring, (s->n_ring + 1) * sizeof *s->ring);
        CF_ENSURE_ALLOC(grown);
        s->ring = grown;
        k = &s->ring[s->n_ring];
        k->key = cf_secret_alloc(CF_DATA_KEY_LEN);
        CF_ENSURE_ALLOC(k->key);
        memcpy(k->ref, ref, CF_EXTENT_KEY_REF_LEN);
        s->n_ring++;
    }
    memcpy(k->key, key.ptr, CF_DATA_KEY_LEN);
    return true;
}

bool cf_blob_keyring_put(cf_blob_store *s, const uint8_t ref[CF_EXTENT_KEY_REF_LEN], cf_slice key)
{
    CF_ENSURE(key.len == CF_DATA_KEY_LEN, CF_ERR_BAD_INPUT, "a data key is 32 bytes");
    pthread_mutex_lock(&s->lock);
    bool ok = bs_keyring_put_locked(s, ref, key);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

void cf_blob_keyring_drop(cf_blob_store *s, const char *account,
                          const uint8_t ref[CF_EXTENT_KEY_REF_LEN])
{
    pthread_mutex_lock(&s->lock);
    struct bs_ring_key *k = bs_ring_find(s, ref);
    if (k) {
        cf_secret_free(k->key, CF_DATA_KEY_LEN);
        *k = s->ring[--s->n_ring];
    }
    cf_bs_meta_key_drop_locked(s, account);
    pthread_mutex_unlock(&s->lock);
}

/* ---- who keeps the data key ---- */

static bool bs_key_info_locked(cf_blob_store *s, const char *account, cf_blob_key_info *out,
                               cf_buf *wrapped)
{
    sqlite3_stmt *st = BS_PREP(s,
                               "SELECT key_source, key_uri, key_kid, key_ref, data_key"
                               " FROM accounts WHERE name = ?1",
                               account);
    CF_GUARD(st);
    int rc = sqlite3_step(st);
    bool ok = rc == SQLITE_ROW && sqlite3_column_bytes(st, 3) == CF_EXTENT_KEY_REF_LEN;
    if (ok) {
        memset(out, 0, sizeof *out);
        out->source = sqlite3_column_int(st, 0) == 1 ? CF_BLOB_KEYS_VAULT : CF_BLOB_KEYS_SERVICE;
        cf_bs_column_str(st, 1, out->uri, sizeof out->uri);
        cf_bs_column_str(st, 2, out->kid, sizeof out->kid);
        memcpy(out->ref, sqlite3_column_blob(st, 3), CF_EXTENT_KEY_REF_LEN);
        if (wrapped && out->source == CF_BLOB_KEYS_VAULT) {
            cf_buf_clear(wrapped);
            ok = cf_buf_append(wrapped, sqlite3_column_blob(st, 4),
                               (size_t)sqlite3_column_bytes(st, 4));
        }
    }
    cf_bs_done(st);
    CF_ENSURE_REASON(rc != SQLITE_DONE, CF_ERR_NOT_FOUND, "AccountNotFound", "no such account");
    CF_GUARD(cf_bs_db_ok(s, rc));
    CF_ENSURE(ok, CF_ERR_DB, "malformed account row");
    return true;
}

bool cf_blob_key_info_get(cf_blob_store *s, const char *account, cf_blob_key_info *out,
                          cf_buf *wrapped)
{
    CF_GUARD(cf_bs_check_names(account, NULL, NULL));
    return BS_LOCKED(s, bs_key_info_locked(s, account, out, wrapped));
}

static bool bs_data_key_locked(cf_blob_store *s, const char *account, cf_buf *out)
{
    bs_scope sc = {0};
    CF_GUARD(cf_bs_scope_load_locked(s, account, &sc));
    cf_buf_clear(out);
    bool ok = cf_buf_append(out, sc.key, CF_DATA_KEY_LEN);
    cf_bs_scope_free(&sc);
    return ok;
}

bool cf_blob_data_key(cf_blob_store *s, const char *account, cf_buf *out)
{
    CF_GUARD(cf_bs_check_names(account, NULL, NULL));
    return BS_LOCKED(s, bs_data_key_locked(s, account, out));
}

static bool bs_key_store_tx(cf_blob_store *s, const char *account, const cf_blob_key_info *info,
                            cf_slice key, const char *expect_kid)
{
    cf_blob_key_info cur;
    CF_GUARD(bs_key_info_locked(s, account, &cur, NULL));
    CF_ENSURE(!expect_kid || (cur.source == CF_BLOB_KEYS_VAULT && strcmp(cur.kid, expect_kid) == 0),
              CF_ERR_CONFLICT, "the account's key changed meanwhile");
    bool vault = info->source == CF_BLOB_KEYS_VAULT;
    cf_buf sealed;
    cf_buf_init(&sealed, 1024);
    bool ok = vault ? cf_buf_append_slice(&sealed, key)
                    : key.len == CF_DATA_KEY_LEN && cf_bs_account_seal(s, account, "data", key, &sealed);
    CF_ENSURE(ok || cf_error_code() != CF_OK, CF_ERR_BAD_INPUT, "a data key is 32 bytes");
    sqlite3_stmt *st = ok ? BS_PREP(s,
                                    "UPDATE accounts SET key_source = ?2, key_uri = ?3, key_kid = ?4,"
                                    " data_key = ?5 WHERE name = ?1",
                                    account, NULL, vault ? info->uri : NULL,
                                    vault ? info->kid : NULL)
                          : NULL;
    if (st) {
        sqlite3_bind_int(st, 2, vault ? 1 : 0);
        sqlite3_bind_blob(st, 5, sealed.data, (int)sealed.len, SQLITE_STATIC);
    }
    ok = ok && cf_bs_run(s, st);
    cf_buf_free(&sealed);
    return ok;
}

static bool bs_key_store_locked(cf_blob_store *s, const char *account, const cf_blob_key_info *info,
                                cf_slice key, const char *expect_kid)
{
    CF_GUARD(cf_bs_begin(s));
    return cf_bs_commit(s, bs_key_store_tx(s, account, info, key, expect_kid));
}

bool cf_blob_key_store(cf_blob_store *s, const char *account, const cf_blob_key_info *info,
                       cf_slice key, const char *expect_kid)
{
    CF_GUARD(cf_bs_check_names(account, NULL, NULL));
    CF_ENSURE(info->source == CF_BLOB_KEYS_SERVICE ||
                  (info->uri[0] && info->kid[0] && key.len > 0 && key.len <= 1024),
              CF_ERR_BAD_INPUT, "a vault key needs its URI, version and wrapping");
    return BS_LOCKED(s, bs_key_store_locked(s, account, info, key, expect_kid));
}

/* ---- listing and deleting accounts ---- */

static bool bs_account_names_locked(cf_blob_store *s, json_t *names)
{
    sqlite3_stmt *st = BS_PREP(s, "SELECT name FROM accounts ORDER BY name");
    CF_GUARD(st);
    int rc;
    bool ok = true;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW)
        ok = json_array_append_new(names, json_string((const char *)sqlite3_column_text(st, 0))) ==
             0;
    if (ok)
        ok = cf_bs_db_ok(s, rc);
    else
        CF_RAISE(CF_ERR_NOMEM, NULL);
    cf_bs_done(st);
    return ok;
}

bool cf_blob_account_names(cf_blob_store *s, json_t **out)
{
    *out = json_array();
    CF_ENSURE_ALLOC(*out);
    if (!BS_LOCKED(s, bs_account_names_locked(s, *out))) {
        json_decref(*out);
        *out = NULL;
        return false;
    }
    return true;
}

static bool bs_account_delete_tx(cf_blob_store *s, const char *a, bs_idlist *gone)
{
    cf_blob_account acct;
    CF_GUARD(cf_bs_account_get_locked(s, a, &acct));
    CF_GUARD(cf_bs_collect(s,
                           BS_PREP(s, "SELECT extent FROM blob_extents WHERE account = ?1 UNION "
                                      "SELECT extent FROM uncommitted WHERE account = ?1",
                                   a),
                           gone));
    static const char *const sql[] = {
        "DELETE FROM blob_extents WHERE account = ?1", "DELETE FROM uncommitted WHERE account = ?1",
        "DELETE FROM blobs WHERE account = ?1",        "DELETE FROM containers WHERE account = ?1",
        "DELETE FROM service_props WHERE account = ?1", "DELETE FROM accounts WHERE name = ?1",
    };
    /* The statement cache is keyed by the literal's address: each entry of
     * `sql` is one stable literal. */
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++)
        CF_GUARD(cf_bs_run(s, BS_PREP(s, sql[i], a)));
    cf_bs_meta_key_drop_locked(s, a);
    struct bs_ring_key *k = bs_ring_find(s, acct.key_ref);
    if (k) {
        cf_secret_free(k->key, CF_DATA_KEY_LEN);
        *k = s->ring[--s->n_ring];
    }
    return true;
}

static bool bs_account_delete_locked(cf_blob_store *s, const char *name)
{
    bs_idlist gone = {0};
    return cf_bs_begin(s) &&
           cf_bs_commit_releasing(s, bs_account_delete_tx(s, name, &gone), &gone);
}

bool cf_blob_account_delete(cf_blob_store *s, const char *name)
{
    CF_GUARD(cf_bs_check_names(name, NULL, NULL));
    return BS_LOCKED(s, bs_account_delete_locked(s, name));
}
