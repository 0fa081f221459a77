/* Always Encrypted formats (src/core/ae.c, docs/always-encrypted.md): SQL
 * Server's own cell and wrapped column encryption key (the swisscom
 * vectors), cells and key values computed independently by
 * make_ae_vectors.py (deterministic byte for byte), round trips, and the
 * refusals: every byte of a cell tampered, truncation, a wrong key, an
 * unknown version, bad signatures, swapped ciphertexts, wrong lengths. */
#include <stdint.h>

#include "ae.h"
#include "crypto.h"
#include "secmem.h"
#include "test.h"
#include "utf8.h"
#include "vectors/kat.h"

#define SWISSCOM "always-encrypted/swisscom_"

static cf_slice file_slice(const char *file, char **text)
{
    size_t len = 0;
    *text = kat_read(file, &len);
    return cf_slice_of(*text, len);
}

static cf_pkey *load_private(const char *file)
{
    char *pem;
    cf_pkey *key = NULL;
    CHECK(cf_pkey_from_private_pem(file_slice(file, &pem), &key));
    free(pem);
    return key;
}

/* ---- SQL Server's own bytes ---- */

static void test_sql_server_vectors(void)
{
    char *value_text, *cell_text;
    cf_slice value = file_slice(SWISSCOM "cekv.key", &value_text);
    cf_slice cell = file_slice(SWISSCOM "column_value.enc", &cell_text);
    cf_pkey *cmk = load_private(SWISSCOM "always-encrypted.pem");
    cf_ae_cek_value v;
    CHECK(value.len == 627 && cf_ae_cek_value_parse(value, &v));
    CHECK_STR(v.key_path, "currentuser/my/0be978ba81eed610015fd8b7caef55f1614ca3b6");
    CHECK(v.ciphertext.len == 256 && v.signature.len == 256 && v.signed_part.len == 371);

    cf_buf cek, plain;
    cf_buf_init_secret(&cek, 64);
    cf_buf_init_secret(&plain, 256);
    CHECK(cf_ae_cek_unwrap_local(cmk, &v, &cek) && cek.len == 32);
    cf_ae_key *key = NULL;
    CHECK(cf_ae_key_new(cf_buf_slice(&cek), &key));
    CHECK(cf_ae_decrypt(key, cell, &plain));
    cf_buf utf8;
    cf_buf_init(&utf8, 64);
    CHECK(cf_utf8_from_utf16le(cf_buf_slice(&plain), &utf8));
    CHECK(cf_slice_eq_str(cf_buf_slice(&utf8), "12345     "));

    /* The public half alone verifies the signature but cannot unwrap. */
    char *cert_pem;
    cf_slice cert = file_slice(SWISSCOM "always-encrypted_pub.pem", &cert_pem);
    CHECK(cert.len > 0);
    free(cert_pem);

    cf_ae_key_free(key);
    cf_buf_free(&cek);
    cf_buf_free(&plain);
    cf_buf_free(&utf8);
    cf_pkey_free(cmk);
    free(value_text);
    free(cell_text);
}

/* ---- independently computed vectors ---- */

static void test_cells(void)
{
    kat_file k;
    kat_rec r;
    kat_open(&k, "ae_cells.txt");
    unsigned n = 0;
    while (kat_next(&k, &r)) {
        uint8_t cek[32], pt[1100], cell[1200];
        CHECK(kat_hex(&r, "cek", cek, sizeof cek) == 32);
        size_t pt_len = kat_hex(&r, "pt", pt, sizeof pt);
        size_t cell_len = kat_hex(&r, "cell", cell, sizeof cell);
        bool det = strcmp(kat_get(&r, "mode"), "deterministic") == 0;
        cf_ae_key *key = NULL;
        cf_buf out;
        cf_buf_init(&out, 4096);
        CHECK(cf_ae_key_new(cf_slice_of(cek, 32), &key));
        CHECK(cf_ae_decrypt(key, cf_slice_of(cell, cell_len), &out));
        CHECK(cf_slice_eq(cf_buf_slice(&out), cf_slice_of(pt, pt_len)));
        cf_buf_clear(&out);
        CHECK(cf_ae_encrypt(key, det ? CF_AE_DETERMINISTIC : CF_AE_RANDOMIZED,
                            cf_slice_of(pt, pt_len), &out));
        CHECK(out.len == cell_len);
        if (det)
            CHECK(cf_slice_eq(cf_buf_slice(&out), cf_slice_of(cell, cell_len)));
        else
            CHECK(!cf_slice_eq(cf_buf_slice(&out), cf_slice_of(cell, cell_len)));
        cf_buf_free(&out);
        cf_ae_key_free(key);
        n++;
    }
    CHECK(n == 14);
    kat_close(&k);
}

