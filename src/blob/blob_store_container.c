/*
 * Containers: create, get, metadata, delete, list, ACL (public access level
 * and stored access policies, kept as one JSON array column so a Set
 * Container ACL replaces them atomically) and container leases.  Each
 * write checks its conditions on the row inside its transaction.
 */
#include "blob_store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_secure.h"
#include "utf8.h"

void cf_blob_container_free(cf_blob_container *c)
{
    json_decref(c->metadata);
    c->metadata = NULL;
}

/* Whether the container has a row. */
static bool bs_container_found(cf_blob_store *s, const char *account, const char *name, bool *found)
{
    return cf_db_exists(s->db,
                        CF_DB_PREP(s->db,
                                   "SELECT 1 FROM containers WHERE account = ?1 AND name = ?2",
                                   account, name),
                        found);
}

bool cf_bs_container_exists(cf_blob_store *s, const char *account, const char *name)
{
    bool found;
    CF_GUARD(bs_container_found(s, account, name, &found));
    CF_ENSURE_REASON(found, CF_ERR_NOT_FOUND, "ContainerNotFound", "no such container");
    return true;
}

/* ---- create ---- */

typedef struct {
    const char *default_scope; /* NULL or "" = the account's key */
    bool deny_override;
} bs_scope_policy;

static bool bs_container_create_tx(cf_blob_store *s, const char *account, const char *name,
                                   const char *meta, cf_public_access access,
                                   const bs_scope_policy *policy, int64_t now, char *etag)
{
    cf_blob_account a;
    CF_GUARD(cf_bs_account_get_locked(s, account, &a));
    const char *def = policy->default_scope;
    if (def && strcmp(def, CF_BLOB_ACCOUNT_SCOPE) == 0)
        def = NULL;
    if (def && def[0]) {
        cf_blob_scope meta_scope;
        CF_GUARD(cf_bs_scope_get_locked(s, account, def, &meta_scope));
        CF_ENSURE_REASON(meta_scope.enabled, CF_ERR_FORBIDDEN, "EncryptionScopeDisabled",
                         "The encryption scope is disabled.");
    }
    bool found;
    CF_GUARD(bs_container_found(s, account, name, &found));
    CF_ENSURE_REASON(!found, CF_ERR_CONFLICT, "ContainerAlreadyExists", "container exists");
    CF_GUARD(cf_bs_new_etag(etag));
    cf_db_stmt *st =
        CF_DB_PREP(s->db,
                   "INSERT INTO containers (account, name, created, last_modified,"
                   " etag, metadata, access, acl, default_scope, deny_override)"
                   " VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                   account, name, NULL, etag, NULL, NULL, NULL, def && def[0] ? def : NULL);
    bs_row row = {account, name, ""};
    CF_GUARD(cf_bs_bind_sealed(s, st, 5, row, "containers.metadata", CF_SLICE_STR(meta)));
    CF_GUARD(cf_bs_bind_sealed(s, st, 7, row, "containers.acl", CF_SLICE_LIT("[]")));
    cf_db_bind_int64(st, 3, now);
    cf_db_bind_int64(st, 6, (int)access);
    cf_db_bind_int64(st, 9, policy->deny_override ? 1 : 0);
    return cf_db_run(s->db, st);
}

static bool bs_container_create_locked(cf_blob_store *s, const char *account, const char *name,
                                       const char *meta, cf_public_access access,
                                       const bs_scope_policy *policy, int64_t now, char *etag)
{
    CF_GUARD(cf_db_begin(s->db));
    return cf_db_commit(s->db,
                        bs_container_create_tx(s, account, name, meta, access, policy, now, etag));
}

bool cf_blob_container_create(cf_blob_store *s, const char *account, const char *name,
                              json_t *metadata, cf_public_access access, int64_t now,
                              cf_blob_write_result *out)
{
    return cf_blob_container_create_scoped(s, account, name, metadata, access, NULL, false, now,
                                           out);
}

bool cf_blob_container_create_scoped(cf_blob_store *s, const char *account, const char *name,
                                     json_t *metadata, cf_public_access access,
                                     const char *default_scope, bool deny_override, int64_t now,
                                     cf_blob_write_result *out)
{
    bs_scope_policy policy = {default_scope, deny_override};
    CF_GUARD(cf_bs_check_names(account, name ? name : "", NULL));
    CF_ENSURE(access <= CF_ACCESS_CONTAINER, CF_ERR_BAD_INPUT, "invalid public access level");
    CF_GUARD(cf_blob_metadata_check(metadata));
    char *meta;
    CF_GUARD(cf_bs_json_text(metadata, &meta));
    char etag[CF_BLOB_ETAG_LEN + 1] = "";
    bool ok = BS_LOCKED(
        s, bs_container_create_locked(s, account, name, meta, access, &policy, now, etag));
    cf_json_free_text(meta);
    if (ok)
        cf_bs_write_result(out, etag, now);
    return ok;
}

/* ---- get ---- */

#define BS_CONTAINER_COLUMNS                                                          \
    "name, created, last_modified, etag, metadata, access, lease_id, lease_duration," \
    " lease_expiry, lease_break, default_scope, deny_override"

static bool bs_read_container(cf_blob_store *s, const char *account, cf_db_stmt *st, int64_t now,
                              cf_blob_container *out, bs_lease *lease)
{
    memset(out, 0, sizeof *out);
    cf_bs_column_str(st, 0, out->name, sizeof out->name);
    out->created = cf_db_column_int64(st, 1);
    out->last_modified = cf_db_column_int64(st, 2);
    cf_bs_column_str(st, 3, out->etag, sizeof out->etag);
    out->access = (cf_public_access)cf_db_column_int(st, 5);
    bs_lease l;
    cf_bs_column_lease(st, 6, &l);
    cf_bs_lease_info(&l, now, &out->lease);
    cf_bs_column_str(st, 10, out->default_scope, sizeof out->default_scope);
    out->deny_scope_override = cf_db_column_int(st, 11) != 0;
    if (lease)
        *lease = l;
    return cf_bs_column_open_json(s, st, 4, (bs_row){account, out->name, ""}, "containers.metadata",
                                  &out->metadata);
}

static bool bs_container_get_locked(cf_blob_store *s, const char *account, const char *name,
                                    int64_t now, cf_blob_container *out, bs_lease *lease)
{
    cf_db_stmt *st = CF_DB_PREP(
        s->db, "SELECT " BS_CONTAINER_COLUMNS " FROM containers WHERE account = ?1 AND name = ?2",
        account, name);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    bool ok = rc == CF_DB_ROW && bs_read_container(s, account, st, now, out, lease);
    cf_db_done(st);
    CF_ENSURE_REASON(rc != CF_DB_DONE, CF_ERR_NOT_FOUND, "ContainerNotFound", "no such container");
    CF_GUARD(cf_db_ok(s->db, rc));
    return ok;
}

/* Loads the container into `c` and `lease` and checks `cond` for an
 * operation `op` on it; on failure `c` is freed. */
static bool bs_container_check(cf_blob_store *s, const char *account, const char *name,
                               const cf_blob_cond *cond, bs_op op, int64_t now,
                               cf_blob_container *c, bs_lease *lease)
{
    CF_GUARD(bs_container_get_locked(s, account, name, now, c, lease));
    bs_target t = {true, c->etag, c->last_modified, *lease};
    if (!cf_bs_check_cond(cond, &t, op, true, now)) {
        cf_blob_container_free(c);
        return false;
    }
    return true;
}

static bool bs_container_get_cond_locked(cf_blob_store *s, const char *account, const char *name,
                                         const cf_blob_cond *cond, int64_t now,
                                         cf_blob_container *out)
{
    bs_lease l;
    /* Reads honour only the lease id (Get Container Properties). */
    cf_blob_cond lease_only = {0};
    if (cond)
        lease_only.lease_id = cond->lease_id;
    return bs_container_check(s, account, name, &lease_only, BS_OP_READ, now, out, &l);
}

bool cf_blob_container_get(cf_blob_store *s, const char *account, const char *name,
                           const cf_blob_cond *cond, int64_t now, cf_blob_container *out)
{
    CF_GUARD(cf_bs_check_names(account, name ? name : "", NULL));
    return BS_LOCKED(s, bs_container_get_cond_locked(s, account, name, cond, now, out));
}

/* ---- metadata ---- */

typedef struct {
    const char *account, *name;
    const cf_blob_cond *cond;
    int64_t now;
    char etag[CF_BLOB_ETAG_LEN + 1];
} bs_cwrite;

/* A container write's conditions and lease, then its new ETag. */
static bool bs_container_write_check(cf_blob_store *s, bs_cwrite *w)
{
    cf_blob_container c;
    bs_lease l;
    CF_GUARD(bs_container_check(s, w->account, w->name, w->cond, BS_OP_WRITE, w->now, &c, &l));
    cf_blob_container_free(&c);
    return cf_bs_new_etag(w->etag);
}

static bool bs_container_meta_tx(cf_blob_store *s, bs_cwrite *w, const char *meta)
{
    CF_GUARD(bs_container_write_check(s, w));
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "UPDATE containers SET metadata = ?3, etag = ?4, last_modified = ?5"
                                " WHERE account = ?1 AND name = ?2",
                                w->account, w->name, NULL, w->etag);
    CF_GUARD(cf_bs_bind_sealed(s, st, 3, (bs_row){w->account, w->name, ""}, "containers.metadata",
                               CF_SLICE_STR(meta)));
    cf_db_bind_int64(st, 5, w->now);
    return cf_db_run(s->db, st);
}

