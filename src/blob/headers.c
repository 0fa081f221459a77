/*
 * Request and response headers shared by coffer-blob's handlers: the
 * common response headers, ETag/Last-Modified, access conditions, x-ms-meta-*
 * metadata and the blob content properties.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blob_service.h"
#include "crypto.h"
#include "encoding.h"
#include "httpdate.h"
#include "secmem.h"

#define CF_META_PREFIX "x-ms-meta-"

bool cf_blob_add_date(cf_blob_call *call, const char *name, int64_t t)
{
    char text[CF_HTTPDATE_LEN + 1];
    CF_GUARD(cf_httpdate_format(t, text));
    return cf_http_add_header(call->resp, name, text);
}

bool cf_blob_common_headers(cf_blob_call *call)
{
    const char *client_id = cf_blob_header(call, "x-ms-client-request-id");
    CF_GUARD(cf_http_add_header(call->resp, "x-ms-version",
                                call->version[0] ? call->version : CF_BLOB_VERSION_DEFAULT));
    CF_GUARD(cf_blob_add_date(call, "Date", call->now));
    CF_GUARD(cf_http_add_header(call->resp, "Server", CF_BLOB_SERVER));
    /* Echoed only when short and printable, as it goes back verbatim. */
    if (client_id && strlen(client_id) <= 1024 && !strpbrk(client_id, "\r\n"))
        CF_GUARD(cf_http_add_header(call->resp, "x-ms-client-request-id", client_id));
    /* The key the request was served with: the client can check it was used. */
    if (call->cpk)
        CF_GUARD(cf_http_add_header(call->resp, "x-ms-encryption-key-sha256", call->cpk->sha256));
    return true;
}

bool cf_blob_add_etag(cf_blob_call *call, const char *etag, int64_t last_modified)
{
    CF_GUARD(cf_http_add_header(call->resp, "ETag", etag));
    return cf_blob_add_date(call, "Last-Modified", last_modified);
}

static bool cf_blob_parse_date_header(cf_blob_call *call, const char *name, int64_t *out)
{
    const char *v = cf_blob_header(call, name);
    *out = 0;
    if (!v)
        return true;
    if (!cf_httpdate_parse(CF_SLICE_STR(v), out))
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                            "The value for one of the HTTP headers is not in the correct format.");
    /* 0 means "absent" to the store; the epoch itself is never a real date. */
    if (*out == 0)
        *out = 1;
    return true;
}

/* x-ms-encryption-key / -key-sha256 / -algorithm: all three or none; a
 * 256-bit key whose SHA-256 is the one given; AES256; over HTTPS only (the
 * key travels in the request).  The key goes to secret memory. */
static bool cf_blob_parse_cpk(cf_blob_call *call)
{
    const char *key = cf_blob_header(call, "x-ms-encryption-key");
    const char *sha = cf_blob_header(call, "x-ms-encryption-key-sha256");
    const char *alg = cf_blob_header(call, "x-ms-encryption-algorithm");
    if (!key && !sha && !alg)
        return true;
    if (!call->http->tls)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                            "Customer-provided encryption keys are accepted over HTTPS only.");
    if (!key || !sha || !alg)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "MissingRequiredHeader",
                            "x-ms-encryption-key, x-ms-encryption-key-sha256 and "
                            "x-ms-encryption-algorithm go together.");
    if (strcmp(alg, "AES256") != 0)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                            "x-ms-encryption-algorithm must be AES256.");
    cf_buf raw;
    cf_buf_init_secret(&raw, 64);
    uint8_t digest[32];
    char b64[CF_BLOB_CPK_SHA_LEN + 8];
    bool ok = strlen(key) <= 64 && cf_base64_decode(CF_SLICE_STR(key), &raw) && raw.len == 32 &&
              cf_hash_compute(CF_HASH_SHA256, cf_buf_slice(&raw), digest) &&
              cf_blob_base64(cf_slice_of(digest, 32), b64, sizeof b64);
    if (!ok || strcmp(b64, sha) != 0) {
        cf_buf_free(&raw);
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                            ok ? "x-ms-encryption-key-sha256 is not the SHA-256 of the key."
                               : "x-ms-encryption-key must be a base64 256-bit key.");
    }
    call->cpk = cf_secret_alloc(sizeof *call->cpk);
    if (call->cpk) {
        memcpy(call->cpk->key, raw.data, 32);
        snprintf(call->cpk->sha256, sizeof call->cpk->sha256, "%s", b64);
    }
    cf_buf_free(&raw);
    CF_ENSURE_ALLOC(call->cpk);
    call->cond.cpk = call->cpk;
    return true;
}

