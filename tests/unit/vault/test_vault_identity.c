/* The vault's access-token checks (identity.c over jwt.c): a token is
 * accepted only when signed RS256 with the vault's token key under its kid,
 * issued by this vault for its tenant, meant for its audience, inside
 * nbf..exp, and naming a principal that exists.  Each wrong claim is built
 * into an otherwise valid token and must be refused with 401's code. */
#include <unistd.h>

#include "encoding.h"
#include "envelope.h"
#include "jwt.h"
#include "secmem.h"
#include "test.h"
#include "vault.h"

static cf_vault vault;
static char db[128];
static cf_principal app;

static void setup(void)
{
    snprintf(db, sizeof db, "/tmp/coffer-test-identity-%d.db", (int)getpid());
    test_remove_db(db);
    snprintf(vault.vault_id, sizeof vault.vault_id, "11111111-2222-4333-8444-555555555555");
    snprintf(vault.url, sizeof vault.url, "https://vault.example:8443");
    snprintf(vault.resource, sizeof vault.resource, "https://vault.azure.net");
    snprintf(vault.tenant_id, sizeof vault.tenant_id, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    vault.token_lifetime = 3600;
    vault.data_key = cf_secret_alloc(CF_DATA_KEY_LEN);
    CHECK(cf_random_bytes(vault.data_key, CF_DATA_KEY_LEN));
    CHECK(cf_store_open(CF_DB_SQLITE, db, cf_slice_of(vault.data_key, CF_DATA_KEY_LEN),
                        &vault.store));
    CHECK(cf_identity_init(&vault));
    char secret[128];
    int64_t credential;
    CHECK(cf_identity_create_principal(&vault, "sp", "app", 0, &app, secret, sizeof secret,
                                       &credential));
    cf_memzero(secret, sizeof secret);
}

static void teardown(void)
{
    cf_store_close(vault.store);
    cf_pkey_free(vault.token_key);
    cf_secret_free(vault.data_key, CF_DATA_KEY_LEN);
    test_remove_db(db);
}

/* The claims the vault issues, valid now. */
static json_t *good_claims(void)
{
    char iss[700];
    snprintf(iss, sizeof iss, "%s/%s/v2.0", vault.url, vault.tenant_id);
    int64_t now = cf_vault_now();
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "aud", vault.resource, "iss", iss,
                     "iat", (json_int_t)now, "nbf", (json_int_t)(now - 5), "exp",
                     (json_int_t)(now + 600), "oid", app.object_id, "tid", vault.tenant_id);
}

static json_t *good_header(void)
{
    return json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT", "kid", vault.token_kid);
}

/* Signs `claims` (taken) under `header` (taken) with `key` and checks it. */
static bool verify_signed(const cf_pkey *key, json_t *header, json_t *claims)
{
    cf_buf token;
    cf_buf_init(&token, CF_JWT_MAX);
    CHECK(header && claims && cf_jwt_sign_rs256(key, header, claims, &token));
    json_decref(header);
    json_decref(claims);
    cf_principal caller;
    bool ok = cf_identity_verify_token(&vault, cf_buf_slice(&token), &caller);
    if (ok)
        CHECK_STR(caller.object_id, app.object_id);
    cf_buf_free(&token);
    return ok;
}

static bool verify(json_t *claims)
{
    return verify_signed(vault.token_key, good_header(), claims);
}

/* A refusal must be the 401 kind, never another error. */
static bool refused(bool ok)
{
    return !ok && cf_error_code() == CF_ERR_UNAUTHORIZED;
}

static void test_valid_token(void)
{
    CHECK(verify(good_claims()));
}

static void test_issuer_and_tenant(void)
{
    json_t *c = good_claims();
    json_object_set_new(c, "iss", json_string("https://login.microsoftonline.com/x/v2.0"));
    CHECK(refused(verify(c)));
    /* The same vault URL with another tenant is another issuer. */
    c = good_claims();
    char iss[700];
    snprintf(iss, sizeof iss, "%s/%s/v2.0", vault.url, "00000000-0000-4000-8000-000000000000");
    json_object_set_new(c, "iss", json_string(iss));
    CHECK(refused(verify(c)));
    c = good_claims();
    json_object_del(c, "iss");
    CHECK(refused(verify(c)));
}

static void test_audience(void)
{
    json_t *c = good_claims();
    json_object_set_new(c, "aud", json_string("https://storage.azure.com"));
    CHECK(refused(verify(c)));
    c = good_claims();
    json_object_del(c, "aud");
    CHECK(refused(verify(c)));
}

