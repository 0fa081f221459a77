/*
 * Who may do what, for coffer-blob.  One decision per request, made before
 * any body is read:
 *
 *   Authorization: SharedKey / SharedKeyLite  -> the account key (key1 or
 *       key2) signs the request: full access to the account.
 *   Authorization: Bearer <token>             -> a coffer-vault token for
 *       https://storage.azure.com; the principal's Storage Blob Data roles
 *       (roles.c) decide, per container or account-wide.
 *   ?sig=... (SAS)                            -> account or service SAS,
 *       signed with an account key; permissions, resource types, times,
 *       IP range and protocol checked; service SAS may name a stored
 *       access policy of the container.
 *   nothing                                   -> anonymous: only reads that
 *       the container's public access level allows; otherwise Azure's 401
 *       challenge.
 *
 * Shared Key requests must be dated within 15 minutes of the server's
 * clock (x-ms-date, signed), so a captured request cannot be replayed.
 *
 * Failures say as little as Azure does: a bad signature and a wrong account
 * look the same (403 AuthenticationFailed), and a denied request does not
 * tell whether the target exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blob_service.h"
#include "httpdate.h"
#include "log.h"
#include "secmem.h"
#include "storage_auth.h"
#include "throttle.h"
#include "token_roles.h"

typedef struct {
    cf_storage_header headers[CF_STORAGE_MAX_HEADERS];
    size_t n;
    bool overflow;
} cf_header_view;

static bool cf_collect_header(void *ctx, const char *name, const char *value)
{
    cf_header_view *v = ctx;
    if (v->n == CF_STORAGE_MAX_HEADERS) {
        v->overflow = true;
        return false;
    }
    v->headers[v->n++] = (cf_storage_header){name, value};
    return true;
}

/* The raw path (before '?') as its own string, for signing. */
static bool cf_raw_path(const cf_blob_call *call, char **out)
{
    const char *raw = call->http->raw_path;
    const char *q = strchr(raw, '?');
    size_t n = q ? (size_t)(q - raw) : strlen(raw);
    *out = strndup(raw, n);
    CF_ENSURE_ALLOC(*out);
    return true;
}

/* 403 AuthenticationFailed: a credential that does not hold up. */
#define CF_AUTH_FAILED(message) CF_BLOB_FAIL(CF_ERR_UNAUTHORIZED, "AuthenticationFailed", (message))

/* A signed request is good for 15 minutes either side of its x-ms-date (or
 * Date), as in Azure: a captured request cannot be replayed later. */
#define CF_SHAREDKEY_SKEW (15 * 60)

static bool cf_request_date_fresh(const cf_blob_call *call)
{
    const char *date = cf_blob_header(call, "x-ms-date");
    if (!date)
        date = cf_blob_header(call, "Date");
    int64_t t = 0;
    if (!date || !cf_httpdate_parse(CF_SLICE_STR(date), &t))
        return CF_AUTH_FAILED("The request has no valid x-ms-date or Date header.");
    if (t < call->now - CF_SHAREDKEY_SKEW || t > call->now + CF_SHAREDKEY_SKEW)
        return CF_AUTH_FAILED("Request date header too old or too far in the future: the "
                              "request must be made within 15 minutes of its x-ms-date.");
    return true;
}

/* Account key `slot` into `key`; for an account that does not exist, a
 * fixed dummy key so that the caller does the same work (and answers in the
 * same time, with the same words) as for a wrong signature.  *known says
 * which it was: a dummy key must never count as a match.  False only when
 * the store could not answer (not a wrong credential: 503, not 403). */
static bool cf_account_key_or_dummy(cf_blob_call *call, int slot, cf_buf *key, bool *known)
{
    cf_buf_clear(key);
    *known = cf_blob_account_key(call->svc->store, call->account, slot, key);
    if (!*known) {
        if (cf_err_environmental(cf_error_code()))
            return false;
        cf_buf_clear(key);
        uint8_t *p;
        if (cf_buf_extend(key, CF_BLOB_ACCOUNT_KEY_LEN, &p))
            memset(p, 0, CF_BLOB_ACCOUNT_KEY_LEN);
    }
    return true;
}

/* Failed-credential throttling (throttle.h) for account keys and SAS
 * signatures, per account name and client address: a locked one is
 * refused with 503 ServerBusy and Retry-After before any signature is
 * computed. */
