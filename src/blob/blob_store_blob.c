/*
 * Blobs as metadata: get, delete, Set Blob Properties / Metadata, Lease
 * Blob and Copy Blob, plus the row helpers the writers share.  Copy is
 * metadata-only: the destination's blob_extents rows name the source's
 * extents (in the extent store or inline rows), which stay until no row
 * names them (see
 * cf_bs_drop_inline_tx, cf_bs_remove_unreferenced); the extent-id key
 * binding holds because the ids do not change.
 */
#include "blob_store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "json_secure.h"

void cf_blob_info_free(cf_blob_info *b)
{
    json_decref(b->props);
    json_decref(b->metadata);
    free(b->copy.source);
    b->props = b->metadata = NULL;
    b->copy.source = NULL;
}

/* ---- rows ---- */

static bool bs_read_copy(cf_blob_store *s, cf_db_stmt *st, int col, bs_row row,
                         cf_blob_copy_info *out)
{
    if (cf_db_column_is_null(st, col))
        return true; /* not a copy destination */
    json_t *j;
    CF_GUARD(cf_bs_column_open_json(s, st, col, row, "blobs.copy", &j));
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *status = json_string_value(json_object_get(j, "status"));
    const char *progress = json_string_value(json_object_get(j, "progress"));
    const char *source = json_string_value(json_object_get(j, "source"));
    snprintf(out->id, sizeof out->id, "%s", id ? id : "");
    snprintf(out->status, sizeof out->status, "%s", status ? status : "");
    snprintf(out->progress, sizeof out->progress, "%s", progress ? progress : "");
    out->completion_time = json_integer_value(json_object_get(j, "completion"));
    out->source = strdup(source ? source : "");
    json_decref(j);
    CF_ENSURE_ALLOC(out->source);
    return true;
}

bool cf_bs_read_blob_row(cf_blob_store *s, const char *account, const char *container,
                         cf_db_stmt *st, bool with_meta, int64_t now, cf_blob_info *out)
{
    memset(out, 0, sizeof *out);
    cf_bs_column_str(st, 0, out->name, sizeof out->name);
    out->type = (cf_blob_type)cf_db_column_int(st, 1);
    out->size = (uint64_t)cf_db_column_int64(st, 2);
    cf_bs_column_str(st, 3, out->etag, sizeof out->etag);
    out->created = cf_db_column_int64(st, 4);
    out->last_modified = cf_db_column_int64(st, 5);
    bs_lease l;
    cf_bs_column_lease(st, 8, &l);
    cf_bs_lease_info(&l, now, &out->lease);
    out->n_extents = (size_t)cf_db_column_int64(st, 13);
    out->committed_blocks = out->type == CF_BLOB_APPEND ? (uint32_t)out->n_extents : 0;
    cf_bs_column_str(st, 14, out->scope, sizeof out->scope);
    out->cpk = !cf_db_column_is_null(st, 15);
    out->sequence = cf_db_column_int64(st, 16);
    /* The AAD names the row as stored: the name column, not the caller's. */
    bs_row row = {account, container, out->name};
    bool ok = cf_bs_column_open_json(s, st, 6, row, "blobs.props", &out->props) &&
              (with_meta ? cf_bs_column_open_json(s, st, 7, row, "blobs.metadata", &out->metadata)
                         : (out->metadata = json_object()) != NULL) &&
              bs_read_copy(s, st, 12, row, &out->copy);
    if (!ok)
        cf_blob_info_free(out);
    return ok;
}

/* Where a query puts the columns of a blobs row that make a bs_target. */
typedef struct {
    int etag, last_modified, lease, type, cpk, scope, size, sequence;
} bs_target_cols;

static const bs_target_cols bs_target_query_cols = {0, 1, 2, 6, 7, 8, 9, 10};
static const bs_target_cols bs_blob_columns_cols = {3,  5,  8, 1,
                                                    15, 14, 2, 16}; /* BS_BLOB_COLUMNS */

