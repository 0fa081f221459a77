/*
 * Start-up of coffer-blob's data directory.
 *
 *   DIR/service.json          the service id (not secret)
 *   DIR/seal.json             the seal and the service master key wrapped by
 *                             it with "coffer-blob/v1 service-key <id>" as
 *                             AAD (seal_dir.h); DIR/hsm/ the embedded token
 *   DIR/blob.db, DIR/extents  the store (blob_store.h); with --store
 *                             postgres:CONNINFO the metadata is in
 *                             PostgreSQL, shared with other front ends;
 *                             with --extents rados:POOL the extents are in
 *                             Ceph RADOS, shared too
 *   DIR/roles.json            role assignments (roles.c)
 *   DIR/tls/...               local CA and server certificate (local_tls.h)
 *   DIR/bootstrap.json        endpoints and credentials for scripts, 0600
 *
 * The service master key wraps every account's data key (in the store);
 * it is unwrapped into secret memory at start and never written in clear.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit_writer.h"
#include "blob_service.h"
#include "crypto.h"
#include "fsutil.h"
#include "ids.h"
#include "json_secure.h"
#include "local_tls.h"
#include "log.h"
#include "secmem.h"
#include "server_process.h"
#include "throttle.h"

#define CF_SERVICE_KEY_LEN 32

static bool cf_blob_path(const cf_blob_service *svc, const char *rel, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/%s", svc->data_dir, rel);
    CF_ENSURE(n > 0 && (size_t)n < len, CF_ERR_IO, "data directory path too long");
    return true;
}

/* The service id, created on first start. */
static bool cf_blob_service_id(cf_blob_service *svc, bool *fresh)
{
    char path[PATH_MAX];
    CF_GUARD(cf_blob_path(svc, "service.json", path, sizeof path));
    *fresh = !cf_file_exists(path);
    if (*fresh) {
        CF_GUARD(cf_uuid_v4(svc->service_id));
        json_t *doc = json_pack("{s:s, s:i}", "service_id", svc->service_id, "version", 1);
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        CF_ENSURE_ALLOC(text);
        bool ok = cf_write_file_atomic(path, CF_SLICE_STR(text), 0600);
        cf_json_free_text(text);
        return ok;
    }
    cf_buf text;
    cf_buf_init(&text, 4096);
    bool ok = cf_read_file(path, 4096, &text);
    json_t *doc = ok ? json_loadb((const char *)text.data, text.len, 0, NULL) : NULL;
    cf_buf_free(&text);
    const char *id = json_string_value(json_object_get(doc, "service_id"));
    ok = id && strlen(id) == CF_UUID_LEN;
    if (ok)
        snprintf(svc->service_id, sizeof svc->service_id, "%s", id);
    json_decref(doc);
    CF_ENSURE(ok, CF_ERR_IO, "service.json is damaged");
    return true;
}

/* Opens the seal and the service master key it wraps (seal_dir.h); on
 * first start creates both.  A directory made before seal.json existed kept
 * its wrapped key in service.key.wrapped, on the file seal: that is
 * recorded first. */
static bool cf_blob_service_key(cf_blob_service *svc, bool fresh)
{
    char legacy_path[PATH_MAX];
    CF_GUARD(cf_blob_path(svc, "service.key.wrapped", legacy_path, sizeof legacy_path));
    cf_buf aad, legacy;
    cf_buf_init(&aad, 256);
    cf_buf_init(&legacy, 4096);
    bool ok = cf_buf_append_str(&aad, "coffer-blob/v1 service-key ") &&
              cf_buf_append_str(&aad, svc->service_id);
    if (ok && !fresh && !cf_seal_dir_recorded(svc->data_dir) && cf_file_exists(legacy_path))
        ok = cf_read_file(legacy_path, 4096, &legacy) &&
             cf_seal_dir_adopt_file(svc->data_dir, cf_buf_slice(&legacy), cf_buf_slice(&aad)) &&
             unlink(legacy_path) == 0;
    ok = ok && cf_seal_dir_open(svc->data_dir, "coffer-blob", &svc->seal_options,
                                cf_buf_slice(&aad), fresh, &svc->sealed);
    cf_buf_free(&aad);
    cf_buf_free(&legacy);
    CF_GUARD(ok);
    svc->seal = svc->sealed.seal;
    svc->service_key = svc->sealed.master_key;
    cf_server_log_seal(&svc->sealed, svc->data_dir);
    return true;
}

static bool cf_blob_ensure_account(cf_blob_service *svc, const char *name)
{
    cf_blob_account acct;
    if (cf_blob_account_get(svc->store, name, &acct))
        return true;
    CF_ENSURE(cf_blob_account_name_valid(name), CF_ERR_BAD_INPUT,
              "account names are 3-24 lowercase letters and digits");
    cf_log(CF_LOG_INFO, NULL, "creating storage account %s", name);
    return cf_blob_account_create(svc->store, name, (int64_t)time(NULL), false);
}

