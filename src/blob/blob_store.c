/*
 * SQLite + extent-file implementation of the blob store (see blob_store.h
 * for the model: keys, extent binding, crash safety).
 *
 * Tables: accounts; containers; blobs; blob_extents (a blob's content, in
 * order: one row per extent, with the block id when it came from a block
 * list); uncommitted (blocks put but not yet committed).  An extent file is
 * referenced by at most the rows of one blob; "unreferenced" means no row
 * of blob_extents or uncommitted names it.
 *
 * Statements are prepared per call (calls are short; a cache can come with
 * the server).  One mutex serialises the connection.  File removal after a
 * commit happens under the same lock, so no concurrent commit can start
 * referencing a file between the check and the unlink.
 */
#include "blob_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "envelope.h"
#include "fsutil.h"
#include "json_secure.h"
#include "secmem.h"

#define BS_ID_HEX 32 /* extent ids: 16 random bytes, lowercase hex */
#define BS_PATH_MAX 4096

struct cf_blob_store {
    sqlite3 *db;
    pthread_mutex_t lock;
    char *dir;            /* DATA/extents */
    uint8_t *service_key; /* 32 bytes, secret memory */
};

static const char bs_schema[] =
    "CREATE TABLE IF NOT EXISTS accounts ("
    "  name TEXT PRIMARY KEY, created INTEGER NOT NULL, key_ref BLOB NOT NULL,"
    "  key1 BLOB NOT NULL, key2 BLOB NOT NULL, data_key BLOB NOT NULL);"
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
    "CREATE INDEX IF NOT EXISTS uncommitted_by_created ON uncommitted (created);";

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

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static bool bs_utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
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
    return bs_utf8_valid((const uint8_t *)name, n);
}

static bool bs_check_names(const char *account, const char *container, const char *blob)
{
    CF_ENSURE(account && cf_blob_account_name_valid(account), CF_ERR_BAD_INPUT,
              "invalid account name");
    CF_ENSURE(!container || cf_blob_container_name_valid(container), CF_ERR_BAD_INPUT,
              "invalid container name");
    CF_ENSURE(!blob || cf_blob_name_valid(blob), CF_ERR_BAD_INPUT, "invalid blob name");
    return true;
}

/* ---- database helpers ---- */

static bool bs_db_ok(cf_blob_store *s, int rc)
{
    CF_ENSUREF(rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW, CF_ERR_DB, "database: %s",
               sqlite3_errmsg(s->db));
    return true;
}

static bool bs_exec(cf_blob_store *s, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        cf_error_raisef(CF_ERR_DB, __FILE__, __LINE__, "database: %s", err ? err : "?");
        sqlite3_free(err);
        return false;
    }
    return true;
}

/* A prepared statement with text parameters ?1.. bound from `texts` (NULL
 * entries stay unbound); NULL on failure (raised). */
static sqlite3_stmt *bs_prep(cf_blob_store *s, const char *sql, const char *const *texts, int n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        cf_error_raisef(CF_ERR_DB, __FILE__, __LINE__, "database: %s", sqlite3_errmsg(s->db));
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (texts[i])
            sqlite3_bind_text(st, i + 1, texts[i], -1, SQLITE_STATIC);
    return st;
}

#define BS_PREP(s, sql, ...)                                                   \
    bs_prep((s), (sql), (const char *const[]){__VA_ARGS__},                    \
            (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))

/* Steps a statement that returns no rows (or ignores them) and finalizes it. */
static bool bs_run(cf_blob_store *s, sqlite3_stmt *st)
{
    CF_GUARD(st);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return bs_db_ok(s, rc);
}

/* Steps once: *found says whether a row came; finalizes. */
static bool bs_exists(cf_blob_store *s, sqlite3_stmt *st, bool *found)
{
    CF_GUARD(st);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    return bs_db_ok(s, rc);
}

static bool bs_begin(cf_blob_store *s)
{
    return bs_exec(s, "BEGIN IMMEDIATE");
}

static bool bs_commit(cf_blob_store *s, bool ok)
{
    if (ok && bs_exec(s, "COMMIT"))
        return true;
    if (!sqlite3_get_autocommit(s->db)) {
        char *err = NULL;
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, &err);
        sqlite3_free(err);
    }
    return false;
}

#define BS_LOCKED(s, call)                                                     \
    ({                                                                         \
        pthread_mutex_lock(&(s)->lock);                                        \
        bool ok_ = (call);                                                     \
        pthread_mutex_unlock(&(s)->lock);                                      \
        ok_;                                                                   \
    })

/* JSON text for a borrowed object or NULL ("{}"); free with cf_json_free_text. */
static bool bs_json_text(json_t *j, char **out)
{
    CF_ENSURE(!j || json_is_object(j), CF_ERR_BAD_INPUT, "metadata must be an object");
    *out = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!*out) {
        *out = malloc(3);
        CF_ENSURE_ALLOC(*out);
        memcpy(*out, "{}", 3);
    }
    return true;
}

static bool bs_column_json(sqlite3_stmt *st, int col, json_t **out)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    *out = json_loads(text ? text : "{}", 0, NULL);
    CF_ENSURE(*out && json_is_object(*out), CF_ERR_DB, "stored JSON is malformed");
    return true;
}

static bool bs_new_etag(char out[CF_BLOB_ETAG_LEN + 1])
{
    uint8_t r[8];
    CF_GUARD(cf_random_bytes(r, sizeof r));
    unsigned long long v = 0;
    for (size_t i = 0; i < sizeof r; i++)
        v = (v << 8) | r[i];
    snprintf(out, CF_BLOB_ETAG_LEN + 1, "\"0x%016llX\"", v);
    return true;
}

static void bs_column_str(sqlite3_stmt *st, int col, char *out, size_t cap)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    snprintf(out, cap, "%s", t ? t : "");
}

/* ---- open / close ---- */

