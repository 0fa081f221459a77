/*
 * Backup blobs of keys and secrets, bound to this vault (format:
 * docs/formats.md).
 *
 *   magic ("CFKB" keys, "CFSB" secrets) | u8 format (1) | 16-byte salt |
 *   envelope(payload)
 *
 * The envelope key is HKDF-SHA256(vault data key, salt, "coffer key backup
 * v1"), and its associated data is the 21-byte header plus the vault id,
 * so only this vault can open a blob, a key backup cannot be restored as a
 * secret, and nothing in it can be altered.  The payload lists every
 * version of the object:
 *
 *   u16 name length | name | u16 version count, then per version:
 *   32-byte version | i64 created | i64 updated | u8 enabled | i64 nbf |
 *   i64 exp | u32 len + tags JSON | u32 len + props JSON | u32 len + material
 *
 * Parsing goes through a bounded cursor with caps on every length.
 */
#include <string.h>

#include "json_secure.h"
#include "envelope.h"
#include "resource.h"
#include "secmem.h"

#define CF_BACKUP_FORMAT 1
#define CF_BACKUP_SALT 16
#define CF_BACKUP_HEADER (4 + 1 + CF_BACKUP_SALT)
#define CF_BACKUP_MAX_VERSIONS 1000
#define CF_BACKUP_JSON_MAX 16384
#define CF_BACKUP_MATERIAL_MAX (32 * 1024) /* secret values go up to 25 KiB */
/* A blob must fit in a restore request: base64url of it, in {"value":"…"},
 * within the vault's body cap.  Backups beyond that are refused up front
 * rather than made and never restorable. */
#define CF_BACKUP_BLOB_MAX ((CF_VAULT_MAX_BODY - 64) / 4 * 3)

static bool cf_backup_key(const cf_vault *vault, cf_slice salt, uint8_t out[CF_DATA_KEY_LEN])
{
    return cf_hkdf_sha256(cf_slice_of(vault->data_key, CF_DATA_KEY_LEN), salt,
                          CF_SLICE_LIT("coffer key backup v1"), out, CF_DATA_KEY_LEN);
}

static bool cf_backup_aad(const cf_vault *vault, cf_slice header, cf_buf *aad)
{
    CF_GUARD(cf_buf_append_slice(aad, header));
    return cf_buf_append_str(aad, vault->vault_id);
}

static bool cf_append_json(cf_buf *out, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    CF_ENSURE(!j || text, CF_ERR_NOMEM, NULL);
    size_t len = text ? strlen(text) : 0;
    bool ok = cf_buf_append_be32(out, (uint32_t)len) && cf_buf_append(out, text, len);
    cf_json_free_text(text);
    return ok;
}

typedef struct {
    cf_vault *vault;
    cf_buf *payload;
    unsigned count;
} cf_backup_ctx;

static bool cf_backup_each(void *ctx, const cf_object *obj)
{
    cf_backup_ctx *b = ctx;
    CF_ENSURE(++b->count <= CF_BACKUP_MAX_VERSIONS, CF_ERR_TOO_LARGE, "too many versions");
    cf_buf material;
    cf_buf_init_secret(&material, CF_BACKUP_MATERIAL_MAX);
    bool ok = cf_object_unseal(b->vault, obj, &material) &&
              cf_buf_append(b->payload, obj->version, CF_VERSION_LEN) &&
              cf_buf_append_be64(b->payload, (uint64_t)obj->created) &&
              cf_buf_append_be64(b->payload, (uint64_t)obj->updated) &&
              cf_buf_append_u8(b->payload, obj->enabled) &&
              cf_buf_append_be64(b->payload, (uint64_t)obj->nbf) &&
              cf_buf_append_be64(b->payload, (uint64_t)obj->exp) &&
              cf_append_json(b->payload, obj->tags) && cf_append_json(b->payload, obj->props) &&
              cf_buf_append_be32(b->payload, (uint32_t)material.len) &&
              cf_buf_append_slice(b->payload, cf_buf_slice(&material));
    cf_buf_free(&material);
    return ok;
}

