/*
 * application/x-www-form-urlencoded bodies (src/http/form.c), as the OAuth
 * token endpoint reads them: lookup by decoded name, '+' and %XX decoding,
 * absent fields (CF_ERR_NOT_FOUND), repeated or malformed ones
 * (CF_ERR_BAD_INPUT), and the encoder round-tripping through the decoder.
 */
#include "form.h"
#include "test.h"

/* The decoded value of `name`, or NULL (with the error code in *err). */
static const char *form_value(const char *form, const char *name, cf_buf *out, cf_err *err)
{
    cf_buf_clear(out);
    cf_error_clear();
    if (!cf_form_get(cf_slice_of(form, strlen(form)), name, out)) {
        *err = cf_error_code();
        return NULL;
    }
    *err = CF_OK;
    if (!cf_buf_terminate(out))
        return NULL;
    return (const char *)out->data;
}

static void test_lookup_and_decoding(void)
{
    cf_buf v;
    cf_buf_init(&v, 1024);
    cf_err err;
    const char *form = "grant_type=client_credentials&client_id=app%201&"
                       "scope=https%3A%2F%2Fvault.azure.net%2F.default&client_secret=a+b%2Bc";
    const char *s = form_value(form, "grant_type", &v, &err);
    CHECK(s && strcmp(s, "client_credentials") == 0);
    s = form_value(form, "client_id", &v, &err);
    CHECK(s && strcmp(s, "app 1") == 0);
    s = form_value(form, "scope", &v, &err);
    CHECK(s && strcmp(s, "https://vault.azure.net/.default") == 0);
    s = form_value(form, "client_secret", &v, &err);
    CHECK(s && strcmp(s, "a b+c") == 0); /* '+' is a space, %2B a plus */
    /* Lower- and upper-case escapes alike. */
    s = form_value("k=%7e%7E", "k", &v, &err);
    CHECK(s && strcmp(s, "~~") == 0);
    /* Names are compared after decoding, and exactly (case matters). */
    s = form_value("client%5Fid=x", "client_id", &v, &err);
    CHECK(s && strcmp(s, "x") == 0);
    s = form_value("Client_Id=x", "client_id", &v, &err);
    CHECK(!s && err == CF_ERR_NOT_FOUND);
    /* A name that is only a prefix or a suffix of another is not it. */
    s = form_value("client_idx=1&xclient_id=2", "client_id", &v, &err);
    CHECK(!s && err == CF_ERR_NOT_FOUND);
    cf_buf_free(&v);
}

static void test_empty_and_bare_fields(void)
{
    cf_buf v;
    cf_buf_init(&v, 1024);
    cf_err err;
    const char *s = form_value("a=&b=2", "a", &v, &err);
    CHECK(s && strcmp(s, "") == 0);
    s = form_value("a&b=2", "a", &v, &err); /* present without '=': empty */
    CHECK(s && strcmp(s, "") == 0);
    s = form_value("&&b=2&&", "b", &v, &err); /* empty pairs are skipped */
    CHECK(s && strcmp(s, "2") == 0);
    s = form_value("b=x=y", "b", &v, &err); /* only the first '=' splits */
    CHECK(s && strcmp(s, "x=y") == 0);
    s = form_value("", "a", &v, &err);
    CHECK(!s && err == CF_ERR_NOT_FOUND);
    s = form_value("=v", "", &v, &err); /* an empty name is a name too */
    CHECK(s && strcmp(s, "v") == 0);
    cf_buf_free(&v);
}

