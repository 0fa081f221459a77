/*
 * JWK (RFC 7517/7518) <-> keys, for RSA and EC; see crypto.h for the contract.
 *
 * Import is where attacker-chosen key material enters the vault, so it is
 * strict about what matters and lenient about what does not:
 * - every required member must be a base64url string of bounded length;
 *   unknown members ("kid", "key_ops", "use"...) are ignored;
 * - the key is built with EVP_PKEY_fromdata and then checked by OpenSSL:
 *   EVP_PKEY_check (public, private and pairwise consistency: RSA primes and
 *   CRT values, EC d*G == (x, y)) for private keys, EVP_PKEY_public_check
 *   (point on the curve; RSA modulus sanity) for public ones;
 * - RSA "n" may carry leading zero bytes and EC coordinates may be shorter
 *   than the field (some encoders strip zeros); both are normalised.
 * Private members are decoded into secret buffers and secure-heap BIGNUMs,
 * wiped on every path.  Error details name the offending member, never its
 * value.
 */
#define OPENSSL_NO_DEPRECATED
#include <jansson.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "crypto_internal.h"
#include "encoding.h"
#include "secmem.h"

/* Longest decoded member: a 4096-bit modulus plus a leading zero byte. */
#define CF_JWK_MAX_BYTES 513
#define CF_JWK_MAX_CHARS 1024
#define CF_JWK_MAX_BNS 8

static void cf_wipe_coord(uint8_t (*p)[66])
{
    cf_memzero(*p, sizeof *p);
}
static void cf_free_param_bld(OSSL_PARAM_BLD **p)
{
    OSSL_PARAM_BLD_free(*p);
}
static void cf_free_params(OSSL_PARAM **p)
{
    OSSL_PARAM_free(*p);
}

/* BIGNUMs that must outlive an OSSL_PARAM_BLD (it keeps pointers to them). */
typedef struct {
    BIGNUM *bn[CF_JWK_MAX_BNS];
    size_t n;
} cf_bn_set;

static void cf_bn_set_free(cf_bn_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        BN_clear_free(s->bn[i]);
}

static inline EVP_PKEY *cf_evp(const cf_pkey *key)
{
    return (EVP_PKEY *)key;
}

static cf_buf cf_jwk_buf(bool secret)
{
    cf_buf b;
    if (secret)
        cf_buf_init_secret(&b, CF_JWK_MAX_BYTES);
    else
        cf_buf_init(&b, CF_JWK_MAX_BYTES);
    return b;
}

/* Decodes the base64url member `name` into `out`. */
static bool cf_jwk_member(const json_t *jwk, const char *name, cf_buf *out)
{
    const json_t *v = json_object_get(jwk, name);
    CF_ENSUREF(json_is_string(v), CF_ERR_BAD_INPUT, "JWK member '%s' is missing or not a string",
               name);
    size_t len = json_string_length(v);
    CF_ENSUREF(len > 0 && len <= CF_JWK_MAX_CHARS, CF_ERR_BAD_INPUT,
               "JWK member '%s' has an invalid length", name);
    CF_ENSUREF(cf_base64url_decode(cf_slice_of(json_string_value(v), len), out), CF_ERR_BAD_INPUT,
               "JWK member '%s' is not valid base64url", name);
    return true;
}

/* Decodes member `name` as a big-endian integer and adds it to `bld`. */
static bool cf_jwk_push_bn(const json_t *jwk, const char *name, const char *param, bool secret,
                           OSSL_PARAM_BLD *bld, cf_bn_set *keep, const BIGNUM **out)
{
    CF_SCOPED(cf_buf_free) cf_buf raw = cf_jwk_buf(secret);
    CF_GUARD(cf_jwk_member(jwk, name, &raw));
    CF_ENSURE(keep->n < CF_JWK_MAX_BNS, CF_ERR_INTERNAL, NULL);
    BIGNUM *bn = secret ? BN_secure_new() : BN_new();
    CF_ENSURE_ALLOC(bn);
    keep->bn[keep->n++] = bn;
    CF_OSSL_ENSURE(BN_bin2bn(raw.data, (int)raw.len, bn) != NULL, CF_ERR_NOMEM, NULL);
    CF_OSSL_GUARD(OSSL_PARAM_BLD_push_BN(bld, param, bn));
    if (out)
        *out = bn;
    return true;
}

