/*
 * coffer-blob's storage layer: metadata in SQLite (WAL, synchronous=FULL),
 * bodies as extent files (docs/extent-format.md) under DATA/extents/ab/cd/<id>.
 * No HTTP here: handlers parse, authorize, call these domain functions and
 * render.  Another backend (PostgreSQL + RADOS) replaces this file pair.
 *
 * Keys (DESIGN §2).  The caller hands open() a 32-byte *service data key*
 * (the blob service's own master key, already unsealed; copied into secret
 * memory, wiped on close).  Each account row holds, sealed with
 * cf_envelope_seal under that key and with AAD
 * "coffer-blob\0account\0<name>\0<slot>":
 *   key1, key2  - the two 64-byte Shared Key account keys;
 *   data        - the account's random 256-bit scope data key;
 * plus `key_ref`, 16 random bytes naming that data key, written into every
 * extent header so a reader (and a later rotation) knows which key sealed it.
 *
 * Extent binding.  cf_extent authenticates one extent but cannot tell two
 * extents of the same scope key apart ("swap in a whole other extent" in the
 * format spec is the blob layer's job).  So the scope key given to cf_extent
 * is not the account data key itself but
 *     HKDF-SHA256(ikm = account data key, salt = "",
 *                 info = "coffer blob extent id" || extent id (32 hex))
 * and the extent id is the file's name and is recorded in metadata: a file
 * moved or swapped under another id fails every tag with CF_ERR_DECRYPT.
 * Before serving, each extent's stored plaintext length is also compared
 * with the length recorded in metadata (cf_extent_plaintext_length), which
 * catches truncation at a segment boundary that a range read alone would
 * not see.
 *
 * Crash safety.  A body is written to "<id>.tmp" beside its final name,
 * fsynced, renamed, and the directory fsynced; only THEN does the metadata
 * transaction commit.  Deletions commit metadata first and unlink after.  A
 * crash therefore leaves at most an unreferenced file, never metadata that
 * points at a missing or partial extent; cf_blob_store_cleanup() removes
 * such orphans and stale temp files.
 *
 * Names are case-sensitive, as in Azure.  Account names: 3-24 lowercase
 * letters and digits.  Container names: 3-63 of lowercase letters, digits
 * and '-', starting and ending with a letter or digit, no "--".  Blob names:
 * 1-1024 bytes of valid UTF-8 without control characters.
 *
 * Threads: one connection guarded by a mutex; extent file I/O runs outside
 * it.  Every write is one transaction, durable before the call returns,
 * and sets a new ETag (a quoted random hex value) and Last-Modified
 * (seconds since the epoch, from the caller's `now`).
 */
#ifndef CF_BLOB_STORE_H
#define CF_BLOB_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "buf.h"
#include "extent.h"

#define CF_BLOB_ACCOUNT_MAX 24
#define CF_BLOB_CONTAINER_MAX 63
#define CF_BLOB_NAME_MAX 1024
#define CF_BLOB_ETAG_LEN 20          /* "0x" + 16 hex, quoted */
#define CF_BLOB_ACCOUNT_KEY_LEN 64
#define CF_BLOB_BLOCK_ID_MAX 64      /* decoded block id bytes */
#define CF_BLOB_MAX_BLOCKS 50000     /* committed blocks per blob */
#define CF_BLOB_MAX_UNCOMMITTED 100000
#define CF_BLOB_UNCOMMITTED_TTL (7 * 24 * 3600)

typedef struct cf_blob_store cf_blob_store;

typedef enum { CF_BLOB_BLOCK = 0, CF_BLOB_APPEND = 1 } cf_blob_type;
typedef enum { CF_ACCESS_PRIVATE = 0, CF_ACCESS_BLOB = 1, CF_ACCESS_CONTAINER = 2 } cf_public_access;

/* ---- the store ---- */

/* Opens (creating) DATA/blob.db and DATA/extents.  service_key: 32 bytes,
 * copied into secret memory. */
CF_MUST_USE bool cf_blob_store_open(const char *data_dir, cf_slice service_key,
                                    cf_blob_store **out) CF_NONNULL;
