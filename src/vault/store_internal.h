/*
 * What the store's implementation files share (store.c: objects, policies,
 * meta; store_access.c: principals, credentials, role assignments).  The
 * connection is db.h's.
 * Nothing outside the store includes this.
 */
#ifndef CF_VAULT_STORE_INTERNAL_H
#define CF_VAULT_STORE_INTERNAL_H

#include <pthread.h>

#include "db.h"
#include "store.h"
#include "units.h"

/* Above the number of SQL strings the store uses (about 40). */
#define CF_STMT_CACHE 64
/* PostgreSQL: the advisory lock the vault store's writers take ("cfva"),
 * and the one its sweeper leader holds ("cfvs"). */
#define CF_STORE_WRITE_LOCK 0x63667661
#define CF_STORE_SWEEPER_LOCK 0x63667673
/* How long a statement waits for SQLite's lock before failing. */
#define CF_STORE_BUSY_TIMEOUT_MS (5 * CF_MS_PER_SECOND)

struct cf_store {
    cf_db *db;
    pthread_mutex_t lock;
};

/* Runs `call` (a bool expression) holding the store's lock. */
#define CF_LOCKED(store, call)                \
    ({                                        \
        pthread_mutex_lock(&(store)->lock);   \
        bool ok_ = (call);                    \
        pthread_mutex_unlock(&(store)->lock); \
        ok_;                                  \
    })

#endif
