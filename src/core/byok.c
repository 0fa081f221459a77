/* Key Vault BYOK transfer blobs; see byok.h. */
#include <jansson.h>
#include <string.h>

#include "byok.h"
#include "encoding.h"
#include "json_secure.h"
#include "secmem.h"

bool cf_byok_wrap(const cf_pkey *kek_public, const char *kek_kid, cf_slice target,
                  const char *key_type, const char *crv, cf_buf *out)
{
    CF_ENSURE(cf_pkey_kty(kek_public) == CF_KTY_RSA, CF_ERR_BAD_INPUT,
              "the key exchange key must be an RSA key");
    CF_ENSURE(strlen(kek_kid) <= CF_BYOK_KID_MAX, CF_ERR_BAD_INPUT,
              "the KEK identifier is too long");
    uint8_t aes[32];
    cf_buf ct, text;
    cf_buf_init(&ct, CF_BYOK_CIPHERTEXT_MAX);
    cf_buf_init(&text, 2 * CF_BYOK_CIPHERTEXT_MAX);
    bool ok = cf_random_bytes(aes, sizeof aes) &&
              cf_rsa_encrypt(kek_public, CF_RSA_OAEP_SHA1, cf_slice_of(aes, sizeof aes), &ct) &&
              cf_aes_kwp_wrap(cf_slice_of(aes, sizeof aes), target, &ct) &&
              cf_base64url_encode(cf_buf_slice(&ct), &text);
    cf_memzero(aes, sizeof aes);
    json_t *doc =
        ok ? json_pack("{s:s, s:{s:s, s:s, s:s}, s:s%, s:s}", "schema_version", "1.0.0", "header",
                       "kid", kek_kid, "alg", "dir", "enc", "CKM_RSA_AES_KEY_WRAP", "ciphertext",
                       (const char *)text.data, text.len, "generator", "coffer key byok-wrap")
           : NULL;
    if (doc && key_type)
        json_object_set_new(doc, "key_type", json_string(key_type));
    if (doc && crv)
        json_object_set_new(doc, "crv", json_string(crv));
    char *dumped = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    cf_buf_free(&ct);
    cf_buf_free(&text);
    CF_GUARD(ok);
    CF_ENSURE(dumped, CF_ERR_NOMEM, NULL);
    ok = cf_buf_append_str(out, dumped) && cf_buf_append_u8(out, '\n');
    cf_json_free_text(dumped);
    return ok;
}

static bool cf_byok_fields(json_t *doc, cf_byok_blob *out)
{
    CF_ENSURE(json_is_object(doc), CF_ERR_BAD_INPUT, "key_hsm is not a BYOK transfer blob.");
    json_t *header = json_object_get(doc, "header");
    const char *version = json_string_value(json_object_get(doc, "schema_version"));
    const char *alg = json_string_value(json_object_get(header, "alg"));
    const char *enc = json_string_value(json_object_get(header, "enc"));
    const char *ct = json_string_value(json_object_get(doc, "ciphertext"));
    CF_ENSURE(version && strcmp(version, "1.0.0") == 0, CF_ERR_BAD_INPUT,
              "The BYOK transfer blob's schema_version must be 1.0.0.");
    CF_ENSURE(json_is_string(json_object_get(header, "kid")) && alg && strcmp(alg, "dir") == 0,
              CF_ERR_BAD_INPUT, "The BYOK transfer blob's header must give kid and alg \"dir\".");
    CF_ENSURE(enc && strcmp(enc, "CKM_RSA_AES_KEY_WRAP") == 0, CF_ERR_BAD_INPUT,
              "The BYOK transfer blob's header.enc must be CKM_RSA_AES_KEY_WRAP.");
    CF_GUARD(cf_json_copy_text(header, "kid", out->kid, sizeof out->kid, CF_ERR_BAD_INPUT,
                               "the BYOK transfer blob"));
    CF_GUARD(cf_json_copy_text(doc, "key_type", out->key_type, sizeof out->key_type,
                               CF_ERR_BAD_INPUT, "the BYOK transfer blob"));
    CF_GUARD(cf_json_copy_text(doc, "crv", out->crv, sizeof out->crv, CF_ERR_BAD_INPUT,
                               "the BYOK transfer blob"));
    CF_ENSURE(ct && cf_base64url_decode(CF_SLICE_STR(ct), &out->ciphertext) &&
                  out->ciphertext.len > 0,
              CF_ERR_BAD_INPUT, "The BYOK transfer blob's ciphertext is missing or malformed.");
    return true;
}

bool cf_byok_parse(cf_slice transfer, cf_byok_blob *out)
{
    CF_ENSURE(transfer.len > 0 && transfer.len <= 4 * CF_BYOK_CIPHERTEXT_MAX, CF_ERR_BAD_INPUT,
              "key_hsm is not a BYOK transfer blob.");
    json_t *doc =
        json_loadb((const char *)transfer.ptr, transfer.len, JSON_REJECT_DUPLICATES, NULL);
    bool ok = cf_byok_fields(doc, out);
    json_decref(doc);
    return ok;
}
