/* The PKCS#11 layer, the PKCS#11 seal and the seal of a data directory,
 * on a real SoftHSM2 token made in a temporary directory: key generation,
 * every operation and its refusals, OAEP with SHA-256 through raw RSA
 * (checked against OpenSSL's own OAEP), wrapping under a root key and
 * back, export turned off for good, BYOK unwrapping of blobs made by
 * byok.c, EC public points computed in the token, the seal's binding of
 * associated data, and seal.json: create, open, locking, the file seal and
 * the move onto a token. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "byok.h"
#include "encoding.h"
#include "crypto.h"
#include "fsutil.h"
#include "p11.h"
#include "seal.h"
#include "seal_dir.h"
#include "secmem.h"
#include "test.h"

static char tmp[256];
static cf_p11 *tok;

static void setup_token(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/coffer-test-p11-%d", (int)getpid());
    char path[512], conf[700];
    snprintf(path, sizeof path, "%s/tokens", tmp);
    CHECK(cf_mkdirs(path, 0700));
    snprintf(path, sizeof path, "%s/softhsm2.conf", tmp);
    snprintf(conf, sizeof conf,
             "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
             tmp);
    CHECK(cf_write_file_atomic(path, CF_SLICE_STR(conf), 0600));
    setenv("SOFTHSM2_CONF", path, 1);
    cf_p11_config cfg = {CF_SOFTHSM2_MODULE, "unit", CF_SLICE_LIT("1234"), CF_SLICE_LIT("5678")};
    CHECK(cf_p11_open(&cfg, &tok));
}

static cf_p11_key_spec spec_of(cf_p11_key_type type, unsigned bits, cf_curve curve, unsigned usage,
                               bool extractable)
{
    return (cf_p11_key_spec){type, bits, 65537, curve, usage, extractable, "unit test"};
}

static void test_open_refusals(void)
{
    cf_p11 *p = NULL;
    cf_p11_config wrong = {CF_SOFTHSM2_MODULE, "unit", CF_SLICE_LIT("0000"), {0}};
    CHECK(!cf_p11_open(&wrong, &p));
    CHECK(cf_error_code() == CF_ERR_SEAL && strstr(cf_error_detail(), "incorrect"));
    cf_p11_config missing = {CF_SOFTHSM2_MODULE, "nosuch", CF_SLICE_LIT("1234"), {0}};
    CHECK(!cf_p11_open(&missing, &p));
    CHECK(strstr(cf_error_detail(), "no PKCS#11 token labelled 'nosuch'"));
    cf_p11_config nomod = {"/nonexistent/module.so", "unit", CF_SLICE_LIT("1234"), {0}};
    CHECK(!cf_p11_open(&nomod, &p));
    CHECK(strstr(cf_error_detail(), "cannot load"));
}

static void test_aes(void)
{
    cf_p11_id id;
    CHECK(cf_p11_new_id(&id));
    cf_p11_key_spec s = spec_of(
        CF_P11_AES, 256, 0,
        CF_P11_USE_ENCRYPT | CF_P11_USE_DECRYPT | CF_P11_USE_WRAP | CF_P11_USE_UNWRAP, false);
    CHECK(cf_p11_generate(tok, &s, &id));
    cf_p11_key_info info;
    CHECK(cf_p11_secret_info(tok, &id, &info));
    CHECK(info.aes && info.bits == 256 && info.sensitive && !info.extractable && info.token);
    uint8_t iv[12] = {1, 2, 3};
    cf_p11_mech gcm = {
        .kind = CF_P11_AES_GCM, .iv = cf_slice_of(iv, 12), .aad = CF_SLICE_LIT("aad")};
    cf_buf ct, pt;
    cf_buf_init(&ct, 256);
    cf_buf_init_secret(&pt, 256);
    CHECK(cf_p11_encrypt(tok, &id, &gcm, CF_SLICE_LIT("hello token"), &ct));
    CHECK(ct.len == 11 + 16);
    CHECK(cf_p11_decrypt(tok, &id, &gcm, cf_buf_slice(&ct), &pt));
    CHECK(pt.len == 11 && memcmp(pt.data, "hello token", 11) == 0);
    ct.data[3] ^= 1;
    cf_buf_clear(&pt);
    CHECK(!cf_p11_decrypt(tok, &id, &gcm, cf_buf_slice(&ct), &pt));
    CHECK(cf_error_code() == CF_ERR_DECRYPT && pt.len == 0);
    ct.data[3] ^= 1;
    cf_p11_mech other = gcm;
    other.aad = CF_SLICE_LIT("AAD");
    CHECK(!cf_p11_decrypt(tok, &id, &other, cf_buf_slice(&ct), &pt));
    CHECK(cf_error_code() == CF_ERR_DECRYPT);
    /* key wrap of bytes, both ways, and tampering */
    cf_buf w, back;
    cf_buf_init(&w, 256);
    cf_buf_init_secret(&back, 256);
    uint8_t key[32];
    CHECK(cf_random_bytes(key, sizeof key));
    CHECK(cf_p11_wrap_bytes(tok, &id, CF_P11_AES_KW, cf_slice_of(key, 32), &w));
    CHECK(w.len == 40);
    CHECK(cf_p11_unwrap_bytes(tok, &id, CF_P11_AES_KW, cf_buf_slice(&w), &back));
    CHECK(back.len == 32 && memcmp(back.data, key, 32) == 0);
    w.data[7] ^= 1;
    cf_buf_clear(&back);
    CHECK(!cf_p11_unwrap_bytes(tok, &id, CF_P11_AES_KW, cf_buf_slice(&w), &back));
    CHECK(cf_error_code() == CF_ERR_DECRYPT);
    /* CBC-PAD */
    uint8_t civ[16] = {9};
    cf_p11_mech cbc = {.kind = CF_P11_AES_CBC_PAD, .iv = cf_slice_of(civ, 16)};
    cf_buf_clear(&ct);
    cf_buf_clear(&pt);
    CHECK(cf_p11_encrypt(tok, &id, &cbc, CF_SLICE_LIT("seventeen bytes!!"), &ct) && ct.len == 32);
    CHECK(cf_p11_decrypt(tok, &id, &cbc, cf_buf_slice(&ct), &pt) && pt.len == 17);
    /* destroyed keys are gone */
    CHECK(cf_p11_destroy(tok, &id));
    CHECK(!cf_p11_encrypt(tok, &id, &gcm, CF_SLICE_LIT("x"), &ct));
    CHECK(cf_error_code() == CF_ERR_NOT_FOUND);
    cf_buf_free(&ct);
    cf_buf_free(&pt);
    cf_buf_free(&w);
    cf_buf_free(&back);
}