static void test_refusals(void)
{
    cf_buf v;
    cf_buf_init(&v, 1024);
    cf_err err;
    /* Repeated: which one counts would differ between parsers. */
    CHECK(!form_value("a=1&a=2", "a", &v, &err) && err == CF_ERR_BAD_INPUT);
    CHECK(!form_value("a=1&%61=2", "a", &v, &err) && err == CF_ERR_BAD_INPUT);
    CHECK(!form_value("a&a", "a", &v, &err) && err == CF_ERR_BAD_INPUT);
    /* Broken escapes in the wanted value. */
    CHECK(!form_value("a=%", "a", &v, &err) && err == CF_ERR_BAD_INPUT);
    CHECK(!form_value("a=%4", "a", &v, &err) && err == CF_ERR_BAD_INPUT);
    CHECK(!form_value("a=%4&b=1", "a", &v, &err) && err == CF_ERR_BAD_INPUT);
    CHECK(!form_value("a=%zz", "a", &v, &err) && err == CF_ERR_BAD_INPUT);
    /* A broken escape in another field's name is not this field. */
    const char *s = form_value("%zz=1&a=2", "a", &v, &err);
    CHECK(s && strcmp(s, "2") == 0);
    /* The value's cap is the caller's buffer's. */
    cf_buf small;
    cf_buf_init(&small, 4);
    cf_error_clear();
    CHECK(!cf_form_get(CF_SLICE_LIT("a=12345"), "a", &small));
    CHECK(cf_error_code() == CF_ERR_TOO_LARGE);
    cf_buf_clear(&small);
    CHECK(cf_form_get(CF_SLICE_LIT("a=1234"), "a", &small) && small.len == 4);
    cf_buf_free(&small);
    cf_buf_free(&v);
}

/* A form cut short by its slice, not by a NUL: bytes past len are unseen. */
static void test_respects_slice_length(void)
{
    cf_buf v;
    cf_buf_init(&v, 64);
    const char text[] = "a=12&b=34";
    CHECK(cf_form_get(cf_slice_of(text, 3), "a", &v) && cf_slice_eq_str(cf_buf_slice(&v), "1"));
    cf_buf_clear(&v);
    cf_error_clear();
    CHECK(!cf_form_get(cf_slice_of(text, 5), "b", &v) && cf_error_code() == CF_ERR_NOT_FOUND);
    CHECK(cf_form_get(cf_slice_of(text, 6), "b", &v) && v.len == 0); /* "b" without its '=' */
    cf_buf_free(&v);
}

static void test_append_round_trip(void)
{
    cf_buf form, v;
    cf_buf_init(&form, 4096);
    cf_buf_init(&v, 4096);
    const char *odd = "a b+c&d=e%f/~-._\xc3\xa9";
    CHECK(cf_form_append(&form, "grant_type", "client_credentials"));
    CHECK(cf_form_append(&form, "secret", odd));
    CHECK(cf_buf_terminate(&form));
    CHECK_STR((const char *)form.data,
              "grant_type=client_credentials&secret=a%20b%2Bc%26d%3De%25f%2F~-._%C3%A9");
    cf_err err;
    const char *s = form_value((const char *)form.data, "secret", &v, &err);
    CHECK(s && strcmp(s, odd) == 0);
    s = form_value((const char *)form.data, "grant_type", &v, &err);
    CHECK(s && strcmp(s, "client_credentials") == 0);
    /* An empty value is written as "name=". */
    cf_buf_clear(&form);
    CHECK(cf_form_append(&form, "e", "") && cf_slice_eq_str(cf_buf_slice(&form), "e="));
    /* Appending past the buffer's cap fails. */
    cf_buf tiny;
    cf_buf_init(&tiny, 8);
    cf_error_clear();
    CHECK(!cf_form_append(&tiny, "name", "\x01\x02"));
    CHECK(cf_error_code() == CF_ERR_TOO_LARGE);
    cf_buf_free(&tiny);
    cf_buf_free(&form);
    cf_buf_free(&v);
}

int main(void)
{
    RUN(test_lookup_and_decoding);
    RUN(test_empty_and_bare_fields);
    RUN(test_refusals);
    RUN(test_respects_slice_length);
    RUN(test_append_round_trip);
    TEST_DONE();
}
