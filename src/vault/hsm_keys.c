/*
 * HSM-protected keys (hsm_keys.h).
 *
 * A key is born extractable only for one step: right after it is generated
 * (or imported) the token wraps it under the root key with AES key wrap
 * with padding, and export is then turned off for good.  That wrapped form
 * (the "birth blob") is kept in the version's sealed material; backups
 * carry it, and only a token holding the same root key can unwrap it again.
 * The key itself never exists in this process.
 *
 * Sealed material of a version (under the data key, bound to its identity):
 *
 *   u8 format (1) | 16-byte token key id (CKA_ID) | birth blob
 *
 * Token objects carry the label "coffer-vault <vault id>", and props.hsm_id
 * names them in the store, so a collector can destroy the objects of purged
 * versions (and those a crash left behind) without touching anything else
 * in a shared token.  Ids made in the last few minutes are never collected:
 * their version may not be stored yet.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "byok.h"
#include "encoding.h"
#include "hsm_keys.h"
#include "json_secure.h"
#include "log.h"
#include "secmem.h"

#define CF_HSM_FORMAT 1
#define CF_HSM_MATERIAL_MAX 16384
/* Enough for a restore of a name's most versions (CF_BACKUP_MAX_VERSIONS)
 * with many creations besides. */
#define CF_HSM_PENDING 4096
#define CF_HSM_PENDING_SECONDS 600

/* ---- ids being made (not collectable yet) ---- */

static struct {
    pthread_mutex_t lock;
    cf_p11_id id[CF_HSM_PENDING];
    time_t at[CF_HSM_PENDING]; /* 0 = free */
} cf_pending = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Takes a free or expired slot; never one still in use, so a full table
 * refuses the new key instead of exposing another to the collector. */
static bool cf_pending_add(const cf_p11_id *id)
{
    time_t now = time(NULL);
    bool added = false;
    pthread_mutex_lock(&cf_pending.lock);
    for (size_t i = 0; i < CF_HSM_PENDING && !added; i++) {
        if (cf_pending.at[i] && now - cf_pending.at[i] < CF_HSM_PENDING_SECONDS)
            continue;
        cf_pending.id[i] = *id;
        cf_pending.at[i] = now;
        added = true;
    }
    pthread_mutex_unlock(&cf_pending.lock);
    CF_ENSURE(added, CF_ERR_SEAL, "too many HSM keys are being made at once");
    return true;
}

static bool cf_pending_has(const cf_p11_id *id)
{
    time_t now = time(NULL);
    bool found = false;
    pthread_mutex_lock(&cf_pending.lock);
    for (size_t i = 0; i < CF_HSM_PENDING && !found; i++)
        found = cf_pending.at[i] && now - cf_pending.at[i] < CF_HSM_PENDING_SECONDS &&
                memcmp(cf_pending.id[i].bytes, id->bytes, CF_P11_ID_LEN) == 0;
    pthread_mutex_unlock(&cf_pending.lock);
    return found;
}

static void cf_pending_remove(const cf_p11_id *id)
{
    pthread_mutex_lock(&cf_pending.lock);
    for (size_t i = 0; i < CF_HSM_PENDING; i++)
        if (cf_pending.at[i] && memcmp(cf_pending.id[i].bytes, id->bytes, CF_P11_ID_LEN) == 0)
            cf_pending.at[i] = 0;
    pthread_mutex_unlock(&cf_pending.lock);
}

void cf_hsm_settled(const cf_object *obj)
{
    const char *hex = json_string_value(json_object_get(obj->props, "hsm_id"));
    cf_p11_id id;
    if (hex && cf_p11_id_from_hex(hex, &id))
        cf_pending_remove(&id);
    else
        cf_error_clear(); /* a software key: nothing was pending */
}

/* ---- what every HSM key shares ---- */

/* A stored version whose token objects are gone is the token's fault (a
 * 5xx), not a key the client asked for that does not exist (404). */
static bool cf_hsm_op(bool ok)
{
    if (!ok && cf_error_code() == CF_ERR_NOT_FOUND)
        CF_RAISE(CF_ERR_SEAL, "the key's objects are missing from the token");
    return ok;
}