/* A public key built from what the token says, for checks in software. */
static cf_pkey *rsa_public(const cf_p11_id *id)
{
    cf_buf n, e;
    cf_buf_init(&n, 600);
    cf_buf_init(&e, 16);
    CHECK(cf_p11_public_rsa(tok, id, &n, &e));
    json_t *jwk = json_object();
    cf_buf t;
    cf_buf_init(&t, 2000);
    CHECK(cf_base64url_encode(cf_buf_slice(&n), &t));
    json_object_set_new(jwk, "n", json_stringn((char *)t.data, t.len));
    cf_buf_clear(&t);
    CHECK(cf_base64url_encode(cf_buf_slice(&e), &t));
    json_object_set_new(jwk, "e", json_stringn((char *)t.data, t.len));
    json_object_set_new(jwk, "kty", json_string("RSA"));
    cf_pkey *pk = NULL;
    CHECK(cf_pkey_from_jwk(jwk, false, &pk));
    json_decref(jwk);
    cf_buf_free(&n);
    cf_buf_free(&e);
    cf_buf_free(&t);
    return pk;
}

static void test_rsa(const cf_p11_id *root)
{
    cf_p11_id id;
    CHECK(cf_p11_new_id(&id));
    cf_p11_key_spec s = spec_of(
        CF_P11_RSA, 2048, 0,
        CF_P11_USE_SIGN | CF_P11_USE_VERIFY | CF_P11_USE_ENCRYPT | CF_P11_USE_DECRYPT, true);
    CHECK(cf_p11_generate(tok, &s, &id));
    cf_pkey *pub = rsa_public(&id);
    CHECK(pub && cf_pkey_bits(pub) == 2048);
    uint8_t digest[32];
    CHECK(cf_hash_compute(CF_HASH_SHA256, CF_SLICE_LIT("message"), digest));
    cf_buf sig;
    cf_buf_init(&sig, 600);
    static const struct {
        cf_p11_mech_kind kind;
        cf_sig_alg alg;
    } sigs[] = {{CF_P11_RSA_PKCS, CF_SIG_RS256}, {CF_P11_RSA_PSS, CF_SIG_PS256}};
    for (size_t i = 0; i < 2; i++) {
        cf_p11_mech m = {.kind = sigs[i].kind, .hash = CF_HASH_SHA256};
        bool valid = false;
        cf_buf_clear(&sig);
        CHECK(cf_p11_sign(tok, &id, &m, cf_slice_of(digest, 32), &sig) && sig.len == 256);
        CHECK(cf_verify_digest(pub, sigs[i].alg, cf_slice_of(digest, 32), cf_buf_slice(&sig),
                               &valid) &&
              valid);
        CHECK(cf_p11_verify(tok, &id, &m, cf_slice_of(digest, 32), cf_buf_slice(&sig), &valid) &&
              valid);
        sig.data[9] ^= 1;
        CHECK(cf_p11_verify(tok, &id, &m, cf_slice_of(digest, 32), cf_buf_slice(&sig), &valid) &&
              !valid);
    }
    /* OAEP: SHA-1 natively; SHA-256 through raw RSA here (SoftHSM2 2.6
     * lacks it).  OpenSSL's OAEP ciphertext must open in the token, and
     * the token's must open... only in the token, so round-trip it. */
    for (int h = 0; h < 2; h++) {
        cf_rsa_pad pad = h ? CF_RSA_OAEP_SHA256 : CF_RSA_OAEP_SHA1;
        cf_p11_mech m = {
            .kind = CF_P11_RSA_OAEP, .hash = h ? CF_HASH_SHA256 : CF_HASH_SHA1, .key_bytes = 256};
        cf_buf ct, pt;
        cf_buf_init(&ct, 600);
        cf_buf_init_secret(&pt, 600);
        CHECK(cf_rsa_encrypt(pub, pad, CF_SLICE_LIT("a secret"), &ct));
        CHECK(cf_p11_decrypt(tok, &id, &m, cf_buf_slice(&ct), &pt));
        CHECK(pt.len == 8 && memcmp(pt.data, "a secret", 8) == 0);
        ct.data[50] ^= 1;
        cf_buf_clear(&pt);
        CHECK(!cf_p11_decrypt(tok, &id, &m, cf_buf_slice(&ct), &pt));
        CHECK(cf_error_code() == CF_ERR_DECRYPT && pt.len == 0);
        cf_buf_clear(&ct);
        CHECK(cf_p11_encrypt(tok, &id, &m, CF_SLICE_LIT("another"), &ct) && ct.len == 256);
        cf_buf_clear(&pt);
        CHECK(cf_p11_decrypt(tok, &id, &m, cf_buf_slice(&ct), &pt) && pt.len == 7);
        cf_buf_free(&ct);
        cf_buf_free(&pt);
    }
    /* Born extractable: wrapped once under the root, then export is off. */
    cf_buf birth;
    cf_buf_init(&birth, 4096);
    CHECK(cf_p11_wrap_key(tok, root, &id, &birth) && birth.len > 1000);
    CHECK(cf_p11_forbid_export(tok, &id));
    cf_buf again;
    cf_buf_init(&again, 4096);
    CHECK(!cf_p11_wrap_key(tok, root, &id, &again));
    /* The birth blob comes back as a new key that signs as the old one. */
    cf_p11_id copy;
    CHECK(cf_p11_new_id(&copy));
    s.extractable = false;
    CHECK(cf_p11_unwrap_key(tok, root, cf_buf_slice(&birth), &s, &copy));
    CHECK(cf_p11_add_public(tok, &s, &copy));
    cf_p11_mech m = {.kind = CF_P11_RSA_PKCS, .hash = CF_HASH_SHA256};
    cf_buf_clear(&sig);
    bool valid = false;
    CHECK(cf_p11_sign(tok, &copy, &m, cf_slice_of(digest, 32), &sig));
    CHECK(
        cf_verify_digest(pub, CF_SIG_RS256, cf_slice_of(digest, 32), cf_buf_slice(&sig), &valid) &&
        valid);
    birth.data[birth.len - 3] ^= 1;
    cf_p11_id bad;
    CHECK(cf_p11_new_id(&bad));
    CHECK(!cf_p11_unwrap_key(tok, root, cf_buf_slice(&birth), &s, &bad));
    CHECK(cf_error_code() == CF_ERR_DECRYPT);
    /* usage follows key_ops */
    CHECK(cf_p11_set_usage(tok, &copy, CF_P11_USE_VERIFY));
    CHECK(!cf_p11_sign(tok, &copy, &m, cf_slice_of(digest, 32), &sig));
    cf_p11_facts facts;
    CHECK(cf_p11_key_facts(tok, &copy, &facts) && facts.type == CF_P11_RSA && facts.bits == 2048);
    CHECK(cf_p11_destroy(tok, &id) && cf_p11_destroy(tok, &copy));
    cf_pkey_free(pub);
    cf_buf_free(&sig);
    cf_buf_free(&birth);
    cf_buf_free(&again);
}

