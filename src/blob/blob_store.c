/*
 * The blob store's core (see blob_store.h for the model: keys, extent
 * binding, crash safety; blob_store_internal.h for the file map): the
 * database and its statement cache, names, accounts and their keys, the
 * extent store's bookkeeping (pins, deferred and due removals), cleanup and
 * service properties.
 *
 * Tables: accounts; service_props; containers; blobs; blob_extents (a
 * blob's content, in order: one row per extent, with the block id when it
 * came from a block list); uncommitted (blocks put but not yet committed);
 * inline_extents (small sealed extents kept in the database instead of the
 * extent store, by id).  An extent may be referenced by rows of several
 * blobs (Copy Blob shares them); "unreferenced" means no row of
 * blob_extents or uncommitted names it.  An unreferenced inline extent
 * loses its row in the transaction that dropped its last reference; one in
 * the extent store (extent_store.h: files or RADOS) is removed after that
 * commit is durable.  Either waits while an open reader holds it.
 *
 * The connection is db.h's, as the vault store's is: statements are
 * prepared once and cached by their SQL literal's address, transactions
 * and the WAL's group commit are there.  One mutex serialises the
 * connection.  Whether an extent may go is decided under it, after the
 * commit; the removal itself runs after the mutex is released (BS_LOCKED):
 * ids are never reused, and nothing can reference or pin an extent again
 * once no row names it (a copy or a reader starts from a row), so the
 * decision cannot go stale meanwhile.
 */
#include "blob_store_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "envelope.h"
#include "fsutil.h"
#include "json_secure.h"
#include "log.h"
#include "secmem.h"
#include "utf8.h"

static const char bs_schema[] =
    "CREATE TABLE IF NOT EXISTS accounts ("
    "  name TEXT PRIMARY KEY, created INTEGER NOT NULL, key_ref BLOB NOT NULL,"
    "  key1 BLOB NOT NULL, key2 BLOB NOT NULL, data_key BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS service_props ("
    "  account TEXT PRIMARY KEY REFERENCES accounts(name), xml BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS containers ("
    "  account TEXT NOT NULL REFERENCES accounts(name), name TEXT NOT NULL,"
    "  created INTEGER NOT NULL, last_modified INTEGER NOT NULL, etag TEXT NOT NULL,"
    "  metadata TEXT NOT NULL, access INTEGER NOT NULL, PRIMARY KEY (account, name));"
    "CREATE TABLE IF NOT EXISTS blobs ("
    "  account TEXT NOT NULL, container TEXT NOT NULL, name TEXT NOT NULL,"
    "  type INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,"
    "  created INTEGER NOT NULL, last_modified INTEGER NOT NULL,"
    "  props TEXT NOT NULL, metadata TEXT NOT NULL, PRIMARY KEY (account, container, name),"
    "  FOREIGN KEY (account, container) REFERENCES containers(account, name));"
    "CREATE TABLE IF NOT EXISTS blob_extents ("
    "  account TEXT NOT NULL, container TEXT NOT NULL, blob TEXT NOT NULL, seq INTEGER NOT NULL,"
    "  extent TEXT NOT NULL, length INTEGER NOT NULL, block_id BLOB,"
    "  PRIMARY KEY (account, container, blob, seq));"
    "CREATE INDEX IF NOT EXISTS blob_extents_by_extent ON blob_extents (extent);"
    "CREATE INDEX IF NOT EXISTS blob_extents_by_block ON blob_extents"
    "  (account, container, blob, block_id);"
    "CREATE TABLE IF NOT EXISTS uncommitted ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  account TEXT NOT NULL, container TEXT NOT NULL, blob TEXT NOT NULL,"
    "  block_id BLOB NOT NULL, size INTEGER NOT NULL, extent TEXT NOT NULL,"
    "  created INTEGER NOT NULL, UNIQUE (account, container, blob, block_id));"
    "CREATE INDEX IF NOT EXISTS uncommitted_by_extent ON uncommitted (extent);"
    "CREATE INDEX IF NOT EXISTS uncommitted_by_created ON uncommitted (created);"
    "CREATE TABLE IF NOT EXISTS inline_extents (id TEXT PRIMARY KEY, data BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS scopes ("
    "  account TEXT NOT NULL REFERENCES accounts(name), name TEXT NOT NULL,"
    "  created INTEGER NOT NULL, enabled INTEGER NOT NULL, infrastructure INTEGER NOT NULL,"
    "  key_ref BLOB NOT NULL, key_source INTEGER NOT NULL, key_uri TEXT, key_kid TEXT,"
    "  data_key BLOB NOT NULL, PRIMARY KEY (account, name));";

/* The same tables on PostgreSQL, with every column bs_columns added since:
 * a PostgreSQL store starts at the current schema.  Integers are BIGINT,
 * blobs BYTEA (sealed columns too, so a value written as text behind the
 * store's back is not taken for a sealed one), sequences identities.
 * Names compare as bytes (COLLATE "C", as SQLite's BINARY does on UTF-8):
 * listings and their `name > marker` paging walk the same order on either
 * backend, and the primary keys' indexes serve them.  extents_unreferenced
 * holds the extents waiting out their grace (blob_store_shared.c). */
