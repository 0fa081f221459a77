/*
 * The vault's request router: identity endpoints first (they authenticate
 * by their own means), then the Bearer check, so that the SDK's first,
 * token-less request gets the 401 challenge before anything else is looked
 * at; then api-version, the JSON body, and the operation.
 *
 * Every operation is a row of one table: method, path pattern, the Azure
 * data action it needs, and its handler.  The router matches the row,
 * checks the path's parameters, and authorizes the row's action on the
 * scope the path names, all before the handler runs: a handler cannot
 * forget the access check, and a denied caller learns nothing about
 * whether an object exists.  tests/unit/vault/test_vault_routes.c holds
 * every row's action against Azure's built-in role definitions.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit_writer.h"
#include "ids.h"
#include "log.h"
#include "console.h"
#include "keys.h"
#include "rbac.h"
#include "resource.h"
#include "users.h"
#include "vault.h"

#define CF_MAX_SEGMENTS 6

static bool cf_all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return n > 0;
}

/* Accepts every form the official SDKs and tools have sent: "7.0" ...
 * "7.6", dated versions such as "2016-10-01" and "2025-07-01", each
 * optionally "-preview" or "-preview.N" (azure-cli 2.45 sends
 * "7.4-preview.1"). */
static bool cf_api_version_ok(const char *v)
{
    if (!v)
        return false;
    size_t n = strlen(v);
    const char *preview = strstr(v, "-preview");
    if (preview) {
        const char *tail = preview + 8;
        if (*tail && !(tail[0] == '.' && cf_all_digits(tail + 1, strlen(tail + 1))))
            return false;
        n = (size_t)(preview - v);
    }
    if (n >= 3 && v[0] == '7' && v[1] == '.')
        return cf_all_digits(v + 2, n - 2);
    if (n != 10 || v[4] != '-' || v[7] != '-')
        return false;
    return cf_all_digits(v, 4) && cf_all_digits(v + 5, 2) && cf_all_digits(v + 8, 2) &&
           strncmp(v, "2016", 4) >= 0;
}

static bool cf_parse_body(cf_vault_call *call)
{
    cf_http_request *req = call->http;
    if (req->body.len == 0)
        return true;
    json_error_t jerr;
    call->body =
        json_loadb((const char *)req->body.data, req->body.len, JSON_REJECT_DUPLICATES, &jerr);
    CF_ENSURE(call->body, CF_ERR_BAD_INPUT, "the request body is not valid JSON");
    CF_ENSURE(json_is_object(call->body), CF_ERR_BAD_INPUT,
              "the request body must be a JSON object");
    return true;
}

/* ---- the operation table ---- */

#define KV(x) CF_ACT(x)
/* The 400 messages for a method no route of the path takes: the lists and
 * the RBAC API have always said the first, other paths the second. */
#define CF_UNSUPPORTED_METHOD "unsupported method"
#define CF_WRONG_METHOD "The HTTP method is not supported on this path."

