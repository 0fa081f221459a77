/*
 * The callers' principals and role assignments as last read from the
 * vault store (store_access.c): every request reads both to authenticate
 * and authorize its caller, and they rarely change.
 *
 * Kept only on SQLite, where this process is the database's only writer
 * (exclusive locking, one connection).  Every write to principals,
 * credentials or assignments calls cf_access_cache_changed() while it
 * holds the connection, and an entry counts only while the generation it
 * was read under is still current.  A reader takes the generation before
 * its query, and the query waits for the connection, so a write either
 * shows in what it reads or has made its generation stale.  Several front
 * ends on PostgreSQL would not see each other's writes: there the store
 * keeps no cache (NULL) and every request reads the database.
 */
#ifndef CF_ACCESS_CACHE_H
#define CF_ACCESS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct cf_access_cache cf_access_cache;

/* NULL when out of memory: the store then reads the database each time. */
cf_access_cache *cf_access_cache_new(void);
void cf_access_cache_free(cf_access_cache *c);

/* The generation to read under (0 without a cache). */
uint64_t cf_access_cache_gen(cf_access_cache *c);
/* Makes everything read so far stale; NULL is fine. */
void cf_access_cache_changed(cf_access_cache *c);

/* True with *out filled when a current entry has the principal. */
bool cf_access_cache_principal(cf_access_cache *c, const char *object_id, cf_principal *out);
void cf_access_cache_keep_principal(cf_access_cache *c, uint64_t gen, const cf_principal *p);

/* True with rows[0..*n) filled when a current entry has the principal's
 * complete list and it fits in `cap`. */
bool cf_access_cache_assignments(cf_access_cache *c, const char *object_id,
                                 cf_role_assignment *rows, size_t cap, size_t *n);
/* Keeps a complete list (short ones only). */
void cf_access_cache_keep_assignments(cf_access_cache *c, uint64_t gen, const char *object_id,
                                      const cf_role_assignment *rows, size_t n);

#endif
