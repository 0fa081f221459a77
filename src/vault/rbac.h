/*
 * Role-based access control with Azure's built-in Key Vault roles.
 *
 * Every data-plane handler names the data action it performs and the scope
 * it touches ("/keys/{name}", "/secrets", "/"...) before it looks anything
 * up, so a denied caller learns nothing about whether the object exists.
 * Default deny: a caller is allowed when one of its role assignments has a
 * scope covering the target and a role whose dataActions match the action
 * and whose notDataActions (of the same role) do not.  Patterns are
 * Azure's: case-insensitive globs where '*' spans '/'.
 */
#ifndef CF_VAULT_RBAC_H
#define CF_VAULT_RBAC_H

#include "vault.h"

#define CF_ACT(x) "Microsoft.KeyVault/vaults/" x

/* 403 ForbiddenByRbac unless the caller may perform `action` on `scope`. */
CF_MUST_USE bool cf_authorize(cf_vault_call *call, const char *action, const char *scope);
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

/* Gives `principal_id` the role at `scope` (first start, CLI tests). */
CF_MUST_USE bool cf_rbac_assign(cf_vault *vault, const char *principal_id, const cf_role *role,
                                const char *scope, char name_out[37]);

/* The RBAC data-plane API: {scope}/providers/Microsoft.Authorization/... */
bool cf_rbac_route(cf_vault_call *call, const char *path);

#define CF_ROLE_ADMINISTRATOR "00482a5a-887f-4fb3-b363-3b7fe8e74483"

#endif
