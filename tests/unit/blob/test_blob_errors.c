/*
 * coffer-blob's error contract (errors.c): CF_BLOB_FAIL raises with the
 * Azure reason at the caller's file:line and is false; cf_blob_reply_error
 * renders the raised error once, as Azure does: status and x-ms-error-code
 * from the one table, the XML body (none for HEAD or 304), a generic message
 * for server-side failures, and a failed read's validators (ETag on 304,
 * Content-Range on 416).  No server runs: the request has no connection,
 * so it carries no headers.
 */
#include <stdint.h>

#include "blob_service.h"
#include "test.h"

typedef struct {
    cf_blob_service svc;
    cf_http_request req;
    cf_http_response resp;
    cf_blob_call call;
} fixture;

static void fixture_init(fixture *f, const char *method)
{
    memset(f, 0, sizeof *f);
    f->req.method = method;
    f->req.path = f->req.raw_path = "/coffer/c/b";
    f->req.client_addr = "127.0.0.1:1";
    snprintf(f->req.request_id, sizeof f->req.request_id, "%s",
             "00000000-0000-4000-8000-000000000000");
    cf_buf_init(&f->resp.body, 1 << 16);
    cf_buf_init(&f->resp.headers, CF_HTTP_HEADERS_MAX);
    f->call = (cf_blob_call){.svc = &f->svc,
                             .http = &f->req,
                             .resp = &f->resp,
                             .head = strcmp(method, "HEAD") == 0,
                             .now = 1700000000};
}

static void fixture_free(fixture *f)
{
    cf_buf_free(&f->resp.body);
    cf_buf_free(&f->resp.headers);
}

static bool body_has(const fixture *f, const char *text)
{
    size_t n = strlen(text);
    for (size_t i = 0; i + n <= f->resp.body.len; i++)
        if (memcmp(f->resp.body.data + i, text, n) == 0)
            return true;
    return false;
}

static const char *header(const fixture *f, const char *name)
{
    const char *v = cf_http_response_header(&f->resp, name);
    return v ? v : "(none)";
}

static void test_fail_keeps_the_raising_line(void)
{
    cf_error_clear();
    const int line = __LINE__ + 1; /* the next line raises */
    bool r = CF_BLOB_FAIL(CF_ERR_BAD_INPUT, "InvalidBlockId", "bad id");
    CHECK(!r);
    CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(cf_error_reason() && strcmp(cf_error_reason(), "InvalidBlockId") == 0);
    CHECK_STR(cf_error_detail(), "bad id");
    char where[64];
    snprintf(where, sizeof where, "test_blob_errors.c:%d", line);
    const char *at = cf_error_where();
    size_t n = strlen(at), m = strlen(where);
    CHECK(n >= m && strcmp(at + n - m, where) == 0);
    if (!(n >= m && strcmp(at + n - m, where) == 0))
        fprintf(stderr, "  raised at %s, want ...%s\n", at, where);
}

/* A fresh request (method, and the validators a read kept, or NULL) whose
 * handler failed with `code` / `reason` / `message`, rendered. */
static void render(fixture *f, const char *method, const cf_blob_read_validators *read, cf_err code,
                   const char *reason, const char *message)
{
    fixture_init(f, method);
    if (read)
        f->call.read = *read;
    CF_RAISE_REASON(code, reason, message);
    cf_blob_reply_error(&f->call);
}

static void test_client_error_rendered(void)
{
    fixture f;
    render(&f, "GET", NULL, CF_ERR_BAD_INPUT, "InvalidBlockId", "The block id is not Base64.");
    CHECK(f.resp.status == 400);
    CHECK_STR(header(&f, "x-ms-error-code"), "InvalidBlockId");
    CHECK_STR(header(&f, "x-ms-version"), CF_BLOB_VERSION_DEFAULT);
    CHECK(body_has(&f, "<Error><Code>InvalidBlockId</Code><Message>"));
    CHECK(body_has(&f, "The block id is not Base64.\nRequestId:"));
    CHECK_STR(header(&f, "WWW-Authenticate"), "(none)"); /* no --vault-url */
    fixture_free(&f);
}

static void test_server_error_hides_detail(void)
{
    fixture f;
    render(&f, "GET", NULL, CF_ERR_IO, NULL, "/secret/path/extent.tmp: No space left");
    CHECK(f.resp.status == 500);
    CHECK_STR(header(&f, "x-ms-error-code"), "InternalError");
    CHECK(!body_has(&f, "/secret/path"));
    CHECK(body_has(&f, "The server encountered an internal error."));
    fixture_free(&f);
}

static void test_head_has_no_body(void)
{
    fixture f;
    render(&f, "HEAD", NULL, CF_ERR_NOT_FOUND, "BlobNotFound", "no such blob");
    CHECK(f.resp.status == 404);
    CHECK_STR(header(&f, "x-ms-error-code"), "BlobNotFound");
    CHECK(f.resp.body.len == 0);
    fixture_free(&f);
}

static void test_read_validators(void)
{
    const cf_blob_read_validators read = {
        .known = true, .etag = "\"0x1\"", .last_modified = 1700000000, .size = 5};
    fixture f;
    render(&f, "GET", &read, CF_ERR_CONFLICT, "NotModified", "not modified");
    CHECK(f.resp.status == 304);
    CHECK_STR(header(&f, "ETag"), "\"0x1\"");
    CHECK(strcmp(header(&f, "Last-Modified"), "(none)") != 0);
    CHECK(f.resp.body.len == 0);
    fixture_free(&f);

    render(&f, "GET", &read, CF_ERR_BAD_INPUT, "InvalidRange", "past the end");
    CHECK(f.resp.status == 416);
    CHECK_STR(header(&f, "Content-Range"), "bytes */5");
    CHECK_STR(header(&f, "ETag"), "(none)");
    fixture_free(&f);

    /* Not a read (no validators kept): the error alone. */
    render(&f, "GET", NULL, CF_ERR_BAD_INPUT, "InvalidRange", "past the end");
    CHECK(f.resp.status == 416);
    CHECK_STR(header(&f, "Content-Range"), "(none)");
    fixture_free(&f);
}

int main(void)
{
    RUN(test_fail_keeps_the_raising_line);
    RUN(test_client_error_rendered);
    RUN(test_server_error_hides_detail);
    RUN(test_head_has_no_body);
    RUN(test_read_validators);
    TEST_DONE();
}
