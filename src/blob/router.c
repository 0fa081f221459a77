/*
 * Request routing for coffer-blob.
 *
 * Everything about a request is decided in the begin hook, when its headers
 * have arrived and before any body is read: the URL is split path-style
 * (/<account>/<container>/<blob>), the operation is looked up in one table
 * by method, level, restype, comp and blob type, HTTPS is enforced, the
 * caller is authenticated and authorized, and then the body either streams
 * into an encrypting writer (uploads), is buffered (block lists, XML), or
 * the answer goes out at once (errors).  So no unauthenticated byte is ever
 * written to disk, and a refused 5 GiB upload costs nothing but the drain.
 *
 * Every step and every handler (cf_blob_op_fn) returns false with the error
 * raised; cf_blob_conclude is the one place that renders it, adds the CORS
 * headers and writes the audit line.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "audit_writer.h"
#include "blob_service.h"
#include "encoding.h"
#include "log.h"
#include "secmem.h"
#include "storage_auth.h"

/* Order matters only where entries overlap: more specific first.  A field
 * left out is NULL or false: no restype / comp / blob type required, not a
 * copy, buffered body, no anonymous access. */
static const cf_blob_op cf_blob_ops[] = {
    /* service */
    {.name = "GetServiceProperties",
     .method = "GET",
     .level = CF_LEVEL_SERVICE,
     .restype = "service",
     .comp = "properties",
     .perm = CF_PERM_SERVICE_READ,
     .run = cf_blob_op_get_service_props},
    {.name = "SetServiceProperties",
     .method = "PUT",
     .level = CF_LEVEL_SERVICE,
     .restype = "service",
     .comp = "properties",
     .perm = CF_PERM_SERVICE_WRITE,
     .run = cf_blob_op_set_service_props},
    {.name = "ListContainers",
     .method = "GET",
     .level = CF_LEVEL_SERVICE,
     .comp = "list",
     .perm = CF_PERM_LIST_CONTAINERS,
     .run = cf_blob_op_list_containers},
    {.name = "GetUserDelegationKey",
     .method = "POST",
     .level = CF_LEVEL_SERVICE,
     .restype = "service",
     .comp = "userdelegationkey",
     .perm = CF_PERM_DELEGATION_KEY,
     .run = cf_blob_op_user_delegation_key},
    {.name = "GetAccountInfo",
     .method = "GET",
     .level = CF_LEVEL_SERVICE,
     .restype = "account",
     .comp = "properties",
     .perm = CF_PERM_SERVICE_READ,
     .run = cf_blob_op_account_info},
    /* containers */
    {.name = "CreateContainer",
     .method = "PUT",
     .level = CF_LEVEL_CONTAINER,
     .restype = "container",
     .perm = CF_PERM_CONTAINER_WRITE,
     .run = cf_blob_op_container_create},
    {.name = "DeleteContainer",
     .method = "DELETE",
     .level = CF_LEVEL_CONTAINER,
     .restype = "container",
     .perm = CF_PERM_CONTAINER_DELETE,
     .run = cf_blob_op_container_delete},
    {.name = "GetContainerProperties",
     .method = "GET",
     .level = CF_LEVEL_CONTAINER,
     .restype = "container",
     .anonymous_ok = true,
     .perm = CF_PERM_CONTAINER_READ,
     .run = cf_blob_op_container_props},
    {.name = "GetContainerMetadata",
     .method = "GET",
     .level = CF_LEVEL_CONTAINER,
     .restype = "container",
     .comp = "metadata",
     .anonymous_ok = true,
     .perm = CF_PERM_CONTAINER_READ,
     .run = cf_blob_op_container_props},
    {.name = "SetContainerMetadata",
     .method = "PUT",
     .level = CF_LEVEL_CONTAINER,
     .restype = "container",
     .comp = "metadata",
     .perm = CF_PERM_CONTAINER_WRITE,
     .run = cf_blob_op_container_set_metadata},
    {.name = "GetContainerACL",
     .method = "GET",
     .level = CF_LEVEL_CONTAINER,
     .restype = "container",
     .comp = "acl",
     .perm = CF_PERM_CONTAINER_ACL_READ,
     .run = cf_blob_op_container_get_acl},
    {.name = "SetContainerACL",
     .method = "PUT",
     .level = CF_LEVEL_CONTAINER,
     .restype = "container",
     .comp = "acl",
     .perm = CF_PERM_CONTAINER_ACL_WRITE,
     .run = cf_blob_op_container_set_acl},
    {.name = "LeaseContainer",
     .method = "PUT",
     .level = CF_LEVEL_CONTAINER,
     .restype = "container",
     .comp = "lease",
     .perm = CF_PERM_CONTAINER_WRITE,
     .run = cf_blob_op_container_lease},
    {.name = "ListBlobs",
     .method = "GET",
     .level = CF_LEVEL_CONTAINER,
     .restype = "container",
     .comp = "list",
     .anonymous_ok = true,
     .perm = CF_PERM_LIST_BLOBS,
     .run = cf_blob_op_list_blobs},
    /* blobs */
    {.name = "CopyBlob",
     .method = "PUT",
     .level = CF_LEVEL_BLOB,
     .copy = true,
     .perm = CF_PERM_BLOB_WRITE,
     .run = cf_blob_op_copy},
    {.name = "PutBlob",
     .method = "PUT",
     .level = CF_LEVEL_BLOB,
     .blob_type = "BlockBlob",
     .streamed = true,
     .perm = CF_PERM_BLOB_ADD,
     .run = cf_blob_op_upload_finish},
    {.name = "CreateAppendBlob",
     .method = "PUT",
     .level = CF_LEVEL_BLOB,
     .blob_type = "AppendBlob",
     .perm = CF_PERM_BLOB_ADD,
     .run = cf_blob_op_append_create},
    {.name = "CreatePageBlob",
     .method = "PUT",
     .level = CF_LEVEL_BLOB,
     .blob_type = "PageBlob",
     .perm = CF_PERM_BLOB_ADD,
     .run = cf_blob_op_page_create},
    {.name = "PutPage",
     .method = "PUT",
     .level = CF_LEVEL_BLOB,
     .comp = "page",
     .streamed = true,
     .perm = CF_PERM_BLOB_WRITE,
     .run = cf_blob_op_upload_finish},
    {.name = "GetPageRanges",
     .method = "GET",
     .level = CF_LEVEL_BLOB,
     .comp = "pagelist",
     .anonymous_ok = true,
     .perm = CF_PERM_BLOB_READ,
     .run = cf_blob_op_page_ranges},
    {.name = "PutBlock",
     .method = "PUT",
     .level = CF_LEVEL_BLOB,
     .comp = "block",
     .streamed = true,
     .perm = CF_PERM_BLOB_WRITE,
     .run = cf_blob_op_upload_finish},
    {.name = "PutBlockList",
     .method = "PUT",
     .level = CF_LEVEL_BLOB,
     .comp = "blocklist",
     .perm = CF_PERM_BLOB_ADD,
     .run = cf_blob_op_put_block_list},
    {.name = "GetBlockList",
     .method = "GET",
     .level = CF_LEVEL_BLOB,
     .comp = "blocklist",
     .anonymous_ok = true,
     .perm = CF_PERM_BLOB_READ,
     .run = cf_blob_op_get_block_list},
    {.name = "AppendBlock",
     .method = "PUT",
     .level = CF_LEVEL_BLOB,
     .comp = "appendblock",
     .streamed = true,
     .perm = CF_PERM_BLOB_ADD,
     .run = cf_blob_op_upload_finish},
    {.name = "GetBlob",
     .method = "GET",
     .level = CF_LEVEL_BLOB,
     .anonymous_ok = true,
     .perm = CF_PERM_BLOB_READ,
     .run = cf_blob_op_get_blob},
    {.name = "GetBlobMetadata",
     .method = "GET",
     .level = CF_LEVEL_BLOB,
     .comp = "metadata",
     .anonymous_ok = true,
     .perm = CF_PERM_BLOB_READ,
     .run = cf_blob_op_get_metadata},
    {.name = "SetBlobProperties",
     .method = "PUT",
     .level = CF_LEVEL_BLOB,
     .comp = "properties",
     .perm = CF_PERM_BLOB_WRITE,
     .run = cf_blob_op_set_properties},
    {.name = "SetBlobMetadata",
     .method = "PUT",
     .level = CF_LEVEL_BLOB,
     .comp = "metadata",
     .perm = CF_PERM_BLOB_WRITE,
     .run = cf_blob_op_set_metadata},
    {.name = "DeleteBlob",
     .method = "DELETE",
     .level = CF_LEVEL_BLOB,
     .perm = CF_PERM_BLOB_DELETE,
     .run = cf_blob_op_delete},
    {.name = "LeaseBlob",
     .method = "PUT",
     .level = CF_LEVEL_BLOB,
     .comp = "lease",
     .perm = CF_PERM_BLOB_WRITE,
     .run = cf_blob_op_blob_lease},
};

