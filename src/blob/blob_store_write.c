/*
 * Writes with bodies (Put Blob, Put Block, Append Block) through a
 * streaming writer, and the metadata-only writes that assemble blobs from
 * extents (Put Block List, Create Append Blob), plus uncommitted-block
 * expiry.
 *
 * A writer checks its conditions twice: at begin, without side effects, so
 * a doomed upload fails before its body is sent; and at commit, inside the
 * metadata transaction, which is the check that counts.
 *
 * Where the sealed bytes go: into memory first, up to BS_INLINE_MAX (one
 * sealed 64 KiB segment plus the header).  A body that ends within that
 * becomes a row of inline_extents written in the commit's own transaction
 * (nothing in the extent store at all).  The first sealed byte past it
 * spills the buffer into a writer of the extent store (extent_store.h) and
 * the rest streams there; such a body is finished there (durable, visible
 * under its id) before the transaction starts, and if the transaction
 * fails the new extent is removed.
 */
#include "blob_store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_secure.h"
#include "secmem.h"

typedef enum { BS_W_PUT, BS_W_BLOCK, BS_W_APPEND } bs_wkind;

struct cf_blob_writer {
    cf_blob_store *s;
    char *account, *container, *name;
    bs_wkind kind;
    bool failed, done;
    bool committed; /* the metadata transaction committed (even if its sync then failed) */
    uint8_t block_id[CF_BLOB_BLOCK_ID_MAX];
    size_t block_id_len;
    char *props, *meta;
    /* Owned copies of the request's conditions. */
    cf_blob_cond cond;
    int64_t begin_now; /* the early check's clock */
    char *if_match, *if_none_match, *lease_id;
    cf_blob_cpk *cpk;                  /* secret memory: the customer's key, or NULL */
    char *req_scope;                   /* x-ms-encryption-scope, or NULL */
    char scope[CF_BLOB_SCOPE_MAX + 1]; /* where the body goes ("" = account key) */
    cf_blob_append_cond ac;
    uint64_t written, cap;
    char id[BS_ID_HEX + 1];
    /* Sealed bytes while the extent may still go inline (mem_active);
     * ciphertext only, so an ordinary buffer.  After a spill: the extent
     * store's writer (an unfinished one removes what it wrote when freed). */
    cf_buf mem;
    bool mem_active;
    cf_extent_store_writer *xw;
    cf_extent_writer *ew;
    cf_extent_writer *outer; /* the infrastructure layer around ew, or NULL */
};

/* The body outgrew the inline limit: start the extent in the extent store
 * and move the buffered bytes into it. */
static bool bs_writer_spill(cf_blob_writer *w)
{
    CF_GUARD(cf_extent_store_create(w->s->extents, w->id, &w->xw));
    CF_GUARD(cf_extent_store_write(w->xw, cf_buf_slice(&w->mem)));
    w->mem_active = false;
    cf_buf_free(&w->mem);
    return true;
}

static bool bs_writer_sink(void *ctx, cf_slice bytes)
{
    cf_blob_writer *w = ctx;
    if (w->mem_active && bytes.len <= BS_INLINE_MAX - w->mem.len)
        return cf_buf_append_slice(&w->mem, bytes);
    if (w->mem_active)
        CF_GUARD(bs_writer_spill(w));
    return cf_extent_store_write(w->xw, bytes);
}

void cf_blob_writer_free(cf_blob_writer *w)
{
    if (!w)
        return;
    cf_extent_writer_free(w->ew);
    cf_extent_writer_free(w->outer);
    cf_extent_store_writer_free(w->xw);
    cf_buf_free(&w->mem);
    free(w->account);
    free(w->container);
    free(w->name);
    free(w->if_match);
    free(w->if_none_match);
    free(w->lease_id);
    cf_secret_free(w->cpk, sizeof *w->cpk);
    free(w->req_scope);
    cf_json_free_text(w->props);
    cf_json_free_text(w->meta);
    free(w);
}

/* ---- checks shared by begin (early) and commit (binding) ---- */

/* All block ids of one blob have one length (Azure: InvalidBlobOrBlock). */
static bool bs_block_id_len_ok(cf_blob_store *s, const char *account, const char *container,
                               const char *name, size_t len)
{
    int64_t have = 0;
    CF_GUARD(cf_db_int(s->db,
                       CF_DB_PREP(s->db,
                                  "SELECT length(block_id) FROM uncommitted WHERE account = ?1 AND"
                                  " container = ?2 AND blob = ?3 UNION ALL SELECT length(block_id)"
                                  " FROM blob_extents WHERE account = ?1 AND container = ?2 AND"
                                  " blob = ?3 AND block_id IS NOT NULL LIMIT 1",
                                  account, container, name),
                       &have));
    CF_ENSURE_REASON(have == 0 || (size_t)have == len, CF_ERR_BAD_INPUT, "InvalidBlobOrBlock",
                     "block ids of one blob must have the same length");
    return true;
}

