/*
 * RBAC: the built-in roles, the access check, and the role definitions and
 * role assignments API (rbac.json).  See rbac.h.
 */
#include "rbac.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ids.h"
#include "log.h"
#include "resource.h"
#include "token_roles.h"

#define CF_MAX_ACTIONS 12
/* Role assignments one principal may hold, and the most the API lists. */
#define CF_MAX_PRINCIPAL_ASSIGNMENTS 64
#define CF_MAX_ASSIGNMENTS 4096
#define CF_ROLE_DEF_PREFIX "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/"

struct cf_role {
    const char *id;
    const char *name;
    const char *description;
    const char *data_actions[CF_MAX_ACTIONS];
    const char *not_data_actions[CF_MAX_ACTIONS];
};

/* Azure's built-in Key Vault roles, with their published GUIDs and data
 * actions. */
static const cf_role cf_roles[] = {
    {CF_ROLE_ADMINISTRATOR,
     "Key Vault Administrator",
     "Perform all data plane operations on a key vault and all objects in it.",
     {CF_ACT("*")},
     {NULL}},
    {"14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
     "Key Vault Crypto Officer",
     "Perform any action on the keys of a key vault, except manage permissions.",
     {CF_ACT("keys/*"), CF_ACT("keyrotationpolicies/*")},
     {NULL}},
    {"12338af0-0e69-4776-bea7-57ae8d297424",
     "Key Vault Crypto User",
     "Perform cryptographic operations using keys.",
     {CF_ACT("keys/read"), CF_ACT("keys/update/action"), CF_ACT("keys/backup/action"),
      CF_ACT("keys/encrypt/action"), CF_ACT("keys/decrypt/action"), CF_ACT("keys/wrap/action"),
      CF_ACT("keys/unwrap/action"), CF_ACT("keys/sign/action"), CF_ACT("keys/verify/action")},
     {NULL}},
    {"e147488a-f6f5-4113-8e2d-b22465e65bf6",
     "Key Vault Crypto Service Encryption User",
     "Read metadata of keys and perform wrap/unwrap operations.",
     {CF_ACT("keys/read"), CF_ACT("keys/wrap/action"), CF_ACT("keys/unwrap/action")},
     {NULL}},
    {"08bbd89e-9f13-488c-ac41-acfcb10c90ab",
     "Key Vault Crypto Service Release User",
     "Release keys.",
     {CF_ACT("keys/release/action")},
     {NULL}},
    {"b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
     "Key Vault Secrets Officer",
     "Perform any action on the secrets of a key vault, except manage permissions.",
     {CF_ACT("secrets/*")},
     {NULL}},
    {"4633458b-17de-408a-b874-0445c86b69e6",
     "Key Vault Secrets User",
     "Read secret contents.",
     {CF_ACT("secrets/getSecret/action"), CF_ACT("secrets/readMetadata/action")},
     {NULL}},
    {"21090545-7ca7-4776-b22c-e363652d74d2",
     "Key Vault Reader",
     "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read "
     "sensitive values such as secret contents or key material.",
     {CF_ACT("*/read"), CF_ACT("secrets/readMetadata/action")},
     {NULL}},
    /* Coffer's own: scraping both services' /metrics (docs/metrics.md).
     * The action ends in "/action", so Key Vault Reader's "*\/read" does
     * not reach it; only administrators and this role do. */
    {CF_ROLE_METRICS_READER,
     "Coffer Metrics Reader",
     "Read the service metrics of the vault and the blob service.",
     {CF_ACTION_METRICS},
     {NULL}},
    /* Coffer's own: the blob service's management plane (accounts, key
     * sources, encryption scopes, Storage Blob Data role assignments), as
     * Azure's Storage Account Contributor is in ARM.  Not data access:
     * reading blobs still needs a Storage Blob Data role there. */
    {CF_ROLE_STORAGE_ADMINISTRATOR,
     "Coffer Storage Administrator",
     "Manage the blob service's storage accounts, encryption scopes and data role assignments.",
     {CF_ACTION_STORAGE_MANAGE},
     {NULL}},
};

#define CF_N_ROLES (sizeof cf_roles / sizeof *cf_roles)

static const cf_app_role cf_app_role_table[] = {
    {CF_ACTION_METRICS, CF_TOKEN_ROLE_METRICS},
    {CF_ACTION_STORAGE_MANAGE, CF_TOKEN_ROLE_STORAGE_ADMIN},
};

const cf_app_role *cf_app_roles(size_t *n)
{
    *n = sizeof cf_app_role_table / sizeof *cf_app_role_table;
    return cf_app_role_table;
}