bool cf_hsm_available(const cf_vault *vault)
{
    return vault->seal && vault->seal->token;
}

static bool cf_hsm_token(const cf_vault *vault, cf_p11 **out)
{
    CF_ENSURE(cf_hsm_available(vault), CF_ERR_BAD_INPUT,
              "HSM-protected keys need the PKCS#11 seal; this vault runs on the development "
              "file seal");
    *out = vault->seal->token;
    return true;
}

static void cf_hsm_label(const cf_vault *vault, char out[64])
{
    snprintf(out, 64, "coffer-vault %s", vault->vault_id);
}

unsigned cf_hsm_usage(cf_kty kty, unsigned ops)
{
    unsigned u = 0;
    if (kty == CF_KTY_OCT) {
        u |= ops & CF_OP_ENCRYPT ? CF_P11_USE_ENCRYPT : 0;
        u |= ops & CF_OP_DECRYPT ? CF_P11_USE_DECRYPT : 0;
        u |= ops & CF_OP_WRAP ? CF_P11_USE_WRAP : 0;
        u |= ops & CF_OP_UNWRAP ? CF_P11_USE_UNWRAP : 0;
        return u;
    }
    u |= ops & CF_OP_SIGN ? CF_P11_USE_SIGN : 0;
    u |= ops & CF_OP_VERIFY ? CF_P11_USE_VERIFY : 0;
    if (kty == CF_KTY_RSA) {
        /* wrapKey and unwrapKey with an RSA key are encryption of key bytes. */
        u |= ops & (CF_OP_ENCRYPT | CF_OP_WRAP) ? CF_P11_USE_ENCRYPT : 0;
        u |= ops & (CF_OP_DECRYPT | CF_OP_UNWRAP) ? CF_P11_USE_DECRYPT : 0;
        /* A key-exchange key unwraps BYOK transfer blobs. */
        u |= ops & CF_OP_IMPORT ? CF_P11_USE_UNWRAP : 0;
    }
    return u;
}

static cf_p11_key_type cf_hsm_type(cf_kty kty)
{
    return kty == CF_KTY_OCT ? CF_P11_AES : kty == CF_KTY_RSA ? CF_P11_RSA : CF_P11_EC;
}

static const char *cf_hsm_kty_name(cf_kty kty)
{
    return kty == CF_KTY_OCT ? "oct-HSM" : kty == CF_KTY_RSA ? "RSA-HSM" : "EC-HSM";
}

/* The public JWK (without kty) and size of a key in the token. */
static bool cf_hsm_public(cf_p11 *token, cf_kty kty, cf_curve curve, const cf_p11_id *id,
                          json_t *jwk, unsigned *size)
{
    cf_buf a, b;
    cf_buf_init(&a, CF_P11_RSA_MAX + 1);
    cf_buf_init(&b, 16);
    cf_pkey *check = NULL;
    bool ok;
    if (kty == CF_KTY_RSA) {
        ok = cf_p11_public_rsa(token, id, &a, &b) &&
             cf_vault_json_set_b64url(jwk, "n", cf_buf_slice(&a)) &&
             cf_vault_json_set_b64url(jwk, "e", cf_buf_slice(&b)) &&
             json_object_set_new(jwk, "kty", json_string("RSA")) == 0 &&
             cf_pkey_from_jwk(jwk, false, &check);
        json_object_del(jwk, "kty");
    } else {
        size_t n = cf_curve_field_len(curve);
        ok = cf_p11_public_ec(token, id, &a) && a.len == 1 + 2 * n &&
             cf_pkey_from_ec_point(curve, cf_buf_slice(&a), &check) &&
             json_object_set_new(jwk, "crv", json_string(cf_curve_name(curve))) == 0 &&
             cf_vault_json_set_b64url(jwk, "x", cf_slice_of(a.data + 1, n)) &&
             cf_vault_json_set_b64url(jwk, "y", cf_slice_of(a.data + 1 + n, n));
    }
    if (ok)
        *size = cf_pkey_bits(check);
    cf_pkey_free(check);
    cf_buf_free(&a);
    cf_buf_free(&b);
    CF_ENSURE(ok, cf_error_code() ? cf_error_code() : CF_ERR_SEAL,
              "the token's public key is malformed");
    return true;
}

