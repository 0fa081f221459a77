/*
 * Identity: the vault is its own token issuer, shaped like Microsoft Entra
 * ID so that the official credentials work unchanged.
 *
 *   GET  /{tenant}/v2.0/.well-known/openid-configuration   discovery
 *   GET  /{tenant}/discovery/v2.0/keys                     signing keys
 *   POST /{tenant}/oauth2/v2.0/token                       client credentials
 *   GET  /msi/token                                        managed identity
 *                                                          (App Service shape)
 *
 * Access tokens are RS256 JWTs signed by a key sealed in the store.  Every
 * data-plane request proves one: signature, issuer, audience, expiry and
 * not-before are checked, and the subject must still be a known principal.
 * Client secrets and identity headers are stored only as salted
 * HMAC-SHA256 hashes: they are 256-bit random values, so a slow password
 * hash would add nothing but latency.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "encoding.h"
#include "envelope.h"
#include "form.h"
#include "ids.h"
#include "jwt.h"
#include "log.h"
#include "metrics.h"
#include "rbac.h"
#include "secmem.h"
#include "throttle.h"
#include "oauth.h"
#include "vault.h"

#define CF_SECRET_BYTES 32
#define CF_SALT_BYTES 16
#define CF_STORAGE_RESOURCE "https://storage.azure.com"

/* ---- the signing key ---- */

static bool cf_token_key_aad(const cf_vault *vault, cf_buf *aad)
{
    CF_GUARD(cf_buf_append_str(aad, "coffer-vault/v1 token-signing-key "));
    return cf_buf_append_str(aad, vault->vault_id);
}

static bool cf_token_key_create(cf_vault *vault, cf_buf *der)
{
    cf_buf sealed, aad;
    cf_buf_init(&sealed, 16384);
    cf_buf_init(&aad, 256);
    bool ok = cf_pkey_generate_rsa(2048, 65537, &vault->token_key) &&
              cf_pkey_private_der(vault->token_key, der) && cf_token_key_aad(vault, &aad) &&
              cf_envelope_seal(cf_slice_of(vault->data_key, CF_DATA_KEY_LEN), cf_buf_slice(&aad),
                               cf_buf_slice(der), &sealed) &&
              cf_store_meta_put(vault->store, "token_key", cf_buf_slice(&sealed));
    cf_buf_free(&sealed);
    cf_buf_free(&aad);
    return ok;
}

static bool cf_token_key_load(cf_vault *vault)
{
    cf_buf sealed, aad, der;
    cf_buf_init(&sealed, 16384);
    cf_buf_init(&aad, 256);
    cf_buf_init_secret(&der, 16384);
    bool ok;
    if (cf_store_meta_get(vault->store, "token_key", &sealed)) {
        ok = cf_token_key_aad(vault, &aad) &&
             cf_envelope_open(cf_slice_of(vault->data_key, CF_DATA_KEY_LEN), cf_buf_slice(&aad),
                              cf_buf_slice(&sealed), &der) &&
             cf_pkey_from_private_der(cf_buf_slice(&der), &vault->token_key);
    } else {
        ok = cf_error_code() == CF_ERR_NOT_FOUND && cf_token_key_create(vault, &der);
    }
    cf_buf_free(&sealed);
    cf_buf_free(&aad);
    cf_buf_free(&der);
    return ok;
}

/* kid = base64url of the first 16 bytes of SHA-256(SubjectPublicKeyInfo). */
static bool cf_token_kid(cf_vault *vault)
{
    cf_buf spki, kid;
    cf_buf_init(&spki, 4096);
    cf_buf_init(&kid, sizeof vault->token_kid - 1);
    uint8_t digest[32];
    bool ok = cf_pkey_public_der(vault->token_key, &spki) &&
              cf_hash_compute(CF_HASH_SHA256, cf_buf_slice(&spki), digest) &&
              cf_base64url_encode(cf_slice_of(digest, 16), &kid) && cf_buf_terminate(&kid);
    if (ok)
        snprintf(vault->token_kid, sizeof vault->token_kid, "%s", (const char *)kid.data);
    cf_buf_free(&spki);
    cf_buf_free(&kid);
    return ok;
}

bool cf_identity_init(cf_vault *vault)
{
    CF_GUARD(cf_token_key_load(vault));
    return cf_token_kid(vault);
}

/* ---- principals and credentials ---- */

