/*
 * Signing people in (docs/users.md): OAuth 2.0's authorization-code flow
 * with PKCE (RFC 7636, S256 only) for one public client, the console.
 *
 *   GET  /{tenant}/oauth2/v2.0/authorize   the sign-in page (or, with a live
 *        session cookie, straight back to the console with a code)
 *   POST /{tenant}/oauth2/v2.0/authorize   the page's form: name, password,
 *        one-time code; on success a session, its cookie, and a code
 *   POST /{tenant}/oauth2/v2.0/token       grant_type=authorization_code
 *        (code + code_verifier) or refresh_token (rotated at each use)
 *   POST /{tenant}/oauth2/v2.0/logout      refresh_token: ends the session
 *
 * Sessions live in the store (several front ends share them), keyed by a
 * public id (the "sid" claim of their tokens); the cookie and the refresh
 * token are random 256-bit values kept there only as SHA-256 hashes.  A
 * token carrying a sid is refused by the vault once its session ends; the
 * blob service cannot tell, so people's tokens live 10 minutes.
 *
 * Cookies are __Host- prefixed, Secure, HttpOnly, SameSite=Strict.  The
 * form carries a token that must equal its cookie's (double submit), so no
 * other site can sign a browser in to an account of its choosing.  Pages
 * are plain HTML without any script or inline style, under a
 * Content-Security-Policy that allows neither.  Passwords, codes, cookies
 * and tokens are never logged.
 */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "encoding.h"
#include "form.h"
#include "ids.h"
#include "log.h"
#include "oauth.h"
#include "secmem.h"
#include "throttle.h"
#include "users.h"

#define CF_SESSION_COOKIE "__Host-coffer-session"
#define CF_LOGIN_COOKIE "__Host-coffer-login"
#define CF_LOGIN_COOKIE_SECONDS 600
#define CF_SECRET_B64 44 /* 32 random bytes, base64url, and a NUL */

static const char cf_page_csp[] = "default-src 'none'; style-src 'self'; img-src 'self'; "
                                  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/* ---- small pieces ---- */

static bool cf_random_secret(char out[CF_SECRET_B64])
{
    uint8_t raw[32];
    cf_buf b64;
    cf_buf_init(&b64, CF_SECRET_B64);
    bool ok = cf_random_bytes(raw, sizeof raw) &&
              cf_base64url_encode(cf_slice_of(raw, sizeof raw), &b64) && cf_buf_terminate(&b64);
    if (ok)
        memcpy(out, b64.data, b64.len + 1);
    cf_memzero(raw, sizeof raw);
    cf_buf_free(&b64);
    return ok;
}

static bool cf_hash_hex(const char *text, char out[CF_HASH_HEX_LEN + 1])
{
    uint8_t h[32];
    cf_buf hex;
    cf_buf_init(&hex, CF_HASH_HEX_LEN + 1);
    bool ok = cf_hash_compute(CF_HASH_SHA256, CF_SLICE_STR(text), h) &&
              cf_hex_encode(cf_slice_of(h, sizeof h), &hex) && cf_buf_terminate(&hex);
    if (ok)
        memcpy(out, hex.data, hex.len + 1);
    cf_buf_free(&hex);
    return ok;
}

/* The value of cookie `name`, at most len - 1 bytes; false when absent. */
static bool cf_cookie(const cf_http_request *req, const char *name, char *out, size_t len)
{
    const char *h = cf_http_header(req, "Cookie");
    size_t n = strlen(name);
    for (const char *p = h; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t item = strcspn(p, ";");
        if (item > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            size_t v = item - n - 1;
            if (v == 0 || v >= len)
                return false;
            memcpy(out, p + n + 1, v);
            out[v] = 0;
            return true;
        }
        p += item;
    }
    return false;
}

static bool cf_set_cookie(cf_http_response *resp, const char *name, const char *value, int max_age)
{
    char line[256];
    snprintf(line, sizeof line, "%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=%d",
             name, value, max_age);
    return cf_http_add_header(resp, "Set-Cookie", line);
}