static const char bs_schema_pg[] =
    "CREATE TABLE IF NOT EXISTS accounts ("
    "  name TEXT COLLATE \"C\" PRIMARY KEY, created BIGINT NOT NULL, key_ref BYTEA NOT NULL,"
    "  key1 BYTEA NOT NULL, key2 BYTEA NOT NULL, data_key BYTEA NOT NULL,"
    "  key_source BIGINT NOT NULL DEFAULT 0, key_uri TEXT, key_kid TEXT,"
    "  infrastructure BIGINT NOT NULL DEFAULT 0, infra_key BYTEA);"
    "CREATE TABLE IF NOT EXISTS service_props ("
    "  account TEXT COLLATE \"C\" PRIMARY KEY REFERENCES accounts(name), xml BYTEA NOT NULL);"
    "CREATE TABLE IF NOT EXISTS containers ("
    "  account TEXT COLLATE \"C\" NOT NULL REFERENCES accounts(name),"
    "  name TEXT COLLATE \"C\" NOT NULL,"
    "  created BIGINT NOT NULL, last_modified BIGINT NOT NULL, etag TEXT NOT NULL,"
    "  metadata BYTEA NOT NULL, access BIGINT NOT NULL, lease_id TEXT,"
    "  lease_duration BIGINT NOT NULL DEFAULT 0, lease_expiry BIGINT NOT NULL DEFAULT 0,"
    "  lease_break BIGINT NOT NULL DEFAULT 0, acl BYTEA NOT NULL, default_scope TEXT,"
    "  deny_override BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (account, name));"
    "CREATE TABLE IF NOT EXISTS blobs ("
    "  account TEXT COLLATE \"C\" NOT NULL, container TEXT COLLATE \"C\" NOT NULL,"
    "  name TEXT COLLATE \"C\" NOT NULL,"
    "  type BIGINT NOT NULL, size BIGINT NOT NULL, etag TEXT NOT NULL,"
    "  created BIGINT NOT NULL, last_modified BIGINT NOT NULL,"
    "  props BYTEA NOT NULL, metadata BYTEA NOT NULL, lease_id TEXT,"
    "  lease_duration BIGINT NOT NULL DEFAULT 0, lease_expiry BIGINT NOT NULL DEFAULT 0,"
    "  lease_break BIGINT NOT NULL DEFAULT 0, copy BYTEA, cpk TEXT, scope TEXT,"
    "  sequence BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (account, container, name),"
    "  FOREIGN KEY (account, container) REFERENCES containers(account, name));"
    "CREATE TABLE IF NOT EXISTS blob_extents ("
    "  account TEXT COLLATE \"C\" NOT NULL, container TEXT COLLATE \"C\" NOT NULL,"
    "  blob TEXT COLLATE \"C\" NOT NULL, seq BIGINT NOT NULL,"
    "  extent TEXT NOT NULL, length BIGINT NOT NULL, block_id BYTEA, pages BYTEA, chunk_at BIGINT,"
    "  PRIMARY KEY (account, container, blob, seq));"
    "CREATE INDEX IF NOT EXISTS blob_extents_by_extent ON blob_extents (extent);"
    "CREATE INDEX IF NOT EXISTS blob_extents_by_block ON blob_extents"
    "  (account, container, blob, block_id);"
    "CREATE TABLE IF NOT EXISTS uncommitted ("
    "  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  account TEXT COLLATE \"C\" NOT NULL, container TEXT COLLATE \"C\" NOT NULL,"
    "  blob TEXT COLLATE \"C\" NOT NULL,"
    "  block_id BYTEA NOT NULL, size BIGINT NOT NULL, extent TEXT NOT NULL,"
    "  created BIGINT NOT NULL, cpk TEXT, scope TEXT,"
    "  UNIQUE (account, container, blob, block_id));"
    "CREATE INDEX IF NOT EXISTS uncommitted_by_extent ON uncommitted (extent);"
    "CREATE INDEX IF NOT EXISTS uncommitted_by_created ON uncommitted (created);"
    "CREATE TABLE IF NOT EXISTS inline_extents (id TEXT PRIMARY KEY, data BYTEA NOT NULL);"
    "CREATE TABLE IF NOT EXISTS scopes ("
    "  account TEXT COLLATE \"C\" NOT NULL REFERENCES accounts(name),"
    "  name TEXT COLLATE \"C\" NOT NULL,"
    "  created BIGINT NOT NULL, enabled BIGINT NOT NULL, infrastructure BIGINT NOT NULL,"
    "  key_ref BYTEA NOT NULL, key_source BIGINT NOT NULL, key_uri TEXT, key_kid TEXT,"
    "  data_key BYTEA NOT NULL, infra_key BYTEA, PRIMARY KEY (account, name));"
    "CREATE TABLE IF NOT EXISTS blob_role_assignments (id BIGINT PRIMARY KEY, doc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS extents_unreferenced ("
    "  id TEXT PRIMARY KEY, unreferenced_at BIGINT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS extents_unreferenced_by_time"
    "  ON extents_unreferenced (unreferenced_at);"
    /* Stores created before page blobs. */
    "ALTER TABLE blobs ADD COLUMN IF NOT EXISTS sequence BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE blob_extents ADD COLUMN IF NOT EXISTS pages BYTEA;"
    "ALTER TABLE blob_extents ADD COLUMN IF NOT EXISTS chunk_at BIGINT;";

/* Columns added after the first schema; added to older databases on open. */
static const struct {
    const char *table, *column, *decl;
} bs_columns[] = {
    {"containers", "lease_id", "ALTER TABLE containers ADD COLUMN lease_id TEXT"},
    {"containers", "lease_duration",
     "ALTER TABLE containers ADD COLUMN lease_duration INTEGER NOT NULL DEFAULT 0"},
    {"containers", "lease_expiry",
     "ALTER TABLE containers ADD COLUMN lease_expiry INTEGER NOT NULL DEFAULT 0"},
    {"containers", "lease_break",
     "ALTER TABLE containers ADD COLUMN lease_break INTEGER NOT NULL DEFAULT 0"},
    {"containers", "acl", "ALTER TABLE containers ADD COLUMN acl TEXT NOT NULL DEFAULT '[]'"},
    {"blobs", "lease_id", "ALTER TABLE blobs ADD COLUMN lease_id TEXT"},
    {"blobs", "lease_duration",
     "ALTER TABLE blobs ADD COLUMN lease_duration INTEGER NOT NULL DEFAULT 0"},
    {"blobs", "lease_expiry",
     "ALTER TABLE blobs ADD COLUMN lease_expiry INTEGER NOT NULL DEFAULT 0"},
    {"blobs", "lease_break", "ALTER TABLE blobs ADD COLUMN lease_break INTEGER NOT NULL DEFAULT 0"},
    {"blobs", "copy", "ALTER TABLE blobs ADD COLUMN copy TEXT"},
    /* Key source (blob_store_keys.c): 0 = the service key seals data_key,
     * 1 = data_key is wrapped by the coffer-vault key version key_kid. */
    /* Customer-provided keys: the key's SHA-256 (base64), NULL = none. */
    {"blobs", "cpk", "ALTER TABLE blobs ADD COLUMN cpk TEXT"},
    {"uncommitted", "cpk", "ALTER TABLE uncommitted ADD COLUMN cpk TEXT"},
    /* Encryption scopes: a blob's (and a block's) scope, NULL = the
     * account's key; a container's default scope and override policy. */
    {"blobs", "scope", "ALTER TABLE blobs ADD COLUMN scope TEXT"},
    {"uncommitted", "scope", "ALTER TABLE uncommitted ADD COLUMN scope TEXT"},
    {"containers", "default_scope", "ALTER TABLE containers ADD COLUMN default_scope TEXT"},
    {"containers", "deny_override",
     "ALTER TABLE containers ADD COLUMN deny_override INTEGER NOT NULL DEFAULT 0"},
    {"accounts", "key_source",
     "ALTER TABLE accounts ADD COLUMN key_source INTEGER NOT NULL DEFAULT 0"},
    {"accounts", "key_uri", "ALTER TABLE accounts ADD COLUMN key_uri TEXT"},
    {"accounts", "key_kid", "ALTER TABLE accounts ADD COLUMN key_kid TEXT"},
    {"accounts", "infrastructure",
     "ALTER TABLE accounts ADD COLUMN infrastructure INTEGER NOT NULL DEFAULT 0"},
    /* Page blobs (blob_store_page.c): the sequence number, and each
     * chunk's bitmap of written pages. */
    {"blobs", "sequence", "ALTER TABLE blobs ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0"},
    {"blob_extents", "pages", "ALTER TABLE blob_extents ADD COLUMN pages BLOB"},
    /* A page chunk's place in its extent's plaintext (NULL: 0). */
    {"blob_extents", "chunk_at", "ALTER TABLE blob_extents ADD COLUMN chunk_at INTEGER"},
    /* The infrastructure key (ref ‖ key, sealed), NULL without the layer. */
    {"accounts", "infra_key", "ALTER TABLE accounts ADD COLUMN infra_key BLOB"},
    {"scopes", "infra_key", "ALTER TABLE scopes ADD COLUMN infra_key BLOB"},
};

/* ---- names ---- */

static bool bs_lower_or_digit(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool cf_blob_account_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 3 || n > CF_BLOB_ACCOUNT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!bs_lower_or_digit(name[i]))
            return false;
    return true;
}

bool cf_blob_container_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 3 || n > CF_BLOB_CONTAINER_MAX)
        return false;
    if (!bs_lower_or_digit(name[0]) || !bs_lower_or_digit(name[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '-') {
            if (name[i + 1] == '-')
                return false;
        } else if (!bs_lower_or_digit(name[i])) {
            return false;
        }
    }
    return true;
}

bool cf_blob_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > CF_BLOB_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)name[i] < 0x20 || name[i] == 0x7F)
            return false;
    return cf_utf8_valid(cf_slice_of(name, n));
}

bool cf_bs_check_names(const char *account, const char *container, const char *blob)
{
    CF_ENSURE_REASON(account && cf_blob_account_name_valid(account), CF_ERR_BAD_INPUT,
                     "InvalidResourceName", "invalid account name");
    CF_ENSURE_REASON(!container || cf_blob_container_name_valid(container), CF_ERR_BAD_INPUT,
                     "InvalidResourceName", "invalid container name");
    CF_ENSURE_REASON(!blob || cf_blob_name_valid(blob), CF_ERR_BAD_INPUT, "InvalidResourceName",
                     "invalid blob name");
    return true;
}

