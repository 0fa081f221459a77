/*
 * Blob operations other than uploads: Get Blob (ranges, streamed), Get
 * Properties / Metadata (HEAD), Set Properties / Metadata, Delete, Copy
 * (within the account) and Lease Blob.
 *
 * Get Blob streams: libmicrohttpd pulls plaintext from a store reader that
 * decrypts one segment at a time, so memory does not grow with the blob.
 * An integrity failure after the headers are out cuts the connection: the
 * client sees a short body, never wrong bytes.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob_service.h"
#include "crypto.h"
#include "encoding.h"
#include "httpdate.h"
#include "ids.h"
#include "log.h"
#include "secmem.h"

#define CF_RANGE_MD5_MAX (4u << 20)

static const char *cf_prop(json_t *props, const char *key)
{
    return json_string_value(json_object_get(props, key));
}

/* The headers every blob read (GET, HEAD) carries. */
static bool cf_blob_read_headers(cf_blob_call *call, const cf_blob_info *b)
{
    static const struct {
        const char *key, *header;
    } props[] = {{"content-encoding", "Content-Encoding"},
                 {"content-language", "Content-Language"},
                 {"content-disposition", "Content-Disposition"},
                 {"cache-control", "Cache-Control"}};
    cf_http_response *resp = call->resp;
    const char *type = cf_prop(b->props, "content-type");
    CF_GUARD(cf_http_add_header(resp, "Content-Type", type ? type : "application/octet-stream"));
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
        const char *v = cf_prop(b->props, props[i].key);
        if (v)
            CF_GUARD(cf_http_add_header(resp, props[i].header, v));
    }
    CF_GUARD(cf_blob_add_etag(call, b->etag, b->last_modified));
    CF_GUARD(cf_blob_add_date(call, "x-ms-creation-time", b->created));
    CF_GUARD(cf_http_add_header(resp, "x-ms-blob-type", cf_blob_type_name(b->type)));
    CF_GUARD(cf_blob_add_lease(call, &b->lease));
    CF_GUARD(cf_blob_add_metadata(call, b->metadata));
    CF_GUARD(cf_http_add_header(resp, "Accept-Ranges", "bytes"));
    CF_GUARD(cf_http_add_header(resp, "x-ms-server-encrypted", "true"));
    if (b->scope[0])
        CF_GUARD(cf_http_add_header(resp, "x-ms-encryption-scope", b->scope));
    if (b->type == CF_BLOB_APPEND) {
        char n[16];
        snprintf(n, sizeof n, "%u", b->committed_blocks);
        CF_GUARD(cf_http_add_header(resp, "x-ms-blob-committed-block-count", n));
    } else if (b->type == CF_BLOB_PAGE) {
        CF_GUARD(cf_blob_add_sequence(call, b->sequence));
    } else {
        CF_GUARD(cf_http_add_header(resp, "x-ms-access-tier", "Hot"));
        CF_GUARD(cf_http_add_header(resp, "x-ms-access-tier-inferred", "true"));
    }
    if (b->copy.id[0]) {
        CF_GUARD(cf_http_add_header(resp, "x-ms-copy-id", b->copy.id));
        CF_GUARD(cf_http_add_header(resp, "x-ms-copy-status", b->copy.status));
        CF_GUARD(cf_http_add_header(resp, "x-ms-copy-progress", b->copy.progress));
        CF_GUARD(cf_blob_add_date(call, "x-ms-copy-completion-time", b->copy.completion_time));
        if (b->copy.source)
            CF_GUARD(cf_http_add_header(resp, "x-ms-copy-source", b->copy.source));
    }
    return true;
}

/* A failed read (the error is raised): keeps the blob's validators for
 * the error reply, as a 304 names the ETag and a 416 the size (errors.c),
 * and frees `b`.  False, for `return`. */
static bool cf_blob_read_failed(cf_blob_call *call, cf_blob_info *b)
{
    cf_blob_read_validators *v = &call->read;
    v->known = true;
    snprintf(v->etag, sizeof v->etag, "%s", b->etag);
    v->last_modified = b->last_modified;
    v->size = b->size;
    cf_blob_info_free(b);
    return false;
}

