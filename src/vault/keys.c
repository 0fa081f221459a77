/*
 * The keys resource: create, import, get, list, versions, update, delete,
 * deleted keys (get, list, recover, purge), backup, restore, rotate and the
 * rotation policy.  Each handler parses its request, calls the store and
 * crypto, and renders Key Vault's JSON; operations with keys (encrypt,
 * sign, ...) are in key_ops.c.
 */
#include "keys.h"

#include <stdio.h>
#include <string.h>

#include "encoding.h"
#include "hsm_keys.h"
#include "key_cache.h"
#include "resource.h"
#include "secmem.h"

#define CF_OCT_MAX 32
/* A BYOK transfer blob (RSA-4096 ciphertext and an RSA-4096 PKCS#8 under
 * key wrap) or a PKCS#8 key, decoded. */
#define CF_BYOK_TRANSFER_MAX 16384

static const struct {
    const char *name;
    unsigned bit;
} cf_key_op_names[] = {
    {"encrypt", CF_OP_ENCRYPT}, {"decrypt", CF_OP_DECRYPT}, {"sign", CF_OP_SIGN},
    {"verify", CF_OP_VERIFY},   {"wrapKey", CF_OP_WRAP},    {"unwrapKey", CF_OP_UNWRAP},
    {"import", CF_OP_IMPORT},   {"export", CF_OP_EXPORT},
};

#define CF_N_OPS (sizeof cf_key_op_names / sizeof *cf_key_op_names)

void cf_key_init(cf_key *key)
{
    memset(key, 0, sizeof *key);
    cf_object_init(&key->obj);
    cf_buf_init_secret(&key->oct, CF_OCT_MAX);
}

void cf_key_free(cf_key *key)
{
    cf_object_free(&key->obj);
    cf_pkey_free(key->pkey);
    key->pkey = NULL;
    cf_buf_free(&key->oct);
}

bool cf_kty_parse(const char *name, cf_kty *kty, bool *hsm)
{
    static const char *const names[] = {"RSA", "EC", "oct"};
    size_t n = strlen(name);
    *hsm = n > 4 && strcmp(name + n - 4, "-HSM") == 0;
    if (*hsm)
        n -= 4;
    for (size_t i = 0; i < 3; i++) {
        if (strlen(names[i]) == n && strncmp(name, names[i], n) == 0) {
            *kty = (cf_kty)i;
            return true;
        }
    }
    CF_BAIL(CF_ERR_BAD_INPUT, "kty must be one of RSA, RSA-HSM, EC, EC-HSM, oct, oct-HSM");
}

/* Operations each key type can perform at all. */
unsigned cf_kty_possible_ops(cf_kty kty)
{
    switch (kty) {
    case CF_KTY_RSA:
        return CF_OP_ENCRYPT | CF_OP_DECRYPT | CF_OP_SIGN | CF_OP_VERIFY | CF_OP_WRAP |
               CF_OP_UNWRAP | CF_OP_IMPORT | CF_OP_EXPORT;
    case CF_KTY_EC: return CF_OP_SIGN | CF_OP_VERIFY | CF_OP_IMPORT | CF_OP_EXPORT;
    case CF_KTY_OCT:
        return CF_OP_ENCRYPT | CF_OP_DECRYPT | CF_OP_WRAP | CF_OP_UNWRAP | CF_OP_IMPORT |
               CF_OP_EXPORT;
    default: return 0;
    }
}

unsigned cf_kty_default_ops(cf_kty kty)
{
    return cf_kty_possible_ops(kty) & ~(unsigned)(CF_OP_IMPORT | CF_OP_EXPORT);
}

static bool cf_parse_key_ops(json_t *ops, cf_kty kty, unsigned *out)
{
    *out = 0;
    if (!ops || json_is_null(ops))
        return true;
    CF_ENSURE(json_is_array(ops) && json_array_size(ops) <= CF_N_OPS * 2, CF_ERR_BAD_INPUT,
              "key_ops must be an array of operation names");
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        const char *s = json_string_value(op);
        CF_ENSURE(s, CF_ERR_BAD_INPUT, "key_ops must be an array of operation names");
        unsigned bit = 0;
        for (size_t k = 0; k < CF_N_OPS; k++)
            if (strcmp(s, cf_key_op_names[k].name) == 0)
                bit = cf_key_op_names[k].bit;
        CF_ENSUREF(bit, CF_ERR_BAD_INPUT, "unknown key operation '%.32s'", s);
        CF_ENSUREF(bit & cf_kty_possible_ops(kty), CF_ERR_BAD_INPUT,
                   "key operation '%s' is not valid for this key type", s);
        *out |= bit;
    }
    return true;
}

