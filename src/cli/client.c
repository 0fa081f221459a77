/*
 * The vault client: HTTPS over libcurl plus client-credentials auth.
 *
 * Auth follows what the Azure SDKs do.  When the tenant or the authority
 * host is not configured, an unauthenticated GET /keys draws the vault's 401
 * challenge, `Bearer authorization="<authority>/<tenant>", resource="<aud>"`,
 * and the missing parts are taken from it.  A discovered authority must be
 * https on the vault's own origin (Coffer's vault is its own token issuer):
 * the client secret is about to be sent there, and a challenge is not a
 * strong enough reason to send it anywhere else.  AZURE_AUTHORITY_HOST
 * lifts that restriction explicitly.  The token comes from
 * POST {authority}/{tenant}/oauth2/v2.0/token (grant_type=client_credentials,
 * scope={resource}/.default).
 *
 * Transport rules (https.c, shared with the storage client): https only
 * (also for redirects, which are not followed anyway), peer and host
 * verification always on, the CA file from the settings, every reply
 * capped at CF_CLI_REPLY_MAX; here, a whole exchange within 120 s.  A nextLink is followed
 * only when it points at the vault's own origin, so the bearer token never
 * leaves for a host the user did not name.
 *
 * Secrets: the client secret, the form that carries it, the token, the
 * Authorization header and every reply body (decrypt returns plaintext)
 * live in secret buffers, wiped on release; jansson allocates through a
 * wiping allocator.  libcurl keeps its own copies of the request headers
 * (wiped here before they are freed) and of the wire buffers (not
 * reachable from outside libcurl; they are not wiped).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "cli.h"
#include "form.h"
#include "https.h"
#include "json_secure.h"
#include "secmem.h"

#define CF_API_VERSION "2025-07-01"
#define CF_TOKEN_MAX 16384
#define CF_CHALLENGE_MAX 4096
#define CF_URL_MAX 4096

struct cf_cli_client {
    CURL *curl;
    cf_cli_conn conn;
    char origin[512]; /* https://host[:port] of the vault */
    cf_buf token;     /* access token, secret */
};

void cf_cli_json_secure(void)
{
    cf_json_use_wiping_alloc();
}

/* ---- one HTTP exchange ---- */

typedef struct {
    const char *method;
    const char *url;
    const cf_buf *body;       /* NULL: no body */
    const char *content_type; /* for the body */
    bool auth;                /* send the bearer token */
    cf_buf *reply;            /* secret buffer, capped */
    cf_buf *challenge;        /* WWW-Authenticate value, or NULL */
    long status;
} cf_xfer;

static size_t cf_on_header(char *p, size_t size, size_t n, void *ctx)
{
    cf_buf *b = ctx;
    size_t len = size * n;
    static const char name[] = "www-authenticate:";
    if (b && len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        cf_slice v = cf_slice_of(p + sizeof name - 1, len - (sizeof name - 1));
        while (v.len && (v.ptr[0] == ' ' || v.ptr[0] == '\t'))
            v = cf_slice_of(v.ptr + 1, v.len - 1);
        while (v.len && (v.ptr[v.len - 1] == '\r' || v.ptr[v.len - 1] == '\n'))
            v.len--;
        cf_buf_clear(b);
        if (!cf_buf_append_slice(b, v) || !cf_buf_terminate(b))
            cf_buf_clear(b);
    }
    return len;
}

static bool cf_headers_build(cf_cli_client *c, const cf_xfer *x, struct curl_slist **list)
{
    CF_GUARD(cf_cli_https_header_add(list, "Accept: application/json"));
    CF_GUARD(cf_cli_https_header_add(list, "Expect:"));
    if (x->body && x->content_type) {
        char ct[128];
        snprintf(ct, sizeof ct, "Content-Type: %s", x->content_type);
        CF_GUARD(cf_cli_https_header_add(list, ct));
    } else {
        CF_GUARD(cf_cli_https_header_add(list, "Content-Type:"));
    }
    if (!x->auth)
        return true;
    cf_buf line;
    cf_buf_init_secret(&line, CF_TOKEN_MAX + 64);
    bool ok = cf_buf_append_str(&line, "Authorization: Bearer ") &&
              cf_buf_append_slice(&line, cf_buf_slice(&c->token)) && cf_buf_terminate(&line) &&
              cf_cli_https_header_add(list, (const char *)line.data);
    cf_buf_free(&line);
    return ok;
}

/* The vault's own part of the set-up: a whole exchange within 120 s, the
 * reply and the challenge header captured, the method and its body. */