static bool cf_hsm_material(const cf_p11_id *id, cf_slice birth, cf_buf *out)
{
    CF_GUARD(cf_buf_append_u8(out, CF_HSM_FORMAT));
    CF_GUARD(cf_buf_append(out, id->bytes, CF_P11_ID_LEN));
    return cf_buf_append_slice(out, birth);
}

static bool cf_hsm_parse_material(cf_slice material, cf_p11_id *id, cf_slice *birth)
{
    CF_ENSURE(material.len > 1 + CF_P11_ID_LEN && material.ptr[0] == CF_HSM_FORMAT, CF_ERR_INTERNAL,
              "stored HSM key reference is malformed");
    memcpy(id->bytes, material.ptr + 1, CF_P11_ID_LEN);
    *birth = cf_slice_of(material.ptr + 1 + CF_P11_ID_LEN, material.len - 1 - CF_P11_ID_LEN);
    return true;
}

/* Props and sealed material of a key now in the token: its public part,
 * and the birth blob (the key wrapped under the key-wrapping root key),
 * after which export is turned off for good. */
static bool cf_hsm_finish(cf_vault *vault, cf_kty kty, cf_curve curve, unsigned bits,
                          const cf_p11_id *id, unsigned ops, cf_object *obj)
{
    cf_p11 *token = vault->seal->token;
    json_t *jwk = json_object();
    CF_ENSURE_ALLOC(jwk);
    unsigned size = bits;
    cf_buf wrapped, material;
    cf_buf_init(&wrapped, CF_HSM_MATERIAL_MAX);
    cf_buf_init(&material, CF_HSM_MATERIAL_MAX);
    char hex[CF_P11_ID_HEX];
    bool ok = (kty == CF_KTY_OCT || cf_hsm_public(token, kty, curve, id, jwk, &size)) &&
              cf_p11_wrap_key(token, &vault->seal->wrap_root, id, &wrapped) &&
              cf_p11_forbid_export(token, id) &&
              cf_hsm_material(id, cf_buf_slice(&wrapped), &material);
    cf_p11_id_to_hex(id, hex);
    if (ok) /* takes the JWK */
        ok = cf_key_set_props(vault, obj, cf_hsm_kty_name(kty), jwk, size, ops,
                              cf_buf_slice(&material)) &&
             json_object_set_new(obj->props, "hsm_id", json_string(hex)) == 0;
    else
        json_decref(jwk);
    cf_buf_free(&wrapped);
    cf_buf_free(&material);
    return ok;
}

/* Destroys `id` after a failure, keeping the failure's error. */
static bool cf_hsm_abandon(cf_p11 *token, const cf_p11_id *id)
{
    struct cf_error_record *saved = cf_error_save();
    if (!cf_p11_destroy(token, id))
        cf_error_clear(); /* the collector gets it later */
    cf_error_restore(saved);
    return false;
}

static cf_p11_key_spec cf_hsm_spec(const cf_vault *vault, cf_kty kty, unsigned ops, char label[64])
{
    cf_hsm_label(vault, label);
    return (cf_p11_key_spec){
        .type = cf_hsm_type(kty),
        .usage = cf_hsm_usage(kty, ops),
        .extractable = true, /* until the birth wrap */
        .label = label,
    };
}

/* ---- making keys ---- */

bool cf_hsm_generate(cf_vault *vault, cf_kty kty, const cf_key_spec *spec, unsigned ops,
                     cf_object *obj)
{
    cf_p11 *token;
    CF_GUARD(cf_hsm_token(vault, &token));
    char label[64];
    cf_p11_key_spec ps = cf_hsm_spec(vault, kty, ops, label);
    ps.bits = spec->size;
    ps.exponent = spec->exponent ? spec->exponent : 65537;
    ps.curve = CF_CURVE_P256;
    if (kty == CF_KTY_EC && spec->crv)
        CF_GUARD(cf_curve_from_name(CF_SLICE_STR(spec->crv), &ps.curve));
    cf_p11_id id;
    CF_GUARD(cf_p11_new_id(&id));
    CF_GUARD(cf_pending_add(&id));
    if (!cf_p11_generate(token, &ps, &id)) {
        if (cf_error_code() == CF_ERR_UNSUPPORTED)
            CF_RAISE(CF_ERR_BAD_INPUT, "The HSM does not support this key type or curve.");
        return false;
    }
    return cf_hsm_finish(vault, kty, ps.curve, ps.bits, &id, ops, obj) ||
           cf_hsm_abandon(token, &id);
}

