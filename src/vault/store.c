/*
 * SQLite implementation of the vault store (see store.h).
 *
 * The connection, its statement cache and transactions are db.h's:
 * statements are prepared once and cached by their SQL text's address (all
 * SQL here is static), reset after each use.  One mutex serialises access
 * to the single connection.  Writes that touch several rows run inside
 * BEGIN IMMEDIATE ... COMMIT.
 */
#include "json_secure.h"
#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static const char cf_schema[] =
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS objects ("
    "  kind TEXT NOT NULL, name TEXT NOT NULL COLLATE NOCASE,"
    "  deleted_at INTEGER, purge_at INTEGER, policy TEXT,"
    "  PRIMARY KEY (kind, name));"
    "CREATE TABLE IF NOT EXISTS versions ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind TEXT NOT NULL, name TEXT NOT NULL COLLATE NOCASE, version TEXT NOT NULL,"
    "  created INTEGER NOT NULL, updated INTEGER NOT NULL, enabled INTEGER NOT NULL,"
    "  nbf INTEGER, exp INTEGER, tags TEXT, props TEXT NOT NULL, sealed BLOB,"
    "  UNIQUE (kind, name, version));"
    "CREATE INDEX IF NOT EXISTS versions_by_name ON versions (kind, name, seq);"
    "CREATE TABLE IF NOT EXISTS principals ("
    "  object_id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL,"
    "  client_id TEXT NOT NULL UNIQUE, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS credentials ("
    "  id INTEGER PRIMARY KEY, object_id TEXT NOT NULL REFERENCES principals(object_id),"
    "  salt BLOB NOT NULL, hash BLOB NOT NULL, expires INTEGER NOT NULL,"
    "  created INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS credentials_by_oid ON credentials (object_id);"
    "CREATE TABLE IF NOT EXISTS role_assignments ("
    "  name TEXT PRIMARY KEY COLLATE NOCASE, scope TEXT NOT NULL COLLATE NOCASE,"
    "  role_id TEXT NOT NULL COLLATE NOCASE, principal_id TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS assignments_by_principal ON role_assignments (principal_id);"
    "CREATE TABLE IF NOT EXISTS users ("
    "  object_id TEXT PRIMARY KEY REFERENCES principals(object_id),"
    "  name TEXT NOT NULL UNIQUE COLLATE NOCASE, password TEXT NOT NULL, totp BLOB,"
    "  totp_step INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,"
    "  locked_until INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
    "  password_changed INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sessions ("
    "  sid TEXT PRIMARY KEY, cookie_hash TEXT NOT NULL UNIQUE, refresh_hash TEXT NOT NULL UNIQUE,"
    "  previous_refresh_hash TEXT,"
    "  principal_id TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL,"
    "  revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS auth_codes ("
    "  code_hash TEXT PRIMARY KEY, sid TEXT NOT NULL, principal_id TEXT NOT NULL,"
    "  client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL, challenge TEXT NOT NULL,"
    "  resource TEXT NOT NULL, expires INTEGER NOT NULL);";

/* The same tables on PostgreSQL: names compare without case through an ICU
 * collation (as SQLite's NOCASE does for the ASCII names Key Vault
 * allows), sequences are identities, blobs bytea. */
static const char cf_schema_pg[] =
    "CREATE COLLATION IF NOT EXISTS coffer_nocase"
    "  (provider = icu, locale = 'und-u-ks-level2', deterministic = false);"
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BYTEA NOT NULL);"
    "CREATE TABLE IF NOT EXISTS objects ("
    "  kind TEXT NOT NULL, name TEXT NOT NULL COLLATE coffer_nocase,"
    "  deleted_at BIGINT, purge_at BIGINT, policy TEXT,"
    "  PRIMARY KEY (kind, name));"
    "CREATE TABLE IF NOT EXISTS versions ("
    "  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  kind TEXT NOT NULL, name TEXT NOT NULL COLLATE coffer_nocase, version TEXT NOT NULL,"
    "  created BIGINT NOT NULL, updated BIGINT NOT NULL, enabled BIGINT NOT NULL,"
    "  nbf BIGINT, exp BIGINT, tags TEXT, props TEXT NOT NULL, sealed BYTEA,"
    "  UNIQUE (kind, name, version));"
    "CREATE INDEX IF NOT EXISTS versions_by_name ON versions (kind, name, seq);"
    "CREATE TABLE IF NOT EXISTS principals ("
    "  object_id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL,"
    "  client_id TEXT NOT NULL UNIQUE, created BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS credentials ("
    "  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  object_id TEXT NOT NULL REFERENCES principals(object_id),"
    "  salt BYTEA NOT NULL, hash BYTEA NOT NULL, expires BIGINT NOT NULL,"
    "  created BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS credentials_by_oid ON credentials (object_id);"
    "CREATE TABLE IF NOT EXISTS role_assignments ("
    "  name TEXT PRIMARY KEY COLLATE coffer_nocase, scope TEXT NOT NULL COLLATE coffer_nocase,"
    "  role_id TEXT NOT NULL COLLATE coffer_nocase, principal_id TEXT NOT NULL,"
    "  created BIGINT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS assignments_by_principal ON role_assignments (principal_id);"
    "CREATE TABLE IF NOT EXISTS users ("
    "  object_id TEXT PRIMARY KEY REFERENCES principals(object_id),"
    "  name TEXT NOT NULL UNIQUE COLLATE coffer_nocase, password TEXT NOT NULL, totp BYTEA,"
    "  totp_step BIGINT NOT NULL DEFAULT 0, failures BIGINT NOT NULL DEFAULT 0,"
    "  locked_until BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL,"
    "  password_changed BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sessions ("
    "  sid TEXT PRIMARY KEY, cookie_hash TEXT NOT NULL UNIQUE, refresh_hash TEXT NOT NULL UNIQUE,"
    "  previous_refresh_hash TEXT,"
    "  principal_id TEXT NOT NULL, created BIGINT NOT NULL, expires BIGINT NOT NULL,"
    "  revoked BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS auth_codes ("
    "  code_hash TEXT PRIMARY KEY, sid TEXT NOT NULL, principal_id TEXT NOT NULL,"
    "  client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL, challenge TEXT NOT NULL,"
    "  resource TEXT NOT NULL, expires BIGINT NOT NULL);";

