/*
 * What the store's implementation files share (store.c: objects, policies,
 * meta; store_access.c: principals, credentials, role assignments).  The
 * connection is db.h's.
 * Nothing outside the store includes this.
 */
#ifndef CF_VAULT_STORE_INTERNAL_H
#define CF_VAULT_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "db.h"
#include "access_cache.h"
#include "store.h"
#include "tde_store.h"
#include "units.h"

/* Above the number of SQL strings the store uses (about 40). */
#define CF_STMT_CACHE 64
/* PostgreSQL: the advisory lock the vault store's writers take ("cfva"),
 * and the one its sweeper leader holds ("cfvs"). */
#define CF_STORE_WRITE_LOCK 0x63667661
#define CF_STORE_SWEEPER_LOCK 0x63667673
/* How long a statement waits for SQLite's lock before failing. */
#define CF_STORE_BUSY_TIMEOUT_MS (5 * CF_MS_PER_SECOND)

/* Connections per store: SQLite's exclusive locking allows one; on
 * PostgreSQL several let reads of different requests run at once (writers
 * still take the store's advisory lock). */
#define CF_STORE_PG_CONNS 4

/* One connection and the mutex that gives it to one thread at a time. */
typedef struct {
    cf_db *db;
    pthread_mutex_t lock;
} cf_store_conn;

struct cf_store {
    cf_store_conn conn[CF_STORE_PG_CONNS];
    unsigned n_conns;
    _Atomic unsigned next;   /* where the search for a free connection starts */
    cf_tde_store tde;        /* SQLite: the store key and the URI through the VFS */
    cf_access_cache *access; /* SQLite only (access_cache.h); NULL on PostgreSQL */
};

/* Takes a free connection (or waits for one); the calling thread's
 * statements then go to it (cf_store_db) until cf_store_release. */
cf_store_conn *cf_store_acquire(cf_store *store);
/* The same for connection `i` (the sweeper leader's lock lives on one). */
cf_store_conn *cf_store_acquire_at(cf_store *store, unsigned i);
void cf_store_release(cf_store_conn *c);
/* The connection the calling thread holds. */
cf_db *cf_store_db(const cf_store *store);

/* The same on connection `i`. */
#define CF_LOCKED_AT(store, i, call)                          \
    ({                                                        \
        cf_store_conn *held_ = cf_store_acquire_at(store, i); \
        bool ok_ = (call);                                    \
        cf_store_release(held_);                              \
        ok_;                                                  \
    })

/* Runs `call` (a bool expression) holding one of the store's connections. */
#define CF_LOCKED(store, call)                          \
    ({                                                  \
        cf_store_conn *held_ = cf_store_acquire(store); \
        bool ok_ = (call);                              \
        cf_store_release(held_);                        \
        ok_;                                            \
    })

/* Inserts a principal (the caller holds a connection). */
CF_MUST_USE bool cf_store_principal_add_locked(cf_store *store, const cf_principal *p);

/* Up to CF_STORE_LIST_CAP rows of `sql`, each read by `read` into a
 * `row_size` slot under the lock, then handed to `each` without it, so
 * callbacks may use the store.  The rows are wiped before they are freed. */
#define CF_STORE_LIST_CAP 10000
CF_MUST_USE bool cf_store_list_rows(cf_store *store, const char *sql, size_t row_size,
                                    void (*read)(cf_db_stmt *st, void *row),
                                    bool (*each)(void *ctx, const void *row), void *ctx);

#endif
