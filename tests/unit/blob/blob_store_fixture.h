/*
 * Shared by the blob store unit tests (test_blob_store*.c; header-only, so
 * each test is still one file to build): the store under test, on SQLite
 * (DATA/blob.db) or, when COFFER_TEST_PG names a server
 * (tests/system/blob_store_postgres.sh starts one), on PostgreSQL; its
 * extents in files (DATA/extents) or, when COFFER_TEST_EXTENTS names a
 * RADOS pool and namespace of its own (tests/system/blob_store_rados.sh),
 * there; a second connection to its database (through the coffer VFS,
 * under the key the store last opened with) for counting and poking
 * rows; and how many extents it holds, in the extent store and as rows
 * stored inline.
 */
#ifndef CF_BLOB_STORE_FIXTURE_H
#define CF_BLOB_STORE_FIXTURE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob_store.h"
#include "crypto.h"
#include "db.h"
#include "extent_store.h"
#include "fsutil.h"
#include "json_secure.h"
#include "tde_files.h"
#include "tde_store.h"

static char data_dir[256];
static const char *pg_conninfo; /* COFFER_TEST_PG, or NULL: SQLite only */
static bool on_pg;              /* the backend the current run uses */
/* The current run's extent store spec: NULL for files in DATA/extents, or
 * COFFER_TEST_EXTENTS ("rados:POOL/NAMESPACE", the namespace the tests'
 * alone: emptied between tests). */
static const char *extents_spec;

static inline cf_db_backend test_backend(void)
{
    return on_pg ? CF_DB_POSTGRES : CF_DB_SQLITE;
}

/* The service key the store last opened with: on SQLite blob.db is
 * encrypted under a key derived from it (tde_store.h). */
static uint8_t opened_key[32];

static inline bool test_store_open(const uint8_t key[32], cf_blob_store **s)
{
    if (cf_blob_store_open(test_backend(), pg_conninfo, data_dir, extents_spec,
                           cf_slice_of(key, 32), s)) {
        memcpy(opened_key, key, 32);
        return true;
    }
    fprintf(stderr, "   cannot open the store: %s\n", cf_error_detail());
    return false;
}

/* A second connection to the store's database (the store open or not). */
static inline cf_db *test_db_open(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/blob.db", data_dir);
    cf_tde_store tde;
    if (!on_pg && !cf_tde_store_prepare(p, cf_slice_of(opened_key, 32), false, &tde)) {
        cf_tde_store_release(&tde);
        return NULL;
    }
    const cf_db_config config = {
        .backend = test_backend(),
        .path = p,
        .sqlite_uri = on_pg ? NULL : (const char *)tde.uri.data,
        .conninfo = pg_conninfo,
        .what = "the test's connection",
        .busy_timeout_ms = 5000,
        .stmt_cache = 4,
        .write_lock = 1,
    };
    cf_db *db = NULL;
    bool ok = cf_db_open(&config, &db);
    if (!on_pg) /* the open connection keeps its own copy of the key */
        cf_tde_store_release(&tde);
    return ok ? db : NULL;
}

/* SQLite: blob.db turned back into a plain file, as a version before
 * transparent encryption left it (the store closed). */
static inline bool test_db_decrypt(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/blob.db", data_dir);
    cf_tde_store tde;
    bool ok = cf_tde_store_prepare(p, cf_slice_of(opened_key, 32), false, &tde) &&
              cf_tde_decrypt_file(p, &(cf_tde_keys){.protector = tde.protector}, p);
    cf_tde_store_release(&tde);
    return ok;
}

/* Runs one statement through a second connection, binding `blob` to ?1
 * when given.  Returns the first column of the first row as a malloc'ed
 * copy in *out when out is non-NULL. */
static inline bool db_exec(const char *sql, const void *blob, int blob_len, uint8_t **out,
                           int *out_len)
{
    cf_db *db = test_db_open();
    cf_db_stmt *st = NULL;
    bool ok = db && cf_db_prepare_uncached(db, sql, &st);
    if (ok && blob)
        ok = cf_db_bind_blob_copy(st, 1, blob, (size_t)blob_len);
    int rc = ok ? cf_db_step(st) : CF_DB_ERROR;
    ok = ok && (rc == CF_DB_ROW || rc == CF_DB_DONE);
    if (ok && out) {
        ok = rc == CF_DB_ROW;
        *out_len = ok ? (int)cf_db_column_bytes(st, 0) : 0;
        *out = malloc(*out_len ? (size_t)*out_len : 1);
        if (ok && *out_len)
            memcpy(*out, cf_db_column_blob(st, 0), (size_t)*out_len);
    }
    if (!ok)
        fprintf(stderr, "   db_exec: %s\n", cf_error_detail());
    cf_db_finalize(st);
    cf_db_close(db);
    return ok;
}

