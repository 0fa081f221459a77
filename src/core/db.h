/*
 * One database connection as both stores use it (the vault's store, the
 * blob store), on either backend:
 *
 *   SQLite (embedded default): a file, WAL, the store's pragmas, optionally
 *   the group commit of the WAL.
 *   PostgreSQL (scale-out): one libpq connection, reconnected after a
 *   failure, so several front ends share the same data.
 *
 * The stores write their SQL once, in the subset both understand, with
 * numbered parameters ?1, ?2, ... (the PostgreSQL driver turns them into
 * $1, $2, ...).  Where the dialects differ, a store picks between two
 * static strings with cf_db_sql(db, sqlite_sql, postgres_sql).
 *
 * Statements are cached by the address of their SQL text, so SQL passed to
 * cf_db_stmt()/cf_db_prep() must be a string literal or other static
 * string.  The set of such strings is fixed, and the cache is sized above
 * it: a full cache is an internal error, never an unbounded growth.
 *
 * Binding and reading mirror SQLite's: parameters are 1-based, bound
 * pointers must stay valid until the statement is stepped (they are not
 * copied), columns are 0-based and what a column returns stays valid until
 * the next step or reset of its statement.  Integers are 64-bit; blobs are
 * bytes (BLOB in SQLite, bytea in PostgreSQL).
 *
 * Error mapping, everywhere: a full disk is cf_io_fail with ENOSPC
 * ("InsufficientStorage"); a database that cannot be reached (PostgreSQL
 * down or restarting) is CF_ERR_UNAVAILABLE; any other failure is
 * CF_ERR_DB with the engine's message.
 *
 * Transactions.  cf_db_begin() starts a write transaction that excludes
 * every other writer of the same database, in this process or another:
 * SQLite's BEGIN IMMEDIATE; on PostgreSQL a transaction that first takes
 * the store's advisory lock (config.write_lock), so the stores keep the
 * single-writer reasoning they were built on, across front ends.
 * cf_db_read_begin() starts a read-only transaction with one snapshot for
 * all its statements.  Statements outside a transaction are each their
 * own.
 *
 * Durability: a store opened with synchronous=FULL (SQLite) or any
 * PostgreSQL store is durable at COMMIT.  A SQLite store opened with
 * synchronous=NORMAL calls cf_db_group_commit_start() once its schema is
 * in place; every commit is then numbered, and cf_db_durable() waits
 * (without the caller's lock) until the WAL is fdatasynced past a number,
 * sharing each fdatasync among concurrent committers (group_sync.h).
 *
 * Not thread-safe by itself: the store serialises calls with its mutex
 * (cf_db_durable excepted, which is meant to run outside it).
 */
#ifndef CF_DB_H
#define CF_DB_H

#include <stddef.h>
#include <stdint.h>

#include "result.h"

typedef struct cf_db cf_db;
typedef struct cf_db_stmt cf_db_stmt;

typedef enum { CF_DB_SQLITE, CF_DB_POSTGRES } cf_db_backend;

typedef struct {
    cf_db_backend backend;
    const char *path; /* SQLite: the database file */
    /* SQLite: opened instead of path when set, e.g. the store through the
     * coffer VFS (src/sqlite/tde_store.h); path still names its file */
    const char *sqlite_uri;
    const char *conninfo; /* PostgreSQL: a libpq connection string */
    const char *what;     /* names the database in errors: "the blob database" */
    const char *pragmas;  /* SQLite: run once, right after opening */
    int busy_timeout_ms;  /* how long a statement waits for a lock */
    size_t stmt_cache;    /* most statements cached; above the SQL set in use */
    /* PostgreSQL: the advisory lock key cf_db_begin() takes, one per store
     * kind (the vault's, the blob store's), so writers of one store exclude
     * each other and no one else. */
    int64_t write_lock;
    /* PostgreSQL: the store's name in the schema-version table ("vault",
     * "blob"), so both services may share one database. */
    const char *store_name;
} cf_db_config;

CF_MUST_USE bool cf_db_open(const cf_db_config *config, cf_db **out);
/* Finalizes the cached statements and closes; NULL is a no-op. */
void cf_db_close(cf_db *db);

cf_db_backend cf_db_backend_of(const cf_db *db);
/* The SQL for this connection's dialect: both are static strings. */
const char *cf_db_sql(const cf_db *db, const char *sqlite_sql, const char *postgres_sql);