/* The first bytes are read before the headers go out, so a blob whose
 * first segment (or extent length) fails its check is a clean 500; later
 * failures can only cut the connection. */
#define CF_BLOB_PREFETCH (64u * 1024)

typedef struct {
    cf_blob_reader *reader;
    uint8_t *head; /* the prefetched bytes, sized to the body (small bodies are the common case) */
    size_t head_len, head_pos;
    char request_id[CF_REQUEST_ID_LEN + 1];
} cf_blob_stream;

static ssize_t cf_blob_stream_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    (void)pos; /* libmicrohttpd reads sequentially */
    cf_blob_stream *st = ctx;
    if (st->head_pos < st->head_len) {
        size_t n = st->head_len - st->head_pos;
        if (n > max)
            n = max;
        memcpy(buf, st->head + st->head_pos, n);
        st->head_pos += n;
        return (ssize_t)n;
    }
    size_t got = 0;
    if (!cf_blob_reader_read(st->reader, (uint8_t *)buf, max, &got) || got == 0) {
        cf_log(CF_LOG_ERROR, st->request_id, "blob read failed mid-response: %s (%s)",
               cf_error_detail(), cf_error_where());
        return CF_HTTP_READ_ABORT;
    }
    return (ssize_t)got;
}

static void cf_blob_stream_free(void *ctx)
{
    cf_blob_stream *st = ctx;
    cf_blob_reader_free(st->reader);
    cf_memzero(st->head, st->head_len); /* plaintext of stored data */
    free(st->head);
    free(st);
}

static bool cf_blob_stream_prefetch(cf_blob_stream *st, uint64_t length)
{
    size_t want = length < CF_BLOB_PREFETCH ? (size_t)length : CF_BLOB_PREFETCH;
    st->head = malloc(want ? want : 1);
    CF_ENSURE_ALLOC(st->head);
    while (st->head_len < want) {
        size_t got = 0;
        CF_GUARD(
            cf_blob_reader_read(st->reader, st->head + st->head_len, want - st->head_len, &got));
        CF_ENSURE(got > 0, CF_ERR_DECRYPT, "the blob is shorter than its metadata says");
        st->head_len += got;
    }
    return true;
}

/* x-ms-range-get-content-md5: the range (<= 4 MiB) is read whole first so
 * its MD5 can lead the response. */
static bool cf_blob_range_md5(cf_blob_call *call, cf_blob_reader *r, uint64_t length)
{
    CF_ENSURE_REASON(length <= CF_RANGE_MD5_MAX, CF_ERR_BAD_INPUT, "OutOfRangeInput",
                     "x-ms-range-get-content-md5 needs a range of at most 4 MiB.");
    cf_buf *body = &call->resp->body;
    uint8_t *p;
    size_t got = 0, total = 0;
    CF_GUARD(cf_buf_extend(body, (size_t)length, &p));
    while (total < length) {
        CF_GUARD(cf_blob_reader_read(r, p + total, (size_t)length - total, &got));
        CF_ENSURE(got > 0, CF_ERR_DECRYPT, "short read");
        total += got;
    }
    uint8_t md5[16];
    char b64[32];
    CF_GUARD(cf_hash_compute(CF_HASH_MD5, cf_slice_of(p, total), md5));
    CF_GUARD(cf_blob_base64(cf_slice_of(md5, 16), b64, sizeof b64));
    return cf_http_add_header(call->resp, "Content-MD5", b64);
}

