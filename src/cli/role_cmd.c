/*
 * coffer role ...: Key Vault RBAC (the data-plane role definitions and role
 * assignments API, as Managed HSM has it).
 *
 *   role definitions
 *   role assign --role NAME|GUID --principal OBJECT_ID [--scope SCOPE]
 *   role list [--principal OBJECT_ID] [--scope SCOPE]
 *   role remove ASSIGNMENT_NAME [--scope SCOPE]
 *
 * Scopes are "/", "/keys", "/secrets", "/keys/NAME" and "/secrets/NAME".
 * The scope is the path prefix of the call: "{scope}/providers/
 * Microsoft.Authorization/roleAssignments/{name}", so scope "/" gives
 * "//providers/..." as the Azure SDKs send it.  Everything that goes into a
 * URL (scope, GUIDs) is checked here first.
 *
 * Role names are resolved through the definitions list (case-insensitive,
 * as Azure compares role names); a GUID or a full definition id is used as
 * given.  Assignment names are fresh version-4 UUIDs, as the SDKs make them.
 *
 * Listing: without --principal, the service lists the assignments that
 * apply at the scope.  With --principal the service filters by principal
 * ($filter=principalId eq '...'), and a --scope given as well keeps the
 * assignments at, above or below it (Azure's meaning of that filter).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "ids.h"

#define CF_RBAC_PATH "/providers/Microsoft.Authorization/"
#define CF_ROLE_DEF_PREFIX "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/"
#define CF_ROLE_PAGES_MAX 10000

/* ---- scopes ---- */

/* --scope (default "/"), checked. */
static bool cf_scope_opt(const cf_cli *cli, const char **scope)
{
    const char *s = cf_cli_opt(cli, "scope");
    *scope = s ? s : "/";
    if (!s || strcmp(s, "/") == 0 || strcasecmp(s, "/keys") == 0 || strcasecmp(s, "/secrets") == 0)
        return true;
    const char *name = NULL;
    if (strncasecmp(s, "/keys/", 6) == 0)
        name = s + 6;
    else if (strncasecmp(s, "/secrets/", 9) == 0)
        name = s + 9;
    if (name && cf_cli_check_name(name))
        return true;
    return cf_cli_usage("--scope: expected /, /keys, /secrets, /keys/NAME or /secrets/NAME");
}

/* Whether assignment scope `a` covers `b`: "/" covers all, otherwise equal
 * or an ancestor, segment-wise and case-insensitively. */
static bool cf_scope_covers(const char *a, const char *b)
{
    size_t n = strlen(a);
    while (n > 0 && a[n - 1] == '/')
        n--;
    return n == 0 || (strncasecmp(a, b, n) == 0 && (b[n] == 0 || b[n] == '/'));
}

/* "{scope}/providers/Microsoft.Authorization/{rest}". */
static bool cf_rbac_path(char *out, size_t len, const char *scope, const char *rest)
{
    int n = snprintf(out, len, "%s" CF_RBAC_PATH "%s", scope, rest);
    CF_ENSURE(n > 0 && (size_t)n < len, CF_ERR_BAD_INPUT, "path too long");
    return true;
}

/* ---- role definitions ---- */

/* The definitions list; the caller owns *defs (the "value" array). */
static bool cf_definitions(cf_cli *cli, json_t **reply, json_t **defs)
{
    CF_GUARD(cf_cli_call(cli->client, "GET", CF_RBAC_PATH "roleDefinitions", NULL, reply));
    *defs = json_object_get(*reply, "value");
    if (json_is_array(*defs))
        return true;
    json_decref(*reply);
    *reply = NULL;
    CF_BAIL(CF_ERR_IO, "the vault's role definitions have no \"value\" array");
}

static const char *cf_def_role_name(json_t *def)
{
    return json_string_value(json_object_get(json_object_get(def, "properties"), "roleName"));
}

/* The role name for a definition GUID, or NULL. */
static const char *cf_role_name_of(json_t *defs, const char *guid)
{
    size_t i;
    json_t *def;
    json_array_foreach(defs, i, def)
    {
        const char *name = json_string_value(json_object_get(def, "name"));
        if (name && guid && strcasecmp(name, guid) == 0)
            return cf_def_role_name(def);
    }
    return NULL;
}

/* The GUID at the end of a roleDefinitionId. */
static const char *cf_guid_tail(const char *id)
{
    const char *slash = id ? strrchr(id, '/') : NULL;
    return slash ? slash + 1 : id;
}

bool cf_cmd_role_definitions(cf_cli *cli)
{
    json_t *reply = NULL, *defs = NULL;
    CF_GUARD(cf_definitions(cli, &reply, &defs));
    if (cli->json) {
        cf_out_json(reply);
        json_decref(reply);
        return true;
    }
    int width = 9;
    size_t i;
    json_t *def;
    json_array_foreach(defs, i, def)
    {
        const char *name = cf_def_role_name(def);
        if (name && (int)strlen(name) > width)
            width = (int)strlen(name);
    }
    width += 2;
    printf("%-*s%s\n", width, "ROLE NAME", "ID");
    json_array_foreach(defs, i, def)
    {
        cf_out_cell(cf_def_role_name(def), width);
        cf_out_cell(json_string_value(json_object_get(def, "name")), 0);
        fputc('\n', stdout);
    }
    json_decref(reply);
    return true;
}

