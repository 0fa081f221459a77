/*
 * The SQLite driver behind db.h: one connection opened with the store's
 * pragmas; statements are sqlite3_stmt, parameters bound without copying.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "db_driver.h"
#include "fsutil.h"

/* The transaction statements, prepared once per connection: a Get Blob
 * runs BEGIN and COMMIT, and parsing them each time was 3% of its CPU. */
typedef enum {
    LITE_BEGIN,
    LITE_BEGIN_IMMEDIATE,
    LITE_COMMIT,
    LITE_ROLLBACK,
    LITE_TX_COUNT
} lite_tx;

static const char *const lite_tx_sql[LITE_TX_COUNT] = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT",
                                                       "ROLLBACK"};

typedef struct {
    sqlite3 *handle;
    sqlite3_stmt *tx[LITE_TX_COUNT];
} lite_conn;

static sqlite3 *lite(cf_db *db)
{
    return ((lite_conn *)db->conn)->handle;
}

static sqlite3_stmt *lite_st(cf_db_stmt *st)
{
    return st->impl;
}

static bool lite_fail(cf_db *db)
{
    if (sqlite3_errcode(lite(db)) == SQLITE_FULL)
        return cf_io_fail("the database", ENOSPC);
    cf_error_raisef(CF_ERR_DB, __FILE__, __LINE__, "database: %s", sqlite3_errmsg(lite(db)));
    return false;
}

static bool lite_exec(cf_db *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(lite(db), sql, NULL, NULL, &err);
    if (rc == SQLITE_FULL) {
        sqlite3_free(err);
        return cf_io_fail("the database", ENOSPC);
    }
    if (rc != SQLITE_OK) {
        cf_error_raisef(CF_ERR_DB, __FILE__, __LINE__, "database: %s", err ? err : "?");
        sqlite3_free(err);
        return false;
    }
    return true;
}

static bool lite_prepare_tx(cf_db *db)
{
    lite_conn *c = db->conn;
    for (int i = 0; i < LITE_TX_COUNT; i++)
        if (sqlite3_prepare_v3(c->handle, lite_tx_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->tx[i],
                               NULL) != SQLITE_OK)
            return lite_fail(db);
    return true;
}

/* Runs one of the prepared transaction statements. */
static bool lite_run_tx(cf_db *db, lite_tx which)
{
    sqlite3_stmt *st = ((lite_conn *)db->conn)->tx[which];
    bool ok = sqlite3_step(st) == SQLITE_DONE || lite_fail(db);
    sqlite3_reset(st);
    return ok;
}

static bool lite_open(cf_db *db, const cf_db_config *config)
{
    lite_conn *c = calloc(1, sizeof *c);
    CF_ENSURE_ALLOC(c);
    sqlite3 *conn = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (config->sqlite_uri)
        flags |= SQLITE_OPEN_URI;
    if (sqlite3_open_v2(config->sqlite_uri ? config->sqlite_uri : config->path, &conn, flags,
                        NULL) != SQLITE_OK) {
        cf_error_raisef(CF_ERR_DB, __FILE__, __LINE__, "cannot open %s: %s", config->what,
                        conn ? sqlite3_errmsg(conn) : "out of memory");
        sqlite3_close(conn);
        free(c);
        return false;
    }
    c->handle = conn;
    db->conn = c;
    sqlite3_busy_timeout(conn, config->busy_timeout_ms);
    return (!config->pragmas || lite_exec(db, config->pragmas)) && lite_prepare_tx(db);
}

static void lite_close(cf_db *db)
{
    /* Closing the last connection checkpoints (syncing the WAL first, then
     * the database) and deletes the WAL; the group commit's fd outlives
     * the file. */
    lite_conn *c = db->conn;
    for (int i = 0; i < LITE_TX_COUNT; i++)
        sqlite3_finalize(c->tx[i]);
    sqlite3_close(c->handle);
    free(c);
    db->conn = NULL;
}

static bool lite_prepare(cf_db *db, cf_db_stmt *st)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(lite(db), st->sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
        return lite_fail(db);
    st->impl = s;
    return true;
}

static void lite_reset(cf_db_stmt *st)
{
    sqlite3_reset(lite_st(st));
    sqlite3_clear_bindings(lite_st(st));
}

static void lite_finalize(cf_db_stmt *st)
{
    sqlite3_finalize(lite_st(st));
}

static void lite_bind_text(cf_db_stmt *st, int i, const char *text)
{
    sqlite3_bind_text(lite_st(st), i, text, -1, SQLITE_STATIC);
}

static void lite_bind_int64(cf_db_stmt *st, int i, int64_t v)
{
    sqlite3_bind_int64(lite_st(st), i, v);
}