static json_t *cf_key_ops_json(unsigned ops)
{
    json_t *arr = json_array();
    for (size_t k = 0; arr && k < CF_N_OPS; k++)
        if (ops & cf_key_op_names[k].bit)
            json_array_append_new(arr, json_string(cf_key_op_names[k].name));
    return arr;
}

static unsigned cf_key_ops_of_props(json_t *props)
{
    return (unsigned)json_integer_value(json_object_get(props, "ops"));
}

unsigned cf_key_ops_of(const cf_object *obj)
{
    return cf_key_ops_of_props(obj->props);
}

const char *cf_key_kty_name(const cf_object *obj)
{
    const char *kty = json_string_value(json_object_get(obj->props, "kty"));
    return kty ? kty : "";
}

bool cf_key_set_props(cf_vault *vault, cf_object *obj, const char *kty_name, json_t *public_jwk,
                      unsigned size, unsigned ops, cf_slice material)
{
    json_decref(obj->props);
    obj->props = json_pack("{s:s, s:o, s:i, s:i}", "kty", kty_name, "jwk", public_jwk, "size",
                           (int)size, "ops", (int)ops);
    CF_ENSURE_ALLOC(obj->props);
    return cf_object_seal(vault, obj, material);
}

/* Stores the public JWK, type and operations of a software key; seals the
 * material. */
static bool cf_key_finish(cf_vault *vault, cf_object *obj, cf_kty kty, json_t *public_jwk,
                          unsigned size, unsigned ops, cf_slice material)
{
    static const char *const names[] = {"RSA", "EC", "oct"};
    return cf_key_set_props(vault, obj, names[kty], public_jwk, size, ops, material);
}

static bool cf_key_finish_pkey(cf_vault *vault, cf_object *obj, cf_pkey *pkey, unsigned ops)
{
    json_t *jwk = json_object();
    CF_ENSURE_ALLOC(jwk);
    cf_buf der;
    cf_buf_init_secret(&der, 16384);
    cf_kty kty = cf_pkey_kty(pkey);
    bool ok = cf_pkey_to_jwk_public(pkey, jwk) && cf_pkey_private_der(pkey, &der);
    if (ok) {
        json_object_del(jwk, "kty");
        ok = cf_key_finish(vault, obj, kty, jwk, cf_pkey_bits(pkey),
                           ops ? ops : cf_kty_default_ops(kty), cf_buf_slice(&der));
    } else {
        json_decref(jwk);
    }
    cf_buf_free(&der);
    return ok;
}

bool cf_key_generate(cf_vault *vault, const cf_key_spec *spec, cf_object *obj)
{
    cf_kty kty;
    bool hsm;
    CF_GUARD(cf_kty_parse(spec->kty, &kty, &hsm));
    CF_ENSURE((spec->ops & ~cf_kty_possible_ops(kty)) == 0, CF_ERR_BAD_INPUT,
              "key_ops contains an operation this key type cannot perform");
    if (hsm) {
        cf_key_spec sized = *spec;
        if (kty != CF_KTY_EC && !sized.size)
            sized.size = kty == CF_KTY_OCT ? 256 : 2048;
        CF_ENSURE(kty != CF_KTY_OCT || sized.size == 128 || sized.size == 192 || sized.size == 256,
                  CF_ERR_BAD_INPUT, "key_size for oct-HSM keys must be 128, 192 or 256");
        CF_ENSURE(kty != CF_KTY_RSA || sized.size == 2048 || sized.size == 3072 ||
                      sized.size == 4096,
                  CF_ERR_BAD_INPUT, "key_size for RSA-HSM keys must be 2048, 3072 or 4096");
        return cf_hsm_generate(vault, kty, &sized, spec->ops ? spec->ops : cf_kty_default_ops(kty),
                               obj);
    }
    if (kty == CF_KTY_OCT) {
        unsigned bits = spec->size ? spec->size : 256;
        CF_ENSURE(bits == 128 || bits == 192 || bits == 256, CF_ERR_BAD_INPUT,
                  "key_size for oct keys must be 128, 192 or 256");
        uint8_t k[CF_OCT_MAX];
        bool ok = cf_random_bytes(k, bits / 8) &&
                  cf_key_finish(vault, obj, kty, json_object(), bits,
                                spec->ops ? spec->ops : cf_kty_default_ops(kty),
                                cf_slice_of(k, bits / 8));
        cf_memzero(k, sizeof k);
        return ok;
    }
    cf_pkey *pkey = NULL;
    if (kty == CF_KTY_RSA) {
        unsigned bits = spec->size ? spec->size : 2048;
        CF_ENSURE(bits == 2048 || bits == 3072 || bits == 4096, CF_ERR_BAD_INPUT,
                  "key_size for RSA keys must be 2048, 3072 or 4096");
        CF_GUARD(cf_pkey_generate_rsa(bits, spec->exponent ? spec->exponent : 65537, &pkey));
    } else {
        cf_curve curve = CF_CURVE_P256;
        if (spec->crv)
            CF_GUARD(cf_curve_from_name(CF_SLICE_STR(spec->crv), &curve));
        CF_GUARD(cf_pkey_generate_ec(curve, &pkey));
    }
    bool ok = cf_key_finish_pkey(vault, obj, pkey, spec->ops);
    cf_pkey_free(pkey);
    return ok;
}

