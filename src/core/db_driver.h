/*
 * What a database backend provides behind db.h: db.c keeps the statement
 * cache, the step helpers, migrations and the group commit, and calls the
 * driver for everything that talks to the engine.
 */
#ifndef CF_DB_DRIVER_H
#define CF_DB_DRIVER_H

#include "db.h"
#include "group_sync.h"

typedef struct {
    /* Connects; fills db->conn.  Raises on failure. */
    bool (*open)(cf_db *db, const cf_db_config *config);
    void (*close)(cf_db *db);
    /* Raises the failure behind the last CF_DB_ERROR (or a failed call). */
    bool (*fail)(cf_db *db);
    bool (*exec)(cf_db *db, const char *sql);
    /* Prepares st->sql; fills st->impl. */
    bool (*prepare)(cf_db *db, cf_db_stmt *st);
    void (*reset)(cf_db_stmt *st);
    void (*finalize)(cf_db_stmt *st);
    void (*bind_text)(cf_db_stmt *st, int i, const char *text);
    void (*bind_int64)(cf_db_stmt *st, int i, int64_t v);
    void (*bind_blob)(cf_db_stmt *st, int i, const void *p, size_t n);
    void (*bind_null)(cf_db_stmt *st, int i);
    bool (*bind_copy)(cf_db_stmt *st, int i, const void *p, size_t n, bool blob);
    int (*step)(cf_db_stmt *st);
    bool (*column_is_null)(cf_db_stmt *st, int i);
    bool (*column_is_blob)(cf_db_stmt *st, int i);
    int64_t (*column_int64)(cf_db_stmt *st, int i);
    const char *(*column_text)(cf_db_stmt *st, int i);
    const void *(*column_blob)(cf_db_stmt *st, int i);
    size_t (*column_bytes)(cf_db_stmt *st, int i);
    int64_t (*changes)(cf_db *db);
    bool (*begin)(cf_db *db);
    /* COMMIT; on failure the transaction is rolled back. */
    bool (*commit)(cf_db *db);
    void (*rollback)(cf_db *db);
    bool (*read_begin)(cf_db *db);
    bool (*in_transaction)(cf_db *db);
    bool (*lead)(cf_db *db, int64_t key, bool *leader);
    bool (*user_version)(cf_db *db, int64_t *version);
    bool (*set_user_version)(cf_db *db, int64_t version);
} cf_db_driver;

struct cf_db_stmt {
    cf_db *db;
    const char *sql; /* static when cached: the cache's key */
    void *impl;      /* the driver's statement */
};

struct cf_db {
    const cf_db_driver *driver;
    cf_db_backend backend;
    void *conn; /* the driver's connection */
    char *path; /* SQLite: the database file */
    const char *what;
    int64_t write_lock;
    char store_name[32];
    cf_db_stmt **cache;
    size_t cache_len, cache_cap;
    /* Group commit of the WAL (cf_db_group_commit_start); wal_fd -1 without. */
    int wal_fd;
    cf_group_sync wal_sync;
};

extern const cf_db_driver cf_db_sqlite_driver;
extern const cf_db_driver cf_db_postgres_driver;

#endif
