/*
 * The pull reader (Get Blob).  open() takes, under the store lock, one
 * consistent snapshot: the blob's info, its extent plan, the account's
 * scope key (unwrapped once per reader, not per call) and a pin on the
 * plan's extent ids, so that a delete or overwrite committed meanwhile
 * defers removing those extents until the reader is freed (see
 * cf_bs_remove_unreferenced; a pin holds in this process only: other front
 * ends' readers have the grace of blob_store_shared.c).  read() then runs
 * outside the lock, reading the extent store (extent_store.h) through
 * cf_extent_store_source.
 *
 * Decryption goes through cf_extent_read a run of whole segments at a time:
 * straight into the caller's buffer when it can take the rest of the
 * current segment, else one segment into a staging buffer (secret memory,
 * wiped) from which later calls are served.  Memory: one segment.
 * Each extent's stored length is checked against the metadata when the
 * reader reaches it, which catches truncation at a segment boundary.
 *
 * Inline extents (small ones kept in the database) are read from a copy in
 * memory (at most BS_INLINE_STORED_MAX bytes): the one the range starts in is
 * copied in the snapshot itself, any later one when the reader reaches it,
 * under the lock.  The pin keeps those rows from being deleted meanwhile,
 * exactly as it keeps stored extents from being removed.
 */
#include "blob_store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secmem.h"

struct cf_blob_reader {
    cf_blob_store *s;
    bs_scope sc;
    bs_piece *pieces;
    size_t n;
    bs_pin pin;
    bool pinned, failed;
    uint64_t offset, length, pos; /* the clipped range; bytes handed out */
    /* The extent being read. */
    size_t idx;
    uint64_t ext_start;         /* blob offset of pieces[idx] */
    cf_extent_store_reader *xr; /* pieces[idx] in the extent store, or NULL */
    bool opened;
    cf_buf mem;     /* an inline extent's sealed bytes */
    size_t mem_idx; /* the piece `mem` holds; SIZE_MAX = none */
    cf_extent_source src;
    bs_opened ext; /* pieces[idx] opened: its layers, header, length */
    uint8_t *key;  /* secret, CF_EXTENT_SCOPE_KEY_LEN: pieces[idx]'s scope key */
    /* A page blob's reader plans a window of chunks at a time
     * (BS_PAGE_WINDOW) and takes the next when it gets there: it keeps the
     * blob's name and what its key depends on, to check it is still the
     * blob it started reading. */
    bool paged;
    char *account, *container, *name;
    char cpk[CF_BLOB_CPK_SHA_LEN + 1];
    char scope[CF_BLOB_SCOPE_MAX + 1];
    /* Staged plaintext (secret, seg bytes). */
    uint8_t *stage;
    size_t stage_cap, stage_len, stage_off;
};

static bool bs_mem_read_at(void *ctx, uint64_t off, uint8_t *buf, size_t len)
{
    const cf_buf *m = ctx;
    CF_ENSURE(off <= m->len && len <= m->len - off, CF_ERR_DECRYPT, "read past an inline extent");
    memcpy(buf, m->data + off, len);
    return true;
}

cf_extent_source cf_bs_mem_source(const cf_buf *sealed)
{
    return (cf_extent_source){bs_mem_read_at, (void *)sealed, sealed->len};
}

bool cf_bs_extent_open(const bs_scope *sc, const char *id, const cf_extent_source *src,
                       uint8_t *key, bs_opened *o)
{
    cf_extent_layer_free(o->layer);
    *o = (bs_opened){.data = src};
    /* A short header is damage, like any other length mismatch. */
    CF_ENSURE(src->length >= CF_EXTENT_HEADER_LEN, CF_ERR_DECRYPT, "extent truncated");
    if (sc->infra) { /* the outer layer first; a holder with it refuses extents without */
        CF_GUARD(cf_bs_infra_extent_key(sc, id, key));
        CF_GUARD(cf_extent_layer_open(cf_slice_of(key, CF_EXTENT_SCOPE_KEY_LEN), src, &o->layer));
        o->inner = cf_extent_layer_source(o->layer);
        o->data = &o->inner;
        CF_ENSURE(o->inner.length >= CF_EXTENT_HEADER_LEN, CF_ERR_DECRYPT, "extent truncated");
    }
    cf_extent_header h;
    CF_GUARD(cf_extent_read_header(o->data, &h));
    CF_ENSURE(h.cipher == CF_EXTENT_CIPHER_AES256_GCM_HKDF, CF_ERR_DECRYPT,
              "an infrastructure layer where none belongs");
    CF_GUARD(cf_extent_plaintext_length(&h, o->data->length, &o->plain));
    o->seg = h.segment_size;
    return cf_bs_extent_key(sc, id, key);
}

