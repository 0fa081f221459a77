/*
 * Service-level operations: Get/Set Blob Service Properties, List
 * Containers, Get Account Information.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob_service.h"
#include "blob_xml.h"
#include "httpdate.h"

bool cf_blob_reply_ok(cf_blob_call *call, unsigned status)
{
    call->resp->status = status;
    if (call->resp->body.len)
        call->resp->content_type = "application/xml";
    return cf_blob_common_headers(call);
}

bool cf_blob_reply_written(cf_blob_call *call, unsigned status, const cf_blob_write_result *r)
{
    return cf_blob_add_etag(call, r->etag, r->last_modified) && cf_blob_reply_ok(call, status);
}

/* The stored properties (canonical XML) or the defaults. */
static bool cf_service_props_load(cf_blob_call *call, cf_blob_service_props *p)
{
    cf_buf stored;
    cf_buf_init(&stored, CF_BLOB_SERVICE_PROPS_MAX);
    cf_blob_service_props_init(p);
    bool ok = cf_blob_service_props_get(call->svc->store, call->account, &stored);
    if (ok && stored.len) {
        cf_blob_service_props_free(p);
        ok = cf_blob_xml_parse_service_props(cf_buf_slice(&stored), p);
        if (!ok)
            cf_blob_service_props_init(p);
    }
    cf_buf_free(&stored);
    return ok;
}

bool cf_blob_op_get_service_props(cf_blob_call *call)
{
    cf_blob_service_props p;
    bool ok =
        cf_service_props_load(call, &p) && cf_blob_xml_render_service_props(&p, &call->resp->body);
    cf_blob_service_props_free(&p);
    return ok && cf_blob_reply_ok(call, 200);
}

bool cf_blob_op_set_service_props(cf_blob_call *call)
{
    cf_blob_service_props current, update;
    cf_buf canonical;
    cf_buf_init(&canonical, CF_BLOB_SERVICE_PROPS_MAX);
    cf_blob_service_props_init(&update);
    bool ok = cf_service_props_load(call, &current);
    ok = ok && cf_blob_xml_parse_service_props(cf_buf_slice(&call->http->body), &update) &&
         cf_blob_service_props_merge(&current, &update) &&
         cf_blob_xml_render_service_props(&current, &canonical) &&
         cf_blob_service_props_set(call->svc->store, call->account, cf_buf_slice(&canonical));
    cf_blob_service_props_free(&current);
    cf_blob_service_props_free(&update);
    cf_buf_free(&canonical);
    return ok && cf_blob_reply_ok(call, 202);
}

bool cf_blob_op_account_info(cf_blob_call *call)
{
    return cf_http_add_header(call->resp, "x-ms-sku-name", "Standard_LRS") &&
           cf_http_add_header(call->resp, "x-ms-account-kind", "StorageV2") &&
           cf_http_add_header(call->resp, "x-ms-is-hns-enabled", "false") &&
           cf_blob_reply_ok(call, 200);
}

/* ---- List Containers ---- */

typedef struct {
    cf_xml_writer *w;
    bool include_metadata;
} cf_list_ctx;

bool cf_blob_xml_metadata(cf_xml_writer *w, json_t *metadata)
{
    const char *key;
    json_t *value;
    CF_GUARD(cf_xml_open(w, "Metadata"));
    json_object_foreach(metadata, key, value)
    {
        CF_GUARD(
            cf_xml_element_str(w, key, json_string_value(value) ? json_string_value(value) : ""));
    }
    return cf_xml_close(w);
}

bool cf_blob_xml_date(cf_xml_writer *w, const char *name, int64_t t)
{
    char text[CF_HTTPDATE_LEN + 1];
    CF_GUARD(cf_httpdate_format(t, text));
    return cf_xml_element_str(w, name, text);
}

bool cf_blob_xml_lease(cf_xml_writer *w, const cf_lease_info *lease)
{
    const char *duration = cf_lease_duration_name(lease);
    CF_GUARD(cf_xml_element_str(w, "LeaseStatus", cf_lease_status_name(lease->state)));
    CF_GUARD(cf_xml_element_str(w, "LeaseState", cf_lease_state_name(lease->state)));
    return !duration || cf_xml_element_str(w, "LeaseDuration", duration);
}

const char *cf_blob_access_name(cf_public_access a)
{
    return a == CF_ACCESS_CONTAINER ? "container" : a == CF_ACCESS_BLOB ? "blob" : NULL;
}