/* Schema changes after the first release, applied in order on open. */
static const cf_db_step_def cf_migrations[] = {
    /* 1: credentials record their creation time */
    {.sql = "ALTER TABLE credentials ADD COLUMN created INTEGER NOT NULL DEFAULT 0"},
};

void cf_object_init(cf_object *obj)
{
    memset(obj, 0, sizeof *obj);
    cf_buf_init(&obj->sealed, CF_MIB);
}

void cf_object_free(cf_object *obj)
{
    json_decref(obj->tags);
    json_decref(obj->props);
    cf_buf_free(&obj->sealed);
    obj->tags = obj->props = NULL;
}

/* A cached statement with ?1 = kind and ?2 = name bound, as most take. */
static cf_db_stmt *cf_stmt_named(cf_store *store, const char *sql, const char *kind,
                                 const char *name)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), sql);
    if (st) {
        cf_db_bind_text(st, 1, kind);
        cf_db_bind_text(st, 2, name);
    }
    return st;
}

/* A new database gets the current schema; an older one its missing
 * migrations (the steps are SQLite's: PostgreSQL stores began at the
 * current schema).  The schema runs last in every case: CREATE ... IF NOT
 * EXISTS adds the tables and indexes introduced since the database was
 * made. */
static bool cf_store_migrate(cf_store *store)
{
    const cf_db_schema schema = {
        .steps = cf_migrations,
        .n = sizeof cf_migrations / sizeof *cf_migrations,
        .then_sql = cf_db_sql(cf_store_db(store), cf_schema, cf_schema_pg),
        .marker_table = "meta",
        .ctx = store,
    };
    return cf_db_migrate(cf_store_db(store), &schema, NULL);
}

/* ---- connections ---- */

static _Thread_local cf_db *cf_held_db; /* the connection this thread holds */

cf_store_conn *cf_store_acquire_at(cf_store *store, unsigned i)
{
    cf_store_conn *c = &store->conn[i];
    pthread_mutex_lock(&c->lock);
    cf_held_db = c->db;
    return c;
}

cf_store_conn *cf_store_acquire(cf_store *store)
{
    unsigned start = store->next++ % store->n_conns;
    for (unsigned k = 0; k < store->n_conns; k++) {
        cf_store_conn *c = &store->conn[(start + k) % store->n_conns];
        if (pthread_mutex_trylock(&c->lock) == 0) {
            cf_held_db = c->db;
            return c;
        }
    }
    return cf_store_acquire_at(store, start); /* all busy: wait for one */
}

void cf_store_release(cf_store_conn *c)
{
    cf_held_db = NULL;
    pthread_mutex_unlock(&c->lock);
}

cf_db *cf_store_db(const cf_store *store)
{
    (void)store; /* named at every use: the statement runs on this store's connection */
    return cf_held_db;
}

