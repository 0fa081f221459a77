/*
 * Client-side encryption: the `encryptiondata` metadata JSON
 * (docs/client-side-encryption.md, "The encryptiondata metadata").
 *
 * Design:
 * - Parsing is table-driven: each JSON object is matched against the list
 *   of member names it may hold.  Names match case-insensitively (the .NET
 *   SDK reads them that way), so two members whose names differ only in
 *   case count as a duplicate; unknown members are refused, except inside
 *   the free-form KeyWrappingMetadata.
 * - Every error names the member and the problem, never the value: the
 *   JSON comes from the blob service, i.e. from whoever could edit it.
 * - The builder emits the members in the Python SDK's order (the order
 *   some readers once depended on), compact and ASCII-only, because the
 *   value travels in an HTTP header.
 */
#include "cse.h"

#include <jansson.h>
#include <string.h>

#include "encoding.h"
#include "json_secure.h"

#define CF_CSE_KWM_MAX_MEMBERS 16
/* Base64 text of the largest wrapped key, with padding. */
#define CF_CSE_WRAPPED_KEY_B64_MAX (4 * ((CF_CSE_WRAPPED_KEY_MAX + 2) / 3))
#define CF_CSE_IV_B64_MAX 24
#define CF_CSE_LIBRARY "Coffer"
#define CF_CSE_MODE "FullBlob"

static const char *const cf_cse_protocol_names[] = {
    [CF_CSE_V1_0] = "1.0",
    [CF_CSE_V2_0] = "2.0",
    [CF_CSE_V2_1] = "2.1",
};

static const char *const cf_cse_wrap_alg_names[] = {
    [CF_CSE_WRAP_A256KW] = "A256KW",
    [CF_CSE_WRAP_A192KW] = "A192KW",
    [CF_CSE_WRAP_A128KW] = "A128KW",
    [CF_CSE_WRAP_RSA_OAEP] = "RSA-OAEP",
    [CF_CSE_WRAP_RSA_OAEP_256] = "RSA-OAEP-256",
    [CF_CSE_WRAP_RSA1_5] = "RSA1_5",
};

#define CF_CSE_COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *cf_cse_protocol_name(cf_cse_protocol protocol)
{
    return (size_t)protocol < CF_CSE_COUNT(cf_cse_protocol_names) ? cf_cse_protocol_names[protocol]
                                                                  : "?";
}

const char *cf_cse_wrap_alg_name(cf_cse_wrap_alg alg)
{
    return (size_t)alg < CF_CSE_COUNT(cf_cse_wrap_alg_names) ? cf_cse_wrap_alg_names[alg] : "?";
}

bool cf_cse_meta_init(cf_cse_meta *meta, uint32_t region_len)
{
    CF_ENSURE(region_len >= CF_CSE_REGION_MIN && region_len <= CF_CSE_REGION_MAX, CF_ERR_BAD_INPUT,
              "client-side encryption region size out of range");
    memset(meta, 0, sizeof *meta);
    meta->protocol = region_len == CF_CSE_REGION_DEFAULT ? CF_CSE_V2_0 : CF_CSE_V2_1;
    meta->region_len = region_len;
    return true;
}

/* ---- parsing ---- */

/* Index of `name` in `names`, or -1. */
static int cf_cse_name_index(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (cf_slice_eq_nocase(CF_SLICE_STR(name), names[i]))
            return (int)i;
    return -1;
}

/* Fills found[i] with the member called names[i] (any case) or NULL;
 * refuses a non-object, unknown members and duplicates. */
static bool cf_cse_members(json_t *obj, const char *what, const char *const *names, size_t n,
                           json_t **found)
{
    CF_ENSUREF(json_is_object(obj), CF_ERR_BAD_INPUT, "encryptiondata: %s must be an object", what);
    memset(found, 0, n * sizeof *found);
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        int i = cf_cse_name_index(names, n, key);
        CF_ENSUREF(i >= 0, CF_ERR_BAD_INPUT, "encryptiondata: unknown member in %s", what);
        CF_ENSUREF(found[i] == NULL, CF_ERR_BAD_INPUT, "encryptiondata: duplicate member %s in %s",
                   names[i], what);
        found[i] = value;
    }
    return true;
}

