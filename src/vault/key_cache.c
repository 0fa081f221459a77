/* Opened-key cache; see key_cache.h. */
#include "key_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "store.h"

#define CF_KEY_CACHE_SLOTS 1024
#define CF_KEY_CACHE_THREAD_SLOTS 4

typedef struct {
    char kind[8];
    char name[CF_NAME_MAX + 1]; /* lowercase */
    char version[CF_VERSION_LEN + 1];
    cf_pkey *pkey;
} cf_key_cache_entry;

static cf_key_cache_entry cf_cache[CF_KEY_CACHE_SLOTS];
static pthread_mutex_t cf_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_ulong cf_cache_generation;

/* Per-thread copies, freed when the thread ends. */
typedef struct {
    unsigned long generation;
    unsigned next; /* round-robin replacement */
    cf_key_cache_entry slot[CF_KEY_CACHE_THREAD_SLOTS];
} cf_thread_cache;

static pthread_key_t cf_thread_key;
static pthread_once_t cf_thread_once = PTHREAD_ONCE_INIT;

static void cf_thread_cache_clear(cf_thread_cache *tc)
{
    for (size_t i = 0; i < CF_KEY_CACHE_THREAD_SLOTS; i++) {
        cf_pkey_free(tc->slot[i].pkey);
        tc->slot[i].pkey = NULL;
    }
}

static void cf_thread_cache_destroy(void *p)
{
    cf_thread_cache_clear(p);
    free(p);
}

static void cf_thread_key_create(void)
{
    if (pthread_key_create(&cf_thread_key, cf_thread_cache_destroy) != 0)
        abort();
}

/* The calling thread's cache, emptied if a purge happened since it was used. */
static cf_thread_cache *cf_thread_cache_get(void)
{
    pthread_once(&cf_thread_once, cf_thread_key_create);
    cf_thread_cache *tc = pthread_getspecific(cf_thread_key);
    if (!tc) {
        tc = calloc(1, sizeof *tc);
        if (!tc || pthread_setspecific(cf_thread_key, tc) != 0) {
            free(tc);
            return NULL;
        }
        tc->generation = atomic_load(&cf_cache_generation);
    }
    unsigned long gen = atomic_load(&cf_cache_generation);
    if (tc->generation != gen) {
        cf_thread_cache_clear(tc);
        tc->generation = gen;
    }
    return tc;
}

static void cf_lower(char *dst, size_t len, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < len; i++)
        dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] + 32 : src[i]);
    dst[i] = 0;
}

static bool cf_entry_is(const cf_key_cache_entry *e, const char *kind, const char *lname,
                        const char *version)
{
    return e->pkey && strcmp(e->kind, kind) == 0 && strcmp(e->name, lname) == 0 &&
           strcmp(e->version, version) == 0;
}

static void cf_entry_set(cf_key_cache_entry *e, const char *kind, const char *lname,
                         const char *version, cf_pkey *pkey)
{
    snprintf(e->kind, sizeof e->kind, "%s", kind);
    snprintf(e->name, sizeof e->name, "%s", lname);
    snprintf(e->version, sizeof e->version, "%s", version);
    e->pkey = pkey;
}

/* FNV-1a over the lowercase name and the version. */
static size_t cf_slot(const char *lname, const char *version)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = lname; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    for (const char *p = version; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return (size_t)(h % CF_KEY_CACHE_SLOTS);
}

static cf_pkey *cf_shared_get(const char *kind, const char *lname, const char *version)
{
    cf_key_cache_entry *e = &cf_cache[cf_slot(lname, version)];
    cf_pkey *found = NULL;
    pthread_mutex_lock(&cf_cache_lock);
    if (cf_entry_is(e, kind, lname, version))
        found = cf_pkey_ref(e->pkey);
    pthread_mutex_unlock(&cf_cache_lock);
    return found;
}

static cf_pkey *cf_key_cache_find(const char *kind, const char *name, const char *version)
{
    char lname[CF_NAME_MAX + 1];
    cf_lower(lname, sizeof lname, name);
    cf_thread_cache *tc = cf_thread_cache_get();
    for (size_t i = 0; tc && i < CF_KEY_CACHE_THREAD_SLOTS; i++)
        if (cf_entry_is(&tc->slot[i], kind, lname, version))
            return cf_pkey_ref(tc->slot[i].pkey);
    cf_pkey *shared = cf_shared_get(kind, lname, version);
    if (!shared || !tc)
        return shared;
    /* First use in this thread: keep a private copy. */
    cf_pkey *copy = NULL;
    if (!cf_pkey_dup(shared, &copy))
        return shared;
    cf_pkey_free(shared);
    cf_key_cache_entry *e = &tc->slot[tc->next++ % CF_KEY_CACHE_THREAD_SLOTS];
    cf_pkey_free(e->pkey);
    cf_entry_set(e, kind, lname, version, copy);
    return cf_pkey_ref(copy);
}

cf_pkey *cf_key_cache_get(const char *kind, const char *name, const char *version)
{
    cf_pkey *found = cf_key_cache_find(kind, name, version);
    cf_metrics_cache("keys", found != NULL);
    return found;
}

void cf_key_cache_put(const char *kind, const char *name, const char *version, cf_pkey *pkey)
{
    cf_pkey *ref = cf_pkey_ref(pkey);
    if (!ref)
        return;
    char lname[CF_NAME_MAX + 1];
    cf_lower(lname, sizeof lname, name);
    cf_key_cache_entry *e = &cf_cache[cf_slot(lname, version)];
    pthread_mutex_lock(&cf_cache_lock);
    cf_pkey *old = e->pkey;
    cf_entry_set(e, kind, lname, version, ref);
    pthread_mutex_unlock(&cf_cache_lock);
    cf_pkey_free(old);
}

void cf_key_cache_forget(const char *kind, const char *name)
{
    char lname[CF_NAME_MAX + 1];
    cf_lower(lname, sizeof lname, name);
    pthread_mutex_lock(&cf_cache_lock);
    for (size_t i = 0; i < CF_KEY_CACHE_SLOTS; i++) {
        cf_key_cache_entry *e = &cf_cache[i];
        if (e->pkey && strcmp(e->kind, kind) == 0 && strcmp(e->name, lname) == 0) {
            cf_pkey_free(e->pkey);
            e->pkey = NULL;
        }
    }
    pthread_mutex_unlock(&cf_cache_lock);
    atomic_fetch_add(&cf_cache_generation, 1);
}