const char *cf_blob_query(const cf_blob_call *call, const char *name)
{
    return cf_http_query(call->http, name);
}

const char *cf_blob_header(const cf_blob_call *call, const char *name)
{
    return cf_http_header(call->http, name);
}

bool cf_blob_https_only(const cf_blob_service *svc, const char *account)
{
    for (size_t i = 0; i < svc->n_insecure; i++)
        if (strcmp(svc->insecure[i], account) == 0)
            return false;
    return true;
}

static bool cf_str_eq_opt(const char *want, const char *have)
{
    if (!want)
        return !have;
    return have && strcmp(want, have) == 0;
}

static const cf_blob_op *cf_blob_find_op(const cf_blob_call *call, cf_blob_level level)
{
    const char *method = call->head ? "GET" : call->http->method;
    const char *restype = cf_blob_query(call, "restype");
    const char *comp = cf_blob_query(call, "comp");
    const char *blob_type = cf_blob_header(call, "x-ms-blob-type");
    bool copy = cf_blob_header(call, "x-ms-copy-source") != NULL;
    for (size_t i = 0; i < sizeof cf_blob_ops / sizeof cf_blob_ops[0]; i++) {
        const cf_blob_op *op = &cf_blob_ops[i];
        if (op->level != level || strcmp(op->method, method) != 0 ||
            !cf_str_eq_opt(op->restype, restype) || !cf_str_eq_opt(op->comp, comp))
            continue;
        if (level == CF_LEVEL_BLOB && strcmp(method, "PUT") == 0 && !comp) {
            if (op->copy != copy)
                continue;
            if (!op->copy && (!blob_type || strcmp(op->blob_type, blob_type) != 0))
                continue;
        }
        return op;
    }
    return NULL;
}

