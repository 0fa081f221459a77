/*
 * Internals shared by the blob store's files (not for handlers):
 *   blob_store.c            open/close, schema (the connection itself:
 *                           src/core/db.c), names,
 *                           accounts and scope keys, extent bookkeeping
 *                           (pins, deferred and due removals), cleanup,
 *                           service properties
 *   blob_lease.c            access conditions and the lease state machine
 *   blob_store_container.c  containers, container ACL and leases
 *   blob_store_blob.c       blob get/delete/properties/metadata/lease/copy
 *   blob_store_write.c      writers (Put Blob, Put Block, Append Block),
 *                           block lists, append create, block expiry
 *   blob_store_read.c       the pull reader and cf_blob_read
 *   blob_list.c             List Blobs
 *   blob_store_meta.c       sealed metadata columns, the per-account
 *                           metadata keys, migration from plaintext
 *   blob_store_shared.c     several front ends on PostgreSQL: change
 *                           notices, deferred extent removal (the sweep),
 *                           leadership
 *
 * Functions named cf_bs_* with a `_locked` suffix (or taking a statement)
 * expect the store mutex held.
 */
#ifndef CF_BLOB_STORE_INTERNAL_H
#define CF_BLOB_STORE_INTERNAL_H

#include <pthread.h>

#include "blob_store.h"
#include "db.h"
#include "extent_store.h"
#include "tde_store.h"
#include "units.h"

#define BS_ID_HEX CF_EXTENT_STORE_ID_LEN /* extent ids: 16 random bytes, lowercase hex */
/* Largest extent stored inline in the database (blob_store.h, "Small
 * bodies"): one full default segment sealed, i.e. up to 64 KiB of plaintext. */
#define BS_INLINE_MAX (CF_EXTENT_HEADER_LEN + CF_EXTENT_SEGMENT_DEFAULT + CF_EXTENT_TAG_LEN)
/* Largest inline row: a page blob's chunk (blob_store_page.c) inside the
 * infrastructure layer, whose outer extent takes a header and, as the inner
 * extent is just over one segment, two tags. */
#define BS_INLINE_STORED_MAX (BS_INLINE_MAX + CF_EXTENT_HEADER_LEN + 2 * CF_EXTENT_TAG_LEN)
/* A page blob's chunk: its written-page bitmap (blob_extents.pages). */
#define BS_PAGES_PER_CHUNK (CF_BLOB_PAGE_CHUNK / CF_BLOB_PAGE_SIZE)
#define BS_PAGE_MAP_LEN (BS_PAGES_PER_CHUNK / 8)
/* A page blob's reader plans this many chunks at a time (256 MiB): its
 * plan stays small however large the blob. */
#define BS_PAGE_WINDOW 4096u
/* Above the number of SQL literals the store uses on one backend (about
 * 100). */
#define BS_STMT_CACHE 160
/* How long a statement waits for SQLite's lock before failing. */
#define BS_BUSY_TIMEOUT_MS (5 * CF_MS_PER_SECOND)
/* PRAGMA user_version: 1 = client-supplied metadata columns sealed
 * (blob_store_meta.c); 0 = older databases, migrated at open. */
#define BS_SCHEMA_VERSION 1
/* PostgreSQL advisory lock keys, distinct from the vault store's ("cfva")
 * and from each other (session and transaction locks share one key
 * space): the blob store's writers ("cfbw") and its leader ("cfbl"). */
#define BS_WRITE_LOCK 0x63666277
#define BS_LEAD_KEY 0x6366626c

typedef struct bs_pin bs_pin;
struct bs_meta_key;

/* A list of extent ids (to remove once a transaction has committed, or
 * held by a reader). */
typedef struct {
    char (*ids)[BS_ID_HEX + 1];
    size_t n, cap;
} bs_idlist;

