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
 * Encryption scopes (the scopes table) keep their own data keys the same
 * way; a scope's key is sealed under the slot "scope/<name>" of its
 * account.  Also here: listing and deleting accounts.
 */
#include "blob_store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "envelope.h"
#include "secmem.h"

/* A key in the ring, or (key NULL) why it is not there. */
struct bs_ring_key {
    uint8_t ref[CF_EXTENT_KEY_REF_LEN];
    uint8_t *key; /* CF_DATA_KEY_LEN bytes of secret memory */
    const char *reason;
    char message[300];
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

/* The ring's usable entry for `ref`, or NULL with the reason raised. */
static const struct bs_ring_key *bs_ring_ready(cf_blob_store *s, const uint8_t *ref)
{
    const struct bs_ring_key *k = bs_ring_find(s, ref);
    if (k && !k->key) {
        cf_error_raise_reason(CF_ERR_FORBIDDEN, k->reason, __FILE__, __LINE__, k->message);
        return NULL;
    }
    if (!k)
        CF_RAISE_REASON(CF_ERR_FORBIDDEN, "KeyVaultEncryptionKeyNotFound",
                        "The customer-managed key is not available.");
    return k;
}

bool cf_bs_keyring_get_locked(cf_blob_store *s, const uint8_t ref[CF_EXTENT_KEY_REF_LEN],
                              uint8_t *out)
{
    const struct bs_ring_key *k = bs_ring_ready(s, ref);
    CF_GUARD(k);
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
        k = &s->ring[s->n_ring++];
        memset(k, 0, sizeof *k);
        memcpy(k->ref, ref, CF_EXTENT_KEY_REF_LEN);
    }
    if (!k->key)
        k->key = cf_secret_alloc(CF_DATA_KEY_LEN);
    if (!k->key) { /* no entry rather than one that says nothing */
        *k = s->ring[--s->n_ring];
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    memcpy(k->key, key.ptr, CF_DATA_KEY_LEN);
    k->reason = NULL;
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

static void bs_ring_remove_locked(cf_blob_store *s, const uint8_t *ref)
{
    struct bs_ring_key *k = bs_ring_find(s, ref);
    if (k) {
        cf_secret_free(k->key, CF_DATA_KEY_LEN);
        *k = s->ring[--s->n_ring];
    }
}

void cf_blob_keyring_drop(cf_blob_store *s, const char *account,
                          const uint8_t ref[CF_EXTENT_KEY_REF_LEN], const char *reason,
                          const char *message)
{
    pthread_mutex_lock(&s->lock);
    bs_ring_remove_locked(s, ref);
    if (reason && message) {
        /* A tombstone, so that requests learn why. */
        struct bs_ring_key *grown = realloc(s->ring, (s->n_ring + 1) * sizeof *s->ring);
        if (grown) {
            s->ring = grown;
            struct bs_ring_key *k = &s->ring[s->n_ring++];
            memset(k, 0, sizeof *k);
            memcpy(k->ref, ref, CF_EXTENT_KEY_REF_LEN);
            k->reason = reason;
            snprintf(k->message, sizeof k->message, "%s", message);
        }
    }
    cf_bs_meta_key_drop_locked(s, account);
    pthread_mutex_unlock(&s->lock);
}

/* ---- who keeps the data key ---- */

/* The sealing slot of a scope's data key: "scope/<name>". */
static void bs_scope_slot(const char *scope, char out[CF_BLOB_SCOPE_MAX + 8])
{
    snprintf(out, CF_BLOB_SCOPE_MAX + 8, "scope/%s", scope);
}

static bool bs_key_info_locked(cf_blob_store *s, const char *account, const char *scope,
                               cf_blob_key_info *out, cf_buf *wrapped)
{
    cf_db_stmt *st = scope ? CF_DB_PREP(s->db,
                                        "SELECT key_source, key_uri, key_kid, key_ref, data_key"
                                        " FROM scopes WHERE account = ?1 AND name = ?2",
                                        account, scope)
                           : CF_DB_PREP(s->db,
                                        "SELECT key_source, key_uri, key_kid, key_ref, data_key"
                                        " FROM accounts WHERE name = ?1",
                                        account);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    bool ok = rc == CF_DB_ROW && cf_db_column_bytes(st, 3) == CF_EXTENT_KEY_REF_LEN;
    if (ok) {
        memset(out, 0, sizeof *out);
        out->source = cf_db_column_int(st, 0) == 1 ? CF_BLOB_KEYS_VAULT : CF_BLOB_KEYS_SERVICE;
        cf_bs_column_str(st, 1, out->uri, sizeof out->uri);
        cf_bs_column_str(st, 2, out->kid, sizeof out->kid);
        memcpy(out->ref, cf_db_column_blob(st, 3), CF_EXTENT_KEY_REF_LEN);
        if (wrapped) {
            cf_buf_clear(wrapped);
            ok =
                cf_buf_append(wrapped, cf_db_column_blob(st, 4), (size_t)cf_db_column_bytes(st, 4));
        }
    }
    cf_db_done(st);
    if (scope)
        CF_ENSURE_REASON(rc != CF_DB_DONE, CF_ERR_BAD_INPUT, "EncryptionScopeNotFound",
                         "The encryption scope does not exist.");
    CF_ENSURE_REASON(rc != CF_DB_DONE, CF_ERR_NOT_FOUND, "AccountNotFound", "no such account");
    CF_GUARD(cf_db_ok(s->db, rc));
    CF_ENSURE(ok, CF_ERR_DB, "malformed key row");
    return true;
}

bool cf_blob_key_info_get(cf_blob_store *s, const char *account, const char *scope,
                          cf_blob_key_info *out, cf_buf *wrapped)
{
    CF_GUARD(cf_bs_check_names(account, NULL, NULL));
    return BS_LOCKED(s, bs_key_info_locked(s, account, scope, out, wrapped));
}

/* The scope's infrastructure key into sc. */
static bool bs_scope_infra_locked(cf_blob_store *s, const char *account, const char *scope,
                                  bs_scope *sc)
{
    cf_db_stmt *st = CF_DB_PREP(
        s->db, "SELECT infra_key FROM scopes WHERE account = ?1 AND name = ?2", account, scope);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    char slot[CF_BLOB_SCOPE_MAX + 8];
    snprintf(slot, sizeof slot, "infra/%s", scope);
    bool ok = cf_db_ok(s->db, rc) && rc == CF_DB_ROW && !cf_db_column_is_null(st, 0);
    if (ok)
        ok = cf_bs_infra_load(
            s, account, slot,
            cf_slice_of(cf_db_column_blob(st, 0), (size_t)cf_db_column_bytes(st, 0)), sc);
    else if (cf_error_code() == CF_OK)
        CF_RAISE(CF_ERR_DB, "the scope's infrastructure key is missing");
    cf_db_done(st);
    return ok;
}

/* A holder's keys; `enabled_only`: refuse a disabled scope (data access),
 * or not (changing who keeps its key). */
static bool bs_scope_keys_locked(cf_blob_store *s, const char *account, const char *scope,
                                 bool enabled_only, bs_scope *sc)
{
    if (!scope || !scope[0])
        return cf_bs_scope_load_locked(s, account, sc);
    cf_blob_scope meta;
    CF_GUARD(cf_bs_scope_get_locked(s, account, scope, &meta));
    CF_ENSURE_REASON(meta.enabled || !enabled_only, CF_ERR_FORBIDDEN, "EncryptionScopeDisabled",
                     "The encryption scope is disabled.");
    cf_blob_key_info info;
    cf_buf sealed;
    cf_buf_init(&sealed, 4096);
    bool ok = bs_key_info_locked(s, account, scope, &info, &sealed);
    memcpy(sc->ref, info.ref, sizeof sc->ref);
    sc->key = ok ? cf_secret_alloc(CF_DATA_KEY_LEN) : NULL;
    if (ok && !sc->key) {
        CF_RAISE(CF_ERR_NOMEM, NULL);
        ok = false;
    }
    if (ok && info.source == CF_BLOB_KEYS_VAULT) {
        ok = cf_bs_keyring_get_locked(s, info.ref, sc->key);
    } else if (ok) {
        char slot[CF_BLOB_SCOPE_MAX + 8];
        bs_scope_slot(scope, slot);
        cf_buf key;
        cf_buf_init_secret(&key, 64);
        ok = cf_bs_account_open(s, account, slot, cf_buf_slice(&sealed), &key);
        if (ok && key.len != CF_DATA_KEY_LEN) {
            CF_RAISE(CF_ERR_DB, "malformed scope data key");
            ok = false;
        }
        if (ok)
            memcpy(sc->key, key.data, CF_DATA_KEY_LEN);
        cf_buf_free(&key);
    }
    cf_buf_free(&sealed);
    if (ok && meta.infrastructure)
        ok = bs_scope_infra_locked(s, account, scope, sc);
    if (!ok)
        cf_bs_scope_free(sc);
    return ok;
}

bool cf_bs_scope_named_locked(cf_blob_store *s, const char *account, const char *scope,
                              bs_scope *sc)
{
    return bs_scope_keys_locked(s, account, scope, true, sc);
}

/* The checks of bs_scope_keys_locked without opening any key: on every
 * scoped Get Properties and write, so no unsealing. */
bool cf_bs_scope_usable_locked(cf_blob_store *s, const char *account, const char *scope)
{
    if (!scope || !scope[0])
        return true;
    cf_blob_scope meta;
    CF_GUARD(cf_bs_scope_get_locked(s, account, scope, &meta));
    CF_ENSURE_REASON(meta.enabled, CF_ERR_FORBIDDEN, "EncryptionScopeDisabled",
                     "The encryption scope is disabled.");
    cf_blob_key_info info;
    CF_GUARD(bs_key_info_locked(s, account, scope, &info, NULL));
    return info.source != CF_BLOB_KEYS_VAULT || bs_ring_ready(s, info.ref) != NULL;
}

static bool bs_data_key_locked(cf_blob_store *s, const char *account, const char *scope,
                               cf_buf *out)
{
    bs_scope sc = {0};
    CF_GUARD(bs_scope_keys_locked(s, account, scope, false, &sc));
    cf_buf_clear(out);
    bool ok = cf_buf_append(out, sc.key, CF_DATA_KEY_LEN);
    cf_bs_scope_free(&sc);
    return ok;
}

bool cf_blob_data_key(cf_blob_store *s, const char *account, const char *scope, cf_buf *out)
{
    CF_GUARD(cf_bs_check_names(account, NULL, NULL));
    return BS_LOCKED(s, bs_data_key_locked(s, account, scope, out));
}

static bool bs_key_store_tx(cf_blob_store *s, const char *account, const char *scope,
                            const cf_blob_key_info *info, cf_slice key, const char *expect_kid)
{
    cf_blob_key_info cur;
    CF_GUARD(bs_key_info_locked(s, account, scope, &cur, NULL));
    CF_ENSURE(!expect_kid || (cur.source == CF_BLOB_KEYS_VAULT && strcmp(cur.kid, expect_kid) == 0),
              CF_ERR_CONFLICT, "the key changed meanwhile");
    bool vault = info->source == CF_BLOB_KEYS_VAULT;
    char slot[CF_BLOB_SCOPE_MAX + 8] = "data";
    if (scope)
        bs_scope_slot(scope, slot);
    cf_buf kept;
    cf_buf_init(&kept, 1024);
    bool ok = vault
                  ? cf_buf_append_slice(&kept, key)
                  : key.len == CF_DATA_KEY_LEN && cf_bs_account_seal(s, account, slot, key, &kept);
    CF_ENSURE(ok || cf_error_code() != CF_OK, CF_ERR_BAD_INPUT, "a data key is 32 bytes");
    cf_db_stmt *st =
        !ok ? NULL
        : scope
            ? CF_DB_PREP(s->db,
                         "UPDATE scopes SET key_source = ?3, key_uri = ?4,"
                         " key_kid = ?5, data_key = ?6 WHERE account = ?1 AND"
                         " name = ?2",
                         account, scope, NULL, vault ? info->uri : NULL, vault ? info->kid : NULL)
            : CF_DB_PREP(s->db,
                         "UPDATE accounts SET key_source = ?3, key_uri = ?4,"
                         " key_kid = ?5, data_key = ?6 WHERE name = ?1",
                         account, NULL, NULL, vault ? info->uri : NULL, vault ? info->kid : NULL);
    if (st) {
        cf_db_bind_int64(st, 3, vault ? 1 : 0);
        cf_db_bind_blob(st, 6, kept.data, kept.len);
    }
    ok = ok && cf_db_run(s->db, st) && cf_bs_account_changed_tx(s, account);
    cf_buf_free(&kept);
    return ok;
}

static bool bs_key_store_locked(cf_blob_store *s, const char *account, const char *scope,
                                const cf_blob_key_info *info, cf_slice key, const char *expect_kid)
{
    CF_GUARD(cf_db_begin(s->db));
    return cf_db_commit(s->db, bs_key_store_tx(s, account, scope, info, key, expect_kid));
}

bool cf_blob_key_store(cf_blob_store *s, const char *account, const char *scope,
                       const cf_blob_key_info *info, cf_slice key, const char *expect_kid)
{
    CF_GUARD(cf_bs_check_names(account, NULL, NULL));
    CF_ENSURE(info->source == CF_BLOB_KEYS_SERVICE ||
                  (info->uri[0] && info->kid[0] && key.len > 0 && key.len <= 1024),
              CF_ERR_BAD_INPUT, "a vault key needs its URI, version and wrapping");
    return BS_LOCKED(s, bs_key_store_locked(s, account, scope, info, key, expect_kid));
}

/* ---- encryption scopes ---- */

bool cf_blob_scope_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 3 || n > CF_BLOB_SCOPE_MAX || name[0] == '-' || name[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '-'))
            return false;
    return true;
}

