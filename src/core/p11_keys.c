/*
 * Keys in a PKCS#11 token: generation, import, public parts, attributes,
 * export control and destruction.
 *
 * Templates name every usage attribute explicitly (true or false) rather
 * than trusting a module's defaults, and private and secret objects are
 * always sensitive, private token objects.
 */
#include <string.h>

#include "p11_internal.h"
#include "secmem.h"

/* A template with room for its values. */
typedef struct {
    CK_ATTRIBUTE a[24];
    CK_ULONG n;
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE type;
    CK_ULONG value_len, modulus_bits;
    uint8_t exponent[4];
    CK_ATTRIBUTE unwrap_template[2];
} cf_p11_tmpl;

static void cf_tmpl_add(cf_p11_tmpl *t, CK_ATTRIBUTE_TYPE type, const void *p, size_t len)
{
    if (t->n < sizeof t->a / sizeof *t->a)
        t->a[t->n++] = CF_P11_ATTR(type, p, len);
}

static void cf_tmpl_bool(cf_p11_tmpl *t, CK_ATTRIBUTE_TYPE type, bool v)
{
    cf_tmpl_add(t, type, v ? &cf_p11_true : &cf_p11_false, sizeof(CK_BBOOL));
}

static CK_KEY_TYPE cf_p11_ck_type(cf_p11_key_type type)
{
    return type == CF_P11_AES ? CKK_AES : type == CF_P11_RSA ? CKK_RSA : CKK_EC;
}

static void cf_tmpl_common(cf_p11_tmpl *t, const cf_p11_key_spec *spec, const cf_p11_id *id)
{
    cf_tmpl_bool(t, CKA_TOKEN, true);
    cf_tmpl_add(t, CKA_ID, id->bytes, CF_P11_ID_LEN);
    if (spec->label)
        cf_tmpl_add(t, CKA_LABEL, spec->label, strlen(spec->label));
}

/* The private (key pair) or secret (AES) object.  `typed` adds class and
 * key type, which C_UnwrapKey and C_CreateObject need. */
static void cf_tmpl_private(cf_p11_tmpl *t, const cf_p11_key_spec *spec, const cf_p11_id *id,
                            bool typed)
{
    t->cls = spec->type == CF_P11_AES ? CKO_SECRET_KEY : CKO_PRIVATE_KEY;
    t->type = cf_p11_ck_type(spec->type);
    if (typed) {
        cf_tmpl_add(t, CKA_CLASS, &t->cls, sizeof t->cls);
        cf_tmpl_add(t, CKA_KEY_TYPE, &t->type, sizeof t->type);
    }
    cf_tmpl_common(t, spec, id);
    cf_tmpl_bool(t, CKA_PRIVATE, true);
    cf_tmpl_bool(t, CKA_SENSITIVE, true);
    cf_tmpl_bool(t, CKA_EXTRACTABLE, spec->extractable);
    cf_tmpl_bool(t, CKA_DECRYPT, spec->usage & CF_P11_USE_DECRYPT);
    cf_tmpl_bool(t, CKA_SIGN, spec->usage & CF_P11_USE_SIGN);
    cf_tmpl_bool(t, CKA_UNWRAP, spec->usage & CF_P11_USE_UNWRAP);
    cf_tmpl_bool(t, CKA_DERIVE, spec->usage & CF_P11_USE_DERIVE);
    if (spec->type == CF_P11_AES) {
        cf_tmpl_bool(t, CKA_ENCRYPT, spec->usage & CF_P11_USE_ENCRYPT);
        cf_tmpl_bool(t, CKA_WRAP, spec->usage & CF_P11_USE_WRAP);
        cf_tmpl_bool(t, CKA_VERIFY, false);
    }
    if (spec->type == CF_P11_AES && spec->unwrap_sealed_only) {
        t->unwrap_template[0] = CF_P11_BOOL(CKA_EXTRACTABLE, false);
        t->unwrap_template[1] = CF_P11_BOOL(CKA_SENSITIVE, true);
        cf_tmpl_add(t, CKA_UNWRAP_TEMPLATE, t->unwrap_template, sizeof t->unwrap_template);
    }
}

