/* Walks the vault's operation table (router.c) and holds it against Azure:
 *  - every route names a Key Vault data action and a handler;
 *  - each operation needs the data action Azure's Key Vault REST API
 *    documents for it (below, one line per operation);
 *  - each route's action is granted by exactly the built-in roles that
 *    Azure's role definitions grant it to, evaluated here from Azure's
 *    own dataActions patterns with a matcher independent of rbac.c. */
#include <ctype.h>

#include "rbac.h"
#include "test.h"
#include "vault.h"

#define KV "Microsoft.KeyVault/vaults/"

/* Azure's built-in Key Vault roles Coffer implements, with their dataActions
 * as published in "Azure built-in roles for Security"
 * (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security)
 * and served by GET /providers/Microsoft.Authorization/roleDefinitions/{id}.
 * None of them has notDataActions.  Their control-plane "actions" do not
 * reach the data plane and are left out. */
static const struct {
    const char *id;
    const char *name;
    const char *data_actions[10];
} azure_roles[] = {
    {"00482a5a-887f-4fb3-b363-3b7fe8e74483", "Key Vault Administrator", {KV "*"}},
    {"14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
     "Key Vault Crypto Officer",
     {KV "keys/*", KV "keyrotationpolicies/*"}},
    {"12338af0-0e69-4776-bea7-57ae8d297424",
     "Key Vault Crypto User",
     {KV "keys/read", KV "keys/update/action", KV "keys/backup/action", KV "keys/encrypt/action",
      KV "keys/decrypt/action", KV "keys/wrap/action", KV "keys/unwrap/action",
      KV "keys/sign/action", KV "keys/verify/action"}},
    {"e147488a-f6f5-4113-8e2d-b22465e65bf6",
     "Key Vault Crypto Service Encryption User",
     {KV "keys/read", KV "keys/wrap/action", KV "keys/unwrap/action"}},
    {"08bbd89e-9f13-488c-ac41-acfcb10c90ab",
     "Key Vault Crypto Service Release User",
     {KV "keys/release/action"}},
    {"b86a8fe4-44ce-4948-aee5-eccb2c155cd7", "Key Vault Secrets Officer", {KV "secrets/*"}},
    {"4633458b-17de-408a-b874-0445c86b69e6",
     "Key Vault Secrets User",
     {KV "secrets/getSecret/action", KV "secrets/readMetadata/action"}},
    {"21090545-7ca7-4776-b22c-e363652d74d2",
     "Key Vault Reader",
     {KV "*/read", KV "secrets/readMetadata/action"}},
};

#define N_AZURE_ROLES (sizeof azure_roles / sizeof *azure_roles)

/* Each operation and the data action it needs.  Keys and secrets: the
 * Key Vault REST API reference ("Microsoft.KeyVault/vaults/keys/..."
 * permissions per operation,
 * https://learn.microsoft.com/azure/key-vault/general/rbac-guide and
 * https://learn.microsoft.com/azure/role-based-access-control/permissions/security).
 * Listing and reading deleted objects is keys/read and
 * secrets/readMetadata/action; reading a secret's value is getSecret.
 * rng, principals and the RBAC API have no Key Vault data action in Azure
 * (Managed HSM's RNG; Entra ID; ARM): Coffer names them under the vault.
 * principals/read/action is deliberately not a ".../read", so Reader's
 * "*" + "/read" pattern does not reach it; roleDefinitions/read and
 * roleAssignments/read are, as Azure's Reader may read role definitions
 * and assignments (Microsoft.Authorization read actions). */