static bool cf_secret_hash(cf_slice salt, cf_slice secret, uint8_t out[32])
{
    return cf_hmac_sha256(salt, secret, out);
}

/* A fresh credential: 256 random bits, base64url (43 characters). */
static bool cf_new_secret_text(cf_buf *text)
{
    uint8_t raw[CF_SECRET_BYTES];
    bool ok = cf_random_bytes(raw, sizeof raw) &&
              cf_base64url_encode(cf_slice_of(raw, sizeof raw), text) && cf_buf_terminate(text);
    cf_memzero(raw, sizeof raw);
    return ok;
}

bool cf_identity_new_credential(cf_vault *vault, const char *object_id, int64_t expires,
                                char *secret, size_t secret_len, int64_t *id)
{
    uint8_t salt[CF_SALT_BYTES], hash[32];
    cf_buf text;
    cf_buf_init_secret(&text, secret_len - 1);
    bool ok = cf_new_secret_text(&text) && cf_random_bytes(salt, sizeof salt) &&
              cf_secret_hash(cf_slice_of(salt, sizeof salt), cf_buf_slice(&text), hash) &&
              cf_store_credential_add(vault->store, object_id, cf_slice_of(salt, sizeof salt),
                                      cf_slice_of(hash, sizeof hash), expires, cf_vault_now(), id);
    if (ok)
        memcpy(secret, text.data, text.len + 1);
    cf_buf_free(&text);
    return ok;
}

bool cf_identity_create_principal(cf_vault *vault, const char *kind, const char *name,
                                  int64_t expires, cf_principal *out, char *secret,
                                  size_t secret_len, int64_t *credential_id)
{
    memset(out, 0, sizeof *out);
    snprintf(out->kind, sizeof out->kind, "%s", kind);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->created = cf_vault_now();
    CF_GUARD(cf_uuid_v4(out->object_id));
    CF_GUARD(cf_uuid_v4(out->client_id));
    return cf_store_principal_add(vault->store, out) &&
           cf_identity_new_credential(vault, out->object_id, expires, secret, secret_len,
                                      credential_id);
}

typedef struct {
    cf_slice secret;
    int64_t now;
    bool matched;
} cf_credential_check;

static bool cf_credential_matches(void *ctx, cf_slice salt, cf_slice hash, int64_t expires)
{
    cf_credential_check *c = ctx;
    uint8_t h[32];
    if (hash.len != sizeof h || (expires && expires <= c->now))
        return true;
    CF_GUARD(cf_secret_hash(salt, c->secret, h));
    if (cf_memeq_ct(h, hash.ptr, sizeof h))
        c->matched = true;
    return true;
}

/* Looks up a principal by client id and checks `secret` against its live
 * credentials.  Unknown clients and wrong secrets fail alike. */
static bool cf_check_client(cf_vault *vault, const char *client_id, cf_slice secret,
                            const char *kind, cf_principal *out)
{
    cf_credential_check check = {secret, cf_vault_now(), false};
    /* Unknown clients cost one HMAC too, so timing does not tell which
     * client ids exist. */
    uint8_t salt[CF_SALT_BYTES] = {0}, h[32];
    if (!cf_secret_hash(cf_slice_of(salt, sizeof salt), secret, h))
        return false;
    /* Only "no such client" is a wrong credential; a store that cannot be
     * reached fails as itself. */
    bool found = cf_store_principal_by_client(vault->store, client_id, out);
    CF_GUARD(found || cf_error_code() == CF_ERR_NOT_FOUND);
    if (found && strcmp(out->kind, kind) == 0)
        CF_GUARD(
            cf_store_credential_each(vault->store, out->object_id, cf_credential_matches, &check));
    CF_ENSURE(check.matched, CF_ERR_UNAUTHORIZED, "invalid client credentials");
    return true;
}

/* ---- tokens ---- */

static void cf_issuer(const cf_vault *vault, char *out, size_t len)
{
    snprintf(out, len, "%s/%s/v2.0", vault->url, vault->tenant_id);
}

/* An audience the issuer knows: this vault, or the storage service. */
static bool cf_known_resource(const cf_vault *vault, const char *resource, char *out, size_t len)
{
    size_t n = strlen(resource);
    while (n && resource[n - 1] == '/')
        n--;
    const char *known[] = {vault->resource, CF_STORAGE_RESOURCE};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        if (strlen(known[i]) == n && strncmp(known[i], resource, n) == 0) {
            snprintf(out, len, "%s", known[i]);
            return true;
        }
    }
    CF_BAIL(CF_ERR_BAD_INPUT, "the requested resource is not served by this issuer");
}