bool cf_store_open(cf_db_backend backend, const char *where, cf_slice master_key, cf_store **out)
{
    cf_store *store = calloc(1, sizeof *store);
    CF_ENSURE_ALLOC(store);
    bool lite = backend == CF_DB_SQLITE;
    store->n_conns = lite ? 1 : CF_STORE_PG_CONNS;
    store->access = lite ? cf_access_cache_new() : NULL;
    for (unsigned i = 0; i < CF_STORE_PG_CONNS; i++)
        pthread_mutex_init(&store->conn[i].lock, NULL);
    bool ok = !lite || cf_tde_store_prepare(where, master_key, true, &store->tde);
    /* SQLite: one process owns the database (service.lock): exclusive
     * locking spares every transaction its file-lock system calls, and
     * keeps the WAL index in memory instead of a shared -shm file.
     * synchronous=FULL: every commit is durable when it returns.
     * PostgreSQL: every commit is durable; writers of the vault store take
     * its advisory lock. */
    const cf_db_config config = {
        .backend = backend,
        .path = where,
        .sqlite_uri = lite ? (const char *)store->tde.uri.data : NULL,
        .conninfo = where,
        .what = "the database",
        .pragmas = "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL;"
                   "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                   "PRAGMA secure_delete=ON;",
        .busy_timeout_ms = CF_STORE_BUSY_TIMEOUT_MS,
        .stmt_cache = CF_STMT_CACHE,
        .write_lock = CF_STORE_WRITE_LOCK,
        .store_name = "vault",
    };
    for (unsigned i = 0; ok && i < store->n_conns; i++)
        ok = cf_db_open(&config, &store->conn[i].db) || (lite && cf_tde_store_explain());
    /* The schema once, on the first connection. */
    if (!ok || !CF_LOCKED_AT(store, 0, cf_store_migrate(store))) {
        cf_store_close(store);
        return false;
    }
    *out = store;
    return true;
}

void cf_store_close(cf_store *store)
{
    if (!store)
        return;
    for (unsigned i = 0; i < CF_STORE_PG_CONNS; i++) {
        cf_db_close(store->conn[i].db);
        pthread_mutex_destroy(&store->conn[i].lock);
    }
    cf_tde_store_release(&store->tde);
    cf_access_cache_free(store->access);
    free(store);
}

/* ---- meta ---- */

static const char cf_sql_meta_get[] = "SELECT value FROM meta WHERE name = ?1";
static const char cf_sql_meta_put[] = "INSERT INTO meta (name, value) VALUES (?1, ?2)"
                                      " ON CONFLICT (name) DO UPDATE SET value = excluded.value";

static bool cf_meta_get_locked(cf_store *store, const char *name, cf_buf *out)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_meta_get);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, name);
    int rc = cf_db_step(st);
    bool ok = rc == CF_DB_ROW &&
              cf_buf_append(out, cf_db_column_blob(st, 0), (size_t)cf_db_column_bytes(st, 0));
    cf_db_done(st);
    CF_ENSURE(rc == CF_DB_ROW, rc == CF_DB_DONE ? CF_ERR_NOT_FOUND : CF_ERR_DB, "meta value");
    return ok;
}

bool cf_store_meta_get(cf_store *store, const char *name, cf_buf *out)
{
    return CF_LOCKED(store, cf_meta_get_locked(store, name, out));
}

static bool cf_meta_put_locked(cf_store *store, const char *name, cf_slice value)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_meta_put);
    CF_GUARD(st);
    cf_db_bind_text(st, 1, name);
    cf_db_bind_blob(st, 2, value.ptr, value.len);
    return cf_db_run(cf_store_db(store), st);
}

bool cf_store_meta_put(cf_store *store, const char *name, cf_slice value)
{
    return CF_LOCKED(store, cf_meta_put_locked(store, name, value));
}

/* ---- objects ---- */

static const char cf_sql_name_state[] =
    "SELECT name, deleted_at FROM objects WHERE kind = ?1 AND name = ?2";
static const char cf_sql_name_insert[] = "INSERT INTO objects (kind, name) VALUES (?1, ?2)";
static const char cf_sql_version_insert[] =
    "INSERT INTO versions (kind, name, version, created, updated, enabled, nbf, exp, tags, props,"
    " sealed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

#define CF_VERSION_COLUMNS                                                               \
    "o.name, v.version, v.created, v.updated, v.enabled, v.nbf, v.exp, v.tags, v.props," \
    " v.sealed, o.deleted_at, o.purge_at, v.seq"

static void cf_bind_optional_int(cf_db_stmt *st, int col, int64_t v)
{
    if (v)
        cf_db_bind_int64(st, col, v);
    else
        cf_db_bind_null(st, col);
}

