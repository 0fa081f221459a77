/*
 * Azure error responses for coffer-blob: one table from Azure's error code
 * (the reason raised with the error) to status and default message; a
 * reason not in the table falls back to the error category.
 *
 *   <?xml version="1.0" encoding="utf-8"?><Error><Code>C</Code>
 *   <Message>M\nRequestId:R\nTime:T</Message></Error>
 *
 * plus x-ms-error-code.  HEAD responses carry no body.  Internal failures
 * are logged with their detail and answered with a generic message: a
 * client never sees file paths, SQL or crypto details.
 */
#include <stdio.h>
#include <string.h>

#include "blob_service.h"
#include "blob_xml.h"
#include "httpdate.h"
#include "log.h"

typedef struct {
    const char *code;
    unsigned status;
    const char *message;
} cf_blob_error_row;

static const cf_blob_error_row cf_blob_errors[] = {
    {"AccountNotFound", 404, "The specified account does not exist."},
    {"InsufficientStorage", 507,
     "The service's disk is full: nothing of this request was stored. Reads go on; writes resume "
     "once space is freed."},
    {"KeyVaultEncryptionKeyNotFound", 403,
     "The customer-managed key of this account cannot be found or is disabled."},
    {"KeyVaultAuthenticationFailure", 403,
     "The key vault refused the storage service access to the customer-managed key."},
    {"KeyVaultVaultNotFound", 403,
     "The key vault holding the customer-managed key cannot be reached."},
    {"ContainerNotFound", 404, "The specified container does not exist."},
    {"BlobNotFound", 404, "The specified blob does not exist."},
    {"CannotVerifyCopySource", 404, "The specified blob does not exist."},
    {"ResourceNotFound", 404, "The specified resource does not exist."},
    {"PolicyNotFound", 403, "Server failed to authenticate the request."},
    {"ContainerAlreadyExists", 409, "The specified container already exists."},
    {"BlobAlreadyExists", 409, "The specified blob already exists."},
    {"ContainerBeingDeleted", 409, "The specified container is being deleted."},
    {"BlobUsesCustomerSpecifiedEncryption", 409,
     "The blob is encrypted with customer specified encryption, but it was not provided in the "
     "request."},
    {"BlobDoesNotUseCustomerSpecifiedEncryption", 409,
     "The blob is not encrypted with customer specified encryption."},
    {"InvalidEncryptionKey", 409,
     "The provided encryption key does not match the key the blob was encrypted with."},
    {"EncryptionScopeNotFound", 400, "The specified encryption scope does not exist."},
    {"EncryptionScopeDisabled", 403, "The specified encryption scope is disabled."},
    {"EncryptionScopeOverrideNotAllowed", 409,
     "The container's default encryption scope cannot be overridden."},
    {"InvalidBlobType", 409, "The blob type is invalid for this operation."},
    {"BlockCountExceedsLimit", 409,
     "The committed block count cannot exceed the maximum limit of 50,000 blocks."},
    {"LeaseAlreadyPresent", 409, "There is already a lease present."},
    {"LeaseIdMismatchWithLeaseOperation", 409,
     "The lease ID specified did not match the lease ID for the blob."},
    {"LeaseNotPresentWithLeaseOperation", 409, "There is currently no lease on the blob."},
    {"LeaseIsBreakingAndCannotBeAcquired", 409,
     "The lease ID matched, but the lease is currently in breaking state and cannot be acquired "
     "until it is broken."},
    {"LeaseIsBreakingAndCannotBeChanged", 409,
     "The lease ID matched, but the lease is currently in breaking state and cannot be changed."},
    {"LeaseIsBrokenAndCannotBeRenewed", 409,
     "The lease ID matched, but the lease has been broken explicitly and cannot be renewed."},
    {"ConditionNotMet", 412,
     "The condition specified using HTTP conditional header(s) is not met."},
    {"SourceConditionNotMet", 412,
     "The source condition specified using HTTP conditional header(s) is not met."},
    {"LeaseIdMissing", 412,
     "There is currently a lease on the resource and no lease ID was specified in the request."},
    {"LeaseIdMismatchWithBlobOperation", 412,
     "The lease ID specified did not match the lease ID for the blob."},
    {"LeaseIdMismatchWithContainerOperation", 412,
     "The lease ID specified did not match the lease ID for the container."},
    {"LeaseNotPresentWithBlobOperation", 412, "There is currently no lease on the blob."},
    {"LeaseNotPresentWithContainerOperation", 412, "There is currently no lease on the container."},
    {"MaxBlobSizeConditionNotMet", 412, "The max blob size condition specified was not met."},
    {"AppendPositionConditionNotMet", 412, "The append position condition specified was not met."},
    {"NotModified", 304, "The condition specified using HTTP conditional header(s) is not met."},
    {"InvalidRange", 416, "The range specified is invalid for the current size of the resource."},
    {"InvalidPageRange", 416, "The page range specified is invalid."},
    {"SequenceNumberConditionNotMet", 412, "The sequence number condition specified was not met."},
    {"SequenceNumberIncrementTooLarge", 409,
     "The sequence number increment cannot be performed because it would result in overflow of "
     "the sequence number."},
    {"RequestBodyTooLarge", 413,
     "The request body is too large and exceeds the maximum permissible limit."},
    {"InvalidBlockList", 400, "The specified block list is invalid."},
    {"InvalidBlobOrBlock", 400, "The specified blob or block content is invalid."},
    {"InvalidBlockId", 400,
     "The specified block ID is invalid. The block ID must be Base64-encoded."},
    {"BlockListTooLong", 400, "The block list may not contain more than 50,000 blocks."},
    {"MetadataTooLarge", 400,
     "The size of the request metadata exceeds the maximum size permitted."},
    {"InvalidMetadata", 400,
     "The metadata specified is invalid. It has characters that are not permitted."},
    {"InvalidHeaderValue", 400,
     "The value for one of the HTTP headers is not in the correct format."},
    {"MissingRequiredHeader", 400,
     "An HTTP header that's mandatory for this request is not specified."},
    {"InvalidQueryParameterValue", 400,
     "Value for one of the query parameters specified in the request URI is invalid."},
    {"InvalidXmlDocument", 400, "XML specified is not syntactically valid."},
    {"InvalidXmlNodeValue", 400,
     "The value for one of the XML nodes is not in the correct format."},
    {"InvalidResourceName", 400, "The specifed resource name contains invalid characters."},
    {"OutOfRangeInput", 400, "One of the request inputs is out of range."},
    {"InvalidUri", 400, "The requested URI does not represent any resource on the server."},
    {"Md5Mismatch", 400,
     "The MD5 value specified in the request did not match with the MD5 value calculated by the "
     "server."},
    {"Crc64Mismatch", 400,
     "The CRC64 value specified in the request did not match with the CRC64 value calculated by "
     "the server."},
    {"InvalidMd5", 400,
     "The MD5 value specified in the request is invalid. The MD5 value must be 128 bits and "
     "Base64-encoded."},
    {"BothCrc64AndMd5HeaderPresent", 400,
     "Both x-ms-content-crc64 and Content-MD5 headers are present."},
    {"MissingContentLengthHeader", 411, "Content-Length HTTP header is missing."},
    {"OutOfRangeQueryParameterValue", 400,
     "One of the query parameters specified in the request URI is outside the permissible range."},
    {"IncompleteBody", 400, "The request body is incomplete."},
    {"AccountRequiresHttps", 400, "The account being accessed does not support http."},
    {"UnsupportedHttpVerb", 405, "The resource doesn't support the specified HTTP verb."},
    {"NoAuthenticationInformation", 401,
     "Server failed to authenticate the request. Please refer to the information in the "
     "www-authenticate header."},
    {"InvalidAuthenticationInfo", 401,
     "Server failed to authenticate the request. Please refer to the information in the "
     "www-authenticate header."},
    {"AuthenticationFailed", 403,
     "Server failed to authenticate the request. Make sure the value of Authorization header is "
     "formed correctly including the signature."},
    {"CorsPreflightFailure", 403, "CORS not enabled or no matching rule found for this request."},
    {"AuthorizationFailure", 403, "This request is not authorized to perform this operation."},
    {"AuthorizationPermissionMismatch", 403,
     "This request is not authorized to perform this operation using this permission."},
    {"AuthorizationResourceTypeMismatch", 403,
     "This request is not authorized to perform this operation using this resource type."},
    {"AuthorizationServiceMismatch", 403,
     "This request is not authorized to perform this operation using this service."},
    {"AuthorizationSourceIPMismatch", 403,
     "This request is not authorized to perform this operation using this source IP."},
    {"AuthorizationProtocolMismatch", 403,
     "This request is not authorized to perform this operation using this protocol."},
    {"PublicAccessNotPermitted", 409, "Public access is not permitted on this storage account."},
    {"FeatureNotSupported", 400, "This feature is not supported by Coffer."},
    {"ServerBusy", 503,
     "The server is currently unable to receive requests. Please retry your request."},
    {"InternalError", 500, "The server encountered an internal error. Please retry the request."},
};