/* Splits the raw target: /<account>[/<container>[/<blob...>]][?query].
 * Names are decoded once from the bytes as sent (the SDKs encode '+' as
 * %2B; a literal '+' in a path is a plus). */
static bool cf_blob_parse_target(cf_blob_call *call, cf_blob_level *level)
{
    const char *raw = call->http->raw_path;
    const char *q = strchr(raw, '?');
    size_t path_len = q ? (size_t)(q - raw) : strlen(raw);
    call->query = q ? q + 1 : "";
    if (path_len == 0 || raw[0] != '/' || path_len > CF_STORAGE_MAX_PATH)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidUri", "The request URI is invalid.");
    const char *p = raw + 1, *end = raw + path_len;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    size_t alen = slash ? (size_t)(slash - p) : (size_t)(end - p);
    if (alen == 0 || alen > CF_BLOB_ACCOUNT_MAX)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidUri",
                            "The request URI does not name a storage account.");
    memcpy(call->account, p, alen);
    call->account[alen] = 0;
    *level = CF_LEVEL_SERVICE;
    if (!slash || slash + 1 == end)
        return true;
    p = slash + 1;
    slash = memchr(p, '/', (size_t)(end - p));
    size_t clen = slash ? (size_t)(slash - p) : (size_t)(end - p);
    if (clen < 3 || clen > CF_BLOB_CONTAINER_MAX)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "OutOfRangeInput",
                            "The specified resource name length is not within the permissible "
                            "limits.");
    memcpy(call->container, p, clen);
    call->container[clen] = 0;
    if (!cf_blob_container_name_valid(call->container) && strcmp(call->container, "$root") != 0)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidResourceName",
                            "The specifed resource name contains invalid characters.");
    *level = CF_LEVEL_CONTAINER;
    if (!slash || slash + 1 == end)
        return true;
    cf_buf name;
    cf_buf_init(&name, CF_BLOB_NAME_MAX + 1);
    bool ok = cf_percent_decode(cf_slice_of(slash + 1, (size_t)(end - slash - 1)), false, &name) &&
              cf_buf_terminate(&name);
    if (!ok || !cf_blob_name_valid((const char *)name.data)) {
        cf_buf_free(&name);
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidResourceName",
                            "The specifed resource name contains invalid characters.");
    }
    call->blob = strdup((const char *)name.data);
    cf_buf_free(&name);
    CF_ENSURE_ALLOC(call->blob);
    *level = CF_LEVEL_BLOB;
    return true;
}

