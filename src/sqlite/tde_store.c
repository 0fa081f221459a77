/*
 * Coffer's own stores on the coffer VFS (tde_store.h).
 */
#include "tde_store.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"
#include "secmem.h"
#include "fsutil.h"
#include "tde_files.h"
#include "tde_internal.h"

#define CF_TDE_STORE_URI_MAX 16384

/* The store key: HKDF-SHA256(master key, no salt, this label), so the
 * master key itself wraps nothing but what it wrapped before. */
static const char cf_store_key_label[] = "coffer store tde v1";

/* Removes what an interrupted conversion of `path` left beside it
 * (tde_files.c names its staging files PATH.coffer-PID.tmp). */
static bool cf_remove_staging(const char *path)
{
    char pattern[PATH_MAX];
    glob_t found;
    CF_ENSURE(snprintf(pattern, sizeof pattern, "%s.coffer-*.tmp", path) < (int)sizeof pattern,
              CF_ERR_TOO_LARGE, "path too long");
    if (glob(pattern, GLOB_NOSORT | GLOB_NOESCAPE, NULL, &found) != 0)
        return true; /* none */
    bool ok = true;
    for (size_t i = 0; ok && i < found.gl_pathc; i++)
        if (unlink(found.gl_pathv[i]) != 0 && errno != ENOENT)
            ok = cf_io_fail("remove a conversion's leftover", errno);
    globfree(&found);
    return ok;
}

bool cf_tde_store_prepare(const char *path, cf_slice master_key, bool upgrade, cf_tde_store *out)
{
    memset(out->key_id, 0, sizeof out->key_id);
    memset(out->protector, 0, sizeof out->protector);
    cf_buf_init(&out->uri, CF_TDE_STORE_URI_MAX);
    CF_ENSURE(master_key.len == 32, CF_ERR_INTERNAL, "a master key is 32 bytes");
    CF_ENSURE(coffer_tde_register() == SQLITE_OK, CF_ERR_INTERNAL,
              "cannot register the coffer VFS");
    uint8_t *key = cf_secret_alloc(32);
    CF_ENSURE_ALLOC(key);
    bool ok =
        cf_hkdf_sha256(master_key, cf_slice_of(NULL, 0),
                       cf_slice_of(cf_store_key_label, sizeof cf_store_key_label - 1), key, 32);
    int rc = ok ? coffer_tde_key_add(key, out->key_id) : SQLITE_OK;
    cf_secret_free(key, 32);
    CF_GUARD(ok);
    CF_ENSURE(rc == SQLITE_OK, CF_ERR_NOMEM, "cannot keep the store key");
    snprintf(out->protector, sizeof out->protector, "key:%s", out->key_id);
    const cf_tde_keys keys = {.protector = out->protector};
    bool plain;
    CF_GUARD(cf_tde_file_is_plain(path, &plain));
    CF_ENSUREF(!plain || upgrade, CF_ERR_BAD_INPUT,
               "%s is not encrypted yet: the service encrypts it at its next start", path);
    if (upgrade)
        CF_GUARD(cf_remove_staging(path));
    if (plain) {
        cf_log(CF_LOG_INFO, NULL, "encrypting %s (a plain store from an older version)", path);
        CF_GUARD(cf_tde_encrypt_file(path, &keys, path));
    }
    cf_tde_error_clear();
    return cf_tde_uri(path, &keys, &out->uri);
}

bool cf_tde_store_explain(void)
{
    const char *tde = coffer_tde_last_error();
    if (!*tde)
        return false;
    char was[512];
    snprintf(was, sizeof was, "%s", cf_error_detail());
    cf_error_raisef(cf_error_code(), __FILE__, __LINE__, "%s (%s)", was, tde);
    return false;
}

void cf_tde_store_release(cf_tde_store *t)
{
    if (t->key_id[0])
        coffer_tde_key_remove(t->key_id);
    t->key_id[0] = '\0';
    cf_buf_free(&t->uri);
}