struct cf_blob_store {
    /* The connection (db.h): statement cache, transactions and the
     * group commit of its WAL (see blob_store.h, "Durability"). */
    cf_db *db;
    /* SQLite: blob.db through the coffer VFS, under a key derived from the
     * service key (tde_store.h) */
    cf_tde_store tde;
    pthread_mutex_t lock;
    /* Where extents too large to go inline live (extent_store.h): files in
     * DATA/extents, or RADOS, which every front end shares. */
    cf_extent_store *extents;
    bool extents_shared;
    uint8_t *service_key; /* 32 bytes, secret memory */
    /* Open readers' extent sets, under pins_lock (taken after `lock` when
     * both are held): a reader lets go of its extents without the store's
     * lock unless a removal waits for one of them (removal_waits). */
    pthread_mutex_t pins_lock;
    bs_pin *pins;
    bool removal_waits; /* under pins_lock: an extent was found pinned */
    bs_idlist deferred; /* unreferenced but pinned: due when unpinned */
    /* Unreferenced, unpinned, checked under the lock: removed from the
     * extent store once the lock is released and the commit that gave them
     * up is durable (BS_LOCKED, cf_bs_remove_due). */
    bs_idlist due;
    /* Per-account metadata keys, derived on first use (blob_store_meta.c). */
    struct bs_meta_key *meta_keys;
    size_t n_meta_keys;
    /* Accounts, read by every request (blob_store.c): the rows and their
     * opened key slots, kept until any account row changes.  Under their
     * own lock (taken after `lock` when both are held), so that a request
     * whose account is cached authenticates without the store's lock. */
    pthread_mutex_t accounts_lock;
    struct bs_account_entry *accounts;
    unsigned accounts_next; /* round-robin eviction */
    /* The key ring (blob_store_keys.c): unwrapped customer-managed keys. */
    struct bs_ring_key *ring;
    size_t n_ring;
    /* Several front ends (blob_store_shared.c): the connection string the
     * listener opens its own connection with, the listener, who else
     * hears of changes, and this instance's name in the notices. */
    char *conninfo;
    cf_db_listener *listener;
    cf_blob_store_change_fn on_change;
    void *on_change_ctx;
    char instance[BS_ID_HEX + 1]; /* random, as extent ids are */
    /* Bumped by every notice from another front end (and every gap): what
     * a front end keeps of shared state (the role assignments) is reloaded
     * when it moved. */
    _Atomic uint64_t generation;
};

/* One reader's hold on its extents (sorted ids). */
struct bs_pin {
    bs_pin *next, *prev;
    bs_idlist ids;
};

/* The account's data key and key reference (the extent scope material). */
typedef struct {
    uint8_t *key; /* CF_DATA_KEY_LEN bytes of secret memory */
    uint8_t ref[CF_EXTENT_KEY_REF_LEN];
    /* Infrastructure encryption (docs/extent-format.md): the holder's
     * infrastructure key (secret memory) and reference; NULL = one layer. */
    uint8_t *infra;
    uint8_t infra_ref[CF_EXTENT_KEY_REF_LEN];
} bs_scope;

/* One extent of a blob's content. */
typedef struct {
    char id[BS_ID_HEX + 1];
    uint64_t length;
    bool inl; /* stored in inline_extents, not in the extent store (plans only) */
    /* Where the piece lies: at ext_off in an extent of ext_len plaintext
     * bytes (a block's is the whole extent; a Put Page's chunks share one). */
    uint64_t ext_off, ext_len;
    /* Page blobs' plans: a run of unwritten chunks (no extent: zeros), or
     * a chunk whose pages with a clear bit read as zeros. */
    bool zero, paged;
    uint8_t pages[BS_PAGE_MAP_LEN];
} bs_piece;

/* The stored lease columns of a blob or container row. */
typedef struct {
    char id[CF_BLOB_LEASE_ID_MAX + 1]; /* "" = none */
    int64_t duration;                  /* -1 infinite, else seconds */
    int64_t expiry;                    /* fixed leases: end time */
    int64_t break_at;                  /* 0 = not broken, else when broken */
} bs_lease;

/* What conditions are checked against: the target's current state. */
typedef struct {
    bool exists;
    const char *etag;
    int64_t last_modified;
    bs_lease lease;
    char cpk[CF_BLOB_CPK_SHA_LEN + 1]; /* the blob's customer key SHA-256, "" = none */
    char scope[CF_BLOB_SCOPE_MAX + 1]; /* its encryption scope, "" = the account's key */
    uint64_t size;
    int64_t sequence; /* page blobs */
} bs_target;

