/*
 * coffer-blob's storage layer: metadata in SQLite (WAL, synchronous=NORMAL
 * plus a group commit, see "Durability") or in PostgreSQL shared by several
 * front ends (see "Several front ends" below), bodies as extents
 * (docs/extent-format.md) in the extent store (extent_store.h): files
 * under DATA/extents/ab/cd/<id> by default, or Ceph RADOS.
 * No HTTP here: handlers parse, authorize, call these domain functions and
 * render.
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
 * and the extent id names it in the extent store and is recorded in
 * metadata: an extent moved or swapped under another id fails every tag
 * with CF_ERR_DECRYPT.
 * Before serving, each extent's stored plaintext length is also compared
 * with the length recorded in metadata (cf_extent_plaintext_length), which
 * catches truncation at a segment boundary that a range read alone would
 * not see.
 *
 * Metadata at rest.  Every column holding values a client supplied,
 * other than names, is sealed with cf_envelope_seal (blob_store_meta.c):
 * blob content properties, user metadata and copy info (x-ms-copy-source
 * etc.); container metadata and ACL (stored access policies); service
 * properties.  Key: HKDF-SHA256(ikm = account data key, salt = "",
 * info = "coffer blob metadata v1"), derived once per account and cached in
 * secret memory until close.  AAD:
 *     "coffer-blob\0meta\0" account "\0" container "\0" blob "\0" column
 * (container / blob "" for account / container values; column is
 * "table.column", e.g. "blobs.metadata"), so a value moved to another row
 * or column fails with CF_ERR_DECRYPT (500), never as another row's data.
 * Copy Blob opens the source's values and seals them again for the
 * destination.  In clear, by design: account, container and blob names
 * (primary keys, ordered for listings and prefix scans), block ids (looked
 * up by value), lease ids, ETags, times, sizes, types, public access
 * level, extent ids; and each sealed value's length.  A row's own earlier
 * sealed value put back in place (a rollback within one row) is not
 * detected.  Databases before user_version 1 held these columns in clear
 * and are sealed in one transaction at open.
 *
 * Crash safety.  A body is written to the extent store and finished there
 * (files: "<id>.tmp" beside its final name, fsynced, renamed, the directory
 * fsynced; RADOS: every chunk acknowledged, then the head marked): only
 * THEN does the metadata transaction commit, and a failed commit removes
 * the new extent.  Deletions commit metadata first and remove the extent
 * once that commit is durable.  A crash therefore leaves at most an
 * unreferenced extent or a partial write, never metadata that points at a
 * missing or partial extent; cf_blob_store_cleanup() removes such orphans
 * and stale partial writes.
 *
 * Small bodies (inline extents).  A file per small body costs a create, two
 * fsyncs, a rename and later an unlink (RADOS: round trips to the OSDs),
 * each far more than the body.  So a
 * writer buffers its sealed bytes in memory up to BS_INLINE_MAX (header +
 * one sealed 64 KiB segment: bodies up to 64 KiB), and a body that ends
 * within that is stored as a row of inline_extents(id, data) in the SAME
 * transaction as the metadata that references it: durable with it (the
 * group commit below), never orphaned by a crash, nothing in the extent
 * store at all.  A body that grows past the limit spills the buffer into a
 * writer of the extent store and follows the path above.  The bytes are the same extent either way
 * (sealed with the same id-bound scope key), so a row altered, cut or moved under another id fails
 * like a stored extent would; the plaintext-length check applies too.  A row goes in the
 * transaction that removes its last reference (unless a reader holds it: then when the reader is
 * freed); cleanup deletes unreferenced rows no reader holds (left only by a crash between those
 * two).
 *
 * Durability (group commit).  With synchronous=FULL every COMMIT fsyncs
 * the WAL while holding the store mutex, so concurrent writes queue behind
 * one fsync each.  Instead the connection runs synchronous=NORMAL (a
 * COMMIT only write()s its WAL frames) and every call that committed waits,
 * AFTER releasing the store mutex, on a durability barrier (BS_LOCKED ->
 * cf_db_durable, src/core/db.c and group_sync.c): commits are
 * numbered in order; one waiter at a time
 * fdatasyncs DATA/blob.db-wal through the store's own fd, covering every
 * commit numbered before that fdatasync began; covered waiters return,
 * the rest wait for the next round.  A call therefore still returns only
 * once its transaction is on disk, but one fdatasync serves all the
 * commits made while the previous one ran, and the mutex is never held
 * across a sync.  Why this is as safe as FULL:
 *   - a commit is durable once its WAL frames are: SQLite's recovery
 *     replays the WAL up to the last valid commit frame (frames carry a
 *     running checksum and the WAL header's salts), so a crash keeps every
 *     commit that was synced and, of the rest, at most a prefix;
 *   - fdatasync acts on the inode, so our fd flushes the frames SQLite's
 *     own fd wrote; the WAL file stays the same inode while the connection
 *     is open (see cf_db_group_commit_start), and its directory entry is fsynced at
 *     open, as the WAL may have just been created;
 *   - checkpoints (automatic, in the committing thread, under the mutex):
 *     in NORMAL mode SQLite syncs the WAL before copying frames into the
 *     database and syncs the database before the WAL may be reset and
 *     overwritten, so a checkpointed commit is durable in blob.db even if
 *     its frames are gone from the WAL by the time our fdatasync runs;
 *     restarting the WAL also syncs the new WAL header (syncHeader);
 *   - no call answers from state a crash could take back: BS_LOCKED
 *     waits for every commit numbered before it released the mutex, not
 *     only its own, so a read (or a failed conditional write) that saw
 *     another request's fresh commit returns only once that commit is on
 *     disk too, exactly as if each COMMIT had synced.  When nothing is
 *     waiting to be synced (read-mostly load) this is one atomic load.
 * A failed fdatasync is sticky: every later write fails with CF_ERR_IO
 * (the kernel may have dropped the failed pages; restart the service).
 *
 * Names are case-sensitive, as in Azure.  Account names: 3-24 lowercase
 * letters and digits.  Container names: 3-63 of lowercase letters, digits
 * and '-', starting and ending with a letter or digit, no "--".  Blob names:
 * 1-1024 bytes of valid UTF-8 without control characters.
 *
 * Threads: one connection guarded by a mutex; extent store I/O and the
 * durability wait run outside it.  Every write is one transaction, durable
 * before the call returns,
 * and sets a new ETag (a quoted random hex value) and Last-Modified
 * (seconds since the epoch, from the caller's `now`).
 *
 * Conditions and leases are evaluated INSIDE the write's transaction, so a
 * check and the write it guards cannot be separated by another writer.
 * Time-dependent state (lease expiry, breaking) is computed from stored
 * times and the caller's `now`; nothing runs in the background.
 *
 * Errors.  Every failure carries a category (cf_error_code) and, where
 * Azure has a specific code, that code as the reason (cf_error_reason); the
 * HTTP layer maps reason -> status with one table and falls back to the
 * category.  Reasons raised here, with Azure's status:
 *   404 ContainerNotFound, BlobNotFound, CannotVerifyCopySource (copy source
 *       missing), AccountNotFound (ours; no Azure twin: render as 404
 *       ResourceNotFound), PolicyNotFound (ours: SAS signed identifier not
 *       stored; the SAS check turns it into 403 AuthenticationFailed)
 *   409 ContainerAlreadyExists, BlobAlreadyExists (Put Blob / Put Block
 *       List / Append create / Copy with If-None-Match: * on an existing
 *       blob), InvalidBlobType, BlockCountExceedsLimit, LeaseAlreadyPresent,
 *       LeaseIdMismatchWithLeaseOperation, LeaseNotPresentWithLeaseOperation,
 *       LeaseIsBreakingAndCannotBeAcquired, LeaseIsBreakingAndCannotBeChanged,
 *       LeaseIsBrokenAndCannotBeRenewed
 *   412 ConditionNotMet, SourceConditionNotMet (copy source), LeaseIdMissing,
 *       LeaseIdMismatchWithBlobOperation, LeaseIdMismatchWithContainerOperation,
 *       LeaseNotPresentWithBlobOperation, LeaseNotPresentWithContainerOperation,
 *       MaxBlobSizeConditionNotMet, AppendPositionConditionNotMet
 *   304 NotModified (ours: GET/HEAD with If-None-Match / If-Modified-Since
 *       failing; render 304 with no body, ETag and Last-Modified)
 *   400 InvalidBlockList, InvalidBlobOrBlock (block ids of one blob of
 *       different lengths), InvalidBlockId, MetadataTooLarge, InvalidMetadata,
 *       InvalidHeaderValue (lease duration / break period / lease id /
 *       access policy fields out of range), InvalidXmlDocument (more than 5
 *       access policies), InvalidResourceName (bad names)
 *   413 RequestBodyTooLarge (block > 4000 MiB, Put Blob > 5000 MiB, Append
 *       Block > 100 MiB, service properties > 64 KiB)
 *   416 InvalidRange (reader: range starts at or past the end)
 *   Categories without a reason: CF_ERR_DECRYPT (integrity failure: 500),
 *   CF_ERR_IO / CF_ERR_DB / CF_ERR_NOMEM (500).
 * Category per status: 404 CF_ERR_NOT_FOUND, 409 and 412 and 304
 * CF_ERR_CONFLICT, 400 CF_ERR_BAD_INPUT, 413 CF_ERR_TOO_LARGE, 416
 * CF_ERR_BAD_INPUT.
 */