static const cf_vault_route cf_routes[] = {
    /* keys */
    {.method = "GET",
     .pattern = "/keys",
     .action = KV("keys/read"),
     .resource = &cf_keys_resource,
     .handler = cf_resource_list_handler,
     .method_error = CF_UNSUPPORTED_METHOD},
    {.method = "GET",
     .pattern = "/keys/",
     .action = KV("keys/read"),
     .resource = &cf_keys_resource,
     .handler = cf_resource_list_handler,
     .method_error = CF_UNSUPPORTED_METHOD},
    {.method = "POST",
     .pattern = "/keys/restore",
     .action = KV("keys/restore/action"),
     .resource = &cf_keys_resource,
     .handler = cf_resource_restore_handler},
    {.method = "PUT",
     .pattern = "/keys/{name}",
     .action = KV("keys/import/action"),
     .resource = &cf_keys_resource,
     .handler = cf_key_import_handler},
    {.method = "DELETE",
     .pattern = "/keys/{name}",
     .action = KV("keys/delete"),
     .resource = &cf_keys_resource,
     .handler = cf_resource_delete_handler},
    {.method = "GET",
     .pattern = "/keys/{name}",
     .action = KV("keys/read"),
     .resource = &cf_keys_resource,
     .handler = cf_resource_get_handler},
    {.method = "PATCH",
     .pattern = "/keys/{name}",
     .action = KV("keys/update/action"),
     .resource = &cf_keys_resource,
     .handler = cf_key_update_handler},
    {.method = "POST",
     .pattern = "/keys/{name}/create",
     .action = KV("keys/create/action"),
     .resource = &cf_keys_resource,
     .handler = cf_key_create_handler},
    {.method = "POST",
     .pattern = "/keys/{name}/backup",
     .action = KV("keys/backup/action"),
     .resource = &cf_keys_resource,
     .handler = cf_resource_backup_handler},
    {.method = "POST",
     .pattern = "/keys/{name}/rotate",
     .action = KV("keys/rotate/action"),
     .resource = &cf_keys_resource,
     .handler = cf_key_rotate_handler},
    {.method = "GET",
     .pattern = "/keys/{name}/rotationpolicy",
     .action = KV("keyrotationpolicies/read"),
     .resource = &cf_keys_resource,
     .handler = cf_rotation_policy_get_handler},
    {.method = "PUT",
     .pattern = "/keys/{name}/rotationpolicy",
     .action = KV("keyrotationpolicies/write"),
     .resource = &cf_keys_resource,
     .handler = cf_rotation_policy_put_handler},
    {.method = "GET",
     .pattern = "/keys/{name}/versions",
     .action = KV("keys/read"),
     .resource = &cf_keys_resource,
     .handler = cf_resource_list_versions_handler},
    {.method = "GET",
     .pattern = "/keys/{name}/{version}",
     .action = KV("keys/read"),
     .resource = &cf_keys_resource,
     .handler = cf_resource_get_handler},
    {.method = "PATCH",
     .pattern = "/keys/{name}/{version}",
     .action = KV("keys/update/action"),
     .resource = &cf_keys_resource,
     .handler = cf_key_update_handler},
    {.method = "POST",
     .pattern = "/keys/{name}/{version}/encrypt",
     .action = KV("keys/encrypt/action"),
     .resource = &cf_keys_resource,
     .handler = cf_key_op_handler},
    {.method = "POST",
     .pattern = "/keys/{name}/{version}/decrypt",
     .action = KV("keys/decrypt/action"),
     .resource = &cf_keys_resource,
     .handler = cf_key_op_handler},
    {.method = "POST",
     .pattern = "/keys/{name}/{version}/wrapkey",
     .action = KV("keys/wrap/action"),
     .resource = &cf_keys_resource,
     .handler = cf_key_op_handler},
    {.method = "POST",
     .pattern = "/keys/{name}/{version}/unwrapkey",
     .action = KV("keys/unwrap/action"),
     .resource = &cf_keys_resource,
     .handler = cf_key_op_handler},
    {.method = "POST",
     .pattern = "/keys/{name}/{version}/sign",
     .action = KV("keys/sign/action"),
     .resource = &cf_keys_resource,
     .handler = cf_key_op_handler},
    {.method = "POST",
     .pattern = "/keys/{name}/{version}/verify",
     .action = KV("keys/verify/action"),
     .resource = &cf_keys_resource,
     .handler = cf_key_op_handler},
    /* deleted keys */
    {.method = "GET",
     .pattern = "/deletedkeys",
     .action = KV("keys/read"),
     .resource = &cf_keys_resource,
     .handler = cf_resource_list_deleted_handler},
    {.method = "GET",
     .pattern = "/deletedkeys/{name}",
     .action = KV("keys/read"),
     .resource = &cf_keys_resource,
     .handler = cf_resource_get_deleted_handler},
    {.method = "DELETE",
     .pattern = "/deletedkeys/{name}",
     .action = KV("keys/purge/action"),
     .resource = &cf_keys_resource,
     .handler = cf_resource_purge_handler},
    {.method = "POST",
     .pattern = "/deletedkeys/{name}/recover",
     .action = KV("keys/recover/action"),
     .resource = &cf_keys_resource,
     .handler = cf_resource_recover_handler},
    /* secrets */
    {.method = "GET",
     .pattern = "/secrets",
     .action = KV("secrets/readMetadata/action"),
     .resource = &cf_secrets_resource,
     .handler = cf_resource_list_handler,
     .method_error = CF_UNSUPPORTED_METHOD},
    {.method = "GET",
     .pattern = "/secrets/",
     .action = KV("secrets/readMetadata/action"),
     .resource = &cf_secrets_resource,
     .handler = cf_resource_list_handler,
     .method_error = CF_UNSUPPORTED_METHOD},
    {.method = "POST",
     .pattern = "/secrets/restore",
     .action = KV("secrets/restore/action"),
     .resource = &cf_secrets_resource,
     .handler = cf_resource_restore_handler},
    {.method = "PUT",
     .pattern = "/secrets/{name}",
     .action = KV("secrets/setSecret/action"),
     .resource = &cf_secrets_resource,
     .handler = cf_secret_set_handler},
    {.method = "DELETE",
     .pattern = "/secrets/{name}",
     .action = KV("secrets/delete"),
     .resource = &cf_secrets_resource,
     .handler = cf_resource_delete_handler},
    {.method = "GET",
     .pattern = "/secrets/{name}",
     .action = KV("secrets/getSecret/action"),
     .resource = &cf_secrets_resource,
     .handler = cf_secret_get_handler},
    {.method = "PATCH",
     .pattern = "/secrets/{name}",
     .action = KV("secrets/update/action"),
     .resource = &cf_secrets_resource,
     .handler = cf_secret_update_handler},
    {.method = "POST",
     .pattern = "/secrets/{name}/backup",
     .action = KV("secrets/backup/action"),
     .resource = &cf_secrets_resource,
     .handler = cf_resource_backup_handler},
    {.method = "GET",
     .pattern = "/secrets/{name}/versions",
     .action = KV("secrets/readMetadata/action"),
     .resource = &cf_secrets_resource,
     .handler = cf_resource_list_versions_handler},
    {.method = "GET",
     .pattern = "/secrets/{name}/{version}",
     .action = KV("secrets/getSecret/action"),
     .resource = &cf_secrets_resource,
     .handler = cf_secret_get_handler},
    {.method = "PATCH",
     .pattern = "/secrets/{name}/{version}",
     .action = KV("secrets/update/action"),
     .resource = &cf_secrets_resource,
     .handler = cf_secret_update_handler},
    /* deleted secrets */
    {.method = "GET",
     .pattern = "/deletedsecrets",
     .action = KV("secrets/readMetadata/action"),
     .resource = &cf_secrets_resource,
     .handler = cf_resource_list_deleted_handler},
    {.method = "GET",
     .pattern = "/deletedsecrets/{name}",
     .action = KV("secrets/readMetadata/action"),
     .resource = &cf_secrets_resource,
     .handler = cf_resource_get_deleted_handler},
    {.method = "DELETE",
     .pattern = "/deletedsecrets/{name}",
     .action = KV("secrets/purge/action"),
     .resource = &cf_secrets_resource,
     .handler = cf_resource_purge_handler},
    {.method = "POST",
     .pattern = "/deletedsecrets/{name}/recover",
     .action = KV("secrets/recover/action"),
     .resource = &cf_secrets_resource,
     .handler = cf_resource_recover_handler},
    /* Key Vault has no RNG data action (the API is Managed HSM's); the
     * vault-wide "rng/action" is granted by the Administrator role. */
    {.method = "POST", .pattern = "/rng", .action = KV("rng/action"), .handler = cf_rng_handler},
    /* Coffer's principal administration (principals.c) */
    {.method = "GET",
     .pattern = "/coffer/principals",
     .action = KV("principals/read/action"),
     .handler = cf_principal_list_handler},
    {.method = "POST",
     .pattern = "/coffer/principals",
     .action = KV("principals/write/action"),
     .handler = cf_principal_create_handler},
    {.method = "GET",
     .pattern = "/coffer/principals/{principal}",
     .action = KV("principals/read/action"),
     .handler = cf_principal_show_handler},
    {.method = "DELETE",
     .pattern = "/coffer/principals/{principal}",
     .action = KV("principals/delete/action"),
     .handler = cf_principal_delete_handler},
    {.method = "POST",
     .pattern = "/coffer/principals/{principal}/secrets",
     .action = KV("principals/write/action"),
     .handler = cf_principal_secret_add_handler},
    {.method = "GET",
     .pattern = "/coffer/principals/{principal}/permissions",
     .action = KV("principals/read/action"),
     .handler = cf_principal_permissions_handler},
    {.method = "DELETE",
     .pattern = "/coffer/principals/{principal}/secrets/{credential}",
     .action = KV("principals/write/action"),
     .handler = cf_principal_secret_remove_handler},
    {.method = "GET",
     .pattern = "/coffer/health",
     .action = KV("health/read/action"),
     .handler = cf_health_handler},
    {.method = "GET",
     .pattern = "/coffer/audit",
     .action = KV("audit/read/action"),
     .handler = cf_audit_read_handler},
    {.method = "GET",
     .pattern = "/coffer/users",
     .action = KV("users/read/action"),
     .handler = cf_user_list_handler},
    {.method = "POST",
     .pattern = "/coffer/users",
     .action = KV("users/write/action"),
     .handler = cf_user_create_handler},
    {.method = "GET",
     .pattern = "/coffer/users/{principal}",
     .action = KV("users/read/action"),
     .handler = cf_user_show_handler},
    {.method = "DELETE",
     .pattern = "/coffer/users/{principal}",
     .action = KV("users/delete/action"),
     .handler = cf_user_delete_handler},
    {.method = "POST",
     .pattern = "/coffer/users/{principal}/password",
     .action = KV("users/write/action"),
     .handler = cf_user_password_handler},
    /* The RBAC API, after its {scope} prefix (rbac.c); checked on "/". */
    {.method = "GET",
     .pattern = CF_RBAC_PATH "roleDefinitions",
     .action = KV("roleDefinitions/read"),
     .handler = cf_role_definition_list_handler},
    {.method = NULL,
     .pattern = CF_RBAC_PATH "roleDefinitions",
     .action = KV("roleDefinitions/read"),
     .handler = cf_role_definition_refuse_handler},
    {.method = "GET",
     .pattern = CF_RBAC_PATH "roleDefinitions/{role}",
     .action = KV("roleDefinitions/read"),
     .handler = cf_role_definition_get_handler},
    {.method = NULL,
     .pattern = CF_RBAC_PATH "roleDefinitions/{role}",
     .action = KV("roleDefinitions/read"),
     .handler = cf_role_definition_refuse_handler},
    {.method = "GET",
     .pattern = CF_RBAC_PATH "roleAssignments",
     .action = KV("roleAssignments/read"),
     .handler = cf_role_assignment_list_handler,
     .method_error = CF_UNSUPPORTED_METHOD},
    {.method = "PUT",
     .pattern = CF_RBAC_PATH "roleAssignments/{assignment}",
     .action = KV("roleAssignments/write/action"),
     .handler = cf_role_assignment_put_handler,
     .method_error = CF_UNSUPPORTED_METHOD},
    {.method = "DELETE",
     .pattern = CF_RBAC_PATH "roleAssignments/{assignment}",
     .action = KV("roleAssignments/delete/action"),
     .handler = cf_role_assignment_delete_handler,
     .method_error = CF_UNSUPPORTED_METHOD},
    {.method = "GET",
     .pattern = CF_RBAC_PATH "roleAssignments/{assignment}",
     .action = KV("roleAssignments/read"),
     .handler = cf_role_assignment_get_handler,
     .method_error = CF_UNSUPPORTED_METHOD},
};