/* Checks what landed in the token against what the request said, and
 * gives the public half its own object. */
static bool cf_hsm_check_import(cf_p11 *token, const cf_p11_key_spec *ps, const cf_p11_id *id,
                                unsigned aes_hint, unsigned *bits)
{
    cf_p11_facts facts;
    CF_GUARD(cf_p11_key_facts(token, id, &facts));
    /* Some modules (SoftHSM2) leave CKA_VALUE_LEN of an unwrapped AES key
     * unset; the wrapped length then tells it. */
    if (facts.type == CF_P11_AES && !facts.bits)
        facts.bits = aes_hint;
    CF_ENSURE(facts.type == ps->type, CF_ERR_BAD_INPUT,
              "The imported key is not of the type the request names.");
    if (facts.type == CF_P11_AES)
        CF_ENSURE(facts.bits == 128 || facts.bits == 192 || facts.bits == 256, CF_ERR_BAD_INPUT,
                  "oct-HSM keys must be 128, 192 or 256 bits");
    if (facts.type == CF_P11_RSA)
        CF_ENSURE(facts.bits == 2048 || facts.bits == 3072 || facts.bits == 4096, CF_ERR_BAD_INPUT,
                  "RSA-HSM keys must be 2048, 3072 or 4096 bits");
    if (facts.type == CF_P11_EC)
        CF_ENSURE(facts.known_curve && facts.curve == ps->curve, CF_ERR_BAD_INPUT,
                  "The imported key is not on the curve the request names.");
    *bits = facts.bits;
    return facts.type == CF_P11_AES || cf_p11_add_public(token, ps, id);
}

bool cf_hsm_import(cf_vault *vault, cf_kty kty, cf_curve curve, cf_slice material, unsigned ops,
                   cf_object *obj)
{
    cf_p11 *token;
    CF_GUARD(cf_hsm_token(vault, &token));
    char label[64];
    cf_p11_key_spec ps = cf_hsm_spec(vault, kty, ops, label);
    ps.curve = curve;
    cf_p11_id id;
    unsigned bits = 0;
    CF_GUARD(cf_p11_new_id(&id));
    CF_GUARD(cf_pending_add(&id));
    CF_GUARD(cf_p11_import(token, &ps, material, &id));
    return (cf_hsm_check_import(token, &ps, &id, (unsigned)material.len * 8, &bits) &&
            cf_hsm_finish(vault, kty, curve, bits, &id, ops, obj)) ||
           cf_hsm_abandon(token, &id);
}

/* ---- BYOK ---- */

/* The key-exchange key a transfer blob names: one of this vault's RSA-HSM
 * keys, by full identifier, that permits import. */
static bool cf_byok_kek(cf_vault *vault, const char *kid, cf_key *kek)
{
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s/keys/", vault->url);
    size_t n = strlen(prefix);
    CF_ENSURE(strncmp(kid, prefix, n) == 0, CF_ERR_BAD_INPUT,
              "The key exchange key (header.kid) is not a key of this vault.");
    char name[CF_NAME_MAX + 1];
    const char *slash = strchr(kid + n, '/');
    CF_ENSURE(slash && (size_t)(slash - (kid + n)) <= CF_NAME_MAX &&
                  strlen(slash + 1) == CF_VERSION_LEN,
              CF_ERR_BAD_INPUT, "The key exchange key (header.kid) must name a key version.");
    memcpy(name, kid + n, (size_t)(slash - (kid + n)));
    name[slash - (kid + n)] = 0;
    CF_ENSURE(cf_vault_valid_object_name(name), CF_ERR_BAD_INPUT,
              "The key exchange key (header.kid) must name a key version.");
    if (!cf_key_load(vault, name, slash + 1, kek)) {
        CF_ENSURE(cf_error_code() != CF_ERR_NOT_FOUND, CF_ERR_BAD_INPUT,
                  "The key exchange key (header.kid) was not found in this vault.");
        return false;
    }
    CF_ENSURE(kek->hsm && kek->kty == CF_KTY_RSA, CF_ERR_BAD_INPUT,
              "The key exchange key must be an RSA-HSM key.");
    CF_ENSURE(kek->obj.enabled, CF_ERR_DISABLED, "The key exchange key is disabled.");
    CF_ENSURE(kek->ops & CF_OP_IMPORT, CF_ERR_OPERATION,
              "Operation import is not permitted on the key exchange key.");
    return true;
}

