/*
 * Keys given to the VFS in memory (coffer_tde.h, coffer_tde_key_add), named
 * in a URI as protector=key:ID.  Coffer's own stores keep their protector
 * here: a key derived from the service's sealed master key, which never
 * reaches a file.
 *
 * A small fixed table under one mutex: a process holds a key per store it
 * has open, so a few entries; each is reference-counted so two stores (or a
 * test's second connection) may add the same key, and wiped with its last
 * reference.
 */
#include <pthread.h>
#include <string.h>

#include "coffer_tde.h"
#include "secmem.h"
#include "tde_keyring.h"

#define CF_TDE_KEYRING_MAX 32

static struct {
    char id[COFFER_TDE_KEY_ID_LEN + 1];
    uint8_t *key; /* CF_TDE_DEK_LEN bytes of secret memory; NULL = free */
    unsigned refs;
} cf_keyring[CF_TDE_KEYRING_MAX];
static pthread_mutex_t cf_keyring_lock = PTHREAD_MUTEX_INITIALIZER;

static int cf_keyring_find(const char *id)
{
    for (int i = 0; i < CF_TDE_KEYRING_MAX; i++)
        if (cf_keyring[i].key && strcmp(cf_keyring[i].id, id) == 0)
            return i;
    return -1;
}

int coffer_tde_key_add(const unsigned char key[32], char id[COFFER_TDE_KEY_ID_LEN + 1])
{
    char fp[COFFER_TDE_KEY_ID_LEN + 1];
    if (!cf_tde_key_fingerprint(cf_slice_of(key, CF_TDE_DEK_LEN), fp))
        return SQLITE_NOMEM;
    int rc = SQLITE_OK;
    pthread_mutex_lock(&cf_keyring_lock);
    int i = cf_keyring_find(fp);
    for (int j = 0; i < 0 && j < CF_TDE_KEYRING_MAX; j++)
        if (!cf_keyring[j].key)
            i = j;
    if (i < 0) {
        rc = SQLITE_FULL;
    } else if (cf_keyring[i].key) {
        cf_keyring[i].refs++;
    } else if ((cf_keyring[i].key = cf_secret_alloc(CF_TDE_DEK_LEN)) != NULL) {
        memcpy(cf_keyring[i].key, key, CF_TDE_DEK_LEN);
        memcpy(cf_keyring[i].id, fp, sizeof fp);
        cf_keyring[i].refs = 1;
    } else {
        rc = SQLITE_NOMEM;
    }
    pthread_mutex_unlock(&cf_keyring_lock);
    if (rc == SQLITE_OK)
        memcpy(id, fp, sizeof fp);
    return rc;
}

void coffer_tde_key_remove(const char *id)
{
    pthread_mutex_lock(&cf_keyring_lock);
    int i = id ? cf_keyring_find(id) : -1;
    if (i >= 0 && --cf_keyring[i].refs == 0) {
        cf_secret_free(cf_keyring[i].key, CF_TDE_DEK_LEN);
        cf_keyring[i].key = NULL;
        cf_keyring[i].id[0] = '\0';
    }
    pthread_mutex_unlock(&cf_keyring_lock);
}

bool cf_tde_keyring_get(const char *id, cf_buf *key)
{
    pthread_mutex_lock(&cf_keyring_lock);
    int i = cf_keyring_find(id);
    bool copied = i >= 0 && cf_buf_append(key, cf_keyring[i].key, CF_TDE_DEK_LEN);
    pthread_mutex_unlock(&cf_keyring_lock);
    CF_ENSUREF(i >= 0, CF_ERR_FORBIDDEN, "no key %s was given to this process (protector=key:ID)",
               id);
    CF_ENSURE(copied, CF_ERR_NOMEM, NULL);
    return true;
}