static bool cf_html_append(cf_buf *out, const char *s)
{
    for (; *s; s++) {
        const char *e = *s == '<'    ? "&lt;"
                        : *s == '>'  ? "&gt;"
                        : *s == '&'  ? "&amp;"
                        : *s == '"'  ? "&quot;"
                        : *s == '\'' ? "&#39;"
                                     : NULL;
        CF_GUARD(e ? cf_buf_append_str(out, e) : cf_buf_append_u8(out, (uint8_t)*s));
    }
    return true;
}

/* ---- the authorize request ---- */

typedef struct {
    char client_id[64], redirect_uri[512], response_type[16], challenge[129], method[16];
    char state[513], scope[512], prompt[16];
    char resource[256]; /* the audience the scope names */
} cf_authz;

static void cf_param(const cf_http_request *req, bool post, const char *name, char *out, size_t len)
{
    out[0] = 0;
    if (post) {
        if (!cf_oauth_form_string(cf_buf_slice(&req->body), name, out, len))
            out[0] = 0;
        return;
    }
    const char *v = cf_http_query(req, name);
    if (v && strlen(v) < len)
        snprintf(out, len, "%s", v);
}

static bool cf_pkce_chars(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    return n >= min && n <= max &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") == n;
}

static bool cf_console_redirect(const cf_vault *vault, const char *uri)
{
    char want[700];
    snprintf(want, sizeof want, "%s/console/", vault->url);
    return strcmp(uri, want) == 0;
}

/* The request's parameters, validated; `problem` says what is wrong.  The
 * redirect URI is checked first and exactly: an error never sends the
 * browser anywhere. */
static bool cf_authz_read(cf_vault *vault, const cf_http_request *req, bool post, cf_authz *a,
                          const char **problem)
{
    cf_param(req, post, "client_id", a->client_id, sizeof a->client_id);
    cf_param(req, post, "redirect_uri", a->redirect_uri, sizeof a->redirect_uri);
    cf_param(req, post, "response_type", a->response_type, sizeof a->response_type);
    cf_param(req, post, "code_challenge", a->challenge, sizeof a->challenge);
    cf_param(req, post, "code_challenge_method", a->method, sizeof a->method);
    cf_param(req, post, "state", a->state, sizeof a->state);
    cf_param(req, post, "scope", a->scope, sizeof a->scope);
    cf_param(req, post, "prompt", a->prompt, sizeof a->prompt);
    *problem = strcmp(a->client_id, CF_CONSOLE_CLIENT_ID) != 0
                   ? "This sign-in page serves the Coffer console only (client_id)."
               : !cf_console_redirect(vault, a->redirect_uri)
                   ? "The redirect URI is not the console's."
               : strcmp(a->response_type, "code") != 0 ? "response_type must be code."
               : strcmp(a->method, "S256") != 0        ? "code_challenge_method must be S256."
               : !cf_pkce_chars(a->challenge, 43, 128) ? "The code challenge is malformed."
               : !cf_oauth_scope_resource(vault, a->scope, a->resource, sizeof a->resource, NULL)
                   ? "The scope names no resource of this vault."
                   : NULL;
    return *problem == NULL;
}

/* ---- pages ---- */

static void cf_page_start(cf_http_response *resp, unsigned status, const char *title)
{
    resp->status = status;
    resp->content_type = "text/html; charset=utf-8";
    cf_buf_clear(&resp->body);
    bool ok = cf_http_add_header(resp, "Content-Security-Policy", cf_page_csp) &&
              cf_http_add_header(resp, "X-Frame-Options", "DENY") &&
              cf_http_add_header(resp, "Referrer-Policy", "no-referrer") &&
              cf_buf_append_str(&resp->body, "<!doctype html>\n<html lang=\"en\"><head>"
                                             "<meta charset=\"utf-8\"><title>") &&
              cf_html_append(&resp->body, title) &&
              cf_buf_append_str(&resp->body,
                                "</title><meta name=\"viewport\" content=\"width=device-width\">"
                                "<link rel=\"stylesheet\" href=\"/console/sign-in.css\">"
                                "</head><body><main><h1>Coffer</h1>\n");
    if (!ok)
        resp->status = 500;
}

static void cf_page_end(cf_http_response *resp)
{
    if (!cf_buf_append_str(&resp->body, "</main></body></html>\n"))
        resp->status = 500;
}

