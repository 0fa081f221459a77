/* XTS-AES-256 over sectors (src/core/xts.c): IEEE 1619's vectors 10-14 (a
 * 512-byte data unit numbered 0xff up to 0xffffffffff), round trips over many sectors at
 * once equal to one at a time, 4096-byte sectors, a sector decrypted under
 * another number or key giving other bytes, and refusals (key size, equal
 * halves, sector size, partial sectors). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "vectors/kat.h"
#include "test.h"
#include "xts.h"

static void test_ieee_vectors(void)
{
    kat_file f;
    kat_rec r;
    kat_open(&f, "aes_xts.txt");
    int n = 0;
    while (kat_next(&f, &r)) {
        uint8_t key[64], plain[512], cipher[512], buf[512];
        CHECK(kat_hex(&r, "key", key, sizeof key) == 64);
        CHECK(kat_hex(&r, "plain", plain, sizeof plain) == 512);
        CHECK(kat_hex(&r, "cipher", cipher, sizeof cipher) == 512);
        uint64_t sector = strtoull(kat_get(&r, "sector"), NULL, 10);
        cf_xts *x = NULL;
        CHECK(cf_xts_new(cf_slice_of(key, 64), 512, &x));
        memcpy(buf, plain, 512);
        CHECK(cf_xts_encrypt(x, sector, buf, 512) && memcmp(buf, cipher, 512) == 0);
        CHECK(cf_xts_decrypt(x, sector, buf, 512) && memcmp(buf, plain, 512) == 0);
        /* Under another sector number the same bytes decrypt to others. */
        memcpy(buf, cipher, 512);
        CHECK(cf_xts_decrypt(x, sector + 1, buf, 512) && memcmp(buf, plain, 512) != 0);
        cf_xts_free(x);
        n++;
    }
    CHECK(n == 5);
    kat_close(&f);
}

static void test_runs_and_sizes(void)
{
    uint8_t key[64], other[64];
    CHECK(cf_random_bytes(key, sizeof key) && cf_random_bytes(other, sizeof other));
    for (uint32_t size = 512; size <= 4096; size *= 8) {
        size_t len = 8 * (size_t)size;
        uint8_t *plain = malloc(len), *run = malloc(len), *one = malloc(len);
        CHECK(plain && run && one && cf_random_bytes(plain, len));
        cf_xts *x = NULL, *y = NULL;
        CHECK(cf_xts_new(cf_slice_of(key, 64), size, &x) && cf_xts_sector_size(x) == size);
        CHECK(cf_xts_new(cf_slice_of(other, 64), size, &y));
        memcpy(run, plain, len);
        CHECK(cf_xts_encrypt(x, 1000, run, len));
        for (size_t i = 0; i < 8; i++) {
            memcpy(one + i * size, plain + i * size, size);
            CHECK(cf_xts_encrypt(x, 1000 + i, one + i * size, size));
        }
        CHECK(memcmp(run, one, len) == 0);
        /* equal sectors at different numbers differ */
        memcpy(one, plain, size);
        memcpy(one + size, plain, size);
        CHECK(cf_xts_encrypt(x, 7, one, 2 * (size_t)size) && memcmp(one, one + size, size) != 0);
        /* another key gives other bytes */
        memcpy(one, run, len);
        CHECK(cf_xts_decrypt(y, 1000, one, len) && memcmp(one, plain, len) != 0);
        CHECK(cf_xts_decrypt(x, 1000, run, len) && memcmp(run, plain, len) == 0);
        /* whole sectors only */
        CHECK(!cf_xts_encrypt(x, 0, run, size - 1) && cf_error_code() == CF_ERR_BAD_INPUT);
        CHECK(!cf_xts_encrypt(x, UINT64_MAX, run, 2 * (size_t)size) &&
              cf_error_code() == CF_ERR_BAD_INPUT);
        /* the last sector number there is works */
        memcpy(one, plain, size);
        CHECK(cf_xts_encrypt(x, UINT64_MAX, one, size) &&
              cf_xts_decrypt(x, UINT64_MAX, one, size) && memcmp(one, plain, size) == 0);
        cf_xts_free(x);
        cf_xts_free(y);
        free(plain);
        free(run);
        free(one);
    }
}

static void test_refusals(void)
{
    uint8_t key[64];
    CHECK(cf_random_bytes(key, sizeof key));
    cf_xts *x = NULL;
    CHECK(!cf_xts_new(cf_slice_of(key, 32), 512, &x) && cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_xts_new(cf_slice_of(key, 64), 1024, &x) && cf_error_code() == CF_ERR_BAD_INPUT);
    memcpy(key + 32, key, 32);
    CHECK(!cf_xts_new(cf_slice_of(key, 64), 512, &x) && cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(x == NULL);
}

int main(void)
{
    CHECK(cf_crypto_init());
    RUN(test_ieee_vectors);
    RUN(test_runs_and_sizes);
    RUN(test_refusals);
    TEST_DONE();
}