const cf_role *cf_role_find(const char *id_or_name)
{
    if (!id_or_name)
        return NULL;
    /* Accept a bare GUID or any id ending in one ("…/roleDefinitions/{guid}"). */
    const char *slash = strrchr(id_or_name, '/');
    const char *tail = slash ? slash + 1 : id_or_name;
    for (size_t i = 0; i < CF_N_ROLES; i++)
        if (strcasecmp(tail, cf_roles[i].id) == 0 || strcasecmp(id_or_name, cf_roles[i].name) == 0)
            return &cf_roles[i];
    return NULL;
}

const char *cf_role_id(const cf_role *role)
{
    return role->id;
}

const char *cf_role_name(const cf_role *role)
{
    return role->name;
}

/* Case-insensitive glob; '*' matches any run of characters, '/' included. */
bool cf_rbac_match(const char *p, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            resume = s;
        } else if (*p && (*p | 0x20) == (*s | 0x20) && (*p != '*')) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == 0;
}

static bool cf_any_match(const char *const *patterns, const char *action)
{
    for (size_t i = 0; i < CF_MAX_ACTIONS && patterns[i]; i++)
        if (cf_rbac_match(patterns[i], action))
            return true;
    return false;
}

size_t cf_role_count(void)
{
    return CF_N_ROLES;
}

const cf_role *cf_role_at(size_t i)
{
    return i < CF_N_ROLES ? &cf_roles[i] : NULL;
}

bool cf_role_grants(const cf_role *role, const char *action)
{
    return cf_any_match(role->data_actions, action) &&
           !cf_any_match(role->not_data_actions, action);
}

/* An assignment at `granted` covers `target` when it is "/" or equal to
 * it or one of its ancestors, segment-wise and case-insensitively. */
static bool cf_scope_covers(const char *granted, const char *target)
{
    size_t n = strlen(granted);
    while (n > 0 && granted[n - 1] == '/')
        n--;
    if (n == 0)
        return true;
    return strncasecmp(granted, target, n) == 0 && (target[n] == 0 || target[n] == '/');
}

bool cf_rbac_allowed(cf_vault *vault, const char *principal_id, const char *action,
                     const char *scope, bool *allowed)
{
    cf_role_assignment rows[CF_MAX_PRINCIPAL_ASSIGNMENTS]; /* ~18 KiB of stack */
    size_t n = 0;
    *allowed = false;
    CF_GUARD(cf_store_assignment_list(vault->store, principal_id, rows,
                                      CF_MAX_PRINCIPAL_ASSIGNMENTS, &n));
    for (size_t i = 0; i < n && !*allowed; i++) {
        const cf_role *role = cf_role_find(rows[i].role_id);
        *allowed = role && cf_scope_covers(rows[i].scope, scope) && cf_role_grants(role, action);
    }
    return true;
}

bool cf_rbac_authorize(cf_vault_call *call, const char *action, const char *scope)
{
    bool allowed;
    CF_GUARD(cf_rbac_allowed(call->vault, call->caller.object_id, action, scope, &allowed));
    call->action = action;
    CF_ENSUREF(allowed, CF_ERR_FORBIDDEN,
               "Caller is not authorized to perform action on resource.\r\n"
               "Caller: appid=%s;oid=%s\r\nAction: '%s'\r\nResource: '%.160s'\r\n"
               "Assignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC'",
               call->caller.client_id, call->caller.object_id, action, scope);
    return true;
}

bool cf_rbac_assign(cf_vault *vault, const char *principal_id, const cf_role *role,
                    const char *scope, char name_out[CF_UUID_LEN + 1])
{
    cf_role_assignment a = {.created = cf_vault_now()};
    CF_GUARD(cf_uuid_v4(a.name));
    snprintf(a.scope, sizeof a.scope, "%s", scope);
    snprintf(a.role_id, sizeof a.role_id, "%s", role->id);
    snprintf(a.principal_id, sizeof a.principal_id, "%s", principal_id);
    CF_GUARD(cf_store_assignment_put(vault->store, &a));
    if (name_out)
        memcpy(name_out, a.name, 37);
    return true;
}

/* ---- the RBAC API ---- */

