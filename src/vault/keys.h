/*
 * Keys: what the keys resource shares with key operations, backup and
 * rotation.  A key version's public JWK, type and permitted operations live
 * in the object's properties; the private or symmetric material is sealed.
 */
#ifndef CF_VAULT_KEYS_H
#define CF_VAULT_KEYS_H

#include "vault.h"

#define CF_KIND_KEY "key"

/* key_ops as a bit set. */
enum {
    CF_OP_ENCRYPT = 1 << 0,
    CF_OP_DECRYPT = 1 << 1,
    CF_OP_SIGN = 1 << 2,
    CF_OP_VERIFY = 1 << 3,
    CF_OP_WRAP = 1 << 4,
    CF_OP_UNWRAP = 1 << 5,
    CF_OP_IMPORT = 1 << 6,
    CF_OP_EXPORT = 1 << 7,
};

/* A key version with its material opened, ready for an operation. */
typedef struct {
    cf_object obj;
    cf_kty kty;
    unsigned ops;
    cf_pkey *pkey; /* RSA and EC */
    cf_buf oct;    /* symmetric keys (secret memory) */
    /* HSM-protected keys (hsm_keys.h): no pkey or oct, the token's objects */
    bool hsm;
    cf_p11 *token;
    cf_p11_id hsm_id;
    unsigned bits;  /* RSA modulus or AES key bits */
    cf_curve curve; /* EC */
} cf_key;

void cf_key_init(cf_key *key);
void cf_key_free(cf_key *key);
/* Loads a live key version (NULL/"" = latest) and opens its material. */
CF_MUST_USE bool cf_key_load(cf_vault *vault, const char *name, const char *version, cf_key *out);

/* Whether `key` may perform operation `op` (one CF_OP_* bit) at `now`: it
 * must be enabled and list the operation in key_ops; encrypt, wrapKey and
 * sign, which protect or vouch for new data, also need now inside nbf/exp,
 * while decrypt, unwrapKey and verify stay possible outside it so data
 * protected earlier is not lost, as Key Vault specifies.  Fails with
 * CF_ERR_DISABLED or CF_ERR_OPERATION. */
CF_MUST_USE bool cf_key_permits(const cf_key *key, unsigned op, int64_t now);

/* Generation parameters, as a create request or a rotation gives them. */
typedef struct {
    const char *kty;   /* "RSA", "EC", "oct" */
    unsigned size;     /* RSA bits, oct bits */
    uint32_t exponent; /* RSA */
    const char *crv;   /* EC */
    unsigned ops;      /* 0 = the type's default */
} cf_key_spec;

/* Generates material for `spec`, fills obj->props and seals into obj
 * (obj->kind, name and version must be set). */
CF_MUST_USE bool cf_key_generate(cf_vault *vault, const cf_key_spec *spec, cf_object *obj);
/* The spec of an existing version (for rotation). */
CF_MUST_USE bool cf_key_spec_of(const cf_object *obj, cf_key_spec *spec);

/* Stores the public JWK (without kty), the type name, size and operations
 * in obj->props and seals `material` into obj. */
CF_MUST_USE bool cf_key_set_props(cf_vault *vault, cf_object *obj, const char *kty_name,
                                  json_t *public_jwk, unsigned size, unsigned ops,
                                  cf_slice material);
/* "RSA", "EC", "oct", each with "-HSM": the base type and where it lives. */
CF_MUST_USE bool cf_kty_parse(const char *name, cf_kty *kty, bool *hsm);
/* The operations a key type may be given at all, and its defaults. */
unsigned cf_kty_possible_ops(cf_kty kty);
unsigned cf_kty_default_ops(cf_kty kty);

json_t *cf_key_bundle(cf_vault *vault, const cf_object *obj);
unsigned cf_key_ops_of(const cf_object *obj);
const char *cf_key_kty_name(const cf_object *obj);

/* Rotation policies (rotation.c). */
CF_MUST_USE bool cf_rotation_policy_get_handler(cf_vault_call *call);
CF_MUST_USE bool cf_rotation_policy_put_handler(cf_vault_call *call);
/* Validates a policy request body into the stored document (keeping the
 * creation time of `previous`); exposed for the fuzz target. */
CF_MUST_USE bool cf_rotation_policy_parse(json_t *body, json_t *previous, int64_t now,
                                          json_t **out);
/* ISO 8601 duration ("P90D", "P1Y2M", "PT12H") to seconds. */
CF_MUST_USE bool cf_vault_iso_duration(const char *text, int64_t *seconds);

#endif