static bool cf_bind_json(cf_db_stmt *st, int col, json_t *j, char **owned)
{
    *owned = NULL;
    if (!j) {
        cf_db_bind_null(st, col);
        return true;
    }
    *owned = json_dumps(j, JSON_COMPACT);
    CF_ENSURE_ALLOC(*owned);
    cf_db_bind_text(st, col, *owned);
    return true;
}

static bool cf_column_json(cf_db_stmt *st, int col, json_t **out)
{
    *out = NULL;
    if (cf_db_column_is_null(st, col))
        return true;
    const char *text = (const char *)cf_db_column_text(st, col);
    *out = json_loads(text ? text : "null", 0, NULL);
    CF_ENSURE(*out, CF_ERR_DB, "stored JSON is malformed");
    return true;
}

static bool cf_read_object(cf_db_stmt *st, const char *kind, cf_object *out)
{
    cf_object_free(out);
    cf_object_init(out);
    snprintf(out->kind, sizeof out->kind, "%s", kind);
    snprintf(out->name, sizeof out->name, "%s", (const char *)cf_db_column_text(st, 0));
    snprintf(out->version, sizeof out->version, "%s", (const char *)cf_db_column_text(st, 1));
    out->created = cf_db_column_int64(st, 2);
    out->updated = cf_db_column_int64(st, 3);
    out->enabled = cf_db_column_int(st, 4) != 0;
    out->nbf = cf_db_column_int64(st, 5);
    out->exp = cf_db_column_int64(st, 6);
    CF_GUARD(cf_column_json(st, 7, &out->tags));
    CF_GUARD(cf_column_json(st, 8, &out->props));
    CF_GUARD(
        cf_buf_append(&out->sealed, cf_db_column_blob(st, 9), (size_t)cf_db_column_bytes(st, 9)));
    out->deleted_at = cf_db_column_int64(st, 10);
    out->purge_at = cf_db_column_int64(st, 11);
    return true;
}

/* State of a name: 0 absent, 1 live, 2 deleted. */
static bool cf_name_state(cf_store *store, const char *kind, const char *name, int *state)
{
    cf_db_stmt *st = cf_stmt_named(store, cf_sql_name_state, kind, name);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    *state = rc == CF_DB_ROW ? (cf_db_column_is_null(st, 1) ? 1 : 2) : 0;
    cf_db_done(st);
    return cf_db_ok(cf_store_db(store), rc);
}

/* Binds what the version insert and update statements share; both number
 * their parameters alike: ?1 kind, ?2 name, ?3 version, ?5 updated,
 * ?6 enabled, ?7 nbf, ?8 exp, ?9 tags, ?10 props (?4 created and ?11
 * sealed are the insert's alone).  The JSON texts are returned to free. */
static bool cf_bind_version(cf_db_stmt *st, const cf_object *obj, char **tags, char **props)
{
    *props = NULL;
    CF_GUARD(cf_bind_json(st, 9, obj->tags, tags));
    CF_GUARD(cf_bind_json(st, 10, obj->props, props));
    cf_db_bind_text(st, 1, obj->kind);
    cf_db_bind_text(st, 2, obj->name);
    cf_db_bind_text(st, 3, obj->version);
    cf_db_bind_int64(st, 5, obj->updated);
    cf_db_bind_int64(st, 6, obj->enabled);
    cf_bind_optional_int(st, 7, obj->nbf);
    cf_bind_optional_int(st, 8, obj->exp);
    return true;
}

static bool cf_insert_version(cf_store *store, const cf_object *obj)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_version_insert);
    CF_GUARD(st);
    char *tags = NULL, *props = NULL;
    bool ok = cf_bind_version(st, obj, &tags, &props);
    if (ok) {
        cf_db_bind_int64(st, 4, obj->created);
        cf_db_bind_blob(st, 11, obj->sealed.data, obj->sealed.len);
        ok = cf_db_ok(cf_store_db(store), cf_db_step(st));
    }
    cf_db_done(st);
    cf_json_free_text(tags);
    cf_json_free_text(props);
    return ok;
}

static bool cf_insert_name(cf_store *store, const char *kind, const char *name)
{
    cf_db_stmt *st = cf_stmt_named(store, cf_sql_name_insert, kind, name);
    CF_GUARD(st);
    return cf_db_run(cf_store_db(store), st);
}

static bool cf_object_insert_tx(cf_store *store, const cf_object *obj)
{
    int state;
    CF_GUARD(cf_name_state(store, obj->kind, obj->name, &state));
    CF_ENSURE(state != 2, CF_ERR_DELETED, NULL);
    if (state == 0)
        CF_GUARD(cf_insert_name(store, obj->kind, obj->name));
    return cf_insert_version(store, obj);
}