#ifndef CF_BLOB_STORE_H
#define CF_BLOB_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "audit_anchor.h"
#include "buf.h"
#include "db.h"
#include "extent.h"
#include "ids.h"
#include "units.h"

#define CF_BLOB_ACCOUNT_MAX 24
#define CF_BLOB_CONTAINER_MAX 63
#define CF_BLOB_NAME_MAX 1024
#define CF_BLOB_ETAG_LEN 20 /* "0x" + 16 hex, quoted */
#define CF_BLOB_ACCOUNT_KEY_LEN 64
#define CF_BLOB_BLOCK_ID_MAX 64  /* decoded block id bytes */
#define CF_BLOB_MAX_BLOCKS 50000 /* committed blocks per blob (block and append) */
#define CF_BLOB_MAX_UNCOMMITTED 100000
#define CF_BLOB_UNCOMMITTED_TTL (7 * CF_SECONDS_PER_DAY)
#define CF_BLOB_MAX_BLOCK_SIZE (4000ull * CF_MIB)  /* Put Block */
#define CF_BLOB_MAX_PUT_SIZE (5000ull * CF_MIB)    /* Put Blob */
#define CF_BLOB_MAX_APPEND_BLOCK (100ull * CF_MIB) /* Append Block, x-ms-version >= 2022-11-02 */
#define CF_BLOB_METADATA_MAX (8 * CF_KIB)          /* names + values, bytes */
#define CF_BLOB_LEASE_ID_MAX 64                    /* a GUID string is 36 */
#define CF_BLOB_COPY_ID_LEN CF_UUID_LEN            /* UUID string */
#define CF_BLOB_SCOPE_MAX 63                       /* encryption scope names */
#define CF_BLOB_MAX_SCOPES 10000                   /* per account, as Azure */
#define CF_BLOB_ACL_MAX 5                          /* stored access policies */
#define CF_BLOB_POLICY_ID_MAX 64
#define CF_BLOB_SERVICE_PROPS_MAX (64 * CF_KIB)
#define CF_BLOB_MARKER_MAX (CF_BLOB_NAME_MAX + 1) /* next_marker buffers: this + 1 */
#define CF_BLOB_WHOLE UINT64_MAX                  /* reader length: to the end */

typedef struct cf_blob_store cf_blob_store;

typedef enum { CF_BLOB_BLOCK = 0, CF_BLOB_APPEND = 1, CF_BLOB_PAGE = 2 } cf_blob_type;
typedef enum {
    CF_ACCESS_PRIVATE = 0,
    CF_ACCESS_BLOB = 1,
    CF_ACCESS_CONTAINER = 2
} cf_public_access;

/* ---- request conditions ---- */

/* Access conditions of one request, all borrowed; NULL / 0 = absent.
 * if_match / if_none_match: one ETag as stored (quoted) or "*"; the HTTP
 * layer passes the header value (a list of ETags is not supported).
 * Dates: seconds since the epoch (HTTP dates have second resolution).
 * lease_id: x-ms-lease-id.  Every write and delete takes a
 * `const cf_blob_cond *` (NULL = no conditions), evaluated inside its
 * transaction:
 *   - on a missing target, If-Match fails (412 ConditionNotMet) for
 *     creating writes and 404 wins for the others;
 *   - If-None-Match: * on an existing blob: 409 BlobAlreadyExists;
 *   - otherwise a failed ETag/date condition: 412 ConditionNotMet;
 *   - lease: a leased (or breaking) target needs lease_id equal to its
 *     lease (412 LeaseIdMissing / LeaseIdMismatchWith{Blob,Container}Operation);
 *     a lease_id on a target without an active lease: 412
 *     LeaseNotPresentWith{Blob,Container}Operation.
 * Reads take them too (cf_blob_reader_open, cf_blob_get_cond): If-Match /
 * If-Unmodified-Since fail with 412 ConditionNotMet, If-None-Match /
 * If-Modified-Since with 304 NotModified; lease_id, when given, must match
 * an active lease.  Lease operations take the ETag/date conditions (the
 * lease id travels in cf_lease_req). */
typedef struct cf_blob_cpk cf_blob_cpk;
typedef struct {
    const char *if_match, *if_none_match;
    int64_t if_modified_since, if_unmodified_since;
    const char *lease_id;
    /* A customer-provided key (x-ms-encryption-key), or NULL: writes
     * encrypt with it; reads and metadata of a blob written with one must
     * present the same key (see "Customer-provided keys" below). */
    const cf_blob_cpk *cpk;
    /* x-ms-encryption-scope of a write, or NULL (the container's default;
     * see "Encryption scopes" below). */
    const char *scope;
} cf_blob_cond;

