/* Base64, base64url, hex and percent decoding: RFC 4648 vectors and rejects. */
#include <string.h>

#include "encoding.h"
#include "test.h"

static void check_b64(const char *plain, const char *std, const char *url)
{
    cf_buf out;
    cf_buf_init(&out, 1024);
    CHECK(cf_base64_encode(CF_SLICE_STR(plain), &out));
    CHECK(cf_buf_terminate(&out) && strcmp((char *)out.data, std) == 0);
    cf_buf_clear(&out);
    CHECK(cf_base64url_encode(CF_SLICE_STR(plain), &out));
    CHECK(cf_buf_terminate(&out) && strcmp((char *)out.data, url) == 0);
    cf_buf_clear(&out);
    CHECK(cf_base64_decode(CF_SLICE_STR(std), &out));
    CHECK(out.len == strlen(plain) && memcmp(out.data, plain, out.len) == 0);
    cf_buf_clear(&out);
    CHECK(cf_base64url_decode(CF_SLICE_STR(url), &out));
    CHECK(out.len == strlen(plain) && memcmp(out.data, plain, out.len) == 0);
    cf_buf_free(&out);
}

static void test_rfc4648_vectors(void)
{
    check_b64("", "", "");
    check_b64("f", "Zg==", "Zg");
    check_b64("fo", "Zm8=", "Zm8");
    check_b64("foo", "Zm9v", "Zm9v");
    check_b64("foob", "Zm9vYg==", "Zm9vYg");
    check_b64("fooba", "Zm9vYmE=", "Zm9vYmE");
    check_b64("foobar", "Zm9vYmFy", "Zm9vYmFy");
    check_b64("\xfb\xff", "+/8=", "-_8");
}

static void test_rejects(void)
{
    const char *bad_std[] = {"Zg=", "Z", "Zh==", "Zm9v!", "-_8=", "Zm9vY==="};
    /* Padding, when present, must complete the group of four. */
    const char *bad_url[] = {"Z", "Zh", "+/8", "Zm 9v", "QQ=", "QUI==", "=", "==", "QUJD="};
    cf_buf out;
    cf_buf_init(&out, 1024);
    for (size_t i = 0; i < sizeof bad_std / sizeof *bad_std; i++) {
        cf_buf_clear(&out);
        CHECK(!cf_base64_decode(CF_SLICE_STR(bad_std[i]), &out));
        CHECK(cf_error_code() == CF_ERR_BAD_INPUT);
    }
    for (size_t i = 0; i < sizeof bad_url / sizeof *bad_url; i++) {
        cf_buf_clear(&out);
        CHECK(!cf_base64url_decode(CF_SLICE_STR(bad_url[i]), &out));
    }
    cf_buf_free(&out);
}

/* A failed decode leaves what the caller had in the buffer, and no partial
 * output after it. */
static void test_failure_keeps_prefix(void)
{
    cf_buf out;
    cf_buf_init(&out, 1024);
    CHECK(cf_buf_append_str(&out, "PREFIX"));
    CHECK(!cf_base64_decode(CF_SLICE_LIT("Zm9vYmFy!!!!"), &out));
    CHECK(!cf_base64url_decode(CF_SLICE_LIT("Zm9vYg="), &out));
    CHECK(!cf_hex_decode(CF_SLICE_LIT("00112g"), &out));
    CHECK(!cf_percent_decode(CF_SLICE_LIT("abc%4"), false, &out));
    CHECK(out.len == 6 && memcmp(out.data, "PREFIX", 6) == 0);
    cf_buf_free(&out);
}

static void test_cap(void)
{
    cf_buf out;
    cf_buf_init(&out, 3);
    CHECK(cf_base64_decode(CF_SLICE_STR("Zm9v"), &out));
    cf_buf_clear(&out);
    CHECK(!cf_base64_decode(CF_SLICE_STR("Zm9vYg=="), &out));
    CHECK(cf_error_code() == CF_ERR_TOO_LARGE);
    cf_buf_free(&out);
}

static void test_hex_percent(void)
{
    cf_buf out;
    cf_buf_init(&out, 64);
    CHECK(cf_hex_encode(CF_SLICE_LIT("\x00\xab\xff"), &out));
    CHECK(out.len == 6 && memcmp(out.data, "00abff", 6) == 0);
    cf_buf_clear(&out);
    CHECK(cf_percent_decode(CF_SLICE_STR("api%2Dversion=a+b"), true, &out));
    CHECK(out.len == 15 && memcmp(out.data, "api-version=a b", 15) == 0);
    cf_buf_clear(&out);
    CHECK(!cf_percent_decode(CF_SLICE_STR("%2"), false, &out));
    cf_buf_clear(&out);
    CHECK(!cf_percent_decode(CF_SLICE_STR("%zz"), false, &out));
    cf_buf_free(&out);
}

int main(void)
{
    RUN(test_rfc4648_vectors);
    RUN(test_rejects);
    RUN(test_failure_keeps_prefix);
    RUN(test_cap);
    RUN(test_hex_percent);
    TEST_DONE();
}
