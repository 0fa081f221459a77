/* Vault domain pieces without HTTP: object names, sealing bound to
 * identity, key generation, backup/restore and its tamper checks, ISO 8601
 * durations, rotation policies, and JWT issue/verify. */
#include <unistd.h>

#include "envelope.h"
#include "jwt.h"
#include "keys.h"
#include "resource.h"
#include "secmem.h"
#include "test.h"

static cf_vault vault;
static char db[128];

static void setup(void)
{
    snprintf(db, sizeof db, "/tmp/coffer-test-keys-%d.db", (int)getpid());
    snprintf(vault.vault_id, sizeof vault.vault_id, "11111111-2222-4333-8444-555555555555");
    snprintf(vault.url, sizeof vault.url, "https://127.0.0.1:1");
    vault.retention_days = 90;
    vault.data_key = cf_secret_alloc(CF_DATA_KEY_LEN);
    CHECK(cf_random_bytes(vault.data_key, CF_DATA_KEY_LEN));
    CHECK(cf_store_open(CF_DB_SQLITE, db, cf_slice_of(vault.data_key, CF_DATA_KEY_LEN),
                        &vault.store));
}

static void test_names(void)
{
    CHECK(cf_vault_valid_object_name("a"));
    CHECK(cf_vault_valid_object_name("My-Key-01"));
    CHECK(!cf_vault_valid_object_name(""));
    CHECK(!cf_vault_valid_object_name("bad_name"));
    CHECK(!cf_vault_valid_object_name("a/b"));
    char longname[200];
    memset(longname, 'a', sizeof longname);
    longname[127] = 0;
    CHECK(cf_vault_valid_object_name(longname));
    longname[127] = 'a';
    longname[128] = 0;
    CHECK(!cf_vault_valid_object_name(longname));
}

static void new_key(cf_object *o, const char *name, const char *kty, unsigned size)
{
    cf_object_init(o);
    snprintf(o->kind, sizeof o->kind, "key");
    snprintf(o->name, sizeof o->name, "%s", name);
    CHECK(cf_vault_new_version_id(o->version));
    o->created = o->updated = 1000;
    o->enabled = true;
    cf_key_spec spec = {.kty = kty, .size = size};
    CHECK(cf_key_generate(&vault, &spec, o));
}

static void test_sealing_is_bound(void)
{
    cf_object o;
    new_key(&o, "bound", "oct", 256);
    cf_buf m;
    cf_buf_init_secret(&m, 64);
    CHECK(cf_object_unseal(&vault, &o, &m) && m.len == 32);
    /* the same sealed bytes under another name or version do not open */
    snprintf(o.name, sizeof o.name, "other");
    cf_buf_clear(&m);
    CHECK(!cf_object_unseal(&vault, &o, &m));
    snprintf(o.name, sizeof o.name, "BOUND"); /* names are case-insensitive */
    cf_buf_clear(&m);
    CHECK(cf_object_unseal(&vault, &o, &m));
    o.version[0] = o.version[0] == 'a' ? 'b' : 'a';
    cf_buf_clear(&m);
    CHECK(!cf_object_unseal(&vault, &o, &m));
    cf_buf_free(&m);
    cf_object_free(&o);
    /* bad specs */
    cf_object bad;
    cf_object_init(&bad);
    snprintf(bad.kind, sizeof bad.kind, "key");
    cf_key_spec s1 = {.kty = "RSA", .size = 1024};
    CHECK(!cf_key_generate(&vault, &s1, &bad) && cf_error_code() == CF_ERR_BAD_INPUT);
    cf_key_spec s2 = {.kty = "oct", .size = 100};
    CHECK(!cf_key_generate(&vault, &s2, &bad));
    cf_key_spec s3 = {.kty = "EC", .crv = "P-999"};
    CHECK(!cf_key_generate(&vault, &s3, &bad));
    cf_key_spec s4 = {.kty = "RSA-HSM"};
    CHECK(!cf_key_generate(&vault, &s4, &bad));
    cf_key_spec s5 = {.kty = "EC", .ops = CF_OP_ENCRYPT};
    CHECK(!cf_key_generate(&vault, &s5, &bad));
    cf_object_free(&bad);
}

