/*
 * Handlers shared by the keys and secrets resources; see resource.h.
 */
#include "resource.h"
#include "units.h"

#include <stdio.h>
#include <string.h>

void cf_resource_id(const cf_vault *vault, const cf_resource *r, const cf_object *obj,
                    bool versioned, char *out, size_t len)
{
    snprintf(out, len, "%s/%s/%s%s%s", vault->url, r->collection, obj->name, versioned ? "/" : "",
             versioned ? obj->version : "");
}

bool cf_resource_add_deleted(cf_vault *vault, const cf_resource *r, const cf_object *obj,
                             json_t *bundle)
{
    if (!obj->deleted_at)
        return true;
    char rid[1024];
    snprintf(rid, sizeof rid, "%s/%s/%s", vault->url, r->deleted, obj->name);
    CF_ENSURE(json_object_set_new(bundle, "recoveryId", json_string(rid)) == 0 &&
                  json_object_set_new(bundle, "deletedDate", json_integer(obj->deleted_at)) == 0 &&
                  json_object_set_new(bundle, "scheduledPurgeDate", json_integer(obj->purge_at)) ==
                      0,
              CF_ERR_NOMEM, NULL);
    return true;
}

bool cf_vault_require_body(cf_vault_call *call)
{
    CF_ENSURE(call->body, CF_ERR_BAD_INPUT, "a JSON request body is required");
    return true;
}

bool cf_resource_new_version(cf_vault_call *call, const cf_resource *r, const char *name,
                             cf_object *obj)
{
    cf_object_init(obj);
    snprintf(obj->kind, sizeof obj->kind, "%s", r->kind);
    snprintf(obj->name, sizeof obj->name, "%s", name);
    CF_GUARD(cf_vault_new_version_id(obj->version));
    obj->created = obj->updated = cf_vault_now();
    obj->enabled = true;
    return call->body ? cf_object_parse_attributes(call->body, obj) : true;
}

bool cf_resource_reply(cf_vault_call *call, const cf_resource *r, const cf_object *obj)
{
    json_t *bundle = r->bundle(call->vault, obj);
    CF_ENSURE_ALLOC(bundle);
    return cf_vault_reply(call, 200, bundle);
}

bool cf_resource_insert(cf_vault_call *call, const cf_resource *r, cf_object *obj)
{
    CF_GUARD(cf_store_object_insert(call->vault->store, obj));
    if (r->stored)
        r->stored(obj);
    return cf_resource_reply(call, r, obj);
}

static bool cf_resource_get(cf_vault_call *call, const cf_resource *r, const char *name,
                            const char *version, bool deleted)
{
    cf_object obj;
    cf_object_init(&obj);
    bool ok = cf_store_object_get(call->vault->store, r->kind, name, version, deleted, &obj) &&
              cf_resource_reply(call, r, &obj);
    cf_object_free(&obj);
    return ok;
}

typedef struct {
    cf_vault_call *call;
    const cf_resource *r;
    json_t *items;
    bool versioned;
} cf_list_ctx;

/* A list item: the bundle's metadata without the key or value, with the
 * id of the name (name listings) or of the version (version listings). */
static bool cf_list_each(void *ctx, const cf_object *obj)
{
    cf_list_ctx *l = ctx;
    json_t *item = l->r->bundle(l->call->vault, obj);
    CF_ENSURE_ALLOC(item);
    char id[1024];
    cf_resource_id(l->call->vault, l->r, obj, l->versioned, id, sizeof id);
    const char *id_member = strcmp(l->r->kind, "key") == 0 ? "kid" : "id";
    json_object_del(item, "key");
    json_object_del(item, "value");
    json_object_del(item, "id");
    bool ok = json_object_set_new(item, id_member, json_string(id)) == 0 &&
              json_array_append_new(l->items, item) == 0;
    CF_ENSURE(ok, CF_ERR_NOMEM, NULL);
    return true;
}

