/*
 * Extents: the at-rest format of every stored body in coffer-blob, a
 * segmented AEAD stream (specified in docs/extent-format.md).
 *
 *   header (64 bytes) ‖ segment 0 ‖ … ‖ segment n-1
 *   segment i = AES-256-GCM(extent_key, prefix ‖ be32(i) ‖ last, aad = header)
 *   extent_key = HKDF-SHA256(scope key, salt, "coffer extent v1" ‖ key_ref)
 *
 * The module does no I/O of its own: the writer hands sealed bytes to a
 * sink callback, the reader pulls ciphertext through a read-at callback and
 * hands plaintext to a sink, one segment at a time, so memory is bounded by
 * one segment either way and files, memory or other backends plug in behind
 * the same two callbacks.
 *
 * Callbacks return true on success; on failure they raise an error
 * (cf_error_raise, e.g. CF_ERR_IO) and return false, and the extent call
 * fails with it (CF_ERR_IO if the callback raised nothing).
 *
 * Plaintext handed to a sink is borrowed for the duration of the call and
 * lives in secret memory that is wiped afterwards: a sink that needs it
 * later copies it.  A reader never hands out plaintext of a segment whose
 * tag has not verified.
 */
#ifndef CF_EXTENT_H
#define CF_EXTENT_H

#include <stdint.h>

#include "buf.h"
#include "units.h"

#define CF_EXTENT_HEADER_LEN 64
#define CF_EXTENT_KEY_REF_LEN 16
#define CF_EXTENT_SALT_LEN 32
#define CF_EXTENT_NONCE_PREFIX_LEN 7
#define CF_EXTENT_SCOPE_KEY_LEN 32
#define CF_EXTENT_TAG_LEN 16
#define CF_EXTENT_VERSION 1
#define CF_EXTENT_CIPHER_AES256_GCM_HKDF 1
/* The same cipher as the infrastructure layer: the plaintext is itself a
 * complete (cipher 1) extent. */
#define CF_EXTENT_CIPHER_LAYER 2
#define CF_EXTENT_SEGMENT_MIN 4096u
#define CF_EXTENT_SEGMENT_MAX CF_MIB
#define CF_EXTENT_SEGMENT_DEFAULT (64 * CF_KIB)

/* Where sealed bytes (writer) or plaintext (reader) go, in order. */
typedef struct {
    bool (*write)(void *ctx, cf_slice bytes);
    void *ctx;
} cf_extent_sink;

/* Where a reader gets stored bytes: read_at must fill all `len` bytes at
 * `off` or fail; `length` is the stored total length (file size). */
typedef struct {
    bool (*read_at)(void *ctx, uint64_t off, uint8_t *buf, size_t len);
    void *ctx;
    uint64_t length;
} cf_extent_source;

/* A parsed header.  Nothing in it is secret. */
typedef struct {
    uint8_t version;
    uint8_t cipher;
    uint32_t segment_size;
    uint8_t key_ref[CF_EXTENT_KEY_REF_LEN];
    uint8_t salt[CF_EXTENT_SALT_LEN];
    uint8_t nonce_prefix[CF_EXTENT_NONCE_PREFIX_LEN];
    uint8_t raw[CF_EXTENT_HEADER_LEN]; /* the bytes as stored: every segment's AAD */
} cf_extent_header;

/* ---- writing ---- */

typedef struct cf_extent_writer cf_extent_writer;

/* Starts an extent: draws salt and nonce prefix, derives the extent key,
 * and writes the header to `sink`.  scope_key: 32 bytes, borrowed;
 * segment_size: a power of two in CF_EXTENT_SEGMENT_MIN..MAX. */
CF_MUST_USE bool cf_extent_writer_begin(cf_slice scope_key,
                                        const uint8_t key_ref[CF_EXTENT_KEY_REF_LEN],
                                        uint32_t segment_size, cf_extent_sink sink,
                                        cf_extent_writer **out) CF_NONNULL;
/* As above with the cipher id of the header (CF_EXTENT_CIPHER_*): the
 * infrastructure layer writes CF_EXTENT_CIPHER_LAYER. */
CF_MUST_USE bool cf_extent_writer_begin_cipher(cf_slice scope_key,
                                               const uint8_t key_ref[CF_EXTENT_KEY_REF_LEN],
                                               uint32_t segment_size, uint8_t cipher,
                                               cf_extent_sink sink,
                                               cf_extent_writer **out) CF_NONNULL;
