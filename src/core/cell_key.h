/*
 * Cell-level encryption by key, the SQLite analogue of SQL Server's
 * ENCRYPTBYKEY / DECRYPTBYKEY (docs/always-encrypted.md, "Cell-level
 * encryption"), but authenticated:
 *
 *   cell = version 0x01 (1) || flags (1: bit 0, an authenticator is bound)
 *        || key id (16) || nonce (24) || ciphertext || tag (16)
 *
 * XAES-256-GCM under a 32-byte cell key with a random nonce; associated
 * data "coffer-cell-key" || version || flags || key id || authenticator.
 * The key id is derived from the key (HMAC-SHA256(key, "coffer cell key
 * id"), 16 bytes), so a cell names the key that opens it without revealing
 * it.  An authenticator (SQL Server binds a row's key column this way) ties
 * a cell to its row: copied into another row, it no longer opens.
 */
#ifndef CF_CELL_KEY_H
#define CF_CELL_KEY_H

#include <stdint.h>

#include "buf.h"

#define CF_CELL_KEY_LEN 32
#define CF_CELL_KEY_ID_LEN 16
#define CF_CELL_KEY_OVERHEAD (2 + CF_CELL_KEY_ID_LEN + 24 + 16)
#define CF_CELL_KEY_VALUE_MAX (64u * 1024 * 1024)
#define CF_CELL_KEY_AUTH_MAX 4096 /* authenticator bytes */

typedef struct cf_cell_key cf_cell_key;

CF_MUST_USE bool cf_cell_key_new(cf_slice key, cf_cell_key **out) CF_NONNULL;
void cf_cell_key_free(cf_cell_key *k);
const uint8_t *cf_cell_key_id(const cf_cell_key *k);

/* The key id a cell names; CF_ERR_DECRYPT when it is not such a cell. */
CF_MUST_USE bool cf_cell_key_id_of(cf_slice cell, uint8_t id[CF_CELL_KEY_ID_LEN]);

/* auth: NULL for none (an empty authenticator is one). */
CF_MUST_USE bool cf_cell_key_seal(cf_cell_key *k, const cf_slice *auth, cf_slice plaintext,
                                  cf_buf *out);
/* CF_ERR_DECRYPT, naming the problem (not a cell, another key, an
 * authenticator missing, unexpected or different, tampered), with nothing
 * appended, unless the cell opens. */
CF_MUST_USE bool cf_cell_key_open(cf_cell_key *k, const cf_slice *auth, cf_slice cell, cf_buf *out);

#endif