static bool bs_append_limits(cf_blob_store *s, const cf_blob_writer *w, uint64_t len,
                             uint64_t *size, uint32_t *blocks)
{
    int64_t n = 0, sz = 0;
    CF_GUARD(cf_db_int(s->db,
                       CF_DB_PREP(s->db,
                                  "SELECT count(*) FROM blob_extents WHERE account = ?1 AND"
                                  " container = ?2 AND blob = ?3",
                                  w->account, w->container, w->name),
                       &n));
    CF_GUARD(cf_db_int(s->db,
                       CF_DB_PREP(s->db,
                                  "SELECT size FROM blobs WHERE account = ?1 AND container = ?2 AND"
                                  " name = ?3",
                                  w->account, w->container, w->name),
                       &sz));
    CF_ENSURE_REASON(n < CF_BLOB_MAX_BLOCKS, CF_ERR_CONFLICT, "BlockCountExceedsLimit",
                     "an append blob holds at most 50,000 blocks");
    if (w->ac.max_size >= 0)
        CF_ENSURE_REASON((uint64_t)sz + len <= (uint64_t)w->ac.max_size, CF_ERR_CONFLICT,
                         "MaxBlobSizeConditionNotMet", "the blob would exceed the maximum size");
    if (w->ac.append_pos >= 0)
        CF_ENSURE_REASON(sz == w->ac.append_pos, CF_ERR_CONFLICT, "AppendPositionConditionNotMet",
                         "the append position does not match the blob size");
    *size = (uint64_t)sz;
    *blocks = (uint32_t)n;
    return true;
}

/* An append goes to the blob's own scope; a request may name only that one. */
static bool bs_append_scope_ok(const cf_blob_cond *cond, const bs_target *t)
{
    const char *want = cond->scope;
    if (want && strcmp(want, CF_BLOB_ACCOUNT_SCOPE) == 0)
        want = "";
    CF_ENSURE_REASON(!want || strcmp(want, t->scope) == 0, CF_ERR_CONFLICT,
                     "EncryptionScopeOverrideNotAllowed",
                     "The blob is in another encryption scope than the request names.");
    return true;
}

/* Begin's early check: container, conditions and lease, blob type, block
 * limits; changes nothing.  It exists so that a refused upload is refused
 * before its body is read; the check at commit is the binding one. */
static bool bs_writer_precheck_locked(cf_blob_store *s, cf_blob_writer *w, bs_scope *sc)
{
    int64_t now = w->begin_now;
    CF_GUARD(cf_bs_container_exists(s, w->account, w->container));
    char etag[CF_BLOB_ETAG_LEN + 1];
    bs_target t;
    cf_blob_type type = CF_BLOB_BLOCK;
    CF_GUARD(cf_bs_blob_target(s, w->account, w->container, w->name, etag, &t, &type));
    uint64_t size;
    uint32_t blocks;
    switch (w->kind) {
    case BS_W_PUT: CF_GUARD(cf_bs_check_cond(&w->cond, &t, BS_OP_CREATE, false, now)); break;
    case BS_W_BLOCK:
        CF_ENSURE_REASON(!t.exists || type == CF_BLOB_BLOCK, CF_ERR_CONFLICT, "InvalidBlobType",
                         "Put Block on an append blob");
        CF_GUARD(cf_bs_check_cond(&w->cond, &t, BS_OP_WRITE, false, now));
        CF_GUARD(bs_block_id_len_ok(s, w->account, w->container, w->name, w->block_id_len));
        break;
    case BS_W_APPEND:
    default:
        CF_ENSURE_REASON(t.exists, CF_ERR_NOT_FOUND, "BlobNotFound", "no such blob");
        CF_ENSURE_REASON(type == CF_BLOB_APPEND, CF_ERR_CONFLICT, "InvalidBlobType",
                         "Append Block on a block blob");
        CF_GUARD(cf_bs_check_cond(&w->cond, &t, BS_OP_WRITE, false, now));
        CF_GUARD(bs_append_limits(s, w, 0, &size, &blocks));
        CF_GUARD(bs_append_scope_ok(&w->cond, &t));
        snprintf(w->scope, sizeof w->scope, "%s", t.scope);
        return cf_bs_scope_for_locked(s, w->account, &w->cond, &t, sc);
    }
    CF_GUARD(cf_bs_write_scope_locked(s, w->account, w->container, &w->cond, w->scope));
    return w->cpk ? cf_bs_scope_cpk_locked(s, w->account, w->cpk, sc)
                  : cf_bs_scope_named_locked(s, w->account, w->scope, sc);
}

/* The customer key SHA-256 of the request, or NULL. */
static const char *bs_cpk_sha(const cf_blob_cond *cond)
{
    return cond && cond->cpk ? cond->cpk->sha256 : NULL;
}

/* The early check and the extent writer (the extent store's comes with
 * the first spilled byte). */