static void test_backup_restore(void)
{
    cf_object v1, v2;
    new_key(&v1, "backed", "EC", 0);
    CHECK(cf_store_object_insert(vault.store, &v1));
    v2 = v1;
    cf_object_init(&v2);
    snprintf(v2.kind, sizeof v2.kind, "key");
    snprintf(v2.name, sizeof v2.name, "backed");
    CHECK(cf_vault_new_version_id(v2.version));
    v2.created = v2.updated = 2000;
    v2.enabled = true;
    v2.tags = json_pack("{s:s}", "t", "v");
    cf_key_spec spec = {.kty = "EC", .crv = "P-384"};
    CHECK(cf_key_generate(&vault, &spec, &v2));
    CHECK(cf_store_object_insert(vault.store, &v2));

    cf_buf blob;
    cf_buf_init(&blob, 1 << 20);
    CHECK(cf_backup_make(&vault, &cf_keys_resource, "backed", &blob));
    cf_object latest;
    cf_object_init(&latest);
    /* restoring over a live key conflicts */
    CHECK(!cf_backup_restore(&vault, &cf_keys_resource, cf_buf_slice(&blob), &latest));
    CHECK(cf_error_code() == CF_ERR_CONFLICT);
    CHECK(cf_store_object_delete(vault.store, "key", "backed", 1, 2));
    CHECK(!cf_backup_restore(&vault, &cf_keys_resource, cf_buf_slice(&blob), &latest));
    CHECK(cf_error_code() == CF_ERR_DELETED);
    CHECK(cf_store_object_purge(vault.store, "key", "backed"));
    /* tampering anywhere is refused */
    for (size_t i = 0; i < blob.len; i += 7) {
        blob.data[i] ^= 0x80;
        CHECK(!cf_backup_restore(&vault, &cf_keys_resource, cf_buf_slice(&blob), &latest));
        CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
        blob.data[i] ^= 0x80;
    }
    CHECK(!cf_backup_restore(&vault, &cf_keys_resource, cf_slice_of(blob.data, blob.len - 1),
                             &latest));
    /* another vault (other data key) cannot open it */
    uint8_t saved[CF_DATA_KEY_LEN];
    memcpy(saved, vault.data_key, sizeof saved);
    vault.data_key[0] ^= 1;
    CHECK(!cf_backup_restore(&vault, &cf_keys_resource, cf_buf_slice(&blob), &latest));
    memcpy(vault.data_key, saved, sizeof saved);
    /* the original restores, all versions, material intact */
    CHECK(cf_backup_restore(&vault, &cf_keys_resource, cf_buf_slice(&blob), &latest));
    CHECK_STR(latest.version, v2.version);
    CHECK_STR(json_string_value(json_object_get(latest.tags, "t")), "v");
    cf_key key;
    cf_key_init(&key);
    CHECK(cf_key_load(&vault, "backed", v1.version, &key));
    CHECK(key.pkey && cf_pkey_curve(key.pkey) == CF_CURVE_P256);
    cf_key_free(&key);
    cf_key_init(&key);
    CHECK(cf_key_load(&vault, "backed", NULL, &key));
    CHECK(key.pkey && cf_pkey_curve(key.pkey) == CF_CURVE_P384);
    cf_key_free(&key);
    cf_object_free(&latest);
    cf_object_free(&v1);
    cf_object_free(&v2);
    cf_buf_free(&blob);
}

