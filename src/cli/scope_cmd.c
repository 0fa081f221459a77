/*
 * coffer scope ...: encryption scopes of the connection's storage account,
 * through coffer-blob's admin API (/.coffer/<account>/encryptionScopes),
 * signed with that account's key.
 *
 *   scope create NAME [--cmk-key-uri URI] [--infrastructure-encryption]
 *   scope list
 *   scope show NAME
 *   scope enable NAME | scope disable NAME
 *   scope set-key NAME (--cmk-key-uri URI | --service-managed)
 */
#include <stdio.h>
#include <string.h>

#include "json_secure.h"
#include "storage_client.h"

static bool cf_scope_check_name(const char *name)
{
    size_t n = strlen(name);
    bool ok = n >= 3 && n <= 63 && name[0] != '-' && name[n - 1] != '-';
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '-';
    return ok || cf_cli_usage("scope names are 3-63 lowercase letters, digits and '-'");
}

static json_t *cf_scope_flat(json_t *s)
{
    json_t *props = json_object_get(s, "properties");
    json_t *kv = json_object_get(props, "keyVaultProperties");
    const char *source = json_string_value(json_object_get(props, "source"));
    bool vault = source && strcmp(source, "Microsoft.KeyVault") == 0;
    json_t *o = json_pack(
        "{s:O, s:O, s:O, s:s, s:O}", "name", json_object_get(s, "name"), "state",
        json_object_get(props, "state"), "created", json_object_get(props, "creationTime"),
        "key_source", vault ? "customer-managed" : "service-managed", "infrastructure_encryption",
        json_object_get(props, "requireInfrastructureEncryption"));
    if (o && vault) {
        json_object_set(o, "key_uri", json_object_get(kv, "keyUri"));
        json_object_set(o, "key_version_in_use",
                        json_object_get(kv, "currentVersionedKeyIdentifier"));
    }
    return o;
}

static bool cf_scope_render(const cf_cli *cli, json_t *reply)
{
    return cf_sc_admin_render(cli, cf_scope_flat(reply));
}

/* PUT or PATCH with {"properties":{...}} built from the options. */
static bool cf_scope_write(cf_cli *cli, const char *method, const char *uri, bool service,
                           const char *state, bool with_infra)
{
    const char *name = cli->args->pos[0];
    CF_GUARD(cf_scope_check_name(name));
    if (uri && (strncmp(uri, "https://", 8) != 0 || !strstr(uri, "/keys/")))
        return cf_cli_usage("--cmk-key-uri: expected https://VAULT/keys/NAME[/VERSION]");
    json_t *props = json_object();
    CF_ENSURE_ALLOC(props);
    if (uri) {
        json_object_set_new(props, "source", json_string("Microsoft.KeyVault"));
        json_object_set_new(props, "keyVaultProperties", json_pack("{s:s}", "keyUri", uri));
    } else if (service) {
        json_object_set_new(props, "source", json_string("Microsoft.Storage"));
    }
    if (state)
        json_object_set_new(props, "state", json_string(state));
    if (with_infra)
        json_object_set_new(props, "requireInfrastructureEncryption",
                            json_boolean(cf_cli_flag(cli, "infrastructure-encryption")));
    json_t *body = json_pack("{s:o}", "properties", props);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    CF_ENSURE_ALLOC(text);
    char path[128];
    snprintf(path, sizeof path, "encryptionScopes/%s", name);
    json_t *reply = NULL;
    bool ok = cf_sc_admin_call(cli, method, path, text, &reply) && cf_scope_render(cli, reply);
    cf_json_free_text(text);
    json_decref(reply);
    return ok;
}

bool cf_cmd_scope_create(cf_cli *cli)
{
    return cf_scope_write(cli, "PUT", cf_cli_opt(cli, "cmk-key-uri"), false, NULL, true);
}

bool cf_cmd_scope_enable(cf_cli *cli)
{
    return cf_scope_write(cli, "PATCH", NULL, false, "Enabled", false);
}

bool cf_cmd_scope_disable(cf_cli *cli)
{
    return cf_scope_write(cli, "PATCH", NULL, false, "Disabled", false);
}

bool cf_cmd_scope_set_key(cf_cli *cli)
{
    const char *uri = cf_cli_opt(cli, "cmk-key-uri");
    bool service = cf_cli_flag(cli, "service-managed");
    if (!uri == !service)
        return cf_cli_usage("set-key: give --cmk-key-uri URI or --service-managed");
    return cf_scope_write(cli, "PATCH", uri, service, NULL, false);
}

bool cf_cmd_scope_show(cf_cli *cli)
{
    CF_GUARD(cf_scope_check_name(cli->args->pos[0]));
    char path[128];
    snprintf(path, sizeof path, "encryptionScopes/%s", cli->args->pos[0]);
    json_t *reply = NULL;
    bool ok = cf_sc_admin_call(cli, "GET", path, NULL, &reply) && cf_scope_render(cli, reply);
    json_decref(reply);
    return ok;
}

static void cf_scope_row(json_t *flat)
{
    printf("%-32s %-9s %s\n", json_string_value(json_object_get(flat, "name")),
           json_string_value(json_object_get(flat, "state")),
           json_string_value(json_object_get(flat, "key_source")));
}

bool cf_cmd_scope_list(cf_cli *cli)
{
    return cf_sc_admin_list(cli, "encryptionScopes", cf_scope_flat, cf_scope_row);
}
