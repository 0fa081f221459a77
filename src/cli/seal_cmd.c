/*
 * coffer seal show|migrate --data-dir DIR
 *
 * Local commands on a service's data directory (no connection): `show`
 * prints which seal holds its root key; `migrate` moves a directory from
 * the development file seal onto a PKCS#11 token (the embedded SoftHSM2
 * token under DIR/hsm unless --pkcs11-module/--pkcs11-token name another)
 * and destroys the file seal's key.  The service must be stopped: the
 * directory lock (DIR/service.lock) makes sure of it.  The move is
 * crash-safe (seal_dir.h): until seal.json is switched in one rename, the
 * directory stays on the file seal and the command can simply run again.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fsutil.h"
#include "seal_dir.h"

static bool cf_seal_dir_arg(cf_cli *cli, const char **dir, const char **service)
{
    *dir = cf_cli_opt(cli, "data-dir");
    if (!*dir)
        return cf_cli_usage("--data-dir DIR is required");
    return cf_seal_dir_service(*dir, service);
}

bool cf_cmd_seal_show(cf_cli *cli)
{
    const char *dir, *service;
    CF_GUARD(cf_seal_dir_arg(cli, &dir, &service));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/seal.json", dir);
    cf_buf text;
    cf_buf_init(&text, 8192);
    bool ok = cf_read_file(path, 8192, &text);
    json_t *doc = ok ? json_loadb((const char *)text.data, text.len, 0, NULL) : NULL;
    cf_buf_free(&text);
    if (!ok && cf_error_code() == CF_ERR_NOT_FOUND)
        cf_error_raisef(CF_ERR_NOT_FOUND, __FILE__, __LINE__,
                        "%s has no seal.json yet (made before it existed: start the service once)",
                        dir);
    CF_GUARD(ok);
    CF_ENSURE(json_is_object(doc), CF_ERR_IO, "seal.json is damaged");
    /* The wrapped master key is ciphertext, but it is nobody's business. */
    json_object_del(doc, "master_key");
    json_object_del(doc, "master_key_aad");
    json_object_set_new(doc, "service", json_string(service));
    if (cli->json) {
        cf_out_json(doc);
    } else {
        const char *seal = json_string_value(json_object_get(doc, "seal"));
        const char *module = json_string_value(json_object_get(doc, "module"));
        cf_out_line("service", service);
        cf_out_line("seal", seal && strcmp(seal, "file") == 0
                                ? "development file seal (seal.key): move it onto a token"
                                : "PKCS#11 token");
        if (seal && strcmp(seal, "pkcs11") == 0) {
            cf_out_line("module", module && *module ? module : "embedded SoftHSM2 (DIR/hsm)");
            cf_out_line("token", json_string_value(json_object_get(doc, "token")));
            cf_out_line("root key id", json_string_value(json_object_get(doc, "root_key_id")));
            cf_out_line("wrap key id", json_string_value(json_object_get(doc, "wrap_key_id")));
            cf_out_line("unwrap template",
                        json_is_true(json_object_get(doc, "root_unwrap_template"))
                            ? "yes: what the wrap key unwraps stays non-extractable"
                            : "NO: the token did not take one");
        }
    }
    json_decref(doc);
    return true;
}

bool cf_cmd_seal_migrate(cf_cli *cli)
{
    const char *dir, *service;
    CF_GUARD(cf_seal_dir_arg(cli, &dir, &service));
    cf_seal_options opt = {
        .module = cf_cli_opt(cli, "pkcs11-module"),
        .token_label = cf_cli_opt(cli, "pkcs11-token"),
        .pin_file = cf_cli_opt(cli, "pkcs11-pin-file"),
    };
    if ((opt.module != NULL) != (opt.token_label != NULL))
        return cf_cli_usage("--pkcs11-module and --pkcs11-token go together (neither: the "
                            "embedded SoftHSM2 token)");
    char where[400];
    CF_GUARD(cf_seal_dir_migrate(dir, service, &opt, where, sizeof where));
    if (cli->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "data_dir", dir, "service", service, "seal",
                              where, "file_key_destroyed", 1);
        cf_out_json(o);
        json_decref(o);
    } else {
        printf("%s (%s) is now sealed by %s; the development seal key was destroyed\n", dir,
               service, where);
    }
    return true;
}
