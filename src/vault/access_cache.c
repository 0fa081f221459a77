/* The callers' principals and role assignments in memory; see access_cache.h. */
#include "access_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CF_ACCESS_ENTRIES 64
#define CF_ACCESS_ROWS 8 /* principals holding more are read each time */

typedef struct {
    uint64_t gen; /* 0: unused */
    char object_id[CF_UUID_LEN + 1];
    bool have_principal, have_rows;
    cf_principal principal;
    size_t n_rows;
    cf_role_assignment rows[CF_ACCESS_ROWS];
} cf_access_entry;

struct cf_access_cache {
    _Atomic uint64_t gen;
    pthread_mutex_t lock;
    unsigned next; /* round-robin replacement */
    cf_access_entry entry[CF_ACCESS_ENTRIES];
};

cf_access_cache *cf_access_cache_new(void)
{
    cf_access_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    atomic_init(&c->gen, 1);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void cf_access_cache_free(cf_access_cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c);
}

uint64_t cf_access_cache_gen(cf_access_cache *c)
{
    return c ? atomic_load(&c->gen) : 0;
}

void cf_access_cache_changed(cf_access_cache *c)
{
    if (c)
        atomic_fetch_add(&c->gen, 1);
}

/* The current entry of `object_id`, under the lock; NULL if none. */
static cf_access_entry *cf_access_current(cf_access_cache *c, const char *object_id)
{
    uint64_t gen = atomic_load(&c->gen);
    for (unsigned i = 0; i < CF_ACCESS_ENTRIES; i++) {
        cf_access_entry *e = &c->entry[i];
        if (e->gen == gen && strcmp(e->object_id, object_id) == 0)
            return e;
    }
    return NULL;
}

/* The entry to record what was read under `gen` into, under the lock; NULL
 * when `gen` is no longer current (what was read may be out of date). */
static cf_access_entry *cf_access_slot(cf_access_cache *c, uint64_t gen, const char *object_id)
{
    if (gen != atomic_load(&c->gen) || strlen(object_id) > CF_UUID_LEN)
        return NULL;
    cf_access_entry *e = cf_access_current(c, object_id);
    if (e)
        return e;
    e = &c->entry[c->next++ % CF_ACCESS_ENTRIES];
    memset(e, 0, sizeof *e);
    e->gen = gen;
    memcpy(e->object_id, object_id, strlen(object_id) + 1);
    return e;
}

bool cf_access_cache_principal(cf_access_cache *c, const char *object_id, cf_principal *out)
{
    if (!c)
        return false;
    pthread_mutex_lock(&c->lock);
    const cf_access_entry *e = cf_access_current(c, object_id);
    bool hit = e && e->have_principal;
    if (hit)
        *out = e->principal;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void cf_access_cache_keep_principal(cf_access_cache *c, uint64_t gen, const cf_principal *p)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    cf_access_entry *e = cf_access_slot(c, gen, p->object_id);
    if (e) {
        e->principal = *p;
        e->have_principal = true;
    }
    pthread_mutex_unlock(&c->lock);
}

bool cf_access_cache_assignments(cf_access_cache *c, const char *object_id,
                                 cf_role_assignment *rows, size_t cap, size_t *n)
{
    if (!c)
        return false;
    pthread_mutex_lock(&c->lock);
    const cf_access_entry *e = cf_access_current(c, object_id);
    bool hit = e && e->have_rows && e->n_rows <= cap;
    if (hit) {
        memcpy(rows, e->rows, e->n_rows * sizeof *rows);
        *n = e->n_rows;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void cf_access_cache_keep_assignments(cf_access_cache *c, uint64_t gen, const char *object_id,
                                      const cf_role_assignment *rows, size_t n)
{
    if (!c || n > CF_ACCESS_ROWS)
        return;
    pthread_mutex_lock(&c->lock);
    cf_access_entry *e = cf_access_slot(c, gen, object_id);
    if (e) {
        memcpy(e->rows, rows, n * sizeof *rows);
        e->n_rows = n;
        e->have_rows = true;
    }
    pthread_mutex_unlock(&c->lock);
}