/* Customer-provided keys.  The key is never stored: a blob written with
 * one keeps only the key's SHA-256 (base64, as Azure echoes it), and its
 * extents are encrypted under keys derived from the customer's key alone
 * (the account's data key plays no part).  Reading, getting properties or
 * metadata, setting metadata or appending to such a blob needs the same
 * key: without one 409 BlobUsesCustomerSpecifiedEncryption, with another
 * 409 InvalidEncryptionKey; a key given for a blob written without one is
 * 409 BlobDoesNotUseCustomerSpecifiedEncryption.  Put Block List commits
 * only blocks put with the request's key (or all without one). */
#define CF_BLOB_CPK_SHA_LEN 44 /* base64 of 32 bytes */
struct cf_blob_cpk {
    uint8_t key[32];
    char sha256[CF_BLOB_CPK_SHA_LEN + 1];
};

/* ---- leases ---- */

typedef enum {
    CF_LEASE_AVAILABLE = 0,
    CF_LEASE_LEASED,
    CF_LEASE_EXPIRED,
    CF_LEASE_BREAKING,
    CF_LEASE_BROKEN
} cf_lease_state;

/* A blob's or container's lease as seen at `now`, for rendering
 * x-ms-lease-state / -status / -duration. */
typedef struct {
    cf_lease_state state;
    bool infinite;     /* when LEASED: duration "infinite", else "fixed" */
    int64_t remaining; /* LEASED fixed: seconds to expiry; BREAKING: seconds to broken */
} cf_lease_info;

/* "available", "leased", "expired", "breaking", "broken". */
const char *cf_lease_state_name(cf_lease_state st);
/* x-ms-lease-status: "locked" (leased, breaking) or "unlocked". */
const char *cf_lease_status_name(cf_lease_state st);
/* x-ms-lease-duration: "infinite" / "fixed" when LEASED, else NULL (omit). */
const char *cf_lease_duration_name(const cf_lease_info *l) CF_NONNULL;

typedef enum {
    CF_LEASE_ACQUIRE = 0,
    CF_LEASE_RENEW,
    CF_LEASE_CHANGE,
    CF_LEASE_RELEASE,
    CF_LEASE_BREAK
} cf_lease_action;

typedef struct {
    cf_lease_action action;
    const char *lease_id;    /* x-ms-lease-id: required for renew, change, release */
    const char *proposed_id; /* x-ms-proposed-lease-id: optional for acquire (else a
                                random UUID), required for change */
    int duration;            /* acquire: -1 (infinite) or 15..60 seconds */
    int break_period;        /* break: -1 = default (rest of a fixed lease, 0 for
                                infinite), else 0..60 */
} cf_lease_req;

typedef struct {
    char lease_id[CF_BLOB_LEASE_ID_MAX + 1]; /* acquire, renew, change: x-ms-lease-id */
    int64_t lease_time;                      /* break: x-ms-lease-time (seconds) */
    char etag[CF_BLOB_ETAG_LEN + 1];         /* unchanged by lease operations */
    int64_t last_modified;
} cf_lease_result;

/* ---- write results ---- */

typedef struct {
    char etag[CF_BLOB_ETAG_LEN + 1];
    int64_t last_modified;
    uint64_t append_offset;            /* Append Block: x-ms-blob-append-offset */
    uint32_t committed_blocks;         /* append blobs: x-ms-blob-committed-block-count */
    char scope[CF_BLOB_SCOPE_MAX + 1]; /* the encryption scope written to, "" = none */
    int64_t sequence;                  /* page blobs: x-ms-blob-sequence-number */
} cf_blob_write_result;

/* ---- the store ---- */

/* Opens (creating or upgrading) the metadata and the extent store: the
 * metadata in DATA/blob.db (backend CF_DB_SQLITE; conninfo unused;
 * encrypted through the coffer VFS under a key derived from service_key,
 * src/sqlite/tde_store.h, and converted first if left plain), or in
 * the PostgreSQL database `conninfo` names (CF_DB_POSTGRES), which several
 * front ends share (see "Several front ends" below); the extents where the
 * extent store spec `extents` says (extent_store.h: "rados:POOL..."), or,
 * when it is NULL, in files under DATA/extents.  service_key: 32 bytes,
 * copied into secret memory. */
CF_MUST_USE bool cf_blob_store_open(cf_db_backend backend, const char *conninfo,
                                    const char *data_dir, const char *extents, cf_slice service_key,
                                    cf_blob_store **out);
/* Every reader must be freed before. */
void cf_blob_store_close(cf_blob_store *s);
/* Whether the extent store is one every front end shares (RADOS), not this
 * process's own files: then other front ends' writes may be in flight at
 * any time, and cleanup's cut-off must leave room for them. */
bool cf_blob_store_extents_shared(const cf_blob_store *s) CF_NONNULL;
/* Removes extents no metadata references and no open reader holds, and
 * partial writes, among those last written before `older_than` (so bodies
 * being written right now, finished but not yet committed, are spared:
 * pass a time well back, or, for files, any time at start-up before
 * serving); and inline extent rows nothing references and no reader holds
 * (at any age: they are written with their references).  `removed` (may
 * be NULL) counts all three.  On PostgreSQL, extents waiting out their
 * grace (below) are left to cf_blob_store_sweep; inline rows, and a shared
 * extent store, are looked at only by the leader (cf_blob_store_lead), and
 * inline rows found are handed to the sweep too, as every removal there
 * is.  A shared store's walk lists the whole pool (namespace): it belongs
 * to this store alone, or extents of another store would be taken for
 * orphans. */
CF_MUST_USE bool cf_blob_store_cleanup(cf_blob_store *s, int64_t older_than, unsigned *removed);

/* ---- several front ends (PostgreSQL) ----
 *
 * Writers of one store exclude each other across front ends (db.h's write
 * lock), so every transaction above keeps its meaning.  What differs:
 *
 * Caches.  A front end caches accounts (rows and opened keys) and their
 * metadata keys, and the service caches what it knows of customer-managed
 * keys.  Every write to an account or one of its scopes sends a change
 * notice in its transaction (delivered when it commits); each front end's
 * listener (cf_blob_store_listen) drops what it cached of that account and
 * tells the service.  The bound: another front end serves from its cache
 * until the notice arrives (milliseconds after the commit).  When the
 * listener loses its connection, everything cached is dropped, and again
 * once it is back, so nothing cached across the gap survives it.
 *
 * Extent removal.  A reader on one front end must not lose an extent that
 * a delete on another front end unreferenced.  So an extent that loses its
 * last reference is not removed after the commit but recorded (with the
 * database's clock) in the same transaction, and removed by the sweep once
 * CF_BLOB_EXTENT_GRACE has passed; a download that outlives the delete of
 * its blob by more than that may fail with an I/O error.  Extents this
 * process's readers hold wait longer, as on SQLite.  With a shared extent
 * store (RADOS) every front end reads every extent, and the sweep removes
 * them for all.  With files, each front end keeps its own DATA/extents:
 * bodies above the inline threshold are readable only where they were
 * written, and the sweep removes only its own front end's (another front
 * end's start-up cleanup removes its unreferenced ones).
 *
 * Background work (the sweep, expiring uncommitted blocks, cleanup of
 * inline rows) runs on one front end at a time: the leader. */