bool cf_blob_op_get_blob(cf_blob_call *call)
{
    bool ranged;
    uint64_t offset = 0, length = CF_BLOB_WHOLE;
    cf_blob_info b = {0};
    cf_blob_reader *r = NULL;
    if (!cf_blob_parse_range(call, &ranged, &offset, &length) ||
        !cf_blob_reader_open(call->svc->store, call->account, call->container, call->blob, offset,
                             length, &call->cond, call->now, &b, &r))
        return cf_blob_read_failed(call, &b);
    cf_blob_reader_range(r, &offset, &length);
    if (ranged && b.size == 0) {
        /* Any range of an empty blob is unsatisfiable, as in Azure. */
        cf_blob_reader_free(r);
        CF_RAISE_REASON(CF_ERR_BAD_INPUT, "InvalidRange",
                        "The range specified is invalid for the current size of the resource.");
        return cf_blob_read_failed(call, &b);
    }
    const char *md5 = cf_prop(b.props, "content-md5");
    const char *want_md5 = cf_blob_header(call, "x-ms-range-get-content-md5");
    bool range_md5 = ranged && want_md5 && strcmp(want_md5, "true") == 0;
    char cr[80];
    snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)offset,
             (unsigned long long)(offset + length - (length ? 1 : 0)), (unsigned long long)b.size);
    bool ok = cf_blob_read_headers(call, &b) &&
              (!md5 || cf_http_add_header(call->resp,
                                          ranged ? "x-ms-blob-content-md5" : "Content-MD5", md5)) &&
              (!ranged || cf_http_add_header(call->resp, "Content-Range", cr)) &&
              (!range_md5 || call->head || cf_blob_range_md5(call, r, length));
    cf_blob_info_free(&b);
    if (!ok) {
        cf_blob_reader_free(r);
        return false;
    }
    if (range_md5 && !call->head) {
        /* The range is in the body already (read for its MD5): nothing to stream. */
        cf_blob_reader_free(r);
        CF_GUARD(cf_blob_reply_ok(call, 206));
        call->resp->content_type = NULL;
        return true;
    }
    cf_blob_stream *st = calloc(1, sizeof *st);
    if (!st) {
        cf_blob_reader_free(r);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    st->reader = r;
    memcpy(st->request_id, call->http->request_id, sizeof st->request_id);
    if ((!call->head && !cf_blob_stream_prefetch(st, length)) ||
        !cf_blob_reply_ok(call, ranged ? 206 : 200)) {
        cf_blob_stream_free(st);
        return false;
    }
    call->resp->content_type = NULL;
    call->resp->stream.reader = cf_blob_stream_read;
    call->resp->stream.free = cf_blob_stream_free;
    call->resp->stream.ctx = st;
    call->resp->stream.length = length;
    return true;
}

bool cf_blob_op_get_metadata(cf_blob_call *call)
{
    cf_blob_info b = {0};
    if (!cf_blob_get(call->svc->store, call->account, call->container, call->blob, &call->cond,
                     call->now, &b))
        return cf_blob_read_failed(call, &b);
    bool ok = cf_blob_add_etag(call, b.etag, b.last_modified) &&
              cf_blob_add_metadata(call, b.metadata) && cf_blob_reply_ok(call, 200);
    cf_blob_info_free(&b);
    return ok;
}

bool cf_blob_op_set_properties(cf_blob_call *call)
{
    json_t *props = NULL;
    cf_blob_write_result r;
    bool handled = false;
    /* A page blob's resize or sequence number (page_ops.c). */
    CF_GUARD(cf_blob_page_properties(call, &handled));
    if (handled)
        return true;
    bool ok = cf_blob_parse_props(call, false, &props) &&
              cf_blob_set_properties(call->svc->store, call->account, call->container, call->blob,
                                     props, &call->cond, call->now, &r);
    json_decref(props);
    return ok && cf_blob_reply_written(call, 200, &r);
}

bool cf_blob_op_set_metadata(cf_blob_call *call)
{
    json_t *metadata = NULL;
    cf_blob_write_result r;
    bool ok = cf_blob_parse_metadata(call, &metadata) &&
              cf_blob_set_metadata(call->svc->store, call->account, call->container, call->blob,
                                   metadata, &call->cond, call->now, &r);
    json_decref(metadata);
    return ok && cf_http_add_header(call->resp, "x-ms-request-server-encrypted", "true") &&
           cf_blob_reply_written(call, 200, &r);
}

