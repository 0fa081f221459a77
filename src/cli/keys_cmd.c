/*
 * Key management commands: create, import, list, versions, show, update,
 * delete, recover, purge, backup, restore, rotate.  The commands both
 * resources have (list, versions, show, update, delete, recover, purge,
 * backup, restore) also serve `coffer secret` (cli->group), whose own
 * `set` is in secrets_cmd.c.
 *
 * Each command builds the request body the Key Vault REST API documents
 * (attributes always present, epoch seconds for nbf/exp), makes one call
 * (listings follow nextLink) and renders the reply: the service's JSON with
 * --output json, otherwise the readable form of output.c.  Local checks are
 * limited to what must be right before anything is sent (names that go into
 * the URL, integers, file sizes); everything else is the service's to judge,
 * so its error codes reach the user unchanged.
 *
 * The readable `list` table shows each key's type, which list items do not
 * carry (as in Azure): it fetches each listed key once.  `--output json`
 * does not, and prints {"value":[...]} with the items of all pages.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "encoding.h"
#include "fsutil.h"

#define CF_LIST_PAGES_MAX 100000

/* ---- request pieces ---- */

/* What a shared command works on. */
typedef struct {
    const char *collection; /* "/keys/" */
    const char *deleted;    /* "/deletedkeys/" */
    bool secrets;
} cf_res;

static cf_res cf_res_of(const cf_cli *cli)
{
    if (cli->group && strcmp(cli->group, "secret") == 0)
        return (cf_res){"/secrets/", "/deletedsecrets/", true};
    return (cf_res){"/keys/", "/deletedkeys/", false};
}

static bool cf_path(char *out, size_t len, const char *fmt_prefix, const char *name,
                    const char *suffix)
{
    int n = snprintf(out, len, "%s%s%s", fmt_prefix, name, suffix);
    CF_ENSURE(n > 0 && (size_t)n < len, CF_ERR_BAD_INPUT, "path too long");
    return true;
}

/* "/keys/NAME/VERSION" (VERSION may be empty: the latest). */
static bool cf_version_path(const cf_cli *cli, char *out, size_t len)
{
    const char *v = cf_cli_opt(cli, "version");
    int n = snprintf(out, len, "%s%s/%s", cf_res_of(cli).collection, cli->args->pos[0], v ? v : "");
    CF_ENSURE(n > 0 && (size_t)n < len, CF_ERR_BAD_INPUT, "path too long");
    return true;
}

static bool cf_set_new(json_t *obj, const char *key, json_t *value)
{
    CF_ENSURE(value && json_object_set_new(obj, key, value) == 0, CF_ERR_NOMEM, NULL);
    return true;
}

/* "a,b,c" -> ["a","b","c"]; empty items are refused. */
static bool cf_parse_ops(const char *s, json_t *arr)
{
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0)
            return cf_cli_usage("--ops: empty operation name");
        CF_ENSURE(json_array_append_new(arr, json_stringn(p, n)) == 0, CF_ERR_NOMEM, NULL);
        if (!comma)
            return true;
        p = comma + 1;
    }
}

/* "k=v,k2=v2" -> {"k":"v","k2":"v2"}; "" -> {} (clears tags on update). */
static bool cf_parse_tags(const char *s, json_t *obj)
{
    const char *p = s;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (!eq || eq == p)
            return cf_cli_usage("--tags: expected k=v[,k=v...]");
        char key[512];
        size_t kn = (size_t)(eq - p);
        if (kn >= sizeof key)
            return cf_cli_usage("--tags: tag name too long");
        memcpy(key, p, kn);
        key[kn] = 0;
        if (json_object_get(obj, key))
            return cf_cli_usage("--tags: tag '%.64s' given twice", key);
        CF_GUARD(cf_set_new(obj, key, json_stringn(eq + 1, n - kn - 1)));
        if (!comma)
            break;
        p = comma + 1;
    }
    return true;
}

/* --ops, --tags, --content-type and the attributes shared by create,
 * import, update and secret set. */