/* ---- small helpers ---- */

/* JSON text for a borrowed object or NULL ("{}"); free with cf_json_free_text. */
bool cf_bs_json_text(json_t *j, char **out)
{
    CF_ENSURE(!j || json_is_object(j), CF_ERR_BAD_INPUT, "metadata must be an object");
    *out = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!*out) {
        /* From jansson's allocator too: every such text is freed with
         * cf_json_free_text, which uses it (the wiping one in servers). */
        json_t *empty = json_object();
        *out = empty ? json_dumps(empty, JSON_COMPACT) : NULL;
        json_decref(empty);
        CF_ENSURE_ALLOC(*out);
    }
    return true;
}

bool cf_bs_new_etag(char out[CF_BLOB_ETAG_LEN + 1])
{
    uint8_t r[8];
    CF_GUARD(cf_random_bytes(r, sizeof r));
    unsigned long long v = 0;
    for (size_t i = 0; i < sizeof r; i++)
        v = (v << 8) | r[i];
    snprintf(out, CF_BLOB_ETAG_LEN + 1, "\"0x%016llX\"", v);
    return true;
}

void cf_bs_write_result(cf_blob_write_result *out, const char *etag, int64_t now)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    snprintf(out->etag, sizeof out->etag, "%s", etag);
    out->last_modified = now;
}

void cf_bs_column_str(cf_db_stmt *st, int col, char *out, size_t cap)
{
    const char *t = (const char *)cf_db_column_text(st, col);
    snprintf(out, cap, "%s", t ? t : "");
}

/* ---- metadata ---- */

static bool bs_identifier(const char *k)
{
    if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z') || k[0] == '_'))
        return false;
    for (const char *p = k + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

bool cf_blob_metadata_check(json_t *metadata)
{
    if (!metadata)
        return true;
    CF_ENSURE_REASON(json_is_object(metadata), CF_ERR_BAD_INPUT, "InvalidMetadata",
                     "metadata must be an object");
    size_t total = 0;
    const char *k;
    json_t *v;
    json_object_foreach(metadata, k, v)
    {
        CF_ENSURE_REASON(json_is_string(v) && bs_identifier(k), CF_ERR_BAD_INPUT, "InvalidMetadata",
                         "metadata names must be C# identifiers");
        total += strlen(k) + json_string_length(v);
    }
    CF_ENSURE_REASON(total <= CF_BLOB_METADATA_MAX, CF_ERR_BAD_INPUT, "MetadataTooLarge",
                     "metadata exceeds 8 KiB");
    return true;
}

/* ---- open / close ---- */

/* The account cache: every request authenticates against its account, so
 * the row and the opened Shared Key slots (secret memory) are kept; any
 * write to the accounts table drops them all. */
#define BS_ACCOUNT_CACHE 64
enum { BS_SLOT_KEY1, BS_SLOT_KEY2, BS_SLOT_DATA, BS_SLOTS };

struct bs_account_entry {
    bool used;
    cf_blob_account info;
    uint8_t *slot[BS_SLOTS]; /* opened on first use; secret memory */
    size_t slot_len[BS_SLOTS];
};

static void bs_accounts_free(cf_blob_store *s);

void cf_blob_store_close(cf_blob_store *s)
{
    if (!s)
        return;
    /* First: its callback uses everything below. */
    cf_bs_listener_stop(s);
    bs_accounts_free(s);
    cf_db_close(s->db);
    cf_tde_store_release(&s->tde);
    cf_secret_free(s->service_key, CF_DATA_KEY_LEN);
    cf_bs_meta_keys_free(s);
    cf_bs_keyring_free(s);
    cf_extent_store_close(s->extents);
    free(s->conninfo);
    cf_bs_idlist_free(&s->deferred);
    cf_bs_idlist_free(&s->due);
    pthread_mutex_destroy(&s->accounts_lock);
    pthread_mutex_destroy(&s->pins_lock);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Adds the columns later versions introduced to an older database
 * (SQLite: PostgreSQL stores start with all of them). */
static bool bs_upgrade(cf_blob_store *s)
{
    for (size_t i = 0; i < sizeof bs_columns / sizeof bs_columns[0]; i++) {
        int64_t have = 0;
        CF_GUARD(cf_db_int(s->db,
                           CF_DB_PREP(s->db,
                                      "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
                                      bs_columns[i].table, bs_columns[i].column),
                           &have));
        if (!have)
            CF_GUARD(cf_db_exec(s->db, bs_columns[i].decl));
    }
    return true;
}

/* The schema: on SQLite the tables, the columns added since, then the
 * sealing migration; on PostgreSQL the current schema in one step
 * (cf_bs_meta_migrate), started by whichever front end comes first. */
static bool bs_schema_ready(cf_blob_store *s)
{
    unsigned sealed = 0;
    if (cf_db_backend_of(s->db) == CF_DB_SQLITE)
        CF_GUARD(cf_db_exec(s->db, bs_schema) && bs_upgrade(s));
    return cf_bs_meta_migrate(s, cf_db_sql(s->db, NULL, bs_schema_pg), &sealed);
}

bool cf_blob_store_open(cf_db_backend backend, const char *conninfo, const char *data_dir,
                        const char *extents, cf_slice service_key, cf_blob_store **out)
{
    CF_ENSURE(service_key.len == CF_DATA_KEY_LEN, CF_ERR_BAD_INPUT, "service key must be 32 bytes");
    bool pg = backend == CF_DB_POSTGRES;
    char path[PATH_MAX];
    CF_ENSURE(snprintf(path, sizeof path, "files:%s/extents", data_dir) < (int)sizeof path,
              CF_ERR_BAD_INPUT, "data directory path too long");
    /* blob.db's, whichever store holds the extents. */
    CF_GUARD(cf_mkdirs(data_dir, 0700));
    cf_blob_store *s = calloc(1, sizeof *s);
    CF_ENSURE_ALLOC(s);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->accounts_lock, NULL);
    pthread_mutex_init(&s->pins_lock, NULL);
    if (!cf_extent_store_open(extents ? extents : path, NULL, &s->extents)) {
        cf_blob_store_close(s);
        return false;
    }
    s->extents_shared = strcmp(cf_extent_store_kind(s->extents), "files") != 0;
    s->conninfo = strdup(pg && conninfo ? conninfo : "");
    s->service_key = cf_secret_alloc(CF_DATA_KEY_LEN);
    s->accounts = calloc(BS_ACCOUNT_CACHE, sizeof *s->accounts);
    if (!s->conninfo || !s->service_key || !s->accounts) {
        cf_blob_store_close(s);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    memcpy(s->service_key, service_key.ptr, CF_DATA_KEY_LEN);
    snprintf(path, sizeof path, "%s/blob.db", data_dir);
    if (!pg && !cf_tde_store_prepare(path, service_key, true, &s->tde)) {
        cf_blob_store_close(s);
        return false;
    }
    /* SQLite, synchronous=NORMAL: commits are made durable by the group
     * commit (blob_store.h, "Durability"), started once the schema is in
     * place (a no-op on PostgreSQL, where COMMIT is durable). */
    const cf_db_config config = {
        .backend = backend,
        .path = path,
        .sqlite_uri = pg ? NULL : (const char *)s->tde.uri.data,
        .conninfo = s->conninfo,
        .what = "the blob database",
        .pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                   "PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;",
        .busy_timeout_ms = BS_BUSY_TIMEOUT_MS,
        .stmt_cache = BS_STMT_CACHE,
        .write_lock = BS_WRITE_LOCK,
        .store_name = "blob",
    };
    if (!cf_extent_store_new_id(s->instance) ||
        !(cf_db_open(&config, &s->db) || (!pg && cf_tde_store_explain())) || !bs_schema_ready(s) ||
        !cf_db_group_commit_start(s->db)) {
        cf_blob_store_close(s);
        return false;
    }
    *out = s;
    return true;
}

bool cf_blob_store_extents_shared(const cf_blob_store *s)
{
    return s->extents_shared;
}

/* ---- extent bookkeeping ---- */

bool cf_bs_extent_referenced(cf_blob_store *s, const char *id, bool *ref)
{
    return cf_db_exists(s->db,
                        CF_DB_PREP(s->db,
                                   "SELECT 1 FROM blob_extents WHERE extent = ?1 UNION ALL "
                                   "SELECT 1 FROM uncommitted WHERE extent = ?1 LIMIT 1",
                                   id),
                        ref);
}

bool cf_bs_idlist_add(bs_idlist *l, const char *id)
{
    CF_ENSURE(id && strlen(id) == BS_ID_HEX, CF_ERR_DB, "malformed extent id in metadata");
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        void *p = realloc(l->ids, cap * sizeof *l->ids);
        CF_ENSURE_ALLOC(p);
        l->ids = p;
        l->cap = cap;
    }
    memcpy(l->ids[l->n++], id, BS_ID_HEX + 1);
    return true;
}

void cf_bs_idlist_free(bs_idlist *l)
{
    free(l->ids);
    l->ids = NULL;
    l->n = l->cap = 0;
}

bool cf_bs_collect(cf_blob_store *s, cf_db_stmt *st, bs_idlist *l)
{
    CF_GUARD(st);
    int rc = CF_DB_DONE;
    bool ok = true;
    while (ok && (rc = cf_db_step(st)) == CF_DB_ROW)
        ok = cf_bs_idlist_add(l, (const char *)cf_db_column_text(st, 0));
    if (ok)
        ok = cf_db_ok(s->db, rc);
    cf_db_done(st);
    return ok;
}

static int bs_id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, BS_ID_HEX);
}

