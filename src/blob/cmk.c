/*
 * Customer-managed keys: the gate every data request of an account passes,
 * and the switch between service-managed and vault-held keys.
 *
 * An account on a coffer-vault key can be used only while its data key,
 * unwrapped by the vault, sits in the store's key ring.  The gate checks
 * the vault again once the check is older than --key-cache-seconds
 * (default 600, as Azure caches keys): it reads the key (which version is
 * current, whether it is enabled), unwraps the data key with the version
 * that wrapped it and, when a versionless key URI has a newer version,
 * wraps the data key again with that one (rotation: nothing is
 * re-encrypted).  Any refusal (key disabled or deleted, role removed, vault
 * unreachable) empties the ring entry at once and is answered with Azure's
 * 403 code saying which; a failure is retried at most every few seconds, so
 * restoring access heals the account without a restart.  While one request
 * refreshes, others keep using the key the ring still holds.
 *
 * Encryption scopes keep their keys the same way.  The gate checks every
 * vault-held key of the account a request goes to: the account's own key
 * must be usable for the request to proceed; a scope's key that is not
 * leaves a note in the key ring, so only the requests that need that scope
 * fail (with the reason), and the account's other data stays readable.
 *
 * Only requests that passed authentication reach the gate, so anonymous
 * traffic cannot make the service call the vault.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob_service.h"
#include "envelope.h"
#include "log.h"
#include "metrics.h"
#include "secmem.h"

#define CF_CMK_RETRY_SECONDS 5

/* One key holder: an account's own key (scope "") or one of its scopes.
 * `gen` changes whenever what is known of the holder may be stale (its
 * key was switched, a scope came or went): work started under an older
 * generation is thrown away. */
typedef struct cf_cmk_entry {
    struct cf_cmk_entry *next;
    char account[CF_BLOB_ACCOUNT_MAX + 1];
    char scope[CF_BLOB_SCOPE_MAX + 1];
    uint64_t gen;
    bool loaded;
    cf_blob_key_source source;
    uint8_t ref[CF_EXTENT_KEY_REF_LEN];
    bool ready;      /* the data key is in the ring */
    bool refreshing; /* one request is asking the vault */
    int64_t checked_at, failed_at;
    const char *reason;
    char message[400];
    /* Account entries: the scope entries of the account, once listed. */
    bool scopes_listed;
    struct cf_cmk_entry **scopes;
    size_t n_scopes;
} cf_cmk_entry;

struct cf_blob_cmk {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    pthread_mutex_t admin; /* one key change at a time */
    cf_cmk_entry *entries;
    int cache_seconds;
};

bool cf_blob_cmk_open(int cache_seconds, cf_blob_cmk **out)
{
    cf_blob_cmk *c = calloc(1, sizeof *c);
    CF_ENSURE_ALLOC(c);
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->admin, NULL);
    pthread_cond_init(&c->changed, NULL);
    c->cache_seconds = cache_seconds;
    *out = c;
    return true;
}

void cf_blob_cmk_close(cf_blob_cmk *c)
{
    if (!c)
        return;
    while (c->entries) {
        cf_cmk_entry *e = c->entries;
        c->entries = e->next;
        free(e->scopes);
        free(e);
    }
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->admin);
    pthread_cond_destroy(&c->changed);
    free(c);
}

/* Called with the lock held; NULL only when out of memory. */
static cf_cmk_entry *cf_cmk_entry_get(cf_blob_cmk *c, const char *account, const char *scope)
{
    for (cf_cmk_entry *e = c->entries; e; e = e->next)
        if (strcmp(e->account, account) == 0 && strcmp(e->scope, scope) == 0)
            return e;
    cf_cmk_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    snprintf(e->account, sizeof e->account, "%s", account);
    snprintf(e->scope, sizeof e->scope, "%s", scope);
    e->next = c->entries;
    c->entries = e;
    return e;
}

static const char *cf_cmk_scope_arg(const char *scope)
{
    return scope && scope[0] ? scope : NULL;
}

/* Asks the vault for a holder's data key and puts it in the ring,
 * re-wrapping it when the key has a newer version. */