bool cf_cli_common_body(const cf_cli *cli, json_t *body, json_t *ops_target)
{
    json_t *attrs = json_object();
    CF_GUARD(cf_set_new(body, "attributes", attrs));
    long long t;
    const char *nbf = cf_cli_opt(cli, "not-before");
    const char *exp = cf_cli_opt(cli, "expires");
    if (nbf) {
        CF_GUARD(cf_cli_parse_int("not-before", nbf, 0, 253402300799LL, &t));
        CF_GUARD(cf_set_new(attrs, "nbf", json_integer(t)));
    }
    if (exp) {
        CF_GUARD(cf_cli_parse_int("expires", exp, 0, 253402300799LL, &t));
        CF_GUARD(cf_set_new(attrs, "exp", json_integer(t)));
    }
    if (cf_cli_flag(cli, "enable") && cf_cli_flag(cli, "disable"))
        return cf_cli_usage("--enable and --disable exclude each other");
    if (cf_cli_flag(cli, "disabled") || cf_cli_flag(cli, "disable"))
        CF_GUARD(cf_set_new(attrs, "enabled", json_false()));
    if (cf_cli_flag(cli, "enable"))
        CF_GUARD(cf_set_new(attrs, "enabled", json_true()));
    const char *ops = cf_cli_opt(cli, "ops");
    if (ops) {
        json_t *arr = json_array();
        CF_GUARD(cf_set_new(ops_target, "key_ops", arr));
        CF_GUARD(cf_parse_ops(ops, arr));
    }
    const char *tags = cf_cli_opt(cli, "tags");
    if (tags) {
        json_t *obj = json_object();
        CF_GUARD(cf_set_new(body, "tags", obj));
        CF_GUARD(cf_parse_tags(tags, obj));
    }
    const char *content_type = cf_cli_opt(cli, "content-type");
    if (content_type)
        CF_GUARD(cf_set_new(body, "contentType", json_string(content_type)));
    return true;
}

/* One call whose reply is a key or secret bundle; prints it. */
bool cf_cli_bundle_call(cf_cli *cli, const char *method, const char *path, json_t *body)
{
    json_t *reply = NULL;
    CF_GUARD(cf_cli_call(cli->client, method, path, body, &reply));
    CF_ENSURE(reply, CF_ERR_IO, "the vault returned an empty reply");
    if (cli->json && cli->hide_value)
        json_object_del(reply, "value");
    if (cli->json)
        cf_out_json(reply);
    else if (cf_res_of(cli).secrets)
        cf_out_secret_bundle(reply, !cli->hide_value);
    else
        cf_out_key_bundle(reply);
    json_decref(reply);
    return true;
}

/* ---- create, import ---- */

static bool cf_create_body(const cf_cli *cli, json_t *body)
{
    const char *kty = cf_cli_opt(cli, "kty");
    if (!kty)
        return cf_cli_usage("key create: --kty RSA|EC|oct is required");
    CF_GUARD(cf_set_new(body, "kty", json_string(kty)));
    long long v;
    const char *size = cf_cli_opt(cli, "size");
    if (size) {
        CF_GUARD(cf_cli_parse_int("size", size, 1, 65536, &v));
        CF_GUARD(cf_set_new(body, "key_size", json_integer(v)));
    }
    const char *e = cf_cli_opt(cli, "exponent");
    if (e) {
        CF_GUARD(cf_cli_parse_int("exponent", e, 3, 0xffffffffLL, &v));
        CF_GUARD(cf_set_new(body, "public_exponent", json_integer(v)));
    }
    const char *crv = cf_cli_opt(cli, "curve");
    if (crv)
        CF_GUARD(cf_set_new(body, "crv", json_string(crv)));
    return cf_cli_common_body(cli, body, body);
}

bool cf_cmd_create(cf_cli *cli)
{
    char path[512];
    json_t *body = json_object();
    CF_ENSURE_ALLOC(body);
    bool ok = cf_create_body(cli, body) &&
              cf_path(path, sizeof path, "/keys/", cli->args->pos[0], "/create") &&
              cf_cli_bundle_call(cli, "POST", path, body);
    json_decref(body);
    return ok;
}

/* Loads the JWK file (private key material: a secret buffer, and jansson's
 * allocations are wiped) into body.key. */
static bool cf_import_body(const cf_cli *cli, json_t *body)
{
    if (cf_cli_opt(cli, "pem"))
        return cf_cli_usage("key import: --pem is not supported (libcoffer has no private "
                            "PEM-to-JWK conversion yet); convert the key to a JWK and use --jwk, "
                            "or import it into the HSM with byok-wrap and --byok");
    const char *byok = cf_cli_opt(cli, "byok");
    const char *file = cf_cli_opt(cli, "jwk");
    if ((byok != NULL) == (file != NULL))
        return cf_cli_usage("key import: give one of --jwk FILE or --byok FILE.byok");
    if (byok) {
        json_t *jwk = NULL;
        CF_GUARD(cf_cli_byok_jwk(cli, byok, &jwk));
        CF_GUARD(cf_set_new(body, "key", jwk));
        return cf_cli_common_body(cli, body, jwk);
    }
    if (cf_cli_flag(cli, "hsm"))
        CF_GUARD(cf_set_new(body, "Hsm", json_true()));
    cf_buf text;
    cf_buf_init_secret(&text, CF_CLI_JWK_MAX);
    bool ok = cf_read_file(file, CF_CLI_JWK_MAX, &text);
    json_t *jwk = NULL;
    if (ok) {
        json_error_t jerr;
        jwk = json_loadb((const char *)text.data, text.len, JSON_REJECT_DUPLICATES, &jerr);
    }
    cf_buf_free(&text);
    if (!ok)
        return cf_cli_usage("--jwk %.128s: %s", file, cf_error_detail());
    if (!json_is_object(jwk) || !json_is_string(json_object_get(jwk, "kty"))) {
        json_decref(jwk);
        return cf_cli_usage("--jwk %.128s: not a JSON Web Key (an object with \"kty\")", file);
    }
    CF_GUARD(cf_set_new(body, "key", jwk));
    return cf_cli_common_body(cli, body, jwk);
}

