/*
 * Sealed pages (tde_page.h).
 */
#include "tde_page.h"

#include <string.h>

#include "crypto.h"
#include "secmem.h"

#define CF_TDE_GEN_AT (CF_TDE_RESERVED)                         /* from the page's end */
#define CF_TDE_NONCE_AT (CF_XAES_NONCE_LEN + CF_XAES_TAG_LEN)   /* 40 */
#define CF_TDE_TAG_AT (CF_XAES_TAG_LEN)                         /* 16 */
#define CF_TDE_ZERO_LEN (CF_TDE_RESERVED - 1 - CF_TDE_NONCE_AT) /* 7 */

static bool cf_tde_page_size_ok(size_t page_size)
{
    return page_size >= CF_TDE_PAGE_MIN && page_size <= CF_TDE_PAGE_MAX &&
           (page_size & (page_size - 1)) == 0;
}

static void cf_tde_aad(const uint8_t salt[CF_TDE_SALT_LEN], uint32_t pgno, uint8_t generation,
                       uint8_t aad[CF_TDE_SALT_LEN + 5])
{
    memcpy(aad, salt, CF_TDE_SALT_LEN);
    aad[16] = (uint8_t)(pgno >> 24);
    aad[17] = (uint8_t)(pgno >> 16);
    aad[18] = (uint8_t)(pgno >> 8);
    aad[19] = (uint8_t)pgno;
    aad[20] = generation;
}

bool cf_tde_nonces_init(cf_tde_nonces *n)
{
    n->counter = 0;
    return cf_random_bytes(n->prefix, sizeof n->prefix);
}

void cf_tde_nonce_next(cf_tde_nonces *n, uint8_t nonce[CF_XAES_NONCE_LEN])
{
    memcpy(nonce, n->prefix, sizeof n->prefix);
    uint64_t c = n->counter++;
    for (int i = 7; i >= 0; i--, c >>= 8)
        nonce[sizeof n->prefix + i] = (uint8_t)c;
}

bool cf_tde_page_seal(cf_xaes *dek, cf_tde_nonces *nonces, const uint8_t salt[CF_TDE_SALT_LEN],
                      uint32_t pgno, uint8_t generation, uint8_t *page, size_t page_size)
{
    CF_ENSURE(cf_tde_page_size_ok(page_size), CF_ERR_BAD_INPUT, "invalid page size");
    uint8_t *reserved = page + page_size - CF_TDE_RESERVED;
    uint8_t *nonce = page + page_size - CF_TDE_NONCE_AT, *tag = page + page_size - CF_TDE_TAG_AT;
    reserved[0] = generation;
    memset(reserved + 1, 0, CF_TDE_ZERO_LEN);
    cf_tde_nonce_next(nonces, nonce);
    uint8_t aad[CF_TDE_SALT_LEN + 5];
    cf_tde_aad(salt, pgno, generation, aad);
    cf_slice body = cf_slice_of(page, page_size - CF_TDE_RESERVED);
    return cf_xaes_seal(dek, nonce, cf_slice_of(aad, sizeof aad), body, page, tag);
}

uint8_t cf_tde_page_generation(const uint8_t *page, size_t page_size)
{
    return page[page_size - CF_TDE_RESERVED];
}

bool cf_tde_page_open(cf_xaes *dek, const uint8_t salt[CF_TDE_SALT_LEN], uint32_t pgno,
                      uint8_t *page, size_t page_size)
{
    CF_ENSURE(cf_tde_page_size_ok(page_size), CF_ERR_BAD_INPUT, "invalid page size");
    uint8_t *reserved = page + page_size - CF_TDE_RESERVED;
    static const uint8_t zero[CF_TDE_ZERO_LEN];
    bool ok = memcmp(reserved + 1, zero, CF_TDE_ZERO_LEN) == 0;
    uint8_t aad[CF_TDE_SALT_LEN + 5];
    cf_tde_aad(salt, pgno, reserved[0], aad);
    ok = ok && cf_xaes_open(dek, page + page_size - CF_TDE_NONCE_AT, cf_slice_of(aad, sizeof aad),
                            cf_slice_of(page, page_size - CF_TDE_RESERVED),
                            page + page_size - CF_TDE_TAG_AT, page);
    if (!ok) {
        cf_memzero(page, page_size);
        cf_error_raisef(CF_ERR_DECRYPT, __FILE__, __LINE__,
                        "page %u failed its integrity check (tampered, moved, from another "
                        "database, or another key)",
                        pgno);
        return false;
    }
    memset(reserved, 0, CF_TDE_RESERVED);
    return true;
}