bool cf_backup_make(cf_vault *vault, const cf_resource *r, const char *name, cf_buf *blob)
{
    cf_object latest;
    cf_object_init(&latest);
    bool ok = cf_store_object_get(vault->store, r->kind, name, NULL, false, &latest);
    /* The count is patched in after the versions are written. */
    cf_buf payload;
    cf_buf_init_secret(&payload, CF_BACKUP_BLOB_MAX - CF_BACKUP_HEADER - CF_ENVELOPE_OVERHEAD);
    size_t name_len = strlen(latest.name);
    ok = ok && cf_buf_append_be16(&payload, (uint16_t)name_len) &&
         cf_buf_append(&payload, latest.name, name_len) && cf_buf_append_be16(&payload, 0);
    cf_backup_ctx ctx = {vault, &payload, 0};
    ok = ok && cf_store_object_all_versions(vault->store, r->kind, name, cf_backup_each, &ctx);
    if (ok) {
        payload.data[2 + name_len] = (uint8_t)(ctx.count >> 8);
        payload.data[3 + name_len] = (uint8_t)ctx.count;
    }
    uint8_t key[CF_DATA_KEY_LEN];
    size_t start = blob->len;
    cf_buf aad;
    cf_buf_init(&aad, 128);
    uint8_t *salt;
    ok = ok && cf_buf_append(blob, r->backup_magic, 4) &&
         cf_buf_append_u8(blob, CF_BACKUP_FORMAT) && cf_buf_extend(blob, CF_BACKUP_SALT, &salt) &&
         cf_random_bytes(salt, CF_BACKUP_SALT) &&
         cf_backup_key(vault, cf_slice_of(salt, CF_BACKUP_SALT), key) &&
         cf_backup_aad(vault, cf_slice_of(blob->data + start, CF_BACKUP_HEADER), &aad) &&
         cf_envelope_seal(cf_slice_of(key, sizeof key), cf_buf_slice(&aad), cf_buf_slice(&payload),
                          blob);
    cf_memzero(key, sizeof key);
    cf_buf_free(&aad);
    cf_buf_free(&payload);
    cf_object_free(&latest);
    if (!ok && cf_error_code() == CF_ERR_TOO_LARGE)
        CF_BAIL(CF_ERR_BAD_INPUT, "The object has too many versions to fit in a restorable "
                                  "backup.");
    return ok;
}

static bool cf_take_json(cf_cursor *c, json_t **out)
{
    uint32_t len;
    cf_slice text;
    CF_GUARD(cf_cursor_be32(c, &len));
    CF_ENSURE(len <= CF_BACKUP_JSON_MAX, CF_ERR_BAD_INPUT, "backup field too large");
    CF_GUARD(cf_cursor_take(c, len, &text));
    *out = NULL;
    if (len == 0)
        return true;
    *out = json_loadb((const char *)text.ptr, text.len, JSON_REJECT_DUPLICATES, NULL);
    CF_ENSURE(*out && json_is_object(*out), CF_ERR_BAD_INPUT, "backup field is malformed");
    return true;
}

static bool cf_parse_version(const cf_resource *r, cf_cursor *c, cf_object *obj, cf_slice *material)
{
    cf_slice version;
    uint64_t created, updated, nbf, exp;
    uint8_t enabled;
    uint32_t mlen;
    CF_GUARD(cf_cursor_take(c, CF_VERSION_LEN, &version));
    for (size_t i = 0; i < CF_VERSION_LEN; i++)
        CF_ENSURE((version.ptr[i] >= '0' && version.ptr[i] <= '9') ||
                      (version.ptr[i] >= 'a' && version.ptr[i] <= 'f'),
                  CF_ERR_BAD_INPUT, "backup version id is malformed");
    memcpy(obj->version, version.ptr, CF_VERSION_LEN);
    obj->version[CF_VERSION_LEN] = 0;
    CF_GUARD(cf_cursor_be64(c, &created));
    CF_GUARD(cf_cursor_be64(c, &updated));
    CF_GUARD(cf_cursor_u8(c, &enabled));
    CF_GUARD(cf_cursor_be64(c, &nbf));
    CF_GUARD(cf_cursor_be64(c, &exp));
    CF_ENSURE(created <= INT64_MAX && updated <= INT64_MAX && nbf <= INT64_MAX &&
                  exp <= INT64_MAX && enabled <= 1,
              CF_ERR_BAD_INPUT, "backup attributes are malformed");
    obj->created = (int64_t)created;
    obj->updated = (int64_t)updated;
    obj->enabled = enabled;
    obj->nbf = (int64_t)nbf;
    obj->exp = (int64_t)exp;
    CF_GUARD(cf_take_json(c, &obj->tags));
    CF_GUARD(cf_take_json(c, &obj->props));
    CF_ENSURE(obj->props && r->props_valid(obj->props), CF_ERR_BAD_INPUT,
              "backup properties are malformed");
    CF_GUARD(cf_cursor_be32(c, &mlen));
    CF_ENSURE(mlen <= CF_BACKUP_MATERIAL_MAX, CF_ERR_BAD_INPUT, "backup material is malformed");
    return cf_cursor_take(c, mlen, material);
}

