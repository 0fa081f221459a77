/*
 * coffer, the command-line client: declarations shared by its files.
 *
 *   cli.c        main, the command table, exit codes
 *   args.c       splitting argv, option lookup, checked numbers and names
 *   config.c     where the vault connection settings come from (flags > env
 *                > bootstrap)
 *   https.c/.h   the one libcurl transport both clients use (set-up, capped
 *                replies, error reporting)
 *   client.c     the vault client: Key Vault requests, Entra-style
 *                client-credentials auth
 *   output.c     readable and JSON rendering
 *   keys_cmd.c   key management (create ... rotate), and the commands
 *                secrets share with keys (show ... restore)
 *   secrets_cmd.c  secret set (the value from a file or stdin)
 *   crypto_cmd.c key operations (encrypt, decrypt, sign, verify)
 *   byok_cmd.c   bring your own key: byok-wrap, import --byok
 *   audit_cmd.c  audit verify: checks an audit log file (local, no connection)
 *   seal_cmd.c   seal show|migrate on a data directory (local)
 *   db_cmd.c     db encrypt|decrypt|status|rotate-protector|rekey: SQLite
 *                databases under the coffer VFS (local)
 *   principal_cmd.c  principal administration (create, list, show, delete,
 *                secret-rotate) on the vault's own /coffer/principals API
 *   role_cmd.c   RBAC: role definitions, role assignments (assign, list, remove)
 *   storage_client.c/.h  Blob Storage (names cf_sc_): connection string,
 *                Shared Key/SAS signed requests, Azure XML errors, a small
 *                expat reader
 *   blob_cmd.c   blob upload, download, list, show, delete (streaming)
 *   container_cmd.c  container create, list, delete
 *   account_cmd.c  storage accounts (create, list, show, set-key, delete)
 *                through coffer-blob's admin API
 *   scope_cmd.c  encryption scopes of a storage account, the same way
 *   disk_cmd.c   encrypted virtual disks (page blobs served by nbdkit with
 *                coffer-disk's plugin), disk_meta.c their stored format
 *   progress.c   transfer progress bar and rates
 *
 * Every helper returns a must-use bool with the reason in the thread-local
 * error (result.h).  A command that fails because of how it was invoked
 * calls cf_cli_usage(), which makes the exit code 2; any other failure exits
 * 1.  Errors a service returned are printed (https.c) as soon as they
 * arrive (code and message), so main does not print them again.
 */
#ifndef CF_CLI_H
#define CF_CLI_H

#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "result.h"

#define CF_CLI_EXIT_OK 0
#define CF_CLI_EXIT_FAIL 1
#define CF_CLI_EXIT_USAGE 2

/* Caps on everything read: service replies, and each kind of input file. */
#define CF_CLI_REPLY_MAX (16u * 1024 * 1024)
#define CF_CLI_JWK_MAX (1u * 1024 * 1024)
#define CF_CLI_BOOTSTRAP_MAX (64u * 1024)
#define CF_CLI_BACKUP_MAX (8u * 1024 * 1024)
/* The service accepts 1 MiB request bodies; base64 grows data by 4/3. */
#define CF_CLI_PAYLOAD_MAX (700u * 1024)
#define CF_CLI_HASH_INPUT_MAX (64u * 1024 * 1024)

#define CF_CLI_MAX_OPTS 32
#define CF_CLI_MAX_POS 8

/* One "--name value" (or "--name=value", or a bare flag with value NULL).
 * Values point into argv, which is writable: config.c wipes the client
 * secret there once it has copied it. */
typedef struct {
    const char *name;
    char *value;
} cf_cli_option;

typedef struct {
    cf_cli_option opts[CF_CLI_MAX_OPTS];
    size_t n_opts;
    const char *pos[CF_CLI_MAX_POS]; /* after "key <command>" */
    size_t n_pos;
} cf_cli_args;

typedef struct cf_cli_client cf_cli_client;

/* What a command sees. */
typedef struct {
    cf_cli_args *args;
    cf_cli_client *client;
    const char *group; /* "key", "secret", ...: what the command works on */
    bool hide_value;   /* secret set: do not echo the value back */
    bool json;         /* --output json */
    int exit_code;     /* a command may set 1 without failing (verify: invalid) */
} cf_cli;