bool cf_hsm_import_byok(cf_vault *vault, cf_kty kty, const char *crv, cf_slice transfer,
                        unsigned ops, cf_object *obj)
{
    cf_p11 *token;
    CF_GUARD(cf_hsm_token(vault, &token));
    char label[64];
    cf_p11_key_spec ps = cf_hsm_spec(vault, kty, ops, label);
    CF_ENSURE(kty == CF_KTY_EC || !crv, CF_ERR_BAD_INPUT, "crv applies to EC keys only");
    CF_ENSURE(kty != CF_KTY_EC || crv, CF_ERR_BAD_INPUT, "the parameter 'crv' is required");
    if (crv)
        CF_GUARD(cf_curve_from_name(CF_SLICE_STR(crv), &ps.curve));
    cf_byok_blob blob;
    memset(&blob, 0, sizeof blob);
    cf_buf_init(&blob.ciphertext, CF_BYOK_CIPHERTEXT_MAX);
    cf_key kek;
    cf_key_init(&kek);
    cf_p11_id id;
    unsigned bits = 0;
    bool ok =
        cf_byok_parse(transfer, &blob) && cf_byok_kek(vault, blob.kid, &kek) && cf_p11_new_id(&id);
    if (ok) {
        cf_slice ct = cf_buf_slice(&blob.ciphertext);
        ok = cf_pending_add(&id) &&
             cf_hsm_op(cf_p11_unwrap_rsa_aes(token, &kek.hsm_id, CF_HASH_SHA1, ct, &ps, &id));
        if (!ok && cf_error_code() == CF_ERR_DECRYPT)
            CF_RAISE(CF_ERR_BAD_INPUT, "The BYOK transfer blob does not unwrap with the key "
                                       "exchange key (wrong key, or the blob was altered).");
        /* The target follows the RSA part (as long as the KEK's modulus)
         * under key wrap, which adds 8 bytes. */
        size_t kwp = ct.len > kek.bits / 8 + 8 ? ct.len - kek.bits / 8 - 8 : 0;
        ok = ok && ((cf_hsm_check_import(token, &ps, &id, (unsigned)kwp * 8, &bits) &&
                     cf_hsm_finish(vault, kty, ps.curve, bits, &id, ops, obj)) ||
                    cf_hsm_abandon(token, &id));
    }
    cf_key_free(&kek);
    cf_buf_free(&blob.ciphertext);
    return ok;
}

/* ---- stored keys ---- */

/* The token objects a stored version names (from its sealed material, so
 * a row cannot be pointed at another key's objects). */
static bool cf_hsm_id_of(cf_vault *vault, const cf_object *obj, cf_p11_id *id)
{
    cf_buf material;
    cf_buf_init_secret(&material, CF_HSM_MATERIAL_MAX);
    cf_slice birth;
    bool ok = cf_object_unseal(vault, obj, &material) &&
              cf_hsm_parse_material(cf_buf_slice(&material), id, &birth);
    cf_buf_free(&material);
    return ok;
}

bool cf_hsm_load(cf_vault *vault, cf_key *key)
{
    CF_GUARD(cf_hsm_token(vault, &key->token));
    CF_GUARD(cf_hsm_id_of(vault, &key->obj, &key->hsm_id));
    key->hsm = true;
    key->bits = (unsigned)json_integer_value(json_object_get(key->obj.props, "size"));
    const char *crv =
        json_string_value(json_object_get(json_object_get(key->obj.props, "jwk"), "crv"));
    if (key->kty == CF_KTY_EC)
        CF_GUARD(crv && cf_curve_from_name(CF_SLICE_STR(crv), &key->curve));
    if (key->kty == CF_KTY_OCT)
        CF_ENSURE(key->bits == 128 || key->bits == 192 || key->bits == 256, CF_ERR_INTERNAL,
                  "stored key size is malformed");
    return true;
}