bool cf_cmd_import(cf_cli *cli)
{
    char path[512];
    json_t *body = json_object();
    CF_ENSURE_ALLOC(body);
    bool ok = cf_import_body(cli, body) &&
              cf_path(path, sizeof path, "/keys/", cli->args->pos[0], "") &&
              cf_cli_bundle_call(cli, "PUT", path, body);
    json_decref(body);
    return ok;
}

/* ---- listings ---- */

/* Collects up to `max` (0: all) items of a paged listing into `all`. */
static bool cf_collect(cf_cli *cli, const char *first, long long max, json_t *all)
{
    char next[4096];
    snprintf(next, sizeof next, "%s", first);
    for (long pages = 0; next[0]; pages++) {
        CF_ENSURE(pages < CF_LIST_PAGES_MAX, CF_ERR_IO, "the listing does not end");
        json_t *reply = NULL;
        CF_GUARD(cf_cli_call(cli->client, "GET", next, NULL, &reply));
        json_t *value = json_object_get(reply, "value");
        const char *link = json_string_value(json_object_get(reply, "nextLink"));
        bool ok = json_is_array(value);
        size_t i;
        json_t *item;
        json_array_foreach(value, i, item)
        {
            if (max && (long long)json_array_size(all) >= max)
                break;
            ok = ok && json_array_append(all, item) == 0;
        }
        bool more = link && *link && (!max || (long long)json_array_size(all) < max);
        int n = more ? snprintf(next, sizeof next, "%s", link) : 0;
        if (!more)
            next[0] = 0;
        json_decref(reply);
        CF_ENSURE(ok, CF_ERR_IO, "the vault's listing has no \"value\" array");
        CF_ENSURE(n >= 0 && (size_t)n < sizeof next, CF_ERR_IO, "nextLink too long");
    }
    return true;
}

/* Adds "kty" to each item, from the key itself (list items lack it). */
static bool cf_add_kty(cf_cli *cli, json_t *items)
{
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        char name[256], version[256], path[512];
        cf_out_kid_parts(json_string_value(json_object_get(item, "kid")), name, sizeof name,
                         version, sizeof version);
        if (!name[0] || !cf_cli_check_name(name)) {
            cf_error_clear();
            continue;
        }
        json_t *reply = NULL;
        CF_GUARD(cf_path(path, sizeof path, "/keys/", name, "/"));
        CF_GUARD(cf_cli_call(cli->client, "GET", path, NULL, &reply));
        json_t *kty = json_object_get(json_object_get(reply, "key"), "kty");
        if (json_is_string(kty))
            json_object_set(item, "kty", kty);
        json_decref(reply);
    }
    return true;
}

static bool cf_listing(cf_cli *cli, const char *path_base, bool versions)
{
    long long max = 0;
    const char *m = cf_cli_opt(cli, "max");
    if (m)
        CF_GUARD(cf_cli_parse_int("max", m, 1, 1000000, &max));
    char first[600];
    if (max)
        snprintf(first, sizeof first, "%s?maxresults=%lld", path_base, max < 25 ? max : 25);
    else
        snprintf(first, sizeof first, "%s", path_base);
    json_t *all = json_array();
    CF_ENSURE_ALLOC(all);
    bool ok = cf_collect(cli, first, max, all);
    if (ok && cli->json) {
        json_t *doc = json_pack("{s:O}", "value", all);
        ok = doc != NULL;
        cf_out_json(doc);
        json_decref(doc);
    } else if (ok) {
        bool secrets = cf_res_of(cli).secrets;
        ok = versions || secrets || cf_add_kty(cli, all);
        if (ok)
            cf_out_table(all, versions, secrets);
    }
    json_decref(all);
    return ok;
}

bool cf_cmd_list(cf_cli *cli)
{
    char path[32];
    snprintf(path, sizeof path, "%s", cf_res_of(cli).collection);
    path[strlen(path) - 1] = 0; /* "/keys" */
    return cf_listing(cli, path, false);
}