/* How long an unreferenced extent stays before the sweep removes it
 * (servers: the default of --extent-grace). */
#define CF_BLOB_EXTENT_GRACE (10 * CF_SECONDS_PER_MINUTE)

/* Called on the listener's thread after the store dropped what it cached
 * of `account` (NULL: of every account). */
typedef void (*cf_blob_store_change_fn)(void *ctx, const char *account);
/* Starts listening for other front ends' changes (a no-op on SQLite);
 * `fn` (may be NULL) is told after the store's own caches are dropped.
 * Call once, before serving. */
CF_MUST_USE bool cf_blob_store_listen(cf_blob_store *s, cf_blob_store_change_fn fn, void *ctx);

/* ---- role assignments shared by front ends (PostgreSQL) ----
 * On SQLite the service keeps them in DIR/roles.json (roles.c); on
 * PostgreSQL in the store, one document for the whole service, so every
 * front end enforces the same assignments. */

/* Records this front end's audit head in a shared store (audit_anchor.h). */
CF_MUST_USE bool cf_blob_store_audit_anchor(cf_blob_store *s, const char *front_end,
                                            const char *path, struct cf_audit *a, int64_t now,
                                            cf_audit_anchor_state *st);

/* Whether the store is shared by several front ends (PostgreSQL). */
bool cf_blob_store_shared(const cf_blob_store *s);
/* Moves whenever another front end may have changed shared state. */
uint64_t cf_blob_store_generation(cf_blob_store *s);
/* The stored assignments array (owned by the caller); *out NULL when none
 * was ever stored. */
CF_MUST_USE bool cf_blob_store_roles_get(cf_blob_store *s, json_t **out);
/* Changes the stored array in one write transaction: `edit` gets the
 * current one (an empty array when none) and changes it in place; the
 * result is stored and announced to the other front ends.  *out (may be
 * NULL) receives the stored array (owned by the caller). */
CF_MUST_USE bool cf_blob_store_roles_update(cf_blob_store *s,
                                            bool (*edit)(void *ctx, json_t *assignments), void *ctx,
                                            json_t **out);
/* Whether this front end does the background work now (always on
 * SQLite); ask before each round. */
CF_MUST_USE bool cf_blob_store_lead(cf_blob_store *s, bool *leader);
/* PostgreSQL: removes the extents unreferenced for at least `grace`
 * seconds (servers: --extent-grace) that no reader of this process
 * holds; `removed` (may be NULL) counts them.  A no-op on SQLite, which
 * removes them at once. */
CF_MUST_USE bool cf_blob_store_sweep(cf_blob_store *s, int64_t grace, unsigned *removed);

/* ---- accounts ---- */

/* Where an account's data key is kept (docs/blob-keys.md): sealed by the
 * service master key, or wrapped by a key in coffer-vault (customer-managed). */
typedef enum { CF_BLOB_KEYS_SERVICE = 0, CF_BLOB_KEYS_VAULT = 1 } cf_blob_key_source;

#define CF_BLOB_KEY_URI_MAX 400
/* The name Azure gives the account's own key where a scope is expected. */
#define CF_BLOB_ACCOUNT_SCOPE "$account-encryption-key"

typedef struct {
    char name[CF_BLOB_ACCOUNT_MAX + 1];
    int64_t created;
    uint8_t key_ref[CF_EXTENT_KEY_REF_LEN];
    cf_blob_key_source key_source;
    bool infrastructure; /* a second encryption layer, fixed at creation */
} cf_blob_account;

/* Creates an account with two random account keys and a random data key
 * sealed by the service key; CF_ERR_CONFLICT if it exists. */
CF_MUST_USE bool cf_blob_account_create(cf_blob_store *s, const char *name, int64_t now,
                                        bool infrastructure) CF_NONNULL;
CF_MUST_USE bool cf_blob_account_get(cf_blob_store *s, const char *name,
                                     cf_blob_account *out) CF_NONNULL;
/* Account key `slot` (1 or 2) into `out`, which should be a secret buffer. */
CF_MUST_USE bool cf_blob_account_key(cf_blob_store *s, const char *name, int slot,
                                     cf_buf *out) CF_NONNULL;
/* Replaces account key `slot` (1 or 2) with a fresh random one. */
CF_MUST_USE bool cf_blob_account_regenerate_key(cf_blob_store *s, const char *name,
                                                int slot) CF_NONNULL;
/* Every account name, in order, into a new JSON array of strings. */
CF_MUST_USE bool cf_blob_account_names(cf_blob_store *s, json_t **out) CF_NONNULL;
/* Deletes an account and everything in it (containers, blobs, blocks,
 * service properties); its extents are removed once no reader holds them. */
CF_MUST_USE bool cf_blob_account_delete(cf_blob_store *s, const char *name) CF_NONNULL;

/* ---- account data keys (blob_store_keys.c) ---- */

/* How an account's data key is kept: with CF_BLOB_KEYS_VAULT, the vault
 * key as configured (`uri`, perhaps without a version) and the version
 * whose wrapping is stored (`kid`), and that wrapping. */
typedef struct {
    cf_blob_key_source source;
    char uri[CF_BLOB_KEY_URI_MAX + 1];
    char kid[CF_BLOB_KEY_URI_MAX + 1];
    uint8_t ref[CF_EXTENT_KEY_REF_LEN];
} cf_blob_key_info;

/* Every function below names a key holder: an account's own key (scope
 * NULL) or one of its encryption scopes.
 * `wrapped` (may be NULL): the stored vault wrapping (vault source only). */
CF_MUST_USE bool cf_blob_key_info_get(cf_blob_store *s, const char *account, const char *scope,
                                      cf_blob_key_info *out, cf_buf *wrapped);
/* The account's plaintext data key (32 bytes) into the secret buffer `out`:
 * unsealed with the service key, or from the key ring for a vault key
 * (403 KeyVaultEncryptionKeyNotFound when it is not there). */
CF_MUST_USE bool cf_blob_data_key(cf_blob_store *s, const char *account, const char *scope,
                                  cf_buf *out);
/* Stores the data key under a new keeper: with CF_BLOB_KEYS_SERVICE,
 * `key` is the plaintext data key, sealed here; with CF_BLOB_KEYS_VAULT,
 * `key` is its wrapping by vault key version info->kid (info->uri as
 * configured).  With `expect_kid`, only if the stored kid still is that
 * (CF_ERR_CONFLICT otherwise): a rotation must not undo a concurrent change. */