static const struct {
    const char *method, *pattern, *action;
} expected[] = {
    {"GET", "/keys", KV "keys/read"},
    {"GET", "/keys/", KV "keys/read"},
    {"POST", "/keys/restore", KV "keys/restore/action"},
    {"PUT", "/keys/{name}", KV "keys/import/action"},
    {"DELETE", "/keys/{name}", KV "keys/delete"},
    {"GET", "/keys/{name}", KV "keys/read"},
    {"PATCH", "/keys/{name}", KV "keys/update/action"},
    {"POST", "/keys/{name}/create", KV "keys/create/action"},
    {"POST", "/keys/{name}/backup", KV "keys/backup/action"},
    {"POST", "/keys/{name}/rotate", KV "keys/rotate/action"},
    {"GET", "/keys/{name}/rotationpolicy", KV "keyrotationpolicies/read"},
    {"PUT", "/keys/{name}/rotationpolicy", KV "keyrotationpolicies/write"},
    {"GET", "/keys/{name}/versions", KV "keys/read"},
    {"GET", "/keys/{name}/{version}", KV "keys/read"},
    {"PATCH", "/keys/{name}/{version}", KV "keys/update/action"},
    {"POST", "/keys/{name}/{version}/encrypt", KV "keys/encrypt/action"},
    {"POST", "/keys/{name}/{version}/decrypt", KV "keys/decrypt/action"},
    {"POST", "/keys/{name}/{version}/wrapkey", KV "keys/wrap/action"},
    {"POST", "/keys/{name}/{version}/unwrapkey", KV "keys/unwrap/action"},
    {"POST", "/keys/{name}/{version}/sign", KV "keys/sign/action"},
    {"POST", "/keys/{name}/{version}/verify", KV "keys/verify/action"},
    {"GET", "/deletedkeys", KV "keys/read"},
    {"GET", "/deletedkeys/{name}", KV "keys/read"},
    {"DELETE", "/deletedkeys/{name}", KV "keys/purge/action"},
    {"POST", "/deletedkeys/{name}/recover", KV "keys/recover/action"},
    {"GET", "/secrets", KV "secrets/readMetadata/action"},
    {"GET", "/secrets/", KV "secrets/readMetadata/action"},
    {"POST", "/secrets/restore", KV "secrets/restore/action"},
    {"PUT", "/secrets/{name}", KV "secrets/setSecret/action"},
    {"DELETE", "/secrets/{name}", KV "secrets/delete"},
    {"GET", "/secrets/{name}", KV "secrets/getSecret/action"},
    {"PATCH", "/secrets/{name}", KV "secrets/update/action"},
    {"POST", "/secrets/{name}/backup", KV "secrets/backup/action"},
    {"GET", "/secrets/{name}/versions", KV "secrets/readMetadata/action"},
    {"GET", "/secrets/{name}/{version}", KV "secrets/getSecret/action"},
    {"PATCH", "/secrets/{name}/{version}", KV "secrets/update/action"},
    {"GET", "/deletedsecrets", KV "secrets/readMetadata/action"},
    {"GET", "/deletedsecrets/{name}", KV "secrets/readMetadata/action"},
    {"DELETE", "/deletedsecrets/{name}", KV "secrets/purge/action"},
    {"POST", "/deletedsecrets/{name}/recover", KV "secrets/recover/action"},
    {"POST", "/rng", KV "rng/action"},
    {"GET", "/coffer/principals", KV "principals/read/action"},
    {"POST", "/coffer/principals", KV "principals/write/action"},
    {"GET", "/coffer/principals/{principal}", KV "principals/read/action"},
    {"DELETE", "/coffer/principals/{principal}", KV "principals/delete/action"},
    {"POST", "/coffer/principals/{principal}/secrets", KV "principals/write/action"},
    {"GET", "/coffer/principals/{principal}/permissions", KV "principals/read/action"},
    {"DELETE", "/coffer/principals/{principal}/secrets/{credential}", KV "principals/write/action"},
    {"GET", "/coffer/health", KV "health/read/action"},
    {"GET", "/coffer/audit", KV "audit/read/action"},
    {"GET", "/coffer/users", KV "users/read/action"},
    {"POST", "/coffer/users", KV "users/write/action"},
    {"GET", "/coffer/users/{principal}", KV "users/read/action"},
    {"DELETE", "/coffer/users/{principal}", KV "users/delete/action"},
    {"POST", "/coffer/users/{principal}/password", KV "users/write/action"},
    {"GET", CF_RBAC_PATH "roleDefinitions", KV "roleDefinitions/read"},
    {NULL, CF_RBAC_PATH "roleDefinitions", KV "roleDefinitions/read"},
    {"GET", CF_RBAC_PATH "roleDefinitions/{role}", KV "roleDefinitions/read"},
    {NULL, CF_RBAC_PATH "roleDefinitions/{role}", KV "roleDefinitions/read"},
    {"GET", CF_RBAC_PATH "roleAssignments", KV "roleAssignments/read"},
    {"PUT", CF_RBAC_PATH "roleAssignments/{assignment}", KV "roleAssignments/write/action"},
    {"DELETE", CF_RBAC_PATH "roleAssignments/{assignment}", KV "roleAssignments/delete/action"},
    {"GET", CF_RBAC_PATH "roleAssignments/{assignment}", KV "roleAssignments/read"},
};