static bool cf_object_insert_locked(cf_store *store, const cf_object *obj)
{
    CF_GUARD(cf_db_begin(cf_store_db(store)));
    return cf_db_commit(cf_store_db(store), cf_object_insert_tx(store, obj));
}

bool cf_store_object_insert(cf_store *store, const cf_object *obj)
{
    return CF_LOCKED(store, cf_object_insert_locked(store, obj));
}

static bool cf_object_restore_tx(cf_store *store, const cf_object *versions, size_t n)
{
    CF_ENSURE(n > 0, CF_ERR_BAD_INPUT, "nothing to restore");
    int state;
    CF_GUARD(cf_name_state(store, versions[0].kind, versions[0].name, &state));
    CF_ENSURE(state != 2, CF_ERR_DELETED, NULL);
    CF_ENSURE(state == 0, CF_ERR_CONFLICT, "an object with this name already exists");
    CF_GUARD(cf_insert_name(store, versions[0].kind, versions[0].name));
    for (size_t i = 0; i < n; i++)
        CF_GUARD(cf_insert_version(store, &versions[i]));
    return true;
}

static bool cf_object_restore_locked(cf_store *store, const cf_object *versions, size_t n)
{
    CF_GUARD(cf_db_begin(cf_store_db(store)));
    return cf_db_commit(cf_store_db(store), cf_object_restore_tx(store, versions, n));
}

bool cf_store_object_restore(cf_store *store, const cf_object *versions, size_t n)
{
    return CF_LOCKED(store, cf_object_restore_locked(store, versions, n));
}

static const char cf_sql_get_version[] =
    "SELECT " CF_VERSION_COLUMNS
    " FROM versions v JOIN objects o ON o.kind = v.kind AND o.name = v.name"
    " WHERE v.kind = ?1 AND v.name = ?2 AND v.version = ?3 AND (o.deleted_at IS NULL) = (?4 = 0)";
static const char cf_sql_get_latest[] =
    "SELECT " CF_VERSION_COLUMNS
    " FROM versions v JOIN objects o ON o.kind = v.kind AND o.name = v.name"
    " WHERE v.kind = ?1 AND v.name = ?2 AND (o.deleted_at IS NULL) = (?4 = 0)"
    " ORDER BY v.seq DESC LIMIT 1";

static bool cf_object_get_locked(cf_store *store, const char *kind, const char *name,
                                 const char *version, bool deleted, cf_object *out)
{
    bool latest = !version || !*version;
    cf_db_stmt *st =
        cf_stmt_named(store, latest ? cf_sql_get_latest : cf_sql_get_version, kind, name);
    CF_GUARD(st);
    if (!latest)
        cf_db_bind_text(st, 3, version);
    cf_db_bind_int64(st, 4, deleted);
    int rc = cf_db_step(st);
    bool ok = rc == CF_DB_ROW && cf_read_object(st, kind, out);
    cf_db_done(st);
    if (rc == CF_DB_DONE)
        CF_BAIL(CF_ERR_NOT_FOUND, NULL);
    CF_GUARD(cf_db_ok(cf_store_db(store), rc));
    return ok;
}

bool cf_store_object_get(cf_store *store, const char *kind, const char *name, const char *version,
                         bool deleted, cf_object *out)
{
    return CF_LOCKED(store, cf_object_get_locked(store, kind, name, version, deleted, out));
}

static const char cf_sql_update[] =
    "UPDATE versions SET updated = ?5, enabled = ?6, nbf = ?7, exp = ?8, tags = ?9, props = ?10"
    " WHERE kind = ?1 AND name = ?2 AND version = ?3";

static bool cf_object_update_locked(cf_store *store, const cf_object *obj)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_update);
    CF_GUARD(st);
    char *tags = NULL, *props = NULL;
    bool ok =
        cf_bind_version(st, obj, &tags, &props) && cf_db_ok(cf_store_db(store), cf_db_step(st));
    cf_db_done(st);
    cf_json_free_text(tags);
    cf_json_free_text(props);
    CF_GUARD(ok);
    CF_ENSURE(cf_db_changes(cf_store_db(store)) == 1, CF_ERR_NOT_FOUND, NULL);
    return true;
}

bool cf_store_object_update(cf_store *store, const cf_object *obj)
{
    return CF_LOCKED(store, cf_object_update_locked(store, obj));
}

/* Runs a listing statement, calling `each` per row; rows beyond `limit`
 * only set the next marker. */
