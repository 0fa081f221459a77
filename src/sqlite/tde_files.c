/*
 * Whole database files through the coffer VFS (tde_files.h).
 */
#include "tde_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "coffer_tde.h"
#include "encoding.h"
#include "fsutil.h"
#include "tde_page.h"

/* Longest path a conversion works on. */
#define CF_TDE_PATH_MAX 1024
#define CF_TDE_URI_MAX (12 * CF_TDE_PATH_MAX)

bool cf_tde_raise(sqlite3 *db, const char *what)
{
    const char *tde = coffer_tde_last_error();
    cf_error_raisef(CF_ERR_IO, __FILE__, __LINE__, "%s: %s%s%s", what,
                    db ? sqlite3_errmsg(db) : "out of memory", *tde ? " -- " : "", tde);
    return false;
}

bool cf_tde_exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return cf_tde_raise(db, sql);
    return true;
}

bool cf_tde_uri(const char *path, const cf_tde_keys *keys, cf_buf *uri)
{
    CF_ENSURE(strlen(path) <= CF_TDE_PATH_MAX, CF_ERR_TOO_LARGE, "path too long");
    /* An absolute path gets an empty authority, so "//x" stays a path. */
    CF_GUARD(cf_buf_append_str(uri, path[0] == '/' ? "file://" : "file:"));
    CF_GUARD(cf_percent_encode(uri, path, true));
    CF_GUARD(cf_buf_append_str(uri, "?vfs=" COFFER_TDE_VFS "&protector="));
    CF_GUARD(cf_percent_encode(uri, keys->protector, false));
    if (keys->vault_identity) {
        CF_GUARD(cf_buf_append_str(uri, "&vault_identity="));
        CF_GUARD(cf_percent_encode(uri, keys->vault_identity, false));
    }
    return cf_buf_terminate(uri);
}

/* The plain URI of `path`: through the default VFS, whatever the
 * connection that names it uses. */
static bool cf_plain_uri(const char *path, cf_buf *uri)
{
    return cf_buf_append_str(uri, path[0] == '/' ? "file://" : "file:") &&
           cf_percent_encode(uri, path, true) && cf_buf_append_str(uri, "?vfs=") &&
           cf_buf_append_str(uri, sqlite3_vfs_find(NULL)->zName) && cf_buf_terminate(uri);
}

bool cf_tde_open(const char *path, const cf_tde_keys *keys, int flags, sqlite3 **out)
{
    CF_ENSURE(coffer_tde_register() == SQLITE_OK, CF_ERR_INTERNAL,
              "cannot register the coffer VFS");
    cf_buf uri;
    cf_buf_init(&uri, CF_TDE_URI_MAX);
    bool ok = keys && keys->protector ? cf_tde_uri(path, keys, &uri) : cf_plain_uri(path, &uri);
    sqlite3 *db = NULL;
    int rc = ok ? sqlite3_open_v2((const char *)uri.data, &db, flags | SQLITE_OPEN_URI, NULL)
                : SQLITE_OK;
    cf_buf_free(&uri);
    CF_GUARD(ok);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, 5000);
    if (rc != SQLITE_OK) {
        cf_tde_raise(db, "cannot open the database");
        sqlite3_close(db);
        return false;
    }
    *out = db;
    return true;
}

/* VACUUM INTO `target` (a URI), from `db`. */
static bool cf_vacuum_into(sqlite3 *db, const char *target)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(db, "VACUUM INTO ?", -1, &st, NULL) == SQLITE_OK &&
              sqlite3_bind_text(st, 1, target, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
              sqlite3_step(st) == SQLITE_DONE;
    if (!ok)
        cf_tde_raise(db, "cannot copy the database");
    sqlite3_finalize(st);
    return ok;
}

static bool cf_integrity_check(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
              sqlite3_step(st) == SQLITE_ROW;
    const char *verdict = ok ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (!ok)
        cf_tde_raise(db, "cannot check the database");
    else if (!verdict || strcmp(verdict, "ok") != 0)
        cf_error_raisef(CF_ERR_IO, __FILE__, __LINE__, "integrity check: %s",
                        verdict ? verdict : "(no answer)");
    ok = ok && verdict && strcmp(verdict, "ok") == 0;
    sqlite3_finalize(st);
    return ok;
}

/* Where a conversion into `out` writes before it renames. */
static bool cf_staging(const char *out, char *staging, size_t len)
{
    int n = snprintf(staging, len, "%s.coffer-%ld.tmp", out, (long)getpid());
    CF_ENSURE(n > 0 && (size_t)n < len, CF_ERR_TOO_LARGE, "path too long");
    unlink(staging);
    return true;
}

/* Checks the staged copy (through the VFS when keyed), then renames it over
 * `out`; the staging file is removed on failure. */
static bool cf_install(const char *staging, const cf_tde_keys *keys, const char *out)
{
    sqlite3 *db = NULL;
    bool ok = cf_tde_open(staging, keys, SQLITE_OPEN_READONLY, &db) && cf_integrity_check(db);
    sqlite3_close(db);
    ok = ok && cf_fsync_file(staging);
    if (ok && rename(staging, out) != 0)
        ok = cf_io_fail("rename the converted database into place", errno);
    if (!ok) {
        unlink(staging);
        return false;
    }
    return cf_fsync_dir_of(out);
}

/* Copies `path` (opened with `from`) into `out` (written with `to`). */
static bool cf_convert(const char *path, const cf_tde_keys *from, const char *out,
                       const cf_tde_keys *to)
{
    char staging[CF_TDE_PATH_MAX + 64];
    CF_ENSURE(strlen(path) <= CF_TDE_PATH_MAX, CF_ERR_TOO_LARGE, "path too long");
    CF_GUARD(cf_staging(out, staging, sizeof staging));
    cf_buf target;
    cf_buf_init(&target, CF_TDE_URI_MAX);
    sqlite3 *db = NULL;
    bool ok = (to->protector ? cf_tde_uri(staging, to, &target) : cf_plain_uri(staging, &target)) &&
              cf_tde_open(path, from, SQLITE_OPEN_READWRITE, &db);
    /* An encrypted copy keeps 48 bytes of every page for the seal. */
    int reserve = CF_TDE_RESERVED;
    ok = ok && cf_tde_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    if (ok && to->protector &&
        sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve) != SQLITE_OK)
        ok = cf_tde_raise(db, "cannot reserve bytes for the seal");
    ok = ok && cf_vacuum_into(db, (const char *)target.data);
    sqlite3_close(db);
    cf_buf_free(&target);
    ok = ok && cf_install(staging, to, out);
    if (!ok)
        unlink(staging);
    return ok;
}

bool cf_tde_encrypt_file(const char *path, const cf_tde_keys *keys, const char *out)
{
    return cf_convert(path, &(cf_tde_keys){0}, out, keys);
}

bool cf_tde_decrypt_file(const char *path, const cf_tde_keys *keys, const char *out)
{
    return cf_convert(path, keys, out, &(cf_tde_keys){0});
}

bool cf_tde_file_is_plain(const char *path, bool *plain)
{
    static const char magic[16] = "SQLite format 3";
    char head[16];
    *plain = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || cf_io_fail("open the database", errno);
    ssize_t n = pread(fd, head, sizeof head, 0);
    int err = errno;
    close(fd);
    if (n < 0)
        return cf_io_fail("read the database", err);
    *plain = n == (ssize_t)sizeof head && memcmp(head, magic, sizeof head) == 0;
    return true;
}
