/*
 * Operations with token keys: encrypt, decrypt, sign, verify, and wrapping.
 *
 * Where a module lacks a padding Key Vault needs (SoftHSM2 2.6 has RSA-OAEP
 * with SHA-1 only), the RSA operation still runs in the token as raw RSA
 * and only the padding is applied or checked here (crypto_oaep.c); the
 * private key never leaves the token either way.
 *
 * Modules report a failed integrity check (a GCM tag, a wrapped key, a
 * padding) as CKR_GENERAL_ERROR as often as with a precise code.  After
 * such an answer the token is asked whether it is well: if it answers, the
 * input was bad (CF_ERR_DECRYPT); if not, the device failed (CF_ERR_SEAL).
 */
#include <string.h>

#include "p11_internal.h"
#include "secmem.h"

/* PKCS#11 2.40's parameters for CKM_RSA_AES_KEY_WRAP (absent from p11-kit's header). */
typedef struct {
    CK_ULONG aes_key_bits;
    CK_RSA_PKCS_OAEP_PARAMS *oaep;
} cf_rsa_aes_wrap_params;

/* A mechanism with room for its parameters. */
typedef struct {
    CK_MECHANISM m;
    CK_RSA_PKCS_OAEP_PARAMS oaep;
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_GCM_PARAMS gcm;
    cf_rsa_aes_wrap_params rsa_aes;
    uint8_t iv[16];
} cf_mech;

static bool cf_hash_mech(cf_hash h, CK_MECHANISM_TYPE *md, CK_ULONG *mgf)
{
    switch (h) {
    case CF_HASH_SHA1:
        *md = CKM_SHA_1;
        *mgf = CKG_MGF1_SHA1;
        return true;
    case CF_HASH_SHA256:
        *md = CKM_SHA256;
        *mgf = CKG_MGF1_SHA256;
        return true;
    case CF_HASH_SHA384:
        *md = CKM_SHA384;
        *mgf = CKG_MGF1_SHA384;
        return true;
    case CF_HASH_SHA512:
        *md = CKM_SHA512;
        *mgf = CKG_MGF1_SHA512;
        return true;
    default: CF_BAIL(CF_ERR_UNSUPPORTED, "unsupported hash");
    }
}

static bool cf_mech_oaep(cf_mech *b, cf_hash h)
{
    memset(&b->oaep, 0, sizeof b->oaep);
    CF_GUARD(cf_hash_mech(h, &b->oaep.hash_alg, &b->oaep.mgf));
    b->oaep.source = CKZ_DATA_SPECIFIED;
    b->m = (CK_MECHANISM){CKM_RSA_PKCS_OAEP, &b->oaep, sizeof b->oaep};
    return true;
}

static bool cf_mech_build(const cf_p11_mech *m, cf_mech *b)
{
    memset(b, 0, sizeof *b);
    switch (m->kind) {
    case CF_P11_RSA_PKCS: b->m.mechanism = CKM_RSA_PKCS; return true;
    case CF_P11_RSA_RAW: b->m.mechanism = CKM_RSA_X_509; return true;
    case CF_P11_ECDSA: b->m.mechanism = CKM_ECDSA; return true;
    case CF_P11_RSA_OAEP: return cf_mech_oaep(b, m->hash);
    case CF_P11_RSA_PSS:
        CF_GUARD(cf_hash_mech(m->hash, &b->pss.hash_alg, &b->pss.mgf));
        b->pss.s_len = cf_hash_len(m->hash);
        b->m = (CK_MECHANISM){CKM_RSA_PKCS_PSS, &b->pss, sizeof b->pss};
        return true;
    case CF_P11_AES_GCM:
        CF_ENSURE(m->iv.len == CF_GCM_IV_LEN, CF_ERR_BAD_INPUT, "AES-GCM needs a 12-byte IV");
        memcpy(b->iv, m->iv.ptr, m->iv.len);
        b->gcm =
            (CK_GCM_PARAMS){b->iv,      CF_GCM_IV_LEN,     8 * CF_GCM_IV_LEN, (uint8_t *)m->aad.ptr,
                            m->aad.len, 8 * CF_GCM_TAG_LEN};
        b->m = (CK_MECHANISM){CKM_AES_GCM, &b->gcm, sizeof b->gcm};
        return true;
    case CF_P11_AES_CBC:
    case CF_P11_AES_CBC_PAD:
        CF_ENSURE(m->iv.len == CF_CBC_IV_LEN, CF_ERR_BAD_INPUT, "AES-CBC needs a 16-byte IV");
        memcpy(b->iv, m->iv.ptr, m->iv.len);
        b->m = (CK_MECHANISM){m->kind == CF_P11_AES_CBC ? CKM_AES_CBC : CKM_AES_CBC_PAD, b->iv,
                              CF_CBC_IV_LEN};
        return true;
    case CF_P11_AES_KW: b->m.mechanism = CKM_AES_KEY_WRAP; return true;
    case CF_P11_AES_KWP: b->m.mechanism = CKM_AES_KEY_WRAP_PAD; return true;
    default: CF_BAIL(CF_ERR_INTERNAL, "unknown mechanism");
    }
}

