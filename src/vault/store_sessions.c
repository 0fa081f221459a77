/*
 * Sign-in sessions and authorization codes in the vault store (see
 * store.h).  Same connection, lock and statement cache as store.c.
 */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

static const char cf_sql_session_add[] =
    "INSERT INTO sessions (sid, cookie_hash, refresh_hash, principal_id, created, expires)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
#define CF_SESSION_COLUMNS "SELECT sid, principal_id, created, expires, revoked FROM sessions"
static const char cf_sql_session_by_sid[] = CF_SESSION_COLUMNS " WHERE sid = ?1";
static const char cf_sql_session_by_cookie[] = CF_SESSION_COLUMNS " WHERE cookie_hash = ?1";
static const char cf_sql_session_by_refresh[] = CF_SESSION_COLUMNS " WHERE refresh_hash = ?1";
static const char cf_sql_session_by_previous[] =
    CF_SESSION_COLUMNS " WHERE previous_refresh_hash = ?1";
static const char cf_sql_session_revoke[] = "UPDATE sessions SET revoked = 1 WHERE sid = ?1";
/* A day past expiry: a revoked or expired session's tokens are refused
 * for as long as they could be presented. */
static const char cf_sql_session_sweep[] = "DELETE FROM sessions WHERE expires < ?1 - 86400";
static const char cf_sql_code_sweep[] = "DELETE FROM auth_codes WHERE expires < ?1";
static const char cf_sql_code_add[] =
    "INSERT INTO auth_codes (code_hash, sid, principal_id, client_id, redirect_uri, challenge,"
    " resource, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char cf_sql_code_take[] =
    "DELETE FROM auth_codes WHERE code_hash = ?1 RETURNING sid, principal_id, client_id,"
    " redirect_uri, challenge, resource, expires";

static bool cf_session_add_locked(cf_store *store, const cf_session *s, const char *cookie_hash,
                                  const char *refresh_hash)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_session_add);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, s->sid);
    cf_db_bind_text(st, 2, cookie_hash);
    cf_db_bind_text(st, 3, refresh_hash);
    cf_db_bind_text(st, 4, s->principal_id);
    cf_db_bind_int64(st, 5, s->created);
    cf_db_bind_int64(st, 6, s->expires);
    return cf_db_run(cf_store_db(store), st);
}

bool cf_store_session_add(cf_store *store, const cf_session *s, const char *cookie_hash,
                          const char *refresh_hash)
{
    return CF_LOCKED(store, cf_session_add_locked(store, s, cookie_hash, refresh_hash));
}

static bool cf_session_find_locked(cf_store *store, const char *sql, const char *value,
                                   cf_session *out)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), sql);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, value);
    int rc = cf_db_step(st);
    if (rc == CF_DB_ROW) {
        snprintf(out->sid, sizeof out->sid, "%s", cf_db_column_text(st, 0));
        snprintf(out->principal_id, sizeof out->principal_id, "%s", cf_db_column_text(st, 1));
        out->created = cf_db_column_int64(st, 2);
        out->expires = cf_db_column_int64(st, 3);
        out->revoked = cf_db_column_int64(st, 4) != 0;
    }
    cf_db_done(st);
    CF_ENSURE(rc != CF_DB_DONE, CF_ERR_NOT_FOUND, "no such session");
    return cf_db_ok(cf_store_db(store), rc);
}

bool cf_store_session_find(cf_store *store, const char *by, const char *value, cf_session *out)
{
    const char *sql = strcmp(by, "sid") == 0                     ? cf_sql_session_by_sid
                      : strcmp(by, "cookie_hash") == 0           ? cf_sql_session_by_cookie
                      : strcmp(by, "refresh_hash") == 0          ? cf_sql_session_by_refresh
                      : strcmp(by, "previous_refresh_hash") == 0 ? cf_sql_session_by_previous
                                                                 : NULL;
    CF_ENSURE(sql, CF_ERR_INTERNAL, "unknown session key");
    return CF_LOCKED(store, cf_session_find_locked(store, sql, value, out));
}