/* ---- args.c ---- */
/* Splits argv into options (opts) and words (up to max_words, the command
 * words and positionals).  The command is not known yet, so every option is
 * collected and checked against its table afterwards.  Options in
 * `flag_names` (space-separated) take no value; every other one takes the
 * next argument or "=value".  "-h" is "--help"; after "--" all are words. */
CF_MUST_USE bool cf_cli_split_argv(int argc, char **argv, const char *flag_names, cf_cli_args *args,
                                   const char **words, size_t *n_words, size_t max_words);
/* Whether `word` (word_len bytes) is one of the space-separated names in
 * `list`. */
bool cf_cli_in_list(const char *list, const char *word, size_t word_len);
/* Whether a usage error was recorded (exit code 2), and whether the error
 * was already shown to the user. */
bool cf_cli_usage_failed(void);
bool cf_cli_error_reported(void);
/* The value of option `name` (without dashes), or NULL when absent. */
const char *cf_cli_opt(const cf_cli *cli, const char *name);
bool cf_cli_flag(const cf_cli *cli, const char *name);
/* Records a usage error (exit code 2); always returns false. */
bool cf_cli_usage(const char *fmt, ...) CF_PRINTF(1, 2);
/* Marks the current error as already shown to the user. */
void cf_cli_mark_reported(void);
/* strtoll into [min, max]; a usage error otherwise. */
CF_MUST_USE bool cf_cli_parse_int(const char *opt, const char *s, long long min, long long max,
                                  long long *out);
/* Key names: 1-127 of [0-9a-zA-Z-]; versions: 1-64 of [0-9a-zA-Z].  They go
 * into URL paths, so nothing else is let through. */
CF_MUST_USE bool cf_cli_check_name(const char *name);
CF_MUST_USE bool cf_cli_check_version(const char *version);
/* User names: 1-64 of letters, digits and ". _ @ -", a letter or digit first. */
CF_MUST_USE bool cf_cli_check_user_name(const char *name);

/* ---- config.c ---- */
typedef struct {
    char vault_url[512];
    char tenant[128];
    char authority[512]; /* scheme://host[:port][/prefix], without the tenant */
    char resource[512];
    char client_id[256];
    char ca_cert[PATH_MAX]; /* empty: the system's trust store */
    cf_buf secret;          /* client secret, secret memory */
} cf_cli_conn;

CF_MUST_USE bool cf_cli_conn_resolve(cf_cli *cli, cf_cli_conn *conn);
void cf_cli_conn_free(cf_cli_conn *conn);

/* ---- client.c ---- */
/* Routes jansson's allocations through a wiping allocator (plaintext and
 * tokens pass through parsed JSON).  Call before any jansson use. */
void cf_cli_json_secure(void);
/* Takes over conn's secret (conn->secret is left empty). */
CF_MUST_USE bool cf_cli_client_open(cf_cli_conn *conn, cf_cli_client **out);
void cf_cli_client_close(cf_cli_client *client);
/* Calls the vault.  `path` is "/keys/..." (with an optional query) or an
 * absolute URL on the vault's own origin (nextLink).  `body` is borrowed
 * (may be NULL).  On 2xx, *reply is the parsed object (NULL for an empty
 * body; the caller owns it).  Otherwise the service's error is printed and
 * the call fails. */
/* The body of a key operation, {"alg": alg, "value": value} (value already
 * base64url, NUL-terminated in its buffer); NULL (CF_ERR_NOMEM raised)
 * when it cannot be built. */
json_t *cf_cli_op_body(const char *alg, const cf_buf *value);
CF_MUST_USE bool cf_cli_call(cf_cli_client *client, const char *method, const char *path,
                             json_t *body, json_t **reply);

/* ---- output.c ---- */
void cf_out_json(json_t *value);
/* "2026-01-02T03:04:05Z", or "-" for 0. */
void cf_out_time(long long epoch, char *out, size_t len);
/* Prints a service string with control characters replaced by '?'. */
void cf_out_str(FILE *f, const char *s);
void cf_out_key_bundle(json_t *bundle);
void cf_out_secret_bundle(json_t *bundle, bool with_value);
/* Lists of keys or secrets (or their versions). */
void cf_out_table(json_t *items, bool versions, bool secrets);
/* Name and version from a kid ".../keys/NAME[/VERSION]" (either may be ""). */
void cf_out_kid_parts(const char *kid, char *name, size_t name_len, char *version,
                      size_t version_len);