static bool cf_xfer_setup(cf_cli_client *c, cf_xfer *x, struct curl_slist *headers, char *errbuf)
{
    CURL *h = c->curl;
    CF_GUARD(cf_cli_https_setup(h, x->url, headers, c->conn.ca_cert, errbuf));
    bool ok = CF_CURL_SET(h, CURLOPT_TIMEOUT, 120L) &&
              CF_CURL_SET(h, CURLOPT_WRITEFUNCTION, cf_cli_https_write_buf) &&
              CF_CURL_SET(h, CURLOPT_WRITEDATA, x->reply) &&
              CF_CURL_SET(h, CURLOPT_HEADERFUNCTION, cf_on_header) &&
              CF_CURL_SET(h, CURLOPT_HEADERDATA, x->challenge) &&
              CF_CURL_SET(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CF_CLI_REPLY_MAX);
    if (ok && strcmp(x->method, "GET") == 0)
        ok = CF_CURL_SET(h, CURLOPT_HTTPGET, 1L);
    else if (ok && strcmp(x->method, "POST") != 0)
        ok = CF_CURL_SET(h, CURLOPT_CUSTOMREQUEST, x->method);
    if (ok && (x->body || strcmp(x->method, "POST") == 0)) {
        /* Not copied by curl: the body stays in our (secret) buffer. */
        const char *data = x->body && x->body->len ? (const char *)x->body->data : "";
        ok = CF_CURL_SET(h, CURLOPT_POSTFIELDS, data) &&
             CF_CURL_SET(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(x->body ? x->body->len : 0));
    }
    CF_ENSURE(ok, CF_ERR_INTERNAL, "cannot configure libcurl");
    return true;
}

static bool cf_xfer_run(cf_cli_client *c, cf_xfer *x)
{
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    cf_buf_clear(x->reply);
    curl_easy_reset(c->curl);
    if (!cf_headers_build(c, x, &headers) || !cf_xfer_setup(c, x, headers, errbuf)) {
        cf_cli_https_release(c->curl, headers);
        return false;
    }
    CURLcode rc = cf_cli_https_perform(c->curl, headers);
    if (rc != CURLE_OK) {
        char failed[sizeof c->origin + 16];
        snprintf(failed, sizeof failed, "cannot reach %s", c->origin);
        cf_cli_https_raise(rc, errbuf, "the vault's reply", failed);
        return false;
    }
    CF_ENSURE(curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &x->status) == CURLE_OK, CF_ERR_IO,
              "no HTTP status");
    return true;
}

/* ---- error replies ---- */

/* Prints "coffer: CODE: message (HTTP n)" from a Key Vault error body
 * ({"error":{"code","message"}}) or an OAuth one ({"error","error_description"}). */
static bool cf_report_error(long status, const cf_buf *reply)
{
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)reply->data, reply->len, 0, &jerr);
    json_t *err = json_object_get(doc, "error");
    const char *code = NULL, *msg = NULL;
    if (json_is_object(err)) {
        code = json_string_value(json_object_get(err, "code"));
        msg = json_string_value(json_object_get(err, "message"));
    } else if (json_is_string(err)) {
        code = json_string_value(err);
        msg = json_string_value(json_object_get(doc, "error_description"));
    }
    cf_cli_https_print_error(status, code, msg, "the vault returned an error");
    json_decref(doc);
    CF_BAIL(cf_cli_https_status_err(status), NULL);
}

static bool cf_parse_reply(const cf_buf *reply, json_t **out)
{
    *out = NULL;
    if (reply->len == 0)
        return true;
    json_error_t jerr;
    *out = json_loadb((const char *)reply->data, reply->len, JSON_REJECT_DUPLICATES, &jerr);
    if (*out && json_is_object(*out))
        return true;
    json_decref(*out);
    *out = NULL;
    CF_BAIL(CF_ERR_IO, "the vault's reply is not a JSON object");
}

/* ---- auth ---- */

/* Value of `name="..."` in a challenge; false when absent. */
static bool cf_challenge_param(const char *value, const char *name, char *out, size_t len)
{
    size_t n = strlen(name);
    for (const char *p = strstr(value, name); p; p = strstr(p + 1, name)) {
        bool starts = p == value || p[-1] == ' ' || p[-1] == ',';
        if (!starts || strncmp(p + n, "=\"", 2) != 0)
            continue;
        const char *v = p + n + 2;
        const char *end = strchr(v, '"');
        if (!end || (size_t)(end - v) >= len)
            return false;
        memcpy(out, v, (size_t)(end - v));
        out[end - v] = 0;
        return true;
    }
    return false;
}

