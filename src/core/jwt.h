/*
 * JSON Web Tokens (RFC 7519) signed with RS256, as the vault issues them
 * and every Coffer service verifies them.  Parsing is strict: exactly three
 * base64url parts, header and claims JSON objects, size capped.  Claims are
 * checked by the caller, after cf_jwt_verify_rs256 says the signature holds.
 */
#ifndef CF_JWT_H
#define CF_JWT_H

#include <jansson.h>

#include "crypto.h"

#define CF_JWT_MAX 8192

typedef struct {
    json_t *header;
    json_t *claims;
    cf_slice signing_input; /* borrowed from the token: "header.claims" */
    cf_buf signature;
} cf_jwt;

void cf_jwt_init(cf_jwt *jwt);
void cf_jwt_free(cf_jwt *jwt);
/* Fails with CF_ERR_UNAUTHORIZED on any malformation. */
CF_MUST_USE bool cf_jwt_parse(cf_slice token, cf_jwt *out);
/* Appends "header.claims.signature" and a NUL terminator (not counted). */
CF_MUST_USE bool cf_jwt_sign_rs256(const cf_pkey *key, json_t *header, json_t *claims, cf_buf *out);
/* true only for alg RS256, the expected kid and a valid signature. */
CF_MUST_USE bool cf_jwt_verify_rs256(const cf_pkey *key, const char *kid, const cf_jwt *jwt);

#endif
