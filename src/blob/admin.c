/*
 * Coffer's own admin API for coffer-blob, outside every account's namespace
 * ('.' cannot start an account name):
 *
 *   PUT    /.coffer/<account>/roleAssignments/<guid>   assign a Storage Blob
 *          Data role: {"properties":{"roleDefinitionId","principalId","scope"}}
 *   GET    /.coffer/<account>/roleAssignments          list them
 *   DELETE /.coffer/<account>/roleAssignments/<guid>   remove one
 *   POST   /.coffer/<account>/regenerateKey            {"keyName":"key1"|"key2"}
 *   /.coffer/<default account>/accounts[/<name>]      storage accounts
 *                                                      (accounts_admin.c)
 *   /.coffer/<account>/encryptionScopes[/<name>]      encryption scopes
 *                                                      (scopes_admin.c)
 *   GET    /.coffer/<default account>/audit            the audit log, filtered
 *          (the vault's GET /coffer/audit parameters, http/audit_query.c)
 *   GET    /.coffer/<default account>/health           what the service runs on
 *
 * In Azure these are management-plane operations; here, as for the account
 * itself, holding an account key (Shared Key) is what makes one its admin,
 * and so does a vault token whose principal holds Coffer Storage
 * Administrator (its "roles" claim; every account).
 * The key is checked from the headers, before any body is read.
 * JSON in and out, errors as {"error":{"code","message"}} (rendered by the
 * router through cf_blob_admin_reply_error, as for every handler).
 */
#include <stdio.h>
#include <string.h>

#include "blob_service.h"
#include "json_secure.h"
#include "log.h"
#include "audit_query.h"
#include "health_report.h"
#include "secmem.h"
#include "token_roles.h"

static void cf_admin_reply(cf_blob_call *call, unsigned status, json_t *body)
{
    cf_http_response *resp = call->resp;
    resp->status = status;
    resp->content_type = "application/json; charset=utf-8";
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!cf_blob_common_headers(call) || (text && !cf_buf_append_str(&resp->body, text)))
        resp->status = 500;
    cf_json_free_text(text);
}

void cf_blob_admin_reply_error(cf_blob_call *call)
{
    cf_err code = cf_error_code();
    unsigned status = cf_blob_reason_status(cf_error_reason(), code);
    const char *name = cf_error_reason() ? cf_error_reason() : cf_err_name(code);
    const char *reason = cf_error_reason();
    if (code == CF_ERR_NOT_FOUND || (reason && strcmp(reason, "EncryptionScopeNotFound") == 0))
        status = 404, name = "NotFound";
    else if (code == CF_ERR_BAD_INPUT)
        status = 400, name = "BadRequest";
    else if (code == CF_ERR_CONFLICT && !reason)
        status = 409, name = "Conflict";
    else if (code == CF_ERR_FORBIDDEN && !reason)
        status = 403, name = "Forbidden";
    else if (code == CF_ERR_TOO_LARGE && !reason)
        status = 409, name = "LimitExceeded";
    if (status >= 500)
        cf_log(CF_LOG_ERROR, call->http->request_id, "admin: %s at %s: %s", cf_err_name(code),
               cf_error_where(), cf_error_detail());
    cf_admin_reply(call, status,
                   json_pack("{s:{s:s, s:s}}", "error", "code", name, "message",
                             status >= 500 ? "internal error" : cf_error_detail()));
}

/* /.coffer/<account>/<rest>: the account into call->account, rest out. */
static bool cf_admin_target(cf_blob_call *call, const char **rest)
{
    const char *p = call->http->path + strlen("/.coffer/");
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : 0;
    CF_ENSURE(n > 0 && n <= CF_BLOB_ACCOUNT_MAX, CF_ERR_NOT_FOUND, "unknown admin endpoint");
    memcpy(call->account, p, n);
    call->account[n] = 0;
    *rest = slash + 1;
    return true;
}

static bool cf_admin_body(cf_blob_call *call, json_t **out)
{
    *out = json_loadb((const char *)call->http->body.data, call->http->body.len, 0, NULL);
    CF_ENSURE(json_is_object(*out), CF_ERR_BAD_INPUT, "the body must be a JSON object");
    return true;
}

bool cf_blob_admin_under(const char *rest, const char *collection)
{
    size_t n = strlen(collection);
    return strncmp(rest, collection, n) == 0 && (rest[n] == 0 || rest[n] == '/');
}

static bool cf_admin_need_body(const json_t *body)
{
    CF_ENSURE(body, CF_ERR_BAD_INPUT, "the body must be a JSON object");
    return true;
}

static bool cf_admin_regenerate(cf_blob_call *call, json_t *body, json_t **out)
{
    CF_GUARD(cf_admin_need_body(body));
    const char *which = json_string_value(json_object_get(body, "keyName"));
    int slot = which && strcmp(which, "key1") == 0   ? 1
               : which && strcmp(which, "key2") == 0 ? 2
                                                     : 0;
    CF_ENSURE(slot, CF_ERR_BAD_INPUT, "keyName must be key1 or key2");
    CF_GUARD(cf_blob_account_regenerate_key(call->svc->store, call->account, slot));
    if (strcmp(call->account, CF_BLOB_DEFAULT_ACCOUNT) == 0 ||
        !cf_blob_https_only(call->svc, call->account))
        CF_GUARD(cf_blob_write_bootstrap(call->svc));
    json_t *keys = json_array();
    CF_ENSURE_ALLOC(keys);
    bool ok = true;
    for (int s = 1; ok && s <= 2; s++) {
        cf_buf key;
        char b64[128];
        cf_buf_init_secret(&key, CF_BLOB_ACCOUNT_KEY_LEN);
        ok = cf_blob_account_key(call->svc->store, call->account, s, &key) &&
             cf_blob_base64(cf_buf_slice(&key), b64, sizeof b64);
        cf_buf_free(&key);
        if (ok)
            json_array_append_new(keys,
                                  json_pack("{s:s, s:s, s:s}", "keyName", s == 1 ? "key1" : "key2",
                                            "value", b64, "permissions", "FULL"));
        cf_memzero(b64, sizeof b64);
    }
    if (!ok) {
        json_decref(keys);
        return false;
    }
    *out = json_pack("{s:o}", "keys", keys);
    return *out != NULL;
}