bool cf_key_spec_of(const cf_object *obj, cf_key_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->kty = cf_key_kty_name(obj);
    spec->ops = cf_key_ops_of(obj);
    spec->size = (unsigned)json_integer_value(json_object_get(obj->props, "size"));
    json_t *jwk = json_object_get(obj->props, "jwk");
    spec->crv = json_string_value(json_object_get(jwk, "crv"));
    const char *e = json_string_value(json_object_get(jwk, "e"));
    if (e) {
        cf_buf raw;
        cf_buf_init(&raw, 8);
        bool ok = cf_base64url_decode(CF_SLICE_STR(e), &raw) && raw.len <= 4;
        for (size_t i = 0; ok && i < raw.len; i++)
            spec->exponent = spec->exponent << 8 | raw.data[i];
        cf_buf_free(&raw);
        CF_ENSURE(ok, CF_ERR_INTERNAL, "stored public exponent is malformed");
    }
    return true;
}

json_t *cf_key_bundle(cf_vault *vault, const cf_object *obj)
{
    char kid[1024];
    cf_resource_id(vault, &cf_keys_resource, obj, true, kid, sizeof kid);
    json_t *jwk = json_deep_copy(json_object_get(obj->props, "jwk"));
    if (!jwk)
        return NULL;
    json_object_set_new(jwk, "kid", json_string(kid));
    json_object_set_new(jwk, "kty", json_string(cf_key_kty_name(obj)));
    json_object_set_new(jwk, "key_ops", cf_key_ops_json(cf_key_ops_of(obj)));
    json_t *bundle =
        json_pack("{s:o, s:o}", "key", jwk, "attributes", cf_object_attributes(vault, obj));
    if (bundle && obj->tags)
        json_object_set(bundle, "tags", obj->tags);
    if (bundle && !cf_resource_add_deleted(vault, &cf_keys_resource, obj, bundle)) {
        json_decref(bundle);
        return NULL;
    }
    return bundle;
}

/* Restored properties must describe a key this vault can use. */
static bool cf_key_props_valid(json_t *props)
{
    cf_kty kty;
    bool hsm;
    const char *name = json_string_value(json_object_get(props, "kty"));
    return name && cf_kty_parse(name, &kty, &hsm) &&
           json_is_object(json_object_get(props, "jwk")) &&
           json_is_integer(json_object_get(props, "ops")) &&
           (cf_key_ops_of_props(props) & ~cf_kty_possible_ops(kty)) == 0;
}

/* HSM keys come back as new token objects; software material as it was. */
static bool cf_key_restore_material(cf_vault *vault, cf_object *obj, cf_slice material, cf_buf *out)
{
    cf_kty kty;
    bool hsm;
    CF_GUARD(cf_kty_parse(cf_key_kty_name(obj), &kty, &hsm));
    return hsm ? cf_hsm_restore(vault, obj, material, out) : cf_buf_append_slice(out, material);
}

const cf_resource cf_keys_resource = {
    .kind = CF_KIND_KEY,
    .collection = "keys",
    .deleted = "deletedkeys",
    .backup_magic = "CFKB",
    .bundle = cf_key_bundle,
    .props_valid = cf_key_props_valid,
    .forget = cf_key_cache_forget,
    .stored = cf_hsm_settled,
    .after_purge = cf_hsm_collect_logged,
    .restore_material = cf_key_restore_material,
};