/* A required string member. */
static bool cf_cse_string(json_t *v, const char *what, cf_slice *out)
{
    CF_ENSUREF(v != NULL, CF_ERR_BAD_INPUT, "encryptiondata: %s is missing", what);
    CF_ENSUREF(json_is_string(v), CF_ERR_BAD_INPUT, "encryptiondata: %s must be a string", what);
    *out = cf_slice_of(json_string_value(v), json_string_length(v));
    return true;
}

/* One of `names` (exact case: these are values, and every SDK writes them so). */
static bool cf_cse_enum(json_t *v, const char *what, const char *const *names, size_t n, int *out)
{
    cf_slice s;
    CF_GUARD(cf_cse_string(v, what, &s));
    for (size_t i = 0; i < n; i++)
        if (cf_slice_eq_str(s, names[i])) {
            *out = (int)i;
            return true;
        }
    cf_error_raisef(CF_ERR_BAD_INPUT, __FILE__, __LINE__, "encryptiondata: unknown %s", what);
    return false;
}

static bool cf_cse_integer(json_t *v, const char *what, json_int_t min, json_int_t max,
                           json_int_t *out)
{
    CF_ENSUREF(v != NULL, CF_ERR_BAD_INPUT, "encryptiondata: %s is missing", what);
    CF_ENSUREF(json_is_integer(v), CF_ERR_BAD_INPUT, "encryptiondata: %s must be an integer", what);
    *out = json_integer_value(v);
    CF_ENSUREF(*out >= min && *out <= max, CF_ERR_BAD_INPUT, "encryptiondata: %s out of range",
               what);
    return true;
}

/* Base64 as the SDKs write it (standard, padded), also unpadded or with the
 * URL-safe alphabet; never whitespace. */
static bool cf_cse_base64(cf_slice text, size_t max_text, const char *what, cf_buf *out)
{
    CF_ENSUREF(text.len > 0 && text.len <= max_text, CF_ERR_BAD_INPUT,
               "encryptiondata: %s has the wrong length", what);
    bool url = memchr(text.ptr, '-', text.len) || memchr(text.ptr, '_', text.len);
    char padded[CF_CSE_WRAPPED_KEY_B64_MAX + 4];
    if (!url && text.len % 4 != 0) {
        memcpy(padded, text.ptr, text.len);
        size_t n = text.len;
        while (n % 4 != 0)
            padded[n++] = '=';
        text = cf_slice_of(padded, n);
    }
    bool ok = url ? cf_base64url_decode(text, out) : cf_base64_decode(text, out);
    CF_ENSUREF(ok, CF_ERR_BAD_INPUT, "encryptiondata: %s is not valid base64", what);
    return true;
}