static bool bs_writer_start(cf_blob_writer *w)
{
    bs_scope sc = {0};
    CF_GUARD(BS_LOCKED_PRECHECK(
        w->s, cf_db_read_begin(w->s->db) &&
                  cf_db_read_end(w->s->db, bs_writer_precheck_locked(w->s, w, &sc))));
    uint8_t *key = cf_secret_alloc(CF_EXTENT_SCOPE_KEY_LEN);
    bool ok = key != NULL;
    if (!ok)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    ok = ok && cf_extent_store_new_id(w->id);
    w->mem_active = true;
    cf_extent_sink sink = {bs_writer_sink, w};
    /* Infrastructure encryption: the extent goes into an outer one. */
    if (ok && sc.infra) {
        ok = cf_bs_infra_extent_key(&sc, w->id, key) &&
             cf_extent_writer_begin_cipher(cf_slice_of(key, CF_EXTENT_SCOPE_KEY_LEN), sc.infra_ref,
                                           CF_EXTENT_SEGMENT_DEFAULT, CF_EXTENT_CIPHER_LAYER, sink,
                                           &w->outer);
        sink = ok ? cf_extent_layer_sink(w->outer) : sink;
    }
    ok = ok && cf_bs_extent_key(&sc, w->id, key) &&
         cf_extent_writer_begin(cf_slice_of(key, CF_EXTENT_SCOPE_KEY_LEN), sc.ref,
                                CF_EXTENT_SEGMENT_DEFAULT, sink, &w->ew);
    cf_secret_free(key, CF_EXTENT_SCOPE_KEY_LEN);
    cf_bs_scope_free(&sc);
    return ok;
}

static bool bs_dup(const char *in, char **out)
{
    *out = NULL;
    if (!in)
        return true;
    *out = strdup(in);
    CF_ENSURE_ALLOC(*out);
    return true;
}