static void bs_target_of_row(cf_db_stmt *st, const bs_target_cols *c,
                             char etag[CF_BLOB_ETAG_LEN + 1], bs_target *t, cf_blob_type *type)
{
    memset(t, 0, sizeof *t);
    t->etag = etag;
    t->exists = true;
    cf_bs_column_str(st, c->etag, etag, CF_BLOB_ETAG_LEN + 1);
    t->last_modified = cf_db_column_int64(st, c->last_modified);
    cf_bs_column_lease(st, c->lease, &t->lease);
    if (type)
        *type = (cf_blob_type)cf_db_column_int(st, c->type);
    cf_bs_column_str(st, c->cpk, t->cpk, sizeof t->cpk);
    cf_bs_column_str(st, c->scope, t->scope, sizeof t->scope);
    t->size = (uint64_t)cf_db_column_int64(st, c->size);
    t->sequence = cf_db_column_int64(st, c->sequence);
}

bool cf_bs_blob_read_locked(cf_blob_store *s, const char *account, const char *container,
                            const char *name, int64_t now, bool with_meta, cf_blob_info *out,
                            char etag[CF_BLOB_ETAG_LEN + 1], bs_target *t)
{
    /* The container is looked up only to name what is missing: deleting a
     * container deletes its blobs in the same transaction, so a blob row
     * means a container row (one query fewer per read). */
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "SELECT " BS_BLOB_COLUMNS " FROM blobs WHERE account = ?1 AND"
                                " container = ?2 AND name = ?3",
                                account, container, name);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    bool ok =
        rc == CF_DB_ROW && cf_bs_read_blob_row(s, account, container, st, with_meta, now, out);
    if (ok && t)
        bs_target_of_row(st, &bs_blob_columns_cols, etag, t, NULL);
    cf_db_done(st);
    if (rc == CF_DB_DONE)
        CF_GUARD(cf_bs_container_exists(s, account, container));
    CF_ENSURE_REASON(rc != CF_DB_DONE, CF_ERR_NOT_FOUND, "BlobNotFound", "no such blob");
    CF_GUARD(cf_db_ok(s->db, rc));
    return ok;
}

bool cf_bs_blob_get_locked(cf_blob_store *s, const char *account, const char *container,
                           const char *name, int64_t now, bool with_meta, cf_blob_info *out)
{
    return cf_bs_blob_read_locked(s, account, container, name, now, with_meta, out, NULL, NULL);
}

bool cf_bs_blob_target(cf_blob_store *s, const char *account, const char *container,
                       const char *name, char etag[CF_BLOB_ETAG_LEN + 1], bs_target *t,
                       cf_blob_type *type)
{
    cf_db_stmt *st =
        CF_DB_PREP(s->db,
                   "SELECT etag, last_modified, lease_id, lease_duration, lease_expiry,"
                   " lease_break, type, cpk, scope, size, sequence FROM blobs WHERE"
                   " account = ?1 AND container = ?2 AND name = ?3",
                   account, container, name);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    if (rc == CF_DB_ROW) {
        bs_target_of_row(st, &bs_target_query_cols, etag, t, type);
    } else {
        memset(t, 0, sizeof *t);
        etag[0] = '\0';
        t->etag = etag;
    }
    bool ok = cf_db_ok(s->db, rc);
    cf_db_done(st);
    return ok;
}

bool cf_bs_blob_write_check(cf_blob_store *s, const char *account, const char *container,
                            const char *name, const cf_blob_cond *cond, bs_op op, int64_t now,
                            bool *exists, cf_blob_type *type)
{
    CF_GUARD(cf_bs_container_exists(s, account, container));
    char etag[CF_BLOB_ETAG_LEN + 1];
    bs_target t;
    cf_blob_type ty = CF_BLOB_BLOCK;
    CF_GUARD(cf_bs_blob_target(s, account, container, name, etag, &t, &ty));
    if (exists)
        *exists = t.exists;
    if (type)
        *type = ty;
    CF_ENSURE_REASON(t.exists || op == BS_OP_CREATE, CF_ERR_NOT_FOUND, "BlobNotFound",
                     "no such blob");
    CF_GUARD(cf_bs_check_cond(cond, &t, op, false, now));
    if (t.exists && op != BS_OP_LEASE && cf_bs_lease_state(&t.lease, now) == CF_LEASE_EXPIRED)
        return cf_db_run(s->db,
                         CF_DB_PREP(s->db,
                                    "UPDATE blobs SET lease_id = NULL, lease_duration = 0,"
                                    " lease_expiry = 0, lease_break = 0 WHERE account = ?1 AND"
                                    " container = ?2 AND name = ?3",
                                    account, container, name));
    return true;
}