/* ---- open ---- */

/* Copies the inline extent the range starts in, if it is one. */
static bool bs_reader_prefetch_locked(cf_blob_store *s, cf_blob_reader *r, uint64_t offset)
{
    uint64_t start = r->ext_start;
    for (size_t i = 0; i < r->n; i++) {
        if (offset < start + r->pieces[i].length) {
            if (!r->pieces[i].inl)
                return true;
            CF_GUARD(cf_bs_inline_get_locked(s, r->pieces[i].id, &r->mem));
            r->mem_idx = i;
            return true;
        }
        start += r->pieces[i].length;
    }
    return true;
}

/* Holds the plan's extents (the previous window's, if any, are let go)
 * and copies the inline one `offset` lies in. */
static bool bs_reader_hold_locked(cf_blob_store *s, cf_blob_reader *r, uint64_t offset)
{
    bs_idlist ids = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < r->n; i++)
        ok = r->pieces[i].zero || cf_bs_idlist_add(&ids, r->pieces[i].id);
    if (!ok) {
        cf_bs_idlist_free(&ids);
        return false;
    }
    if (r->pinned)
        cf_bs_unpin_locked(s, &r->pin);
    cf_bs_idlist_free(&r->pin.ids);
    r->pin.ids = ids;
    cf_bs_pin_locked(s, &r->pin);
    r->pinned = true;
    r->mem_idx = SIZE_MAX;
    return bs_reader_prefetch_locked(s, r, offset);
}

/* A page blob's reader remembers which blob it reads (see the struct). */
static bool bs_reader_paged(cf_blob_reader *r, const char *account, const char *container,
                            const char *name, const bs_target *t)
{
    r->paged = true;
    r->account = strdup(account);
    r->container = strdup(container);
    r->name = strdup(name);
    CF_ENSURE(r->account && r->container && r->name, CF_ERR_NOMEM, NULL);
    snprintf(r->cpk, sizeof r->cpk, "%s", t->cpk);
    snprintf(r->scope, sizeof r->scope, "%s", t->scope);
    return true;
}

static bool bs_reader_snapshot_reads(cf_blob_store *s, const char *account, const char *container,
                                     const char *name, uint64_t offset, const cf_blob_cond *cond,
                                     int64_t now, cf_blob_info *info, cf_blob_reader *r)
{
    char etag[CF_BLOB_ETAG_LEN + 1];
    bs_target t;
    CF_GUARD(cf_bs_blob_read_locked(s, account, container, name, now, true, info, etag, &t));
    CF_GUARD(cf_bs_check_cond(cond, &t, BS_OP_READ, false, now));
    CF_GUARD(cf_bs_scope_for_locked(s, account, cond, &t, &r->sc));
    if (info->type == CF_BLOB_PAGE) {
        uint64_t first = offset / CF_BLOB_PAGE_CHUNK;
        r->ext_start = first * CF_BLOB_PAGE_CHUNK;
        CF_GUARD(bs_reader_paged(r, account, container, name, &t));
        uint64_t until = r->length > UINT64_MAX - offset ? UINT64_MAX : offset + r->length;
        CF_GUARD(cf_bs_page_plan_locked(s, account, container, name, info->size, first, until,
                                        &r->pieces, &r->n));
    } else {
        CF_GUARD(cf_bs_blob_plan_locked(s, account, container, name, info->n_extents, &r->pieces,
                                        &r->n));
    }
    return bs_reader_hold_locked(s, r, offset);
}

/* A page blob's next window, from r->ext_start: the blob must still be
 * the page blob under the key the reader holds. */