/* READ: Get Blob/Properties (304 NotModified, no lease id needed);
 * WRITE: changes an existing target (404 first); CREATE: may create it
 * (If-Match fails on a missing blob, If-None-Match: * is BlobAlreadyExists);
 * SOURCE: a copy source (SourceConditionNotMet); LEASE: a lease operation
 * (conditions as WRITE, the lease checked by the state machine instead). */
typedef enum { BS_OP_READ, BS_OP_WRITE, BS_OP_CREATE, BS_OP_SOURCE, BS_OP_LEASE } bs_op;

/* Runs `call` holding the store mutex; then, with the mutex released, waits
 * until every transaction committed before the mutex was released is on
 * disk (cf_db_durable): the call's own commits, and any it may have seen.
 * All database work goes through it, so no write returns before it is
 * durable and no call answers from state a crash could still take back.
 * Last, the extents the call (or an earlier one) made due are removed from
 * the extent store: after that wait, and without the mutex, so a slow or
 * unreachable cluster holds up only the call that removes. */
#define BS_LOCKED(s, call)                        \
    ({                                            \
        pthread_mutex_lock(&(s)->lock);           \
        bool ok_ = (call);                        \
        uint64_t seen_ = cf_db_commits((s)->db);  \
        bs_idlist due_ = (s)->due;                \
        (s)->due = (bs_idlist){0};                \
        pthread_mutex_unlock(&(s)->lock);         \
        ok_ = cf_db_durable((s)->db, seen_, ok_); \
        cf_bs_remove_due((s), seen_, &due_);      \
        ok_;                                      \
    })

/* As BS_LOCKED, for the checks a write makes before its body arrives.  When
 * they pass, the wait for durability is left to the write's own commit: the
 * WAL is synced in order, so that wait covers every commit the checks saw,
 * and a put no longer waits on two syncs before its reply.  A failed check
 * answers from what it saw, so it waits.  Extents made due stay for the
 * next BS_LOCKED. */
#define BS_LOCKED_PRECHECK(s, call)                  \
    ({                                               \
        pthread_mutex_lock(&(s)->lock);              \
        bool ok_ = (call);                           \
        uint64_t seen_ = cf_db_commits((s)->db);     \
        pthread_mutex_unlock(&(s)->lock);            \
        ok_ || cf_db_durable((s)->db, seen_, false); \
    })

/* ---- database (blob_store.c) ---- */

/* Drops the cached accounts (under the lock). */
void cf_bs_accounts_changed_locked(cf_blob_store *s);
/* Every write to an account or its scopes, inside its transaction: drops
 * the cached accounts and tells the other front ends (a change notice,
 * blob_store_shared.c). */
CF_MUST_USE bool cf_bs_account_changed_tx(cf_blob_store *s, const char *account);
CF_MUST_USE bool cf_bs_json_text(json_t *j, char **out);
void cf_bs_column_str(cf_db_stmt *st, int col, char *out, size_t cap);
/* Fills a write's result (NULL: the caller wants none). */
void cf_bs_write_result(cf_blob_write_result *out, const char *etag, int64_t now);
CF_MUST_USE bool cf_bs_new_etag(char out[CF_BLOB_ETAG_LEN + 1]);
CF_MUST_USE bool cf_bs_check_names(const char *account, const char *container, const char *blob);

/* ---- accounts and keys (blob_store.c) ---- */

CF_MUST_USE bool cf_bs_account_get_locked(cf_blob_store *s, const char *name, cf_blob_account *out);
CF_MUST_USE bool cf_bs_scope_load_locked(cf_blob_store *s, const char *account, bs_scope *sc);
/* Seals an account secret (slot "key1", "key2" or "data") with the service
 * key, bound to the account and slot. */
CF_MUST_USE bool cf_bs_account_seal(cf_blob_store *s, const char *name, const char *slot,
                                    cf_slice plain, cf_buf *sealed);
