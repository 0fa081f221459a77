/*
 * coffer: the command-line client and admin tool of both Coffer services.
 *
 *   coffer [vault options] key COMMAND [NAME] [options]     keys: create,
 *       import (JWK, PEM or a BYOK transfer blob), byok-wrap, list, versions,
 *       show, update, delete, recover, purge, backup, restore, rotate, and
 *       the crypto operations encrypt, decrypt, sign, verify
 *   coffer [vault options] secret COMMAND [NAME] [options]  secrets: set,
 *       show, list, versions, update, delete, recover, purge, backup, restore
 *   coffer [vault options] principal|user|role COMMAND [ARG] access: service
 *       principals and managed identities (create, list, show, delete,
 *       secret-rotate); people who sign in to the console (create, list, show,
 *       delete, reset-password); role definitions and assignments (assign, list, remove)
 *   coffer [storage options] blob|container COMMAND [ARG]   Azure Blob
 *       Storage: upload, download, list, show, delete; containers create,
 *       list, delete (any Azure-compatible endpoint; see storage_client.c)
 *   coffer [storage options] account|scope COMMAND [ARG]    coffer-blob's
 *       admin API: storage accounts and encryption scopes, with service- or
 *       customer-managed keys (create, list, show, set-key, enable, disable,
 *       delete)
 *   coffer seal show|migrate --data-dir DIR                 local: a data
 *       directory's seal, and the move off the development file seal
 *   coffer store query --data-dir DIR SQL                   local: a
 *       read-only query on a service's own (encrypted) store
 *   coffer audit verify FILE                                local: checks a
 *       hash-chained audit log
 *
 * The vault commands speak the Azure Key Vault REST API (api-version
 * 2025-07-01) with client-credentials tokens (client.c); the storage ones
 * the Blob Storage API with Shared Key or SAS (storage_client.c).  Any
 * command takes --output json.
 *
 * Argument parsing is table-driven (cf_commands below): every "--name" is
 * looked up in the global options and in the command's own list, so a
 * misspelt option is a usage error (exit 2) instead of being silently
 * ignored.  Options may come before or after the command words.  The only
 * options without a value are the few flags in cf_flag_names.
 *
 * Exit codes: 0 success, 1 failure (service errors, I/O, an invalid
 * signature on verify), 2 usage errors.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "crypto.h"
#include "secmem.h"

typedef struct {
    const char *name;
    bool (*run)(cf_cli *cli);
    size_t n_pos;     /* positionals after the command word: 0 or 1 (NAME, OBJECT_ID...) */
    const char *opts; /* space-separated option names the command accepts */
    const char *usage;
    const char *group; /* the first word; NULL means "key" */
    bool local;        /* works on local files: no connection is opened */
    bool storage;      /* blob|container: opens its own storage connection */
    bool more;         /* n_pos is a minimum: up to CF_CLI_MAX_POS positionals */
} cf_cli_command;

#define CF_STORAGE_OPTS "connection-string blob-dir ca-file"