void cf_blob_store_close(cf_blob_store *s)
{
    if (!s)
        return;
    sqlite3_close(s->db);
    cf_secret_free(s->service_key, CF_DATA_KEY_LEN);
    free(s->dir);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

bool cf_blob_store_open(const char *data_dir, cf_slice service_key, cf_blob_store **out)
{
    CF_ENSURE(service_key.len == CF_DATA_KEY_LEN, CF_ERR_BAD_INPUT, "service key must be 32 bytes");
    char path[BS_PATH_MAX];
    CF_ENSURE(snprintf(path, sizeof path, "%s/extents", data_dir) < (int)sizeof path,
              CF_ERR_BAD_INPUT, "data directory path too long");
    CF_GUARD(cf_mkdirs(path, 0700));
    cf_blob_store *s = calloc(1, sizeof *s);
    CF_ENSURE_ALLOC(s);
    pthread_mutex_init(&s->lock, NULL);
    s->dir = strdup(path);
    s->service_key = cf_secret_alloc(CF_DATA_KEY_LEN);
    if (!s->dir || !s->service_key) {
        cf_blob_store_close(s);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    memcpy(s->service_key, service_key.ptr, CF_DATA_KEY_LEN);
    snprintf(path, sizeof path, "%s/blob.db", data_dir);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                          SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        cf_blob_store_close(s);
        CF_BAIL(CF_ERR_DB, "cannot open the blob database");
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (!bs_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                    "PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;") ||
        !bs_exec(s, bs_schema)) {
        cf_blob_store_close(s);
        return false;
    }
    *out = s;
    return true;
}

/* ---- extent files ---- */

static bool bs_extent_path(const cf_blob_store *s, const char *id, const char *suffix, char *out)
{
    int n = snprintf(out, BS_PATH_MAX, "%s/%.2s/%.2s/%s%s", s->dir, id, id + 2, id, suffix);
    CF_ENSURE(n > 0 && n < BS_PATH_MAX, CF_ERR_INTERNAL, "extent path too long");
    return true;
}

static bool bs_new_extent_id(char id[BS_ID_HEX + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t r[BS_ID_HEX / 2];
    CF_GUARD(cf_random_bytes(r, sizeof r));
    for (size_t i = 0; i < sizeof r; i++) {
        id[2 * i] = hex[r[i] >> 4];
        id[2 * i + 1] = hex[r[i] & 15];
    }
    id[BS_ID_HEX] = '\0';
    return true;
}

/* Creates DIR/ab and DIR/ab/cd as needed, fsyncing each parent that gained
 * an entry so the new directory survives a crash. */
static bool bs_make_dirs(const cf_blob_store *s, const char *id)
{
    char d1[BS_PATH_MAX], d2[BS_PATH_MAX];
    snprintf(d1, sizeof d1, "%s/%.2s", s->dir, id);
    snprintf(d2, sizeof d2, "%s/%.2s/%.2s", s->dir, id, id + 2);
    const char *dirs[2] = {d1, d2};
    for (int i = 0; i < 2; i++) {
        if (mkdir(dirs[i], 0700) == 0)
            CF_GUARD(cf_fsync_dir_of(dirs[i]));
        else
            CF_ENSURE(errno == EEXIST, CF_ERR_IO, "cannot create an extent directory");
    }
    return true;
}

/* Is an extent named by any row?  Call holding the lock. */
static bool bs_extent_referenced(cf_blob_store *s, const char *id, bool *ref)
{
    return bs_exists(s,
                     BS_PREP(s,
                             "SELECT 1 FROM blob_extents WHERE extent = ?1 UNION ALL "
                             "SELECT 1 FROM uncommitted WHERE extent = ?1 LIMIT 1",
                             id),
                     ref);
}

/* A list of extent ids to remove once a transaction has committed. */
typedef struct {
    char (*ids)[BS_ID_HEX + 1];
    size_t n, cap;
} bs_idlist;

static bool bs_idlist_add(bs_idlist *l, const char *id)
{
    CF_ENSURE(strlen(id) == BS_ID_HEX, CF_ERR_DB, "malformed extent id in metadata");
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

/* Adds the `extent` column of every row of a select. */
static bool bs_collect(cf_blob_store *s, sqlite3_stmt *st, bs_idlist *l)
{
    CF_GUARD(st);
    int rc = SQLITE_DONE;
    bool ok = true;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW)
        ok = bs_idlist_add(l, (const char *)sqlite3_column_text(st, 0));
    if (ok)
        ok = bs_db_ok(s, rc);
    sqlite3_finalize(st);
    return ok;
}

/* After a commit, holding the lock: unlinks each listed extent that no row
 * references any more.  Failures are ignored: cleanup catches them. */
static void bs_remove_unreferenced(cf_blob_store *s, bs_idlist *l)
{
    char path[BS_PATH_MAX];
    for (size_t i = 0; i < l->n; i++) {
        bool ref = true;
        if (bs_extent_referenced(s, l->ids[i], &ref) && !ref &&
            bs_extent_path(s, l->ids[i], "", path))
            unlink(path);
    }
    cf_error_clear();
    free(l->ids);
    l->ids = NULL;
    l->n = l->cap = 0;
}

/* ---- accounts ---- */

static bool bs_account_aad(const char *name, const char *slot, cf_buf *aad)
{
    cf_buf_init(aad, 256);
    return cf_buf_append(aad, "coffer-blob\0account\0", 20) && cf_buf_append_str(aad, name) &&
           cf_buf_append_u8(aad, 0) && cf_buf_append_str(aad, slot);
}

static bool bs_seal_new(cf_blob_store *s, const char *name, const char *slot, size_t len,
                        cf_buf *sealed)
{
    uint8_t *raw = cf_secret_alloc(len);
    CF_ENSURE_ALLOC(raw);
    cf_buf aad;
    bool ok = cf_random_bytes(raw, len) && bs_account_aad(name, slot, &aad) &&
              cf_envelope_seal(cf_slice_of(s->service_key, CF_DATA_KEY_LEN), cf_buf_slice(&aad),
                               cf_slice_of(raw, len), sealed);
    cf_buf_free(&aad);
    cf_secret_free(raw, len);
    return ok;
}

static bool bs_account_create_locked(cf_blob_store *s, const char *name, int64_t now)
{
    cf_buf k1, k2, dk;
    cf_buf_init(&k1, 256);
    cf_buf_init(&k2, 256);
    cf_buf_init(&dk, 256);
    uint8_t ref[CF_EXTENT_KEY_REF_LEN];
    bool ok = cf_random_bytes(ref, sizeof ref) &&
              bs_seal_new(s, name, "key1", CF_BLOB_ACCOUNT_KEY_LEN, &k1) &&
              bs_seal_new(s, name, "key2", CF_BLOB_ACCOUNT_KEY_LEN, &k2) &&
              bs_seal_new(s, name, "data", CF_DATA_KEY_LEN, &dk);
    bool found = false;
    ok = ok && bs_begin(s);
    if (ok) {
        ok = bs_exists(s, BS_PREP(s, "SELECT 1 FROM accounts WHERE name = ?1", name), &found);
        if (ok && found) {
            CF_RAISE(CF_ERR_CONFLICT, "account exists");
            ok = false;
        }
        sqlite3_stmt *st = ok ? BS_PREP(s,
                                        "INSERT INTO accounts (name, created, key_ref, key1, key2,"
                                        " data_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                        name)
                              : NULL;
        if (st) {
            sqlite3_bind_int64(st, 2, now);
            sqlite3_bind_blob(st, 3, ref, sizeof ref, SQLITE_STATIC);
            sqlite3_bind_blob(st, 4, k1.data, (int)k1.len, SQLITE_STATIC);
            sqlite3_bind_blob(st, 5, k2.data, (int)k2.len, SQLITE_STATIC);
            sqlite3_bind_blob(st, 6, dk.data, (int)dk.len, SQLITE_STATIC);
        }
        ok = ok && bs_run(s, st);
        ok = bs_commit(s, ok);
    }
    cf_buf_free(&k1);
    cf_buf_free(&k2);
    cf_buf_free(&dk);
    return ok;
}

bool cf_blob_account_create(cf_blob_store *s, const char *name, int64_t now)
{
    CF_GUARD(bs_check_names(name, NULL, NULL));
    return BS_LOCKED(s, bs_account_create_locked(s, name, now));
}

static bool bs_account_get_locked(cf_blob_store *s, const char *name, cf_blob_account *out)
{
    sqlite3_stmt *st = BS_PREP(s, "SELECT created, key_ref FROM accounts WHERE name = ?1", name);
    CF_GUARD(st);
    int rc = sqlite3_step(st);
    bool ok = rc == SQLITE_ROW && sqlite3_column_bytes(st, 1) == CF_EXTENT_KEY_REF_LEN;
    if (ok) {
        memset(out, 0, sizeof *out);
        snprintf(out->name, sizeof out->name, "%s", name);
        out->created = sqlite3_column_int64(st, 0);
        memcpy(out->key_ref, sqlite3_column_blob(st, 1), CF_EXTENT_KEY_REF_LEN);
    }
    sqlite3_finalize(st);
    CF_ENSURE(rc != SQLITE_DONE, CF_ERR_NOT_FOUND, "no such account");
    CF_GUARD(bs_db_ok(s, rc));
    CF_ENSURE(ok, CF_ERR_DB, "malformed account row");
    return true;
}

bool cf_blob_account_get(cf_blob_store *s, const char *name, cf_blob_account *out)
{
    CF_GUARD(bs_check_names(name, NULL, NULL));
    return BS_LOCKED(s, bs_account_get_locked(s, name, out));
}

/* Opens one sealed slot of an account into `out` (a secret buffer). */
static bool bs_account_secret_locked(cf_blob_store *s, const char *name, const char *slot,
                                     cf_buf *out)
{
    const char *sql = strcmp(slot, "key1") == 0   ? "SELECT key1 FROM accounts WHERE name = ?1"
                      : strcmp(slot, "key2") == 0 ? "SELECT key2 FROM accounts WHERE name = ?1"
                                                  : "SELECT data_key FROM accounts WHERE name = ?1";
    sqlite3_stmt *st = BS_PREP(s, sql, name);
    CF_GUARD(st);
    int rc = sqlite3_step(st);
    cf_buf aad;
    bool ok = rc == SQLITE_ROW && bs_account_aad(name, slot, &aad);
    if (rc == SQLITE_ROW) {
        ok = ok && cf_envelope_open(cf_slice_of(s->service_key, CF_DATA_KEY_LEN),
                                    cf_buf_slice(&aad),
                                    cf_slice_of(sqlite3_column_blob(st, 0),
                                                (size_t)sqlite3_column_bytes(st, 0)),
                                    out);
        cf_buf_free(&aad);
    }
    sqlite3_finalize(st);
    CF_ENSURE(rc != SQLITE_DONE, CF_ERR_NOT_FOUND, "no such account");
    CF_GUARD(bs_db_ok(s, rc));
    return ok;
}

bool cf_blob_account_key(cf_blob_store *s, const char *name, int slot, cf_buf *out)
{
    CF_GUARD(bs_check_names(name, NULL, NULL));
    CF_ENSURE(slot == 1 || slot == 2, CF_ERR_BAD_INPUT, "key slot must be 1 or 2");
    return BS_LOCKED(s, bs_account_secret_locked(s, name, slot == 1 ? "key1" : "key2", out));
}

/* The account's data key and key reference (the extent scope material). */
typedef struct {
    uint8_t *key; /* CF_DATA_KEY_LEN bytes of secret memory */
    uint8_t ref[CF_EXTENT_KEY_REF_LEN];
} bs_scope;

static void bs_scope_free(bs_scope *sc)
{
    cf_secret_free(sc->key, CF_DATA_KEY_LEN);
    sc->key = NULL;
}

static bool bs_scope_load_locked(cf_blob_store *s, const char *account, bs_scope *sc)
{
    cf_blob_account a;
    CF_GUARD(bs_account_get_locked(s, account, &a));
    memcpy(sc->ref, a.key_ref, sizeof sc->ref);
    cf_buf key;
    cf_buf_init_secret(&key, 64);
    bool ok = bs_account_secret_locked(s, account, "data", &key);
    if (ok && key.len != CF_DATA_KEY_LEN) {
        CF_RAISE(CF_ERR_DB, "malformed account data key");
        ok = false;
    }
    if (ok) {
        sc->key = cf_secret_alloc(CF_DATA_KEY_LEN);
        ok = sc->key != NULL;
        if (ok)
            memcpy(sc->key, key.data, CF_DATA_KEY_LEN);
        else
            CF_RAISE(CF_ERR_NOMEM, NULL);
    }
    cf_buf_free(&key);
    return ok;
}

/* The scope key cf_extent uses for extent `id`: the account data key bound
 * to the id (see blob_store.h, "Extent binding").  out: secret, 32 bytes. */
static bool bs_extent_key(const bs_scope *sc, const char *id, uint8_t *out)
{
    uint8_t info[21 + BS_ID_HEX];
    memcpy(info, "coffer blob extent id", 21);
    memcpy(info + 21, id, BS_ID_HEX);
    return cf_hkdf_sha256(cf_slice_of(sc->key, CF_DATA_KEY_LEN), cf_slice_of(NULL, 0),
                          cf_slice_of(info, sizeof info), out, CF_EXTENT_SCOPE_KEY_LEN);
}

/* ---- containers ---- */

void cf_blob_container_free(cf_blob_container *c)
{
    json_decref(c->metadata);
    c->metadata = NULL;
}

static bool bs_container_exists(cf_blob_store *s, const char *account, const char *name)
{
    bool found;
    CF_GUARD(bs_exists(
        s, BS_PREP(s, "SELECT 1 FROM containers WHERE account = ?1 AND name = ?2", account, name),
        &found));
    CF_ENSURE(found, CF_ERR_NOT_FOUND, "no such container");
    return true;
}

static bool bs_container_create_tx(cf_blob_store *s, const char *account, const char *name,
                                   const char *meta, cf_public_access access, int64_t now)
{
    bool found;
    CF_GUARD(bs_exists(s, BS_PREP(s, "SELECT 1 FROM accounts WHERE name = ?1", account), &found));
    CF_ENSURE(found, CF_ERR_NOT_FOUND, "no such account");
    CF_GUARD(bs_exists(
        s, BS_PREP(s, "SELECT 1 FROM containers WHERE account = ?1 AND name = ?2", account, name),
        &found));
    CF_ENSURE(!found, CF_ERR_CONFLICT, "container exists");
    char etag[CF_BLOB_ETAG_LEN + 1];
    CF_GUARD(bs_new_etag(etag));
    sqlite3_stmt *st = BS_PREP(s,
                               "INSERT INTO containers (account, name, created, last_modified,"
                               " etag, metadata, access) VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)",
                               account, name, NULL, etag, meta);
    CF_GUARD(st);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int(st, 6, (int)access);
    return bs_run(s, st);
}

static bool bs_container_create_locked(cf_blob_store *s, const char *account, const char *name,
                                       const char *meta, cf_public_access access, int64_t now)
{
    CF_GUARD(bs_begin(s));
    return bs_commit(s, bs_container_create_tx(s, account, name, meta, access, now));
}

bool cf_blob_container_create(cf_blob_store *s, const char *account, const char *name,
                              json_t *metadata, cf_public_access access, int64_t now)
{
    CF_GUARD(bs_check_names(account, name ? name : "", NULL));
    CF_ENSURE(access <= CF_ACCESS_CONTAINER, CF_ERR_BAD_INPUT, "invalid public access level");
    char *meta;
    CF_GUARD(bs_json_text(metadata, &meta));
    bool ok = BS_LOCKED(s, bs_container_create_locked(s, account, name, meta, access, now));
    cf_json_free_text(meta);
    return ok;
}

#define BS_CONTAINER_COLUMNS "name, created, last_modified, etag, metadata, access"

static bool bs_read_container(sqlite3_stmt *st, cf_blob_container *out)
{
    memset(out, 0, sizeof *out);
    bs_column_str(st, 0, out->name, sizeof out->name);
    out->created = sqlite3_column_int64(st, 1);
    out->last_modified = sqlite3_column_int64(st, 2);
    bs_column_str(st, 3, out->etag, sizeof out->etag);
    out->access = (cf_public_access)sqlite3_column_int(st, 5);
    return bs_column_json(st, 4, &out->metadata);
}

static bool bs_container_get_locked(cf_blob_store *s, const char *account, const char *name,
                                    cf_blob_container *out)
{
    sqlite3_stmt *st = BS_PREP(s,
                               "SELECT " BS_CONTAINER_COLUMNS
                               " FROM containers WHERE account = ?1 AND name = ?2",
                               account, name);
    CF_GUARD(st);
    int rc = sqlite3_step(st);
    bool ok = rc == SQLITE_ROW && bs_read_container(st, out);
    sqlite3_finalize(st);
    CF_ENSURE(rc != SQLITE_DONE, CF_ERR_NOT_FOUND, "no such container");
    CF_GUARD(bs_db_ok(s, rc));
    return ok;
}

bool cf_blob_container_get(cf_blob_store *s, const char *account, const char *name,
                           cf_blob_container *out)
{
    CF_GUARD(bs_check_names(account, name, NULL));
    return BS_LOCKED(s, bs_container_get_locked(s, account, name, out));
}

static bool bs_container_meta_tx(cf_blob_store *s, const char *account, const char *name,
                                 const char *meta, int64_t now)
{
    CF_GUARD(bs_container_exists(s, account, name));
    char etag[CF_BLOB_ETAG_LEN + 1];
    CF_GUARD(bs_new_etag(etag));
    sqlite3_stmt *st = BS_PREP(s,
                               "UPDATE containers SET metadata = ?3, etag = ?4, last_modified = ?5"
                               " WHERE account = ?1 AND name = ?2",
                               account, name, meta, etag);
    CF_GUARD(st);
    sqlite3_bind_int64(st, 5, now);
    return bs_run(s, st);
}

static bool bs_container_meta_locked(cf_blob_store *s, const char *account, const char *name,
                                     const char *meta, int64_t now)
{
    CF_GUARD(bs_begin(s));
    return bs_commit(s, bs_container_meta_tx(s, account, name, meta, now));
}

bool cf_blob_container_set_metadata(cf_blob_store *s, const char *account, const char *name,
                                    json_t *metadata, int64_t now)
{
    CF_GUARD(bs_check_names(account, name ? name : "", NULL));
    char *meta;
    CF_GUARD(bs_json_text(metadata, &meta));
    bool ok = BS_LOCKED(s, bs_container_meta_locked(s, account, name, meta, now));
    cf_json_free_text(meta);
    return ok;
}

static bool bs_container_delete_tx(cf_blob_store *s, const char *account, const char *name,
                                   bs_idlist *gone)
{
    CF_GUARD(bs_container_exists(s, account, name));
    CF_GUARD(bs_collect(
        s,
        BS_PREP(s, "SELECT extent FROM blob_extents WHERE account = ?1 AND container = ?2 UNION "
                   "SELECT extent FROM uncommitted WHERE account = ?1 AND container = ?2",
                account, name),
        gone));
    CF_GUARD(bs_run(s, BS_PREP(s, "DELETE FROM blob_extents WHERE account = ?1 AND container = ?2",
                               account, name)));
    CF_GUARD(bs_run(s, BS_PREP(s, "DELETE FROM uncommitted WHERE account = ?1 AND container = ?2",
                               account, name)));
    CF_GUARD(bs_run(
        s, BS_PREP(s, "DELETE FROM blobs WHERE account = ?1 AND container = ?2", account, name)));
    return bs_run(
        s, BS_PREP(s, "DELETE FROM containers WHERE account = ?1 AND name = ?2", account, name));
}

static bool bs_container_delete_locked(cf_blob_store *s, const char *account, const char *name)
{
    bs_idlist gone = {0};
    bool ok = bs_begin(s) && bs_commit(s, bs_container_delete_tx(s, account, name, &gone));
    if (ok)
        bs_remove_unreferenced(s, &gone);
    free(gone.ids);
    return ok;
}

bool cf_blob_container_delete(cf_blob_store *s, const char *account, const char *name)
{
    CF_GUARD(bs_check_names(account, name, NULL));
    return BS_LOCKED(s, bs_container_delete_locked(s, account, name));
}

static bool bs_container_list_locked(cf_blob_store *s, const char *account, const char *prefix,
                                     const char *marker, unsigned max, cf_blob_container_cb each,
                                     void *ctx, char *next_marker, size_t next_len)
{
    sqlite3_stmt *st = BS_PREP(s,
                               "SELECT " BS_CONTAINER_COLUMNS " FROM containers"
                               " WHERE account = ?1 AND substr(name, 1, length(?2)) = ?2"
                               " AND name > ?3 ORDER BY name LIMIT ?4",
                               account, prefix, marker);
    CF_GUARD(st);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)max + 1);
    unsigned n = 0;
    int rc = SQLITE_DONE;
    bool ok = true;
    char last[CF_BLOB_CONTAINER_MAX + 1] = "";
    next_marker[0] = '\0';
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == max) {
            snprintf(next_marker, next_len, "%s", last);
            break;
        }
        cf_blob_container c;
        ok = bs_read_container(st, &c) && each(ctx, &c);
        snprintf(last, sizeof last, "%s", c.name);
        cf_blob_container_free(&c);
        n++;
    }
    if (ok && rc != SQLITE_ROW)
        ok = bs_db_ok(s, rc);
    sqlite3_finalize(st);
    return ok;
}

