/*
 * Storage Blob Data role assignments for bearer-token callers.
 *
 * Azure keeps these in ARM; coffer-blob keeps them in DIR/roles.json
 * (written whole, atomically, under a lock; at most CF_ROLES_MAX entries)
 * or, when front ends share a PostgreSQL store, in the store (changed in
 * its write transaction, reloaded by every front end when another one
 * announced a change: blob_store.h), and changes them through its /.coffer
 * admin API, which only an account key holder can call.  Three built-in roles with Azure's ids;
 * scope "/" (the account) or "/containers/<name>".
 *
 *   Owner        all container and blob actions, ACLs included
 *   Contributor  containers read/write/delete, blobs read/write/add/delete
 *   Reader       containers/read, blobs/read
 *
 * Service properties are account management in Azure (not a data role):
 * only Shared Key and account SAS reach them.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob_service.h"
#include "fsutil.h"
#include "ids.h"
#include "json_secure.h"
#include "log.h"
#include "units.h"

#define CF_ROLES_MAX 1024
#define CF_ROLES_FILE_MAX CF_MIB

#define BIT(p) (1u << (p))

static const struct {
    const char *id, *name;
    unsigned perms;
} cf_blob_roles_table[] = {
    {"b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "Storage Blob Data Owner",
     BIT(CF_PERM_CONTAINER_READ) | BIT(CF_PERM_CONTAINER_WRITE) | BIT(CF_PERM_CONTAINER_DELETE) |
         BIT(CF_PERM_CONTAINER_ACL_READ) | BIT(CF_PERM_CONTAINER_ACL_WRITE) |
         BIT(CF_PERM_BLOB_READ) | BIT(CF_PERM_BLOB_WRITE) | BIT(CF_PERM_BLOB_ADD) |
         BIT(CF_PERM_BLOB_DELETE) | BIT(CF_PERM_LIST_CONTAINERS) | BIT(CF_PERM_LIST_BLOBS) |
         BIT(CF_PERM_DELEGATION_KEY)},
    {"ba92f5b4-2d11-453d-a403-e96b0029c9fe", "Storage Blob Data Contributor",
     BIT(CF_PERM_CONTAINER_READ) | BIT(CF_PERM_CONTAINER_WRITE) | BIT(CF_PERM_CONTAINER_DELETE) |
         BIT(CF_PERM_BLOB_READ) | BIT(CF_PERM_BLOB_WRITE) | BIT(CF_PERM_BLOB_ADD) |
         BIT(CF_PERM_BLOB_DELETE) | BIT(CF_PERM_LIST_CONTAINERS) | BIT(CF_PERM_LIST_BLOBS) |
         BIT(CF_PERM_DELEGATION_KEY)},
    {"2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "Storage Blob Data Reader",
     BIT(CF_PERM_CONTAINER_READ) | BIT(CF_PERM_BLOB_READ) | BIT(CF_PERM_LIST_CONTAINERS) |
         BIT(CF_PERM_LIST_BLOBS) | BIT(CF_PERM_DELEGATION_KEY)},
};

struct cf_blob_roles {
    pthread_mutex_t lock;
    char path[PATH_MAX];
    json_t *assignments;   /* array of objects */
    cf_blob_store *shared; /* the store holds them (PostgreSQL), or NULL */
    uint64_t seen;         /* the store's generation they were loaded at */
};