static bool cf_run_listing(cf_store *store, cf_db_stmt *st, const char *kind, unsigned limit,
                           cf_object_cb each, void *ctx, bool marker_is_seq, char *next,
                           size_t next_len)
{
    cf_object obj;
    cf_object_init(&obj);
    unsigned n = 0;
    int rc;
    bool ok = true;
    char last[CF_NAME_MAX + 1] = "";
    if (next_len)
        next[0] = 0;
    while (ok && (rc = cf_db_step(st)) == CF_DB_ROW) {
        if (n == limit) {
            if (next_len)
                snprintf(next, next_len, "%s", last);
            break;
        }
        ok = cf_read_object(st, kind, &obj) && each(ctx, &obj);
        if (marker_is_seq)
            snprintf(last, sizeof last, "%lld", (long long)cf_db_column_int64(st, 12));
        else
            snprintf(last, sizeof last, "%s", obj.name);
        n++;
    }
    if (ok && rc != CF_DB_ROW)
        ok = cf_db_ok(cf_store_db(store), rc);
    cf_db_done(st);
    cf_object_free(&obj);
    return ok;
}

#define CF_SQL_LIST                                                           \
    "SELECT " CF_VERSION_COLUMNS " FROM objects o JOIN versions v ON v.seq =" \
    " (SELECT max(seq) FROM versions WHERE kind = o.kind AND name = o.name)"  \
    " WHERE o.kind = ?1 AND (o.deleted_at IS NULL) = (?2 = 0) AND o.name > ?3"
static const char cf_sql_list[] = CF_SQL_LIST " ORDER BY o.name COLLATE NOCASE LIMIT ?4";
/* The column's collation orders without case there. */
static const char cf_sql_list_pg[] = CF_SQL_LIST " ORDER BY o.name LIMIT ?4";

static bool cf_object_list_locked(cf_store *store, const char *kind, bool deleted,
                                  const char *marker, unsigned limit, cf_object_cb each, void *ctx,
                                  char *next, size_t next_len)
{
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store),
                                    cf_db_sql(cf_store_db(store), cf_sql_list, cf_sql_list_pg));
    CF_GUARD(st);
    cf_db_bind_text(st, 1, kind);
    cf_db_bind_int64(st, 2, deleted);
    cf_db_bind_text(st, 3, marker ? marker : "");
    cf_db_bind_int64(st, 4, (int64_t)limit + 1);
    return cf_run_listing(store, st, kind, limit, each, ctx, false, next, next_len);
}

bool cf_store_object_list(cf_store *store, const char *kind, bool deleted, const char *marker,
                          unsigned limit, cf_object_cb each, void *ctx, char *next_marker,
                          size_t next_len)
{
    return CF_LOCKED(store, cf_object_list_locked(store, kind, deleted, marker, limit, each, ctx,
                                                  next_marker, next_len));
}

static const char cf_sql_versions[] =
    "SELECT " CF_VERSION_COLUMNS
    " FROM versions v JOIN objects o ON o.kind = v.kind AND o.name = v.name"
    " WHERE v.kind = ?1 AND v.name = ?2 AND o.deleted_at IS NULL AND v.seq > ?3"
    " ORDER BY v.seq LIMIT ?4";

static bool cf_object_versions_locked(cf_store *store, const char *kind, const char *name,
                                      const char *marker, unsigned limit, cf_object_cb each,
                                      void *ctx, char *next, size_t next_len)
{
    cf_db_stmt *st = cf_stmt_named(store, cf_sql_versions, kind, name);
    CF_GUARD(st);
    cf_db_bind_int64(st, 3, marker && *marker ? strtoll(marker, NULL, 10) : 0);
    cf_db_bind_int64(st, 4, (int64_t)limit + 1);
    return cf_run_listing(store, st, kind, limit, each, ctx, true, next, next_len);
}

bool cf_store_object_versions(cf_store *store, const char *kind, const char *name,
                              const char *marker, unsigned limit, cf_object_cb each, void *ctx,
                              char *next_marker, size_t next_len)
{
    return CF_LOCKED(store, cf_object_versions_locked(store, kind, name, marker, limit, each, ctx,
                                                      next_marker, next_len));
}

bool cf_store_object_all_versions(cf_store *store, const char *kind, const char *name,
                                  cf_object_cb each, void *ctx)
{
    return CF_LOCKED(store, cf_object_versions_locked(store, kind, name, "", UINT32_MAX - 1, each,
                                                      ctx, NULL, 0));
}

static const char cf_sql_delete[] =
    "UPDATE objects SET deleted_at = ?3, purge_at = ?4 WHERE kind = ?1 AND name = ?2"
    " AND deleted_at IS NULL";
static const char cf_sql_recover[] =
    "UPDATE objects SET deleted_at = NULL, purge_at = NULL WHERE kind = ?1 AND name = ?2"
    " AND deleted_at IS NOT NULL";