CF_MUST_USE bool cf_blob_key_store(cf_blob_store *s, const char *account, const char *scope,
                                   const cf_blob_key_info *info, cf_slice key,
                                   const char *expect_kid);

/* The key ring: unwrapped customer-managed data keys, in secret memory,
 * by key reference.  Without its entry, nothing of that account can be
 * read or written (its metadata key is dropped with it). */
CF_MUST_USE bool cf_blob_keyring_put(cf_blob_store *s, const uint8_t ref[CF_EXTENT_KEY_REF_LEN],
                                     cf_slice key);
/* Drops a key from the ring; `reason` and `message` (may be NULL) are what
 * a request needing it is then told (default: 403
 * KeyVaultEncryptionKeyNotFound). */
void cf_blob_keyring_drop(cf_blob_store *s, const char *account,
                          const uint8_t ref[CF_EXTENT_KEY_REF_LEN], const char *reason,
                          const char *message);

/* ---- encryption scopes (blob_store_keys.c) ----
 *
 * Per account, named 3-63 lowercase letters, digits and '-' (not first or
 * last), each with its own data key, kept by the service or by a vault key
 * like an account's.  A blob is written to the scope its request names
 * (x-ms-encryption-scope), else to its container's default scope, else
 * under the account's key, and stays there.  A disabled scope refuses
 * reads and writes: 403 EncryptionScopeDisabled; an unknown one: 400
 * EncryptionScopeNotFound; a container that denies overrides refuses
 * another scope: 409 EncryptionScopeOverrideNotAllowed.  Scopes are never
 * deleted (as in Azure): disable them.  Metadata stays sealed under the
 * account's key. */
typedef struct {
    char name[CF_BLOB_SCOPE_MAX + 1];
    bool enabled;
    bool infrastructure;
    int64_t created;
} cf_blob_scope;

CF_MUST_USE bool cf_blob_scope_name_valid(const char *name);
/* A new scope with a fresh data key kept by the service; 409 if it exists. */
CF_MUST_USE bool cf_blob_scope_create(cf_blob_store *s, const char *account, const char *name,
                                      bool infrastructure, int64_t now);
CF_MUST_USE bool cf_blob_scope_get(cf_blob_store *s, const char *account, const char *name,
                                   cf_blob_scope *out);
/* Names of the account's scopes (with vault_only, only those whose key is
 * kept in coffer-vault), in order, as a new JSON array. */
CF_MUST_USE bool cf_blob_scope_names(cf_blob_store *s, const char *account, bool vault_only,
                                     json_t **out);
CF_MUST_USE bool cf_blob_scope_set_enabled(cf_blob_store *s, const char *account, const char *name,
                                           bool enabled);

/* Service properties (Get/Set Blob Service Properties): the XML document
 * as the handler validated it, opaque here, at most 64 KiB.  get: `out`
 * gets the stored text, empty when never set (render the defaults). */
CF_MUST_USE bool cf_blob_service_props_get(cf_blob_store *s, const char *account,
                                           cf_buf *out) CF_NONNULL;
CF_MUST_USE bool cf_blob_service_props_set(cf_blob_store *s, const char *account,
                                           cf_slice xml) CF_NONNULL;

/* ---- metadata ---- */

/* Checks a metadata object for Azure's rules: string values, names that are
 * C identifiers (InvalidMetadata), names + values <= 8 KiB
 * (MetadataTooLarge).  NULL is valid.  Every call below that takes
 * metadata runs it. */
CF_MUST_USE bool cf_blob_metadata_check(json_t *metadata);

/* ---- containers ---- */

typedef struct {
    char name[CF_BLOB_CONTAINER_MAX + 1];
    int64_t created, last_modified;
    char etag[CF_BLOB_ETAG_LEN + 1];
    cf_public_access access;
    cf_lease_info lease;
    json_t *metadata;                          /* owned; an object, never NULL after a get */
    char default_scope[CF_BLOB_SCOPE_MAX + 1]; /* "" = the account's key */
    bool deny_scope_override;
} cf_blob_container;

void cf_blob_container_free(cf_blob_container *c);

/* metadata: an object of string values, borrowed; NULL = none.
 * 409 ContainerAlreadyExists if it exists.  out may be NULL. */
CF_MUST_USE bool cf_blob_container_create(cf_blob_store *s, const char *account, const char *name,
                                          json_t *metadata, cf_public_access access, int64_t now,
                                          cf_blob_write_result *out);
/* The same with an encryption scope policy: blobs written without
 * x-ms-encryption-scope go to `default_scope` (NULL or "" = the account's
 * key; the scope must exist), and with deny_override no request may name
 * another scope. */
CF_MUST_USE bool cf_blob_container_create_scoped(cf_blob_store *s, const char *account,
                                                 const char *name, json_t *metadata,
                                                 cf_public_access access, const char *default_scope,
                                                 bool deny_override, int64_t now,
                                                 cf_blob_write_result *out);
/* Get Container Properties / Metadata.  cond: lease_id only (if given, must
 * match the active lease); NULL = none. */
CF_MUST_USE bool cf_blob_container_get(cf_blob_store *s, const char *account, const char *name,
                                       const cf_blob_cond *cond, int64_t now,
                                       cf_blob_container *out);
/* Replaces the metadata (NULL = none); new ETag and Last-Modified.
 * cond: If-Modified-Since and lease_id, as Azure allows. */
CF_MUST_USE bool cf_blob_container_set_metadata(cf_blob_store *s, const char *account,
                                                const char *name, json_t *metadata,
                                                const cf_blob_cond *cond, int64_t now,
                                                cf_blob_write_result *out);
/* Deletes the container with every blob and block; stored extents go after
 * the commit (or when the last reader holding them is freed).  A leased
 * container needs cond->lease_id. */
CF_MUST_USE bool cf_blob_container_delete(cf_blob_store *s, const char *account, const char *name,
                                          const cf_blob_cond *cond, int64_t now);

/* Lists in name order those whose name starts with `prefix` ("" or NULL =
 * all) and sorts after `marker` ("" or NULL = from the start), at most
 * `max_results` (1..5000), calling `each`; `next_marker` gets the marker for
 * the next page, "" when this was the last. */
typedef bool (*cf_blob_container_cb)(void *ctx, const cf_blob_container *c);
CF_MUST_USE bool cf_blob_container_list(cf_blob_store *s, const char *account, const char *prefix,
                                        const char *marker, unsigned max_results, int64_t now,
                                        cf_blob_container_cb each, void *ctx, char *next_marker,
                                        size_t next_len);

/* Container ACL: public access level plus up to 5 stored access policies.
 * Policy fields are strings as the client sent them ("" = absent); the
 * SAS layer parses start/expiry with its own ISO 8601 parser. */
typedef struct {
    char id[CF_BLOB_POLICY_ID_MAX + 1];
    char start[40], expiry[40];
    char permission[16];
} cf_blob_access_policy;