static bool cf_cse_parse_wrapped_key(json_t *obj, cf_cse_meta *out)
{
    static const char *const names[] = {"KeyId", "EncryptedKey", "Algorithm"};
    json_t *m[3];
    CF_GUARD(cf_cse_members(obj, "WrappedContentKey", names, 3, m));
    cf_slice id, b64;
    CF_GUARD(cf_cse_string(m[0], "WrappedContentKey.KeyId", &id));
    CF_ENSURE(id.len > 0 && id.len <= CF_CSE_KEY_ID_MAX, CF_ERR_BAD_INPUT,
              "encryptiondata: WrappedContentKey.KeyId has the wrong length");
    for (size_t i = 0; i < id.len; i++)
        CF_ENSURE(id.ptr[i] >= 0x20 && id.ptr[i] != 0x7f, CF_ERR_BAD_INPUT,
                  "encryptiondata: WrappedContentKey.KeyId holds control characters");
    memcpy(out->key_id, id.ptr, id.len);
    out->key_id[id.len] = 0;
    int alg;
    CF_GUARD(cf_cse_enum(m[2], "WrappedContentKey.Algorithm", cf_cse_wrap_alg_names,
                         CF_CSE_COUNT(cf_cse_wrap_alg_names), &alg));
    out->wrap_alg = (cf_cse_wrap_alg)alg;
    CF_GUARD(cf_cse_string(m[1], "WrappedContentKey.EncryptedKey", &b64));
    cf_buf key;
    cf_buf_init(&key, CF_CSE_WRAPPED_KEY_MAX);
    bool ok =
        cf_cse_base64(b64, CF_CSE_WRAPPED_KEY_B64_MAX, "WrappedContentKey.EncryptedKey", &key);
    if (ok && key.len < CF_CSE_WRAPPED_KEY_MIN) {
        CF_RAISE(CF_ERR_BAD_INPUT, "encryptiondata: WrappedContentKey.EncryptedKey is too short");
        ok = false;
    }
    if (ok) {
        memcpy(out->wrapped_key, key.data, key.len);
        out->wrapped_key_len = key.len;
    }
    cf_buf_free(&key);
    return ok;
}

static bool cf_cse_parse_agent(json_t *obj, cf_cse_meta *out)
{
    static const char *const names[] = {"Protocol", "EncryptionAlgorithm"};
    static const char *const algorithms[] = {"AES_CBC_256", "AES_GCM_256"};
    json_t *m[2];
    CF_GUARD(cf_cse_members(obj, "EncryptionAgent", names, 2, m));
    int protocol, algorithm;
    CF_GUARD(cf_cse_enum(m[0], "EncryptionAgent.Protocol", cf_cse_protocol_names,
                         CF_CSE_COUNT(cf_cse_protocol_names), &protocol));
    CF_GUARD(cf_cse_enum(m[1], "EncryptionAgent.EncryptionAlgorithm", algorithms, 2, &algorithm));
    out->protocol = (cf_cse_protocol)protocol;
    CF_ENSURE((algorithm == 0) == (out->protocol == CF_CSE_V1_0), CF_ERR_BAD_INPUT,
              "encryptiondata: EncryptionAlgorithm does not match the protocol "
              "(1.0 is AES_CBC_256, 2.x AES_GCM_256)");
    return true;
}

static bool cf_cse_parse_regions(json_t *obj, cf_cse_meta *out)
{
    static const char *const names[] = {"DataLength", "NonceLength"};
    json_t *m[2];
    CF_GUARD(cf_cse_members(obj, "EncryptedRegionInfo", names, 2, m));
    json_int_t data_len, nonce_len;
    CF_GUARD(cf_cse_integer(m[0], "EncryptedRegionInfo.DataLength", CF_CSE_REGION_MIN,
                            CF_CSE_REGION_MAX, &data_len));
    CF_GUARD(cf_cse_integer(m[1], "EncryptedRegionInfo.NonceLength", 0, INT32_MAX, &nonce_len));
    CF_ENSURE(nonce_len == CF_CSE_NONCE_LEN, CF_ERR_UNSUPPORTED,
              "encryptiondata: EncryptedRegionInfo.NonceLength must be 12");
    out->region_len = (uint32_t)data_len;
    return true;
}

static bool cf_cse_parse_iv(json_t *v, cf_cse_meta *out)
{
    cf_slice b64;
    CF_GUARD(cf_cse_string(v, "ContentEncryptionIV", &b64));
    cf_buf iv;
    cf_buf_init(&iv, CF_CSE_CBC_IV_LEN);
    bool ok = cf_cse_base64(b64, CF_CSE_IV_B64_MAX, "ContentEncryptionIV", &iv);
    if (ok && iv.len != CF_CSE_CBC_IV_LEN) {
        CF_RAISE(CF_ERR_BAD_INPUT, "encryptiondata: ContentEncryptionIV must be 16 bytes");
        ok = false;
    }
    if (ok)
        memcpy(out->content_iv, iv.data, CF_CSE_CBC_IV_LEN);
    cf_buf_free(&iv);
    return ok;
}