static void lite_bind_blob(cf_db_stmt *st, int i, const void *p, size_t n)
{
    /* SQLite takes a NULL pointer for a NULL value: an empty blob is "". */
    sqlite3_bind_blob(lite_st(st), i, p ? p : "", (int)n, SQLITE_STATIC);
}

static void lite_bind_null(cf_db_stmt *st, int i)
{
    sqlite3_bind_null(lite_st(st), i);
}

static bool lite_bind_copy(cf_db_stmt *st, int i, const void *p, size_t n, bool blob)
{
    int rc = blob ? sqlite3_bind_blob(lite_st(st), i, p ? p : "", (int)n, SQLITE_TRANSIENT)
                  : sqlite3_bind_text(lite_st(st), i, p ? p : "", (int)n, SQLITE_TRANSIENT);
    CF_ENSURE(rc == SQLITE_OK, CF_ERR_NOMEM, "cannot bind a value");
    return true;
}

static int lite_step(cf_db_stmt *st)
{
    int rc = sqlite3_step(lite_st(st));
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return rc == SQLITE_ROW ? CF_DB_ROW : CF_DB_DONE;
    return rc == SQLITE_CONSTRAINT ? CF_DB_CONSTRAINT : CF_DB_ERROR;
}

static bool lite_column_is_null(cf_db_stmt *st, int i)
{
    return sqlite3_column_type(lite_st(st), i) == SQLITE_NULL;
}

static bool lite_column_is_blob(cf_db_stmt *st, int i)
{
    return sqlite3_column_type(lite_st(st), i) == SQLITE_BLOB;
}

static int64_t lite_column_int64(cf_db_stmt *st, int i)
{
    return sqlite3_column_int64(lite_st(st), i);
}

static const char *lite_column_text(cf_db_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(lite_st(st), i);
}

static const void *lite_column_blob(cf_db_stmt *st, int i)
{
    return sqlite3_column_blob(lite_st(st), i);
}

static size_t lite_column_bytes(cf_db_stmt *st, int i)
{
    return (size_t)sqlite3_column_bytes(lite_st(st), i);
}

static int64_t lite_changes(cf_db *db)
{
    return sqlite3_changes(lite(db));
}

static bool lite_begin(cf_db *db)
{
    return lite_run_tx(db, LITE_BEGIN_IMMEDIATE);
}

static bool lite_commit(cf_db *db)
{
    return lite_run_tx(db, LITE_COMMIT);
}

static void lite_rollback(cf_db *db)
{
    /* Silent: the caller's own error is the one to report, and a failed
     * ROLLBACK means there was nothing left to undo. */
    sqlite3_stmt *st = ((lite_conn *)db->conn)->tx[LITE_ROLLBACK];
    (void)sqlite3_step(st);
    sqlite3_reset(st);
}

static bool lite_read_begin(cf_db *db)
{
    return lite_run_tx(db, LITE_BEGIN);
}

static bool lite_in_transaction(cf_db *db)
{
    return !sqlite3_get_autocommit(lite(db));
}

static bool lite_lead(cf_db *db, int64_t key, bool *leader)
{
    (void)db;
    (void)key;
    *leader = true; /* one process owns the file (service.lock) */
    return true;
}

static bool lite_user_version(cf_db *db, int64_t *version)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(lite(db), "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return lite_fail(db);
    int rc = sqlite3_step(st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || lite_fail(db);
}

static bool lite_set_user_version(cf_db *db, int64_t version)
{
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %lld", (long long)version);
    return lite_exec(db, pragma);
}

const cf_db_driver cf_db_sqlite_driver = {
    .open = lite_open,
    .close = lite_close,
    .fail = lite_fail,
    .exec = lite_exec,
    .prepare = lite_prepare,
    .reset = lite_reset,
    .finalize = lite_finalize,
    .bind_text = lite_bind_text,
    .bind_int64 = lite_bind_int64,
    .bind_blob = lite_bind_blob,
    .bind_null = lite_bind_null,
    .bind_copy = lite_bind_copy,
    .step = lite_step,
    .column_is_null = lite_column_is_null,
    .column_is_blob = lite_column_is_blob,
    .column_int64 = lite_column_int64,
    .column_text = lite_column_text,
    .column_blob = lite_column_blob,
    .column_bytes = lite_column_bytes,
    .changes = lite_changes,
    .begin = lite_begin,
    .commit = lite_commit,
    .rollback = lite_rollback,
    .read_begin = lite_read_begin,
    .in_transaction = lite_in_transaction,
    .lead = lite_lead,
    .user_version = lite_user_version,
    .set_user_version = lite_set_user_version,
};