bool cf_backup_parse_payload(const cf_resource *r, cf_slice payload, cf_backup_version_cb each,
                             void *ctx)
{
    cf_cursor c;
    cf_cursor_init(&c, payload);
    uint16_t name_len, count;
    cf_slice name;
    CF_GUARD(cf_cursor_be16(&c, &name_len));
    CF_ENSURE(name_len >= 1 && name_len <= CF_NAME_MAX, CF_ERR_BAD_INPUT,
              "backup name is malformed");
    CF_GUARD(cf_cursor_take(&c, name_len, &name));
    CF_GUARD(cf_cursor_be16(&c, &count));
    CF_ENSURE(count >= 1 && count <= CF_BACKUP_MAX_VERSIONS, CF_ERR_BAD_INPUT,
              "backup version count is malformed");
    for (unsigned i = 0; i < count; i++) {
        cf_object obj;
        cf_object_init(&obj);
        snprintf(obj.kind, sizeof obj.kind, "%s", r->kind);
        memcpy(obj.name, name.ptr, name.len);
        obj.name[name.len] = 0;
        cf_slice material;
        bool ok = cf_vault_valid_object_name(obj.name) &&
                  cf_parse_version(r, &c, &obj, &material) && each(ctx, &obj, material);
        if (!ok && cf_error_code() == CF_OK)
            cf_error_raise(CF_ERR_BAD_INPUT, __FILE__, __LINE__, "backup name is malformed");
        cf_object_free(&obj);
        CF_GUARD(ok);
    }
    CF_ENSURE(cf_cursor_left(&c) == 0, CF_ERR_BAD_INPUT, "backup has trailing data");
    return true;
}

typedef struct {
    cf_vault *vault;
    const cf_resource *r;
    cf_object *versions;
    size_t n;
} cf_restore_ctx;

static bool cf_restore_each(void *ctx, cf_object *obj, cf_slice material)
{
    cf_restore_ctx *r = ctx;
    cf_object *dst = &r->versions[r->n];
    cf_object_init(dst);
    memcpy(dst->kind, obj->kind, sizeof dst->kind);
    memcpy(dst->name, obj->name, sizeof dst->name);
    memcpy(dst->version, obj->version, sizeof dst->version);
    dst->created = obj->created;
    dst->updated = obj->updated;
    dst->enabled = obj->enabled;
    dst->nbf = obj->nbf;
    dst->exp = obj->exp;
    dst->tags = json_incref(obj->tags);
    dst->props = json_incref(obj->props);
    r->n++;
    if (!r->r->restore_material)
        return cf_object_seal(r->vault, dst, material);
    cf_buf fresh;
    cf_buf_init_secret(&fresh, CF_BACKUP_MATERIAL_MAX);
    bool ok = r->r->restore_material(r->vault, dst, material, &fresh) &&
              cf_object_seal(r->vault, dst, cf_buf_slice(&fresh));
    cf_buf_free(&fresh);
    return ok;
}

static bool cf_backup_stored(const cf_resource *r, const cf_object *versions, size_t n)
{
    for (size_t i = 0; r->stored && i < n; i++)
        r->stored(&versions[i]);
    return true;
}

static bool cf_restore_open(cf_vault *vault, const cf_resource *r, cf_slice blob, cf_buf *payload)
{
    CF_ENSURE(blob.len > CF_BACKUP_HEADER && memcmp(blob.ptr, r->backup_magic, 4) == 0 &&
                  blob.ptr[4] == CF_BACKUP_FORMAT,
              CF_ERR_BAD_INPUT, "The backup blob is not a backup of this kind of object.");
    uint8_t key[CF_DATA_KEY_LEN];
    cf_buf aad;
    cf_buf_init(&aad, 128);
    bool ok = cf_backup_key(vault, cf_slice_of(blob.ptr + 5, CF_BACKUP_SALT), key) &&
              cf_backup_aad(vault, cf_slice_of(blob.ptr, CF_BACKUP_HEADER), &aad) &&
              cf_envelope_open(
                  cf_slice_of(key, sizeof key), cf_buf_slice(&aad),
                  cf_slice_of(blob.ptr + CF_BACKUP_HEADER, blob.len - CF_BACKUP_HEADER), payload);
    cf_memzero(key, sizeof key);
    cf_buf_free(&aad);
    if (!ok && cf_error_code() == CF_ERR_DECRYPT)
        CF_BAIL(CF_ERR_BAD_INPUT, "The backup blob is corrupt or was not made by this vault.");
    return ok;
}

bool cf_backup_restore(cf_vault *vault, const cf_resource *r, cf_slice blob, cf_object *latest)
{
    cf_buf payload;
    cf_buf_init_secret(&payload, blob.len);
    cf_restore_ctx rc = {vault, r, calloc(CF_BACKUP_MAX_VERSIONS, sizeof(cf_object)), 0};
    bool ok = rc.versions != NULL;
    if (!ok)
        cf_error_raise(CF_ERR_NOMEM, __FILE__, __LINE__, NULL);
    ok = ok && cf_restore_open(vault, r, blob, &payload) &&
         cf_backup_parse_payload(r, cf_buf_slice(&payload), cf_restore_each, &rc) &&
         cf_store_object_restore(vault->store, rc.versions, rc.n) &&
         cf_backup_stored(r, rc.versions, rc.n) &&
         cf_store_object_get(vault->store, r->kind, rc.versions[0].name, NULL, false, latest);
    for (size_t i = 0; i < rc.n; i++)
        cf_object_free(&rc.versions[i]);
    free(rc.versions);
    cf_buf_free(&payload);
    return ok;
}