static bool bs_scope_create_tx(cf_blob_store *s, const char *account, const char *name,
                               bool infrastructure, int64_t now)
{
    cf_blob_account a;
    CF_GUARD(cf_bs_account_get_locked(s, account, &a));
    bool found;
    CF_GUARD(cf_db_exists(
        s->db,
        CF_DB_PREP(s->db, "SELECT 1 FROM scopes WHERE account = ?1 AND name = ?2", account, name),
        &found));
    CF_ENSURE(!found, CF_ERR_CONFLICT, "the encryption scope exists");
    int64_t count = 0;
    CF_GUARD(cf_db_int(s->db,
                       CF_DB_PREP(s->db, "SELECT count(*) FROM scopes WHERE account = ?1", account),
                       &count));
    CF_ENSURE(count < CF_BLOB_MAX_SCOPES, CF_ERR_TOO_LARGE,
              "an account holds at most 10,000 encryption scopes");
    uint8_t ref[CF_EXTENT_KEY_REF_LEN];
    uint8_t *key = cf_secret_alloc(CF_DATA_KEY_LEN);
    CF_ENSURE_ALLOC(key);
    char slot[CF_BLOB_SCOPE_MAX + 8];
    bs_scope_slot(name, slot);
    cf_buf sealed;
    cf_buf_init(&sealed, 1024);
    char infra_slot[CF_BLOB_SCOPE_MAX + 8];
    snprintf(infra_slot, sizeof infra_slot, "infra/%s", name);
    cf_buf infra;
    cf_buf_init(&infra, 256);
    bool ok = cf_random_bytes(ref, sizeof ref) && cf_random_bytes(key, CF_DATA_KEY_LEN) &&
              cf_bs_account_seal(s, account, slot, cf_slice_of(key, CF_DATA_KEY_LEN), &sealed) &&
              (!infrastructure || cf_bs_infra_new(s, account, infra_slot, &infra));
    cf_secret_free(key, CF_DATA_KEY_LEN);
    cf_db_stmt *st = ok ? CF_DB_PREP(s->db,
                                     "INSERT INTO scopes (account, name, created, enabled,"
                                     " infrastructure, key_ref, key_source, data_key, infra_key)"
                                     " VALUES (?1, ?2, ?3, 1, ?4, ?5, 0, ?6, ?7)",
                                     account, name)
                        : NULL;
    if (st) {
        cf_db_bind_int64(st, 3, now);
        cf_db_bind_int64(st, 4, infrastructure ? 1 : 0);
        cf_db_bind_blob(st, 5, ref, sizeof ref);
        cf_db_bind_blob(st, 6, sealed.data, sealed.len);
        if (infrastructure)
            cf_db_bind_blob(st, 7, infra.data, infra.len);
    }
    ok = ok && cf_db_run(s->db, st) && cf_bs_account_changed_tx(s, account);
    cf_buf_free(&sealed);
    cf_buf_free(&infra);
    return ok;
}