bool cf_hsm_restore(cf_vault *vault, cf_object *obj, cf_slice material, cf_buf *out)
{
    cf_p11 *token;
    CF_GUARD(cf_hsm_token(vault, &token));
    cf_kty kty;
    bool hsm;
    CF_GUARD(cf_kty_parse(cf_key_kty_name(obj), &kty, &hsm));
    unsigned ops = cf_key_ops_of(obj);
    char label[64];
    cf_p11_key_spec ps = cf_hsm_spec(vault, kty, ops, label);
    ps.extractable = false; /* the backed-up birth blob stays the backup */
    const char *crv = json_string_value(json_object_get(json_object_get(obj->props, "jwk"), "crv"));
    if (kty == CF_KTY_EC)
        CF_GUARD(crv && cf_curve_from_name(CF_SLICE_STR(crv), &ps.curve));
    cf_p11_id old, id;
    cf_slice birth;
    CF_GUARD(cf_hsm_parse_material(material, &old, &birth));
    CF_GUARD(cf_p11_new_id(&id));
    CF_GUARD(cf_pending_add(&id));
    if (!cf_p11_unwrap_key(token, &vault->seal->wrap_root, birth, &ps, &id)) {
        CF_ENSURE(cf_error_code() != CF_ERR_DECRYPT, CF_ERR_BAD_INPUT,
                  "The backup's HSM key does not unwrap with this vault's root key.");
        return false;
    }
    char hex[CF_P11_ID_HEX];
    cf_p11_id_to_hex(&id, hex);
    unsigned bits;
    unsigned hint = birth.len > 8 ? (unsigned)(birth.len - 8) * 8 : 0;
    bool ok = cf_hsm_check_import(token, &ps, &id, hint, &bits) &&
              cf_hsm_material(&id, birth, out) &&
              json_object_set_new(obj->props, "hsm_id", json_string(hex)) == 0;
    return ok || cf_hsm_abandon(token, &id);
}

bool cf_hsm_set_ops(cf_vault *vault, const cf_object *obj, unsigned ops)
{
    cf_p11 *token;
    cf_kty kty;
    bool hsm;
    cf_p11_id id;
    CF_GUARD(cf_hsm_token(vault, &token));
    CF_GUARD(cf_kty_parse(cf_key_kty_name(obj), &kty, &hsm));
    CF_GUARD(cf_hsm_id_of(vault, obj, &id));
    return cf_hsm_op(cf_p11_set_usage(token, &id, cf_hsm_usage(kty, ops)));
}

/* ---- the collector ---- */

typedef struct {
    cf_p11_id ids[4096];
    bool pending[4096];
    size_t n;
} cf_id_list;

static bool cf_collect_each(void *ctx, const cf_p11_id *id)
{
    cf_id_list *l = ctx;
    for (size_t i = 0; i < l->n; i++)
        if (memcmp(l->ids[i].bytes, id->bytes, CF_P11_ID_LEN) == 0)
            return true;
    if (l->n < sizeof l->ids / sizeof *l->ids)
        l->ids[l->n++] = *id;
    return true;
}

static bool cf_referenced(json_t *refs, const cf_p11_id *id)
{
    char hex[CF_P11_ID_HEX];
    cf_p11_id_to_hex(id, hex);
    size_t i;
    json_t *v;
    json_array_foreach(refs, i, v)
    {
        if (strcmp(json_string_value(v), hex) == 0)
            return true;
    }
    return false;
}

