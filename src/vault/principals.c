/*
 * Principal administration (Coffer's own API; Azure keeps this in Entra
 * ID, outside Key Vault):
 *
 *   GET    /coffer/principals                      list
 *   POST   /coffer/principals                      create {name, kind, secret_expires_in_days}
 *   GET    /coffer/principals/{object_id}          one, with credential metadata
 *   DELETE /coffer/principals/{object_id}          remove it, its credentials and roles
 *   POST   /coffer/principals/{object_id}/secrets  add a credential (rotation)
 *   DELETE /coffer/principals/{object_id}/secrets/{id}
 *
 * Service principals authenticate with client secrets at the token
 * endpoint; managed identities with an identity header at /msi/token.
 * A credential is shown once, in the reply that creates it.  Guarded by
 * the principals data actions, which only the Administrator role grants:
 * "principals/read/action" is deliberately not a ".../read" action, so
 * Reader's vaults-wide read pattern does not reach it.
 */
#include <stdio.h>
#include <string.h>

#include "ids.h"
#include "log.h"
#include "rbac.h"
#include "resource.h"
#include "secmem.h"

#define CF_MAX_CREDENTIALS 32
#define CF_SECRET_TEXT 128

static const char *cf_kind_api(const char *kind)
{
    return strcmp(kind, "mi") == 0     ? "managedIdentity"
           : strcmp(kind, "user") == 0 ? "user"
                                       : "servicePrincipal";
}

static json_t *cf_principal_json(const cf_principal *p)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "object_id", p->object_id, "client_id",
                     p->client_id, "name", p->name, "kind", cf_kind_api(p->kind), "created",
                     (json_int_t)p->created);
}

static bool cf_list_each(void *ctx, const cf_principal *p)
{
    json_t *item = cf_principal_json(p);
    CF_ENSURE(item && json_array_append_new(ctx, item) == 0, CF_ERR_NOMEM, NULL);
    return true;
}

bool cf_principal_list_handler(cf_vault_call *call)
{
    json_t *list = json_array();
    CF_ENSURE_ALLOC(list);
    if (!cf_store_principal_list(call->vault->store, cf_list_each, list)) {
        json_decref(list);
        return false;
    }
    json_t *reply = json_pack("{s:o}", "value", list);
    CF_ENSURE_ALLOC(reply);
    return cf_vault_reply(call, 200, reply);
}

/* "secret_expires_in_days" (1..3650) from the body; 0 when absent. */
static bool cf_expiry(json_t *body, int64_t *expires)
{
    json_t *days = json_object_get(body, "secret_expires_in_days");
    *expires = 0;
    if (!days || json_is_null(days))
        return true;
    CF_ENSURE(json_is_integer(days) && json_integer_value(days) >= 1 &&
                  json_integer_value(days) <= 3650,
              CF_ERR_BAD_INPUT, "secret_expires_in_days must be an integer from 1 to 3650");
    *expires = cf_vault_now() + json_integer_value(days) * CF_SECONDS_PER_DAY;
    return true;
}

/* Adds the one-time credential to a reply, under the name its kind uses. */
static bool cf_add_credential(json_t *reply, const char *kind, const char *secret, int64_t id,
                              int64_t expires)
{
    bool ok =
        json_object_set_new(reply, strcmp(kind, "mi") == 0 ? "identity_header" : "client_secret",
                            json_string(secret)) == 0 &&
        json_object_set_new(reply, "secret_id", json_integer(id)) == 0 &&
        json_object_set_new(reply, "secret_expires",
                            expires ? json_integer(expires) : json_null()) == 0;
    CF_ENSURE(ok, CF_ERR_NOMEM, NULL);
    return true;
}

bool cf_principal_create_handler(cf_vault_call *call)
{
    CF_GUARD(cf_vault_require_body(call));
    const char *name, *kind_api;
    CF_GUARD(cf_vault_json_string(call->body, "name", true, &name));
    CF_GUARD(cf_vault_json_string(call->body, "kind", false, &kind_api));
    CF_ENSURE(strlen(name) >= 1 && strlen(name) < sizeof(((cf_principal *)0)->name),
              CF_ERR_BAD_INPUT, "name must be 1-127 characters");
    const char *kind = "sp";
    if (kind_api && strcmp(kind_api, "managedIdentity") == 0)
        kind = "mi";
    else
        CF_ENSURE(!kind_api || strcmp(kind_api, "servicePrincipal") == 0, CF_ERR_BAD_INPUT,
                  "kind must be servicePrincipal or managedIdentity");
    int64_t expires, id;
    CF_GUARD(cf_expiry(call->body, &expires));
    cf_principal p;
    char secret[CF_SECRET_TEXT];
    json_t *reply = NULL;
    bool ok = cf_identity_create_principal(call->vault, kind, name, expires, &p, secret,
                                           sizeof secret, &id) &&
              (reply = cf_principal_json(&p)) != NULL &&
              cf_add_credential(reply, kind, secret, id, expires);
    cf_memzero(secret, sizeof secret);
    if (!ok) {
        json_decref(reply);
        CF_ENSURE(cf_error_code() != CF_OK, CF_ERR_NOMEM, NULL);
        return false;
    }
    cf_log(CF_LOG_INFO, call->http->request_id, "principal %s (%s) created: %s", p.object_id, kind,
           p.name);
    return cf_vault_reply(call, 201, reply);
}

