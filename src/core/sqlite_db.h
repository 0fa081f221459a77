/*
 * One SQLite connection as both stores use it (the vault's store, the blob
 * store): opening with the store's pragmas, a bounded cache of prepared
 * statements, transactions, the schema version, and optionally the group
 * commit of the WAL.
 *
 * Statements are cached by the address of their SQL text, so SQL passed to
 * cf_db_stmt()/cf_db_prep() must be a string literal or other static
 * string.  The set of such strings is fixed, and the cache is sized above
 * it: a full cache is an internal error, never an unbounded growth.
 *
 * Error mapping, everywhere: SQLITE_FULL is a full disk (cf_io_fail with
 * ENOSPC: "InsufficientStorage"); any other failure is CF_ERR_DB with
 * SQLite's message.
 *
 * Durability: a store opened with synchronous=FULL is durable at COMMIT.
 * A store opened with synchronous=NORMAL calls cf_db_group_commit_start()
 * once its schema is in place; every commit is then numbered, and
 * cf_db_durable() waits (without the caller's lock) until the WAL is
 * fdatasynced past a number, sharing each fdatasync among concurrent
 * committers (group_sync.h).
 *
 * Not thread-safe by itself: the store serialises calls with its mutex
 * (cf_db_durable excepted, which is meant to run outside it).
 */
#ifndef CF_SQLITE_DB_H
#define CF_SQLITE_DB_H

#include <sqlite3.h>
#include <stdint.h>

#include "result.h"

typedef struct cf_db cf_db;

typedef struct {
    const char *path;
    const char *what;    /* names the database in errors: "the blob database" */
    const char *pragmas; /* run once, right after opening */
    int busy_timeout_ms; /* how long a statement waits for a lock */
    size_t stmt_cache;   /* most statements cached; above the SQL set in use */
} cf_db_config;

CF_MUST_USE bool cf_db_open(const cf_db_config *config, cf_db **out);
/* Finalizes the cached statements and closes; NULL is a no-op. */
void cf_db_close(cf_db *db);

/* Maps a SQLite result code: SQLITE_OK, _ROW and _DONE succeed. */
CF_MUST_USE bool cf_db_ok(cf_db *db, int rc);
/* Runs one or more statements that return nothing (DDL, pragmas). */
CF_MUST_USE bool cf_db_exec(cf_db *db, const char *sql);

/* A cached statement for static `sql`, reset and with bindings cleared;
 * NULL on failure (raised).  Give it back with cf_db_done(). */
CF_MUST_USE sqlite3_stmt *cf_db_stmt(cf_db *db, const char *sql);
/* The same, with text parameters ?1.. bound (not copied) from `texts`;
 * NULL entries stay unbound. */
CF_MUST_USE sqlite3_stmt *cf_db_prep(cf_db *db, const char *sql, const char *const *texts, int n);
#define CF_DB_PREP(db, sql, ...)                                \
    cf_db_prep((db), (sql), (const char *const[]){__VA_ARGS__}, \
               (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))
/* Resets a cached statement and clears its bindings; NULL is a no-op. */
void cf_db_done(sqlite3_stmt *st);
/* A statement outside the cache, for SQL run once (migrations); the
 * caller finalizes it. */
CF_MUST_USE bool cf_db_prepare_uncached(cf_db *db, const char *sql, sqlite3_stmt **st);

/* Step helpers for cached statements: each steps `st` (NULL: a failure
 * already raised by cf_db_stmt) once and gives it back. */
CF_MUST_USE bool cf_db_run(cf_db *db, sqlite3_stmt *st);
/* *found says whether a row came. */
CF_MUST_USE bool cf_db_exists(cf_db *db, sqlite3_stmt *st, bool *found);
/* The row's first column as an integer (0 when no row came). */
CF_MUST_USE bool cf_db_int(cf_db *db, sqlite3_stmt *st, int64_t *out);

/* Rows changed by the last statement; rowid of the last insert. */
int cf_db_changes(cf_db *db);
int64_t cf_db_last_rowid(cf_db *db);

/* BEGIN IMMEDIATE: a write transaction, its lock taken up front. */
CF_MUST_USE bool cf_db_begin(cf_db *db);
/* Commits when `ok`, else rolls back; returns whether it committed.  A
 * failed COMMIT (disk full, I/O error) is rolled back too, so later
 * writes are not silently folded into it. */
CF_MUST_USE bool cf_db_commit(cf_db *db, bool ok);
/* One read transaction around several reads: one snapshot, and one round
 * of SQLite's file locking instead of one per statement. */
CF_MUST_USE bool cf_db_read_begin(cf_db *db);
/* Ends it (COMMIT when ok, else ROLLBACK); returns ok, false if ending failed. */
CF_MUST_USE bool cf_db_read_end(cf_db *db, bool ok);

/* PRAGMA user_version: the schema version the store's migrations count. */
CF_MUST_USE bool cf_db_user_version(cf_db *db, int64_t *version);
CF_MUST_USE bool cf_db_set_user_version(cf_db *db, int64_t version);

/* One schema change: SQL, or (sql NULL) a function for what SQL cannot say,
 * such as re-sealing a column's values; `ctx` is cf_db_migrate's. */
typedef struct {
    const char *sql;
    bool (*apply)(void *ctx);
} cf_db_step;

/* Brings a store's schema to version `n` (user_version counts the steps
 * applied), in one transaction: steps [user_version, n) in order, then
 * `then_sql` when not NULL (e.g. CREATE ... IF NOT EXISTS for tables added
 * since), then user_version = n.  A database newer than `n` is refused with
 * CF_ERR_DB.  *applied (may be NULL) is the number of steps that ran. */
CF_MUST_USE bool cf_db_migrate(cf_db *db, const cf_db_step *steps, size_t n, const char *then_sql,
                               void *ctx, size_t *applied);

/* Group commit (synchronous=NORMAL stores): opens the WAL ("<path>-wal")
 * for fdatasync, syncs it and its directory entry, and counts every commit
 * so far as durable.  Call once, after the schema is in place (the WAL
 * exists once a statement ran in WAL mode). */
CF_MUST_USE bool cf_db_group_commit_start(cf_db *db);
/* The number of the last commit (to pass to cf_db_durable). */
uint64_t cf_db_commits(cf_db *db);
/* Without the store's lock: waits until commit `seq` is on disk.  Returns
 * `ok`; or false (CF_ERR_IO) when the sync failed and `ok` was true (a
 * failed call keeps its own error).  Immediate without group commit. */
CF_MUST_USE bool cf_db_durable(cf_db *db, uint64_t seq, bool ok);

#endif