static void cf_error_page(cf_http_response *resp, unsigned status, const char *message)
{
    cf_page_start(resp, status, "Sign-in error");
    if (!cf_buf_append_str(&resp->body, "<p class=\"error\" role=\"alert\">") ||
        !cf_html_append(&resp->body, message) || !cf_buf_append_str(&resp->body, "</p>"))
        resp->status = 500;
    cf_page_end(resp);
}

static bool cf_hidden(cf_buf *out, const char *name, const char *value)
{
    return cf_buf_append_str(out, "<input type=\"hidden\" name=\"") &&
           cf_buf_append_str(out, name) && cf_buf_append_str(out, "\" value=\"") &&
           cf_html_append(out, value) && cf_buf_append_str(out, "\">\n");
}

/* The form: the request's parameters carried along, the CSRF token that
 * must match its cookie, and the fields. */
static void cf_form_page(cf_http_response *resp, unsigned status, const cf_authz *a,
                         const char *csrf, const char *name, const char *message)
{
    cf_page_start(resp, status, "Sign in to Coffer");
    cf_buf *b = &resp->body;
    bool ok =
        (!message || (cf_buf_append_str(b, "<p class=\"error\" role=\"alert\">") &&
                      cf_html_append(b, message) && cf_buf_append_str(b, "</p>\n"))) &&
        cf_buf_append_str(b, "<form method=\"post\" autocomplete=\"on\">\n") &&
        cf_hidden(b, "client_id", a->client_id) && cf_hidden(b, "redirect_uri", a->redirect_uri) &&
        cf_hidden(b, "response_type", a->response_type) &&
        cf_hidden(b, "code_challenge", a->challenge) &&
        cf_hidden(b, "code_challenge_method", a->method) && cf_hidden(b, "state", a->state) &&
        cf_hidden(b, "scope", a->scope) && cf_hidden(b, "csrf", csrf) &&
        cf_buf_append_str(b, "<label>User name <input name=\"username\" id=\"username\" "
                             "autocomplete=\"username\" required maxlength=\"64\" value=\"") &&
        cf_html_append(b, name ? name : "") &&
        cf_buf_append_str(
            b, "\"></label>\n<label>Password <input name=\"password\" id=\"password\" "
               "type=\"password\" autocomplete=\"current-password\" required "
               "maxlength=\"1024\"></label>\n<label>One-time code (if enrolled) <input "
               "name=\"otp\" id=\"otp\" autocomplete=\"one-time-code\" inputmode=\"numeric\" "
               "pattern=\"[0-9]{6}\" maxlength=\"6\"></label>\n<button type=\"submit\" "
               "id=\"sign-in\">Sign in</button>\n</form>\n");
    if (!ok)
        resp->status = 500;
    cf_page_end(resp);
}

/* ---- sessions and codes ---- */

static bool cf_session_of_cookie(cf_vault *vault, const cf_http_request *req, cf_session *s)
{
    char cookie[CF_SECRET_B64], hash[CF_HASH_HEX_LEN + 1];
    if (!cf_cookie(req, CF_SESSION_COOKIE, cookie, sizeof cookie))
        return false;
    bool ok = cf_hash_hex(cookie, hash) &&
              cf_store_session_find(vault->store, "cookie_hash", hash, s) && !s->revoked &&
              s->expires > cf_vault_now();
    cf_memzero(cookie, sizeof cookie);
    return ok;
}

bool cf_sign_in_session_live(cf_vault *vault, const char *sid)
{
    cf_session s;
    bool found = cf_store_session_find(vault->store, "sid", sid, &s);
    CF_ENSURE(found || cf_error_code() == CF_ERR_NOT_FOUND, cf_error_code(),
              "The session cannot be checked.");
    CF_ENSURE(found && !s.revoked && s.expires > cf_vault_now(), CF_ERR_UNAUTHORIZED,
              "The session has ended: sign in again.");
    return true;
}

