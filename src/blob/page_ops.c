/*
 * Page blobs over HTTP (the store: blob_store_page.c; the wire facts and
 * why: docs/page-blobs.md): Create Page Blob, Get Page Ranges, the resize
 * and sequence-number forms of Set Blob Properties, and the headers of
 * Put Page, whose body streams through upload_ops.c like every upload's.
 *
 * Ranges on the wire are inclusive ("bytes=0-511" is one page).  The diff
 * form of Get Page Ranges needs snapshots, which Coffer does not keep: it
 * is refused, never answered as if nothing had changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blob_service.h"

#define CF_PAGE_MARKER_MAX 24 /* a decimal byte offset */

bool cf_blob_add_sequence(cf_blob_call *call, int64_t sequence)
{
    char n[24];
    snprintf(n, sizeof n, "%lld", (long long)sequence);
    return cf_http_add_header(call->resp, "x-ms-blob-sequence-number", n);
}

bool cf_blob_op_page_create(cf_blob_call *call)
{
    int64_t size = -1, sequence = 0;
    CF_GUARD(cf_blob_number_header(call, "x-ms-blob-content-length", 0, INT64_MAX, &size));
    CF_ENSURE_REASON(size >= 0, CF_ERR_BAD_INPUT, "MissingRequiredHeader",
                     "A page blob needs x-ms-blob-content-length.");
    CF_GUARD(cf_blob_number_header(call, "x-ms-blob-sequence-number", 0, INT64_MAX, &sequence));
    CF_ENSURE_REASON(call->http->body.len == 0, CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                     "Create Page Blob takes no body: pages are written with Put Page.");
    json_t *props = NULL, *metadata = NULL;
    cf_blob_write_result r;
    bool ok =
        cf_blob_parse_props(call, true, &props) && cf_blob_parse_metadata(call, &metadata) &&
        cf_blob_page_create(call->svc->store, call->account, call->container, call->blob,
                            (uint64_t)size, sequence, props, metadata, &call->cond, call->now, &r);
    json_decref(props);
    json_decref(metadata);
    return ok && cf_blob_add_encrypted(call, r.scope) && cf_blob_reply_written(call, 201, &r);
}

/* ---- Put Page's headers ---- */

bool cf_blob_page_request(cf_blob_call *call, uint64_t declared, cf_blob_page_range *out)
{
    const char *mode = cf_blob_header(call, "x-ms-page-write");
    if (!mode)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "MissingRequiredHeader",
                            "Put Page needs x-ms-page-write (update or clear).");
    out->clear = strcasecmp(mode, "clear") == 0;
    CF_ENSURE_REASON(out->clear || strcasecmp(mode, "update") == 0, CF_ERR_BAD_INPUT,
                     "InvalidHeaderValue", "x-ms-page-write must be update or clear.");
    bool has = false;
    CF_GUARD(cf_blob_parse_range(call, &has, &out->offset, &out->length));
    CF_ENSURE_REASON(has, CF_ERR_BAD_INPUT, "MissingRequiredHeader",
                     "Put Page needs the pages' range in x-ms-range or Range.");
    /* "bytes=N-": as many pages as the body holds. */
    if (out->length == CF_BLOB_WHOLE && !out->clear)
        out->length = declared;
    CF_ENSURE_REASON(out->length != CF_BLOB_WHOLE && out->offset % CF_BLOB_PAGE_SIZE == 0 &&
                         out->length % CF_BLOB_PAGE_SIZE == 0 && out->length > 0,
                     CF_ERR_BAD_INPUT, "InvalidPageRange",
                     "The page range must start and end on a 512-byte boundary.");
    CF_ENSURE_REASON(out->length <= CF_BLOB_PAGE_MAX_WRITE, CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                     "A page write covers at most 4 MiB.");
    CF_ENSURE_REASON(declared == (out->clear ? 0 : out->length), CF_ERR_BAD_INPUT,
                     "InvalidHeaderValue",
                     out->clear ? "A page clear takes no body."
                                : "Content-Length must equal the length of the page range.");
    return true;
}

bool cf_blob_page_seq_cond(cf_blob_call *call, cf_blob_seq_cond *out)
{
    *out = (cf_blob_seq_cond){-1, -1, -1};
    return cf_blob_number_header(call, "x-ms-if-sequence-number-le", 0, INT64_MAX, &out->le) &&
           cf_blob_number_header(call, "x-ms-if-sequence-number-lt", 0, INT64_MAX, &out->lt) &&
           cf_blob_number_header(call, "x-ms-if-sequence-number-eq", 0, INT64_MAX, &out->eq);
}

/* ---- Get Page Ranges ---- */

static bool cf_page_range_xml(void *ctx, uint64_t first, uint64_t last)
{
    cf_xml_writer *w = ctx;
    return cf_xml_open(w, "PageRange") && cf_xml_element_i64(w, "Start", (int64_t)first) &&
           cf_xml_element_i64(w, "End", (int64_t)last) && cf_xml_close(w);
}

