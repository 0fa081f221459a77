/*
 * coffer principal ...: the vault's own directory of service principals and
 * managed identities (Coffer's /coffer/principals API; Azure keeps these in
 * Entra ID, outside Key Vault).
 *
 *   principal create --name NAME [--kind sp|mi] [--secret-expires-days N]
 *   principal list | show OBJECT_ID | delete OBJECT_ID
 *   principal secret-rotate OBJECT_ID [--secret-expires-days N] [--remove-old]
 *
 * One-time credentials.  create and secret-rotate print the credential the
 * service returns (client_secret for a service principal, identity_header
 * for a managed identity); the vault keeps only a hash, so this is the one
 * chance to see it.  The credential stays inside the parsed reply (secret
 * reply buffer, then jansson's wiping allocator, see client.c) and goes
 * from there to stdout only: it is never copied, logged or put into an
 * error message.  The reminder that it cannot be shown again goes to stderr,
 * so that stdout can be redirected into a file and the user still sees it.
 *
 * secret-rotate --remove-old lists the principal's secrets before adding
 * the new one, then deletes exactly those: "older" means "existed before",
 * so a secret someone else adds meanwhile survives.  Nothing is deleted
 * until the new secret exists, and the new secret is printed even when a
 * deletion fails (the command then exits 1).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define CF_PRINCIPAL_SECRETS_MAX 64 /* the vault allows 32 per principal */

/* ---- shared with role_cmd.c ---- */

bool cf_cli_is_guid(const char *s)
{
    bool ok = strlen(s) == 36;
    for (size_t i = 0; ok && i < 36; i++) {
        char c = s[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        ok = dash ? c == '-'
                  : (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }
    return ok;
}

bool cf_cli_check_guid(const char *what, const char *s)
{
    if (!cf_cli_is_guid(s))
        return cf_cli_usage("invalid %s '%.64s': expected a GUID", what, s);
    return true;
}

void cf_out_line(const char *label, const char *value)
{
    if (!value)
        return;
    printf("%-18s", label);
    cf_out_str(stdout, value);
    fputc('\n', stdout);
}

void cf_out_cell(const char *s, int width)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : "-"); *p; p++, n++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, stdout);
    for (; n < width; n++)
        fputc(' ', stdout);
}

/* ---- request pieces ---- */

/* Object ids go into the URL path: GUIDs only. */
static bool cf_principal_path(char *out, size_t len, const char *oid, const char *suffix)
{
    CF_GUARD(cf_cli_check_guid("object id", oid));
    int n = snprintf(out, len, "/coffer/principals/%s%s", oid, suffix);
    CF_ENSURE(n > 0 && (size_t)n < len, CF_ERR_BAD_INPUT, "path too long");
    return true;
}

static bool cf_set_new(json_t *obj, const char *key, json_t *value)
{
    CF_ENSURE(value && json_object_set_new(obj, key, value) == 0, CF_ERR_NOMEM, NULL);
    return true;
}

/* --secret-expires-days N (1..3650, the service's range) into the body. */
static bool cf_expiry_opt(const cf_cli *cli, json_t *body)
{
    const char *days = cf_cli_opt(cli, "secret-expires-days");
    if (!days)
        return true;
    long long v;
    CF_GUARD(cf_cli_parse_int("secret-expires-days", days, 1, 3650, &v));
    return cf_set_new(body, "secret_expires_in_days", json_integer(v));
}

/* "sp"/"mi" (or the service's own spelling) -> the service's spelling. */
static bool cf_kind_opt(const cf_cli *cli, const char **kind)
{
    const char *k = cf_cli_opt(cli, "kind");
    if (!k || strcmp(k, "sp") == 0 || strcmp(k, "servicePrincipal") == 0)
        *kind = "servicePrincipal";
    else if (strcmp(k, "mi") == 0 || strcmp(k, "managedIdentity") == 0)
        *kind = "managedIdentity";
    else
        return cf_cli_usage("--kind: expected 'sp' or 'mi'");
    return true;
}

/* ---- rendering ---- */

static void cf_line_time(const char *label, json_t *v, const char *absent)
{
    char t[64];
    if (json_is_integer(v))
        cf_out_time((long long)json_integer_value(v), t, sizeof t);
    else
        snprintf(t, sizeof t, "%s", absent);
    cf_out_line(label, t);
}

static void cf_print_principal(json_t *p)
{
    cf_out_line("object_id:", json_string_value(json_object_get(p, "object_id")));
    cf_out_line("client_id:", json_string_value(json_object_get(p, "client_id")));
    cf_out_line("name:", json_string_value(json_object_get(p, "name")));
    cf_out_line("kind:", json_string_value(json_object_get(p, "kind")));
    cf_line_time("created:", json_object_get(p, "created"), "-");
}