/* Builds the key from `bld` and lets OpenSSL check it. */
static bool cf_jwk_build(const char *type, OSSL_PARAM_BLD *bld, bool want_private,
                         const char *invalid, cf_pkey **out)
{
    CF_SCOPED(cf_free_params) OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    CF_OSSL_ENSURE(params != NULL, CF_ERR_NOMEM, NULL);
    CF_SCOPED(cf_free_pkey_ctx) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    CF_OSSL_ENSURE(ctx != NULL, CF_ERR_CRYPTO, NULL);
    CF_OSSL_GUARD(EVP_PKEY_fromdata_init(ctx));
    CF_SCOPED(cf_free_pkey) EVP_PKEY *pkey = NULL;
    int selection = want_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
    CF_OSSL_ENSURE(EVP_PKEY_fromdata(ctx, &pkey, selection, params) == 1, CF_ERR_BAD_INPUT,
                   invalid);
    /* OpenSSL 3.0's RSA public check runs a randomised Miller-Rabin test on
     * n that rejects some valid moduli now and then (measured: 16 in 3000
     * imports of the RFC 7515 A.2 key), so RSA public keys get only the
     * deterministic checks done by the caller (size, odd n, exponent).
     * Private RSA keys and all EC keys are checked by OpenSSL. */
    bool rsa_public = !want_private && strcmp(type, "RSA") == 0;
    CF_SCOPED(cf_free_pkey_ctx) EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    CF_OSSL_ENSURE(check != NULL, CF_ERR_CRYPTO, NULL);
    int ok = rsa_public ? 1 : want_private ? EVP_PKEY_check(check) : EVP_PKEY_public_check(check);
    CF_OSSL_ENSURE(ok == 1, CF_ERR_BAD_INPUT, invalid);
    *out = (cf_pkey *)pkey;
    pkey = NULL;
    return true;
}

static bool cf_jwk_rsa(const json_t *jwk, bool want_private, cf_pkey **out)
{
    static const struct {
        const char *member, *param;
    } priv[] = {
        {"d", OSSL_PKEY_PARAM_RSA_D},          {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},
        {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},    {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},
        {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2}, {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
    };
    CF_SCOPED(cf_free_param_bld) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    CF_ENSURE_ALLOC(bld);
    CF_SCOPED(cf_bn_set_free) cf_bn_set keep = {.n = 0};
    const BIGNUM *n = NULL, *e = NULL;
    CF_GUARD(cf_jwk_push_bn(jwk, "n", OSSL_PKEY_PARAM_RSA_N, false, bld, &keep, &n));
    int bits = BN_num_bits(n);
    CF_ENSURE(bits == 2048 || bits == 3072 || bits == 4096, CF_ERR_UNSUPPORTED,
              "RSA key size must be 2048, 3072 or 4096 bits");
    CF_ENSURE(BN_is_odd(n), CF_ERR_BAD_INPUT, "invalid or inconsistent RSA key");
    CF_GUARD(cf_jwk_push_bn(jwk, "e", OSSL_PKEY_PARAM_RSA_E, false, bld, &keep, &e));
    /* Bounded like key creation (32 bits) so rotation can repeat any key. */
    CF_ENSURE(BN_num_bits(e) <= 32 && BN_is_odd(e) && !BN_is_one(e), CF_ERR_BAD_INPUT,
              "invalid RSA public exponent (odd, at most 32 bits)");
    if (want_private) {
        for (size_t i = 0; i < sizeof priv / sizeof *priv; i++)
            CF_GUARD(cf_jwk_push_bn(jwk, priv[i].member, priv[i].param, true, bld, &keep, NULL));
    }
    return cf_jwk_build("RSA", bld, want_private, "invalid or inconsistent RSA key", out);
}

/* Left-pads member `name` to `n` bytes into `out`. */
static bool cf_jwk_coord(const json_t *jwk, const char *name, size_t n, bool secret, uint8_t *out)
{
    CF_SCOPED(cf_buf_free) cf_buf raw = cf_jwk_buf(secret);
    CF_GUARD(cf_jwk_member(jwk, name, &raw));
    CF_ENSUREF(raw.len <= n, CF_ERR_BAD_INPUT, "JWK member '%s' is too long for the curve", name);
    memset(out, 0, n - raw.len);
    memcpy(out + n - raw.len, raw.data, raw.len);
    return true;
}

/* An EC key from its uncompressed point and, if given, its private scalar. */
static bool cf_ec_build(cf_curve curve, const uint8_t *point, size_t point_len, const BIGNUM *d,
                        cf_pkey **out)
{
    CF_SCOPED(cf_free_param_bld) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    CF_ENSURE_ALLOC(bld);
    CF_OSSL_GUARD(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                                  cf_curve_group_name(curve), 0));
    CF_OSSL_GUARD(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, point_len));
    if (d)
        CF_OSSL_GUARD(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d));
    return cf_jwk_build("EC", bld, d != NULL,
                        "invalid EC key (point not on the curve or "
                        "private key does not match)",
                        out);
}

static bool cf_jwk_ec(const json_t *jwk, bool want_private, cf_pkey **out)
{
    const json_t *crv = json_object_get(jwk, "crv");
    CF_ENSURE(json_is_string(crv), CF_ERR_BAD_INPUT, "JWK member 'crv' is missing or not a string");
    cf_curve curve;
    CF_GUARD(
        cf_curve_from_name(cf_slice_of(json_string_value(crv), json_string_length(crv)), &curve));
    size_t n = cf_curve_field_len(curve);
    uint8_t point[1 + 2 * 66] = {0x04}; /* uncompressed: 04 || x || y */
    CF_GUARD(cf_jwk_coord(jwk, "x", n, false, point + 1));
    CF_GUARD(cf_jwk_coord(jwk, "y", n, false, point + 1 + n));
    CF_SCOPED(cf_free_bn) BIGNUM *d = NULL;
    if (want_private) {
        CF_SCOPED(cf_wipe_coord) uint8_t raw[66];
        CF_GUARD(cf_jwk_coord(jwk, "d", n, true, raw));
        d = BN_secure_new();
        CF_ENSURE_ALLOC(d);
        CF_OSSL_ENSURE(BN_bin2bn(raw, (int)n, d) != NULL, CF_ERR_NOMEM, NULL);
    }
    return cf_ec_build(curve, point, 1 + 2 * n, d, out);
}