static const cf_blob_error_row *cf_blob_error_find(const char *code)
{
    if (!code)
        return NULL;
    for (size_t i = 0; i < sizeof cf_blob_errors / sizeof cf_blob_errors[0]; i++)
        if (strcmp(cf_blob_errors[i].code, code) == 0)
            return &cf_blob_errors[i];
    return NULL;
}

/* Category fallback for errors raised without an Azure reason. */
static const cf_blob_error_row *cf_blob_error_category(cf_err code)
{
    switch (code) {
    case CF_ERR_BAD_INPUT: return cf_blob_error_find("InvalidHeaderValue");
    case CF_ERR_TOO_LARGE: return cf_blob_error_find("RequestBodyTooLarge");
    case CF_ERR_NOT_FOUND: return cf_blob_error_find("ResourceNotFound");
    case CF_ERR_CONFLICT: return cf_blob_error_find("ConditionNotMet");
    case CF_ERR_UNAUTHORIZED: return cf_blob_error_find("AuthenticationFailed");
    case CF_ERR_FORBIDDEN: return cf_blob_error_find("AuthorizationPermissionMismatch");
    case CF_ERR_UNSUPPORTED: return cf_blob_error_find("FeatureNotSupported");
    case CF_ERR_NOMEM:
    case CF_ERR_UNAVAILABLE: return cf_blob_error_find("ServerBusy");
    default: return cf_blob_error_find("InternalError");
    }
}

