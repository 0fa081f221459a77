/*
 * Storage accounts in Coffer's admin API (admin.c), in the shape of Azure's
 * management API (Microsoft.Storage/storageAccounts), trimmed to what
 * Coffer has:
 *
 *   PUT    /.coffer/<admin>/accounts/<name>   create: 201 and the account
 *   GET    /.coffer/<admin>/accounts          {"value":[accounts]} (no secrets)
 *   GET    /.coffer/<admin>/accounts/<name>   the account, with its keys and
 *                                             connection string
 *   PATCH  /.coffer/<admin>/accounts/<name>   change the key source
 *   DELETE /.coffer/<admin>/accounts/<name>   the account and all its data
 *
 * <admin> must be the default account: its key is the service's
 * administrator credential (like a subscription owner in Azure).  Bodies:
 *   {"properties":{"encryption":{
 *       "keySource":"Microsoft.Storage" | "Microsoft.Keyvault",
 *       "keyvaultproperties":{"keyvaulturi","keyname","keyversion"},
 *       "requireInfrastructureEncryption":false}}}
 * keyversion "" (or absent) follows the key's newest version.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "blob_service.h"
#include "httpdate.h"
#include "json_secure.h"
#include "log.h"

#define CF_ACCOUNTS "accounts"

/* The key URI a body asks for: NULL for service-managed keys. */
static bool cf_accounts_key_uri(json_t *encryption, char *uri, size_t len, bool *vault)
{
    const char *source = json_string_value(json_object_get(encryption, "keySource"));
    *vault = false;
    if (!source || strcasecmp(source, "Microsoft.Storage") == 0)
        return true;
    CF_ENSURE(strcasecmp(source, "Microsoft.Keyvault") == 0, CF_ERR_BAD_INPUT,
              "keySource must be Microsoft.Storage or Microsoft.Keyvault");
    json_t *kv = json_object_get(encryption, "keyvaultproperties");
    const char *base = json_string_value(json_object_get(kv, "keyvaulturi"));
    const char *name = json_string_value(json_object_get(kv, "keyname"));
    const char *version = json_string_value(json_object_get(kv, "keyversion"));
    CF_ENSURE(base && name && name[0], CF_ERR_BAD_INPUT,
              "Microsoft.Keyvault needs keyvaultproperties.keyvaulturi and keyname");
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    int n = snprintf(uri, len, "%.*s/keys/%s%s%s", (int)bl, base, name,
                     version && version[0] ? "/" : "", version ? version : "");
    CF_ENSURE(n > 0 && (size_t)n < len, CF_ERR_BAD_INPUT, "the key URI is too long");
    CF_GUARD(cf_blob_key_uri_check(uri));
    *vault = true;
    return true;
}

static bool cf_uri_word_ok(const char *p, size_t n, bool dash)
{
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              (p[i] >= '0' && p[i] <= '9') || (dash && p[i] == '-')))
            return false;
    return n > 0;
}

bool cf_blob_key_uri_check(const char *uri)
{
    const char *keys = strstr(uri, "/keys/");
    const char *name = keys ? keys + 6 : "";
    const char *slash = strchr(name, '/');
    size_t nl = slash ? (size_t)(slash - name) : strlen(name);
    CF_ENSURE(strlen(uri) <= CF_BLOB_KEY_URI_MAX && strncmp(uri, "https://", 8) == 0 && keys &&
                  !memchr(uri + 8, '?', (size_t)(keys - uri - 8)) &&
                  cf_uri_word_ok(name, nl, true) &&
                  (!slash || cf_uri_word_ok(slash + 1, strlen(slash + 1), false)),
              CF_ERR_BAD_INPUT, "a key URI is https://VAULT/keys/NAME[/VERSION]");
    return true;
}

/* Splits ".../keys/<name>[/<version>]" back into the properties. */
static json_t *cf_accounts_kv_props(const char *uri, const char *kid)
{
    const char *keys = strstr(uri, "/keys/");
    if (!keys)
        return json_object();
    const char *name = keys + 6, *slash = strchr(name, '/');
    return json_pack("{s:s#, s:s#, s:s, s:s}", "keyvaulturi", uri, (int)(keys - uri), "keyname",
                     name, (int)(slash ? (size_t)(slash - name) : strlen(name)), "keyversion",
                     slash ? slash + 1 : "", "currentVersionedKeyIdentifier", kid);
}

static bool cf_accounts_view(cf_blob_service *svc, const char *name, bool secrets, json_t **out)
{
    cf_blob_account a;
    cf_blob_key_info info;
    CF_GUARD(cf_blob_account_get(svc->store, name, &a));
    CF_GUARD(cf_blob_key_info_get(svc->store, name, NULL, &info, NULL));
    char created[CF_ISO8601_LEN + 1];
    CF_GUARD(cf_iso8601_format(a.created, 0, created));
    bool vault = info.source == CF_BLOB_KEYS_VAULT;
    json_t *enc =
        json_pack("{s:s, s:b}", "keySource", vault ? "Microsoft.Keyvault" : "Microsoft.Storage",
                  "requireInfrastructureEncryption", a.infrastructure);
    if (enc && vault)
        json_object_set_new(enc, "keyvaultproperties", cf_accounts_kv_props(info.uri, info.kid));
    json_t *entry = NULL;
    CF_ENSURE(enc, CF_ERR_NOMEM, NULL);
    if (!cf_blob_account_entry(svc, name, &entry)) {
        json_decref(enc);
        return false;
    }
    *out = json_pack("{s:s, s:s, s:{s:s, s:{s:O}, s:o, s:b}}", "name", name, "type",
                     "Microsoft.Storage/storageAccounts", "properties", "creationTime", created,
                     "primaryEndpoints", "blob", json_object_get(entry, "blob_endpoint"),
                     "encryption", enc, "supportsHttpsTrafficOnly", cf_blob_https_only(svc, name));
    if (*out && secrets)
        json_object_set(*out, "connectionString", json_object_get(entry, "connection_string"));
    json_decref(entry);
    CF_ENSURE_ALLOC(*out);
    return true;
}

