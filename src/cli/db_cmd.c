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
 * Conversions (tde_files.h) are meant for a database no other process has
 * open: the new file is written beside the target, checked, synced and
 * renamed over it.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "coffer_tde.h"
#include "fsutil.h"
#include "tde_files.h"
#include "tde_header.h"

/* Where a command finds its protector: --protector, and for a vault key
 * the identity (--vault-identity, else COFFER_VAULT_IDENTITY). */
static cf_tde_keys cf_dbc_keys_of(const cf_cli *cli)
{
    return (cf_tde_keys){cf_cli_opt(cli, "protector"), cf_cli_opt(cli, "vault-identity")};
}

bool cf_cmd_db_encrypt(cf_cli *cli)
{
    const char *path = cli->args->pos[0];
    cf_tde_keys keys = cf_dbc_keys_of(cli);
    const char *out = cf_cli_opt(cli, "out") ? cf_cli_opt(cli, "out") : path;
    if (!keys.protector)
        return cf_cli_usage("--protector local:KEYFILE or a vault key URI is required");
    CF_GUARD(cf_tde_encrypt_file(path, &keys, out));
    printf("encrypted %s\n", out);
    return true;
}

bool cf_cmd_db_decrypt(cf_cli *cli)
{
    const char *path = cli->args->pos[0];
    cf_tde_keys keys = cf_dbc_keys_of(cli);
    const char *out = cf_cli_opt(cli, "out");
    if (!keys.protector || !out)
        return cf_cli_usage("--protector P and --out FILE are required");
    CF_GUARD(cf_tde_decrypt_file(path, &keys, out));
    printf("decrypted into %s\n", out);
    return true;
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
    cf_tde_keys keys = cf_dbc_keys_of(cli);
    coffer_tde_status st;
    memset(&st, 0, sizeof st);
    if (!keys.protector) {
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
    CF_GUARD(cf_tde_open(path, &keys, SQLITE_OPEN_READONLY, &db));
    sqlite3_stmt *q = NULL;
    bool ok = sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &q, NULL) == SQLITE_OK &&
              sqlite3_step(q) == SQLITE_ROW &&
              sqlite3_file_control(db, "main", COFFER_TDE_FCNTL_STATUS, &st) == SQLITE_OK;
    if (!ok)
        cf_tde_raise(db, "cannot read the database");
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
    CF_GUARD(cf_tde_exec(db, "BEGIN IMMEDIATE"));
    int rc = sqlite3_file_control(db, "main", op, arg);
    if (rc != SQLITE_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        cf_error_raisef(rc == SQLITE_AUTH ? CF_ERR_FORBIDDEN : CF_ERR_IO, __FILE__, __LINE__,
                        "%s: %s", what, coffer_tde_last_error());
        return false;
    }
    return cf_tde_exec(db, "COMMIT");
}

bool cf_cmd_db_rotate(cf_cli *cli)
{
    const char *path = cli->args->pos[0], *to = cf_cli_opt(cli, "to");
    cf_tde_keys keys = cf_dbc_keys_of(cli);
    if (!keys.protector || !to)
        return cf_cli_usage("--protector P (the current one) and --to Q are required");
    sqlite3 *db = NULL;
    CF_GUARD(cf_tde_open(path, &keys, SQLITE_OPEN_READWRITE, &db));
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
    cf_tde_keys keys = cf_dbc_keys_of(cli);
    if (!keys.protector)
        return cf_cli_usage("--protector P is required");
    sqlite3 *db = NULL;
    CF_GUARD(cf_tde_open(path, &keys, SQLITE_OPEN_READWRITE, &db));
    coffer_tde_status st;
    bool ok = sqlite3_file_control(db, "main", COFFER_TDE_FCNTL_STATUS, &st) == SQLITE_OK;
    /* A rekey a crash interrupted already has its new generation. */
    bool resumed = ok && st.generations[0] && st.generations[1];
    if (ok && !resumed)
        ok = cf_dbc_control(db, COFFER_TDE_FCNTL_REKEY_BEGIN, NULL, "cannot begin the rekey");
    ok = ok && cf_tde_exec(db, "VACUUM");
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
