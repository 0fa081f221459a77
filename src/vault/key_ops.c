/*
 * Cryptographic operations with a stored key: encrypt, decrypt, wrapKey,
 * unwrapKey, sign, verify; and the vault's random number endpoint.
 *
 * Before any operation the key must be enabled, permit the operation in
 * key_ops, and for operations that protect or vouch for new data (encrypt,
 * wrapKey, sign) lie inside its nbf/exp window; decrypt, unwrapKey and
 * verify stay possible outside it so data protected earlier is not lost,
 * as Key Vault specifies.
 */
#include <stdio.h>
#include <string.h>

#include "hsm_keys.h"
#include "keys.h"
#include "metrics.h"
#include "resource.h"

#define CF_OP_MAX_INPUT (256u * 1024)
#define CF_RNG_MAX 128

typedef enum {
    CF_OPK_ENCRYPT,
    CF_OPK_DECRYPT,
    CF_OPK_WRAP,
    CF_OPK_UNWRAP,
    CF_OPK_SIGN,
    CF_OPK_VERIFY
} cf_op_kind;

static const struct {
    const char *path; /* the route's last segment */
    const char *name; /* key_ops name, for messages */
    unsigned bit;
    bool creates; /* protects or vouches for new data */
} cf_ops[] = {
    [CF_OPK_ENCRYPT] = {.path = "encrypt",
                        .name = "encrypt",
                        .bit = CF_OP_ENCRYPT,
                        .creates = true},
    [CF_OPK_DECRYPT] = {.path = "decrypt",
                        .name = "decrypt",
                        .bit = CF_OP_DECRYPT,
                        .creates = false},
    [CF_OPK_WRAP] = {.path = "wrapkey", .name = "wrapKey", .bit = CF_OP_WRAP, .creates = true},
    [CF_OPK_UNWRAP] = {.path = "unwrapkey",
                       .name = "unwrapKey",
                       .bit = CF_OP_UNWRAP,
                       .creates = false},
    [CF_OPK_SIGN] = {.path = "sign", .name = "sign", .bit = CF_OP_SIGN, .creates = true},
    [CF_OPK_VERIFY] = {.path = "verify", .name = "verify", .bit = CF_OP_VERIFY, .creates = false},
};

/* Symmetric and RSA encryption algorithms. */
typedef enum { CF_MODE_RSA, CF_MODE_GCM, CF_MODE_CBC, CF_MODE_CBCPAD, CF_MODE_KW } cf_enc_mode;

static const struct {
    const char *name;
    cf_enc_mode mode;
    cf_rsa_pad pad;   /* RSA */
    unsigned key_len; /* AES key bytes */
    bool wrap_only;
    bool encrypt_only;
} cf_enc_algs[] = {
    {"RSA-OAEP", CF_MODE_RSA, CF_RSA_OAEP_SHA1, 0, false, false},
    {"RSA-OAEP-256", CF_MODE_RSA, CF_RSA_OAEP_SHA256, 0, false, false},
    {"RSA1_5", CF_MODE_RSA, CF_RSA_PKCS1, 0, false, false},
    {"A128GCM", CF_MODE_GCM, 0, 16, false, true},
    {"A192GCM", CF_MODE_GCM, 0, 24, false, true},
    {"A256GCM", CF_MODE_GCM, 0, 32, false, true},
    {"A128CBC", CF_MODE_CBC, 0, 16, false, true},
    {"A192CBC", CF_MODE_CBC, 0, 24, false, true},
    {"A256CBC", CF_MODE_CBC, 0, 32, false, true},
    {"A128CBCPAD", CF_MODE_CBCPAD, 0, 16, false, true},
    {"A192CBCPAD", CF_MODE_CBCPAD, 0, 24, false, true},
    {"A256CBCPAD", CF_MODE_CBCPAD, 0, 32, false, true},
    {"A128KW", CF_MODE_KW, 0, 16, true, false},
    {"A192KW", CF_MODE_KW, 0, 24, true, false},
    {"A256KW", CF_MODE_KW, 0, 32, true, false},
};

