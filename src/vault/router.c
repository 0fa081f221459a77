/*
 * The vault's request router: identity endpoints first (they authenticate
 * by their own means), then the Bearer check, so that the SDK's first,
 * token-less request gets the 401 challenge before anything else is looked
 * at; then api-version, the JSON body, and the resource handler.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit_writer.h"
#include "log.h"
#include "rbac.h"
#include "vault.h"

#define CF_MAX_SEGMENTS 6

static bool cf_all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return n > 0;
}

/* Accepts every form the official SDKs and tools have sent: "7.0" ...
 * "7.6", dated versions such as "2016-10-01" and "2025-07-01", each
 * optionally "-preview" or "-preview.N" (azure-cli 2.45 sends
 * "7.4-preview.1"). */
static bool cf_api_version_ok(const char *v)
{
    if (!v)
        return false;
    size_t n = strlen(v);
    const char *preview = strstr(v, "-preview");
    if (preview) {
        const char *tail = preview + 8;
        if (*tail && !(tail[0] == '.' && cf_all_digits(tail + 1, strlen(tail + 1))))
            return false;
        n = (size_t)(preview - v);
    }
    if (n >= 3 && v[0] == '7' && v[1] == '.')
        return cf_all_digits(v + 2, n - 2);
    if (n != 10 || v[4] != '-' || v[7] != '-')
        return false;
    return cf_all_digits(v, 4) && cf_all_digits(v + 5, 2) && cf_all_digits(v + 8, 2) &&
           strncmp(v, "2016", 4) >= 0;
}

/* Copies `raw` into `path` and splits "/a/b/" into {"a", "b", ""}; fails
 * beyond CF_MAX_SEGMENTS. */
static bool cf_split_path(const char *raw, char *path, size_t path_len, char **seg, size_t *n)
{
    *n = 0;
    CF_ENSURE(strlen(raw) < path_len && raw[0] == '/', CF_ERR_NOT_FOUND, "unknown path");
    memcpy(path, raw, strlen(raw) + 1);
    char *p = path + 1;
    for (;;) {
        CF_ENSURE(*n < CF_MAX_SEGMENTS, CF_ERR_NOT_FOUND, "unknown path");
        seg[(*n)++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            return true;
        *slash = 0;
        p = slash + 1;
    }
}

static bool cf_parse_body(cf_vault_call *call)
{
    cf_http_request *req = call->http;
    if (req->body.len == 0)
        return true;
    json_error_t jerr;
    call->body = json_loadb((const char *)req->body.data, req->body.len,
                            JSON_REJECT_DUPLICATES, &jerr);
    CF_ENSURE(call->body, CF_ERR_BAD_INPUT, "the request body is not valid JSON");
    CF_ENSURE(json_is_object(call->body), CF_ERR_BAD_INPUT, "the request body must be a JSON object");
    return true;
}

static bool cf_dispatch(cf_vault_call *call, char **seg, size_t n)
{
    const char *method = call->http->method;
    if (strcmp(seg[0], "keys") == 0 || strcmp(seg[0], "deletedkeys") == 0)
        return cf_keys_route(call, seg, n);
    if (strcmp(seg[0], "secrets") == 0 || strcmp(seg[0], "deletedsecrets") == 0)
        return cf_secrets_route(call, seg, n);
    if (n == 1 && strcmp(seg[0], "rng") == 0 && strcmp(method, "POST") == 0)
        return cf_rng_handle(call);
    if (strcmp(seg[0], "coffer") == 0)
        return cf_principals_route(call, seg, n);
    CF_BAIL(CF_ERR_NOT_FOUND, "The requested path does not exist.");
}

/* Not-found replies name the resource the way Key Vault does. */
static const struct {
    const char *segment, *code, *noun, *deleted_noun;
    bool deleted;
} cf_not_found[] = {
    {"keys", "KeyNotFound", "key", "Key", false},
    {"deletedkeys", "KeyNotFound", "key", "Key", true},
    {"secrets", "SecretNotFound", "secret", "Secret", false},
    {"deletedsecrets", "SecretNotFound", "secret", "Secret", true},
};

static void cf_reply_routed_error(cf_vault_call *call, char **seg, size_t n)
{
    for (size_t i = 0; n && i < sizeof cf_not_found / sizeof *cf_not_found; i++) {
        if (strcmp(seg[0], cf_not_found[i].segment) != 0)
            continue;
        /* Only the store's bare "not found" is reworded; routing errors keep theirs. */
        if (cf_error_code() == CF_ERR_NOT_FOUND && strcmp(cf_error_detail(), "not found") == 0 &&
            n >= 2 && cf_valid_object_name(seg[1])) {
            if (cf_not_found[i].deleted)
                cf_error_raisef(CF_ERR_NOT_FOUND, __FILE__, __LINE__, "Deleted %s not found: %s",
                                cf_not_found[i].deleted_noun, seg[1]);
            else if (n >= 3 && strlen(seg[2]) == CF_VERSION_LEN)
                cf_error_raisef(CF_ERR_NOT_FOUND, __FILE__, __LINE__,
                                "A %s with (name/id) %s/%s was not found in this key vault.",
                                cf_not_found[i].noun, seg[1], seg[2]);
            else
                cf_error_raisef(CF_ERR_NOT_FOUND, __FILE__, __LINE__,
                                "A %s with (name/id) %s was not found in this key vault.",
                                cf_not_found[i].noun, seg[1]);
        }
        cf_vault_reply_error(call, cf_not_found[i].code);
        return;
    }
    cf_vault_reply_error(call, "NotFound");
}

/* Operations that change state are durable in the audit log before the
 * client hears of them; reads and key operations ride on the next sync. */
static bool cf_changes_state(const cf_vault_call *call)
{
    static const char *const pure[] = {"/encrypt/action", "/decrypt/action", "/wrap/action",
                                       "/unwrap/action", "/sign/action", "/verify/action",
                                       "/rng/action", "/read", "/readMetadata/action",
                                       "/getSecret/action", "/backup/action"};
    if (strcmp(call->http->method, "GET") == 0 || call->resp->status >= 400)
        return false;
    size_t n = call->action ? strlen(call->action) : 0;
    for (size_t i = 0; i < sizeof pure / sizeof *pure; i++) {
        size_t m = strlen(pure[i]);
        if (n >= m && strcmp(call->action + n - m, pure[i]) == 0)
            return false;
    }
    return true;
}

/* One audit line per request: who, from where, what, on which object, and
 * how it ended.  Never bodies, tokens or query strings. */
static void cf_audit_request(cf_vault_call *call, const char *operation)
{
    unsigned status = call->resp->status;
    cf_audit_event ev = {
        .request_id = call->http->request_id,
        .principal = call->caller.object_id,
        .client = call->http->client_addr,
        .operation = call->action ? call->action : operation,
        .object = call->http->path,
        .result = status < 400                     ? "success"
                  : status == 401 || status == 403 ? "denied"
                  : status == 429                  ? "throttled"
                                                   : "failure",
        .status = status,
    };
    if (!cf_audit_append(call->vault->audit, &ev, cf_changes_state(call))) {
        cf_log(CF_LOG_ERROR, call->http->request_id, "audit log append failed: %s",
               cf_error_detail());
        cf_error_raise(CF_ERR_IO, __FILE__, __LINE__, "audit log unavailable");
        cf_vault_reply_error(call, NULL);
    }
}

static void cf_log_request(cf_vault_call *call, const struct timespec *start)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ms = (double)(end.tv_sec - start->tv_sec) * 1e3 +
                (double)(end.tv_nsec - start->tv_nsec) / 1e6;
    cf_log(CF_LOG_INFO, call->http->request_id,
           "%s %s status=%u principal=%s client=%s ms=%.2f", call->http->method, call->http->path,
           call->resp->status, call->caller.object_id[0] ? call->caller.object_id : "-",
           call->http->client_addr, ms);
}