/* The first column of a query's first row, as a number (-1: it failed). */
static inline int64_t db_count(const char *sql)
{
    cf_db *db = test_db_open();
    cf_db_stmt *st = NULL;
    int64_t n = -1;
    if (db && cf_db_prepare_uncached(db, sql, &st) && cf_db_step(st) == CF_DB_ROW)
        n = cf_db_column_int64(st, 0);
    cf_db_finalize(st);
    cf_db_close(db);
    return n;
}

/* RADOS walks: the store opened for the walk, and the caller's context. */
typedef struct {
    cf_extent_store *es;
    void *ctx;
} rados_walk;

static bool count_extent(void *ctx, const char *id)
{
    (void)id;
    (*(unsigned *)((rados_walk *)ctx)->ctx)++;
    return true;
}

static bool remove_extent(void *ctx, const char *id)
{
    return cf_extent_store_remove(((rados_walk *)ctx)->es, id);
}

/* RADOS: walks the namespace with a connection of its own, calling fn with
 * a rados_walk for every finished extent (and removing partial writes,
 * none of which a test leaves in flight while it looks). */
static bool rados_each(cf_extent_store_each_fn fn, void *ctx)
{
    rados_walk w = {NULL, ctx};
    bool ok = cf_extent_store_open(extents_spec, NULL, &w.es) &&
              cf_extent_store_each(w.es, INT64_MAX, fn, &w, NULL);
    if (!ok)
        fprintf(stderr, "   the RADOS walk failed: %s\n", cf_error_detail());
    cf_extent_store_close(w.es);
    return ok;
}

/* Leaves a finished extent `id` holding `bytes` in the store's extent store
 * with no metadata, as a crash between its write and its commit does. */
static inline bool plant_extent(const char *id, cf_slice bytes)
{
    char files[600];
    snprintf(files, sizeof files, "files:%s/extents", data_dir);
    cf_extent_store *es = NULL;
    cf_extent_store_writer *w = NULL;
    bool ok = cf_extent_store_open(extents_spec ? extents_spec : files, NULL, &es) &&
              cf_extent_store_create(es, id, &w) && cf_extent_store_write(w, bytes) &&
              cf_extent_store_finish(w, NULL);
    cf_extent_store_writer_free(w);
    cf_extent_store_close(es);
    return ok;
}

/* Empties the store for the next test: the data directory, the RADOS
 * namespace, and on PostgreSQL the database. */
