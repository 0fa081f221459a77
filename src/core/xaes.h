/*
 * XAES-256-GCM (C2SP, c2sp.org/XAES-256-GCM): AES-256-GCM with 192-bit
 * nonces.  From the key and the nonce's first 12 bytes a per-message
 * AES-256 key is derived (a CMAC-based KDF: two AES blocks, with the CMAC
 * subkey computed once per key), and AES-256-GCM runs under it with the
 * nonce's last 12 bytes.  Random nonces are then safe for any practical
 * number of messages under one key, where plain AES-GCM's 96-bit random
 * nonces are limited to about 2^32 (docs/database-encryption.md).
 *
 * A context holds key material (freed and wiped by cf_xaes_free) and is
 * for one thread at a time.
 */
#ifndef CF_XAES_H
#define CF_XAES_H

#include <stdint.h>

#include "buf.h"

#define CF_XAES_KEY_LEN 32
#define CF_XAES_NONCE_LEN 24
#define CF_XAES_TAG_LEN 16

typedef struct cf_xaes cf_xaes;

CF_MUST_USE bool cf_xaes_new(cf_slice key, cf_xaes **out) CF_NONNULL;
void cf_xaes_free(cf_xaes *x);

/* ct has pt.len bytes (may be pt.ptr). */
CF_MUST_USE bool cf_xaes_seal(cf_xaes *x, const uint8_t nonce[CF_XAES_NONCE_LEN], cf_slice aad,
                              cf_slice pt, uint8_t *ct, uint8_t tag[CF_XAES_TAG_LEN]);
/* CF_ERR_DECRYPT (pt wiped) unless the tag verifies; pt may be ct.ptr. */
CF_MUST_USE bool cf_xaes_open(cf_xaes *x, const uint8_t nonce[CF_XAES_NONCE_LEN], cf_slice aad,
                              cf_slice ct, const uint8_t tag[CF_XAES_TAG_LEN], uint8_t *pt);

#endif