static void test_cek_values(void)
{
    cf_pkey *cmk = load_private("cse_rsa_kek.pem");
    kat_file k;
    kat_rec r;
    kat_open(&k, "ae_cek_values.txt");
    unsigned n = 0;
    while (kat_next(&k, &r)) {
        uint8_t want[32], value[1200];
        CHECK(kat_hex(&r, "cek", want, sizeof want) == 32);
        size_t len = kat_hex(&r, "value", value, sizeof value);
        cf_ae_cek_value v;
        CHECK(cf_ae_cek_value_parse(cf_slice_of(value, len), &v));
        CHECK_STR(v.key_path, kat_get(&r, "key_path"));
        cf_buf cek;
        cf_buf_init_secret(&cek, 64);
        CHECK(cf_ae_cek_unwrap_local(cmk, &v, &cek));
        CHECK(cf_slice_eq(cf_buf_slice(&cek), cf_slice_of(want, 32)));
        /* Coffer's own value for the same path: the same signed layout
         * (the RSA parts are randomised), and it unwraps. */
        cf_buf mine;
        cf_buf_init(&mine, CF_AE_CEK_VALUE_MAX);
        CHECK(cf_ae_cek_wrap_local(cmk, v.key_path, cf_buf_slice(&cek), &mine));
        CHECK(mine.len == len && memcmp(mine.data, value, 5 + (len - 5 - 512)) == 0);
        cf_ae_cek_value again;
        cf_buf_clear(&cek);
        CHECK(cf_ae_cek_value_parse(cf_buf_slice(&mine), &again));
        CHECK(cf_ae_cek_unwrap_local(cmk, &again, &cek));
        CHECK(cf_slice_eq(cf_buf_slice(&cek), cf_slice_of(want, 32)));
        cf_buf_free(&mine);
        cf_buf_free(&cek);
        n++;
    }
    CHECK(n == 2);
    kat_close(&k);
    cf_pkey_free(cmk);
}

/* ---- round trips and refusals ---- */

static void test_round_trips(void)
{
    uint8_t cek[32], pt[70];
    CHECK(cf_random_bytes(cek, sizeof cek) && cf_random_bytes(pt, sizeof pt));
    cf_ae_key *key = NULL;
    CHECK(cf_ae_key_new(cf_slice_of(cek, 32), &key));
    for (size_t len = 0; len <= sizeof pt; len++) {
        cf_buf a, b, out;
        cf_buf_init(&a, 256);
        cf_buf_init(&b, 256);
        cf_buf_init(&out, 256);
        CHECK(cf_ae_encrypt(key, CF_AE_DETERMINISTIC, cf_slice_of(pt, len), &a));
        CHECK(cf_ae_encrypt(key, CF_AE_DETERMINISTIC, cf_slice_of(pt, len), &b));
        CHECK(cf_slice_eq(cf_buf_slice(&a), cf_buf_slice(&b))); /* equal in, equal out */
        CHECK(a.len == CF_AE_CELL_MIN + len / 16 * 16);
        CHECK(cf_ae_decrypt(key, cf_buf_slice(&a), &out));
        CHECK(cf_slice_eq(cf_buf_slice(&out), cf_slice_of(pt, len)));
        cf_buf_clear(&b);
        cf_buf_clear(&out);
        CHECK(cf_ae_encrypt(key, CF_AE_RANDOMIZED, cf_slice_of(pt, len), &b));
        CHECK(!cf_slice_eq(cf_buf_slice(&a), cf_buf_slice(&b)));
        CHECK(cf_ae_decrypt(key, cf_buf_slice(&b), &out));
        CHECK(cf_slice_eq(cf_buf_slice(&out), cf_slice_of(pt, len)));
        cf_buf_free(&a);
        cf_buf_free(&b);
        cf_buf_free(&out);
    }
    /* Appending: what the buffer held stays. */
    cf_buf out;
    cf_buf_init(&out, 256);
    CHECK(cf_buf_append(&out, "prefix", 6));
    CHECK(cf_ae_encrypt(key, CF_AE_RANDOMIZED, cf_slice_of(pt, 3), &out));
    CHECK(out.len == 6 + CF_AE_CELL_MIN && memcmp(out.data, "prefix", 6) == 0);
    cf_buf_free(&out);
    cf_ae_key_free(key);

    cf_ae_key *none = NULL;
    CHECK(!cf_ae_key_new(cf_slice_of(cek, 31), &none) && cf_error_code() == CF_ERR_BAD_INPUT);
}

