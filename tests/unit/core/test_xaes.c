/* XAES-256-GCM (src/core/xaes.c): the C2SP specification's two test
 * vectors, round trips in place and across sizes, and refusals (a changed
 * tag, ciphertext, associated data or nonce, another key). */
#include <stdint.h>
#include <string.h>

#include "crypto.h"
#include "test.h"
#include "xaes.h"

static void test_c2sp_vectors(void)
{
    static const struct {
        uint8_t key_byte;
        const char *aad;
        uint8_t ct[12], tag[16];
    } v[] = {
        {0x01,
         "",
         {0xce, 0x54, 0x6e, 0xf6, 0x3c, 0x9c, 0xc6, 0x07, 0x65, 0x92, 0x36, 0x09},
         {0xb3, 0x3a, 0x9a, 0x19, 0x74, 0xe9, 0x6e, 0x52, 0xda, 0xf2, 0xfc, 0xf7, 0x07, 0x5e, 0x22,
          0x71}},
        {0x03,
         "c2sp.org/XAES-256-GCM",
         {0x98, 0x6e, 0xc1, 0x83, 0x25, 0x93, 0xdf, 0x54, 0x43, 0xa1, 0x79, 0x43},
         {0x7f, 0xd0, 0x83, 0xbf, 0x3f, 0xdb, 0x41, 0xab, 0xd7, 0x40, 0xa2, 0x1f, 0x71, 0xeb, 0x76,
          0x9d}},
    };
    const uint8_t *nonce = (const uint8_t *)"ABCDEFGHIJKLMNOPQRSTUVWX";
    for (size_t i = 0; i < 2; i++) {
        uint8_t key[32], ct[12], tag[16], pt[12];
        memset(key, v[i].key_byte, sizeof key);
        cf_xaes *x = NULL;
        CHECK(cf_xaes_new(cf_slice_of(key, 32), &x));
        CHECK(
            cf_xaes_seal(x, nonce, CF_SLICE_STR(v[i].aad), CF_SLICE_STR("XAES-256-GCM"), ct, tag));
        CHECK_MEM(ct, v[i].ct, 12);
        CHECK_MEM(tag, v[i].tag, 16);
        CHECK(cf_xaes_open(x, nonce, CF_SLICE_STR(v[i].aad), cf_slice_of(ct, 12), tag, pt));
        CHECK_MEM(pt, "XAES-256-GCM", 12);
        cf_xaes_free(x);
    }
}

static void test_round_trips_and_refusals(void)
{
    uint8_t key[32], other[32], nonce[24], data[5000], copy[5000], tag[16];
    CHECK(cf_random_bytes(key, 32) && cf_random_bytes(other, 32) && cf_random_bytes(data, 5000));
    cf_xaes *x = NULL, *y = NULL;
    CHECK(cf_xaes_new(cf_slice_of(key, 32), &x) && cf_xaes_new(cf_slice_of(other, 32), &y));
    static const size_t sizes[] = {0, 1, 15, 16, 17, 4048, 5000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        CHECK(cf_random_bytes(nonce, 24));
        memcpy(copy, data, n);
        CHECK(cf_xaes_seal(x, nonce, CF_SLICE_STR("page 7"), cf_slice_of(copy, n), copy, tag));
        /* A 1-byte ciphertext equals its plaintext once in 256 runs: only
         * messages of a block or more are expected to differ. */
        CHECK(n < 16 || memcmp(copy, data, n) != 0);
        CHECK(cf_xaes_open(x, nonce, CF_SLICE_STR("page 7"), cf_slice_of(copy, n), tag, copy));
        CHECK(memcmp(copy, data, n) == 0);
    }
    /* each refusal on a 4048-byte message */
    memcpy(copy, data, 4048);
    CHECK(cf_xaes_seal(x, nonce, CF_SLICE_STR("page 7"), cf_slice_of(copy, 4048), copy, tag));
    uint8_t out[4048];
    CHECK(!cf_xaes_open(x, nonce, CF_SLICE_STR("page 8"), cf_slice_of(copy, 4048), tag, out) &&
          cf_error_code() == CF_ERR_DECRYPT);
    CHECK(!cf_xaes_open(y, nonce, CF_SLICE_STR("page 7"), cf_slice_of(copy, 4048), tag, out));
    nonce[3] ^= 1; /* the half that derives the key */
    CHECK(!cf_xaes_open(x, nonce, CF_SLICE_STR("page 7"), cf_slice_of(copy, 4048), tag, out));
    nonce[3] ^= 1;
    nonce[20] ^= 1; /* the half GCM uses */
    CHECK(!cf_xaes_open(x, nonce, CF_SLICE_STR("page 7"), cf_slice_of(copy, 4048), tag, out));
    nonce[20] ^= 1;
    copy[100] ^= 1;
    CHECK(!cf_xaes_open(x, nonce, CF_SLICE_STR("page 7"), cf_slice_of(copy, 4048), tag, out));
    copy[100] ^= 1;
    tag[0] ^= 1;
    CHECK(!cf_xaes_open(x, nonce, CF_SLICE_STR("page 7"), cf_slice_of(copy, 4048), tag, out));
    tag[0] ^= 1;
    CHECK(cf_xaes_open(x, nonce, CF_SLICE_STR("page 7"), cf_slice_of(copy, 4048), tag, out));
    CHECK(memcmp(out, data, 4048) == 0);
    cf_xaes_free(x);
    cf_xaes_free(y);
    cf_xaes *bad = NULL;
    CHECK(!cf_xaes_new(cf_slice_of(key, 16), &bad) && cf_error_code() == CF_ERR_BAD_INPUT);
}

int main(void)
{
    CHECK(cf_crypto_init());
    RUN(test_c2sp_vectors);
    RUN(test_round_trips_and_refusals);
    TEST_DONE();
}