unsigned cf_blob_reason_status(const char *reason, cf_err fallback)
{
    const cf_blob_error_row *row = cf_blob_error_find(reason);
    if (!row)
        row = cf_blob_error_category(fallback);
    return row->status;
}

/* The error response itself: common headers, x-ms-error-code and, but for
 * HEAD and 304, the XML body. */
static void cf_blob_reply_code(cf_blob_call *call, unsigned status, const char *code,
                               const char *message)
{
    cf_http_response *resp = call->resp;
    cf_buf_clear(&resp->body);
    cf_http_clear_headers(resp);
    resp->status = status;
    if (!cf_blob_common_headers(call) || !cf_http_add_header(resp, "x-ms-error-code", code)) {
        resp->status = 500;
        return;
    }
    if (call->head || status == 304)
        return;
    char when[40];
    if (!cf_iso8601_format(call->now, 0, when))
        when[0] = 0;
    cf_buf text;
    cf_buf_init(&text, 2048);
    cf_xml_writer w;
    cf_xml_writer_init(&w, &resp->body);
    bool ok =
        cf_buf_append_str(&text, message) && cf_buf_append_str(&text, "\nRequestId:") &&
        cf_buf_append_str(&text, call->http->request_id) && cf_buf_append_str(&text, "\nTime:") &&
        cf_buf_append_str(&text, when) && cf_xml_declaration(&w) && cf_xml_open(&w, "Error") &&
        cf_xml_element_str(&w, "Code", code) &&
        cf_xml_element(&w, "Message", cf_buf_slice(&text)) && cf_xml_close(&w) && cf_xml_finish(&w);
    cf_buf_free(&text);
    resp->content_type = "application/xml";
    if (!ok)
        cf_buf_clear(&resp->body);
}

/* A failed read's validators (blob_ops.c records them): the ETag a 304
 * answers with, the size a 416's Content-Range names. */
static void cf_blob_add_read_validators(cf_blob_call *call, const char *code)
{
    const cf_blob_read_validators *v = &call->read;
    if (!v->known)
        return;
    if (strcmp(code, "NotModified") == 0 && v->etag[0]) {
        if (!cf_blob_add_etag(call, v->etag, v->last_modified))
            call->resp->status = 500;
    } else if (strcmp(code, "InvalidRange") == 0) {
        char range[64];
        snprintf(range, sizeof range, "bytes */%llu", (unsigned long long)v->size);
        if (!cf_http_add_header(call->resp, "Content-Range", range))
            call->resp->status = 500;
    }
}

void cf_blob_reply_error(cf_blob_call *call)
{
    cf_err code = cf_error_code();
    const char *reason = cf_error_reason();
    const cf_blob_error_row *row = cf_blob_error_find(reason);
    bool known = row != NULL;
    if (!row)
        row = cf_blob_error_category(code);
    const char *message = row->message;
    /* Our own details are safe to show for client errors (they never carry
     * secrets); server-side failures are logged, not shown. */
    /* Failed-credential throttling: the refusal says when to come back
     * (auth.c logged it). */
    bool throttled = call->retry_after && strcmp(row->code, "ServerBusy") == 0;
    if (throttled) {
        message = cf_error_detail();
    } else if (row->status >= 500) {
        cf_log(CF_LOG_ERROR, call->http->request_id, "%s at %s: %s", cf_err_name(code),
               cf_error_where(), cf_error_detail());
    } else if (!known || code == CF_ERR_BAD_INPUT || code == CF_ERR_UNAUTHORIZED ||
               strncmp(row->code, "KeyVault", 8) == 0) {
        message = cf_error_detail();
    }
    char www[700];
    bool challenge = row->status == 401;
    if (challenge && call->svc->tokens)
        snprintf(www, sizeof www,
                 "Bearer authorization_uri=%s resource_id=https://storage.azure.com",
                 cf_blob_tokens_authority(call->svc->tokens));
    cf_blob_reply_code(call, row->status, row->code, message);
    char seconds[16];
    snprintf(seconds, sizeof seconds, "%u", call->retry_after);
    if (throttled && !cf_http_add_header(call->resp, "Retry-After", seconds))
        call->resp->status = 500;
    if (challenge && call->svc->tokens && !cf_http_add_header(call->resp, "WWW-Authenticate", www))
        call->resp->status = 500;
    if (known)
        cf_blob_add_read_validators(call, row->code);
}