/* The app roles the principal holds (rbac.h) into the "roles" claim;
 * none, no claim. */
static bool cf_token_app_roles(cf_vault *vault, const char *oid, json_t *claims)
{
    size_t n;
    const cf_app_role *app = cf_app_roles(&n);
    json_t *roles = json_array();
    CF_ENSURE_ALLOC(roles);
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        bool held = false;
        if (cf_rbac_allowed(vault, oid, app[i].action, "/", &held) && held)
            ok = json_array_append_new(roles, json_string(app[i].claim)) == 0;
    }
    if (ok && json_array_size(roles))
        return json_object_set_new(claims, "roles", roles) == 0;
    json_decref(roles);
    return ok;
}

bool cf_identity_issue_token(cf_vault *vault, const cf_principal *p, const char *audience,
                             const char *sid, int lifetime, cf_buf *token, int64_t *expires_on)
{
    char iss[700];
    cf_issuer(vault, iss, sizeof iss);
    int64_t now = cf_vault_now();
    *expires_on = now + (lifetime ? lifetime : vault->token_lifetime);
    json_t *header =
        json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT", "kid", vault->token_kid);
    json_t *claims =
        json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "aud", audience, "iss",
                  iss, "iat", (json_int_t)now, "nbf", (json_int_t)now, "exp",
                  (json_int_t)*expires_on, "oid", p->object_id, "sub", p->object_id, "tid",
                  vault->tenant_id, "appid", p->client_id, "azp", p->client_id, "ver", "2.0");
    bool ok = header && claims;
    if (ok && sid)
        ok = json_object_set_new(claims, "sid", json_string(sid)) == 0;
    ok = ok && cf_token_app_roles(vault, p->object_id, claims);
    ok = ok && cf_jwt_sign_rs256(vault->token_key, header, claims, token);
    json_decref(header);
    json_decref(claims);
    CF_ENSURE(ok, cf_error_code() ? cf_error_code() : CF_ERR_NOMEM, "cannot issue a token");
    return true;
}

static bool cf_token_claims_valid(const cf_vault *vault, json_t *claims, const char **oid)
{
    char iss[700];
    cf_issuer(vault, iss, sizeof iss);
    int64_t now = cf_vault_now();
    json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    const char *tok_iss = json_string_value(json_object_get(claims, "iss"));
    *oid = json_string_value(json_object_get(claims, "oid"));
    CF_ENSURE(tok_iss && strcmp(tok_iss, iss) == 0, CF_ERR_UNAUTHORIZED,
              "The token was not issued by this vault's issuer.");
    CF_ENSURE(aud && strcmp(aud, vault->resource) == 0, CF_ERR_UNAUTHORIZED,
              "The token's audience is not this vault.");
    CF_ENSURE(json_is_integer(exp) && now < json_integer_value(exp), CF_ERR_UNAUTHORIZED,
              "The token has expired.");
    CF_ENSURE(json_is_integer(nbf) && now >= json_integer_value(nbf), CF_ERR_UNAUTHORIZED,
              "The token is not yet valid.");
    CF_ENSURE(*oid, CF_ERR_UNAUTHORIZED, "The token names no principal.");
    return true;
}

/* Tokens already verified, by SHA-256 of their text, so that a client's
 * repeated use of one token costs a hash instead of a parse and an RSA
 * verification.  Issuer, audience and signature never change for a given
 * text; expiry is checked again on every hit, and the principal is looked
 * up every time so that removing it takes effect at once. */
#define CF_TOKEN_CACHE_SLOTS 256

static struct {
    pthread_mutex_t lock;
    struct {
        uint8_t hash[32];
        int64_t exp;
        char oid[CF_UUID_LEN + 1];
        char sid[CF_UUID_LEN + 1]; /* a user's session, "" for a service's token */
        bool used;
    } slot[CF_TOKEN_CACHE_SLOTS];
} cf_token_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool cf_token_cache_find(const uint8_t hash[32], int64_t now, char oid[CF_UUID_LEN + 1],
                                char sid[CF_UUID_LEN + 1])
{
    size_t i = ((size_t)hash[0] << 8 | hash[1]) % CF_TOKEN_CACHE_SLOTS;
    bool found = false;
    pthread_mutex_lock(&cf_token_cache.lock);
    if (cf_token_cache.slot[i].used && cf_memeq_ct(cf_token_cache.slot[i].hash, hash, 32) &&
        now < cf_token_cache.slot[i].exp) {
        memcpy(oid, cf_token_cache.slot[i].oid, 37);
        memcpy(sid, cf_token_cache.slot[i].sid, 37);
        found = true;
    }
    pthread_mutex_unlock(&cf_token_cache.lock);
    return found;
}