/* A new session for `p`: its cookie set on `resp`. */
static bool cf_session_start(cf_vault *vault, const cf_principal *p, cf_http_response *resp,
                             cf_session *s)
{
    char cookie[CF_SECRET_B64], refresh[CF_SECRET_B64];
    char cookie_hash[CF_HASH_HEX_LEN + 1], refresh_hash[CF_HASH_HEX_LEN + 1];
    memset(s, 0, sizeof *s);
    s->created = cf_vault_now();
    s->expires = s->created + CF_SESSION_SECONDS;
    snprintf(s->principal_id, sizeof s->principal_id, "%s", p->object_id);
    /* The refresh token is made at each code exchange; this one is never
     * handed out. */
    bool ok = cf_uuid_v4(s->sid) && cf_random_secret(cookie) && cf_random_secret(refresh) &&
              cf_hash_hex(cookie, cookie_hash) && cf_hash_hex(refresh, refresh_hash) &&
              cf_store_session_add(vault->store, s, cookie_hash, refresh_hash) &&
              cf_set_cookie(resp, CF_SESSION_COOKIE, cookie, CF_SESSION_SECONDS);
    cf_memzero(cookie, sizeof cookie);
    cf_memzero(refresh, sizeof refresh);
    return ok;
}

/* A code for the session, and the redirect that carries it. */
static bool cf_code_redirect(cf_vault *vault, const cf_authz *a, const cf_session *s,
                             cf_http_response *resp)
{
    char code[CF_SECRET_B64], hash[CF_HASH_HEX_LEN + 1];
    cf_auth_code c = {.expires = cf_vault_now() + CF_AUTH_CODE_SECONDS};
    snprintf(c.sid, sizeof c.sid, "%s", s->sid);
    snprintf(c.principal_id, sizeof c.principal_id, "%s", s->principal_id);
    snprintf(c.client_id, sizeof c.client_id, "%s", a->client_id);
    snprintf(c.redirect_uri, sizeof c.redirect_uri, "%s", a->redirect_uri);
    snprintf(c.challenge, sizeof c.challenge, "%s", a->challenge);
    snprintf(c.resource, sizeof c.resource, "%s", a->resource);
    cf_buf location;
    cf_buf_init(&location, 2048);
    bool ok = cf_random_secret(code) && cf_hash_hex(code, hash) &&
              cf_store_code_add(vault->store, hash, &c, cf_vault_now()) &&
              cf_buf_append_str(&location, a->redirect_uri) &&
              cf_buf_append_str(&location, "?code=") && cf_buf_append_str(&location, code) &&
              (!a->state[0] || (cf_buf_append_str(&location, "&state=") &&
                                cf_percent_encode(&location, a->state, false))) &&
              cf_buf_terminate(&location) &&
              cf_http_add_header(resp, "Location", (const char *)location.data);
    cf_memzero(code, sizeof code);
    cf_buf_free(&location);
    CF_GUARD(ok);
    resp->status = 302;
    cf_buf_clear(&resp->body);
    return true;
}

/* ---- the endpoints ---- */

static void cf_authorize_get(cf_vault *vault, cf_http_request *req, cf_http_response *resp)
{
    cf_authz a;
    const char *problem;
    if (!cf_authz_read(vault, req, false, &a, &problem)) {
        cf_error_page(resp, 400, problem);
        return;
    }
    cf_session s;
    if (strcmp(a.prompt, "login") != 0 && cf_session_of_cookie(vault, req, &s)) {
        if (!cf_code_redirect(vault, &a, &s, resp))
            cf_error_page(resp, 500, "The sign-in could not be completed.");
        return;
    }
    char csrf[CF_SECRET_B64];
    if (!cf_random_secret(csrf)) {
        cf_error_page(resp, 500, "The sign-in page could not be made.");
        return;
    }
    cf_form_page(resp, 200, &a, csrf, NULL, NULL);
    if (!cf_set_cookie(resp, CF_LOGIN_COOKIE, csrf, CF_LOGIN_COOKIE_SECONDS))
        resp->status = 500;
}

static bool cf_csrf_ok(const cf_http_request *req, const char *form_csrf)
{
    char cookie[CF_SECRET_B64];
    bool ok = cf_cookie(req, CF_LOGIN_COOKIE, cookie, sizeof cookie) &&
              strlen(cookie) == strlen(form_csrf) && strlen(cookie) >= 32 &&
              cf_memeq_ct(cookie, form_csrf, strlen(cookie));
    cf_memzero(cookie, sizeof cookie);
    return ok;
}