static void test_durations_and_policy(void)
{
    int64_t s;
    CHECK(cf_vault_iso_duration("P90D", &s) && s == 90 * 86400);
    CHECK(cf_vault_iso_duration("P1Y2M", &s) && s == 365 * 86400 + 60 * 86400);
    CHECK(cf_vault_iso_duration("PT12H30M5S", &s) && s == 12 * 3600 + 30 * 60 + 5);
    CHECK(cf_vault_iso_duration("P1W", &s) && s == 7 * 86400);
    CHECK(!cf_vault_iso_duration("P101Y", &s));
    CHECK(!cf_vault_iso_duration("P99999999Y99999999Y99999999Y", &s));
    const char *bad[] = {"", "P", "90D", "PT", "P1H", "PT1D", "P-1D", "P1DT", "P1.5D", "P1X"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(!cf_vault_iso_duration(bad[i], &s));
    json_t *body =
        json_loads("{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P30D\"},"
                   "\"action\":{\"type\":\"rotate\"}}],\"attributes\":{\"expiryTime\":\"P90D\"}}",
                   0, NULL);
    json_t *policy = NULL;
    CHECK(cf_rotation_policy_parse(body, NULL, 77, &policy));
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(json_array_get(json_object_get(policy, "lifetimeActions"), 0),
                                  "action"),
                  "type")),
              "Rotate");
    CHECK(json_integer_value(json_object_get(json_object_get(policy, "attributes"), "created")) ==
          77);
    json_decref(policy);
    json_decref(body);
    const char *bad_bodies[] = {
        "{\"lifetimeActions\":[{\"trigger\":{},\"action\":{\"type\":\"Rotate\"}}]}",
        "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P1D\",\"timeBeforeExpiry\":"
        "\"P1D\"},\"action\":{\"type\":\"Rotate\"}}]}",
        "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P1D\"},\"action\":{\"type\":"
        "\"Explode\"}}]}",
        "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"1 "
        "day\"},\"action\":{\"type\":\"Rotate\"}}]}",
        "{\"attributes\":{\"expiryTime\":5}}",
        "{\"lifetimeActions\":{}}",
        "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P6D\"},\"action\":{\"type\":"
        "\"Rotate\"}}]}",
        "{\"attributes\":{\"expiryTime\":\"P27D\"}}",
        "{\"attributes\":{\"expiryTime\":\"P99999999Y99999999Y\"}}",
    };
    for (size_t i = 0; i < sizeof bad_bodies / sizeof *bad_bodies; i++) {
        body = json_loads(bad_bodies[i], 0, NULL);
        CHECK(body && !cf_rotation_policy_parse(body, NULL, 1, &policy));
        json_decref(body);
    }
}

static void test_jwt(void)
{
    cf_pkey *key = NULL, *other = NULL;
    CHECK(cf_pkey_generate_rsa(2048, 65537, &key) && cf_pkey_generate_rsa(2048, 65537, &other));
    json_t *h = json_pack("{s:s, s:s}", "alg", "RS256", "kid", "k1");
    json_t *c = json_pack("{s:s, s:i}", "aud", "x", "exp", 5);
    cf_buf tok;
    cf_buf_init(&tok, CF_JWT_MAX);
    CHECK(cf_jwt_sign_rs256(key, h, c, &tok));
    cf_jwt jwt;
    cf_jwt_init(&jwt);
    CHECK(cf_jwt_parse(cf_buf_slice(&tok), &jwt));
    CHECK(cf_jwt_verify_rs256(key, "k1", &jwt));
    CHECK(!cf_jwt_verify_rs256(key, "k2", &jwt));
    CHECK(!cf_jwt_verify_rs256(other, "k1", &jwt));
    CHECK_STR(json_string_value(json_object_get(jwt.claims, "aud")), "x");
    cf_jwt_free(&jwt);
    /* a flipped byte in the claims breaks the signature */
    char *dot = memchr(tok.data, '.', tok.len);
    dot[2] = dot[2] == 'A' ? 'B' : 'A';
    cf_jwt_init(&jwt);
    CHECK(!cf_jwt_parse(cf_buf_slice(&tok), &jwt) || !cf_jwt_verify_rs256(key, "k1", &jwt));
    cf_jwt_free(&jwt);
    const char *malformed[] = {"", "a", "a.b", "a.b.c.d", "e30.e30", "e30.e30.!!", "W10.e30.AA"};
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        cf_jwt_init(&jwt);
        CHECK(!cf_jwt_parse(CF_SLICE_STR(malformed[i]), &jwt));
        CHECK(cf_error_code() == CF_ERR_UNAUTHORIZED);
        cf_jwt_free(&jwt);
    }
    /* alg none is never accepted */
    cf_jwt_init(&jwt);
    CHECK(cf_jwt_parse(CF_SLICE_STR("eyJhbGciOiJub25lIiwia2lkIjoiazEifQ.e30.AA"), &jwt));
    CHECK(!cf_jwt_verify_rs256(key, "k1", &jwt));
    cf_jwt_free(&jwt);
    json_decref(h);
    json_decref(c);
    cf_buf_free(&tok);
    cf_pkey_free(key);
    cf_pkey_free(other);
}

int main(void)
{
    CHECK(cf_crypto_init());
    setup();
    RUN(test_names);
    RUN(test_sealing_is_bound);
    RUN(test_backup_restore);
    RUN(test_durations_and_policy);
    RUN(test_jwt);
    cf_store_close(vault.store);
    cf_secret_free(vault.data_key, CF_DATA_KEY_LEN);
    test_remove_db(db);
    TEST_DONE();
}