bool cf_blob_container_list(cf_blob_store *s, const char *account, const char *prefix,
                            const char *marker, unsigned max_results, cf_blob_container_cb each,
                            void *ctx, char *next_marker, size_t next_len)
{
    CF_GUARD(bs_check_names(account, NULL, NULL));
    CF_ENSURE(max_results >= 1 && max_results <= 5000, CF_ERR_BAD_INPUT,
              "maxresults must be 1..5000");
    CF_ENSURE(next_len > CF_BLOB_CONTAINER_MAX, CF_ERR_BAD_INPUT, "marker buffer too small");
    /* Copied: callers may pass the previous page's next_marker buffer as
     * both marker and next_marker. */
    char from[CF_BLOB_CONTAINER_MAX + 2];
    snprintf(from, sizeof from, "%s", marker ? marker : "");
    return BS_LOCKED(s, bs_container_list_locked(s, account, prefix ? prefix : "", from,
                                                 max_results, each, ctx, next_marker, next_len));
}

/* ---- blobs ---- */

void cf_blob_info_free(cf_blob_info *b)
{
    json_decref(b->props);
    json_decref(b->metadata);
    b->props = b->metadata = NULL;
}

static bool bs_blob_get_locked(cf_blob_store *s, const char *account, const char *container,
                               const char *name, cf_blob_info *out)
{
    CF_GUARD(bs_container_exists(s, account, container));
    sqlite3_stmt *st = BS_PREP(s,
                               "SELECT type, size, etag, created, last_modified, props, metadata,"
                               " (SELECT count(*) FROM blob_extents e WHERE e.account = ?1 AND"
                               "  e.container = ?2 AND e.blob = ?3)"
                               " FROM blobs WHERE account = ?1 AND container = ?2 AND name = ?3",
                               account, container, name);
    CF_GUARD(st);
    int rc = sqlite3_step(st);
    bool ok = rc == SQLITE_ROW;
    if (ok) {
        memset(out, 0, sizeof *out);
        snprintf(out->name, sizeof out->name, "%s", name);
        out->type = (cf_blob_type)sqlite3_column_int(st, 0);
        out->size = (uint64_t)sqlite3_column_int64(st, 1);
        bs_column_str(st, 2, out->etag, sizeof out->etag);
        out->created = sqlite3_column_int64(st, 3);
        out->last_modified = sqlite3_column_int64(st, 4);
        out->n_extents = (size_t)sqlite3_column_int64(st, 7);
        ok = bs_column_json(st, 5, &out->props) && bs_column_json(st, 6, &out->metadata);
        if (!ok)
            cf_blob_info_free(out);
    }
    sqlite3_finalize(st);
    CF_ENSURE(rc != SQLITE_DONE, CF_ERR_NOT_FOUND, "no such blob");
    CF_GUARD(bs_db_ok(s, rc));
    return ok;
}

