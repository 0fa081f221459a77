/*
 * Page blobs (blob_store.h, "page blobs"; the layout and why:
 * docs/page-blobs.md).  A blob is cut into chunks of CF_BLOB_PAGE_CHUNK
 * bytes; a chunk with written pages is one blob_extents row (seq = chunk
 * index, pages = a bitmap of its written pages, bit i = page i, least
 * significant bit first) naming the extent that holds it and its place in
 * that extent's plaintext (chunk_at; length = the extent's plaintext
 * length).  The chunks one Put Page leaves with data are sealed together
 * as one extent under the blob's scope, inline when it is one chunk.
 *
 * Put Page runs in three steps (see "Put Page" below): the checks and the
 * partly covered chunks' new plaintext under the lock, the sealing and
 * the durable write of the new extent outside it, then one transaction
 * that checks again and points every chunk's row at the new extent,
 * giving the old ones up (cf_bs_commit_releasing).  So a crash leaves
 * every page of a call old or every page new, and two writers of one blob
 * cannot lose each other's pages: a partial chunk changed meanwhile makes
 * the call start over.
 *
 * The bitmap is what counts: a page whose bit is clear reads as zeros
 * whatever its chunk holds (cf_bs_page_mask).  Put Page still writes zeros
 * over the pages it clears, and drops stale bytes of unwritten pages
 * whenever it rewrites a chunk; only Resize, which needs no key (a blob
 * under a customer's key can be resized without it), merely clears bits.
 */
#include "blob_store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_secure.h"
#include "secmem.h"

/* Rows one Get Page Ranges call looks at (64 GiB of chunks): beyond it,
 * the reply ends with a marker, so no call holds the store for long. */
#define BS_PAGE_SCAN_MAX (1u << 20)

static uint64_t bs_chunk_count(uint64_t size)
{
    return (size + CF_BLOB_PAGE_CHUNK - 1) / CF_BLOB_PAGE_CHUNK;
}

static bool bs_page_bit(const uint8_t *map, unsigned page)
{
    return (map[page / 8] >> (page % 8)) & 1;
}

/* Sets (on) or clears pages [from, to) of a chunk's bitmap. */
static void bs_page_bits(uint8_t *map, unsigned from, unsigned to, bool on)
{
    for (unsigned i = from; i < to; i++) {
        if (on)
            map[i / 8] |= (uint8_t)(1u << (i % 8));
        else
            map[i / 8] &= (uint8_t) ~(1u << (i % 8));
    }
}

static bool bs_page_map_empty(const uint8_t *map)
{
    for (size_t i = 0; i < BS_PAGE_MAP_LEN; i++)
        if (map[i])
            return false;
    return true;
}

void cf_bs_page_mask(const bs_piece *p, uint64_t eo, uint8_t *dst, size_t len)
{
    if (!p->paged)
        return;
    uint64_t end = eo + len;
    for (uint64_t page = eo / CF_BLOB_PAGE_SIZE; page * CF_BLOB_PAGE_SIZE < end; page++) {
        if (bs_page_bit(p->pages, (unsigned)page))
            continue;
        uint64_t from = page * CF_BLOB_PAGE_SIZE > eo ? page * CF_BLOB_PAGE_SIZE : eo;
        uint64_t to = (page + 1) * CF_BLOB_PAGE_SIZE < end ? (page + 1) * CF_BLOB_PAGE_SIZE : end;
        memset(dst + (from - eo), 0, (size_t)(to - from));
    }
}

static bool bs_page_size_ok(uint64_t size)
{
    CF_ENSURE_REASON(size % CF_BLOB_PAGE_SIZE == 0 && size <= CF_BLOB_PAGE_MAX_SIZE,
                     CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                     "x-ms-blob-content-length must be a multiple of 512 of at most 8 TiB.");
    return true;
}

/* ---- one chunk ---- */

/* A chunk's row (found false when it has none): the extent holding it,
 * where in that extent's plaintext (a Put Page's chunks share one extent),
 * the extent's plaintext length, and the page map. */
typedef struct {
    bool found;
    char id[BS_ID_HEX + 1];
    uint64_t at, ext_len;
    uint8_t pages[BS_PAGE_MAP_LEN];
} bs_chunk_row;

/* The columns bs_chunk_row_read reads, in order, from `seq`. */
#define BS_CHUNK_COLUMNS "seq, extent, pages, coalesce(chunk_at, 0), length"

static bool bs_chunk_row_read(cf_db_stmt *st, int col, int64_t *seq, bs_chunk_row *out)
{
    *seq = cf_db_column_int64(st, col);
    cf_bs_column_str(st, col + 1, out->id, sizeof out->id);
    CF_ENSURE(cf_db_column_bytes(st, col + 2) == BS_PAGE_MAP_LEN, CF_ERR_DB,
              "a page blob's chunk row has no page map");
    memcpy(out->pages, cf_db_column_blob(st, col + 2), BS_PAGE_MAP_LEN);
    int64_t at = cf_db_column_int64(st, col + 3), len = cf_db_column_int64(st, col + 4);
    CF_ENSURE(at >= 0 && len >= CF_BLOB_PAGE_CHUNK &&
                  (uint64_t)at <= (uint64_t)len - CF_BLOB_PAGE_CHUNK &&
                  at % CF_BLOB_PAGE_CHUNK == 0,
              CF_ERR_DB, "a page blob's chunk row names a place outside its extent");
    out->at = (uint64_t)at;
    out->ext_len = (uint64_t)len;
    out->found = true;
    return true;
}

static bool bs_chunk_same(const bs_chunk_row *a, const bs_chunk_row *b)
{
    return a->found == b->found &&
           (!a->found || (strcmp(a->id, b->id) == 0 && a->at == b->at &&
                          memcmp(a->pages, b->pages, BS_PAGE_MAP_LEN) == 0));
}