bool cf_cmd_versions(cf_cli *cli)
{
    char path[512];
    CF_GUARD(cf_path(path, sizeof path, cf_res_of(cli).collection, cli->args->pos[0], "/versions"));
    return cf_listing(cli, path, true);
}

/* ---- single-key commands ---- */

bool cf_cmd_show(cf_cli *cli)
{
    char path[512];
    CF_GUARD(cf_version_path(cli, path, sizeof path));
    return cf_cli_bundle_call(cli, "GET", path, NULL);
}

bool cf_cmd_update(cf_cli *cli)
{
    char path[512];
    json_t *body = json_object();
    CF_ENSURE_ALLOC(body);
    bool ok = cf_cli_common_body(cli, body, body) && cf_version_path(cli, path, sizeof path) &&
              cf_cli_bundle_call(cli, "PATCH", path, body);
    json_decref(body);
    return ok;
}

bool cf_cmd_delete(cf_cli *cli)
{
    char path[512];
    CF_GUARD(cf_path(path, sizeof path, cf_res_of(cli).collection, cli->args->pos[0], ""));
    return cf_cli_bundle_call(cli, "DELETE", path, NULL);
}

bool cf_cmd_recover(cf_cli *cli)
{
    char path[512];
    CF_GUARD(cf_path(path, sizeof path, cf_res_of(cli).deleted, cli->args->pos[0], "/recover"));
    return cf_cli_bundle_call(cli, "POST", path, NULL);
}

bool cf_cmd_rotate(cf_cli *cli)
{
    char path[512];
    CF_GUARD(cf_path(path, sizeof path, "/keys/", cli->args->pos[0], "/rotate"));
    return cf_cli_bundle_call(cli, "POST", path, NULL);
}

bool cf_cmd_purge(cf_cli *cli)
{
    char path[512];
    json_t *reply = NULL;
    CF_GUARD(cf_path(path, sizeof path, cf_res_of(cli).deleted, cli->args->pos[0], ""));
    CF_GUARD(cf_cli_call(cli->client, "DELETE", path, NULL, &reply));
    if (cli->json)
        cf_out_json(reply);
    else
        printf("purged %s\n", cli->args->pos[0]);
    json_decref(reply);
    return true;
}

/* ---- backup, restore ---- */

static bool cf_backup_write(cf_cli *cli, json_t *reply, const char *file)
{
    const char *value = json_string_value(json_object_get(reply, "value"));
    CF_ENSURE(value, CF_ERR_IO, "the vault's backup reply has no \"value\"");
    cf_buf blob;
    cf_buf_init(&blob, CF_CLI_BACKUP_MAX);
    bool ok = cf_base64url_decode(CF_SLICE_STR(value), &blob) &&
              cf_write_file_atomic(file, cf_buf_slice(&blob), 0600);
    if (ok && cli->json)
        cf_out_json(reply);
    else if (ok)
        printf("backup of %s written to %s (%zu bytes)\n", cli->args->pos[0], file, blob.len);
    cf_buf_free(&blob);
    return ok;
}

bool cf_cmd_backup(cf_cli *cli)
{
    const char *file = cf_cli_opt(cli, "file");
    if (!file)
        return cf_cli_usage("%s backup: --file OUT is required", cli->group);
    char path[512];
    json_t *reply = NULL;
    CF_GUARD(cf_path(path, sizeof path, cf_res_of(cli).collection, cli->args->pos[0], "/backup"));
    CF_GUARD(cf_cli_call(cli->client, "POST", path, NULL, &reply));
    bool ok = cf_backup_write(cli, reply, file);
    json_decref(reply);
    return ok;
}

bool cf_cmd_restore(cf_cli *cli)
{
    const char *file = cf_cli_opt(cli, "file");
    if (!file)
        return cf_cli_usage("%s restore: --file IN is required", cli->group);
    cf_buf blob, text;
    cf_buf_init(&blob, CF_CLI_BACKUP_MAX);
    cf_buf_init(&text, CF_CLI_BACKUP_MAX * 2);
    bool ok = cf_read_file(file, CF_CLI_BACKUP_MAX, &blob);
    if (!ok)
        (void)cf_cli_usage("--file %.128s: %s", file, cf_error_detail());
    ok = ok && cf_base64url_encode(cf_buf_slice(&blob), &text);
    json_t *body = ok ? json_pack("{s:s%}", "value", (const char *)text.data, text.len) : NULL;
    cf_buf_free(&blob);
    cf_buf_free(&text);
    CF_GUARD(ok);
    CF_ENSURE_ALLOC(body);
    char path[32];
    snprintf(path, sizeof path, "%srestore", cf_res_of(cli).collection);
    ok = cf_cli_bundle_call(cli, "POST", path, body);
    json_decref(body);
    return ok;
}