/* x-ms-version: answered back as sent when we know it; a version newer
 * than ours is refused as Azure refuses unknown ones. */
static bool cf_blob_check_version(cf_blob_call *call)
{
    const char *v = cf_blob_header(call, "x-ms-version");
    snprintf(call->version, sizeof call->version, "%s", CF_BLOB_VERSION_DEFAULT);
    if (!v)
        return true;
    bool shape = strlen(v) == 10 && v[4] == '-' && v[7] == '-';
    for (size_t i = 0; shape && i < 10; i++)
        if (i != 4 && i != 7 && (v[i] < '0' || v[i] > '9'))
            shape = false;
    if (!shape || strcmp(v, "2009-09-19") < 0 || strcmp(v, CF_BLOB_VERSION_MAX) > 0)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                            "The value for one of the HTTP headers is not in the correct format.");
    snprintf(call->version, sizeof call->version, "%s", v);
    return true;
}

/* Every query parameter once, each with '=': the server reads the first
 * value of a name while clients sign the last (or drop valueless ones), so
 * a repeated or valueless name could make a signed request act as another
 * operation.  Azure's SDKs never send either. */
static bool cf_blob_check_query(const cf_blob_call *call)
{
    char names[CF_STORAGE_MAX_QUERY_PARAMS][64];
    size_t n = 0;
    for (const char *p = call->query; *p;) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        cf_buf name;
        cf_buf_init(&name, sizeof names[0] - 1);
        bool ok = len > 0 && eq && eq > p && n < CF_STORAGE_MAX_QUERY_PARAMS &&
                  cf_percent_decode(cf_slice_of(p, (size_t)(eq - p)), true, &name) &&
                  cf_buf_terminate(&name);
        if (ok) {
            for (size_t i = 0; i < name.len; i++)
                name.data[i] = (uint8_t)tolower(name.data[i]);
            for (size_t i = 0; ok && i < n; i++)
                ok = strcmp(names[i], (const char *)name.data) != 0;
            if (ok)
                memcpy(names[n++], name.data, name.len + 1);
        }
        cf_buf_free(&name);
        if (!ok)
            return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidQueryParameterValue",
                                "Query parameters must each appear once, as name=value.");
        p += len;
        if (*p == '&')
            p++;
    }
    return true;
}

/* Features not built here are refused rather than half-served: a snapshot
 * or version address, or a "from URL" upload, must not act on the base
 * blob or store an empty body. */
static bool cf_blob_check_supported(const cf_blob_call *call)
{
    if (cf_blob_query(call, "snapshot") || cf_blob_query(call, "versionid") ||
        cf_blob_query(call, "versionId"))
        return CF_BLOB_FAIL(CF_ERR_UNSUPPORTED, "FeatureNotSupported",
                            "Snapshots and versions are not supported.");
    if (cf_blob_header(call, "x-ms-copy-source") && !call->op->copy)
        return CF_BLOB_FAIL(CF_ERR_UNSUPPORTED, "FeatureNotSupported",
                            "Only Copy Blob takes x-ms-copy-source here.");
    return true;
}