static bool cf_resource_list(cf_vault_call *call, const cf_resource *r, const char *name,
                             bool deleted)
{
    unsigned limit;
    const char *marker;
    CF_GUARD(cf_vault_list_params(call, &limit, &marker));
    cf_list_ctx l = {call, r, json_array(), name != NULL};
    CF_ENSURE_ALLOC(l.items);
    char next[CF_NAME_MAX + 1], path[256];
    bool ok;
    if (name) {
        snprintf(path, sizeof path, "/%s/%s/versions", r->collection, name);
        ok = cf_store_object_versions(call->vault->store, r->kind, name, marker, limit,
                                      cf_list_each, &l, next, sizeof next);
    } else {
        snprintf(path, sizeof path, "/%s", deleted ? r->deleted : r->collection);
        ok = cf_store_object_list(call->vault->store, r->kind, deleted, marker, limit, cf_list_each,
                                  &l, next, sizeof next);
    }
    /* Listing the versions of a name that does not exist is a 404. */
    if (ok && name && json_array_size(l.items) == 0 && !*marker) {
        cf_object probe;
        cf_object_init(&probe);
        ok = cf_store_object_get(call->vault->store, r->kind, name, NULL, false, &probe);
        cf_object_free(&probe);
    }
    json_t *reply = json_pack("{s:o}", "value", l.items);
    ok = ok && reply && cf_vault_list_next_link(call, reply, path, next, limit);
    if (!ok) {
        json_decref(reply);
        return false;
    }
    return cf_vault_reply(call, 200, reply);
}

/* The resource of the route being served (keys or secrets). */
static const cf_resource *cf_route_resource(const cf_vault_call *call)
{
    return call->route->resource;
}

bool cf_resource_get_handler(cf_vault_call *call)
{
    return cf_resource_get(call, cf_route_resource(call), call->params.name, call->params.version,
                           false);
}

bool cf_resource_get_deleted_handler(cf_vault_call *call)
{
    return cf_resource_get(call, cf_route_resource(call), call->params.name, NULL, true);
}

bool cf_resource_list_handler(cf_vault_call *call)
{
    return cf_resource_list(call, cf_route_resource(call), NULL, false);
}

bool cf_resource_list_versions_handler(cf_vault_call *call)
{
    return cf_resource_list(call, cf_route_resource(call), call->params.name, false);
}

bool cf_resource_list_deleted_handler(cf_vault_call *call)
{
    return cf_resource_list(call, cf_route_resource(call), NULL, true);
}

bool cf_resource_delete_handler(cf_vault_call *call)
{
    const cf_resource *r = cf_route_resource(call);
    const char *name = call->params.name;
    int64_t now = cf_vault_now();
    CF_GUARD(
        cf_store_object_delete(call->vault->store, r->kind, name, now,
                               now + (int64_t)call->vault->retention_days * CF_SECONDS_PER_DAY));
    return cf_resource_get(call, r, name, NULL, true);
}

bool cf_resource_recover_handler(cf_vault_call *call)
{
    const cf_resource *r = cf_route_resource(call);
    CF_GUARD(cf_store_object_recover(call->vault->store, r->kind, call->params.name));
    return cf_resource_get(call, r, call->params.name, NULL, false);
}

bool cf_resource_purge_handler(cf_vault_call *call)
{
    const cf_resource *r = cf_route_resource(call);
    const char *name = call->params.name;
    if (call->vault->purge_protection) {
        cf_object obj;
        cf_object_init(&obj);
        bool found = cf_store_object_get(call->vault->store, r->kind, name, NULL, true, &obj);
        int64_t purge_at = obj.purge_at;
        cf_object_free(&obj);
        CF_GUARD(found);
        CF_ENSURE(cf_vault_now() >= purge_at, CF_ERR_PROTECTED,
                  "Operation \"purge\" is not allowed because purge protection is enabled for "
                  "this vault. Key Vault service will automatically purge it after the retention "
                  "period has passed.");
    }
    CF_GUARD(cf_store_object_purge(call->vault->store, r->kind, name));
    if (r->forget)
        r->forget(r->kind, name);
    if (r->after_purge)
        r->after_purge(call->vault);
    return cf_vault_reply(call, 204, NULL);
}

bool cf_resource_backup_handler(cf_vault_call *call)
{
    cf_buf blob;
    cf_buf_init(&blob, CF_VAULT_MAX_BODY);
    json_t *reply = json_object();
    bool ok = reply &&
              cf_backup_make(call->vault, cf_route_resource(call), call->params.name, &blob) &&
              cf_vault_json_set_b64url(reply, "value", cf_buf_slice(&blob));
    cf_buf_free(&blob);
    if (!ok) {
        json_decref(reply);
        return false;
    }
    return cf_vault_reply(call, 200, reply);
}

bool cf_resource_restore_handler(cf_vault_call *call)
{
    CF_GUARD(cf_vault_require_body(call));
    const cf_resource *r = cf_route_resource(call);
    cf_buf blob;
    cf_buf_init(&blob, CF_VAULT_MAX_BODY);
    cf_object latest;
    cf_object_init(&latest);
    bool ok = cf_vault_json_b64url(call->body, "value", true, &blob) &&
              cf_backup_restore(call->vault, r, cf_buf_slice(&blob), &latest) &&
              cf_resource_reply(call, r, &latest);
    cf_object_free(&latest);
    cf_buf_free(&blob);
    return ok;
}