#define N_EXPECTED (sizeof expected / sizeof *expected)

/* Azure's action pattern semantics, written independently of rbac.c:
 * case-insensitive, '*' matches any run of characters including '/'. */
static bool azure_match(const char *p, const char *s)
{
    if (!*p)
        return !*s;
    if (*p == '*')
        return azure_match(p + 1, s) || (*s && azure_match(p, s + 1));
    return *s && tolower((unsigned char)*p) == tolower((unsigned char)*s) &&
           azure_match(p + 1, s + 1);
}

static bool azure_grants(size_t role, const char *action)
{
    for (size_t i = 0; i < 10 && azure_roles[role].data_actions[i]; i++)
        if (azure_match(azure_roles[role].data_actions[i], action))
            return true;
    return false;
}

static bool same_method(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void test_every_route_is_well_formed(void)
{
    size_t n;
    const cf_vault_route *routes = cf_vault_routes(&n);
    CHECK(n > 0);
    for (size_t i = 0; i < n; i++) {
        const cf_vault_route *r = &routes[i];
        CHECK(r->pattern && r->pattern[0] == '/');
        CHECK(r->handler != NULL);
        CHECK(r->action && strncmp(r->action, KV, strlen(KV)) == 0 && !strchr(r->action, '*'));
        /* Only object routes are checked on an object's scope. */
        if (r->resource == NULL)
            CHECK(strstr(r->pattern, "{name}") == NULL);
        /* No two routes take the same request. */
        for (size_t j = 0; j < i; j++)
            CHECK(!(same_method(routes[j].method, r->method) &&
                    strcmp(routes[j].pattern, r->pattern) == 0));
    }
}

/* The table and the documented operations are the same set, action for
 * action. */
static void test_actions_are_azures(void)
{
    size_t n;
    const cf_vault_route *routes = cf_vault_routes(&n);
    CHECK(n == N_EXPECTED);
    for (size_t e = 0; e < N_EXPECTED; e++) {
        const cf_vault_route *found = NULL;
        for (size_t i = 0; i < n && !found; i++)
            if (same_method(routes[i].method, expected[e].method) &&
                strcmp(routes[i].pattern, expected[e].pattern) == 0)
                found = &routes[i];
        if (!found)
            fprintf(stderr, "no route for %s %s\n", expected[e].method ? expected[e].method : "*",
                    expected[e].pattern);
        CHECK(found != NULL);
        if (found && strcmp(found->action, expected[e].action) != 0)
            fprintf(stderr, "%s %s needs %s, the table says %s\n",
                    expected[e].method ? expected[e].method : "*", expected[e].pattern,
                    expected[e].action, found->action);
        CHECK(found && strcmp(found->action, expected[e].action) == 0);
    }
}

/* Coffer's roles are Azure's, by id and name, and two of its own: one
 * reads metrics and nothing else, one manages storage and nothing else. */
static void test_roles_are_azures(void)
{
    CHECK(cf_role_count() == N_AZURE_ROLES + 2);
    const cf_role *storage = cf_role_find("Coffer Storage Administrator");
    CHECK(storage && strcmp(cf_role_id(storage), CF_ROLE_STORAGE_ADMINISTRATOR) == 0);
    CHECK(storage && cf_role_grants(storage, CF_ACTION_STORAGE_MANAGE));
    CHECK(storage && !cf_role_grants(storage, CF_ACTION_METRICS));
    CHECK(storage && !cf_role_grants(storage, CF_ACT("keys/read")));
    CHECK(!cf_role_grants(cf_role_find("Key Vault Reader"), CF_ACTION_STORAGE_MANAGE));
    CHECK(!cf_role_grants(cf_role_find("Key Vault Crypto Officer"), CF_ACTION_STORAGE_MANAGE));
    CHECK(cf_role_grants(cf_role_find("Key Vault Administrator"), CF_ACTION_STORAGE_MANAGE));
    const cf_role *metrics = cf_role_find("Coffer Metrics Reader");
    CHECK(metrics && strcmp(cf_role_id(metrics), CF_ROLE_METRICS_READER) == 0);
    CHECK(metrics && cf_role_grants(metrics, CF_ACTION_METRICS));
    CHECK(metrics && !cf_role_grants(metrics, CF_ACT("keys/read")));
    CHECK(!cf_role_grants(cf_role_find("Key Vault Reader"), CF_ACTION_METRICS));
    CHECK(cf_role_grants(cf_role_find("Key Vault Administrator"), CF_ACTION_METRICS));
    for (size_t i = 0; i < N_AZURE_ROLES; i++) {
        const cf_role *role = cf_role_find(azure_roles[i].id);
        CHECK(role != NULL);
        CHECK(role && strcmp(cf_role_name(role), azure_roles[i].name) == 0);
    }
}

/* Per route: the set of roles granting its action, Coffer's and Azure's. */
static void test_roles_grant_what_azure_grants(void)
{
    size_t n;
    const cf_vault_route *routes = cf_vault_routes(&n);
    size_t grants = 0, denials = 0;
    for (size_t i = 0; i < n; i++) {
        bool anyone = false;
        for (size_t k = 0; k < N_AZURE_ROLES; k++) {
            const cf_role *role = cf_role_find(azure_roles[k].id);
            bool want = azure_grants(k, routes[i].action);
            bool have = role && cf_role_grants(role, routes[i].action);
            if (want != have)
                fprintf(stderr, "%s %s (%s): Azure's %s %s it, Coffer's %s\n",
                        routes[i].method ? routes[i].method : "*", routes[i].pattern,
                        routes[i].action, azure_roles[k].name, want ? "grants" : "refuses",
                        have ? "grants" : "refuses");
            CHECK(want == have);
            anyone = anyone || have;
            grants += have;
            denials += !have;
        }
        CHECK(anyone); /* the Administrator at least */
    }
    /* Not a trivial table: roles both grant and refuse. */
    CHECK(grants > 0 && denials > grants);
}

/* The matcher this test trusts, on Azure's documented cases. */
static void test_azure_matcher(void)
{
    CHECK(azure_match(KV "*/read", KV "keys/read"));
    CHECK(azure_match(KV "*/read", KV "storageaccounts/sas/read"));
    CHECK(azure_match(KV "keys/*", "MICROSOFT.KEYVAULT/vaults/keys/sign/action"));
    CHECK(!azure_match(KV "*/read", KV "secrets/readMetadata/action"));
    CHECK(!azure_match(KV "keys/*", KV "keyrotationpolicies/read"));
    CHECK(!azure_match(KV "keys/read", KV "keys/read/action"));
}

int main(void)
{
    RUN(test_azure_matcher);
    RUN(test_every_route_is_well_formed);
    RUN(test_actions_are_azures);
    RUN(test_roles_are_azures);
    RUN(test_roles_grant_what_azure_grants);
    TEST_DONE();
}