static const cf_cli_command cf_commands[] = {
    {"create", cf_cmd_create, 1, "kty size curve exponent ops tags disabled not-before expires",
     "create NAME --kty RSA|EC|oct [--size N] [--curve P-256|P-384|P-521|P-256K]\n"
     "                  [--exponent N] [--ops encrypt,decrypt,...] [--tags k=v,...] [--disabled]\n"
     "                  [--not-before UNIX] [--expires UNIX]"},
    {"import", cf_cmd_import, 1, "jwk pem byok kty curve hsm ops tags disabled not-before expires",
     "import NAME (--jwk FILE [--hsm] | --byok FILE.byok [--kty K] [--curve C]) [--ops ...]\n"
     "                  [--tags ...] [--disabled] [--not-before UNIX] [--expires UNIX]"},
    {"byok-wrap", cf_cmd_byok_wrap, 0, "kek-kid key aes-key out",
     "byok-wrap --kek-kid KID (--key FILE.pem | --aes-key FILE) --out FILE.byok"},
    {"list", cf_cmd_list, 0, "max", "list [--max N]"},
    {"versions", cf_cmd_versions, 1, "max", "versions NAME [--max N]"},
    {"show", cf_cmd_show, 1, "version", "show NAME [--version V]"},
    {"update", cf_cmd_update, 1, "version enable disable ops tags not-before expires",
     "update NAME [--version V] [--enable|--disable] [--ops ...] [--tags ...]\n"
     "                  [--not-before UNIX] [--expires UNIX]"},
    {"delete", cf_cmd_delete, 1, "", "delete NAME"},
    {"recover", cf_cmd_recover, 1, "", "recover NAME"},
    {"purge", cf_cmd_purge, 1, "", "purge NAME"},
    {"backup", cf_cmd_backup, 1, "file", "backup NAME --file OUT"},
    {"restore", cf_cmd_restore, 0, "file", "restore --file IN"},
    {"rotate", cf_cmd_rotate, 1, "", "rotate NAME"},
    {"encrypt", cf_cmd_encrypt, 1, "version alg in value iv aad out",
     "encrypt NAME --alg A (--in FILE | --value B64URL) [--iv B64URL] [--aad B64URL]\n"
     "                  [--version V] [--out FILE]"},
    {"decrypt", cf_cmd_decrypt, 1, "version alg in value iv tag aad out",
     "decrypt NAME --alg A (--in FILE | --value B64URL) [--iv B64URL] [--tag B64URL]\n"
     "                  [--aad B64URL] [--version V] [--out FILE]"},
    {"sign", cf_cmd_sign, 1, "version alg digest in out",
     "sign NAME --alg A (--digest B64URL | --in FILE) [--version V] [--out FILE]"},
    {"verify", cf_cmd_verify, 1, "version alg signature digest in",
     "verify NAME --alg A --signature B64URL (--digest B64URL | --in FILE) [--version V]"},
    {"verify", cf_cmd_audit_verify, 1, "expect-lines expect-head store service",
     "verify FILE... [--expect-lines N] [--expect-head HASH]\n"
     "                  [--store postgres:CONNINFO [--service vault|blob]]",
     "audit", true, false, true},
    {"set", cf_cmd_secret_set, 1, "file content-type tags disabled not-before expires",
     "set NAME --file FILE|- [--content-type T] [--tags k=v,...] [--disabled]\n"
     "                  [--not-before UNIX] [--expires UNIX]   (the value from a file or stdin)",
     "secret"},
    {"show", cf_cmd_show, 1, "version", "show NAME [--version V]", "secret"},
    {"list", cf_cmd_list, 0, "max", "list [--max N]", "secret"},
    {"versions", cf_cmd_versions, 1, "max", "versions NAME [--max N]", "secret"},
    {"update", cf_cmd_update, 1, "version enable disable content-type tags not-before expires",
     "update NAME [--version V] [--enable|--disable] [--content-type T] [--tags ...]\n"
     "                  [--not-before UNIX] [--expires UNIX]",
     "secret"},
    {"delete", cf_cmd_delete, 1, "", "delete NAME", "secret"},
    {"recover", cf_cmd_recover, 1, "", "recover NAME", "secret"},
    {"purge", cf_cmd_purge, 1, "", "purge NAME", "secret"},
    {"backup", cf_cmd_backup, 1, "file", "backup NAME --file OUT", "secret"},
    {"restore", cf_cmd_restore, 0, "file", "restore --file IN", "secret"},
    {"show", cf_cmd_seal_show, 0, "data-dir", "show --data-dir DIR", "seal", true},
    {"key-create", cf_cmd_ae_key_create, 1, "db cmk", "key-create NAME --db FILE --cmk KEY_ID",
     "ae", true},
    {"key-list", cf_cmd_ae_key_list, 0, "db", "key-list --db FILE", "ae", true},
    {"key-unwrap", cf_cmd_ae_key_unwrap, 1, "db out",
     "key-unwrap NAME --db FILE [--out FILE]   (the column key: hex, or raw into FILE)", "ae",
     true},
    {"key-rotate", cf_cmd_ae_key_rotate, 1, "db cmk", "key-rotate NAME --db FILE --cmk KEY_ID",
     "ae", true},
    {"key-delete", cf_cmd_ae_key_delete, 1, "db", "key-delete NAME --db FILE", "ae", true},
    {"encrypt", cf_cmd_db_encrypt, 1, "protector vault-identity out",
     "encrypt FILE --protector local:KEYFILE [--out FILE]   (in place unless --out)", "db", true},
    {"decrypt", cf_cmd_db_decrypt, 1, "protector vault-identity out",
     "decrypt FILE --protector P --out FILE", "db", true},
    {"status", cf_cmd_db_status, 1, "protector vault-identity", "status FILE [--protector P]", "db",
     true},
    {"rotate-protector", cf_cmd_db_rotate, 1, "protector vault-identity to",
     "rotate-protector FILE --protector P --to Q   (re-wraps the keys; no page rewritten)", "db",
     true},
    {"rekey", cf_cmd_db_rekey, 1, "protector vault-identity",
     "rekey FILE --protector P   (a new database key; every page rewritten)", "db", true},
    {"query", cf_cmd_store_query, 1, "data-dir",
     "query --data-dir DIR SQL   (read-only, on vault.db or blob.db; beside a running\n"
     "                  coffer-blob, or a stopped vault)",
     "store", true},
    {"migrate", cf_cmd_seal_migrate, 0, "data-dir pkcs11-module pkcs11-token pkcs11-pin-file",
     "migrate --data-dir DIR [--pkcs11-module PATH --pkcs11-token LABEL\n"
     "                  [--pkcs11-pin-file FILE]]   (the service stopped; onto a token)",
     "seal", true},
    {"create", cf_cmd_principal_create, 0, "name kind secret-expires-days",
     "create --name NAME [--kind sp|mi] [--secret-expires-days N]", "principal"},
    {"list", cf_cmd_principal_list, 0, "", "list", "principal"},
    {"show", cf_cmd_principal_show, 1, "", "show OBJECT_ID", "principal"},
    {"delete", cf_cmd_principal_delete, 1, "", "delete OBJECT_ID", "principal"},
    {"secret-rotate", cf_cmd_principal_rotate, 1, "secret-expires-days remove-old",
     "secret-rotate OBJECT_ID [--secret-expires-days N] [--remove-old]", "principal"},
    {"create", cf_cmd_user_create, 1, "password-file totp",
     "create NAME --password-file FILE|- [--totp]   (prints the one-time-code URI once)", "user"},
    {"list", cf_cmd_user_list, 0, "", "list", "user"},
    {"show", cf_cmd_user_show, 1, "", "show NAME", "user"},
    {"delete", cf_cmd_user_delete, 1, "", "delete NAME", "user"},
    {"reset-password", cf_cmd_user_reset_password, 1, "password-file",
     "reset-password NAME --password-file FILE|-   (also lifts a lockout)", "user"},
    {"definitions", cf_cmd_role_definitions, 0, "", "definitions", "role"},
    {"assign", cf_cmd_role_assign, 0, "role principal scope",
     "assign --role NAME|GUID --principal OBJECT_ID\n"
     "                  [--scope /|/keys|/secrets|/keys/NAME|/secrets/NAME]",
     "role"},
    {"list", cf_cmd_role_list, 0, "principal scope", "list [--principal OBJECT_ID] [--scope SCOPE]",
     "role"},
    {"remove", cf_cmd_role_remove, 1, "scope", "remove ASSIGNMENT_NAME [--scope SCOPE]", "role"},
    {"upload", cf_cmd_blob_upload, 1,
     "container name content-type metadata overwrite encrypt-with " CF_STORAGE_OPTS,
     "upload FILE --container C [--name NAME] [--content-type T] [--metadata k=v,...]\n"
     "                  [--overwrite] [--encrypt-with file:PATH|VAULT_KEY_ID]",
     "blob", false, true},
    {"download", cf_cmd_blob_download, 0, "container name file range decrypt-with " CF_STORAGE_OPTS,
     "download --container C --name NAME [--file OUT|-] [--range START-[END]]\n"
     "                  [--decrypt-with file:PATH|VAULT_KEY_ID]",
     "blob", false, true},
    {"list", cf_cmd_blob_list, 0, "container prefix page-size " CF_STORAGE_OPTS,
     "list --container C [--prefix P] [--page-size N]", "blob", false, true},
    {"show", cf_cmd_blob_show, 0, "container name " CF_STORAGE_OPTS,
     "show --container C --name NAME", "blob", false, true},
    {"delete", cf_cmd_blob_delete, 0, "container name " CF_STORAGE_OPTS,
     "delete --container C --name NAME", "blob", false, true},
    {"create", cf_cmd_container_create, 1, "public-access " CF_STORAGE_OPTS,
     "create NAME [--public-access blob|container]", "container", false, true},
    {"list", cf_cmd_container_list, 0, "prefix page-size " CF_STORAGE_OPTS,
     "list [--prefix P] [--page-size N]", "container", false, true},
    {"delete", cf_cmd_container_delete, 1, CF_STORAGE_OPTS, "delete NAME", "container", false,
     true},
    {"create", cf_cmd_account_create, 1, "cmk-key-uri infrastructure-encryption " CF_STORAGE_OPTS,
     "create NAME [--cmk-key-uri https://VAULT/keys/NAME[/VERSION]]\n"
     "                  [--infrastructure-encryption]",
     "account", false, true},
    {"list", cf_cmd_account_list, 0, CF_STORAGE_OPTS, "list", "account", false, true},
    {"show", cf_cmd_account_show, 1, CF_STORAGE_OPTS, "show NAME", "account", false, true},
    {"set-key", cf_cmd_account_set_key, 1, "cmk-key-uri service-managed " CF_STORAGE_OPTS,
     "set-key NAME (--cmk-key-uri URI | --service-managed)", "account", false, true},
    {"delete", cf_cmd_account_delete, 1, CF_STORAGE_OPTS, "delete NAME (and all its data)",
     "account", false, true},
    {"create", cf_cmd_scope_create, 1, "cmk-key-uri infrastructure-encryption " CF_STORAGE_OPTS,
     "create NAME [--cmk-key-uri URI] [--infrastructure-encryption]", "scope", false, true},
    {"list", cf_cmd_scope_list, 0, CF_STORAGE_OPTS, "list", "scope", false, true},
    {"show", cf_cmd_scope_show, 1, CF_STORAGE_OPTS, "show NAME", "scope", false, true},
    {"enable", cf_cmd_scope_enable, 1, CF_STORAGE_OPTS, "enable NAME", "scope", false, true},
    {"disable", cf_cmd_scope_disable, 1, CF_STORAGE_OPTS, "disable NAME", "scope", false, true},
    {"set-key", cf_cmd_scope_set_key, 1, "cmk-key-uri service-managed " CF_STORAGE_OPTS,
     "set-key NAME (--cmk-key-uri URI | --service-managed)", "scope", false, true},
    {"create", cf_cmd_disk_create, 1, "size des sector luks2 container " CF_STORAGE_OPTS,
     "create NAME --size S --des KEY_ID [--sector 512|4096] [--luks2] [--container C]", "disk",
     false, true},
    {"attach", cf_cmd_disk_attach, 1,
     "socket port cache-seconds writeback-mib vault-identity container " CF_STORAGE_OPTS,
     "attach NAME (--socket PATH | --port N) [--cache-seconds N] [--writeback-mib N]\n"
     "                  [--vault-identity FILE]   (runs nbdkit until stopped)",
     "disk", false, true},
    {"list", cf_cmd_disk_list, 0, "container " CF_STORAGE_OPTS, "list [--container C]", "disk",
     false, true},
    {"show", cf_cmd_disk_show, 1, "container " CF_STORAGE_OPTS, "show NAME", "disk", false, true},
    {"resize", cf_cmd_disk_resize, 1, "size container " CF_STORAGE_OPTS, "resize NAME --size S",
     "disk", false, true},
    {"delete", cf_cmd_disk_delete, 1, "container " CF_STORAGE_OPTS, "delete NAME", "disk", false,
     true},
    {"rotate-key", cf_cmd_disk_rotate, 1, "des container " CF_STORAGE_OPTS,
     "rotate-key NAME [--des KEY_ID]   (re-wraps the disk's key; no sector rewritten)", "disk",
     false, true},
    {"luks-key", cf_cmd_disk_luks_key, 1, "out container " CF_STORAGE_OPTS,
     "luks-key NAME [--out FILE]   (a luks2 disk's key file, for cryptsetup)", "disk", false, true},
};

