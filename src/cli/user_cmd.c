/*
 * coffer user ...: people who sign in to the console (the vault's
 * /coffer/users API, docs/users.md).
 *
 *   user create NAME --password-file FILE|- [--totp]
 *   user list | show NAME | delete NAME
 *   user reset-password NAME --password-file FILE|-
 *
 * Passwords come from a file or standard input, never from the command
 * line (which other users see in the process list); one trailing newline
 * is dropped, as `echo` and editors add one.  They are read into secret
 * memory and go from there into the request body only.  A user enrolled
 * with --totp gets its one-time-code secret as an otpauth:// URI, printed
 * this once (an authenticator app reads it, e.g. from a QR code made with
 * `qrencode`); the vault keeps it sealed.  Users are addressed by name;
 * the command finds the object id in the listing.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "fsutil.h"
#include "password.h"

static bool cf_password_opt(const cf_cli *cli, cf_buf *out)
{
    const char *file = cf_cli_opt(cli, "password-file");
    if (!file)
        return cf_cli_usage("--password-file FILE (or - for standard input) is required; a "
                            "password is never taken from the command line");
    bool from_stdin = strcmp(file, "-") == 0;
    bool ok = from_stdin ? cf_cli_read_stdin(out) : cf_read_file(file, out->max, out);
    if (!ok && cf_error_code() == CF_ERR_TOO_LARGE)
        return cf_cli_usage("the password is longer than %d bytes", CF_PASSWORD_MAX);
    if (!ok)
        return cf_cli_usage("--password-file %.128s: %s", file, cf_error_detail());
    if (out->len && out->data[out->len - 1] == '\n')
        out->len--;
    if (out->len && out->data[out->len - 1] == '\r')
        out->len--;
    return true;
}

/* {"password": ...} (and more members from the caller) in a body whose
 * strings live in jansson's wiping allocator (client.c). */
static bool cf_password_body(const cf_cli *cli, json_t *body)
{
    cf_buf password;
    cf_buf_init_secret(&password, CF_PASSWORD_MAX + 2);
    bool ok = cf_password_opt(cli, &password);
    json_t *v = ok ? json_stringn((const char *)password.data, password.len) : NULL;
    cf_buf_free(&password);
    if (ok && !v)
        return cf_cli_usage("the password must be UTF-8 text");
    CF_GUARD(ok);
    CF_ENSURE(json_object_set_new(body, "password", v) == 0, CF_ERR_NOMEM, NULL);
    return true;
}

static void cf_print_user(json_t *u)
{
    char t[64];
    cf_out_line("object_id:", json_string_value(json_object_get(u, "object_id")));
    cf_out_line("name:", json_string_value(json_object_get(u, "name")));
    cf_out_line("one-time codes:", json_is_true(json_object_get(u, "totp")) ? "yes" : "no");
    cf_out_time((long long)json_integer_value(json_object_get(u, "created")), t, sizeof t);
    cf_out_line("created:", t);
    cf_out_time((long long)json_integer_value(json_object_get(u, "password_changed")), t, sizeof t);
    cf_out_line("password changed:", t);
    json_int_t locked = json_integer_value(json_object_get(u, "locked_until"));
    if (locked > (json_int_t)time(NULL)) {
        cf_out_time((long long)locked, t, sizeof t);
        cf_out_line("locked until:", t);
    }
}

/* The object id of the user called `name` (any case), from the listing. */
static bool cf_user_oid(cf_cli *cli, const char *name, char oid[40])
{
    json_t *reply = NULL;
    CF_GUARD(cf_cli_call(cli->client, "GET", "/coffer/users", NULL, &reply));
    size_t i;
    json_t *u;
    bool found = false;
    json_array_foreach(json_object_get(reply, "value"), i, u)
    {
        const char *n = json_string_value(json_object_get(u, "name"));
        const char *id = json_string_value(json_object_get(u, "object_id"));
        if (!found && n && id && strcasecmp(n, name) == 0 && cf_cli_is_guid(id)) {
            snprintf(oid, 40, "%s", id);
            found = true;
        }
    }
    json_decref(reply);
    CF_ENSURE(found, CF_ERR_NOT_FOUND, "no such user");
    return true;
}