static bool bs_reader_window_reads(cf_blob_store *s, cf_blob_reader *r)
{
    char etag[CF_BLOB_ETAG_LEN + 1];
    bs_target t;
    cf_blob_type type = CF_BLOB_BLOCK;
    CF_GUARD(cf_bs_blob_target(s, r->account, r->container, r->name, etag, &t, &type));
    CF_ENSURE(t.exists && type == CF_BLOB_PAGE && strcmp(t.cpk, r->cpk) == 0 &&
                  strcmp(t.scope, r->scope) == 0,
              CF_ERR_CONFLICT, "the blob was replaced during the read");
    free(r->pieces);
    r->pieces = NULL;
    r->n = r->idx = 0;
    CF_GUARD(cf_bs_page_plan_locked(s, r->account, r->container, r->name, t.size,
                                    r->ext_start / CF_BLOB_PAGE_CHUNK, r->offset + r->length,
                                    &r->pieces, &r->n));
    CF_ENSURE(r->n > 0, CF_ERR_CONFLICT, "the blob shrank during the read");
    return bs_reader_hold_locked(s, r, r->ext_start);
}

static bool bs_reader_next_window(cf_blob_reader *r)
{
    cf_blob_store *s = r->s;
    return BS_LOCKED(s, cf_db_read_begin(s->db) &&
                            cf_db_read_end(s->db, bs_reader_window_reads(s, r)));
}

static bool bs_reader_snapshot_locked(cf_blob_store *s, const char *account, const char *container,
                                      const char *name, uint64_t offset, const cf_blob_cond *cond,
                                      int64_t now, cf_blob_info *info, cf_blob_reader *r)
{
    CF_GUARD(cf_db_read_begin(s->db));
    return cf_db_read_end(
        s->db, bs_reader_snapshot_reads(s, account, container, name, offset, cond, now, info, r));
}

void cf_blob_reader_free(cf_blob_reader *r)
{
    if (!r)
        return;
    if (r->pinned && !cf_bs_unpin_quick(r->s, &r->pin)) {
        /* Removals that waited for this reader happen now, as after a
         * commit (BS_LOCKED): decided under the lock, done outside it. */
        pthread_mutex_lock(&r->s->lock);
        cf_bs_unpin_locked(r->s, &r->pin);
        uint64_t seen = cf_db_commits(r->s->db);
        bs_idlist due = r->s->due;
        r->s->due = (bs_idlist){0};
        pthread_mutex_unlock(&r->s->lock);
        cf_bs_remove_due(r->s, seen, &due);
    }
    cf_bs_idlist_free(&r->pin.ids);
    cf_extent_layer_free(r->ext.layer);
    free(r->account);
    free(r->container);
    free(r->name);
    cf_extent_store_reader_close(r->xr);
    cf_buf_free(&r->mem);
    cf_secret_free(r->key, CF_EXTENT_SCOPE_KEY_LEN);
    cf_secret_free(r->stage, r->stage_cap);
    cf_bs_scope_free(&r->sc);
    free(r->pieces);
    free(r);
}

bool cf_blob_reader_open(cf_blob_store *s, const char *account, const char *container,
                         const char *name, uint64_t offset, uint64_t length,
                         const cf_blob_cond *cond, int64_t now, cf_blob_info *info,
                         cf_blob_reader **out)
{
    memset(info, 0, sizeof *info);
    CF_GUARD(cf_bs_check_names(account, container, name));
    cf_blob_reader *r = calloc(1, sizeof *r);
    CF_ENSURE_ALLOC(r);
    r->s = s;
    cf_buf_init(&r->mem, BS_INLINE_STORED_MAX);
    r->mem_idx = SIZE_MAX;
    r->key = cf_secret_alloc(CF_EXTENT_SCOPE_KEY_LEN);
    bool ok = r->key != NULL;
    if (!ok)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    r->length = length; /* as asked: a page blob plans only what the read needs */
    ok = ok && BS_LOCKED(s, bs_reader_snapshot_locked(s, account, container, name, offset, cond,
                                                      now, info, r));
    if (ok && offset > 0 && offset >= info->size) {
        CF_RAISE_REASON(CF_ERR_BAD_INPUT, "InvalidRange", "the range starts past the end");
        ok = false;
    }
    if (!ok) {
        cf_blob_reader_free(r);
        return false;
    }
    r->offset = offset;
    r->length = length > info->size - offset ? info->size - offset : length;
    *out = r;
    return true;
}

