/*
 * TDE protectors (tde_protector.h).
 */
#include "tde_protector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto.h"
#include "encoding.h"
#include "fsutil.h"
#include "secmem.h"
#include "tde_keyring.h"
#include "vault_client.h"

#define CF_KEY_FILE_MAX 128

struct cf_tde_protector {
    uint8_t kind, alg;
    char id[CF_TDE_PROTECTOR_ID_MAX + 1];
    cf_buf key; /* local: the wrapping key (secret) */
    /* vault: the client, the key version new DEKs are wrapped with, and the
     * key's id without a version (any version of it may unwrap) */
    cf_vault_client *vault;
    cf_vault_client_key vault_key;
    char vault_base[CF_VAULT_KEY_URI_MAX + 1];
};

bool cf_tde_key_fingerprint(cf_slice key, char out[33])
{
    static const char label[] = "coffer tde local key id";
    uint8_t fp[32];
    cf_buf hex;
    cf_buf_init(&hex, 64);
    bool ok = cf_hmac_sha256(key, cf_slice_of(label, sizeof label - 1), fp) &&
              cf_hex_encode(cf_slice_of(fp, 16), &hex) && hex.len == 32;
    if (ok)
        memcpy(out, hex.data, 32), out[32] = '\0';
    cf_buf_free(&hex);
    return ok;
}

static bool cf_local_protector(cf_slice key, cf_tde_protector **out)
{
    CF_ENSURE(key.len == CF_TDE_DEK_LEN, CF_ERR_BAD_INPUT, "a TDE key is 32 bytes");
    cf_tde_protector *p = calloc(1, sizeof *p);
    CF_ENSURE_ALLOC(p);
    p->kind = CF_TDE_PROTECTOR_LOCAL;
    p->alg = CF_TDE_WRAP_A256KW;
    cf_buf_init_secret(&p->key, CF_TDE_DEK_LEN);
    char fp[33];
    bool ok = cf_buf_append_slice(&p->key, key) && cf_tde_key_fingerprint(key, fp);
    if (ok)
        snprintf(p->id, sizeof p->id, "local:%s", fp);
    else
        cf_tde_protector_free(p);
    if (ok)
        *out = p;
    return ok;
}

/* A key file: 32 raw bytes, or 64 hex digits and an optional newline. */
static bool cf_read_key_file(const char *path, cf_buf *key)
{
    struct stat st;
    CF_ENSUREF(stat(path, &st) == 0, CF_ERR_NOT_FOUND, "TDE key file %s: %s", path,
               strerror(errno));
    CF_ENSUREF((st.st_mode & 077) == 0, CF_ERR_FORBIDDEN,
               "TDE key file %s is readable by others (chmod 600 it)", path);
    cf_buf raw;
    cf_buf_init_secret(&raw, CF_KEY_FILE_MAX);
    bool ok = cf_read_file(path, CF_KEY_FILE_MAX, &raw);
    if (ok) {
        size_t n = raw.len;
        while (n > 0 && (raw.data[n - 1] == '\n' || raw.data[n - 1] == '\r'))
            n--;
        if (raw.len == CF_TDE_DEK_LEN)
            ok = cf_buf_append_slice(key, cf_buf_slice(&raw));
        else if (n == 2 * CF_TDE_DEK_LEN)
            ok = cf_hex_decode(cf_slice_of(raw.data, n), key);
        else
            ok = false;
        if (!ok)
            cf_error_raisef(CF_ERR_BAD_INPUT, __FILE__, __LINE__,
                            "TDE key file %s must hold 32 bytes, or 64 hex digits", path);
    }
    cf_buf_free(&raw);
    return ok;
}

/* A key in coffer-vault: wrapKey and unwrapKey through its API. */
static bool cf_vault_protector(const char *uri, const char *identity, cf_tde_protector **out)
{
    CF_ENSURE(identity && *identity, CF_ERR_UNAUTHORIZED,
              "a vault protector needs an identity: vault_identity=FILE (shaped like "
              "coffer-vault's bootstrap.json) or COFFER_VAULT_IDENTITY");
    cf_tde_protector *p = calloc(1, sizeof *p);
    CF_ENSURE_ALLOC(p);
    p->kind = CF_TDE_PROTECTOR_VAULT;
    cf_buf_init_secret(&p->key, CF_TDE_DEK_LEN);
    bool ok = cf_vault_client_open(identity, &p->vault) &&
              cf_vault_client_get_key(p->vault, uri, &p->vault_key) &&
              cf_vault_client_key_usable(&p->vault_key);
    if (ok) {
        p->alg = strcmp(p->vault_key.kty, "oct") == 0 || strcmp(p->vault_key.kty, "oct-HSM") == 0
                     ? CF_TDE_WRAP_A256KW
                     : CF_TDE_WRAP_RSA_OAEP_256;
        snprintf(p->id, sizeof p->id, "%s", p->vault_key.kid);
        snprintf(p->vault_base, sizeof p->vault_base, "%s", p->vault_key.kid);
        char *slash = strrchr(p->vault_base, '/');
        ok = slash && slash > p->vault_base + 8;
        if (ok)
            *slash = '\0';
        else
            CF_RAISE(CF_ERR_BAD_INPUT, "the vault returned a key id without a version");
    }
    if (!ok) {
        cf_tde_protector_free(p);
        return false;
    }
    *out = p;
    return true;
}

