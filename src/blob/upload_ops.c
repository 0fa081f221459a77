/*
 * Uploads: Put Blob, Put Block and Append Block stream their bodies straight
 * into an encrypting extent writer as they arrive (begin hook -> sink ->
 * finish), so neither memory nor plaintext on disk grows with the body.
 * Put Page's body (at most 4 MiB) is gathered in secret memory instead and
 * written in one transaction (blob_store_page.c).
 * Content-MD5 / x-ms-content-crc64 are computed on the way (MD5 of a long
 * body on a second thread: it is the slowest step) and checked before the
 * commit: a mismatch leaves nothing behind.  Put Blob stores the
 * body's MD5 as the blob's Content-MD5 unless the client set one.
 *
 * Also here, because they build or read block lists: Put Block List, Get
 * Block List, and Create Append Blob (an empty body).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob_service.h"
#include "crc64.h"
#include "crypto.h"
#include "encoding.h"
#include "hash_pipe.h"
#include "secmem.h"
#include "units.h"

/* Bodies at least this long hash their MD5 on a second thread. */
#define CF_UPLOAD_MD5_THREAD_MIN CF_MIB

struct cf_blob_upload {
    cf_blob_writer *writer;
    cf_hash_pipe *md5;
    uint64_t crc;
    bool want_md5, want_crc, store_md5;
    uint8_t expect_md5[16];
    uint64_t expect_crc;
    uint64_t declared;
    /* the first failure inside the sink, replayed at finish */
    bool failed;
    cf_err err;
    const char *reason;
    char detail[256];
    json_t *props, *metadata;
    /* Put Page: the pages' range, and the body gathered (secret memory, at
     * most CF_BLOB_PAGE_MAX_WRITE) to be written in one transaction. */
    bool page;
    cf_blob_page_range range;
    cf_blob_seq_cond seq;
    cf_buf pages;
};

static bool cf_upload_declared_length(cf_blob_call *call, uint64_t *out)
{
    const char *v = cf_blob_header(call, "Content-Length");
    char *end = NULL;
    if (!v)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "MissingContentLengthHeader",
                            "Content-Length HTTP header is missing.");
    unsigned long long n = strtoull(v, &end, 10);
    if (!*v || *end)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                            "The value for one of the HTTP headers is not in the correct format.");
    *out = n;
    return true;
}

/* Transactional checksums the client sent. */
static bool cf_upload_checksums(cf_blob_call *call, struct cf_blob_upload *u)
{
    const char *md5 = cf_blob_header(call, "Content-MD5");
    const char *crc = cf_blob_header(call, "x-ms-content-crc64");
    if (cf_blob_header(call, "x-ms-structured-body"))
        return CF_BLOB_FAIL(CF_ERR_UNSUPPORTED, "FeatureNotSupported",
                            "Structured message bodies (x-ms-structured-body) are not supported.");
    if (md5 && crc)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "BothCrc64AndMd5HeaderPresent",
                            "Both x-ms-content-crc64 and Content-MD5 headers are present.");
    cf_buf raw;
    cf_buf_init(&raw, 32);
    bool ok = true;
    if (md5) {
        ok = cf_base64_decode(CF_SLICE_STR(md5), &raw) && raw.len == 16;
        if (ok)
            memcpy(u->expect_md5, raw.data, 16);
        u->want_md5 = true;
        if (!ok)
            CF_RAISE_REASON(CF_ERR_BAD_INPUT, "InvalidMd5",
                            "The MD5 value specified in the request is invalid. The MD5 value "
                            "must be 128 bits and Base64-encoded.");
    } else if (crc) {
        ok = cf_base64_decode(CF_SLICE_STR(crc), &raw) && raw.len == 8;
        for (size_t i = 0; ok && i < 8; i++)
            u->expect_crc |= (uint64_t)raw.data[i] << (8 * i);
        u->want_crc = true;
        u->crc = cf_crc64_init();
        if (!ok)
            CF_RAISE_REASON(CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                            "The value for one of the HTTP headers is not in the correct "
                            "format.");
    }
    cf_buf_free(&raw);
    return ok;
}