bool cf_bs_blob_clear(cf_blob_store *s, const char *account, const char *container,
                      const char *name, bool with_row, bs_idlist *gone)
{
    CF_GUARD(cf_bs_collect(s,
                           CF_DB_PREP(s->db,
                                      "SELECT extent FROM blob_extents WHERE account = ?1 AND"
                                      " container = ?2 AND blob = ?3 UNION SELECT extent FROM"
                                      " uncommitted WHERE account = ?1 AND container = ?2 AND"
                                      " blob = ?3",
                                      account, container, name),
                           gone));
    CF_GUARD(
        cf_db_run(s->db, CF_DB_PREP(s->db,
                                    "DELETE FROM blob_extents WHERE account = ?1 AND container = ?2"
                                    " AND blob = ?3",
                                    account, container, name)));
    CF_GUARD(
        cf_db_run(s->db, CF_DB_PREP(s->db,
                                    "DELETE FROM uncommitted WHERE account = ?1 AND container = ?2"
                                    " AND blob = ?3",
                                    account, container, name)));
    if (!with_row)
        return true;
    return cf_db_run(s->db, CF_DB_PREP(s->db,
                                       "DELETE FROM blobs WHERE account = ?1 AND container = ?2 AND"
                                       " name = ?3",
                                       account, container, name));
}

bool cf_bs_blob_upsert(cf_blob_store *s, const char *account, const char *container,
                       const char *name, cf_blob_type type, uint64_t size, const char *props,
                       const char *meta, const char *cpk, const char *scope, int64_t now,
                       char etag[CF_BLOB_ETAG_LEN + 1])
{
    CF_GUARD(cf_bs_new_etag(etag));
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "INSERT INTO blobs (account, container, name, type, size, etag,"
                                " created, last_modified, props, metadata, cpk, scope)"
                                " VALUES (?1, ?2, ?3, ?9, ?4, ?5, ?6, ?6, ?7, ?8, ?10, ?11)"
                                " ON CONFLICT (account, container, name) DO UPDATE SET"
                                " type = ?9, size = ?4, etag = ?5, last_modified = ?6,"
                                " props = ?7, metadata = ?8, copy = NULL, cpk = ?10, scope = ?11",
                                account, container, name, NULL, etag, NULL, NULL, NULL, NULL,
                                cpk && cpk[0] ? cpk : NULL, scope && scope[0] ? scope : NULL);
    bs_row row = {account, container, name};
    CF_GUARD(cf_bs_bind_sealed(s, st, 7, row, "blobs.props", CF_SLICE_STR(props)));
    CF_GUARD(cf_bs_bind_sealed(s, st, 8, row, "blobs.metadata", CF_SLICE_STR(meta)));
    cf_db_bind_int64(st, 4, (int64_t)size);
    cf_db_bind_int64(st, 6, now);
    cf_db_bind_int64(st, 9, (int)type);
    return cf_db_run(s->db, st);
}

bool cf_bs_insert_extent_row(cf_blob_store *s, const char *account, const char *container,
                             const char *name, int64_t seq, const char *id, uint64_t length,
                             cf_slice block_id)
{
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "INSERT INTO blob_extents (account, container, blob, seq, extent,"
                                " length, block_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                account, container, name, NULL, id);
    CF_GUARD(st);
    cf_db_bind_int64(st, 4, seq);
    cf_db_bind_int64(st, 6, (int64_t)length);
    if (block_id.len)
        cf_db_bind_blob(st, 7, block_id.ptr, block_id.len);
    return cf_db_run(s->db, st);
}

bool cf_bs_blob_plan_locked(cf_blob_store *s, const char *account, const char *container,
                            const char *name, size_t n_extents, bs_piece **pieces, size_t *n)
{
    *n = 0;
    *pieces = calloc(n_extents ? n_extents : 1, sizeof **pieces);
    CF_ENSURE_ALLOC(*pieces);
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "SELECT extent, length, EXISTS (SELECT 1 FROM inline_extents i"
                                " WHERE i.id = blob_extents.extent) FROM blob_extents WHERE"
                                " account = ?1 AND container = ?2 AND blob = ?3 ORDER BY seq",
                                account, container, name);
    CF_GUARD(st);
    int rc = CF_DB_DONE;
    while ((rc = cf_db_step(st)) == CF_DB_ROW && *n < n_extents) {
        cf_bs_column_str(st, 0, (*pieces)[*n].id, BS_ID_HEX + 1);
        (*pieces)[*n].length = (uint64_t)cf_db_column_int64(st, 1);
        (*pieces)[*n].ext_len = (*pieces)[*n].length; /* the whole extent, from its start */
        (*pieces)[*n].inl = cf_db_column_int(st, 2) != 0;
        (*n)++;
    }
    bool ok = cf_db_ok(s->db, rc);
    cf_db_done(st);
    return ok;
}