bool cf_tde_protector_open(const char *spec, const char *identity, cf_tde_protector **out)
{
    if (spec && strncmp(spec, "https://", 8) == 0)
        return cf_vault_protector(spec, identity, out);
    bool file = spec && strncmp(spec, "local:", 6) == 0 && spec[6] != '\0';
    bool memory = spec && strncmp(spec, "key:", 4) == 0 && spec[4] != '\0';
    CF_ENSURE(file || memory, CF_ERR_BAD_INPUT,
              "a TDE protector is local:PATH (a key file), key:ID (a key given in memory) or a "
              "coffer-vault key URI");
    cf_buf key;
    cf_buf_init_secret(&key, CF_TDE_DEK_LEN);
    bool ok = (file ? cf_read_key_file(spec + 6, &key) : cf_tde_keyring_get(spec + 4, &key)) &&
              cf_local_protector(cf_buf_slice(&key), out);
    cf_buf_free(&key);
    return ok;
}

void cf_tde_protector_free(cf_tde_protector *p)
{
    if (!p)
        return;
    cf_buf_free(&p->key);
    cf_vault_client_close(p->vault);
    free(p);
}

const char *cf_tde_protector_id(const cf_tde_protector *p)
{
    return p->id;
}

uint8_t cf_tde_protector_kind(const cf_tde_protector *p)
{
    return p->kind;
}

uint8_t cf_tde_protector_alg(const cf_tde_protector *p)
{
    return p->alg;
}

bool cf_tde_protector_wrap(cf_tde_protector *p, cf_slice dek, cf_tde_wrapped_dek *out)
{
    cf_buf wrapped;
    cf_buf_init(&wrapped, CF_TDE_WRAPPED_MAX);
    bool ok = p->vault ? cf_vault_client_wrap(p->vault, &p->vault_key, dek, &wrapped)
                       : cf_aes_kw_wrap(cf_buf_slice(&p->key), dek, &wrapped);
    if (ok) {
        memcpy(out->wrapped, wrapped.data, wrapped.len);
        out->len = (uint16_t)wrapped.len;
    }
    cf_buf_free(&wrapped);
    return ok;
}

/* With a vault key: the version the header names, if it is a version of
 * this protector's key. */
static bool cf_vault_unwrap(cf_tde_protector *p, const cf_tde_header *h,
                            const cf_tde_wrapped_dek *w, cf_buf *dek)
{
    size_t n = strlen(p->vault_base);
    CF_ENSUREF(h->protector_kind == CF_TDE_PROTECTOR_VAULT &&
                   strncmp(h->protector_id, p->vault_base, n) == 0 && h->protector_id[n] == '/' &&
                   strchr(h->protector_id + n + 1, '/') == NULL,
               CF_ERR_FORBIDDEN, "the database is protected by %s, not by %s", h->protector_id,
               p->vault_base);
    cf_vault_client_key k;
    CF_GUARD(cf_vault_client_get_key(p->vault, h->protector_id, &k));
    CF_GUARD(cf_vault_client_key_usable(&k));
    return cf_vault_client_unwrap(p->vault, &k, cf_slice_of(w->wrapped, w->len), dek);
}

bool cf_tde_protector_unwrap(cf_tde_protector *p, const cf_tde_header *h,
                             const cf_tde_wrapped_dek *w, cf_buf *dek)
{
    if (p->vault) {
        CF_GUARD(cf_vault_unwrap(p, h, w, dek));
        CF_ENSURE(dek->len == CF_TDE_DEK_LEN, CF_ERR_DECRYPT,
                  "the unwrapped database key is not 32 bytes");
        return true;
    }
    CF_ENSUREF(h->protector_kind == p->kind && strcmp(h->protector_id, p->id) == 0,
               CF_ERR_FORBIDDEN, "the database is protected by %s, not by %s", h->protector_id,
               p->id);
    CF_ENSURE(h->wrap_alg == p->alg, CF_ERR_UNSUPPORTED, "unexpected DEK wrapping algorithm");
    if (!cf_aes_kw_unwrap(cf_buf_slice(&p->key), cf_slice_of(w->wrapped, w->len), dek))
        CF_BAIL(CF_ERR_DECRYPT, "the database key does not unwrap under its protector");
    CF_ENSURE(dek->len == CF_TDE_DEK_LEN, CF_ERR_DECRYPT,
              "the unwrapped database key is not 32 bytes");
    return true;
}
