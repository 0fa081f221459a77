/*
 * The CLI's shared libcurl transport (src/cli/https.c): the status table,
 * the reply cap, how failed transfers and error replies are reported, and
 * that the set-up refuses anything but https.  No network: the transfers go
 * to a closed port on the loopback.
 */
#include "cli.h"
#include "https.h"

#include <unistd.h>

#include "test.h"

static void test_status_err(void)
{
    CHECK(cf_cli_https_status_err(400) == CF_ERR_BAD_INPUT);
    CHECK(cf_cli_https_status_err(401) == CF_ERR_UNAUTHORIZED);
    CHECK(cf_cli_https_status_err(403) == CF_ERR_FORBIDDEN);
    CHECK(cf_cli_https_status_err(404) == CF_ERR_NOT_FOUND);
    CHECK(cf_cli_https_status_err(409) == CF_ERR_CONFLICT);
    CHECK(cf_cli_https_status_err(412) == CF_ERR_CONFLICT);
    CHECK(cf_cli_https_status_err(413) == CF_ERR_TOO_LARGE);
    CHECK(cf_cli_https_status_err(500) == CF_ERR_IO);
    CHECK(cf_cli_https_status_err(302) == CF_ERR_IO);
}

static void test_reply_cap(void)
{
    cf_buf b;
    cf_buf_init(&b, 8);
    char data[] = "abcdefghij";
    CHECK(cf_cli_https_write_buf(data, 1, 5, &b) == 5);
    CHECK(cf_cli_https_write_buf(data + 5, 1, 3, &b) == 3); /* exactly full */
    CHECK(cf_cli_https_write_buf(data + 8, 1, 1, &b) == 0); /* over: curl aborts */
    CHECK(b.len == 8);
    CHECK_MEM(b.data, "abcdefgh", 8);
    cf_buf_free(&b);
}

static void test_raise(void)
{
    cf_cli_https_raise(CURLE_WRITE_ERROR, "", "the vault's reply", "cannot reach https://v");
    CHECK(cf_error_code() == CF_ERR_TOO_LARGE);
    CHECK_STR(cf_error_detail(), "the vault's reply exceeds the 16 MiB limit");

    cf_cli_https_raise(CURLE_COULDNT_CONNECT, "", "the vault's reply", "cannot reach https://v");
    CHECK(cf_error_code() == CF_ERR_IO);
    CHECK_STR(cf_error_detail(), "cannot reach https://v: Couldn't connect to server");

    /* libcurl's own, more precise, reason wins when it gave one. */
    cf_cli_https_raise(CURLE_COULDNT_CONNECT, "Failed to connect to v port 1", "x",
                       "request to https://v failed");
    CHECK_STR(cf_error_detail(), "request to https://v failed: Failed to connect to v port 1");
}

static void test_origin(void)
{
    char o[64];
    cf_cli_https_origin("https://h:8443/path/x?q=1", o, sizeof o);
    CHECK_STR(o, "https://h:8443");
    cf_cli_https_origin("https://h", o, sizeof o);
    CHECK_STR(o, "https://h");
    cf_cli_https_origin("https://h/", o, sizeof o);
    CHECK_STR(o, "https://h");
}

/* Runs print_error with stderr sent to a file; returns what it printed. */
static void printed(long status, const char *code, const char *message, char *out, size_t len)
{
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f)
        return;
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(f), 2);
    cf_cli_https_print_error(status, code, message, "the service returned an error");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = 0;
    fclose(f);
}

static void test_print_error(void)
{
    char out[256];
    CHECK(!cf_cli_error_reported());
    printed(404, "BlobNotFound", "The specified blob does not exist.", out, sizeof out);
    CHECK_STR(out, "coffer: BlobNotFound: The specified blob does not exist. (HTTP 404)\n");
    CHECK(cf_cli_error_reported()); /* main must not print it again */
    printed(500, NULL, NULL, out, sizeof out);
    CHECK_STR(out, "coffer: error: the service returned an error (HTTP 500)\n");
    /* A service string cannot move the cursor or forge a line. */
    printed(400, "Bad\x1b[2J", "line\nforged", out, sizeof out);
    CHECK_STR(out, "coffer: Bad?[2J: line?forged (HTTP 400)\n");
}

/* One transfer to a closed loopback port with the shared set-up. */
static CURLcode transfer(const char *url, char *errbuf)
{
    CURL *h = NULL;
    CHECK(cf_cli_https_handle(&h));
    if (!h)
        return CURLE_FAILED_INIT;
    struct curl_slist *headers = NULL;
    CHECK(cf_cli_https_header_add(&headers, "Authorization: Bearer secret"));
    CHECK(cf_cli_https_header_add(&headers, "Expect:"));
    errbuf[0] = 0;
    CHECK(cf_cli_https_setup(h, url, headers, "/nonexistent/ca.pem", errbuf));
    CURLcode rc = cf_cli_https_perform(h, headers); /* frees the headers */
    curl_easy_cleanup(h);
    return rc;
}

static void test_transfer(void)
{
    char errbuf[CURL_ERROR_SIZE];
    CHECK(transfer("https://127.0.0.1:1/", errbuf) == CURLE_COULDNT_CONNECT);
    CHECK(errbuf[0] != 0);
    /* https only: plain http is refused before anything is sent. */
    CHECK(transfer("http://127.0.0.1:1/", errbuf) == CURLE_UNSUPPORTED_PROTOCOL);
    CHECK(transfer("file:///etc/passwd", errbuf) == CURLE_UNSUPPORTED_PROTOCOL);
}

int main(void)
{
    CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
    RUN(test_status_err);
    RUN(test_reply_cap);
    RUN(test_raise);
    RUN(test_origin);
    RUN(test_print_error);
    RUN(test_transfer);
    curl_global_cleanup();
    TEST_DONE();
}