typedef struct {
    cf_public_access access;
    size_t n;
    cf_blob_access_policy policies[CF_BLOB_ACL_MAX];
    char etag[CF_BLOB_ETAG_LEN + 1]; /* get: the container's */
    int64_t last_modified;
} cf_blob_acl;

/* Replaces access level and policies atomically (new ETag).  cond:
 * If-Modified-Since / If-Unmodified-Since and lease_id. */
CF_MUST_USE bool cf_blob_container_set_acl(cf_blob_store *s, const char *account, const char *name,
                                           const cf_blob_acl *acl, const cf_blob_cond *cond,
                                           int64_t now, cf_blob_write_result *out);
/* cond: lease_id only. */
CF_MUST_USE bool cf_blob_container_get_acl(cf_blob_store *s, const char *account, const char *name,
                                           const cf_blob_cond *cond, int64_t now, cf_blob_acl *out);
/* One stored access policy by signed identifier, for service SAS
 * validation: 404 PolicyNotFound when absent. */
CF_MUST_USE bool cf_blob_container_policy(cf_blob_store *s, const char *account,
                                          const char *container, const char *id,
                                          cf_blob_access_policy *out) CF_NONNULL;

/* Lease Container (acquire/renew/change/release/break).  cond: If-Modified-
 * Since / If-Unmodified-Since (lease_id in cond is ignored). */
CF_MUST_USE bool cf_blob_container_lease(cf_blob_store *s, const char *account, const char *name,
                                         const cf_lease_req *req, const cf_blob_cond *cond,
                                         int64_t now, cf_lease_result *out);

/* ---- blobs ---- */

/* x-ms-copy-* of a blob that was the destination of Copy Blob; cleared by
 * Put Blob, Put Block List, Append create and Set Blob Properties, as in
 * Azure.  id[0] == '\0' when absent. */
typedef struct {
    char id[CF_BLOB_COPY_ID_LEN + 1];
    char status[16];   /* "success" */
    char progress[48]; /* "<bytes copied>/<total>" */
    int64_t completion_time;
    char *source; /* owned: the source URL the caller gave */
} cf_blob_copy_info;

typedef struct {
    char name[CF_BLOB_NAME_MAX + 1];
    cf_blob_type type;
    uint64_t size;
    char etag[CF_BLOB_ETAG_LEN + 1];
    int64_t created, last_modified;
    json_t *props;    /* owned: content-type, content-encoding, content-language,
                         content-disposition, cache-control, content-md5 (strings,
                         those keys exactly); never NULL after a get */
    json_t *metadata; /* owned; never NULL after a get */
    size_t n_extents;
    uint32_t committed_blocks; /* append blobs: x-ms-blob-committed-block-count */
    cf_lease_info lease;
    cf_blob_copy_info copy;
    char scope[CF_BLOB_SCOPE_MAX + 1]; /* its encryption scope, "" = the account's key */
    bool cpk;                          /* written with a customer-provided key */
    int64_t sequence;                  /* page blobs: x-ms-blob-sequence-number */
} cf_blob_info;

/* Frees the owned members; safe on a zeroed or already-freed info. */
void cf_blob_info_free(cf_blob_info *b);

/* Get Blob Properties / Metadata.  cond as for reads (412 / 304 NotModified);
 * on a condition failure `out` still holds the blob (free it either way). */
CF_MUST_USE bool cf_blob_get(cf_blob_store *s, const char *account, const char *container,
                             const char *name, const cf_blob_cond *cond, int64_t now,
                             cf_blob_info *out);
/* Deletes the blob and its uncommitted blocks; stored extents go after the
 * commit (or when the last reader holding them is freed). */
CF_MUST_USE bool cf_blob_delete(cf_blob_store *s, const char *account, const char *container,
                                const char *name, const cf_blob_cond *cond, int64_t now);
/* Set Blob Properties: replaces all six content properties (keys absent
 * from `props` are cleared, as Azure does); Set Blob Metadata: replaces the
 * metadata.  New ETag and Last-Modified; creation time kept. */
CF_MUST_USE bool cf_blob_set_properties(cf_blob_store *s, const char *account,
                                        const char *container, const char *name, json_t *props,
                                        const cf_blob_cond *cond, int64_t now,
                                        cf_blob_write_result *out);
CF_MUST_USE bool cf_blob_set_metadata(cf_blob_store *s, const char *account, const char *container,
                                      const char *name, json_t *metadata, const cf_blob_cond *cond,
                                      int64_t now, cf_blob_write_result *out);

/* Lease Blob.  cond: ETag/date conditions (lease_id in cond is ignored). */
CF_MUST_USE bool cf_blob_lease(cf_blob_store *s, const char *account, const char *container,
                               const char *name, const cf_lease_req *req, const cf_blob_cond *cond,
                               int64_t now, cf_lease_result *out);

/* ---- reading ---- */

/* A pull reader over a consistent snapshot of one blob: open takes, under
 * the lock, the blob's info and its extent plan (and evaluates `cond` on
 * that same snapshot); read() then decrypts one segment at a time (memory:
 * one segment buffer, plus a copy of at most one inline extent), outside
 * the lock.  Extents a reader holds (stored and inline) are not removed
 * while it lives, even if the blob is deleted or overwritten meanwhile: the
 * reader serves the snapshot it took.
 *
 * Range: [offset, offset + length) clipped to the blob (length
 * CF_BLOB_WHOLE = to the end).  416 InvalidRange when offset > 0 and
 * offset >= size, as Azure answers a Range header past the end (a whole
 * read of an empty blob is fine).  `info` (out, required) gets the blob's
 * properties; on failure it may still hold them (for a 304/412 response):
 * cf_blob_info_free it in every case.  CF_ERR_DECRYPT from read() on any
 * integrity failure, including an extent whose length disagrees with the
 * metadata; bytes handed out before are genuine. */
typedef struct cf_blob_reader cf_blob_reader;

CF_MUST_USE bool cf_blob_reader_open(cf_blob_store *s, const char *account, const char *container,
                                     const char *name, uint64_t offset, uint64_t length,
                                     const cf_blob_cond *cond, int64_t now, cf_blob_info *info,
                                     cf_blob_reader **out);
/* The clipped range: for Content-Range / Content-Length. */
void cf_blob_reader_range(const cf_blob_reader *r, uint64_t *offset, uint64_t *length) CF_NONNULL;
/* Copies up to `cap` next plaintext bytes into buf; *got = 0 at the end.
 * A failed reader stays failed. */
CF_MUST_USE bool cf_blob_reader_read(cf_blob_reader *r, uint8_t *buf, size_t cap,
                                     size_t *got) CF_NONNULL;
/* Wipes and frees; releases the reader's hold on its extents. */
void cf_blob_reader_free(cf_blob_reader *r);

/* Delivers plaintext [offset, offset + length) to `sink` (the range must
 * lie within the blob), over a reader.  Bytes before a failure may already
 * have reached the sink. */