/* Opens a value sealed by cf_bs_account_seal for (name, slot). */
CF_MUST_USE bool cf_bs_account_open(cf_blob_store *s, const char *name, const char *slot,
                                    cf_slice sealed, cf_buf *out);
/* The scope of encryption scope `scope` of the account (NULL or "": the
 * account's own key): 400 EncryptionScopeNotFound, 403
 * EncryptionScopeDisabled, or its key (vault keys from the ring). */
CF_MUST_USE bool cf_bs_scope_named_locked(cf_blob_store *s, const char *account, const char *scope,
                                          bs_scope *sc);
CF_MUST_USE bool cf_bs_scope_get_locked(cf_blob_store *s, const char *account, const char *name,
                                        cf_blob_scope *out);
/* Opens one sealed slot of an account into `out` (a secret buffer). */
CF_MUST_USE bool cf_bs_account_secret_locked(cf_blob_store *s, const char *name, const char *slot,
                                             cf_buf *out);
/* The key ring's key for `ref` into `out` (32 bytes); 403
 * KeyVaultEncryptionKeyNotFound when it is not there. */
CF_MUST_USE bool cf_bs_keyring_get_locked(cf_blob_store *s,
                                          const uint8_t ref[CF_EXTENT_KEY_REF_LEN], uint8_t *out);
void cf_bs_keyring_free(cf_blob_store *s);
void cf_bs_scope_free(bs_scope *sc);
/* The scope of a customer-provided key: the key itself, and a reference
 * derived from it. */
CF_MUST_USE bool cf_bs_scope_cpk(const cf_blob_cpk *cpk, bs_scope *sc);
/* Whether a request's customer key (cond->cpk, may be absent) fits a blob
 * written with `blob_cpk` ("" = none); raises Azure's 409 otherwise. */
CF_MUST_USE bool cf_bs_check_cpk(const cf_blob_cond *cond, const char *blob_cpk);
/* The scope to read or append to a blob: its customer key's, or the
 * account's. */
CF_MUST_USE bool cf_bs_scope_for_locked(cf_blob_store *s, const char *account,
                                        const cf_blob_cond *cond, const bs_target *t, bs_scope *sc);
/* A customer-provided key's scope, with the account's infrastructure key
 * when it has one. */
CF_MUST_USE bool cf_bs_scope_cpk_locked(cf_blob_store *s, const char *account,
                                        const cf_blob_cpk *cpk, bs_scope *sc);
/* Whether encryption scope `scope` ("" = none) can be used now: it exists,
 * is enabled, and its key is at hand. */
CF_MUST_USE bool cf_bs_scope_usable_locked(cf_blob_store *s, const char *account,
                                           const char *scope);
/* The encryption scope a write to `container` goes to: the request's
 * (cond->scope), else the container's default, "" for the account's key;
 * checks the container's override policy and that the scope exists. */
CF_MUST_USE bool cf_bs_write_scope_locked(cf_blob_store *s, const char *account,
                                          const char *container, const cf_blob_cond *cond,
                                          char out[CF_BLOB_SCOPE_MAX + 1]);
/* The scope key cf_extent uses for extent `id`; out: secret, 32 bytes. */
CF_MUST_USE bool cf_bs_extent_key(const bs_scope *sc, const char *id, uint8_t *out);
/* The same for the infrastructure (outer) layer; sc->infra must be set. */
CF_MUST_USE bool cf_bs_infra_extent_key(const bs_scope *sc, const char *id, uint8_t *out);
/* A fresh infrastructure key and reference, sealed for the account's slot
 * `slot` ("infra" or "infra/<scope>"), into `sealed`. */
CF_MUST_USE bool cf_bs_infra_new(cf_blob_store *s, const char *account, const char *slot,
                                 cf_buf *sealed);
/* Adds the infrastructure key sealed in `sealed` (for `slot`) to `sc`. */
CF_MUST_USE bool cf_bs_infra_load(cf_blob_store *s, const char *account, const char *slot,
                                  cf_slice sealed, bs_scope *sc);