static bool refused(const cf_ae_key *key, cf_slice cell, const char *why)
{
    cf_buf out;
    cf_buf_init(&out, 256);
    CHECK(cf_buf_append(&out, "kept", 4));
    bool no = !cf_ae_decrypt(key, cell, &out) && cf_error_code() == CF_ERR_DECRYPT &&
              strstr(cf_error_detail(), why) != NULL && out.len == 4;
    cf_buf_free(&out);
    return no;
}

static void test_cell_refusals(void)
{
    uint8_t cek[32] = {7}, other[32] = {8};
    cf_ae_key *key = NULL, *wrong = NULL;
    CHECK(cf_ae_key_new(cf_slice_of(cek, 32), &key) &&
          cf_ae_key_new(cf_slice_of(other, 32), &wrong));
    cf_buf cell;
    cf_buf_init(&cell, 256);
    CHECK(cf_ae_encrypt(key, CF_AE_RANDOMIZED, CF_SLICE_STR("a secret value, two blocks"), &cell));
    CHECK(cell.len == CF_AE_CELL_MIN + 16);
    uint8_t *c = cell.data;
    CHECK(refused(wrong, cf_buf_slice(&cell), "integrity"));
    for (size_t i = 0; i < cell.len; i++) {
        c[i] ^= 0x01;
        CHECK(refused(key, cf_buf_slice(&cell), i == 0 ? "version" : "integrity"));
        c[i] ^= 0x01;
    }
    for (size_t len = 0; len < cell.len; len++)
        CHECK(refused(key, cf_slice_of(c, len), len == CF_AE_CELL_MIN ? "integrity" : "size"));
    /* a block dropped from the middle, or swapped, fails the tag */
    uint8_t swapped[200];
    memcpy(swapped, c, cell.len);
    memcpy(swapped + 49, c + 65, 16);
    memcpy(swapped + 65, c + 49, 16);
    CHECK(refused(key, cf_slice_of(swapped, cell.len), "integrity"));
    cf_buf_free(&cell);
    cf_ae_key_free(key);
    cf_ae_key_free(wrong);
}