/* Informational only, but still bounded: an object of a few strings. */
static bool cf_cse_check_kwm(json_t *v)
{
    if (v == NULL || json_is_null(v))
        return true;
    CF_ENSURE(json_is_object(v), CF_ERR_BAD_INPUT,
              "encryptiondata: KeyWrappingMetadata must be an object");
    CF_ENSURE(json_object_size(v) <= CF_CSE_KWM_MAX_MEMBERS, CF_ERR_BAD_INPUT,
              "encryptiondata: KeyWrappingMetadata has too many members");
    const char *key;
    json_t *value;
    json_object_foreach(v, key, value)
    {
        CF_ENSURE(json_is_string(value), CF_ERR_BAD_INPUT,
                  "encryptiondata: KeyWrappingMetadata values must be strings");
    }
    return true;
}

static bool cf_cse_check_mode(json_t *v)
{
    if (v == NULL || json_is_null(v))
        return true;
    cf_slice mode;
    CF_GUARD(cf_cse_string(v, "EncryptionMode", &mode));
    CF_ENSURE(cf_slice_eq_str(mode, CF_CSE_MODE), CF_ERR_UNSUPPORTED,
              "encryptiondata: EncryptionMode must be FullBlob");
    return true;
}

enum {
    CF_CSE_M_KEY,
    CF_CSE_M_AGENT,
    CF_CSE_M_REGIONS,
    CF_CSE_M_IV,
    CF_CSE_M_KWM,
    CF_CSE_M_MODE,
    CF_CSE_M_COUNT
};

static bool cf_cse_parse_root(json_t *root, cf_cse_meta *out)
{
    static const char *const names[CF_CSE_M_COUNT] = {
        [CF_CSE_M_KEY] = "WrappedContentKey",       [CF_CSE_M_AGENT] = "EncryptionAgent",
        [CF_CSE_M_REGIONS] = "EncryptedRegionInfo", [CF_CSE_M_IV] = "ContentEncryptionIV",
        [CF_CSE_M_KWM] = "KeyWrappingMetadata",     [CF_CSE_M_MODE] = "EncryptionMode",
    };
    json_t *m[CF_CSE_M_COUNT];
    CF_GUARD(cf_cse_members(root, "the top level", names, CF_CSE_M_COUNT, m));
    CF_ENSURE(m[CF_CSE_M_AGENT] != NULL, CF_ERR_BAD_INPUT,
              "encryptiondata: EncryptionAgent is missing");
    CF_GUARD(cf_cse_parse_agent(m[CF_CSE_M_AGENT], out));
    CF_ENSURE(m[CF_CSE_M_KEY] != NULL, CF_ERR_BAD_INPUT,
              "encryptiondata: WrappedContentKey is missing");
    CF_GUARD(cf_cse_parse_wrapped_key(m[CF_CSE_M_KEY], out));
    json_t *iv = json_is_null(m[CF_CSE_M_IV]) ? NULL : m[CF_CSE_M_IV];
    if (out->protocol == CF_CSE_V1_0) {
        CF_ENSURE(m[CF_CSE_M_REGIONS] == NULL, CF_ERR_BAD_INPUT,
                  "encryptiondata: EncryptedRegionInfo is not part of protocol 1.0");
        CF_GUARD(cf_cse_parse_iv(iv, out));
    } else {
        CF_ENSURE(iv == NULL, CF_ERR_BAD_INPUT,
                  "encryptiondata: ContentEncryptionIV is not part of protocol 2.x");
        CF_ENSURE(m[CF_CSE_M_REGIONS] != NULL, CF_ERR_BAD_INPUT,
                  "encryptiondata: EncryptedRegionInfo is missing");
        CF_GUARD(cf_cse_parse_regions(m[CF_CSE_M_REGIONS], out));
    }
    CF_GUARD(cf_cse_check_kwm(m[CF_CSE_M_KWM]));
    return cf_cse_check_mode(m[CF_CSE_M_MODE]);
}