static void cf_tmpl_public(cf_p11_tmpl *t, const cf_p11_key_spec *spec, const cf_p11_id *id,
                           bool typed)
{
    t->cls = CKO_PUBLIC_KEY;
    t->type = cf_p11_ck_type(spec->type);
    if (typed) {
        cf_tmpl_add(t, CKA_CLASS, &t->cls, sizeof t->cls);
        cf_tmpl_add(t, CKA_KEY_TYPE, &t->type, sizeof t->type);
    }
    cf_tmpl_common(t, spec, id);
    cf_tmpl_bool(t, CKA_PRIVATE, false);
    cf_tmpl_bool(t, CKA_ENCRYPT, spec->usage & CF_P11_USE_ENCRYPT);
    cf_tmpl_bool(t, CKA_VERIFY, spec->usage & CF_P11_USE_VERIFY);
    cf_tmpl_bool(t, CKA_WRAP, spec->usage & CF_P11_USE_WRAP);
}

/* ---- generation ---- */

typedef struct {
    const cf_p11_key_spec *spec;
    const cf_p11_id *id;
} cf_gen_ctx;

static bool cf_gen_op(cf_p11_session *s, void *ctx)
{
    cf_gen_ctx *g = ctx;
    const cf_p11_key_spec *spec = g->spec;
    CK_FUNCTION_LIST *f = s->p->f;
    cf_p11_tmpl priv = {0}, pub = {0};
    cf_tmpl_private(&priv, spec, g->id, false);
    if (spec->type == CF_P11_AES) {
        CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
        priv.value_len = spec->bits / 8;
        cf_tmpl_add(&priv, CKA_VALUE_LEN, &priv.value_len, sizeof priv.value_len);
        CK_OBJECT_HANDLE h;
        CF_P11_CALL(s, f->C_GenerateKey(s->h, &m, priv.a, priv.n, &h), "C_GenerateKey");
        return true;
    }
    cf_tmpl_public(&pub, spec, g->id, false);
    CK_MECHANISM m = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    if (spec->type == CF_P11_RSA) {
        pub.modulus_bits = spec->bits;
        for (int i = 0; i < 4; i++)
            pub.exponent[i] = (uint8_t)(spec->exponent >> (24 - 8 * i));
        size_t skip = 0;
        while (skip < 3 && pub.exponent[skip] == 0)
            skip++;
        cf_tmpl_add(&pub, CKA_MODULUS_BITS, &pub.modulus_bits, sizeof pub.modulus_bits);
        cf_tmpl_add(&pub, CKA_PUBLIC_EXPONENT, pub.exponent + skip, 4 - skip);
    } else {
        m.mechanism = CKM_EC_KEY_PAIR_GEN;
        cf_slice oid = cf_p11_curve_oid(spec->curve);
        CF_ENSURE(oid.len, CF_ERR_UNSUPPORTED, "unknown curve");
        cf_tmpl_add(&pub, CKA_EC_PARAMS, oid.ptr, oid.len);
    }
    CK_OBJECT_HANDLE hpub, hpriv;
    CF_P11_CALL(s, f->C_GenerateKeyPair(s->h, &m, pub.a, pub.n, priv.a, priv.n, &hpub, &hpriv),
                "C_GenerateKeyPair");
    return true;
}

bool cf_p11_generate(cf_p11 *p, const cf_p11_key_spec *spec, const cf_p11_id *id)
{
    cf_gen_ctx g = {spec, id};
    return cf_p11_run(p, cf_gen_op, &g);
}

/* ---- lookup and attributes ---- */

typedef struct {
    const cf_p11_id *id;
    cf_p11_key_info *info;
} cf_info_ctx;

static bool cf_info_op(cf_p11_session *s, void *ctx)
{
    cf_info_ctx *c = ctx;
    CK_OBJECT_HANDLE h;
    CF_GUARD(cf_p11_find(s, c->id, CKO_SECRET_KEY, &h));
    CK_KEY_TYPE type = 0;
    CK_ULONG len = 0;
    CK_BBOOL b[7] = {0};
    CK_ATTRIBUTE get[] = {
        CF_P11_ATTR(CKA_KEY_TYPE, &type, sizeof type),
        CF_P11_ATTR(CKA_VALUE_LEN, &len, sizeof len),
        CF_P11_ATTR(CKA_SENSITIVE, &b[0], 1),
        CF_P11_ATTR(CKA_EXTRACTABLE, &b[1], 1),
        CF_P11_ATTR(CKA_TOKEN, &b[2], 1),
        CF_P11_ATTR(CKA_ENCRYPT, &b[3], 1),
        CF_P11_ATTR(CKA_DECRYPT, &b[4], 1),
        CF_P11_ATTR(CKA_WRAP, &b[5], 1),
        CF_P11_ATTR(CKA_UNWRAP, &b[6], 1),
    };
    CF_P11_CALL(s, s->p->f->C_GetAttributeValue(s->h, h, get, sizeof get / sizeof *get),
                "C_GetAttributeValue");
    *c->info = (cf_p11_key_info){
        .aes = type == CKK_AES,
        .sensitive = b[0],
        .extractable = b[1],
        .token = b[2],
        .bits = (unsigned)len * 8,
        .can_encrypt = b[3],
        .can_decrypt = b[4],
        .can_wrap = b[5],
        .can_unwrap = b[6],
    };
    return true;
}

