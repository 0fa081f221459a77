/*
 * Access data in the vault store: principals (service principals and
 * managed identities), their credentials (salted hashes only) and role
 * assignments.  Same connection, lock and statement cache as store.c.
 */
#include <stdio.h>
#include <string.h>

#include "secmem.h"
#include "store_internal.h"

/* ---- principals ---- */

static const char cf_sql_principal_add[] = "INSERT INTO principals (object_id, kind, name, "
                                           "client_id, created) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char cf_sql_principal_by_oid[] =
    "SELECT object_id, kind, name, client_id, created FROM principals WHERE object_id = ?1";
static const char cf_sql_principal_by_client[] =
    "SELECT object_id, kind, name, client_id, created FROM principals WHERE client_id = ?1";

bool cf_store_principal_add_locked(cf_store *store, const cf_principal *p)
{
    cf_access_cache_changed(store->access);
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_principal_add);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, p->object_id);
    cf_db_bind_text(st, 2, p->kind);
    cf_db_bind_text(st, 3, p->name);
    cf_db_bind_text(st, 4, p->client_id);
    cf_db_bind_int64(st, 5, p->created);
    int rc = cf_db_step(st);
    cf_db_done(st);
    CF_ENSURE(rc != CF_DB_CONSTRAINT, CF_ERR_CONFLICT, "principal exists");
    return cf_db_ok(cf_store_db(store), rc);
}

bool cf_store_principal_add(cf_store *store, const cf_principal *p)
{
    return CF_LOCKED(store, cf_store_principal_add_locked(store, p));
}

static bool cf_principal_get_locked(cf_store *store, const char *sql, const char *id,
                                    cf_principal *out)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), sql);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, id);
    int rc = cf_db_step(st);
    if (rc == CF_DB_ROW) {
        snprintf(out->object_id, sizeof out->object_id, "%s", cf_db_column_text(st, 0));
        snprintf(out->kind, sizeof out->kind, "%s", cf_db_column_text(st, 1));
        snprintf(out->name, sizeof out->name, "%s", cf_db_column_text(st, 2));
        snprintf(out->client_id, sizeof out->client_id, "%s", cf_db_column_text(st, 3));
        out->created = cf_db_column_int64(st, 4);
    }
    cf_db_done(st);
    CF_ENSURE(rc != CF_DB_DONE, CF_ERR_NOT_FOUND, NULL);
    return cf_db_ok(cf_store_db(store), rc);
}

bool cf_store_principal_by_oid(cf_store *store, const char *object_id, cf_principal *out)
{
    if (cf_access_cache_principal(store->access, object_id, out))
        return true;
    uint64_t gen = cf_access_cache_gen(store->access); /* before the read: access_cache.h */
    CF_GUARD(
        CF_LOCKED(store, cf_principal_get_locked(store, cf_sql_principal_by_oid, object_id, out)));
    cf_access_cache_keep_principal(store->access, gen, out);
    return true;
}

bool cf_store_principal_by_client(cf_store *store, const char *client_id, cf_principal *out)
{
    return CF_LOCKED(store,
                     cf_principal_get_locked(store, cf_sql_principal_by_client, client_id, out));
}

static const char cf_sql_credential_add[] =
    "INSERT INTO credentials (object_id, salt, hash, expires, created) VALUES (?1, ?2, ?3, ?4, ?5)"
    " RETURNING id";
static const char cf_sql_credential_each[] =
    "SELECT salt, hash, expires FROM credentials WHERE object_id = ?1";

static bool cf_credential_add_locked(cf_store *store, const char *oid, cf_slice salt, cf_slice hash,
                                     int64_t expires, int64_t created, int64_t *id)
{
    cf_access_cache_changed(store->access);
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_credential_add);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, oid);
    cf_db_bind_blob(st, 2, salt.ptr, salt.len);
    cf_db_bind_blob(st, 3, hash.ptr, hash.len);
    cf_db_bind_int64(st, 4, expires);
    cf_db_bind_int64(st, 5, created);
    int64_t new_id = 0;
    CF_GUARD(cf_db_int(cf_store_db(store), st, &new_id));
    if (id)
        *id = new_id;
    return true;
}