static int cf_role_index(const char *role_definition_id)
{
    if (!role_definition_id)
        return -1;
    const char *slash = strrchr(role_definition_id, '/');
    const char *id = slash ? slash + 1 : role_definition_id;
    for (size_t i = 0; i < sizeof cf_blob_roles_table / sizeof cf_blob_roles_table[0]; i++)
        if (strcmp(cf_blob_roles_table[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* Appends the assignments of the roles.json at `path` (none when it does
 * not exist) to `list`. */
static bool cf_blob_roles_load_file(const char *path, json_t *list)
{
    if (!cf_file_exists(path))
        return true;
    cf_buf text;
    cf_buf_init(&text, CF_ROLES_FILE_MAX);
    bool ok = cf_read_file(path, CF_ROLES_FILE_MAX, &text);
    json_t *doc = ok ? json_loadb((const char *)text.data, text.len, 0, NULL) : NULL;
    cf_buf_free(&text);
    json_t *stored = json_object_get(doc, "assignments");
    ok = json_is_array(stored) && json_array_extend(list, stored) == 0;
    json_decref(doc);
    CF_ENSURE(ok, CF_ERR_IO, "roles.json is not a valid role assignment file");
    return true;
}

/* Shared: the store's copy, reloaded when another front end changed it.
 * A failed reload keeps the copy held (logged): no request is refused or
 * allowed on an error's account, and the next one tries again. */
static void cf_roles_refresh_locked(cf_blob_roles *r)
{
    if (!r->shared)
        return;
    uint64_t now = cf_blob_store_generation(r->shared);
    if (now == r->seen)
        return;
    json_t *list = NULL;
    if (!cf_blob_store_roles_get(r->shared, &list)) {
        cf_log(CF_LOG_ERROR, NULL, "reloading role assignments: %s", cf_error_detail());
        return;
    }
    json_decref(r->assignments);
    r->assignments = list ? list : json_array();
    r->seen = now;
}

static bool cf_roles_seed(void *ctx, json_t *assignments)
{
    /* The first front end on an empty store brings its roles.json. */
    return json_array_size(assignments) > 0 || json_array_extend(assignments, ctx) == 0;
}

bool cf_blob_roles_open(const char *path, cf_blob_store *store, cf_blob_roles **out)
{
    cf_blob_roles *r = calloc(1, sizeof *r);
    CF_ENSURE_ALLOC(r);
    pthread_mutex_init(&r->lock, NULL);
    snprintf(r->path, sizeof r->path, "%s", path);
    if (store && cf_blob_store_shared(store)) {
        r->shared = store;
        r->seen = cf_blob_store_generation(store);
        json_t *local = json_array();
        bool ok = local && cf_blob_roles_load_file(path, local) &&
                  cf_blob_store_roles_update(store, cf_roles_seed, local, &r->assignments);
        json_decref(local);
        if (!ok) {
            cf_blob_roles_close(r);
            return false;
        }
        *out = r;
        return true;
    }
    r->assignments = json_array();
    if (!r->assignments || !cf_blob_roles_load_file(path, r->assignments)) {
        cf_blob_roles_close(r);
        CF_ENSURE_ALLOC(NULL);
        return false;
    }
    *out = r;
    return true;
}

void cf_blob_roles_close(cf_blob_roles *r)
{
    if (!r)
        return;
    json_decref(r->assignments);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static bool cf_roles_save_locked(cf_blob_roles *r)
{
    json_t *doc = json_pack("{s:O}", "assignments", r->assignments);
    char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    CF_ENSURE_ALLOC(text);
    bool ok = cf_write_file_atomic(r->path, CF_SLICE_STR(text), 0600);
    cf_json_free_text(text);
    return ok;
}

/* "/" or "/containers/<name>"; the container name must be valid. */
static bool cf_scope_valid(const char *scope)
{
    if (strcmp(scope, "/") == 0)
        return true;
    const char *prefix = "/containers/";
    return strncmp(scope, prefix, strlen(prefix)) == 0 &&
           cf_blob_container_name_valid(scope + strlen(prefix));
}

static bool cf_scope_covers(const char *scope, const char *container)
{
    if (strcmp(scope, "/") == 0)
        return true;
    return container && strcmp(scope + strlen("/containers/"), container) == 0;
}

bool cf_blob_roles_permit(cf_blob_roles *r, const char *account, const char *oid,
                          const char *container, cf_blob_perm perm)
{
    bool permitted = false;
    size_t i;
    json_t *a;
    pthread_mutex_lock(&r->lock);
    cf_roles_refresh_locked(r);
    json_array_foreach(r->assignments, i, a)
    {
        const char *acct = json_string_value(json_object_get(a, "account"));
        const char *who = json_string_value(json_object_get(a, "principalId"));
        const char *scope = json_string_value(json_object_get(a, "scope"));
        int role = cf_role_index(json_string_value(json_object_get(a, "roleDefinitionId")));
        if (!acct || !who || !scope || role < 0 || strcmp(acct, account) != 0 ||
            strcmp(who, oid) != 0 || !cf_scope_covers(scope, container))
            continue;
        if (cf_blob_roles_table[role].perms & BIT(perm)) {
            permitted = true;
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return permitted;
}

/* One change to the assignments, applied to the file's copy or inside the
 * store's write transaction (shared). */
typedef struct {
    const char *account, *name; /* delete: name NULL = all of the account */
    json_t *entry;              /* put */
    bool found;                 /* delete: anything removed */
} cf_roles_change;

static bool cf_roles_put_edit(void *ctx, json_t *list)
{
    cf_roles_change *c = ctx;
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a)
    {
        const char *acct = json_string_value(json_object_get(a, "account"));
        const char *n = json_string_value(json_object_get(a, "name"));
        if (acct && n && strcmp(acct, c->account) == 0 && strcmp(n, c->name) == 0)
            return json_array_set(list, i, c->entry) == 0;
    }
    CF_ENSURE(json_array_size(list) < CF_ROLES_MAX, CF_ERR_TOO_LARGE, "too many role assignments");
    return json_array_append(list, c->entry) == 0;
}

static bool cf_roles_delete_edit(void *ctx, json_t *list)
{
    cf_roles_change *c = ctx;
    for (size_t i = json_array_size(list); i-- > 0;) {
        json_t *a = json_array_get(list, i);
        const char *acct = json_string_value(json_object_get(a, "account"));
        const char *n = json_string_value(json_object_get(a, "name"));
        if (acct && n && strcmp(acct, c->account) == 0 && (!c->name || strcmp(n, c->name) == 0)) {
            json_array_remove(list, i);
            c->found = true;
        }
    }
    return true;
}

static bool cf_roles_change_apply(cf_blob_roles *r, bool (*edit)(void *ctx, json_t *list),
                                  cf_roles_change *c)
{
    pthread_mutex_lock(&r->lock);
    bool ok;
    if (r->shared) {
        json_t *stored = NULL;
        ok = cf_blob_store_roles_update(r->shared, edit, c, &stored);
        if (ok) {
            json_decref(r->assignments);
            r->assignments = stored;
        }
    } else {
        ok = edit(c, r->assignments);
        if (ok && (c->entry || c->found))
            ok = cf_roles_save_locked(r);
    }
    pthread_mutex_unlock(&r->lock);
    return ok;
}

static json_t *cf_role_view(json_t *a)
{
    return json_pack("{s:O, s:s, s:{s:O, s:O, s:O}}", "name", json_object_get(a, "name"), "type",
                     "Microsoft.Authorization/roleAssignments", "properties", "roleDefinitionId",
                     json_object_get(a, "roleDefinitionId"), "principalId",
                     json_object_get(a, "principalId"), "scope", json_object_get(a, "scope"));
}

bool cf_blob_roles_put(cf_blob_roles *r, const char *account, const char *name, json_t *body,
                       json_t **out)
{
    json_t *props = json_object_get(body, "properties");
    const char *role = json_string_value(json_object_get(props, "roleDefinitionId"));
    const char *who = json_string_value(json_object_get(props, "principalId"));
    const char *scope = json_string_value(json_object_get(props, "scope"));
    if (!scope)
        scope = "/";
    CF_ENSURE(cf_role_index(role) >= 0, CF_ERR_BAD_INPUT,
              "roleDefinitionId must name Storage Blob Data Owner, Contributor or Reader");
    CF_ENSURE(who && strlen(who) == CF_UUID_LEN, CF_ERR_BAD_INPUT,
              "principalId must be an object id");
    CF_ENSURE(cf_scope_valid(scope), CF_ERR_BAD_INPUT,
              "scope must be \"/\" or \"/containers/<name>\"");
    CF_ENSURE(strlen(name) == CF_UUID_LEN, CF_ERR_BAD_INPUT, "the assignment name must be a GUID");
    const char *slash = strrchr(role, '/');
    json_t *entry =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "account", account, "name", name, "principalId", who,
                  "roleDefinitionId", slash ? slash + 1 : role, "scope", scope);
    CF_ENSURE_ALLOC(entry);
    cf_roles_change put = {.account = account, .name = name, .entry = entry};
    bool ok = cf_roles_change_apply(r, cf_roles_put_edit, &put);
    *out = ok ? cf_role_view(entry) : NULL;
    json_decref(entry);
    return ok;
}

bool cf_blob_roles_delete(cf_blob_roles *r, const char *account, const char *name)
{
    cf_roles_change del = {.account = account, .name = name};
    CF_GUARD(cf_roles_change_apply(r, cf_roles_delete_edit, &del));
    CF_ENSURE(del.found || !name, CF_ERR_NOT_FOUND, "no such role assignment");
    return true;
}

bool cf_blob_roles_list(cf_blob_roles *r, const char *account, json_t **out)
{
    json_t *list = json_array();
    CF_ENSURE_ALLOC(list);
    pthread_mutex_lock(&r->lock);
    cf_roles_refresh_locked(r);
    size_t i;
    json_t *a;
    json_array_foreach(r->assignments, i, a)
    {
        const char *acct = json_string_value(json_object_get(a, "account"));
        if (acct && strcmp(acct, account) == 0)
            json_array_append_new(list, cf_role_view(a));
    }
    pthread_mutex_unlock(&r->lock);
    *out = json_pack("{s:o}", "value", list);
    CF_ENSURE_ALLOC(*out);
    return true;
}
