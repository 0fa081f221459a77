/*
 * The connection both stores share (see db.h): the statement cache, the
 * step helpers, migrations and the SQLite WAL's group commit, over a
 * backend driver (db_sqlite.c, db_postgres.c).
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_driver.h"
#include "fsutil.h"

/* Longest database path (with "-wal"). */
#define CF_DB_PATH_MAX 4096

void cf_db_close(cf_db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->cache_len; i++)
        cf_db_finalize(db->cache[i]);
    if (db->conn)
        db->driver->close(db);
    if (db->wal_fd >= 0)
        close(db->wal_fd);
    cf_group_sync_destroy(&db->wal_sync);
    free(db->cache);
    free(db->path);
    free(db);
}

bool cf_db_open(const cf_db_config *config, cf_db **out)
{
    bool lite = config->backend == CF_DB_SQLITE;
    CF_ENSURE(!lite || strlen(config->path) + sizeof "-wal" <= CF_DB_PATH_MAX, CF_ERR_BAD_INPUT,
              "data directory path too long");
    cf_db *db = calloc(1, sizeof *db);
    CF_ENSURE_ALLOC(db);
    db->backend = config->backend;
    db->driver = lite ? &cf_db_sqlite_driver : &cf_db_postgres_driver;
    db->wal_fd = -1;
    db->what = config->what;
    db->write_lock = config->write_lock;
    snprintf(db->store_name, sizeof db->store_name, "%s",
             config->store_name ? config->store_name : "store");
    cf_group_sync_init(&db->wal_sync, 0);
    db->path = lite ? strdup(config->path) : NULL;
    db->cache = calloc(config->stmt_cache, sizeof *db->cache);
    db->cache_cap = config->stmt_cache;
    if ((lite && !db->path) || !db->cache) {
        cf_db_close(db);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    if (!db->driver->open(db, config)) {
        cf_db_close(db);
        return false;
    }
    *out = db;
    return true;
}

cf_db_backend cf_db_backend_of(const cf_db *db)
{
    return db->backend;
}

const char *cf_db_sql(const cf_db *db, const char *sqlite_sql, const char *postgres_sql)
{
    return db->backend == CF_DB_SQLITE ? sqlite_sql : postgres_sql;
}

bool cf_db_ok(cf_db *db, int rc)
{
    if (rc < 0)
        return db->driver->fail(db);
    return true;
}

bool cf_db_exec(cf_db *db, const char *sql)
{
    return db->driver->exec(db, sql);
}

/* ---- statements ---- */

static cf_db_stmt *cf_db_stmt_new(cf_db *db, const char *sql)
{
    cf_db_stmt *st = calloc(1, sizeof *st);
    if (!st) {
        CF_RAISE(CF_ERR_NOMEM, NULL);
        return NULL;
    }
    st->db = db;
    st->sql = sql;
    if (!db->driver->prepare(db, st)) {
        free(st);
        return NULL;
    }
    return st;
}

cf_db_stmt *cf_db_stmt_get(cf_db *db, const char *sql)
{
    for (size_t i = 0; i < db->cache_len; i++) {
        if (db->cache[i]->sql == sql) {
            cf_db_stmt *st = db->cache[i];
            db->driver->reset(st);
            return st;
        }
    }
    /* The SQL strings are a fixed set, below the cache size. */
    if (db->cache_len == db->cache_cap) {
        CF_RAISE(CF_ERR_INTERNAL, "statement cache full");
        return NULL;
    }
    cf_db_stmt *st = cf_db_stmt_new(db, sql);
    if (st)
        db->cache[db->cache_len++] = st;
    return st;
}

cf_db_stmt *cf_db_prep(cf_db *db, const char *sql, const char *const *texts, int n)
{
    cf_db_stmt *st = cf_db_stmt_get(db, sql);
    if (!st)
        return NULL;
    for (int k = 0; k < n; k++)
        if (texts[k])
            cf_db_bind_text(st, k + 1, texts[k]);
    return st;
}

void cf_db_done(cf_db_stmt *st)
{
    if (st)
        st->db->driver->reset(st);
}

bool cf_db_prepare_uncached(cf_db *db, const char *sql, cf_db_stmt **st)
{
    *st = cf_db_stmt_new(db, sql);
    return *st != NULL;
}

void cf_db_finalize(cf_db_stmt *st)
{
    if (!st)
        return;
    st->db->driver->finalize(st);
    free(st);
}

void cf_db_bind_text(cf_db_stmt *st, int i, const char *text)
{
    st->db->driver->bind_text(st, i, text);
}

void cf_db_bind_int64(cf_db_stmt *st, int i, int64_t v)
{
    st->db->driver->bind_int64(st, i, v);
}

void cf_db_bind_blob(cf_db_stmt *st, int i, const void *p, size_t n)
{
    st->db->driver->bind_blob(st, i, p, n);
}

void cf_db_bind_null(cf_db_stmt *st, int i)
{
    st->db->driver->bind_null(st, i);
}

bool cf_db_bind_text_copy(cf_db_stmt *st, int i, const char *p, size_t n)
{
    return st->db->driver->bind_copy(st, i, p, n, false);
}

bool cf_db_bind_blob_copy(cf_db_stmt *st, int i, const void *p, size_t n)
{
    return st->db->driver->bind_copy(st, i, p, n, true);
}

int cf_db_step(cf_db_stmt *st)
{
    return st->db->driver->step(st);
}

bool cf_db_column_is_null(cf_db_stmt *st, int i)
{
    return st->db->driver->column_is_null(st, i);
}

bool cf_db_column_is_blob(cf_db_stmt *st, int i)
{
    return st->db->driver->column_is_blob(st, i);
}

int64_t cf_db_column_int64(cf_db_stmt *st, int i)
{
    return st->db->driver->column_int64(st, i);
}

int cf_db_column_int(cf_db_stmt *st, int i)
{
    return (int)st->db->driver->column_int64(st, i);
}

const char *cf_db_column_text(cf_db_stmt *st, int i)
{
    return st->db->driver->column_text(st, i);
}

const void *cf_db_column_blob(cf_db_stmt *st, int i)
{
    return st->db->driver->column_blob(st, i);
}

size_t cf_db_column_bytes(cf_db_stmt *st, int i)
{
    return st->db->driver->column_bytes(st, i);
}

/* Steps `st` once and gives it back; *found (may be NULL) says whether it
 * gave a row, *out (may be NULL) that row's first column as an integer. */
static bool cf_db_step_once(cf_db *db, cf_db_stmt *st, bool *found, int64_t *out)
{
    CF_GUARD(st);
    int rc = cf_db_step(st);
    if (found)
        *found = rc == CF_DB_ROW;
    if (out)
        *out = rc == CF_DB_ROW ? cf_db_column_int64(st, 0) : 0;
    bool ok = cf_db_ok(db, rc);
    cf_db_done(st);
    return ok;
}

bool cf_db_run(cf_db *db, cf_db_stmt *st)
{
    return cf_db_step_once(db, st, NULL, NULL);
}

bool cf_db_exists(cf_db *db, cf_db_stmt *st, bool *found)
{
    return cf_db_step_once(db, st, found, NULL);
}

bool cf_db_int(cf_db *db, cf_db_stmt *st, int64_t *out)
{
    return cf_db_step_once(db, st, NULL, out);
}

int64_t cf_db_changes(cf_db *db)
{
    return db->driver->changes(db);
}

/* ---- transactions ---- */

bool cf_db_begin(cf_db *db)
{
    return db->driver->begin(db);
}

bool cf_db_commit(cf_db *db, bool ok)
{
    if (ok && db->driver->commit(db)) {
        /* Numbered after COMMIT returned: its WAL frames are written (not
         * yet synced) before any sync that reads this number starts. */
        cf_group_sync_note(&db->wal_sync);
        return true;
    }
    if (db->driver->in_transaction(db))
        db->driver->rollback(db);
    return false;
}

bool cf_db_read_begin(cf_db *db)
{
    return db->driver->read_begin(db);
}

bool cf_db_read_end(cf_db *db, bool ok)
{
    if (!db->driver->in_transaction(db))
        return ok;
    if (!ok) {
        db->driver->rollback(db);
        return false;
    }
    return db->driver->commit(db);
}

/* ---- schema version ---- */

bool cf_db_user_version(cf_db *db, int64_t *version)
{
    return db->driver->user_version(db, version);
}

bool cf_db_set_user_version(cf_db *db, int64_t version)
{
    return db->driver->set_user_version(db, version);
}

/* The version to migrate from: a new database (version 0 and, when the
 * schema can tell, none of its tables) starts at the current one. */
static bool cf_db_start_version(cf_db *db, const cf_db_schema *schema, int64_t *version)
{
    CF_GUARD(cf_db_user_version(db, version));
    if (*version != 0 || !schema->marker_table)
        return true;
    const char *sql =
        cf_db_sql(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                  "SELECT 1 FROM information_schema.tables WHERE table_name = ?1"
                  " AND table_schema = current_schema()");
    cf_db_stmt *st = NULL;
    CF_GUARD(cf_db_prepare_uncached(db, sql, &st));
    cf_db_bind_text(st, 1, schema->marker_table);
    int rc = cf_db_step(st);
    bool exists = rc == CF_DB_ROW;
    bool ok = cf_db_ok(db, rc);
    cf_db_finalize(st);
    if (ok && !exists)
        *version = (int64_t)schema->n;
    return ok;
}

static bool cf_db_migrate_tx(cf_db *db, const cf_db_schema *schema, size_t from)
{
    for (size_t i = from; i < schema->n; i++)
        CF_GUARD(schema->steps[i].sql ? cf_db_exec(db, schema->steps[i].sql)
                                      : schema->steps[i].apply(schema->ctx));
    if (schema->then_sql)
        CF_GUARD(cf_db_exec(db, schema->then_sql));
    return cf_db_set_user_version(db, (int64_t)schema->n);
}

bool cf_db_migrate(cf_db *db, const cf_db_schema *schema, size_t *applied)
{
    /* The write lock first: on PostgreSQL several front ends may start at
     * once, and only one of them applies the steps. */
    CF_GUARD(cf_db_begin(db));
    int64_t version = 0;
    bool ok = cf_db_start_version(db, schema, &version);
    if (ok && (version < 0 || (uint64_t)version > schema->n)) {
        CF_RAISE(CF_ERR_DB, "the database is from a newer version of Coffer");
        ok = false;
    }
    if (ok && applied)
        *applied = schema->n - (size_t)version;
    if (ok && (size_t)version == schema->n && !schema->then_sql)
        return cf_db_commit(db, true);
    return cf_db_commit(db, ok && cf_db_migrate_tx(db, schema, (size_t)version));
}

bool cf_db_lead(cf_db *db, int64_t key, bool *leader)
{
    return db->driver->lead(db, key, leader);
}

/* ---- change notices ---- */

bool cf_db_notify(cf_db *db, const char *channel, const char *payload)
{
    static const char notify[] = "SELECT pg_notify(?1, ?2)";
    if (db->backend != CF_DB_POSTGRES)
        return true;
    cf_db_stmt *st = CF_DB_PREP(db, notify, channel, payload ? payload : "");
    return cf_db_run(db, st);
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
    if (db->backend != CF_DB_SQLITE)
        return true; /* COMMIT is durable */
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