static bool cf_upload_sink(void *ctx, const uint8_t *data, size_t len)
{
    struct cf_blob_upload *u = ctx;
    if (u->failed)
        return false;
    cf_slice chunk = cf_slice_of(data, len);
    bool ok =
        (!u->md5 || cf_hash_pipe_update(u->md5, chunk)) &&
        (u->page ? cf_buf_append_slice(&u->pages, chunk) : cf_blob_writer_write(u->writer, chunk));
    if (u->want_crc)
        u->crc = cf_crc64_update(u->crc, chunk);
    if (!ok) {
        u->failed = true;
        u->err = cf_error_code();
        u->reason = cf_error_reason();
        snprintf(u->detail, sizeof u->detail, "%s", cf_error_detail());
    }
    return ok;
}

static bool cf_upload_open_writer(cf_blob_call *call, struct cf_blob_upload *u)
{
    const char *name = call->op->name;
    cf_blob_service *svc = call->svc;
    if (strcmp(name, "PutBlob") == 0) {
        CF_GUARD(cf_blob_parse_props(call, true, &u->props));
        CF_GUARD(cf_blob_parse_metadata(call, &u->metadata));
        u->store_md5 = !json_object_get(u->props, "content-md5");
        return cf_blob_put_begin(svc->store, call->account, call->container, call->blob, u->props,
                                 u->metadata, &call->cond, call->now, &u->writer);
    }
    if (strcmp(name, "PutPage") == 0) {
        u->page = true;
        cf_buf_init_secret(&u->pages, CF_BLOB_PAGE_MAX_WRITE);
        return cf_blob_page_request(call, u->declared, &u->range) &&
               cf_blob_page_seq_cond(call, &u->seq);
    }
    if (strcmp(name, "PutBlock") == 0) {
        const char *id = cf_blob_query(call, "blockid");
        cf_buf raw;
        cf_buf_init(&raw, CF_BLOB_BLOCK_ID_MAX);
        bool ok = id && cf_base64_decode(CF_SLICE_STR(id), &raw) && raw.len > 0;
        if (!ok) {
            cf_buf_free(&raw);
            return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidQueryParameterValue",
                                "The blockid must be Base64 of at most 64 bytes.");
        }
        ok = cf_blob_block_begin(svc->store, call->account, call->container, call->blob,
                                 cf_buf_slice(&raw), &call->cond, call->now, &u->writer);
        cf_buf_free(&raw);
        return ok;
    }
    cf_blob_append_cond ac = {-1, -1};
    const char *max = cf_blob_header(call, "x-ms-blob-condition-maxsize");
    const char *pos = cf_blob_header(call, "x-ms-blob-condition-appendpos");
    char *end = NULL;
    if (max && ((ac.max_size = strtoll(max, &end, 10)) < 0 || *end || !*max))
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue", "Invalid maxsize condition.");
    if (pos && ((ac.append_pos = strtoll(pos, &end, 10)) < 0 || *end || !*pos))
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidHeaderValue", "Invalid appendpos condition.");
    return cf_blob_append_begin(svc->store, call->account, call->container, call->blob, &call->cond,
                                &ac, call->now, &u->writer);
}

bool cf_blob_upload_begin(cf_blob_call *call)
{
    struct cf_blob_upload *u = calloc(1, sizeof *u);
    CF_ENSURE_ALLOC(u);
    call->upload = u;
    CF_GUARD(cf_upload_declared_length(call, &u->declared));
    CF_GUARD(cf_upload_checksums(call, u));
    CF_GUARD(cf_upload_open_writer(call, u));
    if (u->want_md5 || u->store_md5)
        CF_GUARD(cf_hash_pipe_new(CF_HASH_MD5, u->declared >= CF_UPLOAD_MD5_THREAD_MIN, &u->md5));
    call->http->body_sink = cf_upload_sink;
    call->http->body_ctx = u;
    return true;
}

void cf_blob_upload_free(cf_blob_call *call)
{
    struct cf_blob_upload *u = call->upload;
    if (!u)
        return;
    cf_blob_writer_free(u->writer); /* removes an uncommitted temp file */
    cf_hash_pipe_free(u->md5);
    json_decref(u->props);
    json_decref(u->metadata);
    cf_buf_free(&u->pages);
    free(u);
    call->upload = NULL;
}