/* Adds the account's infrastructure key to `sc` when it has one. */
CF_MUST_USE bool cf_bs_infra_of_account_locked(cf_blob_store *s, const char *account, bs_scope *sc);

/* ---- sealed metadata columns (blob_store_meta.c) ---- */

/* The row a sealed value belongs to, part of its AAD: container "" for an
 * account's values, blob "" for a container's. */
typedef struct {
    const char *account, *container, *blob;
} bs_row;

/* Seals `plain` for column `col` ("table.column") of `row` and binds it
 * (copied) to parameter `param` of `st` (which may be NULL: raised). */
CF_MUST_USE bool cf_bs_bind_sealed(cf_blob_store *s, cf_db_stmt *st, int param, bs_row row,
                                   const char *col, cf_slice plain);
/* Opens column `c` of st's current row, sealed for (row, col), into `out`
 * (initialised here as a secret buffer, NUL-terminated; free it on success
 * only).  CF_ERR_DECRYPT for a value that is tampered, moved, or not sealed. */
CF_MUST_USE bool cf_bs_column_open(cf_blob_store *s, cf_db_stmt *st, int c, bs_row row,
                                   const char *col, cf_buf *out);
/* The same, parsed as a JSON object (CF_ERR_DB if it is not one). */
CF_MUST_USE bool cf_bs_column_open_json(cf_blob_store *s, cf_db_stmt *st, int c, bs_row row,
                                        const char *col, json_t **out);
/* At open: seals every plaintext column of a database older than
 * BS_SCHEMA_VERSION in one transaction and sets user_version; *sealed
 * counts the values converted.  Fails on a newer database.  then_sql: run
 * in that transaction after the steps (NULL: none), PostgreSQL's schema. */
CF_MUST_USE bool cf_bs_meta_migrate(cf_blob_store *s, const char *then_sql, unsigned *sealed);
void cf_bs_meta_keys_free(cf_blob_store *s);
/* Forgets one account's metadata key (its data key left the key ring). */
void cf_bs_meta_key_drop_locked(cf_blob_store *s, const char *account);

/* ---- extent bookkeeping (blob_store.c) ---- */

CF_MUST_USE bool cf_bs_idlist_add(bs_idlist *l, const char *id);
void cf_bs_idlist_free(bs_idlist *l);
/* Adds the first column of every row of a select. */
CF_MUST_USE bool cf_bs_collect(cf_blob_store *s, cf_db_stmt *st, bs_idlist *l);
/* Inside a transaction, just before its COMMIT: deletes the inline_extents
 * rows of the listed extents that no row references any more and no
 * reader holds, and drops them from the list, which keeps what is left
 * for cf_bs_remove_unreferenced after the commit (the extent store's,
 * held extents). */
CF_MUST_USE bool cf_bs_drop_inline_tx(cf_blob_store *s, bs_idlist *l);
/* After a commit, holding the lock: makes each listed extent that no row
 * references and no reader holds due for removal (BS_LOCKED removes it;
 * held ones wait for the reader, and an inline one then loses its row);
 * frees the list. */
void cf_bs_remove_unreferenced(cf_blob_store *s, bs_idlist *l);
/* Without the lock, once commit `seen` is durable: removes the listed
 * extents from the extent store and frees the list.  Failures are not the
 * caller's (its error is kept): what stays, cleanup's walk finds again. */
void cf_bs_remove_due(cf_blob_store *s, uint64_t seen, bs_idlist *due);
/* The tail of every write that gives extents up, inside cf_db_begin():
 * with `tx_ok`, drops the inline rows of the extents listed in `gone` in
 * the same transaction and commits (else rolls back); after a commit
 * makes due what nothing references.  Frees `gone` either way. */
CF_MUST_USE bool cf_bs_commit_releasing(cf_blob_store *s, bool tx_ok, bs_idlist *gone);
/* Stores a sealed extent inline (inside the caller's transaction). */
CF_MUST_USE bool cf_bs_inline_put(cf_blob_store *s, const char *id, cf_slice sealed);
/* Copies inline extent `id` into `out` (CF_ERR_IO when the row is gone). */
CF_MUST_USE bool cf_bs_inline_get_locked(cf_blob_store *s, const char *id, cf_buf *out);
/* Readers' holds: pin takes ownership of `ids` (sorted here). */
void cf_bs_pin_locked(cf_blob_store *s, bs_pin *p);
void cf_bs_unpin_locked(cf_blob_store *s, bs_pin *p);
/* Unpins without the store's lock when no removal waits for a pinned
 * extent; false (and still pinned) otherwise: then cf_bs_unpin_locked. */
