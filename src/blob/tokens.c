/*
 * Trust in coffer-vault's access tokens.
 *
 * The blob service and the vault are separate processes with separate
 * secrets: the blob service knows only the vault's URL, its CA and the
 * tenant, and fetches the token-signing public keys from the vault's JWKS
 * endpoint (GET <vault>/<tenant>/discovery/v2.0/keys) over verified HTTPS.
 * Keys are fetched at start and again when a token names a key we do not
 * know (at most once a minute, so bad tokens cannot make us hammer the
 * vault).  A token must be RS256 by one of those keys, issued by
 * "<vault>/<tenant>/v2.0" for https://storage.azure.com, unexpired and
 * already valid, and name a principal (oid).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob_service.h"
#include "jwt.h"
#include "log.h"
#include "token_roles.h"

#define CF_TOKENS_MAX_KEYS 8
#define CF_TOKENS_JWKS_MAX (256 * 1024)
#define CF_TOKENS_REFRESH_SECONDS 60
#define CF_STORAGE_AUDIENCE "https://storage.azure.com"

struct cf_blob_tokens {
    pthread_mutex_t lock;
    char jwks_url[700];
    char issuer[700];
    char authority[700];
    char ca_file[PATH_MAX];
    size_t n_keys;
    struct {
        char kid[128];
        cf_pkey *key;
    } keys[CF_TOKENS_MAX_KEYS];
    int64_t fetched_at;
};

static bool cf_tokens_fetch_jwks(cf_blob_tokens *t, json_t **out)
{
    cf_buf body;
    cf_buf_init(&body, CF_TOKENS_JWKS_MAX);
    long status = 0;
    cf_https_req req = {.method = "GET", .url = t->jwks_url, .ca_file = t->ca_file};
    bool ok = cf_https_fetch(&req, &status, &body) && status == 200;
    if (ok) {
        *out = json_loadb((const char *)body.data, body.len, 0, NULL);
        ok = *out != NULL;
    }
    cf_buf_free(&body);
    CF_ENSUREF(ok, CF_ERR_IO, "cannot fetch the vault's signing keys from %s (%s, HTTP %ld)",
               t->jwks_url, cf_error_code() ? cf_error_detail() : "bad reply", status);
    return true;
}

static void cf_tokens_clear(cf_blob_tokens *t)
{
    for (size_t i = 0; i < t->n_keys; i++)
        cf_pkey_free(t->keys[i].key);
    t->n_keys = 0;
}

/* Replaces the key set; called with the lock held. */
static bool cf_tokens_refresh_locked(cf_blob_tokens *t, int64_t now)
{
    t->fetched_at = now;
    json_t *jwks = NULL;
    CF_GUARD(cf_tokens_fetch_jwks(t, &jwks));
    json_t *keys = json_object_get(jwks, "keys");
    size_t i;
    json_t *jwk;
    cf_tokens_clear(t);
    json_array_foreach(keys, i, jwk)
    {
        const char *kid = json_string_value(json_object_get(jwk, "kid"));
        cf_pkey *key = NULL;
        if (!kid || strlen(kid) >= sizeof t->keys[0].kid || t->n_keys == CF_TOKENS_MAX_KEYS ||
            !cf_pkey_from_jwk(jwk, false, &key))
            continue;
        snprintf(t->keys[t->n_keys].kid, sizeof t->keys[0].kid, "%s", kid);
        t->keys[t->n_keys++].key = key;
    }
    json_decref(jwks);
    CF_ENSURE(t->n_keys > 0, CF_ERR_IO, "the vault published no usable signing key");
    return true;
}

bool cf_blob_tokens_open(const char *vault_url, const char *ca_file, const char *tenant_id,
                         cf_blob_tokens **out)
{
    cf_blob_tokens *t = calloc(1, sizeof *t);
    CF_ENSURE_ALLOC(t);
    pthread_mutex_init(&t->lock, NULL);
    size_t n = strlen(vault_url);
    while (n && vault_url[n - 1] == '/')
        n--;
    int a = snprintf(t->jwks_url, sizeof t->jwks_url, "%.*s/%s/discovery/v2.0/keys", (int)n,
                     vault_url, tenant_id);
    int b = snprintf(t->issuer, sizeof t->issuer, "%.*s/%s/v2.0", (int)n, vault_url, tenant_id);
    int c = snprintf(t->authority, sizeof t->authority, "%.*s/%s/oauth2/authorize", (int)n,
                     vault_url, tenant_id);
    int d = snprintf(t->ca_file, sizeof t->ca_file, "%s", ca_file);
    if (a >= (int)sizeof t->jwks_url || b >= (int)sizeof t->issuer ||
        c >= (int)sizeof t->authority || d >= (int)sizeof t->ca_file) {
        free(t);
        CF_BAIL(CF_ERR_BAD_INPUT, "vault URL too long");
    }
    pthread_mutex_lock(&t->lock);
    if (!cf_tokens_refresh_locked(t, (int64_t)time(NULL)))
        cf_log(CF_LOG_WARN, NULL, "bearer tokens: %s; retrying when a token arrives",
               cf_error_detail());
    pthread_mutex_unlock(&t->lock);
    *out = t;
    return true;
}