static bool cf_cmk_refresh(cf_blob_service *svc, const char *account, const char *scope)
{
    cf_blob_key_info info;
    cf_buf wrapped, key, rewrapped;
    cf_buf_init(&wrapped, 4096);
    cf_buf_init_secret(&key, 4096);
    cf_buf_init(&rewrapped, 4096);
    bool ok = cf_blob_key_info_get(svc->store, account, scope, &info, &wrapped);
    if (ok && info.source != CF_BLOB_KEYS_VAULT)
        goto done; /* switched back meanwhile */
    if (ok && !svc->vault) {
        CF_RAISE_REASON(CF_ERR_FORBIDDEN, "KeyVaultAuthenticationFailure",
                        "The key is in coffer-vault, but coffer-blob was started without "
                        "--vault-bootstrap.");
        ok = false;
    }
    cf_vault_client_key current, stored;
    ok = ok && cf_vault_client_get_key(svc->vault, info.uri, &current) &&
         cf_vault_client_key_usable(&current);
    bool rotated = ok && strcmp(current.kid, info.kid) != 0;
    if (rotated)
        ok = cf_vault_client_get_key(svc->vault, info.kid, &stored);
    else
        stored = current;
    ok = ok && cf_vault_client_unwrap(svc->vault, &stored, cf_buf_slice(&wrapped), &key);
    if (ok && key.len != CF_DATA_KEY_LEN) {
        CF_RAISE_REASON(CF_ERR_FORBIDDEN, "KeyVaultEncryptionKeyNotFound",
                        "The customer-managed key does not unwrap this data key.");
        ok = false;
    }
    if (ok && rotated) {
        cf_blob_key_info next = info;
        snprintf(next.kid, sizeof next.kid, "%s", current.kid);
        ok = cf_vault_client_wrap(svc->vault, &current, cf_buf_slice(&key), &rewrapped) &&
             cf_blob_key_store(svc->store, account, scope, &next, cf_buf_slice(&rewrapped),
                               info.kid);
        if (ok)
            cf_log(CF_LOG_INFO, NULL, "account %s%s%s: data key wrapped again by key version %s",
                   account, scope ? " scope " : "", scope ? scope : "", current.kid);
        else if (cf_error_code() == CF_ERR_CONFLICT)
            ok = true; /* someone else changed it; the old wrapping still opened */
    }
    ok = ok && cf_blob_keyring_put(svc->store, info.ref, cf_buf_slice(&key));
done:
    cf_buf_free(&wrapped);
    cf_buf_free(&key);
    cf_buf_free(&rewrapped);
    return ok;
}

/* Raises the entry's remembered failure. */
static bool cf_cmk_failed(const cf_cmk_entry *e)
{
    cf_error_raise_reason(CF_ERR_FORBIDDEN, e->reason, __FILE__, __LINE__, e->message);
    return false;
}

/* Makes sure one holder's key is usable (or its failure remembered);
 * called and returns with the lock held.  `wait`: whether to wait for
 * another request's refresh of a key not yet usable (scopes do not: their
 * requests learn from the key ring). */