/* One account's entry: name, both keys, endpoint, connection string. */
bool cf_blob_account_entry(cf_blob_service *svc, const char *name, json_t **out)
{
    bool https = cf_blob_https_only(svc, name);
    char endpoint[400], http_endpoint[400] = "", k1[128], k2[128], conn[1024];
    if (!https && svc->http_url[0])
        snprintf(http_endpoint, sizeof http_endpoint, "%s/%s", svc->http_url, name);
    cf_buf key;
    cf_buf_init_secret(&key, CF_BLOB_ACCOUNT_KEY_LEN);
    bool ok = snprintf(endpoint, sizeof endpoint, "%s/%s", svc->url, name) < (int)sizeof endpoint &&
              cf_blob_account_key(svc->store, name, 1, &key) &&
              cf_blob_base64(cf_buf_slice(&key), k1, sizeof k1);
    cf_buf_clear(&key);
    ok = ok && cf_blob_account_key(svc->store, name, 2, &key) &&
         cf_blob_base64(cf_buf_slice(&key), k2, sizeof k2);
    cf_buf_free(&key);
    ok = ok && snprintf(conn, sizeof conn,
                        "DefaultEndpointsProtocol=%s;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
                        "https", name, k1, endpoint) < (int)sizeof conn;
    if (ok) {
        *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "account_name", name, "account_key", k1,
                         "account_key2", k2, "blob_endpoint", endpoint, "connection_string", conn,
                         "https_only", https);
        ok = *out != NULL;
        if (ok && http_endpoint[0])
            json_object_set_new(*out, "http_blob_endpoint", json_string(http_endpoint));
    }
    cf_memzero(k1, sizeof k1);
    cf_memzero(k2, sizeof k2);
    cf_memzero(conn, sizeof conn);
    CF_ENSURE(ok, cf_error_code() ? cf_error_code() : CF_ERR_NOMEM, "cannot describe an account");
    return true;
}

bool cf_blob_write_bootstrap(cf_blob_service *svc)
{
    char path[PATH_MAX], ca[PATH_MAX];
    CF_GUARD(cf_blob_path(svc, "bootstrap.json", path, sizeof path));
    CF_GUARD(cf_blob_path(svc, "tls/ca.crt", ca, sizeof ca));
    pthread_mutex_lock(&svc->bootstrap_lock);
    json_t *doc = NULL, *accounts = json_array();
    bool ok = accounts && cf_blob_account_entry(svc, CF_BLOB_DEFAULT_ACCOUNT, &doc);
    if (ok)
        json_array_append_new(accounts, json_deep_copy(doc));
    for (size_t i = 0; ok && i < svc->n_insecure; i++) {
        json_t *entry = NULL;
        ok = cf_blob_account_entry(svc, svc->insecure[i], &entry);
        if (ok)
            json_array_append_new(accounts, entry);
    }
    char *text = NULL;
    if (ok) {
        json_object_set_new(doc, "ca_cert", json_string(ca));
        json_object_set_new(doc, "url", json_string(svc->url));
        if (svc->http_url[0])
            json_object_set_new(doc, "http_endpoint", json_string(svc->http_url));
        json_object_set(doc, "accounts", accounts);
        text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
        ok = text && cf_write_file_atomic(path, CF_SLICE_STR(text), 0600);
    }
    pthread_mutex_unlock(&svc->bootstrap_lock);
    cf_json_free_text(text);
    json_decref(doc);
    json_decref(accounts);
    CF_ENSURE(ok, cf_error_code() ? cf_error_code() : CF_ERR_NOMEM, "cannot write bootstrap.json");
    return true;
}

/* --owner: the assignment is named after the principal, so restarts with
 * the same flag change nothing. */
static bool cf_blob_grant_owners(cf_blob_service *svc)
{
    for (size_t i = 0; i < svc->n_owners; i++) {
        json_t *out = NULL;
        json_t *body = json_pack("{s:{s:s, s:s, s:s}}", "properties", "roleDefinitionId",
                                 "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "principalId",
                                 svc->owners[i], "scope", "/");
        bool ok = body && cf_blob_roles_put(svc->roles, CF_BLOB_DEFAULT_ACCOUNT, svc->owners[i],
                                            body, &out);
        json_decref(body);
        json_decref(out);
        CF_GUARD(ok);
    }
    return true;
}

/* Before serving.  Files are this front end's alone and nothing writes them
 * yet: every orphan and temp file goes, whatever its age.  A shared store
 * (RADOS) may have other front ends' writes in flight: only what is older
 * than --extent-cleanup goes, and a failure (a cluster that does not
 * answer) does not keep this front end from serving what it can; the
 * leader tries again later. */
static bool cf_blob_startup_cleanup(cf_blob_service *svc)
{
    unsigned removed = 0;
    int64_t now = (int64_t)time(NULL);
    if (!cf_blob_store_extents_shared(svc->store)) {
        CF_GUARD(cf_blob_store_cleanup(svc->store, now + 1, &removed));
    } else if (!cf_blob_store_cleanup(svc->store, now - svc->extent_cleanup, &removed)) {
        cf_log(CF_LOG_WARN, NULL, "cleaning up the extent store: %s", cf_error_detail());
        return true;
    }
    if (removed)
        cf_log(CF_LOG_INFO, NULL, "removed %u unreferenced or partial extents", removed);
    return true;
}