bool cf_key_load(cf_vault *vault, const char *name, const char *version, cf_key *out)
{
    CF_GUARD(cf_store_object_get(vault->store, CF_KIND_KEY, name, version, false, &out->obj));
    bool hsm;
    CF_GUARD(cf_kty_parse(cf_key_kty_name(&out->obj), &out->kty, &hsm));
    out->ops = cf_key_ops_of(&out->obj);
    if (hsm)
        return cf_hsm_load(vault, out);
    if (out->kty != CF_KTY_OCT) {
        out->pkey = cf_key_cache_get(CF_KIND_KEY, out->obj.name, out->obj.version);
        if (out->pkey)
            return true;
    }
    cf_buf material;
    cf_buf_init_secret(&material, 16384);
    bool ok = cf_object_unseal(vault, &out->obj, &material);
    if (ok && out->kty == CF_KTY_OCT)
        ok = cf_buf_append_slice(&out->oct, cf_buf_slice(&material));
    else if (ok && cf_pkey_from_private_der(cf_buf_slice(&material), &out->pkey))
        cf_key_cache_put(CF_KIND_KEY, out->obj.name, out->obj.version, out->pkey);
    else
        ok = false;
    cf_buf_free(&material);
    return ok;
}

/* ---- handlers ---- */

bool cf_key_create_handler(cf_vault_call *call)
{
    const char *name = call->params.name;
    CF_GUARD(cf_vault_require_body(call));
    cf_key_spec spec = {0};
    json_t *b = call->body;
    CF_GUARD(cf_vault_json_string(b, "kty", true, &spec.kty));
    CF_GUARD(cf_vault_json_string(b, "crv", false, &spec.crv));
    json_t *size = json_object_get(b, "key_size");
    if (size && !json_is_null(size)) {
        CF_ENSURE(json_is_integer(size) && json_integer_value(size) > 0 &&
                      json_integer_value(size) <= 16384,
                  CF_ERR_BAD_INPUT, "key_size must be a positive integer");
        spec.size = (unsigned)json_integer_value(size);
    }
    json_t *e = json_object_get(b, "public_exponent");
    if (e && !json_is_null(e)) {
        CF_ENSURE(json_is_integer(e) && json_integer_value(e) >= 3 &&
                      json_integer_value(e) <= 0x7fffffff && (json_integer_value(e) & 1),
                  CF_ERR_BAD_INPUT, "public_exponent must be an odd integer >= 3");
        spec.exponent = (uint32_t)json_integer_value(e);
    }
    cf_kty kty;
    bool hsm;
    CF_GUARD(cf_kty_parse(spec.kty, &kty, &hsm));
    CF_ENSURE(kty == CF_KTY_EC || !spec.crv, CF_ERR_BAD_INPUT, "crv applies to EC keys only");
    CF_ENSURE(kty != CF_KTY_EC || !spec.size, CF_ERR_BAD_INPUT,
              "key_size does not apply to EC keys; use crv");
    CF_GUARD(cf_parse_key_ops(json_object_get(b, "key_ops"), kty, &spec.ops));
    cf_object obj;
    bool ok = cf_resource_new_version(call, &cf_keys_resource, name, &obj) &&
              cf_key_generate(call->vault, &spec, &obj) &&
              cf_resource_insert(call, &cf_keys_resource, &obj);
    cf_object_free(&obj);
    return ok;
}

static bool cf_key_import_oct(cf_vault_call *call, json_t *jwk, unsigned ops, cf_object *obj)
{
    cf_buf k;
    cf_buf_init_secret(&k, CF_OCT_MAX);
    bool ok = cf_vault_json_b64url(jwk, "k", true, &k);
    if (ok && k.len != 16 && k.len != 24 && k.len != 32) {
        cf_error_raise(CF_ERR_BAD_INPUT, __FILE__, __LINE__,
                       "oct keys must be 128, 192 or 256 bits");
        ok = false;
    }
    if (ok)
        ok = cf_key_finish(call->vault, obj, CF_KTY_OCT, json_object(), (unsigned)k.len * 8,
                           ops ? ops : cf_kty_default_ops(CF_KTY_OCT), cf_buf_slice(&k));
    cf_buf_free(&k);
    return ok;
}

/* An import into the token: a BYOK transfer blob (key_hsm), or key
 * material the client sent in clear with "Hsm": true or an -HSM kty. */