bool cf_p11_secret_info(cf_p11 *p, const cf_p11_id *id, cf_p11_key_info *info)
{
    cf_info_ctx c = {id, info};
    return cf_p11_run(p, cf_info_op, &c);
}

bool cf_p11_get_bytes(cf_p11_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, size_t max,
                      cf_buf *out)
{
    uint8_t *p;
    size_t start = out->len;
    CF_GUARD(cf_buf_extend(out, max, &p));
    CK_ATTRIBUTE get = CF_P11_ATTR(type, p, max);
    CK_RV rv = s->p->f->C_GetAttributeValue(s->h, h, &get, 1);
    out->len = start;
    if (rv != CKR_OK)
        return cf_p11_fail(s, rv, "C_GetAttributeValue", __FILE__, __LINE__);
    CF_ENSURE(get.ulValueLen <= max, CF_ERR_SEAL, "the token returned an oversized attribute");
    out->len = start + get.ulValueLen;
    return true;
}

void cf_p11_strip_zeros(cf_buf *b)
{
    size_t z = 0;
    while (z + 1 < b->len && b->data[z] == 0)
        z++;
    memmove(b->data, b->data + z, b->len - z);
    b->len -= z;
}

typedef struct {
    const cf_p11_id *id;
    CK_OBJECT_CLASS cls;
    cf_buf *a, *b;
} cf_pub_ctx;

static bool cf_pub_rsa_op(cf_p11_session *s, void *ctx)
{
    cf_pub_ctx *c = ctx;
    CK_OBJECT_HANDLE h;
    cf_buf_clear(c->a); /* a retry starts over */
    cf_buf_clear(c->b);
    CF_GUARD(cf_p11_find(s, c->id, c->cls, &h));
    CF_GUARD(cf_p11_get_bytes(s, h, CKA_MODULUS, CF_P11_RSA_MAX + 1, c->a));
    CF_GUARD(cf_p11_get_bytes(s, h, CKA_PUBLIC_EXPONENT, 8, c->b));
    cf_p11_strip_zeros(c->a);
    cf_p11_strip_zeros(c->b);
    return true;
}

static bool cf_p11_rsa_parts(cf_p11 *p, const cf_p11_id *id, CK_OBJECT_CLASS cls, cf_buf *n,
                             cf_buf *e)
{
    cf_pub_ctx c = {id, cls, n, e};
    return cf_p11_run(p, cf_pub_rsa_op, &c);
}

bool cf_p11_public_rsa(cf_p11 *p, const cf_p11_id *id, cf_buf *n, cf_buf *e)
{
    return cf_p11_rsa_parts(p, id, CKO_PUBLIC_KEY, n, e);
}

/* CKA_EC_POINT is a DER OCTET STRING around the point (some modules give
 * the bare point); either way `out` gets the bare uncompressed point. */
static bool cf_ec_point_unwrap(cf_slice der, cf_buf *out)
{
    cf_slice point = der;
    /* DER: 04 len [81 len] 04||x||y, the length covering exactly the rest. */
    size_t head = der.len > 2 && der.ptr[1] == 0x81 ? 3 : 2;
    size_t len = der.len >= head ? der.ptr[head - 1] : 0;
    if (der.len > head && der.ptr[0] == 0x04 && len == der.len - head && der.ptr[head] == 0x04)
        point = cf_slice_of(der.ptr + head, len);
    CF_ENSURE(point.len % 2 == 1 && point.ptr[0] == 0x04, CF_ERR_SEAL,
              "the token's EC point is not uncompressed");
    return cf_buf_append_slice(out, point);
}

