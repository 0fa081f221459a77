/*
 * Container operations: create, delete, properties and metadata, ACL with
 * stored access policies, lease, and List Blobs (flat or by delimiter).
 */
#include <stdio.h>
#include <string.h>

#include "blob_service.h"

static bool cf_parse_access(cf_blob_call *call, cf_public_access *out)
{
    const char *v = cf_blob_header(call, "x-ms-blob-public-access");
    *out = CF_ACCESS_PRIVATE;
    if (!v)
        return true;
    if (strcmp(v, "container") == 0)
        *out = CF_ACCESS_CONTAINER;
    else if (strcmp(v, "blob") == 0)
        *out = CF_ACCESS_BLOB;
    else
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                            "x-ms-blob-public-access must be container or blob.");
    return true;
}

/* x-ms-default-encryption-scope and x-ms-deny-encryption-scope-override:
 * both or neither, as Azure asks. */
static bool cf_parse_scope_policy(cf_blob_call *call, const char **scope, bool *deny)
{
    *scope = cf_blob_header(call, "x-ms-default-encryption-scope");
    const char *d = cf_blob_header(call, "x-ms-deny-encryption-scope-override");
    *deny = false;
    if (!*scope && !d)
        return true;
    if (!*scope || !d)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "MissingRequiredHeader",
                            "x-ms-default-encryption-scope and "
                            "x-ms-deny-encryption-scope-override go together.");
    if (strcmp(d, "true") != 0 && strcmp(d, "false") != 0)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                            "x-ms-deny-encryption-scope-override must be true or false.");
    if (!cf_blob_scope_name_valid(*scope) && strcmp(*scope, CF_BLOB_ACCOUNT_SCOPE) != 0)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                            "x-ms-default-encryption-scope is not a valid scope name.");
    *deny = strcmp(d, "true") == 0;
    return true;
}

bool cf_blob_op_container_create(cf_blob_call *call)
{
    json_t *metadata = NULL;
    cf_public_access access;
    cf_blob_write_result r;
    const char *scope = NULL;
    bool deny = false;
    bool ok = cf_parse_access(call, &access) && cf_parse_scope_policy(call, &scope, &deny) &&
              cf_blob_parse_metadata(call, &metadata) &&
              cf_blob_container_create_scoped(call->svc->store, call->account, call->container,
                                              metadata, access, scope, deny, call->now, &r);
    json_decref(metadata);
    return ok && cf_blob_reply_written(call, 201, &r);
}

bool cf_blob_op_container_delete(cf_blob_call *call)
{
    return cf_blob_container_delete(call->svc->store, call->account, call->container, &call->cond,
                                    call->now) &&
           cf_blob_reply_ok(call, 202);
}

bool cf_blob_op_container_props(cf_blob_call *call)
{
    cf_blob_container c = {0};
    const char *access = NULL;
    bool ok = cf_blob_container_get(call->svc->store, call->account, call->container, &call->cond,
                                    call->now, &c);
    if (ok)
        access = cf_blob_access_name(c.access);
    ok = ok && cf_blob_add_etag(call, c.etag, c.last_modified) &&
         cf_blob_add_metadata(call, c.metadata) && cf_blob_add_lease(call, &c.lease) &&
         (!access || cf_http_add_header(call->resp, "x-ms-blob-public-access", access)) &&
         cf_http_add_header(call->resp, "x-ms-has-immutability-policy", "false") &&
         cf_http_add_header(call->resp, "x-ms-has-legal-hold", "false") &&
         cf_http_add_header(call->resp, "x-ms-default-encryption-scope",
                            c.default_scope[0] ? c.default_scope : CF_BLOB_ACCOUNT_SCOPE) &&
         cf_http_add_header(call->resp, "x-ms-deny-encryption-scope-override",
                            c.deny_scope_override ? "true" : "false");
    cf_blob_container_free(&c);
    return ok && cf_blob_reply_ok(call, 200);
}