static bool bs_chunk_load(cf_blob_store *s, const char *account, const char *container,
                          const char *name, uint64_t chunk, bs_chunk_row *out)
{
    memset(out, 0, sizeof *out);
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "SELECT " BS_CHUNK_COLUMNS " FROM blob_extents WHERE account = ?1"
                                " AND container = ?2 AND blob = ?3 AND seq = ?4",
                                account, container, name);
    CF_GUARD(st);
    cf_db_bind_int64(st, 4, (int64_t)chunk);
    int rc = cf_db_step(st);
    int64_t seq;
    bool ok = cf_db_ok(s->db, rc) && (rc != CF_DB_ROW || bs_chunk_row_read(st, 0, &seq, out));
    cf_db_done(st);
    return ok;
}

static bool bs_chunk_store(cf_blob_store *s, const char *account, const char *container,
                           const char *name, uint64_t chunk, const bs_chunk_row *row)
{
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "INSERT INTO blob_extents (account, container, blob, seq, extent,"
                                " length, pages, chunk_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                                " ON CONFLICT (account, container, blob, seq) DO UPDATE SET"
                                " extent = excluded.extent, length = excluded.length,"
                                " pages = excluded.pages, chunk_at = excluded.chunk_at",
                                account, container, name, NULL, row->id);
    CF_GUARD(st);
    cf_db_bind_int64(st, 4, (int64_t)chunk);
    cf_db_bind_int64(st, 6, (int64_t)row->ext_len);
    cf_db_bind_blob(st, 7, row->pages, BS_PAGE_MAP_LEN);
    cf_db_bind_int64(st, 8, (int64_t)row->at);
    return cf_db_run(s->db, st);
}

static bool bs_chunk_drop(cf_blob_store *s, const char *account, const char *container,
                          const char *name, uint64_t chunk)
{
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "DELETE FROM blob_extents WHERE account = ?1 AND container = ?2"
                                " AND blob = ?3 AND seq = ?4",
                                account, container, name);
    CF_GUARD(st);
    cf_db_bind_int64(st, 4, (int64_t)chunk);
    return cf_db_run(s->db, st);
}

static bool bs_buf_sink(void *ctx, cf_slice bytes)
{
    return cf_buf_append_slice(ctx, bytes);
}

static bool bs_store_sink(void *ctx, cf_slice bytes)
{
    return cf_extent_store_write(ctx, bytes);
}

/* Seals `n` chunks of plaintext (chunk i at plain[i]) as extent `id` into
 * `sink`. */
static bool bs_chunks_seal(const bs_scope *sc, const char *id, const uint8_t *const *plain,
                           size_t n, uint8_t *key, cf_extent_sink sink)
{
    cf_extent_writer *outer = NULL, *inner = NULL;
    bool ok = true;
    if (sc->infra) {
        ok = cf_bs_infra_extent_key(sc, id, key) &&
             cf_extent_writer_begin_cipher(cf_slice_of(key, CF_EXTENT_SCOPE_KEY_LEN), sc->infra_ref,
                                           CF_EXTENT_SEGMENT_DEFAULT, CF_EXTENT_CIPHER_LAYER, sink,
                                           &outer);
        if (ok)
            sink = cf_extent_layer_sink(outer);
    }
    ok = ok && cf_bs_extent_key(sc, id, key) &&
         cf_extent_writer_begin(cf_slice_of(key, CF_EXTENT_SCOPE_KEY_LEN), sc->ref,
                                CF_EXTENT_SEGMENT_DEFAULT, sink, &inner);
    for (size_t i = 0; ok && i < n; i++)
        ok = cf_extent_write(inner, cf_slice_of(plain[i], CF_BLOB_PAGE_CHUNK));
    ok = ok && cf_extent_finish(inner, NULL, NULL) &&
         (!outer || cf_extent_finish(outer, NULL, NULL));
    cf_extent_writer_free(inner);
    cf_extent_writer_free(outer);
    return ok;
}

typedef struct {
    uint8_t *dst;
    size_t len;
} bs_chunk_out;

static bool bs_chunk_out_write(void *ctx, cf_slice bytes)
{
    bs_chunk_out *o = ctx;
    CF_ENSURE(bytes.len <= CF_BLOB_PAGE_CHUNK - o->len, CF_ERR_DECRYPT, "chunk overran");
    memcpy(o->dst + o->len, bytes.ptr, bytes.len);
    o->len += bytes.len;
    return true;
}

static bool bs_inline_has(cf_blob_store *s, const char *id, bool *has)
{
    int64_t n = 0;
    CF_GUARD(cf_db_int(
        s->db, CF_DB_PREP(s->db, "SELECT count(*) FROM inline_extents WHERE id = ?1", id), &n));
    *has = n > 0;
    return true;
}

/* A chunk's plaintext into `plain`, unwritten pages zeroed: from its
 * extent, inline or in the extent store. */