static bool cf_sign_in_allowed(cf_blob_call *call)
{
    unsigned wait =
        cf_throttle_pair_wait(call->svc->throttle, call->account, call->http->client_addr);
    if (!wait)
        return true;
    call->retry_after = wait;
    cf_log(CF_LOG_WARN, call->http->request_id, "sign-in throttled for account %s from %s (%u s)",
           call->account, call->http->client_addr, wait);
    char message[160];
    snprintf(message, sizeof message,
             "Too many failed authentication attempts from this client or address; retry after "
             "%u seconds.",
             wait);
    return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "ServerBusy", message);
}

static bool cf_sign_in_result(cf_blob_call *call, bool ok)
{
    unsigned locked =
        cf_throttle_pair_record(call->svc->throttle, call->account, call->http->client_addr, ok);
    if (locked)
        cf_log(CF_LOG_WARN, call->http->request_id,
               "repeated failed authentication for account %s from %s: locked for %u s",
               call->account, call->http->client_addr, locked);
    return ok;
}

#define CF_MAC_MISMATCH \
    "The MAC signature found in the HTTP request is not the same as any computed signature."

/* ---- Shared Key ---- */

static bool cf_shared_key_check(cf_blob_call *call, const char *authorization);

bool cf_blob_verify_shared_key(cf_blob_call *call, const char *authorization)
{
    CF_GUARD(cf_sign_in_allowed(call));
    return cf_sign_in_result(call, cf_shared_key_check(call, authorization));
}

static bool cf_shared_key_check(cf_blob_call *call, const char *authorization)
{
    cf_header_view *view = malloc(sizeof *view);
    CF_ENSURE_ALLOC(view);
    view->n = 0;
    view->overflow = false;
    cf_http_each_header(call->http, cf_collect_header, view);
    char *path = NULL;
    bool overflow = view->overflow;
    if (overflow || !cf_raw_path(call, &path)) {
        free(view);
        return overflow ? CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                                       "Too many request headers.")
                        : false;
    }
    cf_storage_request sreq = {call->http->method, path, call->query, view->headers, view->n};
    bool match = false, known = false;
    cf_buf key;
    cf_buf_init_secret(&key, CF_BLOB_ACCOUNT_KEY_LEN);
    bool answered = true;
    for (int slot = 1; answered && slot <= 2 && !match; slot++) {
        bool ok = false;
        answered = cf_account_key_or_dummy(call, slot, &key, &known);
        if (!answered ||
            !cf_sharedkey_verify(&sreq, call->account, cf_buf_slice(&key), authorization, &ok))
            ok = false;
        match = ok && known;
    }
    cf_buf_free(&key);
    free(path);
    free(view);
    CF_GUARD(answered);
    if (!match)
        return CF_AUTH_FAILED(CF_MAC_MISMATCH);
    CF_GUARD(cf_request_date_fresh(call));
    call->auth = CF_AUTH_KEY;
    return true;
}

/* ---- SAS ---- */

static char cf_sas_letter(cf_blob_perm perm)
{
    switch (perm) {
    case CF_PERM_CONTAINER_READ:
    case CF_PERM_BLOB_READ:
    case CF_PERM_SERVICE_READ:
    case CF_PERM_CONTAINER_ACL_READ: return 'r';
    case CF_PERM_CONTAINER_WRITE:
    case CF_PERM_BLOB_WRITE:
    case CF_PERM_SERVICE_WRITE:
    case CF_PERM_CONTAINER_ACL_WRITE: return 'w';
    case CF_PERM_BLOB_ADD: return 'c';
    case CF_PERM_CONTAINER_DELETE:
    case CF_PERM_BLOB_DELETE: return 'd';
    case CF_PERM_LIST_CONTAINERS:
    case CF_PERM_LIST_BLOBS: return 'l';
    default: return 0;
    }
}

/* Whether sp allows the operation.  Creating a blob is allowed by 'c'
 * (new blobs only) or 'w'; appending by 'a' or 'w'.  A create-only grant
 * forces If-None-Match: * whatever the client sent: any other value would
 * let the write replace an existing blob. */
static bool cf_sas_allows(cf_blob_call *call, cf_sas *sas)
{
    cf_blob_perm perm = call->op->perm;
    if (perm == CF_PERM_BLOB_ADD) {
        if (cf_sas_permits(sas, 'w'))
            return true;
        bool append = strcmp(call->op->name, "AppendBlock") == 0;
        if (append)
            return cf_sas_permits(sas, 'a');
        if (cf_sas_permits(sas, 'c')) {
            call->cond.if_none_match = "*";
            return true;
        }
        return false;
    }
    if (perm == CF_PERM_CONTAINER_WRITE && strcmp(call->op->name, "CreateContainer") == 0 &&
        cf_sas_permits(sas, 'c'))
        return true;
    char letter = cf_sas_letter(perm);
    return letter && cf_sas_permits(sas, letter);
}

