/*
 * Users in the vault store (see store.h): a principal of kind "user" and
 * its row in `users`.  Same connection, lock and statement cache as
 * store.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define CF_USER_COLUMNS                                                                        \
    "object_id, name, password, totp IS NOT NULL, totp_step, failures, locked_until, created," \
    " password_changed, totp"

static const char cf_sql_user_add[] =
    "INSERT INTO users (object_id, name, password, totp, created, password_changed)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?5)";
static const char cf_sql_user_by_name[] =
    "SELECT " CF_USER_COLUMNS " FROM users WHERE name = ?1 OR object_id = ?1";
static const char cf_sql_user_list[] = "SELECT " CF_USER_COLUMNS " FROM users ORDER BY name";
static const char cf_sql_user_password[] =
    "UPDATE users SET password = ?2, password_changed = ?3, failures = 0, locked_until = 0"
    " WHERE object_id = ?1";
static const char cf_sql_user_failed[] =
    "UPDATE users SET failures = failures + 1 WHERE object_id = ?1 RETURNING failures";
static const char cf_sql_user_lock[] = "UPDATE users SET locked_until = ?2 WHERE object_id = ?1";
static const char cf_sql_user_signed_in[] =
    "UPDATE users SET failures = 0, locked_until = 0,"
    " totp_step = CASE WHEN ?2 > totp_step THEN ?2 ELSE totp_step END WHERE object_id = ?1";

static bool cf_user_add_tx(cf_store *store, const cf_principal *p, const cf_user *u,
                           cf_slice totp_sealed)
{
    CF_GUARD(cf_store_principal_add_locked(store, p));
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_user_add);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, u->object_id);
    cf_db_bind_text(st, 2, u->name);
    cf_db_bind_text(st, 3, u->password);
    if (totp_sealed.len)
        cf_db_bind_blob(st, 4, totp_sealed.ptr, totp_sealed.len);
    else
        cf_db_bind_null(st, 4);
    cf_db_bind_int64(st, 5, u->created);
    int rc = cf_db_step(st);
    cf_db_done(st);
    CF_ENSURE(rc != CF_DB_CONSTRAINT, CF_ERR_CONFLICT, "A user with this name exists.");
    return cf_db_ok(cf_store_db(store), rc);
}

static bool cf_user_add_locked(cf_store *store, const cf_principal *p, const cf_user *u,
                               cf_slice totp_sealed)
{
    CF_GUARD(cf_db_begin(cf_store_db(store)));
    return cf_db_commit(cf_store_db(store), cf_user_add_tx(store, p, u, totp_sealed));
}

bool cf_store_user_add(cf_store *store, const cf_principal *p, const cf_user *u,
                       cf_slice totp_sealed)
{
    return CF_LOCKED(store, cf_user_add_locked(store, p, u, totp_sealed));
}

static void cf_read_user(cf_db_stmt *st, cf_user *out)
{
    snprintf(out->object_id, sizeof out->object_id, "%s", cf_db_column_text(st, 0));
    snprintf(out->name, sizeof out->name, "%s", cf_db_column_text(st, 1));
    snprintf(out->password, sizeof out->password, "%s", cf_db_column_text(st, 2));
    out->totp = cf_db_column_int64(st, 3) != 0;
    out->totp_step = cf_db_column_int64(st, 4);
    out->failures = cf_db_column_int64(st, 5);
    out->locked_until = cf_db_column_int64(st, 6);
    out->created = cf_db_column_int64(st, 7);
    out->password_changed = cf_db_column_int64(st, 8);
}

static bool cf_user_get_locked(cf_store *store, const char *key, cf_user *out, cf_buf *totp)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_user_by_name);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, key);
    int rc = cf_db_step(st);
    bool ok = true;
    if (rc == CF_DB_ROW) {
        cf_read_user(st, out);
        if (totp && out->totp)
            ok = cf_buf_append(totp, cf_db_column_blob(st, 9), cf_db_column_bytes(st, 9));
    }
    cf_db_done(st);
    CF_GUARD(ok);
    CF_ENSURE(rc != CF_DB_DONE, CF_ERR_NOT_FOUND, "The user does not exist.");
    return cf_db_ok(cf_store_db(store), rc);
}

bool cf_store_user_get(cf_store *store, const char *name_or_oid, cf_user *out, cf_buf *totp_sealed)
{
    return CF_LOCKED(store, cf_user_get_locked(store, name_or_oid, out, totp_sealed));
}

typedef struct {
    cf_user_cb each;
    void *ctx;
} cf_user_walk;

static void cf_read_user_row(cf_db_stmt *st, void *row)
{
    cf_read_user(st, row);
}

static bool cf_each_user_row(void *ctx, const void *row)
{
    cf_user_walk *w = ctx;
    return w->each(w->ctx, row);
}

bool cf_store_user_list(cf_store *store, cf_user_cb each, void *ctx)
{
    cf_user_walk w = {each, ctx};
    return cf_store_list_rows(store, cf_sql_user_list, sizeof(cf_user), cf_read_user_row,
                              cf_each_user_row, &w);
}

/* Runs an UPDATE of one user: ?1 the object id, ?2 and ?3 as given
 * (NULL text = bound as an integer `n`). */
static bool cf_user_update_locked(cf_store *store, const char *sql, const char *oid,
                                  const char *text, int64_t n, bool has_n)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), sql);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, oid);
    if (text) {
        cf_db_bind_text(st, 2, text);
        cf_db_bind_int64(st, 3, n);
    } else if (has_n) {
        cf_db_bind_int64(st, 2, n);
    }
    CF_GUARD(cf_db_run(cf_store_db(store), st));
    CF_ENSURE(cf_db_changes(cf_store_db(store)) == 1, CF_ERR_NOT_FOUND, "The user does not exist.");
    return true;
}

bool cf_store_user_set_password(cf_store *store, const char *object_id, const char *hash,
                                int64_t now)
{
    return CF_LOCKED(
        store, cf_user_update_locked(store, cf_sql_user_password, object_id, hash, now, true));
}

bool cf_store_user_lock(cf_store *store, const char *object_id, int64_t until)
{
    return CF_LOCKED(store,
                     cf_user_update_locked(store, cf_sql_user_lock, object_id, NULL, until, true));
}

bool cf_store_user_signed_in(cf_store *store, const char *object_id, int64_t totp_step)
{
    return CF_LOCKED(store, cf_user_update_locked(store, cf_sql_user_signed_in, object_id, NULL,
                                                  totp_step, true));
}

static bool cf_user_failed_locked(cf_store *store, const char *oid, int64_t *failures)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_user_failed);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, oid);
    int rc = cf_db_step(st);
    if (rc == CF_DB_ROW)
        *failures = cf_db_column_int64(st, 0);
    cf_db_done(st);
    CF_ENSURE(rc != CF_DB_DONE, CF_ERR_NOT_FOUND, "The user does not exist.");
    return cf_db_ok(cf_store_db(store), rc);
}

bool cf_store_user_failed(cf_store *store, const char *object_id, int64_t *failures)
{
    return CF_LOCKED(store, cf_user_failed_locked(store, object_id, failures));
}