#undef KV
#undef CF_UNSUPPORTED_METHOD

#define CF_N_ROUTES (sizeof cf_routes / sizeof *cf_routes)

const cf_vault_route *cf_vault_routes(size_t *count)
{
    *count = CF_N_ROUTES;
    return cf_routes;
}

/* ---- matching ---- */

/* What a request's area (its first segment, or the RBAC API) says about
 * its errors: the reason a not-found carries (Key Vault's KeyNotFound...),
 * how a handler's not-found is worded, and the message for a bad {name}. */
typedef struct {
    const char *segment;
    const char *not_found;    /* reason; NULL = a plain NotFound */
    const char *noun;         /* "A key with (name/id) ..." */
    const char *deleted_noun; /* "Deleted Key not found: ..."; NULL for live objects */
    const char *bad_name;
} cf_area;

#define CF_OBJECT_NAME_RULE "1-127 characters of letters, digits and dashes."

static const cf_area cf_areas[] = {
    {.segment = "keys",
     .not_found = CF_VAULT_REASON_KEY_NOT_FOUND,
     .noun = "key",
     .bad_name = "Key names must be " CF_OBJECT_NAME_RULE},
    {.segment = "deletedkeys",
     .not_found = CF_VAULT_REASON_KEY_NOT_FOUND,
     .noun = "key",
     .deleted_noun = "Key",
     .bad_name = "Object names must be " CF_OBJECT_NAME_RULE},
    {.segment = "secrets",
     .not_found = CF_VAULT_REASON_SECRET_NOT_FOUND,
     .noun = "secret",
     .bad_name = "Secret names must be " CF_OBJECT_NAME_RULE},
    {.segment = "deletedsecrets",
     .not_found = CF_VAULT_REASON_SECRET_NOT_FOUND,
     .noun = "secret",
     .deleted_noun = "Secret",
     .bad_name = "Object names must be " CF_OBJECT_NAME_RULE},
    {.segment = "coffer"},
};