static char cf_sas_resource_type(const cf_blob_call *call)
{
    switch (call->op->level) {
    case CF_LEVEL_SERVICE: return 's';
    case CF_LEVEL_CONTAINER: return 'c';
    default: return 'o';
    }
}

static bool cf_sas_policy_merge(cf_blob_call *call, cf_sas *sas)
{
    cf_blob_access_policy stored;
    if (!cf_blob_container_policy(call->svc->store, call->account, call->container, sas->si,
                                  &stored))
        return CF_AUTH_FAILED("The signed identifier does not name a stored access policy.");
    cf_sas_policy policy = {.permissions = stored.permission};
    if (stored.start[0]) {
        policy.has_start = cf_sas_parse_time(stored.start, &policy.start);
        if (!policy.has_start)
            return CF_AUTH_FAILED("The stored access policy's start time is not valid.");
    }
    if (stored.expiry[0]) {
        policy.has_expiry = cf_sas_parse_time(stored.expiry, &policy.expiry);
        if (!policy.has_expiry)
            return CF_AUTH_FAILED("The stored access policy's expiry time is not valid.");
    }
    if (!cf_sas_apply_policy(sas, &policy))
        return CF_AUTH_FAILED("The SAS and the stored access policy conflict or are incomplete.");
    return true;
}

/* *down: the store could not give the account's keys (no verdict).  A
 * user delegation SAS is signed with a key derived from key1
 * (delegation.c), the others with key1 or key2; an unknown account goes
 * through the same work with a dummy key. */
static bool cf_sas_signature_ok(cf_blob_call *call, const cf_sas *sas, bool *down)
{
    cf_buf sts, key;
    cf_buf_init(&sts, CF_STORAGE_MAX_STS);
    cf_buf_init_secret(&key, CF_BLOB_ACCOUNT_KEY_LEN);
    bool built = sas->kind == CF_SAS_ACCOUNT
                     ? cf_sas_string_to_sign_account(sas, call->account, &sts)
                     : cf_sas_string_to_sign_service_blob(sas, call->account, call->container,
                                                          call->blob, &sts);
    bool delegated = sas->kind == CF_SAS_USER_DELEGATION;
    bool match = false, known = false;
    bool answered = true;
    for (int slot = 1; built && answered && slot <= (delegated ? 1 : 2) && !match; slot++) {
        bool ok = false;
        answered = cf_account_key_or_dummy(call, slot, &key, &known);
        /* The delegation key replaces key1 in the same buffer. */
        if (!answered ||
            (delegated && !cf_blob_delegation_sas_key(call, sas, cf_buf_slice(&key), &key)) ||
            !cf_sas_verify_signature(sas, cf_buf_slice(&sts), cf_buf_slice(&key), &ok))
            ok = false;
        match = ok && known;
    }
    cf_buf_free(&sts);
    cf_buf_free(&key);
    *down = !answered;
    return match;
}

/* A service SAS applies to the blobs of the container it names (sr=c) or
 * to one blob (sr=b); the signature binds the path.  As in Azure it never
 * reaches the container itself (create, delete, properties, metadata, ACL,
 * lease): those need an account SAS.  Of container-level operations it
 * allows only List Blobs, and only with sr=c.  Snapshot and version SASs
 * (sr=bs, bv) are refused: those resources do not exist here. */
static bool cf_sas_scope_ok(const cf_blob_call *call, const cf_sas *sas)
{
    if (sas->kind == CF_SAS_ACCOUNT)
        return true;
    if (strcmp(sas->sr, "c") != 0 && strcmp(sas->sr, "b") != 0)
        return false;
    switch (call->op->level) {
    case CF_LEVEL_CONTAINER:
        return strcmp(sas->sr, "c") == 0 && call->op->perm == CF_PERM_LIST_BLOBS;
    case CF_LEVEL_BLOB: return true;
    default: return false;
    }
}

#define CF_RESOURCE_TYPE_MISMATCH \
    "This request is not authorized to perform this operation using this resource type."

/* A parsed SAS against the request, in Azure's order; raises the first
 * failure. */