static bool bs_container_meta_locked(cf_blob_store *s, bs_cwrite *w, const char *meta)
{
    CF_GUARD(cf_db_begin(s->db));
    return cf_db_commit(s->db, bs_container_meta_tx(s, w, meta));
}

bool cf_blob_container_set_metadata(cf_blob_store *s, const char *account, const char *name,
                                    json_t *metadata, const cf_blob_cond *cond, int64_t now,
                                    cf_blob_write_result *out)
{
    CF_GUARD(cf_bs_check_names(account, name ? name : "", NULL));
    CF_GUARD(cf_blob_metadata_check(metadata));
    char *meta;
    CF_GUARD(cf_bs_json_text(metadata, &meta));
    bs_cwrite w = {account, name, cond, now, ""};
    bool ok = BS_LOCKED(s, bs_container_meta_locked(s, &w, meta));
    cf_json_free_text(meta);
    if (ok)
        cf_bs_write_result(out, w.etag, now);
    return ok;
}

/* ---- delete ---- */

static bool bs_container_delete_tx(cf_blob_store *s, bs_cwrite *w, bs_idlist *gone)
{
    cf_blob_container c;
    bs_lease l;
    CF_GUARD(bs_container_check(s, w->account, w->name, w->cond, BS_OP_WRITE, w->now, &c, &l));
    cf_blob_container_free(&c);
    const char *a = w->account, *n = w->name;
    CF_GUARD(cf_bs_collect(
        s,
        CF_DB_PREP(s->db,
                   "SELECT extent FROM blob_extents WHERE account = ?1 AND container = ?2 UNION "
                   "SELECT extent FROM uncommitted WHERE account = ?1 AND container = ?2",
                   a, n),
        gone));
    CF_GUARD(cf_db_run(
        s->db,
        CF_DB_PREP(s->db, "DELETE FROM blob_extents WHERE account = ?1 AND container = ?2", a, n)));
    CF_GUARD(cf_db_run(
        s->db,
        CF_DB_PREP(s->db, "DELETE FROM uncommitted WHERE account = ?1 AND container = ?2", a, n)));
    CF_GUARD(cf_db_run(
        s->db, CF_DB_PREP(s->db, "DELETE FROM blobs WHERE account = ?1 AND container = ?2", a, n)));
    return cf_db_run(
        s->db, CF_DB_PREP(s->db, "DELETE FROM containers WHERE account = ?1 AND name = ?2", a, n));
}