CF_MUST_USE bool cf_blob_read(cf_blob_store *s, const char *account, const char *container,
                              const char *name, uint64_t offset, uint64_t length,
                              cf_extent_sink sink) CF_NONNULL;

/* ---- listing blobs ---- */

typedef struct {
    const char *prefix;    /* NULL or "" = all */
    const char *delimiter; /* NULL or "" = flat listing */
    const char *marker;    /* from a previous page's next_marker; NULL or "" = start */
    unsigned max_results;  /* 1..5000; BlobPrefix entries count too */
    bool include_metadata; /* else info->metadata is an empty object */
} cf_blob_list_req;

/* Exactly one of blob / prefix is non-NULL: a blob (committed blobs only),
 * or a BlobPrefix (prefix up to and including the delimiter), each prefix
 * once per listing.  Both borrowed for the call. */
typedef bool (*cf_blob_list_cb)(void *ctx, const cf_blob_info *blob, const char *prefix);

/* Name order (bytewise).  next_marker (>= CF_BLOB_MARKER_MAX + 1 bytes)
 * gets an opaque marker for the next page, "" after the last page.
 * 404 ContainerNotFound. */
CF_MUST_USE bool cf_blob_list(cf_blob_store *s, const char *account, const char *container,
                              const cf_blob_list_req *req, int64_t now, cf_blob_list_cb each,
                              void *ctx, char *next_marker, size_t next_len);

/* ---- writing ---- */

/* Streaming writes.  A writer is one body on its way into one extent: begin
 * checks names, conditions and leases at `now` (early, to fail fast); write
 * seals chunk by chunk (memory bounded by one segment, plus what the extent
 * store holds: nothing for files, up to three chunks for RADOS) and fails
 * with 413 RequestBodyTooLarge past the operation's cap; commit makes the
 * extent durable (finished in the extent store, or inline in the
 * transaction) and then commits the metadata, evaluating the conditions
 * again inside that transaction (the binding check).  Free (after commit
 * or instead of it) removes an unfinished extent.  A failed writer stays
 * failed.  `cond` is copied by begin. */
typedef struct cf_blob_writer cf_blob_writer;

/* Put Blob: the committed body becomes the blob's whole content (a block
 * blob), replacing any earlier blob of either type and dropping its
 * uncommitted blocks.  props/metadata: borrowed objects or NULL. */
CF_MUST_USE bool cf_blob_put_begin(cf_blob_store *s, const char *account, const char *container,
                                   const char *name, json_t *props, json_t *metadata,
                                   const cf_blob_cond *cond, int64_t now, cf_blob_writer **out);
/* Put Block: the committed body becomes uncommitted block `block_id`
 * (1..64 bytes) of the blob, replacing an uncommitted block of that id.
 * cond: lease_id only.  409 InvalidBlobType on an append blob; 400
 * InvalidBlobOrBlock when the id's length differs from the blob's other
 * block ids; 409 BlockCountExceedsLimit past 100,000 uncommitted blocks. */
CF_MUST_USE bool cf_blob_block_begin(cf_blob_store *s, const char *account, const char *container,
                                     const char *name, cf_slice block_id, const cf_blob_cond *cond,
                                     int64_t now, cf_blob_writer **out);

/* Append Block: x-ms-blob-condition-maxsize / -appendpos, -1 = absent. */
typedef struct {
    int64_t max_size;   /* 412 MaxBlobSizeConditionNotMet if size + block > it */
    int64_t append_pos; /* 412 AppendPositionConditionNotMet unless size == it */
} cf_blob_append_cond;

/* Append Block: the committed body becomes the next block of an existing
 * append blob (one more extent; metadata only).  404 BlobNotFound, 409
 * InvalidBlobType on a block blob, 409 BlockCountExceedsLimit at 50,000
 * blocks.  ac may be NULL. */
CF_MUST_USE bool cf_blob_append_begin(cf_blob_store *s, const char *account, const char *container,
                                      const char *name, const cf_blob_cond *cond,
                                      const cf_blob_append_cond *ac, int64_t now,
                                      cf_blob_writer **out);
/* Put Blob: replaces the content properties given at begin (e.g. with the
 * body's MD5, known only at the end); before commit. */
CF_MUST_USE bool cf_blob_writer_set_props(cf_blob_writer *w, json_t *props);
CF_MUST_USE bool cf_blob_writer_write(cf_blob_writer *w, cf_slice data) CF_NONNULL;
/* out (may be NULL): the blob's new ETag / Last-Modified (Put Blob, Append
 * Block: also append_offset, committed_blocks). */
CF_MUST_USE bool cf_blob_writer_commit(cf_blob_writer *w, int64_t now, cf_blob_write_result *out);
void cf_blob_writer_free(cf_blob_writer *w);

/* Create Append Blob: an empty append blob replacing any existing blob. */
CF_MUST_USE bool cf_blob_append_create(cf_blob_store *s, const char *account, const char *container,
                                       const char *name, json_t *props, json_t *metadata,
                                       const cf_blob_cond *cond, int64_t now,
                                       cf_blob_write_result *out);

/* Put Block List. */
typedef enum {
    CF_BLOCK_LATEST = 0,
    CF_BLOCK_COMMITTED = 1,
    CF_BLOCK_UNCOMMITTED = 2
} cf_block_from;

typedef struct {
    cf_slice id;
    cf_block_from from;
} cf_block_ref;

/* The blob's content becomes the listed blocks in order: Committed ones are
 * taken from the current committed list, Uncommitted ones from the
 * uncommitted blocks, Latest from uncommitted if present, else committed.
 * Metadata only: no extent is rewritten.  Afterwards every uncommitted
 * block of the blob is gone and committed blocks not listed are discarded
 * (their extents removed after the commit).  400 InvalidBlockList for a block
 * that cannot be found; 409 InvalidBlobType on an append blob; 409
 * BlockCountExceedsLimit past 50,000.  props/metadata: borrowed or NULL. */
CF_MUST_USE bool cf_blob_put_block_list(cf_blob_store *s, const char *account,
                                        const char *container, const char *name,
                                        const cf_block_ref *blocks, size_t n, json_t *props,
                                        json_t *metadata, const cf_blob_cond *cond, int64_t now,
                                        cf_blob_write_result *out);

typedef struct {
    uint8_t id[CF_BLOB_BLOCK_ID_MAX];
    size_t id_len;
    uint64_t size;
} cf_block_info;

typedef bool (*cf_block_cb)(void *ctx, const cf_block_info *b);
/* Committed blocks in order, then uncommitted blocks in the order they were
 * put; either callback may be NULL.  404 BlobNotFound when the blob has
 * neither; 409 InvalidBlobType on an append blob.  cond: lease_id only. */
CF_MUST_USE bool cf_blob_get_block_list(cf_blob_store *s, const char *account,
                                        const char *container, const char *name,
                                        const cf_blob_cond *cond, int64_t now,
                                        cf_block_cb committed, cf_block_cb uncommitted, void *ctx);