/* After the whole body: lengths and checksums, then commit. */
static bool cf_upload_verify(cf_blob_call *call, struct cf_blob_upload *u, uint8_t md5[16],
                             char md5_b64[32])
{
    if (u->failed) {
        cf_error_raise_reason(u->err, u->reason, __FILE__, __LINE__, u->detail);
        return false;
    }
    if (call->http->body_received != u->declared)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "IncompleteBody", "The request body is incomplete.");
    if (u->md5) {
        CF_GUARD(cf_hash_pipe_final(u->md5, md5));
        CF_GUARD(cf_blob_base64(cf_slice_of(md5, 16), md5_b64, 32));
    }
    if (u->want_md5 && !cf_memeq_ct(md5, u->expect_md5, 16))
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "Md5Mismatch",
                            "The MD5 value specified in the request did not match with the MD5 "
                            "value calculated by the server.");
    if (u->want_crc && cf_crc64_final(u->crc) != u->expect_crc)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "Crc64Mismatch",
                            "The CRC64 value specified in the request did not match with the "
                            "CRC64 value calculated by the server.");
    if (u->store_md5) {
        CF_ENSURE(json_object_set_new(u->props, "content-md5", json_string(md5_b64)) == 0,
                  CF_ERR_NOMEM, NULL);
        CF_GUARD(cf_blob_writer_set_props(u->writer, u->props));
    }
    return true;
}

bool cf_blob_op_upload_finish(cf_blob_call *call)
{
    struct cf_blob_upload *u = call->upload;
    uint8_t md5[16];
    char md5_b64[32] = "", crc_b64[16];
    cf_blob_write_result r;
    bool put_blob = strcmp(call->op->name, "PutBlob") == 0;
    bool append = strcmp(call->op->name, "AppendBlock") == 0;
    CF_ENSURE_REF(u);
    CF_GUARD(cf_upload_verify(call, u, md5, md5_b64));
    if (u->page)
        CF_GUARD(cf_blob_page_write(call->svc->store, call->account, call->container, call->blob,
                                    u->range.offset, u->range.length,
                                    u->range.clear ? NULL : u->pages.data, &call->cond, &u->seq,
                                    call->now, &r) &&
                 cf_blob_add_sequence(call, r.sequence));
    else
        CF_GUARD(cf_blob_writer_commit(u->writer, call->now, &r));
    CF_GUARD(cf_blob_add_encrypted(call, r.scope));
    if (put_blob || append || u->page)
        CF_GUARD(cf_blob_add_etag(call, r.etag, r.last_modified));
    if (md5_b64[0])
        CF_GUARD(cf_http_add_header(call->resp, "Content-MD5", md5_b64));
    if (u->want_crc) {
        uint8_t le[8];
        for (size_t i = 0; i < 8; i++)
            le[i] = (uint8_t)(u->expect_crc >> (8 * i));
        CF_GUARD(cf_blob_base64(cf_slice_of(le, 8), crc_b64, sizeof crc_b64));
        CF_GUARD(cf_http_add_header(call->resp, "x-ms-content-crc64", crc_b64));
    }
    if (append) {
        char n[24];
        snprintf(n, sizeof n, "%llu", (unsigned long long)r.append_offset);
        CF_GUARD(cf_http_add_header(call->resp, "x-ms-blob-append-offset", n));
        snprintf(n, sizeof n, "%u", r.committed_blocks);
        CF_GUARD(cf_http_add_header(call->resp, "x-ms-blob-committed-block-count", n));
    }
    return cf_blob_reply_ok(call, 201);
}

/* ---- Put Block List, Get Block List, Create Append Blob ---- */

bool cf_blob_op_put_block_list(cf_blob_call *call)
{
    cf_blob_block_list list = {0};
    json_t *props = NULL, *metadata = NULL;
    cf_blob_write_result r;
    uint8_t md5[16];
    char md5_b64[32];
    cf_slice body = cf_buf_slice(&call->http->body);
    bool parsed = cf_blob_xml_parse_block_list(body, &list);
    bool ok =
        parsed && cf_blob_parse_props(call, false, &props) &&
        cf_blob_parse_metadata(call, &metadata) &&
        cf_blob_put_block_list(call->svc->store, call->account, call->container, call->blob,
                               list.refs, list.n, props, metadata, &call->cond, call->now, &r) &&
        cf_hash_compute(CF_HASH_MD5, body, md5) &&
        cf_blob_base64(cf_slice_of(md5, 16), md5_b64, sizeof md5_b64);
    if (parsed)
        cf_blob_block_list_free(&list);
    json_decref(props);
    json_decref(metadata);
    return ok && cf_blob_add_etag(call, r.etag, r.last_modified) &&
           cf_http_add_header(call->resp, "Content-MD5", md5_b64) &&
           cf_blob_add_encrypted(call, r.scope) && cf_blob_reply_ok(call, 201);
}