static bool bs_container_delete_locked(cf_blob_store *s, bs_cwrite *w)
{
    bs_idlist gone = {0};
    return cf_db_begin(s->db) &&
           cf_bs_commit_releasing(s, bs_container_delete_tx(s, w, &gone), &gone);
}

bool cf_blob_container_delete(cf_blob_store *s, const char *account, const char *name,
                              const cf_blob_cond *cond, int64_t now)
{
    CF_GUARD(cf_bs_check_names(account, name ? name : "", NULL));
    bs_cwrite w = {account, name, cond, now, ""};
    return BS_LOCKED(s, bs_container_delete_locked(s, &w));
}

/* ---- list ---- */

static bool bs_container_list_locked(cf_blob_store *s, const char *account, const char *prefix,
                                     const char *marker, unsigned max, int64_t now,
                                     cf_blob_container_cb each, void *ctx, char *next_marker,
                                     size_t next_len)
{
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "SELECT " BS_CONTAINER_COLUMNS " FROM containers"
                                " WHERE account = ?1 AND substr(name, 1, length(?2)) = ?2"
                                " AND name > ?3 ORDER BY name LIMIT ?4",
                                account, prefix, marker);
    CF_GUARD(st);
    cf_db_bind_int64(st, 4, (int64_t)max + 1);
    unsigned n = 0;
    int rc = CF_DB_DONE;
    bool ok = true;
    char last[CF_BLOB_CONTAINER_MAX + 1] = "";
    next_marker[0] = '\0';
    while (ok && (rc = cf_db_step(st)) == CF_DB_ROW) {
        if (n == max) {
            snprintf(next_marker, next_len, "%s", last);
            break;
        }
        cf_blob_container c;
        ok = bs_read_container(s, account, st, now, &c, NULL) && each(ctx, &c);
        snprintf(last, sizeof last, "%s", c.name);
        cf_blob_container_free(&c);
        n++;
    }
    if (ok && rc != CF_DB_ROW)
        ok = cf_db_ok(s->db, rc);
    cf_db_done(st);
    return ok;
}

