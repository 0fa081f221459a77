/*
 * `coffer db ...`: SQLite databases under transparent encryption
 * (docs/database-encryption.md), through the coffer VFS (coffer_tde.h).
 * Local commands; a protector is local:KEYFILE or a coffer-vault key URI,
 * used with the identity in --vault-identity FILE (or the environment's
 * COFFER_VAULT_IDENTITY), a file shaped like the vault's bootstrap.json.
 *
 *   encrypt FILE --protector P [--out F]   a plain database converted (in
 *                                          place unless --out), by VACUUM
 *                                          INTO through the VFS
 *   decrypt FILE --protector P --out F     the plain copy
 *   status FILE [--protector P]            the header (no key needed); with
 *                                          the protector, the keys checked
 *   rotate-protector FILE --protector P --to Q
 *                                          the database keys re-wrapped; no
 *                                          page is touched
 *   rekey FILE --protector P               a new database key, every page
 *                                          rewritten (VACUUM); a crash is
 *                                          finished by running it again
 *
 * Conversions are meant for a database no other process has open: the new
 * file is written beside the target, checked, synced and renamed over it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "coffer_tde.h"
#include "fsutil.h"
#include "tde_header.h"

#define CF_DB_PATH_MAX 1024

static bool cf_dbc_fail(sqlite3 *db, const char *what)
{
    const char *tde = coffer_tde_last_error();
    cf_error_raisef(CF_ERR_IO, __FILE__, __LINE__, "%s: %s%s%s", what,
                    db ? sqlite3_errmsg(db) : "out of memory", *tde ? " -- " : "", tde);
    return false;
}

/* `text` percent-encoded for a URI's path or query value. */
static bool cf_uri_escape(const char *text, char *out, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~/:", *p);
        if (n + 4 > len)
            CF_BAIL(CF_ERR_TOO_LARGE, "path too long");
        if (plain) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    return true;
}

/* Where a command finds its protector: --protector, and for a vault key
 * the identity (--vault-identity, else COFFER_VAULT_IDENTITY). */
typedef struct {
    const char *spec, *identity;
} cf_dbc_keys;

static cf_dbc_keys cf_dbc_keys_of(const cf_cli *cli)
{
    return (cf_dbc_keys){cf_cli_opt(cli, "protector"), cf_cli_opt(cli, "vault-identity")};
}

/* The URI that opens `path` through the VFS with the protector. */
static bool cf_dbc_uri(const char *path, const cf_dbc_keys *keys, char *uri, size_t len)
{
    char p[3 * CF_DB_PATH_MAX], s[3 * CF_DB_PATH_MAX], id[3 * CF_DB_PATH_MAX] = "";
    CF_GUARD(cf_uri_escape(path, p, sizeof p));
    CF_GUARD(cf_uri_escape(keys->spec, s, sizeof s));
    if (keys->identity)
        CF_GUARD(cf_uri_escape(keys->identity, id, sizeof id));
    int n = snprintf(uri, len, "file:%s?vfs=" COFFER_TDE_VFS "&protector=%s%s%s", p, s,
                     *id ? "&vault_identity=" : "", id);
    CF_ENSURE(n > 0 && (size_t)n < len, CF_ERR_TOO_LARGE, "path too long");
    return true;
}

/* Opens `path`: through the VFS with `keys`, or plain when keys is NULL. */
static bool cf_dbc_open(const char *path, const cf_dbc_keys *keys, int flags, sqlite3 **out)
{
    CF_ENSURE(coffer_tde_register() == SQLITE_OK, CF_ERR_INTERNAL,
              "cannot register the coffer VFS");
    char uri[10 * CF_DB_PATH_MAX];
    if (keys)
        CF_GUARD(cf_dbc_uri(path, keys, uri, sizeof uri));
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(keys ? uri : path, &db, flags | SQLITE_OPEN_URI, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, 5000);
    if (rc != SQLITE_OK) {
        cf_dbc_fail(db, "cannot open the database");
        sqlite3_close(db);
        return false;
    }
    *out = db;
    return true;
}

static bool cf_dbc_exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return cf_dbc_fail(db, sql);
    return true;
}

/* VACUUM INTO `target` (a URI or a path), from `db`. */
static bool cf_dbc_vacuum_into(sqlite3 *db, const char *target)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(db, "VACUUM INTO ?", -1, &st, NULL) == SQLITE_OK &&
              sqlite3_bind_text(st, 1, target, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
              sqlite3_step(st) == SQLITE_DONE;
    if (!ok)
        cf_dbc_fail(db, "cannot copy the database");
    sqlite3_finalize(st);
    return ok;
}

static bool cf_dbc_check(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
              sqlite3_step(st) == SQLITE_ROW;
    const char *verdict = ok ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (!ok)
        cf_dbc_fail(db, "cannot check the database");
    else if (!verdict || strcmp(verdict, "ok") != 0)
        cf_error_raisef(CF_ERR_IO, __FILE__, __LINE__, "integrity check: %s",
                        verdict ? verdict : "(no answer)");
    ok = ok && verdict && strcmp(verdict, "ok") == 0;
    sqlite3_finalize(st);
    return ok;
}