static void test_ec_import(void)
{
    cf_pkey *key = NULL;
    CHECK(cf_pkey_generate_ec(CF_CURVE_P384, &key));
    cf_buf der, point, expect;
    cf_buf_init_secret(&der, 4096);
    cf_buf_init(&point, 200);
    cf_buf_init(&expect, 200);
    CHECK(cf_pkey_private_der(key, &der));
    cf_p11_id id;
    CHECK(cf_p11_new_id(&id));
    /* verify only: the point is still found (the key may sign until then),
     * and afterwards it may not */
    cf_p11_key_spec s = spec_of(CF_P11_EC, 0, CF_CURVE_P384, CF_P11_USE_VERIFY, true);
    CHECK(cf_p11_import(tok, &s, cf_buf_slice(&der), &id));
    /* the token computes the public point the PKCS#8 did not hand it */
    CHECK(cf_p11_add_public(tok, &s, &id));
    uint8_t digest[48] = {1};
    cf_buf sig;
    cf_buf_init(&sig, 200);
    cf_p11_mech ecdsa = {.kind = CF_P11_ECDSA};
    CHECK(!cf_p11_sign(tok, &id, &ecdsa, cf_slice_of(digest, 48), &sig));
    cf_buf_free(&sig);
    CHECK(cf_p11_public_ec(tok, &id, &point));
    json_t *jwk = json_object();
    CHECK(cf_pkey_to_jwk_public(key, jwk));
    cf_buf x;
    cf_buf_init(&x, 100);
    CHECK(cf_base64url_decode(CF_SLICE_STR(json_string_value(json_object_get(jwk, "x"))), &x));
    CHECK(point.len == 97 && memcmp(point.data + 1, x.data, 48) == 0);
    CHECK(cf_p11_public_ec(tok, &id, &expect));
    cf_p11_facts facts;
    CHECK(cf_p11_key_facts(tok, &id, &facts) && facts.type == CF_P11_EC && facts.known_curve &&
          facts.curve == CF_CURVE_P384);
    CHECK(cf_p11_destroy(tok, &id));
    json_decref(jwk);
    cf_pkey_free(key);
    cf_buf_free(&der);
    cf_buf_free(&point);
    cf_buf_free(&expect);
    cf_buf_free(&x);
}

