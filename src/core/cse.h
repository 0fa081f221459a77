/*
 * Client-side encryption in the Azure Storage SDKs' format (protocol 2.0,
 * reading 2.1 and, whole blobs only, 1.0): docs/client-side-encryption.md
 * is the specification; this module follows it.
 *
 * The module does no I/O.  The caller fetches and stores bytes; the module
 * turns plaintext into sealed regions (encryptor) and ciphertext back into
 * plaintext (decryptor), one region at a time, handing output to a sink
 * callback, so memory is bounded by one region (4 MiB by default) either
 * way.  The blob's `encryptiondata` metadata is parsed and built here too,
 * and the content key is wrapped and unwrapped with a local key-encryption
 * key (KEK).  A KEK held elsewhere (a vault) wraps the bytes of
 * cf_cse_key_to_wrap and hands what it unwraps to cf_cse_key_from_unwrapped.
 *
 * Ownership: content keys and KEKs are opaque and live in secret memory;
 * each has a *_free that wipes it.  Encryptors and decryptors copy the key
 * material they need, so the caller may free its key after *_new.
 * Plaintext handed to a sink is borrowed for the duration of the call, in
 * secret memory wiped afterwards.  No plaintext of a region is handed out
 * before that region's tag has verified.
 *
 * Errors: CF_ERR_BAD_INPUT for malformed metadata, lengths or ranges;
 * CF_ERR_DECRYPT for every integrity failure (a tag, a region out of
 * order, a truncated body, a wrong KEK, a wrapped key for another
 * protocol); CF_ERR_UNSUPPORTED for what the format allows but Coffer does
 * not do (ranges of 1.0 blobs, a local KEK for RSA1_5).  Details name the
 * problem and never echo input.  After any failure an encryptor or
 * decryptor stays failed.
 */
#ifndef CF_CSE_H
#define CF_CSE_H

#include <stdint.h>

#include "buf.h"
#include "units.h"

#define CF_CSE_METADATA_NAME "encryptiondata" /* the blob metadata key */
#define CF_CSE_KEY_LEN 32                     /* the content key: AES-256 */
#define CF_CSE_NONCE_LEN 12
#define CF_CSE_TAG_LEN 16
#define CF_CSE_REGION_OVERHEAD (CF_CSE_NONCE_LEN + CF_CSE_TAG_LEN)
#define CF_CSE_REGION_DEFAULT (4 * CF_MIB) /* protocol 2.0's region size */
/* DataLength accepted on read: the cap bounds a reader's memory (one region). */
#define CF_CSE_REGION_MIN 16u
#define CF_CSE_REGION_MAX (64 * CF_MIB)
#define CF_CSE_META_MAX (64 * CF_KIB) /* encryptiondata JSON, in bytes */
#define CF_CSE_KEY_ID_MAX 1024
#define CF_CSE_WRAPPED_KEY_MIN 16
#define CF_CSE_WRAPPED_KEY_MAX 512 /* RSA-4096 */
#define CF_CSE_CBC_IV_LEN 16
/* What a caller shows its user when it reads a protocol 1.0 blob. */
#define CF_CSE_V1_WARNING                                                                   \
    "this blob uses client-side encryption protocol 1.0 (AES-CBC, unauthenticated); it is " \
    "read for migration only: re-upload it to encrypt it with protocol 2.0"

typedef enum { CF_CSE_V1_0, CF_CSE_V2_0, CF_CSE_V2_1 } cf_cse_protocol;

/* Key-wrap algorithms by their Key Vault (JWA) names. */
typedef enum {
    CF_CSE_WRAP_A256KW,
    CF_CSE_WRAP_A192KW,
    CF_CSE_WRAP_A128KW,
    CF_CSE_WRAP_RSA_OAEP, /* SHA-1, MGF1-SHA-1 */
    CF_CSE_WRAP_RSA_OAEP_256,
    CF_CSE_WRAP_RSA1_5,
} cf_cse_wrap_alg;

/* "1.0", "2.0", "2.1". */
const char *cf_cse_protocol_name(cf_cse_protocol protocol);
/* "A256KW", "RSA-OAEP", ... */
const char *cf_cse_wrap_alg_name(cf_cse_wrap_alg alg);

/* ---- the encryptiondata metadata (cse_meta.c) ---- */