static void test_cek_value_refusals(void)
{
    cf_pkey *cmk = load_private("cse_rsa_kek.pem");
    cf_pkey *other = NULL;
    CHECK(cf_pkey_generate_rsa(2048, 65537, &other));
    uint8_t cek[32] = {1, 2, 3};
    cf_buf value, out;
    cf_buf_init(&value, CF_AE_CEK_VALUE_MAX);
    cf_buf_init_secret(&out, 64);
    CHECK(cf_ae_cek_wrap_local(cmk, "https://v.example/keys/k/1", cf_slice_of(cek, 32), &value));
    cf_ae_cek_value v;
    CHECK(cf_ae_cek_value_parse(cf_buf_slice(&value), &v));
    /* another CMK: the signature does not verify, nothing unwrapped */
    CHECK(!cf_ae_cek_unwrap_local(other, &v, &out) && cf_error_code() == CF_ERR_DECRYPT &&
          strstr(cf_error_detail(), "not signed") && out.len == 0);
    /* any byte changed: the signature (or, for lengths, the parse) refuses */
    uint8_t *p = value.data;
    for (size_t i = 0; i < value.len; i += (i < 40 ? 1 : 37)) {
        p[i] ^= 0x40;
        cf_ae_cek_value t;
        bool ok = cf_ae_cek_value_parse(cf_buf_slice(&value), &t) &&
                  cf_ae_cek_unwrap_local(cmk, &t, &out);
        CHECK(!ok && out.len == 0);
        p[i] ^= 0x40;
    }
    /* lengths: short, leftovers, signature of another length */
    CHECK(!cf_ae_cek_value_parse(cf_slice_of(p, 4), &v));
    CHECK(!cf_ae_cek_value_parse(cf_slice_of(p, value.len - 1), &v));
    uint8_t longer[CF_AE_CEK_VALUE_MAX + 2];
    memcpy(longer, p, value.len);
    longer[value.len] = 0;
    CHECK(!cf_ae_cek_value_parse(cf_slice_of(longer, value.len + 1), &v) &&
          cf_error_code() == CF_ERR_BAD_INPUT);
    p[0] = 2;
    CHECK(!cf_ae_cek_value_parse(cf_buf_slice(&value), &v) &&
          cf_error_code() == CF_ERR_UNSUPPORTED);
    p[0] = 1;
    /* an unpaired surrogate in the key path */
    cf_buf bad;
    cf_buf_init(&bad, CF_AE_CEK_VALUE_MAX);
    CHECK(cf_ae_cek_value_begin("ab", cf_slice_of(p + value.len - 512, 256), &bad));
    bad.data[5] = 0x00;
    bad.data[6] = 0xd8; /* U+D800 alone */
    CHECK(cf_ae_cek_value_finish(&bad, cf_slice_of(p + value.len - 256, 256)));
    CHECK(!cf_ae_cek_value_parse(cf_buf_slice(&bad), &v) && strstr(cf_error_detail(), "UTF-16"));
    bad.data[6] = 0x00; /* U+0000: would cut the path short of what is signed */
    CHECK(!cf_ae_cek_value_parse(cf_buf_slice(&bad), &v) && strstr(cf_error_detail(), "NUL"));
    CHECK(!cf_ae_cek_value_finish(&bad, cf_slice_of(p, 255)));
    CHECK(!cf_ae_cek_value_begin("", cf_slice_of(p, 256), &bad));
    CHECK(!cf_ae_cek_value_begin("x", cf_slice_of(p, 100), &bad));
    cf_buf_free(&bad);
    cf_buf_free(&value);
    cf_buf_free(&out);
    cf_pkey_free(cmk);
    cf_pkey_free(other);
}

static void test_utf16(void)
{
    cf_buf w, back;
    cf_buf_init(&w, 64);
    cf_buf_init(&back, 64);
    const char *text = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91"; /* a é € 🔑 */
    CHECK(cf_utf16le_from_utf8(CF_SLICE_STR(text), &w));
    static const uint8_t want[] = {'a', 0, 0xe9, 0, 0xac, 0x20, 0x3d, 0xd8, 0x11, 0xdd};
    CHECK(w.len == sizeof want && memcmp(w.data, want, sizeof want) == 0);
    CHECK(cf_utf8_from_utf16le(cf_buf_slice(&w), &back) &&
          cf_slice_eq_str(cf_buf_slice(&back), text));
    CHECK(!cf_utf8_from_utf16le(cf_slice_of(want, 3), &back));     /* odd length */
    CHECK(!cf_utf8_from_utf16le(cf_slice_of(want + 6, 2), &back)); /* high surrogate alone */
    CHECK(!cf_utf8_from_utf16le(cf_slice_of(want + 8, 2), &back)); /* low surrogate alone */
    CHECK(!cf_utf16le_from_utf8(CF_SLICE_STR("\xc3"), &w));
    cf_buf_free(&w);
    cf_buf_free(&back);
}

int main(void)
{
    CHECK(cf_crypto_init());
    RUN(test_utf16);
    RUN(test_sql_server_vectors);
    RUN(test_cells);
    RUN(test_cek_values);
    RUN(test_round_trips);
    RUN(test_cell_refusals);
    RUN(test_cek_value_refusals);
    TEST_DONE();
}