static bool cf_user_path(cf_cli *cli, const char *suffix, char *path, size_t len)
{
    char oid[40];
    CF_GUARD(cf_user_oid(cli, cli->args->pos[0], oid));
    snprintf(path, len, "/coffer/users/%s%s", oid, suffix);
    return true;
}

bool cf_cmd_user_create(cf_cli *cli)
{
    json_t *body = json_object(), *reply = NULL;
    CF_ENSURE_ALLOC(body);
    bool ok = json_object_set_new(body, "name", json_string(cli->args->pos[0])) == 0 &&
              json_object_set_new(body, "totp", json_boolean(cf_cli_flag(cli, "totp"))) == 0 &&
              cf_password_body(cli, body) &&
              cf_cli_call(cli->client, "POST", "/coffer/users", body, &reply);
    json_decref(body);
    CF_GUARD(ok);
    CF_ENSURE(reply, CF_ERR_IO, "the vault returned an empty reply");
    const char *uri = json_string_value(json_object_get(reply, "totp_uri"));
    if (cli->json) {
        cf_out_json(reply);
    } else {
        cf_print_user(reply);
        cf_out_line("totp_uri:", uri);
    }
    fflush(stdout);
    if (uri)
        fprintf(stderr, "coffer: note: the one-time-code URI above is shown only this once; add "
                        "it to the user's authenticator app now\n");
    json_decref(reply);
    return true;
}

bool cf_cmd_user_list(cf_cli *cli)
{
    json_t *reply = NULL;
    CF_GUARD(cf_cli_call(cli->client, "GET", "/coffer/users", NULL, &reply));
    json_t *value = json_object_get(reply, "value");
    if (!json_is_array(value)) {
        json_decref(reply);
        CF_BAIL(CF_ERR_IO, "the vault's listing has no \"value\" array");
    }
    if (cli->json) {
        cf_out_json(reply);
    } else {
        printf("%-38s%-6s%-22s%s\n", "OBJECT_ID", "TOTP", "CREATED", "NAME");
        size_t i;
        json_t *u;
        json_array_foreach(value, i, u)
        {
            char created[64];
            cf_out_time((long long)json_integer_value(json_object_get(u, "created")), created,
                        sizeof created);
            cf_out_cell(json_string_value(json_object_get(u, "object_id")), 38);
            cf_out_cell(json_is_true(json_object_get(u, "totp")) ? "yes" : "no", 6);
            cf_out_cell(created, 22);
            cf_out_cell(json_string_value(json_object_get(u, "name")), 0);
            fputc('\n', stdout);
        }
    }
    json_decref(reply);
    return true;
}

bool cf_cmd_user_show(cf_cli *cli)
{
    char path[128];
    json_t *reply = NULL;
    CF_GUARD(cf_user_path(cli, "", path, sizeof path));
    CF_GUARD(cf_cli_call(cli->client, "GET", path, NULL, &reply));
    CF_ENSURE(reply, CF_ERR_IO, "the vault returned an empty reply");
    if (cli->json)
        cf_out_json(reply);
    else
        cf_print_user(reply);
    json_decref(reply);
    return true;
}

bool cf_cmd_user_delete(cf_cli *cli)
{
    char path[128];
    json_t *reply = NULL;
    CF_GUARD(cf_user_path(cli, "", path, sizeof path));
    CF_GUARD(cf_cli_call(cli->client, "DELETE", path, NULL, &reply));
    json_decref(reply);
    if (!cli->json)
        printf("deleted user %s\n", cli->args->pos[0]);
    return true;
}

bool cf_cmd_user_reset_password(cf_cli *cli)
{
    char path[160];
    json_t *body = json_object(), *reply = NULL;
    CF_ENSURE_ALLOC(body);
    bool ok = cf_password_body(cli, body) && cf_user_path(cli, "/password", path, sizeof path) &&
              cf_cli_call(cli->client, "POST", path, body, &reply);
    json_decref(body);
    json_decref(reply);
    CF_GUARD(ok);
    if (!cli->json)
        printf("password of %s reset\n", cli->args->pos[0]);
    return true;
}