static bool bs_chunk_open(cf_blob_store *s, const bs_scope *sc, const bs_chunk_row *row,
                          uint8_t *plain, uint8_t *key, cf_buf *sealed)
{
    bool inl = false;
    CF_GUARD(bs_inline_has(s, row->id, &inl));
    cf_extent_store_reader *xr = NULL;
    cf_extent_source src;
    if (inl) {
        CF_GUARD(cf_bs_inline_get_locked(s, row->id, sealed));
        src = cf_bs_mem_source(sealed);
    } else {
        CF_ENSURE_FOUND(cf_extent_store_reader_open(s->extents, row->id, &xr), CF_ERR_IO,
                        "an extent of the blob is missing");
        src = cf_extent_store_source(xr);
    }
    bs_opened ext = {0};
    bs_chunk_out out = {plain, 0};
    bool ok = cf_bs_extent_open(sc, row->id, &src, key, &ext);
    if (ok && ext.plain != row->ext_len) {
        CF_RAISE(CF_ERR_DECRYPT, "extent length does not match the metadata");
        ok = false;
    }
    ok = ok && cf_extent_read(cf_slice_of(key, CF_EXTENT_SCOPE_KEY_LEN), ext.data, row->at,
                              CF_BLOB_PAGE_CHUNK, (cf_extent_sink){bs_chunk_out_write, &out});
    cf_extent_layer_free(ext.layer);
    cf_extent_store_reader_close(xr);
    CF_GUARD(ok);
    CF_ENSURE(out.len == CF_BLOB_PAGE_CHUNK, CF_ERR_DECRYPT, "a page blob's chunk came up short");
    bs_piece p = {.paged = true};
    memcpy(p.pages, row->pages, BS_PAGE_MAP_LEN);
    cf_bs_page_mask(&p, 0, plain, CF_BLOB_PAGE_CHUNK);
    return true;
}

/* ---- the blob ---- */

/* A page blob's row for an operation of kind `op`: container, blob, type,
 * conditions and lease, inside a write's transaction (an expired lease
 * cleared), or with `peek` only checked (in a read transaction, before
 * the write itself); its target in `t` (etag: its buffer), its size and
 * sequence number. */
static bool bs_page_blob_check(cf_blob_store *s, const char *account, const char *container,
                               const char *name, const cf_blob_cond *cond, bs_op op, bool peek,
                               int64_t now, char etag[CF_BLOB_ETAG_LEN + 1], bs_target *t,
                               uint64_t *size, int64_t *sequence)
{
    cf_blob_type type = CF_BLOB_BLOCK;
    if (op == BS_OP_READ || peek) {
        CF_GUARD(cf_bs_container_exists(s, account, container));
        CF_GUARD(cf_bs_blob_target(s, account, container, name, etag, t, &type));
        CF_ENSURE_REASON(t->exists, CF_ERR_NOT_FOUND, "BlobNotFound", "no such blob");
        CF_GUARD(cf_bs_check_cond(cond, t, op, false, now));
    } else {
        CF_GUARD(cf_bs_blob_write_check(s, account, container, name, cond, op, now, NULL, &type));
        CF_GUARD(cf_bs_blob_target(s, account, container, name, etag, t, &type));
    }
    CF_ENSURE_REASON(type == CF_BLOB_PAGE, CF_ERR_CONFLICT, "InvalidBlobType",
                     "The blob type is invalid for this operation.");
    *size = t->size;
    *sequence = t->sequence;
    return true;
}

/* New ETag and Last-Modified (and sequence number) of a changed page blob. */
static bool bs_page_touch(cf_blob_store *s, const char *account, const char *container,
                          const char *name, int64_t sequence, int64_t now,
                          cf_blob_write_result *out)
{
    char etag[CF_BLOB_ETAG_LEN + 1];
    CF_GUARD(cf_bs_new_etag(etag));
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "UPDATE blobs SET etag = ?4, last_modified = ?5, sequence = ?6"
                                " WHERE account = ?1 AND container = ?2 AND name = ?3",
                                account, container, name, etag);
    CF_GUARD(st);
    cf_db_bind_int64(st, 5, now);
    cf_db_bind_int64(st, 6, sequence);
    CF_GUARD(cf_db_run(s->db, st));
    cf_bs_write_result(out, etag, now);
    if (out)
        out->sequence = sequence;
    return true;
}

/* ---- create ---- */

typedef struct {
    const char *account, *container, *name;
    uint64_t size;
    int64_t sequence;
    const char *props, *meta;
    const cf_blob_cond *cond;
    int64_t now;
    cf_blob_write_result *out;
} bs_page_new;

static bool bs_page_create_tx(cf_blob_store *s, const bs_page_new *c, bs_idlist *gone)
{
    CF_GUARD(cf_bs_blob_write_check(s, c->account, c->container, c->name, c->cond, BS_OP_CREATE,
                                    c->now, NULL, NULL));
    CF_GUARD(cf_bs_blob_clear(s, c->account, c->container, c->name, false, gone));
    char scope[CF_BLOB_SCOPE_MAX + 1] = "";
    CF_GUARD(cf_bs_write_scope_locked(s, c->account, c->container, c->cond, scope));
    if (!c->cond || !c->cond->cpk) /* a scope's key must be at hand to write there later */
        CF_GUARD(cf_bs_scope_usable_locked(s, c->account, scope));
    char etag[CF_BLOB_ETAG_LEN + 1];
    const char *cpk = c->cond && c->cond->cpk ? c->cond->cpk->sha256 : NULL;
    CF_GUARD(cf_bs_blob_upsert(s, c->account, c->container, c->name, CF_BLOB_PAGE, c->size,
                               c->props, c->meta, cpk, scope, c->now, etag));
    CF_GUARD(bs_page_touch(s, c->account, c->container, c->name, c->sequence, c->now, c->out));
    if (c->out)
        snprintf(c->out->scope, sizeof c->out->scope, "%s", scope);
    return true;
}

static bool bs_page_create_locked(cf_blob_store *s, const bs_page_new *c)
{
    bs_idlist gone = {0};
    return cf_db_begin(s->db) && cf_bs_commit_releasing(s, bs_page_create_tx(s, c, &gone), &gone);
}

bool cf_blob_page_create(cf_blob_store *s, const char *account, const char *container,
                         const char *name, uint64_t size, int64_t sequence, json_t *props,
                         json_t *metadata, const cf_blob_cond *cond, int64_t now,
                         cf_blob_write_result *out)
{
    CF_GUARD(cf_bs_check_names(account, container, name));
    CF_GUARD(bs_page_size_ok(size));
    CF_ENSURE_REASON(sequence >= 0, CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                     "x-ms-blob-sequence-number must be 0 or more.");
    CF_GUARD(cf_blob_metadata_check(metadata));
    char *p = NULL, *m = NULL;
    bool ok = cf_bs_json_text(props, &p) && cf_bs_json_text(metadata, &m);
    bs_page_new c = {account, container, name, size, sequence, p, m, cond, now, out};
    ok = ok && BS_LOCKED(s, bs_page_create_locked(s, &c));
    cf_json_free_text(p);
    cf_json_free_text(m);
    return ok;
}

