/*
 * The secrets resource: set (each set is a new version), get, list, list
 * versions, update, delete, deleted secrets, backup and restore.  A value
 * is sealed exactly like key material (docs/formats.md); it is opened only
 * to answer a get or a set, and never appears in listings or deleted
 * bundles.
 */
#include <stdio.h>
#include <string.h>

#include "resource.h"

#define CF_KIND_SECRET "secret"
#define CF_SECRET_VALUE_MAX (25 * 1024)
#define CF_CONTENT_TYPE_MAX 255

/* Metadata of a version: id, contentType, attributes, tags (no value). */
static json_t *cf_secret_bundle(cf_vault *vault, const cf_object *obj)
{
    char id[1024];
    cf_resource_id(vault, &cf_secrets_resource, obj, true, id, sizeof id);
    json_t *bundle =
        json_pack("{s:s, s:o}", "id", id, "attributes", cf_object_attributes(vault, obj));
    json_t *ct = json_object_get(obj->props, "contentType");
    if (bundle && json_is_string(ct))
        json_object_set(bundle, "contentType", ct);
    if (bundle && obj->tags)
        json_object_set(bundle, "tags", obj->tags);
    if (bundle && !cf_resource_add_deleted(vault, &cf_secrets_resource, obj, bundle)) {
        json_decref(bundle);
        return NULL;
    }
    return bundle;
}

static bool cf_secret_props_valid(json_t *props)
{
    json_t *ct = json_object_get(props, "contentType");
    return json_is_object(props) &&
           (!ct || (json_is_string(ct) && json_string_length(ct) <= CF_CONTENT_TYPE_MAX));
}

const cf_resource cf_secrets_resource = {
    .kind = CF_KIND_SECRET,
    .collection = "secrets",
    .deleted = "deletedsecrets",
    .backup_magic = "CFSB",
    .bundle = cf_secret_bundle,
    .props_valid = cf_secret_props_valid,
    .forget = NULL,
};

/* Replies with the bundle and the opened value.  jansson copies the value
 * into its own heap for the reply; the reply buffer is wiped when freed. */
static bool cf_secret_reply_value(cf_vault_call *call, const cf_object *obj)
{
    cf_buf value;
    cf_buf_init_secret(&value, CF_SECRET_VALUE_MAX);
    json_t *bundle = cf_secret_bundle(call->vault, obj);
    bool ok = bundle && cf_object_unseal(call->vault, obj, &value) &&
              json_object_set_new(bundle, "value",
                                  json_stringn((const char *)value.data, value.len)) == 0;
    cf_buf_free(&value);
    if (!ok) {
        json_decref(bundle);
        CF_ENSURE(cf_error_code() != CF_OK, CF_ERR_NOMEM, NULL);
        return false;
    }
    return cf_vault_reply(call, 200, bundle);
}

static bool cf_content_type(json_t *body, json_t *props)
{
    const char *ct;
    CF_GUARD(cf_vault_json_string(body, "contentType", false, &ct));
    if (!ct)
        return true;
    CF_ENSURE(strlen(ct) <= CF_CONTENT_TYPE_MAX, CF_ERR_BAD_INPUT,
              "contentType is longer than 255 characters");
    CF_ENSURE(json_object_set_new(props, "contentType", json_string(ct)) == 0, CF_ERR_NOMEM, NULL);
    return true;
}

bool cf_secret_set_handler(cf_vault_call *call)
{
    const char *name = call->params.name;
    CF_GUARD(cf_vault_require_body(call));
    json_t *value = json_object_get(call->body, "value");
    CF_ENSURE(json_is_string(value), CF_ERR_BAD_INPUT, "the parameter 'value' is required");
    CF_ENSURE(json_string_length(value) <= CF_SECRET_VALUE_MAX, CF_ERR_BAD_INPUT,
              "secret values are limited to 25 KiB");
    cf_object obj;
    bool ok = cf_resource_new_version(call, &cf_secrets_resource, name, &obj) &&
              (obj.props = json_object()) != NULL && cf_content_type(call->body, obj.props) &&
              cf_object_seal(call->vault, &obj,
                             cf_slice_of(json_string_value(value), json_string_length(value))) &&
              cf_store_object_insert(call->vault->store, &obj) && cf_secret_reply_value(call, &obj);
    if (!ok && cf_error_code() == CF_OK)
        cf_error_raise(CF_ERR_NOMEM, __FILE__, __LINE__, NULL);
    cf_object_free(&obj);
    return ok;
}

bool cf_secret_get_handler(cf_vault_call *call)
{
    const char *name = call->params.name, *version = call->params.version;
    cf_object obj;
    cf_object_init(&obj);
    bool ok = cf_store_object_get(call->vault->store, CF_KIND_SECRET, name, version, false, &obj);
    if (ok && !obj.enabled) {
        CF_RAISE_REASON(CF_ERR_DISABLED, CF_VAULT_REASON_SECRET_DISABLED,
                        "Operation get is not allowed on a disabled secret.");
        ok = false;
    }
    ok = ok && cf_secret_reply_value(call, &obj);
    cf_object_free(&obj);
    return ok;
}

bool cf_secret_update_handler(cf_vault_call *call)
{
    const char *name = call->params.name, *version = call->params.version;
    CF_GUARD(cf_vault_require_body(call));
    cf_object obj;
    cf_object_init(&obj);
    bool ok = cf_store_object_get(call->vault->store, CF_KIND_SECRET, name, version, false, &obj) &&
              cf_object_parse_attributes(call->body, &obj) &&
              cf_content_type(call->body, obj.props);
    if (ok) {
        obj.updated = cf_vault_now();
        ok = cf_store_object_update(call->vault->store, &obj) &&
             cf_resource_reply(call, &cf_secrets_resource, &obj);
    }
    cf_object_free(&obj);
    return ok;
}