static bool cf_cmk_check_locked(cf_blob_service *svc, cf_cmk_entry *e, bool wait)
{
    cf_blob_cmk *c = svc->cmk;
    const char *scope = cf_cmk_scope_arg(e->scope);
    char account[CF_BLOB_ACCOUNT_MAX + 1], name[CF_BLOB_SCOPE_MAX + 1];
    snprintf(account, sizeof account, "%s", e->account);
    snprintf(name, sizeof name, "%s", e->scope);
    for (;;) {
        uint64_t gen = e->gen;
        if (!e->loaded) {
            pthread_mutex_unlock(&c->lock);
            cf_blob_key_info info;
            bool ok = cf_blob_key_info_get(svc->store, account, scope ? name : NULL, &info, NULL);
            pthread_mutex_lock(&c->lock);
            if (!ok) /* the operation will say what is missing */
                return cf_error_code() == CF_ERR_NOT_FOUND || cf_error_code() == CF_ERR_BAD_INPUT;
            if (e->gen != gen)
                continue; /* switched meanwhile: what was read may be old */
            e->loaded = true;
            e->source = info.source;
            memcpy(e->ref, info.ref, sizeof e->ref);
        }
        if (e->source == CF_BLOB_KEYS_SERVICE)
            return true;
        int64_t now = (int64_t)time(NULL);
        if (e->ready && now - e->checked_at < c->cache_seconds) {
            cf_metrics_cache("cmk-data-keys", true);
            return true;
        }
        if (!e->ready && e->failed_at &&
            now - e->failed_at <
                (c->cache_seconds < CF_CMK_RETRY_SECONDS ? c->cache_seconds : CF_CMK_RETRY_SECONDS))
            return cf_cmk_failed(e);
        if (e->refreshing) {
            if (e->ready || !wait)
                return e->ready;
            pthread_cond_wait(&c->changed, &c->lock);
            continue;
        }
        e->refreshing = true;
        cf_metrics_cache("cmk-data-keys", false); /* unwrapped again through the vault */
        uint8_t ref[CF_EXTENT_KEY_REF_LEN];
        memcpy(ref, e->ref, sizeof ref);
        pthread_mutex_unlock(&c->lock);
        bool ok = cf_cmk_refresh(svc, account, scope ? name : NULL);
        const char *reason = ok                  ? NULL
                             : cf_error_reason() ? cf_error_reason()
                                                 : "KeyVaultVaultNotFound";
        char message[400];
        snprintf(message, sizeof message, "%s", ok ? "" : cf_error_detail());
        if (!ok) {
            cf_blob_keyring_drop(svc->store, account, ref, reason, message);
            cf_log(CF_LOG_WARN, NULL, "account %s%s%s: customer-managed key unavailable: %s",
                   account, scope ? " scope " : "", scope ? name : "", message);
        }
        pthread_mutex_lock(&c->lock);
        e->refreshing = false;
        pthread_cond_broadcast(&c->changed);
        if (e->gen != gen) {
            /* The holder changed under the refresh: its result may put back
             * a key that was switched away.  Drop it and look again. */
            if (ok) {
                pthread_mutex_unlock(&c->lock);
                cf_blob_keyring_drop(svc->store, account, ref, NULL, NULL);
                pthread_mutex_lock(&c->lock);
            }
            continue;
        }
        e->ready = ok;
        if (ok) {
            e->checked_at = now;
            e->failed_at = 0;
            return true;
        }
        e->failed_at = now;
        e->reason = reason;
        snprintf(e->message, sizeof e->message, "%s", message);
        return cf_cmk_failed(e);
    }
}

/* Lists the account's scopes into its entry (once per generation). */
static bool cf_cmk_list_scopes_locked(cf_blob_service *svc, cf_cmk_entry *acct)
{
    while (!acct->scopes_listed) {
        uint64_t gen = acct->gen;
        char account[CF_BLOB_ACCOUNT_MAX + 1];
        snprintf(account, sizeof account, "%s", acct->account);
        pthread_mutex_unlock(&svc->cmk->lock);
        json_t *names = NULL;
        /* Only vault-kept scopes need the gate; a switch re-lists (forget). */
        bool ok = cf_blob_scope_names(svc->store, account, true, &names);
        pthread_mutex_lock(&svc->cmk->lock);
        cf_cmk_entry **list = ok ? calloc(json_array_size(names) + 1, sizeof *list) : NULL;
        size_t n = 0, i;
        json_t *v;
        json_array_foreach(names, i, v)
        {
            if (list && !(list[n++] = cf_cmk_entry_get(svc->cmk, account, json_string_value(v)))) {
                free(list);
                list = NULL;
            }
        }
        json_decref(names);
        if (!list) {
            if (ok)
                CF_RAISE(CF_ERR_NOMEM, NULL);
            return false;
        }
        if (acct->gen != gen) {
            free(list);
            continue;
        }
        free(acct->scopes);
        acct->scopes = list;
        acct->n_scopes = n;
        acct->scopes_listed = true;
    }
    return true;
}

bool cf_blob_cmk_ready(cf_blob_service *svc, const char *account)
{
    cf_blob_cmk *c = svc->cmk;
    pthread_mutex_lock(&c->lock);
    cf_cmk_entry *acct = cf_cmk_entry_get(c, account, "");
    bool ok = acct && cf_cmk_check_locked(svc, acct, true);
    if (!acct)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    /* Scopes: a failure only marks that scope's key in the ring, where the
     * requests that need it find the reason. */
    ok = ok && cf_cmk_list_scopes_locked(svc, acct);
    for (size_t i = 0; ok && i < acct->n_scopes; i++)
        if (!cf_cmk_check_locked(svc, acct->scopes[i], false))
            cf_error_clear();
    pthread_mutex_unlock(&c->lock);
    return ok;
}