static bool cf_pub_ec_op(cf_p11_session *s, void *ctx)
{
    cf_pub_ctx *c = ctx;
    CK_OBJECT_HANDLE h;
    cf_buf_clear(c->a); /* a retry starts over */
    CF_GUARD(cf_p11_find(s, c->id, CKO_PUBLIC_KEY, &h));
    cf_buf der;
    cf_buf_init(&der, 160);
    bool ok = cf_p11_get_bytes(s, h, CKA_EC_POINT, 160, &der) &&
              cf_ec_point_unwrap(cf_buf_slice(&der), c->a);
    cf_buf_free(&der);
    return ok;
}

bool cf_p11_public_ec(cf_p11 *p, const cf_p11_id *id, cf_buf *point)
{
    cf_pub_ctx c = {id, CKO_PUBLIC_KEY, point, NULL};
    return cf_p11_run(p, cf_pub_ec_op, &c);
}

/* ---- objects from outside the token ---- */

typedef struct {
    const cf_p11_key_spec *spec;
    cf_slice a, b;
    const cf_p11_id *id;
} cf_create_ctx;

static bool cf_create_public_op(cf_p11_session *s, void *ctx)
{
    cf_create_ctx *c = ctx;
    cf_p11_tmpl t = {0};
    cf_tmpl_public(&t, c->spec, c->id, true);
    uint8_t der[3 + 1 + 2 * 66];
    if (c->spec->type == CF_P11_RSA) {
        cf_tmpl_add(&t, CKA_MODULUS, c->a.ptr, c->a.len);
        cf_tmpl_add(&t, CKA_PUBLIC_EXPONENT, c->b.ptr, c->b.len);
    } else {
        cf_slice oid = cf_p11_curve_oid(c->spec->curve);
        CF_ENSURE(oid.len && c->a.len <= 1 + 2 * 66, CF_ERR_BAD_INPUT, "unknown curve");
        size_t h = 0;
        der[h++] = 0x04;
        if (c->a.len > 127)
            der[h++] = 0x81;
        der[h++] = (uint8_t)c->a.len;
        memcpy(der + h, c->a.ptr, c->a.len);
        cf_tmpl_add(&t, CKA_EC_PARAMS, oid.ptr, oid.len);
        cf_tmpl_add(&t, CKA_EC_POINT, der, h + c->a.len);
    }
    CK_OBJECT_HANDLE h;
    CF_P11_CALL(s, s->p->f->C_CreateObject(s->h, t.a, t.n, &h), "C_CreateObject");
    return true;
}

/* The public point of an EC private key that came without it: ECDH with
 * the base point G gives x = (d*G).x inside the token; of the two points
 * with that x, the one that verifies a signature made by the key is it. */
typedef struct {
    const cf_p11_key_spec *spec;
    const cf_p11_id *id;
    cf_buf *x;
} cf_derive_ctx;

static bool cf_derive_x_op(cf_p11_session *s, void *ctx)
{
    cf_derive_ctx *c = ctx;
    CK_FUNCTION_LIST *f = s->p->f;
    cf_buf_clear(c->x); /* a retry starts over */
    CK_OBJECT_HANDLE key, secret = CK_INVALID_HANDLE;
    CF_GUARD(cf_p11_find(s, c->id, CKO_PRIVATE_KEY, &key));
    cf_buf g;
    cf_buf_init(&g, 1 + 2 * 66);
    CF_GUARD(cf_curve_base_point(c->spec->curve, &g));
    CK_ECDH1_DERIVE_PARAMS params = {CKD_NULL, 0, NULL, g.len, g.data};
    CK_MECHANISM m = {CKM_ECDH1_DERIVE, &params, sizeof params};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_ULONG len = cf_curve_field_len(c->spec->curve);
    CK_ATTRIBUTE t[] = {
        CF_P11_ATTR(CKA_CLASS, &cls, sizeof cls),
        CF_P11_ATTR(CKA_KEY_TYPE, &type, sizeof type),
        CF_P11_BOOL(CKA_TOKEN, false),
        CF_P11_BOOL(CKA_SENSITIVE, false),
        CF_P11_BOOL(CKA_EXTRACTABLE, true),
        CF_P11_ATTR(CKA_VALUE_LEN, &len, sizeof len),
    };
    CK_RV rv = f->C_DeriveKey(s->h, &m, key, t, sizeof t / sizeof *t, &secret);
    cf_buf_free(&g);
    bool ok = rv == CKR_OK || cf_p11_fail(s, rv, "C_DeriveKey", __FILE__, __LINE__);
    ok = ok && cf_p11_get_bytes(s, secret, CKA_VALUE, len, c->x);
    if (secret != CK_INVALID_HANDLE)
        f->C_DestroyObject(s->h, secret);
    /* The key derives no more (unless its spec says it may). */
    CK_ATTRIBUTE off = CF_P11_BOOL(CKA_DERIVE, c->spec->usage & CF_P11_USE_DERIVE);
    rv = f->C_SetAttributeValue(s->h, key, &off, 1);
    if (ok && rv != CKR_OK)
        return cf_p11_fail(s, rv, "C_SetAttributeValue", __FILE__, __LINE__);
    return ok;
}