static bool bs_writer_new(cf_blob_store *s, const char *account, const char *container,
                          const char *name, bs_wkind kind, const cf_blob_cond *cond,
                          cf_blob_writer **out)
{
    CF_GUARD(cf_bs_check_names(account, container, name));
    cf_blob_writer *w = calloc(1, sizeof *w);
    CF_ENSURE_ALLOC(w);
    w->s = s;
    cf_buf_init(&w->mem, BS_INLINE_MAX);
    w->kind = kind;
    w->ac.max_size = w->ac.append_pos = -1;
    w->cap = kind == BS_W_PUT     ? CF_BLOB_MAX_PUT_SIZE
             : kind == BS_W_BLOCK ? CF_BLOB_MAX_BLOCK_SIZE
                                  : CF_BLOB_MAX_APPEND_BLOCK;
    w->account = strdup(account);
    w->container = strdup(container);
    w->name = strdup(name);
    bool ok = w->account && w->container && w->name;
    if (ok && cond) {
        ok = bs_dup(cond->if_match, &w->if_match) &&
             bs_dup(cond->if_none_match, &w->if_none_match) && bs_dup(cond->lease_id, &w->lease_id);
        ok = ok && bs_dup(cond->scope, &w->req_scope);
        w->cond = (cf_blob_cond){w->if_match,
                                 w->if_none_match,
                                 cond->if_modified_since,
                                 cond->if_unmodified_since,
                                 w->lease_id,
                                 NULL,
                                 w->req_scope};
        if (ok && cond->cpk) {
            w->cpk = cf_secret_alloc(sizeof *w->cpk);
            ok = w->cpk != NULL;
            if (ok)
                *w->cpk = *cond->cpk;
            w->cond.cpk = w->cpk;
        }
    }
    if (!ok) {
        cf_blob_writer_free(w);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    *out = w;
    return true;
}

bool cf_blob_put_begin(cf_blob_store *s, const char *account, const char *container,
                       const char *name, json_t *props, json_t *metadata, const cf_blob_cond *cond,
                       int64_t now, cf_blob_writer **out)
{
    CF_GUARD(cf_blob_metadata_check(metadata));
    cf_blob_writer *w;
    CF_GUARD(bs_writer_new(s, account, container, name, BS_W_PUT, cond, &w));
    w->begin_now = now;
    if (!cf_bs_json_text(props, &w->props) || !cf_bs_json_text(metadata, &w->meta) ||
        !bs_writer_start(w)) {
        cf_blob_writer_free(w);
        return false;
    }
    *out = w;
    return true;
}

bool cf_blob_writer_set_props(cf_blob_writer *w, json_t *props)
{
    char *text = NULL;
    CF_GUARD(cf_bs_json_text(props, &text));
    cf_json_free_text(w->props);
    w->props = text;
    return true;
}

bool cf_blob_block_begin(cf_blob_store *s, const char *account, const char *container,
                         const char *name, cf_slice block_id, const cf_blob_cond *cond, int64_t now,
                         cf_blob_writer **out)
{
    CF_ENSURE_REASON(block_id.len >= 1 && block_id.len <= CF_BLOB_BLOCK_ID_MAX, CF_ERR_BAD_INPUT,
                     "InvalidBlockId", "block id must be 1..64 bytes");
    /* Put Block honours only the lease id. */
    cf_blob_cond lease_only = {0};
    if (cond) {
        lease_only.lease_id = cond->lease_id;
        lease_only.cpk = cond->cpk;
        lease_only.scope = cond->scope;
    }
    cf_blob_writer *w;
    CF_GUARD(bs_writer_new(s, account, container, name, BS_W_BLOCK, &lease_only, &w));
    w->begin_now = now;
    memcpy(w->block_id, block_id.ptr, block_id.len);
    w->block_id_len = block_id.len;
    if (!bs_writer_start(w)) {
        cf_blob_writer_free(w);
        return false;
    }
    *out = w;
    return true;
}

bool cf_blob_append_begin(cf_blob_store *s, const char *account, const char *container,
                          const char *name, const cf_blob_cond *cond, const cf_blob_append_cond *ac,
                          int64_t now, cf_blob_writer **out)
{
    cf_blob_writer *w;
    CF_GUARD(bs_writer_new(s, account, container, name, BS_W_APPEND, cond, &w));
    w->begin_now = now;
    if (ac)
        w->ac = *ac;
    if (!bs_writer_start(w)) {
        cf_blob_writer_free(w);
        return false;
    }
    *out = w;
    return true;
}

bool cf_blob_writer_write(cf_blob_writer *w, cf_slice data)
{
    CF_ENSURE(!w->failed && !w->done, CF_ERR_OPERATION, "writer failed or finished");
    if (data.len > w->cap - w->written) {
        w->failed = true;
        CF_RAISE_REASON(CF_ERR_TOO_LARGE, "RequestBodyTooLarge",
                        "the body exceeds the operation's size limit");
        return false;
    }
    w->written += data.len;
    if (!cf_extent_write(w->ew, data)) {
        w->failed = true;
        return false;
    }
    return true;
}

/* ---- commit ---- */

static bool bs_put_blob_tx(cf_blob_writer *w, uint64_t len, int64_t now, char *etag,
                           bs_idlist *gone)
{
    cf_blob_store *s = w->s;
    CF_GUARD(cf_bs_blob_write_check(s, w->account, w->container, w->name, &w->cond, BS_OP_CREATE,
                                    now, NULL, NULL));
    CF_GUARD(cf_bs_blob_clear(s, w->account, w->container, w->name, false, gone));
    CF_GUARD(cf_bs_blob_upsert(s, w->account, w->container, w->name, CF_BLOB_BLOCK, len, w->props,
                               w->meta, bs_cpk_sha(&w->cond), w->scope, now, etag));
    return cf_bs_insert_extent_row(s, w->account, w->container, w->name, 0, w->id, len,
                                   cf_slice_of(NULL, 0));
}

static bool bs_put_block_tx(cf_blob_writer *w, uint64_t len, int64_t now, bs_idlist *gone)
{
    cf_blob_store *s = w->s;
    bool exists = false;
    cf_blob_type type = CF_BLOB_BLOCK;
    CF_GUARD(cf_bs_blob_write_check(s, w->account, w->container, w->name, &w->cond, BS_OP_CREATE,
                                    now, &exists, &type));
    CF_ENSURE_REASON(!exists || type == CF_BLOB_BLOCK, CF_ERR_CONFLICT, "InvalidBlobType",
                     "Put Block on an append blob");
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "SELECT extent FROM uncommitted WHERE account = ?1 AND"
                                " container = ?2 AND blob = ?3 AND block_id = ?4",
                                w->account, w->container, w->name);
    if (st)
        cf_db_bind_blob(st, 4, w->block_id, w->block_id_len);
    CF_GUARD(cf_bs_collect(s, st, gone));
    st = CF_DB_PREP(s->db,
                    "DELETE FROM uncommitted WHERE account = ?1 AND container = ?2 AND blob = ?3"
                    " AND block_id = ?4",
                    w->account, w->container, w->name);
    if (st)
        cf_db_bind_blob(st, 4, w->block_id, w->block_id_len);
    CF_GUARD(cf_db_run(s->db, st));
    CF_GUARD(bs_block_id_len_ok(s, w->account, w->container, w->name, w->block_id_len));
    int64_t count = 0;
    CF_GUARD(cf_db_int(s->db,
                       CF_DB_PREP(s->db,
                                  "SELECT count(*) FROM uncommitted WHERE account = ?1 AND"
                                  " container = ?2 AND blob = ?3",
                                  w->account, w->container, w->name),
                       &count));
    CF_ENSURE_REASON(count < CF_BLOB_MAX_UNCOMMITTED, CF_ERR_CONFLICT, "BlockCountExceedsLimit",
                     "too many uncommitted blocks");
    st = CF_DB_PREP(s->db,
                    "INSERT INTO uncommitted (account, container, blob, block_id, size, extent,"
                    " created, cpk, scope) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    w->account, w->container, w->name, NULL, NULL, w->id, NULL,
                    bs_cpk_sha(&w->cond), w->scope[0] ? w->scope : NULL);
    CF_GUARD(st);
    cf_db_bind_blob(st, 4, w->block_id, w->block_id_len);
    cf_db_bind_int64(st, 5, (int64_t)len);
    cf_db_bind_int64(st, 7, now);
    return cf_db_run(s->db, st);
}

