/* Envelopes, the file seal and form parsing: round trips and every kind of
 * tampering (bit flips, truncation, wrong associated data, wrong key). */
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "envelope.h"
#include "form.h"
#include "seal.h"
#include "secmem.h"
#include "test.h"

static void test_envelope(void)
{
    uint8_t key[32], other[32];
    CHECK(cf_random_bytes(key, sizeof key) && cf_random_bytes(other, sizeof other));
    cf_slice k = cf_slice_of(key, sizeof key);
    cf_buf sealed, out;
    cf_buf_init(&sealed, 4096);
    cf_buf_init_secret(&out, 4096);
    CHECK(cf_envelope_seal(k, CF_SLICE_LIT("aad"), CF_SLICE_LIT("secret material"), &sealed));
    CHECK(sealed.len == CF_ENVELOPE_OVERHEAD + 15);
    CHECK(cf_envelope_open(k, CF_SLICE_LIT("aad"), cf_buf_slice(&sealed), &out));
    CHECK(out.len == 15 && memcmp(out.data, "secret material", 15) == 0);
    /* every single-byte flip is detected */
    for (size_t i = 0; i < sealed.len; i++) {
        sealed.data[i] ^= 0x01;
        cf_buf_clear(&out);
        CHECK(!cf_envelope_open(k, CF_SLICE_LIT("aad"), cf_buf_slice(&sealed), &out));
        CHECK(out.len == 0);
        sealed.data[i] ^= 0x01;
    }
    cf_buf_clear(&out);
    CHECK(!cf_envelope_open(k, CF_SLICE_LIT("aae"), cf_buf_slice(&sealed), &out));
    CHECK(cf_error_code() == CF_ERR_DECRYPT);
    CHECK(!cf_envelope_open(cf_slice_of(other, 32), CF_SLICE_LIT("aad"), cf_buf_slice(&sealed),
                            &out));
    CHECK(
        !cf_envelope_open(k, CF_SLICE_LIT("aad"), cf_slice_of(sealed.data, sealed.len - 1), &out));
    CHECK(!cf_envelope_open(k, CF_SLICE_LIT("aad"), cf_slice_of(sealed.data, 5), &out));
    CHECK(!cf_envelope_seal(cf_slice_of(key, 16), CF_SLICE_LIT(""), CF_SLICE_LIT("x"), &sealed));
    /* two seals of the same value differ (random nonce) */
    cf_buf again;
    cf_buf_init(&again, 4096);
    CHECK(cf_envelope_seal(k, CF_SLICE_LIT("aad"), CF_SLICE_LIT("secret material"), &again));
    CHECK(again.len == sealed.len && memcmp(again.data, sealed.data, sealed.len) != 0);
    cf_buf_free(&again);
    cf_buf_free(&sealed);
    cf_buf_free(&out);
}

static void test_file_seal(void)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/coffer-test-seal-%d.key", (int)getpid());
    unlink(path);
    cf_seal *seal = NULL;
    CHECK(!cf_seal_file_open(path, false, &seal)); /* missing, no create */
    CHECK(cf_seal_file_open(path, true, &seal));
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 32);
    cf_buf wrapped, out;
    cf_buf_init(&wrapped, 256);
    cf_buf_init_secret(&out, 64);
    CHECK(seal->wrap(seal, CF_SLICE_LIT("0123456789abcdef0123456789abcdef"), CF_SLICE_LIT("id"),
                     &wrapped));
    cf_seal_destroy(seal);
    /* reopening reads the same root key */
    CHECK(cf_seal_file_open(path, false, &seal));
    CHECK(seal->unwrap(seal, cf_buf_slice(&wrapped), CF_SLICE_LIT("id"), &out));
    CHECK(out.len == 32 && memcmp(out.data, "0123456789abcdef0123456789abcdef", 32) == 0);
    cf_buf_clear(&out);
    CHECK(!seal->unwrap(seal, cf_buf_slice(&wrapped), CF_SLICE_LIT("other"), &out));
    cf_seal_destroy(seal);
    /* a key file readable by others is refused */
    CHECK(chmod(path, 0644) == 0);
    CHECK(!cf_seal_file_open(path, false, &seal) && cf_error_code() == CF_ERR_SEAL);
    unlink(path);
    cf_buf_free(&wrapped);
    cf_buf_free(&out);
}

static void test_form(void)
{
    cf_buf v;
    cf_buf_init(&v, 64);
    cf_slice form =
        CF_SLICE_STR("grant_type=client_credentials&client%5Fid=a%2Db&scope=x+y&empty=");
    CHECK(cf_form_get(form, "client_id", &v) && v.len == 3 && memcmp(v.data, "a-b", 3) == 0);
    cf_buf_clear(&v);
    CHECK(cf_form_get(form, "scope", &v) && v.len == 3 && memcmp(v.data, "x y", 3) == 0);
    cf_buf_clear(&v);
    CHECK(cf_form_get(form, "empty", &v) && v.len == 0);
    CHECK(!cf_form_get(form, "missing", &v) && cf_error_code() == CF_ERR_NOT_FOUND);
    CHECK(!cf_form_get(CF_SLICE_STR("a=1&a=2"), "a", &v) && cf_error_code() == CF_ERR_BAD_INPUT);
    cf_buf_clear(&v);
    CHECK(!cf_form_get(CF_SLICE_STR("a=%zz"), "a", &v));
    cf_buf_free(&v);
}

int main(void)
{
    CHECK(cf_crypto_init());
    RUN(test_envelope);
    RUN(test_file_seal);
    RUN(test_form);
    TEST_DONE();
}