typedef struct {
    cf_xml_writer *w;
    uint64_t size;
    bool in_uncommitted;
} cf_block_list_ctx;

static bool cf_block_entry(void *ctx, const cf_block_info *b)
{
    cf_block_list_ctx *l = ctx;
    char id[128];
    CF_GUARD(cf_blob_base64(cf_slice_of(b->id, b->id_len), id, sizeof id));
    CF_GUARD(cf_xml_open(l->w, "Block"));
    CF_GUARD(cf_xml_element_str(l->w, "Name", id));
    CF_GUARD(cf_xml_element_i64(l->w, "Size", (int64_t)b->size));
    return cf_xml_close(l->w);
}

/* The committed list is written as the store calls back; the uncommitted
 * list starts when its first block arrives (or at the end). */
static bool cf_block_committed(void *ctx, const cf_block_info *b)
{
    cf_block_list_ctx *l = ctx;
    l->size += b->size;
    return cf_block_entry(ctx, b);
}

static bool cf_block_uncommitted(void *ctx, const cf_block_info *b)
{
    cf_block_list_ctx *l = ctx;
    if (!l->in_uncommitted) {
        CF_GUARD(cf_xml_close(l->w));
        CF_GUARD(cf_xml_open(l->w, "UncommittedBlocks"));
        l->in_uncommitted = true;
    }
    return cf_block_entry(ctx, b);
}

bool cf_blob_op_get_block_list(cf_blob_call *call)
{
    const char *type = cf_blob_query(call, "blocklisttype");
    bool committed = true, uncommitted = false;
    if (type && strcmp(type, "all") == 0)
        uncommitted = true;
    else if (type && strcmp(type, "uncommitted") == 0)
        committed = false, uncommitted = true;
    else if (type && strcmp(type, "committed") != 0)
        return CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidQueryParameterValue",
                            "blocklisttype must be committed, uncommitted or all.");
    cf_xml_writer w;
    cf_xml_writer_init(&w, &call->resp->body);
    cf_block_list_ctx l = {&w, 0, false};
    char size[24];
    bool ok = cf_xml_declaration(&w) && cf_xml_open(&w, "BlockList") &&
              cf_xml_open(&w, "CommittedBlocks") &&
              cf_blob_get_block_list(call->svc->store, call->account, call->container, call->blob,
                                     &call->cond, call->now, committed ? cf_block_committed : NULL,
                                     uncommitted ? cf_block_uncommitted : NULL, &l);
    if (ok && !l.in_uncommitted)
        ok = cf_xml_close(&w) && (!uncommitted || cf_xml_empty(&w, "UncommittedBlocks"));
    else if (ok)
        ok = cf_xml_close(&w);
    ok = ok && cf_xml_close(&w) && cf_xml_finish(&w);
    snprintf(size, sizeof size, "%llu", (unsigned long long)l.size);
    return ok && cf_http_add_header(call->resp, "x-ms-blob-content-length", size) &&
           cf_blob_reply_ok(call, 200);
}

bool cf_blob_op_append_create(cf_blob_call *call)
{
    json_t *props = NULL, *metadata = NULL;
    cf_blob_write_result r;
    bool ok = cf_blob_parse_props(call, true, &props) && cf_blob_parse_metadata(call, &metadata) &&
              cf_blob_append_create(call->svc->store, call->account, call->container, call->blob,
                                    props, metadata, &call->cond, call->now, &r);
    json_decref(props);
    json_decref(metadata);
    return ok && cf_blob_add_etag(call, r.etag, r.last_modified) &&
           cf_blob_add_encrypted(call, r.scope) && cf_blob_reply_ok(call, 201);
}