static json_t *cf_role_definition_json(const cf_role *role)
{
    json_t *data = json_array(), *not_data = json_array();
    for (size_t i = 0; i < CF_MAX_ACTIONS && role->data_actions[i]; i++)
        json_array_append_new(data, json_string(role->data_actions[i]));
    for (size_t i = 0; i < CF_MAX_ACTIONS && role->not_data_actions[i]; i++)
        json_array_append_new(not_data, json_string(role->not_data_actions[i]));
    char id[160];
    snprintf(id, sizeof id, CF_ROLE_DEF_PREFIX "%s", role->id);
    return json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:[{s:[], s:[], s:o, s:o}], s:[s]}}", "id",
                     id, "name", role->id, "type", "Microsoft.Authorization/roleDefinitions",
                     "properties", "roleName", role->name, "description", role->description, "type",
                     "AKVBuiltInRole", "permissions", "actions", "notActions", "dataActions", data,
                     "notDataActions", not_data, "assignableScopes", "/");
}

static json_t *cf_assignment_json(const cf_role_assignment *a)
{
    char id[CF_SCOPE_MAX + 128], role[160];
    snprintf(id, sizeof id, "%s" CF_RBAC_PATH "roleAssignments/%s",
             strcmp(a->scope, "/") == 0 ? "" : a->scope, a->name);
    snprintf(role, sizeof role, CF_ROLE_DEF_PREFIX "%s", a->role_id);
    return json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "id", id, "name", a->name, "type",
                     "Microsoft.Authorization/roleAssignments", "properties", "scope", a->scope,
                     "roleDefinitionId", role, "principalId", a->principal_id);
}

bool cf_rbac_valid_scope(const char *scope)
{
    if (strcmp(scope, "/") == 0 || strcasecmp(scope, "/keys") == 0 ||
        strcasecmp(scope, "/secrets") == 0)
        return true;
    const char *names[] = {"/keys/", "/secrets/"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(names[i]);
        if (strncasecmp(scope, names[i], n) == 0)
            return cf_vault_valid_object_name(scope + n);
    }
    return false;
}

static bool cf_guid_ok(const char *s)
{
    if (strlen(s) != CF_UUID_LEN)
        return false;
    for (size_t i = 0; i < CF_UUID_LEN; i++) {
        char c = s[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')))
            return false;
    }
    return true;
}

bool cf_role_definition_refuse_handler(cf_vault_call *call)
{
    (void)call;
    CF_BAIL(CF_ERR_BAD_INPUT, "Custom role definitions are not supported; use the built-in roles.");
}

bool cf_role_definition_get_handler(cf_vault_call *call)
{
    const char *name = call->params.role;
    const cf_role *role = cf_role_find(name);
    CF_ENSURE_REASON(role && cf_guid_ok(name), CF_ERR_NOT_FOUND,
                     CF_VAULT_REASON_ROLE_DEFINITION_NOT_FOUND,
                     "Requested role definition not found");
    json_t *j = cf_role_definition_json(role);
    CF_ENSURE_ALLOC(j);
    return cf_vault_reply(call, 200, j);
}

bool cf_role_definition_list_handler(cf_vault_call *call)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < CF_N_ROLES; i++)
        json_array_append_new(list, cf_role_definition_json(&cf_roles[i]));
    json_t *reply = json_pack("{s:o}", "value", list);
    CF_ENSURE_ALLOC(reply);
    return cf_vault_reply(call, 200, reply);
}

bool cf_role_assignment_put_handler(cf_vault_call *call)
{
    const char *scope = call->params.scope, *name = call->params.assignment;
    CF_GUARD(cf_vault_require_body(call));
    json_t *props = json_object_get(call->body, "properties");
    const char *role_id = json_string_value(json_object_get(props, "roleDefinitionId"));
    const char *principal = json_string_value(json_object_get(props, "principalId"));
    CF_ENSURE(role_id && principal, CF_ERR_BAD_INPUT,
              "properties.roleDefinitionId and properties.principalId are required");
    const cf_role *role = cf_role_find(role_id);
    CF_ENSURE(role, CF_ERR_BAD_INPUT, "The role definition does not exist.");
    cf_principal p;
    CF_ENSURE(cf_guid_ok(principal), CF_ERR_BAD_INPUT,
              "The principal does not exist in this vault's directory.");
    CF_ENSURE_FOUND(cf_store_principal_by_oid(call->vault->store, principal, &p), CF_ERR_BAD_INPUT,
                    "The principal does not exist in this vault's directory.");
    /* The access check reads at most this many assignments per principal. */
    cf_role_assignment held[CF_MAX_PRINCIPAL_ASSIGNMENTS];
    size_t n_held = 0;
    CF_GUARD(cf_store_assignment_list(call->vault->store, p.object_id, held,
                                      CF_MAX_PRINCIPAL_ASSIGNMENTS, &n_held));
    CF_ENSURE(n_held < CF_MAX_PRINCIPAL_ASSIGNMENTS, CF_ERR_CONFLICT,
              "The principal holds the maximum number of role assignments (64).");
    cf_role_assignment a = {.created = cf_vault_now()};
    snprintf(a.name, sizeof a.name, "%s", name);
    snprintf(a.scope, sizeof a.scope, "%s", scope);
    snprintf(a.role_id, sizeof a.role_id, "%s", role->id);
    snprintf(a.principal_id, sizeof a.principal_id, "%s", p.object_id);
    CF_GUARD(cf_store_assignment_put(call->vault->store, &a));
    cf_log(CF_LOG_INFO, call->http->request_id, "role assignment %s: %s holds '%s' at %s", a.name,
           a.principal_id, role->name, a.scope);
    json_t *j = cf_assignment_json(&a);
    CF_ENSURE_ALLOC(j);
    return cf_vault_reply(call, 201, j);
}