static void cf_token_cache_add(const uint8_t hash[32], int64_t exp, const char *oid,
                               const char *sid)
{
    size_t i = ((size_t)hash[0] << 8 | hash[1]) % CF_TOKEN_CACHE_SLOTS;
    pthread_mutex_lock(&cf_token_cache.lock);
    memcpy(cf_token_cache.slot[i].hash, hash, 32);
    cf_token_cache.slot[i].exp = exp;
    snprintf(cf_token_cache.slot[i].oid, sizeof cf_token_cache.slot[i].oid, "%s", oid);
    snprintf(cf_token_cache.slot[i].sid, sizeof cf_token_cache.slot[i].sid, "%s", sid);
    cf_token_cache.slot[i].used = true;
    pthread_mutex_unlock(&cf_token_cache.lock);
}

static bool cf_token_verify_full(cf_vault *vault, cf_slice token, char oid[CF_UUID_LEN + 1],
                                 char sid[CF_UUID_LEN + 1], int64_t *exp)
{
    cf_jwt jwt;
    cf_jwt_init(&jwt);
    const char *claim_oid = NULL;
    bool ok = cf_jwt_parse(token, &jwt);
    if (ok && !cf_jwt_verify_rs256(vault->token_key, vault->token_kid, &jwt)) {
        cf_error_raise(CF_ERR_UNAUTHORIZED, __FILE__, __LINE__, "The token signature is invalid.");
        ok = false;
    }
    ok = ok && cf_token_claims_valid(vault, jwt.claims, &claim_oid);
    if (ok && strlen(claim_oid) > CF_UUID_LEN) {
        cf_error_raise(CF_ERR_UNAUTHORIZED, __FILE__, __LINE__, "The token names no principal.");
        ok = false;
    }
    const char *claim_sid = ok ? json_string_value(json_object_get(jwt.claims, "sid")) : NULL;
    if (ok && claim_sid && strlen(claim_sid) != CF_UUID_LEN) {
        cf_error_raise(CF_ERR_UNAUTHORIZED, __FILE__, __LINE__,
                       "The token's session is malformed.");
        ok = false;
    }
    if (ok) {
        snprintf(oid, 37, "%s", claim_oid);
        snprintf(sid, 37, "%s", claim_sid ? claim_sid : "");
        *exp = json_integer_value(json_object_get(jwt.claims, "exp"));
    }
    cf_jwt_free(&jwt);
    return ok;
}

bool cf_identity_verify_token(cf_vault *vault, cf_slice token, cf_principal *caller)
{
    CF_ENSURE(token.len <= CF_TOKEN_MAX, CF_ERR_UNAUTHORIZED, "The token is malformed.");
    uint8_t hash[32];
    char oid[CF_UUID_LEN + 1], sid[CF_UUID_LEN + 1];
    int64_t exp;
    CF_GUARD(cf_hash_compute(CF_HASH_SHA256, token, hash));
    bool hit = cf_token_cache_find(hash, cf_vault_now(), oid, sid);
    cf_metrics_cache("tokens", hit);
    if (!hit) {
        CF_GUARD(cf_token_verify_full(vault, token, oid, sid, &exp));
        cf_token_cache_add(hash, exp, oid, sid);
    }
    /* A user's token lives only as long as its session: signing out ends
     * it here at once. */
    if (sid[0])
        CF_GUARD(cf_sign_in_session_live(vault, sid));
    CF_ENSURE_FOUND(cf_store_principal_by_oid(vault->store, oid, caller), CF_ERR_UNAUTHORIZED,
                    "The token's principal is unknown.");
    return true;
}