/* The object an operation uses: public for encrypt/verify of key pairs,
 * private for decrypt/sign, the secret key for AES. */
static CK_OBJECT_CLASS cf_op_class(const cf_p11_mech *m, bool private_half)
{
    if (m->kind >= CF_P11_AES_GCM)
        return CKO_SECRET_KEY;
    return private_half ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY;
}

/* Modules refuse mechanisms they lack in several ways. */
static bool cf_rv_unsupported(CK_RV rv)
{
    return rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID ||
           rv == CKR_ARGUMENTS_BAD;
}

/* ---- one-shot encrypt, decrypt, sign ---- */

typedef enum { CF_DIR_ENCRYPT, CF_DIR_DECRYPT, CF_DIR_SIGN } cf_dir;

typedef struct {
    const cf_p11_id *id;
    const cf_p11_mech *m;
    cf_dir dir;
    cf_slice in;
    cf_buf *out;
    cf_slice sig;  /* verify */
    bool *valid;   /* verify */
    bool raw_oaep; /* OAEP padding done here around raw RSA */
} cf_op_ctx;

static bool cf_one_shot(cf_p11_session *s, cf_op_ctx *c, CK_MECHANISM *mech, cf_slice in)
{
    CK_FUNCTION_LIST *f = s->p->f;
    CK_OBJECT_HANDLE key;
    CF_GUARD(cf_p11_find(s, c->id, cf_op_class(c->m, c->dir != CF_DIR_ENCRYPT), &key));
    /* Modules want room for their worst case (a GCM decrypt: the input with
     * its tag), which may exceed what the caller's buffer takes: stage in
     * secret memory, then append. */
    size_t room = in.len + 64 > CF_P11_RSA_MAX ? in.len + 64 : CF_P11_RSA_MAX;
    cf_buf stage;
    cf_buf_init_secret(&stage, room);
    uint8_t *p;
    CF_GUARD(cf_buf_extend(&stage, room, &p));
    CK_ULONG len = room;
    CK_RV rv;
    const char *what;
    if (c->dir == CF_DIR_ENCRYPT) {
        what = "C_Encrypt";
        rv = f->C_EncryptInit(s->h, mech, key);
        if (rv == CKR_OK)
            rv = f->C_Encrypt(s->h, (CK_BYTE *)in.ptr, in.len, p, &len);
    } else if (c->dir == CF_DIR_DECRYPT) {
        what = "C_Decrypt";
        rv = f->C_DecryptInit(s->h, mech, key);
        if (rv == CKR_OK)
            rv = cf_p11_input_rv(s->p, f->C_Decrypt(s->h, (CK_BYTE *)in.ptr, in.len, p, &len));
    } else {
        what = "C_Sign";
        rv = f->C_SignInit(s->h, mech, key);
        if (rv == CKR_OK)
            rv = f->C_Sign(s->h, (CK_BYTE *)in.ptr, in.len, p, &len);
    }
    bool ok = rv == CKR_OK || cf_p11_fail(s, rv, what, __FILE__, __LINE__);
    if (ok && len > room) {
        CF_RAISE(CF_ERR_SEAL, "the token wrote past its output");
        ok = false;
    }
    ok = ok && cf_buf_append(c->out, p, len);
    cf_buf_free(&stage);
    return ok;
}