static bool cf_name_change(cf_store *store, const char *sql, const char *kind, const char *name,
                           int64_t a, int64_t b)
{
    cf_db_stmt *st = cf_stmt_named(store, sql, kind, name);
    CF_GUARD(st);
    if (sql == cf_sql_delete) {
        cf_db_bind_int64(st, 3, a);
        cf_db_bind_int64(st, 4, b);
    }
    CF_GUARD(cf_db_run(cf_store_db(store), st));
    CF_ENSURE(cf_db_changes(cf_store_db(store)) == 1, CF_ERR_NOT_FOUND, NULL);
    return true;
}

bool cf_store_object_delete(cf_store *store, const char *kind, const char *name, int64_t now,
                            int64_t purge_at)
{
    return CF_LOCKED(store, cf_name_change(store, cf_sql_delete, kind, name, now, purge_at));
}

bool cf_store_object_recover(cf_store *store, const char *kind, const char *name)
{
    return CF_LOCKED(store, cf_name_change(store, cf_sql_recover, kind, name, 0, 0));
}

static const char cf_sql_purge_versions[] = "DELETE FROM versions WHERE kind = ?1 AND name = ?2";
static const char cf_sql_purge_name[] =
    "DELETE FROM objects WHERE kind = ?1 AND name = ?2 AND deleted_at IS NOT NULL";

static bool cf_purge_tx(cf_store *store, const char *kind, const char *name)
{
    cf_db_stmt *st = cf_stmt_named(store, cf_sql_purge_name, kind, name);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    cf_db_done(st);
    CF_GUARD(cf_db_ok(cf_store_db(store), rc));
    CF_ENSURE(cf_db_changes(cf_store_db(store)) == 1, CF_ERR_NOT_FOUND, NULL);
    st = cf_stmt_named(store, cf_sql_purge_versions, kind, name);
    CF_GUARD(st);
    rc = cf_db_step(st);
    cf_db_done(st);
    return cf_db_ok(cf_store_db(store), rc);
}

static bool cf_purge_locked(cf_store *store, const char *kind, const char *name)
{
    CF_GUARD(cf_db_begin(cf_store_db(store)));
    return cf_db_commit(cf_store_db(store), cf_purge_tx(store, kind, name));
}

bool cf_store_object_purge(cf_store *store, const char *kind, const char *name)
{
    return CF_LOCKED(store, cf_purge_locked(store, kind, name));
}

static const char cf_sql_expired[] =
    "SELECT kind, name FROM objects WHERE deleted_at IS NOT NULL AND purge_at <= ?1 LIMIT 1";

bool cf_store_purge_expired(cf_store *store, int64_t now, unsigned *purged,
                            void (*each_purged)(const char *kind, const char *name))
{
    *purged = 0;
    for (;;) {
        char kind[8], name[CF_NAME_MAX + 1];
        cf_store_conn *held = cf_store_acquire(store);
        cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_expired);
        bool ok = st != NULL, found = false;
        if (ok) {
            cf_db_bind_int64(st, 1, now);
            int rc = cf_db_step(st);
            found = rc == CF_DB_ROW;
            if (found) {
                snprintf(kind, sizeof kind, "%s", (const char *)cf_db_column_text(st, 0));
                snprintf(name, sizeof name, "%s", (const char *)cf_db_column_text(st, 1));
            }
            cf_db_done(st);
            ok = cf_db_ok(cf_store_db(store), rc) && (!found || cf_purge_locked(store, kind, name));
        }
        cf_store_release(held);
        CF_GUARD(ok);
        if (!found)
            return true;
        if (each_purged)
            each_purged(kind, name);
        (*purged)++;
    }
}

/* ---- policies ---- */

static const char cf_sql_policy_get[] =
    "SELECT policy FROM objects WHERE kind = ?1 AND name = ?2 AND deleted_at IS NULL";
static const char cf_sql_policy_put[] =
    "UPDATE objects SET policy = ?3 WHERE kind = ?1 AND name = ?2 AND deleted_at IS NULL";
static const char cf_sql_policy_each[] = "SELECT name, policy FROM objects WHERE kind = ?1 AND "
                                         "deleted_at IS NULL AND policy IS NOT NULL";

static bool cf_policy_get_locked(cf_store *store, const char *kind, const char *name, json_t **out)
{
    cf_db_stmt *st = cf_stmt_named(store, cf_sql_policy_get, kind, name);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    bool ok = rc == CF_DB_ROW && cf_column_json(st, 0, out);
    cf_db_done(st);
    if (rc == CF_DB_DONE)
        CF_BAIL(CF_ERR_NOT_FOUND, NULL);
    CF_GUARD(cf_db_ok(cf_store_db(store), rc));
    return ok;
}

bool cf_store_policy_get(cf_store *store, const char *kind, const char *name, json_t **out)
{
    return CF_LOCKED(store, cf_policy_get_locked(store, kind, name, out));
}