static void test_byok(void)
{
    cf_p11_id kek;
    CHECK(cf_p11_new_id(&kek));
    cf_p11_key_spec ks = spec_of(CF_P11_RSA, 3072, 0, CF_P11_USE_UNWRAP, false);
    CHECK(cf_p11_generate(tok, &ks, &kek));
    cf_pkey *kek_pub = rsa_public(&kek);
    /* an AES key and an RSA key, wrapped for the KEK as byok.c does */
    uint8_t aes[24];
    CHECK(cf_random_bytes(aes, sizeof aes));
    cf_buf blob;
    cf_buf_init(&blob, 65536);
    CHECK(cf_byok_wrap(kek_pub, "https://v/keys/kek/0123456789abcdef0123456789abcdef",
                       cf_slice_of(aes, sizeof aes), "oct-HSM", NULL, &blob));
    cf_byok_blob parsed;
    memset(&parsed, 0, sizeof parsed);
    cf_buf_init(&parsed.ciphertext, CF_BYOK_CIPHERTEXT_MAX);
    CHECK(cf_byok_parse(cf_buf_slice(&blob), &parsed));
    CHECK(strcmp(parsed.key_type, "oct-HSM") == 0 &&
          strncmp(parsed.kid, "https://v/keys/kek/", 19) == 0);
    cf_p11_id id;
    CHECK(cf_p11_new_id(&id));
    cf_p11_key_spec as = spec_of(CF_P11_AES, 0, 0, CF_P11_USE_WRAP | CF_P11_USE_UNWRAP, false);
    CHECK(
        cf_p11_unwrap_rsa_aes(tok, &kek, CF_HASH_SHA1, cf_buf_slice(&parsed.ciphertext), &as, &id));
    /* the token holds the original key: its key wrap matches ours */
    uint8_t payload[16] = "0123456789abcdef";
    cf_buf in_token, in_sw;
    cf_buf_init(&in_token, 64);
    cf_buf_init(&in_sw, 64);
    CHECK(cf_p11_wrap_bytes(tok, &id, CF_P11_AES_KW, cf_slice_of(payload, 16), &in_token));
    CHECK(cf_aes_kw_wrap(cf_slice_of(aes, sizeof aes), cf_slice_of(payload, 16), &in_sw));
    CHECK(cf_slice_eq(cf_buf_slice(&in_token), cf_buf_slice(&in_sw)));
    /* tampered: refused as bad input, nothing made */
    parsed.ciphertext.data[parsed.ciphertext.len - 2] ^= 1;
    cf_p11_id id2;
    CHECK(cf_p11_new_id(&id2));
    CHECK(!cf_p11_unwrap_rsa_aes(tok, &kek, CF_HASH_SHA1, cf_buf_slice(&parsed.ciphertext), &as,
                                 &id2));
    CHECK(cf_error_code() == CF_ERR_DECRYPT);
    CHECK(!cf_p11_key_facts(tok, &id2, &(cf_p11_facts){0}));
    /* parser refusals */
    static const char *const bad[] = {
        "",
        "[]",
        "{\"schema_version\":\"1.0.0\"}",
        "{\"schema_version\":\"2.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\",\"enc\":\"CKM_RSA_"
        "AES_KEY_WRAP\"},\"ciphertext\":\"AA\"}",
        "{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"RSA\",\"enc\":\"CKM_RSA_"
        "AES_KEY_WRAP\"},\"ciphertext\":\"AA\"}",
        "{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\",\"enc\":\"x\"},"
        "\"ciphertext\":\"AA\"}",
        "{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\",\"enc\":\"CKM_RSA_"
        "AES_KEY_WRAP\"},\"ciphertext\":\"!!\"}",
        "{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\",\"enc\":\"CKM_RSA_"
        "AES_KEY_WRAP\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cf_buf_clear(&parsed.ciphertext);
        CHECK(!cf_byok_parse(CF_SLICE_STR(bad[i]), &parsed));
        CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    }
    CHECK(cf_p11_destroy(tok, &id) && cf_p11_destroy(tok, &kek));
    cf_pkey_free(kek_pub);
    cf_buf_free(&blob);
    cf_buf_free(&parsed.ciphertext);
    cf_buf_free(&in_token);
    cf_buf_free(&in_sw);
}

