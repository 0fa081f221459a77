/*
 * Start-up of the vault's data directory.
 *
 *   DIR/seal.json        the seal and the wrapped data key (seal_dir.h);
 *   DIR/hsm/             the embedded SoftHSM2 token (the default seal)
 *   DIR/vault.db         SQLite store (WAL), encrypted through the coffer VFS
 *                        under a key derived from the data key
 *   DIR/tls/ca.crt       local CA certificate clients trust
 *   DIR/tls/server.crt   server certificate signed by it
 *   DIR/tls/{ca,server}.key.sealed  private keys, sealed by the data key
 *   DIR/bootstrap.json   first-start facts and administrator credentials,
 *                        mode 0600, for scripts and tests
 *
 * The data key is random, stored wrapped by the seal (a PKCS#11 token by
 * default) with the vault id as associated data, and unwrapped into secret
 * memory at start.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit_writer.h"
#include "envelope.h"
#include "fsutil.h"
#include "hsm_keys.h"
#include "ids.h"
#include "local_tls.h"
#include "log.h"
#include "rbac.h"
#include "secmem.h"
#include "server_process.h"
#include "throttle.h"
#include "vault.h"

#define CF_PEM_MAX (64 * 1024)

static bool cf_path(char *out, size_t len, const cf_vault *vault, const char *rel)
{
    int n = snprintf(out, len, "%s/%s", vault->data_dir, rel);
    CF_ENSURE(n > 0 && (size_t)n < len, CF_ERR_IO, "data directory path too long");
    return true;
}

static bool cf_meta_text(cf_vault *vault, const char *name, char *out, size_t len, bool *found)
{
    cf_buf v;
    cf_buf_init(&v, len - 1);
    bool ok = cf_store_meta_get(vault->store, name, &v) && cf_buf_terminate(&v);
    *found = ok;
    if (ok)
        memcpy(out, v.data, v.len + 1);
    cf_buf_free(&v);
    return ok || cf_error_code() == CF_ERR_NOT_FOUND;
}

/* What the data key's wrapping is bound to: this prefix and the vault id
 * (which a start on SQLite reads back from seal.json). */
#define CF_DATA_KEY_AAD_PREFIX "coffer-vault/v1 data-key "

static bool cf_data_key_aad(const cf_vault *vault, cf_buf *aad)
{
    CF_GUARD(cf_buf_append_str(aad, CF_DATA_KEY_AAD_PREFIX));
    return cf_buf_append_str(aad, vault->vault_id);
}

/* Opens the seal and the data key it wraps (seal_dir.h); on first start
 * creates both.  A directory made before seal.json existed kept its wrapped
 * data key in the store, on the file seal: that is recorded first. */
static bool cf_data_key_open(cf_vault *vault, bool create)
{
    cf_buf aad, legacy;
    cf_buf_init(&aad, 256);
    cf_buf_init(&legacy, 4096);
    bool ok = cf_data_key_aad(vault, &aad);
    /* (SQLite stores are adopted before the store opens: cf_adopt_plain.) */
    if (ok && !create && vault->store && !cf_seal_dir_recorded(vault->data_dir))
        ok = cf_store_meta_get(vault->store, "data_key", &legacy) &&
             cf_seal_dir_adopt_file(vault->data_dir, cf_buf_slice(&legacy), cf_buf_slice(&aad));
    ok = ok && cf_seal_dir_open(vault->data_dir, "coffer-vault", &vault->seal_options,
                                cf_buf_slice(&aad), create, &vault->sealed);
    cf_buf_free(&aad);
    cf_buf_free(&legacy);
    CF_GUARD(ok);
    vault->seal = vault->sealed.seal;
    vault->data_key = vault->sealed.master_key;
    cf_server_log_seal(&vault->sealed, vault->data_dir);
    return true;
}

/* ---- TLS material ---- */

static cf_local_tls cf_vault_tls(const cf_vault *vault)
{
    return (cf_local_tls){
        .data_dir = vault->data_dir,
        .label = "coffer-vault/v1",
        .service_id = vault->vault_id,
        .data_key = cf_slice_of(vault->data_key, CF_DATA_KEY_LEN),
        .listen = vault->listen,
        .extra_san = vault->extra_san,
    };
}

static bool cf_tls_load(cf_vault *vault, cf_buf *cert, cf_buf *key)
{
    if (vault->tls_cert_file)
        return cf_read_file(vault->tls_cert_file, CF_PEM_MAX, cert) &&
               cf_read_file(vault->tls_key_file, CF_PEM_MAX, key);
    cf_local_tls t = cf_vault_tls(vault);
    return cf_local_tls_load(&t, cert, key);
}