/* ---- get ---- */

static bool bs_blob_get_cond_locked(cf_blob_store *s, const char *account, const char *container,
                                    const char *name, const cf_blob_cond *cond, int64_t now,
                                    cf_blob_info *out)
{
    /* Conditions see the stored lease, not the rendered view (lease id). */
    char etag[CF_BLOB_ETAG_LEN + 1];
    bs_target stored;
    CF_GUARD(cf_bs_blob_read_locked(s, account, container, name, now, true, out, etag, &stored));
    CF_GUARD(cf_bs_check_cond(cond, &stored, BS_OP_READ, false, now));
    CF_GUARD(cf_bs_check_cpk(cond, stored.cpk));
    return cf_bs_scope_usable_locked(s, account, stored.scope);
}

bool cf_blob_get(cf_blob_store *s, const char *account, const char *container, const char *name,
                 const cf_blob_cond *cond, int64_t now, cf_blob_info *out)
{
    memset(out, 0, sizeof *out);
    CF_GUARD(cf_bs_check_names(account, container, name));
    return BS_LOCKED(s, bs_blob_get_cond_locked(s, account, container, name, cond, now, out));
}

/* ---- delete ---- */

typedef struct {
    const char *account, *container, *name;
    const cf_blob_cond *cond;
    int64_t now;
    char etag[CF_BLOB_ETAG_LEN + 1];
} bs_bwrite;

static bool bs_blob_delete_tx(cf_blob_store *s, bs_bwrite *w, bs_idlist *gone)
{
    CF_GUARD(cf_bs_blob_write_check(s, w->account, w->container, w->name, w->cond, BS_OP_WRITE,
                                    w->now, NULL, NULL));
    return cf_bs_blob_clear(s, w->account, w->container, w->name, true, gone);
}

static bool bs_blob_delete_locked(cf_blob_store *s, bs_bwrite *w)
{
    bs_idlist gone = {0};
    return cf_db_begin(s->db) && cf_bs_commit_releasing(s, bs_blob_delete_tx(s, w, &gone), &gone);
}

bool cf_blob_delete(cf_blob_store *s, const char *account, const char *container, const char *name,
                    const cf_blob_cond *cond, int64_t now)
{
    CF_GUARD(cf_bs_check_names(account, container, name));
    bs_bwrite w = {account, container, name, cond, now, ""};
    return BS_LOCKED(s, bs_blob_delete_locked(s, &w));
}

/* ---- properties and metadata ---- */

static const char *const bs_prop_keys[] = {"content-type",     "content-encoding",
                                           "content-language", "content-disposition",
                                           "cache-control",    "content-md5"};

static bool bs_props_check(json_t *props)
{
    if (!props)
        return true;
    CF_ENSURE(json_is_object(props), CF_ERR_BAD_INPUT, "properties must be an object");
    const char *k;
    json_t *v;
    json_object_foreach(props, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof bs_prop_keys / sizeof bs_prop_keys[0]; i++)
            known = known || strcmp(k, bs_prop_keys[i]) == 0;
        CF_ENSURE(known && json_is_string(v) && json_string_length(v) <= 8192, CF_ERR_BAD_INPUT,
                  "unknown or oversized blob property");
    }
    return true;
}