bool cf_blob_container_list(cf_blob_store *s, const char *account, const char *prefix,
                            const char *marker, unsigned max_results, int64_t now,
                            cf_blob_container_cb each, void *ctx, char *next_marker,
                            size_t next_len)
{
    CF_GUARD(cf_bs_check_names(account, NULL, NULL));
    CF_ENSURE_REASON(max_results >= 1 && max_results <= 5000, CF_ERR_BAD_INPUT,
                     "InvalidQueryParameterValue", "maxresults must be 1..5000");
    CF_ENSURE(next_len > CF_BLOB_CONTAINER_MAX, CF_ERR_BAD_INPUT, "marker buffer too small");
    /* Bound as text: PostgreSQL refuses what is not UTF-8 (no name is). */
    CF_ENSURE_REASON(cf_utf8_valid(CF_SLICE_STR(prefix ? prefix : "")) &&
                         cf_utf8_valid(CF_SLICE_STR(marker ? marker : "")),
                     CF_ERR_BAD_INPUT, "InvalidQueryParameterValue",
                     "prefix and marker must be UTF-8");
    /* Copied: callers may pass the previous page's next_marker buffer as
     * both marker and next_marker. */
    char from[CF_BLOB_CONTAINER_MAX + 2];
    snprintf(from, sizeof from, "%s", marker ? marker : "");
    return BS_LOCKED(s,
                     bs_container_list_locked(s, account, prefix ? prefix : "", from, max_results,
                                              now, each, ctx, next_marker, next_len));
}

/* ---- ACL ---- */

static bool bs_policy_field(const char *v, size_t cap)
{
    CF_ENSURE_REASON(strlen(v) < cap, CF_ERR_BAD_INPUT, "InvalidXmlNodeValue",
                     "access policy field too long");
    return true;
}