/* ---- first start ---- */

static bool cf_write_bootstrap(cf_vault *vault, const cf_principal *admin, const char *secret,
                               const cf_principal *mi, const char *identity_header)
{
    char path[PATH_MAX], ca[PATH_MAX], msi[700];
    CF_GUARD(cf_path(path, sizeof path, vault, "bootstrap.json"));
    CF_GUARD(cf_path(ca, sizeof ca, vault, "tls/ca.crt"));
    snprintf(msi, sizeof msi, "%s/msi/token", vault->url);
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "vault_url",
        vault->url, "tenant_id", vault->tenant_id, "authority_host", vault->url, "resource",
        vault->resource, "client_id", admin->client_id, "client_secret", secret, "object_id",
        admin->object_id, "ca_cert", vault->tls_cert_file ? "" : ca, "identity_endpoint", msi,
        "identity_header", identity_header, "identity_client_id", mi->client_id,
        "identity_object_id", mi->object_id, "seal", vault->seal->kind);
    CF_ENSURE_ALLOC(doc);
    cf_buf text;
    cf_buf_init_secret(&text, 64 * 1024);
    size_t need = json_dumpb(doc, NULL, 0, JSON_INDENT(2));
    uint8_t *p;
    bool ok = need > 0 && cf_buf_extend(&text, need, &p) &&
              json_dumpb(doc, (char *)p, need, JSON_INDENT(2)) == need &&
              cf_buf_append_u8(&text, '\n') &&
              cf_write_file_atomic(path, cf_buf_slice(&text), 0600);
    json_decref(doc);
    cf_buf_free(&text);
    if (ok)
        printf("coffer-vault initialised %s\n"
               "  vault url:        %s\n"
               "  tenant id:        %s\n"
               "  administrator:    client id %s (secret in %s)\n"
               "  CA certificate:   %s (trust it: NODE_EXTRA_CA_CERTS=%s)\n",
               vault->data_dir, vault->url, vault->tenant_id, admin->client_id, path, ca, ca);
    return ok;
}

static bool cf_first_start(cf_vault *vault)
{
    cf_principal admin, mi;
    char secret[128], header[128];
    bool ok =
        cf_identity_create_principal(vault, "sp", "coffer-admin", 0, &admin, secret, sizeof secret,
                                     NULL) &&
        cf_identity_create_principal(vault, "mi", "coffer-managed-identity", 0, &mi, header,
                                     sizeof header, NULL) &&
        cf_store_meta_put(vault->store, "default_mi_client_id", CF_SLICE_STR(mi.client_id)) &&
        cf_store_meta_put(vault->store, "admin_object_id", CF_SLICE_STR(admin.object_id)) &&
        cf_rbac_assign(vault, admin.object_id, cf_role_find(CF_ROLE_ADMINISTRATOR), "/", NULL) &&
        cf_rbac_assign(vault, mi.object_id, cf_role_find(CF_ROLE_ADMINISTRATOR), "/", NULL) &&
        cf_write_bootstrap(vault, &admin, secret, &mi, header);
    cf_memzero(secret, sizeof secret);
    cf_memzero(header, sizeof header);
    return ok;
}

/* Soft-delete retention and purge protection are chosen when the vault is
 * created and never change; a later start may repeat them, not alter them. */
static bool cf_vault_properties(cf_vault *vault, bool fresh)
{
    char text[16];
    bool found;
    if (fresh) {
        snprintf(text, sizeof text, "%d", vault->retention_days);
        CF_GUARD(cf_store_meta_put(vault->store, "retention_days", CF_SLICE_STR(text)));
        return cf_store_meta_put(vault->store, "purge_protection",
                                 CF_SLICE_STR(vault->purge_protection ? "1" : "0"));
    }
    CF_GUARD(cf_meta_text(vault, "retention_days", text, sizeof text, &found));
    int days = found ? (int)strtol(text, NULL, 10) : 90;
    CF_ENSUREF(!vault->retention_given || days == vault->retention_days, CF_ERR_BAD_INPUT,
               "--retention-days %d differs from the %d days this vault was created with; "
               "retention is fixed at creation",
               vault->retention_days, days);
    vault->retention_days = days;
    CF_GUARD(cf_meta_text(vault, "purge_protection", text, sizeof text, &found));
    bool protection = found && strcmp(text, "1") == 0;
    CF_ENSURE(!vault->protection_given || protection, CF_ERR_BAD_INPUT,
              "purge protection can only be chosen when a vault is created");
    vault->purge_protection = protection;
    return true;
}

