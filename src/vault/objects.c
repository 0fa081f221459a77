/*
 * What keys and secrets share: names, version ids, sealing of material,
 * attributes and tags, list paging, and JSON member access with Key
 * Vault's error for bad parameters.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "encoding.h"
#include "envelope.h"
#include "vault.h"

#define CF_MAX_TAGS 15
#define CF_TAG_NAME_MAX 512
#define CF_TAG_VALUE_MAX 256

bool cf_vault_valid_object_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > CF_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

bool cf_vault_new_version_id(char out[CF_VERSION_LEN + 1])
{
    uint8_t r[CF_VERSION_LEN / 2];
    CF_GUARD(cf_random_bytes(r, sizeof r));
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof r; i++) {
        out[2 * i] = digits[r[i] >> 4];
        out[2 * i + 1] = digits[r[i] & 15];
    }
    out[CF_VERSION_LEN] = 0;
    return true;
}

int64_t cf_vault_now(void)
{
    return (int64_t)time(NULL);
}

bool cf_object_aad(const cf_vault *vault, const char *kind, const char *name, const char *version,
                   cf_buf *out)
{
    /* NUL separators are unambiguous: none of the parts may contain NUL.
     * Names are case-insensitive, so the binding uses the lowercase form. */
    CF_GUARD(cf_buf_append(out, "coffer-vault/v1", 16));
    CF_GUARD(cf_buf_append(out, vault->vault_id, strlen(vault->vault_id) + 1));
    CF_GUARD(cf_buf_append(out, kind, strlen(kind) + 1));
    for (const char *p = name; *p; p++)
        CF_GUARD(cf_buf_append_u8(out, (uint8_t)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p)));
    CF_GUARD(cf_buf_append_u8(out, 0));
    return cf_buf_append_str(out, version);
}

bool cf_object_seal(const cf_vault *vault, cf_object *obj, cf_slice material)
{
    cf_buf aad;
    cf_buf_init(&aad, 512);
    bool ok = cf_object_aad(vault, obj->kind, obj->name, obj->version, &aad);
    cf_buf_clear(&obj->sealed);
    ok = ok && cf_envelope_seal(cf_slice_of(vault->data_key, CF_DATA_KEY_LEN), cf_buf_slice(&aad),
                                material, &obj->sealed);
    cf_buf_free(&aad);
    return ok;
}

bool cf_object_unseal(const cf_vault *vault, const cf_object *obj, cf_buf *out)
{
    cf_buf aad;
    cf_buf_init(&aad, 512);
    bool ok = cf_object_aad(vault, obj->kind, obj->name, obj->version, &aad) &&
              cf_envelope_open(cf_slice_of(vault->data_key, CF_DATA_KEY_LEN), cf_buf_slice(&aad),
                               cf_buf_slice(&obj->sealed), out);
    cf_buf_free(&aad);
    if (!ok && cf_error_code() == CF_ERR_DECRYPT)
        CF_BAIL(CF_ERR_INTERNAL, "stored material failed its integrity check");
    return ok;
}

/* Key Vault's names for the vault's deletion-recovery settings. */
static const char *cf_recovery_level(const cf_vault *vault)
{
    bool custom = vault->retention_days < 90;
    if (vault->purge_protection)
        return custom ? "CustomizedRecoverable" : "Recoverable";
    return custom ? "CustomizedRecoverable+Purgeable" : "Recoverable+Purgeable";
}

json_t *cf_object_attributes(const cf_vault *vault, const cf_object *obj)
{
    json_t *a =
        json_pack("{s:b, s:I, s:I, s:s, s:i}", "enabled", obj->enabled, "created",
                  (json_int_t)obj->created, "updated", (json_int_t)obj->updated, "recoveryLevel",
                  cf_recovery_level(vault), "recoverableDays", vault->retention_days);
    if (a && obj->nbf)
        json_object_set_new(a, "nbf", json_integer(obj->nbf));
    if (a && obj->exp)
        json_object_set_new(a, "exp", json_integer(obj->exp));
    return a;
}

static bool cf_parse_time(json_t *attrs, const char *member, int64_t *out)
{
    json_t *v = json_object_get(attrs, member);
    if (!v)
        return true;
    if (json_is_null(v)) {
        *out = 0;
        return true;
    }
    CF_ENSUREF(json_is_integer(v) && json_integer_value(v) >= 0, CF_ERR_BAD_INPUT,
               "attributes.%s must be a Unix time in seconds", member);
    *out = json_integer_value(v);
    return true;
}

static bool cf_parse_tags(json_t *tags, json_t **out)
{
    if (json_is_null(tags)) {
        json_decref(*out);
        *out = NULL;
        return true;
    }
    CF_ENSURE(json_is_object(tags), CF_ERR_BAD_INPUT, "tags must be an object");
    CF_ENSURE(json_object_size(tags) <= CF_MAX_TAGS, CF_ERR_BAD_INPUT, "at most 15 tags");
    const char *k;
    json_t *v;
    json_object_foreach(tags, k, v)
    {
        CF_ENSURE(json_is_string(v), CF_ERR_BAD_INPUT, "tag values must be strings");
        CF_ENSURE(strlen(k) <= CF_TAG_NAME_MAX && json_string_length(v) <= CF_TAG_VALUE_MAX,
                  CF_ERR_BAD_INPUT, "tag name or value too long");
    }
    json_decref(*out);
    *out = json_deep_copy(tags);
    CF_ENSURE_ALLOC(*out);
    return true;
}