static bool cf_sas_checks(cf_blob_call *call, cf_sas *sas)
{
    if (sas->kind != CF_SAS_ACCOUNT && call->op->level == CF_LEVEL_SERVICE)
        return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "AuthorizationResourceTypeMismatch",
                            CF_RESOURCE_TYPE_MISMATCH);
    bool down = false;
    bool signed_ok = cf_sas_signature_ok(call, sas, &down);
    CF_GUARD(!down); /* the store's error stands: 503, not a failed sign-in */
    if (!cf_sign_in_result(call, signed_ok))
        return CF_AUTH_FAILED("Signature did not match.");
    if (sas->kind == CF_SAS_SERVICE && sas->si[0])
        CF_GUARD(cf_sas_policy_merge(call, sas));
    if (sas->kind == CF_SAS_USER_DELEGATION)
        CF_GUARD(cf_blob_delegation_sas_checks(call, sas));
    if (!cf_sas_check_time(sas, call->now))
        return CF_AUTH_FAILED("Signed expiry time or start time is not valid for the current "
                              "time.");
    if (!cf_sas_check_protocol(sas, call->http->tls))
        return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "AuthorizationProtocolMismatch",
                            "This request is not authorized to perform this operation using this "
                            "protocol.");
    if (!cf_sas_check_ip(sas, call->http->client_addr))
        return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "AuthorizationSourceIPMismatch",
                            "This request is not authorized to perform this operation using this "
                            "source IP.");
    if (sas->kind == CF_SAS_ACCOUNT && !cf_sas_permits_service(sas, 'b'))
        return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "AuthorizationServiceMismatch",
                            "This request is not authorized to perform this operation using this "
                            "service.");
    if ((sas->kind == CF_SAS_ACCOUNT &&
         !cf_sas_permits_resource_type(sas, cf_sas_resource_type(call))) ||
        !cf_sas_scope_ok(call, sas))
        return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "AuthorizationResourceTypeMismatch",
                            CF_RESOURCE_TYPE_MISMATCH);
    if (!cf_sas_allows(call, sas))
        return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "AuthorizationPermissionMismatch",
                            "This request is not authorized to perform this operation using this "
                            "permission.");
    return true;
}

static bool cf_verify_sas(cf_blob_call *call, const char *query)
{
    CF_GUARD(cf_sign_in_allowed(call));
    cf_sas *sas = malloc(sizeof *sas);
    CF_ENSURE_ALLOC(sas);
    bool ok = cf_sas_parse(query, sas);
    if (!ok) {
        free(sas);
        return CF_AUTH_FAILED("Signature fields not well formed.");
    }
    ok = cf_sas_checks(call, sas);
    free(sas);
    if (ok)
        call->auth = CF_AUTH_SAS;
    return ok;
}

/* ---- Bearer ---- */

/* Who the token names (call->principal) and its app roles (call->app_roles). */
static bool cf_bearer_principal(cf_blob_call *call, const char *token)
{
    call->auth = CF_AUTH_BEARER;
    if (!call->svc->tokens)
        return CF_BLOB_FAIL(CF_ERR_UNAUTHORIZED, "InvalidAuthenticationInfo",
                            "This server does not accept bearer tokens (no --vault-url).");
    if (!call->http->tls)
        return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "AuthorizationProtocolMismatch",
                            "Bearer tokens are accepted over HTTPS only.");
    if (!cf_blob_tokens_verify(call->svc->tokens, token, call->principal, &call->app_roles)) {
        /* The verifier's reason is the client's message (a copy: raising
         * overwrites the record it lives in). */
        char why[160];
        snprintf(why, sizeof why, "%s", cf_error_detail());
        call->principal[0] = 0;
        return CF_BLOB_FAIL(CF_ERR_UNAUTHORIZED, "InvalidAuthenticationInfo", why);
    }
    return true;
}

static bool cf_verify_bearer(cf_blob_call *call, const char *token)
{
    CF_GUARD(cf_bearer_principal(call, token));
    const char *container = call->op->level == CF_LEVEL_SERVICE ? NULL : call->container;
    if (!cf_blob_roles_permit(call->svc->roles, call->account, call->principal, container,
                              call->op->perm))
        return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "AuthorizationPermissionMismatch",
                            "This request is not authorized to perform this operation using "
                            "this permission.");
    return true;
}