static bool cf_run_text(cf_store *store, const char *sql, const char *value)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), sql);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, value);
    return cf_db_run(cf_store_db(store), st);
}

bool cf_store_session_revoke(cf_store *store, const char *sid)
{
    return CF_LOCKED(store, cf_run_text(store, cf_sql_session_revoke, sid));
}

static const char cf_sql_session_rotate[] =
    "UPDATE sessions SET previous_refresh_hash = refresh_hash, refresh_hash = ?3"
    " WHERE sid = ?1 AND refresh_hash = ?2";

static const char cf_sql_session_set_refresh[] =
    "UPDATE sessions SET refresh_hash = ?3 WHERE sid = ?1 AND ?2 = ''";

static bool cf_session_rotate_locked(cf_store *store, const char *sid, const char *old,
                                     const char *fresh, bool *swapped)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store),
                                    old ? cf_sql_session_rotate : cf_sql_session_set_refresh);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, sid);
    cf_db_bind_text(st, 2, old ? old : "");
    cf_db_bind_text(st, 3, fresh);
    CF_GUARD(cf_db_run(cf_store_db(store), st));
    *swapped = cf_db_changes(cf_store_db(store)) == 1;
    return true;
}

bool cf_store_session_rotate(cf_store *store, const char *sid, const char *old, const char *fresh,
                             bool *swapped)
{
    return CF_LOCKED(store, cf_session_rotate_locked(store, sid, old, fresh, swapped));
}

static bool cf_run_time(cf_store *store, const char *sql, int64_t now)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), sql);
    CF_GUARD(st);
    cf_db_bind_int64(st, 1, now);
    return cf_db_run(cf_store_db(store), st);
}

static bool cf_code_add_locked(cf_store *store, const char *code_hash, const cf_auth_code *c,
                               int64_t now)
{
    CF_GUARD(cf_run_time(store, cf_sql_code_sweep, now));
    CF_GUARD(cf_run_time(store, cf_sql_session_sweep, now));
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_code_add);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, code_hash);
    cf_db_bind_text(st, 2, c->sid);
    cf_db_bind_text(st, 3, c->principal_id);
    cf_db_bind_text(st, 4, c->client_id);
    cf_db_bind_text(st, 5, c->redirect_uri);
    cf_db_bind_text(st, 6, c->challenge);
    cf_db_bind_text(st, 7, c->resource);
    cf_db_bind_int64(st, 8, c->expires);
    return cf_db_run(cf_store_db(store), st);
}

bool cf_store_code_add(cf_store *store, const char *code_hash, const cf_auth_code *c, int64_t now)
{
    return CF_LOCKED(store, cf_code_add_locked(store, code_hash, c, now));
}

static bool cf_code_take_locked(cf_store *store, const char *code_hash, cf_auth_code *out)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_code_take);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, code_hash);
    int rc = cf_db_step(st);
    if (rc == CF_DB_ROW) {
        snprintf(out->sid, sizeof out->sid, "%s", cf_db_column_text(st, 0));
        snprintf(out->principal_id, sizeof out->principal_id, "%s", cf_db_column_text(st, 1));
        snprintf(out->client_id, sizeof out->client_id, "%s", cf_db_column_text(st, 2));
        snprintf(out->redirect_uri, sizeof out->redirect_uri, "%s", cf_db_column_text(st, 3));
        snprintf(out->challenge, sizeof out->challenge, "%s", cf_db_column_text(st, 4));
        snprintf(out->resource, sizeof out->resource, "%s", cf_db_column_text(st, 5));
        out->expires = cf_db_column_int64(st, 6);
        rc = cf_db_step(st); /* RETURNING: the statement finishes after its row */
    }
    cf_db_done(st);
    CF_ENSURE(rc != CF_DB_DONE || out->expires, CF_ERR_NOT_FOUND, "no such code");
    return rc == CF_DB_DONE || cf_db_ok(cf_store_db(store), rc);
}

bool cf_store_code_take(cf_store *store, const char *code_hash, cf_auth_code *out)
{
    memset(out, 0, sizeof *out);
    return CF_LOCKED(store, cf_code_take_locked(store, code_hash, out));
}