/* --role as a definition GUID: a GUID or definition id as given, a name
 * looked up in the definitions.  `guid` holds CF_UUID_LEN + 1. */
static bool cf_resolve_role(cf_cli *cli, const char *role, char *guid)
{
    const char *tail = cf_guid_tail(role);
    size_t prefix = strlen(CF_ROLE_DEF_PREFIX);
    bool is_id =
        (size_t)(tail - role) == prefix && strncasecmp(role, CF_ROLE_DEF_PREFIX, prefix) == 0;
    if (is_id)
        CF_GUARD(cf_cli_check_guid("--role", tail));
    if (is_id || cf_cli_is_guid(role)) {
        snprintf(guid, CF_UUID_LEN + 1, "%s", tail);
        return true;
    }
    json_t *reply = NULL, *defs = NULL;
    CF_GUARD(cf_definitions(cli, &reply, &defs));
    const char *found = NULL;
    size_t i;
    json_t *def;
    json_array_foreach(defs, i, def)
    {
        const char *name = cf_def_role_name(def);
        if (name && strcasecmp(name, role) == 0)
            found = json_string_value(json_object_get(def, "name"));
        if (found)
            break;
    }
    bool ok = found && strlen(found) == CF_UUID_LEN;
    if (ok)
        snprintf(guid, CF_UUID_LEN + 1, "%s", found);
    json_decref(reply);
    if (!ok)
        return cf_cli_usage("--role: no role named '%.64s' (see 'coffer role definitions')", role);
    return true;
}

/* ---- assignments: rendering ---- */

static void cf_print_assignment(json_t *a, json_t *defs)
{
    json_t *props = json_object_get(a, "properties");
    const char *role_id = json_string_value(json_object_get(props, "roleDefinitionId"));
    cf_out_line("name:", json_string_value(json_object_get(a, "name")));
    cf_out_line("role:", cf_role_name_of(defs, cf_guid_tail(role_id)));
    cf_out_line("role_id:", cf_guid_tail(role_id));
    cf_out_line("principal_id:", json_string_value(json_object_get(props, "principalId")));
    cf_out_line("scope:", json_string_value(json_object_get(props, "scope")));
    cf_out_line("id:", json_string_value(json_object_get(a, "id")));
}

static void cf_print_assignment_table(json_t *items, json_t *defs)
{
    int width = 4;
    size_t i;
    json_t *a;
    json_array_foreach(items, i, a)
    {
        json_t *props = json_object_get(a, "properties");
        const char *role_id = json_string_value(json_object_get(props, "roleDefinitionId"));
        const char *role = cf_role_name_of(defs, cf_guid_tail(role_id));
        int n = (int)strlen(role ? role : "-");
        if (n > width)
            width = n;
    }
    width += 2;
    printf("%-38s%-*s%-38s%s\n", "NAME", width, "ROLE", "PRINCIPAL", "SCOPE");
    json_array_foreach(items, i, a)
    {
        json_t *props = json_object_get(a, "properties");
        const char *role_id = json_string_value(json_object_get(props, "roleDefinitionId"));
        const char *role = cf_role_name_of(defs, cf_guid_tail(role_id));
        cf_out_cell(json_string_value(json_object_get(a, "name")), 38);
        cf_out_cell(role ? role : cf_guid_tail(role_id), width);
        cf_out_cell(json_string_value(json_object_get(props, "principalId")), 38);
        cf_out_cell(json_string_value(json_object_get(props, "scope")), 0);
        fputc('\n', stdout);
    }
}

/* Prints one assignment reply; the readable form names the role. */
static bool cf_assignment_out(cf_cli *cli, json_t *reply, const char *verb)
{
    CF_ENSURE(reply, CF_ERR_IO, "the vault returned an empty reply");
    if (cli->json) {
        cf_out_json(reply);
        return true;
    }
    json_t *defs_reply = NULL, *defs = NULL;
    CF_GUARD(cf_definitions(cli, &defs_reply, &defs));
    if (verb)
        printf("%s\n", verb);
    cf_print_assignment(reply, defs);
    json_decref(defs_reply);
    return true;
}

/* ---- assign, remove ---- */