/* x-ms-encryption-scope: a scope name or $account-encryption-key; not
 * together with a customer-provided key. */
static bool cf_blob_parse_scope(cf_blob_call *call)
{
    const char *scope = cf_blob_header(call, "x-ms-encryption-scope");
    if (!scope)
        return true;
    if (!cf_blob_scope_name_valid(scope) && strcmp(scope, CF_BLOB_ACCOUNT_SCOPE) != 0)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                            "x-ms-encryption-scope is not a valid encryption scope name.");
    if (call->cpk)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                            "An encryption scope and a customer-provided key cannot be used "
                            "together.");
    call->cond.scope = scope;
    return true;
}

bool cf_blob_add_encrypted(cf_blob_call *call, const char *scope)
{
    CF_GUARD(cf_http_add_header(call->resp, "x-ms-request-server-encrypted", "true"));
    return !scope || !scope[0] || cf_http_add_header(call->resp, "x-ms-encryption-scope", scope);
}

bool cf_blob_parse_conditions(cf_blob_call *call)
{
    cf_blob_cond *c = &call->cond;
    c->if_match = cf_blob_header(call, "If-Match");
    c->if_none_match = cf_blob_header(call, "If-None-Match");
    c->lease_id = cf_blob_header(call, "x-ms-lease-id");
    CF_GUARD(cf_blob_parse_date_header(call, "If-Modified-Since", &c->if_modified_since));
    CF_GUARD(cf_blob_parse_date_header(call, "If-Unmodified-Since", &c->if_unmodified_since));
    return cf_blob_parse_cpk(call) && cf_blob_parse_scope(call);
}

/* A stored value that goes back out in response headers and listings:
 * no control characters (tab aside), which would break both for every
 * later reader of the blob. */
static bool cf_blob_value_ok(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return false;
    return true;
}

typedef struct {
    json_t *meta;
    bool bad;
} cf_meta_walk;

static bool cf_blob_meta_header(void *ctx, const char *name, const char *value)
{
    cf_meta_walk *walk = ctx;
    if (strncasecmp(name, CF_META_PREFIX, strlen(CF_META_PREFIX)) != 0)
        return true;
    const char *key = name + strlen(CF_META_PREFIX);
    if (!*key || !cf_blob_value_ok(value) ||
        json_object_set_new(walk->meta, key, json_string(value)) != 0) {
        walk->bad = true;
        return false;
    }
    return true;
}

bool cf_blob_parse_metadata(cf_blob_call *call, json_t **out)
{
    cf_meta_walk walk = {json_object(), false};
    *out = NULL;
    CF_ENSURE_ALLOC(walk.meta);
    cf_http_each_header(call->http, cf_blob_meta_header, &walk);
    if (walk.bad) {
        json_decref(walk.meta);
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidMetadata",
                            "The metadata specified is invalid. It has characters that are not "
                            "permitted.");
    }
    if (json_object_size(walk.meta) == 0) {
        json_decref(walk.meta);
        return true;
    }
    if (!cf_blob_metadata_check(walk.meta)) {
        json_decref(walk.meta);
        return false;
    }
    *out = walk.meta;
    return true;
}

bool cf_blob_add_metadata(cf_blob_call *call, json_t *metadata)
{
    const char *key;
    json_t *value;
    char name[300];
    json_object_foreach(metadata, key, value)
    {
        const char *v = json_string_value(value);
        if (!v || snprintf(name, sizeof name, CF_META_PREFIX "%s", key) >= (int)sizeof name)
            continue;
        CF_GUARD(cf_http_add_header(call->resp, name, v));
    }
    return true;
}

