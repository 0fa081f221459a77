/*
 * Sealed metadata columns (blob_store.h, "Metadata at rest"): every column
 * that holds values a client supplied, other than names, is stored as a
 * cf_envelope (AES-256-GCM) under the account's metadata key
 *     HKDF-SHA256(ikm = account data key, salt = "", info = "coffer blob metadata v1")
 * with associated data naming the row and the column:
 *     "coffer-blob\0meta\0" account "\0" container "\0" blob "\0" column
 * (container and blob "" where the row has none; column is "table.column").
 * Names cannot contain NUL, so the AAD is unambiguous, and a sealed value
 * moved to another row or column fails to open with CF_ERR_DECRYPT: a
 * request then fails, it never sees another row's metadata.
 *
 * The metadata key is derived once per account and kept in secret memory
 * in the store (under the store mutex) until close, or, for a
 * customer-managed key, until its data key leaves the key ring: account
 * data keys never change, and every Get / List would otherwise pay an
 * account row read, an envelope open and an HKDF.
 *
 * Migration: databases before user_version 1 hold these columns as
 * plaintext JSON text (service properties as plaintext XML).  Opening such
 * a database seals every plaintext value in one transaction, sets
 * user_version, and truncates the WAL so the old pages do not linger there
 * (secure_delete, set at open, zeroes them inside blob.db).
 */
#include "blob_store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "envelope.h"
#include "json_secure.h"
#include "secmem.h"

/* Largest sealed or opened value: metadata (8 KiB of names and values,
 * JSON-escaped up to 6x), props (6 x 8 KiB), a copy record (8 KiB URL),
 * 64 KiB of service properties: all well below this. */
#define BS_SEALED_MAX CF_MIB

/* ---- the per-account metadata key ---- */

struct bs_meta_key {
    char account[CF_BLOB_ACCOUNT_MAX + 1];
    uint8_t *key; /* CF_DATA_KEY_LEN bytes of secret memory */
};

void cf_bs_meta_keys_free(cf_blob_store *s)
{
    for (size_t i = 0; i < s->n_meta_keys; i++)
        cf_secret_free(s->meta_keys[i].key, CF_DATA_KEY_LEN);
    free(s->meta_keys);
    s->meta_keys = NULL;
    s->n_meta_keys = 0;
}

void cf_bs_meta_key_drop_locked(cf_blob_store *s, const char *account)
{
    for (size_t i = 0; i < s->n_meta_keys; i++) {
        if (strcmp(s->meta_keys[i].account, account) == 0) {
            cf_secret_free(s->meta_keys[i].key, CF_DATA_KEY_LEN);
            s->meta_keys[i] = s->meta_keys[--s->n_meta_keys];
            return;
        }
    }
}

static bool bs_meta_key_locked(cf_blob_store *s, const char *account, const uint8_t **key)
{
    for (size_t i = 0; i < s->n_meta_keys; i++) {
        if (strcmp(s->meta_keys[i].account, account) == 0) {
            *key = s->meta_keys[i].key;
            return true;
        }
    }
    CF_ENSURE(strlen(account) <= CF_BLOB_ACCOUNT_MAX, CF_ERR_BAD_INPUT, "account name too long");
    bs_scope sc = {0};
    CF_GUARD(cf_bs_scope_load_locked(s, account, &sc));
    uint8_t *k = cf_secret_alloc(CF_DATA_KEY_LEN);
    struct bs_meta_key *grown =
        k ? realloc(s->meta_keys, (s->n_meta_keys + 1) * sizeof *s->meta_keys) : NULL;
    if (grown)
        s->meta_keys = grown;
    static const char info[] = "coffer blob metadata v1";
    bool ok = grown && cf_hkdf_sha256(cf_slice_of(sc.key, CF_DATA_KEY_LEN), cf_slice_of(NULL, 0),
                                      CF_SLICE_LIT(info), k, CF_DATA_KEY_LEN);
    cf_bs_scope_free(&sc);
    if (!ok) {
        cf_secret_free(k, CF_DATA_KEY_LEN);
        if (!grown)
            CF_RAISE(CF_ERR_NOMEM, NULL);
        return false;
    }
    struct bs_meta_key *e = &s->meta_keys[s->n_meta_keys++];
    snprintf(e->account, sizeof e->account, "%s", account);
    e->key = k;
    *key = k;
    return true;
}

/* ---- sealing and opening ---- */

static bool bs_meta_aad(bs_row row, const char *col, cf_buf *aad)
{
    cf_buf_init(aad, 64 + CF_BLOB_ACCOUNT_MAX + CF_BLOB_CONTAINER_MAX + CF_BLOB_NAME_MAX);
    return cf_buf_append(aad, "coffer-blob\0meta\0", 17) && cf_buf_append_str(aad, row.account) &&
           cf_buf_append_u8(aad, 0) && cf_buf_append_str(aad, row.container) &&
           cf_buf_append_u8(aad, 0) && cf_buf_append_str(aad, row.blob) &&
           cf_buf_append_u8(aad, 0) && cf_buf_append_str(aad, col);
}