bool cf_blob_authorize_app_role(cf_blob_call *call, unsigned role, const char *refusal)
{
    const char *authz = cf_blob_header(call, "Authorization");
    if (!authz || strncmp(authz, "Bearer ", 7) != 0)
        return CF_BLOB_FAIL(CF_ERR_UNAUTHORIZED, "NoAuthenticationInformation",
                            "This endpoint takes a bearer token from the vault.");
    if (strlen(authz) > CF_STORAGE_MAX_AUTHZ * 32)
        return CF_AUTH_FAILED("The Authorization header is too long.");
    CF_GUARD(cf_bearer_principal(call, authz + 7));
    if (!(call->app_roles & role))
        return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "AuthorizationPermissionMismatch", refusal);
    return true;
}

bool cf_blob_authorize_metrics(cf_blob_call *call)
{
    return cf_blob_authorize_app_role(
        call, CF_APP_ROLE_METRICS,
        "Reading metrics needs the Coffer Metrics Reader role in the vault.");
}

/* ---- anonymous ---- */

static bool cf_anonymous_allowed(cf_blob_call *call)
{
    if (!call->op->anonymous_ok || call->op->level == CF_LEVEL_SERVICE)
        return false;
    cf_blob_container c = {0};
    if (!cf_blob_container_get(call->svc->store, call->account, call->container, NULL, call->now,
                               &c))
        return false;
    cf_public_access access = c.access;
    cf_blob_container_free(&c);
    if (access == CF_ACCESS_CONTAINER)
        return true;
    return access == CF_ACCESS_BLOB && call->op->level == CF_LEVEL_BLOB;
}

bool cf_blob_authorize(cf_blob_call *call)
{
    cf_blob_account acct;
    const char *authz = cf_blob_header(call, "Authorization");
    bool sas = cf_sas_in_query(call->query);
    /* An unknown account goes through the same checks with a dummy key
     * and fails like a bad credential (same words, same work): no probing
     * for account names. */
    bool known = cf_blob_account_get(call->svc->store, call->account, &acct);
    /* A store that cannot answer (PostgreSQL down) is 503, never 401/403. */
    if (!known && cf_err_environmental(cf_error_code()))
        return false;
    if (!known && !authz && !sas)
        return CF_BLOB_FAIL(CF_ERR_UNAUTHORIZED, "NoAuthenticationInformation",
                            "Server failed to authenticate the request. Please refer to the "
                            "information in the www-authenticate header.");
    if (authz && strlen(authz) > CF_STORAGE_MAX_AUTHZ * 32)
        return CF_AUTH_FAILED("The Authorization header is too long.");
    if (authz && strncmp(authz, "Bearer ", 7) == 0)
        return cf_verify_bearer(call, authz + 7);
    /* The credential kind presented, for the audit line even on failure;
     * nothing reads call->auth before the request is authorized. */
    if (authz) {
        call->auth = CF_AUTH_KEY;
        return cf_blob_verify_shared_key(call, authz);
    }
    if (sas) {
        call->auth = CF_AUTH_SAS;
        return cf_verify_sas(call, call->query);
    }
    if (cf_anonymous_allowed(call))
        return true;
    return CF_BLOB_FAIL(CF_ERR_UNAUTHORIZED, "NoAuthenticationInformation",
                        "Server failed to authenticate the request. Please refer to the "
                        "information in the www-authenticate header.");
}

bool cf_blob_may_read_source(cf_blob_call *call, const char *container, const char *name,
                             const char *source_query)
{
    (void)name;
    switch (call->auth) {
    case CF_AUTH_KEY: return true;
    case CF_AUTH_BEARER:
        if (cf_blob_roles_permit(call->svc->roles, call->account, call->principal, container,
                                 CF_PERM_BLOB_READ))
            return true;
        break;
    default: break;
    }
    /* A source URL carrying its own SAS: verify it as a read of the source. */
    if (source_query && cf_sas_in_query(source_query)) {
        cf_blob_call src = *call;
        cf_blob_op read_op = *call->op;
        read_op.level = CF_LEVEL_BLOB;
        read_op.perm = CF_PERM_BLOB_READ;
        read_op.name = "GetBlob";
        src.op = &read_op;
        snprintf(src.container, sizeof src.container, "%s", container);
        src.blob = (char *)name;
        src.cond = (cf_blob_cond){0};
        if (cf_verify_sas(&src, source_query))
            return true;
    }
    return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "AuthorizationPermissionMismatch",
                        "This request is not authorized to read the copy source.");
}