/* From the headers alone: a client that waits for "100 Continue" before
 * sending its body and carries no valid token is answered at once, with
 * the challenge, and its body is never read.  Everything else goes to
 * cf_vault_handle with its body (the token endpoints authenticate from it). */
/* begin() looks at nothing but headers unless the client waits for
 * "100 Continue" (then it authenticates, which may read the store). */
bool cf_vault_begin_inline(void *ctx, const cf_http_request *req)
{
    (void)ctx;
    const char *expect = cf_http_header(req, "Expect");
    return !expect || strcasecmp(expect, "100-continue") != 0;
}

cf_http_begin_result cf_vault_begin(void *ctx, cf_http_request *req, cf_http_response *resp)
{
    cf_vault *vault = ctx;
    const char *expect = cf_http_header(req, "Expect");
    bool identity_path = strncmp(req->path, "/msi/", 5) == 0 || strstr(req->path, "/oauth2/") ||
                         strstr(req->path, "/discovery/") || strstr(req->path, "/.well-known/");
    if (!expect || strcasecmp(expect, "100-continue") != 0 || identity_path)
        return CF_HTTP_BUFFER;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    cf_vault_call call = {.vault = vault, .http = req, .resp = resp};
    if (cf_identity_authenticate(vault, req, &call.caller))
        return CF_HTTP_BUFFER;
    cf_vault_reply_challenge(&call, cf_error_detail());
    cf_audit_request(&call, "authenticate");
    cf_log_request(&call, &start);
    return CF_HTTP_RESPOND;
}

void cf_vault_handle(void *ctx, cf_http_request *req, cf_http_response *resp)
{
    cf_vault *vault = ctx;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    cf_vault_call call = {.vault = vault, .http = req, .resp = resp};

    if (cf_identity_route(vault, req, resp)) {
        cf_audit_request(&call, "identity");
        cf_log_request(&call, &start);
        return;
    }
    char path[1024], *seg[CF_MAX_SEGMENTS];
    size_t n = 0;
    if (cf_http_target_has_nul(req)) {
        /* A name must never be cut short at a NUL ("abc%00xyz" is not "abc"). */
        cf_error_raise(CF_ERR_BAD_INPUT, __FILE__, __LINE__,
                       "The request URI contains an encoded NUL character.");
        cf_vault_reply_error(&call, NULL);
    } else if (!cf_identity_authenticate(vault, req, &call.caller)) {
        cf_vault_reply_challenge(&call, cf_error_detail());
    } else if (!cf_api_version_ok(cf_http_query(req, "api-version"))) {
        cf_error_raise(CF_ERR_BAD_INPUT, __FILE__, __LINE__,
                       "The 'api-version' query parameter is missing or not supported.");
        cf_vault_reply_error(&call, NULL);
    } else if (strstr(req->path, "/providers/Microsoft.Authorization/")) {
        /* The RBAC API: its scope prefix is not a resource path. */
        if (!cf_parse_body(&call) || !cf_rbac_route(&call, req->path))
            cf_vault_reply_error(&call, strstr(req->path, "/roleDefinitions")
                                            ? "RoleDefinitionNotFound"
                                            : "RoleAssignmentNotFound");
    } else if (!cf_split_path(req->path, path, sizeof path, seg, &n) || !cf_parse_body(&call) ||
               !cf_dispatch(&call, seg, n)) {
        cf_reply_routed_error(&call, seg, n);
    }
    json_decref(call.body);
    cf_audit_request(&call, call.caller.object_id[0] ? "unknown" : "authenticate");
    cf_log_request(&call, &start);
}