bool cf_hsm_collect(cf_vault *vault, unsigned *destroyed)
{
    *destroyed = 0;
    if (!cf_hsm_available(vault))
        return true;
    cf_p11 *token = vault->seal->token;
    char label[64];
    cf_hsm_label(vault, label);
    cf_id_list *found = calloc(1, sizeof *found);
    CF_ENSURE_ALLOC(found);
    json_t *refs = NULL;
    /* In this order: the token's objects, which of them are being made,
     * then what the store names.  An id settled (stored) after the middle
     * step was still pending in it; one settled before it is in the store. */
    bool ok = cf_p11_list_label(token, label, cf_collect_each, found);
    for (size_t i = 0; ok && i < found->n; i++)
        found->pending[i] = cf_pending_has(&found->ids[i]);
    ok = ok && cf_store_prop_values(vault->store, CF_KIND_KEY, "hsm_id", &refs);
    for (size_t i = 0; ok && i < found->n; i++) {
        if (found->pending[i] || cf_referenced(refs, &found->ids[i]))
            continue;
        ok = cf_p11_destroy(token, &found->ids[i]);
        if (ok)
            (*destroyed)++;
    }
    json_decref(refs);
    free(found);
    return ok;
}

void cf_hsm_collect_logged(cf_vault *vault)
{
    unsigned destroyed = 0;
    if (!cf_hsm_collect(vault, &destroyed))
        cf_log(CF_LOG_WARN, NULL, "HSM key collector: %s (retried after the next purge)",
               cf_error_detail());
    else if (destroyed)
        cf_log(CF_LOG_INFO, NULL, "destroyed the token objects of %u purged or abandoned HSM keys",
               destroyed);
}

/* ---- operations ---- */

bool cf_hsm_rsa_encrypt(const cf_key *key, cf_rsa_pad pad, cf_slice in, cf_buf *out)
{
    cf_p11_mech m = {.kind = pad == CF_RSA_PKCS1 ? CF_P11_RSA_PKCS : CF_P11_RSA_OAEP,
                     .hash = pad == CF_RSA_OAEP_SHA256 ? CF_HASH_SHA256 : CF_HASH_SHA1,
                     .key_bytes = key->bits / 8};
    return cf_hsm_op(cf_p11_encrypt(key->token, &key->hsm_id, &m, in, out));
}

bool cf_hsm_rsa_decrypt(const cf_key *key, cf_rsa_pad pad, cf_slice in, cf_buf *out)
{
    cf_p11_mech m = {.kind = pad == CF_RSA_PKCS1 ? CF_P11_RSA_PKCS : CF_P11_RSA_OAEP,
                     .hash = pad == CF_RSA_OAEP_SHA256 ? CF_HASH_SHA256 : CF_HASH_SHA1,
                     .key_bytes = key->bits / 8};
    return cf_hsm_op(cf_p11_decrypt(key->token, &key->hsm_id, &m, in, out));
}

bool cf_hsm_gcm_encrypt(const cf_key *key, cf_slice iv, cf_slice aad, cf_slice in, uint8_t *ct,
                        uint8_t tag[CF_GCM_TAG_LEN])
{
    cf_p11_mech m = {.kind = CF_P11_AES_GCM, .iv = iv, .aad = aad};
    cf_buf out;
    cf_buf_init(&out, in.len + CF_GCM_TAG_LEN);
    bool ok = cf_hsm_op(cf_p11_encrypt(key->token, &key->hsm_id, &m, in, &out));
    if (ok && out.len != in.len + CF_GCM_TAG_LEN) {
        CF_RAISE(CF_ERR_SEAL, "the token's AES-GCM output has the wrong length");
        ok = false;
    }
    if (ok) {
        memcpy(ct, out.data, in.len);
        memcpy(tag, out.data + in.len, CF_GCM_TAG_LEN);
    }
    cf_buf_free(&out);
    return ok;
}

bool cf_hsm_gcm_decrypt(const cf_key *key, cf_slice iv, cf_slice aad, cf_slice ct, cf_slice tag,
                        uint8_t *pt)
{
    cf_p11_mech m = {.kind = CF_P11_AES_GCM, .iv = iv, .aad = aad};
    cf_buf in, out;
    cf_buf_init(&in, ct.len + CF_GCM_TAG_LEN);
    cf_buf_init_secret(&out, ct.len + CF_GCM_TAG_LEN);
    bool ok = cf_buf_append_slice(&in, ct) && cf_buf_append_slice(&in, tag) &&
              cf_hsm_op(cf_p11_decrypt(key->token, &key->hsm_id, &m, cf_buf_slice(&in), &out));
    if (ok && out.len != ct.len) {
        CF_RAISE(CF_ERR_SEAL, "the token's AES-GCM output has the wrong length");
        ok = false;
    }
    if (ok)
        memcpy(pt, out.data, ct.len);
    cf_buf_free(&in);
    cf_buf_free(&out);
    return ok;
}