/* Store key, request header (x-ms-blob-*), plain header (Put Blob). */
static const struct {
    const char *key, *header, *plain;
} cf_blob_prop_headers[] = {
    {"content-type", "x-ms-blob-content-type", "Content-Type"},
    {"content-encoding", "x-ms-blob-content-encoding", "Content-Encoding"},
    {"content-language", "x-ms-blob-content-language", "Content-Language"},
    {"content-disposition", "x-ms-blob-content-disposition", "Content-Disposition"},
    {"cache-control", "x-ms-blob-cache-control", "Cache-Control"},
    {"content-md5", "x-ms-blob-content-md5", NULL},
};

bool cf_blob_parse_props(cf_blob_call *call, bool plain, json_t **out)
{
    json_t *props = json_object();
    CF_ENSURE_ALLOC(props);
    for (size_t i = 0; i < sizeof cf_blob_prop_headers / sizeof cf_blob_prop_headers[0]; i++) {
        const char *v = cf_blob_header(call, cf_blob_prop_headers[i].header);
        if (!v && plain && cf_blob_prop_headers[i].plain)
            v = cf_blob_header(call, cf_blob_prop_headers[i].plain);
        if (!v)
            continue;
        if (strlen(v) > 1024 || !cf_blob_value_ok(v)) {
            json_decref(props);
            return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                                "The value for one of the HTTP headers is not in the correct "
                                "format.");
        }
        if (strcmp(cf_blob_prop_headers[i].key, "content-md5") == 0) {
            cf_buf raw;
            cf_buf_init(&raw, 32);
            bool md5 = cf_base64_decode(CF_SLICE_STR(v), &raw) && raw.len == 16;
            cf_buf_free(&raw);
            if (!md5) {
                json_decref(props);
                return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidMd5",
                                    "The MD5 value specified in the request is invalid. The MD5 "
                                    "value must be 128 bits and Base64-encoded.");
            }
        }
        if (json_object_set_new(props, cf_blob_prop_headers[i].key, json_string(v)) != 0) {
            json_decref(props);
            CF_BAIL(CF_ERR_BAD_INPUT, "invalid header value");
        }
    }
    *out = props;
    return true;
}

bool cf_blob_base64(cf_slice in, char *out, size_t len)
{
    cf_buf b;
    cf_buf_init(&b, len - 1);
    bool ok = cf_base64_encode(in, &b) && cf_buf_terminate(&b);
    if (ok)
        memcpy(out, b.data, b.len + 1);
    cf_buf_free(&b);
    return ok;
}

bool cf_blob_add_lease(cf_blob_call *call, const cf_lease_info *lease)
{
    const char *duration = cf_lease_duration_name(lease);
    CF_GUARD(cf_http_add_header(call->resp, "x-ms-lease-state", cf_lease_state_name(lease->state)));
    CF_GUARD(
        cf_http_add_header(call->resp, "x-ms-lease-status", cf_lease_status_name(lease->state)));
    return !duration || cf_http_add_header(call->resp, "x-ms-lease-duration", duration);
}

bool cf_blob_number_header(cf_blob_call *call, const char *name, int64_t min, int64_t max,
                           int64_t *out)
{
    const char *v = cf_blob_header(call, name);
    if (!v)
        return true;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno == ERANGE || n < min || n > max) {
        char message[160];
        snprintf(message, sizeof message, "The value of %s is not in the correct format.", name);
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue", message);
    }
    *out = n;
    return true;
}

static bool cf_blob_int_header(cf_blob_call *call, const char *name, int min, int max, int *out)
{
    int64_t n = *out;
    CF_GUARD(cf_blob_number_header(call, name, min, max, &n));
    *out = (int)n;
    return true;
}