/* Where a conversion of `path` writes before it renames. */
static bool cf_dbc_staging(const char *out, char *staging, size_t len)
{
    int n = snprintf(staging, len, "%s.coffer-%ld.tmp", out, (long)getpid());
    CF_ENSURE(n > 0 && (size_t)n < len, CF_ERR_TOO_LARGE, "path too long");
    unlink(staging);
    return true;
}

static bool cf_dbc_fsync(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool ok = fd >= 0 && fsync(fd) == 0;
    int err = errno;
    if (fd >= 0)
        close(fd);
    return ok || cf_io_fail("sync the converted database", err);
}

/* Checks the staged copy (through the VFS when `keys`), then renames it
 * over `out`; the staging file is removed on failure. */
static bool cf_dbc_install(const char *staging, const cf_dbc_keys *keys, const char *out)
{
    sqlite3 *db = NULL;
    bool ok = cf_dbc_open(staging, keys, SQLITE_OPEN_READONLY, &db) && cf_dbc_check(db);
    sqlite3_close(db);
    ok = ok && cf_dbc_fsync(staging);
    if (ok && rename(staging, out) != 0)
        ok = cf_io_fail("rename the converted database into place", errno);
    if (!ok) {
        unlink(staging);
        return false;
    }
    return cf_fsync_dir_of(out);
}

bool cf_cmd_db_encrypt(cf_cli *cli)
{
    const char *path = cli->args->pos[0];
    cf_dbc_keys keys = cf_dbc_keys_of(cli);
    const char *out = cf_cli_opt(cli, "out") ? cf_cli_opt(cli, "out") : path;
    if (!keys.spec)
        return cf_cli_usage("--protector local:KEYFILE or a vault key URI is required");
    char staging[CF_DB_PATH_MAX + 64], uri[10 * CF_DB_PATH_MAX];
    CF_GUARD(cf_dbc_staging(out, staging, sizeof staging));
    CF_GUARD(cf_dbc_uri(staging, &keys, uri, sizeof uri));
    sqlite3 *db = NULL;
    CF_GUARD(cf_dbc_open(path, NULL, SQLITE_OPEN_READWRITE, &db));
    /* The copy keeps 48 bytes of every page for the seal. */
    int reserve = CF_TDE_RESERVED;
    bool ok = cf_dbc_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)") &&
              sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve) == SQLITE_OK &&
              cf_dbc_vacuum_into(db, uri);
    sqlite3_close(db);
    ok = ok && cf_dbc_install(staging, &keys, out);
    if (!ok)
        unlink(staging);
    if (ok)
        printf("encrypted %s\n", out);
    return ok;
}

bool cf_cmd_db_decrypt(cf_cli *cli)
{
    const char *path = cli->args->pos[0];
    cf_dbc_keys keys = cf_dbc_keys_of(cli);
    const char *out = cf_cli_opt(cli, "out");
    if (!keys.spec || !out)
        return cf_cli_usage("--protector P and --out FILE are required");
    char staging[CF_DB_PATH_MAX + 64], target[3 * CF_DB_PATH_MAX + 64], esc[3 * CF_DB_PATH_MAX];
    CF_GUARD(cf_dbc_staging(out, staging, sizeof staging));
    CF_GUARD(cf_uri_escape(staging, esc, sizeof esc));
    /* The plain copy goes through the default VFS, not the connection's. */
    snprintf(target, sizeof target, "file:%s?vfs=%s", esc, sqlite3_vfs_find(NULL)->zName);
    sqlite3 *db = NULL;
    CF_GUARD(cf_dbc_open(path, &keys, SQLITE_OPEN_READWRITE, &db));
    bool ok = cf_dbc_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)") && cf_dbc_vacuum_into(db, target);
    sqlite3_close(db);
    ok = ok && cf_dbc_install(staging, NULL, out);
    if (!ok)
        unlink(staging);
    if (ok)
        printf("decrypted into %s\n", out);
    return ok;
}

static void cf_dbc_print_status(const coffer_tde_status *st)
{
    char n[32];
    cf_out_line("protector:", st->protector);
    snprintf(n, sizeof n, "%u", st->page_size);
    cf_out_line("page size:", n);
    snprintf(n, sizeof n, "%u", st->current_generation);
    cf_out_line("key generation:", n);
    bool both = st->generations[0] && st->generations[1];
    cf_out_line("rekey:", both ? "under way (run `coffer db rekey` to finish)" : "none");
    snprintf(n, sizeof n, "%llu", (unsigned long long)st->header_sequence);
    cf_out_line("header sequence:", n);
}

