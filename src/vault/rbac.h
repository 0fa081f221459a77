/*
 * Role-based access control with Azure's built-in Key Vault roles.
 *
 * Every route in the router's operation table (router.c) names the data
 * action it performs; the router checks it on the scope the route touches
 * ("/keys/{name}", "/secrets", "/"...) before the handler looks anything
 * up, so a denied caller learns nothing about whether the object exists.
 * Default deny: a caller is allowed when one of its role assignments has a
 * scope covering the target and a role whose dataActions match the action
 * and whose notDataActions (of the same role) do not.  Patterns are
 * Azure's: case-insensitive globs where '*' spans '/'.
 */
#ifndef CF_VAULT_RBAC_H
#define CF_VAULT_RBAC_H

#include "vault.h"
#include "ids.h"

#define CF_ACT(x) "Microsoft.KeyVault/vaults/" x
/* What marks a path of the RBAC API, after its scope. */
#define CF_RBAC_PATH "/providers/Microsoft.Authorization/"

/* 403 ForbiddenByRbac unless the caller may perform `action` on `scope`. */
CF_MUST_USE bool cf_rbac_authorize(cf_vault_call *call, const char *action, const char *scope);
/* The same check for any principal (no request needed). */
CF_MUST_USE bool cf_rbac_allowed(cf_vault *vault, const char *principal_id, const char *action,
                                 const char *scope, bool *allowed);
/* Azure's pattern match, exposed for tests. */
bool cf_rbac_match(const char *pattern, const char *action);

/* A built-in role by GUID or by name; NULL if none. */
typedef struct cf_role cf_role;
const cf_role *cf_role_find(const char *id_or_name);
const char *cf_role_id(const cf_role *role);
const char *cf_role_name(const cf_role *role);
/* The built-in roles, in order (for tests and listings); NULL past the end. */
size_t cf_role_count(void);
const cf_role *cf_role_at(size_t i);
/* Whether `role` grants `action`: a dataActions pattern matches it and no
 * notDataActions pattern does. */
bool cf_role_grants(const cf_role *role, const char *action);

/* Gives `principal_id` the role at `scope` (first start, CLI tests). */
CF_MUST_USE bool cf_rbac_assign(cf_vault *vault, const char *principal_id, const cf_role *role,
                                const char *scope, char name_out[CF_UUID_LEN + 1]);

/* The RBAC data-plane API: {scope}/providers/Microsoft.Authorization/...
 * Splits such a path into its validated scope ("/", "/keys/k") and the
 * rest ("/providers/Microsoft.Authorization/..."), which the router
 * matches against its table. */
CF_MUST_USE bool cf_rbac_split_path(const char *path, char scope[CF_SCOPE_MAX + 1],
                                    const char **rest);
/* A role assignment scope: "/", "/keys", "/secrets", or one object. */
bool cf_rbac_valid_scope(const char *scope);
/* Role assignment names are GUIDs. */
bool cf_rbac_valid_assignment_name(const char *name);
CF_MUST_USE bool cf_role_definition_list_handler(cf_vault_call *call);
CF_MUST_USE bool cf_role_definition_get_handler(cf_vault_call *call);
/* Any method but GET on role definitions: only built-in roles exist. */
CF_MUST_USE bool cf_role_definition_refuse_handler(cf_vault_call *call);
CF_MUST_USE bool cf_role_assignment_list_handler(cf_vault_call *call);
CF_MUST_USE bool cf_role_assignment_get_handler(cf_vault_call *call);
CF_MUST_USE bool cf_role_assignment_put_handler(cf_vault_call *call);
CF_MUST_USE bool cf_role_assignment_delete_handler(cf_vault_call *call);

#define CF_ROLE_ADMINISTRATOR "00482a5a-887f-4fb3-b363-3b7fe8e74483"
#define CF_ROLE_METRICS_READER "0c48ddf2-7505-4dd5-a2ca-b6cb524c3bf1"
/* What /metrics asks for; a token's "roles" claim carries
 * CF_TOKEN_ROLE_METRICS when its principal holds it on "/". */
#define CF_ACTION_METRICS CF_ACT("metrics/read/action")
#define CF_ROLE_STORAGE_ADMINISTRATOR "ab39aa1e-e132-4e2b-8e90-00cd7d69213e"
/* Managing coffer-blob (its /.coffer/ admin API): tokens carry
 * CF_TOKEN_ROLE_STORAGE_ADMIN when their principal holds it on "/". */
#define CF_ACTION_STORAGE_MANAGE CF_ACT("storage/manage/action")

/* An app role: a token's "roles" claim names `claim` (token_roles.h) when
 * its principal holds `action` on "/". */
typedef struct {
    const char *action, *claim;
} cf_app_role;
/* Every app role; *n gets their number. */
const cf_app_role *cf_app_roles(size_t *n);

#endif