const char *cf_blob_type_name(cf_blob_type type)
{
    return type == CF_BLOB_APPEND ? "AppendBlob" : type == CF_BLOB_PAGE ? "PageBlob" : "BlockBlob";
}

bool cf_blob_parse_range(cf_blob_call *call, bool *has, uint64_t *offset, uint64_t *length)
{
    const char *v = cf_blob_header(call, "x-ms-range");
    bool strict = v != NULL;
    if (!v)
        v = cf_blob_header(call, "Range");
    *has = false;
    if (!v)
        return true;
    unsigned long long s = 0, e = 0;
    char *end = NULL;
    bool ok = strncmp(v, "bytes=", 6) == 0 && v[6] >= '0' && v[6] <= '9';
    if (ok) {
        errno = 0;
        s = strtoull(v + 6, &end, 10);
        ok = *end == '-' && errno == 0;
    }
    if (ok && end[1]) {
        const char *p = end + 1;
        ok = *p >= '0' && *p <= '9';
        errno = 0;
        e = ok ? strtoull(p, &end, 10) : 0;
        ok = ok && !*end && e >= s;
        /* An end past what 64 bits hold, or the last byte, is "to the end"
         * (the reader clips); e - s + 1 must not wrap. */
        *length = errno == ERANGE || e == ULLONG_MAX ? CF_BLOB_WHOLE : e - s + 1;
    } else if (ok) {
        *length = CF_BLOB_WHOLE;
    }
    if (!ok)
        return strict ? CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                                     "The value for one of the HTTP headers is not in the "
                                     "correct format.")
                      : true; /* a malformed Range is ignored, as HTTP allows */
    *has = true;
    *offset = s;
    return true;
}

bool cf_blob_parse_lease(cf_blob_call *call, cf_lease_req *out)
{
    static const struct {
        const char *name;
        cf_lease_action action;
    } actions[] = {{"acquire", CF_LEASE_ACQUIRE},
                   {"renew", CF_LEASE_RENEW},
                   {"change", CF_LEASE_CHANGE},
                   {"release", CF_LEASE_RELEASE},
                   {"break", CF_LEASE_BREAK}};
    const char *action = cf_blob_header(call, "x-ms-lease-action");
    *out = (cf_lease_req){.duration = -1, .break_period = -1};
    bool found = false;
    for (size_t i = 0; action && i < sizeof actions / sizeof actions[0]; i++)
        if (strcasecmp(action, actions[i].name) == 0) {
            out->action = actions[i].action;
            found = true;
        }
    if (!found)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT,
                            action ? "InvalidHeaderValue" : "MissingRequiredHeader",
                            "x-ms-lease-action must be acquire, renew, change, release or break.");
    out->lease_id = cf_blob_header(call, "x-ms-lease-id");
    out->proposed_id = cf_blob_header(call, "x-ms-proposed-lease-id");
    CF_GUARD(cf_blob_int_header(call, "x-ms-lease-duration", -1, 60, &out->duration));
    CF_GUARD(cf_blob_int_header(call, "x-ms-lease-break-period", 0, 60, &out->break_period));
    /* The lease id is the operation's subject here, not a condition. */
    call->cond.lease_id = NULL;
    return true;
}

bool cf_blob_reply_lease(cf_blob_call *call, const cf_lease_req *req, const cf_lease_result *r)
{
    unsigned status = req->action == CF_LEASE_ACQUIRE ? 201
                      : req->action == CF_LEASE_BREAK ? 202
                                                      : 200;
    char time_text[24];
    CF_GUARD(cf_blob_add_etag(call, r->etag, r->last_modified));
    if (req->action == CF_LEASE_BREAK) {
        snprintf(time_text, sizeof time_text, "%lld", (long long)r->lease_time);
        CF_GUARD(cf_http_add_header(call->resp, "x-ms-lease-time", time_text));
    } else if (req->action != CF_LEASE_RELEASE) {
        CF_GUARD(cf_http_add_header(call->resp, "x-ms-lease-id", r->lease_id));
    }
    return cf_blob_reply_ok(call, status);
}