bool cf_blob_get(cf_blob_store *s, const char *account, const char *container, const char *name,
                 cf_blob_info *out)
{
    CF_GUARD(bs_check_names(account, container, name));
    return BS_LOCKED(s, bs_blob_get_locked(s, account, container, name, out));
}

/* Removes a blob's rows (content and uncommitted blocks), listing their
 * extents in `gone`; the blob row itself only when `with_row`. */
static bool bs_blob_clear(cf_blob_store *s, const char *account, const char *container,
                          const char *name, bool with_row, bs_idlist *gone)
{
    CF_GUARD(bs_collect(s,
                        BS_PREP(s,
                                "SELECT extent FROM blob_extents WHERE account = ?1 AND"
                                " container = ?2 AND blob = ?3 UNION SELECT extent FROM"
                                " uncommitted WHERE account = ?1 AND container = ?2 AND blob = ?3",
                                account, container, name),
                        gone));
    CF_GUARD(bs_run(s, BS_PREP(s,
                               "DELETE FROM blob_extents WHERE account = ?1 AND container = ?2"
                               " AND blob = ?3",
                               account, container, name)));
    CF_GUARD(bs_run(s, BS_PREP(s,
                               "DELETE FROM uncommitted WHERE account = ?1 AND container = ?2"
                               " AND blob = ?3",
                               account, container, name)));
    if (!with_row)
        return true;
    return bs_run(s, BS_PREP(s,
                             "DELETE FROM blobs WHERE account = ?1 AND container = ?2 AND"
                             " name = ?3",
                             account, container, name));
}