static bool bs_set_tx(cf_blob_store *s, bs_bwrite *w, const char *text, bool props)
{
    CF_GUARD(cf_bs_blob_write_check(s, w->account, w->container, w->name, w->cond, BS_OP_WRITE,
                                    w->now, NULL, NULL));
    if (!props) { /* metadata belongs to the content: its key is needed */
        char etag[CF_BLOB_ETAG_LEN + 1];
        bs_target t;
        CF_GUARD(cf_bs_blob_target(s, w->account, w->container, w->name, etag, &t, NULL));
        CF_GUARD(cf_bs_check_cpk(w->cond, t.cpk));
        CF_GUARD(cf_bs_scope_usable_locked(s, w->account, t.scope));
    }
    CF_GUARD(cf_bs_new_etag(w->etag));
    /* Set Blob Properties ends a copy's x-ms-copy-* properties; metadata does not. */
    cf_db_stmt *st = props
                         ? CF_DB_PREP(s->db,
                                      "UPDATE blobs SET props = ?4, etag = ?5, last_modified = ?6,"
                                      " copy = NULL WHERE account = ?1 AND container = ?2 AND"
                                      " name = ?3",
                                      w->account, w->container, w->name, NULL, w->etag)
                         : CF_DB_PREP(s->db,
                                      "UPDATE blobs SET metadata = ?4, etag = ?5,"
                                      " last_modified = ?6 WHERE account = ?1 AND"
                                      " container = ?2 AND name = ?3",
                                      w->account, w->container, w->name, NULL, w->etag);
    CF_GUARD(cf_bs_bind_sealed(s, st, 4, (bs_row){w->account, w->container, w->name},
                               props ? "blobs.props" : "blobs.metadata", CF_SLICE_STR(text)));
    cf_db_bind_int64(st, 6, w->now);
    return cf_db_run(s->db, st);
}

static bool bs_set_locked(cf_blob_store *s, bs_bwrite *w, const char *text, bool props)
{
    CF_GUARD(cf_db_begin(s->db));
    return cf_db_commit(s->db, bs_set_tx(s, w, text, props));
}

static bool bs_set(cf_blob_store *s, bs_bwrite *w, json_t *j, bool props, cf_blob_write_result *out)
{
    CF_GUARD(cf_bs_check_names(w->account, w->container, w->name));
    CF_GUARD(props ? bs_props_check(j) : cf_blob_metadata_check(j));
    char *text;
    CF_GUARD(cf_bs_json_text(j, &text));
    bool ok = BS_LOCKED(s, bs_set_locked(s, w, text, props));
    cf_json_free_text(text);
    if (ok)
        cf_bs_write_result(out, w->etag, w->now);
    return ok;
}

bool cf_blob_set_properties(cf_blob_store *s, const char *account, const char *container,
                            const char *name, json_t *props, const cf_blob_cond *cond, int64_t now,
                            cf_blob_write_result *out)
{
    bs_bwrite w = {account, container, name, cond, now, ""};
    return bs_set(s, &w, props, true, out);
}

bool cf_blob_set_metadata(cf_blob_store *s, const char *account, const char *container,
                          const char *name, json_t *metadata, const cf_blob_cond *cond, int64_t now,
                          cf_blob_write_result *out)
{
    bs_bwrite w = {account, container, name, cond, now, ""};
    return bs_set(s, &w, metadata, false, out);
}

/* ---- lease ---- */

static bool bs_blob_lease_tx(cf_blob_store *s, bs_bwrite *w, const cf_lease_req *req,
                             cf_lease_result *out)
{
    CF_GUARD(cf_bs_container_exists(s, w->account, w->container));
    bs_target t;
    CF_GUARD(cf_bs_blob_target(s, w->account, w->container, w->name, out->etag, &t, NULL));
    CF_ENSURE_REASON(t.exists, CF_ERR_NOT_FOUND, "BlobNotFound", "no such blob");
    CF_GUARD(cf_bs_check_cond(w->cond, &t, BS_OP_LEASE, false, w->now));
    out->last_modified = t.last_modified;
    bs_lease l = t.lease;
    CF_GUARD(cf_bs_lease_apply(&l, req, w->now, out));
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "UPDATE blobs SET lease_id = ?4, lease_duration = ?5,"
                                " lease_expiry = ?6, lease_break = ?7"
                                " WHERE account = ?1 AND container = ?2 AND name = ?3",
                                w->account, w->container, w->name, l.id[0] ? l.id : NULL);
    CF_GUARD(st);
    cf_db_bind_int64(st, 5, l.duration);
    cf_db_bind_int64(st, 6, l.expiry);
    cf_db_bind_int64(st, 7, l.break_at);
    return cf_db_run(s->db, st);
}

