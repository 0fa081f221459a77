/*
 * Put Block List bodies: must never crash, leak or read out of bounds; a
 * parsed list must hold 1..64-byte ids of one length, within the caps.
 */
#include <stdint.h>
#include <stdlib.h>

#include "blob_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_blob_block_list l;
    if (cf_blob_xml_parse_block_list(cf_slice_of(data, size), &l)) {
        if (l.n > CF_BLOB_MAX_BLOCKS)
            __builtin_trap();
        for (size_t k = 0; k < l.n; k++) {
            const cf_block_ref *r = &l.refs[k];
            if (r->id.len < 1 || r->id.len > CF_BLOB_BLOCK_ID_MAX || r->id.len != l.refs[0].id.len ||
                (r->from != CF_BLOCK_LATEST && r->from != CF_BLOCK_COMMITTED &&
                 r->from != CF_BLOCK_UNCOMMITTED))
                __builtin_trap();
        }
        cf_blob_block_list_free(&l);
    } else if (l.n != 0 || l.refs || l.ids || !cf_error_reason()) {
        if (cf_error_code() != CF_ERR_NOMEM)
            __builtin_trap();
    }
    return 0;
}