static bool bs_append_tx(cf_blob_writer *w, uint64_t len, int64_t now, cf_blob_write_result *res)
{
    cf_blob_store *s = w->s;
    cf_blob_type type = CF_BLOB_BLOCK;
    CF_GUARD(cf_bs_blob_write_check(s, w->account, w->container, w->name, &w->cond, BS_OP_WRITE,
                                    now, NULL, &type));
    CF_ENSURE_REASON(type == CF_BLOB_APPEND, CF_ERR_CONFLICT, "InvalidBlobType",
                     "Append Block on a block blob");
    char etag[CF_BLOB_ETAG_LEN + 1];
    bs_target t;
    CF_GUARD(cf_bs_blob_target(s, w->account, w->container, w->name, etag, &t, NULL));
    CF_GUARD(cf_bs_check_cpk(&w->cond, t.cpk));
    CF_ENSURE_REASON(strcmp(t.scope, w->scope) == 0, CF_ERR_CONFLICT, "ConditionNotMet",
                     "the blob was replaced meanwhile");
    uint64_t size;
    uint32_t blocks;
    CF_GUARD(bs_append_limits(s, w, len, &size, &blocks));
    CF_ENSURE(size + len >= size, CF_ERR_TOO_LARGE, "blob too large");
    CF_GUARD(cf_bs_insert_extent_row(s, w->account, w->container, w->name, (int64_t)blocks, w->id,
                                     len, cf_slice_of(NULL, 0)));
    CF_GUARD(cf_bs_new_etag(res->etag));
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "UPDATE blobs SET size = ?4, etag = ?5, last_modified = ?6"
                                " WHERE account = ?1 AND container = ?2 AND name = ?3",
                                w->account, w->container, w->name, NULL, res->etag);
    CF_GUARD(st);
    cf_db_bind_int64(st, 4, (int64_t)(size + len));
    cf_db_bind_int64(st, 6, now);
    res->append_offset = size;
    res->committed_blocks = blocks + 1;
    return cf_db_run(s->db, st);
}

static bool bs_writer_commit_locked(cf_blob_writer *w, uint64_t len, int64_t now,
                                    cf_blob_write_result *res)
{
    bs_idlist gone = {0};
    bool ok = cf_db_begin(w->s->db);
    if (ok) {
        switch (w->kind) {
        case BS_W_BLOCK: ok = bs_put_block_tx(w, len, now, &gone); break;
        case BS_W_APPEND: ok = bs_append_tx(w, len, now, res); break;
        case BS_W_PUT:
        default: ok = bs_put_blob_tx(w, len, now, res->etag, &gone); break;
        }
        if (ok && w->mem_active)
            ok = cf_bs_inline_put(w->s, w->id, cf_buf_slice(&w->mem));
        ok = cf_db_commit(w->s->db, ok && cf_bs_drop_inline_tx(w->s, &gone));
        w->committed = ok;
    }
    if (ok)
        cf_bs_remove_unreferenced(w->s, &gone);
    cf_bs_idlist_free(&gone);
    return ok;
}

bool cf_blob_writer_commit(cf_blob_writer *w, int64_t now, cf_blob_write_result *out)
{
    CF_ENSURE(!w->failed && !w->done, CF_ERR_OPERATION, "writer failed or finished");
    w->failed = true; /* until proven otherwise */
    uint64_t len = 0;
    CF_GUARD(cf_extent_finish(w->ew, &len, NULL));
    if (w->outer)
        CF_GUARD(cf_extent_finish(w->outer, NULL, NULL));
    cf_blob_write_result res = {0};
    if (w->mem_active) {
        /* Inline: the bytes go in the metadata transaction itself. */
        CF_GUARD(BS_LOCKED(w->s, bs_writer_commit_locked(w, len, now, &res)));
    } else {
        /* Data is durable before the metadata that points at it commits. */
        CF_GUARD(cf_extent_store_finish(w->xw, NULL));
        if (!BS_LOCKED(w->s, bs_writer_commit_locked(w, len, now, &res))) {
            /* Committed but not confirmed durable: the row may name it. */
            if (!w->committed) {
                struct cf_error_record *saved = cf_error_save();
                /* What a failure leaves, cleanup's walk removes. */
                if (!cf_extent_store_remove(w->s->extents, w->id))
                    cf_error_clear();
                cf_error_restore(saved);
            }
            return false;
        }
    }
    w->failed = false;
    w->done = true;
    res.last_modified = now;
    snprintf(res.scope, sizeof res.scope, "%s", w->scope);
    if (out)
        *out = res;
    return true;
}