static void test_seal(void)
{
    cf_seal *seal = NULL;
    cf_seal_roots roots;
    CHECK(cf_seal_pkcs11_create_roots(tok, "unit", &roots));
    CHECK(roots.sealed_unwrap);
    /* the seal owns the token it is given: hand it a second handle */
    cf_p11 *second = NULL;
    cf_p11_config cfg = {CF_SOFTHSM2_MODULE, "unit", CF_SLICE_LIT("1234"), {0}};
    CHECK(cf_p11_open(&cfg, &second));
    CHECK(cf_seal_pkcs11_open(second, &roots, &seal));
    cf_buf w, k;
    cf_buf_init(&w, 256);
    cf_buf_init_secret(&k, 64);
    uint8_t master[32];
    CHECK(cf_random_bytes(master, 32));
    CHECK(seal->wrap(seal, cf_slice_of(master, 32), CF_SLICE_LIT("identity"), &w));
    CHECK(w.len == 1 + 12 + 32 + 16 && w.data[0] == 1);
    CHECK(seal->unwrap(seal, cf_buf_slice(&w), CF_SLICE_LIT("identity"), &k));
    CHECK(k.len == 32 && memcmp(k.data, master, 32) == 0);
    cf_buf_clear(&k);
    CHECK(!seal->unwrap(seal, cf_buf_slice(&w), CF_SLICE_LIT("another"), &k));
    CHECK(cf_error_code() == CF_ERR_DECRYPT);
    w.data[0] = 2;
    CHECK(!seal->unwrap(seal, cf_buf_slice(&w), CF_SLICE_LIT("identity"), &k));
    cf_seal_destroy(seal);
    /* each root key does one job only */
    cf_p11_key_info info;
    CHECK(cf_p11_secret_info(tok, &roots.root, &info));
    CHECK(info.can_encrypt && info.can_decrypt && !info.can_wrap && !info.can_unwrap);
    CHECK(cf_p11_secret_info(tok, &roots.wrap, &info));
    CHECK(!info.can_encrypt && !info.can_decrypt && info.can_wrap && info.can_unwrap);
    /* keys that are not root keys, or swapped */
    cf_seal_roots bad = roots;
    cf_p11_key_spec s = spec_of(CF_P11_AES, 128, 0, CF_P11_USE_ENCRYPT | CF_P11_USE_DECRYPT, false);
    CHECK(cf_p11_new_id(&bad.root) && cf_p11_generate(tok, &s, &bad.root));
    CHECK(cf_p11_open(&cfg, &second));
    CHECK(!cf_seal_pkcs11_open(second, &bad, &seal));
    CHECK(strstr(cf_error_detail(), "root key") && strstr(cf_error_detail(), "wrong type"));
    CHECK(cf_p11_destroy(tok, &bad.root));
    bad = (cf_seal_roots){roots.wrap, roots.root, true};
    CHECK(cf_p11_open(&cfg, &second));
    CHECK(!cf_seal_pkcs11_open(second, &bad, &seal));
    CHECK(strstr(cf_error_detail(), "encrypt and decrypt"));
    bad = roots;
    CHECK(cf_p11_new_id(&bad.wrap));
    CHECK(cf_p11_open(&cfg, &second));
    CHECK(!cf_seal_pkcs11_open(second, &bad, &seal));
    CHECK(strstr(cf_error_detail(), "key-wrapping root key is missing"));
    /* a seal just made and abandoned takes its root keys with it */
    CHECK(cf_p11_open(&cfg, &second));
    CHECK(cf_seal_pkcs11_open(second, &roots, &seal));
    cf_seal_pkcs11_discard_roots(seal);
    cf_seal_destroy(seal);
    CHECK(!cf_p11_secret_info(tok, &roots.root, &info) &&
          !cf_p11_secret_info(tok, &roots.wrap, &info));
    cf_buf_free(&w);
    cf_buf_free(&k);
}