/* ---- Put Page ----
 *
 * Three steps, so that sealing the data and writing it durably happen
 * outside the store's lock:
 *   1. (lock, read transaction) the checks, the blob's scope, and for the
 *      chunks the call covers only in part (at most the first and the
 *      last) their rows and their new plaintext (old pages opened, the
 *      call's overlaid);
 *   2. (no lock) every chunk that will hold data sealed, in order, as ONE
 *      extent: inline when it is one chunk, else in the extent store,
 *      finished (durable) there;
 *   3. (lock, write transaction) the checks again (they are the binding
 *      ones), the partial chunks' rows compared with step 1's: if another
 *      call changed one meanwhile, the new extent is removed and the call
 *      starts over; else every chunk's row is pointed at its place in the
 *      new extent (or deleted when cleared), the old extents given up.
 * A crash before step 3 commits leaves an unreferenced extent (cleanup
 * removes it) and every page old; after, every page new. */

#define BS_PAGE_TRIES 16 /* step 3 finding the rows changed, before giving up */

typedef struct {
    const char *account, *container, *name;
    uint64_t offset, length;
    const uint8_t *data; /* NULL: clear */
    const cf_blob_cond *cond;
    const cf_blob_seq_cond *seq;
    int64_t now;
    cf_blob_write_result *out;
    uint64_t first, last; /* the chunks the call covers */
    /* Step 1: the blob's key holder, and its partial chunks (index 0 the
     * first, 1 the last): their rows then, their new page maps and, when
     * they keep data, their new plaintext (secret). */
    bs_scope sc;
    char cpk[CF_BLOB_CPK_SHA_LEN + 1], scope[CF_BLOB_SCOPE_MAX + 1];
    bool partial[2];
    bs_chunk_row was[2];
    uint8_t pages[2][BS_PAGE_MAP_LEN];
    uint8_t *plain[2];
    uint8_t *key; /* secret: a scope key */
    cf_buf sealed;
    /* Step 2: the new extent. */
    char id[BS_ID_HEX + 1];
    size_t n_sealed; /* chunks in it */
    cf_buf mem;      /* its sealed bytes when inline */
    bool stored;     /* finished in the extent store */
    bool changed;    /* step 3: a partial chunk's row moved; start over */
    bool committed;  /* step 3's transaction committed */
} bs_page_put;

static bool bs_seq_cond_ok(const cf_blob_seq_cond *q, int64_t have)
{
    bool ok = !q || ((q->le < 0 || have <= q->le) && (q->lt < 0 || have < q->lt) &&
                     (q->eq < 0 || have == q->eq));
    CF_ENSURE_REASON(ok, CF_ERR_CONFLICT, "SequenceNumberConditionNotMet",
                     "The sequence number condition specified was not met.");
    return true;
}

/* The part of chunk c the call covers: [lo, hi) within the chunk. */
static void bs_page_span(const bs_page_put *w, uint64_t c, uint64_t *lo, uint64_t *hi)
{
    uint64_t base = c * CF_BLOB_PAGE_CHUNK, end = w->offset + w->length;
    *lo = (w->offset > base ? w->offset : base) - base;
    *hi = (end < base + CF_BLOB_PAGE_CHUNK ? end : base + CF_BLOB_PAGE_CHUNK) - base;
}

/* The checks of steps 1 and 3 (peek: step 1's, which change nothing). */
static bool bs_page_put_check(cf_blob_store *s, bs_page_put *w, bool peek, bs_target *t,
                              char etag[CF_BLOB_ETAG_LEN + 1], int64_t *sequence)
{
    uint64_t size = 0;
    CF_GUARD(bs_page_blob_check(s, w->account, w->container, w->name, w->cond, BS_OP_WRITE, peek,
                                w->now, etag, t, &size, sequence));
    CF_GUARD(bs_seq_cond_ok(w->seq, *sequence));
    CF_GUARD(cf_bs_check_cpk(w->cond, t->cpk));
    CF_ENSURE_REASON(w->offset < size && w->length <= size - w->offset, CF_ERR_BAD_INPUT,
                     "InvalidPageRange", "The page range specified is invalid.");
    return true;
}

/* Step 1 for partial chunk k (chunk c). */
static bool bs_page_partial(cf_blob_store *s, bs_page_put *w, int k, uint64_t c)
{
    uint64_t lo, hi;
    bs_page_span(w, c, &lo, &hi);
    w->partial[k] = true;
    CF_GUARD(bs_chunk_load(s, w->account, w->container, w->name, c, &w->was[k]));
    memset(w->pages[k], 0, BS_PAGE_MAP_LEN);
    if (w->was[k].found)
        memcpy(w->pages[k], w->was[k].pages, BS_PAGE_MAP_LEN);
    bs_page_bits(w->pages[k], (unsigned)(lo / CF_BLOB_PAGE_SIZE),
                 (unsigned)(hi / CF_BLOB_PAGE_SIZE), w->data != NULL);
    if (bs_page_map_empty(w->pages[k]))
        return true; /* nothing left to keep: the row goes */
    if (w->was[k].found)
        CF_GUARD(bs_chunk_open(s, &w->sc, &w->was[k], w->plain[k], w->key, &w->sealed));
    else
        memset(w->plain[k], 0, CF_BLOB_PAGE_CHUNK);
    uint64_t at = c * CF_BLOB_PAGE_CHUNK + lo - w->offset;
    if (w->data)
        memcpy(w->plain[k] + lo, w->data + at, (size_t)(hi - lo));
    else
        memset(w->plain[k] + lo, 0, (size_t)(hi - lo));
    return true;
}