bool cf_identity_authenticate(cf_vault *vault, const cf_http_request *req, cf_principal *caller)
{
    const char *auth = cf_http_header(req, "Authorization");
    CF_ENSURE(auth, CF_ERR_UNAUTHORIZED, "Request is missing a Bearer or PoP token.");
    CF_ENSURE(strncasecmp(auth, "Bearer ", 7) == 0, CF_ERR_UNAUTHORIZED,
              "Request is missing a Bearer or PoP token.");
    const char *token = auth + 7;
    while (*token == ' ')
        token++;
    return cf_identity_verify_token(vault, cf_slice_of(token, strlen(token)), caller);
}

/* ---- endpoints ---- */

bool cf_oauth_reply_json(cf_http_response *resp, unsigned status, json_t *body)
{
    cf_vault_call call = {.resp = resp};
    CF_ENSURE_ALLOC(body);
    return cf_vault_reply(&call, status, body);
}

/* OAuth errors use their own shape: {"error": ..., "error_description": ...}. */
bool cf_oauth_scope_resource(cf_vault *vault, const char *scope, char *resource, size_t len,
                             cf_http_response *resp)
{
    /* One resource per request, as "<resource>/.default" (other scopes a
     * client adds, like offline_access, ask for nothing more here). */
    char first[512];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(scope, " "), scope);
    size_t n = strlen(first);
    const char *suffix = "/.default";
    if (n <= strlen(suffix) || strcmp(first + n - strlen(suffix), suffix) != 0) {
        if (resp)
            cf_oauth_error(resp, 400, "invalid_scope", "The scope must be '<resource>/.default'.");
        return false;
    }
    first[n - strlen(suffix)] = 0;
    if (!cf_known_resource(vault, first, resource, len)) {
        if (resp)
            cf_oauth_error(resp, 400, "invalid_resource",
                           "The resource is not known to this issuer.");
        return false;
    }
    return true;
}

void cf_oauth_error(cf_http_response *resp, unsigned status, const char *error,
                    const char *description)
{
    cf_buf_clear(&resp->body);
    if (!cf_oauth_reply_json(
            resp, status,
            json_pack("{s:s, s:s}", "error", error, "error_description", description)))
        resp->status = 500;
}

/* The identity store cannot answer (PostgreSQL down): 503, logged, and not
 * counted as a failed sign-in. */
static void cf_oauth_unavailable(cf_http_request *req, cf_http_response *resp)
{
    cf_log(CF_LOG_ERROR, req->request_id, "token request: %s at %s: %s",
           cf_err_name(cf_error_code()), cf_error_where(), cf_error_detail());
    cf_oauth_error(resp, 503, "temporarily_unavailable",
                   "The identity store is unavailable. Try again later.");
}

/* Failed-credential throttling (throttle.h) around one client check: a
 * locked client id or address is refused with 429 and Retry-After before
 * its credential is looked at.  Returns false when refused. */
bool cf_sign_in_allowed(cf_vault *vault, cf_http_request *req, const char *client_id,
                        cf_http_response *resp)
{
    unsigned wait = cf_throttle_pair_wait(vault->throttle, client_id, req->client_addr);
    if (!wait)
        return true;
    char seconds[16], text[160];
    snprintf(seconds, sizeof seconds, "%u", wait);
    snprintf(text, sizeof text,
             "Too many failed sign-ins from this client or address; retry after %u seconds.", wait);
    cf_oauth_error(resp, 429, "temporarily_unavailable", text);
    if (!cf_http_add_header(resp, "Retry-After", seconds))
        resp->status = 500;
    cf_log(CF_LOG_WARN, req->request_id, "sign-in throttled for client %s from %s (%u s)",
           client_id, req->client_addr, wait);
    return false;
}

static void cf_sign_in_result(cf_vault *vault, cf_http_request *req, const char *client_id, bool ok)
{
    unsigned locked = cf_throttle_pair_record(vault->throttle, client_id, req->client_addr, ok);
    if (locked)
        cf_log(CF_LOG_WARN, req->request_id,
               "repeated failed sign-ins for client %s from %s: locked for %u s", client_id,
               req->client_addr, locked);
}

/* After a client check: a store that could not be asked is answered here
 * (503) and is no failed sign-in; any verdict is counted.  Returns whether
 * the caller still answers. */
bool cf_sign_in_counted(cf_vault *vault, cf_http_request *req, cf_http_response *resp,
                        const char *client_id, bool ok)
{
    if (!ok && cf_err_environmental(cf_error_code())) {
        cf_oauth_unavailable(req, resp);
        return false;
    }
    cf_sign_in_result(vault, req, client_id, ok);
    return true;
}