/* RSA-OAEP around raw RSA, for modules without OAEP of this hash. */
static bool cf_raw_oaep(cf_p11_session *s, cf_op_ctx *c)
{
    cf_mech raw = {.m = {CKM_RSA_X_509, NULL, 0}};
    CF_ENSURE(c->m->key_bytes, CF_ERR_INTERNAL, "RSA-OAEP needs the modulus size");
    if (c->dir == CF_DIR_ENCRYPT) {
        cf_buf em; /* the padded plaintext: as secret as the plaintext */
        cf_buf_init_secret(&em, c->m->key_bytes);
        bool ok = cf_rsa_oaep_encode(c->m->hash, c->m->key_bytes, c->in, &em) &&
                  cf_one_shot(s, c, &raw.m, cf_buf_slice(&em));
        cf_buf_free(&em);
        return ok;
    }
    CF_ENSURE(c->in.len == c->m->key_bytes, CF_ERR_DECRYPT, "decryption failed");
    cf_buf em;
    cf_buf_init_secret(&em, CF_P11_RSA_MAX + 64);
    cf_buf *out = c->out;
    c->out = &em;
    bool ok = cf_one_shot(s, c, &raw.m, c->in);
    c->out = out;
    /* Raw RSA output is as long as the modulus; put back leading zeros a
     * module may have dropped. */
    if (ok && em.len < c->m->key_bytes) {
        size_t pad = c->m->key_bytes - em.len;
        uint8_t *p;
        ok = cf_buf_extend(&em, pad, &p);
        if (ok) {
            memmove(em.data + pad, em.data, em.len - pad);
            memset(em.data, 0, pad);
        }
    }
    ok = ok && cf_rsa_oaep_decode(c->m->hash, cf_buf_slice(&em), out);
    cf_buf_free(&em);
    return ok;
}

static bool cf_op_run(cf_p11_session *s, void *ctx)
{
    cf_op_ctx *c = ctx;
    if (c->raw_oaep)
        return cf_raw_oaep(s, c);
    cf_mech b;
    CF_GUARD(cf_mech_build(c->m, &b));
    return cf_one_shot(s, c, &b.m, c->in);
}

static bool cf_p11_crypt(cf_p11 *p, cf_op_ctx *c)
{
    /* A module without OAEP for this hash: raw RSA in the token, padding
     * here.  Learnt from the first refusal, then remembered. */
    bool sha2_oaep = c->m->kind == CF_P11_RSA_OAEP && c->m->hash != CF_HASH_SHA1;
    c->raw_oaep = sha2_oaep && atomic_load(&p->no_sha2_oaep);
    if (cf_p11_run(p, cf_op_run, c))
        return true;
    if (!sha2_oaep || c->raw_oaep || !cf_rv_unsupported(cf_p11_last_rv()))
        return false;
    atomic_store(&p->no_sha2_oaep, true);
    c->raw_oaep = true;
    return cf_p11_run(p, cf_op_run, c);
}

bool cf_p11_encrypt(cf_p11 *p, const cf_p11_id *id, const cf_p11_mech *m, cf_slice in, cf_buf *out)
{
    cf_op_ctx c = {.id = id, .m = m, .dir = CF_DIR_ENCRYPT, .in = in, .out = out};
    return cf_p11_crypt(p, &c);
}

bool cf_p11_decrypt(cf_p11 *p, const cf_p11_id *id, const cf_p11_mech *m, cf_slice in, cf_buf *out)
{
    cf_op_ctx c = {.id = id, .m = m, .dir = CF_DIR_DECRYPT, .in = in, .out = out};
    return cf_p11_crypt(p, &c);
}

/* PKCS#1 v1.5 signatures sign DigestInfo(hash, digest). */
static bool cf_digest_info(cf_hash h, cf_slice digest, cf_buf *out)
{
    static const uint8_t sha1[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                   0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};
    static const uint8_t sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                     0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    static const uint8_t sha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                     0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
    static const uint8_t sha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                     0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};
    cf_slice prefix;
    switch (h) {
    case CF_HASH_SHA1: prefix = cf_slice_of(sha1, sizeof sha1); break;
    case CF_HASH_SHA256: prefix = cf_slice_of(sha256, sizeof sha256); break;
    case CF_HASH_SHA384: prefix = cf_slice_of(sha384, sizeof sha384); break;
    case CF_HASH_SHA512: prefix = cf_slice_of(sha512, sizeof sha512); break;
    default: CF_BAIL(CF_ERR_UNSUPPORTED, "unsupported hash");
    }
    CF_ENSURE(digest.len == cf_hash_len(h), CF_ERR_BAD_INPUT,
              "the digest length does not match the algorithm");
    CF_GUARD(cf_buf_append_slice(out, prefix));
    return cf_buf_append_slice(out, digest);
}