static bool bs_blob_delete_tx(cf_blob_store *s, const char *account, const char *container,
                              const char *name, bs_idlist *gone)
{
    CF_GUARD(bs_container_exists(s, account, container));
    bool found;
    CF_GUARD(bs_exists(s,
                       BS_PREP(s,
                               "SELECT 1 FROM blobs WHERE account = ?1 AND container = ?2 AND"
                               " name = ?3",
                               account, container, name),
                       &found));
    CF_ENSURE(found, CF_ERR_NOT_FOUND, "no such blob");
    return bs_blob_clear(s, account, container, name, true, gone);
}

static bool bs_blob_delete_locked(cf_blob_store *s, const char *account, const char *container,
                                  const char *name)
{
    bs_idlist gone = {0};
    bool ok = bs_begin(s) && bs_commit(s, bs_blob_delete_tx(s, account, container, name, &gone));
    if (ok)
        bs_remove_unreferenced(s, &gone);
    free(gone.ids);
    return ok;
}

bool cf_blob_delete(cf_blob_store *s, const char *account, const char *container,
                    const char *name)
{
    CF_GUARD(bs_check_names(account, container, name));
    return BS_LOCKED(s, bs_blob_delete_locked(s, account, container, name));
}

/* Inserts or replaces the blob row (keeping `created` of an existing one). */
static bool bs_blob_upsert(cf_blob_store *s, const char *account, const char *container,
                           const char *name, uint64_t size, const char *props, const char *meta,
                           int64_t now, char etag[CF_BLOB_ETAG_LEN + 1])
{
    CF_GUARD(bs_new_etag(etag));
    sqlite3_stmt *st = BS_PREP(s,
                               "INSERT INTO blobs (account, container, name, type, size, etag,"
                               " created, last_modified, props, metadata)"
                               " VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?6, ?7, ?8)"
                               " ON CONFLICT (account, container, name) DO UPDATE SET"
                               " type = 0, size = ?4, etag = ?5, last_modified = ?6,"
                               " props = ?7, metadata = ?8",
                               account, container, name, NULL, etag, NULL, props, meta);
    CF_GUARD(st);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)size);
    sqlite3_bind_int64(st, 6, now);
    return bs_run(s, st);
}

static bool bs_insert_extent_row(cf_blob_store *s, const char *account, const char *container,
                                 const char *name, int64_t seq, const char *id, uint64_t length,
                                 cf_slice block_id)
{
    sqlite3_stmt *st = BS_PREP(s,
                               "INSERT INTO blob_extents (account, container, blob, seq, extent,"
                               " length, block_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                               account, container, name, NULL, id);
    CF_GUARD(st);
    sqlite3_bind_int64(st, 4, seq);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)length);
    if (block_id.len)
        sqlite3_bind_blob(st, 7, block_id.ptr, (int)block_id.len, SQLITE_STATIC);
    return bs_run(s, st);
}

/* ---- writers ---- */

struct cf_blob_writer {
    cf_blob_store *s;
    char *account, *container, *name;
    bool is_block, failed, renamed, done;
    uint8_t block_id[CF_BLOB_BLOCK_ID_MAX];
    size_t block_id_len;
    char *props, *meta;
    char id[BS_ID_HEX + 1];
    char path[BS_PATH_MAX], tmp[BS_PATH_MAX];
    int fd;
    cf_extent_writer *ew;
};

static bool bs_fd_sink(void *ctx, cf_slice bytes)
{
    int fd = *(int *)ctx;
    while (bytes.len) {
        ssize_t n = write(fd, bytes.ptr, bytes.len);
        if (n < 0 && errno == EINTR)
            continue;
        CF_ENSURE(n > 0, CF_ERR_IO, "cannot write an extent file");
        bytes.ptr += n;
        bytes.len -= (size_t)n;
    }
    return true;
}

void cf_blob_writer_free(cf_blob_writer *w)
{
    if (!w)
        return;
    cf_extent_writer_free(w->ew);
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp[0] && !w->renamed)
        unlink(w->tmp);
    free(w->account);
    free(w->container);
    free(w->name);
    cf_json_free_text(w->props);
    cf_json_free_text(w->meta);
    free(w);
}

static bool bs_writer_open_locked(cf_blob_store *s, cf_blob_writer *w, bs_scope *sc)
{
    CF_GUARD(bs_container_exists(s, w->account, w->container));
    return bs_scope_load_locked(s, w->account, sc);
}

/* Shared by Put Blob and Put Block: the temp file and the extent writer. */
static bool bs_writer_start(cf_blob_writer *w)
{
    bs_scope sc = {0};
    CF_GUARD(BS_LOCKED(w->s, bs_writer_open_locked(w->s, w, &sc)));
    uint8_t *key = cf_secret_alloc(CF_EXTENT_SCOPE_KEY_LEN);
    bool ok = key != NULL;
    if (!ok)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    ok = ok && bs_new_extent_id(w->id) && bs_extent_path(w->s, w->id, "", w->path) &&
         bs_extent_path(w->s, w->id, ".tmp", w->tmp) && bs_make_dirs(w->s, w->id) &&
         bs_extent_key(&sc, w->id, key);
    if (ok) {
        w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (w->fd < 0) {
            w->tmp[0] = '\0';
            CF_RAISE(CF_ERR_IO, "cannot create an extent file");
            ok = false;
        }
    }
    ok = ok && cf_extent_writer_begin(cf_slice_of(key, CF_EXTENT_SCOPE_KEY_LEN), sc.ref,
                                      CF_EXTENT_SEGMENT_DEFAULT,
                                      (cf_extent_sink){bs_fd_sink, &w->fd}, &w->ew);
    cf_secret_free(key, CF_EXTENT_SCOPE_KEY_LEN);
    bs_scope_free(&sc);
    return ok;
}