static bool bs_scope_create_locked(cf_blob_store *s, const char *account, const char *name,
                                   bool infrastructure, int64_t now)
{
    CF_GUARD(cf_db_begin(s->db));
    return cf_db_commit(s->db, bs_scope_create_tx(s, account, name, infrastructure, now));
}

bool cf_blob_scope_create(cf_blob_store *s, const char *account, const char *name,
                          bool infrastructure, int64_t now)
{
    CF_GUARD(cf_bs_check_names(account, NULL, NULL));
    CF_ENSURE(cf_blob_scope_name_valid(name), CF_ERR_BAD_INPUT,
              "scope names are 3-63 lowercase letters, digits and '-'");
    return BS_LOCKED(s, bs_scope_create_locked(s, account, name, infrastructure, now));
}

bool cf_bs_scope_get_locked(cf_blob_store *s, const char *account, const char *name,
                            cf_blob_scope *out)
{
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "SELECT created, enabled, infrastructure FROM scopes"
                                " WHERE account = ?1 AND name = ?2",
                                account, name);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    if (rc == CF_DB_ROW) {
        memset(out, 0, sizeof *out);
        snprintf(out->name, sizeof out->name, "%s", name);
        out->created = cf_db_column_int64(st, 0);
        out->enabled = cf_db_column_int(st, 1) != 0;
        out->infrastructure = cf_db_column_int(st, 2) != 0;
    }
    cf_db_done(st);
    CF_ENSURE_REASON(rc != CF_DB_DONE, CF_ERR_BAD_INPUT, "EncryptionScopeNotFound",
                     "The encryption scope does not exist.");
    return cf_db_ok(s->db, rc);
}