static bool cf_blob_route(cf_blob_call *call)
{
    cf_blob_level level = CF_LEVEL_SERVICE;
    /* Names and query values must never be cut short at a NUL. */
    if (cf_http_target_has_nul(call->http))
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidUri",
                            "The request URI contains an encoded NUL character.");
    CF_GUARD(cf_blob_check_version(call));
    CF_GUARD(cf_blob_parse_target(call, &level));
    CF_GUARD(cf_blob_check_query(call));
    if (!call->http->tls && cf_blob_https_only(call->svc, call->account))
        return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "AccountRequiresHttps",
                            "The account being accessed does not support http.");
    call->op = cf_blob_find_op(call, level);
    if (call->op)
        call->http->operation = call->op->name;
    if (!call->op) {
        const char *comp = cf_blob_query(call, "comp");
        if (comp || cf_blob_query(call, "restype"))
            return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidQueryParameterValue",
                                "Value for one of the query parameters specified in the request "
                                "URI is invalid.");
        if (level == CF_LEVEL_BLOB && strcmp(call->http->method, "PUT") == 0)
            return CF_BLOB_FAIL(CF_ERR_BAD_INPUT,
                                cf_blob_header(call, "x-ms-blob-type") ? "InvalidHeaderValue"
                                                                       : "MissingRequiredHeader",
                                "An HTTP header that's mandatory for this request is not "
                                "specified or not supported: x-ms-blob-type.");
        return CF_BLOB_FAIL(CF_ERR_UNSUPPORTED, "UnsupportedHttpVerb",
                            "The resource doesn't support the specified HTTP verb.");
    }
    CF_GUARD(cf_blob_check_supported(call));
    CF_GUARD(cf_blob_parse_conditions(call));
    CF_GUARD(cf_blob_authorize(call));
    /* After authentication: only callers with access make us ask the vault. */
    return cf_blob_cmk_ready(call->svc, call->account);
}

/* One audit line per request: who (principal or credential kind), from
 * where, what, on which object, and how it ended.  Never bodies, keys,
 * signatures or query strings.  State changes are on disk before the reply
 * leaves (group commit); a failed append turns the reply into a 500. */
static void cf_blob_audit(cf_blob_call *call, unsigned status, bool reply_pending)
{
    static const char *const who[] = {"anonymous", "account-key", "sas", NULL};
    const char *principal = call->auth != CF_AUTH_BEARER ? who[call->auth]
                            : call->principal[0]         ? call->principal
                                                         : "bearer"; /* token refused */
    char object[CF_BLOB_ACCOUNT_MAX + CF_BLOB_CONTAINER_MAX + CF_BLOB_NAME_MAX + 8];
    if (call->op)
        snprintf(object, sizeof object, "/%s%s%s%s%s", call->account, call->container[0] ? "/" : "",
                 call->container, call->blob ? "/" : "", call->blob ? call->blob : "");
    else /* the admin API: its path says what */
        snprintf(object, sizeof object, "%s", call->http->path);
    cf_audit_event ev = {
        .request_id = call->http->request_id,
        .principal = principal,
        .client = call->http->client_addr,
        .operation = call->op                ? call->op->name
                     : call->http->operation ? call->http->operation
                                             : call->http->method,
        .object = object,
        .result = status == 0                      ? "aborted"
                  : status < 400                   ? "success"
                  : status == 401 || status == 403 ? "denied"
                  : call->retry_after              ? "throttled"
                                                   : "failure",
        .status = status,
    };
    bool durable = reply_pending && status < 400 && strcmp(call->http->method, "GET") != 0 &&
                   strcmp(call->http->method, "HEAD") != 0;
    call->audited = true;
    if (!cf_audit_append(call->svc->audit, &ev, durable)) {
        cf_log(CF_LOG_ERROR, call->http->request_id, "audit log append failed: %s",
               cf_error_detail());
        if (reply_pending) {
            CF_RAISE(CF_ERR_IO, "audit log unavailable");
            cf_blob_reply_error(call);
        }
    }
}

/* The three kinds of request, told apart by their first line. */
typedef enum {
    CF_BLOB_DATA = 0,  /* the Blob API: the operation table */
    CF_BLOB_PREFLIGHT, /* a CORS preflight (OPTIONS) */
    CF_BLOB_ADMIN,     /* Coffer's /.coffer/ API (admin.c) */
    CF_BLOB_METRICS,   /* GET /metrics (docs/metrics.md) */
} cf_blob_request_kind;

static cf_blob_request_kind cf_blob_kind(const cf_http_request *req)
{
    if (strcmp(req->method, "OPTIONS") == 0)
        return CF_BLOB_PREFLIGHT;
    if (strncmp(req->raw_path, "/.coffer/", 9) == 0)
        return CF_BLOB_ADMIN;
    if (cf_http_is_metrics_request(req))
        return CF_BLOB_METRICS;
    return CF_BLOB_DATA;
}

