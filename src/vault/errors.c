/*
 * Key Vault replies and the one table that maps Coffer errors to Key
 * Vault's HTTP status and error codes.  Internal errors are logged with
 * their file:line and shown to the client only as a generic message.
 */
#include <stdio.h>
#include <string.h>

#include "json_secure.h"
#include "log.h"
#include "vault.h"

static const struct {
    unsigned status;
    const char *code;
    const char *inner; /* innererror code, or NULL */
} cf_vault_errors[CF_ERR_COUNT] = {
    [CF_OK] = {500, "InternalServerError", NULL},
    [CF_ERR_BAD_INPUT] = {400, "BadParameter", NULL},
    [CF_ERR_TOO_LARGE] = {413, "RequestTooLarge", NULL},
    [CF_ERR_NOT_FOUND] = {404, "NotFound", NULL},
    [CF_ERR_CONFLICT] = {409, "Conflict", NULL},
    [CF_ERR_DELETED] = {409, "Conflict", "ObjectIsDeletedButRecoverable"},
    [CF_ERR_UNAUTHORIZED] = {401, "Unauthorized", NULL},
    [CF_ERR_FORBIDDEN] = {403, "Forbidden", "ForbiddenByRbac"},
    [CF_ERR_PROTECTED] = {403, "Forbidden", NULL},
    [CF_ERR_OPERATION] = {403, "Forbidden", "KeyOperationForbidden"},
    [CF_ERR_DISABLED] = {403, "Forbidden", NULL},
    [CF_ERR_UNSUPPORTED] = {400, "BadParameter", NULL},
    [CF_ERR_DECRYPT] = {400, "BadParameter", NULL},
    [CF_ERR_NOMEM] = {500, "InternalServerError", NULL},
    [CF_ERR_IO] = {500, "InternalServerError", NULL},
    [CF_ERR_DB] = {500, "InternalServerError", NULL},
    [CF_ERR_CRYPTO] = {500, "InternalServerError", NULL},
    [CF_ERR_SEAL] = {503, "ServiceUnavailable", NULL},
    [CF_ERR_UNAVAILABLE] = {503, "ServiceUnavailable", NULL},
    [CF_ERR_INTERNAL] = {500, "InternalServerError", NULL},
};

bool cf_vault_reply(cf_vault_call *call, unsigned status, json_t *body)
{
    call->resp->status = status;
    if (!body)
        return true;
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    CF_ENSURE_ALLOC(text);
    bool ok = cf_buf_append_str(&call->resp->body, text);
    cf_json_free_text(text);
    return ok;
}

static void cf_vault_render_error(cf_vault_call *call, unsigned status, const char *code,
                                  const char *message, const char *inner)
{
    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (err && inner)
        json_object_set_new(err, "innererror", json_pack("{s:s}", "code", inner));
    cf_buf_clear(&call->resp->body);
    cf_http_clear_headers(call->resp);
    if (!err || !cf_vault_reply(call, status, json_pack("{s:o}", "error", err)))
        call->resp->status = 500;
}

/* Reasons whose reply differs from their code's: status, Key Vault error
 * code, inner error code, and a fixed message (NULL: the error's detail). */
static const struct {
    const char *reason;
    unsigned status;
    const char *code;
    const char *inner;
    const char *message;
} cf_vault_reasons[] = {
    {CF_VAULT_REASON_KEY_NOT_FOUND, 404, "KeyNotFound", NULL, NULL},
    {CF_VAULT_REASON_SECRET_NOT_FOUND, 404, "SecretNotFound", NULL, NULL},
    {CF_VAULT_REASON_ROLE_DEFINITION_NOT_FOUND, 404, "RoleDefinitionNotFound", NULL, NULL},
    {CF_VAULT_REASON_ROLE_ASSIGNMENT_NOT_FOUND, 404, "RoleAssignmentNotFound", NULL, NULL},
    /* Disabled secrets name themselves in the inner error, as in Azure. */
    {CF_VAULT_REASON_SECRET_DISABLED, 403, "Forbidden", "SecretDisabled", NULL},
    /* Logged where it happened (cf_io_fail); the client learns what and
     * that nothing was stored. */
    {CF_VAULT_REASON_DISK_FULL, 507, "InsufficientStorage", NULL,
     "The vault's disk is full: nothing was stored. Reads still work; writes resume once space "
     "is freed."},
};

void cf_vault_reply_error(cf_vault_call *call)
{
    cf_err code = cf_error_code();
    if ((unsigned)code >= CF_ERR_COUNT)
        code = CF_ERR_INTERNAL;
    const char *reason = cf_error_reason();
    for (size_t i = 0; reason && i < sizeof cf_vault_reasons / sizeof *cf_vault_reasons; i++) {
        if (strcmp(reason, cf_vault_reasons[i].reason) != 0)
            continue;
        const char *message = cf_vault_reasons[i].message;
        cf_vault_render_error(call, cf_vault_reasons[i].status, cf_vault_reasons[i].code,
                              message ? message : cf_error_detail(), cf_vault_reasons[i].inner);
        return;
    }
    unsigned status = cf_vault_errors[code].status;
    const char *message = cf_error_detail();
    if (status >= 500) {
        cf_log(CF_LOG_ERROR, call->http->request_id, "%s at %s: %s", cf_err_name(code),
               cf_error_where(), cf_error_detail());
        message = code == CF_ERR_SEAL
                      ? "The vault's HSM is unavailable, so the request was not carried out. "
                        "Try again later."
                  : code == CF_ERR_UNAVAILABLE
                      ? "The vault's database is unavailable, so the request was not carried "
                        "out. Try again later."
                      : "The service encountered an internal error.";
    }
    if (code == CF_ERR_UNAUTHORIZED) {
        cf_vault_reply_challenge(call, message);
        return;
    }
    cf_vault_render_error(call, status, cf_vault_errors[code].code, message,
                          cf_vault_errors[code].inner);
}

void cf_vault_reply_auth_failure(cf_vault_call *call)
{
    cf_err code = cf_error_code();
    /* A store or HSM that cannot answer is not a wrong credential. */
    if ((unsigned)code < CF_ERR_COUNT && cf_vault_errors[code].status >= 500)
        cf_vault_reply_error(call);
    else
        cf_vault_reply_challenge(call, cf_error_detail());
}

void cf_vault_reply_challenge(cf_vault_call *call, const char *message)
{
    cf_vault_render_error(call, 401, "Unauthorized", message, NULL);
    char value[512];
    snprintf(value, sizeof value, "Bearer authorization=\"%s/%s\", resource=\"%s\"",
             call->vault->url, call->vault->tenant_id, call->vault->resource);
    if (!cf_http_add_header(call->resp, "WWW-Authenticate", value))
        call->resp->status = 500;
}