static bool cf_openid_configuration(cf_vault *vault, cf_http_response *resp)
{
    char iss[700], token[700], jwks[700], authz[700], logout[700];
    cf_issuer(vault, iss, sizeof iss);
    snprintf(token, sizeof token, "%s/%s/oauth2/v2.0/token", vault->url, vault->tenant_id);
    snprintf(jwks, sizeof jwks, "%s/%s/discovery/v2.0/keys", vault->url, vault->tenant_id);
    snprintf(authz, sizeof authz, "%s/%s/oauth2/v2.0/authorize", vault->url, vault->tenant_id);
    snprintf(logout, sizeof logout, "%s/%s/oauth2/v2.0/logout", vault->url, vault->tenant_id);
    return cf_oauth_reply_json(
        resp, 200,
        json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:[s,s], s:[s], s:[s], s:[s,s], s:[s,s,s], s:[s], "
            "s:s}",
            "issuer", iss, "token_endpoint", token, "jwks_uri", jwks, "authorization_endpoint",
            authz, "end_session_endpoint", logout, "response_types_supported", "code", "token",
            "subject_types_supported", "pairwise", "id_token_signing_alg_values_supported", "RS256",
            "token_endpoint_auth_methods_supported", "client_secret_post", "none",
            "grant_types_supported", "client_credentials", "authorization_code", "refresh_token",
            "code_challenge_methods_supported", "S256", "tenant_region_scope", "coffer"));
}

static bool cf_jwks(cf_vault *vault, cf_http_response *resp)
{
    json_t *jwk = json_object();
    CF_ENSURE_ALLOC(jwk);
    if (!cf_pkey_to_jwk_public(vault->token_key, jwk)) {
        json_decref(jwk);
        return false;
    }
    json_object_set_new(jwk, "kid", json_string(vault->token_kid));
    json_object_set_new(jwk, "use", json_string("sig"));
    json_object_set_new(jwk, "alg", json_string("RS256"));
    return cf_oauth_reply_json(resp, 200, json_pack("{s:[o]}", "keys", jwk));
}

bool cf_oauth_form_string(cf_slice form, const char *name, char *out, size_t len)
{
    cf_buf v;
    cf_buf_init(&v, len - 1);
    bool ok = cf_form_get(form, name, &v) && cf_buf_terminate(&v);
    if (ok)
        memcpy(out, v.data, v.len + 1);
    cf_buf_free(&v);
    return ok;
}

static void cf_token_endpoint(cf_vault *vault, cf_http_request *req, cf_http_response *resp)
{
    cf_slice form = cf_buf_slice(&req->body);
    char grant[64], client_id[64], scope[512], resource[256];
    if (!cf_oauth_form_string(form, "grant_type", grant, sizeof grant)) {
        cf_oauth_error(resp, 400, "invalid_request", "grant_type is required.");
        return;
    }
    if (strcmp(grant, "authorization_code") == 0 || strcmp(grant, "refresh_token") == 0) {
        cf_sign_in_token(vault, req, resp, grant);
        return;
    }
    if (strcmp(grant, "client_credentials") != 0) {
        cf_oauth_error(resp, 400, "unsupported_grant_type",
                       "Supported grants: client_credentials, authorization_code, refresh_token.");
        return;
    }
    if (!cf_oauth_form_string(form, "client_id", client_id, sizeof client_id) ||
        !cf_oauth_form_string(form, "scope", scope, sizeof scope)) {
        cf_oauth_error(resp, 400, "invalid_request", "client_id and scope are required.");
        return;
    }
    if (!cf_oauth_scope_resource(vault, scope, resource, sizeof resource, resp))
        return;
    if (!cf_sign_in_allowed(vault, req, client_id, resp))
        return;
    cf_buf secret, token;
    cf_buf_init_secret(&secret, 256);
    cf_buf_init(&token, CF_TOKEN_MAX);
    cf_principal p;
    int64_t expires_on;
    cf_error_clear();
    bool ok = cf_form_get(form, "client_secret", &secret) &&
              cf_check_client(vault, client_id, cf_buf_slice(&secret), "sp", &p);
    if (!cf_sign_in_counted(vault, req, resp, client_id, ok)) {
        /* answered: the store could not be asked */
    } else if (!ok) {
        cf_log(CF_LOG_WARN, req->request_id, "token request refused for client %s", client_id);
        cf_oauth_error(resp, 401, "invalid_client", "Invalid client credentials.");
    } else if (!cf_identity_issue_token(vault, &p, resource, NULL, 0, &token, &expires_on) ||
               !cf_oauth_reply_json(resp, 200,
                                    json_pack("{s:s, s:i, s:i, s:s}", "token_type", "Bearer",
                                              "expires_in", vault->token_lifetime, "ext_expires_in",
                                              vault->token_lifetime, "access_token",
                                              (const char *)token.data))) {
        cf_oauth_error(resp, 500, "server_error", "The token could not be issued.");
    }
    cf_buf_free(&secret);
    cf_buf_free(&token);
}

