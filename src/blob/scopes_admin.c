/*
 * Encryption scopes in Coffer's admin API (admin.c), in the shape of
 * Azure's management API (storageAccounts/{account}/encryptionScopes),
 * managed with the account's own key:
 *
 *   PUT   /.coffer/<account>/encryptionScopes/<name>   create (201)
 *   PATCH /.coffer/<account>/encryptionScopes/<name>   state, key source
 *   GET   /.coffer/<account>/encryptionScopes[/<name>]
 *
 * Body: {"properties":{"source":"Microsoft.Storage" | "Microsoft.KeyVault",
 *        "keyVaultProperties":{"keyUri":"https://VAULT/keys/NAME[/VERSION]"},
 *        "state":"Enabled" | "Disabled", "requireInfrastructureEncryption":false}}
 * Scopes are not deleted (as in Azure): disable them.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "blob_service.h"
#include "httpdate.h"
#include "log.h"

#define CF_SCOPES "encryptionScopes"

static bool cf_scope_view(cf_blob_service *svc, const char *account, const char *name, json_t **out)
{
    cf_blob_scope sc;
    cf_blob_key_info info;
    CF_GUARD(cf_blob_scope_get(svc->store, account, name, &sc));
    CF_GUARD(cf_blob_key_info_get(svc->store, account, name, &info, NULL));
    char created[CF_ISO8601_LEN + 1];
    CF_GUARD(cf_iso8601_format(sc.created, 0, created));
    bool vault = info.source == CF_BLOB_KEYS_VAULT;
    json_t *props = json_pack("{s:s, s:s, s:s, s:b}", "source",
                              vault ? "Microsoft.KeyVault" : "Microsoft.Storage", "state",
                              sc.enabled ? "Enabled" : "Disabled", "creationTime", created,
                              "requireInfrastructureEncryption", sc.infrastructure);
    if (props && vault)
        json_object_set_new(
            props, "keyVaultProperties",
            json_pack("{s:s, s:s}", "keyUri", info.uri, "currentVersionedKeyIdentifier", info.kid));
    *out =
        props ? json_pack("{s:s, s:s, s:o}", "name", name, "type",
                          "Microsoft.Storage/storageAccounts/encryptionScopes", "properties", props)
              : NULL;
    CF_ENSURE_ALLOC(*out);
    return true;
}

static bool cf_scope_list(cf_blob_service *svc, const char *account, json_t **out)
{
    json_t *names = NULL, *value = json_array();
    CF_ENSURE_ALLOC(value);
    bool ok = cf_blob_scope_names(svc->store, account, false, &names);
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        json_t *view = NULL;
        ok = ok && cf_scope_view(svc, account, json_string_value(n), &view) &&
             json_array_append_new(value, view) == 0;
    }
    json_decref(names);
    *out = ok ? json_pack("{s:o}", "value", value) : NULL;
    if (!ok)
        json_decref(value);
    return ok && *out;
}

/* The key URI a body asks for ("" = service-managed); *given: whether the
 * body names a source at all. */
static bool cf_scope_source(json_t *props, char *uri, size_t len, bool *given)
{
    const char *source = json_string_value(json_object_get(props, "source"));
    *given = source != NULL;
    uri[0] = 0;
    if (!source || strcasecmp(source, "Microsoft.Storage") == 0)
        return true;
    CF_ENSURE(strcasecmp(source, "Microsoft.KeyVault") == 0, CF_ERR_BAD_INPUT,
              "source must be Microsoft.Storage or Microsoft.KeyVault");
    const char *key =
        json_string_value(json_object_get(json_object_get(props, "keyVaultProperties"), "keyUri"));
    CF_ENSURE(key, CF_ERR_BAD_INPUT, "Microsoft.KeyVault needs keyVaultProperties.keyUri");
    CF_GUARD(cf_blob_key_uri_check(key));
    snprintf(uri, len, "%s", key);
    return true;
}