/* Under pins_lock. */
static bool bs_pinned_locked(const cf_blob_store *s, const char *id)
{
    for (const bs_pin *p = s->pins; p; p = p->next)
        if (p->ids.n && bsearch(id, p->ids.ids, p->ids.n, sizeof *p->ids.ids, bs_id_cmp))
            return true;
    return false;
}

bool cf_bs_pinned(cf_blob_store *s, const char *id)
{
    pthread_mutex_lock(&s->pins_lock);
    bool pinned = bs_pinned_locked(s, id);
    pthread_mutex_unlock(&s->pins_lock);
    return pinned;
}

/* Whether a reader holds `id`; if so its removal waits for the reader,
 * which must then unpin under the store's lock.  One pins_lock hold for
 * both, so that no reader lets go between them unnoticed. */
static bool bs_pinned_waiting(cf_blob_store *s, const char *id)
{
    pthread_mutex_lock(&s->pins_lock);
    bool pinned = bs_pinned_locked(s, id);
    if (pinned)
        s->removal_waits = true;
    pthread_mutex_unlock(&s->pins_lock);
    return pinned;
}

bool cf_bs_inline_delete(cf_blob_store *s, const char *id, bool *deleted)
{
    CF_GUARD(cf_db_run(s->db, CF_DB_PREP(s->db, "DELETE FROM inline_extents WHERE id = ?1", id)));
    *deleted = cf_db_changes(s->db) > 0;
    return true;
}

bool cf_bs_drop_inline_tx(cf_blob_store *s, bs_idlist *l)
{
    /* Another front end's reader may hold them: removal waits (blob_store.h). */
    if (cf_db_backend_of(s->db) == CF_DB_POSTGRES)
        return cf_bs_defer_tx(s, l);
    size_t keep = 0;
    for (size_t i = 0; i < l->n; i++) {
        bool ref = true, deleted = false;
        CF_GUARD(cf_bs_extent_referenced(s, l->ids[i], &ref));
        if (ref)
            continue;
        /* A held one waits for its reader, who then unpins under the lock:
         * not between this and the commit's cf_bs_remove_unreferenced. */
        if (!bs_pinned_waiting(s, l->ids[i]))
            CF_GUARD(cf_bs_inline_delete(s, l->ids[i], &deleted));
        if (!deleted)
            memmove(l->ids[keep++], l->ids[i], BS_ID_HEX + 1);
    }
    l->n = keep;
    return true;
}

bool cf_bs_inline_put(cf_blob_store *s, const char *id, cf_slice sealed)
{
    cf_db_stmt *st = CF_DB_PREP(s->db, "INSERT INTO inline_extents (id, data) VALUES (?1, ?2)", id);
    CF_GUARD(st);
    cf_db_bind_blob(st, 2, sealed.len ? (const void *)sealed.ptr : "", sealed.len);
    return cf_db_run(s->db, st);
}

bool cf_bs_inline_get_locked(cf_blob_store *s, const char *id, cf_buf *out)
{
    cf_db_stmt *st = CF_DB_PREP(s->db, "SELECT data FROM inline_extents WHERE id = ?1", id);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    bool ok = cf_db_ok(s->db, rc);
    if (ok && rc != CF_DB_ROW) {
        CF_RAISE(CF_ERR_IO, "an extent of the blob is missing");
        ok = false;
    }
    size_t len = ok ? (size_t)cf_db_column_bytes(st, 0) : 0;
    /* Longer than any inline extent is written: damage, and no reason to
     * allocate whatever size the database claims. */
    if (ok && len > BS_INLINE_STORED_MAX) {
        CF_RAISE(CF_ERR_DECRYPT, "inline extent longer than the inline limit");
        ok = false;
    }
    cf_buf_clear(out);
    if (ok && len)
        ok = cf_buf_append(out, cf_db_column_blob(st, 0), len);
    cf_db_done(st);
    return ok;
}

/* Extent `id` unless a row references it: deferred while a reader holds
 * it; else its inline row goes (when `rows`), or it becomes due for
 * removal from the extent store. */
static void bs_remove_one(cf_blob_store *s, const char *id, bool rows, bool *deferred)
{
    bool ref = true, deleted = false;
    *deferred = false;
    if (!cf_bs_extent_referenced(s, id, &ref) || ref)
        return;
    if (bs_pinned_waiting(s, id)) {
        *deferred = true;
        return;
    }
    /* Outside any transaction: a lost delete leaves an orphan row that
     * cleanup removes, never a dangling reference. */
    if (rows && (!cf_bs_inline_delete(s, id, &deleted) || deleted))
        return;
    /* If even this small allocation fails, cleanup's walk finds it. */
    if (!cf_bs_idlist_add(&s->due, id))
        return;
}

void cf_bs_remove_unreferenced(cf_blob_store *s, bs_idlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        bool deferred;
        /* Inline rows went in the transaction (cf_bs_drop_inline_tx). */
        bs_remove_one(s, l->ids[i], false, &deferred);
        /* If even this small allocation fails, cleanup removes the extent. */
        if (deferred && !cf_bs_idlist_add(&s->deferred, l->ids[i]))
            break;
    }
    cf_error_clear();
    cf_bs_idlist_free(l);
}

void cf_bs_remove_due(cf_blob_store *s, uint64_t seen, bs_idlist *due)
{
    if (due->n) {
        struct cf_error_record *saved = cf_error_save();
        /* A crash must not bring back a row that names a removed extent:
         * the commit that gave it up is on disk first. */
        bool go = cf_db_durable(s->db, seen, true);
        /* A failure leaves the extent to cleanup's walk; a cluster that
         * does not answer would only make every further one wait out its
         * timeout too. */
        for (size_t i = 0; go && i < due->n; i++)
            go = cf_extent_store_remove(s->extents, due->ids[i]) ||
                 cf_error_code() != CF_ERR_UNAVAILABLE;
        cf_error_restore(saved);
    }
    cf_bs_idlist_free(due);
}

