/*
 * coffer account ...: storage accounts of coffer-blob, through its admin
 * API (/.coffer/<admin account>/accounts, docs/blob.md), signed with the
 * default account's key (the connection's; --blob-dir gives it).
 *
 *   account create NAME [--cmk-key-uri URI] [--infrastructure-encryption]
 *   account list
 *   account show NAME
 *   account set-key NAME (--cmk-key-uri URI | --service-managed)
 *   account delete NAME
 *
 * URI: https://VAULT/keys/NAME[/VERSION]; without a version the account
 * follows the key's newest version.
 */
#include <stdio.h>
#include <string.h>

#include "json_secure.h"
#include "storage_client.h"

#define CF_ACCOUNT_NAME_MAX 24

static bool cf_account_check_name(const char *name)
{
    size_t n = strlen(name);
    bool ok = n >= 3 && n <= CF_ACCOUNT_NAME_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9');
    return ok || cf_cli_usage("account names are 3-24 lowercase letters and digits");
}

/* {"properties":{"encryption":{...}}} for a key URI (NULL: service-managed). */
static bool cf_account_body(const char *uri, bool infra, bool with_infra, char **out)
{
    json_t *enc = json_object();
    CF_ENSURE_ALLOC(enc);
    if (uri) {
        const char *keys = strstr(uri, "/keys/");
        if (strncmp(uri, "https://", 8) != 0 || !keys || !keys[6]) {
            json_decref(enc);
            return cf_cli_usage("--cmk-key-uri: expected https://VAULT/keys/NAME[/VERSION]");
        }
        const char *name = keys + 6, *slash = strchr(name, '/');
        json_object_set_new(enc, "keySource", json_string("Microsoft.Keyvault"));
        json_object_set_new(enc, "keyvaultproperties",
                            json_pack("{s:s#, s:s#, s:s}", "keyvaulturi", uri, (int)(keys - uri),
                                      "keyname", name,
                                      (int)(slash ? (size_t)(slash - name) : strlen(name)),
                                      "keyversion", slash ? slash + 1 : ""));
    } else {
        json_object_set_new(enc, "keySource", json_string("Microsoft.Storage"));
    }
    if (with_infra)
        json_object_set_new(enc, "requireInfrastructureEncryption", json_boolean(infra));
    json_t *body = json_pack("{s:{s:o}}", "properties", "encryption", enc);
    *out = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    CF_ENSURE_ALLOC(*out);
    return true;
}

bool cf_sc_admin_call(cf_cli *cli, const char *method, const char *path, const char *body,
                      json_t **reply)
{
    cf_sc_client *client = NULL;
    CF_GUARD(cf_sc_client_open(cli, &client));
    cf_sc_resp resp;
    cf_sc_resp_init(&resp);
    cf_sc_req req = {.method = method, .admin = path};
    bool ok = true;
    if (body) {
        req.has_body = true;
        req.body = CF_SLICE_STR(body);
        ok = cf_sc_req_header(&req, "Content-Type", "application/json");
    }
    ok = ok && cf_sc_call(client, &req, &resp);
    if (ok && reply) {
        *reply = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL);
        if (!*reply) {
            CF_RAISE(CF_ERR_IO, "the service's answer is not JSON");
            ok = false;
        }
    }
    cf_sc_resp_free(&resp);
    cf_sc_client_close(client);
    return ok;
}

static bool cf_account_call(cf_cli *cli, const char *method, const char *name, const char *body,
                            json_t **reply)
{
    char path[128];
    snprintf(path, sizeof path, "accounts%s%s", name ? "/" : "", name ? name : "");
    return cf_sc_admin_call(cli, method, path, body, reply);
}

/* The service's account object, flattened for people and scripts. */
static json_t *cf_account_flat(json_t *a)
{
    json_t *props = json_object_get(a, "properties");
    json_t *enc = json_object_get(props, "encryption");
    json_t *kv = json_object_get(enc, "keyvaultproperties");
    const char *source = json_string_value(json_object_get(enc, "keySource"));
    bool vault = source && strcmp(source, "Microsoft.Keyvault") == 0;
    json_t *o =
        json_pack("{s:O, s:O, s:O, s:s, s:O, s:O}", "name", json_object_get(a, "name"), "created",
                  json_object_get(props, "creationTime"), "blob_endpoint",
                  json_object_get(json_object_get(props, "primaryEndpoints"), "blob"), "key_source",
                  vault ? "customer-managed" : "service-managed", "infrastructure_encryption",
                  json_object_get(enc, "requireInfrastructureEncryption"), "https_only",
                  json_object_get(props, "supportsHttpsTrafficOnly"));
    if (o && vault) {
        const char *base = json_string_value(json_object_get(kv, "keyvaulturi"));
        const char *name = json_string_value(json_object_get(kv, "keyname"));
        const char *version = json_string_value(json_object_get(kv, "keyversion"));
        char uri[1024];
        snprintf(uri, sizeof uri, "%s/keys/%s%s%s", base ? base : "", name ? name : "",
                 version && version[0] ? "/" : "", version ? version : "");
        json_object_set_new(o, "key_uri", json_string(uri));
        json_object_set(o, "key_version_in_use",
                        json_object_get(kv, "currentVersionedKeyIdentifier"));
    }
    if (o && json_object_get(a, "connectionString"))
        json_object_set(o, "connection_string", json_object_get(a, "connectionString"));
    return o;
}

