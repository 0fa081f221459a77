/* RS256 JWTs; see jwt.h. */
#include "jwt.h"

#include "json_secure.h"

#include <string.h>

#include "encoding.h"

void cf_jwt_init(cf_jwt *jwt)
{
    memset(jwt, 0, sizeof *jwt);
    cf_buf_init(&jwt->signature, 1024);
}

void cf_jwt_free(cf_jwt *jwt)
{
    json_decref(jwt->header);
    json_decref(jwt->claims);
    jwt->header = jwt->claims = NULL;
    cf_buf_free(&jwt->signature);
}

static json_t *cf_jwt_segment(cf_slice seg)
{
    cf_buf raw;
    cf_buf_init(&raw, CF_JWT_MAX);
    json_t *j = NULL;
    if (cf_base64url_decode(seg, &raw))
        j = json_loadb((const char *)raw.data, raw.len, JSON_REJECT_DUPLICATES, NULL);
    cf_buf_free(&raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

bool cf_jwt_parse(cf_slice token, cf_jwt *out)
{
    CF_ENSURE(token.len > 0 && token.len <= CF_JWT_MAX, CF_ERR_UNAUTHORIZED,
              "The token is malformed.");
    const uint8_t *end = token.ptr + token.len;
    const uint8_t *dot1 = memchr(token.ptr, '.', token.len);
    const uint8_t *dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
    CF_ENSURE(dot2 && !memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)), CF_ERR_UNAUTHORIZED,
              "The token is malformed.");
    out->header = cf_jwt_segment(cf_slice_of(token.ptr, (size_t)(dot1 - token.ptr)));
    out->claims = cf_jwt_segment(cf_slice_of(dot1 + 1, (size_t)(dot2 - dot1 - 1)));
    out->signing_input = cf_slice_of(token.ptr, (size_t)(dot2 - token.ptr));
    CF_ENSURE(
        out->header && out->claims &&
            cf_base64url_decode(cf_slice_of(dot2 + 1, (size_t)(end - dot2 - 1)), &out->signature),
        CF_ERR_UNAUTHORIZED, "The token is malformed.");
    return true;
}

static bool cf_jwt_append_part(cf_buf *out, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    CF_ENSURE_ALLOC(text);
    bool ok = cf_base64url_encode(CF_SLICE_STR(text), out);
    cf_json_free_text(text);
    return ok;
}

bool cf_jwt_sign_rs256(const cf_pkey *key, json_t *header, json_t *claims, cf_buf *out)
{
    size_t start = out->len;
    uint8_t digest[32];
    cf_buf sig;
    cf_buf_init(&sig, 1024);
    bool ok =
        cf_jwt_append_part(out, header) && cf_buf_append_u8(out, '.') &&
        cf_jwt_append_part(out, claims) &&
        cf_hash_compute(CF_HASH_SHA256, cf_slice_of(out->data + start, out->len - start), digest) &&
        cf_sign_digest(key, CF_SIG_RS256, cf_slice_of(digest, sizeof digest), &sig) &&
        cf_buf_append_u8(out, '.') && cf_base64url_encode(cf_buf_slice(&sig), out) &&
        cf_buf_terminate(out);
    cf_buf_free(&sig);
    return ok;
}

bool cf_jwt_verify_rs256(const cf_pkey *key, const char *kid, const cf_jwt *jwt)
{
    const char *alg = json_string_value(json_object_get(jwt->header, "alg"));
    const char *tkid = json_string_value(json_object_get(jwt->header, "kid"));
    uint8_t digest[32];
    bool valid = false;
    return alg && strcmp(alg, "RS256") == 0 && tkid && strcmp(tkid, kid) == 0 &&
           cf_hash_compute(CF_HASH_SHA256, jwt->signing_input, digest) &&
           cf_verify_digest(key, CF_SIG_RS256, cf_slice_of(digest, sizeof digest),
                            cf_buf_slice(&jwt->signature), &valid) &&
           valid;
}