static const struct {
    const char *name;
    cf_sig_alg alg;
} cf_sig_algs[] = {
    {"RS256", CF_SIG_RS256},   {"RS384", CF_SIG_RS384}, {"RS512", CF_SIG_RS512},
    {"PS256", CF_SIG_PS256},   {"PS384", CF_SIG_PS384}, {"PS512", CF_SIG_PS512},
    {"ES256", CF_SIG_ES256},   {"ES384", CF_SIG_ES384}, {"ES512", CF_SIG_ES512},
    {"ES256K", CF_SIG_ES256K},
};

static bool cf_op_of_bit(unsigned bit, cf_op_kind *op)
{
    for (size_t i = 0; i < sizeof cf_ops / sizeof *cf_ops; i++) {
        if (cf_ops[i].bit == bit) {
            *op = (cf_op_kind)i;
            return true;
        }
    }
    CF_BAIL(CF_ERR_INTERNAL, "not a key operation");
}

bool cf_key_permits(const cf_key *key, unsigned op_bit, int64_t now)
{
    cf_op_kind op;
    CF_GUARD(cf_op_of_bit(op_bit, &op));
    const char *name = cf_ops[op].name;
    CF_ENSUREF(key->obj.enabled, CF_ERR_DISABLED, "Operation %s is not allowed on a disabled key.",
               name);
    CF_ENSUREF(key->ops & cf_ops[op].bit, CF_ERR_OPERATION,
               "Operation %s is not permitted on this key.", name);
    if (cf_ops[op].creates) {
        CF_ENSUREF(!key->obj.nbf || now >= key->obj.nbf, CF_ERR_DISABLED,
                   "Operation %s is not allowed on a key that is not yet valid.", name);
        CF_ENSUREF(!key->obj.exp || now < key->obj.exp, CF_ERR_DISABLED,
                   "Operation %s is not allowed on an expired key.", name);
    }
    return true;
}

static bool cf_result_reply(cf_vault_call *call, const cf_key *key, json_t *reply)
{
    char kid[1024];
    snprintf(kid, sizeof kid, "%s/keys/%s/%s", call->vault->url, key->obj.name, key->obj.version);
    CF_ENSURE(json_object_set_new(reply, "kid", json_string(kid)) == 0, CF_ERR_NOMEM, NULL);
    return cf_vault_reply(call, 200, reply);
}

static bool cf_find_enc_alg(const char *name, size_t *idx)
{
    for (size_t i = 0; i < sizeof cf_enc_algs / sizeof *cf_enc_algs; i++) {
        if (strcmp(name, cf_enc_algs[i].name) == 0) {
            *idx = i;
            return true;
        }
    }
    CF_BAIL(CF_ERR_BAD_INPUT, "The algorithm is not supported.");
}

/* ---- where the key lives: this process (software keys) or the token ---- */

static size_t cf_key_aes_len(const cf_key *key)
{
    return key->hsm ? key->bits / 8 : key->oct.len;
}

static bool cf_key_rsa(const cf_key *key, bool encrypt, cf_rsa_pad pad, cf_slice in, cf_buf *out)
{
    if (key->hsm)
        return encrypt ? cf_hsm_rsa_encrypt(key, pad, in, out)
                       : cf_hsm_rsa_decrypt(key, pad, in, out);
    return encrypt ? cf_rsa_encrypt(key->pkey, pad, in, out)
                   : cf_rsa_decrypt(key->pkey, pad, in, out);
}

static bool cf_key_gcm_encrypt(const cf_key *key, cf_slice iv, cf_slice aad, cf_slice in,
                               uint8_t *ct, uint8_t tag[CF_GCM_TAG_LEN])
{
    if (key->hsm)
        return cf_hsm_gcm_encrypt(key, iv, aad, in, ct, tag);
    return cf_aes_gcm_encrypt(cf_buf_slice(&key->oct), iv, aad, in, ct, tag);
}