bool cf_sc_admin_render(const cf_cli *cli, json_t *flat)
{
    CF_ENSURE_ALLOC(flat);
    if (cli->json) {
        cf_out_json(flat);
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(flat, key, v)
        {
            if (json_is_string(v))
                printf("%-26s %s\n", key, json_string_value(v));
            else if (json_is_boolean(v))
                printf("%-26s %s\n", key, json_is_true(v) ? "yes" : "no");
        }
    }
    json_decref(flat);
    return true;
}

static bool cf_account_render(const cf_cli *cli, json_t *reply)
{
    return cf_sc_admin_render(cli, cf_account_flat(reply));
}

static bool cf_account_write(cf_cli *cli, const char *method, const char *uri, bool infra,
                             bool with_infra)
{
    const char *name = cli->args->pos[0];
    CF_GUARD(cf_account_check_name(name));
    char *body = NULL;
    json_t *reply = NULL;
    CF_GUARD(cf_account_body(uri, infra, with_infra, &body));
    bool ok = cf_account_call(cli, method, name, body, &reply) && cf_account_render(cli, reply);
    cf_json_free_text(body);
    json_decref(reply);
    return ok;
}

bool cf_cmd_account_create(cf_cli *cli)
{
    return cf_account_write(cli, "PUT", cf_cli_opt(cli, "cmk-key-uri"),
                            cf_cli_flag(cli, "infrastructure-encryption"), true);
}

bool cf_cmd_account_set_key(cf_cli *cli)
{
    const char *uri = cf_cli_opt(cli, "cmk-key-uri");
    bool service = cf_cli_flag(cli, "service-managed");
    if (!uri == !service)
        return cf_cli_usage("set-key: give --cmk-key-uri URI or --service-managed");
    return cf_account_write(cli, "PATCH", uri, false, false);
}

bool cf_cmd_account_show(cf_cli *cli)
{
    CF_GUARD(cf_account_check_name(cli->args->pos[0]));
    json_t *reply = NULL;
    bool ok = cf_account_call(cli, "GET", cli->args->pos[0], NULL, &reply) &&
              cf_account_render(cli, reply);
    json_decref(reply);
    return ok;
}

bool cf_sc_admin_list(cf_cli *cli, const char *path, json_t *(*flatten)(json_t *),
                      void (*row)(json_t *flat))
{
    json_t *reply = NULL, *items = json_array();
    CF_ENSURE_ALLOC(items);
    bool ok = cf_sc_admin_call(cli, "GET", path, NULL, &reply);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(reply, "value"), i, a)
    {
        json_t *flat = flatten(a);
        if (!flat) {
            CF_RAISE(CF_ERR_NOMEM, NULL);
            ok = false;
            break;
        }
        if (!cli->json)
            row(flat);
        json_array_append_new(items, flat);
    }
    if (ok && cli->json)
        cf_out_json(items);
    json_decref(items);
    json_decref(reply);
    return ok;
}

static void cf_account_row(json_t *flat)
{
    json_t *uri = json_object_get(flat, "key_uri");
    printf("%-24s %-17s %s\n", json_string_value(json_object_get(flat, "name")),
           json_string_value(json_object_get(flat, "key_source")),
           json_is_string(uri) ? json_string_value(uri) : "");
}

bool cf_cmd_account_list(cf_cli *cli)
{
    return cf_sc_admin_list(cli, "accounts", cf_account_flat, cf_account_row);
}

bool cf_cmd_account_delete(cf_cli *cli)
{
    const char *name = cli->args->pos[0];
    CF_GUARD(cf_account_check_name(name));
    CF_GUARD(cf_account_call(cli, "DELETE", name, NULL, NULL));
    if (cli->json) {
        json_t *o = json_pack("{s:s, s:b}", "name", name, "deleted", 1);
        if (o)
            cf_out_json(o);
        json_decref(o);
    } else {
        printf("deleted account %s and all its data\n", name);
    }
    return true;
}