static bool cf_pick_ec_point(cf_p11 *p, const cf_p11_key_spec *spec, const cf_p11_id *id,
                             cf_slice x, cf_buf *point)
{
    cf_sig_alg alg = spec->curve == CF_CURVE_P384    ? CF_SIG_ES384
                     : spec->curve == CF_CURVE_P521  ? CF_SIG_ES512
                     : spec->curve == CF_CURVE_P256K ? CF_SIG_ES256K
                                                     : CF_SIG_ES256;
    cf_slice digest = {NULL, cf_hash_len(cf_sig_hash(alg))};
    uint8_t bytes[CF_HASH_MAX_LEN];
    digest.ptr = bytes;
    cf_buf sig;
    cf_buf_init(&sig, 2 * 66);
    cf_p11_mech m = {.kind = CF_P11_ECDSA};
    bool ok = cf_random_bytes(bytes, digest.len) && cf_p11_sign(p, id, &m, digest, &sig);
    bool found = false;
    for (int odd = 0; ok && !found && odd < 2; odd++) {
        cf_pkey *pub = NULL;
        point->len = 0;
        ok = cf_ec_point_decompress(spec->curve, x, odd, point) &&
             cf_pkey_from_ec_point(spec->curve, cf_buf_slice(point), &pub) &&
             cf_verify_digest(pub, alg, digest, cf_buf_slice(&sig), &found);
        cf_pkey_free(pub);
    }
    cf_buf_free(&sig);
    CF_GUARD(ok);
    CF_ENSURE(found, CF_ERR_SEAL, "the token's EC key matches neither candidate point");
    return true;
}

bool cf_p11_add_public(cf_p11 *p, const cf_p11_key_spec *spec, const cf_p11_id *id)
{
    CF_ENSURE(spec->type != CF_P11_AES, CF_ERR_INTERNAL, "AES keys have no public half");
    cf_buf a, b;
    cf_buf_init(&a, CF_P11_RSA_MAX + 1);
    cf_buf_init(&b, CF_P11_RSA_MAX + 1);
    bool ok;
    if (spec->type == CF_P11_RSA) {
        ok = cf_p11_rsa_parts(p, id, CKO_PRIVATE_KEY, &a, &b);
    } else {
        cf_buf x;
        cf_buf_init(&x, 66);
        cf_derive_ctx d = {spec, id, &x};
        ok = cf_p11_run(p, cf_derive_x_op, &d) &&
             cf_pick_ec_point(p, spec, id, cf_buf_slice(&x), &a);
        cf_buf_free(&x);
    }
    cf_create_ctx c = {spec, cf_buf_slice(&a), cf_buf_slice(&b), id};
    ok = ok && cf_p11_run(p, cf_create_public_op, &c) &&
         (spec->type != CF_P11_EC || cf_p11_set_usage(p, id, spec->usage));
    cf_buf_free(&a);
    cf_buf_free(&b);
    return ok;
}

