/*
 * One-time passwords (src/core/totp.c) against RFC 6238's SHA-1 vectors
 * (their last six digits), the skew window and replay refusal, base32 per
 * RFC 4648; and password hashes (src/core/password.c): Argon2id in the PHC
 * format, a wrong password and an unknown user refused alike, the policy's
 * bounds.
 */
#include <string.h>

#include "password.h"
#include "test.h"
#include "totp.h"

static const cf_slice rfc_secret = {(const uint8_t *)"12345678901234567890", 20};

static void test_rfc6238_vectors(void)
{
    static const struct {
        int64_t time;
        const char *code;
    } v[] = {{59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
             {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char code[7];
        CHECK(cf_totp_code(rfc_secret, v[i].time / 30, code));
        CHECK_STR(code, v[i].code);
    }
}

static void test_window_and_replay(void)
{
    int64_t now = 1111111111, step = 0;
    /* The code of the step before, now and after: accepted. */
    CHECK(cf_totp_check(rfc_secret, "050471", now, 0, &step) && step == now / 30);
    char prev[7], next[7], far[7];
    CHECK(cf_totp_code(rfc_secret, now / 30 - 1, prev) &&
          cf_totp_code(rfc_secret, now / 30 + 1, next) &&
          cf_totp_code(rfc_secret, now / 30 + 3, far));
    CHECK(cf_totp_check(rfc_secret, prev, now, 0, &step) && step == now / 30 - 1);
    CHECK(cf_totp_check(rfc_secret, next, now, 0, &step) && step == now / 30 + 1);
    /* Outside the window, or already used (at or before the last step). */
    cf_error_clear();
    CHECK(!cf_totp_check(rfc_secret, far, now, 0, &step) && cf_error_code() == CF_ERR_UNAUTHORIZED);
    CHECK(!cf_totp_check(rfc_secret, "050471", now, now / 30, &step));
    CHECK(!cf_totp_check(rfc_secret, prev, now, now / 30 - 1, &step));
    /* Not six digits. */
    CHECK(!cf_totp_check(rfc_secret, "05047", now, 0, &step));
    CHECK(!cf_totp_check(rfc_secret, "0504711", now, 0, &step));
    CHECK(!cf_totp_check(rfc_secret, "05047a", now, 0, &step));
    CHECK(!cf_totp_check(rfc_secret, NULL, now, 0, &step));
}

static void test_base32(void)
{
    static const struct {
        const char *in, *out;
    } v[] = {{"", ""},
             {"f", "MY"},
             {"fo", "MZXQ"},
             {"foo", "MZXW6"},
             {"foob", "MZXW6YQ"},
             {"fooba", "MZXW6YTB"},
             {"foobar", "MZXW6YTBOI"}};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        cf_buf out;
        cf_buf_init(&out, 64);
        CHECK(cf_base32_encode(CF_SLICE_STR(v[i].in), &out) && cf_buf_terminate(&out));
        CHECK_STR((const char *)out.data, v[i].out);
        cf_buf_free(&out);
    }
}

static void test_password_hashes(void)
{
    char a[CF_PASSWORD_HASH_MAX + 1], b[CF_PASSWORD_HASH_MAX + 1];
    cf_slice pw = CF_SLICE_STR("correct horse battery staple");
    CHECK(cf_password_hash(pw, a) && cf_password_hash(pw, b));
    CHECK(strncmp(a, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    CHECK(strcmp(a, b) != 0); /* fresh salts */
    CHECK(cf_password_verify(a, pw) && cf_password_verify(b, pw));
    cf_error_clear();
    CHECK(!cf_password_verify(a, CF_SLICE_STR("correct horse battery stapler")));
    CHECK(cf_error_code() == CF_ERR_UNAUTHORIZED);
    /* No such user: the same answer. */
    cf_error_clear();
    CHECK(!cf_password_verify(NULL, pw) && cf_error_code() == CF_ERR_UNAUTHORIZED);
    CHECK(!cf_password_verify(NULL, CF_SLICE_STR("password")));
    /* Not an Argon2id hash: refused, never accepted. */
    CHECK(!cf_password_verify("$2y$10$abcdefghijklmnopqrstuu", pw));
}

static void test_password_policy(void)
{
    CHECK(cf_password_acceptable(CF_SLICE_STR("twelve chars")));
    CHECK(cf_password_acceptable(CF_SLICE_STR("pässwörd-ünïcode")));
    cf_error_clear();
    CHECK(!cf_password_acceptable(CF_SLICE_STR("eleven char")) &&
          cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_password_acceptable(CF_SLICE_STR("has a\nnewline in it")));
    CHECK(!cf_password_acceptable(cf_slice_of("nul inside \0 it", 15)));
    CHECK(!cf_password_acceptable(CF_SLICE_STR("bad utf8 \xc3\x28 here")));
    CHECK(!cf_password_acceptable(CF_SLICE_STR("overlong \xc0\xaf slash")));
    CHECK(!cf_password_acceptable(CF_SLICE_STR("surrogate \xed\xa0\x80 x")));
    static char big[CF_PASSWORD_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    CHECK(cf_password_acceptable(cf_slice_of(big, CF_PASSWORD_MAX)));
    CHECK(!cf_password_acceptable(cf_slice_of(big, CF_PASSWORD_MAX + 1)));
    char hash[CF_PASSWORD_HASH_MAX + 1];
    CHECK(!cf_password_hash(cf_slice_of(big, CF_PASSWORD_MAX + 1), hash));
}

int main(void)
{
    RUN(test_rfc6238_vectors);
    RUN(test_window_and_replay);
    RUN(test_base32);
    RUN(test_password_hashes);
    RUN(test_password_policy);
    TEST_DONE();
}