static bool bs_page_prepare_reads(cf_blob_store *s, bs_page_put *w)
{
    char etag[CF_BLOB_ETAG_LEN + 1];
    bs_target t;
    int64_t sequence = 0;
    CF_GUARD(bs_page_put_check(s, w, true, &t, etag, &sequence));
    cf_bs_scope_free(&w->sc);
    CF_GUARD(cf_bs_scope_for_locked(s, w->account, w->cond, &t, &w->sc));
    snprintf(w->cpk, sizeof w->cpk, "%s", t.cpk);
    snprintf(w->scope, sizeof w->scope, "%s", t.scope);
    w->partial[0] = w->partial[1] = false;
    uint64_t lo, hi;
    bs_page_span(w, w->first, &lo, &hi);
    if (lo != 0 || hi != CF_BLOB_PAGE_CHUNK)
        CF_GUARD(bs_page_partial(s, w, 0, w->first));
    bs_page_span(w, w->last, &lo, &hi);
    if (w->last != w->first && hi != CF_BLOB_PAGE_CHUNK)
        CF_GUARD(bs_page_partial(s, w, 1, w->last));
    return true;
}

/* Which partial slot chunk c is (0, 1), or -1 for a whole chunk. */
static int bs_page_slot(const bs_page_put *w, uint64_t c)
{
    if (c == w->first && w->partial[0])
        return 0;
    if (c == w->last && w->partial[1])
        return 1;
    return -1;
}

/* Chunk c's plaintext in the new extent, or NULL when it keeps no data. */
static const uint8_t *bs_page_plain(const bs_page_put *w, uint64_t c)
{
    int k = bs_page_slot(w, c);
    if (k >= 0)
        return bs_page_map_empty(w->pages[k]) ? NULL : w->plain[k];
    return w->data ? w->data + (c * CF_BLOB_PAGE_CHUNK - w->offset) : NULL;
}

/* Step 2. */
static bool bs_page_seal(cf_blob_store *s, bs_page_put *w)
{
    const uint8_t *plain[CF_BLOB_PAGE_MAX_WRITE / CF_BLOB_PAGE_CHUNK + 2];
    size_t n = 0;
    for (uint64_t c = w->first; c <= w->last; c++)
        if (bs_page_plain(w, c))
            plain[n++] = bs_page_plain(w, c);
    w->n_sealed = n;
    w->stored = false;
    if (n == 0)
        return true;
    CF_GUARD(cf_extent_store_new_id(w->id));
    if (n == 1) {
        cf_buf_clear(&w->mem);
        return bs_chunks_seal(&w->sc, w->id, plain, n, w->key,
                              (cf_extent_sink){bs_buf_sink, &w->mem});
    }
    cf_extent_store_writer *xw = NULL;
    bool ok =
        cf_extent_store_create(s->extents, w->id, &xw) &&
        bs_chunks_seal(&w->sc, w->id, plain, n, w->key, (cf_extent_sink){bs_store_sink, xw}) &&
        cf_extent_store_finish(xw, NULL);
    cf_extent_store_writer_free(xw); /* removes an unfinished one */
    w->stored = ok;
    return ok;
}

/* Step 3 for chunk c, `at` its place in the new extent (advanced). */
static bool bs_page_apply_chunk(cf_blob_store *s, bs_page_put *w, uint64_t c, uint64_t *at,
                                bs_idlist *gone)
{
    int k = bs_page_slot(w, c);
    bs_chunk_row now;
    CF_GUARD(bs_chunk_load(s, w->account, w->container, w->name, c, &now));
    if (k >= 0 && !bs_chunk_same(&now, &w->was[k])) {
        w->changed = true; /* another call wrote this chunk since step 1 */
        CF_BAIL(CF_ERR_CONFLICT, "a page chunk changed meanwhile");
    }
    if (now.found)
        CF_GUARD(cf_bs_idlist_add(gone, now.id));
    if (!bs_page_plain(w, c))
        return !now.found || bs_chunk_drop(s, w->account, w->container, w->name, c);
    bs_chunk_row row = {.found = true, .at = *at, .ext_len = w->n_sealed * CF_BLOB_PAGE_CHUNK};
    memcpy(row.id, w->id, sizeof row.id);
    if (k >= 0)
        memcpy(row.pages, w->pages[k], BS_PAGE_MAP_LEN);
    else
        memset(row.pages, 0xff, BS_PAGE_MAP_LEN);
    *at += CF_BLOB_PAGE_CHUNK;
    return bs_chunk_store(s, w->account, w->container, w->name, c, &row);
}

static bool bs_page_apply_tx(cf_blob_store *s, bs_page_put *w, bs_idlist *gone)
{
    char etag[CF_BLOB_ETAG_LEN + 1];
    bs_target t;
    int64_t sequence = 0;
    CF_GUARD(bs_page_put_check(s, w, false, &t, etag, &sequence));
    /* The blob replaced by another under another key since step 1. */
    if (strcmp(t.cpk, w->cpk) != 0 || strcmp(t.scope, w->scope) != 0) {
        w->changed = true;
        CF_BAIL(CF_ERR_CONFLICT, "the blob changed meanwhile");
    }
    uint64_t at = 0;
    for (uint64_t c = w->first; c <= w->last; c++)
        CF_GUARD(bs_page_apply_chunk(s, w, c, &at, gone));
    if (w->n_sealed == 1)
        CF_GUARD(cf_bs_inline_put(s, w->id, cf_buf_slice(&w->mem)));
    CF_GUARD(bs_page_touch(s, w->account, w->container, w->name, sequence, w->now, w->out));
    if (w->out)
        snprintf(w->out->scope, sizeof w->out->scope, "%s", t.scope);
    return true;
}