/* The one-time credential of a create or secret-rotate reply. */
static void cf_print_credential(json_t *reply)
{
    const char *secret = json_string_value(json_object_get(reply, "client_secret"));
    const char *header = json_string_value(json_object_get(reply, "identity_header"));
    cf_out_line("client_secret:", secret);
    cf_out_line("identity_header:", header);
    json_t *id = json_object_get(reply, "secret_id");
    if (json_is_integer(id))
        printf("%-18s%lld\n", "secret_id:", (long long)json_integer_value(id));
    cf_line_time("secret_expires:", json_object_get(reply, "secret_expires"), "never");
    fflush(stdout); /* the note comes after the credential on a terminal */
    if (secret || header)
        fprintf(stderr,
                "coffer: note: the %s above is shown only this once and cannot be "
                "retrieved again; store it now\n",
                secret ? "client secret" : "identity header");
}

/* ---- create, list, show, delete ---- */

bool cf_cmd_principal_create(cf_cli *cli)
{
    const char *name = cf_cli_opt(cli, "name");
    const char *kind = NULL;
    if (!name || !*name)
        return cf_cli_usage("principal create: --name NAME is required");
    CF_GUARD(cf_kind_opt(cli, &kind));
    json_t *body = json_object(), *reply = NULL;
    CF_ENSURE_ALLOC(body);
    bool ok = cf_set_new(body, "name", json_string(name)) &&
              cf_set_new(body, "kind", json_string(kind)) && cf_expiry_opt(cli, body) &&
              cf_cli_call(cli->client, "POST", "/coffer/principals", body, &reply);
    json_decref(body);
    CF_GUARD(ok);
    CF_ENSURE(reply, CF_ERR_IO, "the vault returned an empty reply");
    if (cli->json) {
        cf_out_json(reply);
    } else {
        cf_print_principal(reply);
        cf_print_credential(reply);
    }
    json_decref(reply);
    return true;
}

static void cf_print_principal_table(json_t *items)
{
    printf("%-38s%-38s%-18s%-22s%s\n", "OBJECT_ID", "CLIENT_ID", "KIND", "CREATED", "NAME");
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        char created[64];
        cf_out_time((long long)json_integer_value(json_object_get(item, "created")), created,
                    sizeof created);
        cf_out_cell(json_string_value(json_object_get(item, "object_id")), 38);
        cf_out_cell(json_string_value(json_object_get(item, "client_id")), 38);
        cf_out_cell(json_string_value(json_object_get(item, "kind")), 18);
        cf_out_cell(created, 22);
        cf_out_cell(json_string_value(json_object_get(item, "name")), 0);
        fputc('\n', stdout);
    }
}

bool cf_cmd_principal_list(cf_cli *cli)
{
    json_t *reply = NULL;
    CF_GUARD(cf_cli_call(cli->client, "GET", "/coffer/principals", NULL, &reply));
    json_t *value = json_object_get(reply, "value");
    if (!json_is_array(value)) {
        json_decref(reply);
        CF_BAIL(CF_ERR_IO, "the vault's listing has no \"value\" array");
    }
    if (cli->json)
        cf_out_json(reply);
    else
        cf_print_principal_table(value);
    json_decref(reply);
    return true;
}

/* Credential metadata of a show reply: one line each. */
static void cf_print_secrets(json_t *secrets)
{
    size_t i;
    json_t *s;
    if (json_array_size(secrets) == 0)
        cf_out_line("secrets:", "none");
    json_array_foreach(secrets, i, s)
    {
        char created[64], expires[64];
        cf_out_time((long long)json_integer_value(json_object_get(s, "created")), created,
                    sizeof created);
        json_t *exp = json_object_get(s, "expires");
        if (json_is_integer(exp))
            cf_out_time((long long)json_integer_value(exp), expires, sizeof expires);
        else
            snprintf(expires, sizeof expires, "never");
        printf("%-18s%lld (created %s, expires %s)\n",
               "secret:", (long long)json_integer_value(json_object_get(s, "id")), created,
               expires);
    }
}

bool cf_cmd_principal_show(cf_cli *cli)
{
    char path[256];
    json_t *reply = NULL;
    CF_GUARD(cf_principal_path(path, sizeof path, cli->args->pos[0], ""));
    CF_GUARD(cf_cli_call(cli->client, "GET", path, NULL, &reply));
    CF_ENSURE(reply, CF_ERR_IO, "the vault returned an empty reply");
    if (cli->json) {
        cf_out_json(reply);
    } else {
        cf_print_principal(reply);
        cf_print_secrets(json_object_get(reply, "secrets"));
    }
    json_decref(reply);
    return true;
}