bool cf_object_parse_attributes(json_t *body, cf_object *obj)
{
    json_t *attrs = json_object_get(body, "attributes");
    if (attrs && !json_is_null(attrs)) {
        CF_ENSURE(json_is_object(attrs), CF_ERR_BAD_INPUT, "attributes must be an object");
        json_t *enabled = json_object_get(attrs, "enabled");
        if (enabled && !json_is_null(enabled)) {
            CF_ENSURE(json_is_boolean(enabled), CF_ERR_BAD_INPUT,
                      "attributes.enabled must be a boolean");
            obj->enabled = json_is_true(enabled);
        }
        CF_GUARD(cf_parse_time(attrs, "nbf", &obj->nbf));
        CF_GUARD(cf_parse_time(attrs, "exp", &obj->exp));
        CF_ENSURE(!obj->nbf || !obj->exp || obj->nbf < obj->exp, CF_ERR_BAD_INPUT,
                  "attributes.nbf must be before attributes.exp");
    }
    json_t *tags = json_object_get(body, "tags");
    if (tags)
        CF_GUARD(cf_parse_tags(tags, &obj->tags));
    return true;
}

bool cf_vault_list_params(cf_vault_call *call, unsigned *limit, const char **marker)
{
    const char *max = cf_http_query(call->http, "maxresults");
    *limit = CF_LIST_DEFAULT;
    if (max && *max) {
        char *end = NULL;
        long v = strtol(max, &end, 10);
        CF_ENSURE(*end == 0 && v >= 1 && v <= CF_LIST_MAX, CF_ERR_BAD_INPUT,
                  "maxresults must be between 1 and 25");
        *limit = (unsigned)v;
    }
    *marker = cf_http_query(call->http, "$skiptoken");
    if (!*marker)
        *marker = "";
    CF_ENSURE(strlen(*marker) <= CF_NAME_MAX, CF_ERR_BAD_INPUT, "invalid $skiptoken");
    return true;
}

bool cf_vault_list_next_link(cf_vault_call *call, json_t *reply, const char *path,
                             const char *marker, unsigned limit)
{
    if (!marker || !*marker) {
        CF_ENSURE(json_object_set_new(reply, "nextLink", json_null()) == 0, CF_ERR_NOMEM, NULL);
        return true;
    }
    const char *api = cf_http_query(call->http, "api-version");
    char link[1024];
    int n = snprintf(link, sizeof link, "%s%s?api-version=%s&maxresults=%u&$skiptoken=%s",
                     call->vault->url, path, api ? api : "7.5", limit, marker);
    CF_ENSURE(n > 0 && (size_t)n < sizeof link, CF_ERR_INTERNAL, "nextLink too long");
    CF_ENSURE(json_object_set_new(reply, "nextLink", json_string(link)) == 0, CF_ERR_NOMEM, NULL);
    return true;
}

bool cf_vault_json_string(json_t *obj, const char *member, bool required, const char **out)
{
    json_t *v = json_object_get(obj, member);
    *out = NULL;
    if (!v || json_is_null(v)) {
        CF_ENSUREF(!required, CF_ERR_BAD_INPUT, "the parameter '%s' is required", member);
        return true;
    }
    CF_ENSUREF(json_is_string(v), CF_ERR_BAD_INPUT, "the parameter '%s' must be a string", member);
    *out = json_string_value(v);
    return true;
}

bool cf_vault_json_b64url(json_t *obj, const char *member, bool required, cf_buf *out)
{
    const char *s;
    CF_GUARD(cf_vault_json_string(obj, member, required, &s));
    if (!s)
        return true;
    if (!cf_base64url_decode(cf_slice_of(s, strlen(s)), out)) {
        cf_err code = cf_error_code();
        CF_ENSUREF(code != CF_ERR_TOO_LARGE, CF_ERR_BAD_INPUT, "the parameter '%s' is too large",
                   member);
        if (code != CF_ERR_BAD_INPUT)
            return false; /* our failure (memory), not the client's */
        cf_error_raisef(CF_ERR_BAD_INPUT, __FILE__, __LINE__,
                        "the parameter '%s' is not valid base64url", member);
        return false;
    }
    return true;
}

bool cf_vault_json_set_b64url(json_t *obj, const char *member, cf_slice value)
{
    cf_buf text;
    cf_buf_init(&text, value.len * 2 + 16);
    bool ok = cf_base64url_encode(value, &text) && cf_buf_terminate(&text);
    if (ok)
        ok = json_object_set_new(obj, member, json_stringn((const char *)text.data, text.len)) == 0;
    cf_buf_free(&text);
    CF_ENSURE(ok, CF_ERR_NOMEM, NULL);
    return true;
}
