/*
 * A client of coffer-vault: coffer-blob's, for customer-managed keys, and
 * the SQLite library's, for TDE protectors and column keys.
 *
 * The blob service has its own identity in the vault, read from
 * --vault-bootstrap FILE (shaped like the vault's bootstrap.json):
 *   vault_url, ca_cert, tenant_id, authority_host, client_id, client_secret
 * (a service principal: client credentials at
 * {authority_host}/{tenant_id}/oauth2/v2.0/token), or identity_endpoint and
 * identity_header (a managed identity), and optionally resource (default
 * https://vault.azure.net).  It needs only get, wrapKey and unwrapKey on
 * the keys it protects (Key Vault Crypto Service Encryption User).
 *
 * Tokens are kept until a minute before they expire and fetched again after
 * a 401.  A token is only ever sent to the configured vault: key URIs and
 * the kids the vault returns must lie under vault_url.
 *
 * Every failure is raised as CF_ERR_FORBIDDEN with the Azure code that says
 * which (see docs/blob-keys.md):
 *   KeyVaultEncryptionKeyNotFound  the key is deleted, disabled or expired
 *   KeyVaultAuthenticationFailure  the vault refused our identity or role
 *   KeyVaultVaultNotFound          the vault did not answer
 */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "https_fetch.h"
#include "vault_client.h"
#include "crypto.h"
#include "encoding.h"
#include "form.h"
#include "fsutil.h"
#include "json_secure.h"
#include "log.h"
#include "secmem.h"

#define CF_VAULT_API "api-version=7.4"
#define CF_VAULT_REPLY_MAX (64u * 1024)
#define CF_VAULT_TOKEN_MAX (16u * 1024)
#define CF_VAULT_BOOTSTRAP_MAX (64u * 1024)

struct cf_vault_client {
    pthread_mutex_t lock; /* the token */
    char url[512];        /* no trailing '/' */
    char ca_file[PATH_MAX];
    char token_url[1024]; /* token endpoint, or the managed-identity endpoint */
    char resource[256];
    char client_id[128];
    bool managed;
    cf_buf secret; /* client secret or identity header */
    cf_buf token;  /* "Authorization: Bearer ..." */
    int64_t token_expires;
};

/* ---- configuration ---- */

static bool cf_vault_text(json_t *doc, const char *name, char *out, size_t len, bool required)
{
    CF_GUARD(cf_json_copy_text(doc, name, out, len, CF_ERR_BAD_INPUT, "--vault-bootstrap"));
    CF_ENSUREF(!required || out[0], CF_ERR_BAD_INPUT, "--vault-bootstrap: %s is missing", name);
    return true;
}

static bool cf_vault_configure(cf_vault_client *v, json_t *doc)
{
    char tenant[128], authority[512], endpoint[512];
    CF_GUARD(cf_vault_text(doc, "vault_url", v->url, sizeof v->url, true));
    CF_GUARD(cf_vault_text(doc, "ca_cert", v->ca_file, sizeof v->ca_file, false));
    CF_GUARD(cf_vault_text(doc, "resource", v->resource, sizeof v->resource, false));
    CF_GUARD(cf_vault_text(doc, "identity_endpoint", endpoint, sizeof endpoint, false));
    size_t n = strlen(v->url);
    while (n && v->url[n - 1] == '/')
        v->url[--n] = 0;
    CF_ENSURE(strncmp(v->url, "https://", 8) == 0, CF_ERR_BAD_INPUT,
              "--vault-bootstrap: vault_url must be https");
    if (!v->resource[0])
        snprintf(v->resource, sizeof v->resource, "https://vault.azure.net");
    const char *secret = json_string_value(json_object_get(doc, "client_secret"));
    if (endpoint[0] && !secret) {
        v->managed = true;
        secret = json_string_value(json_object_get(doc, "identity_header"));
        CF_ENSURE(secret && secret[0], CF_ERR_BAD_INPUT,
                  "--vault-bootstrap: identity_header is missing");
        CF_GUARD(
            cf_vault_text(doc, "identity_client_id", v->client_id, sizeof v->client_id, false));
        CF_ENSURE(snprintf(v->token_url, sizeof v->token_url, "%s", endpoint) <
                      (int)sizeof v->token_url,
                  CF_ERR_BAD_INPUT, "--vault-bootstrap: identity_endpoint is too long");
    } else {
        CF_ENSURE(secret && secret[0], CF_ERR_BAD_INPUT,
                  "--vault-bootstrap: client_secret (or identity_endpoint and identity_header) "
                  "is missing");
        CF_GUARD(cf_vault_text(doc, "tenant_id", tenant, sizeof tenant, true));
        CF_GUARD(cf_vault_text(doc, "authority_host", authority, sizeof authority, true));
        CF_GUARD(cf_vault_text(doc, "client_id", v->client_id, sizeof v->client_id, true));
        size_t a = strlen(authority);
        while (a && authority[a - 1] == '/')
            authority[--a] = 0;
        CF_ENSURE(snprintf(v->token_url, sizeof v->token_url, "%s/%s/oauth2/v2.0/token", authority,
                           tenant) < (int)sizeof v->token_url,
                  CF_ERR_BAD_INPUT, "--vault-bootstrap: authority_host is too long");
    }
    CF_ENSURE(strncmp(v->token_url, "https://", 8) == 0, CF_ERR_BAD_INPUT,
              "--vault-bootstrap: the token endpoint must be https");
    return cf_buf_append_str(&v->secret, secret) && cf_buf_terminate(&v->secret);
}