bool cf_store_credential_add(cf_store *store, const char *object_id, cf_slice salt, cf_slice hash,
                             int64_t expires, int64_t created, int64_t *id)
{
    return CF_LOCKED(store,
                     cf_credential_add_locked(store, object_id, salt, hash, expires, created, id));
}

static bool cf_credential_each_locked(cf_store *store, const char *oid, cf_credential_cb each,
                                      void *ctx)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_credential_each);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, oid);
    int rc;
    bool ok = true;
    while (ok && (rc = cf_db_step(st)) == CF_DB_ROW)
        ok = each(ctx, cf_slice_of(cf_db_column_blob(st, 0), (size_t)cf_db_column_bytes(st, 0)),
                  cf_slice_of(cf_db_column_blob(st, 1), (size_t)cf_db_column_bytes(st, 1)),
                  cf_db_column_int64(st, 2));
    if (ok && rc != CF_DB_ROW)
        ok = cf_db_ok(cf_store_db(store), rc);
    cf_db_done(st);
    return ok;
}

bool cf_store_credential_each(cf_store *store, const char *object_id, cf_credential_cb each,
                              void *ctx)
{
    return CF_LOCKED(store, cf_credential_each_locked(store, object_id, each, ctx));
}

/* ---- listing and removal ---- */

static const char cf_sql_principal_list[] =
    "SELECT object_id, kind, name, client_id, created FROM principals ORDER BY created, object_id";

static void cf_read_principal(cf_db_stmt *st, cf_principal *out)
{
    snprintf(out->object_id, sizeof out->object_id, "%s", cf_db_column_text(st, 0));
    snprintf(out->kind, sizeof out->kind, "%s", cf_db_column_text(st, 1));
    snprintf(out->name, sizeof out->name, "%s", cf_db_column_text(st, 2));
    snprintf(out->client_id, sizeof out->client_id, "%s", cf_db_column_text(st, 3));
    out->created = cf_db_column_int64(st, 4);
}

bool cf_store_list_rows(cf_store *store, const char *sql, size_t row_size,
                        void (*read)(cf_db_stmt *st, void *row),
                        bool (*each)(void *ctx, const void *row), void *ctx)
{
    uint8_t *rows = calloc(CF_STORE_LIST_CAP, row_size);
    CF_ENSURE_ALLOC(rows);
    size_t n = 0;
    cf_store_conn *held = cf_store_acquire(store);
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), sql);
    bool ok = st != NULL;
    int rc = CF_DB_DONE;
    while (ok && n < CF_STORE_LIST_CAP && (rc = cf_db_step(st)) == CF_DB_ROW)
        read(st, rows + row_size * n++);
    if (ok) {
        ok = rc == CF_DB_ROW || cf_db_ok(cf_store_db(store), rc);
        cf_db_done(st);
    }
    cf_store_release(held);
    for (size_t i = 0; ok && i < n; i++)
        ok = each(ctx, rows + row_size * i);
    cf_memzero(rows,
               n * row_size); /* users' rows hold password hashes; the rest were never written */
    free(rows);
    return ok;
}

typedef struct {
    cf_principal_cb each;
    void *ctx;
} cf_principal_walk;

static void cf_read_principal_row(cf_db_stmt *st, void *row)
{
    cf_read_principal(st, row);
}

static bool cf_each_principal_row(void *ctx, const void *row)
{
    cf_principal_walk *w = ctx;
    return w->each(w->ctx, row);
}

bool cf_store_principal_list(cf_store *store, cf_principal_cb each, void *ctx)
{
    cf_principal_walk w = {each, ctx};
    return cf_store_list_rows(store, cf_sql_principal_list, sizeof(cf_principal),
                              cf_read_principal_row, cf_each_principal_row, &w);
}