/* ---- append create ---- */

typedef struct {
    const char *account, *container, *name;
    const cf_blob_cond *cond;
    const char *props, *meta;
    int64_t now;
    char etag[CF_BLOB_ETAG_LEN + 1];
    char scope[CF_BLOB_SCOPE_MAX + 1];
} bs_create;

static bool bs_append_create_tx(cf_blob_store *s, bs_create *c, bs_idlist *gone)
{
    CF_GUARD(cf_bs_blob_write_check(s, c->account, c->container, c->name, c->cond, BS_OP_CREATE,
                                    c->now, NULL, NULL));
    CF_GUARD(cf_bs_blob_clear(s, c->account, c->container, c->name, false, gone));
    char scope[CF_BLOB_SCOPE_MAX + 1] = "";
    CF_GUARD(cf_bs_write_scope_locked(s, c->account, c->container, c->cond, scope));
    snprintf(c->scope, sizeof c->scope, "%s", scope);
    return cf_bs_blob_upsert(s, c->account, c->container, c->name, CF_BLOB_APPEND, 0, c->props,
                             c->meta, bs_cpk_sha(c->cond), scope, c->now, c->etag);
}

static bool bs_append_create_locked(cf_blob_store *s, bs_create *c)
{
    bs_idlist gone = {0};
    return cf_db_begin(s->db) && cf_bs_commit_releasing(s, bs_append_create_tx(s, c, &gone), &gone);
}

bool cf_blob_append_create(cf_blob_store *s, const char *account, const char *container,
                           const char *name, json_t *props, json_t *metadata,
                           const cf_blob_cond *cond, int64_t now, cf_blob_write_result *out)
{
    CF_GUARD(cf_bs_check_names(account, container, name));
    CF_GUARD(cf_blob_metadata_check(metadata));
    char *p = NULL, *m = NULL;
    bs_create c = {account, container, name, cond, NULL, NULL, now, ""};
    bool ok = cf_bs_json_text(props, &p) && cf_bs_json_text(metadata, &m);
    c.props = p;
    c.meta = m;
    ok = ok && BS_LOCKED(s, bs_append_create_locked(s, &c));
    cf_json_free_text(p);
    cf_json_free_text(m);
    if (ok)
        cf_bs_write_result(out, c.etag, now);
    if (ok && out)
        snprintf(out->scope, sizeof out->scope, "%s", c.scope);
    return ok;
}

/* ---- block lists ---- */

/* Finds a block's extent among the committed (`committed`) or uncommitted
 * blocks of a blob. */
static bool bs_find_block(cf_blob_store *s, const char *account, const char *container,
                          const char *name, cf_slice block_id, bool committed, bool *found,
                          bs_piece *out, char *cpk, char *scope)
{
    cf_db_stmt *st =
        committed ? CF_DB_PREP(s->db,
                               "SELECT e.extent, e.length, b.cpk, b.scope FROM blob_extents e"
                               " JOIN blobs b ON b.account = e.account AND"
                               " b.container = e.container AND b.name = e.blob"
                               " WHERE e.account = ?1 AND e.container = ?2 AND"
                               " e.blob = ?3 AND e.block_id = ?4 LIMIT 1",
                               account, container, name)
                  : CF_DB_PREP(s->db,
                               "SELECT extent, size, cpk, scope FROM uncommitted WHERE"
                               " account = ?1 AND container = ?2 AND blob = ?3 AND"
                               " block_id = ?4",
                               account, container, name);
    CF_GUARD(st);
    cf_db_bind_blob(st, 4, block_id.ptr, block_id.len);
    int rc = cf_db_step(st);
    *found = rc == CF_DB_ROW;
    if (*found) {
        cf_bs_column_str(st, 0, out->id, sizeof out->id);
        out->length = (uint64_t)cf_db_column_int64(st, 1);
        cf_bs_column_str(st, 2, cpk, CF_BLOB_CPK_SHA_LEN + 1);
        cf_bs_column_str(st, 3, scope, CF_BLOB_SCOPE_MAX + 1);
    }
    bool ok = cf_db_ok(s->db, rc);
    cf_db_done(st);
    return ok;
}

typedef struct {
    const char *account, *container, *name;
    const cf_block_ref *blocks;
    size_t n;
    const char *props, *meta;
    const cf_blob_cond *cond;
    int64_t now;
    char etag[CF_BLOB_ETAG_LEN + 1];
    char scope[CF_BLOB_SCOPE_MAX + 1];
} bs_block_list;