/* ---- keys_cmd.c ---- */
CF_MUST_USE bool cf_cmd_create(cf_cli *cli);
CF_MUST_USE bool cf_cmd_import(cf_cli *cli);
CF_MUST_USE bool cf_cmd_list(cf_cli *cli);
CF_MUST_USE bool cf_cmd_versions(cf_cli *cli);
CF_MUST_USE bool cf_cmd_show(cf_cli *cli);
CF_MUST_USE bool cf_cmd_update(cf_cli *cli);
CF_MUST_USE bool cf_cmd_delete(cf_cli *cli);
CF_MUST_USE bool cf_cmd_recover(cf_cli *cli);
CF_MUST_USE bool cf_cmd_purge(cf_cli *cli);
CF_MUST_USE bool cf_cmd_backup(cf_cli *cli);
CF_MUST_USE bool cf_cmd_restore(cf_cli *cli);
CF_MUST_USE bool cf_cmd_rotate(cf_cli *cli);

/* ---- crypto_cmd.c ---- */
CF_MUST_USE bool cf_cmd_encrypt(cf_cli *cli);
CF_MUST_USE bool cf_cmd_decrypt(cf_cli *cli);
CF_MUST_USE bool cf_cmd_sign(cf_cli *cli);
CF_MUST_USE bool cf_cmd_verify(cf_cli *cli);

/* ---- audit_cmd.c ---- */
CF_MUST_USE bool cf_cmd_audit_verify(cf_cli *cli);
CF_MUST_USE bool cf_cmd_seal_show(cf_cli *cli);
CF_MUST_USE bool cf_cmd_secret_set(cf_cli *cli);
CF_MUST_USE bool cf_cmd_byok_wrap(cf_cli *cli);
/* The JWK (kty, key_hsm, crv) of an import from a BYOK transfer blob file. */
CF_MUST_USE bool cf_cli_byok_jwk(const cf_cli *cli, const char *file, json_t **jwk);
/* Shared by the key and secret commands (keys_cmd.c). */
CF_MUST_USE bool cf_cli_bundle_call(cf_cli *cli, const char *method, const char *path,
                                    json_t *body);
CF_MUST_USE bool cf_cli_common_body(const cf_cli *cli, json_t *body, json_t *ops_target);
CF_MUST_USE bool cf_cmd_seal_migrate(cf_cli *cli);

/* Standard input into `out`, up to its maximum (CF_ERR_TOO_LARGE past
 * it); secrets_cmd.c. */
CF_MUST_USE bool cf_cli_read_stdin(cf_buf *out);

/* ---- user_cmd.c ---- */
CF_MUST_USE bool cf_cmd_user_create(cf_cli *cli);
CF_MUST_USE bool cf_cmd_user_list(cf_cli *cli);
CF_MUST_USE bool cf_cmd_user_show(cf_cli *cli);
CF_MUST_USE bool cf_cmd_user_delete(cf_cli *cli);
CF_MUST_USE bool cf_cmd_user_reset_password(cf_cli *cli);

/* ---- principal_cmd.c ---- */
/* Object ids, client ids, assignment names: 8-4-4-4-12 hex digits. */
bool cf_cli_is_guid(const char *s);
/* A usage error naming `what` unless `s` is a GUID. */
CF_MUST_USE bool cf_cli_check_guid(const char *what, const char *s);
/* One readable "label: value" line (nothing for NULL), and one table cell
 * padded to `width`; service strings have control characters replaced. */
void cf_out_line(const char *label, const char *value);
void cf_out_cell(const char *s, int width);
CF_MUST_USE bool cf_cmd_principal_create(cf_cli *cli);
CF_MUST_USE bool cf_cmd_principal_list(cf_cli *cli);
CF_MUST_USE bool cf_cmd_principal_show(cf_cli *cli);
CF_MUST_USE bool cf_cmd_principal_delete(cf_cli *cli);
CF_MUST_USE bool cf_cmd_principal_rotate(cf_cli *cli);