/* state: "Enabled" / "Disabled" / absent. */
static bool cf_scope_state(json_t *props, int *state)
{
    const char *s = json_string_value(json_object_get(props, "state"));
    *state = !s ? -1 : strcasecmp(s, "Enabled") == 0 ? 1 : strcasecmp(s, "Disabled") == 0 ? 0 : -2;
    CF_ENSURE(*state != -2, CF_ERR_BAD_INPUT, "state must be Enabled or Disabled");
    return true;
}

static bool cf_scope_write(cf_blob_call *call, const char *name, json_t *body, bool create)
{
    cf_blob_service *svc = call->svc;
    json_t *props = json_object_get(body, "properties");
    char uri[CF_BLOB_KEY_URI_MAX + 1];
    bool given;
    int state;
    CF_GUARD(cf_scope_source(props, uri, sizeof uri, &given));
    CF_GUARD(cf_scope_state(props, &state));
    bool infra = json_is_true(json_object_get(props, "requireInfrastructureEncryption"));
    if (create) {
        CF_GUARD(cf_blob_scope_create(svc->store, call->account, name, infra, (int64_t)time(NULL)));
        cf_log(CF_LOG_INFO, NULL, "account %s: encryption scope %s created", call->account, name);
    } else {
        cf_blob_scope cur;
        CF_GUARD(cf_blob_scope_get(svc->store, call->account, name, &cur));
        json_t *ri = json_object_get(props, "requireInfrastructureEncryption");
        CF_ENSURE(!ri || json_is_true(ri) == cur.infrastructure, CF_ERR_BAD_INPUT,
                  "requireInfrastructureEncryption is fixed when the scope is created");
    }
    cf_blob_cmk_forget(svc, call->account);
    if (state == 1)
        CF_GUARD(cf_blob_scope_set_enabled(svc->store, call->account, name, true));
    if (given || (create && uri[0])) {
        bool ok = cf_blob_cmk_set(svc, call->account, name, uri[0] ? uri : NULL);
        if (!ok && create) { /* a new scope that cannot take its key is left disabled */
            struct cf_error_record *why = cf_error_save();
            if (!cf_blob_scope_set_enabled(svc->store, call->account, name, false))
                cf_log(CF_LOG_ERROR, NULL, "cannot disable scope %s: %s", name, cf_error_detail());
            cf_error_restore(why);
        }
        CF_GUARD(ok);
    }
    if (state == 0)
        CF_GUARD(cf_blob_scope_set_enabled(svc->store, call->account, name, false));
    if (state >= 0) {
        cf_log(CF_LOG_INFO, NULL, "account %s: encryption scope %s %s", call->account, name,
               state ? "enabled" : "disabled");
    }
    return true;
}

bool cf_blob_admin_scopes(cf_blob_call *call, const char *rest, unsigned *status, json_t *body,
                          json_t **out, bool *handled)
{
    size_t n = strlen(CF_SCOPES);
    *handled = cf_blob_admin_under(rest, CF_SCOPES);
    if (!*handled)
        return true;
    const char *method = call->http->method;
    if (rest[n] == 0) {
        CF_ENSURE(strcmp(method, "GET") == 0, CF_ERR_NOT_FOUND, "unknown admin endpoint");
        return cf_scope_list(call->svc, call->account, out);
    }
    const char *name = rest + n + 1;
    CF_ENSURE(cf_blob_scope_name_valid(name), CF_ERR_BAD_INPUT,
              "scope names are 3-63 lowercase letters, digits and '-'");
    if (strcmp(method, "PUT") == 0) {
        *status = 201;
        CF_GUARD(cf_scope_write(call, name, body, true));
    } else if (strcmp(method, "PATCH") == 0) {
        CF_GUARD(cf_scope_write(call, name, body, false));
    } else {
        CF_ENSURE(strcmp(method, "GET") == 0, CF_ERR_NOT_FOUND, "unknown admin endpoint");
    }
    return cf_scope_view(call->svc, call->account, name, out);
}