/* Everything in encryptiondata that a reader needs; nothing in it is secret. */
typedef struct {
    cf_cse_protocol protocol;
    cf_cse_wrap_alg wrap_alg;
    char key_id[CF_CSE_KEY_ID_MAX + 1]; /* NUL-terminated */
    uint8_t wrapped_key[CF_CSE_WRAPPED_KEY_MAX];
    size_t wrapped_key_len;
    uint32_t region_len;                   /* 2.x: DataLength; 0 for 1.0 */
    uint8_t content_iv[CF_CSE_CBC_IV_LEN]; /* 1.0 only */
} cf_cse_meta;

/* Starts metadata for a new blob: protocol 2.0 when region_len is
 * CF_CSE_REGION_DEFAULT, else 2.1 (which records it).  The wrapped key is
 * filled in by cf_cse_kek_wrap (or by the caller after a vault wrap). */
CF_MUST_USE bool cf_cse_meta_init(cf_cse_meta *meta, uint32_t region_len) CF_NONNULL;
/* Strict parse of an encryptiondata value (at most CF_CSE_META_MAX bytes);
 * accepts what the .NET, Java and Python SDKs write (the spec lists it). */
CF_MUST_USE bool cf_cse_meta_parse(cf_slice json, cf_cse_meta *out) CF_NONNULL;
/* The JSON for a 2.x `meta` (never 1.0), appended to `out`: compact,
 * ASCII only (it travels as an HTTP header), members in the order the
 * Python SDK writes them. */
CF_MUST_USE bool cf_cse_meta_build(const cf_cse_meta *meta, cf_buf *out) CF_NONNULL;

/* ---- content keys and local KEKs (cse_keys.c) ---- */

typedef struct cf_cse_key cf_cse_key; /* a 256-bit content key, in secret memory */
typedef struct cf_cse_kek cf_cse_kek; /* a local KEK: AES-256 or RSA */

CF_MUST_USE bool cf_cse_key_generate(cf_cse_key **out) CF_NONNULL;
/* A content key from its 32 bytes (borrowed, copied). */
CF_MUST_USE bool cf_cse_key_from_bytes(cf_slice bytes, cf_cse_key **out) CF_NONNULL;
/* What a KEK wraps for `protocol`: the protocol string NUL-padded to 8
 * bytes, then the key (2.x).  `out` must be a secret buffer.  1.0 is never
 * written and is refused. */
CF_MUST_USE bool cf_cse_key_to_wrap(const cf_cse_key *key, cf_cse_protocol protocol,
                                    cf_buf *out) CF_NONNULL;
/* The content key from what a KEK unwrapped: for 2.x the 8-byte prefix
 * must name `protocol` exactly (else CF_ERR_DECRYPT: the metadata was
 * edited, e.g. a downgrade), then 32 bytes; for 1.0 the bare 32 bytes. */
CF_MUST_USE bool cf_cse_key_from_unwrapped(cf_cse_protocol protocol, cf_slice unwrapped,
                                           cf_cse_key **out) CF_NONNULL;
/* Wipes and frees; NULL is ignored. */
void cf_cse_key_free(cf_cse_key *key);

/* A local KEK from the bytes of a key file: exactly 32 bytes is a raw
 * AES-256 key (A256KW); anything else must be an RSA key in PEM, private
 * (wraps and unwraps, RSA-OAEP) or public (wraps only).  key_id is copied
 * into the metadata this KEK wraps for (1..CF_CSE_KEY_ID_MAX bytes). */
CF_MUST_USE bool cf_cse_kek_from_key_file(cf_slice bytes, const char *key_id,
                                          cf_cse_kek **out) CF_NONNULL;
/* Wrap with RSA-OAEP-256 instead of RSA-OAEP (RSA KEKs only). */
CF_MUST_USE bool cf_cse_kek_use_oaep_256(cf_cse_kek *kek) CF_NONNULL;
/* Wraps `key` for meta->protocol (set by cf_cse_meta_init) and records the
 * wrapped key, the algorithm and the KEK's id in `meta`. */
CF_MUST_USE bool cf_cse_kek_wrap(const cf_cse_kek *kek, const cf_cse_key *key,
                                 cf_cse_meta *meta) CF_NONNULL;
/* Unwraps the content key of `meta`.  KeyId is not compared (choosing the
 * KEK is the caller's business); a wrong KEK fails the unwrap itself with
 * CF_ERR_DECRYPT. */