bool cf_p11_sign(cf_p11 *p, const cf_p11_id *id, const cf_p11_mech *m, cf_slice in, cf_buf *sig)
{
    cf_buf info;
    cf_buf_init(&info, 128);
    cf_op_ctx c = {.id = id, .m = m, .dir = CF_DIR_SIGN, .in = in, .out = sig};
    bool ok = true;
    if (m->kind == CF_P11_RSA_PKCS) {
        ok = cf_digest_info(m->hash, in, &info);
        c.in = cf_buf_slice(&info);
    }
    ok = ok && cf_p11_run(p, cf_op_run, &c);
    cf_buf_free(&info);
    return ok;
}

static bool cf_verify_op(cf_p11_session *s, void *ctx)
{
    cf_op_ctx *c = ctx;
    CK_FUNCTION_LIST *f = s->p->f;
    cf_mech b;
    CF_GUARD(cf_mech_build(c->m, &b));
    CK_OBJECT_HANDLE key;
    CF_GUARD(cf_p11_find(s, c->id, CKO_PUBLIC_KEY, &key));
    CF_P11_CALL(s, f->C_VerifyInit(s->h, &b.m, key), "C_VerifyInit");
    CK_RV rv =
        f->C_Verify(s->h, (CK_BYTE *)c->in.ptr, c->in.len, (CK_BYTE *)c->sig.ptr, c->sig.len);
    *c->valid = rv == CKR_OK;
    if (rv == CKR_OK || rv == CKR_SIGNATURE_INVALID || rv == CKR_SIGNATURE_LEN_RANGE)
        return true;
    return cf_p11_fail(s, cf_p11_input_rv(s->p, rv), "C_Verify", __FILE__, __LINE__);
}

bool cf_p11_verify(cf_p11 *p, const cf_p11_id *id, const cf_p11_mech *m, cf_slice in, cf_slice sig,
                   bool *valid)
{
    cf_buf info;
    cf_buf_init(&info, 128);
    cf_op_ctx c = {.id = id, .m = m, .in = in, .sig = sig, .valid = valid};
    *valid = false;
    bool ok = true;
    if (m->kind == CF_P11_RSA_PKCS) {
        ok = cf_digest_info(m->hash, in, &info);
        c.in = cf_buf_slice(&info);
    }
    ok = ok && cf_p11_run(p, cf_verify_op, &c);
    /* A token that answers but calls the input malformed: just invalid. */
    if (!ok && cf_error_code() == CF_ERR_DECRYPT) {
        ok = true;
        *valid = false;
    }
    cf_buf_free(&info);
    return ok;
}

/* ---- wrapping ---- */

typedef struct {
    const cf_p11_id *kek, *target;
    CK_MECHANISM_TYPE mech;
    cf_slice in;
    cf_buf *out;
    const cf_p11_key_spec *spec;
    cf_hash hash;
} cf_wrap_ctx;

/* C_WrapKey into c->out. */
static bool cf_wrap_handle(cf_p11_session *s, cf_wrap_ctx *c, CK_OBJECT_HANDLE kek,
                           CK_OBJECT_HANDLE target)
{
    CK_MECHANISM m = {c->mech, NULL, 0};
    size_t room = c->in.len + 8192;
    if (room > c->out->max - c->out->len)
        room = c->out->max - c->out->len;
    uint8_t *p;
    size_t start = c->out->len;
    CF_GUARD(cf_buf_extend(c->out, room, &p));
    c->out->len = start;
    CK_ULONG len = room;
    CF_P11_CALL(s, s->p->f->C_WrapKey(s->h, &m, kek, target, p, &len), "C_WrapKey");
    CF_ENSURE(len <= room, CF_ERR_SEAL, "the token wrote past its output");
    c->out->len = start + len;
    return true;
}

static bool cf_wrap_bytes_op(cf_p11_session *s, void *ctx)
{
    cf_wrap_ctx *c = ctx;
    CK_OBJECT_HANDLE kek, obj;
    CF_GUARD(cf_p11_find(s, c->kek, CKO_SECRET_KEY, &kek));
    CF_GUARD(cf_p11_session_secret(s, c->in, false, &obj));
    bool ok = cf_wrap_handle(s, c, kek, obj);
    s->p->f->C_DestroyObject(s->h, obj);
    return ok;
}

static CK_MECHANISM_TYPE cf_kw_mech(cf_p11_mech_kind kind)
{
    return kind == CF_P11_AES_KWP ? CKM_AES_KEY_WRAP_PAD : CKM_AES_KEY_WRAP;
}