bool cf_blob_op_container_set_metadata(cf_blob_call *call)
{
    json_t *metadata = NULL;
    cf_blob_write_result r;
    bool ok = cf_blob_parse_metadata(call, &metadata) &&
              cf_blob_container_set_metadata(call->svc->store, call->account, call->container,
                                             metadata, &call->cond, call->now, &r);
    json_decref(metadata);
    return ok && cf_blob_reply_written(call, 200, &r);
}

bool cf_blob_op_container_get_acl(cf_blob_call *call)
{
    cf_blob_acl acl;
    const char *access = NULL;
    bool ok = cf_blob_container_get_acl(call->svc->store, call->account, call->container,
                                        &call->cond, call->now, &acl);
    if (ok)
        access = cf_blob_access_name(acl.access);
    ok = ok && (call->head || cf_blob_xml_render_acl(&acl, &call->resp->body)) &&
         cf_blob_add_etag(call, acl.etag, acl.last_modified) &&
         (!access || cf_http_add_header(call->resp, "x-ms-blob-public-access", access));
    return ok && cf_blob_reply_ok(call, 200);
}

bool cf_blob_op_container_set_acl(cf_blob_call *call)
{
    cf_blob_acl acl = {0};
    cf_blob_write_result r;
    bool ok = cf_parse_access(call, &acl.access) &&
              cf_blob_xml_parse_acl(cf_buf_slice(&call->http->body), &acl) &&
              cf_blob_container_set_acl(call->svc->store, call->account, call->container, &acl,
                                        &call->cond, call->now, &r);
    return ok && cf_blob_reply_written(call, 200, &r);
}

bool cf_blob_op_container_lease(cf_blob_call *call)
{
    cf_lease_req req;
    cf_lease_result r;
    return cf_blob_parse_lease(call, &req) &&
           cf_blob_container_lease(call->svc->store, call->account, call->container, &req,
                                   &call->cond, call->now, &r) &&
           cf_blob_reply_lease(call, &req, &r);
}

/* ---- List Blobs ---- */

typedef struct {
    cf_xml_writer *w;
    bool include_metadata;
} cf_blob_list_ctx;

static bool cf_xml_prop(cf_xml_writer *w, json_t *props, const char *key, const char *element)
{
    const char *v = json_string_value(json_object_get(props, key));
    return cf_xml_element_str(w, element, v ? v : "");
}

static bool cf_list_blob_props(cf_xml_writer *w, const cf_blob_info *b)
{
    const char *md5 = json_string_value(json_object_get(b->props, "content-md5"));
    char etag[CF_BLOB_ETAG_LEN + 1];
    /* Listings show the ETag unquoted, as Azure does. */
    size_t n = strlen(b->etag);
    snprintf(etag, sizeof etag, "%.*s", (int)(n >= 2 ? n - 2 : 0), b->etag + (n >= 2));
    CF_GUARD(cf_xml_open(w, "Properties"));
    CF_GUARD(cf_blob_xml_date(w, "Creation-Time", b->created));
    CF_GUARD(cf_blob_xml_date(w, "Last-Modified", b->last_modified));
    CF_GUARD(cf_xml_element_str(w, "Etag", etag));
    CF_GUARD(cf_xml_element_i64(w, "Content-Length", (int64_t)b->size));
    CF_GUARD(cf_xml_prop(w, b->props, "content-type", "Content-Type"));
    CF_GUARD(cf_xml_prop(w, b->props, "content-encoding", "Content-Encoding"));
    CF_GUARD(cf_xml_prop(w, b->props, "content-language", "Content-Language"));
    CF_GUARD(cf_xml_element_str(w, "Content-CRC64", ""));
    CF_GUARD(cf_xml_element_str(w, "Content-MD5", md5 ? md5 : ""));
    CF_GUARD(cf_xml_prop(w, b->props, "cache-control", "Cache-Control"));
    CF_GUARD(cf_xml_prop(w, b->props, "content-disposition", "Content-Disposition"));
    if (b->type == CF_BLOB_PAGE)
        CF_GUARD(cf_xml_element_i64(w, "x-ms-blob-sequence-number", b->sequence));
    CF_GUARD(cf_xml_element_str(w, "BlobType", cf_blob_type_name(b->type)));
    if (b->type == CF_BLOB_BLOCK) {
        CF_GUARD(cf_xml_element_str(w, "AccessTier", "Hot"));
        CF_GUARD(cf_xml_element_bool(w, "AccessTierInferred", true));
    }
    CF_GUARD(cf_blob_xml_lease(w, &b->lease));
    CF_GUARD(cf_xml_element_bool(w, "ServerEncrypted", true));
    if (b->scope[0])
        CF_GUARD(cf_xml_element_str(w, "EncryptionScope", b->scope));
    return cf_xml_close(w);
}