static bool bs_put_block_list_tx(cf_blob_store *s, bs_block_list *bl, bs_piece *pieces,
                                 bs_idlist *gone)
{
    bool exists = false;
    cf_blob_type type = CF_BLOB_BLOCK;
    CF_GUARD(cf_bs_blob_write_check(s, bl->account, bl->container, bl->name, bl->cond, BS_OP_CREATE,
                                    bl->now, &exists, &type));
    CF_ENSURE_REASON(!exists || type == CF_BLOB_BLOCK, CF_ERR_CONFLICT, "InvalidBlobType",
                     "Put Block List on an append blob");
    uint64_t total = 0;
    char cpk[CF_BLOB_CPK_SHA_LEN + 1], block_scope[CF_BLOB_SCOPE_MAX + 1];
    char scope[CF_BLOB_SCOPE_MAX + 1] = "";
    CF_GUARD(cf_bs_write_scope_locked(s, bl->account, bl->container, bl->cond, scope));
    for (size_t i = 0; i < bl->n; i++) {
        cf_slice id = bl->blocks[i].id;
        CF_ENSURE_REASON(id.len >= 1 && id.len <= CF_BLOB_BLOCK_ID_MAX, CF_ERR_BAD_INPUT,
                         "InvalidBlockList", "block id must be 1..64 bytes");
        bool found = false;
        cf_block_from from = bl->blocks[i].from;
        if (from != CF_BLOCK_COMMITTED)
            CF_GUARD(bs_find_block(s, bl->account, bl->container, bl->name, id, false, &found,
                                   &pieces[i], cpk, block_scope));
        if (!found && from != CF_BLOCK_UNCOMMITTED)
            CF_GUARD(bs_find_block(s, bl->account, bl->container, bl->name, id, true, &found,
                                   &pieces[i], cpk, block_scope));
        CF_ENSURE_REASON(found, CF_ERR_BAD_INPUT, "InvalidBlockList",
                         "a listed block does not exist");
        const char *want = bs_cpk_sha(bl->cond);
        CF_ENSURE_REASON(strcmp(cpk, want ? want : "") == 0, CF_ERR_CONFLICT,
                         "InvalidEncryptionKey",
                         "A listed block was put with another encryption key than this request's.");
        CF_ENSURE_REASON(strcmp(block_scope, scope) == 0, CF_ERR_BAD_INPUT, "InvalidBlockList",
                         "A listed block was put in another encryption scope than the blob's.");
        CF_ENSURE(total + pieces[i].length >= total, CF_ERR_TOO_LARGE, "blob too large");
        total += pieces[i].length;
    }
    CF_GUARD(cf_bs_blob_clear(s, bl->account, bl->container, bl->name, false, gone));
    CF_GUARD(cf_bs_blob_upsert(s, bl->account, bl->container, bl->name, CF_BLOB_BLOCK, total,
                               bl->props, bl->meta, bs_cpk_sha(bl->cond), scope, bl->now,
                               bl->etag));
    snprintf(bl->scope, sizeof bl->scope, "%s", scope);
    for (size_t i = 0; i < bl->n; i++)
        CF_GUARD(cf_bs_insert_extent_row(s, bl->account, bl->container, bl->name, (int64_t)i,
                                         pieces[i].id, pieces[i].length, bl->blocks[i].id));
    return true;
}

static bool bs_put_block_list_locked(cf_blob_store *s, bs_block_list *bl, bs_piece *pieces)
{
    bs_idlist gone = {0};
    return cf_db_begin(s->db) &&
           cf_bs_commit_releasing(s, bs_put_block_list_tx(s, bl, pieces, &gone), &gone);
}

bool cf_blob_put_block_list(cf_blob_store *s, const char *account, const char *container,
                            const char *name, const cf_block_ref *blocks, size_t n, json_t *props,
                            json_t *metadata, const cf_blob_cond *cond, int64_t now,
                            cf_blob_write_result *out)
{
    CF_GUARD(cf_bs_check_names(account, container, name));
    CF_ENSURE_REASON(n <= CF_BLOB_MAX_BLOCKS, CF_ERR_CONFLICT, "BlockCountExceedsLimit",
                     "a blob holds at most 50,000 committed blocks");
    CF_ENSURE(n == 0 || blocks, CF_ERR_BAD_INPUT, "no block list");
    CF_GUARD(cf_blob_metadata_check(metadata));
    bs_piece *pieces = calloc(n ? n : 1, sizeof *pieces);
    CF_ENSURE_ALLOC(pieces);
    bs_block_list bl = {account, container, name, blocks, n, NULL, NULL, cond, now, ""};
    char *p = NULL, *m = NULL;
    bool ok = cf_bs_json_text(props, &p) && cf_bs_json_text(metadata, &m);
    bl.props = p;
    bl.meta = m;
    ok = ok && BS_LOCKED(s, bs_put_block_list_locked(s, &bl, pieces));
    cf_json_free_text(p);
    cf_json_free_text(m);
    free(pieces);
    if (ok)
        cf_bs_write_result(out, bl.etag, now);
    if (ok && out)
        snprintf(out->scope, sizeof out->scope, "%s", bl.scope);
    return ok;
}