bool cf_p11_wrap_bytes(cf_p11 *p, const cf_p11_id *kek, cf_p11_mech_kind kind, cf_slice key,
                       cf_buf *out)
{
    CF_ENSURE(key.len >= 1 && key.len <= 4096, CF_ERR_BAD_INPUT, "the key to wrap is too long");
    cf_wrap_ctx c = {.kek = kek, .mech = cf_kw_mech(kind), .in = key, .out = out};
    return cf_p11_run(p, cf_wrap_bytes_op, &c);
}

static bool cf_unwrap_bytes_op(cf_p11_session *s, void *ctx)
{
    cf_wrap_ctx *c = ctx;
    CK_FUNCTION_LIST *f = s->p->f;
    CK_OBJECT_HANDLE kek, obj;
    CF_GUARD(cf_p11_find(s, c->kek, CKO_SECRET_KEY, &kek));
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE t[] = {
        CF_P11_ATTR(CKA_CLASS, &cls, sizeof cls),
        CF_P11_ATTR(CKA_KEY_TYPE, &type, sizeof type),
        CF_P11_BOOL(CKA_TOKEN, false),
        CF_P11_BOOL(CKA_SENSITIVE, false),
        CF_P11_BOOL(CKA_EXTRACTABLE, true),
    };
    CK_MECHANISM m = {c->mech, NULL, 0};
    CK_RV rv = f->C_UnwrapKey(s->h, &m, kek, (CK_BYTE *)c->in.ptr, c->in.len, t,
                              sizeof t / sizeof *t, &obj);
    if (rv != CKR_OK)
        return cf_p11_fail(s, cf_p11_input_rv(s->p, rv), "C_UnwrapKey", __FILE__, __LINE__);
    uint8_t *p;
    size_t start = c->out->len, room = c->in.len;
    bool ok = cf_buf_extend(c->out, room, &p);
    if (ok) {
        CK_ATTRIBUTE get = CF_P11_ATTR(CKA_VALUE, p, room);
        rv = f->C_GetAttributeValue(s->h, obj, &get, 1);
        ok = rv == CKR_OK || cf_p11_fail(s, rv, "C_GetAttributeValue", __FILE__, __LINE__);
        if (ok && get.ulValueLen > room) {
            CF_RAISE(CF_ERR_SEAL, "the token returned an oversized key");
            ok = false;
        }
        c->out->len = ok ? start + get.ulValueLen : start;
    }
    f->C_DestroyObject(s->h, obj);
    return ok;
}

bool cf_p11_unwrap_bytes(cf_p11 *p, const cf_p11_id *kek, cf_p11_mech_kind kind, cf_slice wrapped,
                         cf_buf *out)
{
    CF_ENSURE(wrapped.len >= 16 && wrapped.len <= 4096 && wrapped.len % 8 == 0, CF_ERR_BAD_INPUT,
              "the wrapped key is malformed");
    cf_wrap_ctx c = {.kek = kek, .mech = cf_kw_mech(kind), .in = wrapped, .out = out};
    return cf_p11_run(p, cf_unwrap_bytes_op, &c);
}

static bool cf_wrap_key_op(cf_p11_session *s, void *ctx)
{
    cf_wrap_ctx *c = ctx;
    CK_OBJECT_HANDLE kek, target;
    CF_GUARD(cf_p11_find(s, c->kek, CKO_SECRET_KEY, &kek));
    if (!cf_p11_find(s, c->target, CKO_SECRET_KEY, &target)) {
        CF_GUARD(cf_error_code() == CF_ERR_NOT_FOUND);
        CF_GUARD(cf_p11_find(s, c->target, CKO_PRIVATE_KEY, &target));
    }
    return cf_wrap_handle(s, c, kek, target);
}

bool cf_p11_wrap_key(cf_p11 *p, const cf_p11_id *kek, const cf_p11_id *target, cf_buf *out)
{
    cf_wrap_ctx c = {.kek = kek, .target = target, .mech = CKM_AES_KEY_WRAP_PAD, .out = out};
    return cf_p11_run(p, cf_wrap_key_op, &c);
}

static bool cf_unwrap_key_op(cf_p11_session *s, void *ctx)
{
    cf_wrap_ctx *c = ctx;
    CK_OBJECT_HANDLE kek;
    CF_GUARD(cf_p11_find(s, c->kek, CKO_SECRET_KEY, &kek));
    CK_MECHANISM m = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    return cf_p11_unwrap_into(s, &m, kek, c->in, c->spec, c->target);
}