static bool bs_writer_new(cf_blob_store *s, const char *account, const char *container,
                          const char *name, cf_blob_writer **out)
{
    CF_GUARD(bs_check_names(account, container, name));
    cf_blob_writer *w = calloc(1, sizeof *w);
    CF_ENSURE_ALLOC(w);
    w->s = s;
    w->fd = -1;
    w->account = strdup(account);
    w->container = strdup(container);
    w->name = strdup(name);
    if (!w->account || !w->container || !w->name) {
        cf_blob_writer_free(w);
        CF_BAIL(CF_ERR_NOMEM, NULL);
    }
    *out = w;
    return true;
}

bool cf_blob_put_begin(cf_blob_store *s, const char *account, const char *container,
                       const char *name, json_t *props, json_t *metadata, cf_blob_writer **out)
{
    cf_blob_writer *w;
    CF_GUARD(bs_writer_new(s, account, container, name, &w));
    if (!bs_json_text(props, &w->props) || !bs_json_text(metadata, &w->meta) ||
        !bs_writer_start(w)) {
        cf_blob_writer_free(w);
        return false;
    }
    *out = w;
    return true;
}

bool cf_blob_block_begin(cf_blob_store *s, const char *account, const char *container,
                         const char *name, cf_slice block_id, cf_blob_writer **out)
{
    CF_ENSURE(block_id.len >= 1 && block_id.len <= CF_BLOB_BLOCK_ID_MAX, CF_ERR_BAD_INPUT,
              "block id must be 1..64 bytes");
    cf_blob_writer *w;
    CF_GUARD(bs_writer_new(s, account, container, name, &w));
    w->is_block = true;
    memcpy(w->block_id, block_id.ptr, block_id.len);
    w->block_id_len = block_id.len;
    if (!bs_writer_start(w)) {
        cf_blob_writer_free(w);
        return false;
    }
    *out = w;
    return true;
}

bool cf_blob_writer_write(cf_blob_writer *w, cf_slice data)
{
    CF_ENSURE(!w->failed && !w->done, CF_ERR_OPERATION, "writer failed or finished");
    if (!cf_extent_write(w->ew, data)) {
        w->failed = true;
        return false;
    }
    return true;
}

static bool bs_put_blob_tx(cf_blob_writer *w, uint64_t len, int64_t now, char *etag,
                           bs_idlist *gone)
{
    cf_blob_store *s = w->s;
    CF_GUARD(bs_container_exists(s, w->account, w->container));
    CF_GUARD(bs_blob_clear(s, w->account, w->container, w->name, false, gone));
    CF_GUARD(bs_blob_upsert(s, w->account, w->container, w->name, len, w->props, w->meta, now,
                            etag));
    return bs_insert_extent_row(s, w->account, w->container, w->name, 0, w->id, len,
                                cf_slice_of(NULL, 0));
}

static bool bs_put_block_tx(cf_blob_writer *w, uint64_t len, int64_t now, bs_idlist *gone)
{
    cf_blob_store *s = w->s;
    CF_GUARD(bs_container_exists(s, w->account, w->container));
    sqlite3_stmt *st = BS_PREP(s,
                               "SELECT extent FROM uncommitted WHERE account = ?1 AND"
                               " container = ?2 AND blob = ?3 AND block_id = ?4",
                               w->account, w->container, w->name);
    if (st)
        sqlite3_bind_blob(st, 4, w->block_id, (int)w->block_id_len, SQLITE_STATIC);
    CF_GUARD(bs_collect(s, st, gone));
    st = BS_PREP(s,
                 "DELETE FROM uncommitted WHERE account = ?1 AND container = ?2 AND blob = ?3"
                 " AND block_id = ?4",
                 w->account, w->container, w->name);
    if (st)
        sqlite3_bind_blob(st, 4, w->block_id, (int)w->block_id_len, SQLITE_STATIC);
    CF_GUARD(bs_run(s, st));
    st = BS_PREP(s,
                 "SELECT count(*) >= " "100000" " FROM uncommitted WHERE account = ?1 AND"
                 " container = ?2 AND blob = ?3",
                 w->account, w->container, w->name);
    CF_GUARD(st);
    bool full = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    CF_ENSURE(!full, CF_ERR_CONFLICT, "too many uncommitted blocks");
    st = BS_PREP(s,
                 "INSERT INTO uncommitted (account, container, blob, block_id, size, extent,"
                 " created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                 w->account, w->container, w->name, NULL, NULL, w->id);
    CF_GUARD(st);
    sqlite3_bind_blob(st, 4, w->block_id, (int)w->block_id_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)len);
    sqlite3_bind_int64(st, 7, now);
    return bs_run(s, st);
}

static bool bs_writer_commit_locked(cf_blob_writer *w, uint64_t len, int64_t now, char *etag)
{
    bs_idlist gone = {0};
    bool ok = bs_begin(w->s);
    if (ok) {
        ok = w->is_block ? bs_put_block_tx(w, len, now, &gone)
                         : bs_put_blob_tx(w, len, now, etag, &gone);
        ok = bs_commit(w->s, ok);
    }
    if (ok)
        bs_remove_unreferenced(w->s, &gone);
    free(gone.ids);
    return ok;
}

bool cf_blob_writer_commit(cf_blob_writer *w, int64_t now, char etag_out[CF_BLOB_ETAG_LEN + 1])
{
    CF_ENSURE(!w->failed && !w->done, CF_ERR_OPERATION, "writer failed or finished");
    w->failed = true; /* until proven otherwise */
    uint64_t len = 0;
    CF_GUARD(cf_extent_finish(w->ew, &len, NULL));
    CF_ENSURE(fsync(w->fd) == 0, CF_ERR_IO, "cannot fsync an extent file");
    int fd = w->fd;
    w->fd = -1;
    CF_ENSURE(close(fd) == 0, CF_ERR_IO, "cannot close an extent file");
    CF_ENSURE(rename(w->tmp, w->path) == 0, CF_ERR_IO, "cannot rename an extent file");
    w->renamed = true;
    char etag[CF_BLOB_ETAG_LEN + 1] = "";
    /* Data is durable before the metadata that points at it commits. */
    if (!cf_fsync_dir_of(w->path) || !BS_LOCKED(w->s, bs_writer_commit_locked(w, len, now, etag))) {
        unlink(w->path);
        return false;
    }
    w->failed = false;
    w->done = true;
    if (etag_out)
        memcpy(etag_out, etag, sizeof etag);
    return true;
}

/* ---- block lists ---- */

typedef struct {
    char id[BS_ID_HEX + 1];
    uint64_t length;
} bs_piece;

/* Finds a block's extent among the committed (`committed`) or uncommitted
 * blocks of a blob. */