bool cf_pkey_from_ec_point(cf_curve curve, cf_slice point, cf_pkey **out)
{
    size_t n = cf_curve_field_len(curve);
    CF_ENSURE(point.len == 1 + 2 * n && point.ptr[0] == 0x04, CF_ERR_BAD_INPUT,
              "EC point is not an uncompressed point of the curve");
    return cf_ec_build(curve, point.ptr, point.len, NULL, out);
}

bool cf_pkey_from_jwk(const void *jwk_v, bool want_private, cf_pkey **out)
{
    const json_t *jwk = jwk_v;
    CF_ENSURE(json_is_object(jwk), CF_ERR_BAD_INPUT, "JWK must be a JSON object");
    const json_t *kty = json_object_get(jwk, "kty");
    CF_ENSURE(json_is_string(kty), CF_ERR_BAD_INPUT, "JWK member 'kty' is missing or not a string");
    cf_slice k = cf_slice_of(json_string_value(kty), json_string_length(kty));
    if (cf_slice_eq_str(k, "RSA") || cf_slice_eq_str(k, "RSA-HSM"))
        return cf_jwk_rsa(jwk, want_private, out);
    if (cf_slice_eq_str(k, "EC") || cf_slice_eq_str(k, "EC-HSM"))
        return cf_jwk_ec(jwk, want_private, out);
    CF_BAIL(CF_ERR_UNSUPPORTED, "unsupported JWK key type");
}

/* ---- export ---- */

static bool cf_jwk_set_b64(json_t *jwk, const char *name, const uint8_t *p, size_t len)
{
    CF_SCOPED(cf_buf_free) cf_buf enc;
    cf_buf_init(&enc, 2048);
    CF_GUARD(cf_base64url_encode(cf_slice_of(p, len), &enc));
    json_t *s = json_stringn((const char *)enc.data, enc.len);
    CF_ENSURE_ALLOC(s);
    CF_ENSURE(json_object_set_new(jwk, name, s) == 0, CF_ERR_NOMEM, NULL);
    return true;
}

/* A public BIGNUM parameter as big-endian bytes, padded to `pad` (0: minimal). */
static bool cf_jwk_set_bn(json_t *jwk, const char *name, const cf_pkey *key, const char *param,
                          size_t pad)
{
    CF_SCOPED(cf_free_bn) BIGNUM *bn = NULL;
    CF_OSSL_GUARD(EVP_PKEY_get_bn_param(cf_evp(key), param, &bn));
    uint8_t bytes[CF_JWK_MAX_BYTES];
    size_t len = pad ? pad : (size_t)BN_num_bytes(bn);
    CF_ENSURE(len > 0 && len <= sizeof bytes, CF_ERR_CRYPTO, NULL);
    CF_OSSL_ENSURE(BN_bn2binpad(bn, bytes, (int)len) == (int)len, CF_ERR_CRYPTO, NULL);
    return cf_jwk_set_b64(jwk, name, bytes, len);
}

static bool cf_jwk_set_str(json_t *jwk, const char *name, const char *value)
{
    CF_ENSURE(json_object_set_new(jwk, name, json_string(value)) == 0, CF_ERR_NOMEM, NULL);
    return true;
}

bool cf_pkey_to_jwk_public(const cf_pkey *key, void *jwk_v)
{
    json_t *jwk = jwk_v;
    CF_ENSURE(json_is_object(jwk), CF_ERR_INTERNAL, "JWK must be a JSON object");
    switch (cf_pkey_kty(key)) {
    case CF_KTY_RSA:
        CF_GUARD(cf_jwk_set_str(jwk, "kty", "RSA"));
        CF_GUARD(cf_jwk_set_bn(jwk, "n", key, OSSL_PKEY_PARAM_RSA_N, 0));
        return cf_jwk_set_bn(jwk, "e", key, OSSL_PKEY_PARAM_RSA_E, 0);
    case CF_KTY_EC: {
        cf_curve c = cf_pkey_curve(key);
        size_t n = cf_curve_field_len(c);
        CF_GUARD(cf_jwk_set_str(jwk, "kty", "EC"));
        CF_GUARD(cf_jwk_set_str(jwk, "crv", cf_curve_name(c)));
        CF_GUARD(cf_jwk_set_bn(jwk, "x", key, OSSL_PKEY_PARAM_EC_PUB_X, n));
        return cf_jwk_set_bn(jwk, "y", key, OSSL_PKEY_PARAM_EC_PUB_Y, n);
    }
    case CF_KTY_OCT:
    default: CF_BAIL(CF_ERR_UNSUPPORTED, "unsupported key type");
    }
}