bool cf_blob_op_delete(cf_blob_call *call)
{
    const char *snapshots = cf_blob_header(call, "x-ms-delete-snapshots");
    CF_ENSURE_REASON(!snapshots || strcmp(snapshots, "include") == 0 ||
                         strcmp(snapshots, "only") == 0,
                     CF_ERR_BAD_INPUT, "InvalidHeaderValue", "x-ms-delete-snapshots is invalid.");
    return cf_blob_delete(call->svc->store, call->account, call->container, call->blob, &call->cond,
                          call->now) &&
           cf_blob_reply_ok(call, 202);
}

bool cf_blob_op_blob_lease(cf_blob_call *call)
{
    cf_lease_req req;
    cf_lease_result r;
    return cf_blob_parse_lease(call, &req) &&
           cf_blob_lease(call->svc->store, call->account, call->container, call->blob, &req,
                         &call->cond, call->now, &r) &&
           cf_blob_reply_lease(call, &req, &r);
}

/* ---- Copy Blob ---- */

typedef struct {
    char container[CF_BLOB_CONTAINER_MAX + 1];
    char *name;
    const char *query; /* into the source URL: its SAS, if any */
} cf_copy_source;

/* scheme://host[:port]/<account>/<container>/<blob>[?query], same account. */
static bool cf_parse_copy_source(cf_blob_call *call, const char *url, cf_copy_source *out)
{
    const char *p = strstr(url, "://");
    CF_ENSURE_REASON(p && strlen(url) <= 4096, CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                     "x-ms-copy-source must be a URL.");
    p = strchr(p + 3, '/');
    CF_ENSURE_REASON(p, CF_ERR_BAD_INPUT, "InvalidHeaderValue", "x-ms-copy-source has no path.");
    const char *q = strchr(p, '?');
    out->query = q ? q + 1 : "";
    size_t alen = strlen(call->account);
    CF_ENSURE_REASON(strncmp(p + 1, call->account, alen) == 0 && p[1 + alen] == '/',
                     CF_ERR_BAD_INPUT, "CannotVerifyCopySource",
                     "Copy Blob copies within one account only.");
    const char *c = p + 2 + alen;
    const char *slash = strchr(c, '/');
    size_t clen = slash ? (size_t)(slash - c) : 0;
    CF_ENSURE_REASON(slash && (!q || slash < q) && clen >= 3 && clen <= CF_BLOB_CONTAINER_MAX,
                     CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                     "x-ms-copy-source does not name a blob.");
    memcpy(out->container, c, clen);
    out->container[clen] = 0;
    const char *n = slash + 1;
    size_t nlen = q ? (size_t)(q - n) : strlen(n);
    cf_buf name;
    cf_buf_init(&name, CF_BLOB_NAME_MAX + 1);
    bool ok = cf_percent_decode(cf_slice_of(n, nlen), false, &name) && cf_buf_terminate(&name) &&
              cf_blob_name_valid((const char *)name.data);
    if (ok)
        out->name = strdup((const char *)name.data);
    cf_buf_free(&name);
    CF_ENSURE_REASON(ok && cf_blob_container_name_valid(out->container), CF_ERR_BAD_INPUT,
                     "InvalidHeaderValue", "x-ms-copy-source does not name a blob.");
    CF_ENSURE_ALLOC(out->name);
    return true;
}

static bool cf_source_conditions(cf_blob_call *call, cf_blob_cond *c)
{
    const char *ims = cf_blob_header(call, "x-ms-source-if-modified-since");
    const char *ius = cf_blob_header(call, "x-ms-source-if-unmodified-since");
    *c = (cf_blob_cond){
        .if_match = cf_blob_header(call, "x-ms-source-if-match"),
        .if_none_match = cf_blob_header(call, "x-ms-source-if-none-match"),
        .lease_id = cf_blob_header(call, "x-ms-source-lease-id"),
    };
    if ((ims && !cf_httpdate_parse(CF_SLICE_STR(ims), &c->if_modified_since)) ||
        (ius && !cf_httpdate_parse(CF_SLICE_STR(ius), &c->if_unmodified_since)))
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                            "The value for one of the HTTP headers is not in the correct format.");
    return true;
}