static bool bs_find_block(cf_blob_store *s, const char *account, const char *container,
                          const char *name, cf_slice block_id, bool committed, bool *found,
                          bs_piece *out)
{
    sqlite3_stmt *st = BS_PREP(s,
                               committed ? "SELECT extent, length FROM blob_extents WHERE"
                                           " account = ?1 AND container = ?2 AND blob = ?3 AND"
                                           " block_id = ?4 LIMIT 1"
                                         : "SELECT extent, size FROM uncommitted WHERE"
                                           " account = ?1 AND container = ?2 AND blob = ?3 AND"
                                           " block_id = ?4",
                               account, container, name);
    CF_GUARD(st);
    sqlite3_bind_blob(st, 4, block_id.ptr, (int)block_id.len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found) {
        bs_column_str(st, 0, out->id, sizeof out->id);
        out->length = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return bs_db_ok(s, rc);
}

typedef struct {
    const char *account, *container, *name;
    const cf_block_ref *blocks;
    size_t n;
    const char *props, *meta;
    int64_t now;
    char *etag;
} bs_block_list;

static bool bs_put_block_list_tx(cf_blob_store *s, const bs_block_list *bl, bs_piece *pieces,
                                 bs_idlist *gone)
{
    CF_GUARD(bs_container_exists(s, bl->account, bl->container));
    uint64_t total = 0;
    for (size_t i = 0; i < bl->n; i++) {
        cf_slice id = bl->blocks[i].id;
        CF_ENSURE(id.len >= 1 && id.len <= CF_BLOB_BLOCK_ID_MAX, CF_ERR_BAD_INPUT,
                  "block id must be 1..64 bytes");
        bool found = false;
        cf_block_from from = bl->blocks[i].from;
        if (from != CF_BLOCK_COMMITTED)
            CF_GUARD(bs_find_block(s, bl->account, bl->container, bl->name, id, false, &found,
                                   &pieces[i]));
        if (!found && from != CF_BLOCK_UNCOMMITTED)
            CF_GUARD(bs_find_block(s, bl->account, bl->container, bl->name, id, true, &found,
                                   &pieces[i]));
        CF_ENSURE(found, CF_ERR_BAD_INPUT, "InvalidBlockList: a listed block does not exist");
        CF_ENSURE(total + pieces[i].length >= total, CF_ERR_TOO_LARGE, "blob too large");
        total += pieces[i].length;
    }
    CF_GUARD(bs_blob_clear(s, bl->account, bl->container, bl->name, false, gone));
    CF_GUARD(bs_blob_upsert(s, bl->account, bl->container, bl->name, total, bl->props, bl->meta,
                            bl->now, bl->etag));
    for (size_t i = 0; i < bl->n; i++)
        CF_GUARD(bs_insert_extent_row(s, bl->account, bl->container, bl->name, (int64_t)i,
                                      pieces[i].id, pieces[i].length, bl->blocks[i].id));
    return true;
}

static bool bs_put_block_list_locked(cf_blob_store *s, const bs_block_list *bl, bs_piece *pieces)
{
    bs_idlist gone = {0};
    bool ok = bs_begin(s) && bs_commit(s, bs_put_block_list_tx(s, bl, pieces, &gone));
    if (ok)
        bs_remove_unreferenced(s, &gone);
    free(gone.ids);
    return ok;
}

bool cf_blob_put_block_list(cf_blob_store *s, const char *account, const char *container,
                            const char *name, const cf_block_ref *blocks, size_t n, json_t *props,
                            json_t *metadata, int64_t now, char etag_out[CF_BLOB_ETAG_LEN + 1])
{
    CF_GUARD(bs_check_names(account, container, name));
    CF_ENSURE(n <= CF_BLOB_MAX_BLOCKS, CF_ERR_TOO_LARGE, "too many blocks");
    CF_ENSURE(n == 0 || blocks, CF_ERR_BAD_INPUT, "no block list");
    bs_piece *pieces = calloc(n ? n : 1, sizeof *pieces);
    CF_ENSURE_ALLOC(pieces);
    char etag[CF_BLOB_ETAG_LEN + 1] = "";
    bs_block_list bl = {account, container, name, blocks, n, NULL, NULL, now, etag};
    char *p = NULL, *m = NULL;
    bool ok = bs_json_text(props, &p) && bs_json_text(metadata, &m);
    bl.props = p;
    bl.meta = m;
    ok = ok && BS_LOCKED(s, bs_put_block_list_locked(s, &bl, pieces));
    cf_json_free_text(p);
    cf_json_free_text(m);
    free(pieces);
    if (ok && etag_out)
        memcpy(etag_out, etag, sizeof etag);
    return ok;
}

static bool bs_each_block(cf_blob_store *s, sqlite3_stmt *st, cf_block_cb cb, void *ctx,
                          bool *any)
{
    CF_GUARD(st);
    int rc = SQLITE_DONE;
    bool ok = true;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *any = true;
        if (!cb)
            continue;
        cf_block_info b = {0};
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        if (len > CF_BLOB_BLOCK_ID_MAX) {
            CF_RAISE(CF_ERR_DB, "malformed block id");
            ok = false;
            break;
        }
        if (len)
            memcpy(b.id, sqlite3_column_blob(st, 0), len);
        b.id_len = len;
        b.size = (uint64_t)sqlite3_column_int64(st, 1);
        ok = cb(ctx, &b);
    }
    if (ok && rc != SQLITE_ROW)
        ok = bs_db_ok(s, rc);
    sqlite3_finalize(st);
    return ok;
}

static bool bs_get_block_list_locked(cf_blob_store *s, const char *account, const char *container,
                                     const char *name, cf_block_cb committed,
                                     cf_block_cb uncommitted, void *ctx)
{
    CF_GUARD(bs_container_exists(s, account, container));
    bool blob = false, any = false;
    CF_GUARD(bs_exists(s,
                       BS_PREP(s,
                               "SELECT 1 FROM blobs WHERE account = ?1 AND container = ?2 AND"
                               " name = ?3",
                               account, container, name),
                       &blob));
    CF_GUARD(bs_each_block(s,
                           BS_PREP(s,
                                   "SELECT block_id, length FROM blob_extents WHERE account = ?1"
                                   " AND container = ?2 AND blob = ?3 AND block_id IS NOT NULL"
                                   " ORDER BY seq",
                                   account, container, name),
                           committed, ctx, &any));
    CF_GUARD(bs_each_block(s,
                           BS_PREP(s,
                                   "SELECT block_id, size FROM uncommitted WHERE account = ?1"
                                   " AND container = ?2 AND blob = ?3 ORDER BY seq",
                                   account, container, name),
                           uncommitted, ctx, &any));
    CF_ENSURE(blob || any, CF_ERR_NOT_FOUND, "no such blob");
    return true;
}

bool cf_blob_get_block_list(cf_blob_store *s, const char *account, const char *container,
                            const char *name, cf_block_cb committed, cf_block_cb uncommitted,
                            void *ctx)
{
    CF_GUARD(bs_check_names(account, container, name));
    return BS_LOCKED(s, bs_get_block_list_locked(s, account, container, name, committed,
                                                 uncommitted, ctx));
}

static bool bs_expire_locked(cf_blob_store *s, int64_t cutoff, unsigned *expired)
{
    bs_idlist gone = {0};
    bool ok = bs_begin(s);
    if (ok) {
        sqlite3_stmt *st = BS_PREP(s, "SELECT extent FROM uncommitted WHERE created < ?1", NULL);
        if (st)
            sqlite3_bind_int64(st, 1, cutoff);
        ok = bs_collect(s, st, &gone);
        st = ok ? BS_PREP(s, "DELETE FROM uncommitted WHERE created < ?1", NULL) : NULL;
        if (st)
            sqlite3_bind_int64(st, 1, cutoff);
        ok = ok && bs_run(s, st);
        ok = bs_commit(s, ok);
    }
    if (ok && expired)
        *expired = (unsigned)gone.n;
    if (ok)
        bs_remove_unreferenced(s, &gone);
    free(gone.ids);
    return ok;
}

