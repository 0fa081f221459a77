/*
 * One store, several front ends (PostgreSQL; blob_store.h, "Several front
 * ends"): what a front end must hear from the others, and what it must not
 * take from under them.
 *
 * Change notices.  A front end caches accounts (their rows, their opened
 * Shared Key and data key slots) and each account's metadata key; the
 * service caches which of its keys a vault holds.  Every write to an
 * account or its scopes ends, inside its transaction, with a notice on
 * BS_CHANNEL: "<instance>:<account>", delivered to every listening front
 * end when the transaction commits and never if it rolls back.  The
 * listener (db.h: a thread and a connection per front end) drops what the
 * store cached of that account under the store's lock, then tells the
 * service.  A fill that raced the change cannot survive it: a fill reads
 * and caches under that same lock, and the notice is handled after the
 * commit, so it waits for the fill and drops it.  A front end skips its own
 * notices: the writing call dropped its caches already.  Payload NULL (the
 * listener's connection was lost, or is back): everything is dropped.
 *
 * Deferred extent removal.  A reader pins its extents only in its own
 * process, so a delete on another front end cannot see it.  On PostgreSQL
 * the transaction that unreferences an extent records it in
 * extents_unreferenced with the database's clock (one clock for every
 * front end), and the sweep, on the leader, removes it (inline row and
 * record in a transaction, then the stored extent through the extent
 * store) once the grace (--extent-grace, CF_BLOB_EXTENT_GRACE by default)
 * has passed, unless a reader of its own process still holds it.  The grace is the bound: a
 * download that outlives the delete of its blob by more than that may fail.  Extent ids are never
 * reused and nothing references an extent again once nothing does (a copy
 * shares only referenced extents), so removal after the grace is final;
 * the sweep checks the references again all the same.
 */
#include "blob_store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_secure.h"

#define BS_CHANNEL "coffer_blob"
/* Extents one sweep transaction handles; the sweep goes on in further ones. */
#define BS_SWEEP_BATCH 256

/* ---- change notices ---- */

bool cf_bs_account_changed_tx(cf_blob_store *s, const char *account)
{
    cf_bs_accounts_changed_locked(s);
    if (cf_db_backend_of(s->db) != CF_DB_POSTGRES)
        return true;
    char payload[BS_ID_HEX + 1 + CF_BLOB_ACCOUNT_MAX + 1];
    snprintf(payload, sizeof payload, "%s:%s", s->instance, account);
    return cf_db_notify(s->db, BS_CHANNEL, payload);
}

/* The listener's callback: drops what is cached of the account a notice
 * names (payload NULL, or one not understood: of every account). */
static void bs_notice(void *ctx, const char *payload)
{
    cf_blob_store *s = ctx;
    char account[CF_BLOB_ACCOUNT_MAX + 1] = "";
    if (!payload)
        s->generation++;
    if (payload) {
        const char *colon = strchr(payload, ':');
        if (colon && (size_t)(colon - payload) == BS_ID_HEX &&
            memcmp(payload, s->instance, BS_ID_HEX) == 0)
            return; /* ours: the writing call dropped its caches */
        s->generation++;
        if (colon && strlen(colon + 1) < sizeof account)
            snprintf(account, sizeof account, "%s", colon + 1);
    }
    pthread_mutex_lock(&s->lock);
    cf_bs_accounts_changed_locked(s);
    if (account[0])
        cf_bs_meta_key_drop_locked(s, account);
    else
        cf_bs_meta_keys_free(s);
    pthread_mutex_unlock(&s->lock);
    if (s->on_change)
        s->on_change(s->on_change_ctx, account[0] ? account : NULL);
}

bool cf_blob_store_listen(cf_blob_store *s, cf_blob_store_change_fn fn, void *ctx)
{
    CF_ENSURE(!s->listener, CF_ERR_INTERNAL, "the store listens already");
    s->on_change = fn;
    s->on_change_ctx = ctx;
    const cf_db_config config = {
        .backend = cf_db_backend_of(s->db),
        .conninfo = s->conninfo,
        .what = "the blob database",
    };
    return cf_db_listen(&config, BS_CHANNEL, bs_notice, s, &s->listener);
}

