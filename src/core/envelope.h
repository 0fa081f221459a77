/*
 * Envelopes: one AES-256-GCM sealed value with associated data.
 *
 *   byte 0      format version (1)
 *   bytes 1-12  random nonce
 *   then        ciphertext (same length as the plaintext)
 *   last 16     GCM tag
 *
 * The associated data is never stored: the opener must supply the same
 * identity (vault, kind, name, version...) the sealer bound, so a sealed
 * value moved to another row fails to open.  Random 96-bit nonces are safe
 * here because each data key seals far fewer than 2^32 values.
 */
#ifndef CF_ENVELOPE_H
#define CF_ENVELOPE_H

#include "buf.h"

#define CF_ENVELOPE_VERSION 1
#define CF_ENVELOPE_OVERHEAD (1 + 12 + 16)
#define CF_DATA_KEY_LEN 32

CF_MUST_USE bool cf_envelope_seal(cf_slice key, cf_slice aad, cf_slice plaintext, cf_buf *out);
/* `out` should be a secret buffer; fails with CF_ERR_DECRYPT on tampering. */
CF_MUST_USE bool cf_envelope_open(cf_slice key, cf_slice aad, cf_slice sealed, cf_buf *out);

#endif