static bool cf_discover(cf_cli_client *c)
{
    char url[CF_URL_MAX];
    snprintf(url, sizeof url, "%s/keys?api-version=" CF_API_VERSION, c->conn.vault_url);
    cf_buf reply, challenge;
    cf_buf_init_secret(&reply, CF_CLI_REPLY_MAX);
    cf_buf_init(&challenge, CF_CHALLENGE_MAX);
    cf_xfer x = {.method = "GET", .url = url, .reply = &reply, .challenge = &challenge};
    bool ok = cf_xfer_run(c, &x);
    char authz[512] = "", resource[512] = "";
    if (ok &&
        (x.status != 401 || challenge.len == 0 ||
         (!cf_challenge_param((const char *)challenge.data, "authorization", authz, sizeof authz) &&
          !cf_challenge_param((const char *)challenge.data, "authorization_uri", authz,
                              sizeof authz)))) {
        CF_RAISE(CF_ERR_UNAUTHORIZED, "the vault sent no usable authentication challenge; "
                                      "set the tenant and AZURE_AUTHORITY_HOST");
        ok = false;
    }
    if (ok)
        cf_challenge_param((const char *)challenge.data, "resource", resource, sizeof resource);
    cf_buf_free(&reply);
    cf_buf_free(&challenge);
    CF_GUARD(ok);

    /* authz is "<authority>/<tenant>". */
    char *slash = strrchr(authz, '/');
    CF_ENSURE(strncmp(authz, "https://", 8) == 0 && slash && slash > authz + 8 && slash[1],
              CF_ERR_UNAUTHORIZED, "the vault's challenge names no https authority");
    *slash = 0;
    if (!c->conn.authority[0]) {
        size_t n = strlen(c->origin);
        CF_ENSURE(strncmp(authz, c->origin, n) == 0 && (authz[n] == 0 || authz[n] == '/'),
                  CF_ERR_UNAUTHORIZED,
                  "the vault's challenge names an authority on another origin; "
                  "set AZURE_AUTHORITY_HOST to trust it");
        snprintf(c->conn.authority, sizeof c->conn.authority, "%s", authz);
    }
    if (!c->conn.tenant[0]) {
        for (const char *p = slash + 1; *p; p++)
            CF_ENSURE((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                          (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '.',
                      CF_ERR_UNAUTHORIZED, "the vault's challenge names an invalid tenant");
        snprintf(c->conn.tenant, sizeof c->conn.tenant, "%s", slash + 1);
    }
    if (!c->conn.resource[0] && resource[0])
        snprintf(c->conn.resource, sizeof c->conn.resource, "%s", resource);
    return true;
}

/* Stores reply.access_token, which must be a plain header-safe string. */
static bool cf_token_store(cf_cli_client *c, const cf_buf *reply)
{
    json_t *doc = NULL;
    CF_GUARD(cf_parse_reply(reply, &doc));
    const char *tok = json_string_value(json_object_get(doc, "access_token"));
    bool ok = tok && *tok;
    for (const char *p = tok; ok && *p; p++)
        ok = *p > ' ' && *p < 0x7f;
    ok = ok && cf_buf_append_str(&c->token, tok);
    json_decref(doc);
    CF_ENSURE(ok, CF_ERR_UNAUTHORIZED, "the token endpoint returned no usable access token");
    return true;
}

static bool cf_token_fetch(cf_cli_client *c)
{
    cf_buf_clear(&c->token);
    if (!c->conn.authority[0] || !c->conn.tenant[0])
        CF_GUARD(cf_discover(c));
    if (!c->conn.resource[0])
        snprintf(c->conn.resource, sizeof c->conn.resource, "https://vault.azure.net");
    char url[CF_URL_MAX], scope[600];
    size_t rl = strlen(c->conn.resource);
    snprintf(scope, sizeof scope, "%.*s/.default",
             (int)(rl && c->conn.resource[rl - 1] == '/' ? rl - 1 : rl), c->conn.resource);
    int n = snprintf(url, sizeof url, "%s/%s/oauth2/v2.0/token", c->conn.authority, c->conn.tenant);
    CF_ENSURE(n > 0 && (size_t)n < sizeof url, CF_ERR_BAD_INPUT, "authority URL too long");

    cf_buf form, reply;
    cf_buf_init_secret(&form, 16384);
    cf_buf_init_secret(&reply, CF_CLI_REPLY_MAX);
    cf_xfer x = {.method = "POST",
                 .url = url,
                 .body = &form,
                 .content_type = "application/x-www-form-urlencoded",
                 .reply = &reply};
    bool ok = cf_form_append(&form, "grant_type", "client_credentials") &&
              cf_form_append(&form, "client_id", c->conn.client_id) &&
              cf_form_append(&form, "client_secret", (const char *)c->conn.secret.data) &&
              cf_form_append(&form, "scope", scope) && cf_xfer_run(c, &x);
    if (ok && x.status != 200) {
        fprintf(stderr, "coffer: cannot get a token from %s\n", c->conn.authority);
        ok = cf_report_error(x.status, &reply);
    }
    ok = ok && cf_token_store(c, &reply);
    cf_buf_free(&form);
    cf_buf_free(&reply);
    return ok;
}

/* ---- public ---- */

bool cf_cli_client_open(cf_cli_conn *conn, cf_cli_client **out)
{
    cf_cli_client *c = calloc(1, sizeof *c);
    CF_ENSURE_ALLOC(c);
    c->conn = *conn; /* the secret buffer moves here */
    cf_buf_init_secret(&conn->secret, conn->secret.max);
    cf_buf_init_secret(&c->token, CF_TOKEN_MAX);
    cf_cli_https_origin(c->conn.vault_url, c->origin, sizeof c->origin);
    if (!cf_cli_https_handle(&c->curl)) {
        cf_cli_client_close(c);
        return false;
    }
    *out = c;
    return true;
}

void cf_cli_client_close(cf_cli_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    cf_buf_free(&c->token);
    cf_cli_conn_free(&c->conn);
    cf_memzero(c, sizeof *c);
    free(c);
}

static bool cf_build_url(cf_cli_client *c, const char *path, char *url, size_t len)
{
    int n;
    if (strncmp(path, "https://", 8) == 0) {
        size_t o = strlen(c->origin);
        CF_ENSURE(strncmp(path, c->origin, o) == 0 && path[o] == '/', CF_ERR_IO,
                  "the vault returned a link to another origin; not following it");
        n = snprintf(url, len, "%s", path);
    } else {
        CF_ENSURE(path[0] == '/', CF_ERR_INTERNAL, "relative path");
        n = snprintf(url, len, "%s%s", c->conn.vault_url, path);
    }
    CF_ENSURE(n > 0 && (size_t)n < len, CF_ERR_BAD_INPUT, "URL too long");
    if (strstr(url, "api-version=") || strstr(url, "api%2Dversion="))
        return true;
    size_t used = (size_t)n;
    n = snprintf(url + used, len - used, "%capi-version=" CF_API_VERSION,
                 strchr(url, '?') ? '&' : '?');
    CF_ENSURE(n > 0 && (size_t)n < len - used, CF_ERR_BAD_INPUT, "URL too long");
    return true;
}

bool cf_cli_call(cf_cli_client *c, const char *method, const char *path, json_t *body,
                 json_t **reply_out)
{
    char url[CF_URL_MAX];
    *reply_out = NULL;
    CF_GUARD(cf_build_url(c, path, url, sizeof url));

    cf_buf req, reply;
    cf_buf_init_secret(&req, CF_CLI_REPLY_MAX);
    cf_buf_init_secret(&reply, CF_CLI_REPLY_MAX);
    bool ok = true;
    if (body) {
        size_t need = json_dumpb(body, NULL, 0, JSON_COMPACT);
        uint8_t *p;
        ok = need > 0 && cf_buf_extend(&req, need, &p) &&
             json_dumpb(body, (char *)p, need, JSON_COMPACT) == need;
    }
    cf_xfer x = {.method = method,
                 .url = url,
                 .body = body ? &req : NULL,
                 .content_type = "application/json",
                 .auth = true,
                 .reply = &reply};
    /* A token that the vault refuses is fetched again once (it may have
     * expired during a long listing); a fresh one that is refused is final. */
    for (int attempt = 0; ok && attempt < 2; attempt++) {
        bool fresh = c->token.len == 0;
        ok = (c->token.len || cf_token_fetch(c)) && cf_xfer_run(c, &x);
        if (!ok || x.status != 401 || fresh)
            break;
        cf_buf_clear(&c->token);
    }
    if (ok && (x.status < 200 || x.status > 299))
        ok = cf_report_error(x.status, &reply);
    ok = ok && cf_parse_reply(&reply, reply_out);
    cf_buf_free(&req);
    cf_buf_free(&reply);
    return ok;
}

json_t *cf_cli_op_body(const char *alg, const cf_buf *value)
{
    json_t *body =
        json_pack("{s:s, s:s%}", "alg", alg, "value", (const char *)value->data, value->len);
    if (!body)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    return body;
}