static bool bs_page_apply_locked(cf_blob_store *s, bs_page_put *w)
{
    bs_idlist gone = {0};
    /* Committed (even if its sync then fails): the rows name the extent. */
    w->committed =
        cf_db_begin(s->db) && cf_bs_commit_releasing(s, bs_page_apply_tx(s, w, &gone), &gone);
    return w->committed;
}

static bool bs_page_put_once(cf_blob_store *s, bs_page_put *w)
{
    w->changed = w->committed = false;
    CF_GUARD(BS_LOCKED(s, cf_db_read_begin(s->db) &&
                              cf_db_read_end(s->db, bs_page_prepare_reads(s, w))));
    CF_GUARD(bs_page_seal(s, w));
    if (BS_LOCKED(s, bs_page_apply_locked(s, w)))
        return true;
    /* Not committed (a commit whose sync failed stays: its rows name it). */
    if (w->stored && !w->committed) {
        struct cf_error_record *saved = cf_error_save();
        if (!cf_extent_store_remove(s->extents, w->id))
            cf_error_clear(); /* what stays, cleanup's walk removes */
        cf_error_restore(saved);
    }
    return false;
}

bool cf_blob_page_write(cf_blob_store *s, const char *account, const char *container,
                        const char *name, uint64_t offset, uint64_t length, const uint8_t *data,
                        const cf_blob_cond *cond, const cf_blob_seq_cond *seq, int64_t now,
                        cf_blob_write_result *out)
{
    CF_GUARD(cf_bs_check_names(account, container, name));
    CF_ENSURE_REASON(offset % CF_BLOB_PAGE_SIZE == 0 && length % CF_BLOB_PAGE_SIZE == 0 &&
                         length > 0,
                     CF_ERR_BAD_INPUT, "InvalidPageRange",
                     "The page range must start and end on a 512-byte boundary.");
    CF_ENSURE_REASON(length <= CF_BLOB_PAGE_MAX_WRITE, CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                     "A page write covers at most 4 MiB.");
    CF_ENSURE_REASON(offset <= CF_BLOB_PAGE_MAX_SIZE, CF_ERR_BAD_INPUT, "InvalidPageRange",
                     "The page range specified is invalid.");
    bs_page_put w = {account, container, name, offset, length, data, cond, seq, now, out};
    w.first = offset / CF_BLOB_PAGE_CHUNK;
    w.last = (offset + length - 1) / CF_BLOB_PAGE_CHUNK;
    w.plain[0] = cf_secret_alloc(CF_BLOB_PAGE_CHUNK);
    w.plain[1] = cf_secret_alloc(CF_BLOB_PAGE_CHUNK);
    w.key = cf_secret_alloc(CF_EXTENT_SCOPE_KEY_LEN);
    cf_buf_init(&w.sealed, BS_INLINE_STORED_MAX);
    cf_buf_init(&w.mem, BS_INLINE_STORED_MAX);
    bool ok = w.plain[0] && w.plain[1] && w.key;
    if (!ok)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    for (int i = 0; ok && i < BS_PAGE_TRIES; i++) {
        ok = bs_page_put_once(s, &w);
        if (ok || !w.changed)
            break;
        ok = i + 1 < BS_PAGE_TRIES; /* another round; the last failure stands */
        if (ok)
            cf_error_clear();
    }
    cf_bs_scope_free(&w.sc);
    for (int k = 0; k < 2; k++)
        cf_secret_free(w.plain[k], w.plain[k] ? CF_BLOB_PAGE_CHUNK : 0);
    cf_secret_free(w.key, w.key ? CF_EXTENT_SCOPE_KEY_LEN : 0);
    cf_buf_free(&w.sealed);
    cf_buf_free(&w.mem);
    return ok;
}

/* ---- Get Page Ranges ---- */

typedef struct {
    uint64_t lo, hi; /* the window asked about, clipped to the blob */
    unsigned max;
    cf_page_range_cb each;
    void *ctx;
    bool open; /* a range is being gathered: [first, end) */
    uint64_t first, end;
    unsigned emitted;
    uint64_t *next;
} bs_ranges;

/* Adds written bytes [from, to); false with *next set when the reply is
 * full and a new range would start. */
static bool bs_ranges_add(bs_ranges *g, uint64_t from, uint64_t to, bool *full)
{
    if (g->open && from == g->end) {
        g->end = to;
        return true;
    }
    if (g->open) {
        CF_GUARD(g->each(g->ctx, g->first, g->end - 1));
        g->emitted++;
        g->open = false;
    }
    if (g->emitted == g->max) {
        *g->next = from;
        *full = true;
        return true;
    }
    g->open = true;
    g->first = from;
    g->end = to;
    return true;
}

static bool bs_ranges_row(bs_ranges *g, int64_t seq, const uint8_t *pages, bool *full)
{
    uint64_t base = (uint64_t)seq * CF_BLOB_PAGE_CHUNK;
    for (unsigned i = 0; i < BS_PAGES_PER_CHUNK && !*full; i++) {
        if (!bs_page_bit(pages, i))
            continue;
        uint64_t from = base + (uint64_t)i * CF_BLOB_PAGE_SIZE, to = from + CF_BLOB_PAGE_SIZE;
        from = from > g->lo ? from : g->lo;
        to = to < g->hi ? to : g->hi;
        if (from < to)
            CF_GUARD(bs_ranges_add(g, from, to, full));
    }
    return true;
}