/* ---- role_cmd.c ---- */
CF_MUST_USE bool cf_cmd_role_definitions(cf_cli *cli);
CF_MUST_USE bool cf_cmd_role_assign(cf_cli *cli);
CF_MUST_USE bool cf_cmd_role_list(cf_cli *cli);
CF_MUST_USE bool cf_cmd_role_remove(cf_cli *cli);

/* ---- blob_cmd.c, container_cmd.c (see storage_client.h) ---- */
CF_MUST_USE bool cf_cmd_blob_upload(cf_cli *cli);
/* ae_cmd.c: column encryption keys for ae_encrypt/ae_decrypt */
CF_MUST_USE bool cf_cmd_ae_key_create(cf_cli *cli);
CF_MUST_USE bool cf_cmd_ae_key_list(cf_cli *cli);
CF_MUST_USE bool cf_cmd_ae_key_unwrap(cf_cli *cli);
CF_MUST_USE bool cf_cmd_ae_key_rotate(cf_cli *cli);
CF_MUST_USE bool cf_cmd_ae_key_delete(cf_cli *cli);
/* db_cmd.c: SQLite databases under transparent encryption */
CF_MUST_USE bool cf_cmd_db_encrypt(cf_cli *cli);
CF_MUST_USE bool cf_cmd_db_decrypt(cf_cli *cli);
CF_MUST_USE bool cf_cmd_db_status(cf_cli *cli);
CF_MUST_USE bool cf_cmd_db_rotate(cf_cli *cli);
CF_MUST_USE bool cf_cmd_db_rekey(cf_cli *cli);

/* ---- store_cmd.c: a read-only look into a service's own store ---- */
CF_MUST_USE bool cf_cmd_store_query(cf_cli *cli);

/* ---- disk_cmd.c ---- */
CF_MUST_USE bool cf_cmd_disk_create(cf_cli *cli);
CF_MUST_USE bool cf_cmd_disk_attach(cf_cli *cli);
CF_MUST_USE bool cf_cmd_disk_list(cf_cli *cli);
CF_MUST_USE bool cf_cmd_disk_show(cf_cli *cli);
CF_MUST_USE bool cf_cmd_disk_resize(cf_cli *cli);
CF_MUST_USE bool cf_cmd_disk_delete(cf_cli *cli);
CF_MUST_USE bool cf_cmd_disk_rotate(cf_cli *cli);
CF_MUST_USE bool cf_cmd_disk_luks_key(cf_cli *cli);
CF_MUST_USE bool cf_cmd_blob_download(cf_cli *cli);
CF_MUST_USE bool cf_cmd_blob_list(cf_cli *cli);
CF_MUST_USE bool cf_cmd_blob_show(cf_cli *cli);
CF_MUST_USE bool cf_cmd_blob_delete(cf_cli *cli);
CF_MUST_USE bool cf_cmd_container_create(cf_cli *cli);
CF_MUST_USE bool cf_cmd_container_list(cf_cli *cli);
CF_MUST_USE bool cf_cmd_container_delete(cf_cli *cli);
/* account_cmd.c */
CF_MUST_USE bool cf_cmd_account_create(cf_cli *cli);
CF_MUST_USE bool cf_cmd_account_list(cf_cli *cli);
CF_MUST_USE bool cf_cmd_account_show(cf_cli *cli);
CF_MUST_USE bool cf_cmd_account_set_key(cf_cli *cli);
CF_MUST_USE bool cf_cmd_account_delete(cf_cli *cli);
/* scope_cmd.c */
CF_MUST_USE bool cf_cmd_scope_create(cf_cli *cli);
CF_MUST_USE bool cf_cmd_scope_list(cf_cli *cli);
CF_MUST_USE bool cf_cmd_scope_show(cf_cli *cli);
CF_MUST_USE bool cf_cmd_scope_enable(cf_cli *cli);
CF_MUST_USE bool cf_cmd_scope_disable(cf_cli *cli);
CF_MUST_USE bool cf_cmd_scope_set_key(cf_cli *cli);

#endif