bool cf_vault_client_open(const char *path, cf_vault_client **out)
{
    struct stat st;
    CF_ENSUREF(stat(path, &st) == 0, CF_ERR_IO, "--vault-bootstrap: cannot read %s", path);
    if (st.st_mode & 077)
        cf_log(CF_LOG_WARN, NULL, "%s holds a credential but is readable by others (chmod 600)",
               path);
    cf_vault_client *v = calloc(1, sizeof *v);
    CF_ENSURE_ALLOC(v);
    pthread_mutex_init(&v->lock, NULL);
    cf_buf_init_secret(&v->secret, 4096);
    cf_buf_init_secret(&v->token, CF_VAULT_TOKEN_MAX);
    cf_buf text;
    cf_buf_init_secret(&text, CF_VAULT_BOOTSTRAP_MAX);
    bool ok = cf_read_file(path, CF_VAULT_BOOTSTRAP_MAX, &text);
    json_t *doc = ok ? json_loadb((const char *)text.data, text.len, 0, NULL) : NULL;
    cf_buf_free(&text);
    if (ok && !json_is_object(doc)) {
        CF_RAISE(CF_ERR_BAD_INPUT, "--vault-bootstrap: not a JSON object");
        ok = false;
    }
    ok = ok && cf_vault_configure(v, doc);
    cf_json_wipe_strings(doc); /* the client secret */
    json_decref(doc);
    if (!ok) {
        cf_vault_client_close(v);
        return false;
    }
    *out = v;
    return true;
}