CF_MUST_USE bool cf_cse_kek_unwrap(const cf_cse_kek *kek, const cf_cse_meta *meta,
                                   cf_cse_key **out) CF_NONNULL;
void cf_cse_kek_free(cf_cse_kek *kek);

/* ---- lengths and ranges (cse.c) ---- */

/* Body length of `plaintext_len` bytes in regions of `region_len`. */
CF_MUST_USE bool cf_cse_body_length(uint32_t region_len, uint64_t plaintext_len,
                                    uint64_t *out) CF_NONNULL;
/* Plaintext length of a body of `body_len` bytes; CF_ERR_DECRYPT when no
 * body has that length (truncated or extended).  Arithmetic only. */
CF_MUST_USE bool cf_cse_plaintext_length(uint32_t region_len, uint64_t body_len,
                                         uint64_t *out) CF_NONNULL;

/* What to fetch for a plaintext range, and how to cut the result. */
typedef struct {
    uint64_t fetch_offset; /* first body byte to fetch */
    uint64_t fetch_length; /* body bytes to fetch (0: nothing) */
    uint64_t first_region; /* index of the region at fetch_offset */
    uint64_t skip;         /* plaintext bytes to drop from the first region */
    uint64_t length;       /* plaintext bytes to deliver; UINT64_MAX: all (1.0) */
    uint64_t body_length;  /* the whole body's length, as given */
} cf_cse_range;

/* Maps plaintext [offset, offset + length) of a blob whose body is
 * `body_len` bytes to the body range to fetch.  length is clamped to the
 * end (UINT64_MAX: to the end); offset past the end is CF_ERR_BAD_INPUT.
 * For 1.0 only the whole blob (0, UINT64_MAX) is supported. */
CF_MUST_USE bool cf_cse_range_map(const cf_cse_meta *meta, uint64_t body_len, uint64_t offset,
                                  uint64_t length, cf_cse_range *out) CF_NONNULL;

/* ---- streams (cse.c) ---- */

/* Where sealed regions (encryptor) or plaintext (decryptor) go, in order.
 * write returns true on success; on failure it raises an error and returns
 * false, and the stream call fails with it (CF_ERR_IO if none was raised). */
typedef struct {
    bool (*write)(void *ctx, cf_slice bytes);
    void *ctx;
} cf_cse_sink;

typedef struct cf_cse_encryptor cf_cse_encryptor;

/* Region i's nonce is i as a 12-byte big-endian number, as the Python SDK
 * writes it: the same key and plaintext give the same body. */
CF_MUST_USE bool cf_cse_encryptor_new(const cf_cse_key *key, uint32_t region_len, cf_cse_sink sink,
                                      cf_cse_encryptor **out) CF_NONNULL;
/* Accepts plaintext of any size; emits each region as soon as it is full. */
CF_MUST_USE bool cf_cse_encrypt_update(cf_cse_encryptor *enc, cf_slice plaintext) CF_NONNULL;
/* Seals the last, partial region.  Either length pointer may be NULL. */
CF_MUST_USE bool cf_cse_encrypt_finish(cf_cse_encryptor *enc, uint64_t *plaintext_len,
                                       uint64_t *body_len);
void cf_cse_encryptor_free(cf_cse_encryptor *enc);

typedef struct cf_cse_decryptor cf_cse_decryptor;

/* A decryptor for the body bytes `range` (from cf_cse_range_map) names,
 * delivering the range's plaintext.  2.x: every region's tag and its nonce
 * against its position (one of the SDKs' schemes, the same for all) are
 * checked.  1.0: whole bodies only, padding checked at the end. */
CF_MUST_USE bool cf_cse_decryptor_new(const cf_cse_key *key, const cf_cse_meta *meta,
                                      const cf_cse_range *range, cf_cse_sink sink,
                                      cf_cse_decryptor **out) CF_NONNULL;
/* Consumes body bytes in any chunking; more than the range holds is
 * CF_ERR_DECRYPT. */
CF_MUST_USE bool cf_cse_decrypt_update(cf_cse_decryptor *dec, cf_slice body) CF_NONNULL;
/* Checks that the whole range arrived (else CF_ERR_DECRYPT, truncated) and
 * delivers the last region. */
CF_MUST_USE bool cf_cse_decrypt_finish(cf_cse_decryptor *dec) CF_NONNULL;
void cf_cse_decryptor_free(cf_cse_decryptor *dec);

#endif
