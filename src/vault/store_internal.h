/*
 * What the store's implementation files share (store.c: objects, policies,
 * meta; store_access.c: principals, credentials, role assignments).
 * Nothing outside the store includes this.
 */
#ifndef CF_VAULT_STORE_INTERNAL_H
#define CF_VAULT_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "store.h"

#define CF_STMT_CACHE 64

struct cf_store {
    sqlite3 *db;
    pthread_mutex_t lock;
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } cache[CF_STMT_CACHE];
};

/* Runs `call` (a bool expression) holding the store's lock. */
#define CF_LOCKED(store, call)                                                 \
    ({                                                                         \
        pthread_mutex_lock(&(store)->lock);                                    \
        bool ok_ = (call);                                                     \
        pthread_mutex_unlock(&(store)->lock);                                  \
        ok_;                                                                   \
    })

CF_MUST_USE bool cf_db_ok(cf_store *store, int rc);
CF_MUST_USE bool cf_db_exec(cf_store *store, const char *sql);
/* A cached statement for static `sql`, reset and with bindings cleared. */
sqlite3_stmt *cf_stmt(cf_store *store, const char *sql);
void cf_stmt_done(sqlite3_stmt *stmt);
CF_MUST_USE bool cf_begin(cf_store *store);
/* Commits when `ok`, else rolls back and returns false. */
bool cf_commit(cf_store *store, bool ok);

#endif
