/*
 * CRC-64/NVME, the checksum Azure Blob Storage carries in x-ms-content-crc64.
 *
 * Parameters: reflected, polynomial 0xAD93D23594C93659 (0x9A6C9329AC4BC9B5
 * bit-reversed), init and xorout all ones.  "123456789" -> 0xAE8B14860A799888,
 * which the header carries as base64 of its 8 little-endian bytes,
 * "iJh5CoYUi64=".
 *
 * Streaming use, for bodies that arrive in pieces:
 *
 *     uint64_t st = cf_crc64_init();
 *     st = cf_crc64_update(st, piece);        (any number of times)
 *     uint64_t crc = cf_crc64_final(st);
 *
 * The state is a plain value: no allocation, nothing to free, and a copy
 * taken mid-stream is a valid checkpoint.  The functions are pure and
 * thread-safe.  cf_crc64_update picks, once per process, a carry-less-multiply
 * (PCLMULQDQ) version on x86-64 CPUs that have it and a portable table
 * version elsewhere; both give identical results.
 *
 * A CRC is an integrity check against accidents, not a MAC: it proves nothing
 * against someone who can change the body.
 */
#ifndef CF_CRC64_H
#define CF_CRC64_H

#include <stdint.h>

#include "buf.h"

/* 12 base64 characters for 8 bytes, plus the NUL. */
#define CF_CRC64_BASE64_SIZE 13

/* The state before any data. */
CF_MUST_USE uint64_t cf_crc64_init(void);
/* Folds `data` into `state` and returns the new state; data may be empty. */
CF_MUST_USE uint64_t cf_crc64_update(uint64_t state, cf_slice data);
/* The CRC of everything folded into `state`. */
CF_MUST_USE uint64_t cf_crc64_final(uint64_t state);
/* One-shot: init, update, final. */
CF_MUST_USE uint64_t cf_crc64(cf_slice data);

/* Formats `crc` as the x-ms-content-crc64 header value: base64 of the 8
 * little-endian bytes, NUL-terminated (always 12 characters). */
void cf_crc64_base64(uint64_t crc, char out[CF_CRC64_BASE64_SIZE]) CF_NONNULL;

/*
 * The two implementations behind cf_crc64_update, exported for the unit test
 * and benchmarks; callers use cf_crc64_update.  cf_crc64_update_clmul falls
 * back to the portable code when cf_crc64_clmul_available() is false (other
 * architectures, or a CPU without PCLMULQDQ), so it is always safe to call.
 */
CF_MUST_USE uint64_t cf_crc64_update_portable(uint64_t state, cf_slice data);
CF_MUST_USE uint64_t cf_crc64_update_clmul(uint64_t state, cf_slice data);
CF_MUST_USE bool cf_crc64_clmul_available(void);

#endif