bool cf_cmd_db_status(cf_cli *cli)
{
    const char *path = cli->args->pos[0];
    cf_dbc_keys keys = cf_dbc_keys_of(cli);
    coffer_tde_status st;
    memset(&st, 0, sizeof st);
    if (!keys.spec) {
        /* The header is readable without the key (nothing in it is secret):
         * the newer of the slots that parse (unverified without the key). */
        static uint8_t slots[CF_TDE_HEADER_LEN];
        cf_tde_header h, other;
        CF_GUARD(cf_read_file_exact(path, slots, sizeof slots));
        bool a = cf_tde_header_parse(slots, &h);
        bool b = cf_tde_header_parse(slots + CF_TDE_SLOT_LEN, &other);
        if (!a && !b)
            CF_BAIL(CF_ERR_BAD_INPUT, "not a Coffer TDE database (no Coffer header)");
        if (b && (!a || other.sequence > h.sequence))
            h = other;
        snprintf(st.protector, sizeof st.protector, "%s", h.protector_id);
        st.page_size = h.page_size;
        st.header_sequence = h.sequence;
        st.current_generation = h.current;
        st.generations[0] = h.dek[0].generation;
        st.generations[1] = h.dek[1].generation;
        cf_dbc_print_status(&st);
        cf_out_line("keys:", "not checked (give --protector)");
        return true;
    }
    sqlite3 *db = NULL;
    CF_GUARD(cf_dbc_open(path, &keys, SQLITE_OPEN_READONLY, &db));
    sqlite3_stmt *q = NULL;
    bool ok = sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &q, NULL) == SQLITE_OK &&
              sqlite3_step(q) == SQLITE_ROW &&
              sqlite3_file_control(db, "main", COFFER_TDE_FCNTL_STATUS, &st) == SQLITE_OK;
    if (!ok)
        cf_dbc_fail(db, "cannot read the database");
    else {
        cf_dbc_print_status(&st);
        cf_out_line("pages:", (const char *)sqlite3_column_text(q, 0));
        cf_out_line("keys:", "unwrapped by the protector");
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return ok;
}

/* Runs file control `op` (arg) holding the write lock. */
static bool cf_dbc_control(sqlite3 *db, int op, void *arg, const char *what)
{
    CF_GUARD(cf_dbc_exec(db, "BEGIN IMMEDIATE"));
    int rc = sqlite3_file_control(db, "main", op, arg);
    if (rc != SQLITE_OK) {
        cf_dbc_exec(db, "ROLLBACK");
        cf_error_raisef(rc == SQLITE_AUTH ? CF_ERR_FORBIDDEN : CF_ERR_IO, __FILE__, __LINE__,
                        "%s: %s", what, coffer_tde_last_error());
        return false;
    }
    return cf_dbc_exec(db, "COMMIT");
}

bool cf_cmd_db_rotate(cf_cli *cli)
{
    const char *path = cli->args->pos[0], *to = cf_cli_opt(cli, "to");
    cf_dbc_keys keys = cf_dbc_keys_of(cli);
    if (!keys.spec || !to)
        return cf_cli_usage("--protector P (the current one) and --to Q are required");
    sqlite3 *db = NULL;
    CF_GUARD(cf_dbc_open(path, &keys, SQLITE_OPEN_READWRITE, &db));
    bool ok = cf_dbc_control(db, COFFER_TDE_FCNTL_ROTATE_PROTECTOR, (void *)to,
                             "cannot rotate the protector");
    coffer_tde_status st;
    if (ok && sqlite3_file_control(db, "main", COFFER_TDE_FCNTL_STATUS, &st) == SQLITE_OK)
        printf("protector now %s (no page rewritten)\n", st.protector);
    sqlite3_close(db);
    return ok;
}

bool cf_cmd_db_rekey(cf_cli *cli)
{
    const char *path = cli->args->pos[0];
    cf_dbc_keys keys = cf_dbc_keys_of(cli);
    if (!keys.spec)
        return cf_cli_usage("--protector P is required");
    sqlite3 *db = NULL;
    CF_GUARD(cf_dbc_open(path, &keys, SQLITE_OPEN_READWRITE, &db));
    coffer_tde_status st;
    bool ok = sqlite3_file_control(db, "main", COFFER_TDE_FCNTL_STATUS, &st) == SQLITE_OK;
    /* A rekey a crash interrupted already has its new generation. */
    bool resumed = ok && st.generations[0] && st.generations[1];
    if (ok && !resumed)
        ok = cf_dbc_control(db, COFFER_TDE_FCNTL_REKEY_BEGIN, NULL, "cannot begin the rekey");
    ok = ok && cf_dbc_exec(db, "VACUUM");
    sqlite3_stmt *q = NULL;
    /* In WAL mode the rewritten pages reach the file at a checkpoint. */
    ok = ok &&
         sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &q, NULL) == SQLITE_OK &&
         sqlite3_step(q) == SQLITE_ROW;
    if (ok && sqlite3_column_int(q, 0) != 0) {
        cf_error_raise(CF_ERR_CONFLICT, __FILE__, __LINE__,
                       "another connection holds the WAL: run the rekey again when it is idle");
        ok = false;
    }
    sqlite3_finalize(q);
    ok = ok && cf_dbc_control(db, COFFER_TDE_FCNTL_REKEY_END, NULL, "cannot finish the rekey");
    ok = ok && sqlite3_file_control(db, "main", COFFER_TDE_FCNTL_STATUS, &st) == SQLITE_OK;
    if (ok)
        printf("rekeyed%s: every page now under key generation %u\n",
               resumed ? " (an interrupted rekey finished)" : "", st.current_generation);
    sqlite3_close(db);
    return ok;
}
