/*
 * The Coffer TDE header (src/sqlite/tde_header.h) is the first thing read
 * from a database file anyone may have written.  The input is one slot
 * (zero-padded or cut to 4096 bytes); when it parses, the header is built
 * again under a fixed key, which must parse to the same fields and verify,
 * and the input's own MAC must verify only if it is that very slot.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "tde_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        if (!cf_crypto_init())
            abort();
        ready = true;
    }
    static uint8_t slot[CF_TDE_SLOT_LEN], built[CF_TDE_SLOT_LEN];
    memset(slot, 0, sizeof slot);
    memcpy(slot, data, size < sizeof slot ? size : sizeof slot);
    static const uint8_t dek[CF_TDE_DEK_LEN] = {0xde, 0xc0, 0xde};
    cf_slice key = cf_slice_of(dek, sizeof dek);
    cf_tde_header h, again;
    if (!cf_tde_header_parse(slot, &h))
        return 0;
    if (!cf_tde_header_build(&h, key, built) || !cf_tde_header_parse(built, &again) ||
        memcmp(&h, &again, sizeof h) != 0 || !cf_tde_header_verify(built, key))
        abort();
    if (cf_tde_header_verify(slot, key) != (memcmp(slot, built, sizeof slot) == 0))
        abort();
    built[size % sizeof built] ^= 0x40;
    if (cf_tde_header_parse(built, &again) && cf_tde_header_verify(built, key))
        abort();
    return 0;
}