/* The one place a request's answer is completed.  When a step failed
 * (`ok` false), the error it raised is rendered: Azure's XML error, or the
 * admin API's JSON.  Replies then get their CORS headers (a preflight
 * carries its own), and every request its audit line. */
static void cf_blob_conclude(cf_blob_call *call, bool ok)
{
    cf_blob_request_kind kind = cf_blob_kind(call->http);
    if (!ok && kind == CF_BLOB_ADMIN)
        cf_blob_admin_reply_error(call);
    else if (!ok)
        cf_blob_reply_error(call);
    if (kind != CF_BLOB_PREFLIGHT)
        cf_blob_cors_response(call, kind == CF_BLOB_DATA);
    cf_blob_audit(call, call->resp->status, true);
}

/* A preflight names an account (and its rules), but needs no credentials. */
static bool cf_blob_preflight(cf_blob_call *call)
{
    if (cf_blob_cors_from_console(call))
        return cf_blob_cors_console_preflight(call);
    CF_ENSURE_REASON(strncmp(call->http->raw_path, "/.coffer/", 9) != 0, CF_ERR_FORBIDDEN,
                     "CorsPreflightFailure", "The admin API allows only the console's origin.");
    cf_blob_level level;
    CF_GUARD(cf_blob_parse_target(call, &level));
    CF_ENSURE_REASON(call->http->tls || !cf_blob_https_only(call->svc, call->account),
                     CF_ERR_FORBIDDEN, "AccountRequiresHttps",
                     "The account being accessed does not support http.");
    return cf_blob_cors_preflight(call);
}

static cf_blob_call *cf_blob_call_new(cf_blob_service *svc, cf_http_request *req)
{
    cf_blob_call *call = calloc(1, sizeof *call);
    if (!call)
        return NULL;
    call->svc = svc;
    call->http = req;
    call->head = strcmp(req->method, "HEAD") == 0;
    call->now = (int64_t)time(NULL);
    req->user = call;
    return call;
}

cf_http_begin_result cf_blob_begin(void *ctx, cf_http_request *req, cf_http_response *resp)
{
    cf_blob_service *svc = ctx;
    cf_blob_call *call = cf_blob_call_new(svc, req);
    if (!call) {
        resp->status = 503;
        return CF_HTTP_RESPOND;
    }
    call->resp = resp;
    bool ok;
    switch (cf_blob_kind(req)) {
    case CF_BLOB_ADMIN:
        call->query = "";
        req->operation = "admin";
        ok = cf_blob_admin_begin(call);
        break;
    case CF_BLOB_METRICS: /* answered at once: no body */
        call->query = "";
        req->operation = "GetMetrics";
        cf_blob_conclude(call, cf_blob_authorize_metrics(call) && cf_http_reply_metrics(resp));
        return CF_HTTP_RESPOND;
    case CF_BLOB_PREFLIGHT: /* answered at once: a preflight has no body */
        req->operation = "Preflight";
        cf_blob_conclude(call, cf_blob_preflight(call));
        return CF_HTTP_RESPOND;
    case CF_BLOB_DATA:
    default: ok = cf_blob_route(call) && (!call->op->streamed || cf_blob_upload_begin(call)); break;
    }
    if (!ok) {
        cf_blob_conclude(call, false);
        return CF_HTTP_RESPOND;
    }
    return call->op && call->op->streamed ? CF_HTTP_STREAM : CF_HTTP_BUFFER;
}

void cf_blob_handle(void *ctx, cf_http_request *req, cf_http_response *resp)
{
    (void)ctx;
    cf_blob_call *call = req->user;
    if (!call) {
        resp->status = 500;
        return;
    }
    call->resp = resp;
    call->now = (int64_t)time(NULL);
    bool ok = cf_blob_kind(req) == CF_BLOB_ADMIN ? cf_blob_admin(call) : call->op->run(call);
    cf_blob_conclude(call, ok);
}

void cf_blob_request_done(void *ctx, cf_http_request *req)
{
    (void)ctx;
    cf_blob_call *call = req->user;
    if (!call)
        return;
    if (!call->audited) /* the client went away before the reply */
        cf_blob_audit(call, 0, false);
    cf_blob_upload_free(call);
    cf_secret_free(call->cpk, sizeof *call->cpk);
    free(call->blob);
    free(call);
    req->user = NULL;
}
