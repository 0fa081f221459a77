/* Opened-key cache; see key_cache.h. */
#include "key_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "store.h"

#define CF_KEY_CACHE_SLOTS 1024

typedef struct {
    char kind[8];
    char name[CF_NAME_MAX + 1]; /* lowercase */
    char version[CF_VERSION_LEN + 1];
    cf_pkey *pkey;
} cf_key_cache_entry;

static cf_key_cache_entry cf_cache[CF_KEY_CACHE_SLOTS];
static pthread_mutex_t cf_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void cf_lower(char *dst, size_t len, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < len; i++)
        dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] + 32 : src[i]);
    dst[i] = 0;
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

cf_pkey *cf_key_cache_get(const char *kind, const char *name, const char *version)
{
    char lname[CF_NAME_MAX + 1];
    cf_lower(lname, sizeof lname, name);
    cf_key_cache_entry *e = &cf_cache[cf_slot(lname, version)];
    cf_pkey *found = NULL;
    pthread_mutex_lock(&cf_cache_lock);
    if (e->pkey && strcmp(e->kind, kind) == 0 && strcmp(e->name, lname) == 0 &&
        strcmp(e->version, version) == 0)
        found = cf_pkey_ref(e->pkey);
    pthread_mutex_unlock(&cf_cache_lock);
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
    snprintf(e->kind, sizeof e->kind, "%s", kind);
    snprintf(e->name, sizeof e->name, "%s", lname);
    snprintf(e->version, sizeof e->version, "%s", version);
    e->pkey = ref;
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
}