/* Another front end changed an account: what the key gate knew of it may
 * be old (the store dropped its own caches already). */
static void cf_blob_account_changed(void *ctx, const char *account)
{
    cf_blob_cmk_forget(ctx, account);
}

bool cf_blob_service_open(cf_blob_service *svc, cf_buf *tls_cert, cf_buf *tls_key)
{
    char path[PATH_MAX];
    bool fresh;
    pthread_mutex_init(&svc->bootstrap_lock, NULL);
    CF_GUARD(cf_mkdirs(svc->data_dir, 0700));
    CF_GUARD(cf_blob_service_id(svc, &fresh));
    CF_GUARD(cf_blob_service_key(svc, fresh));
    CF_GUARD(cf_blob_store_open(svc->store_spec.backend, svc->store_spec.conninfo, svc->data_dir,
                                svc->extents[0] ? svc->extents : NULL,
                                cf_slice_of(svc->service_key, CF_SERVICE_KEY_LEN), &svc->store));
    CF_GUARD(cf_blob_startup_cleanup(svc));
    CF_GUARD(cf_blob_ensure_account(svc, CF_BLOB_DEFAULT_ACCOUNT));
    for (size_t i = 0; i < svc->n_insecure; i++) {
        CF_GUARD(cf_blob_ensure_account(svc, svc->insecure[i]));
        cf_log(CF_LOG_WARN, NULL,
               "account %s accepts plain HTTP (--insecure-account): "
               "development only",
               svc->insecure[i]);
    }
    CF_GUARD(cf_blob_path(svc, "audit.log", path, sizeof path));
    CF_GUARD(cf_audit_open_logged(path, &svc->audit));
    CF_GUARD(cf_throttle_new(&(cf_throttle_policy){0}, &svc->throttle));
    CF_GUARD(cf_blob_path(svc, "roles.json", path, sizeof path));
    CF_GUARD(cf_blob_roles_open(path, svc->store, &svc->roles));
    CF_GUARD(cf_blob_grant_owners(svc));
    CF_GUARD(cf_blob_cmk_open(svc->key_cache_seconds, &svc->cmk));
    /* Before serving, and once the gate it tells exists. */
    CF_GUARD(cf_blob_store_listen(svc->store, cf_blob_account_changed, svc));
    if (svc->vault_bootstrap[0]) {
        CF_GUARD(cf_vault_client_open(svc->vault_bootstrap, &svc->vault));
        cf_log(CF_LOG_INFO, NULL, "customer-managed keys: coffer-vault at %s, keys cached %d s",
               cf_vault_client_url(svc->vault), svc->key_cache_seconds);
    }
    if (svc->vault_url[0])
        CF_GUARD(cf_blob_tokens_open(svc->vault_url, svc->vault_ca, svc->tenant_id, &svc->tokens));
    cf_local_tls t = {
        .data_dir = svc->data_dir,
        .label = "coffer-blob/v1",
        .service_id = svc->service_id,
        .data_key = cf_slice_of(svc->service_key, CF_SERVICE_KEY_LEN),
        .listen = svc->listen,
    };
    CF_GUARD(cf_local_tls_load(&t, tls_cert, tls_key));
    return cf_blob_write_bootstrap(svc);
}

bool cf_blob_anchor_audit(cf_blob_service *svc)
{
    char path[PATH_MAX];
    if (!svc->audit || !svc->store)
        return true;
    CF_GUARD(cf_blob_path(svc, "audit.log", path, sizeof path));
    return cf_blob_store_audit_anchor(svc->store, svc->listen, path, svc->audit,
                                      (int64_t)time(NULL), &svc->anchor);
}

void cf_blob_service_close(cf_blob_service *svc)
{
    if (!cf_blob_anchor_audit(svc))
        cf_log(CF_LOG_ERROR, NULL, "audit anchor at shutdown: %s", cf_error_detail());
    /* First: its change listener calls into the key gate. */
    cf_blob_store_close(svc->store);
    svc->store = NULL;
    cf_blob_tokens_close(svc->tokens);
    cf_blob_roles_close(svc->roles);
    cf_blob_cmk_close(svc->cmk);
    cf_vault_client_close(svc->vault);
    svc->cmk = NULL;
    svc->vault = NULL;
    cf_audit_close_logged(svc->audit);
    svc->audit = NULL;
    cf_throttle_free(svc->throttle);
    svc->throttle = NULL;
    cf_sealed_dir_close(&svc->sealed);
    svc->tokens = NULL;
    svc->roles = NULL;
    svc->service_key = NULL;
    svc->seal = NULL;
    pthread_mutex_destroy(&svc->bootstrap_lock);
}