CF_MUST_USE bool cf_bs_unpin_quick(cf_blob_store *s, bs_pin *p);
/* Whether a reader of this process holds extent `id`. */
bool cf_bs_pinned(cf_blob_store *s, const char *id);
/* Whether any row (a blob's or an uncommitted block's) names extent `id`. */
CF_MUST_USE bool cf_bs_extent_referenced(cf_blob_store *s, const char *id, bool *ref);
/* Deletes inline extent `id`'s row, if it has one (*deleted says so). */
CF_MUST_USE bool cf_bs_inline_delete(cf_blob_store *s, const char *id, bool *deleted);

/* ---- several front ends (blob_store_shared.c) ---- */

/* PostgreSQL, inside the transaction that gave the extents of `l` up:
 * records those nothing references any more as unreferenced now (the
 * sweep removes them after the grace), and empties the list. */
CF_MUST_USE bool cf_bs_defer_tx(cf_blob_store *s, bs_idlist *l);
/* PostgreSQL: whether extent `id` waits out its grace (false on SQLite). */
CF_MUST_USE bool cf_bs_deferred(cf_blob_store *s, const char *id, bool *deferred);
/* Stops the listener (close). */
void cf_bs_listener_stop(cf_blob_store *s);

/* ---- conditions and leases (blob_lease.c) ---- */

cf_lease_state cf_bs_lease_state(const bs_lease *l, int64_t now);
void cf_bs_lease_info(const bs_lease *l, int64_t now, cf_lease_info *out);
/* Reads the four lease columns starting at `col`. */
void cf_bs_column_lease(cf_db_stmt *st, int col, bs_lease *out);
/* Evaluates `cond` (may be NULL) against `t` for an operation of kind `op`
 * on a blob (`container` false) or container.  Raises the Azure reason. */
CF_MUST_USE bool cf_bs_check_cond(const cf_blob_cond *cond, const bs_target *t, bs_op op,
                                  bool container, int64_t now);
/* The ETag and date conditions alone (no lease check). */
CF_MUST_USE bool cf_bs_check_cond_dates(const cf_blob_cond *cond, const bs_target *t, bs_op op);
/* Applies a lease request to `l` (in place) at `now`; fills `out`. */
CF_MUST_USE bool cf_bs_lease_apply(bs_lease *l, const cf_lease_req *req, int64_t now,
                                   cf_lease_result *out);

/* ---- shared blob helpers (blob_store_blob.c) ---- */

CF_MUST_USE bool cf_bs_container_exists(cf_blob_store *s, const char *account, const char *name);
CF_MUST_USE bool cf_bs_blob_get_locked(cf_blob_store *s, const char *account, const char *container,
                                       const char *name, int64_t now, bool with_meta,
                                       cf_blob_info *out);
/* The same, and from the same row the blob's condition target (as
 * cf_bs_blob_target, the type left out). */
CF_MUST_USE bool cf_bs_blob_read_locked(cf_blob_store *s, const char *account,
                                        const char *container, const char *name, int64_t now,
                                        bool with_meta, cf_blob_info *out,
                                        char etag[CF_BLOB_ETAG_LEN + 1], bs_target *t);
/* The blob's condition target (exists false when there is no blob row). */
CF_MUST_USE bool cf_bs_blob_target(cf_blob_store *s, const char *account, const char *container,
                                   const char *name, char etag[CF_BLOB_ETAG_LEN + 1], bs_target *t,
                                   cf_blob_type *type);
/* Checks a write's conditions on the blob; a write clears an expired lease
 * (so it can no longer be renewed), as Azure does. */