static const cf_area cf_role_definitions_area = {.not_found =
                                                     CF_VAULT_REASON_ROLE_DEFINITION_NOT_FOUND};
static const cf_area cf_role_assignments_area = {.not_found =
                                                     CF_VAULT_REASON_ROLE_ASSIGNMENT_NOT_FOUND};

/* NULL: a path outside every area ("/rng" and the unknown), where any
 * request no route takes is simply not found. */
static const cf_area *cf_area_of(const char *path)
{
    if (strstr(path, CF_RBAC_PATH))
        return strstr(path, "/roleDefinitions") ? &cf_role_definitions_area
                                                : &cf_role_assignments_area;
    const char *first = path[0] == '/' ? path + 1 : path;
    size_t len = strcspn(first, "/");
    for (size_t i = 0; i < sizeof cf_areas / sizeof *cf_areas; i++)
        if (strlen(cf_areas[i].segment) == len && strncmp(first, cf_areas[i].segment, len) == 0)
            return &cf_areas[i];
    return NULL;
}

/* The request's path, split, and where routing got to. */
typedef struct {
    char path[1024];
    char *seg[CF_MAX_SEGMENTS];
    size_t n;
    char scope[CF_SCOPE_MAX + 1]; /* the RBAC API's */
    const cf_area *area;
    bool handled; /* the handler ran: its errors are its own */
} cf_routing;