static const char cf_sql_principal_delete_creds[] = "DELETE FROM credentials WHERE object_id = ?1";
static const char cf_sql_principal_delete_roles[] =
    "DELETE FROM role_assignments WHERE principal_id = ?1";
static const char cf_sql_principal_delete_user[] = "DELETE FROM users WHERE object_id = ?1";
static const char cf_sql_principal_delete[] = "DELETE FROM principals WHERE object_id = ?1";

static bool cf_exec_bound(cf_store *store, const char *sql, const char *a, int *changes)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), sql);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, a);
    CF_GUARD(cf_db_run(cf_store_db(store), st));
    if (changes)
        *changes = cf_db_changes(cf_store_db(store));
    return true;
}

static bool cf_principal_delete_tx(cf_store *store, const char *oid)
{
    int changes = 0;
    CF_GUARD(cf_exec_bound(store, cf_sql_principal_delete_creds, oid, NULL));
    CF_GUARD(cf_exec_bound(store, cf_sql_principal_delete_roles, oid, NULL));
    CF_GUARD(cf_exec_bound(store, cf_sql_principal_delete_user, oid, NULL));
    CF_GUARD(cf_exec_bound(store, cf_sql_principal_delete, oid, &changes));
    CF_ENSURE(changes == 1, CF_ERR_NOT_FOUND, "principal not found");
    return true;
}

static bool cf_principal_delete_locked(cf_store *store, const char *oid)
{
    cf_access_cache_changed(store->access);
    CF_GUARD(cf_db_begin(cf_store_db(store)));
    return cf_db_commit(cf_store_db(store), cf_principal_delete_tx(store, oid));
}

bool cf_store_principal_delete(cf_store *store, const char *object_id)
{
    return CF_LOCKED(store, cf_principal_delete_locked(store, object_id));
}

static const char cf_sql_credential_list[] =
    "SELECT id, created, expires FROM credentials WHERE object_id = ?1 ORDER BY id";

static bool cf_credential_list_locked(cf_store *store, const char *oid, cf_credential_info *rows,
                                      size_t cap, size_t *n)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_credential_list);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, oid);
    int rc;
    *n = 0;
    while (*n < cap && (rc = cf_db_step(st)) == CF_DB_ROW) {
        rows[*n].id = cf_db_column_int64(st, 0);
        rows[*n].created = cf_db_column_int64(st, 1);
        rows[*n].expires = cf_db_column_int64(st, 2);
        (*n)++;
    }
    cf_db_done(st);
    return *n == cap || cf_db_ok(cf_store_db(store), rc);
}

bool cf_store_credential_list(cf_store *store, const char *object_id, cf_credential_info *rows,
                              size_t cap, size_t *n)
{
    return CF_LOCKED(store, cf_credential_list_locked(store, object_id, rows, cap, n));
}

static const char cf_sql_credential_delete[] =
    "DELETE FROM credentials WHERE object_id = ?1 AND id = ?2";

static bool cf_credential_delete_locked(cf_store *store, const char *oid, int64_t id)
{
    cf_access_cache_changed(store->access);
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_credential_delete);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, oid);
    cf_db_bind_int64(st, 2, id);
    CF_GUARD(cf_db_run(cf_store_db(store), st));
    CF_ENSURE(cf_db_changes(cf_store_db(store)) == 1, CF_ERR_NOT_FOUND, "credential not found");
    return true;
}

bool cf_store_credential_delete(cf_store *store, const char *object_id, int64_t id)
{
    return CF_LOCKED(store, cf_credential_delete_locked(store, object_id, id));
}

/* ---- role assignments ---- */

static const char cf_sql_assignment_put[] =
    "INSERT INTO role_assignments (name, scope, role_id, principal_id, created)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";
static const char cf_sql_assignment_get[] =
    "SELECT name, scope, role_id, principal_id, created FROM role_assignments WHERE name = ?1";
static const char cf_sql_assignment_delete[] = "DELETE FROM role_assignments WHERE name = ?1";
static const char cf_sql_assignment_all[] = "SELECT name, scope, role_id, principal_id, created "
                                            "FROM role_assignments ORDER BY created, name";