void cf_bs_listener_stop(cf_blob_store *s)
{
    cf_db_listener_stop(s->listener);
    s->listener = NULL;
}

/* ---- leadership ---- */

bool cf_blob_store_lead(cf_blob_store *s, bool *leader)
{
    pthread_mutex_lock(&s->lock);
    bool ok = cf_db_lead(s->db, BS_LEAD_KEY, leader);
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* ---- deferred extent removal ---- */

bool cf_bs_defer_tx(cf_blob_store *s, bs_idlist *l)
{
    /* One statement per extent: recorded only when nothing references it.
     * A second record of one keeps the first time. */
    static const char sql[] =
        "INSERT INTO extents_unreferenced (id, unreferenced_at)"
        " SELECT ?1::text, extract(epoch FROM now())::bigint"
        " WHERE NOT EXISTS (SELECT 1 FROM blob_extents WHERE extent = ?1::text)"
        " AND NOT EXISTS (SELECT 1 FROM uncommitted WHERE extent = ?1::text)"
        " ON CONFLICT (id) DO NOTHING";
    for (size_t i = 0; i < l->n; i++)
        CF_GUARD(cf_db_run(s->db, CF_DB_PREP(s->db, sql, l->ids[i])));
    l->n = 0;
    return true;
}

bool cf_bs_deferred(cf_blob_store *s, const char *id, bool *deferred)
{
    *deferred = false;
    if (cf_db_backend_of(s->db) != CF_DB_POSTGRES)
        return true;
    return cf_db_exists(
        s->db, CF_DB_PREP(s->db, "SELECT 1 FROM extents_unreferenced WHERE id = ?1", id), deferred);
}

/* One extent due: its inline row and record go (unless this process's
 * reader holds it, or, against all expectation, a row names it again);
 * `stored` collects the ids to remove from the extent store after the
 * commit. */
static bool bs_sweep_one_tx(cf_blob_store *s, const char *id, bs_idlist *stored, unsigned *removed)
{
    bool ref = false, deleted = false;
    CF_GUARD(cf_bs_extent_referenced(s, id, &ref));
    if (!ref && cf_bs_pinned(s, id))
        return true; /* swept again once the reader is done */
    if (!ref)
        CF_GUARD(cf_bs_inline_delete(s, id, &deleted));
    CF_GUARD(
        cf_db_run(s->db, CF_DB_PREP(s->db, "DELETE FROM extents_unreferenced WHERE id = ?1", id)));
    if (ref)
        return true;
    (*removed)++;
    return deleted || cf_bs_idlist_add(stored, id);
}

/* One batch of the sweep: the due extents with ids after `after` (a
 * cursor, so that held ones are not looked at again and again). */
static bool bs_sweep_batch_tx(cf_blob_store *s, int64_t grace, char *after, bs_idlist *stored,
                              bool *more, unsigned *removed)
{
    bs_idlist due = {0};
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "SELECT id FROM extents_unreferenced WHERE unreferenced_at <="
                                " extract(epoch FROM now())::bigint - ?1 AND id > ?2"
                                " ORDER BY id LIMIT ?3",
                                NULL, after);
    if (st) {
        cf_db_bind_int64(st, 1, grace);
        cf_db_bind_int64(st, 3, BS_SWEEP_BATCH);
    }
    bool ok = cf_bs_collect(s, st, &due);
    for (size_t i = 0; ok && i < due.n; i++)
        ok = bs_sweep_one_tx(s, due.ids[i], stored, removed);
    *more = ok && due.n == BS_SWEEP_BATCH;
    if (ok && due.n)
        memcpy(after, due.ids[due.n - 1], BS_ID_HEX + 1);
    cf_bs_idlist_free(&due);
    return ok;
}

static bool bs_sweep_batch_locked(cf_blob_store *s, int64_t grace, char *after, bs_idlist *stored,
                                  bool *more, unsigned *removed)
{
    CF_GUARD(cf_db_begin(s->db));
    return cf_db_commit(s->db, bs_sweep_batch_tx(s, grace, after, stored, more, removed));
}