/* A new vault's tenant (unless --tenant named it), kept in the store. */
static bool cf_vault_new_tenant(cf_vault *vault)
{
    if (!vault->tenant_id[0])
        CF_GUARD(cf_uuid_v4(vault->tenant_id));
    return cf_store_meta_put(vault->store, "tenant_id", CF_SLICE_STR(vault->tenant_id));
}

/* An existing vault's tenant, which --tenant may repeat, not change. */
static bool cf_vault_stored_tenant(cf_vault *vault)
{
    char stored[CF_UUID_LEN + 1];
    bool found;
    CF_GUARD(cf_meta_text(vault, "tenant_id", stored, sizeof stored, &found));
    CF_ENSURE(found, CF_ERR_DB, "the store has no tenant id");
    CF_ENSURE(!vault->tenant_id[0] || strcmp(stored, vault->tenant_id) == 0, CF_ERR_BAD_INPUT,
              "--tenant differs from the tenant this vault was created with");
    memcpy(vault->tenant_id, stored, sizeof stored);
    return true;
}

/* PostgreSQL: the store first, which says whether the vault is new and
 * holds its id, then the data key bound to that id. */
static bool cf_vault_open_shared(cf_vault *vault, bool *fresh)
{
    bool found;
    CF_GUARD(cf_store_open(CF_DB_POSTGRES, vault->store_spec.conninfo, cf_slice_of(NULL, 0),
                           &vault->store));
    CF_GUARD(cf_meta_text(vault, "vault_id", vault->vault_id, sizeof vault->vault_id, &found));
    *fresh = !found;
    if (*fresh)
        CF_GUARD(cf_uuid_v4(vault->vault_id) && cf_vault_new_tenant(vault));
    else
        CF_GUARD(cf_vault_stored_tenant(vault));
    return cf_data_key_open(vault, *fresh);
}

/* A value of a plain vault.db's meta table, read without the store (which
 * would encrypt it first); "" when absent. */
static bool cf_plain_meta(sqlite3 *db, const char *name, cf_buf *out)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE name = ?1", -1, &st, NULL) ==
                  SQLITE_OK &&
              sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK;
    int rc = ok ? sqlite3_step(st) : SQLITE_ERROR;
    ok = rc == SQLITE_DONE ||
         (rc == SQLITE_ROW &&
          cf_buf_append(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)));
    sqlite3_finalize(st);
    CF_ENSUREF(ok, CF_ERR_DB, "cannot read the plain store: %s", sqlite3_errmsg(db));
    return true;
}

/* A directory made before seal.json existed kept the wrapped data key in
 * its (then plain) store, on the file seal: recorded in seal.json before
 * the store is opened under that key. */
static bool cf_adopt_plain(cf_vault *vault, const char *path)
{
    sqlite3 *db = NULL;
    cf_buf id, wrapped, aad;
    cf_buf_init(&id, CF_UUID_LEN);
    cf_buf_init(&wrapped, 4096);
    cf_buf_init(&aad, 256);
    bool ok = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK;
    if (!ok)
        cf_error_raisef(CF_ERR_DB, __FILE__, __LINE__, "cannot open %s: %s", path,
                        db ? sqlite3_errmsg(db) : "out of memory");
    ok = ok && cf_plain_meta(db, "vault_id", &id) && cf_plain_meta(db, "data_key", &wrapped);
    /* A store with an id is a vault's: without its wrapped data key (or
     * with a malformed id) it cannot be opened, and must not be taken for
     * a new one and overwritten. */
    if (ok && id.len > 0 && (id.len != CF_UUID_LEN || wrapped.len == 0)) {
        cf_error_raisef(CF_ERR_SEAL, __FILE__, __LINE__,
                        "%s holds a vault but %s/seal.json is missing (restore it)", path,
                        vault->data_dir);
        ok = false;
    }
    if (ok && id.len == CF_UUID_LEN) {
        snprintf(vault->vault_id, sizeof vault->vault_id, "%.*s", (int)id.len,
                 (const char *)id.data);
        ok = cf_data_key_aad(vault, &aad) &&
             cf_seal_dir_adopt_file(vault->data_dir, cf_buf_slice(&wrapped), cf_buf_slice(&aad));
    }
    sqlite3_close(db);
    cf_buf_free(&id);
    cf_buf_free(&wrapped);
    cf_buf_free(&aad);
    return ok;
}

/* SQLite: vault.db is encrypted under a key derived from the data key, so
 * the seal opens first; seal.json's associated data names the vault id,
 * which the store then confirms. */
