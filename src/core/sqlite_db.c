/*
 * The SQLite connection both stores share (see sqlite_db.h).
 */
#include "sqlite_db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "group_sync.h"

struct cf_db_cached {
    const char *sql; /* static: cached by address */
    sqlite3_stmt *st;
};

struct cf_db {
    sqlite3 *conn;
    char *path;
    const char *what;
    struct cf_db_cached *cache;
    size_t cache_len, cache_cap;
    /* Group commit of the WAL (cf_db_group_commit_start); wal_fd -1 without. */
    int wal_fd;
    cf_group_sync wal_sync;
};

/* Longest database path (with "-wal"). */
#define CF_DB_PATH_MAX 4096

void cf_db_close(cf_db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->cache_len; i++)
        sqlite3_finalize(db->cache[i].st);
    /* Closing the last connection checkpoints (syncing the WAL first, then
     * the database) and deletes the WAL; our fd outlives the file. */
    sqlite3_close(db->conn);
    if (db->wal_fd >= 0)
        close(db->wal_fd);
    cf_group_sync_destroy(&db->wal_sync);
    free(db->cache);
    free(db->path);
    free(db);
}

bool cf_db_open(const cf_db_config *config, cf_db **out)
{
    CF_ENSURE(strlen(config->path) + sizeof "-wal" <= CF_DB_PATH_MAX, CF_ERR_BAD_INPUT,
              "data directory path too long");
    cf_db *db = calloc(1, sizeof *db);
    CF_ENSURE_ALLOC(db);
    db->wal_fd = -1;
    db->what = config->what;
    cf_group_sync_init(&db->wal_sync, 0);
    db->path = strdup(config->path);
    db->cache = calloc(config->stmt_cache, sizeof *db->cache);
    db->cache_cap = config->stmt_cache;
    if (!db->path || !db->cache) {
        cf_db_close(db);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    if (sqlite3_open_v2(config->path, &db->conn,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        cf_db_close(db);
        cf_error_raisef(CF_ERR_DB, __FILE__, __LINE__, "cannot open %s", config->what);
        return false;
    }
    sqlite3_busy_timeout(db->conn, config->busy_timeout_ms);
    if (!cf_db_exec(db, config->pragmas)) {
        cf_db_close(db);
        return false;
    }
    *out = db;
    return true;
}

bool cf_db_ok(cf_db *db, int rc)
{
    if (rc == SQLITE_FULL)
        return cf_io_fail("the database", ENOSPC);
    CF_ENSUREF(rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW, CF_ERR_DB, "database: %s",
               sqlite3_errmsg(db->conn));
    return true;
}

bool cf_db_exec(cf_db *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db->conn, sql, NULL, NULL, &err);
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

/* ---- statements ---- */

sqlite3_stmt *cf_db_stmt(cf_db *db, const char *sql)
{
    for (size_t i = 0; i < db->cache_len; i++) {
        if (db->cache[i].sql == sql) {
            sqlite3_stmt *st = db->cache[i].st;
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
    }
    /* The SQL strings are a fixed set, below the cache size. */
    if (db->cache_len == db->cache_cap) {
        CF_RAISE(CF_ERR_INTERNAL, "statement cache full");
        return NULL;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        cf_error_raisef(CF_ERR_DB, __FILE__, __LINE__, "database: %s", sqlite3_errmsg(db->conn));
        return NULL;
    }
    db->cache[db->cache_len].sql = sql;
    db->cache[db->cache_len].st = st;
    db->cache_len++;
    return st;
}

sqlite3_stmt *cf_db_prep(cf_db *db, const char *sql, const char *const *texts, int n)
{
    sqlite3_stmt *st = cf_db_stmt(db, sql);
    if (!st)
        return NULL;
    for (int k = 0; k < n; k++)
        if (texts[k])
            sqlite3_bind_text(st, k + 1, texts[k], -1, SQLITE_STATIC);
    return st;
}

void cf_db_done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

bool cf_db_prepare_uncached(cf_db *db, const char *sql, sqlite3_stmt **st)
{
    *st = NULL;
    return cf_db_ok(db, sqlite3_prepare_v2(db->conn, sql, -1, st, NULL));
}

/* Steps `st` once and gives it back; *found (may be NULL) says whether it
 * gave a row, *out (may be NULL) that row's first column as an integer. */
static bool cf_db_step_once(cf_db *db, sqlite3_stmt *st, bool *found, int64_t *out)
{
    CF_GUARD(st);
    int rc = sqlite3_step(st);
    if (found)
        *found = rc == SQLITE_ROW;
    if (out)
        *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    bool ok = cf_db_ok(db, rc);
    cf_db_done(st);
    return ok;
}

bool cf_db_run(cf_db *db, sqlite3_stmt *st)
{
    return cf_db_step_once(db, st, NULL, NULL);
}

bool cf_db_exists(cf_db *db, sqlite3_stmt *st, bool *found)
{
    return cf_db_step_once(db, st, found, NULL);
}

bool cf_db_int(cf_db *db, sqlite3_stmt *st, int64_t *out)
{
    return cf_db_step_once(db, st, NULL, out);
}

int cf_db_changes(cf_db *db)
{
    return sqlite3_changes(db->conn);
}

int64_t cf_db_last_rowid(cf_db *db)
{
    return sqlite3_last_insert_rowid(db->conn);
}

/* ---- transactions ---- */

bool cf_db_begin(cf_db *db)
{
    return cf_db_exec(db, "BEGIN IMMEDIATE");
}

bool cf_db_commit(cf_db *db, bool ok)
{
    if (ok && cf_db_exec(db, "COMMIT")) {
        /* Numbered after COMMIT returned: its WAL frames are written (not
         * yet synced) before any sync that reads this number starts. */
        cf_group_sync_note(&db->wal_sync);
        return true;
    }
    if (!sqlite3_get_autocommit(db->conn)) {
        char *err = NULL;
        sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, &err);
        sqlite3_free(err);
    }
    return false;
}

bool cf_db_read_begin(cf_db *db)
{
    return cf_db_exec(db, "BEGIN");
}

bool cf_db_read_end(cf_db *db, bool ok)
{
    if (!sqlite3_get_autocommit(db->conn) && !cf_db_exec(db, ok ? "COMMIT" : "ROLLBACK"))
        ok = false;
    return ok;
}

/* ---- schema version ---- */

bool cf_db_user_version(cf_db *db, int64_t *version)
{
    sqlite3_stmt *st;
    CF_GUARD(cf_db_prepare_uncached(db, "PRAGMA user_version", &st));
    int rc = sqlite3_step(st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return cf_db_ok(db, rc);
}

bool cf_db_set_user_version(cf_db *db, int64_t version)
{
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %lld", (long long)version);
    return cf_db_exec(db, pragma);
}

static bool cf_db_migrate_tx(cf_db *db, const cf_db_step *steps, size_t from, size_t n,
                             const char *then_sql, void *ctx)
{
    for (size_t i = from; i < n; i++)
        CF_GUARD(steps[i].sql ? cf_db_exec(db, steps[i].sql) : steps[i].apply(ctx));
    if (then_sql)
        CF_GUARD(cf_db_exec(db, then_sql));
    return cf_db_set_user_version(db, (int64_t)n);
}

bool cf_db_migrate(cf_db *db, const cf_db_step *steps, size_t n, const char *then_sql, void *ctx,
                   size_t *applied)
{
    int64_t version;
    CF_GUARD(cf_db_user_version(db, &version));
    CF_ENSURE(version >= 0 && (uint64_t)version <= n, CF_ERR_DB,
              "the database is from a newer version of Coffer");
    if (applied)
        *applied = n - (size_t)version;
    if ((size_t)version == n && !then_sql)
        return true;
    CF_GUARD(cf_db_begin(db));
    return cf_db_commit(db, cf_db_migrate_tx(db, steps, (size_t)version, n, then_sql, ctx));
}

/* ---- group commit ---- */

/* Our own fd on the WAL, for the group commit's fdatasync.  SQLite keeps
 * that same file for as long as the connection is open: it rewrites it
 * from the start after a checkpoint ("WAL reset", wal.html and
 * fileformat2.html §4), truncates it in place (journal_size_limit,
 * checkpoint TRUNCATE), and deletes it only when the last connection closes
 * (wal.html: "the WAL file ... is normally removed when the last connection
 * to the database closes") or the journal mode leaves WAL, which a group
 * commit store never does.  So the fd names the live WAL for the store's
 * whole life.  SQLite locks the database and -shm files, never the -wal,
 * so this fd's close cannot drop one of SQLite's POSIX locks.  The WAL may
 * have just been created: sync it (the schema commits) and its directory
 * entry. */
bool cf_db_group_commit_start(cf_db *db)
{
    char path[CF_DB_PATH_MAX];
    snprintf(path, sizeof path, "%s-wal", db->path); /* length checked at open */
    /* Read-only is enough: Linux fdatasyncs the inode through any fd. */
    db->wal_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    CF_ENSUREF(db->wal_fd >= 0, CF_ERR_DB, "%s is not in WAL mode", db->what);
    CF_ENSUREF(fdatasync(db->wal_fd) == 0, CF_ERR_IO, "cannot sync %s's WAL", db->what);
    CF_GUARD(cf_fsync_dir_of(path));
    /* That fdatasync covered every commit so far (the migrations'). */
    cf_group_sync_attach(&db->wal_sync, db->wal_fd);
    return true;
}

uint64_t cf_db_commits(cf_db *db)
{
    return cf_group_sync_last(&db->wal_sync);
}

bool cf_db_durable(cf_db *db, uint64_t seq, bool ok)
{
    if (db->wal_fd < 0 || cf_group_sync_covers(&db->wal_sync, seq))
        return ok;
    static const char failed[] = "the metadata log could not be synced";
    if (ok)
        return cf_group_sync_wait(&db->wal_sync, seq, failed);
    /* A failed call still waits: it may have read commits a crash could
     * take back.  Its own error is the one to report. */
    struct cf_error_record *own = cf_error_save();
    bool synced = cf_group_sync_wait(&db->wal_sync, seq, failed);
    (void)synced; /* the call failed already; its error stands */
    cf_error_restore(own);
    return false;
}