static void cf_authorize_post(cf_vault *vault, cf_http_request *req, cf_http_response *resp)
{
    cf_authz a;
    const char *problem;
    if (!cf_authz_read(vault, req, true, &a, &problem)) {
        cf_error_page(resp, 400, problem);
        return;
    }
    char csrf[CF_SECRET_B64], name[CF_USER_NAME_MAX + 1], code[16];
    cf_param(req, true, "csrf", csrf, sizeof csrf);
    cf_param(req, true, "username", name, sizeof name);
    cf_param(req, true, "otp", code, sizeof code);
    if (!cf_csrf_ok(req, csrf)) {
        cf_error_page(resp, 400,
                      "The sign-in form has expired or did not come from this "
                      "page. Open the console again to sign in.");
        return;
    }
    unsigned wait = cf_throttle_pair_wait(vault->throttle, name, req->client_addr);
    if (wait) {
        char text[160];
        snprintf(text, sizeof text, "Too many failed sign-ins from here; try again in %u seconds.",
                 wait);
        cf_form_page(resp, 429, &a, csrf, name, text);
        return;
    }
    cf_buf password;
    cf_buf_init_secret(&password, CF_PASSWORD_MAX + 1);
    cf_principal p;
    cf_error_clear();
    bool ok = cf_form_get(cf_buf_slice(&req->body), "password", &password) &&
              cf_users_sign_in(vault, name, cf_buf_slice(&password), code, &p);
    cf_buf_free(&password);
    cf_memzero(code, sizeof code);
    if (!ok && cf_err_environmental(cf_error_code())) {
        cf_log(CF_LOG_ERROR, req->request_id, "sign-in: %s", cf_error_detail());
        cf_error_page(resp, 503, "The vault cannot check sign-ins right now; try again later.");
        return;
    }
    unsigned locked = cf_throttle_pair_record(vault->throttle, name, req->client_addr, ok);
    if (!ok) {
        cf_log(CF_LOG_WARN, req->request_id, "sign-in refused from %s%s", req->client_addr,
               locked ? " (now throttled)" : "");
        char why[300];
        snprintf(why, sizeof why, "%s",
                 cf_error_code() == CF_ERR_FORBIDDEN || cf_error_code() == CF_ERR_UNAUTHORIZED
                     ? cf_error_detail()
                     : "Wrong user name, password or one-time code.");
        cf_form_page(resp, cf_error_code() == CF_ERR_FORBIDDEN ? 403 : 401, &a, csrf, name, why);
        return;
    }
    cf_session s;
    if (!cf_session_start(vault, &p, resp, &s) || !cf_code_redirect(vault, &a, &s, resp) ||
        !cf_set_cookie(resp, CF_LOGIN_COOKIE, "", 0)) {
        cf_http_clear_headers(resp);
        cf_error_page(resp, 500, "The sign-in could not be completed.");
        return;
    }
    cf_log(CF_LOG_INFO, req->request_id, "user %s signed in from %s (session %s)", p.object_id,
           req->client_addr, s.sid);
}

/* The token reply for a session: an access token for `resource` and a new
 * refresh token replacing `old_hash` (NULL: whichever it had).  A refresh token presented
 * twice means it was copied: the session ends. */
static void cf_session_tokens(cf_vault *vault, cf_http_request *req, cf_http_response *resp,
                              const cf_session *s, const char *resource, const char *old_hash)
{
    cf_principal p;
    char refresh[CF_SECRET_B64], refresh_hash[CF_HASH_HEX_LEN + 1];
    cf_buf token;
    cf_buf_init(&token, CF_TOKEN_MAX);
    int64_t expires_on;
    bool swapped = false;
    bool ok = cf_store_principal_by_oid(vault->store, s->principal_id, &p) &&
              cf_random_secret(refresh) && cf_hash_hex(refresh, refresh_hash) &&
              cf_store_session_rotate(vault->store, s->sid, old_hash, refresh_hash, &swapped);
    if (ok && !swapped) {
        if (!cf_store_session_revoke(vault->store, s->sid))
            cf_log(CF_LOG_ERROR, req->request_id, "session %s: cannot end it", s->sid);
        cf_log(CF_LOG_WARN, req->request_id,
               "session %s: a refresh token was used twice; session ended", s->sid);
        cf_oauth_error(resp, 400, "invalid_grant", "The refresh token was used already.");
    } else if (!ok || !cf_identity_issue_token(vault, &p, resource, s->sid,
                                               CF_SESSION_TOKEN_SECONDS, &token, &expires_on)) {
        cf_oauth_error(resp, 500, "server_error", "The token could not be issued.");
    } else {
        json_t *reply =
            json_pack("{s:s, s:i, s:s, s:s, s:s}", "token_type", "Bearer", "expires_in",
                      CF_SESSION_TOKEN_SECONDS, "access_token", (const char *)token.data,
                      "refresh_token", refresh, "scope", resource);
        if (!cf_oauth_reply_json(resp, 200, reply))
            cf_oauth_error(resp, 500, "server_error", "The token could not be issued.");
    }
    cf_memzero(refresh, sizeof refresh);
    cf_buf_free(&token);
}