void cf_blob_store_close(cf_blob_store *s);
/* Removes extent files no metadata references and temp files, among files
 * last modified before `older_than` (so bodies being written right now,
 * renamed but not yet committed, are spared: pass a time a few minutes
 * back, or any time at start-up before serving).  `removed` may be NULL. */
CF_MUST_USE bool cf_blob_store_cleanup(cf_blob_store *s, int64_t older_than, unsigned *removed);

/* ---- accounts ---- */

typedef struct {
    char name[CF_BLOB_ACCOUNT_MAX + 1];
    int64_t created;
    uint8_t key_ref[CF_EXTENT_KEY_REF_LEN];
} cf_blob_account;

/* Creates an account with two random account keys and a random data key;
 * CF_ERR_CONFLICT if it exists. */
CF_MUST_USE bool cf_blob_account_create(cf_blob_store *s, const char *name, int64_t now) CF_NONNULL;
CF_MUST_USE bool cf_blob_account_get(cf_blob_store *s, const char *name, cf_blob_account *out)
    CF_NONNULL;
/* Account key `slot` (1 or 2) into `out`, which should be a secret buffer. */
CF_MUST_USE bool cf_blob_account_key(cf_blob_store *s, const char *name, int slot, cf_buf *out)
    CF_NONNULL;

/* ---- containers ---- */

typedef struct {
    char name[CF_BLOB_CONTAINER_MAX + 1];
    int64_t created, last_modified;
    char etag[CF_BLOB_ETAG_LEN + 1];
    cf_public_access access;
    json_t *metadata; /* owned; an object, never NULL after a get */
} cf_blob_container;

void cf_blob_container_free(cf_blob_container *c);

/* metadata: an object of string values, borrowed; NULL = none.
 * CF_ERR_CONFLICT if it exists. */
CF_MUST_USE bool cf_blob_container_create(cf_blob_store *s, const char *account, const char *name,
                                          json_t *metadata, cf_public_access access, int64_t now);
CF_MUST_USE bool cf_blob_container_get(cf_blob_store *s, const char *account, const char *name,
                                       cf_blob_container *out) CF_NONNULL;
/* Replaces the metadata (NULL = none); new ETag and Last-Modified. */
CF_MUST_USE bool cf_blob_container_set_metadata(cf_blob_store *s, const char *account,
                                                const char *name, json_t *metadata, int64_t now);
/* Deletes the container with every blob and block; files go after the commit. */
CF_MUST_USE bool cf_blob_container_delete(cf_blob_store *s, const char *account, const char *name)
    CF_NONNULL;

/* Lists in name order those whose name starts with `prefix` ("" or NULL =
 * all) and sorts after `marker` ("" or NULL = from the start), at most
 * `max_results` (1..5000), calling `each`; `next_marker` gets the marker for
 * the next page, "" when this was the last. */
typedef bool (*cf_blob_container_cb)(void *ctx, const cf_blob_container *c);
CF_MUST_USE bool cf_blob_container_list(cf_blob_store *s, const char *account, const char *prefix,
                                        const char *marker, unsigned max_results,
                                        cf_blob_container_cb each, void *ctx, char *next_marker,
                                        size_t next_len);

/* ---- blobs ---- */

typedef struct {
    char name[CF_BLOB_NAME_MAX + 1];
    cf_blob_type type;
    uint64_t size;
    char etag[CF_BLOB_ETAG_LEN + 1];
    int64_t created, last_modified;
    json_t *props;    /* owned: content-type, -encoding, -language, -disposition,
                         cache-control, content-md5 (strings); never NULL after a get */
    json_t *metadata; /* owned; never NULL after a get */
    size_t n_extents;
} cf_blob_info;

void cf_blob_info_free(cf_blob_info *b);

CF_MUST_USE bool cf_blob_get(cf_blob_store *s, const char *account, const char *container,
                             const char *name, cf_blob_info *out) CF_NONNULL;
/* Deletes the blob and its uncommitted blocks; files go after the commit. */
CF_MUST_USE bool cf_blob_delete(cf_blob_store *s, const char *account, const char *container,
                                const char *name) CF_NONNULL;