/* maxresults (above the cap: the cap, as Azure does) and marker. */
static bool cf_page_paging(cf_blob_call *call, cf_blob_page_ranges_req *req)
{
    const char *max = cf_blob_query(call, "maxresults");
    const char *marker = cf_blob_query(call, "marker");
    char *end = NULL;
    req->max_results = CF_BLOB_PAGE_RANGES_MAX;
    if (max) {
        unsigned long long n = strtoull(max, &end, 10);
        CF_ENSURE_REASON(*max && !*end && n > 0, CF_ERR_BAD_INPUT, "OutOfRangeQueryParameterValue",
                         "maxresults must be 1 or more.");
        if (n < CF_BLOB_PAGE_RANGES_MAX)
            req->max_results = (unsigned)n;
    }
    if (marker && *marker) {
        unsigned long long n = strtoull(marker, &end, 10);
        CF_ENSURE_REASON(*end == '\0' && n > 0 && strlen(marker) < CF_PAGE_MARKER_MAX,
                         CF_ERR_BAD_INPUT, "InvalidQueryParameterValue",
                         "The marker is not one this service returned.");
        req->marker = n;
    }
    return true;
}

bool cf_blob_op_page_ranges(cf_blob_call *call)
{
    if (cf_blob_query(call, "prevsnapshot") || cf_blob_header(call, "x-ms-previous-snapshot-url"))
        return CF_BLOB_FAIL(CF_ERR_UNSUPPORTED, "FeatureNotSupported",
                            "Snapshots are not kept here, so page range differences cannot be "
                            "listed.");
    cf_blob_page_ranges_req req = {0, CF_BLOB_WHOLE, 0, 0};
    bool ranged = false;
    CF_GUARD(cf_blob_parse_range(call, &ranged, &req.offset, &req.length));
    CF_GUARD(cf_page_paging(call, &req));
    cf_xml_writer w;
    cf_xml_writer_init(&w, &call->resp->body);
    cf_blob_info info;
    uint64_t next = 0;
    bool ok =
        cf_xml_declaration(&w) && cf_xml_open(&w, "PageList") &&
        cf_blob_page_ranges(call->svc->store, call->account, call->container, call->blob, &req,
                            &call->cond, call->now, &info, cf_page_range_xml, &w, &next);
    char n[24];
    if (ok && next) {
        snprintf(n, sizeof n, "%llu", (unsigned long long)next);
        ok = cf_xml_element_str(&w, "NextMarker", n);
    }
    ok = ok && cf_xml_close(&w) && cf_xml_finish(&w);
    snprintf(n, sizeof n, "%llu", (unsigned long long)info.size);
    ok = ok && cf_blob_add_etag(call, info.etag, info.last_modified) &&
         cf_http_add_header(call->resp, "x-ms-blob-content-length", n);
    cf_blob_info_free(&info);
    return ok && cf_blob_reply_ok(call, 200);
}

/* ---- Set Blob Properties: resize, sequence number ---- */

static bool cf_page_seq_action(cf_blob_call *call, const char *action, cf_blob_write_result *r)
{
    static const struct {
        const char *name;
        cf_blob_seq_action action;
    } actions[] = {{"max", CF_SEQ_MAX}, {"update", CF_SEQ_UPDATE}, {"increment", CF_SEQ_INCREMENT}};
    size_t i = 0;
    while (i < sizeof actions / sizeof actions[0] && strcasecmp(action, actions[i].name) != 0)
        i++;
    CF_ENSURE_REASON(i < sizeof actions / sizeof actions[0], CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                     "x-ms-sequence-number-action must be max, update or increment.");
    const char *given = cf_blob_header(call, "x-ms-blob-sequence-number");
    bool increment = actions[i].action == CF_SEQ_INCREMENT;
    CF_ENSURE_REASON(!increment || !given, CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                     "increment takes no x-ms-blob-sequence-number.");
    CF_ENSURE_REASON(increment || given, CF_ERR_BAD_INPUT, "MissingRequiredHeader",
                     "max and update need x-ms-blob-sequence-number.");
    int64_t value = 0;
    CF_GUARD(cf_blob_number_header(call, "x-ms-blob-sequence-number", 0, INT64_MAX, &value));
    return cf_blob_page_sequence(call->svc->store, call->account, call->container, call->blob,
                                 actions[i].action, value, &call->cond, call->now, r);
}

bool cf_blob_page_properties(cf_blob_call *call, bool *handled)
{
    const char *size_text = cf_blob_header(call, "x-ms-blob-content-length");
    const char *action = cf_blob_header(call, "x-ms-sequence-number-action");
    *handled = size_text || action;
    if (!*handled)
        return true;
    cf_blob_write_result r;
    if (size_text) {
        int64_t size = 0;
        CF_GUARD(cf_blob_number_header(call, "x-ms-blob-content-length", 0, INT64_MAX, &size));
        CF_GUARD(cf_blob_page_resize(call->svc->store, call->account, call->container, call->blob,
                                     (uint64_t)size, &call->cond, call->now, &r));
    }
    if (action)
        CF_GUARD(cf_page_seq_action(call, action, &r));
    return cf_blob_add_sequence(call, r.sequence) && cf_blob_reply_written(call, 200, &r);
}