/* The key-wrapping root key only unwraps keys into sensitive,
 * non-extractable objects: what it wrapped never comes back out. */
static void test_root_unwrap_template(void)
{
    cf_seal_roots roots;
    cf_p11_id key, back;
    CHECK(cf_seal_pkcs11_create_roots(tok, "unit", &roots));
    cf_p11_id *root = &roots.wrap;
    cf_p11_key_spec s = spec_of(CF_P11_AES, 256, 0, CF_P11_USE_ENCRYPT, true);
    CHECK(cf_p11_new_id(&key) && cf_p11_generate(tok, &s, &key));
    cf_buf w;
    cf_buf_init(&w, 256);
    CHECK(cf_p11_wrap_key(tok, root, &key, &w));
    /* the other root key cannot decrypt what was wrapped (roles apart) */
    cf_buf pt;
    cf_buf_init_secret(&pt, 256);
    cf_p11_mech kwp = {.kind = CF_P11_AES_KWP};
    CHECK(!cf_p11_decrypt(tok, &roots.root, &kwp, cf_buf_slice(&w), &pt));
    cf_buf_free(&pt);
    CHECK(cf_p11_new_id(&back));
    CHECK(!cf_p11_unwrap_key(tok, root, cf_buf_slice(&w), &s, &back));
    CHECK(!cf_p11_key_facts(tok, &back, &(cf_p11_facts){0}));
    s.extractable = false;
    CHECK(cf_p11_unwrap_key(tok, root, cf_buf_slice(&w), &s, &back));
    /* unwrapped: not extractable, not wrappable out again */
    cf_buf again;
    cf_buf_init(&again, 256);
    CHECK(!cf_p11_wrap_key(tok, root, &back, &again));
    CHECK(cf_p11_destroy(tok, &key) && cf_p11_destroy(tok, &back) &&
          cf_p11_destroy(tok, &roots.root) && cf_p11_destroy(tok, &roots.wrap));
    cf_buf_free(&w);
    cf_buf_free(&again);
}