static bool cf_key_gcm_decrypt(const cf_key *key, cf_slice iv, cf_slice aad, cf_slice ct,
                               cf_slice tag, uint8_t *pt)
{
    if (key->hsm)
        return cf_hsm_gcm_decrypt(key, iv, aad, ct, tag, pt);
    return cf_aes_gcm_decrypt(cf_buf_slice(&key->oct), iv, aad, ct, tag, pt);
}

static bool cf_key_cbc(const cf_key *key, bool encrypt, cf_slice iv, bool pad, cf_slice in,
                       cf_buf *out)
{
    if (key->hsm)
        return cf_hsm_cbc(key, encrypt, iv, pad, in, out);
    return encrypt ? cf_aes_cbc_encrypt(cf_buf_slice(&key->oct), iv, pad, in, out)
                   : cf_aes_cbc_decrypt(cf_buf_slice(&key->oct), iv, pad, in, out);
}

static bool cf_key_kw(const cf_key *key, bool wrap, cf_slice in, cf_buf *out)
{
    if (key->hsm)
        return cf_hsm_kw(key, wrap, in, out);
    return wrap ? cf_aes_kw_wrap(cf_buf_slice(&key->oct), in, out)
                : cf_aes_kw_unwrap(cf_buf_slice(&key->oct), in, out);
}

static bool cf_check_alg_fits(const cf_key *key, size_t a, bool wrap)
{
    bool rsa = cf_enc_algs[a].mode == CF_MODE_RSA;
    CF_ENSURE(rsa == (key->kty == CF_KTY_RSA) && (rsa || key->kty == CF_KTY_OCT), CF_ERR_BAD_INPUT,
              "The algorithm does not match the key type.");
    CF_ENSURE(!(wrap ? cf_enc_algs[a].encrypt_only : cf_enc_algs[a].wrap_only), CF_ERR_BAD_INPUT,
              wrap ? "The algorithm is not a key-wrapping algorithm."
                   : "The algorithm is a key-wrapping algorithm; use wrapKey.");
    CF_ENSURE(rsa || cf_key_aes_len(key) == cf_enc_algs[a].key_len, CF_ERR_BAD_INPUT,
              "The algorithm does not match the key size.");
    return true;
}