bool cf_blob_store_sweep(cf_blob_store *s, int64_t grace, unsigned *removed)
{
    unsigned count = 0;
    if (removed)
        *removed = 0;
    if (cf_db_backend_of(s->db) != CF_DB_POSTGRES)
        return true;
    char after[BS_ID_HEX + 1] = "";
    bool more = true, ok = true;
    while (ok && more) {
        bs_idlist stored = {0};
        /* A batch per lock hold: requests go on between them. */
        ok = BS_LOCKED(s, bs_sweep_batch_locked(s, grace, after, &stored, &more, &count));
        /* Their rows are gone: no transaction can name them again.  With
         * files, only this front end's are here (blob_store.h); one
         * missing, written elsewhere, is no error.  A rolled-back batch
         * removes nothing (COMMIT is durable on PostgreSQL: no wait). */
        if (!ok)
            stored.n = 0;
        cf_bs_remove_due(s, 0, &stored);
    }
    if (removed)
        *removed = count;
    return ok;
}

bool cf_blob_store_audit_anchor(cf_blob_store *s, const char *front_end, const char *path,
                                cf_audit *a, int64_t now, cf_audit_anchor_state *st)
{
    return BS_LOCKED(s, cf_audit_anchor_record(s->db, "blob", front_end, path, a, now, st));
}

/* ---- role assignments (blob_store.h) ---- */

static const char bs_sql_roles_get[] = "SELECT doc FROM blob_role_assignments WHERE id = 1";
static const char bs_sql_roles_put[] = "INSERT INTO blob_role_assignments (id, doc) VALUES (1, ?1)"
                                       " ON CONFLICT (id) DO UPDATE SET doc = excluded.doc";

bool cf_blob_store_shared(const cf_blob_store *s)
{
    return cf_db_backend_of(s->db) == CF_DB_POSTGRES;
}

uint64_t cf_blob_store_generation(cf_blob_store *s)
{
    return s->generation;
}

/* The stored array, or NULL (none stored).  Call holding the lock. */
static bool bs_roles_read_locked(cf_blob_store *s, json_t **out)
{
    *out = NULL;
    cf_db_stmt *st = cf_db_stmt_get(s->db, bs_sql_roles_get);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    if (rc == CF_DB_ROW) {
        const char *text = cf_db_column_text(st, 0);
        *out = text ? json_loads(text, 0, NULL) : NULL;
        if (!json_is_array(*out)) {
            json_decref(*out);
            *out = NULL;
            cf_db_done(st);
            CF_BAIL(CF_ERR_DB, "the stored role assignments are malformed");
        }
    }
    cf_db_done(st);
    return cf_db_ok(s->db, rc);
}

bool cf_blob_store_roles_get(cf_blob_store *s, json_t **out)
{
    return BS_LOCKED(s, bs_roles_read_locked(s, out));
}

typedef struct {
    bool (*edit)(void *ctx, json_t *assignments);
    void *ctx;
    json_t *result;
} bs_roles_edit;

static bool bs_roles_update_tx(cf_blob_store *s, bs_roles_edit *e)
{
    json_t *list = NULL;
    CF_GUARD(bs_roles_read_locked(s, &list));
    if (!list)
        list = json_array();
    CF_ENSURE_ALLOC(list);
    char *text = NULL;
    bool ok = e->edit(e->ctx, list) && (text = json_dumps(list, JSON_COMPACT)) != NULL;
    if (ok) {
        cf_db_stmt *st = CF_DB_PREP(s->db, bs_sql_roles_put, text);
        ok = cf_db_run(s->db, st) && cf_bs_account_changed_tx(s, "");
    }
    cf_json_free_text(text);
    if (ok)
        e->result = list;
    else
        json_decref(list);
    return ok;
}

static bool bs_roles_update_locked(cf_blob_store *s, bs_roles_edit *e)
{
    CF_GUARD(cf_db_begin(s->db));
    return cf_db_commit(s->db, bs_roles_update_tx(s, e));
}

bool cf_blob_store_roles_update(cf_blob_store *s, bool (*edit)(void *ctx, json_t *assignments),
                                void *ctx, json_t **out)
{
    bs_roles_edit e = {edit, ctx, NULL};
    bool ok = BS_LOCKED(s, bs_roles_update_locked(s, &e));
    if (ok && out)
        *out = e.result;
    else
        json_decref(e.result);
    return ok;
}