static bool bs_blob_lease_locked(cf_blob_store *s, bs_bwrite *w, const cf_lease_req *req,
                                 cf_lease_result *out)
{
    CF_GUARD(cf_db_begin(s->db));
    return cf_db_commit(s->db, bs_blob_lease_tx(s, w, req, out));
}

bool cf_blob_lease(cf_blob_store *s, const char *account, const char *container, const char *name,
                   const cf_lease_req *req, const cf_blob_cond *cond, int64_t now,
                   cf_lease_result *out)
{
    CF_GUARD(cf_bs_check_names(account, container, name));
    CF_ENSURE_REF(req);
    CF_ENSURE_REF(out);
    memset(out, 0, sizeof *out);
    /* Lease operations carry their id in the request, not as a condition. */
    cf_blob_cond dates = {0};
    if (cond) {
        dates = *cond;
        dates.lease_id = NULL;
    }
    bs_bwrite w = {account, container, name, &dates, now, ""};
    return BS_LOCKED(s, bs_blob_lease_locked(s, &w, req, out));
}

/* ---- copy ---- */

typedef struct {
    const char *account, *src_container, *src_name, *dst_container, *dst_name;
    const cf_blob_cond *src_cond, *dst_cond;
    const char *meta; /* NULL: the source's */
    const char *source_url;
    int64_t now;
    cf_blob_copy_result *out;
} bs_copy;

/* The source's type, size, and props and metadata opened (secret buffers,
 * NUL-terminated; freed by the caller): the destination seals them again
 * under its own row, never the source's sealed bytes. */
typedef struct {
    cf_blob_type type;
    uint64_t size;
    cf_buf props, meta;
    char scope[CF_BLOB_SCOPE_MAX + 1];
} bs_copy_src;

static bool bs_copy_source(cf_blob_store *s, const bs_copy *c, bs_copy_src *src)
{
    CF_GUARD(cf_bs_container_exists(s, c->account, c->src_container));
    char etag[CF_BLOB_ETAG_LEN + 1];
    bs_target t;
    CF_GUARD(cf_bs_blob_target(s, c->account, c->src_container, c->src_name, etag, &t, NULL));
    CF_ENSURE_REASON(t.exists, CF_ERR_NOT_FOUND, "CannotVerifyCopySource",
                     "the copy source does not exist");
    CF_GUARD(cf_bs_check_cond(c->src_cond, &t, BS_OP_SOURCE, false, c->now));
    /* Its extents are under the customer's key, which a copy does not carry. */
    CF_ENSURE_REASON(!t.cpk[0], CF_ERR_CONFLICT, "BlobUsesCustomerSpecifiedEncryption",
                     "The copy source is encrypted with customer specified encryption.");
    snprintf(src->scope, sizeof src->scope, "%s", t.scope);
    CF_GUARD(cf_bs_scope_usable_locked(s, c->account, t.scope));
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "SELECT type, size, props, metadata FROM blobs WHERE account = ?1"
                                " AND container = ?2 AND name = ?3",
                                c->account, c->src_container, c->src_name);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    bool ok = cf_db_ok(s->db, rc) && rc == CF_DB_ROW;
    bs_row row = {c->account, c->src_container, c->src_name};
    if (ok) {
        src->type = (cf_blob_type)cf_db_column_int(st, 0);
        src->size = (uint64_t)cf_db_column_int64(st, 1);
        ok = cf_bs_column_open(s, st, 2, row, "blobs.props", &src->props);
    }
    /* New metadata replaces the source's, which then need not be opened. */
    if (ok && !c->meta)
        ok = cf_bs_column_open(s, st, 3, row, "blobs.metadata", &src->meta);
    cf_db_done(st);
    return ok;
}

/* The destination's content rows: the source's, naming the same extents
 * (every column but the blob's name, so a page blob's chunks keep their
 * index and page map). */
static bool bs_copy_rows(cf_blob_store *s, const bs_copy *c)
{
    return cf_db_run(s->db,
                     CF_DB_PREP(s->db,
                                "INSERT INTO blob_extents (account, container, blob, seq, extent,"
                                " length, block_id, pages, chunk_at) SELECT account, ?4, ?5, seq,"
                                " extent, length, block_id, pages, chunk_at FROM blob_extents"
                                " WHERE account = ?1 AND container = ?2 AND blob = ?3",
                                c->account, c->src_container, c->src_name, c->dst_container,
                                c->dst_name));
}