/* Copy Blob to a destination under a customer-provided key or in another
 * encryption scope: its extents cannot be shared with the source, so the
 * body is read (decrypted) and written again under the destination's key,
 * a segment at a time.  Block blobs only; the destination records no
 * x-ms-copy-* properties. */
static bool cf_copy_reencrypting(cf_blob_call *call, const cf_copy_source *src,
                                 const cf_blob_cond *src_cond, json_t *metadata,
                                 cf_blob_copy_result *r)
{
    cf_blob_store *s = call->svc->store;
    cf_blob_info info = {0};
    cf_blob_reader *reader = NULL;
    cf_blob_writer *w = NULL;
    cf_blob_write_result res;
    uint8_t *buf = malloc(CF_EXTENT_SEGMENT_DEFAULT);
    bool ok = buf && cf_blob_reader_open(s, call->account, src->container, src->name, 0,
                                         CF_BLOB_WHOLE, src_cond, call->now, &info, &reader);
    if (!buf)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    if (ok && info.type != CF_BLOB_BLOCK) {
        CF_RAISE_REASON(CF_ERR_UNSUPPORTED, "FeatureNotSupported",
                        "Only block blobs can be copied to a customer-provided key.");
        ok = false;
    }
    ok = ok && cf_blob_put_begin(s, call->account, call->container, call->blob, info.props,
                                 metadata ? metadata : info.metadata, &call->cond, call->now, &w);
    for (size_t got = 1; ok && got;)
        ok = cf_blob_reader_read(reader, buf, CF_EXTENT_SEGMENT_DEFAULT, &got) &&
             (!got || cf_blob_writer_write(w, cf_slice_of(buf, got)));
    ok = ok && cf_blob_writer_commit(w, call->now, &res) && cf_uuid_v4(r->copy_id);
    if (ok) {
        r->status = "success";
        snprintf(r->etag, sizeof r->etag, "%s", res.etag);
        r->last_modified = res.last_modified;
    }
    cf_blob_writer_free(w);
    cf_blob_reader_free(reader);
    cf_blob_info_free(&info);
    cf_memzero(buf, buf ? CF_EXTENT_SEGMENT_DEFAULT : 0);
    free(buf);
    return ok;
}

bool cf_blob_op_copy(cf_blob_call *call)
{
    const char *url = cf_blob_header(call, "x-ms-copy-source");
    cf_copy_source src = {0};
    cf_blob_cond src_cond;
    json_t *metadata = NULL;
    cf_blob_copy_result r;
    /* x-ms-copy-source is kept and shown later: without its query, which
     * may carry a SAS signature. */
    char *stored_url = strndup(url, strcspn(url, "?"));
    bool ok = stored_url && cf_parse_copy_source(call, url, &src) &&
              cf_blob_may_read_source(call, src.container, src.name, src.query) &&
              cf_source_conditions(call, &src_cond) && cf_blob_parse_metadata(call, &metadata) &&
              (call->cpk ? cf_copy_reencrypting(call, &src, &src_cond, metadata, &r)
                         : cf_blob_copy(call->svc->store, call->account, src.container, src.name,
                                        &src_cond, call->container, call->blob, &call->cond,
                                        metadata, stored_url, call->now, &r));
    /* Another encryption scope than the source's: the body is encrypted again. */
    if (!ok && cf_error_reason() && strcmp(cf_error_reason(), CF_BLOB_REENCRYPT) == 0)
        ok = cf_copy_reencrypting(call, &src, &src_cond, metadata, &r);
    if (!stored_url)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    free(stored_url);
    free(src.name);
    json_decref(metadata);
    return ok && cf_blob_add_etag(call, r.etag, r.last_modified) &&
           cf_http_add_header(call->resp, "x-ms-copy-id", r.copy_id) &&
           cf_http_add_header(call->resp, "x-ms-copy-status", r.status) &&
           cf_http_add_header(call->resp, "x-ms-request-server-encrypted", "true") &&
           cf_blob_reply_ok(call, 202);
}