static void test_seal_dir(void)
{
    char dir[400], path[500];
    snprintf(dir, sizeof dir, "%s/dev", tmp);
    CHECK(cf_mkdirs(dir, 0700));
    snprintf(path, sizeof path, "%s/vault.db", dir); /* what a vault directory has */
    CHECK(cf_write_file_atomic(path, CF_SLICE_LIT("x"), 0600));
    cf_seal_options dev = {.dev_seal = true}, none = {0};
    cf_sealed_dir d, d2;
    CHECK(cf_seal_dir_open(dir, "coffer-vault", &dev, CF_SLICE_LIT("aad"), true, &d));
    CHECK(d.dev && d.master_key);
    uint8_t master[32];
    memcpy(master, d.master_key, 32);
    /* one process a directory */
    CHECK(!cf_seal_dir_open(dir, "coffer-vault", &dev, CF_SLICE_LIT("aad"), false, &d2));
    CHECK(cf_error_code() == CF_ERR_CONFLICT);
    char where[400];
    CHECK(!cf_seal_dir_migrate(dir, "coffer-vault", &none, where, sizeof where));
    CHECK(cf_error_code() == CF_ERR_CONFLICT);
    cf_sealed_dir_close(&d);
    /* the file seal needs --dev-seal; the wrong associated data fails */
    CHECK(!cf_seal_dir_open(dir, "coffer-vault", &none, CF_SLICE_LIT("aad"), false, &d));
    CHECK(strstr(cf_error_detail(), "development file seal"));
    CHECK(!cf_seal_dir_open(dir, "coffer-vault", &dev, CF_SLICE_LIT("other"), false, &d));
    CHECK(cf_seal_dir_open(dir, "coffer-vault", &dev, CF_SLICE_LIT("aad"), false, &d));
    CHECK(memcmp(d.master_key, master, 32) == 0);
    cf_sealed_dir_close(&d);
    /* the move onto the embedded token, then opening it there */
    const char *service = NULL;
    CHECK(cf_seal_dir_service(dir, &service) && strcmp(service, "coffer-vault") == 0);
    CHECK(cf_seal_dir_migrate(dir, "coffer-vault", &none, where, sizeof where));
    CHECK(strstr(where, "PKCS#11 token 'coffer-vault'"));
    snprintf(path, sizeof path, "%s/seal.key", dir);
    CHECK(!cf_file_exists(path));
    CHECK(!cf_seal_dir_open(dir, "coffer-vault", &dev, CF_SLICE_LIT("aad"), false, &d));
    CHECK(cf_seal_dir_open(dir, "coffer-vault", &none, CF_SLICE_LIT("aad"), false, &d));
    CHECK(!d.dev && d.seal->token && memcmp(d.master_key, master, 32) == 0);
    cf_sealed_dir_close(&d);
    CHECK(!cf_seal_dir_migrate(dir, "coffer-vault", &none, where, sizeof where));
    CHECK(strstr(cf_error_detail(), "already sealed"));
}

int main(void)
{
    CHECK(cf_secmem_init(1 << 20) && cf_crypto_init());
    setup_token();
    if (!tok)
        TEST_DONE();
    /* Refusals need the token not logged in: no handle open. */
    cf_p11_close(tok);
    RUN(test_open_refusals);
    cf_p11_config cfg = {CF_SOFTHSM2_MODULE, "unit", CF_SLICE_LIT("1234"), {0}};
    CHECK(cf_p11_open(&cfg, &tok));
    cf_p11_id root;
    cf_p11_key_spec rs = spec_of(
        CF_P11_AES, 256, 0,
        CF_P11_USE_ENCRYPT | CF_P11_USE_DECRYPT | CF_P11_USE_WRAP | CF_P11_USE_UNWRAP, false);
    CHECK(cf_p11_new_id(&root) && cf_p11_generate(tok, &rs, &root));
    RUN(test_aes);
    RUN_WITH(test_rsa, &root);
    RUN(test_ec_import);
    RUN(test_byok);
    RUN(test_seal);
    RUN(test_root_unwrap_template);
    cf_p11_close(tok);
    RUN(test_seal_dir);
    CHECK(test_remove_dir(tmp));
    TEST_DONE();
}