static bool bs_copy_tx(cf_blob_store *s, const bs_copy *c, bs_copy_src *src, bs_idlist *gone)
{
    CF_GUARD(bs_copy_source(s, c, src));
    CF_GUARD(cf_bs_blob_write_check(s, c->account, c->dst_container, c->dst_name, c->dst_cond,
                                    BS_OP_CREATE, c->now, NULL, NULL));
    char scope[CF_BLOB_SCOPE_MAX + 1];
    CF_GUARD(cf_bs_write_scope_locked(s, c->account, c->dst_container, c->dst_cond, scope));
    /* Shared extents stay under the source's key: another scope needs the
     * body encrypted again, which the caller does (cf_blob_copy's doc). */
    CF_ENSURE_REASON(strcmp(scope, src->scope) == 0, CF_ERR_CONFLICT, CF_BLOB_REENCRYPT,
                     "the destination is in another encryption scope");
    /* A blob copied onto itself keeps its rows (and extents). */
    bool self =
        strcmp(c->src_container, c->dst_container) == 0 && strcmp(c->src_name, c->dst_name) == 0;
    if (!self)
        CF_GUARD(cf_bs_blob_clear(s, c->account, c->dst_container, c->dst_name, false, gone));
    CF_GUARD(cf_bs_blob_upsert(s, c->account, c->dst_container, c->dst_name, src->type, src->size,
                               (const char *)src->props.data,
                               c->meta ? c->meta : (const char *)src->meta.data, NULL, scope,
                               c->now, c->out->etag));
    if (!self)
        CF_GUARD(bs_copy_rows(s, c));
    char progress[48];
    snprintf(progress, sizeof progress, "%llu/%llu", (unsigned long long)src->size,
             (unsigned long long)src->size);
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:s}", "id", c->out->copy_id, "status", "success",
                          "progress", progress, "completion", (json_int_t)c->now, "source",
                          c->source_url ? c->source_url : "");
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    CF_ENSURE_ALLOC(text);
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "UPDATE blobs SET copy = ?4 WHERE account = ?1 AND"
                                " container = ?2 AND name = ?3",
                                c->account, c->dst_container, c->dst_name);
    bool ok = cf_bs_bind_sealed(s, st, 4, (bs_row){c->account, c->dst_container, c->dst_name},
                                "blobs.copy", CF_SLICE_STR(text)) &&
              cf_db_run(s->db, st);
    cf_json_free_text(text);
    return ok;
}

static bool bs_copy_locked(cf_blob_store *s, const bs_copy *c)
{
    bs_copy_src src = {0};
    cf_buf_init_secret(&src.props, 1);
    cf_buf_init_secret(&src.meta, 1);
    bs_idlist gone = {0};
    bool ok = cf_db_begin(s->db) && cf_bs_commit_releasing(s, bs_copy_tx(s, c, &src, &gone), &gone);
    cf_buf_free(&src.props);
    cf_buf_free(&src.meta);
    return ok;
}

bool cf_blob_copy(cf_blob_store *s, const char *account, const char *src_container,
                  const char *src_name, const cf_blob_cond *src_cond, const char *dst_container,
                  const char *dst_name, const cf_blob_cond *dst_cond, json_t *metadata,
                  const char *source_url, int64_t now, cf_blob_copy_result *out)
{
    CF_GUARD(cf_bs_check_names(account, src_container, src_name));
    CF_GUARD(cf_bs_check_names(account, dst_container, dst_name));
    CF_ENSURE_REF(out);
    CF_ENSURE(!source_url || strlen(source_url) <= 8192, CF_ERR_BAD_INPUT,
              "copy source URL too long");
    CF_GUARD(cf_blob_metadata_check(metadata));
    memset(out, 0, sizeof *out);
    CF_GUARD(cf_uuid_v4(out->copy_id));
    out->status = "success";
    char *meta = NULL;
    if (metadata)
        CF_GUARD(cf_bs_json_text(metadata, &meta));
    bs_copy c = {account,  src_container, src_name,   dst_container, dst_name, src_cond,
                 dst_cond, meta,          source_url, now,           out};
    bool ok = BS_LOCKED(s, bs_copy_locked(s, &c));
    cf_json_free_text(meta);
    if (ok)
        out->last_modified = now;
    return ok;
}