bool cf_bs_commit_releasing(cf_blob_store *s, bool tx_ok, bs_idlist *gone)
{
    bool ok = cf_db_commit(s->db, tx_ok && cf_bs_drop_inline_tx(s, gone));
    if (ok)
        cf_bs_remove_unreferenced(s, gone);
    cf_bs_idlist_free(gone);
    return ok;
}

void cf_bs_pin_locked(cf_blob_store *s, bs_pin *p)
{
    if (p->ids.n)
        qsort(p->ids.ids, p->ids.n, sizeof *p->ids.ids, bs_id_cmp);
    pthread_mutex_lock(&s->pins_lock);
    p->prev = NULL;
    p->next = s->pins;
    if (s->pins)
        s->pins->prev = p;
    s->pins = p;
    pthread_mutex_unlock(&s->pins_lock);
}

/* Under pins_lock. */
static void bs_unlink_pin(cf_blob_store *s, bs_pin *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        s->pins = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->next = p->prev = NULL;
}

bool cf_bs_unpin_quick(cf_blob_store *s, bs_pin *p)
{
    pthread_mutex_lock(&s->pins_lock);
    bool quick = !s->removal_waits;
    if (quick)
        bs_unlink_pin(s, p);
    pthread_mutex_unlock(&s->pins_lock);
    return quick;
}

void cf_bs_unpin_locked(cf_blob_store *s, bs_pin *p)
{
    /* The retry below finds again whatever is still held. */
    pthread_mutex_lock(&s->pins_lock);
    bs_unlink_pin(s, p);
    s->removal_waits = false;
    pthread_mutex_unlock(&s->pins_lock);
    /* Retry the deferred removals; keep those still held.  No error is
     * cleared here: a reader is often freed right after a failed read whose
     * error the caller has yet to see. */
    size_t keep = 0;
    for (size_t i = 0; i < s->deferred.n; i++) {
        bool deferred;
        bs_remove_one(s, s->deferred.ids[i], true, &deferred);
        if (deferred)
            memmove(s->deferred.ids[keep++], s->deferred.ids[i], BS_ID_HEX + 1);
    }
    s->deferred.n = keep;
}

/* ---- accounts ---- */

static bool bs_account_aad(const char *name, const char *slot, cf_buf *aad)
{
    cf_buf_init(aad, 256);
    return cf_buf_append(aad, "coffer-blob\0account\0", 20) && cf_buf_append_str(aad, name) &&
           cf_buf_append_u8(aad, 0) && cf_buf_append_str(aad, slot);
}

bool cf_bs_account_seal(cf_blob_store *s, const char *name, const char *slot, cf_slice plain,
                        cf_buf *sealed)
{
    cf_buf aad;
    bool ok = bs_account_aad(name, slot, &aad) &&
              cf_envelope_seal(cf_slice_of(s->service_key, CF_DATA_KEY_LEN), cf_buf_slice(&aad),
                               plain, sealed);
    cf_buf_free(&aad);
    return ok;
}

bool cf_bs_account_open(cf_blob_store *s, const char *name, const char *slot, cf_slice sealed,
                        cf_buf *out)
{
    cf_buf aad;
    bool ok = bs_account_aad(name, slot, &aad) &&
              cf_envelope_open(cf_slice_of(s->service_key, CF_DATA_KEY_LEN), cf_buf_slice(&aad),
                               sealed, out);
    cf_buf_free(&aad);
    return ok;
}

static bool bs_seal_new(cf_blob_store *s, const char *name, const char *slot, size_t len,
                        cf_buf *sealed)
{
    uint8_t *raw = cf_secret_alloc(len);
    CF_ENSURE_ALLOC(raw);
    bool ok = cf_random_bytes(raw, len) &&
              cf_bs_account_seal(s, name, slot, cf_slice_of(raw, len), sealed);
    cf_secret_free(raw, len);
    return ok;
}

static bool bs_account_create_locked(cf_blob_store *s, const char *name, int64_t now,
                                     bool infrastructure)
{
    cf_buf k1, k2, dk;
    cf_buf_init(&k1, 256);
    cf_buf_init(&k2, 256);
    cf_buf_init(&dk, 256);
    uint8_t ref[CF_EXTENT_KEY_REF_LEN];
    cf_buf infra;
    cf_buf_init(&infra, 256);
    bool ok = cf_random_bytes(ref, sizeof ref) &&
              bs_seal_new(s, name, "key1", CF_BLOB_ACCOUNT_KEY_LEN, &k1) &&
              bs_seal_new(s, name, "key2", CF_BLOB_ACCOUNT_KEY_LEN, &k2) &&
              bs_seal_new(s, name, "data", CF_DATA_KEY_LEN, &dk) &&
              (!infrastructure || cf_bs_infra_new(s, name, "infra", &infra));
    bool found = false;
    ok = ok && cf_db_begin(s->db);
    if (ok) {
        ok = cf_db_exists(s->db, CF_DB_PREP(s->db, "SELECT 1 FROM accounts WHERE name = ?1", name),
                          &found);
        if (ok && found) {
            CF_RAISE(CF_ERR_CONFLICT, "account exists");
            ok = false;
        }
        cf_db_stmt *st = ok ? CF_DB_PREP(s->db,
                                         "INSERT INTO accounts (name, created, key_ref, key1, key2,"
                                         " data_key, infrastructure, infra_key)"
                                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                                         name)
                            : NULL;
        if (st) {
            cf_db_bind_int64(st, 2, now);
            cf_db_bind_blob(st, 3, ref, sizeof ref);
            cf_db_bind_blob(st, 4, k1.data, k1.len);
            cf_db_bind_blob(st, 5, k2.data, k2.len);
            cf_db_bind_blob(st, 6, dk.data, dk.len);
            cf_db_bind_int64(st, 7, infrastructure ? 1 : 0);
            if (infrastructure)
                cf_db_bind_blob(st, 8, infra.data, infra.len);
        }
        ok = ok && cf_db_run(s->db, st) && cf_bs_account_changed_tx(s, name);
        ok = cf_db_commit(s->db, ok);
    }
    cf_buf_free(&k1);
    cf_buf_free(&k2);
    cf_buf_free(&dk);
    cf_buf_free(&infra);
    return ok;
}

bool cf_blob_account_create(cf_blob_store *s, const char *name, int64_t now, bool infrastructure)
{
    CF_GUARD(cf_bs_check_names(name, NULL, NULL));
    return BS_LOCKED(s, bs_account_create_locked(s, name, now, infrastructure));
}

static void bs_account_entry_clear(struct bs_account_entry *e)
{
    for (int i = 0; i < BS_SLOTS; i++)
        cf_secret_free(e->slot[i], e->slot_len[i]);
    memset(e, 0, sizeof *e);
}

void cf_bs_accounts_changed_locked(cf_blob_store *s)
{
    if (!s->accounts)
        return;
    pthread_mutex_lock(&s->accounts_lock);
    for (unsigned i = 0; i < BS_ACCOUNT_CACHE; i++)
        bs_account_entry_clear(&s->accounts[i]);
    pthread_mutex_unlock(&s->accounts_lock);
}

static void bs_accounts_free(cf_blob_store *s)
{
    cf_bs_accounts_changed_locked(s);
    free(s->accounts);
    s->accounts = NULL;
}

/* Under accounts_lock. */
static struct bs_account_entry *bs_account_cached(cf_blob_store *s, const char *name)
{
    if (!s->accounts)
        return NULL;
    for (unsigned i = 0; i < BS_ACCOUNT_CACHE; i++)
        if (s->accounts[i].used && strcmp(s->accounts[i].info.name, name) == 0)
            return &s->accounts[i];
    return NULL;
}