static bool bs_ranges_scan(cf_blob_store *s, const char *account, const char *container,
                           const char *name, bs_ranges *g)
{
    if (g->lo >= g->hi)
        return true;
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "SELECT " BS_CHUNK_COLUMNS " FROM blob_extents WHERE account = ?1"
                                " AND container = ?2 AND blob = ?3 AND seq >= ?4 AND seq <= ?5"
                                " ORDER BY seq LIMIT ?6",
                                account, container, name);
    CF_GUARD(st);
    cf_db_bind_int64(st, 4, (int64_t)(g->lo / CF_BLOB_PAGE_CHUNK));
    cf_db_bind_int64(st, 5, (int64_t)((g->hi - 1) / CF_BLOB_PAGE_CHUNK));
    cf_db_bind_int64(st, 6, BS_PAGE_SCAN_MAX);
    int rc = CF_DB_DONE;
    bool ok = true, full = false;
    unsigned rows = 0;
    int64_t seq = 0;
    bs_chunk_row row;
    while (ok && !full && (rc = cf_db_step(st)) == CF_DB_ROW) {
        rows++;
        ok = bs_chunk_row_read(st, 0, &seq, &row) && bs_ranges_row(g, seq, row.pages, &full);
    }
    if (ok && !full)
        ok = cf_db_ok(s->db, rc);
    cf_db_done(st);
    CF_GUARD(ok);
    /* The scan's budget ran out before the window's end: continue after it. */
    uint64_t scanned_to = ((uint64_t)seq + 1) * CF_BLOB_PAGE_CHUNK;
    if (!full && rows == BS_PAGE_SCAN_MAX && scanned_to < g->hi)
        *g->next = scanned_to;
    if (g->open) {
        CF_GUARD(g->each(g->ctx, g->first, g->end - 1));
        g->open = false;
    }
    return true;
}

typedef struct {
    const char *account, *container, *name;
    const cf_blob_page_ranges_req *req;
    const cf_blob_cond *cond;
    int64_t now;
    cf_blob_info *info;
    bs_ranges g;
} bs_page_list;

static bool bs_page_ranges_reads(cf_blob_store *s, bs_page_list *l)
{
    char etag[CF_BLOB_ETAG_LEN + 1];
    bs_target t;
    uint64_t size = 0;
    int64_t sequence = 0;
    CF_GUARD(cf_bs_blob_get_locked(s, l->account, l->container, l->name, l->now, false, l->info));
    CF_GUARD(bs_page_blob_check(s, l->account, l->container, l->name, l->cond, BS_OP_READ, false,
                                l->now, etag, &t, &size, &sequence));
    const cf_blob_page_ranges_req *req = l->req;
    CF_ENSURE_REASON(req->offset == 0 || req->offset < size, CF_ERR_BAD_INPUT, "InvalidRange",
                     "The range specified is invalid for the current size of the resource.");
    l->g.lo = req->marker > req->offset ? req->marker : req->offset;
    l->g.hi = req->length >= size - req->offset ? size : req->offset + req->length;
    return bs_ranges_scan(s, l->account, l->container, l->name, &l->g);
}

bool cf_blob_page_ranges(cf_blob_store *s, const char *account, const char *container,
                         const char *name, const cf_blob_page_ranges_req *req,
                         const cf_blob_cond *cond, int64_t now, cf_blob_info *info,
                         cf_page_range_cb each, void *ctx, uint64_t *next)
{
    memset(info, 0, sizeof *info);
    *next = 0;
    CF_GUARD(cf_bs_check_names(account, container, name));
    CF_ENSURE(req->max_results >= 1 && req->max_results <= CF_BLOB_PAGE_RANGES_MAX,
              CF_ERR_BAD_INPUT, "max_results out of range");
    bs_page_list l = {account, container, name, req, cond, now, info, {0}};
    l.g = (bs_ranges){.max = req->max_results, .each = each, .ctx = ctx, .next = next};
    return BS_LOCKED(s,
                     cf_db_read_begin(s->db) && cf_db_read_end(s->db, bs_page_ranges_reads(s, &l)));
}

/* ---- Resize and Set Sequence Number ---- */

typedef struct {
    const char *account, *container, *name;
    uint64_t size;
    cf_blob_seq_action action;
    int64_t value;
    bool resize; /* else a sequence number action */
    const cf_blob_cond *cond;
    int64_t now;
    cf_blob_write_result *out;
} bs_page_props;

/* Drops every page at or past `size`: rows past it, and the bits of the
 * chunk it ends in. */
static bool bs_page_truncate(cf_blob_store *s, const bs_page_props *p, bs_idlist *gone)
{
    uint64_t keep = bs_chunk_count(p->size);
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "SELECT extent FROM blob_extents WHERE account = ?1 AND"
                                " container = ?2 AND blob = ?3 AND seq >= ?4",
                                p->account, p->container, p->name);
    if (st)
        cf_db_bind_int64(st, 4, (int64_t)keep);
    CF_GUARD(cf_bs_collect(s, st, gone));
    st = CF_DB_PREP(s->db,
                    "DELETE FROM blob_extents WHERE account = ?1 AND container = ?2 AND"
                    " blob = ?3 AND seq >= ?4",
                    p->account, p->container, p->name);
    CF_GUARD(st);
    cf_db_bind_int64(st, 4, (int64_t)keep);
    CF_GUARD(cf_db_run(s->db, st));
    uint64_t tail = p->size % CF_BLOB_PAGE_CHUNK;
    if (tail == 0)
        return true;
    bs_chunk_row row;
    CF_GUARD(bs_chunk_load(s, p->account, p->container, p->name, keep - 1, &row));
    if (!row.found)
        return true;
    bs_page_bits(row.pages, (unsigned)(tail / CF_BLOB_PAGE_SIZE), BS_PAGES_PER_CHUNK, false);
    if (!bs_page_map_empty(row.pages))
        return bs_chunk_store(s, p->account, p->container, p->name, keep - 1, &row);
    CF_GUARD(bs_chunk_drop(s, p->account, p->container, p->name, keep - 1));
    return cf_bs_idlist_add(gone, row.id);
}