/* Forward direction: encrypt or wrapKey. */
static bool cf_do_encrypt(cf_vault_call *call, const cf_key *key, size_t a, json_t *reply)
{
    cf_buf in, out, iv, aad;
    cf_buf_init_secret(&in, CF_OP_MAX_INPUT);
    cf_buf_init(&out, CF_OP_MAX_INPUT + 64);
    cf_buf_init(&iv, 16);
    cf_buf_init(&aad, CF_OP_MAX_INPUT);
    bool ok = cf_vault_json_b64url(call->body, "value", true, &in);
    switch (cf_enc_algs[a].mode) {
    case CF_MODE_RSA:
        ok = ok && cf_key_rsa(key, true, cf_enc_algs[a].pad, cf_buf_slice(&in), &out);
        break;
    case CF_MODE_GCM: {
        /* The vault picks the IV: reusing a GCM IV under a key is fatal. */
        uint8_t tag[CF_GCM_TAG_LEN], *ct;
        ok = ok && cf_vault_json_b64url(call->body, "aad", false, &aad);
        if (ok && json_object_get(call->body, "iv") &&
            !json_is_null(json_object_get(call->body, "iv"))) {
            cf_error_raise(CF_ERR_BAD_INPUT, __FILE__, __LINE__,
                           "The IV for AES-GCM is generated by the service and must not be given.");
            ok = false;
        }
        ok = ok && cf_buf_extend(&iv, CF_GCM_IV_LEN, &ct) &&
             cf_random_bytes(iv.data, CF_GCM_IV_LEN) && cf_buf_extend(&out, in.len, &ct) &&
             cf_key_gcm_encrypt(key, cf_buf_slice(&iv), cf_buf_slice(&aad), cf_buf_slice(&in), ct,
                                tag) &&
             cf_vault_json_set_b64url(reply, "tag", cf_slice_of(tag, sizeof tag)) &&
             cf_vault_json_set_b64url(reply, "iv", cf_buf_slice(&iv));
        if (ok && aad.len)
            ok = cf_vault_json_set_b64url(reply, "aad", cf_buf_slice(&aad));
        break;
    }
    case CF_MODE_CBC:
    case CF_MODE_CBCPAD: {
        uint8_t *p;
        ok = ok && cf_vault_json_b64url(call->body, "iv", false, &iv);
        if (ok && iv.len == 0)
            ok = cf_buf_extend(&iv, CF_CBC_IV_LEN, &p) && cf_random_bytes(p, CF_CBC_IV_LEN);
        if (ok && iv.len != CF_CBC_IV_LEN) {
            cf_error_raise(CF_ERR_BAD_INPUT, __FILE__, __LINE__, "The IV must be 16 bytes.");
            ok = false;
        }
        ok = ok &&
             cf_key_cbc(key, true, cf_buf_slice(&iv), cf_enc_algs[a].mode == CF_MODE_CBCPAD,
                        cf_buf_slice(&in), &out) &&
             cf_vault_json_set_b64url(reply, "iv", cf_buf_slice(&iv));
        break;
    }
    case CF_MODE_KW: ok = ok && cf_key_kw(key, true, cf_buf_slice(&in), &out); break;
    default: cf_error_raise(CF_ERR_INTERNAL, __FILE__, __LINE__, "unknown mode"); ok = false;
    }
    ok = ok && cf_vault_json_set_b64url(reply, "value", cf_buf_slice(&out));
    cf_buf_free(&in);
    cf_buf_free(&out);
    cf_buf_free(&iv);
    cf_buf_free(&aad);
    return ok;
}

/* Reverse direction: decrypt or unwrapKey. */
static bool cf_do_decrypt(cf_vault_call *call, const cf_key *key, size_t a, json_t *reply)
{
    cf_buf in, out, iv, aad, tag;
    cf_buf_init(&in, CF_OP_MAX_INPUT);
    cf_buf_init_secret(&out, CF_OP_MAX_INPUT + 64);
    cf_buf_init(&iv, 16);
    cf_buf_init(&aad, CF_OP_MAX_INPUT);
    cf_buf_init(&tag, CF_GCM_TAG_LEN);
    bool ok = cf_vault_json_b64url(call->body, "value", true, &in);
    switch (cf_enc_algs[a].mode) {
    case CF_MODE_RSA:
        ok = ok && cf_key_rsa(key, false, cf_enc_algs[a].pad, cf_buf_slice(&in), &out);
        break;
    case CF_MODE_GCM: {
        uint8_t *pt;
        ok = ok && cf_vault_json_b64url(call->body, "iv", true, &iv) &&
             cf_vault_json_b64url(call->body, "tag", true, &tag) &&
             cf_vault_json_b64url(call->body, "aad", false, &aad);
        if (ok && (iv.len != CF_GCM_IV_LEN || tag.len != CF_GCM_TAG_LEN)) {
            cf_error_raise(CF_ERR_BAD_INPUT, __FILE__, __LINE__,
                           "AES-GCM needs a 12-byte iv and a 16-byte tag.");
            ok = false;
        }
        ok = ok && cf_buf_extend(&out, in.len, &pt) &&
             cf_key_gcm_decrypt(key, cf_buf_slice(&iv), cf_buf_slice(&aad), cf_buf_slice(&in),
                                cf_buf_slice(&tag), pt);
        break;
    }
    case CF_MODE_CBC:
    case CF_MODE_CBCPAD:
        ok = ok && cf_vault_json_b64url(call->body, "iv", true, &iv);
        if (ok && iv.len != CF_CBC_IV_LEN) {
            cf_error_raise(CF_ERR_BAD_INPUT, __FILE__, __LINE__, "The IV must be 16 bytes.");
            ok = false;
        }
        ok = ok && cf_key_cbc(key, false, cf_buf_slice(&iv), cf_enc_algs[a].mode == CF_MODE_CBCPAD,
                              cf_buf_slice(&in), &out);
        break;
    case CF_MODE_KW: ok = ok && cf_key_kw(key, false, cf_buf_slice(&in), &out); break;
    default: cf_error_raise(CF_ERR_INTERNAL, __FILE__, __LINE__, "unknown mode"); ok = false;
    }
    ok = ok && cf_vault_json_set_b64url(reply, "value", cf_buf_slice(&out));
    if (!ok && cf_error_code() == CF_ERR_DECRYPT)
        cf_error_raise(CF_ERR_BAD_INPUT, __FILE__, __LINE__,
                       "The ciphertext could not be decrypted with this key.");
    cf_buf_free(&in);
    cf_buf_free(&out);
    cf_buf_free(&iv);
    cf_buf_free(&aad);
    cf_buf_free(&tag);
    return ok;
}