/* The managed identity endpoint: the caller proves it runs where the
 * identity lives by presenting the identity header's secret. */
static void cf_msi_endpoint(cf_vault *vault, cf_http_request *req, cf_http_response *resp)
{
    const char *header = cf_http_header(req, "X-IDENTITY-HEADER");
    const char *resource_in = cf_http_query(req, "resource");
    const char *client_id = cf_http_query(req, "client_id");
    char resource[256], default_client[64] = "";
    if (!resource_in || !cf_known_resource(vault, resource_in, resource, sizeof resource)) {
        cf_oauth_error(resp, 400, "invalid_resource", "The resource is not known to this issuer.");
        return;
    }
    if (!client_id) {
        cf_buf v;
        cf_buf_init(&v, sizeof default_client - 1);
        if (cf_store_meta_get(vault->store, "default_mi_client_id", &v) && cf_buf_terminate(&v))
            memcpy(default_client, v.data, v.len + 1);
        cf_buf_free(&v);
        client_id = default_client;
    }
    if (!cf_sign_in_allowed(vault, req, client_id, resp))
        return;
    cf_principal p;
    cf_buf token;
    cf_buf_init(&token, CF_TOKEN_MAX);
    int64_t expires_on;
    char expires_text[32];
    cf_error_clear();
    bool ok = header && cf_check_client(vault, client_id, CF_SLICE_STR(header), "mi", &p);
    if (!cf_sign_in_counted(vault, req, resp, client_id, ok)) {
        /* answered: the store could not be asked */
    } else if (!ok) {
        cf_oauth_error(resp, 401, "invalid_client", "The identity header is not valid.");
    } else if (!cf_identity_issue_token(vault, &p, resource, NULL, 0, &token, &expires_on) ||
               snprintf(expires_text, sizeof expires_text, "%lld", (long long)expires_on) <= 0 ||
               !cf_oauth_reply_json(resp, 200,
                                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "access_token",
                                              (const char *)token.data, "expires_on", expires_text,
                                              "resource", resource, "token_type", "Bearer",
                                              "client_id", p.client_id))) {
        cf_oauth_error(resp, 500, "server_error", "The token could not be issued.");
    }
    cf_buf_free(&token);
}

bool cf_identity_route(cf_vault *vault, cf_http_request *req, cf_http_response *resp)
{
    const char *path = req->path;
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (get && strcmp(path, "/msi/token") == 0) {
        req->operation = "GET /msi/token";
        cf_msi_endpoint(vault, req, resp);
        return true;
    }
    size_t tlen = strlen(vault->tenant_id);
    if (path[0] != '/' || strncmp(path + 1, vault->tenant_id, tlen) != 0 || path[1 + tlen] != '/')
        return false;
    const char *rest = path + 1 + tlen;
    req->operation = "identity";
    if (get && (strcmp(rest, "/v2.0/.well-known/openid-configuration") == 0 ||
                strcmp(rest, "/.well-known/openid-configuration") == 0)) {
        if (!cf_openid_configuration(vault, resp))
            cf_oauth_error(resp, 500, "server_error", "internal error");
    } else if (get && strcmp(rest, "/discovery/v2.0/keys") == 0) {
        if (!cf_jwks(vault, resp))
            cf_oauth_error(resp, 500, "server_error", "internal error");
    } else if (cf_sign_in_route(vault, req, resp, rest)) {
        /* answered: the sign-in page, its form, or sign-out */
    } else if (post && strcmp(rest, "/oauth2/v2.0/token") == 0) {
        req->operation = "POST /oauth2/v2.0/token";
        cf_token_endpoint(vault, req, resp);
    } else {
        cf_oauth_error(resp, 404, "not_found", "Unknown identity endpoint.");
    }
    return true;
}