/* Step results: a failure is CF_DB_ERROR, or CF_DB_CONSTRAINT when a
 * uniqueness or other constraint refused the row. */
enum { CF_DB_CONSTRAINT = -2, CF_DB_ERROR = -1, CF_DB_DONE = 0, CF_DB_ROW = 1 };

/* Maps a step result: CF_DB_ROW and CF_DB_DONE succeed; a failure raises
 * the statement's error (kept by the connection) and fails. */
CF_MUST_USE bool cf_db_ok(cf_db *db, int rc);
/* Runs one or more statements that return nothing (DDL, pragmas). */
CF_MUST_USE bool cf_db_exec(cf_db *db, const char *sql);

/* A cached statement for static `sql`, reset and with bindings cleared;
 * NULL on failure (raised).  Give it back with cf_db_done(). */
CF_MUST_USE cf_db_stmt *cf_db_stmt_get(cf_db *db, const char *sql);
/* The same, with text parameters ?1.. bound (not copied) from `texts`;
 * NULL entries stay unbound (NULL). */
CF_MUST_USE cf_db_stmt *cf_db_prep(cf_db *db, const char *sql, const char *const *texts, int n);
#define CF_DB_PREP(db, sql, ...)                                \
    cf_db_prep((db), (sql), (const char *const[]){__VA_ARGS__}, \
               (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))
/* Resets a cached statement and clears its bindings; NULL is a no-op. */
void cf_db_done(cf_db_stmt *st);
/* A statement outside the cache, for SQL run once (migrations); free it
 * with cf_db_finalize(). */
CF_MUST_USE bool cf_db_prepare_uncached(cf_db *db, const char *sql, cf_db_stmt **st);
void cf_db_finalize(cf_db_stmt *st);

/* Parameters (1-based); text and blob pointers are not copied. */
void cf_db_bind_text(cf_db_stmt *st, int i, const char *text);
void cf_db_bind_int64(cf_db_stmt *st, int i, int64_t v);
void cf_db_bind_blob(cf_db_stmt *st, int i, const void *p, size_t n);
void cf_db_bind_null(cf_db_stmt *st, int i);
/* Copied: for text that is not NUL-terminated, or bytes that die before
 * the step.  Fails (raised) only when out of memory. */
CF_MUST_USE bool cf_db_bind_text_copy(cf_db_stmt *st, int i, const char *p, size_t n);
CF_MUST_USE bool cf_db_bind_blob_copy(cf_db_stmt *st, int i, const void *p, size_t n);

/* Runs the statement (first call) or moves to its next row: CF_DB_ROW,
 * CF_DB_DONE, or a failure (pass it to cf_db_ok for the error). */
int cf_db_step(cf_db_stmt *st);

/* Columns of the current row (0-based).  NULL reads as 0, "" (text: a
 * NULL pointer) and an empty blob. */
bool cf_db_column_is_null(cf_db_stmt *st, int i);
/* Whether the value is a blob (not text, not NULL). */
bool cf_db_column_is_blob(cf_db_stmt *st, int i);
int64_t cf_db_column_int64(cf_db_stmt *st, int i);
int cf_db_column_int(cf_db_stmt *st, int i);
const char *cf_db_column_text(cf_db_stmt *st, int i);
const void *cf_db_column_blob(cf_db_stmt *st, int i);
size_t cf_db_column_bytes(cf_db_stmt *st, int i);

/* Step helpers for cached statements: each steps `st` (NULL: a failure
 * already raised by cf_db_stmt_get) once and gives it back. */
CF_MUST_USE bool cf_db_run(cf_db *db, cf_db_stmt *st);
/* *found says whether a row came. */
CF_MUST_USE bool cf_db_exists(cf_db *db, cf_db_stmt *st, bool *found);
/* The row's first column as an integer (0 when no row came). */
CF_MUST_USE bool cf_db_int(cf_db *db, cf_db_stmt *st, int64_t *out);

/* Rows changed by the last statement run. */
int64_t cf_db_changes(cf_db *db);

/* A write transaction, exclusive among writers (see above). */
CF_MUST_USE bool cf_db_begin(cf_db *db);
/* Commits when `ok`, else rolls back; returns whether it committed.  A
 * failed COMMIT (disk full, I/O error) is rolled back too, so later
 * writes are not silently folded into it. */
CF_MUST_USE bool cf_db_commit(cf_db *db, bool ok);
/* One read transaction around several reads: one snapshot (and, on
 * SQLite, one round of file locking instead of one per statement). */