bool cf_hsm_cbc(const cf_key *key, bool encrypt, cf_slice iv, bool pad, cf_slice in, cf_buf *out)
{
    CF_ENSURE(iv.len == CF_CBC_IV_LEN, CF_ERR_BAD_INPUT, "CBC IV must be 16 bytes");
    CF_ENSURE(pad || in.len % 16 == 0, CF_ERR_BAD_INPUT,
              "input must be a multiple of 16 bytes without padding");
    CF_ENSURE(encrypt || (in.len % 16 == 0 && in.len > 0), CF_ERR_BAD_INPUT,
              "ciphertext must be a non-empty multiple of 16 bytes");
    cf_p11_mech m = {.kind = pad ? CF_P11_AES_CBC_PAD : CF_P11_AES_CBC, .iv = iv};
    return cf_hsm_op(encrypt ? cf_p11_encrypt(key->token, &key->hsm_id, &m, in, out)
                             : cf_p11_decrypt(key->token, &key->hsm_id, &m, in, out));
}

bool cf_hsm_kw(const cf_key *key, bool wrap, cf_slice in, cf_buf *out)
{
    if (wrap) {
        CF_ENSURE(in.len >= 16 && in.len % 8 == 0, CF_ERR_BAD_INPUT,
                  "key to wrap must be a multiple of 8 bytes, at least 16");
        return cf_hsm_op(cf_p11_wrap_bytes(key->token, &key->hsm_id, CF_P11_AES_KW, in, out));
    }
    CF_ENSURE(in.len >= 24 && in.len % 8 == 0, CF_ERR_BAD_INPUT,
              "wrapped key must be a multiple of 8 bytes, at least 24");
    return cf_hsm_op(cf_p11_unwrap_bytes(key->token, &key->hsm_id, CF_P11_AES_KW, in, out));
}

/* The token mechanism for a JWS algorithm, if the key fits it. */
static bool cf_hsm_sig_mech(const cf_key *key, cf_sig_alg alg, cf_slice digest, cf_p11_mech *m)
{
    static const cf_curve curves[] = {[CF_SIG_ES256] = CF_CURVE_P256,
                                      [CF_SIG_ES384] = CF_CURVE_P384,
                                      [CF_SIG_ES512] = CF_CURVE_P521,
                                      [CF_SIG_ES256K] = CF_CURVE_P256K};
    bool es = alg >= CF_SIG_ES256;
    CF_ENSURE(es ? key->kty == CF_KTY_EC && key->curve == curves[alg] : key->kty == CF_KTY_RSA,
              CF_ERR_BAD_INPUT, "The algorithm does not match the key type.");
    m->hash = cf_sig_hash(alg);
    CF_ENSURE(digest.len == cf_hash_len(m->hash), CF_ERR_BAD_INPUT,
              "the digest length does not match the algorithm");
    m->kind = es ? CF_P11_ECDSA : alg >= CF_SIG_PS256 ? CF_P11_RSA_PSS : CF_P11_RSA_PKCS;
    return true;
}

bool cf_hsm_sign(const cf_key *key, cf_sig_alg alg, cf_slice digest, cf_buf *sig)
{
    cf_p11_mech m = {0};
    CF_GUARD(cf_hsm_sig_mech(key, alg, digest, &m));
    return cf_hsm_op(cf_p11_sign(key->token, &key->hsm_id, &m, digest, sig));
}

bool cf_hsm_verify(const cf_key *key, cf_sig_alg alg, cf_slice digest, cf_slice sig, bool *valid)
{
    cf_p11_mech m = {0};
    CF_GUARD(cf_hsm_sig_mech(key, alg, digest, &m));
    return cf_hsm_op(cf_p11_verify(key->token, &key->hsm_id, &m, digest, sig, valid));
}