bool cf_blob_scope_get(cf_blob_store *s, const char *account, const char *name, cf_blob_scope *out)
{
    CF_GUARD(cf_bs_check_names(account, NULL, NULL));
    CF_ENSURE_REASON(cf_blob_scope_name_valid(name), CF_ERR_BAD_INPUT, "EncryptionScopeNotFound",
                     "The encryption scope does not exist.");
    return BS_LOCKED(s, cf_bs_scope_get_locked(s, account, name, out));
}

static bool bs_names_locked(cf_blob_store *s, cf_db_stmt *st, json_t *names)
{
    CF_GUARD(st);
    int rc;
    bool ok = true;
    while (ok && (rc = cf_db_step(st)) == CF_DB_ROW)
        ok = json_array_append_new(names, json_string((const char *)cf_db_column_text(st, 0))) == 0;
    if (ok)
        ok = cf_db_ok(s->db, rc);
    else
        CF_RAISE(CF_ERR_NOMEM, NULL);
    cf_db_done(st);
    return ok;
}

static bool bs_scope_names_locked(cf_blob_store *s, const char *account, bool vault_only,
                                  json_t *names)
{
    return bs_names_locked(
        s,
        vault_only ? CF_DB_PREP(s->db,
                                "SELECT name FROM scopes WHERE account = ?1 AND key_source = 1"
                                " ORDER BY name",
                                account)
                   : CF_DB_PREP(s->db, "SELECT name FROM scopes WHERE account = ?1 ORDER BY name",
                                account),
        names);
}