void cf_blob_tokens_close(cf_blob_tokens *t)
{
    if (!t)
        return;
    cf_tokens_clear(t);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

const char *cf_blob_tokens_authority(const cf_blob_tokens *t)
{
    return t->authority;
}

/* A copy of the key named kid (refreshing once if unknown), or NULL. */
static cf_pkey *cf_tokens_key(cf_blob_tokens *t, const char *kid, int64_t now)
{
    cf_pkey *found = NULL;
    pthread_mutex_lock(&t->lock);
    for (int attempt = 0; attempt < 2 && !found; attempt++) {
        for (size_t i = 0; i < t->n_keys && !found; i++)
            if (strcmp(t->keys[i].kid, kid) == 0 && !cf_pkey_dup(t->keys[i].key, &found))
                found = NULL;
        if (found || now - t->fetched_at < CF_TOKENS_REFRESH_SECONDS ||
            !cf_tokens_refresh_locked(t, now))
            break;
    }
    pthread_mutex_unlock(&t->lock);
    return found;
}

/* The app roles (token_roles.h) the "roles" claim names, as bits. */
static unsigned cf_tokens_app_roles(json_t *claims)
{
    json_t *roles = json_object_get(claims, "roles"), *role;
    unsigned bits = 0;
    size_t i;
    json_array_foreach(roles, i, role)
    {
        const char *name = json_string_value(role);
        if (name && strcmp(name, CF_TOKEN_ROLE_METRICS) == 0)
            bits |= CF_APP_ROLE_METRICS;
        else if (name && strcmp(name, CF_TOKEN_ROLE_STORAGE_ADMIN) == 0)
            bits |= CF_APP_ROLE_STORAGE_ADMIN;
    }
    return bits;
}

static bool cf_tokens_claims_ok(const cf_blob_tokens *t, json_t *claims, int64_t now, char oid[40])
{
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    const char *who = json_string_value(json_object_get(claims, "oid"));
    json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
    CF_ENSURE(iss && strcmp(iss, t->issuer) == 0, CF_ERR_UNAUTHORIZED, "Issuer validation failed.");
    size_t alen = aud ? strlen(aud) : 0;
    if (alen && aud[alen - 1] == '/')
        alen--;
    CF_ENSURE(aud && alen == strlen(CF_STORAGE_AUDIENCE) &&
                  strncmp(aud, CF_STORAGE_AUDIENCE, alen) == 0,
              CF_ERR_UNAUTHORIZED, "Audience validation failed.");
    CF_ENSURE(json_is_integer(exp) && now < json_integer_value(exp), CF_ERR_UNAUTHORIZED,
              "Lifetime validation failed. The token is expired.");
    CF_ENSURE(!nbf || (json_is_integer(nbf) && now >= json_integer_value(nbf)), CF_ERR_UNAUTHORIZED,
              "Lifetime validation failed. The token is not yet valid.");
    CF_ENSURE(who && strlen(who) < 40, CF_ERR_UNAUTHORIZED, "The token names no principal.");
    snprintf(oid, 40, "%s", who);
    return true;
}

bool cf_blob_tokens_verify(cf_blob_tokens *t, const char *token, char oid[40], unsigned *app_roles)
{
    int64_t now = (int64_t)time(NULL);
    cf_jwt jwt;
    cf_jwt_init(&jwt);
    bool ok = cf_jwt_parse(CF_SLICE_STR(token), &jwt);
    const char *kid = ok ? json_string_value(json_object_get(jwt.header, "kid")) : NULL;
    cf_pkey *key = kid ? cf_tokens_key(t, kid, now) : NULL;
    if (ok && !key) {
        CF_RAISE(CF_ERR_UNAUTHORIZED, "Signature validation failed: unknown signing key.");
        ok = false;
    }
    if (ok && !cf_jwt_verify_rs256(key, kid, &jwt)) {
        CF_RAISE(CF_ERR_UNAUTHORIZED, "Signature validation failed.");
        ok = false;
    }
    ok = ok && cf_tokens_claims_ok(t, jwt.claims, now, oid);
    *app_roles = ok ? cf_tokens_app_roles(jwt.claims) : 0;
    cf_pkey_free(key);
    cf_jwt_free(&jwt);
    return ok;
}