/* The cached row of `name`, if any (needs only accounts_lock). */
static bool bs_account_peek(cf_blob_store *s, const char *name, cf_blob_account *out)
{
    pthread_mutex_lock(&s->accounts_lock);
    struct bs_account_entry *e = bs_account_cached(s, name);
    if (e)
        *out = e->info;
    pthread_mutex_unlock(&s->accounts_lock);
    return e != NULL;
}

/* The cached opened slot `i` of `name` into `out`, if any.  *failed is set
 * when copying it failed (the error is raised). */
static bool bs_account_slot_peek(cf_blob_store *s, const char *name, int i, cf_buf *out,
                                 bool *failed)
{
    pthread_mutex_lock(&s->accounts_lock);
    struct bs_account_entry *e = bs_account_cached(s, name);
    bool hit = e && e->slot[i];
    if (hit) {
        cf_buf_clear(out);
        *failed = !cf_buf_append(out, e->slot[i], e->slot_len[i]);
    }
    pthread_mutex_unlock(&s->accounts_lock);
    return hit;
}

static bool bs_account_query_locked(cf_blob_store *s, const char *name, cf_blob_account *out)
{
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "SELECT created, key_ref, key_source, infrastructure FROM accounts"
                                " WHERE name = ?1",
                                name);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    bool ok = rc == CF_DB_ROW && cf_db_column_bytes(st, 1) == CF_EXTENT_KEY_REF_LEN;
    if (ok) {
        memset(out, 0, sizeof *out);
        snprintf(out->name, sizeof out->name, "%s", name);
        out->created = cf_db_column_int64(st, 0);
        memcpy(out->key_ref, cf_db_column_blob(st, 1), CF_EXTENT_KEY_REF_LEN);
        out->key_source = cf_db_column_int(st, 2) == 1 ? CF_BLOB_KEYS_VAULT : CF_BLOB_KEYS_SERVICE;
        out->infrastructure = cf_db_column_int(st, 3) != 0;
    }
    cf_db_done(st);
    CF_ENSURE_REASON(rc != CF_DB_DONE, CF_ERR_NOT_FOUND, "AccountNotFound", "no such account");
    CF_GUARD(cf_db_ok(s->db, rc));
    CF_ENSURE(ok, CF_ERR_DB, "malformed account row");
    return true;
}

bool cf_bs_account_get_locked(cf_blob_store *s, const char *name, cf_blob_account *out)
{
    if (bs_account_peek(s, name, out))
        return true;
    /* Filled under the store's lock, which every account write holds for
     * its whole transaction: no stale row can come back after a drop. */
    CF_GUARD(bs_account_query_locked(s, name, out));
    if (s->accounts) {
        pthread_mutex_lock(&s->accounts_lock);
        struct bs_account_entry *e = &s->accounts[s->accounts_next++ % BS_ACCOUNT_CACHE];
        bs_account_entry_clear(e);
        e->used = true;
        e->info = *out;
        pthread_mutex_unlock(&s->accounts_lock);
    }
    return true;
}

bool cf_blob_account_get(cf_blob_store *s, const char *name, cf_blob_account *out)
{
    CF_GUARD(cf_bs_check_names(name, NULL, NULL));
    return bs_account_peek(s, name, out) || BS_LOCKED(s, cf_bs_account_get_locked(s, name, out));
}

/* Opens one sealed slot of an account from its row into `out`. */
static bool bs_account_open_slot(cf_blob_store *s, const char *name, const char *slot, cf_buf *out)
{
    const char *sql = strcmp(slot, "key1") == 0   ? "SELECT key1 FROM accounts WHERE name = ?1"
                      : strcmp(slot, "key2") == 0 ? "SELECT key2 FROM accounts WHERE name = ?1"
                                                  : "SELECT data_key FROM accounts WHERE name = ?1";
    cf_db_stmt *st = CF_DB_PREP(s->db, sql, name);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    bool ok = rc == CF_DB_ROW &&
              cf_bs_account_open(
                  s, name, slot,
                  cf_slice_of(cf_db_column_blob(st, 0), (size_t)cf_db_column_bytes(st, 0)), out);
    cf_db_done(st);
    CF_ENSURE_REASON(rc != CF_DB_DONE, CF_ERR_NOT_FOUND, "AccountNotFound", "no such account");
    CF_GUARD(cf_db_ok(s->db, rc));
    return ok;
}

static int bs_slot_index(const char *slot)
{
    return strcmp(slot, "key1") == 0   ? BS_SLOT_KEY1
           : strcmp(slot, "key2") == 0 ? BS_SLOT_KEY2
                                       : BS_SLOT_DATA;
}

/* One sealed slot of an account ("key1", "key2" or "data") into `out` (a
 * secret buffer), from the cache when it was opened before. */
bool cf_bs_account_secret_locked(cf_blob_store *s, const char *name, const char *slot, cf_buf *out)
{
    int i = bs_slot_index(slot);
    cf_blob_account a;
    CF_GUARD(cf_bs_account_get_locked(s, name, &a));
    bool failed = false;
    if (bs_account_slot_peek(s, name, i, out, &failed))
        return !failed;
    CF_GUARD(bs_account_open_slot(s, name, slot, out));
    pthread_mutex_lock(&s->accounts_lock);
    struct bs_account_entry *e = bs_account_cached(s, name);
    if (e && !e->slot[i] && out->len) {
        e->slot[i] = cf_secret_alloc(out->len);
        if (e->slot[i]) {
            memcpy(e->slot[i], out->data, out->len);
            e->slot_len[i] = out->len;
        }
    }
    pthread_mutex_unlock(&s->accounts_lock);
    return true;
}

bool cf_blob_account_key(cf_blob_store *s, const char *name, int slot, cf_buf *out)
{
    CF_GUARD(cf_bs_check_names(name, NULL, NULL));
    CF_ENSURE(slot == 1 || slot == 2, CF_ERR_BAD_INPUT, "key slot must be 1 or 2");
    bool failed = false;
    if (bs_account_slot_peek(s, name, slot == 1 ? BS_SLOT_KEY1 : BS_SLOT_KEY2, out, &failed))
        return !failed;
    return BS_LOCKED(s, cf_bs_account_secret_locked(s, name, slot == 1 ? "key1" : "key2", out));
}

void cf_bs_scope_free(bs_scope *sc)
{
    cf_secret_free(sc->key, CF_DATA_KEY_LEN);
    cf_secret_free(sc->infra, CF_DATA_KEY_LEN);
    sc->key = NULL;
    sc->infra = NULL;
}

/* ---- the infrastructure layer's keys ---- */

#define BS_INFRA_SEALED_LEN (CF_EXTENT_KEY_REF_LEN + CF_DATA_KEY_LEN)

bool cf_bs_infra_new(cf_blob_store *s, const char *account, const char *slot, cf_buf *sealed)
{
    uint8_t *raw = cf_secret_alloc(BS_INFRA_SEALED_LEN);
    CF_ENSURE_ALLOC(raw);
    bool ok = cf_random_bytes(raw, BS_INFRA_SEALED_LEN) &&
              cf_bs_account_seal(s, account, slot, cf_slice_of(raw, BS_INFRA_SEALED_LEN), sealed);
    cf_secret_free(raw, BS_INFRA_SEALED_LEN);
    return ok;
}

bool cf_bs_infra_load(cf_blob_store *s, const char *account, const char *slot, cf_slice sealed,
                      bs_scope *sc)
{
    cf_buf raw;
    cf_buf_init_secret(&raw, 128);
    bool ok = cf_bs_account_open(s, account, slot, sealed, &raw);
    if (ok && raw.len != BS_INFRA_SEALED_LEN) {
        CF_RAISE(CF_ERR_DB, "malformed infrastructure key");
        ok = false;
    }
    if (ok) {
        sc->infra = cf_secret_alloc(CF_DATA_KEY_LEN);
        ok = sc->infra != NULL;
        if (ok) {
            memcpy(sc->infra_ref, raw.data, CF_EXTENT_KEY_REF_LEN);
            memcpy(sc->infra, raw.data + CF_EXTENT_KEY_REF_LEN, CF_DATA_KEY_LEN);
        } else {
            CF_RAISE(CF_ERR_NOMEM, NULL);
        }
    }
    cf_buf_free(&raw);
    return ok;
}

