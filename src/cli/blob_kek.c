/*
 * Key-encryption keys for client-side encryption (blob_kek.h): a local key
 * file through cse.h's own KEK, or a vault key through the vault client
 * (client.c), whose wrapKey/unwrapKey carry the content key to the vault
 * and back.  The content key only ever sits in secret buffers here.
 */
#include <stdlib.h>
#include <string.h>

#include "blob_kek.h"
#include "encoding.h"
#include "fsutil.h"
#include "https.h"

#define CF_KEK_FILE_MAX (64u * 1024) /* an RSA-16384 PEM fits */

struct cf_blob_kek {
    cf_cse_kek *local;     /* file:PATH */
    cf_cli_client *client; /* a vault key: the connection ... */
    char name[128], version[65];
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

/* Opens the vault client on the configured vault and checks that `kid`
 * names a key there: the credential is the vault's, so it is never sent to
 * an origin the metadata of a blob merely names. */
static bool cf_kek_vault(cf_cli *cli, const char *kid, cf_blob_kek *k)
{
    cf_cli_conn conn;
    memset(&conn, 0, sizeof conn);
    cf_buf_init_secret(&conn.secret, 4096);
    bool ok = cf_cli_conn_resolve(cli, &conn);
    char vault_origin[512], key_origin[512];
    if (ok) {
        cf_cli_https_origin(conn.vault_url, vault_origin, sizeof vault_origin);
        cf_cli_https_origin(kid, key_origin, sizeof key_origin);
        size_t n = strlen(vault_origin);
        if (strcmp(vault_origin, key_origin) != 0 || strncmp(kid + n, "/keys/", 6) != 0) {
            /* kid may come from a blob's metadata: printed escaped. */
            CF_RAISE(CF_ERR_BAD_INPUT, NULL);
            fputs("coffer: the key-encryption key ", stderr);
            cf_out_str(stderr, kid);
            fputs(" is not a key of the configured vault ", stderr);
            cf_out_str(stderr, vault_origin);
            fputs(" (give --vault, or --decrypt-with)\n", stderr);
            cf_cli_mark_reported();
            ok = false;
        }
    }
    if (ok) {
        cf_out_kid_parts(kid, k->name, sizeof k->name, k->version, sizeof k->version);
        ok = cf_cli_check_name(k->name) && (!k->version[0] || cf_cli_check_version(k->version));
    }
    ok = ok && cf_cli_client_open(&conn, &k->client);
    cf_cli_conn_free(&conn);
    return ok;
}

/* The vault's key: its versioned id, and its type's wrapping algorithm. */
static bool cf_kek_lookup(cf_blob_kek *k)
{
    char path[256];
    snprintf(path, sizeof path, "/keys/%s/%s", k->name, k->version);
    json_t *reply = NULL;
    CF_GUARD(cf_cli_call(k->client, "GET", path, NULL, &reply));
    json_t *key = json_object_get(reply, "key");
    const char *kid = json_string_value(json_object_get(key, "kid"));
    const char *kty = json_string_value(json_object_get(key, "kty"));
    bool ok = kid && kty && strlen(kid) <= CF_CSE_KEY_ID_MAX;
    if (!ok)
        CF_RAISE(CF_ERR_IO, "the vault's reply has no key id or type");
    else if (strncmp(kty, "oct", 3) == 0)
        k->alg = CF_CSE_WRAP_A256KW;
    else if (strncmp(kty, "RSA", 3) == 0)
        k->alg = CF_CSE_WRAP_RSA_OAEP;
    else {
        CF_RAISE(CF_ERR_BAD_INPUT, "the key-encryption key must be an AES (oct) or RSA key");
        ok = false;
    }
    if (ok) {
        snprintf(k->kid, sizeof k->kid, "%s", kid);
        cf_out_kid_parts(kid, k->name, sizeof k->name, k->version, sizeof k->version);
    }
    json_decref(reply);
    return ok;
}

bool cf_blob_kek_open(cf_cli *cli, const char *spec, cf_blob_kek **out)
{
    cf_blob_kek *k = calloc(1, sizeof *k);
    CF_ENSURE_ALLOC(k);
    bool ok;
    if (strncmp(spec, "file:", 5) == 0)
        ok = cf_kek_file(spec + 5, k);
    else if (strncmp(spec, "https://", 8) == 0)
        ok = cf_kek_vault(cli, spec, k) && cf_kek_lookup(k);
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
    if (!cf_kek_vault(cli, meta->key_id, k)) {
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
    cf_cli_client_close(k->client);
    free(k);
}

/* POST /keys/NAME/VERSION/{wrapkey|unwrapkey} with `in`; the reply's value
 * decoded into `out` (a secret buffer). */
static bool cf_kek_vault_op(cf_blob_kek *k, const char *op, cf_cse_wrap_alg alg, cf_slice in,
                            cf_buf *out)
{
    char path[256];
    snprintf(path, sizeof path, "/keys/%s/%s/%s", k->name, k->version, op);
    cf_buf value;
    cf_buf_init_secret(&value, 4096);
    json_t *body = NULL, *reply = NULL;
    bool ok = cf_base64url_encode(in, &value) && cf_buf_terminate(&value);
    if (ok) {
        body = json_pack("{s:s, s:s%}", "alg", cf_cse_wrap_alg_name(alg), "value",
                         (const char *)value.data, value.len);
        ok = body != NULL;
        if (!ok)
            CF_RAISE(CF_ERR_NOMEM, NULL);
    }
    cf_buf_free(&value);
    ok = ok && cf_cli_call(k->client, "POST", path, body, &reply);
    json_decref(body);
    const char *v = ok ? json_string_value(json_object_get(reply, "value")) : NULL;
    if (ok && !v) {
        CF_RAISE(CF_ERR_IO, "the vault's reply has no \"value\"");
        ok = false;
    }
    ok = ok && cf_base64url_decode(CF_SLICE_STR(v), out);
    json_decref(reply);
    return ok;
}

bool cf_blob_kek_wrap(cf_blob_kek *k, const cf_cse_key *key, cf_cse_meta *meta)
{
    if (k->local)
        return cf_cse_kek_wrap(k->local, key, meta);
    cf_buf plain, wrapped;
    cf_buf_init_secret(&plain, 64);
    cf_buf_init(&wrapped, CF_CSE_WRAPPED_KEY_MAX);
    bool ok = cf_cse_key_to_wrap(key, meta->protocol, &plain) &&
              cf_kek_vault_op(k, "wrapkey", k->alg, cf_buf_slice(&plain), &wrapped);
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
    bool ok = cf_kek_vault_op(k, "unwrapkey", meta->wrap_alg,
                              cf_slice_of(meta->wrapped_key, meta->wrapped_key_len), &plain) &&
              cf_cse_key_from_unwrapped(meta->protocol, cf_buf_slice(&plain), out);
    cf_buf_free(&plain);
    return ok;
}
