/* Sealed database pages (src/core/tde_page.c, docs/database-encryption.md
 * "A page"): round trips at the page sizes SQLite allows, fresh nonces,
 * and every refusal the format promises: another page number, salt, key or
 * generation, a changed byte anywhere, non-zero reserved bytes, an
 * all-zero page; a refused page is wiped. */
#include <stdint.h>
#include <string.h>

#include "crypto.h"
#include "tde_page.h"
#include "test.h"

static uint8_t salt[16] = {9, 9, 9};
static cf_xaes *dek, *other;
static cf_tde_nonces nonces;

static bool refused(uint8_t *page, size_t size, uint32_t pgno, const uint8_t *s, cf_xaes *key)
{
    bool no = !cf_tde_page_open(key, s, pgno, page, size) && cf_error_code() == CF_ERR_DECRYPT;
    for (size_t i = 0; no && i < size; i++)
        no = page[i] == 0; /* wiped */
    return no;
}

static void test_round_trips(void)
{
    static uint8_t page[65536], plain[65536], again[65536];
    for (size_t size = 512; size <= 65536; size *= 2) {
        CHECK(cf_random_bytes(plain, size - CF_TDE_RESERVED));
        memset(plain + size - CF_TDE_RESERVED, 0, CF_TDE_RESERVED);
        memcpy(page, plain, size);
        CHECK(cf_tde_page_seal(dek, &nonces, salt, 7, 3, page, size));
        CHECK(cf_tde_page_generation(page, size) == 3);
        memcpy(again, plain, size);
        CHECK(cf_tde_page_seal(dek, &nonces, salt, 7, 3, again, size));
        CHECK(memcmp(page, again, size) != 0); /* a fresh nonce each time */
        CHECK(cf_tde_page_open(dek, salt, 7, page, size));
        CHECK(memcmp(page, plain, size) == 0); /* reserved bytes back to zero */
    }
}

/* One generator's nonces share their prefix (one XAES key derivation)
 * and never repeat; another generator's prefix differs. */
static void test_nonces(void)
{
    uint8_t a[CF_XAES_NONCE_LEN], b[CF_XAES_NONCE_LEN], c[CF_XAES_NONCE_LEN];
    cf_tde_nonces other_writer;
    CHECK(cf_tde_nonces_init(&other_writer));
    cf_tde_nonce_next(&nonces, a);
    cf_tde_nonce_next(&nonces, b);
    cf_tde_nonce_next(&other_writer, c);
    CHECK(memcmp(a, b, 16) == 0 && memcmp(a, b, CF_XAES_NONCE_LEN) != 0);
    CHECK(memcmp(a, c, 12) != 0);
    /* pages from two writers, opened interleaved */
    static uint8_t p1[4096], p2[4096], p3[4096];
    CHECK(cf_tde_page_seal(dek, &nonces, salt, 1, 1, p1, 4096));
    CHECK(cf_tde_page_seal(dek, &other_writer, salt, 2, 1, p2, 4096));
    CHECK(cf_tde_page_seal(dek, &nonces, salt, 3, 1, p3, 4096));
    CHECK(cf_tde_page_open(dek, salt, 1, p1, 4096));
    CHECK(cf_tde_page_open(dek, salt, 2, p2, 4096));
    CHECK(cf_tde_page_open(dek, salt, 3, p3, 4096));
}

static void test_refusals(void)
{
    enum { SIZE = 4096 };
    static uint8_t sealed[SIZE], page[SIZE];
    CHECK(cf_random_bytes(sealed, SIZE - CF_TDE_RESERVED));
    memset(sealed + SIZE - CF_TDE_RESERVED, 0, CF_TDE_RESERVED);
    CHECK(cf_tde_page_seal(dek, &nonces, salt, 42, 1, sealed, SIZE));
    uint8_t other_salt[16] = {9, 9, 8};
    memcpy(page, sealed, SIZE);
    CHECK(refused(page, SIZE, 43, salt, dek));
    memcpy(page, sealed, SIZE);
    CHECK(refused(page, SIZE, 42, other_salt, dek));
    memcpy(page, sealed, SIZE);
    CHECK(refused(page, SIZE, 42, salt, other));
    /* every byte: body, generation, reserved zeros, nonce, tag */
    for (size_t i = 0; i < SIZE; i += (i < SIZE - 64 ? 97 : 1)) {
        memcpy(page, sealed, SIZE);
        page[i] ^= 0x20;
        CHECK(refused(page, SIZE, 42, salt, dek));
    }
    memset(page, 0, SIZE);
    CHECK(refused(page, SIZE, 42, salt, dek));
    memcpy(page, sealed, SIZE);
    CHECK(!cf_tde_page_open(dek, salt, 42, page, 4000) && cf_error_code() == CF_ERR_BAD_INPUT);
    CHECK(!cf_tde_page_seal(dek, &nonces, salt, 42, 1, page, 256) &&
          cf_error_code() == CF_ERR_BAD_INPUT);
    memcpy(page, sealed, SIZE);
    CHECK(cf_tde_page_open(dek, salt, 42, page, SIZE));
}

int main(void)
{
    CHECK(cf_crypto_init());
    uint8_t k1[32] = {1}, k2[32] = {2};
    CHECK(cf_xaes_new(cf_slice_of(k1, 32), &dek) && cf_xaes_new(cf_slice_of(k2, 32), &other));
    CHECK(cf_tde_nonces_init(&nonces));
    RUN(test_nonces);
    RUN(test_round_trips);
    RUN(test_refusals);
    cf_xaes_free(dek);
    cf_xaes_free(other);
    TEST_DONE();
}
