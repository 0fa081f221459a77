/*
 * Shared by the client-side encryption files (cse.c, cse_keys.c,
 * cse_meta.c) only: the content key's layout.  Others see it opaque.
 */
#ifndef CF_CSE_INTERNAL_H
#define CF_CSE_INTERNAL_H

#include "cse.h"

/* Allocated whole from secret memory by cf_cse_key_from_bytes. */
struct cf_cse_key {
    uint8_t bytes[CF_CSE_KEY_LEN];
};

static inline cf_slice cf_cse_key_slice(const cf_cse_key *key)
{
    return cf_slice_of(key->bytes, CF_CSE_KEY_LEN);
}

#endif