static bool cf_find_sig_alg(const char *name, cf_sig_alg *out)
{
    for (size_t i = 0; i < sizeof cf_sig_algs / sizeof *cf_sig_algs; i++) {
        if (strcmp(name, cf_sig_algs[i].name) == 0) {
            *out = cf_sig_algs[i].alg;
            return true;
        }
    }
    CF_BAIL(CF_ERR_BAD_INPUT, "The algorithm is not supported.");
}

static bool cf_do_sign(cf_vault_call *call, const cf_key *key, cf_sig_alg alg, json_t *reply)
{
    CF_ENSURE(key->pkey || (key->hsm && key->kty != CF_KTY_OCT), CF_ERR_BAD_INPUT,
              "The algorithm does not match the key type.");
    cf_buf digest, sig;
    cf_buf_init(&digest, 64);
    cf_buf_init(&sig, 1024);
    bool ok = cf_vault_json_b64url(call->body, "value", true, &digest) &&
              (key->hsm ? cf_hsm_sign(key, alg, cf_buf_slice(&digest), &sig)
                        : cf_sign_digest(key->pkey, alg, cf_buf_slice(&digest), &sig)) &&
              cf_vault_json_set_b64url(reply, "value", cf_buf_slice(&sig));
    cf_buf_free(&digest);
    cf_buf_free(&sig);
    return ok;
}

static bool cf_do_verify(cf_vault_call *call, const cf_key *key, cf_sig_alg alg, json_t *reply)
{
    CF_ENSURE(key->pkey || (key->hsm && key->kty != CF_KTY_OCT), CF_ERR_BAD_INPUT,
              "The algorithm does not match the key type.");
    cf_buf digest, sig;
    cf_buf_init(&digest, 64);
    cf_buf_init(&sig, 1024);
    bool valid = false;
    bool ok = cf_vault_json_b64url(call->body, "digest", true, &digest) &&
              cf_vault_json_b64url(call->body, "value", true, &sig) &&
              (key->hsm ? cf_hsm_verify(key, alg, cf_buf_slice(&digest), cf_buf_slice(&sig), &valid)
                        : cf_verify_digest(key->pkey, alg, cf_buf_slice(&digest),
                                           cf_buf_slice(&sig), &valid));
    cf_buf_free(&digest);
    cf_buf_free(&sig);
    CF_GUARD(ok);
    CF_ENSURE(json_object_set_new(reply, "value", json_boolean(valid)) == 0, CF_ERR_NOMEM, NULL);
    return true;
}