bool cf_cmd_principal_delete(cf_cli *cli)
{
    char path[256];
    json_t *reply = NULL;
    CF_GUARD(cf_principal_path(path, sizeof path, cli->args->pos[0], ""));
    CF_GUARD(cf_cli_call(cli->client, "DELETE", path, NULL, &reply));
    if (cli->json)
        cf_out_json(reply); /* 204: nothing, as for key purge */
    else
        printf("deleted principal %s (with its secrets and role assignments)\n", cli->args->pos[0]);
    json_decref(reply);
    return true;
}

/* ---- secret-rotate ---- */

/* The ids of the principal's current secrets. */
static bool cf_secret_ids(cf_cli *cli, const char *oid, long long *ids, size_t max, size_t *n)
{
    char path[256];
    json_t *reply = NULL;
    *n = 0;
    CF_GUARD(cf_principal_path(path, sizeof path, oid, ""));
    CF_GUARD(cf_cli_call(cli->client, "GET", path, NULL, &reply));
    json_t *secrets = json_object_get(reply, "secrets");
    bool ok = json_is_array(secrets) && json_array_size(secrets) <= max;
    size_t i;
    json_t *s;
    json_array_foreach(secrets, i, s)
    {
        json_t *id = json_object_get(s, "id");
        ok = ok && json_is_integer(id) && json_integer_value(id) > 0;
        if (ok)
            ids[(*n)++] = (long long)json_integer_value(id);
    }
    json_decref(reply);
    CF_ENSURE(ok, CF_ERR_IO, "the vault's principal has no usable \"secrets\" list");
    return true;
}

/* Deletes the listed secrets; `removed` gets the ids that are gone. */
static bool cf_remove_secrets(cf_cli *cli, const char *oid, const long long *ids, size_t n,
                              json_t *removed)
{
    for (size_t i = 0; i < n; i++) {
        char suffix[64], path[256];
        json_t *reply = NULL;
        snprintf(suffix, sizeof suffix, "/secrets/%lld", ids[i]);
        CF_GUARD(cf_principal_path(path, sizeof path, oid, suffix));
        CF_GUARD(cf_cli_call(cli->client, "DELETE", path, NULL, &reply));
        json_decref(reply);
        CF_ENSURE(json_array_append_new(removed, json_integer(ids[i])) == 0, CF_ERR_NOMEM, NULL);
    }
    return true;
}

static void cf_print_rotation(cf_cli *cli, json_t *reply, json_t *removed, bool remove_old)
{
    if (cli->json) {
        if (remove_old)
            json_object_set(reply, "removed_secret_ids", removed);
        cf_out_json(reply);
        return;
    }
    cf_out_line("object_id:", cli->args->pos[0]);
    cf_print_credential(reply);
    size_t i;
    json_t *id;
    json_array_foreach(removed, i, id)
        printf("%-18s%lld\n", "removed_secret:", (long long)json_integer_value(id));
}

bool cf_cmd_principal_rotate(cf_cli *cli)
{
    const char *oid = cli->args->pos[0];
    bool remove_old = cf_cli_flag(cli, "remove-old");
    CF_GUARD(cf_cli_check_guid("object id", oid)); /* before anything is sent */
    long long old[CF_PRINCIPAL_SECRETS_MAX];
    size_t n_old = 0;
    char path[256];
    json_t *body = json_object(), *reply = NULL;
    CF_ENSURE_ALLOC(body);
    bool ok = cf_expiry_opt(cli, body) &&
              (!remove_old || cf_secret_ids(cli, oid, old, CF_PRINCIPAL_SECRETS_MAX, &n_old)) &&
              cf_principal_path(path, sizeof path, oid, "/secrets") &&
              cf_cli_call(cli->client, "POST", path, body, &reply);
    json_decref(body);
    CF_GUARD(ok);
    CF_ENSURE(reply, CF_ERR_IO, "the vault returned an empty reply");
    json_t *removed = json_array();
    /* The new secret is printed whatever happens to the old ones. */
    ok = removed && (!remove_old || cf_remove_secrets(cli, oid, old, n_old, removed));
    if (!removed)
        CF_RAISE(CF_ERR_NOMEM, NULL);
    cf_print_rotation(cli, reply, removed, remove_old);
    json_decref(removed);
    json_decref(reply);
    return ok;
}
