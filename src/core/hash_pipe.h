/*
 * A digest computed on a second thread, for long streams whose hashing
 * would otherwise sit on the request's critical path (Put Blob's
 * Content-MD5 runs at ~650 MB/s, slower than TLS and AES-GCM together).
 *
 * update() copies the data into one of a few fixed slots and returns; the
 * worker hashes slots in order.  Memory is bounded by the slots
 * (CF_HASH_PIPE_SLOTS x CF_HASH_PIPE_SLOT bytes); a producer faster than
 * the hash waits.  Not threaded (threaded = false) it is a plain hasher,
 * for short streams where a thread would cost more than it saves.
 */
#ifndef CF_HASH_PIPE_H
#define CF_HASH_PIPE_H

#include "crypto.h"
#include "units.h"

#define CF_HASH_PIPE_SLOTS 4
#define CF_HASH_PIPE_SLOT (256 * CF_KIB)

typedef struct cf_hash_pipe cf_hash_pipe;

CF_MUST_USE bool cf_hash_pipe_new(cf_hash h, bool threaded, cf_hash_pipe **out) CF_NONNULL;
CF_MUST_USE bool cf_hash_pipe_update(cf_hash_pipe *p, cf_slice data) CF_NONNULL;
/* Waits for the worker, then writes cf_hash_len(h) bytes.  Once only. */
CF_MUST_USE bool cf_hash_pipe_final(cf_hash_pipe *p, uint8_t *out) CF_NONNULL;
/* Stops the worker (if running) and frees; NULL is fine. */
void cf_hash_pipe_free(cf_hash_pipe *p);

#endif