/* The policies as a JSON array of {id, start, expiry, permission}. */
static bool bs_acl_text(const cf_blob_acl *acl, char **out)
{
    CF_ENSURE_REASON(acl->n <= CF_BLOB_ACL_MAX, CF_ERR_BAD_INPUT, "InvalidXmlDocument",
                     "at most 5 stored access policies");
    CF_ENSURE_REASON(acl->access <= CF_ACCESS_CONTAINER, CF_ERR_BAD_INPUT, "InvalidHeaderValue",
                     "invalid public access level");
    json_t *arr = json_array();
    CF_ENSURE_ALLOC(arr);
    bool ok = true;
    for (size_t i = 0; ok && i < acl->n; i++) {
        const cf_blob_access_policy *p = &acl->policies[i];
        size_t idlen = strnlen(p->id, sizeof p->id);
        if (idlen < 1 || idlen > CF_BLOB_POLICY_ID_MAX) {
            CF_RAISE_REASON(CF_ERR_BAD_INPUT, "InvalidXmlNodeValue",
                            "signed identifier must be 1..64 characters");
            ok = false;
            break;
        }
        ok = bs_policy_field(p->start, sizeof p->start) &&
             bs_policy_field(p->expiry, sizeof p->expiry) &&
             bs_policy_field(p->permission, sizeof p->permission);
        json_t *o = ok ? json_pack("{s:s, s:s, s:s, s:s}", "id", p->id, "start", p->start, "expiry",
                                   p->expiry, "permission", p->permission)
                       : NULL;
        if (ok && (!o || json_array_append_new(arr, o) != 0)) {
            CF_RAISE(CF_ERR_NOMEM, NULL);
            ok = false;
        }
    }
    *out = ok ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (ok && !*out)
        CF_BAIL(CF_ERR_NOMEM, NULL);
    return ok;
}

static void bs_copy_field(char *dst, size_t cap, json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    snprintf(dst, cap, "%s", v ? v : "");
}

static bool bs_acl_parse(const char *text, cf_blob_acl *out)
{
    json_t *arr = json_loads(text, 0, NULL);
    CF_ENSURE(arr && json_is_array(arr) && json_array_size(arr) <= CF_BLOB_ACL_MAX, CF_ERR_DB,
              "stored ACL is malformed");
    out->n = json_array_size(arr);
    for (size_t i = 0; i < out->n; i++) {
        json_t *o = json_array_get(arr, i);
        cf_blob_access_policy *p = &out->policies[i];
        bs_copy_field(p->id, sizeof p->id, o, "id");
        bs_copy_field(p->start, sizeof p->start, o, "start");
        bs_copy_field(p->expiry, sizeof p->expiry, o, "expiry");
        bs_copy_field(p->permission, sizeof p->permission, o, "permission");
    }
    json_decref(arr);
    return true;
}

static bool bs_acl_set_tx(cf_blob_store *s, bs_cwrite *w, const char *text, cf_public_access access)
{
    CF_GUARD(bs_container_write_check(s, w));
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "UPDATE containers SET acl = ?3, etag = ?4, last_modified = ?5,"
                                " access = ?6 WHERE account = ?1 AND name = ?2",
                                w->account, w->name, NULL, w->etag);
    CF_GUARD(cf_bs_bind_sealed(s, st, 3, (bs_row){w->account, w->name, ""}, "containers.acl",
                               CF_SLICE_STR(text)));
    cf_db_bind_int64(st, 5, w->now);
    cf_db_bind_int64(st, 6, (int)access);
    return cf_db_run(s->db, st);
}

static bool bs_acl_set_locked(cf_blob_store *s, bs_cwrite *w, const char *text,
                              cf_public_access access)
{
    CF_GUARD(cf_db_begin(s->db));
    return cf_db_commit(s->db, bs_acl_set_tx(s, w, text, access));
}

bool cf_blob_container_set_acl(cf_blob_store *s, const char *account, const char *name,
                               const cf_blob_acl *acl, const cf_blob_cond *cond, int64_t now,
                               cf_blob_write_result *out)
{
    CF_GUARD(cf_bs_check_names(account, name ? name : "", NULL));
    CF_ENSURE_REF(acl);
    char *text;
    CF_GUARD(bs_acl_text(acl, &text));
    bs_cwrite w = {account, name, cond, now, ""};
    bool ok = BS_LOCKED(s, bs_acl_set_locked(s, &w, text, acl->access));
    cf_json_free_text(text);
    if (ok)
        cf_bs_write_result(out, w.etag, now);
    return ok;
}