bool cf_p11_unwrap_key(cf_p11 *p, const cf_p11_id *kek, cf_slice wrapped,
                       const cf_p11_key_spec *spec, const cf_p11_id *id)
{
    CF_ENSURE(wrapped.len >= 16 && wrapped.len <= 8192, CF_ERR_BAD_INPUT,
              "the wrapped key is malformed");
    cf_wrap_ctx c = {.kek = kek, .target = id, .in = wrapped, .spec = spec};
    return cf_p11_run(p, cf_unwrap_key_op, &c);
}

/* The ephemeral AES key of a transfer blob, unwrapped by the RSA key into a
 * session object that can only unwrap. */
static bool cf_unwrap_ephemeral(cf_p11_session *s, cf_wrap_ctx *c, CK_OBJECT_HANDLE rsa,
                                cf_slice part, CK_OBJECT_HANDLE *aes)
{
    cf_mech b;
    CF_GUARD(cf_mech_oaep(&b, c->hash));
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_ATTRIBUTE t[] = {
        CF_P11_ATTR(CKA_CLASS, &cls, sizeof cls),
        CF_P11_ATTR(CKA_KEY_TYPE, &type, sizeof type),
        CF_P11_BOOL(CKA_TOKEN, false),
        CF_P11_BOOL(CKA_SENSITIVE, true),
        CF_P11_BOOL(CKA_EXTRACTABLE, false),
        CF_P11_BOOL(CKA_UNWRAP, true),
        CF_P11_BOOL(CKA_ENCRYPT, false),
        CF_P11_BOOL(CKA_DECRYPT, false),
    };
    CK_RV rv = s->p->f->C_UnwrapKey(s->h, &b.m, rsa, (CK_BYTE *)part.ptr, part.len, t,
                                    sizeof t / sizeof *t, aes);
    if (rv == CKR_OK)
        return true;
    return cf_p11_fail(s, cf_p11_input_rv(s->p, rv), "C_UnwrapKey", __FILE__, __LINE__);
}

static bool cf_unwrap_rsa_aes_op(cf_p11_session *s, void *ctx)
{
    cf_wrap_ctx *c = ctx;
    CK_OBJECT_HANDLE rsa;
    CF_GUARD(cf_p11_find(s, c->kek, CKO_PRIVATE_KEY, &rsa));
    if (s->p->has_rsa_aes_wrap) {
        cf_mech b;
        CF_GUARD(cf_mech_oaep(&b, c->hash));
        b.rsa_aes = (cf_rsa_aes_wrap_params){256, &b.oaep};
        b.m = (CK_MECHANISM){CKM_RSA_AES_KEY_WRAP, &b.rsa_aes, sizeof b.rsa_aes};
        return cf_p11_unwrap_into(s, &b.m, rsa, c->in, c->spec, c->target);
    }
    /* Two steps inside the token: the ephemeral key, then the target. */
    cf_buf n;
    cf_buf_init(&n, CF_P11_RSA_MAX + 1);
    bool ok = cf_p11_get_bytes(s, rsa, CKA_MODULUS, CF_P11_RSA_MAX + 1, &n);
    cf_p11_strip_zeros(&n);
    size_t k = n.len; /* the RSA part is as long as the modulus */
    cf_buf_free(&n);
    CF_GUARD(ok);
    CF_ENSURE(c->in.len > k + 16, CF_ERR_DECRYPT, "the transfer blob is too short");
    CK_OBJECT_HANDLE aes = CK_INVALID_HANDLE;
    CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
    ok = cf_unwrap_ephemeral(s, c, rsa, cf_slice_of(c->in.ptr, k), &aes) &&
         cf_p11_unwrap_into(s, &kwp, aes, cf_slice_of(c->in.ptr + k, c->in.len - k), c->spec,
                            c->target);
    if (aes != CK_INVALID_HANDLE)
        s->p->f->C_DestroyObject(s->h, aes);
    return ok;
}

bool cf_p11_unwrap_rsa_aes(cf_p11 *p, const cf_p11_id *kek, cf_hash oaep_hash, cf_slice blob,
                           const cf_p11_key_spec *spec, const cf_p11_id *id)
{
    CF_ENSURE(blob.len >= 128 && blob.len <= 16384, CF_ERR_DECRYPT,
              "the transfer blob has the wrong length");
    cf_wrap_ctx c = {.kek = kek, .target = id, .in = blob, .spec = spec, .hash = oaep_hash};
    return cf_p11_run(p, cf_unwrap_rsa_aes_op, &c);
}