static bool bs_page_props_tx(cf_blob_store *s, const bs_page_props *p, bs_idlist *gone)
{
    char etag[CF_BLOB_ETAG_LEN + 1];
    bs_target t;
    uint64_t size = 0;
    int64_t sequence = 0;
    CF_GUARD(bs_page_blob_check(s, p->account, p->container, p->name, p->cond, BS_OP_WRITE, false,
                                p->now, etag, &t, &size, &sequence));
    if (p->resize) {
        if (p->size < size)
            CF_GUARD(bs_page_truncate(s, p, gone));
        cf_db_stmt *st = CF_DB_PREP(s->db,
                                    "UPDATE blobs SET size = ?4 WHERE account = ?1 AND"
                                    " container = ?2 AND name = ?3",
                                    p->account, p->container, p->name);
        CF_GUARD(st);
        cf_db_bind_int64(st, 4, (int64_t)p->size);
        CF_GUARD(cf_db_run(s->db, st));
    } else if (p->action == CF_SEQ_INCREMENT) {
        CF_ENSURE_REASON(sequence < INT64_MAX, CF_ERR_CONFLICT, "SequenceNumberIncrementTooLarge",
                         "The sequence number increment would exceed its maximum.");
        sequence++;
    } else if (p->action == CF_SEQ_UPDATE || p->value > sequence) {
        sequence = p->value;
    }
    return bs_page_touch(s, p->account, p->container, p->name, sequence, p->now, p->out);
}

static bool bs_page_props_locked(cf_blob_store *s, const bs_page_props *p)
{
    bs_idlist gone = {0};
    return cf_db_begin(s->db) && cf_bs_commit_releasing(s, bs_page_props_tx(s, p, &gone), &gone);
}

bool cf_blob_page_resize(cf_blob_store *s, const char *account, const char *container,
                         const char *name, uint64_t size, const cf_blob_cond *cond, int64_t now,
                         cf_blob_write_result *out)
{
    CF_GUARD(cf_bs_check_names(account, container, name));
    CF_GUARD(bs_page_size_ok(size));
    bs_page_props p = {account, container, name, size, CF_SEQ_MAX, 0, true, cond, now, out};
    return BS_LOCKED(s, bs_page_props_locked(s, &p));
}

bool cf_blob_page_sequence(cf_blob_store *s, const char *account, const char *container,
                           const char *name, cf_blob_seq_action action, int64_t value,
                           const cf_blob_cond *cond, int64_t now, cf_blob_write_result *out)
{
    CF_GUARD(cf_bs_check_names(account, container, name));
    CF_ENSURE_REASON(action == CF_SEQ_INCREMENT || value >= 0, CF_ERR_BAD_INPUT,
                     "InvalidHeaderValue", "x-ms-blob-sequence-number must be 0 or more.");
    bs_page_props p = {account, container, name, 0, action, value, false, cond, now, out};
    return BS_LOCKED(s, bs_page_props_locked(s, &p));
}

/* ---- the reader's plan ---- */

static bool bs_plan_zero(bs_piece *pieces, size_t *n, uint64_t from, uint64_t to)
{
    if (to > from)
        pieces[(*n)++] = (bs_piece){.length = (to - from) * CF_BLOB_PAGE_CHUNK, .zero = true};
    return true;
}

bool cf_bs_page_plan_locked(cf_blob_store *s, const char *account, const char *container,
                            const char *name, uint64_t size, uint64_t first, uint64_t until,
                            bs_piece **pieces, size_t *n)
{
    *n = 0;
    /* The chunks the read needs, none past the blob (a whole read's
     * `until` is UINT64_MAX), at most a window of them. */
    uint64_t end = bs_chunk_count(until < size ? until : size);
    if (first >= end)
        end = first;
    else if (end - first > BS_PAGE_WINDOW)
        end = first + BS_PAGE_WINDOW;
    /* Each chunk a piece at most, with a zero piece before each and one at the end. */
    *pieces = calloc(2 * (size_t)(end - first) + 1, sizeof **pieces);
    CF_ENSURE_ALLOC(*pieces);
    if (end == first)
        return true;
    cf_db_stmt *st =
        CF_DB_PREP(s->db,
                   "SELECT " BS_CHUNK_COLUMNS ", EXISTS (SELECT 1 FROM inline_extents i"
                   " WHERE i.id = blob_extents.extent) FROM blob_extents WHERE"
                   " account = ?1 AND container = ?2 AND blob = ?3 AND seq >= ?4 AND"
                   " seq < ?5 ORDER BY seq",
                   account, container, name);
    CF_GUARD(st);
    cf_db_bind_int64(st, 4, (int64_t)first);
    cf_db_bind_int64(st, 5, (int64_t)end);
    int rc = CF_DB_DONE;
    bool ok = true;
    uint64_t next = first;
    while (ok && (rc = cf_db_step(st)) == CF_DB_ROW) {
        int64_t seq;
        bs_chunk_row row;
        ok = bs_chunk_row_read(st, 0, &seq, &row) && bs_plan_zero(*pieces, n, next, (uint64_t)seq);
        if (!ok)
            break;
        bs_piece *p = &(*pieces)[(*n)++];
        *p = (bs_piece){.length = CF_BLOB_PAGE_CHUNK, .paged = true};
        memcpy(p->id, row.id, sizeof p->id);
        memcpy(p->pages, row.pages, sizeof p->pages);
        p->inl = cf_db_column_int(st, 5) != 0;
        p->ext_off = row.at;
        p->ext_len = row.ext_len;
        next = (uint64_t)seq + 1;
    }
    if (ok)
        ok = cf_db_ok(s->db, rc);
    cf_db_done(st);
    return ok && bs_plan_zero(*pieces, n, next, end);
}