/* FOR TESTS ONLY (known-answer vectors): as above with the given salt and
 * nonce prefix instead of random ones.  Reusing them in production would
 * reuse nonces under one key. */
CF_MUST_USE bool cf_extent_writer_begin_testing_only(
    cf_slice scope_key, const uint8_t key_ref[CF_EXTENT_KEY_REF_LEN], uint32_t segment_size,
    const uint8_t salt[CF_EXTENT_SALT_LEN], const uint8_t nonce_prefix[CF_EXTENT_NONCE_PREFIX_LEN],
    cf_extent_sink sink, cf_extent_writer **out) CF_NONNULL;
/* Appends plaintext; seals and emits every segment known not to be last.
 * After any failure the writer stays failed. */
CF_MUST_USE bool cf_extent_write(cf_extent_writer *w, cf_slice data) CF_NONNULL;
/* Seals the last segment.  Either length pointer may be NULL. */
CF_MUST_USE bool cf_extent_finish(cf_extent_writer *w, uint64_t *plaintext_len,
                                  uint64_t *stored_len);
/* Wipes and frees; NULL is ignored.  Freeing an unfinished writer leaves a
 * sink with an incomplete extent that no reader accepts. */
void cf_extent_writer_free(cf_extent_writer *w);

/* ---- reading ---- */

/* Strict parse of exactly CF_EXTENT_HEADER_LEN bytes; CF_ERR_BAD_INPUT on
 * any deviation from the v1 header. */
CF_MUST_USE bool cf_extent_header_parse(cf_slice bytes, cf_extent_header *out) CF_NONNULL;
/* Plaintext length of an extent of `stored_len` bytes; CF_ERR_DECRYPT when
 * no v1 extent has that stored length (truncated or extended).  Arithmetic
 * only: it authenticates nothing (see "Range reads" in the spec). */
CF_MUST_USE bool cf_extent_plaintext_length(const cf_extent_header *h, uint64_t stored_len,
                                            uint64_t *out) CF_NONNULL;
/* Stored length of `plaintext_len` bytes at `segment_size`; false
 * (CF_ERR_TOO_LARGE / CF_ERR_BAD_INPUT) beyond the format's limits. */
CF_MUST_USE bool cf_extent_stored_length(uint32_t segment_size, uint64_t plaintext_len,
                                         uint64_t *out) CF_NONNULL;
/* Reads and parses the header, e.g. to learn the key reference. */
CF_MUST_USE bool cf_extent_read_header(const cf_extent_source *src,
                                       cf_extent_header *out) CF_NONNULL;
/* Delivers plaintext [offset, offset + length) to `sink`, decrypting only
 * the segments it touches (at least one, so a zero-length read still checks
 * the key).  CF_ERR_BAD_INPUT: malformed header or a range past the end;
 * CF_ERR_DECRYPT: any integrity failure.  On failure, segments before the
 * failing one may have been delivered; none of the failing one was. */
CF_MUST_USE bool cf_extent_read(cf_slice scope_key, const cf_extent_source *src, uint64_t offset,
                                uint64_t length, cf_extent_sink sink) CF_NONNULL;

/* ---- the infrastructure layer (extent_layer.c; docs/extent-format.md) ----
 *
 * An outer extent (cipher CF_EXTENT_CIPHER_LAYER) whose plaintext is an
 * inner extent.  Writing: begin the outer writer with
 * cf_extent_writer_begin_cipher, then the inner one with
 * cf_extent_layer_sink(outer) as its sink; finish inner, then outer.
 * Reading: cf_extent_layer_open gives a source over the inner extent's
 * stored bytes, decrypting the outer layer one segment at a time (cached),
 * for cf_extent_read_header / cf_extent_read with the inner key. */
typedef struct cf_extent_layer cf_extent_layer;

cf_extent_sink cf_extent_layer_sink(cf_extent_writer *outer);
/* outer_key: the outer scope key (32 bytes, copied); `outer` must outlive
 * the layer.  Checks the outer header (cipher CF_EXTENT_CIPHER_LAYER) and
 * length. */
CF_MUST_USE bool cf_extent_layer_open(cf_slice outer_key, const cf_extent_source *outer,
                                      cf_extent_layer **out) CF_NONNULL;
/* The inner extent's stored bytes, as a source (valid while the layer lives). */
cf_extent_source cf_extent_layer_source(cf_extent_layer *layer) CF_NONNULL;
/* Wipes the cached plaintext and the key. */
void cf_extent_layer_free(cf_extent_layer *layer);

#endif