static void test_lifetime(void)
{
    int64_t now = cf_vault_now();
    json_t *c = good_claims();
    json_object_set_new(c, "exp", json_integer(now - 1));
    CHECK(refused(verify(c)));
    c = good_claims();
    json_object_set_new(c, "nbf", json_integer(now + 120));
    CHECK(refused(verify(c)));
    c = good_claims();
    json_object_del(c, "exp");
    CHECK(refused(verify(c)));
    c = good_claims();
    json_object_del(c, "nbf");
    CHECK(refused(verify(c)));
    c = good_claims();
    json_object_set_new(c, "exp", json_string("never"));
    CHECK(refused(verify(c)));
}

static void test_principal(void)
{
    json_t *c = good_claims();
    json_object_del(c, "oid");
    CHECK(refused(verify(c)));
    c = good_claims();
    json_object_set_new(c, "oid", json_string("99999999-9999-4999-8999-999999999999"));
    CHECK(refused(verify(c)));
    c = good_claims();
    json_object_set_new(c, "oid", json_string("99999999-9999-4999-8999-9999999999990000"));
    CHECK(refused(verify(c)));
}

static void test_signature_and_alg(void)
{
    /* Right claims, wrong alg or kid in the header. */
    json_t *h = good_header();
    json_object_set_new(h, "alg", json_string("HS256"));
    CHECK(refused(verify_signed(vault.token_key, h, good_claims())));
    h = good_header();
    json_object_set_new(h, "alg", json_string("none"));
    CHECK(refused(verify_signed(vault.token_key, h, good_claims())));
    h = good_header();
    json_object_set_new(h, "kid", json_string("another-kid"));
    CHECK(refused(verify_signed(vault.token_key, h, good_claims())));
    /* Signed by a key that is not the vault's, under the vault's kid. */
    cf_pkey *other = NULL;
    CHECK(cf_pkey_generate_rsa(2048, 65537, &other));
    CHECK(refused(verify_signed(other, good_header(), good_claims())));
    cf_pkey_free(other);
}

/* A valid signature over other claims: swap the claims part of a good
 * token for one naming a later expiry. */
static void test_tampered_claims(void)
{
    cf_buf token, claims_b64;
    cf_buf_init(&token, CF_JWT_MAX);
    cf_buf_init(&claims_b64, CF_JWT_MAX);
    json_t *h = good_header(), *c = good_claims();
    CHECK(cf_jwt_sign_rs256(vault.token_key, h, c, &token));
    json_object_set_new(c, "exp", json_integer(cf_vault_now() + 86400 * 365));
    char *text = json_dumps(c, JSON_COMPACT);
    CHECK(text && cf_base64url_encode(cf_slice_of(text, strlen(text)), &claims_b64));
    free(text);
    const char *t = (const char *)token.data;
    const char *dot1 = strchr(t, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    CHECK(dot2 != NULL);
    cf_buf forged;
    cf_buf_init(&forged, CF_JWT_MAX);
    CHECK(cf_buf_append_slice(&forged, cf_slice_of(t, (size_t)(dot1 + 1 - t))) &&
          cf_buf_append_slice(&forged, cf_buf_slice(&claims_b64)) &&
          cf_buf_append_slice(&forged, cf_slice_of(dot2, strlen(dot2))));
    cf_principal caller;
    CHECK(refused(cf_identity_verify_token(&vault, cf_buf_slice(&forged), &caller)));
    /* The untouched token still passes, so the refusal was the tampering. */
    CHECK(cf_identity_verify_token(&vault, cf_slice_of(t, strlen(t)), &caller));
    json_decref(h);
    json_decref(c);
    cf_buf_free(&forged);
    cf_buf_free(&claims_b64);
    cf_buf_free(&token);
}

static void test_malformed(void)
{
    cf_principal caller;
    static const char *const bad[] = {"", "abc", "a.b", "a.b.c.d", "..", "e30.e30.AAAA"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(refused(cf_identity_verify_token(&vault, CF_SLICE_STR(bad[i]), &caller)));
}

/* Removing a principal refuses its tokens at once, cached or not. */
static void test_removed_principal(void)
{
    cf_buf token;
    cf_buf_init(&token, CF_JWT_MAX);
    json_t *h = good_header(), *c = good_claims();
    CHECK(cf_jwt_sign_rs256(vault.token_key, h, c, &token));
    json_decref(h);
    json_decref(c);
    cf_principal caller;
    CHECK(cf_identity_verify_token(&vault, cf_buf_slice(&token), &caller));
    CHECK(cf_store_principal_delete(vault.store, app.object_id));
    CHECK(refused(cf_identity_verify_token(&vault, cf_buf_slice(&token), &caller)));
    cf_buf_free(&token);
}

int main(void)
{
    CHECK(cf_crypto_init());
    setup();
    RUN(test_valid_token);
    RUN(test_issuer_and_tenant);
    RUN(test_audience);
    RUN(test_lifetime);
    RUN(test_principal);
    RUN(test_signature_and_alg);
    RUN(test_tampered_claims);
    RUN(test_malformed);
    RUN(test_removed_principal);
    teardown();
    TEST_DONE();
}