static bool cf_accounts_list(cf_blob_service *svc, json_t **out)
{
    json_t *names = NULL, *value = json_array();
    CF_ENSURE_ALLOC(value);
    bool ok = cf_blob_account_names(svc->store, &names);
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        json_t *view = NULL;
        ok = ok && cf_accounts_view(svc, json_string_value(n), false, &view) &&
             json_array_append_new(value, view) == 0;
        if (!ok)
            break;
    }
    json_decref(names);
    *out = ok ? json_pack("{s:o}", "value", value) : NULL;
    if (!ok)
        json_decref(value);
    return ok && *out;
}

static bool cf_accounts_create(cf_blob_service *svc, const char *name, json_t *body, json_t **out)
{
    json_t *enc = json_object_get(json_object_get(body, "properties"), "encryption");
    char uri[CF_BLOB_KEY_URI_MAX + 64];
    bool vault;
    CF_GUARD(cf_accounts_key_uri(enc, uri, sizeof uri, &vault));
    bool infra = json_is_true(json_object_get(enc, "requireInfrastructureEncryption"));
    CF_ENSURE(cf_blob_account_name_valid(name), CF_ERR_BAD_INPUT,
              "account names are 3-24 lowercase letters and digits");
    CF_GUARD(cf_blob_account_create(svc->store, name, (int64_t)time(NULL), infra));
    cf_blob_cmk_forget(svc, name);
    if (vault && !cf_blob_cmk_set(svc, name, NULL, uri)) {
        /* Nothing was stored in it yet: the account goes, the error stays. */
        struct cf_error_record *why = cf_error_save();
        if (!cf_blob_account_delete(svc->store, name))
            cf_log(CF_LOG_ERROR, NULL, "removing half-created account %s: %s", name,
                   cf_error_detail());
        cf_error_restore(why);
        return false;
    }
    cf_log(CF_LOG_INFO, NULL, "created storage account %s (%s keys)", name,
           vault ? "customer-managed" : "service-managed");
    return cf_accounts_view(svc, name, true, out);
}

static bool cf_accounts_patch(cf_blob_service *svc, const char *name, json_t *body, json_t **out)
{
    cf_blob_account a;
    CF_GUARD(cf_blob_account_get(svc->store, name, &a));
    json_t *enc = json_object_get(json_object_get(body, "properties"), "encryption");
    CF_ENSURE(json_is_object(enc), CF_ERR_BAD_INPUT, "properties.encryption is required");
    json_t *infra = json_object_get(enc, "requireInfrastructureEncryption");
    CF_ENSURE(!infra || json_is_true(infra) == a.infrastructure, CF_ERR_BAD_INPUT,
              "requireInfrastructureEncryption is fixed when the account is created");
    char uri[CF_BLOB_KEY_URI_MAX + 64];
    bool vault;
    CF_GUARD(cf_accounts_key_uri(enc, uri, sizeof uri, &vault));
    CF_GUARD(cf_blob_cmk_set(svc, name, NULL, vault ? uri : NULL));
    return cf_accounts_view(svc, name, true, out);
}

static bool cf_accounts_delete(cf_blob_service *svc, const char *name)
{
    CF_ENSURE(strcmp(name, CF_BLOB_DEFAULT_ACCOUNT) != 0 && cf_blob_https_only(svc, name),
              CF_ERR_CONFLICT, "the default account and --insecure-account accounts stay");
    CF_GUARD(cf_blob_account_delete(svc->store, name));
    cf_blob_cmk_forget(svc, name);
    CF_GUARD(cf_blob_roles_delete(svc->roles, name, NULL));
    cf_log(CF_LOG_INFO, NULL, "deleted storage account %s", name);
    return true;
}

bool cf_blob_admin_accounts(cf_blob_call *call, const char *rest, unsigned *status, json_t *body,
                            json_t **out, bool *handled)
{
    size_t n = strlen(CF_ACCOUNTS);
    *handled = cf_blob_admin_under(rest, CF_ACCOUNTS);
    if (!*handled)
        return true;
    CF_ENSURE(strcmp(call->account, CF_BLOB_DEFAULT_ACCOUNT) == 0, CF_ERR_FORBIDDEN,
              "accounts are managed with the default account's key");
    const char *method = call->http->method;
    cf_blob_service *svc = call->svc;
    if (rest[n] == 0) {
        CF_ENSURE(strcmp(method, "GET") == 0, CF_ERR_NOT_FOUND, "unknown admin endpoint");
        return cf_accounts_list(svc, out);
    }
    const char *name = rest + n + 1;
    CF_ENSURE(cf_blob_account_name_valid(name), CF_ERR_BAD_INPUT,
              "account names are 3-24 lowercase letters and digits");
    if (strcmp(method, "GET") == 0)
        return cf_accounts_view(svc, name, true, out);
    if (strcmp(method, "DELETE") == 0)
        return cf_accounts_delete(svc, name);
    if (strcmp(method, "PUT") == 0) {
        *status = 201;
        return cf_accounts_create(svc, name, body, out);
    }
    if (strcmp(method, "PATCH") == 0)
        return cf_accounts_patch(svc, name, body, out);
    CF_BAIL(CF_ERR_NOT_FOUND, "unknown admin endpoint");
}