/* Copies `raw` into `rt->path` and splits "/a/b/" into {"a", "b", ""};
 * fails beyond CF_MAX_SEGMENTS. */
static bool cf_split_path(const char *raw, cf_routing *rt)
{
    rt->n = 0;
    CF_ENSURE(strlen(raw) < sizeof rt->path && raw[0] == '/', CF_ERR_NOT_FOUND, "unknown path");
    memcpy(rt->path, raw, strlen(raw) + 1);
    char *p = rt->path + 1;
    for (;;) {
        CF_ENSURE(rt->n < CF_MAX_SEGMENTS, CF_ERR_NOT_FOUND, "unknown path");
        rt->seg[rt->n++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            return true;
        *slash = 0;
        p = slash + 1;
    }
}

typedef enum {
    CF_MATCH_NONE,
    CF_MATCH_BAD_NAME, /* no match, but only past an invalid {name} */
    CF_MATCH_PATH,     /* the path matches (the method may not) */
} cf_match;

static bool cf_token_is(const char *p, size_t len, const char *token)
{
    return strlen(token) == len && strncmp(p, token, len) == 0;
}

/* Compares a pattern with the request's segments, capturing parameters.
 * {version} matches only a version id or "" (the latest); the other
 * parameters match any segment and are checked once a route is chosen. */
static cf_match cf_route_match(const char *pattern, const cf_routing *rt, cf_vault_params *params)
{
    bool bad_name = false;
    size_t i = 0;
    *params = (cf_vault_params){0};
    for (const char *p = pattern; *p == '/';) {
        p++;
        size_t len = strcspn(p, "/");
        const char *s = i < rt->n ? rt->seg[i++] : NULL;
        if (!s)
            return bad_name ? CF_MATCH_BAD_NAME : CF_MATCH_NONE;
        if (cf_token_is(p, len, "{name}")) {
            params->name = s;
            bad_name = bad_name || !cf_vault_valid_object_name(s);
        } else if (cf_token_is(p, len, "{version}")) {
            if (*s && strlen(s) != CF_VERSION_LEN)
                return bad_name ? CF_MATCH_BAD_NAME : CF_MATCH_NONE;
            params->version = s;
        } else if (cf_token_is(p, len, "{principal}")) {
            params->principal = s;
        } else if (cf_token_is(p, len, "{credential}")) {
            params->credential = s;
        } else if (cf_token_is(p, len, "{role}")) {
            params->role = s;
        } else if (cf_token_is(p, len, "{assignment}")) {
            params->assignment = s;
        } else if (!cf_token_is(p, len, s)) {
            return bad_name ? CF_MATCH_BAD_NAME : CF_MATCH_NONE;
        }
        p += len;
    }
    if (i != rt->n)
        return bad_name ? CF_MATCH_BAD_NAME : CF_MATCH_NONE;
    return CF_MATCH_PATH;
}

/* The parameters of a chosen route, checked in the order the client is
 * told about them: names first. */
static bool cf_check_params(const cf_vault_params *p, const cf_area *area)
{
    CF_ENSURE(!p->name || cf_vault_valid_object_name(p->name), CF_ERR_BAD_INPUT,
              area && area->bad_name ? area->bad_name : "invalid name");
    CF_ENSURE(!p->principal || strlen(p->principal) == CF_UUID_LEN, CF_ERR_NOT_FOUND,
              "The principal does not exist.");
    CF_ENSURE(!p->assignment || cf_rbac_valid_assignment_name(p->assignment), CF_ERR_BAD_INPUT,
              "Role assignment names must be GUIDs.");
    return true;
}

/* "METHOD pattern" for each route ("*" for any method): the operation
 * label of its metrics, made once. */
static char cf_route_labels[CF_N_ROUTES][128];
static pthread_once_t cf_route_labels_once = PTHREAD_ONCE_INIT;

static void cf_route_labels_make(void)
{
    for (size_t i = 0; i < CF_N_ROUTES; i++)
        snprintf(cf_route_labels[i], sizeof cf_route_labels[i], "%s %s",
                 cf_routes[i].method ? cf_routes[i].method : "*", cf_routes[i].pattern);
}

static const char *cf_route_label(const cf_vault_route *r)
{
    pthread_once(&cf_route_labels_once, cf_route_labels_make);
    return cf_route_labels[r - cf_routes];
}

/* Chooses the route: the first whose path and method match.  A path some
 * route takes with another method is a 400; a path past an invalid name
 * is that name's 400; anything else is not found. */
static bool cf_route_find(cf_vault_call *call, const cf_routing *rt)
{
    const char *method = call->http->method;
    const cf_vault_route *path_hit = NULL;
    bool bad_name = false;
    cf_vault_params params;
    for (size_t i = 0; i < CF_N_ROUTES && !call->route; i++) {
        cf_match m = cf_route_match(cf_routes[i].pattern, rt, &params);
        bool method_fits = !cf_routes[i].method || strcmp(cf_routes[i].method, method) == 0;
        if (m == CF_MATCH_PATH && method_fits)
            call->route = &cf_routes[i];
        else if (m == CF_MATCH_PATH && !path_hit)
            path_hit = &cf_routes[i];
        bad_name = bad_name || m == CF_MATCH_BAD_NAME;
    }
    /* Outside every area, whatever no route takes is simply not found. */
    CF_ENSURE(call->route || rt->area, CF_ERR_NOT_FOUND, "The requested path does not exist.");
    const cf_vault_route *r = call->route ? call->route : path_hit;
    if (!r) {
        CF_ENSURE(!bad_name, CF_ERR_BAD_INPUT, rt->area->bad_name);
        CF_BAIL(CF_ERR_NOT_FOUND, "unknown path");
    }
    (void)cf_route_match(r->pattern, rt, &call->params);
    call->http->operation = cf_route_label(r);
    call->params.scope = rt->scope[0] ? rt->scope : NULL;
    CF_GUARD(cf_check_params(&call->params, rt->area));
    CF_ENSURE(call->route, CF_ERR_BAD_INPUT, r->method_error ? r->method_error : CF_WRONG_METHOD);
    return true;
}

json_t *cf_vault_permissions(cf_vault *vault, const char *object_id, const char *scope)
{
    json_t *perms = json_object();
    const size_t prefix = strlen(CF_ACT(""));
    bool ok = perms != NULL;
    /* Every route's action, then the app roles' (rbac.h). */
    size_t n_app;
    const cf_app_role *app = cf_app_roles(&n_app);
    for (size_t i = 0; ok && i < CF_N_ROUTES + n_app; i++) {
        const char *action = i < CF_N_ROUTES ? cf_routes[i].action : app[i - CF_N_ROUTES].action;
        bool allowed = false;
        if (json_object_get(perms, &action[prefix]))
            continue;
        ok = cf_rbac_allowed(vault, object_id, action, scope, &allowed) &&
             json_object_set_new(perms, &action[prefix], json_boolean(allowed)) == 0;
    }
    if (!ok) {
        json_decref(perms);
        CF_RAISE(cf_error_code() ? cf_error_code() : CF_ERR_NOMEM, "cannot list permissions");
        return NULL;
    }
    return perms;
}

/* GET /coffer/me: who the caller is and which data actions it holds on the
 * whole vault ("/"), for a user interface to offer only what will work
 * (the API still decides each request).  Any authenticated caller. */
static bool cf_me_reply(cf_vault_call *call)
{
    json_t *perms = cf_vault_permissions(call->vault, call->caller.object_id, "/");
    CF_GUARD(perms);
    json_t *reply = json_pack("{s:s, s:s, s:s, s:o}", "object_id", call->caller.object_id, "name",
                              call->caller.name, "kind", call->caller.kind, "permissions", perms);
    CF_ENSURE_ALLOC(reply);
    return cf_vault_reply(call, 200, reply);
}

/* The one access check: the route's data action, on the object the path
 * names, its collection, or the vault. */
static bool cf_route_authorize(cf_vault_call *call)
{
    const cf_vault_route *r = call->route;
    CF_ENSURE(r->action, CF_ERR_INTERNAL, "a route without a data action");
    char scope[CF_SCOPE_MAX + 1] = "/";
    const char *name = call->params.name;
    if (r->resource)
        snprintf(scope, sizeof scope, "/%s%s%s", r->resource->collection, name ? "/" : "",
                 name ? name : "");
    return cf_rbac_authorize(call, r->action, scope);
}

static bool cf_route_request(cf_vault_call *call, cf_routing *rt)
{
    const char *path = call->http->path;
    rt->area = cf_area_of(path);
    if (strstr(path, CF_RBAC_PATH)) {
        /* The RBAC API: its scope prefix is not a resource path. */
        const char *rest;
        CF_GUARD(cf_parse_body(call));
        CF_GUARD(cf_rbac_split_path(path, rt->scope, &rest));
        CF_GUARD(cf_split_path(rest, rt));
    } else {
        CF_GUARD(cf_split_path(path, rt));
        CF_GUARD(cf_parse_body(call));
    }
    CF_GUARD(cf_route_find(call, rt));
    CF_GUARD(cf_route_authorize(call));
    rt->handled = true;
    return call->route->handler(call);
}

/* A not-found a keys or secrets handler raises is the store's: the object
 * is missing (routing's own not-founds are raised before any handler
 * runs).  Key Vault words it with the name and version.  Every not-found
 * of an area then carries the area's reason (KeyNotFound, ...). */
static void cf_reply_routed_error(cf_vault_call *call, const cf_routing *rt)
{
    const cf_area *area = rt->area;
    if (area && area->not_found && cf_error_code() == CF_ERR_NOT_FOUND && !cf_error_reason()) {
        const cf_vault_params *p = &call->params;
        char detail[512];
        if (rt->handled && area->noun && p->name && area->deleted_noun)
            snprintf(detail, sizeof detail, "Deleted %s not found: %s", area->deleted_noun,
                     p->name);
        else if (rt->handled && area->noun && p->name && p->version && *p->version)
            snprintf(detail, sizeof detail,
                     "A %s with (name/id) %s/%s was not found in this key vault.", area->noun,
                     p->name, p->version);
        else if (rt->handled && area->noun && p->name)
            snprintf(detail, sizeof detail,
                     "A %s with (name/id) %s was not found in this key vault.", area->noun,
                     p->name);
        else
            snprintf(detail, sizeof detail, "%s", cf_error_detail());
        CF_RAISE_REASON(CF_ERR_NOT_FOUND, area->not_found, detail);
    }
    cf_vault_reply_error(call);
}

/* Operations that change state are durable in the audit log before the
 * client hears of them; reads and key operations ride on the next sync. */
static bool cf_changes_state(const cf_vault_call *call)
{
    static const char *const pure[] = {
        "/encrypt/action",      "/decrypt/action",   "/wrap/action",  "/unwrap/action",
        "/sign/action",         "/verify/action",    "/rng/action",   "/read",
        "/readMetadata/action", "/getSecret/action", "/backup/action"};
    if (strcmp(call->http->method, "GET") == 0 || call->resp->status >= 400)
        return false;
    size_t n = call->action ? strlen(call->action) : 0;
    for (size_t i = 0; i < sizeof pure / sizeof *pure; i++) {
        size_t m = strlen(pure[i]);
        if (n >= m && strcmp(call->action + n - m, pure[i]) == 0)
            return false;
    }
    return true;
}

/* One audit line per request: who, from where, what, on which object, and
 * how it ended.  Never bodies, tokens or query strings. */
static void cf_audit_request(cf_vault_call *call, const char *operation)
{
    unsigned status = call->resp->status;
    cf_audit_event ev = {
        .request_id = call->http->request_id,
        .principal = call->caller.object_id,
        .client = call->http->client_addr,
        .operation = call->action ? call->action : operation,
        .object = call->http->path,
        .result = status < 400                     ? "success"
                  : status == 401 || status == 403 ? "denied"
                  : status == 429                  ? "throttled"
                                                   : "failure",
        .status = status,
    };
    if (!cf_audit_append(call->vault->audit, &ev, cf_changes_state(call))) {
        cf_log(CF_LOG_ERROR, call->http->request_id, "audit log append failed: %s",
               cf_error_detail());
        cf_error_raise(CF_ERR_IO, __FILE__, __LINE__, "audit log unavailable");
        cf_vault_reply_error(call);
    }
}

static void cf_log_request(cf_vault_call *call, const struct timespec *start)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ms =
        (double)(end.tv_sec - start->tv_sec) * 1e3 + (double)(end.tv_nsec - start->tv_nsec) / 1e6;
    cf_log(CF_LOG_INFO, call->http->request_id, "%s %s status=%u principal=%s client=%s ms=%.2f",
           call->http->method, call->http->path, call->resp->status,
           call->caller.object_id[0] ? call->caller.object_id : "-", call->http->client_addr, ms);
}