static bool bs_acl_get_locked(cf_blob_store *s, const char *account, const char *name,
                              const cf_blob_cond *cond, int64_t now, cf_blob_acl *out)
{
    cf_blob_container c;
    CF_GUARD(bs_container_get_cond_locked(s, account, name, cond, now, &c));
    memset(out, 0, sizeof *out);
    out->access = c.access;
    snprintf(out->etag, sizeof out->etag, "%s", c.etag);
    out->last_modified = c.last_modified;
    cf_blob_container_free(&c);
    cf_db_stmt *st = CF_DB_PREP(
        s->db, "SELECT acl FROM containers WHERE account = ?1 AND name = ?2", account, name);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    bool ok = cf_db_ok(s->db, rc);
    if (ok && rc != CF_DB_ROW) {
        CF_RAISE(CF_ERR_INTERNAL, "the container vanished");
        ok = false;
    }
    cf_buf text;
    ok = ok && cf_bs_column_open(s, st, 0, (bs_row){account, name, ""}, "containers.acl", &text);
    if (ok) {
        ok = bs_acl_parse((const char *)text.data, out);
        cf_buf_free(&text);
    }
    cf_db_done(st);
    return ok;
}

bool cf_blob_container_get_acl(cf_blob_store *s, const char *account, const char *name,
                               const cf_blob_cond *cond, int64_t now, cf_blob_acl *out)
{
    CF_GUARD(cf_bs_check_names(account, name ? name : "", NULL));
    CF_ENSURE_REF(out);
    return BS_LOCKED(s, bs_acl_get_locked(s, account, name, cond, now, out));
}

bool cf_blob_container_policy(cf_blob_store *s, const char *account, const char *container,
                              const char *id, cf_blob_access_policy *out)
{
    cf_blob_acl acl;
    CF_GUARD(cf_blob_container_get_acl(s, account, container, NULL, 0, &acl));
    for (size_t i = 0; i < acl.n; i++) {
        if (strcmp(acl.policies[i].id, id) == 0) {
            *out = acl.policies[i];
            return true;
        }
    }
    CF_RAISE_REASON(CF_ERR_NOT_FOUND, "PolicyNotFound", "no stored access policy of that id");
    return false;
}

/* ---- lease ---- */

typedef struct {
    bs_cwrite w;
    const cf_lease_req *req;
    cf_lease_result *out;
} bs_clease;

static bool bs_container_lease_tx(cf_blob_store *s, bs_clease *cl)
{
    cf_blob_container c;
    bs_lease l;
    /* Lease operations carry their id in the request, not as a condition. */
    cf_blob_cond dates = {0};
    if (cl->w.cond) {
        dates = *cl->w.cond;
        dates.lease_id = NULL;
    }
    CF_GUARD(
        bs_container_check(s, cl->w.account, cl->w.name, &dates, BS_OP_LEASE, cl->w.now, &c, &l));
    snprintf(cl->out->etag, sizeof cl->out->etag, "%s", c.etag);
    cl->out->last_modified = c.last_modified;
    cf_blob_container_free(&c);
    CF_GUARD(cf_bs_lease_apply(&l, cl->req, cl->w.now, cl->out));
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "UPDATE containers SET lease_id = ?3, lease_duration = ?4,"
                                " lease_expiry = ?5, lease_break = ?6"
                                " WHERE account = ?1 AND name = ?2",
                                cl->w.account, cl->w.name, l.id[0] ? l.id : NULL);
    CF_GUARD(st);
    cf_db_bind_int64(st, 4, l.duration);
    cf_db_bind_int64(st, 5, l.expiry);
    cf_db_bind_int64(st, 6, l.break_at);
    return cf_db_run(s->db, st);
}

static bool bs_container_lease_locked(cf_blob_store *s, bs_clease *cl)
{
    CF_GUARD(cf_db_begin(s->db));
    return cf_db_commit(s->db, bs_container_lease_tx(s, cl));
}

bool cf_blob_container_lease(cf_blob_store *s, const char *account, const char *name,
                             const cf_lease_req *req, const cf_blob_cond *cond, int64_t now,
                             cf_lease_result *out)
{
    CF_GUARD(cf_bs_check_names(account, name ? name : "", NULL));
    CF_ENSURE_REF(req);
    CF_ENSURE_REF(out);
    memset(out, 0, sizeof *out);
    bs_clease cl = {{account, name, cond, now, ""}, req, out};
    return BS_LOCKED(s, bs_container_lease_locked(s, &cl));
}