bool cf_bs_infra_of_account_locked(cf_blob_store *s, const char *account, bs_scope *sc)
{
    cf_db_stmt *st = CF_DB_PREP(s->db, "SELECT infra_key FROM accounts WHERE name = ?1", account);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    bool ok = cf_db_ok(s->db, rc);
    if (ok && rc == CF_DB_ROW && !cf_db_column_is_null(st, 0))
        ok = cf_bs_infra_load(
            s, account, "infra",
            cf_slice_of(cf_db_column_blob(st, 0), (size_t)cf_db_column_bytes(st, 0)), sc);
    cf_db_done(st);
    return ok;
}

bool cf_bs_infra_extent_key(const bs_scope *sc, const char *id, uint8_t *out)
{
    uint8_t info[27 + BS_ID_HEX];
    memcpy(info, "coffer blob infra extent id", 27);
    memcpy(info + 27, id, BS_ID_HEX);
    return cf_hkdf_sha256(cf_slice_of(sc->infra, CF_DATA_KEY_LEN), cf_slice_of(NULL, 0),
                          cf_slice_of(info, sizeof info), out, CF_EXTENT_SCOPE_KEY_LEN);
}

bool cf_bs_scope_load_locked(cf_blob_store *s, const char *account, bs_scope *sc)
{
    cf_blob_account a;
    CF_GUARD(cf_bs_account_get_locked(s, account, &a));
    memcpy(sc->ref, a.key_ref, sizeof sc->ref);
    sc->key = cf_secret_alloc(CF_DATA_KEY_LEN);
    CF_ENSURE_ALLOC(sc->key);
    bool ok;
    if (a.key_source == CF_BLOB_KEYS_VAULT) {
        ok = cf_bs_keyring_get_locked(s, a.key_ref, sc->key);
    } else {
        cf_buf key;
        cf_buf_init_secret(&key, 64);
        ok = cf_bs_account_secret_locked(s, account, "data", &key);
        if (ok && key.len != CF_DATA_KEY_LEN) {
            CF_RAISE(CF_ERR_DB, "malformed account data key");
            ok = false;
        }
        if (ok)
            memcpy(sc->key, key.data, CF_DATA_KEY_LEN);
        cf_buf_free(&key);
    }
    if (ok && a.infrastructure)
        ok = cf_bs_infra_of_account_locked(s, account, sc);
    if (!ok)
        cf_bs_scope_free(sc);
    return ok;
}

bool cf_bs_scope_cpk(const cf_blob_cpk *cpk, bs_scope *sc)
{
    uint8_t digest[32];
    static const char label[] = "coffer blob cpk ref";
    sc->key = cf_secret_alloc(CF_DATA_KEY_LEN);
    CF_ENSURE_ALLOC(sc->key);
    memcpy(sc->key, cpk->key, CF_DATA_KEY_LEN);
    /* The reference names the key without revealing more than its stored
     * SHA-256 does. */
    bool ok = cf_hkdf_sha256(cf_slice_of(cpk->key, 32), cf_slice_of(NULL, 0), CF_SLICE_LIT(label),
                             digest, sizeof digest);
    memcpy(sc->ref, digest, sizeof sc->ref);
    if (!ok)
        cf_bs_scope_free(sc);
    return ok;
}

bool cf_bs_check_cpk(const cf_blob_cond *cond, const char *blob_cpk)
{
    const cf_blob_cpk *cpk = cond ? cond->cpk : NULL;
    if (!blob_cpk[0]) {
        CF_ENSURE_REASON(!cpk, CF_ERR_CONFLICT, "BlobDoesNotUseCustomerSpecifiedEncryption",
                         "The blob is not encrypted with customer specified encryption.");
        return true;
    }
    CF_ENSURE_REASON(cpk, CF_ERR_CONFLICT, "BlobUsesCustomerSpecifiedEncryption",
                     "The blob is encrypted with customer specified encryption, but it was not "
                     "provided in the request.");
    CF_ENSURE_REASON(strcmp(cpk->sha256, blob_cpk) == 0, CF_ERR_CONFLICT, "InvalidEncryptionKey",
                     "The provided encryption key does not match the key the blob was "
                     "encrypted with.");
    return true;
}

bool cf_bs_scope_for_locked(cf_blob_store *s, const char *account, const cf_blob_cond *cond,
                            const bs_target *t, bs_scope *sc)
{
    CF_GUARD(cf_bs_check_cpk(cond, t->cpk));
    return t->cpk[0] ? cf_bs_scope_cpk_locked(s, account, cond->cpk, sc)
                     : cf_bs_scope_named_locked(s, account, t->scope, sc);
}

bool cf_bs_scope_cpk_locked(cf_blob_store *s, const char *account, const cf_blob_cpk *cpk,
                            bs_scope *sc)
{
    CF_GUARD(cf_bs_scope_cpk(cpk, sc));
    if (!cf_bs_infra_of_account_locked(s, account, sc)) {
        cf_bs_scope_free(sc);
        return false;
    }
    return true;
}

bool cf_bs_write_scope_locked(cf_blob_store *s, const char *account, const char *container,
                              const cf_blob_cond *cond, char out[CF_BLOB_SCOPE_MAX + 1])
{
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "SELECT default_scope, deny_override FROM containers"
                                " WHERE account = ?1 AND name = ?2",
                                account, container);
    CF_GUARD(st);
    char def[CF_BLOB_SCOPE_MAX + 1] = "";
    int rc = cf_db_step(st);
    bool deny = false;
    if (rc == CF_DB_ROW) {
        cf_bs_column_str(st, 0, def, sizeof def);
        deny = cf_db_column_int(st, 1) != 0;
    }
    cf_db_done(st);
    CF_ENSURE_REASON(rc != CF_DB_DONE, CF_ERR_NOT_FOUND, "ContainerNotFound", "no such container");
    CF_GUARD(cf_db_ok(s->db, rc));
    const char *want = cond ? cond->scope : NULL;
    if (want && strcmp(want, CF_BLOB_ACCOUNT_SCOPE) == 0)
        want = "";
    /* A customer-provided key is a scope of its own: it overrides too. */
    bool cpk = cond && cond->cpk;
    CF_ENSURE_REASON(!deny || ((!want || strcmp(want, def) == 0) && !(cpk && def[0])),
                     CF_ERR_CONFLICT, "EncryptionScopeOverrideNotAllowed",
                     "The container's default encryption scope cannot be overridden.");
    snprintf(out, CF_BLOB_SCOPE_MAX + 1, "%s", cpk ? "" : want ? want : def);
    /* The scope must exist, be enabled and have its key (a revoked vault
     * key refuses writes as it refuses reads). */
    return cf_bs_scope_usable_locked(s, account, out);
}

/* The scope key cf_extent uses for extent `id`: the account data key bound
 * to the id (see blob_store.h, "Extent binding").  out: secret, 32 bytes. */
bool cf_bs_extent_key(const bs_scope *sc, const char *id, uint8_t *out)
{
    uint8_t info[21 + BS_ID_HEX];
    memcpy(info, "coffer blob extent id", 21);
    memcpy(info + 21, id, BS_ID_HEX);
    return cf_hkdf_sha256(cf_slice_of(sc->key, CF_DATA_KEY_LEN), cf_slice_of(NULL, 0),
                          cf_slice_of(info, sizeof info), out, CF_EXTENT_SCOPE_KEY_LEN);
}

