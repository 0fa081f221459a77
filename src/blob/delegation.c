/*
 * User delegation keys and the SAS signed with them (Azure's "user
 * delegation SAS"): a principal signed in with a vault token asks
 * POST /?restype=service&comp=userdelegationkey for a key valid up to 7
 * days, and signs SASs with it without ever holding an account key.  The
 * console makes its SAS links this way.
 *
 * Nothing is stored: the key is an HMAC, under the account's key1, of
 * everything the SAS repeats about it (object id, tenant, start, expiry,
 * service, version), so the service recomputes it from the SAS alone.
 * Hence regenerating key1 revokes every user delegation key of the account
 * (Azure's revokeUserDelegationKeys).  And as in Azure, a use of the SAS is
 * allowed only while the signer's own Storage Blob Data roles still allow
 * it: removing a role assignment revokes what that person signed.
 */
#include <stdio.h>
#include <string.h>

#include "blob_service.h"
#include "blob_xml.h"
#include "crypto.h"
#include "httpdate.h"
#include "secmem.h"
#include "storage_auth.h"
#include "units.h"

#define CF_DELEGATION_KEY_MAX_SECONDS (7 * CF_SECONDS_PER_DAY)
#define CF_DELEGATION_LABEL "coffer user delegation key v1"

/* The key for (account, oid, tid, start, expiry, service, version) under
 * `root`, the account's key1. */
static bool cf_delegation_derive(cf_blob_call *call, cf_slice root, const char *oid,
                                 const char *tid, int64_t start, int64_t expiry,
                                 const char *service, const char *version, uint8_t out[32])
{
    char times[48];
    snprintf(times, sizeof times, "%lld\n%lld", (long long)start, (long long)expiry);
    const cf_slice parts[] = {
        CF_SLICE_STR(CF_DELEGATION_LABEL),
        CF_SLICE_STR("\n"),
        CF_SLICE_STR(call->account),
        CF_SLICE_STR("\n"),
        CF_SLICE_STR(oid),
        CF_SLICE_STR("\n"),
        CF_SLICE_STR(tid),
        CF_SLICE_STR("\n"),
        CF_SLICE_STR(times),
        CF_SLICE_STR("\n"),
        CF_SLICE_STR(service),
        CF_SLICE_STR("\n"),
        CF_SLICE_STR(version),
    };
    return cf_hmac_sha256_parts(root, parts, sizeof parts / sizeof *parts, out);
}

static bool cf_delegation_window(cf_blob_call *call, bool has_start, int64_t *start, int64_t expiry)
{
    if (!has_start)
        *start = call->now;
    CF_ENSURE_REASON(expiry > call->now && expiry > *start, CF_ERR_BAD_INPUT,
                     "InvalidQueryParameterValue", "The key's expiry must be in the future.");
    CF_ENSURE_REASON(expiry - call->now <= CF_DELEGATION_KEY_MAX_SECONDS, CF_ERR_BAD_INPUT,
                     "InvalidQueryParameterValue",
                     "A user delegation key is valid for at most 7 days from now.");
    return true;
}

static bool cf_delegation_reply(cf_blob_call *call, int64_t start, int64_t expiry,
                                const uint8_t key[32])
{
    char st[CF_ISO8601_SECONDS_LEN + 1], se[CF_ISO8601_SECONDS_LEN + 1], value[64];
    CF_GUARD(cf_iso8601_format_seconds(start, st) && cf_iso8601_format_seconds(expiry, se));
    bool ok = cf_blob_base64(cf_slice_of(key, 32), value, sizeof value);
    cf_xml_writer w;
    cf_xml_writer_init(&w, &call->resp->body);
    ok = ok && cf_xml_declaration(&w) && cf_xml_open(&w, "UserDelegationKey") &&
         cf_xml_element_str(&w, "SignedOid", call->principal) &&
         cf_xml_element_str(&w, "SignedTid", call->svc->tenant_id) &&
         cf_xml_element_str(&w, "SignedStart", st) && cf_xml_element_str(&w, "SignedExpiry", se) &&
         cf_xml_element_str(&w, "SignedService", "b") &&
         cf_xml_element_str(&w, "SignedVersion", call->version) &&
         cf_xml_element_str(&w, "Value", value) && cf_xml_close(&w) && cf_xml_finish(&w);
    cf_memzero(value, sizeof value);
    CF_GUARD(ok);
    call->resp->content_type = "application/xml";
    return cf_blob_reply_ok(call, 200);
}

bool cf_blob_op_user_delegation_key(cf_blob_call *call)
{
    /* Only a token names the person the key signs for. */
    if (call->auth != CF_AUTH_BEARER)
        return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "AuthenticationFailed",
                            "Only a bearer token (OAuth) can get a user delegation key.");
    bool has_start;
    int64_t start = 0, expiry = 0;
    CF_GUARD(
        cf_blob_xml_parse_key_info(cf_buf_slice(&call->http->body), &has_start, &start, &expiry));
    CF_GUARD(cf_delegation_window(call, has_start, &start, expiry));
    uint8_t key[32];
    cf_buf root;
    cf_buf_init_secret(&root, CF_BLOB_ACCOUNT_KEY_LEN);
    bool ok = cf_blob_account_key(call->svc->store, call->account, 1, &root) &&
              cf_delegation_derive(call, cf_buf_slice(&root), call->principal, call->svc->tenant_id,
                                   start, expiry, "b", call->version, key) &&
              cf_delegation_reply(call, start, expiry, key);
    cf_buf_free(&root);
    cf_memzero(key, sizeof key);
    return ok;
}

bool cf_blob_delegation_sas_key(cf_blob_call *call, const cf_sas *sas, cf_slice root, cf_buf *key)
{
    uint8_t derived[32];
    CF_GUARD(cf_delegation_derive(call, root, sas->skoid, sas->sktid, sas->key_start,
                                  sas->key_expiry, sas->sks, sas->skv, derived));
    cf_buf_clear(key);
    bool ok = cf_buf_append_slice(key, cf_slice_of(derived, sizeof derived));
    cf_memzero(derived, sizeof derived);
    return ok;
}

bool cf_blob_delegation_sas_checks(cf_blob_call *call, const cf_sas *sas)
{
    if (strcmp(sas->sktid, call->svc->tenant_id) != 0 || strcmp(sas->sks, "b") != 0 ||
        call->now < sas->key_start || call->now >= sas->key_expiry || !sas->sp[0] ||
        !sas->has_expiry || sas->expiry > sas->key_expiry)
        return CF_BLOB_FAIL(CF_ERR_UNAUTHORIZED, "AuthenticationFailed",
                            "The user delegation key is not valid for this SAS now.");
    if (sas->saoid[0] || sas->suoid[0] || sas->sduoid[0] || sas->skdutid[0])
        return CF_BLOB_FAIL(CF_ERR_UNAUTHORIZED, "AuthenticationFailed",
                            "Delegated and authorized user object ids are not supported.");
    const char *container = call->op->level == CF_LEVEL_SERVICE ? NULL : call->container;
    if (!cf_blob_roles_permit(call->svc->roles, call->account, sas->skoid, container,
                              call->op->perm))
        return CF_BLOB_FAIL(CF_ERR_FORBIDDEN, "AuthorizationPermissionMismatch",
                            "The principal that signed this SAS may no longer do this.");
    return true;
}