void cf_vault_client_close(cf_vault_client *v)
{
    if (!v)
        return;
    cf_buf_free(&v->secret);
    cf_buf_free(&v->token);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

const char *cf_vault_client_url(const cf_vault_client *v)
{
    return v->url;
}

/* ---- errors ---- */

#define CF_VAULT_FAIL(reason, ...) cf_vault_fail(reason, __FILE__, __LINE__, __VA_ARGS__)

static bool cf_vault_fail(const char *reason, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool cf_vault_fail(const char *reason, const char *file, int line, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    cf_error_raise_reason(CF_ERR_FORBIDDEN, reason, file, line, detail);
    return false;
}

static bool cf_vault_unreachable(const cf_vault_client *v, const char *what)
{
    cf_log(CF_LOG_WARN, NULL, "coffer-vault at %s cannot be reached (%s): %s", v->url, what,
           cf_error_detail());
    return CF_VAULT_FAIL("KeyVaultVaultNotFound",
                         "coffer-vault, which holds the key, cannot be reached.");
}

/* A non-2xx reply from the vault, as the Azure error that says which.  The
 * vault's own message (which names our identity) goes to the log only. */
static bool cf_vault_refused(long status, const cf_buf *reply, const char *what)
{
    json_t *doc = json_loadb((const char *)reply->data, reply->len, 0, NULL);
    json_t *err = json_object_get(doc, "error");
    const char *message = json_string_value(json_object_get(err, "message"));
    const char *inner =
        json_string_value(json_object_get(json_object_get(err, "innererror"), "code"));
    cf_log(CF_LOG_WARN, NULL, "coffer-vault refused %s (HTTP %ld): %.300s", what, status,
           message ? message : "no message");
    bool rbac = status == 403 && inner && strcmp(inner, "ForbiddenByRbac") == 0;
    json_decref(doc);
    if (status == 401 || rbac)
        return CF_VAULT_FAIL("KeyVaultAuthenticationFailure",
                             "coffer-vault denied this identity access to the key (HTTP "
                             "%ld): its role on the key is missing.",
                             status);
    if (status == 404)
        return CF_VAULT_FAIL("KeyVaultEncryptionKeyNotFound",
                             "The key was not found in coffer-vault (deleted?).");
    if (status == 403 || status == 400)
        return CF_VAULT_FAIL("KeyVaultEncryptionKeyNotFound",
                             "coffer-vault refused %s: the key is disabled, expired or does not "
                             "permit it (HTTP %ld).",
                             what, status);
    return CF_VAULT_FAIL("KeyVaultVaultNotFound", "coffer-vault failed %s (HTTP %ld).", what,
                         status);
}

/* ---- tokens ---- */

static bool cf_vault_fetch_token(cf_vault_client *v, int64_t now)
{
    cf_buf form, reply, url;
    cf_buf_init_secret(&form, 8192);
    cf_buf_init_secret(&reply, CF_VAULT_REPLY_MAX);
    cf_buf_init_secret(&url, 2048);
    long status = 0;
    bool ok;
    if (v->managed) {
        char header[4200];
        snprintf(header, sizeof header, "X-IDENTITY-HEADER: %s", (const char *)v->secret.data);
        const char *headers[] = {header, NULL};
        ok = cf_buf_append_str(&url, v->token_url) && cf_buf_append_u8(&url, '?') &&
             cf_form_append(&form, "api-version", "2019-08-01") &&
             cf_form_append(&form, "resource", v->resource) &&
             (!v->client_id[0] || cf_form_append(&form, "client_id", v->client_id)) &&
             cf_buf_append_slice(&url, cf_buf_slice(&form)) && cf_buf_terminate(&url);
        cf_https_req req = {.method = "GET",
                            .url = (const char *)url.data,
                            .ca_file = v->ca_file,
                            .headers = headers};
        ok = ok && cf_https_fetch(&req, &status, &reply);
        cf_memzero(header, sizeof header);
    } else {
        char scope[300];
        snprintf(scope, sizeof scope, "%s/.default", v->resource);
        ok = cf_form_append(&form, "grant_type", "client_credentials") &&
             cf_form_append(&form, "client_id", v->client_id) &&
             cf_form_append(&form, "client_secret", (const char *)v->secret.data) &&
             cf_form_append(&form, "scope", scope);
        const char *headers[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
        cf_https_req req = {.method = "POST",
                            .url = v->token_url,
                            .ca_file = v->ca_file,
                            .headers = headers,
                            .body = cf_buf_slice(&form)};
        ok = ok && cf_https_fetch(&req, &status, &reply);
    }
    cf_buf_free(&form);
    cf_buf_free(&url);
    if (!ok) {
        cf_buf_free(&reply);
        return cf_vault_unreachable(v, "token endpoint");
    }
    json_t *doc = status == 200 ? json_loadb((const char *)reply.data, reply.len, 0, NULL) : NULL;
    const char *token = json_string_value(json_object_get(doc, "access_token"));
    json_t *in = json_object_get(doc, "expires_in"), *on = json_object_get(doc, "expires_on");
    int64_t expires = json_is_integer(in)   ? now + json_integer_value(in)
                      : json_is_integer(on) ? json_integer_value(on)
                      : json_is_string(on)  ? strtoll(json_string_value(on), NULL, 10)
                                            : now + 300;
    if (status != 200 || !token) {
        cf_json_wipe_strings(doc);
        json_decref(doc);
        CF_VAULT_FAIL("KeyVaultAuthenticationFailure",
                      "coffer-vault did not issue the blob service a token (HTTP %ld): check "
                      "--vault-bootstrap's credential",
                      status);
        cf_buf_free(&reply);
        return false;
    }
    cf_buf_clear(&v->token);
    ok = cf_buf_append_str(&v->token, "Authorization: Bearer ") &&
         cf_buf_append_str(&v->token, token) && cf_buf_terminate(&v->token);
    v->token_expires = expires;
    cf_json_wipe_strings(doc);
    json_decref(doc);
    cf_buf_free(&reply);
    return ok;
}

/* ---- the keys API ---- */

/* Whether `url` lies under the configured vault's /keys/. */
static bool cf_vault_owns(const cf_vault_client *v, const char *url)
{
    size_t n = strlen(v->url);
    /* Scheme and host compare without case: column-key paths are stored
     * lowercased, as SQL Server's drivers write them. */
    return strncasecmp(url, v->url, n) == 0 && strncmp(url + n, "/keys/", 6) == 0 &&
           !strpbrk(url + n, "?#%\\ \t\r\n") && !strstr(url + n, "/..");
}

/* One call with the bearer token (fetched, and fetched again after a
 * 401); `body` NULL for GET.  *status and reply as the vault answered. */
static bool cf_vault_call(cf_vault_client *v, const char *url, json_t *body, long *status,
                          cf_buf *reply)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    CF_ENSURE(!body || text, CF_ERR_NOMEM, NULL);
    bool ok = true;
    for (int attempt = 0; ok && attempt < 2; attempt++) {
        int64_t now = (int64_t)time(NULL);
        pthread_mutex_lock(&v->lock);
        if (!v->token.len || now > v->token_expires - 60)
            ok = cf_vault_fetch_token(v, now);
        char auth[CF_VAULT_TOKEN_MAX];
        if (ok)
            snprintf(auth, sizeof auth, "%s", (const char *)v->token.data);
        pthread_mutex_unlock(&v->lock);
        if (!ok)
            break;
        const char *headers[] = {auth, "Content-Type: application/json", NULL};
        cf_https_req req = {.method = body ? "POST" : "GET",
                            .url = url,
                            .ca_file = v->ca_file,
                            .headers = headers,
                            .body = CF_SLICE_STR(text ? text : "")};
        ok = cf_https_fetch(&req, status, reply);
        cf_memzero(auth, sizeof auth);
        if (!ok) {
            ok = cf_vault_unreachable(v, "keys API");
            break;
        }
        if (*status != 401)
            break;
        pthread_mutex_lock(&v->lock);
        cf_buf_clear(&v->token);
        pthread_mutex_unlock(&v->lock);
    }
    cf_json_free_text(text);
    return ok;
}

bool cf_vault_client_get_key(cf_vault_client *v, const char *uri, cf_vault_client_key *out)
{
    return cf_vault_client_get_key_public(v, uri, out, NULL);
}

bool cf_vault_client_get_key_public(cf_vault_client *v, const char *uri, cf_vault_client_key *out,
                                    cf_pkey **pub)
{
    CF_ENSURE(cf_vault_owns(v, uri), CF_ERR_BAD_INPUT,
              "the key URI must name a key of the configured coffer-vault");
    char url[CF_VAULT_KEY_URI_MAX + 64];
    CF_ENSURE(snprintf(url, sizeof url, "%s?" CF_VAULT_API, uri) < (int)sizeof url,
              CF_ERR_BAD_INPUT, "key URI too long");
    cf_buf reply;
    cf_buf_init(&reply, CF_VAULT_REPLY_MAX);
    long status = 0;
    bool ok = cf_vault_call(v, url, NULL, &status, &reply);
    if (ok && status != 200)
        ok = cf_vault_refused(status, &reply, "get");
    json_t *doc = ok ? json_loadb((const char *)reply.data, reply.len, 0, NULL) : NULL;
    cf_buf_free(&reply);
    json_t *key = json_object_get(doc, "key"), *attrs = json_object_get(doc, "attributes");
    const char *kid = json_string_value(json_object_get(key, "kid"));
    const char *kty = json_string_value(json_object_get(key, "kty"));
    json_t *exp = json_object_get(attrs, "exp");
    if (ok && (!kid || !kty || strlen(kid) > CF_VAULT_KEY_URI_MAX ||
               strlen(kty) >= sizeof out->kty || !cf_vault_owns(v, kid))) {
        CF_RAISE_REASON(CF_ERR_FORBIDDEN, "KeyVaultVaultNotFound",
                        "coffer-vault's answer for the key is malformed");
        ok = false;
    }
    if (ok && pub && !cf_pkey_from_jwk(key, false, pub)) {
        CF_RAISE_REASON(CF_ERR_FORBIDDEN, "KeyVaultVaultNotFound",
                        "coffer-vault's answer has no usable public key");
        ok = false;
    }
    if (ok) {
        memset(out, 0, sizeof *out);
        snprintf(out->kid, sizeof out->kid, "%s", kid);
        snprintf(out->kty, sizeof out->kty, "%s", kty);
        out->enabled = json_is_true(json_object_get(attrs, "enabled")) &&
                       (!json_is_integer(exp) || json_integer_value(exp) > (json_int_t)time(NULL));
    }
    json_decref(doc);
    return ok;
}

/* The wrap algorithm for a key type: RSA-OAEP-256, or A256KW for AES keys. */
static const char *cf_vault_wrap_alg(const char *kty)
{
    if (strcmp(kty, "RSA") == 0 || strcmp(kty, "RSA-HSM") == 0)
        return "RSA-OAEP-256";
    if (strcmp(kty, "oct") == 0 || strcmp(kty, "oct-HSM") == 0)
        return "A256KW";
    return NULL;
}

bool cf_vault_client_key_usable(const cf_vault_client_key *k)
{
    CF_ENSURE(cf_vault_wrap_alg(k->kty), CF_ERR_BAD_INPUT,
              "a customer-managed key must be an RSA, RSA-HSM, oct or oct-HSM key");
    CF_ENSURE_REASON(k->enabled, CF_ERR_FORBIDDEN, "KeyVaultEncryptionKeyNotFound",
                     "The key is disabled or expired in coffer-vault.");
    return true;
}

/* POST {kid}/{op} {"alg","value"}; the reply's value decoded into `out`.
 * `alg` NULL: the key type's (cf_vault_wrap_alg). */
static bool cf_vault_key_op(cf_vault_client *v, const cf_vault_client_key *k, const char *op,
                            const char *alg, cf_slice in, cf_buf *out)
{
    if (!alg)
        alg = cf_vault_wrap_alg(k->kty);
    CF_ENSURE(alg && cf_vault_owns(v, k->kid), CF_ERR_BAD_INPUT, "not a usable vault key");
    char url[CF_VAULT_KEY_URI_MAX + 64];
    CF_ENSURE(snprintf(url, sizeof url, "%s/%s?" CF_VAULT_API, k->kid, op) < (int)sizeof url,
              CF_ERR_BAD_INPUT, "key URI too long");
    cf_buf b64, reply;
    cf_buf_init_secret(&b64, 4096);
    cf_buf_init_secret(&reply, CF_VAULT_REPLY_MAX);
    bool ok = cf_base64url_encode(in, &b64) && cf_buf_terminate(&b64);
    json_t *body = ok ? json_pack("{s:s, s:s}", "alg", alg, "value", (const char *)b64.data) : NULL;
    long status = 0;
    ok = body && cf_vault_call(v, url, body, &status, &reply);
    cf_json_wipe_strings(body); /* a key to wrap */
    json_decref(body);
    cf_buf_free(&b64);
    char what[64];
    snprintf(what, sizeof what, "%s", strcmp(op, "wrapkey") == 0 ? "wrapKey" : "unwrapKey");
    if (ok && status != 200)
        ok = cf_vault_refused(status, &reply, what);
    json_t *doc = ok ? json_loadb((const char *)reply.data, reply.len, 0, NULL) : NULL;
    cf_buf_free(&reply);
    const char *value = json_string_value(json_object_get(doc, "value"));
    if (ok && !(value && cf_base64url_decode(CF_SLICE_STR(value), out))) {
        CF_RAISE_REASON(CF_ERR_FORBIDDEN, "KeyVaultVaultNotFound",
                        "coffer-vault's answer to a key operation is malformed");
        ok = false;
    }
    cf_json_wipe_strings(doc); /* an unwrapped key */
    json_decref(doc);
    return ok;
}

bool cf_vault_client_wrap(cf_vault_client *v, const cf_vault_client_key *k, cf_slice key,
                          cf_buf *wrapped)
{
    return cf_vault_key_op(v, k, "wrapkey", NULL, key, wrapped);
}

bool cf_vault_client_unwrap(cf_vault_client *v, const cf_vault_client_key *k, cf_slice wrapped,
                            cf_buf *key)
{
    return cf_vault_key_op(v, k, "unwrapkey", NULL, wrapped, key);
}

bool cf_vault_client_unwrap_alg(cf_vault_client *v, const cf_vault_client_key *k, const char *alg,
                                cf_slice wrapped, cf_buf *key)
{
    return cf_vault_key_op(v, k, "unwrapkey", alg, wrapped, key);
}