bool cf_p11_unwrap_into(cf_p11_session *s, CK_MECHANISM *mech, CK_OBJECT_HANDLE kek,
                        cf_slice wrapped, const cf_p11_key_spec *spec, const cf_p11_id *id)
{
    /* An EC private key arrives without its public point; it may derive
     * and sign until cf_p11_add_public has computed the point, which then
     * gives it the usage the spec says. */
    cf_p11_key_spec with = *spec;
    if (spec->type == CF_P11_EC)
        with.usage |= CF_P11_USE_DERIVE | CF_P11_USE_SIGN;
    cf_p11_tmpl t = {0};
    cf_tmpl_private(&t, &with, id, true);
    CK_OBJECT_HANDLE h;
    CK_RV rv =
        s->p->f->C_UnwrapKey(s->h, mech, kek, (CK_BYTE *)wrapped.ptr, wrapped.len, t.a, t.n, &h);
    /* A wrapped key of another type than the template names is refused as
     * an inconsistent template: the input's fault too. */
    if (rv == CKR_TEMPLATE_INCONSISTENT)
        rv = CKR_GENERAL_ERROR;
    rv = cf_p11_input_rv(s->p, rv);
    if (rv != CKR_OK)
        return cf_p11_fail(s, rv, "C_UnwrapKey", __FILE__, __LINE__);
    return true;
}

bool cf_p11_session_secret(cf_p11_session *s, cf_slice value, bool transport, CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = transport ? CKK_AES : CKK_GENERIC_SECRET;
    CK_ATTRIBUTE t[] = {
        CF_P11_ATTR(CKA_CLASS, &cls, sizeof cls),
        CF_P11_ATTR(CKA_KEY_TYPE, &type, sizeof type),
        CF_P11_BOOL(CKA_TOKEN, false),
        CF_P11_BOOL(CKA_SENSITIVE, transport),
        CF_P11_BOOL(CKA_EXTRACTABLE, !transport),
        CF_P11_BOOL(CKA_UNWRAP, transport),
        CF_P11_BOOL(CKA_ENCRYPT, false),
        CF_P11_BOOL(CKA_DECRYPT, false),
        CF_P11_ATTR(CKA_VALUE, value.ptr, value.len),
    };
    CF_P11_CALL(s, s->p->f->C_CreateObject(s->h, t, sizeof t / sizeof *t, out), "C_CreateObject");
    return true;
}

static bool cf_import_op(cf_p11_session *s, void *ctx)
{
    cf_create_ctx *c = ctx;
    uint8_t transport[32];
    cf_buf wrapped;
    cf_buf_init(&wrapped, c->a.len + 64);
    CK_OBJECT_HANDLE kek = CK_INVALID_HANDLE;
    CK_MECHANISM m = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    bool ok = cf_random_bytes(transport, sizeof transport) &&
              cf_aes_kwp_wrap(cf_slice_of(transport, sizeof transport), c->a, &wrapped) &&
              cf_p11_session_secret(s, cf_slice_of(transport, sizeof transport), true, &kek) &&
              cf_p11_unwrap_into(s, &m, kek, cf_buf_slice(&wrapped), c->spec, c->id);
    cf_memzero(transport, sizeof transport);
    if (kek != CK_INVALID_HANDLE)
        s->p->f->C_DestroyObject(s->h, kek);
    cf_buf_free(&wrapped);
    return ok;
}

bool cf_p11_import(cf_p11 *p, const cf_p11_key_spec *spec, cf_slice material, const cf_p11_id *id)
{
    cf_create_ctx c = {spec, material, {0}, id};
    return cf_p11_run(p, cf_import_op, &c);
}

/* ---- export control and destruction ---- */

static bool cf_find_key(cf_p11_session *s, const cf_p11_id *id, CK_OBJECT_HANDLE *h)
{
    if (cf_p11_find(s, id, CKO_SECRET_KEY, h))
        return true;
    CF_GUARD(cf_error_code() == CF_ERR_NOT_FOUND);
    return cf_p11_find(s, id, CKO_PRIVATE_KEY, h);
}

static bool cf_forbid_export_op(cf_p11_session *s, void *ctx)
{
    CK_OBJECT_HANDLE h;
    CF_GUARD(cf_find_key(s, ctx, &h));
    CK_ATTRIBUTE set = CF_P11_BOOL(CKA_EXTRACTABLE, false);
    CF_P11_CALL(s, s->p->f->C_SetAttributeValue(s->h, h, &set, 1), "C_SetAttributeValue");
    return true;
}

bool cf_p11_forbid_export(cf_p11 *p, const cf_p11_id *id)
{
    return cf_p11_run(p, cf_forbid_export_op, (void *)id);
}

