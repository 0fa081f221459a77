/* rbac.c: Azure's action patterns (case-insensitive globs where '*' spans
 * '/'), what each built-in role permits, and role assignments at a scope
 * covering the target — "/", a collection, one object — segment-wise and
 * case-insensitively.  Default deny. */
#include <unistd.h>

#include "envelope.h"
#include "rbac.h"
#include "secmem.h"
#include "test.h"

static cf_vault vault;
static char db[128];

#define KV(x) "Microsoft.KeyVault/vaults/" x

static void setup(void)
{
    snprintf(db, sizeof db, "/tmp/coffer-test-rbac-%d.db", (int)getpid());
    test_remove_db(db);
    vault.data_key = cf_secret_alloc(CF_DATA_KEY_LEN);
    CHECK(cf_random_bytes(vault.data_key, CF_DATA_KEY_LEN));
    CHECK(cf_store_open(CF_DB_SQLITE, db, cf_slice_of(vault.data_key, CF_DATA_KEY_LEN),
                        &vault.store));
}

static void teardown(void)
{
    cf_store_close(vault.store);
    cf_secret_free(vault.data_key, CF_DATA_KEY_LEN);
    test_remove_db(db);
}

static void test_patterns(void)
{
    CHECK(cf_rbac_match(KV("*"), KV("keys/sign/action")));
    CHECK(cf_rbac_match(KV("keys/*"), KV("keys/sign/action")));
    CHECK(cf_rbac_match(KV("*/read"), KV("keys/read")));
    CHECK(cf_rbac_match(KV("*/read"), KV("storageaccounts/sas/read")));
    CHECK(cf_rbac_match(KV("keys/*"), "microsoft.keyvault/VAULTS/KEYS/Read"));
    CHECK(cf_rbac_match(KV("keys/read"), KV("keys/read")));
    /* refusals */
    CHECK(!cf_rbac_match(KV("keys/*"), KV("keyrotationpolicies/read")));
    CHECK(!cf_rbac_match(KV("*/read"), KV("secrets/readMetadata/action")));
    CHECK(!cf_rbac_match(KV("*/read"), KV("keys/reads")));
    CHECK(!cf_rbac_match(KV("keys/read"), KV("keys/read/action")));
    CHECK(!cf_rbac_match(KV("keys/read"), KV("keys/rea")));
    CHECK(!cf_rbac_match(KV("secrets/*"), KV("keys/read")));
    CHECK(!cf_rbac_match(KV("*"), "Microsoft.Storage/storageAccounts/read"));
}

static bool grants(const char *role, const char *action)
{
    const cf_role *r = cf_role_find(role);
    CHECK(r != NULL);
    return r && cf_role_grants(r, action);
}

static void test_roles(void)
{
    /* by name, bare GUID, or a full role definition id */
    const cf_role *admin = cf_role_find("Key Vault Administrator");
    CHECK(admin && strcmp(cf_role_id(admin), CF_ROLE_ADMINISTRATOR) == 0);
    CHECK(cf_role_find(CF_ROLE_ADMINISTRATOR) == admin);
    CHECK(cf_role_find("/providers/Microsoft.Authorization/roleDefinitions/"
                       "00482A5A-887F-4FB3-B363-3B7FE8E74483") == admin);
    CHECK(cf_role_find("Key Vault Owner") == NULL);
    CHECK(cf_role_find("00000000-0000-0000-0000-000000000000") == NULL);
    CHECK(cf_role_find(NULL) == NULL);
    CHECK(cf_role_count() >= 7 && cf_role_at(cf_role_count()) == NULL);

    CHECK(grants("Key Vault Administrator", KV("secrets/getSecret/action")));
    CHECK(grants("Key Vault Administrator", KV("rng/action")));
    CHECK(grants("Key Vault Crypto Officer", KV("keys/purge/action")));
    CHECK(grants("Key Vault Crypto Officer", KV("keyrotationpolicies/write")));
    CHECK(!grants("Key Vault Crypto Officer", KV("secrets/readMetadata/action")));
    CHECK(!grants("Key Vault Crypto Officer", KV("roleAssignments/write/action")));
    CHECK(grants("Key Vault Crypto User", KV("keys/sign/action")));
    CHECK(!grants("Key Vault Crypto User", KV("keys/create/action")));
    CHECK(!grants("Key Vault Crypto User", KV("keys/delete")));
    CHECK(grants("Key Vault Crypto Service Encryption User", KV("keys/unwrap/action")));
    CHECK(!grants("Key Vault Crypto Service Encryption User", KV("keys/decrypt/action")));
    CHECK(!grants("Key Vault Crypto Service Encryption User", KV("keys/sign/action")));
    CHECK(grants("Key Vault Secrets Officer", KV("secrets/setSecret/action")));
    CHECK(!grants("Key Vault Secrets Officer", KV("keys/read")));
    CHECK(grants("Key Vault Secrets User", KV("secrets/getSecret/action")));
    CHECK(!grants("Key Vault Secrets User", KV("secrets/setSecret/action")));
    CHECK(grants("Key Vault Reader", KV("keys/read")));
    CHECK(grants("Key Vault Reader", KV("secrets/readMetadata/action")));
    CHECK(!grants("Key Vault Reader", KV("secrets/getSecret/action")));
    CHECK(!grants("Key Vault Reader", KV("keys/decrypt/action")));
    CHECK(!grants("Key Vault Reader", KV("principals/read/action")));
}