static bool bs_each_block(cf_blob_store *s, cf_db_stmt *st, cf_block_cb cb, void *ctx, bool *any)
{
    CF_GUARD(st);
    int rc = CF_DB_DONE;
    bool ok = true;
    while (ok && (rc = cf_db_step(st)) == CF_DB_ROW) {
        *any = true;
        if (!cb)
            continue;
        cf_block_info b = {0};
        size_t len = (size_t)cf_db_column_bytes(st, 0);
        if (len > CF_BLOB_BLOCK_ID_MAX) {
            CF_RAISE(CF_ERR_DB, "malformed block id");
            ok = false;
            break;
        }
        if (len)
            memcpy(b.id, cf_db_column_blob(st, 0), len);
        b.id_len = len;
        b.size = (uint64_t)cf_db_column_int64(st, 1);
        ok = cb(ctx, &b);
    }
    if (ok && rc != CF_DB_ROW)
        ok = cf_db_ok(s->db, rc);
    cf_db_done(st);
    return ok;
}

typedef struct {
    const char *account, *container, *name;
    const cf_blob_cond *cond;
    int64_t now;
    cf_block_cb committed, uncommitted;
    void *ctx;
} bs_get_blocks;

static bool bs_get_block_list_locked(cf_blob_store *s, const bs_get_blocks *g)
{
    CF_GUARD(cf_bs_container_exists(s, g->account, g->container));
    char etag[CF_BLOB_ETAG_LEN + 1];
    bs_target t;
    cf_blob_type type = CF_BLOB_BLOCK;
    CF_GUARD(cf_bs_blob_target(s, g->account, g->container, g->name, etag, &t, &type));
    CF_ENSURE_REASON(!t.exists || type == CF_BLOB_BLOCK, CF_ERR_CONFLICT, "InvalidBlobType",
                     "Get Block List on an append blob");
    cf_blob_cond lease_only = {0};
    if (g->cond)
        lease_only.lease_id = g->cond->lease_id;
    CF_GUARD(cf_bs_check_cond(&lease_only, &t, BS_OP_READ, false, g->now));
    bool any = false;
    CF_GUARD(bs_each_block(s,
                           CF_DB_PREP(s->db,
                                      "SELECT block_id, length FROM blob_extents WHERE account = ?1"
                                      " AND container = ?2 AND blob = ?3 AND block_id IS NOT NULL"
                                      " ORDER BY seq",
                                      g->account, g->container, g->name),
                           g->committed, g->ctx, &any));
    CF_GUARD(bs_each_block(s,
                           CF_DB_PREP(s->db,
                                      "SELECT block_id, size FROM uncommitted WHERE account = ?1"
                                      " AND container = ?2 AND blob = ?3 ORDER BY seq",
                                      g->account, g->container, g->name),
                           g->uncommitted, g->ctx, &any));
    CF_ENSURE_REASON(t.exists || any, CF_ERR_NOT_FOUND, "BlobNotFound", "no such blob");
    return true;
}

bool cf_blob_get_block_list(cf_blob_store *s, const char *account, const char *container,
                            const char *name, const cf_blob_cond *cond, int64_t now,
                            cf_block_cb committed, cf_block_cb uncommitted, void *ctx)
{
    CF_GUARD(cf_bs_check_names(account, container, name));
    bs_get_blocks g = {account, container, name, cond, now, committed, uncommitted, ctx};
    return BS_LOCKED(s, bs_get_block_list_locked(s, &g));
}

static bool bs_expire_locked(cf_blob_store *s, int64_t cutoff, unsigned *expired)
{
    bs_idlist gone = {0};
    bool ok = cf_db_begin(s->db);
    if (ok) {
        cf_db_stmt *st =
            CF_DB_PREP(s->db, "SELECT extent FROM uncommitted WHERE created < ?1", NULL);
        if (st)
            cf_db_bind_int64(st, 1, cutoff);
        ok = cf_bs_collect(s, st, &gone);
        st = ok ? CF_DB_PREP(s->db, "DELETE FROM uncommitted WHERE created < ?1", NULL) : NULL;
        if (st)
            cf_db_bind_int64(st, 1, cutoff);
        ok = ok && cf_db_run(s->db, st);
        /* Counted before the inline ones leave the list. */
        if (ok && expired)
            *expired = (unsigned)gone.n;
        return cf_bs_commit_releasing(s, ok, &gone);
    }
    cf_bs_idlist_free(&gone);
    return ok;
}

bool cf_blob_expire_uncommitted(cf_blob_store *s, int64_t now, unsigned *expired)
{
    return BS_LOCKED(s, bs_expire_locked(s, now - CF_BLOB_UNCOMMITTED_TTL, expired));
}
