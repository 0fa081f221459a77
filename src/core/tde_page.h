/*
 * One page of a database under transparent encryption
 * (docs/database-encryption.md, "A page"): SQLite keeps the last
 * CF_TDE_RESERVED bytes of every page free, and the page is sealed in place
 * with XAES-256-GCM:
 *
 *   page = ciphertext (page_size - 48) || generation (1) || zero (7)
 *        || nonce (24) || tag (16)
 *
 * with the associated data salt (16) || page number (4, big-endian) ||
 * generation (1): a page moved, taken from another database or from
 * before a rekey fails its tag.  The same layout serves the database file,
 * the rollback journal and the WAL.
 */
#ifndef CF_TDE_PAGE_H
#define CF_TDE_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "xaes.h"

#define CF_TDE_RESERVED 48
#define CF_TDE_SALT_LEN 16
#define CF_TDE_PAGE_MIN 512
#define CF_TDE_PAGE_MAX 65536

/* Where a writer's nonces come from: 16 random bytes drawn once and a
 * 64-bit counter.  Nonces never repeat under one generator, and two
 * generators share a prefix with negligible probability; since the first
 * 12 bytes stay the same, XAES derives its per-message key once per
 * generator rather than once per page.  Not to be copied across fork(). */
typedef struct {
    uint8_t prefix[16];
    uint64_t counter;
} cf_tde_nonces;

CF_MUST_USE bool cf_tde_nonces_init(cf_tde_nonces *n);
/* The next nonce. */
void cf_tde_nonce_next(cf_tde_nonces *n, uint8_t nonce[CF_XAES_NONCE_LEN]);

/* Seals `page` (page_size bytes, its last CF_TDE_RESERVED free) in place
 * with the next nonce of `nonces`, under DEK generation `generation`. */
CF_MUST_USE bool cf_tde_page_seal(cf_xaes *dek, cf_tde_nonces *nonces,
                                  const uint8_t salt[CF_TDE_SALT_LEN], uint32_t pgno,
                                  uint8_t generation, uint8_t *page, size_t page_size);

/* The DEK generation a sealed page names (so the caller picks the DEK). */
uint8_t cf_tde_page_generation(const uint8_t *page, size_t page_size);

/* Opens `page` in place: CF_ERR_DECRYPT (the page wiped) unless the tag
 * verifies for this salt, page number and generation and the reserved
 * bytes are as written; on success the reserved bytes are zeroed, as
 * SQLite left them. */
CF_MUST_USE bool cf_tde_page_open(cf_xaes *dek, const uint8_t salt[CF_TDE_SALT_LEN], uint32_t pgno,
                                  uint8_t *page, size_t page_size);

#endif
