/*
 * The vault's token issuer, shared by its two halves: identity.c (client
 * credentials, managed identities, discovery) and sign_in.c (people: the
 * authorization-code flow with PKCE, sessions, sign-out).
 */
#ifndef CF_VAULT_OAUTH_H
#define CF_VAULT_OAUTH_H

#include "jwt.h"
#include "vault.h"

#define CF_TOKEN_MAX CF_JWT_MAX

/* A signed access token for `p` and `audience`; `sid` (may be NULL) ties
 * it to a user's session; `lifetime` 0 = the vault's --token-lifetime. */
CF_MUST_USE bool cf_identity_issue_token(cf_vault *vault, const cf_principal *p,
                                         const char *audience, const char *sid, int lifetime,
                                         cf_buf *token, int64_t *expires_on);

/* OAuth's error shape {"error", "error_description"}, and JSON replies. */
void cf_oauth_error(cf_http_response *resp, unsigned status, const char *error,
                    const char *description);
CF_MUST_USE bool cf_oauth_reply_json(cf_http_response *resp, unsigned status, json_t *body);
/* A form field into `out` (at most len - 1 bytes); false when absent or
 * longer. */
CF_MUST_USE bool cf_oauth_form_string(cf_slice form, const char *name, char *out, size_t len);
/* "<resource>/.default" into the resource's audience; answers the error
 * (when `resp` is not NULL) and returns false when it is not one this
 * issuer serves. */
CF_MUST_USE bool cf_oauth_scope_resource(cf_vault *vault, const char *scope, char *resource,
                                         size_t len, cf_http_response *resp);

/* Failed-credential throttling (throttle.h) keyed by a client id or user
 * name and the address: _allowed answers 429 and returns false while
 * locked; _counted records a verdict (a store that could not answer is
 * 503 and no failure) and returns whether the caller still answers. */
CF_MUST_USE bool cf_sign_in_allowed(cf_vault *vault, cf_http_request *req, const char *who,
                                    cf_http_response *resp);
CF_MUST_USE bool cf_sign_in_counted(cf_vault *vault, cf_http_request *req, cf_http_response *resp,
                                    const char *who, bool ok);

/* ---- sign_in.c ---- */
/* The public client of the console, the one client that signs people in. */
#define CF_CONSOLE_CLIENT_ID "coffer-console"
/* Tokens of people live shorter than services' (the blob service cannot
 * see a session end; this bounds how long it trusts a signed-out one). */
#define CF_SESSION_TOKEN_SECONDS 600
#define CF_SESSION_SECONDS (8 * 3600)
#define CF_AUTH_CODE_SECONDS 60

/* /{tenant}/oauth2/v2.0/authorize (GET: the sign-in page, POST: its form)
 * and /logout; `rest` is the path after the tenant.  False when `rest` is
 * none of them. */
bool cf_sign_in_route(cf_vault *vault, cf_http_request *req, cf_http_response *resp,
                      const char *rest);
/* The token endpoint's grants for people: authorization_code (with the
 * PKCE verifier) and refresh_token. */
void cf_sign_in_token(cf_vault *vault, cf_http_request *req, cf_http_response *resp,
                      const char *grant);
/* Whether session `sid` is live (not signed out, not expired);
 * CF_ERR_UNAUTHORIZED otherwise. */
CF_MUST_USE bool cf_sign_in_session_live(cf_vault *vault, const char *sid);

#endif