/* Drops uncommitted blocks put before now - CF_BLOB_UNCOMMITTED_TTL. */
CF_MUST_USE bool cf_blob_expire_uncommitted(cf_blob_store *s, int64_t now, unsigned *expired);

/* ---- copy ---- */

typedef struct {
    char copy_id[CF_BLOB_COPY_ID_LEN + 1]; /* x-ms-copy-id */
    const char *status;                    /* x-ms-copy-status: "success" (static) */
    char etag[CF_BLOB_ETAG_LEN + 1];       /* the destination's */
    int64_t last_modified;
} cf_blob_copy_result;

/* Copy Blob within one account, synchronously and metadata-only: the
 * destination references the source's extents (shared; one goes only
 * when no blob references it).  Type and content properties come from the
 * source; metadata from `metadata` if non-NULL, else the source's.
 * src_cond: conditions on the source (failures: 412 SourceConditionNotMet;
 * src_cond->lease_id: x-ms-source-lease-id); dst_cond: on the destination
 * (412 ConditionNotMet, 409 BlobAlreadyExists for If-None-Match: *, lease).
 * 404 CannotVerifyCopySource when the source blob does not exist.
 * A destination in another encryption scope than the source (or under a
 * customer-provided key) cannot share extents: CF_ERR_CONFLICT with reason
 * CF_BLOB_REENCRYPT, and the caller copies the body through a reader and a
 * writer instead.
 * source_url: stored as x-ms-copy-source. */
#define CF_BLOB_REENCRYPT "coffer:reencrypt"
CF_MUST_USE bool cf_blob_copy(cf_blob_store *s, const char *account, const char *src_container,
                              const char *src_name, const cf_blob_cond *src_cond,
                              const char *dst_container, const char *dst_name,
                              const cf_blob_cond *dst_cond, json_t *metadata,
                              const char *source_url, int64_t now, cf_blob_copy_result *out);

/* ---- page blobs (blob_store_page.c; docs/page-blobs.md) ----
 *
 * A sparse array of 512-byte pages of a fixed size, stored in chunks of
 * CF_BLOB_PAGE_CHUNK bytes: a chunk holding at least one written page is
 * one blob_extents row (seq = its index, `pages` = a bitmap of its written
 * pages) naming one inline extent sealed like any other (the blob's scope,
 * customer key, infrastructure layer).  Pages whose bit is clear read as
 * zeros whatever the chunk holds; a chunk without a row costs nothing.
 * Every call is one transaction: a crash leaves all of its pages old or
 * all new.  Reads go through cf_blob_reader_open like every blob's.
 * Errors besides the common ones: 409 InvalidBlobType (not a page blob),
 * 416 InvalidPageRange (a write past the size, or not 512-aligned), 400
 * InvalidHeaderValue (a size not a multiple of 512 or above
 * CF_BLOB_PAGE_MAX_SIZE, a write above CF_BLOB_PAGE_MAX_WRITE, a negative
 * sequence number), 412 SequenceNumberConditionNotMet, 409
 * SequenceNumberIncrementTooLarge. */
#define CF_BLOB_PAGE_SIZE 512u
#define CF_BLOB_PAGE_CHUNK (64 * CF_KIB)
#define CF_BLOB_PAGE_MAX_SIZE (8ull * CF_MIB * CF_MIB) /* 8 TiB */
#define CF_BLOB_PAGE_MAX_WRITE (4 * CF_MIB)            /* Put Page */
#define CF_BLOB_PAGE_RANGES_MAX 10000u                 /* ranges per Get Page Ranges reply */

/* x-ms-if-sequence-number-le / -lt / -eq of Put Page; -1 = absent. */
typedef struct {
    int64_t le, lt, eq;
} cf_blob_seq_cond;

/* Create Page Blob: a blob of `size` bytes (a multiple of 512) reading as
 * zeros, replacing any blob of that name; sequence >= 0. */
CF_MUST_USE bool cf_blob_page_create(cf_blob_store *s, const char *account, const char *container,
                                     const char *name, uint64_t size, int64_t sequence,
                                     json_t *props, json_t *metadata, const cf_blob_cond *cond,
                                     int64_t now, cf_blob_write_result *out);
/* Put Page: `data` (length bytes) over [offset, offset + length), or with
 * data NULL clears those pages (they read as zeros again and cost
 * nothing).  offset and length multiples of 512, 0 < length <=
 * CF_BLOB_PAGE_MAX_WRITE.  seq may be NULL.  out->sequence: the blob's. */
CF_MUST_USE bool cf_blob_page_write(cf_blob_store *s, const char *account, const char *container,
                                    const char *name, uint64_t offset, uint64_t length,
                                    const uint8_t *data, const cf_blob_cond *cond,
                                    const cf_blob_seq_cond *seq, int64_t now,
                                    cf_blob_write_result *out);

/* One written range, inclusive, as Get Page Ranges lists it. */
typedef bool (*cf_page_range_cb)(void *ctx, uint64_t first, uint64_t last);
typedef struct {
    uint64_t offset, length; /* the range asked about; length CF_BLOB_WHOLE = to the end */
    uint64_t marker;         /* continue from this byte (a previous *next), 0 = start */
    unsigned max_results;    /* 1..CF_BLOB_PAGE_RANGES_MAX */
} cf_blob_page_ranges_req;
/* Get Page Ranges: the written pages of the range in order, adjacent ones
 * merged, clipped to it, at most max_results of them; *next gets where the
 * next call continues (0 when this was the last).  `info` gets the blob
 * (free it in every case).  416 InvalidRange when the range starts past
 * the size. */
CF_MUST_USE bool cf_blob_page_ranges(cf_blob_store *s, const char *account, const char *container,
                                     const char *name, const cf_blob_page_ranges_req *req,
                                     const cf_blob_cond *cond, int64_t now, cf_blob_info *info,
                                     cf_page_range_cb each, void *ctx, uint64_t *next);
/* Resize: a new size (a multiple of 512); pages past a smaller size are
 * dropped (they read as zeros if the blob grows again). */
CF_MUST_USE bool cf_blob_page_resize(cf_blob_store *s, const char *account, const char *container,
                                     const char *name, uint64_t size, const cf_blob_cond *cond,
                                     int64_t now, cf_blob_write_result *out);
/* x-ms-sequence-number-action: max (the larger of the stored and `value`),
 * update (`value`), increment (+1; `value` unused). */
typedef enum { CF_SEQ_MAX = 0, CF_SEQ_UPDATE, CF_SEQ_INCREMENT } cf_blob_seq_action;
CF_MUST_USE bool cf_blob_page_sequence(cf_blob_store *s, const char *account, const char *container,
                                       const char *name, cf_blob_seq_action action, int64_t value,
                                       const cf_blob_cond *cond, int64_t now,
                                       cf_blob_write_result *out);

/* ---- names ---- */

CF_MUST_USE bool cf_blob_account_name_valid(const char *name);
CF_MUST_USE bool cf_blob_container_name_valid(const char *name);
CF_MUST_USE bool cf_blob_name_valid(const char *name);

#endif