static const char *cf_group(const cf_cli_command *cmd)
{
    return cmd->group ? cmd->group : "key";
}

static const char *const cf_global_opts =
    "vault tenant client-id client-secret ca-cert bootstrap output help";
static const char *const cf_flag_names = "help disabled enable disable remove-old overwrite hsm "
                                         "service-managed infrastructure-encryption luks2 totp";

/* ---- parsing ---- */

static void cf_print_usage(FILE *out)
{
    fprintf(
        out,
        "usage: coffer [connection options] key|secret COMMAND [NAME] [options] [--output json]\n"
        "       coffer [connection options] principal|user|role COMMAND [ARG] [options]\n"
        "       coffer audit verify FILE [options] [--output json]\n"
        "       coffer seal show|migrate --data-dir DIR [options]\n"
        "       coffer store query --data-dir DIR SQL\n"
        "       coffer [connection options] ae key-create|key-list|key-unwrap|key-rotate|key-delete"
        " ...\n"
        "       coffer db encrypt|decrypt|status|rotate-protector|rekey FILE [options]\n"
        "         (a protector: local:KEYFILE, or a vault key URI with --vault-identity FILE)\n"
        "       coffer [storage options] blob|container|account|scope COMMAND [ARG] [options]\n"
        "       coffer [connection and storage options] disk COMMAND [NAME] [options]\n"
        "\ncommands:\n");
    for (size_t i = 0; i < sizeof cf_commands / sizeof cf_commands[0]; i++)
        fprintf(out, "  %s %s\n", cf_group(&cf_commands[i]), cf_commands[i].usage);
    fprintf(out,
            "\nconnection (flags override the environment, which overrides the bootstrap file):\n"
            "  --vault URL          COFFER_VAULT_URL\n"
            "  --tenant ID          AZURE_TENANT_ID\n"
            "  --client-id ID       AZURE_CLIENT_ID\n"
            "  --client-secret S    AZURE_CLIENT_SECRET (prefer the environment: argv is visible)\n"
            "  --ca-cert FILE       COFFER_CA_CERT\n"
            "  --bootstrap FILE     COFFER_BOOTSTRAP (the vault's bootstrap.json)\n"
            "                       AZURE_AUTHORITY_HOST sets the token issuer; without it the\n"
            "                       vault's 401 challenge names it\n"
            "\nstorage (blob, container, account, scope; the first source that has a connection "
            "string wins):\n"
            "  --connection-string S  AZURE_STORAGE_CONNECTION_STRING (prefer the environment)\n"
            "  --blob-dir DIR         COFFER_BLOB_DIR (coffer-blob's data directory: its\n"
            "                         bootstrap.json gives connection_string and ca_cert)\n"
            "  --ca-file FILE         COFFER_CA_CERT (also --ca-cert)\n"
            "\nexit codes: 0 ok, 1 failure (service error, invalid signature), 2 usage error\n");
}

