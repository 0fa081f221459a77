/*
 * The Coffer header of a database under transparent encryption
 * (docs/database-encryption.md, "The header"): two 4 KiB slots ahead of
 * SQLite's pages.  A change writes the other slot with the next sequence
 * number; readers take the newest slot whose MAC verifies.
 *
 * Slot layout (big-endian integers):
 *   0     magic "Coffer TDE v1" (16, zero-padded)
 *   16    sequence (8)
 *   24    page size (4)
 *   28    database salt (16)
 *   44    current DEK generation (1): the one new pages are sealed under
 *   45    protector kind (1)   46  wrapping algorithm (1)   47  zero (1)
 *   48    protector id length (2), 50 protector id (CF_TDE_PROTECTOR_ID_MAX)
 *   1080  two DEK entries of 516 bytes: generation (1; 0 = empty), zero
 *         (1), wrapped length (2), wrapped DEK (CF_TDE_WRAPPED_MAX)
 *   4064  HMAC-SHA256 over bytes 0..4063, keyed by a key derived from the
 *         current generation's DEK
 */
#ifndef CF_TDE_HEADER_H
#define CF_TDE_HEADER_H

#include <stdint.h>

#include "buf.h"
#include "tde_page.h"

#define CF_TDE_SLOT_LEN 4096
#define CF_TDE_HEADER_LEN (2 * CF_TDE_SLOT_LEN)
#define CF_TDE_PROTECTOR_ID_MAX 1024
#define CF_TDE_WRAPPED_MAX 512
#define CF_TDE_DEK_LEN 32

enum { CF_TDE_PROTECTOR_LOCAL = 1, CF_TDE_PROTECTOR_VAULT = 2 };
enum { CF_TDE_WRAP_A256KW = 1, CF_TDE_WRAP_RSA_OAEP_256 = 2 };

typedef struct {
    uint8_t generation; /* 1..255; 0 = no entry */
    uint16_t len;
    uint8_t wrapped[CF_TDE_WRAPPED_MAX];
} cf_tde_wrapped_dek;

typedef struct {
    uint64_t sequence;
    uint32_t page_size;
    uint8_t salt[CF_TDE_SALT_LEN];
    uint8_t current;
    uint8_t protector_kind;
    uint8_t wrap_alg;
    char protector_id[CF_TDE_PROTECTOR_ID_MAX + 1];
    cf_tde_wrapped_dek dek[2];
} cf_tde_header;

/* Reads a slot's fields (CF_ERR_BAD_INPUT unless well formed; the MAC is
 * checked separately, once the DEK is unwrapped). */
CF_MUST_USE bool cf_tde_header_parse(const uint8_t slot[CF_TDE_SLOT_LEN], cf_tde_header *out);
/* Writes a slot, MACed under `current_dek` (the DEK of h->current). */
CF_MUST_USE bool cf_tde_header_build(const cf_tde_header *h, cf_slice current_dek,
                                     uint8_t slot[CF_TDE_SLOT_LEN]);
/* CF_ERR_DECRYPT unless the slot's MAC verifies under `current_dek`. */
CF_MUST_USE bool cf_tde_header_verify(const uint8_t slot[CF_TDE_SLOT_LEN], cf_slice current_dek);
/* A slot's sequence number from its first CF_TDE_PREFIX_LEN bytes; false
 * if they do not begin a slot (unverified: a hint to reload). */
#define CF_TDE_PREFIX_LEN 24
bool cf_tde_header_sequence(const uint8_t prefix[CF_TDE_PREFIX_LEN], uint64_t *seq);
/* The entry for `generation`, or NULL. */
const cf_tde_wrapped_dek *cf_tde_header_dek(const cf_tde_header *h, uint8_t generation);

#endif