static const char cf_sql_assignment_of[] =
    "SELECT name, scope, role_id, principal_id, created FROM role_assignments"
    " WHERE principal_id = ?1 ORDER BY created, name";

static void cf_read_assignment(cf_db_stmt *st, cf_role_assignment *out)
{
    snprintf(out->name, sizeof out->name, "%s", cf_db_column_text(st, 0));
    snprintf(out->scope, sizeof out->scope, "%s", cf_db_column_text(st, 1));
    snprintf(out->role_id, sizeof out->role_id, "%s", cf_db_column_text(st, 2));
    snprintf(out->principal_id, sizeof out->principal_id, "%s", cf_db_column_text(st, 3));
    out->created = cf_db_column_int64(st, 4);
}

static bool cf_assignment_put_locked(cf_store *store, const cf_role_assignment *a)
{
    cf_access_cache_changed(store->access);
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_assignment_put);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, a->name);
    cf_db_bind_text(st, 2, a->scope);
    cf_db_bind_text(st, 3, a->role_id);
    cf_db_bind_text(st, 4, a->principal_id);
    cf_db_bind_int64(st, 5, a->created);
    int rc = cf_db_step(st);
    cf_db_done(st);
    CF_ENSURE(rc != CF_DB_CONSTRAINT, CF_ERR_CONFLICT, "The role assignment already exists.");
    return cf_db_ok(cf_store_db(store), rc);
}

bool cf_store_assignment_put(cf_store *store, const cf_role_assignment *a)
{
    return CF_LOCKED(store, cf_assignment_put_locked(store, a));
}

static bool cf_assignment_get_locked(cf_store *store, const char *name, cf_role_assignment *out)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_assignment_get);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, name);
    int rc = cf_db_step(st);
    if (rc == CF_DB_ROW)
        cf_read_assignment(st, out);
    cf_db_done(st);
    CF_ENSURE(rc != CF_DB_DONE, CF_ERR_NOT_FOUND, NULL);
    return cf_db_ok(cf_store_db(store), rc);
}

bool cf_store_assignment_get(cf_store *store, const char *name, cf_role_assignment *out)
{
    return CF_LOCKED(store, cf_assignment_get_locked(store, name, out));
}

static bool cf_assignment_delete_locked(cf_store *store, const char *name)
{
    cf_access_cache_changed(store->access);
    int changes = 0;
    CF_GUARD(cf_exec_bound(store, cf_sql_assignment_delete, name, &changes));
    CF_ENSURE(changes == 1, CF_ERR_NOT_FOUND, NULL);
    return true;
}

bool cf_store_assignment_delete(cf_store *store, const char *name)
{
    return CF_LOCKED(store, cf_assignment_delete_locked(store, name));
}

static bool cf_assignment_list_locked(cf_store *store, const char *principal,
                                      cf_role_assignment *rows, size_t cap, size_t *n)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store),
                                    principal ? cf_sql_assignment_of : cf_sql_assignment_all);
    CF_GUARD(st);
    if (principal)
        cf_db_bind_text(st, 1, principal);
    int rc;
    *n = 0;
    while (*n < cap && (rc = cf_db_step(st)) == CF_DB_ROW)
        cf_read_assignment(st, &rows[(*n)++]);
    cf_db_done(st);
    return *n == cap || cf_db_ok(cf_store_db(store), rc);
}

bool cf_store_assignment_list(cf_store *store, const char *principal, cf_role_assignment *rows,
                              size_t cap, size_t *n)
{
    if (principal && cf_access_cache_assignments(store->access, principal, rows, cap, n))
        return true;
    uint64_t gen = cf_access_cache_gen(store->access); /* before the read: access_cache.h */
    CF_GUARD(CF_LOCKED(store, cf_assignment_list_locked(store, principal, rows, cap, n)));
    if (principal && *n < cap) /* the whole list */
        cf_access_cache_keep_assignments(store->access, gen, principal, rows, *n);
    return true;
}