static bool cf_check_opts(const cf_cli_args *args, const cf_cli_command *cmd)
{
    for (size_t i = 0; i < args->n_opts; i++) {
        const char *n = args->opts[i].name;
        if (!cf_cli_in_list(cf_global_opts, n, strlen(n)) &&
            !cf_cli_in_list(cmd->opts, n, strlen(n)))
            return cf_cli_usage("%s %s: unknown option --%.64s", cf_group(cmd), cmd->name, n);
    }
    return true;
}

static const cf_cli_command *cf_find_command(const char *group, const char *name)
{
    for (size_t i = 0; i < sizeof cf_commands / sizeof cf_commands[0]; i++)
        if (strcmp(cf_group(&cf_commands[i]), group) == 0 && strcmp(cf_commands[i].name, name) == 0)
            return &cf_commands[i];
    return NULL;
}

static bool cf_known_group(const char *group)
{
    for (size_t i = 0; i < sizeof cf_commands / sizeof cf_commands[0]; i++)
        if (strcmp(cf_group(&cf_commands[i]), group) == 0)
            return true;
    return false;
}

/* Parses the command line into `cli`; *cmd is NULL when only help was asked. */
static bool cf_parse(int argc, char **argv, cf_cli *cli, const cf_cli_command **cmd)
{
    const char *words[CF_CLI_MAX_POS + 2];
    size_t n_words = 0;
    *cmd = NULL;
    CF_GUARD(cf_cli_split_argv(argc, argv, cf_flag_names, cli->args, words, &n_words,
                               CF_CLI_MAX_POS + 2));
    if (n_words == 0 && cf_cli_flag(cli, "help"))
        return true;
    if (n_words < 2 || !cf_known_group(words[0]))
        return cf_cli_usage(
            "expected 'key|secret|principal|user|role|blob|container|account|scope|seal|"
            "ae|db|disk COMMAND' or 'audit verify' "
            "(try --help)");
    *cmd = cf_find_command(words[0], words[1]);
    if (!*cmd)
        return cf_cli_usage("unknown command '%s %.64s'", words[0], words[1]);
    if (cf_cli_flag(cli, "help"))
        return true;
    CF_GUARD(cf_check_opts(cli->args, *cmd));
    if ((*cmd)->more ? n_words - 2 < (*cmd)->n_pos : n_words - 2 != (*cmd)->n_pos)
        return cf_cli_usage("usage: coffer %s %s", cf_group(*cmd), (*cmd)->usage);
    for (size_t i = 2; i < n_words; i++)
        cli->args->pos[cli->args->n_pos++] = words[i];
    /* They go into URL paths: key names, or the GUIDs that principal and
     * role commands take (object ids, assignment names). */
    cli->group = cf_group(*cmd);
    if (cli->args->n_pos == 1 &&
        (strcmp(cli->group, "key") == 0 || strcmp(cli->group, "secret") == 0))
        CF_GUARD(cf_cli_check_name(cli->args->pos[0]));
    else if (cli->args->n_pos == 1 && strcmp(cli->group, "user") == 0)
        CF_GUARD(cf_cli_check_user_name(cli->args->pos[0]));
    else if (cli->args->n_pos == 1 && !(*cmd)->local && !(*cmd)->storage)
        CF_GUARD(
            cf_cli_check_guid(strcmp(cf_group(*cmd), "role") == 0 ? "assignment name" : "object id",
                              cli->args->pos[0]));
    const char *version = cf_cli_opt(cli, "version");
    if (version)
        CF_GUARD(cf_cli_check_version(version));
    const char *output = cf_cli_opt(cli, "output");
    if (output && strcmp(output, "json") != 0 && strcmp(output, "text") != 0)
        return cf_cli_usage("--output: expected 'json' or 'text'");
    cli->json = output && strcmp(output, "json") == 0;
    return true;
}