/* A principal and the metadata of its credentials; 404 when absent. */
static bool cf_principal_load(cf_vault_call *call, const char *oid, cf_principal *p,
                              cf_credential_info creds[CF_MAX_CREDENTIALS], size_t *n)
{
    CF_ENSURE_FOUND(cf_store_principal_by_oid(call->vault->store, oid, p), CF_ERR_NOT_FOUND,
                    "The principal does not exist.");
    *n = 0;
    return cf_store_credential_list(call->vault->store, oid, creds, CF_MAX_CREDENTIALS, n);
}

bool cf_principal_show_handler(cf_vault_call *call)
{
    const char *oid = call->params.principal;
    cf_principal p;
    cf_credential_info creds[CF_MAX_CREDENTIALS];
    size_t n;
    CF_GUARD(cf_principal_load(call, oid, &p, creds, &n));
    json_t *reply = cf_principal_json(&p), *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        json_array_append_new(
            list, json_pack("{s:I, s:I, s:o}", "id", (json_int_t)creds[i].id, "created",
                            (json_int_t)creds[i].created, "expires",
                            creds[i].expires ? json_integer(creds[i].expires) : json_null()));
    if (!reply || !list || json_object_set_new(reply, "secrets", list) != 0) {
        json_decref(reply);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    return cf_vault_reply(call, 200, reply);
}

bool cf_principal_delete_handler(cf_vault_call *call)
{
    const char *oid = call->params.principal;
    CF_ENSURE(strcmp(oid, call->caller.object_id) != 0, CF_ERR_CONFLICT,
              "A principal cannot delete itself.");
    CF_ENSURE_FOUND(cf_store_principal_delete(call->vault->store, oid), CF_ERR_NOT_FOUND,
                    "The principal does not exist.");
    cf_log(CF_LOG_INFO, call->http->request_id, "principal %s deleted", oid);
    return cf_vault_reply(call, 204, NULL);
}

bool cf_principal_secret_add_handler(cf_vault_call *call)
{
    const char *oid = call->params.principal;
    cf_principal p;
    cf_credential_info creds[CF_MAX_CREDENTIALS];
    size_t n;
    CF_GUARD(cf_principal_load(call, oid, &p, creds, &n));
    int64_t expires = 0, id;
    if (call->body)
        CF_GUARD(cf_expiry(call->body, &expires));
    CF_ENSURE(n < CF_MAX_CREDENTIALS, CF_ERR_CONFLICT,
              "The principal has the maximum number of secrets; remove one first.");
    char secret[CF_SECRET_TEXT];
    json_t *reply = json_object();
    bool ok = reply &&
              cf_identity_new_credential(call->vault, oid, expires, secret, sizeof secret, &id) &&
              cf_add_credential(reply, p.kind, secret, id, expires);
    cf_memzero(secret, sizeof secret);
    if (!ok) {
        json_decref(reply);
        CF_ENSURE(cf_error_code() != CF_OK, CF_ERR_NOMEM, NULL);
        return false;
    }
    cf_log(CF_LOG_INFO, call->http->request_id, "principal %s: secret %lld added", oid,
           (long long)id);
    return cf_vault_reply(call, 201, reply);
}

bool cf_principal_secret_remove_handler(cf_vault_call *call)
{
    const char *oid = call->params.principal, *id_text = call->params.credential;
    char *end = NULL;
    long long id = strtoll(id_text, &end, 10);
    CF_ENSURE(*id_text && !*end && id > 0, CF_ERR_NOT_FOUND, "The secret does not exist.");
    CF_ENSURE_FOUND(cf_store_credential_delete(call->vault->store, oid, id), CF_ERR_NOT_FOUND,
                    "The secret does not exist.");
    return cf_vault_reply(call, 204, NULL);
}

bool cf_principal_permissions_handler(cf_vault_call *call)
{
    const char *scope = cf_http_query(call->http, "scope");
    if (!scope || !*scope)
        scope = "/";
    CF_ENSURE(cf_rbac_valid_scope(scope), CF_ERR_BAD_INPUT,
              "scope must be /, /keys, /secrets, /keys/NAME or /secrets/NAME");
    cf_principal p;
    CF_ENSURE_FOUND(cf_store_principal_by_oid(call->vault->store, call->params.principal, &p),
                    CF_ERR_NOT_FOUND, "The principal does not exist.");
    json_t *perms = cf_vault_permissions(call->vault, p.object_id, scope);
    CF_GUARD(perms);
    json_t *reply = json_pack("{s:s, s:s, s:s, s:o}", "object_id", p.object_id, "name", p.name,
                              "scope", scope, "permissions", perms);
    CF_ENSURE_ALLOC(reply);
    return cf_vault_reply(call, 200, reply);
}