static inline void reset_store(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "rm failed\n");
    if (extents_spec && !rados_each(remove_extent, NULL))
        fprintf(stderr, "cannot empty the RADOS namespace\n");
    if (!on_pg)
        return;
    cf_db *db = test_db_open();
    if (!db || !cf_db_exec(db, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        fprintf(stderr, "cannot empty the PostgreSQL database: %s\n", cf_error_detail());
    cf_db_close(db);
}

/* With the extents in RADOS, when COFFER_TEST_EXTENTS names a namespace:
 * `run` on SQLite, then, when COFFER_TEST_PG names a server, `run` and
 * `pg_only` (may be NULL: the several-front-end cases) on PostgreSQL. */
static inline void run_with_rados(void (*run)(void), void (*pg_only)(void))
{
    const char *rados = getenv("COFFER_TEST_EXTENTS");
    if (!rados || !*rados)
        return;
    fprintf(stderr, "-- again with the extents in RADOS\n");
    extents_spec = rados;
    on_pg = false;
    run();
    pg_conninfo = getenv("COFFER_TEST_PG");
    if (pg_conninfo && *pg_conninfo) {
        fprintf(stderr, "-- and on PostgreSQL\n");
        on_pg = true;
        run();
        if (pg_only)
            pg_only();
    }
    reset_store();
}

/* Whether the last failure carried Azure reason `want` (says what it was
 * when not); CHECK_FAILS(expr, reason): expr fails with exactly `reason`. */
static inline bool reason_is(const char *want)
{
    const char *r = cf_error_reason();
    if (r && strcmp(r, want) == 0)
        return true;
    fprintf(stderr, "   reason %s, wanted %s (%s)\n", r ? r : "(none)", want, cf_error_detail());
    return false;
}
#define CHECK_FAILS(expr, reason) CHECK(!(expr) && reason_is(reason))

/* A test's main when every case is the store's own behaviour: a random
 * service key into `key`, then `run` on SQLite, on PostgreSQL when
 * COFFER_TEST_PG names a server, and with the extents in RADOS when
 * COFFER_TEST_EXTENTS names a namespace; the data directory
 * (/tmp/coffer-test-NAME-PID) is removed at the end. */
static inline void run_on_every_backend(const char *name, uint8_t key[32], void (*run)(void))
{
    /* The servers' allocator: text freed with the wrong free crashes here. */
    cf_json_use_wiping_alloc();
    if (!cf_crypto_init() || !cf_random_bytes(key, 32)) {
        fprintf(stderr, "cannot set up the crypto library\n");
        exit(1);
    }
    snprintf(data_dir, sizeof data_dir, "/tmp/coffer-test-%s-%d", name, (int)getpid());
    run();
    pg_conninfo = getenv("COFFER_TEST_PG");
    if (pg_conninfo && *pg_conninfo) {
        fprintf(stderr, "-- again on PostgreSQL\n");
        on_pg = true;
        run();
        reset_store();
    }
    run_with_rados(run, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "rm failed\n");
}

/* What the sweep does once the grace is over, now: removals a delete left
 * to it (PostgreSQL) happen before the test counts.  Nothing on SQLite. */
static inline void settle(cf_blob_store *s)
{
    if (!cf_blob_store_sweep(s, 0, NULL))
        fprintf(stderr, "sweep failed: %s\n", cf_error_detail());
}

/* Calls fn(path, ctx) for every regular file under `dir`. */
static void each_file(const char *dir, void (*fn)(const char *, void *), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            each_file(p, fn, ctx);
        else
            fn(p, ctx);
    }
    closedir(d);
}

static void count_one(const char *path, void *ctx)
{
    (void)path;
    (*(unsigned *)ctx)++;
}

/* The stored bytes of every extent, to fn(name, bytes, ctx): each file
 * under DATA/extents (its path), or each finished extent in RADOS (its
 * id). */
typedef void (*stored_fn)(const char *name, cf_slice bytes, void *ctx);
typedef struct {
    stored_fn fn;
    void *ctx;
} stored_walk;

static void stored_file(const char *path, void *ctx)
{
    stored_walk *sw = ctx;
    cf_buf b;
    cf_buf_init(&b, 1 << 26);
    if (cf_read_file(path, 1 << 26, &b))
        sw->fn(path, cf_buf_slice(&b), sw->ctx);
    cf_buf_free(&b);
}

static bool stored_extent(void *ctx, const char *id)
{
    rados_walk *w = ctx;
    stored_walk *sw = w->ctx;
    cf_extent_store_reader *r = NULL;
    cf_buf b;
    cf_buf_init(&b, 1 << 26);
    uint8_t *p = NULL;
    bool ok = cf_extent_store_reader_open(w->es, id, &r);
    size_t len = ok ? (size_t)cf_extent_store_reader_length(r) : 0;
    ok = ok && cf_buf_extend(&b, len, &p) && cf_extent_store_read_at(r, 0, p, len);
    if (ok)
        sw->fn(id, cf_buf_slice(&b), sw->ctx);
    cf_extent_store_reader_close(r);
    cf_buf_free(&b);
    return ok;
}

static inline void each_stored(stored_fn fn, void *ctx)
{
    stored_walk sw = {fn, ctx};
    char p[512];
    if (extents_spec) {
        (void)rados_each(stored_extent, &sw);
        return;
    }
    snprintf(p, sizeof p, "%s/extents", data_dir);
    each_file(p, stored_file, &sw);
}

/* Extents in the extent store: files (temp files too), or finished
 * extents in RADOS. */
static unsigned extent_files(void)
{
    char p[512];
    unsigned n = 0;
    if (extents_spec)
        return rados_each(count_extent, &n) ? n : 0;
    snprintf(p, sizeof p, "%s/extents", data_dir);
    each_file(p, count_one, &n);
    return n;
}

/* Rows of inline_extents, counted through a second connection. */
static unsigned inline_rows(void)
{
    int64_t n = db_count("SELECT count(*) FROM inline_extents");
    return n < 0 ? 0 : (unsigned)n;
}

/* Stored extents: in the extent store, and small ones inline in the
 * database. */
static unsigned extents(void)
{
    return extent_files() + inline_rows();
}

#endif