/* Resolves the connection and opens the client, then runs the command. */
static bool cf_run(cf_cli *cli, const cf_cli_command *cmd)
{
    if (cmd->local || cmd->storage)
        return cmd->run(cli);
    cf_cli_conn conn;
    memset(&conn, 0, sizeof conn);
    cf_buf_init_secret(&conn.secret, 4096);
    bool ok = cf_cli_conn_resolve(cli, &conn) && cf_cli_client_open(&conn, &cli->client);
    cf_cli_conn_free(&conn);
    ok = ok && cmd->run(cli);
    cf_cli_client_close(cli->client);
    cli->client = NULL;
    return ok;
}

int main(int argc, char **argv)
{
    cf_cli_args args;
    memset(&args, 0, sizeof args);
    cf_cli cli = {.args = &args};
    const cf_cli_command *cmd = NULL;

    /* Secrets (client secret, token, plaintext) live in locked memory, and a
     * crash must not write them to a core file. */
    if (!cf_secmem_init(1u << 20) || !cf_crypto_init()) {
        fprintf(stderr, "coffer: %s\n", cf_error_detail());
        return CF_CLI_EXIT_FAIL;
    }
    cf_cli_json_secure();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "coffer: cannot initialise libcurl\n");
        return CF_CLI_EXIT_FAIL;
    }

    int code = CF_CLI_EXIT_OK;
    if (!cf_parse(argc, argv, &cli, &cmd)) {
        fprintf(stderr, "coffer: %s\n", cf_error_detail());
        code = CF_CLI_EXIT_USAGE;
    } else if (cf_cli_flag(&cli, "help")) {
        if (cmd)
            printf("usage: coffer %s %s\n", cf_group(cmd), cmd->usage);
        else
            cf_print_usage(stdout);
    } else if (!cf_run(&cli, cmd)) {
        if (!cf_cli_error_reported())
            fprintf(stderr, "coffer: %s\n", cf_error_detail());
        code = cf_cli_usage_failed() ? CF_CLI_EXIT_USAGE : CF_CLI_EXIT_FAIL;
    } else {
        code = cli.exit_code;
    }
    if (fflush(stdout) != 0 && code == CF_CLI_EXIT_OK) {
        fprintf(stderr, "coffer: cannot write the output\n");
        code = CF_CLI_EXIT_FAIL;
    }
    curl_global_cleanup();
    return code;
}