CF_MUST_USE bool cf_bs_blob_write_check(cf_blob_store *s, const char *account,
                                        const char *container, const char *name,
                                        const cf_blob_cond *cond, bs_op op, int64_t now,
                                        bool *exists, cf_blob_type *type);
CF_MUST_USE bool cf_bs_blob_clear(cf_blob_store *s, const char *account, const char *container,
                                  const char *name, bool with_row, bs_idlist *gone);
/* Inserts or replaces the blob row (keeping `created` and the lease of an
 * existing one, clearing copy properties). */
CF_MUST_USE bool cf_bs_blob_upsert(cf_blob_store *s, const char *account, const char *container,
                                   const char *name, cf_blob_type type, uint64_t size,
                                   const char *props, const char *meta, const char *cpk,
                                   const char *scope, int64_t now, char etag[CF_BLOB_ETAG_LEN + 1]);
CF_MUST_USE bool cf_bs_insert_extent_row(cf_blob_store *s, const char *account,
                                         const char *container, const char *name, int64_t seq,
                                         const char *id, uint64_t length, cf_slice block_id);
/* Rows of a blob's content in order; *pieces is malloc'ed. */
CF_MUST_USE bool cf_bs_blob_plan_locked(cf_blob_store *s, const char *account,
                                        const char *container, const char *name, size_t n_extents,
                                        bs_piece **pieces, size_t *n);
/* An extent opened for reading (blob_store_read.c): its infrastructure
 * layer peeled (layer, inner), `data` the source cf_extent_read reads,
 * its header checked, its plaintext length and segment size. */
typedef struct {
    cf_extent_layer *layer;
    cf_extent_source inner;
    const cf_extent_source *data;
    uint64_t plain;
    uint32_t seg;
} bs_opened;
/* Opens extent `id` of scope `sc` stored in `src` (which must outlive
 * `o`) into `o` (zeroed, or a previous open: its layer is freed), and
 * leaves its scope key in `key` (secret, CF_EXTENT_SCOPE_KEY_LEN).
 * CF_ERR_DECRYPT for damage. */
CF_MUST_USE bool cf_bs_extent_open(const bs_scope *sc, const char *id, const cf_extent_source *src,
                                   uint8_t *key, bs_opened *o);
/* A source over sealed bytes in memory (an inline extent). */
cf_extent_source cf_bs_mem_source(const cf_buf *sealed);
/* A page blob's plan (blob_store_page.c): the chunks from index `first`
 * that hold bytes before offset `until` (the read's end), at most
 * BS_PAGE_WINDOW of them and none past `size`, as pieces (runs of
 * unwritten chunks as zero pieces); *pieces is malloc'ed. */
CF_MUST_USE bool cf_bs_page_plan_locked(cf_blob_store *s, const char *account,
                                        const char *container, const char *name, uint64_t size,
                                        uint64_t first, uint64_t until, bs_piece **pieces,
                                        size_t *n);
/* Zeros the bytes of dst (plaintext [eo, eo + len) of chunk `p`) that lie
 * in pages without data. */
void cf_bs_page_mask(const bs_piece *p, uint64_t eo, uint8_t *dst, size_t len);
/* One row of BS_BLOB_COLUMNS into `out`, opening its sealed columns
 * (metadata only when with_meta). */
CF_MUST_USE bool cf_bs_read_blob_row(cf_blob_store *s, const char *account, const char *container,
                                     cf_db_stmt *st, bool with_meta, int64_t now,
                                     cf_blob_info *out);

/* The blob row as cf_bs_read_blob_row reads it.  The extent count sizes a
 * block or append blob's plan; a page blob's (up to 128 M chunk rows) is
 * never counted: its reader plans a window at a time. */
#define BS_BLOB_COLUMNS                                                          \
    "name, type, size, etag, created, last_modified, props, metadata, lease_id," \
    " lease_duration, lease_expiry, lease_break, copy,"                          \
    " CASE type WHEN 2 THEN 0 ELSE (SELECT count(*) FROM blob_extents e WHERE"   \
    "  e.account = blobs.account AND e.container = blobs.container AND"          \
    "  e.blob = blobs.name) END, scope, cpk, sequence"

#endif