CF_MUST_USE bool cf_db_read_begin(cf_db *db);
/* Ends it (COMMIT when ok, else ROLLBACK); returns ok, false if ending failed. */
CF_MUST_USE bool cf_db_read_end(cf_db *db, bool ok);

/* The schema version the store's migrations count (SQLite: PRAGMA
 * user_version; PostgreSQL: the store's row in the table coffer_schema). */
CF_MUST_USE bool cf_db_user_version(cf_db *db, int64_t *version);
CF_MUST_USE bool cf_db_set_user_version(cf_db *db, int64_t version);

/* One schema change: SQL, or (sql NULL) a function for what SQL cannot say,
 * such as re-sealing a column's values; `ctx` is cf_db_migrate's. */
typedef struct {
    const char *sql;
    bool (*apply)(void *ctx);
} cf_db_step_def;

/* A store's schema: its migration steps, and what runs after them. */
typedef struct {
    const cf_db_step_def *steps;
    size_t n;             /* the current version: the number of steps */
    const char *then_sql; /* NULL, or run last every time (CREATE ... IF NOT EXISTS) */
    /* NULL, or a table every version of the store has: without it (and at
     * version 0) the database is new and starts at version n, none of the
     * steps applying to it. */
    const char *marker_table;
    void *ctx; /* for the steps' apply() */
} cf_db_schema;

/* Brings a store's schema to version n (user_version counts the steps
 * applied), in one transaction that holds the write lock (front ends
 * starting at once apply it once): steps [user_version, n) in order, then
 * then_sql, then user_version = n.  A database newer than n is refused
 * with CF_ERR_DB.  *applied (may be NULL) is the number of steps that ran. */
CF_MUST_USE bool cf_db_migrate(cf_db *db, const cf_db_schema *schema, size_t *applied);

/* Leadership for work exactly one front end does at a time (the
 * sweepers): *leader says whether this connection holds `key`.  On
 * PostgreSQL a session advisory lock, kept while the connection lives and
 * taken by another front end when it dies (so a front end that loses its
 * connection stops leading until it wins the lock again); on SQLite the one
 * process always leads.  Call before each round of such work. */
CF_MUST_USE bool cf_db_lead(cf_db *db, int64_t key, bool *leader);

/* ---- change notices between front ends ----
 *
 * A front end that caches what the store holds (the blob service's account
 * keys) must hear when another front end changes it.  On PostgreSQL that is
 * LISTEN/NOTIFY: cf_db_notify() inside the writing transaction (delivered
 * when it commits, not at all if it rolls back), and a listener thread per
 * front end with its own connection.  When the listener's connection is
 * lost it calls back with payload NULL ("anything may have changed") and
 * again after it reconnects, so a cache is never trusted across a gap.  On
 * SQLite (one process owns the store) both are no-ops. */
CF_MUST_USE bool cf_db_notify(cf_db *db, const char *channel, const char *payload);

/* payload: what the notifier said, or NULL when notices may have been lost. */
typedef void (*cf_db_notice_fn)(void *ctx, const char *payload);
typedef struct cf_db_listener cf_db_listener;

/* Starts listening on `channel` (an identifier: letters, digits, '_') with
 * the store's configuration; *out NULL on SQLite.  Fails when PostgreSQL
 * cannot be reached at start. */
CF_MUST_USE bool cf_db_listen(const cf_db_config *config, const char *channel, cf_db_notice_fn fn,
                              void *ctx, cf_db_listener **out);
/* Stops the thread and closes its connection; NULL is a no-op. */
void cf_db_listener_stop(cf_db_listener *l);

/* Group commit (SQLite, synchronous=NORMAL stores): opens the WAL
 * ("<path>-wal") for fdatasync, syncs it and its directory entry, and
 * counts every commit so far as durable.  Call once, after the schema is
 * in place.  A no-op on PostgreSQL, where COMMIT is durable. */
CF_MUST_USE bool cf_db_group_commit_start(cf_db *db);
/* The number of the last commit (to pass to cf_db_durable). */
uint64_t cf_db_commits(cf_db *db);
/* Without the store's lock: waits until commit `seq` is on disk.  Returns
 * `ok`; or false (CF_ERR_IO) when the sync failed and `ok` was true (a
 * failed call keeps its own error).  Immediate without group commit. */
CF_MUST_USE bool cf_db_durable(cf_db *db, uint64_t seq, bool ok);

#endif