bool cf_blob_scope_names(cf_blob_store *s, const char *account, bool vault_only, json_t **out)
{
    CF_GUARD(cf_bs_check_names(account, NULL, NULL));
    *out = json_array();
    CF_ENSURE_ALLOC(*out);
    bool ok = BS_LOCKED(s, bs_scope_names_locked(s, account, vault_only, *out));
    if (!ok) {
        json_decref(*out);
        *out = NULL;
    }
    return ok;
}

static bool bs_scope_enable_locked(cf_blob_store *s, const char *account, const char *name,
                                   bool enabled)
{
    cf_blob_scope meta;
    CF_GUARD(cf_bs_scope_get_locked(s, account, name, &meta));
    CF_GUARD(cf_db_begin(s->db));
    cf_db_stmt *st = CF_DB_PREP(
        s->db, "UPDATE scopes SET enabled = ?3 WHERE account = ?1 AND name = ?2", account, name);
    if (st)
        cf_db_bind_int64(st, 3, enabled ? 1 : 0);
    return cf_db_commit(s->db, cf_db_run(s->db, st) && cf_bs_account_changed_tx(s, account));
}

bool cf_blob_scope_set_enabled(cf_blob_store *s, const char *account, const char *name,
                               bool enabled)
{
    CF_GUARD(cf_bs_check_names(account, NULL, NULL));
    CF_ENSURE(cf_blob_scope_name_valid(name), CF_ERR_BAD_INPUT, "invalid scope name");
    return BS_LOCKED(s, bs_scope_enable_locked(s, account, name, enabled));
}