static bool bs_seal(cf_blob_store *s, bs_row row, const char *col, cf_slice plain, cf_buf *out)
{
    CF_ENSURE(plain.len <= BS_SEALED_MAX, CF_ERR_TOO_LARGE, "metadata value too large");
    const uint8_t *key;
    CF_GUARD(bs_meta_key_locked(s, row.account, &key));
    cf_buf aad;
    cf_buf_init(out, BS_SEALED_MAX + CF_ENVELOPE_OVERHEAD);
    bool ok = bs_meta_aad(row, col, &aad) &&
              cf_envelope_seal(cf_slice_of(key, CF_DATA_KEY_LEN), cf_buf_slice(&aad), plain, out);
    cf_buf_free(&aad);
    if (!ok)
        cf_buf_free(out);
    return ok;
}

static bool bs_open(cf_blob_store *s, bs_row row, const char *col, cf_slice sealed, cf_buf *out)
{
    const uint8_t *key;
    CF_GUARD(bs_meta_key_locked(s, row.account, &key));
    cf_buf aad;
    bool ok =
        bs_meta_aad(row, col, &aad) &&
        cf_envelope_open(cf_slice_of(key, CF_DATA_KEY_LEN), cf_buf_slice(&aad), sealed, out) &&
        cf_buf_terminate(out);
    cf_buf_free(&aad);
    return ok;
}

bool cf_bs_bind_sealed(cf_blob_store *s, cf_db_stmt *st, int param, bs_row row, const char *col,
                       cf_slice plain)
{
    CF_GUARD(st);
    cf_buf sealed;
    CF_GUARD(bs_seal(s, row, col, plain, &sealed));
    /* Copied: the statement outlives this buffer. */
    bool ok = cf_db_bind_blob_copy(st, param, sealed.data, sealed.len);
    cf_buf_free(&sealed);
    return ok;
}

bool cf_bs_column_open(cf_blob_store *s, cf_db_stmt *st, int c, bs_row row, const char *col,
                       cf_buf *out)
{
    cf_buf_init_secret(out, BS_SEALED_MAX + 1);
    /* The key first: loading it runs other statements, and the column's
     * bytes are read after that. */
    const uint8_t *key;
    CF_GUARD(bs_meta_key_locked(s, row.account, &key));
    /* Anything but a blob (plaintext text written behind our back, NULL
     * where a value must be) is not a value this store sealed. */
    CF_ENSURE(cf_db_column_is_blob(st, c), CF_ERR_DECRYPT, "a metadata column is not sealed");
    const void *p = cf_db_column_blob(st, c);
    size_t n = (size_t)cf_db_column_bytes(st, c);
    if (!bs_open(s, row, col, cf_slice_of(p, n), out)) {
        cf_buf_free(out);
        return false;
    }
    return true;
}

bool cf_bs_column_open_json(cf_blob_store *s, cf_db_stmt *st, int c, bs_row row, const char *col,
                            json_t **out)
{
    *out = NULL;
    cf_buf plain;
    CF_GUARD(cf_bs_column_open(s, st, c, row, col, &plain));
    *out = json_loadb((const char *)plain.data, plain.len, 0, NULL);
    cf_buf_free(&plain);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        CF_BAIL(CF_ERR_DB, "stored JSON is malformed");
    }
    return true;
}

/* ---- migration from plaintext columns ---- */

/* One sealed column: how to find its plaintext rows (rowid, account,
 * container, blob, value) and how to write one back. */
typedef struct {
    const char *col;
    const char *list, *get, *set;
    bool try_open; /* no type tells plaintext apart: a value that opens is sealed */
} bs_sealed_column;

static const bs_sealed_column bs_sealed_columns[] = {
    {"blobs.props", "SELECT rowid FROM blobs WHERE typeof(props) = 'text'",
     "SELECT account, container, name, props FROM blobs WHERE rowid = ?1",
     "UPDATE blobs SET props = ?2 WHERE rowid = ?1", false},
    {"blobs.metadata", "SELECT rowid FROM blobs WHERE typeof(metadata) = 'text'",
     "SELECT account, container, name, metadata FROM blobs WHERE rowid = ?1",
     "UPDATE blobs SET metadata = ?2 WHERE rowid = ?1", false},
    {"blobs.copy", "SELECT rowid FROM blobs WHERE typeof(copy) = 'text'",
     "SELECT account, container, name, copy FROM blobs WHERE rowid = ?1",
     "UPDATE blobs SET copy = ?2 WHERE rowid = ?1", false},
    {"containers.metadata", "SELECT rowid FROM containers WHERE typeof(metadata) = 'text'",
     "SELECT account, name, '', metadata FROM containers WHERE rowid = ?1",
     "UPDATE containers SET metadata = ?2 WHERE rowid = ?1", false},
    {"containers.acl", "SELECT rowid FROM containers WHERE typeof(acl) = 'text'",
     "SELECT account, name, '', acl FROM containers WHERE rowid = ?1",
     "UPDATE containers SET acl = ?2 WHERE rowid = ?1", false},
    /* The XML was always bound as a blob. */
    {"service_props.xml", "SELECT rowid FROM service_props",
     "SELECT account, '', '', xml FROM service_props WHERE rowid = ?1",
     "UPDATE service_props SET xml = ?2 WHERE rowid = ?1", true},
};