static bool bs_regenerate_tx(cf_blob_store *s, const char *name, int slot)
{
    cf_blob_account a;
    CF_GUARD(cf_bs_account_get_locked(s, name, &a));
    cf_buf sealed;
    cf_buf_init(&sealed, 256);
    const char *slot_name = slot == 1 ? "key1" : "key2";
    bool ok = bs_seal_new(s, name, slot_name, CF_BLOB_ACCOUNT_KEY_LEN, &sealed);
    cf_db_stmt *st = !ok ? NULL
                     : slot == 1
                         ? CF_DB_PREP(s->db, "UPDATE accounts SET key1 = ?2 WHERE name = ?1", name)
                         : CF_DB_PREP(s->db, "UPDATE accounts SET key2 = ?2 WHERE name = ?1", name);
    if (st)
        cf_db_bind_blob(st, 2, sealed.data, sealed.len);
    ok = ok && cf_db_run(s->db, st) && cf_bs_account_changed_tx(s, name);
    cf_buf_free(&sealed);
    return ok;
}

/* A transaction of its own, so the commit is counted and waited for. */
static bool bs_regenerate_locked(cf_blob_store *s, const char *name, int slot)
{
    CF_GUARD(cf_db_begin(s->db));
    return cf_db_commit(s->db, bs_regenerate_tx(s, name, slot));
}

bool cf_blob_account_regenerate_key(cf_blob_store *s, const char *name, int slot)
{
    CF_GUARD(cf_bs_check_names(name, NULL, NULL));
    CF_ENSURE(slot == 1 || slot == 2, CF_ERR_BAD_INPUT, "key slot must be 1 or 2");
    return BS_LOCKED(s, bs_regenerate_locked(s, name, slot));
}

/* ---- service properties ---- */

static bool bs_service_get_locked(cf_blob_store *s, const char *account, cf_buf *out)
{
    cf_blob_account a;
    CF_GUARD(cf_bs_account_get_locked(s, account, &a));
    cf_db_stmt *st = CF_DB_PREP(s->db, "SELECT xml FROM service_props WHERE account = ?1", account);
    CF_GUARD(st);
    int rc = cf_db_step(st);
    bool ok = cf_db_ok(s->db, rc);
    cf_buf_clear(out);
    if (ok && rc == CF_DB_ROW) {
        cf_buf xml;
        ok = cf_bs_column_open(s, st, 0, (bs_row){account, "", ""}, "service_props.xml", &xml);
        if (ok) {
            ok = cf_buf_append(out, xml.data, xml.len);
            cf_buf_free(&xml);
        }
    }
    cf_db_done(st);
    return ok;
}

bool cf_blob_service_props_get(cf_blob_store *s, const char *account, cf_buf *out)
{
    CF_GUARD(cf_bs_check_names(account, NULL, NULL));
    return BS_LOCKED(s, bs_service_get_locked(s, account, out));
}

static bool bs_service_set_tx(cf_blob_store *s, const char *account, cf_slice xml)
{
    cf_blob_account a;
    CF_GUARD(cf_bs_account_get_locked(s, account, &a));
    cf_db_stmt *st = CF_DB_PREP(s->db,
                                "INSERT INTO service_props (account, xml) VALUES (?1, ?2)"
                                " ON CONFLICT (account) DO UPDATE SET xml = ?2",
                                account);
    CF_GUARD(cf_bs_bind_sealed(s, st, 2, (bs_row){account, "", ""}, "service_props.xml", xml));
    return cf_db_run(s->db, st);
}

static bool bs_service_set_locked(cf_blob_store *s, const char *account, cf_slice xml)
{
    CF_GUARD(cf_db_begin(s->db));
    return cf_db_commit(s->db, bs_service_set_tx(s, account, xml));
}

bool cf_blob_service_props_set(cf_blob_store *s, const char *account, cf_slice xml)
{
    CF_GUARD(cf_bs_check_names(account, NULL, NULL));
    CF_ENSURE_REASON(xml.len <= CF_BLOB_SERVICE_PROPS_MAX, CF_ERR_TOO_LARGE, "RequestBodyTooLarge",
                     "service properties exceed 64 KiB");
    return BS_LOCKED(s, bs_service_set_locked(s, account, xml));
}

/* ---- cleanup ---- */

typedef struct {
    cf_blob_store *s;
    unsigned removed;
} bs_walk;

/* cf_extent_store_each's callback: a finished extent older than the
 * cut-off goes unless a row references it, a reader of this process holds
 * it (it goes at its release) or, on PostgreSQL, it waits out its grace
 * (the sweep's). */
static bool bs_cleanup_extent(void *ctx, const char *id)
{
    bs_walk *w = ctx;
    cf_blob_store *s = w->s;
    bool ref = true, deferred = false;
    pthread_mutex_lock(&s->lock);
    bool ok = cf_bs_extent_referenced(s, id, &ref);
    bool held = ok && !ref && cf_bs_pinned(s, id);
    ok = ok && (ref || held || cf_bs_deferred(s, id, &deferred));
    pthread_mutex_unlock(&s->lock);
    CF_GUARD(ok);
    if (ref || held || deferred)
        return true;
    /* Checked and removed under one lock hold would be tighter; the cut-off
     * is what protects writes in flight (finished, not yet committed). */
    if (cf_extent_store_remove(s->extents, id)) {
        w->removed++;
        return true;
    }
    /* The next walk tries again; a cluster that does not answer would only
     * make every further removal wait out its timeout too. */
    if (cf_error_code() == CF_ERR_UNAVAILABLE)
        return false;
    cf_error_clear();
    return true;
}

/* Inline rows nothing references and no reader holds.  They are written in
 * the transaction that references them, so there is no write in flight to
 * spare: an orphan is only a deferred removal lost to a crash.  (On
 * PostgreSQL, those waiting out their grace are the sweep's.) */
static bool bs_cleanup_inline_tx(cf_blob_store *s, unsigned *removed)
{
    bs_idlist l = {0};
    bool ok =
        cf_bs_collect(s,
                      CF_DB_PREP(s->db,
                                 cf_db_sql(s->db,
                                           "SELECT id FROM inline_extents WHERE id NOT IN (SELECT"
                                           " extent FROM blob_extents) AND id NOT IN (SELECT extent"
                                           " FROM uncommitted)",
                                           "SELECT id FROM inline_extents WHERE id NOT IN (SELECT"
                                           " extent FROM blob_extents) AND id NOT IN (SELECT extent"
                                           " FROM uncommitted) AND id NOT IN (SELECT id FROM"
                                           " extents_unreferenced)"),
                                 NULL),
                      &l);
    size_t before = l.n;
    ok = ok && cf_bs_drop_inline_tx(s, &l);
    if (ok)
        *removed += (unsigned)(before - l.n);
    cf_bs_idlist_free(&l);
    return ok;
}

static bool bs_cleanup_inline_locked(cf_blob_store *s, unsigned *removed, bool *leader)
{
    /* The rows are every front end's: one of them looks. */
    CF_GUARD(cf_db_lead(s->db, BS_LEAD_KEY, leader));
    if (!*leader)
        return true;
    CF_GUARD(cf_db_begin(s->db));
    return cf_db_commit(s->db, bs_cleanup_inline_tx(s, removed));
}

bool cf_blob_store_cleanup(cf_blob_store *s, int64_t older_than, unsigned *removed)
{
    bs_walk w = {s, 0};
    unsigned partials = 0;
    bool leader = false;
    bool ok = BS_LOCKED(s, bs_cleanup_inline_locked(s, &w.removed, &leader));
    /* Files are this front end's own; a shared store's extents are every
     * front end's, and one of them walks them. */
    if (ok && (leader || !s->extents_shared))
        ok = cf_extent_store_each(s->extents, older_than, bs_cleanup_extent, &w, &partials);
    if (removed)
        *removed = w.removed + partials;
    return ok;
}