static bool cf_vault_open_embedded(cf_vault *vault, const char *path, bool *fresh)
{
    if (!cf_seal_dir_recorded(vault->data_dir) && cf_file_exists(path))
        CF_GUARD(cf_adopt_plain(vault, path));
    *fresh = !cf_seal_dir_recorded(vault->data_dir);
    if (*fresh) {
        CF_GUARD(cf_uuid_v4(vault->vault_id));
    } else {
        cf_buf aad;
        cf_buf_init(&aad, 256);
        bool ok = cf_seal_dir_recorded_aad(vault->data_dir, &aad);
        size_t n = sizeof CF_DATA_KEY_AAD_PREFIX - 1;
        ok = ok && aad.len == n + CF_UUID_LEN && memcmp(aad.data, CF_DATA_KEY_AAD_PREFIX, n) == 0;
        if (ok)
            snprintf(vault->vault_id, sizeof vault->vault_id, "%.*s", CF_UUID_LEN,
                     (const char *)aad.data + n);
        cf_buf_free(&aad);
        CF_ENSUREF(ok, CF_ERR_SEAL, "%s/seal.json is not a vault's", vault->data_dir);
    }
    CF_GUARD(cf_data_key_open(vault, *fresh));
    CF_GUARD(cf_store_open(CF_DB_SQLITE, path, cf_slice_of(vault->data_key, CF_DATA_KEY_LEN),
                           &vault->store));
    if (*fresh)
        return cf_vault_new_tenant(vault);
    char stored[CF_UUID_LEN + 1];
    bool found;
    CF_GUARD(cf_meta_text(vault, "vault_id", stored, sizeof stored, &found));
    CF_ENSUREF(found, CF_ERR_IO, "%s holds an unfinished initialisation; remove it and start again",
               vault->data_dir);
    CF_ENSUREF(strcmp(stored, vault->vault_id) == 0, CF_ERR_SEAL,
               "%s: seal.json and vault.db belong to different vaults", vault->data_dir);
    return cf_vault_stored_tenant(vault);
}

/* The audit log; its head is logged so it can be anchored elsewhere
 * (coffer audit verify --expect-lines/--expect-head). */
static bool cf_open_audit(cf_vault *vault)
{
    char path[PATH_MAX];
    CF_GUARD(cf_path(path, sizeof path, vault, "audit.log"));
    return cf_audit_open_logged(path, &vault->audit);
}

bool cf_vault_open(cf_vault *vault, cf_buf *tls_cert, cf_buf *tls_key)
{
    char path[PATH_MAX];
    bool fresh;
    CF_GUARD(cf_mkdirs(vault->data_dir, 0700));
    CF_GUARD(cf_path(path, sizeof path, vault, "vault.db"));
    if (vault->store_spec.backend == CF_DB_POSTGRES)
        CF_GUARD(cf_vault_open_shared(vault, &fresh));
    else
        CF_GUARD(cf_vault_open_embedded(vault, path, &fresh));
    CF_GUARD(cf_vault_properties(vault, fresh));
    CF_GUARD(cf_identity_init(vault));
    /* The vault id is stored last, so a first start that died half-way is
     * never taken for a working vault: on PostgreSQL it starts over; on
     * SQLite, where seal.json exists by then, the next start refuses with
     * "unfinished initialisation". */
    if (fresh) {
        CF_GUARD(cf_first_start(vault));
        CF_GUARD(cf_store_meta_put(vault->store, "vault_id", CF_SLICE_STR(vault->vault_id)));
    }
    CF_GUARD(cf_open_audit(vault));
    CF_GUARD(cf_throttle_new(&(cf_throttle_policy){0}, &vault->throttle));
    cf_hsm_collect_logged(vault);
    return cf_tls_load(vault, tls_cert, tls_key);
}

bool cf_vault_anchor_audit(cf_vault *vault)
{
    char path[PATH_MAX];
    if (!vault->audit || !vault->store)
        return true;
    CF_GUARD(cf_path(path, sizeof path, vault, "audit.log"));
    return cf_store_audit_anchor(vault->store, vault->listen, path, vault->audit, cf_vault_now(),
                                 &vault->anchor);
}

void cf_vault_close(cf_vault *vault)
{
    if (!cf_vault_anchor_audit(vault))
        cf_log(CF_LOG_ERROR, NULL, "audit anchor at shutdown: %s", cf_error_detail());
    cf_audit_close_logged(vault->audit);
    vault->audit = NULL;
    cf_throttle_free(vault->throttle);
    vault->throttle = NULL;
    cf_pkey_free(vault->token_key);
    cf_store_close(vault->store);
    cf_sealed_dir_close(&vault->sealed);
    vault->token_key = NULL;
    vault->data_key = NULL;
    vault->store = NULL;
    vault->seal = NULL;
}