void cf_blob_reader_range(const cf_blob_reader *r, uint64_t *offset, uint64_t *length)
{
    *offset = r->offset;
    *length = r->length;
}

/* ---- read ---- */

/* The source of pieces[idx]: the extent store's, or its inline bytes (fetched
 * under the lock unless the snapshot already holds them; the pin keeps the
 * row, and a plain lock suffices: nothing new is read that a crash could
 * take back). */
static bool bs_reader_source(cf_blob_reader *r, const bs_piece *p)
{
    if (p->inl) {
        if (r->mem_idx != r->idx) {
            r->mem_idx = SIZE_MAX;
            pthread_mutex_lock(&r->s->lock);
            bool ok = cf_bs_inline_get_locked(r->s, p->id, &r->mem);
            pthread_mutex_unlock(&r->s->lock);
            CF_GUARD(ok);
            r->mem_idx = r->idx;
        }
        r->src = cf_bs_mem_source(&r->mem);
        return true;
    }
    cf_extent_store_reader_close(r->xr);
    r->xr = NULL;
    /* Metadata names it, so a missing extent is damage (or, with files on
     * several front ends, another front end's), never a missing blob. */
    CF_ENSURE_FOUND(cf_extent_store_reader_open(r->s->extents, p->id, &r->xr), CF_ERR_IO,
                    "an extent of the blob is missing");
    r->src = cf_extent_store_source(r->xr);
    return true;
}

/* Opens pieces[idx]: the stored or inline bytes, its header, its length
 * against the metadata, and its key. */
static bool bs_reader_open_extent(cf_blob_reader *r)
{
    const bs_piece *p = &r->pieces[r->idx];
    CF_ENSURE(strlen(p->id) == BS_ID_HEX, CF_ERR_DB, "malformed extent id in metadata");
    CF_GUARD(bs_reader_source(r, p));
    CF_GUARD(cf_bs_extent_open(&r->sc, p->id, &r->src, r->key, &r->ext));
    CF_ENSURE(r->ext.plain == p->ext_len, CF_ERR_DECRYPT,
              "extent length does not match the metadata");
    r->opened = true;
    return true;
}

typedef struct {
    uint8_t *dst;
    size_t len, cap;
} bs_copy_sink;

static bool bs_copy_out(void *ctx, cf_slice bytes)
{
    bs_copy_sink *c = ctx;
    CF_ENSURE(bytes.len <= c->cap - c->len, CF_ERR_INTERNAL, "extent read overran its range");
    memcpy(c->dst + c->len, bytes.ptr, bytes.len);
    c->len += bytes.len;
    return true;
}

/* Decrypts [eo, eo + len) of the current extent into dst. */
static bool bs_reader_decrypt(cf_blob_reader *r, uint64_t eo, size_t len, uint8_t *dst)
{
    bs_copy_sink c = {dst, 0, len};
    const bs_piece *p = &r->pieces[r->idx];
    CF_GUARD(cf_extent_read(cf_slice_of(r->key, CF_EXTENT_SCOPE_KEY_LEN), r->ext.data,
                            eo + p->ext_off, len, (cf_extent_sink){bs_copy_out, &c}));
    CF_ENSURE(c.len == len, CF_ERR_INTERNAL, "extent read came up short");
    cf_bs_page_mask(p, eo, dst, len);
    return true;
}

/* Positions on the extent holding blob offset `abs`, opening it. */
static bool bs_reader_seek(cf_blob_reader *r, uint64_t abs)
{
    for (;;) {
        while (r->idx < r->n && abs >= r->ext_start + r->pieces[r->idx].length) {
            r->ext_start += r->pieces[r->idx].length;
            r->idx++;
            /* A page blob's chunks written by one call share an extent: it
             * stays open from one to the next. */
            if (r->opened && r->idx < r->n &&
                strcmp(r->pieces[r->idx].id, r->pieces[r->idx - 1].id) == 0) {
                r->mem_idx = r->mem_idx == r->idx - 1 ? r->idx : r->mem_idx;
                continue;
            }
            cf_extent_store_reader_close(r->xr);
            r->xr = NULL;
            r->opened = false;
        }
        if (r->idx < r->n || !r->paged)
            break;
        CF_GUARD(bs_reader_next_window(r));
    }
    CF_ENSURE(r->idx < r->n, CF_ERR_DB, "the extent plan is shorter than the blob");
    if (!r->opened && !r->pieces[r->idx].zero)
        CF_GUARD(bs_reader_open_extent(r));
    return true;
}

