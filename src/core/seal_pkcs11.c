/*
 * The PKCS#11 seal: two AES-256 keys inside a token, sensitive and
 * non-extractable.  The root key only encrypts and decrypts: every wrap
 * and unwrap of a master key runs in the token as AES-256-GCM with the
 * caller's associated data.  The key-wrapping root key only wraps and
 * unwraps keys (HSM keys, for their backups) and unwraps them only into
 * non-extractable objects; kept apart so that no one with the PIN can
 * decrypt what it wrapped with a plain C_Decrypt.  The master key format:
 *
 *   byte 0      format (1)
 *   bytes 1-12  random nonce
 *   then        ciphertext of the key
 *   last 16     GCM tag
 *
 * The unwrapped master key is the only key material that reaches this
 * process, into secret memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "seal.h"
#include "secmem.h"

#define CF_SEAL_P11_FORMAT 1
#define CF_SEAL_P11_MAX_KEY 64

typedef struct {
    cf_seal base;
} cf_seal_p11;

static bool cf_seal_p11_wrap(cf_seal *seal, cf_slice key, cf_slice aad, cf_buf *out)
{
    CF_ENSURE(key.len <= CF_SEAL_P11_MAX_KEY, CF_ERR_INTERNAL, "the seal wraps keys only");
    uint8_t nonce[CF_GCM_IV_LEN];
    CF_GUARD(cf_random_bytes(nonce, sizeof nonce));
    cf_p11_mech m = {.kind = CF_P11_AES_GCM, .iv = cf_slice_of(nonce, sizeof nonce), .aad = aad};
    size_t start = out->len;
    bool ok = cf_buf_append_u8(out, CF_SEAL_P11_FORMAT) &&
              cf_buf_append(out, nonce, sizeof nonce) &&
              cf_p11_encrypt(seal->token, &seal->root, &m, key, out);
    if (!ok)
        out->len = start;
    return ok;
}

static bool cf_seal_p11_unwrap(cf_seal *seal, cf_slice wrapped, cf_slice aad, cf_buf *out)
{
    CF_ENSURE(wrapped.len > 1 + CF_GCM_IV_LEN + CF_GCM_TAG_LEN &&
                  wrapped.len <= 1 + CF_GCM_IV_LEN + CF_SEAL_P11_MAX_KEY + CF_GCM_TAG_LEN &&
                  wrapped.ptr[0] == CF_SEAL_P11_FORMAT,
              CF_ERR_DECRYPT, "the wrapped key is not the PKCS#11 seal's");
    cf_p11_mech m = {
        .kind = CF_P11_AES_GCM, .iv = cf_slice_of(wrapped.ptr + 1, CF_GCM_IV_LEN), .aad = aad};
    return cf_p11_decrypt(
        seal->token, &seal->root, &m,
        cf_slice_of(wrapped.ptr + 1 + CF_GCM_IV_LEN, wrapped.len - 1 - CF_GCM_IV_LEN), out);
}

static void cf_seal_p11_destroy(cf_seal *seal)
{
    cf_p11_close(seal->token);
    free(seal);
}

/* A root key must be a sensitive, non-extractable AES-256 token key that
 * may do what its role needs (`needs`: "encrypt and decrypt", "wrap and
 * unwrap"); failures say which, in one line. */
static bool cf_seal_p11_check(cf_p11 *token, const cf_p11_id *id, const char *name, bool wrapping)
{
    const char *label = cf_p11_token_label(token);
    cf_p11_key_info info;
    if (!cf_p11_secret_info(token, id, &info)) {
        CF_ENSUREF(cf_error_code() != CF_ERR_NOT_FOUND, CF_ERR_SEAL,
                   "the %s is missing from PKCS#11 token '%s' (wrong token?)", name, label);
        return false;
    }
    CF_ENSUREF(info.aes && info.bits == 256 && info.token, CF_ERR_SEAL,
               "the %s in PKCS#11 token '%s' is of the wrong type (it must be a token AES-256 key)",
               name, label);
    CF_ENSUREF(info.sensitive && !info.extractable, CF_ERR_SEAL,
               "the %s in PKCS#11 token '%s' is of the wrong type (it must be sensitive and "
               "non-extractable)",
               name, label);
    bool can = wrapping ? info.can_wrap && info.can_unwrap : info.can_encrypt && info.can_decrypt;
    CF_ENSUREF(can, CF_ERR_SEAL,
               "the %s in PKCS#11 token '%s' is of the wrong type (it must be allowed to %s)", name,
               label, wrapping ? "wrap and unwrap" : "encrypt and decrypt");
    return true;
}

bool cf_seal_pkcs11_open(cf_p11 *token, const cf_seal_roots *roots, cf_seal **out)
{
    if (!cf_seal_p11_check(token, &roots->root, "root key", false) ||
        !cf_seal_p11_check(token, &roots->wrap, "key-wrapping root key", true)) {
        cf_p11_close(token);
        return false;
    }
    cf_seal_p11 *s = calloc(1, sizeof *s);
    if (!s) {
        cf_p11_close(token);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    s->base = (cf_seal){"pkcs11", cf_seal_p11_wrap, cf_seal_p11_unwrap, cf_seal_p11_destroy,
                        token,    roots->root,      roots->wrap};
    *out = &s->base;
    return true;
}

/* The key-wrapping root key, with the unwrap template if the module has it. */
static bool cf_seal_p11_make_wrap(cf_p11 *token, const char *label, cf_seal_roots *roots)
{
    cf_p11_key_spec spec = {
        .type = CF_P11_AES,
        .bits = 256,
        .usage = CF_P11_USE_WRAP | CF_P11_USE_UNWRAP,
        .label = label,
        .unwrap_sealed_only = true,
    };
    CF_GUARD(cf_p11_new_id(&roots->wrap));
    roots->sealed_unwrap = true;
    if (cf_p11_generate(token, &spec, &roots->wrap))
        return true;
    /* A module without CKA_UNWRAP_TEMPLATE (the services warn at every start). */
    CF_GUARD(cf_error_code() == CF_ERR_CRYPTO || cf_error_code() == CF_ERR_UNSUPPORTED);
    spec.unwrap_sealed_only = false;
    roots->sealed_unwrap = false;
    return cf_p11_generate(token, &spec, &roots->wrap);
}

bool cf_seal_pkcs11_create_roots(cf_p11 *token, const char *service, cf_seal_roots *roots)
{
    char label[64];
    snprintf(label, sizeof label, "%s root", service);
    cf_p11_key_spec spec = {
        .type = CF_P11_AES,
        .bits = 256,
        .usage = CF_P11_USE_ENCRYPT | CF_P11_USE_DECRYPT,
        .label = label,
    };
    CF_GUARD(cf_p11_new_id(&roots->root));
    CF_GUARD(cf_p11_generate(token, &spec, &roots->root));
    snprintf(label, sizeof label, "%s root wrap", service);
    if (cf_seal_p11_make_wrap(token, label, roots))
        return true;
    struct cf_error_record *saved = cf_error_save();
    if (!cf_p11_destroy(token, &roots->root))
        cf_error_clear();
    cf_error_restore(saved);
    return false;
}

void cf_seal_pkcs11_discard_roots(cf_seal *seal)
{
    if (!seal || !seal->token)
        return;
    struct cf_error_record *saved = cf_error_save();
    if (!cf_p11_destroy(seal->token, &seal->root) || !cf_p11_destroy(seal->token, &seal->wrap_root))
        cf_error_clear(); /* best effort: left-over keys are unused, never trusted */
    cf_error_restore(saved);
}