/* A blob under a customer-provided key: its metadata is not listed, as in
 * Azure (<Metadata Encrypted="true" />). */
static bool cf_blob_xml_encrypted_metadata(cf_xml_writer *w)
{
    return cf_xml_open(w, "Metadata") && cf_xml_attr(w, "Encrypted", CF_SLICE_LIT("true")) &&
           cf_xml_close(w);
}

static bool cf_list_blob(void *ctx, const cf_blob_info *b, const char *prefix)
{
    cf_blob_list_ctx *l = ctx;
    cf_xml_writer *w = l->w;
    const char *name = b ? b->name : prefix;
    CF_GUARD(cf_xml_open(w, b ? "Blob" : "BlobPrefix"));
    if (cf_xml_text_valid(CF_SLICE_STR(name))) {
        CF_GUARD(cf_xml_element_str(w, "Name", name));
    } else {
        /* Names XML cannot carry go percent-encoded, flagged as Azure does. */
        cf_buf enc;
        cf_buf_init(&enc, 3 * CF_BLOB_NAME_MAX + 1);
        static const char hex[] = "0123456789ABCDEF";
        bool ok = true;
        for (const unsigned char *p = (const unsigned char *)name; ok && *p; p++) {
            if (*p < 0x20 || *p == '%' || *p >= 0x7f) {
                char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
                ok = cf_buf_append(&enc, e, 3);
            } else {
                ok = cf_buf_append_u8(&enc, *p);
            }
        }
        ok = ok && cf_xml_open(w, "Name") && cf_xml_attr(w, "Encoded", CF_SLICE_STR("true")) &&
             cf_xml_text(w, cf_buf_slice(&enc)) && cf_xml_close(w);
        cf_buf_free(&enc);
        CF_GUARD(ok);
    }
    if (b) {
        CF_GUARD(cf_list_blob_props(w, b));
        if (l->include_metadata)
            CF_GUARD(b->cpk ? cf_blob_xml_encrypted_metadata(w)
                            : cf_blob_xml_metadata(w, b->metadata));
    }
    return cf_xml_close(w);
}

bool cf_blob_op_list_blobs(cf_blob_call *call)
{
    unsigned max;
    char next[CF_BLOB_MARKER_MAX + 1];
    cf_xml_writer w;
    cf_xml_writer_init(&w, &call->resp->body);
    cf_blob_list_ctx l = {&w, cf_blob_include(call, "metadata")};
    const char *delimiter = cf_blob_query(call, "delimiter");
    cf_blob_list_req req = {
        .prefix = cf_blob_query(call, "prefix"),
        .delimiter = delimiter,
        .marker = cf_blob_query(call, "marker"),
        .include_metadata = l.include_metadata,
    };
    bool ok = cf_blob_max_results(call, &max);
    req.max_results = max;
    ok = ok && cf_blob_xml_list_head(call, &w, call->container, max) &&
         (!delimiter || cf_xml_element_str(&w, "Delimiter", delimiter)) &&
         cf_xml_open(&w, "Blobs") &&
         cf_blob_list(call->svc->store, call->account, call->container, &req, call->now,
                      cf_list_blob, &l, next, sizeof next) &&
         cf_xml_close(&w) && cf_xml_element_str(&w, "NextMarker", next) && cf_xml_close(&w) &&
         cf_xml_finish(&w);
    return ok && cf_blob_reply_ok(call, 200);
}
