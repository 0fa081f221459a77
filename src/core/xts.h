/*
 * XTS-AES-256 over disk sectors (IEEE 1619, NIST SP 800-38E), for the
 * volume keys of coffer-disk's virtual disks (docs/page-blobs.md).
 *
 * The volume key is 64 bytes: the data key and the tweak key, two AES-256
 * keys that must differ (NIST SP 800-38E and FIPS 140's guidance; equal
 * halves are refused).  A sector is one XTS data unit, encrypted with its
 * number as the tweak: 16 bytes, little-endian, as IEEE 1619's vectors and
 * dm-crypt's plain64 (for 512-byte sectors) use it, so a sector moved
 * elsewhere decrypts to garbage.  XTS is unauthenticated by design (a sector is exactly its size
 * on disk); integrity comes from the blob service's own sealing beneath.
 *
 * A context holds the key schedules (in OpenSSL's cipher contexts, wiped
 * by cf_xts_free) and is for one thread at a time.
 */
#ifndef CF_XTS_H
#define CF_XTS_H

#include <stdint.h>

#include "buf.h"

#define CF_XTS_KEY_LEN 64

typedef struct cf_xts cf_xts;

/* sector_size: 512 or 4096. */
CF_MUST_USE bool cf_xts_new(cf_slice key, uint32_t sector_size, cf_xts **out) CF_NONNULL;
void cf_xts_free(cf_xts *x);
uint32_t cf_xts_sector_size(const cf_xts *x) CF_NONNULL;

/* Encrypts (decrypts) `len` bytes in place, a whole number of sectors, the
 * first of which is sector number `first`.  After a failure part of `buf`
 * may have been transformed: discard it. */
CF_MUST_USE bool cf_xts_encrypt(cf_xts *x, uint64_t first, uint8_t *buf, size_t len) CF_NONNULL;
CF_MUST_USE bool cf_xts_decrypt(cf_xts *x, uint64_t first, uint8_t *buf, size_t len) CF_NONNULL;

#endif