static bool cf_destroy_op(cf_p11_session *s, void *ctx)
{
    const cf_p11_id *id = ctx;
    CK_FUNCTION_LIST *f = s->p->f;
    CK_ATTRIBUTE tmpl = CF_P11_ATTR(CKA_ID, id->bytes, CF_P11_ID_LEN);
    CK_OBJECT_HANDLE found[8];
    CK_ULONG n = 0;
    CF_P11_CALL(s, f->C_FindObjectsInit(s->h, &tmpl, 1), "C_FindObjectsInit");
    CK_RV rv = f->C_FindObjects(s->h, found, 8, &n);
    f->C_FindObjectsFinal(s->h);
    if (rv != CKR_OK)
        return cf_p11_fail(s, rv, "C_FindObjects", __FILE__, __LINE__);
    cf_p11_forget(s->p, id);
    for (CK_ULONG i = 0; i < n; i++)
        CF_P11_CALL(s, f->C_DestroyObject(s->h, found[i]), "C_DestroyObject");
    return true;
}

bool cf_p11_destroy(cf_p11 *p, const cf_p11_id *id)
{
    return cf_p11_run(p, cf_destroy_op, (void *)id);
}

/* ---- usage, facts, listing ---- */

typedef struct {
    const cf_p11_id *id;
    unsigned usage;
} cf_usage_ctx;

static bool cf_set_usage_op(cf_p11_session *s, void *ctx)
{
    cf_usage_ctx *c = ctx;
    CK_FUNCTION_LIST *f = s->p->f;
    CK_OBJECT_HANDLE h;
    unsigned u = c->usage;
    if (cf_p11_find(s, c->id, CKO_SECRET_KEY, &h)) {
        CK_ATTRIBUTE set[] = {
            CF_P11_BOOL(CKA_ENCRYPT, u & CF_P11_USE_ENCRYPT),
            CF_P11_BOOL(CKA_DECRYPT, u & CF_P11_USE_DECRYPT),
            CF_P11_BOOL(CKA_WRAP, u & CF_P11_USE_WRAP),
            CF_P11_BOOL(CKA_UNWRAP, u & CF_P11_USE_UNWRAP),
        };
        CF_P11_CALL(s, f->C_SetAttributeValue(s->h, h, set, 4), "C_SetAttributeValue");
        return true;
    }
    CF_GUARD(cf_error_code() == CF_ERR_NOT_FOUND);
    CF_GUARD(cf_p11_find(s, c->id, CKO_PRIVATE_KEY, &h));
    CK_KEY_TYPE type = 0;
    CK_ATTRIBUTE get = CF_P11_ATTR(CKA_KEY_TYPE, &type, sizeof type);
    CF_P11_CALL(s, f->C_GetAttributeValue(s->h, h, &get, 1), "C_GetAttributeValue");
    CK_ATTRIBUTE priv[] = {
        CF_P11_BOOL(CKA_SIGN, u & CF_P11_USE_SIGN),
        CF_P11_BOOL(CKA_DECRYPT, u & CF_P11_USE_DECRYPT),
        CF_P11_BOOL(CKA_UNWRAP, u & CF_P11_USE_UNWRAP),
    };
    /* EC private keys have no decrypt or unwrap attributes worth setting. */
    CF_P11_CALL(s, f->C_SetAttributeValue(s->h, h, priv, type == CKK_RSA ? 3 : 1),
                "C_SetAttributeValue");
    CF_GUARD(cf_p11_find(s, c->id, CKO_PUBLIC_KEY, &h));
    CK_ATTRIBUTE pub[] = {
        CF_P11_BOOL(CKA_VERIFY, u & CF_P11_USE_VERIFY),
        CF_P11_BOOL(CKA_ENCRYPT, u & CF_P11_USE_ENCRYPT),
        CF_P11_BOOL(CKA_WRAP, u & CF_P11_USE_WRAP),
    };
    CF_P11_CALL(s, f->C_SetAttributeValue(s->h, h, pub, type == CKK_RSA ? 3 : 1),
                "C_SetAttributeValue");
    return true;
}

bool cf_p11_set_usage(cf_p11 *p, const cf_p11_id *id, unsigned usage)
{
    cf_usage_ctx c = {id, usage};
    return cf_p11_run(p, cf_set_usage_op, &c);
}

typedef struct {
    const cf_p11_id *id;
    cf_p11_facts *facts;
} cf_facts_ctx;