/* begin() looks at nothing but headers unless the client waits for
 * "100 Continue" (then it authenticates, which may read the store). */
bool cf_vault_begin_inline(void *ctx, const cf_http_request *req)
{
    (void)ctx;
    const char *expect = cf_http_header(req, "Expect");
    return !expect || strcasecmp(expect, "100-continue") != 0;
}

/* From the headers alone: a client that waits for "100 Continue" before
 * sending its body and carries no valid token is answered at once, with
 * the challenge, and its body is never read.  Everything else goes to
 * cf_vault_handle with its body (the token endpoints authenticate from it). */
cf_http_begin_result cf_vault_begin(void *ctx, cf_http_request *req, cf_http_response *resp)
{
    cf_vault *vault = ctx;
    const char *expect = cf_http_header(req, "Expect");
    bool identity_path = strncmp(req->path, "/msi/", 5) == 0 || strstr(req->path, "/oauth2/") ||
                         strstr(req->path, "/discovery/") || strstr(req->path, "/.well-known/");
    if (!expect || strcasecmp(expect, "100-continue") != 0 || identity_path)
        return CF_HTTP_BUFFER;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    cf_vault_call call = {.vault = vault, .http = req, .resp = resp};
    if (cf_identity_authenticate(vault, req, &call.caller))
        return CF_HTTP_BUFFER;
    cf_vault_reply_auth_failure(&call);
    cf_audit_request(&call, "authenticate");
    cf_log_request(&call, &start);
    return CF_HTTP_RESPOND;
}

