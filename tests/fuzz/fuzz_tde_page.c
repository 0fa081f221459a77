/*
 * The page decoder of transparent database encryption faces whatever the
 * database, journal or WAL file holds, i.e. bytes anyone who can write the
 * file chose.  Input layout:
 *
 *   byte 0      page size: 512 << (byte & 3)
 *   byte 1      bit 0: seal the page first with the fixed key (so that the
 *               decoder's success path is reached); bits 1-7 and byte 2: a
 *               position to flip after sealing (0: none)
 *   bytes 3-6   page number (big-endian)
 *   the rest    the page (zero-padded or cut to the page size)
 *
 * Opening must succeed exactly when the page was sealed here and left
 * untouched, give back the sealed bytes with zeroed reserved bytes, and
 * otherwise fail with CF_ERR_DECRYPT and a wiped page.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "tde_page.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cf_xaes *fuzz_dek;
static cf_tde_nonces fuzz_nonces;
static const uint8_t fuzz_salt[16] = {0xc0, 0xff, 0xee};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_dek) {
        uint8_t key[32];
        for (int i = 0; i < 32; i++)
            key[i] = (uint8_t)i;
        if (!cf_crypto_init() || !cf_xaes_new(cf_slice_of(key, 32), &fuzz_dek) ||
            !cf_tde_nonces_init(&fuzz_nonces))
            abort();
    }
    if (size < 7)
        return 0;
    size_t page_size = (size_t)512 << (data[0] & 3);
    bool seal = data[1] & 1;
    size_t flip = ((size_t)(data[1] >> 1) << 8 | data[2]) % (page_size + 1);
    uint32_t pgno =
        (uint32_t)data[3] << 24 | (uint32_t)data[4] << 16 | (uint32_t)data[5] << 8 | data[6];
    static uint8_t page[4096], plain[4096];
    memset(page, 0, sizeof page);
    memcpy(page, data + 7, size - 7 < page_size ? size - 7 : page_size);
    if (seal) {
        memset(page + page_size - CF_TDE_RESERVED, 0, CF_TDE_RESERVED);
        memcpy(plain, page, page_size);
        if (!cf_tde_page_seal(fuzz_dek, &fuzz_nonces, fuzz_salt, pgno, 1, page, page_size))
            __builtin_trap();
        if (flip)
            page[flip - 1] ^= 0x01;
    }
    bool opened = cf_tde_page_open(fuzz_dek, fuzz_salt, pgno, page, page_size);
    if (opened != (seal && !flip))
        __builtin_trap();
    if (opened && memcmp(page, plain, page_size) != 0)
        __builtin_trap();
    if (!opened) {
        if (cf_error_code() != CF_ERR_DECRYPT)
            __builtin_trap();
        for (size_t i = 0; i < page_size; i++)
            if (page[i])
                __builtin_trap();
    }
    return 0;
}