static bool cf_facts_op(cf_p11_session *s, void *ctx)
{
    cf_facts_ctx *c = ctx;
    CK_FUNCTION_LIST *f = s->p->f;
    CK_OBJECT_HANDLE h;
    memset(c->facts, 0, sizeof *c->facts);
    bool secret = cf_p11_find(s, c->id, CKO_SECRET_KEY, &h);
    if (!secret) {
        CF_GUARD(cf_error_code() == CF_ERR_NOT_FOUND);
        CF_GUARD(cf_p11_find(s, c->id, CKO_PRIVATE_KEY, &h));
    }
    CK_KEY_TYPE type = 0;
    CK_ATTRIBUTE get = CF_P11_ATTR(CKA_KEY_TYPE, &type, sizeof type);
    CF_P11_CALL(s, f->C_GetAttributeValue(s->h, h, &get, 1), "C_GetAttributeValue");
    if (type == CKK_AES && secret) {
        CK_ULONG len = 0;
        CK_ATTRIBUTE l = CF_P11_ATTR(CKA_VALUE_LEN, &len, sizeof len);
        CF_P11_CALL(s, f->C_GetAttributeValue(s->h, h, &l, 1), "C_GetAttributeValue");
        c->facts->type = CF_P11_AES;
        c->facts->bits = (unsigned)len * 8;
        return true;
    }
    CF_ENSURE(!secret && (type == CKK_RSA || type == CKK_EC), CF_ERR_BAD_INPUT,
              "the key is of a type Coffer does not hold");
    cf_buf v;
    cf_buf_init(&v, CF_P11_RSA_MAX + 1);
    bool ok;
    if (type == CKK_RSA) {
        c->facts->type = CF_P11_RSA;
        ok = cf_p11_get_bytes(s, h, CKA_MODULUS, CF_P11_RSA_MAX + 1, &v);
        cf_p11_strip_zeros(&v);
        c->facts->bits = (unsigned)v.len * 8;
    } else {
        c->facts->type = CF_P11_EC;
        ok = cf_p11_get_bytes(s, h, CKA_EC_PARAMS, 64, &v);
        c->facts->known_curve = false;
        for (int k = CF_CURVE_P256; ok && k <= CF_CURVE_P256K; k++) {
            cf_slice oid = cf_p11_curve_oid((cf_curve)k);
            if (oid.len == v.len && memcmp(oid.ptr, v.data, v.len) == 0) {
                c->facts->curve = (cf_curve)k;
                c->facts->known_curve = true;
            }
        }
    }
    cf_buf_free(&v);
    return ok;
}

bool cf_p11_key_facts(cf_p11 *p, const cf_p11_id *id, cf_p11_facts *facts)
{
    cf_facts_ctx c = {id, facts};
    return cf_p11_run(p, cf_facts_op, &c);
}

typedef struct {
    const char *label;
    cf_p11_id_cb each;
    void *ctx;
} cf_list_ctx;

static bool cf_list_op(cf_p11_session *s, void *ctx)
{
    cf_list_ctx *c = ctx;
    CK_FUNCTION_LIST *f = s->p->f;
    CK_ATTRIBUTE tmpl = CF_P11_ATTR(CKA_LABEL, c->label, strlen(c->label));
    CF_P11_CALL(s, f->C_FindObjectsInit(s->h, &tmpl, 1), "C_FindObjectsInit");
    bool ok = true;
    for (;;) {
        CK_OBJECT_HANDLE found[64];
        CK_ULONG n = 0;
        CK_RV rv = f->C_FindObjects(s->h, found, 64, &n);
        if (rv != CKR_OK) {
            ok = cf_p11_fail(s, rv, "C_FindObjects", __FILE__, __LINE__);
            break;
        }
        for (CK_ULONG i = 0; ok && i < n; i++) {
            cf_p11_id id;
            CK_ATTRIBUTE get = CF_P11_ATTR(CKA_ID, id.bytes, CF_P11_ID_LEN);
            if (f->C_GetAttributeValue(s->h, found[i], &get, 1) == CKR_OK &&
                get.ulValueLen == CF_P11_ID_LEN)
                ok = c->each(c->ctx, &id);
        }
        if (!ok || n < 64)
            break;
    }
    f->C_FindObjectsFinal(s->h);
    return ok;
}

bool cf_p11_list_label(cf_p11 *p, const char *label, cf_p11_id_cb each, void *ctx)
{
    cf_list_ctx c = {label, each, ctx};
    return cf_p11_run(p, cf_list_op, &c);
}