static bool cf_assignment_get_or_delete(cf_vault_call *call, bool del)
{
    const char *scope = call->params.scope, *name = call->params.assignment;
    cf_role_assignment a;
    bool found = cf_store_assignment_get(call->vault->store, name, &a);
    CF_GUARD(found || cf_error_code() == CF_ERR_NOT_FOUND);
    CF_ENSURE_REASON(found && strcasecmp(a.scope, scope) == 0, CF_ERR_NOT_FOUND,
                     CF_VAULT_REASON_ROLE_ASSIGNMENT_NOT_FOUND,
                     "Requested role assignment not found");
    if (del)
        CF_GUARD(cf_store_assignment_delete(call->vault->store, name));
    json_t *j = cf_assignment_json(&a);
    CF_ENSURE_ALLOC(j);
    return cf_vault_reply(call, 200, j);
}

bool cf_role_assignment_get_handler(cf_vault_call *call)
{
    return cf_assignment_get_or_delete(call, false);
}

bool cf_role_assignment_delete_handler(cf_vault_call *call)
{
    return cf_assignment_get_or_delete(call, true);
}

bool cf_role_assignment_list_handler(cf_vault_call *call)
{
    const char *scope = call->params.scope;
    cf_role_assignment *rows = calloc(CF_MAX_ASSIGNMENTS, sizeof *rows);
    CF_ENSURE_ALLOC(rows);
    size_t n = 0;
    if (!cf_store_assignment_list(call->vault->store, NULL, rows, CF_MAX_ASSIGNMENTS, &n)) {
        free(rows);
        return false;
    }
    /* As Azure: assignments at, above or below the scope; with
     * $filter=atScope() only at or above it; $filter=principalId eq '{id}'
     * narrows to one principal. */
    const char *filter = cf_http_query(call->http, "$filter");
    char principal[40] = "";
    bool at_scope = filter && strcasecmp(filter, "atScope()") == 0;
    if (filter && !at_scope && sscanf(filter, "principalId eq '%36[0-9a-fA-F-]'", principal) != 1)
        principal[0] = 0;
    json_t *list = json_array();
    if (!list) {
        free(rows);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        bool related = cf_scope_covers(rows[i].scope, scope) ||
                       (!at_scope && cf_scope_covers(scope, rows[i].scope));
        if (!related || (principal[0] && strcasecmp(rows[i].principal_id, principal) != 0))
            continue;
        json_array_append_new(list, cf_assignment_json(&rows[i]));
    }
    free(rows);
    json_t *reply = json_pack("{s:o}", "value", list);
    CF_ENSURE_ALLOC(reply);
    return cf_vault_reply(call, 200, reply);
}

bool cf_rbac_split_path(const char *path, char scope[CF_SCOPE_MAX + 1], const char **rest)
{
    const char *at = strstr(path, CF_RBAC_PATH);
    CF_ENSURE(at, CF_ERR_NOT_FOUND, "unknown path");
    /* The scope is what comes before; clients send "/", "//" or "///". */
    const char *start = path;
    while (*start == '/')
        start++;
    size_t len = start <= at ? (size_t)(at - start) : 0;
    CF_ENSURE(len < CF_SCOPE_MAX, CF_ERR_BAD_INPUT, "The scope is too long.");
    scope[0] = '/';
    memcpy(scope + 1, start, len);
    scope[1 + len] = 0;
    CF_ENSURE(cf_rbac_valid_scope(scope), CF_ERR_BAD_INPUT,
              "Scopes are '/', '/keys', '/secrets', '/keys/{name}' or '/secrets/{name}'.");
    *rest = at;
    return true;
}

bool cf_rbac_valid_assignment_name(const char *name)
{
    return cf_guid_ok(name);
}