/* The session `key_hash` names through `by`, live; answers and returns
 * false otherwise. */
static bool cf_live_session(cf_vault *vault, cf_http_response *resp, const char *by,
                            const char *key_hash, cf_session *s)
{
    if (!cf_store_session_find(vault->store, by, key_hash, s)) {
        if (cf_err_environmental(cf_error_code()))
            cf_oauth_error(resp, 503, "temporarily_unavailable", "Try again later.");
        else
            cf_oauth_error(resp, 400, "invalid_grant", "The grant is not valid.");
        return false;
    }
    if (s->revoked || s->expires <= cf_vault_now()) {
        cf_oauth_error(resp, 400, "invalid_grant", "The session has ended: sign in again.");
        return false;
    }
    return true;
}

static void cf_grant_code(cf_vault *vault, cf_http_request *req, cf_http_response *resp)
{
    cf_slice form = cf_buf_slice(&req->body);
    char code[CF_SECRET_B64], verifier[129], redirect[512], hash[CF_HASH_HEX_LEN + 1];
    if (!cf_oauth_form_string(form, "code", code, sizeof code) ||
        !cf_oauth_form_string(form, "code_verifier", verifier, sizeof verifier) ||
        !cf_oauth_form_string(form, "redirect_uri", redirect, sizeof redirect) ||
        !cf_pkce_chars(verifier, 43, 128)) {
        cf_oauth_error(resp, 400, "invalid_request",
                       "code, code_verifier (43-128 characters) and redirect_uri are required.");
        return;
    }
    cf_auth_code c;
    bool taken = cf_hash_hex(code, hash) && cf_store_code_take(vault->store, hash, &c);
    cf_memzero(code, sizeof code);
    /* S256: BASE64URL(SHA-256(verifier)) must be the challenge. */
    uint8_t digest[32];
    cf_buf b64;
    cf_buf_init(&b64, 64);
    bool pkce = taken && cf_hash_compute(CF_HASH_SHA256, CF_SLICE_STR(verifier), digest) &&
                cf_base64url_encode(cf_slice_of(digest, sizeof digest), &b64) &&
                b64.len == strlen(c.challenge) && cf_memeq_ct(b64.data, c.challenge, b64.len);
    cf_buf_free(&b64);
    if (!taken || !pkce || c.expires <= cf_vault_now() || strcmp(c.redirect_uri, redirect) != 0 ||
        strcmp(c.client_id, CF_CONSOLE_CLIENT_ID) != 0) {
        cf_log(CF_LOG_WARN, req->request_id, "authorization code refused (%s)",
               !taken  ? "unknown or used"
               : !pkce ? "PKCE verifier"
                       : "expired or redirect");
        cf_oauth_error(resp, 400, "invalid_grant", "The authorization code is not valid.");
        return;
    }
    cf_session s;
    char scope[512], resource[256];
    snprintf(resource, sizeof resource, "%s", c.resource);
    if (cf_oauth_form_string(form, "scope", scope, sizeof scope) &&
        !cf_oauth_scope_resource(vault, scope, resource, sizeof resource, resp))
        return;
    if (!cf_live_session(vault, resp, "sid", c.sid, &s))
        return;
    /* The code proves the session; its refresh token is replaced blindly. */
    cf_session_tokens(vault, req, resp, &s, resource, NULL);
}