bool cf_cmd_role_assign(cf_cli *cli)
{
    const char *role = cf_cli_opt(cli, "role");
    const char *principal = cf_cli_opt(cli, "principal");
    const char *scope;
    if (!role || !*role)
        return cf_cli_usage("role assign: --role NAME|GUID is required");
    if (!principal)
        return cf_cli_usage("role assign: --principal OBJECT_ID is required");
    CF_GUARD(cf_cli_check_guid("--principal", principal));
    CF_GUARD(cf_scope_opt(cli, &scope));
    char role_guid[CF_UUID_LEN + 1], name[CF_UUID_LEN + 1], rest[128], path[512];
    CF_GUARD(cf_resolve_role(cli, role, role_guid));
    CF_GUARD(cf_uuid_v4(name));
    snprintf(rest, sizeof rest, "roleAssignments/%s", name);
    CF_GUARD(cf_rbac_path(path, sizeof path, scope, rest));
    char role_id[sizeof CF_ROLE_DEF_PREFIX + CF_UUID_LEN];
    snprintf(role_id, sizeof role_id, CF_ROLE_DEF_PREFIX "%s", role_guid);
    json_t *body = json_pack("{s:{s:s, s:s}}", "properties", "roleDefinitionId", role_id,
                             "principalId", principal);
    CF_ENSURE_ALLOC(body);
    json_t *reply = NULL;
    bool ok = cf_cli_call(cli->client, "PUT", path, body, &reply);
    json_decref(body);
    ok = ok && cf_assignment_out(cli, reply, NULL);
    json_decref(reply);
    return ok;
}

bool cf_cmd_role_remove(cf_cli *cli)
{
    const char *scope;
    char rest[128], path[512];
    CF_GUARD(cf_cli_check_guid("assignment name", cli->args->pos[0]));
    CF_GUARD(cf_scope_opt(cli, &scope));
    snprintf(rest, sizeof rest, "roleAssignments/%s", cli->args->pos[0]);
    CF_GUARD(cf_rbac_path(path, sizeof path, scope, rest));
    json_t *reply = NULL;
    bool ok = cf_cli_call(cli->client, "DELETE", path, NULL, &reply) &&
              cf_assignment_out(cli, reply, "removed role assignment:");
    json_decref(reply);
    return ok;
}

/* ---- list ---- */

/* Appends the items of every page to `all` (nextLink is followed). */
static bool cf_collect(cf_cli *cli, const char *first, json_t *all)
{
    char next[4096];
    snprintf(next, sizeof next, "%s", first);
    for (long pages = 0; next[0]; pages++) {
        CF_ENSURE(pages < CF_ROLE_PAGES_MAX, CF_ERR_IO, "the listing does not end");
        json_t *reply = NULL;
        CF_GUARD(cf_cli_call(cli->client, "GET", next, NULL, &reply));
        json_t *value = json_object_get(reply, "value");
        const char *link = json_string_value(json_object_get(reply, "nextLink"));
        bool ok = json_is_array(value) && json_array_extend(all, value) == 0;
        int n = link && *link ? snprintf(next, sizeof next, "%s", link) : 0;
        if (!link || !*link)
            next[0] = 0;
        json_decref(reply);
        CF_ENSURE(ok, CF_ERR_IO, "the vault's listing has no \"value\" array");
        CF_ENSURE(n >= 0 && (size_t)n < sizeof next, CF_ERR_IO, "nextLink too long");
    }
    return true;
}

/* With --principal and --scope: keeps what lies at, above or below scope. */
static bool cf_keep_related(json_t *all, const char *scope, json_t **kept)
{
    *kept = json_array();
    CF_ENSURE_ALLOC(*kept);
    size_t i;
    json_t *a;
    json_array_foreach(all, i, a)
    {
        const char *s =
            json_string_value(json_object_get(json_object_get(a, "properties"), "scope"));
        if (s && (cf_scope_covers(s, scope) || cf_scope_covers(scope, s)))
            CF_ENSURE(json_array_append(*kept, a) == 0, CF_ERR_NOMEM, NULL);
    }
    return true;
}

static bool cf_list_out(cf_cli *cli, json_t *items)
{
    if (cli->json) {
        json_t *doc = json_pack("{s:O}", "value", items);
        CF_ENSURE_ALLOC(doc);
        cf_out_json(doc);
        json_decref(doc);
        return true;
    }
    json_t *defs_reply = NULL, *defs = NULL;
    CF_GUARD(cf_definitions(cli, &defs_reply, &defs));
    cf_print_assignment_table(items, defs);
    json_decref(defs_reply);
    return true;
}

bool cf_cmd_role_list(cf_cli *cli)
{
    const char *principal = cf_cli_opt(cli, "principal");
    const char *scope;
    if (principal)
        CF_GUARD(cf_cli_check_guid("--principal", principal));
    CF_GUARD(cf_scope_opt(cli, &scope));
    char rest[160], path[512];
    if (principal)
        snprintf(rest, sizeof rest, "roleAssignments?$filter=principalId%%20eq%%20%%27%s%%27",
                 principal);
    else
        snprintf(rest, sizeof rest, "roleAssignments");
    CF_GUARD(cf_rbac_path(path, sizeof path, scope, rest));
    json_t *all = json_array(), *kept = NULL;
    CF_ENSURE_ALLOC(all);
    bool ok = cf_collect(cli, path, all);
    if (ok && principal && cf_cli_opt(cli, "scope"))
        ok = cf_keep_related(all, scope, &kept);
    ok = ok && cf_list_out(cli, kept ? kept : all);
    json_decref(kept);
    json_decref(all);
    return ok;
}
