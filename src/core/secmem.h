/*
 * Secret memory.
 *
 * cf_secret_alloc() hands out memory from a locked heap that is excluded
 * from core dumps (OpenSSL's secure heap, so private keys that OpenSSL
 * decodes land there too).  cf_secmem_init() must run once at start, before
 * threads; it also makes the process non-dumpable and sets the core-size
 * limit to zero, so no secret can reach a core file.
 *
 * cf_memzero() cannot be optimised away; cf_memeq_ct() compares in constant
 * time and is the only comparison to use for MACs, tags, tokens and hashes.
 */
#ifndef CF_SECMEM_H
#define CF_SECMEM_H

#include <stddef.h>

#include "result.h"

/* heap_size: bytes of locked memory to reserve (power of two). */
CF_MUST_USE bool cf_secmem_init(size_t heap_size);
CF_MUST_USE void *cf_secret_alloc(size_t len);
/* Wipes `len` bytes and frees; NULL is ignored. */
void cf_secret_free(void *p, size_t len);
void cf_memzero(void *p, size_t len);
CF_MUST_USE bool cf_memeq_ct(const void *a, const void *b, size_t len);

#endif