/* Delivers plaintext [offset, offset + length) to `sink` (the range must lie
 * within the blob; the HTTP layer clips), decrypting only the segments of
 * the extents it touches.  CF_ERR_DECRYPT on any integrity failure,
 * including an extent whose length disagrees with the metadata.  Bytes
 * before a failure may already have reached the sink. */
CF_MUST_USE bool cf_blob_read(cf_blob_store *s, const char *account, const char *container,
                              const char *name, uint64_t offset, uint64_t length,
                              cf_extent_sink sink) CF_NONNULL;

/* Streaming writes.  A writer is one body on its way into one extent: begin
 * checks the names and opens the temp file; write seals chunk by chunk (memory
 * bounded by one segment); commit makes the file durable and then commits
 * the metadata.  Free (after commit or instead of it) closes and removes an
 * uncommitted temp file.  A failed writer stays failed. */
typedef struct cf_blob_writer cf_blob_writer;

/* Put Blob: the committed body becomes the blob's whole content (a block
 * blob), replacing any earlier blob and dropping its uncommitted blocks.
 * props/metadata: borrowed objects or NULL. */
CF_MUST_USE bool cf_blob_put_begin(cf_blob_store *s, const char *account, const char *container,
                                   const char *name, json_t *props, json_t *metadata,
                                   cf_blob_writer **out);
/* Put Block: the committed body becomes uncommitted block `block_id`
 * (1..64 bytes) of the blob, replacing an uncommitted block of that id. */
CF_MUST_USE bool cf_blob_block_begin(cf_blob_store *s, const char *account, const char *container,
                                     const char *name, cf_slice block_id, cf_blob_writer **out);
CF_MUST_USE bool cf_blob_writer_write(cf_blob_writer *w, cf_slice data) CF_NONNULL;
/* etag_out (may be NULL) gets the blob's new ETag after Put Blob. */
CF_MUST_USE bool cf_blob_writer_commit(cf_blob_writer *w, int64_t now,
                                       char etag_out[CF_BLOB_ETAG_LEN + 1]);
void cf_blob_writer_free(cf_blob_writer *w);

/* Put Block List. */
typedef enum { CF_BLOCK_LATEST = 0, CF_BLOCK_COMMITTED = 1, CF_BLOCK_UNCOMMITTED = 2 } cf_block_from;

typedef struct {
    cf_slice id;
    cf_block_from from;
} cf_block_ref;

/* The blob's content becomes the listed blocks in order: Committed ones are
 * taken from the current committed list, Uncommitted ones from the
 * uncommitted blocks, Latest from uncommitted if present, else committed.
 * Metadata only: no extent is rewritten.  Afterwards every uncommitted
 * block of the blob is gone and committed blocks not listed are discarded
 * (their files removed after the commit).  CF_ERR_BAD_INPUT (InvalidBlockList)
 * for a block that cannot be found.  props/metadata: borrowed or NULL. */
CF_MUST_USE bool cf_blob_put_block_list(cf_blob_store *s, const char *account,
                                        const char *container, const char *name,
                                        const cf_block_ref *blocks, size_t n, json_t *props,
                                        json_t *metadata, int64_t now,
                                        char etag_out[CF_BLOB_ETAG_LEN + 1]);

typedef struct {
    uint8_t id[CF_BLOB_BLOCK_ID_MAX];
    size_t id_len;
    uint64_t size;
} cf_block_info;

typedef bool (*cf_block_cb)(void *ctx, const cf_block_info *b);
/* Committed blocks in order, then uncommitted blocks in the order they were
 * put; either callback may be NULL.  CF_ERR_NOT_FOUND when the blob has
 * neither. */
CF_MUST_USE bool cf_blob_get_block_list(cf_blob_store *s, const char *account,
                                        const char *container, const char *name,
                                        cf_block_cb committed, cf_block_cb uncommitted, void *ctx);
/* Drops uncommitted blocks put before now - CF_BLOB_UNCOMMITTED_TTL. */
CF_MUST_USE bool cf_blob_expire_uncommitted(cf_blob_store *s, int64_t now, unsigned *expired);

/* ---- names ---- */

bool cf_blob_account_name_valid(const char *name);
bool cf_blob_container_name_valid(const char *name);
bool cf_blob_name_valid(const char *name);

#endif