static bool cf_policy_put_locked(cf_store *store, const char *kind, const char *name,
                                 json_t *policy)
{
    cf_db_stmt *st = cf_stmt_named(store, cf_sql_policy_put, kind, name);
    CF_GUARD(st);
    char *text = NULL;
    bool ok = cf_bind_json(st, 3, policy, &text) && cf_db_ok(cf_store_db(store), cf_db_step(st));
    cf_db_done(st);
    cf_json_free_text(text);
    CF_GUARD(ok);
    CF_ENSURE(cf_db_changes(cf_store_db(store)) == 1, CF_ERR_NOT_FOUND, NULL);
    return true;
}

bool cf_store_policy_put(cf_store *store, const char *kind, const char *name, json_t *policy)
{
    return CF_LOCKED(store, cf_policy_put_locked(store, kind, name, policy));
}

/* Collects (name, policy) pairs under the lock, then calls back without it,
 * so the callback may use the store. */
bool cf_store_policy_each(cf_store *store, const char *kind, cf_policy_cb each, void *ctx)
{
    json_t *pairs = json_array();
    CF_ENSURE_ALLOC(pairs);
    cf_store_conn *held = cf_store_acquire(store);
    cf_db_stmt *st = cf_db_stmt_get(cf_store_db(store), cf_sql_policy_each);
    bool ok = st != NULL;
    if (ok) {
        cf_db_bind_text(st, 1, kind);
        int rc;
        while (ok && (rc = cf_db_step(st)) == CF_DB_ROW) {
            json_t *policy = NULL;
            ok = cf_column_json(st, 1, &policy) &&
                 json_array_append_new(pairs, json_pack("{s:s, s:o}", "name",
                                                        (const char *)cf_db_column_text(st, 0),
                                                        "policy", policy)) == 0;
        }
        if (ok && rc != CF_DB_ROW)
            ok = cf_db_ok(cf_store_db(store), rc);
        cf_db_done(st);
    }
    cf_store_release(held);
    size_t i;
    json_t *pair;
    json_array_foreach(pairs, i, pair)
    {
        if (!ok)
            break;
        ok = each(ctx, json_string_value(json_object_get(pair, "name")),
                  json_object_get(pair, "policy"));
    }
    json_decref(pairs);
    return ok;
}

bool cf_store_lead_sweepers(cf_store *store, bool *leader)
{
    /* Always the first connection: the session lock stays where it was won. */
    return CF_LOCKED_AT(store, 0, cf_db_lead(cf_store_db(store), CF_STORE_SWEEPER_LOCK, leader));
}

bool cf_store_audit_anchor(cf_store *store, const char *front_end, const char *path, cf_audit *a,
                           int64_t now, cf_audit_anchor_state *st)
{
    return CF_LOCKED(
        store, cf_audit_anchor_record(cf_store_db(store), "vault", front_end, path, a, now, st));
}

/* ---- property scans ---- */

static const char cf_sql_prop_values[] =
    "SELECT DISTINCT json_extract(props, '$.' || ?2) FROM versions "
    "WHERE kind = ?1 AND json_extract(props, '$.' || ?2) IS NOT NULL";
static const char cf_sql_prop_values_pg[] =
    "SELECT DISTINCT props::jsonb ->> ?2::text FROM versions "
    "WHERE kind = ?1 AND props::jsonb ->> ?2::text IS NOT NULL";

bool cf_store_prop_values(cf_store *store, const char *kind, const char *prop, json_t **out)
{
    *out = json_array();
    CF_ENSURE_ALLOC(*out);
    cf_store_conn *held = cf_store_acquire(store);
    cf_db_stmt *st =
        cf_db_stmt_get(cf_store_db(store),
                       cf_db_sql(cf_store_db(store), cf_sql_prop_values, cf_sql_prop_values_pg));
    bool ok = st != NULL;
    if (ok) {
        cf_db_bind_text(st, 1, kind);
        cf_db_bind_text(st, 2, prop);
        int rc;
        while (ok && (rc = cf_db_step(st)) == CF_DB_ROW) {
            const char *v = (const char *)cf_db_column_text(st, 0);
            ok = v && json_array_append_new(*out, json_string(v)) == 0;
        }
        if (ok && rc != CF_DB_ROW)
            ok = cf_db_ok(cf_store_db(store), rc);
        cf_db_done(st);
    }
    cf_store_release(held);
    if (!ok) {
        json_decref(*out);
        *out = NULL;
    }
    CF_ENSURE(ok, cf_error_code() ? cf_error_code() : CF_ERR_NOMEM, NULL);
    return true;
}