/* Forgets what the gate knew of an account (NULL: of every account) and
 * its scopes (a key changed, a scope came, the account is gone);
 * refreshes under way are discarded. */
void cf_blob_cmk_forget(cf_blob_service *svc, const char *account)
{
    cf_blob_cmk *c = svc->cmk;
    pthread_mutex_lock(&c->lock);
    for (cf_cmk_entry *e = c->entries; e; e = e->next) {
        if (!account || strcmp(e->account, account) == 0) {
            e->gen++;
            e->loaded = e->ready = e->scopes_listed = false;
            e->failed_at = 0;
        }
    }
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

/* The data key in the clear, whoever keeps it now. */
static bool cf_cmk_current_key(cf_blob_service *svc, const char *account, const char *scope,
                               cf_buf *key)
{
    CF_GUARD(cf_blob_cmk_ready(svc, account));
    return cf_blob_data_key(svc->store, account, scope, key);
}

static bool cf_cmk_switch(cf_blob_service *svc, const char *account, const char *scope,
                          const char *uri)
{
    cf_blob_key_info info;
    CF_GUARD(cf_blob_key_info_get(svc->store, account, scope, &info, NULL));
    cf_buf key, wrapped, back;
    cf_buf_init_secret(&key, 64);
    cf_buf_init(&wrapped, 4096);
    cf_buf_init_secret(&back, 4096);
    bool ok = cf_cmk_current_key(svc, account, scope, &key);
    cf_blob_key_info next = {.source = uri ? CF_BLOB_KEYS_VAULT : CF_BLOB_KEYS_SERVICE};
    memcpy(next.ref, info.ref, sizeof next.ref);
    if (ok && uri) {
        cf_vault_client_key k;
        if (!svc->vault) {
            CF_RAISE(CF_ERR_BAD_INPUT, "coffer-blob was started without --vault-bootstrap: it "
                                       "cannot use coffer-vault keys");
            ok = false;
        }
        snprintf(next.uri, sizeof next.uri, "%s", uri);
        /* The unwrap proves the service may undo what it wraps before
         * anything depends on it. */
        ok = ok && cf_vault_client_get_key(svc->vault, uri, &k) && cf_vault_client_key_usable(&k) &&
             cf_vault_client_wrap(svc->vault, &k, cf_buf_slice(&key), &wrapped) &&
             cf_vault_client_unwrap(svc->vault, &k, cf_buf_slice(&wrapped), &back);
        if (ok && !cf_slice_eq(cf_buf_slice(&back), cf_buf_slice(&key))) {
            CF_RAISE(CF_ERR_INTERNAL, "the vault's unwrap did not give the data key back");
            ok = false;
        }
        snprintf(next.kid, sizeof next.kid, "%s", ok ? k.kid : "");
        ok = ok && cf_blob_keyring_put(svc->store, info.ref, cf_buf_slice(&key)) &&
             cf_blob_key_store(svc->store, account, scope, &next, cf_buf_slice(&wrapped), NULL);
    } else if (ok) {
        ok = cf_blob_key_store(svc->store, account, scope, &next, cf_buf_slice(&key), NULL);
        if (ok)
            cf_blob_keyring_drop(svc->store, account, info.ref, NULL, NULL);
    }
    cf_buf_free(&key);
    cf_buf_free(&wrapped);
    cf_buf_free(&back);
    return ok;
}

bool cf_blob_cmk_set(cf_blob_service *svc, const char *account, const char *scope, const char *uri)
{
    pthread_mutex_lock(&svc->cmk->admin);
    bool ok = cf_cmk_switch(svc, account, scope, uri);
    pthread_mutex_unlock(&svc->cmk->admin);
    cf_blob_cmk_forget(svc, account);
    if (ok)
        cf_log(CF_LOG_INFO, NULL, "account %s%s%s: data key now kept by %s", account,
               scope ? " scope " : "", scope ? scope : "", uri ? uri : "the service");
    return ok;
}