static bool cf_key_import_hsm(cf_vault_call *call, json_t *jwk, cf_kty kty, unsigned ops,
                              cf_object *obj)
{
    const char *crv;
    CF_GUARD(cf_vault_json_string(jwk, "crv", false, &crv));
    ops = ops ? ops : cf_kty_default_ops(kty);
    cf_buf material;
    cf_buf_init_secret(&material, CF_BYOK_TRANSFER_MAX);
    bool ok;
    if (json_object_get(jwk, "key_hsm")) {
        ok = cf_vault_json_b64url(jwk, "key_hsm", true, &material) &&
             cf_hsm_import_byok(call->vault, kty, crv, cf_buf_slice(&material), ops, obj);
    } else if (kty == CF_KTY_OCT) {
        ok = cf_vault_json_b64url(jwk, "k", true, &material) &&
             cf_hsm_import(call->vault, kty, CF_CURVE_P256, cf_buf_slice(&material), ops, obj);
    } else {
        cf_pkey *pkey = NULL;
        ok = cf_pkey_from_jwk(jwk, true, &pkey) && cf_pkey_private_der(pkey, &material) &&
             cf_hsm_import(call->vault, kty, kty == CF_KTY_EC ? cf_pkey_curve(pkey) : CF_CURVE_P256,
                           cf_buf_slice(&material), ops, obj);
        cf_pkey_free(pkey);
    }
    cf_buf_free(&material);
    return ok;
}

bool cf_key_import_handler(cf_vault_call *call)
{
    const char *name = call->params.name;
    CF_GUARD(cf_vault_require_body(call));
    json_t *jwk = json_object_get(call->body, "key");
    CF_ENSURE(json_is_object(jwk), CF_ERR_BAD_INPUT, "the parameter 'key' must be a JWK object");
    json_t *hsm_flag = json_object_get(call->body, "Hsm");
    CF_ENSURE(!hsm_flag || json_is_boolean(hsm_flag) || json_is_null(hsm_flag), CF_ERR_BAD_INPUT,
              "the parameter 'Hsm' must be a boolean");
    const char *kty_name;
    CF_GUARD(cf_vault_json_string(jwk, "kty", true, &kty_name));
    cf_kty kty;
    bool hsm;
    CF_GUARD(cf_kty_parse(kty_name, &kty, &hsm));
    CF_ENSURE(hsm || !json_object_get(jwk, "key_hsm"), CF_ERR_BAD_INPUT,
              "A BYOK import (key_hsm) needs kty RSA-HSM, EC-HSM or oct-HSM.");
    unsigned ops;
    CF_GUARD(cf_parse_key_ops(json_object_get(jwk, "key_ops"), kty, &ops));
    cf_object obj;
    bool ok = cf_resource_new_version(call, &cf_keys_resource, name, &obj);
    if (ok && (hsm || json_is_true(hsm_flag))) {
        ok = cf_key_import_hsm(call, jwk, kty, ops, &obj);
    } else if (ok && kty == CF_KTY_OCT) {
        ok = cf_key_import_oct(call, jwk, ops, &obj);
    } else if (ok) {
        cf_pkey *pkey = NULL;
        ok = cf_pkey_from_jwk(jwk, true, &pkey) && cf_key_finish_pkey(call->vault, &obj, pkey, ops);
        cf_pkey_free(pkey);
    }
    ok = ok && cf_resource_insert(call, &cf_keys_resource, &obj);
    cf_object_free(&obj);
    return ok;
}

bool cf_key_update_handler(cf_vault_call *call)
{
    const char *name = call->params.name, *version = call->params.version;
    CF_GUARD(cf_vault_require_body(call));
    cf_object obj;
    cf_object_init(&obj);
    bool ok = cf_store_object_get(call->vault->store, CF_KIND_KEY, name, version, false, &obj) &&
              cf_object_parse_attributes(call->body, &obj);
    json_t *ops_json = json_object_get(call->body, "key_ops");
    if (ok && ops_json && !json_is_null(ops_json)) {
        cf_kty kty;
        bool hsm;
        unsigned ops = 0;
        ok = cf_kty_parse(cf_key_kty_name(&obj), &kty, &hsm) &&
             cf_parse_key_ops(ops_json, kty, &ops) &&
             (!hsm || cf_hsm_set_ops(call->vault, &obj, ops));
        if (ok)
            json_object_set_new(obj.props, "ops", json_integer(ops));
    }
    if (ok) {
        obj.updated = cf_vault_now();
        ok = cf_store_object_update(call->vault->store, &obj) &&
             cf_resource_reply(call, &cf_keys_resource, &obj);
    }
    cf_object_free(&obj);
    return ok;
}

bool cf_key_rotate_handler(cf_vault_call *call)
{
    cf_object obj;
    cf_object_init(&obj);
    bool ok = cf_key_rotate(call->vault, call->params.name, &obj) &&
              cf_resource_reply(call, &cf_keys_resource, &obj);
    cf_object_free(&obj);
    return ok;
}