static bool cf_run_op(cf_vault_call *call, const cf_key *key, cf_op_kind op, const char *alg,
                      json_t *reply)
{
    if (op == CF_OPK_SIGN || op == CF_OPK_VERIFY) {
        cf_sig_alg sig;
        CF_GUARD(cf_find_sig_alg(alg, &sig));
        return op == CF_OPK_SIGN ? cf_do_sign(call, key, sig, reply)
                                 : cf_do_verify(call, key, sig, reply);
    }
    size_t a;
    bool wrap = op == CF_OPK_WRAP || op == CF_OPK_UNWRAP;
    CF_GUARD(cf_find_enc_alg(alg, &a));
    CF_GUARD(cf_check_alg_fits(key, a, wrap));
    if (op == CF_OPK_ENCRYPT || op == CF_OPK_WRAP)
        return cf_do_encrypt(call, key, a, reply);
    return cf_do_decrypt(call, key, a, reply);
}

static const cf_metric_family cf_key_ops_family = {
    "coffer_key_operations_total",
    "Cryptographic operations done with vault keys, by operation, algorithm and where the key "
    "lives.",
    CF_METRIC_COUNTER};

/* After success only: `alg` is then one of the tables' names. */
static void cf_count_key_op(const cf_key *key, cf_op_kind op, const char *alg)
{
    char labels[128];
    snprintf(labels, sizeof labels, "operation=\"%s\",algorithm=\"%s\",key_store=\"%s\"",
             cf_ops[op].name, alg, key->hsm ? "hsm" : "software");
    cf_metrics_add(&cf_key_ops_family, labels, 1);
}

/* Runs operation `op` with the key the path names ({name}/{version}). */
static bool cf_key_op(cf_vault_call *call, cf_op_kind op)
{
    CF_GUARD(cf_vault_require_body(call));
    const char *alg;
    CF_GUARD(cf_vault_json_string(call->body, "alg", true, &alg));
    cf_key key;
    cf_key_init(&key);
    json_t *reply = json_object();
    bool ok = reply && cf_key_load(call->vault, call->params.name, call->params.version, &key) &&
              cf_key_permits(&key, cf_ops[op].bit, cf_vault_now()) &&
              cf_run_op(call, &key, op, alg, reply);
    if (ok) {
        cf_count_key_op(&key, op, alg);
        ok = cf_result_reply(call, &key, reply);
        reply = NULL;
    }
    json_decref(reply);
    cf_key_free(&key);
    return ok;
}

/* The operation is the route's last segment ("/keys/{name}/{version}/sign"). */
bool cf_key_op_handler(cf_vault_call *call)
{
    const char *last = strrchr(call->route->pattern, '/');
    for (size_t i = 0; last && i < sizeof cf_ops / sizeof *cf_ops; i++)
        if (strcmp(last + 1, cf_ops[i].path) == 0)
            return cf_key_op(call, (cf_op_kind)i);
    CF_BAIL(CF_ERR_INTERNAL, "the route names no key operation");
}

bool cf_rng_handler(cf_vault_call *call)
{
    CF_GUARD(cf_vault_require_body(call));
    json_t *count = json_object_get(call->body, "count");
    CF_ENSURE(json_is_integer(count) && json_integer_value(count) >= 1 &&
                  json_integer_value(count) <= CF_RNG_MAX,
              CF_ERR_BAD_INPUT, "count must be an integer from 1 to 128");
    uint8_t bytes[CF_RNG_MAX];
    size_t n = (size_t)json_integer_value(count);
    json_t *reply = json_object();
    bool ok = reply && cf_random_bytes(bytes, n) &&
              cf_vault_json_set_b64url(reply, "value", cf_slice_of(bytes, n));
    if (!ok) {
        json_decref(reply);
        return false;
    }
    return cf_vault_reply(call, 200, reply);
}