static const char *const alice = "aaaaaaaa-0000-4000-8000-000000000001";
static const char *const bob = "bbbbbbbb-0000-4000-8000-000000000002";
static const char *const carol = "cccccccc-0000-4000-8000-000000000003";
static const char *const nobody = "dddddddd-0000-4000-8000-000000000004";

static bool allowed(const char *principal, const char *action, const char *scope)
{
    bool ok = false;
    CHECK(cf_rbac_allowed(&vault, principal, action, scope, &ok));
    return ok;
}

static void test_scopes(void)
{
    CHECK(cf_rbac_assign(&vault, alice, cf_role_find("Key Vault Crypto User"), "/keys/k1", NULL));
    CHECK(cf_rbac_assign(&vault, bob, cf_role_find("Key Vault Secrets Officer"), "/secrets", NULL));
    CHECK(cf_rbac_assign(&vault, carol, cf_role_find("Key Vault Reader"), "/", NULL));

    /* one object: that object only, whatever the case */
    CHECK(allowed(alice, KV("keys/sign/action"), "/keys/k1"));
    CHECK(allowed(alice, KV("keys/sign/action"), "/KEYS/K1"));
    CHECK(!allowed(alice, KV("keys/sign/action"), "/keys/k2"));
    CHECK(!allowed(alice, KV("keys/sign/action"), "/keys/k1x"));
    CHECK(!allowed(alice, KV("keys/read"), "/keys"));
    CHECK(!allowed(alice, KV("keys/read"), "/"));
    CHECK(!allowed(alice, KV("keys/create/action"), "/keys/k1"));
    /* a collection: every object in it, nothing beside it */
    CHECK(allowed(bob, KV("secrets/setSecret/action"), "/secrets/s"));
    CHECK(allowed(bob, KV("secrets/readMetadata/action"), "/secrets"));
    CHECK(!allowed(bob, KV("secrets/readMetadata/action"), "/secretsx"));
    CHECK(!allowed(bob, KV("keys/read"), "/keys/k1"));
    CHECK(!allowed(bob, KV("secrets/readMetadata/action"), "/"));
    /* the vault: everywhere, within the role */
    CHECK(allowed(carol, KV("keys/read"), "/keys/k1"));
    CHECK(allowed(carol, KV("secrets/readMetadata/action"), "/secrets/s"));
    CHECK(!allowed(carol, KV("secrets/getSecret/action"), "/secrets/s"));
    /* default deny */
    CHECK(!allowed(nobody, KV("keys/read"), "/keys/k1"));
    /* several assignments add up */
    CHECK(
        cf_rbac_assign(&vault, alice, cf_role_find("Key Vault Secrets User"), "/secrets/s", NULL));
    CHECK(allowed(alice, KV("secrets/getSecret/action"), "/secrets/s"));
    CHECK(allowed(alice, KV("keys/sign/action"), "/keys/k1"));
    CHECK(!allowed(alice, KV("secrets/getSecret/action"), "/secrets/t"));
}

/* The check a request goes through: 403 naming the action, and the action
 * recorded for the audit line either way. */
static void test_authorize(void)
{
    cf_vault_call call = {.vault = &vault};
    snprintf(call.caller.object_id, sizeof call.caller.object_id, "%s", alice);
    snprintf(call.caller.client_id, sizeof call.caller.client_id, "%s", alice);
    CHECK(cf_rbac_authorize(&call, KV("keys/sign/action"), "/keys/k1"));
    CHECK_STR(call.action, KV("keys/sign/action"));
    call.action = NULL;
    CHECK(!cf_rbac_authorize(&call, KV("keys/delete"), "/keys/k1"));
    CHECK(cf_error_code() == CF_ERR_FORBIDDEN);
    CHECK(strstr(cf_error_detail(), "Action: '" KV("keys/delete") "'") != NULL);
    CHECK(call.action && strcmp(call.action, KV("keys/delete")) == 0);
}

int main(void)
{
    CHECK(cf_crypto_init());
    setup();
    RUN(test_patterns);
    RUN(test_roles);
    RUN(test_scopes);
    RUN(test_authorize);
    teardown();
    TEST_DONE();
}