bool cf_blob_expire_uncommitted(cf_blob_store *s, int64_t now, unsigned *expired)
{
    return BS_LOCKED(s, bs_expire_locked(s, now - CF_BLOB_UNCOMMITTED_TTL, expired));
}

/* ---- reading ---- */

static bool bs_fd_read_at(void *ctx, uint64_t off, uint8_t *buf, size_t len)
{
    int fd = *(int *)ctx;
    while (len) {
        ssize_t n = pread(fd, buf, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        CF_ENSURE(n > 0, CF_ERR_IO, "cannot read an extent file");
        buf += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return true;
}

static bool bs_read_plan_locked(cf_blob_store *s, const char *account, const char *container,
                                const char *name, uint64_t *size, bs_piece **pieces, size_t *n,
                                bs_scope *sc)
{
    cf_blob_info info;
    CF_GUARD(bs_blob_get_locked(s, account, container, name, &info));
    cf_blob_info_free(&info);
    *size = info.size;
    *n = 0;
    *pieces = calloc(info.n_extents ? info.n_extents : 1, sizeof **pieces);
    CF_ENSURE_ALLOC(*pieces);
    sqlite3_stmt *st = BS_PREP(s,
                               "SELECT extent, length FROM blob_extents WHERE account = ?1 AND"
                               " container = ?2 AND blob = ?3 ORDER BY seq",
                               account, container, name);
    CF_GUARD(st);
    int rc = SQLITE_DONE;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < info.n_extents) {
        bs_column_str(st, 0, (*pieces)[*n].id, BS_ID_HEX + 1);
        (*pieces)[*n].length = (uint64_t)sqlite3_column_int64(st, 1);
        (*n)++;
    }
    sqlite3_finalize(st);
    CF_GUARD(bs_db_ok(s, rc));
    return bs_scope_load_locked(s, account, sc);
}

/* Serves [off, off + len) of one extent after checking its length. */
static bool bs_read_extent(cf_blob_store *s, const bs_scope *sc, const bs_piece *p, uint64_t off,
                           uint64_t len, cf_extent_sink sink)
{
    char path[BS_PATH_MAX];
    CF_ENSURE(strlen(p->id) == BS_ID_HEX, CF_ERR_DB, "malformed extent id in metadata");
    CF_GUARD(bs_extent_path(s, p->id, "", path));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    CF_ENSURE(fd >= 0, CF_ERR_IO, "an extent of the blob is missing");
    struct stat st;
    uint8_t *key = cf_secret_alloc(CF_EXTENT_SCOPE_KEY_LEN);
    cf_extent_source src = {bs_fd_read_at, &fd, 0};
    cf_extent_header h;
    uint64_t plain = 0;
    bool ok = key != NULL;
    if (!ok)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    if (ok && fstat(fd, &st) != 0) {
        CF_RAISE(CF_ERR_IO, "cannot stat an extent file");
        ok = false;
    }
    if (ok)
        src.length = (uint64_t)st.st_size;
    /* A short header is damage, like any other length mismatch. */
    if (ok && src.length < CF_EXTENT_HEADER_LEN) {
        CF_RAISE(CF_ERR_DECRYPT, "extent truncated");
        ok = false;
    }
    ok = ok && cf_extent_read_header(&src, &h) && cf_extent_plaintext_length(&h, src.length, &plain);
    if (ok && plain != p->length) {
        CF_RAISE(CF_ERR_DECRYPT, "extent length does not match the metadata");
        ok = false;
    }
    ok = ok && bs_extent_key(sc, p->id, key) &&
         cf_extent_read(cf_slice_of(key, CF_EXTENT_SCOPE_KEY_LEN), &src, off, len, sink);
    cf_secret_free(key, CF_EXTENT_SCOPE_KEY_LEN);
    close(fd);
    return ok;
}

bool cf_blob_read(cf_blob_store *s, const char *account, const char *container, const char *name,
                  uint64_t offset, uint64_t length, cf_extent_sink sink)
{
    CF_GUARD(bs_check_names(account, container, name));
    uint64_t size = 0;
    bs_piece *pieces = NULL;
    size_t n = 0;
    bs_scope sc = {0};
    bool ok = BS_LOCKED(s, bs_read_plan_locked(s, account, container, name, &size, &pieces, &n,
                                               &sc));
    if (ok && (offset > size || length > size - offset)) {
        CF_RAISE(CF_ERR_BAD_INPUT, "range outside the blob");
        ok = false;
    }
    /* Walk the extents; serve the part of each that overlaps the range. */
    uint64_t start = 0, end = offset + length;
    for (size_t i = 0; ok && i < n && start < end; i++) {
        uint64_t stop = start + pieces[i].length;
        if (stop > offset && pieces[i].length) {
            uint64_t from = offset > start ? offset - start : 0;
            uint64_t to = (end < stop ? end : stop) - start;
            ok = bs_read_extent(s, &sc, &pieces[i], from, to - from, sink);
        }
        start = stop;
    }
    bs_scope_free(&sc);
    free(pieces);
    return ok;
}

/* ---- cleanup ---- */

static bool bs_is_hex(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

/* One file DIR/ab/cd/<name>: removes it if it is a stale temp file or an
 * extent no row references. */
static bool bs_cleanup_file(cf_blob_store *s, const char *dir, const char *fname,
                            int64_t older_than, unsigned *removed)
{
    size_t n = strlen(fname);
    bool tmp = n == BS_ID_HEX + 4 && strcmp(fname + BS_ID_HEX, ".tmp") == 0;
    if ((n != BS_ID_HEX && !tmp) || !bs_is_hex(fname, BS_ID_HEX))
        return true; /* not ours: leave it */
    char path[BS_PATH_MAX];
    CF_ENSURE(snprintf(path, sizeof path, "%s/%s", dir, fname) < (int)sizeof path, CF_ERR_IO,
              "path too long");
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || (int64_t)st.st_mtime >= older_than)
        return true;
    if (!tmp) {
        char id[BS_ID_HEX + 1];
        memcpy(id, fname, BS_ID_HEX + 1);
        bool ref = true;
        CF_GUARD(BS_LOCKED(s, bs_extent_referenced(s, id, &ref)));
        if (ref)
            return true;
        /* Checked and unlinked under one lock hold would be tighter; the
         * mtime bound is what protects writes in flight. */
    }
    if (unlink(path) == 0)
        (*removed)++;
    return true;
}

static bool bs_cleanup_dir(cf_blob_store *s, const char *dir, int depth, int64_t older_than,
                           unsigned *removed)
{
    DIR *d = opendir(dir);
    if (!d)
        return true;
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d)) != NULL) {
        if (depth < 2) {
            if (strlen(e->d_name) != 2 || !bs_is_hex(e->d_name, 2))
                continue;
            char sub[BS_PATH_MAX];
            if (snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) >= (int)sizeof sub)
                continue;
            ok = bs_cleanup_dir(s, sub, depth + 1, older_than, removed);
        } else {
            ok = bs_cleanup_file(s, dir, e->d_name, older_than, removed);
        }
    }
    closedir(d);
    return ok;
}

bool cf_blob_store_cleanup(cf_blob_store *s, int64_t older_than, unsigned *removed)
{
    unsigned count = 0;
    bool ok = bs_cleanup_dir(s, s->dir, 0, older_than, &count);
    if (removed)
        *removed = count;
    return ok;
}