/* The service's own audit log and health, under the default account like
 * the accounts collection (its key, or a storage administrator's token). */
static bool cf_admin_service(cf_blob_call *call, const char *rest, json_t **out, bool *handled)
{
    bool audit = strcmp(rest, "audit") == 0, health = strcmp(rest, "health") == 0;
    *handled = audit || health;
    if (!*handled)
        return true;
    CF_ENSURE(strcmp(call->account, CF_BLOB_DEFAULT_ACCOUNT) == 0, CF_ERR_FORBIDDEN,
              "the service's audit log and health are read with the default account's key");
    CF_ENSURE(strcmp(call->http->method, "GET") == 0, CF_ERR_NOT_FOUND, "unknown admin endpoint");
    if (audit)
        return cf_audit_query(call->http, call->svc->data_dir, out);
    char cert[PATH_MAX];
    snprintf(cert, sizeof cert, "%s/tls/server.crt", call->svc->data_dir);
    const cf_health_info info = {
        .service = "coffer-blob",
        .url = call->svc->url,
        .store = call->svc->store_spec.backend == CF_DB_POSTGRES ? "postgresql" : "sqlite",
        .data_dir = call->svc->data_dir,
        .cert_path = cert,
        .audit = call->svc->audit,
    };
    *out = cf_health_report(&info);
    CF_ENSURE_ALLOC(*out);
    return true;
}

bool cf_blob_admin_begin(cf_blob_call *call)
{
    const char *rest = NULL;
    const char *authz = cf_blob_header(call, "Authorization");
    snprintf(call->version, sizeof call->version, "%s", CF_BLOB_VERSION_DEFAULT);
    CF_ENSURE(!cf_http_target_has_nul(call->http), CF_ERR_BAD_INPUT,
              "The request URI contains an encoded NUL character.");
    CF_GUARD(cf_admin_target(call, &rest));
    CF_ENSURE_REASON(call->http->tls || !cf_blob_https_only(call->svc, call->account),
                     CF_ERR_FORBIDDEN, "AccountRequiresHttps", "The account requires HTTPS.");
    /* A vault token naming Coffer Storage Administrator manages every
     * account (the console's way in: people hold no account keys). */
    if (authz && strncmp(authz, "Bearer ", 7) == 0)
        return cf_blob_authorize_app_role(
            call, CF_APP_ROLE_STORAGE_ADMIN,
            "Managing storage needs the Coffer Storage Administrator role in the vault.");
    /* Unknown account and bad key look alike (verify uses a dummy key). */
    call->auth = CF_AUTH_KEY;
    CF_ENSURE_REASON(authz && strncmp(authz, "SharedKey", 9) == 0 &&
                         cf_blob_verify_shared_key(call, authz),
                     CF_ERR_UNAUTHORIZED, "AuthenticationFailed",
                     "The admin API requires Shared Key authentication with an account key.");
    return true;
}

bool cf_blob_admin(cf_blob_call *call)
{
    const char *rest = NULL;
    const char *method = call->http->method;
    json_t *out = NULL;
    CF_GUARD(cf_admin_target(call, &rest));
    const char *ra = "roleAssignments";
    size_t ralen = strlen(ra);
    bool ok, handled = false;
    unsigned status = 200;
    json_t *body = NULL;
    if (call->http->body.len)
        ok = cf_admin_body(call, &body);
    else
        ok = true;
    ok = ok && cf_blob_admin_accounts(call, rest, &status, body, &out, &handled);
    if (ok && !handled)
        ok = cf_blob_admin_scopes(call, rest, &status, body, &out, &handled);
    if (ok && !handled)
        ok = cf_admin_service(call, rest, &out, &handled);
    if (!ok || handled) {
        /* answered */
    } else if (strcmp(rest, ra) == 0 && strcmp(method, "GET") == 0) {
        ok = cf_blob_roles_list(call->svc->roles, call->account, &out);
    } else if (strncmp(rest, ra, ralen) == 0 && rest[ralen] == '/' && strcmp(method, "PUT") == 0) {
        ok = cf_admin_need_body(body) &&
             cf_blob_roles_put(call->svc->roles, call->account, rest + ralen + 1, body, &out);
        status = 201;
    } else if (strncmp(rest, ra, ralen) == 0 && rest[ralen] == '/' &&
               strcmp(method, "DELETE") == 0) {
        ok = cf_blob_roles_delete(call->svc->roles, call->account, rest + ralen + 1);
    } else if (strcmp(rest, "regenerateKey") == 0 && strcmp(method, "POST") == 0) {
        ok = cf_admin_regenerate(call, body, &out);
    } else {
        CF_RAISE(CF_ERR_NOT_FOUND, "unknown admin endpoint");
        ok = false;
    }
    json_decref(body);
    if (!ok) {
        json_decref(out);
        return false;
    }
    cf_admin_reply(call, status, out);
    return true;
}