void cf_vault_handle(void *ctx, cf_http_request *req, cf_http_response *resp)
{
    cf_vault *vault = ctx;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    cf_vault_call call = {.vault = vault, .http = req, .resp = resp};

    if (cf_console_route(vault, req, resp))
        return; /* static files: neither audited nor logged, as a web server's */
    if (cf_identity_route(vault, req, resp)) {
        cf_audit_request(&call, "identity");
        cf_log_request(&call, &start);
        return;
    }
    cf_routing rt = {0};
    if (cf_http_target_has_nul(req)) {
        /* A name must never be cut short at a NUL ("abc%00xyz" is not "abc"). */
        cf_error_raise(CF_ERR_BAD_INPUT, __FILE__, __LINE__,
                       "The request URI contains an encoded NUL character.");
        cf_vault_reply_error(&call);
    } else if (!cf_identity_authenticate(vault, req, &call.caller)) {
        cf_vault_reply_auth_failure(&call);
    } else if (cf_http_is_metrics_request(req)) {
        /* Scrapers send no api-version: this is not a Key Vault API. */
        req->operation = "GET /metrics";
        if (!cf_rbac_authorize(&call, CF_ACTION_METRICS, "/") || !cf_http_reply_metrics(resp))
            cf_vault_reply_error(&call);
    } else if (strcmp(req->method, "GET") == 0 && strcmp(req->path, "/coffer/me") == 0) {
        req->operation = "GET /coffer/me";
        if (!cf_me_reply(&call))
            cf_vault_reply_error(&call);
    } else if (!cf_api_version_ok(cf_http_query(req, "api-version"))) {
        cf_error_raise(CF_ERR_BAD_INPUT, __FILE__, __LINE__,
                       "The 'api-version' query parameter is missing or not supported.");
        cf_vault_reply_error(&call);
    } else if (!cf_route_request(&call, &rt)) {
        cf_reply_routed_error(&call, &rt);
    }
    json_decref(call.body);
    cf_audit_request(&call, call.caller.object_id[0] ? "unknown" : "authenticate");
    cf_log_request(&call, &start);
}