static bool cf_list_container(void *ctx, const cf_blob_container *c)
{
    cf_list_ctx *l = ctx;
    cf_xml_writer *w = l->w;
    const char *access = cf_blob_access_name(c->access);
    CF_GUARD(cf_xml_open(w, "Container"));
    CF_GUARD(cf_xml_element_str(w, "Name", c->name));
    CF_GUARD(cf_xml_open(w, "Properties"));
    CF_GUARD(cf_blob_xml_date(w, "Last-Modified", c->last_modified));
    CF_GUARD(cf_xml_element_str(w, "Etag", c->etag));
    CF_GUARD(cf_blob_xml_lease(w, &c->lease));
    if (access)
        CF_GUARD(cf_xml_element_str(w, "PublicAccess", access));
    CF_GUARD(cf_xml_element_bool(w, "HasImmutabilityPolicy", false));
    CF_GUARD(cf_xml_element_bool(w, "HasLegalHold", false));
    CF_GUARD(cf_xml_element_str(w, "DefaultEncryptionScope",
                                c->default_scope[0] ? c->default_scope : CF_BLOB_ACCOUNT_SCOPE));
    CF_GUARD(cf_xml_element_bool(w, "DenyEncryptionScopeOverride", c->deny_scope_override));
    CF_GUARD(cf_xml_close(w));
    if (l->include_metadata)
        CF_GUARD(cf_blob_xml_metadata(w, c->metadata));
    return cf_xml_close(w);
}

/* maxresults: 1..5000, default 5000. */
bool cf_blob_max_results(cf_blob_call *call, unsigned *out)
{
    const char *v = cf_blob_query(call, "maxresults");
    *out = 5000;
    if (!v)
        return true;
    char *end = NULL;
    unsigned long n = strtoul(v, &end, 10);
    if (!*v || *end || n == 0 || n > 5000)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "OutOfRangeQueryParameterValue",
                            "One of the query parameters specified in the request URI is outside "
                            "the permissible range.");
    *out = (unsigned)n;
    return true;
}

/* "include" is a comma-separated list; we honour metadata. */
bool cf_blob_include(cf_blob_call *call, const char *what)
{
    const char *v = cf_blob_query(call, "include");
    size_t n = strlen(what);
    for (const char *p = v; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, what, n) == 0)
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

bool cf_blob_xml_list_head(cf_blob_call *call, cf_xml_writer *w, const char *container,
                           unsigned max)
{
    char endpoint[400];
    const cf_blob_service *svc = call->svc;
    snprintf(endpoint, sizeof endpoint, "%s/%s", call->http->tls ? svc->url : svc->http_url,
             call->account);
    const char *prefix = cf_blob_query(call, "prefix");
    const char *marker = cf_blob_query(call, "marker");
    CF_GUARD(cf_xml_declaration(w));
    CF_GUARD(cf_xml_open(w, "EnumerationResults"));
    CF_GUARD(cf_xml_attr(w, "ServiceEndpoint", CF_SLICE_STR(endpoint)));
    if (container)
        CF_GUARD(cf_xml_attr(w, "ContainerName", CF_SLICE_STR(container)));
    CF_GUARD(cf_xml_element_str(w, "Prefix", prefix ? prefix : ""));
    CF_GUARD(cf_xml_element_str(w, "Marker", marker ? marker : ""));
    return cf_xml_element_i64(w, "MaxResults", max);
}

bool cf_blob_op_list_containers(cf_blob_call *call)
{
    unsigned max;
    char next[CF_BLOB_MARKER_MAX + 1];
    cf_xml_writer w;
    cf_xml_writer_init(&w, &call->resp->body);
    cf_list_ctx l = {&w, cf_blob_include(call, "metadata")};
    bool ok = cf_blob_max_results(call, &max) && cf_blob_xml_list_head(call, &w, NULL, max) &&
              cf_xml_open(&w, "Containers") &&
              cf_blob_container_list(call->svc->store, call->account, cf_blob_query(call, "prefix"),
                                     cf_blob_query(call, "marker"), max, call->now,
                                     cf_list_container, &l, next, sizeof next) &&
              cf_xml_close(&w) && cf_xml_element_str(&w, "NextMarker", next) && cf_xml_close(&w) &&
              cf_xml_finish(&w);
    return ok && cf_blob_reply_ok(call, 200);
}