static bool bs_reader_step(cf_blob_reader *r, uint8_t *buf, size_t cap, size_t *got)
{
    if (r->stage_off < r->stage_len) {
        size_t k = r->stage_len - r->stage_off < cap ? r->stage_len - r->stage_off : cap;
        memcpy(buf, r->stage + r->stage_off, k);
        r->stage_off += k;
        *got = k;
        return true;
    }
    uint64_t abs = r->offset + r->pos;
    CF_GUARD(bs_reader_seek(r, abs));
    uint64_t eo = abs - r->ext_start;
    uint64_t ext_rem = r->pieces[r->idx].length - eo;
    if (ext_rem > r->length - r->pos)
        ext_rem = r->length - r->pos;
    if (r->pieces[r->idx].zero) { /* a page blob's unwritten chunks */
        *got = (size_t)(cap < ext_rem ? cap : ext_rem);
        memset(buf, 0, *got);
        return true;
    }
    uint64_t seg_rem = r->ext.seg - eo % r->ext.seg;
    if (seg_rem > ext_rem)
        seg_rem = ext_rem;
    if (cap >= seg_rem) {
        /* Whole segments straight into the caller's buffer. */
        uint64_t want = cap < ext_rem ? cap : ext_rem;
        if (want < ext_rem)
            want = (eo + want) / r->ext.seg * r->ext.seg - eo;
        CF_GUARD(bs_reader_decrypt(r, eo, (size_t)want, buf));
        *got = (size_t)want;
        return true;
    }
    /* The staging segment exists only for callers reading less than a
     * segment at a time; most never need it. */
    if (r->stage_cap < seg_rem) {
        cf_secret_free(r->stage, r->stage_cap);
        r->stage_cap = 0;
        r->stage = cf_secret_alloc(r->ext.seg);
        CF_ENSURE_ALLOC(r->stage);
        r->stage_cap = r->ext.seg;
    }
    CF_GUARD(bs_reader_decrypt(r, eo, (size_t)seg_rem, r->stage));
    r->stage_len = (size_t)seg_rem;
    memcpy(buf, r->stage, cap);
    r->stage_off = cap;
    *got = cap;
    return true;
}

bool cf_blob_reader_read(cf_blob_reader *r, uint8_t *buf, size_t cap, size_t *got)
{
    *got = 0;
    CF_ENSURE(!r->failed, CF_ERR_OPERATION, "reader failed");
    if (r->pos == r->length || cap == 0)
        return true;
    if (!bs_reader_step(r, buf, cap, got)) {
        r->failed = true;
        return false;
    }
    r->pos += *got;
    if (r->stage_off == r->stage_len) {
        cf_memzero(r->stage, r->stage_len);
        r->stage_len = r->stage_off = 0;
    }
    return true;
}

/* ---- push-style read over the reader ---- */

bool cf_blob_read(cf_blob_store *s, const char *account, const char *container, const char *name,
                  uint64_t offset, uint64_t length, cf_extent_sink sink)
{
    cf_blob_info info;
    cf_blob_reader *r = NULL;
    /* An empty range at the very end is valid here (the HTTP layer clips). */
    bool ok = cf_blob_reader_open(s, account, container, name, length ? offset : 0,
                                  length ? length : 0, NULL, 0, &info, &r);
    if (ok && (offset > info.size || length > info.size - offset || r->length != length)) {
        CF_RAISE(CF_ERR_BAD_INPUT, "range outside the blob");
        ok = false;
    }
    cf_blob_info_free(&info);
    const size_t cap = 256 * 1024;
    uint8_t *buf = ok ? cf_secret_alloc(cap) : NULL;
    if (ok && !buf) {
        CF_RAISE(CF_ERR_NOMEM, NULL);
        ok = false;
    }
    size_t got = 1;
    while (ok && got) {
        ok = cf_blob_reader_read(r, buf, cap, &got);
        if (ok && got)
            ok = sink.write(sink.ctx, cf_slice_of(buf, got));
    }
    cf_secret_free(buf, buf ? cap : 0);
    cf_blob_reader_free(r);
    return ok;
}