bool cf_cse_meta_parse(cf_slice json, cf_cse_meta *out)
{
    CF_ENSURE(json.len <= CF_CSE_META_MAX, CF_ERR_TOO_LARGE,
              "encryptiondata is larger than 64 KiB");
    json_error_t err;
    json_t *root = json_loadb((const char *)json.ptr, json.len, JSON_REJECT_DUPLICATES, &err);
    CF_ENSURE(root != NULL, CF_ERR_BAD_INPUT, "encryptiondata is not valid JSON");
    memset(out, 0, sizeof *out);
    bool ok = cf_cse_parse_root(root, out);
    json_decref(root);
    if (!ok)
        memset(out, 0, sizeof *out);
    return ok;
}

/* ---- building ---- */

static json_t *cf_cse_base64_json(const uint8_t *p, size_t len)
{
    cf_buf b64;
    cf_buf_init(&b64, CF_CSE_WRAPPED_KEY_B64_MAX + 1);
    json_t *s = NULL;
    if (cf_base64_encode(cf_slice_of(p, len), &b64))
        s = json_stringn((const char *)b64.data, b64.len);
    cf_buf_free(&b64);
    return s;
}

static json_t *cf_cse_meta_json(const cf_cse_meta *meta)
{
    return json_pack("{s:{s:s, s:o*, s:s}, s:{s:s, s:s}, s:{s:I, s:i}, s:{s:s}, s:s}",
                     "WrappedContentKey", "KeyId", meta->key_id, "EncryptedKey",
                     cf_cse_base64_json(meta->wrapped_key, meta->wrapped_key_len), "Algorithm",
                     cf_cse_wrap_alg_name(meta->wrap_alg), "EncryptionAgent", "Protocol",
                     cf_cse_protocol_name(meta->protocol), "EncryptionAlgorithm", "AES_GCM_256",
                     "EncryptedRegionInfo", "DataLength", (json_int_t)meta->region_len,
                     "NonceLength", CF_CSE_NONCE_LEN, "KeyWrappingMetadata", "EncryptionLibrary",
                     CF_CSE_LIBRARY, "EncryptionMode", CF_CSE_MODE);
}

bool cf_cse_meta_build(const cf_cse_meta *meta, cf_buf *out)
{
    CF_ENSURE(meta->protocol == CF_CSE_V2_0 || meta->protocol == CF_CSE_V2_1, CF_ERR_UNSUPPORTED,
              "only protocol 2.x metadata is written");
    CF_ENSURE(meta->protocol == CF_CSE_V2_1 || meta->region_len == CF_CSE_REGION_DEFAULT,
              CF_ERR_BAD_INPUT, "protocol 2.0 has 4 MiB regions");
    CF_ENSURE(meta->region_len >= CF_CSE_REGION_MIN && meta->region_len <= CF_CSE_REGION_MAX,
              CF_ERR_BAD_INPUT, "client-side encryption region size out of range");
    CF_ENSURE(meta->wrapped_key_len >= CF_CSE_WRAPPED_KEY_MIN &&
                  meta->wrapped_key_len <= CF_CSE_WRAPPED_KEY_MAX,
              CF_ERR_BAD_INPUT, "no wrapped content key");
    size_t id_len = strnlen(meta->key_id, sizeof meta->key_id);
    CF_ENSURE(id_len > 0 && id_len <= CF_CSE_KEY_ID_MAX, CF_ERR_BAD_INPUT,
              "key id must be 1..1024 bytes");
    json_t *root = cf_cse_meta_json(meta);
    CF_ENSURE(root != NULL, CF_ERR_BAD_INPUT, "cannot build encryptiondata (is the key id UTF-8?)");
    char *text = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(root);
    CF_ENSURE_ALLOC(text);
    bool ok = cf_buf_append_str(out, text);
    cf_json_free_text(text);
    return ok;
}
