/*
 * Bring your own key, the client side:
 *
 *   coffer key byok-wrap --kek-kid KID (--key FILE.pem | --aes-key FILE) --out FILE.byok
 *   coffer key import NAME --byok FILE.byok [--kty RSA-HSM|EC-HSM|oct-HSM] [--curve C]
 *
 * byok-wrap plays the HSM vendor's tool: it fetches the key-exchange key's
 * public half from the vault, checks it is one (RSA-HSM, key_ops import),
 * and wraps the key to import for it (byok.h) -- on the machine where the
 * key already is.  The vault's token alone can unwrap the result.  import
 * sends the blob; the vault never sees the key in clear.
 */
#include <stdio.h>
#include <string.h>

#include "byok.h"
#include "cli.h"
#include "encoding.h"
#include "fsutil.h"

#define CF_PEM_MAX (64 * 1024)

/* The KEK's public key, by full identifier, from the vault. */
static bool cf_fetch_kek(cf_cli *cli, const char *kid, cf_pkey **kek)
{
    const char *p = strstr(kid, "/keys/");
    if (!p)
        return cf_cli_usage("--kek-kid: expected a key identifier https://VAULT/keys/NAME/VERSION");
    char name[256], version[256], path[600];
    cf_out_kid_parts(kid, name, sizeof name, version, sizeof version);
    if (!version[0] || !cf_cli_check_name(name) || !cf_cli_check_version(version))
        return cf_cli_usage("--kek-kid: name a key version: https://VAULT/keys/NAME/VERSION");
    snprintf(path, sizeof path, "/keys/%s/%s", name, version);
    json_t *reply = NULL;
    CF_GUARD(cf_cli_call(cli->client, "GET", path, NULL, &reply));
    json_t *key = json_object_get(reply, "key");
    const char *kty = json_string_value(json_object_get(key, "kty"));
    bool import = false;
    size_t i;
    json_t *op;
    json_array_foreach(json_object_get(key, "key_ops"), i, op) import =
        import || (json_is_string(op) && strcmp(json_string_value(op), "import") == 0);
    bool ok = kty && strcmp(kty, "RSA-HSM") == 0 && import;
    if (!ok)
        cf_error_raise(CF_ERR_BAD_INPUT, __FILE__, __LINE__,
                       "the key is not a key exchange key (kty RSA-HSM with key_ops import)");
    ok = ok && cf_pkey_from_jwk(key, false, kek);
    json_decref(reply);
    return ok;
}

/* The key to import: PKCS#8 of a PEM private key, or raw AES bytes. */
static bool cf_byok_target(const cf_cli *cli, cf_buf *material, const char **kty, const char **crv)
{
    const char *pem_file = cf_cli_opt(cli, "key"), *aes_file = cf_cli_opt(cli, "aes-key");
    if ((pem_file != NULL) == (aes_file != NULL))
        return cf_cli_usage("give one of --key FILE.pem or --aes-key FILE");
    if (aes_file) {
        if (!cf_read_file(aes_file, 64, material))
            return cf_cli_usage("--aes-key %.128s: %s", aes_file, cf_error_detail());
        if (material->len != 16 && material->len != 24 && material->len != 32)
            return cf_cli_usage("--aes-key: an AES key file holds 16, 24 or 32 raw bytes");
        *kty = "oct-HSM";
        return true;
    }
    cf_buf pem;
    cf_buf_init_secret(&pem, CF_PEM_MAX);
    cf_pkey *key = NULL;
    bool ok = cf_read_file(pem_file, CF_PEM_MAX, &pem) &&
              cf_pkey_from_private_pem(cf_buf_slice(&pem), &key);
    cf_buf_free(&pem);
    if (!ok)
        return cf_cli_usage("--key %.128s: %s (an unencrypted PEM private key)", pem_file,
                            cf_error_detail());
    ok = cf_pkey_private_der(key, material);
    *kty = cf_pkey_kty(key) == CF_KTY_RSA ? "RSA-HSM" : "EC-HSM";
    *crv = cf_pkey_kty(key) == CF_KTY_EC ? cf_curve_name(cf_pkey_curve(key)) : NULL;
    cf_pkey_free(key);
    return ok;
}

bool cf_cmd_byok_wrap(cf_cli *cli)
{
    const char *kid = cf_cli_opt(cli, "kek-kid"), *out = cf_cli_opt(cli, "out");
    if (!kid || !out)
        return cf_cli_usage("usage: coffer key byok-wrap --kek-kid KID (--key FILE.pem | "
                            "--aes-key FILE) --out FILE.byok");
    cf_buf material, blob;
    cf_buf_init_secret(&material, CF_BYOK_CIPHERTEXT_MAX);
    cf_buf_init(&blob, 4 * CF_BYOK_CIPHERTEXT_MAX);
    const char *kty = NULL, *crv = NULL;
    cf_pkey *kek = NULL;
    bool ok = cf_byok_target(cli, &material, &kty, &crv) && cf_fetch_kek(cli, kid, &kek) &&
              cf_byok_wrap(kek, kid, cf_buf_slice(&material), kty, crv, &blob) &&
              cf_write_file_atomic(out, cf_buf_slice(&blob), 0600);
    cf_pkey_free(kek);
    cf_buf_free(&material);
    cf_buf_free(&blob);
    CF_GUARD(ok);
    if (cli->json) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "file", out, "kek", kid, "key_type", kty);
        cf_out_json(o);
        json_decref(o);
    } else {
        printf("%s key wrapped for %s into %s\n", kty, kid, out);
    }
    return true;
}

/* body.key for an import from a transfer blob file. */
bool cf_cli_byok_jwk(const cf_cli *cli, const char *file, json_t **jwk)
{
    cf_buf raw, text;
    cf_buf_init(&raw, 4 * CF_BYOK_CIPHERTEXT_MAX);
    cf_buf_init(&text, 8 * CF_BYOK_CIPHERTEXT_MAX);
    cf_byok_blob blob;
    memset(&blob, 0, sizeof blob);
    cf_buf_init(&blob.ciphertext, CF_BYOK_CIPHERTEXT_MAX);
    bool ok = cf_read_file(file, 4 * CF_BYOK_CIPHERTEXT_MAX, &raw);
    if (!ok)
        (void)cf_cli_usage("--byok %.128s: %s", file, cf_error_detail());
    ok = ok && cf_byok_parse(cf_buf_slice(&raw), &blob) &&
         cf_base64url_encode(cf_buf_slice(&raw), &text);
    const char *kty = cf_cli_opt(cli, "kty"), *crv = cf_cli_opt(cli, "curve");
    if (!kty && blob.key_type[0])
        kty = blob.key_type;
    if (!crv && blob.crv[0])
        crv = blob.crv;
    if (ok && !kty)
        ok = cf_cli_usage("--kty RSA-HSM|EC-HSM|oct-HSM is required (the blob does not say)");
    *jwk = ok ? json_pack("{s:s, s:s%}", "kty", kty, "key_hsm", (const char *)text.data, text.len)
              : NULL;
    if (*jwk && crv)
        json_object_set_new(*jwk, "crv", json_string(crv));
    cf_buf_free(&raw);
    cf_buf_free(&text);
    cf_buf_free(&blob.ciphertext);
    CF_GUARD(ok);
    CF_ENSURE_ALLOC(*jwk);
    return true;
}