/* ---- listing and deleting accounts ---- */

static bool bs_account_names_locked(cf_blob_store *s, json_t *names)
{
    return bs_names_locked(s, CF_DB_PREP(s->db, "SELECT name FROM accounts ORDER BY name"), names);
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
                           CF_DB_PREP(s->db,
                                      "SELECT extent FROM blob_extents WHERE account = ?1 UNION "
                                      "SELECT extent FROM uncommitted WHERE account = ?1",
                                      a),
                           gone));
    /* The scopes' keys leave the ring with the account. */
    cf_db_stmt *refs = CF_DB_PREP(s->db, "SELECT key_ref FROM scopes WHERE account = ?1", a);
    CF_GUARD(refs);
    int rc;
    while ((rc = cf_db_step(refs)) == CF_DB_ROW)
        if (cf_db_column_bytes(refs, 0) == CF_EXTENT_KEY_REF_LEN)
            bs_ring_remove_locked(s, cf_db_column_blob(refs, 0));
    bool stepped = cf_db_ok(s->db, rc);
    cf_db_done(refs);
    CF_GUARD(stepped);
    static const char *const sql[] = {
        "DELETE FROM blob_extents WHERE account = ?1",
        "DELETE FROM uncommitted WHERE account = ?1",
        "DELETE FROM blobs WHERE account = ?1",
        "DELETE FROM containers WHERE account = ?1",
        "DELETE FROM service_props WHERE account = ?1",
        "DELETE FROM scopes WHERE account = ?1",
        "DELETE FROM accounts WHERE name = ?1",
    };
    /* The statement cache is keyed by the literal's address: each entry of
     * `sql` is one stable literal. */
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++)
        CF_GUARD(cf_db_run(s->db, CF_DB_PREP(s->db, sql[i], a)));
    CF_GUARD(cf_bs_account_changed_tx(s, a));
    cf_bs_meta_key_drop_locked(s, a);
    bs_ring_remove_locked(s, acct.key_ref);
    return true;
}

static bool bs_account_delete_locked(cf_blob_store *s, const char *name)
{
    bs_idlist gone = {0};
    return cf_db_begin(s->db) &&
           cf_bs_commit_releasing(s, bs_account_delete_tx(s, name, &gone), &gone);
}

bool cf_blob_account_delete(cf_blob_store *s, const char *name)
{
    CF_GUARD(cf_bs_check_names(name, NULL, NULL));
    return BS_LOCKED(s, bs_account_delete_locked(s, name));
}
