/*
 * coffer store query --data-dir DIR SQL
 *
 * A read-only look into a service's own SQLite store (vault.db or blob.db)
 * for operators and tests.  The store is encrypted under a key derived from
 * the directory's sealed master key (docs/database-encryption.md, "Coffer's
 * own stores"), so the command opens the seal as the service does, without
 * its directory lock: it may run beside a running coffer-blob.  The vault
 * holds its store exclusively; stop it first (else: database is locked).
 *
 * Output is sqlite3's list mode: one line a row, columns separated by '|',
 * NULL empty, blobs as X'hex', control characters in text as '?'.  Nothing
 * is changed: the store is opened read-only, one statement that only reads
 * runs, and a store not yet encrypted is refused (its service converts it).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "envelope.h"
#include "fsutil.h"
#include "seal_dir.h"
#include "tde_files.h"
#include "tde_store.h"

static void cf_print_value(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_BLOB) {
        const unsigned char *p = sqlite3_column_blob(st, i);
        int n = sqlite3_column_bytes(st, i);
        fputs("X'", stdout);
        for (int k = 0; k < n; k++)
            printf("%02x", p[k]);
        putchar('\'');
    } else if (sqlite3_column_type(st, i) != SQLITE_NULL) {
        /* Names come from tenants: control characters escaped. */
        const char *text = (const char *)sqlite3_column_text(st, i);
        cf_out_str(stdout, text ? text : "");
    }
}

/* Runs one read-only statement, printing its rows. */
static bool cf_store_print(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, &tail) != SQLITE_OK)
        return cf_tde_raise(db, "the query");
    bool ok = sqlite3_stmt_readonly(st) && (!tail || strspn(tail, " \t\r\n;") == strlen(tail));
    if (!ok)
        cf_error_raise(CF_ERR_BAD_INPUT, __FILE__, __LINE__,
                       "one statement that only reads (SELECT, or a PRAGMA that reads)");
    int rc = SQLITE_DONE;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            if (i)
                putchar('|');
            cf_print_value(st, i);
        }
        putchar('\n');
    }
    if (ok && rc != SQLITE_DONE)
        ok = cf_tde_raise(db, "the query");
    sqlite3_finalize(st);
    return ok;
}

/* The master key of DIR, unwrapped as the service does (bound to the
 * associated data seal.json records), without the directory lock. */
static bool cf_store_master_key(const char *dir, const char *service, cf_sealed_dir *sealed)
{
    cf_seal_options opt = {.beside_service = true};
    cf_buf aad;
    cf_buf_init(&aad, 1024);
    bool ok = cf_seal_dir_recorded_aad(dir, &aad) &&
              cf_seal_dir_open(dir, service, &opt, cf_buf_slice(&aad), false, sealed);
    cf_buf_free(&aad);
    return ok;
}

bool cf_cmd_store_query(cf_cli *cli)
{
    const char *dir = cf_cli_opt(cli, "data-dir"), *service;
    if (!dir)
        return cf_cli_usage("--data-dir DIR is required");
    CF_GUARD(cf_seal_dir_service(dir, &service));
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir,
                     strcmp(service, "coffer-vault") == 0 ? "vault.db" : "blob.db");
    CF_ENSURE(n > 0 && (size_t)n < sizeof path, CF_ERR_BAD_INPUT, "path too long");
    cf_sealed_dir sealed;
    CF_GUARD(cf_store_master_key(dir, service, &sealed));
    cf_tde_store tde;
    bool ok =
        cf_tde_store_prepare(path, cf_slice_of(sealed.master_key, CF_DATA_KEY_LEN), false, &tde);
    cf_sealed_dir_close(&sealed);
    sqlite3 *db = NULL;
    ok = ok &&
         cf_tde_open(path, &(cf_tde_keys){.protector = tde.protector}, SQLITE_OPEN_READONLY, &db);
    cf_tde_store_release(&tde);
    ok = ok && cf_store_print(db, cli->args->pos[0]);
    sqlite3_close(db);
    return ok;
}