static void cf_grant_refresh(cf_vault *vault, cf_http_request *req, cf_http_response *resp)
{
    cf_slice form = cf_buf_slice(&req->body);
    char refresh[CF_SECRET_B64], hash[CF_HASH_HEX_LEN + 1], scope[512], resource[256];
    if (!cf_oauth_form_string(form, "refresh_token", refresh, sizeof refresh) ||
        !cf_oauth_form_string(form, "scope", scope, sizeof scope)) {
        cf_oauth_error(resp, 400, "invalid_request", "refresh_token and scope are required.");
        return;
    }
    bool hashed = cf_hash_hex(refresh, hash);
    cf_memzero(refresh, sizeof refresh);
    cf_session s;
    if (!hashed || !cf_oauth_scope_resource(vault, scope, resource, sizeof resource, resp))
        return;
    /* A refresh token that was replaced already comes from a copy (the
     * console never presents one twice): the session ends. */
    if (cf_store_session_find(vault->store, "previous_refresh_hash", hash, &s)) {
        if (!cf_store_session_revoke(vault->store, s.sid))
            cf_log(CF_LOG_ERROR, req->request_id, "session %s: cannot end it", s.sid);
        cf_log(CF_LOG_WARN, req->request_id,
               "session %s: a replaced refresh token was presented; session ended", s.sid);
        cf_oauth_error(resp, 400, "invalid_grant", "The refresh token was used already.");
        return;
    }
    if (!cf_live_session(vault, resp, "refresh_hash", hash, &s))
        return;
    cf_session_tokens(vault, req, resp, &s, resource, hash);
}

void cf_sign_in_token(cf_vault *vault, cf_http_request *req, cf_http_response *resp,
                      const char *grant)
{
    char client_id[64];
    if (!cf_oauth_form_string(cf_buf_slice(&req->body), "client_id", client_id, sizeof client_id) ||
        strcmp(client_id, CF_CONSOLE_CLIENT_ID) != 0) {
        cf_oauth_error(resp, 400, "unauthorized_client",
                       "Only the Coffer console signs people in.");
        return;
    }
    if (strcmp(grant, "authorization_code") == 0)
        cf_grant_code(vault, req, resp);
    else
        cf_grant_refresh(vault, req, resp);
}

static void cf_logout(cf_vault *vault, cf_http_request *req, cf_http_response *resp)
{
    char refresh[CF_SECRET_B64], hash[CF_HASH_HEX_LEN + 1];
    if (!cf_oauth_form_string(cf_buf_slice(&req->body), "refresh_token", refresh, sizeof refresh)) {
        cf_oauth_error(resp, 400, "invalid_request", "refresh_token is required.");
        return;
    }
    bool hashed = cf_hash_hex(refresh, hash);
    cf_memzero(refresh, sizeof refresh);
    cf_session s;
    if (!hashed || !cf_live_session(vault, resp, "refresh_hash", hash, &s))
        return;
    if (!cf_store_session_revoke(vault->store, s.sid)) {
        cf_oauth_error(resp, 503, "temporarily_unavailable", "Try again later.");
        return;
    }
    cf_log(CF_LOG_INFO, req->request_id, "user %s signed out (session %s)", s.principal_id, s.sid);
    if (!cf_oauth_reply_json(resp, 200, json_pack("{s:b}", "signed_out", true)) ||
        !cf_set_cookie(resp, CF_SESSION_COOKIE, "", 0))
        resp->status = 500;
}

bool cf_sign_in_route(cf_vault *vault, cf_http_request *req, cf_http_response *resp,
                      const char *rest)
{
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (strcmp(rest, "/oauth2/v2.0/authorize") == 0 && (get || post)) {
        req->operation = get ? "GET /oauth2/v2.0/authorize" : "POST /oauth2/v2.0/authorize";
        (get ? cf_authorize_get : cf_authorize_post)(vault, req, resp);
        return true;
    }
    if (strcmp(rest, "/oauth2/v2.0/logout") == 0 && post) {
        req->operation = "POST /oauth2/v2.0/logout";
        cf_logout(vault, req, resp);
        return true;
    }
    return false;
}
