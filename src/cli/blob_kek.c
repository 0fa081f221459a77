/*
 * Key-encryption keys for client-side encryption (blob_kek.h): a local key
 * file through cse.h's own KEK, or a vault key (vault_key.c), whose
 * wrapKey/unwrapKey carry the content key to the vault and back.  The content key only ever sits in
 * secret buffers here.
 */
#include <stdlib.h>
#include <string.h>

#include "blob_kek.h"
#include "fsutil.h"
#include "vault_key.h"

#define CF_KEK_FILE_MAX (64u * 1024) /* an RSA-16384 PEM fits */

struct cf_blob_kek {
    cf_cse_kek *local;               /* file:PATH */
    cf_vault_key *vault;             /* a vault key ... */
    char kid[CF_CSE_KEY_ID_MAX + 1]; /* ... and its id as the metadata records it */
    cf_cse_wrap_alg alg;
};

static bool cf_kek_file(const char *path, cf_blob_kek *k)
{
    const char *slash = strrchr(path, '/');
    char key_id[CF_CSE_KEY_ID_MAX + 1];
    int n = snprintf(key_id, sizeof key_id, "local:%s", slash ? slash + 1 : path);
    if (n <= 6 || (size_t)n >= sizeof key_id)
        return cf_cli_usage("--encrypt-with/--decrypt-with file:PATH: no file name");
    cf_buf bytes;
    cf_buf_init_secret(&bytes, CF_KEK_FILE_MAX);
    bool ok = cf_read_file(path, CF_KEK_FILE_MAX, &bytes);
    if (!ok)
        (void)cf_cli_usage("file:%.256s: %s", path, cf_error_detail());
    ok = ok && cf_cse_kek_from_key_file(cf_buf_slice(&bytes), key_id, &k->local);
    cf_buf_free(&bytes);
    return ok;
}

/* A vault key named by the user: its type picks the algorithm, its
 * versioned id goes into the metadata. */
static bool cf_kek_vault(cf_cli *cli, const char *kid, cf_blob_kek *k)
{
    CF_GUARD(cf_vault_key_open(cli, kid, true, "--decrypt-with", &k->vault));
    const char *kty = cf_vault_key_kty(k->vault);
    if (strncmp(kty, "oct", 3) == 0)
        k->alg = CF_CSE_WRAP_A256KW;
    else if (strncmp(kty, "RSA", 3) == 0)
        k->alg = CF_CSE_WRAP_RSA_OAEP;
    else
        CF_BAIL(CF_ERR_BAD_INPUT, "the key-encryption key must be an AES (oct) or RSA key");
    snprintf(k->kid, sizeof k->kid, "%s", cf_vault_key_kid(k->vault));
    return true;
}

bool cf_blob_kek_open(cf_cli *cli, const char *spec, cf_blob_kek **out)
{
    cf_blob_kek *k = calloc(1, sizeof *k);
    CF_ENSURE_ALLOC(k);
    bool ok;
    if (strncmp(spec, "file:", 5) == 0)
        ok = cf_kek_file(spec + 5, k);
    else if (strncmp(spec, "https://", 8) == 0)
        ok = cf_kek_vault(cli, spec, k);
    else
        ok = cf_cli_usage("a key-encryption key is file:PATH or a vault key id "
                          "(https://VAULT/keys/NAME[/VERSION])");
    if (!ok) {
        cf_blob_kek_close(k);
        return false;
    }
    *out = k;
    return true;
}

bool cf_blob_kek_for(cf_cli *cli, const cf_cse_meta *meta, cf_blob_kek **out)
{
    if (strncmp(meta->key_id, "https://", 8) != 0) {
        fputs("coffer: the blob is client-side encrypted with the key '", stderr);
        cf_out_str(stderr, meta->key_id);
        fputs("', which is not a vault key: give --decrypt-with file:PATH (or the key)\n", stderr);
        cf_cli_mark_reported();
        CF_BAIL(CF_ERR_BAD_INPUT, "no key to decrypt with");
    }
    cf_blob_kek *k = calloc(1, sizeof *k);
    CF_ENSURE_ALLOC(k);
    snprintf(k->kid, sizeof k->kid, "%s", meta->key_id);
    k->alg = meta->wrap_alg;
    if (!cf_vault_key_open(cli, meta->key_id, false, "--decrypt-with", &k->vault)) {
        cf_blob_kek_close(k);
        return false;
    }
    *out = k;
    return true;
}

void cf_blob_kek_close(cf_blob_kek *k)
{
    if (!k)
        return;
    cf_cse_kek_free(k->local);
    cf_vault_key_close(k->vault);
    free(k);
}

bool cf_blob_kek_wrap(cf_blob_kek *k, const cf_cse_key *key, cf_cse_meta *meta)
{
    if (k->local)
        return cf_cse_kek_wrap(k->local, key, meta);
    cf_buf plain, wrapped;
    cf_buf_init_secret(&plain, 64);
    cf_buf_init(&wrapped, CF_CSE_WRAPPED_KEY_MAX);
    bool ok = cf_cse_key_to_wrap(key, meta->protocol, &plain) &&
              cf_vault_key_op(k->vault, "wrapkey", cf_cse_wrap_alg_name(k->alg),
                              cf_buf_slice(&plain), &wrapped);
    if (ok && (wrapped.len < CF_CSE_WRAPPED_KEY_MIN || wrapped.len > CF_CSE_WRAPPED_KEY_MAX)) {
        CF_RAISE(CF_ERR_IO, "the vault returned a wrapped key of an unexpected size");
        ok = false;
    }
    if (ok) {
        memcpy(meta->wrapped_key, wrapped.data, wrapped.len);
        meta->wrapped_key_len = wrapped.len;
        meta->wrap_alg = k->alg;
        snprintf(meta->key_id, sizeof meta->key_id, "%s", k->kid);
    }
    cf_buf_free(&plain);
    cf_buf_free(&wrapped);
    return ok;
}

bool cf_blob_kek_unwrap(cf_blob_kek *k, const cf_cse_meta *meta, cf_cse_key **out)
{
    if (k->local) {
        if (cf_cse_kek_unwrap(k->local, meta, out))
            return true;
        CF_ENSURE(cf_error_code() != CF_ERR_DECRYPT, CF_ERR_DECRYPT,
                  "the key-encryption key does not unwrap this blob's content key (a wrong key?)");
        return false;
    }
    cf_buf plain;
    cf_buf_init_secret(&plain, 64);
    bool ok = cf_vault_key_op(k->vault, "unwrapkey", cf_cse_wrap_alg_name(meta->wrap_alg),
                              cf_slice_of(meta->wrapped_key, meta->wrapped_key_len), &plain) &&
              cf_cse_key_from_unwrapped(meta->protocol, cf_buf_slice(&plain), out);
    cf_buf_free(&plain);
    return ok;
}