/* Seals the value of one row if it is plaintext; *done counts it. */
static bool bs_migrate_row(cf_blob_store *s, const bs_sealed_column *c, cf_db_stmt *get,
                           cf_db_stmt *set, int64_t rowid, unsigned *done)
{
    cf_db_done(get);
    cf_db_bind_int64(get, 1, rowid);
    int rc = cf_db_step(get);
    CF_GUARD(cf_db_ok(s->db, rc));
    if (rc != CF_DB_ROW)
        return true;
    /* Copies: sealing may load the key, which runs other statements. */
    char account[CF_BLOB_ACCOUNT_MAX + 1], container[CF_BLOB_CONTAINER_MAX + 1],
        blob[CF_BLOB_NAME_MAX + 1];
    cf_bs_column_str(get, 0, account, sizeof account);
    cf_bs_column_str(get, 1, container, sizeof container);
    cf_bs_column_str(get, 2, blob, sizeof blob);
    bs_row row = {account, container, blob};
    if (c->try_open) {
        cf_buf probe;
        if (cf_bs_column_open(s, get, 3, row, c->col, &probe)) {
            cf_buf_free(&probe);
            return true; /* sealed already */
        }
        cf_error_clear();
    }
    cf_buf plain;
    cf_buf_init_secret(&plain, BS_SEALED_MAX);
    bool ok = cf_buf_append(&plain, cf_db_column_blob(get, 3), (size_t)cf_db_column_bytes(get, 3));
    cf_db_done(get);
    cf_db_done(set);
    cf_db_bind_int64(set, 1, rowid);
    ok = ok && cf_bs_bind_sealed(s, set, 2, row, c->col, cf_buf_slice(&plain)) &&
         cf_db_ok(s->db, cf_db_step(set));
    cf_buf_free(&plain);
    cf_db_done(set);
    if (ok)
        (*done)++;
    return ok;
}

static bool bs_migrate_column(cf_blob_store *s, const bs_sealed_column *c, unsigned *done)
{
    /* Row ids first: no table is updated while a scan of it is open. */
    cf_db_stmt *list = NULL, *get = NULL, *set = NULL;
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    bool ok = cf_db_prepare_uncached(s->db, c->list, &list);
    int rc = CF_DB_DONE;
    while (ok && (rc = cf_db_step(list)) == CF_DB_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            int64_t *grown = realloc(ids, cap * sizeof *ids);
            if (!grown) {
                CF_RAISE(CF_ERR_NOMEM, NULL);
                ok = false;
                break;
            }
            ids = grown;
        }
        ids[n++] = cf_db_column_int64(list, 0);
    }
    ok = ok && cf_db_ok(s->db, rc);
    cf_db_finalize(list);
    ok = ok && cf_db_prepare_uncached(s->db, c->get, &get) &&
         cf_db_prepare_uncached(s->db, c->set, &set);
    for (size_t i = 0; ok && i < n; i++)
        ok = bs_migrate_row(s, c, get, set, ids[i], done);
    cf_db_finalize(get);
    cf_db_finalize(set);
    free(ids);
    return ok;
}

typedef struct {
    cf_blob_store *s;
    unsigned sealed;
} bs_migration;

/* Step 1: the metadata columns sealed under the accounts' data keys.
 * SQLite only (rowid, typeof): PostgreSQL stores began sealed. */
static bool bs_seal_columns(void *ctx)
{
    bs_migration *m = ctx;
    CF_ENSURE(cf_db_backend_of(m->s->db) == CF_DB_SQLITE, CF_ERR_INTERNAL,
              "a PostgreSQL store starts at the current schema");
    for (size_t i = 0; i < sizeof bs_sealed_columns / sizeof bs_sealed_columns[0]; i++)
        CF_GUARD(bs_migrate_column(m->s, &bs_sealed_columns[i], &m->sealed));
    return true;
}

static const cf_db_step_def bs_migrations[BS_SCHEMA_VERSION] = {
    {.apply = bs_seal_columns},
};

bool cf_bs_meta_migrate(cf_blob_store *s, const char *then_sql, unsigned *sealed)
{
    bs_migration m = {s, 0};
    /* A PostgreSQL store without the accounts table is new: it starts at
     * the current version (then_sql makes its tables).  On SQLite the
     * tables exist already, so a new database runs step 1 over nothing. */
    const cf_db_schema schema = {
        .steps = bs_migrations,
        .n = BS_SCHEMA_VERSION,
        .then_sql = then_sql,
        .marker_table = cf_db_sql(s->db, NULL, "accounts"),
        .ctx = &m,
    };
    CF_GUARD(cf_db_migrate(s->db, &schema, NULL));
    *sealed = m.sealed;
    /* The plaintext pages may still sit in the WAL: copy the new ones into
     * blob.db (which secure_delete keeps clean) and empty the WAL. */
    if (*sealed)
        CF_GUARD(cf_db_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)"));
    return true;
}
